//! `context.*` as policies see it: `Request` (method, IP, certificate, headers, URL, query,
//! matched parameters), `Response`, `Variables`, `Deployment` (certificates by id), `LastError`,
//! and the route constants `Api`/`Operation`. Checker bindings and evaluator in one file.

use std::net::IpAddr;
use std::sync::Arc;

use super::convert::cast;
use crate::context::Deployment;
use crate::dotnet::{DateTime, TimeSpan};
use crate::expr::ast::{Expr, TypeName};
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::value::{Handle, Value};

/// `context.X`, `context.Request.X`, ...: handles are values, so `var h = context.Request.Headers;`
/// works like C#; route members are constants.
pub(crate) fn member(
    b: &dyn Binder,
    recv: Ir,
    h: Handle,
    name: &str,
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    let rty = Ty::Handle(h);
    let handle = |h: Handle| Ok((Ir::Const(Value::Handle(h)), Ty::Handle(h)));
    let call = |f: ContextFn, ty: Ty| Ok((Ir::Call(Builtin::Context(f), vec![recv.clone()]), ty));
    let konst = |s: &Arc<str>| Ok((Ir::Const(Value::Str(s.clone())), Ty::Str));
    let route = b.route();
    match (h, name) {
        (Handle::Context, "Request") => handle(Handle::Request),
        (Handle::Context, "Response") => handle(Handle::Response),
        (Handle::Context, "Variables") => handle(Handle::Variables),
        (Handle::Context, "Deployment") => handle(Handle::Deployment),
        (Handle::Context, "LastError") => handle(Handle::LastError),
        (Handle::Context, "Api") => handle(Handle::Api),
        (Handle::Context, "Operation") => handle(Handle::Operation),
        (Handle::Context, "RequestId") => call(ContextFn::RequestId, Ty::Str),
        (Handle::Context, "Timestamp") => call(ContextFn::Timestamp, Ty::DateTime),
        (Handle::Context, "Elapsed") => call(ContextFn::Elapsed, Ty::TimeSpan),
        // certgate has no request tracing (APIM's Ocp-Apim-Trace).
        (Handle::Context, "Tracing") => Ok((Ir::Const(Value::Bool(false)), Ty::Bool)),
        (Handle::Context, "Product" | "Subscription" | "User") => {
            let h = match name {
                "Product" => Handle::Product,
                "Subscription" => Handle::Subscription,
                _ => Handle::User,
            };
            Ok((Ir::Const(Value::Null), Ty::Handle(h)))
        }
        (
            Handle::Product
            | Handle::Subscription
            | Handle::User
            | Handle::Group
            | Handle::UserIdentity
            | Handle::KeyParameterNames
            | Handle::PrivateEndpoint
            | Handle::VnetInfo,
            _,
        ) => match absent_member(h, name) {
            Some(ty) => call(ContextFn::OfNull, ty),
            None => unknown_member(&rty, name, off),
        },
        (Handle::Request, "PrivateEndpointConnection") => {
            Ok((Ir::Const(Value::Null), Ty::Handle(Handle::PrivateEndpoint)))
        }
        (Handle::Request, "Method") => call(ContextFn::RequestMethod, Ty::Str),
        (Handle::Request, "IpAddress") => call(ContextFn::RequestIp, Ty::Str),
        (Handle::Request, "Certificate") => call(ContextFn::RequestCertificate, Ty::Cert),
        (Handle::Request, "Headers") => handle(Handle::RequestHeaders),
        (Handle::Request, "Url") => handle(Handle::Url),
        (Handle::Request, "OriginalUrl") => handle(Handle::OriginalUrl),
        (Handle::Request, "MatchedParameters") => handle(Handle::MatchedParameters),
        (Handle::Request, "Body") => {
            // The gateway buffers this route's request bodies.
            b.route()
                .reads_request_body
                .store(true, std::sync::atomic::Ordering::Relaxed);
            call(ContextFn::RequestBody, Ty::Handle(Handle::RequestBody))
        }
        (Handle::Response, "Body") => {
            // The gateway holds this route's backend bodies whole.
            b.route()
                .reads_response_body
                .store(true, std::sync::atomic::Ordering::Relaxed);
            call(ContextFn::ResponseBody, Ty::Handle(Handle::ResponseBody))
        }
        (Handle::Response, "StatusCode") => call(ContextFn::ResponseStatusCode, Ty::Int),
        (Handle::Response, "StatusReason") => call(ContextFn::ResponseStatusReason, Ty::Str),
        (Handle::Response, "Headers") => handle(Handle::ResponseHeaders),
        (u @ (Handle::Url | Handle::OriginalUrl), part) => {
            let p = match part {
                "Scheme" => UrlPart::Scheme,
                "Host" => UrlPart::Host,
                "Port" => return call(ContextFn::Url(UrlPart::Port), Ty::Int),
                "Path" => UrlPart::Path,
                "QueryString" => UrlPart::QueryString,
                "Query" => {
                    return handle(if u == Handle::Url {
                        Handle::Query
                    } else {
                        Handle::OriginalQuery
                    })
                }
                _ => return unknown_member(&rty, name, off),
            };
            call(ContextFn::Url(p), Ty::Str)
        }
        (Handle::Deployment, "Certificates") => handle(Handle::Certificates),
        (Handle::Deployment, "ServiceName") => call(ContextFn::DeploymentServiceName, Ty::Str),
        (Handle::Deployment, "GatewayId") => call(ContextFn::DeploymentGatewayId, Ty::Str),
        (Handle::Deployment, "Region") => call(ContextFn::DeploymentRegion, Ty::Str),
        (Handle::Certificates, "Count") => call(ContextFn::CertsCount, Ty::Int),
        // The dictionaries' sizes and keys, from their entries.
        (h, "Count" | "Keys" | "Values") if entry_type(h).is_some() => {
            let entries = Ir::Call(Builtin::Context(ContextFn::Entries), vec![recv]);
            let (elem_key, elem_value) = match entry_type(h) {
                Some(Ty::Pair(k, v)) => (*k, *v),
                _ => (Ty::Str, Ty::Str),
            };
            Ok(match name {
                "Count" => (
                    Ir::Call(Builtin::Collection(CollectionFn::Length), vec![entries]),
                    Ty::Int,
                ),
                "Keys" => (
                    Ir::Call(Builtin::Collection(CollectionFn::PairKeys), vec![entries]),
                    Ty::Array(Box::new(elem_key)),
                ),
                _ => (
                    Ir::Call(Builtin::Collection(CollectionFn::PairValues), vec![entries]),
                    Ty::Array(Box::new(elem_value)),
                ),
            })
        }
        (Handle::LastError, f) => {
            let field = match f {
                "Source" => ErrorField::Source,
                "Reason" => ErrorField::Reason,
                "Message" => ErrorField::Message,
                "Scope" => ErrorField::Scope,
                "Section" => ErrorField::Section,
                "Path" => ErrorField::Path,
                "PolicyId" => ErrorField::PolicyId,
                _ => return unknown_member(&rty, name, off),
            };
            call(ContextFn::LastError(field), Ty::Str)
        }
        (Handle::Api, "Name") => konst(&route.api_name),
        (Handle::Api, "Id") => konst(&route.api_id),
        (Handle::Api, "Path") => konst(&route.api_path),
        // certgate has no subscriptions, so no subscription key names.
        (Handle::Api, "SubscriptionKeyParameterNames") => Ok((
            Ir::Const(Value::Null),
            Ty::Handle(Handle::KeyParameterNames),
        )),
        (Handle::Operation, "Name") => konst(&route.operation_name),
        (Handle::Operation, "Id") => konst(&route.operation_id),
        (Handle::Operation, "Method") => konst(&route.operation_method),
        (Handle::Operation, "UrlTemplate") => konst(&route.operation_url_template),
        _ => unknown_member(&rty, name, off),
    }
}

