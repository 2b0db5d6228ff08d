//! The core tables served over the API, with how each is listed, validated and searched.

use serde_json::{Map, Value, json};

use std::sync::Arc;

use sqlx::{AnyConnection, Row};

use crate::auth::Role;
use crate::core_schema as t;
use crate::db::Db;
use crate::error::DomainError;
use crate::resource::{Hooks, Lookup, NamedDefault, Resource, ResourceKind};
use crate::schema::Table;

pub fn assets() -> Resource {
    let mut r = Resource::new("assets", "asset", t::assets(), "assetnumber");
    r.kind = ResourceKind::Asset;
    r.searchable = vec!["assetnumber".into(), "name".into(), "serialnumber".into()];
    r.lookups = vec![
        Lookup::new("assettypeid", "assettypes", "name", "assettypename"),
        Lookup::new("statusid", "statuses", "name", "statusname"),
        Lookup::new("locationid", "locations", "name", "locationname"),
        Lookup::new("vendorid", "vendors", "name", "vendorname"),
        Lookup::new("modelid", "models", "name", "modelname"),
    ];
    r.defaults = vec![NamedDefault {
        column: "statusid".into(),
        table: "statuses".into(),
        name: "In Service".into(),
    }];
    r.versioned = true;
    r.check = Some(|record| {
        let mut errors = Map::new();
        both_or_neither(record, &mut errors);
        errors
    });
    r.search = Some(crate::search::asset_spec());
    r
}

/// Records of a plugin that extend assets: the asset's fields and the columns of `table`
/// (keyed by `assetid`) in one body, one transaction, one audit entry. Records get the asset
/// type named `assettype`, whatever the body says.
pub fn extension(path: &str, entity: &str, table: Table, assettype: &str) -> Resource {
    let mut r = assets();
    r.path = path.into();
    r.entity = entity.into();
    r.searchable.extend(
        table
            .columns
            .iter()
            .filter(|c| matches!(c.ty, crate::schema::ColumnType::String(_)) && c.name != "assetid")
            .map(|c| c.name.clone()),
    );
    r.defaults.push(NamedDefault {
        column: "assettypeid".into(),
        table: "assettypes".into(),
        name: assettype.into(),
    });
    // The plugin sets the type: a body naming another is ignored, like other read-only
    // fields echoed back from a read.
    r.readonly.push("assettypeid".into());
    r.search = None;
    r.kind = ResourceKind::AssetExtension;
    r.extension = Some(table);
    r
}

/// Creates the asset type `name` (owned by `plugin`) unless it exists; for `on_install`.
pub async fn ensure_assettype(
    db: &crate::db::Db,
    name: &str,
    plugin: &str,
) -> Result<(), crate::error::DomainError> {
    use sqlx::Row;
    let exists: i64 = db
        .query("SELECT COUNT(*) FROM assettypes WHERE name = ?")
        .bind(name.to_string())
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;
    if exists == 0 {
        let body = json!({"name": name, "plugin": plugin});
        assettypes()
            .create(
                db,
                &crate::auth::Actor::system(&format!("{plugin} plugin")),
                body.as_object().expect("object"),
            )
            .await?;
    }
    Ok(())
}

pub fn assettypes() -> Resource {
    let mut r = Resource::new("assettypes", "assettype", t::assettypes(), "name");
    r.write_role = Role::Admin;
    r.hooks = Hooks::default()
        .before(Arc::new(|event| {
            Box::pin(async move {
                if event.changes("name") || event.changes("plugin") {
                    refuse_if_plugin_owns(event.db, event.conn, event.before, "renamed").await?;
                }
                Ok(())
            })
        }))
        .before_delete(Arc::new(|event| {
            Box::pin(async move {
                refuse_if_plugin_owns(event.db, event.conn, event.before, "deleted").await
            })
        }));
    r
}

/// A plugin gives new records its asset type by name, so while it is installed (enabled or
/// not) that type may be neither renamed nor deleted.
async fn refuse_if_plugin_owns(
    db: &Db,
    conn: &mut AnyConnection,
    stored: Option<&Map<String, Value>>,
    what: &str,
) -> Result<(), DomainError> {
    let Some(stored) = stored else {
        return Ok(());
    };
    let Some(plugin) = stored.get("plugin").and_then(Value::as_str) else {
        return Ok(());
    };
    let installed = db
        .query("SELECT COUNT(*) FROM plugins WHERE pluginname = ?")
        .bind(plugin.to_string())
        .fetch_one(&mut *conn)
        .await?
        .try_get::<i64, _>(0)?;
    if installed == 0 {
        return Ok(());
    }
    let name = stored
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Err(DomainError::conflict(format!(
        "asset type '{name}' belongs to the {plugin} plugin, which gives it to its new records: it cannot be {what} while the plugin is installed"
    ))
    .with_details(json!({"plugin": plugin})))
}

