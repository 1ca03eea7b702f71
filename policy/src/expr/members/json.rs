//! Newtonsoft.Json as APIM allows it: `JObject`/`JArray`/`JToken.Parse`, `JToken.FromObject`,
//! `JsonConvert.DeserializeObject[<T>]`, `new JObject(...)`, `new JArray(...)`, `new
//! JProperty(name, value)`, the indexers (read and write: `body["a"] = "x"`), the explicit
//! conversions (`(string)token`, `(int)token`, ...) and `Value<T>()`, `Count`, `Type`,
//! `HasValues`, `ContainsKey`, `Remove`, `Add`, `Property`, `Properties()`, `SelectToken`,
//! `DeepClone`, `ToString([Formatting])`, `JProperty.Name`/`Value`, iteration and LINQ (an
//! object's `KeyValuePair`s, an array's tokens), `JTokenType` and `Formatting`. Checker bindings
//! and evaluator in one file; the document model is `dotnet::json`'s.

use std::sync::Arc;

use serde_json::Value as J;

use crate::dotnet::json::{as_string, type_of, weight, JsonError, Token, TokenType};
use crate::expr::ast::{Expr, TypeName};
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::value::{Obj, Value};

fn json(f: JsonFn, args: Vec<Ir>) -> Ir {
    Ir::Call(Builtin::Json(f), args)
}

fn tok(k: JsonKind) -> Ty {
    Ty::Obj(ObjKind::Json(k))
}

/// `JTokenType.X`: the names `Type` gives.
pub(crate) fn token_type_member(name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    const NAMES: [&str; 18] = [
        "None",
        "Object",
        "Array",
        "Constructor",
        "Property",
        "Comment",
        "Integer",
        "Float",
        "String",
        "Boolean",
        "Null",
        "Undefined",
        "Date",
        "Raw",
        "Bytes",
        "Guid",
        "Uri",
        "TimeSpan",
    ];
    match NAMES.iter().find(|n| **n == name) {
        Some(n) => Ok((Ir::Const(Value::str(n)), Ty::Str)),
        None => type_err(
            off,
            format!("'JTokenType' does not contain a definition for '{name}'"),
        ),
    }
}

/// `Formatting.None` (0), `Formatting.Indented` (1).
pub(crate) fn formatting_member(name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    match name {
        "None" => Ok((Ir::Const(Value::Int(0)), Ty::Int)),
        "Indented" => Ok((Ir::Const(Value::Int(1)), Ty::Int)),
        _ => type_err(
            off,
            format!("'Formatting' does not contain a definition for '{name}'"),
        ),
    }
}

/// The class a name designates (`JObject`, `Newtonsoft.Json.Linq.JArray`, ...).
pub(crate) fn class(name: &str) -> Option<JsonKind> {
    json_class(name)
}

/// Whether token `t` is of class `k` (for casts and `is`).
pub(crate) fn fits(t: &Token, k: JsonKind) -> bool {
    let ty = t.token_type();
    match k {
        JsonKind::Token => true,
        JsonKind::Object => ty == TokenType::Object,
        JsonKind::Array => ty == TokenType::Array,
        JsonKind::Property => ty == TokenType::Property,
        JsonKind::Value => !matches!(
            ty,
            TokenType::Object | TokenType::Array | TokenType::Property
        ),
    }
}

/// The implicit conversion of a value to a token (`obj["a"] = "x"`, `new JProperty("a", 1)`):
/// strings, numbers, booleans, null, dates and tokens.
pub(crate) fn to_token(b: &mut dyn Binder, e: &Expr) -> CheckResult<Ir> {
    let (ir, ty) = b.expr(e)?;
    match ty {
        Ty::Obj(ObjKind::Json(_)) => Ok(ir),
        Ty::Str
        | Ty::Int
        | Ty::Double
        | Ty::Bool
        | Ty::Char
        | Ty::Null
        | Ty::DateTime
        | Ty::TimeSpan
        | Ty::Object
        | Ty::Array(_)
        | Ty::Bytes => Ok(json(JsonFn::FromValue, vec![ir])),
        t => type_err(e.offset, format!("cannot convert '{t}' to a JToken")),
    }
}

