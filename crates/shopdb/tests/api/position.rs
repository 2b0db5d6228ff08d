use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::TestApp;

async fn link(app: &TestApp, source: i64, target: i64) {
    let r = app
        .post(
            "/api/relationships",
            json!({"sourceassetid": source, "targetassetid": target, "relationshiptypeid": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

async fn position(app: &TestApp, id: i64) -> Value {
    let r = app.get(&format!("/api/assets/{id}/position")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.data().clone()
}

backend_tests! {
    async fn positions_resolve_self_related_location_or_nothing(app) {
        let hall = app.post("/api/locations", json!({"name": "Hall 2", "mapx": 500, "mapy": 400})).await.data()["locationid"].as_i64().unwrap();
        let cell = app.post("/api/locations", json!({"name": "Cell 9", "parentid": hall})).await.data()["locationid"].as_i64().unwrap();

        let pc = app.asset(json!({"assetnumber": "PC-1", "mapx": 120.5, "mapy": 80})).await["assetid"].as_i64().unwrap();
        let own = position(&app, pc).await;
        assert_eq!((own["mapx"].as_f64(), own["mapy"].as_f64(), own["positionsource"].as_str()), (Some(120.5), Some(80.0), Some("self")));

        // A machine with no position of its own, two hops from the PC, in a cycle.
        let cnc = app.asset(json!({"assetnumber": "CNC-1", "locationid": cell})).await["assetid"].as_i64().unwrap();
        let dnc = app.asset(json!({"assetnumber": "DNC-1"})).await["assetid"].as_i64().unwrap();
        link(&app, cnc, dnc).await;
        link(&app, dnc, cnc).await;
        link(&app, pc, dnc).await;
        let related = position(&app, cnc).await;
        assert_eq!(related["positionsource"], "related");
        assert_eq!(related["sourceassetid"], pc);
        assert_eq!(related["mapx"].as_f64(), Some(120.5));

        // Without the PC the cycle is walked safely and the location's parent places it.
        app.delete(&format!("/api/assets/{pc}")).await;
        let by_location = position(&app, cnc).await;
        assert_eq!(by_location["positionsource"], "location");
        assert_eq!(by_location["sourcelocationid"], hall);
        assert_eq!(by_location["mapx"].as_f64(), Some(500.0));

        let lonely = app.asset(json!({"assetnumber": "USB-1"})).await["assetid"].as_i64().unwrap();
        let nothing = position(&app, lonely).await;
        assert_eq!(nothing["positionsource"], Value::Null);
        assert_eq!(nothing["mapx"], Value::Null);

        assert_eq!(app.get("/api/assets/999999/position").await.status, StatusCode::NOT_FOUND);
        let half = app.post("/api/assets", json!({"assetnumber": "HALF", "assettypeid": 1, "mapx": 3})).await;
        assert_eq!(half.status, StatusCode::UNPROCESSABLE_ENTITY, "mapx without mapy");
    }
}
