//! .NET scalar semantics shared by the certificate model and the expression language, at the
//! bottom of the crate so both can import them: `DateTime`, `TimeSpan`, `StringComparison`,
//! `X509NameType`; and APIM's list of the .NET types expressions may name.
//!
//! Must not: import anything else from this crate (`rsa.rs` uses the TLS library's alias and
//! its compatibility calls, layer 0 as this is).

mod allowed;
mod auth;
pub(crate) mod date_format;
mod datetime;
mod enums;
pub(crate) mod form;
mod hash;
pub(crate) mod json;
mod random;
pub(crate) mod regex;
pub(crate) mod rsa;
pub(crate) mod symmetric;
pub(crate) mod text;
pub(crate) mod timezone;
pub(crate) mod uri;
pub(crate) mod xml;
pub(crate) mod xml_json;

pub(crate) use allowed::{apim_member, apim_type, APIM_TYPES};
pub(crate) use auth::{parse_basic, parse_jwt, BasicCredentials, Jwt};
pub(crate) use datetime::{DateKind, DateTime, DateTimeOffset, TimeSpan};
pub(crate) use enums::{EnumType, NameType};
pub(crate) use hash::{hash_class, HashAlgorithm, Key};
pub(crate) use random::Random;
