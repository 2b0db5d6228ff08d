//! Network gear (switches, routers, access points, firewalls, IP cameras) and the subnets of
//! the plant.
//!
//! The plugin also answers, for any IP address, which subnet it is in and which asset holds
//! it, across every plugin whose records carry an `ipaddress`. It offers that as the service
//! `network.ipaddresses` ([`shopdb_core::addresses`]), which the shared address hook of other
//! plugins asks, so a record claiming an address another asset holds is refused (409).

pub mod cidr;

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use shopdb_core::addresses::{
    ADDRESS_SERVICE, AddressBook, AddressService, Holder, ip_address_hook, ip_addresses_together,
    parse_ip,
};
use shopdb_core::anyhow;
use shopdb_core::api::{Access, Route};
use shopdb_core::auth::Role;
use shopdb_core::axum::extract::{Path, State};
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
    CollectorField, CollectorSchema, Manifest, NavItem, Plugin, PluginContext, Widget, WidgetSize,
};
use shopdb_core::resource::{HookEnv, Resource};
use shopdb_core::schema::{Column, OnDelete, Table};
use shopdb_core::search::SearchSpec;
use shopdb_core::serde_json::{Map, Value, json};
use shopdb_core::sqlx::{AnyConnection, Row};
use shopdb_core::state::AppState;

use crate::cidr::Cidr;

/// The asset type new network devices get.
pub const ASSET_TYPE: &str = "Network Device";

pub struct NetworkPlugin {
    manifest: Manifest,
}

/// The plugin, as the loader takes it.
pub fn plugin() -> Candidate {
    let manifest = Manifest::parse("network", include_str!("../manifest.json"))?;
    Ok(Arc::new(NetworkPlugin { manifest }))
}

pub fn devices_table() -> Table {
    devices_baseline()
}

/// The table as migration 1 created it: never edit it. New fields go into `devices_table`,
/// and the planner adds them on upgrade (docs/PLUGIN-MIGRATIONS.md).
fn devices_baseline() -> Table {
    Table::new("networkdevices")
        .column(Column::integer("assetid").references("assets", "assetid", OnDelete::Cascade))
        .column(
            Column::string("hostname", 100)
                .nullable()
                .label("Host name"),
        )
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
            Column::string("devicetype", 50)
                .nullable()
                .label("Device type"),
        )
        .column(Column::string("firmware", 100).nullable())
        .column(
            Column::string("managementurl", 255)
                .nullable()
                .label("Management URL"),
        )
        .primary_key(&["assetid"])
        .index(&["hostname"])
        .index(&["ipaddress"])
        .index(&["macaddress"])
}

pub fn subnets_table() -> Table {
    subnets_baseline()
}

/// The table as migration 1 created it: never edit it (see `devices_baseline`).
fn subnets_baseline() -> Table {
    Table::new("subnets")
        .column(Column::id("subnetid"))
        .column(Column::string("cidr", 49).unique().label("Network (CIDR)"))
        .column(Column::integer("vlanid").nullable().label("VLAN"))
        .column(Column::string("gateway", 45).nullable())
        .column(Column::string("description", 255).nullable())
        .column(Column::integer("locationid").nullable().references(
            "locations",
            "locationid",
            OnDelete::SetNull,
        ))
        .column(Column::timestamp("createddate"))
        .column(Column::timestamp("modifieddate"))
}

fn subnets_resource() -> Resource {
    let mut r = Resource::new("network/subnets", "subnet", subnets_table(), "cidr");
    r.searchable = vec!["cidr".into(), "description".into(), "gateway".into()];
    r.default_sort = "cidr".into();
    r.write_role = Role::Editor;
    r.lookups = vec![shopdb_core::resource::Lookup::new(
        "locationid",
        "locations",
        "name",
        "locationname",
    )];
    r.check = Some(|record| {
        let mut errors = Map::new();
        let net = record
            .get("cidr")
            .and_then(Value::as_str)
            .map(str::parse::<Cidr>);
        if let Some(Err(e)) = &net {
            errors.insert("cidr".into(), json!(e));
        }
        if let Some(vlan) = record.get("vlanid").and_then(Value::as_i64)
            && !(1..=4094).contains(&vlan)
        {
            errors.insert("vlanid".into(), json!("must be 1 to 4094"));
        }
        if let Some(gw) = record.get("gateway").and_then(Value::as_str) {
            match gw.parse::<IpAddr>() {
                Err(_) => {
                    errors.insert("gateway".into(), json!("is not an IP address"));
                }
                Ok(ip) => {
                    if let Some(Ok(net)) = &net
                        && !net.contains(ip)
                    {
                        errors.insert("gateway".into(), json!(format!("is not inside {net}")));
                    }
                }
            }
        }
        errors
    });
    r.constrain(
        "vlanid",
        json!({"type": "integer", "format": "int64", "minimum": 1, "maximum": 4094}),
    );
    r.constrain("gateway", shopdb_core::addresses::ip_schema());
    r.constrain(
        "cidr",
        json!({"type": "string", "minLength": 1, "maxLength": 49,
               "description": "a network address and prefix length with no host bits set, such as 10.20.0.0/16 or fd00::/64",
               "pattern": "^[^/\\u0000]+/[0-9]+$"}),
    );
    r
}

