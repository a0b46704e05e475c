//! Times one spend flush of N rows (default 10,000) against `DATABASE_URL` (migrated first).
//! `cargo run --release -p haimaker-store --example flush_bench -- 10000`

use std::time::{Instant, SystemTime};

use haimaker_store::spend::{SpendRecord, write_batch};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let url = std::env::var("DATABASE_URL")?;
    let settings = haimaker_store::DbSettings {
        url: haimaker_config::Secret::new(url),
        pool_limit: 1,
        pool_timeout: std::time::Duration::from_secs(10),
    };
    let mut client = haimaker_store::db::connect_once(&settings).await?;
    haimaker_store::migrate::migrate(&mut client).await?;
    client
        .batch_execute(r#"INSERT INTO "LiteLLM_VerificationToken" (token) VALUES ('bench-key') ON CONFLICT DO NOTHING"#)
        .await?;
    let now = SystemTime::now();
    let batch: Vec<SpendRecord> = (0..rows)
        .map(|i| SpendRecord {
            request_id: format!("bench-{}-{i}", std::process::id()),
            call_type: "acompletion".into(),
            api_key: "bench-key".into(),
            spend: 0.001,
            prompt_tokens: 10,
            completion_tokens: 20,
            start_time: now,
            end_time: now,
            completion_start_time: None,
            model: "gpt-4o-mini".into(),
            model_id: "dep-1".into(),
            model_group: "gpt-4o-mini".into(),
            custom_llm_provider: "openai".into(),
            api_base: "https://api.openai.com/v1".into(),
            user: Some("user-1".into()),
            team_id: None,
            end_user: Some(format!("end-user-{}", i % 50)),
            requester_ip_address: Some("10.0.0.1".into()),
            metadata: serde_json::json!({"user_api_key_alias": "bench"}),
            cache_hit: false,
            cache_key: None,
        })
        .collect();
    let started = Instant::now();
    let flushed = write_batch(&mut client, &batch, true).await?;
    println!(
        "flushed {} rows ({} charged) in {:.1} ms",
        rows,
        flushed.charged,
        started.elapsed().as_secs_f64() * 1000.0
    );
    let again = Instant::now();
    let replay = write_batch(&mut client, &batch, true).await?;
    println!(
        "replayed the same {} rows ({} charged: idempotent) in {:.1} ms",
        rows,
        replay.charged,
        again.elapsed().as_secs_f64() * 1000.0
    );
    Ok(())
}
