//! Values reach the database in the kind of their column, whatever the caller passes: the
//! engine called directly (as demo data, a plugin or an import does), not over HTTP.

use serde_json::{Map, Value, json};
use shopdb_core::auth::Actor;
use shopdb_core::db::{SqlValue, ValueKind};

use crate::backend_tests;

fn body(v: Value) -> Map<String, Value> {
    v.as_object().cloned().expect("object")
}

backend_tests! {
    async fn numbers_bind_by_the_column_type_through_the_engine(app) {
        let db = app.db();
        let actor = Actor::system("tests");
        let assets = app.state.resources["assets"].clone();
        // One transaction: every statement runs on one connection, so a statement prepared
        // with the first row's types is reused for the next rows.
        let mut tx = db.begin().await.unwrap();
        let mut ids = Vec::new();
        for (n, mapx, mapy) in [
            (1, json!(null), json!(null)),
            (2, json!(3), json!(4)),
            (3, json!(5.5), json!(6)),
            (4, json!(7), json!(8)),
        ] {
            let record = body(json!({"assetnumber": format!("BIND-{n}"), "assettypeid": 1,
                                     "mapx": mapx, "mapy": mapy}));
            let values = assets.validate(db, &mut tx, &record, None).await
                .unwrap_or_else(|e| panic!("validate {n}: {}", e.message));
            let created = assets.insert(db, &mut tx, &actor, values).await
                .unwrap_or_else(|e| panic!("insert {n}: {} {:?}", e.message, e.cause));
            ids.push(created["assetid"].as_i64().unwrap());
        }
        // Values built by hand, of the wrong kind for the float columns.
        let values = vec![
            ("assetnumber".to_string(), SqlValue::text("BIND-5")),
            ("assettypeid".to_string(), SqlValue::Int(1)),
            ("statusid".to_string(), SqlValue::Int(1)),
            ("mapx".to_string(), SqlValue::Int(9)),
            ("mapy".to_string(), SqlValue::Int(10)),
        ];
        let created = assets.insert(db, &mut tx, &actor, values).await
            .unwrap_or_else(|e| panic!("insert by hand: {} {:?}", e.message, e.cause));
        assert_eq!((created["mapx"].clone(), created["mapy"].clone()), (json!(9.0), json!(10.0)));
        let values = vec![
            ("assetnumber".to_string(), SqlValue::text("BIND-5B")),
            ("assettypeid".to_string(), SqlValue::Int(1)),
            ("statusid".to_string(), SqlValue::Int(1)),
            ("mapx".to_string(), SqlValue::Null(ValueKind::Int)),
            ("mapy".to_string(), SqlValue::Null(ValueKind::Text)),
        ];
        let created = assets.insert(db, &mut tx, &actor, values).await
            .unwrap_or_else(|e| panic!("insert typed NULLs: {} {:?}", e.message, e.cause));
        assert!(created["mapx"].is_null() && created["mapy"].is_null());
        let before = assets.fetch(db, &mut tx, ids[0]).await.unwrap().unwrap();
        let updated = assets
            .update_values(db, &mut tx, &actor, &before, vec![("mapx".into(), SqlValue::Int(11)), ("mapy".into(), SqlValue::Int(12))], None)
            .await
            .unwrap_or_else(|e| panic!("update: {} {:?}", e.message, e.cause));
        assert_eq!((updated["mapx"].clone(), updated["mapy"].clone()), (json!(11.0), json!(12.0)));
        tx.commit().await.unwrap();

        // And through the one-call create and update, on whichever pooled connection.
        for n in 6..10 {
            let mapx = if n % 2 == 0 { json!(null) } else { json!(n) };
            let r = assets.create(db, &actor, &body(json!({"assetnumber": format!("BIND-{n}"), "assettypeid": 1, "mapx": mapx, "mapy": mapx})))
                .await
                .unwrap_or_else(|e| panic!("create {n}: {} {:?}", e.message, e.cause));
            assert_eq!(r["mapx"], if n % 2 == 0 { json!(null) } else { json!(n as f64) });
        }
        let stored = app.get(&format!("/api/assets/{}", ids[1])).await;
        assert_eq!((stored.data()["mapx"].clone(), stored.data()["mapy"].clone()), (json!(3.0), json!(4.0)));
        let r = assets.update(db, &actor, ids[3], &body(json!({"version": 1, "mapx": 20, "mapy": 21}))).await
            .unwrap_or_else(|e| panic!("update {}: {} {:?}", ids[3], e.message, e.cause));
        assert_eq!(r["mapx"], json!(20.0));
    }
}
