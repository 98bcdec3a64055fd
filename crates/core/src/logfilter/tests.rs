#![allow(clippy::unwrap_used)]

use super::capture::REPLACED;
use super::*;
use serde_json::json;

fn chain(filters: Value) -> Chain {
    let specs = specs(Some(&json!({ "LogFilter": filters }))).unwrap();
    Chain::build(&specs).unwrap()
}

fn refused(filters: Value) -> String {
    let specs = specs(Some(&json!({ "LogFilter": filters }))).unwrap();
    Chain::build(&specs).unwrap_err()
}

/// Lines through the chain, then its end: the lines as they come out
/// (level, text) and everything emitted, in order.
fn run(chain: &mut Chain, lines: &[&str]) -> (Vec<(LogLevel, String)>, Vec<Emitted>) {
    let mut out = Vec::new();
    let mut emitted = Vec::new();
    for l in lines {
        let mut line = Line {
            level: LogLevel::Info,
            text: (*l).to_owned(),
        };
        chain.line(&mut line, &mut emitted);
        out.push((line.level, line.text));
    }
    chain.complete(&mut emitted);
    (out, emitted)
}

fn data(k: &str, v: &str) -> Emitted {
    Emitted::Data(k.into(), v.into())
}

#[test]
fn key_value_data_captures_with_rundecks_default_pattern() {
    let mut c = chain(json!([{ "type": "key-value-data" }]));
    let (lines, emitted) = run(
        &mut c,
        &["RUNDECK:DATA:token = abc 1", "plain", "RUNDECK:DATA:x"],
    );
    assert_eq!(emitted, vec![data("token", "abc 1")]);
    assert_eq!(
        lines[0],
        (LogLevel::Info, "RUNDECK:DATA:token = abc 1".into())
    );
}

#[test]
fn key_value_data_replaces_invalid_key_characters_as_rundecks_test_shows() {
    // Rundeck's functional test: "A B" becomes "AXB", with a warning first
    let mut c = chain(json!([{ "type": "key-value-data", "config": {
        "invalidCharactersReplacement": "X",
        "invalidKeyPattern": "\\s|\\$|\\{|\\}|\\\\",
        "logData": "false",
        "regex": "^(A\\s*B)\\s*=\\s*(.+)$",
        "replaceFilteredResult": "true"
    }}]));
    let (_, emitted) = run(&mut c, &["A B=data pass example from first step"]);
    assert_eq!(
        emitted,
        vec![
            Emitted::Log(LogLevel::Warn, REPLACED.into()),
            data("AXB", "data pass example from first step")
        ]
    );
    // without replaceFilteredResult the replacement is `_`
    let mut c = chain(json!([{ "type": "key-value-data", "config": {
        "regex": "^(A\\s*B)\\s*=\\s*(.+)$" }}]));
    let (_, emitted) = run(&mut c, &["A B=v"]);
    assert_eq!(emitted[1], data("A_B", "v"));
}

#[test]
fn key_value_data_matches_whole_lines_unless_told_substrings() {
    let cfg = |extra: Value| {
        let mut config = json!({ "regex": "(\\w+)=(\\d+)" });
        config
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        chain(json!([{ "type": "key-value-data", "config": config }]))
    };
    let line = "a=1 and b=2";
    assert_eq!(run(&mut cfg(json!({})), &[line]).1, vec![]);
    assert_eq!(
        run(&mut cfg(json!({ "matchSubstrings": true })), &[line]).1,
        vec![data("a", "1")]
    );
    assert_eq!(
        run(
            &mut cfg(json!({ "matchSubstrings": "true", "allowMultipleMatches": "true" })),
            &[line]
        )
        .1,
        vec![data("a", "1"), data("b", "2")]
    );
}

