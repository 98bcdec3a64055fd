//! Cron schedules: parsing Quartz and Unix patterns and computing fire times
//! in an IANA time zone.
//!
//! # Patterns
//!
//! - **Quartz**, 6 or 7 fields: `sec min hour day-of-month month day-of-week
//!   [year]`. Exactly one of the two day fields must be `?` (as Quartz
//!   requires). Day-of-week is numbered `1`=SUN .. `7`=SAT. Supported:
//!   names (`JAN`, `MON-FRI`), lists, ranges, steps, `L` (last day of the
//!   month) and `15W` (weekday nearest the 15th) in day-of-month, `6L` (last
//!   Friday) and `6#3` (third Friday) in day-of-week. Not supported: `LW`,
//!   `L-3`. The year field (`*`, `2027`, `2027-2029/2`, lists; 1970-2099) is
//!   evaluated here, since croner has none.
//! - **Unix**, 5 fields: `min hour day-of-month month day-of-week`, seconds
//!   are 0, day-of-week `0`/`7`=SUN; when both day fields are restricted, a
//!   day matching either fires (POSIX).
//!
//! croner matches the fields; this module walks local wall-clock time itself
//! and maps each matching local time to instants under the DST rule below.
//!
//! # Time zone
//!
//! The zone is an IANA name (`Europe/Berlin`). When none is given, the
//! server's zone is used: the `TZ` environment variable if it names an IANA
//! zone (a leading `:` is ignored), else the system's zone as reported by
//! `iana-time-zone`, else `UTC`.
//!
//! # DST rule
//!
//! A pattern is *fixed-time* when its hour field names specific hours (no `*`
//! and no `/`, e.g. `2`, `1,13`, `9-17`); otherwise (`*`, `0/2`, `*/3`) it
//! follows *real time*.
//!
//! - Local times that exist once map to their single instant.
//! - **Spring forward** (a local time that does not exist): a fixed-time
//!   pattern fires at the first valid instant after the gap (02:30 on
//!   Europe/Berlin's switch day fires at 03:00 CEST); several skipped times
//!   of one day collapse into that one instant, and a time that also
//!   matches at the end of the gap (e.g. `0 0 2,3 * * ?`) fires once. A
//!   real-time pattern does not fire for skipped times: they never happen.
//! - **Fall back** (a local time that happens twice): a fixed-time pattern
//!   fires at the first occurrence only; a real-time pattern fires at both
//!   (`0 0/30 * * * ?` fires at 02:00, 02:30 CEST then 02:00, 02:30 CET).
//!
//! croner's own search on a zoned time (`Cron::iter_after`) gets the
//! fixed-time cases right (skipped times move to the end of the gap, a
//! repeated time runs at its first occurrence) but applies that to every
//! pattern, so it differs from the rule in three ways, all covered by tests:
//! on fall-back a real-time pattern never fires in the repeated hour's
//! second pass (an hourly job misses an hour of real time); on spring-forward
//! a skipped time of a real-time pattern is moved to the end of the gap
//! (`0 15 * * * ?` fires at 03:00, a time it does not match); and asked from
//! inside the repeated hour's second pass it can answer an instant *before*
//! the start (02:30 CEST when asked from 02:15 CET). This module therefore
//! uses only croner's field matching and walks local time itself.
//!
//! # Never-firing patterns
//!
//! Parsing fails when no fire time exists after the reference instant (now,
//! or the one given to [`CronSchedule::parse_at`]): within the year field's
//! last year, or within [`SEARCH_YEARS`] years when the year is `*`.

mod year;

#[cfg(test)]
mod tests;

use crate::{Error, Result};
use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime,
    Offset, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use croner::Cron;
use year::Years;

/// How many years ahead a search for the next fire time goes when the year
/// field does not limit it (covers `0 0 0 ? 2 MON#5`, which fires about every
/// 28 years).
pub const SEARCH_YEARS: i32 = 40;

