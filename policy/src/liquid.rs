//! APIM's Liquid templates (`set-body template="liquid"`), on the `liquid` crate, in APIM's
//! "C# mode": the filters have their PascalCase names (`Upcase`, `AtLeast`, ... as APIM lists
//! them; the lower-case Shopify names are not there), `Date` takes .NET format strings, and
//! the template sees `body` (the request's JSON body) and `context` (`Request` with `Method`,
//! `OriginalMethod`, `Url`, `OriginalUrl`, `IpAddress`, `MatchedParameters`, `HasBody`,
//! `Headers`; `Response` with `StatusCode`). A filter or tag certgate does not have is refused
//! when the policy is compiled, with the engine's message.
//!
//! Must not: know about policies (they call [`LiquidTemplate::render`]).

use std::sync::{Arc, LazyLock};

use liquid_core::model::{ScalarCow, ValueCow};
use liquid_core::parser::{FilterArguments, Language, ParameterReflection};
use liquid_core::runtime::{Renderable, RuntimeBuilder};
use liquid_core::{Error, Expression, Filter, FilterReflection, ParseBlock, ParseFilter, ParseTag};
use liquid_core::{Result as LiquidResult, Runtime, Value, ValueView};

use crate::context::{RequestContext, UrlView};
use crate::dotnet::DateTime;

/// A stdlib filter under its APIM (DotLiquid C# mode) name.
#[derive(Clone)]
struct Named<F> {
    name: &'static str,
    inner: F,
}

impl<F: ParseFilter + Clone + 'static> ParseFilter for Named<F> {
    fn parse(&self, arguments: FilterArguments) -> LiquidResult<Box<dyn Filter>> {
        self.inner.parse(arguments)
    }
    fn reflection(&self) -> &dyn FilterReflection {
        self
    }
}

impl<F: ParseFilter> FilterReflection for Named<F> {
    fn name(&self) -> &str {
        self.name
    }
    fn description(&self) -> &str {
        self.inner.reflection().description()
    }
    fn positional_parameters(&self) -> &'static [ParameterReflection] {
        self.inner.reflection().positional_parameters()
    }
    fn keyword_parameters(&self) -> &'static [ParameterReflection] {
        self.inner.reflection().keyword_parameters()
    }
}

/// `Date: "yyyy-MM-dd"`: a date (as .NET parses it) in a .NET format.
#[derive(Clone)]
struct DotNetDate;

impl ParseFilter for DotNetDate {
    fn parse(&self, mut arguments: FilterArguments) -> LiquidResult<Box<dyn Filter>> {
        let format = arguments
            .positional
            .next()
            .ok_or_else(|| Error::with_msg("Date needs a .NET format string"))?;
        if arguments.positional.next().is_some() || arguments.keyword.next().is_some() {
            return Err(Error::with_msg("Date takes one argument, the format"));
        }
        Ok(Box::new(DateFilter { format }))
    }
    fn reflection(&self) -> &dyn FilterReflection {
        self
    }
}

impl FilterReflection for DotNetDate {
    fn name(&self) -> &str {
        "Date"
    }
    fn description(&self) -> &str {
        "Formats a date with a .NET format string"
    }
    fn positional_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
    fn keyword_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
}

#[derive(Debug)]
struct DateFilter {
    format: Expression,
}

impl std::fmt::Display for DateFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Date: {}", self.format)
    }
}

impl Filter for DateFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> LiquidResult<Value> {
        let format = self.format.evaluate(runtime)?.to_kstr().to_string();
        let text = input.to_kstr().to_string();
        Ok(match DateTime::parse_dotnet(&text) {
            Some(d) => Value::scalar(d.format(&format)),
            // DotLiquid leaves what is not a date as it is.
            None => Value::scalar(text),
        })
    }
}

