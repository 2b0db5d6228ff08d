//! The IP-address check that plugins share. The network plugin offers the service
//! [`SERVICE`] (an [`AddressService`]); any plugin whose records carry an `ipaddress` adds
//! [`ip_address_hook`] to its resource, and so refuses an address another asset holds — without
//! depending on the network plugin's crate. With no such service, or its plugin disabled,
//! only the address format is checked.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use sqlx::AnyConnection;

use crate::db::Db;
use crate::error::DomainError;
use crate::plugin::services::ServiceKey;
use crate::resource::{BatchLookup, HookEnv, WriteHook};

/// Name under which the address service is registered.
pub const SERVICE: &str = "network.ipaddresses";
/// The address service's name and type: what the network plugin offers and the hook asks for.
pub const ADDRESS_SERVICE: ServiceKey<AddressService> = ServiceKey::new(SERVICE);
/// The plugin whose enabled state switches the check on and off.
pub const PROVIDER: &str = "network";

/// An asset holding an address.
#[derive(Clone, Debug)]
pub struct Holder {
    pub assetid: i64,
    pub assetnumber: String,
    pub name: Option<String>,
    pub ipaddress: String,
    /// The table the address is recorded in (`computers`, `printers` …).
    pub recordedin: String,
}

impl Holder {
    pub fn to_json(&self) -> Value {
        json!({
            "assetid": self.assetid, "assetnumber": self.assetnumber, "name": self.name,
            "ipaddress": self.ipaddress, "recordedin": self.recordedin,
        })
    }

    /// `PC-4471 (Lathe PC, computers)`.
    pub fn describe(&self) -> String {
        match &self.name {
            Some(name) => format!("{} ({name}, {})", self.assetnumber, self.recordedin),
            None => format!("{} ({})", self.assetnumber, self.recordedin),
        }
    }
}

/// Who holds an address, answered inside the caller's transaction.
pub trait AddressBook: Send + Sync {
    fn holders<'a>(
        &'a self,
        db: &'a Db,
        conn: &'a mut AnyConnection,
        env: &'a HookEnv,
        ip: IpAddr,
        exclude: Option<i64>,
    ) -> BoxFuture<'a, Result<Vec<Holder>, DomainError>>;

    /// Which of `ips` some asset holds, for many new records at once. The default asks
    /// `holders` for each; a service that can ask for all of them in one query should.
    fn held<'a>(
        &'a self,
        db: &'a Db,
        conn: &'a mut AnyConnection,
        env: &'a HookEnv,
        ips: &'a [IpAddr],
    ) -> BoxFuture<'a, Result<HashSet<IpAddr>, DomainError>> {
        Box::pin(async move {
            let mut held = HashSet::new();
            for ip in ips {
                if !self.holders(db, conn, env, *ip, None).await?.is_empty() {
                    held.insert(*ip);
                }
            }
            Ok(held)
        })
    }
}

/// What is registered under [`SERVICE`].
pub struct AddressService(pub Arc<dyn AddressBook>);

/// What [`normalize_mac`] accepts: twelve hex digits, separated or not by `:`, `-`, `.` or
/// spaces, with white space around.
pub fn mac_schema() -> Value {
    json!({"type": "string", "pattern": "^[\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*[:.\\- ]*(?:[0-9A-Fa-f][:.\\- ]*){12}[\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*$",
        "description": "six pairs of hex digits, e.g. 00:1A:2B:3C:4D:5E; stored as 00:1a:2b:3c:4d:5e"})
}

