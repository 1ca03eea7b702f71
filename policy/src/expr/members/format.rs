//! .NET's text rendering: `String.Format` (`{0}`, `{1:D2}`, `{{`) and `ToString(format)` for
//! numbers (`D2`, `N0`, `X`) and dates, shared by the string and conversion families.

use crate::expr::env::*;
use crate::value::Value;

/// Format strings for `{x:FMT}` and `ToString(FMT)`: numbers (`D2`, `N0`, `X`), dates.
pub(crate) fn format_value(v: &Value, fmt: &str) -> EvalResult<String> {
    let bad_format = || {
        EvalError::new(
            EvalErrorKind::Format,
            "Input string was not in a correct format.",
        )
    };
    Ok(match v {
        Value::DateTime(d) => d.format(fmt).ok_or_else(bad_format)?,
        Value::DateTimeOffset(d) => d.format(fmt).ok_or_else(bad_format)?,
        Value::Int(i) => {
            let (kind, digits) = fmt.split_at(fmt.len().min(1));
            let digits: usize = digits.parse().unwrap_or(0).min(64);
            match kind {
                "D" | "d" => {
                    let s = format!("{:0digits$}", i.unsigned_abs());
                    if *i < 0 {
                        format!("-{s}")
                    } else {
                        s
                    }
                }
                "X" => format!("{i:0digits$X}"),
                "x" => format!("{i:0digits$x}"),
                "N" | "n" => group_thousands(*i),
                _ => i.to_string(),
            }
        }
        Value::Double(d) => {
            let (kind, digits) = fmt.split_at(fmt.len().min(1));
            let digits: usize = digits.parse().unwrap_or(2).min(15);
            match kind {
                "F" | "f" | "N" | "n" => format!("{d:.digits$}"),
                _ => v.to_dotnet_string(),
            }
        }
        _ => v.to_dotnet_string(),
    })
}

fn group_thousands(i: i64) -> String {
    let s = i.unsigned_abs().to_string();
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n > 0 && (s.len() - n).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if i < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// `String.Format`: `{0}`, `{1:D2}`, `{{`/`}}`.
pub(crate) fn dotnet_format(fmt: &str, args: &[Value]) -> EvalResult<String> {
    let args: &[Value] = match args {
        [Value::Array(a)] => a,
        a => a,
    };
    let bad = || {
        EvalError::new(
            EvalErrorKind::Format,
            "Input string was not in a correct format.",
        )
    };
    let mut out = String::new();
    let mut chars = fmt.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' if matches!(chars.peek(), Some((_, '{'))) => {
                chars.next();
                out.push('{');
            }
            '}' if matches!(chars.peek(), Some((_, '}'))) => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let end = fmt[i..].find('}').ok_or_else(bad)? + i;
                let spec = &fmt[i + 1..end];
                let (idx, f) = spec.split_once(':').unwrap_or((spec, ""));
                // `{0,5}` right-aligns in five places, `{0,-5}` left-aligns.
                let (idx, align) = match idx.split_once(',') {
                    Some((i, a)) => (i, a.trim().parse::<i64>().map_err(|_| bad())?),
                    None => (idx, 0),
                };
                let n: usize = idx.trim().parse().map_err(|_| bad())?;
                let v = args.get(n).ok_or_else(|| EvalError::new(EvalErrorKind::OutOfRange, "Index (zero based) must be greater than or equal to zero and less than the size of the argument list."))?;
                let text = if f.is_empty() {
                    v.to_dotnet_string()
                } else {
                    format_value(v, f)?
                };
                let width = usize::try_from(align.unsigned_abs()).unwrap_or(usize::MAX);
                let pad = width.saturating_sub(text.encode_utf16().count());
                if pad > 1 << 16 {
                    return Err(bad());
                }
                if align > 0 {
                    out.extend(std::iter::repeat_n(' ', pad));
                }
                out.push_str(&text);
                if align < 0 {
                    out.extend(std::iter::repeat_n(' ', pad));
                }
                while chars.peek().is_some_and(|(j, _)| *j <= end) {
                    chars.next();
                }
            }
            '}' => return Err(bad()),
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_strings() {
        assert_eq!(
            dotnet_format("{0}-{1:D3} {{x}}", &[Value::str("a"), Value::Int(7)]).unwrap(),
            "a-007 {x}"
        );
        assert!(dotnet_format("{5}", &[]).is_err());
        assert!(dotnet_format("{x}", &[]).is_err());
        assert_eq!(group_thousands(-1234567), "-1,234,567");
    }
}
