//! Shop-floor PCs and engineering workstations.
//!
//! A computer is an asset with the fields below, kept current by inventory collectors that
//! push to `/api/collector/computers` (identity: hostname; a renamed PC is recognised by its
//! serial number or MAC address).

use std::collections::HashSet;
use std::sync::Arc;

use shopdb_core::anyhow;
use shopdb_core::api::{Access, Route};
use shopdb_core::auth::Role;
use shopdb_core::axum::extract::{RawQuery, State};
use shopdb_core::axum::http::Method;
use shopdb_core::axum::response::Response;
use shopdb_core::axum::routing::get;
use shopdb_core::catalog;
use shopdb_core::db::{Db, SqlValue};
use shopdb_core::envelope::{ApiResult, ok};
use shopdb_core::error::DomainError;
use shopdb_core::futures_util::future::BoxFuture;
use shopdb_core::migrate::{Migration, Step};
use shopdb_core::plugin::registry::Candidate;
use shopdb_core::plugin::{
    CliCommand, CollectorField, CollectorSchema, Manifest, NavItem, Plugin, PluginContext,
    SettingDef, SettingKind, Widget, WidgetSize,
};
use shopdb_core::resource::ChildList;
use shopdb_core::resource::{BatchLookup, Resource, WriteHook};
use shopdb_core::schema::{Column, Index, OnDelete, Table, lower_equals, lower_in};
use shopdb_core::search::SearchSpec;
use shopdb_core::serde_json::{Value, json};
use shopdb_core::sqlx::Row;
use shopdb_core::state::AppState;

const LASTSEEN_FROM_CHECKIN: &str = "UPDATE assets SET lastseen = (SELECT c.lastcheckin FROM computers c WHERE c.assetid = assets.assetid), lastseenby = 'collector' \
     WHERE lastseen IS NULL AND assetid IN (SELECT assetid FROM computers WHERE lastcheckin IS NOT NULL)";

/// The asset type new computers get.
pub const ASSET_TYPE: &str = "Computer";

pub struct ComputersPlugin {
    manifest: Manifest,
}

/// The plugin, as the loader takes it.
pub fn plugin() -> Candidate {
    let manifest = Manifest::parse("computers", include_str!("../manifest.json"))?;
    Ok(Arc::new(ComputersPlugin { manifest }))
}

/// The table as the current model has it: the baseline plus what later migrations added.
pub fn computers_table() -> Table {
    computers_baseline().lower_index("hostname")
}

/// The table as migration 1 created it; recorded steps never change (see `computers_table`).
fn computers_baseline() -> Table {
    Table::new("computers")
        .column(Column::integer("assetid").references("assets", "assetid", OnDelete::Cascade))
        .column(Column::string("hostname", 100).unique())
        .column(Column::string("macaddress", 17).nullable())
        .column(Column::string("ipaddress", 45).nullable())
        .column(Column::string("osname", 100).nullable())
        .column(Column::string("osversion", 100).nullable())
        .column(Column::string("currentuser", 100).nullable())
        .column(Column::string("computertype", 50).nullable())
        .column(Column::timestamp("lastcheckin").nullable())
        .primary_key(&["assetid"])
        .index(&["macaddress"])
        .index(&["ipaddress"])
        .index(&["lastcheckin"])
}

/// Installed software per computer, replaced by each collector push that sends `software`.
pub fn software_table() -> Table {
    Table::new("computersoftware")
        .column(Column::id("softwareid"))
        .column(Column::integer("assetid").references("assets", "assetid", OnDelete::Cascade))
        .column(Column::string("name", 200))
        .column(Column::string("version", 100).nullable())
        .column(Column::string("publisher", 200).nullable())
        .index(&["assetid"])
        .index(&["name"])
}

/// Computers with software whose name contains `name`, by hostname.
pub async fn with_software(db: &Db, name: &str) -> anyhow::Result<Vec<Value>> {
    let rows = db
        .query(
            "SELECT c.assetid, c.hostname, s.name, s.version FROM computersoftware s \
             JOIN computers c ON c.assetid = s.assetid WHERE LOWER(s.name) LIKE ? \
             ORDER BY c.hostname, s.name LIMIT 5000",
        )
        .bind(shopdb_core::db::like_pattern(&name.to_lowercase()))
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            Ok(json!({
                "assetid": r.try_get::<i64, _>(0)?,
                "hostname": r.try_get::<String, _>(1)?,
                "software": r.try_get::<String, _>(2)?,
                "version": r.try_get::<Option<String>, _>(3)?,
            }))
        })
        .collect()
}

