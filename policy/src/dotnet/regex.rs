//! .NET regular expressions (`System.Text.RegularExpressions`) on `fancy-regex`: the options
//! `RegexOptions` combines, the replacement syntax of `Regex.Replace`, and what a match
//! reports (`Success`, `Value`, `Index` and `Length` in UTF-16 units, groups by number and name).
//!
//! A pattern without look-around, backreferences or atomic groups runs on the `regex` crate
//! that `fancy-regex` delegates to, in time linear in the input. One with them backtracks, up to
//! a bound on its steps ([`BACKTRACK_LIMIT`]): past it the match fails as .NET's does past its
//! match timeout ([`Timeout`], `RegexMatchTimeoutException`), so catastrophic backtracking
//! costs a bounded amount of work. The compiled program is bounded in size. What neither
//! engine reads as .NET does (character-class subtraction, balancing groups) is refused when
//! the pattern is compiled (at load for a constant pattern), with the reason.
//!
//! Must not: import anything else from this crate.

use std::sync::Arc;

/// `RegexOptions` values (.NET's numbering; they combine with `|`).
pub(crate) const IGNORE_CASE: i64 = 1;
pub(crate) const MULTILINE: i64 = 2;
pub(crate) const EXPLICIT_CAPTURE: i64 = 4;
pub(crate) const COMPILED: i64 = 8;
pub(crate) const SINGLELINE: i64 = 16;
pub(crate) const IGNORE_PATTERN_WHITESPACE: i64 = 32;
pub(crate) const RIGHT_TO_LEFT: i64 = 64;
pub(crate) const ECMA_SCRIPT: i64 = 256;
pub(crate) const CULTURE_INVARIANT: i64 = 512;
pub(crate) const NON_BACKTRACKING: i64 = 1024;

/// `RegexOptions` by name.
pub(crate) fn option(name: &str) -> Option<i64> {
    Some(match name {
        "None" => 0,
        "IgnoreCase" => IGNORE_CASE,
        "Multiline" => MULTILINE,
        "ExplicitCapture" => EXPLICIT_CAPTURE,
        "Compiled" => COMPILED,
        "Singleline" => SINGLELINE,
        "IgnorePatternWhitespace" => IGNORE_PATTERN_WHITESPACE,
        "RightToLeft" => RIGHT_TO_LEFT,
        "ECMAScript" => ECMA_SCRIPT,
        "CultureInvariant" => CULTURE_INVARIANT,
        "NonBacktracking" => NON_BACKTRACKING,
        _ => return None,
    })
}

/// How many backtracking steps one match may take (`fancy-regex`'s count): a few milliseconds
/// of work in a release build, where .NET would give up at its match timeout. Patterns whose
/// look-around holds only what the linear engine runs (`(?=.*\d)`) take a handful of steps.
pub(crate) const BACKTRACK_LIMIT: usize = 100_000;

/// A match that ran out of its backtracking bound: .NET's `RegexMatchTimeoutException`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout;

fn timeout(_: fancy_regex::Error) -> Timeout {
    Timeout
}

/// A compiled pattern, with its group names by number (for `Groups["name"]`).
#[derive(Debug)]
pub struct Regex {
    re: fancy_regex::Regex,
}

impl PartialEq for Regex {
    fn eq(&self, other: &Regex) -> bool {
        self.re.as_str() == other.re.as_str()
    }
}

/// Compiles a .NET pattern with `RegexOptions`; the compiled program may use `size_limit` bytes.
/// The error says why certgate cannot run it.
pub(crate) fn compile(pattern: &str, options: i64, size_limit: usize) -> Result<Regex, String> {
    let unsupported = options & (EXPLICIT_CAPTURE | RIGHT_TO_LEFT | ECMA_SCRIPT);
    if unsupported != 0 {
        let names = [
            (EXPLICIT_CAPTURE, "ExplicitCapture"),
            (RIGHT_TO_LEFT, "RightToLeft"),
            (ECMA_SCRIPT, "ECMAScript"),
        ];
        let named: Vec<&str> = names
            .iter()
            .filter(|(v, _)| unsupported & v != 0)
            .map(|(_, n)| *n)
            .collect();
        return Err(format!(
            "RegexOptions.{} is not supported by certgate",
            named.join(", RegexOptions.")
        ));
    }
    if let Some(why) = not_dotnet(pattern) {
        return Err(format!(
            "the regular expression is not supported by certgate: {why}"
        ));
    }
    let re = fancy_regex::RegexBuilder::new(pattern)
        .case_insensitive(options & IGNORE_CASE != 0)
        .multi_line(options & MULTILINE != 0)
        .dot_matches_new_line(options & SINGLELINE != 0)
        .ignore_whitespace(options & IGNORE_PATTERN_WHITESPACE != 0)
        .delegate_size_limit(size_limit)
        .delegate_dfa_size_limit(size_limit)
        .backtrack_limit(BACKTRACK_LIMIT)
        .build()
        .map_err(|e| match e {
            fancy_regex::Error::CompileError(fancy_regex::CompileError::InnerError(b))
                if b.size_limit().is_some() =>
            {
                format!(
                    "the regular expression compiles to more than {size_limit} bytes, certgate's bound"
                )
            }
            e => {
                let why = e.to_string();
                let why = why.lines().last().unwrap_or_default().trim();
                let why = why.strip_prefix("error: ").unwrap_or(why);
                format!("the regular expression is not supported by certgate: {why}")
            }
        })?;
    Ok(Regex { re })
}

