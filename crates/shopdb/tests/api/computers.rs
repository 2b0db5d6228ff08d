//! The bundled computers plugin on every backend.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::backend_tests;

backend_tests! {
    async fn computers_are_listed_by_host_name_unless_asked_otherwise(app) {
        assert_eq!(app.post("/api/plugins/computers/install", json!({})).await.status, StatusCode::OK);
        for (number, host) in [("PC-3", "alpha"), ("PC-1", "charlie"), ("PC-2", "bravo")] {
            let made = app.post("/api/computers", json!({"assetnumber": number, "hostname": host})).await;
            assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        }
        let column = |body: &serde_json::Value, field: &str| -> Vec<String> {
            body["data"].as_array().unwrap().iter().map(|r| r[field].as_str().unwrap().to_string()).collect()
        };
        let listed = app.get("/api/computers").await;
        assert_eq!(column(&listed.body, "hostname"), ["alpha", "bravo", "charlie"]);
        let by_number = app.get("/api/computers?sort=assetnumber").await;
        assert_eq!(column(&by_number.body, "assetnumber"), ["PC-1", "PC-2", "PC-3"]);
        let last_first = app.get("/api/computers?sort=-hostname&per_page=2").await;
        assert_eq!(column(&last_first.body, "hostname"), ["charlie", "bravo"]);
    }

    async fn host_names_ignore_case_and_collectors_never_add_a_third_spelling(app) {
        assert_eq!(app.post("/api/plugins/computers/install", json!({})).await.status, StatusCode::OK);
        // The plugin sets the asset type, whatever the body says.
        let first = app.post("/api/computers", json!({"assetnumber": "CA-1", "hostname": "case-a", "assettypeid": 1})).await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
        assert_eq!(first.data()["assettypename"], "Computer");
        let a = first.data()["assetid"].as_i64().unwrap();
        let twin = app.post("/api/computers", json!({"assetnumber": "CA-2", "hostname": "CASE-A"})).await;
        assert_eq!(twin.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", twin.body);
        assert!(twin.body["error"]["details"]["hostname"].as_str().unwrap().contains(&format!("computer {a}")), "{}", twin.body);
        let b = app.post("/api/computers", json!({"assetnumber": "CA-2", "hostname": "case-b"})).await.data()["assetid"].as_i64().unwrap();
        let renamed = app.put(&format!("/api/computers/{b}"), json!({"hostname": "Case-A", "version": 1})).await;
        assert_eq!(renamed.status, StatusCode::UNPROCESSABLE_ENTITY, "a rename is checked too: {}", renamed.body);

        // Twins from before this rule (written straight into the table): each exact spelling
        // reaches its own PC, and a third spelling is refused instead of adding a PC.
        app.db().query("UPDATE computers SET hostname = 'CASE-A' WHERE assetid = ?").bind(b).execute(app.db().pool()).await.unwrap();
        let token = app.post("/api/tokens", json!({"name": "pc inventory", "plugin": "computers"})).await.data()["token"].as_str().unwrap().to_string();
        let push = |hostname: &'static str| {
            let (app, token) = (&app, token.clone());
            async move {
                let r = app.call(Method::POST, "/api/collector/computers", Some(&token), Some(json!({"hostname": hostname, "osname": "Windows 11"}))).await;
                assert_eq!(r.status, StatusCode::OK, "{}", r.body);
                r.data()["results"][0].clone()
            }
        };
        assert_eq!(push("case-a").await["assetid"], a);
        assert_eq!(push("CASE-A").await["assetid"], b);
        let third = push("Case-A").await;
        assert_eq!(third["status"], "rejected", "{third}");
        assert!(third["details"]["hostname"].as_str().unwrap().contains("differ only in case"), "{third}");
        assert_eq!(app.count("computers").await, 2);
        // One spelling alone still matches whatever its case.
        assert_eq!(push("CASE-B").await["status"], "created", "case-b was renamed away above");
    }

    async fn collector_made_asset_numbers_never_clash_and_fit(app) {
        assert_eq!(app.post("/api/plugins/computers/install", json!({})).await.status, StatusCode::OK);
        let token = app.post("/api/tokens", json!({"name": "pc inventory", "plugin": "computers"})).await.data()["token"].as_str().unwrap().to_string();
        let push = |record: serde_json::Value| {
            let (app, token) = (&app, token.clone());
            async move {
                let r = app.call(Method::POST, "/api/collector/computers", Some(&token), Some(record)).await;
                assert_eq!(r.status, StatusCode::OK, "{}", r.body);
                r.data()["results"][0].clone()
            }
        };
        let old = push(json!({"hostname": "shop-pc-42", "serialnumber": "SER-OLD"})).await;
        assert_eq!(old["status"], "created", "{old}");
        // Renamed (found by its serial); a replacement takes over the old name.
        assert_eq!(push(json!({"hostname": "shop-pc-42b", "serialnumber": "SER-OLD"})).await["status"], "updated");
        let new = push(json!({"hostname": "shop-pc-42", "serialnumber": "SER-NEW"})).await;
        assert_eq!(new["status"], "created", "{new}");
        let numbers = |id: &serde_json::Value| {
            let app = &app;
            let id = id.as_i64().unwrap();
            async move { app.get(&format!("/api/assets/{id}")).await.data()["assetnumber"].as_str().unwrap().to_string() }
        };
        assert_eq!(numbers(&old["assetid"]).await, "SHOP-PC-42");
        assert_eq!(numbers(&new["assetid"]).await, "SHOP-PC-42-2");
        // A long host name still gives an asset number that fits.
        let long = "cell-".repeat(12);
        let made = push(json!({"hostname": long})).await;
        assert_eq!(made["status"], "created", "{made}");
        assert_eq!(numbers(&made["assetid"]).await.chars().count(), 50);
    }

    async fn computers_are_assets_found_by_hostname_and_kept_current_by_collectors(app) {
        assert_eq!(app.post("/api/plugins/computers/install", json!({})).await.status, StatusCode::OK);
        let pc = app.post("/api/computers", json!({
            "assetnumber": "PC-4471", "name": "Lathe 4471 PC", "hostname": "WJ-LATHE-4471",
            "serialnumber": "5CG123ABC", "macaddress": "00:1A:2B:3C:4D:5E", "osname": "Windows 10 IoT"
        })).await;
        assert_eq!(pc.status, StatusCode::CREATED, "{}", pc.body);
        assert_eq!(pc.data()["assettypename"], "Computer");
        assert_eq!(pc.data()["macaddress"], "00:1a:2b:3c:4d:5e", "MAC addresses are kept in one form");
        let id = pc.data()["assetid"].as_i64().unwrap();
        let plain = app.asset(json!({"assetnumber": "A-0001"})).await["assetid"].as_i64().unwrap();
        let taken = app.post("/api/computers", json!({"assetnumber": "A-0001", "hostname": "X-8"})).await;
        assert_eq!(taken.body["error"]["details"]["assetnumber"], format!("'A-0001' is already used by asset {plain}"), "the holder is an asset, not a computer");
        let junk = app.post("/api/computers", json!({"assetnumber": "PC-9", "hostname": "X-9", "macaddress": "zz"})).await;
        assert_eq!(junk.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(junk.body["error"]["details"]["macaddress"].as_str().unwrap().contains("not a MAC address"), "{}", junk.body);

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
        // Settings are checked beyond their type: a negative day count makes no sense.
        let negative = app.put("/api/settings/computers/staledays", json!({"value": -5})).await;
        assert_eq!(negative.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", negative.body);
        assert!(negative.body["error"]["details"]["value"].as_str().unwrap().contains("1 day"), "{}", negative.body);
        let percent = app.put("/api/settings/printers/lowsupplypercent", json!({"value": 150})).await;
        assert_eq!(percent.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", percent.body);
        assert_eq!(app.put("/api/settings/computers/staledays", json!({"value": 14})).await.status, StatusCode::OK);
        let dash = app.get("/api/dashboard").await;
        let widget = dash.data().as_array().unwrap().iter().find(|w| w["name"] == "stale_computers").unwrap().clone();
        assert_eq!(widget["data"]["days"], 14);
        assert_eq!(app.get("/api/navigation").await.data()[0]["name"], "Computers");
    }

    async fn installed_software_travels_with_the_pc_and_collector_pushes_replace_it(app) {
        app.post("/api/plugins/computers/install", json!({})).await;
        let token = app.post("/api/tokens", json!({"name": "pc inventory", "plugin": "computers"})).await.data()["token"].as_str().unwrap().to_string();
        let push = |software: serde_json::Value| json!({"hostname": "CMM-PC-01", "serialnumber": "CZ1234", "software": software});
        let first = app.call(Method::POST, "/api/collector/computers", Some(&token), Some(push(json!([
            {"name": "Calypso", "version": "7.2", "publisher": "Zeiss"},
            {"name": "7-Zip", "version": "23.01"},
            {"name": "7-Zip", "version": "23.01"}
        ])))).await;
        assert_eq!(first.data()["results"][0]["status"], "created", "{}", first.body);
        let id = first.data()["results"][0]["assetid"].as_i64().unwrap();
        let pc = app.get(&format!("/api/computers/{id}")).await;
        let names: Vec<&str> = pc.data()["software"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["7-Zip", "Calypso"], "duplicates dropped: {}", pc.body);

        let same = app.call(Method::POST, "/api/collector/computers", Some(&token), Some(push(json!([
            {"name": "7-Zip", "version": "23.01"}, {"name": "Calypso", "version": "7.2", "publisher": "Zeiss"}
        ])))).await;
        assert_eq!(same.data()["results"][0]["status"], "unchanged", "{}", same.body);
        let upgraded = app.call(Method::POST, "/api/collector/computers", Some(&token), Some(push(json!([
            {"name": "Calypso", "version": "7.4", "publisher": "Zeiss"}
        ])))).await;
        assert_eq!(upgraded.data()["results"][0]["status"], "updated", "{}", upgraded.body);
        assert_eq!(upgraded.data()["results"][0]["changed"], json!(["software"]));
        assert_eq!(app.count("computersoftware").await, 1);
        let history = app.get(&format!("/api/assets/{id}/history")).await;
        assert_eq!(history.data()[0]["changes"]["after"]["software"][0]["version"], "7.4", "{}", history.body);

        let who = app.get("/api/computers/software?name=calyp").await;
        assert_eq!(who.data()[0]["hostname"], "CMM-PC-01", "{}", who.body);
        assert_eq!(app.get("/api/computers/software").await.status, StatusCode::UNPROCESSABLE_ENTITY);
        let bad = app.call(Method::POST, "/api/collector/computers", Some(&token), Some(push(json!([{"version": "1"}])))).await;
        assert_eq!(bad.data()["results"][0]["status"], "rejected", "{}", bad.body);
        assert_eq!(app.count("computersoftware").await, 1, "a rejected push changes nothing");

        assert_eq!(app.delete(&format!("/api/computers/{id}")).await.status, StatusCode::OK);
        assert_eq!(app.count("computersoftware").await, 0);
    }
}
