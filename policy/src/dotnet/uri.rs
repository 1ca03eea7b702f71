//! .NET's `System.Uri` on the `url` crate (WHATWG parsing, which agrees with .NET on the
//! absolute http(s) URIs policies build): the parts .NET exposes, with its spellings (`Query`
//! with its `?`, `Port` with the scheme's default, `Segments` with their slashes,
//! `ToString()` unescaped), relative URIs (`UriKind.Relative`: only `OriginalString` and
//! `ToString()`; the rest is .NET's `InvalidOperationException`), and
//! `IsWellFormedUriString`.
//!
//! Must not: know about expressions or the request context.

use percent_encoding::percent_decode_str;

/// `UriKind`: `RelativeOrAbsolute` 0, `Absolute` 1, `Relative` 2.
pub(crate) const KIND_RELATIVE_OR_ABSOLUTE: i64 = 0;
pub(crate) const KIND_ABSOLUTE: i64 = 1;
pub(crate) const KIND_RELATIVE: i64 = 2;

/// A parsed `Uri`.
#[derive(Clone, Debug)]
pub struct Uri {
    original: String,
    /// `None`: a relative URI.
    absolute: Option<url::Url>,
}

/// Why a string is not a `Uri` of the kind asked for: .NET's `UriFormatException` message.
pub(crate) const INVALID: &str = "Invalid URI: The format of the URI could not be determined.";

impl Uri {
    /// `new Uri(text, kind)`; `None` as .NET throws `UriFormatException`.
    pub(crate) fn parse(text: &str, kind: i64) -> Option<Uri> {
        let absolute = url::Url::parse(text.trim())
            .ok()
            .filter(|u| u.has_host() || u.scheme() == "file");
        match (absolute, kind) {
            (Some(u), KIND_ABSOLUTE | KIND_RELATIVE_OR_ABSOLUTE) => Some(Uri {
                original: text.to_string(),
                absolute: Some(u),
            }),
            (None, KIND_RELATIVE | KIND_RELATIVE_OR_ABSOLUTE) if !text.contains("://") => {
                Some(Uri {
                    original: text.to_string(),
                    absolute: None,
                })
            }
            _ => None,
        }
    }

    /// `MakeRelativeUri(other)`: the relative URI from this one to `other` when they share
    /// scheme, host and port, else `other` itself; `None` when this one is relative (.NET's
    /// `InvalidOperationException`).
    pub(crate) fn relative_to(&self, other: &Uri) -> Option<Uri> {
        let from = self.absolute.as_ref()?;
        let Some(to) = other.absolute.as_ref() else {
            return Some(other.clone());
        };
        Some(match from.make_relative(to) {
            Some(rel) => Uri {
                original: rel,
                absolute: None,
            },
            None => other.clone(),
        })
    }

    /// `new Uri(baseUri, relative)`.
    pub(crate) fn join(&self, relative: &str) -> Option<Uri> {
        let joined = self.absolute.as_ref()?.join(relative).ok()?;
        Some(Uri {
            original: joined.to_string(),
            absolute: Some(joined),
        })
    }

    /// The absolute URI, or `None` for a relative one (the caller's InvalidOperationException).
    pub(crate) fn absolute(&self) -> Option<&url::Url> {
        self.absolute.as_ref()
    }

    pub(crate) fn original(&self) -> &str {
        &self.original
    }

    /// `Host`: lower case; an IPv6 address in brackets.
    pub(crate) fn host(u: &url::Url) -> String {
        u.host_str().unwrap_or("").to_string()
    }

    /// `Port`: the explicit one or the scheme's default; -1 when the scheme has none.
    pub(crate) fn port(u: &url::Url) -> i64 {
        u.port_or_known_default().map_or(-1, i64::from)
    }

    /// `Authority`: the host, with the port when it is not the scheme's default.
    pub(crate) fn authority(u: &url::Url) -> String {
        match u.port() {
            Some(p) => format!("{}:{p}", Uri::host(u)),
            None => Uri::host(u),
        }
    }

    /// `Query`: with its `?`, or empty.
    pub(crate) fn query(u: &url::Url) -> String {
        u.query().map(|q| format!("?{q}")).unwrap_or_default()
    }

    /// `Fragment`: with its `#`, or empty.
    pub(crate) fn fragment(u: &url::Url) -> String {
        u.fragment().map(|f| format!("#{f}")).unwrap_or_default()
    }

