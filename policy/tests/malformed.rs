//! Malformed policy documents and expressions: each must fail with the right kind of error, at
//! the right line and column of the file, saying what was expected. None may panic.

mod common;

use certgate_policy::Source;
use certgate_policy::{compile_route, CompileError, CompileOptions, ErrorKind, NamedValues};
use certgate_policy::{Fragments, Scope, ScopeDocument};

fn compile(text: &str) -> Result<(), CompileError> {
    let mut nv = NamedValues::new();
    nv.insert("known", "value", false);
    nv.insert("pfx-password", "S3cr3t-P@ss", true);
    let doc = ScopeDocument::parse(Scope::Operation, Source::new("bad.xml", text, &nv)?)?;
    compile_route(
        &[&doc],
        &Fragments::new(),
        &CompileOptions {
            secrets: vec!["S3cr3t-P@ss".into()],
            ..Default::default()
        },
    )
    .map(|_| ())
}

/// Wraps statements in an inbound section; line 1 is `<policies><inbound>`.
fn inbound(body: &str) -> String {
    format!("<policies><inbound>\n{body}\n</inbound></policies>")
}

#[track_caller]
fn expect(text: &str, kind: ErrorKind, line: u32, col: u32, needle: &str) {
    let e = compile(text).expect_err("must not compile");
    assert_eq!(e.kind, kind, "{e}");
    assert_eq!((e.pos.line, e.pos.col), (line, col), "{e}");
    assert!(
        e.message.contains(needle),
        "message {:?} lacks {needle:?}",
        e.message
    );
    assert_eq!(&*e.file, "bad.xml");
}

/// What Windows editors and documents pasted from the web carry (issue 13): a UTF-8
/// byte-order mark before the root element, and no-break spaces (C# white space) inside an
/// expression. Both are accepted; a mark anywhere else is still text outside the root.
#[test]
fn a_byte_order_mark_and_no_break_spaces_are_accepted() {
    let policy = "<policies><inbound><set-header name=\"X-Sum\" exists-action=\"override\"><value>@((1\u{a0}+\u{a0}0x10).ToString())</value></set-header></inbound></policies>";
    compile(policy).unwrap();
    compile(&format!("\u{feff}{policy}")).unwrap();
    compile(&format!(
        "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{policy}"
    ))
    .unwrap();
    expect(
        &format!("{policy}\u{feff}"),
        ErrorKind::Xml,
        1,
        policy.chars().count() as u32 + 1,
        "text after the root element",
    );
}

