//! `shopdb backup FILE` and `shopdb restore FILE`: the whole database in one portable archive.
//!
//! The archive is a zip file (deflate) holding
//!
//! - `manifest.json`: the format and its version, when and from which kind of database it was
//!   taken, every migration chain with each applied version's name, checksum and time, the
//!   installed plugins, and for each table its columns with their types, its row count and
//!   the entry holding its rows (see [`Manifest`]);
//! - `tables/<table>.jsonl`: one line per row, a JSON array of the row's values in the
//!   manifest's column order, written by column type (`shopdb_core::portable`), so that any
//!   of the three databases reads them back identically. Floor-plan images are the `image`
//!   column of `tables/floorplans.jsonl` (base64).
//!
//! docs/BACKUP.md describes it for operators.

mod restore;
mod write;

use serde::{Deserialize, Serialize};
use shopdb_core::core_schema::{CORE_CHAIN, core_tables};
use shopdb_core::plugin::Registry;
use shopdb_core::schema::{ColumnType, Table};

pub use restore::restore;
pub use write::backup;

/// What `format` says in every ShopDB archive.
pub const FORMAT: &str = "shopdb-backup";

/// The archive layout this build writes; it reads this one and older ones.
pub const FORMAT_VERSION: u32 = 1;

/// The archive's table of contents (`manifest.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    pub formatversion: u32,
    /// When the snapshot was taken (RFC 3339, UTC).
    pub createdat: String,
    /// Version of the `shopdb` binary that wrote it.
    pub shopdbversion: String,
    /// The kind of database it was taken from: sqlite, mysql or postgres.
    pub source: String,
    /// Every migration chain recorded in the database: `core` and one per plugin.
    pub chains: Vec<ChainRecord>,
    /// Installed plugins as the `plugins` table had them (its rows are in the archive too).
    pub plugins: Vec<PluginRecord>,
    /// Every table, parents before children: the order restore loads them in.
    pub tables: Vec<TableRecord>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChainRecord {
    pub chain: String,
    pub migrations: Vec<MigrationRecord>,
}

impl ChainRecord {
    pub fn version(&self) -> i64 {
        self.migrations.iter().map(|m| m.version).max().unwrap_or(0)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MigrationRecord {
    pub version: i64,
    pub name: String,
    pub checksum: String,
    pub appliedat: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PluginRecord {
    pub name: String,
    pub version: String,
    pub state: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TableRecord {
    pub name: String,
    /// The migration chain that creates the table (`core` or the plugin's name).
    pub chain: String,
    pub columns: Vec<ColumnRecord>,
    pub rows: u64,
    /// The archive entry holding the rows.
    pub file: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ColumnRecord {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// The table this column refers to, if it is a foreign key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<String>,
    #[serde(default)]
    pub nullable: bool,
}

impl TableRecord {
    fn new(chain: &str, table: &Table) -> TableRecord {
        TableRecord {
            name: table.name.clone(),
            chain: chain.to_string(),
            columns: table
                .columns
                .iter()
                .map(|c| ColumnRecord {
                    name: c.name.clone(),
                    ty: c.ty,
                    references: c.references.as_ref().map(|r| r.table.clone()),
                    nullable: c.nullable,
                })
                .collect(),
            rows: 0,
            file: format!("tables/{}.jsonl", table.name),
        }
    }

    /// The generated-id column, if the table has one.
    pub fn id_column(&self) -> Option<&str> {
        self.columns
            .iter()
            .find(|c| c.ty == ColumnType::Id)
            .map(|c| c.name.as_str())
    }
}

/// The tables of each chain, parents first: the core's, then each plugin's in the loader's
/// order (dependencies first). A chain no plugin of this build owns is an error naming it.
pub fn tables_of(registry: &Registry, chains: &[String]) -> anyhow::Result<Vec<(String, Table)>> {
    let mut out: Vec<(String, Table)> = core_tables()
        .into_iter()
        .map(|t| (CORE_CHAIN.to_string(), t))
        .collect();
    // A plugin's planned model steps are recorded under `<plugin>.model`: the same plugin.
    let plugins: Vec<&str> = chains
        .iter()
        .filter(|c| *c != CORE_CHAIN)
        .map(|c| plugin_of_chain(c))
        .collect();
    for plugin in &plugins {
        if registry.get(plugin).is_none() {
            let why = registry
                .quarantined(plugin)
                .map(|q| format!(" ({})", q.error))
                .unwrap_or_default();
            anyhow::bail!("plugin {plugin} is not part of this build{why}");
        }
    }
    for p in &registry.loaded {
        if plugins.contains(&p.manifest.name.as_str()) {
            out.extend(
                p.tables
                    .iter()
                    .map(|t| (p.manifest.name.clone(), t.clone())),
            );
        }
    }
    Ok(out)
}

/// The plugin a migration chain belongs to: `computers` for `computers` and for its model
/// chain `computers.model`.
pub fn plugin_of_chain(chain: &str) -> &str {
    chain.strip_suffix(".model").unwrap_or(chain)
}

/// Refuses a backup of a database whose schema is not the one this build describes: a
/// chain with migrations not yet applied (its tables lack columns this build would read) or
/// applied by a newer build.
pub fn check_current(registry: &Registry, chains: &[ChainRecord]) -> anyhow::Result<()> {
    for record in chains {
        let chain = if record.chain == CORE_CHAIN {
            shopdb_core::core_schema::core_chain()
        } else {
            match registry.get(&record.chain) {
                Some(p) => shopdb_core::plugin::lifecycle::chain_of(p),
                None => continue,
            }
        };
        let recorded = |v: i64| record.migrations.iter().any(|m| m.version == v);
        if chain.migrations.iter().any(|m| !recorded(m.version)) {
            anyhow::bail!(
                "chain {} has migrations not applied yet: run `shopdb db upgrade` first",
                record.chain
            );
        }
        if let Some(m) = record
            .migrations
            .iter()
            .find(|m| !chain.migrations.iter().any(|k| k.version == m.version))
        {
            anyhow::bail!(
                "chain {} is at version {} ({}), which this build does not know: back it up with the shopdb that upgraded it",
                record.chain,
                m.version,
                m.name
            );
        }
    }
    Ok(())
}

/// What a backup or a restore did.
#[derive(Debug)]
pub struct Summary {
    pub tables: usize,
    pub rows: u64,
}
