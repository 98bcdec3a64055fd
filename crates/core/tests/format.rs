//! Import/export of Rundeck job and resource documents.
#![allow(clippy::unwrap_used)]

use foredeck_core::format::{
    jobs_to_json, jobs_to_yaml, nodes_to_json, nodes_to_yaml, parse_jobs_json, parse_jobs_yaml,
    parse_nodes, parse_nodes_json, parse_nodes_yaml, read_jobs_json, read_jobs_yaml, validate_job,
    NodeFormat, MAX_DOCUMENT_BYTES,
};
use foredeck_core::{
    Error, Job, JobOption, LogLevel, LogLimitAction, NodeFilters, RankOrder, Schedule, Step,
    StepKind, Strategy, Workflow,
};
use std::path::Path;

const RICH: &str = include_str!("fixtures/jobs_rich.yaml");
const RUNDECK5: &str = include_str!("fixtures/rundeck5_export.yaml");
const NODES: &str = include_str!("fixtures/nodes.yaml");

fn message(e: &Error) -> String {
    e.to_string()
}

#[test]
fn rich_fixture_reads_every_field() {
    let jobs = parse_jobs_yaml(RICH, "rich.yaml").unwrap();
    assert_eq!(jobs.len(), 3);
    let j = &jobs[0];
    assert_eq!(
        j.uuid.as_deref(),
        Some("3f0c1d2e-0000-4000-8000-000000000001")
    );
    assert_eq!(j.full_name(), "ops/web/deploy");
    assert!(j.description.starts_with("Deploy the web tier.\nSecond"));
    assert_eq!(j.loglevel, LogLevel::Debug);
    assert!(j.execution_enabled && !j.schedule_enabled && j.multiple_executions);
    assert_eq!(j.timeout.as_deref(), Some("1d2h3m4s"));
    let retry = j.retry.as_ref().unwrap();
    assert_eq!(
        (retry.retry.as_str(), retry.delay.as_deref()),
        ("3", Some("30s"))
    );
    assert_eq!(j.loglimit.as_deref(), Some("10MB"));
    assert_eq!(j.loglimit_action, Some(LogLimitAction::Halt));
    assert_eq!(j.loglimit_status.as_deref(), Some("aborted"));
    assert_eq!(j.time_zone.as_deref(), Some("Europe/Paris"));
    assert!(
        matches!(&j.schedule, Some(Schedule::Crontab { crontab }) if crontab.contains("MON-FRI"))
    );
    assert!(j.extra.contains_key("defaultTab") && j.extra.contains_key("customJobField"));

    let nf = j.nodefilters.as_ref().unwrap();
    assert_eq!(nf.dispatch.threadcount, 4);
    assert!(nf.dispatch.keepgoing && !nf.dispatch.exclude_precedence);
    assert_eq!(nf.dispatch.rank_order, RankOrder::Descending);
    assert_eq!(nf.dispatch.rank_attribute.as_deref(), Some("rank"));
    assert!(nf.extra.contains_key("filterExclude"));
    assert!(nf.dispatch.extra.contains_key("futureDispatchKnob"));

    let env = j.option("env").unwrap();
    assert!(env.required && env.enforced);
    assert_eq!(env.default.as_deref(), Some("prod"));
    assert!(env.extra.contains_key("optionColour"));
    assert!(j.option("hosts").unwrap().multivalued);
    let pw = j.option("password").unwrap();
    assert!(pw.secure && pw.value_exposed && pw.storage_path.is_some());
    assert!(j.option("branch").unwrap().values_url.is_some());

    let seq = &j.sequence;
    assert!(seq.keepgoing);
    assert_eq!(seq.strategy, Strategy::NodeFirst);
    assert!(seq.extra.contains_key("sequenceExtra"));
    assert!(seq.plugin_config.is_some());
    let c = &seq.commands;
    assert_eq!(c.len(), 8);
    assert!(matches!(&c[0].kind, StepKind::Command { exec } if exec.contains("deploying")));
    assert!(c[0].extra.contains_key("stepExtra"));
    assert!(c[0].plugins.is_some());
    assert!(c[0].errorhandler.as_ref().unwrap().keepgoing_on_success);
    match &c[1].kind {
        StepKind::Script { script, spec } => {
            assert!(script.starts_with("#!/bin/bash\n"));
            assert_eq!(spec.interpreter.as_deref(), Some("bash -e"));
            assert!(spec.args_quoted && !spec.expand_tokens);
            assert_eq!(spec.file_extension.as_deref(), Some(".sh"));
            assert_eq!(spec.args.as_deref(), Some("-x ${option.env}"));
        }
        k => panic!("{k:?}"),
    }
    assert!(
        matches!(&c[2].kind, StepKind::ScriptFile { path, .. } if path == "/opt/scripts/migrate.sh")
    );
    assert!(matches!(&c[3].kind, StepKind::ScriptUrl { .. }));
    match &c[4].kind {
        StepKind::JobRef(r) => {
            assert!(r.node_step && r.fail_on_disable && r.child_nodes && r.import_options);
            assert!(r.ignore_notifications);
            assert_eq!(r.nodefilters.as_ref().unwrap().dispatch.threadcount, 2);
            assert!(r.extra.contains_key("jobrefExtra"));
        }
        k => panic!("{k:?}"),
    }
    assert!(matches!(
        &c[5].errorhandler.as_ref().unwrap().kind,
        StepKind::Plugin { .. }
    ));
    assert!(
        matches!(&c[6].kind, StepKind::Plugin { node_step: true, plugin_type, configuration }
        if plugin_type == "copyfile" && configuration.len() == 3)
    );
    assert!(!c[7].is_node_step());

    assert_eq!(jobs[1].sequence.strategy, Strategy::Sequential);
    assert_eq!(jobs[1].retry.as_ref().unwrap().retry, "${option.retries}");
    assert!(matches!(&jobs[1].schedule, Some(Schedule::Structured(_))));
    assert_eq!(jobs[2].sequence.strategy, Strategy::Parallel);
}

