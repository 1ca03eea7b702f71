//! The tolerant reader for APIM's XML dialect.
//!
//! Hand-written because APIM policy documents are not well-formed XML: attribute values hold
//! C# expressions with unescaped double quotes (`condition="@(x != "a")"`), and element text
//! holds expressions with `<` in them (`@(v.GetValueOrDefault<string>("k"))`). No XML library
//! reads that. The rule here: when an attribute value or a text node starts with `@(` or `@{`,
//! the expression is scanned with C# lexical rules (strings, verbatim and interpolated strings,
//! character literals, comments, bracket nesting) up to its matching close; only then does XML
//! scanning resume. Everything else follows XML: entities, comments, CDATA, `<?...?>`.
//!
//! The reader produces a tree of [`Element`]s with offsets into the [`Source`] text. It does not
//! know which elements are policies: that is `compile`'s business.

use crate::error::{CompileError, ErrorKind};
use crate::expr::scan::{find, scan_expression};
use crate::source::{Source, Spanned};

/// Nesting deeper than this is refused (hostile input must not exhaust the stack).
pub(crate) const MAX_DEPTH: usize = 64;

#[derive(Clone, Debug)]
pub struct Attr {
    pub name: String,
    /// Offset of the attribute name.
    pub offset: usize,
    /// The decoded value (entities resolved) with its offset map.
    pub value: Spanned,
}

#[derive(Clone, Debug)]
pub enum Node {
    Element(Element),
    /// Text or CDATA, decoded. White-space-only text between elements is dropped.
    Text(Spanned),
}

#[derive(Clone, Debug)]
pub struct Element {
    pub name: String,
    /// Offset of the `<` that opens the element.
    pub offset: usize,
    pub attrs: Vec<Attr>,
    pub children: Vec<Node>,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.name == name)
    }

    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The concatenated text content (text and CDATA children), if there is any.
    pub fn text(&self) -> Option<Spanned> {
        let mut out: Option<Spanned> = None;
        for n in &self.children {
            if let Node::Text(t) = n {
                match &mut out {
                    None => out = Some(t.clone()),
                    Some(o) => {
                        for (i, c) in t.text.char_indices() {
                            o.push_decoded(c, t.src_offset(i), c.len_utf8());
                        }
                    }
                }
            }
        }
        out
    }
}

/// Reads a document that must consist of exactly one root element.
pub(crate) fn parse_document(src: &Source) -> Result<Element, CompileError> {
    let mut nodes = parse_fragment(src)?;
    let mut roots = nodes.drain(..).map(|n| match n {
        Node::Element(e) => Ok(e),
        Node::Text(t) => Err(t),
    });
    match (roots.next(), roots.next()) {
        (Some(Ok(root)), None) => Ok(root),
        (None, _) => Err(src.error(
            0,
            ErrorKind::Xml,
            "empty document; expected a root element such as <policies>",
        )),
        (Some(Err(t)), _) => Err(src.error(
            t.src_offset(0),
            ErrorKind::Xml,
            "text outside the root element; expected '<'",
        )),
        (Some(Ok(_)), Some(Ok(e))) => Err(src.error(
            e.offset,
            ErrorKind::Xml,
            format!("second root element <{}>; expected end of document", e.name),
        )),
        (Some(Ok(_)), Some(Err(t))) => Err(src.error(
            t.src_offset(0),
            ErrorKind::Xml,
            "text after the root element; expected end of document",
        )),
    }
}

/// Reads a sequence of elements and text (a fragment, or a policy snippet as the docs show it).
pub fn parse_fragment(src: &Source) -> Result<Vec<Node>, CompileError> {
    let mut r = Reader {
        src,
        b: src.text().as_bytes(),
        // A UTF-8 byte-order mark (as Windows editors save files) is not content.
        i: if src.text().starts_with('\u{feff}') {
            '\u{feff}'.len_utf8()
        } else {
            0
        },
    };
    let nodes = r.content(None, 0)?;
    Ok(nodes)
}

