//! CNC machines and other production equipment.
//!
//! A machine is an asset with its controller, its DNC (program transfer) settings and the PC
//! that drives it. That PC is kept as an asset relationship "controls" (PC → machine), so it
//! shows on both assets, and a machine with no map position of its own is placed at its PC's.

use std::sync::Arc;

use shopdb_core::anyhow;
use shopdb_core::api::Route;
use shopdb_core::catalog;
use shopdb_core::error::DomainError;
use shopdb_core::futures_util::future::BoxFuture;
use shopdb_core::plugin::registry::Candidate;
use shopdb_core::plugin::{Manifest, NavItem, Plugin, PluginContext, Widget, WidgetSize};
use shopdb_core::resource::{Resource, WriteEvent, WriteHook};
use shopdb_core::schema::{Column, OnDelete, Table};
use shopdb_core::search::SearchSpec;
use shopdb_core::serde_json::{Map, Value, json};
use shopdb_core::sqlx::Row;

/// The asset type new machines get.
pub const ASSET_TYPE: &str = "Equipment";
/// The relationship type linking a PC to the machine it drives (seeded by the core).
pub const CONTROLS: &str = "controls";

const PARITIES: &[&str] = &["none", "even", "odd", "mark", "space"];
const FLOW_CONTROLS: &[&str] = &["none", "xonxoff", "rtscts"];
const BAUD_RATES: &[i64] = &[
    110, 300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200,
];
const DATA_BITS: &[i64] = &[5, 6, 7, 8];
const STOP_BITS: &[i64] = &[1, 2];