#[test]
fn yaml_round_trip() {
    let jobs = parse_jobs_yaml(RICH, "rich.yaml").unwrap();
    let out = jobs_to_yaml(&jobs).unwrap();
    assert!(out.starts_with("- "), "a Rundeck-style list: {out}");
    let again = parse_jobs_yaml(&out, "export.yaml").unwrap();
    assert_eq!(without_project(jobs), again);
    // A second export is stable.
    assert_eq!(out, jobs_to_yaml(&again).unwrap());
}

#[test]
fn json_round_trip() {
    let jobs = parse_jobs_yaml(RICH, "rich.yaml").unwrap();
    let out = jobs_to_json(&jobs).unwrap();
    let again = parse_jobs_json(&out, "export.json").unwrap();
    let jobs = without_project(jobs);
    assert_eq!(jobs, again);
    // And across formats.
    let yaml = jobs_to_yaml(&again).unwrap();
    assert_eq!(parse_jobs_yaml(&yaml, "x.yaml").unwrap(), jobs);
}

/// As Rundeck, an export names no project (and writes `id` beside `uuid`).
fn without_project(mut jobs: Vec<Job>) -> Vec<Job> {
    for j in &mut jobs {
        j.project = None;
    }
    jobs
}

#[test]
fn export_writes_back_what_rundeck_wrote() {
    // issue 26 item 4: string-typed values keep their type, explicit false
    // values stay, `id` is written beside `uuid`, `id: null` is settled
    let src = "\
- id: 7c7b3d1e-0000-4000-8000-000000000001
  uuid: 7c7b3d1e-0000-4000-8000-000000000001
  name: typed
  project: elsewhere
  nodefilters:
    dispatch:
      threadcount: '3'
      keepgoing: 'false'
      successOnEmptyNodeFilter: false
      excludePrecedence: true
    filter: 'tags: web'
  notification:
    onfailure:
      email:
        recipients: ops@example.com
        attachLog: 'true'
  sequence:
    commands:
    - script: echo hi
      scriptInterpreter: bash
      interpreterArgsQuoted: false
    - scriptfile: /opt/run.sh
      expandTokenInScriptFile: true
    - jobref:
        name: child
        nodeStep: 'true'
    - type: my-step
      nodeStep: 'false'
- id: null
  name: fresh
  sequence:
    commands:
    - exec: date
";
    let jobs = parse_jobs_yaml(src, "typed.yaml").unwrap();
    assert_eq!(
        jobs[0].nodefilters.as_ref().unwrap().dispatch.threadcount,
        3
    );
    assert!(jobs[1].uuid.is_none() && !jobs[1].extra.contains_key("id"));
    let out = jobs_to_yaml(&jobs).unwrap();
    for kept in [
        "threadcount: '3'",
        "keepgoing: 'false'",
        "successOnEmptyNodeFilter: false",
        "attachLog: 'true'",
        "interpreterArgsQuoted: false",
        "expandTokenInScriptFile: true",
        "nodeStep: 'true'",
        "nodeStep: 'false'",
        "id: 7c7b3d1e-0000-4000-8000-000000000001",
    ] {
        assert!(out.contains(kept), "{kept} missing from\n{out}");
    }
    assert!(!out.contains("project:"), "{out}");
    assert!(!out.contains("id: null"), "{out}");
    // a second round trip is byte for byte the same, in both formats
    let again = parse_jobs_yaml(&out, "export.yaml").unwrap();
    assert_eq!(jobs_to_yaml(&again).unwrap(), out);
    let json = jobs_to_json(&jobs).unwrap();
    assert!(json.contains("\"threadcount\": \"3\"") && json.contains("\"attachLog\": \"true\""));
    let again = parse_jobs_json(&json, "export.json").unwrap();
    assert_eq!(jobs_to_json(&again).unwrap(), json);
    // a job given a uuid later is written with `id` equal to it
    let mut fresh = jobs[1].clone();
    fresh.uuid = Some("assigned".into());
    assert!(jobs_to_yaml(&[fresh]).unwrap().contains("id: assigned"));
}

/// Every flag of a job, its workflow and its options comes back in the
/// form it was written in: quoted (`'true'`), or an explicit `false` that
/// an export would otherwise leave out; through YAML and JSON, and through
/// the store's own serialization.
#[test]
fn every_flag_keeps_the_form_it_was_written_in() {
    let src = "\
- id: 7c7b3d1e-0000-4000-8000-000000000002
  uuid: 7c7b3d1e-0000-4000-8000-000000000002
  name: flags
  description: ''
  loglevel: INFO
  executionEnabled: 'true'
  scheduleEnabled: 'false'
  multipleExecutions: false
  nodeFilterEditable: 'false'
  nodesSelectedByDefault: 'true'
  nagios: 'false'
  durable: false
  nodefilters:
    dispatch:
      threadcount: '2'
      keepgoing: 'true'
      excludePrecedence: 'false'
      successOnEmptyNodeFilter: 'false'
      rankOrder: ascending
    filter: 'name: a'
  options:
  - name: o
    value: a
    values:
    - a
    - b
    required: 'true'
    enforced: 'false'
    multivalued: false
    multivalueAllSelected: 'false'
    secure: 'false'
    valueExposed: false
    isDate: 'false'
    hidden: 'false'
  sequence:
    keepgoing: 'false'
    strategy: node-first
    commands:
    - exec: echo hi
";
    let written: serde_json::Value = serde_yaml_ng::from_str(src).unwrap();
    let jobs = parse_jobs_yaml(src, "flags.yaml").unwrap();
    let (job, opt) = (&jobs[0], &jobs[0].options[0]);
    assert!(job.execution_enabled && !job.schedule_enabled && !job.multiple_executions);
    assert_eq!(job.nodes_selected_by_default, Some(true));
    assert_eq!(job.node_filter_editable, Some(false));
    assert!(opt.required && !opt.enforced && !opt.secure && !job.sequence.keepgoing);
    // the SQL store keeps a job as its YAML serialization
    let stored: Vec<Job> = jobs
        .iter()
        .map(|j| serde_yaml_ng::from_str(&serde_yaml_ng::to_string(j).unwrap()).unwrap())
        .collect();
    let yaml = jobs_to_yaml(&stored).unwrap();
    let back: serde_json::Value = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(back, written, "{yaml}");
    assert_eq!(
        jobs_to_yaml(&parse_jobs_yaml(&yaml, "again").unwrap()).unwrap(),
        yaml
    );
    let json = jobs_to_json(&stored).unwrap();
    let back: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(back, written, "{json}");
    assert_eq!(
        jobs_to_json(&parse_jobs_json(&json, "again").unwrap()).unwrap(),
        json
    );
    // a job built in code is written as before: true flags only
    let plain = jobs_to_yaml(&[Job::new("p", Workflow::new(vec![Step::command("x")]))]).unwrap();
    assert!(plain.contains("executionEnabled: true") && !plain.contains("multipleExecutions"));
}