/// The members APIM documents on `IProduct`, `ISubscription`, `IUser` and what they lead to
/// (`IGroup`, `IUserIdentity`), and on the objects certgate has none of
/// (`ISubscriptionKeyParameterNames`, `IPrivateEndpointConnection`), with their types
/// (apim-reference.md §2.4.2).
fn absent_member(h: Handle, name: &str) -> Option<Ty> {
    Some(match (h, name) {
        (Handle::Product, "ApprovalRequired" | "SubscriptionRequired") => Ty::Bool,
        (Handle::Product, "Id" | "Name") => Ty::Str,
        (Handle::Product, "SubscriptionsLimit" | "SubscriptionLimit") => Ty::Int,
        (Handle::Subscription, "CreatedDate" | "CreatedTime" | "EndDate" | "StartDate") => {
            Ty::DateTime
        }
        (Handle::Subscription, "Id" | "Key" | "Name" | "PrimaryKey" | "SecondaryKey") => Ty::Str,
        (Handle::User, "Email" | "FirstName" | "Id" | "LastName" | "Note") => Ty::Str,
        (Handle::User, "RegistrationDate") => Ty::DateTime,
        (Handle::Product | Handle::User, "Groups") => {
            Ty::Array(Box::new(Ty::Handle(Handle::Group)))
        }
        (Handle::User, "Identities") => Ty::Array(Box::new(Ty::Handle(Handle::UserIdentity))),
        (Handle::Group, "Id" | "Name" | "Description" | "Type") => Ty::Str,
        (Handle::UserIdentity, "Id" | "Provider") => Ty::Str,
        (Handle::KeyParameterNames, "Header" | "Query") => Ty::Str,
        (Handle::PrivateEndpoint, "Name" | "GroupId" | "MemberName") => Ty::Str,
        _ => return None,
    })
}

