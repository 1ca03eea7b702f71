//! `Queue<T>` and `Stack<T>`: shared and mutable as in .NET (`Enqueue`/`Dequeue`,
//! `Push`/`Pop`, `Peek`, the `Try` forms, `Count`, `Contains`, `Clear`, `ToArray`), enumerated
//! in the order they give items out (a stack from its top), and charged against the memory
//! budget as they grow. Checker bindings and evaluator in one file.
//!
//! Must not: know `List<T>` or `Dictionary` (`generic.rs`); the `Try` forms report a null
//! item as absent, as certgate's `out` calls do (a queue of nulls is not something policies
//! keep).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::generic::weight;
use crate::expr::ast::{Expr, TypeName};
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::value::{Collection as C, Obj, Value};

fn call(f: QueueFn, args: Vec<Ir>) -> Ir {
    Ir::Call(Builtin::Queue(f), args)
}

/// `new Queue<T>()`, `new Stack<T>(capacity)`, `new Queue<T>(items)`; `None` for other types.
pub(crate) fn new(
    b: &mut dyn Binder,
    ty: &TypeName,
    args: &[Expr],
    off: usize,
) -> Option<CheckResult<(Ir, Ty)>> {
    let short = ty
        .name
        .strip_prefix("System.Collections.Generic.")
        .unwrap_or(&ty.name);
    let stack = match short {
        "Queue" => false,
        "Stack" => true,
        _ => return None,
    };
    Some((|| {
        let [t] = ty.args.as_slice() else {
            return type_err(
                off,
                format!("'{short}' needs its type argument, as in {short}<string>"),
            );
        };
        let elem = resolve_type(t, off)?;
        let rty = if stack {
            Ty::Stack(Box::new(elem.clone()))
        } else {
            Ty::Queue(Box::new(elem.clone()))
        };
        let made = match args {
            [] => call(QueueFn::New(stack), vec![]),
            [a] => {
                let (ir, t) = b.expr(a)?;
                match (&t, super::generic::items(ir.clone(), &t)) {
                    // A capacity changes nothing here.
                    (Ty::Int, _) => call(QueueFn::New(stack), vec![]),
                    (Ty::Array(e), _) if **e == elem || elem == Ty::Object => {
                        call(QueueFn::From(stack), vec![ir])
                    }
                    (_, Some((e, items))) if e == elem || elem == Ty::Object => {
                        call(QueueFn::From(stack), vec![items])
                    }
                    _ => {
                        return type_err(
                            a.offset,
                            format!("a {short}<{elem}> is made from a capacity or a sequence of {elem}, not '{t}'"),
                        )
                    }
                }
            }
            _ => return type_err(off, format!("'{short}' takes a capacity or its items")),
        };
        Ok((made, rty))
    })())
}

/// What a queue or stack iterates: its items in the order it gives them out.
pub(crate) fn items(recv: Ir, rty: &Ty) -> Option<(Ty, Ir)> {
    match rty {
        Ty::Queue(e) | Ty::Stack(e) => Some(((**e).clone(), call(QueueFn::Items, vec![recv]))),
        _ => None,
    }
}

/// `Count`.
pub(crate) fn member(recv: Ir, rty: &Ty, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    match name {
        "Count" => Ok((call(QueueFn::Count, vec![recv]), Ty::Int)),
        _ => unknown_member(rty, name, off),
    }
}

