//! The authentication boundary (README "Authentication boundary"): what a request must be
//! before routing or any policy sees it.
//!
//! - HTTP framing that HTTP forbids or that backends may read differently (request smuggling):
//!   a missing or repeated Host, a Host that disagrees with the request target's authority,
//!   repeated or malformed Content-Length, Transfer-Encoding other than a lone `chunked`.
//! - Host and SNI are one identity: a request on a TLS connection may not name another
//!   configured hostname than the one its handshake was made for (421), and a hostname that
//!   asks for client certificates is reachable over a plain listener only from a trusted proxy.
//! - Paths: dot-segments removed (RFC 3986 §5.2.4, percent-encoded dots included) before
//!   routing; a path that climbs above the root, hides a dot-segment behind an escaped
//!   separator (`..%2F`), or contains a backslash, is refused. `%2F` alone is data.
//!
//! Pure functions over request parts: the proxy calls them and turns a [`Refusal`] into the
//! response. Nothing here does I/O or touches the snapshot's mutable state.

use std::borrow::Cow;

use certgate_policy::ClientCertificateFailure;
use pingora::http::RequestHeader;

/// Why a request is refused at the boundary: status, reason (metric label and `LastError`
/// reason) and the message of the JSON error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: u16,
    pub reason: &'static str,
    pub message: &'static str,
}

const fn refuse(status: u16, reason: &'static str, message: &'static str) -> Refusal {
    Refusal {
        status,
        reason,
        message,
    }
}

pub(crate) const MISSING_HOST: Refusal = refuse(
    400,
    "MissingHost",
    "An HTTP/1.1 request needs exactly one Host header.",
);
pub(crate) const HOST_MISMATCH: Refusal = refuse(
    400,
    "HostMismatch",
    "The Host header and the request target name different hosts.",
);
pub(crate) const BAD_CONTENT_LENGTH: Refusal = refuse(
    400,
    "InvalidContentLength",
    "Content-Length must be one decimal number.",
);
pub(crate) const BODY_TOO_LARGE: Refusal = refuse(
    413,
    "RequestBodyTooLarge",
    "The request body is larger than a policy that reads it may buffer.",
);
pub(crate) const LENGTH_AND_CHUNKED: Refusal = refuse(
    400,
    "ContentLengthWithTransferEncoding",
    "A request may not carry both Content-Length and Transfer-Encoding.",
);
pub(crate) const BAD_TRANSFER_ENCODING: Refusal = refuse(
    501,
    "UnsupportedTransferEncoding",
    "Only Transfer-Encoding: chunked is supported.",
);
pub(crate) const MISDIRECTED: Refusal = refuse(
    421,
    "MisdirectedRequest",
    "The request names a hostname other than the one this connection was made for.",
);
pub(crate) const NEEDS_TLS: Refusal = refuse(
    421,
    "ClientCertificateHostnameOverPlainHttp",
    "This hostname requires a client certificate: connect with TLS.",
);
pub(crate) const PATH_ABOVE_ROOT: Refusal = refuse(
    400,
    "PathAboveRoot",
    "The request path climbs above the root.",
);
pub(crate) const PATH_ENCODED_SEPARATOR: Refusal = refuse(
    400,
    "PathEncodedSeparator",
    "The request path hides a dot-segment behind an encoded slash, or contains a backslash.",
);

/// The answer to a request on a strict hostname whose certificate fails the strict check
/// (`crate::tls::strict_check`): 401 with the reason and message `validate-client-certificate`
/// would give.
pub(crate) fn strict_refusal(f: ClientCertificateFailure) -> Refusal {
    refuse(401, f.reason(), f.message())
}

pub(crate) const UNREADABLE_CERTIFICATE: Refusal = refuse(
    401,
    "ClientCertificateUnreadable",
    "The client certificate cannot be read (malformed name or extension).",
);

/// Checks what HTTP/1.1 (RFC 9112 §3.2, §6) forbids in a request head, and what lets a
/// backend frame the request differently from the gateway.
pub(crate) fn check_framing(req: &RequestHeader) -> Result<(), Refusal> {
    // One pass over the headers (a hashed lookup per name costs more than the walk).
    let (mut host, mut hosts) = (None, 0);
    let (mut length, mut lengths) = (None, 0);
    let (mut coding, mut codings) = (None, 0);
    for (name, value) in &req.headers {
        if name == http::header::HOST {
            host = Some(value);
            hosts += 1;
        } else if name == http::header::CONTENT_LENGTH {
            length = Some(value);
            lengths += 1;
        } else if name == http::header::TRANSFER_ENCODING {
            coding = Some(value);
            codings += 1;
        }
    }
    if hosts > 1 || (hosts == 0 && req.version == http::Version::HTTP_11) {
        return Err(MISSING_HOST);
    }
    if let (Some(target), Some(host)) = (req.uri.authority(), host) {
        if !target
            .as_str()
            .as_bytes()
            .eq_ignore_ascii_case(host.as_bytes())
        {
            return Err(HOST_MISMATCH);
        }
    }
    if let Some(v) = length {
        let digits = v.as_bytes();
        if lengths > 1
            || digits.is_empty()
            || digits.len() > 18
            || !digits.iter().all(u8::is_ascii_digit)
        {
            return Err(BAD_CONTENT_LENGTH);
        }
    }
    if let Some(te) = coding {
        if length.is_some() {
            return Err(LENGTH_AND_CHUNKED);
        }
        let lone_chunked = te
            .to_str()
            .is_ok_and(|t| t.trim().eq_ignore_ascii_case("chunked"));
        if codings > 1 || !lone_chunked || req.version != http::Version::HTTP_11 {
            return Err(BAD_TRANSFER_ENCODING);
        }
    }
    Ok(())
}

