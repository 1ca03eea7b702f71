//! Policy expressions: the C# subset of APIM (SPEC §3), compiled once per configuration.
//!
//! Pipeline: [`lexer`] → [`parser`] (syntax tree, [`ast`]) → [`check`] (types, member
//! resolution, constant folding → [`ir`]) → [`eval`] per request. This module ties the stages
//! to policy sources: it recognises `@(...)` and `@{...}` values and maps every error offset to
//! the line:column of the policy file.

pub(crate) mod ast;
mod bind;
pub(crate) mod check;
mod env;
pub(crate) mod eval;
mod fold;
pub(crate) mod ir;
pub(crate) mod lexer;
mod members;
pub(crate) mod parser;
pub(crate) mod scan;

use std::sync::Arc;

use crate::context::RequestContext;
use crate::context::RouteInfo;
use crate::error::{CompileError, ErrorKind};
use crate::source::{Source, Spanned};
use crate::value::Value;
use check::Checker;
pub use env::{EvalError, EvalErrorKind, BUDGET_EXCEEDED};
use ir::{Ir, Ty};

/// A compiled `@(...)` or `@{...}`.
#[derive(Clone, Debug)]
pub struct Expression {
    ir: Ir,
    ty: Ty,
    slots: u16,
}

impl Expression {
    /// An expression that always gives `v` (e.g. a literal `true` where a condition goes).
    pub fn constant(v: Value) -> Expression {
        let ty = match &v {
            Value::Bool(_) => Ty::Bool,
            Value::Int(_) => Ty::Int,
            Value::Str(_) => Ty::Str,
            _ => Ty::Object,
        };
        Expression {
            ir: Ir::Const(v),
            ty,
            slots: 0,
        }
    }

    pub fn ty(&self) -> &Ty {
        &self.ty
    }

    /// The value when the expression folded to a constant at compile time.
    pub fn as_const(&self) -> Option<&Value> {
        self.ir.as_const()
    }

    pub fn eval(&self, ctx: &dyn RequestContext) -> Result<Value, EvalError> {
        if let Ir::Const(v) = &self.ir {
            return Ok(v.clone());
        }
        let mut env = env::Env::new(ctx, self.slots);
        eval::eval(&self.ir, &mut env)
    }

    pub fn ir(&self) -> &Ir {
        &self.ir
    }
}

/// Whether a (trimmed) value is an expression: `@(...)` or `@{...}`.
pub(crate) fn is_expression(text: &str) -> bool {
    let t = text.trim();
    (t.starts_with("@(") && t.ends_with(')')) || (t.starts_with("@{") && t.ends_with('}'))
}

/// Compiles `value` if it is an expression; `Ok(None)` for a literal.
pub(crate) fn compile(
    value: &Spanned,
    src: &Source,
    route: &RouteInfo,
) -> Result<Option<Expression>, CompileError> {
    let t = value.trimmed();
    if !is_expression(&t.text) {
        if t.text.starts_with("@(") || t.text.starts_with("@{") {
            return Err(src.error(
                t.src_offset(0),
                ErrorKind::ExpressionSyntax,
                "expression is not closed; expected it to end with ')' or '}'",
            ));
        }
        return Ok(None);
    }
    let block = t.text.starts_with("@{");
    let inner_start = 2;
    let inner_end = t.text.len() - 1;
    let inner = &t.text[inner_start..inner_end];
    let at = |off: usize| t.src_offset(inner_start + off.min(inner.len()));
    let syntax =
        |e: parser::ParseError| src.error(at(e.offset), ErrorKind::ExpressionSyntax, e.message);
    let checked = if block {
        let stmts = parser::parse_block_body(inner).map_err(syntax)?;
        Checker::new(route).check_block(&stmts, inner.len())
    } else {
        let e = parser::parse_expression(inner).map_err(syntax)?;
        Checker::new(route).check_expression(&e)
    };
    let c = checked.map_err(|e| src.error(at(e.offset), ErrorKind::ExpressionType, e.message))?;
    Ok(Some(Expression {
        ir: c.ir,
        ty: c.ty,
        slots: c.slots,
    }))
}