/// `(string)token`, `(int)token`, `(double)token`, `(bool)token`, `(DateTime)token`: `None`
/// when `to` is not one of them.
pub(crate) fn conversion(ir: Ir, to: &Ty) -> Option<Ir> {
    let c = match to {
        Ty::Str => CastTo::Str,
        Ty::Int => CastTo::Int,
        Ty::Double => CastTo::Double,
        Ty::Bool => CastTo::Bool,
        Ty::DateTime => CastTo::DateTime,
        _ => return None,
    };
    Some(json(JsonFn::To(c), vec![ir]))
}

/// `JObject.Parse(s)`, `JArray.Parse(s)`, `JToken.Parse(s)`, `JToken.FromObject(v)`.
pub(crate) fn static_method(
    b: &mut dyn Binder,
    k: JsonKind,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    match m {
        "Parse" if k != JsonKind::Property => {
            let a = b.args(m, args, &[Ty::Str], 1, off)?;
            Ok((json(JsonFn::Parse(k), a), tok(k)))
        }
        "FromObject" => {
            let [v] = args else {
                return type_err(off, "'FromObject' takes 1 argument");
            };
            Ok((to_token(b, v)?, tok(k)))
        }
        _ => unknown_member(&Ty::Static(Static::Json(k)), m, off),
    }
}

/// `JsonConvert.DeserializeObject(s)` (a token, as `object`) and `DeserializeObject<T>(s)` for
/// the token classes.
pub(crate) fn deserialize(
    b: &mut dyn Binder,
    type_args: &[TypeName],
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    let a = b.args("DeserializeObject", args, &[Ty::Str], 1, off)?;
    match type_args {
        [] => Ok((json(JsonFn::Parse(JsonKind::Token), a), Ty::Object)),
        [t] => match class(&t.name) {
            Some(k) => Ok((json(JsonFn::Parse(k), a), tok(k))),
            None => type_err(
                off,
                format!(
                    "'JsonConvert.DeserializeObject' into '{}' is not supported by certgate; deserialize to JObject, JArray, JToken, List<T>, HashSet<T> or Dictionary<string, T>",
                    t.name
                ),
            ),
        },
        _ => type_err(off, "'DeserializeObject' takes one type argument"),
    }
}

/// `new JObject(...)`, `new JArray(...)`, `new JProperty(name, value)`, `new JValue(v)`.
pub(crate) fn new(
    b: &mut dyn Binder,
    k: JsonKind,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    let items = |b: &mut dyn Binder| {
        args.iter()
            .map(|a| to_token(b, a))
            .collect::<CheckResult<Vec<_>>>()
    };
    match k {
        JsonKind::Object => Ok((json(JsonFn::NewObject, items(b)?), tok(k))),
        JsonKind::Array => Ok((json(JsonFn::NewArray, items(b)?), tok(k))),
        JsonKind::Property => {
            let [name, value] = args else {
                return type_err(off, "'new JProperty' takes a name and a value");
            };
            let name = b.coerce(name, &Ty::Str)?;
            let value = to_token(b, value)?;
            Ok((json(JsonFn::NewProperty, vec![name, value]), tok(k)))
        }
        JsonKind::Value => {
            let [v] = args else {
                return type_err(off, "'new JValue' takes 1 argument");
            };
            Ok((to_token(b, v)?, tok(k)))
        }
        JsonKind::Token => type_err(
            off,
            "cannot create an instance of the abstract type 'JToken'",
        ),
    }
}

/// `Count`, `Type`, `HasValues`, `JProperty.Name`, `JProperty.Value`.
pub(crate) fn member(recv: Ir, k: JsonKind, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    let (f, ty) = match (k, name) {
        (JsonKind::Token | JsonKind::Object | JsonKind::Array, "Count") => (JsonFn::Count, Ty::Int),
        (_, "Type") => (JsonFn::Type, Ty::Str),
        (_, "HasValues") => (JsonFn::HasValues, Ty::Bool),
        (JsonKind::Property | JsonKind::Token, "Name") => (JsonFn::Name, Ty::Str),
        (JsonKind::Property, "Value") => (JsonFn::PropertyValue, tok(JsonKind::Token)),
        _ => return unknown_member(&tok(k), name, off),
    };
    Ok((json(f, vec![recv]), ty))
}

