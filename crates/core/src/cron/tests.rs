#![allow(clippy::unwrap_used)]

use super::*;
use chrono::SecondsFormat;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A fixed "now" for parsing, so year cases do not rot.
fn now() -> DateTime<Utc> {
    at("2026-06-01T00:00:00Z")
}

fn sched(expr: &str, tz: &str) -> CronSchedule {
    CronSchedule::parse_at(expr, Some(tz), now()).unwrap()
}

/// `count` fire times after `from`, each as `UTC local-with-offset`.
fn fires(expr: &str, tz: &str, from: &str, count: usize) -> Vec<String> {
    let s = sched(expr, tz);
    s.upcoming(at(from), count)
        .into_iter()
        .map(|t| {
            format!(
                "{} {}",
                t.to_rfc3339_opts(SecondsFormat::Secs, true),
                s.to_local(t).to_rfc3339()
            )
        })
        .collect()
}

/// Local times only, for non-DST cases.
fn local(expr: &str, tz: &str, from: &str, count: usize) -> Vec<String> {
    let s = sched(expr, tz);
    s.upcoming(at(from), count)
        .into_iter()
        .map(|t| s.to_local(t).to_rfc3339())
        .collect()
}

fn error(expr: &str, tz: Option<&str>) -> String {
    CronSchedule::parse_at(expr, tz, now())
        .unwrap_err()
        .to_string()
}

const BERLIN: &str = "Europe/Berlin";
const NY: &str = "America/New_York";

// ---- Europe/Berlin, spring forward 2026-03-29 01:00Z (02:00 CET -> 03:00 CEST)

#[test]
fn berlin_spring_fixed_time_runs_at_end_of_gap() {
    assert_eq!(
        fires("0 30 2 * * ?", BERLIN, "2026-03-28T00:00:00Z", 3),
        [
            "2026-03-28T01:30:00Z 2026-03-28T02:30:00+01:00",
            "2026-03-29T01:00:00Z 2026-03-29T03:00:00+02:00",
            "2026-03-30T00:30:00Z 2026-03-30T02:30:00+02:00",
        ]
    );
}

#[test]
fn berlin_spring_hourly_follows_real_time() {
    assert_eq!(
        fires("0 0 * * * ?", BERLIN, "2026-03-28T23:30:00Z", 3),
        [
            "2026-03-29T00:00:00Z 2026-03-29T01:00:00+01:00",
            "2026-03-29T01:00:00Z 2026-03-29T03:00:00+02:00",
            "2026-03-29T02:00:00Z 2026-03-29T04:00:00+02:00",
        ]
    );
}

#[test]
fn berlin_spring_half_hourly_skips_missing_times() {
    assert_eq!(
        fires("0 0/30 * * * ?", BERLIN, "2026-03-29T00:00:00Z", 5),
        [
            "2026-03-29T00:30:00Z 2026-03-29T01:30:00+01:00",
            "2026-03-29T01:00:00Z 2026-03-29T03:00:00+02:00",
            "2026-03-29T01:30:00Z 2026-03-29T03:30:00+02:00",
            "2026-03-29T02:00:00Z 2026-03-29T04:00:00+02:00",
            "2026-03-29T02:30:00Z 2026-03-29T04:30:00+02:00",
        ]
    );
}

#[test]
fn berlin_spring_real_time_skipped_minute_does_not_fire() {
    assert_eq!(
        fires("0 15 * * * ?", BERLIN, "2026-03-29T00:30:00Z", 2),
        [
            "2026-03-29T01:15:00Z 2026-03-29T03:15:00+02:00",
            "2026-03-29T02:15:00Z 2026-03-29T04:15:00+02:00",
        ]
    );
}

#[test]
fn berlin_spring_weekly_sunday_2am() {
    assert_eq!(
        fires("0 0 2 ? * SUN", BERLIN, "2026-03-21T00:00:00Z", 3),
        [
            "2026-03-22T01:00:00Z 2026-03-22T02:00:00+01:00",
            "2026-03-29T01:00:00Z 2026-03-29T03:00:00+02:00",
            "2026-04-05T00:00:00Z 2026-04-05T02:00:00+02:00",
        ]
    );
}

#[test]
fn berlin_spring_several_skipped_times_fire_once() {
    // 02:00 and 02:30 are both skipped and 03:00 matches too: one run.
    assert_eq!(
        fires("0 0,30 2,3 * * ?", BERLIN, "2026-03-29T00:00:00Z", 3),
        [
            "2026-03-29T01:00:00Z 2026-03-29T03:00:00+02:00",
            "2026-03-29T01:30:00Z 2026-03-29T03:30:00+02:00",
            "2026-03-30T00:00:00Z 2026-03-30T02:00:00+02:00",
        ]
    );
}

