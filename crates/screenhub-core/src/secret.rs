//! Bearer secrets: vendor API keys, External Trigger Tokens, webhook secrets.
//! Each carries ≥ 256 bits of randomness and a recognisable prefix; only a hash
//! is used to find one, and hashes are compared in constant time.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Prefix of a vendor API key.
pub const VENDOR_KEY_PREFIX: &str = "shk_";
/// Prefix of an External Trigger Token (what the employer pastes into Ashby).
pub const TRIGGER_TOKEN_PREFIX: &str = "sht_";
/// Prefix of a Standard Webhooks signing secret.
pub const WEBHOOK_SECRET_PREFIX: &str = "whsec_";

fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

/// A new bearer secret: prefix + 43 characters of URL-safe base64 (256 bits).
pub fn generate_token(prefix: &str) -> String {
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(random_bytes()))
}

/// A new webhook secret in the Standard Webhooks form `whsec_<base64>`.
pub fn generate_webhook_secret() -> String {
    format!("{WEBHOOK_SECRET_PREFIX}{}", STANDARD.encode(random_bytes()))
}

/// The lookup hash of a bearer secret. Secrets are high-entropy, so a plain
/// SHA-256 is enough: there is nothing to brute-force.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

pub fn hashes_equal(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// What may be shown of a secret: its prefix and the first few characters.
pub fn display_prefix(token: &str) -> String {
    let visible: String = token.chars().take(12).collect();
    format!("{visible}…")
}

/// Does this look like one of our bearer secrets? Used to give a precise error.
pub fn looks_like(token: &str, prefix: &str) -> bool {
    token.len() == prefix.len() + 43 && token.starts_with(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_prefixed() {
        let a = generate_token(TRIGGER_TOKEN_PREFIX);
        let b = generate_token(TRIGGER_TOKEN_PREFIX);
        assert_ne!(a, b);
        assert!(looks_like(&a, TRIGGER_TOKEN_PREFIX));
        assert!(!looks_like(&a, VENDOR_KEY_PREFIX));
        assert!(hashes_equal(&hash_token(&a), &hash_token(&a)));
        assert!(!hashes_equal(&hash_token(&a), &hash_token(&b)));
        assert!(display_prefix(&a).starts_with("sht_"));
    }

    #[test]
    fn webhook_secret_is_standard_webhooks_form() {
        let s = generate_webhook_secret();
        let raw = STANDARD
            .decode(s.strip_prefix(WEBHOOK_SECRET_PREFIX).unwrap())
            .unwrap();
        assert_eq!(raw.len(), 32);
    }
}
