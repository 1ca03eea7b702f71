//! .NET's string comparison and Unicode normalization: `String.Compare` under each
//! `StringComparison`, `StringComparer`, `CompareTo`, `Normalize` and `IsNormalized`.
//!
//! Ordinal comparisons are .NET's exactly (UTF-16 code units; ignoring case by each unit's
//! upper case). The culture-sensitive ones (.NET's ICU collation under the invariant culture)
//! are approximated, as certgate carries no collation tables: white space, then punctuation
//! and symbols, then digits, then letters; letters compare ignoring case first, and when
//! nothing else differs a lower-case letter sorts before its upper case ("a" < "B" < "b").
//! Equality under them is ordinal equality (with or without case), which is what policies
//! use them for.
//!
//! Must not: know about expressions.

use std::borrow::Cow;
use std::cmp::Ordering;

/// A `StringComparison` by what it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Comparison {
    Culture,
    CultureIgnoreCase,
    Ordinal,
    OrdinalIgnoreCase,
}

impl Comparison {
    /// The comparison a `StringComparison` number stands for (`CurrentCulture` 0 ..
    /// `OrdinalIgnoreCase` 5); `None` for other numbers.
    pub(crate) fn of(n: i64) -> Option<Comparison> {
        Some(match n {
            0 | 2 => Comparison::Culture,
            1 | 3 => Comparison::CultureIgnoreCase,
            4 => Comparison::Ordinal,
            5 => Comparison::OrdinalIgnoreCase,
            _ => return None,
        })
    }

    pub(crate) fn ignores_case(self) -> bool {
        matches!(
            self,
            Comparison::CultureIgnoreCase | Comparison::OrdinalIgnoreCase
        )
    }
}

/// One UTF-16 unit's upper case, as .NET's ordinal ignore-case comparison maps it (a unit whose
/// upper case is not a single unit stays as it is).
fn upper_unit(u: u16) -> u16 {
    match char::from_u32(u32::from(u)) {
        Some(c) => {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(one), None) if (one as u32) <= 0xFFFF => one as u32 as u16,
                _ => u,
            }
        }
        None => u,
    }
}

/// Where a character sorts before its case is looked at (culture comparisons).
fn primary(c: char) -> (u8, char) {
    let class = if c.is_whitespace() {
        0
    } else if c.is_alphabetic() {
        3
    } else if c.is_numeric() {
        2
    } else {
        1
    };
    let folded = c.to_lowercase().next().unwrap_or(c);
    (class, folded)
}

/// `s` with each UTF-16 unit in its ordinal upper case: the key under which
/// `StringComparer.OrdinalIgnoreCase` finds a string.
pub(crate) fn fold_case(s: &str) -> String {
    let units: Vec<u16> = s.encode_utf16().map(upper_unit).collect();
    String::from_utf16_lossy(&units)
}

/// `String.Compare(a, b, comparison)`: null sorts before every string.
pub(crate) fn compare(a: Option<&str>, b: Option<&str>, how: Comparison) -> Ordering {
    let (a, b) = match (a, b) {
        (None, None) => return Ordering::Equal,
        (None, Some(_)) => return Ordering::Less,
        (Some(_), None) => return Ordering::Greater,
        (Some(a), Some(b)) => (a, b),
    };
    match how {
        Comparison::Ordinal => a.encode_utf16().cmp(b.encode_utf16()),
        Comparison::OrdinalIgnoreCase => a
            .encode_utf16()
            .map(upper_unit)
            .cmp(b.encode_utf16().map(upper_unit)),
        Comparison::Culture | Comparison::CultureIgnoreCase => {
            let first = a.chars().map(primary).cmp(b.chars().map(primary));
            if first != Ordering::Equal || how == Comparison::CultureIgnoreCase {
                return first;
            }
            // Same letters: the first difference in case decides, lower case first.
            for (x, y) in a.chars().zip(b.chars()) {
                if x != y {
                    return match (x.is_lowercase(), y.is_lowercase()) {
                        (true, false) => Ordering::Less,
                        (false, true) => Ordering::Greater,
                        _ => x.cmp(&y),
                    };
                }
            }
            Ordering::Equal
        }
    }
}

