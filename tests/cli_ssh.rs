//! `foredeck exec` and `foredeck run` over SSH against a real sshd on loopback.
#![allow(clippy::unwrap_used)]

#[path = "../crates/ssh/tests/harness/mod.rs"]
mod harness;

use std::process::{Command, Output};

fn foredeck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_foredeck"))
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A resource file of `count` nodes `node1`.. tagged `ssh`, each on its own
/// loopback address of the harness sshd.
fn ssh_nodes(sshd: &harness::Sshd, dir: &std::path::Path, count: usize) -> std::path::PathBuf {
    let mut yaml = String::new();
    for n in 1..=count {
        yaml.push_str(&format!(
            "node{n}:\n  hostname: 127.0.0.{n}:{}\n  username: {}\n  tags: ssh\n",
            sshd.port,
            harness::USER
        ));
    }
    let nodes = dir.join("nodes.yaml");
    std::fs::write(&nodes, yaml).unwrap();
    nodes
}

#[test]
fn exec_runs_a_command_on_ssh_nodes() {
    let Some(sshd) = harness::Sshd::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let nodes = ssh_nodes(&sshd, dir.path(), 3);
    let nodes = nodes.display().to_string();
    let key = sshd.user_key_path().display().to_string();
    let known = dir.path().join("kh/known_hosts");
    let known_s = known.display().to_string();
    let base = [
        "exec",
        "--nodes",
        &nodes,
        "--ssh-key",
        &key,
        "--ssh-known-hosts",
        &known_s,
    ];

    // strict with no known hosts: refused, naming the node
    let mut args = base.to_vec();
    args.extend([
        "--ssh-host-key-policy",
        "strict",
        "-F",
        "name: node1",
        "--",
        "true",
    ]);
    let out = foredeck(&args);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("unknown"), "{stderr}");

    // accept-new (default): runs on the three nodes and learns their keys
    let mut args = base.to_vec();
    args.extend([
        "-C",
        "3",
        "--",
        "echo",
        "hi from ${node.name} as",
        "$(id -un)",
    ]);
    let out = foredeck(&args);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for n in 1..=3 {
        let want = format!("node{n}: hi from node{n} as {}", harness::USER);
        assert!(stdout.contains(&want), "{stdout}\n{stderr}");
    }
    assert!(stderr.contains("3 node(s) succeeded"), "{stderr}");
    let learned = std::fs::read_to_string(&known).unwrap();
    assert_eq!(learned.lines().count(), 3, "{learned}");

    // a failing command exits 1 and names the node
    let mut args = base.to_vec();
    args.extend(["-F", "name: node2", "--", "exit 3"]);
    let out = foredeck(&args);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("node2"), "{}", text(&out.stderr));
}

