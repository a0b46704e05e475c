//! LiteLLM-compatible at-rest encryption of stored credentials.
//!
//! A LiteLLM proxy encrypts every credential it keeps in the database (each string value of a
//! stored model's `litellm_params`, and so on) with a *salt key*: `LITELLM_SALT_KEY`, falling back
//! to the master key. haimaker shares that database, so it must read and write the exact same
//! bytes. Three stored formats exist, told apart by a prefix:
//!
//! | stored value | cipher | key |
//! | --- | --- | --- |
//! | `urlsafe_b64(nonce(24) ‖ tag(16) ‖ ct)`, no prefix ("legacy") | XSalsa20-Poly1305 (NaCl `SecretBox`) | `sha256(salt)` |
//! | `v2:gcm:` + `urlsafe_b64(nonce(12) ‖ ct ‖ tag(16))` | AES-256-GCM | `sha256(salt)` |
//! | `v3:gcm:` + `urlsafe_b64(nonce(12) ‖ ct ‖ tag(16))` | AES-256-GCM | HKDF-SHA256(salt, info `litellm-at-rest-v3`) |
//!
//! [`encrypt`] writes `v3:gcm:` (LiteLLM's default) or, when configured with
//! `encryption_algorithm: xsalsa20-poly1305`, the legacy format; [`decrypt`] reads all three.
//! Note that NaCl's combined format puts the Poly1305 tag *before* the ciphertext, while AES-GCM
//! puts it after.
//!
//! Secrets are never logged or formatted: [`SaltKey`]'s `Debug` is redacted, and
//! [`DecryptError`] carries no key or plaintext material. Decryption never panics on bad input.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use base64ct::{Base64Unpadded, Base64Url, Encoding};
use crypto_secretbox::XSalsa20Poly1305;
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Prefix of AES-256-GCM values whose key is derived with HKDF (LiteLLM's current default).
pub const V3_GCM_PREFIX: &str = "v3:gcm:";
/// Prefix of AES-256-GCM values whose key is the raw SHA-256 of the salt key.
pub const V2_GCM_PREFIX: &str = "v2:gcm:";
/// HKDF `info` for the v3 key, fixed by LiteLLM.
const HKDF_INFO: &[u8] = b"litellm-at-rest-v3";

const GCM_NONCE_LEN: usize = 12;
const GCM_TAG_LEN: usize = 16;
const NACL_NONCE_LEN: usize = 24;
const NACL_TAG_LEN: usize = 16;

/// Which format [`encrypt`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// `v3:gcm:` AES-256-GCM with an HKDF-derived key (LiteLLM's default).
    #[default]
    V3Gcm,
    /// Unprefixed NaCl SecretBox (XSalsa20-Poly1305), LiteLLM's `xsalsa20-poly1305` opt-in.
    Legacy,
}

impl Algorithm {
    /// From `general_settings.encryption_algorithm`: `None`, `"aes-256-gcm"` or `"v3"` give
    /// [`Algorithm::V3Gcm`], `"xsalsa20-poly1305"` gives [`Algorithm::Legacy`] (case-insensitive,
    /// as LiteLLM compares it lowercased). An unknown name gives `None` so the caller can reject
    /// the config instead of silently picking a format.
    pub fn from_config(name: Option<&str>) -> Option<Self> {
        let Some(name) = name else {
            return Some(Self::V3Gcm);
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "aes-256-gcm" | "v3" => Some(Self::V3Gcm),
            "xsalsa20-poly1305" => Some(Self::Legacy),
            _ => None,
        }
    }

    /// The canonical config name, as accepted by [`Algorithm::from_config`].
    pub fn config_name(self) -> &'static str {
        match self {
            Self::V3Gcm => "aes-256-gcm",
            Self::Legacy => "xsalsa20-poly1305",
        }
    }
}

/// The format of a stored value, read from its prefix alone (no decryption).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// No prefix: NaCl SecretBox (XSalsa20-Poly1305).
    Legacy,
    /// `v2:gcm:`: AES-256-GCM under `sha256(salt)`.
    V2Gcm,
    /// `v3:gcm:`: AES-256-GCM under the HKDF-derived key.
    V3Gcm,
}