async fn software_route(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let pairs = shopdb_core::http::query_pairs(q.as_deref());
    let name = pairs
        .iter()
        .find(|(k, _)| k == "name")
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| DomainError::field("name", "is required: part of the software name"))?;
    if name.contains('\0') {
        return Err(DomainError::field("name", "must not contain a NUL character").into());
    }
    let found = with_software(&state.db, name)
        .await
        .map_err(DomainError::internal)?;
    Ok(ok(Value::Array(found)))
}

async fn stale_route(State(state): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let ctx = state
        .plugin_context("computers")
        .ok_or_else(|| DomainError::not_found("the computers plugin is not loaded"))?;
    let days = match shopdb_core::http::query_pairs(q.as_deref())
        .into_iter()
        .find(|(k, _)| k == "days")
    {
        Some((_, v)) => v
            .parse::<i64>()
            .ok()
            .filter(|d| (0..=36500).contains(d))
            .ok_or_else(|| DomainError::field("days", "must be a whole number of days from 0"))?,
        None => stale_days(&ctx).await.map_err(DomainError::internal)?,
    };
    let list = stale(&ctx, days).await.map_err(DomainError::internal)?;
    Ok(ok(
        json!({"days": days, "count": list.len(), "computers": list}),
    ))
}

/// Computers no collector has reported for `days` days (or ever), by the server's clock
/// (`assets.lastseen`; a PC's own clock may be wrong), oldest first. `lastcheckin` is the
/// time the PC itself reported.
pub async fn stale(ctx: &PluginContext, days: i64) -> anyhow::Result<Vec<Value>> {
    let cutoff = shopdb_core::util::format_timestamp(
        shopdb_core::time::OffsetDateTime::now_utc() - shopdb_core::time::Duration::days(days),
    );
    let rows = ctx
        .db
        .query(
            "SELECT c.assetid, c.hostname, a.lastseen, a.assetnumber, a.lastseenby, c.lastcheckin FROM computers c JOIN assets a ON a.assetid = c.assetid \
             WHERE a.lastseen IS NULL OR a.lastseen < ? ORDER BY a.lastseen, c.hostname",
        )
        .bind(cutoff)
        .fetch_all(ctx.db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            Ok(json!({
                "assetid": r.try_get::<i64, _>(0)?,
                "hostname": r.try_get::<String, _>(1)?,
                "lastseen": r.try_get::<Option<String>, _>(2)?,
                "assetnumber": r.try_get::<String, _>(3)?,
                "lastseenby": r.try_get::<Option<String>, _>(4)?,
                "lastcheckin": r.try_get::<Option<String>, _>(5)?,
            }))
        })
        .collect()
}

/// Host names ignore case (`SHOP-PC-42` and `shop-pc-42` are one machine), and collectors
/// match them so: a second PC whose name differs only in case is refused (422 naming the
/// first), or the collector could no longer tell the two apart.
/// The name `hostname_ignores_case` notes and reads cleared host names under.
const HOSTNAME_CHECK: &str = "computers.hostname";

fn hostname_ignores_case() -> WriteHook {
    Arc::new(|event| {
        Box::pin(async move {
            if !event.changes("hostname") {
                return Ok(());
            }
            let hostname = event
                .record
                .get("hostname")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim();
            if event
                .known
                .is_some_and(|k| k.is_clear(HOSTNAME_CHECK, &hostname.to_ascii_lowercase()))
            {
                return Ok(());
            }
            let sql = format!(
                "SELECT assetid, hostname FROM computers WHERE {} AND assetid <> ?",
                lower_equals(event.db.dialect(), None, "hostname")
            );
            let other = event
                .db
                .query(&sql)
                .bind(hostname.to_string())
                .bind(event.id.unwrap_or(0))
                .fetch_optional(&mut *event.conn)
                .await?;
            match other {
                Some(row) => {
                    let (id, name): (i64, String) = (row.try_get(0)?, row.try_get(1)?);
                    Err(DomainError::field(
                        "hostname",
                        format!(
                            "'{hostname}' is the host name of computer {id} ('{name}'): host names ignore case"
                        ),
                    ))
                }
                None => Ok(()),
            }
        })
    })
}

