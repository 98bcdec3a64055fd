//! `LocalExecutor`: runs steps as processes on this machine.
//!
//! Each step runs in its own process group so that a timeout or an abort
//! can end everything it started (`SIGTERM` to the group, `SIGKILL` after a
//! grace period). Output is read from both pipes concurrently, split into
//! lines and sent to the [`OutputSink`] with backpressure: when the sink is
//! full, reading waits, and so does the process once its pipe is full.

use crate::context::shell_quote;
use crate::error::{Error, Result};
use crate::executor::{Executor, LineSplitter, NodeCommand, NodeOutcome, NodeRequest, OutputSink};
use crate::model::Stream;
use async_trait::async_trait;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Size of one read from a pipe.
const CHUNK: usize = 64 * 1024;

/// Runs commands and scripts on the local machine with `/bin/sh`.
#[derive(Debug, Clone)]
pub struct LocalExecutor {
    shell: PathBuf,
    temp_dir: Option<PathBuf>,
    kill_grace: Duration,
    drain_timeout: Duration,
}

impl Default for LocalExecutor {
    fn default() -> Self {
        LocalExecutor {
            shell: PathBuf::from("/bin/sh"),
            temp_dir: None,
            kill_grace: Duration::from_secs(2),
            drain_timeout: Duration::from_secs(1),
        }
    }
}

impl LocalExecutor {
    /// An executor using `/bin/sh`, the system temporary directory, a 2 s
    /// kill grace and a 1 s drain timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// The shell that runs command lines (`SHELL -c LINE`).
    pub fn with_shell(mut self, shell: impl Into<PathBuf>) -> Self {
        self.shell = shell.into();
        self
    }

    /// Where script files are written (default: the system temp directory).
    pub fn with_temp_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.temp_dir = Some(dir.into());
        self
    }

    /// How long a killed process group gets between `SIGTERM` and `SIGKILL`.
    pub fn with_kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
        self
    }

    /// How long the pipes are still read once the process has ended, for
    /// output that processes it left behind still write. Reading stops
    /// earlier at end of file; waiting on a full sink does not count.
    pub fn with_drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    fn temp_dir(&self) -> PathBuf {
        self.temp_dir.clone().unwrap_or_else(std::env::temp_dir)
    }
}

/// Removes the script file when dropped, whatever happened.
#[derive(Debug)]
struct TempScript(PathBuf);

impl Drop for TempScript {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes a script to a new private file (mode 0700).
async fn write_script(dir: &Path, content: &[u8], ext: Option<&str>) -> Result<TempScript> {
    use tokio::io::AsyncWriteExt;
    let ext = match ext.map(str::trim).filter(|e| !e.is_empty()) {
        Some(e) if e.starts_with('.') => e.to_owned(),
        Some(e) => format!(".{e}"),
        None => String::new(),
    };
    let path = dir.join(format!("foredeck-{}{ext}", uuid::Uuid::new_v4().simple()));
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o700)
        .open(&path)
        .await
        .map_err(|e| Error::io(format!("creating script file {}", path.display()), e))?;
    let guard = TempScript(path);
    file.write_all(content)
        .await
        .map_err(|e| Error::io(format!("writing script file {}", guard.0.display()), e))?;
    file.flush()
        .await
        .map_err(|e| Error::io(format!("writing script file {}", guard.0.display()), e))?;
    drop(file);
    Ok(guard)
}

