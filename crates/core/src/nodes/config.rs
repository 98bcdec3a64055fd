//! Reading node sources from a project's configuration
//! (`resources.source.N.*`, as Rundeck names them).

use crate::format::NodeFormat;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Highest source index accepted (`resources.source.9999`); store source
/// names are padded to four digits so that they sort in index order.
pub const MAX_SOURCE_INDEX: u32 = 9999;

/// The store source the server node is kept under: it sorts before every
/// configured source, so a source may redefine the server node.
pub const SERVER_SOURCE: &str = "framework.server";

/// Prefix of every node-source key.
pub const SOURCE_PREFIX: &str = "resources.source.";

/// One configured node source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceSpec {
    /// `N` in `resources.source.N`.
    pub index: u32,
    /// What it reads, or why it cannot be used.
    pub kind: Result<SourceKind, String>,
}

impl SourceSpec {
    /// The name the source's nodes are stored under: `resources.source.0007`.
    pub fn store_name(&self) -> String {
        store_name(self.index)
    }
}

/// The store source name of source `index`.
pub fn store_name(index: u32) -> String {
    format!("{SOURCE_PREFIX}{index:04}")
}

/// What a node source reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// `type = file`: a resource document on the server's disk.
    File {
        /// `config.file`: absolute path.
        path: PathBuf,
        /// `config.format`, or the one the extension implies.
        format: NodeFormat,
    },
    /// `type = script`: a program whose standard output is a resource
    /// document.
    Script {
        /// What to run: program and arguments.
        argv: Vec<String>,
        /// `config.format` (`resourceyaml` when not given).
        format: NodeFormat,
    },
}

/// The node sources a project's configuration defines, by index. Keys that
/// do not parse are reported as a source whose `kind` is the error, so one
/// bad source never hides the others.
pub fn sources_from_config(config: &BTreeMap<String, String>) -> Vec<SourceSpec> {
    let mut indexes: BTreeMap<u32, ()> = BTreeMap::new();
    for key in config.keys() {
        let Some(rest) = key.strip_prefix(SOURCE_PREFIX) else {
            continue;
        };
        let digits = rest.split('.').next().unwrap_or("");
        if let Some(i) = parse_index(digits) {
            indexes.insert(i, ());
        }
    }
    indexes
        .into_keys()
        .map(|index| SourceSpec {
            index,
            kind: kind_of(config, index),
        })
        .collect()
}

/// Every `resources.source.N.*` entry of source `index`, for change
/// detection.
pub fn source_entries(config: &BTreeMap<String, String>, index: u32) -> BTreeMap<&str, &str> {
    let prefix = format!("{SOURCE_PREFIX}{index}.");
    config
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// The indexes of the script sources (`type = script`, before or after)
/// whose entries differ between two configurations: a script source runs a
/// command on the server, so whoever changes one must be allowed that.
pub fn script_sources_changed(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> Vec<u32> {
    let is_script = |c: &BTreeMap<String, String>, i: u32| {
        c.get(&format!("{SOURCE_PREFIX}{i}.type"))
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("script"))
    };
    let mut indexes: Vec<u32> = old
        .keys()
        .chain(new.keys())
        .filter_map(|k| parse_index(k.strip_prefix(SOURCE_PREFIX)?.split('.').next()?))
        .collect();
    indexes.sort_unstable();
    indexes.dedup();
    indexes
        .into_iter()
        .filter(|&i| {
            (is_script(old, i) || is_script(new, i))
                && source_entries(old, i) != source_entries(new, i)
        })
        .collect()
}

fn parse_index(digits: &str) -> Option<u32> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // `01` and `1` would be two keys for one store name.
    if digits.len() > 1 && digits.starts_with('0') {
        return None;
    }
    digits
        .parse::<u32>()
        .ok()
        .filter(|i| (1..=MAX_SOURCE_INDEX).contains(i))
}

