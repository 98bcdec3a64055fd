//! A real OpenSSH `sshd` on loopback for tests: host and user keys generated
//! at test time, a dedicated user with `/bin/sh`, killed (with every session
//! it started) on drop.
//!
//! When `CI` is set and sshd cannot be started, `Sshd::start` panics so the
//! tests fail; otherwise they skip with a note.

#![allow(dead_code, clippy::unwrap_used)]

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The test user (created if missing).
pub const USER: &str = "foredecktest";
/// Its password (set at every run).
pub const PASSWORD: &str = "fd-Test-pw-42";

const SSHD: &str = "/usr/sbin/sshd";

pub struct Sshd {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
}

fn run(cmd: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Installs openssh-server when missing and prepares the user, once.
// tests only (File::lock is 1.89; the library's MSRV stays 1.85)
#[allow(clippy::incompatible_msrv)]
fn prepare() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        // nextest runs every test in its own process: serialise the user and
        // password set-up across processes, or one process's `usermod -p '*'`
        // can lock the password between another's `chpasswd` and its login
        let lock = std::fs::File::create("/tmp/foredeck-sshd-harness.lock")
            .map_err(|e| format!("harness lock: {e}"))?;
        lock.lock().map_err(|e| format!("harness lock: {e}"))?;
        if !Path::new(SSHD).exists() {
            run("apt-get", &["install", "-y", "-q", "openssh-server"])
                .or_else(|_| {
                    run("apt-get", &["update", "-q"])?;
                    run("apt-get", &["install", "-y", "-q", "openssh-server"])
                })
                .map_err(|e| format!("installing openssh-server: {e}"))?;
        }
        if Command::new("id")
            .arg(USER)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| !s.success())
            .unwrap_or(true)
        {
            // a concurrent creation by another test binary is fine
            let _ = run("useradd", &["-m", "-s", "/bin/sh", USER]);
        }
        if password_is_set() {
            std::fs::create_dir_all("/run/sshd").map_err(|e| format!("/run/sshd: {e}"))?;
            return Ok(());
        }
        run("usermod", &["-s", "/bin/sh", "-p", "*", USER])?;
        let mut child = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .map_err(|e| format!("chpasswd: {e}"))?;
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().ok_or("chpasswd stdin")?;
            writeln!(stdin, "{USER}:{PASSWORD}").map_err(|e| e.to_string())?;
        }
        if !child.wait().map_err(|e| e.to_string())?.success() {
            return Err("chpasswd failed".into());
        }
        std::fs::create_dir_all("/run/sshd").map_err(|e| format!("/run/sshd: {e}"))?;
        Ok(())
    })
    .clone()
}

/// Makes sure `sudo` is installed and lets the test user run anything as root
/// with its password, asked every time (no cached credentials, no lecture).
/// `false` (skip, with a note) when that is impossible and `CI` is not set.
pub fn sudo_ready() -> bool {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    let result = DONE.get_or_init(|| {
        prepare()?;
        if !Path::new("/usr/bin/sudo").exists() {
            run("apt-get", &["install", "-y", "-q", "sudo"])
                .or_else(|_| {
                    run("apt-get", &["update", "-q"])?;
                    run("apt-get", &["install", "-y", "-q", "sudo"])
                })
                .map_err(|e| format!("installing sudo: {e}"))?;
        }
        let rules =
            format!("Defaults:{USER} !lecture, timestamp_timeout=0\n{USER} ALL=(ALL:ALL) ALL\n");
        let path = format!("/etc/sudoers.d/{USER}");
        let tmp = format!("{path}.tmp{}", std::process::id());
        std::fs::write(&tmp, rules).map_err(|e| format!("{tmp}: {e}"))?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o440))
                .map_err(|e| e.to_string())?;
        }
        run("visudo", &["-c", "-q", "-f", &tmp])?;
        // atomic: concurrent test processes never see a half-written file
        std::fs::rename(&tmp, &path).map_err(|e| format!("{path}: {e}"))
    });
    match result {
        Ok(()) => true,
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("CI is set and sudo is not ready: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: sudo is not ready: {e}");
            false
        }
    }
}

/// Whether the test user already has a password hash (set by an earlier run).
fn password_is_set() -> bool {
    std::fs::read_to_string("/etc/shadow")
        .ok()
        .and_then(|shadow| {
            shadow
                .lines()
                .find(|l| l.starts_with(&format!("{USER}:")))
                .map(|l| l.split(':').nth(1).unwrap_or("").starts_with('$'))
        })
        .unwrap_or(false)
}

pub fn keygen(path: &Path) {
    keygen_with(path, &["-t", "ed25519", "-N", ""]);
}

