//! Supply levels and device status of printers, read from Zabbix over its JSON-RPC API
//! (`POST <zabbixurl>/api_jsonrpc.php`, `item.get`, `Authorization: Bearer <zabbixtoken>`;
//! Zabbix 6.4 or later). Offered to other code as the service `zabbix` ([`ZabbixService`]).
//!
//! Zabbix being unset, unreachable or refusing never fails a request: every answer carries a
//! [`ZabbixStatus`] and a message saying what is wrong and what to do. Calls give up after
//! [`TIMEOUT`]. Only `http://` is spoken; the token never appears in messages or `Debug`.

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CONNECTION, CONTENT_TYPE, HOST, HeaderValue};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use shopdb_core::anyhow;
use shopdb_core::config::Secret;
use shopdb_core::plugin::PluginContext;
use shopdb_core::serde_json::{Value, json};
use tokio::net::TcpStream;

pub use crate::levels::Supply;
use crate::{levels, printers_context, store};

/// The name other code looks the service up by: `ctx.service::<ZabbixService>("zabbix")`.
pub const SERVICE: &str = "zabbix";

/// How long one call to Zabbix may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// Largest answer read from Zabbix.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// Words in an item's name or key that make a percentage item a supply level.
const SUPPLY_WORDS: &[&str] = &[
    "toner",
    "ink",
    "drum",
    "cartridge",
    "imaging",
    "fuser",
    "waste",
    "maintenance",
    "transfer",
    "supply",
    "supplies",
];

/// Words in an item's name or key that make it part of the device status.
const STATUS_WORDS: &[&str] = &["status", "error", "alert", "icmpping"];

/// Where Zabbix is and how to authenticate, from the printers plugin's settings.
#[derive(Clone, Debug)]
pub struct ZabbixConfig {
    pub url: String,
    pub token: Secret,
}

impl ZabbixConfig {
    /// Reads `zabbixurl` and `zabbixtoken` (whichever plugin's context is given).
    pub async fn load(ctx: &PluginContext) -> anyhow::Result<ZabbixConfig> {
        let ctx = printers_context(ctx);
        let read = |v: Value| v.as_str().unwrap_or_default().trim().to_string();
        Ok(ZabbixConfig {
            url: read(ctx.setting("zabbixurl").await?),
            token: Secret::new(read(ctx.setting("zabbixtoken").await?)),
        })
    }
}

/// How the conversation with Zabbix went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ZabbixStatus {
    /// Zabbix answered; the data is current.
    Ok,
    /// Zabbix answered but has no supply or status items for the host.
    NoData,
    /// `zabbixurl` or `zabbixtoken` is not set.
    NotConfigured,
    /// `zabbixurl` cannot be used (not a URL, or https://).
    Misconfigured,
    /// No answer: connection refused, name not found, or slower than [`TIMEOUT`].
    Unreachable,
    /// Zabbix answered with an error (refused token, HTTP error, not JSON-RPC).
    Error,
}

/// Why no data came from Zabbix, in words for whoever reads the dashboard.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Unavailable {
    pub status: ZabbixStatus,
    pub message: String,
}

fn unavailable(status: ZabbixStatus, message: impl Into<String>) -> Unavailable {
    Unavailable {
        status,
        message: message.into(),
    }
}

/// One device-status item (printer status, error state, ping), its value mapped to text when
/// Zabbix has a value map for it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeviceStatus {
    pub name: String,
    pub key: String,
    pub value: String,
    pub updated: Option<String>,
}

/// What `GET /api/printers/{id}/supplies` answers.
#[derive(Clone, Debug, Serialize)]
pub struct SupplyReport {
    pub status: ZabbixStatus,
    /// What went wrong and what to do, when `status` is not `ok`.
    pub message: Option<String>,
    /// The host asked about in Zabbix.
    pub zabbixhost: String,
    pub checkedat: String,
    pub lowsupplypercent: i64,
    pub supplies: Vec<Supply>,
    /// True when `supplies` are the last levels stored (Zabbix could not give them now).
    pub stored: bool,
    pub device: Vec<DeviceStatus>,
}

