//! `shopdb demo-data` with every bundled plugin installed: afterwards every main page and
//! every widget shows records, on every database, and a second run adds to the first.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::TestApp;

const ALL: [&str; 6] = [
    "computers",
    "equipment",
    "network",
    "printers",
    "usb",
    "notifications",
];

/// The page at `path`, asserting it renders (200, no error box) and shows each of `expect`.
async fn page(app: &TestApp, path: &str, expect: &[&str]) -> String {
    let r = app.get(path).await;
    let html = r.body.as_str().unwrap_or_default().to_string();
    assert_eq!(r.status, StatusCode::OK, "{path}: {html}");
    assert!(
        !html.contains("id=\"error-message\"") && !html.contains("widget-error"),
        "{path} shows an error: {html}"
    );
    for text in expect {
        assert!(html.contains(text), "{path} should show {text}: {html}");
    }
    html
}

fn first_id(reply: &crate::support::Reply, key: &str) -> i64 {
    reply
        .data()
        .as_array()
        .and_then(|a| a.first())
        .and_then(|r| r[key].as_i64())
        .unwrap_or_else(|| panic!("no records: {}", reply.body))
}

backend_tests! {
    async fn demo_data_fills_every_installed_plugin_and_every_page_shows_it(app) {
        for p in ALL {
            let r = app.post(&format!("/api/plugins/{p}/install"), json!({})).await;
            assert_eq!(r.status, StatusCode::OK, "{p}: {}", r.body);
        }
        shopdb::demo::seed(&app.state, 100).await.expect("demo data");

        assert_eq!(app.count("assets").await, 100);
        assert_eq!(app.count("floorplans").await, 4);
        for (table, least) in [("computers", 30), ("computersoftware", 100), ("equipment", 15), ("networkdevices", 4),
                               ("subnets", 4), ("printers", 4), ("usbdevices", 4), ("usbcheckouts", 2),
                               ("notifications", 2), ("assetrelationships", 10)] {
            assert!(app.count(table).await >= least, "{table}: {}", app.count(table).await);
        }

        // Features, as the API shows them.
        let stale = app.get("/api/computers/stale").await;
        assert!(stale.data()["count"].as_i64().unwrap() >= 1, "a PC not seen for weeks: {}", stale.body);
        let overdue = app.get("/api/usb/overdue").await;
        assert_eq!(overdue.status, StatusCode::OK, "{}", overdue.body);
        assert!(!overdue.data().as_array().unwrap().is_empty(), "an overdue loan: {}", overdue.body);
        let loans = app.get("/api/usb/checkouts").await;
        assert!(loans.body.to_string().contains("NC programs for the night shift"), "{}", loans.body);
        let machines = app.get("/api/equipment?per_page=200").await;
        let driven = machines.data().as_array().unwrap().iter().filter(|m| m["controllingpcid"].is_i64()).count();
        assert!(driven >= 15, "machines driven by PCs: {}", machines.body);
        let subnet = first_id(&app.get("/api/network/subnets").await, "subnetid");
        let addresses = app.get(&format!("/api/network/subnets/{subnet}/addresses")).await;
        assert!(addresses.data()["used"].as_i64().unwrap() >= 10, "the subnet holds the PCs' addresses: {}", addresses.body);
        let pc = first_id(&app.get("/api/computers?sort=hostname").await, "assetid");
        let nearest = app.get("/api/printers/nearest?hostname=WJ-PC-000001&limit=3").await;
        assert_eq!(nearest.status, StatusCode::OK, "{}", nearest.body);
        assert!(nearest.body.to_string().contains("WJ-PRN-000013"), "the printer beside the PC: {}", nearest.body);
        let bay = app.get("/api/locations?name=Bay%20B").await;
        let bay = first_id(&bay, "locationid");
        let plan = app.get(&format!("/api/locations/{bay}/floorplan")).await;
        assert_eq!(plan.status, StatusCode::OK);
        assert_eq!(plan.headers["content-type"], "image/svg+xml");
        assert!(plan.body.as_str().unwrap().contains("Cell B1"));
        let found = app.get("/api/search?q=WJ-PC-0000").await;
        assert!(found.data().as_array().unwrap().iter().any(|r| r["type"] == "computer"), "{}", found.body);

        // Every widget has data and no error.
        let dash = app.get("/api/dashboard").await;
        for p in ALL {
            let mine: Vec<&Value> = dash.data().as_array().unwrap().iter().filter(|w| w["plugin"] == p).collect();
            assert!(!mine.is_empty(), "no widget from {p}");
            for w in mine {
                assert!(w["error"].is_null(), "widget {} failed: {w}", w["name"]);
                let data = w["data"].as_object().unwrap_or_else(|| panic!("widget {} has no data: {w}", w["name"]));
                let empty = data.values().all(|v| v == &json!(0) || v.as_array().is_some_and(Vec::is_empty));
                assert!(!empty, "widget {} is empty: {w}", w["name"]);
            }
        }

        // Every main page renders with records on it.
        page(&app, "/", &["widget-stale_computers", "WJ-PC-"]).await;
        page(&app, "/assets", &["A000001"]).await;
        page(&app, "/computers", &["WJ-PC-"]).await;
        page(&app, "/computers/stale", &["PCs not seen recently"]).await;
        page(&app, "/equipment", &["MC-0000"]).await;
        page(&app, "/network", &["WJ-SW-"]).await;
        page(&app, "/network/subnets", &["10.20.0.0", "Bay A shop floor"]).await;
        page(&app, &format!("/network/subnets/{subnet}"), &["subnet-addresses", "10.20.0.1"]).await;
        page(&app, "/printers", &["WJ-PRN-"]).await;
        page(&app, "/usb", &["Kingston IronKey"]).await;
        page(&app, "/usb/desk", &["USB desk"]).await;
        page(&app, "/notifications", &["Compressed air shut-off in Bay B"]).await;
        page(&app, &format!("/notifications/kiosk?locationid={bay}"), &[]).await;
        page(&app, "/map", &["Bay A"]).await;
        page(&app, &format!("/map/{bay}"), &["/floorplan", "A0000"]).await;
        page(&app, "/search?q=WJ-PRN", &["WJ-PRN-"]).await;
        page(&app, &format!("/computers/{pc}"), &["Microsoft 365"]).await;
        let machine = first_id(&machines, "assetid");
        page(&app, &format!("/equipment/{machine}"), &["MC-0000"]).await;
        let printer = first_id(&app.get("/api/printers").await, "assetid");
        page(&app, &format!("/printers/{printer}"), &["WJ-PRN-"]).await;
        page(&app, "/usb/checkouts", &["USB loan history"]).await;
        // Printers have supply levels, as a script reading them would report: shown without Zabbix.
        let levels = app.get(&format!("/api/printers/{printer}/supplies")).await;
        assert_eq!(levels.data()["stored"], true, "{}", levels.body);
        let names: Vec<&str> = levels.data()["supplies"].as_array().unwrap().iter().filter_map(|s| s["name"].as_str()).collect();
        assert!(names.contains(&"Black toner") && names.contains(&"Drum unit"), "{names:?}");
        let printers_widget = dash.data().as_array().unwrap().iter().find(|w| w["name"] == "printer_supplies").unwrap();
        assert!(printers_widget["data"]["lowcount"].as_i64().unwrap() >= 1, "one printer in five runs low: {printers_widget}");

        // A second run adds, numbered after the first, and keeps what is there.
        shopdb::demo::seed(&app.state, 40).await.expect("second run");
        assert_eq!(app.count("assets").await, 140);
        assert_eq!(app.count("floorplans").await, 4);
        assert_eq!(app.count("notifications").await, 2);
        let last = app.get("/api/assets?sort=-assetnumber&per_page=1").await;
        assert_eq!(last.data()[0]["assetnumber"], "A000140");
    }
}
