//! Notifications end to end: jobs run by the engine on the local node send
//! webhooks to a real HTTP server and email to a real SMTP server
//! (aiosmtpd, installed by scripts/test.sh).
#![allow(clippy::unwrap_used)]

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use foredeck::engine::{Engine, RunOptions};
use foredeck::format::parse_jobs_yaml;
use foredeck::notify::{NotifyConfig, SmtpConfig, SmtpSecurity, StandardNotifier, WebhookPolicy};
use foredeck::{ExecutionStatus, MemoryStore, Store};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Default)]
struct Hooks {
    /// (path, trigger header, body) of every request.
    seen: Arc<Mutex<Vec<(String, String, String)>>>,
    /// Answers 503 to this many requests first.
    fail_first: Arc<Mutex<usize>>,
}

async fn record(
    State(h): State<Hooks>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let trigger = headers
        .get("x-rundeck-notification-trigger")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    h.seen
        .lock()
        .unwrap()
        .push((uri.to_string(), trigger, body));
    let mut left = h.fail_first.lock().unwrap();
    if *left > 0 {
        *left -= 1;
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

async fn hook_server(hooks: Hooks) -> String {
    let app = Router::new()
        .route("/{*path}", post(record))
        .with_state(hooks);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn quick_policy() -> WebhookPolicy {
    WebhookPolicy {
        attempts: 4,
        backoff: Duration::from_millis(20),
        request_timeout: Duration::from_millis(500),
        deadline: Duration::from_secs(5),
    }
}

fn engine_with(notifier: StandardNotifier, store: Arc<dyn Store>) -> Engine {
    Engine::builder()
        .shared_store(store)
        .notifier(notifier)
        .build()
}

#[tokio::test]
async fn webhooks_post_the_execution_and_retry_on_server_errors() {
    let hooks = Hooks::default();
    *hooks.fail_first.lock().unwrap() = 2;
    let base = hook_server(hooks.clone()).await;
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let notifier = StandardNotifier::new(
        NotifyConfig {
            webhook: quick_policy(),
            server_url: "http://fd.example:4440".into(),
            ..NotifyConfig::default()
        },
        None,
    )
    .unwrap();
    let engine = engine_with(notifier.clone(), store);
    let yaml = format!(
        "- name: deploy app\n  uuid: job-1\n  group: web\n  options:\n    - name: env\n  sequence:\n    commands:\n      - exec: echo hi\n  notification:\n    onsuccess:\n      urls: '{base}/done/${{execution.id}}/${{job.name}}'\n      format: json\n    onfailure:\n      urls: '{base}/failed'\n      format: xml\n"
    );
    let job = parse_jobs_yaml(&yaml, "job.yaml").unwrap().remove(0);
    let ok = engine
        .run_job("ops", &job, RunOptions::default().option("env", "prod"))
        .await
        .unwrap();
    assert_eq!(ok.status, ExecutionStatus::Succeeded);
    notifier.flush().await;
    let seen = hooks.seen.lock().unwrap().clone();
    // two 503 answers, then the delivery that succeeded
    assert_eq!(seen.len(), 3, "{seen:?}");
    let path = format!("/done/{}/deploy%20app", ok.id);
    assert!(
        seen.iter().all(|(p, t, _)| *p == path && t == "success"),
        "{seen:?}"
    );
    let body: serde_json::Value = serde_json::from_str(&seen[2].2).unwrap();
    assert_eq!(body["trigger"], "success");
    assert_eq!(body["execution"]["id"], ok.id);
    assert_eq!(body["execution"]["status"], "succeeded");
    assert_eq!(body["execution"]["argstring"], "-env prod");
    assert_eq!(body["execution"]["job"]["name"], "deploy app");
    assert_eq!(body["execution"]["job"]["group"], "web");
    assert_eq!(
        body["execution"]["href"],
        format!(
            "http://fd.example:4440/project/ops/execution/show/{}",
            ok.id
        )
    );

    // a failing run sends the XML form to the failure URL
    let mut failing = job.clone();
    failing.sequence.commands[0] = foredeck::Step::command("exit 3");
    let bad = engine
        .run_job("ops", &failing, RunOptions::default().option("env", "<&>"))
        .await
        .unwrap();
    assert_eq!(bad.status, ExecutionStatus::Failed);
    notifier.flush().await;
    let seen = hooks.seen.lock().unwrap().clone();
    let (path, trigger, xml) = seen.last().unwrap();
    assert_eq!((path.as_str(), trigger.as_str()), ("/failed", "failure"));
    assert!(
        xml.contains(&format!(
            "<notification trigger=\"failure\" executionId=\"{}\" status=\"failed\">",
            bad.id
        )),
        "{xml}"
    );
    // option values are escaped, never markup
    assert!(
        xml.contains("&lt;&amp;&gt;") && !xml.contains("<&>"),
        "{xml}"
    );
}

#[tokio::test]
async fn a_webhook_that_never_answers_is_given_up_within_the_deadline() {
    // accepts TCP and never answers
    let tarpit = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tarpit.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = tarpit.accept().await {
            held.push(s);
        }
    });
    let notifier = StandardNotifier::new(
        NotifyConfig {
            webhook: WebhookPolicy {
                attempts: 100,
                backoff: Duration::from_millis(10),
                request_timeout: Duration::from_millis(100),
                deadline: Duration::from_millis(600),
            },
            ..NotifyConfig::default()
        },
        None,
    )
    .unwrap();
    let engine = engine_with(notifier.clone(), Arc::new(MemoryStore::new()));
    let yaml = format!(
        "- name: j\n  sequence:\n    commands:\n      - exec: 'true'\n  notification:\n    onstart:\n      urls: http://{addr}/x\n    onsuccess:\n      urls: http://{addr}/y\n"
    );
    let job = parse_jobs_yaml(&yaml, "job.yaml").unwrap().remove(0);
    // the run is not held up by the hanging hook ...
    let e = engine
        .run_job("ops", &job, RunOptions::default())
        .await
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Succeeded);
    // ... and the deliveries end (this would hang otherwise)
    notifier.flush().await;
}

