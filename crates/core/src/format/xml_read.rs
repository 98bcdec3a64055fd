//! Reading Rundeck job XML (`<joblist>`): each `<job>` element is read the
//! way Rundeck reads it (its generic map, then the same conversions: flags,
//! `context/options`, `dispatch`, `logging`, `schedule`, the workflow's
//! commands, notifications, `retry`, job plugins) into the job-definition
//! form shared with YAML and JSON, then into a [`Job`].

use super::jobs::{explain, finish, settle_id, JobFailure, JobResults};
use super::validate::validate_job_at;
use super::xml_map::{
    entries, line_of, make_bool, string_to_bool, to_object, xerr, XErr, XMap, XNode, XVal, TEXT,
};
use super::xml_notify;
use super::xml_tree::{self, Elem};
use crate::{Error, Job, Result};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Reads a Rundeck job XML document: `<joblist>` with one or more `<job>`.
///
/// Limits as for YAML and JSON (size, nesting depth); a DTD or an entity
/// other than XML's predefined ones is refused, so nothing can expand.
/// Errors name the job (name, or `#N`), the field and the line. Each job
/// read is checked with [`validate_job`](super::validate_job).
pub fn parse_jobs_xml(src: &str, source_name: &str) -> Result<Vec<Job>> {
    let root = joblist(src, source_name)?;
    let mut jobs = Vec::new();
    for (index, child) in job_elements(root) {
        jobs.push(read_job(child, index, source_name)?);
    }
    finish(jobs)
}

/// Reads a Rundeck job XML document job by job, as Rundeck's import does:
/// a `<job>` that cannot be read or fails
/// [`validate_job`](super::validate_job) is reported in its place (with the
/// name and group its elements give) and the others are still read.
///
/// The whole document is refused only when it cannot be read at all: bad
/// XML, a document over the limits, a root other than `<joblist>`, or no
/// `<job>` in it.
pub fn read_jobs_xml(src: &str, source_name: &str) -> Result<JobResults> {
    let root = joblist(src, source_name)?;
    let mut out = Vec::new();
    for (index, child) in job_elements(root) {
        let text = |tag: &str| {
            child
                .children
                .iter()
                .find(|c| c.name == tag)
                .map(|c| c.text.clone())
                .filter(|t| !t.is_empty())
        };
        let (name, group) = (text("name"), text("group"));
        let read = read_job(child, index, source_name).and_then(|mut job| {
            settle_id(&mut job);
            validate_job_at(&job, Some(index)).map(|()| job)
        });
        out.push(read.map_err(|error| JobFailure {
            index,
            name,
            group,
            error,
        }));
    }
    Ok(out)
}

/// The document's `<joblist>` root, refused when it is not one or holds no
/// `<job>`.
fn joblist(src: &str, source_name: &str) -> Result<Elem> {
    let root = xml_tree::parse(src, source_name)?;
    if root.name != "joblist" {
        return Err(Error::format(
            source_name,
            format!(
                "Document root tag was not 'joblist': '{}' (line {})",
                root.name, root.line
            ),
        ));
    }
    if !root.children.iter().any(|c| c.name == "job") {
        return Err(Error::format(
            source_name,
            "No 'job' element was found in <joblist>",
        ));
    }
    Ok(root)
}

/// The `<job>` elements of a `<joblist>`, each with its 1-based position.
fn job_elements(root: Elem) -> impl Iterator<Item = (usize, Elem)> {
    root.children
        .into_iter()
        .filter(|c| c.name == "job")
        .enumerate()
        .map(|(i, c)| (i + 1, c))
}

/// One `<job>`, `index` counting from 1.
fn read_job(e: Elem, index: usize, source_name: &str) -> Result<Job> {
    let line = e.line;
    let name = e
        .children
        .iter()
        .find(|c| c.name == "name")
        .map(|c| c.text.clone())
        .filter(|n| !n.is_empty());
    let who = match &name {
        Some(n) => format!("job {n:?} (#{index})"),
        None => format!("job #{index}"),
    };
    let node = convert_job(to_object(e), line)
        .map_err(|x| Error::format(source_name, format!("{who}: {} at line {}", x.msg, x.line)))?;
    let mut lines = HashMap::new();
    let value = node.into_json("", &mut lines);
    serde_path_to_error::deserialize::<_, Job>(value).map_err(|e| {
        let path = e.path().to_string();
        let at = line_of(&lines, &path).map_or(String::new(), |l| format!(" at line {l}"));
        let msg = explain(e.into_inner().to_string());
        let msg = if path == "." {
            format!("{who}: {msg}{at}")
        } else {
            format!("{who}, field `{path}`: {msg}{at}")
        };
        Error::format(source_name, msg)
    })
}