/// The dictionary-like handles: (get, contains) members and the value type.
fn dictionary(h: Handle) -> Option<(ContextFn, ContextFn)> {
    match h {
        Handle::RequestHeaders | Handle::ResponseHeaders => {
            Some((ContextFn::HeaderGet, ContextFn::HeaderContains))
        }
        Handle::Query | Handle::OriginalQuery => {
            Some((ContextFn::QueryGet, ContextFn::QueryContains))
        }
        Handle::MatchedParameters => Some((ContextFn::MatchedGet, ContextFn::MatchedContains)),
        _ => None,
    }
}

/// `Headers.GetValueOrDefault(..)`, `Variables.GetValueOrDefault<T>(..)`, `ContainsKey(..)`.
pub(crate) fn method(
    b: &mut dyn Binder,
    recv: Ir,
    h: Handle,
    name: &str,
    type_args: &[TypeName],
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    if name == "TryGetValue" {
        return try_get_value(b, recv, h, args, off);
    }
    if matches!(h, Handle::RequestBody | Handle::ResponseBody) && name == "As" {
        return super::body::body_as(b, recv, type_args, args, off);
    }
    if matches!(h, Handle::RequestBody | Handle::ResponseBody) && name == "AsFormUrlEncodedContent"
    {
        return super::body::as_form(b, recv, args, off);
    }
    let call = |f: ContextFn, a: Vec<Ir>, ty: Ty| {
        Ok((Ir::Call(Builtin::Context(f), with_recv(recv, a)), ty))
    };
    match (h, name, dictionary(h)) {
        (_, "GetValueOrDefault", Some((get, _))) => {
            let a = b.args(name, args, &[Ty::Str, Ty::Str], 1, off)?;
            call(get, a, Ty::Str)
        }
        (_, "ContainsKey", Some((_, contains))) => {
            let a = b.args(name, args, &[Ty::Str], 1, off)?;
            call(contains, a, Ty::Bool)
        }
        (Handle::Variables, "GetValueOrDefault", _) => {
            let ty = match type_args {
                [] => Ty::Object,
                [t] => resolve_type(t, off)?,
                _ => return type_err(off, "GetValueOrDefault takes one type argument"),
            };
            let Some(to) = CastTo::of(&ty) else {
                return type_err(off, format!("variables cannot hold '{ty}'"));
            };
            let a = b.args(name, args, &[Ty::Str, ty.clone()], 1, off)?;
            call(ContextFn::VarGet(to), a, ty)
        }
        (Handle::Variables, "ContainsKey", _) => {
            let a = b.args(name, args, &[Ty::Str], 1, off)?;
            call(ContextFn::VarContains, a, Ty::Bool)
        }
        (Handle::Certificates, "ContainsKey", _) => {
            let a = b.args(name, args, &[Ty::Str], 1, off)?;
            call(ContextFn::CertsContainsKey, a, Ty::Bool)
        }
        _ => unknown_member(&Ty::Handle(h), name, off),
    }
}

