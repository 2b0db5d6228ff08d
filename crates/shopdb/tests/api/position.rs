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

    async fn a_whole_map_resolves_like_one_asset_at_a_time(app) {
        let hall = app.post("/api/locations", json!({"name": "Hall 5", "mapx": 50, "mapy": 60})).await.data()["locationid"].as_i64().unwrap();
        let bay = app.post("/api/locations", json!({"name": "Bay 5a", "parentid": hall})).await.data()["locationid"].as_i64().unwrap();
        let own = app.asset(json!({"assetnumber": "OWN", "mapx": 10, "mapy": 20, "locationid": bay})).await["assetid"].as_i64().unwrap();
        let via = app.asset(json!({"assetnumber": "VIA", "locationid": bay})).await["assetid"].as_i64().unwrap();
        let far = app.asset(json!({"assetnumber": "FAR", "locationid": bay})).await["assetid"].as_i64().unwrap();
        let nowhere = app.asset(json!({"assetnumber": "NOWHERE"})).await["assetid"].as_i64().unwrap();
        link(&app, own, via).await;
        let ids = [own, via, far, nowhere];
        let mut conn = app.db().pool().acquire().await.unwrap();
        let all = shopdb_core::position::resolve_positions(app.db(), &mut conn, &ids).await.unwrap();
        for id in ids {
            let one = shopdb_core::position::resolve_position(app.db(), &mut conn, id).await.unwrap().unwrap();
            let many = &all[&id];
            assert_eq!((many.mapx, many.mapy, many.positionsource, many.sourceassetid, many.sourcelocationid),
                       (one.mapx, one.mapy, one.positionsource, one.sourceassetid, one.sourcelocationid), "asset {id}");
        }
        assert_eq!(all[&via].positionsource, Some("related"));
        assert_eq!(all[&far].positionsource, Some("location"));
        assert_eq!(all[&far].mapx, Some(50.0));
        assert_eq!(all[&nowhere].positionsource, None);
    }
}
