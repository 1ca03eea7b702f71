//! Tokens of the C# subset (SPEC §3). Hand-written: there is no C# lexer in Rust.
//!
//! Offsets are byte offsets into the expression text (the part between `@(`..`)` or
//! `@{`..`}`); the compiler maps them to file positions.

use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    Int(i64),
    Double(f64),
    Str(String),
    Char(char),
    /// `$"..."`: literal parts and code holes (hole code with its offset in the expression).
    Interp(Vec<InterpPart>),
    Punct(&'static str),
    Eof,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum InterpPart {
    Lit(String),
    Hole {
        code: String,
        offset: usize,
        format: Option<String>,
    },
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "'{s}'"),
            Tok::Int(i) => write!(f, "'{i}'"),
            Tok::Double(d) => write!(f, "'{d}'"),
            Tok::Str(_) => write!(f, "a string literal"),
            Tok::Char(_) => write!(f, "a character literal"),
            Tok::Interp(_) => write!(f, "an interpolated string"),
            Tok::Punct(p) => write!(f, "'{p}'"),
            Tok::Eof => write!(f, "end of expression"),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub offset: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LexError {
    pub offset: usize,
    pub message: String,
}

const PUNCTS: [&str; 40] = [
    "??=", "?.", "??", "=>", "==", "!=", "<=", ">=", "&&", "||", "+=", "-=", "*=", "/=", "++",
    "--", "::", "(", ")", "{", "}", "[", "]", ".", ",", ";", ":", "?", "!", "<", ">", "=", "+",
    "-", "*", "/", "%", "&", "|", "^",
];

/// Upper bound on tokens per expression: hostile input must not make us allocate without bound.
const MAX_TOKENS: usize = 100_000;

/// Skips an integer literal's suffix (`L`, `U`, `UL`, `LU`, any case); C#'s unsigned and long
/// types are all 64-bit integers here.
fn integer_suffix(b: &[u8], mut i: usize) -> usize {
    for _ in 0..2 {
        if i < b.len() && matches!(b[i], b'L' | b'l' | b'U' | b'u') {
            i += 1;
        }
    }
    i
}

pub(crate) fn lex(src: &str) -> Result<Vec<Token>, LexError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |offset: usize, m: &str| LexError {
        offset,
        message: m.to_string(),
    };
    while i < b.len() {
        if out.len() > MAX_TOKENS {
            return Err(err(i, "expression too long"));
        }
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        // C# white space is any Unicode space separator (Zs: U+00A0 no-break space, U+2000–200A,
        // U+3000, ...) and the line separators: policy text pasted from documents carries them.
        if c >= 0x80 {
            if let Some(ch) = src[i..].chars().next().filter(|ch| ch.is_whitespace()) {
                i += ch.len_utf8();
                continue;
            }
        }
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            match src[i + 2..].find("*/") {
                Some(p) => i = i + 2 + p + 2,
                None => return Err(err(i, "comment is never closed; expected '*/'")),
            }
            continue;
        }
        let start = i;
        if c.is_ascii_alphabetic()
            || c == b'_'
            || (c == b'@' && b.get(i + 1).is_some_and(|d| d.is_ascii_alphabetic()))
        {
            if c == b'@' {
                i += 1;
            }
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Ident(src[s..i].to_string()),
                offset: start,
            });
            continue;
        }
        if c == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X' | b'b' | b'B')) {
            // Hexadecimal (0xFF) and binary (0b1010) integer literals, with `_` separators.
            let radix = if matches!(b[i + 1], b'x' | b'X') {
                16
            } else {
                2
            };
            i += 2;
            let s = i;
            while i < b.len() && (b[i].is_ascii_hexdigit() || b[i] == b'_') {
                i += 1;
            }
            let digits: String = src[s..i].chars().filter(|&c| c != '_').collect();
            i = integer_suffix(b, i);
            if digits.is_empty() || (i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_'))
            {
                return Err(err(start, "invalid hexadecimal or binary literal"));
            }
            let v = i64::from_str_radix(&digits, radix)
                .map_err(|_| err(start, "integer literal out of range"))?;
            out.push(Token {
                tok: Tok::Int(v),
                offset: start,
            });
            continue;
        }
        // `1..2` and `..`: C#'s ranges, which certgate does not support: said so by name.
        if c == b'.' && b.get(i + 1) == Some(&b'.') {
            return Err(err(
                i,
                "ranges ('a..b') are not supported by certgate; use Substring, Skip and Take",
            ));
        }
        if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
                i += 1;
            }
            let mut is_double = false;
            if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
                is_double = true;
                i += 1;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
                    i += 1;
                }
            }
            // An exponent: 1e3, 2.5E-4.
            if i < b.len() && matches!(b[i], b'e' | b'E') {
                let mut j = i + 1;
                if j < b.len() && matches!(b[j], b'+' | b'-') {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'_') {
                        j += 1;
                    }
                    is_double = true;
                    i = j;
                }
            }
            let text: String = src[start..i].chars().filter(|&c| c != '_').collect();
            // Suffixes: L, U, UL, LU (integers, any case), D/F/M (floating).
            if i < b.len() && matches!(b[i], b'D' | b'd' | b'F' | b'f' | b'M' | b'm') {
                is_double = true;
                i += 1;
            } else if !is_double {
                i = integer_suffix(b, i);
            }
            if i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'_') {
                return Err(err(i, "unexpected character after number"));
            }
            let tok = if is_double {
                Tok::Double(text.parse().map_err(|_| err(start, "invalid number"))?)
            } else {
                Tok::Int(
                    text.parse()
                        .map_err(|_| err(start, "integer literal out of range"))?,
                )
            };
            out.push(Token { tok, offset: start });
            continue;
        }
        if c == b'"' || (c == b'@' && b.get(i + 1) == Some(&b'"')) {
            let verbatim = c == b'@';
            i += if verbatim { 2 } else { 1 };
            let (s, end) = string_body(src, i, verbatim, false).map_err(|(o, m)| err(o, m))?;
            let Some(InterpPart::Lit(s)) = s
                .into_iter()
                .next()
                .or(Some(InterpPart::Lit(String::new())))
            else {
                return Err(err(start, "invalid string"));
            };
            out.push(Token {
                tok: Tok::Str(s),
                offset: start,
            });
            i = end;
            continue;
        }
        if c == b'$'
            && (b.get(i + 1) == Some(&b'"')
                || (b.get(i + 1) == Some(&b'@') && b.get(i + 2) == Some(&b'"')))
        {
            let verbatim = b[i + 1] == b'@';
            i += if verbatim { 3 } else { 2 };
            let (parts, end) = string_body(src, i, verbatim, true).map_err(|(o, m)| err(o, m))?;
            out.push(Token {
                tok: Tok::Interp(parts),
                offset: start,
            });
            i = end;
            continue;
        }
        if c == b'\'' {
            i += 1;
            let (ch, len) = if b.get(i) == Some(&b'\\') {
                escape(src, i).map_err(|(o, m)| err(o, m))?
            } else {
                match src[i..].chars().next() {
                    Some(ch) if ch != '\'' => (ch, ch.len_utf8()),
                    _ => return Err(err(start, "empty character literal")),
                }
            };
            i += len;
            if b.get(i) != Some(&b'\'') {
                return Err(err(start, "character literal is never closed; expected '"));
            }
            i += 1;
            out.push(Token {
                tok: Tok::Char(ch),
                offset: start,
            });
            continue;
        }
        match PUNCTS.iter().find(|p| src[i..].starts_with(**p)) {
            Some(p) => {
                out.push(Token {
                    tok: Tok::Punct(p),
                    offset: start,
                });
                i += p.len();
            }
            None => {
                let ch = src[i..].chars().next().unwrap_or('?');
                let why = match ch {
                    '~' => {
                        "the operator '~' is not supported by certgate; use ^ with -1".to_string()
                    }
                    _ => format!("unexpected character '{ch}'"),
                };
                return Err(err(i, &why));
            }
        }
    }
    out.push(Token {
        tok: Tok::Eof,
        offset: b.len(),
    });
    Ok(out)
}

