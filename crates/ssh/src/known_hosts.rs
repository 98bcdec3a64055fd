//! Host-key verification: where known host keys are kept ([`KnownHosts`]:
//! in memory, in a file, in the [`Store`] shared by a cluster, or layered)
//! and what to do with unknown or changed keys ([`HostKeyPolicy`]).
//!
//! Keys are handled as OpenSSH public-key text (`ssh-ed25519 AAAA...`), so a
//! store does not need to understand key formats. Hosts are named the way
//! OpenSSH's `known_hosts` names them: `host` for port 22, `[host]:port`
//! otherwise.

use crate::error::SshError;
use async_trait::async_trait;
use foredeck_core::{Error, Result, Store};
use russh::keys::{HashAlg, PublicKey};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

/// What the executor does with a host key it does not know, or one that
/// differs from the key it knows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HostKeyPolicy {
    /// Unknown and changed keys are refused: every host must be known beforehand.
    Strict,
    /// The first key a host shows is learned; a changed key is refused.
    #[default]
    AcceptNew,
    /// Any key is accepted and nothing is learned. Only when configured.
    Off,
}

impl FromStr for HostKeyPolicy {
    type Err = SshError;

    /// An unknown policy is a configuration error ([`SshError::Config`]).
    fn from_str(s: &str) -> std::result::Result<Self, SshError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "strict" | "yes" => Ok(HostKeyPolicy::Strict),
            "accept-new" | "accept_new" | "acceptnew" => Ok(HostKeyPolicy::AcceptNew),
            "off" | "no" => Ok(HostKeyPolicy::Off),
            other => Err(SshError::Config(format!(
                "unknown ssh-host-key-policy {other:?} (expected strict, accept-new or off)"
            ))),
        }
    }
}

/// Where known host keys are kept. Implementations must be cheap to call
/// once per new connection.
#[async_trait]
pub trait KnownHosts: Send + Sync + std::fmt::Debug {
    /// The known key of `host` (`host` or `[host]:port`), as OpenSSH
    /// public-key text, or `None` when the host is unknown.
    async fn get(&self, host: &str) -> Result<Option<String>>;

    /// Records (or replaces) the key of `host`.
    async fn put(&self, host: &str, key: &str) -> Result<()>;
}

/// The OpenSSH name of a host and port: `host` for port 22, else `[host]:port`.
pub fn host_label(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_owned()
    } else {
        format!("[{host}]:{port}")
    }
}

/// The `SHA256:...` fingerprint of an OpenSSH public-key text, or a note
/// that it cannot be read.
pub fn fingerprint(key: &str) -> String {
    match PublicKey::from_openssh(key.trim()) {
        Ok(k) => k.fingerprint(HashAlg::Sha256).to_string(),
        Err(_) => "(unreadable key)".to_owned(),
    }
}

/// Known hosts kept in memory only: learned keys are lost with the process.
#[derive(Debug, Default)]
pub struct MemoryKnownHosts {
    keys: Mutex<HashMap<String, String>>,
}

impl MemoryKnownHosts {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl KnownHosts for MemoryKnownHosts {
    async fn get(&self, host: &str) -> Result<Option<String>> {
        Ok(self
            .keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(host)
            .cloned())
    }

    async fn put(&self, host: &str, key: &str) -> Result<()> {
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(host.to_owned(), key.trim().to_owned());
        Ok(())
    }
}

/// Known hosts in a file, one `HOST KEYTYPE BASE64` line per host like
/// OpenSSH's `known_hosts` (no hashed names, no markers, one key per host).
/// Blank lines and `#` comments are kept; a missing file is an empty set,
/// created (with its directory) when the first key is learned.
#[derive(Debug)]
pub struct FileKnownHosts {
    path: PathBuf,
    lock: tokio::sync::Mutex<()>,
}

impl FileKnownHosts {
    /// Known hosts read from and written to `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileKnownHosts {
            path: path.into(),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn read(&self) -> Result<String> {
        match tokio::fs::read_to_string(&self.path).await {
            Ok(s) => Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(Error::io(
                format!("reading known hosts {}", self.path.display()),
                e,
            )),
        }
    }
}

/// Splits a known-hosts line into host and key text.
fn parse_line(line: &str) -> Option<(&str, &str)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (host, key) = line.split_once(char::is_whitespace)?;
    Some((host, key.trim()))
}

#[async_trait]
impl KnownHosts for FileKnownHosts {
    async fn get(&self, host: &str) -> Result<Option<String>> {
        let _guard = self.lock.lock().await;
        let text = self.read().await?;
        Ok(text
            .lines()
            .filter_map(parse_line)
            .find(|(h, _)| h.split(',').any(|h| h == host))
            .map(|(_, k)| k.to_owned()))
    }

