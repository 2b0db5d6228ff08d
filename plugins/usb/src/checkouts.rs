//! Checking devices out and in, and reading who has what. Each write is one transaction with
//! its audit entry on the device's asset history.

use shopdb_core::audit::{self, Action};
use shopdb_core::auth::Actor;
use shopdb_core::db::{Db, SqlValue, is_foreign_key_violation};
use shopdb_core::error::DomainError;
use shopdb_core::resource::{finish, to_sql_value};
use shopdb_core::serde_json::{Map, Value, json};
use shopdb_core::sqlx::{self, AnyConnection, Row};
use shopdb_core::time::{Duration, OffsetDateTime, format_description::well_known::Rfc3339};
use shopdb_core::util::{format_timestamp, now};

use crate::{checkouts_resource, usbcheckouts_table};

/// Fields a checkout body may carry.
const CHECKOUT_FIELDS: [&str; 4] = ["checkedoutto", "badge", "purpose", "dueat"];

/// A validated checkout body.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckoutRequest {
    pub checkedoutto: String,
    pub badge: Option<String>,
    pub purpose: Option<String>,
    /// Normalised UTC timestamp, after `now`.
    pub dueat: String,
}

/// The JSON schema of a checkout body, from the same columns and field list `parse` reads.
pub fn checkout_schema() -> Value {
    let table = usbcheckouts_table();
    let required = ["checkedoutto", "dueat"];
    let props: Map<String, Value> = CHECKOUT_FIELDS
        .iter()
        .filter_map(|name| {
            let column = table.get(name)?;
            let needed = required.contains(name);
            let mut schema = shopdb_core::resource::column_schema(column, needed);
            if !needed {
                schema["nullable"] = json!(true);
            }
            Some((name.to_string(), schema))
        })
        .collect();
    json!({"type": "object", "required": required, "additionalProperties": false, "properties": props})
}

/// The JSON schema of a checkin body (`condition` is another name for `returncondition`).
pub fn checkin_schema() -> Value {
    let table = usbcheckouts_table();
    let mut schema = table
        .get("returncondition")
        .map(|c| shopdb_core::resource::column_schema(c, false))
        .unwrap_or_else(|| json!({"type": "string"}));
    schema["nullable"] = json!(true);
    json!({"type": "object", "additionalProperties": false, "properties": {
        "returncondition": schema.clone(), "condition": schema}})
}

impl CheckoutRequest {
    /// Checks a checkout body, naming every bad field: `checkedoutto` and `dueat` are required,
    /// `dueat` lies after `now` and, when `max_days` > 0, at most that many days after it.
    pub fn parse(
        body: &Map<String, Value>,
        at: OffsetDateTime,
        max_days: i64,
    ) -> Result<CheckoutRequest, DomainError> {
        let table = usbcheckouts_table();
        let mut errors = Map::new();
        let mut text = |name: &str| -> Option<String> {
            let raw = body.get(name)?;
            let column = table.get(name)?;
            match to_sql_value(column, raw) {
                Ok(SqlValue::Text(s)) => Some(s),
                Ok(_) => None,
                Err(message) => {
                    errors.insert(name.into(), json!(message));
                    None
                }
            }
        };
        let checkedoutto = text("checkedoutto");
        let badge = text("badge");
        let purpose = text("purpose");
        let dueat = text("dueat");
        for name in body.keys() {
            if !CHECKOUT_FIELDS.contains(&name.as_str()) {
                errors.insert(
                    name.clone(),
                    json!(format!(
                        "unknown field for a checkout: send {}",
                        CHECKOUT_FIELDS.join(", ")
                    )),
                );
            }
        }
        for (name, value) in [("checkedoutto", &checkedoutto), ("dueat", &dueat)] {
            if value.is_none() && !errors.contains_key(name) {
                errors.insert(name.into(), json!("is required"));
            }
        }
        if let Some(due) = &dueat {
            if *due <= format_timestamp(at) {
                errors.insert("dueat".into(), json!("must be in the future"));
            } else if max_days > 0 && *due > format_timestamp(at + Duration::days(max_days)) {
                errors.insert(
                    "dueat".into(),
                    json!(format!(
                        "must be at most {max_days} days ahead (the usb maxloandays setting)"
                    )),
                );
            }
        }
        match (checkedoutto, dueat) {
            (Some(checkedoutto), Some(dueat)) if errors.is_empty() => Ok(CheckoutRequest {
                checkedoutto,
                badge,
                purpose,
                dueat,
            }),
            _ => Err(DomainError::validation(errors)),
        }
    }
}

