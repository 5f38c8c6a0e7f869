//! `/v1/custom-fields`: the custom fields Ashby offers to sync (Ashby's shape).
//! Their values arrive on orders as `additional_fields`.

use axum::extract::State;
use axum::Json;
use screenhub_store::CUSTOM_FIELDS;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, VendorKey};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_custom_fields, put_custom_fields))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomFields {
    /// Ashby's field shape: `{id, name, type, possible_values?: [{key, value}], isRequired?}`;
    /// `type` is one of String, Date, DateRange, Number, ValueSelect,
    /// MultiValueSelect, Boolean, LongText, Email, Phone, Score, SocialLink, Url,
    /// Currency, Location.
    #[schema(value_type = Vec<Object>)]
    pub fields: Vec<screenhub_ashby::partner::CustomField>,
}

/// At most 200 fields, each with an id and a name, no id twice; select fields
/// with the options Ashby requires.
pub fn validate_custom_fields(
    fields: &[screenhub_ashby::partner::CustomField],
) -> Result<(), ApiError> {
    if fields.len() > 200 {
        return Err(ApiError::validation("at most 200 custom fields"));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, f) in fields.iter().enumerate() {
        if f.id.trim().is_empty() || f.name.trim().is_empty() {
            return Err(ApiError::validation(format!(
                "fields[{i}]: id and name must not be empty"
            )));
        }
        if !seen.insert(f.id.as_str()) {
            return Err(ApiError::validation(format!(
                "fields[{i}]: id `{}` appears twice",
                f.id
            )));
        }
        if let Some(problem) = f.options_problem() {
            return Err(ApiError::validation(format!(
                "fields[{i}] (`{}`): {problem}",
                f.id
            )));
        }
    }
    Ok(())
}

pub async fn load(
    state: &AppState,
) -> Result<Vec<screenhub_ashby::partner::CustomField>, ApiError> {
    match state.store.get_setting(CUSTOM_FIELDS).await? {
        Some(v) => serde_json::from_value(v).map_err(ApiError::internal),
        None => Ok(vec![]),
    }
}

#[utoipa::path(get, path = "/v1/custom-fields", tag = "custom fields", responses((status = 200, body = CustomFields)))]
async fn get_custom_fields(
    State(state): State<AppState>,
    _key: VendorKey,
) -> ApiResult<Json<CustomFields>> {
    Ok(Json(CustomFields {
        fields: load(&state).await?,
    }))
}

/// Replace the custom fields Ashby will offer to sync.
#[utoipa::path(put, path = "/v1/custom-fields", tag = "custom fields", request_body = CustomFields,
    responses((status = 200, body = CustomFields), (status = 422, body = crate::error::ErrorBody)))]
async fn put_custom_fields(
    State(state): State<AppState>,
    _key: VendorKey,
    ApiJson(body): ApiJson<CustomFields>,
) -> ApiResult<Json<CustomFields>> {
    validate_custom_fields(&body.fields)?;
    let value = serde_json::to_value(&body.fields).map_err(ApiError::internal)?;
    state
        .store
        .put_setting(CUSTOM_FIELDS, &value, state.now())
        .await?;
    Ok(Json(body))
}
