//! `foredeck schedule next` end to end: the built binary.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

fn foredeck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_foredeck"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn spring_forward_in_berlin() {
    let out = foredeck(&[
        "schedule",
        "next",
        "--cron",
        "0 30 2 * * ?",
        "--tz",
        "Europe/Berlin",
        "--from",
        "2026-03-27T12:00:00Z",
        "--count",
        "3",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "2026-03-28T02:30:00+01:00\n2026-03-29T03:00:00+02:00\n2026-03-30T02:30:00+02:00\n"
    );
}

#[test]
fn fall_back_in_new_york_half_hourly_and_default_count() {
    let out = foredeck(&[
        "schedule",
        "next",
        "--cron",
        "0 0/30 * * * ?",
        "--tz",
        "America/New_York",
        "--from",
        "2026-11-01T00:45:00-04:00",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "2026-11-01T01:00:00-04:00\n2026-11-01T01:30:00-04:00\n\
         2026-11-01T01:00:00-05:00\n2026-11-01T01:30:00-05:00\n2026-11-01T02:00:00-05:00\n"
    );
}

#[test]
fn unix_pattern_and_utc_zone() {
    let out = foredeck(&[
        "schedule",
        "next",
        "--cron",
        "30 2 * * 1-5",
        "--tz",
        "UTC",
        "--from",
        "2026-11-20T00:00:00Z",
        "--count",
        "2",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "2026-11-20T02:30:00+00:00\n2026-11-23T02:30:00+00:00\n"
    );
}

#[test]
fn bad_input_exits_2_with_a_message() {
    let from = "2026-06-01T00:00:00Z";
    let cases: &[(&[&str], &str)] = &[
        (&["--cron", "0 0 25 * * ?"], "field hour (`25`)"),
        (
            &["--cron", "0 0 12 * * ?", "--tz", "Mars/Olympus"],
            "unknown time zone `Mars/Olympus`",
        ),
        (&["--cron", "0 0 0 30 2 ?"], "never fires"),
        (&["--cron", "0 0 0 1 1 ? 2020"], "never fires"),
        (
            &["--cron", "0 0 12 1 * MON"],
            "Quartz requires one of them to be `?`",
        ),
    ];
    for (args, want) in cases {
        let mut all = vec!["schedule", "next", "--from", from];
        all.extend_from_slice(args);
        if !args.contains(&"--tz") {
            all.extend_from_slice(&["--tz", "UTC"]);
        }
        let out = foredeck(&all);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
    let out = foredeck(&[
        "schedule",
        "next",
        "--cron",
        "0 0 12 * * ?",
        "--from",
        "yesterday",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("RFC 3339"),
        "{}",
        text(&out.stderr)
    );
}