/// `String.Equals(a, b, comparison)`.
pub(crate) fn equals(a: &str, b: &str, how: Comparison) -> bool {
    if how.ignores_case() {
        compare(Some(a), Some(b), Comparison::OrdinalIgnoreCase) == Ordering::Equal
    } else {
        a == b
    }
}

/// A `NormalizationForm` (`FormC` 1, `FormD` 2, `FormKC` 5, `FormKD` 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    C,
    D,
    KC,
    KD,
}

impl Form {
    pub(crate) fn of(n: i64) -> Option<Form> {
        Some(match n {
            1 => Form::C,
            2 => Form::D,
            5 => Form::KC,
            6 => Form::KD,
            _ => return None,
        })
    }
}

/// `s.Normalize(form)`.
pub(crate) fn normalize(s: &str, form: Form) -> Cow<'_, str> {
    use icu_normalizer::{ComposingNormalizerBorrowed as C, DecomposingNormalizerBorrowed as D};
    match form {
        Form::C => C::new_nfc().normalize(s),
        Form::KC => C::new_nfkc().normalize(s),
        Form::D => D::new_nfd().normalize(s),
        Form::KD => D::new_nfkd().normalize(s),
    }
}

/// `s.IsNormalized(form)`.
pub(crate) fn is_normalized(s: &str, form: Form) -> bool {
    use icu_normalizer::{ComposingNormalizerBorrowed as C, DecomposingNormalizerBorrowed as D};
    match form {
        Form::C => C::new_nfc().is_normalized(s),
        Form::KC => C::new_nfkc().is_normalized(s),
        Form::D => D::new_nfd().is_normalized(s),
        Form::KD => D::new_nfkd().is_normalized(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn ordinal_comparisons_are_by_utf16_units() {
        let o = |a, b| compare(Some(a), Some(b), Comparison::Ordinal);
        assert_eq!(o("a", "B"), Greater);
        assert_eq!(o("abc", "abd"), Less);
        assert_eq!(o("ab", "abc"), Less);
        // U+FF61 is above a surrogate pair's first unit (0xD83D) in UTF-16, below it in UTF-8.
        assert_eq!(o("\u{FF61}", "\u{1F600}"), Greater);
        let i = |a, b| compare(Some(a), Some(b), Comparison::OrdinalIgnoreCase);
        assert_eq!(i("ABC", "abc"), Equal);
        assert_eq!(i("a", "B"), Less);
        assert_eq!(i("straße", "STRASSE"), Greater);
        assert_eq!(compare(None, Some(""), Comparison::Ordinal), Less);
        assert_eq!(compare(None, None, Comparison::Culture), Equal);
    }

    #[test]
    fn culture_comparisons_put_lower_case_first_among_equal_letters() {
        let c = |a, b| compare(Some(a), Some(b), Comparison::Culture);
        assert_eq!(c("a", "B"), Less);
        assert_eq!(c("a", "A"), Less);
        assert_eq!(c("B", "b"), Greater);
        assert_eq!(c("abc", "abc"), Equal);
        assert_eq!(c("1", "a"), Less);
        assert_eq!(c("-", "1"), Less);
        assert_eq!(
            compare(Some("a"), Some("A"), Comparison::CultureIgnoreCase),
            Equal
        );
    }

    #[test]
    fn normalization_forms() {
        let composed = "\u{e9}";
        let decomposed = "e\u{301}";
        assert_eq!(normalize(decomposed, Form::C), composed);
        assert_eq!(normalize(composed, Form::D), decomposed);
        assert_eq!(normalize("\u{FB01}", Form::KC), "fi");
        assert!(is_normalized(composed, Form::C));
        assert!(!is_normalized(composed, Form::D));
    }
}
