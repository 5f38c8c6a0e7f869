//! The provider key Teamtailor hands a partner, and the webhook signature, as
//! the notes describe them: a JWT (HS256, signed with the partner API key,
//! claims = the activation form's values by field id) or a JWE (`alg: dir`,
//! AES-GCM, key derived from the webhook secret); and
//! `Teamtailor-Signature: t=<unix>,v1=hex(HMAC-SHA256(secret, "<t>.<event id>"))`.
//!
//! The JWT through `jsonwebtoken` (HS256 on `ring`, which the workspace
//! already builds for TLS; `alg: none` and other algorithms refused). A `dir`
//! JWE is one AES-GCM seal with base64url framing (RFC 7516 compact form, the
//! encoded header as the additional data), sealed with the workspace's
//! `aes-gcm`. The readers are here too so tests and the fixed examples can check
//! what a key carries.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// Which form the provider key takes (the notes leave it open, so the sim can
/// issue each, and every JWE key derivation the notes list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum KeyForm {
    /// HS256 JWT signed with the partner API key.
    #[default]
    Jwt,
    /// JWE `dir` + `A256GCM` with the full 32-byte SHA-256 of the webhook secret.
    JweA256gcm,
    /// JWE `dir` + `A256GCM` with the 32 ASCII bytes of the first 32 hex digits
    /// of SHA-256(secret) (Teamtailor's sample, read literally).
    JweA256gcmHex,
    /// JWE `dir` + `A128GCM` with the first 16 bytes of SHA-256(secret).
    JweA128gcm,
}

impl KeyForm {
    pub fn label(self) -> &'static str {
        match self {
            KeyForm::Jwt => "JWT (HS256, partner API key)",
            KeyForm::JweA256gcm => "JWE dir/A256GCM (SHA-256 of the webhook secret)",
            KeyForm::JweA256gcmHex => "JWE dir/A256GCM (first 32 hex digits of SHA-256)",
            KeyForm::JweA128gcm => "JWE dir/A128GCM (first 16 bytes of SHA-256)",
        }
    }
}

/// The AES key and content algorithm a JWE form uses.
fn jwe_key(form: KeyForm, webhook_secret: &str) -> Option<(Vec<u8>, &'static str)> {
    let digest = Sha256::digest(webhook_secret.as_bytes());
    match form {
        KeyForm::Jwt => None,
        KeyForm::JweA256gcm => Some((digest.to_vec(), "A256GCM")),
        KeyForm::JweA256gcmHex => Some((hex::encode(digest).as_bytes()[..32].to_vec(), "A256GCM")),
        KeyForm::JweA128gcm => Some((digest[..16].to_vec(), "A128GCM")),
    }
}

/// AES-GCM with a 16- or 32-byte key (`A128GCM` / `A256GCM`).
fn seal(key: &[u8], nonce: &[u8; 12], payload: Payload<'_, '_>) -> Result<Vec<u8>, String> {
    let nonce = Nonce::from_slice(nonce);
    match key.len() {
        16 => Aes128Gcm::new_from_slice(key)
            .map_err(|e| e.to_string())?
            .encrypt(nonce, payload),
        32 => Aes256Gcm::new_from_slice(key)
            .map_err(|e| e.to_string())?
            .encrypt(nonce, payload),
        n => return Err(format!("no AES-GCM key has {n} bytes")),
    }
    .map_err(|_| "sealing failed".to_owned())
}

fn open(key: &[u8], nonce: &[u8], payload: Payload<'_, '_>) -> Option<Vec<u8>> {
    let nonce: [u8; 12] = nonce.try_into().ok()?;
    let nonce = Nonce::from_slice(&nonce);
    match key.len() {
        16 => Aes128Gcm::new_from_slice(key)
            .ok()?
            .decrypt(nonce, payload)
            .ok(),
        32 => Aes256Gcm::new_from_slice(key)
            .ok()?
            .decrypt(nonce, payload)
            .ok(),
        _ => None,
    }
}

