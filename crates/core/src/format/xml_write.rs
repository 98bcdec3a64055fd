//! Writing Rundeck job XML (`<joblist>`), laid out as Rundeck writes it:
//! each job's definition (the form YAML and JSON share) is turned into
//! Rundeck's XML shape (options under `context/options`, `dispatch` beside
//! `nodefilters`, `logging`, schedule attributes, `<command>` elements,
//! notifications, job plugins as generic data), then written with keys in
//! sorted order, two-space indents, single-quoted attributes, and CDATA
//! for scripts and any text of several lines.
//!
//! A builder map marks what is not a plain child element by its key: an
//! attribute (`@attr:NAME`), text beside attributes (`<text>`), a CDATA
//! section (`NAME<cdata>`), generic data (`NAME<dataval>`).

use super::xml_map::{attr, ATTR, TEXT as TEXT_KEY};
use super::xml_notify::{self, entries_out};
use crate::{Error, Job, Result};
use serde_json::{Map, Value};

const CDATA: &str = "<cdata>";
const DATAVAL: &str = "<dataval>";

/// Writes jobs as a Rundeck job XML document (`<joblist>`).
pub fn jobs_to_xml(jobs: &[Job]) -> Result<String> {
    if jobs.is_empty() {
        return Ok("<joblist />\n".into());
    }
    let mut out = String::from("<joblist>\n");
    for job in jobs {
        let Value::Object(m) =
            serde_json::to_value(job).map_err(|e| Error::format("<xml export>", e.to_string()))?
        else {
            return Err(Error::format("<xml export>", "a job is not a map"));
        };
        out.push_str("  <job>\n");
        map_to_dom(&job_out(m), 2, &mut out);
        out.push_str("  </job>\n");
    }
    out.push_str("</joblist>\n");
    Ok(out)
}

/// Groovy truth of a value.
fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

/// Moves `key` to an attribute when it is present and not null.
fn make_attr(m: &mut Map<String, Value>, key: &str) {
    if let Some(v) = m.remove(key) {
        if !v.is_null() {
            m.insert(attr(key), v);
        }
    }
}

/// A job definition in Rundeck's XML shape.
fn job_out(mut m: Map<String, Value>) -> Map<String, Value> {
    m.remove("project");
    if let Some(uuid) = m.get("uuid").cloned() {
        m.entry("id").or_insert(uuid);
    }
    if let Some(Value::Array(opts)) = m.remove("options") {
        let mut options = Map::new();
        options.insert(
            "option".into(),
            Value::Array(opts.into_iter().map(option_out).collect()),
        );
        options.insert(attr("preserveOrder"), Value::Bool(true));
        let mut context = Map::new();
        context.insert("options".into(), Value::Object(options));
        m.insert("context".into(), Value::Object(context));
    }
    if let Some(Value::Object(nf)) = m.get_mut("nodefilters") {
        if let Some(d) = nf.remove("dispatch") {
            m.insert("dispatch".into(), d);
        }
    }
    if let Some(limit) = m.remove("loglimit").filter(|v| !v.is_null()) {
        let mut logging = Map::new();
        logging.insert(attr("limit"), limit);
        let action = m
            .remove("loglimitAction")
            .filter(|v| truthy(Some(v)))
            .unwrap_or_else(|| Value::String("halt".into()));
        logging.insert(attr("limitAction"), action);
        if let Some(status) = m.remove("loglimitStatus").filter(|v| truthy(Some(v))) {
            logging.insert(attr("status"), status);
        }
        m.insert("logging".into(), Value::Object(logging));
    }
    if let Some(Value::Object(s)) = m.get_mut("schedule") {
        schedule_out(s);
    }
    if let Some(Value::Object(r)) = m.get_mut("retry") {
        if let Some(count) = r.remove("retry") {
            r.insert(TEXT_KEY.into(), count);
        }
        make_attr(r, "delay");
    }
    if let Some(Value::Object(seq)) = m.get_mut("sequence") {
        workflow_out(seq);
    }
    if let Some(n) = m.get_mut("notification") {
        *n = xml_notify::write(n);
    }
    if let Some(p) = m.remove("plugins") {
        m.insert("plugins".into(), plugins_out(p));
    }
    m
}

