//! Rows in a form every database reads back the same: each value written as JSON by its
//! column's type (not by one database's text forms), and loaded again in multi-row inserts.
//! Backups (`shopdb backup`/`restore`) and plugin restores use it.
//!
//! | column type | JSON |
//! |---|---|
//! | id, integer | number (integer) |
//! | float | number (the shortest text that reads back as the same 64-bit float) |
//! | boolean | `true` / `false` |
//! | string, text, timestamp, date | string (timestamps and dates as stored: RFC 3339 / `YYYY-MM-DD`) |
//! | bytes | string, standard base64 |
//! | NULL of any type | `null` |

use base64::Engine;
use serde_json::Value;
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::db::{Db, Dialect, SqlValue, ValueKind};
use crate::schema::{ColumnType, Table};

/// Bound values per multi-row INSERT: below what every dialect accepts (SQLite 32,766,
/// MySQL and PostgreSQL 65,535).
const VALUES_PER_INSERT: usize = 16_000;

/// Most rows in one INSERT, whatever their width.
const ROWS_PER_INSERT: usize = 500;

/// How many rows of `columns` columns go into one INSERT.
pub fn rows_per_insert(columns: usize) -> usize {
    (VALUES_PER_INSERT / columns.max(1)).clamp(1, ROWS_PER_INSERT)
}

/// `SELECT` of every described column of `table`, in key order, so that two reads of one
/// snapshot (and a backup and its restore) list rows alike.
pub fn select_all_sql(table: &Table) -> String {
    let columns: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    let order: Vec<&str> = match table.columns.iter().find(|c| c.ty == ColumnType::Id) {
        Some(id) => vec![id.name.as_str()],
        None => table.primary_key.iter().map(String::as_str).collect(),
    };
    let mut sql = format!("SELECT {} FROM {}", columns.join(", "), table.name);
    if !order.is_empty() {
        sql.push_str(" ORDER BY ");
        sql.push_str(&order.join(", "));
    }
    sql
}

/// Column `idx` of `row` as portable JSON, read as `ty`.
pub fn read_value(row: &AnyRow, idx: usize, ty: ColumnType) -> Result<Value, sqlx::Error> {
    use sqlx::Row;
    Ok(match ty.value_kind() {
        ValueKind::Float => {
            let value = match row.try_get::<Option<f64>, _>(idx) {
                Ok(v) => v,
                // SQLite hands back an integer when a REAL column holds a whole number.
                Err(_) => row.try_get::<Option<i64>, _>(idx)?.map(|i| i as f64),
            };
            match value {
                None => Value::Null,
                Some(f) => serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .ok_or_else(|| {
                        sqlx::Error::Decode(
                            format!("column {idx} holds {f}, which JSON cannot carry").into(),
                        )
                    })?,
            }
        }
        ValueKind::Bytes => row
            .try_get::<Option<Vec<u8>>, _>(idx)?
            .map_or(Value::Null, |b| {
                Value::String(base64::engine::general_purpose::STANDARD.encode(b))
            }),
        kind => crate::db::decode_column(row, idx, kind)?,
    })
}

/// A row of `table` as portable JSON values, in the table's column order.
pub fn read_row(row: &AnyRow, table: &Table) -> Result<Vec<Value>, sqlx::Error> {
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| read_value(row, i, c.ty))
        .collect()
}

/// A portable JSON value back as the value to bind into a column of type `ty`; an error
/// says what was expected.
pub fn to_sql(value: &Value, ty: ColumnType) -> Result<SqlValue, String> {
    let kind = ty.value_kind();
    let wrong = || format!("expected {} but found {value}", kind_name(kind));
    Ok(match (kind, value) {
        (kind, Value::Null) => SqlValue::Null(kind),
        (ValueKind::Int, Value::Number(n)) => SqlValue::Int(n.as_i64().ok_or_else(wrong)?),
        (ValueKind::Float, Value::Number(n)) => SqlValue::Float(n.as_f64().ok_or_else(wrong)?),
        (ValueKind::Bool, Value::Bool(b)) => SqlValue::Bool(*b),
        (ValueKind::Bool, Value::Number(n)) => SqlValue::Bool(n.as_i64().ok_or_else(wrong)? != 0),
        (ValueKind::Text, Value::String(s)) => SqlValue::Text(s.clone()),
        (ValueKind::Bytes, Value::String(s)) => SqlValue::Bytes(
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| format!("bytes are not base64: {e}"))?,
        ),
        _ => return Err(wrong()),
    })
}