/// Rundeck's conversions of a job's generic map into the job-definition form.
fn convert_job(n: XNode, line: usize) -> std::result::Result<XNode, XErr> {
    let XVal::Map(mut m) = n.v else {
        return Err(xerr(line, "'name' element not found"));
    };
    for (k, default) in [
        ("scheduleEnabled", true),
        ("executionEnabled", true),
        ("nodeFilterEditable", true),
        ("multipleExecutions", false),
    ] {
        make_bool(&mut m, k, default);
    }
    let mut options = None;
    if let Some(ctx) = m.shift_remove("context") {
        if let XVal::Map(mut c) = ctx.v {
            if let Some(p) = c.shift_remove("project") {
                m.insert("project".into(), p);
            }
            options = c.shift_remove("options");
        }
    }
    if !m.get("name").is_some_and(XNode::truthy) {
        return Err(xerr(line, "'name' element not found"));
    }
    if !m.contains_key("description") {
        return Err(xerr(line, "'description' element not found"));
    }
    if let Some(g) = m.get_mut("group") {
        if let XVal::Text(t) = &mut g.v {
            *t = t.trim_matches('/').to_owned();
        }
        if !g.truthy() {
            m.shift_remove("group");
        }
    }
    if let Some(l) = m.shift_remove("logging") {
        if let XVal::Map(mut lm) = l.v {
            if let Some(limit) = lm.shift_remove("limit") {
                m.insert("loglimit".into(), limit);
                let action = lm
                    .shift_remove("limitAction")
                    .filter(XNode::truthy)
                    .unwrap_or_else(|| XNode::new(XVal::Text("halt".into()), l.line));
                m.insert("loglimitAction".into(), action);
                if let Some(status) = lm.shift_remove("status").filter(XNode::truthy) {
                    m.insert("loglimitStatus".into(), status);
                }
            }
        }
    }
    if let Some(o) = options {
        if o.truthy() {
            let ol = o.line;
            let XVal::Map(om) = o.v else {
                return Err(xerr(ol, "'context/options' element is not valid"));
            };
            if om.contains_key("option") {
                m.insert("options".into(), read_options(om, ol)?);
            }
        }
    }
    read_dispatch(&mut m)?;
    read_schedule(&mut m);
    match m.get_mut("sequence") {
        Some(seq) if seq.truthy() => read_workflow(seq)?,
        _ => return Err(xerr(line, "'sequence' element not found")),
    }
    if let Some(n) = m.shift_remove("notification") {
        m.insert("notification".into(), xml_notify::read(n)?);
    }
    if let Some(r) = m.get_mut("retry") {
        if let XVal::Map(rm) = &mut r.v {
            let mut out = XMap::new();
            if let Some(t) = rm.shift_remove(TEXT) {
                out.insert("retry".into(), t);
            }
            if let Some(d) = rm.shift_remove("delay") {
                out.insert("delay".into(), d);
            }
            r.v = XVal::Map(out);
        }
    }
    if let Some(p) = m.shift_remove("plugins") {
        if p.truthy() {
            let pl = p.line;
            m.insert("plugins".into(), XNode::data(read_job_plugins(p), pl));
        }
    }
    Ok(XNode::new(XVal::Map(m), line))
}

