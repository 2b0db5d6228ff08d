use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;
use shopdb_core::auth::Role;

use crate::backend_tests;

backend_tests! {
    async fn login_me_and_logout(app) {
        let wrong = app.call(Method::POST, "/api/auth/login", None, Some(json!({"username": "testadmin", "password": "nope"}))).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        let typed = app.call(Method::POST, "/api/auth/login", None, Some(json!({"username": 1, "password": 2}))).await;
        assert_eq!(typed.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(typed.body["error"]["details"], json!({"username": "must be text", "password": "must be text"}));
        let empty = app.call(Method::POST, "/api/auth/login", None, Some(json!({}))).await;
        assert_eq!(empty.body["error"]["details"], json!({"username": "is required", "password": "is required"}));
        let nobody = app.call(Method::POST, "/api/auth/login", None, Some(json!({"username": "ghost", "password": "nope"}))).await;
        assert_eq!(nobody.status, StatusCode::UNAUTHORIZED);
        assert_eq!(nobody.body["error"]["message"], wrong.body["error"]["message"], "unknown users look the same");

        let token = app.login_as("ann", Role::Editor).await;
        let me = app.call(Method::GET, "/api/auth/me", Some(&token), None).await;
        assert_eq!(me.data()["name"], "ann");
        assert_eq!(me.data()["role"], "editor");

        let out = app.call(Method::POST, "/api/auth/logout", Some(&token), None).await;
        assert_eq!(out.status, StatusCode::OK);
        let after = app.call(Method::GET, "/api/auth/me", Some(&token), None).await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED, "a logged-out token is refused");
        let forged = app.call(Method::GET, "/api/auth/me", Some("eyJhbGciOiJub25lIn0.e30."), None).await;
        assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    }

    async fn a_password_hashed_with_older_settings_still_logs_in_and_is_hashed_anew(app) {
        use argon2::password_hash::PasswordHasher;
        shopdb_core::users::create_user(app.db(), &shopdb_core::auth::Actor::system("t"), "olga", Role::Viewer, "olga's long password").await.unwrap();
        // As ShopDB stored hashes before: 19 MiB, 2 passes.
        let older = argon2::Argon2::default().hash_password(b"olga's long password").unwrap().to_string();
        let stored = || async {
            let row = app.db().query("SELECT passwordhash FROM users WHERE username = 'olga'").fetch_one(app.db().pool()).await.unwrap();
            sqlx::Row::try_get::<String, _>(&row, 0).unwrap()
        };
        app.db().query("UPDATE users SET passwordhash = ? WHERE username = 'olga'").bind(older.clone()).execute(app.db().pool()).await.unwrap();
        let login = |password: &'static str| app.call(Method::POST, "/api/auth/login", None, Some(json!({"username": "olga", "password": password})));
        assert_eq!(login("not olga's password").await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(stored().await, older, "a failed login changes nothing");
        assert_eq!(login("olga's long password").await.status, StatusCode::OK);
        let anew = stored().await;
        assert!(anew.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{anew}");
        assert_eq!(login("olga's long password").await.status, StatusCode::OK, "the new hash is of the same password");
        assert_eq!(stored().await, anew, "a current hash is kept");
        assert_eq!(login("not olga's password").await.status, StatusCode::UNAUTHORIZED);
    }

    async fn cookie_writes_need_the_csrf_token(app) {
        shopdb_core::users::create_user(app.db(), &shopdb_core::auth::Actor::system("t"), "bob", Role::Editor, "bob's long password").await.unwrap();
        let login = app.call(Method::POST, "/api/auth/login", None, Some(json!({"username": "bob", "password": "bob's long password"}))).await;
        let cookies: Vec<String> = login.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
        let session = cookies.iter().find(|c| c.starts_with("shopdb_session=")).expect("session cookie");
        assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"), "{session}");
        assert!(!session.contains("Secure"), "development cookies are not Secure");
        let cookie = session.split(';').next().unwrap().to_string();
        let csrf = login.data()["csrftoken"].as_str().unwrap().to_string();

        let with_cookie = |method: Method, csrf: Option<&str>| {
            let mut req = Request::builder().method(method).uri("/api/assets").header("cookie", &cookie).header("content-type", "application/json");
            if let Some(c) = csrf {
                req = req.header("x-csrf-token", c);
            }
            req.body(Body::from(json!({"assetnumber": "CK-1", "assettypeid": 1}).to_string())).unwrap()
        };
        assert_eq!(app.send(with_cookie(Method::GET, None)).await.status, StatusCode::OK, "reads need no CSRF token");
        let refused = app.send(with_cookie(Method::POST, None)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(app.send(with_cookie(Method::POST, Some("wrong"))).await.status, StatusCode::FORBIDDEN);
        assert_eq!(app.count("assets").await, 0);
        let accepted = app.send(with_cookie(Method::POST, Some(&csrf))).await;
        assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
    }

    async fn repeated_failed_logins_are_throttled(app) {
        app.login_as("carl", Role::Viewer).await;
        for _ in 0..5 {
            let r = app.call(Method::POST, "/api/auth/login", None, Some(json!({"username": "carl", "password": "guess"}))).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        }
        let locked = app.call(Method::POST, "/api/auth/login", None, Some(json!({"username": "carl", "password": "a long test password"}))).await;
        assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "even the right password waits: {}", locked.body);
        assert_eq!(locked.body["error"]["code"], "too_many_attempts");
    }

    async fn api_tokens_are_shown_once_and_revocable(app) {
        let created = app.post("/api/tokens", json!({"name": "inventory script", "role": "editor"})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let secret = created.data()["token"].as_str().unwrap().to_string();
        let id = created.data()["tokenid"].as_i64().unwrap();
        let listed = app.get("/api/tokens").await;
        assert!(!listed.body.to_string().contains(&secret), "the secret is never listed");
        let stored: String = {
            use sqlx::Row;
            app.db().query("SELECT tokenhash FROM apitokens").fetch_one(app.db().pool()).await.unwrap().try_get(0).unwrap()
        };
        assert_ne!(stored, secret, "only a hash is stored");

        let write = app.call(Method::POST, "/api/assets", Some(&secret), Some(json!({"assetnumber": "T-1", "assettypeid": 1}))).await;
        assert_eq!(write.status, StatusCode::CREATED);
        let history = app.get(&format!("/api/assets/{}/history", write.data()["assetid"])).await;
        assert_eq!(history.data()[0]["actortype"], "token");
        assert_eq!(history.data()[0]["actorname"], "inventory script");
        // Its use is recorded just after the answer (the list shows when it was last used).
        let mut lastused = serde_json::Value::Null;
        for _ in 0..50 {
            lastused = app.get("/api/tokens").await.data()[0]["lastused"].clone();
            if !lastused.is_null() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(lastused.as_str().is_some_and(|t| t.starts_with("20")), "{lastused}");

        assert_eq!(app.delete(&format!("/api/tokens/{id}")).await.status, StatusCode::OK);
        let revoked = app.call(Method::GET, "/api/assets", Some(&secret), None).await;
        assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);

        let collector = app.post("/api/tokens", json!({"name": "pc collector", "plugin": "computers"})).await;
        let secret = collector.data()["token"].as_str().unwrap().to_string();
        let elsewhere = app.call(Method::GET, "/api/assets", Some(&secret), None).await;
        assert_eq!(elsewhere.status, StatusCode::FORBIDDEN, "collector tokens only reach their collector");

        let tokens_before = app.count("apitokens").await;
        let typo = app.post("/api/tokens", json!({"name": "pc collector", "plugin": "computrs"})).await;
        assert_eq!(typo.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", typo.body);
        assert!(typo.body["error"]["details"]["plugin"].as_str().unwrap().contains("computers"), "names the real ones: {}", typo.body);
        assert_eq!(app.count("apitokens").await, tokens_before, "no useless token made");
    }

    async fn creating_and_revoking_api_tokens_is_audited(app) {
        let created = app.post("/api/tokens", json!({"name": "nightly export", "role": "editor"})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let id = created.data()["tokenid"].as_i64().unwrap();
        let secret = created.data()["token"].as_str().unwrap().to_string();
        let trail = app.get(&format!("/api/audit?entitytype=apitoken&entityid={id}")).await;
        assert_eq!(trail.status, StatusCode::OK, "{}", trail.body);
        let entries = trail.data().as_array().unwrap();
        assert_eq!(entries.len(), 1, "one entry for the creation: {}", trail.body);
        assert_eq!(entries[0]["action"], "created");
        assert_eq!(entries[0]["actorname"], "testadmin", "who did it");
        assert_eq!(entries[0]["actortype"], "user");
        assert_eq!(entries[0]["entityname"], "nightly export");
        let text = trail.body.to_string();
        assert!(text.contains("editor"), "the role is recorded: {text}");
        assert!(!text.contains(&secret), "never the secret: {text}");
        assert!(!text.contains(&secret[12..]), "nor its hidden part: {text}");

        assert_eq!(app.delete(&format!("/api/tokens/{id}")).await.status, StatusCode::OK);
        let trail = app.get(&format!("/api/audit?entitytype=apitoken&entityid={id}")).await;
        let entries = trail.data().as_array().unwrap();
        assert_eq!(entries.len(), 2, "{}", trail.body);
        assert_eq!(entries[0]["action"], "updated", "newest first: the revocation");
        assert_eq!(entries[0]["actorname"], "testadmin");
        assert!(entries[0].to_string().contains("revokeddate"), "{}", entries[0]);

        // Revoking again changes nothing and records nothing.
        assert_eq!(app.delete(&format!("/api/tokens/{id}")).await.status, StatusCode::NOT_FOUND);
        let again = app.get(&format!("/api/audit?entitytype=apitoken&entityid={id}")).await;
        assert_eq!(again.data().as_array().unwrap().len(), 2);
    }
}

backend_tests! {
    async fn admins_change_roles_and_deactivate_users(app) {
        let token = app.login_as("dora", Role::Viewer).await;
        let users = app.get("/api/users").await;
        let id = users.data().as_array().unwrap().iter().find(|u| u["username"] == "dora").unwrap()["userid"].as_i64().unwrap();
        assert_eq!(app.call(Method::POST, "/api/assets", Some(&token), Some(json!({"assetnumber": "D1", "assettypeid": 1}))).await.status, StatusCode::FORBIDDEN);

        let promoted = app.put(&format!("/api/users/{id}"), json!({"role": "editor"})).await;
        assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.body);
        let write = app.call(Method::POST, "/api/assets", Some(&token), Some(json!({"assetnumber": "D1", "assettypeid": 1}))).await;
        assert_eq!(write.status, StatusCode::CREATED, "a new role applies to live sessions");

        assert_eq!(app.put(&format!("/api/users/{id}"), json!({"password": "short"})).await.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.put(&format!("/api/users/{id}"), json!({"role": "boss"})).await.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.put("/api/users/99999", json!({"isactive": false})).await.status, StatusCode::NOT_FOUND);

        assert_eq!(app.put(&format!("/api/users/{id}"), json!({"isactive": false})).await.status, StatusCode::OK);
        assert_eq!(app.call(Method::GET, "/api/auth/me", Some(&token), None).await.status, StatusCode::UNAUTHORIZED, "deactivated users are out at once");
        let trail = app.get(&format!("/api/audit?entitytype=user&entityid={id}")).await;
        assert_eq!(trail.data()[0]["changes"], json!({"before": {"isactive": true}, "after": {"isactive": false}}));

        // The user list follows the list rules: pages, a whitelisted sort, q.
        for name in ["zoe", "adam", "mia"] {
            app.login_as(name, Role::Viewer).await;
        }
        let page = app.get("/api/users?sort=-username&per_page=2&page=2").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let names: Vec<&str> = page.data().as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
        let mut all: Vec<String> = app.get("/api/users?per_page=200").await.data().as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap().to_string()).collect();
        all.sort();
        all.reverse();
        assert_eq!(names, all[2..4].iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(page.body["meta"]["total"], all.len());
        assert_eq!(app.get("/api/users?q=ZO").await.data()[0]["username"], "zoe");
        assert_eq!(app.get("/api/users?sort=passwordhash").await.status, StatusCode::BAD_REQUEST);
        assert_eq!(app.get("/api/users?role=admin").await.status, StatusCode::BAD_REQUEST);
        assert_eq!(app.get("/api/tokens?sort=-tokenid&page=0").await.status, StatusCode::BAD_REQUEST);

        // The admin making changes cannot lock themselves out; the answer names the field.
        let me = app.get("/api/auth/me").await.data()["id"].as_i64().unwrap();
        let off = app.put(&format!("/api/users/{me}"), json!({"isactive": false})).await;
        assert_eq!(off.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(off.body["error"]["details"]["isactive"].is_string(), "{}", off.body);
        let down = app.put(&format!("/api/users/{me}"), json!({"role": "viewer"})).await;
        assert!(down.body["error"]["details"]["role"].is_string(), "{}", down.body);
        assert_eq!(app.get("/api/users").await.status, StatusCode::OK, "still an admin");
    }
}

backend_tests! {
    async fn a_logout_reaches_other_server_processes_within_a_second(app) {
        let other = app.with_plugins(Vec::new()).await;
        let token = app.login_as("erin", Role::Editor).await;
        assert_eq!(other.call(Method::GET, "/api/auth/me", Some(&token), None).await.status, StatusCode::OK);
        assert_eq!(app.call(Method::POST, "/api/auth/logout", Some(&token), None).await.status, StatusCode::OK);
        assert_eq!(app.call(Method::GET, "/api/auth/me", Some(&token), None).await.status, StatusCode::UNAUTHORIZED, "at once here");
        tokio::time::sleep(shopdb_core::auth::VERIFIED_TTL + std::time::Duration::from_millis(100)).await;
        assert_eq!(other.call(Method::GET, "/api/auth/me", Some(&token), None).await.status, StatusCode::UNAUTHORIZED, "and there after the cache second");
    }
}
