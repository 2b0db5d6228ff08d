//! The HTTP edge: every answer's envelope. A failure becomes
//! `{"success": false, "error": {"code", "message", "details"}}` with the status its kind
//! calls for; a server error is logged once here, with the request's id, and answered
//! without internals.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tracing::Instrument;

pub use crate::answer::{created, ok, page, page_raw};
use crate::error::{DomainError, ErrorKind};

/// A failure as an HTTP answer: the domain error and the status its kind calls for.
#[derive(Debug)]
pub struct ApiError(pub DomainError);

pub type ApiResult<T> = Result<T, ApiError>;

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> ApiError {
        ApiError(e)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> ApiError {
        ApiError(e.into())
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> ApiError {
        ApiError(e.into())
    }
}

impl std::ops::Deref for ApiError {
    type Target = DomainError;
    fn deref(&self) -> &DomainError {
        &self.0
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ApiError {}

/// The status of an error of `kind`.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::TooMany => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::DiskFull => StatusCode::INSUFFICIENT_STORAGE,
    }
}

/// The cause of a server error, carried from the answer to the request log (`trace_requests`),
/// which knows the request's id.
#[derive(Clone, Debug)]
pub struct FailureCause {
    pub kind: ErrorKind,
    pub cause: String,
}

/// The header carrying a request's id, taken from the caller (a proxy's) when it sends a
/// short plain one, else made here; answered back on every response.
pub const REQUEST_ID: &str = "x-request-id";

/// A request's id, in the request's extensions for handlers that want it.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Middleware: gives every request an id, runs it inside a `request` span carrying that id
/// (so whatever is logged while answering it names the request), answers the id in
/// `x-request-id`, and logs a server error's cause once, here.
pub async fn trace_requests(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_string)
        .unwrap_or_else(|| crate::util::random_token(9));
    req.extensions_mut().insert(RequestId(id.clone()));
    let span =
        tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path());
    let mut response = next.run(req).instrument(span.clone()).await;
    if let Some(failure) = response.extensions_mut().remove::<FailureCause>() {
        span.in_scope(|| match failure.kind {
            ErrorKind::Internal => tracing::error!(error = %failure.cause, "request failed"),
            ErrorKind::DiskFull => {
                tracing::error!(error = %failure.cause, "the database's disk is full")
            }
            _ => tracing::warn!(error = %failure.cause, "the database is not answering"),
        });
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

impl IntoResponse for DomainError {
    fn into_response(self) -> Response {
        let body = json!({
            "success": false,
            "error": {"code": self.code, "message": self.message, "details": self.details},
        });
        let mut response = (status_of(self.kind), axum::Json(body)).into_response();
        if self.kind.is_server() {
            response.extensions_mut().insert(FailureCause {
                kind: self.kind,
                cause: self.cause.unwrap_or_else(|| self.message.clone()),
            });
        }
        response
    }
}