/// One option: most settings as attributes, `values` joined by its
/// delimiter, flags that are off left out.
fn option_out(o: Value) -> Value {
    let Value::Object(mut x) = o else {
        return o;
    };
    x.remove("sortIndex");
    let delim = x
        .get("valuesListDelimiter")
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty())
        .unwrap_or(",")
        .to_owned();
    for k in ["name", "value", "regex", "valuesUrl"] {
        make_attr(&mut x, k);
    }
    if let Some(d) = x.remove("description") {
        let multi = d.as_str().is_some_and(|s| s.contains(['\n', '\r']));
        let key = if multi {
            format!("description{CDATA}")
        } else {
            "description".into()
        };
        x.insert(key, d);
    }
    if let Some(v) = x.remove("values") {
        if let Value::Array(items) = &v {
            if !items.is_empty() {
                let joined: Vec<String> = items.iter().map(scalar).collect();
                x.insert(attr("values"), Value::String(joined.join(&delim)));
            }
        } else if truthy(Some(&v)) {
            x.insert(attr("values"), v);
        }
    }
    for k in ["sortValues", "valuesListDelimiter"] {
        if truthy(x.get(k)) {
            make_attr(&mut x, k);
        }
    }
    match x.remove("enforced") {
        Some(e) if truthy(Some(&e)) => {
            x.insert(attr("enforcedvalues"), e);
        }
        _ => {}
    }
    for k in ["secure", "valueExposed", "storagePath", "required"] {
        if truthy(x.get(k)) {
            make_attr(&mut x, k);
        } else {
            x.remove(k);
        }
    }
    if truthy(x.get("multivalued")) {
        for k in ["multivalued", "delimiter", "multivalueAllSelected"] {
            make_attr(&mut x, k);
        }
    } else {
        for k in ["multivalued", "delimiter", "multivalueAllSelected"] {
            x.remove(k);
        }
    }
    make_attr(&mut x, "type");
    if let Some(c) = x.remove("config") {
        if let Some(e) = entries_out(&c) {
            x.insert("config".into(), e);
        }
    }
    Value::Object(x)
}

/// Schedule fields as Rundeck's attributes: `<time hour minute seconds>`,
/// `<weekday day>`, `<month month day>`, `<year year>`, or `crontab`.
fn schedule_out(s: &mut Map<String, Value>) {
    make_attr(s, "crontab");
    if let Some(Value::Object(t)) = s.get_mut("time") {
        for k in ["seconds", "minute", "hour"] {
            make_attr(t, k);
        }
    }
    if let Some(Value::Object(w)) = s.get_mut("weekday") {
        make_attr(w, "day");
    }
    let mut month = Map::new();
    if let Some(mo) = s.remove("month").filter(|v| !v.is_null()) {
        month.insert(attr("month"), mo);
    }
    if let Some(Value::Object(mut dom)) = s.remove("dayofmonth") {
        if let Some(day) = dom.remove("day") {
            month.insert(attr("day"), day);
        }
    }
    if !month.is_empty() {
        s.insert("month".into(), Value::Object(month));
    }
    if let Some(y) = s.remove("year").filter(|v| !v.is_null()) {
        s.insert(
            "year".into(),
            Value::Object(Map::from_iter([(attr("year"), y)])),
        );
    }
}

/// `<sequence keepgoing strategy>` with `<command>` elements.
fn workflow_out(seq: &mut Map<String, Value>) {
    make_attr(seq, "keepgoing");
    make_attr(seq, "strategy");
    if let Some(Value::Array(mut commands)) = seq.remove("commands") {
        for c in &mut commands {
            if let Value::Object(cm) = c {
                command_out(cm, false);
                if let Some(Value::Object(h)) = cm.get_mut("errorhandler") {
                    command_out(h, true);
                }
            }
        }
        seq.insert("command".into(), Value::Array(commands));
    }
    if let Some(pc) = seq.get_mut("pluginConfig") {
        log_filters_out(pc);
    }
}

