//! Policy semantics: scope merging through `<base/>`, on-error from every section with every
//! `context.LastError` field, named values, and each supported policy's observable behaviour.

mod common;

use std::sync::Arc;
use std::time::Duration;

use certgate_policy::pki::crl;
use certgate_policy::RouteInfo;
use certgate_policy::Source;
use certgate_policy::Value;
use certgate_policy::{compile_route, CompileOptions, NamedValues, Plan};
use certgate_policy::{run_pipeline, BackendFailure, PipelineResult};
use certgate_policy::{BackendTarget, RequestContext, SimpleContext};
use certgate_policy::{Fragments, Scope, ScopeDocument};
use certgate_policy::{SentChain, TrustStore};
use common::*;

fn doc(scope: Scope, name: &str, text: &str, nv: &NamedValues) -> ScopeDocument {
    ScopeDocument::parse(scope, Source::new(name, text, nv).unwrap())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn plan_of(docs: &[&ScopeDocument]) -> Plan {
    let route = RouteInfo {
        api_name: "Weather".into(),
        operation_name: "GetToday".into(),
        api_id: "weather".into(),
        operation_id: "get-today".into(),
        ..Default::default()
    };
    compile_route(
        docs,
        &Fragments::new(),
        &CompileOptions {
            route,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn ok_backend(c: &mut dyn RequestContext, _: Duration) -> Result<(), BackendFailure> {
    c.set_response_status(200, None);
    c.set_response_body(b"from backend".to_vec());
    Ok(())
}

fn run(plan: &Plan) -> (PipelineResult, SimpleContext) {
    let mut ctx = ctx_for(Client::Valid);
    let r = run_pipeline(plan, &mut ctx, ok_backend);
    (r, ctx)
}

const GLOBAL: &str = r#"<policies>
  <inbound><set-header name="X-Order" exists-action="append"><value>global</value></set-header></inbound>
  <backend><forward-request timeout="5"/></backend>
  <outbound><set-header name="X-Out" exists-action="append"><value>global</value></set-header></outbound>
  <on-error><set-header name="X-Err" exists-action="append"><value>global</value></set-header></on-error>
</policies>"#;

#[test]
fn scopes_merge_through_base_in_order() {
    let nv = NamedValues::new();
    let g = doc(Scope::Global, "global.xml", GLOBAL, &nv);
    let api = doc(
        Scope::Api,
        "api.xml",
        r#"<policies><inbound><set-header name="X-Order" exists-action="append"><value>api-before</value></set-header><base/><set-header name="X-Order" exists-action="append"><value>api-after</value></set-header></inbound><outbound><base/></outbound></policies>"#,
        &nv,
    );
    let op = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><inbound><base/><set-header name="X-Order" exists-action="append"><value>operation</value></set-header></inbound></policies>"#,
        &nv,
    );
    let (r, ctx) = run(&plan_of(&[&g, &api, &op]));
    assert_eq!(r, PipelineResult::Proxied);
    assert_eq!(
        ctx.request_header_list("X-Order"),
        vec!["api-before", "global", "api-after", "operation"]
    );
    // The operation leaves out outbound: it inherits the API's, which includes global's.
    assert_eq!(ctx.response_header_values("X-Out"), vec!["global"]);
}

#[test]
fn a_scope_without_base_drops_its_parent() {
    let nv = NamedValues::new();
    let g = doc(Scope::Global, "global.xml", GLOBAL, &nv);
    let op = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><inbound><set-header name="X-Order" exists-action="append"><value>operation-only</value></set-header></inbound><outbound/></policies>"#,
        &nv,
    );
    let (_, ctx) = run(&plan_of(&[&g, &op]));
    assert_eq!(ctx.request_header_list("X-Order"), vec!["operation-only"]);
    assert!(
        ctx.response_header_values("X-Out").is_empty(),
        "empty outbound without <base/> drops global's"
    );
    // The backend section is inherited (not written by the operation): still forwards.
    assert_eq!(ctx.status, 200);
}

#[test]
fn nested_choose_and_otherwise() {
    let nv = NamedValues::new();
    let p = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><inbound>
<choose>
  <when condition="@(context.Request.Method == &quot;POST&quot;)"><set-variable name="path" value="post"/></when>
  <when condition="@(context.Request.Headers.ContainsKey("X-Tier"))">
    <choose>
      <when condition="@(context.Request.Headers.GetValueOrDefault("X-Tier") == "gold")"><set-variable name="path" value="gold"/></when>
      <otherwise><set-variable name="path" value="@("tier-" + context.Request.Headers.GetValueOrDefault("X-Tier", "none"))"/></otherwise>
    </choose>
  </when>
  <otherwise><set-variable name="path" value="default"/></otherwise>
</choose>
<return-response><set-status code="200"/><set-body>@(context.Variables.GetValueOrDefault<string>("path"))</set-body></return-response>
</inbound></policies>"#,
        &nv,
    );
    let plan = plan_of(&[&p]);
    for (method, header, want) in [
        ("POST", None, "post"),
        ("GET", Some("gold"), "gold"),
        ("GET", Some("silver"), "tier-silver"),
        ("GET", None, "default"),
    ] {
        let mut ctx = SimpleContext::new(method, "/");
        if let Some(h) = header {
            ctx.request_headers.push(("x-tier".into(), h.into()));
        }
        assert_eq!(
            run_pipeline(&plan, &mut ctx, ok_backend),
            PipelineResult::Responded
        );
        assert_eq!(ctx.body_text(), Some(want), "{method} {header:?}");
    }
}

const ON_ERROR_REPORT: &str = r#"<on-error>
  <set-header name="X-Error-Reason" exists-action="override"><value>@(context.LastError.Reason)</value></set-header>
  <set-header name="X-Error" exists-action="override"><value>@(context.LastError.Source + "|" + context.LastError.Scope + "|" + context.LastError.Section + "|" + context.LastError.Path + "|" + context.LastError.PolicyId)</value></set-header>
  <set-header name="X-Error-Message" exists-action="override"><value>@(context.LastError.Message)</value></set-header>
</on-error>"#;

#[test]
fn on_error_from_inbound_with_every_last_error_field() {
    let nv = NamedValues::new();
    let text = format!(
        r#"<policies><inbound><set-variable name="a" value="1"/><check-header id="hdr-check" name="X-Api-Key" failed-check-httpcode="401" failed-check-error-message="Missing key" ignore-case="false"/><set-variable name="never" value="x"/></inbound>{ON_ERROR_REPORT}</policies>"#
    );
    let p = doc(Scope::Api, "api.xml", &text, &nv);
    let (r, ctx) = run(&plan_of(&[&p]));
    assert_eq!(r, PipelineResult::Error);
    assert_eq!((ctx.status, ctx.reason.as_str()), (401, "Unauthorized"));
    assert_eq!(
        ctx.response_header_values("X-Error-Reason"),
        vec!["HeaderNotFound"]
    );
    assert_eq!(
        ctx.response_header_values("X-Error"),
        vec!["check-header|api|inbound|inbound/check-header[1]|hdr-check"]
    );
    assert_eq!(
        ctx.response_header_values("X-Error-Message"),
        vec!["Missing key"]
    );
    assert_eq!(
        ctx.body_text(),
        Some(r#"{"statusCode":401,"message":"Missing key"}"#)
    );
    assert!(
        ctx.state.variable("never").is_none(),
        "the rest of the section is skipped"
    );
    assert!(ctx.state.variable("a").is_some());
}

#[test]
fn on_error_from_backend_connection_failure_and_timeout() {
    let nv = NamedValues::new();
    let g = doc(Scope::Global, "global.xml", &format!("<policies><backend><forward-request timeout=\"2\"/></backend>{ON_ERROR_REPORT}</policies>"), &nv);
    let plan = plan_of(&[&g]);
    let mut ctx = ctx_for(Client::Valid);
    let r = run_pipeline(&plan, &mut ctx, |_, t| {
        assert_eq!(t, Duration::from_secs(2));
        Err(BackendFailure::Connect("connection refused".into()))
    });
    assert_eq!(r, PipelineResult::Error);
    assert_eq!(ctx.status, 502);
    assert_eq!(
        ctx.response_header_values("X-Error-Reason"),
        vec!["BackendConnectionFailure"]
    );
    assert_eq!(
        ctx.response_header_values("X-Error"),
        vec!["forward-request||backend||"]
    );
    let mut ctx = ctx_for(Client::Valid);
    run_pipeline(&plan, &mut ctx, |_, _| {
        Err(BackendFailure::Timeout("no answer in 2s".into()))
    });
    assert_eq!((ctx.status, ctx.reason.as_str()), (504, "Gateway Timeout"));
    assert_eq!(
        ctx.response_header_values("X-Error-Reason"),
        vec!["Timeout"]
    );
    assert_eq!(
        ctx.body_text(),
        Some(r#"{"statusCode":504,"message":"no answer in 2s"}"#)
    );
}

#[test]
fn on_error_from_outbound_and_expression_failures() {
    let nv = NamedValues::new();
    let text = format!(
        r#"<policies><outbound><set-header name="X-Bad" exists-action="override"><value>@(Convert.FromBase64String(context.Request.Method).Length.ToString())</value></set-header></outbound>{ON_ERROR_REPORT}</policies>"#
    );
    let p = doc(Scope::Operation, "op.xml", &text, &nv);
    let (r, ctx) = run(&plan_of(&[&p]));
    assert_eq!(r, PipelineResult::Error);
    assert_eq!(ctx.status, 500);
    assert_eq!(
        ctx.response_header_values("X-Error-Reason"),
        vec!["ExpressionValueEvaluationFailure"]
    );
    assert_eq!(
        ctx.response_header_values("X-Error"),
        vec!["set-header|operation|outbound|outbound/set-header[1]|"]
    );
    assert!(ctx.response_header_values("X-Error-Message")[0]
        .starts_with("Expression evaluation failed. The input is not a valid Base-64 string"));
    assert_eq!(
        ctx.body_text(),
        Some(r#"{"statusCode":500,"message":"Internal server error"}"#)
    );
}

#[test]
fn on_error_can_answer_itself_and_failures_inside_it_give_500() {
    let nv = NamedValues::new();
    let p = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><inbound><ip-filter action="allow"><address>10.0.0.1</address></ip-filter></inbound>
<on-error><return-response><set-status code="418" reason="Teapot"/><set-header name="X-Why" exists-action="override"><value>@(context.LastError.Reason)</value></set-header><set-body>@(JsonConvert.SerializeObject(context.LastError))</set-body></return-response></on-error></policies>"#,
        &nv,
    );
    let (r, ctx) = run(&plan_of(&[&p]));
    assert_eq!(r, PipelineResult::Error);
    assert_eq!((ctx.status, ctx.reason.as_str()), (418, "Teapot"));
    assert_eq!(
        ctx.response_header_values("X-Why"),
        vec!["CallerIpNotAllowed"]
    );
    let body: serde_json::Value = serde_json::from_str(ctx.body_text().unwrap()).unwrap();
    assert_eq!(body["Source"], "ip-filter");
    assert_eq!(body["Section"], "inbound");
    assert_eq!(body["Path"], "inbound/ip-filter[1]");
    // A failure inside on-error: plain 500.
    let p = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><inbound><ip-filter action="allow"><address>10.0.0.1</address></ip-filter></inbound>
<on-error><set-variable name="x" value="@(context.Request.Headers["missing"][0])"/></on-error></policies>"#,
        &nv,
    );
    let (_, ctx) = run(&plan_of(&[&p]));
    assert_eq!(ctx.status, 500);
    assert_eq!(
        ctx.body_text(),
        Some(r#"{"statusCode":500,"message":"Internal server error"}"#)
    );
}

#[test]
fn named_values_in_attributes_expressions_and_string_literals() {
    let mut nv = NamedValues::new();
    nv.insert("header-name", "X-Partner", false);
    nv.insert("partner", "contoso", false);
    nv.insert(
        "expected-thumbprint",
        &*cert(&pki().valid).thumbprint().clone(),
        false,
    );
    nv.insert("enabled", "true", false);
    nv.insert("disabled", "false", false);
    let p = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><inbound>
<set-header name="{{header-name}}" exists-action="override"><value>{{partner}}</value></set-header>
<set-variable name="greeting" value="@("hello {{partner}}")"/>
<choose>
  <when condition="@({{disabled}} && context.Request.Certificate.Thumbprint == "{{expected-thumbprint}}")"><set-variable name="folded" value="never"/></when>
  <when condition="@({{enabled}} && context.Request.Certificate.Thumbprint == "{{expected-thumbprint}}")"><set-variable name="matched" value="yes"/></when>
</choose>
</inbound></policies>"#,
        &nv,
    );
    let (_, ctx) = run(&plan_of(&[&p]));
    assert_eq!(ctx.request_header_list("X-Partner"), vec!["contoso"]);
    assert!(
        matches!(ctx.state.variable("greeting"), Some(Value::Str(s)) if &**s == "hello contoso")
    );
    assert!(matches!(ctx.state.variable("matched"), Some(Value::Str(s)) if &**s == "yes"));
    assert!(ctx.state.variable("folded").is_none());
}

#[test]
fn set_header_actions_and_several_values() {
    let nv = NamedValues::new();
    let p = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><inbound>
<set-header name="X-Keep" exists-action="skip"><value>new</value></set-header>
<set-header name="X-New" exists-action="skip"><value>added</value></set-header>
<set-header name="X-Multi" exists-action="override"><value>a</value><value>@("b")</value></set-header>
<set-header name="X-Append" exists-action="append"><value>second</value></set-header>
<set-header name="X-Drop" exists-action="delete"/>
</inbound><backend><forward-request/></backend></policies>"#,
        &nv,
    );
    let plan = plan_of(&[&p]);
    let mut ctx = SimpleContext::new("GET", "/")
        .with_header("X-Keep", "old")
        .with_header("X-Append", "first")
        .with_header("X-Drop", "bye")
        .with_header("X-Multi", "gone");
    run_pipeline(&plan, &mut ctx, ok_backend);
    assert_eq!(ctx.request_header_list("X-Keep"), vec!["old"]);
    assert_eq!(ctx.request_header_list("X-New"), vec!["added"]);
    assert_eq!(ctx.request_header_list("X-Multi"), vec!["a", "b"]);
    assert_eq!(ctx.request_header_list("X-Append"), vec!["first", "second"]);
    assert!(ctx.request_header_list("X-Drop").is_empty());
}

#[test]
fn header_values_with_line_breaks_are_refused() {
    let nv = NamedValues::new();
    let p = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><inbound><set-header name="X-Echo" exists-action="override"><value>@(context.Request.Headers.GetValueOrDefault("X-In", ""))</value></set-header></inbound></policies>"#,
        &nv,
    );
    let plan = plan_of(&[&p]);
    let mut ctx = SimpleContext::new("GET", "/").with_header("X-In", "a\r\nX-Injected: 1");
    assert_eq!(
        run_pipeline(&plan, &mut ctx, ok_backend),
        PipelineResult::Error
    );
    assert_eq!(ctx.status, 500);
    assert!(ctx.request_header_list("X-Injected").is_empty());
}

