//! `/key/list` and `/key/delete`.

use bytes::Bytes;
use haimaker_store::StoreError;
use haimaker_store::admin::Page;
use haimaker_store::admin::fields;
use haimaker_store::admin::keys::{self as store, DeletedBy, Filter};
use http::Response;
use serde_json::{Value, json};

use super::super::Body;
use super::common::{
    Cx, Query, bad_request, db_error, field_error, not_found, object, ok, sort, token_of,
};
use crate::error::ProxyError;

/// `GET /key/list` -> `{"keys": [hashes, or rows with return_full_object], "total_count",
/// "current_page", "total_pages"}`, newest first.
pub async fn list(cx: &Cx<'_>, query: &Query) -> Result<Response<Body>, ProxyError> {
    let page = Page {
        page: query.int("page", 1, 1, i64::from(i32::MAX))?,
        size: query.int("size", 10, 1, 100)?,
    };
    let filter = Filter {
        user_id: query.get("user_id"),
        team_id: query.get("team_id"),
        key_alias: query.get("key_alias"),
        key_hash: query.get("key_hash"),
        organization_id: query.get("organization_id"),
        include_created_by: query.flag("include_created_by_keys", false)?,
    };
    let full = query.flag("return_full_object", false)?;
    let sort = sort(query, store::SORTABLE, "desc")?;
    let client = cx.conn().await?;
    let (rows, total) = store::list(&client, &filter, page, sort)
        .await
        .map_err(db_error)?;
    let keys: Vec<Value> = if full {
        rows
    } else {
        rows.into_iter().map(|r| r["token"].clone()).collect()
    };
    Ok(ok(&json!({
        "keys": keys,
        "total_count": total,
        "current_page": page.page,
        "total_pages": page.total_pages(total),
    })))
}

/// `POST /key/delete` `{"keys": [...]}` (keys or hashes) or `{"key_aliases": [...]}` ->
/// `{"deleted_keys": <as passed>}`. 404 when none of them exists. Deleted rows are copied to
/// `LiteLLM_DeletedVerificationToken`.
pub async fn delete(cx: &Cx<'_>, body: &Bytes) -> Result<Response<Body>, ProxyError> {
    let body = object(body, false)?;
    let keys = fields::opt_strings(&body, "keys")
        .map_err(field_error)?
        .unwrap_or_default();
    let aliases = fields::opt_strings(&body, "key_aliases")
        .map_err(field_error)?
        .unwrap_or_default();
    let (passed, tokens, alias_list) = if !keys.is_empty() {
        let tokens: Vec<String> = keys.iter().map(|k| token_of(k)).collect();
        (keys, tokens, Vec::new())
    } else if !aliases.is_empty() {
        (aliases.clone(), Vec::new(), aliases)
    } else {
        return Err(bad_request(
            "keys",
            "At least one of 'keys' or 'key_aliases' must be provided.",
        ));
    };
    let mut client = cx.conn().await?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| db_error(StoreError::query("starting a transaction", e)))?;
    let found = store::existing(&tx, &tokens, &alias_list)
        .await
        .map_err(db_error)?;
    if found.is_empty() {
        return Err(not_found(
            if tokens.is_empty() {
                "key_aliases"
            } else {
                "keys"
            },
            "No keys found",
        ));
    }
    let actor = cx.actor();
    let actor_key = cx.actor_key();
    let by = DeletedBy {
        user_id: actor.as_deref(),
        api_key: actor_key.as_deref(),
    };
    let deleted = store::delete(&tx, &found, by).await.map_err(db_error)?;
    tx.commit()
        .await
        .map_err(|e| db_error(StoreError::query("committing the key delete", e)))?;
    for token in &deleted {
        cx.key_changed(token).await;
    }
    Ok(ok(&json!({"deleted_keys": passed})))
}