/// A number or boolean written in a field the model keeps as text
/// (`timeout: 120`, `retry: 3`, an option's `value: 80` or `values: [80]`,
/// a schedule's `hour: 12`) is written back as a number or boolean, and a
/// string as a string; through YAML and JSON, and through the store's own
/// serialization.
#[test]
fn every_text_field_keeps_the_type_it_was_written_in() {
    let src = "\
- id: 7c7b3d1e-0000-4000-8000-000000000003
  uuid: 7c7b3d1e-0000-4000-8000-000000000003
  name: texts
  group: 2024
  description: 42
  loglevel: INFO
  executionEnabled: true
  scheduleEnabled: true
  timeout: 120
  retry:
    retry: 3
    delay: 30
  loglimit: 100
  loglimitAction: halt
  notifyAvgDurationThreshold: 20
  schedule:
    month: 1
    time:
      hour: 12
      minute: '5'
      seconds: 0
    dayofmonth:
      day: 15
    year: 2030
  options:
  - name: port
    label: 8080
    description: 1.5
    value: 80
    values:
    - 80
    - '443'
    - true
  - name: one
    value: 1
    values:
    - 1
    regex: 1
  - name: flag
    value: true
    values:
    - 1
    - 2
  - name: text
    value: '80'
    values:
    - '80'
  sequence:
    keepgoing: false
    strategy: node-first
    commands:
    - exec: echo hi
- id: 7c7b3d1e-0000-4000-8000-000000000004
  uuid: 7c7b3d1e-0000-4000-8000-000000000004
  name: count
  description: ''
  loglevel: INFO
  executionEnabled: true
  scheduleEnabled: true
  timeout: '120'
  retry: 3
  schedule:
    time:
      hour: '12'
    weekday:
      day: 2
  sequence:
    keepgoing: false
    strategy: node-first
    commands:
    - exec: echo hi
";
    let written: serde_json::Value = serde_yaml_ng::from_str(src).unwrap();
    let jobs = parse_jobs_yaml(src, "texts.yaml").unwrap();
    // the model keeps them as text
    assert_eq!(jobs[0].timeout.as_deref(), Some("120"));
    assert_eq!(jobs[0].retry.as_ref().unwrap().retry, "3");
    assert_eq!(jobs[0].options[0].default.as_deref(), Some("80"));
    assert_eq!(jobs[0].options[0].values, ["80", "443", "true"]);
    assert_eq!(jobs[1].retry.as_ref().unwrap().retry, "3");
    // the SQL store keeps a job as its YAML serialization
    let stored: Vec<Job> = jobs
        .iter()
        .map(|j| serde_yaml_ng::from_str(&serde_yaml_ng::to_string(j).unwrap()).unwrap())
        .collect();
    let yaml = jobs_to_yaml(&stored).unwrap();
    let back: serde_json::Value = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(back, written, "{yaml}");
    assert_eq!(
        jobs_to_yaml(&parse_jobs_yaml(&yaml, "again").unwrap()).unwrap(),
        yaml
    );
    let json = jobs_to_json(&stored).unwrap();
    let back: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(back, written, "{json}");
    assert_eq!(
        jobs_to_json(&parse_jobs_json(&json, "again").unwrap()).unwrap(),
        json
    );
    // XML has no types: the values come back the same
    let xml = foredeck_core::format::jobs_to_xml(&stored).unwrap();
    assert_eq!(
        foredeck_core::format::parse_jobs_xml(&xml, "x").unwrap(),
        jobs,
        "{xml}"
    );
    // a value changed since that no longer reads as a number is a string
    let mut changed = jobs[0].clone();
    changed.timeout = Some("2h".into());
    assert!(jobs_to_yaml(&[changed]).unwrap().contains("timeout: 2h"));
    // a job built in code writes its text as strings
    let mut plain = Job::new("p", Workflow::new(vec![Step::command("x")]));
    plain.timeout = Some("120".into());
    assert!(jobs_to_yaml(&[plain]).unwrap().contains("timeout: '120'"));
}

