//! Newtonsoft.Json's LINQ to JSON (`JToken`, `JObject`, `JArray`, `JValue`, `JProperty`) over
//! serde_json values. A token is a place in a document that its tokens share, so writing through
//! one (`body["a"]["b"] = 1`) changes the document the others see, as in .NET; reading walks the
//! path each time. Text follows Newtonsoft: `ToString()` indents by two spaces, `Formatting.None`
//! is compact, a string value's `ToString()` is the string itself, `(string)` of a boolean is
//! `True`/`False`.
//!
//! Must not: import anything else from this crate.

use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value as J;

/// A step from a token to one of its children.
#[derive(Clone, Debug, PartialEq)]
enum Seg {
    Key(Arc<str>),
    Index(usize),
}

/// Newtonsoft's `JTokenType`, as far as JSON text can produce it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenType {
    Object,
    Array,
    Property,
    Integer,
    Float,
    String,
    Boolean,
    Null,
}

impl TokenType {
    pub fn name(self) -> &'static str {
        match self {
            TokenType::Object => "Object",
            TokenType::Array => "Array",
            TokenType::Property => "Property",
            TokenType::Integer => "Integer",
            TokenType::Float => "Float",
            TokenType::String => "String",
            TokenType::Boolean => "Boolean",
            TokenType::Null => "Null",
        }
    }
}

/// A token: the document it is in and where. A `JProperty` is the key's place, seen as a
/// property (`Name`, `Value`).
#[derive(Clone, Debug)]
pub struct Token {
    doc: Arc<Mutex<J>>,
    path: Arc<[Seg]>,
    property: bool,
}

impl PartialEq for Token {
    /// Reference equality, as C#'s `==` on tokens.
    fn eq(&self, other: &Token) -> bool {
        Arc::ptr_eq(&self.doc, &other.doc) && self.path == other.path
    }
}

/// Why a JSON operation failed, in Newtonsoft's words.
#[derive(Debug, PartialEq)]
pub enum JsonError {
    /// Text that is not JSON, or not the kind asked for (`JsonReaderException`).
    Reader(String),
    /// A conversion or member that does not apply to the token (`InvalidCastException`,
    /// `ArgumentException`, `InvalidOperationException`).
    Invalid(String),
    /// An array index outside the array (`ArgumentOutOfRangeException`).
    OutOfRange(String),
}

fn lock(doc: &Mutex<J>) -> MutexGuard<'_, J> {
    // A panic while the lock was held cannot leave a half-written serde value: keep going.
    doc.lock().unwrap_or_else(|e| e.into_inner())
}