// ---- Europe/Berlin, fall back 2026-10-25 01:00Z (03:00 CEST -> 02:00 CET)

#[test]
fn berlin_fall_fixed_time_runs_at_first_occurrence_only() {
    assert_eq!(
        fires("0 30 2 * * ?", BERLIN, "2026-10-24T00:00:00Z", 3),
        [
            "2026-10-24T00:30:00Z 2026-10-24T02:30:00+02:00",
            "2026-10-25T00:30:00Z 2026-10-25T02:30:00+02:00",
            "2026-10-26T01:30:00Z 2026-10-26T02:30:00+01:00",
        ]
    );
    // Asked from inside the repeated hour's second pass: already ran today.
    assert_eq!(
        fires("0 30 2 * * ?", BERLIN, "2026-10-25T01:15:00Z", 1),
        ["2026-10-26T01:30:00Z 2026-10-26T02:30:00+01:00"]
    );
}

#[test]
fn berlin_fall_hourly_fires_every_real_hour() {
    assert_eq!(
        fires("0 0 * * * ?", BERLIN, "2026-10-24T23:30:00Z", 4),
        [
            "2026-10-25T00:00:00Z 2026-10-25T02:00:00+02:00",
            "2026-10-25T01:00:00Z 2026-10-25T02:00:00+01:00",
            "2026-10-25T02:00:00Z 2026-10-25T03:00:00+01:00",
            "2026-10-25T03:00:00Z 2026-10-25T04:00:00+01:00",
        ]
    );
}

#[test]
fn berlin_fall_half_hourly_fires_repeated_times_twice() {
    assert_eq!(
        fires("0 0/30 * * * ?", BERLIN, "2026-10-24T23:45:00Z", 5),
        [
            "2026-10-25T00:00:00Z 2026-10-25T02:00:00+02:00",
            "2026-10-25T00:30:00Z 2026-10-25T02:30:00+02:00",
            "2026-10-25T01:00:00Z 2026-10-25T02:00:00+01:00",
            "2026-10-25T01:30:00Z 2026-10-25T02:30:00+01:00",
            "2026-10-25T02:00:00Z 2026-10-25T03:00:00+01:00",
        ]
    );
    // From inside the second pass.
    assert_eq!(
        fires("0 0/30 * * * ?", BERLIN, "2026-10-25T01:15:00Z", 2),
        [
            "2026-10-25T01:30:00Z 2026-10-25T02:30:00+01:00",
            "2026-10-25T02:00:00Z 2026-10-25T03:00:00+01:00",
        ]
    );
}

#[test]
fn berlin_fall_weekly_sunday_2am() {
    assert_eq!(
        fires("0 0 2 ? * SUN", BERLIN, "2026-10-17T00:00:00Z", 3),
        [
            "2026-10-18T00:00:00Z 2026-10-18T02:00:00+02:00",
            "2026-10-25T00:00:00Z 2026-10-25T02:00:00+02:00",
            "2026-11-01T01:00:00Z 2026-11-01T02:00:00+01:00",
        ]
    );
}

// ---- America/New_York, spring forward 2026-03-08 07:00Z (02:00 EST -> 03:00 EDT)

#[test]
fn new_york_spring_fixed_time_runs_at_end_of_gap() {
    assert_eq!(
        fires("0 30 2 * * ?", NY, "2026-03-07T00:00:00Z", 3),
        [
            "2026-03-07T07:30:00Z 2026-03-07T02:30:00-05:00",
            "2026-03-08T07:00:00Z 2026-03-08T03:00:00-04:00",
            "2026-03-09T06:30:00Z 2026-03-09T02:30:00-04:00",
        ]
    );
}

#[test]
fn new_york_spring_hourly_follows_real_time() {
    assert_eq!(
        fires("0 0 * * * ?", NY, "2026-03-08T05:30:00Z", 3),
        [
            "2026-03-08T06:00:00Z 2026-03-08T01:00:00-05:00",
            "2026-03-08T07:00:00Z 2026-03-08T03:00:00-04:00",
            "2026-03-08T08:00:00Z 2026-03-08T04:00:00-04:00",
        ]
    );
}

