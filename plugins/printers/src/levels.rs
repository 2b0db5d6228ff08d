//! The last supply levels known for each printer, kept in `printersupplies`.
//!
//! Written whenever Zabbix answers for a printer, and by scripts that read printers themselves
//! (SNMP, the printer's web page) through `PUT /api/printers/{id}/supplies`. Read when Zabbix
//! cannot answer — not set up, down, refusing the token — so a printer's page and the dashboard
//! still show each level with when it was read and where it came from.

use shopdb_core::db::{Db, SqlValue, ValueKind, decode_column};
use shopdb_core::schema::{Column, OnDelete, Table};
use shopdb_core::serde_json::{Map, Value};
use shopdb_core::sqlx::{self, Row};

use serde::Serialize;

/// Where a stored level came from.
pub const FROM_ZABBIX: &str = "zabbix";
pub const REPORTED: &str = "reported";

/// At most this many supplies per printer in one report (a colour printer has about ten).
pub const MAX_SUPPLIES: usize = 50;

pub fn printersupplies_table() -> Table {
    Table::new("printersupplies")
        .column(Column::integer("assetid").references("printers", "assetid", OnDelete::Cascade))
        .column(Column::string("supplykey", 150))
        .column(Column::string("name", 100))
        .column(Column::float("level"))
        .column(Column::timestamp("updated").nullable())
        .column(Column::timestamp("readat"))
        .column(Column::string("source", 20))
        .primary_key(&["assetid", "supplykey"])
}

/// One toner, ink, drum … level.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Supply {
    pub name: String,
    pub key: String,
    /// Percent left.
    pub level: f64,
    /// At or below `lowsupplypercent`.
    pub low: bool,
    /// When Zabbix (or the script that reported it) last got the value.
    pub updated: Option<String>,
    /// For a level ShopDB stored earlier (see [`crate::levels`]): when it was stored …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readat: Option<String>,
    /// … and from where: `zabbix` or `reported`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A supply level as a script reports it: `{"name", "level", "key"?}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Reported {
    pub key: String,
    pub name: String,
    pub level: f64,
}

