//! Power-safe storage of the camera's user state (S7).
//!
//! One JSON document, replaced atomically: write `NAME.tmp`, `fsync` it, `rename` it over
//! `NAME`, `fsync` the directory. A power cut at any instant leaves either the old document
//! or the new one: `rename` is atomic on every POSIX file system, and the two `fsync`s
//! order the data before the name. We chose this over SQLite in WAL mode because the state
//! is small (tens of kilobytes, bounded), always read and written whole, and this keeps SQL
//! out of the camera build; the trade-off is a full rewrite per change, which the
//! benchmarks show is far below an Argon2 hash.
//!
//! A leftover `NAME.tmp` (power cut before the rename) is ignored and overwritten.

use serde::{Serialize, de::DeserializeOwned};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

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
    /// The document `name` in `dir` (the directory is created if missing).
    pub fn new(dir: &Path, name: &str) -> Result<Self, StoreError> {
        fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(AtomicFile {
            path: dir.join(name),
            tmp: dir.join(format!("{name}.tmp")),
            dir: dir.to_path_buf(),
        })
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
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
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
}
