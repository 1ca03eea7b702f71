//! `System.Net.IPAddress`, as policies check a caller's address (`IPAddress.Parse`,
//! `IPAddress.TryParse(text, out ip)`, `IPAddress.Loopback`, `Any`, `IPv6Loopback`,
//! `IPAddress.IsLoopback(ip)`; `GetAddressBytes()`, `ToString()`, `IsIPv4MappedToIPv6`, `AddressFamily`,
//! `MapToIPv4()`, `MapToIPv6()`, `==` by value). Checker bindings and evaluator in one file; the
//! address is std's `IpAddr`, which parses the forms .NET accepts for IPv4 and IPv6 text
//! (not .NET's legacy shorthand such as `10.1`, which is refused as a `FormatException`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crate::expr::ast::Expr;
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::value::{Obj, Value};

fn call(f: IpFn, args: Vec<Ir>) -> Ir {
    Ir::Call(Builtin::Ip(f), args)
}

const TY: Ty = Ty::Obj(ObjKind::Ip);

/// `IPAddress.Loopback`, `Any`, `IPv6Loopback`, `IPv6Any`, `Broadcast`, `None`.
pub(crate) fn static_member(name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    let ip: IpAddr = match name {
        "Loopback" => Ipv4Addr::LOCALHOST.into(),
        "Any" => Ipv4Addr::UNSPECIFIED.into(),
        "Broadcast" | "None" => Ipv4Addr::BROADCAST.into(),
        "IPv6Loopback" => Ipv6Addr::LOCALHOST.into(),
        "IPv6Any" | "IPv6None" => Ipv6Addr::UNSPECIFIED.into(),
        _ => return unknown_member(&Ty::Static(Static::IpAddress), name, off),
    };
    Ok((Ir::Const(Value::Obj(Arc::new(Obj::Ip(ip)))), TY))
}

/// `IPAddress.Parse(text)`, `IPAddress.TryParse(text, out ip)`, `IPAddress.IsLoopback(ip)`.
pub(crate) fn static_method(
    b: &mut dyn Binder,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    match m {
        "Parse" => {
            let a = b.args(m, args, &[Ty::Str], 1, off)?;
            Ok((call(IpFn::Parse, a), TY))
        }
        "TryParse" => input_and_out(
            b,
            m,
            args,
            &Ty::Str,
            &TY,
            Value::Null,
            "the text and 'out IPAddress address'",
            |text| call(IpFn::TryParse, vec![text]),
            off,
        ),
        "IsLoopback" => {
            let a = b.args(m, args, &[TY], 1, off)?;
            Ok((call(IpFn::IsLoopback, a), Ty::Bool))
        }
        _ => unknown_member(&Ty::Static(Static::IpAddress), m, off),
    }
}

/// Properties.
pub(crate) fn member(recv: Ir, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    match name {
        "IsIPv4MappedToIPv6" => Ok((call(IpFn::IsMapped, vec![recv]), Ty::Bool)),
        "AddressFamily" => Ok((
            call(IpFn::Family, vec![recv]),
            Ty::Enum(crate::dotnet::EnumType::AddressFamily),
        )),
        _ => unknown_member(&TY, name, off),
    }
}

/// Methods.
pub(crate) fn method(
    b: &mut dyn Binder,
    recv: Ir,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    let (f, ty) = match m {
        "GetAddressBytes" => (IpFn::Bytes, Ty::Bytes),
        "MapToIPv4" => (IpFn::ToV4, TY),
        "MapToIPv6" => (IpFn::ToV6, TY),
        _ => return unknown_member(&TY, m, off),
    };
    b.args(m, args, &[], 0, off)?;
    Ok((call(f, vec![recv]), ty))
}

fn ip_arg(args: &[Value]) -> EvalResult<IpAddr> {
    match arg(args, 0) {
        Value::Obj(o) => match &**o {
            Obj::Ip(ip) => Ok(*ip),
            _ => fail(EvalErrorKind::InvalidCast, "not an IPAddress"),
        },
        _ => fail(EvalErrorKind::NullReference, NULL_REF),
    }
}