/// A cast to a type APIM allows but certgate does not implement is refused by the type's name
/// (issue 13: it was "expected ')'"); a type APIM refuses too gets APIM's answer.
#[test]
fn casts_to_types_certgate_lacks_say_so_by_name() {
    let value = |e: &str| inbound(&format!("<set-variable name=\"v\" value=\"{e}\" />"));
    // `<set-variable name="v" value="` is 30 characters: `@(` is at 31, the body starts at 33.
    expect(
        &value(r#"@(((XDocumentType)context.Variables["x"]).ToString())"#),
        ErrorKind::ExpressionType,
        2,
        34,
        "'XDocumentType' is not supported by certgate (APIM allows System.Xml.Linq.XDocumentType",
    );
    // IResponse is supported (send-request), but set-variable holds only APIM's basic types.
    expect(
        &value("@((IResponse)context.Variables[&quot;r&quot;])"),
        ErrorKind::ExpressionType,
        2,
        31,
        "a variable cannot hold a value of type 'IResponse'",
    );
    expect(
        &value("@((System.IO.File)context.Variables[&quot;r&quot;])"),
        ErrorKind::ExpressionType,
        2,
        33,
        "the type 'System.IO.File' is not available in policy expressions",
    );
}

#[test]
fn xml_structure_errors() {
    expect("", ErrorKind::Xml, 1, 1, "empty document");
    expect(
        "<policies><inbound>\n</outbound></policies>",
        ErrorKind::Xml,
        2,
        1,
        "expected </inbound>",
    );
    expect(
        "<policies>\n  <inbound>",
        ErrorKind::Xml,
        2,
        3,
        "never closed",
    );
    expect(
        "<policies><inbound a=\"1\" a=\"2\"/></policies>",
        ErrorKind::Xml,
        1,
        26,
        "duplicate attribute",
    );
    expect(
        "<policies><inbound x=1/></policies>",
        ErrorKind::Xml,
        1,
        22,
        "expected a quoted value",
    );
    expect(
        "<policies>\n<!-- unclosed </policies>",
        ErrorKind::Xml,
        2,
        1,
        "comment is never closed",
    );
    expect(
        "<policies><![CDATA[ x </policies>",
        ErrorKind::Xml,
        1,
        11,
        "CDATA",
    );
    expect(
        "<policies></policies><policies/>",
        ErrorKind::Xml,
        1,
        22,
        "second root element",
    );
    expect("<!DOCTYPE x><policies/>", ErrorKind::Xml, 1, 1, "DOCTYPE");
    expect("<policies><inbound><set-header name=\"a\" exists-action=\"override\"><value>&#xZZ;</value></set-header></inbound></policies>", ErrorKind::Xml, 1, 73, "invalid character reference");
    expect(
        "<policies><inbound><3/></inbound></policies>",
        ErrorKind::Xml,
        1,
        21,
        "expected a name",
    );
}

#[test]
fn document_structure_errors() {
    expect(
        "<policy/>",
        ErrorKind::Structure,
        1,
        1,
        "expected <policies>",
    );
    expect(
        "<policies>\n  <inbound/>\n  <inbound/>\n</policies>",
        ErrorKind::Structure,
        3,
        3,
        "appears twice",
    );
    expect(
        "<policies><frontend/></policies>",
        ErrorKind::Structure,
        1,
        11,
        "unknown section <frontend>",
    );
    expect(
        "<policies><inbound><base/><base/></inbound></policies>",
        ErrorKind::Structure,
        1,
        27,
        "more than once",
    );
    expect(
        &inbound("  <choose><otherwise/></choose>"),
        ErrorKind::Structure,
        2,
        3,
        "at least one <when>",
    );
    expect(
        &inbound("  <choose><otherwise/><when condition=\"@(true)\"/></choose>"),
        ErrorKind::Structure,
        2,
        23,
        "after <otherwise>",
    );
    expect(
        "<policies><outbound><forward-request/></outbound></policies>",
        ErrorKind::Structure,
        1,
        21,
        "not allowed in the outbound section",
    );
    expect(
        &inbound("<include-fragment fragment-id=\"nope\"/>"),
        ErrorKind::InvalidValue,
        2,
        1,
        "unknown fragment 'nope'",
    );
}

#[test]
fn unknown_policies_and_attributes() {
    expect(
        &inbound("  <set-headr name=\"x\"/>"),
        ErrorKind::UnknownPolicy,
        2,
        3,
        "unknown policy <set-headr>",
    );
    expect(
        &inbound("<set-header name=\"x\" exist-action=\"skip\"><value>1</value></set-header>"),
        ErrorKind::UnknownAttribute,
        2,
        22,
        "unknown attribute 'exist-action'",
    );
    expect(
        &inbound("<return-response><set-statuss code=\"200\"/></return-response>"),
        ErrorKind::UnknownPolicy,
        2,
        18,
        "unexpected element <set-statuss>",
    );
    expect(
        &inbound("<choose><when condition=\"@(true)\"><bogus/></when></choose>"),
        ErrorKind::UnknownPolicy,
        2,
        35,
        "unexpected element <bogus>",
    );
    expect(&inbound("<validate-client-certificate><identities><identity thumb=\"AA\"/></identities></validate-client-certificate>"), ErrorKind::UnknownAttribute, 2, 52, "unknown attribute 'thumb'");
    expect(
        "<policies bogus=\"1\"/>",
        ErrorKind::UnknownAttribute,
        1,
        11,
        "unknown attribute 'bogus' on <policies>",
    );
}

#[test]
fn missing_and_invalid_values() {
    expect(
        &inbound("<set-status reason=\"x\"/>"),
        ErrorKind::MissingAttribute,
        2,
        1,
        "needs the attribute 'code'",
    );
    expect(
        &inbound("<set-status code=\"99\"/>"),
        ErrorKind::InvalidValue,
        2,
        19,
        "expected a whole number from 100 to 599",
    );
    expect(
        &inbound("<set-header name=\"x\" exists-action=\"replace\"><value>1</value></set-header>"),
        ErrorKind::InvalidValue,
        2,
        37,
        "expected override, skip, append or delete",
    );
    expect(
        &inbound("<ip-filter action=\"allow\"><address>300.1.1.1</address></ip-filter>"),
        ErrorKind::InvalidValue,
        2,
        27,
        "not an IP address",
    );
    expect(
        &inbound("<validate-client-certificate validate-trust=\"yes\"/>"),
        ErrorKind::InvalidValue,
        2,
        46,
        "expected true or false",
    );
    let ids: String = (0..11)
        .map(|i| format!("<identity thumbprint=\"{i:040X}\"/>"))
        .collect();
    expect(&inbound(&format!("<validate-client-certificate><identities>{ids}</identities></validate-client-certificate>")), ErrorKind::InvalidValue, 2, 30, "at most 10");
    expect(
        &inbound("<validate-client-certificate><identities><identity thumbprint=\"ABC\"/></identities></validate-client-certificate>"),
        ErrorKind::InvalidValue,
        2,
        64,
        "expected 40 hex digits",
    );
    expect(
        &inbound("<set-backend-service base-url=\"ftp://x\"/>"),
        ErrorKind::InvalidValue,
        2,
        32,
        "not an absolute http(s) URL",
    );
    expect(
        &inbound("<rate-limit-by-key calls=\"0\" renewal-period=\"60\" counter-key=\"k\"/>"),
        ErrorKind::InvalidValue,
        2,
        27,
        "expected a whole number from 1",
    );
    expect(&inbound("<validate-client-certificate><identities><identity subject=\"CN\"/></identities></validate-client-certificate>"), ErrorKind::InvalidValue, 2, 61, "expected '='");
}

#[test]
fn named_value_errors() {
    expect(
        &inbound("<set-variable name=\"a\" value=\"{{unknown-name}}\"/>"),
        ErrorKind::NamedValue,
        2,
        31,
        "unknown named value 'unknown-name'",
    );
    expect(
        &inbound("<set-variable name=\"a\" value=\"{{known\"/>"),
        ErrorKind::NamedValue,
        2,
        31,
        "without a closing",
    );
}

#[test]
fn expression_syntax_errors() {
    let sv = |e: &str| inbound(&format!("<set-variable name=\"v\" value=\"{e}\"/>"));
    // Column of the expression start: `<set-variable name="v" value="` is 30 characters.
    expect(
        &sv("@(1 +)"),
        ErrorKind::ExpressionSyntax,
        2,
        36,
        "expected an expression",
    );
    expect(
        &sv("@(\"unterminated)"),
        ErrorKind::ExpressionSyntax,
        2,
        31,
        "never closed",
    );
    expect(
        &sv("@(1) trailing"),
        ErrorKind::ExpressionSyntax,
        2,
        31,
        "continues after its closing bracket",
    );
    expect(
        &sv("@(a b)"),
        ErrorKind::ExpressionSyntax,
        2,
        35,
        "expected end of expression",
    );
    expect(
        &sv("@(context.Request.Headers.GetValueOrDefault(\"a\",))"),
        ErrorKind::ExpressionSyntax,
        2,
        79,
        "expected an expression",
    );
    expect(
        &sv("@{ var x = 1; }"),
        ErrorKind::ExpressionType,
        2,
        45,
        "not all code paths return a value",
    );
    expect(
        &sv("@{ if (true) { return 1 var y = 2; } return 1; }"),
        ErrorKind::ExpressionSyntax,
        2,
        55,
        "expected ';'",
    );
    expect(
        &sv("@(1 # 2)"),
        ErrorKind::ExpressionSyntax,
        2,
        35,
        "unexpected character '#'",
    );
    expect(
        &sv("@(\"\\q\")"),
        ErrorKind::ExpressionSyntax,
        2,
        34,
        "unknown escape",
    );
}

#[test]
fn expression_type_errors() {
    let cond = |e: &str| {
        inbound(&format!(
            "<choose>\n  <when condition=\"{e}\"><set-status code=\"200\"/></when>\n</choose>"
        ))
    };
    // `  <when condition="` is 19 characters: expressions start at column 20, their body at 22.
    expect(
        &cond("@(context.Request.Certificat == null)"),
        ErrorKind::ExpressionType,
        3,
        38,
        "does not contain a definition for 'Certificat'",
    );
    expect(
        &cond("@(context.Request.Method)"),
        ErrorKind::ExpressionType,
        3,
        20,
        "must be a bool expression, not 'string'",
    );
    expect(
        &cond("@(1 == \"1\")"),
        ErrorKind::ExpressionType,
        3,
        24,
        "operator '==' cannot be applied to operands of type 'int' and 'string'",
    );
    expect(
        &cond("@(context.Request.Headers.GetValueOrDefault(1) == null)"),
        ErrorKind::ExpressionType,
        3,
        64,
        "cannot implicitly convert type 'int' to 'string'",
    );
    expect(
        &cond("@(foo.Bar)"),
        ErrorKind::ExpressionType,
        3,
        22,
        "the name 'foo' does not exist",
    );
    expect(
        &cond("@((string)context.Variables[\"x\"] == 1)"),
        ErrorKind::ExpressionType,
        3,
        53,
        "cannot be applied",
    );
    expect(
        &cond("@(context.Variables[\"x\"].Length > 1)"),
        ErrorKind::ExpressionType,
        3,
        45,
        "'object' does not contain a definition for 'Length'",
    );
    expect(
        &cond("@(new Foo() == null)"),
        ErrorKind::ExpressionType,
        3,
        22,
        "cannot create 'Foo'",
    );
    expect(
        &cond("@(\"a\".Substring(\"b\") == null)"),
        ErrorKind::ExpressionType,
        3,
        36,
        "cannot implicitly convert type 'string' to 'int'",
    );
}

#[test]
fn secrets_never_appear_in_errors() {
    // The secret lands in an expression that fails to parse; the error must not echo it.
    let text = inbound("<set-variable name=\"v\" value=\"@({{pfx-password}} + 1)\"/>");
    let e = compile(&text).expect_err("must not compile");
    assert!(!e.message.contains("S3cr3t"), "{e}");
    assert!(!e.to_string().contains("S3cr3t"), "{e}");
    let text = inbound("<set-status code=\"{{pfx-password}}\"/>");
    let e = compile(&text).expect_err("must not compile");
    assert!(!e.to_string().contains("S3cr3t"), "{e}");
    assert!(e.to_string().contains("***"), "{e}");
}

#[test]
fn fragment_cycles_are_refused() {
    let mut f = Fragments::new();
    f.add(
        "a",
        Source::plain(
            "a.xml",
            "<fragment><include-fragment fragment-id=\"b\"/></fragment>",
        )
        .unwrap(),
    )
    .unwrap();
    f.add(
        "b",
        Source::plain(
            "b.xml",
            "<fragment>\n<include-fragment fragment-id=\"a\"/></fragment>",
        )
        .unwrap(),
    )
    .unwrap();
    let doc = ScopeDocument::parse(
        Scope::Api,
        Source::plain(
            "api.xml",
            "<policies><inbound><include-fragment fragment-id=\"a\"/></inbound></policies>",
        )
        .unwrap(),
    )
    .unwrap();
    let e = compile_route(&[&doc], &f, &CompileOptions::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Structure);
    // Reported where the cycle closes: b.xml's include of a.
    assert_eq!((&*e.file, e.pos.line, e.pos.col), ("b.xml", 2, 1));
    assert!(e.message.contains("a -> b"), "{e}");
    assert!(e.message.contains("includes itself"), "{e}");
}

/// Issue 14: APIM policies certgate refuses are refused by name with the reason, where they
/// stand (at a section's top level or inside `choose`), never as a generic unknown policy.
#[test]
fn apim_policies_certgate_refuses_say_why_where_they_stand() {
    expect(
        &inbound(r#"<log-to-eventhub logger-id="x">m</log-to-eventhub>"#),
        ErrorKind::UnknownPolicy,
        2,
        1,
        "<log-to-eventhub> is an APIM policy that needs Azure Event Hubs",
    );
    expect(
        &inbound(
            r#"<choose><when condition="@(true)"><azure-openai-token-limit tokens-per-minute="5"/></when></choose>"#,
        ),
        ErrorKind::UnknownPolicy,
        2,
        35,
        "needs Azure OpenAI",
    );
    expect(
        &inbound(r#"<xsl-transform><xsl:stylesheet/></xsl-transform>"#),
        ErrorKind::UnknownPolicy,
        2,
        1,
        "certgate does not implement yet",
    );
}