#[test]
fn exec_logs_in_with_a_key_from_key_storage() {
    let Some(sshd) = harness::Sshd::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    let key = sshd.user_key_path().display().to_string();
    let out = foredeck(&[
        "keys",
        "--data-dir",
        &data,
        "put",
        "keys/ops/test.key",
        "--type",
        "private",
        "--file",
        &key,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let nodes = dir.path().join("nodes.yaml");
    std::fs::write(
        &nodes,
        format!(
            "stored:\n  hostname: 127.0.0.1:{}\n  username: {}\n  ssh-key-storage-path: keys/ops/test.key\nmissing:\n  hostname: 127.0.0.1:{}\n  username: {}\n  ssh-key-storage-path: keys/ops/nope\n",
            sshd.port,
            harness::USER,
            sshd.port,
            harness::USER
        ),
    )
    .unwrap();
    let nodes = nodes.display().to_string();
    let known = dir.path().join("known_hosts").display().to_string();
    let args = |filter: &'static str| {
        vec![
            "exec".to_owned(),
            "--nodes".into(),
            nodes.clone(),
            "--data-dir".into(),
            data.clone(),
            "--ssh-known-hosts".into(),
            known.clone(),
            "-F".into(),
            filter.into(),
            "--".into(),
            "echo".into(),
            "stored key works".into(),
        ]
    };
    let a = args("name: stored");
    let out = foredeck(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("stored key works"), "{stdout}");
    let a = args("name: missing");
    let out = foredeck(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("keys/ops/nope"), "{stderr}");
}

#[test]
fn exec_answers_sudo_with_a_password_from_key_storage() {
    let Some(sshd) = harness::Sshd::start() else {
        return;
    };
    if !harness::sudo_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    let pw = dir.path().join("pw");
    for (path, secret) in [
        ("keys/ops/sudo", harness::PASSWORD),
        ("keys/ops/wrong", "not it"),
    ] {
        std::fs::write(&pw, format!("{secret}\n")).unwrap();
        let out = foredeck(&[
            "keys",
            "--data-dir",
            &data,
            "put",
            path,
            "--type",
            "password",
            "--file",
            &pw.display().to_string(),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let nodes = dir.path().join("nodes.yaml");
    let mut yaml = String::new();
    for (name, secret) in [("good", "keys/ops/sudo"), ("bad", "keys/ops/wrong")] {
        yaml.push_str(&format!(
            "{name}:\n  hostname: 127.0.0.1:{}\n  username: {}\n  sudo-command-enabled: 'true'\n  sudo-password-storage-path: {secret}\n",
            sshd.port,
            harness::USER
        ));
    }
    std::fs::write(&nodes, yaml).unwrap();
    let nodes = nodes.display().to_string();
    let key = sshd.user_key_path().display().to_string();
    let known = dir.path().join("known_hosts").display().to_string();
    let exec = |filter: &str| {
        foredeck(&[
            "exec",
            "--nodes",
            &nodes,
            "--data-dir",
            &data,
            "--ssh-key",
            &key,
            "--ssh-known-hosts",
            &known,
            "-F",
            filter,
            "--",
            "sudo",
            "id",
            "-un",
        ])
    };
    let out = exec("name: good");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(stdout.trim(), "good: root", "{stderr}");
    assert!(!stdout.contains(harness::PASSWORD) && !stderr.contains(harness::PASSWORD));

    let out = exec("name: bad");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("bad") && stderr.contains("not accept"),
        "{stderr}"
    );
    assert!(!stdout.contains("not it") && !stderr.contains("not it"));
}

#[test]
fn exec_logs_in_with_the_ssh_agent_when_asked() {
    let Some(sshd) = harness::Sshd::start() else {
        return;
    };
    let agent = harness::Agent::start(sshd.dir.path());
    agent.add(&sshd.user_key_path());
    let dir = tempfile::tempdir().unwrap();
    let nodes = dir.path().join("nodes.yaml");
    std::fs::write(
        &nodes,
        format!(
            "a:\n  hostname: 127.0.0.1:{}\n  username: {}\n",
            sshd.port,
            harness::USER
        ),
    )
    .unwrap();
    let known = dir.path().join("known_hosts");
    let run = |agent_flag: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_foredeck"));
        c.arg("exec")
            .arg("--nodes")
            .arg(&nodes)
            .arg("--ssh-known-hosts")
            .arg(&known)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("SSH_AUTH_SOCK", &agent.socket);
        if agent_flag {
            c.arg("--ssh-agent");
        }
        c.args(["--", "echo", "via agent"]).output().unwrap()
    };
    // not asked: the agent is not used
    let out = run(false);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no SSH credentials"),
        "{}",
        text(&out.stderr)
    );
    let out = run(true);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(stdout.trim(), "via agent");
}

#[test]
fn exec_stays_within_a_small_open_files_limit() {
    let Some(sshd) = harness::Sshd::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = String::new();
    for n in 1..=80 {
        yaml.push_str(&format!(
            "n{n}:\n  hostname: 127.0.0.{n}:{}\n  username: {}\n",
            sshd.port,
            harness::USER
        ));
    }
    let nodes = dir.path().join("nodes.yaml");
    std::fs::write(&nodes, yaml).unwrap();
    // 80 pooled connections do not fit in 64 descriptors: the pool must
    // close idle ones
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 64 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_foredeck"))
        .arg("exec")
        .arg("--nodes")
        .arg(&nodes)
        .arg("--key")
        .arg(sshd.user_key_path())
        .arg("--ssh-known-hosts")
        .arg(dir.path().join("known_hosts"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--threads", "8", "--", "true"])
        .output()
        .unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("80 node(s) succeeded"), "{stderr}");
}

/// Rundeck's log filters on SSH nodes: a secure value is masked before the
/// capture filter sees it, each node captures its own value, the next step
/// reads it, and quieted lines leave the output.
#[test]
fn run_applies_log_filters_to_ssh_output() {
    let Some(sshd) = harness::Sshd::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let nodes = ssh_nodes(&sshd, dir.path(), 2);
    let job = dir.path().join("job.yaml");
    std::fs::write(
        &job,
        r#"
- name: filtered
  nodefilters:
    filter: 'tags: ssh'
    dispatch: {threadcount: 1}
  options:
  - name: pw
    secure: true
  sequence:
    strategy: sequential
    pluginConfig:
      LogFilter:
      - type: quiet-output
        config: {regex: '^noise', quietMatch: 'true'}
    commands:
    - exec: echo "noise from ${node.name}"; echo "TOKEN=${node.name}-${option.pw}"
      plugins:
        LogFilter:
        - type: key-value-data
          config: {regex: '^TOKEN=(.+)$', name: token}
    - exec: echo "captured ${data.token}"
"#,
    )
    .unwrap();
    let key = sshd.user_key_path().display().to_string();
    let known = dir.path().join("known_hosts").display().to_string();
    let out = foredeck(&[
        "run",
        "--file",
        &job.display().to_string(),
        "--nodes",
        &nodes.display().to_string(),
        "--ssh-key",
        &key,
        "--ssh-known-hosts",
        &known,
        "--option",
        "pw=s3cr3t-value",
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for n in 1..=2 {
        let want = format!("node{n}: captured node{n}-[SECURE]");
        assert!(stdout.contains(&want), "{want}\n{stdout}\n{stderr}");
    }
    assert!(!stdout.contains("noise"), "{stdout}");
    assert!(!stdout.contains("s3cr3t"), "{stdout}");
    assert!(!stderr.contains("s3cr3t"), "{stderr}");
}
