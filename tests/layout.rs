//! The code layout rules of docs/LAYOUT.md, checked on the sources: no
//! production file over 800 lines, and no two modules of a crate that name
//! each other (`crate::a` in `b` and `crate::b` in `a`, or the same through
//! `super::`), apart from a module and its own submodules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOTS: [&str; 5] = [
    "src",
    "crates/core/src",
    "crates/http/src",
    "crates/ssh/src",
    "crates/store/src",
];
const MAX_LINES: usize = 800;

/// Module path (`["engine", "run", "once"]`) of every `.rs` file under
/// `root`, tests left out.
fn modules(root: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(root).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts
                .iter()
                .any(|p| p.starts_with("test") || p == "security_tests")
            {
                continue;
            }
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            out.insert(parts, path);
        }
    }
    out
}

/// The text of a source file before its `#[cfg(test)] mod tests`.
fn production_text(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// The modules of `mods` that the file of module `me` names through
/// `crate::` or `super::` paths.
fn named(
    me: &[String],
    text: &str,
    mods: &BTreeMap<Vec<String>, PathBuf>,
) -> BTreeSet<Vec<String>> {
    let mut out = BTreeSet::new();
    for (prefix, base) in [
        ("crate::", &[][..]),
        ("super::", &me[..me.len().saturating_sub(1)]),
    ] {
        for (at, _) in text.match_indices(prefix) {
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &text[at + prefix.len()..];
            let path: Vec<String> = rest
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or("")
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            let mut full: Vec<String> = base.to_vec();
            full.extend(path);
            while !full.is_empty() {
                if mods.contains_key(&full) {
                    out.insert(full.clone());
                    break;
                }
                full.pop();
            }
        }
    }
    out.remove(me);
    out
}

#[test]
fn no_production_file_is_over_800_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut long = Vec::new();
    for r in ROOTS {
        for path in modules(&root.join(r)).values() {
            let lines = std::fs::read_to_string(path).unwrap().lines().count();
            if lines > MAX_LINES {
                long.push(format!("{} ({lines} lines)", path.display()));
            }
        }
    }
    assert!(long.is_empty(), "split these along their seams: {long:#?}");
}

#[test]
fn no_two_modules_name_each_other() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cycles = Vec::new();
    for r in ROOTS {
        let mods = modules(&root.join(r));
        let refs: BTreeMap<&Vec<String>, BTreeSet<Vec<String>>> = mods
            .iter()
            .map(|(m, p)| (m, named(m, &production_text(p), &mods)))
            .collect();
        for (a, names) in &refs {
            for b in names {
                let nested = a.starts_with(b) || b.starts_with(a);
                if *a < b && !nested && refs.get(b).is_some_and(|n| n.contains(*a)) {
                    cycles.push(format!("{r}: {} <-> {}", a.join("/"), b.join("/")));
                }
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "modules that import each other: {cycles:#?}"
    );
}
