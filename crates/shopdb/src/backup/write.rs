//! Taking a backup: every table read in one snapshot and streamed into the archive.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use futures_util::TryStreamExt;
use shopdb_core::db::{Db, Dialect};
use shopdb_core::plugin::Registry;
use shopdb_core::portable;
use sqlx::{AnyConnection, Connection, Executor, Row};
use zip::ZipWriter;
use zip::write::SimpleFileOptions;

use super::{
    ChainRecord, FORMAT, FORMAT_VERSION, Manifest, MigrationRecord, PluginRecord, Summary,
    TableRecord, check_current, tables_of,
};
use crate::progress::Progress;

/// Rows written between two progress updates.
const PROGRESS_EVERY: u64 = 1_000;

/// Bytes of JSON lines handed to the compressor at once.
const BLOCK_BYTES: usize = 256 * 1024;

/// Writes a backup of `db` to `file`, which must not exist yet. Everything is read in one
/// read-only snapshot, so writers carry on and the archive still shows one moment. The
/// archive is written under a temporary name and renamed when complete: a failed backup
/// leaves no file behind.
pub async fn backup(
    db: &Db,
    registry: &Registry,
    file: &Path,
    progress: &Progress,
) -> anyhow::Result<Summary> {
    if file.exists() {
        anyhow::bail!(
            "{} exists already: choose another file name",
            file.display()
        );
    }
    let partial = partial_name(file);
    let out =
        create_private(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
    let mut zip = ZipWriter::new(BufWriter::with_capacity(1 << 20, out));
    let written = write_snapshot(db, registry, &mut zip, progress).await;
    let finished = written.and_then(|summary| {
        let mut inner = zip.finish().context("cannot finish the archive")?;
        inner.flush().context("cannot write the archive")?;
        std::fs::rename(&partial, file).with_context(|| {
            format!("cannot rename {} to {}", partial.display(), file.display())
        })?;
        Ok(summary)
    });
    if finished.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    finished
}

fn partial_name(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// A new file readable by its owner only: the archive holds password hashes and settings.
fn create_private(file: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(file)
}

/// The statement that opens a read-only snapshot on `dialect`. SQLite's deferred BEGIN takes
/// its snapshot at the first read and, in WAL mode, keeps it while others write.
fn snapshot_statement(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "BEGIN",
        Dialect::MySql => "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
        Dialect::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
    }
}

async fn write_snapshot<W: Write + std::io::Seek>(
    db: &Db,
    registry: &Registry,
    zip: &mut ZipWriter<W>,
    progress: &Progress,
) -> anyhow::Result<Summary> {
    let mut conn = db.pool().acquire().await?;
    if db.dialect() == Dialect::MySql {
        // Connections read committed by default (see `db`); a snapshot needs REPEATABLE READ,
        // set here for the next transaction only.
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .await?;
    }
    let mut tx = conn
        .begin_with(snapshot_statement(db.dialect()))
        .await
        .context("cannot open a read snapshot")?;
    let chains = read_chains(db, &mut tx).await?;
    let plugins = read_plugins(db, &mut tx).await?;
    let names: Vec<String> = chains.iter().map(|c| c.chain.clone()).collect();
    let tables = tables_of(registry, &names).context("cannot back up this database")?;
    check_current(registry, &chains)?;
    let mut records = Vec::new();
    let mut total = 0;
    for (_, table) in &tables {
        let n: i64 = db
            .query(&format!("SELECT COUNT(*) FROM {}", table.name))
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        total += n as u64;
    }
    progress.set_total(total);
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .large_file(true);
    for (chain, table) in &tables {
        progress.stage(&table.name);
        let mut record = TableRecord::new(chain, table);
        zip.start_file(record.file.as_str(), options)?;
        let mut rows = db.query(&portable::select_all_sql(table)).fetch(&mut *tx);
        // Lines are gathered and handed to the compressor in blocks, not one small write each.
        let mut block = Vec::with_capacity(BLOCK_BYTES + 4096);
        let mut pending = 0;
        while let Some(row) = rows.try_next().await? {
            let values = portable::read_row(&row, table)
                .with_context(|| format!("cannot read a row of {}", table.name))?;
            serde_json::to_writer(&mut block, &values)?;
            block.push(b'\n');
            record.rows += 1;
            pending += 1;
            if block.len() >= BLOCK_BYTES {
                zip.write_all(&block)?;
                block.clear();
            }
            if pending == PROGRESS_EVERY {
                progress.add(pending);
                pending = 0;
            }
        }
        zip.write_all(&block)?;
        progress.add(pending);
        records.push(record);
    }
    tx.commit().await?;
    let manifest = Manifest {
        format: FORMAT.into(),
        formatversion: FORMAT_VERSION,
        createdat: shopdb_core::util::now(),
        shopdbversion: env!("CARGO_PKG_VERSION").into(),
        source: db.dialect().name().into(),
        chains,
        plugins,
        tables: records,
    };
    zip.start_file("manifest.json", SimpleFileOptions::default())?;
    serde_json::to_writer_pretty(&mut *zip, &manifest)?;
    Ok(Summary {
        tables: manifest.tables.len(),
        rows: manifest.tables.iter().map(|t| t.rows).sum(),
    })
}

/// Every chain's applied migrations, `core` first.
async fn read_chains(db: &Db, conn: &mut AnyConnection) -> anyhow::Result<Vec<ChainRecord>> {
    let rows = db
        .query("SELECT chain, version, name, checksum, appliedat FROM schemamigrations ORDER BY chain, version")
        .fetch_all(&mut *conn)
        .await
        .context("cannot read the migration records (is this a ShopDB database?)")?;
    let mut chains: Vec<ChainRecord> = Vec::new();
    for r in &rows {
        let chain: String = r.try_get(0)?;
        let migration = MigrationRecord {
            version: r.try_get(1)?,
            name: r.try_get(2)?,
            checksum: r.try_get(3)?,
            appliedat: r.try_get(4)?,
        };
        match chains.iter_mut().find(|c| c.chain == chain) {
            Some(c) => c.migrations.push(migration),
            None => chains.push(ChainRecord {
                chain,
                migrations: vec![migration],
            }),
        }
    }
    chains.sort_by_key(|c| c.chain != shopdb_core::core_schema::CORE_CHAIN);
    Ok(chains)
}

async fn read_plugins(db: &Db, conn: &mut AnyConnection) -> anyhow::Result<Vec<PluginRecord>> {
    let rows = db
        .query("SELECT pluginname, version, state FROM plugins ORDER BY pluginname")
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(PluginRecord {
                name: r.try_get(0)?,
                version: r.try_get(1)?,
                state: r.try_get(2)?,
            })
        })
        .collect()
}