/// One step (or error handler) in Rundeck's `<command>` shape.
fn command_out(cmd: &mut Map<String, Value>, handler: bool) {
    if ["scriptfile", "script", "scripturl"]
        .iter()
        .any(|k| cmd.contains_key(*k))
    {
        if let Some(a) = cmd.remove("args") {
            cmd.insert("scriptargs".into(), a);
        }
        if let Some(s) = cmd.remove("script") {
            cmd.insert(format!("script{CDATA}"), s);
        }
        let quoted = truthy(cmd.get("interpreterArgsQuoted"));
        cmd.remove("interpreterArgsQuoted");
        if let Some(i) = cmd.remove("scriptInterpreter") {
            let mut si = Map::new();
            si.insert(TEXT_KEY.into(), i);
            if quoted {
                si.insert(attr("argsquoted"), Value::String("true".into()));
            }
            cmd.insert("scriptinterpreter".into(), Value::Object(si));
        }
    } else if let Some(Value::Object(jr)) = cmd.get_mut("jobref") {
        make_attr(jr, "name");
        for k in ["group", "project"] {
            if truthy(jr.get(k)) {
                make_attr(jr, k);
            } else {
                jr.remove(k);
            }
        }
        if let Some(a) = jr.remove("args").filter(|v| !v.is_null()) {
            jr.insert(
                "arg".into(),
                Value::Object(Map::from_iter([(attr("line"), a)])),
            );
        }
        if truthy(jr.get("nodeStep")) {
            make_attr(jr, "nodeStep");
        }
        if let Some(Value::Object(nf)) = jr.get_mut("nodefilters") {
            if let Some(d) = nf.remove("dispatch") {
                jr.insert("dispatch".into(), d);
            }
        }
    } else if !cmd.contains_key("exec") {
        let node_step = truthy(cmd.get("nodeStep"));
        cmd.remove("nodeStep");
        let conf = cmd.remove("configuration");
        let mut plugin = Map::new();
        if let Some(t) = cmd.remove("type") {
            plugin.insert(attr("type"), t);
        }
        if let Some(e) = conf.as_ref().and_then(entries_out) {
            plugin.insert("configuration".into(), e);
        }
        let key = if node_step {
            "node-step-plugin"
        } else {
            "step-plugin"
        };
        cmd.insert(key.into(), Value::Object(plugin));
    }
    if handler {
        make_attr(cmd, "keepgoingOnSuccess");
    }
    if let Some(p) = cmd.get_mut("plugins") {
        log_filters_out(p);
    }
}

/// `LogFilter` entries: `type` as attribute, an empty `config` left out.
fn log_filters_out(p: &mut Value) {
    let Some(Value::Array(list)) = p.get_mut("LogFilter") else {
        return;
    };
    for f in list.iter_mut() {
        if let Value::Object(fm) = f {
            make_attr(fm, "type");
            if !truthy(fm.get("config")) {
                fm.remove("config");
            }
        }
    }
}

/// Job plugins `{service: {type: config}}` as `<service type>` elements
/// with the configuration as generic data; other shapes as written.
fn plugins_out(p: Value) -> Value {
    let Value::Object(services) = &p else {
        return p;
    };
    if !services.values().all(Value::is_object) {
        return p;
    }
    let mut out = Map::new();
    for (svc, providers) in services {
        let Value::Object(providers) = providers else {
            continue;
        };
        let list = providers
            .iter()
            .map(|(t, conf)| {
                let mut e = Map::new();
                e.insert(attr("type"), Value::String(t.clone()));
                let conf: Map<String, Value> = match conf {
                    Value::Object(c) => c
                        .iter()
                        .filter(|(k, v)| {
                            !k.starts_with('_') && !v.is_null() && v.as_str() != Some("")
                        })
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    _ => Map::new(),
                };
                if !conf.is_empty() {
                    e.insert(format!("configuration{DATAVAL}"), Value::Object(conf));
                }
                Value::Object(e)
            })
            .collect();
        out.insert(svc.clone(), Value::Array(list));
    }
    Value::Object(out)
}

/// A scalar's text.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn indent(depth: usize, out: &mut String) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// Child elements of a builder map, in sorted key order.
fn map_to_dom(m: &Map<String, Value>, depth: usize, out: &mut String) {
    let mut keys: Vec<&String> = m.keys().filter(|k| !k.starts_with(ATTR)).collect();
    keys.sort();
    for k in keys {
        obj_to_dom(k, &m[k], depth, out);
    }
}

/// `<name ...attrs` of an element, as `element name="key"` when the key is
/// not an XML name.
fn open_tag(key: &str, attrs: &[(String, String)], out: &mut String) {
    if is_name(key) {
        out.push('<');
        out.push_str(key);
    } else {
        out.push_str("<element name='");
        escape(key, true, out);
        out.push('\'');
    }
    for (k, v) in attrs {
        out.push(' ');
        out.push_str(k);
        out.push_str("='");
        escape(v, true, out);
        out.push('\'');
    }
}

fn close_tag(key: &str, out: &mut String) {
    out.push_str("</");
    out.push_str(if is_name(key) { key } else { "element" });
    out.push_str(">\n");
}

