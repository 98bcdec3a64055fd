//! Job and execution routes: success, denied, bad input, for every route.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::auth::{hash_token, TOKEN_HEADER};
use crate::tests::answer;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use foredeck_core::authorizer::{AuthContext, Decision, Resource, Subject};
use foredeck_core::store::{ApiToken, AuditQuery};
use foredeck_core::{Execution, MemoryStore, Project};
use serde_json::Value;

const ADMIN: &str = "admin-secret-token";
/// May read project `p` and read/run/kill jobs in group `public` only.
const DEV: &str = "dev-secret-token";
/// Has no grant at all.
const NOBODY: &str = "user-without-grants";

/// Admins may do anything; `dev` may read projects, read, view, run and
/// kill jobs of group `public`, and run on node `localhost`; nobody else may
/// do anything.
#[derive(Debug)]
struct TestAuthorizer;

impl Authorizer for TestAuthorizer {
    fn decide(&self, s: &Subject, action: &str, r: &Resource, _: &AuthContext) -> Decision {
        if s.groups.contains("admin") {
            return Decision::Allow;
        }
        if !s.groups.contains("dev") {
            return Decision::Reject;
        }
        match r.kind.as_str() {
            "project" if action == "read" => Decision::Allow,
            // job runs are checked on their nodes: dev runs on this host
            "node"
                if action == "run"
                    && r.attributes.get("nodename").map(String::as_str) == Some("localhost") =>
            {
                Decision::Allow
            }
            "job"
                if r.attributes.get("group").map(String::as_str) == Some("public")
                    && ["read", "view", "run", "kill"].contains(&action) =>
            {
                Decision::Allow
            }
            _ => Decision::Reject,
        }
    }

    fn allows_every(&self, s: &Subject, _: &str, _: &str, _: &AuthContext) -> bool {
        s.groups.contains("admin")
    }
}

const JOBS: &str = r#"
- name: hello
  group: public
  uuid: 11111111-1111-1111-1111-111111111111
  description: says hello
  options:
    - name: who
      value: world
  sequence:
    commands:
      - exec: echo "hello ${option.who}"; echo second line; echo oops >&2
- name: classified
  group: secret
  uuid: 22222222-2222-2222-2222-222222222222
  description: the secret plan
  sequence:
    commands:
      - exec: echo top-secret-output
"#;
const HELLO: &str = "11111111-1111-1111-1111-111111111111";
const SECRET: &str = "22222222-2222-2222-2222-222222222222";

async fn state() -> ApiState {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let now = chrono::Utc::now();
    for (id, secret, roles) in [
        ("t1", ADMIN, vec!["admin".to_owned()]),
        ("t2", DEV, vec!["dev".to_owned()]),
        ("t3", NOBODY, vec![]),
    ] {
        store
            .create_token(&ApiToken {
                id: id.into(),
                token_hash: hash_token(secret),
                user: format!("user-{id}"),
                roles,
                name: None,
                creator: "test".into(),
                created: now,
                expiration: None,
            })
            .await
            .unwrap();
    }
    store.create_project(&Project::new("p")).await.unwrap();
    ApiState::new(store, Arc::new(TestAuthorizer))
}

async fn send(
    s: &ApiState,
    method: Method,
    uri: &str,
    token: &str,
    content_type: Option<&str>,
    body: &str,
) -> (StatusCode, String) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(TOKEN_HEADER, token);
    if let Some(c) = content_type {
        req = req.header("content-type", c);
    }
    let req = req.body(Body::from(body.to_owned())).unwrap();
    let (status, _, bytes) = answer(s, req).await;
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn get(s: &ApiState, uri: &str, token: &str) -> (StatusCode, String) {
    send(s, Method::GET, uri, token, None, "").await
}

