//! Re-encrypting everything sealed under one master key with another, in one
//! transaction, and a check that tells which key the database is sealed with.

use crate::{on_pool, Cipher, Store, StoreError, StoreResult};

const KEY_CHECK: &str = "master_key.check";
const KEY_CHECK_PLAINTEXT: &[u8] = b"screenhub master key check";

/// Every sealed column: table, key column, sealed column.
const SEALED: [(&str, &str, &str); 8] = [
    ("accounts", "id", "ats_credentials_enc"),
    ("accounts", "id", "token_enc"),
    ("webhook_endpoints", "id", "secret_enc"),
    ("webhook_endpoints", "id", "old_secret_enc"),
    ("orders", "id", "pii_enc"),
    ("orders", "id", "intake_enc"),
    ("deliveries", "id", "payload_enc"),
    (
        "idempotency_keys",
        "api_key_id || ':' || key",
        "response_body",
    ),
];

impl Store {
    /// Does the configured master key open this database? The first call on a
    /// new database records a sealed check value.
    pub async fn check_master_key(&self, now: i64) -> StoreResult<()> {
        let sealed: Option<String> = on_pool!(self, read, |pool| {
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(KEY_CHECK)
                .fetch_optional(pool)
                .await?
        });
        match sealed {
            Some(hex_sealed) => {
                let bytes = hex::decode(hex_sealed).map_err(StoreError::corrupt)?;
                self.cipher.open(&bytes).map(|_| ())
            }
            None => {
                let sealed = hex::encode(self.cipher.seal(KEY_CHECK_PLAINTEXT));
                on_pool!(self, write, |pool| {
                    sqlx::query(
                        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING",
                    )
                    .bind(KEY_CHECK)
                    .bind(&sealed)
                    .bind(now)
                    .execute(pool)
                    .await?;
                });
                Ok(())
            }
        }
    }

    /// Re-seal every secret and all candidate data under `next`, and rebuild the
    /// email index, in one transaction: either all of it moves or none does.
    /// Returns how many values were re-sealed. The store keeps using its own
    /// cipher; open a new store with `next` afterwards.
    pub async fn reencrypt(&self, next: &Cipher, now: i64) -> StoreResult<u64> {
        let mut count = 0u64;
        on_pool!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            for (table, key, column) in SEALED {
                let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(&format!(
                    "SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL"
                ))
                .fetch_all(&mut *tx)
                .await?;
                for (id, sealed) in rows {
                    let plain = self.cipher.open(&sealed)?;
                    sqlx::query(&format!(
                        "UPDATE {table} SET {column} = $1 WHERE {key} = $2"
                    ))
                    .bind(next.seal(&plain))
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                    count += 1;
                }
            }
            // The email index is keyed by the master key too.
            let orders: Vec<(String, Vec<u8>)> =
                sqlx::query_as("SELECT id, pii_enc FROM orders WHERE pii_enc IS NOT NULL")
                    .fetch_all(&mut *tx)
                    .await?;
            for (id, sealed) in orders {
                let payload: serde_json::Value =
                    serde_json::from_slice(&next.open(&sealed)?).map_err(StoreError::corrupt)?;
                let email = payload["candidate"]["email"].as_str().unwrap_or_default();
                sqlx::query("UPDATE orders SET email_hash = $1 WHERE id = $2")
                    .bind(next.index_hash(email))
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
                "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(KEY_CHECK)
            .bind(hex::encode(next.seal(KEY_CHECK_PLAINTEXT)))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        self.cache.invalidate();
        Ok(count)
    }
}