const FIELDS_QUARTZ: [&str; 7] = [
    "second",
    "minute",
    "hour",
    "day-of-month",
    "month",
    "day-of-week",
    "year",
];
const FIELDS_UNIX: [&str; 5] = ["minute", "hour", "day-of-month", "month", "day-of-week"];

/// A parsed cron schedule in a time zone.
#[derive(Clone, Debug)]
pub struct CronSchedule {
    expr: String,
    zone: Tz,
    cron: Cron,
    years: Years,
    fixed_hour: bool,
}

impl CronSchedule {
    /// Parses a Quartz (6/7 fields) or Unix (5 fields) pattern in zone `tz`
    /// (an IANA name; `None` = the server's zone, see the module docs).
    /// Fails when the pattern or zone is invalid or when it never fires
    /// after now.
    pub fn parse(expr: &str, tz: Option<&str>) -> Result<CronSchedule> {
        Self::parse_at(expr, tz, Utc::now())
    }

    /// As [`parse`](Self::parse), but checks that the pattern fires after
    /// `now` rather than after the current time.
    pub fn parse_at(expr: &str, tz: Option<&str>, now: DateTime<Utc>) -> Result<CronSchedule> {
        let err = |message: String| Error::InvalidSchedule {
            expr: expr.to_owned(),
            message,
        };
        let zone = match tz {
            Some(name) => name.trim().parse::<Tz>().map_err(|_| {
                err(format!(
                    "unknown time zone `{name}` (expected an IANA name like `Europe/Berlin`)"
                ))
            })?,
            None => server_zone(),
        };
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let quartz = match fields.len() {
            5 => false,
            6 | 7 => true,
            n => {
                return Err(err(format!(
                    "expected 5 fields (Unix: min hour day-of-month month day-of-week) or 6-7 \
                     (Quartz: sec min hour day-of-month month day-of-week [year]), found {n}"
                )))
            }
        };
        let names: &[&str] = if quartz { &FIELDS_QUARTZ } else { &FIELDS_UNIX };
        let (dom_i, dow_i) = if quartz { (3, 5) } else { (2, 4) };
        for (i, f) in fields.iter().enumerate() {
            if f.contains('?') && i != dom_i && i != dow_i {
                return Err(err(format!(
                    "field {} (`{f}`): `?` is only allowed in day-of-month or day-of-week",
                    names[i]
                )));
            }
        }
        if quartz {
            let (dom, dow) = (fields[dom_i], fields[dow_i]);
            match (dom == "?", dow == "?") {
                (false, false) => {
                    return Err(err(format!(
                        "day-of-month (`{dom}`) and day-of-week (`{dow}`) are both set; Quartz \
                         requires one of them to be `?`"
                    )))
                }
                (true, true) => {
                    return Err(err(
                        "day-of-month and day-of-week are both `?`; only one of them may be"
                            .to_owned(),
                    ))
                }
                _ => {}
            }
            check_quartz_weekdays(dow)
                .map_err(|m| err(format!("field day-of-week (`{dow}`): {m}")))?;
        }
        let years = match fields.get(6) {
            Some(y) => Years::parse(y).map_err(|m| err(format!("field year (`{y}`): {m}")))?,
            None => Years::any(),
        };
        let base = &fields[..fields.len().min(6)];
        let build = |parts: &[&str]| {
            let mut c = Cron::new(&parts.join(" "));
            if quartz {
                c.with_seconds_required().with_alternative_weekdays();
            }
            c.parse()
        };
        let cron = match build(base) {
            Ok(c) => c,
            Err(e) => {
                // Name the field: parse each one alone among wildcards.
                for (i, f) in base.iter().enumerate() {
                    let mut probe = vec!["*"; base.len()];
                    probe[i] = f;
                    if let Err(fe) = build(&probe) {
                        return Err(err(format!(
                            "field {} (`{f}`): {}",
                            names[i],
                            croner_msg(&fe)
                        )));
                    }
                }
                return Err(err(croner_msg(&e)));
            }
        };
        let hour = fields[if quartz { 2 } else { 1 }];
        let schedule = CronSchedule {
            expr: expr.trim().to_owned(),
            zone,
            cron,
            years,
            fixed_hour: !hour.contains('*') && !hour.contains('/'),
        };
        if schedule.next_after(now).is_none() {
            let now_text = now.format("%Y-%m-%dT%H:%M:%SZ");
            let why = match schedule.years.last() {
                Some(last) if last < now.year() => {
                    format!(
                        "never fires: every year in the year field is before {}",
                        now.year()
                    )
                }
                Some(last) => {
                    format!("never fires: no matching time from {now_text} through {last}")
                }
                None => {
                    format!("never fires: no matching time within {SEARCH_YEARS} years after {now_text}")
                }
            };
            return Err(err(why));
        }
        Ok(schedule)
    }