/// The tables in use whose records give an asset an address.
async fn address_tables<'e>(db: &Db, env: &'e HookEnv) -> Vec<&'e str> {
    env.tables_in_use(db)
        .await
        .into_iter()
        .filter(|t| {
            t.name != "assets" && t.get("ipaddress").is_some() && t.get("assetid").is_some()
        })
        .map(|t| t.name.as_str())
        .collect()
}

/// The address service: which subnet an address is in and which assets hold it.
pub struct IpAddresses;

impl IpAddresses {
    /// Assets recording an address that `matches`, across every table in use with an
    /// `ipaddress` column. `like` narrows the scan in the database.
    async fn scan(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        env: &HookEnv,
        filter: (&str, SqlValue),
        exclude: Option<i64>,
    ) -> Result<Vec<Holder>, DomainError> {
        let mut holders = Vec::new();
        // Every table with addresses asked in one query (one round trip per write that sets
        // an address, whatever the number of plugins).
        let tables = address_tables(db, env).await;
        if tables.is_empty() {
            return Ok(holders);
        }
        let parts: Vec<String> = tables
            .iter()
            .map(|table| {
                format!(
                    "SELECT x.assetid, x.ipaddress, a.assetnumber, a.name, '{table}' FROM {table} x \
                     JOIN assets a ON a.assetid = x.assetid WHERE x.ipaddress {} ? AND x.assetid <> ?",
                    filter.0
                )
            })
            .collect();
        let binds: Vec<SqlValue> = tables
            .iter()
            .flat_map(|_| [filter.1.clone(), SqlValue::Int(exclude.unwrap_or(0))])
            .collect();
        let rows = db
            .query_with(&parts.join(" UNION ALL "), &binds)
            .fetch_all(&mut *conn)
            .await?;
        for r in rows {
            holders.push(Holder {
                assetid: r.try_get(0)?,
                ipaddress: r.try_get(1)?,
                assetnumber: r.try_get(2)?,
                name: r.try_get(3)?,
                recordedin: r.try_get(4)?,
            });
        }
        holders.sort_by_key(|h| (h.ipaddress.parse::<IpAddr>().ok(), h.assetid));
        Ok(holders)
    }

    /// Assets holding `ip`, other than `exclude`.
    pub async fn holders(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        env: &HookEnv,
        ip: IpAddr,
        exclude: Option<i64>,
    ) -> Result<Vec<Holder>, DomainError> {
        self.scan(
            db,
            conn,
            env,
            ("=", SqlValue::text(ip.to_string())),
            exclude,
        )
        .await
    }

