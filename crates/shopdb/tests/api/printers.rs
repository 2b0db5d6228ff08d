//! The bundled printers plugin on every backend, with a fake Zabbix the tests start themselves.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::TestApp;

/// The API token the fake Zabbix accepts.
const ZABBIX_TOKEN: &str = "zabbix-test-token-3f9a";

/// Items the fake Zabbix holds, as `item.get` answers them (with `selectHosts`).
fn zabbix_items() -> Vec<Value> {
    let item = |host: &str, name: &str, key: &str, value: &str, units: &str| {
        json!({"itemid": "1", "name": name, "key_": key, "lastvalue": value, "lastclock": "1790000000",
               "units": units, "valuemap": [], "hosts": [{"hostid": "10", "host": host}]})
    };
    let mut status = item("PRN-SHIP-01", "Printer status", "hrPrinterStatus", "3", "");
    status["valuemap"] = json!({"mappings": [{"value": "3", "newvalue": "idle"}, {"value": "4", "newvalue": "printing"}]});
    vec![
        item(
            "PRN-SHIP-01",
            "Black toner level",
            "supply.level[black]",
            "8",
            "%",
        ),
        item(
            "PRN-SHIP-01",
            "Drum unit level",
            "supply.level[drum]",
            "64",
            "%",
        ),
        status,
        item("PRN-SHIP-01", "Uptime", "sysUpTime", "86400", "uptime"),
        item(
            "zbx-office-7",
            "Cyan ink level",
            "supply.level[cyan]",
            "3",
            "%",
        ),
    ]
}

/// Answers `item.get` like Zabbix 7: a JSON-RPC error without the right Bearer token, else the
/// items of `params.host` or of the hosts in `params.filter.host` (and `filter.units`).
async fn fake_zabbix_answer(headers: HeaderMap, body: Bytes) -> axum::Json<Value> {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let id = request["id"].clone();
    let authorized = headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {ZABBIX_TOKEN}"));
    if !authorized {
        return axum::Json(json!({"jsonrpc": "2.0", "id": id,
            "error": {"code": -32602, "message": "Invalid params.", "data": "Not authorized."}}));
    }
    if request["jsonrpc"] != "2.0" || request["method"] != "item.get" {
        return axum::Json(json!({"jsonrpc": "2.0", "id": id,
            "error": {"code": -32601, "message": "Method not found.", "data": "Incorrect method."}}));
    }
    let params = &request["params"];
    let hosts: Vec<&str> = match params["host"].as_str() {
        Some(h) => vec![h],
        None => params["filter"]["host"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default(),
    };
    let units = params["filter"]["units"].as_str();
    let result: Vec<Value> = zabbix_items()
        .into_iter()
        .filter(|i| hosts.contains(&i["hosts"][0]["host"].as_str().unwrap_or_default()))
        .filter(|i| units.is_none_or(|u| i["units"] == u))
        .collect();
    axum::Json(json!({"jsonrpc": "2.0", "id": id, "result": result}))
}

/// Starts the fake Zabbix on a free local port; its frontend address.
async fn fake_zabbix() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/zabbix/api_jsonrpc.php",
        axum::routing::post(fake_zabbix_answer),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/zabbix")
}

/// A Zabbix that accepts connections and never answers; its address and how many
/// connections it has taken.
async fn silent_zabbix() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let taken = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = taken.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(socket);
        }
    });
    (format!("http://{addr}/zabbix"), taken)
}

/// An address where nothing listens.
async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/zabbix")
}