/// The return condition of a checkin body (`returncondition`, or `condition` as the old
/// system called it); any other field is a 422.
pub fn parse_checkin(body: &Map<String, Value>) -> Result<Option<String>, DomainError> {
    let table = usbcheckouts_table();
    let column = table.get("returncondition").expect("declared column");
    let mut errors = Map::new();
    let mut condition = None;
    for (name, raw) in body {
        match name.as_str() {
            "returncondition" | "condition" => match to_sql_value(column, raw) {
                Ok(SqlValue::Text(s)) => condition = Some(s),
                Ok(_) => {}
                Err(message) => {
                    errors.insert(name.clone(), json!(message));
                }
            },
            _ => {
                errors.insert(
                    name.clone(),
                    json!("unknown field for a checkin: send returncondition (optional)"),
                );
            }
        }
    }
    if errors.is_empty() {
        Ok(condition)
    } else {
        Err(DomainError::validation(errors))
    }
}

fn no_device(assetid: i64) -> DomainError {
    DomainError::not_found(format!("no usb device with id {assetid}"))
}

/// Lends device `assetid`; 409 when it is already out.
pub async fn check_out(
    db: &Db,
    actor: &Actor,
    assetid: i64,
    request: &CheckoutRequest,
) -> Result<Map<String, Value>, DomainError> {
    let mut tx = db.begin().await?;
    let result = check_out_on(db, &mut tx, actor, assetid, request).await;
    finish(db, tx, result).await
}

async fn check_out_on(
    db: &Db,
    conn: &mut AnyConnection,
    actor: &Actor,
    assetid: i64,
    request: &CheckoutRequest,
) -> Result<Map<String, Value>, DomainError> {
    // The insert comes first so the transaction writes at once (SQLite then waits for a
    // concurrent writer instead of failing on a stale snapshot); the conditional UPDATE then
    // claims the device, and a second desk finds it taken and rolls back.
    let inserted = db
        .insert_returning_id(
            conn,
            "INSERT INTO usbcheckouts (assetid, checkedoutto, badge, purpose, checkedoutat, checkedoutby, dueat) VALUES (?, ?, ?, ?, ?, ?, ?)",
            &[
                SqlValue::Int(assetid),
                SqlValue::text(&request.checkedoutto),
                SqlValue::opt_text(request.badge.clone()),
                SqlValue::opt_text(request.purpose.clone()),
                SqlValue::text(now()),
                SqlValue::text(&actor.name),
                SqlValue::text(&request.dueat),
            ],
            "checkoutid",
        )
        .await;
    let checkoutid = match inserted {
        Err(e) if is_foreign_key_violation(&e) => return Err(no_device(assetid)),
        other => other?,
    };
    let claimed = db
        .query("UPDATE usbdevices SET currentcheckoutid = ? WHERE assetid = ? AND currentcheckoutid IS NULL")
        .bind(checkoutid)
        .bind(assetid)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if claimed == 0 {
        return Err(already_out(db, conn, assetid).await?);
    }
    let record = fetch_checkout(db, conn, checkoutid).await?;
    let after = json!({
        "currentcheckoutid": checkoutid,
        "checkedoutto": request.checkedoutto,
        "badge": request.badge,
        "purpose": request.purpose,
        "dueat": request.dueat,
    });
    let before = json!({"currentcheckoutid": null, "checkedoutto": null, "badge": null, "purpose": null, "dueat": null});
    audit_device(db, conn, actor, assetid, &record, &before, &after).await?;
    Ok(record)
}

/// Why a device could not be claimed: it does not exist, or who has it.
async fn already_out(
    db: &Db,
    conn: &mut AnyConnection,
    assetid: i64,
) -> Result<DomainError, DomainError> {
    let row = db
        .query(
            "SELECT a.assetnumber, c.checkoutid, c.checkedoutto, c.badge, c.dueat FROM usbdevices d \
             JOIN assets a ON a.assetid = d.assetid LEFT JOIN usbcheckouts c ON c.checkoutid = d.currentcheckoutid \
             WHERE d.assetid = ?",
        )
        .bind(assetid)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Ok(no_device(assetid));
    };
    let assetnumber: String = row.try_get(0)?;
    let holder: Option<String> = row.try_get(2)?;
    let badge: Option<String> = row.try_get(3)?;
    let dueat: Option<String> = row.try_get(4)?;
    let who = match (&holder, &badge) {
        (Some(h), Some(b)) => format!(" to {h} (badge {b})"),
        (Some(h), None) => format!(" to {h}"),
        _ => String::new(),
    };
    let due = dueat
        .as_deref()
        .map(|d| format!(", due {d}"))
        .unwrap_or_default();
    Ok(DomainError::conflict(format!(
        "{assetnumber} is already checked out{who}{due}; check it in first"
    ))
    .with_details(json!({
        "checkoutid": row.try_get::<Option<i64>, _>(1)?,
        "checkedoutto": holder,
        "badge": badge,
        "dueat": dueat,
    })))
}