/// Rundeck keeps `loglevel: ERR` and `strategy: step-first` as written
/// (`ScheduledExecution.fromMap`/`toMap`, `Workflow.fromMap`/`toMap`) and
/// exports them so; Foredeck reads them as `ERROR` and `sequential` and
/// writes them back as written, while they still name the value.
#[test]
fn rundeck_synonyms_are_written_back_as_written() {
    let src = "- name: s\n  loglevel: ERR\n  sequence:\n    strategy: step-first\n    commands:\n    - exec: a\n";
    let jobs = parse_jobs_yaml(src, "s.yaml").unwrap();
    assert_eq!(jobs[0].loglevel, LogLevel::Error);
    assert_eq!(jobs[0].sequence.strategy, Strategy::Sequential);
    let stored: Job =
        serde_yaml_ng::from_str(&serde_yaml_ng::to_string(&jobs[0]).unwrap()).unwrap();
    let out = jobs_to_yaml(std::slice::from_ref(&stored)).unwrap();
    assert!(
        out.contains("loglevel: ERR\n") && out.contains("strategy: step-first"),
        "{out}"
    );
    let json = jobs_to_json(&jobs).unwrap();
    assert!(json.contains("\"loglevel\": \"ERR\""), "{json}");
    // changed since: the new value's own name
    let mut changed = stored.clone();
    changed.loglevel = LogLevel::Debug;
    changed.sequence.strategy = Strategy::NodeFirst;
    let out = jobs_to_yaml(&[changed]).unwrap();
    assert!(
        out.contains("loglevel: DEBUG") && out.contains("strategy: node-first"),
        "{out}"
    );
}

#[test]
fn unknown_fields_are_written_back() {
    let jobs = parse_jobs_yaml(RICH, "rich.yaml").unwrap();
    let yaml = jobs_to_yaml(&jobs).unwrap();
    let json = jobs_to_json(&jobs).unwrap();
    for key in [
        "defaultTab",
        "customJobField",
        "sequenceExtra",
        "stepExtra",
        "optionColour",
        "filterExclude",
        "futureDispatchKnob",
        "jobrefExtra",
        "onunknowntrigger",
    ] {
        assert!(yaml.contains(key), "{key} missing from YAML export");
        assert!(json.contains(key), "{key} missing from JSON export");
    }
}

#[test]
fn rundeck5_export_imports() {
    let jobs = parse_jobs_yaml(RUNDECK5, "rd5.yaml").unwrap();
    assert_eq!(jobs.len(), 1);
    let j = &jobs[0];
    assert_eq!(j.name, "rotate logs");
    assert_eq!(
        j.uuid.as_deref(),
        Some("8c2b3f7e-5d4a-4b7e-9f0a-1a2b3c4d5e6f")
    );
    assert!(
        !j.extra.contains_key("id"),
        "an `id` equal to `uuid` is folded"
    );
    assert!(j.extra.contains_key("defaultTab") && j.extra.contains_key("schedules"));
    assert!(j.plugins.is_some());
    assert_eq!(j.schedule.as_ref().unwrap().to_quartz(), "0 15 03 ? * * *");
    assert_eq!(j.sequence.commands.len(), 2);
    assert_eq!(j.option("days").unwrap().default.as_deref(), Some("7"));
    let again = parse_jobs_yaml(&jobs_to_yaml(&jobs).unwrap(), "x").unwrap();
    assert_eq!(again, jobs);
}

#[test]
fn id_alone_fills_uuid_and_differing_id_is_kept() {
    let jobs = parse_jobs_yaml(
        "- id: abc\n  name: a\n  sequence: {commands: [{exec: x}]}\n",
        "s",
    )
    .unwrap();
    assert_eq!(jobs[0].uuid.as_deref(), Some("abc"));
    assert!(jobs[0].extra.is_empty());
    let jobs = parse_jobs_yaml(
        "- id: abc\n  uuid: def\n  name: a\n  sequence: {commands: [{exec: x}]}\n",
        "s",
    )
    .unwrap();
    assert_eq!(jobs[0].uuid.as_deref(), Some("def"));
    assert_eq!(jobs[0].extra["id"], "abc");
}

#[test]
fn single_mapping_json_object_and_scalar_items_are_refused_as_in_rundeck() {
    // Rundeck's JobYAMLFormat/JobJSONFormat: "Expected list data" for a
    // root that is not a list, "Expected list of Maps" for other items
    let m = message(
        &parse_jobs_yaml(
            "name: solo\nsequence:\n  commands:\n  - exec: id\n",
            "s.yaml",
        )
        .unwrap_err(),
    );
    assert!(m.contains("Expected list data"), "{m}");
    let m = message(
        &parse_jobs_json(
            r#"{"name": "solo", "sequence": {"commands": [{"exec": "id"}]}}"#,
            "s.json",
        )
        .unwrap_err(),
    );
    assert!(m.contains("Expected list data"), "{m}");
    for (doc, want) in [
        ("asdf", "Expected list data"),
        ("1123", "Expected list data"),
        ("[1]", "Expected list of Maps"),
        ("[[1]]", "Expected list of Maps"),
        ("[true]", "Expected list of Maps"),
    ] {
        let m = message(&read_jobs_yaml(doc, "d.yaml").unwrap_err());
        assert!(m.contains(want), "{doc}: {m}");
    }
    assert!(parse_jobs_yaml("", "empty.yaml").unwrap().is_empty());
    assert!(parse_jobs_yaml("[]", "empty.yaml").unwrap().is_empty());
}

