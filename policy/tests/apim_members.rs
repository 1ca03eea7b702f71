//! Walks APIM's table of the .NET types and members policy expressions may use, and the
//! `context` model (`tests/data/apim_members.txt`; `../shared/design/apim-reference.md` §2.3,
//! §2.4): every row either compiles and evaluates in a real expression to the result .NET gives,
//! or is refused when the policy is compiled with a message that names the type or member and
//! says certgate does not support it. Nothing in between: a row that fails any other way (a
//! syntax error, "does not contain a definition", a wrong result) fails the test.
//!
//! The table names every type of APIM's list at least once (checked against the list the checker
//! itself uses), so a type can be neither forgotten by the table nor silently unknown.

use std::collections::BTreeSet;

use certgate_policy::{SimpleContext, Source, Spanned, Template};

const TABLE: &str = include_str!("data/apim_members.txt");

struct Row {
    line: usize,
    ty: String,
    member: String,
    expr: String,
    expected: String,
}

fn rows() -> Vec<Row> {
    let mut out = Vec::new();
    for (i, l) in TABLE.lines().enumerate() {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let mut parts = l.splitn(3, " | ");
        let (Some(ty), Some(member), Some(rest)) = (parts.next(), parts.next(), parts.next())
        else {
            panic!(
                "line {}: expected 'type | member | expression => result'",
                i + 1
            );
        };
        let Some((expr, expected)) = rest.rsplit_once(" => ") else {
            panic!("line {}: expected 'expression => result'", i + 1);
        };
        out.push(Row {
            line: i + 1,
            ty: ty.trim().into(),
            member: member.trim().into(),
            expr: expr.trim().into(),
            expected: expected.trim().into(),
        });
    }
    out
}

/// The request the rows are evaluated against.
fn request() -> SimpleContext {
    let mut ctx = SimpleContext::new("POST", "/weather/Oslo?units=metric&days=3")
        .with_header("X-Tenant", "contoso")
        .with_header("Accept", "application/json")
        .with_header("Authorization", "Basic YWxpY2U6czNjcjN0");
    ctx.request_body = Some(br#"{"city":"Oslo","days":[1,2]}"#.to_vec());
    ctx
}

/// Compiles `expr` (`{ ... }` is a statement block, anything else an expression); the error
/// message on failure.
fn compile(expr: &str) -> Result<Template, String> {
    let text = if expr.starts_with('{') {
        format!("@{expr}")
    } else {
        format!("@({expr})")
    };
    let src = Source::plain("table.xml", text.as_str()).map_err(|e| e.to_string())?;
    let mut sp = Spanned::new();
    sp.push_str(&text, 0);
    Template::compile(&sp, &src, &Default::default()).map_err(|e| e.to_string())
}

#[test]
fn every_row_of_apims_table_runs_or_is_refused_by_name() {
    let rows = rows();
    let mut failures = Vec::new();
    let (mut supported, mut refused) = (0, 0);
    let mut types_supported = BTreeSet::new();
    for r in &rows {
        let at = format!("line {} ({}.{}): {}", r.line, r.ty, r.member, r.expr);
        match (compile(&r.expr), r.expected.as_str()) {
            (Err(e), "refused") => {
                let short = r.ty.rsplit('.').next().unwrap_or(&r.ty);
                let named = e.contains(&format!("'{}", r.member))
                    || e.contains(&format!(".{}'", r.member))
                    || e.contains(&format!("'{short}'"))
                    || e.contains(&format!("'{}'", r.ty))
                    || e.contains(&format!("APIM allows {} ", r.ty))
                    || (r.member == "(pattern)" && e.contains("the regular expression"));
                if e.contains("is not supported by certgate") && named {
                    refused += 1;
                } else {
                    failures.push(format!(
                        "{at}: refused without naming it as unsupported: {e}"
                    ));
                }
            }
            (Err(e), want) => failures.push(format!("{at}: expected {want}, refused: {e}")),
            (Ok(_), "refused") => failures.push(format!("{at}: expected a refusal, compiled")),
            (Ok(t), want) => match t.eval(&request()) {
                // "(empty)": the empty string (or null, which prints as it).
                Ok(v) if want == "(empty)" && v.to_dotnet_string().is_empty() => {
                    supported += 1;
                    types_supported.insert(r.ty.clone());
                }
                Ok(v) if v.to_dotnet_string() == want => {
                    supported += 1;
                    types_supported.insert(r.ty.clone());
                }
                Ok(v) => failures.push(format!(
                    "{at}: expected {want}, got {}",
                    v.to_dotnet_string()
                )),
                Err(e) => failures.push(format!("{at}: expected {want}, failed: {}", e.message)),
            },
        }
    }
    let listed: BTreeSet<&str> = rows.iter().map(|r| r.ty.as_str()).collect();
    for t in certgate_policy::apim_allowed_types() {
        if !listed.contains(t) {
            failures.push(format!("APIM's type {t} has no row in the table"));
        }
    }
    eprintln!(
        "APIM table: {} rows, {supported} supported, {refused} refused by name; {} of {} types \
         with at least one supported member",
        rows.len(),
        types_supported.len(),
        listed.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