#[test]
fn variables_hold_typed_values() {
    let nv = NamedValues::new();
    let p = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><inbound>
<set-variable name="n" value="@(41 + 1)"/>
<set-variable name="b" value="@(context.Request.Method == "GET")"/>
<set-variable name="d" value="@(DateTime.UtcNow.AddHours(1))"/>
<set-variable name="t" value="@(TimeSpan.FromSeconds(90))"/>
<set-variable name="bytes" value="@(Encoding.UTF8.GetBytes("hi"))"/>
<set-variable name="cert" value="@(context.Request.Certificate)"/>
<set-variable name="parts" value="@("a,b".Split(','))"/>
<set-variable name="literal" value="42"/>
<return-response><set-status code="@(context.Variables.GetValueOrDefault<int>("n") + 158)" reason="@(context.Variables.GetValueOrDefault<bool>("b") ? "yes" : "no")"/>
<set-body>@{
  var t = context.Variables.GetValueOrDefault<TimeSpan>("t");
  var c = (X509Certificate2)context.Variables["cert"];
  var parts = (string[])context.Variables["parts"];
  return $"{t.TotalMinutes}|{c.Subject}|{parts.Length}|{context.Variables.GetValueOrDefault<string>("literal")}|{context.Variables.GetValueOrDefault<int>("missing", 7)}|{context.Variables.GetValueOrDefault<DateTime>("d") > DateTime.UtcNow}";
}</set-body></return-response>
</inbound></policies>"#,
        &nv,
    );
    let (r, ctx) = run(&plan_of(&[&p]));
    assert_eq!(r, PipelineResult::Responded);
    assert_eq!((ctx.status, ctx.reason.as_str()), (200, "yes"));
    assert_eq!(ctx.body_text(), Some("1.5|CN=Valid Client|2|42|7|True"));
}

