//! Restoring an archive into an empty database of any kind: the schema through the normal
//! migrations at the archive's versions, then every row in one transaction, then the
//! migrations this build has beyond those versions.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek};
use std::path::Path;

use anyhow::{Context, bail};
use serde_json::Value;
use shopdb_core::core_schema::{CORE_CHAIN, core_chain};
use shopdb_core::db::{Db, Dialect, SqlValue, ValueKind};
use shopdb_core::migrate::{self, Chain, Step};
use shopdb_core::plugin::Registry;
use shopdb_core::plugin::lifecycle::chain_of;
use shopdb_core::portable;
use shopdb_core::schema::live_columns;
use sqlx::AnyConnection;
use zip::ZipArchive;

use super::{FORMAT, FORMAT_VERSION, Manifest, Summary, TableRecord};
use crate::progress::Progress;

/// Bytes of archive lines held in memory at once while loading (floor-plan images are large).
const BATCH_BYTES: usize = 16 << 20;

/// Restores the archive `file` into `db`, which must hold no ShopDB tables. A failure after
/// the schema was created drops every table the restore created, so the database is empty
/// again; the error says so.
pub async fn restore(
    db: &Db,
    registry: &Registry,
    file: &Path,
    progress: &Progress,
) -> anyhow::Result<Summary> {
    let mut archive = open(file)?;
    let manifest = read_manifest(&mut archive)?;
    let chains = chains_at_recorded_versions(registry, &manifest)?;
    refuse_non_empty(db, &manifest).await?;
    progress.set_total(manifest.tables.iter().map(|t| t.rows).sum());
    let outcome = create_and_load(db, &chains, &manifest, &mut archive, progress).await;
    if let Err(e) = outcome {
        return match drop_created(db, &manifest).await {
            Ok(()) => Err(e.context(
                "restore failed; the tables it had created were dropped and the database is empty again",
            )),
            Err(cleanup) => Err(e.context(format!(
                "restore failed, and dropping the tables it had created failed too ({cleanup}): drop them by hand before trying again"
            ))),
        };
    }
    // Migrations this build has beyond the archive's versions run on the restored rows.
    progress.stage("migrations");
    for (chain, full) in &chains {
        migrate::upgrade(db, full).await.with_context(|| {
            format!(
                "the rows are restored, but upgrading chain {} failed",
                chain.name
            )
        })?;
    }
    // MySQL's word endings for search are derived from the restored entries (on a large
    // site, the longest part of a restore there).
    progress.stage("search word endings");
    shopdb_core::search::backfill_suffixes(db, true).await?;
    Ok(Summary {
        tables: manifest.tables.len(),
        rows: progress.done(),
    })
}

fn open(file: &Path) -> anyhow::Result<ZipArchive<BufReader<File>>> {
    let f = File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    ZipArchive::new(BufReader::new(f)).with_context(|| {
        format!(
            "{} is not a ShopDB backup (not a zip archive)",
            file.display()
        )
    })
}

fn read_manifest<R: Read + Seek>(archive: &mut ZipArchive<R>) -> anyhow::Result<Manifest> {
    let entry = archive
        .by_name("manifest.json")
        .context("not a ShopDB backup: the archive has no manifest.json")?;
    let manifest: Manifest =
        serde_json::from_reader(entry).context("the archive's manifest.json cannot be read")?;
    if manifest.format != FORMAT {
        bail!(
            "not a ShopDB backup: manifest format is '{}'",
            manifest.format
        );
    }
    if manifest.formatversion > FORMAT_VERSION {
        bail!(
            "the archive has format version {}, this build reads up to {FORMAT_VERSION}: restore it with a newer shopdb",
            manifest.formatversion
        );
    }
    Ok(manifest)
}