struct Reader<'a> {
    src: &'a Source,
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn err(&self, at: usize, msg: impl Into<String>) -> CompileError {
        self.src.error(at, ErrorKind::Xml, msg)
    }

    fn starts_with(&self, s: &str) -> bool {
        self.b[self.i..].starts_with(s.as_bytes())
    }

    fn skip_ws(&mut self) {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn text_str(&self, from: usize, to: usize) -> &'a str {
        // Offsets always fall on ASCII delimiters, so the slice is on char boundaries.
        self.src.text().get(from..to).unwrap_or("")
    }

    /// Reads nodes until `</parent>` (or the end of input when `parent` is None).
    fn content(
        &mut self,
        parent: Option<(&str, usize)>,
        depth: usize,
    ) -> Result<Vec<Node>, CompileError> {
        if depth > MAX_DEPTH {
            return Err(self.err(self.i, format!("elements nested deeper than {MAX_DEPTH}")));
        }
        let mut nodes = Vec::new();
        let mut text = Spanned::new();
        loop {
            if self.i >= self.b.len() {
                if let Some((name, at)) = parent {
                    return Err(self.err(
                        at,
                        format!("element <{name}> is never closed; expected </{name}>"),
                    ));
                }
                flush_text(&mut text, &mut nodes);
                return Ok(nodes);
            }
            if self.starts_with("<!--") {
                let start = self.i;
                match find(self.b, self.i + 4, b"-->") {
                    Some(end) => self.i = end + 3,
                    None => return Err(self.err(start, "comment is never closed; expected '-->'")),
                }
            } else if self.starts_with("<![CDATA[") {
                let start = self.i + 9;
                match find(self.b, start, b"]]>") {
                    Some(end) => {
                        text.push_str(self.text_str(start, end), start);
                        self.i = end + 3;
                    }
                    None => {
                        return Err(
                            self.err(self.i, "CDATA section is never closed; expected ']]>'")
                        )
                    }
                }
            } else if self.starts_with("<?") {
                match find(self.b, self.i + 2, b"?>") {
                    Some(end) => self.i = end + 2,
                    None => {
                        return Err(self.err(
                            self.i,
                            "processing instruction is never closed; expected '?>'",
                        ))
                    }
                }
            } else if self.starts_with("<!") {
                return Err(self.err(
                    self.i,
                    "DOCTYPE and other declarations are not allowed in policies",
                ));
            } else if self.starts_with("</") {
                let at = self.i;
                self.i += 2;
                let name = self.name()?;
                self.skip_ws();
                if self.i >= self.b.len() || self.b[self.i] != b'>' {
                    return Err(self.err(self.i, format!("expected '>' to end </{name}")));
                }
                self.i += 1;
                return match parent {
                    Some((p, _)) if p == name => {
                        flush_text(&mut text, &mut nodes);
                        Ok(nodes)
                    }
                    Some((p, _)) => Err(self.err(
                        at,
                        format!("closing tag </{name}> does not match; expected </{p}>"),
                    )),
                    None => {
                        Err(self.err(at, format!("closing tag </{name}> without an open element")))
                    }
                };
            } else if self.b[self.i] == b'<' {
                flush_text(&mut text, &mut nodes);
                let e = self.element(depth)?;
                nodes.push(Node::Element(e));
            } else {
                self.text(&mut text)?;
            }
        }
    }

    /// Text up to the next `<`; an expression (`@(`/`@{` after white space) is scanned whole.
    fn text(&mut self, out: &mut Spanned) -> Result<(), CompileError> {
        let start = self.i;
        // Leading white space, then maybe an expression.
        let mut j = self.i;
        while j < self.b.len() && self.b[j].is_ascii_whitespace() {
            j += 1;
        }
        if out.text.trim().is_empty()
            && j + 1 < self.b.len()
            && self.b[j] == b'@'
            && matches!(self.b[j + 1], b'(' | b'{')
        {
            match scan_expression(self.b, j + 1) {
                Ok(end) => {
                    decode_into(self.src, start, end, out).map_err(|(at, m)| self.err(at, m))?;
                    self.i = end;
                    return Ok(());
                }
                Err(at) => {
                    return Err(self.err(
                        at,
                        "expression is never closed; expected a matching ')' or '}'",
                    ));
                }
            }
        }
        let end = self.b[self.i..]
            .iter()
            .position(|&c| c == b'<')
            .map_or(self.b.len(), |p| self.i + p);
        decode_into(self.src, start, end, out).map_err(|(at, m)| self.err(at, m))?;
        self.i = end;
        Ok(())
    }

    fn name(&mut self) -> Result<String, CompileError> {
        let start = self.i;
        while self.i < self.b.len() {
            let c = self.b[self.i];
            let ok =
                c.is_ascii_alphanumeric() || matches!(c, b'_' | b':' | b'-' | b'.') || c >= 0x80;
            if !ok {
                break;
            }
            self.i += 1;
        }
        if start == self.i || self.b[start].is_ascii_digit() || matches!(self.b[start], b'-' | b'.')
        {
            let found = self
                .b
                .get(start)
                .map_or("end of input".to_string(), |c| format!("'{}'", *c as char));
            return Err(self.err(start, format!("expected a name, found {found}")));
        }
        Ok(self.text_str(start, self.i).to_string())
    }

    fn element(&mut self, depth: usize) -> Result<Element, CompileError> {
        let offset = self.i;
        self.i += 1;
        let name = self.name()?;
        let mut attrs: Vec<Attr> = Vec::new();
        loop {
            let before_ws = self.i;
            self.skip_ws();
            if self.i >= self.b.len() {
                return Err(self.err(
                    offset,
                    format!("tag <{name} is never closed; expected '>' or '/>'"),
                ));
            }
            match self.b[self.i] {
                b'/' => {
                    if self.b.get(self.i + 1) != Some(&b'>') {
                        return Err(self.err(self.i, "expected '/>'"));
                    }
                    self.i += 2;
                    return Ok(Element {
                        name,
                        offset,
                        attrs,
                        children: Vec::new(),
                    });
                }
                b'>' => {
                    self.i += 1;
                    let children = self.content(Some((&name, offset)), depth + 1)?;
                    return Ok(Element {
                        name,
                        offset,
                        attrs,
                        children,
                    });
                }
                _ => {
                    if before_ws == self.i {
                        return Err(self.err(
                            self.i,
                            format!("expected white space, '>' or '/>' in <{name}>"),
                        ));
                    }
                    let a = self.attribute()?;
                    if attrs.iter().any(|x| x.name == a.name) {
                        return Err(self.err(
                            a.offset,
                            format!("duplicate attribute '{}' on <{name}>", a.name),
                        ));
                    }
                    attrs.push(a);
                }
            }
        }
    }

    fn attribute(&mut self) -> Result<Attr, CompileError> {
        let offset = self.i;
        let name = self.name()?;
        self.skip_ws();
        if self.b.get(self.i) != Some(&b'=') {
            return Err(self.err(
                self.i,
                format!("expected '=' after attribute name '{name}'"),
            ));
        }
        self.i += 1;
        self.skip_ws();
        let q = match self.b.get(self.i) {
            Some(&q @ (b'"' | b'\'')) => q,
            _ => {
                return Err(self.err(
                    self.i,
                    format!("expected a quoted value for attribute '{name}'"),
                ))
            }
        };
        let vstart = self.i + 1;
        // An expression value is scanned with C# rules so its inner quotes do not end it.
        let mut end = None;
        if self.b.get(vstart) == Some(&b'@') && matches!(self.b.get(vstart + 1), Some(b'(' | b'{'))
        {
            let expr_err = |m: &str| {
                self.src.error(
                    vstart,
                    ErrorKind::ExpressionSyntax,
                    format!("expression in attribute '{name}' {m}"),
                )
            };
            let Ok(e) = scan_expression(self.b, vstart + 1) else {
                return Err(expr_err(
                    "is never closed; check its brackets and string quotes",
                ));
            };
            let mut k = e;
            while k < self.b.len() && self.b[k].is_ascii_whitespace() {
                k += 1;
            }
            if self.b.get(k) != Some(&q) {
                let m = format!(
                    "continues after its closing bracket; expected {} to end the attribute",
                    q as char
                );
                return Err(expr_err(&m));
            }
            end = Some(k);
        }
        let end = match end {
            Some(e) => e,
            None => match self.b[vstart..].iter().position(|&c| c == q) {
                Some(p) => vstart + p,
                None => {
                    return Err(self.err(
                        offset,
                        format!(
                            "value of attribute '{name}' is never closed; expected {}",
                            q as char
                        ),
                    ))
                }
            },
        };
        let mut value = Spanned::new();
        decode_into(self.src, vstart, end, &mut value).map_err(|(at, m)| self.err(at, m))?;
        self.i = end + 1;
        Ok(Attr {
            name,
            offset,
            value,
        })
    }
}

