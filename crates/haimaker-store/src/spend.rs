//! Writing spend: one statement per batch that inserts the spend-log rows and adds their cost
//! to the key, user, team, team membership and end user, idempotent by request id.
//!
//! Idempotency: the rows go into `LiteLLM_SpendLogs` (or, with `disable_spend_logs`, into
//! haimaker's `haimaker.spend_applied` ledger) with `ON CONFLICT (request_id) DO NOTHING
//! RETURNING`, and only the rows actually inserted are added to the entities, in the same
//! statement. A flush retried after a commit whose acknowledgement was lost adds nothing twice.

use std::time::SystemTime;

use serde_json::Value;

use crate::error::StoreError;

/// One successful (or cached) call, as it is charged. Serializable so a worker can spool it to
/// disk when it must exit while the database is down.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpendRecord {
    pub request_id: String,
    /// LiteLLM's call type: `acompletion`, `atext_completion`, `aembedding`.
    pub call_type: String,
    /// The key's hash (`LiteLLM_VerificationToken.token`), or `litellm_proxy_master_key`.
    pub api_key: String,
    pub spend: f64,
    pub prompt_tokens: i32,
    pub completion_tokens: i32,
    pub start_time: SystemTime,
    pub end_time: SystemTime,
    pub completion_start_time: Option<SystemTime>,
    /// The model name the provider was called with.
    pub model: String,
    pub model_id: String,
    pub model_group: String,
    pub custom_llm_provider: String,
    pub api_base: String,
    /// The key's `user_id` (LiteLLM's `user` column).
    pub user: Option<String>,
    pub team_id: Option<String>,
    /// The request body's `user` (LiteLLM's end user).
    pub end_user: Option<String>,
    pub requester_ip_address: Option<String>,
    pub metadata: Value,
    pub cache_hit: bool,
    pub cache_key: Option<String>,
}

/// One failed LLM call, for `LiteLLM_ErrorLogs`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ErrorRecord {
    pub request_id: String,
    pub start_time: SystemTime,
    pub end_time: SystemTime,
    pub api_base: String,
    pub model_group: String,
    pub litellm_model_name: String,
    pub model_id: String,
    pub exception_type: String,
    pub exception_string: String,
    pub status_code: String,
}

/// How many rows one statement carries (keeps parameter arrays moderate).
const CHUNK: usize = 5_000;

/// The insert-and-charge statement; `{ledger}` is either the spend-log insert or the ledger
/// insert, both returning the inserted request ids.
const CHARGE: &str = r#"
WITH input AS (
    SELECT * FROM unnest(
        $1::text[], $2::text[], $3::text[], $4::float8[], $5::int4[], $6::int4[],
        $7::timestamp[], $8::timestamp[], $9::timestamp[], $10::text[], $11::text[], $12::text[],
        $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::jsonb[],
        $20::text[], $21::text[]
    ) AS t(request_id, call_type, api_key, spend, prompt_tokens, completion_tokens,
           start_time, end_time, completion_start_time, model, model_id, model_group,
           custom_llm_provider, api_base, "user", team_id, end_user, requester_ip_address, metadata,
           cache_hit, cache_key)
),
inserted AS ({ledger}),
charged AS (
    SELECT i.* FROM input i JOIN inserted n ON n.request_id = i.request_id
),
keys AS (
    UPDATE "LiteLLM_VerificationToken" k
    SET spend = k.spend + c.total, total_spend = k.total_spend + c.total, last_active = now()
    FROM (SELECT api_key, sum(spend) AS total FROM charged GROUP BY api_key) c
    WHERE k.token = c.api_key
    RETURNING 1
),
users AS (
    UPDATE "LiteLLM_UserTable" u SET spend = u.spend + c.total
    FROM (SELECT "user", sum(spend) AS total FROM charged WHERE "user" IS NOT NULL GROUP BY "user") c
    WHERE u.user_id = c."user"
    RETURNING 1
),
teams AS (
    UPDATE "LiteLLM_TeamTable" t SET spend = t.spend + c.total
    FROM (SELECT team_id, sum(spend) AS total FROM charged WHERE team_id IS NOT NULL GROUP BY team_id) c
    WHERE t.team_id = c.team_id
    RETURNING 1
),
members AS (
    UPDATE "LiteLLM_TeamMembership" m
    SET spend = m.spend + c.total, total_spend = m.total_spend + c.total
    FROM (SELECT "user", team_id, sum(spend) AS total FROM charged
          WHERE "user" IS NOT NULL AND team_id IS NOT NULL GROUP BY "user", team_id) c
    WHERE m.user_id = c."user" AND m.team_id = c.team_id
    RETURNING 1
),
end_users AS (
    INSERT INTO "LiteLLM_EndUserTable" (user_id, spend)
    SELECT end_user, sum(spend) FROM charged
    WHERE end_user IS NOT NULL AND end_user <> '' GROUP BY end_user
    ON CONFLICT (user_id) DO UPDATE SET spend = "LiteLLM_EndUserTable".spend + EXCLUDED.spend
    RETURNING 1
)
SELECT (SELECT count(*) FROM inserted),
       (SELECT count(*) FROM keys) + (SELECT count(*) FROM users) + (SELECT count(*) FROM teams)
       + (SELECT count(*) FROM members) + (SELECT count(*) FROM end_users)
