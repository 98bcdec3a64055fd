//! SshExecutor against a real OpenSSH sshd on loopback.

#![allow(clippy::unwrap_used)]

mod harness;

use foredeck_core::executor::{Executor, NodeCommand, NodeOutcome, NodeRequest, OutputSink};
use foredeck_core::{Node, Stream};
use foredeck_ssh::{
    fingerprint, ConfigCredentials, FileKnownHosts, HostKeyPolicy, KnownHosts, MemoryKnownHosts,
    SshConfig, SshError, SshExecutor,
};
use harness::Sshd;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn executor(sshd: &Sshd, config: SshConfig) -> SshExecutor {
    SshExecutor::with_config(
        config,
        Arc::new(ConfigCredentials::new().with_key(sshd.user_key())),
        Arc::new(MemoryKnownHosts::new()),
    )
}

fn shell(node: Node, line: &str) -> NodeRequest {
    NodeRequest {
        node,
        command: NodeCommand::Shell(line.into()),
        env: Vec::new(),
        timeout: None,
    }
}

/// Runs a request, returning the outcome and the (stream, line) pairs.
async fn run(
    ex: &SshExecutor,
    req: NodeRequest,
) -> (foredeck_core::Result<NodeOutcome>, Vec<(Stream, String)>) {
    run_with(ex, req, CancellationToken::new()).await
}

async fn run_with(
    ex: &SshExecutor,
    req: NodeRequest,
    abort: CancellationToken,
) -> (foredeck_core::Result<NodeOutcome>, Vec<(Stream, String)>) {
    let (sink, mut rx) = OutputSink::channel(1024);
    let collect = tokio::spawn(async move {
        let mut lines = Vec::new();
        while let Some(l) = rx.recv().await {
            lines.push((l.stream, l.text));
        }
        lines
    });
    let outcome = ex.run(req, sink, abort).await;
    (outcome, collect.await.unwrap())
}

fn texts(lines: &[(Stream, String)], stream: Stream) -> Vec<&str> {
    lines
        .iter()
        .filter(|(s, _)| *s == stream)
        .map(|(_, t)| t.as_str())
        .collect()
}

/// Polls `cond` for up to 10 s.
async fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond()
}

#[tokio::test]
async fn command_output_and_exit_code() {
    let Some(sshd) = Sshd::start() else { return };
    let ex = executor(&sshd, SshConfig::default());
    let (outcome, lines) = run(
        &ex,
        shell(
            sshd.node(1),
            "echo out1; echo err1 >&2; echo out2; printf 'tail'; exit 3",
        ),
    )
    .await;
    let outcome = outcome.unwrap();
    assert_eq!(outcome.exit_code, Some(3), "{outcome:?}");
    assert!(!outcome.success());
    assert_eq!(texts(&lines, Stream::Stdout), ["out1", "out2", "tail"]);
    assert_eq!(texts(&lines, Stream::Stderr), ["err1"]);

    let (outcome, lines) = run(&ex, shell(sshd.node(1), "whoami; read x; echo \"[$x]\"")).await;
    assert!(outcome.unwrap().success());
    // stdin is empty
    assert_eq!(texts(&lines, Stream::Stdout), [harness::USER, "[]"]);
}

#[tokio::test]
async fn non_utf8_output_and_exit_signal() {
    let Some(sshd) = Sshd::start() else { return };
    let ex = executor(&sshd, SshConfig::default());
    let req = shell(
        sshd.node(1),
        r"printf 'a\377b\r\nc\n'; printf '\351t\351' >&2",
    );
    // a sink large enough that the run never waits for a reader
    let (sink, mut rx) = OutputSink::channel(16);
    let outcome = ex.run(req, sink, CancellationToken::new()).await;
    assert!(outcome.unwrap().success());
    let mut lines = Vec::new();
    while let Ok(l) = rx.try_recv() {
        lines.push(l);
    }
    let shown: Vec<_> = lines.iter().map(|l| (l.stream, l.text.as_str())).collect();
    assert_eq!(
        shown,
        [
            (Stream::Stdout, "a\u{fffd}b"),
            (Stream::Stdout, "c"),
            (Stream::Stderr, "\u{fffd}t\u{fffd}")
        ]
    );
    // the bytes as printed are kept beside the text
    assert_eq!(lines[0].raw.as_deref(), Some(&b"a\xffb"[..]));
    assert_eq!(lines[1].raw, None);
    assert_eq!(lines[2].raw.as_deref(), Some(&b"\xe9t\xe9"[..]));

    let (outcome, _) = run(&ex, shell(sshd.node(1), "kill -TERM $$")).await;
    let outcome = outcome.unwrap();
    assert_eq!(outcome.signal.as_deref(), Some("TERM"), "{outcome:?}");
    assert!(!outcome.success());
}

