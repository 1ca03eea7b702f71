//! `json-to-xml` and `xml-to-json`: the body converted between JSON and XML as APIM does it
//! with Newtonsoft.Json's conversions: an object's properties become child elements (an
//! array, repeated elements), `@name` properties and those inside `attribute-block-name`
//! become attributes, `#text` is text; back from XML, attributes become `@name` (`direct`) or
//! plain names (`javascript-friendly`, which also drops namespace prefixes), repeated children
//! (or all, with `always-array-child-elements`) become arrays, an element with only text its
//! text. Before the backend call the body is the request's, after it the backend's (the
//! gateway holds it whole). `apply="content-type-json"`/`"content-type-xml"` converts only a
//! body of that type; after the backend call `consider-accept-header` (default true)
//! converts only when the client's `Accept` asks for the target type. With `parse-date` (the
//! default) a JSON string Newtonsoft reads as a date is written in XML's date form. Reading XML
//! is `dotnet::xml_json`'s (shared with Liquid); writing it is escaping and nothing else.

use serde_json::Value as J;

use super::{body_of, holds_body, set_body_of, Fail, Flow, PolicyStep, Reader, Site};
use crate::context::{HeaderWrite, RequestContext};
use crate::dotnet::DateTime;
use crate::element::El;
use crate::error::{CompileError, ErrorKind};

#[derive(Clone, Debug)]
pub struct JsonToXml {
    response: bool,
    only_json: bool,
    consider_accept: bool,
    separator: Option<char>,
    namespace_prefix: Option<String>,
    attribute_block: Option<String>,
    parse_date: bool,
}

#[derive(Clone, Debug)]
pub struct XmlToJson {
    response: bool,
    only_xml: bool,
    consider_accept: bool,
    javascript_friendly: bool,
    always_array: bool,
}

fn apply(el: &El, typed: &str) -> Result<bool, CompileError> {
    let a = el.req("apply")?;
    match a.value.text.as_str() {
        "always" => Ok(false),
        t if t == typed => Ok(true),
        other => Err(el.attr_err(
            a,
            ErrorKind::InvalidValue,
            format!("apply '{other}'; expected always or {typed}"),
        )),
    }
}

/// Whether a Content-Type is JSON (`application/json`, `text/json`, `*+json`) or XML.
fn is_type(content_type: Option<&str>, suffix: &str) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == format!("application/{suffix}")
        || mime == format!("text/{suffix}")
        || mime.ends_with(&format!("+{suffix}"))
}

fn content_type(ctx: &dyn RequestContext, response: bool) -> Option<String> {
    if response {
        ctx.response_header("Content-Type").map(|c| c.to_string())
    } else {
        ctx.request_header("Content-Type").map(|c| c.to_string())
    }
}

/// After the backend call, with `consider-accept-header`: whether the client asks for `kind`.
fn accepted(ctx: &dyn RequestContext, kind: &str) -> bool {
    ctx.request_header("Accept")
        .is_some_and(|a| a.split(',').any(|t| is_type(Some(t), kind)))
}

fn set_type(ctx: &mut dyn RequestContext, response: bool, value: &str) {
    if response {
        ctx.write_response_header("Content-Type", value, HeaderWrite::Set);
    } else {
        ctx.write_request_header("Content-Type", value, HeaderWrite::Set);
    }
}

fn conversion_failed(at: &Site, what: &str) -> Fail {
    at.origin.fail(
        "BodyConversionFailure",
        &format!("The body cannot be converted: {what}"),
        500,
        "Internal server error",
    )
}

