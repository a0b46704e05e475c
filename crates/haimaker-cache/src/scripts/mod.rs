//! The Lua scripts, and how they are sent.
//!
//! Each script runs atomically on the server, so a check and the writes that depend on it cannot
//! interleave with another worker's (that is what makes limits and budgets exact across processes).
//! Every key is passed in `KEYS[]`, never built inside a script. A script is sent as `EVALSHA` (the
//! 40-byte hash, computed once per process); after a Redis restart or `SCRIPT FLUSH` the server answers
//! `NOSCRIPT` and the script is sent once as `EVAL`, which also caches it again.

mod budget;
mod limits;
mod routing;

pub(crate) use budget::{RESERVE, RESET_SPEND, SETTLE};
pub(crate) use limits::{ADMIT, INCR_WITH_TTL, RELEASE};
pub(crate) use routing::{LATENCIES, PTTLS, RECORD_LATENCY};

use std::sync::OnceLock;

use fred::prelude::{Client, Error as FredError, FromValue, LuaInterface};
use fred::types::scripts::Script;

/// A Lua script with its lazily computed SHA-1.
pub(crate) struct LuaScript {
    lua: &'static str,
    sha: OnceLock<String>,
}

impl LuaScript {
    pub(crate) const fn new(lua: &'static str) -> Self {
        Self {
            lua,
            sha: OnceLock::new(),
        }
    }

    fn sha(&self) -> &str {
        self.sha
            .get_or_init(|| Script::from_lua(self.lua).sha1().to_string())
    }

    /// `EVALSHA`, falling back to `EVAL` when the server does not know the script.
    pub(crate) async fn run<R: FromValue>(
        &self,
        client: &Client,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<R, FredError> {
        match client
            .evalsha::<R, _, _, _>(self.sha(), keys.clone(), args.clone())
            .await
        {
            Err(e) if e.details().starts_with("NOSCRIPT") => {
                client.eval(self.lua, keys, args).await
            }
            other => other,
        }
    }
}