    async fn put(&self, host: &str, key: &str) -> Result<()> {
        if host.is_empty() || host.contains(char::is_whitespace) || key.contains('\n') {
            return Err(Error::Conflict(format!(
                "cannot record host key for {host:?}: invalid host or key"
            )));
        }
        let _guard = self.lock.lock().await;
        let text = self.read().await?;
        let mut out = String::with_capacity(text.len() + key.len() + host.len() + 2);
        for line in text.lines() {
            match parse_line(line) {
                Some((h, _)) if h == host => {}
                _ => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        out.push_str(host);
        out.push(' ');
        out.push_str(key.trim());
        out.push('\n');
        let tmp = self
            .path
            .with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
        let what = || format!("writing known hosts {}", self.path.display());
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| Error::io(what(), e))?;
        }
        tokio::fs::write(&tmp, out)
            .await
            .map_err(|e| Error::io(what(), e))?;
        if let Err(e) = tokio::fs::rename(&tmp, &self.path).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(Error::io(what(), e));
        }
        Ok(())
    }
}

/// Known hosts kept in a [`Store`], so that every process on one database
/// (CLI runs, servers of a cluster) verifies a node against the same learned
/// key: keys are read and learned through `get_known_host` / `put_known_host`.
#[derive(Clone, Debug)]
pub struct StoreKnownHosts {
    store: Arc<dyn Store>,
}

impl StoreKnownHosts {
    /// Known hosts in `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        StoreKnownHosts { store }
    }
}

#[async_trait]
impl KnownHosts for StoreKnownHosts {
    async fn get(&self, host: &str) -> Result<Option<String>> {
        self.store.get_known_host(host).await
    }

    async fn put(&self, host: &str, key: &str) -> Result<()> {
        self.store.put_known_host(host, key.trim()).await
    }
}

/// Known hosts read from two places: the operator's file (`serve
/// --ssh-known-hosts`, never written) and the keys the server learned (its
/// database, shared by a cluster). A host listed in either is known; a key
/// learned under `accept-new` goes to the learned store. When both list a
/// host with different keys neither wins: the host is refused with an error
/// naming both fingerprints, until one of them is removed.
#[derive(Debug)]
pub struct LayeredKnownHosts {
    file: FileKnownHosts,
    learned: Arc<dyn KnownHosts>,
}

impl LayeredKnownHosts {
    /// Keys from `file` (read on every new connection, so edits apply
    /// without a restart) and from `learned`, where new keys are recorded.
    pub fn new(file: impl Into<PathBuf>, learned: Arc<dyn KnownHosts>) -> Self {
        LayeredKnownHosts {
            file: FileKnownHosts::new(file),
            learned,
        }
    }
}

#[async_trait]
impl KnownHosts for LayeredKnownHosts {
    async fn get(&self, host: &str) -> Result<Option<String>> {
        let listed = self.file.get(host).await?;
        let learned = self.learned.get(host).await?;
        match (listed, learned) {
            (Some(listed), Some(learned)) if !same_key(&listed, &learned) => {
                Err(Error::Conflict(format!(
                    "the known hosts file {} lists {} for {host} but the database has learned \
                     {}; neither wins: remove the wrong one (the file's line, or the database's \
                     key with `foredeck known-hosts forget HOST`)",
                    self.file.path().display(),
                    fingerprint(&listed),
                    fingerprint(&learned),
                )))
            }
            (Some(listed), _) => Ok(Some(listed)),
            (None, learned) => Ok(learned),
        }
    }

    async fn put(&self, host: &str, key: &str) -> Result<()> {
        self.learned.put(host, key).await
    }
}

/// Whether two OpenSSH public-key texts hold the same key (comments aside).
fn same_key(a: &str, b: &str) -> bool {
    match (
        PublicKey::from_openssh(a.trim()),
        PublicKey::from_openssh(b.trim()),
    ) {
        (Ok(a), Ok(b)) => a.key_data() == b.key_data(),
        _ => a
            .split_whitespace()
            .take(2)
            .eq(b.split_whitespace().take(2)),
    }
}