async fn post_json(s: &ApiState, uri: &str, token: &str, body: &str) -> (StatusCode, String) {
    send(s, Method::POST, uri, token, Some("application/json"), body).await
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn assert_error(status: StatusCode, body: &str, want: StatusCode, code: &str) {
    assert_eq!(status, want, "{body}");
    let v = json(body);
    assert_eq!(v["error"], true, "{body}");
    assert_eq!(v["errorCode"], code, "{body}");
}

/// The body leaks nothing of the secret job.
fn no_leak(body: &str) {
    for secret in ["classified", "secret plan", "top-secret-output", "/secret"] {
        assert!(!body.contains(secret), "leaked {secret:?}: {body}");
    }
}

async fn import(s: &ApiState, query: &str, body: &str) -> (StatusCode, String) {
    send(
        s,
        Method::POST,
        &format!("/api/59/project/p/jobs/import{query}"),
        ADMIN,
        Some("application/yaml"),
        body,
    )
    .await
}

async fn loaded() -> ApiState {
    let s = state().await;
    let (status, body) = import(&s, "", JOBS).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = json(&body);
    assert_eq!(v["succeeded"].as_array().unwrap().len(), 2, "{body}");
    s
}

/// Waits until an execution has ended (a bound, not a timing assertion).
async fn finished(s: &ApiState, id: u64) -> Execution {
    for _ in 0..1_000 {
        let e = s.store.get_execution(id).await.unwrap().unwrap();
        if e.status.is_final() {
            return e;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("execution {id} did not end");
}

#[tokio::test]
async fn import_warns_of_log_filters_that_cannot_run() {
    let s = state().await;
    let doc = r#"
- name: filtered
  sequence:
    commands:
    - exec: echo hi
      plugins:
        LogFilter:
        - type: jq-json-log-filter
    - exec: echo ok
      plugins:
        LogFilter:
        - type: key-value-data
- name: clean
  sequence:
    commands:
    - exec: echo hi
"#;
    let (status, body) = import(&s, "", doc).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = json(&body);
    let ok = v["succeeded"].as_array().unwrap();
    assert_eq!(ok.len(), 2, "{body}");
    let warnings = ok[0]["warnings"]
        .as_array()
        .expect("warnings on the first job");
    assert_eq!(warnings.len(), 1, "{body}");
    let w = warnings[0].as_str().unwrap();
    assert!(
        w.starts_with("step 1: log filter `jq-json-log-filter`"),
        "{w}"
    );
    assert!(ok[1].get("warnings").is_none(), "{body}");
}

#[tokio::test]
async fn import_reports_each_job_and_honours_dupe_and_uuid_options() {
    let s = loaded().await;
    // update replaces by uuid
    let changed = JOBS.replace("says hello", "says hi");
    let v = json(&import(&s, "?dupeOption=update", &changed).await.1);
    assert_eq!(v["succeeded"].as_array().unwrap().len(), 2);
    assert_eq!(v["succeeded"][0]["index"], 1);
    assert_eq!(v["succeeded"][0]["id"], HELLO);
    let job = s.store.get_job("p", HELLO).await.unwrap().unwrap();
    assert_eq!(job.description, "says hi");
    // skip leaves existing jobs alone
    let v = json(&import(&s, "?dupeOption=skip", JOBS).await.1);
    assert_eq!(v["skipped"].as_array().unwrap().len(), 2, "{v}");
    assert!(v["succeeded"].as_array().unwrap().is_empty());
    // create with a uuid that exists fails per job
    let v = json(&import(&s, "?dupeOption=create", JOBS).await.1);
    assert_eq!(v["failed"].as_array().unwrap().len(), 2, "{v}");
    assert!(v["failed"][0]["error"].as_str().unwrap().contains("uuid"));
    // create (the default) refuses a group and name that exist ...
    let v = json(&import(&s, "?uuidOption=remove", JOBS).await.1);
    assert_eq!(v["failed"].as_array().unwrap().len(), 2, "{v}");
    assert!(v["failed"][0]["error"].as_str().unwrap().contains("exists"));
    // ... and with uuidOption=remove makes new jobs under new names
    let renamed = JOBS
        .replace("name: hello", "name: hello2")
        .replace("name: classified", "name: other");
    let v = json(
        &import(&s, "?dupeOption=create&uuidOption=remove", &renamed)
            .await
            .1,
    );
    assert_eq!(v["succeeded"].as_array().unwrap().len(), 2, "{v}");
    assert_ne!(v["succeeded"][0]["id"], HELLO);
    let jobs = s.store.list_jobs("p", &Default::default()).await.unwrap();
    assert_eq!(jobs.len(), 4);
    // JSON body
    let doc = r#"[{"name":"j","sequence":{"commands":[{"exec":"true"}]}}]"#;
    let (status, body) = send(
        &s,
        Method::POST,
        "/api/59/project/p/jobs/import",
        ADMIN,
        Some("application/json"),
        doc,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["succeeded"][0]["name"], "j");
    let audit = s
        .store
        .query_audit(&AuditQuery {
            resource_type: Some("job".into()),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert!(audit.total >= 7, "{audit:?}");
    assert!(audit.items.iter().all(|e| e.user == "user-t1"));
}

#[tokio::test]
async fn import_refuses_bad_documents_and_options() {
    let s = state().await;
    let bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n";
    for (query, ctype, body, needle) in [
        (
            "",
            Some("application/yaml"),
            "- name: [unclosed",
            "request body",
        ),
        ("", Some("application/yaml"), bomb, "request body"),
        ("", Some("application/json"), "[{\"name\": ", "request body"),
        // (a job that fails its checks fails alone: see
        // import_reports_each_job_and_honours_dupe_and_uuid_options)
        ("", None, "- name: x", "fileformat"),
        (
            "?dupeOption=merge",
            Some("application/yaml"),
            JOBS,
            "dupeOption",
        ),
        (
            "?uuidOption=keep",
            Some("application/yaml"),
            JOBS,
            "uuidOption",
        ),
    ] {
        let (status, resp) = send(
            &s,
            Method::POST,
            &format!("/api/59/project/p/jobs/import{query}"),
            ADMIN,
            ctype,
            body,
        )
        .await;
        assert_error(
            status,
            &resp,
            StatusCode::BAD_REQUEST,
            "api.error.invalid.request",
        );
        assert!(resp.contains(needle), "{needle}: {resp}");
    }
    // a format not taken: Rundeck's 415, naming the parameter
    for query in ["?fileformat=txt", "?format=DNEformat"] {
        let (status, resp) = import(&s, query, JOBS).await;
        assert_error(
            status,
            &resp,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "api.error.jobs.import.format.unsupported",
        );
        assert!(resp.contains("format"), "{resp}");
    }
    // a bad cron fails that job only, and stores nothing of it
    let doc = r#"
- name: bad-cron
  schedule: {crontab: "0 0 25 * * ?"}
  sequence: {commands: [{exec: "true"}]}
- name: good
  sequence: {commands: [{exec: "true"}]}
"#;
    let v = json(&import(&s, "", doc).await.1);
    assert_eq!(v["failed"][0]["name"], "bad-cron", "{v}");
    assert!(
        v["failed"][0]["error"]
            .as_str()
            .unwrap()
            .contains("schedule"),
        "{v}"
    );
    assert_eq!(v["succeeded"][0]["name"], "good");
    assert!(s
        .store
        .find_job("p", None, "bad-cron")
        .await
        .unwrap()
        .is_none());
    // a job that cannot be read, or fails its checks, fails alone with its
    // index, name and error (Rundeck's `failed[]`); the others are imported
    let doc = r#"
- name: unreadable
  group: ops
  sequence: {commands: 7}
- name: no-steps
  sequence: {commands: []}
- name: imported-beside
  sequence: {commands: [{exec: "true"}]}
"#;
    let (status, body) = import(&s, "", doc).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = json(&body);
    let failed = v["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 2, "{v}");
    assert_eq!(
        (&failed[0]["index"], &failed[0]["name"], &failed[0]["group"]),
        (
            &serde_json::json!(1),
            &serde_json::json!("unreadable"),
            &serde_json::json!("ops")
        )
    );
    assert!(failed[0]["error"]
        .as_str()
        .unwrap()
        .contains("sequence.commands"));
    assert_eq!(
        (&failed[1]["index"], &failed[1]["name"]),
        (&serde_json::json!(2), &serde_json::json!("no-steps"))
    );
    assert!(failed[1]["error"]
        .as_str()
        .unwrap()
        .contains("at least one step"));
    assert_eq!(v["succeeded"][0]["name"], "imported-beside", "{v}");
    assert_eq!(v["succeeded"][0]["index"], 3, "{v}");
    // a document that is not a list of jobs is refused whole, as in Rundeck
    let (status, body) = import(&s, "", "name: solo\nsequence: {commands: [{exec: id}]}\n").await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "api.error.invalid.request",
    );
    assert!(body.contains("Expected list data"), "{body}");
    // unknown project; denied project
    let (status, body) = send(
        &s,
        Method::POST,
        "/api/59/project/nope/jobs/import",
        ADMIN,
        Some("application/yaml"),
        JOBS,
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "api.error.item.doesnotexist",
    );
    let (status, body) = send(
        &s,
        Method::POST,
        "/api/59/project/p/jobs/import",
        NOBODY,
        Some("application/yaml"),
        JOBS,
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "api.error.item.unauthorized",
    );
    // dev may read the project but create no job
    let (status, body) = send(
        &s,
        Method::POST,
        "/api/59/project/p/jobs/import",
        DEV,
        Some("application/yaml"),
        JOBS,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let v = json(&body);
    assert_eq!(v["failed"].as_array().unwrap().len(), 2, "{v}");
    assert!(v["succeeded"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn list_filters_export_get_and_info() {
    let s = loaded().await;
    let names = |body: &str| -> Vec<String> {
        json(body)
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["name"].as_str().unwrap().to_owned())
            .collect()
    };
    for (query, want) in [
        ("", vec!["hello", "classified"]),
        ("?groupPath=public", vec!["hello"]),
        ("?jobFilter=ell", vec!["hello"]),
        ("?jobExactFilter=classified", vec!["classified"]),
        (&format!("?idlist={SECRET}"), vec!["classified"]),
        ("?groupPath=-", vec![]),
        ("?scheduledFilter=true", vec![]),
    ] {
        let (status, body) = get(&s, &format!("/api/59/project/p/jobs{query}"), ADMIN).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let mut got = names(&body);
        got.sort();
        let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(got, want, "{query}");
    }
    let (status, body) = get(&s, "/api/59/project/p/jobs?scheduledFilter=maybe", ADMIN).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "api.error.invalid.request",
    );
    assert!(body.contains("scheduledFilter"));
    let (_, body) = get(&s, "/api/59/project/p/jobs?groupPath=public", ADMIN).await;
    let j = &json(&body)[0];
    assert_eq!(j["id"], HELLO);
    assert_eq!(j["href"], format!("/api/59/job/{HELLO}"));
    assert_eq!(j["enabled"], true);
    assert_eq!(j["scheduled"], false);

    // the dev sees the public job only, everywhere
    let (status, body) = get(&s, "/api/59/project/p/jobs", DEV).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&body), vec!["hello"]);
    no_leak(&body);
    let (status, body) = get(&s, "/api/59/project/p/jobs/export?format=yaml", DEV).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("name: hello"), "{body}");
    no_leak(&body);
    let (status, body) = get(&s, "/api/59/project/p/jobs", NOBODY).await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "api.error.item.unauthorized",
    );

    // export round-trips through the parser
    let (_, yaml) = get(&s, "/api/59/project/p/jobs/export?format=yaml", ADMIN).await;
    let jobs = foredeck_core::format::parse_jobs_yaml(&yaml, "export").unwrap();
    assert_eq!(jobs.len(), 2);
    let (_, js) = get(&s, "/api/59/project/p/jobs/export?format=json", ADMIN).await;
    assert_eq!(
        foredeck_core::format::parse_jobs_json(&js, "export").unwrap(),
        jobs
    );
    let (status, xml) = get(&s, "/api/59/project/p/jobs/export?format=xml", ADMIN).await;
    assert_eq!(status, StatusCode::OK, "{xml}");
    let from_xml = foredeck_core::format::parse_jobs_xml(&xml, "export").unwrap();
    assert_eq!(from_xml, jobs);
    let (status, body) = get(&s, "/api/59/project/p/jobs/export?format=html2", ADMIN).await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_ACCEPTABLE,
        "api.error.item.unsupported-format",
    );

    // one job
    let (status, body) = get(&s, &format!("/api/59/job/{HELLO}?format=yaml"), DEV).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("says hello"));
    let (status, body) = get(&s, &format!("/api/59/job/{SECRET}"), DEV).await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "api.error.item.doesnotexist",
    );
    no_leak(&body);
    let (status, body) = get(&s, "/api/59/job/no-such-job", ADMIN).await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "api.error.item.doesnotexist",
    );
    let (status, body) = get(&s, &format!("/api/59/job/{HELLO}/info"), DEV).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["name"], "hello");
    let (status, body) = get(&s, &format!("/api/59/job/{SECRET}/info"), DEV).await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "api.error.item.doesnotexist",
    );
    no_leak(&body);
}