/// Issue a provider key carrying `claims` (the activation form's values).
pub fn issue_provider_key(
    form: KeyForm,
    claims: &Map<String, Value>,
    api_key: &str,
    webhook_secret: &str,
) -> Result<String, String> {
    let Some((key, enc)) = jwe_key(form, webhook_secret) else {
        return jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(api_key.as_bytes()),
        )
        .map_err(|e| format!("signing the provider key: {e}"));
    };
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "dir", "enc": enc}).to_string());
    let plaintext = serde_json::to_vec(claims).map_err(|e| e.to_string())?;
    let mut nonce = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut nonce);
    let sealed = seal(
        &key,
        &nonce,
        Payload {
            msg: &plaintext,
            aad: header.as_bytes(),
        },
    )?;
    let (ciphertext, tag) = sealed.split_at(sealed.len() - 16);
    Ok(format!(
        "{header}..{}.{}.{}",
        URL_SAFE_NO_PAD.encode(nonce),
        URL_SAFE_NO_PAD.encode(ciphertext),
        URL_SAFE_NO_PAD.encode(tag)
    ))
}

/// Read a provider key the way the notes tell a partner to: three parts → an
/// HS256 JWT verified with the API key (`exp` honoured when present); five →
/// a `dir` JWE, each key derivation tried for the header's `enc`. Answers the
/// claims and the form.
pub fn read_provider_key(
    token: &str,
    api_key: &str,
    webhook_secret: &str,
) -> Result<(Map<String, Value>, KeyForm), String> {
    let parts: Vec<&str> = token.split('.').collect();
    match parts.as_slice() {
        [_, _, _] => {
            let mut validation = Validation::new(Algorithm::HS256);
            validation.required_spec_claims.clear();
            validation.validate_aud = false;
            let data = jsonwebtoken::decode::<Map<String, Value>>(
                token,
                &DecodingKey::from_secret(api_key.as_bytes()),
                &validation,
            )
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    "the provider key has expired (exp)".to_owned()
                }
                _ => format!("not a valid HS256 JWT signed with the API key: {e}"),
            })?;
            Ok((data.claims, KeyForm::Jwt))
        }
        [header, encrypted_key, iv, ciphertext, tag] => {
            let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|e| e.to_string());
            let fields: Value = serde_json::from_slice(&decode(header)?)
                .map_err(|e| format!("the JWE header is not JSON: {e}"))?;
            if fields["alg"] != "dir" || !encrypted_key.is_empty() {
                return Err("a JWE provider key must use `alg: dir`".into());
            }
            let mut sealed = decode(ciphertext)?;
            sealed.extend(decode(tag)?);
            let iv = decode(iv)?;
            for form in [
                KeyForm::JweA256gcm,
                KeyForm::JweA256gcmHex,
                KeyForm::JweA128gcm,
            ] {
                let Some((key, enc)) = jwe_key(form, webhook_secret) else {
                    continue;
                };
                if fields["enc"] != enc {
                    continue;
                }
                let payload = Payload {
                    msg: &sealed,
                    aad: header.as_bytes(),
                };
                if let Some(plaintext) = open(&key, &iv, payload) {
                    let claims: Map<String, Value> = serde_json::from_slice(&plaintext)
                        .map_err(|e| format!("the JWE does not carry a JSON object: {e}"))?;
                    return Ok((claims, form));
                }
            }
            Err("a JWE no key derived from the webhook secret opens".into())
        }
        _ => Err(format!(
            "a provider key has 3 parts (JWT) or 5 (JWE), this one {}",
            parts.len()
        )),
    }
}

/// `v1` of `Teamtailor-Signature`: over `"<t>.<event id>"`, not the body.
pub fn signature_v1(webhook_secret: &str, t: i64, event_id: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(webhook_secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(format!("{t}.{event_id}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The whole header value.
pub fn signature_header(webhook_secret: &str, t: i64, event_id: &str) -> String {
    format!("t={t},v1={}", signature_v1(webhook_secret, t, event_id))
}
