//! What happens to demo records once they exist: printers report supply levels, and USB
//! drives are lent at the desk.

use anyhow::Context;
use serde_json::Value;
use shopdb_core::auth::Actor;
use shopdb_core::db::Db;
use shopdb_core::time::{Duration, OffsetDateTime};
use shopdb_core::util::format_timestamp;

use super::values::PEOPLE;

/// Stores supply levels for each printer as a script reading the printers would report them:
/// toner, drum and waste box, four toners on the colour models (every third, as `record`
/// makes them); every fifth printer, the first included, is low on black toner.
pub async fn read_supplies(db: &Db, printers: &[(i64, usize)]) -> anyhow::Result<()> {
    for (k, &(id, n)) in printers.iter().enumerate() {
        let colour = n.is_multiple_of(3);
        let toners: &[&str] = if colour {
            &["Black", "Cyan", "Magenta", "Yellow"]
        } else {
            &["Black"]
        };
        let mut names: Vec<String> = toners.iter().map(|t| format!("{t} toner")).collect();
        names.extend(["Drum unit".to_string(), "Waste toner box".to_string()]);
        let levels: Vec<(printers::levels::Reported, Option<String>)> = names
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                let level = if i == 0 && k % 5 == 0 {
                    (n % 9 + 3) as f64
                } else {
                    (20 + (n * 37 + i * 53) % 80) as f64
                };
                let supply = printers::levels::Reported {
                    key: name.to_lowercase(),
                    name,
                    level,
                };
                (supply, None)
            })
            .collect();
        printers::levels::save(db, id, &levels, printers::levels::REPORTED)
            .await
            .with_context(|| format!("cannot store demo supply levels of printer {id}"))?;
    }
    Ok(())
}

/// Lends some of `drives` at the USB desk: the first is overdue, the second came back, and
/// every third after them is out now. Returns how many loans were made.
pub async fn lend(db: &Db, actor: &Actor, drives: &[i64]) -> anyhow::Result<usize> {
    let now = OffsetDateTime::now_utc();
    let mut loans = 0;
    for (i, id) in drives.iter().enumerate() {
        if i > 1 && i % 3 != 2 {
            continue;
        }
        let who = PEOPLE[(i * 5 + 3) % PEOPLE.len()];
        let due = match i {
            0 => now - Duration::days(3),
            _ => now + Duration::days(1 + (i % 14) as i64),
        };
        let request = usb::CheckoutRequest {
            checkedoutto: who.to_string(),
            badge: Some(format!("B{:05}", 10_000 + i * 7919 % 90_000)),
            purpose: Some(
                [
                    "NC programs for the night shift",
                    "Machine backup before the control update",
                    "Measurement reports for the customer audit",
                ][i % 3]
                    .to_string(),
            ),
            dueat: format_timestamp(due),
        };
        let loan = usb::check_out(db, actor, *id, &request)
            .await
            .with_context(|| format!("cannot lend demo USB drive {id}"))?;
        loans += 1;
        if i == 0 {
            // Backdated, so the overdue loan reads like one: taken ten days ago, due three days ago.
            db.query("UPDATE usbcheckouts SET checkedoutat = ? WHERE checkoutid = ?")
                .bind(format_timestamp(now - Duration::days(10)))
                .bind(
                    loan.get("checkoutid")
                        .and_then(Value::as_i64)
                        .unwrap_or_default(),
                )
                .execute(db.pool())
                .await?;
        }
        if i == 1 {
            usb::check_in(db, actor, *id, Some("returned complete, wiped".into()))
                .await
                .with_context(|| format!("cannot return demo USB drive {id}"))?;
        }
    }
    Ok(loans)
}
