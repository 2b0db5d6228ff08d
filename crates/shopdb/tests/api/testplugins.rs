//! Plugins used by the tests: a camera plugin that uses every hook, and broken ones.

use std::any::Any;
use std::sync::Arc;

use axum::http::Method;
use axum::routing::get;
use futures_util::future::BoxFuture;
use serde_json::{Map, Value, json};
use shopdb_core::api::{Access, Route};
use shopdb_core::auth::{Actor, Role};
use shopdb_core::catalog;
use shopdb_core::plugin::registry::Candidate;
use shopdb_core::plugin::{
    CliCommand, CollectorField, CollectorSchema, Manifest, NavItem, Plugin, PluginContext,
    PluginError, SettingDef, SettingKind, Widget, WidgetSize,
};
use shopdb_core::resource::Resource;
use shopdb_core::schema::{Column, OnDelete, Table};
use shopdb_core::search::SearchSpec;
use sqlx::Row;

pub fn manifest(name: &str, core: &str, deps: &[&str]) -> Manifest {
    Manifest::parse(
        name,
        &json!({"name": name, "version": "1.2.0", "description": "test plugin", "core_version": core, "dependencies": deps}).to_string(),
    )
    .unwrap()
}

/// Counts cameras; offered to other plugins as the service `cameracount`.
pub struct CameraCounter;

impl CameraCounter {
    pub fn describe(&self) -> &'static str {
        "counts cameras"
    }
}

pub struct Cameras {
    pub manifest: Manifest,
    /// Name of an extra table, to provoke conflicts.
    pub extra_table: Option<&'static str>,
}

pub fn cameras_table() -> Table {
    Table::new("cameras")
        .column(Column::integer("assetid").references("assets", "assetid", OnDelete::Cascade))
        .column(Column::string("hostname", 100).nullable().unique())
        .column(Column::string("streamurl", 255))
        .column(Column::integer("fps").nullable())
        .primary_key(&["assetid"])
}

impl Plugin for Cameras {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn models(&self) -> Vec<Table> {
        let mut tables = Vec::new();
        if let Some(extra) = self.extra_table {
            tables.push(Table::new(extra).column(Column::id("id")));
        }
        tables.push(cameras_table());
        tables
    }

    fn routes(&self) -> Vec<Route> {
        vec![Route::new(
            Method::GET,
            "/api/cameras/ping",
            Access::Role(Role::Viewer),
            "cameras",
            "Ping",
            get(|| async { shopdb_core::envelope::ok(json!({"pong": true})) }),
        )]
    }

    fn resources(&self) -> Vec<Resource> {
        let mut r = catalog::extension("cameras", "camera", cameras_table(), "Camera");
        // A check whose query fails for one stream address: a database error inside a check
        // (PostgreSQL then refuses the rest of the transaction until a savepoint is undone).
        r.hooks = r
            .hooks
            .before(Arc::new(|event| {
                Box::pin(async move {
                    if event.record.get("streamurl") == Some(&json!("rtsp://database-error")) {
                        event
                            .db
                            .query("SELECT nosuchcolumn FROM cameras")
                            .fetch_all(&mut *event.conn)
                            .await?;
                    }
                    Ok(())
                })
            }))
            .checks_only(&[]);
        r.search = Some(SearchSpec {
            entitytype: "camera".into(),
            title: "streamurl".into(),
            subtitle: Some("assetnumber".into()),
            fields: vec!["streamurl".into(), "assetnumber".into(), "name".into()],
            url: "/cameras/{id}".into(),
            plugin: Some(self.manifest.name.clone()),
        });
        vec![r]
    }

    fn navigation_items(&self) -> Vec<NavItem> {
        vec![NavItem {
            name: "Cameras".into(),
            icon: "camera".into(),
            route: "/cameras".into(),
            position: 30,
        }]
    }

    fn dashboard_widgets(&self) -> Vec<Widget> {
        vec![
            Widget {
                name: "camera_count".into(),
                title: "Cameras".into(),
                size: WidgetSize::Small,
                position: 1,
                endpoint: None,
            },
            Widget {
                name: "broken".into(),
                title: "Broken".into(),
                size: WidgetSize::Small,
                position: 2,
                endpoint: None,
            },
        ]
    }

    fn widget_data<'a>(
        &'a self,
        widget: &'a str,
        ctx: &'a PluginContext,
    ) -> BoxFuture<'a, anyhow::Result<Value>> {
        Box::pin(async move {
            match widget {
                "camera_count" => {
                    let n: i64 = ctx
                        .db
                        .query("SELECT COUNT(*) FROM cameras")
                        .fetch_one(ctx.db.pool())
                        .await?
                        .try_get(0)?;
                    Ok(json!({"count": n}))
                }
                _ => {
                    ctx.db
                        .query("SELECT nothing FROM nowhere")
                        .fetch_one(ctx.db.pool())
                        .await?;
                    Ok(Value::Null)
                }
            }
        })
    }

    fn settings(&self) -> Vec<SettingDef> {
        vec![SettingDef {
            key: "retentiondays".into(),
            kind: SettingKind::Integer,
            default: json!(30),
            help: "days to keep".into(),
        }]
    }

    fn services(&self) -> Vec<(String, Arc<dyn Any + Send + Sync>)> {
        vec![(
            "cameracount".into(),
            Arc::new(CameraCounter) as Arc<dyn Any + Send + Sync>,
        )]
    }

    fn collector_schema(&self) -> Option<CollectorSchema> {
        let field = CollectorField::new;
        Some(CollectorSchema {
            heartbeat: None,
            identityfield: "hostname".into(),
            matchfields: vec!["serialnumber".into()],
            fields: vec![
                field("hostname", "string", true),
                field("streamurl", "string", false),
                field("fps", "integer", false),
                field("serialnumber", "string", false),
                field("name", "string", false),
            ],
            resource: None,
        })
    }

    fn cli_commands(&self) -> Vec<CliCommand> {
        let command = shopdb_core::clap::Command::new("count").about("count cameras");
        vec![CliCommand {
            command,
            run: |ctx, _| {
                Box::pin(async move {
                    let n: i64 = ctx
                        .db
                        .query("SELECT COUNT(*) FROM cameras")
                        .fetch_one(ctx.db.pool())
                        .await?
                        .try_get(0)?;
                    Ok(format!("{n} cameras\n"))
                })
            },
        }]
    }

    fn on_install<'a>(&'a self, ctx: &'a PluginContext) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let body: Map<String, Value> = json!({"name": "Camera", "plugin": "cameras"})
                .as_object()
                .unwrap()
                .clone();
            let existing = ctx
                .db
                .query("SELECT COUNT(*) FROM assettypes WHERE name = 'Camera'")
                .fetch_one(ctx.db.pool())
                .await?
                .try_get::<i64, _>(0)?;
            if existing == 0 {
                catalog::assettypes()
                    .create(&ctx.db, &Actor::system("cameras plugin"), &body)
                    .await
                    .map_err(|e| anyhow::anyhow!(e.message))?;
            }
            Ok(())
        })
    }
}