#[tokio::test]
async fn environment_reaches_the_command() {
    let Some(sshd) = Sshd::start() else { return };
    let ex = executor(&sshd, SshConfig::default());
    let mut req = shell(sshd.node(1), "echo \"$RD_OPTION_X|$RD_NODE_NAME\"");
    req.env = vec![
        ("RD_OPTION_X".into(), "it's $HOME `id` \"q\"".into()),
        ("RD_NODE_NAME".into(), "node1".into()),
    ];
    let (outcome, lines) = run(&ex, req).await;
    assert!(outcome.unwrap().success());
    assert_eq!(
        texts(&lines, Stream::Stdout),
        ["it's $HOME `id` \"q\"|node1"]
    );

    let mut req = shell(sshd.node(1), "true");
    req.env = vec![("BAD;rm -rf /".into(), "x".into())];
    let err = run(&ex, req).await.0.unwrap_err().to_string();
    assert!(
        err.contains("node1") && err.contains("invalid environment"),
        "{err}"
    );
}

#[tokio::test]
async fn scripts_run_with_interpreter_and_args_and_are_removed() {
    let Some(sshd) = Sshd::start() else { return };
    let ex = executor(&sshd, SshConfig::default());
    let script = |content: &str, interpreter: Option<&str>, quoted: bool| NodeRequest {
        node: sshd.node(1),
        command: NodeCommand::Script {
            content: content.as_bytes().to_vec(),
            args: vec!["a b".into(), "c".into()],
            interpreter: interpreter.map(str::to_owned),
            args_quoted: quoted,
            file_extension: Some("sh".into()),
        },
        env: vec![("RD_JOB_NAME".into(), "j".into())],
        timeout: None,
    };
    // no #!: run by /bin/sh
    let (outcome, lines) = run(
        &ex,
        script(
            "echo \"$0\"; echo \"[$1][$2][$RD_JOB_NAME]\"; exit 4",
            None,
            false,
        ),
    )
    .await;
    assert_eq!(outcome.unwrap().exit_code, Some(4));
    let out = texts(&lines, Stream::Stdout);
    let path = out[0].to_owned();
    assert!(
        path.starts_with("/tmp/foredeck-") && path.ends_with(".sh"),
        "{path}"
    );
    assert_eq!(out[1], "[a b][c][j]");
    assert!(
        eventually(|| !std::path::Path::new(&path).exists()).await,
        "script {path} left behind"
    );

    // interpreter with quoted args: `sh -c "path 'a b' c"`
    let (outcome, lines) = run(
        &ex,
        script("#!/bin/sh\necho \"[$1][$2]\"\n", Some("/bin/sh -c"), true),
    )
    .await;
    assert!(outcome.unwrap().success());
    assert_eq!(texts(&lines, Stream::Stdout), ["[a b][c]"]);

    // interpreter without quoting, and a file that must be executable
    let (outcome, lines) = run(
        &ex,
        script(
            "#!/bin/sh\necho \"$0 [$1][$2]\"\nls -l \"$0\" | cut -c1-10\n",
            None,
            false,
        ),
    )
    .await;
    assert!(outcome.unwrap().success());
    let out = texts(&lines, Stream::Stdout);
    assert!(out[0].ends_with(" [a b][c]"), "{out:?}");
    assert_eq!(out[1], "-rwx------");
}

#[tokio::test]
async fn copy_file_writes_bytes() {
    let Some(sshd) = Sshd::start() else { return };
    let ex = executor(&sshd, SshConfig::default());
    let dest = format!("/tmp/foredeck-copy-{}-{}", std::process::id(), sshd.port);
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    ex.copy_file(&sshd.node(1), &data, &dest).await.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    std::fs::remove_file(&dest).unwrap();

    let err = ex
        .copy_file(&sshd.node(1), b"x", "/nonexistent-dir/f")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("node1") && err.contains("/nonexistent-dir/f"),
        "{err}"
    );
}

#[tokio::test]
async fn key_and_password_auth_and_wrong_key() {
    let Some(sshd) = Sshd::start() else { return };
    // key from a file named by the node
    let ex = SshExecutor::new(ConfigCredentials::new());
    let node = sshd
        .node(2)
        .with("ssh-keypath", sshd.user_key_path().display().to_string());
    let (outcome, _) = run(&ex, shell(node, "true")).await;
    assert!(outcome.unwrap().success());

    // password
    let ex = SshExecutor::new(ConfigCredentials::new().with_password(harness::PASSWORD));
    let (outcome, lines) = run(&ex, shell(sshd.node(1), "echo pw")).await;
    assert!(outcome.unwrap().success());
    assert_eq!(texts(&lines, Stream::Stdout), ["pw"]);

    // wrong password
    let ex = SshExecutor::new(ConfigCredentials::new().with_password("wrong"));
    let err = run(&ex, shell(sshd.node(1), "true"))
        .await
        .0
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("authentication failed for user foredecktest") && err.contains("password"),
        "{err}"
    );

    // a key sshd does not know
    let other = sshd.dir.path().join("other_key");
    harness::keygen(&other);
    let ex = SshExecutor::new(ConfigCredentials::new().with_key_file(&other));
    let err = run(&ex, shell(sshd.node(1), "true"))
        .await
        .0
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("node1")
            && err.contains("authentication failed for user foredecktest")
            && err.contains("publickey"),
        "{err}"
    );

    // garbage instead of a key
    let ex = SshExecutor::new(ConfigCredentials::new().with_key(b"not a key".to_vec()));
    let err = run(&ex, shell(sshd.node(1), "true"))
        .await
        .0
        .unwrap_err()
        .to_string();
    assert!(err.contains("private key"), "{err}");
}

