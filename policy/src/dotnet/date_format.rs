//! .NET's date and time format strings, written and read: `ToString(format)` and
//! `ParseExact(text, format, provider)` for `DateTime` and `DateTimeOffset`. Hand-written:
//! no crate reads .NET's custom format language (`yyyy-MM-dd'T'HH:mm:ss.FFFK`, `%d`, `\x`,
//! quoted literals) or its one-letter standard formats, which are expanded here to the custom
//! patterns of the en-US culture certgate prints dates in (`d` is `M/d/yyyy`, `o` the
//! round-trip form).
//!
//! Must not: know about expressions (callers turn `None` into a `FormatException`).

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// One element of a custom format: a field and how many letters wrote it, or literal text.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Year(usize),
    Month(usize),
    Day(usize),
    Hour24(usize),
    Hour12(usize),
    Minute(usize),
    Second(usize),
    /// `f` (digits kept) or `F` (trailing zeros dropped).
    Fraction(usize, bool),
    AmPm(usize),
    /// `z`, `zz`, `zzz`.
    Offset(usize),
    /// `K`.
    Zone,
    /// `g`, `gg`.
    Era,
    Lit(String),
}

/// A format string read: its elements, and whether the value is first converted to UTC (the
/// standard formats `U`, and `u`/`r` for a `DateTimeOffset`).
pub(crate) struct Pattern {
    toks: Vec<Tok>,
    to_utc: bool,
}

/// The en-US pattern of a one-letter standard format, and whether it writes UTC.
fn standard(c: char) -> Option<(&'static str, bool)> {
    Some(match c {
        'd' => ("M/d/yyyy", false),
        'D' => ("dddd, MMMM d, yyyy", false),
        'f' => ("dddd, MMMM d, yyyy h:mm tt", false),
        'F' => ("dddd, MMMM d, yyyy h:mm:ss tt", false),
        'g' => ("M/d/yyyy h:mm tt", false),
        'G' => ("M/d/yyyy h:mm:ss tt", false),
        'M' | 'm' => ("MMMM d", false),
        'O' | 'o' => ("yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK", false),
        'R' | 'r' => ("ddd, dd MMM yyyy HH':'mm':'ss 'GMT'", false),
        's' => ("yyyy'-'MM'-'dd'T'HH':'mm':'ss", false),
        't' => ("h:mm tt", false),
        'T' => ("h:mm:ss tt", false),
        'u' => ("yyyy'-'MM'-'dd HH':'mm':'ss'Z'", false),
        'U' => ("dddd, MMMM d, yyyy h:mm:ss tt", true),
        'Y' | 'y' => ("MMMM yyyy", false),
        _ => return None,
    })
}

impl Pattern {
    /// A format string; `None` when .NET would refuse it (`FormatException`). `offset_value`:
    /// the value is a `DateTimeOffset`, whose `r`, `R` and `u` write the instant in UTC.
    pub(crate) fn new(fmt: &str, offset_value: bool) -> Option<Pattern> {
        let mut chars = fmt.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            let (custom, to_utc) = standard(c)?;
            let utc = to_utc || (offset_value && matches!(c, 'r' | 'R' | 'u'));
            return Some(Pattern {
                toks: tokens(custom)?,
                to_utc: utc,
            });
        }
        Some(Pattern {
            toks: tokens(fmt)?,
            to_utc: false,
        })
    }

    /// Whether the value is converted to UTC before it is written.
    pub(crate) fn writes_utc(&self) -> bool {
        self.to_utc
    }
}

/// The elements of a custom format string.
fn tokens(fmt: &str) -> Option<Vec<Tok>> {
    let chars: Vec<char> = fmt.chars().collect();
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    let flush = |lit: &mut String, out: &mut Vec<Tok>| {
        if !lit.is_empty() {
            out.push(Tok::Lit(std::mem::take(lit)));
        }
    };
    while let Some(&c) = chars.get(i) {
        let run = chars[i..].iter().take_while(|&&x| x == c).count();
        let tok = match c {
            'y' => Tok::Year(run),
            'M' => Tok::Month(run),
            'd' => Tok::Day(run),
            'H' => Tok::Hour24(run),
            'h' => Tok::Hour12(run),
            'm' => Tok::Minute(run),
            's' => Tok::Second(run),
            'f' | 'F' if run > 7 => return None,
            'f' => Tok::Fraction(run, false),
            'F' => Tok::Fraction(run, true),
            't' => Tok::AmPm(run),
            'z' => Tok::Offset(run),
            'K' => {
                flush(&mut lit, &mut out);
                out.push(Tok::Zone);
                i += 1;
                continue;
            }
            'g' => Tok::Era,
            '\'' | '"' => {
                let close = chars[i + 1..].iter().position(|&x| x == c)?;
                lit.extend(&chars[i + 1..i + 1 + close]);
                i += close + 2;
                continue;
            }
            '\\' => {
                lit.push(*chars.get(i + 1)?);
                i += 2;
                continue;
            }
            // `%d`: the one-letter custom specifier, not the standard format.
            '%' => {
                match chars.get(i + 1) {
                    Some('%') | None => return None,
                    Some(_) => {}
                }
                i += 1;
                continue;
            }
            other => {
                lit.push(other);
                i += 1;
                continue;
            }
        };
        flush(&mut lit, &mut out);
        out.push(tok);
        i += run;
    }
    flush(&mut lit, &mut out);
    Some(out)
}

