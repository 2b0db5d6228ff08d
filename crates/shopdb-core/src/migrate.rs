//! Migration chains: `core` plus one per plugin, all recorded in the `schemamigrations` table.
//!
//! A migration is a list of steps described as data, so its checksum is taken over the same
//! description that renders the SQL. Applied migrations are never re-run; one whose checksum
//! changed afterwards is reported. Each migration runs in its own transaction and is recorded
//! in it; a failing step leaves the chain at its last good version.

use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::Row;

use crate::db::{Db, Dialect, SqlValue, ValueKind};
use crate::schema::{Column, Index, Table, add_column_sql, create_index_sql};
use crate::util::{now, sha256_hex};

/// One change to the schema or its reference data.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    CreateTable(Table),
    AddColumn {
        table: String,
        column: Column,
    },
    CreateIndex {
        table: String,
        index: Index,
    },
    DropTable(String),
    /// Hand-written SQL, one text per dialect.
    Sql {
        sqlite: String,
        mysql: String,
        postgres: String,
    },
    /// Reference rows inserted unless a row with the same `key` value exists.
    Seed {
        table: String,
        key: String,
        rows: Vec<Map<String, Value>>,
    },
}

impl Step {
    /// The step with its columns' labels and help texts removed.
    fn without_wording(&self) -> Step {
        fn plain(c: &Column) -> Column {
            Column {
                label: None,
                help: None,
                renamed_from: None,
                ..c.clone()
            }
        }
        match self {
            Step::CreateTable(t) => Step::CreateTable(Table {
                columns: t.columns.iter().map(plain).collect(),
                dropped: Vec::new(),
                ..t.clone()
            }),
            Step::AddColumn { table, column } => Step::AddColumn {
                table: table.clone(),
                column: plain(column),
            },
            other => other.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Migration {
    pub version: i64,
    pub name: String,
    pub steps: Vec<Step>,
}

impl Migration {
    pub fn new(version: i64, name: &str, steps: Vec<Step>) -> Migration {
        Migration {
            version,
            name: name.to_string(),
            steps,
        }
    }

    /// SHA-256 over the migration's description. Column labels and help texts are wording,
    /// not schema: they are left out, so a step built from a table whose labels changed (or
    /// that gained labels after it ran) keeps its checksum.
    pub fn checksum(&self) -> String {
        let steps: Vec<Step> = self.steps.iter().map(Step::without_wording).collect();
        sha256_hex(serde_json::to_string(&steps).unwrap_or_default().as_bytes())
    }
}

/// A named, ordered list of migrations.
#[derive(Clone, Debug)]
pub struct Chain {
    pub name: String,
    pub migrations: Vec<Migration>,
}

/// A migration recorded as applied.
#[derive(Clone, Debug, Serialize)]
pub struct Applied {
    pub version: i64,
    pub name: String,
    pub checksum: String,
    pub appliedat: String,
}

/// Where a chain stands against the database.
#[derive(Clone, Debug, Serialize)]
pub struct ChainStatus {
    pub chain: String,
    pub applied: Vec<Applied>,
    pub pending: Vec<(i64, String)>,
    /// Applied migrations whose definition changed since (never re-run, always reported).
    pub changed: Vec<(i64, String)>,
    /// Versions recorded in the database that this build does not know.
    pub unknown: Vec<(i64, String)>,
    /// Why the pending steps cannot run (a plugin's model change that could lose data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

impl ChainStatus {
    pub fn current_version(&self) -> i64 {
        self.applied.iter().map(|a| a.version).max().unwrap_or(0)
    }
}

/// Why an upgrade stopped.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "migration {chain} {version} ({name}) failed at step {step}: {reason}; chain {chain} stays at version {stays_at}"
    )]
    StepFailed {
        chain: String,
        version: i64,
        name: String,
        step: usize,
        reason: String,
        stays_at: i64,
    },
    #[error(
        "chain {chain}: applied migrations changed since they ran ({list}); they are never re-run, restore their definitions or fix the database by hand"
    )]
    ChecksumChanged { chain: String, list: String },
    #[error("migration bookkeeping failed: {0}")]
    Database(#[from] sqlx::Error),
}

