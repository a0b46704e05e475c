//! Budgets across workers and instances: reserve the worst-case cost at admission, settle with the real
//! cost at the end.
//!
//! Checking `spend < max_budget` alone lets every concurrent request through until the first one
//! finishes (LiteLLM's behaviour: budgets overshoot under load). Here each admitted request holds its
//! estimate until it settles, so `spend + reserved` never exceeds the budget whatever the concurrency.
//!
//! Live spend is seeded from the database the first time an entity is seen (`SET NX`), then moves with
//! every settlement; the database still receives the same costs through the workers' batch writes.
//!
//! A process that dies mid-request leaves its reservation behind; the reserved counter expires once the
//! entity has been idle for [`RESERVED_TTL`] (or shrinks back as the survivors settle), so such a leak
//! is bounded. Callers settle from a drop guard, so a panicking handler does not leak.

use std::time::Duration;

use fred::prelude::KeysInterface;

use crate::scripts::{RESERVE, RESET_SPEND, SETTLE};
use crate::{Redis, RedisError};

/// Live spend is kept a day after its last use, then re-seeded from the database.
const SPEND_TTL: Duration = Duration::from_secs(86_400);
/// Outstanding reservations; refreshed by every reservation and settlement of the entity.
pub(crate) const RESERVED_TTL: Duration = Duration::from_secs(900);

/// One budget a request is charged to.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetEntity {
    /// `key:<hash>`, `user:<id>`, `team:<id>`, ...
    pub id: String,
    /// `None`: no limit, but the spend is still tracked.
    pub max_budget: Option<f64>,
    /// The spend the database knows, used only the first time the entity is seen.
    pub db_spend: f64,
}

/// The outcome of [`Redis::reserve`].
#[derive(Debug, Clone, PartialEq)]
pub struct Reservation {
    pub granted: bool,
    /// How much was reserved for every entity (0 when refused).
    pub amount: f64,
    /// The first entity (index into the `entities` given) whose budget refused, and its live spend
    /// (spend + outstanding reservations) in USD.
    pub refused: Option<(usize, f64)>,
}

impl Redis {
    /// Atomically, for every entity: live = spend + reserved; if any live + estimate > max_budget,
    /// refuse (saying which entity and its live spend) and change nothing; else add `estimate` to every
    /// entity's reserved amount.
    pub async fn reserve(
        &self,
        entities: &[BudgetEntity],
        estimate: f64,
    ) -> Result<Reservation, RedisError> {
        self.reserve_upto(entities, estimate, estimate).await
    }

    /// Reserves at least `min` and at most `want` for every entity at once (a chunk the caller hands
    /// out to several requests locally): `want` capped at 1/16 of the smallest room left, never
    /// below `min`; refuses (changing nothing) when an entity has no room for `min`. What is not
    /// used is given back with [`settle`](Self::settle) (`estimate` = the unused part, `actual` 0).
    pub async fn reserve_upto(
        &self,
        entities: &[BudgetEntity],
        min: f64,
        want: f64,
    ) -> Result<Reservation, RedisError> {
        if entities.is_empty() {
            return Ok(Reservation {
                granted: true,
                amount: want,
                refused: None,
            });
        }
        let mut keys = Vec::with_capacity(entities.len() * 2);
        let mut args = Vec::with_capacity(4 + entities.len() * 2);
        // Checked before clamping: `NAN.max(0.0)` is 0, which would hide the caller's bug.
        money(min, "estimate")?;
        money(want, "estimate")?;
        let min = min.max(0.0);
        args.push(money(min, "estimate")?);
        args.push(money(want.max(min), "estimate")?);
        args.push(SPEND_TTL.as_secs().to_string());
        args.push(RESERVED_TTL.as_secs().to_string());
        for entity in entities {
            keys.push(self.spend_key(&entity.id));
            keys.push(self.reserved_key(&entity.id));
            args.push(match entity.max_budget {
                Some(max) => money(max, "max_budget")?,
                None => String::new(),
            });
            args.push(money(entity.db_spend, "db_spend")?);
        }
        let reply: Vec<String> = self
            .run(|c| async move { RESERVE.run(&c, keys, args).await })
            .await?;
        match reply.as_slice() {
            [granted, amount] if granted == "1" => Ok(Reservation {
                granted: true,
                amount: amount.parse().map_err(|_| bad_reply(&reply))?,
                refused: None,
            }),
            [granted, index, live] if granted == "0" => {
                let index: usize = index.parse().map_err(|_| bad_reply(&reply))?;
                let live: f64 = live.parse().map_err(|_| bad_reply(&reply))?;
                Ok(Reservation {
                    granted: false,
                    amount: 0.0,
                    refused: Some((index.saturating_sub(1), live)),
                })
            }
            _ => Err(bad_reply(&reply)),
        }
    }