/// What .NET reads in a pattern that the engine would read otherwise, without an error:
/// character-class subtraction (`[a-z-[aeiou]]`, a union here) and balancing groups.
fn not_dotnet(pattern: &str) -> Option<&'static str> {
    let b = pattern.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'[' if depth == 0 => {
                depth = 1;
                // A `]` right after `[` or `[^` is a member, not the end.
                if b.get(i + 1) == Some(&b'^') {
                    i += 1;
                }
                if b.get(i + 1) == Some(&b']') {
                    i += 1;
                }
            }
            b'[' if b.get(i.wrapping_sub(1)) == Some(&b'-') => {
                return Some("character class subtraction ([a-z-[aeiou]])");
            }
            b'[' => depth += 1,
            b']' if depth > 0 => depth -= 1,
            b'(' if depth == 0 && pattern[i..].starts_with("(?<")
                || pattern[i..].starts_with("(?'") =>
            {
                let close = if b[i + 2] == b'<' { '>' } else { '\'' };
                let name = pattern[i + 3..].split(close).next().unwrap_or("");
                if name.contains('-') && !name.starts_with(['=', '!']) {
                    return Some("balancing groups ((?<open-close>...))");
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// One group of a match (`Group`): whether it took part, and what it matched.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub success: bool,
    pub value: Arc<str>,
    /// In UTF-16 units, as .NET counts.
    pub index: i64,
    pub length: i64,
}

/// A `Match`: its groups by number (0: the whole match) and the pattern's group names.
#[derive(Clone, Debug, PartialEq)]
pub struct Match {
    pub groups: Vec<Group>,
    names: Vec<Option<Arc<str>>>,
}

impl Match {
    /// `Success`, `Value`, `Index`, `Length`: the whole match's.
    pub fn whole(&self) -> &Group {
        &self.groups[0]
    }

    /// `Groups[n]`: an unsuccessful empty group past the last, as .NET answers.
    pub fn group(&self, n: i64) -> Group {
        usize::try_from(n)
            .ok()
            .and_then(|n| self.groups.get(n))
            .cloned()
            .unwrap_or_else(Group::failed)
    }

    /// `Result(replacement)`: the replacement pattern with this match's groups put in (`$1`,
    /// `${name}`, `$&`, `$$`), as `Replace` would put them for this match.
    pub fn result(&self, replacement: &str) -> String {
        let mut out = String::new();
        for p in pieces(replacement) {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Number(n) => {
                    match n.parse::<usize>().ok().and_then(|i| self.groups.get(i)) {
                        Some(g) => out.push_str(&g.value),
                        // A group the pattern does not have stays as written, as .NET leaves it.
                        None => {
                            out.push('$');
                            out.push_str(n);
                        }
                    }
                }
                Piece::Name(n) => {
                    let known = self.names.iter().any(|x| x.as_deref() == Some(n))
                        || n.parse::<usize>().is_ok_and(|i| i < self.groups.len());
                    if known {
                        out.push_str(&self.named(n).value);
                    } else {
                        out.push_str("${");
                        out.push_str(n);
                        out.push('}');
                    }
                }
            }
        }
        out
    }

    /// `Groups["name"]` (a number as text names the numbered group, as in .NET).
    pub fn named(&self, name: &str) -> Group {
        if let Some(i) = self.names.iter().position(|n| n.as_deref() == Some(name)) {
            return self.groups[i].clone();
        }
        match name.parse::<i64>() {
            Ok(n) => self.group(n),
            Err(_) => Group::failed(),
        }
    }
}

impl Group {
    fn failed() -> Group {
        Group {
            success: false,
            value: "".into(),
            index: 0,
            length: 0,
        }
    }
}

fn utf16_len(s: &str) -> i64 {
    s.encode_utf16().count() as i64
}

impl Regex {
    /// The pattern (`ToString()`).
    pub fn pattern(&self) -> &str {
        self.re.as_str()
    }

    pub fn is_match(&self, input: &str) -> Result<bool, Timeout> {
        self.re.is_match(input).map_err(timeout)
    }

