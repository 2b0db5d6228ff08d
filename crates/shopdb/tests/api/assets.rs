use axum::http::StatusCode;
use serde_json::json;
use shopdb_core::db::Dialect;

use crate::backend_tests;
use crate::support::plan_with;

backend_tests! {
    async fn a_page_in_the_order_of_a_unique_field_is_read_from_its_index(app) {
        for n in 0..60 {
            app.asset(json!({"assetnumber": format!("A-{:03}", 59 - n)})).await;
        }
        let listed = app.get("/api/assets?per_page=5&sort=-assetnumber").await;
        let numbers: Vec<&str> = listed.data().as_array().unwrap().iter().map(|a| a["assetnumber"].as_str().unwrap()).collect();
        assert_eq!(numbers, ["A-059", "A-058", "A-057", "A-056", "A-055"]);
        // The page's keys as the list reads them: in the order of the number's unique
        // index, not sorted afresh (MariaDB sorted every asset for each page while the
        // order named the key after the number).
        let dialect = app.db().dialect();
        for sort in ["assetnumber", "-assetnumber"] {
            let params = shopdb_core::http::ListParams::parse(Some(&format!("sort={sort}"))).unwrap();
            let (filter, order, _) = shopdb_core::catalog::assets().list_clauses(dialect, &params).unwrap();
            let sql = format!("SELECT t.assetid FROM assets t{filter}{order} LIMIT 5");
            let steps = plan_with(&app, &sql, &[]).await;
            let sorts = steps.iter().any(|s| match dialect {
                Dialect::Sqlite => s.contains("TEMP B-TREE"),
                // "Sort", "->  Sort", "Incremental Sort" and their "Sort Key" lines.
                Dialect::Postgres => s.contains("Sort"),
                Dialect::MySql => s.contains("filesort"),
            });
            assert!(!sorts, "{sort}: {sql}\n{steps:#?}");
        }
    }

    async fn reference_data_is_seeded(app) {
        let statuses = app.get("/api/statuses?sort=name").await;
        let names: Vec<&str> = statuses.data().as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
        for expected in ["In Service", "Spare", "In Repair", "Retired"] {
            assert!(names.contains(&expected), "{expected} missing from {names:?}");
        }
        let types = app.get("/api/relationshiptypes").await;
        let names: Vec<&str> = types.data().as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
        for expected in ["controls", "connected to", "located with"] {
            assert!(names.contains(&expected), "{expected} missing from {names:?}");
        }
    }

    async fn create_fetch_update_delete_an_asset(app) {
        let loc = app.post("/api/locations", json!({"name": "Bay 3", "mapx": 10.5, "mapy": 20})).await;
        assert_eq!(loc.status, StatusCode::CREATED, "{}", loc.body);
        let locationid = loc.data()["locationid"].as_i64().unwrap();

        let created = app.asset(json!({"assetnumber": "M-1001", "name": "Okuma lathe", "locationid": locationid, "serialnumber": "OK123"})).await;
        let id = created["assetid"].as_i64().unwrap();
        assert_eq!(created["statusname"], "In Service", "status defaults to In Service");
        assert_eq!(created["locationname"], "Bay 3");
        assert_eq!(created["assettypename"], "Other");
        assert_eq!(created["version"], 1);

        let fetched = app.get(&format!("/api/assets/{id}")).await;
        assert_eq!(fetched.status, StatusCode::OK);
        assert_eq!(fetched.data()["assetnumber"], "M-1001");

        let updated = app.put(&format!("/api/assets/{id}"), json!({"name": "Okuma LB3000", "version": 1})).await;
        assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
        assert_eq!(updated.data()["name"], "Okuma LB3000");
        assert_eq!(updated.data()["serialnumber"], "OK123", "fields not sent keep their values");
        assert_eq!(updated.data()["version"], 2);

        let history = app.get(&format!("/api/assets/{id}/history")).await;
        let entries = history.data().as_array().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0]["action"], "updated", "newest first");
        assert_eq!(entries[0]["actorname"], "testadmin");
        assert_eq!(entries[0]["changes"], json!({"before": {"name": "Okuma lathe"}, "after": {"name": "Okuma LB3000"}}));
        assert_eq!(entries[1]["action"], "created");

        let deleted = app.delete(&format!("/api/assets/{id}")).await;
        assert_eq!(deleted.status, StatusCode::OK);
        assert_eq!(app.get(&format!("/api/assets/{id}")).await.status, StatusCode::NOT_FOUND);
        let history = app.get(&format!("/api/assets/{id}/history")).await;
        assert_eq!(history.data()[0]["action"], "deleted", "the trail outlives the asset");
        assert_eq!(history.data()[0]["changes"]["before"]["assetnumber"], "M-1001");
    }

    async fn stale_version_is_a_conflict_and_loses_nothing(app) {
        let a = app.asset(json!({"assetnumber": "PC-1", "name": "first"})).await;
        let id = a["assetid"].as_i64().unwrap();
        let first = app.put(&format!("/api/assets/{id}"), json!({"name": "second", "version": 1})).await;
        assert_eq!(first.status, StatusCode::OK);
        let stale = app.put(&format!("/api/assets/{id}"), json!({"name": "third", "version": 1})).await;
        assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
        assert_eq!(stale.body["error"]["details"]["currentversion"], 2);
        assert_eq!(stale.body["error"]["details"]["modifiedby"], "testadmin");
        assert!(stale.body["error"]["message"].as_str().unwrap().contains("reload"));
        assert_eq!(app.get(&format!("/api/assets/{id}")).await.data()["name"], "second");
        let missing = app.put(&format!("/api/assets/{id}"), json!({"name": "fourth"})).await;
        assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(missing.body["error"]["details"]["version"].is_string());
    }

    async fn lists_page_sort_and_filter(app) {
        for i in 1..=7u32 {
            let status = if i.is_multiple_of(2) { 2 } else { 1 };
            app.asset(json!({"assetnumber": format!("N{i:02}"), "name": format!("Mill {i}"), "statusid": status})).await;
        }
        let page = app.get("/api/assets?per_page=3&page=2&sort=-assetnumber").await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.body["meta"], json!({"page": 2, "per_page": 3, "total": 7, "pages": 3}));
        let numbers: Vec<&str> = page.data().as_array().unwrap().iter().map(|a| a["assetnumber"].as_str().unwrap()).collect();
        assert_eq!(numbers, ["N04", "N03", "N02"]);

        let spare = app.get("/api/assets?statusid=2").await;
        assert_eq!(spare.body["meta"]["total"], 3);
        let either = app.get("/api/assets?statusid=2&statusid=1").await;
        assert_eq!(either.body["meta"]["total"], 7, "a field named twice matches either value: {}", either.body);
        let with_null = app.get("/api/assets?locationid=null&locationid=4242").await;
        assert_eq!(with_null.body["meta"]["total"], 7, "none has a location");
        assert!(spare.data().as_array().unwrap().iter().all(|a| a["statusname"] == "Spare"));

        let q = app.get("/api/assets?q=MILL%207").await;
        assert_eq!(q.body["meta"]["total"], 1, "q is case-insensitive: {}", q.body);

        let by_name = app.get("/api/assets?sort=statusname&per_page=1").await;
        assert_eq!(by_name.data()[0]["statusname"], "In Service");

        let beyond = app.get("/api/assets?page=9").await;
        assert_eq!(beyond.status, StatusCode::OK);
        assert_eq!(beyond.data(), &json!([]));
        assert_eq!(beyond.body["meta"]["total"], 7);
        // Totals of unfiltered lists are cached briefly; this process's own writes show at once.
        assert_eq!(app.get("/api/assets").await.body["meta"]["total"], 7);
        app.asset(json!({"assetnumber": "N08"})).await;
        assert_eq!(app.get("/api/assets").await.body["meta"]["total"], 8);
    }

    async fn deep_pages_hold_the_same_rows_as_one_long_ordered_list(app) {
        // (assetid, assetnumber, statusid), 250 assets with many equal statuses.
        let mut made: Vec<(i64, String, i64)> = Vec::new();
        for i in 1..=250i64 {
            let number = format!("S-{i:04}");
            let status = i % 3 + 1;
            let a = app.asset(json!({"assetnumber": number, "statusid": status})).await;
            made.push((a["assetid"].as_i64().unwrap(), number, status));
        }
        let walk = |sort: &'static str, per_page: usize| {
            let app = &app;
            async move {
                let mut seen = Vec::new();
                for page in 1.. {
                    let reply = app.get(&format!("/api/assets?sort={sort}&per_page={per_page}&page={page}")).await;
                    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
                    let rows = reply.data().as_array().unwrap().clone();
                    seen.extend(rows.iter().map(|r| r["assetnumber"].as_str().unwrap().to_string()));
                    if rows.len() < per_page {
                        break;
                    }
                }
                seen
            }
        };
        let expected = |made: &[(i64, String, i64)], sort: &str| -> Vec<String> {
            let mut rows = made.to_vec();
            match sort {
                "assetnumber" => rows.sort_by(|a, b| a.1.cmp(&b.1)),
                "-assetnumber" => rows.sort_by(|a, b| b.1.cmp(&a.1)),
                "statusid" => rows.sort_by_key(|a| (a.2, a.0)),
                "-statusid" => rows.sort_by_key(|a| std::cmp::Reverse((a.2, a.0))),
                _ => unreachable!(),
            }
            rows.into_iter().map(|r| r.1).collect()
        };
        for sort in ["assetnumber", "-assetnumber", "statusid", "-statusid"] {
            for per_page in [50, 30] {
                assert_eq!(walk(sort, per_page).await, expected(&made, sort), "sort {sort}, {per_page} per page");
            }
        }
        // After a delete, a deep page is still the slice it should be.
        let gone = made.remove(120);
        assert_eq!(app.delete(&format!("/api/assets/{}", gone.0)).await.status, StatusCode::OK);
        let page4 = app.get("/api/assets?sort=statusid&per_page=50&page=4").await;
        let numbers: Vec<&str> = page4.data().as_array().unwrap().iter().map(|r| r["assetnumber"].as_str().unwrap()).collect();
        assert_eq!(numbers, expected(&made, "statusid")[150..200].to_vec());
        assert_eq!(page4.body["meta"]["total"], 249);
    }

    async fn concurrent_writers_all_succeed_and_are_all_audited(app) {
        let audit_before = app.count("auditlog").await;
        let creates = (0..16).map(|i| app.post("/api/assets", json!({"assetnumber": format!("C-{i:02}"), "name": "cell", "assettypeid": 1})));
        let created = futures_util::future::join_all(creates).await;
        for reply in &created {
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        }
        let paths: Vec<String> = created.iter().map(|r| format!("/api/assets/{}", r.data()["assetid"])).collect();
        let updates = paths.iter().map(|path| app.put(path, json!({"name": format!("cell {path}"), "version": 1})));
        for reply in futures_util::future::join_all(updates).await {
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        }
        assert_eq!(app.get("/api/assets?q=cell").await.body["meta"]["total"], 16);
        assert_eq!(app.count("auditlog").await, audit_before + 32, "one audit row per write");
    }

    async fn list_q_matches_each_searchable_column_and_follows_edits(app) {
        let a = app.asset(json!({"assetnumber": "CNC-0421", "name": "Haas VF-2", "serialnumber": "SN-77A"})).await;
        app.asset(json!({"assetnumber": "CNC-0422", "name": "Mazak \"QT\" 250", "serialnumber": "x0421y"})).await;
        app.asset(json!({"assetnumber": "PC-9", "name": "Cell 0421 PC"})).await;
        let numbers = |body: &serde_json::Value| -> Vec<String> {
            body["data"].as_array().unwrap().iter().map(|r| r["assetnumber"].as_str().unwrap().to_string()).collect()
        };
        // Number, serial and name each match; the answer is the same at any term length.
        let hits = app.get("/api/assets?q=0421&sort=assetnumber").await;
        assert_eq!(numbers(&hits.body), ["CNC-0421", "CNC-0422", "PC-9"], "{}", hits.body);
        assert_eq!(hits.body["meta"]["total"], 3);
        assert_eq!(numbers(&app.get("/api/assets?q=sn-77&sort=assetnumber").await.body), ["CNC-0421"]);
        assert_eq!(numbers(&app.get("/api/assets?q=42&sort=assetnumber").await.body), ["CNC-0421", "CNC-0422", "PC-9"]);
        assert_eq!(numbers(&app.get("/api/assets?q=%22QT%22&sort=assetnumber").await.body), ["CNC-0422"], "quotes are text");
        // Text that spans two columns is not a match.
        assert_eq!(app.get("/api/assets?q=vf-2%20sn").await.body["meta"]["total"], 0);
        // Filters combine with q; an edit shows in the next answer.
        let id = a["assetid"].as_i64().unwrap();
        let spare = app.get("/api/assets?q=0421&statusid=2").await;
        assert_eq!(spare.body["meta"]["total"], 0);
        let moved = app.put(&format!("/api/assets/{id}"), json!({"assetnumber": "CNC-9999", "statusid": 2, "version": 1})).await;
        assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
        assert_eq!(numbers(&app.get("/api/assets?q=0421&sort=assetnumber").await.body), ["CNC-0422", "PC-9"]);
        assert_eq!(numbers(&app.get("/api/assets?q=9999&statusid=2").await.body), ["CNC-9999"]);
    }

    async fn a_row_added_by_another_process_shows_in_the_total_within_seconds(app) {
        let a = app.asset(json!({"assetnumber": "HERE-1"})).await;
        assert_eq!(app.get("/api/assets").await.body["meta"]["total"], 1);
        // Another process (a second server, a script) writes: this one's cache does not know.
        let copied = app.db().query(
            "INSERT INTO assets (assetnumber, assettypeid, statusid, createddate, modifieddate) \
             SELECT 'ELSEWHERE-1', assettypeid, statusid, createddate, modifieddate FROM assets WHERE assetid = ?",
        )
        .bind(a["assetid"].as_i64().unwrap())
        .execute(app.db().pool())
        .await
        .unwrap();
        assert_eq!(copied.rows_affected(), 1);
        // Within COUNT_TTL the cached total stands; after it, one request starts a recount in
        // the background and a following one sees the new total.
        let deadline = std::time::Instant::now() + shopdb_core::db::COUNT_TTL * 4;
        loop {
            let total = app.get("/api/assets").await.body["meta"]["total"].as_i64().unwrap();
            if total == 2 {
                break;
            }
            assert_eq!(total, 1, "only the old or the new total");
            assert!(std::time::Instant::now() < deadline, "the new total never showed");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        // The page itself is never stale.
        assert_eq!(app.get("/api/assets?sort=assetnumber").await.data().as_array().unwrap().len(), 2);
    }

    async fn planner_statistics_are_gathered_without_per_value_samples(app) {
        for i in 0..20 {
            app.asset(json!({"assetnumber": format!("ST-{i}")})).await;
        }
        // SQLite connections read the statistics when they open: mark the pooled ones (a
        // page-cache size of their own) to see whether any is handed out after the refresh.
        let sqlite = app.db().dialect() == shopdb_core::db::Dialect::Sqlite;
        if sqlite {
            let pool = app.db().pool();
            let mut held = Vec::new();
            for _ in 0..shopdb_core::db::SQLITE_CONNECTIONS {
                let mut conn = pool.acquire().await.unwrap();
                sqlx::query("PRAGMA cache_size = -1234").execute(&mut *conn).await.unwrap();
                held.push(conn);
            }
        }
        let analyzed = app.db().refresh_statistics().await.expect("refresh succeeds on every database");
        if sqlite {
            let db = app.db();
            assert!(analyzed.iter().any(|a| a.contains("\"assets\"")), "{analyzed:?}");
            let mut held = Vec::new();
            for _ in 0..shopdb_core::db::SQLITE_CONNECTIONS {
                let mut conn = db.pool().acquire().await.unwrap();
                let row = sqlx::query("PRAGMA cache_size").fetch_one(&mut *conn).await.unwrap();
                let size: i64 = sqlx::Row::try_get(&row, 0).unwrap();
                assert_ne!(size, -1234, "a connection opened before the statistics changed was handed out again");
                held.push(conn);
            }
            drop(held);
            let again = db.refresh_statistics().await.unwrap();
            assert!(again.is_empty(), "nothing changed, nothing analyzed again: {again:?}");
            assert!(scalar(db, "SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'assets'").await > 0, "assets analyzed");
            // Per-value samples would make SQLite re-plan list queries on every execution.
            if scalar(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_stat4'").await > 0 {
                assert_eq!(scalar(db, "SELECT COUNT(*) FROM sqlite_stat4").await, 0);
            }
        }
        if app.db().dialect() == shopdb_core::db::Dialect::Postgres {
            // PostgreSQL counts changes a moment after they commit: the table is analyzed
            // by the first refresh that sees them, and not again until it changes more.
            let db = app.db();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            let mut analyzed = analyzed;
            while !analyzed.iter().any(|a| a == "ANALYZE public.assets") {
                assert!(std::time::Instant::now() < deadline, "assets never analyzed: {analyzed:?}");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                analyzed = db.refresh_statistics().await.unwrap();
            }
            assert!(scalar(db, "SELECT COUNT(*) FROM pg_stat_user_tables WHERE relname = 'assets' AND last_analyze IS NOT NULL").await > 0);
            let again = db.refresh_statistics().await.unwrap();
            assert!(!again.iter().any(|a| a == "ANALYZE public.assets"), "nothing changed, not analyzed again: {again:?}");
        }
        // Lists still answer as before.
        assert_eq!(app.get("/api/assets").await.body["meta"]["total"], 20);
    }

    async fn locations_never_sit_inside_themselves(app) {
        let plant = app.post("/api/locations", json!({"name": "Plant 1"})).await.data()["locationid"].as_i64().unwrap();
        let bay = app.post("/api/locations", json!({"name": "Bay A", "parentid": plant})).await.data()["locationid"].as_i64().unwrap();
        let cell = app.post("/api/locations", json!({"name": "Cell 3", "parentid": bay})).await.data()["locationid"].as_i64().unwrap();
        for parent in [cell, bay, plant] {
            let looped = app.put(&format!("/api/locations/{plant}"), json!({"parentid": parent})).await;
            assert_eq!(looped.status, StatusCode::UNPROCESSABLE_ENTITY, "parent {parent}: {}", looped.body);
            assert!(looped.body["error"]["details"]["parentid"].is_string());
        }
        assert_eq!(app.get(&format!("/api/locations/{plant}")).await.data()["parentid"], serde_json::Value::Null, "unchanged");
        // Moving a branch elsewhere is fine.
        let plant2 = app.post("/api/locations", json!({"name": "Plant 2"})).await.data()["locationid"].as_i64().unwrap();
        let moved = app.put(&format!("/api/locations/{bay}"), json!({"parentid": plant2})).await;
        assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
        let under = app.put(&format!("/api/locations/{plant}"), json!({"parentid": cell})).await;
        assert_eq!(under.status, StatusCode::OK, "Plant 1 may now go under Cell 3: {}", under.body);
    }

    async fn a_plugins_asset_type_stays_while_the_plugin_is_installed(app) {
        assert_eq!(app.post("/api/plugins/computers/install", json!({})).await.status, StatusCode::OK);
        let types = app.get("/api/assettypes?name=Computer").await;
        let id = types.data()[0]["assettypeid"].as_i64().unwrap();
        let refused = app.delete(&format!("/api/assettypes/{id}")).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
        assert!(refused.body["error"]["message"].as_str().unwrap().contains("computers plugin"), "{}", refused.body);
        let renamed = app.put(&format!("/api/assettypes/{id}"), json!({"name": "PC"})).await;
        assert_eq!(renamed.status, StatusCode::CONFLICT, "{}", renamed.body);
        let described = app.put(&format!("/api/assettypes/{id}"), json!({"description": "Shop-floor PCs"})).await;
        assert_eq!(described.status, StatusCode::OK, "a description may change: {}", described.body);
        let pc = app.post("/api/computers", json!({"assetnumber": "PC-1", "hostname": "pc-1"})).await;
        assert_eq!(pc.status, StatusCode::CREATED, "the plugin still works: {}", pc.body);
        // A type of nobody's goes as before.
        let own = app.post("/api/assettypes", json!({"name": "Crane"})).await.data()["assettypeid"].as_i64().unwrap();
        assert_eq!(app.delete(&format!("/api/assettypes/{own}")).await.status, StatusCode::OK);
    }

    async fn status_in_use_cannot_be_deleted(app) {
        let status = app.post("/api/statuses", json!({"name": "Quarantined"})).await;
        let statusid = status.data()["statusid"].as_i64().unwrap();
        app.asset(json!({"assetnumber": "Q1", "statusid": statusid})).await;
        app.asset(json!({"assetnumber": "Q2", "statusid": statusid})).await;
        let audit_before = app.count("auditlog").await;
        let refused = app.delete(&format!("/api/statuses/{statusid}")).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
        assert_eq!(refused.body["error"]["details"]["assets"], 2);
        assert!(refused.body["error"]["message"].as_str().unwrap().contains("Quarantined"));
        assert_eq!(app.get(&format!("/api/statuses/{statusid}")).await.status, StatusCode::OK);
        assert_eq!(app.count("auditlog").await, audit_before, "a refused delete writes nothing");
    }

    async fn relationships_link_assets_both_ways(app) {
        let pc = app.asset(json!({"assetnumber": "PC-7"})).await["assetid"].as_i64().unwrap();
        let cnc = app.asset(json!({"assetnumber": "CNC-7"})).await["assetid"].as_i64().unwrap();
        let rel = app.post("/api/relationships", json!({"sourceassetid": pc, "targetassetid": cnc, "relationshiptypeid": 1})).await;
        assert_eq!(rel.status, StatusCode::CREATED, "{}", rel.body);
        assert_eq!(rel.data()["sourceassetnumber"], "PC-7");
        assert_eq!(rel.data()["targetassetnumber"], "CNC-7");
        assert_eq!(rel.data()["relationshiptypename"], "controls");
        let twice = app.post("/api/relationships", json!({"sourceassetid": pc, "targetassetid": cnc, "relationshiptypeid": 1})).await;
        assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY, "duplicate link: {}", twice.body);
        let selfie = app.post("/api/relationships", json!({"sourceassetid": pc, "targetassetid": pc, "relationshiptypeid": 1})).await;
        assert_eq!(selfie.status, StatusCode::UNPROCESSABLE_ENTITY);
        let of_cnc = app.get(&format!("/api/relationships?targetassetid={cnc}")).await;
        assert_eq!(of_cnc.body["meta"]["total"], 1);
        // Deleting an asset removes its links with it, each delete in the audit trail.
        let link = rel.data()["relationshipid"].as_i64().unwrap();
        assert_eq!(app.delete(&format!("/api/assets/{pc}")).await.status, StatusCode::OK);
        assert_eq!(app.count("assetrelationships").await, 0);
        let trail = app.get(&format!("/api/audit?entitytype=relationship&entityid={link}")).await;
        assert_eq!(trail.data()[0]["action"], "deleted", "{}", trail.body);
        assert_eq!(trail.data()[0]["changes"]["before"]["targetassetid"], cnc);
    }

    async fn a_write_without_its_audit_row_does_not_happen(app) {
        let assets_before = app.count("assets").await;
        app.db().query("DROP TABLE auditlog").execute(app.db().pool()).await.unwrap();
        let reply = app.post("/api/assets", json!({"assetnumber": "GHOST-1", "assettypeid": 1})).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(!message.to_lowercase().contains("auditlog"), "no internals in answers: {message}");
        assert_eq!(app.count("assets").await, assets_before, "the asset insert was rolled back");
        assert_eq!(app.count("searchindex").await, 0);
    }

    async fn openapi_describes_every_route(app) {
        let doc = app.call(axum::http::Method::GET, "/api/openapi.json", None, None).await;
        assert_eq!(doc.status, StatusCode::OK);
        assert_eq!(doc.body["openapi"], "3.0.3");
        for route in &app.state.routes {
            let op = &doc.body["paths"][&route.path][route.method.as_str().to_lowercase()];
            assert!(op.is_object(), "{} {} missing from openapi.json", route.method, route.path);
        }
        for path in ["/api/assets", "/api/assets/{id}/history", "/api/assets/{id}/position", "/api/search", "/api/health", "/api/auth/login"] {
            assert!(doc.body["paths"][path].is_object(), "{path} missing");
        }
        let health = app.call(axum::http::Method::GET, "/api/health", None, None).await;
        assert_eq!(health.status, StatusCode::OK);
        assert_eq!(health.data()["status"], "ok");
    }
}

