//! Reading and validating `.aclpolicy` YAML into compiled documents.
//!
//! A policy file holds one or more YAML documents separated by `---`. Every
//! document is checked on its own; a file is accepted only when all of its
//! documents are valid, and the errors name the file and the 1-based
//! document index as Rundeck does (`ops.aclpolicy[2]`).

use super::{Context, Doc, Policy, PolicyScope, Rule, Validation, Who, MAX_POLICY_BYTES};
use crate::format::guard::scan_yaml_stream;
use regex::{Regex, RegexBuilder};
use serde_yaml_ng::{Mapping, Value};
use std::collections::HashMap;

/// Largest compiled size of one regular expression in a policy.
const MAX_REGEX_BYTES: usize = 256 * 1024;

/// Parses and validates a policy file.
pub(super) fn parse(name: &str, text: &str, scope: &PolicyScope) -> Result<Policy, Validation> {
    let whole = |message: String| Validation {
        policies: vec![super::PolicyErrors {
            policy: name.to_owned(),
            errors: vec![message],
        }],
    };
    if text.len() > MAX_POLICY_BYTES {
        return Err(whole(format!(
            "policy is {} bytes, larger than the {MAX_POLICY_BYTES} bytes accepted",
            text.len()
        )));
    }
    // Size, nesting and alias expansion (YAML bombs) before building values.
    if let Err(e) = scan_yaml_stream(text, name) {
        return Err(whole(match e {
            crate::Error::Format { message, .. } => message,
            other => other.to_string(),
        }));
    }
    if let Some(e) = super::yaml::global_tag(text) {
        return Err(whole(e));
    }
    let mut docs = Vec::new();
    let mut invalid = Vec::new();
    for (i, de) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let index = i + 1;
        let label = format!("{name}[{index}]");
        let value = match super::yaml::document(de) {
            Ok(v) => v,
            Err(e) => {
                invalid.push(super::PolicyErrors {
                    policy: label,
                    errors: vec![crate::format::guard::yaml_message(&e)],
                });
                continue;
            }
        };
        if matches!(value, Value::Null) {
            // An empty document (a trailing `---`) holds no policy.
            continue;
        }
        if let Some(e) = super::yaml::tag_error(&value) {
            invalid.push(super::PolicyErrors {
                policy: label,
                errors: vec![e],
            });
            continue;
        }
        let mut errors = Vec::new();
        let doc = document(index, &value, scope, &mut errors);
        match doc {
            Some(doc) if errors.is_empty() => docs.push(doc),
            _ => invalid.push(super::PolicyErrors {
                policy: label,
                errors,
            }),
        }
    }
    if !invalid.is_empty() {
        return Err(Validation { policies: invalid });
    }
    // as in Rundeck, a file of no documents (empty, or comments only) is
    // valid and grants nothing
    Ok(Policy {
        name: name.to_owned(),
        docs,
    })
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a map",
        Value::Tagged(_) => "a tagged value",
    }
}

/// A scalar as text (`true`, `3` and `"x"` alike).
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A scalar or a list of scalars.
fn strings(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Sequence(items) => items.iter().map(scalar).collect(),
        other => scalar(other).map(|s| vec![s]),
    }
}

fn get<'a>(m: &'a Mapping, key: &str) -> Option<&'a Value> {
    m.get(Value::String(key.to_owned()))
}

/// A pattern that matches nothing: what a `match:` pattern that does not
/// compile stands for.
pub(super) fn never() -> Regex {
    // an empty class: compiles, matches no text
    #[allow(clippy::expect_used)] // a constant pattern, tested
    Regex::new(r"[^\s\S]").expect("the empty class compiles")
}

