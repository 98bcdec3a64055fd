//! What this process uses, as Linux's `/proc` tells it: resident memory,
//! the memory it may grow to, its threads. Foredeck is a native process:
//! there is no JVM heap, so `system/info`'s `memory` block (Rundeck's JVM
//! heap figures) is filled with the process's own figures (see
//! [`memory`]), and `metrics/threads` lists the OS threads without stacks.
//! Elsewhere than Linux the figures are absent, never made up.

use serde_json::{json, Value};
use std::fmt::Write as _;

/// A `kB` line of `/proc/self/status` or `/proc/meminfo`, in bytes.
fn kb_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let rest = line[name.len()..].trim_start_matches(':').trim();
    let kb: u64 = rest.split_whitespace().next()?.parse().ok()?;
    kb.checked_mul(1024)
}

/// A number field of `/proc/self/status` (`Threads:`).
fn count_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    line[name.len()..]
        .trim_start_matches(':')
        .trim()
        .parse()
        .ok()
}

/// The process's resident set size (`VmRSS`), in bytes.
pub(crate) fn resident_bytes() -> Option<u64> {
    kb_field(&std::fs::read_to_string("/proc/self/status").ok()?, "VmRSS")
}

/// The process's OS threads (`Threads`).
pub(crate) fn thread_count() -> Option<u64> {
    count_field(
        &std::fs::read_to_string("/proc/self/status").ok()?,
        "Threads",
    )
}

/// A cgroup memory limit as its file writes it (`max` or a huge v1 value:
/// no limit).
fn cgroup_limit(text: &str) -> Option<u64> {
    let n: u64 = text.trim().parse().ok()?;
    // cgroup v1 writes "no limit" as a page-rounded i64::MAX
    (n < (1 << 62)).then_some(n)
}

/// The most memory the process may use: its cgroup's limit when it has
/// one (v2, then v1), else the machine's memory (`MemTotal`).
pub(crate) fn memory_limit_bytes() -> Option<u64> {
    for file in [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ] {
        if let Some(n) = std::fs::read_to_string(file)
            .ok()
            .and_then(|t| cgroup_limit(&t))
        {
            return Some(n);
        }
    }
    kb_field(&std::fs::read_to_string("/proc/meminfo").ok()?, "MemTotal")
}

/// `system/info`'s `stats.memory`, in bytes, from the process's figures:
/// `total` is its resident memory, `max` the most it may use (cgroup limit,
/// else the machine's memory), `free` the difference. `None` where `/proc`
/// does not tell.
pub(crate) fn memory() -> Option<Value> {
    let total = resident_bytes()?;
    let mut m = json!({"unit": "byte", "total": total});
    if let Some(max) = memory_limit_bytes() {
        m["max"] = json!(max);
        m["free"] = json!(max.saturating_sub(total));
    }
    Some(m)
}

/// One OS thread of the process: id, name and scheduler state.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct OsThread {
    pub id: u64,
    pub name: String,
    pub state: char,
}

/// Parses `/proc/self/task/<id>/stat`: `id (name) S ...`; the name may
/// hold spaces and parentheses, so it ends at the last `)`.
fn parse_stat(id: u64, stat: &str) -> Option<OsThread> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_owned();
    let state = stat.get(close + 1..)?.trim_start().chars().next()?;
    Some(OsThread { id, name, state })
}

/// The process's OS threads by id (empty where `/proc` does not tell).
pub(crate) fn threads() -> Vec<OsThread> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut out: Vec<OsThread> = dir
        .filter_map(Result::ok)
        .filter_map(|e| {
            let id: u64 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            parse_stat(id, &stat)
        })
        .collect();
    out.sort_by_key(|t| t.id);
    out
}

fn state_name(c: char) -> &'static str {
    match c {
        'R' => "RUNNABLE",
        'S' => "SLEEPING",
        'D' => "WAITING (uninterruptible)",
        'T' | 't' => "STOPPED",
        'Z' => "ZOMBIE",
        'I' => "IDLE",
        _ => "OTHER",
    }
}

/// `metrics/threads` as text: the tokio runtime's figures, then one line
/// per OS thread (`name id=N state=STATE`, as Rundeck's dump heads each
/// thread). A native process has no JVM stack traces to print.
pub(crate) fn thread_dump() -> String {
    let mut out = String::from(
        "Foredeck thread list: the OS threads of this native process (no JVM, so no stack traces)\n",
    );
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        let m = rt.metrics();
        let _ = writeln!(
            out,
            "tokio runtime: {} worker threads, {} tasks alive, {} tasks in the global queue",
            m.num_workers(),
            m.num_alive_tasks(),
            m.global_queue_depth()
        );
    }
    out.push('\n');
    for t in threads() {
        let _ = writeln!(out, "{} id={} state={}", t.name, t.id, state_name(t.state));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn status_fields() {
        let status = "Name:\tforedeck\nVmRSS:\t   1692 kB\nThreads:\t7\n";
        assert_eq!(kb_field(status, "VmRSS"), Some(1692 * 1024));
        assert_eq!(count_field(status, "Threads"), Some(7));
        assert_eq!(kb_field(status, "VmSwap"), None);
        assert_eq!(kb_field("VmRSS:\tlots kB\n", "VmRSS"), None);
    }

    #[test]
    fn cgroup_limits() {
        assert_eq!(cgroup_limit("max\n"), None);
        assert_eq!(cgroup_limit("9223372036854771712\n"), None);
        assert_eq!(cgroup_limit("536870912\n"), Some(536_870_912));
    }

    #[test]
    fn stat_names_with_spaces_and_parentheses() {
        let t = parse_stat(42, "42 (tokio (w) 1) S 1 2 3").unwrap();
        assert_eq!(t.name, "tokio (w) 1");
        assert_eq!(t.state, 'S');
        assert_eq!(parse_stat(1, "garbage"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_is_measured() {
        let rss = resident_bytes().unwrap();
        assert!(rss > 0);
        let m = memory().unwrap();
        let total = m["total"].as_u64().unwrap();
        assert!(total > 0);
        let max = m["max"].as_u64().unwrap();
        assert_eq!(m["free"], max.saturating_sub(total));
        let threads = threads();
        assert!(threads
            .iter()
            .any(|t| t.id == u64::from(std::process::id())));
        assert!(thread_count().unwrap() >= 1);
    }
}
