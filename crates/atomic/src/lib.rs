//! # camkey-atomic
//!
//! Power-safe storage of a part's state (S7): the camera's user state and the NVR's.
//!
//! One JSON document, replaced atomically: write `NAME.tmp`, `fsync` it, `rename` it over
//! `NAME`, `fsync` the directory. A power cut at any instant leaves either the old document
//! or the new one: `rename` is atomic on every POSIX file system, and the two `fsync`s
//! order the data before the name. We chose this over SQLite in WAL mode because the state
//! is small (tens of kilobytes, bounded), always read and written whole, and this keeps SQL
//! out of the camera build; the trade-off is a full rewrite per change, which the
//! benchmarks show is far below an Argon2 hash.
//!
//! A leftover `NAME.tmp` (power cut before the rename) is ignored and replaced.
//!
//! The documents hold secrets (password hashes, the SMTP password): each is created 0600
//! whatever the umask, as a fresh `NAME.tmp` made 0600 before its first byte, so the
//! renamed document is 0600 too; an older document that is more open is tightened when
//! opened. The directories this module creates are 0700 ([`create_private_dir`]).
//!
//! This is the camera's `store` module, made a crate of its own so that the NVR keeps its
//! state the same way without linking any camera code (docs/design.md §2: the NVR reaches
//! cameras only over the network).
//!
//! # Layout
//! Everything is in this file: [`AtomicFile`], [`StoreError`], [`create_private_dir`] and
//! the modes ([`FILE_MODE`], [`DIR_MODE`]).

use serde::{Serialize, de::DeserializeOwned};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of every document.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every directory created here.
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` and its missing parents 0700 whatever the umask; a directory that exists
/// keeps its mode (its owner chose it; the documents are private on their own).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
}

/// Largest document we accept to read back (the state is bounded far below this).
pub const MAX_DOCUMENT_BYTES: u64 = 8 * 1024 * 1024;

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file system refused.
    #[error("{path}: {source}")]
    Io {
        /// File concerned.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The document on flash does not parse: it was not written by us.
    #[error("{path}: not a valid state document: {reason}")]
    Corrupt {
        /// File concerned.
        path: PathBuf,
        /// Parser's words.
        reason: String,
    },
}

/// An atomically replaced JSON document.
#[derive(Debug, Clone)]
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    dir: PathBuf,
}

impl AtomicFile {
    /// The document `name` in `dir` (the directory is created 0700 if missing; a document
    /// written more open by an older version is made 0600).
    pub fn new(dir: &Path, name: &str) -> Result<Self, StoreError> {
        create_private_dir(dir).map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let f = AtomicFile {
            path: dir.join(name),
            tmp: dir.join(format!("{name}.tmp")),
            dir: dir.to_path_buf(),
        };
        if let Ok(m) = fs::symlink_metadata(&f.path)
            && m.is_file()
            && m.mode() & 0o077 != 0
        {
            fs::set_permissions(&f.path, fs::Permissions::from_mode(FILE_MODE))
                .map_err(f.io(&f.path))?;
        }
        Ok(f)
    }

    /// The document's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.to_path_buf();
        move |source| StoreError::Io { path, source }
    }

    /// Reads the document; `None` if it was never written.
    pub fn load<T: DeserializeOwned>(&self) -> Result<Option<T>, StoreError> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(&self.path)(e)),
        };
        let len = file.metadata().map_err(self.io(&self.path))?.len();
        if len > MAX_DOCUMENT_BYTES {
            return Err(StoreError::Corrupt {
                path: self.path.clone(),
                reason: format!("{len} bytes is more than any state we write"),
            });
        }
        let bytes = fs::read(&self.path).map_err(self.io(&self.path))?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                path: self.path.clone(),
                reason: e.to_string(),
            })
    }

    /// Replaces the document atomically and durably.
    pub fn save<T: Serialize>(&self, value: &T) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(value).map_err(|e| StoreError::Corrupt {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        // A fresh file, 0600 from its creation: whoever holds a leftover one open does not
        // see the new bytes.
        match fs::remove_file(&self.tmp) {
            Err(e) if e.kind() != ErrorKind::NotFound => return Err(self.io(&self.tmp)(e)),
            _ => {}
        }
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&self.tmp)
            .map_err(self.io(&self.tmp))?;
        f.write_all(&bytes).map_err(self.io(&self.tmp))?;
        f.sync_all().map_err(self.io(&self.tmp))?;
        drop(f);
        fs::rename(&self.tmp, &self.path).map_err(self.io(&self.path))?;
        // The rename itself must reach the disk before we report success.
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(self.io(&self.dir))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_leftover_tmp() {
        let dir = tempfile::tempdir().unwrap();
        let f = AtomicFile::new(dir.path(), "doc.json").unwrap();
        assert_eq!(f.load::<Vec<u32>>().unwrap(), None);
        f.save(&vec![1u32, 2, 3]).unwrap();
        // A half-written temp file from a power cut changes nothing.
        fs::write(dir.path().join("doc.json.tmp"), b"{garbage").unwrap();
        assert_eq!(f.load::<Vec<u32>>().unwrap(), Some(vec![1, 2, 3]));
        f.save(&vec![4u32]).unwrap();
        assert_eq!(f.load::<Vec<u32>>().unwrap(), Some(vec![4]));
    }

    #[test]
    fn corrupt_document_is_an_error_not_a_default() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("doc.json"), b"{\"half").unwrap();
        let f = AtomicFile::new(dir.path(), "doc.json").unwrap();
        assert!(matches!(
            f.load::<Vec<u32>>(),
            Err(StoreError::Corrupt { .. })
        ));
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn documents_are_0600_and_directories_0700_even_over_open_leftovers() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("flash/deep");
        let f = AtomicFile::new(&dir, "doc.json").unwrap();
        assert_eq!(
            (mode(&dir), mode(&tmp.path().join("flash"))),
            (0o700, 0o700)
        );
        f.save(&1u32).unwrap();
        assert_eq!(mode(f.path()), 0o600);
        // A leftover temp file readable by all, and held open, is replaced by a fresh
        // 0600 one; a document readable by all (an older version's) is tightened when
        // opened.
        let tmp_file = dir.join("doc.json.tmp");
        fs::write(&tmp_file, b"{").unwrap();
        fs::set_permissions(&tmp_file, fs::Permissions::from_mode(0o666)).unwrap();
        let held = File::open(&tmp_file).unwrap();
        f.save(&2u32).unwrap();
        assert_eq!(mode(f.path()), 0o600);
        assert_eq!(held.metadata().unwrap().permissions().mode() & 0o777, 0o666);
        assert_eq!(
            std::io::read_to_string(held).unwrap(),
            "{",
            "not the new document"
        );
        fs::set_permissions(f.path(), fs::Permissions::from_mode(0o644)).unwrap();
        let f = AtomicFile::new(&dir, "doc.json").unwrap();
        assert_eq!(mode(f.path()), 0o600);
        assert_eq!(f.load::<u32>().unwrap(), Some(2));
    }
}
