//! certgate: the gateway crate. Configuration files are parsed into one internal model
//! ([`load()`]), compiled into an immutable snapshot (plans per route, trust material, backends)
//! and served on Pingora ([`execute`] with `run`). ARCHITECTURE.md maps the modules.
//!
//! Parsing never mixes with serving: everything a request needs is in the snapshot, built and
//! validated before it is used.

#![warn(missing_docs)]

mod boundary;
mod cli;
mod config;
mod demo_backend;
mod forwarded;
mod log;
mod metrics;
mod proxy;
mod routing;
mod server;
mod shared;
mod snapshot;
mod tls;

// The public interface is: the command line (what the binary and the deployment tests run),
// and loading a configuration (what the configuration tests check).
pub use cli::{execute, CertCommand, Cli, Command, Outcome, PkiCommand};
pub use config::{load, ConfigError, LoadOptions};
pub use shared::Redis;
