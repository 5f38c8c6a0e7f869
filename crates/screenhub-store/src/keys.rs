//! Vendor API keys: shown once, stored only as a hash.

use screenhub_core::secret::{self, VENDOR_KEY_PREFIX};
use screenhub_core::{clock::Millis, ApiKeyId};

use crate::{on_pool, ApiKey, Store, StoreError, StoreResult};

#[derive(sqlx::FromRow)]
struct ApiKeyRow {
    id: String,
    name: String,
    prefix: String,
    created_at: i64,
    revoked_at: Option<i64>,
    key_hash: Vec<u8>,
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = StoreError;
    fn try_from(r: ApiKeyRow) -> StoreResult<Self> {
        Ok(ApiKey {
            id: r.id.parse().map_err(StoreError::corrupt)?,
            name: r.name,
            prefix: r.prefix,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        })
    }
}

const SELECT: &str = "SELECT id, name, prefix, created_at, revoked_at, key_hash FROM api_keys";

impl Store {
    /// Create a vendor API key; the plaintext is returned here and never again.
    pub async fn create_api_key(&self, name: &str, now: Millis) -> StoreResult<(ApiKey, String)> {
        let id = ApiKeyId::generate();
        let token = secret::generate_token(VENDOR_KEY_PREFIX);
        let prefix = secret::display_prefix(&token);
        let hash = secret::hash_token(&token).to_vec();
        on_pool!(self, write, |pool| {
            sqlx::query(
                "INSERT INTO api_keys (id, name, key_hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id.as_str())
            .bind(name)
            .bind(&hash)
            .bind(&prefix)
            .bind(now)
            .execute(pool)
            .await?;
        });
        let key = ApiKey {
            id,
            name: name.to_owned(),
            prefix,
            created_at: now,
            revoked_at: None,
        };
        Ok((key, token))
    }

    /// The live key a presented bearer token belongs to.
    pub async fn find_api_key(&self, token: &str) -> StoreResult<Option<ApiKey>> {
        let hash = secret::hash_token(token);
        let sql = format!("{SELECT} WHERE key_hash = $1 AND revoked_at IS NULL");
        let row: Option<ApiKeyRow> = on_pool!(self, read, |pool| {
            sqlx::query_as(&sql)
                .bind(hash.to_vec())
                .fetch_optional(pool)
                .await?
        });
        match row {
            Some(row) if secret::hashes_equal(&row.key_hash, &hash) => Ok(Some(row.try_into()?)),
            _ => Ok(None),
        }
    }

    pub async fn list_api_keys(&self) -> StoreResult<Vec<ApiKey>> {
        let sql = format!("{SELECT} ORDER BY created_at, id");
        let rows: Vec<ApiKeyRow> = on_pool!(self, read, |pool| sqlx::query_as(&sql)
            .fetch_all(pool)
            .await?);
        rows.into_iter().map(TryInto::try_into).collect()
    }

    pub async fn revoke_api_key(&self, id: &ApiKeyId, now: Millis) -> StoreResult<()> {
        let done = on_pool!(self, write, |pool| {
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(id.as_str())
                .execute(pool)
                .await?
                .rows_affected()
        });
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