/// The methods of tokens.
pub(crate) fn method(
    b: &mut dyn Binder,
    recv: Ir,
    k: JsonKind,
    m: &str,
    type_args: &[TypeName],
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    let call = |f: JsonFn, a: Vec<Ir>, ty: Ty| Ok((json(f, with_recv(recv.clone(), a)), ty));
    let object = matches!(k, JsonKind::Object | JsonKind::Token);
    match m {
        "ToString" => {
            let a = b.args(m, args, &[Ty::Int], 0, off)?;
            call(JsonFn::Text, a, Ty::Str)
        }
        "Value" => {
            let ty = match type_args {
                [t] => resolve_type(t, off)?,
                _ => {
                    return type_err(
                        off,
                        "'Value' takes a type argument, such as Value<string>(\"name\")",
                    )
                }
            };
            let Some(to) = conversion(Ir::Const(Value::Null), &ty).and(CastTo::of(&ty)) else {
                return type_err(off, format!("'Value<{ty}>' is not supported by certgate; use string, int, double, bool or DateTime"));
            };
            let key = match args {
                [] => None,
                [key] => Some(b.expr(key)?),
                _ => return type_err(off, "'Value' takes at most the key"),
            };
            let target = match key {
                Some((ir, Ty::Str | Ty::Int)) => json(JsonFn::Index, vec![recv, ir]),
                Some((_, t)) => {
                    return type_err(
                        off,
                        format!("a token is indexed by name or number, not '{t}'"),
                    )
                }
                None => recv,
            };
            Ok((json(JsonFn::To(to), vec![target]), ty))
        }
        "ContainsKey" if object => {
            let a = b.args(m, args, &[Ty::Str], 1, off)?;
            call(JsonFn::ContainsKey, a, Ty::Bool)
        }
        "Remove" if object => {
            let a = b.args(m, args, &[Ty::Str], 1, off)?;
            call(JsonFn::Remove, a, Ty::Bool)
        }
        "Property" if object => {
            let a = b.args(m, args, &[Ty::Str, COMPARISON], 1, off)?;
            call(JsonFn::Property, a, tok(JsonKind::Property))
        }
        "GetValue" if object => {
            let a = b.args(m, args, &[Ty::Str, COMPARISON], 1, off)?;
            call(JsonFn::Index, a, tok(JsonKind::Token))
        }
        "TryGetValue" if object => input_and_out(
            b,
            m,
            args,
            &Ty::Str,
            &tok(JsonKind::Token),
            Value::Null,
            "the name and 'out JToken value'",
            |key| json(JsonFn::Index, vec![recv, key]),
            off,
        ),
        "Properties" if object => {
            b.args(m, args, &[], 0, off)?;
            call(
                JsonFn::Properties,
                vec![],
                Ty::Array(Box::new(tok(JsonKind::Property))),
            )
        }
        "Children" | "Values" if args.is_empty() => call(
            JsonFn::Items,
            vec![],
            Ty::Array(Box::new(tok(JsonKind::Token))),
        ),
        "Add" => {
            let a = match (k, args) {
                (JsonKind::Object | JsonKind::Token, [name, value]) => {
                    vec![b.coerce(name, &Ty::Str)?, to_token(b, value)?]
                }
                (_, [value]) => vec![to_token(b, value)?],
                _ => {
                    return type_err(
                        off,
                        "'Add' takes a value (JArray), or a name and a value (JObject)",
                    )
                }
            };
            call(JsonFn::Add, a, Ty::Void)
        }
        "Merge" => {
            let [content] = args else {
                return type_err(
                    off,
                    "'Merge' takes the content (JsonMergeSettings are not supported by certgate)",
                );
            };
            let c = to_token(b, content)?;
            call(JsonFn::Merge, vec![c], Ty::Void)
        }
        "SelectToken" => {
            let a = b.args(m, args, &[Ty::Str], 1, off)?;
            call(JsonFn::SelectToken, a, tok(JsonKind::Token))
        }
        "DeepClone" => {
            b.args(m, args, &[], 0, off)?;
            call(JsonFn::DeepClone, vec![], tok(k))
        }
        _ => unknown_member(&tok(k), m, off),
    }
}

/// `token["name"]`, `array[0]`.
pub(crate) fn index(b: &mut dyn Binder, recv: Ir, index: &Expr) -> CheckResult<(Ir, Ty)> {
    let (key, ty) = b.expr(index)?;
    if !matches!(ty, Ty::Str | Ty::Int) {
        return type_err(
            index.offset,
            format!("a token is indexed by name or number, not '{ty}'"),
        );
    }
    Ok((json(JsonFn::Index, vec![recv, key]), tok(JsonKind::Token)))
}

