//! An `application/x-www-form-urlencoded` body as APIM's `AsFormUrlEncodedContent()` gives it:
//! a dictionary from names to lists of values (`a=1&a=2` is `a: [1, 2]`), in the order the
//! names first appear, written back by `ToFormUrlEncodedContent()` as .NET's
//! `FormUrlEncodedContent` writes it (spaces as `+`). The `form_urlencoded` crate (the `url`
//! crate's) reads and writes the encoding.
//!
//! Must not: know about expressions or the request context.

/// The parsed form.
#[derive(Clone, Debug, Default)]
pub struct Form {
    entries: Vec<(String, Vec<String>)>,
    /// Where each name is in `entries`: a hostile body of many distinct names is read in
    /// linear time, not quadratic.
    index: std::collections::HashMap<String, usize>,
}

impl Form {
    /// Reads a body (invalid UTF-8 in escapes becomes U+FFFD, as .NET's decoder does).
    pub(crate) fn parse(body: &[u8]) -> Form {
        let mut form = Form::default();
        for (k, v) in form_urlencoded::parse(body) {
            form.values_mut(&k).push(v.into_owned());
        }
        form
    }

    /// The values under `key`, made (empty) when it is not there yet.
    pub(crate) fn values_mut(&mut self, key: &str) -> &mut Vec<String> {
        let i = match self.index.get(key) {
            Some(&i) => i,
            None => {
                self.entries.push((key.to_string(), Vec::new()));
                self.index.insert(key.to_string(), self.entries.len() - 1);
                self.entries.len() - 1
            }
        };
        &mut self.entries[i].1
    }

    pub(crate) fn values(&self, key: &str) -> Option<&[String]> {
        let i = *self.index.get(key)?;
        self.entries.get(i).map(|(_, v)| v.as_slice())
    }

    pub(crate) fn remove(&mut self, key: &str) -> bool {
        if self.index.remove(key).is_none() {
            return false;
        }
        self.entries.retain(|(k, _)| k != key);
        for (i, (k, _)) in self.entries.iter().enumerate() {
            self.index.insert(k.clone(), i);
        }
        true
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// `ToFormUrlEncodedContent()`: `a=1&a=2&b=x+y`.
    pub(crate) fn encode(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (k, vs) in &self.entries {
            for v in vs {
                out.append_pair(k, v);
            }
        }
        out.finish()
    }

    /// The size the form takes as text (for the expression's memory budget).
    pub(crate) fn weight(&self) -> usize {
        self.entries
            .iter()
            .map(|(k, vs)| k.len() + vs.iter().map(|v| v.len() + 1).sum::<usize>() + 1)
            .sum()
    }

    /// As Json.NET serialises a `Dictionary<string, IList<string>>`.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        for (k, vs) in &self.entries {
            m.insert(k.clone(), serde_json::Value::from(vs.clone()));
        }
        serde_json::Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::Form;

    #[test]
    fn a_body_of_many_distinct_names_reads_in_linear_time() {
        let body: String = (0..200_000).map(|i| format!("k{i}=v&")).collect();
        let f = Form::parse(body.as_bytes());
        assert_eq!(f.len(), 200_000);
        assert_eq!(f.values("k199999").unwrap(), ["v"]);
    }

    #[test]
    fn forms_read_and_write_as_dotnet_does() {
        let mut f = Form::parse(b"grant_type=client_credentials&scope=a+b&scope=c%26d&empty=");
        assert_eq!(f.values("scope").unwrap(), ["a b", "c&d"]);
        assert_eq!(f.values("empty").unwrap(), [""]);
        assert_eq!(
            f.keys().collect::<Vec<_>>(),
            ["grant_type", "scope", "empty"]
        );
        f.values_mut("new").push("x y".into());
        assert!(f.remove("empty"));
        assert!(!f.remove("nope"));
        assert_eq!(
            f.encode(),
            "grant_type=client_credentials&scope=a+b&scope=c%26d&new=x+y"
        );
        assert_eq!(
            f.to_json().to_string(),
            r#"{"grant_type":["client_credentials"],"scope":["a b","c&d"],"new":["x y"]}"#
        );
    }
}
