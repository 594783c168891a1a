//! RFC 3339 dates (the `created` annotation), parsed with the reference's
//! strictness: upper-case `T`, a zone (`Z` or `±hh:mm`), an optional
//! fraction of a second, and real calendar days.

use crate::schema::{Result, SchemaError, json};
use std::fmt;

const LAYOUT: &str = "2006-01-02T15:04:05Z07:00";

/// A date and time with the zone offset it was written with. The fraction
/// of a second is dropped, as the reference prints dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// Offset from UTC in minutes.
    pub offset_minutes: i16,
}

struct Cursor<'a> {
    input: &'a str,
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    fn fail(&self, elem: &str) -> SchemaError {
        SchemaError::new(format!(
            "bad Date: parsing time {} as {}: cannot parse {} as {}",
            json::quote(self.input),
            json::quote(LAYOUT),
            json::quote(self.rest),
            json::quote(elem)
        ))
    }

    fn out_of_range(&self, what: &str) -> SchemaError {
        SchemaError::new(format!(
            "bad Date: parsing time {}: {what} out of range",
            json::quote(self.input)
        ))
    }

    fn digits(&mut self, n: usize, elem: &str) -> Result<u32> {
        let d = self
            .rest
            .get(..n)
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
        let d = d.ok_or_else(|| self.fail(elem))?;
        self.rest = &self.rest[n..];
        Ok(d.parse().unwrap_or(0))
    }

    /// One or two digits, as Go's non-fixed hour.
    fn short_number(&mut self, elem: &str) -> Result<u32> {
        let n = self
            .rest
            .bytes()
            .take(2)
            .take_while(u8::is_ascii_digit)
            .count();
        if n == 0 {
            return Err(self.fail(elem));
        }
        self.digits(n, elem)
    }

    fn literal(&mut self, lit: &str) -> Result<()> {
        self.rest = self.rest.strip_prefix(lit).ok_or_else(|| self.fail(lit))?;
        Ok(())
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 to a civil date (proleptic Gregorian): year,
/// month, day (Howard Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `seconds` since the epoch as an RFC 3339 date in UTC, as the
/// `created` annotation takes it.
pub fn rfc3339_utc(seconds: i64) -> String {
    let (y, m, d) = civil_from_days(seconds.div_euclid(86_400));
    let s = seconds.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

impl Date {
    pub fn parse(s: &str) -> Result<Self> {
        let mut c = Cursor { input: s, rest: s };
        let year = c.digits(4, "2006")? as i32;
        c.literal("-")?;
        let month = c.digits(2, "01")?;
        if !(1..=12).contains(&month) {
            return Err(c.out_of_range("month"));
        }
        c.literal("-")?;
        let day = c.digits(2, "02")?;
        c.literal("T")?;
        let hour = c.short_number("15")?;
        if hour >= 24 {
            return Err(c.out_of_range("hour"));
        }
        c.literal(":")?;
        let minute = c.digits(2, "04")?;
        if minute >= 60 {
            return Err(c.out_of_range("minute"));
        }
        c.literal(":")?;
        let second = c.digits(2, "05")?;
        if second >= 60 {
            return Err(c.out_of_range("second"));
        }
        // A fraction of a second is accepted even though the layout has none.
        if let Some(frac) = c.rest.strip_prefix(['.', ',']) {
            let n = frac.bytes().take_while(u8::is_ascii_digit).count();
            if n > 0 {
                c.rest = &frac[n..];
            }
        }
        let offset_minutes = if let Some(rest) = c.rest.strip_prefix('Z') {
            c.rest = rest;
            0
        } else {
            let sign = match c.rest.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return Err(c.fail("Z07:00")),
            };
            let zone = c.rest.get(1..6).filter(|z| {
                let b = z.as_bytes();
                b[2] == b':' && [0, 1, 3, 4].iter().all(|&i| b[i].is_ascii_digit())
            });
            let zone = zone.ok_or_else(|| c.fail("Z07:00"))?;
            let hh: i16 = zone[..2].parse().unwrap_or(0);
            let mm: i16 = zone[3..].parse().unwrap_or(0);
            c.rest = &c.rest[6..];
            sign * (hh * 60 + mm)
        };
        if !c.rest.is_empty() {
            return Err(SchemaError::new(format!(
                "bad Date: parsing time {}: extra text: {}",
                json::quote(s),
                json::quote(c.rest)
            )));
        }
        if day < 1 || day > days_in_month(year, month) {
            return Err(c.out_of_range("day"));
        }
        Ok(Date {
            year,
            month: month as u8,
            day: day as u8,
            hour: hour as u8,
            minute: minute as u8,
            second: second as u8,
            offset_minutes,
        })
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )?;
        if self.offset_minutes == 0 {
            return f.write_str("Z");
        }
        let sign = if self.offset_minutes < 0 { '-' } else { '+' };
        let m = self.offset_minutes.unsigned_abs();
        write!(f, "{sign}{:02}:{:02}", m / 60, m % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_seconds() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_utc(-1), "1969-12-31T23:59:59Z");
        Date::parse(&rfc3339_utc(1_700_000_000)).unwrap();
    }

    #[test]
    fn dates() {
        assert_eq!(
            Date::parse("2004-05-14T23:11:14+00:00")
                .unwrap()
                .to_string(),
            "2004-05-14T23:11:14Z"
        );
        assert_eq!(
            Date::parse("2015-05-18T13:49:28.351729952-04:00")
                .unwrap()
                .to_string(),
            "2015-05-18T13:49:28-04:00"
        );
        assert_eq!(
            Date::parse("2014-11-1417:36:54").unwrap_err().to_string(),
            r#"bad Date: parsing time "2014-11-1417:36:54" as "2006-01-02T15:04:05Z07:00": cannot parse "17:36:54" as "T""#
        );
        assert!(
            Date::parse("2015-02-30T00:00:00Z")
                .unwrap_err()
                .to_string()
                .ends_with("day out of range")
        );
        assert!(Date::parse("2016-02-29T00:00:00Z").is_ok());
        assert!(Date::parse("2015-05-18t13:49:28Z").is_err());
    }
}