backend_tests! {
    async fn locations_keep_a_floor_plan_image(app) {
        use axum::body::Body;
        use axum::http::{Method, Request};
        let id = app.post("/api/locations", json!({"name": "Hall 1"})).await.data()["locationid"].as_i64().unwrap();
        let png: Vec<u8> = b"\x89PNG\r\n\x1a\n".iter().copied().chain((0..200_000u32).map(|i| (i % 251) as u8)).collect();
        let upload = |body: Vec<u8>, path: String| {
            Request::builder()
                .method(Method::PUT)
                .uri(path)
                .header("authorization", format!("Bearer {}", app.admin))
                .header("content-type", "image/png")
                .body(Body::from(body))
                .unwrap()
        };
        let stored = app.send(upload(png.clone(), format!("/api/locations/{id}/floorplan"))).await;
        assert_eq!(stored.status, StatusCode::OK, "{}", stored.body);
        assert_eq!(stored.data()["contenttype"], "image/png");

        let fetched = app.call(Method::GET, &format!("/api/locations/{id}/floorplan"), Some(&app.admin.clone()), None).await;
        assert_eq!(fetched.status, StatusCode::OK);
        assert_eq!(fetched.headers["content-type"], "image/png");
        let missing = app.get("/api/locations/99999/floorplan").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(missing.body["error"]["message"], "no location with id 99999", "says which is missing");

        let not_image = app.send(upload(b"<svg onload=alert(1)>".to_vec(), format!("/api/locations/{id}/floorplan"))).await;
        assert_eq!(not_image.status, StatusCode::UNPROCESSABLE_ENTITY);
        let nowhere = app.send(upload(png, "/api/locations/99999/floorplan".into())).await;
        assert_eq!(nowhere.status, StatusCode::NOT_FOUND);

        let trail = app.get(&format!("/api/audit?entitytype=location&entityid={id}")).await;
        assert!(trail.data()[0]["changes"]["after"]["floorplan"].as_str().unwrap().starts_with("image/png"));
        assert_eq!(app.delete(&format!("/api/locations/{id}/floorplan")).await.status, StatusCode::OK);
        assert_eq!(app.get(&format!("/api/locations/{id}/floorplan")).await.status, StatusCode::NOT_FOUND);
        // Deleting the location takes its image with it.
        assert_eq!(app.delete(&format!("/api/locations/{id}")).await.status, StatusCode::OK);
        assert_eq!(app.count("floorplans").await, 0);
    }

    async fn settings_persist_per_scope(app) {
        use shopdb_core::settings::{get_setting, set_setting};
        assert_eq!(get_setting(app.db(), "core", "kioskpublic").await.unwrap(), None);
        set_setting(app.db(), "core", "kioskpublic", "false", "tests").await.unwrap();
        set_setting(app.db(), "core", "kioskpublic", "true", "tests").await.unwrap();
        set_setting(app.db(), "printers", "kioskpublic", "x", "tests").await.unwrap();
        assert_eq!(get_setting(app.db(), "core", "kioskpublic").await.unwrap().as_deref(), Some("true"));
        assert_eq!(get_setting(app.db(), "printers", "kioskpublic").await.unwrap().as_deref(), Some("x"));
        // Without SECRET_KEY in development, the signing key is kept in the database so
        // every process (and every restart) accepts the same logins.
        let mut config = shopdb_core::config::Config::for_database("sqlite::memory:");
        config.secret_key = shopdb_core::config::Secret::default();
        let one = shopdb::app::build(config.clone(), app.db().clone()).await.unwrap();
        let two = shopdb::app::build(config, app.db().clone()).await.unwrap();
        assert_eq!(one.state.signing_key, two.state.signing_key);
        assert!(one.state.signing_key.len() >= 32);
    }
}

