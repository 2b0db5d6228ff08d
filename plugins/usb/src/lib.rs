//! Controlled USB storage devices, checked out to a person and back in at the desk.
//!
//! A device is an asset (its serial number is the asset's `serialnumber`, which the desk
//! scans) plus a row in `usbdevices`. Every loan is a row in `usbcheckouts`; the device's
//! `currentcheckoutid` points at the open one, and claiming it with a conditional UPDATE is
//! what keeps two desks from lending the same drive twice.

mod checkouts;
mod routes;

use std::sync::Arc;

use shopdb_core::anyhow;
use shopdb_core::api::Route;
use shopdb_core::catalog;
use shopdb_core::error::DomainError;
use shopdb_core::futures_util::future::BoxFuture;
use shopdb_core::plugin::registry::Candidate;
use shopdb_core::plugin::{
    CliCommand, Manifest, NavItem, Plugin, PluginContext, SettingDef, SettingKind, Widget,
    WidgetSize,
};
use shopdb_core::resource::{Hooks, Lookup, Resource, WriteHook};
use shopdb_core::schema::{Column, OnDelete, Table};
use shopdb_core::search::SearchSpec;
use shopdb_core::serde_json::{Value, json};
use shopdb_core::sqlx::Row;

pub use checkouts::{CheckoutRequest, check_in, check_out, overdue};

/// The plugin's name: its settings scope and the first segment of its routes.
pub const NAME: &str = "usb";

/// The asset type new devices get.
pub const ASSET_TYPE: &str = "USB Drive";

/// Longest loan when the `maxloandays` setting is not set.
pub const DEFAULT_MAX_LOAN_DAYS: i64 = 30;

pub struct UsbPlugin {
    manifest: Manifest,
}

/// The plugin, as the loader takes it.
pub fn plugin() -> Candidate {
    let manifest = Manifest::parse(NAME, include_str!("../manifest.json"))?;
    Ok(Arc::new(UsbPlugin { manifest }))
}

/// The device fields an asset gets. Capacity is a whole number of gigabytes, so lists sort
/// and filter on it (`?capacitygb=64`).
pub fn usbdevices_table() -> Table {
    Table::new("usbdevices")
        .column(Column::integer("assetid").references("assets", "assetid", OnDelete::Cascade))
        .column(Column::integer("capacitygb").nullable())
        .column(
            Column::string("devicetype", 50)
                .nullable()
                .label("Device type"),
        )
        .column(Column::boolean("encrypted").default("0"))
        // The open loan, kept by the checkout and checkin routes only.
        .column(Column::integer("currentcheckoutid").nullable())
        .primary_key(&["assetid"])
        .index(&["currentcheckoutid"])
}

/// One loan of a device: who has it, until when, and how it came back.
pub fn usbcheckouts_table() -> Table {
    Table::new("usbcheckouts")
        .column(Column::id("checkoutid"))
        .column(Column::integer("assetid").references("assets", "assetid", OnDelete::Cascade))
        .column(Column::string("checkedoutto", 100).label("Checked out to"))
        .column(Column::string("badge", 50).nullable().label("Badge"))
        .column(Column::string("purpose", 255).nullable().label("Purpose"))
        .column(Column::timestamp("checkedoutat"))
        .column(Column::string("checkedoutby", 100))
        .column(Column::timestamp("dueat").label("Due"))
        .column(Column::timestamp("checkedinat").nullable())
        .column(Column::string("checkedinby", 100).nullable())
        .column(Column::string("returncondition", 255).nullable())
        .index(&["assetid"])
        .index(&["badge"])
        .index(&["checkedoutto"])
        .index(&["dueat"])
}

