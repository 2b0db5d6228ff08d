//! The core tables and the `core` migration chain.

use serde_json::json;

use crate::migrate::{Chain, Migration, Step, seed_rows};
use crate::schema::{Column, OnDelete, Table};

pub const CORE_CHAIN: &str = "core";

pub fn users() -> Table {
    Table::new("users")
        .column(Column::id("userid"))
        .column(Column::string("username", 100).unique())
        .column(Column::string("displayname", 200).nullable())
        .column(Column::string("role", 20))
        .column(Column::string("passwordhash", 255))
        .column(Column::boolean("isactive").default("1"))
        .column(Column::integer("failedlogins").default("0"))
        .column(Column::timestamp("lockeduntil").nullable())
        .column(Column::timestamp("createddate"))
        .column(Column::timestamp("modifieddate"))
}

/// One row per login; the signed token carries its id so logout can revoke it.
pub fn authsessions() -> Table {
    Table::new("authsessions")
        .column(Column::string("sessionid", 64))
        .column(Column::integer("userid").references("users", "userid", OnDelete::Cascade))
        .column(Column::string("csrftoken", 64))
        .column(Column::timestamp("createddate"))
        .column(Column::timestamp("expiresat"))
        .column(Column::timestamp("revokeddate").nullable())
        .primary_key(&["sessionid"])
        .index(&["userid"])
}

/// Long-lived tokens for scripts and collectors; only a SHA-256 of the secret is kept.
pub fn apitokens() -> Table {
    Table::new("apitokens")
        .column(Column::id("tokenid"))
        .column(Column::string("name", 100))
        .column(Column::string("tokenhash", 64).unique())
        .column(Column::string("tokenprefix", 16))
        .column(Column::string("role", 20))
        .column(Column::string("plugin", 64).nullable())
        .column(Column::string("createdby", 100))
        .column(Column::timestamp("createddate"))
        .column(Column::timestamp("lastused").nullable())
        .column(Column::timestamp("revokeddate").nullable())
}

pub fn assettypes() -> Table {
    Table::new("assettypes")
        .column(Column::id("assettypeid"))
        .column(Column::string("name", 100).unique())
        .column(Column::text("description").nullable())
        .column(Column::string("plugin", 64).nullable())
}

pub fn statuses() -> Table {
    Table::new("statuses")
        .column(Column::id("statusid"))
        .column(Column::string("name", 100).unique())
        .column(Column::text("description").nullable())
}

pub fn locations() -> Table {
    Table::new("locations")
        .column(Column::id("locationid"))
        .column(Column::string("name", 150))
        .column(Column::integer("parentid").nullable().references(
            "locations",
            "locationid",
            OnDelete::Restrict,
        ))
        .column(Column::float("mapx").nullable())
        .column(Column::float("mapy").nullable())
        .column(Column::text("description").nullable())
        .index(&["name"])
        .index(&["parentid"])
}

/// The floor-plan image of a location, kept in the database so every server process sees it.
pub fn floorplans() -> Table {
    Table::new("floorplans")
        .column(Column::integer("locationid").references(
            "locations",
            "locationid",
            OnDelete::Cascade,
        ))
        .column(Column::string("contenttype", 100))
        .column(Column::bytes("image"))
        .column(Column::timestamp("uploadeddate"))
        .primary_key(&["locationid"])
}

pub fn vendors() -> Table {
    Table::new("vendors")
        .column(Column::id("vendorid"))
        .column(Column::string("name", 150).unique())
        .column(Column::string("website", 255).nullable())
        .column(Column::text("notes").nullable())
}

pub fn models() -> Table {
    Table::new("models")
        .column(Column::id("modelid"))
        .column(Column::string("name", 150))
        .column(Column::integer("vendorid").nullable().references(
            "vendors",
            "vendorid",
            OnDelete::Restrict,
        ))
        .column(Column::integer("assettypeid").nullable().references(
            "assettypes",
            "assettypeid",
            OnDelete::Restrict,
        ))
        .column(Column::text("notes").nullable())
        .unique_index(&["vendorid", "name"])
}

/// The asset table as the current model has it: the baseline plus later migrations' columns.
pub fn assets() -> Table {
    assets_baseline()
        .column(lastseen())
        .column(lastseenby())
        .index(&["lastseen"])
        .lower_index("serialnumber")
        .lower_index("assetnumber")
}