/// Reads `{"supplies": [{"name": "Black toner", "level": 42, "key": "black"}, …]}`; the key
/// defaults to the name. Every problem is named per field, as the API's 422 `details`.
pub fn parse_report(body: &Map<String, Value>) -> Result<Vec<Reported>, Map<String, Value>> {
    let mut errors = Map::new();
    let Some(list) = body.get("supplies").and_then(Value::as_array) else {
        errors.insert(
            "supplies".into(),
            "is required: a list of {\"name\", \"level\"} (level in percent, 0 to 100)".into(),
        );
        return Err(errors);
    };
    if list.len() > MAX_SUPPLIES {
        errors.insert(
            "supplies".into(),
            format!("at most {MAX_SUPPLIES} supplies per printer").into(),
        );
        return Err(errors);
    }
    let mut out: Vec<Reported> = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let field = |k: &str| format!("supplies[{i}].{k}");
        let name = item.get("name").and_then(Value::as_str).map(str::trim);
        let level = item.get("level").and_then(Value::as_f64);
        let name = name.filter(|n| !n.is_empty() && n.chars().count() <= 100);
        if name.is_none() {
            errors.insert(
                field("name"),
                "is required: text of 1 to 100 characters".into(),
            );
        }
        let level = level.filter(|l| (0.0..=100.0).contains(l));
        if level.is_none() {
            errors.insert(field("level"), "is required: a number from 0 to 100".into());
        }
        let key = match item.get("key") {
            None | Some(Value::Null) => name.map(str::to_lowercase),
            Some(k) => {
                let key = k
                    .as_str()
                    .map(str::trim)
                    .filter(|k| !k.is_empty() && k.chars().count() <= 150);
                if key.is_none() {
                    errors.insert(field("key"), "must be text of 1 to 150 characters".into());
                }
                key.map(str::to_string)
            }
        };
        if let Some(k) = &key
            && out.iter().any(|r| r.key == *k)
        {
            errors.insert(field("key"), format!("'{k}' is given twice").into());
        }
        if let (Some(name), Some(level), Some(key)) = (name, level, key) {
            out.push(Reported {
                key,
                name: name.to_string(),
                level,
            });
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Replaces what is stored for printer `assetid` with `levels`, in one transaction.
pub async fn save(
    db: &Db,
    assetid: i64,
    levels: &[(Reported, Option<String>)],
    source: &str,
) -> Result<(), sqlx::Error> {
    let now = shopdb_core::util::now();
    let mut tx = db.begin().await?;
    db.query("DELETE FROM printersupplies WHERE assetid = ?")
        .bind(assetid)
        .execute(&mut *tx)
        .await?;
    for (level, updated) in levels {
        let binds = vec![
            SqlValue::Int(assetid),
            SqlValue::Text(level.key.clone()),
            SqlValue::Text(level.name.clone()),
            SqlValue::Float(level.level),
            updated
                .clone()
                .map_or(SqlValue::Null(ValueKind::Text), SqlValue::Text),
            SqlValue::Text(now.clone()),
            SqlValue::Text(source.to_string()),
        ];
        db.query_with(
            "INSERT INTO printersupplies (assetid, supplykey, name, level, updated, readat, source) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            &binds,
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// What Zabbix just said about a printer, kept for when it cannot answer.
pub async fn save_from_zabbix(
    db: &Db,
    assetid: i64,
    supplies: &[Supply],
) -> Result<(), sqlx::Error> {
    let levels: Vec<(Reported, Option<String>)> = supplies
        .iter()
        .map(|s| {
            let level = Reported {
                key: s.key.clone(),
                name: s.name.clone(),
                level: s.level,
            };
            (level, s.updated.clone())
        })
        .collect();
    save(db, assetid, &levels, FROM_ZABBIX).await
}

/// A stored level with its printer.
#[derive(Clone, Debug)]
pub struct Stored {
    pub assetid: i64,
    pub supply: Supply,
}

const COLUMNS: &str =
    "SELECT assetid, supplykey, name, level, updated, readat, source FROM printersupplies";

fn stored(row: &shopdb_core::sqlx::any::AnyRow, threshold: i64) -> Result<Stored, sqlx::Error> {
    let level = decode_column(row, 3, ValueKind::Float)?
        .as_f64()
        .unwrap_or(0.0);
    let text = |i: usize| -> Result<Option<String>, sqlx::Error> {
        Ok(decode_column(row, i, ValueKind::Text)?
            .as_str()
            .map(str::to_string))
    };
    Ok(Stored {
        assetid: row.try_get(0)?,
        supply: Supply {
            key: row.try_get(1)?,
            name: row.try_get(2)?,
            level,
            low: level <= threshold as f64,
            updated: text(4)?,
            readat: text(5)?,
            source: Some(row.try_get(6)?),
        },
    })
}

/// The levels stored for one printer, by name.
pub async fn load(db: &Db, assetid: i64, threshold: i64) -> Result<Vec<Supply>, sqlx::Error> {
    let rows = db
        .query(&format!(
            "{COLUMNS} WHERE assetid = ? ORDER BY name, supplykey"
        ))
        .bind(assetid)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| stored(r, threshold).map(|s| s.supply))
        .collect()
}

/// Every stored level at or below `threshold`, lowest first.
pub async fn low(db: &Db, threshold: i64) -> Result<Vec<Stored>, sqlx::Error> {
    let rows = db
        .query(&format!(
            "{COLUMNS} WHERE level <= ? ORDER BY level, assetid, supplykey"
        ))
        .bind(threshold as f64)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(|r| stored(r, threshold)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shopdb_core::serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn a_report_names_every_bad_field() {
        let errors = parse_report(&map(json!({"supplies": [
            {"name": "Black toner", "level": 42},
            {"name": "", "level": 120},
            {"name": "Cyan", "level": 5, "key": "black toner"},
        ]})))
        .unwrap_err();
        let mut keys: Vec<&str> = errors.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(
            keys,
            ["supplies[1].level", "supplies[1].name", "supplies[2].key"]
        );
        assert!(
            parse_report(&map(json!({})))
                .unwrap_err()
                .contains_key("supplies")
        );
    }

    #[test]
    fn the_key_defaults_to_the_name() {
        let ok = parse_report(&map(
            json!({"supplies": [{"name": " Black toner ", "level": 7.5}]}),
        ))
        .unwrap();
        assert_eq!(
            ok,
            vec![Reported {
                key: "black toner".into(),
                name: "Black toner".into(),
                level: 7.5
            }]
        );
    }
}