    /// The schedule of a job definition (crontab or Rundeck's structured
    /// form), in zone `tz` (`None` = the server's zone).
    pub fn from_schedule(s: &crate::model::Schedule, tz: Option<&str>) -> Result<CronSchedule> {
        Self::parse(&s.to_quartz(), tz)
    }

    /// The first fire time strictly after `after`, or `None` when there is
    /// none within the search bound (see the module docs).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Local times of instants after `after` are at least its local time
        // in the smaller of the offsets now and a little later (fall back
        // moves local time backwards).
        let off_now = self.offset_secs(after);
        let off_later = after
            .checked_add_signed(Duration::hours(4))
            .map_or(off_now, |t| self.offset_secs(t));
        let start = after
            .naive_utc()
            .checked_add_signed(Duration::seconds(i64::from(off_now.min(off_later))))?;
        let mut cursor = start.with_nanosecond(0).unwrap_or(start);
        let limit = self
            .years
            .last()
            .unwrap_or_else(|| cursor.year().saturating_add(SEARCH_YEARS));
        let mut best: Option<DateTime<Utc>> = None;
        while let Some(local) = self.next_local(cursor, limit) {
            let instants = self.instants(local);
            // The earliest instant of a local time never decreases as local
            // time increases, so once it passes the best we can stop.
            if let (Some(b), Some(first)) = (best, instants.first()) {
                if *first >= b {
                    break;
                }
            }
            for i in instants {
                if i > after && best.is_none_or(|b| i < b) {
                    best = Some(i);
                }
            }
            let Some(next) = local.checked_add_signed(Duration::seconds(1)) else {
                break;
            };
            cursor = next;
        }
        best
    }

    /// The first `count` fire times strictly after `from`, in order.
    pub fn upcoming(&self, from: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(count.min(1024));
        let mut t = from;
        while out.len() < count {
            match self.next_after(t) {
                Some(n) => {
                    out.push(n);
                    t = n;
                }
                None => break,
            }
        }
        out
    }

    /// The IANA name of the schedule's zone.
    pub fn zone(&self) -> &str {
        self.zone.name()
    }

    /// The pattern as given (trimmed).
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// `t` as local time in the schedule's zone, with its UTC offset.
    pub fn to_local(&self, t: DateTime<Utc>) -> DateTime<FixedOffset> {
        t.with_timezone(&self.zone).fixed_offset()
    }

    fn offset_secs(&self, t: DateTime<Utc>) -> i32 {
        self.zone
            .offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc()
    }

    /// The instants at which local time `local` fires, under the DST rule.
    fn instants(&self, local: NaiveDateTime) -> Vec<DateTime<Utc>> {
        match self.zone.from_local_datetime(&local) {
            LocalResult::Single(t) => vec![t.with_timezone(&Utc)],
            LocalResult::Ambiguous(a, b) => {
                if self.fixed_hour {
                    vec![a.with_timezone(&Utc)]
                } else {
                    vec![a.with_timezone(&Utc), b.with_timezone(&Utc)]
                }
            }
            LocalResult::None => {
                if self.fixed_hour {
                    self.gap_end(local).into_iter().collect()
                } else {
                    Vec::new()
                }
            }
        }
    }

    /// The first instant whose local time is after `local`, which lies in
    /// a spring-forward gap: the end of the gap.
    fn gap_end(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        let as_utc = local.and_utc();
        let before = self.offset_secs(as_utc.checked_sub_signed(Duration::days(1))?);
        let after = self.offset_secs(as_utc.checked_add_signed(Duration::days(1))?);
        // The transition lies in (local - after, local - before].
        let mut lo = as_utc.timestamp() - i64::from(after.max(before));
        let mut hi = as_utc.timestamp() - i64::from(after.min(before));
        let later = |ts: i64| {
            DateTime::from_timestamp(ts, 0)
                .is_some_and(|t| t.with_timezone(&self.zone).naive_local() > local)
        };
        if !later(hi) {
            return None;
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if later(mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        DateTime::from_timestamp(hi, 0)
    }

    /// The first local time `>= from` matching the pattern, up to the end of
    /// year `limit`.
    fn next_local(&self, from: NaiveDateTime, limit: i32) -> Option<NaiveDateTime> {
        let p = &self.cron.pattern;
        let mut date = from.date();
        let mut time = from.time();
        loop {
            if date.year() > limit {
                return None;
            }
            if !self.years.contains(date.year()) {
                let y = self.years.first_from(date.year() + 1)?;
                date = NaiveDate::from_ymd_opt(y, 1, 1)?;
                time = NaiveTime::MIN;
                continue;
            }
            if !p.month_match(date.month()).unwrap_or(false) {
                let (y, m) = if date.month() == 12 {
                    (date.year() + 1, 1)
                } else {
                    (date.year(), date.month() + 1)
                };
                date = NaiveDate::from_ymd_opt(y, m, 1)?;
                time = NaiveTime::MIN;
                continue;
            }
            if p.day_match(date.year(), date.month(), date.day())
                .unwrap_or(false)
            {
                if let Some(t) = self.first_time(time) {
                    return Some(date.and_time(t));
                }
            }
            date = date.succ_opt()?;
            time = NaiveTime::MIN;
        }
    }

    /// The first time of day `>= from` matching hour, minute and second.
    fn first_time(&self, from: NaiveTime) -> Option<NaiveTime> {
        let p = &self.cron.pattern;
        let (fh, fm, fs) = (from.hour(), from.minute(), from.second());
        for h in fh..24 {
            if !p.hour_match(h).unwrap_or(false) {
                continue;
            }
            let m0 = if h == fh { fm } else { 0 };
            for m in m0..60 {
                if !p.minute_match(m).unwrap_or(false) {
                    continue;
                }
                let s0 = if h == fh && m == fm { fs } else { 0 };
                if let Ok(Some(s)) = p.next_second_match(s0) {
                    return NaiveTime::from_hms_opt(h, m, s);
                }
            }
        }
        None
    }
}

/// The server's zone: `TZ`, else the system zone, else UTC.
fn server_zone() -> Tz {
    std::env::var("TZ")
        .ok()
        .and_then(|v| v.trim_start_matches(':').trim().parse::<Tz>().ok())
        .or_else(|| {
            iana_time_zone::get_timezone()
                .ok()
                .and_then(|v| v.parse::<Tz>().ok())
        })
        .unwrap_or(Tz::UTC)
}

/// croner's message without its generic prefixes.
fn croner_msg(e: &croner::errors::CronError) -> String {
    let s = e.to_string();
    s.strip_prefix("Component error: ")
        .or_else(|| s.strip_prefix("Invalid pattern: "))
        .unwrap_or(&s)
        .to_owned()
}

/// Quartz numbers weekdays 1-7; croner would silently accept 8 and reject 0
/// with an obscure message.
fn check_quartz_weekdays(dow: &str) -> std::result::Result<(), String> {
    let bytes = dow.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let after_marker = start > 0 && matches!(bytes[start - 1], b'#' | b'/');
            let n: u32 = dow[start..i].parse().unwrap_or(u32::MAX);
            if !after_marker && !(1..=7).contains(&n) {
                return Err(format!(
                    "weekday {} is outside 1-7 (Quartz numbers 1=SUN .. 7=SAT)",
                    &dow[start..i]
                ));
            }
        } else {
            i += 1;
        }
    }
    Ok(())
}
