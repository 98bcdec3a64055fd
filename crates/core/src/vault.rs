//! The `KeyVault` trait: key storage as front-ends see it.
//!
//! Entries (private keys, public keys, passwords) live under paths like
//! `keys/project/ops/db.pem`. A vault keeps them encrypted at rest; through
//! this trait only public keys can be read back, so front-ends (the HTTP API)
//! can never hand out a secret. `foredeck-store`'s `KeyStorage` implements it.

use crate::{Error, Job, KeyType, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// What a listing shows of an entry: never its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// Path.
    pub path: String,
    /// Kind.
    pub key_type: KeyType,
    /// Size of the content in bytes.
    pub size: u64,
    /// Created.
    pub created: DateTime<Utc>,
    /// Last modified.
    pub modified: DateTime<Utc>,
}

/// Key storage that never returns private keys or passwords.
#[async_trait]
pub trait KeyVault: Send + Sync + std::fmt::Debug {
    /// Stores (or replaces) an entry; refuses bad paths (`..`, empty parts)
    /// and empty or oversized content.
    async fn put(&self, path: &str, key_type: KeyType, data: &[u8]) -> Result<KeyInfo>;
    /// Entries under a prefix (`keys`, `keys/project/ops`), at any depth,
    /// without content.
    async fn list(&self, prefix: &str) -> Result<Vec<KeyInfo>>;
    /// Metadata of one entry.
    async fn info(&self, path: &str) -> Result<Option<KeyInfo>>;
    /// The content of a public key; private keys and passwords are refused
    /// with a forbidden error.
    async fn public(&self, path: &str) -> Result<Vec<u8>>;
    /// Deletes an entry; not-found if missing.
    async fn delete(&self, path: &str) -> Result<()>;
}

