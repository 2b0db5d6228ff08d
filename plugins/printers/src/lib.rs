//! Shop-floor printers.
//!
//! A printer is an asset with the print-mapping fields below. Supply levels and device status
//! come from Zabbix (the `zabbix` service, see [`zabbix`]), and the last known levels are kept
//! for when it cannot answer (see [`levels`], also fed by scripts); `GET /api/printers/legacy` serves
//! the flat list print-mapping scripts read, and `GET /api/printers/nearest` finds the printers
//! closest to a PC on the floor map.

pub mod levels;
pub mod nearest;
pub mod routes;
pub mod store;
pub mod zabbix;

use std::any::Any;
use std::sync::Arc;

use shopdb_core::anyhow;
use shopdb_core::api::Route;
use shopdb_core::catalog;
use shopdb_core::futures_util::future::BoxFuture;
use shopdb_core::migrate::{Migration, Step};
use shopdb_core::plugin::registry::Candidate;
use shopdb_core::plugin::{
    Manifest, NavItem, Plugin, PluginContext, SettingDef, SettingKind, Widget, WidgetSize,
};
use shopdb_core::resource::Resource;
use shopdb_core::schema::{Column, OnDelete, Table};
use shopdb_core::search::SearchSpec;
use shopdb_core::serde_json::{Value, json};

/// The plugin's name: its settings scope and route tag.
pub const PLUGIN: &str = "printers";

/// The asset type new printers get.
pub const ASSET_TYPE: &str = "Printer";

/// The dashboard widget listing printers low on supplies.
pub const SUPPLIES_WIDGET: &str = "printer_supplies";

pub struct PrintersPlugin {
    manifest: Manifest,
    /// The dashboard's last Zabbix answer (see `zabbix::SuppliesCache`).
    supplies: zabbix::SuppliesCache,
}

/// The plugin, as the loader takes it.
pub fn plugin() -> Candidate {
    let manifest = Manifest::parse(PLUGIN, include_str!("../manifest.json"))?;
    Ok(Arc::new(PrintersPlugin {
        manifest,
        supplies: Default::default(),
    }))
}

/// The printers table as it is now: the baseline plus what later migrations added.
pub fn printers_table() -> Table {
    printers_baseline()
}

/// The table as migration 1 created it; recorded steps never change, so a column added later
/// goes into `printers_table` and a migration of its own.
fn printers_baseline() -> Table {
    Table::new("printers")
        .column(Column::integer("assetid").references("assets", "assetid", OnDelete::Cascade))
        .column(Column::string("hostname", 100).unique().label("Host name"))
        .column(
            Column::string("ipaddress", 45)
                .nullable()
                .label("IP address"),
        )
        .column(
            Column::string("macaddress", 17)
                .nullable()
                .label("MAC address"),
        )
        .column(
            Column::string("printermodel", 100)
                .nullable()
                .label("Printer model"),
        )
        .column(Column::string("printserver", 100).nullable())
        .column(Column::string("queuename", 150).nullable().label("Queue"))
        .column(Column::string("driver", 150).nullable())
        .column(Column::boolean("color").default("0"))
        .column(Column::boolean("duplex").default("0"))
        .column(Column::string("zabbixhost", 100).nullable())
        .primary_key(&["assetid"])
        .index(&["ipaddress"])
}

/// The settings admins change with `PUT /api/settings/printers/<key>`.
pub fn setting_defs() -> Vec<SettingDef> {
    vec![
        SettingDef {
            key: "zabbixurl".into(),
            kind: SettingKind::Text,
            default: json!(""),
            help: "Address of the Zabbix frontend, http:// only (e.g. http://zabbix.example.com/zabbix); \
                   empty turns supply monitoring off"
                .into(),
        },
        SettingDef {
            key: "zabbixtoken".into(),
            kind: SettingKind::Text,
            default: json!(""),
            help: "Zabbix API token (Users > API tokens) of a user that may read the printers' hosts; \
                   never shown or logged"
                .into(),
        },
        SettingDef {
            key: "lowsupplypercent".into(),
            kind: SettingKind::Integer,
            default: json!(15),
            help: "A toner, ink or drum at or below this percentage counts as low".into(),
        },
    ]
}

