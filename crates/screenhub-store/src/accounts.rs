//! Accounts and their External Trigger Tokens.

use screenhub_core::account::{AccountStatus, Ats, Environment};
use screenhub_core::event::EventType;
use screenhub_core::secret::{self, TRIGGER_TOKEN_PREFIX};
use screenhub_core::{clock::Millis, AccountId};

use crate::cache::TokenHolder;
use crate::events::insert_event;
use crate::health::health_from_row;
use crate::{on_pool, Account, AccountPatch, NewAccount, Store, StoreError, StoreResult};

#[derive(sqlx::FromRow)]
struct AccountRow {
    id: String,
    name: String,
    ats: String,
    environment: String,
    status: String,
    status_reason: Option<String>,
    disabled_at: Option<i64>,
    ats_api_base_url: String,
    has_key: bool,
    ats_key_title: Option<String>,
    token_prefix: String,
    created_at: i64,
    updated_at: i64,
    last_activity_at: Option<i64>,
    first_ats_call_at: Option<i64>,
    last_ats_call_at: Option<i64>,
    delivery_failures: i64,
    failing_since: Option<i64>,
    last_delivery_error: Option<String>,
    flagged_at: Option<i64>,
}

pub(crate) const ACCOUNT_SELECT: &str =
    "SELECT id, name, ats, environment, status, status_reason, \
    disabled_at, ats_api_base_url, (ats_credentials_enc IS NOT NULL) AS has_key, ats_key_title, \
    token_prefix, created_at, updated_at, last_activity_at, first_ats_call_at, last_ats_call_at, \
    delivery_failures, failing_since, last_delivery_error, flagged_at FROM accounts";

impl TryFrom<AccountRow> for Account {
    type Error = StoreError;
    fn try_from(r: AccountRow) -> StoreResult<Self> {
        Ok(Account {
            id: r.id.parse().map_err(StoreError::corrupt)?,
            name: r.name,
            ats: Ats::parse(&r.ats).ok_or_else(|| StoreError::corrupt(format!("ats {}", r.ats)))?,
            environment: Environment::parse(&r.environment)
                .ok_or_else(|| StoreError::corrupt(format!("environment {}", r.environment)))?,
            connection_status: AccountStatus::parse(&r.status)
                .ok_or_else(|| StoreError::corrupt(format!("account status {}", r.status)))?,
            status_reason: r.status_reason,
            disabled_at: r.disabled_at,
            ats_api_base_url: r.ats_api_base_url,
            has_ats_api_key: r.has_key,
            ats_key_title: r.ats_key_title,
            token_prefix: r.token_prefix,
            created_at: r.created_at,
            updated_at: r.updated_at,
            last_activity_at: r.last_activity_at,
            first_ats_call_at: r.first_ats_call_at,
            last_ats_call_at: r.last_ats_call_at,
            ats_health: health_from_row((
                r.delivery_failures,
                r.failing_since,
                r.last_delivery_error,
                r.flagged_at,
            )),
        })
    }
}

/// The ATS credentials of an account, opened for an outbound call.
#[derive(Clone)]
pub struct AtsCredentials {
    pub base_url: String,
    /// One sealed value whose shape the account's connector owns (Ashby: the
    /// API key as pasted; Greenhouse: a JSON object with a PATCH credential).
    pub api_key: String,
}

/// What an outbound call to an account's ATS needs: which ATS, where, and
/// the account's credentials if any are stored.
#[derive(Clone, Debug)]
pub struct AtsConnection {
    pub ats: Ats,
    pub credentials: Option<AtsCredentials>,
}

