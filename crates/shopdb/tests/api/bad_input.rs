use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use crate::backend_tests;
use crate::support::TestApp;

/// Rows in the tables a bad request might touch.
async fn snapshot(app: &TestApp) -> (i64, i64, i64) {
    (
        app.count("assets").await,
        app.count("auditlog").await,
        app.count("statuses").await,
    )
}

backend_tests! {
    async fn bad_input_gets_a_clear_answer_and_changes_nothing(app) {
        app.asset(json!({"assetnumber": "A-100", "name": "existing"})).await;
        let before = snapshot(&app).await;
        let token = app.admin.clone();

        let raw = |body: &'static str| {
            Request::builder()
                .method(Method::POST)
                .uri("/api/assets")
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap()
        };
        let malformed = app.send(raw("{\"assetnumber\": ")).await;
        assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
        assert_eq!(malformed.body["success"], false);
        assert!(malformed.body["error"]["message"].as_str().unwrap().contains("malformed JSON"));
        assert_eq!(app.send(raw("[1, 2]")).await.status, StatusCode::BAD_REQUEST);
        assert_eq!(app.send(raw("")).await.status, StatusCode::BAD_REQUEST);

        let wrong_types = app.post("/api/assets", json!({"assetnumber": 12, "assettypeid": "one", "mapx": "left", "mapy": 1})).await;
        assert_eq!(wrong_types.status, StatusCode::UNPROCESSABLE_ENTITY);
        let details = &wrong_types.body["error"]["details"];
        for field in ["assetnumber", "assettypeid", "mapx"] {
            assert!(details[field].is_string(), "{field} not named in {details}");
        }

        let unknown = app.post("/api/assets", json!({"assetnumber": "A-200", "assettypeid": 1, "colour": "red"})).await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(unknown.body["error"]["details"]["colour"], "unknown field for asset");

        let missing = app.post("/api/assets", json!({"name": "no number"})).await;
        assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(missing.body["error"]["details"]["assetnumber"], "is required");
        assert_eq!(missing.body["error"]["details"]["assettypeid"], "is required");

        let duplicate = app.post("/api/assets", json!({"assetnumber": " A-100 ", "assettypeid": 1})).await;
        assert_eq!(duplicate.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", duplicate.body);
        assert!(duplicate.body["error"]["details"]["assetnumber"].as_str().unwrap().contains("already used"));

        let dangling = app.post("/api/assets", json!({"assetnumber": "A-300", "assettypeid": 1, "locationid": 4242})).await;
        assert_eq!(dangling.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(dangling.body["error"]["details"]["locationid"], "no location with id 4242");

        let too_long = app.post("/api/assets", json!({"assetnumber": "X".repeat(51), "assettypeid": 1})).await;
        assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);
        let nul = app.post("/api/assets", json!({"assetnumber": "A\u{0}1", "assettypeid": 1, "notes": "x\u{0}y"})).await;
        assert_eq!(nul.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", nul.body);
        assert!(nul.body["error"]["details"]["assetnumber"].as_str().unwrap().contains("NUL"), "{}", nul.body);
        assert!(nul.body["error"]["details"]["notes"].is_string(), "{}", nul.body);

        let huge = app.post("/api/assets", json!({"assetnumber": "BIG", "assettypeid": 1, "notes": "x".repeat(1_100_000)})).await;
        assert_eq!(huge.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(huge.body["error"]["code"], "payload_too_large");

        for (query, why) in [
            ("sort=assetnumber%3BDROP%20TABLE%20assets", "sql in sort"),
            ("sort=passwordhash", "unknown sort field"),
            ("page=-1", "negative page"),
            ("page=0", "page zero"),
            ("page=99999999999999", "absurd page"),
            ("per_page=5000", "too many per page"),
            ("colour=red", "unknown filter"),
            ("statusid=abc", "badly typed filter"),
        ] {
            let reply = app.get(&format!("/api/assets?{query}")).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{why}: {}", reply.body);
            assert_eq!(reply.body["success"], false);
        }
        // Lists with one fixed order say so instead of ignoring a sort or q.
        let id = app.get("/api/assets").await.data()[0]["assetid"].as_i64().unwrap();
        for path in [format!("/api/assets/{id}/history?sort=bogus"), "/api/audit?sort=-auditid".into(), "/api/audit?q=x".into()] {
            let reply = app.get(&path).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path}: {}", reply.body);
            assert!(reply.body["error"]["message"].as_str().unwrap().contains("newest first"), "{}", reply.body);
        }
        let sql_q = app.get("/api/assets?q=%27%20OR%201%3D1%20--").await;
        assert_eq!(sql_q.status, StatusCode::OK);
        assert_eq!(sql_q.body["meta"]["total"], 0, "q is data, never SQL");

        assert_eq!(app.get("/api/assets/987654").await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get("/api/assets/abc").await.status, StatusCode::BAD_REQUEST);
        assert_eq!(app.put("/api/assets/987654", json!({"name": "x", "version": 1})).await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.delete("/api/assets/987654").await.status, StatusCode::NOT_FOUND);
        let nowhere = app.get("/api/no-such-thing").await;
        assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
        assert_eq!(nowhere.body["success"], false);
        let wrong_method = app.call(Method::PATCH, "/api/assets", Some(&app.admin.clone()), None).await;
        assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(wrong_method.body["success"], false);

        assert_eq!(snapshot(&app).await, before, "no bad request changed the database");
    }
}
