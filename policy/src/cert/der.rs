//! A minimal, bounded DER reader (tag, definite length, contents) for the few structures this
//! crate reads itself: names and certificate extensions. Single-byte tags only; lengths up to
//! four bytes; every read is checked against the slice, so truncated input is an error.

/// Why DER could not be read: what was wrong, as a fixed phrase (input bytes never appear in
/// messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DerError(pub &'static str);

/// A minimal DER reader over a byte slice: tag, definite length, contents.
pub(crate) struct Der<'a> {
    b: &'a [u8],
}

impl<'a> Der<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Der<'a> {
        Der { b }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.b.is_empty()
    }

    pub(crate) fn any(&mut self) -> Result<(u8, &'a [u8]), DerError> {
        let (&tag, rest) = self.b.split_first().ok_or(DerError("truncated"))?;
        if tag & 0x1f == 0x1f {
            return Err(DerError("multi-byte tags are not used in names"));
        }
        let (&l0, mut rest) = rest.split_first().ok_or(DerError("truncated length"))?;
        let len = if l0 < 0x80 {
            l0 as usize
        } else {
            let n = (l0 & 0x7f) as usize;
            if n == 0 || n > 4 || rest.len() < n {
                return Err(DerError("bad length"));
            }
            let mut len = 0usize;
            for &x in &rest[..n] {
                len = len << 8 | x as usize;
            }
            rest = &rest[n..];
            len
        };
        if rest.len() < len {
            return Err(DerError("length past the end"));
        }
        let (content, after) = rest.split_at(len);
        self.b = after;
        Ok((tag, content))
    }

    pub(crate) fn expect(&mut self, tag: u8) -> Result<&'a [u8], DerError> {
        match self.any()? {
            (t, c) if t == tag => Ok(c),
            _ => Err(DerError("unexpected tag")),
        }
    }

    /// Reads an element if its tag is `tag`, else leaves the reader as it is.
    pub(crate) fn optional(&mut self, tag: u8) -> Result<Option<&'a [u8]>, DerError> {
        match self.b.first() {
            Some(&t) if t == tag => self.expect(tag).map(Some),
            _ => Ok(None),
        }
    }
}