#[async_trait]
impl<T: KeyVault + ?Sized> KeyVault for Arc<T> {
    async fn put(&self, path: &str, key_type: KeyType, data: &[u8]) -> Result<KeyInfo> {
        (**self).put(path, key_type, data).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<KeyInfo>> {
        (**self).list(prefix).await
    }
    async fn info(&self, path: &str) -> Result<Option<KeyInfo>> {
        (**self).info(path).await
    }
    async fn public(&self, path: &str) -> Result<Vec<u8>> {
        (**self).public(path).await
    }
    async fn delete(&self, path: &str) -> Result<()> {
        (**self).delete(path).await
    }
}

/// Reads passwords out of key storage for code that uses them: a run filling
/// in a secure option's key-storage default (`storagePath`). What it returns
/// must never reach a user, a log or a record. `foredeck-store`'s
/// `KeyStorage` implements it.
#[async_trait]
pub trait SecretSource: Send + Sync + std::fmt::Debug {
    /// The content of the password entry at `path`; not-found when there is
    /// none, an error naming the path when the entry is not a password.
    async fn password(&self, path: &str) -> Result<String>;
}

#[async_trait]
impl<T: SecretSource + ?Sized> SecretSource for Arc<T> {
    async fn password(&self, path: &str) -> Result<String> {
        (**self).password(path).await
    }
}

/// Where the default value of a secure option of the job `uuid` is kept:
/// `keys/foredeck/job-options/{uuid}/{option}`. A part with characters a key
/// path does not allow is written as `x-` and its hex.
pub fn option_default_path(uuid: &str, option: &str) -> String {
    format!("{}/{}", option_defaults_folder(uuid), key_part(option))
}

/// The key-storage folder of the secure option defaults of the job `uuid`.
fn option_defaults_folder(uuid: &str) -> String {
    format!("{OPTION_DEFAULTS_PREFIX}/{}", key_part(uuid))
}

/// `s` as one part of a key path: itself when a key path allows it, else
/// `x-` and its hex (so that no two names share a part).
fn key_part(s: &str) -> String {
    let plain = !s.is_empty()
        && s != "."
        && s != ".."
        && !s.starts_with("x-")
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
    if plain {
        s.to_owned()
    } else {
        let hex: String = s.bytes().map(|b| format!("{b:02x}")).collect();
        format!("x-{hex}")
    }
}

/// Key-storage folder of the secure option defaults of all jobs.
pub const OPTION_DEFAULTS_PREFIX: &str = "keys/foredeck/job-options";

/// Moves the default value of each secure option of `job` into key storage
/// (as Rundeck's `storagePath`) so that the job record never holds it: the
/// value is stored as a password at [`option_default_path`] and the option
/// points there. An option that already names another `storagePath` keeps
/// it (the stored key is its default, as in Rundeck) and its inline value is
/// dropped. Gives the job a uuid when it has none. Returns whether anything
/// changed.
pub async fn seal_secure_defaults(job: &mut Job, vault: &dyn KeyVault) -> Result<bool> {
    if !job.options.iter().any(|o| o.secure && o.default.is_some()) {
        return Ok(false);
    }
    let uuid = job
        .uuid
        .get_or_insert_with(|| uuid::Uuid::new_v4().to_string())
        .clone();
    for opt in job.options.iter_mut().filter(|o| o.secure) {
        let Some(value) = opt.default.take() else {
            continue;
        };
        let own = option_default_path(&uuid, &opt.name);
        match opt.storage_path.as_deref() {
            Some(p) if p != own => {}
            _ if value.is_empty() => {}
            _ => {
                vault
                    .put(&own, KeyType::Password, value.as_bytes())
                    .await
                    .map_err(|e| Error::InvalidOption {
                        option: opt.name.clone(),
                        message: format!("keeping its secure default in key storage: {e}"),
                    })?;
                opt.storage_path = Some(own);
            }
        }
    }
    Ok(true)
}

/// Deletes the secure option defaults kept for the job `uuid` by
/// [`seal_secure_defaults`] (when the job is deleted).
pub async fn forget_secure_defaults(uuid: &str, vault: &dyn KeyVault) -> Result<()> {
    let folder = option_defaults_folder(uuid);
    let inside = format!("{folder}/");
    for k in vault.list(&folder).await? {
        if !k.path.starts_with(&inside) {
            continue;
        }
        match vault.delete(&k.path).await {
            Ok(()) | Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The store-wide setting (kept under the server name [`STORE_WIDE`]) that
/// records a complete pass of [`seal_stored_defaults`].
pub const SEALED_MARKER: &str = "secure-defaults-sealed";

/// The server name under which settings of the whole store, not of one
/// server, are kept.
pub const STORE_WIDE: &str = "*";

/// Moves the secure option defaults that stored jobs still hold in their
/// records (jobs saved before defaults were kept in key storage) into key
/// storage, as [`seal_secure_defaults`] does on save. A server calls it at
/// start; returns the number of jobs changed.
///
/// Once a pass has gone through every job it records [`SEALED_MARKER`] in
/// the store, and later calls return 0 without reading any job: every save
/// since goes through [`seal_secure_defaults`], so no record can hold a
/// clear default again. (Reading every job at each start cost a server
/// with 10,000 jobs a quarter of a second and 60 MiB.) A pass that fails
/// part way leaves no marker and is repeated at the next start.
pub async fn seal_stored_defaults(store: &dyn crate::Store, vault: &dyn KeyVault) -> Result<usize> {
    if store
        .get_server_setting(STORE_WIDE, SEALED_MARKER)
        .await?
        .is_some()
    {
        return Ok(0);
    }
    let changed = seal_every_job(store, vault).await?;
    store
        .put_server_setting(STORE_WIDE, SEALED_MARKER, "1")
        .await?;
    Ok(changed)
}

async fn seal_every_job(store: &dyn crate::Store, vault: &dyn KeyVault) -> Result<usize> {
    let mut changed = 0;
    for project in store.list_projects().await? {
        let jobs = store
            .list_jobs(&project.name, &crate::store::JobQuery::default())
            .await?;
        for mut job in jobs {
            if seal_secure_defaults(&mut job, vault).await? {
                store.put_job(&project.name, &job).await?;
                changed += 1;
            }
        }
    }
    Ok(changed)
}