fn kind_of(config: &BTreeMap<String, String>, index: u32) -> Result<SourceKind, String> {
    let key = |k: &str| format!("{SOURCE_PREFIX}{index}.{k}");
    let get = |k: &str| {
        config
            .get(&key(k))
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    let format = match get("config.format") {
        None => None,
        Some(f) => Some(parse_format(f).ok_or_else(|| {
            format!(
                "{}: unknown format {f:?} (expected resourceyaml or resourcejson)",
                key("config.format")
            )
        })?),
    };
    match get("type") {
        None => Err(format!("{} is not set", key("type"))),
        Some("file") => {
            let file =
                get("config.file").ok_or_else(|| format!("{} is not set", key("config.file")))?;
            let path = absolute(file, &key("config.file"))?;
            let format = format
                .or_else(|| NodeFormat::from_path(&path))
                .ok_or_else(|| {
                    format!(
                        "{}: cannot tell the format of {file:?} from its extension; set {}",
                        key("config.file"),
                        key("config.format")
                    )
                })?;
            Ok(SourceKind::File { path, format })
        }
        Some("script") => {
            let args = get("config.args")
                .map(split_words)
                .transpose()
                .map_err(|e| format!("{}: {e}", key("config.args")))?;
            let mut argv = match (get("config.command"), get("config.file")) {
                (Some(command), None) => {
                    vec!["/bin/sh".to_owned(), "-c".to_owned(), command.to_owned()]
                }
                (None, Some(file)) => {
                    let path = absolute(file, &key("config.file"))?;
                    let mut argv = match get("config.interpreter") {
                        Some(i) => split_words(i)
                            .map_err(|e| format!("{}: {e}", key("config.interpreter")))?,
                        None => Vec::new(),
                    };
                    argv.push(path.to_string_lossy().into_owned());
                    argv
                }
                (Some(_), Some(_)) => {
                    return Err(format!(
                        "{} and {} are both set; give one",
                        key("config.command"),
                        key("config.file")
                    ))
                }
                (None, None) => {
                    return Err(format!(
                        "a script source needs {} or {}",
                        key("config.file"),
                        key("config.command")
                    ))
                }
            };
            // With `command`, arguments become `$1`, `$2`... of the shell.
            if let Some(args) = args {
                if argv.first().is_some_and(|p| p == "/bin/sh") && argv.len() == 3 {
                    argv.push("foredeck-node-source".to_owned());
                }
                argv.extend(args);
            }
            Ok(SourceKind::Script {
                argv,
                format: format.unwrap_or(NodeFormat::Yaml),
            })
        }
        Some(other) => Err(format!(
            "{}: unsupported source type {other:?} (supported: file, script)",
            key("type")
        )),
    }
}

fn absolute(file: &str, key: &str) -> Result<PathBuf, String> {
    let path = Path::new(file);
    if !path.is_absolute() {
        return Err(format!("{key}: {file:?} must be an absolute path"));
    }
    Ok(path.to_path_buf())
}

fn parse_format(f: &str) -> Option<NodeFormat> {
    match f.to_ascii_lowercase().as_str() {
        "resourceyaml" | "yaml" | "application/yaml" | "text/yaml" => Some(NodeFormat::Yaml),
        "resourcejson" | "json" | "application/json" => Some(NodeFormat::Json),
        _ => None,
    }
}

/// Splits `a 'b c' "d e"` into words; no expansion of any kind.
fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some(other) => cur.push(other),
                        None => return Err(format!("unterminated {c} quote")),
                    }
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Node-cache settings of a project: Rundeck's `project.nodeCache.enabled`
/// (default true) and `project.nodeCache.delay` (seconds, default 30).
/// `None`: no cache, read the sources on every request.
pub fn cache_delay(config: &BTreeMap<String, String>) -> Option<Duration> {
    let enabled = config
        .get("project.nodeCache.enabled")
        .map(|v| v.trim() != "false")
        .unwrap_or(true);
    if !enabled {
        return None;
    }
    let secs = config
        .get("project.nodeCache.delay")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(30);
    Some(Duration::from_secs(secs))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn sources_table() {
        let c = cfg(&[
            ("resources.source.1.type", "file"),
            ("resources.source.1.config.file", "/etc/nodes.yaml"),
            ("resources.source.2.type", "file"),
            ("resources.source.2.config.file", "/etc/nodes.data"),
            ("resources.source.2.config.format", "resourcejson"),
            ("resources.source.3.type", "script"),
            ("resources.source.3.config.command", "echo hi"),
            ("resources.source.3.config.args", "a 'b c'"),
            ("resources.source.4.type", "script"),
            ("resources.source.4.config.file", "/opt/nodes.py"),
            ("resources.source.4.config.interpreter", "python3 -u"),
            ("resources.source.4.config.format", "resourcejson"),
            ("resources.source.10.type", "url"),
            ("resources.source.11.type", "file"),
            ("resources.source.11.config.file", "relative.yaml"),
            ("resources.source.12.type", "file"),
            ("resources.source.12.config.file", "/x/nodes.txt"),
            ("resources.source.13.type", "file"),
            ("resources.source.13.config.file", "/x/n.yaml"),
            ("resources.source.13.config.format", "xml"),
            ("resources.source.14.config.file", "/x/n.yaml"),
            ("resources.source.15.type", "script"),
            ("resources.source.15.config.args", "'open"),
            ("resources.source.15.config.command", "x"),
            ("resources.source.01.type", "file"),
            ("resources.source.0.type", "file"),
            ("resources.source.x.type", "file"),
            ("resources.source.10000.type", "file"),
            ("project.name", "ops"),
        ]);
        let s = sources_from_config(&c);
        let got: Vec<(u32, Result<SourceKind, String>)> =
            s.into_iter().map(|s| (s.index, s.kind)).collect();
        let file = |p: &str, f| {
            Ok(SourceKind::File {
                path: p.into(),
                format: f,
            })
        };
        let err = |m: &str| Err(m.to_owned());
        assert_eq!(
            got,
            vec![
                (1, file("/etc/nodes.yaml", NodeFormat::Yaml)),
                (2, file("/etc/nodes.data", NodeFormat::Json)),
                (
                    3,
                    Ok(SourceKind::Script {
                        argv: ["/bin/sh", "-c", "echo hi", "foredeck-node-source", "a", "b c"]
                            .map(String::from)
                            .to_vec(),
                        format: NodeFormat::Yaml
                    })
                ),
                (
                    4,
                    Ok(SourceKind::Script {
                        argv: ["python3", "-u", "/opt/nodes.py"].map(String::from).to_vec(),
                        format: NodeFormat::Json
                    })
                ),
                (10, err("resources.source.10.type: unsupported source type \"url\" (supported: file, script)")),
                (11, err("resources.source.11.config.file: \"relative.yaml\" must be an absolute path")),
                (12, err("resources.source.12.config.file: cannot tell the format of \"/x/nodes.txt\" from its extension; set resources.source.12.config.format")),
                (13, err("resources.source.13.config.format: unknown format \"xml\" (expected resourceyaml or resourcejson)")),
                (14, err("resources.source.14.type is not set")),
                (15, err("resources.source.15.config.args: unterminated ' quote")),
            ]
        );
    }

    #[test]
    fn store_names_sort_by_index() {
        assert_eq!(store_name(7), "resources.source.0007");
        assert!(store_name(10) > store_name(9));
        assert!(SERVER_SOURCE < store_name(1).as_str());
    }

    #[test]
    fn cache_settings() {
        assert_eq!(cache_delay(&cfg(&[])), Some(Duration::from_secs(30)));
        assert_eq!(
            cache_delay(&cfg(&[("project.nodeCache.delay", "5")])),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            cache_delay(&cfg(&[("project.nodeCache.enabled", "false")])),
            None
        );
    }
}

