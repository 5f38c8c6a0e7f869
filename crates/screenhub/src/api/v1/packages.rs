//! `/v1/packages`: what the vendor sells, shown in Ashby as Assessment Types.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use screenhub_core::package::{validate_slug, PackageKind};
use screenhub_core::AccountId;
use screenhub_store::PackageInput;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, VendorKey};
use crate::state::AppState;
use crate::views::PackageView;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_packages, replace_packages, create_package))
        .routes(routes!(get_package, update_package, delete_package))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PackageBody {
    /// The vendor's slug: lowercase letters, digits, `-`, `_`.
    pub id: String,
    pub kind: PackageKind,
    /// Shown to recruiters in Ashby's Assessment Type dropdown.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The screenings the package contains, e.g. "County criminal search".
    #[serde(default)]
    pub screenings: Vec<String>,
    /// Offer it only to these accounts (default: every account).
    pub account_ids: Option<Vec<AccountId>>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PackagePatch {
    pub kind: Option<PackageKind>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub screenings: Option<Vec<String>>,
    /// `null` offers the package to every account again.
    #[serde(default, deserialize_with = "crate::extract::present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub account_ids: Option<Option<Vec<AccountId>>>,
    pub active: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PackageList {
    pub data: Vec<PackageView>,
}

/// A package as the vendor described it, checked; whether its `account_ids`
/// exist is for the caller to check against the store.
pub fn validate_package(body: PackageBody) -> Result<PackageInput, ApiError> {
    validate_slug(&body.id).map_err(ApiError::validation)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::validation("name must be 1–200 characters"));
    }
    if body.description.chars().count() > 2000 {
        return Err(ApiError::validation(
            "description may be at most 2000 characters",
        ));
    }
    if body.screenings.len() > 100
        || body
            .screenings
            .iter()
            .any(|s| s.trim().is_empty() || s.len() > 200)
    {
        return Err(ApiError::validation(
            "screenings must be at most 100 non-empty names of up to 200 characters",
        ));
    }
    Ok(PackageInput {
        id: body.id,
        kind: body.kind,
        name: name.to_owned(),
        description: body.description.trim().to_owned(),
        screenings: body
            .screenings
            .iter()
            .map(|s| s.trim().to_owned())
            .collect(),
        account_ids: body.account_ids,
        active: body.active,
    })
}

/// The whole set for `PUT /v1/packages`: each valid, no id twice.
pub fn validate_package_set(body: Vec<PackageBody>) -> Result<Vec<PackageInput>, ApiError> {
    if body.len() > 500 {
        return Err(ApiError::validation("at most 500 packages"));
    }
    let mut inputs: Vec<PackageInput> = Vec::with_capacity(body.len());
    for (i, p) in body.into_iter().enumerate() {
        let input = validate_package(p)
            .map_err(|e| ApiError::validation(format!("[{i}]: {}", e.message)))?;
        if inputs.iter().any(|other| other.id == input.id) {
            return Err(ApiError::validation(format!(
                "[{i}]: package id `{}` appears twice",
                input.id
            )));
        }
        inputs.push(input);
    }
    Ok(inputs)
}

impl PackagePatch {
    /// The package as it will be once patched.
    pub fn apply_to(self, current: PackageBody) -> PackageBody {
        PackageBody {
            id: current.id,
            kind: self.kind.unwrap_or(current.kind),
            name: self.name.unwrap_or(current.name),
            description: self.description.unwrap_or(current.description),
            screenings: self.screenings.unwrap_or(current.screenings),
            account_ids: self.account_ids.unwrap_or(current.account_ids),
            active: self.active.unwrap_or(current.active),
        }
    }
}

/// Every account a package is limited to must exist.
async fn check_accounts_exist(state: &AppState, input: &PackageInput) -> Result<(), ApiError> {
    for id in input.account_ids.iter().flatten() {
        if state.store.get_account(id).await?.is_none() {
            return Err(ApiError::validation(format!(
                "account_ids: there is no account {id}"
            )));
        }
    }
    Ok(())
}