impl Format {
    /// Which format `stored` claims to be. LiteLLM uses the same test: a `:` never appears in
    /// base64url, so the prefix check cannot misread a legacy value.
    pub fn of(stored: &str) -> Self {
        if stored.starts_with(V3_GCM_PREFIX) {
            Self::V3Gcm
        } else if stored.starts_with(V2_GCM_PREFIX) {
            Self::V2Gcm
        } else {
            Self::Legacy
        }
    }
}

/// A salt key with its three derived cipher keys, computed once at construction.
#[derive(Clone)]
pub struct SaltKey {
    /// XSalsa20-Poly1305 under `sha256(salt)`.
    legacy: XSalsa20Poly1305,
    /// AES-256-GCM under `sha256(salt)`.
    v2: Aes256Gcm,
    /// AES-256-GCM under HKDF-SHA256(salt).
    v3: Aes256Gcm,
}

impl SaltKey {
    /// Derives the keys from the salt key string (its UTF-8 bytes, as Python's `.encode()`).
    pub fn new(salt: &str) -> Self {
        let sha = sha256_key(salt);
        let hkdf = hkdf_v3_key(salt);
        Self {
            legacy: XSalsa20Poly1305::new(sha.as_slice().into()),
            v2: Aes256Gcm::new(sha.as_slice().into()),
            v3: Aes256Gcm::new(hkdf.as_slice().into()),
        }
    }
}

impl std::fmt::Debug for SaltKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SaltKey(<redacted>)")
    }
}

/// The key shared by legacy and `v2:gcm:` values: one unsalted SHA-256 of the salt key.
fn sha256_key(salt: &str) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(Sha256::digest(salt.as_bytes()).into())
}

/// The `v3:gcm:` key: HKDF-SHA256 with no salt (RFC 5869: a zero-filled one, as Python's
/// `salt=None`), ikm = the salt key bytes, info = `litellm-at-rest-v3`.
fn hkdf_v3_key(salt: &str) -> Zeroizing<[u8; 32]> {
    let mut okm = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(None, salt.as_bytes())
        .expand(HKDF_INFO, okm.as_mut_slice())
        // Only lengths above 255 * 32 bytes are refused; 32 is a constant.
        .expect("HKDF-SHA256 can always expand to 32 bytes");
    okm
}

/// Why a stored value could not be decrypted. Never carries key or plaintext material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    /// The value (after any prefix) is not base64 in either alphabet.
    #[error("stored value is not base64")]
    NotBase64,
    /// The value decodes to fewer bytes than a nonce and a tag.
    #[error("stored value is too short to be a ciphertext")]
    Truncated,
    /// Authentication failed: the salt key changed (LITELLM_SALT_KEY or the master key), or the
    /// value is corrupt or not a ciphertext at all.
    #[error("cannot decrypt stored value: wrong salt key or corrupt value")]
    WrongKeyOrCorrupt,
    /// Authentic, but the plaintext is not UTF-8 (LiteLLM only encrypts `str`).
    #[error("decrypted value is not UTF-8")]
    NotUtf8,
}

/// Encrypts `plaintext` into the stored string format of `algorithm`, with a fresh random nonce
/// from the OS.
///
/// # Panics
/// Only if the OS random number generator fails (encrypting without a fresh nonce is never
/// acceptable), or for a plaintext beyond AES-GCM's 64 GiB limit.
pub fn encrypt(key: &SaltKey, algorithm: Algorithm, plaintext: &str) -> String {
    match algorithm {
        Algorithm::V3Gcm => {
            let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
            seal_v3(key, &nonce.into(), plaintext)
        }
        Algorithm::Legacy => {
            let nonce = XSalsa20Poly1305::generate_nonce(&mut OsRng);
            seal_legacy(key, &nonce.into(), plaintext)
        }
    }
}

/// `v3:gcm:` + urlsafe_b64(nonce ‖ ct ‖ tag); `Aead::encrypt` for AES-GCM appends the tag.
fn seal_v3(key: &SaltKey, nonce: &[u8; GCM_NONCE_LEN], plaintext: &str) -> String {
    let sealed = key
        .v3
        .encrypt(nonce.into(), plaintext.as_bytes())
        .expect("AES-256-GCM refuses only plaintexts over 64 GiB");
    let mut raw = Vec::with_capacity(GCM_NONCE_LEN + sealed.len());
    raw.extend_from_slice(nonce);
    raw.extend_from_slice(&sealed);
    format!("{V3_GCM_PREFIX}{}", Base64Url::encode_string(&raw))
}