/// Reads an escape sequence at `i` (pointing at `\`): the char and how many bytes it took.
fn escape(src: &str, i: usize) -> Result<(char, usize), (usize, &'static str)> {
    let b = src.as_bytes();
    let c = match b.get(i + 1) {
        Some(b'n') => '\n',
        Some(b'r') => '\r',
        Some(b't') => '\t',
        Some(b'0') => '\0',
        Some(b'\\') => '\\',
        Some(b'"') => '"',
        Some(b'\'') => '\'',
        Some(b'a') => '\x07',
        Some(b'b') => '\x08',
        Some(b'f') => '\x0c',
        Some(b'v') => '\x0b',
        Some(b'u') => {
            let hex = src
                .get(i + 2..i + 6)
                .ok_or((i, "invalid \\u escape; expected 4 hex digits"))?;
            let v = u32::from_str_radix(hex, 16)
                .map_err(|_| (i, "invalid \\u escape; expected 4 hex digits"))?;
            return Ok((char::from_u32(v).unwrap_or('\u{FFFD}'), 6));
        }
        _ => return Err((i, "unknown escape sequence")),
    };
    Ok((c, 2))
}

type Parts = Vec<InterpPart>;

/// A string body from `i` (after the opening quote) to the closing quote.
fn string_body(
    src: &str,
    mut i: usize,
    verbatim: bool,
    interp: bool,
) -> Result<(Parts, usize), (usize, &'static str)> {
    let b = src.as_bytes();
    let open = i;
    let mut parts = Vec::new();
    let mut cur = String::new();
    loop {
        let Some(&c) = b.get(i) else {
            return Err((
                open.saturating_sub(1),
                "string literal is never closed; expected '\"'",
            ));
        };
        match c {
            b'"' if verbatim && b.get(i + 1) == Some(&b'"') => {
                cur.push('"');
                i += 2;
            }
            b'"' => {
                i += 1;
                break;
            }
            b'\\' if !verbatim => {
                let (ch, len) = escape(src, i)?;
                cur.push(ch);
                i += len;
            }
            b'\n' if !verbatim => {
                return Err((
                    open.saturating_sub(1),
                    "newline in string literal; expected '\"'",
                ))
            }
            b'{' if interp && b.get(i + 1) == Some(&b'{') => {
                cur.push('{');
                i += 2;
            }
            b'}' if interp && b.get(i + 1) == Some(&b'}') => {
                cur.push('}');
                i += 2;
            }
            b'{' if interp => {
                let end = super::scan::scan_expression(b, i)
                    .map_err(|_| (i, "interpolation hole is never closed; expected '}'"))?;
                let inner = &src[i + 1..end - 1];
                // `{expr:format}`: a top-level ':' that is not part of `?:`/`::` starts a format.
                let (code, format) = split_format(inner);
                if !cur.is_empty() {
                    parts.push(InterpPart::Lit(std::mem::take(&mut cur)));
                }
                parts.push(InterpPart::Hole {
                    code: code.to_string(),
                    offset: i + 1,
                    format: format.map(str::to_string),
                });
                i = end;
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('\u{FFFD}');
                cur.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    if !cur.is_empty() || parts.is_empty() {
        parts.push(InterpPart::Lit(cur));
    }
    Ok((parts, i))
}

fn split_format(inner: &str) -> (&str, Option<&str>) {
    let mut depth = 0i32;
    let mut in_str = false;
    let mut question = 0;
    for (i, c) in inner.char_indices() {
        match c {
            '"' => in_str = !in_str,
            _ if in_str => {}
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            '?' => question += 1,
            ':' if depth == 0 && question == 0 => return (&inner[..i], Some(&inner[i + 1..])),
            ':' if depth == 0 => question -= 1,
            _ => {}
        }
    }
    (inner, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(toks(r#""a\"b\n""#)[0], Tok::Str("a\"b\n".into()));
        assert_eq!(toks(r#"@"c:\x""y""#)[0], Tok::Str("c:\\x\"y".into()));
        assert_eq!(toks(r"'\''")[0], Tok::Char('\''));
    }

    #[test]
    fn interpolation() {
        let t = toks(r#"$"a{b + "}"}c{{d}}{e:D2}""#);
        let Tok::Interp(parts) = &t[0] else {
            panic!("{t:?}")
        };
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[0], InterpPart::Lit("a".into()));
        assert!(matches!(&parts[1], InterpPart::Hole { code, .. } if code == r#"b + "}""#));
        assert_eq!(parts[2], InterpPart::Lit("c{d}".into()));
        assert!(matches!(&parts[3], InterpPart::Hole { format: Some(f), .. } if f == "D2"));
    }

    #[test]
    fn punctuation_longest_first() {
        assert_eq!(toks("a?.b??c")[1], Tok::Punct("?."));
        assert_eq!(toks("a?.b??c")[3], Tok::Punct("??"));
        assert_eq!(toks("x=>x")[1], Tok::Punct("=>"));
    }

    #[test]
    fn numbers() {
        assert_eq!(
            toks("1_000 2.5 3L 4d"),
            vec![
                Tok::Int(1000),
                Tok::Double(2.5),
                Tok::Int(3),
                Tok::Double(4.0),
                Tok::Eof
            ]
        );
        assert!(lex("99999999999999999999").is_err());
    }

    /// C# literal forms APIM documents use (issue 13): hexadecimal and binary integers, exponents,
    /// a leading '.', and integer suffixes in pairs.
    #[test]
    fn more_literal_forms() {
        assert_eq!(
            toks("0xFFFF 0X1f 0b1010 0xFF_FF 1e3 2.5E-2 1E+2 .5 7UL 8lu 3u 1_000.000_1"),
            vec![
                Tok::Int(0xFFFF),
                Tok::Int(0x1F),
                Tok::Int(10),
                Tok::Int(0xFFFF),
                Tok::Double(1000.0),
                Tok::Double(0.025),
                Tok::Double(100.0),
                Tok::Double(0.5),
                Tok::Int(7),
                Tok::Int(8),
                Tok::Int(3),
                Tok::Double(1000.0001),
                Tok::Eof
            ]
        );
        // `e` that starts no exponent is what follows the number (`1.ToString()` stays a call).
        assert_eq!(toks("a.b")[1], Tok::Punct("."));
        for bad in ["0x", "0xG1", "0b", "1e", "0x1_g", "0xFFFFFFFFFFFFFFFFFF"] {
            assert!(lex(bad).is_err(), "{bad}");
        }
    }

    /// Non-ASCII white space (U+00A0 no-break space and the other space separators) separates
    /// tokens, as in C#.
    #[test]
    fn unicode_white_space() {
        assert_eq!(
            toks("a\u{a0}+\u{2003}b\u{3000}"),
            vec![
                Tok::Ident("a".into()),
                Tok::Punct("+"),
                Tok::Ident("b".into()),
                Tok::Eof
            ]
        );
        // Other non-ASCII characters are still refused, by name.
        assert!(lex("a \u{2192} b")
            .unwrap_err()
            .message
            .contains('\u{2192}'));
    }

    #[test]
    fn errors_have_offsets() {
        assert_eq!(lex("a + \"oops").unwrap_err().offset, 4);
        assert_eq!(lex("a # b").unwrap_err().offset, 2);
        assert!(lex(r#""\q""#).unwrap_err().message.contains("escape"));
    }
}
