//! `ip-filter`: allow or forbid callers by address and address range (IPv4-mapped IPv6
//! addresses count as IPv4).

use std::net::IpAddr;

use super::{Fail, Flow, PolicyStep, Reader, Site};
use crate::context::RequestContext;
use crate::element::El;
use crate::error::{CompileError, ErrorKind};

#[derive(Clone, Debug)]
pub struct IpFilter {
    pub allow: bool,
    pub addresses: Vec<IpAddr>,
    pub ranges: Vec<(IpAddr, IpAddr)>,
}

impl PolicyStep for IpFilter {
    fn read(el: &El, _: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&["action"])?;
        el.only_children(&["address", "address-range"], false)?;
        let a = el.req("action")?;
        let allow = match a.value.text.as_str() {
            "allow" => true,
            "forbid" => false,
            other => {
                return Err(el.attr_err(
                    a,
                    ErrorKind::InvalidValue,
                    format!("action '{other}'; expected allow or forbid"),
                ))
            }
        };
        let mut addresses = Vec::new();
        let mut ranges = Vec::new();
        for c in el.e.elements() {
            let ce = El { e: c, src: el.src };
            if c.name == "address" {
                ce.only_attrs(&[])?;
                let t = ce.text().map(|t| t.text).unwrap_or_default();
                addresses.push(t.parse::<IpAddr>().map_err(|_| {
                    ce.err(
                        ErrorKind::InvalidValue,
                        format!("'{t}' is not an IP address"),
                    )
                })?);
            } else {
                ce.only_attrs(&["from", "to"])?;
                let parse = |n: &str| -> Result<IpAddr, CompileError> {
                    let a = ce.req(n)?;
                    a.value.text.trim().parse().map_err(|_| {
                        ce.attr_err(
                            a,
                            ErrorKind::InvalidValue,
                            format!("'{}' is not an IP address", a.value.text),
                        )
                    })
                };
                let (from, to) = (parse("from")?, parse("to")?);
                if from.is_ipv4() != to.is_ipv4() || from > to {
                    return Err(ce.err(
                        ErrorKind::InvalidValue,
                        "address-range needs from <= to, of the same address family",
                    ));
                }
                ranges.push((from, to));
            }
        }
        Ok(IpFilter {
            allow,
            addresses,
            ranges,
        })
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        let ip = normalise_ip(ctx.client_ip());
        let listed = self.addresses.iter().any(|a| normalise_ip(*a) == ip)
            || self
                .ranges
                .iter()
                .any(|(f, t)| ip_in(ip, normalise_ip(*f), normalise_ip(*t)));
        if listed == self.allow {
            Ok(Flow::Next)
        } else {
            Err(at.origin.fail(
                "CallerIpNotAllowed",
                &format!("Caller IP address {ip} is not allowed. Access denied."),
                403,
                "Forbidden",
            ))
        }
    }
}

fn normalise_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn ip_in(ip: IpAddr, from: IpAddr, to: IpAddr) -> bool {
    ip.is_ipv4() == from.is_ipv4() && from <= ip && ip <= to
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_addresses_compare_as_ipv4_and_families_never_mix() {
        let v4: IpAddr = "10.0.0.5".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let mapped: IpAddr = "::ffff:10.0.0.5".parse().unwrap_or(IpAddr::from([0u16; 8]));
        assert_eq!(normalise_ip(mapped), v4);
        let (from, to) = (IpAddr::from([10, 0, 0, 0]), IpAddr::from([10, 0, 0, 255]));
        assert!(ip_in(v4, from, to));
        assert!(!ip_in(IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]), from, to));
        assert!(!ip_in(IpAddr::from([10, 0, 1, 0]), from, to));
    }
}
