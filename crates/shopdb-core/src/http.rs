//! Request helpers: the JSON body extractor and list parameters.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde_json::{Map, Value};

use crate::error::DomainError;

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Largest file an import takes over the API or the import page (the command line takes any
/// size).
pub const IMPORT_UPLOAD_LIMIT: usize = 64 * 1024 * 1024;

/// A JSON object body. Malformed JSON is a 400, a body over the limit a 413, both in the envelope.
pub struct JsonBody(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = DomainError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let value = JsonValue::from_request(req, state).await?.0;
        match value {
            Value::Object(map) => Ok(JsonBody(map)),
            _ => Err(DomainError::bad_request(
                "request body must be a JSON object",
            )),
        }
    }
}

/// Any JSON body (object or array).
pub struct JsonValue(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonValue {
    type Rejection = DomainError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        RawJson::from_request(req, state)
            .await?
            .parse()
            .map(JsonValue)
    }
}

/// A JSON body read but not yet parsed, for handlers that wait before they need it (a
/// collector batch waiting for its turn costs its bytes, not its parsed size). Empty and
/// too-large bodies are refused as `JsonValue` refuses them; `parse` gives the same errors
/// for malformed JSON.
pub struct RawJson(Bytes);

impl RawJson {
    pub fn parse(&self) -> Result<Value, DomainError> {
        serde_json::from_slice(&self.0)
            .map_err(|e| DomainError::bad_request(format!("malformed JSON: {e}")))
    }
}

impl<S: Send + Sync> FromRequest<S> for RawJson {
    type Rejection = DomainError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                DomainError::too_large()
            } else {
                DomainError::bad_request(format!("could not read the request body: {rejection}"))
            }
        })?;
        if bytes.is_empty() {
            return Err(DomainError::bad_request(
                "request body is empty: send a JSON object",
            ));
        }
        Ok(RawJson(bytes))
    }
}

/// Query-string pairs in order, decoded.
pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// `page`, `per_page`, `sort` and `q`, validated, plus the remaining pairs as filters.
#[derive(Debug, Clone)]
pub struct ListParams {
    pub page: i64,
    pub per_page: i64,
    pub sort: Option<String>,
    pub q: Option<String>,
    pub filters: Vec<(String, String)>,
}

pub const MAX_PER_PAGE: i64 = 200;
pub const MAX_PAGE: i64 = 1_000_000;

impl ListParams {
    /// For lists kept in one fixed order (newest first) with no text search: a `sort` or `q`
    /// is a 400 saying so, rather than being ignored.
    pub fn fixed_order(&self, what: &str) -> Result<(), DomainError> {
        let asked = if self.sort.is_some() {
            "sort"
        } else if self.q.is_some() {
            "q"
        } else {
            return Ok(());
        };
        Err(DomainError::bad_request(format!(
            "{what} is always newest first and takes no {asked}: use page and per_page"
        )))
    }

    pub fn parse(raw: Option<&str>) -> Result<ListParams, DomainError> {
        let mut params = ListParams {
            page: 1,
            per_page: 50,
            sort: None,
            q: None,
            filters: Vec::new(),
        };
        for (key, value) in query_pairs(raw) {
            match key.as_str() {
                "page" => params.page = bounded_int("page", &value, 1, MAX_PAGE)?,
                "per_page" => params.per_page = bounded_int("per_page", &value, 1, MAX_PER_PAGE)?,
                "sort" => params.sort = Some(value).filter(|v| !v.is_empty()),
                "q" => params.q = Some(value.trim().to_string()).filter(|v| !v.is_empty()),
                _ => params.filters.push((key, value)),
            }
        }
        Ok(params)
    }

    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.per_page
    }
}

fn bounded_int(name: &str, value: &str, min: i64, max: i64) -> Result<i64, DomainError> {
    match value.parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(DomainError::bad_request(format!(
            "{name} must be a whole number from {min} to {max}, got '{value}'"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_params_are_bounded() {
        let p = ListParams::parse(Some(
            "page=2&per_page=10&sort=-name&q=%20lathe%20&statusid=1",
        ))
        .unwrap();
        assert_eq!((p.page, p.per_page, p.offset()), (2, 10, 10));
        assert_eq!(p.q.as_deref(), Some("lathe"));
        assert_eq!(p.filters, vec![("statusid".to_string(), "1".to_string())]);
        for bad in [
            "page=0",
            "page=-1",
            "per_page=500",
            "page=abc",
            "page=99999999999",
        ] {
            assert!(
                ListParams::parse(Some(bad)).is_err(),
                "{bad} should be refused"
            );
        }
    }
}
