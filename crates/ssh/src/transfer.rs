//! Moving bytes to a node: files written through an exec channel (`cat >`),
//! scripts copied to a temporary file and removed after their step.

use crate::error::{node_error, SshError};
use crate::pool::{open_session, Conn};
use foredeck_core::{shell_quote, Node, Result};
use russh::client::Msg;
use russh::{Channel, ChannelMsg};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Runs `cmd` on a fresh channel feeding it `data` as stdin; fails with its
/// stderr unless it exits 0.
pub(crate) async fn feed(
    channel: &mut Channel<Msg>,
    cmd: &str,
    data: &[u8],
) -> std::result::Result<(), String> {
    channel
        .exec(true, cmd)
        .await
        .map_err(|e| format!("cannot start `{cmd}`: {e}"))?;
    let sent = channel.data(data).await;
    if sent.is_ok() {
        let _ = channel.eof().await;
    }
    let mut status = None;
    let mut stderr = Vec::new();
    while let Some(msg) = channel.wait().await {
        match msg {
            ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
            ChannelMsg::ExtendedData { data, .. } | ChannelMsg::Data { data }
                if stderr.len() < 4096 =>
            {
                stderr.extend_from_slice(&data)
            }
            _ => {}
        }
    }
    let stderr = String::from_utf8_lossy(&stderr).trim().to_owned();
    match (status, sent) {
        (Some(0), Ok(())) => Ok(()),
        (Some(0), Err(e)) => Err(format!("sending data failed: {e}")),
        (Some(code), _) => Err(format!("`{cmd}` exited with {code}: {stderr}")),
        (None, _) => Err(format!("`{cmd}` ended without exit status: {stderr}")),
    }
}

/// Removes a script file on the node when dropped while armed (the step's
/// future was dropped before it could clean up).
pub(crate) struct RemoteFile {
    conn: Option<Arc<Conn>>,
    pub(crate) path: String,
}

impl RemoteFile {
    pub(crate) async fn remove(mut self) -> std::result::Result<(), String> {
        match self.conn.take() {
            Some(conn) => remove_file(&conn, &self.path).await,
            None => Ok(()),
        }
    }
}

impl Drop for RemoteFile {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let path = std::mem::take(&mut self.path);
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    let _ = remove_file(&conn, &path).await;
                });
            }
        }
    }
}

async fn remove_file(conn: &Conn, path: &str) -> std::result::Result<(), String> {
    let work = async {
        let until = Instant::now() + Duration::from_secs(5);
        let mut ch = open_session(&conn.handle, until)
            .await
            .map_err(|e| e.to_string())?;
        feed(&mut ch, &format!("rm -f {}", shell_quote(path)), b"").await
    };
    tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .unwrap_or_else(|_| Err("timed out".into()))
}

/// Copies a script to the node, returning its path and the guard that
/// removes it.
pub(crate) async fn upload_script(
    node: &Node,
    temp_dir: &str,
    conn: &Arc<Conn>,
    channel: &mut Channel<Msg>,
    content: &[u8],
    ext: Option<&str>,
) -> Result<RemoteFile> {
    let ext = match ext.map(str::trim).filter(|e| !e.is_empty()) {
        Some(e) if e.starts_with('.') => e.to_owned(),
        Some(e) => format!(".{e}"),
        None => String::new(),
    };
    if ext.contains('/') {
        return Err(node_error(node, format!("invalid file extension {ext:?}")));
    }
    let dir = node
        .attribute("file-copy-destination-dir")
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| temp_dir.to_owned());
    let dir = match dir.trim_end_matches('/') {
        "" => "/",
        d => d,
    };
    let sep = if dir.ends_with('/') { "" } else { "/" };
    let path = format!("{dir}{sep}foredeck-{}{ext}", uuid::Uuid::new_v4().simple());
    let q = shell_quote(&path);
    let file = RemoteFile {
        conn: Some(conn.clone()),
        path: path.clone(),
    };
    feed(
        channel,
        &format!("umask 077; set -C; cat > {q} && chmod 700 {q}"),
        content,
    )
    .await
    .map_err(|e| node_error(node, format!("copying the script to {path}: {e}")))?;
    Ok(file)
}

/// Writes `data` to `dest` on the node (`cat >`) through `channel`.
pub(crate) async fn write_file(
    node: &Node,
    channel: &mut Channel<Msg>,
    data: &[u8],
    dest: &str,
) -> Result<()> {
    feed(channel, &format!("cat > {}", shell_quote(dest)), data)
        .await
        .map_err(|reason| {
            SshError::FileCopy {
                path: dest.to_owned(),
                reason,
            }
            .on(node)
        })
}