fn flush_text(text: &mut Spanned, nodes: &mut Vec<Node>) {
    if !text.text.trim().is_empty() {
        nodes.push(Node::Text(std::mem::take(text)));
    } else {
        *text = Spanned::new();
    }
}

/// Decodes XML entities in `src.text()[from..to]` into `out`. Unknown `&...;` sequences and a
/// bare `&` (as in a raw `&&` inside an expression) are kept as written: tolerance, not error.
fn decode_into(
    src: &Source,
    from: usize,
    to: usize,
    out: &mut Spanned,
) -> Result<(), (usize, String)> {
    let text = src.text();
    let mut i = from;
    let mut run = from;
    let b = text.as_bytes();
    while i < to {
        if b[i] == b'&' {
            if let Some(semi) = b[i..to.min(i + 12)].iter().position(|&c| c == b';') {
                let ent = &text[i + 1..i + semi];
                let decoded = match ent {
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "amp" => Some('&'),
                    _ if ent.starts_with("#x") || ent.starts_with("#X") => Some(
                        u32::from_str_radix(&ent[2..], 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or((i, format!("invalid character reference '&{ent};'")))?,
                    ),
                    _ if ent.starts_with('#') => Some(
                        ent[1..]
                            .parse::<u32>()
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or((i, format!("invalid character reference '&{ent};'")))?,
                    ),
                    _ => None,
                };
                if let Some(c) = decoded {
                    out.push_str(&text[run..i], run);
                    out.push_decoded(c, i, semi + 1);
                    i += semi + 1;
                    run = i;
                    continue;
                }
            }
        }
        i += 1;
    }
    out.push_str(&text[run..to], run);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(s: &str) -> Element {
        parse_document(&Source::plain("t.xml", s).unwrap()).unwrap()
    }

    fn doc_err(s: &str) -> CompileError {
        parse_document(&Source::plain("t.xml", s).unwrap()).unwrap_err()
    }

    #[test]
    fn unescaped_quotes_inside_expression_attribute() {
        let e = doc(
            r#"<when condition="@(context.Request.Certificate.Thumbprint != "desired-thumbprint")" />"#,
        );
        assert_eq!(
            e.attr("condition").unwrap().value.text,
            r#"@(context.Request.Certificate.Thumbprint != "desired-thumbprint")"#
        );
    }

    #[test]
    fn single_quoted_and_entities() {
        let e =
            doc(r#"<a x='say "hi"' y="@(a == &quot;b&quot; &amp;&amp; c &lt; 2)" z="a && b"/>"#);
        assert_eq!(e.attr("x").unwrap().value.text, r#"say "hi""#);
        assert_eq!(e.attr("y").unwrap().value.text, r#"@(a == "b" && c < 2)"#);
        assert_eq!(e.attr("z").unwrap().value.text, "a && b");
    }

    #[test]
    fn block_expression_with_comment_and_braces_in_strings() {
        let s = "<set-variable name=\"v\" value=\"@{\n // don't \"panic\" (\n var s = \"}\"; return s + @\"a\"\"b\" + $\"{s}\";\n}\" />";
        let e = doc(s);
        assert!(e
            .attr("value")
            .unwrap()
            .value
            .text
            .ends_with("$\"{s}\";\n}"));
    }

    #[test]
    fn entity_quoted_strings_hide_comment_markers() {
        let e = doc(
            r#"<when condition="@(context.Request.Url.Host == &quot;https://a//b&quot; || true)" />"#,
        );
        assert_eq!(
            e.attr("condition").unwrap().value.text,
            r#"@(context.Request.Url.Host == "https://a//b" || true)"#
        );
        let e = doc(r#"<set-variable value="@{ var u = &quot;//x&quot;; return u; }" />"#);
        assert!(e.attr("value").unwrap().value.text.ends_with("return u; }"));
    }

    #[test]
    fn expression_text_with_generic_angle_brackets() {
        let e = doc(
            r#"<message>@("x: " + context.Variables.GetValueOrDefault<string>("r"))</message>"#,
        );
        assert_eq!(
            e.text().unwrap().text,
            r#"@("x: " + context.Variables.GetValueOrDefault<string>("r"))"#
        );
    }

    #[test]
    fn comments_cdata_and_pi() {
        let e =
            doc("<?xml version=\"1.0\"?><!-- c --><a><!-- <b> --><![CDATA[<raw & stuff>]]></a>");
        assert_eq!(e.text().unwrap().text, "<raw & stuff>");
        assert_eq!(e.elements().count(), 0);
    }

    #[test]
    fn offsets_map_to_positions() {
        let src = Source::plain("t.xml", "<a>\n  <b c=\"x&amp;y\"/>\n</a>").unwrap();
        let e = parse_document(&src).unwrap();
        let b = e.elements().next().unwrap();
        assert_eq!(src.pos(b.offset).to_string(), "2:3");
        let v = &b.attr("c").unwrap().value;
        assert_eq!(v.text, "x&y");
        assert_eq!(src.pos(v.src_offset(2)).to_string(), "2:15");
    }

    #[test]
    fn errors_are_positioned() {
        let e = doc_err("<a>\n<b>\n</a>");
        assert_eq!((e.pos.line, e.pos.col), (3, 1));
        assert!(e.message.contains("expected </b>"), "{}", e.message);
        let e = doc_err("<a>\n  <b x=\"1\" x=\"2\"/></a>");
        assert_eq!((e.pos.line, e.pos.col), (2, 12));
        let e = doc_err("<a x=\"1/>");
        assert!(e.message.contains("never closed"));
        let e = doc_err("<a><!-- x </a>");
        assert!(e.message.contains("comment"));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let s = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(doc_err(&s).message.contains("deeper"));
    }
}
