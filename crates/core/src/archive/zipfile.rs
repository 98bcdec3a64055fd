//! Reading an uploaded zip without trusting it, and writing one.
//!
//! [`read_entries`] refuses, naming the entry: a path that could leave the
//! folder it is unpacked into (`..`, an absolute path, a drive letter, a
//! backslash, a NUL), a symbolic link, an encrypted entry, a name given
//! twice, and anything past [`Limits`]: the number of entries, the bytes
//! of one entry and of all of them once decompressed, and (past a first
//! stretch) how many times an entry grows. Sizes are counted on the bytes
//! the decompressor yields, as they come, never taken from the headers: a
//! zip bomb is stopped at the limit, not after it was inflated.

use crate::error::{Error, Result};
use std::io::{Cursor, Read, Write};

/// Bounds on what an archive may unpack to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Entries (files and folders).
    pub max_entries: usize,
    /// Decompressed bytes of one entry.
    pub max_entry_bytes: u64,
    /// Decompressed bytes of all entries together.
    pub max_total_bytes: u64,
    /// How many times its stored size an entry may grow once it has
    /// produced [`Limits::ratio_grace_bytes`].
    pub max_ratio: u64,
    /// Bytes an entry may produce before its ratio is checked (a small
    /// file of one repeated character compresses well and is harmless).
    pub ratio_grace_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 200_000,
            max_entry_bytes: 64 << 20,
            max_total_bytes: 256 << 20,
            max_ratio: 200,
            ratio_grace_bytes: 1 << 20,
        }
    }
}

/// One file of an archive, decompressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its path in the archive (`/`-separated, relative).
    pub name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

fn refused(name: &str, why: impl std::fmt::Display) -> Error {
    Error::Format {
        source_name: format!("archive entry {name:?}"),
        message: format!("refused: {why}"),
    }
}

/// Whether `name` stays inside the folder it is unpacked into; the reason
/// when it does not.
pub fn check_path(name: &str) -> std::result::Result<(), &'static str> {
    if name.is_empty() {
        return Err("the name is empty");
    }
    if name.contains('\0') {
        return Err("the name contains a NUL character");
    }
    if name.contains('\\') {
        return Err("the name contains a backslash");
    }
    if name.starts_with('/') {
        return Err("the path is absolute");
    }
    let b = name.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        return Err("the path starts with a drive letter");
    }
    if name.split('/').any(|part| part == "..") {
        return Err("the path climbs out of the archive with `..`");
    }
    Ok(())
}

/// Unpacks every file of `zip` within `limits` (folders are checked and
/// left out), in archive order.
pub fn read_entries(zip: &[u8], limits: &Limits) -> Result<Vec<Entry>> {
    let not_zip = |e: zip::result::ZipError| Error::Format {
        source_name: "archive".into(),
        message: format!("not a readable zip file: {e}"),
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).map_err(not_zip)?;
    if archive.len() > limits.max_entries {
        return Err(Error::Format {
            source_name: "archive".into(),
            message: format!(
                "refused: {} entries, more than the limit of {}",
                archive.len(),
                limits.max_entries
            ),
        });
    }
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut total: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).map_err(not_zip)?;
        let name = file.name().to_owned();
        check_path(&name).map_err(|why| refused(&name, why))?;
        if file.is_symlink() {
            return Err(refused(&name, "it is a symbolic link"));
        }
        if !seen.insert(name.clone()) {
            return Err(refused(&name, "the name appears twice"));
        }
        if file.is_dir() {
            continue;
        }
        // bounded by the bytes really in the upload, so a fair divisor
        let stored = file.compressed_size().max(1);
        let mut bytes = Vec::new();
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| refused(&name, format!("it cannot be decompressed: {e}")))?;
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&buf[..n]);
            let len = bytes.len() as u64;
            total += n as u64;
            if len > limits.max_entry_bytes {
                return Err(refused(
                    &name,
                    format!(
                        "it unpacks to more than the limit of {} bytes",
                        limits.max_entry_bytes
                    ),
                ));
            }
            if total > limits.max_total_bytes {
                return Err(refused(
                    &name,
                    format!(
                        "the archive unpacks to more than the limit of {} bytes",
                        limits.max_total_bytes
                    ),
                ));
            }
            if len > limits.ratio_grace_bytes && len / stored > limits.max_ratio {
                return Err(refused(
                    &name,
                    format!(
                        "it grows more than {} times its stored size of {stored} bytes",
                        limits.max_ratio
                    ),
                ));
            }
        }
        out.push(Entry { name, bytes });
    }
    Ok(out)
}

/// Packs `entries` into a zip (deflated), in the order given.
pub fn write_entries<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<Vec<u8>> {
    let internal = |e: &dyn std::fmt::Display| {
        Error::io("writing the archive", std::io::Error::other(e.to_string()))
    };
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(false);
    for (name, bytes) in entries {
        zip.start_file(name, options).map_err(|e| internal(&e))?;
        zip.write_all(bytes).map_err(|e| internal(&e))?;
    }
    Ok(zip.finish().map_err(|e| internal(&e))?.into_inner())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_leave_the_folder_are_refused() {
        for (name, ok) in [
            ("rundeck-p/jobs/job-1.xml", true),
            ("rundeck-p/files/etc/project.properties", true),
            ("a/b..c/d", true),
            ("../etc/passwd", false),
            ("rundeck-p/../../x", false),
            ("rundeck-p/..", false),
            ("/etc/passwd", false),
            ("C:/Windows/x", false),
            ("rundeck-p\\..\\x", false),
            ("a\0b", false),
            ("", false),
        ] {
            assert_eq!(check_path(name).is_ok(), ok, "{name:?}");
        }
    }

    #[test]
    fn round_trip() {
        let zip = write_entries([("a/b.txt", &b"hello"[..]), ("a/c.txt", &b""[..])]).unwrap();
        let got = read_entries(&zip, &Limits::default()).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].name.as_str(), got[0].bytes.as_slice()),
            ("a/b.txt", &b"hello"[..])
        );
    }
}