/// The Zabbix client, stateless: settings are read on every call, so a changed setting
/// applies at once in every server process.
pub struct ZabbixService;

impl ZabbixService {
    /// One JSON-RPC call; the `result` on success.
    pub async fn call(
        &self,
        config: &ZabbixConfig,
        method: &str,
        params: Value,
    ) -> Result<Value, Unavailable> {
        if config.url.is_empty() || config.token.is_empty() {
            let missing = if config.url.is_empty() {
                "zabbixurl"
            } else {
                "zabbixtoken"
            };
            return Err(unavailable(
                ZabbixStatus::NotConfigured,
                format!(
                    "Zabbix is not configured: set {missing} (PUT /api/settings/printers/{missing})"
                ),
            ));
        }
        let endpoint = Endpoint::parse(&config.url)?;
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", config.token.expose()))
            .map_err(|_| {
                unavailable(
                    ZabbixStatus::Misconfigured,
                    "zabbixtoken contains characters an HTTP header cannot carry: paste the token again",
                )
            })?;
        auth.set_sensitive(true);
        let body = json!({"jsonrpc": "2.0", "method": method, "params": params, "id": 1});
        let (status, bytes) =
            tokio::time::timeout(TIMEOUT, post(&endpoint, auth, body.to_string()))
                .await
                .map_err(|_| {
                    unavailable(
                        ZabbixStatus::Unreachable,
                        format!(
                            "Zabbix at {} did not answer within {} seconds",
                            endpoint.url,
                            TIMEOUT.as_secs()
                        ),
                    )
                })?
                .map_err(|e| {
                    unavailable(
                        ZabbixStatus::Unreachable,
                        format!("Zabbix at {} did not answer: {e}", endpoint.url),
                    )
                })?;
        if !status.is_success() {
            return Err(unavailable(
                ZabbixStatus::Error,
                format!(
                    "Zabbix at {} answered HTTP {status}: check that zabbixurl is the address of the Zabbix frontend",
                    endpoint.url
                ),
            ));
        }
        let answer: Value = shopdb_core::serde_json::from_slice(&bytes).map_err(|_| {
            unavailable(
                ZabbixStatus::Error,
                format!(
                    "{} did not answer JSON-RPC: check that zabbixurl is the address of the Zabbix frontend",
                    endpoint.url
                ),
            )
        })?;
        if let Some(error) = answer.get("error") {
            return Err(rpc_error(method, error));
        }
        answer.get("result").cloned().ok_or_else(|| {
            unavailable(
                ZabbixStatus::Error,
                format!("Zabbix answered {method} without a result"),
            )
        })
    }

    /// Supply levels and device status of one Zabbix host.
    pub async fn host_report(
        &self,
        ctx: &PluginContext,
        zabbixhost: &str,
    ) -> anyhow::Result<SupplyReport> {
        let config = ZabbixConfig::load(ctx).await?;
        let threshold = low_supply_percent(ctx).await?;
        let mut report = SupplyReport {
            status: ZabbixStatus::Ok,
            message: None,
            zabbixhost: zabbixhost.to_string(),
            checkedat: shopdb_core::util::now(),
            lowsupplypercent: threshold,
            supplies: Vec::new(),
            stored: false,
            device: Vec::new(),
        };
        let params = json!({
            "output": ["itemid", "name", "key_", "lastvalue", "lastclock", "units"],
            "host": zabbixhost,
            "monitored": true,
            "selectValueMap": ["mappings"],
            "sortfield": "name",
        });
        match self.call(&config, "item.get", params).await {
            Ok(items) => {
                let items = items.as_array().cloned().unwrap_or_default();
                report.supplies = items.iter().filter_map(|i| supply(i, threshold)).collect();
                report.device = items.iter().filter_map(device_status).collect();
                if report.supplies.is_empty() && report.device.is_empty() {
                    report.status = ZabbixStatus::NoData;
                    report.message = Some(format!(
                        "Zabbix has no supply or status items for host '{zabbixhost}': check that the \
                         host exists with a printer template, or set the printer's zabbixhost"
                    ));
                }
            }
            Err(why) => {
                report.status = why.status;
                report.message = Some(why.message);
            }
        }
        Ok(report)
    }