/// Takes device `assetid` back; 409 when it is not out.
pub async fn check_in(
    db: &Db,
    actor: &Actor,
    assetid: i64,
    condition: Option<String>,
) -> Result<Map<String, Value>, DomainError> {
    let mut tx = db.begin().await?;
    let result = check_in_on(db, &mut tx, actor, assetid, condition).await;
    finish(db, tx, result).await
}

async fn check_in_on(
    db: &Db,
    conn: &mut AnyConnection,
    actor: &Actor,
    assetid: i64,
    condition: Option<String>,
) -> Result<Map<String, Value>, DomainError> {
    // Closing the open loan is the first write: of two concurrent checkins one finds nothing
    // open and answers 409.
    let closed = db
        .query_with(
            "UPDATE usbcheckouts SET checkedinat = ?, checkedinby = ?, returncondition = ? WHERE assetid = ? AND checkedinat IS NULL",
            &[
                SqlValue::text(now()),
                SqlValue::text(&actor.name),
                SqlValue::opt_text(condition.clone()),
                SqlValue::Int(assetid),
            ],
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
    let current: Option<Option<i64>> = db
        .query("SELECT currentcheckoutid FROM usbdevices WHERE assetid = ?")
        .bind(assetid)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
    let checkoutid = match (closed, current) {
        (_, None) => return Err(no_device(assetid)),
        (0, _) | (_, Some(None)) => {
            return Err(DomainError::conflict(format!(
                "usb device {assetid} is not checked out"
            )));
        }
        (_, Some(Some(id))) => id,
    };
    db.query("UPDATE usbdevices SET currentcheckoutid = NULL WHERE assetid = ?")
        .bind(assetid)
        .execute(&mut *conn)
        .await?;
    let record = fetch_checkout(db, conn, checkoutid).await?;
    let before = json!({
        "currentcheckoutid": checkoutid,
        "checkedoutto": record["checkedoutto"],
        "badge": record["badge"],
        "purpose": record["purpose"],
        "dueat": record["dueat"],
    });
    let after = json!({
        "currentcheckoutid": null, "checkedoutto": null, "badge": null, "purpose": null, "dueat": null,
        "checkedinat": record["checkedinat"],
        "returncondition": condition,
    });
    audit_device(db, conn, actor, assetid, &record, &before, &after).await?;
    Ok(record)
}

async fn fetch_checkout(
    db: &Db,
    conn: &mut AnyConnection,
    checkoutid: i64,
) -> Result<Map<String, Value>, DomainError> {
    checkouts_resource()
        .fetch(db, conn, checkoutid)
        .await?
        .ok_or_else(|| DomainError::internal(format!("checkout {checkoutid} vanished")))
}

/// The loan as a change of the device's state, on its asset history.
async fn audit_device(
    db: &Db,
    conn: &mut AnyConnection,
    actor: &Actor,
    assetid: i64,
    record: &Map<String, Value>,
    before: &Value,
    after: &Value,
) -> Result<(), DomainError> {
    let empty = Map::new();
    audit::record(
        db,
        conn,
        actor,
        audit::Entry {
            action: Action::Updated,
            entitytype: "asset",
            entityid: Some(assetid),
            entityname: record["assetnumber"].as_str(),
            before: before.as_object().unwrap_or(&empty),
            after: after.as_object().unwrap_or(&empty),
        },
    )
    .await?;
    Ok(())
}

/// The open loan of device `assetid`, if it is out.
pub async fn open_checkout(
    db: &Db,
    assetid: i64,
) -> Result<Option<Map<String, Value>>, DomainError> {
    let mut conn = db.pool().acquire().await?;
    let current: Option<i64> = db
        .query("SELECT currentcheckoutid FROM usbdevices WHERE assetid = ?")
        .bind(assetid)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.try_get::<Option<i64>, _>(0))
        .transpose()?
        .flatten();
    match current {
        Some(id) => Ok(checkouts_resource().fetch(db, &mut conn, id).await?),
        None => Ok(None),
    }
}

/// Devices whose serial number is `serial` (ignoring case and surrounding spaces).
pub async fn find_by_serial(db: &Db, serial: &str) -> Result<Vec<i64>, sqlx::Error> {
    let sql = format!(
        "SELECT d.assetid FROM usbdevices d JOIN assets a ON a.assetid = d.assetid \
         WHERE {} ORDER BY d.assetid LIMIT 10",
        shopdb_core::schema::lower_equals(db.dialect(), Some("a"), "serialnumber")
    );
    let rows = db
        .query(&sql)
        .bind(serial.trim().to_string())
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(|r| r.try_get::<i64, _>(0)).collect()
}

/// How many devices are out now.
pub async fn count_out(db: &Db) -> Result<i64, sqlx::Error> {
    db.query("SELECT COUNT(*) FROM usbdevices WHERE currentcheckoutid IS NOT NULL")
        .fetch_one(db.pool())
        .await?
        .try_get(0)
}

