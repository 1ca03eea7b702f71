//! Named values: the `{{name}}` substitutions of APIM (SPEC §2, §3).
//!
//! Values marked secret are never shown: not by `Debug`, not in errors (see
//! [`crate::error::CompileError::redact`]). Where the values come from (literal, environment,
//! file) is the gateway's configuration concern, not this module's.

use std::collections::HashMap;
use std::fmt;

#[derive(Clone)]
struct Entry {
    value: String,
    secret: bool,
}

/// The named values available to a configuration.
#[derive(Clone, Default)]
pub struct NamedValues {
    entries: HashMap<String, Entry>,
}

impl NamedValues {
    /// No named values.
    pub fn new() -> NamedValues {
        NamedValues::default()
    }

    /// Adds a named value; a secret one is never printed.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>, secret: bool) {
        self.entries.insert(
            name.into(),
            Entry {
                value: value.into(),
                secret,
            },
        );
    }

    /// The value of a name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries.get(name).map(|e| e.value.as_str())
    }

    /// Whether a name is secret.
    pub fn is_secret(&self, name: &str) -> bool {
        self.entries.get(name).is_some_and(|e| e.secret)
    }

    /// The secret values, for redaction of error messages.
    pub fn secrets(&self) -> Vec<&str> {
        self.entries
            .values()
            .filter(|e| e.secret)
            .map(|e| e.value.as_str())
            .collect()
    }

    /// Number of named values.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Debug for NamedValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        let mut names: Vec<_> = self.entries.iter().collect();
        names.sort_by(|a, b| a.0.cmp(b.0));
        for (k, e) in names {
            if e.secret {
                m.entry(k, &"***");
            } else {
                m.entry(k, &e.value);
            }
        }
        m.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets() {
        let mut nv = NamedValues::new();
        nv.insert("pfx-password", "hunter2", true);
        nv.insert("region", "west", false);
        let s = format!("{nv:?}");
        assert!(!s.contains("hunter2"), "{s}");
        assert!(s.contains("west"));
        assert!(nv.is_secret("pfx-password"));
    }
}