/// urlsafe_b64(nonce ‖ tag ‖ ct): `crypto_secretbox`'s `Aead::encrypt` prepends the tag, which
/// is NaCl's (and so PyNaCl's `SecretBox.encrypt`) combined layout.
fn seal_legacy(key: &SaltKey, nonce: &[u8; NACL_NONCE_LEN], plaintext: &str) -> String {
    let sealed = key
        .legacy
        .encrypt(nonce.into(), plaintext.as_bytes())
        .expect("XSalsa20-Poly1305 has no practical plaintext limit");
    let mut raw = Vec::with_capacity(NACL_NONCE_LEN + sealed.len());
    raw.extend_from_slice(nonce);
    raw.extend_from_slice(&sealed);
    Base64Url::encode_string(&raw)
}

/// Decrypts a stored value in any of the three formats, chosen by its prefix.
///
/// As in LiteLLM, an unprefixed value that decodes to no bytes at all (the empty string) reads
/// as the empty string: it was never encrypted, and an empty plaintext encrypts to 40 bytes.
pub fn decrypt(key: &SaltKey, stored: &str) -> Result<String, DecryptError> {
    let plaintext = match Format::of(stored) {
        Format::V3Gcm => open_gcm(&key.v3, &decode_base64(&stored[V3_GCM_PREFIX.len()..])?)?,
        Format::V2Gcm => open_gcm(&key.v2, &decode_base64(&stored[V2_GCM_PREFIX.len()..])?)?,
        Format::Legacy => open_legacy(&key.legacy, &decode_base64(stored)?)?,
    };
    String::from_utf8(plaintext).map_err(|_| DecryptError::NotUtf8)
}

/// Opens nonce(12) ‖ ct ‖ tag(16).
fn open_gcm(cipher: &Aes256Gcm, raw: &[u8]) -> Result<Vec<u8>, DecryptError> {
    if raw.len() < GCM_NONCE_LEN + GCM_TAG_LEN {
        return Err(DecryptError::Truncated);
    }
    let (nonce, sealed) = raw.split_at(GCM_NONCE_LEN);
    cipher
        .decrypt(nonce.into(), sealed)
        .map_err(|_| DecryptError::WrongKeyOrCorrupt)
}

/// Opens nonce(24) ‖ tag(16) ‖ ct; zero bytes is LiteLLM's "empty value" special case.
fn open_legacy(cipher: &XSalsa20Poly1305, raw: &[u8]) -> Result<Vec<u8>, DecryptError> {
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    if raw.len() < NACL_NONCE_LEN + NACL_TAG_LEN {
        return Err(DecryptError::Truncated);
    }
    let (nonce, sealed) = raw.split_at(NACL_NONCE_LEN);
    cipher
        .decrypt(nonce.into(), sealed)
        .map_err(|_| DecryptError::WrongKeyOrCorrupt)
}