/// The batch form of `hostname_ignores_case`: which of the new PCs' host names no computer
/// has in any case, one query per 200 names. Only names in ASCII are noted clear: whether
/// the database's `LOWER` folds other letters as Rust does is not known here, so those are
/// asked one by one.
fn hostnames_together() -> BatchLookup {
    Arc::new(|event| {
        Box::pin(async move {
            let mut names: Vec<&str> = event
                .records
                .iter()
                .filter_map(|r| r.get("hostname")?.as_str())
                .map(str::trim)
                .filter(|h| !h.is_empty() && h.is_ascii())
                .collect();
            names.sort_unstable();
            names.dedup();
            for chunk in names.chunks(200) {
                let sql = format!(
                    "SELECT hostname FROM computers WHERE {}",
                    lower_in(event.db.dialect(), None, "hostname", chunk.len())
                );
                let binds: Vec<SqlValue> = chunk.iter().map(|h| SqlValue::text(*h)).collect();
                let taken: Vec<String> = event
                    .db
                    .query_with(&sql, &binds)
                    .fetch_all(&mut *event.conn)
                    .await?
                    .iter()
                    .map(|r| r.try_get::<String, _>(0))
                    .collect::<Result<_, _>>()?;
                // A stored name outside ASCII might equal any of them in the database's eyes.
                if taken.iter().any(|t| !t.trim().is_ascii()) {
                    continue;
                }
                let taken: HashSet<String> = taken
                    .iter()
                    .map(|t| t.trim().to_ascii_lowercase())
                    .collect();
                for name in chunk {
                    let lower = name.to_ascii_lowercase();
                    if !taken.contains(&lower) {
                        event.known.note(HOSTNAME_CHECK, &lower);
                    }
                }
            }
            Ok(())
        })
    })
}

async fn stale_days(ctx: &PluginContext) -> anyhow::Result<i64> {
    Ok(ctx.setting("staledays").await?.as_i64().unwrap_or(30))
}

impl Plugin for ComputersPlugin {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn models(&self) -> Vec<Table> {
        vec![computers_table(), software_table()]
    }

    fn migrations(&self) -> Vec<Migration> {
        vec![
            Migration::new(1, "baseline", vec![Step::CreateTable(computers_baseline())]),
            Migration::new(
                2,
                "installed software",
                vec![Step::CreateTable(software_table())],
            ),
            Migration::new(
                3,
                "canonical MAC addresses",
                vec![shopdb_core::addresses::canonical_macs("computers")],
            ),
            Migration::new(
                4,
                "host names found ignoring case; last seen by the server's clock",
                vec![
                    Step::CreateIndex {
                        table: "computers".into(),
                        index: Index::lower("computers", "hostname"),
                    },
                    // Until now the PC's own check-in time was all there was: start from it.
                    Step::Sql {
                        sqlite: LASTSEEN_FROM_CHECKIN.into(),
                        mysql: LASTSEEN_FROM_CHECKIN.into(),
                        postgres: LASTSEEN_FROM_CHECKIN.into(),
                    },
                ],
            ),
        ]
    }

    fn routes(&self) -> Vec<Route> {
        vec![
            Route::new(
                Method::GET,
                "/api/computers/stale",
                Access::Role(Role::Viewer),
                "computers",
                "PCs not seen by their collector for ?days= days (default: the staledays setting), oldest first",
                get(stale_route),
            )
            .query(
                "days",
                json!({"type": "integer", "minimum": 0, "maximum": 36500}),
                false,
                "days without a check-in",
            )
            .fails_with(422),
            Route::new(
                Method::GET,
                "/api/computers/software",
                Access::Role(Role::Viewer),
                "computers",
                "Computers with installed software whose name contains ?name=",
                get(software_route),
            )
            .query(
                "name",
                json!({"type": "string", "minLength": 1, "pattern": shopdb_core::resource::NONBLANK_PATTERN}),
                true,
                "part of the software name",
            )
            .fails_with(422),
        ]
    }

    fn resources(&self) -> Vec<Resource> {
        let mut r = catalog::extension("computers", "computer", computers_table(), ASSET_TYPE);
        // Listed by host name, the name a PC is known by. The table's unique index on it
        // gives a page in order by itself; in asset-number order a page of PCs meant
        // walking past every other asset's number, 5 ms a page at 100,000 assets.
        r.default_sort = "hostname".into();
        r.children = vec![ChildList {
            field: "software".into(),
            table: software_table(),
        }];
        r.hooks = r
            .hooks
            .before(shopdb_core::addresses::ip_address_hook())
            .prepare(shopdb_core::addresses::ip_addresses_together())
            .before(hostname_ignores_case())
            .prepare(hostnames_together())
            // Both only check: collector batches create new PCs together.
            .checks_only(&["ipaddress", "hostname"]);
        r.normalize_field(
            "macaddress",
            shopdb_core::addresses::normalize_mac,
            shopdb_core::addresses::mac_schema(),
        );
        r.constrain("ipaddress", shopdb_core::addresses::ip_schema());
        r.search = Some(SearchSpec {
            entitytype: "computer".into(),
            title: "hostname".into(),
            subtitle: Some("currentuser".into()),
            fields: [
                "hostname",
                "assetnumber",
                "serialnumber",
                "currentuser",
                "macaddress",
                "ipaddress",
            ]
            .map(String::from)
            .to_vec(),
            url: "/computers/{id}".into(),
            plugin: Some(self.manifest.name.clone()),
        });
        vec![r]
    }