/// What [`parse_ip`] accepts: an IPv4 or IPv6 address.
pub fn ip_schema() -> Value {
    json!({"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]})
}

/// Parses an address, or names the field it came from.
pub fn parse_ip(field: &str, raw: &str) -> Result<IpAddr, DomainError> {
    raw.trim()
        .parse()
        .map_err(|_| DomainError::field(field, format!("'{raw}' is not an IP address")))
}

/// The name [`ip_address_hook`] notes and reads cleared addresses under.
const IP_CHECK: &str = "addresses.holders";

/// A write hook for records with an `ipaddress`: it must be an IP address, and while the
/// address service's plugin is enabled no other asset may hold it (409 naming the holder).
/// Declare [`ip_addresses_together`] with it (`Hooks::prepare`) so that new records created
/// together are asked about in one query.
pub fn ip_address_hook() -> WriteHook {
    Arc::new(|event| {
        Box::pin(async move {
            if !event.changes("ipaddress") {
                return Ok(());
            }
            let raw = event.record["ipaddress"].as_str().unwrap_or_default();
            let ip = parse_ip("ipaddress", raw)?;
            if event
                .known
                .is_some_and(|k| k.is_clear(IP_CHECK, &ip.to_string()))
            {
                return Ok(());
            }
            let Ok(service) = event.env.services.lookup(&ADDRESS_SERVICE) else {
                return Ok(());
            };
            if !event.env.enabled(event.db, PROVIDER).await {
                return Ok(());
            }
            let holders = service
                .0
                .holders(event.db, event.conn, event.env, ip, event.id)
                .await?;
            match holders.first() {
                None => Ok(()),
                Some(h) => Err(DomainError::conflict(format!(
                    "IP address {ip} is already held by {}",
                    h.describe()
                ))
                .with_details(json!({"field": "ipaddress", "holder": h.to_json()}))),
            }
        })
    })
}

/// The batch form of [`ip_address_hook`]'s question: which of the new records' addresses
/// no asset holds, asked of the address service once for the whole batch.
pub fn ip_addresses_together() -> BatchLookup {
    Arc::new(|event| {
        Box::pin(async move {
            let Ok(service) = event.env.services.lookup(&ADDRESS_SERVICE) else {
                return Ok(());
            };
            if !event.env.enabled(event.db, PROVIDER).await {
                return Ok(());
            }
            let mut ips: Vec<IpAddr> = event
                .records
                .iter()
                .filter_map(|r| r.get("ipaddress")?.as_str()?.trim().parse().ok())
                .collect();
            ips.sort();
            ips.dedup();
            if ips.is_empty() {
                return Ok(());
            }
            let held = service
                .0
                .held(event.db, event.conn, event.env, &ips)
                .await?;
            for ip in ips.iter().filter(|ip| !held.contains(ip)) {
                event.known.note(IP_CHECK, &ip.to_string());
            }
            Ok(())
        })
    })
}

/// A MAC address in one form, `00:1a:2b:3c:4d:5e`, from any of the usual spellings
/// (`00:1A:2B:3C:4D:5E`, `00-1A-2B-3C-4D-5E` as Windows prints it, `001a.2b3c.4d5e` as
/// switches print it, or twelve hex digits): the form collectors and lookups compare.
pub fn normalize_mac(raw: &str) -> Result<String, String> {
    let digits: String = raw
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | '.' | ' '))
        .collect();
    if digits.len() != 12 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "'{raw}' is not a MAC address: write six pairs of hex digits, like 00:1A:2B:3C:4D:5E"
        ));
    }
    let lower = digits.to_ascii_lowercase();
    Ok(lower
        .as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).into_owned())
        .collect::<Vec<_>>()
        .join(":"))
}

/// A migration step putting the stored `macaddress` values of `table` in the form
/// `normalize_mac` gives new writes, as far as SQL can on every database: lower case, dashes
/// (as Windows prints them) turned into colons. Collectors then match what earlier ones stored.
pub fn canonical_macs(table: &str) -> crate::migrate::Step {
    let sql = format!(
        "UPDATE {table} SET macaddress = LOWER(REPLACE(macaddress, '-', ':')) WHERE macaddress IS NOT NULL"
    );
    crate::migrate::Step::Sql {
        sqlite: sql.clone(),
        mysql: sql.clone(),
        postgres: sql,
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_mac;

    #[test]
    fn mac_addresses_take_one_form() {
        for raw in [
            "00:1A:2B:3C:4D:5E",
            "00-1a-2b-3c-4d-5e",
            "001a.2b3c.4d5e",
            "001A2B3C4D5E",
        ] {
            assert_eq!(
                normalize_mac(raw).as_deref(),
                Ok("00:1a:2b:3c:4d:5e"),
                "{raw}"
            );
        }
        for bad in [
            "zz",
            "00:1A:2B:3C:4D",
            "00:1A:2B:3C:4D:5E:6F",
            "00:1A:2B:3C:4D:5G",
        ] {
            assert!(normalize_mac(bad).is_err(), "{bad}");
        }
    }
}
