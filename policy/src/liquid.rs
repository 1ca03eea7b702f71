//! APIM's Liquid templates (`set-body template="liquid"`), on the `liquid` crate, in APIM's
//! "C# mode": the filters have their PascalCase names (`Upcase`, `AtLeast`, ... as APIM lists
//! them; the lower-case Shopify names are not there), `Date` takes .NET format strings, and
//! the template sees `body` (the request's JSON body) and `context` (`Request` with `Method`,
//! `OriginalMethod`, `Url`, `OriginalUrl`, `IpAddress`, `MatchedParameters`, `HasBody`,
//! `Headers`; `Response` with `StatusCode`). A filter or tag certgate does not have is refused
//! when the policy is compiled, with the engine's message.
//!
//! Must not: know about policies (they call [`LiquidTemplate::render`]).

use std::cell::Cell;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

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
        let date = DateTime::parse_dotnet(&text).or_else(|| DateTime::parse_json_date(&text));
        Ok(match date {
            // A format .NET refuses leaves the text as it is, as DotLiquid's filter does.
            Some(d) => Value::scalar(d.format(&format).unwrap_or(text)),
            // DotLiquid leaves what is not a date as it is.
            None => Value::scalar(text),
        })
    }
}

/// `Currency`: a number as en-US money (`$1,234.50`, `-$3.00`), as DotLiquid's `Currency`
/// formats with .NET's `C` under APIM's culture; what is not a number stays as it is.
#[derive(Clone)]
struct DotNetCurrency;

impl ParseFilter for DotNetCurrency {
    fn parse(&self, mut arguments: FilterArguments) -> LiquidResult<Box<dyn Filter>> {
        // DotLiquid takes a culture name: en-US is the one certgate formats in.
        if let Some(culture) = arguments.positional.next() {
            let en_us = matches!(&culture, Expression::Literal(v)
                if v.as_scalar().is_some_and(|s| s.to_kstr().eq_ignore_ascii_case("en-US")));
            if !en_us {
                return Err(Error::with_msg(
                    "Currency formats in en-US only in certgate; another culture is not supported",
                ));
            }
        }
        if arguments.positional.next().is_some() || arguments.keyword.next().is_some() {
            return Err(Error::with_msg(
                "Currency takes at most one argument, the culture",
            ));
        }
        Ok(Box::new(CurrencyFilter))
    }
    fn reflection(&self) -> &dyn FilterReflection {
        self
    }
}

impl FilterReflection for DotNetCurrency {
    fn name(&self) -> &str {
        "Currency"
    }
    fn description(&self) -> &str {
        "Formats a number as en-US currency"
    }
    fn positional_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
    fn keyword_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
}

#[derive(Debug)]
struct CurrencyFilter;

impl std::fmt::Display for CurrencyFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Currency")
    }
}

impl Filter for CurrencyFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> LiquidResult<Value> {
        let number = input.as_scalar().and_then(|s| {
            s.to_float()
                .or_else(|| s.to_kstr().trim().parse::<f64>().ok())
        });
        Ok(match number.filter(|n| n.is_finite()) {
            Some(n) => Value::scalar(currency(n)),
            None => input.to_value(),
        })
    }
}

/// .NET's `C` format in en-US: two decimals (rounded half away from zero), thousands
/// separated, the sign before the symbol.
fn currency(n: f64) -> String {
    let cents = (n.abs() * 100.0).round() as u128;
    let (whole, frac) = (cents / 100, cents % 100);
    let digits = whole.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if n < 0.0 && cents > 0 { "-" } else { "" };
    format!("{sign}${grouped}.{frac:02}")
}

/// A `for` or `tablerow` range, `(a..b)`, builds its whole list before the loop starts
/// (liquid-lib collects it): a bound read from the request (`(1..body.n)`) could make the
/// gateway build a list of any length. Ranges therefore need whole-number bounds written in
/// the template, at most this many apart.
const MAX_RANGE: i64 = 100_000;

/// In a first parse of each template, `for` and `tablerow` are this block: it checks the
/// ranges, parses the body (so nested loops are checked too) and builds nothing.
#[derive(Clone)]
struct RangeCheck<B>(B);

