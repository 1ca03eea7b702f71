//! .NET's `DateTime` (with its `Kind`: local or UTC, en-US `ToString()` and custom formats) and
//! `TimeSpan` (100 ns ticks), as certificates (`NotBefore`, `NotAfter`) and expressions both
//! see them.
//!
//! Must not: know about certificates, expressions or the request context.

use std::fmt;

use chrono::{Datelike, Local, NaiveDateTime, TimeZone, Timelike, Utc};

/// `DateTimeKind` of .NET.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateKind {
    Local,
    Utc,
    Unspecified,
    /// The wall time of a `DateTimeOffset`, this many minutes ahead of UTC.
    Offset(i32),
}

/// A .NET `DateTime`: wall-clock time plus kind. Comparisons ignore the kind, as .NET does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime {
    pub wall: NaiveDateTime,
    pub kind: DateKind,
}

impl PartialOrd for DateTime {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.wall.cmp(&other.wall))
    }
}

impl DateTime {
    pub fn now() -> DateTime {
        DateTime {
            wall: Local::now().naive_local(),
            kind: DateKind::Local,
        }
    }

    pub fn utc_now() -> DateTime {
        DateTime {
            wall: Utc::now().naive_utc(),
            kind: DateKind::Utc,
        }
    }

    /// A UTC instant (e.g. a certificate's notAfter) as a local `DateTime`, as
    /// `X509Certificate2.NotAfter` presents it.
    pub fn local_from_unix(secs: i64) -> Option<DateTime> {
        let utc = Utc.timestamp_opt(secs, 0).single()?;
        Some(DateTime {
            wall: utc.with_timezone(&Local).naive_local(),
            kind: DateKind::Local,
        })
    }

    /// `DateTime.MinValue` (0001-01-01, unspecified; also what a failed `TryParse` gives) and
    /// `DateTime.MaxValue` (the last tick of 9999). `None` only if chrono cannot hold them.
    pub fn min_value() -> Option<DateTime> {
        let wall = chrono::NaiveDate::from_ymd_opt(1, 1, 1)?.and_hms_opt(0, 0, 0)?;
        Some(DateTime {
            wall,
            kind: DateKind::Unspecified,
        })
    }

    pub fn max_value() -> Option<DateTime> {
        let wall = chrono::NaiveDate::from_ymd_opt(9999, 12, 31)?.and_hms_nano_opt(
            23,
            59,
            59,
            999_999_900,
        )?;
        Some(DateTime {
            wall,
            kind: DateKind::Unspecified,
        })
    }

