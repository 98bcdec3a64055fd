#![allow(clippy::unwrap_used)]

use super::*;
use crate::executor::OutputLine;
use crate::model::Node;
use std::time::Instant as StdInstant;

fn shell(line: &str) -> NodeRequest {
    NodeRequest {
        node: Node::new("localhost"),
        command: NodeCommand::Shell(line.into()),
        env: Vec::new(),
        timeout: None,
    }
}

fn script(content: &str, args: &[&str], interpreter: Option<&str>, quoted: bool) -> NodeRequest {
    NodeRequest {
        command: NodeCommand::Script {
            content: content.as_bytes().to_vec(),
            args: args.iter().map(|s| (*s).to_owned()).collect(),
            interpreter: interpreter.map(str::to_owned),
            args_quoted: quoted,
            file_extension: Some("sh".into()),
        },
        ..shell("")
    }
}

/// Runs a request, collecting every line while it runs.
async fn run_with(exec: &LocalExecutor, req: NodeRequest) -> (NodeOutcome, Vec<OutputLine>) {
    let (sink, mut rx) = OutputSink::channel(16);
    let collect = tokio::spawn(async move {
        let mut lines = Vec::new();
        while let Some(l) = rx.recv().await {
            lines.push(l);
        }
        lines
    });
    let outcome = exec.run(req, sink, CancellationToken::new()).await.unwrap();
    (outcome, collect.await.unwrap())
}

async fn run(req: NodeRequest) -> (NodeOutcome, Vec<OutputLine>) {
    run_with(&LocalExecutor::new(), req).await
}

fn texts(lines: &[OutputLine], stream: Stream) -> Vec<&str> {
    lines
        .iter()
        .filter(|l| l.stream == stream)
        .map(|l| l.text.as_str())
        .collect()
}

