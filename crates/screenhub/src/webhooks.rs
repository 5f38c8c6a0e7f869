//! Standard Webhooks signing. During a secret rotation's grace period a webhook
//! carries two signatures, so receivers verify with either secret.

use http::HeaderMap;
use screenhub_store::EndpointSecrets;
use standardwebhooks::{Webhook, WebhookError};

/// Verify a webhook as a receiver does (the reference vendor, the tests).
pub fn verify(webhook: &Webhook, body: &[u8], headers: &HeaderMap) -> Result<(), WebhookError> {
    webhook.verify(body, headers)
}

pub fn sign(
    secrets: &EndpointSecrets,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, standardwebhooks::WebhookError> {
    let mut signature =
        standardwebhooks::Webhook::new(&secrets.current)?.sign(msg_id, timestamp, body)?;
    if let Some(previous) = &secrets.previous {
        signature.push(' ');
        signature
            .push_str(&standardwebhooks::Webhook::new(previous)?.sign(msg_id, timestamp, body)?);
    }
    Ok(signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_secrets_verify_during_rotation() {
        let old = screenhub_core::secret::generate_webhook_secret();
        let new = screenhub_core::secret::generate_webhook_secret();
        let ts = chrono::Utc::now().timestamp();
        let sig = sign(
            &EndpointSecrets {
                current: new.clone(),
                previous: Some(old.clone()),
            },
            "dlv_1",
            ts,
            b"{}",
        )
        .unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert("webhook-id", "dlv_1".parse().unwrap());
        headers.insert("webhook-timestamp", ts.to_string().parse().unwrap());
        headers.insert("webhook-signature", sig.parse().unwrap());
        for secret in [old, new] {
            standardwebhooks::Webhook::new(&secret)
                .unwrap()
                .verify(b"{}", &headers)
                .unwrap();
        }
        let stranger = screenhub_core::secret::generate_webhook_secret();
        assert!(standardwebhooks::Webhook::new(&stranger)
            .unwrap()
            .verify(b"{}", &headers)
            .is_err());
    }
}
