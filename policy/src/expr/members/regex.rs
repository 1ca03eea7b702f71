//! `System.Text.RegularExpressions` as APIM allows it: `Regex` (the statics `IsMatch`, `Match`,
//! `Matches`, `Replace`, `Split`, with options and an ignored match timeout; `new Regex(pattern[,
//! options[, timeout]])` and the same as instance methods), `RegexOptions` (combined with `|`),
//! `Match` (`Success`, `Value`, `Index`, `Length`, `Groups`), `Group` and `GroupCollection`
//! (`Count`, the indexer by number or name). Checker bindings and evaluator in one file; the
//! engine and its bounds are `dotnet::regex`'s.
//!
//! A constant pattern is compiled once, when the policy is loaded (a pattern certgate cannot run
//! is a load error at its position); one computed per request is compiled then, within a smaller
//! bound, and a failure is .NET's `ArgumentException`. A match that backtracks past the
//! engine's bound is .NET's `RegexMatchTimeoutException`.

use std::sync::Arc;

use crate::dotnet::regex::{compile, option};
use crate::expr::ast::Expr;
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::value::{Obj, Value};

/// The compiled size a pattern written in a policy may take (an operator's own choice).
const POLICY_PATTERN_LIMIT: usize = 1 << 20;
/// The compiled size a pattern computed per request (possibly from request data) may take.
const REQUEST_PATTERN_LIMIT: usize = 1 << 16;

fn rx(f: RegexFn, args: Vec<Ir>) -> Ir {
    Ir::Call(Builtin::Regex(f), args)
}

/// `RegexOptions.X`: .NET's flag values, as integers so that `|` combines them.
pub(crate) fn options_member(name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    match option(name) {
        Some(v) => Ok((Ir::Const(Value::Int(v)), Ty::Int)),
        None => type_err(
            off,
            format!("'RegexOptions' does not contain a definition for '{name}'"),
        ),
    }
}

/// The compiled pattern: a constant now, or a compile per evaluation.
fn pattern(b: &mut dyn Binder, pattern: &Expr, options: Option<&Expr>) -> CheckResult<Ir> {
    let p = b.coerce(pattern, &Ty::Str)?;
    let o = match options {
        Some(e) => b.coerce(e, &Ty::Int)?,
        None => Ir::Const(Value::Int(0)),
    };
    match (p.as_const(), o.as_const()) {
        (Some(Value::Str(s)), Some(Value::Int(opts))) => {
            match compile(s, *opts, POLICY_PATTERN_LIMIT) {
                Ok(re) => Ok(Ir::Const(Value::Obj(Arc::new(Obj::Regex(re))))),
                Err(e) => type_err(pattern.offset, e),
            }
        }
        _ => Ok(rx(RegexFn::New, vec![p, o])),
    }
}

/// The trailing `TimeSpan matchTimeout` of the overloads that take one: checked, then unused (the
/// engine runs in linear time).
fn timeout(b: &mut dyn Binder, e: Option<&Expr>) -> CheckResult<()> {
    if let Some(e) = e {
        b.coerce(e, &Ty::TimeSpan)?;
    }
    Ok(())
}

/// An operation's result type and the number of arguments after the input.
fn operation(m: &str) -> Option<(RegexFn, Ty, usize)> {
    Some(match m {
        "IsMatch" => (RegexFn::IsMatch, Ty::Bool, 0),
        "Match" => (RegexFn::Match, Ty::Obj(ObjKind::Match), 0),
        "Matches" => (
            RegexFn::Matches,
            Ty::Array(Box::new(Ty::Obj(ObjKind::Match))),
            0,
        ),
        "Replace" => (RegexFn::Replace, Ty::Str, 1),
        "Split" => (RegexFn::Split, Ty::Array(Box::new(Ty::Str)), 0),
        _ => return None,
    })
}

