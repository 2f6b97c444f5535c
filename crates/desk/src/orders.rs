//! The front end's copy of the orders (docs/design.md §4), for the support desk: which order holds
//! a camera, and whether it is still under warranty. Only for display and matching: a code
//! released by support goes where the **signer's own** copy of the orders says (S1).
//!
//! Import is all-or-nothing: the file is parsed whole ([`camkey_proto::orders::parse`]),
//! and its rows replace or add to the table in one transaction. The command line imports a
//! file into this copy and the signer's at once ([`read_file`], [`import_to`]).

use camkey_proto::orders::{OrderLine, OrdersError};
use camkey_store::{OrderStore, SqliteStore, StoreError};
use std::path::{Path, PathBuf};

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file was refused (with the line number); nothing was imported.
    #[error("{0}; nothing was imported")]
    File(#[from] OrdersError),
    /// Storage.
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub use camkey_store::Order;

/// Imports an order file into the front end's database: every row, or none.
pub async fn import<S: OrderStore + ?Sized>(store: &S, bytes: &[u8]) -> Result<usize, ImportError> {
    let lines = camkey_proto::orders::parse(bytes)?;
    let n = lines.len();
    store.import_orders(lines).await?;
    Ok(n)
}

/// A civil date.
type Ymd = (i64, u32, u32);

fn parse_date(s: &str) -> Option<Ymd> {
    let mut it = s.split('-');
    let y = it.next()?.parse().ok()?;
    let m = it.next()?.parse().ok()?;
    let d = it.next()?.parse().ok()?;
    Some((y, m, d))
}

/// The civil date of a Unix time in ms (UTC); Howard Hinnant's `civil_from_days`.
pub fn date_of(unix_ms: i64) -> Ymd {
    let z = unix_ms.div_euclid(86_400_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Warranty of a camera bought on a date.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Warranty {
    /// Last day covered, `YYYY-MM-DD`.
    pub until: String,
    /// Whether `today` is covered.
    pub active: bool,
}

/// The warranty of a camera bought on `purchase_date` (`YYYY-MM-DD`) for `months`, as of
/// the Unix time `now_ms`. `None` for a date that does not parse.
pub fn warranty(purchase_date: &str, months: u32, now_ms: i64) -> Option<Warranty> {
    let (y, m, d) = parse_date(purchase_date)?;
    let total = y * 12 + i64::from(m - 1) + i64::from(months);
    let (uy, um) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
    // Covered up to the day before the same day `months` later (clamped to month ends).
    let dim = match um {
        2 if (uy % 4 == 0 && uy % 100 != 0) || uy % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    let end: Ymd = (uy, um, d.min(dim));
    let today = date_of(now_ms);
    Some(Warranty {
        until: format!("{:04}-{:02}-{:02}", end.0, end.1, end.2),
        active: today < end,
    })
}

/// Why importing an orders file from the command line failed.
#[derive(Debug, thiserror::Error)]
pub enum FileImportError {
    /// The file could not be read.
    #[error("reading {}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file was refused (with the line number); nothing was imported anywhere.
    #[error("{}: {reason}; nothing was imported", .path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: OrdersError,
    },
    /// The front end's storage.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The signer's storage.
    #[error(transparent)]
    Signer(#[from] camkey_signer::store::StoreError),
}

/// Reads and parses an orders file whole, before either database is touched: a bad row
/// changes nothing anywhere.
pub fn read_file(path: &Path) -> Result<Vec<OrderLine>, FileImportError> {
    let bytes = std::fs::read(path).map_err(|source| FileImportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    camkey_proto::orders::parse(&bytes).map_err(|reason| FileImportError::Parse {
        path: path.to_path_buf(),
        reason,
    })
}

/// Imports parsed order lines into the front end's database at `db` and, with `signer_db`,
/// first into the signer's own copy (S1), each in one transaction.
pub async fn import_to(
    db: &Path,
    signer_db: Option<&Path>,
    lines: &[OrderLine],
) -> Result<(), FileImportError> {
    let store = SqliteStore::open(db).await?;
    if let Some(signer_db) = signer_db {
        let signer = camkey_signer::store::SignerStore::open(signer_db).await?;
        signer.add_orders(lines).await?;
    }
    store.import_orders(lines.to_vec()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn dates_and_warranty() {
        assert_eq!(date_of(0), (1970, 1, 1));
        assert_eq!(date_of(1_790_000_000_000), (2026, 9, 21));
        let now = 1_790_000_000_000; // 2026-09-21
        let w = warranty("2024-09-22", 24, now).unwrap();
        assert_eq!(w.until, "2026-09-22");
        assert!(w.active);
        assert!(!warranty("2024-09-21", 24, now).unwrap().active);
        assert!(!warranty("2024-09-21", 24, now + DAY).unwrap().active);
        assert_eq!(warranty("2024-02-29", 12, now).unwrap().until, "2025-02-28");
        assert_eq!(warranty("2024-11-30", 3, now).unwrap().until, "2025-02-28");
        assert!(warranty("nonsense", 24, now).is_none());
    }

    #[tokio::test]
    async fn import_is_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("v.db")).await.unwrap();
        let h = camkey_proto::orders::HEADER;
        let good = format!("{h}\nA-1,IPC4K15-000001,Ann,ann@example.com,2026-01-15\n");
        assert_eq!(import(&s, good.as_bytes()).await.unwrap(), 1);
        let bad = format!(
            "{h}\nA-2,IPC4K15-000002,Bo,bo@example.com,2026-01-15\nA-3,IPC4K15-000003,Cy,not-an-address,2026-01-15\n"
        );
        let e = import(&s, bad.as_bytes()).await.unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
        assert_eq!(s.order_count().await.unwrap(), 1);
        assert_eq!(
            s.orders_of("IPC4K15-000001").await.unwrap()[0].order_number,
            "A-1"
        );
    }
}