#[cfg(test)]
mod script_source_tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn script_sources_changed_names_every_touched_script_source() {
        let script = [
            ("resources.source.1.type", "script"),
            ("resources.source.1.config.command", "echo hi"),
            ("resources.source.2.type", "file"),
            ("resources.source.2.config.file", "/etc/nodes.yaml"),
            ("project.label", "x"),
        ];
        let base = config(&script);
        type Edits<'a> = Vec<(&'a str, Option<&'a str>)>;
        let cases: Vec<(&str, Edits, Vec<u32>)> = vec![
            ("nothing", vec![], vec![]),
            ("another key", vec![("project.label", Some("y"))], vec![]),
            (
                "a file source",
                vec![("resources.source.2.config.file", Some("/x.yaml"))],
                vec![],
            ),
            (
                "the command",
                vec![("resources.source.1.config.command", Some("id"))],
                vec![1],
            ),
            (
                "a new argument",
                vec![("resources.source.1.config.args", Some("a"))],
                vec![1],
            ),
            (
                "a removed key",
                vec![("resources.source.1.config.command", None)],
                vec![1],
            ),
            (
                "to a file source",
                vec![("resources.source.1.type", Some("file"))],
                vec![1],
            ),
            (
                "a file made script",
                vec![("resources.source.2.type", Some(" SCRIPT "))],
                vec![2],
            ),
            (
                "a new one",
                vec![("resources.source.7.type", Some("script"))],
                vec![7],
            ),
        ];
        for (what, edits, want) in cases {
            let mut new = base.clone();
            for (k, v) in edits {
                match v {
                    Some(v) => new.insert(k.to_owned(), v.to_owned()),
                    None => new.remove(k),
                };
            }
            assert_eq!(script_sources_changed(&base, &new), want, "{what}");
        }
        assert_eq!(
            script_sources_changed(&BTreeMap::new(), &base),
            vec![1],
            "a new configuration"
        );
    }
}
