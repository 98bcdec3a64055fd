//! Key storage: secrets (private keys, passwords) and public keys kept
//! encrypted in any [`Store`], under paths like `keys/project/ops/db.pem`.
//!
//! Each entry is sealed with AES-256-GCM under the master key; the path and
//! the entry type are the associated data, so a ciphertext copied to another
//! path, or relabelled as a public key, does not decrypt. Private keys and
//! passwords are only handed to code that uses them ([`KeyStorage::secret`]),
//! never listed with their content.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use chrono::Utc;
use foredeck_core::{Error, KeyType, KeyVault, Result, SecretSource, Store, StoredKey};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// Format version of a sealed entry (first byte of the ciphertext).
const VERSION: u8 = 1;
/// Longest accepted path.
const MAX_PATH: usize = foredeck_core::names::KEY_PATH_MAX;
/// Largest accepted secret (a private key or password).
pub const MAX_SECRET_BYTES: usize = 64 * 1024;
/// Environment variable holding a base64 master key (32 bytes).
pub const MASTER_KEY_ENV: &str = "FOREDECK_MASTER_KEY";
/// File name of the master key in the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";

/// The 256-bit key that encrypts every entry. Its bytes are never printed.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([REDACTED])")
    }
}

impl MasterKey {
    /// A new random key.
    pub fn generate() -> Self {
        MasterKey(Aes256Gcm::generate_key(OsRng).into())
    }

    /// A key from its base64 text (as in `FOREDECK_MASTER_KEY` or the key file).
    pub fn from_base64(text: &str) -> Result<Self> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| invalid_master(format!("not base64: {e}")))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| invalid_master(format!("{} bytes, expected 32", b.len())))?;
        Ok(MasterKey(arr))
    }

    /// The key as base64 text.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    /// The key from `FOREDECK_MASTER_KEY` if set, else from `dir/master.key`,
    /// created (mode 0600) on first use.
    pub fn load_or_create(dir: &Path) -> Result<Self> {
        if let Ok(text) = std::env::var(MASTER_KEY_ENV) {
            return Self::from_base64(&text);
        }
        let path = dir.join(MASTER_KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_base64(&text)
                .map_err(|e| invalid_master(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                crate::data_dir::create(dir)?;
                let key = Self::generate();
                crate::data_dir::write_private_file(&path, key.to_base64().as_bytes())?;
                Ok(key)
            }
            Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
        }
    }
}

fn invalid_master(message: String) -> Error {
    crate::StoreError::MasterKey(message).into()
}