/// When a collector last reported the asset, by the server's clock (a push that changes
/// nothing still moves it; it is not a change of the record: no version, no audit entry).
fn lastseen() -> Column {
    Column::timestamp("lastseen").nullable()
}

/// Which collector (its token's name) reported the asset last.
fn lastseenby() -> Column {
    Column::string("lastseenby", 100).nullable()
}

/// The asset table as core migration 1 created it. A recorded step never changes, so this
/// stays as it was; new columns come as steps of later migrations (see `assets`).
fn assets_baseline() -> Table {
    Table::new("assets")
        .column(Column::id("assetid"))
        .column(Column::string("assetnumber", 50).unique())
        .column(Column::string("name", 200).nullable())
        .column(Column::integer("assettypeid").references(
            "assettypes",
            "assettypeid",
            OnDelete::Restrict,
        ))
        .column(Column::integer("statusid").references("statuses", "statusid", OnDelete::Restrict))
        .column(Column::integer("locationid").nullable().references(
            "locations",
            "locationid",
            OnDelete::Restrict,
        ))
        .column(Column::integer("vendorid").nullable().references(
            "vendors",
            "vendorid",
            OnDelete::Restrict,
        ))
        .column(Column::integer("modelid").nullable().references(
            "models",
            "modelid",
            OnDelete::Restrict,
        ))
        .column(Column::string("serialnumber", 100).nullable())
        .column(Column::float("mapx").nullable())
        .column(Column::float("mapy").nullable())
        .column(Column::text("notes").nullable())
        .column(Column::integer("version").default("1"))
        .column(Column::timestamp("createddate"))
        .column(Column::timestamp("modifieddate"))
        .index(&["assettypeid"])
        .index(&["statusid"])
        .index(&["locationid"])
        .index(&["serialnumber"])
        .index(&["name"])
}

pub fn relationshiptypes() -> Table {
    Table::new("relationshiptypes")
        .column(Column::id("relationshiptypeid"))
        .column(Column::string("name", 100).unique())
        .column(Column::text("description").nullable())
}

pub fn assetrelationships() -> Table {
    Table::new("assetrelationships")
        .column(Column::id("relationshipid"))
        .column(Column::integer("sourceassetid").references("assets", "assetid", OnDelete::Cascade))
        .column(Column::integer("targetassetid").references("assets", "assetid", OnDelete::Cascade))
        .column(Column::integer("relationshiptypeid").references(
            "relationshiptypes",
            "relationshiptypeid",
            OnDelete::Restrict,
        ))
        .column(Column::text("notes").nullable())
        .column(Column::timestamp("createddate"))
        .unique_index(&["sourceassetid", "targetassetid", "relationshiptypeid"])
        .index(&["targetassetid"])
}

/// Typed settings, scoped to `core` or a plugin name.
pub fn settings() -> Table {
    Table::new("settings")
        .column(Column::id("settingid"))
        .column(Column::string("scope", 64))
        .column(Column::string("settingkey", 100))
        .column(Column::text("settingvalue"))
        .column(Column::string("modifiedby", 100))
        .column(Column::timestamp("modifieddate"))
        .unique_index(&["scope", "settingkey"])
}

/// The audit trail as the current model has it: the baseline plus the import batch of core
/// migration 6.
pub fn auditlog() -> Table {
    auditlog_baseline().column(batchid()).index(&["batchid"])
}

/// The import batch an audit entry belongs to (None: not written by an import).
fn batchid() -> Column {
    Column::string("batchid", 40).nullable()
}

/// One row per applied import: what `shopdb import undo` works from.
pub fn importbatches() -> Table {
    Table::new("importbatches")
        .column(Column::string("batchid", 40))
        .column(Column::string("resource", 100))
        .column(Column::string("actorname", 100))
        .column(Column::timestamp("createddate"))
        .column(Column::integer("rowcount"))
        .column(Column::timestamp("undonedate").nullable())
        .column(Column::string("undoneby", 100).nullable())
        .primary_key(&["batchid"])
}