/// Whether a process of group `pgid` is alive (zombies do not count).
fn group_has_live_process(pgid: i32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return group_alive(Pid::from_raw(pgid));
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .any(|stat| {
            // pid (comm) state ppid pgrp ...
            let Some((_, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            fields.first() != Some(&"Z") && fields.get(2) == Some(&pgid.to_string().as_str())
        })
}

#[tokio::test(flavor = "multi_thread")]
async fn keeps_order_of_many_lines() {
    let (outcome, lines) = run(shell(
        "i=0; while [ $i -lt 10000 ]; do echo $i; i=$((i+1)); done",
    ))
    .await;
    assert!(outcome.success(), "{outcome:?}");
    let out = texts(&lines, Stream::Stdout);
    assert_eq!(out.len(), 10_000);
    for (i, l) in out.iter().enumerate() {
        assert_eq!(*l, i.to_string());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn captures_both_streams_bad_bytes_and_last_line() {
    let (outcome, lines) = run(shell(
        "echo out1; echo err1 >&2; printf '\\377\\376ok\\n'; echo err2 >&2; printf 'tail'",
    ))
    .await;
    assert!(outcome.success());
    assert_eq!(
        texts(&lines, Stream::Stdout),
        vec!["out1", "\u{fffd}\u{fffd}ok", "tail"]
    );
    assert_eq!(texts(&lines, Stream::Stderr), vec!["err1", "err2"]);
    let bad = lines.iter().find(|l| l.text.ends_with("ok")).unwrap();
    assert_eq!(bad.raw.as_deref(), Some(&b"\xff\xfeok"[..]));
    assert!(lines.iter().filter(|l| l.raw.is_some()).count() == 1);

    let (_, lines) = run(shell("printf 'no newline' >&2")).await;
    assert_eq!(texts(&lines, Stream::Stderr), vec!["no newline"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn reports_exit_code_and_signal() {
    let (outcome, _) = run(shell("exit 3")).await;
    assert_eq!(outcome.exit_code, Some(3));
    assert!(!outcome.success());
    assert_eq!(outcome.failure_reason().as_deref(), Some("exit code 3"));

    let (outcome, _) = run(shell("kill -KILL $$")).await;
    assert_eq!(outcome.exit_code, None);
    assert_eq!(outcome.signal.as_deref(), Some("KILL"));
}

#[tokio::test(flavor = "multi_thread")]
async fn passes_environment() {
    let mut req = shell("echo \"$RD_OPTION_X\"");
    req.env.push(("RD_OPTION_X".into(), "hello 'there'".into()));
    let (_, lines) = run(req).await;
    assert_eq!(texts(&lines, Stream::Stdout), vec!["hello 'there'"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_scripts_and_removes_them() {
    let dir = tempfile::tempdir().unwrap();
    let exec = LocalExecutor::new().with_temp_dir(dir.path());
    let body = "#!/bin/sh\necho \"script $0\"\nfor a in \"$@\"; do echo \"arg:$a\"; done\n";

    // directly, with its shebang
    let (outcome, lines) = run_with(&exec, script(body, &["a b", "c"], None, false)).await;
    assert!(outcome.success(), "{outcome:?} {lines:?}");
    let out = texts(&lines, Stream::Stdout);
    assert!(
        out[0].starts_with("script ") && out[0].ends_with(".sh"),
        "{out:?}"
    );
    assert_eq!(out[1..], ["arg:a b", "arg:c"]);

    // with an interpreter
    let (outcome, lines) = run_with(
        &exec,
        script(body, &["x y", "it's"], Some("/bin/sh -e"), false),
    )
    .await;
    assert!(outcome.success());
    assert_eq!(texts(&lines, Stream::Stdout)[1..], ["arg:x y", "arg:it's"]);

    // with args quoted: `sh -c "'path' 'arg'..."`
    let (outcome, lines) =
        run_with(&exec, script(body, &["x y", "it's"], Some("sh -c"), true)).await;
    assert!(outcome.success(), "{lines:?}");
    assert_eq!(texts(&lines, Stream::Stdout)[1..], ["arg:x y", "arg:it's"]);

    // failing and timed-out scripts are removed too
    let (outcome, _) = run_with(&exec, script("exit 5", &[], Some("sh"), false)).await;
    assert_eq!(outcome.exit_code, Some(5));
    let mut req = script("sleep 30", &[], Some("sh"), false);
    req.timeout = Some(Duration::from_millis(100));
    let (outcome, _) = run_with(&exec, req).await;
    assert!(outcome.timed_out);

    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn script_file_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let exec = LocalExecutor::new().with_temp_dir(dir.path());
    let (_, lines) = run_with(&exec, script("stat -c %a \"$0\"", &[], Some("sh"), false)).await;
    assert_eq!(texts(&lines, Stream::Stdout), vec!["700"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn timeout_kills_the_whole_group() {
    let exec = LocalExecutor::new().with_kill_grace(Duration::from_millis(500));
    let mut req = shell("echo $$; sleep 60 & sleep 60");
    req.timeout = Some(Duration::from_millis(300));
    let started = StdInstant::now();
    let (outcome, lines) = run_with(&exec, req).await;
    assert!(started.elapsed() < Duration::from_secs(20), "hung");
    assert!(outcome.timed_out && !outcome.success(), "{outcome:?}");
    assert_eq!(outcome.signal.as_deref(), Some("TERM"));
    let pgid: i32 = texts(&lines, Stream::Stdout)[0].parse().unwrap();
    assert!(
        !group_has_live_process(pgid),
        "processes of group {pgid} remain"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_after_grace_when_term_is_ignored() {
    let exec = LocalExecutor::new().with_kill_grace(Duration::from_millis(200));
    let mut req = shell("trap '' TERM; echo $$; sh -c 'trap \"\" TERM; sleep 60' & sleep 60");
    req.timeout = Some(Duration::from_millis(300));
    let started = StdInstant::now();
    let (outcome, lines) = run_with(&exec, req).await;
    assert!(started.elapsed() < Duration::from_secs(20), "hung");
    assert!(outcome.timed_out);
    assert_eq!(outcome.signal.as_deref(), Some("KILL"));
    let pgid: i32 = texts(&lines, Stream::Stdout)[0].parse().unwrap();
    assert!(
        !group_has_live_process(pgid),
        "processes of group {pgid} remain"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn abort_stops_the_command() {
    let (sink, mut rx) = OutputSink::channel(4);
    let abort = CancellationToken::new();
    let exec = LocalExecutor::new();
    let task = {
        let abort = abort.clone();
        tokio::spawn(async move { exec.run(shell("echo started; sleep 30"), sink, abort).await })
    };
    let first = rx.recv().await.unwrap();
    assert_eq!(first.text, "started");
    let started = StdInstant::now();
    abort.cancel();
    let outcome = task.await.unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_secs(20), "hung");
    assert!(outcome.aborted && !outcome.timed_out, "{outcome:?}");
    assert_eq!(outcome.failure_reason().as_deref(), Some("aborted"));

    // cancelled before it starts: nothing runs
    let (sink, _rx) = OutputSink::channel(1);
    let outcome = LocalExecutor::new()
        .run(shell("echo never"), sink, abort)
        .await
        .unwrap();
    assert!(outcome.aborted);
}

#[tokio::test(flavor = "multi_thread")]
async fn does_not_hang_on_pipes_held_by_escaped_processes() {
    // a process that leaves the group keeps the pipes open after the kill
    let exec = LocalExecutor::new()
        .with_kill_grace(Duration::from_millis(200))
        .with_drain_timeout(Duration::from_millis(200));
    let mut req = shell("setsid sleep 5 & sleep 60");
    req.timeout = Some(Duration::from_millis(200));
    let started = StdInstant::now();
    let (outcome, _) = run_with(&exec, req).await;
    assert!(outcome.timed_out);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "waited for the pipes"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn returns_when_a_background_process_keeps_stdout_open() {
    // the shell exits at once, but `sleep` inherited stdout and keeps it
    // open: the run must end after the drain timeout with every line the
    // shell wrote, and not wait for the sleep
    let exec = LocalExecutor::new().with_drain_timeout(Duration::from_millis(300));
    let started = StdInstant::now();
    let (outcome, lines) = run_with(&exec, shell("echo $$; echo hi; sleep 30 & printf done")).await;
    assert!(started.elapsed() < Duration::from_secs(20), "hung");
    assert!(outcome.success(), "{outcome:?}");
    let out = texts(&lines, Stream::Stdout);
    assert_eq!(out[1..], ["hi", "done"]);
    // a normal exit leaves the group alone (as Rundeck does); clean up here
    let pgid: i32 = out[0].parse().unwrap();
    let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
}

#[tokio::test(flavor = "multi_thread")]
async fn huge_output_with_backpressure() {
    const SIZE: usize = 50 * 1024 * 1024;
    let (sink, mut rx) = OutputSink::channel(64);
    let consumer = tokio::spawn(async move {
        let (mut bytes, mut lines) = (0usize, 0usize);
        while let Some(l) = rx.recv().await {
            bytes += l.text.len();
            lines += 1;
        }
        (bytes, lines)
    });
    // 50 MB of bytes with a newline every 1000
    let line = format!("head -c {SIZE} /dev/zero | tr '\\0' x | fold -w 1000");
    let outcome = LocalExecutor::new()
        .run(shell(&line), sink, CancellationToken::new())
        .await
        .unwrap();
    assert!(outcome.success(), "{outcome:?}");
    let (bytes, lines) = consumer.await.unwrap();
    assert_eq!(bytes, SIZE);
    assert_eq!(lines, SIZE / 1000 + usize::from(SIZE % 1000 != 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn long_lines_are_cut() {
    let (outcome, lines) = run(shell(&format!(
        "head -c {} /dev/zero | tr '\\0' y",
        crate::executor::MAX_LINE * 2 + 5
    )))
    .await;
    assert!(outcome.success());
    let lens: Vec<usize> = lines.iter().map(|l| l.text.len()).collect();
    assert_eq!(
        lens,
        vec![crate::executor::MAX_LINE, crate::executor::MAX_LINE, 5]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn keeps_reading_when_nobody_listens() {
    let (sink, rx) = OutputSink::channel(1);
    drop(rx);
    let outcome = LocalExecutor::new()
        .run(
            shell("head -c 1000000 /dev/zero"),
            sink,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert!(outcome.success());
}

#[test]
fn script_argument_vectors() {
    let p = Path::new("/tmp/s.sh");
    let args = vec!["a b".to_owned(), "it's".to_owned()];
    assert_eq!(
        script_argv(p, &args, None, false),
        ["/tmp/s.sh", "a b", "it's"]
    );
    assert_eq!(
        script_argv(p, &args, Some(" bash  -x "), false),
        ["bash", "-x", "/tmp/s.sh", "a b", "it's"]
    );
    assert_eq!(
        script_argv(p, &args, Some("sudo -u bob sh -c"), true),
        [
            "sudo",
            "-u",
            "bob",
            "sh",
            "-c",
            "'/tmp/s.sh' 'a b' 'it'\\''s'"
        ]
    );
    assert_eq!(script_argv(p, &[], Some("  "), true), ["/tmp/s.sh"]);
    assert_eq!(signal_name(9), "KILL");
    assert_eq!(signal_name(15), "TERM");
}

#[tokio::test]
async fn script_without_shebang_runs_in_the_shell() {
    let (outcome, lines) = run(script("echo plain $1", &["arg"], None, false)).await;
    assert_eq!(outcome.exit_code, Some(0));
    assert_eq!(texts(&lines, Stream::Stdout), vec!["plain arg"]);
}
