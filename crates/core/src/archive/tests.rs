#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::model::{ExecutionStatus, LogLevel, Stream};
use std::io::Write;

fn job(name: &str, uuid: &str) -> Job {
    let yaml = format!(
        "- name: {name}\n  uuid: {uuid}\n  sequence:\n    commands:\n      - exec: echo {name}\n"
    );
    crate::format::parse_jobs_yaml(&yaml, "t")
        .unwrap()
        .remove(0)
}

fn sample() -> ProjectArchive {
    let mut a = ProjectArchive {
        project: "demo".into(),
        jobs: vec![
            job("one", "11111111-1111-4111-8111-111111111111"),
            job("two", "22222222-2222-4222-8222-222222222222"),
        ],
        config: Some(BTreeMap::from([
            ("project.name".to_owned(), "demo".to_owned()),
            ("project.description".to_owned(), "a = b: c".to_owned()),
        ])),
        readme: Some("# Demo\n".into()),
        motd: Some("be careful ^_^\n".into()),
        acls: vec![("dev.aclpolicy".into(), "description: dev\n".into())],
        ..ProjectArchive::default()
    };
    for id in [3u64, 5] {
        let mut e = Execution::new("demo", "one", "alice");
        e.id = id;
        e.job_id = Some("11111111-1111-4111-8111-111111111111".into());
        e.status = ExecutionStatus::Succeeded;
        e.date_ended = Some(e.date_started);
        if id == 5 {
            e.retry_of = Some(3);
            e.retry_attempt = 1;
        }
        let log = vec![LogEvent {
            time: e.date_started,
            level: LogLevel::Info,
            stream: Stream::Stdout,
            node: Some("localhost".into()),
            stepctx: Some("1".into()),
            text: format!("run {id}"),
            raw: None,
        }];
        a.push_execution(e, log);
    }
    a
}

#[test]
fn an_archive_reads_back_as_written() {
    let a = sample();
    let zip = a.to_zip(chrono::Utc::now()).unwrap();
    let entries = zipfile::read_entries(&zip, &Limits::default()).unwrap();
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    for want in [
        "META-INF/MANIFEST.MF",
        "rundeck-demo/jobs/job-11111111-1111-4111-8111-111111111111.xml",
        "rundeck-demo/executions/execution-3.xml",
        "rundeck-demo/executions/output-3.rdlog",
        "rundeck-demo/files/etc/project.properties",
        "rundeck-demo/files/readme.md",
        "rundeck-demo/files/motd.md",
        "rundeck-demo/files/acls/dev.aclpolicy",
    ] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    let back = ProjectArchive::from_zip(&zip, &Limits::default(), Parts::ALL).unwrap();
    assert_eq!(back.ignored, vec!["META-INF/MANIFEST.MF".to_owned()]);
    assert_eq!(
        ProjectArchive {
            ignored: Vec::new(),
            ..back
        },
        a
    );
}

#[test]
fn parts_not_asked_for_are_not_read() {
    let zip = sample().to_zip(chrono::Utc::now()).unwrap();
    let none = Parts {
        jobs: false,
        executions: false,
        config: false,
        acls: false,
        readmes: false,
    };
    let back = ProjectArchive::from_zip(&zip, &Limits::default(), none).unwrap();
    assert!(back.jobs.is_empty() && back.executions.is_empty() && back.acls.is_empty());
    assert!(back.config.is_none() && back.readme.is_none() && back.motd.is_none());
}

/// A zip of these (name, bytes), written as given (no name checks).
fn raw_zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn refusal(zip: &[u8], limits: &Limits) -> String {
    ProjectArchive::from_zip(zip, limits, Parts::ALL)
        .expect_err("refused")
        .to_string()
}

#[test]
fn zip_slip_names_are_refused_naming_the_entry() {
    for name in [
        "rundeck-p/../../etc/cron.d/x",
        "../x",
        "/etc/passwd",
        "rundeck-p/files/acls/..\\..\\x.aclpolicy",
        "C:/x",
    ] {
        let zip = raw_zip(&[("rundeck-p/files/readme.md", b"ok"), (name, b"x")]);
        let err = refusal(&zip, &Limits::default());
        assert!(err.contains(&format!("{name:?}")), "{name}: {err}");
        assert!(err.contains("refused"), "{err}");
    }
}