/// The audit trail as core migration 1 created it (a recorded step never changes).
fn auditlog_baseline() -> Table {
    Table::new("auditlog")
        .column(Column::id("auditid"))
        .column(Column::timestamp("occurredat"))
        .column(Column::string("actortype", 20))
        .column(Column::integer("actorid").nullable())
        .column(Column::string("actorname", 100))
        .column(Column::string("action", 20))
        .column(Column::string("entitytype", 64))
        .column(Column::integer("entityid").nullable())
        .column(Column::string("entityname", 200).nullable())
        .column(Column::text("changes"))
        .index(&["entitytype", "entityid"])
        .index(&["occurredat"])
}

/// Installation state of each plugin, shared by every server process.
pub fn plugins() -> Table {
    Table::new("plugins")
        .column(Column::string("pluginname", 64))
        .column(Column::string("version", 32))
        .column(Column::string("state", 20))
        .column(Column::timestamp("installeddate"))
        .column(Column::timestamp("modifieddate"))
        .primary_key(&["pluginname"])
}

/// The model of each installed plugin's tables as they were last migrated (JSON): what the
/// planner compares `Plugin::models()` with (see `evolve`).
pub fn pluginmodels() -> Table {
    Table::new("pluginmodels")
        .column(Column::string("pluginname", 64))
        .column(Column::text("tables"))
        .column(Column::timestamp("recordedat"))
        .primary_key(&["pluginname"])
}

/// The model of each installed folder plugin, so every server process loads the same one.
pub fn folderplugins() -> Table {
    let mut table = folderplugins_v7();
    // Added by core migration 9, so it comes last.
    table.columns.push(folderplugin_templates());
    table
}

/// `folderplugins` as core migration 7 made it (frozen: that migration must never change).
fn folderplugins_v7() -> Table {
    Table::new("folderplugins")
        .column(Column::string("pluginname", 64))
        .column(Column::text("manifest"))
        .column(Column::text("model"))
        .column(Column::string("checksum", 64))
        .column(Column::timestamp("storeddate"))
        .primary_key(&["pluginname"])
}

/// A folder plugin's page templates: a JSON object of name → source.
fn folderplugin_templates() -> Column {
    Column::text("templates").nullable()
}

/// One row per searchable record, kept current on every write.
pub fn searchindex() -> Table {
    Table::new("searchindex")
        .column(Column::id("searchid"))
        .column(Column::string("entitytype", 64))
        .column(Column::integer("entityid"))
        // Set when the entry describes an asset; the entry goes when the asset does.
        .column(Column::integer("assetid").nullable().references(
            "assets",
            "assetid",
            OnDelete::Cascade,
        ))
        .column(Column::string("title", 200))
        .column(Column::string("subtitle", 200).nullable())
        .column(Column::string("url", 255))
        .column(Column::string("plugin", 64).nullable())
        .column(Column::string("searchtext", 1000))
        .column(extendedby())
        .unique_index(&["entitytype", "entityid"])
        .index(&["title"])
}

/// On an extended asset's entry, the plugin whose entry holds its text and shows in its
/// place (see `search::Link`).
fn extendedby() -> Column {
    Column::string("extendedby", 64).nullable()
}

/// Every core table, parents before children.
pub fn core_tables() -> Vec<Table> {
    vec![
        users(),
        authsessions(),
        apitokens(),
        assettypes(),
        statuses(),
        locations(),
        floorplans(),
        vendors(),
        models(),
        assets(),
        relationshiptypes(),
        assetrelationships(),
        settings(),
        auditlog(),
        plugins(),
        searchindex(),
        pluginmodels(),
        folderplugins(),
        importbatches(),
    ]
}

