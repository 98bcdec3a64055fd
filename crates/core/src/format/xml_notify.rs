//! `<notification>` of a job XML document, read and written as Rundeck
//! does: per trigger (`onsuccess`, `onfailure`, ...) `<email>`, `<webhook>`
//! and `<plugin>` elements, any of them repeated.
//!
//! Rundeck writes a trigger's single webhook in an older form, its `format`
//! and `httpMethod` as sibling elements of `<webhook urls="..."/>`, unless
//! some trigger of the job has two notifications of one kind; both forms
//! are read.

use super::xml_map::{attr, entries, xerr, XErr, XMap, XNode, XVal};
use serde_json::{Map, Value};

/// The kinds a trigger may hold.
const KINDS: [&str; 3] = ["email", "webhook", "plugin"];

/// Reads `<notification>` into the job-definition form: per trigger a map
/// (`email`, `urls`/`format`/`httpMethod`, `plugin`) when it has at most one
/// email and one webhook, else a list of such entries.
pub(crate) fn read(n: XNode) -> Result<XNode, XErr> {
    let line = n.line;
    let XVal::Map(triggers) = n.v else {
        return Err(xerr(line, "notification section had no trigger elements"));
    };
    if triggers.is_empty() {
        return Err(xerr(line, "notification section had no trigger elements"));
    }
    let old_form = triggers
        .values()
        .any(|t| matches!(&t.v, XVal::Map(m) if m.contains_key("format")));
    let mut out = XMap::new();
    for (trigger, t) in triggers {
        let tline = t.line;
        let missing = || {
            xerr(
                tline,
                format!(
                    "notification '{trigger}' element had missing 'email' or 'webhook' or 'plugin' element"
                ),
            )
        };
        let XVal::Map(mut tm) = t.v else {
            return Err(missing());
        };
        if !KINDS.iter().any(|k| tm.contains_key(*k)) {
            return Err(missing());
        }
        if old_form && tm.contains_key("format") && tm.contains_key("httpMethod") {
            for k in ["format", "httpMethod"] {
                let v = tm.shift_remove(k);
                if let (
                    Some(v),
                    Some(XNode {
                        v: XVal::Map(w), ..
                    }),
                ) = (v, tm.get_mut("webhook"))
                {
                    w.insert(k.into(), v);
                }
            }
        }
        let mut items: Vec<XNode> = Vec::new();
        let mut plugins: Option<usize> = None;
        for (kind, v) in tm {
            if !KINDS.contains(&kind.as_str()) {
                return Err(xerr(
                    v.line,
                    format!(
                        "notification '{trigger}': <{kind}> is not a notification \
                         (expected email, webhook or plugin)"
                    ),
                ));
            }
            for one in v.into_list() {
                let l = one.line;
                match kind.as_str() {
                    "webhook" => match one.v {
                        XVal::Map(w) if w.contains_key("urls") => {
                            items.push(XNode::new(XVal::Map(w), l))
                        }
                        _ => {
                            return Err(xerr(
                                l,
                                format!("{trigger} webhook had blank or missing 'urls' attribute"),
                            ))
                        }
                    },
                    "email" => match one.v {
                        XVal::Map(e) if e.get("recipients").is_some_and(XNode::truthy) => {
                            let mut m = XMap::new();
                            m.insert("email".into(), XNode::new(XVal::Map(e), l));
                            items.push(XNode::new(XVal::Map(m), l));
                        }
                        _ => {
                            return Err(xerr(
                                l,
                                format!(
                                    "{trigger} email had blank or missing 'recipients' attribute"
                                ),
                            ))
                        }
                    },
                    _ => {
                        let plugin = read_plugin(one, &trigger)?;
                        match plugins {
                            Some(i) => {
                                if let XVal::Map(m) = &mut items[i].v {
                                    if let Some(XNode {
                                        v: XVal::List(list),
                                        ..
                                    }) = m.get_mut("plugin")
                                    {
                                        list.push(plugin);
                                    }
                                }
                            }
                            None => {
                                plugins = Some(items.len());
                                let mut m = XMap::new();
                                m.insert("plugin".into(), XNode::new(XVal::List(vec![plugin]), l));
                                items.push(XNode::new(XVal::Map(m), l));
                            }
                        }
                    }
                }
            }
        }
        out.insert(trigger, XNode::new(merge(items), tline));
    }
    Ok(XNode::new(XVal::Map(out), line))
}

fn read_plugin(one: XNode, trigger: &str) -> Result<XNode, XErr> {
    let l = one.line;
    let XVal::Map(mut p) = one.v else {
        return Err(xerr(l, format!("{trigger} plugin element was empty")));
    };
    if !p.get("type").is_some_and(XNode::truthy) {
        return Err(xerr(
            l,
            format!("{trigger} plugin had blank or missing 'type' attribute"),
        ));
    }
    let conf = p
        .shift_remove("configuration")
        .map_or_else(|| XNode::data(Value::Object(Map::new()), l), entries);
    p.insert("configuration".into(), conf);
    Ok(XNode::new(XVal::Map(p), l))
}