/// `dict.TryGetValue(key, out value)` on every dictionary of the context: true and `value` the
/// entry when the key is there (as `ContainsKey` and the indexer find it), false and null
/// otherwise.
fn try_get_value(
    b: &mut dyn Binder,
    recv: Ir,
    h: Handle,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    let contains = match (h, dictionary(h)) {
        (_, Some((_, contains))) => contains,
        (Handle::Variables, _) => ContextFn::VarContains,
        (Handle::Certificates, _) => ContextFn::CertsContainsKey,
        _ => return unknown_member(&Ty::Handle(h), "TryGetValue", off),
    };
    let Some((index, key_ty, value_ty)) = indexer(h) else {
        return unknown_member(&Ty::Handle(h), "TryGetValue", off);
    };
    try_get(
        b,
        args,
        &key_ty,
        &value_ty,
        Value::Null,
        |k: Ir| {
            let call = |f: Builtin| Ir::Call(f, vec![recv.clone(), k.clone()]);
            (call(Builtin::Context(contains)), call(index))
        },
        off,
    )
}

/// `Headers[name]`, `Query[name]`, `MatchedParameters[name]`, `Variables[name]`,
/// `Certificates[id]`: the member, the key type and the value type.
pub(crate) fn indexer(h: Handle) -> Option<(Builtin, Ty, Ty)> {
    let (f, ty) = match h {
        Handle::RequestHeaders | Handle::ResponseHeaders => {
            (ContextFn::HeaderIndex, Ty::Array(Box::new(Ty::Str)))
        }
        Handle::Query | Handle::OriginalQuery => {
            (ContextFn::QueryIndex, Ty::Array(Box::new(Ty::Str)))
        }
        Handle::MatchedParameters => (ContextFn::MatchedIndex, Ty::Str),
        Handle::Variables => (ContextFn::VarIndex, Ty::Object),
        Handle::Certificates => (ContextFn::CertsIndex, Ty::Cert),
        _ => return None,
    };
    Some((Builtin::Context(f), Ty::Str, ty))
}

/// What the entries of a context dictionary are, when they can be enumerated (`foreach`, LINQ,
/// `Count`, `Keys`): a name and its values for headers and query parameters, a name and a
/// value for matched parameters.
pub(crate) fn entry_type(h: Handle) -> Option<Ty> {
    let values = Ty::Array(Box::new(Ty::Str));
    Some(match h {
        Handle::RequestHeaders
        | Handle::ResponseHeaders
        | Handle::Query
        | Handle::OriginalQuery => Ty::Pair(Box::new(Ty::Str), Box::new(values)),
        Handle::MatchedParameters => Ty::Pair(Box::new(Ty::Str), Box::new(Ty::Str)),
        _ => return None,
    })
}

/// Name/value pairs grouped by name (case-insensitively for headers), in the order the names
/// first appear: one entry per name with all its values.
fn grouped(pairs: Vec<(String, String)>, ignore_case: bool) -> Value {
    let mut out: Vec<(String, Vec<Value>)> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (k, v) in pairs {
        let key = if ignore_case {
            k.to_ascii_lowercase()
        } else {
            k.clone()
        };
        match index.get(&key) {
            Some(&i) => out[i].1.push(Value::str(&v)),
            None => {
                index.insert(key, out.len());
                out.push((k, vec![Value::str(&v)]));
            }
        }
    }
    Value::Array(
        out.into_iter()
            .map(|(k, vs)| Value::Pair(Arc::new((Value::str(&k), Value::Array(vs.into())))))
            .collect::<Vec<_>>()
            .into(),
    )
}