#[test]
fn wrong_variable_type_is_an_expression_failure() {
    let nv = NamedValues::new();
    let p = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><inbound><set-variable name="s" value="text"/><set-variable name="n" value="@(context.Variables.GetValueOrDefault<int>("s") + 1)"/></inbound></policies>"#,
        &nv,
    );
    let (r, ctx) = run(&plan_of(&[&p]));
    assert_eq!(r, PipelineResult::Error);
    assert_eq!(
        &*ctx.state.last_error.unwrap().reason,
        "ExpressionValueEvaluationFailure"
    );
}

#[test]
fn check_header_values_and_case() {
    let nv = NamedValues::new();
    let p = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><inbound><check-header name="X-Env" failed-check-httpcode="403" failed-check-error-message="Wrong environment" ignore-case="true"><value>dev</value><value>TST</value></check-header></inbound></policies>"#,
        &nv,
    );
    let plan = plan_of(&[&p]);
    for (value, ok) in [
        (Some("tst"), true),
        (Some("DEV"), true),
        (Some("prod"), false),
        (None, false),
    ] {
        let mut ctx = SimpleContext::new("GET", "/");
        if let Some(v) = value {
            ctx.request_headers.push(("X-Env".into(), v.into()));
        }
        let r = run_pipeline(&plan, &mut ctx, ok_backend);
        assert_eq!(r == PipelineResult::Proxied, ok, "{value:?}");
        if !ok {
            assert_eq!(ctx.status, 403);
            let reason = if value.is_some() {
                "HeaderValueNotAllowed"
            } else {
                "HeaderNotFound"
            };
            assert_eq!(&*ctx.state.last_error.unwrap().reason, reason);
        }
    }
}