#[test]
fn each_job_is_read_on_its_own_and_failures_keep_their_place() {
    let src = "\
- name: good
  sequence:
    commands:
    - exec: ok
- name: unreadable
  group: ops
  sequence:
    commands: 7
- name: also good
  sequence:
    commands:
    - exec: ok
- name: invalid
  sequence:
    commands: []
- name: bad/name
  sequence:
    commands:
    - exec: ok
";
    let results = read_jobs_yaml(src, "jobs.yaml").unwrap();
    assert_eq!(results.len(), 5);
    assert_eq!(results[0].as_ref().unwrap().name, "good");
    assert_eq!(results[2].as_ref().unwrap().name, "also good");
    let f = results[1].as_ref().unwrap_err();
    assert_eq!(
        (f.index, f.name.as_deref(), f.group.as_deref()),
        (2, Some("unreadable"), Some("ops"))
    );
    let m = message(&f.error);
    assert!(
        m.contains("sequence.commands") && m.contains("line 8"),
        "{m}"
    );
    let f = results[3].as_ref().unwrap_err();
    assert_eq!((f.index, f.name.as_deref()), (4, Some("invalid")));
    assert!(message(&f.error).contains("at least one step"));
    assert_eq!(results[4].as_ref().unwrap_err().index, 5);
    // the first-failure form stops at job #2
    let m = message(&parse_jobs_yaml(src, "jobs.yaml").unwrap_err());
    assert!(m.contains("unreadable"), "{m}");

    let json = r#"[{"name": "a", "sequence": {"commands": [{"exec": "x"}]}},
                   {"name": "b", "sequence": {"commands": [{"nothing": 1}]}},
                   {"name": "c", "sequence": {"commands": {"x": 1}}},
                   {"name": "d", "sequence": {"commands": [{"exec": "x"}]}}]"#;
    let results = read_jobs_json(json, "jobs.json").unwrap();
    let ok: Vec<_> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|j| j.name.as_str())
        .collect();
    assert_eq!(ok, ["a", "d"]);
    let failed: Vec<_> = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .map(|f| f.index)
        .collect();
    assert_eq!(failed, [2, 3]);
    // a syntax error is the whole document's
    assert!(read_jobs_json("[{\"name\": \"a\",}]", "bad.json").is_err());
}

#[test]
fn error_names_job_field_and_line() {
    let src = "\
- name: first
  sequence:
    commands:
    - exec: ok
- name: deploy
  sequence:
    commands:
    - exec: fine
    - exec: [not, a, string]
";
    let e = parse_jobs_yaml(src, "jobs.yaml").unwrap_err();
    let m = message(&e);
    assert!(matches!(e, Error::Format { .. }));
    assert!(
        m.starts_with("jobs.yaml: job \"deploy\" (#2), field `sequence.commands[1].exec`"),
        "{m}"
    );
    assert!(m.contains("line 9"), "{m}");

    let e = parse_jobs_yaml(
        "- sequence: {commands: [{exec: x}]}\n  loglevel: LOUD\n",
        "j.yaml",
    )
    .unwrap_err();
    let m = message(&e);
    assert!(m.contains("job #1, field `loglevel`"), "{m}");
    assert!(m.contains("line 2"), "{m}");

    let e = parse_jobs_json(
        "[{\"name\": \"a\", \"sequence\": {\"commands\": [{\"exec\": \"x\"}]}},\n {\"name\": \"b\", \"nodefilters\": {\"dispatch\": {\"threadcount\": \"many\"}}}]",
        "jobs.json",
    )
    .unwrap_err();
    let m = message(&e);
    assert!(
        m.contains("job \"b\" (#2), field `nodefilters.dispatch.threadcount`"),
        "{m}"
    );
    assert!(m.contains("line 2"), "{m}");
}

#[test]
fn missing_name_and_bad_step_are_reported() {
    let e = parse_jobs_yaml(
        "- description: x\n  sequence: {commands: [{exec: x}]}\n",
        "j.yaml",
    )
    .unwrap_err();
    assert!(message(&e).contains("job #1"), "{e}");
    assert!(message(&e).contains("name"), "{e}");
    let e = parse_jobs_yaml(
        "- name: a\n  sequence:\n    commands:\n    - description: nothing\n",
        "j.yaml",
    )
    .unwrap_err();
    let m = message(&e);
    assert!(
        m.contains("job \"a\" (#1), field `sequence.commands[0]`"),
        "{m}"
    );
    assert!(m.contains("needs one of"), "{m}");
}

#[test]
fn syntax_errors_have_line_and_column() {
    let e = parse_jobs_yaml("- name: a\n  sequence: [\n    - x: : y\n", "bad.yaml").unwrap_err();
    let m = message(&e);
    assert!(m.starts_with("bad.yaml: "), "{m}");
    assert!(m.contains("line") && m.contains("column"), "{m}");
    let e = parse_jobs_json("[{\"name\": \"a\",}]", "bad.json").unwrap_err();
    let m = message(&e);
    assert!(m.contains("line 1 column"), "{m}");
}

#[test]
fn billion_laughs_is_refused() {
    let bomb = r#"
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"#;
    let e = parse_jobs_yaml(bomb, "bomb.yaml").unwrap_err();
    assert!(matches!(e, Error::Format { .. }), "{e}");
    let e = parse_nodes_yaml(bomb, "bomb.yaml").unwrap_err();
    assert!(matches!(e, Error::Format { .. }), "{e}");
    // As a list of jobs too.
    let list = format!("{bomb}\n")
        .replace("\na:", "\n- a:")
        .replace("\n", "\n  ");
    assert!(parse_jobs_yaml(list.trim_start(), "bomb.yaml").is_err());
}

#[test]
fn moderate_aliases_still_work() {
    let src = "\
- name: a
  sequence:
    commands: &steps
    - exec: echo one
- name: b
  sequence:
    commands: *steps
";
    let jobs = parse_jobs_yaml(src, "anchors.yaml").unwrap();
    assert_eq!(jobs[0].sequence, jobs[1].sequence);
}

#[test]
fn oversized_and_deep_documents_are_refused() {
    let big = " ".repeat(MAX_DOCUMENT_BYTES + 1);
    let m = message(&parse_jobs_yaml(&big, "big.yaml").unwrap_err());
    assert!(m.contains("larger than"), "{m}");
    assert!(parse_nodes_json(&big, "big.json").is_err());

    let deep_yaml = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let m = message(&parse_jobs_yaml(&deep_yaml, "deep.yaml").unwrap_err());
    assert!(m.contains("deeper") || m.contains("recursion"), "{m}");
    assert!(parse_jobs_json(&deep_yaml, "deep.json").is_err());
    assert!(parse_nodes_yaml(&deep_yaml, "deep.yaml").is_err());
    let deep_job = format!(
        "- name: a\n  sequence: {{commands: [{{exec: x}}]}}\n  extra: {}1{}\n",
        "[".repeat(100),
        "]".repeat(100)
    );
    let m = message(&parse_jobs_yaml(&deep_job, "deep.yaml").unwrap_err());
    assert!(m.contains("deeper than 64"), "{m}");
}