    /// Which of `ips` some asset holds: every table with addresses asked in one query per
    /// 100 addresses (a collector batch's new PCs).
    pub async fn held(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        env: &HookEnv,
        ips: &[IpAddr],
    ) -> Result<HashSet<IpAddr>, DomainError> {
        let mut held = HashSet::new();
        let tables = address_tables(db, env).await;
        if tables.is_empty() {
            return Ok(held);
        }
        for chunk in ips.chunks(100) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let parts: Vec<String> = tables
                .iter()
                .map(|table| format!("SELECT ipaddress FROM {table} WHERE ipaddress IN ({marks})"))
                .collect();
            let binds: Vec<SqlValue> = tables
                .iter()
                .flat_map(|_| chunk.iter().map(|ip| SqlValue::text(ip.to_string())))
                .collect();
            let rows = db
                .query_with(&parts.join(" UNION ALL "), &binds)
                .fetch_all(&mut *conn)
                .await?;
            for r in rows {
                if let Ok(ip) = r.try_get::<String, _>(0)?.parse() {
                    held.insert(ip);
                }
            }
        }
        Ok(held)
    }

    /// Assets whose address falls in `net`.
    pub async fn in_subnet(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        env: &HookEnv,
        net: &Cidr,
    ) -> Result<Vec<Holder>, DomainError> {
        let pattern = format!("{}%", net.like_prefix().unwrap_or_default());
        let all = self
            .scan(db, conn, env, ("LIKE", SqlValue::text(pattern)), None)
            .await?;
        Ok(all
            .into_iter()
            .filter(|h| h.ipaddress.parse().is_ok_and(|ip| net.contains(ip)))
            .collect())
    }

    /// The most specific subnet containing `ip`, as stored.
    pub async fn subnet_of(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        ip: IpAddr,
    ) -> Result<Option<Value>, DomainError> {
        let rows = db
            .query("SELECT subnetid, cidr, vlanid, gateway, description FROM subnets")
            .fetch_all(&mut *conn)
            .await?;
        let mut best: Option<(u8, Value)> = None;
        for r in rows {
            let text: String = r.try_get(1)?;
            let Ok(net) = text.parse::<Cidr>() else {
                continue;
            };
            if net.contains(ip) && best.as_ref().is_none_or(|(p, _)| net.prefix > *p) {
                best = Some((
                    net.prefix,
                    json!({
                        "subnetid": r.try_get::<i64, _>(0)?, "cidr": text,
                        "vlanid": r.try_get::<Option<i64>, _>(2)?,
                        "gateway": r.try_get::<Option<String>, _>(3)?,
                        "description": r.try_get::<Option<String>, _>(4)?,
                    }),
                ));
            }
        }
        Ok(best.map(|(_, v)| v))
    }
}

async fn ip_route(
    State(state): State<AppState>,
    Path(address): Path<String>,
) -> ApiResult<Response> {
    let ip = parse_ip("address", &address)?;
    let mut conn = state.db.pool().acquire().await?;
    let service = IpAddresses;
    let subnet = service.subnet_of(&state.db, &mut conn, ip).await?;
    let holders = service
        .holders(&state.db, &mut conn, &state.hook_env, ip, None)
        .await?;
    Ok(ok(json!({
        "address": ip.to_string(),
        "subnet": subnet,
        "holders": holders.iter().map(Holder::to_json).collect::<Vec<_>>(),
        "free": holders.is_empty(),
    })))
}

async fn subnet_addresses(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = shopdb_core::api::parse_id(&id)?;
    let subnet = subnets_resource().get(&state.db, id).await?;
    let text = subnet["cidr"].as_str().unwrap_or_default();
    let net: Cidr = text
        .parse()
        .map_err(|e| DomainError::internal(format!("stored subnet {text} {e}")))?;
    let mut conn = state.db.pool().acquire().await?;
    let holders = IpAddresses
        .in_subnet(&state.db, &mut conn, &state.hook_env, &net)
        .await?;
    // Addresses in the network (IPv4 only; an IPv6 subnet is too large to count usefully).
    let size = net
        .network
        .is_ipv4()
        .then(|| 1u64 << (32 - u32::from(net.prefix)));
    Ok(ok(json!({
        "subnet": subnet,
        "used": holders.len(),
        "size": size,
        "addresses": holders.iter().map(Holder::to_json).collect::<Vec<_>>(),
    })))
}

impl AddressBook for IpAddresses {
    fn holders<'a>(
        &'a self,
        db: &'a Db,
        conn: &'a mut AnyConnection,
        env: &'a HookEnv,
        ip: IpAddr,
        exclude: Option<i64>,
    ) -> BoxFuture<'a, Result<Vec<Holder>, DomainError>> {
        Box::pin(IpAddresses::holders(self, db, conn, env, ip, exclude))
    }

    fn held<'a>(
        &'a self,
        db: &'a Db,
        conn: &'a mut AnyConnection,
        env: &'a HookEnv,
        ips: &'a [IpAddr],
    ) -> BoxFuture<'a, Result<HashSet<IpAddr>, DomainError>> {
        Box::pin(IpAddresses::held(self, db, conn, env, ips))
    }
}

impl Plugin for NetworkPlugin {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn models(&self) -> Vec<Table> {
        vec![devices_table(), subnets_table()]
    }

    fn migrations(&self) -> Vec<Migration> {
        vec![
            // The tables as first shipped, frozen: the checksum of a step that ran never changes.
            Migration::new(
                1,
                "baseline",
                vec![
                    Step::CreateTable(devices_baseline()),
                    Step::CreateTable(subnets_baseline()),
                ],
            ),
            // Stored MAC addresses in the form new writes get, as the collector compares them.
            Migration::new(
                2,
                "canonical MAC addresses",
                vec![shopdb_core::addresses::canonical_macs("networkdevices")],
            ),
        ]
    }

