//! APIM's `IMessageBody.AsFormUrlEncodedContent(preserveContent)`: a form body as an
//! `IDictionary<string, IList<string>>` that policies read and change in place (`form["k"]`,
//! `Count`, `Keys`, `ContainsKey`, `Remove`, `ToFormUrlEncodedContent()`, `ToQueryString()`,
//! `JsonConvert.SerializeObject(form)`, `foreach`, LINQ), and the `IList<string>` of one name
//! (`Add`, `Count`, `[i]`, `Contains`, `IndexOf`, `Remove`, `Clear`, LINQ, `String.Join`).
//! As APIM's own example relies on, `form["new"]` is an empty list that `Add` puts into the form.
//! A list is a view of the form: what is added through it is in the form. Checker bindings and
//! evaluator in one file; the form itself is [`crate::dotnet::form::Form`].

use std::sync::{Arc, Mutex};

use crate::dotnet::form::Form;
use crate::expr::ast::Expr;
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::value::{Obj, Value};

fn call(f: FormFn, args: Vec<Ir>) -> Ir {
    Ir::Call(Builtin::Form(f), args)
}

pub(crate) const FORM: Ty = Ty::Obj(ObjKind::Form);
pub(crate) const LIST: Ty = Ty::Obj(ObjKind::FormList);

/// `form["name"]`: the name's list.
pub(crate) fn index(b: &mut dyn Binder, recv: Ir, rty: &Ty, index: &Expr) -> CheckResult<(Ir, Ty)> {
    if *rty == LIST {
        let i = b.coerce(index, &Ty::Int)?;
        return Ok((call(FormFn::ListIndex, vec![recv, i]), Ty::Str));
    }
    let key = b.coerce(index, &Ty::Str)?;
    Ok((call(FormFn::Index, vec![recv, key]), LIST))
}

/// Properties.
pub(crate) fn member(recv: Ir, rty: &Ty, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    let (f, ty) = match (rty == &FORM, name) {
        (true, "Count") => (FormFn::Count, Ty::Int),
        (true, "Keys") => (FormFn::Keys, Ty::Array(Box::new(Ty::Str))),
        (false, "Count") => (FormFn::ListCount, Ty::Int),
        _ => return unknown_member(rty, name, off),
    };
    Ok((call(f, vec![recv]), ty))
}

/// Methods.
pub(crate) fn method(
    b: &mut dyn Binder,
    recv: Ir,
    rty: &Ty,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    let (f, params, ty): (FormFn, &[Ty], Ty) = match (rty == &FORM, m) {
        (true, "ContainsKey") => (FormFn::ContainsKey, &[Ty::Str], Ty::Bool),
        (true, "Remove") => (FormFn::Remove, &[Ty::Str], Ty::Bool),
        (true, "ToFormUrlEncodedContent") => (FormFn::Encode, &[], Ty::Str),
        (true, "ToQueryString") => (FormFn::QueryString, &[], Ty::Str),
        (false, "Add") => (FormFn::ListAdd, &[Ty::Str], Ty::Void),
        (false, "Contains") => (FormFn::ListContains, &[Ty::Str], Ty::Bool),
        (false, "IndexOf") => (FormFn::ListIndexOf, &[Ty::Str], Ty::Int),
        (false, "Remove") => (FormFn::ListRemove, &[Ty::Str], Ty::Bool),
        (false, "Clear") => (FormFn::ListClear, &[], Ty::Void),
        _ => return unknown_member(rty, m, off),
    };
    let a = b.args(m, args, params, params.len(), off)?;
    Ok((call(f, with_recv(recv, a)), ty))
}

/// What iterating a form or a list gives: the element type and the items (a snapshot).
pub(crate) fn items(recv: Ir, rty: &Ty) -> Option<(Ty, Ir)> {
    if *rty == FORM {
        return Some((
            Ty::Pair(Box::new(Ty::Str), Box::new(LIST)),
            call(FormFn::Items, vec![recv]),
        ));
    }
    (*rty == LIST).then(|| (Ty::Str, call(FormFn::ListItems, vec![recv])))
}

