//! Compatibility with LiteLLM: `vectors.json` was written by `tests/python/make_crypto_vectors.py`
//! with PyNaCl and `cryptography`, exactly the calls LiteLLM makes.

use haimaker_crypto::{Algorithm, DecryptError, Format, SaltKey, decrypt, encrypt};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    salt: String,
    cases: Vec<Case>,
    fixed_nonce: Vec<Stored>,
    legacy_standard_base64: Vec<Stored>,
    rust_encrypted: Vec<Stored>,
}

/// One plaintext, encrypted by Python in each of the three formats.
#[derive(Deserialize)]
struct Case {
    name: String,
    plaintext: String,
    legacy: String,
    v2: String,
    v3: String,
}

#[derive(Deserialize)]
struct Stored {
    name: String,
    plaintext: String,
    stored: String,
}

fn fixture() -> Fixture {
    serde_json::from_str(include_str!("vectors.json")).expect("vectors.json parses")
}

impl Case {
    fn stored(&self) -> [(&'static str, &str); 3] {
        [("legacy", &self.legacy), ("v2", &self.v2), ("v3", &self.v3)]
    }
}

#[test]
fn python_vectors_decrypt_in_every_format() {
    let fx = fixture();
    let key = SaltKey::new(&fx.salt);
    assert!(fx.cases.len() >= 4);
    for case in &fx.cases {
        for (format, stored) in case.stored() {
            assert_eq!(
                decrypt(&key, stored).as_deref(),
                Ok(case.plaintext.as_str()),
                "{} {format}",
                case.name
            );
        }
        assert_eq!(Format::of(&case.legacy), Format::Legacy);
        assert_eq!(Format::of(&case.v2), Format::V2Gcm);
        assert_eq!(Format::of(&case.v3), Format::V3Gcm);
    }
}

#[test]
fn python_fixed_nonce_vectors_decrypt() {
    let fx = fixture();
    let key = SaltKey::new(&fx.salt);
    for v in &fx.fixed_nonce {
        assert_eq!(
            decrypt(&key, &v.stored).as_deref(),
            Ok(v.plaintext.as_str()),
            "{}",
            v.name
        );
    }
}

/// Older LiteLLM releases stored legacy values with standard base64 (`+` and `/`).
#[test]
fn standard_base64_legacy_values_decrypt() {
    let fx = fixture();
    let key = SaltKey::new(&fx.salt);
    assert!(!fx.legacy_standard_base64.is_empty());
    for v in &fx.legacy_standard_base64 {
        assert!(v.stored.contains(['+', '/']), "{}", v.name);
        assert_eq!(
            decrypt(&key, &v.stored).as_deref(),
            Ok(v.plaintext.as_str()),
            "{}",
            v.name
        );
    }
}

/// These were checked by the Python script's `verify` mode; here they guard the reader.
#[test]
fn rust_encrypted_fixture_values_still_decrypt() {
    let fx = fixture();
    let key = SaltKey::new(&fx.salt);
    assert!(!fx.rust_encrypted.is_empty());
    for v in &fx.rust_encrypted {
        assert_eq!(
            decrypt(&key, &v.stored).as_deref(),
            Ok(v.plaintext.as_str()),
            "{}",
            v.name
        );
    }
}

#[test]
fn wrong_salt_key_fails_cleanly_in_every_format() {
    let fx = fixture();
    let wrong = SaltKey::new(&format!("{}-rotated", fx.salt));
    for case in &fx.cases {
        for (format, stored) in case.stored() {
            assert_eq!(
                decrypt(&wrong, stored),
                Err(DecryptError::WrongKeyOrCorrupt),
                "{} {format}",
                case.name
            );
        }
    }
}

#[test]
fn round_trip_both_write_formats() {
    let key = SaltKey::new("sk-round-trip");
    let long = "x".repeat(10_000);
    for plaintext in ["", "a", "sk-proj-abc123XYZ", "héllo 🔑", long.as_str()] {
        for algorithm in [Algorithm::V3Gcm, Algorithm::Legacy] {
            let stored = encrypt(&key, algorithm, plaintext);
            let expected_format = match algorithm {
                Algorithm::V3Gcm => Format::V3Gcm,
                Algorithm::Legacy => Format::Legacy,
            };
            assert_eq!(Format::of(&stored), expected_format);
            assert!(!stored.contains(['+', '/']), "urlsafe alphabet: {stored}");
            assert_eq!(decrypt(&key, &stored).as_deref(), Ok(plaintext));
        }
    }
}

#[test]
fn fresh_nonce_every_time() {
    let key = SaltKey::new("sk-nonce");
    for algorithm in [Algorithm::V3Gcm, Algorithm::Legacy] {
        let a = encrypt(&key, algorithm, "same");
        let b = encrypt(&key, algorithm, "same");
        assert_ne!(a, b, "{algorithm:?}");
    }
}

#[test]
fn tampered_values_fail() {
    let fx = fixture();
    let key = SaltKey::new(&fx.salt);
    let case = &fx.cases[0];
    for (format, stored) in case.stored() {
        // Flip one base64 digit in the middle of the payload (never the prefix).
        let mut chars: Vec<char> = stored.chars().collect();
        let i = chars.len() / 2 + 4;
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert_eq!(
            decrypt(&key, &tampered),
            Err(DecryptError::WrongKeyOrCorrupt),
            "{format}"
        );
    }
}

#[test]
fn garbage_of_various_shapes_errors() {
    let key = SaltKey::new("sk-test-salt-1234");
    // 42 zero bytes: long enough for a legacy value, but its MAC cannot verify.
    let zero_bytes = "A".repeat(56);
    let cases: &[(&str, DecryptError)] = &[
        ("not base64!!", DecryptError::NotBase64),
        ("sk-1234", DecryptError::Truncated), // valid urlsafe base64, 5 bytes
        ("A", DecryptError::NotBase64),
        ("v9:gcm:AAAA", DecryptError::NotBase64),
        ("AAAA", DecryptError::Truncated),
        ("v3:gcm:", DecryptError::Truncated),
        ("v2:gcm:", DecryptError::Truncated),
        ("v3:gcm:AAAAAAAAAAAAAAAA", DecryptError::Truncated),
        ("v3:gcm:%%%%", DecryptError::NotBase64),
        ("v2:gcm:not base64!", DecryptError::NotBase64),
        (&zero_bytes, DecryptError::WrongKeyOrCorrupt),
        (
            "v3:gcm:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            DecryptError::WrongKeyOrCorrupt,
        ),
        (
            "v2:gcm:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            DecryptError::WrongKeyOrCorrupt,
        ),
        ("https://api.openai.com/v1", DecryptError::NotBase64),
        ("é🔑", DecryptError::NotBase64),
    ];
    for (stored, expected) in cases {
        assert_eq!(decrypt(&key, stored).as_ref(), Err(expected), "{stored:?}");
    }
}

/// A v3 value must not be readable as v2 (different key derivation), and vice versa: the
/// prefix decides the key.
#[test]
fn prefix_selects_the_key() {
    let fx = fixture();
    let key = SaltKey::new(&fx.salt);
    let case = &fx.cases[0];
    let v3_as_v2 = case.v3.replacen("v3:", "v2:", 1);
    let v2_as_v3 = case.v2.replacen("v2:", "v3:", 1);
    assert_eq!(
        decrypt(&key, &v3_as_v2),
        Err(DecryptError::WrongKeyOrCorrupt)
    );
    assert_eq!(
        decrypt(&key, &v2_as_v3),
        Err(DecryptError::WrongKeyOrCorrupt)
    );
}

/// LiteLLM reads an empty stored string as the empty string (it decodes to no bytes).
#[test]
fn empty_stored_value_reads_as_empty() {
    let key = SaltKey::new("sk-test-salt-1234");
    assert_eq!(decrypt(&key, "").as_deref(), Ok(""));
}

#[test]
fn errors_never_mention_secrets() {
    let salt = "sk-very-secret-salt";
    let key = SaltKey::new("sk-other");
    let stored = encrypt(&SaltKey::new(salt), Algorithm::V3Gcm, "sk-plaintext-secret");
    let err = decrypt(&key, &stored).expect_err("wrong key");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("secret"), "{shown}");
}