fn ledger() -> Table {
    Table::new("schemamigrations")
        .column(Column::string("chain", 64))
        .column(Column::integer("version"))
        .column(Column::string("name", 200))
        .column(Column::string("checksum", 64))
        .column(Column::timestamp("appliedat"))
        .primary_key(&["chain", "version"])
}

async fn ensure_ledger(db: &Db) -> Result<(), sqlx::Error> {
    for sql in ledger().create_sql(db.dialect()) {
        db.query(&sql).execute(db.pool()).await?;
    }
    Ok(())
}

/// The migrations recorded for `chain`, oldest first (the ledger table is created if absent).
pub async fn applied(db: &Db, chain: &str) -> Result<Vec<Applied>, sqlx::Error> {
    ensure_ledger(db).await?;
    let rows = db
        .query("SELECT version, name, checksum, appliedat FROM schemamigrations WHERE chain = ? ORDER BY version")
        .bind(chain.to_string())
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Applied {
                version: r.try_get(0)?,
                name: r.try_get(1)?,
                checksum: r.try_get(2)?,
                appliedat: r.try_get(3)?,
            })
        })
        .collect()
}

/// Records migration `version` of `chain` as applied, on the migration's own transaction.
pub async fn record(
    db: &Db,
    conn: &mut sqlx::AnyConnection,
    chain: &str,
    (version, name): (i64, &str),
    checksum: &str,
) -> Result<(), sqlx::Error> {
    db.query("INSERT INTO schemamigrations (chain, version, name, checksum, appliedat) VALUES (?, ?, ?, ?, ?)")
        .bind(chain.to_string())
        .bind(version)
        .bind(name.to_string())
        .bind(checksum.to_string())
        .bind(now())
        .execute(conn)
        .await?;
    Ok(())
}

/// Reads the chain's state without changing anything (the ledger table is created if absent).
pub async fn status(db: &Db, chain: &Chain) -> Result<ChainStatus, sqlx::Error> {
    let applied = applied(db, &chain.name).await?;
    let mut status = ChainStatus {
        chain: chain.name.clone(),
        applied: applied.clone(),
        pending: Vec::new(),
        changed: Vec::new(),
        unknown: Vec::new(),
        refused: None,
    };
    for m in &chain.migrations {
        match applied.iter().find(|a| a.version == m.version) {
            None => status.pending.push((m.version, m.name.clone())),
            Some(a) if a.checksum != m.checksum() => {
                status.changed.push((m.version, m.name.clone()))
            }
            Some(_) => {}
        }
    }
    for a in &applied {
        if !chain.migrations.iter().any(|m| m.version == a.version) {
            status.unknown.push((a.version, a.name.clone()));
        }
    }
    Ok(status)
}

/// Applies every pending migration of `chain` in order and returns the ones that ran.
/// Running it again with nothing pending does nothing.
pub async fn upgrade(db: &Db, chain: &Chain) -> Result<Vec<(i64, String)>, MigrateError> {
    let state = status(db, chain).await?;
    if !state.changed.is_empty() {
        let list = state
            .changed
            .iter()
            .map(|(v, n)| format!("{v} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(MigrateError::ChecksumChanged {
            chain: chain.name.clone(),
            list,
        });
    }
    let mut stays_at = state.current_version();
    let mut ran = Vec::new();
    for migration in &chain.migrations {
        if !state.pending.iter().any(|(v, _)| *v == migration.version) {
            continue;
        }
        let fail = |step: usize, reason: String| MigrateError::StepFailed {
            chain: chain.name.clone(),
            version: migration.version,
            name: migration.name.clone(),
            step,
            reason,
            stays_at,
        };
        let mut tx = db.begin().await?;
        for (i, step) in migration.steps.iter().enumerate() {
            if let Err(e) = run_step(db, &mut tx, step).await {
                let _ = tx.rollback().await;
                return Err(fail(i + 1, crate::db::one_line(&e.to_string())));
            }
        }
        let record = record(
            db,
            &mut tx,
            &chain.name,
            (migration.version, &migration.name),
            &migration.checksum(),
        )
        .await;
        if let Err(e) = record {
            let _ = tx.rollback().await;
            return Err(fail(migration.steps.len(), e.to_string()));
        }
        tx.commit().await?;
        stays_at = migration.version;
        ran.push((migration.version, migration.name.clone()));
    }
    Ok(ran)
}