/// A Host (or `:authority`) value as a hostname: no port, no trailing dot, lower case.
pub(crate) fn host_name(authority: &str) -> Cow<'_, str> {
    let host = crate::routing::strip_port(authority);
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

/// A segment that means "this directory" or "the parent": `.`/`..` spelt with any mix of `.`
/// and `%2e`, ignoring `;parameters` (which some servers strip before resolving).
fn dots(segment: &str) -> Option<usize> {
    let s = segment.split(';').next().unwrap_or(segment).as_bytes();
    let mut n = 0;
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'.' {
            i += 1;
        } else if s.len() >= i + 3 && s[i] == b'%' && s[i + 1] == b'2' && (s[i + 2] | 0x20) == b'e'
        {
            i += 3;
        } else {
            return None;
        }
        n += 1;
    }
    (1..=2).contains(&n).then_some(n)
}

/// The pieces of a segment between `%2F` / `%5C` escapes.
fn split_escaped_separators(segment: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(segment);
    std::iter::from_fn(move || {
        let s = rest?;
        let b = s.as_bytes();
        let at = (0..b.len().saturating_sub(2)).find(|&i| {
            b[i] == b'%'
                && ((b[i + 1] == b'2' && (b[i + 2] | 0x20) == b'f')
                    || (b[i + 1] == b'5' && (b[i + 2] | 0x20) == b'c'))
        });
        match at {
            Some(i) => {
                rest = Some(&s[i + 3..]);
                Some(&s[..i])
            }
            None => {
                rest = None;
                Some(s)
            }
        }
    })
}

/// RFC 3986 §5.2.4 remove_dot_segments on an origin-form path, with percent-encoded dots
/// recognised. Refuses a path that climbs above the root, a raw backslash, and a dot-segment
/// hidden behind an escaped separator (`..%2F`, `%5C..`) that a decoding backend would resolve.
/// The path unchanged (borrowed) when it has nothing to remove.
pub(crate) fn normalize_path(path: &str) -> Result<Cow<'_, str>, Refusal> {
    let b = path.as_bytes();
    let mut suspicious = false;
    let mut escaped_separator = false;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'\\' => return Err(PATH_ENCODED_SEPARATOR),
            b'%' if b.len() > i + 2 => {
                let (h, l) = (b[i + 1], b[i + 2] | 0x20);
                if (h == b'2' && l == b'f') || (h == b'5' && l == b'c') {
                    escaped_separator = true;
                }
                if h == b'2' && l == b'e' {
                    suspicious = true;
                }
            }
            b'.' => suspicious = true,
            _ => {}
        }
    }
    // `%2F` is data, not a separator (an id may contain a slash), and is forwarded as sent;
    // but a dot-segment behind one is what a decoding backend would resolve.
    if escaped_separator && suspicious {
        for segment in path.split('/') {
            if split_escaped_separators(segment).any(|piece| dots(piece).is_some()) {
                return Err(PATH_ENCODED_SEPARATOR);
            }
        }
    }
    if !suspicious {
        return Ok(Cow::Borrowed(path));
    }
    let body = path.strip_prefix('/').unwrap_or(path);
    let segments: Vec<&str> = body.split('/').collect();
    if segments.iter().all(|s| dots(s).is_none()) {
        return Ok(Cow::Borrowed(path));
    }
    let mut out: Vec<&str> = Vec::with_capacity(segments.len());
    let last = segments.len() - 1;
    let mut trailing = false;
    for (i, s) in segments.iter().enumerate() {
        match dots(s) {
            Some(1) => trailing = i == last,
            Some(_) => {
                if out.pop().is_none() {
                    return Err(PATH_ABOVE_ROOT);
                }
                trailing = i == last;
            }
            _ => {
                out.push(s);
                trailing = false;
            }
        }
    }
    let mut p = String::with_capacity(path.len());
    for s in &out {
        p.push('/');
        p.push_str(s);
    }
    if trailing || p.is_empty() {
        p.push('/');
    }
    Ok(Cow::Owned(p))
}

