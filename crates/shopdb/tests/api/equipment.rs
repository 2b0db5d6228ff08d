//! The bundled equipment plugin: machines, their DNC settings and the PC that drives them.

use axum::http::StatusCode;
use serde_json::json;

use crate::backend_tests;

backend_tests! {
    async fn a_machine_is_driven_by_a_pc_shown_on_both_and_placed_by_it(app) {
        for p in ["computers", "equipment"] {
            assert_eq!(app.post(&format!("/api/plugins/{p}/install"), json!({})).await.status, StatusCode::OK);
        }
        let pc = app.post("/api/computers", json!({"assetnumber": "PC-2201", "hostname": "DNC-2201", "mapx": 310, "mapy": 42})).await.data().clone();
        let pcid = pc["assetid"].as_i64().unwrap();
        let cnc = app.post("/api/equipment", json!({
            "assetnumber": "M-2201", "name": "Okuma lathe 2201", "machinenumber": "2201",
            "equipmenttype": "lathe", "controllertype": "Okuma", "controllermodel": "OSP-P300",
            "serialnumber": "OK-998877", "installdate": "2019-04-01",
            "dncprotocol": "RS-232", "dncport": "COM3", "baudrate": 9600, "databits": 7,
            "parity": "even", "stopbits": 2, "flowcontrol": "xonxoff", "controllingpcid": pcid
        })).await;
        assert_eq!(cnc.status, StatusCode::CREATED, "{}", cnc.body);
        assert_eq!(cnc.data()["assettypename"], "Equipment");
        let id = cnc.data()["assetid"].as_i64().unwrap();

        let from_pc = app.get(&format!("/api/assets/{pcid}/relationships")).await;
        assert_eq!(from_pc.data()[0]["direction"], "outgoing", "{}", from_pc.body);
        assert_eq!(from_pc.data()[0]["relationshiptypename"], "controls");
        assert_eq!(from_pc.data()[0]["assetnumber"], "M-2201");
        let from_machine = app.get(&format!("/api/assets/{id}/relationships")).await;
        assert_eq!(from_machine.data()[0]["direction"], "incoming");
        assert_eq!(from_machine.data()[0]["assetid"], pcid);

        let pos = app.get(&format!("/api/assets/{id}/position")).await;
        assert_eq!(pos.data()["positionsource"], "related", "{}", pos.body);
        assert_eq!(pos.data()["mapx"].as_f64(), Some(310.0));

        // Moving the machine to another PC moves the link; the machine's history shows both.
        let pc2 = app.post("/api/computers", json!({"assetnumber": "PC-2202", "hostname": "DNC-2202"})).await.data()["assetid"].as_i64().unwrap();
        let moved = app.put(&format!("/api/equipment/{id}"), json!({"controllingpcid": pc2, "version": cnc.data()["version"]})).await;
        assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
        let links = app.get(&format!("/api/assets/{id}/relationships")).await;
        assert_eq!(links.data().as_array().unwrap().len(), 1, "{}", links.body);
        assert_eq!(links.data()[0]["assetid"], pc2);
        assert_eq!(app.count("assetrelationships").await, 1);

        // Deleting the PC keeps the machine and clears the link, and says so in the trail:
        // the machine's history has the cleared field (its version moves), the link's delete
        // is audited.
        let version_before = app.get(&format!("/api/equipment/{id}")).await.data()["version"].as_i64().unwrap();
        let link = app.get(&format!("/api/assets/{id}/relationships")).await.data()[0]["relationshipid"].as_i64().unwrap();
        assert_eq!(app.delete(&format!("/api/computers/{pc2}")).await.status, StatusCode::OK);
        let machine = app.get(&format!("/api/equipment/{id}")).await;
        assert!(machine.data()["controllingpcid"].is_null(), "{}", machine.body);
        assert_eq!(machine.data()["version"].as_i64().unwrap(), version_before + 1, "a stale edit is caught");
        assert_eq!(app.count("assetrelationships").await, 0);
        let history = app.get(&format!("/api/assets/{id}/history")).await;
        assert_eq!(history.data()[0]["changes"], json!({"before": {"controllingpcid": pc2}, "after": {"controllingpcid": null}}), "{}", history.body);
        assert_eq!(history.data()[0]["actorname"], "testadmin");
        let gone = app.get(&format!("/api/audit?entitytype=relationship&entityid={link}")).await;
        assert_eq!(gone.data()[0]["action"], "deleted", "{}", gone.body);
        assert_eq!(gone.data()[0]["changes"]["before"]["sourceassetid"], pc2);

        let found = app.get("/api/search?q=2201").await;
        assert!(found.data().as_array().unwrap().iter().any(|r| r["type"] == "machine" && r["title"] == "2201"), "{}", found.body);
        let dash = app.get("/api/dashboard").await;
        let widget = dash.data().as_array().unwrap().iter().find(|w| w["name"] == "equipment_by_status").unwrap().clone();
        assert_eq!(widget["data"]["bars"][0], json!({"label": "In Service", "count": 1}));

        // Deleting the machine deletes its equipment row with it.
        assert_eq!(app.delete(&format!("/api/equipment/{id}")).await.status, StatusCode::OK);
        assert_eq!(app.count("equipment").await, 0);
    }

    async fn bad_dnc_settings_are_named_and_nothing_is_written(app) {
        app.post("/api/plugins/equipment/install", json!({})).await;
        let bad = app.post("/api/equipment", json!({
            "assetnumber": "M-1", "machinenumber": "1", "baudrate": 9601, "parity": "maybe", "stopbits": 3,
            "installdate": "2019-13-01", "controllingpcid": 999999
        })).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
        let fields = bad.body["error"]["details"].as_object().unwrap();
        for f in ["baudrate", "parity", "stopbits", "installdate", "controllingpcid"] {
            assert!(fields.contains_key(f), "{f} missing in {}", bad.body);
        }
        assert_eq!(app.count("assets").await, 0);
        let first = app.post("/api/equipment", json!({"assetnumber": "M-1", "machinenumber": "1"})).await;
        assert_eq!(first.status, StatusCode::CREATED);
        let dup = app.post("/api/equipment", json!({"assetnumber": "M-2", "machinenumber": "1"})).await;
        assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(dup.body["error"]["details"]["machinenumber"].is_string());
    }
}