/// Program and arguments for a script at `path`.
fn script_argv(
    path: &Path,
    args: &[String],
    interpreter: Option<&str>,
    args_quoted: bool,
) -> Vec<String> {
    let path = path.to_string_lossy().into_owned();
    let interp: Vec<String> = interpreter
        .map(|i| i.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    if interp.is_empty() {
        return std::iter::once(path).chain(args.iter().cloned()).collect();
    }
    let mut argv = interp;
    if args_quoted {
        // Rundeck: `interpreter "path args..."`, one argument the
        // interpreter (typically `sh -c`) parses itself
        let line: Vec<String> = std::iter::once(path.as_str())
            .chain(args.iter().map(String::as_str))
            .map(shell_quote)
            .collect();
        argv.push(line.join(" "));
    } else {
        argv.push(path);
        argv.extend(args.iter().cloned());
    }
    argv
}

/// Sends `SIGKILL` to the process group when dropped while armed, so that
/// dropping [`Executor::run`]'s future leaves nothing running.
#[derive(Debug)]
struct GroupGuard {
    pgid: Option<Pid>,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

/// Aborts the pipe readers when dropped.
#[derive(Debug)]
struct Readers(Vec<JoinHandle<()>>);

impl Drop for Readers {
    fn drop(&mut self) {
        for h in &self.0 {
            h.abort();
        }
    }
}

/// Reads one pipe into the sink until end of file, or until the drain
/// deadline (set once the process ended) passes while waiting for data.
async fn pump<R: AsyncRead + Unpin>(
    mut pipe: R,
    stream: Stream,
    out: OutputSink,
    mut deadline: watch::Receiver<Option<Instant>>,
) {
    let mut buf = vec![0u8; CHUNK];
    let mut splitter = LineSplitter::default();
    let mut listening = true;
    loop {
        let read = loop {
            let current = *deadline.borrow_and_update();
            match current {
                Some(at) => match tokio::time::timeout_at(at, pipe.read(&mut buf)).await {
                    Ok(r) => break Some(r),
                    Err(_) => break None,
                },
                None => {
                    tokio::select! {
                        r = pipe.read(&mut buf) => break Some(r),
                        changed = deadline.changed() => {
                            if changed.is_err() {
                                // the executor is gone; read until EOF
                                break Some(pipe.read(&mut buf).await);
                            }
                        }
                    }
                }
            }
        };
        let n = match read {
            Some(Ok(n)) if n > 0 => n,
            // EOF, read error, or drain deadline passed
            _ => break,
        };
        for line in splitter.push(&buf[..n]) {
            // when nobody listens any more, keep reading so the process
            // never blocks on a full pipe
            if listening {
                listening = out.bytes(stream, line).await;
            }
        }
    }
    if let Some(line) = splitter.finish() {
        if listening {
            out.bytes(stream, line).await;
        }
    }
}

/// Name of a signal without `SIG` (`TERM`), or its number.
fn signal_name(sig: i32) -> String {
    match Signal::try_from(sig) {
        Ok(s) => s.as_str().trim_start_matches("SIG").to_owned(),
        Err(_) => sig.to_string(),
    }
}

/// Whether any process of the group is still there.
fn group_alive(pgid: Pid) -> bool {
    killpg(pgid, None).is_ok()
}

/// How the wait for the process ended.
enum Ended {
    Exited(std::io::Result<ExitStatus>),
    TimedOut,
    Aborted,
}

impl LocalExecutor {
    async fn spawn(&self, argv: &[String], req: &NodeRequest) -> Result<Child> {
        let Some((program, args)) = argv.split_first() else {
            return Err(Error::Executor {
                node: req.node.name.clone(),
                message: "nothing to run".into(),
            });
        };
        let mut attempt = 0u32;
        loop {
            let mut cmd = Command::new(program);
            cmd.args(args)
                .envs(req.env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0)
                .kill_on_drop(true);
            match cmd.spawn() {
                Ok(child) => return Ok(child),
                // another thread's fork may briefly hold the new script open
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && attempt < 20 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt))).await;
                }
                Err(e) => {
                    return Err(Error::Executor {
                        node: req.node.name.clone(),
                        message: format!("cannot start {program}: {e}"),
                    })
                }
            }
        }
    }

    /// Ends the whole group: `SIGTERM`, then `SIGKILL` to whatever is left
    /// after the grace period. Returns the child's status.
    async fn kill_group(&self, child: &mut Child, pgid: Pid) -> std::io::Result<ExitStatus> {
        let _ = killpg(pgid, Signal::SIGTERM);
        let deadline = Instant::now() + self.kill_grace;
        let status = tokio::time::timeout_at(deadline, child.wait()).await.ok();
        // the child is gone: give the rest of the group the rest of the grace
        if status.is_some() {
            while group_alive(pgid) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let _ = killpg(pgid, Signal::SIGKILL);
        match status {
            Some(s) => s,
            None => child.wait().await,
        }
    }
}

