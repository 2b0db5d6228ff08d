use axum::http::StatusCode;
use serde_json::json;

use crate::backend_tests;

backend_tests! {
    async fn search_finds_partial_numbers_names_and_serials(app) {
        let lathe = app.asset(json!({"assetnumber": "WJ-004471", "name": "Mazak Lathe", "serialnumber": "MZ99-A"})).await;
        app.asset(json!({"assetnumber": "WJ-004472", "name": "Haas Mill"})).await;
        let id = lathe["assetid"].as_i64().unwrap();

        let by_number = app.get("/api/search?q=4471").await;
        assert_eq!(by_number.status, StatusCode::OK);
        let results = by_number.data().as_array().unwrap();
        assert_eq!(results.len(), 1, "{results:?}");
        assert_eq!(results[0], json!({"type": "asset", "id": id, "title": "WJ-004471", "subtitle": "Mazak Lathe", "url": format!("/assets/{id}")}));

        assert_eq!(app.get("/api/search?q=mazak").await.data().as_array().unwrap().len(), 1, "case-insensitive");
        assert_eq!(app.get("/api/search?q=mz99").await.data()[0]["id"], id, "serial numbers are searched");
        assert_eq!(app.get("/api/search?q=WJ-0044").await.data().as_array().unwrap().len(), 2);
        assert_eq!(app.get("/api/search?q=%25").await.data().as_array().unwrap().len(), 0, "% is literal");

        // The index follows every write.
        app.put(&format!("/api/assets/{id}"), json!({"name": "Okuma Lathe", "version": 1})).await;
        assert_eq!(app.get("/api/search?q=mazak").await.data().as_array().unwrap().len(), 0);
        assert_eq!(app.get("/api/search?q=okuma").await.data().as_array().unwrap().len(), 1);
        app.delete(&format!("/api/assets/{id}")).await;
        assert_eq!(app.get("/api/search?q=4471").await.data().as_array().unwrap().len(), 0);

        assert_eq!(app.get("/api/search").await.status, StatusCode::BAD_REQUEST);
        assert_eq!(app.get("/api/search?q=x&limit=0").await.status, StatusCode::BAD_REQUEST);
    }
}