/// `token["name"] = value`, `array[0] = value`: the value, as an assignment gives.
pub(crate) fn set_index(
    b: &mut dyn Binder,
    recv: Ir,
    index: &Expr,
    value: &Expr,
) -> CheckResult<(Ir, Ty)> {
    let (key, ty) = b.expr(index)?;
    if !matches!(ty, Ty::Str | Ty::Int) {
        return type_err(
            index.offset,
            format!("a token is indexed by name or number, not '{ty}'"),
        );
    }
    let v = to_token(b, value)?;
    Ok((
        json(JsonFn::SetIndex, vec![recv, key, v]),
        tok(JsonKind::Token),
    ))
}

/// The element type and the items of what iterating a token gives.
pub(crate) fn items(recv: Ir, k: JsonKind) -> (Ty, Ir) {
    let elem = match k {
        JsonKind::Object => Ty::Pair(Box::new(Ty::Str), Box::new(tok(JsonKind::Token))),
        _ => tok(JsonKind::Token),
    };
    (elem, json(JsonFn::Items, vec![recv]))
}

pub(crate) fn err(e: JsonError) -> EvalError {
    match e {
        JsonError::Reader(m) => EvalError::new(EvalErrorKind::Format, m),
        JsonError::Invalid(m) => EvalError::new(EvalErrorKind::InvalidCast, m),
        JsonError::OutOfRange(m) => EvalError::new(EvalErrorKind::OutOfRange, m),
    }
}

pub(crate) fn token(t: Token) -> Value {
    Value::Obj(Arc::new(Obj::Json(t)))
}

/// The token an argument holds (`NullReferenceException` for null).
fn token_arg(args: &[Value], i: usize) -> EvalResult<&Token> {
    match arg(args, i) {
        Value::Obj(o) => match &**o {
            Obj::Json(t) => Ok(t),
            _ => fail(EvalErrorKind::InvalidCast, "not a JToken"),
        },
        _ => fail(EvalErrorKind::NullReference, NULL_REF),
    }
}

/// A value as JSON (what a token built from it holds).
fn to_j(v: &Value) -> J {
    v.to_json()
}