/// The printers plugin's own context, whoever asks: settings are read from its scope.
pub fn printers_context(ctx: &PluginContext) -> PluginContext {
    PluginContext {
        db: ctx.db.clone(),
        plugin: PLUGIN.into(),
        services: ctx.services.clone(),
        settings: Arc::new(setting_defs()),
    }
}

impl Plugin for PrintersPlugin {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn models(&self) -> Vec<Table> {
        vec![printers_table(), levels::printersupplies_table()]
    }

    fn migrations(&self) -> Vec<Migration> {
        vec![
            Migration::new(1, "baseline", vec![Step::CreateTable(printers_baseline())]),
            Migration::new(
                2,
                "last known supply levels",
                vec![Step::CreateTable(levels::printersupplies_table())],
            ),
        ]
    }

    fn routes(&self) -> Vec<Route> {
        vec![routes::supplies_route(), routes::report_supplies_route()]
    }

    /// The print-mapping routes live outside the generic resource, as in the old system.
    fn init(&self, routes: &mut Vec<Route>) {
        routes.push(routes::legacy_route());
        routes.push(routes::nearest_route());
    }

    fn resources(&self) -> Vec<Resource> {
        let mut r = catalog::extension(PLUGIN, "printer", printers_table(), ASSET_TYPE);
        r.hooks = r.hooks.before(shopdb_core::addresses::ip_address_hook());
        r.constrain("ipaddress", shopdb_core::addresses::ip_schema());
        r.search = Some(SearchSpec {
            entitytype: "printer".into(),
            title: "hostname".into(),
            subtitle: Some("ipaddress".into()),
            fields: [
                "hostname",
                "ipaddress",
                "assetnumber",
                "name",
                "queuename",
                "serialnumber",
                "macaddress",
                "zabbixhost",
            ]
            .map(String::from)
            .to_vec(),
            url: "/printers/{id}".into(),
            plugin: Some(self.manifest.name.clone()),
        });
        vec![r]
    }

    fn services(&self) -> Vec<(String, Arc<dyn Any + Send + Sync>)> {
        vec![(
            zabbix::SERVICE.into(),
            Arc::new(zabbix::ZabbixService) as Arc<dyn Any + Send + Sync>,
        )]
    }

    fn settings(&self) -> Vec<SettingDef> {
        setting_defs()
    }

    fn check_setting(&self, key: &str, value: &Value) -> Result<(), String> {
        match (key, value.as_i64()) {
            ("lowsupplypercent", Some(p)) if !(0..=100).contains(&p) => {
                Err("must be a percentage from 0 to 100".into())
            }
            _ => Ok(()),
        }
    }

    fn static_files(&self) -> Vec<(String, String)> {
        vec![(
            "supplies.js".into(),
            include_str!("../static/supplies.js").into(),
        )]
    }

    fn templates(&self) -> Vec<(String, String)> {
        vec![(
            "records/printers/detail.html".into(),
            include_str!("../templates/detail.html").into(),
        )]
    }

    fn navigation_items(&self) -> Vec<NavItem> {
        vec![NavItem {
            name: "Printers".into(),
            icon: "printer".into(),
            route: "/printers".into(),
            position: 20,
        }]
    }

    fn dashboard_widgets(&self) -> Vec<Widget> {
        vec![Widget {
            name: SUPPLIES_WIDGET.into(),
            title: "Printers low on supplies".into(),
            size: WidgetSize::Medium,
            position: 20,
            endpoint: None,
        }]
    }

    fn widget_data<'a>(
        &'a self,
        _widget: &'a str,
        ctx: &'a PluginContext,
    ) -> BoxFuture<'a, anyhow::Result<Value>> {
        Box::pin(zabbix::low_supplies_widget(ctx, &self.supplies))
    }

    fn on_install<'a>(&'a self, ctx: &'a PluginContext) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            catalog::ensure_assettype(&ctx.db, ASSET_TYPE, PLUGIN)
                .await
                .map_err(|e| anyhow::anyhow!(e.message))
        })
    }
}