/// A plugin that depends on cameras.
pub struct CameraExtras(pub Manifest);

impl Plugin for CameraExtras {
    fn manifest(&self) -> &Manifest {
        &self.0
    }
    fn models(&self) -> Vec<Table> {
        let name = format!("{}lenses", self.0.name);
        vec![
            Table::new(&name).column(Column::id("lensid")).column(
                Column::integer("assetid").references("cameras", "assetid", OnDelete::Cascade),
            ),
        ]
    }
    fn routes(&self) -> Vec<Route> {
        Vec::new()
    }
}

pub fn cameras() -> Candidate {
    Ok(Arc::new(Cameras {
        manifest: manifest("cameras", ">=1.0.0,<2.0.0", &[]),
        extra_table: None,
    }))
}

pub fn camextras() -> Candidate {
    Ok(Arc::new(CameraExtras(manifest(
        "camextras",
        ">=0.1.0",
        &["cameras"],
    ))))
}

/// Plugins that must be quarantined, each for its own reason.
pub fn broken() -> Vec<Candidate> {
    vec![
        Ok(Arc::new(Cameras {
            manifest: manifest("futurecams", ">=2.0.0", &[]),
            extra_table: None,
        })),
        Ok(Arc::new(Cameras {
            manifest: manifest("thieves", ">=0.1.0", &[]),
            extra_table: Some("assets"),
        })),
        Ok(Arc::new(CameraExtras(manifest(
            "orphan",
            ">=0.1.0",
            &["nosuchplugin"],
        )))),
        Ok(Arc::new(CameraExtras(manifest(
            "chicken",
            ">=0.1.0",
            &["egg"],
        )))),
        Ok(Arc::new(CameraExtras(manifest(
            "egg",
            ">=0.1.0",
            &["chicken"],
        )))),
        Err(PluginError::NotFound {
            plugin: "ghost".into(),
            path: "plugins/ghost/manifest.json".into(),
        }),
    ]
}

pub fn service_description(ctx: &PluginContext) -> String {
    ctx.service::<CameraCounter>("cameracount")
        .map(|c| c.describe().to_string())
        .unwrap_or_default()
}

/// A plugin whose tables each test chooses: one server start per version of its model, as a
/// site upgrading from one plugin release to the next sees it. It keeps the default (empty)
/// `migrations()` unless a test gives some, so its tables are made and changed by the planner.
pub struct Gauges {
    pub manifest: Manifest,
    pub tables: Vec<Table>,
    pub migrations: Vec<shopdb_core::migrate::Migration>,
}

impl Plugin for Gauges {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn models(&self) -> Vec<Table> {
        self.tables.clone()
    }

    fn migrations(&self) -> Vec<shopdb_core::migrate::Migration> {
        self.migrations.clone()
    }

    /// The generic CRUD of the first table when it extends assets (`/api/gauges`).
    fn resources(&self) -> Vec<Resource> {
        self.tables
            .first()
            .filter(|t| t.primary_key == ["assetid"])
            .map(|t| vec![catalog::extension("gauges", "gauge", t.clone(), "Gauge")])
            .unwrap_or_default()
    }

    fn routes(&self) -> Vec<Route> {
        Vec::new()
    }
}

pub fn gauges(tables: Vec<Table>) -> Candidate {
    gauges_with(tables, Vec::new())
}

/// The gauges plugin with hand-written migrations.
pub fn gauges_with(
    tables: Vec<Table>,
    migrations: Vec<shopdb_core::migrate::Migration>,
) -> Candidate {
    Ok(Arc::new(Gauges {
        manifest: manifest("gauges", ">=1.0.0,<2.0.0", &[]),
        tables,
        migrations,
    }))
}

/// Release 1 of the gauges model: an asset extension and a standalone table.
pub fn gauges_v1() -> Vec<Table> {
    vec![
        Table::new("gauges")
            .column(Column::integer("assetid").references("assets", "assetid", OnDelete::Cascade))
            .column(Column::string("tag", 20).unique())
            .column(Column::string("span", 20).nullable())
            .column(
                Column::string("kind", 20)
                    .nullable()
                    .choices(&["dial", "digital"]),
            )
            .column(Column::integer("reading").nullable())
            .primary_key(&["assetid"]),
        Table::new("gaugeunits")
            .column(Column::id("unitid"))
            .column(Column::string("name", 20)),
    ]
}
