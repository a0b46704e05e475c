//! Models stored in the database (`store_model_in_db`): `LiteLLM_ProxyModelTable`, whose
//! `litellm_params` string values are encrypted with the salt key (see `haimaker-crypto`).

use std::time::SystemTime;

use serde_json::Value;

use crate::error::StoreError;

/// One stored model, as stored (string params still encrypted).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredModel {
    pub model_id: String,
    pub model_name: String,
    pub litellm_params: Value,
    pub model_info: Option<Value>,
}

/// What changes when any stored model is added, changed or deleted (cheap to poll).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fingerprint {
    pub count: i64,
    pub last_update: Option<SystemTime>,
}

pub async fn fingerprint(client: &tokio_postgres::Client) -> Result<Fingerprint, StoreError> {
    let row = client
        .query_one(
            r#"SELECT count(*), max(updated_at) FROM "LiteLLM_ProxyModelTable" WHERE NOT blocked"#,
            &[],
        )
        .await
        .map_err(|e| StoreError::query("checking stored models", e))?;
    Ok(Fingerprint {
        count: row.get(0),
        last_update: row.get(1),
    })
}

pub async fn list(client: &tokio_postgres::Client) -> Result<Vec<StoredModel>, StoreError> {
    let rows = client
        .query(
            r#"SELECT model_id, model_name, litellm_params, model_info FROM "LiteLLM_ProxyModelTable"
               WHERE NOT blocked ORDER BY created_at, model_id"#,
            &[],
        )
        .await
        .map_err(|e| StoreError::query("reading stored models", e))?;
    Ok(rows
        .iter()
        .map(|r| StoredModel {
            model_id: r.get(0),
            model_name: r.get(1),
            litellm_params: r.get(2),
            model_info: r.get(3),
        })
        .collect())
}

pub async fn get(
    client: &tokio_postgres::Client,
    model_id: &str,
) -> Result<Option<StoredModel>, StoreError> {
    let row = client
        .query_opt(
            r#"SELECT model_id, model_name, litellm_params, model_info FROM "LiteLLM_ProxyModelTable"
               WHERE model_id = $1"#,
            &[&model_id],
        )
        .await
        .map_err(|e| StoreError::query("reading a stored model", e))?;
    Ok(row.map(|r| StoredModel {
        model_id: r.get(0),
        model_name: r.get(1),
        litellm_params: r.get(2),
        model_info: r.get(3),
    }))
}

pub async fn insert(
    client: &tokio_postgres::Client,
    model: &StoredModel,
    by: &str,
) -> Result<(), StoreError> {
    client
        .execute(
            r#"INSERT INTO "LiteLLM_ProxyModelTable"
                   (model_id, model_name, litellm_params, model_info, created_by, updated_by, updated_at)
               VALUES ($1, $2, $3, $4, $5, $5, now() AT TIME ZONE 'UTC')"#,
            &[&model.model_id, &model.model_name, &model.litellm_params, &model.model_info, &by],
        )
        .await
        .map_err(|e| StoreError::query("storing a model", e))?;
    Ok(())
}

/// Replaces a stored model; `false` if it does not exist.
pub async fn update(
    client: &tokio_postgres::Client,
    model: &StoredModel,
    by: &str,
) -> Result<bool, StoreError> {
    let n = client
        .execute(
            r#"UPDATE "LiteLLM_ProxyModelTable"
               SET model_name = $2, litellm_params = $3, model_info = $4, updated_by = $5,
                   updated_at = now() AT TIME ZONE 'UTC'
               WHERE model_id = $1"#,
            &[
                &model.model_id,
                &model.model_name,
                &model.litellm_params,
                &model.model_info,
                &by,
            ],
        )
        .await
        .map_err(|e| StoreError::query("updating a stored model", e))?;
    Ok(n > 0)
}

/// Deletes a stored model; `false` if it did not exist.
pub async fn delete(client: &tokio_postgres::Client, model_id: &str) -> Result<bool, StoreError> {
    let n = client
        .execute(
            r#"DELETE FROM "LiteLLM_ProxyModelTable" WHERE model_id = $1"#,
            &[&model_id],
        )
        .await
        .map_err(|e| StoreError::query("deleting a stored model", e))?;
    Ok(n > 0)
}
