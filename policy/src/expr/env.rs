//! What one evaluation runs in: the request context, the local slots, the step limit and the
//! memory budget, the error type, and the argument readers every .NET family uses.
//!
//! Must not: know any particular member (those are `members/*`).

use std::sync::Arc;

use crate::cert::Certificate;
use crate::context::{RequestContext, UrlView};
use crate::value::{EnumValue, Handle, Value};

/// A runtime failure inside an expression: its kind (the .NET exception it stands for) and
/// .NET's wording where there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalError {
    /// Which .NET exception it stands for.
    pub kind: EvalErrorKind,
    /// The message, in .NET's words where there are some.
    pub message: String,
}

/// Which .NET exception an [`EvalError`] stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvalErrorKind {
    /// `NullReferenceException` (and `InvalidOperationException` on an empty nullable).
    NullReference,
    /// `InvalidCastException`: a value of the wrong type.
    InvalidCast,
    /// `FormatException`: text that does not parse.
    Format,
    /// `IndexOutOfRangeException`, `ArgumentOutOfRangeException`, an empty sequence.
    OutOfRange,
    /// `KeyNotFoundException` from a dictionary indexer.
    KeyNotFound,
    /// `OverflowException`.
    Overflow,
    /// `DivideByZeroException`.
    DivideByZero,
    /// `ArgumentException`/`ArgumentNullException`: a null or invalid argument.
    Argument,
    /// `RegexMatchTimeoutException`: a backtracking pattern ran out of its bound.
    RegexTimeout,
    /// `TimeZoneNotFoundException`: a zone id certgate does not know.
    TimeZoneNotFound,
    /// The evaluation ran out of its step budget (loops over hostile data).
    StepLimit,
    /// The evaluation ran out of its memory budget.
    MemoryBudget,
    /// Anything else (internal invariants).
    Other,
}

impl EvalError {
    /// A failure of this kind.
    pub fn new(kind: EvalErrorKind, message: impl Into<String>) -> EvalError {
        EvalError {
            kind,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub(crate) const NULL_REF: &str = "Object reference not set to an instance of an object.";

/// The result of an evaluation step.
pub(crate) type EvalResult<T> = Result<T, EvalError>;
type R<T> = EvalResult<T>;

pub(crate) fn fail<T>(kind: EvalErrorKind, m: impl Into<String>) -> R<T> {
    Err(EvalError::new(kind, m))
}

/// Upper bound on iterations (foreach, LINQ) in one evaluation: hostile data must not make a
/// policy spin.
pub(crate) const MAX_STEPS: u32 = 1_000_000;

/// Evaluations stopped by the memory budget, process-wide (exported as a metric).
pub static BUDGET_EXCEEDED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub(crate) fn over_budget<T>(what: String) -> R<T> {
    BUDGET_EXCEEDED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    fail(
        EvalErrorKind::MemoryBudget,
        format!("expression exceeded its memory budget: {what}"),
    )
}

pub(crate) struct Env<'c> {
    pub ctx: &'c dyn RequestContext,
    /// The expression's local slots, inline for the few a typical condition has: an
    /// evaluation allocates nothing before it produces a value.
    pub locals: smallvec::SmallVec<[Value; 4]>,
    steps: u32,
    produced: usize,
    budget: crate::context::ExpressionBudget,
}

impl<'c> Env<'c> {
    pub(crate) fn new(ctx: &'c dyn RequestContext, slots: u16) -> Env<'c> {
        Env {
            ctx,
            locals: match slots {
                0 => smallvec::SmallVec::new(),
                n => smallvec::smallvec![Value::Null; n as usize],
            },
            steps: 0,
            produced: 0,
            budget: ctx.expression_budget(),
        }
    }

    /// Fails before allocating a string of `len` bytes that the budget would refuse anyway.
    pub(crate) fn check_len(&self, len: usize) -> R<()> {
        let max = self.budget.max_string;
        if len > max {
            return over_budget(format!("a string of {len} bytes (at most {max})"));
        }
        Ok(())
    }

    /// The most items a collection may hold (a builtin that makes one stops there).
    pub(crate) fn max_items(&self) -> usize {
        self.budget.max_items
    }

    /// Charges `n` bytes an operation built outside strings (a JSON document growing) against
    /// the evaluation's memory budget.
    pub(crate) fn charge_bytes(&mut self, n: usize) -> R<()> {
        self.produced = self.produced.saturating_add(n);
        if self.produced > self.budget.max_produced {
            return over_budget(format!(
                "{} bytes produced (at most {})",
                self.produced, self.budget.max_produced
            ));
        }
        Ok(())
    }

    /// Charges a value just produced against the evaluation's memory budget. Inline: most
    /// values (booleans, numbers, certificates) cost nothing and return at once.
    #[inline]
    pub(crate) fn charge(&mut self, v: Value) -> R<Value> {
        match &v {
            Value::Str(_) | Value::Bytes(_) | Value::Array(_) => self.charge_sized(v),
            _ => Ok(v),
        }
    }

    fn charge_sized(&mut self, v: Value) -> R<Value> {
        let (len, items) = match &v {
            Value::Str(s) => (s.len(), 0),
            Value::Bytes(b) => (b.len(), 0),
            Value::Array(a) => (0, a.len()),
            _ => return Ok(v),
        };
        self.check_len(len)?;
        let b = self.budget;
        if items > b.max_items {
            return over_budget(format!(
                "a collection of {items} items (at most {})",
                b.max_items
            ));
        }
        self.produced = self.produced.saturating_add(len);
        if self.produced > b.max_produced {
            return over_budget(format!(
                "{} bytes of strings produced (at most {})",
                self.produced, b.max_produced
            ));
        }
        Ok(v)
    }

    /// `n` steps at once: the work of one call that costs as much as that many steps (an RSA
    /// private-key operation, a key made).
    pub(crate) fn steps(&mut self, n: u32) -> R<()> {
        self.steps = self.steps.saturating_add(n.saturating_sub(1));
        self.step()
    }

    pub(crate) fn step(&mut self) -> R<()> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return fail(
                EvalErrorKind::StepLimit,
                "expression exceeded its step budget",
            );
        }
        Ok(())
    }
}

pub(crate) fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Double(d) => Some(*d),
        Value::Char(c) => Some(*c as u32 as f64),
        _ => None,
    }
}