/// One of `allowed`, in any case, as a pattern (the check compares in lower case).
fn any_case(allowed: &[&str]) -> Value {
    let alternatives: Vec<String> = allowed
        .iter()
        .map(|word| {
            word.chars()
                .map(|c| {
                    if c.is_ascii_alphabetic() {
                        format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        })
        .collect();
    let space = shopdb_core::resource::WHITE_SPACE_CLASS;
    json!({"type": "string", "pattern": format!("^[{space}]*(?:{})[{space}]*$", alternatives.join("|"))})
}

pub struct EquipmentPlugin {
    manifest: Manifest,
}

/// The plugin, as the loader takes it.
pub fn plugin() -> Candidate {
    let manifest = Manifest::parse("equipment", include_str!("../manifest.json"))?;
    Ok(Arc::new(EquipmentPlugin { manifest }))
}

pub fn equipment_table() -> Table {
    Table::new("equipment")
        .column(Column::integer("assetid").references("assets", "assetid", OnDelete::Cascade))
        .column(
            Column::string("machinenumber", 50)
                .unique()
                .label("Machine number"),
        )
        .column(
            Column::string("equipmenttype", 50)
                .nullable()
                .label("Equipment type"),
        )
        .column(
            Column::string("controllertype", 50)
                .nullable()
                .label("Controller"),
        )
        .column(
            Column::string("controllermodel", 100)
                .nullable()
                .label("Controller model"),
        )
        .column(Column::date("installdate").nullable().label("Install date"))
        .column(
            Column::integer("controllingpcid")
                .nullable()
                .references("assets", "assetid", OnDelete::SetNull)
                .label("Driven by PC (asset id)")
                .help("The asset id of the PC that sends this machine its programs"),
        )
        // DNC / communication settings.
        .column(Column::string("dncprotocol", 50).nullable())
        .column(
            Column::string("ipaddress", 45)
                .nullable()
                .label("IP address"),
        )
        .column(Column::string("dncport", 20).nullable())
        .column(Column::integer("baudrate").nullable())
        .column(Column::integer("databits").nullable())
        .column(Column::string("parity", 10).nullable())
        .column(Column::integer("stopbits").nullable())
        .column(Column::string("flowcontrol", 10).nullable())
        .column(Column::text("dncnotes").nullable())
        .primary_key(&["assetid"])
        .index(&["controllingpcid"])
        .index(&["ipaddress"])
}

/// Serial-line settings that a DNC package would refuse.
fn check_settings(record: &Map<String, Value>) -> Map<String, Value> {
    let mut errors = Map::new();
    let mut one_of = |field: &str, allowed: &[&str]| {
        // Blank is no value, as for any text field.
        if let Some(v) = record.get(field).and_then(Value::as_str)
            && !v.trim().is_empty()
            && !allowed.contains(&v.trim().to_lowercase().as_str())
        {
            errors.insert(
                field.into(),
                json!(format!("must be one of {}", allowed.join(", "))),
            );
        }
    };
    one_of("parity", PARITIES);
    one_of("flowcontrol", FLOW_CONTROLS);
    let mut number_in = |field: &str, allowed: &[i64]| {
        if let Some(v) = record.get(field).and_then(Value::as_i64)
            && !allowed.contains(&v)
        {
            let list: Vec<String> = allowed.iter().map(i64::to_string).collect();
            errors.insert(
                field.into(),
                json!(format!("must be one of {}", list.join(", "))),
            );
        }
    };
    number_in("baudrate", BAUD_RATES);
    number_in("databits", DATA_BITS);
    number_in("stopbits", STOP_BITS);
    if record
        .get("controllingpcid")
        .is_some_and(|pc| !pc.is_null())
        && record.get("controllingpcid") == record.get("assetid")
    {
        errors.insert(
            "controllingpcid".into(),
            json!("a machine cannot be driven by itself"),
        );
    }
    errors
}

/// Keeps the "controls" relationship in step with `controllingpcid`: the old PC's link goes,
/// the new PC's link is made, both audited in the machine's write transaction.
fn controls_hook() -> WriteHook {
    Arc::new(|event: WriteEvent<'_>| {
        Box::pin(async move {
            let old = event
                .before
                .and_then(|b| b.get("controllingpcid"))
                .and_then(Value::as_i64);
            let new = event.record.get("controllingpcid").and_then(Value::as_i64);
            if old == new {
                return Ok(());
            }
            let machine = event.id.expect("after-write hooks know the id");
            let db = event.db;
            let conn = event.conn;
            let typeid: i64 = db
                .query("SELECT relationshiptypeid FROM relationshiptypes WHERE name = ?")
                .bind(CONTROLS)
                .fetch_optional(&mut *conn)
                .await?
                .map(|r| r.try_get(0))
                .transpose()?
                .ok_or_else(|| {
                    DomainError::internal("the relationship type 'controls' is missing")
                })?;
            let relationships = event.env.relationships.upgrade().ok_or_else(|| {
                DomainError::internal("the relationships resource is not in the served catalog")
            })?;
            let existing = db
                .query(
                    "SELECT relationshipid, sourceassetid FROM assetrelationships \
                     WHERE targetassetid = ? AND relationshiptypeid = ?",
                )
                .bind(machine)
                .bind(typeid)
                .fetch_all(&mut *conn)
                .await?;
            let mut linked = false;
            for r in existing {
                let (id, source): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
                if Some(source) == new {
                    linked = true;
                } else if Some(source) == old {
                    // Every table the server knows, so "still referenced" is checked as for
                    // any other delete.
                    let tables: Vec<_> = event.env.tables.iter().map(|(_, t)| t.clone()).collect();
                    relationships
                        .remove(db, conn, event.actor, id, &tables)
                        .await?;
                }
            }
            if let (Some(pc), false) = (new, linked) {
                let body = json!({
                    "sourceassetid": pc, "targetassetid": machine, "relationshiptypeid": typeid,
                    "notes": "drives this machine (set from the equipment record)",
                });
                let values = relationships
                    .validate(db, conn, body.as_object().expect("object"), None)
                    .await?;
                relationships.insert(db, conn, event.actor, values).await?;
            }
            Ok(())
        })
    })
}

impl Plugin for EquipmentPlugin {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn models(&self) -> Vec<Table> {
        vec![equipment_table()]
    }

    fn routes(&self) -> Vec<Route> {
        Vec::new()
    }

    fn resources(&self) -> Vec<Resource> {
        let mut r = catalog::extension("equipment", "machine", equipment_table(), ASSET_TYPE);
        r.check = Some(|record| {
            let mut errors = catalog::assets()
                .check
                .map(|c| c(record))
                .unwrap_or_default();
            errors.extend(check_settings(record));
            errors
        });
        // What check_settings and the address hook enforce, for the API document.
        r.constrain("parity", any_case(PARITIES));
        r.constrain("flowcontrol", any_case(FLOW_CONTROLS));
        r.constrain("baudrate", json!({"type": "integer", "enum": BAUD_RATES}));
        r.constrain("databits", json!({"type": "integer", "enum": DATA_BITS}));
        r.constrain("stopbits", json!({"type": "integer", "enum": STOP_BITS}));
        r.constrain("ipaddress", shopdb_core::addresses::ip_schema());
        r.hooks = r
            .hooks
            .before(shopdb_core::addresses::ip_address_hook())
            .after(controls_hook());
        r.search = Some(SearchSpec {
            entitytype: "machine".into(),
            title: "machinenumber".into(),
            subtitle: Some("name".into()),
            fields: [
                "machinenumber",
                "assetnumber",
                "name",
                "serialnumber",
                "controllermodel",
            ]
            .map(String::from)
            .to_vec(),
            url: "/equipment/{id}".into(),
            plugin: Some(self.manifest.name.clone()),
        });
        vec![r]
    }

    fn navigation_items(&self) -> Vec<NavItem> {
        vec![NavItem {
            name: "Equipment".into(),
            icon: "cog".into(),
            route: "/equipment".into(),
            position: 20,
        }]
    }

    fn dashboard_widgets(&self) -> Vec<Widget> {
        vec![Widget {
            name: "equipment_by_status".into(),
            title: "Equipment by status".into(),
            size: WidgetSize::Small,
            position: 20,
            endpoint: None,
        }]
    }

    fn widget_data<'a>(
        &'a self,
        _widget: &'a str,
        ctx: &'a PluginContext,
    ) -> BoxFuture<'a, anyhow::Result<Value>> {
        Box::pin(async move {
            let rows = ctx
                .db
                .query(
                    "SELECT COALESCE(s.name, 'No status'), COUNT(*) FROM equipment e \
                     JOIN assets a ON a.assetid = e.assetid \
                     LEFT JOIN statuses s ON s.statusid = a.statusid \
                     GROUP BY COALESCE(s.name, 'No status') ORDER BY 2 DESC, 1",
                )
                .fetch_all(ctx.db.pool())
                .await?;
            let mut bars = Vec::new();
            let mut total = 0;
            for r in rows {
                let count: i64 = r.try_get(1)?;
                total += count;
                bars.push(json!({"label": r.try_get::<String, _>(0)?, "count": count}));
            }
            Ok(json!({"total": total, "bars": bars}))
        })
    }

    fn on_install<'a>(&'a self, ctx: &'a PluginContext) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            catalog::ensure_assettype(&ctx.db, ASSET_TYPE, "equipment")
                .await
                .map_err(|e| anyhow::anyhow!(e.message))
        })
    }
}