#[tokio::test]
async fn rsa_and_passphrase_protected_keys() {
    let Some(sshd) = Sshd::start() else { return };
    let dir = sshd.dir.path();
    let cases: [(&str, &[&str], Option<&str>); 3] = [
        ("rsa_openssh", &["-t", "rsa", "-b", "3072", "-N", ""], None),
        (
            "rsa_pem",
            &["-t", "rsa", "-b", "2048", "-m", "PEM", "-N", ""],
            None,
        ),
        (
            "ed25519_pass",
            &["-t", "ed25519", "-N", "open sesame"],
            Some("open sesame"),
        ),
    ];
    for (name, options, passphrase) in cases {
        let path = dir.join(name);
        harness::keygen_with(&path, options);
        sshd.authorize(&path);
        let mut creds = ConfigCredentials::new().with_key_file(&path);
        if let Some(p) = passphrase {
            creds = creds.with_passphrase(p);
        }
        let (outcome, lines) = run(&SshExecutor::new(creds), shell(sshd.node(1), "echo in")).await;
        assert!(outcome.unwrap().success(), "{name}");
        assert_eq!(texts(&lines, Stream::Stdout), ["in"], "{name}");
    }

    // an encrypted key without its passphrase, or with a wrong one
    for creds in [
        ConfigCredentials::new().with_key_file(dir.join("ed25519_pass")),
        ConfigCredentials::new()
            .with_key_file(dir.join("ed25519_pass"))
            .with_passphrase("wrong"),
    ] {
        let err = run(&SshExecutor::new(creds), shell(sshd.node(1), "true"))
            .await
            .0
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot load the private key"), "{err}");
    }
}

#[tokio::test]
async fn keys_from_an_ssh_agent() {
    let Some(sshd) = Sshd::start() else { return };
    let agent = harness::Agent::start(sshd.dir.path());
    let creds = || ConfigCredentials::new().with_agent(Some(agent.socket.clone()));

    // an empty agent: a clear error
    let err = run(&SshExecutor::new(creds()), shell(sshd.node(1), "true"))
        .await
        .0
        .unwrap_err()
        .to_string();
    assert!(err.contains("holds no keys"), "{err}");

    // a key sshd does not know, then the right one: the second is used
    let other = sshd.dir.path().join("other_key");
    harness::keygen(&other);
    agent.add(&other);
    let err = run(&SshExecutor::new(creds()), shell(sshd.node(1), "true"))
        .await
        .0
        .unwrap_err()
        .to_string();
    assert!(err.contains("ssh-agent, 1 key(s) tried"), "{err}");
    agent.add(&sshd.user_key_path());
    let (outcome, lines) = run(
        &SshExecutor::new(creds()),
        shell(sshd.node(1), "echo agent"),
    )
    .await;
    assert!(outcome.unwrap().success());
    assert_eq!(texts(&lines, Stream::Stdout), ["agent"]);

    // asked for by the node while a password is the default
    let ex = SshExecutor::new(
        ConfigCredentials::new()
            .with_password("not used")
            .with_agent(Some(agent.socket.clone())),
    );
    let node = sshd.node(2).with("ssh-authentication", "agent");
    assert!(run(&ex, shell(node, "true")).await.0.unwrap().success());

    // no agent at that socket
    let gone = SshExecutor::new(
        ConfigCredentials::new().with_agent(Some(sshd.dir.path().join("nothing.sock"))),
    );
    let err = run(&gone, shell(sshd.node(1), "true"))
        .await
        .0
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot reach the ssh-agent"), "{err}");
}