/// `Enqueue`/`Push`, `Dequeue`/`Pop`, `Peek`, `TryDequeue`/`TryPop`/`TryPeek`, `Contains`,
/// `Clear`, `ToArray`.
pub(crate) fn method(
    b: &mut dyn Binder,
    recv: Ir,
    rty: &Ty,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    let (stack, elem) = match rty {
        Ty::Stack(e) => (true, (**e).clone()),
        Ty::Queue(e) => (false, (**e).clone()),
        _ => return unknown_member(rty, m, off),
    };
    let (f, params, ty) = match (stack, m) {
        (false, "Enqueue") | (true, "Push") => (QueueFn::Put, vec![elem], Ty::Void),
        (false, "Dequeue") | (true, "Pop") => (QueueFn::Take, vec![], elem),
        (_, "Peek") => (QueueFn::Peek, vec![], elem),
        (_, "Contains") => (QueueFn::Contains, vec![elem], Ty::Bool),
        (_, "Clear") => (QueueFn::Clear, vec![], Ty::Void),
        (_, "ToArray") => (QueueFn::Items, vec![], Ty::Array(Box::new(elem))),
        (false, "TryDequeue") | (true, "TryPop") | (_, "TryPeek") => {
            let f = if m == "TryPeek" {
                QueueFn::TryPeek
            } else {
                QueueFn::TryTake
            };
            let [out] = args else {
                return type_err(off, format!("'{m}' takes 'out var result'"));
            };
            let default = match elem {
                Ty::Int => Value::Int(0),
                Ty::Double => Value::Double(0.0),
                Ty::Bool => Value::Bool(false),
                _ => Value::Null,
            };
            let out = b.out_arg(out, &elem)?;
            let tmp = b.temp(off)?;
            return Ok((out_call(call(f, vec![recv]), tmp, out, default), Ty::Bool));
        }
        _ => return unknown_member(rty, m, off),
    };
    let a = b.args(m, args, &params, params.len(), off)?;
    Ok((call(f, with_recv(recv, a)), ty))
}

pub(crate) fn eval(f: QueueFn, args: &[Value], env: &mut Env) -> EvalResult<Value> {
    let made = |c: C| Ok(Value::Obj(Arc::new(Obj::Collection(Mutex::new(c)))));
    match f {
        QueueFn::New(false) => return made(C::Queue(VecDeque::new())),
        QueueFn::New(true) => return made(C::Stack(Vec::new())),
        QueueFn::From(stack) => {
            let Value::Array(a) = arg(args, 0) else {
                return fail(
                    EvalErrorKind::Argument,
                    "Value cannot be null. (Parameter 'collection')",
                );
            };
            env.charge_bytes(a.iter().map(weight).sum())?;
            return if stack {
                // Pushed in order: the last item is on top.
                made(C::Stack(a.to_vec()))
            } else {
                made(C::Queue(a.iter().cloned().collect()))
            };
        }
        _ => {}
    }
    let Value::Obj(o) = arg(args, 0) else {
        return fail(EvalErrorKind::NullReference, NULL_REF);
    };
    let Obj::Collection(cell) = &**o else {
        return fail(EvalErrorKind::InvalidCast, "not a Queue or a Stack");
    };
    let mut c = cell.lock().unwrap_or_else(|e| e.into_inner());
    let x = arg(args, 1);
    let empty = |stack: bool| {
        let what = if stack { "Stack" } else { "Queue" };
        EvalError::new(EvalErrorKind::Other, format!("{what} empty."))
    };
    Ok(match (&mut *c, f) {
        (C::Queue(q), QueueFn::Count) => Value::Int(q.len() as i64),
        (C::Stack(s), QueueFn::Count) => Value::Int(s.len() as i64),
        (C::Queue(q), QueueFn::Put) => {
            env.charge_bytes(weight(x))?;
            q.push_back(x.clone());
            Value::Null
        }
        (C::Stack(s), QueueFn::Put) => {
            env.charge_bytes(weight(x))?;
            s.push(x.clone());
            Value::Null
        }
        (C::Queue(q), QueueFn::Take) => q.pop_front().ok_or_else(|| empty(false))?,
        (C::Stack(s), QueueFn::Take) => s.pop().ok_or_else(|| empty(true))?,
        (C::Queue(q), QueueFn::Peek) => q.front().cloned().ok_or_else(|| empty(false))?,
        (C::Stack(s), QueueFn::Peek) => s.last().cloned().ok_or_else(|| empty(true))?,
        (C::Queue(q), QueueFn::TryTake) => q.pop_front().unwrap_or(Value::Null),
        (C::Stack(s), QueueFn::TryTake) => s.pop().unwrap_or(Value::Null),
        (C::Queue(q), QueueFn::TryPeek) => q.front().cloned().unwrap_or(Value::Null),
        (C::Stack(s), QueueFn::TryPeek) => s.last().cloned().unwrap_or(Value::Null),
        (C::Queue(q), QueueFn::Contains) => Value::Bool(q.iter().any(|v| v.dotnet_eq(x))),
        (C::Stack(s), QueueFn::Contains) => Value::Bool(s.iter().any(|v| v.dotnet_eq(x))),
        (C::Queue(q), QueueFn::Clear) => {
            q.clear();
            Value::Null
        }
        (C::Stack(s), QueueFn::Clear) => {
            s.clear();
            Value::Null
        }
        (C::Queue(q), QueueFn::Items) => Value::Array(q.iter().cloned().collect()),
        (C::Stack(s), QueueFn::Items) => Value::Array(s.iter().rev().cloned().collect()),
        _ => return fail(EvalErrorKind::InvalidCast, "not a Queue or a Stack"),
    })
}