impl PolicyStep for JsonToXml {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&[
            "apply",
            "consider-accept-header",
            "parse-date",
            "namespace-separator",
            "namespace-prefix",
            "attribute-block-name",
        ])?;
        el.only_children(&[], false)?;
        let separator = match el.opt("namespace-separator") {
            Some(a) => {
                let t = el.literal(a)?;
                let mut chars = t.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Some(c),
                    _ => {
                        return Err(el.attr_err(
                            a,
                            ErrorKind::InvalidValue,
                            "namespace-separator is one character",
                        ))
                    }
                }
            }
            None => None,
        };
        let lit = |n: &str| {
            el.opt(n)
                .map(|a| el.literal(a).map(str::to_string))
                .transpose()
        };
        Ok(JsonToXml {
            only_json: apply(el, "content-type-json")?,
            consider_accept: el.bool_attr("consider-accept-header", true)?,
            separator,
            namespace_prefix: lit("namespace-prefix")?,
            attribute_block: lit("attribute-block-name")?,
            parse_date: el.bool_attr("parse-date", true)?,
            response: holds_body(r),
        })
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        if self.only_json && !is_type(content_type(ctx, self.response).as_deref(), "json") {
            return Ok(Flow::Next);
        }
        if self.response && self.consider_accept && !accepted(ctx, "xml") {
            return Ok(Flow::Next);
        }
        let Some(body) = body_of(ctx, self.response) else {
            return Ok(Flow::Next);
        };
        let json: J = serde_json::from_slice(&body)
            .map_err(|e| conversion_failed(at, &format!("it is not JSON ({e})")))?;
        let xml = self.document(&json);
        set_body_of(ctx, self.response, xml.into_bytes());
        set_type(ctx, self.response, "application/xml");
        Ok(Flow::Next)
    }
}

impl JsonToXml {
    /// The XML document: the single property of the top object as the root, else a
    /// `Document` root around everything.
    fn document(&self, json: &J) -> String {
        let mut out = String::new();
        match json {
            J::Object(m) if m.len() == 1 => {
                for (k, v) in m {
                    self.element(&mut out, k, v);
                }
            }
            other => self.element(&mut out, "Document", other),
        }
        out
    }