#[test]
fn new_york_spring_half_hourly_skips_missing_times() {
    assert_eq!(
        fires("0 0/30 * * * ?", NY, "2026-03-08T06:00:00Z", 4),
        [
            "2026-03-08T06:30:00Z 2026-03-08T01:30:00-05:00",
            "2026-03-08T07:00:00Z 2026-03-08T03:00:00-04:00",
            "2026-03-08T07:30:00Z 2026-03-08T03:30:00-04:00",
            "2026-03-08T08:00:00Z 2026-03-08T04:00:00-04:00",
        ]
    );
}

#[test]
fn new_york_spring_weekly_sunday_2am() {
    assert_eq!(
        fires("0 0 2 ? * SUN", NY, "2026-03-01T00:00:00Z", 3),
        [
            "2026-03-01T07:00:00Z 2026-03-01T02:00:00-05:00",
            "2026-03-08T07:00:00Z 2026-03-08T03:00:00-04:00",
            "2026-03-15T06:00:00Z 2026-03-15T02:00:00-04:00",
        ]
    );
}

// ---- America/New_York, fall back 2026-11-01 06:00Z (02:00 EDT -> 01:00 EST)

#[test]
fn new_york_fall_fixed_time() {
    // 02:30 is not repeated in New York (01:00-02:00 is).
    assert_eq!(
        fires("0 30 2 * * ?", NY, "2026-10-31T00:00:00Z", 3),
        [
            "2026-10-31T06:30:00Z 2026-10-31T02:30:00-04:00",
            "2026-11-01T07:30:00Z 2026-11-01T02:30:00-05:00",
            "2026-11-02T07:30:00Z 2026-11-02T02:30:00-05:00",
        ]
    );
    // 01:30 is: first occurrence only.
    assert_eq!(
        fires("0 30 1 * * ?", NY, "2026-10-31T12:00:00Z", 2),
        [
            "2026-11-01T05:30:00Z 2026-11-01T01:30:00-04:00",
            "2026-11-02T06:30:00Z 2026-11-02T01:30:00-05:00",
        ]
    );
}

#[test]
fn new_york_fall_hourly_fires_every_real_hour() {
    assert_eq!(
        fires("0 0 * * * ?", NY, "2026-11-01T04:30:00Z", 4),
        [
            "2026-11-01T05:00:00Z 2026-11-01T01:00:00-04:00",
            "2026-11-01T06:00:00Z 2026-11-01T01:00:00-05:00",
            "2026-11-01T07:00:00Z 2026-11-01T02:00:00-05:00",
            "2026-11-01T08:00:00Z 2026-11-01T03:00:00-05:00",
        ]
    );
}

#[test]
fn new_york_fall_half_hourly_fires_repeated_times_twice() {
    assert_eq!(
        fires("0 0/30 * * * ?", NY, "2026-11-01T04:45:00Z", 5),
        [
            "2026-11-01T05:00:00Z 2026-11-01T01:00:00-04:00",
            "2026-11-01T05:30:00Z 2026-11-01T01:30:00-04:00",
            "2026-11-01T06:00:00Z 2026-11-01T01:00:00-05:00",
            "2026-11-01T06:30:00Z 2026-11-01T01:30:00-05:00",
            "2026-11-01T07:00:00Z 2026-11-01T02:00:00-05:00",
        ]
    );
}

#[test]
fn new_york_fall_weekly_sunday_2am() {
    assert_eq!(
        fires("0 0 2 ? * SUN", NY, "2026-10-24T00:00:00Z", 3),
        [
            "2026-10-25T06:00:00Z 2026-10-25T02:00:00-04:00",
            "2026-11-01T07:00:00Z 2026-11-01T02:00:00-05:00",
            "2026-11-08T07:00:00Z 2026-11-08T02:00:00-05:00",
        ]
    );
}

// ---- Special characters, names, years, Unix

#[test]
fn last_day_of_month() {
    assert_eq!(
        local("0 0 0 L * ?", "UTC", "2026-01-15T00:00:00Z", 3),
        [
            "2026-01-31T00:00:00+00:00",
            "2026-02-28T00:00:00+00:00",
            "2026-03-31T00:00:00+00:00",
        ]
    );
    assert_eq!(
        local("0 0 0 L 2 ?", "UTC", "2027-03-01T00:00:00Z", 1),
        ["2028-02-29T00:00:00+00:00"]
    );
}