/// `ssh-keygen` with these options (type, passphrase, format) into `path`.
pub fn keygen_with(path: &Path, options: &[&str]) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(path.with_extension("pub"));
    let out = Command::new("ssh-keygen")
        .arg("-q")
        .args(options)
        .args(["-C", "foredeck-test", "-f"])
        .arg(path)
        .output()
        .expect("ssh-keygen");
    assert!(
        out.status.success(),
        "ssh-keygen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

impl Sshd {
    /// Starts an sshd, or returns `None` (skip) when that is impossible and
    /// `CI` is not set.
    pub fn start() -> Option<Sshd> {
        match Self::try_start() {
            Ok(s) => Some(s),
            Err(e) if std::env::var_os("CI").is_some() => {
                panic!("CI is set and sshd cannot be started: {e}")
            }
            Err(e) => {
                eprintln!("SKIPPED: cannot start sshd: {e}");
                None
            }
        }
    }

    fn try_start() -> Result<Sshd, String> {
        prepare()?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
                .map_err(|e| e.to_string())?;
        }
        keygen(&dir.path().join("host_ed25519"));
        keygen(&dir.path().join("user_ed25519"));
        let public =
            std::fs::read(dir.path().join("user_ed25519.pub")).map_err(|e| e.to_string())?;
        std::fs::write(dir.path().join("authorized_keys"), public).map_err(|e| e.to_string())?;
        let mut sshd = Sshd {
            port: free_port(),
            dir,
            child: None,
        };
        sshd.launch()?;
        Ok(sshd)
    }

    fn launch(&mut self) -> Result<(), String> {
        let d = self.dir.path().display();
        let config = format!(
            "Port {port}\nListenAddress 0.0.0.0\nHostKey {d}/host_ed25519\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n\
             PasswordAuthentication yes\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
             MaxStartups 4000:30:8000\nMaxSessions 10\nAllowUsers {USER}\nLogLevel ERROR\n",
            port = self.port
        );
        let path = self.dir.path().join("sshd_config");
        std::fs::write(&path, config).map_err(|e| e.to_string())?;
        let log =
            std::fs::File::create(self.dir.path().join("sshd.log")).map_err(|e| e.to_string())?;
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("{SSHD}: {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::Read;
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 4];
                if s.read_exact(&mut buf).is_ok() && &buf == b"SSH-" {
                    return Ok(());
                }
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(format!("sshd exited ({status}): {}", self.log()));
            }
            if Instant::now() > deadline {
                return Err(format!("sshd does not answer: {}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// sshd's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    pub fn user_key_path(&self) -> PathBuf {
        self.dir.path().join("user_ed25519")
    }

    /// Adds the public half of the key at `private` to authorized_keys.
    pub fn authorize(&self, private: &Path) {
        use std::io::Write;
        let public = std::fs::read(private.with_extension("pub")).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.path().join("authorized_keys"))
            .unwrap();
        f.write_all(&public).unwrap();
    }

    pub fn user_key(&self) -> Vec<u8> {
        std::fs::read(self.user_key_path()).unwrap()
    }

    /// The host key's public text (`ssh-ed25519 AAAA... comment`).
    pub fn host_public_key(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("host_ed25519.pub")).unwrap()
    }

    /// A node on loopback address 127.0.0.`n` of this sshd.
    pub fn node(&self, n: u8) -> foredeck_core::Node {
        foredeck_core::Node::new(format!("node{n}"))
            .with("hostname", format!("127.0.0.{n}:{}", self.port))
            .with("username", USER)
    }

    /// Kills sshd and every process it started (sessions included).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pids = descendants(child.id());
            let _ = child.kill();
            for pid in pids {
                signal(pid, Signal::SIGKILL);
            }
            let _ = child.wait();
        }
    }

    /// Stops (SIGSTOP) every process sshd started: its connections go
    /// silent without closing, like a host that vanished. The listener
    /// keeps accepting new connections.
    pub fn freeze_sessions(&self) {
        if let Some(child) = &self.child {
            for pid in descendants(child.id()) {
                let _ = Command::new("kill")
                    .args(["-STOP", &pid.to_string()])
                    .status();
            }
        }
    }

    /// Restarts sshd on the same port, with a new host key if asked.
    pub fn restart(&mut self, new_host_key: bool) {
        self.stop();
        if new_host_key {
            keygen(&self.dir.path().join("host_ed25519"));
        }
        self.launch().expect("restarting sshd");
    }
}

fn signal(pid: u32, sig: Signal) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), sig);
    }
}

/// All descendants of `pid`, from /proc.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid ...
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
                continue;
            };
            if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
                parents.push((p, ppid));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for &(child, parent) in &parents {
            if parent == p && !out.contains(&child) {
                out.push(child);
                frontier.push(child);
            }
        }
    }
    out
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether a process of the test user runs exactly `cmdline`
/// (arguments joined by spaces), from /proc.
pub fn remote_process_running(cmdline: &str) -> bool {
    let Some(uid) = user_id() else {
        return false;
    };
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return false;
    };
    rd.flatten().any(|e| {
        if !e
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            return false;
        }
        let Ok(raw) = std::fs::read(e.path().join("cmdline")) else {
            return false;
        };
        let args: Vec<String> = raw
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.join(" ") != cmdline {
            return false;
        }
        std::fs::read_to_string(e.path().join("status"))
            .ok()
            .and_then(|st| {
                st.lines()
                    .find_map(|l| l.strip_prefix("Uid:"))
                    .and_then(|l| l.split_whitespace().next().map(str::to_owned))
            })
            .is_some_and(|u| u == uid)
    })
}

/// The test user's uid.
fn user_id() -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == USER).then(|| f.nth(1).map(str::to_owned))?
    })
}

/// An ssh-agent on its own socket, killed on drop.
pub struct Agent {
    child: Child,
    pub socket: PathBuf,
}

impl Agent {
    pub fn start(dir: &Path) -> Agent {
        let socket = dir.join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "ssh-agent does not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Agent { child, socket }
    }

    pub fn add(&self, key: &Path) {
        let out = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &self.socket)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
