//! Which announcements show now: active ones that have not ended, for a location and the whole
//! site.

use shopdb_core::db::{Db, SqlValue};
use shopdb_core::serde_json::{Value, json};
use shopdb_core::sqlx::{self, Row};
use shopdb_core::util::now;

/// Which announcements a list holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// Started and not ended: what a floor screen shows, outages first.
    Current,
    /// Current ones and those still to come, latest start first.
    CurrentOrUpcoming,
}

/// A page of active, unended announcements in `window` for `locationid` (and the site-wide
/// ones; every location when None), and how many there are in all. Each item's `state` says
/// whether it is `current` or `upcoming`.
pub async fn list(
    db: &Db,
    window: Window,
    locationid: Option<i64>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Value>, i64), sqlx::Error> {
    let at = now();
    let mut clauses = vec!["n.isactive <> 0", "(n.endsat IS NULL OR n.endsat > ?)"];
    let mut values = vec![SqlValue::text(&at)];
    if window == Window::Current {
        clauses.push("n.startsat <= ?");
        values.push(SqlValue::text(&at));
    }
    if let Some(location) = locationid {
        clauses.push("(n.locationid = ? OR n.locationid IS NULL)");
        values.push(SqlValue::Int(location));
    }
    let filter = clauses.join(" AND ");
    let total: i64 = db
        .query_with(
            &format!("SELECT COUNT(*) FROM notifications n WHERE {filter}"),
            &values,
        )
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;
    if total == 0 || limit == 0 {
        return Ok((Vec::new(), total));
    }
    let order = match window {
        Window::Current => {
            "CASE n.severity WHEN 'outage' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, n.startsat DESC, n.notificationid DESC"
        }
        Window::CurrentOrUpcoming => "n.startsat DESC, n.notificationid DESC",
    };
    values.push(SqlValue::Int(offset));
    let rows = db
        .query_with(
            &format!(
                "SELECT n.notificationid, n.title, n.message, n.severity, n.startsat, n.endsat, n.locationid, l.name \
                 FROM notifications n LEFT JOIN locations l ON l.locationid = n.locationid \
                 WHERE {filter} ORDER BY {order}{}",
                shopdb_core::db::limit_offset(limit)
            ),
            &values,
        )
        .fetch_all(db.pool())
        .await?;
    let items = rows
        .iter()
        .map(|r| {
            let startsat: String = r.try_get(4)?;
            let state = if startsat <= at {
                "current"
            } else {
                "upcoming"
            };
            Ok(json!({
                "notificationid": r.try_get::<i64, _>(0)?,
                "title": r.try_get::<String, _>(1)?,
                "message": r.try_get::<String, _>(2)?,
                "severity": r.try_get::<String, _>(3)?,
                "startsat": startsat,
                "endsat": r.try_get::<Option<String>, _>(5)?,
                "locationid": r.try_get::<Option<i64>, _>(6)?,
                "locationname": r.try_get::<Option<String>, _>(7)?,
                "state": state,
            }))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok((items, total))
}

pub async fn location_exists(db: &Db, locationid: i64) -> Result<bool, sqlx::Error> {
    let n: i64 = db
        .query("SELECT COUNT(*) FROM locations WHERE locationid = ?")
        .bind(locationid)
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;
    Ok(n > 0)
}