    /// An ISO 8601 date as Newtonsoft reads one from JSON text: `Z` gives a UTC `DateTime`, an
    /// offset a local one (converted), none an unspecified one.
    pub fn parse_iso(s: &str) -> Option<DateTime> {
        if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
            let utc = d.with_timezone(&Utc);
            let z = s.ends_with('Z') || s.ends_with('z');
            return Some(if z {
                DateTime {
                    wall: utc.naive_utc(),
                    kind: DateKind::Utc,
                }
            } else {
                DateTime {
                    wall: utc.with_timezone(&Local).naive_local(),
                    kind: DateKind::Local,
                }
            });
        }
        let wall = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
        Some(DateTime {
            wall,
            kind: DateKind::Unspecified,
        })
    }

    /// A JSON string Newtonsoft reads as a date (`DateParseHandling.DateTime`, APIM's
    /// `parse-date="true"`): Microsoft's `/Date(1198908717056)/` (UTC milliseconds, an optional
    /// `+hhmm` making it local) and ISO 8601 date-times (seconds optional, as APIM's own
    /// example `2012-03-21T05:40Z` has none). `None`: the string stays a string.
    pub fn parse_json_date(s: &str) -> Option<DateTime> {
        if let Some(inner) = s.strip_prefix("/Date(").and_then(|r| r.strip_suffix(")/")) {
            let digits_end = inner
                .char_indices()
                .skip(1)
                .find(|(_, c)| *c == '+' || *c == '-')
                .map_or(inner.len(), |(i, _)| i);
            let (ms, zone) = inner.split_at(digits_end);
            let ms: i64 = ms.parse().ok()?;
            let utc = Utc.timestamp_millis_opt(ms).single()?;
            return Some(if zone.is_empty() {
                DateTime {
                    wall: utc.naive_utc(),
                    kind: DateKind::Utc,
                }
            } else {
                DateTime {
                    wall: utc.with_timezone(&Local).naive_local(),
                    kind: DateKind::Local,
                }
            });
        }
        // Only what looks like a date-time is tried, as Newtonsoft tries only those.
        if s.len() < 16 || s.len() > 40 || s.as_bytes().get(10) != Some(&b'T') {
            return None;
        }
        if let Some(d) = DateTime::parse_iso(s) {
            return Some(d);
        }
        let (body, utc) = match s.strip_suffix(['Z', 'z']) {
            Some(b) => (b, true),
            None => (s, false),
        };
        let wall = NaiveDateTime::parse_from_str(body, "%Y-%m-%dT%H:%M").ok()?;
        Some(DateTime {
            wall,
            kind: if utc {
                DateKind::Utc
            } else {
                DateKind::Unspecified
            },
        })
    }

    /// The form Newtonsoft writes a date in XML (`XmlConvert`'s round-trip form,
    /// `yyyy-MM-ddTHH:mm:ss.FFFFFFFK`: trailing zeros of the fraction dropped).
    pub fn to_xml_string(self) -> String {
        self.format("yyyy-MM-ddTHH:mm:ss.FFFFFFFK")
            .unwrap_or_default()
    }

    /// `DateTime.Parse` for the forms APIs send: ISO 8601 (with `Z` or an offset: converted to a
    /// local `DateTime`, as .NET does; without: unspecified), RFC 1123 (`Date` headers: local,
    /// converted from GMT), a date alone, and en-US (`M/d/yyyy h:mm:ss tt`, .NET's invariant
    /// culture's order). `None` for anything else (.NET's `FormatException`).
    pub fn parse_dotnet(s: &str) -> Option<DateTime> {
        let s = s.trim();
        let local = |utc: chrono::DateTime<Utc>| DateTime {
            wall: utc.with_timezone(&Local).naive_local(),
            kind: DateKind::Local,
        };
        if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
            return Some(local(d.with_timezone(&Utc)));
        }
        if let Ok(d) = chrono::DateTime::parse_from_rfc2822(s) {
            return Some(local(d.with_timezone(&Utc)));
        }
        let unspecified = |wall| DateTime {
            wall,
            kind: DateKind::Unspecified,
        };
        for f in [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M:%S%.f",
            "%m/%d/%Y %I:%M:%S %p",
            "%m/%d/%Y %H:%M:%S",
        ] {
            if let Ok(w) = NaiveDateTime::parse_from_str(s, f) {
                return Some(unspecified(w));
            }
        }
        for f in ["%Y-%m-%d", "%m/%d/%Y"] {
            if let Ok(d) = chrono::NaiveDate::parse_from_str(s, f) {
                return d.and_hms_opt(0, 0, 0).map(unspecified);
            }
        }
        None
    }

    /// A UTC instant as a UTC `DateTime` (a JWT's `exp`).
    pub fn utc_from_unix(secs: i64) -> Option<DateTime> {
        Some(DateTime {
            wall: Utc.timestamp_opt(secs, 0).single()?.naive_utc(),
            kind: DateKind::Utc,
        })
    }

    pub fn to_universal(self) -> DateTime {
        match self.kind {
            DateKind::Utc => self,
            DateKind::Offset(m) => DateTime {
                wall: self.wall - chrono::Duration::minutes(i64::from(m)),
                kind: DateKind::Utc,
            },
            _ => {
                let wall = Local
                    .from_local_datetime(&self.wall)
                    .earliest()
                    .map_or(self.wall, |d| d.naive_utc());
                DateTime {
                    wall,
                    kind: DateKind::Utc,
                }
            }
        }
    }

    pub fn to_local(self) -> DateTime {
        match self.kind {
            DateKind::Local => self,
            _ => DateTime {
                wall: Utc
                    .from_utc_datetime(&self.to_universal().wall)
                    .with_timezone(&Local)
                    .naive_local(),
                kind: DateKind::Local,
            },
        }
    }

    pub fn checked_add(self, span: TimeSpan) -> Option<DateTime> {
        let d = chrono::Duration::microseconds(span.0 / 10);
        Some(DateTime {
            wall: self.wall.checked_add_signed(d)?,
            kind: self.kind,
        })
    }

    pub fn since(self, other: DateTime) -> TimeSpan {
        let d = self.wall - other.wall;
        TimeSpan(
            d.num_microseconds()
                .map_or(i64::MAX, |m| m.saturating_mul(10)),
        )
    }

    pub fn part(&self, name: &str) -> i64 {
        let w = &self.wall;
        match name {
            "Year" => w.year() as i64,
            "Month" => w.month() as i64,
            "Day" => w.day() as i64,
            "Hour" => w.hour() as i64,
            "Minute" => w.minute() as i64,
            "Second" => w.second() as i64,
            "Millisecond" => (w.nanosecond() / 1_000_000) as i64,
            "DayOfYear" => w.ordinal() as i64,
            _ => 0,
        }
    }

    /// .NET's `K`: `Z` for UTC, the local offset for local, nothing for unspecified. (A
    /// `NaiveDateTime` has no zone: chrono's `%:z` on one fails, so zones are written here.)
    fn zone_k(&self) -> String {
        match self.kind {
            DateKind::Utc => "Z".to_string(),
            DateKind::Local | DateKind::Offset(_) => self.local_offset(),
            DateKind::Unspecified => String::new(),
        }
    }

    /// .NET's `zzz`: the machine's offset at this wall time, `+hh:mm` (a `DateTimeOffset`'s
    /// own).
    fn local_offset(&self) -> String {
        if let DateKind::Offset(m) = self.kind {
            return offset_text(m);
        }
        Local
            .from_local_datetime(&self.wall)
            .earliest()
            .map_or(String::new(), |d| d.format("%:z").to_string())
    }

    /// The offset .NET's `z` writes for this value: a `DateTimeOffset`'s own; for a
    /// `DateTime`, of any kind, the machine's at its wall time.
    fn z_minutes(&self) -> i32 {
        if let DateKind::Offset(m) = self.kind {
            return m;
        }
        Local
            .from_local_datetime(&self.wall)
            .earliest()
            .map_or(0, |d| d.offset().local_minus_utc() / 60)
    }

    /// `ToString(format)`: the standard and custom format strings (`dotnet::date_format`);
    /// `None` for a format .NET refuses (`FormatException`).
    pub fn format(&self, fmt: &str) -> Option<String> {
        if fmt.is_empty() {
            return Some(self.to_string());
        }
        let offset_value = matches!(self.kind, DateKind::Offset(_));
        let p = super::date_format::Pattern::new(fmt, offset_value)?;
        let d = if p.writes_utc() {
            self.to_universal()
        } else {
            *self
        };
        Some(super::date_format::write(
            &d.wall,
            &p,
            d.z_minutes(),
            &d.zone_k(),
        ))
    }

    /// `DateTime.ParseExact(text, format, provider)`: a time with an offset (or `Z`) is
    /// converted to local time, as .NET does; without one it is unspecified. `None` is .NET's
    /// `FormatException`.
    pub fn parse_exact(text: &str, fmt: &str) -> Option<DateTime> {
        let p = super::date_format::Pattern::new(fmt, false)?;
        let today = Local::now().date_naive();
        let read = super::date_format::read(text, &p, today)?;
        match read.offset {
            None => Some(DateTime {
                wall: read.wall,
                kind: DateKind::Unspecified,
            }),
            Some(m) => Some(
                DateTime {
                    wall: read
                        .wall
                        .checked_sub_signed(chrono::Duration::minutes(i64::from(m)))?,
                    kind: DateKind::Utc,
                }
                .to_local(),
            ),
        }
    }
}

