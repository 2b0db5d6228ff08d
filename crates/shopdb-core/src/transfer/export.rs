//! Exporting a list (with the list's filters) as CSV or .xlsx: the record's key, its fields
//! (a plugin record's own fields included) and references by the name of the row they refer
//! to, under headers an import maps back to the same fields.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use serde_json::{Map, Value};
use sqlx::Row;

use super::Observer;
use super::mapping::{self, Reference};
use crate::db::{Db, SqlValue};
use crate::error::DomainError;
use crate::http::{ListParams, MAX_PER_PAGE};
use crate::resource::{MANAGED_COLUMNS, Resource};
use crate::schema::ColumnType;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

impl ExportFormat {
    pub fn parse(name: &str) -> Result<ExportFormat, DomainError> {
        match name.trim().to_lowercase().as_str() {
            "csv" => Ok(ExportFormat::Csv),
            "xlsx" => Ok(ExportFormat::Xlsx),
            other => Err(DomainError::field(
                "format",
                format!("'{other}' is not a format: use csv or xlsx"),
            )),
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        }
    }
}

/// Where a column's values come from.
enum Cell {
    /// A field of the listed record (a joined name included).
    Field(String),
    /// A reference the list does not join a name for: looked up per page.
    Name(Reference),
}

/// The columns of an export of `res`: header and source.
fn export_columns(res: &Resource, resources: &[Arc<Resource>]) -> Vec<(String, Cell)> {
    let mut out = Vec::new();
    for c in mapping::columns(res) {
        if c.name == res.key()
            || c.ty == ColumnType::Bytes
            || MANAGED_COLUMNS.contains(&c.name.as_str())
        {
            continue;
        }
        match mapping::reference(res, resources, c) {
            Some(_) if res.lookups.iter().any(|l| l.column == c.name) => {
                let header = mapping::export_header(res, c);
                out.push((header.clone(), Cell::Field(header)));
            }
            Some(r) => out.push((mapping::export_header(res, c), Cell::Name(r))),
            None => out.push((c.name.clone(), Cell::Field(c.name.clone()))),
        }
    }
    out
}

/// Names of the rows the records of one page refer to, per reference: id → name.
async fn page_names(
    db: &Db,
    columns: &[(String, Cell)],
    rows: &[Value],
) -> Result<HashMap<String, HashMap<i64, String>>, DomainError> {
    let mut out = HashMap::new();
    for (_, cell) in columns {
        let Cell::Name(r) = cell else { continue };
        let mut ids: Vec<i64> = rows
            .iter()
            .filter_map(|row| row[&r.column].as_i64())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let names: &mut HashMap<i64, String> = out.entry(r.column.clone()).or_default();
        for chunk in ids.chunks(500) {
            let binds: Vec<SqlValue> = chunk.iter().map(|id| SqlValue::Int(*id)).collect();
            let sql = format!(
                "SELECT {}, {} FROM {} WHERE {} IN ({})",
                r.key,
                r.display,
                r.table,
                r.key,
                vec!["?"; chunk.len()].join(", ")
            );
            for found in db.query_with(&sql, &binds).fetch_all(db.pool()).await? {
                let name: Option<String> = found.try_get(1)?;
                names.insert(found.try_get(0)?, name.unwrap_or_default());
            }
        }
    }
    Ok(out)
}

/// One cell's value: text for CSV, typed for a spreadsheet.
fn cell_value(
    cell: &Cell,
    row: &Map<String, Value>,
    names: &HashMap<String, HashMap<i64, String>>,
) -> Value {
    match cell {
        Cell::Field(f) => row.get(f).cloned().unwrap_or(Value::Null),
        Cell::Name(r) => row
            .get(&r.column)
            .and_then(Value::as_i64)
            .and_then(|id| names.get(&r.column)?.get(&id).cloned())
            .map_or(Value::Null, Value::String),
    }
}

/// Text of a CSV cell: text a spreadsheet would run as a formula gets an apostrophe in
/// front, and so does text that already starts with apostrophes before such a character, so
/// that an import, which takes exactly one off (`mapping::cell_value`), gives the text back.
fn csv_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) if s.trim_start_matches('\'').starts_with(FORMULA) => format!("'{s}"),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Characters that make a spreadsheet read a cell as a formula.
const FORMULA: [char; 4] = ['=', '+', '-', '@'];

