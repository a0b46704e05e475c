//! Charging a call: the spend-log row and the entity increments of a successful call (queued in
//! the spend buffer, never awaited), and the error-log row of a failed one. (Tokens counted
//! against tpm limits go through the admission's permit.)

use std::sync::Arc;
use std::time::SystemTime;

use haimaker_openai::Usage;
use haimaker_store::spend::{ErrorRecord, SpendRecord};
use serde_json::json;

use super::RequestCtx;
use super::auth::Caller;
use super::request::LlmRequest;
use super::route::CallType;
use crate::db::DbLayer;
use crate::error::ProxyError;

/// Where a call went, as the spend log names it.
#[derive(Debug, Clone)]
pub struct Billed<'a> {
    pub model: &'a str,
    pub model_id: &'a str,
    pub model_group: &'a str,
    pub provider: &'a str,
    pub api_base: &'a str,
}

/// Everything known before the call; completed by [`Charge::success`] or [`Charge::failure`].
#[derive(Debug)]
pub struct Charge {
    db: Arc<DbLayer>,
    record: SpendRecord,
}

impl Charge {
    /// `None` without a database: nothing to charge.
    pub fn new(
        db: Option<&Arc<DbLayer>>,
        ctx: &RequestCtx,
        caller: &Caller,
        request: &LlmRequest,
    ) -> Option<Self> {
        let db = Arc::clone(db.filter(|db| db.spend_updates)?);
        let (api_key, user, team_id, alias) = match caller {
            Caller::Key(key) => (
                key.record.token.clone(),
                key.record.user_id.clone(),
                key.record.team_id.clone(),
                key.record.key_alias.clone(),
            ),
            Caller::Unverified(token) => (token.clone(), None, None, None),
            Caller::Admin => (
                db.master_api_key.clone(),
                Some("default_user_id".to_string()),
                None,
                None,
            ),
            Caller::Open => (String::new(), None, None, None),
        };
        let record = SpendRecord {
            request_id: ctx.call_id.clone(),
            call_type: match request.call {
                CallType::Chat => "acompletion",
                CallType::Completion => "atext_completion",
                CallType::Embedding => "aembedding",
                CallType::Messages => "anthropic_messages",
            }
            .to_string(),
            api_key,
            spend: 0.0,
            prompt_tokens: 0,
            completion_tokens: 0,
            start_time: ctx.started_at,
            end_time: ctx.started_at,
            completion_start_time: None,
            model: String::new(),
            model_id: String::new(),
            model_group: String::new(),
            custom_llm_provider: String::new(),
            api_base: String::new(),
            user,
            team_id: team_id.clone(),
            end_user: request.body.str_field("user").ok().flatten(),
            requester_ip_address: ctx.peer.map(|p| p.ip().to_string()),
            metadata: json!({
                "user_api_key_alias": alias,
                "user_api_key_team_id": team_id,
                "haimaker": true,
            }),
            cache_hit: false,
            cache_key: None,
        };
        Some(Self { db, record })
    }

    /// Charges a successful call.
    pub fn success(
        mut self,
        billed: &Billed<'_>,
        usage: Option<&Usage>,
        cost: f64,
        completion_start: Option<SystemTime>,
    ) {
        let r = &mut self.record;
        r.spend = cost;
        if let Some(u) = usage {
            r.prompt_tokens = i32::try_from(u.prompt()).unwrap_or(i32::MAX);
            r.completion_tokens = i32::try_from(u.completion()).unwrap_or(i32::MAX);
        }
        r.end_time = SystemTime::now();
        r.completion_start_time = completion_start.or(Some(r.end_time));
        r.model = billed.model.to_string();
        r.model_id = billed.model_id.to_string();
        r.model_group = billed.model_group.to_string();
        r.custom_llm_provider = billed.provider.to_string();
        r.api_base = billed.api_base.to_string();
        self.db.spend.push(self.record, &self.db.ledger);
    }

    /// Charges a call answered from the response cache: spend 0, `cache_hit` "True" and the key
    /// in the spend log, the cached response's token counts for the record. Nothing is added to
    /// the key's tpm count: no upstream tokens were used.
    pub fn cache_hit(
        mut self,
        model: &str,
        model_group: &str,
        cache_key: &str,
        usage: Option<&Usage>,
    ) {
        let r = &mut self.record;
        r.spend = 0.0;
        if let Some(u) = usage {
            r.prompt_tokens = i32::try_from(u.prompt()).unwrap_or(i32::MAX);
            r.completion_tokens = i32::try_from(u.completion()).unwrap_or(i32::MAX);
        }
        r.end_time = SystemTime::now();
        r.completion_start_time = Some(r.end_time);
        r.model = model.to_string();
        r.model_group = model_group.to_string();
        r.cache_hit = true;
        r.cache_key = Some(cache_key.to_string());
        self.db.spend.push(self.record, &self.db.ledger);
    }

    /// Records a failed call in the error logs (upstream failures only, as LiteLLM).
    pub fn failure(self, error: &ProxyError, model_group: &str, model_id: &str) {
        if error.class.is_none() {
            return;
        }
        self.db.spend.push_error(ErrorRecord {
            request_id: self.record.request_id.clone(),
            start_time: self.record.start_time,
            end_time: SystemTime::now(),
            api_base: String::new(),
            model_group: model_group.to_string(),
            litellm_model_name: String::new(),
            model_id: model_id.to_string(),
            exception_type: error.error_type.to_string(),
            exception_string: error.message.clone(),
            status_code: error.status.as_u16().to_string(),
        });
    }
}
