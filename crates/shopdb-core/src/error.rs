//! The one error type of the engine, hooks, services and plugins: what failed, of which kind,
//! in words a user reads. It knows nothing of HTTP; the edge (`envelope`) turns a kind into a
//! status and the error into the answer envelope, and logs server errors there, once.

use serde_json::{Map, Value};

/// What kind of failure it is; the HTTP edge answers each with its status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request itself is malformed (a parameter that means nothing).
    BadRequest,
    /// No valid login or token.
    Unauthorized,
    /// Logged in, but not allowed to.
    Forbidden,
    /// What it names does not exist.
    NotFound,
    /// A method the path does not take.
    MethodNotAllowed,
    /// It clashes with the stored state (a stale version, a record still in use).
    Conflict,
    /// The body is larger than accepted.
    TooLarge,
    /// Fields that break the rules, each named in `details`.
    Invalid,
    /// Too many attempts in a short time.
    TooMany,
    /// A fault of the server; the cause is logged, never shown.
    Internal,
    /// The database is not answering, or undid the write to break a deadlock.
    Unavailable,
    /// The database's disk is full.
    DiskFull,
}

impl ErrorKind {
    /// The request's fault, not the server's.
    pub fn is_client(self) -> bool {
        !self.is_server()
    }

    pub fn is_server(self) -> bool {
        matches!(
            self,
            ErrorKind::Internal | ErrorKind::Unavailable | ErrorKind::DiskFull
        )
    }
}

#[derive(Debug)]
pub struct DomainError {
    pub kind: ErrorKind,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
    /// For a server error: what went wrong underneath, in one line with any password in a URL
    /// hidden. Logged and shown by the command line; never sent to a client.
    pub cause: Option<String>,
}

pub type DomainResult<T> = Result<T, DomainError>;

