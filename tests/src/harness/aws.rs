//! AWS helpers for the Bedrock mock, written from AWS's documentation independently of the
//! gateway's code: a SigV4 verifier ("Create a signed AWS API request") and an event-stream
//! encoder ("Amazon event stream encoding").

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::mock::Recorded;

/// What a verified `Authorization` header said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigV4 {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// URI-encodes each path segment of an (already once encoded) path again, as SigV4 does for
/// every service but S3.
fn canonical_uri(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            let mut out = String::new();
            for b in segment.bytes() {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                    out.push(b as char);
                } else {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
            out
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Recomputes the SigV4 signature of a recorded POST with `secret` and checks it against the
/// request's `Authorization` header. Returns what the header said.
pub fn verify_sigv4(r: &Recorded, secret: &str) -> Result<SigV4, String> {
    let auth = r
        .headers
        .get("authorization")
        .ok_or("no authorization header")?
        .to_str()
        .map_err(|e| e.to_string())?;
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| format!("not AWS4-HMAC-SHA256: {auth}"))?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(", ") {
        match part.split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => return Err(format!("unexpected part {part:?} in {auth}")),
        }
    }
    let (credential, signed, signature) = (
        credential.ok_or("no Credential")?,
        signed.ok_or("no SignedHeaders")?,
        signature.ok_or("no Signature")?,
    );
    let scope: Vec<&str> = credential.split('/').collect();
    let [key_id, date, region, service, terminator] = scope[..] else {
        return Err(format!("bad credential scope {credential}"));
    };
    if terminator != "aws4_request" {
        return Err(format!("bad scope terminator in {credential}"));
    }
    let amz_date = r
        .headers
        .get("x-amz-date")
        .ok_or("no x-amz-date")?
        .to_str()
        .map_err(|e| e.to_string())?;
    if !amz_date.starts_with(date) || amz_date.len() != 16 || !amz_date.ends_with('Z') {
        return Err(format!(
            "x-amz-date {amz_date} does not match the scope date {date}"
        ));
    }
    let signed_headers: Vec<String> = signed.split(';').map(str::to_string).collect();
    let mut sorted = signed_headers.clone();
    sorted.sort();
    if sorted != signed_headers {
        return Err(format!("signed headers not sorted: {signed}"));
    }
    let mut canonical_headers = String::new();
    for name in &signed_headers {
        let values: Vec<String> = r
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| v.to_str().unwrap_or("").trim().to_string())
            .collect();
        if values.is_empty() {
            return Err(format!("signed header {name} was not sent"));
        }
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let canonical_request = format!(
        "POST\n{}\n{}\n{}\n{}\n{}",
        canonical_uri(&r.path),
        r.query.clone().unwrap_or_default(),
        canonical_headers,
        signed,
        hex::encode(Sha256::digest(&r.raw)),
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date);
    let k_region = hmac(&k_date, region);
    let k_service = hmac(&k_region, service);
    let k_signing = hmac(&k_service, "aws4_request");
    let expected = hex::encode(hmac(&k_signing, &string_to_sign));
    if expected != signature {
        return Err(format!(
            "signature mismatch: expected {expected}, got {signature}\ncanonical request:\n{canonical_request}"
        ));
    }
    Ok(SigV4 {
        access_key_id: key_id.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
        signed_headers,
    })
}

/// One event-stream message with string headers.
pub fn event_message(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut encoded_headers = Vec::new();
    for (name, value) in headers {
        encoded_headers.push(u8::try_from(name.len()).unwrap());
        encoded_headers.extend_from_slice(name.as_bytes());
        encoded_headers.push(7); // string
        encoded_headers.extend_from_slice(&u16::try_from(value.len()).unwrap().to_be_bytes());
        encoded_headers.extend_from_slice(value.as_bytes());
    }
    let total = 12 + encoded_headers.len() + payload.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&u32::try_from(total).unwrap().to_be_bytes());
    out.extend_from_slice(&u32::try_from(encoded_headers.len()).unwrap().to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&encoded_headers);
    out.extend_from_slice(payload);
    let message_crc = crc32fast::hash(&out);
    out.extend_from_slice(&message_crc.to_be_bytes());
    out
}

/// A ConverseStream event (`:message-type: event`).
pub fn converse_event(event_type: &str, payload: &serde_json::Value) -> Vec<u8> {
    event_message(
        &[
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.to_string().as_bytes(),
    )
}
