//! End-to-end tests, one file per area of the gateway.

mod auth;
mod cli;
mod errors;
mod headers;
mod https;
mod logs;
mod proxy;
mod routing;
mod sdk;
mod streaming;
mod supervisor;