pub(crate) fn eval(f: ContextFn, args: &[Value], env: &mut Env) -> EvalResult<Value> {
    let ctx = env.ctx;
    Ok(match f {
        ContextFn::Entries => {
            let v = match arg(args, 0) {
                Value::Handle(Handle::RequestHeaders) => grouped(ctx.request_headers(), true),
                Value::Handle(Handle::ResponseHeaders) => grouped(ctx.response_headers(), true),
                Value::Handle(h @ (Handle::Query | Handle::OriginalQuery)) => {
                    let url = url_of(ctx, &Value::Handle(*h));
                    grouped(url.query_pairs(), false)
                }
                Value::Handle(Handle::MatchedParameters) => Value::Array(
                    ctx.matched_parameters()
                        .into_iter()
                        .map(|(k, v)| Value::Pair(Arc::new((Value::str(&k), Value::str(&v)))))
                        .collect::<Vec<_>>()
                        .into(),
                ),
                _ => return fail(EvalErrorKind::NullReference, NULL_REF),
            };
            return env.charge(v);
        }
        ContextFn::RequestMethod => Value::str(ctx.method()),
        ContextFn::RequestIp => Value::str(&ip_string(ctx.client_ip())),
        ContextFn::RequestCertificate => ctx
            .certificate()
            .map_or(Value::Null, |c| Value::Cert(c.clone())),
        ContextFn::RequestId => Value::str(ctx.request_id()),
        ContextFn::Elapsed => Value::TimeSpan(TimeSpan(
            i64::try_from(ctx.elapsed().as_nanos() / 100).unwrap_or(i64::MAX),
        )),
        ContextFn::Timestamp => {
            let now = DateTime::utc_now();
            let ago = TimeSpan(-i64::try_from(ctx.elapsed().as_nanos() / 100).unwrap_or(0));
            Value::DateTime(now.checked_add(ago).unwrap_or(now))
        }
        ContextFn::OfNull => return fail(EvalErrorKind::NullReference, NULL_REF),
        ContextFn::ResponseBody => match ctx.response_body() {
            Some(_) => Value::Handle(Handle::ResponseBody),
            None => Value::Null,
        },
        ContextFn::RequestBody => match ctx.request_body() {
            Some(_) => Value::Handle(Handle::RequestBody),
            None => Value::Null,
        },
        ContextFn::BodyAs(kind) => return super::body::eval(kind, args, env),
        ContextFn::Url(part) => {
            let u = url_of(ctx, arg(args, 0));
            match part {
                UrlPart::Scheme => Value::str(u.scheme),
                UrlPart::Host => Value::str(u.host),
                UrlPart::Port => Value::Int(u.port as i64),
                UrlPart::Path => Value::str(u.path),
                UrlPart::QueryString => Value::str(&if u.query.is_empty() {
                    String::new()
                } else {
                    format!("?{}", u.query)
                }),
                UrlPart::Whole => Value::str(&u.to_url_string()),
            }
        }
        ContextFn::HeaderGet => {
            let name = s_arg(args, 1)?;
            let v = match arg(args, 0) {
                Value::Handle(Handle::ResponseHeaders) => ctx.response_header(name),
                _ => ctx.request_header(name),
            };
            match v {
                Some(v) => Value::str(&v),
                None => arg(args, 2).clone(),
            }
        }
        ContextFn::HeaderContains => {
            let name = s_arg(args, 1)?;
            Value::Bool(match arg(args, 0) {
                Value::Handle(Handle::ResponseHeaders) => ctx.response_header(name).is_some(),
                _ => ctx.request_header(name).is_some(),
            })
        }
        ContextFn::HeaderIndex => {
            let name = s_arg(args, 1)?;
            let values: Vec<String> = match arg(args, 0) {
                Value::Handle(Handle::ResponseHeaders) => ctx
                    .response_header(name)
                    .map(|v| v.split(',').map(str::to_string).collect())
                    .unwrap_or_default(),
                _ => ctx.request_header_values(name),
            };
            if values.is_empty() {
                return fail(
                    EvalErrorKind::KeyNotFound,
                    format!("The given key '{name}' was not present in the dictionary."),
                );
            }
            Value::Array(
                values
                    .iter()
                    .map(|v| Value::str(v))
                    .collect::<Vec<_>>()
                    .into(),
            )
        }
        ContextFn::QueryGet => {
            let name = s_arg(args, 1)?;
            match url_of(ctx, arg(args, 0)).query_param(name) {
                Some(v) => string(v),
                None => arg(args, 2).clone(),
            }
        }
        ContextFn::QueryContains => Value::Bool(
            url_of(ctx, arg(args, 0))
                .query_param(s_arg(args, 1)?)
                .is_some(),
        ),
        ContextFn::QueryIndex => {
            let name = s_arg(args, 1)?;
            let values = url_of(ctx, arg(args, 0)).query_values(name);
            if values.is_empty() {
                return fail(
                    EvalErrorKind::KeyNotFound,
                    format!("The given key '{name}' was not present in the dictionary."),
                );
            }
            Value::Array(values.into_iter().map(string).collect::<Vec<_>>().into())
        }
        ContextFn::MatchedGet => match ctx.matched_parameter(s_arg(args, 1)?) {
            Some(v) => Value::str(v),
            None => arg(args, 2).clone(),
        },
        ContextFn::MatchedContains => Value::Bool(ctx.matched_parameter(s_arg(args, 1)?).is_some()),
        ContextFn::MatchedIndex => {
            let name = s_arg(args, 1)?;
            match ctx.matched_parameter(name) {
                Some(v) => Value::str(v),
                None => {
                    return fail(
                        EvalErrorKind::KeyNotFound,
                        format!("The given key '{name}' was not present in the dictionary."),
                    )
                }
            }
        }
        ContextFn::VarGet(to) => {
            let name = s_arg(args, 1)?;
            match ctx.state().variable(name) {
                Some(v) => cast(to, v.clone(), false)?,
                None => match (arg(args, 2), to) {
                    (Value::Null, CastTo::Int) if args.len() < 3 => Value::Int(0),
                    (Value::Null, CastTo::Bool) if args.len() < 3 => Value::Bool(false),
                    (Value::Null, CastTo::Double) if args.len() < 3 => Value::Double(0.0),
                    (d, _) => d.clone(),
                },
            }
        }
        ContextFn::VarContains => Value::Bool(ctx.state().variable(s_arg(args, 1)?).is_some()),
        ContextFn::VarIndex => {
            let name = s_arg(args, 1)?;
            match ctx.state().variable(name) {
                Some(v) => v.clone(),
                None => {
                    return fail(
                        EvalErrorKind::KeyNotFound,
                        format!("The given key '{name}' was not present in the dictionary."),
                    )
                }
            }
        }
        ContextFn::ResponseStatusCode => Value::Int(ctx.response_status().0 as i64),
        ContextFn::ResponseStatusReason => Value::str(ctx.response_status().1),
        ContextFn::DeploymentServiceName => Value::Str(ctx.deployment().service_name.clone()),
        ContextFn::DeploymentGatewayId => Value::Str(ctx.deployment().gateway_id.clone()),
        ContextFn::DeploymentRegion => Value::Str(ctx.deployment().region.clone()),
        ContextFn::CertsContainsKey => Value::Bool(
            ctx.deployment()
                .certificates()
                .contains_key(s_arg(args, 1)?),
        ),
        ContextFn::CertsIndex => {
            let id = s_arg(args, 1)?;
            match ctx.deployment().certificates().get(id) {
                Some(c) => Value::Cert(c.clone()),
                None => {
                    return fail(
                        EvalErrorKind::KeyNotFound,
                        format!("The given key '{id}' was not present in the dictionary."),
                    )
                }
            }
        }
        ContextFn::CertsCount => Value::Int(ctx.deployment().certificates().len() as i64),
        ContextFn::CertsAsArray => certificates_array(ctx.deployment()),
        ContextFn::CertsHasRequestCertificate => match ctx.certificate() {
            Some(c) => Value::Bool(ctx.deployment().thumbprints().contains(c.sha1())),
            // C# evaluates the lambda (and throws) only when there is a certificate to test.
            None if ctx.deployment().certificates().is_empty() => Value::Bool(false),
            None => return fail(EvalErrorKind::NullReference, NULL_REF),
        },
        ContextFn::CertsHasThumbprint => match arg(args, 0) {
            Value::Str(t) => Value::Bool(ctx.deployment().has_thumbprint(t)),
            // `c.Value.Thumbprint == null` is false for every certificate.
            _ => Value::Bool(false),
        },
        ContextFn::LastError(field) => match &ctx.state().last_error {
            None => Value::Null,
            Some(e) => match field {
                ErrorField::Source => Value::Str(e.source.clone()),
                ErrorField::Reason => Value::Str(e.reason.clone()),
                ErrorField::Message => Value::Str(e.message.clone()),
                ErrorField::Scope => Value::Str(e.scope.clone()),
                ErrorField::Section => Value::Str(e.section.clone()),
                ErrorField::Path => Value::Str(e.path.clone()),
                ErrorField::PolicyId => Value::Str(e.policy_id.clone()),
            },
        },
    })
}