    /// The report of printer `assetid`; `None` when it is not a printer.
    pub async fn printer_report(
        &self,
        ctx: &PluginContext,
        assetid: i64,
    ) -> anyhow::Result<Option<(store::PrinterHost, SupplyReport)>> {
        let Some(printer) = store::find_printer_host(&ctx.db, assetid).await? else {
            return Ok(None);
        };
        let mut report = self.host_report(ctx, &printer.zabbixhost).await?;
        if report.status == ZabbixStatus::Ok && !report.supplies.is_empty() {
            // Kept for when Zabbix cannot answer; a failure here only costs that.
            if let Err(e) = levels::save_from_zabbix(&ctx.db, assetid, &report.supplies).await {
                tracing::warn!(error = %e, assetid, "printers: cannot store supply levels");
            }
        } else {
            let stored = levels::load(&ctx.db, assetid, report.lowsupplypercent).await?;
            report.stored = !stored.is_empty();
            if report.stored {
                report.supplies = stored;
            }
        }
        Ok(Some((printer, report)))
    }

    /// Supply levels of many hosts in one call, each with its Zabbix host name.
    pub async fn fleet_supplies(
        &self,
        config: &ZabbixConfig,
        hosts: &[String],
        threshold: i64,
    ) -> Result<Vec<(String, Supply)>, Unavailable> {
        let params = json!({
            "output": ["itemid", "name", "key_", "lastvalue", "lastclock", "units"],
            "selectHosts": ["host"],
            "filter": {"host": hosts, "units": "%"},
            "monitored": true,
        });
        let items = self.call(config, "item.get", params).await?;
        Ok(items
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|item| {
                let host = item["hosts"][0]["host"].as_str()?.to_string();
                Some((host, supply(item, threshold)?))
            })
            .collect())
    }
}

pub async fn low_supply_percent(ctx: &PluginContext) -> anyhow::Result<i64> {
    Ok(printers_context(ctx)
        .setting("lowsupplypercent")
        .await?
        .as_i64()
        .unwrap_or(15))
}

/// How long the dashboard reuses Zabbix's answer about the fleet's supplies, so a dashboard
/// opened often (or a Zabbix that does not answer, which costs `TIMEOUT`) asks at most once
/// a minute. A printer's own page always asks afresh.
pub const SUPPLIES_TTL: Duration = Duration::from_secs(60);

type FleetAnswer = Result<Vec<(String, Supply)>, Unavailable>;

/// The last fleet answer, for the question it answered (address, token, hosts, threshold):
/// a changed setting or printer list asks again at once.
#[derive(Default)]
pub struct SuppliesCache(std::sync::Mutex<Option<(std::time::Instant, String, FleetAnswer)>>);

impl SuppliesCache {
    async fn fleet_supplies(
        &self,
        config: &ZabbixConfig,
        hosts: &[String],
        threshold: i64,
    ) -> FleetAnswer {
        let question = shopdb_core::util::sha256_hex(
            json!([config.url, config.token.expose(), hosts, threshold])
                .to_string()
                .as_bytes(),
        );
        if let Ok(last) = self.0.lock()
            && let Some((at, asked, answer)) = last.as_ref()
            && *asked == question
            && at.elapsed() < SUPPLIES_TTL
        {
            return answer.clone();
        }
        let answer = ZabbixService.fleet_supplies(config, hosts, threshold).await;
        if let Ok(mut last) = self.0.lock() {
            *last = Some((std::time::Instant::now(), question, answer.clone()));
        }
        answer
    }
}