impl std::fmt::Debug for AtsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtsCredentials")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// A new External Trigger Token with its lookup hash, its sealed copy (for
    /// the connect page) and the prefix shown to people.
    fn mint_trigger_token(&self) -> (String, Vec<u8>, Vec<u8>, String) {
        let token = secret::generate_token(TRIGGER_TOKEN_PREFIX);
        let hash = secret::hash_token(&token).to_vec();
        let sealed = self.cipher.seal_str(&token);
        let prefix = secret::display_prefix(&token);
        (token, hash, sealed, prefix)
    }

    /// Create an account with a fresh External Trigger Token, returned once here.
    pub async fn create_account(
        &self,
        new: NewAccount,
        now: Millis,
    ) -> StoreResult<(Account, String)> {
        let id = AccountId::generate();
        let (token, token_hash, token_enc, prefix) = self.mint_trigger_token();
        let data = serde_json::json!({ "name": new.name });
        on_pool!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO accounts (id, name, ats, environment, status, ats_api_base_url, \
                 token_prefix, token_enc, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $8)",
            )
            .bind(id.as_str())
            .bind(&new.name)
            .bind(new.ats.as_str())
            .bind(new.environment.as_str())
            .bind(&new.ats_api_base_url)
            .bind(&prefix)
            .bind(&token_enc)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO account_tokens (token_hash, account_id, created_at) VALUES ($1, $2, $3)")
                .bind(&token_hash)
                .bind(id.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            insert_event!(
                tx,
                EventType::AccountCreated,
                Some(id.as_str()),
                None::<&str>,
                &data,
                now
            );
            tx.commit().await?;
        });
        self.cache.invalidate();
        let account = self.get_account(&id).await?.ok_or(StoreError::NotFound)?;
        Ok((account, token))
    }

    pub async fn get_account(&self, id: &AccountId) -> StoreResult<Option<Account>> {
        let sql = format!("{ACCOUNT_SELECT} WHERE id = $1");
        let row: Option<AccountRow> = on_pool!(self, read, |pool| {
            sqlx::query_as(&sql)
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?
        });
        row.map(TryInto::try_into).transpose()
    }

    /// Accounts, oldest first, after the cursor `after` (an account id).
    pub async fn list_accounts(
        &self,
        after: Option<&AccountId>,
        limit: u32,
    ) -> StoreResult<Vec<Account>> {
        let sql = format!("{ACCOUNT_SELECT} WHERE id > $1 ORDER BY id LIMIT $2");
        let rows: Vec<AccountRow> = on_pool!(self, read, |pool| {
            sqlx::query_as(&sql)
                .bind(after.map(|a| a.as_str()).unwrap_or(""))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// The account a presented External Trigger Token belongs to, if the token
    /// is current or inside its rotation grace period.
    pub async fn find_account_by_token(
        &self,
        token: &str,
        now: Millis,
    ) -> StoreResult<Option<Account>> {
        let hash = secret::hash_token(token);
        if let Some(hit) = self.cache.tokens.get(&hash) {
            if hit.token_expires_at.is_none_or(|at| at > now) {
                return Ok(Some(hit.account));
            }
        }
        let read_at = self.cache.generation();
        let sql = "SELECT t.token_hash, t.account_id, t.expires_at FROM account_tokens t \
                   WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > $2)";
        let row: Option<(Vec<u8>, String, Option<i64>)> = on_pool!(self, read, |pool| {
            sqlx::query_as(sql)
                .bind(hash.to_vec())
                .bind(now)
                .fetch_optional(pool)
                .await?
        });
        match row {
            Some((stored, account_id, token_expires_at))
                if secret::hashes_equal(&stored, &hash) =>
            {
                let id: AccountId = account_id.parse().map_err(StoreError::corrupt)?;
                let account = self.get_account(&id).await?;
                if let Some(account) = &account {
                    let holder = TokenHolder {
                        account: account.clone(),
                        token_expires_at,
                    };
                    self.cache.put(&self.cache.tokens, read_at, hash, holder);
                }
                Ok(account)
            }
            _ => Ok(None),
        }
    }

    pub async fn update_account(
        &self,
        id: &AccountId,
        patch: AccountPatch,
        now: Millis,
    ) -> StoreResult<Account> {
        let current = self.get_account(id).await?.ok_or(StoreError::NotFound)?;
        let name = patch.name.clone().unwrap_or(current.name.clone());
        let disabled_at = match patch.disabled {
            Some(true) => current.disabled_at.or(Some(now)),
            Some(false) => None,
            None => current.disabled_at,
        };
        let data = serde_json::json!({
            "name": name,
            "disabled": disabled_at.is_some(),
        });
        on_pool!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE accounts SET name = $1, disabled_at = $2, updated_at = $3 WHERE id = $4",
            )
            .bind(&name)
            .bind(disabled_at)
            .bind(now)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
            insert_event!(
                tx,
                EventType::AccountUpdated,
                Some(id.as_str()),
                None::<&str>,
                &data,
                now
            );
            tx.commit().await?;
        });
        self.cache.invalidate();
        self.get_account(id).await?.ok_or(StoreError::NotFound)
    }

    /// Mint a new External Trigger Token. Old tokens stop working now, or at
    /// `old_valid_until` when a grace period is asked for.
    pub async fn rotate_account_token(
        &self,
        id: &AccountId,
        old_valid_until: Option<Millis>,
        now: Millis,
    ) -> StoreResult<(Account, String)> {
        let (token, token_hash, token_enc, prefix) = self.mint_trigger_token();
        let expires = old_valid_until.unwrap_or(now);
        let data = serde_json::json!({ "old_token_valid_until": old_valid_until });
        on_pool!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(
                "UPDATE accounts SET token_prefix = $1, token_enc = $2, updated_at = $3 WHERE id = $4",
            )
            .bind(&prefix)
            .bind(&token_enc)
            .bind(now)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 0 {
                return Err(StoreError::NotFound);
            }
            // Shorten, never lengthen, the life of tokens already rotated out.
            sqlx::query(
                "UPDATE account_tokens SET expires_at = $1 WHERE account_id = $2 \
                 AND (expires_at IS NULL OR expires_at > $1)",
            )
            .bind(expires)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM account_tokens WHERE account_id = $1 AND expires_at <= $2")
                .bind(id.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO account_tokens (token_hash, account_id, created_at) VALUES ($1, $2, $3)")
                .bind(&token_hash)
                .bind(id.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            insert_event!(
                tx,
                EventType::AccountTokenRotated,
                Some(id.as_str()),
                None::<&str>,
                &data,
                now
            );
            tx.commit().await?;
        });
        self.cache.invalidate();
        let account = self.get_account(id).await?.ok_or(StoreError::NotFound)?;
        Ok((account, token))
    }

    /// The current External Trigger Token in clear (for the connect page only).
    pub async fn reveal_account_token(&self, id: &AccountId) -> StoreResult<String> {
        let sealed: Option<Vec<u8>> = on_pool!(self, read, |pool| {
            sqlx::query_scalar("SELECT token_enc FROM accounts WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?
        });
        self.cipher
            .open_string(&sealed.ok_or(StoreError::NotFound)?)
    }

    /// Store verified ATS credentials (`secret`, shaped by the account's
    /// connector): the account becomes `active`.
    pub async fn set_ats_credentials(
        &self,
        id: &AccountId,
        secret: &str,
        key_title: Option<&str>,
        now: Millis,
    ) -> StoreResult<Account> {
        self.store_ats_credentials(id, secret, key_title, true, now)
            .await
    }

    /// Store ATS credentials; `activate` also makes the account `active`
    /// (a verified key) rather than leaving its status as it is (an override
    /// that cannot be checked until it is used).
    pub async fn store_ats_credentials(
        &self,
        id: &AccountId,
        secret: &str,
        key_title: Option<&str>,
        activate: bool,
        now: Millis,
    ) -> StoreResult<Account> {
        let sealed = self.cipher.seal_str(secret);
        let data = serde_json::json!({ "key_title": key_title });
        let sql = if activate {
            "UPDATE accounts SET ats_credentials_enc = $1, ats_key_title = $2, status = 'active', \
             status_reason = NULL, updated_at = $3, last_activity_at = $3 WHERE id = $4"
        } else {
            "UPDATE accounts SET ats_credentials_enc = $1, ats_key_title = $2, updated_at = $3 WHERE id = $4"
        };
        let event = if activate {
            EventType::AccountConnected
        } else {
            EventType::AccountUpdated
        };
        on_pool!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(sql)
                .bind(&sealed)
                .bind(key_title)
                .bind(now)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if updated == 0 {
                return Err(StoreError::NotFound);
            }
            insert_event!(tx, event, Some(id.as_str()), None::<&str>, &data, now);
            tx.commit().await?;
        });
        self.cache.invalidate();
        self.get_account(id).await?.ok_or(StoreError::NotFound)
    }

    /// Forget an account's stored ATS credentials (e.g. an override removed).
    pub async fn clear_ats_credentials(&self, id: &AccountId, now: Millis) -> StoreResult<Account> {
        let data = serde_json::json!({ "ats_credentials": "removed" });
        on_pool!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(
                "UPDATE accounts SET ats_credentials_enc = NULL, ats_key_title = NULL, updated_at = $1 WHERE id = $2",
            )
            .bind(now)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 0 {
                return Err(StoreError::NotFound);
            }
            insert_event!(
                tx,
                EventType::AccountUpdated,
                Some(id.as_str()),
                None::<&str>,
                &data,
                now
            );
            tx.commit().await?;
        });
        self.cache.invalidate();
        self.get_account(id).await?.ok_or(StoreError::NotFound)
    }

    /// Move an account to `error` with a reason a person can act on.
    pub async fn set_account_error(
        &self,
        id: &AccountId,
        reason: &str,
        now: Millis,
    ) -> StoreResult<()> {
        let data = serde_json::json!({ "reason": reason });
        on_pool!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query(
                "UPDATE accounts SET status = 'error', status_reason = $1, updated_at = $2 \
                 WHERE id = $3 AND NOT (status = 'error' AND status_reason = $1)",
            )
            .bind(reason)
            .bind(now)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed > 0 {
                insert_event!(
                    tx,
                    EventType::AccountError,
                    Some(id.as_str()),
                    None::<&str>,
                    &data,
                    now
                );
            }
            tx.commit().await?;
        });
        self.cache.invalidate();
        Ok(())
    }

    /// The account's ATS base URL and credentials, opened, if any are stored.
    pub async fn ats_credentials(
        &self,
        id: &AccountId,
    ) -> StoreResult<Option<crate::AtsCredentials>> {
        Ok(self.ats_connection(id).await?.and_then(|c| c.credentials))
    }

    /// The account's ATS and its credentials, opened (`None`: no such account).
    pub async fn ats_connection(&self, id: &AccountId) -> StoreResult<Option<AtsConnection>> {
        if let Some(hit) = self.cache.credentials.get(id) {
            return Ok(hit);
        }
        let read_at = self.cache.generation();
        let row: Option<(String, String, Option<Vec<u8>>)> = on_pool!(self, read, |pool| {
            sqlx::query_as(
                "SELECT ats, ats_api_base_url, ats_credentials_enc FROM accounts WHERE id = $1",
            )
            .bind(id.as_str())
            .fetch_optional(pool)
            .await?
        });
        let connection = match row {
            Some((ats, base_url, sealed)) => Some(AtsConnection {
                ats: Ats::parse(&ats).ok_or_else(|| StoreError::corrupt(format!("ats {ats}")))?,
                credentials: match sealed {
                    Some(sealed) => Some(crate::AtsCredentials {
                        base_url,
                        api_key: self.cipher.open_string(&sealed)?,
                    }),
                    None => None,
                },
            }),
            None => None,
        };
        self.cache.put(
            &self.cache.credentials,
            read_at,
            id.clone(),
            connection.clone(),
        );
        Ok(connection)
    }

    /// The ATS called with the account's token: remember when, and (for an
    /// ATS with no key to verify) make a `pending` account `active` with an
    /// `account.connected` event. Written at most once a minute per account,
    /// so a busy ATS costs no write per call.
    pub async fn record_ats_call(
        &self,
        account: &Account,
        activate: bool,
        now: Millis,
    ) -> StoreResult<()> {
        let becomes_active = activate && account.connection_status == AccountStatus::Pending;
        if !becomes_active && account.last_ats_call_at.is_some_and(|at| at > now - 60_000) {
            return Ok(());
        }
        let data = serde_json::json!({ "first_call": true });
        on_pool!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE accounts SET first_ats_call_at = COALESCE(first_ats_call_at, $1), \
                 last_ats_call_at = $1 WHERE id = $2",
            )
            .bind(now)
            .bind(account.id.as_str())
            .execute(&mut *tx)
            .await?;
            if becomes_active {
                let changed = sqlx::query(
                    "UPDATE accounts SET status = 'active', status_reason = NULL, updated_at = $1 \
                     WHERE id = $2 AND status = 'pending'",
                )
                .bind(now)
                .bind(account.id.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if changed > 0 {
                    insert_event!(
                        tx,
                        EventType::AccountConnected,
                        Some(account.id.as_str()),
                        None::<&str>,
                        &data,
                        now
                    );
                }
            }
            tx.commit().await?;
        });
        self.cache.invalidate();
        Ok(())
    }
}