/// What Java's `Pattern` refuses that Rust's `regex` takes: a quantifier
/// applied to a quantifier (`a**`, `a+*`, `a{2}+?*`); Java allows one lazy
/// `?` or possessive `+` after a quantifier.
fn java_refuses(pattern: &str) -> Option<String> {
    let mut chars = pattern.char_indices().peekable();
    let mut in_class = false;
    // after a quantifier: whether its one modifier was seen
    let mut after_quantifier: Option<bool> = None;
    while let Some((i, c)) = chars.next() {
        if in_class {
            match c {
                '\\' => {
                    chars.next();
                }
                ']' => in_class = false,
                _ => {}
            }
            continue;
        }
        let quantifier = match c {
            '*' | '+' | '?' => true,
            '{' => chars
                .clone()
                .map(|(_, c)| c)
                .take_while(|c| *c != '}')
                .all(|c| c.is_ascii_digit() || c == ','),
            _ => false,
        };
        if quantifier {
            match after_quantifier {
                Some(false) if c == '?' || c == '+' => after_quantifier = Some(true),
                Some(_) => return Some(format!("Dangling meta character '{c}' near index {i}")),
                None => {
                    if c == '{' {
                        for (_, c) in chars.by_ref() {
                            if c == '}' {
                                break;
                            }
                        }
                    }
                    after_quantifier = Some(false);
                }
            }
            continue;
        }
        after_quantifier = None;
        match c {
            '\\' => {
                chars.next();
            }
            '[' => in_class = true,
            _ => {}
        }
    }
    None
}

/// A regular expression matched against the whole value, as Java's
/// `String.matches` does in Rundeck.
pub(super) fn full_regex(pattern: &str) -> Result<Regex, String> {
    if let Some(e) = java_refuses(pattern) {
        return Err(format!("invalid regular expression '{pattern}': {e}"));
    }
    RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(MAX_REGEX_BYTES)
        .build()
        .map_err(|e| format!("invalid regular expression '{pattern}': {e}"))
}

/// The sections a policy document may have (`id` is Rundeck's, unused).
const POLICY_KEYS: &[&str] = &["by", "notBy", "id", "for", "context", "description"];

fn document(
    index: usize,
    value: &Value,
    scope: &PolicyScope,
    errors: &mut Vec<String>,
) -> Option<Doc> {
    let Value::Mapping(m) = value else {
        errors.push(format!(
            "Expected a map of policy sections (description, context, for, by), found {}",
            kind_of(value)
        ));
        return None;
    };
    for key in m.keys() {
        let k = scalar(key).unwrap_or_default();
        if !POLICY_KEYS.contains(&k.as_str()) {
            errors.push(format!(
                "Policy contains invalid keys: [{k}], allowed keys: [by, id, for, context, description]"
            ));
        }
    }
    let description = match get(m, "description") {
        None | Some(Value::Null) => {
            errors.push("Policy is missing a description".into());
            String::new()
        }
        Some(v) => scalar(v).unwrap_or_default(),
    };
    let context = context(get(m, "context"), scope, errors);
    let rules = match get(m, "for") {
        None => {
            errors.push("Section 'for:' is required".into());
            None
        }
        Some(v) => for_section(v, errors),
    };
    let by = get(m, "by").and_then(|v| who("by", v, errors));
    let not_by = get(m, "notBy").and_then(|v| who("notBy", v, errors));
    if get(m, "by").is_none() && get(m, "notBy").is_none() {
        errors.push("Section 'by:' or 'notBy:' is required".into());
    }
    if let (Some(rules), None, Some(_)) = (&rules, &by, &not_by) {
        // `notBy` only denies: an allow there would grant everyone else.
        for (kind, list) in rules {
            for (i, rule) in list.iter().enumerate() {
                if !rule.allow.is_empty() {
                    errors.push(format!(
                        "Type rule 'for: {{ {kind}: [{}] }}': 'allow:' is not permitted in a 'notBy:' policy, which can only deny",
                        i + 1
                    ));
                }
            }
        }
    }
    Some(Doc {
        index,
        description,
        context: context?,
        rules: rules?,
        by,
        not_by,
    })
}

