use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use shopdb_core::sqlx::Row;

use crate::backend_tests;
use crate::support::TestApp;
use crate::testplugins::{cameras, camextras};

async fn setup(app: &TestApp) -> (TestApp, String) {
    let app = app.with_plugins(vec![cameras(), camextras()]).await;
    assert_eq!(
        app.post("/api/plugins/cameras/install", json!({}))
            .await
            .status,
        StatusCode::OK
    );
    let token = app
        .post(
            "/api/tokens",
            json!({"name": "camera scanner", "plugin": "cameras"}),
        )
        .await
        .data()["token"]
        .as_str()
        .unwrap()
        .to_string();
    (app, token)
}

async fn push(app: &TestApp, token: &str, body: Value) -> crate::support::Reply {
    app.call(
        Method::POST,
        "/api/collector/cameras",
        Some(token),
        Some(body),
    )
    .await
}

fn statuses(reply: &crate::support::Reply) -> Vec<String> {
    reply.data()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_string())
        .collect()
}

backend_tests! {
    async fn collectors_pushing_at_the_same_time_all_land(app) {
        let (app, token) = setup(&app).await;
        // Four collectors, each with its own ten cameras, push at once; then again, with
        // every record changed.
        for round in ["rtsp://first", "rtsp://second"] {
            let pushes = (0..4).map(|c| {
                let records: Vec<Value> = (0..10)
                    .map(|i| json!({"hostname": format!("cam-{c}-{i}"), "streamurl": format!("{round}/{c}/{i}")}))
                    .collect();
                push(&app, &token, json!({"records": records}))
            });
            for reply in futures_util::future::join_all(pushes).await {
                assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
                assert_eq!(reply.data()["rejected"], 0, "{}", reply.body);
            }
        }
        let listed = app.get("/api/cameras?per_page=100").await;
        assert_eq!(listed.body["meta"]["total"], 40);
        assert!(listed.data().as_array().unwrap().iter().all(|c| c["streamurl"].as_str().unwrap().starts_with("rtsp://second/")));
    }

    async fn collector_batches_create_update_and_reject_per_record(app) {
        let (app, token) = setup(&app).await;
        let batch = json!({"records": [
            {"hostname": "cam-a", "streamurl": "rtsp://a", "fps": 10, "serialnumber": "SN-A1"},
            {"hostname": "cam-b", "streamurl": "rtsp://b"},
            {"hostname": "cam-c", "streamurl": "rtsp://c", "fps": "fast"},
            {"hostname": "cam-d"},
            {"hostname": "cam-e", "streamurl": "rtsp://e", "colour": "red"},
        ]});
        let first = push(&app, &token, batch.clone()).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.body);
        assert_eq!(statuses(&first), ["created", "created", "rejected", "rejected", "rejected"]);
        let results = first.data()["results"].as_array().unwrap();
        assert!(results[2]["details"]["fps"].is_string());
        assert!(results[3]["details"]["streamurl"].is_string(), "required by the table: {}", results[3]);
        assert!(results[4]["details"]["colour"].is_string());
        assert_eq!(app.count("assets").await, 2, "rejected records leave nothing behind");
        assert_eq!(app.count("cameras").await, 2);

        let again = push(&app, &token, batch).await;
        assert_eq!(statuses(&again)[..2], ["unchanged", "unchanged"]);
        let audit_before = app.count("auditlog").await;

        let changed = push(&app, &token, json!({"hostname": " CAM-A ", "fps": 25})).await;
        assert_eq!(statuses(&changed), ["updated"]);
        assert_eq!(changed.data()["results"][0]["changed"], json!(["fps"]));
        let id = changed.data()["results"][0]["assetid"].as_i64().unwrap();
        assert_eq!(app.count("auditlog").await, audit_before + 1, "one audit row for the one change");
        let history = app.get(&format!("/api/assets/{id}/history")).await;
        assert_eq!(history.data()[0]["actortype"], "token");
        assert_eq!(history.data()[0]["actorname"], "camera scanner");
        assert_eq!(history.data()[0]["changes"], json!({"before": {"fps": 10}, "after": {"fps": 25}}));
        assert_eq!(app.get(&format!("/api/cameras/{id}")).await.data()["hostname"], "cam-a", "identity is matched, not rewritten, when only its case differs");
    }

    async fn a_database_error_in_one_new_records_check_rejects_that_record_alone(app) {
        let (app, token) = setup(&app).await;
        let reply = push(&app, &token, json!({"records": [
            {"hostname": "cam-1", "streamurl": "rtsp://1"},
            {"hostname": "cam-2", "streamurl": "rtsp://database-error"},
            {"hostname": "cam-3", "streamurl": "rtsp://3"},
            {"hostname": "cam-4", "streamurl": "rtsp://4"},
        ]})).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(statuses(&reply), ["created", "rejected", "created", "created"], "{}", reply.body);
        assert_eq!(app.count("cameras").await, 3);
        let created: i64 = app
            .db()
            .query("SELECT COUNT(*) FROM auditlog WHERE action = 'created' AND entitytype = 'asset'")
            .fetch_one(app.db().pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert_eq!(created, 3);
        let found = app.get("/api/search?q=rtsp://").await;
        assert_eq!(found.body["meta"]["total"], 3, "{}", found.body);
    }

    async fn a_renamed_machine_is_recognised_and_junk_serials_never_match(app) {
        let (app, token) = setup(&app).await;
        push(&app, &token, json!({"hostname": "cam-old", "streamurl": "rtsp://x", "serialnumber": "PF3XK9"})).await;
        let renamed = push(&app, &token, json!({"hostname": "cam-new", "serialnumber": "pf3xk9"})).await;
        assert_eq!(statuses(&renamed), ["updated"], "{}", renamed.body);
        assert_eq!(renamed.data()["results"][0]["matchedby"], "serialnumber");
        assert_eq!(app.count("assets").await, 1, "renamed, not duplicated");
        let id = renamed.data()["results"][0]["assetid"].as_i64().unwrap();
        let history = app.get(&format!("/api/assets/{id}/history")).await;
        assert_eq!(history.data()[0]["changes"]["before"]["hostname"], "cam-old");
        assert_eq!(history.data()[0]["changes"]["after"]["hostname"], "cam-new");

        let junk = push(&app, &token, json!({"records": [
            {"hostname": "cam-j1", "streamurl": "rtsp://j1", "serialnumber": "Default string"},
            {"hostname": "cam-j2", "streamurl": "rtsp://j2", "serialnumber": "Default string"},
            {"hostname": "cam-j3", "streamurl": "rtsp://j3", "serialnumber": "To be filled by O.E.M."},
        ]})).await;
        assert_eq!(statuses(&junk), ["created", "created", "created"], "machines sharing a junk serial stay apart");
        assert_eq!(app.count("assets").await, 4);
    }

    async fn collector_access_schema_and_disable(app) {
        let (app, token) = setup(&app).await;
        assert_eq!(app.call(Method::GET, "/api/assets", Some(&token), None).await.status, StatusCode::FORBIDDEN);
        let other = app.post("/api/tokens", json!({"name": "extras collector", "plugin": "camextras"})).await.data()["token"].as_str().unwrap().to_string();
        assert_eq!(push(&app, &other, json!({"hostname": "x", "streamurl": "y"})).await.status, StatusCode::FORBIDDEN);
        assert_eq!(app.call(Method::POST, "/api/collector/cameras", None, Some(json!({"hostname": "x"}))).await.status, StatusCode::UNAUTHORIZED);
        let viewer = app.login_as("watcher", shopdb_core::auth::Role::Viewer).await;
        assert_eq!(push(&app, &viewer, json!({"hostname": "x", "streamurl": "y"})).await.status, StatusCode::FORBIDDEN);
        assert_eq!(push(&app, &app.admin.clone(), json!({"hostname": "by-admin", "streamurl": "y"})).await.status, StatusCode::OK);

        let schema = app.get("/api/collector/cameras/schema").await;
        assert_eq!(schema.status, StatusCode::OK);
        assert_eq!(schema.data()["x-identityfield"], "hostname");
        assert_eq!(schema.data()["oneOf"][0]["required"], json!(["hostname"]));
        assert_eq!(schema.data()["oneOf"][0]["properties"]["fps"]["type"], "integer");

        assert_eq!(push(&app, &token, json!([1, 2])).await.status, StatusCode::BAD_REQUEST);
        assert_eq!(push(&app, &token, json!({"records": []})).await.status, StatusCode::BAD_REQUEST);
        let too_many: Vec<Value> = (0..1001).map(|i| json!({"hostname": format!("c{i}")})).collect();
        assert_eq!(push(&app, &token, json!({"records": too_many})).await.status, StatusCode::PAYLOAD_TOO_LARGE);

        app.post("/api/plugins/cameras/disable", json!({})).await;
        assert_eq!(push(&app, &token, json!({"hostname": "x", "streamurl": "y"})).await.status, StatusCode::NOT_FOUND);
    }
}