#[test]
fn key_value_data_with_one_group_needs_a_name_and_logs_data_when_asked() {
    let e = refused(json!([{ "type": "key-value-data", "config": { "regex": "^v=(.+)$" } }]));
    assert!(e.contains("Name field must be defined"), "{e}");
    let e = refused(json!([{ "type": "key-value-data", "config": { "regex": "^v=.+$" } }]));
    assert!(e.contains("at least one group"), "{e}");
    let mut c = chain(json!([{ "type": "key-value-data", "config": {
        "regex": "^v=(.+)$", "name": "version", "logData": true } }]));
    let (_, emitted) = run(&mut c, &["v=1.2", "v=\"3\""]);
    assert_eq!(
        emitted,
        vec![
            data("version", "1.2"),
            data("version", "\"3\""),
            Emitted::Log(LogLevel::Info, r#"{"version":"\"3\""}"#.into())
        ]
    );
}

#[test]
fn multilines_joins_every_match_under_the_name_at_the_end() {
    // Rundeck's functional test: `\s*(.+)` named test_capture_result
    for multiple in ["true", "false"] {
        let mut c = chain(json!([{ "type": "key-value-data-multilines", "config": {
            "captureMultipleKeysValues": multiple, "hideOutput": "false",
            "logData": "false", "name": "test_capture_result", "regex": "\\s*(.+)" } }]));
        let (lines, emitted) = run(&mut c, &["123"]);
        assert_eq!(lines, vec![(LogLevel::Info, "123".into())]);
        assert_eq!(emitted, vec![data("test_capture_result", "123")]);
    }
    let mut c = chain(json!([{ "type": "key-value-data-multilines", "config": {
        "name": "all", "regex": "(\\w+\\s\\d+)", "hideOutput": true } }]));
    let (lines, emitted) = run(&mut c, &["hello 1", "world 2", "goodbye 3"]);
    assert_eq!(emitted, vec![data("all", "hello 1\nworld 2\ngoodbye 3")]);
    assert!(lines.iter().all(|(l, _)| *l == LogLevel::Debug));
}

#[test]
fn multilines_with_two_groups_and_multiple_keys_captures_one_key_per_line() {
    let mut c = chain(json!([{ "type": "key-value-data-multilines", "config": {
        "captureMultipleKeysValues": true, "regex": "(\\w+)\\s(\\d+)", "logData": true } }]));
    let (_, emitted) = run(&mut c, &["hello 1", "world 2", "goodbye 3"]);
    assert_eq!(
        emitted,
        vec![
            data("hello", "1"),
            data("world", "2"),
            data("goodbye", "3"),
            Emitted::Log(
                LogLevel::Info,
                r#"{"hello":"1","world":"2","goodbye":"3"}"#.into()
            )
        ]
    );
}

#[test]
fn quiet_output_moves_non_matching_lines_by_default() {
    let mut c = chain(json!([{ "type": "quiet-output", "config": { "regex": "^keep" } }]));
    let (lines, _) = run(&mut c, &["keep me", "noise"]);
    assert_eq!(
        lines,
        vec![
            (LogLevel::Info, "keep me".into()),
            (LogLevel::Verbose, "noise".into())
        ]
    );
    let mut c = chain(json!([{ "type": "quiet-output", "config": {
        "regex": "secret-ish", "quietMatch": "true", "loglevel": "debug" } }]));
    let (lines, _) = run(&mut c, &["a secret-ish line", "fine"]);
    assert_eq!(lines[0].0, LogLevel::Debug);
    assert_eq!(lines[1].0, LogLevel::Info);
    let e = refused(json!([{ "type": "quiet-output", "config": { "loglevel": "loud" } }]));
    assert!(e.contains("`loglevel` is `loud`"), "{e}");
}

#[test]
fn highlight_output_wraps_matches_or_groups_in_ansi_codes() {
    // Rundeck's functional test: green background, yellow text, bold
    let mut c = chain(json!([{ "type": "highlight-output", "config": {
        "bgcolor": "green", "fgcolor": "yellow", "mode": "bold",
        "regex": "This is an example" } }]));
    let (lines, _) = run(&mut c, &["This is an example for highlight filter"]);
    assert_eq!(
        lines[0].1,
        "\u{1b}[33;42;1mThis is an example\u{1b}[0m for highlight filter"
    );
    let mut c = chain(json!([{ "type": "highlight-output", "config": {
        "fgcolor": "red", "regex": "this (is) a (test)" } }]));
    let (lines, _) = run(&mut c, &["so this is a test, this is a test"]);
    assert_eq!(
        lines[0].1,
        "so this \u{1b}[31mis\u{1b}[0m a \u{1b}[31mtest\u{1b}[0m, this \u{1b}[31mis\u{1b}[0m a \u{1b}[31mtest\u{1b}[0m"
    );
    let e = refused(json!([{ "type": "highlight-output", "config": { "regex": "(" } }]));
    assert!(
        e.contains("`regex` is not a valid regular expression"),
        "{e}"
    );
}

#[test]
fn render_datatype_gathers_the_marked_lines_into_one_event() {
    let mut c = chain(json!([{ "type": "render-datatype" }]));
    let (lines, emitted) = run(
        &mut c,
        &[
            "before",
            "#BEGIN:RUNDECK:DATATYPE:application/json",
            "{\"a\":",
            "1}",
            "#END:RUNDECK:DATATYPE",
            "after",
        ],
    );
    let levels: Vec<LogLevel> = lines.iter().map(|l| l.0).collect();
    use LogLevel::{Debug, Info};
    assert_eq!(levels, vec![Info, Debug, Debug, Debug, Debug, Info]);
    assert_eq!(emitted, vec![Emitted::Log(Info, "{\"a\":\n1}".into())]);
    // a preset type gathers everything, up to the step's end
    let mut c = chain(json!([{ "type": "render-datatype", "config": { "datatype": "csv" } }]));
    let (_, emitted) = run(&mut c, &["a,b", "1,2"]);
    assert_eq!(emitted, vec![Emitted::Log(Info, "a,b\n1,2".into())]);
}

#[test]
fn mask_passwords_sets_the_replacement_and_its_colour() {
    let c = chain(json!([{ "type": "mask-passwords", "config": { "replacement": "***" } }]));
    assert_eq!(c.mask_replacement(), Some("***"));
    let c = chain(json!([{ "type": "mask-passwords", "config": { "color": "red" } }]));
    assert_eq!(c.mask_replacement(), Some("\u{1b}[31m[SECURE]\u{1b}[0m"));
    assert_eq!(chain(json!([])).mask_replacement(), None);
}

#[test]
fn an_unknown_filter_or_bad_shape_is_refused_naming_it() {
    let e = refused(json!([{ "type": "jq-json-log-filter" }]));
    assert!(e.contains("`jq-json-log-filter` is not available"), "{e}");
    let e = specs(Some(&json!({ "LogFilter": { "type": "x" } }))).unwrap_err();
    assert!(e.contains("expected a list"), "{e}");
    let e = specs(Some(&json!({ "LogFilter": [{ "config": {} }] }))).unwrap_err();
    assert!(e.contains("LogFilter[0]: `type` is missing"), "{e}");
}

#[test]
fn problems_names_where_each_fault_is() {
    let yaml = r#"
- name: j
  sequence:
    pluginConfig:
      LogFilter:
      - type: nope
    commands:
    - exec: echo
    - exec: echo
      plugins:
        LogFilter:
        - type: key-value-data
          config: { regex: "^v=.+$" }
      errorhandler:
        exec: echo
        plugins:
          LogFilter:
          - type: quiet-output
            config: { regex: "[" }
"#;
    let job = crate::format::parse_jobs_yaml(yaml, "t").unwrap().remove(0);
    let p = problems(&job);
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(p[0].starts_with("workflow: log filter `nope`"), "{p:?}");
    assert!(p[1].starts_with("step 2: "), "{p:?}");
    assert!(p[2].starts_with("step 2 error handler: "), "{p:?}");
}
