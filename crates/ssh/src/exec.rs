//! Running one command on a session channel: output streamed line by line,
//! abort and timeout escalated (EOF to the wrapper's watcher, then TERM, then
//! KILL), sudo's prompt answered on a pty.

use crate::error::SshError;
use crate::pool::Target;
use crate::sudo::Responder;
use foredeck_core::executor::{LineSplitter, NodeOutcome, OutputSink};
use foredeck_core::{Node, Result, Stream};
use russh::client::Msg;
use russh::{Channel, ChannelMsg, Pty, Sig};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Why a step stopped before its command ended by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    Aborted,
    TimedOut,
}

/// The name of a signal as `NodeOutcome` reports it (`TERM`).
fn signal_name(sig: &Sig) -> String {
    match sig {
        Sig::ABRT => "ABRT".into(),
        Sig::ALRM => "ALRM".into(),
        Sig::FPE => "FPE".into(),
        Sig::HUP => "HUP".into(),
        Sig::ILL => "ILL".into(),
        Sig::INT => "INT".into(),
        Sig::KILL => "KILL".into(),
        Sig::PIPE => "PIPE".into(),
        Sig::QUIT => "QUIT".into(),
        Sig::SEGV => "SEGV".into(),
        Sig::TERM => "TERM".into(),
        Sig::USR1 => "USR1".into(),
        Sig::Custom(name) => name.trim_start_matches("SIG").to_owned(),
    }
}

