//! .NET's `TimeZoneInfo` on the IANA time zone database (`chrono-tz`): zones found by IANA id or
//! by the Windows id APIM's gateways use (`W. Europe Standard Time`, mapped as CLDR's
//! `windowsZones` maps it, for the commonly used zones), their offsets and daylight saving time,
//! and the conversions between UTC, the machine's zone and a named one, with .NET's rules for
//! a `DateTime`'s kind.
//!
//! Must not: know about expressions.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Offset, TimeZone};
use chrono_tz::{OffsetComponents, OffsetName, Tz};

use super::datetime::{DateKind, DateTime, TimeSpan};

/// A time zone: UTC, or a zone of the database with the id it was found by.
#[derive(Clone, Debug, PartialEq)]
pub struct Zone {
    id: Arc<str>,
    tz: Tz,
    /// `TimeZoneInfo.Local` (conversions give `Local` dates).
    local: bool,
}

/// Windows zone ids and the IANA zone CLDR's `windowsZones` maps each to (its "001" territory).
const WINDOWS: &[(&str, &str)] = &[
    ("UTC", "Etc/UTC"),
    ("Coordinated Universal Time", "Etc/UTC"),
    ("GMT Standard Time", "Europe/London"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Romance Standard Time", "Europe/Paris"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("FLE Standard Time", "Europe/Kiev"),
    ("GTB Standard Time", "Europe/Bucharest"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("Turkey Standard Time", "Europe/Istanbul"),
    ("Israel Standard Time", "Asia/Jerusalem"),
    ("Egypt Standard Time", "Africa/Cairo"),
    ("South Africa Standard Time", "Africa/Johannesburg"),
    ("W. Central Africa Standard Time", "Africa/Lagos"),
    ("E. Africa Standard Time", "Africa/Nairobi"),
    ("Morocco Standard Time", "Africa/Casablanca"),
    ("Arab Standard Time", "Asia/Riyadh"),
    ("Arabian Standard Time", "Asia/Dubai"),
    ("Arabic Standard Time", "Asia/Baghdad"),
    ("Iran Standard Time", "Asia/Tehran"),
    ("Pakistan Standard Time", "Asia/Karachi"),
    ("India Standard Time", "Asia/Calcutta"),
    ("Sri Lanka Standard Time", "Asia/Colombo"),
    ("Nepal Standard Time", "Asia/Katmandu"),
    ("Bangladesh Standard Time", "Asia/Dhaka"),
    ("SE Asia Standard Time", "Asia/Bangkok"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("China Standard Time", "Asia/Shanghai"),
    ("Taipei Standard Time", "Asia/Taipei"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("Korea Standard Time", "Asia/Seoul"),
    ("W. Australia Standard Time", "Australia/Perth"),
    ("Cen. Australia Standard Time", "Australia/Adelaide"),
    ("AUS Central Standard Time", "Australia/Darwin"),
    ("E. Australia Standard Time", "Australia/Brisbane"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("Tasmania Standard Time", "Australia/Hobart"),
    ("New Zealand Standard Time", "Pacific/Auckland"),
    ("Hawaiian Standard Time", "Pacific/Honolulu"),
    ("Alaskan Standard Time", "America/Anchorage"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("US Mountain Standard Time", "America/Phoenix"),
    ("Mountain Standard Time", "America/Denver"),
    ("Central Standard Time", "America/Chicago"),
    ("Central Standard Time (Mexico)", "America/Mexico_City"),
    ("Canada Central Standard Time", "America/Regina"),
    ("Eastern Standard Time", "America/New_York"),
    ("US Eastern Standard Time", "America/Indianapolis"),
    ("Atlantic Standard Time", "America/Halifax"),
    ("Newfoundland Standard Time", "America/St_Johns"),
    ("SA Pacific Standard Time", "America/Bogota"),
    ("Venezuela Standard Time", "America/Caracas"),
    ("SA Western Standard Time", "America/La_Paz"),
    ("Pacific SA Standard Time", "America/Santiago"),
    ("E. South America Standard Time", "America/Sao_Paulo"),
    ("Argentina Standard Time", "America/Buenos_Aires"),
    ("Montevideo Standard Time", "America/Montevideo"),
    ("Azores Standard Time", "Atlantic/Azores"),
    ("Dateline Standard Time", "Etc/GMT+12"),
    ("UTC-11", "Etc/GMT+11"),
    ("UTC-02", "Etc/GMT+2"),
    ("UTC+12", "Etc/GMT-12"),
];

/// A zone id is not one certgate knows (.NET's `TimeZoneNotFoundException`).
pub(crate) fn not_found(id: &str) -> String {
    format!("The time zone ID '{id}' was not found on the local computer.")
}

impl Zone {
    pub fn utc() -> Zone {
        Zone {
            id: "UTC".into(),
            tz: Tz::UTC,
            local: false,
        }
    }

    /// The machine's zone (`TimeZoneInfo.Local`), as the process's `TZ` or the system names it;
    /// UTC when neither names a zone of the database. Asked once per process: finding it reads
    /// the environment and `/etc/localtime`, which a conversion on a request's path must not.
    pub fn local() -> Zone {
        static LOCAL: std::sync::OnceLock<Zone> = std::sync::OnceLock::new();
        LOCAL
            .get_or_init(|| {
                let tz = iana_time_zone::get_timezone()
                    .ok()
                    .and_then(|n| n.parse::<Tz>().ok())
                    .unwrap_or(Tz::UTC);
                Zone {
                    id: tz.name().into(),
                    tz,
                    local: true,
                }
            })
            .clone()
    }

    /// `FindSystemTimeZoneById`: an IANA id (any case, as Linux's .NET finds them) or a Windows
    /// id.
    pub fn find(id: &str) -> Option<Zone> {
        let tz = match WINDOWS.iter().find(|(w, _)| w.eq_ignore_ascii_case(id)) {
            Some((_, iana)) => iana.parse::<Tz>().ok()?,
            None => match id.parse::<Tz>() {
                Ok(tz) => tz,
                Err(_) => *chrono_tz::TZ_VARIANTS
                    .iter()
                    .find(|tz| tz.name().eq_ignore_ascii_case(id))?,
            },
        };
        Some(Zone {
            id: id.into(),
            tz,
            local: false,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn is_utc(&self) -> bool {
        matches!(
            self.tz,
            Tz::UTC | Tz::Etc__UTC | Tz::Etc__UCT | Tz::Etc__Universal | Tz::Etc__Zulu
        ) || &*self.id == "UTC"
    }

    /// The offset from UTC at a UTC instant, in minutes.
    fn offset_at_utc(&self, utc: &NaiveDateTime) -> i32 {
        self.tz
            .offset_from_utc_datetime(utc)
            .fix()
            .local_minus_utc()
            / 60
    }

    /// The UTC instant of a wall time in this zone: in a fall-back hour, the one in standard
    /// time (the later instant), as .NET takes it; `None` in a spring-forward gap (.NET's
    /// invalid time).
    fn to_utc_wall(&self, wall: &NaiveDateTime) -> Option<NaiveDateTime> {
        match self.tz.from_local_datetime(wall) {
            chrono::LocalResult::Single(d) => Some(d.naive_utc()),
            // An ambiguous time is standard time in .NET: the later instant.
            chrono::LocalResult::Ambiguous(a, b) => Some(a.naive_utc().max(b.naive_utc())),
            chrono::LocalResult::None => None,
        }
    }

    /// `BaseUtcOffset`: the standard (winter) offset now.
    pub fn base_offset(&self) -> TimeSpan {
        let now = chrono::Utc::now().naive_utc();
        let o = self.tz.offset_from_utc_datetime(&now);
        minutes_span(o.base_utc_offset().num_minutes() as i32)
    }

    /// Whether the zone keeps daylight saving time this year.
    pub fn supports_dst(&self) -> bool {
        let year = chrono::Utc::now().year();
        let at = |m| {
            NaiveDate::from_ymd_opt(year, m, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| {
                    self.tz
                        .offset_from_utc_datetime(&t)
                        .dst_offset()
                        .num_minutes()
                })
        };
        at(1).unwrap_or(0) != 0 || at(7).unwrap_or(0) != 0
    }

    /// `StandardName`/`DaylightName`: the zone's abbreviations (`CET`, `CEST`), as the
    /// database has them; UTC's name is .NET's.
    pub fn name(&self, daylight: bool) -> String {
        if self.is_utc() {
            return "Coordinated Universal Time".into();
        }
        let year = chrono::Utc::now().year();
        for m in [1, 7] {
            let Some(t) = NaiveDate::from_ymd_opt(year, m, 1).and_then(|d| d.and_hms_opt(0, 0, 0))
            else {
                continue;
            };
            let o = self.tz.offset_from_utc_datetime(&t);
            if (o.dst_offset().num_minutes() != 0) == daylight {
                return o.abbreviation().unwrap_or(self.tz.name()).to_string();
            }
        }
        self.name(false)
    }

    /// `DisplayName` (and `ToString()`): `(UTC+01:00) Europe/Berlin`.
    pub fn display_name(&self) -> String {
        if self.is_utc() {
            return "(UTC) Coordinated Universal Time".into();
        }
        let m = self.base_offset().0 / 600_000_000;
        let sign = if m < 0 { '-' } else { '+' };
        format!(
            "(UTC{sign}{:02}:{:02}) {}",
            m.abs() / 60,
            m.abs() % 60,
            self.tz.name()
        )
    }

    /// The UTC instant a `DateTime` stands for when this zone is where it came from: a UTC one
    /// is itself; any other is a wall time here. `Err` for a wall time in a spring-forward gap.
    fn instant_of(&self, d: &DateTime) -> Result<NaiveDateTime, String> {
        match d.kind {
            DateKind::Utc => Ok(d.wall),
            DateKind::Offset(m) => Ok(d.wall - chrono::Duration::minutes(i64::from(m))),
            _ => self
                .to_utc_wall(&d.wall)
                .ok_or_else(|| "The supplied DateTime represents an invalid time. For example, when the clock is adjusted forward, any time in the period that is skipped is invalid. (Parameter 'dateTime')".into()),
        }
    }

    /// The instant `GetUtcOffset` and `IsDaylightSavingTime` ask about: a local `DateTime`'s in
    /// the machine's zone, any other's as `instant_of` has it (a skipped wall time as it reads).
    fn asked_instant(&self, d: &DateTime) -> NaiveDateTime {
        match d.kind {
            DateKind::Local if !self.local => Zone::local().instant_of(d).unwrap_or(d.wall),
            _ => self.instant_of(d).unwrap_or(d.wall),
        }
    }

    /// `GetUtcOffset(dateTime)`.
    pub fn utc_offset(&self, d: &DateTime) -> TimeSpan {
        minutes_span(self.offset_at_utc(&self.asked_instant(d)))
    }

    /// `IsDaylightSavingTime(dateTime)`.
    pub fn is_dst(&self, d: &DateTime) -> bool {
        let o = self.tz.offset_from_utc_datetime(&self.asked_instant(d));
        o.dst_offset().num_minutes() != 0
    }

    /// `IsInvalidTime(dateTime)`: a wall time this zone skips.
    pub fn is_invalid(&self, d: &DateTime) -> bool {
        !matches!(d.kind, DateKind::Utc) && self.to_utc_wall(&d.wall).is_none()
    }

    /// The wall time of a UTC instant here, with the kind .NET gives it: `Utc` in UTC, `Local`
    /// in the machine's zone, unspecified otherwise.
    pub fn wall_of(&self, utc: &NaiveDateTime) -> DateTime {
        let wall = *utc + chrono::Duration::minutes(i64::from(self.offset_at_utc(utc)));
        let kind = if self.is_utc() && !self.local {
            DateKind::Utc
        } else if self.local {
            DateKind::Local
        } else {
            DateKind::Unspecified
        };
        DateTime { wall, kind }
    }

    /// `ConvertTime(dateTime, source, this)`: .NET refuses a `Utc` date from a zone that is not
    /// UTC and a `Local` one from a zone that is not the machine's.
    pub fn convert_from(&self, d: &DateTime, source: &Zone) -> Result<DateTime, String> {
        let mismatch = match d.kind {
            DateKind::Utc => !source.is_utc(),
            DateKind::Local => !source.local,
            _ => false,
        };
        if mismatch {
            return Err("The conversion could not be completed because the supplied DateTime did not have the Kind property set correctly. For example, when the Kind property is DateTimeKind.Local, the source time zone must be TimeZoneInfo.Local. (Parameter 'sourceTimeZone')".into());
        }
        let utc = source.instant_of(d)?;
        Ok(self.wall_of(&utc))
    }

    /// The zone a `DateTime` of this kind is in when no source is given (`ConvertTime(d, tz)`).
    pub fn source_of(d: &DateTime) -> Zone {
        match d.kind {
            DateKind::Utc => Zone::utc(),
            _ => Zone::local(),
        }
    }

    /// `ConvertTime(dateTimeOffset, this)`: the same instant at this zone's offset then.
    pub fn offset_of_instant(&self, utc: &NaiveDateTime) -> i32 {
        self.offset_at_utc(utc)
    }
}

fn minutes_span(m: i32) -> TimeSpan {
    TimeSpan(i64::from(m) * 600_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|d| d.and_hms_opt(h, mi, 0))
            .expect("a valid date")
    }

    #[test]
    fn zones_by_windows_and_iana_ids() {
        let berlin = Zone::find("W. Europe Standard Time").expect("known");
        assert_eq!(
            berlin.wall_of(&at(2024, 1, 15, 12, 0)).wall,
            at(2024, 1, 15, 13, 0)
        );
        assert_eq!(
            berlin.wall_of(&at(2024, 7, 15, 12, 0)).wall,
            at(2024, 7, 15, 14, 0)
        );
        let ny = Zone::find("america/new_york").expect("known");
        assert_eq!(
            ny.wall_of(&at(2024, 7, 15, 12, 0)).wall,
            at(2024, 7, 15, 8, 0)
        );
        assert_eq!(
            ny.wall_of(&at(2024, 7, 15, 12, 0)).kind,
            DateKind::Unspecified
        );
        assert!(Zone::find("Mars Standard Time").is_none());
        assert_eq!(
            Zone::find("UTC")
                .expect("known")
                .wall_of(&at(2024, 1, 1, 0, 0))
                .kind,
            DateKind::Utc
        );
        assert!(berlin.supports_dst());
        assert!(!Zone::find("Asia/Tokyo").expect("known").supports_dst());
        assert_eq!(berlin.display_name(), "(UTC+01:00) Europe/Berlin");
        assert_eq!(berlin.name(false), "CET");
        assert_eq!(berlin.name(true), "CEST");
    }

    #[test]
    fn wall_times_in_gaps_and_overlaps() {
        let berlin = Zone::find("Europe/Berlin").expect("known");
        let wall = |w| DateTime {
            wall: w,
            kind: DateKind::Unspecified,
        };
        // 2024-03-31 02:30 does not exist in Berlin.
        assert!(berlin.is_invalid(&wall(at(2024, 3, 31, 2, 30))));
        assert!(berlin
            .convert_from(&wall(at(2024, 3, 31, 2, 30)), &berlin)
            .is_err());
        // 2024-10-27 02:30 happens twice: .NET takes standard time (UTC+1).
        let utc = Zone::utc()
            .convert_from(&wall(at(2024, 10, 27, 2, 30)), &berlin)
            .expect("valid");
        assert_eq!(utc.wall, at(2024, 10, 27, 1, 30));
        let local_date = DateTime {
            wall: at(2024, 1, 1, 0, 0),
            kind: DateKind::Local,
        };
        assert!(berlin.convert_from(&local_date, &berlin).is_err());
    }
}