pub(crate) fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::Char(c) => Some(*c as i64),
        _ => None,
    }
}

pub(crate) fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::Null)
}

pub(crate) fn s_arg(args: &[Value], i: usize) -> R<&str> {
    match arg(args, i) {
        Value::Str(s) => Ok(s),
        Value::Null => fail(EvalErrorKind::NullReference, NULL_REF),
        v => fail(
            EvalErrorKind::InvalidCast,
            format!("expected a string, got {}", v.type_name()),
        ),
    }
}

pub(crate) fn opt_s(args: &[Value], i: usize) -> Option<&str> {
    match arg(args, i) {
        Value::Str(s) => Some(s),
        _ => None,
    }
}

pub(crate) fn i_arg(args: &[Value], i: usize) -> R<i64> {
    int(arg(args, i)).map_or_else(|| fail(EvalErrorKind::NullReference, NULL_REF), Ok)
}

pub(crate) fn cert_arg(args: &[Value]) -> R<&Arc<Certificate>> {
    match arg(args, 0) {
        Value::Cert(c) => Ok(c),
        _ => fail(EvalErrorKind::NullReference, NULL_REF),
    }
}

pub(crate) fn ignore_case(args: &[Value], i: usize) -> bool {
    matches!(
        arg(args, i),
        // CurrentCultureIgnoreCase, InvariantCultureIgnoreCase, OrdinalIgnoreCase.
        Value::Enum(EnumValue::Named(
            crate::dotnet::EnumType::StringComparison,
            1 | 3 | 5
        ))
    )
}

pub(crate) fn string(s: impl Into<Arc<str>>) -> Value {
    Value::Str(s.into())
}

/// The URL a handle stands for: the rewritten one, or the client's (`OriginalUrl`).
pub(crate) fn url_of<'a>(ctx: &'a dyn RequestContext, recv: &Value) -> UrlView<'a> {
    match recv {
        Value::Handle(Handle::OriginalUrl | Handle::OriginalQuery) => ctx.original_url(),
        _ => ctx.url(),
    }
}
