//! Rundeck's own clients against a real `foredeck serve`: python-rundeck
//! 2.0 (`tests/clients/python_rundeck_flow.py`) and Ansible's
//! community.general rundeck modules (`tests/clients/ansible_rundeck.yml`),
//! from the pinned virtual environment `scripts/client-venv.sh` builds
//! (`./scripts/test.sh` passes it as `FOREDECK_CLIENT_VENV`). Each run's
//! access log is then searched for every secret the clients sent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::JoinHandle;

const TOKEN: &str = "3a1f0c9e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7";

/// A server with its access log (JSON lines, 4xx reasons included) read
/// from standard error into a string until it stops.
fn serve(data: &Path) -> (common::Serve, JoinHandle<String>) {
    let mut cmd = common::serve_command(data, TOKEN);
    cmd.args(["--log-format", "json"])
        .env("FOREDECK_LOG", "warn,foredeck::access=debug")
        .env_remove("FOREDECK_LOG_FORMAT")
        .env_remove("FOREDECK_CONFIG")
        .stderr(Stdio::piped());
    let mut server = common::start(cmd, TOKEN);
    let mut stderr = server.child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    (server, log)
}

fn password(server: &common::Serve) -> String {
    server
        .banner
        .iter()
        .find_map(|l| l.split("with password ").nth(1))
        .expect("the first start prints the admin password")
        .trim()
        .to_owned()
}

/// Runs `cmd`, killing it after `secs`; whether it succeeded and what it
/// printed.
fn run_bounded(mut cmd: Command, secs: u64) -> (bool, String) {
    let out = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = out.id();
    let watchdog = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(secs));
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    });
    let done = out.wait_with_output().unwrap();
    drop(watchdog);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&done.stdout),
        String::from_utf8_lossy(&done.stderr)
    );
    (done.status.success(), text)
}

/// Stops the server and asserts that its access log has lines and none of
/// `secrets`.
fn assert_log_clean(mut server: common::Serve, log: JoinHandle<String>, secrets: &[&str]) {
    let (stopped, _) = server.terminate();
    assert!(stopped, "the server did not stop cleanly");
    let text = log.join().unwrap();
    let lines = text
        .lines()
        .filter(|l| l.contains("foredeck::access"))
        .count();
    assert!(lines > 10, "too few access lines ({lines}): {text}");
    for s in secrets {
        assert!(
            !text.contains(s),
            "the access log holds a secret ({s:?}): {text}"
        );
    }
}

#[test]
fn python_rundeck_drives_the_server() {
    let Some(venv) = common::client_venv() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (server, log) = serve(&dir.path().join("data"));
    let password = password(&server);
    let mut cmd = Command::new(venv.join("bin/python"));
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/python_rundeck_flow.py"
    ))
    .env("FD_URL", server.url())
    .env("FD_TOKEN", TOKEN)
    .env("FD_PASSWORD", &password);
    let (ok, out) = run_bounded(cmd, 600);
    assert!(ok, "python-rundeck flow failed:\n{out}");
    // the key's value and the option values the flow sent
    assert_log_clean(
        server,
        log,
        &[
            TOKEN,
            &password,
            "s3cret",
            "from-python",
            "pyrundeck-opt",
            "form-opt-value",
        ],
    );
}

#[test]
fn ansible_rundeck_modules_drive_the_server() {
    let Some(venv) = common::client_venv() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (server, log) = serve(&dir.path().join("data"));
    let (status, _) = server.http(
        "POST",
        "/api/59/projects",
        "application/json",
        r#"{"name":"ansible-jobs"}"#,
    );
    assert_eq!(status, 201);
    let job = "- name: greet\n  options:\n    - name: greeting\n  sequence:\n    commands:\n      - exec: echo \"greeting=${option.greeting}\"\n";
    let (status, body) = server.http(
        "POST",
        "/api/59/project/ansible-jobs/jobs/import?fileformat=yaml",
        "application/yaml",
        job,
    );
    assert_eq!(status, 200, "{body}");
    let imported: serde_json::Value = serde_json::from_str(&body).unwrap();
    let job_id = imported["succeeded"][0]["id"].as_str().unwrap().to_owned();

    let mut cmd = Command::new(venv.join("bin/ansible-playbook"));
    cmd.args(["-i", "localhost,"])
        .arg("-e")
        .arg(format!(
            "ansible_python_interpreter={}",
            venv.join("bin/python").display()
        ))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/clients/ansible_rundeck.yml"
        ))
        .env("ANSIBLE_COLLECTIONS_PATH", venv.join("collections"))
        .env("ANSIBLE_LOCAL_TEMP", dir.path().join("ansible-tmp"))
        .env("ANSIBLE_HOME", dir.path().join("ansible-home"))
        .env("ANSIBLE_LOCALHOST_WARNING", "false")
        .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "false")
        .env("ANSIBLE_NOCOLOR", "1")
        .env("FD_URL", server.url())
        .env("FD_TOKEN", TOKEN)
        .env("FD_JOB", &job_id);
    let (ok, out) = run_bounded(cmd, 600);
    assert!(ok, "the playbook failed:\n{out}");
    assert!(out.contains("failed=0"), "{out}");
    assert_log_clean(server, log, &[TOKEN, "from-ansible"]);
}

