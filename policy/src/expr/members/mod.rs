//! The .NET type families policy expressions may use, one file each (rhai's `packages/`): the
//! checker's bindings for its receiver types (which members exist, their parameter and result
//! types) and the evaluator's implementation of its [`crate::expr::ir::Builtin`] sub-enum.
//! Adding a member is its binding and its evaluation in the family's file plus one variant in
//! that family's enum in `ir.rs`.
//!
//! Must not: sequence statements, scopes or LINQ (the checker's and evaluator's skeletons).

pub(crate) mod auth;
pub(crate) mod body;
pub(crate) mod builder;
pub(crate) mod cert;
pub(crate) mod collections;
pub(crate) mod context;
pub(crate) mod convert;
pub(crate) mod crypto;
pub(crate) mod datetime;
pub(crate) mod datetime_offset;
pub(crate) mod enums;
pub(crate) mod exception;
pub(crate) mod form;
pub(crate) mod format;
pub(crate) mod generic;
pub(crate) mod ip;
pub(crate) mod json;
pub(crate) mod queue;
pub(crate) mod random;
pub(crate) mod regex;
pub(crate) mod response;
pub(crate) mod rsa;
pub(crate) mod string;
pub(crate) mod string_io;
pub(crate) mod symmetric;
pub(crate) mod timezone;
pub(crate) mod uri;
pub(crate) mod xml;

use super::ir::{Ir, Ty};

/// What a mutable collection iterates (a form's list, `List<T>`, `HashSet<T>`,
/// `Dictionary<TKey, TValue>`, `Queue<T>`, `Stack<T>`): the element type and an array of its
/// items now. `None` for every other type.
pub(crate) fn collection_items(recv: Ir, ty: &Ty) -> Option<(Ty, Ir)> {
    form::items(recv.clone(), ty)
        .or_else(|| queue::items(recv.clone(), ty))
        .or_else(|| generic::items(recv, ty))
}