pub fn core_chain() -> Chain {
    // Tables added by later migrations are not part of the baseline.
    let baseline = core_tables()
        .into_iter()
        // Added by later steps; the baseline stays as it was released.
        .filter(|t| {
            !matches!(
                t.name.as_str(),
                "pluginmodels" | "folderplugins" | "importbatches"
            )
        })
        .map(|t| match t.name.as_str() {
            "assets" => assets_baseline(),
            "auditlog" => auditlog_baseline(),
            "searchindex" => searchindex_baseline(),
            _ => t,
        })
        .map(Step::CreateTable)
        .collect();
    Chain {
        name: CORE_CHAIN.to_string(),
        migrations: vec![
            Migration::new(1, "baseline", baseline),
            Migration::new(
                2,
                "reference_data",
                vec![
                    Step::Seed {
                        table: "statuses".into(),
                        key: "name".into(),
                        rows: seed_rows(json!([
                            {"name": "In Service", "description": "In use on the floor"},
                            {"name": "Spare", "description": "Working, kept in reserve"},
                            {"name": "In Repair", "description": "Out for repair or calibration"},
                            {"name": "Retired", "description": "Taken out of service"},
                        ])),
                    },
                    Step::Seed {
                        table: "relationshiptypes".into(),
                        key: "name".into(),
                        rows: seed_rows(json!([
                            {"name": "controls", "description": "The source drives the target (a PC controlling a CNC machine)"},
                            {"name": "connected to", "description": "Network or cable connection"},
                            {"name": "located with", "description": "Sits next to the target; shares its place on the map"},
                        ])),
                    },
                    Step::Seed {
                        table: "assettypes".into(),
                        key: "name".into(),
                        rows: seed_rows(json!([
                            {"name": "Other", "description": "Anything no plugin tracks"},
                        ])),
                    },
                ],
            ),
            Migration::new(3, "search_trigram_index", search_trigram_index()),
            Migration::new(4, "assets_by_location_index", assets_by_location_index()),
            Migration::new(5, "collector_scale", collector_scale()),
            Migration::new(6, "plugin_models", vec![Step::CreateTable(pluginmodels())]),
            Migration::new(
                7,
                "folder_plugins",
                vec![Step::CreateTable(folderplugins_v7())],
            ),
            Migration::new(8, "import_batches", import_batches()),
            Migration::new(
                9,
                "folder_plugin_templates",
                vec![Step::AddColumn {
                    table: "folderplugins".into(),
                    column: folderplugin_templates(),
                }],
            ),
            Migration::new(10, "search_entries_linked", search_entries_linked()),
        ],
    }
}

fn searchindex_baseline() -> Table {
    let mut table = searchindex();
    table.columns.retain(|c| c.name != "extendedby");
    table
}

/// An extended asset's search entry steps aside for its plugin's without a lookup: each
/// plugin entry is made to hold its asset entry's text (as `search::holding` does: its own
/// text, cut short where both would not fit, then the asset's), and each asset entry names
/// the plugin whose entry holds it, as do its word endings on MySQL. MySQL's word endings of
/// the rewritten entries are deleted here and stored anew by `search::backfill_suffixes` at
/// the end of the upgrade.
fn search_entries_linked() -> Vec<Step> {
    vec![
        Step::AddColumn {
            table: "searchindex".into(),
            column: extendedby(),
        },
        Step::Sql {
            sqlite: "SELECT 1".into(),
            mysql: "DELETE x FROM searchsuffixes x \
                 JOIN searchindex p ON p.searchid = x.searchid \
                 JOIN searchindex a ON a.assetid = p.assetid AND a.entitytype = 'asset' \
                 WHERE p.entitytype <> 'asset' \
                 AND LOCATE(CAST(a.searchtext AS BINARY), CAST(p.searchtext AS BINARY)) = 0"
                .into(),
            postgres: "SELECT 1".into(),
        },
        Step::Sql {
            sqlite: "UPDATE searchindex SET searchtext = (\
                 SELECT CASE WHEN length(searchindex.searchtext) + 1 + length(a.searchtext) <= 1000 \
                 THEN searchindex.searchtext || ' ' || a.searchtext \
                 ELSE substr(searchindex.searchtext, 1, 999 - length(a.searchtext)) || ' ' || a.searchtext END \
                 FROM searchindex a WHERE a.assetid = searchindex.assetid AND a.entitytype = 'asset') \
                 WHERE entitytype <> 'asset' AND assetid IS NOT NULL AND EXISTS (\
                 SELECT 1 FROM searchindex a WHERE a.assetid = searchindex.assetid \
                 AND a.entitytype = 'asset' AND instr(searchindex.searchtext, a.searchtext) = 0)"
                .into(),
            mysql: "UPDATE searchindex p \
                 JOIN searchindex a ON a.assetid = p.assetid AND a.entitytype = 'asset' \
                 SET p.searchtext = CASE WHEN CHAR_LENGTH(p.searchtext) + 1 + CHAR_LENGTH(a.searchtext) <= 1000 \
                 THEN CONCAT(p.searchtext, ' ', a.searchtext) \
                 ELSE CONCAT(LEFT(p.searchtext, 999 - CHAR_LENGTH(a.searchtext)), ' ', a.searchtext) END \
                 WHERE p.entitytype <> 'asset' \
                 AND LOCATE(CAST(a.searchtext AS BINARY), CAST(p.searchtext AS BINARY)) = 0"
                .into(),
            postgres: "UPDATE searchindex p SET searchtext = \
                 CASE WHEN length(p.searchtext) + 1 + length(a.searchtext) <= 1000 \
                 THEN p.searchtext || ' ' || a.searchtext \
                 ELSE substr(p.searchtext, 1, 999 - length(a.searchtext)) || ' ' || a.searchtext END \
                 FROM searchindex a WHERE a.assetid = p.assetid AND a.entitytype = 'asset' \
                 AND p.entitytype <> 'asset' AND strpos(p.searchtext, a.searchtext) = 0"
                .into(),
        },
        Step::Sql {
            sqlite: "UPDATE searchindex SET extendedby = (\
                 SELECT COALESCE(p.plugin, '') FROM searchindex p \
                 WHERE p.assetid = searchindex.assetid AND p.entitytype <> 'asset') \
                 WHERE entitytype = 'asset' AND assetid IS NOT NULL"
                .into(),
            mysql: "UPDATE searchindex a \
                 JOIN searchindex p ON p.assetid = a.assetid AND p.entitytype <> 'asset' \
                 SET a.extendedby = COALESCE(p.plugin, '') \
                 WHERE a.entitytype = 'asset'"
                .into(),
            postgres: "UPDATE searchindex a SET extendedby = COALESCE(p.plugin, '') \
                 FROM searchindex p WHERE p.assetid = a.assetid \
                 AND p.entitytype <> 'asset' AND a.entitytype = 'asset'"
                .into(),
        },
        // MySQL: each word ending says what its entry steps aside for, so a search drops
        // those entries without reading them.
        Step::Sql {
            sqlite: "SELECT 1".into(),
            mysql: "ALTER TABLE searchsuffixes ADD COLUMN IF NOT EXISTS aside VARCHAR(64) NULL".into(),
            postgres: "SELECT 1".into(),
        },
        Step::Sql {
            sqlite: "SELECT 1".into(),
            mysql: "UPDATE searchsuffixes x JOIN searchindex a ON a.searchid = x.searchid \
                 SET x.aside = a.extendedby WHERE a.extendedby IS NOT NULL"
                .into(),
            postgres: "SELECT 1".into(),
        },
    ]
}