/// Devices: the asset fields and the device fields in one record at `/api/usb`.
pub fn devices_resource() -> Resource {
    let mut r = catalog::extension("usb", "usb device", usbdevices_table(), ASSET_TYPE);
    r.readonly = vec!["currentcheckoutid".into()];
    r.hooks = Hooks::default().before_delete(refuse_delete_while_out());
    r.search = Some(SearchSpec {
        entitytype: "usbdevice".into(),
        title: "assetnumber".into(),
        subtitle: Some("serialnumber".into()),
        fields: ["serialnumber", "assetnumber", "name"]
            .map(String::from)
            .to_vec(),
        url: "/usb/{id}".into(),
        plugin: Some(NAME.into()),
    });
    r
}

/// Loans, read through the generic list engine (filters, `q`, sort, pages) with the device's
/// asset number, name and serial joined in. Written only by checkout and checkin.
pub fn checkouts_resource() -> Resource {
    let mut r = Resource::new(
        "usb/checkouts",
        "usb checkout",
        usbcheckouts_table(),
        "checkedoutto",
    );
    r.default_sort = "-checkedoutat".into();
    r.lookups = vec![
        Lookup::via("assetid", "assets", "assetid", "assetnumber", "assetnumber"),
        Lookup::via("assetid", "assets", "assetid", "name", "assetname"),
        Lookup::via(
            "assetid",
            "assets",
            "assetid",
            "serialnumber",
            "serialnumber",
        ),
    ];
    r.searchable = [
        "checkedoutto",
        "badge",
        "purpose",
        "assetnumber",
        "serialnumber",
    ]
    .map(String::from)
    .to_vec();
    r
}

/// A drive that is out cannot be deleted (through `/api/usb` or `/api/assets`): 409 naming
/// who has it, so a controlled drive never vanishes from the records while someone holds it.
fn refuse_delete_while_out() -> WriteHook {
    Arc::new(|event| {
        Box::pin(async move {
            let Some(id) = event.id else {
                return Ok(());
            };
            let out = event
                .db
                .query(
                    "SELECT c.checkedoutto, c.dueat FROM usbdevices d \
                     JOIN usbcheckouts c ON c.checkoutid = d.currentcheckoutid WHERE d.assetid = ?",
                )
                .bind(id)
                .fetch_optional(&mut *event.conn)
                .await?;
            let Some(out) = out else {
                return Ok(());
            };
            let who: String = out.try_get(0)?;
            let due: String = out.try_get(1)?;
            Err(DomainError::conflict(format!(
                "this drive is checked out to {who} (due {due}); check it in before deleting it"
            ))
            .with_details(json!({"checkedoutto": who, "dueat": due})))
        })
    })
}

/// The `maxloandays` setting (0: no limit).
pub async fn max_loan_days(ctx: &PluginContext) -> anyhow::Result<i64> {
    Ok(ctx
        .setting("maxloandays")
        .await?
        .as_i64()
        .unwrap_or(DEFAULT_MAX_LOAN_DAYS))
}

impl Plugin for UsbPlugin {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn models(&self) -> Vec<Table> {
        vec![usbdevices_table(), usbcheckouts_table()]
    }

    fn routes(&self) -> Vec<Route> {
        routes::routes()
    }

    fn resources(&self) -> Vec<Resource> {
        vec![devices_resource()]
    }

    fn settings(&self) -> Vec<SettingDef> {
        vec![SettingDef {
            key: "maxloandays".into(),
            kind: SettingKind::Integer,
            default: json!(DEFAULT_MAX_LOAN_DAYS),
            help: "Longest loan a checkout may ask for, in days (0: no limit)".into(),
        }]
    }

    fn check_setting(&self, key: &str, value: &Value) -> Result<(), String> {
        match (key, value.as_i64()) {
            ("maxloandays", Some(days)) if days < 0 => {
                Err("must be 0 (no limit) or more days".into())
            }
            _ => Ok(()),
        }
    }

    fn static_files(&self) -> Vec<(String, String)> {
        vec![
            ("desk.js".into(), include_str!("../static/desk.js").into()),
            (
                "checkouts.js".into(),
                include_str!("../static/checkouts.js").into(),
            ),
        ]
    }

