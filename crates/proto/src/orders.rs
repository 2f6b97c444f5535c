//! Order files (docs/design.md §4): CSV with the header
//! `order_number,serial,customer_name,customer_email,purchase_date` (date `YYYY-MM-DD`).
//! The vendor imports them for the support desk; the signer keeps its own copy, so that a
//! code released by support goes to the order's address from the signer's own data (S1).
//!
//! Parsing is all-or-nothing: one bad row refuses the whole file, with its line number, so
//! a half-imported file never changes anything.

use crate::factory::validate_serial;
use crate::policy::check_email;

/// The header every order file starts with.
pub const HEADER: &str = "order_number,serial,customer_name,customer_email,purchase_date";
/// Largest order file accepted.
pub const MAX_BYTES: usize = 16 * 1024 * 1024;
/// Most rows accepted.
pub const MAX_ROWS: usize = 200_000;

/// One camera on one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    /// Order number.
    pub order_number: String,
    /// Camera serial.
    pub serial: String,
    /// Customer's name.
    pub customer_name: String,
    /// Customer's address: where a released code goes.
    pub customer_email: String,
    /// Purchase date, `YYYY-MM-DD`.
    pub purchase_date: String,
}

/// Why an order file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrdersError {
    /// Too big.
    #[error("the order file is larger than {MAX_BYTES} bytes or {MAX_ROWS} rows")]
    TooLarge,
    /// Wrong header.
    #[error("the first line must be exactly: {HEADER}")]
    Header,
    /// A bad row.
    #[error("line {line}: {reason}")]
    Row {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Checks an order number: 1 to 40 of letters, digits, `-` and `_`.
pub fn valid_order_number(s: &str) -> bool {
    (1..=40).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<u32>().ok());
    matches!((num(0..4), num(5..7), num(8..10)), (Some(y), Some(m), Some(d)) if (1990..=2200).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d))
}

/// Parses a whole order file.
pub fn parse(bytes: &[u8]) -> Result<Vec<OrderLine>, OrdersError> {
    if bytes.len() > MAX_BYTES {
        return Err(OrdersError::TooLarge);
    }
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 1;
        let rec = rec.map_err(|e| OrdersError::Row {
            line,
            reason: format!("not CSV: {e}"),
        })?;
        let fields: Vec<&str> = rec.iter().map(str::trim).collect();
        if i == 0 {
            if fields.join(",").trim_start_matches('\u{feff}') != HEADER {
                return Err(OrdersError::Header);
            }
            continue;
        }
        if fields.iter().all(|f| f.is_empty()) {
            continue;
        }
        if out.len() >= MAX_ROWS {
            return Err(OrdersError::TooLarge);
        }
        let bad = |reason: &str| OrdersError::Row {
            line,
            reason: reason.into(),
        };
        let [order_number, serial, name, email, date] = fields[..] else {
            return Err(bad("a row has exactly 5 fields"));
        };
        if !valid_order_number(order_number) {
            return Err(bad(
                "the order number is 1 to 40 letters, digits, '-' or '_'",
            ));
        }
        if validate_serial(serial).is_err() {
            return Err(bad("the serial is not a camera serial"));
        }
        if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
            return Err(bad("the customer name is 1 to 200 characters"));
        }
        if !check_email(email) {
            return Err(bad("the customer e-mail is not an address"));
        }
        if !valid_date(date) {
            return Err(bad("the purchase date is YYYY-MM-DD"));
        }
        out.push(OrderLine {
            order_number: order_number.into(),
            serial: serial.into(),
            customer_name: name.into(),
            customer_email: email.into(),
            purchase_date: date.into(),
        });
    }
    if out.is_empty()
        && !bytes.starts_with(HEADER.as_bytes())
        && !bytes.starts_with("\u{feff}".as_bytes())
    {
        return Err(OrdersError::Header);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_refuses_whole_files() {
        let good = format!(
            "{HEADER}\nA-1001,IPC4K15-000001,Ann Owner,ann@example.com,2026-01-15\n\"A-1002\",IPC4K15D-000002,\"Doe, John\",john@example.com,2025-12-01\n"
        );
        let rows = parse(good.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].customer_name, "Doe, John");
        assert_eq!(parse(b"serial,order\nx,y"), Err(OrdersError::Header));
        assert_eq!(parse(b""), Err(OrdersError::Header));
        let bad = format!(
            "{HEADER}\nA-1,IPC4K15-000001,Ann,ann@example.com,2026-01-15\nA-2,bad serial,Bo,bo@example.com,2026-01-15\n"
        );
        assert!(matches!(
            parse(bad.as_bytes()),
            Err(OrdersError::Row { line: 3, .. })
        ));
        let bad_date = format!("{HEADER}\nA-1,IPC4K15-000001,Ann,ann@example.com,15/01/2026\n");
        assert!(matches!(
            parse(bad_date.as_bytes()),
            Err(OrdersError::Row { line: 2, .. })
        ));
        let short = format!("{HEADER}\nA-1,IPC4K15-000001,Ann\n");
        assert!(matches!(
            parse(short.as_bytes()),
            Err(OrdersError::Row { line: 2, .. })
        ));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut file = HEADER.as_bytes().to_vec();
            file.push(b'\n');
            file.extend(bytes);
            let _ = parse(&file);
        }
    }
}