/// A free loopback port (for the exporter, which takes a port number).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The exporter's Prometheus text, or `None` while it is not listening.
fn scrape(port: u16) -> Option<String> {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(s, "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    resp.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())
}

/// Sums the samples of `metric` (any labels) in Prometheus text.
fn sum_of(text: &str, metric: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{metric}{{")) || l.starts_with(&format!("{metric} ")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// An exporter process that is killed when the test ends.
struct Exporter(std::process::Child);

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn rundeck_exporter_scrapes_for_a_minute_without_api_errors() {
    let Some(venv) = common::client_venv() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (server, log) = serve(&dir.path().join("data"));
    let password = password(&server);
    // a project with a finished execution, for the execution metrics
    let (status, _) = server.http(
        "POST",
        "/api/59/projects",
        "application/json",
        r#"{"name":"scraped"}"#,
    );
    assert_eq!(status, 201);
    let (status, body) = server.http(
        "POST",
        "/api/59/project/scraped/run/command",
        "application/json",
        r#"{"exec":"echo scraped"}"#,
    );
    assert_eq!(status, 200, "{body}");

    // one exporter with the token, one with a password session (which reads
    // the metrics servlet at the root, /metrics/metrics)
    let start = |session: bool| {
        let port = free_port();
        let mut cmd = Command::new(venv.join("bin/rundeck_exporter"));
        cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--rundeck.url",
                &server.url(),
                "--rundeck.api.version",
                "59",
            ])
            .args(["--rundeck.projects.executions", "--rundeck.memory.stats"])
            .args(["--rundeck.cpu.stats", "--rundeck.cached.requests.ttl", "5"])
            .env_remove("RUNDECK_TOKEN")
            .env_remove("RUNDECK_USERPASSWORD")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if session {
            cmd.args(["--rundeck.username", "admin"])
                .env("RUNDECK_USERPASSWORD", &password);
        } else {
            cmd.env("RUNDECK_TOKEN", TOKEN);
        }
        (Exporter(cmd.spawn().unwrap()), port)
    };
    let exporters = [start(false), start(true)];
    for (i, (_, port)) in exporters.iter().enumerate() {
        let mut waited = 0;
        while scrape(*port).is_none() {
            assert!(waited < 600, "exporter {i} is not listening after a minute");
            std::thread::sleep(std::time::Duration::from_millis(100));
            waited += 1;
        }
    }
    // a minute of scrapes, ten seconds apart, as Prometheus would
    for round in 0..7 {
        if round > 0 {
            std::thread::sleep(std::time::Duration::from_secs(10));
        }
        for (i, (_, port)) in exporters.iter().enumerate() {
            let text = scrape(*port).unwrap();
            let errors = sum_of(&text, "rundeck_exporter_api_errors_total");
            assert_eq!(
                errors, 0.0,
                "exporter {i}, round {round}: API errors\n{text}"
            );
            for metric in [
                "rundeck_system_stats_memory_total_bytes",
                "rundeck_system_stats_memory_free_bytes",
                "rundeck_system_stats_memory_max_bytes",
                "rundeck_execution_mode_active",
            ] {
                assert!(
                    text.lines().any(|l| l.starts_with(metric)),
                    "exporter {i}, round {round}: no {metric}\n{text}"
                );
            }
        }
    }
    drop(exporters);
    assert_log_clean(server, log, &[TOKEN, &password]);
}
