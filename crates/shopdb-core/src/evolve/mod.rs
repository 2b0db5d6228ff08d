//! A plugin's model chain: the planned changes (`planner`) between the model recorded when
//! its tables were last migrated and `Plugin::models()`, run one recorded step at a time.
//!
//! The recorded model lives in `pluginmodels` (one JSON row per plugin), updated in the same
//! transaction as each step and its record in `schemamigrations` under the chain
//! `<plugin>.model`. A plugin installed before models were recorded gets one derived from
//! its live tables the first time it is planned.

mod ddl;

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use sqlx::{AnyConnection, Row};

use crate::db::{Db, Dialect, SqlValue, decode_column};
use crate::migrate::{self, Applied, ChainStatus, Migration};
use crate::planner::{self, Change, Refused, normalized};
use crate::schema::{Column, ColumnType, Table, live_columns};
use crate::util::{now, sha256_hex};

/// The chain a plugin's planned steps are recorded under.
pub fn model_chain(plugin: &str) -> String {
    format!("{plugin}.model")
}

/// How far a run may go.
#[derive(Clone, Debug)]
pub enum Mode {
    /// Upgrades (`db upgrade`, `plugin upgrade-all`, `serve`, install): lossless steps only;
    /// the run stops before the first declared rename or drop.
    Automatic,
    /// `shopdb plugin migrate NAME`: every step, declared drops backed up into this folder.
    Explicit { backup_dir: PathBuf },
}