fn context(v: Option<&Value>, scope: &PolicyScope, errors: &mut Vec<String>) -> Option<Context> {
    let project_scope = match scope {
        PolicyScope::System => None,
        PolicyScope::Project(p) => Some(p.as_str()),
    };
    let Some(v) = v else {
        return match project_scope {
            // A project's policy without a context applies to that project.
            Some(p) => Some(Context::Project(full_regex(&regex::escape(p)).ok()?)),
            None => {
                errors.push("Section 'context:' is required".into());
                None
            }
        };
    };
    if let Some(p) = project_scope {
        // as in Rundeck: a project's policy takes its project from where it
        // is kept and may not name a context, even its own
        errors.push(format!(
            "Context section should not be specified, it is already set to: {{project={p}}}"
        ));
        return None;
    }
    let Value::Mapping(m) = v else {
        errors.push(format!(
            "Section 'context:' must be a map with 'application:' or 'project:', found {}",
            kind_of(v)
        ));
        return None;
    };
    for key in m.keys() {
        let k = scalar(key).unwrap_or_default();
        if k != "application" && k != "project" {
            errors.push(format!(
                "Section 'context:' has an unknown key '{k}' (expected 'application:' or 'project:')"
            ));
            return None;
        }
    }
    match (get(m, "application"), get(m, "project")) {
        (Some(_), Some(_)) => {
            errors.push(
                "Section 'context:' can only contain one of 'application:' or 'project:'".into(),
            );
            None
        }
        (None, None) => {
            errors.push("Section 'context:' cannot be empty".into());
            None
        }
        (Some(app), None) => {
            if let Some(p) = project_scope {
                errors.push(format!(
                    "Context 'application:' is not allowed in a policy of project '{p}'"
                ));
                return None;
            }
            match scalar(app) {
                Some(a) if a == "rundeck" => Some(Context::Application),
                _ => {
                    errors.push(format!(
                        "Context 'application:' must be 'rundeck', found {}",
                        describe(app)
                    ));
                    None
                }
            }
        }
        (None, Some(project)) => {
            let Some(pattern) = scalar(project) else {
                errors.push(format!(
                    "Context 'project:' must be a project name or regular expression, found {}",
                    kind_of(project)
                ));
                return None;
            };
            if let Some(p) = project_scope {
                if pattern != p {
                    errors.push(format!(
                        "Context 'project:' must be '{p}' in a policy of project '{p}', found '{pattern}'"
                    ));
                    return None;
                }
                return full_regex(&regex::escape(p)).ok().map(Context::Project);
            }
            match full_regex(&pattern) {
                Ok(r) => Some(Context::Project(r)),
                Err(e) => {
                    errors.push(format!("Context 'project:': {e}"));
                    None
                }
            }
        }
    }
}

fn describe(v: &Value) -> String {
    scalar(v)
        .map(|s| format!("'{s}'"))
        .unwrap_or_else(|| kind_of(v).to_owned())
}

fn for_section(v: &Value, errors: &mut Vec<String>) -> Option<HashMap<String, Vec<Rule>>> {
    let Value::Mapping(m) = v else {
        errors.push(format!(
            "Section 'for:' must be a map of resource types to rule lists, found {}",
            kind_of(v)
        ));
        return None;
    };
    if m.is_empty() {
        errors.push("Section 'for:' cannot be empty".into());
        return None;
    }
    let mut out = HashMap::new();
    let before = errors.len();
    for (k, list) in m {
        let Some(kind) = scalar(k) else {
            errors.push(format!(
                "Section 'for:' keys must be resource type names, found {}",
                kind_of(k)
            ));
            continue;
        };
        let Value::Sequence(items) = list else {
            errors.push(format!(
                "Type section 'for: {{ {kind}: ... }}' must be a list of rules, found {}",
                kind_of(list)
            ));
            continue;
        };
        if items.is_empty() {
            errors.push(format!(
                "Type section 'for: {{ {kind}: [] }}' cannot be empty"
            ));
            continue;
        }
        let rules: Vec<Rule> = items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| rule(&kind, i + 1, item, errors))
            .collect();
        out.insert(kind, rules);
    }
    (errors.len() == before).then_some(out)
}