#[test]
fn nearest_weekday() {
    // 2026-02-15 and 2026-03-15 are Sundays (-> Monday 16th); 2026-08-15 is
    // a Saturday (-> Friday 14th); 2026-04-15 and 2026-09-15 are weekdays.
    assert_eq!(
        local("0 0 12 15W * ?", "UTC", "2026-02-01T00:00:00Z", 3),
        [
            "2026-02-16T12:00:00+00:00",
            "2026-03-16T12:00:00+00:00",
            "2026-04-15T12:00:00+00:00",
        ]
    );
    assert_eq!(
        local("0 0 12 15W * ?", "UTC", "2026-07-20T00:00:00Z", 2),
        ["2026-08-14T12:00:00+00:00", "2026-09-15T12:00:00+00:00"]
    );
}

#[test]
fn nth_and_last_weekday_of_month() {
    // Quartz 6 = Friday.
    assert_eq!(
        local("0 0 10 ? * 6#3", "UTC", "2026-01-01T00:00:00Z", 3),
        [
            "2026-01-16T10:00:00+00:00",
            "2026-02-20T10:00:00+00:00",
            "2026-03-20T10:00:00+00:00",
        ]
    );
    assert_eq!(
        local("0 0 10 ? * FRI#3", "UTC", "2026-01-01T00:00:00Z", 1),
        ["2026-01-16T10:00:00+00:00"]
    );
    assert_eq!(
        local("0 0 10 ? * 6L", "UTC", "2026-01-01T00:00:00Z", 3),
        [
            "2026-01-30T10:00:00+00:00",
            "2026-02-27T10:00:00+00:00",
            "2026-03-27T10:00:00+00:00",
        ]
    );
}

#[test]
fn year_field() {
    assert_eq!(
        local("0 0 0 1 1 ? 2027", "UTC", "2026-06-01T00:00:00Z", 3),
        ["2027-01-01T00:00:00+00:00"]
    );
    assert_eq!(
        local("0 0 0 1 1 ? 2027-2029/2", "UTC", "2026-06-01T00:00:00Z", 5),
        ["2027-01-01T00:00:00+00:00", "2029-01-01T00:00:00+00:00"]
    );
    assert_eq!(
        local("0 0 0 1 1,7 ? 2026,2028", "UTC", "2026-06-01T00:00:00Z", 5),
        [
            "2026-07-01T00:00:00+00:00",
            "2028-01-01T00:00:00+00:00",
            "2028-07-01T00:00:00+00:00",
        ]
    );
    assert_eq!(
        local("0 0 0 1 1 ? *", "UTC", "2026-06-01T00:00:00Z", 1),
        ["2027-01-01T00:00:00+00:00"]
    );
    let msg = error("0 0 0 1 1 ? 2020", Some("UTC"));
    assert!(
        msg.contains("never fires") && msg.contains("before 2026"),
        "{msg}"
    );
    let msg = error("0 0 0 1 1 ? 2020-2030/x", Some("UTC"));
    assert!(msg.contains("field year"), "{msg}");
    let msg = error("0 0 0 1 1 ? 3000", Some("UTC"));
    assert!(
        msg.contains("field year") && msg.contains("1970-2099"),
        "{msg}"
    );
}

#[test]
fn names_and_quartz_weekday_numbers() {
    // 2026-07-01 is a Wednesday.
    assert_eq!(
        local("0 0 9 ? JAN,JUL MON-FRI", "UTC", "2026-06-30T12:00:00Z", 4),
        [
            "2026-07-01T09:00:00+00:00",
            "2026-07-02T09:00:00+00:00",
            "2026-07-03T09:00:00+00:00",
            "2026-07-06T09:00:00+00:00",
        ]
    );
    // Quartz: 1 = Sunday, 7 = Saturday. 2026-07-05 is a Sunday.
    assert_eq!(
        local("0 0 9 ? * 1", "UTC", "2026-07-01T00:00:00Z", 1),
        ["2026-07-05T09:00:00+00:00"]
    );
    assert_eq!(
        local("0 0 9 ? * 7", "UTC", "2026-07-01T00:00:00Z", 1),
        ["2026-07-04T09:00:00+00:00"]
    );
    assert_eq!(
        local("0 0 9 ? * 2-6", "UTC", "2026-07-03T00:00:00Z", 2),
        ["2026-07-03T09:00:00+00:00", "2026-07-06T09:00:00+00:00"]
    );
}

