//! `/v1/packages`: what the vendor sells, shown in Ashby as Assessment Types.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::ApiResult;
use crate::extract::{ApiJson, VendorKey};
use crate::manage::{self, PackageBody, PackagePatch};
use crate::state::AppState;
use crate::views::PackageView;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_packages, replace_packages, create_package))
        .routes(routes!(get_package, update_package, delete_package))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PackageList {
    pub data: Vec<PackageView>,
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
    key: VendorKey,
    ApiJson(body): ApiJson<Vec<PackageBody>>,
) -> ApiResult<Json<PackageList>> {
    let packages = manage::replace_packages(&state, &key.actor(), body).await?;
    Ok(Json(PackageList {
        data: packages.iter().map(PackageView::from).collect(),
    }))
}

#[utoipa::path(post, path = "/v1/packages", tag = "packages", request_body = PackageBody,
    responses((status = 201, body = PackageView), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn create_package(
    State(state): State<AppState>,
    key: VendorKey,
    ApiJson(body): ApiJson<PackageBody>,
) -> ApiResult<(StatusCode, Json<PackageView>)> {
    let package = manage::create_package(&state, &key.actor(), body).await?;
    Ok((StatusCode::CREATED, Json(PackageView::from(&package))))
}

#[utoipa::path(get, path = "/v1/packages/{id}", tag = "packages", params(("id" = String, Path)),
    responses((status = 200, body = PackageView), (status = 404, body = crate::error::ErrorBody)))]
async fn get_package(
    State(state): State<AppState>,
    _key: VendorKey,
    Path(id): Path<String>,
) -> ApiResult<Json<PackageView>> {
    Ok(Json(PackageView::from(
        &manage::find_package(&state, &id).await?,
    )))
}

#[utoipa::path(patch, path = "/v1/packages/{id}", tag = "packages", params(("id" = String, Path)), request_body = PackagePatch,
    responses((status = 200, body = PackageView), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn update_package(
    State(state): State<AppState>,
    key: VendorKey,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<PackagePatch>,
) -> ApiResult<Json<PackageView>> {
    let package = manage::update_package(&state, &key.actor(), &id, patch).await?;
    Ok(Json(PackageView::from(&package)))
}

/// Delete a package. Orders already placed keep their package id.
#[utoipa::path(delete, path = "/v1/packages/{id}", tag = "packages", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
async fn delete_package(
    State(state): State<AppState>,
    key: VendorKey,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    manage::delete_package(&state, &key.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
