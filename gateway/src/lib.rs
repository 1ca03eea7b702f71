//! certgate: the gateway crate. Configuration files are parsed into one internal model
//! ([`config`]), compiled into an immutable [`snapshot::Snapshot`] (plans per route, trust
//! material, backends), and served; requests are routed by [`routing`].
//!
//! Parsing never mixes with serving: everything a request needs is in the snapshot, built and
//! validated before it is used.

pub mod boundary;
pub mod cli;
pub mod config;
pub mod demo_backend;
pub mod forwarded;
pub mod log;
pub mod metrics;
pub mod proxy;
pub mod routing;
pub mod server;
pub mod snapshot;
pub mod tls;