#[test]
fn ip_filter_addresses_ranges_and_mapped_v6() {
    let nv = NamedValues::new();
    let p = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><inbound><ip-filter action="allow"><address>127.0.0.1</address><address-range from="10.1.0.0" to="10.1.255.255"/></ip-filter></inbound></policies>"#,
        &nv,
    );
    let plan = plan_of(&[&p]);
    for (ip, ok) in [
        ("127.0.0.1", true),
        ("::ffff:127.0.0.1", true),
        ("10.1.200.3", true),
        ("10.2.0.1", false),
        ("::1", false),
    ] {
        let mut ctx = SimpleContext::new("GET", "/");
        ctx.client_ip = ip.parse().unwrap();
        assert_eq!(
            run_pipeline(&plan, &mut ctx, ok_backend) == PipelineResult::Proxied,
            ok,
            "{ip}"
        );
        if !ok {
            assert_eq!(ctx.status, 403);
        }
    }
    let p = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><inbound><ip-filter action="forbid"><address>127.0.0.1</address></ip-filter></inbound></policies>"#,
        &nv,
    );
    let mut ctx = SimpleContext::new("GET", "/");
    assert_eq!(
        run_pipeline(&plan_of(&[&p]), &mut ctx, ok_backend),
        PipelineResult::Error
    );
}

