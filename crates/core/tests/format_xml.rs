//! Rundeck job XML: Rundeck's own documents read, written and read again.
#![allow(clippy::unwrap_used)]

use foredeck_core::format::{
    jobs_to_json, jobs_to_xml, jobs_to_yaml, parse_jobs_json, parse_jobs_xml, parse_jobs_yaml,
    MAX_DOCUMENT_BYTES,
};
use foredeck_core::{Job, LogLevel, LogLimitAction, RankOrder, Schedule, StepKind, Strategy};
use serde_json::json;
use std::path::Path;

const REFERENCE: &str = include_str!("fixtures/jobs_reference.xml");

fn corpus() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rundeck-xml");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

#[test]
fn every_rundeck_document_round_trips() {
    let mut failures = Vec::new();
    for (name, src) in corpus() {
        let jobs = match parse_jobs_xml(&src, &name) {
            // Rundeck's export leaves out the project, as Rundeck's does
            Ok(j) => j
                .into_iter()
                .map(|j| Job { project: None, ..j })
                .collect::<Vec<_>>(),
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let xml = jobs_to_xml(&jobs).unwrap();
        let again = parse_jobs_xml(&xml, "export").unwrap_or_else(|e| panic!("{name}: {e}\n{xml}"));
        assert_eq!(again, jobs, "{name}: export reads back differently\n{xml}");
        assert_eq!(
            jobs_to_xml(&again).unwrap(),
            xml,
            "{name}: second export differs"
        );
        let yaml = jobs_to_yaml(&jobs).unwrap();
        assert_eq!(
            parse_jobs_yaml(&yaml, "yaml").unwrap(),
            jobs,
            "{name}: via YAML"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_reference_document_reads_every_element() {
    let jobs = parse_jobs_xml(REFERENCE, "reference.xml").unwrap();
    assert_eq!(jobs.len(), 2);
    let j = &jobs[0];
    assert_eq!(
        j.uuid.as_deref(),
        Some("8d4c3f6e-0000-4000-8000-0000000000aa")
    );
    assert_eq!(j.full_name(), "sysadm/users/who's logged in?");
    assert!(j
        .description
        .starts_with("Performs a service\n\nThis is <b>html</b>"));
    assert_eq!(j.project.as_deref(), Some("default"));
    assert!(j.multiple_executions);
    assert_eq!(j.timeout.as_deref(), Some("1d 6h"));
    let retry = j.retry.as_ref().unwrap();
    assert_eq!(
        (retry.retry.as_str(), retry.delay.as_deref()),
        ("${option.retry}", Some("1h1m1s"))
    );
    assert_eq!(j.loglimit.as_deref(), Some("1KB"));
    assert_eq!(j.loglimit_action, Some(LogLimitAction::Halt));
    assert_eq!(j.loglimit_status.as_deref(), Some("aborted"));
    assert_eq!(j.loglevel, LogLevel::Debug);
    assert_eq!(j.time_zone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(
        j.schedule.as_ref().unwrap().to_quartz(),
        "02 00 06,07,08 ? * * 2010"
    );

    let names: Vec<&str> = j.options.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        ["port", "ports", "retry", "password", "when", "example"]
    );
    let port = j.option("port").unwrap();
    assert!(port.enforced && port.required);
    assert_eq!(port.values, ["80", "8080", "8888"]);
    assert_eq!(port.regex.as_deref(), Some("\\d+"));
    let ports = j.option("ports").unwrap();
    assert_eq!(ports.values, ["80", "8080", "8888"]);
    assert!(ports.multivalued && ports.multivalue_all_selected);
    assert_eq!(ports.delimiter.as_deref(), Some(","));
    assert_eq!(
        j.option("retry").unwrap().values_url.as_deref(),
        Some("http://example.com/values.json")
    );
    let pw = j.option("password").unwrap();
    assert!(pw.secure && pw.value_exposed);
    assert_eq!(pw.storage_path.as_deref(), Some("keys/db/password"));
    let when = j.option("when").unwrap();
    assert!(when.is_date);
    assert_eq!(when.date_format.as_deref(), Some("YYYY-MM-DD"));
    let ex = j.option("example").unwrap();
    assert!(ex
        .description
        .as_deref()
        .unwrap()
        .ends_with("* as markdown"));
    assert_eq!(ex.label.as_deref(), Some("An example"));
    assert_eq!(ex.option_type.as_deref(), Some("text"));
    assert_eq!(ex.extra["config"], json!({"displayType": "MULTI_LINE"}));

    let nf = j.nodefilters.as_ref().unwrap();
    assert_eq!(nf.filter.as_deref(), Some("tags: web !name: db1"));
    assert_eq!(nf.dispatch.threadcount, 3);
    assert!(nf.dispatch.keepgoing && !nf.dispatch.exclude_precedence);
    assert!(nf.dispatch.success_on_empty_node_filter);
    assert_eq!(nf.dispatch.rank_attribute.as_deref(), Some("rank"));
    assert_eq!(nf.dispatch.rank_order, RankOrder::Descending);
    assert_eq!(j.nodes_selected_by_default, Some(false));

    let wf = &j.sequence;
    assert!(wf.keepgoing);
    assert_eq!(wf.strategy, Strategy::Sequential);
    assert_eq!(wf.commands.len(), 7);
    let c = &wf.commands;
    assert!(matches!(&c[0].kind, StepKind::Command { exec } if exec == "who"));
    assert_eq!(
        c[0].description.as_deref(),
        Some("Demonstrate echo command")
    );
    assert!(c[0].errorhandler.as_ref().unwrap().keepgoing_on_success);
    let StepKind::Script { script, spec } = &c[1].kind else {
        panic!("{:?}", c[1].kind)
    };
    // trimmed as Rundeck's reader trims text
    assert!(script.starts_with("#!/bin/bash\n") && script.ends_with("exit 0"));
    assert_eq!(spec.args.as_deref(), Some("-whatever something"));
    assert_eq!(spec.interpreter.as_deref(), Some("sudo -u usera sh -c"));
    assert!(spec.args_quoted);
    assert_eq!(spec.file_extension.as_deref(), Some(".sh"));
    let StepKind::JobRef(h) = &c[1].errorhandler.as_ref().unwrap().kind else {
        panic!()
    };
    assert_eq!(
        (h.group.as_deref(), h.name.as_str()),
        (Some("My group"), "My Job")
    );
    assert_eq!(h.args.as_deref(), Some("-option value -option2 value2"));
    let StepKind::ScriptFile { path, spec } = &c[2].kind else {
        panic!()
    };
    assert_eq!(path, "/path/to/a/script");
    assert!(!spec.expand_tokens);
    let StepKind::ScriptUrl { url, spec } = &c[3].kind else {
        panic!()
    };
    assert_eq!(url, "http://example.com/path/to/a/script");
    assert_eq!(spec.interpreter.as_deref(), Some("sudo -u usera"));
    assert!(!spec.args_quoted);
    let StepKind::JobRef(r) = &c[4].kind else {
        panic!()
    };
    assert!(r.node_step);
    assert_eq!(r.project.as_deref(), Some("other"));
    assert_eq!(r.args.as_deref(), Some("-x ${node.name}"));
    let rnf = r.nodefilters.as_ref().unwrap();
    assert_eq!(rnf.filter.as_deref(), Some("tags: production+appserver"));
    assert_eq!(rnf.dispatch.rank_order, RankOrder::Descending);
    let StepKind::Plugin {
        plugin_type,
        node_step,
        configuration,
    } = &c[5].kind
    else {
        panic!()
    };
    assert_eq!(
        (plugin_type.as_str(), *node_step),
        ("my-node-step-plugin", true)
    );
    assert_eq!(configuration["timout"], json!("2000"));
    assert_eq!(
        c[5].plugins.as_ref().unwrap()["LogFilter"][0],
        json!({"type": "key-value-data", "config": {"logData": "true", "regex": "^RUNDECK:DATA:(.+?)\\s*=\\s*(.+)$"}})
    );
    let StepKind::Plugin { node_step, .. } = &c[6].kind else {
        panic!()
    };
    assert!(!node_step);
    assert_eq!(
        wf.plugin_config.as_ref().unwrap()["LogFilter"],
        json!([{"type": "mask-passwords"}, {"type": "highlight-output", "config": {"regex": "ERROR"}}])
    );

    let n = j.notification.as_ref().unwrap();
    let fail = one(&n.onfailure).email.as_ref().unwrap();
    assert_eq!(fail.recipients, "test@example.com,foo@example.com");
    assert!(fail.attach_log);
    let ok = one(&n.onsuccess);
    assert_eq!(ok.email.as_ref().unwrap().recipients, "test@example.com");
    assert_eq!(
        ok.urls.as_deref(),
        Some("http://example.com?id=${execution.id}&status=${execution.status}")
    );
    assert_eq!(
        (ok.format.as_deref(), ok.http_method.as_deref()),
        (Some("json"), Some("post"))
    );
    assert_eq!(
        one(&n.onstart).plugin.as_ref().unwrap(),
        &json!([{"type": "MyPlugin", "configuration": {"customkey": "customvalue"}},
                {"type": "MinimalNotificationPlugin", "configuration": {}}])
    );
    assert!(n.onavgduration.is_some() && n.onretryablefailure.is_some());
    assert_eq!(j.notify_avg_duration_threshold.as_deref(), Some("+30s"));
    assert_eq!(
        j.plugins.as_ref().unwrap(),
        &json!({"ExecutionLifecycle": {
            "myplugin": {"akey": "some string", "bkey": "another value", "items": ["one", "two"]},
            "other": {}}})
    );
    assert_eq!(
        j.orchestrator.as_ref().unwrap(),
        &json!({"configuration": {"count": "2"}, "type": "subset"})
    );
    assert_eq!(j.extra["defaultTab"], json!("output"));
    assert_eq!(
        j.extra["customElement"],
        json!({"<text>": "and its text", "attr": "kept"})
    );

    let legacy = &jobs[1];
    assert_eq!(legacy.description, "");
    assert!(
        matches!(&legacy.schedule, Some(Schedule::Crontab { crontab }) if crontab == "02 00 06,07,08 ? * * 2010")
    );
    let lnf = legacy.nodefilters.as_ref().unwrap();
    assert_eq!(
        lnf.filter.as_deref(),
        Some("os-family: unix tags: web,app !name: \"db 1\"")
    );
    assert!(lnf.dispatch.exclude_precedence && lnf.dispatch.keepgoing);
    let old = one(&legacy.notification.as_ref().unwrap().onsuccess);
    assert_eq!(old.urls.as_deref(), Some("http://example.com/old-form"));
    assert_eq!(
        (old.format.as_deref(), old.http_method.as_deref()),
        (Some("xml"), Some("get"))
    );
}

/// The one notification of a trigger.
fn one(set: &Option<foredeck_core::NotificationSet>) -> &foredeck_core::Notification {
    let mut all = set.as_ref().unwrap().iter();
    let n = all.next().unwrap();
    assert!(all.next().is_none());
    n
}

#[test]
fn the_reference_document_round_trips_through_every_format() {
    let jobs: Vec<Job> = parse_jobs_xml(REFERENCE, "reference.xml")
        .unwrap()
        .into_iter()
        .map(|j| Job { project: None, ..j })
        .collect();
    let xml = jobs_to_xml(&jobs).unwrap();
    assert_eq!(parse_jobs_xml(&xml, "export").unwrap(), jobs, "{xml}");
    assert_eq!(
        jobs_to_xml(&parse_jobs_xml(&xml, "export").unwrap()).unwrap(),
        xml
    );
    // written as Rundeck writes it
    for want in [
        "<options preserveOrder='true'>",
        "<option enforcedvalues='true' name='port' regex='\\d+' required='true' value='80' values='80,8080,8888' />",
        "values='80|8080|8888' valuesListDelimiter='|'",
        "<logging limit='1KB' limitAction='halt' status='aborted' />",
        "<retry delay='1h1m1s'>${option.retry}</retry>",
        "<time hour='06,07,08' minute='00' seconds='02' />",
        "<month month='*' />",
        "<year year='2010' />",
        // Rundeck keeps the synonym as written (`Workflow.fromMap`/`toMap`)
        "<sequence keepgoing='true' strategy='step-first'>",
        "<scriptinterpreter argsquoted='true'>sudo -u usera sh -c</scriptinterpreter>",
        "<script><![CDATA[#!/bin/bash\n",
        "<jobref group='test' name='other tests' nodeStep='true' project='other'>",
        "<arg line='-x ${node.name}' />",
        "<node-step-plugin type='my-node-step-plugin'>",
        "<entry key='someconfig' value='a value' />",
        "<LogFilter type='key-value-data'>",
        "<errorhandler keepgoingOnSuccess='true'>",
        "<webhook urls='http://example.com/old-form' />",
        "<format>xml</format>",
        "<configuration data='true'>",
        "<value key='akey'>some string</value>",
        "<schedule crontab='02 00 06,07,08 ? * * 2010' />",
        "<customElement attr='kept'>and its text</customElement>",
        "<description><![CDATA[Performs a service\n",
    ] {
        assert!(xml.contains(want), "missing {want}\n{xml}");
    }
    for (name, text) in [
        ("yaml", jobs_to_yaml(&jobs).unwrap()),
        ("json", jobs_to_json(&jobs).unwrap()),
    ] {
        let back = if name == "yaml" {
            parse_jobs_yaml(&text, name).unwrap()
        } else {
            parse_jobs_json(&text, name).unwrap()
        };
        assert_eq!(back, jobs, "via {name}");
        assert_eq!(jobs_to_xml(&back).unwrap(), xml, "XML after {name}");
    }
}

#[test]
fn odd_text_survives_the_round_trip() {
    let mut jobs = parse_jobs_xml(
        "<joblist><job><name>n</name><description>d</description>\
         <sequence><command><exec>true</exec></command></sequence></job></joblist>",
        "t",
    )
    .unwrap();
    let j = &mut jobs[0];
    j.name = "a 'quoted' \"name\" & <tag> ]]> end".into();
    j.description = "line one\r\nline two ]]> and ]]>\n\tindented".into();
    j.group = Some("g/h".into());
    j.options.push(foredeck_core::JobOption {
        value_exposed: false,
        regex: Some("a\tb\nc".into()),
        ..foredeck_core::JobOption::new("tabbed")
    });
    j.extra.insert("1 not a name".into(), json!("x"));
    let xml = jobs_to_xml(&jobs).unwrap();
    let back = parse_jobs_xml(&xml, "export").unwrap();
    assert_eq!(back[0].name, jobs[0].name);
    assert_eq!(
        back[0].description,
        "line one\nline two ]]> and ]]>\n\tindented"
    );
    assert_eq!(back[0].options[0].regex.as_deref(), Some("a\tb\nc"));
    assert_eq!(back[0].extra["1 not a name"], json!("x"));
    assert!(
        xml.contains("<element name='1 not a name'>x</element>"),
        "{xml}"
    );
}

fn err(src: &str) -> String {
    parse_jobs_xml(src, "jobs.xml").unwrap_err().to_string()
}

#[test]
fn errors_name_the_job_the_field_and_the_line() {
    let job = |body: &str| {
        format!("<joblist>\n<job>\n<name>first</name><description/><sequence><command><exec>a</exec></command></sequence>\n</job>\n<job>\n{body}\n</job>\n</joblist>")
    };
    let cases = [
        (
            job("<name>second</name>\n<description/>\n<dispatch>\n<threadcount>many</threadcount>\n</dispatch>\n<sequence><command><exec>a</exec></command></sequence>"),
            "job \"second\" (#2), field `nodefilters.dispatch.threadcount`: invalid value: string \"many\", expected a non-negative integer at line 9",
        ),
        (job("<description/>"), "job #2: 'name' element not found at line 5"),
        (job("<name>x</name>"), "job \"x\" (#2): 'description' element not found at line 5"),
        (job("<name>x</name><description/>"), "job \"x\" (#2): 'sequence' element not found at line 5"),
        (
            job("<name>x</name><description/><sequence>\n<command/>\n</sequence>"),
            "job \"x\" (#2): a <command> with no step in it at line 7",
        ),
        (
            job("<name>x</name><description/><sequence><command><exec>a</exec></command></sequence>\n<notification><onsuccess>\n<email subject='s'/></onsuccess></notification>"),
            "onsuccess email had blank or missing 'recipients' attribute at line 8",
        ),
        (
            job("<name>x</name><description/><sequence><command><exec>a</exec></command></sequence>\n<notification><onsuccess><webhook format='xml'/></onsuccess></notification>"),
            "onsuccess webhook had blank or missing 'urls' attribute",
        ),
        (
            job("<name>x</name><description/><sequence><command><exec>a</exec></command></sequence>\n<notification><onstart><plugin/></onstart></notification>"),
            "onstart plugin element was empty",
        ),
        (
            job("<name>x</name><description/><sequence><command><exec>a</exec></command></sequence>\n<notification><onstart><sms to='1'/></onstart></notification>"),
            "notification 'onstart' element had missing 'email' or 'webhook' or 'plugin' element",
        ),
        (
            job("<name>x</name><description/><sequence><command><exec>a</exec></command></sequence><context><options><option value='1'/></options></context>"),
            "an <option> element without a 'name' attribute",
        ),
        (
            job("<name>x</name><description/><sequence><command><exec>a</exec><exec>b</exec></command></sequence>"),
            "field `sequence.commands[0].exec`",
        ),
        ("<jobs><job/></jobs>".into(), "Document root tag was not 'joblist': 'jobs'"),
        ("<joblist></joblist>".into(), "No 'job' element was found"),
        ("<joblist><job>".into(), "ends inside <job>"),
    ];
    for (src, want) in cases {
        let e = err(&src);
        assert!(e.contains(want), "want {want:?}\n got {e}\n{src}");
        assert!(e.starts_with("jobs.xml"), "{e}");
    }
}

#[test]
fn refuses_dtds_entity_expansion_depth_and_size() {
    let bomb = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]>\n<joblist><job><name>&lol2;</name></job></joblist>";
    assert!(
        err(bomb).contains("DTD (<!DOCTYPE ...>) is not accepted"),
        "{}",
        err(bomb)
    );
    let external = "<!DOCTYPE joblist SYSTEM \"file:///etc/passwd\"><joblist/>";
    assert!(err(external).contains("DTD"));
    let undeclared = "<joblist><job><name>&xxe;</name></job></joblist>";
    assert!(err(undeclared).contains("entity `&xxe;` is not one of XML's predefined"));
    let deep = format!(
        "<joblist><job><name>n</name><description/><sequence><command><exec>a</exec></command></sequence><x>{}{}</x></job></joblist>",
        "<y>".repeat(80),
        "</y>".repeat(80)
    );
    assert!(err(&deep).contains("nests deeper than 64 levels"));
    let big = format!("<joblist>{}</joblist>", " ".repeat(MAX_DOCUMENT_BYTES));
    assert!(err(&big).contains("larger than the"));
}

/// What Rundeck's `JobsXMLCodec` and `ScheduledExecution.fromMap` make of
/// an empty `<threadcount/>`, an empty `year`/`month` attribute and an
/// element of `<schedule>` they do not read (`JobsXMLCodecTests`
/// `testDecodeNodedispatchEmptyThreadcount`, `testDecodeScheduledWeekday`).
#[test]
fn empty_threadcount_and_schedule_attributes_read_as_rundeck_reads_them() {
    let src = "<joblist><job><name>w</name><description/>\
        <sequence><command><exec>a</exec></command></sequence>\
        <dispatch><threadcount/><keepgoing>false</keepgoing></dispatch>\
        <schedule><time hour='*/4' minute='21' seconds='0'/><day day='?'/>\
        <weekday day='2-4'/><month month=''/><year year=''/></schedule>\
        </job></joblist>";
    let job = &parse_jobs_xml(src, "jobs.xml").unwrap()[0];
    assert_eq!(job.nodefilters.as_ref().unwrap().dispatch.threadcount, 1);
    let schedule = job.schedule.as_ref().unwrap();
    assert_eq!(schedule.to_quartz(), "0 21 */4 ? * 2-4 *");
    let out = jobs_to_xml(std::slice::from_ref(job)).unwrap();
    assert!(out.contains("<threadcount>1</threadcount>"), "{out}");
    assert!(!out.contains("<day day"), "{out}");
    // a non-number is still refused
    let bad = src.replace("<threadcount/>", "<threadcount>many</threadcount>");
    assert!(err(&bad).contains("expected a non-negative integer"));
}

/// Rundeck's import checks an option's regex against its allowed values
/// and default with Groovy's `=~` (a match anywhere), as
/// `EditOptsController._validateOption` does; run-time values must match
/// whole.
#[test]
fn option_regex_is_checked_against_values_and_default_as_rundeck_does() {
    let job = |attrs: &str| {
        format!(
            "<joblist><job><name>w</name><description/><context><options>\
            <option name='o' {attrs}/></options></context>\
            <sequence><command><exec>a</exec></command></sequence></job></joblist>"
        )
    };
    // found inside: taken
    parse_jobs_xml(
        &job("value='xabcx' values='abc1,2abc' regex='abc'"),
        "j.xml",
    )
    .unwrap();
    let e = err(&job("value='789' regex='abc'"));
    assert!(
        e.contains("default `789` of option `o` does not match the regex `abc`"),
        "{e}"
    );
    let e = err(&job("value='abc' values='abc,456' regex='abc'"));
    assert!(
        e.contains("allowed value `456` of option `o` does not match the regex `abc`"),
        "{e}"
    );
    let e = err(&job("value='abc' regex='a(b'"));
    assert!(e.contains("does not compile"), "{e}");
}
