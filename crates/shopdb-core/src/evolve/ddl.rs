//! The SQL of each planned change, per dialect, and SQLite's table rebuild.

use sqlx::AnyConnection;

use super::holders;
use crate::db::{Db, Dialect};
use crate::planner::Change;
use crate::schema::{
    Column, ColumnType, Index, Table, add_column_sql, create_index_sql, index_sql, lower_column,
};

/// Whether SQLite has to rebuild the table for `change` (it cannot alter a column in place).
pub(super) fn rebuilds(change: &Change) -> bool {
    matches!(
        change,
        Change::AlterColumn { .. } | Change::SwitchColumn { .. } | Change::DropColumn { .. }
    )
}

/// Runs one change on the step's transaction. `before`/`after`: the model around it.
pub(super) async fn run_change(
    db: &Db,
    conn: &mut AnyConnection,
    change: &Change,
    before: &[Table],
    after: &[Table],
) -> Result<(), String> {
    let dialect = db.dialect();
    let table_of = |model: &[Table], name: &str| model.iter().find(|t| t.name == name).cloned();
    let statements: Vec<String> = match change {
        Change::CreateTable { table } => table.create_sql(dialect),
        Change::AddColumn { table, column } => add_column_sql(table, column, dialect),
        Change::CreateIndex { table, index } => vec![create_index_sql(table, index, dialect)],
        Change::DropIndex { table, index } => vec![drop_index_sql(table, index, dialect)],
        Change::AddChoice { .. } => Vec::new(),
        Change::RemoveChoice {
            table,
            column,
            choice,
        } => {
            let n = holders(db, &mut *conn, table, column, choice)
                .await
                .map_err(|e| e.to_string())?;
            if n > 0 {
                return Err(format!(
                    "{table}.{column}: choice '{choice}' is still held by {n} rows"
                ));
            }
            Vec::new()
        }
        Change::CopyColumn { table, from, to } => {
            let copy = table_of(after, table)
                .and_then(|t| t.get(&to.name).cloned())
                .ok_or("column missing from the model")?;
            let mut sql = add_column_sql(table, &copy, dialect);
            sql.push(format!("UPDATE {table} SET {} = {from}", to.name));
            sql
        }
        Change::SwitchColumn { table, from, to } => {
            let mut sql = vec![format!(
                "UPDATE {table} SET {} = {from} WHERE {} IS NULL",
                to.name, to.name
            )];
            let (old, new) = (table_of(before, table), table_of(after, table));
            let (old, new) = old.zip(new).ok_or("table missing from the model")?;
            if dialect != Dialect::Sqlite {
                for name in [&to.name, from] {
                    let (a, b) = old.get(name).zip(new.get(name)).ok_or("column missing")?;
                    sql.extend(alter_sql(table, a, b, dialect));
                }
            }
            sql
        }
        Change::AlterColumn { table, from, to } => alter_sql(table, from, to, dialect),
        Change::DropColumn { table, column, .. } => {
            if dialect == Dialect::Sqlite {
                Vec::new()
            } else {
                vec![format!("ALTER TABLE {table} DROP COLUMN {}", column.name)]
            }
        }
    };
    run_all(db, conn, &statements).await?;
    if dialect == Dialect::Sqlite && rebuilds(change) {
        let name = table_name(change);
        let (old, new) = table_of(before, name)
            .zip(table_of(after, name))
            .ok_or("table missing from the model")?;
        rebuild_sqlite(db, conn, &old, &new).await?;
    }
    Ok(())
}

fn table_name(change: &Change) -> &str {
    match change {
        Change::CreateTable { table } => &table.name,
        Change::AddColumn { table, .. }
        | Change::CreateIndex { table, .. }
        | Change::DropIndex { table, .. }
        | Change::AlterColumn { table, .. }
        | Change::AddChoice { table, .. }
        | Change::RemoveChoice { table, .. }
        | Change::CopyColumn { table, .. }
        | Change::SwitchColumn { table, .. }
        | Change::DropColumn { table, .. } => table,
    }
}

fn drop_index_sql(table: &str, index: &Index, dialect: Dialect) -> String {
    match dialect {
        Dialect::MySql if index.lower => format!(
            "ALTER TABLE {table} DROP INDEX {}, DROP COLUMN {}",
            index.name,
            lower_column(&index.columns[0])
        ),
        Dialect::MySql => format!("ALTER TABLE {table} DROP INDEX {}", index.name),
        _ => format!("DROP INDEX IF EXISTS {}", index.name),
    }
}

