//! Property tests over the reader and the expression compiler: arbitrary and adversarial input
//! never panics, never hangs and never overflows the stack; whatever compiles also runs without
//! panicking. Cases: PROPTEST_CASES (the Makefile keeps CI bounded).
//!
//! Everything runs on threads with a 2 MiB stack — the size of a Tokio worker's — so recursion
//! limits are checked where the gateway will run them.

mod common;

use certgate_policy::run_pipeline;
use certgate_policy::{compile_route, CompileOptions};
use certgate_policy::{Fragments, Scope, ScopeDocument};
use certgate_policy::{Source, Spanned};
use proptest::prelude::*;

const STACK: usize = 2 * 1024 * 1024;

fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no panic, no stack overflow")
}

/// Compiles a whole document and, if it compiles, runs it for a client with a certificate and
/// one without. Returns whether it compiled.
fn compile_and_run(text: String) -> bool {
    let Ok(src) = Source::plain("fuzz.xml", text) else {
        return false;
    };
    let Ok(doc) = ScopeDocument::parse(Scope::Operation, src) else {
        return false;
    };
    let Ok(plan) = compile_route(&[&doc], &Fragments::new(), &CompileOptions::default()) else {
        return false;
    };
    for client in [common::Client::Valid, common::Client::None] {
        let mut ctx = common::ctx_for(client);
        ctx.request_headers.push(("X-A".into(), "1".into()));
        run_pipeline(&plan, &mut ctx, |_, _| Ok(()));
    }
    true
}

fn compile_expression(expr: String) -> bool {
    let text = format!(
        "<policies><inbound><set-variable name=\"v\" value='{}'/></inbound></policies>",
        expr.replace('\'', "&apos;")
    );
    compile_and_run(text)
}

/// Pieces that make the reader take its interesting paths.
fn xml_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("<".to_string()),
        Just(">".to_string()),
        Just("/>".to_string()),
        Just("</".to_string()),
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("=".to_string()),
        Just("@(".to_string()),
        Just("@{".to_string()),
        Just(")".to_string()),
        Just("}".to_string()),
        Just("&quot;".to_string()),
        Just("&amp;".to_string()),
        Just("&#x41;".to_string()),
        Just("&#99999999;".to_string()),
        Just("<!--".to_string()),
        Just("-->".to_string()),
        Just("<![CDATA[".to_string()),
        Just("]]>".to_string()),
        Just("{{".to_string()),
        Just("}}".to_string()),
        Just(" ".to_string()),
        Just("\n".to_string()),
        Just("policies".to_string()),
        Just("inbound".to_string()),
        Just("choose".to_string()),
        Just("when condition=".to_string()),
        Just("set-header name=\"x\"".to_string()),
        Just("value".to_string()),
        Just("$\"{".to_string()),
        Just("//".to_string()),
        "[a-z]{1,6}",
        any::<char>().prop_map(|c| c.to_string()),
    ]
}

