//! Power-safe storage of the camera's user state (S7).
//!
//! One JSON document, replaced atomically and durably (write `NAME.tmp`, `fsync`, `rename`,
//! `fsync` the directory), each 0600 in a 0700 directory: the `camkey-atomic` crate, which
//! the NVR shares without linking camera code. Re-exported here under the camera's names.

pub use camkey_atomic::{
    AtomicFile, DIR_MODE, FILE_MODE, MAX_DOCUMENT_BYTES, StoreError, create_private_dir,
};