/// `Regex.IsMatch(input, pattern[, options[, timeout]])` and the other statics (`Replace` takes
/// the replacement after the pattern).
pub(crate) fn static_method(
    b: &mut dyn Binder,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    if let "Escape" | "Unescape" = m {
        let f = if m == "Escape" {
            RegexFn::Escape
        } else {
            RegexFn::Unescape
        };
        let a = b.args(m, args, &[Ty::Str], 1, off)?;
        return Ok((rx(f, a), Ty::Str));
    }
    let Some((f, ty, extra)) = operation(m) else {
        return unknown_member(&Ty::Static(Static::Regex), m, off);
    };
    let need = 2 + extra;
    if args.len() < need || args.len() > need + 2 {
        return type_err(
            off,
            format!(
                "'Regex.{m}' takes the input, the pattern{} and optionally options and a timeout",
                if extra == 1 { ", the replacement" } else { "" }
            ),
        );
    }
    let input = b.coerce(&args[0], &Ty::Str)?;
    let re = pattern(b, &args[1], args.get(need))?;
    timeout(b, args.get(need + 1))?;
    let mut irs = vec![re, input];
    if extra == 1 {
        irs.push(b.coerce(&args[2], &Ty::Str)?);
    }
    Ok((rx(f, irs), ty))
}

/// `Regex.Escape`: the metacharacters `\ * + ? | { [ ( ) ^ $ . #` and white space escaped
/// (`]` and `}` are left as they are, as .NET leaves them).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '*' | '+' | '?' | '|' | '{' | '[' | '(' | ')' | '^' | '$' | '.' | '#' | ' ' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{c}' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out
}

/// `Regex.Unescape`: the escapes a pattern may hold turned into their characters; `Err`:
/// .NET's message for an escape it does not know.
fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    let hex = |chars: &mut std::iter::Peekable<std::str::Chars>, n: usize| {
        let digits: String = (0..n).filter_map(|_| chars.next()).collect();
        u32::from_str_radix(&digits, 16)
            .ok()
            .filter(|_| digits.len() == n)
            .and_then(char::from_u32)
            .ok_or_else(|| format!("Insufficient or invalid hexadecimal digits in '{s}'."))
    };
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            return Err(format!("Illegal \\ at end of pattern '{s}'."));
        };
        out.push(match e {
            'a' => '\u{7}',
            'b' => '\u{8}',
            't' => '\t',
            'r' => '\r',
            'v' => '\u{b}',
            'f' => '\u{c}',
            'n' => '\n',
            'e' => '\u{1b}',
            'x' => hex(&mut chars, 2)?,
            'u' => hex(&mut chars, 4)?,
            'c' => match chars.next() {
                Some(l) if l.is_ascii_alphabetic() => {
                    char::from((l.to_ascii_uppercase() as u8) - b'@')
                }
                _ => return Err(format!("Unrecognized control character in '{s}'.")),
            },
            '0'..='7' => {
                let mut v = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            v = v * 8 + d;
                            chars.next();
                        }
                        None => break,
                    }
                }
                char::from_u32(v & 0xFF).unwrap_or('\0')
            }
            e if e.is_alphanumeric() || e == '_' => {
                return Err(format!("Unrecognized escape sequence \\{e} in '{s}'."))
            }
            e => e,
        });
    }
    Ok(out)
}

/// `new Regex(pattern[, options[, timeout]])`.
pub(crate) fn new(b: &mut dyn Binder, args: &[Expr], off: usize) -> CheckResult<(Ir, Ty)> {
    let Some(p) = args.first().filter(|_| args.len() <= 3) else {
        return type_err(
            off,
            "'new Regex' takes a pattern, and optionally options and a timeout",
        );
    };
    let re = pattern(b, p, args.get(1))?;
    timeout(b, args.get(2))?;
    Ok((re, Ty::Obj(ObjKind::Regex)))
}

/// `regex.IsMatch(input)`, `regex.Replace(input, replacement)`, ...
pub(crate) fn method(
    b: &mut dyn Binder,
    recv: Ir,
    k: ObjKind,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    if k == ObjKind::Match && m == "Result" {
        let a = b.args(m, args, &[Ty::Str], 1, off)?;
        return Ok((rx(RegexFn::Result, with_recv(recv, a)), Ty::Str));
    }
    let op = (k == ObjKind::Regex).then(|| operation(m)).flatten();
    let Some((f, ty, extra)) = op else {
        return unknown_member(&Ty::Obj(k), m, off);
    };
    let params = [Ty::Str, Ty::Str];
    let a = b.args(m, args, &params[..1 + extra], 1 + extra, off)?;
    Ok((rx(f, with_recv(recv, a)), ty))
}