backend_tests! {
    async fn list_pages_built_by_the_database_match_the_records(app) {
        let loc = app.post("/api/locations", json!({"name": "Halle \"Süd\" — Bay 3", "mapx": 100.0, "mapy": 20.25})).await.data()["locationid"].clone();
        app.asset(json!({"assetnumber": "J-1", "name": "Drehmaschine \"Süd\"\nzweite Zeile", "locationid": loc, "mapx": 120.5, "mapy": 100.0})).await;
        app.asset(json!({"assetnumber": "J-2", "notes": "tab\there, backslash \\ end"})).await;
        app.asset(json!({"assetnumber": "J-3", "mapx": 0.0, "mapy": -3.75})).await;
        for res in ["assets", "locations", "statuses"] {
            let resource = app.state.resource(res);
            for query in ["", "sort=-name", "per_page=2&page=2"] {
                let params = shopdb_core::http::ListParams::parse(Some(query)).unwrap();
                let (values, total) = resource.list(app.db(), &params).await.unwrap();
                let (raw, raw_total) = resource.list_json(app.db(), &params).await.unwrap();
                let parsed: serde_json::Value = serde_json::from_str(&raw).unwrap();
                assert_eq!(parsed, serde_json::Value::Array(values), "{res}?{query}");
                assert_eq!(total, raw_total);
            }
        }
        let listed = app.get("/api/assets?sort=assetnumber").await;
        assert_eq!(listed.data()[0]["name"], "Drehmaschine \"Süd\"\nzweite Zeile");
        assert_eq!(listed.data()[0]["mapx"], 120.5);
        assert_eq!(listed.data()[0]["locationname"], "Halle \"Süd\" — Bay 3");
        assert_eq!(listed.body["meta"], json!({"page": 1, "per_page": 50, "total": 3, "pages": 1}));
    }
}

async fn scalar(db: &shopdb_core::db::Db, sql: &str) -> i64 {
    let row = db.query(sql).fetch_one(db.pool()).await.unwrap();
    sqlx::Row::try_get(&row, 0).unwrap()
}

backend_tests! {
    async fn an_asset_is_not_deleted_through_a_copy_outside_the_running_catalog(app) {
        // The server's own assets resource knows the plugins' delete hooks and the tables
        // that refer to an asset; a fresh copy does not, so it must not delete at all.
        let created = app.post("/api/assets", json!({"assetnumber": "COPY-1", "assettypeid": 1})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let id = created.data()["assetid"].as_i64().unwrap();
        let actor = shopdb_core::auth::Actor::system("test");
        let refused = shopdb_core::catalog::assets().delete(app.db(), &actor, id, &[]).await;
        let error = refused.expect_err("a copy outside the catalog deletes nothing");
        assert!(error.kind.is_server(), "{error:?}");
        assert_eq!(app.get(&format!("/api/assets/{id}")).await.status, StatusCode::OK, "still there");
        // Through the server it goes.
        assert_eq!(app.delete(&format!("/api/assets/{id}")).await.status, StatusCode::OK);
    }
}