/// Decodes base64 the way LiteLLM effectively does: Python's `urlsafe_b64decode` maps `-_` to
/// `+/` but keeps `+/`, so both alphabets (even mixed) decode, and it skips whitespace. Padding
/// is accepted but not required. Other characters are refused.
fn decode_base64(text: &str) -> Result<Vec<u8>, DecryptError> {
    let standard: String = text
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            other => other,
        })
        .collect();
    Base64Unpadded::decode_vec(standard.trim_end_matches('=')).map_err(|_| DecryptError::NotBase64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: &str = "sk-test-salt-1234";

    #[derive(serde::Deserialize)]
    struct Fixture {
        salt: String,
        sha256_key_hex: String,
        hkdf_v3_key_hex: String,
        fixed_nonce: Vec<FixedNonce>,
    }

    #[derive(serde::Deserialize)]
    struct FixedNonce {
        name: String,
        format: String,
        nonce_hex: String,
        plaintext: String,
        stored: String,
    }

    fn fixture() -> Fixture {
        serde_json::from_str(include_str!("../tests/vectors.json")).expect("fixture parses")
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
            .collect()
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = SaltKey::new(SALT);
        for shown in [format!("{key:?}"), format!("{key:#?}")] {
            assert!(!shown.contains(SALT), "{shown}");
            assert!(!shown.contains("sk-"), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
        }
        // Nor any derived key, in hex.
        let fx = fixture();
        let shown = format!("{key:?}");
        assert!(!shown.contains(&fx.sha256_key_hex[..16]));
        assert!(!shown.contains(&fx.hkdf_v3_key_hex[..16]));
    }

    #[test]
    fn derived_keys_match_python() {
        let fx = fixture();
        assert_eq!(hex(sha256_key(&fx.salt).as_slice()), fx.sha256_key_hex);
        assert_eq!(hex(hkdf_v3_key(&fx.salt).as_slice()), fx.hkdf_v3_key_hex);
    }

    /// With the nonce fixed, Rust's output must be byte-identical to PyNaCl's / cryptography's.
    #[test]
    fn fixed_nonce_encryption_is_byte_identical_to_python() {
        let fx = fixture();
        let key = SaltKey::new(&fx.salt);
        assert!(fx.fixed_nonce.len() >= 9);
        for v in &fx.fixed_nonce {
            let nonce = unhex(&v.nonce_hex);
            let ours = match v.format.as_str() {
                "legacy" => seal_legacy(&key, &nonce.try_into().expect("24 bytes"), &v.plaintext),
                "v3" => seal_v3(&key, &nonce.try_into().expect("12 bytes"), &v.plaintext),
                // v2 is read-only here; it is checked by decryption alone.
                "v2" => continue,
                other => panic!("unknown format {other}"),
            };
            assert_eq!(ours, v.stored, "{} {}", v.name, v.format);
        }
    }

    /// Authentic but not UTF-8 (LiteLLM never writes this; `encrypt` takes `&str`).
    #[test]
    fn authentic_non_utf8_is_an_error_not_a_panic() {
        let key = SaltKey::new(SALT);
        let nonce = [7u8; GCM_NONCE_LEN];
        let sealed = key
            .v3
            .encrypt((&nonce).into(), &[0xff, 0xfe][..])
            .expect("encrypts");
        let stored = format!(
            "{V3_GCM_PREFIX}{}",
            Base64Url::encode_string(&[&nonce[..], &sealed].concat())
        );
        assert_eq!(decrypt(&key, &stored), Err(DecryptError::NotUtf8));
    }

    #[test]
    fn from_config_names() {
        assert_eq!(Algorithm::from_config(None), Some(Algorithm::V3Gcm));
        assert_eq!(
            Algorithm::from_config(Some("aes-256-gcm")),
            Some(Algorithm::V3Gcm)
        );
        assert_eq!(Algorithm::from_config(Some("v3")), Some(Algorithm::V3Gcm));
        assert_eq!(
            Algorithm::from_config(Some("xsalsa20-poly1305")),
            Some(Algorithm::Legacy)
        );
        assert_eq!(
            Algorithm::from_config(Some("XSalsa20-Poly1305")),
            Some(Algorithm::Legacy)
        );
        assert_eq!(Algorithm::from_config(Some("rot13")), None);
        assert_eq!(Algorithm::from_config(Some("")), None);
        for algorithm in [Algorithm::V3Gcm, Algorithm::Legacy] {
            assert_eq!(
                Algorithm::from_config(Some(algorithm.config_name())),
                Some(algorithm)
            );
        }
        assert_eq!(Algorithm::default(), Algorithm::V3Gcm);
    }

    #[test]
    fn format_of_prefixes() {
        assert_eq!(Format::of("v3:gcm:AAAA"), Format::V3Gcm);
        assert_eq!(Format::of("v2:gcm:AAAA"), Format::V2Gcm);
        assert_eq!(Format::of("AAAA"), Format::Legacy);
        assert_eq!(Format::of("v4:gcm:AAAA"), Format::Legacy);
    }

    #[test]
    fn base64_accepts_both_alphabets_and_missing_padding() {
        // Expected bytes as Python's `base64.urlsafe_b64decode` gives them.
        assert_eq!(decode_base64("-_8="), Ok(vec![0xfb, 0xff]));
        assert_eq!(decode_base64("+/8="), Ok(vec![0xfb, 0xff]));
        assert_eq!(decode_base64("+_8"), Ok(vec![0xfb, 0xff]));
        assert_eq!(decode_base64("-_-_"), Ok(vec![0xfb, 0xff, 0xbf]));
        assert_eq!(decode_base64(" AQ==\n"), Ok(vec![1]));
        assert_eq!(decode_base64("A"), Err(DecryptError::NotBase64));
        assert_eq!(decode_base64("AQ*="), Err(DecryptError::NotBase64));
    }
}