/// `Success`, `Value`, `Index`, `Length` of a match or group; `Groups`; `Groups.Count`.
pub(crate) fn member(recv: Ir, k: ObjKind, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    let (f, ty) = match (k, name) {
        (ObjKind::Match | ObjKind::Group, "Success") => (RegexFn::Success, Ty::Bool),
        (ObjKind::Match | ObjKind::Group, "Value") => (RegexFn::Value, Ty::Str),
        (ObjKind::Match | ObjKind::Group, "Index") => (RegexFn::Index, Ty::Int),
        (ObjKind::Match | ObjKind::Group, "Length") => (RegexFn::Length, Ty::Int),
        (ObjKind::Match, "Groups") => return Ok((recv, Ty::Obj(ObjKind::Groups))),
        (ObjKind::Groups, "Count") => (RegexFn::GroupCount, Ty::Int),
        _ => return unknown_member(&Ty::Obj(k), name, off),
    };
    Ok((rx(f, vec![recv]), ty))
}

/// `Groups[1]`, `Groups["name"]`.
pub(crate) fn index(b: &mut dyn Binder, recv: Ir, index: &Expr) -> CheckResult<(Ir, Ty)> {
    let (key, ty) = b.expr(index)?;
    if !matches!(ty, Ty::Int | Ty::Str) {
        return type_err(
            index.offset,
            format!("groups are found by number or name, not '{ty}'"),
        );
    }
    Ok((rx(RegexFn::Group, vec![recv, key]), Ty::Obj(ObjKind::Group)))
}

/// A match past its backtracking bound: .NET's `RegexMatchTimeoutException`.
fn timed_out(_: crate::dotnet::regex::Timeout) -> EvalError {
    EvalError::new(
        EvalErrorKind::RegexTimeout,
        "The Regex engine has timed out while trying to match a pattern to an input string. \
         This can occur for many reasons, including very large inputs or excessive backtracking \
         caused by nested quantifiers, back-references and other factors.",
    )
}