/// The language: APIM's tags and blocks, its filters by their PascalCase names, built once.
static LANGUAGE: LazyLock<Language> = LazyLock::new(|| {
    use liquid_lib::stdlib as s;
    let mut l = Language::empty();
    let tags: Vec<Box<dyn ParseTag>> = vec![
        Box::new(s::AssignTag),
        Box::new(s::BreakTag),
        Box::new(s::ContinueTag),
        Box::new(s::CycleTag),
        Box::new(s::IncrementTag),
        Box::new(s::DecrementTag),
    ];
    for t in tags {
        l.tags.register(t.reflection().tag().to_owned(), t);
    }
    let blocks: Vec<Box<dyn ParseBlock>> = vec![
        Box::new(s::RawBlock),
        Box::new(s::IfBlock),
        Box::new(s::UnlessBlock),
        Box::new(s::IfChangedBlock),
        Box::new(s::ForBlock),
        Box::new(s::TableRowBlock),
        Box::new(s::CommentBlock),
        Box::new(s::CaptureBlock),
        Box::new(s::CaseBlock),
    ];
    for b in blocks {
        l.blocks.register(b.reflection().start_tag().to_owned(), b);
    }
    let mut filters: Vec<Box<dyn ParseFilter>> = vec![Box::new(DotNetDate)];
    macro_rules! named {
        ($($name:literal => $f:expr,)+) => {
            $(filters.push(Box::new(Named { name: $name, inner: $f }));)+
        };
    }
    named! {
        "Abs" => s::Abs, "Append" => s::Append, "AtLeast" => s::AtLeast, "AtMost" => s::AtMost,
        "Capitalize" => s::Capitalize, "Compact" => s::Compact, "Default" => s::Default,
        "DividedBy" => s::DividedBy, "Downcase" => s::Downcase, "Escape" => s::Escape,
        "H" => s::Escape, "First" => s::First, "Join" => s::Join, "Last" => s::Last,
        "Lstrip" => s::Lstrip, "Map" => s::Map, "Minus" => s::Minus, "Modulo" => s::Modulo,
        "NewlineToBr" => s::NewlineToBr, "Plus" => s::Plus, "Prepend" => s::Prepend,
        "Remove" => s::Remove, "RemoveFirst" => s::RemoveFirst, "Replace" => s::Replace,
        "ReplaceFirst" => s::ReplaceFirst, "Round" => s::Round, "Rstrip" => s::Rstrip,
        "Size" => s::Size, "Slice" => s::Slice, "Sort" => s::Sort, "Split" => s::Split,
        "Strip" => s::Strip, "StripHtml" => s::StripHtml, "StripNewlines" => s::StripNewlines,
        "Times" => s::Times, "Truncate" => s::Truncate, "TruncateWords" => s::TruncateWords,
        "Uniq" => s::Uniq, "Upcase" => s::Upcase, "UrlDecode" => s::UrlDecode,
        "UrlEncode" => s::UrlEncode,
    }
    for f in filters {
        l.filters.register(f.reflection().name().to_owned(), f);
    }
    l
});

/// DotLiquid renders a value the template names but the data does not have as nothing;
/// liquid-rust stops with an error. This runtime answers such a lookup with nil.
struct Lenient<R>(R);

impl<R: Runtime> Runtime for Lenient<R> {
    fn partials(&self) -> &dyn liquid_core::runtime::PartialStore {
        self.0.partials()
    }
    fn name(&self) -> Option<liquid_core::model::KStringRef<'_>> {
        self.0.name()
    }
    fn roots(&self) -> std::collections::BTreeSet<liquid_core::model::KStringCow<'_>> {
        self.0.roots()
    }
    fn try_get(&self, path: &[ScalarCow<'_>]) -> Option<ValueCow<'_>> {
        self.0.try_get(path)
    }
    fn get(&self, path: &[ScalarCow<'_>]) -> LiquidResult<ValueCow<'_>> {
        Ok(self.0.try_get(path).unwrap_or(ValueCow::Owned(Value::Nil)))
    }
    fn set_global(&self, name: liquid_core::model::KString, val: Value) -> Option<Value> {
        self.0.set_global(name, val)
    }
    fn set_index(&self, name: liquid_core::model::KString, val: Value) -> Option<Value> {
        self.0.set_index(name, val)
    }
    fn get_index<'a>(&'a self, name: &str) -> Option<ValueCow<'a>> {
        self.0.get_index(name)
    }
    fn registers(&self) -> &liquid_core::runtime::Registers {
        self.0.registers()
    }
}

/// A compiled template.
#[derive(Clone)]
pub struct LiquidTemplate(Arc<liquid_core::Template>);

impl std::fmt::Debug for LiquidTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiquidTemplate")
    }
}

impl LiquidTemplate {
    /// Compiles `text`; the engine's message when it cannot (an unknown filter or tag).
    pub fn compile(text: &str) -> Result<LiquidTemplate, String> {
        liquid_core::parser::parse(text, &LANGUAGE)
            .map(|elements| LiquidTemplate(Arc::new(liquid_core::Template::new(elements))))
            .map_err(|e| e.to_string().trim().replace('\n', " "))
    }