impl DomainError {
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> DomainError {
        DomainError {
            kind,
            code,
            message: message.into(),
            details: Value::Null,
            cause: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> DomainError {
        self.details = details;
        self
    }

    pub fn bad_request(message: impl Into<String>) -> DomainError {
        DomainError::new(ErrorKind::BadRequest, "bad_request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> DomainError {
        DomainError::new(ErrorKind::Unauthorized, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> DomainError {
        DomainError::new(ErrorKind::Forbidden, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> DomainError {
        DomainError::new(ErrorKind::NotFound, "not_found", message)
    }

    pub fn conflict(message: impl Into<String>) -> DomainError {
        DomainError::new(ErrorKind::Conflict, "conflict", message)
    }

    pub fn too_large() -> DomainError {
        DomainError::new(
            ErrorKind::TooLarge,
            "payload_too_large",
            "request body is larger than the 1 MiB limit",
        )
    }

    /// 422 with `details` mapping each bad field to what is wrong with it.
    pub fn validation(fields: Map<String, Value>) -> DomainError {
        let names: Vec<&str> = fields.keys().map(String::as_str).collect();
        DomainError::new(
            ErrorKind::Invalid,
            "validation_failed",
            format!("invalid fields: {}", names.join(", ")),
        )
        .with_details(Value::Object(fields))
    }

    pub fn field(field: &str, message: impl Into<String>) -> DomainError {
        let mut m = Map::new();
        m.insert(field.to_string(), Value::String(message.into()));
        DomainError::validation(m)
    }

    /// A fault of the server: `cause` (one line, passwords in URLs hidden) is kept for the log
    /// and the command line; a client reads only that the error has been logged.
    pub fn internal(cause: impl std::fmt::Display) -> DomainError {
        let cause = crate::db::redact_urls(&crate::db::one_line(&cause.to_string()));
        let mut e = DomainError::new(
            ErrorKind::Internal,
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

impl DomainError {
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
    pub fn into_retry(self) -> DomainError {
        DomainError {
            kind: ErrorKind::Unavailable,
            code: RETRY,
            ..self
        }
    }
}

/// What went wrong, in one line, for the command line and logs: the cause of a server error,
/// else the message with each bad field and why.
impl std::fmt::Display for DomainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(cause) = &self.cause {
            return f.write_str(cause);
        }
        match &self.details {
            Value::Object(fields) if self.kind == ErrorKind::Invalid => {
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

impl std::error::Error for DomainError {}

impl From<sqlx::Error> for DomainError {
    fn from(e: sqlx::Error) -> DomainError {
        if crate::db::is_unique_violation(&e) {
            return DomainError::conflict(DUPLICATE);
        }
        if crate::db::is_deadlock(&e) {
            return DomainError::new(
                ErrorKind::Unavailable,
                RETRY,
                "the database undid this write to break a deadlock with another; send it again",
            );
        }
        if crate::db::is_foreign_key_violation(&e) {
            return DomainError::conflict(
                "the change conflicts with records that refer to this one",
            );
        }
        if crate::db::is_disk_full(&e) {
            let cause = crate::db::one_line(&e.to_string());
            let mut full = DomainError::new(
                ErrorKind::DiskFull,
                DISK_FULL,
                "the database's disk is full, so nothing was written: free space where the \
                 database keeps its files, then send it again",
            );
            full.cause = Some(cause);
            return full;
        }
        if crate::db::is_unavailable(&e) {
            let cause = crate::db::redact_urls(&crate::db::one_line(&e.to_string()));
            let mut down = DomainError::new(
                ErrorKind::Unavailable,
                UNAVAILABLE,
                "the database is not answering right now, so nothing was done: try again in a \
                 few seconds",
            );
            down.cause = Some(cause);
            return down;
        }
        DomainError::internal(e)
    }
}

impl From<anyhow::Error> for DomainError {
    fn from(e: anyhow::Error) -> DomainError {
        DomainError::internal(format!("{e:#}"))
    }
}

// The names of contract 1.0 and 1.1, kept so plugins written for them still build; they go
// with contract 2.0. There the engine's error was `ApiError` and the answers were here.

/// The engine's error as contract 1.x named it.
#[deprecated(
    since = "1.2.0",
    note = "use error::DomainError in hooks and services, envelope::ApiError in HTTP handlers"
)]
pub type ApiError = DomainError;

/// A result with the engine's error, as contract 1.x named it.
#[deprecated(
    since = "1.2.0",
    note = "use error::DomainResult, or envelope::ApiResult in HTTP handlers"
)]
pub type ApiResult<T> = Result<T, DomainError>;

#[deprecated(since = "1.2.0", note = "use envelope::ok")]
pub fn ok(data: Value) -> axum::response::Response {
    crate::answer::ok(data)
}

#[deprecated(since = "1.2.0", note = "use envelope::created")]
pub fn created(data: Value) -> axum::response::Response {
    crate::answer::created(data)
}

#[deprecated(since = "1.2.0", note = "use envelope::page")]
pub fn page(data: Vec<Value>, page: i64, per_page: i64, total: i64) -> axum::response::Response {
    crate::answer::page(data, page, per_page, total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A hook and a handler as plugins for contract 1.x wrote them still build and answer.
    #[test]
    #[allow(deprecated)]
    fn names_of_contract_1_0_still_build() {
        fn hook() -> Result<(), ApiError> {
            Err(ApiError::field("fps", "must be at least 1"))
        }
        fn handler() -> ApiResult<axum::response::Response> {
            hook()?;
            Ok(ok(json!({})))
        }
        let answer = axum::response::IntoResponse::into_response(handler().unwrap_err());
        assert_eq!(answer.status().as_u16(), 422);
    }

    #[test]
    fn errors_say_in_one_line_what_failed() {
        let e =
            DomainError::internal("error returned from database:\n  bad row at mysql://u:pw@h/db");
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
            DomainError::validation(fields).to_string(),
            "invalid fields: hostname is required; mapx must be a number"
        );
        assert_eq!(
            DomainError::conflict("asset A1 is in use").to_string(),
            "asset A1 is in use"
        );
    }
}
