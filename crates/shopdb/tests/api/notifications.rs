//! The bundled notifications plugin on every backend: announcements written by editors, the
//! recent list and widget, and the kiosk list floor screens read.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use shopdb_core::auth::Role;

use crate::backend_tests;
use crate::support::{Reply, TestApp, hours_from_now};

async fn install(app: &TestApp) {
    let r = app
        .post("/api/plugins/notifications/install", json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

async fn location(app: &TestApp, name: &str) -> i64 {
    let r = app.post("/api/locations", json!({"name": name})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.data()["locationid"].as_i64().unwrap()
}

/// Posts an announcement as the admin; `starts`/`ends` are hours from now.
async fn announce(
    app: &TestApp,
    title: &str,
    extra: Value,
    starts: i64,
    ends: Option<i64>,
) -> Reply {
    let mut body = json!({"title": title, "message": format!("{title}: details"), "startsat": hours_from_now(starts)});
    if let Some(ends) = ends {
        body["endsat"] = json!(hours_from_now(ends));
    }
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = app.post("/api/notifications", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r
}

fn titles(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap())
        .collect()
}

backend_tests! {
    async fn editors_write_notifications_and_viewers_read_them(app) {
        install(&app).await;
        let editor = app.login_as("eddie", Role::Editor).await;
        let viewer = app.login_as("vera", Role::Viewer).await;
        let bay = location(&app, "Bay 3").await;

        let made = app.call(Method::POST, "/api/notifications", Some(&editor), Some(json!({
            "title": "Compressor maintenance", "message": "Shop air off 06:00-08:00", "severity": "warning",
            "startsat": hours_from_now(1), "endsat": hours_from_now(3), "locationid": bay
        }))).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        assert_eq!(made.data()["severity"], "warning");
        assert_eq!(made.data()["isactive"], true);
        assert_eq!(made.data()["locationname"], "Bay 3");
        assert!(made.data()["createddate"].is_string() && made.data()["modifieddate"].is_string());
        let id = made.data()["notificationid"].as_i64().unwrap();
        let plain = app.call(Method::POST, "/api/notifications", Some(&editor), Some(json!({
            "title": "Welcome", "message": "New badge readers at the gate", "startsat": hours_from_now(-1)
        }))).await;
        assert_eq!(plain.status, StatusCode::CREATED, "{}", plain.body);
        assert_eq!(plain.data()["severity"], "info", "the default severity");
        assert_eq!(plain.data()["endsat"], Value::Null);
        assert_eq!(plain.data()["locationid"], Value::Null);

        let listed = app.call(Method::GET, "/api/notifications", Some(&viewer), None).await;
        assert_eq!(listed.status, StatusCode::OK);
        assert_eq!(listed.body["meta"]["total"], 2);
        assert_eq!(titles(listed.data()), ["Compressor maintenance", "Welcome"], "latest start first");
        let refused = app.call(Method::POST, "/api/notifications", Some(&viewer), Some(json!({"title": "x"}))).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(titles(app.get("/api/notifications?severity=warning").await.data()), ["Compressor maintenance"]);
        assert_eq!(titles(app.get(&format!("/api/notifications?locationid={bay}")).await.data()), ["Compressor maintenance"]);
        assert_eq!(titles(app.get("/api/notifications?locationid=null").await.data()), ["Welcome"]);
        assert_eq!(app.get("/api/notifications?isactive=false").await.body["meta"]["total"], 0);

        let changed = app.call(Method::PUT, &format!("/api/notifications/{id}"), Some(&editor), Some(json!({"severity": "outage", "isactive": false}))).await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
        assert_eq!(changed.data()["severity"], "outage");
        assert_eq!(titles(app.get("/api/notifications?isactive=false").await.data()), ["Compressor maintenance"]);
        assert_eq!(app.call(Method::GET, &format!("/api/notifications/{id}"), Some(&viewer), None).await.data()["isactive"], false);

        let found = app.get("/api/search?q=compressor").await;
        assert_eq!(found.data()[0]["type"], "notification", "{}", found.body);
        let audit = app.get(&format!("/api/audit?entitytype=notification&entityid={id}")).await;
        let actions: Vec<&str> = audit.data().as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["updated", "created"], "{}", audit.body);
        assert_eq!(audit.data()[0]["actorname"], "eddie");
        assert_eq!(audit.data()[0]["changes"]["after"]["severity"], "outage");

        // A removed location leaves its announcements site-wide.
        assert_eq!(app.delete(&format!("/api/locations/{bay}")).await.status, StatusCode::OK);
        assert_eq!(app.get(&format!("/api/notifications/{id}")).await.data()["locationid"], Value::Null);
        let deleted = app.call(Method::DELETE, &format!("/api/notifications/{id}"), Some(&editor), None).await;
        assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
        assert_eq!(app.get(&format!("/api/notifications/{id}")).await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.count("notifications").await, 1);
    }

    async fn recent_lists_current_and_upcoming_for_a_location_and_the_site(app) {
        install(&app).await;
        let a = location(&app, "Bay A").await;
        let b = location(&app, "Bay B").await;
        announce(&app, "Ended", json!({}), -10, Some(-5)).await;
        announce(&app, "Switched off", json!({"isactive": false}), -1, None).await;
        announce(&app, "Site notice", json!({}), -3, None).await;
        announce(&app, "Bay A outage", json!({"severity": "outage", "locationid": a}), -2, Some(2)).await;
        announce(&app, "Bay A upcoming", json!({"locationid": a}), 5, Some(6)).await;
        let bay_b = announce(&app, "Bay B notice", json!({"locationid": b}), -1, None).await;

        let recent = app.get("/api/notifications/recent").await;
        assert_eq!(recent.status, StatusCode::OK, "{}", recent.body);
        assert_eq!(titles(recent.data()), ["Bay A upcoming", "Bay B notice", "Bay A outage", "Site notice"]);
        let states: Vec<&Value> = recent.data().as_array().unwrap().iter().map(|n| &n["state"]).collect();
        assert_eq!(states, [&json!("upcoming"), &json!("current"), &json!("current"), &json!("current")]);
        assert_eq!(recent.body["meta"]["total"], 4);
        assert_eq!(recent.data()[2]["locationname"], "Bay A");

        let at_a = app.get(&format!("/api/notifications/recent?locationid={a}")).await;
        assert_eq!(titles(at_a.data()), ["Bay A upcoming", "Bay A outage", "Site notice"]);
        let second = app.get("/api/notifications/recent?per_page=1&page=2").await;
        assert_eq!(titles(second.data()), ["Bay B notice"]);
        assert_eq!(app.get("/api/notifications/recent?locationid=999999").await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get("/api/notifications/recent?locationid=abc").await.status, StatusCode::BAD_REQUEST);
        assert_eq!(app.get("/api/notifications/recent?colour=red").await.status, StatusCode::BAD_REQUEST);

        let dash = app.get("/api/dashboard").await;
        let widget = dash.data().as_array().unwrap().iter().find(|w| w["name"] == "recent_notifications").expect("widget").clone();
        assert_eq!(widget["error"], Value::Null, "{widget}");
        assert_eq!(widget["endpoint"], "/api/notifications/recent");
        assert_eq!(widget["data"]["current"], 3);
        assert_eq!(widget["data"]["upcoming"], 1);
        assert_eq!(widget["data"]["notifications"][0]["title"], "Bay A upcoming");
        let nav = app.get("/api/navigation").await;
        assert!(nav.data().as_array().unwrap().iter().any(|n| n["name"] == "Notifications" && n["plugin"] == "notifications"), "{}", nav.body);

        // An editor's change shows at once, without a restart.
        let id = bay_b.data()["notificationid"].as_i64().unwrap();
        assert_eq!(app.put(&format!("/api/notifications/{id}"), json!({"isactive": false})).await.status, StatusCode::OK);
        assert_eq!(titles(app.get("/api/notifications/recent").await.data()), ["Bay A upcoming", "Bay A outage", "Site notice"]);
    }

    async fn the_kiosk_list_is_public_only_while_the_setting_is_on(app) {
        install(&app).await;
        let viewer = app.login_as("vera", Role::Viewer).await;
        let a = location(&app, "Bay A").await;
        let b = location(&app, "Bay B").await;
        announce(&app, "Site info", json!({}), -1, None).await;
        announce(&app, "Bay A warning", json!({"severity": "warning", "locationid": a}), -2, None).await;
        announce(&app, "Bay A outage", json!({"severity": "outage", "locationid": a}), -5, Some(1)).await;
        announce(&app, "Bay A later", json!({"severity": "outage", "locationid": a}), 2, None).await;
        announce(&app, "Bay B info", json!({"locationid": b}), -1, None).await;
        let path = format!("/api/notifications/kiosk?locationid={a}");

        let anonymous = app.call(Method::GET, &path, None, None).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{}", anonymous.body);
        assert_eq!(anonymous.body["success"], false);
        assert_eq!(anonymous.body["error"]["code"], "unauthorized");
        let read = app.call(Method::GET, &path, Some(&viewer), None).await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.body);
        assert_eq!(titles(read.data()), ["Bay A outage", "Bay A warning", "Site info"], "current only, outages first");

        let on = app.put("/api/settings/notifications/kioskpublic", json!({"value": true})).await;
        assert_eq!(on.status, StatusCode::OK, "{}", on.body);
        let public = app.call(Method::GET, &path, None, None).await;
        assert_eq!(public.status, StatusCode::OK, "{}", public.body);
        assert_eq!(titles(public.data()), ["Bay A outage", "Bay A warning", "Site info"]);
        let everywhere = app.call(Method::GET, "/api/notifications/kiosk", None, None).await;
        assert_eq!(titles(everywhere.data()), ["Bay A outage", "Bay A warning", "Bay B info", "Site info"]);
        assert_eq!(app.call(Method::GET, "/api/notifications/kiosk?locationid=999999", None, None).await.status, StatusCode::NOT_FOUND);
        // Only the kiosk list opens up; the rest still needs a login.
        assert_eq!(app.call(Method::GET, "/api/notifications/recent", None, None).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(app.call(Method::GET, "/api/notifications", None, None).await.status, StatusCode::UNAUTHORIZED);

        let off = app.put("/api/settings/notifications/kioskpublic", json!({"value": false})).await;
        assert_eq!(off.status, StatusCode::OK);
        assert_eq!(app.call(Method::GET, &path, None, None).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(app.call(Method::GET, &path, Some(&viewer), None).await.status, StatusCode::OK);
        let bad = app.put("/api/settings/notifications/kioskpublic", json!({"value": "yes"})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    }

    async fn bad_notifications_are_refused_and_change_nothing(app) {
        install(&app).await;
        let editor = app.login_as("eddie", Role::Editor).await;
        let audit_before = app.count("auditlog").await;
        let post = |body: Value| {
            let editor = editor.clone();
            let app = &app;
            async move { app.call(Method::POST, "/api/notifications", Some(&editor), Some(body)).await }
        };
        let good = json!({"title": "Fire drill", "message": "At 10:00", "startsat": hours_from_now(1), "endsat": hours_from_now(2)});
        let with = |k: &str, v: Value| {
            let mut b = good.clone();
            b[k] = v;
            b
        };
        let cases = [
            (with("severity", json!("urgent")), "severity"),
            (with("severity", json!(3)), "severity"),
            (with("endsat", json!(hours_from_now(-1))), "endsat"),
            (with("endsat", good["startsat"].clone()), "endsat"),
            (with("colour", json!("red")), "colour"),
            (with("startsat", json!("tomorrow")), "startsat"),
            (with("locationid", json!(999_999)), "locationid"),
            (with("isactive", json!("yes")), "isactive"),
            (json!({"message": "no title", "startsat": hours_from_now(1)}), "title"),
            (json!({"title": "no start", "message": "x"}), "startsat"),
        ];
        for (body, field) in cases {
            let r = post(body.clone()).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", r.body);
            assert_eq!(r.body["error"]["code"], "validation_failed");
            assert!(r.body["error"]["details"][field].is_string(), "{field} not named: {}", r.body);
        }
        assert_eq!(app.count("notifications").await, 0);
        assert_eq!(app.count("auditlog").await, audit_before);

        let made = post(good.clone()).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        let id = made.data()["notificationid"].as_i64().unwrap();
        let path = format!("/api/notifications/{id}");
        for (body, field) in [
            (json!({"severity": "Outage"}), "severity"),
            (json!({"endsat": hours_from_now(-3)}), "endsat"),
            (json!({"startsat": hours_from_now(5)}), "endsat"),
        ] {
            let r = app.call(Method::PUT, &path, Some(&editor), Some(body.clone())).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", r.body);
            assert!(r.body["error"]["details"][field].is_string(), "{field} not named: {}", r.body);
        }
        let unchanged = app.get(&path).await;
        assert_eq!(unchanged.data()["severity"], "info");
        assert_eq!(unchanged.data()["startsat"], made.data()["startsat"]);
        assert_eq!(app.count("auditlog").await, audit_before + 1, "only the creation was audited");
    }
}