fn rule(kind: &str, n: usize, v: &Value, errors: &mut Vec<String>) -> Option<Rule> {
    let at = format!("Type rule 'for: {{ {kind}: [{n}] }}'");
    let Value::Mapping(m) = v else {
        errors.push(format!("{at}: must be a map, found {}", kind_of(v)));
        return None;
    };
    let before = errors.len();
    let mut r = Rule::default();
    for (key, value) in m {
        let k = scalar(key).unwrap_or_default();
        match k.as_str() {
            "allow" | "deny" => {
                let Some(actions) = strings(value).filter(|a| !a.is_empty()) else {
                    errors.push(format!(
                        "{at}: '{k}:' must be an action or a list of actions, found {}",
                        kind_of(value)
                    ));
                    continue;
                };
                if k == "allow" {
                    r.allow = actions;
                } else {
                    r.deny = actions;
                }
            }
            "equals" | "match" | "contains" | "subset" => {
                let Value::Mapping(props) = value else {
                    errors.push(format!(
                        "{at}: '{k}:' must be a map of properties to values, found {}",
                        kind_of(value)
                    ));
                    continue;
                };
                if props.is_empty() {
                    errors.push(format!("{at}: '{k}:' cannot be empty"));
                }
                let keys: Vec<String> = props.keys().filter_map(scalar).collect();
                if keys.iter().any(|p| p == "allow" || p == "deny") {
                    errors.push(format!(
                        "{at}: Section '{k}:' should not contain 'allow:' or 'deny:'"
                    ));
                    continue;
                }
                if k == "contains" && keys.iter().any(|p| p != "tags") {
                    errors.push(format!(
                        "{at}: Section 'contains:' can only be applied to: 'tags'"
                    ));
                    continue;
                }
                for (p, pv) in props {
                    let Some(prop) = scalar(p) else {
                        errors.push(format!("{at}: '{k}:' property names must be text"));
                        continue;
                    };
                    let Some(values) = strings(pv).filter(|v| !v.is_empty()) else {
                        errors.push(format!(
                            "{at}: '{k}: {{ {prop}: ... }}' must be a value or a list of values, found {}",
                            kind_of(pv)
                        ));
                        continue;
                    };
                    match k.as_str() {
                        "equals" => {
                            if values.len() != 1 || matches!(pv, Value::Sequence(_)) {
                                errors.push(format!(
                                    "{at}: 'equals: {{ {prop}: ... }}' must be a single value"
                                ));
                                continue;
                            }
                            r.equals.push((prop, values[0].clone()));
                        }
                        "match" => {
                            // as in Rundeck, a pattern that does not compile
                            // is taken and matches nothing
                            let res = values
                                .iter()
                                .map(|p| full_regex(p).unwrap_or_else(|_| never()))
                                .collect();
                            r.matches.push((prop, res));
                        }
                        "contains" => r.contains.push((prop, values)),
                        _ => r.subset.push((prop, values)),
                    }
                }
            }
            _ => errors.push(format!(
                "{at}: unknown key '{k}' (expected allow, deny, equals, match, contains or subset)"
            )),
        }
    }
    if r.allow.is_empty() && r.deny.is_empty() {
        errors.push(format!("{at}: must contain 'allow:' or 'deny:'"));
    }
    (errors.len() == before).then_some(r)
}

fn who(section: &str, v: &Value, errors: &mut Vec<String>) -> Option<Who> {
    let Value::Mapping(m) = v else {
        errors.push(format!(
            "Section '{section}:' must be a map with 'username:', 'group:' or 'urn:', found {}",
            kind_of(v)
        ));
        return None;
    };
    if m.is_empty() {
        errors.push(format!("Section '{section}:' cannot be empty"));
        return None;
    }
    let before = errors.len();
    let mut w = Who::default();
    for (key, value) in m {
        let k = scalar(key).unwrap_or_default();
        let values = match value {
            Value::String(v) => vec![v.clone()],
            Value::Sequence(items) => {
                let texts: Option<Vec<String>> = items
                    .iter()
                    .map(|i| match i {
                        Value::String(v) => Some(v.clone()),
                        _ => None,
                    })
                    .collect();
                match texts {
                    Some(t) if !t.is_empty() => t,
                    Some(_) => {
                        errors.push(format!(
                            "Section '{section}: {{ {k}: [] }}' cannot be empty"
                        ));
                        continue;
                    }
                    None => {
                        let bad = items.iter().find(|i| !matches!(i, Value::String(_)));
                        errors.push(format!(
                            "Section '{k}:' should contain only Strings, but saw a: {}",
                            bad.map(kind_of).unwrap_or("nothing")
                        ));
                        continue;
                    }
                }
            }
            other => {
                errors.push(format!(
                    "Section '{k}:' should be a list or a String, but it was: {}",
                    kind_of(other)
                ));
                continue;
            }
        };
        match k.as_str() {
            "username" | "group" => {
                for pattern in &values {
                    match full_regex(pattern) {
                        Ok(re) if k == "username" => w.users.push(re),
                        Ok(re) => w.groups.push(re),
                        Err(e) => errors.push(format!("Section '{section}: {{ {k} }}': {e}")),
                    }
                }
            }
            // as in Rundeck, any text is taken; one that is not
            // `user:NAME` or `group:NAME` matches no one
            "urn" => w.urns.extend(values),
            _ => errors.push(format!(
                "Section '{section}:' has an unknown key '{k}' (expected username, group or urn)"
            )),
        }
    }
    (errors.len() == before).then_some(w)
}
