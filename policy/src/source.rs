//! Policy source text and positions.
//!
//! A policy file goes through one textual transformation before it is read: named values
//! (`{{name}}`) are substituted (SPEC §3). Every later stage works on byte offsets into the
//! substituted text; this module maps those offsets back to line:column in the file the
//! operator wrote, so errors point at what they can see in their editor.
//!
//! It must not know anything about XML or expressions.

use std::fmt;
use std::sync::Arc;

use crate::named_values::NamedValues;

/// A position in an original policy file: 1-based line and column (column counted in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line, from 1.
    pub line: u32,
    /// Column in characters, from 1.
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// One piece of the substituted text: `len` bytes starting at `text_start` came from the
/// original at `orig_start`. A substituted piece maps every offset to the `{{` it replaced.
#[derive(Clone, Copy, Debug)]
struct Segment {
    text_start: usize,
    orig_start: usize,
    len: usize,
    substituted: bool,
}

/// A policy file after named-value substitution, with the map back to the original.
#[derive(Clone)]
pub struct Source {
    name: Arc<str>,
    original: Arc<str>,
    text: String,
    segments: Vec<Segment>,
    line_starts: Vec<usize>,
}

impl fmt::Debug for Source {
    // The substituted text may hold secret named values: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The byte ranges of `<set-body template="liquid">` elements' text: Liquid uses `{{ }}` as
/// named values do, so there an unknown name is left to the template. (A textual scan: the
/// source is substituted before it is parsed as XML.)
fn liquid_regions(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(open) = text[from..].find("<set-body").map(|i| from + i) {
        let Some(tag_end) = text[open..].find('>').map(|i| open + i + 1) else {
            break;
        };
        let tag = &text[open..tag_end];
        let liquid = tag.contains("template=\"liquid\"") || tag.contains("template='liquid'");
        let end = text[tag_end..]
            .find("</set-body")
            .map_or(text.len(), |i| tag_end + i);
        if liquid {
            out.push(tag_end..end);
        }
        from = tag_end;
    }
    out
}

impl Source {
    /// Substitutes `{{name}}` occurrences and builds the position map. An unknown name, or a
    /// `{{` without `}}`, is a compile error at the position of the `{{`; inside a Liquid
    /// `set-body` an unknown name is the template's own (`{{body.id}}`) and stays.
    pub fn new(
        name: impl Into<Arc<str>>,
        original: impl Into<Arc<str>>,
        values: &NamedValues,
    ) -> Result<Source, SubstitutionError> {
        let name = name.into();
        let original: Arc<str> = original.into();
        let mut line_starts = vec![0];
        line_starts.extend(original.match_indices('\n').map(|(i, _)| i + 1));
        let mut src = Source {
            name,
            original: original.clone(),
            text: String::with_capacity(original.len()),
            segments: Vec::new(),
            line_starts,
        };
        let liquid = liquid_regions(&original);
        let bytes = original.as_bytes();
        let mut copied_from = 0;
        let mut i = 0;
        while i + 1 < bytes.len() {
            if bytes[i] == b'{' && bytes[i + 1] == b'{' {
                let Some(close) = original[i + 2..].find("}}") else {
                    return Err(
                        src.substitution_error(i, "'{{' without a closing '}}'; expected {{name}}")
                    );
                };
                let raw = &original[i + 2..i + 2 + close];
                let key = raw.trim();
                if !is_named_value_name(key) {
                    // Not a named-value reference (e.g. a JSON body template "{{" ... ); keep it.
                    i += 1;
                    continue;
                }
                let in_liquid = liquid.iter().any(|r| r.contains(&i));
                let Some(value) = values.get(key) else {
                    if in_liquid {
                        i += 2 + close + 2;
                        continue;
                    }
                    return Err(src.substitution_error(
                        i,
                        format!(
                            "unknown named value '{key}'; expected one defined in named-values"
                        ),
                    ));
                };
                src.push_original(copied_from, i);
                let start = src.text.len();
                src.text.push_str(value);
                src.segments.push(Segment {
                    text_start: start,
                    orig_start: i,
                    len: value.len(),
                    substituted: true,
                });
                i = i + 2 + close + 2;
                copied_from = i;
            } else {
                i += 1;
            }
        }
        src.push_original(copied_from, original.len());
        Ok(src)
    }

    /// A source with no named values (tests, fragments already substituted).
    pub fn plain(
        name: impl Into<Arc<str>>,
        text: impl Into<Arc<str>>,
    ) -> Result<Source, SubstitutionError> {
        Source::new(name, text, &NamedValues::default())
    }

    fn push_original(&mut self, from: usize, to: usize) {
        if to > from {
            let start = self.text.len();
            self.text.push_str(&self.original[from..to]);
            self.segments.push(Segment {
                text_start: start,
                orig_start: from,
                len: to - from,
                substituted: false,
            });
        }
    }

    /// The file name errors show.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// The text after substitution: what the reader parses.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Maps an offset in the substituted text to the original file.
    pub fn orig_offset(&self, text_offset: usize) -> usize {
        let idx = self
            .segments
            .partition_point(|s| s.text_start <= text_offset);
        if idx == 0 {
            return text_offset.min(self.original.len());
        }
        let seg = self.segments[idx - 1];
        if seg.substituted {
            seg.orig_start
        } else {
            seg.orig_start + (text_offset - seg.text_start).min(seg.len)
        }
    }

    /// Line and column in the original file of an offset in the substituted text.
    pub fn pos(&self, text_offset: usize) -> Pos {
        self.orig_pos(self.orig_offset(text_offset))
    }