#[utoipa::path(get, path = "/v1/packages", tag = "packages", responses((status = 200, body = PackageList)))]
async fn list_packages(
    State(state): State<AppState>,
    _key: VendorKey,
) -> ApiResult<Json<PackageList>> {
    let packages = state.store.list_packages().await?;
    Ok(Json(PackageList {
        data: packages.iter().map(PackageView::from).collect(),
    }))
}

/// Replace the whole set of packages (in the given order); those left out are deleted.
#[utoipa::path(put, path = "/v1/packages", tag = "packages", request_body = Vec<PackageBody>,
    responses((status = 200, body = PackageList), (status = 422, body = crate::error::ErrorBody)))]
async fn replace_packages(
    State(state): State<AppState>,
    _key: VendorKey,
    ApiJson(body): ApiJson<Vec<PackageBody>>,
) -> ApiResult<Json<PackageList>> {
    let inputs = validate_package_set(body)?;
    for (i, input) in inputs.iter().enumerate() {
        check_accounts_exist(&state, input)
            .await
            .map_err(|e| ApiError::validation(format!("[{i}]: {}", e.message)))?;
    }
    let packages = state.store.replace_packages(&inputs, state.now()).await?;
    Ok(Json(PackageList {
        data: packages.iter().map(PackageView::from).collect(),
    }))
}

#[utoipa::path(post, path = "/v1/packages", tag = "packages", request_body = PackageBody,
    responses((status = 201, body = PackageView), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn create_package(
    State(state): State<AppState>,
    _key: VendorKey,
    ApiJson(body): ApiJson<PackageBody>,
) -> ApiResult<(StatusCode, Json<PackageView>)> {
    let input = validate_package(body)?;
    check_accounts_exist(&state, &input).await?;
    let package = state.store.create_package(&input, state.now()).await?;
    Ok((StatusCode::CREATED, Json(PackageView::from(&package))))
}

async fn find(state: &AppState, id: &str) -> ApiResult<screenhub_store::Package> {
    state
        .store
        .get_package(id)
        .await?
        .ok_or_else(|| ApiError::not_found("package"))
}

#[utoipa::path(get, path = "/v1/packages/{id}", tag = "packages", params(("id" = String, Path)),
    responses((status = 200, body = PackageView), (status = 404, body = crate::error::ErrorBody)))]
async fn get_package(
    State(state): State<AppState>,
    _key: VendorKey,
    Path(id): Path<String>,
) -> ApiResult<Json<PackageView>> {
    Ok(Json(PackageView::from(&find(&state, &id).await?)))
}

#[utoipa::path(patch, path = "/v1/packages/{id}", tag = "packages", params(("id" = String, Path)), request_body = PackagePatch,
    responses((status = 200, body = PackageView), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn update_package(
    State(state): State<AppState>,
    _key: VendorKey,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<PackagePatch>,
) -> ApiResult<Json<PackageView>> {
    let current = find(&state, &id).await?;
    let input = validate_package(patch.apply_to(PackageBody {
        id: current.id,
        kind: current.kind,
        name: current.name,
        description: current.description,
        screenings: current.screenings,
        account_ids: current.account_ids,
        active: current.active,
    }))?;
    check_accounts_exist(&state, &input).await?;
    let package = state.store.update_package(&input, state.now()).await?;
    Ok(Json(PackageView::from(&package)))
}

/// Delete a package. Orders already placed keep their package id.
#[utoipa::path(delete, path = "/v1/packages/{id}", tag = "packages", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
async fn delete_package(
    State(state): State<AppState>,
    _key: VendorKey,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.store.delete_package(&id).await.map_err(|e| match e {
        screenhub_store::StoreError::NotFound => ApiError::not_found("package"),
        e => e.into(),
    })?;
    Ok(StatusCode::NO_CONTENT)
}
