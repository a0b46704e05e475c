//! Budgets that hold under concurrency: a request reserves its worst-case cost against every
//! budget it is charged to (key, user, team) before it is sent, and settles with its real cost
//! when the response ends (streams included, cancelled and failed calls settle at 0).
//!
//! Checking `spend < max_budget` alone (LiteLLM) lets every concurrent request through until
//! the first one is charged. With reservations, `spend + outstanding reservations` never passes
//! the budget, on any number of workers and instances sharing Redis; a budget ends at most one
//! request's estimate error (real cost above the estimate) past its limit.
//!
//! The worst case is the prompt (estimated from its size) at the input price plus the
//! request's `max_tokens` / `max_completion_tokens` (else `HAIMAKER_RESERVE_MAX_TOKENS`, default
//! [`DEFAULT_RESERVE_MAX_TOKENS`]) at the output price, on the group's most expensive
//! deployment.
//!
//! Without Redis, or while it is down, the budget check is this process's view only (the spend
//! as last read plus what this worker charged since); the costs of such calls are still added
//! to the shared spend once Redis is back, so it stays in step with the database.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use haimaker_cache::BudgetEntity;
use haimaker_pricing::{PriceMap, TokenUsage};
use haimaker_router::{Group, Router};
use haimaker_store::keys::KeyRecord;
use http::StatusCode;

use super::request::LlmRequest;
use super::route::CallType;
use crate::error::ProxyError;
use crate::shared::leases::{BudgetSlot, Denied};
use crate::shared::{Shared, Write};

/// Completion tokens assumed for a request that does not cap them.
pub const DEFAULT_RESERVE_MAX_TOKENS: u64 = 4096;

/// A request's budget reservation (or, while Redis is down, a cost to record once it is back):
/// settled when dropped with the cost given to [`BudgetHold::charge`] (0 if none was: a failed
/// or cancelled call costs nothing).
#[derive(Debug)]
pub enum BudgetHold {
    Reserved(BudgetSlot),
    Unreserved {
        shared: Arc<Shared>,
        entities: Vec<String>,
        /// The call's cost, as f64 bits.
        cost: AtomicU64,
    },
}

impl BudgetHold {
    /// Records the call's real cost (settled on drop).
    pub fn charge(&self, cost: f64) {
        match self {
            Self::Reserved(slot) => slot.charge(cost),
            Self::Unreserved { cost: bits, .. } => {
                if cost.is_finite() && cost >= 0.0 {
                    bits.store(cost.to_bits(), Ordering::Relaxed);
                }
            }
        }
    }
}

impl Drop for BudgetHold {
    fn drop(&mut self) {
        if let Self::Unreserved {
            shared,
            entities,
            cost,
        } = self
        {
            let actual = f64::from_bits(cost.load(Ordering::Relaxed));
            if actual > 0.0 {
                shared.apply(Write::Settle {
                    entities: std::mem::take(entities),
                    estimate: 0.0,
                    actual,
                });
            }
        }
    }
}

/// Reserves `worst_case()` against the key's, user's and team's budgets (those that have one).
/// `spends` are the key's, user's and team's spend as this process knows them (seeds the
/// shared figure the first time an entity is seen). `None`: no budget to hold, or no Redis.
pub async fn hold(
    shared: Option<&Arc<Shared>>,
    record: &KeyRecord,
    spends: [f64; 3],
    worst_case: &(dyn Fn() -> f64 + Sync),
) -> Result<Option<BudgetHold>, ProxyError> {
    let Some(shared) = shared else {
        return Ok(None);
    };
    let mut entities = Vec::new();
    if let Some(max) = record.max_budget {
        entities.push(BudgetEntity {
            id: format!("key:{}", record.token),
            max_budget: Some(max),
            db_spend: spends[0],
        });
    }
    if let Some(user) = &record.user
        && let Some(max) = user.max_budget
    {
        entities.push(BudgetEntity {
            id: format!("user:{}", user.user_id),
            max_budget: Some(max),
            db_spend: spends[1],
        });
    }
    if let Some(team) = &record.team
        && let Some(max) = team.max_budget
    {
        entities.push(BudgetEntity {
            id: format!("team:{}", team.team_id),
            max_budget: Some(max),
            db_spend: spends[2],
        });
    }
    if entities.is_empty() {
        return Ok(None);
    }
    let unreserved = |entities: &[BudgetEntity]| BudgetHold::Unreserved {
        shared: Arc::clone(shared),
        entities: entities.iter().map(|e| e.id.clone()).collect(),
        cost: AtomicU64::new(0),
    };
    if !shared.redis.is_up() {
        return Ok(Some(unreserved(&entities)));
    }
    let estimate = worst_case();
    match shared.leases.reserve(shared, &entities, estimate).await {
        Ok(slot) => Ok(Some(BudgetHold::Reserved(slot))),
        Err(Denied::OverBudget { index, live }) => {
            let entity = entities.get(index).map_or("", |e| e.id.as_str());
            let max = entities
                .get(index)
                .and_then(|e| e.max_budget)
                .unwrap_or(0.0);
            Err(refused(entity, live, max, estimate))
        }
        Err(Denied::Unavailable | Denied::Refused { .. }) => Ok(Some(unreserved(&entities))),
    }
}

/// LiteLLM's budget messages, with what is reserved by calls in flight made explicit.
fn refused(entity: &str, live: f64, max: f64, estimate: f64) -> ProxyError {
    let in_flight =
        format!(" (includes calls in flight; this call could cost up to {estimate:.6})");
    let message = match entity.split_once(':') {
        Some(("user", id)) => {
            format!("ExceededBudget: User={id} over budget. Spend={live}, Budget={max}{in_flight}")
        }
        Some(("team", id)) => format!(
            "Budget has been exceeded! Team={id} Current cost: {live}, Max budget: {max}{in_flight}"
        ),
        _ => {
            format!("Budget has been exceeded! Current cost: {live}, Max budget: {max}{in_flight}")
        }
    };
    ProxyError::new(StatusCode::TOO_MANY_REQUESTS, "budget_exceeded", message)
}

/// The most `request` can cost on any deployment of `group`.
pub fn worst_case(
    router: &Router,
    group: &Group<'_>,
    request: &LlmRequest,
    prices: &PriceMap,
    default_max_tokens: u64,
) -> f64 {
    let usage = TokenUsage {
        prompt_tokens: request.estimated_input_tokens(),
        completion_tokens: if request.call != CallType::Embedding {
            request.max_output_tokens().unwrap_or(default_max_tokens)
        } else {
            0
        },
        cached_prompt_tokens: 0,
        cache_creation_tokens: 0,
    };
    group
        .members
        .iter()
        .filter_map(|i| router.deployment(*i))
        .map(|d| d.target(group.requested, prices).prices.cost(&usage))
        .filter(|c| c.is_finite())
        .fold(0.0, f64::max)
}
