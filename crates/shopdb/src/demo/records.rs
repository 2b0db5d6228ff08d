//! The demo records themselves: which kind of thing asset number `n` is, and its fields.
//!
//! Assets come in cycles of twenty numbers, each cycle one machine cell of one bay: four CNC
//! machines with the four PCs that drive them, four engineering PCs, a switch or access point,
//! a printer beside the first PC, a USB drive and five tools or facility items. A plugin that
//! is not installed leaves its kind as a plain asset of the same type.

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::Context;
use serde_json::{Map, Value, json};
use shopdb_core::auth::Actor;
use shopdb_core::resource::Resource;
use shopdb_core::state::AppState;
use shopdb_core::time::{Duration, OffsetDateTime};
use shopdb_core::util::format_timestamp;
use sqlx::Row;

use super::values::{
    Kind, MACHINES, PLAIN, VENDORS, address, login, mac, number, place, serial, software,
};
use super::{body, ensure, plan};

/// What the records refer to: resources, types, vendors, statuses, bays and the plugins on.
pub struct Site {
    assets: Arc<Resource>,
    plugin: Vec<(&'static str, Arc<Resource>)>,
    types: Vec<(String, i64)>,
    vendors: Vec<(String, i64)>,
    statuses: Vec<(String, i64)>,
    /// (locationid, name, cell prefix) of each bay.
    bays: Vec<(i64, &'static str, &'static str)>,
    now: OffsetDateTime,
}

fn lookup(list: &[(String, i64)], name: &str) -> Option<i64> {
    list.iter().find(|(n, _)| n == name).map(|(_, id)| *id)
}

impl Site {
    pub async fn load(
        state: &AppState,
        actor: &Actor,
        bays: Vec<(i64, &'static str, &'static str)>,
        enabled: &HashSet<String>,
    ) -> anyhow::Result<Site> {
        let db = &state.db;
        let mut types = Vec::new();
        let assettypes = state.resource("assettypes");
        for t in [
            computers::ASSET_TYPE,
            equipment::ASSET_TYPE,
            network::ASSET_TYPE,
            printers::ASSET_TYPE,
            usb::ASSET_TYPE,
            "Tool",
            "Measuring Instrument",
            "Facility",
        ] {
            types.push((
                t.to_string(),
                ensure(db, &assettypes, actor, json!({"name": t})).await?,
            ));
        }
        let mut vendors = Vec::new();
        let vendor_res = state.resource("vendors");
        for v in VENDORS {
            vendors.push((
                v.to_string(),
                ensure(db, &vendor_res, actor, json!({"name": v})).await?,
            ));
        }
        let statuses = db
            .query("SELECT name, statusid FROM statuses")
            .fetch_all(db.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let plugin = ["computers", "equipment", "network", "printers", "usb"]
            .into_iter()
            .filter(|p| enabled.contains(*p))
            .map(|p| (p, state.resource(p)))
            .collect();
        Ok(Site {
            assets: state.resource("assets"),
            plugin,
            types,
            vendors,
            statuses,
            bays,
            now: OffsetDateTime::now_utc(),
        })
    }

    fn resource(&self, plugin: &str) -> Option<Arc<Resource>> {
        self.plugin
            .iter()
            .find(|(p, _)| *p == plugin)
            .map(|(_, r)| r.clone())
    }

    fn ago(&self, minutes: i64) -> String {
        format_timestamp(self.now - Duration::minutes(minutes))
    }

    /// The subnet holding the address of `n`, when `n` has one.
    pub fn subnet_for(&self, n: usize, kind: Kind) -> Option<Value> {
        if !kind.has_address() {
            return None;
        }
        let (bay, _, _) = place(n, self.bays.len());
        let (_, net) = address(n, self.bays.len());
        let third: usize = net.rsplit('.').next()?.parse().ok()?;
        let (locationid, name, _) = self.bays[bay];
        Some(json!({
            "cidr": format!("{net}.0/24"),
            "gateway": format!("{net}.1"),
            "vlanid": 100 * (bay + 1) + third % 100,
            "description": format!("{name} shop floor, block {}", third + 1),
            "locationid": locationid,
        }))
    }

    /// The resource, body and kind name of asset `n`; `controller` is the id of the PC that
    /// drives it, for a machine.
    pub fn record(
        &self,
        n: usize,
        controller: Option<i64>,
    ) -> (Arc<Resource>, Map<String, Value>, &'static str) {
        let kind = Kind::of(n);
        let bays = self.bays.len();
        let (bay, cell, round) = place(n, bays);
        let (locationid, _, prefix) = self.bays[bay];
        let cell_name = format!("{prefix}{}", cell + 1);
        let (ip, _) = address(n, bays);
        let status = match n {
            n if n % 89 == 0 => "Retired",
            n if n % 53 == 0 => "In Repair",
            n if n % 31 == 0 => "Spare",
            _ => "In Service",
        };
        let mut asset = json!({
            "assetnumber": number(n),
            "locationid": locationid,
            "statusid": lookup(&self.statuses, status).or_else(|| lookup(&self.statuses, "In Service")),
        });
        let mut position = None;
        let (plugin, typename, vendor, what, extra) = match kind {
            Kind::ControlPc(_) | Kind::BenchPc(_) => {
                let (vendor, model) = [
                    ("Dell", "OptiPlex 7010"),
                    ("HP", "EliteDesk 800 G9"),
                    ("Lenovo", "ThinkCentre M90q"),
                ][n % 3];
                let hostname = format!("WJ-PC-{n:06}");
                let (role, computertype) = match kind {
                    Kind::ControlPc(i) => {
                        position = Some(plan::control_pc(cell, i));
                        (format!("DNC PC, cell {cell_name} M{}", i + 1), "Shopfloor")
                    }
                    Kind::BenchPc(j) => {
                        position = Some(plan::bench_pc(cell, j));
                        (format!("Engineering PC, cell {cell_name}"), "Engineering")
                    }
                    _ => unreachable!("PC kinds only"),
                };
                asset["name"] = json!(format!("{role} ({model})"));
                asset["serialnumber"] = json!(serial("PC", n));
                // Every so often a PC whose collector has not reported for weeks, or never.
                let lastcheckin = if n % 20 == 5 && (n / 20).is_multiple_of(3) {
                    json!(self.ago(60 * 24 * (35 + (n % 80) as i64)))
                } else if n % 20 == 6 && (n / 20) % 5 == 1 {
                    Value::Null
                } else {
                    json!(self.ago((n * 37 % 2880) as i64 + 5))
                };
                let (osname, osversion) = if n.is_multiple_of(4) {
                    ("Windows 10 Enterprise LTSC 2021", "10.0.19044")
                } else {
                    ("Windows 11 Enterprise", "10.0.22631")
                };
                let extra = json!({
                    "hostname": hostname, "ipaddress": ip, "macaddress": mac("00:15:5d", n),
                    "osname": osname, "osversion": osversion, "currentuser": login(n),
                    "computertype": computertype, "lastcheckin": lastcheckin,
                    "software": software(n, kind),
                });
                (
                    "computers",
                    computers::ASSET_TYPE,
                    vendor,
                    "computers",
                    extra,
                )
            }
            Kind::Machine(i) => {
                let (ty, vendor, model, control, controlmodel) = MACHINES[(n / 20 + i) % 6];
                asset["name"] = json!(format!("{vendor} {model} {ty}, cell {cell_name}"));
                asset["serialnumber"] = json!(serial("MC", n));
                // The last machine of a cell has no position of its own: the map places it
                // at the PC that drives it.
                if i != 3 {
                    position = Some(plan::machine(cell, i));
                }
                let mut extra = json!({
                    "machinenumber": format!("MC-{n:06}"), "equipmenttype": ty,
                    "controllertype": control, "controllermodel": controlmodel,
                    "installdate": format!("{}-{:02}-{:02}", 2008 + n % 16, 1 + n % 12, 1 + n % 28),
                    "controllingpcid": controller,
                });
                if kind.has_address() {
                    extra["dncprotocol"] = json!("FTP");
                    extra["ipaddress"] = json!(ip);
                    extra["dncport"] = json!("21");
                } else {
                    extra["dncprotocol"] = json!("RS-232");
                    extra["dncport"] = json!(format!("COM{}", 1 + i));
                    extra["baudrate"] = json!(if i == 1 { 9600 } else { 19200 });
                    extra["databits"] = json!(7);
                    extra["parity"] = json!("even");
                    extra["stopbits"] = json!(2);
                    extra["flowcontrol"] = json!("xonxoff");
                    extra["dncnotes"] = json!(
                        "Null-modem cable to the control PC; start the receive on the control first."
                    );
                }
                (
                    "equipment",
                    equipment::ASSET_TYPE,
                    vendor,
                    "machines",
                    extra,
                )
            }
            Kind::Network => {
                let switch = (n / 20) % 3 != 2;
                position = Some(plan::cabinet(cell));
                let (vendor, model, devicetype, tag, firmware) = if switch {
                    (
                        "Cisco",
                        "Catalyst 9200L-24P",
                        "switch",
                        "SW",
                        "IOS XE 17.9.5",
                    )
                } else {
                    ("Aruba", "AP-515", "access point", "AP", "ArubaOS 8.10.0.12")
                };
                asset["name"] = json!(format!("{model} {devicetype}, cell {cell_name}"));
                asset["serialnumber"] = json!(serial(tag, n));
                let extra = json!({
                    "hostname": format!("WJ-{tag}-{n:06}"), "ipaddress": ip,
                    "macaddress": mac("00:1b:54", n), "devicetype": devicetype, "firmware": firmware,
                    "managementurl": format!("https://{ip}/"),
                });
                (
                    "network",
                    network::ASSET_TYPE,
                    vendor,
                    "network devices",
                    extra,
                )
            }
            Kind::Printer => {
                // Beside the first PC of the cell.
                let (x, y) = plan::control_pc(cell, 0);
                position = Some((x + 34.0, y));
                let (model, color) = if n.is_multiple_of(3) {
                    ("ECOSYS M5526cdw", true)
                } else {
                    ("ECOSYS P3145dn", false)
                };
                let hostname = format!("WJ-PRN-{n:06}");
                asset["name"] = json!(format!("Kyocera {model}, cell {cell_name}"));
                asset["serialnumber"] = json!(serial("KY", n));
                let extra = json!({
                    "hostname": hostname, "ipaddress": ip, "macaddress": mac("00:c0:ee", n),
                    "printermodel": format!("Kyocera {model}"), "printserver": "WJ-PRINT01",
                    "queuename": format!("{hostname}-{cell_name}"),
                    "driver": "Kyocera Classic Universaldriver PCL6", "color": color,
                    "duplex": true, "zabbixhost": hostname,
                });
                (
                    "printers",
                    printers::ASSET_TYPE,
                    "Kyocera",
                    "printers",
                    extra,
                )
            }
            Kind::Usb => {
                let capacity = [16, 32, 64, 128][n / 20 % 4];
                asset["name"] = json!(format!("Kingston IronKey {capacity} GB"));
                asset["serialnumber"] = json!(serial("USB", n));
                let extra = json!({
                    "capacitygb": capacity, "devicetype": "flash drive", "encrypted": n % 40 != 34,
                });
                ("usb", usb::ASSET_TYPE, "Kingston", "USB drives", extra)
            }
            Kind::Plain(k) => {
                let (name, typename, vendor, tag) = PLAIN[k];
                asset["name"] = json!(format!("{name}, cell {cell_name}"));
                asset["serialnumber"] = json!(serial(tag, n));
                if k != 4 {
                    position = Some(plan::floor_spot(cell, k));
                }
                ("", typename, vendor, "other assets", json!({}))
            }
        };
        asset["vendorid"] = json!(lookup(&self.vendors, vendor));
        if let Some(spot) = position {
            let (x, y) = plan::nudge(spot, round);
            asset["mapx"] = json!(x);
            asset["mapy"] = json!(y);
        }
        match self.resource(plugin) {
            Some(res) => {
                let mut record = body(asset);
                record.extend(body(extra));
                (res, record, what)
            }
            None => {
                asset["assettypeid"] = json!(lookup(&self.types, typename));
                let what = if plugin.is_empty() {
                    what
                } else {
                    "other assets"
                };
                (self.assets.clone(), body(asset), what)
            }
        }
    }

    /// Announcements (once each, by title): an air shut-off in the second bay now, and network
    /// maintenance for the whole site next week. Returns how many were added.
    pub async fn announce(&self, state: &AppState, actor: &Actor) -> anyhow::Result<usize> {
        let db = &state.db;
        let res = state.resource("notifications");
        let (bayid, bayname, _) = self.bays[1 % self.bays.len()];
        let soon = format_timestamp(self.now + Duration::days(6));
        let later = format_timestamp(self.now + Duration::days(6) + Duration::hours(4));
        let items = [
            json!({
                "title": format!("Compressed air shut-off in {bayname}"),
                "message": format!("The compressor ring main of {bayname} is serviced today: machines there run without shop air until 14:00. Park spindles and clamp fixtures before the shut-off."),
                "severity": "warning", "locationid": bayid,
                "startsat": self.ago(90), "endsat": format_timestamp(self.now + Duration::hours(8)),
            }),
            json!({
                "title": "Network maintenance next week",
                "message": "Switches in every bay are updated between 06:00 and 10:00. DNC transfers and printing stop for about 15 minutes per bay.",
                "severity": "info", "startsat": soon, "endsat": later,
            }),
        ];
        let mut added = 0;
        for item in items {
            let title = item["title"].as_str().unwrap_or_default().to_string();
            let exists: i64 = db
                .query("SELECT COUNT(*) FROM notifications WHERE title = ?")
                .bind(title.clone())
                .fetch_one(db.pool())
                .await?
                .try_get(0)?;
            if exists == 0 {
                res.create(db, actor, &body(item))
                    .await
                    .with_context(|| format!("cannot add the demo announcement '{title}'"))?;
                added += 1;
            }
        }
        Ok(added)
    }
}