fn ip_string(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or_else(|| v6.to_string(), |v4| v4.to_string()),
        v4 => v4.to_string(),
    }
}

fn certificates_array(d: &Deployment) -> Value {
    Value::Array(
        d.certificates()
            .iter()
            .map(|(k, c)| Value::Pair(Arc::new((Value::str(k), Value::Cert(c.clone())))))
            .collect::<Vec<_>>()
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use crate::context::SimpleContext;
    use crate::expr::testing::{s, show};

    #[test]
    fn request_members_and_dictionaries() {
        let ctx = SimpleContext::new("POST", "/a/b?x=1&x=2").with_header("X-K", "v");
        assert_eq!(show("@(context.Request.Method)", &ctx), "POST");
        assert_eq!(show("@(context.Request.Url.Path)", &ctx), "/a/b");
        assert_eq!(
            show(
                r#"@(context.Request.Url.Query.GetValueOrDefault("x", "d"))"#,
                &ctx
            ),
            "1"
        );
        assert_eq!(
            show(r#"@(context.Request.Headers.ContainsKey("x-k"))"#, &ctx),
            "True"
        );
        assert_eq!(
            show(
                r#"@(context.Request.Headers.GetValueOrDefault("none", "d"))"#,
                &ctx
            ),
            "d"
        );
        assert!(show(r#"@(context.Request.Headers["none"])"#, &ctx).contains("was not present"));
        assert_eq!(
            s(r#"@(context.Variables.GetValueOrDefault<int>("n"))"#),
            "0"
        );
        assert!(s("@(context.Request.Nope)").contains("does not contain a definition for 'Nope'"));
        assert!(s(r#"@(context.Deployment.Certificates.TryGetValue("a"))"#)
            .contains("takes 2 arguments"));
    }

    /// certgate has no products, subscriptions or users: they are null, typed as APIM's, so
    /// `context.Product?.Name ?? "none"` (APIM's lab sample) runs and a plain member access
    /// fails as in APIM for a request without a subscription.
    #[test]
    fn dictionaries_enumerate_their_entries() {
        use crate::context::SimpleContext;
        let ctx = SimpleContext::new("GET", "/x?a=1&b=%20&a=2&c")
            .with_header("X-A", "1")
            .with_header("x-a", "2")
            .with_header("Accept", "*/*");
        let run = |e: &str| show(e, &ctx);
        // Headers: one entry per name (case-insensitive), its values in order.
        assert_eq!(
            run(
                r#"@(string.Join(";", context.Request.Headers.Select(h => h.Key + "=" + string.Join(",", h.Value))))"#
            ),
            "X-A=1,2;Accept=*/*"
        );
        assert_eq!(run("@(context.Request.Headers.Count)"), "2");
        // Query parameters, decoded, in the order their names first appear.
        assert_eq!(
            run(r#"@(string.Join(",", context.Request.Url.Query.Keys))"#),
            "a,b,c"
        );
        assert_eq!(
            run(
                r#"@{ var s = ""; foreach (var p in context.Request.Url.Query) { s += p.Key + ":" + p.Value.Length + "[" + string.Join("|", p.Value) + "]"; } return s; }"#
            ),
            "a:2[1|2]b:1[ ]c:1[]"
        );
        assert_eq!(run("@(context.Request.MatchedParameters.Any())"), "False");
    }

    #[test]
    fn product_subscription_and_user_are_null() {
        use crate::expr::testing::failure;
        use crate::expr::EvalErrorKind;
        assert_eq!(s(r#"@(context.Product?.Name ?? "none")"#), "none");
        assert_eq!(
            s("@(context.Subscription == null && context.User == null)"),
            "True"
        );
        assert_eq!(
            failure("@(context.Subscription.Key)"),
            Some(EvalErrorKind::NullReference)
        );
        assert!(s("@(context.User.Nope)").contains("does not contain a definition for 'Nope'"));
        // The collections and the objects they hold compile, typed as APIM has them.
        assert_eq!(
            s(r#"@(context.User?.Groups?.Any(g => g.Name == "admins") ?? false)"#),
            "False"
        );
        assert_eq!(
            s(r#"@(context.Product?.Groups?.Select(g => g.Id).FirstOrDefault() ?? "-")"#),
            "-"
        );
        assert_eq!(s("@(context.User?.Identities?.Count() ?? 0)"), "0");
        assert_eq!(
            failure("@(context.Product.Groups)"),
            Some(EvalErrorKind::NullReference)
        );
        assert_eq!(
            s("@(context.Api.SubscriptionKeyParameterNames?.Header ?? \"none\")"),
            "none"
        );
        assert_eq!(
            s("@(context.Request.PrivateEndpointConnection == null)"),
            "True"
        );
        // A context object kept in a variable is cast back to its interface; null casts to any.
        assert_eq!(
            s("@(((IProduct)context.Variables.GetValueOrDefault(\"p\")) == null)"),
            "True"
        );
        assert_eq!(
            s("@(((IUrl)(object)context.Request.OriginalUrl).Path)"),
            "/"
        );
        assert_eq!(
            failure("@((IUser)(object)context.Request.Url)"),
            Some(EvalErrorKind::InvalidCast)
        );
        assert!(s("@(context.User.Nope)").contains("does not contain a definition for 'Nope'"));
        assert_eq!(s("@(context.Tracing)"), "False");
        assert_eq!(
            s("@(context.Elapsed.Ticks >= 0 && context.Timestamp <= DateTime.UtcNow)"),
            "True"
        );
    }

    /// A client's hostile body: JSON nested past serde_json's depth limit is a format failure
    /// (no deep recursion), a body that is not UTF-8 reads with replacement characters.
    #[test]
    fn hostile_request_bodies() {
        use crate::expr::testing::show;
        let mut ctx = SimpleContext::new("POST", "/");
        ctx.request_body =
            Some(format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes());
        assert!(show("@(context.Request.Body.As<JToken>().Type)", &ctx).contains("recursion limit"));
        let mut ctx = SimpleContext::new("POST", "/");
        ctx.request_body = Some(vec![0xff, b'a']);
        assert_eq!(
            show("@(context.Request.Body.As<string>())", &ctx),
            "\u{fffd}a"
        );
    }

    /// APIM's documented example: `TryGetValue(name, out value)` into a declared local.
    #[test]
    fn try_get_value_writes_its_out_argument() {
        let ctx = SimpleContext::new("GET", "/p?q=1").with_header("Authorization", "Basic YTpi");
        let doc = r#"@{
  string[] value;
  if (context.Request.Headers.TryGetValue("Authorization", out value))
  {
      if(value != null && value.Length > 0)
      {
          return Encoding.UTF8.GetString(Convert.FromBase64String(value[0].Substring(6)));
      }
  }
  return null;
}"#;
        assert_eq!(show(doc, &ctx), "a:b");
        for (expr, want) in [
            (
                r#"@(context.Request.Headers.TryGetValue("None", out var v) ? "yes" : "no")"#,
                "no",
            ),
            (
                r#"@{ context.Request.Url.Query.TryGetValue("q", out var v); return v[0]; }"#,
                "1",
            ),
            (
                r#"@{ object o; return context.Variables.TryGetValue("x", out o) || o != null; }"#,
                "False",
            ),
            (
                r#"@(context.Request.MatchedParameters.TryGetValue("id", out string id))"#,
                "False",
            ),
        ] {
            assert_eq!(show(expr, &ctx), want, "{expr}");
        }
        // The out argument must be a local of the type the method writes.
        for (expr, msg) in [
            (
                r#"@(context.Request.Headers.TryGetValue("a", out int n))"#,
                "this method writes a 'string[]'",
            ),
            (
                r#"@(context.Request.Headers.TryGetValue("a", out undeclared))"#,
                "not a local variable",
            ),
            (
                r#"@(context.Request.Headers.TryGetValue("a", "b"))"#,
                "expected an 'out' argument",
            ),
            (
                r#"@(context.Request.Headers.GetValueOrDefault(out var x))"#,
                "only of methods with out parameters",
            ),
        ] {
            assert!(
                show(expr, &ctx).contains(msg),
                "{expr}: {}",
                show(expr, &ctx)
            );
        }
    }
}
