//! Project archives: `project/{p}/export` (sync and async) and
//! `project/{p}/import`: a round trip into a fresh project, unsafe
//! archives refused with nothing stored, all-or-nothing on a refused part,
//! and who may do what.

use super::*;
use foredeck_core::archive::{Limits, Parts, ProjectArchive};
use foredeck_core::store::{AclPolicy, JobQuery};
use foredeck_core::Job;
use std::collections::HashMap;

const POLICY: &str = "description: devs run\nfor:\n  job:\n    - allow: [run]\nby:\n  group: dev\n";

/// Project `p` with jobs, two finished runs, configuration, readme, motd
/// and an ACL policy.
async fn full() -> (ApiState, Vec<Execution>) {
    let s = loaded().await;
    let mut p = s.store.get_project("p").await.unwrap().unwrap();
    p.config
        .insert("project.label".into(), "Demo = \"p\"".into());
    p.readme = Some("# Readme\n".into());
    p.motd = Some("motd ^_^\n".into());
    s.store.update_project(&p).await.unwrap();
    s.store
        .put_acl_policy(&AclPolicy {
            project: Some("p".into()),
            name: "devs.aclpolicy".into(),
            content: POLICY.into(),
            modified: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let runs = vec![run_job(&s, PLAIN).await, run_job(&s, PLAIN).await];
    (s, runs)
}

async fn export(s: &ApiState, uri: &str, token: &str) -> Vec<u8> {
    let (status, headers, body) = send_raw(s, Method::GET, uri, token, None, None, b"").await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers["content-type"], "application/zip");
    body.to_vec()
}

async fn import(s: &ApiState, uri: &str, token: &str, zip: &[u8]) -> (StatusCode, String) {
    send(s, Method::PUT, uri, token, Some("application/zip"), zip).await
}

async fn jobs_of(s: &ApiState, project: &str) -> Vec<Job> {
    let mut jobs = s
        .store
        .list_jobs(project, &JobQuery::default())
        .await
        .unwrap();
    jobs.sort_by_key(|j| j.full_name());
    jobs
}

async fn executions_of(s: &ApiState, project: &str) -> Vec<Execution> {
    let q = foredeck_core::ExecutionQuery {
        project: Some(project.into()),
        max: 1000,
        ..Default::default()
    };
    let mut e = s.store.query_executions(&q).await.unwrap().items;
    e.sort_by_key(|e| e.id);
    e
}

async fn log_of(s: &ApiState, id: u64) -> Vec<foredeck_core::LogEvent> {
    s.store.read_log(id, 0, 100_000).await.unwrap().events
}

/// What must come back: everything but ids, the project, and the job links.
fn same_run(a: &Execution, b: &Execution) {
    let strip = |e: &Execution| {
        let mut e = e.clone();
        (e.id, e.job_id, e.server_uuid, e.retry_of) = (0, None, None, None);
        e.project = String::new();
        e
    };
    assert_eq!(strip(a), strip(b));
}

#[tokio::test]
async fn an_export_imports_into_a_fresh_project_whole() {
    let (s, runs) = full().await;
    let zip = export(&s, "/api/59/project/p/export", ADMIN).await;
    s.store.create_project(&Project::new("q")).await.unwrap();
    let (status, body) = import(
        &s,
        "/api/59/project/q/import?jobUuidOption=remove&importConfig=true&importACL=true",
        ADMIN,
        &zip,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = json(&body);
    assert_eq!(v["import_status"], "successful", "{body}");
    assert_eq!(v["imported"]["executions"], 2, "{body}");

    // jobs: the same definitions under new uuids
    let (before, after) = (jobs_of(&s, "p").await, jobs_of(&s, "q").await);
    assert_eq!(after.len(), before.len());
    let mut new_ids = HashMap::new();
    for (a, b) in before.iter().zip(&after) {
        assert_ne!(a.uuid, b.uuid);
        new_ids.insert(a.uuid.clone().unwrap(), b.uuid.clone().unwrap());
        let plain = |j: &Job| {
            let mut j = j.clone();
            (j.uuid, j.project) = (None, None);
            j
        };
        assert_eq!(plain(a), plain(b), "{}", a.full_name());
    }
    // executions and their logs, linked to the new jobs
    let copies = executions_of(&s, "q").await;
    assert_eq!(copies.len(), 2);
    for (run, copy) in runs.iter().zip(&copies) {
        same_run(run, copy);
        assert_eq!(copy.job_id.as_ref(), Some(&new_ids[PLAIN]));
        let (a, b) = (log_of(&s, run.id).await, log_of(&s, copy.id).await);
        assert!(!a.is_empty());
        assert_eq!(a, b);
    }
    let (status, body) = get(
        &s,
        &format!("/api/59/execution/{}/output", copies[0].id),
        ADMIN,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("line-two"), "{body}");
    // configuration, readme, motd, ACL policy
    let (p, q) = (
        s.store.get_project("p").await.unwrap().unwrap(),
        s.store.get_project("q").await.unwrap().unwrap(),
    );
    assert_eq!(q.config["project.label"], p.config["project.label"]);
    assert_eq!(q.config["project.name"], "q");
    assert_eq!((q.readme, q.motd), (p.readme, p.motd));
    let acl = s
        .store
        .get_acl_policy(Some("q"), "devs.aclpolicy")
        .await
        .unwrap();
    assert_eq!(acl.unwrap().content, POLICY);
}

#[tokio::test]
async fn uuids_are_kept_on_another_server() {
    let (s, runs) = full().await;
    let zip = export(&s, "/api/59/project/p/export", ADMIN).await;
    let other = state().await;
    let (status, body) = import(&other, "/api/59/project/p/import", ADMIN, &zip).await;
    assert_eq!(
        json(&body)["import_status"],
        "successful",
        "{status} {body}"
    );
    let ids = |jobs: Vec<Job>| jobs.into_iter().map(|j| j.uuid).collect::<Vec<_>>();
    assert_eq!(ids(jobs_of(&other, "p").await), ids(jobs_of(&s, "p").await));
    let copies = executions_of(&other, "p").await;
    assert_eq!(copies[1].job_id.as_deref(), Some(PLAIN));
    same_run(&runs[1], &copies[1]);
    // without importConfig and importACL, neither comes over
    let p = other.store.get_project("p").await.unwrap().unwrap();
    assert!(!p.config.contains_key("project.label"));
    assert_eq!(p.readme.as_deref(), Some("# Readme\n"));
    assert!(other
        .store
        .list_acl_policies(Some("p"))
        .await
        .unwrap()
        .is_empty());
    // importing again replaces the jobs, adds the runs again
    let (_, body) = import(
        &other,
        "/api/59/project/p/import?importExecutions=false",
        ADMIN,
        &zip,
    )
    .await;
    assert_eq!(json(&body)["import_status"], "successful", "{body}");
    assert_eq!(executions_of(&other, "p").await.len(), 2);
}

#[tokio::test]
async fn export_parameters_pick_the_parts() {
    let (s, runs) = full().await;
    let read = |zip: &[u8]| ProjectArchive::from_zip(zip, &Limits::default(), Parts::ALL).unwrap();
    let a = read(
        &export(
            &s,
            "/api/59/project/p/export?exportAll=false&exportJobs=true",
            ADMIN,
        )
        .await,
    );
    assert_eq!(a.jobs.len(), 4);
    assert!(
        a.executions.is_empty() && a.acls.is_empty() && a.config.is_none() && a.readme.is_none()
    );
    let uri = format!("/api/59/project/p/export?executionIds={}", runs[1].id);
    let a = read(&export(&s, &uri, ADMIN).await);
    assert!(a.jobs.is_empty() && a.config.is_none());
    assert_eq!(a.executions.len(), 1);
    assert_eq!(a.executions[0].archived.old_id, runs[1].id);
    // as a form body
    let (status, _, body) = send_raw(
        &s,
        Method::POST,
        "/api/59/project/p/export",
        ADMIN,
        Some("application/x-www-form-urlencoded"),
        None,
        format!("executionIds={}&executionIds={}", runs[0].id, runs[1].id).as_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read(&body).executions.len(), 2);
    // the importer may export, but not read ACL policies: they are left out
    let a = read(&export(&s, "/api/59/project/p/export", IMPORTER).await);
    assert!(a.acls.is_empty());
    assert_eq!(a.jobs.len(), 4);
    for (uri, token, want, code) in [
        (
            "/api/59/project/p/export",
            VIEWER,
            StatusCode::FORBIDDEN,
            "api.error.item.unauthorized",
        ),
        (
            "/api/59/project/p/export",
            NOBODY,
            StatusCode::FORBIDDEN,
            "api.error.item.unauthorized",
        ),
        (
            "/api/59/project/nope/export",
            ADMIN,
            StatusCode::NOT_FOUND,
            "api.error.item.doesnotexist",
        ),
        (
            "/api/59/project/p/export?exportAll=maybe",
            ADMIN,
            StatusCode::BAD_REQUEST,
            "api.error.invalid.request",
        ),
        (
            "/api/59/project/p/export?executionIds=1,x",
            ADMIN,
            StatusCode::BAD_REQUEST,
            "api.error.invalid.request",
        ),
    ] {
        let (status, body) = get(&s, uri, token).await;
        assert_error(status, &body, want, code);
    }
}

#[tokio::test]
async fn an_async_export_is_downloaded_once_by_its_caller() {
    let (s, _) = full().await;
    let (status, body) = get(
        &s,
        "/api/59/project/p/export/async?exportExecutions=false&exportAll=false&exportJobs=true",
        IMPORTER,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = json(&body)["token"].as_str().unwrap().to_owned();
    let status_uri = format!("/api/59/project/p/export/status/{token}");
    let mut ready = false;
    for _ in 0..500 {
        let (status, body) = get(&s, &status_uri, IMPORTER).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if json(&body)["ready"] == true {
            assert_eq!(json(&body)["percentage"], 100);
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(ready);
    let download = format!("/api/59/project/p/export/download/{token}");
    // not the admin's token, nor another project's
    let (status, body) = get(&s, &download, ADMIN).await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "api.error.item.doesnotexist",
    );
    let zip = export(&s, &download, IMPORTER).await;
    let a = ProjectArchive::from_zip(&zip, &Limits::default(), Parts::ALL).unwrap();
    assert_eq!(a.jobs.len(), 4);
    let (status, body) = get(&s, &download, IMPORTER).await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "api.error.item.doesnotexist",
    );
    let (status, body) = get(&s, "/api/59/project/p/export/async", NOBODY).await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "api.error.item.unauthorized",
    );
}

/// A zip of (name, bytes) written as given.
fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    foredeck_core::archive::zipfile::write_entries(files.iter().copied()).unwrap()
}

async fn nothing_in(s: &ApiState, project: &str) {
    assert!(jobs_of(s, project).await.is_empty());
    assert!(executions_of(s, project).await.is_empty());
    assert!(s
        .store
        .list_acl_policies(Some(project))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn unsafe_or_broken_archives_are_refused_naming_the_entry() {
    let (s, _) = full().await;
    let good = export(&s, "/api/59/project/p/export", ADMIN).await;
    let mut files: Vec<(String, Vec<u8>)> =
        foredeck_core::archive::zipfile::read_entries(&good, &Limits::default())
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.bytes))
            .collect();
    s.store.create_project(&Project::new("q")).await.unwrap();
    let bomb = vec![b'a'; 8 << 20];
    for (extra, bytes, says) in [
        ("rundeck-p/../../../tmp/evil", &b"x"[..], "climbs out"),
        ("/etc/cron.d/evil", &b"x"[..], "absolute"),
        (
            "rundeck-p/files/readme.md.bomb",
            &bomb[..],
            "times its stored size",
        ),
    ] {
        let mut with: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        with.push((extra, bytes));
        let (status, body) = import(
            &s,
            "/api/59/project/q/import?jobUuidOption=remove",
            ADMIN,
            &zip_of(&with),
        )
        .await;
        assert_error(
            status,
            &body,
            StatusCode::BAD_REQUEST,
            "api.error.invalid.request",
        );
        let msg = json(&body)["message"].as_str().unwrap().to_owned();
        assert!(
            msg.contains(says) && msg.contains(extra.trim_start_matches('/')),
            "{msg}"
        );
        nothing_in(&s, "q").await;
    }
    // a broken log refuses everything, naming it
    for (n, b) in files.iter_mut() {
        if n.ends_with(".rdlog") {
            *b = b"^text/x-rundeck-log-v2.0^\n^2026-01-01T00:00:00Z||NORMAL|{|x".to_vec();
            break;
        }
    }
    let zip = zip_of(
        &files
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect::<Vec<_>>(),
    );
    let (status, body) = import(
        &s,
        "/api/59/project/q/import?jobUuidOption=remove",
        ADMIN,
        &zip,
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "api.error.invalid.request",
    );
    assert!(body.contains(".rdlog"), "{body}");
    nothing_in(&s, "q").await;
    for (uri, body, code) in [
        (
            "/api/59/project/q/import",
            &b"not a zip"[..],
            "api.error.invalid.request",
        ),
        (
            "/api/59/project/q/import",
            &b""[..],
            "api.error.invalid.request",
        ),
        (
            "/api/59/project/q/import?asyncImport=true",
            &good[..],
            "api.error.invalid.request",
        ),
        (
            "/api/59/project/q/import?jobUuidOption=keep",
            &good[..],
            "api.error.invalid.request",
        ),
    ] {
        let (status, answer) = import(&s, uri, ADMIN, body).await;
        assert_error(status, &answer, StatusCode::BAD_REQUEST, code);
    }
    nothing_in(&s, "q").await;
}

#[tokio::test]
async fn a_refused_part_undoes_the_whole_import() {
    let (s, _) = full().await;
    let zip = export(&s, "/api/59/project/p/export", ADMIN).await;
    let mut a = ProjectArchive::from_zip(&zip, &Limits::default(), Parts::ALL).unwrap();
    // an invalid policy: refused before anything is written
    a.acls
        .push(("bad.aclpolicy".into(), "for: nothing\n".into()));
    s.store.create_project(&Project::new("q")).await.unwrap();
    let bad_acl = a.to_zip(chrono::Utc::now()).unwrap();
    let (status, body) = import(
        &s,
        "/api/59/project/q/import?jobUuidOption=remove&importACL=true",
        ADMIN,
        &bad_acl,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let v = json(&body);
    assert_eq!(v["import_status"], "failed", "{body}");
    assert!(
        v["acl_errors"][0]
            .as_str()
            .unwrap()
            .starts_with("bad.aclpolicy"),
        "{body}"
    );
    nothing_in(&s, "q").await;

    // the importer may change the public jobs, not the secret one: the
    // public jobs it replaced come back as they were
    a.acls.clear();
    for j in a.jobs.iter_mut() {
        j.description = "changed by the archive".into();
    }
    a.jobs.sort_by_key(|j| j.group.as_deref() == Some("secret"));
    let zip = a.to_zip(chrono::Utc::now()).unwrap();
    let before = jobs_of(&s, "p").await;
    let runs = executions_of(&s, "p").await.len();
    let (status, body) = import(&s, "/api/59/project/p/import", IMPORTER, &zip).await;
    assert_eq!(status, StatusCode::OK);
    let v = json(&body);
    assert_eq!(v["import_status"], "failed", "{body}");
    assert!(
        v["errors"][0]
            .as_str()
            .unwrap()
            .contains("secret/classified"),
        "{body}"
    );
    assert_eq!(jobs_of(&s, "p").await, before);
    assert_eq!(executions_of(&s, "p").await.len(), runs);

    // a fresh project: the jobs it created are deleted again, though it
    // may not delete jobs
    let (_, body) = import(
        &s,
        "/api/59/project/q/import?jobUuidOption=remove",
        IMPORTER,
        &zip,
    )
    .await;
    assert_eq!(json(&body)["import_status"], "failed", "{body}");
    nothing_in(&s, "q").await;
}

#[tokio::test]
async fn import_needs_its_rights() {
    let (s, _) = full().await;
    let zip = export(&s, "/api/59/project/p/export", ADMIN).await;
    for (uri, token, code) in [
        (
            "/api/59/project/p/import",
            VIEWER,
            "api.error.item.unauthorized",
        ),
        (
            "/api/59/project/p/import",
            NOBODY,
            "api.error.item.unauthorized",
        ),
        // the importer may import, not configure nor write ACL policies
        (
            "/api/59/project/p/import?importConfig=true",
            IMPORTER,
            "api.error.item.unauthorized",
        ),
        (
            "/api/59/project/p/import?importNodesSources=true",
            IMPORTER,
            "api.error.item.unauthorized",
        ),
        (
            "/api/59/project/p/import?importACL=true",
            IMPORTER,
            "api.error.item.unauthorized",
        ),
    ] {
        let (status, body) = import(&s, uri, token, &zip).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, code);
    }
    let (status, body) = import(&s, "/api/59/project/nope/import", ADMIN, &zip).await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "api.error.item.doesnotexist",
    );
}
