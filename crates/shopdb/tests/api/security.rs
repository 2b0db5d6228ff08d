//! Security headers on every kind of answer, and the login cookie's name.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use crate::backend_tests;

backend_tests! {
    async fn every_kind_of_answer_carries_the_security_headers(app) {
        let pages = [
            ("/api/assets", Some(app.admin.clone()), StatusCode::OK),
            ("/api/assets/999999", Some(app.admin.clone()), StatusCode::NOT_FOUND),
            ("/api/assets", None, StatusCode::UNAUTHORIZED),
            ("/login", None, StatusCode::OK),
            ("/assets", Some(app.admin.clone()), StatusCode::OK),
            ("/static/shopdb.css", None, StatusCode::OK),
            ("/static/notifications/kiosk.js", None, StatusCode::OK),
            ("/static/nothing.js", None, StatusCode::NOT_FOUND),
        ];
        for (path, token, status) in pages {
            let reply = app.call(Method::GET, path, token.as_deref(), None).await;
            assert_eq!(reply.status, status, "{path}: {}", reply.body);
            let h = &reply.headers;
            let csp = h["content-security-policy"].to_str().unwrap();
            for part in ["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"] {
                assert!(csp.contains(part), "{path}: {part} in {csp}");
            }
            assert!(!csp.contains("unsafe"), "{path}: no unsafe-inline or unsafe-eval: {csp}");
            assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
            assert_eq!(h["referrer-policy"], "same-origin", "{path}");
            assert!(h["permissions-policy"].to_str().unwrap().contains("camera=()"), "{path}");
            assert!(h.get("strict-transport-security").is_none(), "{path}: no HSTS while cookies are not Secure");
        }
        // A body the server refuses before any handler runs.
        let req = Request::builder().method(Method::POST).uri("/api/assets")
            .header("authorization", format!("Bearer {}", app.admin))
            .header("content-type", "application/json")
            .body(Body::from("{not json")).unwrap();
        let reply = app.send(req).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(reply.headers.contains_key("content-security-policy"));
    }

    async fn every_answer_names_its_request_so_a_report_can_be_found_in_the_log(app) {
        let mut seen = std::collections::HashSet::new();
        for (path, token) in [("/api/assets", Some(app.admin.clone())), ("/api/assets/999999", Some(app.admin.clone())), ("/api/assets", None), ("/login", None)] {
            let reply = app.call(Method::GET, path, token.as_deref(), None).await;
            let id = reply.headers["x-request-id"].to_str().unwrap().to_string();
            assert!(id.len() >= 8 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{path}: {id}");
            assert!(seen.insert(id), "{path}: every request gets its own id");
        }
        // A proxy's id is kept; one that could forge log lines is replaced.
        let given = |id: &str| Request::builder().uri("/api/health").header("x-request-id", id).body(Body::empty()).unwrap();
        let kept = app.send(given("edge-4f2a_17")).await;
        assert_eq!(kept.headers["x-request-id"], "edge-4f2a_17");
        let replaced = app.send(given("evil\" error=\"forged")).await;
        assert_ne!(replaced.headers["x-request-id"], "evil\" error=\"forged");
    }

    async fn plugin_scripts_are_served_with_their_type(app) {
        let js = app.call(Method::GET, "/static/usb/desk.js", None, None).await;
        assert_eq!(js.status, StatusCode::OK);
        assert_eq!(js.headers["content-type"], "text/javascript");
        let css = app.call(Method::GET, "/static/notifications/kiosk.css", None, None).await;
        assert_eq!(css.headers["content-type"], "text/css");
        let missing = app.call(Method::GET, "/static/usb/other.js", None, None).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
    }

    async fn pages_hold_no_inline_script_or_style(app) {
        for plugin in ["computers", "network", "printers", "usb", "notifications"] {
            let r = app.post(&format!("/api/plugins/{plugin}/install"), json!({})).await;
            assert!(r.status.is_success(), "{plugin}: {}", r.body);
        }
        let location = app.post("/api/locations", json!({"name": "Bay 1"})).await.data()["locationid"].clone();
        let subnet = app.post("/api/network/subnets", json!({"name": "floor", "cidr": "10.1.0.0/24"})).await;
        let printer = app.post("/api/printers", json!({"assetnumber": "PR-1", "locationid": location})).await;
        let mut paths = vec![
            "/".to_string(), "/assets".into(), "/map".into(), format!("/map/{location}"), "/usb/desk".into(),
            "/computers/stale".into(), "/admin/tokens".into(), "/admin/users".into(),
            format!("/notifications/kiosk?locationid={location}"),
        ];
        if subnet.status == StatusCode::CREATED {
            paths.push(format!("/network/subnets/{}", subnet.data()["subnetid"]));
        }
        if printer.status == StatusCode::CREATED {
            paths.push(format!("/printers/{}", printer.data()["assetid"]));
        }
        for path in paths {
            let page = app.get(&path).await;
            assert!(page.status.is_success(), "{path}: {}", page.status);
            let html = page.body.as_str().unwrap_or_default().to_string();
            for (i, _) in html.match_indices("<script") {
                let tag = &html[i..i + html[i..].find('>').unwrap()];
                assert!(tag.contains(" src="), "{path}: inline script {tag}");
            }
            assert!(!html.contains("<style"), "{path}: inline style block");
            assert!(!html.contains(" style=\""), "{path}: style attribute");
            assert!(!html.contains(" onclick=") && !html.contains(" onsubmit=") && !html.contains(" onload="), "{path}: inline handler");
        }
    }

    async fn login_cookie_names_are_plain_without_secure_cookies(app) {
        let _ = app.login_as("sam", shopdb_core::auth::Role::Viewer).await;
        let reply = app.call(Method::POST, "/api/auth/login", None, Some(json!({"username": "sam", "password": "a long test password"}))).await;
        let cookies: Vec<&str> = reply.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
        assert!(cookies.iter().any(|c| c.starts_with("shopdb_session=") && !c.contains("Secure")), "{cookies:?}");
    }
}