/// `+hh:mm` style offsets for `z` (`+2`), `zz` (`+02`), `zzz` (`+02:00`).
fn offset_text(minutes: i32, n: usize) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let (h, m) = (minutes.abs() / 60, minutes.abs() % 60);
    match n {
        1 => format!("{sign}{h}"),
        2 => format!("{sign}{h:02}"),
        _ => format!("{sign}{h:02}:{m:02}"),
    }
}

/// A wall time written with `pattern`. `offset`: the minutes ahead of UTC that `z` writes (for a
/// `DateTime` of unspecified kind .NET writes the machine's); `zone`: what `K` writes.
pub(crate) fn write(w: &NaiveDateTime, p: &Pattern, offset: i32, zone: &str) -> String {
    let mut out = String::new();
    let num = |out: &mut String, v: i64, n: usize| {
        out.push_str(&format!("{v:0width$}", width = n.clamp(1, 2)));
    };
    for t in &p.toks {
        match t {
            Tok::Year(n) => {
                let y = i64::from(w.year());
                match n {
                    1 => out.push_str(&(y % 100).to_string()),
                    2 => out.push_str(&format!("{:02}", y % 100)),
                    n => out.push_str(&format!("{y:0n$}")),
                }
            }
            Tok::Month(n) if *n >= 3 => {
                let name = MONTHS[w.month0() as usize];
                out.push_str(if *n == 3 { &name[..3] } else { name });
            }
            Tok::Month(n) => num(&mut out, i64::from(w.month()), *n),
            Tok::Day(n) if *n >= 3 => {
                let name = DAYS[w.weekday().num_days_from_sunday() as usize];
                out.push_str(if *n == 3 { &name[..3] } else { name });
            }
            Tok::Day(n) => num(&mut out, i64::from(w.day()), *n),
            Tok::Hour24(n) => num(&mut out, i64::from(w.hour()), *n),
            Tok::Hour12(n) => num(&mut out, i64::from(w.hour12().1), *n),
            Tok::Minute(n) => num(&mut out, i64::from(w.minute()), *n),
            Tok::Second(n) => num(&mut out, i64::from(w.second()), *n),
            Tok::Fraction(n, trim) => {
                let ticks = w.nanosecond() % 1_000_000_000 / 100;
                let digits = format!("{ticks:07}");
                let kept = &digits[..*n];
                if *trim {
                    let kept = kept.trim_end_matches('0');
                    // An `F` with nothing to show takes the decimal point before it along.
                    if kept.is_empty() && out.ends_with('.') {
                        out.pop();
                    }
                    out.push_str(kept);
                } else {
                    out.push_str(kept);
                }
            }
            Tok::AmPm(n) => {
                let pm = w.hour12().0;
                out.push_str(match (n, pm) {
                    (1, false) => "A",
                    (1, true) => "P",
                    (_, false) => "AM",
                    (_, true) => "PM",
                });
            }
            Tok::Offset(n) => out.push_str(&offset_text(offset, *n)),
            Tok::Zone => out.push_str(zone),
            Tok::Era => out.push_str("A.D."),
            Tok::Lit(s) => out.push_str(s),
        }
    }
    out
}

/// What `ParseExact` read: the wall time, and the offset the text gave (minutes ahead of UTC;
/// `Z` is 0), if it gave one.
pub(crate) struct Parsed {
    pub wall: NaiveDateTime,
    pub offset: Option<i32>,
}