fn obj_to_dom(key: &str, v: &Value, depth: usize, out: &mut String) {
    if let Some(name) = key.strip_suffix(DATAVAL) {
        indent(depth, out);
        open_tag(name, &[("data".into(), "true".into())], out);
        out.push_str(">\n");
        data_to_dom(v, None, depth + 1, out);
        indent(depth, out);
        close_tag(name, out);
        return;
    }
    match v {
        Value::Array(items) => {
            for item in items {
                obj_to_dom(key, item, depth, out);
            }
        }
        Value::Null => {
            indent(depth, out);
            open_tag(key, &[], out);
            out.push_str(" />\n");
        }
        Value::Object(m) => {
            // text beside other keys was read from an element with
            // attributes: its other scalars are those attributes
            let text_with_attrs = m.contains_key(TEXT_KEY);
            let is_attr = |k: &str, v: &Value| {
                k.starts_with(ATTR)
                    || (text_with_attrs
                        && k != TEXT_KEY
                        && !matches!(v, Value::Object(_) | Value::Array(_)))
            };
            let mut attr_keys: Vec<&String> = m
                .iter()
                .filter(|(k, v)| is_attr(k, v))
                .map(|(k, _)| k)
                .collect();
            attr_keys.sort();
            let attrs: Vec<(String, String)> = attr_keys
                .into_iter()
                .filter(|k| !m[*k].is_null())
                .map(|k| (k.strip_prefix(ATTR).unwrap_or(k).to_owned(), scalar(&m[k])))
                .collect();
            let rest = m.iter().filter(|(k, v)| !is_attr(k, v)).count();
            indent(depth, out);
            open_tag(key, &attrs, out);
            match m.get(TEXT_KEY) {
                Some(t) if rest == 1 => {
                    out.push('>');
                    text(&scalar(t), false, out);
                    close_tag(key, out);
                }
                _ if rest == 0 => out.push_str(" />\n"),
                _ => {
                    out.push_str(">\n");
                    map_to_dom(m, depth + 1, out);
                    indent(depth, out);
                    close_tag(key, out);
                }
            }
        }
        scalar_value => {
            let (name, cdata) = match key.strip_suffix(CDATA) {
                Some(n) => (n, true),
                None => (key, false),
            };
            indent(depth, out);
            open_tag(name, &[], out);
            out.push('>');
            text(&scalar(scalar_value), cdata, out);
            close_tag(name, out);
        }
    }
}

/// Generic data: `<map>` of entries with a `key` attribute, `<list>`,
/// `<value>`.
fn data_to_dom(v: &Value, key: Option<&str>, depth: usize, out: &mut String) {
    let attrs: Vec<(String, String)> = key
        .map(|k| vec![("key".to_owned(), k.to_owned())])
        .unwrap_or_default();
    indent(depth, out);
    match v {
        Value::Object(m) => {
            open_tag("map", &attrs, out);
            if m.is_empty() {
                out.push_str(" />\n");
                return;
            }
            out.push_str(">\n");
            for (k, item) in m {
                data_to_dom(item, Some(k), depth + 1, out);
            }
            indent(depth, out);
            out.push_str("</map>\n");
        }
        Value::Array(items) => {
            open_tag("list", &attrs, out);
            if items.is_empty() {
                out.push_str(" />\n");
                return;
            }
            out.push_str(">\n");
            for item in items {
                data_to_dom(item, None, depth + 1, out);
            }
            indent(depth, out);
            out.push_str("</list>\n");
        }
        Value::Null => {
            open_tag("value", &attrs, out);
            out.push_str(" />\n");
        }
        s => {
            open_tag("value", &attrs, out);
            out.push('>');
            text(&scalar(s), false, out);
            out.push_str("</value>\n");
        }
    }
}

/// Element text: line endings made `\n`; several lines (or `cdata`) as a
/// CDATA section unless it holds characters only a reference can carry.
fn text(s: &str, cdata: bool, out: &mut String) {
    let s = s.replace("\r\n", "\n").replace('\r', "\n");
    let needs_ref = s.chars().any(|c| c < ' ' && c != '\n' && c != '\t');
    if (cdata || s.contains('\n')) && !needs_ref {
        out.push_str("<![CDATA[");
        out.push_str(&s.replace("]]>", "]]]]><![CDATA[>"));
        out.push_str("]]>");
    } else {
        escape(&s, false, out);
    }
}

/// Escapes text or a single-quoted attribute value; in attributes line
/// breaks and tabs are written as references, so a reader keeps them.
fn escape(s: &str, in_attr: bool, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' if in_attr => out.push_str("&apos;"),
            '"' if in_attr => out.push_str("&quot;"),
            '\n' | '\t' if !in_attr => out.push(c),
            c if c < ' ' => {
                out.push_str("&#");
                out.push_str(&(c as u32).to_string());
                out.push(';');
            }
            c => out.push(c),
        }
    }
}

/// Whether `s` can be an element name (an XML NCName).
fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_alphabetic() || first == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_' | '\u{B7}'))
}
