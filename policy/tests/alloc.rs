//! Allocation counts on the request path, measured with a counting global allocator (per
//! thread, so parallel tests do not disturb each other). Constant strings must never allocate:
//! literals and folded expressions are shared `Arc<str>`s from the plan.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use certgate_policy::{compile_route, CompileOptions};
use certgate_policy::{Fragments, Scope, ScopeDocument, Section};
use certgate_policy::{RequestContext, SimpleContext};
use certgate_policy::{Source, Spanned};

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    // SAFETY: delegates to the system allocator unchanged; only counts calls.
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCS.with(Cell::get);
    f();
    ALLOCS.with(Cell::get) - before
}

#[test]
fn constant_strings_do_not_allocate() {
    let src = Source::plain("t.xml", "").unwrap();
    let ctx = SimpleContext::new("GET", "/");
    for text in [
        "plain literal",
        r#"@("folded " + "constant")"#,
        r#"@(true ? "a" : "b")"#,
        r#"@(String.Concat("x", "y").ToUpper())"#,
    ] {
        let mut sp = Spanned::new();
        sp.push_str(text, 0);
        let t = certgate_policy::Template::compile(&sp, &src, &Default::default()).unwrap();
        assert!(t.literal().is_some(), "{text} should fold to a literal");
        let n = allocations(|| {
            let v = t.eval_str(&ctx).unwrap();
            std::hint::black_box(v);
        });
        assert_eq!(n, 0, "{text}");
    }
}

#[test]
fn typical_inbound_allocation_budget() {
    let policy = r#"<policies><inbound>
<choose>
  <when condition="@(context.Request.Headers.GetValueOrDefault("X-Tenant") == "contoso")"><set-variable name="tier" value="gold"/></when>
  <when condition="@(context.Request.Headers.GetValueOrDefault("X-Tenant") == "fabrikam")"><set-variable name="tier" value="silver"/></when>
  <when condition="@(context.Request.Headers.ContainsKey("X-Partner-Id"))"><set-variable name="tier" value="bronze"/></when>
</choose>
</inbound></policies>"#;
    let doc =
        ScopeDocument::parse(Scope::Operation, Source::plain("p.xml", policy).unwrap()).unwrap();
    let plan = compile_route(&[&doc], &Fragments::new(), &CompileOptions::default()).unwrap();
    let mut ctx = SimpleContext::new("GET", "/")
        .with_header("X-Tenant", "other")
        .with_header("X-Partner-Id", "1");
    // Warm: the variables vector's first growth is per request, not per policy.
    ctx.state_mut()
        .set_variable(&"warm".into(), certgate_policy::Value::Null);
    let n = allocations(|| {
        plan.run_section(Section::Inbound, &mut ctx);
    });
    // Two header reads copy their value into an Arc<str> (the header map belongs to the
    // gateway); everything else — constants, argument lists, the variable's name and value —
    // must not allocate.
    assert!(n <= 2, "{n} allocations");
    assert!(
        matches!(ctx.state().variable("tier"), Some(certgate_policy::Value::Str(s)) if &**s == "bronze")
    );
}

/// Issue 14: a `cache-lookup-value` hit allocates nothing beyond what it returns (the cached
/// string is shared, the key is a constant, the variable's slot is reused).
#[test]
fn a_cache_hit_does_not_allocate() {
    let policy = r#"<policies><inbound><cache-lookup-value key="token" variable-name="token"/></inbound></policies>"#;
    let doc =
        ScopeDocument::parse(Scope::Operation, Source::plain("p.xml", policy).unwrap()).unwrap();
    let plan = compile_route(&[&doc], &Fragments::new(), &CompileOptions::default()).unwrap();
    let cache = std::sync::Arc::new(certgate_policy::LocalCache::new(1 << 20));
    certgate_policy::CacheStore::set(
        &*cache,
        "token",
        certgate_policy::CachedValue::new(certgate_policy::Value::str("eyJ0eXAi")).unwrap(),
        std::time::Duration::from_secs(60),
    );
    let mut ctx = SimpleContext::new("GET", "/").with_cache(cache.clone());
    // Warm: the first lookup sizes the variables vector (per request, not per policy).
    plan.run_section(Section::Inbound, &mut ctx);
    let n = allocations(|| {
        plan.run_section(Section::Inbound, &mut ctx);
    });
    assert_eq!(n, 0, "{n} allocations");
    assert!(
        matches!(ctx.state().variable("token"), Some(certgate_policy::Value::Str(s)) if &**s == "eyJ0eXAi")
    );
    assert_eq!(certgate_policy::CacheStore::stats(&*cache).hits, 2);
}