#[tokio::test]
async fn the_list_form_sends_every_notification_of_a_trigger() {
    // Rundeck's list form: several notifications for one trigger, each
    // with its own payload format
    let hooks = Hooks::default();
    let base = hook_server(hooks.clone()).await;
    let notifier = StandardNotifier::new(
        NotifyConfig {
            webhook: quick_policy(),
            ..NotifyConfig::default()
        },
        None,
    )
    .unwrap();
    let engine = engine_with(notifier.clone(), Arc::new(MemoryStore::new()));
    let yaml = format!(
        "- name: j\n  sequence:\n    commands:\n      - exec: 'true'\n  notification:\n    onsuccess:\n      - urls: '{base}/as-json'\n      - urls: '{base}/as-xml'\n        format: xml\n"
    );
    let job = parse_jobs_yaml(&yaml, "job.yaml").unwrap().remove(0);
    let e = engine
        .run_job("ops", &job, RunOptions::default())
        .await
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Succeeded);
    notifier.flush().await;
    let mut seen = hooks.seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(
        (seen[0].0.as_str(), seen[1].0.as_str()),
        ("/as-json", "/as-xml")
    );
    assert!(seen[0].2.starts_with('{'), "{seen:?}");
    assert!(seen[1].2.starts_with("<?xml"), "{seen:?}");
}

#[tokio::test]
async fn bad_notification_settings_are_reported_and_do_not_fail_the_run() {
    let notifier = StandardNotifier::new(NotifyConfig::default(), None).unwrap();
    let yaml = "- name: j\n  sequence:\n    commands:\n      - exec: 'true'\n  notification:\n    onsuccess:\n      urls: 'file:///etc/passwd, not a url'\n      email:\n        recipients: 'not-an-address'\n";
    let job = parse_jobs_yaml(yaml, "job.yaml").unwrap().remove(0);
    let mut exec = foredeck::Execution::new("ops", "j", "alice");
    exec.status = ExecutionStatus::Succeeded;
    let err = foredeck::Notifier::notify(
        &notifier,
        foredeck::NotificationTrigger::Success,
        &job,
        &exec,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("file:///etc/passwd"), "{err}");
    assert!(err.contains("not a url"), "{err}");
    assert!(err.contains("not-an-address"), "{err}");
    let engine = engine_with(notifier, Arc::new(MemoryStore::new()));
    let e = engine
        .run_job("ops", &job, RunOptions::default())
        .await
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Succeeded);
}