    fn templates(&self) -> Vec<(String, String)> {
        vec![
            (
                "usb/desk.html".into(),
                include_str!("../templates/desk.html").into(),
            ),
            (
                "usb/checkouts.html".into(),
                include_str!("../templates/checkouts.html").into(),
            ),
        ]
    }

    fn pages(&self) -> Vec<shopdb_core::plugin::Page> {
        vec![
            shopdb_core::plugin::Page {
                path: "/usb/desk".into(),
                title: "USB desk".into(),
                template: "usb/desk.html".into(),
                role: Some(shopdb_core::auth::Role::Editor),
            },
            // Every loan, newest first: who had which drive, for how long, returned how.
            shopdb_core::plugin::Page {
                path: "/usb/checkouts".into(),
                title: "USB loan history".into(),
                template: "usb/checkouts.html".into(),
                role: Some(shopdb_core::auth::Role::Viewer),
            },
        ]
    }

    fn navigation_items(&self) -> Vec<NavItem> {
        vec![NavItem {
            name: "USB Drives".into(),
            icon: "usb".into(),
            route: "/usb/desk".into(),
            position: 40,
        }]
    }

    fn dashboard_widgets(&self) -> Vec<Widget> {
        vec![Widget {
            name: "usb_checkouts".into(),
            title: "USB drives out".into(),
            size: WidgetSize::Medium,
            position: 20,
            endpoint: Some("/api/usb/overdue".into()),
        }]
    }

    fn widget_data<'a>(
        &'a self,
        _widget: &'a str,
        ctx: &'a PluginContext,
    ) -> BoxFuture<'a, anyhow::Result<Value>> {
        Box::pin(async move {
            let out = checkouts::count_out(&ctx.db).await?;
            let (list, overdue) = checkouts::overdue(&ctx.db, 10, 0).await?;
            Ok(json!({"out": out, "overdue": overdue, "overduedevices": list}))
        })
    }

    fn cli_commands(&self) -> Vec<CliCommand> {
        let command = shopdb_core::clap::Command::new("overdue")
            .about("List devices out past their due time, most overdue first");
        vec![CliCommand::new(command, |ctx, _args| {
            Box::pin(async move {
                let (list, _) = checkouts::overdue(&ctx.db, i64::MAX, 0).await?;
                Ok(overdue_report(&list))
            })
        })]
    }

    fn on_install<'a>(&'a self, ctx: &'a PluginContext) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            catalog::ensure_assettype(&ctx.db, ASSET_TYPE, NAME)
                .await
                .map_err(|e| anyhow::anyhow!(e.message))
        })
    }
}

/// One line per overdue device, or "no overdue devices".
pub fn overdue_report(list: &[Value]) -> String {
    if list.is_empty() {
        return "no overdue devices\n".into();
    }
    let text = |v: &Value| v.as_str().unwrap_or("-").to_string();
    list.iter()
        .map(|c| {
            let badge = c["badge"]
                .as_str()
                .map(|b| format!(" (badge {b})"))
                .unwrap_or_default();
            format!(
                "{:<14} {:<20} {}{badge} due {} ({} days overdue)\n",
                text(&c["assetnumber"]),
                text(&c["serialnumber"]),
                text(&c["checkedoutto"]),
                text(&c["dueat"]),
                c["daysoverdue"].as_i64().unwrap_or_default()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_has_one_line_per_device() {
        assert_eq!(overdue_report(&[]), "no overdue devices\n");
        let report = overdue_report(&[
            json!({"assetnumber": "USB-1", "serialnumber": "SN1", "checkedoutto": "Ann", "badge": "4411", "dueat": "2026-11-20T09:00:00Z", "daysoverdue": 2}),
            json!({"assetnumber": "USB-2", "serialnumber": null, "checkedoutto": "Bob", "badge": null, "dueat": "2026-11-21T09:00:00Z", "daysoverdue": 1}),
        ]);
        let lines: Vec<&str> = report.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("USB-1") && lines[0].contains("Ann (badge 4411)"));
        assert!(lines[1].contains("Bob due 2026-11-21T09:00:00Z (1 days overdue)"));
    }
}