pub fn statuses() -> Resource {
    let mut r = Resource::new("statuses", "status", t::statuses(), "name");
    r.write_role = Role::Admin;
    r
}

pub fn relationshiptypes() -> Resource {
    let mut r = Resource::new(
        "relationshiptypes",
        "relationshiptype",
        t::relationshiptypes(),
        "name",
    );
    r.write_role = Role::Admin;
    r
}

pub fn locations() -> Resource {
    let mut r = Resource::new("locations", "location", t::locations(), "name");
    r.searchable = vec!["name".into(), "description".into()];
    r.lookups = vec![Lookup::via(
        "parentid",
        "locations",
        "locationid",
        "name",
        "parentname",
    )];
    r.check = Some(|record| {
        let mut errors = Map::new();
        if record
            .get("parentid")
            .is_some_and(|p| !p.is_null() && Some(p) == record.get("locationid"))
        {
            errors.insert(
                "parentid".into(),
                json!("a location cannot be its own parent"),
            );
        }
        both_or_neither(record, &mut errors);
        errors
    });
    r.hooks = Hooks::default().before(Arc::new(|event| {
        Box::pin(async move {
            let (Some(id), Some(parent)) = (
                event.id,
                event.record.get("parentid").and_then(Value::as_i64),
            ) else {
                return Ok(());
            };
            if !event.changes("parentid") {
                return Ok(());
            }
            // Walk up from the new parent: meeting this location again would close a loop.
            let mut at = Some(parent);
            for _ in 0..1000 {
                let Some(here) = at else {
                    return Ok(());
                };
                if here == id {
                    return Err(DomainError::field(
                        "parentid",
                        "that location is inside this one: a location cannot sit inside itself",
                    ));
                }
                at = event
                    .db
                    .query("SELECT parentid FROM locations WHERE locationid = ?")
                    .bind(here)
                    .fetch_optional(&mut *event.conn)
                    .await?
                    .map(|r| r.try_get::<Option<i64>, _>(0))
                    .transpose()?
                    .flatten();
            }
            Ok(())
        })
    }));
    r
}

pub fn vendors() -> Resource {
    let mut r = Resource::new("vendors", "vendor", t::vendors(), "name");
    r.searchable = vec!["name".into(), "website".into()];
    r
}

pub fn models() -> Resource {
    let mut r = Resource::new("models", "model", t::models(), "name");
    r.lookups = vec![
        Lookup::new("vendorid", "vendors", "name", "vendorname"),
        Lookup::new("assettypeid", "assettypes", "name", "assettypename"),
    ];
    r
}

pub fn relationships() -> Resource {
    let mut r = Resource::new(
        "relationships",
        "relationship",
        t::assetrelationships(),
        "relationshipid",
    );
    r.searchable = vec!["notes".into()];
    r.lookups = vec![
        Lookup::via(
            "sourceassetid",
            "assets",
            "assetid",
            "assetnumber",
            "sourceassetnumber",
        ),
        Lookup::via(
            "targetassetid",
            "assets",
            "assetid",
            "assetnumber",
            "targetassetnumber",
        ),
        Lookup::new(
            "relationshiptypeid",
            "relationshiptypes",
            "name",
            "relationshiptypename",
        ),
    ];
    r.check = Some(|record| {
        let mut errors = Map::new();
        if record.get("sourceassetid").is_some()
            && record.get("sourceassetid") == record.get("targetassetid")
        {
            errors.insert(
                "targetassetid".into(),
                json!("an asset cannot be related to itself"),
            );
        }
        errors
    });
    r
}

/// A map position needs both coordinates.
fn both_or_neither(record: &Map<String, Value>, errors: &mut Map<String, Value>) {
    let x = record.get("mapx").is_some_and(|v| !v.is_null());
    let y = record.get("mapy").is_some_and(|v| !v.is_null());
    if x != y {
        let missing = if x { "mapy" } else { "mapx" };
        errors.insert(missing.into(), json!("mapx and mapy are set together"));
    }
}

/// Every core resource, in the order the API lists them.
pub fn core_resources() -> Vec<Resource> {
    vec![
        assets(),
        assettypes(),
        statuses(),
        locations(),
        vendors(),
        models(),
        relationshiptypes(),
        relationships(),
    ]
}