/// Waits for `fut` unless the step is aborted or its deadline passes first.
pub(crate) async fn bounded<F: std::future::Future>(
    fut: F,
    abort: &CancellationToken,
    deadline: Option<Instant>,
) -> std::result::Result<F::Output, Stop> {
    tokio::select! {
        r = fut => Ok(r),
        _ = abort.cancelled() => Err(Stop::Aborted),
        _ = sleep_until(deadline) => Err(Stop::TimedOut),
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

pub(crate) fn stopped(stop: Stop) -> NodeOutcome {
    NodeOutcome {
        aborted: stop == Stop::Aborted,
        timed_out: stop == Stop::TimedOut,
        ..NodeOutcome::default()
    }
}

/// Runs `line` on `channel` until it ends, is aborted or its deadline
/// passes, streaming its output to `out`; with `sudo`, on a pty whose
/// password prompts are answered. An aborted or timed-out command gets
/// EOF, then TERM, then KILL `grace` later.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_command(
    node: &Node,
    target: &Target,
    mut channel: Channel<Msg>,
    line: &str,
    mut sudo: Option<Responder>,
    out: OutputSink,
    abort: &CancellationToken,
    deadline: Option<Instant>,
    grace: Duration,
) -> Result<NodeOutcome> {
    if sudo.is_some() {
        // no echo, so the password never comes back; plain \n line ends
        let modes = [(Pty::ECHO, 0), (Pty::ONLCR, 0)];
        channel
            .request_pty(false, "dumb", 200, 24, 0, 0, &modes)
            .await
            .map_err(|e| {
                SshError::Pty {
                    source: Box::new(e),
                }
                .on(node)
            })?;
    }
    channel.exec(true, line).await.map_err(|e| {
        SshError::CommandStart {
            host: target.label(),
            source: Box::new(e),
        }
        .on(node)
    })?;
    let mut outcome = NodeOutcome::default();
    let mut splitters = [LineSplitter::default(), LineSplitter::default()];
    let mut listening = true;
    // stopping: when the next escalation is due, and how far it went
    // (0: EOF sent, 1: TERM sent, 2: KILL sent)
    let mut stopping: Option<(Instant, u8)> = None;
    let mut ended = false;
    let mut refused = false;
    let mut sudo_failure = None;
    loop {
        let sudo_due = sudo.as_ref().and_then(Responder::deadline);
        let stop = tokio::select! {
            m = channel.wait() => Ok(m),
            _ = abort.cancelled(), if stopping.is_none() => Err(Some(Stop::Aborted)),
            _ = sleep_until(deadline), if stopping.is_none() && deadline.is_some() => {
                Err(Some(Stop::TimedOut))
            }
            _ = sleep_until(stopping.map(|s| s.0)), if stopping.is_some() => Err(None),
            _ = sleep_until(sudo_due), if stopping.is_none() && sudo_due.is_some() => {
                let fed = sudo.as_mut().map(Responder::expire).unwrap_or_default();
                show(&mut splitters[0], &fed.show, sudo.as_ref(), &out, &mut listening)
                    .await;
                if let Some(why) = fed.failure {
                    sudo_failure = Some(why);
                    hang_up(&channel).await;
                    stopping = Some((Instant::now() + Duration::from_secs(2), 2));
                }
                continue;
            }
        };
        let msg = match stop {
            Ok(m) => m,
            Err(Some(why)) if sudo.is_some() => {
                outcome.aborted = why == Stop::Aborted;
                outcome.timed_out = why == Stop::TimedOut;
                hang_up(&channel).await;
                stopping = Some((Instant::now() + Duration::from_secs(2), 2));
                continue;
            }
            Err(Some(why)) => {
                outcome.aborted = why == Stop::Aborted;
                outcome.timed_out = why == Stop::TimedOut;
                // the wrapper's watcher ends the process group on EOF;
                // signal requests follow for sshd that honour them, TERM
                // only once the watcher has seen the command still alive
                let _ = channel.eof().await;
                stopping = Some((Instant::now() + Duration::from_secs(1), 0));
                continue;
            }
            Err(None) => {
                match stopping {
                    Some((_, 0)) => {
                        let _ = channel.signal(Sig::TERM).await;
                        stopping = Some((Instant::now() + grace, 1));
                    }
                    Some((_, 1)) => {
                        let _ = channel.signal(Sig::KILL).await;
                        stopping = Some((Instant::now() + Duration::from_secs(2), 2));
                    }
                    _ => {
                        let _ = channel.close().await;
                        break;
                    }
                }
                continue;
            }
        };
        let Some(msg) = msg else { break };
        let (stream, data) = match msg {
            ChannelMsg::Data { data } if sudo.is_some() => {
                let Some(responder) = sudo.as_mut() else {
                    continue;
                };
                let fed = responder.feed(&data, Instant::now());
                if let Some(reply) = &fed.reply {
                    if let Err(e) = channel.data(&reply[..]).await {
                        sudo_failure = Some(format!("cannot answer the sudo prompt: {e}"));
                    }
                }
                show(
                    &mut splitters[0],
                    &fed.show,
                    sudo.as_ref(),
                    &out,
                    &mut listening,
                )
                .await;
                if let Some(why) = fed.failure {
                    sudo_failure = Some(why);
                }
                if sudo_failure.is_some() && stopping.is_none() {
                    hang_up(&channel).await;
                    stopping = Some((Instant::now() + Duration::from_secs(2), 2));
                }
                continue;
            }
            ChannelMsg::Data { data } => (Stream::Stdout, data),
            ChannelMsg::ExtendedData { data, ext: 1 } => (Stream::Stderr, data),
            ChannelMsg::ExitStatus { exit_status } => {
                outcome.exit_code = Some(i32::try_from(exit_status).unwrap_or(i32::MAX));
                ended = true;
                continue;
            }
            ChannelMsg::ExitSignal { signal_name, .. } => {
                outcome.signal = Some(self::signal_name(&signal_name));
                ended = true;
                continue;
            }
            ChannelMsg::Failure if !ended => {
                refused = true;
                continue;
            }
            _ => continue,
        };
        let idx = usize::from(stream == Stream::Stderr);
        for line in splitters[idx].push(&data) {
            if listening {
                listening = out.bytes(stream, line).await;
            }
        }
    }
    if let Some(responder) = sudo.as_mut() {
        let held = responder.finish();
        show(
            &mut splitters[0],
            &held,
            sudo.as_ref(),
            &out,
            &mut listening,
        )
        .await;
    }
    for (idx, stream) in [(0, Stream::Stdout), (1, Stream::Stderr)] {
        if let Some(line) = splitters[idx].finish() {
            if listening {
                listening = out.bytes(stream, mask(line, sudo.as_ref())).await;
            }
        }
    }
    if let Some(reason) = sudo_failure {
        return Err(SshError::Sudo {
            host: target.label(),
            user: target.user.clone(),
            reason,
        }
        .on(node));
    }
    if refused && !ended && stopping.is_none() {
        return Err(SshError::ExecRefused {
            host: target.label(),
        }
        .on(node));
    }
    if !ended && stopping.is_none() {
        return Err(SshError::ConnectionLost {
            host: target.label(),
            user: target.user.clone(),
        }
        .on(node));
    }
    Ok(outcome)
}

/// Shows terminal output of a sudo command, the password masked.
async fn show(
    splitter: &mut LineSplitter,
    data: &[u8],
    sudo: Option<&Responder>,
    out: &OutputSink,
    listening: &mut bool,
) {
    for line in splitter.push(data) {
        if *listening {
            *listening = out.bytes(Stream::Stdout, mask(line, sudo)).await;
        }
    }
}

/// Ends a command running on a pty: sshd hangs up its terminal (SIGHUP)
/// when the channel closes; TERM first for sshd that honour signals.
async fn hang_up(channel: &Channel<Msg>) {
    let _ = channel.signal(Sig::TERM).await;
    let _ = channel.close().await;
}

/// The line with the sudo password replaced, should the command print it.
fn mask(line: Vec<u8>, sudo: Option<&Responder>) -> Vec<u8> {
    let password = match sudo {
        Some(r) if !r.password().is_empty() => r.password().as_bytes(),
        _ => return line,
    };
    if !line.windows(password.len()).any(|w| w == password) {
        return line;
    }
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        if line[i..].starts_with(password) {
            out.extend_from_slice(b"*****");
            i += password.len();
        } else {
            out.push(line[i]);
            i += 1;
        }
    }
    out
}