impl<B: ParseBlock + Clone + 'static> ParseBlock for RangeCheck<B> {
    fn parse(
        &self,
        mut arguments: liquid_core::TagTokenIter<'_>,
        mut block: liquid_core::TagBlock<'_, '_>,
        options: &Language,
    ) -> LiquidResult<Box<dyn Renderable>> {
        while let Some(token) = arguments.next() {
            if let liquid_core::parser::TryMatchToken::Matches((a, b)) = token.expect_range() {
                let literal = |e: &Expression| match e {
                    Expression::Literal(v) => v.as_scalar().and_then(|s| s.to_integer()),
                    Expression::Variable(_) => None,
                };
                match (literal(&a), literal(&b)) {
                    (Some(a), Some(b)) if b.saturating_sub(a) < MAX_RANGE => {}
                    _ => {
                        return Err(arguments.raise_error(&format!(
                            "a range ({a}..{b}) needs whole-number bounds written in the \
                             template, at most {MAX_RANGE} apart (certgate builds the whole \
                             list first; a bound from the request could exhaust the gateway)"
                        )))
                    }
                }
            }
        }
        while let Some(element) = block.next()? {
            match element {
                liquid_core::parser::BlockElement::Tag(tag) if tag.name() == "else" => {}
                element => {
                    element.parse(&mut block, options)?;
                }
            }
        }
        Ok(Box::new(liquid_core::Template::new(Vec::new())))
    }
    fn reflection(&self) -> &dyn liquid_core::BlockReflection {
        self.0.reflection()
    }
}

/// The language: APIM's tags and blocks, its filters by their PascalCase names. With
/// `check_ranges`, `for` and `tablerow` are [`RangeCheck`]s (the first parse of a template).
fn language(check_ranges: bool) -> Language {
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
    let mut blocks: Vec<Box<dyn ParseBlock>> = vec![
        Box::new(s::RawBlock),
        Box::new(s::IfBlock),
        Box::new(s::UnlessBlock),
        Box::new(s::IfChangedBlock),
        Box::new(s::CommentBlock),
        Box::new(s::CaptureBlock),
        Box::new(s::CaseBlock),
    ];
    if check_ranges {
        blocks.push(Box::new(RangeCheck(s::ForBlock)));
        blocks.push(Box::new(RangeCheck(s::TableRowBlock)));
    } else {
        blocks.push(Box::new(s::ForBlock));
        blocks.push(Box::new(s::TableRowBlock));
    }
    for b in blocks {
        l.blocks.register(b.reflection().start_tag().to_owned(), b);
    }
    let mut filters: Vec<Box<dyn ParseFilter>> =
        vec![Box::new(DotNetDate), Box::new(DotNetCurrency)];
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
}

static LANGUAGE: LazyLock<Language> = LazyLock::new(|| language(false));
static CHECKING: LazyLock<Language> = LazyLock::new(|| language(true));

/// DotLiquid renders a value the template names but the data does not have as nothing;
/// liquid-rust stops with an error. This runtime answers such a lookup with nil. Every lookup
/// also checks the render's deadline: each loop looks its list up once per pass of the loop
/// around it, so a template looping over a hostile body stops within one loop's work.
struct Lenient<R> {
    inner: R,
    deadline: Instant,
    expired: Cell<bool>,
}

impl<R: Runtime> Lenient<R> {
    fn past_deadline(&self) -> bool {
        if !self.expired.get() && Instant::now() > self.deadline {
            self.expired.set(true);
        }
        self.expired.get()
    }
}