#[tokio::test]
async fn host_key_policies() {
    let Some(mut sshd) = Sshd::start() else {
        return;
    };
    let kh_path = sshd.dir.path().join("known_hosts");
    let with_policy = |sshd: &Sshd, policy| {
        SshExecutor::with_config(
            SshConfig {
                host_key_policy: policy,
                ..SshConfig::default()
            },
            Arc::new(ConfigCredentials::new().with_key(sshd.user_key())),
            Arc::new(FileKnownHosts::new(&kh_path)),
        )
    };
    // strict: unknown refused
    let err = run(
        &with_policy(&sshd, HostKeyPolicy::Strict),
        shell(sshd.node(1), "true"),
    )
    .await
    .0
    .unwrap_err()
    .to_string();
    assert!(err.contains("unknown") && err.contains("strict"), "{err}");
    assert!(!kh_path.exists());

    // accept-new (the default) learns the key
    let old_fp = fingerprint(&sshd.host_public_key());
    let (outcome, _) = run(
        &with_policy(&sshd, HostKeyPolicy::default()),
        shell(sshd.node(1), "true"),
    )
    .await;
    assert!(outcome.unwrap().success());
    let label = format!("[127.0.0.1]:{}", sshd.port);
    let kh = FileKnownHosts::new(&kh_path);
    let learned = kh.get(&label).await.unwrap().expect("learned");
    assert_eq!(fingerprint(&learned), old_fp);
    // strict accepts it now
    let (outcome, _) = run(
        &with_policy(&sshd, HostKeyPolicy::Strict),
        shell(sshd.node(1), "true"),
    )
    .await;
    assert!(outcome.unwrap().success());

    // a changed key is refused, naming both fingerprints
    sshd.restart(true);
    let new_fp = fingerprint(&sshd.host_public_key());
    assert_ne!(old_fp, new_fp);
    let err = run(
        &with_policy(&sshd, HostKeyPolicy::AcceptNew),
        shell(sshd.node(1), "true"),
    )
    .await
    .0
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("node1")
            && err.contains("CHANGED")
            && err.contains(&old_fp)
            && err.contains(&new_fp),
        "{err}"
    );
    // and nothing was overwritten
    assert_eq!(fingerprint(&kh.get(&label).await.unwrap().unwrap()), old_fp);

    // off accepts, per executor and per node attribute
    let (outcome, _) = run(
        &with_policy(&sshd, HostKeyPolicy::Off),
        shell(sshd.node(1), "true"),
    )
    .await;
    assert!(outcome.unwrap().success());
    let node = sshd.node(1).with("ssh-host-key-policy", "off");
    let (outcome, _) = run(
        &with_policy(&sshd, HostKeyPolicy::Strict),
        shell(node, "true"),
    )
    .await;
    assert!(outcome.unwrap().success());
    assert_eq!(fingerprint(&kh.get(&label).await.unwrap().unwrap()), old_fp);
}

#[tokio::test]
async fn tarpit_fails_within_the_connect_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tarpit = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let timeout = Duration::from_millis(700);
    let ex = SshExecutor::with_config(
        SshConfig {
            connect_timeout: timeout,
            ..SshConfig::default()
        },
        Arc::new(ConfigCredentials::new().with_password("x")),
        Arc::new(MemoryKnownHosts::new()),
    );
    let node = Node::new("pit")
        .with("hostname", format!("127.0.0.1:{port}"))
        .with("username", "u");
    let started = Instant::now();
    let res = tokio::time::timeout(timeout * 3, run(&ex, shell(node, "true"))).await;
    let elapsed = started.elapsed();
    let (outcome, _) = res.unwrap_or_else(|_| panic!("hung for {elapsed:?}"));
    let err = outcome.unwrap_err().to_string();
    assert!(
        err.contains("pit") && err.contains("handshake timed out"),
        "{err}"
    );
    // Rundeck's ssh-connect-timeout (ms) on the node wins
    let node = Node::new("pit2")
        .with("hostname", format!("127.0.0.1:{port}"))
        .with("ssh-connect-timeout", "200");
    let started = Instant::now();
    let err = run(&ex, shell(node, "true"))
        .await
        .0
        .unwrap_err()
        .to_string();
    assert!(err.contains("pit2") && err.contains("200ms"), "{err}");
    assert!(started.elapsed() < timeout, "{:?}", started.elapsed());
    tarpit.abort();

    // a closed port is refused, naming the address
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let node = Node::new("gone").with("hostname", format!("127.0.0.1:{port}"));
    let err = run(&ex, shell(node, "true"))
        .await
        .0
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("gone") && err.contains("cannot connect") && err.contains(&port.to_string()),
        "{err}"
    );
    // a bad policy attribute is refused before connecting
    let node = Node::new("badpolicy")
        .with("hostname", format!("127.0.0.1:{port}"))
        .with("ssh-host-key-policy", "trust-me");
    let err = run(&ex, shell(node, "true"))
        .await
        .0
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("badpolicy") && err.contains("trust-me"),
        "{err}"
    );
    // no hostname
    let err = run(&ex, shell(Node::new("nohost"), "true"))
        .await
        .0
        .unwrap_err()
        .to_string();
    assert!(err.contains("nohost") && err.contains("hostname"), "{err}");
}