    fn name(&self, n: &str) -> String {
        let n = match self.separator {
            Some(c) if c != ':' => n.replacen(c, ":", 1),
            _ => n.to_string(),
        };
        // An XML name: characters that cannot be in one become `_`.
        let mut s: String = n
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || "_-.:".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.') {
            s.insert(0, '_');
        }
        s
    }

    fn element(&self, out: &mut String, name: &str, v: &J) {
        match v {
            J::Array(items) => {
                for item in items {
                    self.element(out, name, item);
                }
            }
            J::Object(m) => {
                let name = self.name(name);
                out.push('<');
                out.push_str(&name);
                let mut children: Vec<(&String, &J)> = Vec::new();
                let mut text = None;
                for (k, v) in m {
                    if Some(k.as_str()) == self.attribute_block.as_deref() {
                        if let J::Object(attrs) = v {
                            for (ak, av) in attrs {
                                self.attribute(out, ak, av);
                            }
                        }
                    } else if let Some(a) = k.strip_prefix('@') {
                        self.attribute(out, a, v);
                    } else if self.namespace_prefix.as_deref().is_some_and(|p| {
                        k == p
                            || k.starts_with(&format!("{p}:"))
                            || self
                                .separator
                                .is_some_and(|s| k.starts_with(&format!("{p}{s}")))
                    }) {
                        self.attribute(out, k, v);
                    } else if k == "#text" {
                        text = Some(v);
                    } else {
                        children.push((k, v));
                    }
                }
                if children.is_empty() && text.is_none() {
                    out.push_str("/>");
                    return;
                }
                out.push('>');
                if let Some(t) = text {
                    out.push_str(&escape(&self.scalar(t)));
                }
                for (k, v) in children {
                    self.element(out, k, v);
                }
                out.push_str("</");
                out.push_str(&name);
                out.push('>');
            }
            J::Null => {
                out.push('<');
                out.push_str(&self.name(name));
                out.push_str("/>");
            }
            scalar_value => {
                let name = self.name(name);
                out.push('<');
                out.push_str(&name);
                out.push('>');
                out.push_str(&escape(&self.scalar(scalar_value)));
                out.push_str("</");
                out.push_str(&name);
                out.push('>');
            }
        }
    }

    /// A JSON scalar as XML text (`true`, `1.5`, the string itself, a date in XML's form).
    fn scalar(&self, v: &J) -> String {
        match v {
            J::String(s) => match DateTime::parse_json_date(s).filter(|_| self.parse_date) {
                Some(d) => d.to_xml_string(),
                None => s.clone(),
            },
            J::Null => String::new(),
            other => other.to_string(),
        }
    }

    fn attribute(&self, out: &mut String, name: &str, v: &J) {
        out.push(' ');
        out.push_str(&self.name(name));
        out.push_str("=\"");
        out.push_str(&escape(&self.scalar(v)));
        out.push('"');
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl PolicyStep for XmlToJson {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&[
            "kind",
            "apply",
            "consider-accept-header",
            "always-array-child-elements",
        ])?;
        el.only_children(&[], false)?;
        let k = el.req("kind")?;
        let javascript_friendly = match k.value.text.as_str() {
            "javascript-friendly" => true,
            "direct" => false,
            other => {
                return Err(el.attr_err(
                    k,
                    ErrorKind::InvalidValue,
                    format!("kind '{other}'; expected javascript-friendly or direct"),
                ))
            }
        };
        Ok(XmlToJson {
            only_xml: apply(el, "content-type-xml")?,
            consider_accept: el.bool_attr("consider-accept-header", true)?,
            javascript_friendly,
            always_array: el.bool_attr("always-array-child-elements", false)?,
            response: holds_body(r),
        })
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        if self.only_xml && !is_type(content_type(ctx, self.response).as_deref(), "xml") {
            return Ok(Flow::Next);
        }
        if self.response && self.consider_accept && !accepted(ctx, "json") {
            return Ok(Flow::Next);
        }
        let Some(body) = body_of(ctx, self.response) else {
            return Ok(Flow::Next);
        };
        let text = String::from_utf8_lossy(&body);
        let json = crate::dotnet::xml_json::XmlToJson {
            javascript_friendly: self.javascript_friendly,
            always_array: self.always_array,
            xsi_nil_null: None,
        }
        .convert(&text)
        .map_err(|e| conversion_failed(at, &e))?;
        let json = json.to_string();
        set_body_of(ctx, self.response, json.into_bytes());
        set_type(ctx, self.response, "application/json");
        Ok(Flow::Next)
    }
}

#[cfg(test)]
mod tests {
    use crate::context::{RequestContext, SimpleContext};
    use crate::policies::testing::{read, refused, run};

    fn convert(xml_policy: &str, body: &str, content_type: &str) -> (String, Option<String>) {
        let p = read(xml_policy).unwrap_or_else(|e| panic!("{e}"));
        let mut ctx = SimpleContext::new("POST", "/").with_header("Content-Type", content_type);
        ctx.request_body = Some(body.as_bytes().to_vec());
        run(&p, &mut ctx).unwrap();
        let out = ctx
            .state
            .request_body
            .clone()
            .map(|b| String::from_utf8(b).unwrap())
            .unwrap_or_else(|| body.to_string());
        (
            out,
            ctx.request_header("Content-Type").map(|c| c.to_string()),
        )
    }

