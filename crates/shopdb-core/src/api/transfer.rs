//! Import and export over the API: `POST /api/import/{resource}` (a multipart upload) and
//! `GET /api/export/{resource}`, for every resource the generic engine serves.

use std::sync::Arc;

use axum::extract::Multipart;
use axum::extract::multipart::MultipartRejection;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::auth::Actor;
use crate::envelope::{ApiResult, ok};
use crate::error::DomainError;
use crate::http::query_pairs;
use crate::resource::Resource;
use crate::state::AppState;
use crate::transfer::{self, ExportFormat, ImportJob, ImportOptions, Mapping, Quiet, SheetReader};

fn flag(name: &str, value: &str) -> Result<bool, DomainError> {
    match value.trim() {
        "true" | "1" | "on" | "yes" => Ok(true),
        "false" | "0" | "off" | "no" | "" => Ok(false),
        _ => Err(DomainError::bad_request(format!(
            "{name} must be true or false"
        ))),
    }
}

/// Takes one import option, from the query or a text part of the form.
fn set_option(options: &mut ImportOptions, name: &str, value: &str) -> Result<(), DomainError> {
    match name {
        "key" => options.key = value.trim().to_string(),
        "dryrun" => options.dry_run = flag(name, value)?,
        "createmissing" => options.create_missing = flag(name, value)?,
        "allornothing" => options.all_or_nothing = flag(name, value)?,
        "mapping" if !value.trim().is_empty() => options.mapping = Some(Mapping::parse(value)?),
        _ => {}
    }
    Ok(())
}

/// POST /api/import/{resource}: `file` (CSV or .xlsx) and the options as form parts or
/// query parameters; answers the import report (per row and totals, the batch id).
pub async fn import(
    res: Arc<Resource>,
    state: AppState,
    actor: Actor,
    query: Option<String>,
    form: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let mut form = form.map_err(|e| {
        DomainError::bad_request(format!(
            "send the file as multipart/form-data: {}",
            e.body_text()
        ))
    })?;
    let mut options = ImportOptions::default();
    for (name, value) in query_pairs(query.as_deref()) {
        set_option(&mut options, &name, &value)?;
    }
    let mut file: Option<(String, Vec<u8>)> = None;
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        let kind = if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            crate::error::ErrorKind::TooLarge
        } else {
            crate::error::ErrorKind::BadRequest
        };
        DomainError::new(
            kind,
            "bad_request",
            format!("cannot read the upload: {}", e.body_text()),
        )
    };
    while let Some(part) = form.next_field().await.map_err(unreadable)? {
        let name = part.name().unwrap_or_default().to_string();
        if name == "file" {
            let filename = part.file_name().unwrap_or("upload.csv").to_string();
            let bytes = part.bytes().await.map_err(unreadable)?;
            file = Some((filename, bytes.to_vec()));
        } else {
            let text = part.text().await.map_err(unreadable)?;
            set_option(&mut options, &name, &text)?;
        }
    }
    let (filename, bytes) = file.ok_or_else(|| {
        DomainError::field("file", "is required: the CSV or .xlsx file to import")
    })?;
    let reader = SheetReader::from_bytes(&filename, bytes)?;
    let resources = state.all_resources();
    let job = ImportJob {
        db: &state.db,
        actor: &actor,
        res: &res,
        resources: &resources,
    };
    let report = transfer::import(job, reader, &options, &mut Quiet).await?;
    Ok(ok(
        serde_json::to_value(report).map_err(DomainError::internal)?
    ))
}

/// GET /api/export/{resource}?format=csv|xlsx and the list's filters: the file.
pub async fn export(
    res: Arc<Resource>,
    state: AppState,
    query: Option<String>,
) -> ApiResult<Response> {
    let pairs = query_pairs(query.as_deref());
    let format = pairs
        .iter()
        .find(|(k, _)| k == "format")
        .map_or(Ok(ExportFormat::Csv), |(_, v)| ExportFormat::parse(v))?;
    let resources = state.all_resources();
    let mut out: Vec<u8> = Vec::new();
    transfer::export(
        &state.db, &res, &resources, &pairs, format, &mut out, &mut Quiet,
    )
    .await?;
    let filename = format!("{}.{}", res.path.replace('/', "-"), format.extension());
    Ok((
        [
            (CONTENT_TYPE, format.content_type().to_string()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        out,
    )
        .into_response())
}

/// The import report as the API document describes it.
pub fn report_schema() -> Value {
    let count = json!({"type": "integer", "minimum": 0});
    json!({"type": "object", "properties": {
        "resource": {"type": "string"},
        "key": {"type": "string"},
        "dryrun": {"type": "boolean"},
        "applied": {"type": "boolean"},
        "batchid": {"type": "string", "nullable": true},
        "totals": {"type": "object", "properties": {
            "rows": count, "created": count, "updated": count, "unchanged": count, "errors": count}},
        "rows": {"type": "array", "items": {"type": "object", "properties": {
            "line": {"type": "integer"},
            "action": {"type": "string", "enum": ["create", "update", "unchanged", "error"]},
            "key": {"type": "string", "nullable": true},
            "id": {"type": "integer", "nullable": true},
            "changes": {"type": "object"},
            "message": {"type": "string"},
            "errors": {"type": "object"}}}}}})
}