"#;

const SPEND_LOG_INSERT: &str = r#"
    INSERT INTO "LiteLLM_SpendLogs" (request_id, call_type, api_key, spend, total_tokens,
        prompt_tokens, completion_tokens, "startTime", "endTime", request_duration_ms,
        "completionStartTime", model, model_id, model_group, custom_llm_provider, api_base, "user",
        team_id, end_user, requester_ip_address, metadata, cache_hit, cache_key, status,
        litellm_call_id)
    SELECT request_id, call_type, api_key, spend, prompt_tokens + completion_tokens,
        prompt_tokens, completion_tokens, start_time, end_time,
        (extract(epoch FROM (end_time - start_time)) * 1000)::int4, completion_start_time, model,
        model_id, model_group, custom_llm_provider, api_base, coalesce("user", ''), team_id,
        end_user, requester_ip_address, metadata, cache_hit, coalesce(cache_key, ''), 'success',
        request_id
    FROM input
    ON CONFLICT (request_id) DO NOTHING
    RETURNING request_id
"#;

const LEDGER_INSERT: &str = r#"
    INSERT INTO haimaker.spend_applied (request_id)
    SELECT request_id FROM input
    ON CONFLICT (request_id) DO NOTHING
    RETURNING request_id
"#;

/// What a flush did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flushed {
    /// Rows newly charged (the rest had been charged by an earlier flush).
    pub charged: u64,
}

/// Charges `rows` in one transaction. With `spend_logs` false, no spend-log rows are written
/// (`disable_spend_logs`) but the charge is still idempotent.
pub async fn write_batch(
    client: &mut tokio_postgres::Client,
    rows: &[SpendRecord],
    spend_logs: bool,
) -> Result<Flushed, StoreError> {
    if rows.is_empty() {
        return Ok(Flushed::default());
    }
    let sql = CHARGE.replace(
        "{ledger}",
        if spend_logs {
            SPEND_LOG_INSERT
        } else {
            LEDGER_INSERT
        },
    );
    let tx = client
        .transaction()
        .await
        .map_err(|e| StoreError::query("starting the spend transaction", e))?;
    let statement = tx
        .prepare(&sql)
        .await
        .map_err(|e| StoreError::query("preparing the spend statement", e))?;
    let mut charged = 0;
    for chunk in rows.chunks(CHUNK) {
        let c = Columns::from(chunk);
        let row = tx
            .query_one(
                &statement,
                &[
                    &c.request_id,
                    &c.call_type,
                    &c.api_key,
                    &c.spend,
                    &c.prompt_tokens,
                    &c.completion_tokens,
                    &c.start_time,
                    &c.end_time,
                    &c.completion_start_time,
                    &c.model,
                    &c.model_id,
                    &c.model_group,
                    &c.custom_llm_provider,
                    &c.api_base,
                    &c.user,
                    &c.team_id,
                    &c.end_user,
                    &c.requester_ip_address,
                    &c.metadata,
                    &c.cache_hit,
                    &c.cache_key,
                ],
            )
            .await
            .map_err(|e| StoreError::query("writing spend", e))?;
        charged += u64::try_from(row.get::<_, i64>(0)).unwrap_or(0);
    }
    tx.commit()
        .await
        .map_err(|e| StoreError::query("committing spend", e))?;
    Ok(Flushed { charged })
}