/// `context/options`: `<option>` elements, sorted by name unless
/// `preserveOrder="true"` (Rundeck shows them in that order).
fn read_options(mut om: XMap, line: usize) -> std::result::Result<XNode, XErr> {
    let preserve = string_to_bool(om.get("preserveOrder"), false);
    let list = om
        .shift_remove("option")
        .map(XNode::into_list)
        .unwrap_or_default();
    let mut out = Vec::new();
    for opt in list {
        let l = opt.line;
        let XVal::Map(mut o) = opt.v else {
            return Err(xerr(l, "an <option> element without a 'name' attribute"));
        };
        if !o.get("name").is_some_and(XNode::truthy) {
            return Err(xerr(l, "an <option> element without a 'name' attribute"));
        }
        if let Some(v) = o.get("values") {
            let delim = o
                .get("valuesListDelimiter")
                .and_then(XNode::text)
                .filter(|d| !d.is_empty())
                .unwrap_or(",");
            let values = match &v.v {
                XVal::Text(s) => Some(split_values(s, delim)),
                XVal::List(items) => Some(
                    items
                        .iter()
                        .filter_map(|i| i.text().map(|t| Value::String(t.to_owned())))
                        .collect(),
                ),
                _ => None,
            };
            if let Some(values) = values {
                let vl = v.line;
                o.insert("values".into(), XNode::data(Value::Array(values), vl));
            }
        }
        if let Some(e) = o.shift_remove("enforcedvalues") {
            o.insert("enforced".into(), e);
        }
        for k in [
            "enforced",
            "sortValues",
            "required",
            "multivalued",
            "multivalueAllSelected",
            "isDate",
            "secure",
            "valueExposed",
            "hidden",
        ] {
            make_bool(&mut o, k, false);
        }
        if let Some(c) = o.shift_remove("config") {
            o.insert("config".into(), entries(c));
        }
        out.push(XNode::new(XVal::Map(o), l));
    }
    if !preserve {
        out.sort_by(|a, b| option_name(a).cmp(option_name(b)));
    }
    Ok(XNode::new(XVal::List(out), line))
}

fn option_name(n: &XNode) -> &str {
    match &n.v {
        XVal::Map(m) => m.get("name").and_then(XNode::text).unwrap_or(""),
        _ => "",
    }
}

/// `values="a,b"` split as Java's `String.split` does: trailing empty
/// values dropped, an empty string a list of one empty value.
fn split_values(s: &str, delim: &str) -> Vec<Value> {
    if s.is_empty() {
        return vec![Value::String(String::new())];
    }
    let mut parts: Vec<&str> = s.split(delim).collect();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    parts.into_iter().map(|p| Value::String(p.into())).collect()
}

/// `<dispatch>` moves into `nodefilters`, with the `excludeprecedence`
/// attribute of `<nodefilters>`; `<include>`/`<exclude>` (deprecated)
/// become a filter string when there is no `<filter>`.
fn read_dispatch(m: &mut XMap) -> std::result::Result<(), XErr> {
    let dispatch = m.shift_remove("dispatch").filter(XNode::truthy);
    let mut nf = match m.shift_remove("nodefilters") {
        Some(XNode {
            v: XVal::Map(nf),
            line,
        }) => Some((nf, line)),
        _ => None,
    };
    if let Some(d) = dispatch {
        let dl = d.line;
        let XVal::Map(mut dm) = d.v else {
            return Err(xerr(
                dl,
                "'dispatch' must hold elements such as <threadcount>",
            ));
        };
        let (nfm, _) = nf.get_or_insert_with(|| (XMap::new(), dl));
        if let Some(ep) = nfm.shift_remove("excludeprecedence") {
            dm.insert("excludePrecedence".into(), ep);
        }
        for k in ["keepgoing", "excludePrecedence", "successOnEmptyNodeFilter"] {
            make_bool(&mut dm, k, false);
        }
        // `<threadcount/>`: Rundeck's `ScheduledExecution.fromMap` takes an
        // empty thread count as 1 (`threadcount ?: "1"`)
        if dm.get("threadcount").is_some_and(|t| !t.truthy()) {
            dm.shift_remove("threadcount");
        }
        nfm.insert("dispatch".into(), XNode::new(XVal::Map(dm), dl));
        make_bool(m, "nodesSelectedByDefault", false);
    }
    if let Some((mut nfm, line)) = nf {
        nfm.shift_remove("excludeprecedence");
        let include = nfm.shift_remove("include");
        let exclude = nfm.shift_remove("exclude");
        if !nfm.contains_key("filter") {
            let filter = legacy_filter(include.as_ref(), exclude.as_ref());
            if !filter.is_empty() {
                nfm.insert("filter".into(), XNode::new(XVal::Text(filter), line));
            }
        }
        m.insert("nodefilters".into(), XNode::new(XVal::Map(nfm), line));
    }
    Ok(())
}

/// Rundeck's filter string for `<include>`/`<exclude>` patterns.
fn legacy_filter(include: Option<&XNode>, exclude: Option<&XNode>) -> String {
    const KEYS: [&str; 7] = [
        "hostname",
        "tags",
        "os-name",
        "os-family",
        "os-arch",
        "os-version",
        "name",
    ];
    let mut words = Vec::new();
    for (n, prefix) in [(include, ""), (exclude, "!")] {
        let Some(XNode {
            v: XVal::Map(pm), ..
        }) = n
        else {
            continue;
        };
        for (k, v) in pm {
            match v.text() {
                Some(t) if KEYS.contains(&k.as_str()) && !t.is_empty() => {
                    words.push(format!("{prefix}{k}:"));
                    words.push(quote_word(t));
                }
                _ => {}
            }
        }
    }
    words.join(" ")
}

