//! The database at start-up: the URL is checked before anything binds (exit 64), migrations
//! run once per deploy under Postgres's advisory lock unless `DISABLE_SCHEMA_UPDATE` (or
//! `disable_prisma_schema_update`) says another job does it, and the master key's row is
//! upserted so its spend is tracked. `haimaker migrate` and `--skip_server_startup` run only
//! this and exit (the Helm migration job).
//!
//! `USE_PRISMA_MIGRATE` and `LITELLM_MIGRATION_DIR` are LiteLLM's knobs for its Prisma tooling;
//! haimaker's migrations are embedded SQL, so both are accepted and have no effect.

use std::time::{Duration, Instant};

use haimaker_config::{Config, Vars};
use haimaker_proc::exit;
use haimaker_store::DbSettings;

/// How long start-up keeps trying to reach the database before giving up.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// What start-up should do about the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    Migrate,
    /// `DISABLE_SCHEMA_UPDATE`: only check (workers refuse readiness if it is behind).
    Leave,
}

/// The database settings, or exit 64 when the URL cannot be used. `Ok(None)`: no database.
pub fn settings(config: &Config, vars: &dyn Vars) -> Result<Option<DbSettings>, String> {
    let Some(settings) = haimaker_store::db::settings(&config.general_settings, &|n| vars.get(n))
    else {
        return Ok(None);
    };
    haimaker_store::db::pg_config(settings.url.expose()).map_err(|e| {
        format!("the database URL (general_settings.database_url, DATABASE_URL or DATABASE_HOST/...) is not usable: {e}")
    })?;
    Ok(Some(settings))
}

/// Whether migrations are someone else's job.
pub fn schema_policy(config: &Config, vars: &dyn Vars) -> Schema {
    let disabled_by_env = vars
        .get("DISABLE_SCHEMA_UPDATE")
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
    if disabled_by_env || config.general_settings.disable_prisma_schema_update {
        Schema::Leave
    } else {
        Schema::Migrate
    }
}

/// Connects (retrying until the start deadline), migrates if asked, upserts the master key row.
/// Returns an exit code on failure.
pub async fn prepare(
    settings: &DbSettings,
    schema: Schema,
    master_key: Option<&str>,
    config: &Config,
) -> Result<(), i32> {
    let general = &config.general_settings;
    // With allow_requests_on_db_unavailable the pod serves without the database, so it does not
    // wait long for it; otherwise it waits up to 30 s (a database starting alongside).
    let patience = if general.allow_requests_on_db_unavailable {
        Duration::from_secs(3)
    } else {
        START_DEADLINE.min(settings.pool_timeout.max(Duration::from_secs(1)))
    };
    let deadline = Instant::now() + patience;
    let mut client = loop {
        match haimaker_store::db::connect_once(settings).await {
            Ok(client) => break client,
            Err(e) if Instant::now() >= deadline => {
                if general.allow_requests_on_db_unavailable {
                    tracing::warn!(target: "haimaker::db", error = %e, "database unreachable at start; serving anyway (allow_requests_on_db_unavailable); migrations did not run");
                    return Ok(());
                }
                tracing::error!(target: "haimaker::db", error = %e, "database unreachable at start (set allow_requests_on_db_unavailable to serve without it)");
                return Err(exit::FATAL);
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    };
    if schema == Schema::Migrate {
        match haimaker_store::migrate::migrate(&mut client).await {
            Ok(applied) if applied.is_empty() => {
                tracing::info!(target: haimaker_telemetry::LIFECYCLE_TARGET, "database schema is current");
            }
            Ok(applied) => {
                let names: Vec<String> = applied
                    .iter()
                    .map(|a| format!("{} {}", a.version, a.name))
                    .collect();
                tracing::info!(target: haimaker_telemetry::LIFECYCLE_TARGET, migrations = %names.join(", "), "applied {} database migration{}", applied.len(), if applied.len() == 1 { "" } else { "s" });
            }
            Err(e) => {
                tracing::error!(target: "haimaker::db", error = %e, "database migration failed");
                return Err(exit::FATAL);
            }
        }
    }
    if let Some(key) = master_key
        && !general.disable_adding_master_key_hash_to_db
    {
        let token = haimaker_store::keys::hash_token(key);
        if let Err(e) = haimaker_store::spend::upsert_master_key(&client, &token).await {
            tracing::warn!(target: "haimaker::db", error = %e, "could not record the master key's row (its spend is still logged)");
        }
    }
    Ok(())
}