/// The dashboard widget: printers by status (from the database, always there) and supplies
/// at or below `lowsupplypercent` (from Zabbix, with its status when it cannot answer).
pub async fn low_supplies_widget(
    ctx: &PluginContext,
    cache: &SuppliesCache,
) -> anyhow::Result<Value> {
    let printers = store::list_printer_hosts(&ctx.db).await?;
    let bystatus: Vec<Value> = store::count_printers_by_status(&ctx.db)
        .await?
        .into_iter()
        .map(|(status, count)| json!({"status": status, "count": count}))
        .collect();
    let threshold = low_supply_percent(ctx).await?;
    let config = ZabbixConfig::load(ctx).await?;
    let hosts: Vec<String> = printers.iter().map(|p| p.zabbixhost.clone()).collect();
    let (zabbix, mut low) = if hosts.is_empty() && !config.url.is_empty() {
        (
            json!({"status": ZabbixStatus::Ok, "message": null}),
            Vec::new(),
        )
    } else {
        match cache.fleet_supplies(&config, &hosts, threshold).await {
            Ok(levels) => {
                let low: Vec<Value> = levels
                    .into_iter()
                    .filter(|(_, s)| s.low)
                    .flat_map(|(host, s)| {
                        printers
                            .iter()
                            .filter(move |p| p.zabbixhost == host)
                            .map(move |p| {
                                json!({"assetid": p.assetid, "assetnumber": p.assetnumber,
                                       "hostname": p.hostname, "name": p.name,
                                       "supply": s.name, "level": s.level})
                            })
                    })
                    .collect();
                (json!({"status": ZabbixStatus::Ok, "message": null}), low)
            }
            // The last levels stored, each with when it was read.
            Err(why) => {
                let low = levels::low(&ctx.db, threshold)
                    .await?
                    .into_iter()
                    .flat_map(|l| {
                        printers
                            .iter()
                            .filter(move |p| p.assetid == l.assetid)
                            .map(move |p| {
                                json!({"assetid": p.assetid, "assetnumber": p.assetnumber,
                                   "hostname": p.hostname, "name": p.name,
                                   "supply": l.supply.name, "level": l.supply.level,
                                   "readat": l.supply.readat})
                            })
                    })
                    .collect();
                (json!(why), low)
            }
        }
    };
    low.sort_by(|a, b| {
        a["level"]
            .as_f64()
            .partial_cmp(&b["level"].as_f64())
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a["hostname"].as_str().cmp(&b["hostname"].as_str()))
    });
    let lowcount = low.len();
    low.truncate(20);
    Ok(json!({
        "printers": printers.len(),
        "bystatus": bystatus,
        "lowsupplypercent": threshold,
        "lowcount": lowcount,
        "low": low,
        "zabbix": zabbix,
    }))
}

/// The JSON-RPC error object as a message, pointing at the token when access was refused.
fn rpc_error(method: &str, error: &Value) -> Unavailable {
    let text = |k: &str| error[k].as_str().unwrap_or_default().trim().to_string();
    let detail = [text("message"), text("data")]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let lower = detail.to_lowercase();
    let hint = if lower.contains("authoriz") || lower.contains("session") || lower.contains("token")
    {
        ": check zabbixtoken and that its user may read the printers' hosts"
    } else {
        ""
    };
    unavailable(
        ZabbixStatus::Error,
        format!("Zabbix refused {method}: {detail}{hint}"),
    )
}