    /// `Match`: the first match, or `Match.Empty` (unsuccessful).
    pub fn first(&self, input: &str) -> Result<Match, Timeout> {
        Ok(match self.re.captures(input).map_err(timeout)? {
            Some(c) => self.to_match(input, &c),
            None => Match {
                groups: vec![Group::failed()],
                names: Vec::new(),
            },
        })
    }

    /// `Matches`: every match, at most `limit` of them (`None` past it).
    pub fn all(&self, input: &str, limit: usize) -> Result<Option<Vec<Match>>, Timeout> {
        let mut out = Vec::new();
        for c in self.re.captures_iter(input) {
            if out.len() == limit {
                return Ok(None);
            }
            out.push(self.to_match(input, &c.map_err(timeout)?));
        }
        Ok(Some(out))
    }

    fn to_match(&self, input: &str, c: &fancy_regex::Captures<'_>) -> Match {
        let groups = (0..c.len())
            .map(|i| match c.get(i) {
                Some(m) => Group {
                    success: true,
                    value: m.as_str().into(),
                    index: utf16_len(&input[..m.start()]),
                    length: utf16_len(m.as_str()),
                },
                None => Group::failed(),
            })
            .collect();
        Match {
            groups,
            names: self.re.capture_names().map(|n| n.map(Arc::from)).collect(),
        }
    }

    /// How many matches `input` has (to bound a replacement before building it).
    pub fn count(&self, input: &str) -> Result<usize, Timeout> {
        let mut n = 0;
        for m in self.re.find_iter(input) {
            m.map_err(timeout)?;
            n += 1;
        }
        Ok(n)
    }

    /// `Replace` with .NET's substitutions (`$1`, `${name}`, `$$`, `$&`).
    pub fn replace(&self, input: &str, replacement: &str) -> Result<String, Timeout> {
        self.re
            .try_replacen(input, 0, translate_replacement(replacement).as_str())
            .map(|c| c.into_owned())
            .map_err(timeout)
    }

    /// `Split`: the pieces between matches, with the captured groups between them, as .NET.
    pub fn split(&self, input: &str, limit: usize) -> Result<Option<Vec<String>>, Timeout> {
        let mut out = Vec::new();
        let mut last = 0;
        for c in self.re.captures_iter(input) {
            let c = c.map_err(timeout)?;
            let Some(m) = c.get(0) else { continue };
            out.push(input[last..m.start()].to_string());
            out.extend(
                (1..c.len())
                    .filter_map(|i| c.get(i))
                    .map(|g| g.as_str().to_string()),
            );
            last = m.end();
            if out.len() > limit {
                return Ok(None);
            }
        }
        out.push(input[last..].to_string());
        Ok(Some(out))
    }
}

/// One piece of a .NET replacement pattern: text, or a group (`$1`, `${name}`; `$&` is group
/// 0). `$$` is a dollar sign; a `$` that starts nothing else is itself.
enum Piece<'a> {
    Text(&'a str),
    Number(&'a str),
    Name(&'a str),
}

fn pieces(r: &str) -> Vec<Piece<'_>> {
    let b = r.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            let next = r[i..].find('$').map_or(r.len(), |n| i + n);
            out.push(Piece::Text(&r[i..next]));
            i = next;
            continue;
        }
        match b.get(i + 1) {
            Some(b'$') => {
                out.push(Piece::Text("$"));
                i += 2;
            }
            Some(b'&') => {
                out.push(Piece::Number("0"));
                i += 2;
            }
            Some(d) if d.is_ascii_digit() => {
                let end = b[i + 1..]
                    .iter()
                    .position(|c| !c.is_ascii_digit())
                    .map_or(b.len(), |n| i + 1 + n);
                out.push(Piece::Number(&r[i + 1..end]));
                i = end;
            }
            Some(b'{') => match r[i + 2..].find('}') {
                Some(n) => {
                    out.push(Piece::Name(&r[i + 2..i + 2 + n]));
                    i += 3 + n;
                }
                None => {
                    out.push(Piece::Text("$"));
                    i += 1;
                }
            },
            _ => {
                out.push(Piece::Text("$"));
                i += 1;
            }
        }
    }
    out
}