async fn install(app: &TestApp, plugin: &str) {
    let r = app
        .post(&format!("/api/plugins/{plugin}/install"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "install {plugin}: {}", r.body);
}

async fn location(app: &TestApp, body: Value) -> i64 {
    let r = app.post("/api/locations", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.data()["locationid"].as_i64().unwrap()
}

async fn printer(app: &TestApp, body: Value) -> i64 {
    let r = app.post("/api/printers", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.data()["assetid"].as_i64().unwrap()
}

async fn set(app: &TestApp, key: &str, value: Value) {
    let r = app
        .put(
            &format!("/api/settings/printers/{key}"),
            json!({"value": value}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

fn widget(dashboard: &Value) -> Value {
    dashboard["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "printer_supplies")
        .cloned()
        .expect("the printers widget is on the dashboard")
}

backend_tests! {
    async fn printers_are_assets_found_by_ip_and_listed_for_print_mapping(app) {
        install(&app, "printers").await;
        let plant2 = location(&app, json!({"name": "Plant 2"})).await;
        let shipping = location(&app, json!({"name": "Shipping", "parentid": plant2})).await;
        let plant3 = location(&app, json!({"name": "Plant 3"})).await;

        let created = app.post("/api/printers", json!({
            "assetnumber": "PRN-0042", "name": "Shipping laser", "locationid": shipping,
            "serialnumber": "VNB3K12345", "hostname": "PRN-SHIP-01", "ipaddress": "10.20.30.41",
            "printermodel": "HP LaserJet M507", "printserver": "printsrv01", "queuename": "SHIP-LASER",
            "driver": "HP Universal Printing PCL 6", "color": false, "duplex": true
        })).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let data = created.data();
        assert_eq!(data["assettypename"], "Printer");
        assert_eq!(data["locationname"], "Shipping");
        assert_eq!((data["duplex"].clone(), data["color"].clone()), (json!(true), json!(false)));
        let shipid = data["assetid"].as_i64().unwrap();
        let office = printer(&app, json!({"assetnumber": "PRN-0077", "name": "Office colour", "locationid": plant3,
            "hostname": "PRN-OFFICE-7", "ipaddress": "10.30.1.7", "queuename": "OFFICE-7", "color": true})).await;

        let found = app.get("/api/search?q=10.20.30.41").await;
        assert_eq!(found.status, StatusCode::OK);
        let hit = found.data().as_array().unwrap().iter().find(|r| r["type"] == "printer").cloned().expect("found by IP");
        assert_eq!((hit["id"].as_i64(), hit["title"].as_str()), (Some(shipid), Some("PRN-SHIP-01")));
        assert_eq!(app.get("/api/search?q=SHIP-LASER").await.data()[0]["id"], shipid, "found by queue");
        assert_eq!(app.get("/api/printers?ipaddress=10.30.1.7").await.data()[0]["assetid"], office);

        // An unknown field is refused with the envelope, and nothing is written.
        let before = (app.count("assets").await, app.count("printers").await);
        let bad = app.post("/api/printers", json!({"assetnumber": "PRN-0099", "hostname": "PRN-X", "tonerlevel": 40})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
        assert_eq!(bad.body["success"], false);
        assert_eq!(bad.body["error"]["code"], "validation_failed");
        assert!(bad.body["error"]["details"]["tonerlevel"].as_str().unwrap().contains("unknown field"));
        assert_eq!((app.count("assets").await, app.count("printers").await), before);

        // The print-mapping list: a location includes its sub-locations.
        let all = app.get("/api/printers/legacy").await;
        assert_eq!(all.status, StatusCode::OK, "{}", all.body);
        assert_eq!(all.data().as_array().unwrap().len(), 2);
        assert!(all.body.get("meta").is_none(), "not paged");
        let plant = app.get("/api/printers/legacy?location=plant%202").await;
        let rows = plant.data().as_array().unwrap();
        assert_eq!(rows.len(), 1, "{}", plant.body);
        assert_eq!(rows[0]["printername"], "Shipping laser");
        assert_eq!(rows[0]["ipaddress"], "10.20.30.41");
        assert_eq!(rows[0]["driver"], "HP Universal Printing PCL 6");
        assert_eq!(rows[0]["queuename"], "SHIP-LASER");
        assert_eq!(rows[0]["uncpath"], "\\\\printsrv01\\SHIP-LASER");
        assert_eq!(rows[0]["location"], "Shipping");
        let by_id = app.get(&format!("/api/printers/legacy?locationid={plant3}")).await;
        assert_eq!(by_id.data().as_array().unwrap().iter().map(|r| r["hostname"].clone()).collect::<Vec<_>>(), vec![json!("PRN-OFFICE-7")]);
        assert_eq!(app.get("/api/printers/legacy?location=Nowhere").await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get("/api/printers/legacy?building=2").await.status, StatusCode::BAD_REQUEST);

        // Scripts read it with an API token; viewers may too.
        let token = app.post("/api/tokens", json!({"name": "print mapping"})).await.data()["token"].as_str().unwrap().to_string();
        let scripted = app.call(Method::GET, "/api/printers/legacy?location=Plant%203", Some(&token), None).await;
        assert_eq!(scripted.status, StatusCode::OK, "{}", scripted.body);
        assert_eq!(scripted.data()[0]["hostname"], "PRN-OFFICE-7");

        let nav = app.get("/api/navigation").await;
        assert!(nav.data().as_array().unwrap().iter().any(|i| i["name"] == "Printers" && i["plugin"] == "printers"));
    }

    async fn nearest_printers_are_ordered_by_distance_on_the_pcs_floor_map(app) {
        install(&app, "printers").await;
        let without = app.get("/api/printers/nearest?hostname=WJ-LATHE-4471").await;
        assert_eq!(without.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", without.body);
        assert!(without.body["error"]["details"]["hostname"].as_str().unwrap().contains("computers plugin"));

        install(&app, "computers").await;
        let hall = location(&app, json!({"name": "Hall 2"})).await;
        let printroom = location(&app, json!({"name": "Print room", "parentid": hall, "mapx": 130, "mapy": 100})).await;
        let plant3 = location(&app, json!({"name": "Plant 3"})).await;
        let pc = app.post("/api/computers", json!({"assetnumber": "PC-4471", "hostname": "WJ-LATHE-4471",
            "locationid": hall, "mapx": 100, "mapy": 100})).await;
        assert_eq!(pc.status, StatusCode::CREATED, "{}", pc.body);
        let unplaced = app.post("/api/computers", json!({"assetnumber": "PC-9", "hostname": "WJ-NOWHERE"})).await;
        assert_eq!(unplaced.status, StatusCode::CREATED);

        let far = printer(&app, json!({"assetnumber": "PRN-FAR", "hostname": "PRN-FAR", "locationid": hall, "mapx": 400, "mapy": 500})).await;
        let near = printer(&app, json!({"assetnumber": "PRN-NEAR", "hostname": "PRN-NEAR", "locationid": printroom,
            "queuename": "NEAR-Q"})).await;
        printer(&app, json!({"assetnumber": "PRN-P3", "hostname": "PRN-P3", "locationid": plant3, "mapx": 101, "mapy": 100})).await;
        printer(&app, json!({"assetnumber": "PRN-LOST", "hostname": "PRN-LOST"})).await;

        let r = app.get("/api/printers/nearest?hostname=wj-lathe-4471").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let d = r.data();
        assert_eq!(d["computer"]["hostname"], "WJ-LATHE-4471");
        assert_eq!(d["computer"]["positionsource"], "self");
        assert_eq!(d["computer"]["maplocation"], "Hall 2");
        let printers = d["printers"].as_array().unwrap();
        let ids: Vec<i64> = printers.iter().map(|p| p["assetid"].as_i64().unwrap()).collect();
        assert_eq!(ids, vec![near, far], "nearest first; other maps and unplaced printers left out: {}", r.body);
        assert_eq!(printers[0]["distance"].as_f64(), Some(30.0));
        assert_eq!(printers[0]["positionsource"], "location");
        assert_eq!(printers[0]["queuename"], "NEAR-Q");
        assert_eq!(printers[1]["distance"].as_f64(), Some(500.0));
        assert_eq!(printers[1]["positionsource"], "self");
        assert_eq!(d["notonmap"], 2);

        let one = app.get("/api/printers/nearest?hostname=WJ-LATHE-4471&limit=1").await;
        assert_eq!(one.data()["printers"].as_array().unwrap().len(), 1);

        let unknown = app.get("/api/printers/nearest?hostname=NO-SUCH-PC").await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        assert_eq!(unknown.body["success"], false);
        let lost = app.get("/api/printers/nearest?hostname=WJ-NOWHERE").await;
        assert_eq!(lost.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", lost.body);
        assert!(lost.body["error"]["details"]["hostname"].as_str().unwrap().contains("no position"));
        assert_eq!(app.get("/api/printers/nearest").await.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.get("/api/printers/nearest?hostname=X&limit=0").await.status, StatusCode::BAD_REQUEST);
    }

    async fn the_dashboard_asks_a_silent_zabbix_once_a_minute_not_on_every_load(app) {
        install(&app, "printers").await;
        printer(&app, json!({"assetnumber": "PRN-0042", "hostname": "PRN-SHIP-01"})).await;
        let (silent, taken) = silent_zabbix().await;
        set(&app, "zabbixtoken", json!(ZABBIX_TOKEN)).await;
        set(&app, "zabbixurl", json!(silent)).await;
        for _ in 0..3 {
            let w = widget(&app.get("/api/dashboard").await.body);
            assert_eq!(w["data"]["zabbix"]["status"], "unreachable", "{w}");
            assert_eq!(w["data"]["printers"], 1);
        }
        assert_eq!(taken.load(std::sync::atomic::Ordering::SeqCst), 1, "one wait for the silent Zabbix, not three");
        // A printer's own page still asks afresh.
        let id = app.get("/api/printers").await.data()[0]["assetid"].as_i64().unwrap();
        assert_eq!(app.get(&format!("/api/printers/{id}/supplies")).await.data()["status"], "unreachable");
        assert_eq!(taken.load(std::sync::atomic::Ordering::SeqCst), 2);
        // A changed setting is a new question: the working Zabbix answers at once.
        set(&app, "zabbixurl", json!(fake_zabbix().await)).await;
        let w = widget(&app.get("/api/dashboard").await.body);
        assert_eq!(w["data"]["zabbix"]["status"], "ok", "{w}");
        assert_eq!(w["data"]["low"][0]["hostname"], "PRN-SHIP-01", "{w}");
    }

    async fn supplies_come_from_zabbix_or_say_why_not(app) {
        install(&app, "printers").await;
        let ship = printer(&app, json!({"assetnumber": "PRN-0042", "hostname": "PRN-SHIP-01", "ipaddress": "10.20.30.41"})).await;
        printer(&app, json!({"assetnumber": "PRN-0077", "hostname": "PRN-OFFICE-7", "zabbixhost": "zbx-office-7"})).await;
        let supplies = format!("/api/printers/{ship}/supplies");

        let unset = app.get(&supplies).await;
        assert_eq!(unset.status, StatusCode::OK, "{}", unset.body);
        assert_eq!(unset.data()["status"], "notconfigured");
        assert!(unset.data()["message"].as_str().unwrap().contains("zabbixurl"));
        assert_eq!(widget(&app.get("/api/dashboard").await.body)["data"]["zabbix"]["status"], "notconfigured");

        set(&app, "zabbixurl", json!(fake_zabbix().await)).await;
        set(&app, "zabbixtoken", json!(ZABBIX_TOKEN)).await;
        let listed = app.get("/api/settings").await;
        let token = listed.data().as_array().unwrap().iter().find(|s| s["key"] == "zabbixtoken").cloned().unwrap();
        assert_eq!(token["value"], "(hidden)", "the token is never shown");
        assert!(!listed.body.to_string().contains(ZABBIX_TOKEN));

        let r = app.get(&supplies).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let d = r.data();
        assert_eq!(d["status"], "ok", "{}", r.body);
        assert_eq!((d["assetid"].as_i64(), d["zabbixhost"].as_str()), (Some(ship), Some("PRN-SHIP-01")));
        let levels: Vec<(String, f64, bool)> = d["supplies"].as_array().unwrap().iter()
            .map(|s| (s["name"].as_str().unwrap().to_string(), s["level"].as_f64().unwrap(), s["low"].as_bool().unwrap()))
            .collect();
        assert_eq!(levels, vec![("Black toner level".to_string(), 8.0, true), ("Drum unit level".to_string(), 64.0, false)]);
        assert_eq!(d["device"][0]["name"], "Printer status");
        assert_eq!(d["device"][0]["value"], "idle", "value maps are applied");
        assert_eq!(d["device"].as_array().unwrap().len(), 1, "uptime is neither supply nor status");

        // The dashboard asks about every printer at once (zabbixhost when it differs).
        let w = widget(&app.get("/api/dashboard").await.body);
        assert_eq!(w["error"], Value::Null);
        assert_eq!(w["data"]["zabbix"]["status"], "ok", "{w}");
        assert_eq!(w["data"]["printers"], 2);
        assert_eq!(w["data"]["lowcount"], 2);
        assert_eq!(w["data"]["low"][0]["hostname"], "PRN-OFFICE-7", "lowest level first");
        assert_eq!(w["data"]["low"][1]["supply"], "Black toner level");

        // Zabbix refusing the token, not answering, or spoken to over https: 200 with a reason.
        set(&app, "zabbixtoken", json!("wrong-token")).await;
        let refused = app.get(&supplies).await;
        assert_eq!(refused.status, StatusCode::OK);
        assert_eq!(refused.data()["status"], "error");
        assert!(refused.data()["message"].as_str().unwrap().contains("Not authorized"), "{}", refused.body);

        set(&app, "zabbixtoken", json!(ZABBIX_TOKEN)).await;
        let closed = closed_port().await;
        set(&app, "zabbixurl", json!(closed)).await;
        let down = app.get(&supplies).await;
        assert_eq!(down.status, StatusCode::OK);
        assert_eq!(down.data()["status"], "unreachable", "{}", down.body);
        let message = down.data()["message"].as_str().unwrap();
        assert!(message.contains(&closed) && message.contains("did not answer"), "{message}");
        assert!(!down.body.to_string().contains(ZABBIX_TOKEN));
        let dash = app.get("/api/dashboard").await;
        assert_eq!(dash.status, StatusCode::OK);
        let w = widget(&dash.body);
        assert_eq!((w["error"].clone(), w["data"]["zabbix"]["status"].clone()), (Value::Null, json!("unreachable")));
        assert_eq!(w["data"]["printers"], 2, "what the database knows is still shown");

        set(&app, "zabbixurl", json!("https://zabbix.example.com")).await;
        let https = app.get(&supplies).await;
        assert_eq!(https.data()["status"], "misconfigured");
        assert!(https.data()["message"].as_str().unwrap().contains("reverse proxy"));

        let other = app.asset(json!({"assetnumber": "CNC-1"})).await["assetid"].as_i64().unwrap();
        assert_eq!(app.get(&format!("/api/printers/{other}/supplies")).await.status, StatusCode::NOT_FOUND);

        // Other code reaches the same client through the service registry.
        let ctx = app.state.plugin_context("printers").unwrap();
        assert!(ctx.service::<printers::zabbix::ZabbixService>("zabbix").is_ok());
    }
}

backend_tests! {
    async fn supply_levels_are_kept_and_shown_while_zabbix_cannot_answer(app) {
        install(&app, "printers").await;
        let ship = printer(&app, json!({"assetnumber": "PRN-0042", "hostname": "PRN-SHIP-01"})).await;
        let supplies = format!("/api/printers/{ship}/supplies");
        let levels = |r: &Value| -> Vec<(String, f64, bool, String)> {
            r["supplies"].as_array().unwrap().iter()
                .map(|s| (s["name"].as_str().unwrap().to_string(), s["level"].as_f64().unwrap(),
                          s["low"].as_bool().unwrap(), s["source"].as_str().unwrap_or("").to_string()))
                .collect()
        };

        // Nothing known yet: Zabbix is not set up, so there is nothing to show.
        let none = app.get(&supplies).await;
        assert_eq!((none.data()["status"].clone(), none.data()["stored"].clone()), (json!("notconfigured"), json!(false)));

        // A script that reads the printer itself reports its levels.
        let put = app.put(&supplies, json!({"supplies": [
            {"name": "Black toner", "level": 9}, {"name": "Drum unit", "level": 71.5, "key": "drum"}]})).await;
        assert_eq!(put.status, StatusCode::OK, "{}", put.body);
        let shown = app.get(&supplies).await;
        let d = shown.data();
        assert_eq!((d["status"].clone(), d["stored"].clone()), (json!("notconfigured"), json!(true)), "{}", shown.body);
        assert_eq!(levels(d), vec![
            ("Black toner".to_string(), 9.0, true, "reported".to_string()),
            ("Drum unit".to_string(), 71.5, false, "reported".to_string()),
        ]);
        assert!(d["supplies"][0]["readat"].as_str().is_some_and(|t| t.ends_with('Z')));
        let w = widget(&app.get("/api/dashboard").await.body);
        assert_eq!(w["data"]["zabbix"]["status"], "notconfigured", "{w}");
        assert_eq!((w["data"]["lowcount"].clone(), w["data"]["low"][0]["supply"].clone()), (json!(1), json!("Black toner")), "{w}");

        // Bad reports are refused, naming the field, and change nothing.
        for (body, field) in [
            (json!({"supplies": [{"name": "Black toner", "level": 150}]}), "supplies[0].level"),
            (json!({"supplies": [{"name": "Cyan", "level": 5}, {"name": "cyan", "level": 6}]}), "supplies[1].key"),
            (json!({"levels": []}), "supplies"),
        ] {
            let bad = app.put(&supplies, body).await;
            assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
            assert!(bad.body["error"]["details"].get(field).is_some(), "{field}: {}", bad.body);
        }
        assert_eq!(levels(app.get(&supplies).await.data()).len(), 2, "the stored levels are untouched");
        let other = app.asset(json!({"assetnumber": "CNC-9"})).await["assetid"].as_i64().unwrap();
        let not_printer = app.put(&format!("/api/printers/{other}/supplies"), json!({"supplies": []})).await;
        assert_eq!(not_printer.status, StatusCode::NOT_FOUND);
        let viewer = app.login_as("vera", shopdb_core::auth::Role::Viewer).await;
        let refused = app.call(Method::PUT, &supplies, Some(&viewer), Some(json!({"supplies": []}))).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);

        // Zabbix answering replaces them; when it goes away its last answer is shown.
        set(&app, "zabbixurl", json!(fake_zabbix().await)).await;
        set(&app, "zabbixtoken", json!(ZABBIX_TOKEN)).await;
        let live = app.get(&supplies).await;
        assert_eq!((live.data()["status"].clone(), live.data()["stored"].clone()), (json!("ok"), json!(false)));
        set(&app, "zabbixurl", json!(closed_port().await)).await;
        let down = app.get(&supplies).await;
        let d = down.data();
        assert_eq!((d["status"].clone(), d["stored"].clone()), (json!("unreachable"), json!(true)), "{}", down.body);
        assert_eq!(levels(d), vec![
            ("Black toner level".to_string(), 8.0, true, "zabbix".to_string()),
            ("Drum unit level".to_string(), 64.0, false, "zabbix".to_string()),
        ]);
        assert_eq!(app.count("printersupplies").await, 2);

        // Deleting the printer deletes its levels.
        assert_eq!(app.delete(&format!("/api/printers/{ship}")).await.status, StatusCode::OK);
        assert_eq!(app.count("printersupplies").await, 0);
    }
}

backend_tests! {
    async fn a_printer_cannot_take_an_address_a_pc_holds(app) {
        for p in ["network", "computers", "printers"] {
            assert_eq!(app.post(&format!("/api/plugins/{p}/install"), json!({})).await.status, StatusCode::OK);
        }
        app.post("/api/computers", json!({"assetnumber": "PC-1", "hostname": "PC-1", "ipaddress": "10.5.0.20"})).await;
        let clash = app.post("/api/printers", json!({"assetnumber": "PRN-1", "hostname": "PRN-1", "ipaddress": "10.5.0.20"})).await;
        assert_eq!(clash.status, StatusCode::CONFLICT, "{}", clash.body);
        assert_eq!(clash.body["error"]["details"]["holder"]["assetnumber"], "PC-1");
        let bad = app.post("/api/printers", json!({"assetnumber": "PRN-1", "hostname": "PRN-1", "ipaddress": "printer-1"})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
        assert_eq!(app.count("printers").await, 0);
    }
}
