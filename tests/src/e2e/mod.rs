//! End-to-end tests, one file per area of the gateway.

mod admin;
mod alerting;
mod auth;
mod cache;
mod cli;
mod deploy;
mod errors;
mod headers;
mod https;
mod litellm_db;
mod logs;
mod metrics;
mod providers_anthropic;
mod providers_azure;
mod providers_bedrock;
mod providers_common;
mod providers_gemini;
mod providers_messages;
mod proxy;
mod routing;
mod sdk;
mod shared;
mod spend;
mod streaming;
mod supervisor;
