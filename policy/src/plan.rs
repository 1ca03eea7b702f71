//! The compiled plan of one route: what each section does, as data the executor walks.
//!
//! Built once per route per configuration snapshot by [`crate::compile`]; immutable and shared
//! by all requests. Every step knows where it came from (policy name, scope, section, path, id)
//! so a failure can fill `context.LastError` without looking anything up.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::context::RouteInfo;
use crate::context::Severity;
use crate::counters::CounterStore;
use crate::expr::{Expression, Template};
use crate::sections::{Scope, Section};

/// Where a step came from, for `context.LastError`.
#[derive(Clone, Debug)]
pub struct Origin {
    pub policy: &'static str,
    pub scope: Scope,
    pub section: Section,
    pub path: Arc<str>,
    pub id: Arc<str>,
}

#[derive(Clone, Debug)]
pub struct Step {
    pub origin: Arc<Origin>,
    pub op: Op,
}

pub type Block = Vec<Step>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExistsAction {
    Override,
    Skip,
    Append,
    Delete,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderTarget {
    Request,
    Response,
}

#[derive(Clone, Debug)]
pub struct SetHeader {
    pub name: Arc<str>,
    pub action: ExistsAction,
    pub values: Vec<Template>,
    pub target: HeaderTarget,
}

#[derive(Clone, Debug)]
pub struct SetStatus {
    pub code: StatusCode,
    pub reason: Option<Template>,
}

#[derive(Clone, Debug)]
pub enum StatusCode {
    Fixed(u16),
    Expr(Expression),
}

#[derive(Clone, Debug)]
pub enum BackendChoice {
    BackendId(Template),
    BaseUrl(Template),
}

#[derive(Clone, Debug)]
pub enum CertificateChoice {
    Id(Template),
    Thumbprint(Template),
    Body {
        body: Expression,
        password: Option<Template>,
    },
}

/// One identity of `validate-client-certificate`: every present field must match.
#[derive(Clone, Debug, Default)]
pub struct Identity {
    pub thumbprint: Option<String>,
    pub serial_number: Option<String>,
    pub common_name: Option<String>,
    pub subject: Option<crate::cert::DistinguishedName>,
    pub dns_name: Option<String>,
    pub issuer_subject: Option<crate::cert::DistinguishedName>,
    pub issuer_thumbprint: Option<String>,
    pub issuer_certificate_id: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ValidateClientCertificate {
    pub validate_revocation: bool,
    pub validate_trust: bool,
    pub validate_not_before: bool,
    pub validate_not_after: bool,
    pub ignore_error: bool,
    pub identities: Vec<Identity>,
    /// Identities that are just a thumbprint, as a set (the common case, and the fast one).
    pub thumbprint_only: crate::thumbprints::ThumbprintSet,
}

#[derive(Clone, Debug)]
pub struct RateLimit {
    pub calls: u64,
    pub period: Duration,
    pub key: Template,
    pub increment_condition: Option<Expression>,
    pub increment_count: u64,
    /// Separates this policy's counters from every other policy's.
    pub counter_scope: Arc<str>,
    pub retry_after_header: Option<Arc<str>>,
    pub retry_after_variable: Option<Arc<str>>,
    pub remaining_header: Option<Arc<str>>,
    pub remaining_variable: Option<Arc<str>>,
    pub total_header: Option<Arc<str>>,
}

#[derive(Clone, Debug)]
pub enum Op {
    Choose {
        whens: Vec<(Expression, Block)>,
        otherwise: Block,
    },
    ReturnResponse {
        status: Option<SetStatus>,
        headers: Vec<SetHeader>,
        body: Option<Template>,
    },
    SetStatus(SetStatus),
    SetHeader(SetHeader),
    SetBody(Template),
    SetVariable {
        name: Arc<str>,
        value: Template,
    },
    Trace {
        source: Arc<str>,
        severity: Severity,
        message: Template,
        metadata: Vec<(Arc<str>, Template)>,
    },
    SetBackendService(BackendChoice),
    AuthenticationCertificate(CertificateChoice),
    CheckHeader {
        name: Arc<str>,
        failed_code: u16,
        failed_message: Template,
        ignore_case: bool,
        values: Vec<Arc<str>>,
    },
    IpFilter {
        allow: bool,
        addresses: Vec<IpAddr>,
        ranges: Vec<(IpAddr, IpAddr)>,
    },
    RewriteUri {
        template: Template,
        copy_unmatched_params: bool,
    },
    MockResponse {
        status: u16,
        content_type: Option<Arc<str>>,
    },
    ForwardRequest {
        timeout: Duration,
    },
    RateLimitByKey(RateLimit),
    QuotaByKey(RateLimit),
    ValidateClientCertificate(Box<ValidateClientCertificate>),
}

/// A route's compiled policy.
#[derive(Debug)]
pub struct Plan {
    pub route: RouteInfo,
    pub inbound: Block,
    pub backend: Block,
    pub outbound: Block,
    pub on_error: Block,
    /// Whether the backend section forwards explicitly; without `forward-request` the
    /// executor forwards after the backend section (see README: decisions).
    pub explicit_forward: bool,
    pub counters: Arc<dyn CounterStore>,
}

impl Plan {
    pub fn section(&self, s: Section) -> &Block {
        match s {
            Section::Inbound => &self.inbound,
            Section::Backend => &self.backend,
            Section::Outbound => &self.outbound,
            Section::OnError => &self.on_error,
        }
    }

    /// Whether the inbound section validates client certificates (metrics label "Valid").
    pub fn validates_client_certificate(&self) -> bool {
        fn any(b: &Block) -> bool {
            b.iter().any(|s| match &s.op {
                Op::ValidateClientCertificate(_) => true,
                Op::Choose { whens, otherwise } => {
                    whens.iter().any(|(_, b)| any(b)) || any(otherwise)
                }
                _ => false,
            })
        }
        any(&self.inbound)
    }

    /// Number of steps, nested ones included (for `certgate check` summaries).
    pub fn step_count(&self) -> usize {
        fn count(b: &Block) -> usize {
            b.iter()
                .map(|s| {
                    1 + match &s.op {
                        Op::Choose { whens, otherwise } => {
                            whens.iter().map(|(_, b)| count(b)).sum::<usize>() + count(otherwise)
                        }
                        _ => 0,
                    }
                })
                .sum()
        }
        Section::ALL.iter().map(|s| count(self.section(*s))).sum()
    }
}
