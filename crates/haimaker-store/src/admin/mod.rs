//! Management queries (LiteLLM's `/key/*`, `/user/*`, `/team/*`, `/spend/logs`): all their SQL
//! and the row <-> JSON mapping. The HTTP semantics (defaults, validation, response shapes) live
//! in the worker's `pipeline/admin`.
//!
//! Conventions, so that LiteLLM keeps working on rows written here:
//! - timestamps are written as `now() AT TIME ZONE 'UTC'` (Prisma stores UTC in `TIMESTAMP(3)`,
//!   and `@updatedAt` is set by the client, not by a database default);
//! - ids Prisma generates client-side (`@default(uuid())`) are `gen_random_uuid()::text`;
//! - request values reach SQL only as bound parameters; column names come from the static
//!   field tables in [`fields`].

pub mod budgets;
pub mod fields;
pub mod keys;
pub mod members;
pub mod rows;
pub mod spend_logs;
pub mod teams;
pub mod users;

pub use deadpool_postgres::{Client, GenericClient, Transaction};

use crate::error::StoreError;

/// `now()` as Prisma stores it.
pub(crate) const NOW: &str = "(now() AT TIME ZONE 'UTC')";

/// The UI's session keys (`UI_SESSION_TOKEN_TEAM_ID`): never listed.
pub const UI_SESSION_TEAM: &str = "litellm-dashboard";

/// A write the database refused because of the data (a duplicate, a reference to a row that
/// does not exist, a value out of range): the message, for a 400. `None` for other errors.
pub fn violation(e: &StoreError) -> Option<String> {
    let StoreError::Query { source, .. } = e else {
        return None;
    };
    let db = source.as_db_error()?;
    // Class 22 (data exception) and 23 (integrity constraint violation).
    let code = db.code().code();
    if !(code.starts_with("22") || code.starts_with("23")) {
        return None;
    }
    Some(match db.detail() {
        Some(detail) => format!("{} ({detail})", db.message()),
        None => db.message().to_string(),
    })
}

/// `"a", "b"` for the fields' columns.
pub(crate) fn column_list(fields: &[fields::Field]) -> String {
    fields
        .iter()
        .map(|f| format!("\"{}\"", f.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `r."a", r."b"`.
pub(crate) fn value_list(fields: &[fields::Field], alias: &str) -> String {
    fields
        .iter()
        .map(|f| format!("{alias}.\"{}\"", f.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `"a" = r."a", "b" = r."b"`.
pub(crate) fn assignments(fields: &[fields::Field], alias: &str) -> String {
    fields
        .iter()
        .map(|f| format!("\"{0}\" = {alias}.\"{0}\"", f.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Prepares (cached) and classifies the failure.
pub(crate) async fn prepare(
    c: &impl GenericClient,
    sql: &str,
    doing: &'static str,
) -> Result<tokio_postgres::Statement, StoreError> {
    c.prepare_cached(sql)
        .await
        .map_err(|e| StoreError::query(doing, e))
}

/// One page: `LIMIT`/`OFFSET` for a 1-based page of `size` rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub page: i64,
    pub size: i64,
}

impl Page {
    pub fn offset(self) -> i64 {
        (self.page.max(1) - 1).saturating_mul(self.size)
    }

    /// Ceiling division, as LiteLLM's `-(-total // size)`.
    pub fn total_pages(self, total: i64) -> i64 {
        if self.size <= 0 {
            0
        } else {
            (total + self.size - 1) / self.size
        }
    }
}

/// A sort column (from a fixed list, so it may be spliced into SQL) and direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub column: &'static str,
    pub descending: bool,
}

impl Sort {
    pub(crate) fn sql(self) -> String {
        format!(
            "\"{}\" {}",
            self.column,
            if self.descending { "DESC" } else { "ASC" }
        )
    }
}