/// A real SMTP server (Python's aiosmtpd) writing to a Maildir.
struct Smtp {
    child: std::process::Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_smtp() -> Option<Smtp> {
    let have = std::process::Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    if !have {
        assert!(
            std::env::var_os("CI").is_none(),
            "aiosmtpd is missing (scripts/test.sh installs it with pip)"
        );
        eprintln!("skipping: python3 -m pip install aiosmtpd");
        return None;
    }
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let maildir = tempfile::tempdir().unwrap();
    let child = std::process::Command::new("python3")
        .args(["-m", "aiosmtpd", "-n", "-l"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(maildir.path().join("box"))
        .spawn()
        .unwrap();
    let smtp = Smtp {
        child,
        port,
        maildir,
    };
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(smtp);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("aiosmtpd did not start on port {port}");
}

fn mails(smtp: &Smtp) -> Vec<String> {
    let dir = smtp.maildir.path().join("box").join("new");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect()
}

#[tokio::test]
async fn email_reaches_a_real_smtp_server_with_the_log_attached() {
    let Some(smtp) = start_smtp() else { return };
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let notifier = StandardNotifier::new(
        NotifyConfig {
            smtp: Some(SmtpConfig {
                host: "127.0.0.1".into(),
                port: smtp.port,
                security: SmtpSecurity::None,
                username: None,
                password: None,
                from: "Foredeck <foredeck@example.com>".into(),
                timeout: Duration::from_secs(10),
            }),
            ..NotifyConfig::default()
        },
        Some(store.clone()),
    )
    .unwrap();
    let engine = engine_with(notifier.clone(), store);
    let yaml = "- name: nightly backup\n  group: db\n  sequence:\n    commands:\n      - exec: echo copying files; echo disk full >&2; exit 2\n  notification:\n    onfailure:\n      email:\n        recipients: ops@example.com, dba@example.com\n        attachLog: true\n";
    let job = parse_jobs_yaml(yaml, "job.yaml").unwrap().remove(0);
    let e = engine
        .run_job("ops", &job, RunOptions::default())
        .await
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Failed);
    notifier.flush().await;
    let got = mails(&smtp);
    assert_eq!(got.len(), 1, "{got:?}");
    let mail = &got[0];
    assert!(
        mail.contains("Subject: Failed [ops] db/nightly backup"),
        "{mail}"
    );
    assert!(
        mail.contains("ops@example.com") && mail.contains("dba@example.com"),
        "{mail}"
    );
    assert!(mail.contains(&format!("execution #{}", e.id)), "{mail}");
    assert!(mail.contains(&format!("execution-{}.log", e.id)), "{mail}");
    // the attachment is base64 or plain depending on its size and bytes
    let plain = mail.contains("copying files") && mail.contains("disk full");
    let encoded = mail
        .split("\n\n")
        .filter_map(|part| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(part.replace(['\r', '\n'], ""))
                .ok()
        })
        .any(|b| String::from_utf8_lossy(&b).contains("copying files"));
    assert!(plain || encoded, "{mail}");
}

#[tokio::test]
async fn webhooks_are_never_sent_to_metadata_or_link_local_addresses() {
    let notifier = StandardNotifier::new(NotifyConfig::default(), None).unwrap();
    // the URL's host may come from a property token, so the check is made
    // on the URL as sent
    let yaml = "- name: '169.254.169.254'\n  sequence:\n    commands:\n      - exec: 'true'\n  notification:\n    onsuccess:\n      urls: 'http://169.254.169.254/latest/meta-data/, http://[fd00:ec2::254]/x, http://[fe80::1]/x, http://${job.name}/from-a-token'\n";
    let job = parse_jobs_yaml(yaml, "job.yaml").unwrap().remove(0);
    let mut exec = foredeck::Execution::new("ops", "j", "alice");
    exec.status = ExecutionStatus::Succeeded;
    let err = foredeck::Notifier::notify(
        &notifier,
        foredeck::NotificationTrigger::Success,
        &job,
        &exec,
    )
    .await
    .unwrap_err()
    .to_string();
    for (url, address) in [
        (
            "http://169.254.169.254/latest/meta-data/",
            "169.254.169.254",
        ),
        ("http://[fd00:ec2::254]/x", "fd00:ec2::254"),
        ("http://${job.name}/from-a-token", "169.254.169.254"),
    ] {
        assert!(err.contains(url), "{url}: {err}");
        assert!(err.contains(address), "{url}: {err}");
    }
    assert!(err.contains("fe80::1"), "{err}");
    notifier.flush().await;
}
