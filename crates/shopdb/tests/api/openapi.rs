//! The OpenAPI document states what the server enforces, and the server does what it states.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::backend_tests;

fn body_schema<'a>(doc: &'a Value, path: &str, method: &str) -> &'a Value {
    &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
}

backend_tests! {
    async fn the_document_states_the_checks_of_the_table_descriptions(app) {
        let doc = app.call(Method::GET, "/api/openapi.json", None, None).await.body;
        let create = body_schema(&doc, "/api/assets", "post");
        let assetnumber = &create["properties"]["assetnumber"];
        let column = shopdb_core::core_schema::core_tables().into_iter().find(|t| t.name == "assets").unwrap();
        let shopdb_core::schema::ColumnType::String(len) = column.get("assetnumber").unwrap().ty else { panic!("a string column") };
        assert_eq!(assetnumber["maxLength"], json!(len), "the column's length: {assetnumber}");
        assert_eq!(assetnumber["minLength"], json!(1));
        assert!(assetnumber["pattern"].is_string());
        assert!(create["required"].as_array().unwrap().contains(&json!("assetnumber")));
        assert_eq!(create["additionalProperties"], json!(false));
        assert_eq!(create["properties"]["locationid"]["minimum"], json!(1), "references are ids from 1");
        assert_eq!(doc["paths"]["/api/assets"]["post"]["requestBody"]["required"], json!(true));

        let update = body_schema(&doc, "/api/assets/{id}", "put");
        assert_eq!(update["required"], json!(["version"]), "an update sends what changes, and the version");

        let id = &doc["paths"]["/api/assets/{id}"]["get"]["parameters"][0]["schema"];
        assert_eq!(id["type"], "integer");
        assert_eq!(id["minimum"], json!(1));

        let responses = &doc["paths"]["/api/assets/{id}"]["put"]["responses"];
        for status in ["200", "400", "401", "403", "404", "409", "413", "422", "500"] {
            assert!(responses[status].is_object(), "PUT /api/assets/{{id}} documents {status}");
        }
        let links = &doc["paths"]["/api/assets"]["post"]["responses"]["201"]["links"];
        for link in ["GetCreated", "UpdateCreated", "DeleteCreated"] {
            assert_eq!(links[link]["parameters"]["id"], "$response.body#/data/assetid", "{link}");
        }
        assert_eq!(links["UpdateCreated"]["requestBody"]["version"], "$response.body#/data/version");
        // What hangs off the record is reachable from the create too (a stateful client
        // reads a new asset's history).
        assert_eq!(links["GetCreatedHistory"]["operationId"], doc["paths"]["/api/assets/{id}/history"]["get"]["operationId"]);
        assert_eq!(links["GetCreatedHistory"]["parameters"]["id"], "$response.body#/data/assetid");

        let sort = doc["paths"]["/api/assets"]["get"]["parameters"].as_array().unwrap().iter()
            .find(|p| p["name"] == "sort").unwrap()["schema"]["enum"].clone();
        assert!(sort.as_array().unwrap().contains(&json!("-assetnumber")), "{sort}");
    }

    async fn what_the_document_forbids_the_server_refuses(app) {
        // Each of these breaks the document; each is refused.
        for (body, field) in [
            (json!({"assetnumber": "   ", "assettypeid": 1}), "assetnumber"),
            (json!({"assetnumber": "A-1", "assettypeid": 1, "nosuchfield": 1}), "nosuchfield"),
            (json!({"assetnumber": "A\u{0}1", "assettypeid": 1}), "assetnumber"),
        ] {
            let r = app.post("/api/assets", body).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
            assert!(r.body["error"]["details"][field].is_string(), "{}", r.body);
        }
        let doc = app.call(Method::GET, "/api/openapi.json", None, None).await.body;
        let max = body_schema(&doc, "/api/assets", "post")["properties"]["assetnumber"]["maxLength"].as_u64().unwrap() as usize;
        let long = "x".repeat(max + 1);
        let r = app.post("/api/assets", json!({"assetnumber": long, "assettypeid": 1})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        let spaced = format!(" {} ", "y".repeat(max - 1));
        let r = app.post("/api/assets", json!({"assetnumber": spaced, "assettypeid": 1})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "the length as sent counts: {}", r.body);
        assert_eq!(app.get("/api/assets/0").await.status, StatusCode::BAD_REQUEST);
        assert_eq!(app.get("/api/audit?action=renamed").await.status, StatusCode::BAD_REQUEST);
        let r = app.post("/api/tokens", json!({"name": "a\u{0}b"})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        // An API token cannot log out (it is revoked instead): refused, not malformed.
        let secret = app.post("/api/tokens", json!({"name": "script", "role": "admin"})).await.data()["token"].as_str().unwrap().to_string();
        let r = app.call(Method::POST, "/api/auth/logout", Some(&secret), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    }
}
