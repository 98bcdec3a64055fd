//! Reading one node source: a file, or a script's output, with bounds on
//! size and time.

use super::config::SourceKind;
use crate::format::{parse_nodes, NodeFormat, MAX_DOCUMENT_BYTES};
use crate::Node;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

/// Bounds on reading a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadLimits {
    /// Longest a script may run before it is killed (with its children).
    pub script_timeout: Duration,
    /// Largest file or script output accepted, in bytes.
    pub max_bytes: usize,
}

impl Default for LoadLimits {
    fn default() -> Self {
        LoadLimits {
            script_timeout: Duration::from_secs(30),
            max_bytes: MAX_DOCUMENT_BYTES,
        }
    }
}

/// Reads a source's nodes. The error says what failed, without the source's
/// name (the caller prefixes it).
pub async fn load(kind: &SourceKind, limits: LoadLimits) -> Result<Vec<Node>, String> {
    match kind {
        SourceKind::File { path, format } => {
            let text = read_file(path, limits.max_bytes).await?;
            parse(text, path.display().to_string(), *format).await
        }
        SourceKind::Script { argv, format } => {
            let text = run_script(argv, limits).await?;
            let label = argv.last().cloned().unwrap_or_default();
            parse(text, format!("output of {label:?}"), *format).await
        }
    }
}

async fn parse(text: String, label: String, format: NodeFormat) -> Result<Vec<Node>, String> {
    // Parsing a large document is CPU work: off the async threads.
    tokio::task::spawn_blocking(move || parse_nodes(&text, &label, format))
        .await
        .map_err(|e| format!("parser task failed: {e}"))?
        .map_err(|e| e.to_string())
}

async fn read_file(path: &Path, max: usize) -> Result<String, String> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let bytes = read_capped(file, max)
        .await
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .ok_or_else(|| format!("{} is larger than {max} bytes", path.display()))?;
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "{} is not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

/// Reads to the end; `None` when there is more than `max` bytes.
async fn read_capped<R: AsyncRead + Unpin>(r: R, max: usize) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    let cap = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    r.take(cap).read_to_end(&mut buf).await?;
    Ok((buf.len() <= max).then_some(buf))
}

/// Kills the script's process group if the reading is abandoned (timeout,
/// cancelled future).
struct GroupGuard(Option<Pid>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

async fn run_script(argv: &[String], limits: LoadLimits) -> Result<String, String> {
    let (program, args) = argv.split_first().ok_or("nothing to run")?;
    let mut attempt = 0u32;
    let mut child = loop {
        let spawned = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn();
        match spawned {
            Ok(child) => break child,
            // another thread's fork may briefly hold a just-written script open
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && attempt < 20 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt))).await;
            }
            Err(e) => return Err(format!("cannot start {program}: {e}")),
        }
    };
    let guard = GroupGuard(
        child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw),
    );
    let stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let stderr = child.stderr.take().ok_or("no stderr pipe")?;
    let max = limits.max_bytes;
    let work = async {
        let (out, err, status) = tokio::join!(
            read_capped(stdout, max),
            read_capped(stderr.take(64 * 1024), 64 * 1024),
            child.wait()
        );
        (out, err, status)
    };
    let (out, err, status) = match tokio::time::timeout(limits.script_timeout, work).await {
        Ok(r) => r,
        Err(_) => {
            return Err(format!(
                "{program} did not finish within {:?} and was killed",
                limits.script_timeout
            ))
        }
    };
    let status = status.map_err(|e| format!("waiting for {program}: {e}"))?;
    // The script is done; anything it left running in its group goes when
    // the guard drops.
    drop(guard);
    let out = out
        .map_err(|e| format!("reading the output of {program}: {e}"))?
        .ok_or_else(|| format!("{program} printed more than {max} bytes"))?;
    let err_text = err
        .ok()
        .flatten()
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let tail = tail(&err_text, 500);
    if !status.success() {
        let how = match status.code() {
            Some(c) => format!("exited with status {c}"),
            None => "was killed by a signal".to_owned(),
        };
        return Err(if tail.is_empty() {
            format!("{program} {how}")
        } else {
            format!("{program} {how}: {tail}")
        });
    }
    String::from_utf8(out).map_err(|e| {
        format!(
            "{program} printed bytes that are not UTF-8 (at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// The last `n` characters of `s`.
fn tail(s: &str, n: usize) -> &str {
    let count = s.chars().count();
    if count <= n {
        return s;
    }
    let skip = s.char_indices().nth(count - n).map_or(0, |(i, _)| i);
    &s[skip..]
}