fn kind_name(kind: ValueKind) -> &'static str {
    match kind {
        ValueKind::Int => "an integer",
        ValueKind::Float => "a number",
        ValueKind::Bool => "true or false",
        ValueKind::Text => "text",
        ValueKind::Bytes => "base64 text",
    }
}

/// Bytes of text and binary values per INSERT, well below MySQL's smallest usual packet
/// limit (`max_allowed_packet`, 16 MB on MariaDB): floor-plan images can be megabytes each.
const BYTES_PER_INSERT: usize = 4 << 20;

/// Inserts `rows` (values in the order of `columns`) into `table` with multi-row INSERTs of
/// at most `rows_per_insert(columns.len())` rows and about `BYTES_PER_INSERT` bytes each.
pub async fn insert_rows(
    db: &Db,
    conn: &mut AnyConnection,
    table: &str,
    columns: &[&str],
    rows: &[Vec<SqlValue>],
) -> Result<(), sqlx::Error> {
    if columns.is_empty() {
        return Ok(());
    }
    let most = rows_per_insert(columns.len());
    let mut start = 0;
    while start < rows.len() {
        let mut end = start;
        let mut bytes = 0;
        while end < rows.len() && end - start < most && (end == start || bytes < BYTES_PER_INSERT) {
            bytes += rows[end].iter().map(size_of_value).sum::<usize>();
            end += 1;
        }
        insert_chunk(db, conn, table, columns, &rows[start..end]).await?;
        start = end;
    }
    Ok(())
}

fn size_of_value(value: &SqlValue) -> usize {
    match value {
        SqlValue::Text(s) => s.len(),
        SqlValue::Bytes(b) => b.len(),
        _ => 8,
    }
}

async fn insert_chunk(
    db: &Db,
    conn: &mut AnyConnection,
    table: &str,
    columns: &[&str],
    chunk: &[Vec<SqlValue>],
) -> Result<(), sqlx::Error> {
    let one = format!("({})", vec!["?"; columns.len()].join(", "));
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES {}",
        columns.join(", "),
        vec![one.as_str(); chunk.len()].join(", ")
    );
    // A statement of many rows is used once or a few times: not worth keeping prepared
    // (see `Db::query_with`).
    let query = chunk
        .iter()
        .flatten()
        .fold(db.query(&sql), |q, v| v.bind(q))
        .persistent(chunk.len() == 1);
    query.execute(&mut *conn).await?;
    Ok(())
}

/// After rows were inserted with their ids, makes the next id generated in `id_column` of
/// `table` follow the highest: PostgreSQL's identity sequence is set explicitly; MySQL/MariaDB
/// (InnoDB) and SQLite (`sqlite_sequence`) move their counters past inserted ids themselves.
pub async fn reset_identity(
    db: &Db,
    conn: &mut AnyConnection,
    table: &str,
    id_column: &str,
) -> Result<(), sqlx::Error> {
    if db.dialect() != Dialect::Postgres {
        return Ok(());
    }
    let (t, c) = (table, id_column);
    db.query(&format!(
        "SELECT setval(pg_get_serial_sequence('{t}', '{c}'), COALESCE((SELECT MAX({c}) FROM {t}), 0) + 1, false)"
    ))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_come_back_as_the_column_type_wants() {
        assert_eq!(
            to_sql(&json!(0.1), ColumnType::Float),
            Ok(SqlValue::Float(0.1))
        );
        assert_eq!(
            to_sql(&json!(true), ColumnType::Boolean),
            Ok(SqlValue::Bool(true))
        );
        assert_eq!(
            to_sql(&Value::Null, ColumnType::Integer),
            Ok(SqlValue::Null(ValueKind::Int))
        );
        assert_eq!(
            to_sql(&json!("AAEC"), ColumnType::Bytes),
            Ok(SqlValue::Bytes(vec![0, 1, 2]))
        );
        assert!(to_sql(&json!("12"), ColumnType::Integer).is_err());
        assert!(to_sql(&json!(1.5), ColumnType::Id).is_err());
    }

    #[test]
    fn wide_tables_get_fewer_rows_per_insert() {
        assert_eq!(rows_per_insert(4), ROWS_PER_INSERT);
        assert_eq!(rows_per_insert(100), 160);
        assert_eq!(rows_per_insert(0), ROWS_PER_INSERT);
    }
}