/// Devices out past their due time, most overdue first (a page of them), and how many there
/// are in all.
pub async fn overdue(db: &Db, limit: i64, offset: i64) -> Result<(Vec<Value>, i64), sqlx::Error> {
    let at = OffsetDateTime::now_utc();
    let stamp = format_timestamp(at);
    let from = "FROM usbdevices d JOIN usbcheckouts c ON c.checkoutid = d.currentcheckoutid \
                JOIN assets a ON a.assetid = d.assetid WHERE c.dueat < ?";
    let total: i64 = db
        .query(&format!("SELECT COUNT(*) {from}"))
        .bind(stamp.clone())
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;
    let rows = db
        .query(&format!(
            "SELECT c.checkoutid, c.assetid, a.assetnumber, a.name, a.serialnumber, c.checkedoutto, \
             c.badge, c.purpose, c.checkedoutat, c.checkedoutby, c.dueat {from} \
             ORDER BY c.dueat, c.checkoutid{}",
            shopdb_core::db::limit_offset(limit)
        ))
        .bind(stamp)
        .bind(offset)
        .fetch_all(db.pool())
        .await?;
    let list = rows
        .iter()
        .map(|r| {
            let dueat: String = r.try_get(10)?;
            let days = OffsetDateTime::parse(&dueat, &Rfc3339)
                .map(|due| (at - due).whole_days())
                .unwrap_or_default();
            Ok(json!({
                "checkoutid": r.try_get::<i64, _>(0)?,
                "assetid": r.try_get::<i64, _>(1)?,
                "assetnumber": r.try_get::<String, _>(2)?,
                "name": r.try_get::<Option<String>, _>(3)?,
                "serialnumber": r.try_get::<Option<String>, _>(4)?,
                "checkedoutto": r.try_get::<String, _>(5)?,
                "badge": r.try_get::<Option<String>, _>(6)?,
                "purpose": r.try_get::<Option<String>, _>(7)?,
                "checkedoutat": r.try_get::<String, _>(8)?,
                "checkedoutby": r.try_get::<String, _>(9)?,
                "dueat": dueat,
                "daysoverdue": days,
            }))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok((list, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn fields(e: DomainError) -> Vec<String> {
        assert_eq!(e.kind, shopdb_core::error::ErrorKind::Invalid);
        e.details.as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn a_checkout_needs_a_person_and_a_future_due_time() {
        let at = OffsetDateTime::parse("2026-11-21T12:00:00Z", &Rfc3339).unwrap();
        let ok = CheckoutRequest::parse(
            &body(json!({"checkedoutto": " Ann Smith ", "badge": "4411", "dueat": "2026-11-22T09:00:00+01:00"})),
            at,
            30,
        )
        .unwrap();
        assert_eq!(ok.checkedoutto, "Ann Smith");
        assert_eq!(ok.dueat, "2026-11-22T08:00:00Z");
        assert_eq!(ok.purpose, None);

        let missing = CheckoutRequest::parse(&body(json!({"purpose": "x"})), at, 30).unwrap_err();
        assert_eq!(fields(missing), ["checkedoutto", "dueat"]);
        let past = CheckoutRequest::parse(
            &body(json!({"checkedoutto": "Ann", "dueat": "2026-11-21T11:59:59Z", "colour": "red"})),
            at,
            30,
        )
        .unwrap_err();
        assert_eq!(fields(past), ["colour", "dueat"]);
        let far = CheckoutRequest::parse(
            &body(json!({"checkedoutto": "Ann", "dueat": "2027-01-01T00:00:00Z"})),
            at,
            30,
        )
        .unwrap_err();
        assert_eq!(fields(far), ["dueat"]);
        assert!(
            CheckoutRequest::parse(
                &body(json!({"checkedoutto": "Ann", "dueat": "2027-01-01T00:00:00Z"})),
                at,
                0,
            )
            .is_ok(),
            "0 means no limit"
        );
        let garbage = CheckoutRequest::parse(
            &body(json!({"checkedoutto": 7, "dueat": "tomorrow"})),
            at,
            0,
        )
        .unwrap_err();
        assert_eq!(fields(garbage), ["checkedoutto", "dueat"]);
    }

    #[test]
    fn a_checkin_takes_only_a_condition() {
        assert_eq!(parse_checkin(&Map::new()).unwrap(), None);
        assert_eq!(
            parse_checkin(&body(json!({"condition": "cracked case"}))).unwrap(),
            Some("cracked case".into())
        );
        assert_eq!(
            parse_checkin(&body(json!({"returncondition": "ok"}))).unwrap(),
            Some("ok".into())
        );
        assert_eq!(
            fields(parse_checkin(&body(json!({"badge": "1"}))).unwrap_err()),
            ["badge"]
        );
    }
}