/// For each chain of the archive: the chain cut at the archive's version (to create the
/// schema the rows were taken from) and the full chain of this build. Refuses an archive
/// that needs a plugin this build lacks, or a migration it does not know or knows otherwise.
fn chains_at_recorded_versions(
    registry: &Registry,
    manifest: &Manifest,
) -> anyhow::Result<Vec<(Chain, Chain)>> {
    let mut out = Vec::new();
    for record in &manifest.chains {
        // A plugin's planned model steps: its tables are made from the archive's recorded
        // model (`model_tables`), not from this build's migrations.
        if let Some(plugin) = record.chain.strip_suffix(".model") {
            if registry.get(plugin).is_none() {
                bail!("the archive needs plugin {plugin}, which this build does not include");
            }
            continue;
        }
        let full = if record.chain == CORE_CHAIN {
            core_chain()
        } else {
            match registry.get(&record.chain) {
                Some(p) => chain_of(p),
                None => bail!(
                    "the archive needs plugin {}, which this build does not include{}",
                    record.chain,
                    registry
                        .quarantined(&record.chain)
                        .map(|q| format!(" ({})", q.error))
                        .unwrap_or_default()
                ),
            }
        };
        for m in &record.migrations {
            match full.migrations.iter().find(|k| k.version == m.version) {
                None => bail!(
                    "the archive's chain {} is at version {} ({}), which this build does not know: restore it with a newer shopdb",
                    record.chain,
                    m.version,
                    m.name
                ),
                Some(k) if k.checksum() != m.checksum => bail!(
                    "migration {} {} ({}) differs between the archive and this build",
                    record.chain,
                    m.version,
                    m.name
                ),
                Some(_) => {}
            }
        }
        let cut = Chain {
            name: full.name.clone(),
            migrations: full
                .migrations
                .iter()
                .filter(|m| m.version <= record.version())
                .cloned()
                .collect(),
        };
        out.push((cut, full));
    }
    if !out.iter().any(|(c, _)| c.name == CORE_CHAIN) {
        bail!("the archive records no core migrations: it is not a ShopDB backup");
    }
    Ok(out)
}