pub(crate) fn eval(f: JsonFn, args: &[Value], env: &mut Env) -> EvalResult<Value> {
    Ok(match f {
        JsonFn::Parse(k) => {
            let Some(s) = opt_s(args, 0) else {
                return fail(
                    EvalErrorKind::Argument,
                    "Value cannot be null. (Parameter 'json')",
                );
            };
            let want = match k {
                JsonKind::Object => Some(TokenType::Object),
                JsonKind::Array => Some(TokenType::Array),
                _ => None,
            };
            // Parsing is linear in the text; the text is a value the budget admitted.
            env.step()?;
            token(Token::parse(s, want).map_err(err)?)
        }
        JsonFn::FromValue => match arg(args, 0) {
            v @ Value::Obj(o) if matches!(**o, Obj::Json(_)) => v.clone(),
            v => {
                let j = to_j(v);
                env.charge_bytes(weight(&j))?;
                token(Token::new(j))
            }
        },
        JsonFn::NewObject => {
            let mut m = serde_json::Map::new();
            for (i, v) in args.iter().enumerate() {
                let t = token_arg(args, i)?;
                match t.name() {
                    Some(n) => {
                        m.insert(n.to_string(), t.value());
                    }
                    None => {
                        return fail(
                            EvalErrorKind::Argument,
                            format!(
                                "Can not add {} to Newtonsoft.Json.Linq.JObject.",
                                v.type_name()
                            ),
                        )
                    }
                }
            }
            let j = J::Object(m);
            env.charge_bytes(weight(&j))?;
            token(Token::new(j))
        }
        JsonFn::NewArray => {
            let mut items = Vec::with_capacity(args.len());
            for i in 0..args.len() {
                items.push(token_arg(args, i)?.value());
            }
            let j = J::Array(items);
            env.charge_bytes(weight(&j))?;
            token(Token::new(j))
        }
        JsonFn::NewProperty => {
            let name = s_arg(args, 0)?;
            let v = token_arg(args, 1)?.value();
            let holder = Token::new(serde_json::json!({ name: v }));
            match holder.children().into_iter().next() {
                Some(p) => token(p),
                None => return fail(EvalErrorKind::Other, "property lost"),
            }
        }
        JsonFn::Index => {
            let t = token_arg(args, 0)?;
            let r = match arg(args, 1) {
                Value::Str(k) => t.get_key(k).map_err(err)?,
                Value::Int(i) => Some(t.get_index(*i).map_err(err)?),
                _ => {
                    return fail(
                        EvalErrorKind::Argument,
                        "Value cannot be null. (Parameter 'key')",
                    )
                }
            };
            r.map_or(Value::Null, token)
        }
        JsonFn::SetIndex => {
            let t = token_arg(args, 0)?;
            let v = match arg(args, 2) {
                Value::Null => J::Null,
                _ => token_arg(args, 2)?.value(),
            };
            // Copies go into the document: `a[0] = a` doubles it, so every copy is charged.
            env.charge_bytes(weight(&v))?;
            match arg(args, 1) {
                Value::Str(k) => t.set_key(k, v, false).map_err(err)?,
                Value::Int(i) => t.set_index(*i, v).map_err(err)?,
                _ => {
                    return fail(
                        EvalErrorKind::Argument,
                        "Value cannot be null. (Parameter 'key')",
                    )
                }
            }
            arg(args, 2).clone()
        }
        JsonFn::To(to) => match arg(args, 0) {
            Value::Null => Value::Null,
            _ => convert(token_arg(args, 0)?, to)?,
        },
        JsonFn::Count => Value::Int(token_arg(args, 0)?.count().map_err(err)? as i64),
        JsonFn::Type => Value::str(token_arg(args, 0)?.token_type().name()),
        JsonFn::HasValues => Value::Bool(token_arg(args, 0)?.count().is_ok_and(|n| n > 0)),
        JsonFn::Name => match token_arg(args, 0)?.name() {
            Some(n) => Value::Str(n),
            None => return fail(EvalErrorKind::InvalidCast, "the token is not a JProperty"),
        },
        JsonFn::PropertyValue => token(token_arg(args, 0)?.property_value()),
        JsonFn::ContainsKey => Value::Bool(
            token_arg(args, 0)?
                .get_key(s_arg(args, 1)?)
                .map_err(err)?
                .is_some(),
        ),
        JsonFn::Remove => Value::Bool(token_arg(args, 0)?.remove(s_arg(args, 1)?).map_err(err)?),
        JsonFn::Property => {
            let t = token_arg(args, 0)?;
            let name = s_arg(args, 1)?;
            t.children()
                .into_iter()
                .find(|p| p.name().as_deref() == Some(name))
                .map_or(Value::Null, token)
        }
        JsonFn::Properties => {
            let t = token_arg(args, 0)?;
            if t.token_type() != TokenType::Object {
                return fail(EvalErrorKind::InvalidCast, "Properties() needs a JObject");
            }
            Value::Array(t.children().into_iter().map(token).collect())
        }
        JsonFn::Items => {
            let t = token_arg(args, 0)?;
            let object = t.token_type() == TokenType::Object;
            let items = t.children();
            if items.len() > env.max_items() {
                return over_budget(format!(
                    "a collection of {} items (at most {})",
                    items.len(),
                    env.max_items()
                ));
            }
            Value::Array(
                items
                    .into_iter()
                    .map(|c| match (object, c.name()) {
                        (true, Some(n)) => {
                            Value::Pair(Arc::new((Value::Str(n), token(c.property_value()))))
                        }
                        _ => token(c),
                    })
                    .collect(),
            )
        }
        JsonFn::Add => {
            let t = token_arg(args, 0)?;
            if args.len() == 3 {
                let v = token_arg(args, 2)?.value();
                env.charge_bytes(weight(&v))?;
                t.set_key(s_arg(args, 1)?, v, true).map_err(err)?;
            } else {
                let v = token_arg(args, 1)?;
                let (name, j) = (v.name(), v.value());
                env.charge_bytes(weight(&j))?;
                match (t.token_type(), name) {
                    // A JObject takes a JProperty.
                    (TokenType::Object, Some(n)) => t.set_key(&n, j, true).map_err(err)?,
                    _ => t.push(j).map_err(err)?,
                }
            }
            Value::Null
        }
        JsonFn::Merge => {
            let t = token_arg(args, 0)?;
            let content = match arg(args, 1) {
                Value::Null => return Ok(Value::Null),
                _ => token_arg(args, 1)?.value(),
            };
            env.charge_bytes(weight(&content))?;
            env.step()?;
            t.merge(&content).map_err(err)?;
            Value::Null
        }
        JsonFn::SelectToken => token_arg(args, 0)?
            .select(s_arg(args, 1)?)
            .map_err(err)?
            .map_or(Value::Null, token),
        JsonFn::DeepClone => {
            let v = token_arg(args, 0)?.value();
            env.charge_bytes(weight(&v))?;
            token(Token::new(v))
        }
        JsonFn::Text => {
            let t = token_arg(args, 0)?;
            // Formatting.None is 0, Formatting.Indented 1; ToString() indents.
            let indented = args.len() < 2 || int(arg(args, 1)) != Some(0);
            let s = t.text(indented);
            env.check_len(s.len())?;
            Value::Str(s.into())
        }
    })
}

