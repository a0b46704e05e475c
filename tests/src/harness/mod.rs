//! Test harness: start the gateway, fake the upstream, talk HTTP, wait on conditions.

pub mod client;
pub mod gateway;
pub mod mock;
pub mod wait;

pub use client::{Resp, get, post, post_stream, request};
pub use gateway::{Gateway, GatewayBuilder, haimaker_bin};
pub use mock::{MockUpstream, Reply, SseEnd, SseStep};
pub use wait::wait_until;