    fn orig_pos(&self, orig: usize) -> Pos {
        let orig = orig.min(self.original.len());
        let line = self.line_starts.partition_point(|&s| s <= orig);
        let start = self.line_starts[line - 1];
        let col = self
            .original
            .get(start..orig)
            .map_or(orig - start, |s| s.chars().count())
            + 1;
        Pos {
            line: line as u32,
            col: col as u32,
        }
    }

    fn substitution_error(&self, orig: usize, message: impl Into<String>) -> SubstitutionError {
        SubstitutionError {
            file: self.name.clone(),
            pos: self.orig_pos(orig),
            message: message.into(),
        }
    }
}

/// A `{{name}}` that could not be substituted: where, and why. It becomes a compile error of
/// kind `NamedValue` (`crate::error`), which this module does not know.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{pos}: named-value error: {message}")]
pub struct SubstitutionError {
    /// The file.
    pub file: Arc<str>,
    /// Where the `{{` is.
    pub pos: Pos,
    /// What is wrong.
    pub message: String,
}

/// APIM named-value names: letters, digits, `.`, `-`, `_`.
fn is_named_value_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 256
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// A string decoded from the source (entities resolved, quotes removed) that remembers, for
/// every byte, the offset in [`Source::text`] it came from.
#[derive(Clone, Debug, Default)]
pub struct Spanned {
    /// The text.
    pub text: String,
    offsets: Vec<u32>,
    end: u32,
}

impl Spanned {
    /// Empty.
    pub fn new() -> Spanned {
        Spanned::default()
    }

    /// Appends text that starts at `src_offset` of the source.
    pub fn push_str(&mut self, s: &str, src_offset: usize) {
        for (i, _) in s.bytes().enumerate() {
            self.offsets.push((src_offset + i) as u32);
        }
        self.text.push_str(s);
        self.end = (src_offset + s.len()) as u32;
    }

    /// Pushes a decoded character that came from `src_len` bytes at `src_offset` (an entity).
    pub fn push_decoded(&mut self, c: char, src_offset: usize, src_len: usize) {
        let mut buf = [0u8; 4];
        for _ in 0..c.encode_utf8(&mut buf).len() {
            self.offsets.push(src_offset as u32);
        }
        self.text.push(c);
        self.end = (src_offset + src_len) as u32;
    }

    /// Source offset of byte `i` of the decoded text (one past the end maps after the last byte).
    pub fn src_offset(&self, i: usize) -> usize {
        match self.offsets.get(i) {
            Some(&o) => o as usize,
            None => self.end as usize,
        }
    }

    /// The decoded text without surrounding white space, keeping the offset map aligned.
    pub fn trimmed(&self) -> Spanned {
        let start = self.text.len() - self.text.trim_start().len();
        let end = self.text.trim_end().len().max(start);
        Spanned {
            text: self.text[start..end].to_string(),
            offsets: self.offsets[start..end].to_vec(),
            end: if end > start {
                self.offsets[end - 1] + 1
            } else {
                self.src_offset(start) as u32
            },
        }
    }

    /// A sub-range of the decoded text with its offsets.
    pub fn slice(&self, start: usize, end: usize) -> Spanned {
        Spanned {
            text: self.text[start..end].to_string(),
            offsets: self.offsets[start..end].to_vec(),
            end: self.src_offset(end) as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_survive_substitution() {
        let mut nv = NamedValues::default();
        nv.insert("long-value", "0123456789abcdef", false);
        let src = Source::new("p.xml", "a{{long-value}}b\nxyz", &nv).unwrap();
        assert_eq!(src.text(), "a0123456789abcdefb\nxyz");
        assert_eq!(src.pos(0), Pos { line: 1, col: 1 });
        // Inside the substituted value: points at the `{{`.
        assert_eq!(src.pos(5), Pos { line: 1, col: 2 });
        // After it: the original 'b' at column 16.
        assert_eq!(src.pos(17), Pos { line: 1, col: 16 });
        assert_eq!(src.pos(20), Pos { line: 2, col: 2 });
    }

    #[test]
    fn unknown_named_value_is_positioned() {
        let err = Source::new("p.xml", "x\n  {{nope}}", &NamedValues::default()).unwrap_err();
        assert_eq!(err.pos, Pos { line: 2, col: 3 });
        assert!(err.message.contains("nope"));
    }

    #[test]
    fn unterminated_named_value() {
        let err = Source::plain("p.xml", "ab {{nope").unwrap_err();
        assert_eq!(err.pos, Pos { line: 1, col: 4 });
    }

    #[test]
    fn non_name_braces_are_kept() {
        let src = Source::plain("p.xml", r#"{{ "a": 1 }}"#).unwrap();
        assert_eq!(src.text(), r#"{{ "a": 1 }}"#);
    }

    #[test]
    fn liquid_templates_keep_their_own_names() {
        let mut nv = NamedValues::new();
        nv.insert("tenant", "contoso", false);
        let text = r#"<set-body template="liquid">{{body.id}} {{tenant}}</set-body><set-body>{{body.id}}</set-body>"#;
        let e = Source::new("p.xml", text, &nv).unwrap_err();
        assert!(e.to_string().contains("'body.id'"), "{e}");
        let text = r#"<set-body template="liquid">{{body.id}} {{tenant}}</set-body>"#;
        let src = Source::new("p.xml", text, &nv).unwrap();
        assert_eq!(
            src.text(),
            r#"<set-body template="liquid">{{body.id}} contoso</set-body>"#
        );
    }
}