/// `+hh:mm` for an offset in minutes.
fn offset_text(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.unsigned_abs();
    format!("{sign}{:02}:{:02}", m / 60, m % 60)
}

/// A .NET `DateTimeOffset`: a wall time and its offset from UTC (`DateKind::Offset`). Compared,
/// subtracted and hashed by the instant it names, as .NET does.
#[derive(Clone, Copy, Debug)]
pub struct DateTimeOffset(pub DateTime);

impl PartialEq for DateTimeOffset {
    fn eq(&self, other: &Self) -> bool {
        self.utc() == other.utc()
    }
}

impl DateTimeOffset {
    /// The offset in minutes.
    pub fn offset_minutes(self) -> i32 {
        match self.0.kind {
            DateKind::Offset(m) => m,
            _ => 0,
        }
    }

    /// The instant, as UTC wall time.
    pub fn utc(self) -> NaiveDateTime {
        self.0.to_universal().wall
    }

    /// `wall` at `minutes` from UTC.
    pub fn at(wall: NaiveDateTime, minutes: i32) -> DateTimeOffset {
        DateTimeOffset(DateTime {
            wall,
            kind: DateKind::Offset(minutes),
        })
    }

    /// A UTC instant at offset 0.
    pub fn from_utc(utc: NaiveDateTime) -> DateTimeOffset {
        DateTimeOffset::at(utc, 0)
    }

    pub fn utc_now() -> DateTimeOffset {
        DateTimeOffset::from_utc(Utc::now().naive_utc())
    }

    /// `DateTimeOffset.Now`: the machine's offset.
    pub fn now() -> DateTimeOffset {
        let now = Local::now();
        DateTimeOffset::at(now.naive_local(), now.offset().local_minus_utc() / 60)
    }

