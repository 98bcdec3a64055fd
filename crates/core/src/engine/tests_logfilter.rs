//! Log filters on real local runs: the outputs Rundeck's own functional
//! tests assert (LogFilterSpec), masking before any filter, and a clear
//! failure for a filter that cannot run.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::model::{ExecutionStatus, Stream};
use crate::store::prelude::*;

fn job(yaml: &str) -> Job {
    crate::format::parse_jobs_yaml(yaml, "test")
        .unwrap()
        .remove(0)
}

/// The step output lines of a run (no engine messages), with their level.
async fn output(engine: &Engine, id: u64) -> Vec<(LogLevel, String)> {
    engine
        .store()
        .read_log(id, 0, 100_000)
        .await
        .unwrap()
        .events
        .into_iter()
        .filter(|e| e.stream != Stream::System || e.level >= LogLevel::Warn)
        .map(|e| (e.level, e.text))
        .collect()
}

async fn run(yaml: &str, options: RunOptions) -> (Execution, Vec<(LogLevel, String)>) {
    let engine = Engine::builder().build();
    let e = engine.run_job("p", &job(yaml), options).await.unwrap();
    let out = output(&engine, e.id).await;
    (e, out)
}

fn texts(out: &[(LogLevel, String)]) -> Vec<&str> {
    out.iter().map(|(_, t)| t.as_str()).collect()
}

#[tokio::test]
async fn step_key_value_capture_reaches_the_next_step() {
    let (e, out) = run(
        r#"
- name: stepLogFilter
  sequence:
    commands:
    - exec: echo "FIRST=data pass example from first step"
      plugins:
        LogFilter:
        - config:
            invalidKeyPattern: \s|\$|\{|\}|\\
            logData: 'false'
            regex: ^(FIRST|SECOND)\s*=\s*(.+)$
            replaceFilteredResult: 'false'
          type: key-value-data
    - exec: 'echo "data passed: ${data.FIRST}"'
"#,
        RunOptions::default(),
    )
    .await;
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{:?}", e.failure);
    assert_eq!(
        texts(&out),
        [
            "FIRST=data pass example from first step",
            "data passed: data pass example from first step"
        ]
    );
}

#[tokio::test]
async fn global_capture_replaces_invalid_key_characters() {
    let (e, out) = run(
        r#"
- name: global
  sequence:
    commands:
    - exec: echo "A B=data pass example from first step"
    - exec: 'echo "data passed: ${data.AXB}"'
    pluginConfig:
      LogFilter:
      - config:
          invalidCharactersReplacement: X
          invalidKeyPattern: \s|\$|\{|\}|\\
          logData: 'false'
          regex: ^(A\s*B)\s*=\s*(.+)$
          replaceFilteredResult: 'true'
        type: key-value-data
"#,
        RunOptions::default(),
    )
    .await;
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{:?}", e.failure);
    assert_eq!(
        texts(&out),
        [
            "Key contains not valid value which will be replaced",
            "A B=data pass example from first step",
            "data passed: data pass example from first step"
        ]
    );
}

#[tokio::test]
async fn multiline_capture_at_workflow_and_step_level() {
    for (global, step) in [
        (
            "    pluginConfig:\n      LogFilter:\n      - type: key-value-data-multilines\n        config: {captureMultipleKeysValues: 'true', hideOutput: 'false', logData: 'false', name: test_capture_result, regex: '\\s*(.+)'}\n",
            "",
        ),
        (
            "",
            "      plugins:\n        LogFilter:\n        - type: key-value-data-multilines\n          config: {captureMultipleKeysValues: 'false', hideOutput: 'false', logData: 'false', name: test_capture_result, regex: '\\s*(.+)'}\n",
        ),
    ] {
        let yaml = format!(
            "- name: ml\n  sequence:\n{global}    commands:\n    - exec: echo 123\n{step}    - exec: 'echo \"${{data.test_capture_result}}\"'\n"
        );
        let (e, out) = run(&yaml, RunOptions::default()).await;
        assert_eq!(e.status, ExecutionStatus::Succeeded, "{:?}", e.failure);
        assert_eq!(texts(&out)[..2], ["123", "123"], "{yaml}");
    }
}

#[tokio::test]
async fn highlight_wraps_the_match_and_quiet_lines_leave_the_log() {
    let (_, out) = run(
        r#"
- name: hl
  sequence:
    commands:
    - exec: echo "This is an example for highlight filter"; echo noise
      plugins:
        LogFilter:
        - config: {regex: '^This'}
          type: quiet-output
        - config: {bgcolor: green, fgcolor: yellow, mode: bold, regex: This is an example}
          type: highlight-output
"#,
        RunOptions::default(),
    )
    .await;
    assert_eq!(
        texts(&out),
        ["\u{1b}[33;42;1mThis is an example\u{1b}[0m for highlight filter"]
    );
    // at VERBOSE the quieted line is kept, at its new level
    let (_, out) = run(
        r#"
- name: hl
  loglevel: VERBOSE
  sequence:
    commands:
    - exec: echo keep; echo noise
      plugins:
        LogFilter:
        - config: {regex: '^keep'}
          type: quiet-output
"#,
        RunOptions::default(),
    )
    .await;
    assert_eq!(
        out,
        [
            (LogLevel::Info, "keep".to_owned()),
            (LogLevel::Verbose, "noise".to_owned())
        ]
    );
}

#[tokio::test]
async fn secure_values_are_masked_before_any_filter_sees_them() {
    let yaml = r#"
- name: sec
  options:
  - name: pw
    secure: true
  sequence:
    commands:
    - exec: echo "PW=${option.pw}"; echo "RUNDECK:DATA:raw=${option.pw}"
      plugins:
        LogFilter:
        - type: key-value-data
          config: {regex: '^PW=(.+)$', name: seen}
        - type: mask-passwords
          config: {replacement: '*****'}
    - exec: echo "seen ${data.seen}"
"#;
    let (e, out) = run(yaml, RunOptions::default().option("pw", "hunter2")).await;
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{:?}", e.failure);
    let all = texts(&out).join("\n");
    assert!(!all.contains("hunter2"), "{all}");
    assert_eq!(texts(&out)[0], "PW=*****");
    assert_eq!(texts(&out)[2], "seen *****");
}

#[tokio::test]
async fn render_datatype_gathers_a_json_block() {
    let (_, out) = run(
        r#"
- name: rd
  sequence:
    commands:
    - script: |
        echo before
        echo '#BEGIN:RUNDECK:DATATYPE:application/json'
        echo '{"a": 1}'
        echo '#END:RUNDECK:DATATYPE'
      plugins:
        LogFilter:
        - type: render-datatype
"#,
        RunOptions::default(),
    )
    .await;
    assert_eq!(texts(&out), ["before", "{\"a\": 1}"]);
}

#[tokio::test]
async fn an_unknown_log_filter_fails_the_step_naming_it() {
    let (e, out) = run(
        r#"
- name: unknown
  sequence:
    commands:
    - exec: echo must-not-run
      plugins:
        LogFilter:
        - type: jq-json-log-filter
"#,
        RunOptions::default(),
    )
    .await;
    assert_eq!(e.status, ExecutionStatus::Failed);
    assert!(
        !texts(&out).contains(&"must-not-run"),
        "the step must not run: {out:?}"
    );
    let engine_log = format!("{:?} {out:?}", e.failure);
    assert!(
        engine_log.contains("jq-json-log-filter"),
        "the failure names the filter: {engine_log}"
    );
}