fn walk<'a>(mut v: &'a J, path: &[Seg]) -> Option<&'a J> {
    for s in path {
        v = match (s, v) {
            (Seg::Key(k), J::Object(m)) => m.get(&**k)?,
            (Seg::Index(i), J::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

fn walk_mut<'a>(mut v: &'a mut J, path: &[Seg]) -> Option<&'a mut J> {
    for s in path {
        v = match (s, v) {
            (Seg::Key(k), J::Object(m)) => m.get_mut(&**k)?,
            (Seg::Index(i), J::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

/// The type of a value.
pub(crate) fn type_of(v: &J) -> TokenType {
    match v {
        J::Object(_) => TokenType::Object,
        J::Array(_) => TokenType::Array,
        J::String(_) => TokenType::String,
        J::Bool(_) => TokenType::Boolean,
        J::Null => TokenType::Null,
        J::Number(n) if n.is_f64() => TokenType::Float,
        J::Number(_) => TokenType::Integer,
    }
}

/// About how many bytes a value takes (its strings, and a few bytes per node): what a document
/// grows by when the value is put in it.
pub(crate) fn weight(v: &J) -> usize {
    let mut n = 0usize;
    let mut work = vec![v];
    while let Some(v) = work.pop() {
        n = n.saturating_add(16);
        match v {
            J::String(s) => n = n.saturating_add(s.len()),
            J::Array(a) => work.extend(a),
            J::Object(m) => {
                for (k, v) in m {
                    n = n.saturating_add(k.len());
                    work.push(v);
                }
            }
            _ => {}
        }
    }
    n
}

/// JSON text as Newtonsoft writes it: indented by two spaces, or compact.
pub(crate) fn to_text(v: &J, indented: bool) -> String {
    let r = if indented {
        serde_json::to_string_pretty(v)
    } else {
        serde_json::to_string(v)
    };
    r.unwrap_or_default()
}

impl Token {
    /// A new document holding `v`.
    pub fn new(v: J) -> Token {
        Token {
            doc: Arc::new(Mutex::new(v)),
            path: Arc::from([]),
            property: false,
        }
    }

    /// `JToken.Parse` (any JSON), `JObject.Parse`/`JArray.Parse` (`want` the kind).
    pub fn parse(text: &str, want: Option<TokenType>) -> Result<Token, JsonError> {
        let v: J = serde_json::from_str(text).map_err(|e| JsonError::Reader(e.to_string()))?;
        if let Some(w) = want {
            let t = type_of(&v);
            if t != w {
                return Err(JsonError::Reader(format!(
                    "Error reading {} from JsonReader. Current JsonReader item is not {}: {}.",
                    if w == TokenType::Array {
                        "JArray"
                    } else {
                        "JObject"
                    },
                    if w == TokenType::Array {
                        "an array"
                    } else {
                        "an object"
                    },
                    t.name()
                )));
            }
        }
        Ok(Token::new(v))
    }

    /// The token's value, copied (null when the place is gone).
    pub fn value(&self) -> J {
        walk(&lock(&self.doc), &self.path)
            .cloned()
            .unwrap_or(J::Null)
    }

    /// Reads the token's value in place.
    pub fn read<R>(&self, f: impl FnOnce(&J) -> R) -> R {
        let doc = lock(&self.doc);
        f(walk(&doc, &self.path).unwrap_or(&J::Null))
    }

    /// `Type`.
    pub fn token_type(&self) -> TokenType {
        if self.property {
            return TokenType::Property;
        }
        self.read(type_of)
    }

    pub fn is_property(&self) -> bool {
        self.property
    }

    fn child(&self, s: Seg, property: bool) -> Token {
        let mut path = self.path.to_vec();
        path.push(s);
        Token {
            doc: self.doc.clone(),
            path: path.into(),
            property,
        }
    }

    /// `token["key"]`: the member's token, `None` when the object has no such member (C#'s
    /// null). On anything but an object, Newtonsoft's `InvalidOperationException`.
    pub fn get_key(&self, key: &str) -> Result<Option<Token>, JsonError> {
        let base = self.value_token();
        base.read(|v| match v {
            J::Object(m) => Ok(m.contains_key(key)),
            v => Err(JsonError::Invalid(format!(
                "Cannot access child value on {}.",
                if self.property {
                    "Newtonsoft.Json.Linq.JProperty".to_string()
                } else {
                    format!("Newtonsoft.Json.Linq.{}", class_of(v))
                }
            ))),
        })
        .map(|has| has.then(|| base.child(Seg::Key(key.into()), false)))
    }

    /// `array[i]`.
    pub fn get_index(&self, i: i64) -> Result<Token, JsonError> {
        let base = self.value_token();
        base.read(|v| match v {
            J::Array(a) => usize::try_from(i)
                .ok()
                .filter(|&i| i < a.len())
                .ok_or_else(|| {
                    JsonError::OutOfRange(
                        "Index was out of range. Must be non-negative and less than the size of the collection. (Parameter 'index')".into(),
                    )
                }),
            v => Err(JsonError::Invalid(format!(
                "Accessed {} values with invalid key value: {i}. {} index expected.",
                class_of(v),
                if matches!(v, J::Object(_)) { "Object property name" } else { "Array" }
            ))),
        })
        .map(|i| base.child(Seg::Index(i), false))
    }

    /// A property's value token; any other token is itself.
    fn value_token(&self) -> Token {
        Token {
            doc: self.doc.clone(),
            path: self.path.clone(),
            property: false,
        }
    }

    /// `JProperty.Name`.
    pub fn name(&self) -> Option<Arc<str>> {
        match self.path.last() {
            Some(Seg::Key(k)) if self.property => Some(k.clone()),
            _ => None,
        }
    }

    /// `JProperty.Value`.
    pub fn property_value(&self) -> Token {
        self.value_token()
    }

    /// `obj["key"] = v`, `obj.Add("key", v)` (`add`: refuse a key that exists, as `Add` does),
    /// `array[i] = v`.
    pub fn set_key(&self, key: &str, v: J, add: bool) -> Result<(), JsonError> {
        let mut doc = lock(&self.doc);
        match walk_mut(&mut doc, &self.path) {
            Some(J::Object(m)) => {
                if add && m.contains_key(key) {
                    return Err(JsonError::Invalid(format!(
                        "Can not add property {key} to Newtonsoft.Json.Linq.JObject. Property with the same name already exists on object."
                    )));
                }
                m.insert(key.to_string(), v);
                Ok(())
            }
            Some(other) => Err(JsonError::Invalid(format!(
                "Cannot set child value on {}.",
                class_of(other)
            ))),
            None => Err(JsonError::Invalid(
                "The token is no longer in its document.".into(),
            )),
        }
    }

    pub fn set_index(&self, i: i64, v: J) -> Result<(), JsonError> {
        let mut doc = lock(&self.doc);
        match walk_mut(&mut doc, &self.path) {
            Some(J::Array(a)) => match usize::try_from(i).ok().and_then(|i| a.get_mut(i)) {
                Some(slot) => {
                    *slot = v;
                    Ok(())
                }
                None => Err(JsonError::OutOfRange(
                    "Index was out of range. Must be non-negative and less than the size of the collection. (Parameter 'index')".into(),
                )),
            },
            Some(other) => Err(JsonError::Invalid(format!(
                "Cannot set child value on {}.",
                class_of(other)
            ))),
            None => Err(JsonError::Invalid("The token is no longer in its document.".into())),
        }
    }

    /// `JArray.Add(v)`.
    pub fn push(&self, v: J) -> Result<(), JsonError> {
        let mut doc = lock(&self.doc);
        match walk_mut(&mut doc, &self.path) {
            Some(J::Array(a)) => {
                a.push(v);
                Ok(())
            }
            Some(other) => Err(JsonError::Invalid(format!(
                "Can not add {} to {}.",
                "Newtonsoft.Json.Linq.JValue",
                class_of(other)
            ))),
            None => Err(JsonError::Invalid(
                "The token is no longer in its document.".into(),
            )),
        }
    }

    /// `Merge(content)` with Newtonsoft's default settings: an object takes the members of an
    /// object it lacks, merges the containers both have of one type, and takes the other
    /// values but null; an array takes the items of an array after its own
    /// (`MergeArrayHandling.Concat`). Anything else merges nothing, as Newtonsoft ignores it.
    pub fn merge(&self, content: &J) -> Result<(), JsonError> {
        fn into(target: &mut J, content: &J) {
            match (target, content) {
                (J::Object(t), J::Object(c)) => {
                    for (k, v) in c {
                        match t.get_mut(k) {
                            None => {
                                t.insert(k.clone(), v.clone());
                            }
                            Some(existing) => {
                                let containers = matches!(
                                    (&*existing, v),
                                    (J::Object(_), J::Object(_)) | (J::Array(_), J::Array(_))
                                );
                                if containers {
                                    into(existing, v);
                                } else if !v.is_null() {
                                    *existing = v.clone();
                                }
                            }
                        }
                    }
                }
                (J::Array(t), J::Array(c)) => t.extend(c.iter().cloned()),
                _ => {}
            }
        }
        let mut doc = lock(&self.doc);
        match walk_mut(&mut doc, &self.path) {
            Some(target) => {
                into(target, content);
                Ok(())
            }
            None => Err(JsonError::Invalid(
                "The token is no longer in its document.".into(),
            )),
        }
    }

    /// `JObject.Remove(name)`: whether there was such a property.
    pub fn remove(&self, key: &str) -> Result<bool, JsonError> {
        let mut doc = lock(&self.doc);
        match walk_mut(&mut doc, &self.path) {
            // `shift_remove` keeps the other members in their order, as Newtonsoft does.
            Some(J::Object(m)) => Ok(m.shift_remove(key).is_some()),
            Some(other) => Err(JsonError::Invalid(format!(
                "Cannot remove a property from {}.",
                class_of(other)
            ))),
            None => Ok(false),
        }
    }

    /// The children: an array's items, an object's properties (as `JProperty` tokens).
    pub fn children(&self) -> Vec<Token> {
        let base = self.value_token();
        base.read(|v| match v {
            J::Array(a) => (0..a.len())
                .map(|i| base.child(Seg::Index(i), false))
                .collect(),
            J::Object(m) => m
                .keys()
                .map(|k| base.child(Seg::Key(k.as_str().into()), true))
                .collect(),
            _ => Vec::new(),
        })
    }

    /// `Count` of a container.
    pub fn count(&self) -> Result<usize, JsonError> {
        self.value_token().read(|v| match v {
            J::Array(a) => Ok(a.len()),
            J::Object(m) => Ok(m.len()),
            v => Err(JsonError::Invalid(format!(
                "'{}' does not have a Count",
                class_of(v)
            ))),
        })
    }

    /// `ToString()` / `ToString(Formatting.None)`: a property as `"name": value`.
    pub fn text(&self, indented: bool) -> String {
        let v = self.value();
        match self.name() {
            Some(n) => format!("{}: {}", J::String(n.to_string()), to_text(&v, indented)),
            None => to_text(&v, indented),
        }
    }

    /// `SelectToken(path)`: a JSONPath of names and indexes (`$.a.b[0]`, `a['b c']`); `None`
    /// when nothing is there.
    pub fn select(&self, path: &str) -> Result<Option<Token>, JsonError> {
        let mut cur = self.value_token();
        for seg in parse_path(path)? {
            let next = match seg {
                Seg::Key(k) => match cur.read(|v| matches!(v, J::Object(_))) {
                    true => cur.get_key(&k)?,
                    false => None,
                },
                Seg::Index(i) => match cur.read(|v| matches!(v, J::Array(a) if i < a.len())) {
                    true => Some(cur.child(Seg::Index(i), false)),
                    false => None,
                },
            };
            match next {
                Some(t) => cur = t,
                None => return Ok(None),
            }
        }
        Ok(Some(cur))
    }
}

/// Newtonsoft's class for a value (in messages).
fn class_of(v: &J) -> &'static str {
    match v {
        J::Object(_) => "JObject",
        J::Array(_) => "JArray",
        _ => "JValue",
    }
}

/// The JSONPath subset `SelectToken` takes: `$`, `.name`, `['name']`, `[n]`.
fn parse_path(p: &str) -> Result<Vec<Seg>, JsonError> {
    let bad = || JsonError::Reader(format!("Unexpected character while parsing path: {p}"));
    let mut out = Vec::new();
    let b = p.as_bytes();
    let mut i = usize::from(p.starts_with('$'));
    while i < b.len() {
        match b[i] {
            b'.' => i += 1,
            b'[' => {
                let end = p[i..].find(']').map(|n| i + n).ok_or_else(bad)?;
                let inner = p[i + 1..end].trim();
                if let Some(q) = inner.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
                    out.push(Seg::Key(q.into()));
                } else {
                    out.push(Seg::Index(inner.parse().map_err(|_| bad())?));
                }
                i = end + 1;
                continue;
            }
            _ => {}
        }
        let start = i;
        while i < b.len() && b[i] != b'.' && b[i] != b'[' {
            i += 1;
        }
        if i > start {
            out.push(Seg::Key(p[start..i].into()));
        }
    }
    Ok(out)
}

/// `(string)token`: a string as is, a number or boolean as .NET prints it, null as null; an
/// object or array cannot be converted.
pub(crate) fn as_string(v: &J) -> Result<Option<String>, JsonError> {
    Ok(Some(match v {
        J::Null => return Ok(None),
        J::String(s) => s.clone(),
        J::Bool(true) => "True".into(),
        J::Bool(false) => "False".into(),
        J::Number(n) => n.to_string(),
        v => {
            return Err(JsonError::Invalid(format!(
                "Can not convert {} to String.",
                type_of(v).name()
            )))
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_document_and_paths() {
        let doc = Token::parse(
            r#"{"a":{"b":[1,2,{"c":"x"}]},"s":"t"}"#,
            Some(TokenType::Object),
        )
        .unwrap();
        let a = doc.get_key("a").unwrap().unwrap();
        let b = a.get_key("b").unwrap().unwrap();
        assert_eq!(b.count(), Ok(3));
        b.get_index(2)
            .unwrap()
            .set_key("c", J::from(5), false)
            .unwrap();
        assert_eq!(
            doc.select("$.a.b[2].c").unwrap().unwrap().value(),
            J::from(5)
        );
        assert_eq!(
            doc.select("a['b'][0]").unwrap().unwrap().value(),
            J::from(1)
        );
        assert!(doc.select("a.none.x").unwrap().is_none());
        assert!(doc.get_key("none").unwrap().is_none());
        assert!(matches!(b.get_index(3), Err(JsonError::OutOfRange(_))));
        assert!(matches!(b.get_key("x"), Err(JsonError::Invalid(_))));
        assert!(matches!(
            doc.set_key("s", J::Null, true),
            Err(JsonError::Invalid(_))
        ));
        assert_eq!(doc.remove("s"), Ok(true));
        let props: Vec<_> = doc
            .children()
            .iter()
            .map(|p| p.name().unwrap().to_string())
            .collect();
        assert_eq!(props, ["a"]);
        assert_eq!(doc.children()[0].token_type(), TokenType::Property);
        assert_eq!(Token::new(J::from("x")).text(true), "\"x\"");
        assert!(Token::parse("[1]", Some(TokenType::Object)).is_err());
        assert!(Token::parse("{", None).is_err());
    }

    #[test]
    fn newtonsoft_text() {
        let t = Token::parse(r#"{"a":[1,2.5],"b":{}}"#, None).unwrap();
        assert_eq!(
            t.text(true),
            "{\n  \"a\": [\n    1,\n    2.5\n  ],\n  \"b\": {}\n}"
        );
        assert_eq!(t.text(false), r#"{"a":[1,2.5],"b":{}}"#);
        assert_eq!(as_string(&J::Bool(true)), Ok(Some("True".into())));
        assert_eq!(as_string(&J::Null), Ok(None));
        assert!(as_string(&J::Array(vec![])).is_err());
        assert_eq!(t.children()[0].text(false), r#""a": [1,2.5]"#);
    }
}