fn job(name: &str) -> Job {
    Job::new(name, Workflow::new(vec![Step::command("echo hi")]))
}

fn invalid(j: &Job) -> (String, String) {
    match validate_job(j) {
        Err(Error::InvalidJob { field, message, .. }) => (field, message),
        other => panic!("expected InvalidJob, got {other:?}"),
    }
}

#[test]
fn validation_rules() {
    assert!(validate_job(&job("ok")).is_ok());

    let mut avg = job("avg");
    for ok in ["20%", "+30", "+5m", "90s", "${option.limit}"] {
        avg.notify_avg_duration_threshold = Some(ok.into());
        assert!(validate_job(&avg).is_ok(), "{ok}");
    }
    avg.notify_avg_duration_threshold = Some("soon".into());
    assert_eq!(invalid(&avg).0, "notifyAvgDurationThreshold");

    assert_eq!(invalid(&job("")).0, "name");
    assert_eq!(invalid(&job("a/b")).0, "name");
    assert_eq!(
        invalid(&Job::new("x", Workflow::default())).0,
        "sequence.commands"
    );

    let with_opt = |o: JobOption| {
        let mut j = job("x");
        j.options.push(o);
        j
    };
    assert_eq!(
        invalid(&with_opt(JobOption::new("bad name"))).0,
        "options[0].name"
    );
    let mut dup = with_opt(JobOption::new("a"));
    dup.options.push(JobOption::new("a"));
    assert_eq!(invalid(&dup).0, "options[1].name");
    let mut o = JobOption::new("r");
    o.regex = Some("([".into());
    assert_eq!(invalid(&with_opt(o)).0, "options[0].regex");
    let mut o = JobOption::new("e");
    o.enforced = true;
    o.values = vec!["a".into(), "b".into()];
    o.default = Some("c".into());
    assert_eq!(invalid(&with_opt(o.clone())).0, "options[0].value");
    o.default = Some("b".into());
    assert!(validate_job(&with_opt(o.clone())).is_ok());
    o.multivalued = true;
    o.delimiter = Some(",".into());
    o.default = Some("a,b".into());
    assert!(validate_job(&with_opt(o.clone())).is_ok());
    o.default = Some("a,z".into());
    assert_eq!(invalid(&with_opt(o)).0, "options[0].value");
    let mut o = JobOption::new("v");
    o.regex = Some("[0-9]+".into());
    o.default = Some("abc".into());
    assert_eq!(invalid(&with_opt(o.clone())).0, "options[0].value");
    // as Rundeck's import (`=~`): a match anywhere in the default will do
    o.default = Some("12a".into());
    assert!(validate_job(&with_opt(o.clone())).is_ok());
    o.values = vec!["1".into(), "x".into()];
    assert_eq!(invalid(&with_opt(o)).0, "options[0].values");

    let steps = |s: Step| Job::new("x", Workflow::new(vec![Step::command("ok"), s]));
    assert_eq!(
        invalid(&steps(Step::command("  "))).0,
        "sequence.commands[1].exec"
    );
    let script = Step::new(StepKind::Script {
        script: String::new(),
        spec: Default::default(),
    });
    assert_eq!(invalid(&steps(script)).0, "sequence.commands[1].script");
    let handler = Step::command("ok").with_handler(Step::command(""));
    assert_eq!(
        invalid(&steps(handler)).0,
        "sequence.commands[1].errorhandler.exec"
    );
    let jobref = Step::new(StepKind::JobRef(Default::default()));
    assert_eq!(invalid(&steps(jobref)).0, "sequence.commands[1].jobref");
    let jobref = Step::new(StepKind::JobRef(foredeck_core::JobRef {
        uuid: Some("u".into()),
        nodefilters: Some(NodeFilters {
            dispatch: foredeck_core::Dispatch {
                threadcount: 0,
                ..Default::default()
            },
            ..Default::default()
        }),
        ..Default::default()
    }));
    assert_eq!(
        invalid(&steps(jobref)).0,
        "sequence.commands[1].jobref.nodefilters.dispatch.threadcount"
    );

    let mut j = job("x");
    j.nodefilters = Some(NodeFilters::default());
    assert!(validate_job(&j).is_ok());
    j.nodefilters.as_mut().unwrap().dispatch.threadcount = 0;
    assert_eq!(invalid(&j).0, "nodefilters.dispatch.threadcount");

    for (t, ok) in [
        ("120", true),
        ("1d2h3m4s", true),
        ("${option.t}", true),
        ("soon", false),
    ] {
        let mut j = job("x");
        j.timeout = Some(t.into());
        assert_eq!(validate_job(&j).is_ok(), ok, "timeout {t}");
    }
    for (r, ok) in [
        ("3", true),
        ("${option.r}", true),
        ("three", false),
        ("-1", false),
    ] {
        let mut j = job("x");
        j.retry = Some(foredeck_core::Retry {
            retry: r.into(),
            delay: None,
        });
        assert_eq!(validate_job(&j).is_ok(), ok, "retry {r}");
    }
    let mut j = job("x");
    j.retry = Some(foredeck_core::Retry {
        retry: "1".into(),
        delay: Some("later".into()),
    });
    assert_eq!(invalid(&j).0, "retry.delay");
    for (l, ok) in [
        ("100", true),
        ("100/node", true),
        ("10MB", true),
        ("10KB", true),
        ("1GB", true),
        ("lots", false),
    ] {
        let mut j = job("x");
        j.loglimit = Some(l.into());
        assert_eq!(validate_job(&j).is_ok(), ok, "loglimit {l}");
    }
}