    /// `new DateTimeOffset(dateTime)`: a UTC one at offset 0, a local or unspecified one at the
    /// machine's offset then.
    pub fn from_date_time(d: DateTime) -> DateTimeOffset {
        match d.kind {
            DateKind::Utc => DateTimeOffset::from_utc(d.wall),
            DateKind::Offset(_) => DateTimeOffset(d),
            DateKind::Local | DateKind::Unspecified => {
                let minutes = Local
                    .from_local_datetime(&d.wall)
                    .earliest()
                    .map_or(0, |l| l.offset().local_minus_utc() / 60);
                DateTimeOffset::at(d.wall, minutes)
            }
        }
    }

    /// `FromUnixTimeMilliseconds`; `None` out of .NET's range.
    pub fn from_unix_ms(ms: i64) -> Option<DateTimeOffset> {
        let d = chrono::DateTime::from_timestamp_millis(ms)?;
        (d.year() >= 1 && d.year() <= 9999).then(|| DateTimeOffset::from_utc(d.naive_utc()))
    }

    /// `ToUnixTimeMilliseconds` (floored, as .NET does for instants before 1970).
    pub fn to_unix_ms(self) -> i64 {
        self.utc().and_utc().timestamp_millis()
    }

    /// `DateTimeOffset.Parse`: ISO 8601 and RFC 1123 keep their offset; a time without one is
    /// at the machine's offset. `None` as `DateTime.Parse` fails.
    pub fn parse_dotnet(s: &str) -> Option<DateTimeOffset> {
        let t = s.trim();
        let parsed = chrono::DateTime::parse_from_rfc3339(t)
            .or_else(|_| chrono::DateTime::parse_from_rfc2822(t));
        if let Ok(d) = parsed {
            return Some(DateTimeOffset::at(
                d.naive_local(),
                d.offset().local_minus_utc() / 60,
            ));
        }
        let d = DateTime::parse_dotnet(t)?;
        Some(DateTimeOffset::from_date_time(d))
    }

    /// `ToString(format)`: the wall time's, with this offset for `z`, `K` and `o`; `u`, `r`,
    /// `R` and `U` write the instant in UTC, as .NET does. `None` for a format .NET refuses.
    pub fn format(self, fmt: &str) -> Option<String> {
        match fmt {
            "" | "G" => Some(self.to_string()),
            other => self.0.format(other),
        }
    }

    /// `DateTimeOffset.ParseExact(text, format, provider)`: the offset the text gives, or the
    /// machine's at that wall time (.NET's `AssumeLocal`).
    pub fn parse_exact(text: &str, fmt: &str) -> Option<DateTimeOffset> {
        let p = super::date_format::Pattern::new(fmt, true)?;
        let today = Local::now().date_naive();
        let read = super::date_format::read(text, &p, today)?;
        match read.offset {
            Some(m) => Some(DateTimeOffset::at(read.wall, m)),
            None => Some(DateTimeOffset::from_date_time(DateTime {
                wall: read.wall,
                kind: DateKind::Local,
            })),
        }
    }

    /// `ToOffset(span)`: the same instant at another offset.
    pub fn to_offset(self, minutes: i32) -> Option<DateTimeOffset> {
        let wall = self
            .utc()
            .checked_add_signed(chrono::Duration::minutes(i64::from(minutes)))?;
        Some(DateTimeOffset::at(wall, minutes))
    }
}

impl fmt::Display for DateTimeOffset {
    /// en-US: `5/6/2024 10:00:00 AM +02:00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.0, offset_text(self.offset_minutes()))
    }
}

impl fmt::Display for DateTime {
    /// en-US `G` format, as `DateTime.ToString()` prints under the invariant-ish US culture:
    /// `10/27/2023 9:05:11 AM`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = &self.wall;
        let (pm, h12) = w.hour12();
        write!(
            f,
            "{}/{}/{} {}:{:02}:{:02} {}",
            w.month(),
            w.day(),
            w.year(),
            h12,
            w.minute(),
            w.second(),
            if pm { "PM" } else { "AM" }
        )
    }
}

/// A .NET `TimeSpan` in 100 ns ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeSpan(pub i64);

impl TimeSpan {
    pub const TICKS_PER_SECOND: i64 = 10_000_000;

