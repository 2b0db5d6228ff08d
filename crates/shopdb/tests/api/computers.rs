//! The bundled computers plugin on every backend.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::backend_tests;

backend_tests! {
    async fn computers_are_assets_found_by_hostname_and_kept_current_by_collectors(app) {
        assert_eq!(app.post("/api/plugins/computers/install", json!({})).await.status, StatusCode::OK);
        let pc = app.post("/api/computers", json!({
            "assetnumber": "PC-4471", "name": "Lathe 4471 PC", "hostname": "WJ-LATHE-4471",
            "serialnumber": "5CG123ABC", "macaddress": "00:1A:2B:3C:4D:5E", "osname": "Windows 10 IoT"
        })).await;
        assert_eq!(pc.status, StatusCode::CREATED, "{}", pc.body);
        assert_eq!(pc.data()["assettypename"], "Computer");
        let id = pc.data()["assetid"].as_i64().unwrap();

        let found = app.get("/api/search?q=lathe-44").await;
        assert_eq!(found.data()[0]["type"], "computer");
        assert_eq!(found.data()[0]["title"], "WJ-LATHE-4471");

        let token = app.post("/api/tokens", json!({"name": "pc inventory", "plugin": "computers"})).await.data()["token"].as_str().unwrap().to_string();
        let renamed = app.call(Method::POST, "/api/collector/computers", Some(&token), Some(json!({
            "hostname": "WJ-LATHE-4471B", "macaddress": "00:1a:2b:3c:4d:5e", "serialnumber": "To be filled by O.E.M.",
            "lastcheckin": "2026-11-21T06:00:00Z"
        }))).await;
        assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
        assert_eq!(renamed.data()["results"][0]["status"], "updated", "{}", renamed.body);
        assert_eq!(renamed.data()["results"][0]["assetid"], id, "a renamed PC is the same asset");
        assert_eq!(app.count("computers").await, 1);

        let dash = app.get("/api/dashboard").await;
        let widget = dash.data().as_array().unwrap().iter().find(|w| w["name"] == "stale_computers").unwrap().clone();
        assert_eq!(widget["data"]["days"], 30);
        assert_eq!(app.get("/api/navigation").await.data()[0]["name"], "Computers");
    }
}