#[test]
fn parse_runs_validation_and_names_unnamed_jobs_by_position() {
    let e = parse_jobs_yaml(
        "- name: a\n  sequence: {commands: [{exec: x}]}\n- name: ''\n  sequence: {commands: [{exec: x}]}\n",
        "j.yaml",
    )
    .unwrap_err();
    match e {
        Error::InvalidJob { job, field, .. } => {
            assert_eq!((job.as_str(), field.as_str()), ("#2", "name"))
        }
        e => panic!("{e:?}"),
    }
    let e = parse_jobs_yaml(
        "- name: a\n  timeout: whenever\n  sequence: {commands: [{exec: x}]}\n",
        "j",
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::InvalidJob { ref job, ref field, .. } if job == "a" && field == "timeout"),
        "{e}"
    );
}

#[test]
fn nodes_yaml_map_and_list() {
    let nodes = parse_nodes_yaml(NODES, "resources.yaml").unwrap();
    assert_eq!(nodes.len(), 2);
    let web = &nodes[0];
    assert_eq!(web.name, "web1");
    assert_eq!(
        web.host_port(),
        Some(("web1.example.com".into(), Some(2222)))
    );
    assert_eq!(web.tags_string(), "prod,web");
    assert_eq!(web.attribute("rack").as_deref(), Some("r12"));
    assert_eq!(web.executor(), Some("ssh"));
    let db = &nodes[1];
    assert_eq!(db.name, "db1");
    assert_eq!(db.tags_string(), "db,prod");
    assert_eq!(db.attribute("cores").as_deref(), Some("16"));
    assert_eq!(db.attribute("virtual").as_deref(), Some("true"));

    let list = "- nodename: a\n  hostname: a:22\n  tags: x\n- nodename: b\n  custom: y\n";
    let nodes = parse_nodes_yaml(list, "l.yaml").unwrap();
    assert_eq!(
        nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
}

#[test]
fn nodes_round_trip() {
    let nodes = parse_nodes_yaml(NODES, "resources.yaml").unwrap();
    let yaml = nodes_to_yaml(&nodes).unwrap();
    assert!(yaml.starts_with("web1:"), "{yaml}");
    assert_eq!(parse_nodes_yaml(&yaml, "x.yaml").unwrap(), nodes);
    let json = nodes_to_json(&nodes).unwrap();
    assert!(
        json.contains("\"hostname\": \"web1.example.com:2222\""),
        "{json}"
    );
    assert_eq!(parse_nodes_json(&json, "x.json").unwrap(), nodes);
    assert_eq!(
        parse_nodes(&json, "x.json", NodeFormat::Json).unwrap(),
        nodes
    );
    assert_eq!(
        parse_nodes(&yaml, "x.yaml", NodeFormat::Yaml).unwrap(),
        nodes
    );
}

#[test]
fn nodes_json_array_and_errors() {
    let nodes = parse_nodes_json(
        r#"[{"nodename": "a", "tags": ["t1", "t2"], "port": 22}, {"nodename": "b"}]"#,
        "n.json",
    )
    .unwrap();
    assert_eq!(nodes[0].tags_string(), "t1,t2");
    assert_eq!(nodes[0].attribute("port").as_deref(), Some("22"));

    let e = parse_nodes_json(r#"[{"nodename": "a"}, {"hostname": "h"}]"#, "n.json").unwrap_err();
    assert!(message(&e).contains("node #2 has no `nodename`"), "{e}");
    let e = parse_nodes_yaml("- nodename: a\n- hostname: h\n", "n.yaml").unwrap_err();
    let m = message(&e);
    assert!(
        m.contains("node #2 has no `nodename`") && m.contains("line"),
        "{m}"
    );
    let e = parse_nodes_yaml("a:\n  hostname: [x, y]\n", "n.yaml").unwrap_err();
    let m = message(&e);
    assert!(m.contains("node \"a\"") && m.contains("hostname"), "{m}");
    assert!(parse_nodes_yaml("just a string", "n.yaml").is_err());
    assert!(parse_nodes_yaml("", "n.yaml").unwrap().is_empty());
}

#[test]
fn duplicate_node_names_later_wins() {
    let nodes = parse_nodes_yaml(
        "- nodename: a\n  hostname: first\n- nodename: b\n- nodename: a\n  hostname: second\n",
        "d.yaml",
    )
    .unwrap();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0].name, "a");
    assert_eq!(nodes[0].hostname(), Some("second"));
}

#[test]
fn map_key_is_the_node_name() {
    let nodes = parse_nodes_yaml("web1:\n  nodename: other\n  hostname: h\n", "k.yaml").unwrap();
    assert_eq!(nodes[0].name, "web1");
}

#[test]
fn node_format_from_path() {
    assert_eq!(
        NodeFormat::from_path(Path::new("a/b.yaml")),
        Some(NodeFormat::Yaml)
    );
    assert_eq!(
        NodeFormat::from_path(Path::new("b.YML")),
        Some(NodeFormat::Yaml)
    );
    assert_eq!(
        NodeFormat::from_path(Path::new("b.json")),
        Some(NodeFormat::Json)
    );
    assert_eq!(NodeFormat::from_path(Path::new("b.xml")), None);
    assert_eq!(NodeFormat::from_path(Path::new("yaml")), None);
}

#[test]
fn json_export_of_rundeck_job_uses_rundeck_names() {
    let jobs = parse_jobs_yaml(RUNDECK5, "rd5.yaml").unwrap();
    let json = jobs_to_json(&jobs).unwrap();
    for key in [
        "\"executionEnabled\"",
        "\"nodeFilterEditable\"",
        "\"sequence\"",
        "\"commands\"",
        "\"uuid\"",
    ] {
        assert!(json.contains(key), "{key}: {json}");
    }
    assert!(jobs[0].loglimit_action.is_none());
    let _ = LogLimitAction::Truncate;
}