    /// `PathAndQuery`.
    pub(crate) fn path_and_query(u: &url::Url) -> String {
        format!("{}{}", u.path(), Uri::query(u))
    }

    /// `Segments`: the path cut after each slash (`/a/b` is `/`, `a/`, `b`).
    pub(crate) fn segments(u: &url::Url) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        for c in u.path().chars() {
            cur.push(c);
            if c == '/' {
                out.push(std::mem::take(&mut cur));
            }
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        out
    }

    /// `LocalPath` (the path unescaped) and `ToString()` (the whole URI unescaped, as .NET
    /// shows it; `%25` stays escaped so the result reads back as the same URI).
    pub(crate) fn unescaped(text: &str) -> String {
        text.split("%25")
            .map(|part| percent_decode_str(part).decode_utf8_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("%25")
    }

    /// `GetLeftPart(part)`: `Scheme` 0 (`https://`), `Authority` 1, `Path` 2, `Query` 3.
    pub(crate) fn left_part(u: &url::Url, part: i64) -> String {
        let scheme = format!("{}://", u.scheme());
        let authority = format!("{scheme}{}", Uri::authority(u));
        match part {
            0 => scheme,
            1 => authority,
            2 => format!("{authority}{}", u.path()),
            _ => format!("{authority}{}", Uri::path_and_query(u)),
        }
    }

    /// `ToString()`.
    pub(crate) fn to_display(&self) -> String {
        match &self.absolute {
            Some(u) => Uri::unescaped(u.as_str()),
            None => self.original.clone(),
        }
    }

    /// `==` and `Equals`: the same absolute URI, fragments aside (or the same relative text).
    pub(crate) fn same(&self, other: &Uri) -> bool {
        match (&self.absolute, &other.absolute) {
            (Some(a), Some(b)) => {
                let strip = |u: &url::Url| {
                    let mut u = u.clone();
                    u.set_fragment(None);
                    u
                };
                strip(a) == strip(b)
            }
            (None, None) => self.original == other.original,
            _ => false,
        }
    }
}

/// `Uri.IsWellFormedUriString(text, kind)`: the string parses as that kind and needs no
/// escaping (no spaces, controls or characters RFC 3986 excludes; every `%` starts an escape).
pub(crate) fn is_well_formed(text: &str, kind: i64) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let ok = match b {
            b'%' => {
                let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
                if !(hex(i + 1) && hex(i + 2)) {
                    return false;
                }
                true
            }
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => true,
            b'-' | b'.' | b'_' | b'~' | b':' | b'/' | b'?' | b'#' | b'[' | b']' | b'@' | b'!'
            | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' => true,
            _ => false,
        };
        if !ok {
            return false;
        }
        i += 1;
    }
    Uri::parse(text, kind).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_as_dotnet_spells_them() {
        let u = Uri::parse("https://Example.com:443/a%20b/c?x=1#f", KIND_ABSOLUTE).unwrap();
        let a = u.absolute().unwrap();
        assert_eq!(Uri::host(a), "example.com");
        assert_eq!(Uri::port(a), 443);
        assert_eq!(Uri::authority(a), "example.com");
        assert_eq!(a.path(), "/a%20b/c");
        assert_eq!(Uri::query(a), "?x=1");
        assert_eq!(Uri::fragment(a), "#f");
        assert_eq!(Uri::segments(a), ["/", "a%20b/", "c"]);
        assert_eq!(u.to_display(), "https://example.com/a b/c?x=1#f");
        assert_eq!(Uri::left_part(a, 1), "https://example.com");
        let v6 = Uri::parse("http://[::1]:8080/", KIND_ABSOLUTE).unwrap();
        assert_eq!(Uri::authority(v6.absolute().unwrap()), "[::1]:8080");
        assert!(Uri::parse("/relative", KIND_ABSOLUTE).is_none());
        assert!(Uri::parse("/relative", KIND_RELATIVE).is_some());
        assert!(Uri::parse("https://x/", KIND_RELATIVE).is_none());
        assert!(is_well_formed("https://x.test/a?b=c", KIND_ABSOLUTE));
        assert!(!is_well_formed("https://x.test/a b", KIND_ABSOLUTE));
        assert!(!is_well_formed("https://x.test/%zz", KIND_ABSOLUTE));
        assert!(!is_well_formed("a/b", KIND_ABSOLUTE));
        assert!(is_well_formed("a/b", KIND_RELATIVE));
    }
}
