//! `foredeck serve` end to end: a real process on a loopback port, a real
//! SQLite data directory, HTTP over TCP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

struct Server {
    child: Child,
    out: BufReader<ChildStdout>,
    addr: String,
    /// What it printed before it was ready.
    banner: Vec<String>,
}

/// A child the test lost track of (a failed assertion) is killed, not left.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &Path, env: &[(&str, &str)]) -> Server {
    let data = data.to_str().unwrap();
    launch(&["--port", "0", "--data-dir", data], env)
}

/// `foredeck serve ARGS` with these environment variables set, and none of
/// the `FOREDECK_*` ones this test file sets elsewhere.
// The child is waited for by `Server::stop` or its `Drop`.
#[allow(clippy::zombie_processes)]
fn launch(args: &[&str], env: &[(&str, &str)]) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_foredeck"));
    cmd.arg("serve")
        .args(args)
        .env_remove("FOREDECK_BOOTSTRAP_TOKEN")
        .env_remove("FOREDECK_CONFIG")
        .env_remove("FOREDECK_PORT")
        .env_remove("FOREDECK_BIND")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut banner = Vec::new();
    loop {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            let status = child.wait().unwrap();
            panic!("the server exited ({status}) before it was ready: {banner:?}");
        }
        if let Some(rest) = line.trim().split("listening on http://").nth(1) {
            return Server {
                child,
                out,
                addr: rest.to_owned(),
                banner,
            };
        }
        banner.push(line.trim().to_owned());
    }
}

impl Server {
    fn get(&self, path: &str, token: &str) -> (u16, String) {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nX-Rundeck-Auth-Token: {token}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        let status = resp[9..12].parse().unwrap();
        let body = resp.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
        (status, body)
    }

    /// SIGTERM, then the exit status and the rest of stdout.
    fn stop(mut self) -> (bool, String) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let mut rest = String::new();
        self.out.read_to_string(&mut rest).unwrap();
        (self.child.wait().unwrap().success(), rest)
    }
}

fn token_from(banner: &[String]) -> String {
    banner
        .iter()
        .find_map(|l| l.split("(X-Rundeck-Auth-Token): ").nth(1))
        .expect("the token is printed on first start")
        .to_owned()
}

fn password_from(banner: &[String]) -> String {
    banner
        .iter()
        .find_map(|l| l.split("with password ").nth(1))
        .expect("the password is printed on first start")
        .to_owned()
}

/// Every byte of the data directory's database files.
fn database_bytes(data: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(data).unwrap() {
        let p = entry.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("foredeck.db")
        {
            all.extend(std::fs::read(p).unwrap());
        }
    }
    all
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn first_start_prints_secrets_once_and_stores_them_hashed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("foredeck-data");
    let server = start(&data, &[]);
    let token = token_from(&server.banner);
    let password = password_from(&server.banner);
    assert!(token.len() >= 32 && password.len() >= 16);

    let (status, body) = server.get("/api/59/system/info", &token);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"apiversion\":59"), "{body}");
    let (status, _) = server.get("/api/59/system/info", "not-the-token");
    assert_eq!(status, 403);
    let (status, body) = server.get("/api/12/system/info", &token);
    assert_eq!(status, 400, "{body}");

    let (ok, rest) = server.stop();
    assert!(ok, "a clean exit on SIGTERM: {rest}");
    let bytes = database_bytes(&data);
    assert!(!bytes.is_empty());
    assert!(!contains(&bytes, &token), "the token is stored hashed only");
    assert!(
        !contains(&bytes, &password),
        "the password is stored hashed only"
    );

    // A later start prints no secret and the token still works.
    let server = start(&data, &[]);
    assert!(
        server
            .banner
            .iter()
            .all(|l| !l.contains("password") && !l.contains("token")),
        "{:?}",
        server.banner
    );
    assert_eq!(
        server.get("/api/59/metrics/ping", &token),
        (200, "pong".into())
    );
    assert!(server.stop().0);
}

#[test]
fn bootstrap_token_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    // random (openssl rand -hex 32): a guessable bootstrap token is refused
    let token = "5b0e9d27c4a18f63e2b7d90a4c6f1e3852d7a9b0c4e61f83a2d5b7c9e0f14a36";
    let server = start(&data, &[("FOREDECK_BOOTSTRAP_TOKEN", token)]);
    assert!(
        server.banner.iter().all(|l| !l.contains(token)),
        "{:?}",
        server.banner
    );
    let (status, body) = server.get("/api/14/projects", token);
    assert_eq!((status, body.as_str()), (200, "[]"));
    assert!(server.stop().0);
    assert!(!contains(&database_bytes(&data), token));
}