/// Why a plugin's model change did not run.
#[derive(Debug, thiserror::Error)]
pub enum EvolveError {
    #[error("plugin {plugin}: model change refused, nothing was changed: {refused}")]
    Refused { plugin: String, refused: Refused },
    #[error(
        "plugin {plugin}: step {version} ({name}) failed: {reason}; the steps before it stay applied"
    )]
    StepFailed {
        plugin: String,
        version: i64,
        name: String,
        reason: String,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Where a plugin's model stands: the model its tables have, and the steps to `models()`.
#[derive(Clone, Debug)]
pub struct Plan {
    pub recorded: Vec<Table>,
    /// False when no model was recorded yet and `recorded` was read from the live tables.
    pub was_recorded: bool,
    pub steps: Vec<Change>,
}

/// The plan for `plugin` from its recorded (or live) tables to `wanted`; reads only.
pub async fn plan(db: &Db, plugin: &str, wanted: &[Table]) -> Result<Plan, EvolveError> {
    let (recorded, was_recorded) = match recorded(db, plugin).await? {
        Some(tables) => (tables, true),
        None => (derive(db, wanted).await?, false),
    };
    let refused = |refused| EvolveError::Refused {
        plugin: plugin.to_string(),
        refused,
    };
    let steps = planner::plan(&recorded, wanted).map_err(refused)?;
    let mut problems = Vec::new();
    for step in &steps {
        if let Change::RemoveChoice {
            table,
            column,
            choice,
        } = step
        {
            let n = holders(db, db.pool(), table, column, choice).await?;
            if n > 0 {
                problems.push(format!(
                    "{table}.{column}: choice '{choice}' is still held by {n} rows; change them first or keep the choice"
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(refused(Refused { problems }));
    }
    Ok(Plan {
        recorded,
        was_recorded,
        steps,
    })
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Steps recorded, as (version, name).
    pub ran: Vec<(i64, String)>,
    /// Declared renames and drops left for `shopdb plugin migrate NAME`.
    pub waiting: Vec<String>,
    /// Backup files written before declared drops.
    pub backups: Vec<PathBuf>,
}

/// Plans and runs `plugin`'s model chain. `hand_written` is empty when the plugin keeps the
/// default (empty) `migrations()`: a `1 baseline` recorded by older builds is then adopted
/// into the model chain.
pub async fn apply(
    db: &Db,
    plugin: &str,
    wanted: &[Table],
    hand_written: &[Migration],
    mode: &Mode,
) -> Result<Outcome, EvolveError> {
    apply_then(db, plugin, (wanted, hand_written), mode, &[]).await
}

/// [`apply`], then `finish` (statements recording what the new model belongs to, such as a
/// folder plugin's stored sources) in the transaction of the last step, or in one of its own
/// when no step is planned. `finish` does not run when a step fails, or when the run stops
/// before declared steps.
pub async fn apply_then(
    db: &Db,
    plugin: &str,
    (wanted, hand_written): (&[Table], &[Migration]),
    mode: &Mode,
    finish: &[(&str, Vec<SqlValue>)],
) -> Result<Outcome, EvolveError> {
    let plan = plan(db, plugin, wanted).await?;
    let chain = model_chain(plugin);
    if !plan.was_recorded {
        if hand_written.is_empty() {
            adopt_default_baseline(db, plugin).await?;
        }
        let mut tx = db.begin().await?;
        save(db, &mut tx, plugin, &plan.recorded).await?;
        tx.commit().await?;
    }
    let mut model = plan.recorded;
    let mut version = migrate::applied(db, &chain)
        .await?
        .iter()
        .map(|a| a.version)
        .max()
        .unwrap_or(0);
    let mut outcome = Outcome::default();
    if plan.steps.is_empty() && !finish.is_empty() {
        let mut tx = db.begin().await?;
        run_statements(db, &mut tx, finish).await?;
        tx.commit().await?;
    }
    let last = plan.steps.len().saturating_sub(1);
    for (i, change) in plan.steps.iter().enumerate() {
        if matches!(mode, Mode::Automatic) && !change.is_lossless() {
            outcome.waiting = plan.steps[i..].iter().map(Change::describe).collect();
            break;
        }
        version += 1;
        let name = change.describe();
        let fail = |reason: String| EvolveError::StepFailed {
            plugin: plugin.to_string(),
            version,
            name: name.clone(),
            reason,
        };
        if let (Change::DropColumn { renamed: false, .. }, Mode::Explicit { backup_dir }) =
            (change, mode)
        {
            let file = backup_column(db, plugin, &model, change, backup_dir)
                .await
                .map_err(fail)?;
            outcome.backups.push(file);
        }
        let mut after = model.clone();
        change.apply(&mut after);
        let step = Recorded {
            plugin,
            chain: &chain,
            version,
            name: &name,
            finish: if i == last { finish } else { &[] },
        };
        let run = run_in_transaction(db, &step, change, (&model, &after)).await;
        if let Err(reason) = run {
            return Err(fail(crate::db::one_line(&reason)));
        }
        db.forget_counts();
        model = after;
        outcome.ran.push((version, name));
    }
    Ok(outcome)
}

/// Which step of which plugin is being run.
struct Recorded<'a> {
    plugin: &'a str,
    chain: &'a str,
    version: i64,
    name: &'a str,
    /// Run after the step's record, in its transaction.
    finish: &'a [(&'a str, Vec<SqlValue>)],
}

async fn run_statements(
    db: &Db,
    conn: &mut AnyConnection,
    statements: &[(&str, Vec<SqlValue>)],
) -> Result<(), sqlx::Error> {
    for (sql, values) in statements {
        db.query_with(sql, values).execute(&mut *conn).await?;
    }
    Ok(())
}

/// One step in its own transaction; on SQLite a step that rebuilds a table gets a connection
/// with foreign keys off (see `ddl::begin_without_foreign_keys`).
async fn run_in_transaction(
    db: &Db,
    step: &Recorded<'_>,
    change: &Change,
    models: (&[Table], &[Table]),
) -> Result<(), String> {
    if db.dialect() == Dialect::Sqlite && ddl::rebuilds(change) {
        let mut conn = ddl::begin_without_foreign_keys(db).await?;
        let done = run_step(db, &mut conn, step, change, models).await;
        return ddl::end_without_foreign_keys(db, conn, done).await;
    }
    let mut tx = db.begin().await.map_err(|e| e.to_string())?;
    match run_step(db, &mut tx, step, change, models).await {
        Ok(()) => tx.commit().await.map_err(|e| e.to_string()),
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// One step on `conn` inside its transaction: the change, its record and the new model.
async fn run_step(
    db: &Db,
    conn: &mut AnyConnection,
    step: &Recorded<'_>,
    change: &Change,
    (before, after): (&[Table], &[Table]),
) -> Result<(), String> {
    ddl::run_change(db, conn, change, before, after).await?;
    let checksum = sha256_hex(serde_json::to_string(change).unwrap_or_default().as_bytes());
    migrate::record(db, conn, step.chain, (step.version, step.name), &checksum)
        .await
        .map_err(|e| e.to_string())?;
    save(db, conn, step.plugin, after)
        .await
        .map_err(|e| e.to_string())?;
    run_statements(db, conn, step.finish)
        .await
        .map_err(|e| e.to_string())
}

/// Follows hand-written migrations that just ran in the recorded model, so the planner does
/// not plan what they did again. Nothing to do while no model is recorded (it is then read
/// from the live tables).
pub async fn follow(db: &Db, plugin: &str, ran: &[&Migration]) -> Result<(), sqlx::Error> {
    let Some(mut model) = recorded(db, plugin).await? else {
        return Ok(());
    };
    for step in ran.iter().flat_map(|m| m.steps.iter()) {
        planner::replay(&mut model, step);
    }
    let mut tx = db.begin().await?;
    save(db, &mut tx, plugin, &model).await?;
    tx.commit().await
}

/// The model chain's state for `db status`: its recorded steps and, as pending, the plan (or
/// why it is refused).
pub async fn status(db: &Db, plugin: &str, wanted: &[Table]) -> Result<ChainStatus, sqlx::Error> {
    let chain = model_chain(plugin);
    let applied: Vec<Applied> = migrate::applied(db, &chain).await?;
    let next = applied.iter().map(|a| a.version).max().unwrap_or(0);
    let mut status = ChainStatus {
        chain,
        applied,
        pending: Vec::new(),
        changed: Vec::new(),
        unknown: Vec::new(),
        refused: None,
    };
    match plan(db, plugin, wanted).await {
        Ok(plan) => {
            status.pending = (next + 1..)
                .zip(plan.steps.iter().map(Change::describe))
                .collect();
        }
        Err(EvolveError::Database(e)) => return Err(e),
        Err(e) => status.refused = Some(e.to_string()),
    }
    Ok(status)
}

/// Forgets the recorded model and the model chain of `plugin` (uninstall).
pub async fn forget(db: &Db, plugin: &str) -> Result<(), sqlx::Error> {
    migrate::forget_chain(db, &model_chain(plugin)).await?;
    db.execute_write(
        "DELETE FROM pluginmodels WHERE pluginname = ?",
        &[SqlValue::text(plugin)],
    )
    .await?;
    Ok(())
}

/// The model recorded for `plugin`, if any.
pub async fn recorded(db: &Db, plugin: &str) -> Result<Option<Vec<Table>>, sqlx::Error> {
    let row = db
        .query("SELECT tables FROM pluginmodels WHERE pluginname = ?")
        .bind(plugin.to_string())
        .fetch_optional(db.pool())
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let text: String = row.try_get(0)?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

async fn save(
    db: &Db,
    conn: &mut AnyConnection,
    plugin: &str,
    model: &[Table],
) -> Result<(), sqlx::Error> {
    let text = serde_json::to_string(model).unwrap_or_default();
    db.query("DELETE FROM pluginmodels WHERE pluginname = ?")
        .bind(plugin.to_string())
        .execute(&mut *conn)
        .await?;
    db.query("INSERT INTO pluginmodels (pluginname, tables, recordedat) VALUES (?, ?, ?)")
        .bind(plugin.to_string())
        .bind(text)
        .bind(now())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The model a plugin installed before models were recorded has: `wanted`, cut down to the
/// tables, columns and indexes that exist, plus live columns the model no longer has (so a
/// removal is noticed), with string lengths and nullability as the database declares them. A
/// live column that a field is `renamed_from` takes that field's type.
async fn derive(db: &Db, wanted: &[Table]) -> Result<Vec<Table>, sqlx::Error> {
    let mut model = Vec::new();
    for table in wanted {
        let live = live_columns(db, &table.name).await?;
        if live.is_empty() {
            continue;
        }
        let indexes = live_indexes(db, &table.name).await?;
        let mut t = normalized(table);
        t.columns.retain(|c| live.contains(&c.name));
        t.indexes.retain(|i| indexes.contains(&i.name));
        for name in &live {
            if t.get(name).is_some() {
                continue;
            }
            let column = match table
                .columns
                .iter()
                .find(|c| c.renamed_from.as_deref() == Some(name.as_str()))
            {
                Some(new) => Column {
                    name: name.clone(),
                    renamed_from: None,
                    ..new.clone()
                },
                None => Column::text(name).nullable(),
            };
            t.columns.push(column);
        }
        let shapes = live_shapes(db, &table.name).await?;
        for c in &mut t.columns {
            if let Some(shape) = shapes.iter().find(|s| s.name == c.name) {
                shape.apply(c);
            }
        }
        model.push(normalized(&t));
    }
    Ok(model)
}

/// What the database says about a text column: its declared length (none for unbounded
/// text) and whether it takes NULL.
struct LiveShape {
    name: String,
    length: Option<u32>,
    text: bool,
    nullable: bool,
}

impl LiveShape {
    /// Corrects `c` (as `models()` has it) to what the table really has, so a string
    /// widened or a field made optional by the new release is planned as such.
    fn apply(&self, c: &mut Column) {
        if matches!(c.ty, ColumnType::String(_) | ColumnType::Text) {
            if let Some(n) = self.length {
                c.ty = ColumnType::String(n);
            } else if self.text {
                c.ty = ColumnType::Text;
            }
        }
        if c.ty != ColumnType::Id {
            c.nullable = self.nullable;
        }
    }
}

/// Declared type and nullability of `table`'s columns.
async fn live_shapes(db: &Db, table: &str) -> Result<Vec<LiveShape>, sqlx::Error> {
    let sql = match db.dialect() {
        Dialect::Sqlite => "SELECT name, type, \"notnull\" = 0 FROM pragma_table_info(?)",
        Dialect::MySql => {
            "SELECT CAST(column_name AS CHAR), CAST(column_type AS CHAR), is_nullable = 'YES' FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?"
        }
        Dialect::Postgres => {
            "SELECT CAST(column_name AS TEXT), CASE WHEN data_type = 'character varying' THEN 'varchar(' || character_maximum_length || ')' ELSE CAST(data_type AS TEXT) END, is_nullable = 'YES' FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?"
        }
    };
    let rows = db
        .query(sql)
        .bind(table.to_string())
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            let declared = r.try_get::<String, _>(1)?.to_lowercase();
            let nullable = match r.try_get::<bool, _>(2) {
                Ok(b) => b,
                Err(_) => r.try_get::<i64, _>(2)? != 0,
            };
            let length = declared
                .strip_prefix("varchar(")
                .and_then(|rest| rest.strip_suffix(')'))
                .and_then(|n| n.parse().ok());
            Ok(LiveShape {
                name: r.try_get(0)?,
                length,
                text: declared.ends_with("text"),
                nullable,
            })
        })
        .collect()
}

/// Index names of `table` as the database has them.
async fn live_indexes(db: &Db, table: &str) -> Result<Vec<String>, sqlx::Error> {
    let sql = match db.dialect() {
        Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
        Dialect::MySql => {
            "SELECT DISTINCT CAST(index_name AS CHAR) FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ?"
        }
        Dialect::Postgres => {
            "SELECT CAST(indexname AS TEXT) FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ?"
        }
    };
    db.query(sql)
        .bind(table.to_string())
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect()
}

/// Older builds recorded the default chain's `1 baseline` (the tables of `models()` at
/// install time) under the plugin's own chain; it belongs to the model chain now.
async fn adopt_default_baseline(db: &Db, plugin: &str) -> Result<(), sqlx::Error> {
    db.execute_write(
        "UPDATE schemamigrations SET chain = ? WHERE chain = ? AND version = 1 AND name = 'baseline'",
        &[SqlValue::text(model_chain(plugin)), SqlValue::text(plugin)],
    )
    .await?;
    Ok(())
}

/// Rows of `table` whose `column` holds `choice`.
pub(crate) async fn holders<'c, E>(
    db: &Db,
    conn: E,
    table: &str,
    column: &str,
    choice: &str,
) -> Result<i64, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    db.query(&format!("SELECT COUNT(*) FROM {table} WHERE {column} = ?"))
        .bind(choice.to_string())
        .fetch_one(conn)
        .await?
        .try_get(0)
}

/// Writes every row's key and the value of the column a declared drop removes to a new file
/// in `dir`, readable by its owner only.
async fn backup_column(
    db: &Db,
    plugin: &str,
    model: &[Table],
    change: &Change,
    dir: &Path,
) -> Result<PathBuf, String> {
    let Change::DropColumn { table, column, .. } = change else {
        return Err("not a drop".into());
    };
    let key = model
        .iter()
        .find(|t| &t.name == table)
        .map(|t| {
            let k = t.key_column().to_string();
            let ty = t.get(&k).map(|c| c.ty).unwrap_or(ColumnType::Integer);
            (k, ty)
        })
        .ok_or_else(|| format!("table {table} is not in the recorded model"))?;
    let rows = db
        .query(&format!("SELECT {}, {} FROM {table}", key.0, column.name))
        .fetch_all(db.pool())
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for row in &rows {
        let mut m = Map::new();
        let id = decode_column(row, 0, key.1.value_kind()).map_err(|e| e.to_string())?;
        let value = decode_column(row, 1, column.ty.value_kind()).map_err(|e| e.to_string())?;
        m.insert(key.0.clone(), id);
        m.insert(column.name.clone(), value);
        out.push(Value::Object(m));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let file = dir.join(format!(
        "{plugin}-{table}-{}-{}-{}.json",
        column.name,
        now().replace(':', ""),
        crate::util::random_token(4)
    ));
    let body =
        json!({"plugin": plugin, "table": table, "column": column, "takenat": now(), "rows": out});
    crate::util::write_private(&file, &serde_json::to_vec_pretty(&body).unwrap_or_default())
        .map_err(|e| format!("cannot write the backup {}: {e}", file.display()))?;
    Ok(file)
}