fn quote_word(s: &str) -> String {
    if s.is_empty() || s.contains([' ', '"', '\'', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\\\""))
    } else {
        s.to_owned()
    }
}

/// `<schedule>`: `<month day=...>` is the day of month, `<month month=...>`
/// the month, `<year year=...>` the year; `crontab` may be an attribute.
///
/// As in Rundeck (`JobsXMLCodec.convertXMapToJobMap`, then
/// `ScheduledExecution.fromMap`): an empty `month` or `year` attribute is
/// every month or year (`*`), and other elements of `<schedule>` (such as
/// `<day day='?'/>` in Rundeck's own tests) are not read.
fn read_schedule(m: &mut XMap) {
    let Some(s) = m.get_mut("schedule") else {
        return;
    };
    let XVal::Map(sm) = &mut s.v else {
        m.shift_remove("schedule");
        return;
    };
    if let Some(month) = sm.shift_remove("month") {
        if let XVal::Map(mut mm) = month.v {
            if let Some(day) = mm.shift_remove("day") {
                let mut d = XMap::new();
                d.insert("day".into(), day);
                sm.insert("dayofmonth".into(), XNode::new(XVal::Map(d), month.line));
            }
            if let Some(mo) = mm.shift_remove("month").filter(XNode::truthy) {
                sm.insert("month".into(), mo);
            }
        }
    }
    if let Some(year) = sm.shift_remove("year") {
        if let XVal::Map(mut ym) = year.v {
            if let Some(y) = ym.shift_remove("year").filter(XNode::truthy) {
                sm.insert("year".into(), y);
            }
        }
    }
    sm.retain(|k, _| {
        ["time", "weekday", "dayofmonth", "month", "year", "crontab"].contains(&k.as_str())
    });
    for k in ["time", "weekday", "dayofmonth"] {
        if sm.get(k).is_some_and(|n| !matches!(n.v, XVal::Map(_))) {
            sm.shift_remove(k);
        }
    }
}

/// `<sequence keepgoing strategy>` of `<command>` elements.
fn read_workflow(seq: &mut XNode) -> std::result::Result<(), XErr> {
    let XVal::Map(sm) = &mut seq.v else {
        return Err(xerr(seq.line, "'sequence' must hold <command> elements"));
    };
    if let Some(c) = sm.shift_remove("command") {
        let cl = c.line;
        let mut commands = c.into_list();
        for cmd in &mut commands {
            read_command(cmd)?;
            if let XVal::Map(cm) = &mut cmd.v {
                if let Some(h) = cm.get_mut("errorhandler") {
                    read_command(h)?;
                }
            }
        }
        sm.insert("commands".into(), XNode::new(XVal::List(commands), cl));
    }
    make_bool(sm, "keepgoing", false);
    if let Some(pc) = sm.get_mut("pluginConfig") {
        log_filters(pc);
    }
    Ok(())
}

