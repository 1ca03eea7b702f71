//! The C#-aware bracket scanner: where an `@(...)` expression or `@{...}` block that starts at
//! a bracket ends, skipping strings (plain, verbatim, interpolated with nested holes), char
//! literals, comments and `&quot;`-quoted strings. The XML reader uses it to find the end of an
//! expression inside an attribute whose quotes the expression itself contains; the lexer uses
//! it for interpolation holes. The dialect embeds C#; C# does not know the dialect.
//!
//! Must not: allocate per byte or recurse without bound (interpolation depth is capped).

/// Scans a C# expression or block whose opening bracket is at `open` (`(` or `{`). Returns
/// the offset just after the matching close, or the offset where scanning failed.
pub(crate) fn scan_expression(b: &[u8], open: usize) -> Result<usize, usize> {
    scan_nested(b, open, 0)
}

/// Interpolated strings nest code in strings in code; this bounds that recursion.
const MAX_INTERPOLATION_DEPTH: usize = 16;

fn scan_nested(b: &[u8], open: usize, depth: usize) -> Result<usize, usize> {
    if depth > MAX_INTERPOLATION_DEPTH {
        return Err(open);
    }
    let mut stack: Vec<u8> = Vec::new();
    let mut i = open;
    while i < b.len() {
        let c = b[i];
        match c {
            b'(' | b'{' | b'[' => {
                if stack.len() >= 256 {
                    return Err(i);
                }
                stack.push(c);
                i += 1;
            }
            b')' | b'}' | b']' => {
                let want = match c {
                    b')' => b'(',
                    b'}' => b'{',
                    _ => b'[',
                };
                if stack.pop() != Some(want) {
                    return Err(i);
                }
                i += 1;
                if stack.is_empty() {
                    return Ok(i);
                }
            }
            b'"' => {
                let verbatim =
                    i > 0 && b[i - 1] == b'@' || i > 1 && b[i - 1] == b'$' && b[i - 2] == b'@';
                let interpolated =
                    i > 0 && b[i - 1] == b'$' || i > 1 && b[i - 1] == b'@' && b[i - 2] == b'$';
                i = scan_string(b, i + 1, verbatim, interpolated, depth)?;
            }
            // A string written with entities (`&quot;...&quot;`, properly escaped XML) is a string
            // too: what it holds ("https://", "//") must not be read as code or comments.
            b'&' if b[i..].starts_with(b"&quot;") => match find(b, i + 6, b"&quot;") {
                Some(e) => i = e + 6,
                None => return Err(i),
            },
            b'\'' => {
                i += 1;
                while i < b.len() && b[i] != b'\'' && b[i] != b'\n' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                if i >= b.len() || b[i] != b'\'' {
                    return Err(i.min(b.len()));
                }
                i += 1;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => match find(b, i + 2, b"*/") {
                Some(e) => i = e + 2,
                None => return Err(i),
            },
            _ => i += 1,
        }
    }
    Err(b.len())
}

/// Scans a C# string body starting after its opening quote; returns the offset after the close.
fn scan_string(
    b: &[u8],
    mut i: usize,
    verbatim: bool,
    interpolated: bool,
    depth: usize,
) -> Result<usize, usize> {
    let start = i;
    while i < b.len() {
        match b[i] {
            b'"' if verbatim && b.get(i + 1) == Some(&b'"') => i += 2,
            b'"' => return Ok(i + 1),
            b'\\' if !verbatim => i += 2,
            b'\n' if !verbatim => return Err(start),
            b'{' if interpolated && b.get(i + 1) == Some(&b'{') => i += 2,
            b'{' if interpolated => {
                // A hole: C# code up to the matching '}'.
                i = scan_nested(b, i, depth + 1)?;
            }
            _ => i += 1,
        }
    }
    Err(start)
}

/// The offset of the first `pat` in `b` at or after `from`.
pub(crate) fn find(b: &[u8], from: usize, pat: &[u8]) -> Option<usize> {
    if from > b.len() {
        return None;
    }
    b[from..]
        .windows(pat.len())
        .position(|w| w == pat)
        .map(|p| from + p)
}