    fn collector_schema(&self) -> Option<CollectorSchema> {
        let field = CollectorField::new;
        Some(CollectorSchema {
            identityfield: "hostname".into(),
            matchfields: vec!["serialnumber".into(), "macaddress".into()],
            fields: vec![
                field("hostname", "string", true),
                field("serialnumber", "string", false),
                field("macaddress", "string", false),
                field("ipaddress", "string", false),
                field("osname", "string", false),
                field("osversion", "string", false),
                field("currentuser", "string", false),
                field("computertype", "string", false),
                field("lastcheckin", "string", false),
                field("software", "array", false),
            ],
            heartbeat: Some("lastcheckin".into()),
            resource: None,
        })
    }

    fn settings(&self) -> Vec<SettingDef> {
        vec![SettingDef {
            key: "staledays".into(),
            kind: SettingKind::Integer,
            default: json!(30),
            help: "A PC not seen by its collector for this many days counts as stale".into(),
        }]
    }

    fn check_setting(&self, key: &str, value: &Value) -> Result<(), String> {
        match (key, value.as_i64()) {
            ("staledays", Some(days)) if days < 1 => Err("must be 1 day or more".into()),
            _ => Ok(()),
        }
    }

    fn static_files(&self) -> Vec<(String, String)> {
        vec![("stale.js".into(), include_str!("../static/stale.js").into())]
    }

    fn templates(&self) -> Vec<(String, String)> {
        vec![(
            "computers/stale.html".into(),
            include_str!("../templates/stale.html").into(),
        )]
    }

    fn pages(&self) -> Vec<shopdb_core::plugin::Page> {
        vec![shopdb_core::plugin::Page {
            path: "/computers/stale".into(),
            title: "PCs not seen recently".into(),
            template: "computers/stale.html".into(),
            role: Some(Role::Viewer),
        }]
    }

    fn navigation_items(&self) -> Vec<NavItem> {
        vec![NavItem {
            name: "Computers".into(),
            icon: "desktop".into(),
            route: "/computers".into(),
            position: 10,
        }]
    }

    fn dashboard_widgets(&self) -> Vec<Widget> {
        vec![Widget {
            name: "stale_computers".into(),
            title: "PCs not seen recently".into(),
            size: WidgetSize::Medium,
            position: 10,
            endpoint: None,
        }]
    }

    fn widget_data<'a>(
        &'a self,
        _widget: &'a str,
        ctx: &'a PluginContext,
    ) -> BoxFuture<'a, anyhow::Result<Value>> {
        Box::pin(async move {
            let days = stale_days(ctx).await?;
            let list = stale(ctx, days).await?;
            Ok(
                json!({"days": days, "count": list.len(), "computers": list.into_iter().take(10).collect::<Vec<_>>()}),
            )
        })
    }

    fn cli_commands(&self) -> Vec<CliCommand> {
        let command = shopdb_core::clap::Command::new("stale")
            .about("List PCs not seen for N days (default: the staledays setting)")
            .arg(
                shopdb_core::clap::arg!(--days <N> "Days without a check-in")
                    .value_parser(shopdb_core::clap::value_parser!(u32)),
            );
        vec![CliCommand::new(command, |ctx, args| {
            Box::pin(async move {
                let days = match args.get_one::<u32>("days") {
                    Some(days) => i64::from(*days),
                    None => stale_days(&ctx).await?,
                };
                let list = stale(&ctx, days).await?;
                let mut out = format!("{} computers not seen for {days} days\n", list.len());
                for c in list {
                    out.push_str(&format!(
                        "{:<24} {:<12} {}\n",
                        c["hostname"].as_str().unwrap_or_default(),
                        c["assetnumber"].as_str().unwrap_or_default(),
                        c["lastseen"].as_str().unwrap_or("never")
                    ));
                }
                Ok(out)
            })
        })]
    }

    fn on_install<'a>(&'a self, ctx: &'a PluginContext) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            catalog::ensure_assettype(&ctx.db, ASSET_TYPE, "computers")
                .await
                .map_err(|e| anyhow::anyhow!(e.message))
        })
    }
}