/// A .NET replacement pattern in the engine's syntax: `$N` ends at the last digit (`$1a` is
/// group 1 then `a`; the engine would read a group named `1a`), `$&` is the whole match, and a
/// `$` that starts no substitution is literal.
fn translate_replacement(r: &str) -> String {
    let mut out = String::with_capacity(r.len() + 8);
    for p in pieces(r) {
        match p {
            Piece::Text(t) => out.push_str(&t.replace('$', "$$")),
            Piece::Number(n) | Piece::Name(n) => {
                out.push_str("${");
                out.push_str(n);
                out.push('}');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Look-around, backreferences and atomic groups backtrack, within the bound; a pattern
    /// that backtracks without end stops at it.
    #[test]
    fn backtracking_patterns_run_within_their_bound() {
        let look = compile(r"^(?=.*\d)(?=.*[A-Z]).{8,}$", 0, 1 << 16).unwrap();
        assert!(look.is_match("Passw0rdX").unwrap());
        assert!(!look.is_match("password").unwrap());
        let back = compile(r"(\w)\1", 0, 1 << 16).unwrap();
        assert_eq!(&*back.first("abccd").unwrap().whole().value, "cc");
        let behind = compile(r"(?<!\$)\b\d+", 0, 1 << 16).unwrap();
        assert_eq!(behind.replace("$5 and 7", "n").unwrap(), "$5 and n");
        let atomic = compile(r"(?>a+)b", 0, 1 << 16).unwrap();
        assert!(atomic.is_match("aab").unwrap());
        // Exponential in the input without a bound; a look-ahead over easy parts is not.
        for p in [r"^(a+)+\1$", r"^(\w+\s?)*\1!$", r"^(a|aa)+\1?$"] {
            let evil = compile(p, 0, 1 << 16).unwrap();
            let input = format!("{}c", "a".repeat(40));
            assert_eq!(evil.is_match(&input), Err(Timeout), "{p}");
        }
        let easy = compile(r"(?=(a+)+b)", 0, 1 << 16).unwrap();
        assert_eq!(easy.is_match(&"a".repeat(10_000)), Ok(false));
    }

    #[test]
    fn matches_report_utf16_positions_and_named_groups() {
        let re = compile(r"max-age=(?<maxAge>\d+)", 0, 1 << 16).unwrap();
        let m = re.first("é, max-age=60").unwrap();
        assert!(m.whole().success);
        assert_eq!((m.whole().index, m.whole().length), (3, 10));
        assert_eq!(&*m.named("maxAge").value, "60");
        assert_eq!(&*m.named("1").value, "60");
        assert!(!m.named("none").success);
        assert!(!m.group(7).success);
        assert!(!re.first("no").unwrap().whole().success);
    }

    #[test]
    fn options_replacement_and_split() {
        let re = compile("^b", IGNORE_CASE | MULTILINE | CULTURE_INVARIANT, 1 << 16).unwrap();
        assert!(re.is_match("a\nB").unwrap());
        let re = compile(r"(\d)(?<x>\w)", 0, 1 << 16).unwrap();
        assert_eq!(
            re.replace("1a 2b", "$2$1a-${x}-$&-$$-$z").unwrap(),
            "a1a-a-1a-$-$z b2a-b-2b-$-$z"
        );
        assert_eq!(
            compile(",", 0, 1 << 16)
                .unwrap()
                .split("a,b,,c", 10)
                .unwrap()
                .unwrap(),
            ["a", "b", "", "c"]
        );
        assert_eq!(
            compile("(-)", 0, 1 << 16)
                .unwrap()
                .split("a-b", 10)
                .unwrap()
                .unwrap(),
            ["a", "-", "b"]
        );
        assert_eq!(compile(",", 0, 1 << 16).unwrap().split(",,,,", 2), Ok(None));
    }

    #[test]
    fn what_the_engine_cannot_run_is_refused_with_its_reason() {
        for p in [
            r"[a-z-[aeiou]]",
            r"(?<o-c>x)",
            r"(?'o-c'x)",
            r"a(",
            r"[\d-[5]]",
        ] {
            let e = compile(p, 0, 1 << 16).unwrap_err();
            assert!(e.contains("not supported by certgate"), "{p}: {e}");
        }
        // A pattern from a client is scanned byte by byte: an escaped or bracketed multi-byte
        // character never splits the scan mid-character.
        for p in [r"\é(?<a-b>x)", r"[é-[ü]]", "(?<é-x>a)", r"\\é[\é]"] {
            let _ = compile(p, 0, 1 << 16);
        }
        assert!(compile(r"\é(?<a-b>x)", 0, 1 << 16)
            .unwrap_err()
            .contains("balancing groups"));
        // What looks like them but is not: a literal '-' before a class, an escaped bracket.
        for p in [r"a-[bc]", r"[a\-\[]", r"(?<name>x)(?<=a-b)"] {
            assert!(compile(p, 0, 1 << 16).is_ok(), "{p}");
        }
        assert!(compile("a", RIGHT_TO_LEFT, 1 << 16)
            .unwrap_err()
            .contains("RegexOptions.RightToLeft"));
        assert!(compile(r"\w{1000}\w{1000}", 0, 1 << 12)
            .unwrap_err()
            .contains("certgate's bound"));
    }
}