    /// Renders it over the request: `body` is the request's JSON body (`None`: as in
    /// `return-response`, empty).
    pub fn render(&self, ctx: &dyn RequestContext, body: Option<&[u8]>) -> Result<String, String> {
        let body = body
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
            .map(|j| liquid_core::to_value(&j).unwrap_or(Value::Nil))
            .unwrap_or(Value::Nil);
        let url = |u: UrlView| {
            let query: liquid_core::Object = u
                .query
                .split('&')
                .filter(|kv| !kv.is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    let dec = |s: &str| {
                        percent_encoding::percent_decode_str(&s.replace('+', " "))
                            .decode_utf8_lossy()
                            .into_owned()
                    };
                    (dec(k).into(), Value::scalar(dec(v)))
                })
                .collect();
            let whole = u.to_url_string();
            liquid_core::object!({
                "Scheme": u.scheme, "Host": u.host, "Port": u.port as i64, "Path": u.path,
                "QueryString": if u.query.is_empty() { String::new() } else { format!("?{}", u.query) },
                "Query": query, "ToString": whole.clone(), "ToUri": whole,
            })
        };
        let mut headers = liquid_core::Object::new();
        for (k, v) in ctx.request_headers() {
            // Joined as APIM's dictionaries join repeated headers.
            let joined = match headers.get(k.as_str()) {
                Some(prev) => format!("{},{v}", prev.to_kstr()),
                None => v,
            };
            headers.insert(k.into(), Value::scalar(joined));
        }
        let params: liquid_core::Object = ctx
            .matched_parameters()
            .into_iter()
            .map(|(k, v)| (k.into(), Value::scalar(v)))
            .collect();
        let globals = liquid_core::object!({
            "body": body,
            "context": {
                "Request": {
                    "Method": ctx.method(),
                    "OriginalMethod": ctx.method(),
                    "Url": url(ctx.url()),
                    "OriginalUrl": url(ctx.original_url()),
                    "IpAddress": ctx.client_ip().to_string(),
                    "MatchedParameters": params,
                    "HasBody": ctx.request_body().is_some_and(|b| !b.is_empty()),
                    "Headers": headers,
                },
                "Response": { "StatusCode": ctx.response_status().0 as i64 },
            },
        });
        let runtime = Lenient(RuntimeBuilder::new().set_globals(&globals).build());
        let mut out = Vec::new();
        self.0
            .render_to(&mut out, &runtime)
            .map_err(|e| e.to_string().trim().replace('\n', " "))?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::SimpleContext;

    #[test]
    fn apims_examples_render_in_csharp_mode() {
        let t = LiquidTemplate::compile(
            r#"<Envelope><Cust>{{body.getOpenOrders.cust | Upcase}}</Cust><Method>{{context.Request.Method}}</Method><Tenant>{{context.Request.Headers["X-Tenant"]}}</Tenant><When>{{body.when | Date: "yyyyMMdd"}}</When>{% for o in body.orders %}<Id>{{o.id | Plus: 1}}</Id>{% endfor %}</Envelope>"#,
        )
        .unwrap();
        let ctx = SimpleContext::new("POST", "/orders?x=1").with_header("X-Tenant", "contoso");
        let body = br#"{"getOpenOrders":{"cust":"c-1"},"when":"2024-03-21T05:40:00Z","orders":[{"id":1},{"id":2}]}"#;
        assert_eq!(
            t.render(&ctx, Some(body)).unwrap(),
            "<Envelope><Cust>C-1</Cust><Method>POST</Method><Tenant>contoso</Tenant><When>20240321</When><Id>2</Id><Id>3</Id></Envelope>"
        );
        let t = LiquidTemplate::compile("{{context.Request.Url.Path}}?{{context.Request.Url.Query.x}} {{body.missing | Default: \"none\"}}").unwrap();
        assert_eq!(t.render(&ctx, None).unwrap(), "/orders?1 none");
    }

    #[test]
    fn what_certgate_lacks_is_refused_with_the_engines_message() {
        assert!(LiquidTemplate::compile("{{ 'x' | upcase }}")
            .unwrap_err()
            .contains("upcase"));
        assert!(LiquidTemplate::compile("{{ 1 | Currency }}")
            .unwrap_err()
            .contains("Currency"));
        assert!(LiquidTemplate::compile("{% include 'x' %}").is_err());
        assert!(LiquidTemplate::compile("{% if %}").is_err());
    }
}
