//! Standard Webhooks signing. During a secret rotation's grace period a webhook
//! carries two signatures, so receivers verify with either secret.

use http::HeaderMap;
use screenhub_store::EndpointSecrets;
use standardwebhooks::{Webhook, WebhookError};

/// How far `webhook-timestamp` may be from now: Standard Webhooks' 5 minutes.
const TOLERANCE_SECS: i64 = 5 * 60;

/// Verify a webhook as a receiver does (the reference vendor, the tests).
///
/// A timestamp far outside the tolerance is refused here first: the library
/// subtracts it from now unchecked, which panics (debug builds) or wraps
/// (release) for one near `i64::MIN`. Found by fuzzing.
pub fn verify(webhook: &Webhook, body: &[u8], headers: &HeaderMap) -> Result<(), WebhookError> {
    let timestamp = headers
        .get(standardwebhooks::HEADER_WEBHOOK_TIMESTAMP)
        .ok_or(WebhookError::MissingHeader("timestamp"))?
        .to_str()
        .map_err(|_| WebhookError::InvalidHeader("timestamp"))?
        .parse::<i64>()
        .map_err(|_| WebhookError::InvalidTimestamp)?;
    let now = chrono::Utc::now().timestamp();
    if timestamp < now - TOLERANCE_SECS {
        return Err(WebhookError::TimestampTooOldError);
    }
    if timestamp > now + TOLERANCE_SECS {
        return Err(WebhookError::FutureTimestampError);
    }
    webhook.verify(body, headers)
}

/// The `webhook-signature` header for a message. Refuses a message id that
/// receivers could not read back from the `webhook-id` header (HTTP header
/// values are read as visible ASCII), as its signature could never verify.
pub fn sign(
    secrets: &EndpointSecrets,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, standardwebhooks::WebhookError> {
    if !msg_id
        .bytes()
        .all(|b| (b' '..=b'~').contains(&b) || b == b'\t')
    {
        return Err(WebhookError::InvalidHeader("id"));
    }
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
        let mut headers = HeaderMap::new();
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

    /// Found by fuzzing (fuzz/regressions/webhook_signature): a timestamp
    /// near `i64::MIN` made verification panic on an overflow.
    #[test]
    fn absurd_timestamps_are_refused_without_panicking() {
        let secret = screenhub_core::secret::generate_webhook_secret();
        let webhook = Webhook::new(&secret).unwrap();
        for ts in [i64::MIN, i64::MIN + 1_000_000_000, -1, 0, i64::MAX] {
            let mut headers = HeaderMap::new();
            headers.insert("webhook-id", "dlv_1".parse().unwrap());
            headers.insert("webhook-timestamp", ts.into());
            headers.insert("webhook-signature", "v1,AAAA".parse().unwrap());
            assert!(verify(&webhook, b"{}", &headers).is_err(), "{ts}");
        }
    }

    /// Found by fuzzing (fuzz/regressions/webhook_signature): a message id
    /// outside visible ASCII was signed, and no receiver could verify it.
    #[test]
    fn an_id_receivers_cannot_read_is_not_signed() {
        let secrets = EndpointSecrets {
            current: screenhub_core::secret::generate_webhook_secret(),
            previous: None,
        };
        for id in ["\u{6a9}", "é", "dlv\n1", "dlv\u{7f}"] {
            assert!(sign(&secrets, id, 1_700_000_000, b"{}").is_err(), "{id:?}");
        }
        for id in ["dlv_01J0", "dlv 1", "dlv\t1", ""] {
            assert!(sign(&secrets, id, 1_700_000_000, b"{}").is_ok(), "{id:?}");
        }
    }
}