/// Imports as batches that can be undone: each audit entry names its batch, and each
/// applied batch has a row saying what it imported and whether it was undone; asset numbers
/// found ignoring case through an index.
fn import_batches() -> Vec<Step> {
    vec![
        Step::AddColumn {
            table: "auditlog".into(),
            column: batchid(),
        },
        Step::CreateIndex {
            table: "auditlog".into(),
            index: crate::schema::Index {
                name: "ix_auditlog_batchid".into(),
                columns: vec!["batchid".into()],
                unique: false,
                lower: false,
            },
        },
        Step::CreateTable(importbatches()),
        // Imports match rows by asset number ignoring case, a chunk at a time: through this
        // index rather than by reading every asset.
        Step::CreateIndex {
            table: "assets".into(),
            index: crate::schema::Index::lower("assets", "assetnumber"),
        },
    ]
}

/// Collectors at plant-group scale: when a collector last saw each asset (server time), a
/// case-ignoring index on serial numbers (a renamed PC is found by its serial without reading
/// every asset), search entries found by asset (an extended asset's two entries), and
/// substring search that reads an index on MySQL and PostgreSQL too (see `search`).
fn collector_scale() -> Vec<Step> {
    vec![
        Step::AddColumn {
            table: "assets".into(),
            column: lastseen(),
        },
        Step::AddColumn {
            table: "assets".into(),
            column: lastseenby(),
        },
        Step::CreateIndex {
            table: "assets".into(),
            index: crate::schema::Index {
                name: "ix_assets_lastseen".into(),
                columns: vec!["lastseen".into()],
                unique: false,
                lower: false,
            },
        },
        Step::CreateIndex {
            table: "assets".into(),
            index: crate::schema::Index::lower("assets", "serialnumber"),
        },
        Step::CreateIndex {
            table: "searchindex".into(),
            index: crate::schema::Index {
                name: "ix_searchindex_assetid".into(),
                columns: vec!["assetid".into()],
                unique: false,
                lower: false,
            },
        },
        // PostgreSQL: a trigram index answers `LIKE '%text%'`. pg_trgm ships with
        // PostgreSQL; where the extension cannot be created (no rights), search still works,
        // reading the table instead. Without `fastupdate` each write updates the index
        // itself: with it, the writer that finds the pending list full merges it while
        // concurrent collectors' writes wait behind it (seconds, at 50,000 PCs).
        Step::Sql {
            sqlite: "SELECT 1".into(),
            mysql: "SELECT 1".into(),
            postgres: "DO $do$ BEGIN \
                 CREATE EXTENSION IF NOT EXISTS pg_trgm; \
                 EXECUTE 'CREATE INDEX IF NOT EXISTS tx_searchindex_searchtext ON searchindex USING gin (searchtext gin_trgm_ops) WITH (fastupdate = off)'; \
                 EXCEPTION WHEN OTHERS THEN RAISE WARNING 'search: no trigram index (%), searches read the whole table', SQLERRM; \
                 END $do$"
                .into(),
        },
        // MySQL/MariaDB have no substring index: every word of an entry's text is stored
        // with each of its endings, so "text contained in a word" is a prefix lookup here.
        Step::Sql {
            sqlite: "SELECT 1".into(),
            mysql: "CREATE TABLE IF NOT EXISTS searchsuffixes (\
                 suffix VARCHAR(24) NOT NULL, \
                 searchid BIGINT NOT NULL, \
                 PRIMARY KEY (suffix, searchid), \
                 INDEX ix_searchsuffixes_searchid (searchid), \
                 FOREIGN KEY (searchid) REFERENCES searchindex (searchid) ON DELETE CASCADE\
                 ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
                .into(),
            postgres: "SELECT 1".into(),
        },
    ]
}