    /// `TimeSpan.Parse`: `[-][d.]hh:mm[:ss[.fffffff]]`, or a whole number of days; `None`
    /// for anything else or a part out of range (.NET's `FormatException`/`OverflowException`).
    pub fn parse_dotnet(s: &str) -> Option<TimeSpan> {
        let s = s.trim();
        let (neg, s) = match s.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, s),
        };
        let num = |t: &str| -> Option<i64> {
            (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
                .then(|| t.parse().ok())
                .flatten()
        };
        let ticks = if !s.contains(':') {
            num(s)?.checked_mul(864_000_000_000)?
        } else {
            let (days, clock) = match s.split_once('.') {
                Some((d, rest)) if rest.contains(':') && !d.contains(':') => (num(d)?, rest),
                _ => (0, s),
            };
            let mut parts = clock.split(':');
            let h = num(parts.next()?)?;
            let m = num(parts.next()?)?;
            let (sec, frac) = match parts.next() {
                Some(p) => match p.split_once('.') {
                    Some((a, f)) if f.len() <= 7 => {
                        let scale = 10i64.pow(7 - f.len() as u32);
                        (num(a)?, num(f)? * scale)
                    }
                    Some(_) => return None,
                    None => (num(p)?, 0),
                },
                None => (0, 0),
            };
            if parts.next().is_some() || h > 23 || m > 59 || sec > 59 {
                return None;
            }
            days.checked_mul(864_000_000_000)?
                .checked_add(h * 36_000_000_000 + m * 600_000_000 + sec * 10_000_000 + frac)?
        };
        Some(TimeSpan(if neg { -ticks } else { ticks }))
    }

    pub fn from_seconds_f64(s: f64) -> Option<TimeSpan> {
        let t = s * Self::TICKS_PER_SECOND as f64;
        if t.is_finite() && t.abs() < i64::MAX as f64 {
            Some(TimeSpan(t as i64))
        } else {
            None
        }
    }

    pub fn total_seconds(self) -> f64 {
        self.0 as f64 / Self::TICKS_PER_SECOND as f64
    }

    pub fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_nanos((self.0.max(0) as u64).saturating_mul(100))
    }
}

impl fmt::Display for TimeSpan {
    /// `[-][d.]hh:mm:ss[.fffffff]`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.0 < 0;
        let t = self.0.unsigned_abs();
        let frac = t % 10_000_000;
        let secs = t / 10_000_000;
        let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
        if neg {
            f.write_str("-")?;
        }
        if d > 0 {
            write!(f, "{d}.")?;
        }
        write!(f, "{h:02}:{m:02}:{s:02}")?;
        if frac > 0 {
            write!(f, ".{frac:07}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn dt(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime {
        let wall = NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, s)
            .unwrap();
        DateTime {
            wall,
            kind: DateKind::Local,
        }
    }

    #[test]
    fn json_dates_as_newtonsoft_reads_them_and_writes_them_in_xml() {
        let d = DateTime::parse_json_date("/Date(1198908717056)/").unwrap();
        assert_eq!(d.kind, DateKind::Utc);
        assert_eq!(d.to_xml_string(), "2007-12-29T06:11:57.056Z");
        let d = DateTime::parse_json_date("2012-03-21T05:40Z").unwrap();
        assert_eq!(d.to_xml_string(), "2012-03-21T05:40:00Z");
        let d = DateTime::parse_json_date("2012-03-21T05:40:00").unwrap();
        assert_eq!(d.kind, DateKind::Unspecified);
        assert_eq!(d.to_xml_string(), "2012-03-21T05:40:00");
        for not_a_date in [
            "2012-03-21",
            "hello",
            "/Date(x)/",
            "2012-03-21X05:40:00",
            "",
        ] {
            assert!(
                DateTime::parse_json_date(not_a_date).is_none(),
                "{not_a_date}"
            );
        }
    }

    #[test]
    fn datetime_en_us() {
        assert_eq!(
            dt(2023, 10, 27, 9, 5, 11).to_string(),
            "10/27/2023 9:05:11 AM"
        );
        assert_eq!(dt(2023, 1, 2, 0, 0, 0).to_string(), "1/2/2023 12:00:00 AM");
        assert_eq!(dt(2023, 1, 2, 13, 7, 0).to_string(), "1/2/2023 1:07:00 PM");
        assert_eq!(
            dt(2023, 1, 2, 13, 7, 0)
                .format("yyyy-MM-dd HH:mm:ss")
                .as_deref(),
            Some("2023-01-02 13:07:00")
        );
    }

    #[test]
    fn timespan_format() {
        assert_eq!(
            TimeSpan(90 * TimeSpan::TICKS_PER_SECOND).to_string(),
            "00:01:30"
        );
        assert_eq!(
            TimeSpan(-(86_400 + 1) * TimeSpan::TICKS_PER_SECOND - 5).to_string(),
            "-1.00:00:01.0000005"
        );
    }
}