fn item_text(item: &Value, key: &str) -> String {
    match &item[key] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// When Zabbix last received the item's value; `None` for never.
fn updated(item: &Value) -> Option<String> {
    let clock: i64 = item_text(item, "lastclock").parse().ok()?;
    if clock <= 0 {
        return None;
    }
    shopdb_core::time::OffsetDateTime::from_unix_timestamp(clock)
        .ok()
        .map(shopdb_core::util::format_timestamp)
}

fn mentions(item: &Value, words: &[&str]) -> bool {
    let text = format!("{} {}", item_text(item, "name"), item_text(item, "key_")).to_lowercase();
    words.iter().any(|w| text.contains(w))
}

/// The item as a supply level: a percentage whose name or key names a consumable.
pub fn supply(item: &Value, threshold: i64) -> Option<Supply> {
    if item_text(item, "units").trim() != "%" || !mentions(item, SUPPLY_WORDS) {
        return None;
    }
    let updated = updated(item)?;
    let level: f64 = item_text(item, "lastvalue").trim().parse().ok()?;
    Some(Supply {
        name: item_text(item, "name"),
        key: item_text(item, "key_"),
        level,
        low: level <= threshold as f64,
        updated: Some(updated),
        readat: None,
        source: None,
    })
}

/// The item as device status: not a supply, named for status, errors, alerts or ping.
pub fn device_status(item: &Value) -> Option<DeviceStatus> {
    if item_text(item, "units").trim() == "%" || !mentions(item, STATUS_WORDS) {
        return None;
    }
    let raw = item_text(item, "lastvalue");
    let mapped = item["valuemap"]["mappings"]
        .as_array()
        .and_then(|m| m.iter().find(|m| item_text(m, "value") == raw))
        .map(|m| item_text(m, "newvalue"));
    Some(DeviceStatus {
        name: item_text(item, "name"),
        key: item_text(item, "key_"),
        value: mapped.unwrap_or(raw),
        updated: updated(item),
    })
}

/// Where the JSON-RPC endpoint is, from `zabbixurl`.
#[derive(Debug, PartialEq)]
pub struct Endpoint {
    connect_host: String,
    port: u16,
    authority: String,
    path: String,
    /// The endpoint's address, for messages.
    pub url: String,
}

impl Endpoint {
    /// `http://zabbix.example.com/zabbix` → `…/zabbix/api_jsonrpc.php`; an address already
    /// ending in `api_jsonrpc.php` is taken as it is.
    pub fn parse(raw: &str) -> Result<Endpoint, Unavailable> {
        let bad = |why: String| unavailable(ZabbixStatus::Misconfigured, why);
        let url = url::Url::parse(raw).map_err(|e| {
            bad(format!(
                "zabbixurl '{raw}' is not an address ({e}): set it to e.g. http://zabbix.example.com/zabbix"
            ))
        })?;
        match url.scheme() {
            "http" => {}
            "https" => {
                return Err(bad(format!(
                    "zabbixurl {raw} uses https://, which ShopDB's Zabbix client does not speak: \
                     set zabbixurl to a plain http:// address, e.g. a reverse proxy (nginx, stunnel) \
                     on the ShopDB host or the internal network that forwards to {raw}"
                )));
            }
            other => {
                return Err(bad(format!(
                    "zabbixurl must start with http://, not {other}:"
                )));
            }
        }
        let connect_host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_string(),
            Some(url::Host::Ipv4(a)) => a.to_string(),
            Some(url::Host::Ipv6(a)) => a.to_string(),
            None => return Err(bad(format!("zabbixurl '{raw}' names no host"))),
        };
        let host = url.host_str().unwrap_or_default();
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let mut path = url.path().trim_end_matches('/').to_string();
        if !path.ends_with("api_jsonrpc.php") {
            path.push_str("/api_jsonrpc.php");
        }
        Ok(Endpoint {
            connect_host,
            port: url.port_or_known_default().unwrap_or(80),
            url: format!("http://{authority}{path}"),
            authority,
            path,
        })
    }
}