    /// Ends a reservation: reserved -= estimate, spend += actual, for every entity. Call once per
    /// request (idempotency is the caller's).
    pub async fn settle(
        &self,
        entity_ids: &[String],
        estimate: f64,
        actual: f64,
    ) -> Result<(), RedisError> {
        if entity_ids.is_empty() {
            return Ok(());
        }
        let mut keys = Vec::with_capacity(entity_ids.len() * 2);
        for id in entity_ids {
            keys.push(self.spend_key(id));
            keys.push(self.reserved_key(id));
        }
        money(estimate, "estimate")?;
        let args = vec![
            money(-estimate.max(0.0), "estimate")?,
            money(actual, "actual cost")?,
            SPEND_TTL.as_secs().to_string(),
            RESERVED_TTL.as_secs().to_string(),
        ];
        let _: i64 = self
            .run(|c| async move { SETTLE.run(&c, keys, args).await })
            .await?;
        Ok(())
    }

    /// After the database reset an entity's budget: its live spend goes to 0 (reservations stay).
    pub async fn reset_spend(&self, entity_ids: &[String]) -> Result<(), RedisError> {
        if entity_ids.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = entity_ids.iter().map(|id| self.spend_key(id)).collect();
        let args = vec![SPEND_TTL.as_secs().to_string()];
        let _: i64 = self
            .run(|c| async move { RESET_SPEND.run(&c, keys, args).await })
            .await?;
        Ok(())
    }

    /// The live spend Redis holds for each entity, settled costs only (reservations excluded); `None`
    /// when Redis does not know the entity (never reserved for, or idle for a day): the database's
    /// figure stands. For `x-litellm-key-spend` and the like.
    pub async fn spend(&self, entity_ids: &[String]) -> Result<Vec<Option<f64>>, RedisError> {
        if entity_ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = entity_ids.iter().map(|id| self.spend_key(id)).collect();
        let values: Vec<Option<String>> = self.run(|c| async move { c.mget(keys).await }).await?;
        Ok(values
            .into_iter()
            .map(|v| v.and_then(|s| s.parse::<f64>().ok()))
            .collect())
    }

    /// `P budget:<entity>:spend`
    fn spend_key(&self, id: &str) -> String {
        self.key(&format!("budget:{id}:spend"))
    }

    /// `P budget:<entity>:reserved`
    fn reserved_key(&self, id: &str) -> String {
        self.key(&format!("budget:{id}:reserved"))
    }
}

/// A float as Redis and Lua read it. Rust's `Display` for f64 is the shortest exact form and never uses
/// an exponent, which `INCRBYFLOAT` would reject. Not-a-number would poison the counters: refused.
fn money(v: f64, what: &str) -> Result<String, RedisError> {
    if v.is_finite() {
        // -0.0 prints as "-0", which INCRBYFLOAT accepts; keep it simple and canonical anyway.
        Ok(if v == 0.0 {
            "0".to_owned()
        } else {
            v.to_string()
        })
    } else {
        Err(RedisError::Other(format!(
            "{what} is not a finite number: {v}"
        )))
    }
}

fn bad_reply(reply: &[String]) -> RedisError {
    RedisError::Other(format!("reserve script returned {reply:?}"))
}