/// Statements turning column `from` into `to` on MySQL and PostgreSQL (SQLite rebuilds).
fn alter_sql(table: &str, from: &Column, to: &Column, dialect: Dialect) -> Vec<String> {
    let c = &to.name;
    let mut sql = Vec::new();
    match dialect {
        Dialect::Sqlite => return sql,
        Dialect::MySql => {
            if from.ty != to.ty || from.nullable != to.nullable || from.default != to.default {
                sql.push(format!(
                    "ALTER TABLE {table} MODIFY COLUMN {}",
                    to.definition(dialect)
                ));
            }
        }
        Dialect::Postgres => {
            if from.ty != to.ty {
                sql.push(format!(
                    "ALTER TABLE {table} ALTER COLUMN {c} TYPE {}",
                    to.ty.sql(dialect)
                ));
            }
            if from.nullable != to.nullable {
                let how = if to.nullable { "DROP" } else { "SET" };
                sql.push(format!(
                    "ALTER TABLE {table} ALTER COLUMN {c} {how} NOT NULL"
                ));
            }
            if from.default != to.default {
                sql.push(match &to.default {
                    Some(d) => format!("ALTER TABLE {table} ALTER COLUMN {c} SET DEFAULT {d}"),
                    None => format!("ALTER TABLE {table} ALTER COLUMN {c} DROP DEFAULT"),
                });
            }
        }
    }
    if !from.unique && to.unique {
        sql.push(format!("ALTER TABLE {table} ADD UNIQUE ({c})"));
    }
    sql
}

/// SQLite cannot alter a column: the table is created again as `new` describes it under a
/// temporary name, every row copied with its id, the id sequence carried over, the old table
/// dropped and the new one renamed into its place, indexes created again. Runs inside
/// `without_foreign_keys`, so dropping the old table fires no cascade on tables that refer to
/// it, and their references find the new table by name.
async fn rebuild_sqlite(
    db: &Db,
    conn: &mut AnyConnection,
    old: &Table,
    new: &Table,
) -> Result<(), String> {
    let temp = Table {
        name: format!("{}_rebuild", new.name),
        indexes: Vec::new(),
        ..new.clone()
    };
    let list = new
        .columns
        .iter()
        .filter(|c| old.get(&c.name).is_some())
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let mut statements = temp.create_sql(Dialect::Sqlite);
    statements.push(format!(
        "INSERT INTO {} ({list}) SELECT {list} FROM {}",
        temp.name, old.name
    ));
    if new.columns.iter().any(|c| c.ty == ColumnType::Id) {
        // A deleted row's id is not given out again: the sequence goes with the table.
        statements.push(format!(
            "DELETE FROM sqlite_sequence WHERE name = '{}'",
            temp.name
        ));
        statements.push(format!(
            "INSERT INTO sqlite_sequence (name, seq) SELECT '{}', seq FROM sqlite_sequence WHERE name = '{}'",
            temp.name, old.name
        ));
    }
    statements.push(format!("DROP TABLE {}", old.name));
    statements.push(format!("ALTER TABLE {} RENAME TO {}", temp.name, new.name));
    statements.extend(new.indexes.iter().map(|i| index_sql(&new.name, i)));
    run_all(db, conn, &statements).await
}

/// A connection with its foreign keys off and a transaction begun, as SQLite's procedure for
/// rebuilding a table asks (the setting cannot change inside a transaction). Pair it with
/// `end_without_foreign_keys`.
pub(super) async fn begin_without_foreign_keys(
    db: &Db,
) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, String> {
    let mut conn = db.pool().acquire().await.map_err(|e| e.to_string())?;
    if let Err(e) = run_all(
        db,
        &mut conn,
        &["PRAGMA foreign_keys = OFF", "BEGIN IMMEDIATE"],
    )
    .await
    {
        let _ = conn.close().await;
        return Err(e);
    }
    Ok(conn)
}

/// Commits the step when it succeeded and every reference still holds, else rolls it back;
/// the connection gets its foreign keys back (or is closed) whatever happened.
pub(super) async fn end_without_foreign_keys(
    db: &Db,
    mut conn: sqlx::pool::PoolConnection<sqlx::Any>,
    mut result: Result<(), String>,
) -> Result<(), String> {
    if result.is_ok() {
        result = broken_references(db, &mut conn).await;
    }
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    let ended = run_all(db, &mut conn, &[end]).await;
    if ended.is_err() {
        let _ = run_all(db, &mut conn, &["ROLLBACK"]).await;
    }
    let restored = run_all(db, &mut conn, &["PRAGMA foreign_keys = ON"]).await;
    if ended.is_err() || restored.is_err() {
        let _ = conn.close().await;
    }
    result.and(ended).and(restored)
}

/// The first reference `PRAGMA foreign_key_check` finds broken, as an error.
async fn broken_references(db: &Db, conn: &mut AnyConnection) -> Result<(), String> {
    use sqlx::Row;
    let broken = db
        .query("SELECT \"table\", \"parent\" FROM pragma_foreign_key_check")
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| e.to_string())?;
    match broken {
        None => Ok(()),
        Some(row) => Err(format!(
            "a row of {} refers to a missing row of {}",
            row.try_get::<String, _>(0).unwrap_or_default(),
            row.try_get::<String, _>(1).unwrap_or_default()
        )),
    }
}

async fn run_all<S: AsRef<str>>(
    db: &Db,
    conn: &mut AnyConnection,
    statements: &[S],
) -> Result<(), String> {
    for sql in statements {
        db.query(sql.as_ref())
            .execute(&mut *conn)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
