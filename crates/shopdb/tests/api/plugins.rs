use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use shopdb_core::plugin::lifecycle;
use shopdb_core::schema::live_columns;

use crate::backend_tests;
use crate::support::TestApp;
use crate::testplugins::{self, cameras, camextras};

async fn with_plugins(
    app: &TestApp,
    plugins: Vec<shopdb_core::plugin::registry::Candidate>,
) -> TestApp {
    app.with_plugins(plugins).await
}

async fn action(app: &TestApp, name: &str, action: &str) -> crate::support::Reply {
    app.post(&format!("/api/plugins/{name}/{action}"), json!({}))
        .await
}

fn state_of(list: &Value, name: &str) -> String {
    list.as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .map(|p| p["state"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

backend_tests! {
    async fn extension_records_are_one_asset_with_its_plugin_fields(app) {
        let app = with_plugins(&app, vec![cameras()]).await;
        action(&app, "cameras", "install").await;
        let loc = app.post("/api/locations", json!({"name": "Gate 4"})).await.data()["locationid"].clone();
        let made = app.post("/api/cameras", json!({"assetnumber": "CAM-9", "name": "Gate camera", "locationid": loc, "streamurl": "rtsp://gate4/live", "fps": 15})).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        let cam = made.data();
        let id = cam["assetid"].as_i64().unwrap();
        assert_eq!((cam["assettypename"].as_str(), cam["locationname"].as_str(), cam["fps"].as_i64()), (Some("Camera"), Some("Gate 4"), Some(15)));
        assert_eq!(app.get(&format!("/api/assets/{id}")).await.data()["assetnumber"], "CAM-9", "it is an asset like any other");

        let both = app.post("/api/cameras", json!({"assetnumber": "CAM-9", "fps": "fast"})).await;
        assert_eq!(both.status, StatusCode::UNPROCESSABLE_ENTITY);
        let details = &both.body["error"]["details"];
        assert!(details["assetnumber"].is_string() && details["fps"].is_string() && details["streamurl"].is_string(), "asset and plugin fields reported together: {details}");
        assert_eq!(app.count("assets").await, 1, "nothing half-written");

        let changed = app.put(&format!("/api/cameras/{id}"), json!({"fps": 30, "version": 1})).await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
        assert_eq!((changed.data()["fps"].as_i64(), changed.data()["version"].as_i64()), (Some(30), Some(2)));
        let stale = app.put(&format!("/api/cameras/{id}"), json!({"fps": 60, "version": 1})).await;
        assert_eq!(stale.status, StatusCode::CONFLICT);
        assert_eq!(app.get(&format!("/api/cameras/{id}")).await.data()["fps"], 30);

        let history = app.get(&format!("/api/assets/{id}/history")).await;
        assert_eq!(history.data()[0]["changes"], json!({"before": {"fps": 15}, "after": {"fps": 30}}));
        assert_eq!(history.data()[1]["changes"]["after"]["streamurl"], "rtsp://gate4/live");

        let found = app.get("/api/search?q=cam-9").await;
        assert_eq!(found.data().as_array().unwrap().len(), 1, "one result per thing: {}", found.body);
        assert_eq!(found.data()[0]["type"], "camera");
        assert_eq!(app.get("/api/cameras?fps=30").await.body["meta"]["total"], 1);
        assert_eq!(app.get("/api/cameras?q=gate4").await.body["meta"]["total"], 1);
        assert_eq!(app.get("/api/cameras?sort=-fps").await.status, StatusCode::OK);

        assert_eq!(app.delete(&format!("/api/cameras/{id}")).await.status, StatusCode::OK);
        assert_eq!((app.count("assets").await, app.count("cameras").await, app.count("searchindex").await), (0, 0, 0));
    }

    async fn install_use_disable_enable_uninstall_reinstall(app) {
        let app = with_plugins(&app, vec![cameras()]).await;
        assert_eq!(state_of(app.get("/api/plugins").await.data(), "cameras"), "available");
        assert_eq!(app.get("/api/cameras/ping").await.status, StatusCode::NOT_FOUND, "not installed yet");

        let installed = action(&app, "cameras", "install").await;
        assert_eq!(installed.status, StatusCode::OK, "{}", installed.body);
        assert_eq!(state_of(app.get("/api/plugins").await.data(), "cameras"), "enabled");
        assert_eq!(app.get("/api/cameras/ping").await.data()["pong"], true);
        let types = app.get("/api/assettypes?name=Camera").await;
        assert_eq!(types.body["meta"]["total"], 1, "on_install seeded the asset type");
        assert_eq!(action(&app, "cameras", "install").await.status, StatusCode::CONFLICT, "twice");

        // The plugin's generic CRUD, search entry, navigation item and widgets.
        let cam = app.post("/api/cameras", json!({"assetnumber": "CAM-1", "streamurl": "rtsp://cam-17.plant/live", "fps": 25})).await;
        assert_eq!(cam.status, StatusCode::CREATED, "{}", cam.body);
        let asset = cam.data()["assetid"].as_i64().unwrap();
        assert_eq!(app.get("/api/search?q=cam-17").await.data()[0]["type"], "camera");
        let nav = app.get("/api/navigation").await;
        assert_eq!(nav.data()[0]["name"], "Cameras");
        let dash = app.get("/api/dashboard").await;
        assert_eq!(dash.status, StatusCode::OK, "a failing widget does not fail the dashboard");
        let widgets = dash.data().as_array().unwrap();
        assert_eq!(widgets[0]["data"], json!({"count": 1}));
        assert_eq!(widgets[1]["data"], Value::Null);
        assert!(widgets[1]["error"].as_str().unwrap().contains("broken"), "{}", widgets[1]);
        assert!(!widgets[1]["error"].as_str().unwrap().contains("nowhere"), "no SQL in the answer");

        // Disabled: routes 404, contributions gone, data kept.
        assert_eq!(action(&app, "cameras", "disable").await.status, StatusCode::OK);
        assert_eq!(app.get("/api/cameras/ping").await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get("/api/cameras").await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get("/api/navigation").await.data(), &json!([]));
        assert_eq!(app.get("/api/dashboard").await.data(), &json!([]));
        assert_eq!(app.get("/api/search?q=cam-17").await.data(), &json!([]));
        assert_eq!(app.count("cameras").await, 1);
        assert_eq!(action(&app, "cameras", "enable").await.status, StatusCode::OK);
        assert_eq!(app.get("/api/cameras").await.body["meta"]["total"], 1);

        // Uninstall: backup written, tables and bookkeeping gone, the asset stays.
        let ctx = lifecycle::context(app.db(), &app.state.registry, app.state.registry.get("cameras").unwrap());
        ctx.set_setting("retentiondays", json!(90), "tests").await.unwrap();
        let gone = action(&app, "cameras", "uninstall").await;
        assert_eq!(gone.status, StatusCode::OK, "{}", gone.body);
        let backup = gone.data()["backup"].as_str().unwrap().to_string();
        let saved: Value = serde_json::from_slice(&std::fs::read(&backup).unwrap()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "the backup holds records: readable by its owner only");
        }
        assert_eq!(saved["tables"]["cameras"][0]["streamurl"], "rtsp://cam-17.plant/live");
        std::fs::remove_file(&backup).unwrap();
        assert!(live_columns(app.db(), "cameras").await.unwrap().is_empty(), "table dropped");
        let status = shopdb_core::migrate::status(app.db(), &lifecycle::chain_of(app.state.registry.get("cameras").unwrap())).await.unwrap();
        assert!(status.applied.is_empty(), "migration records removed");
        assert_eq!(shopdb_core::settings::get_setting(app.db(), "cameras", "retentiondays").await.unwrap(), None);
        assert_eq!(app.get(&format!("/api/assets/{asset}")).await.status, StatusCode::OK, "core data stays");
        assert_eq!(app.get("/api/search?q=cam-17").await.data(), &json!([]));
        let plain = app.get("/api/search?q=cam-1").await;
        assert_eq!(plain.body["meta"]["total"], 1, "the asset is found as an asset again: {}", plain.body);
        assert_eq!(plain.data()[0]["type"], "asset");

        let again = action(&app, "cameras", "install").await;
        assert_eq!(again.status, StatusCode::OK, "reinstall after uninstall: {}", again.body);
        assert_eq!(app.get("/api/cameras").await.body["meta"]["total"], 0);
    }

    async fn uninstall_can_keep_the_data(app) {
        let app = with_plugins(&app, vec![cameras()]).await;
        action(&app, "cameras", "install").await;
        let made = app.post("/api/cameras", json!({"assetnumber": "CAM-2", "streamurl": "rtsp://x"})).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        let kept = app.post("/api/plugins/cameras/uninstall?keep_data=true", json!({})).await;
        assert_eq!(kept.status, StatusCode::OK, "{}", kept.body);
        assert_eq!(kept.data()["backup"], Value::Null);
        assert_eq!(app.count("cameras").await, 1);
    }

    async fn dependencies_are_respected(app) {
        let app = with_plugins(&app, vec![cameras(), camextras()]).await;
        let early = action(&app, "camextras", "install").await;
        assert_eq!(early.status, StatusCode::CONFLICT);
        assert!(early.body["error"]["message"].as_str().unwrap().contains("needs cameras installed first"), "{}", early.body);
        assert_eq!(action(&app, "cameras", "install").await.status, StatusCode::OK);
        assert_eq!(action(&app, "camextras", "install").await.status, StatusCode::OK);
        let refused = action(&app, "cameras", "uninstall").await;
        assert_eq!(refused.status, StatusCode::CONFLICT);
        assert!(refused.body["error"]["message"].as_str().unwrap().contains("camextras"));
        assert_eq!(action(&app, "cameras", "disable").await.status, StatusCode::CONFLICT, "an enabled dependent blocks disable");
        for name in ["camextras", "cameras"] {
            let done = action(&app, name, "uninstall").await;
            assert_eq!(done.status, StatusCode::OK, "{}", done.body);
            std::fs::remove_file(done.data()["backup"].as_str().unwrap()).unwrap();
        }
    }

    async fn broken_plugins_are_quarantined_with_reasons(app) {
        let mut plugins = testplugins::broken();
        plugins.push(cameras());
        let app = with_plugins(&app, plugins).await;
        let list = app.get("/api/plugins").await;
        let reason = |name: &str| -> String {
            list.data().as_array().unwrap().iter().find(|p| p["name"] == name).map(|p| {
                assert_eq!(p["state"], "quarantined", "{name}");
                p["reason"].as_str().unwrap().to_string()
            }).unwrap_or_else(|| panic!("{name} not listed: {}", list.body))
        };
        assert!(reason("futurecams").contains("PluginVersion") && reason("futurecams").contains(">=2.0.0") && reason("futurecams").contains(shopdb_core::CONTRACT_VERSION));
        assert!(reason("thieves").contains("table assets is declared by both core and thieves"), "{}", reason("thieves"));
        assert!(reason("orphan").contains("nosuchplugin"));
        assert!(reason("chicken").contains("cycle") && reason("egg").contains("cycle"));
        assert!(reason("ghost").contains("PluginNotFound"));
        assert_eq!(state_of(list.data(), "cameras"), "available", "one broken plugin never stops the others");
        assert_eq!(action(&app, "futurecams", "install").await.status, StatusCode::CONFLICT);
        assert_eq!(app.get("/api/futurecams").await.status, StatusCode::NOT_FOUND, "quarantined routes are not mounted");
        assert_eq!(app.state.registry.problems().len(), 6);
    }

    async fn a_second_process_sees_state_changes_within_seconds(app) {
        let one = with_plugins(&app, vec![cameras()]).await;
        let two = with_plugins(&app, vec![cameras()]).await;
        assert_eq!(action(&one, "cameras", "install").await.status, StatusCode::OK);
        let started = Instant::now();
        loop {
            if two.get("/api/cameras/ping").await.status == StatusCode::OK {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(5), "the other process never saw the install");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(action(&one, "cameras", "disable").await.status, StatusCode::OK);
        let started = Instant::now();
        while two.get("/api/cameras/ping").await.status != StatusCode::NOT_FOUND {
            assert!(started.elapsed() < Duration::from_secs(5), "the other process never saw the disable");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn plugin_tables_match_their_models(app) {
        let app = with_plugins(&app, vec![cameras(), camextras()]).await;
        action(&app, "cameras", "install").await;
        action(&app, "camextras", "install").await;
        for p in &app.state.registry.loaded {
            for table in &p.tables {
                let live = live_columns(app.db(), &table.name).await.unwrap();
                let declared: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
                assert_eq!(live, declared, "{}.{} drifted from its model", p.manifest.name, table.name);
            }
        }
        // And the check itself notices drift.
        app.db().query("ALTER TABLE cameras ADD COLUMN rogue INTEGER").execute(app.db().pool()).await.unwrap();
        assert_ne!(live_columns(app.db(), "cameras").await.unwrap().len(), testplugins::cameras_table().columns.len());
    }

    async fn admins_see_and_change_plugin_settings(app) {
        let app = with_plugins(&app, vec![cameras()]).await;
        action(&app, "cameras", "install").await;
        let list = app.get("/api/settings").await;
        assert_eq!(list.data()[0], json!({"plugin": "cameras", "key": "retentiondays", "type": "integer", "default": 30, "value": 30, "secret": false, "help": "days to keep"}));
        assert_eq!(app.put("/api/settings/cameras/retentiondays", json!({"value": "a week"})).await.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.put("/api/settings/cameras/nosuch", json!({"value": 1})).await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.put("/api/settings/cameras/retentiondays", json!({"value": 7})).await.status, StatusCode::OK);
        assert_eq!(app.get("/api/settings").await.data()[0]["value"], 7);
        let trail = app.get("/api/audit?entitytype=setting").await;
        let entry = trail.data().as_array().unwrap().iter().find(|e| e["entityname"] == "cameras.retentiondays").unwrap().clone();
        assert_eq!(entry["actorname"], "testadmin");
        assert_eq!(entry["changes"], json!({"before": {"value": null}, "after": {"value": "7"}}));
        let viewer = app.login_as("val", shopdb_core::auth::Role::Viewer).await;
        assert_eq!(app.call(Method::GET, "/api/settings", Some(&viewer), None).await.status, StatusCode::FORBIDDEN);
    }

    async fn the_search_index_can_be_rebuilt(app) {
        let app = with_plugins(&app, vec![cameras()]).await;
        action(&app, "cameras", "install").await;
        app.asset(json!({"assetnumber": "PLAIN-1"})).await;
        app.post("/api/cameras", json!({"assetnumber": "CAM-77", "streamurl": "rtsp://dock/7"})).await;
        // Writes go through the writing connection, as the server's own do.
        app.db().execute_write("DELETE FROM searchindex", &[]).await.unwrap();
        assert_eq!(app.get("/api/search?q=dock").await.data(), &json!([]));
        let n = shopdb::app::reindex_search(&app.state, &shopdb::progress::Progress::silent()).await.unwrap();
        assert_eq!(n, 3, "two assets, one of them also a camera");
        assert_eq!(app.get("/api/search?q=dock").await.data()[0]["type"], "camera");
        assert_eq!(app.get("/api/search?q=plain").await.data()[0]["type"], "asset");
        assert_eq!(app.get("/api/search?q=cam-77").await.data().as_array().unwrap().len(), 1);
    }

    async fn plugins_get_settings_services_and_commands(app) {
        let app = with_plugins(&app, vec![cameras()]).await;
        action(&app, "cameras", "install").await;
        let loaded = app.state.registry.get("cameras").unwrap();
        let ctx = lifecycle::context(app.db(), &app.state.registry, loaded);
        assert_eq!(ctx.setting("retentiondays").await.unwrap(), json!(30), "declared default");
        assert!(ctx.set_setting("retentiondays", json!("long"), "tests").await.is_err(), "typed");
        ctx.set_setting("retentiondays", json!(7), "tests").await.unwrap();
        assert_eq!(ctx.setting("retentiondays").await.unwrap(), json!(7));
        assert_eq!(testplugins::service_description(&ctx), "counts cameras");
        let missing = ctx.service::<testplugins::CameraCounter>("zabbix").err().unwrap();
        assert!(missing.to_string().contains("no plugin offers the service 'zabbix'"));
        let count = loaded.plugin.cli_commands().into_iter().find(|c| c.name() == "count").unwrap();
        assert_eq!(count.call(ctx, &[]).await.unwrap(), "0 cameras\n");
        let routes = app.call(Method::GET, "/api/openapi.json", None, None).await;
        assert!(routes.body["paths"]["/api/cameras/ping"].is_object(), "plugin routes are documented");
    }
}

#[test]
fn the_contract_check_accepts_good_plugins_and_names_problems() {
    let good = testplugins::cameras().unwrap();
    shopdb_core::plugin::contract::check(good.as_ref());
    let bad = testplugins::Cameras {
        manifest: testplugins::manifest("thieves", ">=2.0.0", &[]),
        extra_table: Some("assets"),
    };
    let problems = shopdb_core::plugin::contract::problems(&bad);
    let all = problems.join("\n");
    assert!(all.contains("PluginVersion"), "{all}");
    assert!(all.contains("table assets is a core table"), "{all}");
    assert!(
        all.contains("route GET /api/cameras/ping is outside the api_prefix /api/thieves"),
        "{all}"
    );
    assert!(
        all.contains("resource /api/cameras is outside the api_prefix /api/thieves"),
        "{all}"
    );
}
