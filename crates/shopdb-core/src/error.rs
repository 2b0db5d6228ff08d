//! The one error type at the HTTP edge. Every failure becomes the envelope
//! `{"success": false, "error": {"code", "message", "details"}}` with the matching status;
//! server errors are logged with their cause and answered without internals.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
    /// For a server error: what went wrong underneath, in one line with any password in a URL
    /// hidden. Logged and shown by the command line; never sent to a client.
    pub cause: Option<String>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Value::Null,
            cause: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = details;
        self
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn too_large() -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "request body is larger than the 1 MiB limit",
        )
    }

    /// 422 with `details` mapping each bad field to what is wrong with it.
    pub fn validation(fields: Map<String, Value>) -> ApiError {
        let names: Vec<&str> = fields.keys().map(String::as_str).collect();
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            format!("invalid fields: {}", names.join(", ")),
        )
        .with_details(Value::Object(fields))
    }

    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        let mut m = Map::new();
        m.insert(field.to_string(), Value::String(message.into()));
        ApiError::validation(m)
    }

    /// Logs `cause` and answers 500 without it.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        let cause = crate::db::redact_urls(&crate::db::one_line(&cause.to_string()));
        tracing::error!(error = %cause, "request failed");
        let mut e = ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the server could not complete the request; the error has been logged",
        );
        e.cause = Some(cause);
        e
    }
}

/// The message of a write a unique index refused.
const DUPLICATE: &str = "the change conflicts with an existing record";

/// The code of a write the database undid to break a deadlock; sending it again succeeds.
const RETRY: &str = "retry";

/// Codes of errors that are the database's, not the request's (see `is_systemic`).
const DISK_FULL: &str = "disk_full";
const UNAVAILABLE: &str = "database_unavailable";

impl ApiError {
    /// A write the database undid to break a deadlock with another transaction.
    pub fn is_retryable(&self) -> bool {
        self.code == RETRY
    }

    /// True when the failure is the database's, not the request's: its disk is full or it
    /// is not answering. A batch stops as a whole instead of blaming its records one by one.
    pub fn is_systemic(&self) -> bool {
        self.code == DISK_FULL || self.code == UNAVAILABLE
    }

    /// True when a batch cannot go on past this error: it is systemic, or running the whole
    /// transaction again can cure it.
    pub fn stops_batch(&self) -> bool {
        self.is_retryable() || self.is_systemic()
    }

    /// This error, marked as one that running the whole transaction again can cure.
    pub fn into_retry(self) -> ApiError {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: RETRY,
            ..self
        }
    }
}

/// What went wrong, in one line, for the command line and logs: the cause of a server error,
/// else the message with each bad field and why.
impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(cause) = &self.cause {
            return f.write_str(cause);
        }
        match &self.details {
            Value::Object(fields) if self.status == StatusCode::UNPROCESSABLE_ENTITY => {
                let each: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| match v {
                        Value::String(why) => format!("{k} {why}"),
                        other => format!("{k} {other}"),
                    })
                    .collect();
                write!(f, "invalid fields: {}", each.join("; "))
            }
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ApiError {}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> ApiError {
        if crate::db::is_unique_violation(&e) {
            return ApiError::conflict(DUPLICATE);
        }
        if crate::db::is_deadlock(&e) {
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                RETRY,
                "the database undid this write to break a deadlock with another; send it again",
            );
        }
        if crate::db::is_foreign_key_violation(&e) {
            return ApiError::conflict("the change conflicts with records that refer to this one");
        }
        if crate::db::is_disk_full(&e) {
            let cause = crate::db::one_line(&e.to_string());
            tracing::error!(error = %cause, "the database's disk is full");
            let mut full = ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                DISK_FULL,
                "the database's disk is full, so nothing was written: free space where the \
                 database keeps its files, then send it again",
            );
            full.cause = Some(cause);
            return full;
        }
        if crate::db::is_unavailable(&e) {
            let cause = crate::db::redact_urls(&crate::db::one_line(&e.to_string()));
            tracing::warn!(error = %cause, "the database is not answering");
            let mut down = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                UNAVAILABLE,
                "the database is not answering right now, so nothing was done: try again in a \
                 few seconds",
            );
            down.cause = Some(cause);
            return down;
        }
        ApiError::internal(e)
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> ApiError {
        ApiError::internal(format!("{e:#}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "success": false,
            "error": {"code": self.code, "message": self.message, "details": self.details},
        });
        (self.status, axum::Json(body)).into_response()
    }
}

/// `{"success": true, "data": …}` with status 200.
pub fn ok(data: Value) -> Response {
    axum::Json(json!({"success": true, "data": data})).into_response()
}

/// `{"success": true, "data": …}` with status 201.
pub fn created(data: Value) -> Response {
    (
        StatusCode::CREATED,
        axum::Json(json!({"success": true, "data": data})),
    )
        .into_response()
}

/// A page of a list with its `meta`.
pub fn page(data: Vec<Value>, page: i64, per_page: i64, total: i64) -> Response {
    let pages = if total == 0 {
        0
    } else {
        (total + per_page - 1) / per_page
    };
    axum::Json(json!({
        "success": true,
        "data": data,
        "meta": {"page": page, "per_page": per_page, "total": total, "pages": pages},
    }))
    .into_response()
}

/// A page whose `data` is already JSON text (built by the database).
pub fn page_raw(data: &str, page: i64, per_page: i64, total: i64) -> Response {
    let pages = if total == 0 {
        0
    } else {
        (total + per_page - 1) / per_page
    };
    // Same key order as `page` (serde_json sorts object keys).
    let body = format!(
        r#"{{"data":{data},"meta":{{"page":{page},"pages":{pages},"per_page":{per_page},"total":{total}}},"success":true}}"#
    );
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_in_one_line_what_failed() {
        let e = ApiError::internal("error returned from database:\n  bad row at mysql://u:pw@h/db");
        assert_eq!(
            e.to_string(),
            "error returned from database: bad row at mysql://u:***@h/db"
        );
        assert!(
            !e.message.contains("database"),
            "clients never see the cause"
        );
        let mut fields = Map::new();
        fields.insert("hostname".into(), json!("is required"));
        fields.insert("mapx".into(), json!("must be a number"));
        assert_eq!(
            ApiError::validation(fields).to_string(),
            "invalid fields: hostname is required; mapx must be a number"
        );
        assert_eq!(
            ApiError::conflict("asset A1 is in use").to_string(),
            "asset A1 is in use"
        );
    }
}
