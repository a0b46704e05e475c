//! End-to-end tests, one file per area of the gateway.

mod proxy;