pub(crate) fn eval(f: RegexFn, args: &[Value], env: &mut Env) -> EvalResult<Value> {
    match f {
        RegexFn::Escape => return Ok(Value::str(&escape(s_arg(args, 0)?))),
        RegexFn::Unescape => {
            return unescape(s_arg(args, 0)?)
                .map(|t| Value::str(&t))
                .or_else(|e| fail(EvalErrorKind::Argument, e))
        }
        _ => {}
    }
    if f == RegexFn::New {
        let p = s_arg(args, 0)?;
        let opts = int(arg(args, 1)).unwrap_or(0);
        return match compile(p, opts, REQUEST_PATTERN_LIMIT) {
            Ok(re) => Ok(Value::Obj(Arc::new(Obj::Regex(re)))),
            Err(e) => fail(EvalErrorKind::Argument, e),
        };
    }
    let Value::Obj(o) = arg(args, 0) else {
        return fail(EvalErrorKind::NullReference, NULL_REF);
    };
    let new = |o: Obj| Value::Obj(Arc::new(o));
    Ok(match (f, &**o) {
        (RegexFn::IsMatch, Obj::Regex(re)) => {
            Value::Bool(re.is_match(input(args)?).map_err(timed_out)?)
        }
        (RegexFn::Match, Obj::Regex(re)) => {
            new(Obj::Match(re.first(input(args)?).map_err(timed_out)?))
        }
        (RegexFn::Matches, Obj::Regex(re)) => {
            match re.all(input(args)?, env.max_items()).map_err(timed_out)? {
                Some(ms) => Value::Array(ms.into_iter().map(|m| new(Obj::Match(m))).collect()),
                None => return over_budget(format!("more than {} matches", env.max_items())),
            }
        }
        (RegexFn::Split, Obj::Regex(re)) => {
            match re.split(input(args)?, env.max_items()).map_err(timed_out)? {
                Some(parts) => {
                    Value::Array(parts.into_iter().map(|p| Value::Str(p.into())).collect())
                }
                None => return over_budget(format!("more than {} pieces", env.max_items())),
            }
        }
        (RegexFn::Replace, Obj::Regex(re)) => {
            let s = input(args)?;
            let Some(r) = opt_s(args, 2) else {
                return fail(
                    EvalErrorKind::Argument,
                    "Value cannot be null. (Parameter 'replacement')",
                );
            };
            // Bound the result before building it: every match may add the replacement.
            let n = re.count(s).map_err(timed_out)?;
            env.check_len(
                s.len()
                    .saturating_add(n.saturating_add(1).saturating_mul(r.len())),
            )?;
            Value::Str(re.replace(s, r).map_err(timed_out)?.into())
        }
        (RegexFn::Result, Obj::Match(m)) => {
            let Some(r) = opt_s(args, 1) else {
                return fail(
                    EvalErrorKind::Argument,
                    "Value cannot be null. (Parameter 'replacement')",
                );
            };
            // .NET refuses Result on a failed match.
            if !m.whole().success {
                return fail(
                    EvalErrorKind::Other,
                    "Result cannot be called on a failed Match.",
                );
            }
            // Each group can be put in many times: bound the text before building it.
            let widest = m.groups.iter().map(|g| g.value.len()).max().unwrap_or(0);
            env.check_len(r.len().saturating_mul(widest.max(1)))?;
            Value::str(&m.result(r))
        }
        (RegexFn::Success, Obj::Match(m)) => Value::Bool(m.whole().success),
        (RegexFn::Value, Obj::Match(m)) => Value::Str(m.whole().value.clone()),
        (RegexFn::Index, Obj::Match(m)) => Value::Int(m.whole().index),
        (RegexFn::Length, Obj::Match(m)) => Value::Int(m.whole().length),
        (RegexFn::Success, Obj::Group(g)) => Value::Bool(g.success),
        (RegexFn::Value, Obj::Group(g)) => Value::Str(g.value.clone()),
        (RegexFn::Index, Obj::Group(g)) => Value::Int(g.index),
        (RegexFn::Length, Obj::Group(g)) => Value::Int(g.length),
        (RegexFn::GroupCount, Obj::Match(m)) => Value::Int(m.groups.len() as i64),
        (RegexFn::Group, Obj::Match(m)) => new(Obj::Group(match arg(args, 1) {
            Value::Int(n) => m.group(*n),
            Value::Str(s) => m.named(s),
            _ => {
                return fail(
                    EvalErrorKind::Argument,
                    "Value cannot be null. (Parameter 'groupname')",
                )
            }
        })),
        _ => return fail(EvalErrorKind::InvalidCast, format!("not a {f:?} receiver")),
    })
}

/// The input of an operation (`ArgumentNullException` when null, as .NET's).
fn input(args: &[Value]) -> EvalResult<&str> {
    opt_s(args, 1).map_or_else(
        || {
            fail(
                EvalErrorKind::Argument,
                "Value cannot be null. (Parameter 'input')",
            )
        },
        Ok,
    )
}

#[cfg(test)]
mod tests {
    use crate::context::SimpleContext;
    use crate::expr::testing::{failure, s, show};
    use crate::expr::EvalErrorKind;