async fn refuse_non_empty(db: &Db, manifest: &Manifest) -> anyhow::Result<()> {
    let names =
        std::iter::once("schemamigrations").chain(manifest.tables.iter().map(|t| t.name.as_str()));
    let mut found = Vec::new();
    for name in names {
        if !live_columns(db, name).await?.is_empty() {
            found.push(name);
        }
    }
    if !found.is_empty() {
        bail!(
            "restore needs an empty database, and {} already has ShopDB tables ({}): restore into a new database",
            db.display_url(),
            found.iter().take(3).copied().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}

async fn create_and_load<R: Read + Seek>(
    db: &Db,
    chains: &[(Chain, Chain)],
    manifest: &Manifest,
    archive: &mut ZipArchive<R>,
    progress: &Progress,
) -> anyhow::Result<()> {
    progress.stage("schema");
    for (cut, _) in chains {
        migrate::upgrade(db, cut).await?;
    }
    create_model_tables(db, manifest, archive).await?;
    let mut tx = db.begin().await?;
    // The migrations' reference rows (statuses, asset types …) are in the archive as they
    // were at the source; theirs go first.
    let seeded = seeded_tables(chains);
    for table in manifest.tables.iter().rev() {
        if seeded.contains(&table.name.as_str()) {
            db.query(&format!("DELETE FROM {}", table.name))
                .execute(&mut *tx)
                .await?;
        }
    }
    for table in &manifest.tables {
        progress.stage(&table.name);
        load_table(db, &mut tx, archive, table, progress)
            .await
            .with_context(|| format!("cannot restore table {}", table.name))?;
    }
    restore_migration_records(db, &mut tx, manifest).await?;
    tx.commit().await?;
    db.forget_counts();
    Ok(())
}

/// Creates the tables of plugins whose tables come from planned model steps, exactly as the
/// source had them: from the models recorded in the archive's `pluginmodels` rows.
async fn create_model_tables<R: Read + Seek>(
    db: &Db,
    manifest: &Manifest,
    archive: &mut ZipArchive<R>,
) -> anyhow::Result<()> {
    let Some(record) = manifest.tables.iter().find(|t| t.name == "pluginmodels") else {
        return Ok(());
    };
    let file = archive
        .by_name(&record.file)
        .with_context(|| format!("the archive lacks {}", record.file))?;
    for line in BufReader::new(file).lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let row = decode_line(&line, record)?;
        let at = |name: &str| record.columns.iter().position(|c| c.name == name);
        let (Some(p), Some(t)) = (at("pluginname"), at("tables")) else {
            bail!("the archive's pluginmodels has no pluginname or tables column");
        };
        let (SqlValue::Text(plugin), SqlValue::Text(json)) = (&row[p], &row[t]) else {
            continue;
        };
        let tables: Vec<shopdb_core::schema::Table> = serde_json::from_str(json)
            .with_context(|| format!("the recorded model of plugin {plugin} cannot be read"))?;
        for table in tables {
            if live_columns(db, &table.name).await?.is_empty() {
                for sql in table.create_sql(db.dialect()) {
                    db.query(&sql).execute(db.pool()).await?;
                }
            }
        }
    }
    Ok(())
}

/// Tables the migrations (cut at the archive's versions) put reference rows into.
fn seeded_tables(chains: &[(Chain, Chain)]) -> Vec<&str> {
    chains
        .iter()
        .flat_map(|(cut, _)| &cut.migrations)
        .flat_map(|m| &m.steps)
        .filter_map(|step| match step {
            Step::Seed { table, .. } => Some(table.as_str()),
            _ => None,
        })
        .collect()
}

/// Loads one table's rows in multi-row inserts, in batches bounded by rows and by bytes.
async fn load_table<R: Read + Seek>(
    db: &Db,
    conn: &mut AnyConnection,
    archive: &mut ZipArchive<R>,
    table: &TableRecord,
    progress: &Progress,
) -> anyhow::Result<()> {
    let columns: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    let batch_size = portable::rows_per_insert(columns.len()) * 4;
    let entry = archive
        .by_name(&table.file)
        .with_context(|| format!("the archive has no {}", table.file))?;
    let mut lines = BufReader::new(entry).lines();
    let mut own = SelfReferences::of(table);
    let mut batch: Vec<Vec<SqlValue>> = Vec::with_capacity(batch_size);
    let (mut batch_bytes, mut line_no) = (0, 0u64);
    loop {
        let line = lines.next().transpose()?;
        if let Some(line) = &line {
            line_no += 1;
            let mut row = decode_line(line, table)
                .with_context(|| format!("{} line {line_no}", table.file))?;
            own.take(&mut row);
            batch.push(row);
            batch_bytes += line.len();
        }
        let full = batch.len() >= batch_size || batch_bytes >= BATCH_BYTES;
        if full || (line.is_none() && !batch.is_empty()) {
            portable::insert_rows(db, conn, &table.name, &columns, &batch).await?;
            progress.add(batch.len() as u64);
            batch.clear();
            batch_bytes = 0;
        }
        if line.is_none() {
            break;
        }
    }
    if line_no != table.rows {
        bail!(
            "{} holds {line_no} rows, the manifest says {}: the archive is damaged",
            table.file,
            table.rows
        );
    }
    own.fill_in(db, conn, &table.name).await?;
    if let Some(id) = table.id_column() {
        portable::reset_identity(db, conn, &table.name, id).await?;
    }
    Ok(())
}

/// Columns that refer to their own table (a location's parent). A row may come before the
/// row it refers to, so they are inserted empty and filled in once the table is loaded.
struct SelfReferences {
    /// The key column's position and name.
    key: (usize, String),
    /// Positions and names of the self-referring columns.
    columns: Vec<(usize, String)>,
    /// (column position, key value, value) to set afterwards.
    later: Vec<(usize, SqlValue, SqlValue)>,
}

impl SelfReferences {
    fn of(table: &TableRecord) -> SelfReferences {
        let key = table
            .id_column()
            .and_then(|k| table.columns.iter().position(|c| c.name == k))
            .map(|i| (i, table.columns[i].name.clone()));
        let columns = match key {
            None => Vec::new(),
            Some(_) => table
                .columns
                .iter()
                .enumerate()
                .filter(|(_, c)| c.nullable && c.references.as_deref() == Some(&table.name))
                .map(|(i, c)| (i, c.name.clone()))
                .collect(),
        };
        SelfReferences {
            key: key.unwrap_or((0, String::new())),
            columns,
            later: Vec::new(),
        }
    }

    /// Empties the row's self-referring values, keeping them for `fill_in`.
    fn take(&mut self, row: &mut [SqlValue]) {
        for (i, _) in &self.columns {
            if !matches!(row[*i], SqlValue::Null(_)) {
                let value = std::mem::replace(&mut row[*i], SqlValue::Null(ValueKind::Int));
                self.later.push((*i, row[self.key.0].clone(), value));
            }
        }
    }

    async fn fill_in(self, db: &Db, conn: &mut AnyConnection, table: &str) -> anyhow::Result<()> {
        for (i, id, value) in self.later {
            let column = self.columns.iter().find(|(c, _)| *c == i).map(|(_, n)| n);
            let sql = format!(
                "UPDATE {table} SET {} = ? WHERE {} = ?",
                column.map_or("", String::as_str),
                self.key.1
            );
            db.query_with(&sql, &[value, id])
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

fn decode_line(line: &str, table: &TableRecord) -> anyhow::Result<Vec<SqlValue>> {
    let values: Vec<Value> = serde_json::from_str(line).context("not a JSON array")?;
    if values.len() != table.columns.len() {
        bail!(
            "{} values where the table has {} columns",
            values.len(),
            table.columns.len()
        );
    }
    values
        .iter()
        .zip(&table.columns)
        .map(|(v, c)| {
            portable::to_sql(v, c.ty).map_err(|e| anyhow::anyhow!("column {}: {e}", c.name))
        })
        .collect()
}

/// The migration records as the source had them (their original times), in place of the
/// ones this restore's migrations wrote.
async fn restore_migration_records(
    db: &Db,
    conn: &mut AnyConnection,
    manifest: &Manifest,
) -> anyhow::Result<()> {
    db.query("DELETE FROM schemamigrations")
        .execute(&mut *conn)
        .await?;
    let rows: Vec<Vec<SqlValue>> = manifest
        .chains
        .iter()
        .flat_map(|c| {
            c.migrations.iter().map(|m| {
                vec![
                    SqlValue::text(&c.chain),
                    SqlValue::Int(m.version),
                    SqlValue::text(&m.name),
                    SqlValue::text(&m.checksum),
                    SqlValue::text(&m.appliedat),
                ]
            })
        })
        .collect();
    portable::insert_rows(
        db,
        conn,
        "schemamigrations",
        &["chain", "version", "name", "checksum", "appliedat"],
        &rows,
    )
    .await?;
    Ok(())
}

/// Drops every table a restore creates, children first, leaving the database as it was.
async fn drop_created(db: &Db, manifest: &Manifest) -> anyhow::Result<()> {
    // Besides the archive's tables, the migrations create two derived from `searchindex` that
    // hold no rows of their own. MariaDB's word endings refer to `searchindex`, so they go first; SQLite's full-text
    // table goes last, because the triggers of `searchindex` write to it while the tables
    // that `searchindex` refers to are dropped.
    let tables = std::iter::once("searchsuffixes")
        .chain(manifest.tables.iter().rev().map(|t| t.name.as_str()))
        .chain(["schemamigrations", "searchfts"]);
    for table in tables {
        let sql = match db.dialect() {
            Dialect::Postgres => format!("DROP TABLE IF EXISTS {table} CASCADE"),
            Dialect::Sqlite | Dialect::MySql => format!("DROP TABLE IF EXISTS {table}"),
        };
        db.query(&sql).execute(db.pool()).await?;
    }
    Ok(())
}