/// One HTTP/1.1 POST on a fresh connection; the status and the body.
async fn post(
    endpoint: &Endpoint,
    auth: HeaderValue,
    body: String,
) -> Result<(hyper::StatusCode, Bytes), String> {
    let stream = TcpStream::connect((endpoint.connect_host.as_str(), endpoint.port))
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    let request = Request::post(endpoint.path.as_str())
        .header(HOST, endpoint.authority.as_str())
        .header(CONTENT_TYPE, "application/json-rpc")
        .header(CONNECTION, "close")
        .header(AUTHORIZATION, auth)
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    // The connection is driven alongside the exchange (not spawned), so a timeout that drops
    // this future also closes the socket.
    let exchange = async move {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| format!("reading the answer failed: {e}"))?
            .to_bytes();
        Ok((status, bytes))
    };
    let (answer, _) = tokio::join!(exchange, connection);
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_accepts_http_and_explains_https() {
        let e = Endpoint::parse("http://zabbix.example.com/zabbix/").unwrap();
        assert_eq!(e.url, "http://zabbix.example.com/zabbix/api_jsonrpc.php");
        assert_eq!(
            (e.connect_host.as_str(), e.port),
            ("zabbix.example.com", 80)
        );
        let e = Endpoint::parse("http://10.0.0.5:8080/api_jsonrpc.php").unwrap();
        assert_eq!(
            (e.authority.as_str(), e.path.as_str()),
            ("10.0.0.5:8080", "/api_jsonrpc.php")
        );
        let e = Endpoint::parse("http://[::1]:9000").unwrap();
        assert_eq!(
            (e.connect_host.as_str(), e.authority.as_str()),
            ("::1", "[::1]:9000")
        );

        let https = Endpoint::parse("https://zabbix.example.com").unwrap_err();
        assert_eq!(https.status, ZabbixStatus::Misconfigured);
        assert!(https.message.contains("reverse proxy"), "{}", https.message);
        assert!(Endpoint::parse("zabbix.example.com").is_err());
    }

    #[test]
    fn items_are_sorted_into_supplies_and_status() {
        let toner = json!({"name": "Black toner level", "key_": "supply.level[black]", "lastvalue": "12",
                           "lastclock": "1790000000", "units": "%"});
        let s = supply(&toner, 15).unwrap();
        assert_eq!((s.level, s.low), (12.0, true));
        assert!(s.updated.unwrap().starts_with("2026-"));
        assert!(device_status(&toner).is_none());

        let never = json!({"name": "Cyan toner", "key_": "c", "lastvalue": "0", "lastclock": "0", "units": "%"});
        assert!(supply(&never, 15).is_none(), "no value yet is no level");
        let cpu = json!({"name": "CPU load", "key_": "cpu", "lastvalue": "3", "lastclock": "1", "units": "%"});
        assert!(supply(&cpu, 15).is_none());

        let status = json!({"name": "Printer status", "key_": "hrPrinterStatus", "lastvalue": "3", "lastclock": "1790000000",
                            "units": "", "valuemap": {"mappings": [{"value": "3", "newvalue": "idle"}]}});
        assert_eq!(device_status(&status).unwrap().value, "idle");
        let unmapped = json!({"name": "Printer status", "key_": "s", "lastvalue": "5", "units": "", "valuemap": []});
        assert_eq!(device_status(&unmapped).unwrap().value, "5");
    }

    #[test]
    fn refused_tokens_point_at_the_setting() {
        let e = rpc_error(
            "item.get",
            &json!({"code": -32602, "message": "Invalid params.", "data": "Not authorized."}),
        );
        assert_eq!(e.status, ZabbixStatus::Error);
        assert!(e.message.contains("Not authorized.") && e.message.contains("zabbixtoken"));
    }

    #[tokio::test]
    async fn a_silent_zabbix_is_given_up_on_after_the_timeout() {
        // Accepts the connection and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let held = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(socket);
        });
        let config = ZabbixConfig {
            url: format!("http://{addr}"),
            token: Secret::new("t"),
        };
        let started = std::time::Instant::now();
        let why = ZabbixService
            .call(&config, "item.get", json!({}))
            .await
            .unwrap_err();
        assert_eq!(why.status, ZabbixStatus::Unreachable);
        assert!(why.message.contains("within 3 seconds"), "{}", why.message);
        assert!(started.elapsed() < TIMEOUT + Duration::from_secs(2));
        held.abort();
    }

    #[test]
    fn the_token_stays_out_of_debug() {
        let c = ZabbixConfig {
            url: "http://z".into(),
            token: Secret::new("very-secret-token"),
        };
        assert!(!format!("{c:?}").contains("very-secret"));
    }
}
