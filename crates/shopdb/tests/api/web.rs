//! The web pages, driven in-process with a real login cookie on every backend: what a browser
//! would get back for each page and form (the browser tests in tests/browser drive Chromium).

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use crate::backend_tests;
use crate::support::{Reply, TestApp};

/// A browser-like session: the cookies from logging in through the form.
pub(crate) struct Browser {
    pub(crate) cookie: String,
    pub(crate) csrf: String,
}

pub(crate) async fn page(
    app: &TestApp,
    cookie: Option<&str>,
    method: Method,
    path: &str,
    form: Option<&str>,
) -> Reply {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let req = match form {
        Some(f) => req
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(f.to_string())),
        None => req.body(Body::empty()),
    }
    .expect("request");
    app.send(req).await
}

pub(crate) fn html(r: &Reply) -> &str {
    r.body.as_str().unwrap_or_default()
}

fn location(r: &Reply) -> &str {
    r.headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

pub(crate) async fn log_in(app: &TestApp) -> Browser {
    app.login_as("clerk", shopdb_core::auth::Role::Admin).await;
    let r = page(
        app,
        None,
        Method::POST,
        "/login",
        Some("username=clerk&password=a+long+test+password&next=%2Fcomputers"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(location(&r), "/computers");
    let cookies: Vec<String> = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap().to_string())
        .collect();
    let csrf = cookies
        .iter()
        .find_map(|c| c.strip_prefix("shopdb_csrf="))
        .expect("csrf cookie")
        .to_string();
    Browser {
        cookie: cookies.join("; "),
        csrf,
    }
}

backend_tests! {
    async fn pages_need_a_login_and_forms_create_edit_and_explain_errors(app) {
        for p in ["computers", "network"] {
            app.post(&format!("/api/plugins/{p}/install"), json!({})).await;
        }
        let away = page(&app, None, Method::GET, "/computers/new", None).await;
        assert_eq!(away.status, StatusCode::SEE_OTHER);
        assert_eq!(location(&away), "/login?next=%2Fcomputers%2Fnew");
        let wrong = page(&app, None, Method::POST, "/login", Some("username=clerk&password=nope&next=%2F")).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(html(&wrong).contains("id=\"login-error\""));

        let b = log_in(&app).await;
        let hall = app.post("/api/locations", json!({"name": "Hall 3", "mapx": 400, "mapy": 300})).await.data()["locationid"].as_i64().unwrap();
        let form = format!("csrftoken={}&assetnumber=PC-3001&name=Grinder+PC&hostname=WJ-GRIND-3001&ipaddress=10.3.0.31&locationid={hall}&lastcheckin=2026-11-20T08%3A30", b.csrf);
        let created = page(&app, Some(&b.cookie), Method::POST, "/computers/new", Some(&form)).await;
        assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
        let detail_path = location(&created).to_string();
        let detail = page(&app, Some(&b.cookie), Method::GET, &detail_path, None).await;
        assert!(html(&detail).contains("<h1 id=\"record-title\">WJ-GRIND-3001</h1>"), "{}", html(&detail));
        assert!(html(&detail).contains("2026-11-20T08:30:00Z"));
        assert!(html(&detail).contains("id=\"history\""));
        assert!(html(&detail).contains("Status: <span class=\"before\">—</span> → <span class=\"after\">In Service</span>"), "history names the status: {}", html(&detail));

        // A missing required field and a duplicate asset number are named next to their fields.
        let bad = format!("csrftoken={}&assetnumber=PC-3001&hostname=", b.csrf);
        let refused = page(&app, Some(&b.cookie), Method::POST, "/computers/new", Some(&bad)).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html(&refused).contains("data-field=\"hostname\">is required"), "{}", html(&refused));
        assert!(html(&refused).contains("data-field=\"assetnumber\">&#x27;PC-3001&#x27; is already used"), "{}", html(&refused));
        let forged = page(&app, Some(&b.cookie), Method::POST, "/computers/new", Some("csrftoken=wrong&assetnumber=PC-9&hostname=X")).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert_eq!(app.count("computers").await, 1);

        // Editing with a stale version explains who changed it.
        let id = detail_path.rsplit('/').next().unwrap().to_string();
        let edit = format!("csrftoken={}&version=1&assetnumber=PC-3001&hostname=WJ-GRIND-3001B", b.csrf);
        let saved = page(&app, Some(&b.cookie), Method::POST, &format!("/computers/{id}/edit"), Some(&edit)).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let stale = page(&app, Some(&b.cookie), Method::POST, &format!("/computers/{id}/edit"), Some(&edit.replace("3001B", "3001C"))).await;
        assert_eq!(stale.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html(&stale).contains("id=\"form-error\"") && html(&stale).contains("was changed by clerk"), "{}", html(&stale));

        let list = page(&app, Some(&b.cookie), Method::GET, "/computers?q=grind&sort=-assetnumber", None).await;
        assert!(html(&list).contains(&format!("data-id=\"{id}\"")), "{}", html(&list));
        let search = page(&app, Some(&b.cookie), Method::GET, "/search?q=grind-30", None).await;
        assert!(html(&search).contains("class=\"search-hit\""), "{}", html(&search));
        let map = page(&app, Some(&b.cookie), Method::GET, &format!("/map/{hall}"), None).await;
        assert!(html(&map).contains(&format!("data-id=\"{id}\" data-source=\"location\"")), "{}", html(&map));
        let csv = page(&app, Some(&b.cookie), Method::GET, &format!("/assets.csv?locationid={hall}"), None).await;
        assert!(html(&csv).lines().nth(1).unwrap().contains("PC-3001,Grinder PC,Computer,In Service,Hall 3"), "{}", html(&csv));
        let dash = page(&app, Some(&b.cookie), Method::GET, "/", None).await;
        assert!(html(&dash).contains("id=\"widget-stale_computers\""));
        assert!(html(&dash).contains("data-plugin=\"network\""));

        // Settings: a wrong type is named next to the setting and nothing is stored.
        let bad = page(&app, Some(&b.cookie), Method::POST, "/admin/settings", Some(&format!("csrftoken={}&plugin=computers&key=staledays&value=soon", b.csrf))).await;
        assert!(html(&bad).contains("class=\"field-error\" data-field=\"value\">staledays"), "{}", html(&bad));
        let good = page(&app, Some(&b.cookie), Method::POST, "/admin/settings", Some(&format!("csrftoken={}&plugin=computers&key=staledays&value=14", b.csrf))).await;
        assert!(html(&good).contains("Saved computers staledays."), "{}", html(&good));
        let stored = app.get("/api/settings").await;
        let staledays = stored.data().as_array().unwrap().iter().find(|s| s["key"] == "staledays").unwrap().clone();
        assert_eq!(staledays["value"], 14);

        // Disabling a plugin takes its navigation and pages away.
        let confirm = page(&app, Some(&b.cookie), Method::GET, "/admin/plugins/network/disable", None).await;
        assert!(html(&confirm).contains("id=\"confirm-form\""));
        let done = page(&app, Some(&b.cookie), Method::POST, "/admin/plugins/network/disable", Some(&format!("csrftoken={}", b.csrf))).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        let dash = page(&app, Some(&b.cookie), Method::GET, "/", None).await;
        assert!(!html(&dash).contains("data-plugin=\"network\""));
        assert_eq!(page(&app, Some(&b.cookie), Method::GET, "/network/subnets", None).await.status, StatusCode::NOT_FOUND);

        let delete = page(&app, Some(&b.cookie), Method::POST, &format!("/computers/{id}/delete"), Some(&format!("csrftoken={}", b.csrf))).await;
        assert_eq!(delete.status, StatusCode::SEE_OTHER);
        assert_eq!(app.count("computers").await, 0);
    }

    async fn admins_change_roles_and_deactivate_users_but_never_lock_themselves_out(app) {
        let b = log_in(&app).await;
        let token = app.login_as("riley", shopdb_core::auth::Role::Editor).await;
        let users = app.get("/api/users").await;
        let id_of = |name: &str| users.data().as_array().unwrap().iter().find(|u| u["username"] == name).unwrap()["userid"].as_i64().unwrap();
        let (riley, clerk) = (id_of("riley"), id_of("clerk"));
        let role_of = |name: &'static str| {
            let app = &app;
            async move {
                let users = app.get("/api/users").await;
                let u = users.data().as_array().unwrap().iter().find(|u| u["username"] == name).unwrap().clone();
                (u["role"].as_str().unwrap().to_string(), u["isactive"].as_bool().unwrap())
            }
        };
        let listed = page(&app, Some(&b.cookie), Method::GET, "/admin/users", None).await;
        assert!(html(&listed).contains(&format!("action=\"/admin/users/{riley}\"")), "a form per user");

        // Viewer and deactivated: riley's session stops working and the password is refused.
        let form = format!("csrftoken={}&username=riley&role=viewer&isactive=false&password=", b.csrf);
        let saved = page(&app, Some(&b.cookie), Method::POST, &format!("/admin/users/{riley}"), Some(&form)).await;
        assert_eq!(saved.status, StatusCode::OK);
        assert!(html(&saved).contains("Saved riley: viewer, deactivated"), "{}", html(&saved));
        assert_eq!(role_of("riley").await, ("viewer".to_string(), false));
        assert_eq!(app.call(Method::GET, "/api/assets", Some(&token), None).await.status, StatusCode::UNAUTHORIZED);
        let refused = page(&app, None, Method::POST, "/login", Some("username=riley&password=a+long+test+password&next=%2F")).await;
        assert_ne!(refused.status, StatusCode::SEE_OTHER, "a deactivated user cannot log in");
        let audit = app.get("/api/audit?entitytype=user").await;
        let entry = audit.data().as_array().unwrap().iter().find(|e| e["entityname"] == "riley" && e["action"] == "updated").cloned().expect("audited");
        assert_eq!(entry["changes"]["after"]["role"], "viewer");
        assert_eq!(entry["actorname"], "clerk");

        // A role that does not exist is named on either form, and nothing is saved.
        let users_before = app.count("users").await;
        for (path, form) in [
            ("/admin/users".to_string(), format!("csrftoken={}&username=kim&password=a+long+password&role=boss", b.csrf)),
            (format!("/admin/users/{riley}"), format!("csrftoken={}&username=riley&role=boss&isactive=true", b.csrf)),
        ] {
            let bad = page(&app, Some(&b.cookie), Method::POST, &path, Some(&form)).await;
            assert!(html(&bad).contains("choose viewer, editor or admin"), "{path}: {}", html(&bad));
        }
        assert_eq!(app.count("users").await, users_before);
        assert_eq!(role_of("riley").await, ("viewer".to_string(), false));

        // A too-short new password is named, and nothing of that change is saved.
        let form = format!("csrftoken={}&username=riley&role=editor&isactive=false&isactive=true&password=short", b.csrf);
        let bad = page(&app, Some(&b.cookie), Method::POST, &format!("/admin/users/{riley}"), Some(&form)).await;
        assert!(html(&bad).contains("data-field=\"password\""), "{}", html(&bad));
        assert_eq!(role_of("riley").await, ("viewer".to_string(), false));
        // Without the CSRF token nothing changes either.
        let forged = page(&app, Some(&b.cookie), Method::POST, &format!("/admin/users/{riley}"), Some("csrftoken=wrong&role=admin&isactive=true")).await;
        assert_ne!(forged.status, StatusCode::OK);
        assert_eq!(role_of("riley").await, ("viewer".to_string(), false));

        // Back as an editor with a new password: riley logs in with it.
        let form = format!("csrftoken={}&username=riley&role=editor&isactive=false&isactive=true&password=another+long+password", b.csrf);
        page(&app, Some(&b.cookie), Method::POST, &format!("/admin/users/{riley}"), Some(&form)).await;
        assert_eq!(role_of("riley").await, ("editor".to_string(), true));
        let back = page(&app, None, Method::POST, "/login", Some("username=riley&password=another+long+password&next=%2F")).await;
        assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", html(&back));

        // An admin cannot demote or deactivate themselves, even with a hand-made form.
        let own = format!("csrftoken={}&username=clerk&role=viewer&isactive=false", b.csrf);
        let kept = page(&app, Some(&b.cookie), Method::POST, &format!("/admin/users/{clerk}"), Some(&own)).await;
        assert!(html(&kept).contains("admins cannot deactivate themselves"), "{}", html(&kept));
        assert_eq!(role_of("clerk").await, ("admin".to_string(), true));
    }
}
