//! End-to-end tests of haimaker: the real `haimaker` binary, started on port 0, against a mock
//! upstream in this crate (the only faked component). Build the binary first:
//! `cargo build -p haimaker` (the README's test command does).

// Test support code panics on purpose when the environment is wrong; that is its job.
#![allow(clippy::unwrap_used)]

pub mod harness;

#[cfg(test)]
mod e2e;