#[test]
fn unix_five_fields() {
    // 2026-11-20 is a Friday.
    assert_eq!(
        local("30 2 * * 1-5", "UTC", "2026-11-20T00:00:00Z", 3),
        [
            "2026-11-20T02:30:00+00:00",
            "2026-11-23T02:30:00+00:00",
            "2026-11-24T02:30:00+00:00",
        ]
    );
    // 0 and 7 are Sunday.
    for expr in ["0 9 * * 0", "0 9 * * 7", "0 9 * * SUN"] {
        assert_eq!(
            local(expr, "UTC", "2026-07-01T00:00:00Z", 1),
            ["2026-07-05T09:00:00+00:00"],
            "{expr}"
        );
    }
    // Unix DST: a fixed hour runs at the end of the gap.
    assert_eq!(
        fires("30 2 * * *", BERLIN, "2026-03-29T00:00:00Z", 1),
        ["2026-03-29T01:00:00Z 2026-03-29T03:00:00+02:00"]
    );
}

#[test]
fn next_after_is_strict_and_zone_is_reported() {
    let s = sched("0 0 12 * * ?", BERLIN);
    assert_eq!(s.zone(), BERLIN);
    let t = at("2026-06-01T10:00:00Z");
    assert_eq!(s.next_after(t), Some(at("2026-06-02T10:00:00Z")));
    assert_eq!(
        s.next_after(at("2026-06-01T09:59:59.5Z")),
        Some(at("2026-06-01T10:00:00Z"))
    );
    assert!(s.upcoming(t, 0).is_empty());
}

#[test]
fn rare_patterns_are_found() {
    // The fifth Monday of February: only in leap years starting on a Monday.
    assert_eq!(
        local("0 0 0 ? 2 2#5", "UTC", "2026-06-01T00:00:00Z", 1),
        ["2044-02-29T00:00:00+00:00"]
    );
    assert_eq!(
        local("0 0 0 29 2 ?", "UTC", "2026-06-01T00:00:00Z", 1),
        ["2028-02-29T00:00:00+00:00"]
    );
}

#[test]
fn from_job_schedule() {
    let crontab = crate::model::Schedule::Crontab {
        crontab: "0 30 2 ? * * *".into(),
    };
    let s = CronSchedule::from_schedule(&crontab, Some(BERLIN)).unwrap();
    assert_eq!(
        s.next_after(at("2026-03-28T12:00:00Z")),
        Some(at("2026-03-29T01:00:00Z"))
    );
    let structured: crate::model::Schedule =
        serde_yaml_ng::from_str("time: {hour: '9', minute: '15'}\nweekday: {day: MON-FRI}\n")
            .unwrap();
    assert_eq!(structured.to_quartz(), "0 15 9 ? * MON-FRI *");
    let s = CronSchedule::from_schedule(&structured, Some("UTC")).unwrap();
    assert_eq!(
        s.next_after(at("2026-11-21T00:00:00Z")),
        Some(at("2026-11-23T09:15:00Z"))
    );
}

#[test]
fn server_zone_when_none_given() {
    let s = CronSchedule::parse("0 0 12 * * ?", None).unwrap();
    assert!(!s.zone().is_empty());
    assert_eq!(s.zone(), server_zone().name());
}

// ---- Errors

#[test]
fn errors_name_what_is_wrong() {
    let cases: &[(&str, Option<&str>, &[&str])] = &[
        (
            "0 0 25 * * ?",
            Some("UTC"),
            &["field hour (`25`)", "out of bounds"],
        ),
        ("0 61 * * * ?", Some("UTC"), &["field minute (`61`)"]),
        ("0 0 0 ? 13 *", Some("UTC"), &["field month (`13`)"]),
        (
            "0 0 0 ? * 8",
            Some("UTC"),
            &["field day-of-week (`8`)", "1=SUN"],
        ),
        ("0 0 0 ? * 0", Some("UTC"), &["field day-of-week (`0`)"]),
        ("0 0 0 ? * FOO", Some("UTC"), &["field day-of-week (`FOO`)"]),
        ("0 0 0 32 * ?", Some("UTC"), &["field day-of-month (`32`)"]),
        ("0 0 12", Some("UTC"), &["expected 5 fields", "found 3"]),
        ("0 0 12 * * ? * *", Some("UTC"), &["found 8"]),
        (
            "0 ? 12 * * ?",
            Some("UTC"),
            &["field minute", "`?` is only allowed"],
        ),
        ("0 0 12 1 * MON", Some("UTC"), &["both set", "`?`"]),
        ("0 0 12 * * *", Some("UTC"), &["both set"]),
        ("0 0 12 ? * ?", Some("UTC"), &["both `?`"]),
        (
            "0 0 12 * * ?",
            Some("Mars/Olympus"),
            &["unknown time zone `Mars/Olympus`"],
        ),
        ("0 0 0 30 2 ?", Some("UTC"), &["never fires", "40 years"]),
        ("0 0 0 31 4,6,9,11 ?", Some("UTC"), &["never fires"]),
        (
            "0 0 0 1 1 ? 2020,2021",
            Some("UTC"),
            &["never fires", "before 2026"],
        ),
    ];
    for (expr, tz, wants) in cases {
        let msg = error(expr, *tz);
        assert!(msg.starts_with(&format!("schedule `{expr}`: ")), "{msg}");
        for w in *wants {
            assert!(msg.contains(w), "{expr}: {msg:?} lacks {w:?}");
        }
        let e = CronSchedule::parse_at(expr, *tz, now()).unwrap_err();
        assert_eq!(crate::ErrorCode::code(&e), "schedule.invalid");
    }
}