/// Applies the policy to the key a host offered, learning it when allowed.
pub(crate) async fn verify(
    store: &dyn KnownHosts,
    policy: HostKeyPolicy,
    host: &str,
    offered: &PublicKey,
) -> std::result::Result<(), SshError> {
    if policy == HostKeyPolicy::Off {
        return Ok(());
    }
    let offered_fp = offered.fingerprint(HashAlg::Sha256).to_string();
    let offered_text = offered.to_openssh().map_err(|e| SshError::HostKeyCheck {
        host: host.to_owned(),
        source: format!("cannot encode the offered key: {e}").into(),
    })?;
    let known = store.get(host).await.map_err(|e| SshError::HostKeyCheck {
        host: host.to_owned(),
        source: Box::new(e),
    })?;
    match known {
        Some(known) => {
            let same = PublicKey::from_openssh(known.trim())
                .map(|k| k.key_data() == offered.key_data())
                .unwrap_or(false);
            if same {
                Ok(())
            } else {
                Err(SshError::HostKeyMismatch {
                    host: host.to_owned(),
                    expected: fingerprint(&known),
                    presented: offered_fp,
                })
            }
        }
        None if policy == HostKeyPolicy::AcceptNew => {
            tracing::info!(host, fingerprint = %offered_fp, "learned new host key");
            store
                .put(host, &offered_text)
                .await
                .map_err(|e| SshError::HostKeyCheck {
                    host: host.to_owned(),
                    source: Box::new(e),
                })
        }
        None => Err(SshError::HostKeyUnknown {
            host: host.to_owned(),
            presented: offered_fp,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGd4u0gWm0c5ZlVZ0wR5kq9f5rj1Yh1oY7cZ0sS3x9mB";

    #[tokio::test]
    async fn file_known_hosts_round_trip_and_replace() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("known_hosts");
        let fresh = FileKnownHosts::new(dir.path().join("new/dir/known_hosts"));
        fresh.put("h", KEY_A).await.expect("creates the directory");
        assert_eq!(fresh.get("h").await.expect("get").as_deref(), Some(KEY_A));
        std::fs::write(&path, "# comment\nother ssh-ed25519 AAAA\n").expect("write");
        let kh = FileKnownHosts::new(&path);
        assert_eq!(kh.get("[h]:2222").await.expect("get"), None);
        kh.put("[h]:2222", KEY_A).await.expect("put");
        assert_eq!(
            kh.get("[h]:2222").await.expect("get").as_deref(),
            Some(KEY_A)
        );
        kh.put("[h]:2222", "ssh-ed25519 BBBB").await.expect("put");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(
            text,
            "# comment\nother ssh-ed25519 AAAA\n[h]:2222 ssh-ed25519 BBBB\n"
        );
        assert!(kh.put("bad host", KEY_A).await.is_err());
    }

    #[tokio::test]
    async fn layered_known_hosts_read_both_learn_into_the_store_and_refuse_a_conflict() {
        const KEY_B: &str =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBx7dM6Gv1nlHf0SZ2JqkZCl4m7ElYQpK2vD8nq2Vh0X";
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("known_hosts");
        std::fs::write(
            &path,
            format!("file-only {KEY_A}\nboth {KEY_A} comment\nclash {KEY_A}\n"),
        )
        .expect("write");
        let learned = Arc::new(MemoryKnownHosts::new());
        learned.put("db-only", KEY_B).await.expect("put");
        learned.put("both", KEY_A).await.expect("put");
        learned.put("clash", KEY_B).await.expect("put");
        let kh = LayeredKnownHosts::new(&path, learned.clone());
        assert_eq!(
            kh.get("file-only").await.expect("get").as_deref(),
            Some(KEY_A)
        );
        assert_eq!(
            kh.get("db-only").await.expect("get").as_deref(),
            Some(KEY_B)
        );
        assert!(kh.get("both").await.expect("get").is_some());
        assert_eq!(kh.get("neither").await.expect("get"), None);
        let e = kh.get("clash").await.expect_err("a conflict").to_string();
        assert!(
            e.contains(&fingerprint(KEY_A)) && e.contains(&fingerprint(KEY_B)),
            "{e}"
        );
        assert!(e.contains(&path.display().to_string()), "{e}");
        kh.put("new", KEY_B).await.expect("put");
        assert_eq!(
            learned.get("new").await.expect("get").as_deref(),
            Some(KEY_B)
        );
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains("new "), "the file is not written: {text}");
    }

    #[tokio::test]
    async fn learned_keys_are_shared_through_the_store() {
        let store: Arc<dyn Store> = Arc::new(foredeck_core::MemoryStore::new());
        let a = StoreKnownHosts::new(store.clone());
        let b = StoreKnownHosts::new(store.clone());
        assert_eq!(a.get("[127.0.0.2]:2222").await.expect("get"), None);
        a.put("[127.0.0.2]:2222", "ssh-ed25519 AAAAC3Nza key\n")
            .await
            .expect("put");
        assert_eq!(
            b.get("[127.0.0.2]:2222").await.expect("get").as_deref(),
            Some("ssh-ed25519 AAAAC3Nza key")
        );
        assert_eq!(
            store
                .get_known_host("[127.0.0.2]:2222")
                .await
                .expect("get")
                .as_deref(),
            Some("ssh-ed25519 AAAAC3Nza key")
        );
    }

    #[test]
    fn labels_and_policies() {
        assert_eq!(host_label("h", 22), "h");
        assert_eq!(host_label("h", 2222), "[h]:2222");
        assert_eq!(
            "Accept-New".parse::<HostKeyPolicy>().expect("parse"),
            HostKeyPolicy::AcceptNew
        );
        assert!(matches!(
            "maybe".parse::<HostKeyPolicy>(),
            Err(SshError::Config(_))
        ));
        assert!(fingerprint(KEY_A).starts_with("SHA256:"));
        assert_eq!(fingerprint("garbage"), "(unreadable key)");
    }
}