    #[test]
    fn json_becomes_xml_as_apims_example_says() {
        let (xml, ct) = convert(
            r##"<json-to-xml apply="always" namespace-separator=":" namespace-prefix="xmlns" attribute-block-name="#attrs"/>"##,
            r##"{"soapenv:Envelope":{"xmlns:soapenv":"http://schemas.xmlsoap.org/soap/envelope/","soapenv:Header":{},"soapenv:Body":{"v1:QueryList":{"#attrs":{"queryName":"test"},"v1:QueryItem":{"name":"dummy text & more"}}}}}"##,
            "application/json",
        );
        assert_eq!(
            xml,
            r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Header/><soapenv:Body><v1:QueryList queryName="test"><v1:QueryItem><name>dummy text &amp; more</name></v1:QueryItem></v1:QueryList></soapenv:Body></soapenv:Envelope>"#
        );
        assert_eq!(ct.as_deref(), Some("application/xml"));
        let (xml, _) = convert(
            r#"<json-to-xml apply="always"/>"#,
            r#"{"a":1,"b":[true,false],"@c":"d"}"#,
            "application/json",
        );
        assert_eq!(
            xml,
            r#"<Document c="d"><a>1</a><b>true</b><b>false</b></Document>"#
        );
        // parse-date (the default) writes dates as Newtonsoft does; false copies them.
        let dates =
            r#"{"d":{"a":"/Date(1198908717056)/","b":"2012-03-21T05:40Z","c":"2012-03-21"}}"#;
        let (xml, _) = convert(
            r#"<json-to-xml apply="always"/>"#,
            dates,
            "application/json",
        );
        assert_eq!(
            xml,
            "<d><a>2007-12-29T06:11:57.056Z</a><b>2012-03-21T05:40:00Z</b><c>2012-03-21</c></d>"
        );
        let (xml, _) = convert(
            r#"<json-to-xml apply="always" parse-date="false"/>"#,
            dates,
            "application/json",
        );
        assert_eq!(
            xml,
            "<d><a>/Date(1198908717056)/</a><b>2012-03-21T05:40Z</b><c>2012-03-21</c></d>"
        );
        // content-type-json leaves other bodies alone.
        let (body, _) = convert(
            r#"<json-to-xml apply="content-type-json"/>"#,
            "{}",
            "text/plain",
        );
        assert_eq!(body, "{}");
    }

    #[test]
    fn xml_becomes_json_direct_or_javascript_friendly() {
        let xml = r#"<s:Order xmlns:s="urn:shop" id="7"><s:Item>a</s:Item><s:Item>b</s:Item><s:Note lang="en">hi</s:Note><s:Empty/></s:Order>"#;
        let (json, ct) = convert(
            r#"<xml-to-json kind="direct" apply="always"/>"#,
            xml,
            "text/xml",
        );
        assert_eq!(
            json,
            r##"{"s:Order":{"@xmlns:s":"urn:shop","@id":"7","s:Item":["a","b"],"s:Note":{"@lang":"en","#text":"hi"},"s:Empty":null}}"##
        );
        assert_eq!(ct.as_deref(), Some("application/json"));
        let (json, _) = convert(
            r#"<xml-to-json kind="javascript-friendly" apply="content-type-xml" always-array-child-elements="true"/>"#,
            xml,
            "application/soap+xml; charset=utf-8",
        );
        assert_eq!(
            json,
            r##"{"Order":{"id":"7","Item":["a","b"],"Note":[{"lang":"en","#text":"hi"}],"Empty":[null]}}"##
        );
        let p = read(r#"<xml-to-json kind="direct" apply="always"/>"#).unwrap();
        let mut ctx = SimpleContext::new("POST", "/");
        ctx.request_body = Some(b"<a><b></a>".to_vec());
        assert_eq!(
            &*run(&p, &mut ctx).unwrap_err().reason,
            "BodyConversionFailure"
        );
        // A hostile body nested 100 000 deep is refused, not recursed into.
        let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
        ctx.request_body = Some(deep.into_bytes());
        let e = run(&p, &mut ctx).unwrap_err();
        assert!(e.message.contains("nest"), "{}", e.message);
        for (x, needle) in [
            (
                r#"<xml-to-json kind="pretty" apply="always"/>"#,
                "expected javascript-friendly or direct",
            ),
            (r#"<xml-to-json kind="direct"/>"#, "'apply'"),
            (
                r#"<json-to-xml apply="content-type-xml"/>"#,
                "expected always or content-type-json",
            ),
            (
                r#"<json-to-xml apply="always" namespace-separator="::"/>"#,
                "one character",
            ),
        ] {
            assert!(refused(x).contains(needle), "{x}: {}", refused(x));
        }
    }
}
