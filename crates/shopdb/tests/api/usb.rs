//! The bundled usb plugin on every backend: devices, checkout and checkin at the desk,
//! overdue devices and loan history.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use shopdb_core::auth::Role;

use crate::backend_tests;
use crate::support::{TestApp, hours_from_now};

async fn install(app: &TestApp) {
    let r = app.post("/api/plugins/usb/install", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// Creates a device and returns its asset id.
async fn device(app: &TestApp, assetnumber: &str, serial: &str) -> i64 {
    let r = app
        .post(
            "/api/usb",
            json!({"assetnumber": assetnumber, "name": format!("Drive {assetnumber}"), "serialnumber": serial, "capacitygb": 64}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.data()["assetid"].as_i64().unwrap()
}

async fn check_out(app: &TestApp, token: &str, id: i64, body: Value) -> crate::support::Reply {
    app.call(
        Method::POST,
        &format!("/api/usb/{id}/checkout"),
        Some(token),
        Some(body),
    )
    .await
}

/// Moves a loan's due time, as if time had passed since the checkout.
async fn set_due(app: &TestApp, id: i64, dueat: &str) {
    app.db()
        .query("UPDATE usbcheckouts SET dueat = ? WHERE assetid = ? AND checkedinat IS NULL")
        .bind(dueat.to_string())
        .bind(id)
        .execute(app.db().pool())
        .await
        .unwrap();
}

fn field<'a>(list: &'a Value, key: &str) -> Vec<&'a Value> {
    list.as_array().unwrap().iter().map(|v| &v[key]).collect()
}

backend_tests! {
    async fn plugin_installs_and_state_changes_are_in_the_audit_trail(app) {
        for action in ["install", "disable", "enable", "uninstall"] {
            let r = app.post(&format!("/api/plugins/usb/{action}"), json!({})).await;
            assert_eq!(r.status, StatusCode::OK, "{action}: {}", r.body);
        }
        let trail = app.get("/api/audit?entitytype=plugin").await;
        let entries = trail.data().as_array().unwrap();
        let seen: Vec<(String, Value)> = entries.iter().map(|e| (e["action"].as_str().unwrap().to_string(), e["changes"]["after"]["state"].clone())).collect();
        assert_eq!(seen, vec![
            ("deleted".to_string(), Value::Null),
            ("updated".to_string(), json!("enabled")),
            ("updated".to_string(), json!("disabled")),
            ("created".to_string(), json!("enabled")),
        ], "{}", trail.body);
        assert!(entries.iter().all(|e| e["entityname"] == "usb" && e["actorname"] == "testadmin"), "{}", trail.body);
        assert!(entries[0]["changes"]["after"]["backup"].is_string(), "the uninstall names its backup: {}", trail.body);
    }

    async fn a_drive_that_is_out_cannot_be_deleted_by_either_route(app) {
        install(&app).await;
        let id = device(&app, "USB-0100", "SER100").await;
        let editor = app.login_as("desk", Role::Editor).await;
        let out = check_out(&app, &editor, id, json!({"checkedoutto": "Ann Smith", "purpose": "machine backup", "dueat": hours_from_now(24)})).await;
        assert_eq!(out.status, StatusCode::CREATED, "{}", out.body);
        let audit_before = app.count("auditlog").await;
        for path in [format!("/api/usb/{id}"), format!("/api/assets/{id}")] {
            let refused = app.delete(&path).await;
            assert_eq!(refused.status, StatusCode::CONFLICT, "{path}: {}", refused.body);
            assert!(refused.body["error"]["message"].as_str().unwrap().contains("checked out to Ann Smith"), "{}", refused.body);
            assert_eq!(refused.body["error"]["details"]["checkedoutto"], "Ann Smith");
        }
        assert_eq!(app.get(&format!("/api/usb/{id}")).await.status, StatusCode::OK, "still there");
        assert_eq!(app.count("usbcheckouts").await, 1, "the loan is kept");
        assert_eq!(app.count("auditlog").await, audit_before, "a refused delete writes nothing");

        // Back in, it can go; a drive that was never out goes at once through the core route.
        let back = app.call(Method::POST, &format!("/api/usb/{id}/checkin"), Some(&editor), Some(json!({"condition": "ok"}))).await;
        assert_eq!(back.status, StatusCode::OK, "{}", back.body);
        assert_eq!(app.delete(&format!("/api/assets/{id}")).await.status, StatusCode::OK);
        let spare = device(&app, "USB-0101", "SER101").await;
        assert_eq!(app.delete(&format!("/api/assets/{spare}")).await.status, StatusCode::OK);
    }

    async fn usb_devices_are_assets_checked_out_and_in_at_the_desk(app) {
        install(&app).await;
        let editor = app.login_as("eddie", Role::Editor).await;
        let id = device(&app, "USB-0042", "AA11BB22").await;

        let detail = app.get(&format!("/api/usb/{id}")).await;
        assert_eq!(detail.status, StatusCode::OK);
        assert_eq!(detail.data()["assettypename"], "USB Drive");
        assert_eq!(detail.data()["capacitygb"], 64);
        assert_eq!(detail.data()["encrypted"], false);
        assert_eq!(detail.data()["currentcheckoutid"], Value::Null);
        let listed = app.get("/api/usb?q=aa11").await;
        assert_eq!(listed.body["meta"]["total"], 1, "{}", listed.body);
        // The loan state belongs to checkout and checkin: a PUT cannot set it.
        let version = detail.data()["version"].clone();
        let changed = app.put(&format!("/api/usb/{id}"), json!({"version": version, "encrypted": true, "devicetype": "flash drive", "currentcheckoutid": 99})).await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
        assert_eq!(changed.data()["encrypted"], true);
        assert_eq!(changed.data()["currentcheckoutid"], Value::Null);

        let due = hours_from_now(48);
        let out = check_out(&app, &editor, id, json!({"checkedoutto": "Ann Smith", "badge": "4411", "purpose": "CNC program transfer", "dueat": due})).await;
        assert_eq!(out.status, StatusCode::CREATED, "{}", out.body);
        assert_eq!(out.data()["checkedoutto"], "Ann Smith");
        assert_eq!(out.data()["checkedoutby"], "eddie");
        assert_eq!(out.data()["assetnumber"], "USB-0042");
        assert_eq!(out.data()["dueat"], due.as_str());
        assert_eq!(out.data()["checkedinat"], Value::Null);
        let checkoutid = out.data()["checkoutid"].as_i64().unwrap();
        assert_eq!(app.get(&format!("/api/usb/{id}")).await.data()["currentcheckoutid"], checkoutid);
        assert_eq!(app.get("/api/usb?currentcheckoutid=null").await.body["meta"]["total"], 0);

        let again = check_out(&app, &editor, id, json!({"checkedoutto": "Bob Jones", "dueat": hours_from_now(24)})).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
        assert_eq!(again.body["success"], false);
        assert!(again.body["error"]["message"].as_str().unwrap().contains("Ann Smith"), "{}", again.body);
        assert_eq!(again.body["error"]["details"]["checkoutid"], checkoutid);
        assert_eq!(app.count("usbcheckouts").await, 1, "the refused checkout left no row");

        // The desk scans the serial.
        let scanned = app.get("/api/usb/lookup?serial=%20aa11bb22%20").await;
        assert_eq!(scanned.status, StatusCode::OK, "{}", scanned.body);
        assert_eq!(scanned.data()["assetid"], id);
        assert_eq!(scanned.data()["checkout"]["checkedoutto"], "Ann Smith");
        assert_eq!(app.get("/api/usb/lookup?serial=NOPE").await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get("/api/usb/lookup").await.status, StatusCode::BAD_REQUEST);

        let back = app.call(Method::POST, &format!("/api/usb/{id}/checkin"), Some(&editor), Some(json!({"condition": "ok"}))).await;
        assert_eq!(back.status, StatusCode::OK, "{}", back.body);
        assert_eq!(back.data()["checkoutid"], checkoutid);
        assert_eq!(back.data()["returncondition"], "ok");
        assert_eq!(back.data()["checkedinby"], "eddie");
        assert!(back.data()["checkedinat"].is_string());
        let twice = app.call(Method::POST, &format!("/api/usb/{id}/checkin"), Some(&editor), Some(json!({}))).await;
        assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.body);
        let scanned = app.get("/api/usb/lookup?serial=AA11BB22").await;
        assert_eq!(scanned.data()["checkout"], Value::Null);

        // Lent again, to someone else: the device's history lists both, newest first.
        let out2 = check_out(&app, &editor, id, json!({"checkedoutto": "Bob Jones", "dueat": hours_from_now(24)})).await;
        assert_eq!(out2.status, StatusCode::CREATED, "{}", out2.body);
        let history = app.get(&format!("/api/usb/{id}/checkouts")).await;
        assert_eq!(history.status, StatusCode::OK, "{}", history.body);
        assert_eq!(field(history.data(), "checkedoutto"), [&json!("Bob Jones"), &json!("Ann Smith")]);
        assert_eq!(history.body["meta"]["total"], 2);
        assert_eq!(app.get("/api/usb/999999/checkouts").await.status, StatusCode::NOT_FOUND);

        // Each checkout and checkin is on the asset's history, by who recorded it.
        let audit = app.get(&format!("/api/assets/{id}/history")).await;
        let entries = audit.data().as_array().unwrap();
        assert_eq!(entries.len(), 5, "created, updated, out, in, out: {}", audit.body);
        assert_eq!(entries[0]["changes"]["after"]["checkedoutto"], "Bob Jones");
        assert_eq!(entries[1]["changes"]["before"]["checkedoutto"], "Ann Smith");
        assert_eq!(entries[1]["changes"]["after"]["returncondition"], "ok");
        assert_eq!(entries[2]["changes"]["after"]["checkedoutto"], "Ann Smith");
        assert_eq!(entries[2]["changes"]["after"]["badge"], "4411");
        assert_eq!(entries[2]["actorname"], "eddie");

        let found = app.get("/api/search?q=aa11bb").await;
        assert_eq!(found.data()[0]["type"], "usbdevice", "{}", found.body);
        assert_eq!(found.data()[0]["title"], "USB-0042");

        // Bob still has it: back in first, then the device (and its loan history) can go.
        assert_eq!(app.delete(&format!("/api/usb/{id}")).await.status, StatusCode::CONFLICT);
        let back = app.call(Method::POST, &format!("/api/usb/{id}/checkin"), Some(&editor), Some(json!({}))).await;
        assert_eq!(back.status, StatusCode::OK, "{}", back.body);
        let deleted = app.delete(&format!("/api/usb/{id}")).await;
        assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
        assert_eq!(app.count("usbcheckouts").await, 0, "a deleted device takes its loans with it");
        assert_eq!(app.get(&format!("/api/usb/{id}")).await.status, StatusCode::NOT_FOUND);
    }

    async fn two_desks_checking_out_one_device_lend_it_once(app) {
        install(&app).await;
        let editor = app.login_as("eddie", Role::Editor).await;
        let id = device(&app, "USB-0001", "RACE1").await;
        // A second server process on the same database.
        let other = app.with_plugins(shopdb::plugins::bundled()).await;
        let due = hours_from_now(8);
        let path = format!("/api/usb/{id}/checkout");
        let (a, b) = tokio::join!(
            app.call(Method::POST, &path, Some(&editor), Some(json!({"checkedoutto": "Ann", "dueat": due}))),
            other.call(Method::POST, &path, Some(&editor), Some(json!({"checkedoutto": "Bob", "dueat": due}))),
        );
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT], "{} / {}", a.body, b.body);
        assert_eq!(app.count("usbcheckouts").await, 1);
        let winner = if a.status == StatusCode::CREATED { &a } else { &b };
        let current = app.get(&format!("/api/usb/{id}")).await.data()["currentcheckoutid"].clone();
        assert_eq!(current, winner.data()["checkoutid"]);
    }

    async fn overdue_devices_show_most_overdue_first_on_the_list_the_dashboard_and_the_cli(app) {
        install(&app).await;
        let admin = app.admin.clone();
        let none = app.get("/api/usb/overdue").await;
        assert_eq!(none.status, StatusCode::OK, "{}", none.body);
        assert_eq!(none.body["meta"]["total"], 0);

        let a = device(&app, "USB-A", "SNA").await;
        let b = device(&app, "USB-B", "SNB").await;
        let c = device(&app, "USB-C", "SNC").await;
        let d = device(&app, "USB-D", "SND").await;
        for (id, who) in [(a, "Ann"), (b, "Bob"), (c, "Cy")] {
            let r = check_out(&app, &admin, id, json!({"checkedoutto": who, "badge": format!("B-{who}"), "dueat": hours_from_now(2)})).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        }
        // Time passes: Bob's loan ran out three days ago, Ann's one hour ago; Cy's is not due.
        set_due(&app, a, &hours_from_now(-1)).await;
        set_due(&app, b, &hours_from_now(-72)).await;
        // A device that was overdue but is back is not listed.
        let r = check_out(&app, &admin, d, json!({"checkedoutto": "Dee", "dueat": hours_from_now(2)})).await;
        assert_eq!(r.status, StatusCode::CREATED);
        set_due(&app, d, &hours_from_now(-100)).await;
        let back = app.post(&format!("/api/usb/{d}/checkin"), json!({})).await;
        assert_eq!(back.status, StatusCode::OK, "{}", back.body);

        let overdue = app.get("/api/usb/overdue").await;
        assert_eq!(overdue.body["meta"]["total"], 2, "{}", overdue.body);
        assert_eq!(field(overdue.data(), "assetnumber"), [&json!("USB-B"), &json!("USB-A")]);
        assert_eq!(overdue.data()[0]["checkedoutto"], "Bob");
        assert_eq!(overdue.data()[0]["serialnumber"], "SNB");
        assert_eq!(overdue.data()[0]["daysoverdue"], 3);
        assert_eq!(overdue.data()[1]["daysoverdue"], 0);
        let second = app.get("/api/usb/overdue?per_page=1&page=2").await;
        assert_eq!(field(second.data(), "assetnumber"), [&json!("USB-A")]);
        assert_eq!(app.get("/api/usb/overdue?badge=x").await.status, StatusCode::BAD_REQUEST);

        let dash = app.get("/api/dashboard").await;
        let widget = dash.data().as_array().unwrap().iter().find(|w| w["name"] == "usb_checkouts").expect("usb widget").clone();
        assert_eq!(widget["error"], Value::Null, "{widget}");
        assert_eq!(widget["data"]["out"], 3);
        assert_eq!(widget["data"]["overdue"], 2);
        assert_eq!(field(&widget["data"]["overduedevices"], "assetnumber"), [&json!("USB-B"), &json!("USB-A")]);
        let nav = app.get("/api/navigation").await;
        assert!(nav.data().as_array().unwrap().iter().any(|n| n["name"] == "USB Drives" && n["plugin"] == "usb"), "{}", nav.body);

        let ctx = app.state.plugin_context("usb").unwrap();
        let loaded = app.state.registry.get("usb").unwrap();
        let command = loaded.plugin.cli_commands().into_iter().find(|c| c.name() == "overdue").unwrap();
        let printed = command.call(ctx.clone(), &[]).await.unwrap();
        let lines: Vec<&str> = printed.lines().collect();
        assert_eq!(lines.len(), 2, "{printed}");
        assert!(lines[0].starts_with("USB-B") && lines[0].contains("Bob (badge B-Bob)"), "{printed}");
        assert!(lines[1].starts_with("USB-A"), "{printed}");
        for id in [a, b] {
            app.post(&format!("/api/usb/{id}/checkin"), json!({})).await;
        }
        assert_eq!(command.call(ctx, &[]).await.unwrap(), "no overdue devices\n");
    }

    async fn loan_history_per_person_by_badge_or_name(app) {
        install(&app).await;
        let admin = app.admin.clone();
        let x = device(&app, "USB-X", "SNX").await;
        let y = device(&app, "USB-Y", "SNY").await;
        for (id, who, badge) in [(x, "Ann Smith", "4411"), (y, "Bob Jones", "5522")] {
            let r = check_out(&app, &admin, id, json!({"checkedoutto": who, "badge": badge, "dueat": hours_from_now(4)})).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        }
        app.post(&format!("/api/usb/{x}/checkin"), json!({"returncondition": "ok"})).await;
        let r = check_out(&app, &admin, x, json!({"checkedoutto": "Bob Jones", "badge": "5522", "dueat": hours_from_now(4)})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let r = check_out(&app, &admin, y, json!({"checkedoutto": "Ann Smith", "badge": "4411", "dueat": hours_from_now(4)})).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "Y is still with Bob");

        let bob = app.get("/api/usb/checkouts?badge=5522").await;
        assert_eq!(bob.status, StatusCode::OK, "{}", bob.body);
        assert_eq!(bob.body["meta"]["total"], 2);
        assert_eq!(field(bob.data(), "assetnumber"), [&json!("USB-X"), &json!("USB-Y")], "newest first");
        let ann = app.get("/api/usb/checkouts?checkedoutto=Ann%20Smith").await;
        assert_eq!(field(ann.data(), "assetnumber"), [&json!("USB-X")]);
        assert_eq!(ann.data()[0]["returncondition"], "ok");
        let searched = app.get("/api/usb/checkouts?q=smith").await;
        assert_eq!(searched.body["meta"]["total"], 1);
        let still_out = app.get("/api/usb/checkouts?checkedinat=null&sort=assetnumber").await;
        assert_eq!(field(still_out.data(), "assetnumber"), [&json!("USB-X"), &json!("USB-Y")]);
        assert_eq!(app.get("/api/usb/checkouts?colour=red").await.status, StatusCode::BAD_REQUEST);
        assert_eq!(app.get("/api/usb/checkouts?sort=colour").await.status, StatusCode::BAD_REQUEST);
    }

    async fn bad_checkouts_are_refused_and_change_nothing(app) {
        install(&app).await;
        let editor = app.login_as("eddie", Role::Editor).await;
        let viewer = app.login_as("vera", Role::Viewer).await;
        let id = device(&app, "USB-0099", "SN99").await;
        let audit_before = app.count("auditlog").await;

        let unknown = check_out(&app, &editor, id, json!({"checkedoutto": "Ann", "dueat": hours_from_now(4), "colour": "red"})).await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", unknown.body);
        assert_eq!(unknown.body["error"]["code"], "validation_failed");
        assert!(unknown.body["error"]["details"]["colour"].is_string(), "{}", unknown.body);
        let past = check_out(&app, &editor, id, json!({"checkedoutto": "Ann", "dueat": hours_from_now(-1)})).await;
        assert_eq!(past.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(past.body["error"]["details"]["dueat"], "must be in the future");
        let missing = check_out(&app, &editor, id, json!({"badge": "1"})).await;
        assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
        let details = missing.body["error"]["details"].as_object().unwrap();
        assert!(details.contains_key("checkedoutto") && details.contains_key("dueat"), "{}", missing.body);
        let garbled = check_out(&app, &editor, id, json!({"checkedoutto": "Ann", "dueat": "next tuesday"})).await;
        assert_eq!(garbled.status, StatusCode::UNPROCESSABLE_ENTITY);
        let not_json = app.call(Method::POST, &format!("/api/usb/{id}/checkout"), Some(&editor), Some(json!(["x"]))).await;
        assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
        // The longest loan is a setting admins change at run time.
        let set = app.put("/api/settings/usb/maxloandays", json!({"value": 1})).await;
        assert_eq!(set.status, StatusCode::OK, "{}", set.body);
        let long = check_out(&app, &editor, id, json!({"checkedoutto": "Ann", "dueat": hours_from_now(72)})).await;
        assert_eq!(long.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", long.body);
        assert!(long.body["error"]["details"]["dueat"].as_str().unwrap().contains("1 days"));
        let audit_after_setting = app.count("auditlog").await;

        let refused = check_out(&app, &viewer, id, json!({"checkedoutto": "Ann", "dueat": hours_from_now(4)})).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let checkin = app.call(Method::POST, &format!("/api/usb/{id}/checkin"), Some(&editor), Some(json!({"colour": "red"}))).await;
        assert_eq!(checkin.status, StatusCode::UNPROCESSABLE_ENTITY);
        // An asset that is not a USB device, and one that does not exist.
        let plain = app.asset(json!({"assetnumber": "LATHE-1", "name": "Lathe"})).await["assetid"].as_i64().unwrap();
        let audit_before_missing = app.count("auditlog").await;
        for missing in [plain, 999_999] {
            let r = check_out(&app, &editor, missing, json!({"checkedoutto": "Ann", "dueat": hours_from_now(4)})).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
            let r = app.call(Method::POST, &format!("/api/usb/{missing}/checkin"), Some(&editor), Some(json!({}))).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
        }
        assert_eq!(app.count("usbcheckouts").await, 0);
        assert_eq!(app.count("auditlog").await, audit_before_missing);
        assert_eq!(audit_after_setting, audit_before + 1, "only the setting change was audited");
        assert_eq!(app.get(&format!("/api/usb/{id}")).await.data()["currentcheckoutid"], Value::Null);
    }
}
