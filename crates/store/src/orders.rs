//! The front end's copy of the orders: which order holds a camera (for display and
//! matching only; a code goes where the signer's own copy says).

use crate::{BoxFuture, StoreError};
use camkey_proto::orders::OrderLine;

/// One order line, as the desk shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Order {
    /// Order number.
    pub order_number: String,
    /// Camera serial.
    pub serial: String,
    /// Customer's name.
    pub customer_name: String,
    /// Customer's address.
    pub customer_email: String,
    /// `YYYY-MM-DD`.
    pub purchase_date: String,
}

/// Where the orders are kept.
pub trait OrderStore: Send + Sync + 'static {
    /// Adds (or replaces) order lines, all or none.
    fn import_orders(&self, lines: Vec<OrderLine>) -> BoxFuture<'_, Result<(), StoreError>>;
    /// The orders that hold `serial`, newest purchase first.
    fn orders_of(&self, serial: &str) -> BoxFuture<'_, Result<Vec<Order>, StoreError>>;
    /// How many order lines there are.
    fn order_count(&self) -> BoxFuture<'_, Result<i64, StoreError>>;
}