/// Text of an .xlsx cell (written as text, never run): only text starting with apostrophes
/// before a formula character gets one more, which an import takes off again.
fn xlsx_text(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with('\'') && s.trim_start_matches('\'').starts_with(FORMULA) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

/// `lines` as CSV lines (CRLF, quoted where needed).
fn csv_lines(lines: &[Vec<String>]) -> Result<Vec<u8>, DomainError> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for line in lines {
        w.write_record(line).map_err(DomainError::internal)?;
    }
    w.into_inner().map_err(DomainError::internal)
}

/// Writes the list of `res` that `filters` select (as `GET /api/<resource>` takes them:
/// field filters, `q`, `sort`) to `out` in `format`; returns how many records it holds.
pub async fn export(
    db: &Db,
    res: &Resource,
    resources: &[Arc<Resource>],
    filters: &[(String, String)],
    format: ExportFormat,
    out: &mut (dyn Write + Send),
    observer: &mut (dyn Observer + Send),
) -> Result<u64, DomainError> {
    let columns = export_columns(res, resources);
    let mut key_header = vec![res.key().to_string()];
    key_header.extend(columns.iter().map(|(h, _)| h.clone()));
    let mut params = ListParams::parse(None)?;
    params.per_page = MAX_PER_PAGE;
    for (k, v) in filters {
        match k.as_str() {
            "q" => params.q = Some(v.clone()).filter(|v| !v.trim().is_empty()),
            "sort" => params.sort = Some(v.clone()),
            "page" | "per_page" | "format" => {}
            _ => params.filters.push((k.clone(), v.clone())),
        }
    }
    if params.sort.is_none() {
        // Pages in key order, so none is read twice or skipped.
        params.sort = Some(res.key().to_string());
    }
    let csv = format == ExportFormat::Csv;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let xlsx_err =
        |e: rust_xlsxwriter::XlsxError| DomainError::internal(format!("writing the workbook: {e}"));
    if csv {
        out.write_all(&csv_lines(std::slice::from_ref(&key_header))?)
            .map_err(DomainError::internal)?;
    } else {
        for (i, h) in key_header.iter().enumerate() {
            sheet.write_string(0, i as u16, h).map_err(xlsx_err)?;
        }
    }
    let mut written: u64 = 0;
    loop {
        let (rows, total) = res.list(db, &params).await?;
        let names = page_names(db, &columns, &rows).await?;
        let mut lines: Vec<Vec<String>> = Vec::with_capacity(rows.len());
        for row in &rows {
            let Some(row) = row.as_object() else { continue };
            let mut values = vec![row.get(res.key()).cloned().unwrap_or(Value::Null)];
            values.extend(columns.iter().map(|(_, c)| cell_value(c, row, &names)));
            written += 1;
            if csv {
                lines.push(values.iter().map(csv_text).collect());
            } else {
                let line = written as u32;
                for (i, v) in values.iter().enumerate() {
                    let col = i as u16;
                    match v {
                        Value::Null => {}
                        Value::Number(n) => {
                            sheet
                                .write_number(line, col, n.as_f64().unwrap_or_default())
                                .map_err(xlsx_err)?;
                        }
                        Value::Bool(b) => {
                            sheet.write_boolean(line, col, *b).map_err(xlsx_err)?;
                        }
                        Value::String(s) => {
                            sheet
                                .write_string(line, col, xlsx_text(s))
                                .map_err(xlsx_err)?;
                        }
                        other => {
                            sheet
                                .write_string(line, col, other.to_string())
                                .map_err(xlsx_err)?;
                        }
                    }
                }
            }
        }
        if csv {
            out.write_all(&csv_lines(&lines)?)
                .map_err(DomainError::internal)?;
        }
        observer.progress(written, Some(total as u64));
        if rows.is_empty() || params.page * params.per_page >= total {
            break;
        }
        params.page += 1;
    }
    if !csv {
        let bytes = book.save_to_buffer().map_err(xlsx_err)?;
        out.write_all(&bytes).map_err(DomainError::internal)?;
    }
    Ok(written)
}