/// Assets of a location in asset-number order straight from an index (the floor map's
/// markers), instead of reading every asset of a large bay to sort it. It replaces the
/// index on `locationid` alone, which it covers (foreign key checks included).
fn assets_by_location_index() -> Vec<Step> {
    vec![
        Step::CreateIndex {
            table: "assets".into(),
            index: crate::schema::Index {
                name: "ix_assets_locationid_assetnumber".into(),
                columns: vec!["locationid".into(), "assetnumber".into()],
                unique: false,
                lower: false,
            },
        },
        Step::Sql {
            sqlite: "DROP INDEX IF EXISTS ix_assets_locationid".into(),
            mysql: "DROP INDEX ix_assets_locationid ON assets".into(),
            postgres: "DROP INDEX IF EXISTS ix_assets_locationid".into(),
        },
    ]
}

/// SQLite only: an FTS5 trigram index over `searchindex.searchtext`, kept in step by
/// triggers (cascaded deletes included), so substring search does not scan every row.
/// MySQL and PostgreSQL search the table itself.
fn search_trigram_index() -> Vec<Step> {
    let sqlite_only = |sql: &str| Step::Sql {
        sqlite: sql.to_string(),
        mysql: "SELECT 1".to_string(),
        postgres: "SELECT 1".to_string(),
    };
    vec![
        sqlite_only(
            "CREATE VIRTUAL TABLE IF NOT EXISTS searchfts USING fts5(searchtext, content='searchindex', content_rowid='searchid', tokenize='trigram')",
        ),
        sqlite_only(
            "CREATE TRIGGER IF NOT EXISTS searchindex_fts_insert AFTER INSERT ON searchindex BEGIN \
             INSERT INTO searchfts(rowid, searchtext) VALUES (new.searchid, new.searchtext); END",
        ),
        sqlite_only(
            "CREATE TRIGGER IF NOT EXISTS searchindex_fts_delete AFTER DELETE ON searchindex BEGIN \
             INSERT INTO searchfts(searchfts, rowid, searchtext) VALUES ('delete', old.searchid, old.searchtext); END",
        ),
        sqlite_only(
            "CREATE TRIGGER IF NOT EXISTS searchindex_fts_update AFTER UPDATE ON searchindex BEGIN \
             INSERT INTO searchfts(searchfts, rowid, searchtext) VALUES ('delete', old.searchid, old.searchtext); \
             INSERT INTO searchfts(rowid, searchtext) VALUES (new.searchid, new.searchtext); END",
        ),
        sqlite_only("INSERT INTO searchfts(searchfts) VALUES ('rebuild')"),
    ]
}