impl<R: Runtime> Runtime for Lenient<R> {
    fn partials(&self) -> &dyn liquid_core::runtime::PartialStore {
        self.inner.partials()
    }
    fn name(&self) -> Option<liquid_core::model::KStringRef<'_>> {
        self.inner.name()
    }
    fn roots(&self) -> std::collections::BTreeSet<liquid_core::model::KStringCow<'_>> {
        self.inner.roots()
    }
    fn try_get(&self, path: &[ScalarCow<'_>]) -> Option<ValueCow<'_>> {
        if self.past_deadline() {
            return None;
        }
        self.inner.try_get(path)
    }
    fn get(&self, path: &[ScalarCow<'_>]) -> LiquidResult<ValueCow<'_>> {
        if self.past_deadline() {
            return Err(Error::with_msg(OUT_OF_TIME));
        }
        Ok(self
            .inner
            .try_get(path)
            .unwrap_or(ValueCow::Owned(Value::Nil)))
    }
    fn set_global(&self, name: liquid_core::model::KString, val: Value) -> Option<Value> {
        self.inner.set_global(name, val)
    }
    fn set_index(&self, name: liquid_core::model::KString, val: Value) -> Option<Value> {
        self.inner.set_index(name, val)
    }
    fn get_index<'a>(&'a self, name: &str) -> Option<ValueCow<'a>> {
        self.inner.get_index(name)
    }
    fn registers(&self) -> &liquid_core::runtime::Registers {
        self.inner.registers()
    }
}

const OUT_OF_TIME: &str = "the template ran longer than its time bound";

/// The rendered text, refused past `max` bytes (a loop printing a hostile body's items
/// many times over ends here, not in gigabytes).
struct Bounded {
    out: Vec<u8>,
    max: usize,
    overflowed: bool,
}

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.out.len() + buf.len() > self.max {
            self.overflowed = true;
            return Err(std::io::Error::other("output bound"));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How a template reads the body it is given (`set-body`'s attributes).
#[derive(Clone, Copy, Debug)]
pub struct LiquidOptions {
    /// `parse-date` (default true): a JSON string Newtonsoft reads as a date is the date,
    /// shown as `MM/dd/yyyy HH:mm:ss`.
    pub parse_date: bool,
    /// `xsi-nil="null"` (default `blank`): an XML element marked `xsi:nil` is null, not "".
    pub xsi_nil_null: bool,
}

impl Default for LiquidOptions {
    fn default() -> Self {
        LiquidOptions {
            parse_date: true,
            xsi_nil_null: false,
        }
    }
}

/// What one render may spend.
#[derive(Clone, Copy, Debug)]
pub struct RenderLimits {
    /// Largest rendered body, bytes.
    pub max_output: usize,
    /// Longest render.
    pub max_time: Duration,
}

impl Default for RenderLimits {
    fn default() -> Self {
        RenderLimits {
            max_output: 4 << 20,
            max_time: Duration::from_secs(1),
        }
    }
}

/// A compiled template.
#[derive(Clone)]
pub struct LiquidTemplate {
    template: Arc<liquid_core::Template>,
    options: LiquidOptions,
}

impl std::fmt::Debug for LiquidTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiquidTemplate")
    }
}

impl LiquidTemplate {
    /// Compiles `text`; the engine's message when it cannot (an unknown filter or tag, a range
    /// that is not two literal bounds).
    pub fn compile(text: &str, options: LiquidOptions) -> Result<LiquidTemplate, String> {
        let message = |e: Error| e.to_string().trim().replace('\n', " ");
        liquid_core::parser::parse(text, &CHECKING).map_err(message)?;
        liquid_core::parser::parse(text, &LANGUAGE)
            .map(|elements| LiquidTemplate {
                template: Arc::new(liquid_core::Template::new(elements)),
                options,
            })
            .map_err(message)
    }

    /// Renders it over the request: `body` is the body (`None`: as in `return-response`,
    /// empty), bound when `content_type` is JSON or XML, as APIM binds it.
    pub fn render(
        &self,
        ctx: &dyn RequestContext,
        body: Option<&[u8]>,
        content_type: Option<&str>,
        limits: RenderLimits,
    ) -> Result<String, String> {
        let body = self.bind(body, content_type);
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
        let runtime = Lenient {
            inner: RuntimeBuilder::new().set_globals(&globals).build(),
            deadline: Instant::now() + limits.max_time,
            expired: Cell::new(false),
        };
        let mut out = Bounded {
            out: Vec::new(),
            max: limits.max_output,
            overflowed: false,
        };
        let rendered = self.template.render_to(&mut out, &runtime);
        if runtime.expired.get() {
            return Err(OUT_OF_TIME.to_string());
        }
        if out.overflowed {
            // liquid wraps the writer's error in its trace; the cause is said plainly.
            return Err(format!("the rendered body exceeds {} bytes", out.max));
        }
        rendered.map_err(|e| e.to_string().trim().replace('\n', " "))?;
        Ok(String::from_utf8_lossy(&out.out).into_owned())
    }

    /// The body as the template sees it: JSON as JSON (date strings parsed with
    /// `parse-date`), XML read as Newtonsoft reads it (`xsi-nil` applied), nothing else.
    fn bind(&self, body: Option<&[u8]>, content_type: Option<&str>) -> Value {
        let Some(body) = body.filter(|b| !b.is_empty()) else {
            return Value::Nil;
        };
        let json = match media_kind(content_type) {
            Some(Media::Json) => serde_json::from_slice::<serde_json::Value>(body).ok(),
            Some(Media::Xml) => crate::dotnet::xml_json::XmlToJson {
                javascript_friendly: true,
                always_array: false,
                xsi_nil_null: Some(self.options.xsi_nil_null),
            }
            .convert(&String::from_utf8_lossy(body))
            .ok(),
            None => None,
        };
        let Some(mut json) = json else {
            return Value::Nil;
        };
        if self.options.parse_date {
            parse_dates(&mut json);
        }
        liquid_core::to_value(&json).unwrap_or(Value::Nil)
    }
}

enum Media {
    Json,
    Xml,
}

/// JSON (`application/json`, `text/json`, `*+json`) or XML (`application/xml`, `text/xml`,
/// `*+xml`): the bodies APIM binds to `body`.
fn media_kind(content_type: Option<&str>) -> Option<Media> {
    let mime = content_type?
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let is = |kind: &str| {
        mime == format!("application/{kind}")
            || mime == format!("text/{kind}")
            || mime.ends_with(&format!("+{kind}"))
    };
    if is("json") {
        Some(Media::Json)
    } else if is("xml") {
        Some(Media::Xml)
    } else {
        None
    }
}

/// Date strings become dates as Newtonsoft's reader makes them, shown as DotLiquid shows a
/// `DateTime` (`MM/dd/yyyy HH:mm:ss`).
fn parse_dates(json: &mut serde_json::Value) {
    match json {
        serde_json::Value::String(s) => {
            if let Some(d) = DateTime::parse_json_date(s) {
                *s = d.format("MM/dd/yyyy HH:mm:ss").unwrap_or_default();
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(parse_dates),
        serde_json::Value::Object(m) => m.values_mut().for_each(parse_dates),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::SimpleContext;

    const JSON: Option<&str> = Some("application/json");

    fn compile(text: &str) -> Result<LiquidTemplate, String> {
        LiquidTemplate::compile(text, LiquidOptions::default())
    }

    fn render(t: &str, body: &str, content_type: Option<&str>) -> Result<String, String> {
        let ctx = SimpleContext::new("POST", "/");
        compile(t).unwrap().render(
            &ctx,
            Some(body.as_bytes()),
            content_type,
            RenderLimits::default(),
        )
    }

    #[test]
    fn apims_examples_render_in_csharp_mode() {
        let t = compile(
            r#"<Envelope><Cust>{{body.getOpenOrders.cust | Upcase}}</Cust><Method>{{context.Request.Method}}</Method><Tenant>{{context.Request.Headers["X-Tenant"]}}</Tenant><When>{{body.when | Date: "yyyyMMdd"}}</When>{% for o in body.orders %}<Id>{{o.id | Plus: 1}}</Id>{% endfor %}</Envelope>"#,
        )
        .unwrap();
        let ctx = SimpleContext::new("POST", "/orders?x=1").with_header("X-Tenant", "contoso");
        let body = br#"{"getOpenOrders":{"cust":"c-1"},"when":"2024-03-21T05:40:00Z","orders":[{"id":1},{"id":2}]}"#;
        assert_eq!(
            t.render(&ctx, Some(body), JSON, RenderLimits::default()).unwrap(),
            "<Envelope><Cust>C-1</Cust><Method>POST</Method><Tenant>contoso</Tenant><When>20240321</When><Id>2</Id><Id>3</Id></Envelope>"
        );
        let t = compile("{{context.Request.Url.Path}}?{{context.Request.Url.Query.x}} {{body.missing | Default: \"none\"}}").unwrap();
        assert_eq!(
            t.render(&ctx, None, None, RenderLimits::default()).unwrap(),
            "/orders?1 none"
        );
    }

    #[test]
    fn the_body_is_bound_when_it_is_json_or_xml_as_apim_binds_it() {
        let t = "{{body.order.id}}|{{body.order.note}}|{{body.order.items.item[1]}}";
        let xml = r#"<order xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><id>7</id><note xsi:nil="true"/><items><item>a</item><item>b</item></items></order>"#;
        assert_eq!(render(t, xml, Some("application/xml")).unwrap(), "7||b");
        assert_eq!(
            render(t, xml, Some("application/soap+xml; charset=utf-8")).unwrap(),
            "7||b"
        );
        let json = r#"{"order":{"id":7,"items":{"item":["a","b"]}}}"#;
        assert_eq!(render(t, json, Some("text/json")).unwrap(), "7||b");
        // Another type is not bound (APIM: set the Content-Type first), nor is a broken body.
        assert_eq!(render(t, json, Some("text/plain")).unwrap(), "||");
        assert_eq!(render(t, json, None).unwrap(), "||");
        assert_eq!(render(t, "<order>", Some("text/xml")).unwrap(), "||");
        // xsi-nil="null": the element is null, which Default sees.
        let null = LiquidTemplate::compile(
            "{{body.order.note | Default: \"none\"}}",
            LiquidOptions {
                xsi_nil_null: true,
                ..LiquidOptions::default()
            },
        )
        .unwrap();
        let ctx = SimpleContext::new("POST", "/");
        let out = null.render(
            &ctx,
            Some(xml.as_bytes()),
            Some("text/xml"),
            RenderLimits::default(),
        );
        assert_eq!(out.unwrap(), "none");
    }

    #[test]
    fn parse_date_shows_dates_as_dotliquid_does_unless_turned_off() {
        let t = "{{body.a}}|{{body.b}}|{{body.c}}|{{body.a | Date: \"yyyy-MM-dd\"}}";
        let body = r#"{"a":"2012-03-21T05:40Z","b":"/Date(1198908717056)/","c":"2012-03-21"}"#;
        assert_eq!(
            render(t, body, JSON).unwrap(),
            "03/21/2012 05:40:00|12/29/2007 06:11:57|2012-03-21|2012-03-21"
        );
        let off = LiquidTemplate::compile(
            t,
            LiquidOptions {
                parse_date: false,
                ..LiquidOptions::default()
            },
        )
        .unwrap();
        let ctx = SimpleContext::new("POST", "/");
        let out = off.render(&ctx, Some(body.as_bytes()), JSON, RenderLimits::default());
        assert_eq!(
            out.unwrap(),
            "2012-03-21T05:40Z|/Date(1198908717056)/|2012-03-21|2012-03-21"
        );
    }

    #[test]
    fn currency_is_en_us_money() {
        let t = "{{body.a | Currency}} {{body.b | Currency}} {{body.c | Currency: \"en-US\"}} {{body.d | Currency}} {{body.e | Currency}}";
        let body = r#"{"a":1234.5,"b":-3,"c":"1000000.005","d":"n/a","e":0.004}"#;
        assert_eq!(
            render(t, body, JSON).unwrap(),
            "$1,234.50 -$3.00 $1,000,000.01 n/a $0.00"
        );
    }

    #[test]
    fn a_hostile_body_cannot_make_a_template_run_away() {
        // A range bound from the request would make liquid-lib build a list of any length.
        for t in [
            "{% for i in (1..body.n) %}x{% endfor %}",
            "{% for i in (body.n..1) %}x{% endfor %}",
            "{% tablerow i in (1..body.n) %}x{% endtablerow %}",
            "{% for o in body.a %}{% for i in (1..o) %}{% endfor %}{% endfor %}",
            "{% for i in (1..1000000) %}{% endfor %}",
        ] {
            let e = compile(t).unwrap_err();
            assert!(e.contains("whole-number bounds"), "{t}: {e}");
        }
        assert_eq!(
            render(
                "{% for i in (1..3) %}{{i}}{% else %}none{% endfor %}",
                "{}",
                JSON
            )
            .unwrap(),
            "123"
        );
        // Output past the bound fails the render.
        let items = format!("[{}]", vec!["1"; 2000].join(","));
        let body = format!(r#"{{"a":{items}}}"#);
        let t = "{% for x in body.a %}{% for y in body.a %}{{y}}{% endfor %}{% endfor %}";
        let ctx = SimpleContext::new("POST", "/");
        let limits = RenderLimits {
            max_output: 100_000,
            ..RenderLimits::default()
        };
        let e = compile(t)
            .unwrap()
            .render(&ctx, Some(body.as_bytes()), JSON, limits);
        let e = e.unwrap_err();
        assert!(e.contains("exceeds 100000 bytes"), "{e}");
        // Nested loops printing nothing stop at the time bound, checked as each loop reads
        // its list: 2000 × 2000 × 2000 passes would take minutes.
        let t = "{% for x in body.a %}{% for y in body.a %}{% for z in body.a %}{% endfor %}{% endfor %}{% endfor %}";
        let limits = RenderLimits {
            max_time: Duration::from_millis(50),
            ..RenderLimits::default()
        };
        let e = compile(t)
            .unwrap()
            .render(&ctx, Some(body.as_bytes()), JSON, limits);
        assert_eq!(e.unwrap_err(), OUT_OF_TIME);
    }

    #[test]
    fn what_certgate_lacks_is_refused_with_the_engines_message() {
        assert!(compile("{{ 'x' | upcase }}")
            .unwrap_err()
            .contains("upcase"));
        assert!(compile("{{ 1 | Currency: 'fr-FR' }}")
            .unwrap_err()
            .contains("en-US only"));
        assert!(compile("{% include 'x' %}").is_err());
        assert!(compile("{% if %}").is_err());
    }
}