#[tokio::test]
async fn sshd_stopped_mid_run_fails_and_the_pool_reconnects() {
    let Some(mut sshd) = Sshd::start() else {
        return;
    };
    let ex = executor(
        &sshd,
        SshConfig {
            host_key_policy: HostKeyPolicy::Off,
            ..SshConfig::default()
        },
    );
    let (outcome, _) = run(&ex, shell(sshd.node(1), "true")).await;
    assert!(outcome.unwrap().success());
    let running = {
        let ex = ex.clone();
        let node = sshd.node(1);
        tokio::spawn(async move { run(&ex, shell(node, "echo started; sleep 30")).await })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    sshd.stop();
    let (outcome, _) = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("hung after sshd stopped")
        .unwrap();
    match outcome {
        Err(e) => assert!(e.to_string().contains("node1"), "{e}"),
        Ok(o) => assert!(!o.success(), "{o:?}"),
    }
    // a new sshd on the same port: the dead connection is replaced
    sshd.restart(false);
    let (outcome, lines) = run(&ex, shell(sshd.node(1), "echo again")).await;
    assert!(outcome.unwrap().success());
    assert_eq!(texts(&lines, Stream::Stdout), ["again"]);
    assert_eq!(ex.pool_stats().connections_opened, 2);
}

#[tokio::test]
async fn concurrent_steps_share_one_connection() {
    let Some(sshd) = Sshd::start() else { return };
    let ex = executor(&sshd, SshConfig::default());
    let mut tasks = Vec::new();
    for i in 0..10 {
        let ex = ex.clone();
        let node = sshd.node(3);
        tasks.push(tokio::spawn(async move {
            run(&ex, shell(node, &format!("sleep 0.3; echo {i}"))).await
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let (outcome, lines) = t.await.unwrap();
        assert!(outcome.unwrap().success());
        assert_eq!(texts(&lines, Stream::Stdout), [i.to_string()]);
    }
    let stats = ex.pool_stats();
    assert_eq!(stats.connections_opened, 1, "{stats:?}");
    assert_eq!(stats.open_connections, 1, "{stats:?}");
    assert_eq!(stats.active_sessions, 0, "{stats:?}");

    // more than max_sessions at once: they wait for a channel, still one connection
    let mut tasks = Vec::new();
    for _ in 0..25 {
        let ex = ex.clone();
        let node = sshd.node(3);
        tasks.push(tokio::spawn(async move {
            run(&ex, shell(node, "sleep 0.1")).await
        }));
    }
    for t in tasks {
        let outcome = t.await.unwrap().0;
        assert!(
            outcome.as_ref().is_ok_and(|o| o.success()),
            "{outcome:?}\nsshd log:\n{}",
            sshd.log()
        );
    }
    assert_eq!(ex.pool_stats().connections_opened, 1);
    // another address is another connection
    let (outcome, _) = run(&ex, shell(sshd.node(4), "true")).await;
    assert!(outcome.unwrap().success());
    assert_eq!(ex.pool_stats().connections_opened, 2);
}

#[tokio::test]
async fn max_connections_closes_the_least_recently_used_idle_one() {
    let Some(sshd) = Sshd::start() else { return };
    let ex = executor(
        &sshd,
        SshConfig {
            max_connections: Some(2),
            ..SshConfig::default()
        },
    );
    for n in 1..=3 {
        let (outcome, _) = run(&ex, shell(sshd.node(n), "true")).await;
        assert!(outcome.unwrap().success());
        assert!(
            ex.pool_stats().open_connections <= 2,
            "{:?}",
            ex.pool_stats()
        );
    }
    assert_eq!(ex.pool_stats().connections_opened, 3);
    // node 3 and node 2 are pooled; node 1 was closed and opens again
    for n in [3, 2] {
        assert!(run(&ex, shell(sshd.node(n), "true"))
            .await
            .0
            .unwrap()
            .success());
    }
    assert_eq!(ex.pool_stats().connections_opened, 3);
    assert!(run(&ex, shell(sshd.node(1), "true"))
        .await
        .0
        .unwrap()
        .success());
    assert_eq!(ex.pool_stats().connections_opened, 4);

    // connections in use are never closed: three at once go over the bound
    let mut tasks = Vec::new();
    for n in 4..=6 {
        let (ex, node) = (ex.clone(), sshd.node(n));
        tasks.push(tokio::spawn(async move {
            run(&ex, shell(node, "sleep 0.5; echo done")).await
        }));
    }
    for t in tasks {
        let (outcome, lines) = t.await.unwrap();
        assert!(outcome.unwrap().success());
        assert_eq!(texts(&lines, Stream::Stdout), ["done"]);
    }
    assert_eq!(ex.pool_stats().connections_opened, 7);
    assert!(
        ex.pool_stats().open_connections <= 3,
        "{:?}",
        ex.pool_stats()
    );
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let Some(sshd) = Sshd::start() else { return };
    let ex = executor(
        &sshd,
        SshConfig {
            idle_timeout: Duration::from_millis(300),
            ..SshConfig::default()
        },
    );
    let (outcome, _) = run(&ex, shell(sshd.node(1), "true")).await;
    assert!(outcome.unwrap().success());
    assert!(eventually(|| ex.pool_stats().open_connections == 0).await);
    let (outcome, _) = run(&ex, shell(sshd.node(1), "true")).await;
    assert!(outcome.unwrap().success());
    assert_eq!(ex.pool_stats().connections_opened, 2);
}

#[tokio::test]
async fn abort_kills_the_remote_process() {
    let Some(sshd) = Sshd::start() else { return };
    let ex = executor(&sshd, SshConfig::default());
    let abort = CancellationToken::new();
    let marker = format!("sleep {}", 6000 + sshd.port % 1000);
    let task = {
        let ex = ex.clone();
        let req = shell(
            sshd.node(1),
            &format!("echo started; {marker}; echo not-reached"),
        );
        let abort = abort.clone();
        tokio::spawn(async move { run_with(&ex, req, abort).await })
    };
    assert!(
        eventually(|| harness::remote_process_running(&marker)).await,
        "remote process never started"
    );
    abort.cancel();
    let (outcome, lines) = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("abort hung")
        .unwrap();
    let outcome = outcome.unwrap();
    assert!(outcome.aborted && !outcome.success(), "{outcome:?}");
    assert_eq!(texts(&lines, Stream::Stdout), ["started"]);
    assert!(
        eventually(|| !harness::remote_process_running(&marker)).await,
        "`{marker}` still runs on the node after abort"
    );
}

#[tokio::test]
async fn timeout_kills_the_remote_process() {
    let Some(sshd) = Sshd::start() else { return };
    let ex = executor(&sshd, SshConfig::default());
    let marker = format!("sleep {}", 7000 + sshd.port % 1000);
    let mut req = NodeRequest {
        node: sshd.node(1),
        command: NodeCommand::Script {
            content: format!("trap '' TERM\n{marker}\n").into_bytes(),
            args: vec![],
            interpreter: None,
            args_quoted: false,
            file_extension: None,
        },
        env: vec![],
        timeout: Some(Duration::from_millis(800)),
    };
    req.env.push(("RD_X".into(), "1".into()));
    let (outcome, _) = tokio::time::timeout(Duration::from_secs(15), run(&ex, req))
        .await
        .expect("timeout hung");
    let outcome = outcome.unwrap();
    assert!(outcome.timed_out && !outcome.success(), "{outcome:?}");
    assert!(
        eventually(|| !harness::remote_process_running(&marker)).await,
        "`{marker}` still runs on the node after the timeout"
    );

    // Rundeck's ssh-command-timeout (ms) on the node, when the step has none
    let node = sshd.node(1).with("ssh-command-timeout", "500");
    let (outcome, _) = tokio::time::timeout(
        Duration::from_secs(15),
        run(&ex, shell(node, &format!("{marker}; echo not-reached"))),
    )
    .await
    .expect("timeout hung");
    assert!(outcome.unwrap().timed_out);
    assert!(eventually(|| !harness::remote_process_running(&marker)).await);
}

#[tokio::test]
async fn silent_peer_is_noticed_by_keepalives_and_replaced() {
    let Some(sshd) = Sshd::start() else { return };
    let ex = executor(
        &sshd,
        SshConfig {
            keepalive_interval: Duration::from_millis(300),
            keepalive_max: 2,
            connect_timeout: Duration::from_secs(2),
            ..SshConfig::default()
        },
    );
    let marker = format!("sleep {}", 9000 + sshd.port % 1000);
    let running = {
        let ex = ex.clone();
        let req = shell(sshd.node(1), &format!("echo started; {marker}"));
        tokio::spawn(async move { run(&ex, req).await })
    };
    assert!(eventually(|| harness::remote_process_running(&marker)).await);
    sshd.freeze_sessions();
    let (outcome, _) = tokio::time::timeout(Duration::from_secs(15), running)
        .await
        .expect("a silent peer hung the step")
        .unwrap();
    let err = outcome.unwrap_err().to_string();
    assert!(err.contains("node1") && err.contains("lost"), "{err}");
    // the next step gets a new connection
    let (outcome, lines) = run(&ex, shell(sshd.node(1), "echo fresh")).await;
    assert!(outcome.unwrap().success());
    assert_eq!(texts(&lines, Stream::Stdout), ["fresh"]);
    assert_eq!(ex.pool_stats().connections_opened, 2);
}

#[tokio::test]
async fn aborted_script_is_removed() {
    let Some(sshd) = Sshd::start() else { return };
    let ex = executor(&sshd, SshConfig::default());
    let abort = CancellationToken::new();
    let marker = format!("sleep {}", 8000 + sshd.port % 1000);
    let req = NodeRequest {
        node: sshd.node(1),
        command: NodeCommand::Script {
            content: format!("echo \"$0\"\n{marker}\n").into_bytes(),
            args: vec![],
            interpreter: None,
            args_quoted: false,
            file_extension: Some(".sh".into()),
        },
        env: vec![],
        timeout: None,
    };
    let task = {
        let ex = ex.clone();
        let abort = abort.clone();
        tokio::spawn(async move { run_with(&ex, req, abort).await })
    };
    assert!(eventually(|| harness::remote_process_running(&marker)).await);
    abort.cancel();
    let (outcome, lines) = task.await.unwrap();
    assert!(outcome.unwrap().aborted);
    let path = texts(&lines, Stream::Stdout)[0].to_owned();
    assert!(path.starts_with("/tmp/foredeck-"), "{path}");
    assert!(
        eventually(|| !std::path::Path::new(&path).exists()).await,
        "{path} left behind"
    );
    assert!(eventually(|| !harness::remote_process_running(&marker)).await);
}

#[tokio::test]
async fn large_output_through_a_small_sink_loses_nothing() {
    let Some(sshd) = Sshd::start() else { return };
    let ex = executor(&sshd, SshConfig::default());
    let (sink, mut rx) = OutputSink::channel(4);
    let collect = tokio::spawn(async move {
        let (mut n, mut last, mut err) = (0usize, String::new(), 0usize);
        while let Some(l) = rx.recv().await {
            if l.stream == Stream::Stdout {
                n += 1;
                last = l.text;
            } else {
                err += 1;
            }
        }
        (n, last, err)
    });
    let req = shell(sshd.node(1), "seq 1 100000; seq 1 1000 >&2");
    let outcome = ex.run(req, sink, CancellationToken::new()).await.unwrap();
    assert!(outcome.success(), "{outcome:?}");
    let (n, last, err) = collect.await.unwrap();
    assert_eq!((n, last.as_str(), err), (100_000, "100000", 1000));
}

#[tokio::test]
async fn sudo_prompt_is_answered_on_a_pty() {
    let Some(sshd) = Sshd::start() else { return };
    if !harness::sudo_ready() {
        return;
    }
    let creds = |pw: &str| {
        ConfigCredentials::new()
            .with_key(sshd.user_key())
            .with_sudo_password(pw)
    };
    let node = sshd.node(1).with("sudo-command-enabled", "true");
    let ex = SshExecutor::new(creds(harness::PASSWORD));
    let mut req = shell(
        node.clone(),
        "sudo id -un; echo \"$RD_X\"; echo err >&2; cat; sudo cat",
    );
    req.env = vec![("RD_X".into(), "env too".into())];
    let (outcome, lines) = run(&ex, req).await;
    let outcome = outcome.unwrap();
    assert!(outcome.success(), "{outcome:?} {lines:?}");
    // on a pty stderr joins stdout; the prompt and password are not shown;
    // stdin is /dev/null, not the terminal (cat ends at once); the second
    // sudo asks again (the harness caches no credentials) and is answered
    assert_eq!(texts(&lines, Stream::Stdout), ["root", "env too", "err"]);
    assert!(texts(&lines, Stream::Stderr).is_empty(), "{lines:?}");

    // a command that does not match sudo-command-pattern runs as usual
    let (outcome, lines) = run(&ex, shell(node.clone(), "id -un; echo err >&2")).await;
    assert!(outcome.unwrap().success());
    assert_eq!(texts(&lines, Stream::Stdout), [harness::USER]);
    assert_eq!(texts(&lines, Stream::Stderr), ["err"]);

    // a step timeout hangs up the terminal: the command under sudo ends
    let long = format!("sudo /bin/sleep {}", 4000 + sshd.port % 1000);
    let mut req = shell(node.clone(), &long);
    req.timeout = Some(Duration::from_millis(1500));
    let (outcome, _) = run(&ex, req).await;
    assert!(outcome.unwrap().timed_out);
    assert!(eventually(|| !harness::remote_process_running(&long)).await);

    // a wrong password fails clearly, and sudo does not stay behind
    let marker = format!("sudo /bin/sleep {}", 5000 + sshd.port % 1000);
    let ex = SshExecutor::new(creds("wrong password"));
    let (outcome, lines) = run(&ex, shell(node.clone(), &marker)).await;
    let err = outcome.unwrap_err().to_string();
    assert!(
        err.contains("node1") && err.contains("sudo") && err.contains("not accept"),
        "{err}"
    );
    assert!(
        lines.iter().all(|(_, l)| !l.contains("wrong password")),
        "{lines:?}"
    );
    assert!(eventually(|| !harness::remote_process_running(&marker)).await);

    // a prompt that does not match sudo-prompt-pattern fails after
    // sudo-response-timeout instead of waiting for ever
    let odd = node
        .clone()
        .with("sudo-prompt-pattern", "^Kennwort: ")
        .with("sudo-response-timeout", "10000");
    let ex = SshExecutor::new(creds(harness::PASSWORD));
    let err = run(&ex, shell(odd, "sudo id -un"))
        .await
        .0
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no sudo password prompt") && err.contains("[sudo] password for"),
        "{err}"
    );

    // no sudo password: refused before anything runs
    let ex = SshExecutor::new(ConfigCredentials::new().with_key(sshd.user_key()));
    let err = run(&ex, shell(node, "sudo id -un"))
        .await
        .0
        .unwrap_err()
        .to_string();
    assert!(err.contains("no sudo password"), "{err}");
}

#[tokio::test]
async fn a_changed_host_key_is_told_apart_by_matching_the_error() {
    let Some(sshd) = Sshd::start() else {
        return;
    };
    // the known hosts list another key for this host
    let other = sshd.dir.path().join("impostor_key");
    harness::keygen(&other);
    let known = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let label = format!("[127.0.0.1]:{}", sshd.port);
    let known_hosts = Arc::new(MemoryKnownHosts::new());
    known_hosts.put(&label, &known).await.unwrap();
    let ex = SshExecutor::with_config(
        SshConfig::default(),
        Arc::new(ConfigCredentials::new().with_key(sshd.user_key())),
        known_hosts,
    );
    let err = run(&ex, shell(sshd.node(1), "true")).await.0.unwrap_err();
    assert_eq!(foredeck_core::ErrorCode::code(&err), "executor.failed");
    match SshError::of(&err) {
        Some(SshError::HostKeyMismatch {
            host,
            expected,
            presented,
        }) => {
            assert_eq!(host, &label);
            assert_eq!(expected, &fingerprint(&known));
            assert_eq!(presented, &fingerprint(&sshd.host_public_key()));
        }
        other => panic!("expected a host-key mismatch, got {other:?} ({err})"),
    }
    assert!(err.to_string().contains("HOST KEY CHANGED"), "{err}");
}

#[tokio::test]
async fn a_refused_password_is_told_apart_by_matching_the_error() {
    let Some(sshd) = Sshd::start() else {
        return;
    };
    let ex = SshExecutor::new(ConfigCredentials::new().with_password("wrong"));
    let err = run(&ex, shell(sshd.node(1), "true")).await.0.unwrap_err();
    assert_eq!(foredeck_core::ErrorCode::code(&err), "executor.failed");
    match SshError::of(&err) {
        Some(SshError::AuthRefused {
            user,
            host,
            methods,
            agent_keys,
        }) => {
            assert_eq!(user, harness::USER);
            assert_eq!(host, &format!("[127.0.0.1]:{}", sshd.port));
            assert!(methods.contains(&"password"), "{methods:?}");
            assert_eq!(*agent_keys, None);
        }
        other => panic!("expected refused authentication, got {other:?} ({err})"),
    }
    // the host key was fine: nothing about it is reported
    assert!(!matches!(
        SshError::of(&err),
        Some(SshError::HostKeyMismatch { .. } | SshError::HostKeyUnknown { .. })
    ));
}

#[tokio::test]
async fn a_refused_connection_and_a_bad_policy_are_told_apart_by_matching_the_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let ex = SshExecutor::new(ConfigCredentials::new().with_password("pw"));
    let node = Node::new("gone").with("hostname", format!("127.0.0.1:{port}"));
    let err = run(&ex, shell(node, "true")).await.0.unwrap_err();
    match SshError::of(&err) {
        Some(SshError::Connect { host, source }) => {
            assert_eq!(host, &format!("[127.0.0.1]:{port}"));
            assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused);
        }
        other => panic!("expected a refused connection, got {other:?} ({err})"),
    }
    // an unknown host-key policy is a configuration error
    let node = Node::new("badpolicy")
        .with("hostname", format!("127.0.0.1:{port}"))
        .with("ssh-host-key-policy", "trust-me");
    let err = run(&ex, shell(node, "true")).await.0.unwrap_err();
    assert!(
        matches!(SshError::of(&err), Some(SshError::Config(m)) if m.contains("trust-me")),
        "{err}"
    );
}

#[tokio::test]
async fn a_handshake_timeout_is_told_apart_by_matching_the_error() {
    // a tarpit accepts and never speaks: the TCP connect succeeds, the SSH
    // handshake does not
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tarpit = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let ex = SshExecutor::new(ConfigCredentials::new().with_password("x"));
    let node = Node::new("pit")
        .with("hostname", format!("127.0.0.1:{port}"))
        .with("username", "u")
        .with("ssh-connect-timeout", "200");
    let err = run(&ex, shell(node, "true")).await.0.unwrap_err();
    tarpit.abort();
    match SshError::of(&err) {
        Some(SshError::HandshakeTimeout { host, user, after }) => {
            assert_eq!(host, &format!("[127.0.0.1]:{port}"));
            assert_eq!(user, "u");
            assert_eq!(*after, Duration::from_millis(200));
        }
        other => panic!("expected a handshake timeout, got {other:?} ({err})"),
    }
}