/// One `<command>` or `<errorhandler>`.
fn read_command(cmd: &mut XNode) -> std::result::Result<(), XErr> {
    let line = cmd.line;
    let XVal::Map(cm) = &mut cmd.v else {
        return Err(xerr(line, "a <command> with no step in it"));
    };
    if ["scriptfile", "script", "scripturl"]
        .iter()
        .any(|k| cm.contains_key(*k))
    {
        if let Some(a) = cm.shift_remove("scriptargs") {
            cm.insert("args".into(), a);
        }
        if let Some(si) = cm.shift_remove("scriptinterpreter") {
            match si.v {
                XVal::Map(mut sim) => {
                    let quoted = string_to_bool(sim.get("argsquoted"), false);
                    cm.insert(
                        "interpreterArgsQuoted".into(),
                        XNode::data(Value::Bool(quoted), si.line),
                    );
                    if let Some(t) = sim.shift_remove(TEXT) {
                        cm.insert("scriptInterpreter".into(), t);
                    }
                }
                XVal::Text(_) => {
                    cm.insert("scriptInterpreter".into(), si);
                }
                _ => {
                    return Err(xerr(
                        si.line,
                        "'command/scriptinterpreter' value incorrect, expected String or map",
                    ))
                }
            }
        }
    } else if let Some(jr) = cm.get_mut("jobref") {
        let jl = jr.line;
        let XVal::Map(jm) = &mut jr.v else {
            return Err(xerr(
                jl,
                "'jobref' value incorrect, expected elements: arg, group, name",
            ));
        };
        if let Some(arg) = jm.shift_remove("arg") {
            let XVal::Map(mut am) = arg.v else {
                return Err(xerr(
                    arg.line,
                    "'jobref/arg' value incorrect, expected attribute: line",
                ));
            };
            if let Some(l) = am.shift_remove("line") {
                jm.insert("args".into(), l);
            }
        }
        make_bool(jm, "nodeStep", false);
        if let Some(d) = jm.shift_remove("dispatch") {
            match jm.get_mut("nodefilters") {
                Some(XNode {
                    v: XVal::Map(nf), ..
                }) => {
                    nf.insert("dispatch".into(), d);
                }
                _ => {
                    let dl = d.line;
                    let mut nf = XMap::new();
                    nf.insert("dispatch".into(), d);
                    jm.insert("nodefilters".into(), XNode::new(XVal::Map(nf), dl));
                }
            }
        }
        if let Some(p) = cm.shift_remove("project").filter(XNode::truthy) {
            if let Some(XNode {
                v: XVal::Map(jm), ..
            }) = cm.get_mut("jobref")
            {
                jm.insert("project".into(), p);
            }
        }
    } else {
        for (key, node_step) in [("node-step-plugin", true), ("step-plugin", false)] {
            let Some(p) = cm.shift_remove(key) else {
                continue;
            };
            let pl = p.line;
            let XVal::Map(mut pm) = p.v else {
                return Err(xerr(pl, format!("<{key}> needs a 'type' attribute")));
            };
            cm.insert("nodeStep".into(), XNode::data(Value::Bool(node_step), pl));
            if let Some(t) = pm.shift_remove("type") {
                cm.insert("type".into(), t);
            }
            if let Some(c) = pm.shift_remove("configuration").filter(XNode::truthy) {
                cm.insert("configuration".into(), entries(c));
            }
            break;
        }
    }
    make_bool(cm, "keepgoingOnSuccess", false);
    if let Some(p) = cm.get_mut("plugins") {
        log_filters(p);
    }
    Ok(())
}

/// `LogFilter` entries of a step's `<plugins>` or the workflow's
/// `<pluginConfig>`: always a list, an empty `config` left out.
fn log_filters(p: &mut XNode) {
    let XVal::Map(pm) = &mut p.v else {
        return;
    };
    let Some(lf) = pm.shift_remove("LogFilter") else {
        return;
    };
    let ll = lf.line;
    let mut list = lf.into_list();
    for f in &mut list {
        if let XVal::Map(fm) = &mut f.v {
            if !fm.get("config").is_some_and(XNode::truthy) {
                fm.shift_remove("config");
            }
        }
    }
    pm.insert("LogFilter".into(), XNode::new(XVal::List(list), ll));
}

/// Job-level `<plugins>`: per service element, `type` and a generic-data
/// `configuration`; read into `{service: {type: configuration}}` without
/// empty values.
fn read_job_plugins(p: XNode) -> Value {
    let mut out = Map::new();
    let XVal::Map(pm) = p.v else {
        return Value::Object(out);
    };
    for (service, providers) in pm {
        let entry = out
            .entry(service)
            .or_insert_with(|| Value::Object(Map::new()));
        for prov in providers.into_list() {
            let XVal::Map(mut pv) = prov.v else {
                continue;
            };
            let Some(t) = pv
                .shift_remove("type")
                .and_then(|t| t.text().map(str::to_owned))
            else {
                continue;
            };
            let conf = pv
                .shift_remove("configuration")
                .map_or(Value::Object(Map::new()), |c| {
                    c.into_json("", &mut HashMap::new())
                });
            let conf = match conf {
                Value::Object(c) => Value::Object(
                    c.into_iter()
                        .filter(|(k, v)| {
                            !k.starts_with('_') && !v.is_null() && v.as_str() != Some("")
                        })
                        .collect(),
                ),
                _ => Value::Object(Map::new()),
            };
            if let Value::Object(e) = entry {
                e.insert(t, conf);
            }
        }
    }
    Value::Object(out)
}