/// An attribute or element value: a literal, or an expression evaluated per request.
#[derive(Clone, Debug)]
pub enum Template {
    /// Text without expressions.
    Literal(Arc<str>),
    /// An expression (the whole attribute value is one `@(...)`/`@{...}`).
    Expr(Expression),
}

impl Template {
    /// Compiles an attribute value or element text.
    pub fn compile(
        value: &Spanned,
        src: &Source,
        route: &RouteInfo,
    ) -> Result<Template, CompileError> {
        Ok(match compile(value, src, route)? {
            // A constant expression is a literal: nothing to do per request.
            Some(e) => match e.as_const() {
                Some(Value::Str(s)) => Template::Literal(s.clone()),
                _ => Template::Expr(e),
            },
            None => Template::Literal(value.text.as_str().into()),
        })
    }

    /// The value as a string (`ToString()` of an expression's result; null is empty).
    pub fn eval_str(&self, ctx: &dyn RequestContext) -> Result<Arc<str>, EvalError> {
        match self {
            Template::Literal(s) => Ok(s.clone()),
            Template::Expr(e) => Ok(match e.eval(ctx)? {
                Value::Str(s) => s,
                Value::Null => Arc::from(""),
                v => Arc::from(v.to_dotnet_string()),
            }),
        }
    }

    /// The value as an expression result (literals are strings).
    pub fn eval(&self, ctx: &dyn RequestContext) -> Result<Value, EvalError> {
        match self {
            Template::Literal(s) => Ok(Value::Str(s.clone())),
            Template::Expr(e) => e.eval(ctx),
        }
    }

    /// The text, when it is a literal.
    pub fn literal(&self) -> Option<&str> {
        match self {
            Template::Literal(s) => Some(s),
            Template::Expr(_) => None,
        }
    }
}