#[test]
fn rewrite_uri_with_matched_parameters_and_query() {
    let nv = NamedValues::new();
    let p = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><inbound><rewrite-uri template="@("/v2/cities/" + context.Request.MatchedParameters["city"] + "?format=json")"/></inbound></policies>"#,
        &nv,
    );
    let plan = plan_of(&[&p]);
    let mut ctx = SimpleContext::new("GET", "/weather/Oslo?units=metric&format=xml");
    ctx.matched.push(("city".into(), "Oslo".into()));
    run_pipeline(&plan, &mut ctx, ok_backend);
    assert_eq!(ctx.path, "/v2/cities/Oslo");
    assert_eq!(ctx.query, "format=json&units=metric");
    let p = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><inbound><rewrite-uri template="/fixed" copy-unmatched-params="false"/><set-variable name="orig" value="@(context.Request.OriginalUrl.Path + context.Request.OriginalUrl.QueryString)"/></inbound></policies>"#,
        &nv,
    );
    let mut ctx = SimpleContext::new("GET", "/weather/Oslo?units=metric");
    run_pipeline(&plan_of(&[&p]), &mut ctx, ok_backend);
    assert_eq!((ctx.path.as_str(), ctx.query.as_str()), ("/fixed", ""));
    assert!(
        matches!(ctx.state.variable("orig"), Some(Value::Str(s)) if &**s == "/weather/Oslo?units=metric")
    );
}

#[test]
fn mock_response_and_set_backend_service() {
    let nv = NamedValues::new();
    let p = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><inbound><mock-response status-code="202" content-type="application/json"/></inbound></policies>"#,
        &nv,
    );
    let mut called = false;
    let mut ctx = SimpleContext::new("GET", "/");
    let r = run_pipeline(&plan_of(&[&p]), &mut ctx, |_, _| {
        called = true;
        Ok(())
    });
    assert_eq!(
        (r, called, ctx.status),
        (PipelineResult::Responded, false, 202)
    );
    assert_eq!(
        ctx.response_header_values("content-type"),
        vec!["application/json"]
    );
    let p = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><inbound><choose><when condition="@(context.Request.Headers.GetValueOrDefault("X-Canary") == "1")"><set-backend-service base-url="https://canary.internal:8443/api"/></when><otherwise><set-backend-service backend-id="weather-primary"/></otherwise></choose></inbound></policies>"#,
        &nv,
    );
    let plan = plan_of(&[&p]);
    let mut ctx = SimpleContext::new("GET", "/").with_header("X-Canary", "1");
    run_pipeline(&plan, &mut ctx, ok_backend);
    assert_eq!(
        ctx.state.backend,
        Some(BackendTarget::BaseUrl(
            "https://canary.internal:8443/api".into()
        ))
    );
    let mut ctx = SimpleContext::new("GET", "/");
    run_pipeline(&plan, &mut ctx, ok_backend);
    assert_eq!(
        ctx.state.backend,
        Some(BackendTarget::BackendId("weather-primary".into()))
    );
}

#[test]
fn backend_section_statements_after_forward_request_run_after_the_call() {
    let nv = NamedValues::new();
    let p = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><backend><set-header name="X-Before" exists-action="override"><value>1</value></set-header><forward-request timeout="30"/><set-header name="X-After" exists-action="override"><value>@(context.Response.StatusCode.ToString())</value></set-header></backend></policies>"#,
        &nv,
    );
    let mut seen_before = false;
    let mut ctx = SimpleContext::new("GET", "/");
    let r = run_pipeline(&plan_of(&[&p]), &mut ctx, |c, t| {
        seen_before = c.request_header("X-Before").is_some();
        assert_eq!(t, Duration::from_secs(30));
        c.set_response_status(201, None);
        Ok(())
    });
    assert_eq!(r, PipelineResult::Proxied);
    assert!(seen_before);
    assert_eq!(ctx.response_header_values("X-After"), vec!["201"]);
}

#[test]
fn rate_limit_by_key_counts_per_key_and_reports() {
    let nv = NamedValues::new();
    let p = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><inbound><rate-limit-by-key calls="2" renewal-period="60" counter-key="@(context.Request.Certificate.Thumbprint)" remaining-calls-header-name="X-Remaining" retry-after-header-name="X-Retry"/></inbound></policies>"#,
        &nv,
    );
    let plan = plan_of(&[&p]);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let mut ctx = ctx_for(Client::Valid);
        run_pipeline(&plan, &mut ctx, ok_backend);
        statuses.push((
            ctx.status,
            ctx.response_header_values("X-Remaining")
                .first()
                .map(|s| s.to_string()),
        ));
        if ctx.status == 429 {
            assert!(
                ctx.response_header_values("X-Retry")[0]
                    .parse::<u64>()
                    .unwrap()
                    >= 1
            );
            assert_eq!(&*ctx.state.last_error.unwrap().reason, "RateLimitExceeded");
        }
    }
    assert_eq!(
        statuses,
        vec![
            (200, Some("1".into())),
            (200, Some("0".into())),
            (429, None)
        ]
    );
    // Another certificate has its own counter.
    let mut ctx = ctx_for(Client::Unregistered);
    run_pipeline(&plan, &mut ctx, ok_backend);
    assert_eq!(ctx.status, 200);
}