#[test]
fn zip_bombs_are_stopped_while_inflating() {
    let limits = Limits {
        max_entries: 10,
        max_entry_bytes: 4 << 20,
        max_total_bytes: 5 << 20,
        max_ratio: 50,
        ratio_grace_bytes: 64 << 10,
    };
    let zeros = vec![0u8; 3 << 20];
    // grows ~1000 times: stopped by the ratio once past the grace
    let err = refusal(&raw_zip(&[("rundeck-p/files/readme.md", &zeros)]), &limits);
    assert!(
        err.contains("rundeck-p/files/readme.md") && err.contains("times"),
        "{err}"
    );
    // within the ratio, past the size of one entry / of all entries
    let noise: Vec<u8> = (0..(5u32 << 20))
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let no_ratio = Limits {
        max_ratio: u64::MAX,
        ..limits
    };
    let err = refusal(
        &raw_zip(&[("rundeck-p/files/readme.md", &noise)]),
        &no_ratio,
    );
    assert!(err.contains("limit of 4194304 bytes"), "{err}");
    let third = &noise[..(3 << 20)];
    let err = refusal(
        &raw_zip(&[
            ("rundeck-p/files/readme.md", third),
            ("rundeck-p/files/motd.md", third),
        ]),
        &no_ratio,
    );
    assert!(
        err.contains("rundeck-p/files/motd.md") && err.contains("the archive unpacks"),
        "{err}"
    );
    // too many entries
    let many: Vec<(String, &[u8])> = (0..11)
        .map(|i| (format!("rundeck-p/x{i}"), &b"x"[..]))
        .collect();
    let many: Vec<(&str, &[u8])> = many.iter().map(|(n, b)| (n.as_str(), *b)).collect();
    assert!(refusal(&raw_zip(&many), &limits).contains("11 entries"));
}

#[test]
fn sizes_in_the_headers_are_not_trusted() {
    let limits = Limits {
        max_entry_bytes: 1 << 20,
        max_ratio: u64::MAX,
        ..Limits::default()
    };
    let noise: Vec<u8> = (0..(2u32 << 20))
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let mut zip = raw_zip(&[("rundeck-p/files/readme.md", &noise)]);
    // claim 16 bytes uncompressed in the local and the central header
    let claim = 16u32.to_le_bytes();
    for sig in [&b"PK\x03\x04"[..], &b"PK\x01\x02"[..]] {
        let at = zip.windows(4).position(|w| w == sig).unwrap();
        let field = if sig[2] == 3 { at + 22 } else { at + 24 };
        zip[field..field + 4].copy_from_slice(&claim);
    }
    assert!(ProjectArchive::from_zip(&zip, &limits, Parts::ALL).is_err());
}

#[test]
fn a_bad_part_refuses_the_archive_naming_it() {
    let good = sample().to_zip(chrono::Utc::now()).unwrap();
    let mut files: Vec<(String, Vec<u8>)> = zipfile::read_entries(&good, &Limits::default())
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.bytes))
        .collect();
    for (entry, bad, says) in [
        (
            "rundeck-demo/executions/output-5.rdlog",
            &b"^text/x-rundeck-log-v2.0^\n^nope"[..],
            "no closing ^",
        ),
        (
            "rundeck-demo/executions/execution-3.xml",
            &b"<executions><execution"[..],
            "at byte",
        ),
        (
            "rundeck-demo/files/etc/project.properties",
            &b"k=\\uZZZZ"[..],
            "line 1",
        ),
        (
            "rundeck-demo/files/readme.md",
            &b"\xff\xfe"[..],
            "not UTF-8",
        ),
        (
            "rundeck-demo/jobs/job-11111111-1111-4111-8111-111111111111.xml",
            &b"- name: [\n"[..],
            "",
        ),
    ] {
        let mut changed = files.clone();
        for (n, b) in changed.iter_mut() {
            if n == entry {
                *b = bad.to_vec();
            }
        }
        let zip = zipfile::write_entries(changed.iter().map(|(n, b)| (n.as_str(), b.as_slice())))
            .unwrap();
        let err = refusal(&zip, &Limits::default());
        assert!(err.contains(entry) && err.contains(says), "{entry}: {err}");
    }
    // a second project folder
    files.push(("rundeck-other/files/readme.md".into(), b"x".to_vec()));
    let zip =
        zipfile::write_entries(files.iter().map(|(n, b)| (n.as_str(), b.as_slice()))).unwrap();
    assert!(refusal(&zip, &Limits::default()).contains("more than one project folder"));
    assert!(refusal(b"not a zip", &Limits::default()).contains("not a readable zip"));
}
