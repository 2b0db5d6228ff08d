//! The printers plugin's SQL, one small function per question; every statement runs unchanged
//! on SQLite, MySQL/MariaDB and PostgreSQL (`?` placeholders are rewritten for PostgreSQL).

use shopdb_core::db::{Db, SqlValue, ValueKind, decode_column};
use shopdb_core::sqlx::any::AnyRow;
use shopdb_core::sqlx::{self, AnyConnection, Row};

/// A printer as Zabbix knows it.
#[derive(Clone, Debug, PartialEq)]
pub struct PrinterHost {
    pub assetid: i64,
    pub assetnumber: String,
    pub name: Option<String>,
    pub hostname: String,
    /// The host name in Zabbix: `zabbixhost` when set, else `hostname`.
    pub zabbixhost: String,
}

/// What print-mapping scripts and the nearest-printer search show of a printer.
#[derive(Clone, Debug)]
pub struct MappingRow {
    pub assetid: i64,
    pub assetnumber: String,
    pub name: Option<String>,
    pub hostname: String,
    pub ipaddress: Option<String>,
    pub printserver: Option<String>,
    pub queuename: Option<String>,
    pub driver: Option<String>,
    pub printermodel: Option<String>,
    pub color: bool,
    pub duplex: bool,
    pub locationid: Option<i64>,
    pub location: Option<String>,
    pub status: Option<String>,
    /// The asset's own map position, when it has one.
    pub own_position: Option<(f64, f64)>,
}

/// A location with what the floor-map rules need.
#[derive(Clone, Debug)]
pub struct LocationNode {
    pub locationid: i64,
    pub name: String,
    pub parentid: Option<i64>,
    pub has_floorplan: bool,
}

fn text(row: &AnyRow, i: usize) -> Result<Option<String>, sqlx::Error> {
    row.try_get::<Option<String>, _>(i)
}

fn float(row: &AnyRow, i: usize) -> Result<Option<f64>, sqlx::Error> {
    Ok(decode_column(row, i, ValueKind::Float)?.as_f64())
}

fn flag(row: &AnyRow, i: usize) -> Result<bool, sqlx::Error> {
    Ok(decode_column(row, i, ValueKind::Bool)?.as_bool() == Some(true))
}

fn printer_host(row: &AnyRow) -> Result<PrinterHost, sqlx::Error> {
    let hostname: String = row.try_get(3)?;
    let zabbixhost = text(row, 4)?
        .map(|z| z.trim().to_string())
        .filter(|z| !z.is_empty())
        .unwrap_or_else(|| hostname.clone());
    Ok(PrinterHost {
        assetid: row.try_get(0)?,
        assetnumber: row.try_get(1)?,
        name: text(row, 2)?,
        hostname,
        zabbixhost,
    })
}

const HOST_COLUMNS: &str = "SELECT p.assetid, a.assetnumber, a.name, p.hostname, p.zabbixhost \
     FROM printers p JOIN assets a ON a.assetid = p.assetid";

/// The printer with asset id `assetid`, if there is one.
pub async fn find_printer_host(db: &Db, assetid: i64) -> Result<Option<PrinterHost>, sqlx::Error> {
    db.query(&format!("{HOST_COLUMNS} WHERE p.assetid = ?"))
        .bind(assetid)
        .fetch_optional(db.pool())
        .await?
        .map(|r| printer_host(&r))
        .transpose()
}

/// Every printer, for asking Zabbix about all of them at once.
pub async fn list_printer_hosts(db: &Db) -> Result<Vec<PrinterHost>, sqlx::Error> {
    let rows = db
        .query(&format!("{HOST_COLUMNS} ORDER BY p.assetid"))
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(printer_host).collect()
}

/// How many printers have each asset status, by status name.
pub async fn count_printers_by_status(db: &Db) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = db
        .query(
            "SELECT s.name, COUNT(*) FROM printers p JOIN assets a ON a.assetid = p.assetid \
             JOIN statuses s ON s.statusid = a.statusid GROUP BY s.name ORDER BY s.name",
        )
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// Printers with their print-mapping fields; only those in `locationids` when given.
pub async fn list_mapping_rows(
    db: &Db,
    locationids: Option<&[i64]>,
) -> Result<Vec<MappingRow>, sqlx::Error> {
    let mut sql = String::from(
        "SELECT p.assetid, a.assetnumber, a.name, p.hostname, p.ipaddress, p.printserver, \
         p.queuename, p.driver, p.printermodel, p.color, p.duplex, a.locationid, l.name, s.name, \
         a.mapx, a.mapy \
         FROM printers p JOIN assets a ON a.assetid = p.assetid \
         LEFT JOIN locations l ON l.locationid = a.locationid \
         LEFT JOIN statuses s ON s.statusid = a.statusid",
    );
    let mut binds = Vec::new();
    if let Some(ids) = locationids {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        sql.push_str(&format!(
            " WHERE a.locationid IN ({})",
            vec!["?"; ids.len()].join(", ")
        ));
        binds.extend(ids.iter().map(|i| SqlValue::Int(*i)));
    }
    let rows = db.query_with(&sql, &binds).fetch_all(db.pool()).await?;
    rows.iter()
        .map(|r| {
            Ok(MappingRow {
                assetid: r.try_get(0)?,
                assetnumber: r.try_get(1)?,
                name: text(r, 2)?,
                hostname: r.try_get(3)?,
                ipaddress: text(r, 4)?,
                printserver: text(r, 5)?,
                queuename: text(r, 6)?,
                driver: text(r, 7)?,
                printermodel: text(r, 8)?,
                color: flag(r, 9)?,
                duplex: flag(r, 10)?,
                locationid: r.try_get(11)?,
                location: text(r, 12)?,
                status: text(r, 13)?,
                own_position: float(r, 14)?.zip(float(r, 15)?),
            })
        })
        .collect()
}

/// Every location with its parent and whether it has a floor-plan image.
pub async fn list_locations(db: &Db) -> Result<Vec<LocationNode>, sqlx::Error> {
    let rows = db
        .query(
            "SELECT l.locationid, l.name, l.parentid, f.locationid FROM locations l \
             LEFT JOIN floorplans f ON f.locationid = l.locationid ORDER BY l.locationid",
        )
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            Ok(LocationNode {
                locationid: r.try_get(0)?,
                name: r.try_get(1)?,
                parentid: r.try_get(2)?,
                has_floorplan: r.try_get::<Option<i64>, _>(3)?.is_some(),
            })
        })
        .collect()
}

/// PCs of the computers plugin whose hostname is `hostname`, ignoring case (Windows does).
pub async fn find_computers_by_hostname(
    db: &Db,
    hostname: &str,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let sql = format!(
        "SELECT assetid, hostname FROM computers WHERE {}",
        shopdb_core::schema::lower_equals(db.dialect(), None, "hostname")
    );
    let rows = db
        .query(&sql)
        .bind(hostname.to_string())
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// The location of asset `assetid`.
pub async fn asset_locationid(
    db: &Db,
    conn: &mut AnyConnection,
    assetid: i64,
) -> Result<Option<i64>, sqlx::Error> {
    Ok(db
        .query("SELECT locationid FROM assets WHERE assetid = ?")
        .bind(assetid)
        .fetch_optional(conn)
        .await?
        .map(|r| r.try_get::<Option<i64>, _>(0))
        .transpose()?
        .flatten())
}