#[test]
fn quota_by_key_with_increment_condition() {
    let nv = NamedValues::new();
    let p = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><inbound><quota-by-key calls="1" renewal-period="3600" counter-key="@(context.Request.IpAddress)" increment-condition="@(context.Request.Method == "POST")"/></inbound></policies>"#,
        &nv,
    );
    let plan = plan_of(&[&p]);
    let run_method = |m: &str| {
        let mut ctx = SimpleContext::new(m, "/");
        run_pipeline(&plan, &mut ctx, ok_backend);
        ctx.status
    };
    assert_eq!(
        (
            run_method("GET"),
            run_method("GET"),
            run_method("POST"),
            run_method("POST")
        ),
        (200, 200, 200, 403)
    );
}

#[test]
fn trace_with_metadata_goes_to_the_sink() {
    let nv = NamedValues::new();
    let p = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><inbound><trace source="audit" severity="information"><message>@("caller " + context.Request.Certificate.GetNameInfo(X509NameType.SimpleName, false))</message><metadata name="thumbprint" value="@(context.Request.Certificate.Thumbprint)"/></trace></inbound></policies>"#,
        &nv,
    );
    let (_, ctx) = run(&plan_of(&[&p]));
    assert_eq!(ctx.traces.len(), 1);
    assert_eq!(ctx.traces[0].message, "caller Valid Client");
    assert_eq!(&*ctx.traces[0].metadata[0].0, "thumbprint");
    assert_eq!(
        ctx.traces[0].metadata[0].1,
        cert(&pki().valid).thumbprint().to_string()
    );
}

#[test]
fn include_fragment_expands_in_place() {
    let nv = NamedValues::new();
    let mut f = Fragments::new();
    f.add("cert-check", Source::plain("cert-check.xml", r#"<fragment><choose><when condition="@(context.Request.Certificate == null)"><return-response><set-status code="401" reason="No certificate"/></return-response></when></choose></fragment>"#).unwrap()).unwrap();
    let p = doc(
        Scope::Api,
        "api.xml",
        r#"<policies><inbound><set-variable name="before" value="1"/><include-fragment fragment-id="cert-check"/></inbound></policies>"#,
        &nv,
    );
    let plan = compile_route(&[&p], &f, &CompileOptions::default()).unwrap();
    let mut ctx = ctx_for(Client::None);
    assert_eq!(
        run_pipeline(&plan, &mut ctx, ok_backend),
        PipelineResult::Responded
    );
    assert_eq!((ctx.status, ctx.reason.as_str()), (401, "No certificate"));
    let mut ctx = ctx_for(Client::Valid);
    assert_eq!(
        run_pipeline(&plan, &mut ctx, ok_backend),
        PipelineResult::Proxied
    );
    // Also inside a choose branch.
    let p = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><inbound><choose><when condition="@(context.Request.Method == &quot;GET&quot;)"><include-fragment fragment-id="cert-check"/></when></choose></inbound></policies>"#,
        &nv,
    );
    let plan = compile_route(&[&p], &f, &CompileOptions::default()).unwrap();
    let mut ctx = ctx_for(Client::None);
    assert_eq!(
        run_pipeline(&plan, &mut ctx, ok_backend),
        PipelineResult::Responded
    );
    assert_eq!(ctx.status, 401);
}

#[test]
fn route_constants_and_deployment_members() {
    let nv = NamedValues::new();
    let p = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><inbound><return-response><set-status code="200"/><set-body>@(context.Api.Name + "/" + context.Operation.Name + "/" + context.Deployment.ServiceName + "/" + context.Deployment.Certificates.Count + "/" + context.Deployment.Certificates["valid-client-client-certificate"].Subject + "/" + context.Deployment.Certificates.ContainsKey("nope"))</set-body></return-response></inbound></policies>"#,
        &nv,
    );
    let (_, ctx) = run(&plan_of(&[&p]));
    assert_eq!(
        ctx.body_text(),
        Some("Weather/GetToday/certgate-test/2/CN=Valid Client/False")
    );
}