/// Checks a key path: `keys/` followed by `/`-separated names of letters,
/// digits, `.`, `_`, `-` and `@`; no empty, `.` or `..` parts, no `\`, NUL or
/// other control characters.
pub fn validate_path(path: &str) -> Result<()> {
    let bad = |why: &str| Error::InvalidOption {
        option: "path".into(),
        message: format!("invalid key path {path:?}: {why}"),
    };
    if path.len() > MAX_PATH {
        // the path itself is not echoed: it is the long part
        return Err(Error::InvalidOption {
            option: "path".into(),
            message: format!(
                "key path is {} characters long; at most {MAX_PATH} are allowed",
                path.chars().count()
            ),
        });
    }
    let Some(rest) = path.strip_prefix("keys/") else {
        return Err(bad("must start with keys/"));
    };
    for part in rest.split('/') {
        match part {
            "" => return Err(bad("empty part (// or a trailing /)")),
            "." | ".." => return Err(bad("`.` and `..` are not allowed")),
            p if !p
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c)) =>
            {
                return Err(bad(
                    "only letters, digits, `.`, `_`, `-` and `@` are allowed in names",
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks a listing prefix: `keys` or a valid path, optionally ending in `/`.
fn validate_prefix(prefix: &str) -> Result<String> {
    let trimmed = prefix.trim_end_matches('/');
    if trimmed == "keys" {
        return Ok("keys/".into());
    }
    validate_path(trimmed)?;
    Ok(format!("{trimmed}/"))
}

fn type_label(t: KeyType) -> &'static str {
    match t {
        KeyType::Private => "private",
        KeyType::Public => "public",
        KeyType::Password => "password",
    }
}

pub use foredeck_core::KeyInfo;

/// Encrypted key storage on top of a [`Store`].
#[derive(Clone)]
pub struct KeyStorage {
    store: Arc<dyn Store>,
    cipher: Aes256Gcm,
}

impl fmt::Debug for KeyStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyStorage")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl KeyStorage {
    /// Key storage in `store`, sealed with `master`.
    pub fn new(store: Arc<dyn Store>, master: &MasterKey) -> Self {
        KeyStorage {
            store,
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&master.0)),
        }
    }

    fn aad(path: &str, key_type: KeyType) -> Vec<u8> {
        format!("foredeck-key-v{VERSION}\0{}\0{path}", type_label(key_type)).into_bytes()
    }

    fn seal(&self, path: &str, key_type: KeyType, data: &[u8]) -> Result<Vec<u8>> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = Self::aad(path, key_type);
        let ct = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: data,
                    aad: &aad,
                },
            )
            .map_err(|_| crate::StoreError::Sealed {
                path: path.to_owned(),
                reason: "cannot encrypt".into(),
            })?;
        let mut out = Vec::with_capacity(1 + nonce.len() + ct.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    fn open(&self, entry: &StoredKey) -> Result<Vec<u8>> {
        let sealed = &entry.ciphertext;
        if sealed.len() < 1 + 12 + 16 || sealed[0] != VERSION {
            return Err(crate::StoreError::Sealed {
                path: entry.path.clone(),
                reason: "not a sealed key entry (unknown format)".into(),
            }
            .into());
        }
        let nonce = Nonce::from_slice(&sealed[1..13]);
        let aad = Self::aad(&entry.path, entry.key_type);
        self.cipher
            .decrypt(
                nonce,
                Payload {
                    msg: &sealed[13..],
                    aad: &aad,
                },
            )
            .map_err(|_| {
                crate::StoreError::Sealed {
                    path: entry.path.clone(),
                    reason: "cannot decrypt: wrong master key, or the entry was altered or moved"
                        .into(),
                }
                .into()
            })
    }

    /// Stores (or replaces) an entry.
    pub async fn put(&self, path: &str, key_type: KeyType, data: &[u8]) -> Result<KeyInfo> {
        validate_path(path)?;
        if data.is_empty() {
            return Err(Error::InvalidOption {
                option: "content".into(),
                message: format!("{path}: empty content"),
            });
        }
        if data.len() > MAX_SECRET_BYTES {
            return Err(Error::InvalidOption {
                option: "content".into(),
                message: format!(
                    "{path}: {} bytes, the limit is {MAX_SECRET_BYTES}",
                    data.len()
                ),
            });
        }
        let now = Utc::now();
        let created = self
            .store
            .get_key(path)
            .await?
            .map(|k| k.created)
            .unwrap_or(now);
        let entry = StoredKey {
            path: path.to_owned(),
            key_type,
            ciphertext: self.seal(path, key_type, data)?,
            created,
            modified: now,
        };
        self.store.put_key(&entry).await?;
        Ok(info(&entry))
    }

    /// Entries under a prefix (`keys`, `keys/project/ops`), without content.
    pub async fn list(&self, prefix: &str) -> Result<Vec<KeyInfo>> {
        let prefix = validate_prefix(prefix)?;
        Ok(self
            .store
            .list_keys(&prefix)
            .await?
            .iter()
            .map(info)
            .collect())
    }

    /// Metadata of one entry.
    pub async fn info(&self, path: &str) -> Result<Option<KeyInfo>> {
        validate_path(path)?;
        Ok(self.store.get_key(path).await?.as_ref().map(info))
    }

    /// The content of a public key; private keys and passwords are refused.
    pub async fn public(&self, path: &str) -> Result<Vec<u8>> {
        let entry = self.entry(path).await?;
        if entry.key_type != KeyType::Public {
            return Err(Error::Forbidden(format!(
                "{path} is a {} entry: its content is never returned",
                type_label(entry.key_type)
            )));
        }
        self.open(&entry)
    }

    /// The content of any entry, for code that uses it (an SSH executor
    /// logging in). Never return this to a user.
    pub async fn secret(&self, path: &str) -> Result<(KeyType, Vec<u8>)> {
        let entry = self.entry(path).await?;
        Ok((entry.key_type, self.open(&entry)?))
    }

    /// Deletes an entry; not-found if missing.
    pub async fn delete(&self, path: &str) -> Result<()> {
        validate_path(path)?;
        self.store.delete_key(path).await
    }

    async fn entry(&self, path: &str) -> Result<StoredKey> {
        validate_path(path)?;
        self.store
            .get_key(path)
            .await?
            .ok_or_else(|| Error::NotFound {
                kind: "key",
                id: path.to_owned(),
            })
    }
}

fn info(k: &StoredKey) -> KeyInfo {
    KeyInfo {
        path: k.path.clone(),
        key_type: k.key_type,
        // The sealed form adds a version byte, the nonce and the tag.
        size: k.ciphertext.len().saturating_sub(1 + 12 + 16) as u64,
        created: k.created,
        modified: k.modified,
    }
}

#[async_trait::async_trait]
impl SecretSource for KeyStorage {
    async fn password(&self, path: &str) -> Result<String> {
        let (key_type, data) = self.secret(path).await?;
        if key_type != KeyType::Password {
            return Err(Error::InvalidOption {
                option: "storagePath".into(),
                message: format!("{path} is a {} entry, not a password", type_label(key_type)),
            });
        }
        String::from_utf8(data).map_err(|_| Error::InvalidOption {
            option: "storagePath".into(),
            message: format!("the password at {path} is not UTF-8 text"),
        })
    }
}

