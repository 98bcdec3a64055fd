//! The `foredeck` binary end to end: real files, real processes.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

fn foredeck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_foredeck"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

#[test]
fn readme_example_runs_on_both_nodes() {
    let out = foredeck(&[
        "run",
        "--file",
        "examples/hello.yaml",
        "--nodes",
        "examples/nodes.yaml",
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("alpha: hello from alpha (unix)"),
        "{stdout}"
    );
    assert!(stdout.contains("beta: hello from beta (unix)"), "{stdout}");
    assert!(stdout.contains("beta: kernel "), "{stdout}");
    assert!(
        stderr.contains("succeeded") && stderr.contains("2 node(s) succeeded"),
        "{stderr}"
    );
}

#[test]
fn option_values_cannot_inject_and_bad_values_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let job = write(
        dir.path(),
        "job.yaml",
        "- name: echo\n  options:\n    - name: msg\n    - name: port\n      regex: '[0-9]+'\n  sequence:\n    commands:\n      - exec: echo ${option.msg}\n",
    );
    let out = foredeck(&["run", "--file", &job, "--option", "msg=80 | whoami; $(id)"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "80 | whoami; $(id)");

    let out = foredeck(&["run", "--file", &job, "--option", "port=80 | whoami"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("option `port`"),
        "{}",
        text(&out.stderr)
    );

    let out = foredeck(&["run", "--file", &job, "--option", "colour=red"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("colour") && err.contains("msg, port"), "{err}");
}

#[test]
fn output_bytes_that_are_not_utf8_are_printed_as_they_came() {
    let dir = tempfile::tempdir().unwrap();
    let job = write(
        dir.path(),
        "job.yaml",
        "- name: latin1\n  sequence:\n    commands:\n      - exec: printf 'caf\\351 \\377\\n\\303\\251t\\303\\251\\n'\n",
    );
    let out = foredeck(&["run", "--file", &job]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"caf\xe9 \xff\n\xc3\xa9t\xc3\xa9\n");
}

#[test]
fn malformed_job_names_the_job_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let job = write(
        dir.path(),
        "bad.yaml",
        "- name: fine\n  sequence:\n    commands:\n      - exec: 'true'\n- name: broken\n  sequence:\n    commands:\n      - exec: ['not', 'a', 'string']\n",
    );
    let out = foredeck(&["run", "--file", &job, "--job", "fine"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("broken") && err.contains("exec"), "{err}");
}

#[test]
fn a_rundeck_job_xml_file_runs_and_its_errors_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let job = write(
        dir.path(),
        "job.xml",
        "<joblist>\n  <job>\n    <name>greet</name>\n    <description/>\n    <context>\n      <options preserveOrder='true'>\n        <option name='who' value='xml' />\n      </options>\n    </context>\n    <sequence>\n      <command>\n        <exec>echo hello ${option.who}</exec>\n      </command>\n    </sequence>\n  </job>\n</joblist>\n",
    );
    let out = foredeck(&["run", "--file", &job]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "hello xml");
    let bad = write(
        dir.path(),
        "bad.xml",
        "<joblist>\n  <job>\n    <name>greet</name>\n    <description/>\n    <dispatch>\n      <threadcount>lots</threadcount>\n    </dispatch>\n    <sequence><command><exec>true</exec></command></sequence>\n  </job>\n</joblist>\n",
    );
    let out = foredeck(&["run", "--file", &bad]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("greet") && err.contains("threadcount") && err.contains("line 6"),
        "{err}"
    );
}

#[test]
fn yaml_alias_bomb_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (i, c) in "bcdefghi".chars().enumerate() {
        let prev = (b'a' + i as u8) as char;
        bomb.push_str(&format!(
            "{c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
    }
    let job = write(dir.path(), "bomb.yaml", &bomb);
    let out = foredeck(&["run", "--file", &job]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn nodes_command_filters_a_resource_file() {
    let out = foredeck(&[
        "nodes",
        "--nodes",
        "examples/nodes.yaml",
        "--filter",
        "tags: demo+db",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "beta\n");
    let out = foredeck(&[
        "nodes",
        "--nodes",
        "examples/nodes.yaml",
        "--filter",
        "!name: beta",
    ]);
    assert_eq!(text(&out.stdout), "alpha\n");
    // an invalid regex falls back to equality: no match, exit 1, no crash
    let out = foredeck(&[
        "nodes",
        "--nodes",
        "examples/nodes.yaml",
        "--filter",
        "name: al[pha",
    ]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn failing_job_exits_one_with_failed_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let job = write(
        dir.path(),
        "fail.yaml",
        "- name: fail\n  nodefilters:\n    filter: 'tags: demo'\n    dispatch:\n      keepgoing: true\n  sequence:\n    commands:\n      - exec: test ${node.name} = alpha\n",
    );
    let out = foredeck(&["run", "--file", &job, "--nodes", "examples/nodes.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("failed") && err.contains("(beta)"), "{err}");
}

/// Rundeck refuses to run a job whose executions are disabled, whoever
/// asks; a local run of a job file does too, naming the job and the field.
#[test]
fn a_job_with_executions_disabled_is_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let body = |enabled: bool| {
        format!(
            "- name: off\n  group: ops\n  executionEnabled: {enabled}\n  sequence:\n    commands:\n      - exec: touch {}\n",
            marker.display()
        )
    };
    let job = write(dir.path(), "off.yaml", &body(false));
    let out = foredeck(&["run", "--file", &job]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("\"ops/off\"") && err.contains("executionEnabled"),
        "{err}"
    );
    assert!(!marker.exists(), "the disabled job ran");

    let job = write(dir.path(), "on.yaml", &body(true));
    let out = foredeck(&["run", "--file", &job]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(marker.exists(), "the enabled job did not run");
}

#[test]
fn keys_put_list_delete_in_a_data_dir_without_clear_text_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let secret = write(dir.path(), "pw.txt", "correct-horse-battery-staple");
    let out = foredeck(&[
        "keys",
        "--data-dir",
        data,
        "put",
        "keys/project/ops/db.pass",
        "--type",
        "password",
        "--file",
        &secret,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = foredeck(&["keys", "--data-dir", data, "list", "keys/project"]);
    let listed = text(&out.stdout);
    assert!(
        listed.starts_with("keys/project/ops/db.pass\tpassword\t"),
        "{listed}"
    );
    assert!(!listed.contains("correct-horse"));
    for f in std::fs::read_dir(data).unwrap() {
        let bytes = std::fs::read(f.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(13).any(|w| w == b"correct-horse"),
            "secret in clear at rest"
        );
    }
    let out = foredeck(&[
        "keys",
        "--data-dir",
        data,
        "put",
        "keys/../etc/x",
        "--type",
        "password",
        "--file",
        &secret,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("`..`"), "{}", text(&out.stderr));
    let out = foredeck(&[
        "keys",
        "--data-dir",
        data,
        "delete",
        "keys/project/ops/db.pass",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = foredeck(&["keys", "--data-dir", data, "list"]);
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn exec_shows_progress_on_a_terminal_only() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = write(
        dir.path(),
        "nodes.yaml",
        "a:\n  node-executor: local\nb:\n  node-executor: local\n",
    );
    let data = dir.path().join("data").display().to_string();
    let args = [
        "exec",
        "--nodes",
        &nodes,
        "--data-dir",
        &data,
        "-C",
        "2",
        "-K",
        "--",
        "sleep 0.3; test ${node.name} = a",
    ];

    // not a terminal: the output and the summary only
    let out = foredeck(&args);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        !stderr.contains("nodes done") && !stderr.contains('\r'),
        "{stderr:?}"
    );
    assert!(
        stderr.contains("1 node(s) succeeded, 1 failed (b)"),
        "{stderr}"
    );

    // on a terminal (script(1) gives the command a pty): one progress line,
    // redrawn in place, cleared before the summary
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("SKIPPED: script(1) is missing (util-linux)");
        return;
    }
    let mut line = shell_quote(env!("CARGO_BIN_EXE_foredeck"));
    for a in args {
        line.push(' ');
        line.push_str(&shell_quote(a));
    }
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .output()
        .unwrap();
    let screen = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{screen:?}");
    let last = screen
        .rfind("/2 nodes done: ")
        .expect("progress line drawn");
    let cleared = last + screen[last..].find("\r\x1b[2K").expect("cleared");
    let summary = screen.find("failed in ").expect("summary");
    assert!(cleared < summary, "{screen:?}");
    // the failed node's log line starts on a cleared line, not after the counts
    let logged = screen.find("b: Failed").expect("log line");
    assert_eq!(&screen[logged - 5..logged], "\r\x1b[2K", "{screen:?}");
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