/// Whether a header name is `wanted` to a backend that folds case and treats `_` as `-` (as
/// CGI-style servers, IIS and many frameworks do): `X_ARR_ClientCert` is `X-ARR-ClientCert`.
pub(crate) fn same_header(name: &str, wanted: &str) -> bool {
    name.len() == wanted.len()
        && name.bytes().zip(wanted.bytes()).all(|(a, b)| {
            let fold = |c: u8| {
                if c == b'_' {
                    b'-'
                } else {
                    c.to_ascii_lowercase()
                }
            };
            fold(a) == fold(b)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(lines: &[(&str, &str)], target: &str, v11: bool) -> RequestHeader {
        let mut r = RequestHeader::build("GET", b"/", None).unwrap();
        r.set_uri(target.parse().unwrap());
        if !v11 {
            r.set_version(http::Version::HTTP_10);
        }
        for (k, v) in lines {
            r.append_header(k.to_string(), *v).unwrap();
        }
        r
    }

    #[test]
    fn framing() {
        let ok = head(&[("Host", "a")], "/", true);
        assert_eq!(check_framing(&ok), Ok(()));
        assert_eq!(check_framing(&head(&[], "/", true)), Err(MISSING_HOST));
        assert_eq!(check_framing(&head(&[], "/", false)), Ok(()));
        assert_eq!(
            check_framing(&head(&[("Host", "a"), ("Host", "b")], "/", true)),
            Err(MISSING_HOST)
        );
        assert_eq!(
            check_framing(&head(&[("Host", "a")], "https://b/x", true)),
            Err(HOST_MISMATCH)
        );
        assert_eq!(
            check_framing(&head(&[("Host", "B")], "https://b/x", true)),
            Ok(())
        );
        for bad in ["5, 5", "", "-1", "0x10", "1 2", "99999999999999999999"] {
            assert_eq!(
                check_framing(&head(&[("Host", "a"), ("Content-Length", bad)], "/", true)),
                Err(BAD_CONTENT_LENGTH),
                "{bad}"
            );
        }
        assert_eq!(
            check_framing(&head(
                &[
                    ("Host", "a"),
                    ("Content-Length", "5"),
                    ("Content-Length", "5")
                ],
                "/",
                true
            )),
            Err(BAD_CONTENT_LENGTH)
        );
        assert_eq!(
            check_framing(&head(
                &[
                    ("Host", "a"),
                    ("Content-Length", "5"),
                    ("Transfer-Encoding", "chunked")
                ],
                "/",
                true
            )),
            Err(LENGTH_AND_CHUNKED)
        );
        for te in ["gzip", "chunked, chunked", "xchunked", "gzip, chunked"] {
            assert_eq!(
                check_framing(&head(
                    &[("Host", "a"), ("Transfer-Encoding", te)],
                    "/",
                    true
                )),
                Err(BAD_TRANSFER_ENCODING),
                "{te}"
            );
        }
        assert_eq!(
            check_framing(&head(
                &[("Host", "a"), ("Transfer-Encoding", "Chunked")],
                "/",
                true
            )),
            Ok(())
        );
    }

    #[test]
    fn hosts() {
        assert_eq!(host_name("Partner.Example.:8443"), "partner.example");
        assert_eq!(host_name("[::1]:443"), "::1");
        assert_eq!(host_name("a.b"), "a.b");
    }

    #[test]
    fn paths() {
        let n = |p: &str| normalize_path(p).map(|c| c.into_owned());
        assert_eq!(n("/a/b"), Ok("/a/b".into()));
        assert_eq!(n("/a/./b/../c"), Ok("/a/c".into()));
        assert_eq!(n("/a/b/.."), Ok("/a/".into()));
        assert_eq!(n("/a/%2e%2E/x"), Ok("/x".into()));
        assert_eq!(n("/a/.%2e/x"), Ok("/x".into()));
        assert_eq!(n("/a/..;jsessionid=1/x"), Ok("/x".into()));
        assert_eq!(n("/v1.2/file.txt"), Ok("/v1.2/file.txt".into()));
        assert_eq!(n("/a/.../b"), Ok("/a/.../b".into()));
        assert_eq!(n("/based/../../secret"), Err(PATH_ABOVE_ROOT));
        assert_eq!(n("/%2e%2e/secret"), Err(PATH_ABOVE_ROOT));
        assert_eq!(n("/.."), Err(PATH_ABOVE_ROOT));
        assert_eq!(n("/a/..%2fsecret"), Err(PATH_ENCODED_SEPARATOR));
        assert_eq!(n("/a/..%5Csecret"), Err(PATH_ENCODED_SEPARATOR));
        assert_eq!(n("/a\\..\\b"), Err(PATH_ENCODED_SEPARATOR));
        assert_eq!(
            n("/weather/Bergen%2FNorway"),
            Ok("/weather/Bergen%2FNorway".into())
        );
        assert_eq!(n("/a/v1.0%2Fx"), Ok("/a/v1.0%2Fx".into()));
        assert_eq!(n("/a/x%2F..%2Fy"), Err(PATH_ENCODED_SEPARATOR));
        assert_eq!(n("/"), Ok("/".into()));
        assert_eq!(n("/."), Ok("/".into()));
    }

    #[test]
    fn header_spellings() {
        assert!(same_header("x_arr_clientcert", "x-arr-clientcert"));
        assert!(same_header("X-ARR-ClientCert", "x-arr-clientcert"));
        assert!(!same_header("x-arr-clientcerts", "x-arr-clientcert"));
    }
}
