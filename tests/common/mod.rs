//! A real `foredeck serve` for the end-to-end tests: started on a free port
//! with a bootstrap admin token, talked to over plain HTTP/1.0, stopped with
//! SIGTERM (or killed when a test fails).
#![allow(dead_code)] // each test file uses its part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

/// A running server.
pub struct Serve {
    pub child: Child,
    /// Its standard output after the "listening on" line.
    pub out: BufReader<ChildStdout>,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The bootstrap admin token it was started with.
    pub token: String,
    /// What it printed before it was ready (the first start's password).
    pub banner: Vec<String>,
}

/// `foredeck serve` on a free port and `data`, with `token` as the admin's
/// API token; add arguments and environment before [`start`].
pub fn serve_command(data: &Path, token: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_foredeck"));
    cmd.args(["serve", "--port", "0", "--data-dir"])
        .arg(data)
        .env("FOREDECK_BOOTSTRAP_TOKEN", token)
        .env_remove("FOREDECK_SERVER_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    cmd
}

/// Starts `cmd` (from [`serve_command`]) and waits for its address.
// The child is waited for by `Serve::terminate` or its `Drop`.
#[allow(clippy::zombie_processes)]
pub fn start(mut cmd: Command, token: &str) -> Serve {
    let mut child = cmd.spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut banner = Vec::new();
    let addr = loop {
        let mut l = String::new();
        assert!(out.read_line(&mut l).unwrap() > 0, "the server exited");
        if let Some(a) = l.trim().split("listening on http://").nth(1) {
            break a.to_owned();
        }
        banner.push(l.trim_end().to_owned());
    };
    Serve {
        child,
        out,
        addr,
        token: token.to_owned(),
        banner,
    }
}

/// One HTTP/1.0 exchange with `token` (the response ends at EOF): status
/// and body.
pub fn exchange(
    addr: &str,
    token: &str,
    method: &str,
    path: &str,
    ctype: &str,
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nX-Rundeck-Auth-Token: {token}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp[9..12].parse().unwrap();
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A server that a failed assertion left running is killed, not left.
impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// [`exchange`] with this server.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        ctype: &str,
        body: &str,
    ) -> (u16, String) {
        exchange(&self.addr, token, method, path, ctype, body)
    }

    /// [`call`](Self::call) as the bootstrap admin.
    pub fn http(&self, method: &str, path: &str, ctype: &str, body: &str) -> (u16, String) {
        self.call(method, path, &self.token, ctype, body)
    }

    /// SIGTERM; whether it then exited cleanly, and what it printed.
    pub fn terminate(&mut self) -> (bool, String) {
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

/// The virtual environment of Rundeck's clients and schemathesis
/// (`scripts/client-venv.sh`, passed by `./scripts/test.sh` as
/// `FOREDECK_CLIENT_VENV`); `None` (the test is skipped) only outside CI.
pub fn client_venv() -> Option<PathBuf> {
    match std::env::var_os("FOREDECK_CLIENT_VENV") {
        Some(v) => Some(PathBuf::from(v)),
        None if std::env::var_os("CI").is_some() => panic!(
            "FOREDECK_CLIENT_VENV is not set: run ./scripts/test.sh, which builds the \
             clients' virtual environment (scripts/client-venv.sh)"
        ),
        None => {
            eprintln!("skipped: FOREDECK_CLIENT_VENV is not set (see scripts/client-venv.sh)");
            None
        }
    }
}