#[async_trait]
impl Executor for LocalExecutor {
    async fn run(
        &self,
        req: NodeRequest,
        out: OutputSink,
        abort: CancellationToken,
    ) -> Result<NodeOutcome> {
        if abort.is_cancelled() {
            return Ok(NodeOutcome {
                aborted: true,
                ..NodeOutcome::default()
            });
        }
        let mut _script = None;
        let argv = match &req.command {
            NodeCommand::Shell(line) => {
                vec![
                    self.shell.to_string_lossy().into_owned(),
                    "-c".into(),
                    line.clone(),
                ]
            }
            NodeCommand::Script {
                content,
                args,
                interpreter,
                args_quoted,
                file_extension,
            } => {
                let file =
                    write_script(&self.temp_dir(), content, file_extension.as_deref()).await?;
                // A script without `#!` and without an interpreter is a shell
                // script, as a shell would run it (execve refuses it).
                let shell = self.shell.to_string_lossy();
                let interpreter = interpreter
                    .as_deref()
                    .filter(|i| !i.trim().is_empty())
                    .or((!content.starts_with(b"#!")).then_some(shell.as_ref()));
                let argv = script_argv(&file.0, args, interpreter, *args_quoted);
                _script = Some(file);
                argv
            }
        };

        let mut child = self.spawn(&argv, &req).await?;
        let pgid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw);
        let mut guard = GroupGuard { pgid };

        let (deadline_tx, deadline_rx) = watch::channel(None);
        let mut readers = Readers(Vec::new());
        if let Some(stdout) = child.stdout.take() {
            readers.0.push(tokio::spawn(pump(
                stdout,
                Stream::Stdout,
                out.clone(),
                deadline_rx.clone(),
            )));
        }
        if let Some(stderr) = child.stderr.take() {
            readers.0.push(tokio::spawn(pump(
                stderr,
                Stream::Stderr,
                out.clone(),
                deadline_rx,
            )));
        }
        drop(out);

        let timeout = req.timeout;
        let ended = tokio::select! {
            status = child.wait() => Ended::Exited(status),
            _ = async {
                match timeout {
                    Some(t) => tokio::time::sleep(t).await,
                    None => std::future::pending().await,
                }
            } => Ended::TimedOut,
            _ = abort.cancelled() => Ended::Aborted,
        };
        let mut outcome = NodeOutcome::default();
        let status = match ended {
            Ended::Exited(status) => status,
            Ended::TimedOut | Ended::Aborted => {
                outcome.timed_out = matches!(ended, Ended::TimedOut);
                outcome.aborted = matches!(ended, Ended::Aborted);
                match pgid {
                    Some(pgid) => self.kill_group(&mut child, pgid).await,
                    None => child.wait().await,
                }
            }
        };
        // reaped: the group id may be reused from now on
        guard.pgid = None;
        let _ = deadline_tx.send(Some(Instant::now() + self.drain_timeout));
        for reader in std::mem::take(&mut readers.0) {
            let _ = reader.await;
        }
        drop(_script);

        let status = status.map_err(|e| Error::Executor {
            node: req.node.name.clone(),
            message: format!("waiting for the process: {e}"),
        })?;
        outcome.exit_code = status.code();
        outcome.signal = status.signal().map(signal_name);
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests;
