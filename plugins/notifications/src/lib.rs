//! Shop-floor announcements: an outage, a warning or a notice, for the whole site or one
//! location, shown from when it starts until it ends. Not assets: a table of its own, served by
//! the generic CRUD at `/api/notifications`, plus the recent list the dashboard shows and the
//! kiosk list a screen on the floor reads (without login when an admin allows it).

mod announcements;
mod routes;

use std::sync::Arc;

use shopdb_core::anyhow;
use shopdb_core::api::Route;
use shopdb_core::futures_util::future::BoxFuture;
use shopdb_core::plugin::registry::Candidate;
use shopdb_core::plugin::{
    Manifest, NavItem, Plugin, PluginContext, SettingDef, SettingKind, Widget, WidgetSize,
};
use shopdb_core::resource::{Lookup, Resource};
use shopdb_core::schema::{Column, OnDelete, Table};
use shopdb_core::search::SearchSpec;
use shopdb_core::serde_json::{Map, Value, json};

pub use announcements::{Window, list};

/// The plugin's name: its settings scope and the first segment of its routes.
pub const NAME: &str = "notifications";

/// Allowed severities, mildest first.
pub const SEVERITIES: [&str; 3] = ["info", "warning", "outage"];

pub struct NotificationsPlugin {
    manifest: Manifest,
}

/// The plugin, as the loader takes it.
pub fn plugin() -> Candidate {
    let manifest = Manifest::parse(NAME, include_str!("../manifest.json"))?;
    Ok(Arc::new(NotificationsPlugin { manifest }))
}

pub fn notifications_table() -> Table {
    Table::new("notifications")
        .column(Column::id("notificationid"))
        .column(Column::string("title", 200))
        .column(Column::text("message"))
        .column(Column::string("severity", 20).default("'info'"))
        .column(Column::timestamp("startsat").label("Starts"))
        // Open-ended while null.
        .column(Column::timestamp("endsat").nullable().label("Ends"))
        // Site-wide while null.
        .column(Column::integer("locationid").nullable().references(
            "locations",
            "locationid",
            OnDelete::SetNull,
        ))
        .column(Column::boolean("isactive").default("1").label("Active"))
        .column(Column::timestamp("createddate"))
        .column(Column::timestamp("modifieddate"))
        .index(&["startsat"])
        .index(&["locationid"])
}

/// Severity is one of [`SEVERITIES`]; an end lies after the start.
fn check(record: &Map<String, Value>) -> Map<String, Value> {
    let mut errors = Map::new();
    if let Some(severity) = record.get("severity").and_then(Value::as_str)
        && !SEVERITIES.contains(&severity)
    {
        errors.insert(
            "severity".into(),
            json!(format!("must be one of {}", SEVERITIES.join(", "))),
        );
    }
    // Stored timestamps are normalised UTC text, so text order is time order.
    if let (Some(start), Some(end)) = (
        record.get("startsat").and_then(Value::as_str),
        record.get("endsat").and_then(Value::as_str),
    ) && end <= start
    {
        errors.insert("endsat".into(), json!("must be after startsat"));
    }
    errors
}

/// Announcements over the generic CRUD: editors write, viewers read, lists filter on
/// severity, locationid and isactive.
pub fn notifications_resource() -> Resource {
    let mut r = Resource::new(
        "notifications",
        "notification",
        notifications_table(),
        "title",
    );
    r.default_sort = "-startsat".into();
    r.searchable = vec!["title".into(), "message".into()];
    r.lookups = vec![Lookup::new(
        "locationid",
        "locations",
        "name",
        "locationname",
    )];
    r.check = Some(check);
    r.constrain("severity", json!({"type": "string", "enum": SEVERITIES}));
    r.search = Some(SearchSpec {
        entitytype: "notification".into(),
        title: "title".into(),
        subtitle: Some("severity".into()),
        fields: vec!["title".into(), "message".into()],
        url: "/notifications/{id}".into(),
        plugin: Some(NAME.into()),
    });
    r
}

impl Plugin for NotificationsPlugin {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn models(&self) -> Vec<Table> {
        vec![notifications_table()]
    }

    fn routes(&self) -> Vec<Route> {
        routes::routes()
    }

    fn resources(&self) -> Vec<Resource> {
        vec![notifications_resource()]
    }

    fn settings(&self) -> Vec<SettingDef> {
        vec![SettingDef {
            key: "kioskpublic".into(),
            kind: SettingKind::Boolean,
            default: json!(false),
            help: "Let anyone read GET /api/notifications/kiosk without logging in (floor screens)"
                .into(),
        }]
    }

    fn static_files(&self) -> Vec<(String, String)> {
        vec![
            ("kiosk.js".into(), include_str!("../static/kiosk.js").into()),
            (
                "kiosk.css".into(),
                include_str!("../static/kiosk.css").into(),
            ),
        ]
    }

    fn templates(&self) -> Vec<(String, String)> {
        vec![(
            "notifications/kiosk.html".into(),
            include_str!("../templates/kiosk.html").into(),
        )]
    }

    /// The floor-screen page is open to all; its data comes from the kiosk route, which
    /// answers anonymous screens only while the `kioskpublic` setting is on.
    fn pages(&self) -> Vec<shopdb_core::plugin::Page> {
        vec![shopdb_core::plugin::Page {
            path: "/notifications/kiosk".into(),
            title: "Announcements".into(),
            template: "notifications/kiosk.html".into(),
            role: None,
        }]
    }

    fn navigation_items(&self) -> Vec<NavItem> {
        vec![NavItem {
            name: "Notifications".into(),
            icon: "bell".into(),
            route: "/notifications".into(),
            position: 5,
        }]
    }

    fn dashboard_widgets(&self) -> Vec<Widget> {
        vec![Widget {
            name: "recent_notifications".into(),
            title: "Notifications".into(),
            size: WidgetSize::Medium,
            position: 1,
            endpoint: Some("/api/notifications/recent".into()),
        }]
    }

    fn widget_data<'a>(
        &'a self,
        _widget: &'a str,
        ctx: &'a PluginContext,
    ) -> BoxFuture<'a, anyhow::Result<Value>> {
        Box::pin(async move {
            let (items, total) = list(&ctx.db, Window::CurrentOrUpcoming, None, 5, 0).await?;
            let (_, current) = list(&ctx.db, Window::Current, None, 0, 0).await?;
            Ok(json!({
                "current": current,
                "upcoming": total - current,
                "notifications": items,
            }))
        })
    }
}
