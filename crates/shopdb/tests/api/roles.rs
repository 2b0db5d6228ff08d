//! Every write route against anonymous, viewer, editor and admin callers, derived from the
//! route list itself so a new route cannot escape the matrix.

use axum::http::{Method, StatusCode};
use serde_json::json;
use shopdb_core::api::Access;
use shopdb_core::auth::Role;

use crate::backend_tests;

backend_tests! {
    async fn every_route_enforces_its_role(app) {
        // Every bundled plugin installed, so its routes are in the matrix too.
        let names: Vec<String> = app.state.registry.loaded.iter().map(|p| p.manifest.name.clone()).collect();
        for name in names {
            let r = app.post(&format!("/api/plugins/{name}/install"), json!({})).await;
            assert_eq!(r.status, StatusCode::OK, "install {name}: {}", r.body);
        }
        let viewer = app.login_as("vera", Role::Viewer).await;
        let editor = app.login_as("eddie", Role::Editor).await;
        let admin = app.admin.clone();
        let routes = app.state.routes.clone();
        let mut checked = 0;
        for route in routes.iter() {
            let min = match route.access {
                Access::Public => continue,
                Access::Role(min) => min,
                Access::Collector(min) => min,
            };
            let path = route.path.replace("{id}", "1");
            let body = (route.method == Method::POST || route.method == Method::PUT).then(|| json!({}));
            let anonymous = app.call(route.method.clone(), &path, None, body.clone()).await;
            assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "anonymous {} {}", route.method, route.path);
            for (who, token, role) in [("viewer", &viewer, Role::Viewer), ("editor", &editor, Role::Editor), ("admin", &admin, Role::Admin)] {
                // Logging out would end the session the next rows still need.
                if route.path == "/api/auth/logout" {
                    continue;
                }
                let reply = app.call(route.method.clone(), &path, Some(token), body.clone()).await;
                if role < min {
                    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{who} {} {}: {}", route.method, route.path, reply.body);
                } else {
                    assert!(
                        reply.status != StatusCode::FORBIDDEN && reply.status != StatusCode::UNAUTHORIZED,
                        "{who} {} {} refused: {}", route.method, route.path, reply.body
                    );
                }
            }
            checked += 1;
        }
        assert!(checked > 40, "only {checked} routes checked");
        // Spot checks of the policy itself.
        let find = |m: Method, p: &str| routes.iter().find(|r| r.method == m && r.path == p).unwrap().access;
        assert_eq!(find(Method::POST, "/api/assets"), Access::Role(Role::Editor));
        assert_eq!(find(Method::GET, "/api/assets"), Access::Role(Role::Viewer));
        assert_eq!(find(Method::POST, "/api/statuses"), Access::Role(Role::Admin));
        assert_eq!(find(Method::POST, "/api/users"), Access::Role(Role::Admin));
        assert_eq!(find(Method::GET, "/api/health"), Access::Public);
    }
}
