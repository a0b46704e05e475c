//! A database LiteLLM created: its own migrations applied with psql, a key inserted the way
//! LiteLLM does, a model stored in LiteLLM's encrypted format. haimaker runs on it as is.

use std::time::Duration;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::harness::pg::TestDb;
use crate::harness::python::{litellm_migrations, run};
use crate::harness::{Gateway, get, post};

const DEADLINE: Duration = Duration::from_secs(30);

fn psql_file(url: &str, file: &std::path::Path) {
    let out = std::process::Command::new("psql")
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f"])
        .arg(file)
        .output()
        .expect("psql is needed (apt-get install postgresql-client); .ci/run installs it");
    assert!(
        out.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// LiteLLM's legacy (PyNaCl SecretBox) encryption of `value` under `salt`, done by PyNaCl.
fn litellm_legacy_encrypt(salt: &str, value: &str) -> String {
    run(
        "import sys, hashlib, base64, nacl.secret; box = nacl.secret.SecretBox(hashlib.sha256(sys.argv[1].encode()).digest()); print(base64.urlsafe_b64encode(box.encrypt(sys.argv[2].encode())).decode())",
        &[salt, value],
    )
}

/// LiteLLM's newest (v3 AES-GCM) decryption, done by `cryptography`.
fn litellm_v3_decrypt(salt: &str, stored: &str) -> String {
    run(
        "import sys, base64\nfrom cryptography.hazmat.primitives.ciphers.aead import AESGCM\nfrom cryptography.hazmat.primitives.kdf.hkdf import HKDF\nfrom cryptography.hazmat.primitives import hashes\nkey = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b'litellm-at-rest-v3').derive(sys.argv[1].encode())\nraw = base64.urlsafe_b64decode(sys.argv[2][len('v3:gcm:'):])\nprint(AESGCM(key).decrypt(raw[:12], raw[12:], None).decode())",
        &[salt, stored],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn haimaker_runs_on_a_database_litellm_created() {
    let db = TestDb::create().await;
    for migration in litellm_migrations() {
        psql_file(&db.url, &migration.join("migration.sql"));
    }
    let client = db.client().await;
    let key = "sk-litellm-made-key-01";
    let token = hex::encode(Sha256::digest(key.as_bytes()));
    client
        .execute(
            r#"INSERT INTO "LiteLLM_VerificationToken" (token, key_name, key_alias, spend, max_budget, models, user_id)
               VALUES ($1, 'sk-...y-01', 'made-by-litellm', 1.5, 100, ARRAY['stored-model', 'config-model'], 'litellm-user')"#,
            &[&token],
        )
        .await
        .unwrap();
    let salt = "sk-salt-of-litellm";
    let params = json!({
        "model": litellm_legacy_encrypt(salt, "openai/stored"),
        "mock_response": litellm_legacy_encrypt(salt, "answer from a model stored by LiteLLM"),
        "api_key": litellm_legacy_encrypt(salt, "sk-upstream-secret"),
    });
    client
        .execute(
            r#"INSERT INTO "LiteLLM_ProxyModelTable" (model_id, model_name, litellm_params, model_info, created_by, updated_by)
               VALUES ('stored-1', 'stored-model', $1, '{}', 'admin', 'admin')"#,
            &[&params],
        )
        .await
        .unwrap();
    let prisma_rows: i64 = client
        .query_one("SELECT count(*) FROM information_schema.tables WHERE table_name = '_prisma_migrations'", &[])
        .await
        .unwrap()
        .get(0);

    let config = "model_list:\n  - model_name: config-model\n    litellm_params:\n      model: openai/cfg\n      mock_response: from config\ngeneral_settings:\n  master_key: sk-master\n  store_model_in_db: true\n  proxy_batch_write_at: 0.2\n";
    let gw = Gateway::builder(config)
        .env("DATABASE_URL", db.url.clone())
        .env("LITELLM_SALT_KEY", salt)
        .start();
    assert!(
        !gw.output.text().contains("migration failed"),
        "{}",
        gw.output.text()
    );

    let auth = format!("Bearer {key}");
    for (model, answer) in [
        ("stored-model", "answer from a model stored by LiteLLM"),
        ("config-model", "from config"),
    ] {
        let resp = post(
            &gw.url("/v1/chat/completions"),
            &[("authorization", auth.as_str())],
            json!({"model": model, "messages": []}).to_string(),
        )
        .await;
        assert_eq!(resp.status, 200, "{model}: {}", resp.text());
        assert_eq!(resp.json()["choices"][0]["message"]["content"], answer);
    }
    let info = get(
        &gw.url("/v1/model/info"),
        &[("authorization", "Bearer sk-master")],
    )
    .await;
    assert!(
        !info.text().contains("sk-upstream-secret"),
        "secrets never in /model/info"
    );
    let stored = info.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model_name"] == "stored-model")
        .cloned()
        .unwrap();
    assert_eq!(stored["model_info"]["db_model"], true);

    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let spend: f64 = client
            .query_one(
                r#"SELECT spend FROM "LiteLLM_VerificationToken" WHERE token = $1"#,
                &[&token],
            )
            .await
            .unwrap()
            .get(0);
        let logs: i64 = client
            .query_one(r#"SELECT count(*) FROM "LiteLLM_SpendLogs" WHERE api_key = $1 AND "user" = 'litellm-user'"#, &[&token])
            .await
            .unwrap()
            .get(0);
        if logs == 2 {
            assert!(spend >= 1.5, "spend accumulates on LiteLLM's column");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "spend did not land ({logs} rows)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after: i64 = client
        .query_one("SELECT count(*) FROM information_schema.tables WHERE table_name = '_prisma_migrations'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        prisma_rows, after,
        "haimaker never touches _prisma_migrations"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn models_added_through_the_api_are_encrypted_and_reach_every_worker() {
    let db = TestDb::create().await;
    let salt = "sk-salt-for-api-models";
    let config =
        "model_list: []\ngeneral_settings:\n  master_key: sk-master\n  store_model_in_db: true\n";
    let gw = Gateway::builder(config)
        .workers(2)
        .env("DATABASE_URL", db.url.clone())
        .env("LITELLM_SALT_KEY", salt)
        .env("HAIMAKER_MODEL_SYNC_MS", "200")
        .start();
    let admin = [("authorization", "Bearer sk-master")];
    let anonymous = post(
        &gw.url("/model/new"),
        &[],
        json!({"model_name": "x", "litellm_params": {"model": "openai/x"}}).to_string(),
    )
    .await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text());
    let client = db.client().await;
    let user_key = "sk-internal-user-key";
    client
        .execute(
            r#"INSERT INTO "LiteLLM_VerificationToken" (token, models) VALUES ($1, ARRAY[]::text[])"#,
            &[&hex::encode(Sha256::digest(user_key.as_bytes()))],
        )
        .await
        .unwrap();
    let auth = format!("Bearer {user_key}");
    let not_admin = post(
        &gw.url("/model/new"),
        &[("authorization", auth.as_str())],
        json!({"model_name": "x", "litellm_params": {"model": "openai/x"}}).to_string(),
    )
    .await;
    assert_eq!(not_admin.status, 401, "{}", not_admin.text());
    assert!(
        not_admin.error_message().contains("Only proxy admin"),
        "{}",
        not_admin.text()
    );
    let created = post(
        &gw.url("/model/new"),
        &admin,
        json!({"model_name": "api-model", "litellm_params": {"model": "openai/api", "mock_response": "stored via the API", "api_key": "sk-secret-upstream"}, "model_info": {"id": "api-1"}}).to_string(),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.text());
    assert!(!created.text().contains("sk-secret-upstream"));

    let params: serde_json::Value = client
        .query_one(
            r#"SELECT litellm_params FROM "LiteLLM_ProxyModelTable" WHERE model_id = 'api-1'"#,
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let stored_key = params["api_key"].as_str().unwrap();
    assert!(
        stored_key.starts_with("v3:gcm:"),
        "written in LiteLLM's newest format: {stored_key}"
    );
    assert_eq!(
        litellm_v3_decrypt(salt, stored_key),
        "sk-secret-upstream",
        "LiteLLM can read it"
    );

    // Every worker routes it within a sync interval (requests land on either worker).
    wait_for_answer(&gw, "api-model", Some("stored via the API")).await;
    let updated = post(
        &gw.url("/model/update"),
        &admin,
        json!({"model_id": "api-1", "litellm_params": {"mock_response": "updated"}}).to_string(),
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.text());
    wait_for_answer(&gw, "api-model", Some("updated")).await;
    let deleted = post(
        &gw.url("/model/delete"),
        &admin,
        json!({"id": "api-1"}).to_string(),
    )
    .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    wait_for_answer(&gw, "api-model", None).await;
    let again = post(
        &gw.url("/model/delete"),
        &admin,
        json!({"id": "api-1"}).to_string(),
    )
    .await;
    assert_eq!(again.status, 404);
    let bad = post(
        &gw.url("/model/new"),
        &admin,
        json!({"model_name": "x", "litellm_params": {"modle": "openai/x"}}).to_string(),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.error_message().contains("modle"), "{}", bad.text());
}

/// Waits until every answer for `model` is `content` (None: the model is gone, 400).
async fn wait_for_answer(gw: &Gateway, model: &str, content: Option<&str>) {
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let mut all = true;
        for _ in 0..6 {
            let resp = post(
                &gw.url("/v1/chat/completions"),
                &[("authorization", "Bearer sk-master")],
                json!({"model": model, "messages": []}).to_string(),
            )
            .await;
            let ok = match content {
                Some(c) => {
                    resp.status == 200 && resp.json()["choices"][0]["message"]["content"] == c
                }
                None => resp.status == 400,
            };
            all &= ok;
        }
        if all {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{model} never became {content:?} on every worker"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