/// The batch as column arrays (what `unnest` takes).
struct Columns {
    request_id: Vec<String>,
    call_type: Vec<String>,
    api_key: Vec<String>,
    spend: Vec<f64>,
    prompt_tokens: Vec<i32>,
    completion_tokens: Vec<i32>,
    start_time: Vec<SystemTime>,
    end_time: Vec<SystemTime>,
    completion_start_time: Vec<Option<SystemTime>>,
    model: Vec<String>,
    model_id: Vec<String>,
    model_group: Vec<String>,
    custom_llm_provider: Vec<String>,
    api_base: Vec<String>,
    user: Vec<Option<String>>,
    team_id: Vec<Option<String>>,
    end_user: Vec<Option<String>>,
    requester_ip_address: Vec<Option<String>>,
    metadata: Vec<Value>,
    cache_hit: Vec<String>,
    cache_key: Vec<Option<String>>,
}

impl From<&[SpendRecord]> for Columns {
    fn from(rows: &[SpendRecord]) -> Self {
        Self {
            request_id: rows.iter().map(|r| r.request_id.clone()).collect(),
            call_type: rows.iter().map(|r| r.call_type.clone()).collect(),
            api_key: rows.iter().map(|r| r.api_key.clone()).collect(),
            spend: rows.iter().map(|r| r.spend).collect(),
            prompt_tokens: rows.iter().map(|r| r.prompt_tokens).collect(),
            completion_tokens: rows.iter().map(|r| r.completion_tokens).collect(),
            start_time: rows.iter().map(|r| r.start_time).collect(),
            end_time: rows.iter().map(|r| r.end_time).collect(),
            completion_start_time: rows.iter().map(|r| r.completion_start_time).collect(),
            model: rows.iter().map(|r| r.model.clone()).collect(),
            model_id: rows.iter().map(|r| r.model_id.clone()).collect(),
            model_group: rows.iter().map(|r| r.model_group.clone()).collect(),
            custom_llm_provider: rows.iter().map(|r| r.custom_llm_provider.clone()).collect(),
            api_base: rows.iter().map(|r| r.api_base.clone()).collect(),
            user: rows.iter().map(|r| r.user.clone()).collect(),
            team_id: rows.iter().map(|r| r.team_id.clone()).collect(),
            end_user: rows.iter().map(|r| r.end_user.clone()).collect(),
            requester_ip_address: rows
                .iter()
                .map(|r| r.requester_ip_address.clone())
                .collect(),
            metadata: rows.iter().map(|r| r.metadata.clone()).collect(),
            // LiteLLM stores the Python bool as a string.
            cache_hit: rows
                .iter()
                .map(|r| if r.cache_hit { "True" } else { "False" }.to_string())
                .collect(),
            cache_key: rows.iter().map(|r| r.cache_key.clone()).collect(),
        }
    }
}

/// Writes failed calls to `LiteLLM_ErrorLogs` (idempotent by request id).
pub async fn write_errors(
    client: &tokio_postgres::Client,
    rows: &[ErrorRecord],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&ErrorRecord) -> String| rows.iter().map(f).collect::<Vec<String>>();
    let start: Vec<SystemTime> = rows.iter().map(|r| r.start_time).collect();
    let end: Vec<SystemTime> = rows.iter().map(|r| r.end_time).collect();
    client
        .execute(
            r#"INSERT INTO "LiteLLM_ErrorLogs" (request_id, "startTime", "endTime", api_base,
                   model_group, litellm_model_name, model_id, exception_type, exception_string,
                   status_code)
               SELECT * FROM unnest($1::text[], $2::timestamp[], $3::timestamp[], $4::text[],
                   $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
               ON CONFLICT (request_id) DO NOTHING"#,
            &[
                &col(|r| r.request_id.clone()),
                &start,
                &end,
                &col(|r| r.api_base.clone()),
                &col(|r| r.model_group.clone()),
                &col(|r| r.litellm_model_name.clone()),
                &col(|r| r.model_id.clone()),
                &col(|r| r.exception_type.clone()),
                &col(|r| r.exception_string.clone()),
                &col(|r| r.status_code.clone()),
            ],
        )
        .await
        .map_err(|e| StoreError::query("writing error logs", e))?;
    Ok(())
}

/// Upserts the master key's own row (so its spend is tracked), as LiteLLM does at start-up.
pub async fn upsert_master_key(
    client: &tokio_postgres::Client,
    token: &str,
) -> Result<(), StoreError> {
    client
        .execute(
            r#"INSERT INTO "LiteLLM_VerificationToken" (token, key_name, key_alias, user_id, models)
               VALUES ($1, 'sk-...master', 'litellm-master-key', 'default_user_id', ARRAY[]::text[])
               ON CONFLICT (token) DO NOTHING"#,
            &[&token],
        )
        .await
        .map_err(|e| StoreError::query("recording the master key", e))?;
    Ok(())
}
