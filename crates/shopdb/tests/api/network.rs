//! The bundled network plugin: devices, subnets, and the address check other plugins use.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::backend_tests;

backend_tests! {
    async fn subnets_list_the_addresses_in_use_across_plugins(app) {
        for p in ["network", "computers"] {
            assert_eq!(app.post(&format!("/api/plugins/{p}/install"), json!({})).await.status, StatusCode::OK);
        }
        let net = app.post("/api/network/subnets", json!({
            "cidr": "10.20.0.0/16", "vlanid": 120, "gateway": "10.20.0.1", "description": "Hall 2 machines"
        })).await;
        assert_eq!(net.status, StatusCode::CREATED, "{}", net.body);
        let netid = net.data()["subnetid"].as_i64().unwrap();
        // A more specific subnet inside it wins the lookup.
        app.post("/api/network/subnets", json!({"cidr": "10.20.5.0/24", "vlanid": 125})).await;

        let switch = app.post("/api/network", json!({
            "assetnumber": "SW-H2-01", "name": "Hall 2 core switch", "hostname": "sw-h2-01",
            "ipaddress": "10.20.0.2", "macaddress": "00:11:22:33:44:55", "devicetype": "switch",
            "firmware": "16.12.4", "managementurl": "https://10.20.0.2/"
        })).await;
        assert_eq!(switch.status, StatusCode::CREATED, "{}", switch.body);
        assert_eq!(switch.data()["assettypename"], "Network Device");
        let pc = app.post("/api/computers", json!({"assetnumber": "PC-1", "hostname": "H2-PC-01", "ipaddress": "10.20.5.17"})).await;
        assert_eq!(pc.status, StatusCode::CREATED, "{}", pc.body);
        app.post("/api/computers", json!({"assetnumber": "PC-2", "hostname": "OFFICE-01", "ipaddress": "192.168.1.10"})).await;

        let used = app.get(&format!("/api/network/subnets/{netid}/addresses")).await;
        assert_eq!(used.status, StatusCode::OK, "{}", used.body);
        assert_eq!(used.data()["used"], 2);
        assert_eq!(used.data()["size"], 65536);
        let numbers: Vec<&str> = used.data()["addresses"].as_array().unwrap().iter().map(|a| a["assetnumber"].as_str().unwrap()).collect();
        assert_eq!(numbers, ["SW-H2-01", "PC-1"], "ordered by address");

        let lookup = app.get("/api/network/ip/10.20.5.17").await;
        assert_eq!(lookup.data()["subnet"]["cidr"], "10.20.5.0/24");
        assert_eq!(lookup.data()["holders"][0]["assetnumber"], "PC-1");
        assert_eq!(lookup.data()["holders"][0]["recordedin"], "computers");
        assert_eq!(lookup.data()["free"], false);
        let free = app.get("/api/network/ip/10.20.9.9").await;
        assert_eq!((free.data()["free"].clone(), free.data()["subnet"]["vlanid"].clone()), (json!(true), json!(120)));
        assert_eq!(app.get("/api/network/ip/10.20.999.1").await.status, StatusCode::UNPROCESSABLE_ENTITY);

        let found = app.get("/api/search?q=sw-h2").await;
        assert_eq!(found.data()[0]["type"], "networkdevice", "{}", found.body);
        let dash = app.get("/api/dashboard").await;
        let widget = dash.data().as_array().unwrap().iter().find(|w| w["name"] == "network_devices_by_type").unwrap().clone();
        assert_eq!(widget["data"]["bars"][0], json!({"label": "switch", "count": 1}));
        assert_eq!(widget["data"]["subnets"], 2);
    }

    async fn an_address_already_held_is_refused_naming_the_holder(app) {
        for p in ["network", "computers"] {
            app.post(&format!("/api/plugins/{p}/install"), json!({})).await;
        }
        let pc = app.post("/api/computers", json!({"assetnumber": "PC-7", "name": "Grinder PC", "hostname": "GR-PC-7", "ipaddress": "10.1.1.7"})).await;
        assert_eq!(pc.status, StatusCode::CREATED, "{}", pc.body);
        let pcid = pc.data()["assetid"].as_i64().unwrap();
        let clash = app.post("/api/network", json!({"assetnumber": "CAM-1", "ipaddress": "10.1.1.7", "devicetype": "IP camera"})).await;
        assert_eq!(clash.status, StatusCode::CONFLICT, "{}", clash.body);
        assert!(clash.body["error"]["message"].as_str().unwrap().contains("PC-7"), "{}", clash.body);
        assert_eq!(clash.body["error"]["details"]["holder"]["assetid"], pcid);
        assert_eq!(app.count("assets").await, 1, "nothing of the refused record is kept");

        // Another PC taking the address through an update is refused too; keeping its own is fine.
        let other = app.post("/api/computers", json!({"assetnumber": "PC-8", "hostname": "GR-PC-8", "ipaddress": "10.1.1.8"})).await.data().clone();
        let steal = app.put(&format!("/api/computers/{}", other["assetid"]), json!({"ipaddress": "10.1.1.7", "version": other["version"]})).await;
        assert_eq!(steal.status, StatusCode::CONFLICT, "{}", steal.body);
        let keep = app.put(&format!("/api/computers/{pcid}"), json!({"ipaddress": "10.1.1.7", "osname": "Windows 11", "version": pc.data()["version"]})).await;
        assert_eq!(keep.status, StatusCode::OK, "{}", keep.body);
        let bad = app.post("/api/computers", json!({"assetnumber": "PC-9", "hostname": "GR-PC-9", "ipaddress": "10.1.1"})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body["error"]["details"]["ipaddress"].is_string(), "{}", bad.body);

        // With the network plugin disabled the address check is off.
        app.post("/api/plugins/network/disable", json!({})).await;
        let dup = app.post("/api/computers", json!({"assetnumber": "PC-10", "hostname": "GR-PC-10", "ipaddress": "10.1.1.7"})).await;
        assert_eq!(dup.status, StatusCode::CREATED, "{}", dup.body);
    }

    async fn subnets_are_checked_and_scanners_push_devices_by_mac(app) {
        app.post("/api/plugins/network/install", json!({})).await;
        let bad = app.post("/api/network/subnets", json!({"cidr": "10.20.1.0/16", "vlanid": 5000, "gateway": "10.30.0.1"})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        let fields = &bad.body["error"]["details"];
        assert!(fields["cidr"].as_str().unwrap().contains("10.20.0.0/16"), "{}", bad.body);
        assert!(fields["vlanid"].is_string(), "{}", bad.body);
        let outside = app.post("/api/network/subnets", json!({"cidr": "10.20.0.0/16", "gateway": "10.30.0.1"})).await;
        assert_eq!(outside.body["error"]["details"]["gateway"], "is not inside 10.20.0.0/16", "{}", outside.body);
        assert_eq!(app.count("subnets").await, 0);

        let token = app.post("/api/tokens", json!({"name": "scanner", "plugin": "network"})).await.data()["token"].as_str().unwrap().to_string();
        let push = |mac: &'static str, ip: &'static str| json!({"macaddress": mac, "ipaddress": ip, "devicetype": "access point"});
        let first = app.call(Method::POST, "/api/collector/network", Some(&token), Some(json!({"records": [push("AA:BB:CC:00:00:01", "10.9.0.5")]}))).await;
        assert_eq!(first.data()["results"][0]["status"], "created", "{}", first.body);
        let again = app.call(Method::POST, "/api/collector/network", Some(&token), Some(json!({"records": [push("aa:bb:cc:00:00:01", "10.9.0.6")]}))).await;
        assert_eq!(again.data()["results"][0]["status"], "updated", "{}", again.body);
        assert_eq!(app.count("networkdevices").await, 1, "the same MAC is the same device");
        // However it is written: Windows' dashes, a switch's dotted form.
        for (spelling, ip) in [("AA-BB-CC-00-00-01", "10.9.0.7"), ("aabb.cc00.0001", "10.9.0.8")] {
            let r = app.call(Method::POST, "/api/collector/network", Some(&token), Some(json!({"records": [push(spelling, ip)]}))).await;
            assert_eq!(r.data()["results"][0]["status"], "updated", "{spelling}: {}", r.body);
        }
        assert_eq!(app.count("networkdevices").await, 1);
        let device = app.get("/api/network?per_page=1").await;
        assert_eq!(device.data()[0]["macaddress"], "aa:bb:cc:00:00:01", "stored in one form");
        let junk = app.call(Method::POST, "/api/collector/network", Some(&token), Some(json!({"records": [push("zz", "10.9.0.9")]}))).await;
        assert_eq!(junk.data()["results"][0]["status"], "rejected", "{}", junk.body);
        assert!(junk.data()["results"][0]["details"]["macaddress"].as_str().unwrap().contains("not a MAC address"), "{}", junk.body);
        let typed = app.post("/api/network", json!({"assetnumber": "SW-9", "macaddress": "00:11:22:33:44"})).await;
        assert_eq!(typed.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", typed.body);
    }

    async fn mac_addresses_stored_before_take_the_one_form_on_upgrade(app) {
        assert_eq!(app.post("/api/plugins/network/install", json!({})).await.status, StatusCode::OK);
        let made = app.post("/api/network", json!({"assetnumber": "AP-1", "macaddress": "00:11:22:33:44:55"})).await;
        let id = made.data()["assetid"].as_i64().unwrap();
        // As an older version stored it, before the migration that brings it into line.
        let db = app.db();
        db.query("UPDATE networkdevices SET macaddress = '00-11-22-AA-BB-CC' WHERE assetid = ?").bind(id).execute(db.pool()).await.unwrap();
        db.query("DELETE FROM schemamigrations WHERE chain = 'network' AND version = 2").execute(db.pool()).await.unwrap();
        let ran = shopdb_core::plugin::lifecycle::migrate_plugin(db, &app.state.registry, "network", &shopdb_core::evolve::Mode::Automatic).await.unwrap().ran;
        assert_eq!(ran.len(), 1, "{ran:?}");
        assert_eq!(app.get(&format!("/api/network/{id}")).await.data()["macaddress"], "00:11:22:aa:bb:cc");
    }
}
