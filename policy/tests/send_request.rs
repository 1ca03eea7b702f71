//! `send-request`, `send-one-way-request` and `return-response response-variable-name` through
//! the whole pipeline: the section suspends where the request is sent (however deep in
//! `choose`), resumes with the response in its variable, and fails into on-error as APIM says.
//! The gateway's tests send the same requests over real sockets (`gateway/tests/e2e.rs`).

use std::sync::Arc;
use std::time::Duration;

use certgate_policy::{compile_route, CompileOptions, Plan};
use certgate_policy::{run_pipeline_sending, BackendFailure, PipelineResult};
use certgate_policy::{Fragments, Scope, ScopeDocument, Source};
use certgate_policy::{
    HeaderWrite, Outcall, RequestContext, SendFailure, SendResult, SentResponse, SimpleContext,
};

fn plan(text: &str) -> Plan {
    let doc = ScopeDocument::parse(
        Scope::Operation,
        Source::plain("op.xml", text).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    compile_route(&[&doc], &Fragments::new(), &CompileOptions::default())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The backend: a 200 that echoes the header `X-Token` the request carried.
fn backend(c: &mut dyn RequestContext, _: Duration) -> Result<(), BackendFailure> {
    let token = c.request_header("X-Token").map(|v| v.to_string());
    c.set_response_status(200, None);
    if let Some(t) = token {
        c.write_response_header("X-Token-Seen", &t, certgate_policy::HeaderWrite::Set);
    }
    c.set_response_body(b"from backend".to_vec());
    Ok(())
}

/// A token endpoint: answers every request with a JSON token and records what it got.
fn token_endpoint(sent: &mut Vec<Outcall>) -> impl FnMut(&Outcall) -> SendResult + '_ {
    |c: &Outcall| {
        sent.push(c.clone());
        Ok(SentResponse::new(
            200,
            "OK",
            vec![
                ("Content-Type".into(), "application/json".into()),
                ("X-Multi".into(), "a".into()),
                ("x-multi".into(), "b".into()),
            ],
            Arc::from(&br#"{"access_token":"t-123","expires_in":3600}"#[..]),
        ))
    }
}

fn run(plan: &Plan, send: impl FnMut(&Outcall) -> SendResult) -> (PipelineResult, SimpleContext) {
    let mut ctx = SimpleContext::new("GET", "/orders");
    let r = run_pipeline_sending(plan, &mut ctx, backend, send);
    (r, ctx)
}

/// The error compiling `text` gives.
fn refused(text: &str) -> String {
    let doc = ScopeDocument::parse(Scope::Operation, Source::plain("op.xml", text).unwrap())
        .unwrap_or_else(|e| panic!("{e}"));
    match compile_route(&[&doc], &Fragments::new(), &CompileOptions::default()) {
        Ok(_) => panic!("{text} compiled"),
        Err(e) => e.to_string(),
    }
}

/// Each inbound section (the first) is refused with a message containing the second.
fn inbound_refused(cases: &[(&str, &str)]) {
    for (inner, needle) in cases {
        let e = refused(&format!("<policies><inbound>{inner}</inbound></policies>"));
        assert!(e.contains(needle), "{inner}: {e}");
    }
}

const ON_ERROR: &str = r#"<on-error><set-header name="X-Err" exists-action="override"><value>@(context.LastError.Source + "/" + context.LastError.Reason + "/" + context.LastError.Section)</value></set-header></on-error>"#;

#[test]
fn a_token_from_send_request_reaches_the_backend() {
    let p = plan(&format!(
        r#"<policies><inbound>
          <send-request mode="new" response-variable-name="tokenResponse" timeout="20" ignore-error="false">
            <set-url>http://127.0.0.1:9/token</set-url>
            <set-method>POST</set-method>
            <set-header name="Content-Type" exists-action="override"><value>application/x-www-form-urlencoded</value></set-header>
            <set-body>@("grant_type=client_credentials&amp;method=" + context.Request.Method)</set-body>
          </send-request>
          <set-header name="X-Token" exists-action="override">
            <value>@((string)((IResponse)context.Variables["tokenResponse"]).Body.As&lt;JObject&gt;()["access_token"])</value>
          </set-header>
        </inbound>
        <outbound>
          <set-header name="X-Status" exists-action="override"><value>@{{
            var r = (IResponse)context.Variables["tokenResponse"];
            return r.StatusCode + " " + r.StatusReason + " " + r.Headers.GetValueOrDefault("x-multi", "-")
              + " " + r.Headers["Content-Type"][0] + " " + r.Headers.ContainsKey("nope") + " " + r.Headers.Count;
          }}</value></set-header>
        </outbound>{ON_ERROR}</policies>"#
    ));
    let mut sent = Vec::new();
    let (r, ctx) = run(&p, token_endpoint(&mut sent));
    assert_eq!(
        r,
        PipelineResult::Proxied,
        "{:?}",
        ctx.response_header("X-Err")
    );
    assert_eq!(
        ctx.response_header("X-Token-Seen").as_deref(),
        Some("t-123")
    );
    assert_eq!(
        ctx.response_header("X-Status").as_deref(),
        Some("200 OK a,b application/json False 2")
    );
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "POST");
    assert_eq!(sent[0].url, "http://127.0.0.1:9/token");
    assert_eq!(sent[0].body, b"grant_type=client_credentials&method=GET");
    assert_eq!(sent[0].timeout, Duration::from_secs(20));
}

#[test]
fn a_section_resumes_after_the_request_however_deep_in_choose() {
    // send-request two levels down, statements after it at every level, and a forward-request
    // inside a choose with a statement after it in the same branch.
    let p = plan(&format!(
        r#"<policies><inbound>
          <choose><when condition="@(true)">
            <choose><when condition="@(false)"/><otherwise>
              <send-request response-variable-name="r"><set-url>http://127.0.0.1:9/a</set-url></send-request>
              <set-variable name="inner" value="@(((IResponse)context.Variables["r"]).StatusCode.ToString())"/>
            </otherwise></choose>
            <set-variable name="middle" value="yes"/>
          </when></choose>
          <set-variable name="outer" value="yes"/>
        </inbound>
        <backend><choose><when condition="@(true)">
          <forward-request timeout="5"/>
          <set-header name="X-After-Forward" exists-action="override"><value>@((string)context.Variables["inner"] + (string)context.Variables["middle"] + (string)context.Variables["outer"])</value></set-header>
        </when></choose></backend>{ON_ERROR}</policies>"#
    ));
    let mut sent = Vec::new();
    let (r, ctx) = run(&p, token_endpoint(&mut sent));
    assert_eq!(
        r,
        PipelineResult::Proxied,
        "{:?}",
        ctx.response_header("X-Err")
    );
    assert_eq!(
        ctx.response_header("X-After-Forward").as_deref(),
        Some("200yesyes")
    );
    assert_eq!(sent.len(), 1);
}

#[test]
fn requests_go_out_from_every_section_in_order() {
    let send = |section: &str| {
        format!(
            r#"<send-request response-variable-name="{section}"><set-url>http://127.0.0.1:9/{section}</set-url></send-request>"#
        )
    };
    let p = plan(&format!(
        r#"<policies><inbound>{}</inbound><backend>{}<forward-request/>{}</backend><outbound>{}<set-variable name="x" value="@((string)context.Variables["missing"])"/></outbound><on-error>{}<set-header name="X-Seen" exists-action="override"><value>@(((IResponse)context.Variables["onerror"]).StatusCode.ToString())</value></set-header></on-error></policies>"#,
        send("inbound"),
        send("backend"),
        send("afterforward"),
        send("outbound"),
        send("onerror"),
    ));
    let mut sent = Vec::new();
    let (r, ctx) = run(&p, token_endpoint(&mut sent));
    let urls: Vec<&str> = sent
        .iter()
        .map(|c| c.url.rsplit('/').next().unwrap_or(""))
        .collect();
    assert_eq!(
        urls,
        ["inbound", "backend", "afterforward", "outbound", "onerror"]
    );
    // The outbound failure went to on-error, which sent its own request and used it.
    assert_eq!(r, PipelineResult::Error);
    assert_eq!(ctx.status, 500);
    assert_eq!(ctx.response_header("X-Seen").as_deref(), Some("200"));
}

#[test]
fn failures_go_to_on_error_as_send_request_unless_ignored() {
    let p = plan(&format!(
        r#"<policies><inbound><send-request response-variable-name="r" timeout="1"><set-url>http://127.0.0.1:9/</set-url></send-request></inbound>{ON_ERROR}</policies>"#
    ));
    for (failure, reason, status) in [
        (
            SendFailure::Timeout("no answer in 1 s".into()),
            "Timeout",
            504,
        ),
        (
            SendFailure::Connect("connection refused".into()),
            "BackendConnectionFailure",
            500,
        ),
        (
            SendFailure::TooLarge("over 1 MiB".into()),
            "ResponseTooLarge",
            500,
        ),
        (SendFailure::Invalid("bad".into()), "InvalidRequest", 500),
    ] {
        let (r, ctx) = run(&p, |_| Err(failure.clone()));
        assert_eq!(r, PipelineResult::Error);
        assert_eq!(ctx.status, status, "{reason}");
        assert_eq!(
            ctx.response_header("X-Err").as_deref(),
            Some(format!("send-request/{reason}/inbound").as_str())
        );
        assert_eq!(
            ctx.state.last_error.as_ref().map(|e| e.message.to_string()),
            Some(failure.message().to_string())
        );
    }
    // ignore-error: the variable is null, and using it is the policy's own null reference.
    let p = plan(&format!(
        r#"<policies><inbound><send-request response-variable-name="r" ignore-error="true"><set-url>http://127.0.0.1:9/</set-url></send-request>
        <choose><when condition="@(context.Variables["r"] == null)"><return-response><set-status code="503" reason="Token service down"/></return-response></when></choose>
        </inbound>{ON_ERROR}</policies>"#
    ));
    let (r, ctx) = run(&p, |_| Err(SendFailure::Connect("refused".into())));
    assert_eq!((r, ctx.status), (PipelineResult::Responded, 503));
    let p = plan(&format!(
        r#"<policies><inbound><send-request response-variable-name="r" ignore-error="true"><set-url>http://127.0.0.1:9/</set-url></send-request>
        <set-variable name="s" value="@(((IResponse)context.Variables["r"]).StatusCode)"/></inbound>{ON_ERROR}</policies>"#
    ));
    let (r, ctx) = run(&p, |_| Err(SendFailure::Connect("refused".into())));
    assert_eq!(r, PipelineResult::Error);
    assert_eq!(
        ctx.response_header("X-Err").as_deref(),
        Some("set-variable/ExpressionValueEvaluationFailure/inbound")
    );
}

#[test]
fn a_response_body_is_read_once_unless_preserved() {
    let p = plan(&format!(
        r#"<policies><inbound><send-request response-variable-name="r"><set-url>http://127.0.0.1:9/</set-url></send-request>
        <set-variable name="a" value="@(((IResponse)context.Variables["r"]).Body.As&lt;string&gt;(preserveContent: true))"/>
        <set-variable name="b" value="@(((IResponse)context.Variables["r"]).Body.As&lt;string&gt;())"/>
        <set-variable name="c" value="@(((IResponse)context.Variables["r"]).Body.As&lt;string&gt;())"/>
        </inbound>{ON_ERROR}</policies>"#
    ));
    let (r, ctx) = run(&p, token_endpoint(&mut Vec::new()));
    assert_eq!(r, PipelineResult::Error);
    assert!(ctx
        .state
        .last_error
        .as_ref()
        .is_some_and(|e| e.message.contains("already read")
            && e.policy_id.is_empty()
            && e.path.contains("set-variable[3]")));
}

#[test]
fn return_response_sends_the_stored_response_changed_by_its_children() {
    let p = plan(&format!(
        r#"<policies><inbound><send-request response-variable-name="r"><set-url>http://127.0.0.1:9/</set-url></send-request>
        <return-response response-variable-name="r"><set-header name="X-Added" exists-action="override"><value>1</value></set-header></return-response>
        </inbound>{ON_ERROR}</policies>"#
    ));
    let send = |_: &Outcall| {
        Ok(SentResponse::new(
            418,
            "I'm a teapot",
            vec![
                ("X-From".into(), "token-service".into()),
                ("Content-Length".into(), "5".into()),
                ("Transfer-Encoding".into(), "chunked".into()),
            ],
            Arc::from(&b"short"[..]),
        ))
    };
    let (r, ctx) = run(&p, send);
    assert_eq!(r, PipelineResult::Responded);
    assert_eq!((ctx.status, ctx.reason.as_str()), (418, "I'm a teapot"));
    assert_eq!(
        ctx.response_header("X-From").as_deref(),
        Some("token-service")
    );
    assert_eq!(ctx.response_header("X-Added").as_deref(), Some("1"));
    assert_eq!(
        ctx.response_header("Transfer-Encoding"),
        None,
        "the gateway frames it"
    );
    assert_eq!(ctx.response_header("Content-Length"), None);
    assert_eq!(ctx.body_text(), Some("short"));
}

#[test]
fn one_way_requests_are_queued_and_do_not_suspend() {
    let p = plan(
        r#"<policies><inbound><send-one-way-request mode="new"><set-url>http://127.0.0.1:9/audit</set-url><set-method>POST</set-method><set-body>@(context.Request.Method)</set-body></send-one-way-request></inbound></policies>"#,
    );
    let (r, ctx) = run(&p, |c| panic!("a one-way request was awaited: {c:?}"));
    assert_eq!(r, PipelineResult::Proxied);
    assert_eq!(ctx.state.one_way.len(), 1);
    assert_eq!(ctx.state.one_way[0].body, b"GET");
}

#[test]
fn responses_are_typed_and_checked_at_load() {
    let refused = |expr: &str| {
        refused(&format!(
            r#"<policies><inbound><set-variable name="x" value="@({expr})"/></inbound></policies>"#
        ))
    };
    assert!(refused(r#"((IResponse)context.Variables["r"]).Nope"#)
        .contains("does not contain a definition for 'Nope'"));
    assert!(
        refused(r#"((IResponse)context.Variables["r"]).Body.As&lt;int&gt;()"#)
            .contains("cannot be read as 'int'")
    );
    // A variable holding something else is an invalid cast at run time.
    let p = plan(&format!(
        r#"<policies><inbound><set-variable name="r" value="text"/><set-variable name="s" value="@(((IResponse)context.Variables["r"]).StatusCode)"/></inbound>{ON_ERROR}</policies>"#
    ));
    let (r, _) = run(&p, |_| unreachable!());
    assert_eq!(r, PipelineResult::Error);
}

#[test]
fn a_managed_identity_token_suspends_the_section_and_reaches_the_backend() {
    let p = plan(&format!(
        r#"<policies><inbound><choose><when condition="@(true)">
          <authentication-managed-identity resource="https://vault.azure.net" />
          <set-variable name="after" value="yes" />
        </when></choose></inbound>
        <outbound><set-header name="X-After" exists-action="override"><value>@((string)context.Variables["after"])</value></set-header></outbound>{ON_ERROR}</policies>"#
    ));
    let mut asked = Vec::new();
    let mut ctx = SimpleContext::new("GET", "/");
    let backend = |c: &mut dyn RequestContext, _: Duration| {
        let auth = c.request_header("Authorization").map(|v| v.to_string());
        c.set_response_status(200, None);
        c.write_response_header(
            "X-Auth-Seen",
            auth.as_deref().unwrap_or("none"),
            certgate_policy::HeaderWrite::Set,
        );
        Ok(())
    };
    let r = certgate_policy::run_pipeline_with(
        &p,
        &mut ctx,
        backend,
        |_| unreachable!(),
        |t| {
            asked.push(t.clone());
            Ok("t-42".into())
        },
    );
    assert_eq!(r, PipelineResult::Proxied);
    assert_eq!(
        ctx.response_header("X-Auth-Seen").as_deref(),
        Some("Bearer t-42")
    );
    assert_eq!(ctx.response_header("X-After").as_deref(), Some("yes"));
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].resource, "https://vault.azure.net");
    // No token: on-error, with the policy as the source.
    let mut ctx = SimpleContext::new("GET", "/");
    let r = certgate_policy::run_pipeline_with(
        &p,
        &mut ctx,
        backend,
        |_| unreachable!(),
        |_| Err("identity endpoint unreachable".into()),
    );
    assert_eq!((r, ctx.status), (PipelineResult::Error, 500));
    assert_eq!(
        ctx.response_header("X-Err").as_deref(),
        Some("authentication-managed-identity/ManagedIdentityTokenFailure/inbound")
    );
}

#[test]
fn limit_concurrency_holds_its_slot_across_the_io_inside_it() {
    use certgate_policy::{concurrency_inside, Next};
    let p = plan(&format!(
        r#"<policies><inbound><limit-concurrency key="@("lookup-" + context.Request.Method)" max-count="1">
          <send-request response-variable-name="r"><set-url>http://127.0.0.1:9/</set-url></send-request>
        </limit-concurrency></inbound>
        <backend><limit-concurrency key="backend-slot" max-count="1"><forward-request timeout="5"/></limit-concurrency></backend>{ON_ERROR}</policies>"#
    ));
    let ok = || Ok(SentResponse::new(200, "OK", vec![], Arc::from(&b""[..])));
    // A waits for its lookup inside the limit.
    let mut a = SimpleContext::new("GET", "/");
    let Next::Send { cursor, .. } = p.start(&mut a) else {
        panic!("A did not send")
    };
    assert_eq!(concurrency_inside("lookup-GET"), 1);
    // B is refused while A is inside: 429.
    let mut b = SimpleContext::new("GET", "/");
    assert!(matches!(
        p.start(&mut b),
        Next::Finish(PipelineResult::Error)
    ));
    assert_eq!(b.status, 429);
    assert_eq!(
        b.response_header("X-Err").as_deref(),
        Some("limit-concurrency/ConcurrencyLimitExceeded/inbound")
    );
    // A's lookup answers: it leaves the first limit and waits for the backend inside the second.
    let Next::CallBackend { cursor, .. } = p.after_send(cursor, ok(), &mut a) else {
        panic!("A did not call the backend")
    };
    assert_eq!(concurrency_inside("lookup-GET"), 0);
    assert_eq!(concurrency_inside("backend-slot"), 1);
    // Another request may now look up, but not call the backend.
    let mut c = SimpleContext::new("GET", "/");
    let Next::Send { cursor: cc, .. } = p.start(&mut c) else {
        panic!("C did not send")
    };
    assert!(matches!(
        p.after_send(cc, ok(), &mut c),
        Next::Finish(PipelineResult::Error)
    ));
    assert_eq!(c.status, 429);
    assert_eq!(
        concurrency_inside("lookup-GET"),
        0,
        "C left the first limit when it failed"
    );
    c.set_response_status(200, None);
    assert!(matches!(
        p.after_backend(cursor, Ok(()), &mut a),
        Next::Finish(PipelineResult::Proxied)
    ));
    assert_eq!(concurrency_inside("backend-slot"), 0);
    // A request dropped while inside gives its slot back.
    let mut d = SimpleContext::new("GET", "/");
    let _ = p.start(&mut d);
    assert_eq!(concurrency_inside("lookup-GET"), 1);
    drop(d);
    assert_eq!(concurrency_inside("lookup-GET"), 0);
}

#[test]
fn limit_concurrency_needs_a_key_and_a_count() {
    inbound_refused(&[
        (r#"<limit-concurrency max-count="1"/>"#, "'key'"),
        (r#"<limit-concurrency key="k"/>"#, "'max-count'"),
        (r#"<limit-concurrency key="k" max-count="0"/>"#, "max-count"),
        (
            r#"<limit-concurrency key="k" max-count="1"><nope/></limit-concurrency>"#,
            "nope",
        ),
    ]);
}

#[test]
fn retry_runs_its_children_again_while_the_condition_holds() {
    use certgate_policy::Next;
    let p = plan(&format!(
        r#"<policies><inbound><choose><when condition="@(true)">
          <retry condition="@(((IResponse)context.Variables["r"]).StatusCode >= 500)" count="3" interval="2" delta="1" first-fast-retry="false">
            <send-request response-variable-name="r" ignore-error="true"><set-url>http://127.0.0.1:9/flaky</set-url></send-request>
          </retry>
          <set-variable name="status" value="@(((IResponse)context.Variables["r"]).StatusCode)" />
        </when></choose></inbound>
        <outbound><set-header name="X-Status" exists-action="override"><value>@(context.Variables["status"].ToString())</value></set-header></outbound>{ON_ERROR}</policies>"#
    ));
    // Drive by hand to see the waits: 503, 503, then 200.
    let run = |answers: &[u16]| {
        let mut ctx = SimpleContext::new("GET", "/");
        let (mut sent, mut waits) = (0usize, Vec::new());
        let mut next = p.start(&mut ctx);
        let result = loop {
            next = match next {
                Next::Send { cursor, .. } => {
                    let status = answers[sent.min(answers.len() - 1)];
                    sent += 1;
                    let r = SentResponse::new(status, "", vec![], Arc::from(&b""[..]));
                    p.after_send(cursor, Ok(r), &mut ctx)
                }
                Next::Sleep { duration, cursor } => {
                    waits.push(duration.as_secs());
                    p.after_sleep(cursor, &mut ctx)
                }
                Next::CallBackend { cursor, .. } => {
                    ctx.set_response_status(200, None);
                    p.after_backend(cursor, Ok(()), &mut ctx)
                }
                Next::Finish(r) => break r,
                Next::Token { .. }
                | Next::SendAll { .. }
                | Next::Count { .. }
                | Next::Cache { .. } => {
                    unreachable!()
                }
            }
        };
        (
            result,
            sent,
            waits,
            ctx.response_header("X-Status").map(|s| s.to_string()),
        )
    };
    let (r, sent, waits, status) = run(&[503, 503, 200]);
    assert_eq!((r, sent), (PipelineResult::Proxied, 3));
    assert_eq!(waits, [2, 3], "linear: interval, then interval + delta");
    assert_eq!(status.as_deref(), Some("200"));
    // Exhausted: the first run and three retries, then the pipeline goes on with the last.
    let (r, sent, waits, status) = run(&[503]);
    assert_eq!((r, sent, waits.len()), (PipelineResult::Proxied, 4, 3));
    assert_eq!(status.as_deref(), Some("503"));
    // Good at once: no retry.
    let (_, sent, waits, _) = run(&[200]);
    assert_eq!((sent, waits.len()), (1, 0));
}

#[test]
fn retry_documents_are_checked() {
    inbound_refused(&[
        (
            r#"<retry condition="@(true)" count="0" interval="1"/>"#,
            "count",
        ),
        (
            r#"<retry condition="@(true)" count="51" interval="1"/>"#,
            "count",
        ),
        (r#"<retry condition="@(true)" count="2"/>"#, "'interval'"),
        (r#"<retry count="2" interval="1"/>"#, "'condition'"),
        (
            r#"<retry condition="@(true)" count="2" interval="1" first-fast-retry="@(context.Request.Method == "GET")"/>"#,
            "first-fast-retry",
        ),
    ]);
}

#[test]
fn retry_around_forward_request_calls_the_backend_again() {
    let p = plan(&format!(
        r#"<policies><backend><retry condition="@(context.Response.StatusCode >= 500)" count="3" interval="0"><forward-request timeout="5"/></retry></backend>{ON_ERROR}</policies>"#
    ));
    assert!(
        p.retries_backend && p.reads_response_body,
        "the route is called whole"
    );
    let run = |answers: &[u16]| {
        let mut calls = 0usize;
        let mut ctx = SimpleContext::new("GET", "/");
        let r = certgate_policy::run_pipeline(&p, &mut ctx, |c, _| {
            let status = answers[calls.min(answers.len() - 1)];
            calls += 1;
            c.clear_response();
            c.set_response_status(status, None);
            c.set_response_body(format!("attempt {calls}").into_bytes());
            Ok(())
        });
        (r, calls, ctx.status, ctx.body_text().map(str::to_string))
    };
    assert_eq!(
        run(&[503, 502, 200]),
        (PipelineResult::Proxied, 3, 200, Some("attempt 3".into()))
    );
    // Exhausted: the first call and three retries; the last answer goes out.
    assert_eq!(
        run(&[503]),
        (PipelineResult::Proxied, 4, 503, Some("attempt 4".into()))
    );
    // Without retry, a second forward-request is still refused.
    let p = plan(&format!(
        r#"<policies><backend><forward-request/><forward-request/></backend>{ON_ERROR}</policies>"#
    ));
    assert!(!p.retries_backend);
    let mut ctx = SimpleContext::new("GET", "/");
    let r = certgate_policy::run_pipeline(&p, &mut ctx, |c, _| {
        c.set_response_status(200, None);
        Ok(())
    });
    assert_eq!(r, PipelineResult::Error);
    assert_eq!(
        ctx.response_header("X-Err").as_deref(),
        Some("forward-request/BackendAlreadyCalled/backend")
    );
}

#[test]
fn wait_sends_its_requests_together_and_takes_every_or_the_first_answer() {
    use certgate_policy::Next;
    let p = |any: &str| {
        plan(&format!(
            r#"<policies><inbound><wait for="{any}">
              <send-request response-variable-name="a"><set-url>http://127.0.0.1:9/a</set-url></send-request>
              <cache-lookup-value key="k" variable-name="cached" default-value="none" />
              <send-request response-variable-name="b"><set-url>http://127.0.0.1:9/b</set-url></send-request>
            </wait><set-variable name="after" value="yes" /></inbound>{ON_ERROR}</policies>"#
        ))
    };
    let answer = |s: u16| Some(Ok(SentResponse::new(s, "", vec![], Arc::from(&b""[..]))));
    for (mode, results, a, b) in [
        ("all", vec![answer(201), answer(202)], true, true),
        ("any", vec![None, answer(202)], false, true),
    ] {
        let p = p(mode);
        let mut ctx = SimpleContext::new("GET", "/");
        let Next::SendAll {
            requests,
            any,
            cursor,
        } = p.start(&mut ctx)
        else {
            panic!("{mode}: not sent together")
        };
        assert_eq!(
            requests.iter().map(|r| r.url.as_str()).collect::<Vec<_>>(),
            ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"]
        );
        assert_eq!(any, mode == "any");
        assert!(matches!(
            p.after_send_all(cursor, results, &mut ctx),
            Next::CallBackend { .. }
        ));
        assert_eq!(ctx.state().variable("a").is_some(), a, "{mode}");
        assert_eq!(ctx.state().variable("b").is_some(), b, "{mode}");
        assert!(
            ctx.state().variable("cached").is_some() && ctx.state().variable("after").is_some()
        );
    }
    // One of them failing (without ignore-error) fails the wait into on-error.
    let p = p("all");
    let mut ctx = SimpleContext::new("GET", "/");
    let Next::SendAll { cursor, .. } = p.start(&mut ctx) else {
        panic!()
    };
    let failed = Some(Err(SendFailure::Timeout("slow".into())));
    assert!(matches!(
        p.after_send_all(cursor, vec![answer(200), failed], &mut ctx),
        Next::Finish(PipelineResult::Error)
    ));
    assert_eq!(
        ctx.response_header("X-Err").as_deref(),
        Some("send-request/Timeout/inbound")
    );
    inbound_refused(&[
        (r#"<wait for="some"/>"#, "expected all or any"),
        (
            r#"<wait><choose><when condition="@(true)"><return-response/></when></choose></wait>"#,
            "<return-response> inside <wait>",
        ),
        (
            r#"<wait><choose><otherwise><forward-request/></otherwise></choose></wait>"#,
            "<forward-request> inside <wait>",
        ),
        (
            r#"<wait><set-variable name="x" value="1"/></wait>"#,
            "inside <wait>",
        ),
    ]);
}

/// APIM's pattern: inside `wait`, a `choose` decides (here on a cached value looked up in the
/// same wait) whether a request goes out; the answers land in the branches that sent them.
#[test]
fn wait_runs_choose_and_sends_what_the_branches_taken_send() {
    use certgate_policy::Next;
    let p = plan(&format!(
        r#"<policies><inbound><wait for="all">
          <cache-lookup-value key="token" variable-name="token" />
          <choose>
            <when condition="@(!context.Variables.ContainsKey(&quot;token&quot;))">
              <set-variable name="branch" value="fetch" />
              <send-request response-variable-name="fresh"><set-url>http://127.0.0.1:9/token</set-url></send-request>
            </when>
            <otherwise><set-variable name="branch" value="cached" /></otherwise>
          </choose>
          <send-request response-variable-name="profile"><set-url>http://127.0.0.1:9/profile</set-url></send-request>
        </wait>
        <set-header name="X-Seen" exists-action="override"><value>@(((IResponse)context.Variables["fresh"]).StatusCode + "/" + ((IResponse)context.Variables["profile"]).StatusCode + "/" + (string)context.Variables["branch"])</value></set-header>
        </inbound>{ON_ERROR}</policies>"#
    ));
    let mut ctx = SimpleContext::new("GET", "/");
    let Next::SendAll {
        requests, cursor, ..
    } = p.start(&mut ctx)
    else {
        panic!("not sent together")
    };
    assert_eq!(
        requests.iter().map(|r| r.url.as_str()).collect::<Vec<_>>(),
        ["http://127.0.0.1:9/token", "http://127.0.0.1:9/profile"]
    );
    let answer = |s: u16| Some(Ok(SentResponse::new(s, "", vec![], Arc::from(&b""[..]))));
    assert!(matches!(
        p.after_send_all(cursor, vec![answer(201), answer(202)], &mut ctx),
        Next::CallBackend { .. }
    ));
    assert_eq!(
        ctx.request_header("X-Seen").as_deref(),
        Some("201/202/fetch")
    );
}

#[test]
fn policies_after_the_backend_read_its_body_and_the_plan_says_so() {
    let p = plan(
        r#"<policies><backend><forward-request/><find-and-replace from="backend" to="origin"/></backend>
        <outbound><set-body template="liquid">[{{body.where}}|{{context.Response.StatusCode}}]</set-body></outbound></policies>"#,
    );
    assert!(p.reads_response_body && !p.reads_request_body);
    let mut ctx = SimpleContext::new("GET", "/");
    let r = certgate_policy::run_pipeline(&p, &mut ctx, |c, _| {
        c.set_response_status(202, None);
        c.write_response_header("Content-Type", "application/json", HeaderWrite::Set);
        c.set_response_body(br#"{"where":"backend"}"#.to_vec());
        Ok(())
    });
    assert_eq!(r, PipelineResult::Proxied);
    assert_eq!(ctx.body_text(), Some("[origin|202]"));
    // Before the backend call the request's body is read instead.
    let p = plan(r#"<policies><inbound><find-and-replace from="a" to="b"/></inbound></policies>"#);
    assert!(p.reads_request_body && !p.reads_response_body);
}

#[test]
fn context_response_body_reads_the_backends_body() {
    let p = plan(
        r#"<policies><outbound><set-header name="X-Count" exists-action="override"><value>@(context.Response.Body.As&lt;JObject&gt;()["items"].Count().ToString())</value></set-header></outbound></policies>"#,
    );
    assert!(p.reads_response_body);
    let mut ctx = SimpleContext::new("GET", "/");
    let r = certgate_policy::run_pipeline(&p, &mut ctx, |c, _| {
        c.set_response_status(200, None);
        c.set_response_body(br#"{"items":[1,2,3]}"#.to_vec());
        Ok(())
    });
    assert_eq!(r, PipelineResult::Proxied);
    assert_eq!(ctx.response_header("X-Count").as_deref(), Some("3"));
    assert_eq!(
        ctx.body_text(),
        Some(r#"{"items":[1,2,3]}"#),
        "read, not consumed"
    );
}

/// A store shared between nodes: the gateway counts (here, the test answers).
#[derive(Debug, Default)]
struct SharedStore;

impl certgate_policy::CounterStore for SharedStore {
    fn hit(&self, c: &certgate_policy::Count) -> certgate_policy::Decision {
        certgate_policy::Decision {
            allowed: true,
            remaining: c.limit,
            retry_after: c.period,
        }
    }
    fn shared(&self) -> bool {
        true
    }
}

/// With shared counters a limit suspends its section (`Next::Count`) instead of counting in
/// the request path; the decisions it gets back act as a local count's would, and a store
/// that could not be asked (the gateway told to refuse) fails with 503
/// `CounterStoreUnavailable`. The subscription form asks for all its levels at once.
#[test]
fn shared_counters_are_counted_by_the_gateway_and_their_answer_applied() {
    use certgate_policy::{Answer, Decision, Next};
    let shared_plan = |text: &str| {
        let doc = ScopeDocument::parse(
            Scope::Operation,
            Source::plain("op.xml", text).unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let opts = CompileOptions {
            counters: Arc::new(SharedStore),
            ..CompileOptions::default()
        };
        compile_route(&[&doc], &Fragments::new(), &opts).unwrap_or_else(|e| panic!("{e}"))
    };
    let p = shared_plan(&format!(
        r#"<policies><inbound><rate-limit-by-key calls="5" renewal-period="60" counter-key="@(context.Request.Method)" remaining-calls-header-name="X-Left"/></inbound>{ON_ERROR}</policies>"#
    ));
    let start = |ctx: &mut SimpleContext| match p.start(ctx) {
        Next::Count { request, cursor } => (request, cursor),
        _ => panic!("not suspended to count"),
    };
    let mut ctx = SimpleContext::new("GET", "/");
    let (request, cursor) = start(&mut ctx);
    assert_eq!(request.counts.len(), 1);
    assert!(request.counts[0].key.ends_with("\u{1f}GET"));
    assert_eq!((request.counts[0].limit, request.quota), (5, false));
    let allowed = Decision {
        allowed: true,
        remaining: 3,
        retry_after: Duration::from_secs(40),
    };
    let next = p.resume(cursor, Some(Answer::Counted(Ok(vec![allowed]))), &mut ctx);
    assert!(matches!(next, Next::CallBackend { .. }));
    assert_eq!(ctx.response_header("X-Left").as_deref(), Some("3"));

    let mut ctx = SimpleContext::new("GET", "/");
    let (_, cursor) = start(&mut ctx);
    let refused = Decision {
        allowed: false,
        remaining: 0,
        retry_after: Duration::from_secs(40),
    };
    let next = p.resume(cursor, Some(Answer::Counted(Ok(vec![refused]))), &mut ctx);
    assert!(matches!(next, Next::Finish(PipelineResult::Error)));
    assert_eq!(ctx.status, 429);
    assert_eq!(ctx.response_header("Retry-After").as_deref(), Some("40"));

    let mut ctx = SimpleContext::new("GET", "/");
    let (_, cursor) = start(&mut ctx);
    let down = Err("Redis did not answer in time".to_string());
    let next = p.resume(cursor, Some(Answer::Counted(down)), &mut ctx);
    assert!(matches!(next, Next::Finish(PipelineResult::Error)));
    assert_eq!(ctx.status, 503);
    assert_eq!(
        ctx.response_header("X-Err").as_deref(),
        Some("rate-limit-by-key/CounterStoreUnavailable/inbound")
    );

    // rate-limit by client certificate: its policy, API and operation levels in one request;
    // without a certificate nothing is counted.
    let p = shared_plan(&format!(
        r#"<policies><inbound><quota calls="100" renewal-period="0"><api name="" calls="10" renewal-period="3600"/></quota></inbound>{ON_ERROR}</policies>"#
    ));
    let mut ctx = SimpleContext::new("GET", "/");
    assert!(matches!(p.start(&mut ctx), Next::CallBackend { .. }));
    let pki =
        certgate_policy::pki::DemoPki::generate(certgate_policy::pki::KeyKind::EcdsaP256).unwrap();
    let cert = certgate_policy::Certificate::from_x509(pki.valid.cert.clone()).unwrap();
    let mut ctx = SimpleContext::new("GET", "/");
    ctx.certificate = Some(Arc::new(cert));
    let Next::Count { request, cursor } = p.start(&mut ctx) else {
        panic!("not suspended to count")
    };
    assert_eq!(request.counts.len(), 2);
    assert!(request.quota);
    let next = p.resume(
        cursor,
        Some(Answer::Counted(Ok(vec![allowed, refused]))),
        &mut ctx,
    );
    assert!(matches!(next, Next::Finish(PipelineResult::Error)));
    assert_eq!(ctx.status, 403);
}

/// With an external cache the `cache-*` policies suspend (`Next::Cache`) and complete with its
/// answer; a `cache-lookup` hit that arrives that way ends the pipeline with the stored
/// response (the backend is not called again).
#[test]
fn external_cache_answers_complete_the_policies_that_asked() {
    use certgate_policy::{CacheOp, Next};
    let doc = ScopeDocument::parse(
        Scope::Operation,
        Source::plain(
            "op.xml",
            r#"<policies><inbound><cache-lookup vary-by-developer="false" vary-by-developer-groups="false"/></inbound>
               <outbound><cache-store duration="60"/></outbound></policies>"#,
        )
        .unwrap(),
    )
    .unwrap();
    let opts = CompileOptions {
        external_cache: true,
        ..CompileOptions::default()
    };
    let p = compile_route(&[&doc], &Fragments::new(), &opts).unwrap();
    let cache = Arc::new(certgate_policy::LocalCache::new(1 << 20));
    let mut calls = 0;
    let mut run = || {
        let mut ctx = SimpleContext::new("GET", "/w").with_cache(cache.clone());
        let Next::Cache { op, .. } = p.start(&mut ctx) else {
            panic!("not suspended for the external cache")
        };
        assert!(matches!(*op, CacheOp::Get(_)));
        let r = certgate_policy::run_pipeline(&p, &mut ctx, |c, _| {
            calls += 1;
            c.set_response_status(200, None);
            c.set_response_body(format!("call {calls}").into_bytes());
            Ok(())
        });
        (r, ctx.body_text().map(str::to_string))
    };
    assert_eq!(run(), (PipelineResult::Proxied, Some("call 1".into())));
    assert_eq!(run(), (PipelineResult::Responded, Some("call 1".into())));
}