/// `(string)token` and the other explicit conversions, as Newtonsoft makes them.
pub(crate) fn convert(t: &Token, to: CastTo) -> EvalResult<Value> {
    let v = t.property_value().value();
    let bad = || {
        EvalError::new(
            EvalErrorKind::InvalidCast,
            format!("Can not convert {} to {to:?}.", type_of(&v).name()),
        )
    };
    Ok(match to {
        CastTo::Str => as_string(&v)
            .map_err(err)?
            .map_or(Value::Null, |s| Value::Str(s.into())),
        CastTo::Int => match &v {
            J::Number(n) => Value::Int(
                n.as_i64()
                    .or_else(|| n.as_f64().map(|f| f.round() as i64))
                    .ok_or_else(bad)?,
            ),
            J::String(s) => Value::Int(s.trim().parse().map_err(|_| bad())?),
            J::Bool(b) => Value::Int(i64::from(*b)),
            _ => return Err(bad()),
        },
        CastTo::Double => match &v {
            J::Number(n) => Value::Double(n.as_f64().ok_or_else(bad)?),
            J::String(s) => Value::Double(s.trim().parse().map_err(|_| bad())?),
            _ => return Err(bad()),
        },
        CastTo::Bool => match &v {
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => Value::Bool(n.as_f64() != Some(0.0)),
            J::String(s) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
            J::String(s) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => return Err(bad()),
        },
        CastTo::DateTime => match &v {
            J::String(s) => match crate::dotnet::DateTime::parse_iso(s) {
                Some(d) => Value::DateTime(d),
                None => return Err(bad()),
            },
            _ => return Err(bad()),
        },
        _ => return Err(bad()),
    })
}

#[cfg(test)]
mod tests {
    use crate::expr::testing::{failure, s};
    use crate::expr::EvalErrorKind;