/// A new form value from a body.
pub(crate) fn from_body(body: &[u8], env: &mut Env) -> EvalResult<Value> {
    env.charge_bytes(body.len())?;
    Ok(Value::Obj(Arc::new(Obj::Form(Mutex::new(Form::parse(
        body,
    ))))))
}

fn list(form: &Arc<Obj>, key: Arc<str>) -> Value {
    Value::Obj(Arc::new(Obj::FormList {
        form: form.clone(),
        key,
    }))
}

pub(crate) fn eval(f: FormFn, args: &[Value], env: &mut Env) -> EvalResult<Value> {
    let Value::Obj(o) = arg(args, 0) else {
        return fail(EvalErrorKind::NullReference, NULL_REF);
    };
    // The form, and for a list its name.
    let (form_obj, key) = match &**o {
        Obj::Form(_) => (o, None),
        Obj::FormList { form, key } => (form, Some(key.clone())),
        _ => return fail(EvalErrorKind::InvalidCast, "not a form"),
    };
    let Obj::Form(cell) = &**form_obj else {
        return fail(EvalErrorKind::InvalidCast, "not a form");
    };
    // A panic while the lock was held leaves a whole form: keep going.
    let mut form = cell.lock().unwrap_or_else(|e| e.into_inner());
    let key = key.unwrap_or_default();
    let s = |v: &str| Value::Str(v.into());
    Ok(match f {
        FormFn::Index => list(form_obj, opt_s(args, 1).unwrap_or_default().into()),
        FormFn::Count => Value::Int(form.len() as i64),
        FormFn::Keys => Value::Array(form.keys().map(s).collect::<Vec<_>>().into()),
        FormFn::ContainsKey => Value::Bool(form.values(s_arg(args, 1)?).is_some()),
        FormFn::Remove => Value::Bool(form.remove(s_arg(args, 1)?)),
        FormFn::Encode | FormFn::QueryString => {
            let text = form.encode();
            env.check_len(text.len() + 1)?;
            match f {
                FormFn::QueryString if text.is_empty() => Value::Null,
                FormFn::QueryString => Value::Str(format!("?{text}").into()),
                _ => Value::Str(text.into()),
            }
        }
        FormFn::Items => {
            let keys: Vec<Arc<str>> = form.keys().map(Arc::from).collect();
            Value::Array(
                keys.into_iter()
                    .map(|k| Value::Pair(Arc::new((Value::Str(k.clone()), list(form_obj, k)))))
                    .collect::<Vec<_>>()
                    .into(),
            )
        }
        FormFn::ListItems => Value::Array(
            form.values(&key)
                .unwrap_or_default()
                .iter()
                .map(|v| s(v))
                .collect::<Vec<_>>()
                .into(),
        ),
        FormFn::ListCount => Value::Int(form.values(&key).map_or(0, <[String]>::len) as i64),
        FormFn::ListIndex => {
            let i = i_arg(args, 1)?;
            let values = form.values(&key).unwrap_or_default();
            match usize::try_from(i).ok().and_then(|i| values.get(i)) {
                Some(v) => s(v),
                None => {
                    return fail(
                        EvalErrorKind::OutOfRange,
                        "Index was out of range. Must be non-negative and less than the size of the collection. (Parameter 'index')",
                    )
                }
            }
        }
        FormFn::ListAdd => {
            let v = opt_s(args, 1).unwrap_or_default().to_string();
            env.charge_bytes(v.len() + key.len())?;
            env.check_len(form.weight() + v.len())?;
            form.values_mut(&key).push(v);
            Value::Null
        }
        FormFn::ListContains => {
            let v = s_arg(args, 1)?;
            Value::Bool(
                form.values(&key)
                    .is_some_and(|vs| vs.iter().any(|x| x == v)),
            )
        }
        FormFn::ListIndexOf => {
            let v = s_arg(args, 1)?;
            let at = form
                .values(&key)
                .and_then(|vs| vs.iter().position(|x| x == v));
            Value::Int(at.map_or(-1, |i| i as i64))
        }
        FormFn::ListRemove => {
            let v = s_arg(args, 1)?;
            let values = form.values_mut(&key);
            match values.iter().position(|x| x == v) {
                Some(i) => {
                    values.remove(i);
                    Value::Bool(true)
                }
                None => Value::Bool(false),
            }
        }
        FormFn::ListClear => {
            form.values_mut(&key).clear();
            Value::Null
        }
    })
}

