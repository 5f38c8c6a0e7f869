//! Packages (Ashby's "Assessment Types").

use screenhub_core::clock::Millis;
use screenhub_core::package::{ats_type_id, PackageKind};
use screenhub_core::AccountId;

use crate::{on_pool, Package, PackageInput, Store, StoreError, StoreResult};

#[derive(sqlx::FromRow)]
struct PackageRow {
    id: String,
    ats_type_id: String,
    kind: String,
    name: String,
    description: String,
    screenings: String,
    account_ids: Option<String>,
    active: bool,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<PackageRow> for Package {
    type Error = StoreError;
    fn try_from(r: PackageRow) -> StoreResult<Self> {
        Ok(Package {
            ats_type_id: r.ats_type_id.parse().map_err(StoreError::corrupt)?,
            kind: PackageKind::parse(&r.kind).ok_or_else(|| StoreError::corrupt(&r.kind))?,
            screenings: serde_json::from_str(&r.screenings).map_err(StoreError::corrupt)?,
            account_ids: r
                .account_ids
                .map(|ids| serde_json::from_str::<Vec<AccountId>>(&ids))
                .transpose()
                .map_err(StoreError::corrupt)?,
            id: r.id,
            name: r.name,
            description: r.description,
            active: r.active,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

const SELECT: &str = "SELECT id, ats_type_id, kind, name, description, screenings, account_ids, \
    active, created_at, updated_at FROM packages";

const UPSERT: &str = "INSERT INTO packages (id, ats_type_id, kind, name, description, screenings, \
    account_ids, active, position, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
    ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name, \
    description = excluded.description, screenings = excluded.screenings, \
    account_ids = excluded.account_ids, active = excluded.active, position = excluded.position, \
    updated_at = excluded.updated_at";

/// Bind one package's columns to the upsert.
macro_rules! upsert_package {
    ($exec:expr, $p:expr, $position:expr, $now:expr) => {{
        let p: &PackageInput = $p;
        sqlx::query(UPSERT)
            .bind(&p.id)
            .bind(ats_type_id(&p.id).to_string())
            .bind(p.kind.as_str())
            .bind(&p.name)
            .bind(&p.description)
            .bind(serde_json::to_string(&p.screenings).expect("strings serialise"))
            .bind(
                p.account_ids
                    .as_ref()
                    .map(|ids| serde_json::to_string(ids).expect("ids serialise")),
            )
            .bind(p.active)
            .bind($position)
            .bind($now)
            .execute($exec)
            .await?
    }};
}

impl Store {
    pub async fn list_packages(&self) -> StoreResult<Vec<Package>> {
        Ok(self.packages().await?.to_vec())
    }

    /// Every package, from the cache when it is fresh.
    async fn packages(&self) -> StoreResult<std::sync::Arc<Vec<Package>>> {
        if let Some(hit) = self.cache.packages.get(&()) {
            return Ok(hit);
        }
        let read_at = self.cache.generation();
        let sql = format!("{SELECT} ORDER BY position, id");
        let rows: Vec<PackageRow> = on_pool!(self, read, |pool| sqlx::query_as(&sql)
            .fetch_all(pool)
            .await?);
        let packages = std::sync::Arc::new(
            rows.into_iter()
                .map(TryInto::try_into)
                .collect::<StoreResult<Vec<Package>>>()?,
        );
        self.cache
            .put(&self.cache.packages, read_at, (), packages.clone());
        Ok(packages)
    }

    pub async fn get_package(&self, id: &str) -> StoreResult<Option<Package>> {
        let sql = format!("{SELECT} WHERE id = $1");
        let row: Option<PackageRow> = on_pool!(self, read, |pool| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await?);
        row.map(TryInto::try_into).transpose()
    }

    pub async fn find_package_by_type_id(
        &self,
        type_id: &uuid::Uuid,
    ) -> StoreResult<Option<Package>> {
        let packages = self.packages().await?;
        Ok(packages.iter().find(|p| p.ats_type_id == *type_id).cloned())
    }

    /// Create a package; `Conflict` if its id is taken.
    pub async fn create_package(&self, p: &PackageInput, now: Millis) -> StoreResult<Package> {
        on_pool!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            let exists: Option<String> =
                sqlx::query_scalar("SELECT id FROM packages WHERE id = $1")
                    .bind(&p.id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if exists.is_some() {
                return Err(StoreError::Conflict(format!(
                    "a package with id `{}` already exists",
                    p.id
                )));
            }
            let position: i64 =
                sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) + 1 FROM packages")
                    .fetch_one(&mut *tx)
                    .await?;
            upsert_package!(&mut *tx, p, position, now);
            tx.commit().await?;
        });
        self.cache.invalidate();
        self.get_package(&p.id).await?.ok_or(StoreError::NotFound)
    }

    /// Update an existing package in place (its id and Ashby type id never change).
    pub async fn update_package(&self, p: &PackageInput, now: Millis) -> StoreResult<Package> {
        on_pool!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            let position: Option<i64> =
                sqlx::query_scalar("SELECT position FROM packages WHERE id = $1")
                    .bind(&p.id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let position = position.ok_or(StoreError::NotFound)?;
            upsert_package!(&mut *tx, p, position, now);
            tx.commit().await?;
        });
        self.cache.invalidate();
        self.get_package(&p.id).await?.ok_or(StoreError::NotFound)
    }

    /// Replace the whole set: listed packages are created or updated (in the
    /// given order), the others deleted. Existing orders keep their package id.
    pub async fn replace_packages(
        &self,
        packages: &[PackageInput],
        now: Millis,
    ) -> StoreResult<Vec<Package>> {
        on_pool!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            let existing: Vec<String> = sqlx::query_scalar("SELECT id FROM packages")
                .fetch_all(&mut *tx)
                .await?;
            for id in existing
                .iter()
                .filter(|id| !packages.iter().any(|p| &p.id == *id))
            {
                sqlx::query("DELETE FROM packages WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            for (position, p) in packages.iter().enumerate() {
                upsert_package!(&mut *tx, p, position as i64 + 1, now);
            }
            tx.commit().await?;
        });
        self.cache.invalidate();
        self.list_packages().await
    }

    pub async fn delete_package(&self, id: &str) -> StoreResult<()> {
        let deleted = on_pool!(self, write, |pool| {
            sqlx::query("DELETE FROM packages WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        self.cache.invalidate();
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