    /// What APIM's documentation and public policy snippets do with JSON.
    /// `Merge` with Newtonsoft's defaults: members added, containers merged, arrays
    /// concatenated, nulls ignored, other content ignored.
    #[test]
    fn merge_as_newtonsoft() {
        use crate::expr::testing::s;
        for (expr, want) in [
            (
                r#"@{ var a = JObject.Parse("{\"x\":1,\"o\":{\"p\":1},\"l\":[1],\"n\":2}"); a.Merge(JObject.Parse("{\"y\":2,\"o\":{\"q\":2},\"l\":[2],\"n\":null,\"x\":3}")); return a.ToString(Formatting.None); }"#,
                r#"{"x":3,"o":{"p":1,"q":2},"l":[1,2],"n":2,"y":2}"#,
            ),
            (
                r#"@{ var a = JArray.Parse("[1]"); a.Merge(JArray.Parse("[1,2]")); return a.ToString(Formatting.None); }"#,
                "[1,1,2]",
            ),
            (
                r#"@{ var a = JObject.Parse("{\"a\":1}"); a.Merge(JArray.Parse("[1]")); a.Merge(null); return a.ToString(Formatting.None); }"#,
                r#"{"a":1}"#,
            ),
            (
                r#"@{ var a = JObject.Parse("{\"a\":{\"b\":1}}"); ((JObject)a["a"]).Merge(JObject.Parse("{\"c\":2}")); return a.ToString(Formatting.None); }"#,
                r#"{"a":{"b":1,"c":2}}"#,
            ),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
    }

    #[test]
    fn read_build_and_change_documents() {
        for (expr, want) in [
            (
                r#"@((string)JObject.Parse("{\"a\":{\"b\":\"x\"}}")["a"]["b"])"#,
                "x",
            ),
            (r#"@((int)JObject.Parse("{\"n\":42}")["n"] + 1)"#, "43"),
            (r#"@((bool)JToken.Parse("true"))"#, "True"),
            (r#"@((double)JToken.Parse("2.5") * 2)"#, "5"),
            (r#"@(JObject.Parse("{\"a\":1}")["none"] == null)"#, "True"),
            (
                r#"@(JObject.Parse("{\"a\":1}")["none"]?.ToString() ?? "-")"#,
                "-",
            ),
            (r#"@(JObject.Parse("{\"a\":\"s\"}")["a"].ToString())"#, "s"),
            (
                r#"@(JObject.Parse("{\"a\":[1,2]}").ToString())"#,
                "{\n  \"a\": [\n    1,\n    2\n  ]\n}",
            ),
            (
                r#"@(JObject.Parse("{\"a\":[1,2]}").ToString(Formatting.None))"#,
                r#"{"a":[1,2]}"#,
            ),
            (
                r#"@(JObject.Parse("{\"a\":[1,2]}").Value<int>("a") )"#,
                "ERR",
            ),
            (r#"@(JObject.Parse("{\"a\":\"7\"}").Value<int>("a"))"#, "7"),
            (r#"@(JArray.Parse("[1,2,3]").Count)"#, "3"),
            (r#"@((int)JArray.Parse("[1,2,3]")[2])"#, "3"),
            (
                r#"@(JArray.Parse("[{\"id\":1},{\"id\":2}]").Select(x => (int)x["id"]).Last())"#,
                "2",
            ),
            (r#"@(JArray.Parse("[1,2,3]").Any(x => (int)x > 2))"#, "True"),
            (
                r#"@(JObject.Parse("{\"a\":1,\"b\":2}").Properties().Select(p => p.Name).Last())"#,
                "b",
            ),
            (
                r#"@{ var n = 0; foreach (var kv in JObject.Parse("{\"a\":1,\"b\":2}")) { n += (int)kv.Value; } return n; }"#,
                "3",
            ),
            (
                r#"@{ var body = JObject.Parse("{\"a\":1}"); body["b"] = "x"; body["a"]["c"] = 1; return body.ToString(Formatting.None); }"#,
                "ERR",
            ),
            (
                r#"@{ var body = JObject.Parse("{\"a\":{}}"); body["b"] = "x"; body["a"]["c"] = true; body.Remove("b"); return body.ToString(Formatting.None); }"#,
                r#"{"a":{"c":true}}"#,
            ),
            (
                r#"@{ var a = new JArray(); a.Add(1); a.Add("x"); a.Add(new JObject(new JProperty("k", 2.5))); return JsonConvert.SerializeObject(a); }"#,
                r#"[1,"x",{"k":2.5}]"#,
            ),
            (
                r#"@(new JObject(new JProperty("typ", "JWT"), new JProperty("alg", "HS256")).ToString(Formatting.None))"#,
                r#"{"typ":"JWT","alg":"HS256"}"#,
            ),
            (
                r#"@((string)JsonConvert.DeserializeObject<JObject>("{\"a\":\"b\"}")["a"])"#,
                "b",
            ),
            (
                r#"@(((JObject)JsonConvert.DeserializeObject("{\"a\":1}")).ContainsKey("a"))"#,
                "True",
            ),
            (
                r#"@((string)JObject.Parse("{\"a\":{\"b\":[{\"c\":\"deep\"}]}}").SelectToken("$.a.b[0].c"))"#,
                "deep",
            ),
            (r#"@(JObject.Parse("{\"a\":1}")["a"].Type)"#, "Integer"),
            (
                r#"@(JObject.Parse("{\"a\":1}")["a"].Type == JTokenType.Integer)"#,
                "True",
            ),
            (
                r#"@{ JToken v; return JObject.Parse("{\"a\":1}").TryGetValue("a", out v) ? v.ToString() : "none"; }"#,
                "1",
            ),
            (
                r#"@{ var o = JObject.Parse("{\"a\":1}"); var c = o.DeepClone(); c["a"] = 2; return o.ToString(Formatting.None); }"#,
                r#"{"a":1}"#,
            ),
            (r#"@(JToken.FromObject("x").Type)"#, "String"),
            (
                r#"@(JObject.Parse("{\"a\":1}").Property("a").Value.ToString())"#,
                "1",
            ),
            (r#"@(JObject.Parse("{}").HasValues)"#, "False"),
            (
                r#"@((Newtonsoft.Json.Linq.JObject.Parse("{\"a\":null}"))["a"].Type)"#,
                "Null",
            ),
            (
                r#"@((string)JObject.Parse("{\"a\":null}")["a"] == null)"#,
                "True",
            ),
            (
                r#"@((DateTime)JObject.Parse("{\"d\":\"2024-05-06T07:08:09Z\"}")["d"])"#,
                "5/6/2024 7:08:09 AM",
            ),
        ] {
            let got = s(expr);
            if want == "ERR" {
                assert!(got.starts_with("ERR"), "{expr}: {got}");
            } else {
                assert_eq!(got, want, "{expr}");
            }
        }
    }

    /// Anonymous objects, as policies build JWT headers and small bodies with them.
    #[test]
    fn anonymous_objects_serialise_in_order() {
        for (expr, want) in [
            (
                r#"@(JsonConvert.SerializeObject(new { typ = "JWT", alg = "HS256" }))"#,
                r#"{"typ":"JWT","alg":"HS256"}"#,
            ),
            (
                r#"@((int)JObject.FromObject(new { a = 1, b = new [] {1, 2} })["b"][1])"#,
                "2",
            ),
            (
                r#"@{ var name = "x"; return JsonConvert.SerializeObject(new { name, n = 2.5, ok = true, none = (string)null }); }"#,
                r#"{"name":"x","n":2.5,"ok":true,"none":null}"#,
            ),
            (
                r#"@(JsonConvert.SerializeObject(new { context.Request.Method }))"#,
                r#"{"Method":"GET"}"#,
            ),
            (r#"@(JsonConvert.SerializeObject(new { }))"#, "{}"),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert!(s(r#"@(new { a = 1, a = 2 })"#).contains("two members named 'a'"));
    }

    #[test]
    fn failures_are_newtonsofts() {
        assert_eq!(
            failure(r#"@(JObject.Parse("[1]"))"#),
            Some(EvalErrorKind::Format)
        );
        assert_eq!(
            failure(r#"@(JObject.Parse("{"))"#),
            Some(EvalErrorKind::Format)
        );
        assert_eq!(
            failure(r#"@(JArray.Parse("[1]")[5])"#),
            Some(EvalErrorKind::OutOfRange)
        );
        assert_eq!(
            failure(r#"@(JArray.Parse("[1]")["a"])"#),
            Some(EvalErrorKind::InvalidCast)
        );
        assert_eq!(
            failure(r#"@((int)JObject.Parse("{\"a\":\"x\"}")["a"])"#),
            Some(EvalErrorKind::InvalidCast)
        );
        assert_eq!(
            failure(r#"@((string)JObject.Parse("{\"a\":[1]}")["a"])"#),
            Some(EvalErrorKind::InvalidCast)
        );
        assert_eq!(
            failure(r#"@{ var o = JObject.Parse("{\"a\":1}"); o.Add("a", 2); return 1; }"#),
            Some(EvalErrorKind::InvalidCast)
        );
        assert!(
            s(r#"@(JsonConvert.DeserializeObject<Queue<string>>("[]"))"#)
                .contains("not supported by certgate")
        );
        assert!(s(r#"@(JObject.Parse("{}").CreateReader())"#)
            .contains("'JObject.CreateReader' is not supported by certgate"));
        // Down Newtonsoft's classes, checked at run time.
        assert_eq!(s(r#"@(((JArray)JToken.Parse("[1,2]")).Count)"#), "2");
        assert_eq!(
            failure(r#"@((JArray)JToken.Parse("{}"))"#),
            Some(EvalErrorKind::InvalidCast)
        );
        assert!(s(r#"@{ var a = new [] {1}; a[0] = 2; return a[0]; }"#)
            .contains("only a JObject's or JArray's"));
        assert!(
            s(r#"@{ "x".Length = 2; return 1; }"#).contains("'string.Length' cannot be assigned")
        );
        assert!(s(r#"@{ "x".Substring(0) = "y"; return 1; }"#)
            .contains("only a local, an indexer or a property can be assigned"));
        // A document that doubles itself runs into the memory budget, not out of memory.
        assert_eq!(
            failure(
                r#"@{ var a = JArray.Parse("[\"0123456789012345678901234567890123456789\"]"); foreach (var i in new int[64]) { a.Add(a); } return a.Count; }"#
            ),
            Some(EvalErrorKind::MemoryBudget)
        );
    }
}
