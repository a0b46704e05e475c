//! Models stored in the database (`store_model_in_db`, or `STORE_MODEL_IN_DB=True`).
//!
//! Every string value of a stored model's `litellm_params` is encrypted with the salt key
//! (`LITELLM_SALT_KEY`, else the master key), in LiteLLM's formats. Each worker polls the table
//! (a count and the latest `updated_at`) every `HAIMAKER_MODEL_SYNC_MS` (2 s) and, when it
//! changed, rebuilds its router from the config's models plus the stored ones. Stored models go
//! through the same config loader as `config.yaml`, so they are validated the same way.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use haimaker_config::{Config, DeploymentConfig, ProcessEnv, Vars};
use haimaker_crypto::{Algorithm, SaltKey};
use haimaker_router::Router;
use haimaker_store::models::{Fingerprint, StoredModel};
use serde_json::{Map, Value, json};

use crate::db::DbLayer;
use crate::state::AppState;

const DEFAULT_SYNC: Duration = Duration::from_millis(2_000);

#[derive(Debug)]
pub struct ModelStore {
    base: Config,
    salt: Option<SaltKey>,
    algorithm: Algorithm,
    sync_every: Duration,
    last: tokio::sync::Mutex<Option<Fingerprint>>,
}

impl ModelStore {
    /// Present when stored models are on.
    pub fn new(
        config: &Config,
        master_key: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Option<Self> {
        let on = config.general_settings.store_model_in_db
            || env("STORE_MODEL_IN_DB").is_some_and(|v| {
                matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes")
            });
        if !on {
            return None;
        }
        let salt = env("LITELLM_SALT_KEY")
            .filter(|s| !s.is_empty())
            .or_else(|| master_key.map(str::to_string))
            .map(|s| SaltKey::new(&s));
        Some(Self {
            base: config.clone(),
            salt,
            algorithm: Algorithm::from_config(
                config.general_settings.encryption_algorithm.as_deref(),
            )
            .unwrap_or_default(),
            sync_every: env("HAIMAKER_MODEL_SYNC_MS")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|ms| *ms > 0)
                .map_or(DEFAULT_SYNC, Duration::from_millis),
            last: tokio::sync::Mutex::new(None),
        })
    }

    pub fn salt(&self) -> Option<&SaltKey> {
        self.salt.as_ref()
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Reloads if the table changed since the last look (or `force`). Returns whether the
    /// router was replaced.
    pub async fn sync(&self, state: &AppState, db: &DbLayer, force: bool) -> Result<bool, String> {
        let mut last = self.last.lock().await;
        let client = db.db.conn().await.map_err(|e| e.to_string())?;
        let now = haimaker_store::models::fingerprint(&client)
            .await
            .map_err(|e| e.to_string())?;
        if !force && *last == Some(now) {
            return Ok(false);
        }
        let stored = haimaker_store::models::list(&client)
            .await
            .map_err(|e| e.to_string())?;
        let mut config = self.base.clone();
        for model in &stored {
            match self.to_deployment(model) {
                Ok(d) => config.model_list.push(d),
                Err(e) => {
                    tracing::error!(target: "haimaker::models", model_id = %model.model_id, error = %e, "stored model skipped")
                }
            }
        }
        let env = ProcessEnv;
        state.replace_router(Router::new(&config, &|name| env.get(name)));
        *last = Some(now);
        tracing::info!(target: "haimaker::models", stored = stored.len(), "router rebuilt with the stored models");
        Ok(true)
    }

    /// A stored model as a deployment: params decrypted, then loaded like a config entry.
    pub fn to_deployment(&self, model: &StoredModel) -> Result<DeploymentConfig, String> {
        let mut params = model
            .litellm_params
            .as_object()
            .cloned()
            .unwrap_or_default();
        if let Some(salt) = &self.salt {
            for (key, value) in params.iter_mut() {
                if let Value::String(stored) = value {
                    match haimaker_crypto::decrypt(salt, stored) {
                        Ok(plain) => *stored = plain,
                        Err(e) => {
                            // As LiteLLM: an undecryptable value is dropped (the salt key
                            // probably changed), never used as is.
                            tracing::error!(target: "haimaker::models", model_id = %model.model_id, param = %key, error = %e, "could not decrypt a stored parameter: was LITELLM_SALT_KEY changed?");
                            *value = Value::Null;
                        }
                    }
                }
            }
        }
        params.retain(|_, v| !v.is_null());
        let mut info = model
            .model_info
            .as_ref()
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        info.insert("id".into(), Value::String(model.model_id.clone()));
        info.insert("db_model".into(), Value::Bool(true));
        parse_entry(
            &model.model_name,
            params,
            info,
            &format!("LiteLLM_ProxyModelTable {}", model.model_id),
        )
    }

    /// Encrypts every string value of `params` for storage.
    pub fn encrypt(&self, params: &Map<String, Value>) -> Option<Value> {
        let salt = self.salt.as_ref()?;
        let encrypted: Map<String, Value> = params
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => (
                    k.clone(),
                    Value::String(haimaker_crypto::encrypt(salt, self.algorithm, s)),
                ),
                other => (k.clone(), other.clone()),
            })
            .collect();
        Some(Value::Object(encrypted))
    }

    /// Starts the polling task.
    pub fn start(state: Arc<AppState>) {
        tokio::spawn(async move {
            loop {
                let (Some(store), Some(db)) = (state.models.as_ref(), state.db.as_ref()) else {
                    return;
                };
                let pause = store.sync_every;
                if let Err(e) = store.sync(&state, db, false).await {
                    tracing::debug!(target: "haimaker::models", error = %e, "stored models not synced");
                }
                tokio::time::sleep(pause).await;
            }
        });
    }
}

/// Validates one model entry with the config loader (the same rules as `config.yaml`).
pub fn parse_entry(
    model_name: &str,
    params: Map<String, Value>,
    info: Map<String, Value>,
    origin: &str,
) -> Result<DeploymentConfig, String> {
    let doc = json!({"model_list": [{"model_name": model_name, "litellm_params": params, "model_info": info}]});
    // JSON is YAML: the loader reads it as a one-model config.
    let loaded = haimaker_config::load_from_str(Path::new(origin), &doc.to_string(), &ProcessEnv)
        .map_err(|e| e.to_string())?;
    let mut deployment = loaded
        .config
        .model_list
        .into_iter()
        .next()
        .ok_or_else(|| "no model in the entry".to_string())?;
    deployment.origin = origin.to_string();
    Ok(deployment)
}