#[test]
fn node_yaml_stream_of_documents() {
    let src = "---\na:\n  hostname: h1\n---\n- nodename: b\n---\na:\n  hostname: h2\n";
    let nodes = parse_nodes_yaml(src, "multi.yaml").unwrap();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0].hostname(), Some("h2"));
    let e = parse_nodes_yaml(
        "a:\n  hostname: h\n---\n- nodename: b\n  tags: {x: y}\n",
        "m.yaml",
    )
    .unwrap_err();
    assert!(
        message(&e).contains("node #1") && message(&e).contains("line 4"),
        "{e}"
    );
}

#[test]
fn rundeck5_json_export_imports() {
    let src = include_str!("fixtures/rundeck5_export.json");
    let jobs = parse_jobs_json(src, "rd5.json").unwrap();
    assert_eq!(jobs.len(), 1);
    let j = &jobs[0];
    assert_eq!(j.full_name(), "maintenance/check disk");
    assert_eq!(
        j.uuid.as_deref(),
        Some("0f6a2c7d-1b3e-4c5d-8e9f-a0b1c2d3e4f5")
    );
    assert!(!j.extra.contains_key("id"));
    assert!(j.extra.contains_key("defaultTab") && j.extra.contains_key("schedules"));
    assert_eq!(j.nodefilters.as_ref().unwrap().dispatch.threadcount, 2);
    assert_eq!(j.schedule.as_ref().unwrap().to_quartz(), "0 0 */4 ? * * *");
    assert_eq!(j.option("mount").unwrap().values, ["/", "/var"]);
    assert!(matches!(
        &j.sequence.commands[1].kind,
        StepKind::Plugin { plugin_type, node_step: true, .. } if plugin_type == "localexec"
    ));
    // JSON -> JSON and JSON -> YAML round trips.
    let again = parse_jobs_json(&jobs_to_json(&jobs).unwrap(), "x.json").unwrap();
    assert_eq!(again, jobs);
    let again = parse_jobs_yaml(&jobs_to_yaml(&jobs).unwrap(), "x.yaml").unwrap();
    assert_eq!(again, jobs);
}

#[test]
fn option_values_may_be_scalars_or_numbers() {
    let src = "\
- name: a
  options:
  - name: n
    enforced: true
    value: 2
    values: [1, 2, 3]
  - name: one
    values: only
  sequence: {commands: [{exec: x}]}
";
    let jobs = parse_jobs_yaml(src, "v.yaml").unwrap();
    assert_eq!(jobs[0].option("n").unwrap().values, ["1", "2", "3"]);
    assert_eq!(jobs[0].option("one").unwrap().values, ["only"]);
    // The map form of `options` goes through the same reader.
    let src = "- name: a\n  options:\n    n:\n      values: [1, true]\n  sequence: {commands: [{exec: x}]}\n";
    let jobs = parse_jobs_yaml(src, "v.yaml").unwrap();
    assert_eq!(jobs[0].option("n").unwrap().values, ["1", "true"]);
    let e = parse_jobs_yaml(
        "- name: a\n  options:\n  - name: n\n    values: [[x]]\n  sequence: {commands: [{exec: x}]}\n",
        "v.yaml",
    )
    .unwrap_err();
    assert!(message(&e).contains("field `options[0].values"), "{e}");
}

#[test]
fn negative_or_garbage_threadcount_is_refused_with_its_path() {
    for bad in ["-1", "lots", "1.5"] {
        let src = format!(
            "- name: t\n  nodefilters:\n    dispatch:\n      threadcount: {bad}\n  sequence: {{commands: [{{exec: x}}]}}\n"
        );
        let e = parse_jobs_yaml(&src, "t.yaml").unwrap_err();
        let m = message(&e);
        assert!(
            m.contains("job \"t\" (#1), field `nodefilters.dispatch.threadcount`")
                && m.contains("line 4"),
            "{bad}: {m}"
        );
    }
}

#[test]
fn option_errors_keep_their_path_and_line() {
    let src = "\
- name: a
  options:
  - name: ok
  - name: n
    required: maybe
  sequence: {commands: [{exec: x}]}
";
    let m = message(&parse_jobs_yaml(src, "o.yaml").unwrap_err());
    assert!(
        m.contains("job \"a\" (#1), field `options[1].required`") && m.contains("line 5"),
        "{m}"
    );
    // The map form names the option.
    let src = "- name: a\n  options:\n    n:\n      required: maybe\n  sequence: {commands: [{exec: x}]}\n";
    let m = message(&parse_jobs_yaml(src, "o.yaml").unwrap_err());
    assert!(m.contains("option `n`") && m.contains("maybe"), "{m}");
    // An explicit null is no options.
    let src = "- name: a\n  options:\n  sequence: {commands: [{exec: x}]}\n";
    assert!(parse_jobs_yaml(src, "o.yaml").unwrap()[0]
        .options
        .is_empty());
}

#[test]
fn malformed_schedules_are_refused_not_defaulted() {
    // Before, these read as an empty structured schedule (midnight daily).
    for sched in [
        "{crontab: [1]}",
        "{time: {hour: '2'}, weekdays: {day: MON}}",
        "{time: {hours: '2'}}",
        "{weekday: {days: MON}}",
    ] {
        let src =
            format!("- name: s\n  schedule: {sched}\n  sequence: {{commands: [{{exec: x}}]}}\n");
        let m = message(&parse_jobs_yaml(&src, "s.yaml").unwrap_err());
        assert!(
            m.contains("job \"s\" (#1), field `schedule`") && m.contains("must be"),
            "{sched}: {m}"
        );
    }
}
