//! Fills the `rust_encrypted` list of `tests/vectors.json` with values this crate encrypts,
//! for `tests/python/make_crypto_vectors.py verify` to decrypt with PyNaCl and `cryptography`.
//!
//! `cargo run -p haimaker-crypto --example refresh_rust_encrypted -- crates/haimaker-crypto/tests/vectors.json`

use haimaker_crypto::{Algorithm, SaltKey, encrypt};
use serde_json::{Value, json};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: refresh_rust_encrypted PATH/TO/vectors.json")?;
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    let salt = doc["salt"].as_str().ok_or("fixture has no salt")?;
    let key = SaltKey::new(salt);
    let cases = doc["cases"].as_array().ok_or("fixture has no cases")?;
    let mut out = Vec::new();
    for case in cases {
        let name = case["name"].as_str().ok_or("case without name")?;
        let plaintext = case["plaintext"].as_str().ok_or("case without plaintext")?;
        for (format, algorithm) in [("legacy", Algorithm::Legacy), ("v3", Algorithm::V3Gcm)] {
            let stored = encrypt(&key, algorithm, plaintext);
            out.push(
                json!({"name": name, "format": format, "plaintext": plaintext, "stored": stored}),
            );
        }
    }
    doc["rust_encrypted"] = Value::Array(out);
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.push('\n');
    std::fs::write(&path, text)?;
    Ok(())
}
