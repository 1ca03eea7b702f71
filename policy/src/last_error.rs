//! `context.LastError` (what on-error sees of a failure) and the default error response APIM
//! sends when on-error does not answer itself, with the reason phrases for status codes.
//!
//! Must not: know what a policy step is (errors raised by steps are built in [`crate::exec`]).

use std::sync::Arc;

use crate::sections::Section;
use crate::validation::ClientCertificateFailure;

/// `context.LastError`, plus the response APIM sends when on-error does not answer itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastError {
    /// `Source`: the policy (or gateway part) that failed.
    pub source: Arc<str>,
    /// `Reason`.
    pub reason: Arc<str>,
    /// `Message`.
    pub message: Arc<str>,
    /// `Scope` of the failing step.
    pub scope: Arc<str>,
    /// `Section` of the failing step.
    pub section: Arc<str>,
    /// `Path` of the failing step in its section.
    pub path: Arc<str>,
    /// `PolicyId`: the failing element's `id`.
    pub policy_id: Arc<str>,
    /// Status of the default error response.
    pub status: u16,
    /// Message of the default error response body (may differ from `message`, as for
    /// `validate-client-certificate`).
    pub response_message: Arc<str>,
    /// Why a client certificate was refused, when that is what failed
    /// (`validate-client-certificate`): metrics and logs read this, never `reason`'s text.
    pub certificate: Option<ClientCertificateFailure>,
}

impl LastError {
    /// An error raised by the gateway outside any policy step (routing, backend I/O).
    pub fn gateway(
        source: &str,
        reason: &str,
        message: &str,
        section: Section,
        status: u16,
    ) -> LastError {
        LastError {
            source: source.into(),
            reason: reason.into(),
            message: message.into(),
            scope: "".into(),
            section: section.as_str().into(),
            path: "".into(),
            policy_id: "".into(),
            status,
            response_message: message.into(),
            certificate: None,
        }
    }

    /// The same error with a different message in the default response body.
    pub fn with_response_message(mut self, message: &str) -> LastError {
        self.response_message = message.into();
        self
    }

    /// The built-in `OperationNotFound` (404).
    pub fn operation_not_found() -> LastError {
        LastError::gateway(
            "configuration",
            "OperationNotFound",
            "Unable to match incoming request to an operation.",
            Section::Inbound,
            404,
        )
        .with_response_message("Resource not found")
    }

    /// `BackendConnectionFailure` (502).
    pub fn backend_connection_failure(message: &str) -> LastError {
        LastError::gateway(
            "forward-request",
            "BackendConnectionFailure",
            message,
            Section::Backend,
            502,
        )
    }

    /// `Timeout` (504).
    pub fn timeout(message: &str) -> LastError {
        LastError::gateway("forward-request", "Timeout", message, Section::Backend, 504)
    }

    /// `JsonConvert.SerializeObject(context.LastError)`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "Source": &*self.source,
            "Reason": &*self.reason,
            "Message": &*self.message,
            "Scope": &*self.scope,
            "Section": &*self.section,
            "Path": &*self.path,
            "PolicyId": &*self.policy_id,
        })
    }
}

/// The reason phrase for a status code (used when a policy gives none).
pub fn default_reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        421 => "Misdirected Request",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// The default error body of SPEC §3, `{"statusCode": N, "message": "..."}`, for every error
/// response the gateway produces, with or without a plan.
pub fn error_body(status: u16, message: &str) -> Vec<u8> {
    serde_json::json!({ "statusCode": status, "message": message })
        .to_string()
        .into_bytes()
}