fn expr_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("context".to_string()),
        Just(".Request".to_string()),
        Just(".Certificate".to_string()),
        Just(".Thumbprint".to_string()),
        Just(".Headers".to_string()),
        Just(".GetValueOrDefault(\"X-A\")".to_string()),
        Just(".Variables".to_string()),
        Just(".GetValueOrDefault<string>(\"v\")".to_string()),
        Just(".Deployment.Certificates.Any(c => c.Value.Thumbprint == \"A\")".to_string()),
        Just(".Length".to_string()),
        Just(".Substring(1)".to_string()),
        Just(".Split(',')".to_string()),
        Just("[0]".to_string()),
        Just("?.".to_string()),
        Just(" == ".to_string()),
        Just(" != ".to_string()),
        Just(" && ".to_string()),
        Just(" || ".to_string()),
        Just(" ?? ".to_string()),
        Just(" + ".to_string()),
        Just(" / ".to_string()),
        Just(" ? ".to_string()),
        Just(" : ".to_string()),
        Just("!".to_string()),
        Just("-".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("null".to_string()),
        Just("0".to_string()),
        Just("9223372036854775807".to_string()),
        Just("\"s\"".to_string()),
        Just("$\"{1}\"".to_string()),
        Just("(string)".to_string()),
        Just("(int)".to_string()),
        Just("new [] {1, 2}".to_string()),
        Just("x => x".to_string()),
        Just("DateTime.Now".to_string()),
        Just("Convert.FromBase64String(\"@@\")".to_string()),
        Just("String.Format(\"{0}{5}\", 1)".to_string()),
        Just(";".to_string()),
        Just("var v = ".to_string()),
        Just("return ".to_string()),
        Just("if (true) ".to_string()),
        Just("foreach (var i in new [] {1}) ".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        "[a-zA-Z_][a-zA-Z0-9_]{0,5}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn reader_survives_arbitrary_text(text in ".{0,400}") {
        on_small_stack(move || {
            let _ = compile_and_run(text.clone());
            let src = Source::plain("f.xml", text).ok();
            if let Some(src) = src {
                let _ = certgate_policy::parse_fragment(&src);
            }
        });
    }

    #[test]
    fn reader_survives_xml_shaped_text(pieces in prop::collection::vec(xml_piece(), 0..80)) {
        let text = pieces.concat();
        on_small_stack(move || {
            let _ = compile_and_run(format!("<policies><inbound>{text}</inbound></policies>"));
            let _ = compile_and_run(text);
        });
    }

    #[test]
    fn compiler_survives_expression_shaped_text(pieces in prop::collection::vec(expr_piece(), 1..40)) {
        let body = pieces.concat();
        on_small_stack(move || {
            let _ = compile_expression(format!("@({body})"));
            let _ = compile_expression(format!("@{{{body}}}"));
            let _ = compile_expression(format!("@{{ return {body}; }}"));
        });
    }

    #[test]
    fn compiler_survives_arbitrary_expression_text(body in ".{0,200}") {
        on_small_stack(move || {
            let _ = compile_expression(format!("@({body})"));
            let _ = compile_expression(format!("@{{{body}}}"));
        });
    }
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    /// Entity-escaped string literals hold anything a URL or base64 holds (`//`, `/*`, `+`, `=`);
    /// `{{` is named-value syntax and is excluded.
    #[test]
    fn entity_quoted_literals_always_compile(lit in "[A-Za-z0-9/+=:.()*#_-]{0,60}") {
        let text = format!("<policies><inbound><choose><when condition=\"@(context.Request.Method == &quot;{lit}&quot;)\"><return-response><set-status code=\"401\"/></return-response></when></choose></inbound></policies>");
        assert!(compile_and_run(text.clone()), "{text}");
    }

    #[test]
    fn certificate_parser_survives_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = certgate_policy::Certificate::from_der(&bytes);
        let _ = certgate_policy::Certificate::from_bytes(&bytes);
        let _ = certgate_policy::Name::from_der(&bytes);
    }

    #[test]
    fn certificate_parser_survives_mutated_certificates(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut der = common::pki().multi_san.cert_der();
        for (i, b) in flips {
            let at = i.index(der.len());
            der[at] = b;
        }
        let _ = certgate_policy::Certificate::from_der(&der);
        let at = cut.index(der.len());
        let _ = certgate_policy::Certificate::from_der(&der[..at]);
    }
}

/// Adversarial shapes that target recursion: each must be refused or handled, not crash.
#[test]
fn depth_bombs_are_refused_or_handled() {
    let n = 20_000;
    let cases: Vec<String> = vec![
        format!("@({}1{})", "(".repeat(n), ")".repeat(n)),
        format!("@({}true)", "!".repeat(n)),
        format!("@({}1)", "-".repeat(n)),
        format!("@(context{})", ".Request".repeat(n)),
        format!("@(\"a\"{})", ".ToUpper()".repeat(n)),
        format!("@({})", vec!["null"; n].join(" ?? ")),
        format!("@({})", vec!["true"; n].join(" || ")),
        format!("@({})", vec!["1"; n].join(" + ")),
        format!("@(true ? {}1{})", "true ? ".repeat(n), " : 2".repeat(n + 1)),
        format!("@({}1{})", "$\"{".repeat(200), "}\"".repeat(200)),
        format!("@{{{} return 1;{}}}", "{".repeat(n), "}".repeat(n)),
        format!("@{{{} return 1;}}", "if (true) ".repeat(n)),
        format!("@(new [] {{{}1{}}})", "new [] {".repeat(n), "}".repeat(n)),
        format!("@(new [] {{1}}.Any({}x => true))", "y => ".repeat(n)),
    ];
    for (i, c) in cases.into_iter().enumerate() {
        let compiled = on_small_stack(move || compile_expression(c));
        // Long || chains and + chains are legitimate up to a bound; the rest are refused.
        if compiled {
            assert!(i == 6 || i == 7, "case {i} compiled");
        }
    }
    // A deep element tree is refused by the reader.
    let xml = format!(
        "<policies><inbound>{}</inbound></policies>",
        "<choose><when condition=\"@(true)\">".repeat(500)
    );
    assert!(!on_small_stack(move || compile_and_run(xml)));
}

/// A long allow-list written as a condition compiles and runs (flattened, no recursion).
#[test]
fn long_allow_list_condition_runs() {
    let thumbs: Vec<String> = (0..2000)
        .map(|i| format!("context.Request.Certificate.Thumbprint == \"{i:040X}\""))
        .collect();
    let text = format!(
        "<policies><inbound><choose><when condition='@(context.Request.Certificate == null || !({}))'><return-response><set-status code=\"403\"/></return-response></when></choose></inbound></policies>",
        thumbs.join(" || ")
    );
    assert!(on_small_stack(move || compile_and_run(text)));
}

#[test]
fn spanned_offsets_are_total() {
    // Offsets past the end map to the end rather than panicking.
    let mut s = Spanned::new();
    s.push_str("abc", 10);
    assert_eq!(s.src_offset(100), 13);
    let t = Spanned::new().trimmed();
    assert_eq!(t.text, "");
}
