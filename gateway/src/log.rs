//! Structured log lines on stdout (SPEC §7): the access log, one JSON object per request, and
//! the events of the `trace` policy. Each line is serialized from borrowed fields (no
//! intermediate map) and written with a single `write_all`, so lines from several workers never
//! interleave. Deciding *whether* to log is the caller's business (`access-log` in the config).

use std::io::Write;
use std::net::IpAddr;

use serde::Serialize;

/// One request, as the access log records it.
#[derive(Serialize)]
pub(crate) struct AccessLine<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub time: &'a str,
    pub client: IpAddr,
    pub sni: Option<&'a str>,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub latency_ms: f64,
    pub api: &'a str,
    pub operation: &'a str,
    pub certificate_thumbprint: Option<&'a str>,
    pub certificate_subject: Option<&'a str>,
    pub validation_reason: Option<&'a str>,
    pub request_id: &'a str,
}

/// One event of the `trace` policy.
#[derive(Serialize)]
pub(crate) struct TraceLine<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub time: &'a str,
    pub source: &'a str,
    pub severity: &'a str,
    pub message: &'a str,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub request_id: &'a str,
}

/// Writes `line` as one JSON line on stdout. A failed write (closed stdout) is dropped: logging
/// never fails a request.
pub(crate) fn emit<T: Serialize>(line: &T) {
    let mut buf = Vec::with_capacity(512);
    if serde_json::to_writer(&mut buf, line).is_ok() {
        buf.push(b'\n');
        let _ = std::io::stdout().lock().write_all(&buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_line_is_one_json_object_with_every_field() {
        let line = AccessLine {
            kind: "access",
            time: "2026-01-01T00:00:00.000Z",
            client: "127.0.0.1".parse().unwrap(),
            sni: Some("api.test"),
            method: "GET",
            path: "/a\"b",
            status: 200,
            latency_ms: 0.25,
            api: "x",
            operation: "y",
            certificate_thumbprint: None,
            certificate_subject: Some("CN=A, O=\"B, C\""),
            validation_reason: None,
            request_id: "01",
        };
        let text = serde_json::to_string(&line).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["client"], "127.0.0.1");
        assert_eq!(v["path"], "/a\"b");
        assert_eq!(v["certificate_subject"], "CN=A, O=\"B, C\"");
        assert!(v["certificate_thumbprint"].is_null());
        assert_eq!(v.as_object().unwrap().len(), 14);
    }
}