/// Forgets every recorded migration of `chain` (used when a plugin is uninstalled).
pub async fn forget_chain(db: &Db, chain: &str) -> Result<(), sqlx::Error> {
    ensure_ledger(db).await?;
    db.execute_write(
        "DELETE FROM schemamigrations WHERE chain = ?",
        &[SqlValue::text(chain)],
    )
    .await?;
    Ok(())
}

async fn run_step(db: &Db, tx: &mut crate::db::WriteTx, step: &Step) -> Result<(), sqlx::Error> {
    let dialect = db.dialect();
    let statements: Vec<String> = match step {
        Step::CreateTable(table) => table.create_sql(dialect),
        Step::AddColumn { table, column } => add_column_sql(table, column, dialect),
        Step::CreateIndex { table, index } => vec![create_index_sql(table, index, dialect)],
        Step::DropTable(table) => vec![format!("DROP TABLE IF EXISTS {table}")],
        Step::Sql {
            sqlite,
            mysql,
            postgres,
        } => vec![
            match dialect {
                Dialect::Sqlite => sqlite,
                Dialect::MySql => mysql,
                Dialect::Postgres => postgres,
            }
            .clone(),
        ],
        Step::Seed { table, key, rows } => {
            for row in rows {
                seed_row(db, tx, table, key, row).await?;
            }
            Vec::new()
        }
    };
    for sql in statements {
        db.query(&sql).execute(&mut **tx).await?;
    }
    Ok(())
}

async fn seed_row(
    db: &Db,
    tx: &mut crate::db::WriteTx,
    table: &str,
    key: &str,
    row: &Map<String, Value>,
) -> Result<(), sqlx::Error> {
    let key_value = json_to_sql(row.get(key).unwrap_or(&Value::Null));
    let exists = db
        .query_with(
            &format!("SELECT COUNT(*) FROM {table} WHERE {key} = ?"),
            &[key_value],
        )
        .fetch_one(&mut **tx)
        .await?
        .try_get::<i64, _>(0)?;
    if exists > 0 {
        return Ok(());
    }
    let columns: Vec<&str> = row.keys().map(String::as_str).collect();
    let values: Vec<SqlValue> = row.values().map(json_to_sql).collect();
    let marks = vec!["?"; columns.len()].join(", ");
    db.query_with(
        &format!(
            "INSERT INTO {table} ({}) VALUES ({marks})",
            columns.join(", ")
        ),
        &values,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn json_to_sql(v: &Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null(ValueKind::Text),
        Value::Bool(b) => SqlValue::Bool(*b),
        Value::Number(n) => n
            .as_i64()
            .map(SqlValue::Int)
            .unwrap_or_else(|| SqlValue::Float(n.as_f64().unwrap_or_default())),
        Value::String(s) => SqlValue::Text(s.clone()),
        other => SqlValue::Text(other.to_string()),
    }
}

/// Builds seed rows from JSON literals: `seed_rows(json!([{"name": "Spare"}]))`.
pub fn seed_rows(v: Value) -> Vec<Map<String, Value>> {
    match v {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|i| match i {
                Value::Object(m) => Some(m),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_help_do_not_change_a_checksum() {
        let baseline = |column: Column| {
            Migration::new(
                1,
                "baseline",
                vec![
                    Step::CreateTable(Table::new("cameras").column(column.clone())),
                    Step::AddColumn {
                        table: "cameras".into(),
                        column,
                    },
                ],
            )
        };
        let plain = baseline(Column::string("hostname", 100));
        let worded = baseline(
            Column::string("hostname", 100)
                .label("Host name")
                .help("As the camera announces itself"),
        );
        assert_eq!(plain.checksum(), worded.checksum());
        assert_ne!(
            plain.checksum(),
            baseline(Column::string("hostname", 120)).checksum(),
            "the schema itself still counts"
        );
    }
}