#[cfg(test)]
mod tests {
    use crate::expr::env::EvalErrorKind;
    use crate::expr::testing::{assert_refused, failure, s};

    #[test]
    fn queues_give_items_first_in_first_out_and_stacks_last_in_first_out() {
        for (expr, want) in [
            (
                r#"@{ var q = new Queue<string>(); q.Enqueue("a"); q.Enqueue("b"); return q.Dequeue() + q.Peek() + q.Count; }"#,
                "ab1",
            ),
            (
                r#"@{ var s = new Stack<int>(); s.Push(1); s.Push(2); return s.Pop() + "/" + s.Peek() + "/" + s.Count; }"#,
                "2/1/1",
            ),
            (
                r#"@(string.Join(",", new Stack<int>(new [] {1, 2, 3})))"#,
                "3,2,1",
            ),
            (
                r#"@(string.Join(",", new Queue<int>(new [] {1, 2, 3}).ToArray()))"#,
                "1,2,3",
            ),
            (
                r#"@(new Queue<string>(new List<string> { "x" }).Contains("x"))"#,
                "True",
            ),
            (
                r#"@{ var q = new Queue<int>(8); return q.TryDequeue(out var n) + "/" + n; }"#,
                "False/0",
            ),
            (
                r#"@{ var s = new Stack<string>(); s.Push("t"); return s.TryPeek(out var t) + t + s.TryPop(out var u) + u + s.Count; }"#,
                "TruetTruet0",
            ),
            (
                r#"@{ var q = new Queue<int>(new [] {1, 2}); q.Clear(); return q.Count; }"#,
                "0",
            ),
            (
                r#"@(new Stack<int>(new [] {1, 2}).Where(x => x > 1).Sum())"#,
                "2",
            ),
            (
                r#"@{ var n = 0; foreach (var x in new Queue<int>(new [] {4, 5})) { n = n * 10 + x; } return n; }"#,
                "45",
            ),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert_eq!(
            failure("@(new Queue<int>().Dequeue())"),
            Some(EvalErrorKind::Other)
        );
        assert_refused("@(new Stack<int>().Pop())", "Stack empty.");
        assert_refused(
            "@(new Queue<int>().Push(1))",
            "does not contain a definition for 'Push'",
        );
        assert_refused(
            "@(new Queue<int>(new [] {\"a\"}))",
            "a Queue<int> is made from",
        );
    }

    /// A queue that grows without end is stopped by the memory budget.
    #[test]
    fn a_queue_that_grows_past_the_memory_budget_is_stopped() {
        let grow = r#"@{ var q = new Stack<string>(); foreach (var i in new int[3000]) { foreach (var j in new int[3000]) { q.Push("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"); } } return q.Count; }"#;
        assert_eq!(failure(grow), Some(EvalErrorKind::MemoryBudget));
    }
}
