//! The front end's copy of the orders on SQLite.

use super::SqliteStore;
use crate::{BoxFuture, Order, OrderStore, StoreError};
use camkey_proto::orders::OrderLine;

#[derive(sqlx::FromRow)]
struct Row {
    order_number: String,
    serial: String,
    customer_name: String,
    customer_email: String,
    purchase_date: String,
}

impl OrderStore for SqliteStore {
    fn import_orders(&self, lines: Vec<OrderLine>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let mut tx = self.pool().begin().await?;
            for l in &lines {
                sqlx::query("INSERT OR REPLACE INTO orders (order_number, serial, customer_name, customer_email, purchase_date) VALUES (?, ?, ?, ?, ?)")
                    .bind(&l.order_number)
                    .bind(&l.serial)
                    .bind(&l.customer_name)
                    .bind(&l.customer_email)
                    .bind(&l.purchase_date)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn orders_of(&self, serial: &str) -> BoxFuture<'_, Result<Vec<Order>, StoreError>> {
        let serial = serial.to_string();
        Box::pin(async move {
            let rows: Vec<Row> = sqlx::query_as(
                "SELECT order_number, serial, customer_name, customer_email, purchase_date FROM orders WHERE serial = ? ORDER BY purchase_date DESC",
            )
            .bind(serial)
            .fetch_all(self.pool())
            .await?;
            Ok(rows
                .into_iter()
                .map(|r| Order {
                    order_number: r.order_number,
                    serial: r.serial,
                    customer_name: r.customer_name,
                    customer_email: r.customer_email,
                    purchase_date: r.purchase_date,
                })
                .collect())
        })
    }

    fn order_count(&self) -> BoxFuture<'_, Result<i64, StoreError>> {
        Box::pin(async move {
            Ok(sqlx::query_scalar("SELECT COUNT(*) FROM orders")
                .fetch_one(self.pool())
                .await?)
        })
    }
}