#[test]
fn a_short_bootstrap_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_foredeck"))
        .args(["serve", "--port", "0", "--data-dir"])
        .arg(dir.path())
        .env("FOREDECK_BOOTSTRAP_TOKEN", "short")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("FOREDECK_BOOTSTRAP_TOKEN has about 12 bits of randomness; at least 128"),
        "{err}"
    );
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_config_file_sets_port_and_bind_and_the_environment_and_flags_override_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let (file_port, env_port, flag_port) = (free_port(), free_port(), free_port());
    let own = data.join("foredeck.toml");
    std::fs::write(
        &own,
        format!("# settings of this server\nport = {file_port}\nbind = \"127.0.0.2\"\n"),
    )
    .unwrap();
    let d = data.to_str().unwrap();

    // the data directory's foredeck.toml, read without being named
    let server = launch(&["--data-dir", d], &[]);
    assert_eq!(server.addr, format!("127.0.0.2:{file_port}"));
    assert!(
        server
            .banner
            .contains(&format!("Settings from {}", own.display())),
        "{:?}",
        server.banner
    );
    let token = token_from(&server.banner);
    assert_eq!(
        server.get("/api/59/metrics/ping", &token),
        (200, "pong".into())
    );
    assert!(server.stop().0);

    // the environment wins over the file, for that setting only
    let server = launch(
        &["--data-dir", d],
        &[("FOREDECK_PORT", &env_port.to_string())],
    );
    assert_eq!(server.addr, format!("127.0.0.2:{env_port}"));
    assert!(server.stop().0);

    // a flag wins over the environment and the file
    let server = launch(
        &["--data-dir", d, "--port", &flag_port.to_string()],
        &[("FOREDECK_PORT", &env_port.to_string())],
    );
    assert_eq!(server.addr, format!("127.0.0.2:{flag_port}"));
    assert!(server.stop().0);

    // a file named by FOREDECK_CONFIG replaces the data directory's
    let named = dir.path().join("serve.toml");
    std::fs::write(&named, "bind = \"127.0.0.3\"\nport = 0\n").unwrap();
    let server = launch(
        &["--data-dir", d],
        &[("FOREDECK_CONFIG", named.to_str().unwrap())],
    );
    assert!(server.addr.starts_with("127.0.0.3:"), "{}", server.addr);
    assert!(!server.addr.ends_with(&format!(":{file_port}")));
    assert!(server.stop().0);
}

#[test]
fn a_bad_config_file_exits_2_naming_the_file_the_key_and_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let serve = |args: &[&str], file: &Path, text: &str| {
        std::fs::write(file, text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_foredeck"))
            .arg("serve")
            .args(args)
            .env_remove("FOREDECK_CONFIG")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), err)
    };
    let own = data.join("foredeck.toml");
    let d = data.to_str().unwrap();
    let (code, err) = serve(
        &["--data-dir", d, "--port", "0"],
        &own,
        "port = 4440\nbnd = \"0.0.0.0\"\n",
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("{}:2:1: unknown key `bnd`", own.display())),
        "{err}"
    );
    std::fs::remove_file(&own).unwrap();

    let named = dir.path().join("serve.toml");
    let secret = "postgres://fd:hunter2@127.0.0.1/fd";
    let (code, err) = serve(
        &["--data-dir", d, "--config", named.to_str().unwrap()],
        &named,
        &format!("database-url = \"{secret}\"\n\nssh-connect-timeout = \"soon\"\n"),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "{}:3:23: key `ssh-connect-timeout`: invalid type: string",
            named.display()
        )),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");

    // a named file that does not exist is an error, not a default
    let missing = dir.path().join("missing.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_foredeck"))
        .args(["serve", "--data-dir", d, "--config"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&missing.display().to_string()), "{err}");
}

/// Anonymous resident memory of a process (`RssAnon`: what it allocated,
/// not its mapped files), in KiB.
fn rss_anon(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("RssAnon in {status}"))
}

/// Waits until the process's anonymous resident memory is under `limit`
/// KiB; what it last was when it never is.
fn anon_under(pid: u32, limit: u64) -> Result<(), u64> {
    let mut last = 0;
    for _ in 0..300 {
        last = rss_anon(pid);
        if last < limit {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err(last)
}

/// Argon2's default working memory (19 MiB), which every password hash and
/// check allocates and frees.
const ARGON2_KIB: u64 = 19 * 1024;

#[test]
fn password_hash_memory_is_handed_back_while_idle() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("d"), &[]);
    let password = password_from(&server.banner);
    let pid = server.child.id();
    // The first start hashed the admin password; an idle server holds less
    // than that hash's working memory in all.
    if let Err(kib) = anon_under(pid, ARGON2_KIB) {
        panic!("idle after the first start: {kib} KiB of anonymous memory resident");
    }
    // Nor does it keep what logins took, each of which checks a password.
    let before = rss_anon(pid);
    for _ in 0..3 {
        let body = format!("j_username=admin&j_password={password}");
        let mut s = TcpStream::connect(&server.addr).unwrap();
        write!(
            s,
            "POST /j_security_check HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            server.addr,
            body.len()
        )
        .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        assert!(resp.starts_with("HTTP/1.1 302"), "{resp}");
    }
    if let Err(kib) = anon_under(pid, before + ARGON2_KIB / 2) {
        panic!("idle after three logins: {kib} KiB of anonymous memory resident, {before} KiB before them");
    }
    assert!(server.stop().0);
}

#[test]
fn connection_caps_come_from_flags_and_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    // two connections from one address; a third is answered 503 and closed
    let server = launch(
        &["--port", "0", "--data-dir", d],
        &[("FOREDECK_MAX_CONNECTIONS_PER_ADDRESS", "2")],
    );
    let held: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(&server.addr).unwrap())
        .collect();
    let mut third = TcpStream::connect(&server.addr).unwrap();
    third
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut got = String::new();
    third.read_to_string(&mut got).unwrap();
    assert!(got.starts_with("HTTP/1.1 503"), "{got}");
    assert!(
        got.contains("too many connections are open from your address"),
        "{got}"
    );
    drop(held);
    assert!(server.stop().0);

    // bad caps stop the server with a message naming the flag
    for (args, want) in [
        (&["--max-connections", "0"][..], "--max-connections"),
        (
            &["--max-connections", "4000000000"][..],
            "must be below the open-files limit",
        ),
        (
            &["--max-connections-per-address", "none"][..],
            "--max-connections-per-address",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_foredeck"))
            .args(["serve", "--port", "0", "--data-dir", d])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}
