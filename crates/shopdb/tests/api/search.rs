use axum::http::StatusCode;
use serde_json::json;
use shopdb_core::db::{Dialect, SqlValue};
use sqlx::Row;

use crate::backend_tests;
use crate::support::{plan_with, uses_indexes};

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

/// Every hit of a search, page by page, and the total the first page announced.
async fn all_pages(app: &crate::support::TestApp, q: &str) -> (Vec<String>, i64) {
    let encoded: String = url_encode(q);
    let first = app
        .get(&format!("/api/search?q={encoded}&per_page=7"))
        .await;
    assert_eq!(first.status, StatusCode::OK, "{q}: {}", first.body);
    let total = first.body["meta"]["total"].as_i64().unwrap();
    let pages = first.body["meta"]["pages"].as_i64().unwrap();
    let mut titles = Vec::new();
    for page in 1..=pages {
        let reply = app
            .get(&format!("/api/search?q={encoded}&per_page=7&page={page}"))
            .await;
        for hit in reply.data().as_array().unwrap() {
            titles.push(hit["title"].as_str().unwrap().to_string());
        }
    }
    (titles, total)
}

fn url_encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

backend_tests! {
    async fn search_answers_are_exact_whatever_the_term(app) {
        let names = [
            ("WJ-PC-012345", "Grinder PC"),
            ("WJ-PC-012346", "Lathe PC"),
            ("WJ-PC-0123", "Spare PC"),
            ("WJ-PC-099999", "Müller's desk"),
            ("X-01234", "Straße 4 (Halle Süd) [100%] a_b!c"),
            ("10.20.30.40", "IP-named box"),
            ("00:1a:2b:3c:4d:5e", "MAC-named box"),
            ("CAM-\"EAST\"", "quoted"),
        ];
        for (number, name) in names {
            app.asset(json!({"assetnumber": number, "name": name})).await;
        }
        // Each term against what a plain "contains, ignoring case" over number and name gives.
        let terms = [
            "PC-0123", "pc-01234", "12", "0", "9", "WJ", "wj-pc-012345", "müller", "MÜLLER", "straße",
            "süd) [100%", "100%", "a_b!c", "_", "!", "%", "10.20.30", ".30.4", "1a:2b", ":4d:5e",
            "\"east\"", "'s desk", "lathe pc", "ip-named", "nothing-like-this", "PC-0123 ",
        ];
        for term in terms {
            let wanted: Vec<String> = {
                let t = term.trim().to_lowercase();
                let mut w: Vec<String> = names
                    .iter()
                    .filter(|(n, m)| n.to_lowercase().contains(&t) || m.to_lowercase().contains(&t))
                    .map(|(n, _)| n.to_string())
                    .collect();
                w.sort();
                w
            };
            let (mut got, total) = all_pages(&app, term).await;
            assert_eq!(total as usize, got.len(), "{term:?}: total matches the pages");
            got.sort();
            assert_eq!(got, wanted, "{term:?}");
        }
        // A long term (100 characters) is searched, and over 100 is refused.
        let long = "x".repeat(100);
        app.asset(json!({"assetnumber": "LONG-1", "name": format!("a{long}b")})).await;
        assert_eq!(all_pages(&app, &long).await.1, 1);
        assert_eq!(app.get(&format!("/api/search?q={long}x")).await.status, StatusCode::BAD_REQUEST);
    }

    async fn search_ranks_exact_then_prefix_then_substring_and_pages_through_everything(app) {
        for number in ["AB-PC-0123", "PC-0123-B", "PC-0123", "ZZ-PC-01234", "PC-01234"] {
            app.asset(json!({"assetnumber": number})).await;
        }
        let first = app.get("/api/search?q=pc-0123").await;
        let titles: Vec<&str> = first.data().as_array().unwrap().iter().map(|h| h["title"].as_str().unwrap()).collect();
        assert_eq!(titles, ["PC-0123", "PC-0123-B", "PC-01234", "AB-PC-0123", "ZZ-PC-01234"]);
        assert_eq!(first.body["meta"]["total"], 5);

        for n in 0..45 {
            app.asset(json!({"assetnumber": format!("BULK-{n:03}")})).await;
        }
        let (titles, total) = all_pages(&app, "bulk").await;
        assert_eq!(total, 45);
        let mut unique = titles.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 45, "no record twice, none missed across pages");
        let last = app.get("/api/search?q=bulk&per_page=20&page=3").await;
        assert_eq!(last.data().as_array().unwrap().len(), 5);
        assert_eq!(last.body["meta"]["pages"], 3);
        assert_eq!(app.get("/api/search?q=bulk&page=0").await.status, StatusCode::BAD_REQUEST);
        assert_eq!(app.get("/api/search?q=bulk&per_page=101").await.status, StatusCode::BAD_REQUEST);
    }

    async fn an_extended_asset_is_found_once_as_its_plugin_record(app) {
        app.post("/api/plugins/computers/install", json!({})).await;
        let pc = app.post("/api/computers", json!({"assetnumber": "PC-777", "name": "Cell 7 PC", "hostname": "WJ-CELL-777"})).await;
        assert_eq!(pc.status, StatusCode::CREATED, "{}", pc.body);
        // The asset number is in both entries; the record shows once, as a computer.
        let hits = app.get("/api/search?q=pc-777").await;
        assert_eq!(hits.body["meta"]["total"], 1, "{}", hits.body);
        assert_eq!(hits.data()[0]["type"], "computer");
        // The asset's name is not one of the computer's fields, but its entry holds the
        // asset's text: found once, as the computer.
        let by_name = app.get("/api/search?q=cell%207").await;
        assert_eq!(by_name.body["meta"]["total"], 1, "{}", by_name.body);
        assert_eq!(by_name.data()[0]["type"], "computer");
        // A new name moves with it.
        let id = pc.data()["assetid"].as_i64().unwrap();
        let renamed = app.put(&format!("/api/computers/{id}"), json!({"name": "Paint Booth PC", "version": 1})).await;
        assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
        assert_eq!(app.get("/api/search?q=cell%207").await.body["meta"]["total"], 0);
        let by_new_name = app.get("/api/search?q=booth").await;
        assert_eq!(by_new_name.body["meta"]["total"], 1, "{}", by_new_name.body);
        assert_eq!(by_new_name.data()[0]["type"], "computer");
        // With the plugin disabled the record is a plain asset again.
        app.post("/api/plugins/computers/disable", json!({})).await;
        let hidden = app.get("/api/search?q=pc-777").await;
        assert_eq!(hidden.body["meta"]["total"], 1, "{}", hidden.body);
        assert_eq!(hidden.data()[0]["type"], "asset");
        assert_eq!(app.get("/api/search?q=booth").await.data()[0]["type"], "asset");
    }

    async fn entries_written_before_they_were_linked_are_linked_by_the_upgrade(app) {
        app.post("/api/plugins/computers/install", json!({})).await;
        let pc = app.post("/api/computers", json!({"assetnumber": "PC-778", "name": "Paint Booth PC", "hostname": "WJ-CELL-778", "serialnumber": "SN-778"})).await;
        assert_eq!(pc.status, StatusCode::CREATED, "{}", pc.body);
        let id = pc.data()["assetid"].as_i64().unwrap();
        let db = app.db();
        let write = |sql: &'static str, values: Vec<SqlValue>| async move {
            db.execute_write(sql, &values).await.unwrap();
        };
        // The entries as core 9 wrote them: the computer's without the asset's name (and,
        // on MySQL, the word endings of that text), the asset's not linked to it.
        write("UPDATE searchindex SET searchtext = 'wj-cell-778 pc-778 sn-778' WHERE entitytype = 'computer' AND entityid = ?", vec![SqlValue::Int(id)]).await;
        if db.dialect() == Dialect::MySql {
            write("DELETE FROM searchsuffixes WHERE searchid IN (SELECT searchid FROM searchindex WHERE entitytype = 'computer' AND entityid = ?)", vec![SqlValue::Int(id)]).await;
            shopdb_core::search::backfill_suffixes(db, true).await.unwrap();
            write("ALTER TABLE searchsuffixes DROP COLUMN aside", vec![]).await;
        }
        write("DELETE FROM schemamigrations WHERE chain = 'core' AND version = 10", vec![]).await;
        write("ALTER TABLE searchindex DROP COLUMN extendedby", vec![]).await;

        let ran = shopdb::app::upgrade(db).await.unwrap();
        assert_eq!(ran.len(), 1, "{ran:?}");
        let texts: Vec<(String, String)> = db
            .query("SELECT entitytype, searchtext FROM searchindex WHERE entityid = ? ORDER BY entitytype")
            .bind(id)
            .fetch_all(db.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(texts[0], ("asset".to_string(), "pc-778 paint booth pc sn-778".to_string()));
        assert_eq!(texts[1], ("computer".to_string(), "wj-cell-778 pc-778 sn-778 pc-778 paint booth pc sn-778".to_string()));
        if db.dialect() == Dialect::MySql {
            // The asset entry's word endings say it steps aside, so searches skip them.
            let unmarked: i64 = db
                .query("SELECT COUNT(*) FROM searchsuffixes x JOIN searchindex a ON a.searchid = x.searchid WHERE a.entitytype = 'asset' AND a.entityid = ? AND x.aside IS NULL")
                .bind(id)
                .fetch_one(db.pool())
                .await
                .unwrap()
                .get(0);
            assert_eq!(unmarked, 0);
        }
        // Found once, as the computer, by its number and by its name (on MySQL through the
        // word endings stored anew).
        for term in ["pc-778", "booth"] {
            let hits = app.get(&format!("/api/search?q={term}")).await;
            assert_eq!(hits.body["meta"]["total"], 1, "{term}: {}", hits.body);
            assert_eq!(hits.data()[0]["type"], "computer", "{term}");
        }
        app.post("/api/plugins/computers/disable", json!({})).await;
        assert_eq!(app.get("/api/search?q=booth").await.data()[0]["type"], "asset");
    }

    async fn a_collector_batch_moves_each_search_entry_with_its_record(app) {
        app.post("/api/plugins/computers/install", json!({})).await;
        let pc = |n: u32, user: &str, host: &str| json!({
            "hostname": host, "serialnumber": format!("5CG{n:07}"), "currentuser": user,
        });
        let first = app.post("/api/collector/computers", json!({ "records": [
            pc(1, "jdoe", "WJ-PC-000001"), pc(2, "jdoe", "WJ-PC-000002"), pc(3, "jdoe", "WJ-PC-000003"),
        ]})).await;
        assert_eq!(first.data()["created"], 3, "{}", first.body);
        // Two change hands, one of them is renamed too (matched by its serial).
        let second = app.post("/api/collector/computers", json!({ "records": [
            pc(1, "mmuster", "WJ-PC-000001"), pc(2, "mmuster", "WJ-LAB-000002"), pc(3, "jdoe", "WJ-PC-000003"),
        ]})).await;
        assert_eq!(second.data()["updated"], 2, "{}", second.body);
        for (q, expected) in [("jdoe", 1), ("mmuster", 2), ("muster", 2)] {
            let found = app.get(&format!("/api/search?q={q}")).await;
            assert_eq!(found.body["meta"]["total"], expected, "{q}: {}", found.body);
        }
        let renamed = app.get("/api/search?q=wj-lab").await;
        assert_eq!(renamed.body["meta"]["total"], 1, "{}", renamed.body);
        assert_eq!(renamed.data()[0]["title"], "WJ-LAB-000002");
        assert_eq!(renamed.data()[0]["subtitle"], "mmuster");
        let db = app.db();
        if db.dialect() == Dialect::MySql {
            // Only the endings that came or went were written: none is left of a word
            // the text no longer holds.
            let stale: i64 = db
                .query("SELECT COUNT(*) FROM searchsuffixes x JOIN searchindex s ON s.searchid = x.searchid WHERE LOCATE(x.suffix, s.searchtext) = 0")
                .fetch_one(db.pool())
                .await
                .unwrap()
                .get(0);
            assert_eq!(stale, 0);
        }
    }

    async fn a_start_finishes_a_fill_of_word_endings_an_earlier_one_left(app) {
        app.post("/api/plugins/computers/install", json!({})).await;
        let pc = app.post("/api/computers", json!({"assetnumber": "PC-779", "hostname": "WJ-CELL-779"})).await;
        assert_eq!(pc.status, StatusCode::CREATED, "{}", pc.body);
        let id = pc.data()["assetid"].as_i64().unwrap();
        let db = app.db();
        let mysql = db.dialect() == Dialect::MySql;
        let drop_endings = || async move {
            db.execute_write(
                "DELETE FROM searchsuffixes WHERE searchid IN (SELECT searchid FROM searchindex WHERE entityid = ?)",
                &[SqlValue::Int(id)],
            )
            .await
            .unwrap();
        };
        if mysql {
            // With nothing to migrate a start does not read every entry for missing endings.
            drop_endings().await;
            assert!(shopdb::app::upgrade(db).await.unwrap().is_empty());
            assert_eq!(app.get("/api/search?q=cell-779").await.body["meta"]["total"], 0);
            // A fill that stopped half way left its mark: the next start finishes it.
            shopdb_core::settings::set_internal(db, "core", "searchendingsfilling", Some("yes")).await.unwrap();
        }
        assert!(shopdb::app::upgrade(db).await.unwrap().is_empty());
        let found = app.get("/api/search?q=cell-779").await;
        assert_eq!(found.body["meta"]["total"], 1, "{}", found.body);
        assert_eq!(found.data()[0]["type"], "computer");
        let mark = shopdb_core::settings::get_setting(db, "core", "searchendingsfilling").await.unwrap();
        assert_eq!(mark, None, "the mark goes once the fill is done");
    }

    async fn search_reads_an_index_not_the_table(app) {
        // A few hundred PCs the way collectors make them, and the terms people type: part of
        // a host name, a whole one, a serial number, an address, words of a name.
        let installed = app.post("/api/plugins/computers/install", json!({})).await;
        assert_eq!(installed.status, StatusCode::OK, "{}", installed.body);
        let records: Vec<_> = (0..300)
            .map(|n| json!({
                "hostname": format!("WJ-PC-{n:06}"),
                "serialnumber": format!("5CG{n:07}"),
                "ipaddress": format!("10.1.{}.{}", n / 200, n % 200 + 1),
                "currentuser": "jdoe",
            }))
            .collect();
        let pushed = app.post("/api/collector/computers", json!({ "records": records })).await;
        assert_eq!(pushed.data()["created"], 300, "{}", pushed.body);
        app.asset(json!({"assetnumber": "WJ-004471", "name": "Mazak Lathe"})).await;
        let dialect = app.db().dialect();
        for term in ["PC-00012", "wj-pc-000042", "5CG0000042", "10.1.0.17", "mazak lathe"] {
            // As the server asks it, with and without a disabled plugin's entries hidden.
            for hidden in [vec![], vec!["printers".to_string()]] {
                let sql = shopdb_core::search::search_sql(dialect, term, 1, 20, &hidden);
                let steps = plan_with(&app, &sql.page, &sql.page_values).await;
                assert!(uses_indexes(dialect, &steps), "{term}: {}\n{steps:#?}", sql.page);
            }
            // And it finds what it should.
            let found = app.get(&format!("/api/search?q={}", term.replace(' ', "%20"))).await;
            assert!(found.body["meta"]["total"].as_i64().unwrap() >= 1, "{term}: {}", found.body);
        }
    }
}