fn ip(ip: IpAddr) -> Value {
    Value::Obj(Arc::new(Obj::Ip(ip)))
}

pub(crate) fn eval(f: IpFn, args: &[Value]) -> EvalResult<Value> {
    Ok(match f {
        IpFn::Parse | IpFn::TryParse => {
            let parsed = opt_s(args, 0).and_then(|s| s.trim().parse::<IpAddr>().ok());
            match (parsed, f) {
                (Some(a), _) => ip(a),
                (None, IpFn::TryParse) => Value::Null,
                (None, _) if opt_s(args, 0).is_none() => {
                    return fail(
                        EvalErrorKind::Argument,
                        "Value cannot be null. (Parameter 'ipString')",
                    )
                }
                (None, _) => {
                    return fail(
                        EvalErrorKind::Format,
                        "An invalid IP address was specified.",
                    )
                }
            }
        }
        IpFn::IsLoopback => Value::Bool(ip_arg(args)?.is_loopback()),
        // AddressFamily.InterNetwork (2) or InterNetworkV6 (23).
        IpFn::Family => Value::Enum(crate::value::EnumValue::Named(
            crate::dotnet::EnumType::AddressFamily,
            if ip_arg(args)?.is_ipv4() { 2 } else { 23 },
        )),
        IpFn::IsMapped => {
            Value::Bool(matches!(ip_arg(args)?, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some()))
        }
        IpFn::Bytes => Value::Bytes(match ip_arg(args)? {
            IpAddr::V4(v4) => v4.octets().to_vec().into(),
            IpAddr::V6(v6) => v6.octets().to_vec().into(),
        }),
        IpFn::ToV4 => match ip_arg(args)? {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ip(v4.into()),
                None => {
                    // .NET takes the last four bytes.
                    let o = v6.octets();
                    ip(Ipv4Addr::new(o[12], o[13], o[14], o[15]).into())
                }
            },
            v4 => ip(v4),
        },
        IpFn::ToV6 => match ip_arg(args)? {
            IpAddr::V4(v4) => ip(v4.to_ipv6_mapped().into()),
            v6 => ip(v6),
        },
    })
}

#[cfg(test)]
mod tests {
    use crate::expr::testing::{assert_refused, s};

    #[test]
    fn addresses_as_dotnet_reads_them() {
        for (expr, want) in [
            ("@(IPAddress.Parse(\"10.0.0.1\").ToString())", "10.0.0.1"),
            ("@(IPAddress.Parse(\" 2001:db8::1 \").ToString())", "2001:db8::1"),
            ("@(IPAddress.Parse(\"10.1.2.3\").GetAddressBytes()[1])", "1"),
            ("@(IPAddress.Parse(\"::1\").GetAddressBytes().Length)", "16"),
            ("@(IPAddress.IsLoopback(IPAddress.Parse(\"127.0.0.2\")))", "True"),
            ("@(IPAddress.Parse(\"::ffff:10.0.0.1\").IsIPv4MappedToIPv6)", "True"),
            ("@(IPAddress.Parse(\"::ffff:10.0.0.1\").MapToIPv4().ToString())", "10.0.0.1"),
            ("@(IPAddress.Parse(\"10.0.0.1\").MapToIPv6().ToString())", "::ffff:10.0.0.1"),
            ("@(IPAddress.Parse(\"10.0.0.1\") == IPAddress.Parse(\"10.0.0.1\"))", "True"),
            ("@(IPAddress.Loopback.ToString() + \" \" + IPAddress.IPv6Loopback)", "127.0.0.1 ::1"),
            ("@{ IPAddress ip; return IPAddress.TryParse(\"300.1.1.1\", out ip); }", "False"),
            ("@{ IPAddress ip; return IPAddress.TryParse(\"192.168.1.9\", out ip) && ip.GetAddressBytes()[0] == 192; }", "True"),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert_refused(
            "@(IPAddress.Parse(\"10.0.0\"))",
            "An invalid IP address was specified.",
        );
        assert_refused(
            "@(IPAddress.Parse(\"10.0.0.1\").ScopeId)",
            "not supported by certgate",
        );
    }
}