/// `ParseExact(text, pattern)`: the text must be the pattern exactly (.NET's default
/// `DateTimeStyles.None`: no white space of its own). A date left out is `today`'s (.NET's
/// current date); a time left out is midnight. `None` is a `FormatException`.
pub(crate) fn read(text: &str, p: &Pattern, today: NaiveDate) -> Option<Parsed> {
    let mut s = text;
    let (mut year, mut month, mut day) = (None, None, None);
    let (mut hour, mut minute, mut second, mut ticks) = (0u32, 0u32, 0u32, 0u32);
    let mut h12: Option<u32> = None;
    let mut pm: Option<bool> = None;
    let mut weekday: Option<u32> = None;
    let mut offset: Option<i32> = None;
    // Up to `max` digits, at least `min`.
    fn digits(s: &mut &str, min: usize, max: usize) -> Option<u32> {
        let n = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
        if n < min {
            return None;
        }
        let v = s[..n].parse().ok()?;
        *s = &s[n..];
        Some(v)
    }
    fn name(s: &mut &str, names: &[&str], short: bool) -> Option<u32> {
        for (i, n) in names.iter().enumerate() {
            let n = if short { &n[..3] } else { n };
            if s.len() >= n.len()
                && s.is_char_boundary(n.len())
                && s[..n.len()].eq_ignore_ascii_case(n)
            {
                *s = &s[n.len()..];
                return Some(i as u32);
            }
        }
        None
    }
    let width = |n: usize| if n == 1 { (1, 2) } else { (2, 2) };
    for t in &p.toks {
        match t {
            Tok::Year(n) => {
                let (min, max) = match n {
                    1 | 2 => (*n, 2),
                    n => (*n, (*n).max(4)),
                };
                let y = digits(&mut s, min, max)?;
                // Two digits: .NET's calendar puts 00-49 in 2000 and 50-99 in 1900.
                year = Some(if *n <= 2 {
                    if y < 50 {
                        2000 + y
                    } else {
                        1900 + y
                    }
                } else {
                    y
                } as i32);
            }
            Tok::Month(n) if *n >= 3 => month = Some(name(&mut s, &MONTHS, *n == 3)? + 1),
            Tok::Month(n) => {
                let (min, max) = width(*n);
                month = Some(digits(&mut s, min, max)?);
            }
            Tok::Day(n) if *n >= 3 => weekday = Some(name(&mut s, &DAYS, *n == 3)?),
            Tok::Day(n) => {
                let (min, max) = width(*n);
                day = Some(digits(&mut s, min, max)?);
            }
            Tok::Hour24(n) => {
                let (min, max) = width(*n);
                hour = digits(&mut s, min, max)?;
            }
            Tok::Hour12(n) => {
                let (min, max) = width(*n);
                h12 = Some(digits(&mut s, min, max)?);
            }
            Tok::Minute(n) => {
                let (min, max) = width(*n);
                minute = digits(&mut s, min, max)?;
            }
            Tok::Second(n) => {
                let (min, max) = width(*n);
                second = digits(&mut s, min, max)?;
            }
            Tok::Fraction(n, trim) => {
                let min = if *trim { 0 } else { *n };
                let before = s.len();
                let v = digits(&mut s, min, *n).unwrap_or(0);
                let read = before - s.len();
                ticks = v * 10u32.pow((7 - read) as u32);
            }
            Tok::AmPm(n) => {
                let (am, pmt) = if *n == 1 { ("A", "P") } else { ("AM", "PM") };
                let up = s.get(..am.len()).map(str::to_ascii_uppercase);
                pm = Some(match up.as_deref() {
                    Some(x) if x == am => false,
                    Some(x) if x == pmt => true,
                    _ => return None,
                });
                s = &s[am.len()..];
            }
            Tok::Offset(n) => {
                let sign = match s.as_bytes().first()? {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                s = &s[1..];
                let h = digits(&mut s, if *n == 1 { 1 } else { 2 }, 2)? as i32;
                let m = if *n >= 3 {
                    s = s.strip_prefix(':')?;
                    digits(&mut s, 2, 2)? as i32
                } else {
                    0
                };
                if h > 14 || m > 59 {
                    return None;
                }
                offset = Some(sign * (h * 60 + m));
            }
            Tok::Zone => {
                if let Some(rest) = s.strip_prefix('Z') {
                    offset = Some(0);
                    s = rest;
                } else if s.starts_with(['+', '-']) {
                    let sign = if s.starts_with('-') { -1 } else { 1 };
                    s = &s[1..];
                    let h = digits(&mut s, 2, 2)? as i32;
                    s = s.strip_prefix(':')?;
                    let m = digits(&mut s, 2, 2)? as i32;
                    if h > 14 || m > 59 {
                        return None;
                    }
                    offset = Some(sign * (h * 60 + m));
                }
            }
            Tok::Era => {
                s = s.strip_prefix("A.D.").or_else(|| s.strip_prefix("AD"))?;
            }
            Tok::Lit(l) => s = s.strip_prefix(l.as_str())?,
        }
    }
    if !s.is_empty() {
        return None;
    }
    if let Some(h) = h12 {
        if !(1..=12).contains(&h) {
            return None;
        }
        hour = h % 12 + if pm == Some(true) { 12 } else { 0 };
    } else if pm.is_some_and(|pm| pm != (hour >= 12)) {
        // `HH tt`: .NET takes the hour as written, and refuses one the designator contradicts.
        return None;
    }
    let any_date = year.is_some() || month.is_some() || day.is_some();
    let date = if any_date {
        NaiveDate::from_ymd_opt(
            year.unwrap_or(today.year()),
            month.unwrap_or(1),
            day.unwrap_or(1),
        )?
    } else {
        today
    };
    if weekday.is_some_and(|w| w != date.weekday().num_days_from_sunday()) {
        return None;
    }
    let time = NaiveTime::from_hms_opt(hour, minute, second)?;
    let wall = date.and_time(time) + Duration::nanoseconds(i64::from(ticks) * 100);
    Some(Parsed { wall, offset })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|d| d.and_hms_milli_opt(h, mi, s, ms))
            .expect("a valid test date")
    }

    fn fmt(d: &NaiveDateTime, f: &str) -> String {
        write(d, &Pattern::new(f, false).expect("a valid format"), 120, "")
    }

    #[test]
    fn custom_and_standard_formats_are_written_as_dotnet_writes_them() {
        let d = at(2024, 3, 5, 14, 7, 9, 120);
        for (f, want) in [
            ("yyyy-MM-dd HH:mm:ss.fff", "2024-03-05 14:07:09.120"),
            ("d/M/yy h:m:s tt", "5/3/24 2:7:9 PM"),
            ("ddd, dd MMM yyyy", "Tue, 05 Mar 2024"),
            ("dddd MMMM", "Tuesday March"),
            ("HH:mm:ss.FFF", "14:07:09.12"),
            ("ss.FFFF'x'", "09.12x"),
            ("'Day' d \\d", "Day 5 d"),
            ("%d", "5"),
            ("zzz|zz|z", "+02:00|+02|+2"),
            ("yyyyy g", "02024 A.D."),
            ("d", "3/5/2024"),
            ("D", "Tuesday, March 5, 2024"),
            ("g", "3/5/2024 2:07 PM"),
            ("s", "2024-03-05T14:07:09"),
            ("u", "2024-03-05 14:07:09Z"),
            ("R", "Tue, 05 Mar 2024 14:07:09 GMT"),
            ("o", "2024-03-05T14:07:09.1200000"),
            ("t", "2:07 PM"),
            ("M", "March 5"),
            ("Y", "March 2024"),
        ] {
            assert_eq!(fmt(&d, f), want, "{f}");
        }
        let whole = at(2024, 3, 5, 0, 0, 0, 0);
        assert_eq!(fmt(&whole, "HH:mm:ss.FFF"), "00:00:00");
        assert!(Pattern::new("Q", false).is_none());
        assert!(Pattern::new("ffffffff", false).is_none());
        assert!(Pattern::new("'open", false).is_none());
    }

    #[test]
    fn exact_parsing_reads_the_same_language() {
        let today = NaiveDate::from_ymd_opt(2024, 6, 1).expect("a date");
        let p = |text: &str, f: &str| read(text, &Pattern::new(f, false)?, today);
        let got = p("2024-03-05 14:07:09.120", "yyyy-MM-dd HH:mm:ss.fff").expect("parses");
        assert_eq!(got.wall, at(2024, 3, 5, 14, 7, 9, 120));
        assert_eq!(got.offset, None);
        let got = p("5/3/24 2:07 pm", "d/M/yy h:mm tt").expect("parses");
        assert_eq!(got.wall, at(2024, 3, 5, 14, 7, 0, 0));
        let got = p("20240305T140709Z", "yyyyMMdd'T'HHmmssK").expect("parses");
        assert_eq!(got.offset, Some(0));
        let got = p("2024-03-05T14:07:09-05:30", "yyyy-MM-ddTHH:mm:sszzz").expect("parses");
        assert_eq!(got.offset, Some(-330));
        let got = p("Tue, 05 Mar 2024 14:07:09 GMT", "R").expect("parses");
        assert_eq!(got.wall, at(2024, 3, 5, 14, 7, 9, 0));
        // A time alone is today's; 99 is 1999.
        assert_eq!(p("10:30", "HH:mm").expect("parses").wall.date(), today);
        assert_eq!(p("99", "yy").expect("parses").wall.year(), 1999);
        assert_eq!(
            p("12.5", "ss.FFF").expect("parses").wall.nanosecond(),
            500_000_000
        );
        for (text, f) in [
            ("2024-3-05", "yyyy-MM-dd"),
            ("2024-03-05 ", "yyyy-MM-dd"),
            ("2024-02-30", "yyyy-MM-dd"),
            ("Mon, 05 Mar 2024", "ddd, dd MMM yyyy"),
            ("09 PM", "HH tt"),
            ("13 AM", "HH tt"),
            ("2024", "yyyy-MM"),
            ("+15:00", "zzz"),
        ] {
            assert!(p(text, f).is_none(), "{text} as {f}");
        }
    }
}