    fn routes(&self) -> Vec<Route> {
        vec![
            Route::new(
                Method::GET,
                "/api/network/ip/{address}",
                Access::Role(Role::Viewer),
                "network",
                "The subnet of an IP address and the assets holding it",
                get(ip_route),
            )
            .path_param(
                "address",
                json!({"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}),
            )
            .fails_with(422),
            Route::new(
                Method::GET,
                "/api/network/subnets/{id}/addresses",
                Access::Role(Role::Viewer),
                "network",
                "Assets whose IP address falls in a subnet, from every plugin",
                get(subnet_addresses),
            ),
        ]
    }

    fn resources(&self) -> Vec<Resource> {
        let mut devices =
            catalog::extension("network", "networkdevice", devices_table(), ASSET_TYPE);
        devices.hooks = devices
            .hooks
            .before(ip_address_hook())
            .prepare(ip_addresses_together())
            .checks_only(&["ipaddress"]);
        devices.normalize_field(
            "macaddress",
            shopdb_core::addresses::normalize_mac,
            shopdb_core::addresses::mac_schema(),
        );
        devices.constrain("ipaddress", shopdb_core::addresses::ip_schema());
        devices.search = Some(SearchSpec {
            entitytype: "networkdevice".into(),
            title: "hostname".into(),
            subtitle: Some("ipaddress".into()),
            fields: ["hostname", "assetnumber", "ipaddress", "macaddress", "name"]
                .map(String::from)
                .to_vec(),
            url: "/network/{id}".into(),
            plugin: Some(self.manifest.name.clone()),
        });
        vec![devices, subnets_resource()]
    }

    fn services(&self) -> Vec<(String, Arc<dyn std::any::Any + Send + Sync>)> {
        let book: Arc<dyn AddressBook> = Arc::new(IpAddresses);
        vec![ADDRESS_SERVICE.offer(AddressService(book))]
    }

    fn collector_schema(&self) -> Option<CollectorSchema> {
        let field = CollectorField::new;
        Some(CollectorSchema {
            identityfield: "macaddress".into(),
            matchfields: Vec::new(),
            fields: vec![
                field("macaddress", "string", true),
                field("ipaddress", "string", false),
                field("hostname", "string", false),
                field("devicetype", "string", false),
                field("firmware", "string", false),
                field("managementurl", "string", false),
                field("serialnumber", "string", false),
            ],
            heartbeat: None,
            resource: Some("network".into()),
        })
    }

    fn static_files(&self) -> Vec<(String, String)> {
        vec![(
            "subnet.js".into(),
            include_str!("../static/subnet.js").into(),
        )]
    }

    fn templates(&self) -> Vec<(String, String)> {
        vec![(
            "records/network/subnets/detail.html".into(),
            include_str!("../templates/subnet.html").into(),
        )]
    }

    fn navigation_items(&self) -> Vec<NavItem> {
        vec![NavItem {
            name: "Network".into(),
            icon: "network".into(),
            route: "/network".into(),
            position: 30,
        }]
    }

    fn dashboard_widgets(&self) -> Vec<Widget> {
        vec![Widget {
            name: "network_devices_by_type".into(),
            title: "Network devices by type".into(),
            size: WidgetSize::Small,
            position: 30,
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
                    "SELECT COALESCE(devicetype, 'unspecified') AS t, COUNT(*) FROM networkdevices \
                     GROUP BY COALESCE(devicetype, 'unspecified') ORDER BY 2 DESC, 1",
                )
                .fetch_all(ctx.db.pool())
                .await?;
            let mut bars = Vec::new();
            for r in rows {
                bars.push(
                    json!({"label": r.try_get::<String, _>(0)?, "count": r.try_get::<i64, _>(1)?}),
                );
            }
            let subnets: i64 = ctx
                .db
                .query("SELECT COUNT(*) FROM subnets")
                .fetch_one(ctx.db.pool())
                .await?
                .try_get(0)?;
            Ok(json!({"bars": bars, "subnets": subnets}))
        })
    }

    fn on_install<'a>(&'a self, ctx: &'a PluginContext) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            catalog::ensure_assettype(&ctx.db, ASSET_TYPE, "network")
                .await
                .map_err(|e| anyhow::anyhow!(e.message))
        })
    }
}
