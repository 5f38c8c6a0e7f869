//! Small documents the vendor sets as a whole, such as its Ashby custom fields.

use screenhub_core::clock::Millis;

use crate::{on_pool, Store, StoreError, StoreResult};

pub const CUSTOM_FIELDS: &str = "ashby.custom_fields";

impl Store {
    pub async fn get_setting(&self, key: &str) -> StoreResult<Option<serde_json::Value>> {
        let value: Option<String> = on_pool!(self, read, |pool| {
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await?
        });
        value
            .map(|v| serde_json::from_str(&v).map_err(StoreError::corrupt))
            .transpose()
    }

    pub async fn put_setting(
        &self,
        key: &str,
        value: &serde_json::Value,
        now: Millis,
    ) -> StoreResult<()> {
        let text = value.to_string();
        on_pool!(self, write, |pool| {
            sqlx::query(
                "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(key)
            .bind(&text)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}
