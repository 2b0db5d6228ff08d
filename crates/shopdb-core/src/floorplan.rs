//! Floor-plan images of locations, stored in the database so every server process serves them.

use serde_json::{Map, json};
use sqlx::{AnyConnection, Row};

use crate::audit::{self, Action};
use crate::auth::Actor;
use crate::db::{Db, SqlValue};
use crate::util::now;

/// Largest accepted floor-plan image.
pub const MAX_FLOORPLAN_BYTES: usize = 10 * 1024 * 1024;

/// The image type, recognised from its first bytes (the client's Content-Type is not trusted).
pub fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

async fn location_name(
    db: &Db,
    conn: &mut AnyConnection,
    locationid: i64,
) -> Result<Option<String>, sqlx::Error> {
    db.query("SELECT name FROM locations WHERE locationid = ?")
        .bind(locationid)
        .fetch_optional(conn)
        .await?
        .map(|r| r.try_get(0))
        .transpose()
}

async fn audit_change(
    db: &Db,
    conn: &mut AnyConnection,
    actor: &Actor,
    id: i64,
    name: &str,
    before: Option<String>,
    after: Option<String>,
) -> Result<(), sqlx::Error> {
    let mut b = Map::new();
    let mut a = Map::new();
    b.insert("floorplan".into(), json!(before));
    a.insert("floorplan".into(), json!(after));
    audit::record(
        db,
        conn,
        actor,
        audit::Entry {
            action: Action::Updated,
            entitytype: "location",
            entityid: Some(id),
            entityname: Some(name),
            before: &b,
            after: &a,
        },
    )
    .await?;
    Ok(())
}

async fn describe(
    db: &Db,
    conn: &mut AnyConnection,
    locationid: i64,
) -> Result<Option<String>, sqlx::Error> {
    db.query("SELECT contenttype, uploadeddate FROM floorplans WHERE locationid = ?")
        .bind(locationid)
        .fetch_optional(conn)
        .await?
        .map(|r| {
            Ok(format!(
                "{} uploaded {}",
                r.try_get::<String, _>(0)?,
                r.try_get::<String, _>(1)?
            ))
        })
        .transpose()
}

/// Stores (or replaces) the image of `locationid`; `Ok(false)` when the location does not exist.
pub async fn store(
    db: &Db,
    actor: &Actor,
    locationid: i64,
    contenttype: &str,
    image: Vec<u8>,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let Some(name) = location_name(db, &mut tx, locationid).await? else {
        return Ok(false);
    };
    let before = describe(db, &mut tx, locationid).await?;
    let size = image.len();
    db.query("DELETE FROM floorplans WHERE locationid = ?")
        .bind(locationid)
        .execute(&mut *tx)
        .await?;
    let stamp = now();
    db.query_with(
        "INSERT INTO floorplans (locationid, contenttype, image, uploadeddate) VALUES (?, ?, ?, ?)",
        &[
            SqlValue::Int(locationid),
            SqlValue::text(contenttype),
            SqlValue::Bytes(image),
            SqlValue::text(&stamp),
        ],
    )
    .execute(&mut *tx)
    .await?;
    let after = format!("{contenttype} uploaded {stamp} ({size} bytes)");
    audit_change(db, &mut tx, actor, locationid, &name, before, Some(after)).await?;
    tx.commit().await?;
    Ok(true)
}

/// The image and its type, if the location has one.
pub async fn load(db: &Db, locationid: i64) -> Result<Option<(String, Vec<u8>)>, sqlx::Error> {
    db.query("SELECT contenttype, image FROM floorplans WHERE locationid = ?")
        .bind(locationid)
        .fetch_optional(db.pool())
        .await?
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .transpose()
}

/// Removes the image; `Ok(false)` when there was none.
pub async fn remove(db: &Db, actor: &Actor, locationid: i64) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let Some(name) = location_name(db, &mut tx, locationid).await? else {
        return Ok(false);
    };
    let Some(before) = describe(db, &mut tx, locationid).await? else {
        return Ok(false);
    };
    db.query("DELETE FROM floorplans WHERE locationid = ?")
        .bind(locationid)
        .execute(&mut *tx)
        .await?;
    audit_change(db, &mut tx, actor, locationid, &name, Some(before), None).await?;
    tx.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_recognised_by_content() {
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(image_type(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(image_type(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(image_type(b"<svg onload=alert(1)>"), None);
    }
}
