//! Rate limits across workers and instances: rpm, tpm and parallel requests per scope.
//!
//! Fixed one-minute windows keyed by the UTC minute (like LiteLLM's limiter): simple, one key per
//! scope and minute, and exact across processes because the check and the count happen in one script.
//! The minute comes from this process's clock; pods are NTP-synced, so a skew only matters within a
//! few milliseconds of a minute boundary.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::scripts::{ADMIT, INCR_WITH_TTL, RELEASE};
use crate::{Redis, RedisError};

/// A window key outlives its minute, so a late `add_tokens` still lands and nothing lingers.
const WINDOW_TTL: Duration = Duration::from_secs(120);
/// In-flight counters normally go back to zero by themselves; this only frees the slots of a process
/// that died mid-request. Longer than any sane request, refreshed by every admission.
const PARALLEL_TTL: Duration = Duration::from_secs(600);

/// One set of limits a request counts against (a key, its user, its team, a model on a key...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitScope {
    /// Unique across scope kinds, e.g. `key:<hash>`, `user:<id>`, `team:<id>`.
    pub id: String,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub parallel: Option<u64>,
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Rpm,
    Tpm,
    Parallel,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rpm => "rpm",
            Self::Tpm => "tpm",
            Self::Parallel => "parallel",
        }
    }
}

/// What is left in the current minute for one scope (`None`: that limit is not set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Remaining {
    pub requests: Option<u64>,
    pub tokens: Option<u64>,
}

/// The outcome of [`Redis::admit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    pub allowed: bool,
    /// How many requests were granted (0 when refused; at most the `want` asked for).
    pub granted: u64,
    /// The first scope (index into the `scopes` given) that refused, and which limit.
    pub refused: Option<(usize, Refusal)>,
    /// Per scope, in order: what is left this minute (after this request when it was allowed).
    pub remaining: Vec<Remaining>,
    /// Seconds until the current window ends (`x-ratelimit-reset-*`, `retry-after`).
    pub reset_secs: u64,
}

impl Redis {
    /// Checks and counts one request against every scope at once: all pass -> every scope's request
    /// count (and, for scopes with a `parallel` limit, in-flight count) is incremented; any fails ->
    /// nothing is incremented.
    pub async fn admit(&self, scopes: &[LimitScope]) -> Result<Admitted, RedisError> {
        self.admit_at(scopes, 1, unix_now()).await
    }

    /// Like [`admit`](Self::admit) for up to `want` requests at once (a lease the caller hands out
    /// locally): grants the most every scope has room for, at least 1, or refuses. The requests
    /// count in this minute's window whether or not they are used; unused parallel slots must be
    /// given back with [`release_n`](Self::release_n).
    pub async fn lease(&self, scopes: &[LimitScope], want: u64) -> Result<Admitted, RedisError> {
        self.admit_at(scopes, want.max(1), unix_now()).await
    }

    /// Releases the parallel slots taken by [`admit`](Self::admit) (call once when the request ends,
    /// with the ids of the scopes that had a `parallel` limit: only those took a slot).
    pub async fn release(&self, scope_ids: &[String]) -> Result<(), RedisError> {
        self.release_n(scope_ids, 1).await
    }

    /// Releases `n` parallel slots in each scope (the unused part of a lease, or several ended
    /// requests at once).
    pub async fn release_n(&self, scope_ids: &[String], n: u64) -> Result<(), RedisError> {
        if scope_ids.is_empty() || n == 0 {
            return Ok(());
        }
        let keys: Vec<String> = scope_ids.iter().map(|id| self.parallel_key(id)).collect();
        let args = vec![n.to_string()];
        let _: i64 = self
            .run(|c| async move { RELEASE.run(&c, keys, args).await })
            .await?;
        Ok(())
    }

    /// Adds a finished call's tokens to each scope's tokens for the current minute.
    pub async fn add_tokens(&self, scope_ids: &[String], tokens: u64) -> Result<(), RedisError> {
        self.add_tokens_at(scope_ids, tokens, unix_now()).await
    }

