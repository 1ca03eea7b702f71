//! HTTP facts that policies and the gateway share: which headers frame one hop. One list, so
//! that `return-response`, `send-request`'s copy, `cache-store` and the gateway's own calls
//! never drift apart.
//!
//! Must not: import anything else from this crate.

/// Headers that frame one HTTP/1.1 hop (RFC 9110 §7.6.1's connection-specific fields, with
/// `Proxy-Connection` and `Keep-Alive` as clients still send them) and `Content-Length`: never
/// copied from one message to another as they came; whoever sends a message frames it.
pub const FRAMING_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
];

/// Whether `name` is one of [`FRAMING_HEADERS`] (any case).
pub fn is_framing(name: &str) -> bool {
    FRAMING_HEADERS.iter().any(|f| name.eq_ignore_ascii_case(f))
}

#[cfg(test)]
mod tests {
    #[test]
    fn framing_is_matched_in_any_case() {
        assert!(super::is_framing("Transfer-Encoding"));
        assert!(super::is_framing("CONTENT-LENGTH"));
        assert!(!super::is_framing("Content-Type"));
    }
}