/// Compiling and evaluating one expression, for the tests beside each family.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::context::SimpleContext;

    /// Compiles `expr` (with its `@(...)`) as a whole attribute value; errors as text.
    fn compiled(expr: &str) -> Result<Expression, String> {
        let src = Source::plain("t.xml", expr).map_err(|e| e.to_string())?;
        let mut sp = Spanned::new();
        sp.push_str(expr, 0);
        compile(&sp, &src, &RouteInfo::default())
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "literal".to_string())
    }

    /// `expr` against `ctx`, as .NET would print the result, or `ERR ...`.
    pub(crate) fn show(expr: &str, ctx: &SimpleContext) -> String {
        compiled(expr)
            .and_then(|e| e.eval(ctx).map_err(|e| e.message))
            .map(|v| v.to_dotnet_string())
            .unwrap_or_else(|e| format!("ERR {e}"))
    }

    /// [`show`] against an empty GET request.
    pub(crate) fn s(expr: &str) -> String {
        show(expr, &SimpleContext::default())
    }

    /// Asserts that `expr` fails (to compile or to run) with a message containing `message`.
    pub(crate) fn assert_refused(expr: &str, message: &str) {
        let got = s(expr);
        assert!(
            got.starts_with("ERR") && got.contains(message),
            "{expr}: {got}"
        );
    }

    /// The kind of the failure `expr` raises against an empty GET request (`None` when it does
    /// not compile or does not fail).
    pub(crate) fn failure(expr: &str) -> Option<EvalErrorKind> {
        let e = compiled(expr).ok()?;
        e.eval(&SimpleContext::default()).err().map(|e| e.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::testing::s;

    #[test]
    fn failures_are_typed_by_the_dotnet_exception_they_stand_for() {
        use super::testing::failure;
        use EvalErrorKind::*;
        for (expr, kind) in [
            ("@(context.Request.Certificate.Thumbprint)", NullReference),
            (
                "@((int)context.Variables[\"x\" + context.Request.Method])",
                KeyNotFound,
            ),
            ("@(Convert.ToInt32(context.Request.Method))", Format),
            (
                "@(\"ab\".Substring(context.Request.Method.Length))",
                OutOfRange,
            ),
            ("@(1 / (context.Request.Method.Length - 3))", DivideByZero),
            ("@(context.Request.Method.Replace(\"\", \"x\"))", Argument),
            ("@((int)(object)context.Request.Method)", InvalidCast),
            (
                "@(9223372036854775807 + context.Request.Method.Length)",
                Overflow,
            ),
        ] {
            assert_eq!(failure(expr), Some(kind), "{expr}");
        }
        assert_eq!(failure("@(context.Request.Method)"), None);
    }

    #[test]
    fn basic_values() {
        assert_eq!(s(r#"@("a" + 1 + true)"#), "a1True");
        assert_eq!(s("@(1 + 2 * 3)"), "7");
        assert_eq!(s("@(7 / 2)"), "3");
        assert_eq!(s("@(7.0 / 2)"), "3.5");
        assert_eq!(s(r#"@($"x{1+1:D3}y")"#), "x002y");
        assert_eq!(s(r#"@("abc".ToUpper().Substring(1))"#), "BC");
        assert_eq!(s(r#"@(String.Join(",", "a;b".Split(';')))"#), "a,b");
        assert_eq!(s(r#"@(new [] {1, 2, 3}.Where(x => x > 1).Count())"#), "2");
        assert_eq!(
            s(r#"@(Convert.ToBase64String(Encoding.UTF8.GetBytes("hi")))"#),
            "aGk="
        );
        assert_eq!(s(r#"@(System.Net.WebUtility.UrlEncode("a b"))"#), "a+b");
        assert_eq!(s(r#"@(TimeSpan.FromMinutes(90).TotalHours)"#), "1.5");
        assert_eq!(s(r#"@((string)null ?? "d")"#), "d");
        assert_eq!(
            s(r#"@("x".Equals("X", StringComparison.OrdinalIgnoreCase))"#),
            "True"
        );
        assert_eq!(
            s("@{ var n = 0; foreach (var x in new [] {1,2,3}) { n += x; } return n; }"),
            "6"
        );
    }

    #[test]
    fn runtime_failures() {
        assert!(s(r#"@(Convert.FromBase64String(context.Request.Method))"#)
            .starts_with("ERR The input is not a valid Base-64"));
        assert!(s(r#"@(context.Request.Certificate.Thumbprint)"#).contains("Object reference"));
        assert!(s("@(1 / (context.Request.Method.Length - 3))").contains("divide by zero"));
        assert_eq!(
            s(r#"@(context.Request.Certificate?.Thumbprint ?? "none")"#),
            "none"
        );
    }

    #[test]
    fn constant_folding() {
        let src = Source::plain("t.xml", "").unwrap();
        let mut sp = Spanned::new();
        sp.push_str(r#"@(false && context.Request.Headers.ContainsKey("x"))"#, 0);
        let e = compile(&sp, &src, &RouteInfo::default()).unwrap().unwrap();
        assert!(matches!(e.as_const(), Some(Value::Bool(false))));
        let mut sp = Spanned::new();
        sp.push_str(r#"@(true && context.Request.Headers.ContainsKey("x"))"#, 0);
        let e = compile(&sp, &src, &RouteInfo::default()).unwrap().unwrap();
        assert!(matches!(
            e.ir(),
            Ir::Call(ir::Builtin::Context(ir::ContextFn::HeaderContains), _)
        ));
    }

    #[test]
    fn thumbprint_lookup_is_a_set_probe() {
        let src = Source::plain("t.xml", "").unwrap();
        let mut sp = Spanned::new();
        sp.push_str("@(context.Deployment.Certificates.Any(c => c.Value.Thumbprint == context.Request.Certificate.Thumbprint))", 0);
        let e = compile(&sp, &src, &RouteInfo::default()).unwrap().unwrap();
        assert!(
            matches!(
                e.ir(),
                Ir::Call(
                    ir::Builtin::Context(ir::ContextFn::CertsHasRequestCertificate),
                    _
                )
            ),
            "{:?}",
            e.ir()
        );
    }
}
#[cfg(test)]
mod local_functions {
    use super::testing::{assert_refused, s};

    /// Local functions: block and expression bodies, void ones, parameters named as the
    /// caller's locals, calls before the declaration, functions calling others; recursion and
    /// wrong calls refused by name.
    #[test]
    fn local_functions_are_inlined_where_they_are_called() {
        for (expr, want) in [
            (
                r#"@{ int Twice(int x) { return x * 2; } return Twice(3) + Twice(4); }"#,
                "14",
            ),
            (
                r#"@{ string Greet(string who) => "hi " + who; return Greet("bob"); }"#,
                "hi bob",
            ),
            (
                r#"@{ var x = 10; int Add(int x, int y) => x + y; return Add(1, x); }"#,
                "11",
            ),
            (
                r#"@{ return Half(5); double Half(int n) { return n / 2.0; } }"#,
                "2.5",
            ),
            (
                r#"@{ double One() { return 1; } return One() / 2; }"#,
                "0.5",
            ),
            (
                r#"@{ var sb = new StringBuilder(); void Put(string s) { if (s == null) { return; } sb.Append(s); } Put("a"); Put(null); Put("b"); return sb.ToString(); }"#,
                "ab",
            ),
            (
                r#"@{ static bool IsEven(int n) => n % 2 == 0; int Count(int[] xs) { var c = 0; foreach (var x in xs) { if (IsEven(x)) { c++; } } return c; } return Count(new [] {1, 2, 4}); }"#,
                "2",
            ),
            (
                r#"@{ int Sq(int n) => n * n; return new [] {1, 2, 3}.Select(v => Sq(v)).Sum(); }"#,
                "14",
            ),
            (
                r#"@{ string Kind(int n) { switch (n) { case 0: return "zero"; default: return "some"; } } return Kind(0) + Kind(2); }"#,
                "zerosome",
            ),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert_refused(
            r#"@{ int Fact(int n) { return n <= 1 ? 1 : n * Fact(n - 1); } return Fact(5); }"#,
            "'Fact' calls itself; a recursive local function is not supported by certgate",
        );
        assert_refused(
            r#"@{ int A(int n) => B(n); int B(int n) => A(n); return A(1); }"#,
            "calls itself",
        );
        assert_refused(
            r#"@{ int F(int n) => n; return F(1, 2); }"#,
            "'F' takes 1 arguments",
        );
        // `++` and `--`, prefix and postfix, on locals.
        assert_eq!(
            s(
                r#"@{ var i = 5; var a = i++; var b = ++i; var c = i--; var d = --i; return a + "," + b + "," + c + "," + d + "," + i; }"#
            ),
            "5,7,7,5,5"
        );
        assert_eq!(
            s(r#"@{ var n = 0; foreach (var x in new [] {1, 2, 3}) { n++; } return n; }"#),
            "3"
        );
        assert_refused(
            r#"@{ var a = new [] {1}; a[0]++; return a[0]; }"#,
            "'++' and '--' step a local variable",
        );
        assert_refused(
            r#"@{ int F(int n) { if (n > 0) { return 1; } } return F(1); }"#,
            "not all code paths of 'F' return a value",
        );
        assert_refused(
            r#"@{ void F() { return 1; } F(); return 0; }"#,
            "a void local function returns no value",
        );
        assert_refused(
            r#"@{ int F() => 1; int F() => 2; return F(); }"#,
            "already defined",
        );
        assert_refused(
            r#"@{ int F(int n) => "x"; return F(1); }"#,
            "cannot implicitly convert",
        );
        // A function called from many places: each call is a copy, within a bound.
        let wide = format!(
            "@{{ int F(int n) => n; var s = 0; {} return s; }}",
            "s += F(1); ".repeat(300)
        );
        assert_refused(&wide, "more than 256 calls of local functions");
    }
}
#[cfg(test)]
mod loops {
    use super::testing::{assert_refused, failure, s};
    use super::EvalErrorKind;

    /// `while`, `do`/`while`, `for`, `break` and `continue`, with C#'s scoping; every pass a step
    /// of the budget.
    #[test]
    fn loops_as_csharp_runs_them() {
        for (expr, want) in [
            (r#"@{ var i = 0; while (i < 3) { i++; } return i; }"#, "3"),
            (
                r#"@{ var n = 0; for (var i = 0; i < 4; i++) { n += i; } return n; }"#,
                "6",
            ),
            (
                r#"@{ var i = 10; do { i++; } while (i < 3); return i; }"#,
                "11",
            ),
            (
                r#"@{ var n = 0; for (var i = 0; ; i++) { if (i == 5) { break; } if (i % 2 == 0) { continue; } n += i; } return n; }"#,
                "4",
            ),
            (
                r#"@{ var s = ""; foreach (var c in "abcd") { if (c == 'b') continue; if (c == 'd') break; s += c; } return s; }"#,
                "ac",
            ),
            (
                r#"@{ int i, j; var n = 0; for (i = 0, j = 10; i < j; i++, j--) { n++; } return n; }"#,
                "5",
            ),
            (
                r#"@{ var n = 0; for (var i = 0; i < 3; i++) { for (var k = 0; k < 3; k++) { if (k == 1) break; n++; } } return n; }"#,
                "3",
            ),
            (
                r#"@{ var i = 0; while (true) { i++; if (i > 4) { return i; } } }"#,
                "5",
            ),
            (
                r#"@{ var n = 0; for (var i = 0; i < 3; i++) { switch (i) { case 1: continue; default: n += 10; break; } } return n; }"#,
                "20",
            ),
            (
                r#"@{ for (var i = 0; i < 2; i++) { } for (var i = 0; i < 2; i++) { } return 1; }"#,
                "1",
            ),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert_eq!(
            failure(r#"@{ var i = 0; while (true) { i++; } }"#),
            Some(EvalErrorKind::StepLimit)
        );
        assert_refused(r#"@{ break; return 1; }"#, "'break' outside a loop");
        assert_refused(
            r#"@{ foreach (var x in new [] {1}) { var f = new [] {1}.Select(y => { continue; return y; }); } return 1; }"#,
            "'continue' outside a loop",
        );
        assert_refused(r#"@{ foreach (var x in new [] {1}) { switch (x) { case 1: if (x > 0) { break; } return 2; default: break; } } return 1; }"#, "a 'break' inside a switch section other than its last statement is not supported by certgate");
        assert_refused(
            r#"@{ var i = 0; while (i < 3) { i++; if (i == 2) break; } }"#,
            "not all code paths",
        );
        assert_refused(
            r#"@{ for (var i = 0; i < 3; i + 1) { } return 1; }"#,
            "only assignment and call expressions",
        );
    }
}

#[cfg(test)]
mod patterns_and_named_refusals {
    use super::testing::{assert_refused, s};

    /// `is T name`, `is not null`, `is not T`; `const` locals.
    #[test]
    fn type_patterns_bind_what_they_test() {
        for (expr, want) in [
            (
                r#"@{ object o = "text"; if (o is string t) { return t.Length; } return -1; }"#,
                "4",
            ),
            (
                r#"@{ object o = 5; if (!(o is string t)) { return "not a string"; } return t; }"#,
                "not a string",
            ),
            (
                r#"@(context.Variables.GetValueOrDefault("x") is not null)"#,
                "False",
            ),
            (r#"@((object)"a" is not int)"#, "True"),
            (r#"@{ const int limit = 3; return limit * 2; }"#, "6"),
            (
                r#"@{ object o = JObject.Parse("{\"a\":1}"); return o is JObject j && j.ContainsKey("a"); }"#,
                "True",
            ),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
    }

    /// C# constructs certgate does not run say so by name, not as a syntax error elsewhere.
    #[test]
    fn unsupported_constructs_are_named() {
        for (expr, named) in [
            (
                r#"@(context.Request.Method switch { "GET" => 1, _ => 2 })"#,
                "switch expressions",
            ),
            (r#"@((1, 2).Item1)"#, "tuple expressions"),
            (
                r#"@("abc"[1..2])"#,
                "ranges ('a..b') are not supported by certgate",
            ),
            (r#"@(new [] {1, 2}[^1])"#, "indices from the end"),
            (r#"@(1 << 2)"#, "shift operators"),
            (r#"@(~1)"#, "the operator '~' is not supported by certgate"),
            (
                r#"@{ lock (context) { } return 1; }"#,
                "'lock' statements are not supported by certgate",
            ),
            (
                r#"@(checked(1 + 2))"#,
                "'checked' is not supported by certgate",
            ),
            (r#"@(sizeof(int))"#, "'sizeof' is not supported by certgate"),
            (
                r#"@{ int x = default; return x; }"#,
                "'default' without a type",
            ),
            (
                r#"@{ var (a, b) = Tuple.Create(1, 2); return a; }"#,
                "deconstruction",
            ),
            (
                r#"@(context.Request.Method is "GET" or "POST")"#,
                "patterns other than a type",
            ),
            (r#"@((object)1 is int or long)"#, "pattern combinators"),
        ] {
            assert_refused(expr, named);
            assert!(
                s(expr).contains("not supported by certgate"),
                "{expr}: {}",
                s(expr)
            );
        }
    }
}
#[cfg(test)]
mod more_linq {
    use super::testing::{assert_refused, failure, s};
    use super::EvalErrorKind;

    /// `ThenBy`, `SelectMany`, `TakeWhile`/`SkipWhile`, `Union`/`Intersect`/`Except`,
    /// `Enumerable.Range`/`Repeat`/`Empty`, and `String.Concat` of a sequence.
    #[test]
    fn the_rest_of_linq_policies_use() {
        for (expr, want) in [
            (
                r#"@(string.Join(",", new [] {"bb", "a", "cc", "b"}.OrderBy(x => x.Length).ThenBy(x => x)))"#,
                "a,b,bb,cc",
            ),
            (
                r#"@(string.Join(",", new [] {"bb", "a", "cc", "b"}.OrderBy(x => x.Length).ThenByDescending(x => x)))"#,
                "b,a,cc,bb",
            ),
            (
                r#"@(string.Join(",", new [] {"ab", "bb", "aa", "ba"}.OrderBy(x => x.Length).ThenBy(x => x[1]).ThenBy(x => x[0])))"#,
                "aa,ba,ab,bb",
            ),
            (
                r#"@(string.Join(",", new [] {"a,b", "c"}.SelectMany(x => x.Split(','))))"#,
                "a,b,c",
            ),
            (
                r#"@(new [] {1, 2}.SelectMany(x => new List<int> { x, x }).Count())"#,
                "4",
            ),
            (
                r#"@(string.Join(",", new [] {1, 2, 5, 1}.TakeWhile(x => x < 3)) + "/" + string.Join(",", new [] {1, 2, 5, 1}.SkipWhile(x => x < 3)))"#,
                "1,2/5,1",
            ),
            (
                r#"@(string.Join(",", new [] {1, 2, 2}.Union(new [] {3, 1})) + "/" + string.Join(",", new [] {1, 2, 2, 3}.Intersect(new [] {2, 3})) + "/" + string.Join(",", new [] {1, 2, 2, 3}.Except(new [] {3})))"#,
                "1,2,3/2,3/1,2",
            ),
            (
                r#"@(Enumerable.Range(1, 4).Sum() + "/" + string.Join("", Enumerable.Repeat("ab", 3)) + "/" + Enumerable.Empty<string>().Count())"#,
                "10/ababab/0",
            ),
            (
                r#"@(string.Concat(new [] {"a", "b"}) + string.Concat(new List<int> { 1, 2 }) + string.Concat("x", 1))"#,
                "ab12x1",
            ),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert_refused(
            r#"@(new [] {1}.ThenBy(x => x))"#,
            "'ThenBy' follows OrderBy",
        );
        assert_refused(r#"@(new [] {1}.SelectMany(x => x))"#, "gives a sequence");
        for (expr, want) in [
            (
                r#"@(new [] {"a", "bb"}.ToDictionary(x => x, x => x.Length)["bb"])"#,
                "2",
            ),
            (
                r#"@(new [] {"a", "bb"}.ToDictionary(k => k.Length)[1])"#,
                "a",
            ),
            (r#"@(new [] {1, 1, 2}.ToHashSet().Count)"#, "2"),
            (r#"@(new object[] {1, "a", 2}.OfType<int>().Sum())"#, "3"),
            (
                r#"@(JArray.Parse("[1,2]").Select(t => (object)t).Count())"#,
                "2",
            ),
            (
                r#"@(new object[] {"a", "b"}.Cast<string>().First().ToUpper())"#,
                "A",
            ),
            (
                r#"@(new [] {1, 2}.SequenceEqual(new [] {1, 2}) + "/" + new [] {1, 2}.SequenceEqual(new [] {2, 1}))"#,
                "True/False",
            ),
            (
                r#"@(string.Join(",", new [] {2}.Append(3).Prepend(1)))"#,
                "1,2,3",
            ),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        for (expr, want) in [
            (
                r#"@(string.Join(",", new [] {"a", "b"}.Select((x, i) => x + i)))"#,
                "a0,b1",
            ),
            (
                r#"@(string.Join(",", new List<int> { 5, 6, 7 }.Where((x, i) => i != 1)))"#,
                "5,7",
            ),
            (
                r#"@(string.Join(",", new [] {1, 2, 3}.Zip(new [] {10, 20}, (a, b) => a + b)))"#,
                "11,22",
            ),
            (
                r#"@(new [] {"x"}.Zip(new List<string> { "y", "z" }, (a, b) => a + b).Single())"#,
                "xy",
            ),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert_eq!(
            failure(r#"@(new [] {"a", "a"}.ToDictionary(x => x))"#),
            Some(EvalErrorKind::Argument)
        );
        assert_eq!(
            failure(r#"@(new object[] {1, "a"}.Cast<int>().Sum())"#),
            Some(EvalErrorKind::InvalidCast)
        );
        // Typed lambda parameters, aligned interpolation and String.Format alignment.
        assert_eq!(s(r#"@(new [] {1, 2}.Select((int x) => x * 2).Sum())"#), "6");
        assert_eq!(s(r#"@($"[{7,3}|{7,-3}|{7,4:D2}]")"#), "[  7|7  |  07]");
        assert_eq!(
            s(r#"@(string.Format("[{0,5}|{1,-4}]", "ab", 1))"#),
            "[   ab|1   ]"
        );
        assert_refused(
            r#"@(string.Join(",", from x in new [] {3, 1} where x > 1 select x))"#,
            "query expressions ('from x in ... select ...') are not supported by certgate",
        );
        assert_eq!(
            failure(r#"@(Enumerable.Range(0, 100000000).Count())"#),
            Some(EvalErrorKind::MemoryBudget)
        );
        assert_eq!(
            failure(r#"@(Enumerable.Range(0, -1))"#),
            Some(EvalErrorKind::OutOfRange)
        );
    }
}
