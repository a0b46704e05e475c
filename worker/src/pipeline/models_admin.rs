//! `/model/new`, `/model/update`, `/model/delete` (reference section 4.3): stored models with
//! their string parameters encrypted; this worker reloads at once, the others within a sync
//! interval.

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{Map, Value, json};

use super::Body;
use super::auth::Caller;
use super::respond;
use super::route::AdminRoute;
use crate::error::ProxyError;
use crate::state::AppState;

pub async fn handle(
    state: &AppState,
    caller: &Caller,
    route: AdminRoute,
    body: &[u8],
) -> Result<Response<Body>, ProxyError> {
    if !caller.is_admin() {
        return Err(super::auth::not_admin(caller, route.path()));
    }
    let (Some(store), Some(db)) = (state.models.as_ref(), state.db.as_ref()) else {
        return Err(ProxyError::bad_request(
            "Set `'STORE_MODEL_IN_DB='True'` in your env (or general_settings.store_model_in_db: true) and configure a database to enable this feature.",
        ));
    };
    if store.salt().is_none() {
        return Err(ProxyError::internal(
            "Please set LITELLM_SALT_KEY (or a master key): stored model credentials are encrypted with it",
        ));
    }
    let body: Map<String, Value> = serde_json::from_slice(body)
        .map_err(|e| ProxyError::bad_request(format!("request body must be a JSON object: {e}")))?;
    let client = db.db.conn().await.map_err(db_error)?;
    let by = match caller {
        Caller::Key(key) => key.record.user_id.clone().unwrap_or_default(),
        _ => "default_user_id".to_string(),
    };
    let answer = match route {
        AdminRoute::ModelNew => {
            let model_name = str_field(&body, "model_name")?;
            let params =
                object_field(&body, "litellm_params")?.ok_or_else(|| missing("litellm_params"))?;
            let info = object_field(&body, "model_info")?.unwrap_or_default();
            let model_id = info
                .get("id")
                .and_then(Value::as_str)
                .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string);
            let deployment =
                crate::models::parse_entry(&model_name, params.clone(), info.clone(), "request")
                    .map_err(ProxyError::bad_request)?;
            let stored = haimaker_store::models::StoredModel {
                model_id: model_id.clone(),
                model_name: model_name.clone(),
                litellm_params: store.encrypt(&params).unwrap_or(Value::Null),
                model_info: Some(Value::Object(info)),
            };
            haimaker_store::models::insert(&client, &stored, &by)
                .await
                .map_err(db_error)?;
            super::alerts::model_added(
                state,
                &model_name,
                params.get("model").and_then(Value::as_str).unwrap_or(""),
            );
            json!({
                "model_id": model_id,
                "model_name": model_name,
                "litellm_params": Value::Object(deployment.litellm_params.public_params),
                "model_info": stored.model_info,
            })
        }
        AdminRoute::ModelUpdate => {
            let info = object_field(&body, "model_info")?;
            let model_id = body
                .get("model_id")
                .or_else(|| info.as_ref().and_then(|i| i.get("id")))
                .and_then(Value::as_str)
                .ok_or_else(|| missing("model_id"))?
                .to_string();
            let existing = haimaker_store::models::get(&client, &model_id)
                .await
                .map_err(db_error)?
                .ok_or_else(|| {
                    ProxyError::not_found(format!("Model with id={model_id} not found in db"))
                })?;
            let current = store
                .to_deployment(&existing)
                .map_err(ProxyError::internal)?;
            // Overlay the new params on the decrypted old ones.
            let mut params = decrypted(store, &existing);
            if let Some(update) = object_field(&body, "litellm_params")? {
                params.extend(update);
            }
            let model_name = body
                .get("model_name")
                .and_then(Value::as_str)
                .map_or_else(|| current.model_name.clone(), str::to_string);
            let info = info
                .or_else(|| {
                    existing
                        .model_info
                        .as_ref()
                        .and_then(Value::as_object)
                        .cloned()
                })
                .unwrap_or_default();
            let deployment =
                crate::models::parse_entry(&model_name, params.clone(), info.clone(), "request")
                    .map_err(ProxyError::bad_request)?;
            let stored = haimaker_store::models::StoredModel {
                model_id: model_id.clone(),
                model_name: model_name.clone(),
                litellm_params: store.encrypt(&params).unwrap_or(Value::Null),
                model_info: Some(Value::Object(info)),
            };
            haimaker_store::models::update(&client, &stored, &by)
                .await
                .map_err(db_error)?;
            json!({
                "model_id": model_id,
                "model_name": model_name,
                "litellm_params": Value::Object(deployment.litellm_params.public_params),
                "model_info": stored.model_info,
            })
        }
        AdminRoute::ModelDelete => {
            let model_id = str_field(&body, "id")?;
            if !haimaker_store::models::delete(&client, &model_id)
                .await
                .map_err(db_error)?
            {
                return Err(ProxyError::not_found(format!(
                    "Model with id={model_id} not found in db"
                )));
            }
            json!({"message": format!("Model: {model_id} deleted successfully")})
        }
        _ => return Err(ProxyError::internal("not a model route")),
    };
    drop(client);
    if let Err(e) = store.sync(state, db, true).await {
        tracing::warn!(target: "haimaker::models", error = %e, "stored model saved; this worker will pick it up on the next sync");
    }
    Ok(respond::json(
        StatusCode::OK,
        Bytes::from(answer.to_string()),
    ))
}

fn decrypted(
    store: &crate::models::ModelStore,
    model: &haimaker_store::models::StoredModel,
) -> Map<String, Value> {
    let mut params = model
        .litellm_params
        .as_object()
        .cloned()
        .unwrap_or_default();
    if let Some(salt) = store.salt() {
        for value in params.values_mut() {
            if let Value::String(s) = value
                && let Ok(plain) = haimaker_crypto::decrypt(salt, s)
            {
                *s = plain;
            }
        }
    }
    params
}

fn str_field(body: &Map<String, Value>, name: &str) -> Result<String, ProxyError> {
    body.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| missing(name))
}

fn object_field(
    body: &Map<String, Value>,
    name: &str,
) -> Result<Option<Map<String, Value>>, ProxyError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map.clone())),
        Some(_) => {
            Err(ProxyError::bad_request(format!("`{name}` must be an object")).with_param(name))
        }
    }
}

fn missing(name: &str) -> ProxyError {
    ProxyError::bad_request(format!("`{name}` is required")).with_param(name)
}

fn db_error(e: haimaker_store::StoreError) -> ProxyError {
    if e.is_unavailable() {
        ProxyError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_db_connection",
            format!("the database is unreachable: {e}"),
        )
    } else {
        ProxyError::internal(e.to_string())
    }
}
