//! The six bundled plugins together on one fresh database, as a plant would install them.

use axum::http::StatusCode;
use serde_json::json;

use crate::backend_tests;

const ALL: [&str; 6] = [
    "computers",
    "equipment",
    "network",
    "printers",
    "usb",
    "notifications",
];

backend_tests! {
    async fn all_six_install_and_their_records_are_found_routed_and_on_the_dashboard(app) {
        for p in ALL {
            let r = app.post(&format!("/api/plugins/{p}/install"), json!({})).await;
            assert_eq!(r.status, StatusCode::OK, "{p}: {}", r.body);
        }
        let listed = app.get("/api/plugins").await;
        for p in ALL {
            let entry = listed.data().as_array().unwrap().iter().find(|e| e["name"] == p).unwrap_or_else(|| panic!("{p} not listed"));
            assert_eq!(entry["state"], "enabled", "{p}: {entry}");
        }

        // Every route of every plugin is described in the OpenAPI document.
        let doc = app.get("/api/openapi.json").await;
        for route in &app.state.routes {
            assert!(doc.body["paths"][&route.path][route.method.as_str().to_lowercase()].is_object(), "{} {} missing", route.method, route.path);
        }
        for path in ["/api/computers", "/api/equipment", "/api/network", "/api/printers", "/api/usb", "/api/notifications",
                     "/api/network/subnets", "/api/network/ip/{address}", "/api/printers/legacy", "/api/printers/nearest",
                     "/api/usb/overdue", "/api/notifications/recent"] {
            assert!(doc.body["paths"][path].is_object(), "{path} missing from openapi.json");
        }

        let created = [
            ("/api/computers", json!({"assetnumber": "A-100", "hostname": "WJ-MILL-0815", "ipaddress": "10.4.1.15"})),
            ("/api/printers", json!({"assetnumber": "A-200", "hostname": "PRN-HALL4", "ipaddress": "10.4.9.31"})),
            ("/api/equipment", json!({"assetnumber": "A-300", "machinenumber": "MC-4711", "equipmenttype": "mill"})),
            ("/api/network", json!({"assetnumber": "A-400", "hostname": "sw-hall4", "ipaddress": "10.4.0.2"})),
            ("/api/usb", json!({"assetnumber": "A-500", "serialnumber": "USB-77"})),
            ("/api/notifications", json!({"title": "Compressor maintenance", "message": "Air off 10-12", "severity": "warning", "startsat": "2026-01-01T00:00:00Z"})),
        ];
        for (path, body) in created {
            let r = app.post(path, body).await;
            assert_eq!(r.status, StatusCode::CREATED, "{path}: {}", r.body);
        }
        for (q, kind, title) in [("mill-08", "computer", "WJ-MILL-0815"), ("10.4.9.31", "printer", "PRN-HALL4"), ("MC-4711", "machine", "MC-4711")] {
            let found = app.get(&format!("/api/search?q={q}")).await;
            assert!(
                found.data().as_array().unwrap().iter().any(|r| r["type"] == kind && r["title"] == title),
                "search for {q} should find the {kind} {title}: {}", found.body
            );
        }

        let dash = app.get("/api/dashboard").await;
        let widgets = dash.data().as_array().unwrap();
        for p in ALL {
            let mine: Vec<_> = widgets.iter().filter(|w| w["plugin"] == p).collect();
            assert!(!mine.is_empty(), "no widget from {p}");
            for w in mine {
                assert!(w["error"].is_null(), "widget {} of {p} failed: {w}", w["name"]);
            }
        }
        assert_eq!(app.get("/api/navigation").await.data().as_array().unwrap().len(), 6);
    }
}