#[async_trait::async_trait]
impl KeyVault for KeyStorage {
    async fn put(&self, path: &str, key_type: KeyType, data: &[u8]) -> Result<KeyInfo> {
        KeyStorage::put(self, path, key_type, data).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<KeyInfo>> {
        KeyStorage::list(self, prefix).await
    }
    async fn info(&self, path: &str) -> Result<Option<KeyInfo>> {
        KeyStorage::info(self, path).await
    }
    async fn public(&self, path: &str) -> Result<Vec<u8>> {
        KeyStorage::public(self, path).await
    }
    async fn delete(&self, path: &str) -> Result<()> {
        KeyStorage::delete(self, path).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use foredeck_core::MemoryStore;

    fn storage(store: Arc<dyn Store>, key: &MasterKey) -> KeyStorage {
        KeyStorage::new(store, key)
    }

    #[tokio::test]
    async fn round_trip_and_no_clear_text_at_rest() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let master = MasterKey::generate();
        let ks = storage(store.clone(), &master);
        ks.put(
            "keys/project/ops/db.pass",
            KeyType::Password,
            b"hunter2-secret",
        )
        .await
        .unwrap();
        ks.put(
            "keys/project/ops/id.pub",
            KeyType::Public,
            b"ssh-ed25519 AAAA",
        )
        .await
        .unwrap();
        let raw = store
            .get_key("keys/project/ops/db.pass")
            .await
            .unwrap()
            .unwrap();
        assert!(!raw.ciphertext.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(
            ks.secret("keys/project/ops/db.pass").await.unwrap().1,
            b"hunter2-secret"
        );
        assert_eq!(
            ks.public("keys/project/ops/id.pub").await.unwrap(),
            b"ssh-ed25519 AAAA"
        );
        assert!(matches!(
            ks.public("keys/project/ops/db.pass").await,
            Err(Error::Forbidden(_))
        ));
        let listed: Vec<String> = ks
            .list("keys/project")
            .await
            .unwrap()
            .into_iter()
            .map(|k| k.path)
            .collect();
        assert_eq!(
            listed,
            ["keys/project/ops/db.pass", "keys/project/ops/id.pub"]
        );
        assert!(
            ks.list("keys/proj").await.unwrap().is_empty(),
            "prefix matches whole names"
        );
        ks.delete("keys/project/ops/id.pub").await.unwrap();
        assert!(matches!(
            ks.delete("keys/project/ops/id.pub").await,
            Err(Error::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn wrong_master_key_and_moved_entries_fail_clearly() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let ks = storage(store.clone(), &MasterKey::generate());
        ks.put("keys/a", KeyType::Password, b"pw").await.unwrap();
        let other = storage(store.clone(), &MasterKey::generate());
        let err = other.secret("keys/a").await.unwrap_err().to_string();
        assert!(err.contains("wrong master key"), "{err}");
        // the same ciphertext under another path does not open
        let mut moved = store.get_key("keys/a").await.unwrap().unwrap();
        moved.path = "keys/b".into();
        store.put_key(&moved).await.unwrap();
        assert!(ks.secret("keys/b").await.is_err());
        // nor relabelled as public
        let mut relabelled = store.get_key("keys/a").await.unwrap().unwrap();
        relabelled.key_type = KeyType::Public;
        store.put_key(&relabelled).await.unwrap();
        assert!(ks.public("keys/a").await.is_err());
    }

    #[test]
    fn bad_paths_are_refused() {
        for p in [
            "keys",
            "keys/",
            "other/x",
            "keys/../etc",
            "keys/a/./b",
            "keys//a",
            "keys/a/",
            "keys/a\\b",
            "keys/a\0b",
            "keys/a b",
            "/keys/a",
        ] {
            assert!(validate_path(p).is_err(), "{p:?} accepted");
        }
        for p in [
            "keys/a",
            "keys/project/ops/db.pem",
            "keys/user@host/id_ed25519-2",
        ] {
            validate_path(p).unwrap();
        }
    }

    #[test]
    fn master_key_file_is_created_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        if std::env::var(MASTER_KEY_ENV).is_ok() {
            return; // the environment decides; nothing to test here
        }
        let a = MasterKey::load_or_create(dir.path()).unwrap();
        let b = MasterKey::load_or_create(dir.path()).unwrap();
        assert_eq!(a.to_base64(), b.to_base64());
        let mode = std::fs::metadata(dir.path().join(MASTER_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(format!("{a:?}"), "MasterKey([REDACTED])");
        std::fs::write(dir.path().join(MASTER_KEY_FILE), "garbage").unwrap();
        assert!(MasterKey::load_or_create(dir.path()).is_err());
    }
}