    /// `Match.Result` puts the match's groups into a replacement pattern as `Replace` would.
    #[test]
    fn match_result() {
        for (expr, want) in [
            (
                r#"@(Regex.Match("key=value", @"(\w+)=(\w+)").Result("$2:$1"))"#,
                "value:key",
            ),
            (
                r#"@(Regex.Match("key=value", @"(?<k>\w+)=").Result("[${k}] $& $$ $9"))"#,
                "[key] key= $ $9",
            ),
            (r#"@(Regex.Match("a1", @"\d").Result("$0$0"))"#, "11"),
            (r#"@(Regex.Replace("a1b2", @"\d", "<$&>"))"#, "a<1>b<2>"),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert_eq!(
            failure(r#"@(Regex.Match("a", @"\d").Result("$0"))"#),
            Some(EvalErrorKind::Other)
        );
    }

    /// APIM's reference example, and the other members as .NET answers them.
    #[test]
    fn apims_example_and_the_members() {
        let mut ctx = SimpleContext::new("GET", "/?p=a(%3F%3Db)&q=%5Cd");
        ctx.response_headers
            .push(("Cache-Control".into(), "public, max-age=60".into()));
        assert_eq!(
            show(
                r#"@(Regex.Match(context.Response.Headers.GetValueOrDefault("Cache-Control",""), @"max-age=(?<maxAge>\d+)").Groups["maxAge"]?.Value)"#,
                &ctx
            ),
            "60"
        );
        for (expr, want) in [
            (
                r#"@(Regex.IsMatch("ABC", "^abc$", RegexOptions.IgnoreCase))"#,
                "True",
            ),
            (
                r#"@(Regex.IsMatch("a\nb", "^b$", RegexOptions.IgnoreCase | RegexOptions.Multiline))"#,
                "True",
            ),
            (r#"@(Regex.IsMatch("a\nb", "^b$"))"#, "False"),
            (
                r#"@(Regex.IsMatch("a", "a", RegexOptions.None, TimeSpan.FromSeconds(1)))"#,
                "True",
            ),
            (
                r##"@(System.Text.RegularExpressions.Regex.Replace("a1b22", @"\d+", "#"))"##,
                "a#b#",
            ),
            (
                r#"@(Regex.Replace("2024-05-06", @"(\d+)-(\d+)-(\d+)", "$3/$2/$1"))"#,
                "06/05/2024",
            ),
            (r#"@(Regex.Split("a, b,c", @",\s*").Length)"#, "3"),
            (r#"@(Regex.Matches("a1b2c3", @"\d").Count)"#, "3"),
            (r#"@(Regex.Matches("a1b2c3", @"\d")[2].Value)"#, "3"),
            (
                r#"@(Regex.Matches("a1b2c3", @"\d").Select(m => m.Value).Last())"#,
                "3",
            ),
            (r#"@(Regex.Match("xx-42", @"(\d)(\d)").Index)"#, "3"),
            (
                r#"@(Regex.Match("xx-42", @"(\d)(\d)").Groups[2].Value)"#,
                "2",
            ),
            (r#"@(Regex.Match("xx-42", @"(\d)(\d)").Groups.Count)"#, "3"),
            (r#"@(Regex.Match("xx-42", @"(\d)(\d)").Length)"#, "2"),
            (r#"@(Regex.Match("none", @"\d").Success)"#, "False"),
            (
                r#"@(Regex.Match("none", @"\d").Groups["x"].Success)"#,
                "False",
            ),
            (r#"@(Regex.Match("é7", @"\d").ToString())"#, "7"),
            (r#"@(new Regex(@"^\w+$").IsMatch("abc"))"#, "True"),
            (
                r#"@{ var re = new Regex("b+", RegexOptions.IgnoreCase); return re.Replace("aBbc", "-"); }"#,
                "a-c",
            ),
            // A pattern computed per request is compiled then.
            (
                r#"@(Regex.IsMatch("a7", context.Request.Url.Query.GetValueOrDefault("q", "")))"#,
                "True",
            ),
        ] {
            assert_eq!(show(expr, &ctx), want, "{expr}");
        }
    }

    /// What the engine cannot run: refused at load for a constant pattern (by position), an
    /// `ArgumentException` for one computed per request; results are bounded before they exist.
    #[test]
    fn escape_and_unescape_as_dotnet() {
        assert_eq!(
            s(r#"@(Regex.Escape("1+1=2? (yes) $5 #x"))"#),
            r"1\+1=2\?\ \(yes\)\ \$5\ \#x"
        );
        assert_eq!(
            s(r#"@(Regex.Unescape(Regex.Escape("a.b*c [d] {e}")))"#),
            "a.b*c [d] {e}"
        );
        assert_eq!(s(r#"@(Regex.Unescape(@"\101\cA\t").Length)"#), "3");
        assert!(
            s(r#"@(Regex.Unescape(@"\q"))"#).starts_with("ERR Unrecognized escape sequence \\q")
        );
        assert!(s(r#"@(Regex.Unescape(@"\x4"))"#)
            .starts_with("ERR Insufficient or invalid hexadecimal digits"));
        assert!(s(r#"@(Regex.Unescape(@"a\"))"#).starts_with("ERR Illegal \\ at end of pattern"));
    }

    #[test]
    fn unsupported_patterns_and_bounds() {
        let e = s(r#"@(Regex.IsMatch("ab", "[a-z-[aeiou]]"))"#);
        assert!(
            e.contains("character class subtraction is not supported by certgate")
                || (e.contains("not supported by certgate") && e.contains("t.xml:1:23")),
            "{e}"
        );
        // Look-around and backreferences run, backtracking within a bound.
        assert_eq!(s(r#"@(Regex.IsMatch("ab", "a(?=b)"))"#), "True");
        assert_eq!(
            s(r#"@(Regex.Replace("aa bb cd", @"(\w)\1", "<$1>"))"#),
            "<a> <b> cd"
        );
        assert!(s(r#"@(Regex.IsMatch("a", "a", RegexOptions.RightToLeft))"#)
            .contains("RegexOptions.RightToLeft"));
        assert!(
            s(r#"@(Regex.CacheSize)"#).contains("'Regex.CacheSize' is not supported by certgate")
        );
        assert!(s(r#"@(Regex.IsMatch("a"))"#).contains("takes the input, the pattern"));
        assert!(s(r#"@(RegexOptions.Fast)"#).contains("does not contain a definition for 'Fast'"));
        // A pattern from the request that backtracks without end stops at the bound, as a
        // RegexMatchTimeoutException a policy may catch.
        let evil = SimpleContext::new(
            "GET",
            &format!("/?p=%5E(a%2B)%2B%5C1%24&s={}c", "a".repeat(40)),
        );
        let q = r#"context.Request.Url.Query.GetValueOrDefault("s", ""), context.Request.Url.Query.GetValueOrDefault("p", "")"#;
        assert!(show(&format!("@(Regex.IsMatch({q}))"), &evil).contains("timed out"));
        assert_eq!(
            show(
                &format!("@{{ try {{ return Regex.IsMatch({q}).ToString(); }} catch (RegexMatchTimeoutException) {{ return \"timeout\"; }} }}"),
                &evil
            ),
            "timeout"
        );
        let ctx = SimpleContext::new("GET", "/?p=%5Bb-%5Bc%5D%5D");
        assert!(show(
            r#"@(Regex.IsMatch("ab", context.Request.Url.Query.GetValueOrDefault("p", "")))"#,
            &ctx
        )
        .contains("not supported by certgate"));
        assert_eq!(
            failure(
                r#"@(Regex.IsMatch(context.Request.Url.Query.GetValueOrDefault("none"), "a"))"#
            ),
            Some(EvalErrorKind::Argument)
        );
        // A pattern a client sends that compiles past the per-request bound is an
        // ArgumentException, not a large program.
        let huge = SimpleContext::new("GET", &format!("/?p={}", r"\w{1000}".repeat(20)));
        assert!(show(
            r#"@(Regex.IsMatch("a", context.Request.Url.Query.GetValueOrDefault("p", "")))"#,
            &huge
        )
        .contains("certgate's bound"));
        // Every empty match of a 100 000-byte input replaced by 1 000 bytes: refused before the
        // 100 MB string is built.
        assert_eq!(
            failure(
                r#"@(Regex.Replace(new string[] {}.FirstOrDefault() ?? "".PadLeft(100000, 'x'), "", "".PadLeft(1000, 'y')))"#
            ),
            Some(EvalErrorKind::MemoryBudget)
        );
    }
}