// ---- What croner does on its own (why this module walks local time itself)

#[test]
fn croner_alone_differs_from_the_rule() {
    let cron = |e: &str| {
        Cron::new(e)
            .with_seconds_required()
            .with_alternative_weekdays()
            .parse()
            .unwrap()
    };
    let berlin: Tz = BERLIN.parse().unwrap();
    let run = |c: &Cron, from: &str, n: usize| -> Vec<String> {
        c.iter_after(at(from).with_timezone(&berlin))
            .take(n)
            .map(|t| t.to_rfc3339())
            .collect()
    };
    // Spring forward: a skipped 02:15 of a real-time pattern is moved to
    // 03:00, a time that pattern does not match.
    assert_eq!(
        run(&cron("0 15 * * * ?"), "2026-03-29T00:30:00Z", 2),
        ["2026-03-29T03:00:00+02:00", "2026-03-29T03:15:00+02:00"]
    );
    // From inside the repeated hour's second pass (02:15 CET), it answers
    // 02:30 CEST, an instant before the start.
    assert_eq!(
        run(&cron("0 30 2 * * ?"), "2026-10-25T01:15:00Z", 1),
        ["2026-10-25T02:30:00+02:00"]
    );
    assert_eq!(
        run(&cron("0 0/30 * * * ?"), "2026-10-25T01:15:00Z", 1),
        ["2026-10-25T02:30:00+02:00"]
    );
    // Fall back: the repeated 02:00 and 02:30 CET are never reported.
    assert_eq!(
        run(&cron("0 0/30 * * * ?"), "2026-10-24T23:45:00Z", 3),
        [
            "2026-10-25T02:00:00+02:00",
            "2026-10-25T02:30:00+02:00",
            "2026-10-25T03:00:00+01:00",
        ]
    );
}

#[test]
fn half_hour_dst_shift() {
    // Lord Howe Island moves from +10:30 to +11:00 at 02:00 local.
    assert_eq!(
        fires(
            "0 15 2 * * ?",
            "Australia/Lord_Howe",
            "2026-10-03T00:00:00Z",
            2
        ),
        [
            "2026-10-03T15:30:00Z 2026-10-04T02:30:00+11:00",
            "2026-10-04T15:15:00Z 2026-10-05T02:15:00+11:00",
        ]
    );
}

#[test]
fn unix_day_fields_match_either() {
    // The 1st of the month or any Monday (POSIX); 2026-06-01 is a Monday.
    assert_eq!(
        local("0 9 1 * MON", "UTC", "2026-06-01T12:00:00Z", 3),
        [
            "2026-06-08T09:00:00+00:00",
            "2026-06-15T09:00:00+00:00",
            "2026-06-22T09:00:00+00:00",
        ]
    );
    assert_eq!(
        local("0 9 1 * MON", "UTC", "2026-06-29T12:00:00Z", 1),
        ["2026-07-01T09:00:00+00:00"]
    );
}

#[test]
fn extreme_instants_do_not_panic() {
    let s = sched("* * * * * ?", BERLIN);
    assert_eq!(s.next_after(DateTime::<Utc>::MAX_UTC), None);
    assert!(s.next_after(DateTime::<Utc>::MIN_UTC).is_some());
    let s = sched("0 0 0 1 1 ? 2099", "UTC");
    assert_eq!(
        s.upcoming(at("2098-06-01T00:00:00Z"), 3),
        [at("2099-01-01T00:00:00Z")]
    );
}