#[test]
fn verify_and_verify_no_revocation_with_crls() {
    let p = pki();
    // A CRL from the DEV intermediate that revokes the unregistered client.
    let revoking = TrustStore::new(
        vec![p.root.cert.clone()],
        vec![p.dev_ca.cert.clone()],
        vec![
            crl(&p.root, &[], -1, 7).unwrap(),
            crl(&p.dev_ca, &[&p.unregistered.cert], -1, 7).unwrap(),
        ],
    )
    .unwrap();
    let leaf = cert(&p.unregistered);
    assert!(
        revoking.verify(&leaf, &SentChain::default(), false).is_ok(),
        "VerifyNoRevocation() is true"
    );
    assert_eq!(
        revoking
            .verify(&leaf, &SentChain::default(), true)
            .unwrap_err(),
        certgate_policy::TrustFailure::Revoked
    );
    assert!(revoking
        .verify(&cert(&p.valid), &SentChain::default(), true)
        .is_ok());
    // An expired CRL makes the status unknown: Verify() fails, VerifyNoRevocation() passes.
    let stale = TrustStore::new(
        vec![p.root.cert.clone()],
        vec![p.dev_ca.cert.clone()],
        vec![
            crl(&p.root, &[], -10, -2).unwrap(),
            crl(&p.dev_ca, &[], -10, -2).unwrap(),
        ],
    )
    .unwrap();
    assert!(matches!(
        stale.verify(&cert(&p.valid), &SentChain::default(), true),
        Err(certgate_policy::TrustFailure::RevocationUnknown(_))
    ));
    assert!(stale
        .verify(&cert(&p.valid), &SentChain::default(), false)
        .is_ok());
    // Through the policy language.
    let nv = NamedValues::new();
    let d = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><inbound><return-response><set-status code="200"/><set-body>@(context.Request.Certificate.Verify() + "/" + context.Request.Certificate.VerifyNoRevocation())</set-body></return-response></inbound></policies>"#,
        &nv,
    );
    let plan = plan_of(&[&d]);
    let mut ctx = ctx_for(Client::Unregistered);
    ctx.trust = Some(Arc::new(revoking));
    run_pipeline(&plan, &mut ctx, ok_backend);
    assert_eq!(ctx.body_text(), Some("False/True"));
    // The untrusted client's own TST intermediate is ignored by default, used when allowed.
    let mut allow = TrustStore::new(
        vec![p.root.cert.clone()],
        vec![p.dev_ca.cert.clone()],
        vec![],
    )
    .unwrap();
    assert!(allow
        .verify(
            &cert(&p.untrusted),
            &SentChain::new(vec![p.tst_ca.cert.clone()]),
            false
        )
        .is_err());
    allow.allow_sent_intermediates = true;
    assert!(allow
        .verify(
            &cert(&p.untrusted),
            &SentChain::new(vec![p.tst_ca.cert.clone()]),
            false
        )
        .is_ok());
}

