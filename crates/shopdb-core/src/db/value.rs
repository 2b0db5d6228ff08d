//! Values that cross the database boundary, typed so that NULLs bind with the right type
//! (PostgreSQL refuses a text NULL for a bigint column).

use serde_json::Value;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Row};

/// The storage kind of a value; every column type maps onto one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    Int,
    Float,
    /// Stored as a small integer 0/1 on every backend, shown as JSON true/false.
    Bool,
    Text,
    Bytes,
}

/// One value to bind into a query.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlValue {
    Null(ValueKind),
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
}

impl SqlValue {
    pub fn text(s: impl Into<String>) -> SqlValue {
        SqlValue::Text(s.into())
    }

    pub fn opt_text(s: Option<impl Into<String>>) -> SqlValue {
        s.map_or(SqlValue::Null(ValueKind::Text), |s| {
            SqlValue::Text(s.into())
        })
    }

    pub fn opt_int(i: Option<i64>) -> SqlValue {
        i.map_or(SqlValue::Null(ValueKind::Int), SqlValue::Int)
    }

    /// The value in the kind a column of `kind` stores, so that one statement always binds
    /// one type in each place whatever the caller passed (an integer for a float column, a
    /// NULL typed for another kind). PostgreSQL prepares a statement with the types of its
    /// first binds and refuses, or misreads, a value of another type bound later.
    pub fn into_kind(self, kind: ValueKind) -> SqlValue {
        match (self, kind) {
            (SqlValue::Null(_), kind) => SqlValue::Null(kind),
            (SqlValue::Int(i), ValueKind::Float) => SqlValue::Float(i as f64),
            (SqlValue::Int(i), ValueKind::Bool) => SqlValue::Bool(i != 0),
            (SqlValue::Bool(b), ValueKind::Int) => SqlValue::Int(i64::from(b)),
            (SqlValue::Bool(b), ValueKind::Float) => SqlValue::Float(f64::from(u8::from(b))),
            (SqlValue::Float(f), ValueKind::Int) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                SqlValue::Int(f as i64)
            }
            (value, _) => value,
        }
    }

    pub fn bind(&self, q: Query<'static, Any, AnyArguments>) -> Query<'static, Any, AnyArguments> {
        match self {
            SqlValue::Null(ValueKind::Int) => q.bind(None::<i64>),
            // The kind matters even for a NULL: PostgreSQL prepares the statement with it, and
            // a float8 later bound where a float4 NULL was is refused ("incorrect binary data
            // format"). sqlx 0.9.0 swapped the two float kinds of a NULL; 0.9.1 does not.
            SqlValue::Null(ValueKind::Float) => q.bind(None::<f64>),
            SqlValue::Null(ValueKind::Bool) => q.bind(None::<i16>),
            SqlValue::Null(ValueKind::Text) => q.bind(None::<String>),
            SqlValue::Null(ValueKind::Bytes) => q.bind(None::<Vec<u8>>),
            SqlValue::Int(i) => q.bind(*i),
            SqlValue::Float(f) => q.bind(*f),
            SqlValue::Bool(b) => q.bind(i16::from(*b)),
            SqlValue::Text(s) => q.bind(s.clone()),
            SqlValue::Bytes(b) => q.bind(b.clone()),
        }
    }

    /// The value as JSON, the way the API shows it.
    pub fn to_json(&self) -> Value {
        match self {
            SqlValue::Null(_) => Value::Null,
            SqlValue::Int(i) => Value::from(*i),
            SqlValue::Float(f) => Value::from(*f),
            SqlValue::Bool(b) => Value::Bool(*b),
            SqlValue::Text(s) => Value::String(s.clone()),
            SqlValue::Bytes(b) => Value::from(b.len()),
        }
    }
}

/// Reads column `idx` of `row` as JSON, interpreting it as `kind`.
pub fn decode_column(row: &AnyRow, idx: usize, kind: ValueKind) -> Result<Value, sqlx::Error> {
    Ok(match kind {
        ValueKind::Int => row
            .try_get::<Option<i64>, _>(idx)?
            .map_or(Value::Null, Value::from),
        ValueKind::Float => match row.try_get::<Option<f64>, _>(idx) {
            Ok(v) => v.map_or(Value::Null, Value::from),
            // SQLite hands back an integer when a REAL column holds a whole number.
            Err(_) => row
                .try_get::<Option<i64>, _>(idx)?
                .map_or(Value::Null, |i| Value::from(i as f64)),
        },
        ValueKind::Bool => row
            .try_get::<Option<i64>, _>(idx)?
            .map_or(Value::Null, |i| Value::Bool(i != 0)),
        ValueKind::Text => row
            .try_get::<Option<String>, _>(idx)?
            .map_or(Value::Null, Value::String),
        ValueKind::Bytes => row
            .try_get::<Option<Vec<u8>>, _>(idx)?
            .map_or(Value::Null, |b| Value::from(b.len())),
    })
}