#[cfg(test)]
mod tests {
    use crate::context::SimpleContext;
    use crate::expr::testing::{assert_refused, show};

    fn form_request() -> SimpleContext {
        let mut ctx = SimpleContext::new("POST", "/token")
            .with_header("Content-Type", "application/x-www-form-urlencoded");
        ctx.request_body = Some(b"grant_type=client_credentials&scope=a+b&scope=c".to_vec());
        ctx
    }

    #[test]
    fn form_bodies_are_read_and_changed_as_apim_does() {
        for (expr, want) in [
            // APIM's own example.
            (
                "@{ var body = context.Request.Body.AsFormUrlEncodedContent(); body[\"newKey\"].Add(\"newValue\"); return body.ToFormUrlEncodedContent(); }",
                "grant_type=client_credentials&scope=a+b&scope=c&newKey=newValue",
            ),
            ("@(context.Request.Body.AsFormUrlEncodedContent(true)[\"scope\"][0])", "a b"),
            ("@(context.Request.Body.AsFormUrlEncodedContent(preserveContent: true)[\"scope\"].Count)", "2"),
            ("@(context.Request.Body.AsFormUrlEncodedContent(true).Count)", "2"),
            ("@(String.Join(\",\", context.Request.Body.AsFormUrlEncodedContent(true)[\"scope\"]))", "a b,c"),
            ("@(context.Request.Body.AsFormUrlEncodedContent(true)[\"scope\"].FirstOrDefault())", "a b"),
            ("@(context.Request.Body.AsFormUrlEncodedContent(true)[\"scope\"].Any(s => s == \"c\"))", "True"),
            ("@(context.Request.Body.AsFormUrlEncodedContent(true).ContainsKey(\"grant_type\"))", "True"),
            ("@(String.Join(\"|\", context.Request.Body.AsFormUrlEncodedContent(true).Keys))", "grant_type|scope"),
            ("@(JsonConvert.SerializeObject(context.Request.Body.AsFormUrlEncodedContent(true)))", "{\"grant_type\":[\"client_credentials\"],\"scope\":[\"a b\",\"c\"]}"),
            ("@{ var f = context.Request.Body.AsFormUrlEncodedContent(true); f.Remove(\"scope\"); return f.ToQueryString(); }", "?grant_type=client_credentials"),
            ("@{ var f = context.Request.Body.AsFormUrlEncodedContent(true); var n = 0; foreach (var kv in f) { n += kv.Value.Count; } return n; }", "3"),
            ("@{ var f = context.Request.Body.AsFormUrlEncodedContent(true); var l = f[\"scope\"]; l.Remove(\"c\"); l.Add(\"d\"); return f.ToFormUrlEncodedContent(); }", "grant_type=client_credentials&scope=a+b&scope=d"),
            ("@{ var f = context.Request.Body.AsFormUrlEncodedContent(true); f[\"scope\"].Clear(); return f[\"scope\"].IndexOf(\"c\"); }", "-1"),
            ("@{ var f = context.Request.Body.AsFormUrlEncodedContent(true); f.Remove(\"scope\"); f.Remove(\"grant_type\"); return f.ToQueryString() == null; }", "True"),
            // Without preserveContent the body is consumed: a second read fails.
            ("@{ context.Request.Body.AsFormUrlEncodedContent(); return context.Request.Body.As<string>(); }", "ERR The request body was already read; read it with preserveContent: true to read it again."),
        ] {
            // Each on a request of its own: a read without preserveContent consumes the body.
            assert_eq!(show(expr, &form_request()), want, "{expr}");
        }
        assert_eq!(
            show(
                "@(context.Request.Body.AsFormUrlEncodedContent(true)[\"scope\"][5])",
                &form_request()
            ),
            "ERR Index was out of range. Must be non-negative and less than the size of the collection. (Parameter 'index')"
        );
        assert_refused(
            "@(context.Request.Body.AsFormUrlEncodedContent(keep: true))",
            "no parameter named 'keep'",
        );
    }
}