/// A job list request with an `Accept-Encoding`: status, whether the body
/// came gzip-compressed, and the body as text.
async fn list_encoded(
    s: &ApiState,
    uri: &str,
    token: &str,
    accept: Option<&str>,
) -> (StatusCode, bool, String) {
    let (status, headers, bytes) =
        get_with(s, uri, token, accept.map(|a| ("accept-encoding", a))).await;
    let gzip = headers.get("content-encoding").map(|v| v.as_bytes()) == Some(b"gzip");
    assert_eq!(headers["content-type"], "application/json");
    let text = if gzip {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
            .unwrap();
        text
    } else {
        String::from_utf8(bytes.to_vec()).unwrap()
    };
    (status, gzip, text)
}

/// A GET with the token and one more header, if any: status, headers and
/// the body as sent.
async fn get_with(
    s: &ApiState,
    uri: &str,
    token: &str,
    header: Option<(&str, &str)>,
) -> (StatusCode, axum::http::HeaderMap, axum::body::Bytes) {
    let mut req = Request::builder().uri(uri).header(TOKEN_HEADER, token);
    if let Some((k, v)) = header {
        req = req.header(k, v);
    }
    answer(s, req.body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn job_lists_are_kept_per_revision_compressed_on_request_and_never_shared_down() {
    let s = loaded().await;
    let bulk: String = (0..30)
        .map(|i| format!("- name: bulk-{i:02}\n  group: public/bulk\n  sequence:\n    commands:\n      - exec: 'true'\n"))
        .collect();
    let (status, body) = import(&s, "", &bulk).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let uri = "/api/59/project/p/jobs";
    let count = |text: &str| json(text).as_array().unwrap().len();

    // the same list, compressed when asked, kept or not
    let (status, gz, plain) = list_encoded(&s, uri, ADMIN, None).await;
    assert_eq!((status, gz), (StatusCode::OK, false), "{plain}");
    assert_eq!(count(&plain), 32);
    for accept in ["gzip, deflate, br", "gzip", "*"] {
        let (status, gz, text) = list_encoded(&s, uri, ADMIN, Some(accept)).await;
        assert_eq!((status, gz), (StatusCode::OK, true), "{accept}");
        assert_eq!(text, plain, "{accept}");
    }
    for accept in ["gzip;q=0", "identity", "br"] {
        let (_, gz, text) = list_encoded(&s, uri, ADMIN, Some(accept)).await;
        assert!(!gz, "{accept}");
        assert_eq!(text, plain, "{accept}");
    }
    // each API version has its own hrefs
    let (_, _, v14) = list_encoded(&s, "/api/14/project/p/jobs", ADMIN, Some("gzip")).await;
    assert!(
        v14.contains("/api/14/job/") && !v14.contains("/api/59/"),
        "{v14}"
    );
    // and each filter its own list
    let (_, _, one) = list_encoded(&s, &format!("{uri}?idlist={HELLO}"), ADMIN, None).await;
    assert_eq!(count(&one), 1, "{one}");

    // A caller who sees only some jobs gets their own list, after the
    // whole one was kept, compressed or not.
    for accept in [None, Some("gzip")] {
        let (status, _, text) = list_encoded(&s, uri, DEV, accept).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        // `dev` reads group `public` itself only, not `public/bulk`
        assert_eq!(count(&text), 1, "{text}");
        assert!(!text.contains("bulk-"), "{text}");
        no_leak(&text);
    }
    let (status, _, text) = list_encoded(&s, uri, NOBODY, Some("gzip")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    no_leak(&text);

    // Every change shows in the next list: a deletion, a new job, a
    // disabled one.
    let (status, body) = send(
        &s,
        Method::DELETE,
        &format!("/api/59/job/{SECRET}"),
        ADMIN,
        None,
        "",
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    for accept in [None, Some("gzip")] {
        let (_, _, text) = list_encoded(&s, uri, ADMIN, accept).await;
        assert_eq!(count(&text), 31, "{text}");
        no_leak(&text);
    }
    let (status, body) = import(
        &s,
        "",
        "- name: late\n  sequence:\n    commands:\n      - exec: 'true'\n",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, _, text) = list_encoded(&s, uri, ADMIN, Some("gzip")).await;
    assert_eq!(count(&text), 32, "{text}");
    assert!(text.contains("\"late\""), "{text}");
    let (status, body) = post_json(
        &s,
        &format!("/api/59/job/{HELLO}/execution/disable"),
        ADMIN,
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, _, text) = list_encoded(&s, uri, ADMIN, Some("gzip")).await;
    let hello = json(&text)
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == HELLO)
        .cloned()
        .unwrap();
    assert_eq!(hello["enabled"], false, "{text}");
}

#[tokio::test]
async fn scheduled_jobs_show_their_next_fire_and_toggle() {
    let s = state().await;
    let doc = r#"
- name: nightly
  uuid: 33333333-3333-3333-3333-333333333333
  schedule: {crontab: "0 30 2 * * ?"}
  timeZone: UTC
  sequence: {commands: [{exec: "true"}]}
"#;
    let v = json(&import(&s, "", doc).await.1);
    assert_eq!(v["succeeded"].as_array().unwrap().len(), 1, "{v}");
    let id = "33333333-3333-3333-3333-333333333333";
    let (_, body) = get(&s, &format!("/api/59/job/{id}/info"), ADMIN).await;
    let info = json(&body);
    assert_eq!(info["scheduled"], true);
    let next = info["nextScheduledExecution"].as_str().unwrap();
    assert!(next.ends_with("T02:30:00Z"), "{next}");
    let (_, body) = get(&s, "/api/59/project/p/jobs?scheduledFilter=true", ADMIN).await;
    assert_eq!(json(&body)[0]["nextScheduledExecution"], next);

    // the forecast lists the next fire times as the scheduler computes them
    let (status, body) = get(
        &s,
        &format!("/api/59/job/{id}/forecast?time=3d&max=2"),
        ADMIN,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let future = json(&body)["futureScheduledExecutions"].clone();
    let future: Vec<&str> = future
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(future.len(), 2, "{body}");
    assert_eq!(future[0], next);
    let (a, b) = (
        chrono::DateTime::parse_from_rfc3339(future[0]).unwrap(),
        chrono::DateTime::parse_from_rfc3339(future[1]).unwrap(),
    );
    assert_eq!(b - a, chrono::Duration::days(1));
    let (_, body) = get(&s, &format!("/api/59/job/{id}/forecast?time=1n"), ADMIN).await;
    assert!(
        json(&body)["futureScheduledExecutions"]
            .as_array()
            .unwrap()
            .len()
            <= 1
    );
    let (status, body) = get(&s, &format!("/api/59/job/{id}/forecast?time=soon"), ADMIN).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "api.error.invalid.request",
    );
    let (status, body) = get(&s, &format!("/api/59/job/{id}/forecast"), DEV).await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "api.error.item.doesnotexist",
    );

    // disabling the schedule removes the next fire; dev may not toggle
    let uri = format!("/api/59/job/{id}/schedule/disable");
    let (status, body) = post_json(&s, &uri, DEV, "").await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "api.error.item.doesnotexist",
    );
    let (status, body) = post_json(&s, &uri, ADMIN, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["success"], true);
    let (_, body) = get(&s, &format!("/api/59/job/{id}/info"), ADMIN).await;
    let info = json(&body);
    assert_eq!(info["scheduleEnabled"], false);
    assert!(info.get("nextScheduledExecution").is_none(), "{info}");
    let (status, _) = post_json(&s, &format!("/api/59/job/{id}/schedule/enable"), ADMIN, "").await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = get(&s, &format!("/api/59/job/{id}/info"), ADMIN).await;
    assert_eq!(json(&body)["nextScheduledExecution"], next);

    // execution disable/enable
    let (status, _) = post_json(
        &s,
        &format!("/api/59/job/{id}/execution/disable"),
        ADMIN,
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = post_json(&s, &format!("/api/59/job/{id}/run"), ADMIN, "").await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "api.error.execution.disabled",
    );
    let (status, _) = post_json(&s, &format!("/api/59/job/{id}/execution/enable"), ADMIN, "").await;
    assert_eq!(status, StatusCode::OK);
    // public job: dev may see it but not toggle it
    let s2 = loaded().await;
    let (status, body) = post_json(
        &s2,
        &format!("/api/59/job/{HELLO}/execution/disable"),
        DEV,
        "",
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "api.error.item.unauthorized",
    );
}

#[tokio::test]
async fn run_follow_output_and_query_executions() {
    let s = loaded().await;
    // bad input
    for (body, needle) in [
        ("{\"argString\": ", "request body"),
        ("{\"loglevel\": \"LOUD\"}", "loglevel"),
        ("{\"filter\": \"name: 'open\"}", "filter"),
        ("{\"options\": {\"nope\": \"x\"}}", "nope"),
        ("{\"argString\": \"-who \\\"open\"}", "argString"),
        ("{\"runAtTime\": \"tomorrow\"}", "runAtTime"),
        ("{\"argString\": 1}", "field argString"),
    ] {
        let (status, resp) = post_json(&s, &format!("/api/59/job/{HELLO}/run"), ADMIN, body).await;
        assert_error(
            status,
            &resp,
            StatusCode::BAD_REQUEST,
            "api.error.invalid.request",
        );
        assert!(resp.contains(needle), "{needle}: {resp}");
    }
    // denied
    let (status, body) = post_json(&s, &format!("/api/59/job/{SECRET}/run"), DEV, "").await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "api.error.item.doesnotexist",
    );
    no_leak(&body);
    let (status, body) = post_json(
        &s,
        &format!("/api/59/job/{HELLO}/run"),
        DEV,
        "{\"asUser\": \"root\"}",
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "api.error.item.unauthorized",
    );

    // run
    let (status, body) = post_json(
        &s,
        &format!("/api/59/job/{HELLO}/run"),
        DEV,
        "{\"argString\": \"-who \\\"the API\\\"\"}",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let e = json(&body);
    let id = e["id"].as_u64().unwrap();
    assert_eq!(e["job"]["id"], HELLO);
    assert_eq!(e["user"], "user-t2");
    assert_eq!(e["href"], format!("/api/59/execution/{id}"));
    let done = finished(&s, id).await;
    assert_eq!(done.status, foredeck_core::ExecutionStatus::Succeeded);

    let (status, body) = get(&s, &format!("/api/59/execution/{id}"), DEV).await;
    assert_eq!(status, StatusCode::OK);
    let v = json(&body);
    assert_eq!(v["status"], "succeeded");
    assert_eq!(v["job"]["options"]["who"], "the API");
    assert!(v["date-ended"]["unixtime"].is_number());

    // output: whole, tailing by offset, last lines, text, per node and step
    let (status, body) = get(&s, &format!("/api/59/execution/{id}/output"), DEV).await;
    assert_eq!(status, StatusCode::OK);
    let out = json(&body);
    assert_eq!(out["completed"], true);
    assert_eq!(out["execCompleted"], true);
    let logs: Vec<&str> = out["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["log"].as_str().unwrap())
        .collect();
    assert!(logs.contains(&"hello the API"), "{logs:?}");
    assert!(logs.contains(&"second line"));
    let total = out["offset"].as_str().unwrap().parse::<u64>().unwrap();
    let mut followed = Vec::new();
    let mut offset = 0;
    loop {
        let (_, body) = get(
            &s,
            &format!("/api/59/execution/{id}/output?offset={offset}&maxlines=1"),
            DEV,
        )
        .await;
        let v = json(&body);
        for e in v["entries"].as_array().unwrap() {
            followed.push(e["log"].as_str().unwrap().to_owned());
        }
        offset = v["offset"].as_str().unwrap().parse().unwrap();
        if v["completed"] == true {
            break;
        }
    }
    assert_eq!(offset, total);
    assert_eq!(followed, logs);
    let (_, body) = get(
        &s,
        &format!("/api/59/execution/{id}/output?lastlines=2"),
        DEV,
    )
    .await;
    let last: Vec<String> = json(&body)["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["log"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(last, followed[followed.len() - 2..].to_vec());
    let (_, text) = get(
        &s,
        &format!("/api/59/execution/{id}/output?format=text"),
        DEV,
    )
    .await;
    assert_eq!(
        text,
        logs.iter().map(|l| format!("{l}\n")).collect::<String>()
    );
    let (_, body) = get(
        &s,
        &format!("/api/59/execution/{id}/output/node/localhost/step/1"),
        DEV,
    )
    .await;
    let v = json(&body);
    assert!(
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["node"] == "localhost" && e["stepctx"] == "1"),
        "{v}"
    );
    assert!(!v["entries"].as_array().unwrap().is_empty());
    let (_, body) = get(
        &s,
        &format!("/api/59/execution/{id}/output/node/elsewhere"),
        DEV,
    )
    .await;
    assert!(json(&body)["entries"].as_array().unwrap().is_empty());
    for bad in ["offset=-1", "maxlines=many", "lastlines=x"] {
        let (status, body) = get(&s, &format!("/api/59/execution/{id}/output?{bad}"), DEV).await;
        assert_error(
            status,
            &body,
            StatusCode::BAD_REQUEST,
            "api.error.invalid.request",
        );
    }

    // state
    let (status, body) = get(&s, &format!("/api/59/execution/{id}/state"), DEV).await;
    assert_eq!(status, StatusCode::OK);
    let st = json(&body);
    assert_eq!(st["completed"], true);
    assert_eq!(st["executionState"], "SUCCEEDED");
    assert_eq!(
        st["steps"][0]["nodeStates"]["localhost"]["executionState"],
        "SUCCEEDED"
    );

    // an execution of the secret job is invisible to the dev
    let (_, body) = post_json(&s, &format!("/api/59/job/{SECRET}/run"), ADMIN, "").await;
    let secret_id = json(&body)["id"].as_u64().unwrap();
    finished(&s, secret_id).await;
    // the admin's read keeps the finished record; the dev still may not see it
    let secret_out = format!("/api/59/execution/{secret_id}/output?lastlines=5");
    let (status, body) = get(&s, &secret_out, ADMIN).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["completed"], true);
    for path in [
        "",
        "/state",
        "/output",
        "/output/stream",
        "/output?format=text",
    ] {
        let (status, body) = get(&s, &format!("/api/59/execution/{secret_id}{path}"), DEV).await;
        assert_error(
            status,
            &body,
            StatusCode::NOT_FOUND,
            "api.error.item.doesnotexist",
        );
        no_leak(&body);
    }
    let (status, body) = get(&s, &format!("/api/59/execution/{secret_id}"), NOBODY).await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "api.error.item.doesnotexist",
    );

    // queries
    let (_, body) = get(&s, "/api/59/project/p/executions", ADMIN).await;
    let v = json(&body);
    assert_eq!(v["paging"]["total"], 2, "{v}");
    let (_, body) = get(&s, "/api/59/project/p/executions", DEV).await;
    let v = json(&body);
    assert_eq!(v["paging"]["total"], 1, "{v}");
    assert_eq!(v["executions"][0]["id"], id);
    no_leak(&body);
    for (query, total) in [
        ("statusFilter=succeeded", 2),
        ("statusFilter=failed", 0),
        ("userFilter=user-t2", 1),
        (&format!("jobIdListFilter={SECRET}") as &str, 1),
        ("recentFilter=1d", 2),
        ("max=1", 2),
        ("adhoc=true", 0),
        ("groupPath=public", 1),
        ("jobFilter=hell", 1),
    ] {
        let (status, body) = get(&s, &format!("/api/59/project/p/executions?{query}"), ADMIN).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(json(&body)["paging"]["total"], total, "{query}: {body}");
    }
    let (_, body) = get(&s, "/api/59/project/p/executions?max=1", ADMIN).await;
    assert_eq!(json(&body)["executions"].as_array().unwrap().len(), 1);
    for bad in [
        "statusFilter=sleeping",
        "recentFilter=2x",
        "begin=yesterday",
        "max=lots",
        "adhoc=perhaps",
        "olderFilter=x",
        "executionTypeFilter=cron",
        "adhoc=true&jobFilter=x",
    ] {
        let (status, body) = get(&s, &format!("/api/59/project/p/executions?{bad}"), ADMIN).await;
        assert_error(
            status,
            &body,
            StatusCode::BAD_REQUEST,
            "api.error.invalid.request",
        );
    }
    let (status, body) = get(&s, "/api/59/project/p/executions", NOBODY).await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "api.error.item.unauthorized",
    );
    let (_, body) = get(&s, &format!("/api/59/job/{HELLO}/executions"), DEV).await;
    assert_eq!(json(&body)["paging"]["total"], 1);
    let (status, body) = get(
        &s,
        &format!("/api/59/job/{HELLO}/executions?status=bogus"),
        DEV,
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "api.error.invalid.request",
    );
    let (status, body) = get(&s, &format!("/api/59/job/{SECRET}/executions"), DEV).await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "api.error.item.doesnotexist",
    );
    let (_, body) = get(&s, "/api/59/project/*/executions/running", ADMIN).await;
    assert_eq!(json(&body)["paging"]["total"], 0);

    // runs are audited
    let audit = s
        .store
        .query_audit(&AuditQuery {
            action: Some("run".into()),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.total, 2);

    // deleted behind this server's back (through another server of a
    // cluster): its output is gone at once, by offset and by last lines
    s.store.delete_execution(secret_id).await.unwrap();
    for path in [
        secret_out.clone(),
        format!("/api/59/execution/{secret_id}/output?offset=0"),
        format!("/api/59/execution/{secret_id}/output?offset=1000"),
        format!("/api/59/execution/{secret_id}/output/node/localhost?lastlines=5"),
    ] {
        let (status, body) = get(&s, &path, ADMIN).await;
        assert_error(
            status,
            &body,
            StatusCode::NOT_FOUND,
            "api.error.item.doesnotexist",
        );
        assert_eq!(
            json(&body)["message"],
            format!("Execution ID does not exist: {secret_id}"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn abort_retry_and_delete() {
    let s = state().await;
    let doc = r#"
- name: slow
  group: public
  uuid: 44444444-4444-4444-4444-444444444444
  options:
    - name: fail
      value: "no"
  sequence:
    commands:
      - exec: 'if [ "${option.fail}" = yes ]; then exit 3; fi; echo started; sleep 30'
"#;
    import(&s, "", doc).await;
    let job = "44444444-4444-4444-4444-444444444444";
    let (_, body) = post_json(&s, &format!("/api/59/job/{job}/run"), DEV, "").await;
    let id = json(&body)["id"].as_u64().unwrap();
    // running: listed, not deletable, a second run conflicts
    let (_, body) = get(&s, "/api/59/project/p/executions/running", DEV).await;
    assert_eq!(json(&body)["executions"][0]["id"], id, "{body}");
    let (status, body) = send(
        &s,
        Method::DELETE,
        &format!("/api/59/execution/{id}"),
        ADMIN,
        None,
        "",
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "api.error.exec.delete.failed",
    );
    let (status, body) = post_json(&s, &format!("/api/59/job/{job}/run"), DEV, "").await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "api.error.execution.conflict",
    );
    // abort: nobody may not, dev may
    let (status, _) = post_json(&s, &format!("/api/59/execution/{id}/abort"), NOBODY, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = post_json(&s, &format!("/api/59/execution/{id}/abort"), DEV, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["abort"]["status"], "pending");
    let e = finished(&s, id).await;
    assert_eq!(e.status, foredeck_core::ExecutionStatus::Aborted);
    let (_, body) = post_json(&s, &format!("/api/59/execution/{id}/abort"), DEV, "").await;
    assert_eq!(json(&body)["abort"]["status"], "failed");

    // a failed run, retried on its failed nodes with its options
    let (_, body) = post_json(
        &s,
        &format!("/api/59/job/{job}/run"),
        ADMIN,
        "{\"options\": {\"fail\": \"yes\"}}",
    )
    .await;
    let failed = json(&body)["id"].as_u64().unwrap();
    let e = finished(&s, failed).await;
    assert_eq!(e.status, foredeck_core::ExecutionStatus::Failed);
    let (status, body) =
        post_json(&s, &format!("/api/59/job/{job}/retry/{failed}"), ADMIN, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let retry = json(&body);
    assert_eq!(retry["filter"], "name: localhost");
    let r = finished(&s, retry["id"].as_u64().unwrap()).await;
    assert_eq!(r.options["fail"], "yes");
    assert_eq!(r.status, foredeck_core::ExecutionStatus::Failed);
    let (status, body) =
        post_json(&s, &format!("/api/59/job/{job}/retry/{}", 9999), ADMIN, "").await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "api.error.item.doesnotexist",
    );

    // delete: dev lacks delete_execution; admin deletes one, then many
    let (status, body) = send(
        &s,
        Method::DELETE,
        &format!("/api/59/execution/{id}"),
        DEV,
        None,
        "",
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "api.error.item.unauthorized",
    );
    let (status, _) = send(
        &s,
        Method::DELETE,
        &format!("/api/59/execution/{id}"),
        ADMIN,
        None,
        "",
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(s.store.get_execution(id).await.unwrap().is_none());
    let body = format!("{{\"ids\": [{failed}, \"{}\", 12345]}}", r.id);
    let (status, resp) = post_json(&s, "/api/59/executions/delete", ADMIN, &body).await;
    assert_eq!(status, StatusCode::OK);
    let v = json(&resp);
    assert_eq!(v["requestCount"], 3);
    assert_eq!(v["successCount"], 2);
    assert_eq!(v["failures"][0]["id"], "12345");
    assert_eq!(v["allsuccessful"], false);
    let (status, resp) = post_json(&s, "/api/59/executions/delete", ADMIN, "{\"ids\": 5}").await;
    assert_error(
        status,
        &resp,
        StatusCode::BAD_REQUEST,
        "api.error.invalid.request",
    );
    let (status, resp) = post_json(&s, "/api/59/executions/delete", ADMIN, "").await;
    assert_error(
        status,
        &resp,
        StatusCode::BAD_REQUEST,
        "api.error.invalid.request",
    );
}

#[tokio::test]
async fn jobs_delete_one_and_many() {
    let s = loaded().await;
    let (status, body) = send(
        &s,
        Method::DELETE,
        &format!("/api/59/job/{HELLO}"),
        DEV,
        None,
        "",
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "api.error.item.unauthorized",
    );
    let (status, body) = send(
        &s,
        Method::DELETE,
        &format!("/api/59/job/{SECRET}"),
        DEV,
        None,
        "",
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "api.error.item.doesnotexist",
    );
    no_leak(&body);
    let (status, _) = send(
        &s,
        Method::DELETE,
        &format!("/api/59/job/{HELLO}"),
        ADMIN,
        None,
        "",
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(s.store.get_job("p", HELLO).await.unwrap().is_none());
    let (status, body) = send(
        &s,
        Method::DELETE,
        &format!("/api/59/job/{HELLO}"),
        ADMIN,
        None,
        "",
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "api.error.item.doesnotexist",
    );
    let (status, body) = post_json(
        &s,
        "/api/59/jobs/delete",
        ADMIN,
        &format!("{{\"ids\": [\"{SECRET}\", \"{HELLO}\"]}}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let v = json(&body);
    assert_eq!(v["requestCount"], 2);
    assert_eq!(v["succeeded"][0]["id"], SECRET);
    assert_eq!(v["failed"][0]["id"], HELLO);
    assert_eq!(v["failed"][0]["errorCode"], "api.error.item.doesnotexist");
    let audit = s
        .store
        .query_audit(&AuditQuery {
            action: Some("delete".into()),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.total, 2);
}

/// The SSE stream carries the same lines as the polling endpoint and ends
/// with the final status; resuming by `Last-Event-ID` skips what was seen.
#[tokio::test]
async fn output_stream_matches_polling_and_resumes() {
    let s = loaded().await;
    let (_, body) = post_json(&s, &format!("/api/59/job/{HELLO}/run"), ADMIN, "").await;
    let id = json(&body)["id"].as_u64().unwrap();
    // follow while it runs
    let events = sse(&s, &format!("/api/59/execution/{id}/output/stream"), None).await;
    let (last, end) = events.last().unwrap().clone();
    assert_eq!(last, "end");
    assert_eq!(json(&end)["execState"], "succeeded");
    let streamed: Vec<String> = events
        .iter()
        .filter(|(k, _)| k == "log")
        .map(|(_, d)| json(d)["log"].as_str().unwrap().to_owned())
        .collect();
    let (_, text) = get(
        &s,
        &format!("/api/59/execution/{id}/output?format=text"),
        ADMIN,
    )
    .await;
    let polled: Vec<String> = text.lines().map(str::to_owned).collect();
    assert_eq!(streamed, polled);
    let resumed = sse(
        &s,
        &format!("/api/59/execution/{id}/output/stream"),
        Some("2"),
    )
    .await;
    let rest: Vec<String> = resumed
        .iter()
        .filter(|(k, _)| k == "log")
        .map(|(_, d)| json(d)["log"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(rest, polled[2..].to_vec());
    let (status, _) = send(
        &s,
        Method::GET,
        &format!("/api/59/execution/{id}/output/stream?offset=x"),
        ADMIN,
        None,
        "",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// Reads a whole SSE response: (event, data) pairs.
async fn sse(s: &ApiState, uri: &str, last_id: Option<&str>) -> Vec<(String, String)> {
    let (status, headers, bytes) =
        get_with(s, uri, ADMIN, last_id.map(|l| ("last-event-id", l))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/event-stream");
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    parse_sse(&text)
}

fn parse_sse(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let (mut event, mut data) = (String::new(), String::new());
        for line in block.lines() {
            if let Some(e) = line.strip_prefix("event:") {
                event = e.trim().to_owned();
            } else if let Some(d) = line.strip_prefix("data:") {
                data.push_str(d.strip_prefix(' ').unwrap_or(d));
            }
        }
        if !event.is_empty() {
            out.push((event, data));
        }
    }
    out
}

/// The text a finished execution logged.
async fn logged(s: &ApiState, id: u64) -> String {
    let log = s.store.read_log(id, 0, 1000).await.unwrap();
    let lines: Vec<String> = log.events.into_iter().map(|e| e.text).collect();
    lines.join("\n")
}

#[tokio::test]
async fn import_takes_rundeck_multipart_and_form_uploads() {
    use crate::extract::form::test_multipart;
    let s = state().await;
    let uri = "/api/59/project/p/jobs/import";
    // multipart: the document in an `xmlBatch` file part, its format found
    // from its text, the options as form fields
    let (ctype, body) = test_multipart(&[
        ("xmlBatch", Some("jobs.yaml"), JOBS),
        ("dupeOption", None, "create"),
    ]);
    let (status, resp) = send(&s, Method::POST, uri, ADMIN, Some(&ctype), &body).await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    let v = json(&resp);
    assert_eq!(v["succeeded"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v["succeeded"][0]["id"], HELLO);
    // the imported job runs on the server node and says what it was given
    let (status, resp) = post_json(&s, &format!("/api/59/job/{HELLO}/run"), ADMIN, "").await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    let id = json(&resp)["id"].as_u64().unwrap();
    assert!(finished(&s, id).await.status.is_final());
    assert!(logged(&s, id).await.contains("hello world"));
    // form fields win over none; `skip` as a form field
    let (ctype, body) = test_multipart(&[
        ("dupeOption", None, "skip"),
        ("xmlBatch", Some("jobs.yaml"), JOBS),
    ]);
    let v = json(
        &send(&s, Method::POST, uri, ADMIN, Some(&ctype), &body)
            .await
            .1,
    );
    assert_eq!(v["skipped"].as_array().unwrap().len(), 2, "{v}");
    // multipart JSON with ?format=json and dupeOption=update in the query
    let doc = format!(
        r#"[{{"name":"hello","group":"public","uuid":"{HELLO}","description":"from json","sequence":{{"commands":[{{"exec":"echo json says hi"}}]}}}}]"#
    );
    let (ctype, body) = test_multipart(&[("xmlBatch", Some("jobs.json"), &doc)]);
    let (status, resp) = send(
        &s,
        Method::POST,
        &format!("{uri}?format=json&dupeOption=update"),
        ADMIN,
        Some(&ctype),
        &body,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    assert_eq!(json(&resp)["succeeded"][0]["id"], HELLO, "{resp}");
    let job = s.store.get_job("p", HELLO).await.unwrap().unwrap();
    assert_eq!(job.description, "from json");
    // application/x-www-form-urlencoded with xmlBatch=<document>
    let renamed = JOBS
        .replace("name: hello", "name: formed")
        .replace("name: classified", "name: formed2");
    let form = serde_urlencoded::to_string([
        ("xmlBatch", renamed.as_str()),
        ("fileformat", "yaml"),
        ("uuidOption", "remove"),
    ])
    .unwrap();
    let (status, resp) = send(
        &s,
        Method::POST,
        uri,
        ADMIN,
        Some("application/x-www-form-urlencoded"),
        &form,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    let v = json(&resp);
    assert_eq!(v["succeeded"].as_array().unwrap().len(), 2, "{v}");
    assert_ne!(v["succeeded"][0]["id"], HELLO);
    let id = v["succeeded"][0]["id"].as_str().unwrap().to_owned();
    let (status, resp) = post_json(&s, &format!("/api/59/job/{id}/run"), ADMIN, "").await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    let exec = json(&resp)["id"].as_u64().unwrap();
    finished(&s, exec).await;
    assert!(logged(&s, exec).await.contains("hello world"));
}

#[tokio::test]
async fn import_form_uploads_refuse_bad_input_and_callers_without_grants() {
    use crate::extract::form::test_multipart;
    let s = state().await;
    let uri = "/api/59/project/p/jobs/import";
    let form = "application/x-www-form-urlencoded";
    // no xmlBatch: Rundeck's parameter.required
    let (nameless_ct, nameless) = test_multipart(&[("", None, "")]);
    let (other_ct, other) = test_multipart(&[("dupeOption", None, "skip")]);
    for (ctype, body) in [
        (nameless_ct.as_str(), nameless.as_str()),
        (other_ct.as_str(), other.as_str()),
        (form, ""),
        (form, "dupeOption=skip"),
    ] {
        let (status, resp) = send(&s, Method::POST, uri, ADMIN, Some(ctype), body).await;
        assert_error(
            status,
            &resp,
            StatusCode::BAD_REQUEST,
            "api.error.parameter.required",
        );
        assert!(
            resp.contains(r#"parameter \"xmlBatch\" is required"#),
            "{resp}"
        );
    }
    // malformed bodies and documents: 400 saying where
    let (ok_ct, bad_yaml) = test_multipart(&[("xmlBatch", Some("j.yaml"), "- name: [unclosed")]);
    let (_, bad_json) = test_multipart(&[("xmlBatch", Some("j.json"), "[{\"name\": ")]);
    let truncated = test_multipart(&[("xmlBatch", Some("j.yaml"), JOBS)]).1;
    let truncated = &truncated[..truncated.len() / 2];
    for (ctype, body, needle) in [
        (ok_ct.as_str(), bad_yaml.as_str(), "xmlBatch"),
        (ok_ct.as_str(), bad_json.as_str(), "xmlBatch"),
        (ok_ct.as_str(), truncated, "multipart body"),
        ("multipart/form-data", "--x\r\n\r\n", "boundary"),
        (form, "xmlBatch=-+name%3A+%5Bunclosed", "xmlBatch"),
        (form, "[{\"name\": \"j\"}]", "looks like JSON"),
        ("text/plain", JOBS, "fileformat"),
    ] {
        let (status, resp) = send(&s, Method::POST, uri, ADMIN, Some(ctype), body).await;
        assert_error(
            status,
            &resp,
            StatusCode::BAD_REQUEST,
            "api.error.invalid.request",
        );
        assert!(resp.contains(needle), "{needle}: {resp}");
    }
    // a format not taken: 415; XML that is no job document: 400 naming it;
    // a job that cannot be read: reported in failed[] (Rundeck's import)
    let (ctype, xml) = test_multipart(&[("xmlBatch", Some("j.xml"), "<jobs><job/></jobs>")]);
    let (status, resp) = send(&s, Method::POST, uri, ADMIN, Some(&ctype), &xml).await;
    assert_error(
        status,
        &resp,
        StatusCode::BAD_REQUEST,
        "api.error.invalid.request",
    );
    assert!(resp.contains("was not 'joblist'"), "{resp}");
    let (ctype, xml) = test_multipart(&[("xmlBatch", Some("j.xml"), "<joblist><job/></joblist>")]);
    let (status, resp) = send(&s, Method::POST, uri, ADMIN, Some(&ctype), &xml).await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    let v = json(&resp);
    assert!(v["succeeded"].as_array().unwrap().is_empty(), "{resp}");
    let error = v["failed"][0]["error"].as_str().unwrap();
    assert!(error.contains("'name' element not found"), "{resp}");
    let (_, yaml_as_txt) = test_multipart(&[
        ("xmlBatch", Some("j.yaml"), JOBS),
        ("fileformat", None, "txt"),
    ]);
    let (status, resp) = send(&s, Method::POST, uri, ADMIN, Some(&ctype), &yaml_as_txt).await;
    assert_error(
        status,
        &resp,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "api.error.jobs.import.format.unsupported",
    );
    assert!(resp.contains("fileformat"), "{resp}");
    assert!(s
        .store
        .list_jobs("p", &Default::default())
        .await
        .unwrap()
        .is_empty());
    // callers without grants: refused before the body is read, or per job
    let (ctype, body) = test_multipart(&[("xmlBatch", Some("jobs.yaml"), JOBS)]);
    let (status, resp) = send(&s, Method::POST, uri, NOBODY, Some(&ctype), &body).await;
    assert_error(
        status,
        &resp,
        StatusCode::FORBIDDEN,
        "api.error.item.unauthorized",
    );
    no_leak(&resp);
    let (status, resp) = send(&s, Method::POST, uri, DEV, Some(&ctype), &body).await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    let v = json(&resp);
    assert_eq!(v["failed"].as_array().unwrap().len(), 2, "{v}");
    assert!(s
        .store
        .list_jobs("p", &Default::default())
        .await
        .unwrap()
        .is_empty());
    // the body limit holds for uploads too
    let mut small = s.clone();
    small.limits.max_body = 256;
    let (status, _) = send(&small, Method::POST, uri, ADMIN, Some(&ctype), &body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

/// `runAtTime` in the forms Rundeck documents (`-0800`, with milliseconds,
/// `+0000`) schedules the run at that instant.
#[tokio::test]
async fn run_at_time_in_rundecks_documented_forms() {
    let s = loaded().await;
    for (at, utc) in [
        ("2099-12-04T01:52:33-0800", "2099-12-04T09:52:33Z"),
        ("2099-12-04T01:52:34.123-0800", "2099-12-04T09:52:34Z"),
        ("2099-12-04T09:52:35+0000", "2099-12-04T09:52:35Z"),
    ] {
        let body = serde_json::json!({ "runAtTime": at }).to_string();
        let (status, resp) = post_json(&s, &format!("/api/59/job/{HELLO}/run"), ADMIN, &body).await;
        assert_eq!(status, StatusCode::OK, "{at}: {resp}");
        let v: Value = serde_json::from_str(&resp).unwrap();
        assert_eq!(v["status"], "scheduled", "{at}: {resp}");
        assert_eq!(v["date-started"]["date"], utc, "{at}: {resp}");
        assert!(v["id"].as_u64().is_some(), "{at}: {resp}");
    }
}

/// A GET with an `Accept` header: status, content type, body.
async fn get_accept(s: &ApiState, uri: &str, accept: &str) -> (StatusCode, String, String) {
    let req = Request::builder()
        .method(Method::GET)
        .uri(uri)
        .header(TOKEN_HEADER, ADMIN)
        .header("accept", accept)
        .body(Body::empty())
        .unwrap();
    let (status, headers, bytes) = answer(s, req).await;
    let ctype = headers
        .get("content-type")
        .and_then(|c| c.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, ctype, String::from_utf8(bytes.to_vec()).unwrap())
}

const XML_JOBS: &str = r#"<joblist>
  <job>
    <uuid>33333333-3333-4333-8333-333333333333</uuid>
    <name>from xml</name>
    <group>/imported/</group>
    <description>read from job XML</description>
    <context>
      <options preserveOrder='true'>
        <option name='who' value='world' required='true' />
      </options>
    </context>
    <sequence keepgoing='false' strategy='node-first'>
      <command>
        <exec>echo hello ${option.who}</exec>
      </command>
    </sequence>
  </job>
</joblist>"#;

#[tokio::test]
async fn job_xml_is_imported_and_exported_wherever_yaml_is() {
    let s = state().await;
    let uri = "/api/59/project/p/jobs/import";
    // as the body, by content type; and as a form field named by fileformat
    let (status, body) = send(
        &s,
        Method::POST,
        uri,
        ADMIN,
        Some("application/xml"),
        XML_JOBS,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["succeeded"][0]["name"], "from xml", "{body}");
    let other = XML_JOBS
        .replace(
            "33333333-3333-4333-8333-333333333333",
            "44444444-4444-4444-8444-444444444444",
        )
        .replace("from xml", "from a form");
    let form = serde_urlencoded::to_string([("fileformat", "xml"), ("xmlBatch", &other)]).unwrap();
    let (status, body) = send(
        &s,
        Method::POST,
        uri,
        ADMIN,
        Some("application/x-www-form-urlencoded"),
        &form,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["succeeded"][0]["name"], "from a form", "{body}");
    // a job that cannot be read is reported in failed[], naming the job,
    // the field and the line, and the document's other jobs are imported
    // (Rundeck's import), here a third job after it
    let bad = XML_JOBS.replace("<exec>echo hello ${option.who}</exec>", "");
    let third = {
        let start = other.find("<job>").unwrap();
        let end = other.rfind("</job>").unwrap() + "</job>".len();
        other[start..end]
            .replace(
                "44444444-4444-4444-8444-444444444444",
                "55555555-5555-4555-8555-555555555555",
            )
            .replace("from a form", "after the bad one")
    };
    let two = bad.replace("</joblist>", &format!("{third}\n</joblist>"));
    let (status, body) = send(&s, Method::POST, uri, ADMIN, Some("text/xml"), &two).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = json(&body);
    assert_eq!(v["failed"][0]["index"], 1, "{body}");
    assert_eq!(v["failed"][0]["name"], "from xml", "{body}");
    let error = v["failed"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("job \"from xml\" (#1)") && error.contains("line 13"),
        "{body}"
    );
    assert_eq!(v["succeeded"][0]["index"], 2, "{body}");
    assert_eq!(v["succeeded"][0]["name"], "after the bad one", "{body}");
    // a document that is not a job list at all is still a 400
    let (status, body) = send(&s, Method::POST, uri, ADMIN, Some("text/xml"), "<jobs/>").await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "api.error.invalid.request",
    );

    // export and one job: format=xml or Accept: application/xml, as Rundeck
    let job = "/api/59/job/33333333-3333-4333-8333-333333333333";
    for (uri, accept) in [
        ("/api/59/project/p/jobs/export?format=xml".to_owned(), "*/*"),
        (
            "/api/59/project/p/jobs/export".to_owned(),
            "application/xml",
        ),
        (format!("{job}?format=xml"), "application/json"),
        (job.to_owned(), "text/xml"),
    ] {
        let (status, ctype, xml) = get_accept(&s, &uri, accept).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {xml}");
        assert_eq!(ctype, "text/xml;charset=UTF-8", "{uri}");
        let jobs = foredeck_core::format::parse_jobs_xml(&xml, "export").unwrap();
        let j = jobs.iter().find(|j| j.name == "from xml").unwrap();
        assert_eq!(j.full_name(), "imported/from xml");
        assert_eq!(j.option("who").unwrap().default.as_deref(), Some("world"));
        assert!(
            xml.contains("<option name='who' required='true' value='world' />"),
            "{xml}"
        );
    }
    // JSON when nothing or anything else Rundeck serves is asked for
    for accept in ["*/*", "application/json", "text/html"] {
        let (status, ctype, _) = get_accept(&s, "/api/59/project/p/jobs/export", accept).await;
        assert_eq!(
            (status, ctype.as_str()),
            (StatusCode::OK, "application/json"),
            "{accept}"
        );
    }
    // formats Rundeck does not serve: 406 for the export, 415 for one job
    let (status, _, body) = get_accept(&s, "/api/59/project/p/jobs/export?format=csv", "*/*").await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_ACCEPTABLE,
        "api.error.item.unsupported-format",
    );
    for (uri, accept) in [
        (job.to_owned(), "text/html"),
        (format!("{job}?format=csv"), "*/*"),
    ] {
        let (status, _, body) = get_accept(&s, &uri, accept).await;
        assert_error(
            status,
            &body,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "api.error.item.unsupported-format",
        );
    }
    // API 43 and before serve no JSON definitions
    let (status, _, body) =
        get_accept(&s, "/api/43/project/p/jobs/export?format=json", "*/*").await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_ACCEPTABLE,
        "api.error.item.unsupported-format",
    );
}