/// One trigger's entries as a single map when no kind repeats (the form
/// every Foredeck version reads), else as the list.
fn merge(items: Vec<XNode>) -> XVal {
    let emails = items
        .iter()
        .filter(|i| matches!(&i.v, XVal::Map(m) if m.contains_key("email")))
        .count();
    let hooks = items
        .iter()
        .filter(|i| matches!(&i.v, XVal::Map(m) if m.contains_key("urls")))
        .count();
    if emails > 1 || hooks > 1 {
        return XVal::List(items);
    }
    let mut one = XMap::new();
    for item in items {
        if let XVal::Map(m) = item.v {
            one.extend(m);
        }
    }
    XVal::Map(one)
}

/// One notification entry (or a trigger's other keys) being written.
type Entry = Map<String, Value>;

/// Writes the `notification` of a job definition (either form) as
/// Rundeck's `<notification>`, in the XML writer's builder form.
pub(crate) fn write(n: &Value) -> Value {
    let Value::Object(triggers) = n else {
        return n.clone();
    };
    // each trigger as Rundeck's list of entries, and its unknown keys
    let mut lists: Vec<(String, Vec<Entry>, Entry)> = Vec::new();
    for (trigger, t) in triggers {
        let mut entries = Vec::new();
        let mut other = Map::new();
        match t {
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(m) = item {
                        split_entry(m, &mut entries, &mut other);
                    }
                }
            }
            Value::Object(m) => split_entry(m, &mut entries, &mut other),
            _ => {}
        }
        lists.push((trigger.clone(), entries, other));
    }
    let many = lists.iter().any(|(_, entries, _)| {
        let count = |k: &str| entries.iter().filter(|e| e.contains_key(k)).count();
        count("email") > 1
            || count("urls") > 1
            || entries
                .iter()
                .filter_map(|e| e.get("plugin"))
                .map(|p| p.as_array().map_or(1, Vec::len))
                .sum::<usize>()
                > 1
    });
    let mut out = Map::new();
    for (trigger, entries, other) in lists {
        let mut t = other;
        let push = |t: &mut Map<String, Value>, k: &str, v: Value| match t.get_mut(k) {
            Some(Value::Array(a)) => a.push(v),
            _ => {
                t.insert(k.into(), Value::Array(vec![v]));
            }
        };
        for mut e in entries {
            if let Some(Value::Object(email)) = e.remove("email") {
                push(&mut t, "email", Value::Object(all_attrs(email)));
            } else if let Some(plugin) = e.remove("plugin") {
                let list = match plugin {
                    Value::Array(a) => a,
                    other => vec![other],
                };
                for p in list {
                    if let Value::Object(p) = p {
                        push(&mut t, "plugin", Value::Object(plugin_out(p)));
                    }
                }
            } else if let Some(urls) = e.remove("urls") {
                if many {
                    e.insert("urls".into(), urls);
                    push(&mut t, "webhook", Value::Object(all_attrs(e)));
                } else {
                    let mut w = Map::new();
                    w.insert(attr("urls"), urls);
                    push(&mut t, "webhook", Value::Object(w));
                    for (k, v) in e {
                        t.insert(k, v);
                    }
                }
            }
        }
        out.insert(trigger, Value::Object(t));
    }
    Value::Object(out)
}

/// Sorts one map-form or list entry of a trigger into Rundeck's entries.
fn split_entry(
    m: &Map<String, Value>,
    entries: &mut Vec<Map<String, Value>>,
    other: &mut Map<String, Value>,
) {
    let mut m = m.clone();
    if let Some(email) = m.remove("email") {
        entries.push(Map::from_iter([("email".to_owned(), email)]));
    }
    if m.contains_key("urls") {
        let mut hook = Map::new();
        for k in ["urls", "format", "httpMethod"] {
            if let Some(v) = m.remove(k) {
                hook.insert(k.into(), v);
            }
        }
        entries.push(hook);
    }
    if let Some(plugin) = m.remove("plugin") {
        entries.push(Map::from_iter([("plugin".to_owned(), plugin)]));
    }
    other.extend(m);
}

fn all_attrs(m: Map<String, Value>) -> Map<String, Value> {
    m.into_iter().map(|(k, v)| (attr(&k), v)).collect()
}

/// A notification plugin: `type` as attribute, `configuration` as sorted
/// `<entry key value>` elements.
fn plugin_out(mut p: Map<String, Value>) -> Map<String, Value> {
    let conf = p.remove("configuration");
    if let Some(t) = p.remove("type") {
        p.insert(attr("type"), t);
    }
    if let Some(c) = conf.and_then(|c| entries_out(&c)) {
        p.insert("configuration".into(), c);
    }
    p
}

/// A configuration map as `<entry key value>` elements sorted by key;
/// `None` when empty.
pub(crate) fn entries_out(conf: &Value) -> Option<Value> {
    let Value::Object(c) = conf else {
        return None;
    };
    if c.is_empty() {
        return None;
    }
    let mut keys: Vec<&String> = c.keys().collect();
    keys.sort();
    let list = keys
        .into_iter()
        .map(|k| {
            let mut e = Map::new();
            e.insert(attr("key"), Value::String(k.clone()));
            let v = &c[k];
            if !v.is_null() {
                e.insert(attr("value"), v.clone());
            }
            Value::Object(e)
        })
        .collect();
    Some(Value::Object(Map::from_iter([(
        "entry".to_owned(),
        Value::Array(list),
    )])))
}