    /// [`lease`](Self::lease) at a given time (unix seconds): tests move across minute boundaries.
    pub(crate) async fn admit_at(
        &self,
        scopes: &[LimitScope],
        want: u64,
        now: u64,
    ) -> Result<Admitted, RedisError> {
        let reset_secs = 60 - now % 60;
        if scopes.is_empty() {
            return Ok(Admitted {
                allowed: true,
                granted: want,
                refused: None,
                remaining: Vec::new(),
                reset_secs,
            });
        }
        let minute = now / 60;
        let mut keys = Vec::with_capacity(scopes.len() * 3);
        let mut args = Vec::with_capacity(2 + scopes.len() * 3);
        args.push(WINDOW_TTL.as_secs().to_string());
        args.push(PARALLEL_TTL.as_secs().to_string());
        args.push(want.to_string());
        for scope in scopes {
            keys.push(self.window_key(&scope.id, "req", minute));
            keys.push(self.window_key(&scope.id, "tok", minute));
            keys.push(self.parallel_key(&scope.id));
            for limit in [scope.rpm, scope.tpm, scope.parallel] {
                args.push(limit_arg(limit));
            }
        }
        let reply: Vec<i64> = self
            .run(|c| async move { ADMIT.run(&c, keys, args).await })
            .await?;
        parse_admit(&reply, scopes.len(), reset_secs)
    }

    pub(crate) async fn add_tokens_at(
        &self,
        scope_ids: &[String],
        tokens: u64,
        now: u64,
    ) -> Result<(), RedisError> {
        if scope_ids.is_empty() || tokens == 0 {
            return Ok(());
        }
        let minute = now / 60;
        let keys: Vec<String> = scope_ids
            .iter()
            .map(|id| self.window_key(id, "tok", minute))
            .collect();
        let args = vec![
            tokens.to_string(),
            WINDOW_TTL.as_millis().to_string(),
            "0".to_owned(),
        ];
        let _: Vec<i64> = self
            .run(|c| async move { INCR_WITH_TTL.run(&c, keys, args).await })
            .await?;
        Ok(())
    }

    /// `P limit:<scope>:<req|tok>:<minute>`
    fn window_key(&self, scope: &str, kind: &str, minute: u64) -> String {
        self.key(&format!("limit:{scope}:{kind}:{minute}"))
    }

    /// `P limit:<scope>:par`
    fn parallel_key(&self, scope: &str) -> String {
        self.key(&format!("limit:{scope}:par"))
    }
}

/// A limit above i64 cannot be compared in Lua doubles exactly anyway; it is "no limit" in practice.
fn limit_arg(limit: Option<u64>) -> String {
    match limit {
        Some(v) => v.min(i64::MAX as u64 / 2).to_string(),
        None => "-1".to_owned(),
    }
}

fn parse_admit(reply: &[i64], scopes: usize, reset_secs: u64) -> Result<Admitted, RedisError> {
    if reply.len() != 4 + 2 * scopes {
        return Err(RedisError::Other(format!(
            "admit script returned {} values for {scopes} scopes",
            reply.len()
        )));
    }
    let allowed = reply[0] == 1;
    let refused = match (reply[1], reply[2]) {
        (0, _) => None,
        (i, reason) => {
            let reason = match reason {
                1 => Refusal::Rpm,
                2 => Refusal::Tpm,
                3 => Refusal::Parallel,
                other => {
                    return Err(RedisError::Other(format!(
                        "admit script returned reason {other}"
                    )));
                }
            };
            Some((usize::try_from(i - 1).unwrap_or(0), reason))
        }
    };
    let left = |v: i64| u64::try_from(v).ok();
    let remaining = reply[4..]
        .chunks_exact(2)
        .map(|pair| Remaining {
            requests: left(pair[0]),
            tokens: left(pair[1]),
        })
        .collect();
    Ok(Admitted {
        allowed,
        granted: u64::try_from(reply[3]).unwrap_or(0),
        refused,
        remaining,
        reset_secs,
    })
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
