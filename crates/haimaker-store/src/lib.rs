//! haimaker's Postgres layer: LiteLLM's tables (so an existing LiteLLM database keeps working),
//! haimaker's own migrations, and every query the gateway makes.
//!
//! All SQL lives in this crate. Table and column names are LiteLLM's (quoted: the names are
//! mixed case). The pool is deadpool-postgres over tokio-postgres, `database_connection_pool_limit`
//! connections per process.

pub mod admin;
pub mod budget;
pub mod db;
mod error;
pub mod keys;
pub mod migrate;
pub mod models;
pub mod reports;
pub mod spend;

pub use db::{Db, DbSettings};
pub use error::StoreError;
