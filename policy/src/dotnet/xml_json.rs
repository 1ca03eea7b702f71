//! Newtonsoft's reading of an XML document as JSON (`JsonConvert.SerializeXmlNode`), shared by
//! `xml-to-json` and Liquid templates over XML bodies: attributes become `@name` (`direct`) or
//! plain names (`javascript-friendly`, which also drops namespace prefixes), repeated children
//! (or all, with `always_array`) become arrays, an element with only text its text. The XML is
//! read with the `roxmltree` crate; nesting deeper than [`MAX_DEPTH`] is refused before parsing.
//!
//! Must not: know about policies, bodies or the request context.

use serde_json::{Map, Value as J};

/// Deepest XML element nesting converted.
pub(crate) const MAX_DEPTH: usize = 128;

/// How a document is converted.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct XmlToJson {
    /// Plain attribute names and no namespace prefixes.
    pub(crate) javascript_friendly: bool,
    /// Every child element is an array.
    pub(crate) always_array: bool,
    /// An element marked `xsi:nil="true"`: `Some(true)` null, `Some(false)` an empty string,
    /// `None` converted as any other element (its attribute kept).
    pub(crate) xsi_nil_null: Option<bool>,
}

const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

impl XmlToJson {
    /// The document as JSON: one property, the root element. `Err`: why it is not XML.
    pub(crate) fn convert(&self, text: &str) -> Result<J, String> {
        // Parsing and converting recurse over the elements: a hostile body nested deeper than
        // any document needs is refused first.
        if nesting(text) > MAX_DEPTH {
            return Err(format!("it nests deeper than {MAX_DEPTH} elements"));
        }
        let doc = roxmltree::Document::parse(text).map_err(|e| format!("it is not XML ({e})"))?;
        let root = doc.root_element();
        let mut top = Map::new();
        top.insert(self.key(root), self.value(root));
        Ok(J::Object(top))
    }

    fn key(&self, n: roxmltree::Node) -> String {
        let local = n.tag_name().name();
        match (
            self.javascript_friendly,
            n.tag_name().namespace().and_then(|ns| n.lookup_prefix(ns)),
        ) {
            (false, Some(p)) if !p.is_empty() => format!("{p}:{local}"),
            _ => local.to_string(),
        }
    }

    fn value(&self, n: roxmltree::Node) -> J {
        if let Some(null) = self.xsi_nil_null {
            if n.attribute((XSI, "nil")) == Some("true") {
                return if null {
                    J::Null
                } else {
                    J::String(String::new())
                };
            }
        }
        let text: String = n
            .children()
            .filter(|c| c.is_text())
            .filter_map(|c| c.text())
            .collect::<String>();
        let text = text.trim();
        let elements: Vec<roxmltree::Node> = n.children().filter(|c| c.is_element()).collect();
        let attrs: Vec<roxmltree::Attribute> = n.attributes().collect();
        // `direct` keeps the namespace declarations made on this element, as Newtonsoft does
        // (`@xmlns:p`); javascript-friendly drops prefixes, so it drops them too.
        let declared: Vec<(String, String)> = if self.javascript_friendly {
            Vec::new()
        } else {
            let inherited: Vec<(Option<&str>, &str)> = n
                .parent_element()
                .map(|p| p.namespaces().map(|ns| (ns.name(), ns.uri())).collect())
                .unwrap_or_default();
            n.namespaces()
                .filter(|ns| ns.name() != Some("xml"))
                .filter(|ns| !inherited.contains(&(ns.name(), ns.uri())))
                .map(|ns| {
                    let key = match ns.name() {
                        Some(p) => format!("@xmlns:{p}"),
                        None => "@xmlns".to_string(),
                    };
                    (key, ns.uri().to_string())
                })
                .collect()
        };
        if elements.is_empty() && attrs.is_empty() && declared.is_empty() {
            return if text.is_empty() {
                J::Null
            } else {
                J::String(text.to_string())
            };
        }
        let mut m = Map::new();
        for (k, uri) in declared {
            m.insert(k, J::String(uri));
        }
        for a in attrs {
            let name = if self.javascript_friendly {
                a.name().to_string()
            } else {
                format!("@{}", a.name())
            };
            m.insert(name, J::String(a.value().to_string()));
        }
        if !text.is_empty() {
            m.insert("#text".into(), J::String(text.to_string()));
        }
        for c in &elements {
            let k = self.key(*c);
            let repeated = elements.iter().filter(|o| self.key(**o) == k).count() > 1;
            let v = self.value(*c);
            match m.get_mut(&k) {
                Some(J::Array(items)) => items.push(v),
                _ if repeated || self.always_array => {
                    m.insert(k, J::Array(vec![v]));
                }
                _ => {
                    m.insert(k, v);
                }
            }
        }
        J::Object(m)
    }
}

/// How deep a document's elements nest, counted over its tags without parsing it (comments,
/// declarations and self-closing tags do not open a level; an over-count only refuses).
pub(crate) fn nesting(text: &str) -> usize {
    let b = text.as_bytes();
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut i = 0;
    while let Some(p) = b
        .get(i..)
        .and_then(|rest| rest.iter().position(|&c| c == b'<'))
    {
        let at = i + p;
        match b.get(at + 1) {
            Some(b'/') => depth = depth.saturating_sub(1),
            Some(b'!' | b'?') => {}
            Some(_) => {
                let end = b[at..]
                    .iter()
                    .position(|&c| c == b'>')
                    .map_or(b.len(), |e| at + e);
                if b.get(end.wrapping_sub(1)) != Some(&b'/') {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
            }
            None => {}
        }
        i = at + 1;
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xsi_nil_is_blank_null_or_kept() {
        let xml = r#"<o xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><a xsi:nil="true"/><b>x</b></o>"#;
        let with = |nil| {
            XmlToJson {
                javascript_friendly: true,
                xsi_nil_null: nil,
                ..XmlToJson::default()
            }
            .convert(xml)
            .unwrap()
            .to_string()
        };
        assert_eq!(with(Some(false)), r#"{"o":{"a":"","b":"x"}}"#);
        assert_eq!(with(Some(true)), r#"{"o":{"a":null,"b":"x"}}"#);
        assert_eq!(with(None), r#"{"o":{"a":{"nil":"true"},"b":"x"}}"#);
    }
}