#[test]
fn validate_client_certificate_identity_kinds() {
    let p = pki();
    let dev_thumb = cert(&p.dev_ca).thumbprint().to_string();
    let cases: Vec<(String, Client, bool)> = vec![
        (format!(r#"<identity issuer-thumbprint="{}"/>"#, dev_thumb.to_lowercase()), Client::Valid, true),
        (r#"<identity issuer-certificate-id="dev-intermediate-ca"/>"#.into(), Client::Valid, true),
        (r#"<identity issuer-certificate-id="valid-client-client-certificate"/>"#.into(), Client::Valid, false),
        (r#"<identity common-name="valid client"/>"#.into(), Client::Valid, true),
        (format!(r#"<identity serial-number="{}"/>"#, cert(&p.valid).serial_number()), Client::Valid, true),
        (r#"<identity subject="CN=Unregistered Client" issuer-subject="CN=APIM Sample DEV Intermediate CA"/>"#.into(), Client::Valid, false),
    ];
    // Subjects compare as parsed DNs: RDNs in either order, aliases (ST for S), any case.
    let multi = format!(
        r#"<identity subject='C=us, ST=wa, O="Contoso, Inc.", OU=Partner APIs, CN=Multi RDN Client' issuer-thumbprint="{dev_thumb}"/>"#
    );
    let plan = compile_snippet(&format!(
        r#"<validate-client-certificate validate-revocation="false"><identities>{multi}</identities></validate-client-certificate>"#
    ))
    .unwrap();
    let mut ctx = ctx_for(Client::Valid);
    ctx.certificate = Some(cert(&p.multi_rdn));
    assert_eq!(
        run_pipeline(&plan, &mut ctx, ok_backend),
        PipelineResult::Proxied,
        "{:?}",
        ctx.state.last_error
    );
    for (identity, client, pass) in cases {
        let snippet = format!(
            r#"<validate-client-certificate validate-revocation="false" validate-trust="true"><identities>{identity}</identities></validate-client-certificate>"#
        );
        let plan = compile_snippet(&snippet).unwrap_or_else(|e| panic!("{e}"));
        let mut ctx = ctx_for(client);
        let r = run_pipeline(&plan, &mut ctx, ok_backend);
        assert_eq!(
            r == PipelineResult::Proxied,
            pass,
            "{identity}: {:?}",
            ctx.state.last_error
        );
    }
    // ignore-error records LastError and continues.
    let plan = compile_snippet(r#"<validate-client-certificate ignore-error="true" validate-revocation="false"><identities><identity common-name="nobody"/></identities></validate-client-certificate><set-variable name="reason" value="@(context.LastError.Reason)"/>"#).unwrap();
    let mut ctx = ctx_for(Client::Valid);
    assert_eq!(
        run_pipeline(&plan, &mut ctx, ok_backend),
        PipelineResult::Proxied
    );
    assert!(
        matches!(ctx.state.variable("reason"), Some(Value::Str(s)) if &**s == "ClientCertificateIdentityNotMatched")
    );
    // Revocation checked by default: without CRLs for the chain the status is unknown.
    let plan = compile_snippet(r#"<validate-client-certificate/>"#).unwrap();
    let mut ctx = ctx_for(Client::Valid);
    ctx.trust = Some(Arc::new(
        TrustStore::new(
            vec![p.root.cert.clone()],
            vec![p.dev_ca.cert.clone()],
            vec![],
        )
        .unwrap(),
    ));
    run_pipeline(&plan, &mut ctx, ok_backend);
    assert_eq!(
        &*ctx.state.last_error.unwrap().reason,
        "ClientCertificateRevocationUnknown"
    );
    // A CRL that lists the certificate: revoked.
    let revoking = TrustStore::new(
        vec![p.root.cert.clone()],
        vec![p.dev_ca.cert.clone()],
        vec![
            crl(&p.root, &[], -1, 7).unwrap(),
            crl(&p.dev_ca, &[&p.valid.cert], -1, 7).unwrap(),
        ],
    )
    .unwrap();
    let mut ctx = ctx_for(Client::Valid);
    ctx.trust = Some(Arc::new(revoking));
    run_pipeline(&plan, &mut ctx, ok_backend);
    let e = ctx.state.last_error.clone().unwrap();
    assert_eq!((&*e.reason, e.status), ("ClientCertificateRevoked", 401));
    assert_eq!(
        ctx.body_text(),
        Some(r#"{"statusCode":401,"message":"Invalid client certificate"}"#)
    );
}

/// Issue 13: a plan that reads `context.Request.Body` says so (the gateway buffers only those
/// routes' bodies); reading without `preserveContent` consumes the body, as APIM does; inbound
/// `set-body` gives the request a new body, `return-response`'s stays the response's.
#[test]
fn request_bodies_are_read_once_unless_preserved_and_set_by_inbound_set_body() {
    let nv = NamedValues::default();
    let reads = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><inbound>
  <set-variable name="tenant" value="@((string)context.Request.Body.As<JObject>(preserveContent: true)["tenant"])" />
  <set-variable name="again" value="@(context.Request.Body.As<string>())" />
  <set-body>@{ var b = JObject.Parse((string)context.Variables["again"]); b["seen"] = true; return b.ToString(Newtonsoft.Json.Formatting.None); }</set-body>
</inbound><backend><forward-request /></backend><outbound /></policies>"#,
        &nv,
    );
    let plan = plan_of(&[&reads]);
    assert!(plan.reads_request_body);
    let mut ctx = ctx_for(Client::Valid);
    ctx.request_body = Some(br#"{"tenant":"contoso"}"#.to_vec());
    let r = run_pipeline(&plan, &mut ctx, ok_backend);
    assert!(matches!(r, PipelineResult::Proxied), "{r:?}");
    assert!(matches!(ctx.state.variable("tenant"), Some(Value::Str(s)) if &**s == "contoso"));
    assert!(ctx
        .state
        .request_body_consumed
        .load(std::sync::atomic::Ordering::Relaxed));
    assert_eq!(
        ctx.state.request_body.as_deref(),
        Some(br#"{"tenant":"contoso","seen":true}"#.as_slice())
    );
    assert_eq!(ctx.body_text(), Some("from backend"));

    // A second read without preserveContent fails into on-error.
    let twice = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><inbound>
  <set-variable name="a" value="@(context.Request.Body.As<string>())" />
  <set-variable name="b" value="@(context.Request.Body.As<string>())" />
</inbound><backend><forward-request /></backend><outbound /><on-error><set-header name="X-Reason" exists-action="override"><value>@(context.LastError.Reason)</value></set-header></on-error></policies>"#,
        &nv,
    );
    let mut ctx = ctx_for(Client::Valid);
    ctx.request_body = Some(b"x".to_vec());
    run_pipeline(&plan_of(&[&twice]), &mut ctx, ok_backend);
    assert_eq!(
        ctx.response_header_values("X-Reason"),
        vec!["ExpressionValueEvaluationFailure"]
    );
    // No body: context.Request.Body is null.
    let none = doc(
        Scope::Operation,
        "op.xml",
        r#"<policies><inbound><return-response><set-body>@(context.Request.Body == null ? "none" : "some")</set-body></return-response></inbound><backend /><outbound /></policies>"#,
        &nv,
    );
    let (_, ctx) = run(&plan_of(&[&none]));
    assert_eq!(ctx.body_text(), Some("none"));
    assert!(ctx.state.request_body.is_none());
    // A plan that does not read the body does not ask for it.
    assert!(!plan_of(&[&doc(Scope::Operation, "op.xml", GLOBAL, &nv)]).reads_request_body);
}
