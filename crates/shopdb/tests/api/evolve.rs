//! Plugin model changes: planned on the recorded model, applied as recorded steps, lossy
//! changes refused unless declared. Each test installs release 1 of the `gauges` test plugin,
//! stores rows, then starts a server with an edited model on the same database.

use axum::http::StatusCode;
use serde_json::{Value, json};
use shopdb_core::evolve::{self, Mode};
use shopdb_core::migrate::{Migration, Step};
use shopdb_core::plugin::lifecycle;
use shopdb_core::schema::{Column, Table, live_columns};
use sqlx::Row;

use crate::backend_tests;
use crate::support::TestApp;
use crate::testplugins::{gauges, gauges_v1, gauges_with};

/// Release 1 installed, with two gauges (tag, span, kind, reading) and one unit.
async fn installed_v1(app: &TestApp) -> (TestApp, Vec<i64>) {
    let v1 = app.with_plugins(vec![gauges(gauges_v1())]).await;
    let reply = v1.post("/api/plugins/gauges/install", json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let mut ids = Vec::new();
    for (n, kind) in [(1, "dial"), (2, "digital")] {
        let asset = v1
            .asset(json!({"assetnumber": format!("G-{n}"), "name": format!("Gauge {n}")}))
            .await;
        let id = asset["assetid"].as_i64().unwrap();
        v1.db()
            .query("INSERT INTO gauges (assetid, tag, span, kind, reading) VALUES (?, ?, ?, ?, ?)")
            .bind(id)
            .bind(format!("PG-{n}"))
            .bind(format!("0-{n}0 bar"))
            .bind(kind.to_string())
            .bind(n * 7)
            .execute(v1.db().pool())
            .await
            .unwrap();
        ids.push(id);
    }
    v1.db()
        .query("INSERT INTO gaugeunits (name) VALUES ('bar')")
        .execute(v1.db().pool())
        .await
        .unwrap();
    (v1, ids)
}

/// `f(gauges table)` applied to release 1.
fn edited(f: impl FnOnce(Table) -> Table) -> Vec<Table> {
    let mut tables = gauges_v1();
    tables[0] = f(tables[0].clone());
    tables
}

/// `table` without `column`.
fn without(table: Table, column: &str) -> Table {
    Table {
        columns: table
            .columns
            .into_iter()
            .filter(|c| c.name != column)
            .collect(),
        ..table
    }
}

/// `table` with `column` replaced by `by`.
fn replaced(table: Table, column: &str, by: Column) -> Table {
    Table {
        columns: table
            .columns
            .into_iter()
            .map(|c| if c.name == column { by.clone() } else { c })
            .collect(),
        ..table
    }
}

async fn texts(app: &TestApp, sql: &str) -> Vec<String> {
    app.db()
        .query(sql)
        .fetch_all(app.db().pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String, _>(0).unwrap())
        .collect()
}

async fn recorded_steps(app: &TestApp) -> Vec<String> {
    texts(
        app,
        "SELECT name FROM schemamigrations WHERE chain = 'gauges.model' ORDER BY version",
    )
    .await
}

async fn plan_names(app: &TestApp, tables: &[Table]) -> Vec<String> {
    evolve::plan(app.db(), "gauges", tables)
        .await
        .unwrap()
        .steps
        .iter()
        .map(|s| s.describe())
        .collect()
}

/// Everything a refused change must leave as it was.
async fn snapshot(app: &TestApp) -> Value {
    json!({
        "columns": live_columns(app.db(), "gauges").await.unwrap(),
        "unitcolumns": live_columns(app.db(), "gaugeunits").await.unwrap(),
        "tags": texts(app, "SELECT tag FROM gauges ORDER BY assetid").await,
        "spans": texts(app, "SELECT span FROM gauges ORDER BY assetid").await,
        "steps": recorded_steps(app).await,
        "model": evolve::recorded(app.db(), "gauges").await.unwrap().map(|m| serde_json::to_value(m).unwrap()),
    })
}

fn v2() -> Vec<Table> {
    let mut tables = edited(|t| {
        replaced(t, "tag", Column::string("tag", 40).unique())
            .column(Column::string("unit", 10).nullable())
            .column(Column::boolean("calibrated").default("0"))
            .index(&["unit"])
            .lower_index("tag")
    });
    tables[0].columns[3] = Column::string("kind", 20)
        .nullable()
        .choices(&["dial", "digital", "pressure"]);
    tables.push(
        Table::new("gaugechecks")
            .column(Column::id("checkid"))
            .column(Column::string("note", 100)),
    );
    tables
}

backend_tests! {
    async fn bundled_plugins_record_their_models_and_have_nothing_planned(app) {
        for p in ["computers", "equipment", "network", "printers", "usb", "notifications"] {
            let r = app.post(&format!("/api/plugins/{p}/install"), json!({})).await;
            assert_eq!(r.status, StatusCode::OK, "{p}: {}", r.body);
            let loaded = app.state.registry.get(p).unwrap();
            let plan = evolve::plan(app.db(), p, &loaded.tables).await.unwrap();
            assert!(plan.was_recorded, "{p}: model recorded at install");
            assert_eq!(plan.steps, Vec::new(), "{p}: its migrations and its models() agree");
        }
        // Installed by an older build: the default baseline in the plugin's own chain.
        let db = app.db();
        db.query("DELETE FROM pluginmodels WHERE pluginname = 'equipment'").execute(db.pool()).await.unwrap();
        db.query("UPDATE schemamigrations SET chain = 'equipment' WHERE chain = 'equipment.model'").execute(db.pool()).await.unwrap();
        db.query("UPDATE schemamigrations SET name = 'baseline' WHERE chain = 'equipment' AND version = 1").execute(db.pool()).await.unwrap();
        let again = app.with_plugins(shopdb::plugins::bundled()).await;
        let own = texts(&again, "SELECT name FROM schemamigrations WHERE chain = 'equipment'").await;
        assert!(own.is_empty(), "the old baseline moved to the model chain: {own:?}");
        let status = evolve::status(again.db(), "equipment", &again.state.registry.get("equipment").unwrap().tables).await.unwrap();
        assert_eq!(status.applied[0].name, "baseline");
        assert!(status.pending.is_empty() && status.refused.is_none(), "{status:?}");
    }

    async fn an_installed_plugin_upgrades_after_its_model_gains_fields_and_keeps_its_data(app) {
        let (v1, ids) = installed_v1(&app).await;
        assert_eq!(recorded_steps(&v1).await, ["create table gauges", "create table gaugeunits"]);
        assert_eq!(plan_names(&v1, &gauges_v1()).await, Vec::<String>::new(), "nothing to do at release 1");

        // The plan of release 2, read without changing anything.
        let before = snapshot(&v1).await;
        assert_eq!(plan_names(&v1, &v2()).await, [
            "alter column gauges.tag (string(20) -> string(40))",
            "add choice 'pressure' to gauges.kind",
            "add column gauges.unit",
            "add column gauges.calibrated",
            "add index ix_gauges_unit on gauges",
            "add index lx_gauges_tag on gauges",
            "create table gaugechecks",
        ]);
        assert_eq!(snapshot(&v1).await, before, "planning changes nothing");

        // Starting release 2 applies the lossless steps, each recorded.
        let v2app = v1.with_plugins(vec![gauges(v2())]).await;
        let steps = recorded_steps(&v2app).await;
        assert_eq!(steps.len(), 9, "{steps:?}");
        assert_eq!(steps[8], "create table gaugechecks");
        assert_eq!(plan_names(&v2app, &v2()).await, Vec::<String>::new(), "up to date");
        let columns = live_columns(v2app.db(), "gauges").await.unwrap();
        assert_eq!(columns, ["assetid", "tag", "span", "kind", "reading", "unit", "calibrated"]);
        assert_eq!(texts(&v2app, "SELECT tag FROM gauges ORDER BY assetid").await, ["PG-1", "PG-2"], "rows kept");
        assert_eq!(texts(&v2app, "SELECT span FROM gauges ORDER BY assetid").await, ["0-10 bar", "0-20 bar"]);
        let defaulted: i64 = v2app.db().query("SELECT COUNT(*) FROM gauges WHERE calibrated = 0").fetch_one(v2app.db().pool()).await.unwrap().try_get(0).unwrap();
        assert_eq!(defaulted, 2, "existing rows take the default");
        // The widened column takes a longer value (MySQL and PostgreSQL enforce lengths).
        let long = "PG-THIRTY-CHARACTERS-LONG-TAG1";
        v2app.db().query("UPDATE gauges SET tag = ? WHERE assetid = ?").bind(long).bind(ids[0]).execute(v2app.db().pool()).await.unwrap();
        // Still unique, and still found ignoring case through the new index.
        let dup = v2app.db().query("UPDATE gauges SET tag = ? WHERE assetid = ?").bind(long).bind(ids[1]).execute(v2app.db().pool()).await;
        assert!(dup.is_err(), "tag stays unique");
        assert_eq!(v2app.count("gaugechecks").await, 0);

        // db status: the model chain with every step applied and nothing pending.
        let status = evolve::status(v2app.db(), "gauges", &v2()).await.unwrap();
        assert_eq!(status.chain, "gauges.model");
        assert_eq!(status.applied.len(), 9);
        assert!(status.pending.is_empty() && status.refused.is_none());

        // A restart with the same model runs nothing.
        let again = v2app.with_plugins(vec![gauges(v2())]).await;
        assert_eq!(recorded_steps(&again).await.len(), 9);
    }

    async fn a_site_installed_before_models_were_recorded_upgrades_from_its_live_tables(app) {
        let (v1, _) = installed_v1(&app).await;
        // As an older build left it: the default baseline in the plugin's own chain, no model.
        let db = v1.db();
        db.query("DELETE FROM schemamigrations WHERE chain = 'gauges.model'").execute(db.pool()).await.unwrap();
        db.query("DELETE FROM pluginmodels").execute(db.pool()).await.unwrap();
        db.query("INSERT INTO schemamigrations (chain, version, name, checksum, appliedat) VALUES ('gauges', 1, 'baseline', 'old', '2026-01-01T00:00:00Z')").execute(db.pool()).await.unwrap();
        // Release 2 widens a string and adds a field; the live table still has the old length.
        let tables = edited(|t| replaced(t, "tag", Column::string("tag", 40).unique()).column(Column::string("unit", 10).nullable()));
        assert_eq!(plan_names(&v1, &tables).await, ["alter column gauges.tag (string(20) -> string(40))", "add column gauges.unit"]);

        let v2app = v1.with_plugins(vec![gauges(tables.clone())]).await;
        assert_eq!(recorded_steps(&v2app).await, ["baseline", "alter column gauges.tag (string(20) -> string(40))", "add column gauges.unit"], "the old baseline is adopted");

        assert!(texts(&v2app, "SELECT name FROM schemamigrations WHERE chain = 'gauges'").await.is_empty());
        assert!(live_columns(v2app.db(), "gauges").await.unwrap().contains(&"unit".to_string()));
        assert_eq!(texts(&v2app, "SELECT tag FROM gauges ORDER BY assetid").await, ["PG-1", "PG-2"]);
        let long = "PG-THIRTY-CHARACTERS-LONG-TAG1";
        v2app.db().query("UPDATE gauges SET tag = ? WHERE tag = 'PG-1'").bind(long).execute(v2app.db().pool()).await.unwrap();
        let status = evolve::status(v2app.db(), "gauges", &tables).await.unwrap();
        assert!(status.pending.is_empty() && status.refused.is_none(), "{status:?}");
    }

    async fn changes_that_could_lose_data_are_refused_naming_the_field_and_change_nothing(app) {
        let (v1, _) = installed_v1(&app).await;
        let before = snapshot(&v1).await;
        let cases: Vec<(Vec<Table>, &str)> = vec![
            (edited(|t| without(t, "span")), "gauges.span was removed from the model"),
            (edited(|t| replaced(t, "tag", Column::string("tag", 10).unique())), "gauges.tag: narrowing string(20) to string(10)"),
            (edited(|t| replaced(t, "reading", Column::string("reading", 20).nullable())), "gauges.reading: changing integer to string(20)"),
            (edited(|t| replaced(t, "span", Column::string("span", 20))), "gauges.span: making an optional field required"),
            (edited(|t| t.column(Column::string("serial", 20))), "gauges.serial: a new required field needs a default"),
            (edited(|t| replaced(t, "kind", Column::string("kind", 20).nullable().choices(&["dial"]))), "gauges.kind: choice 'digital' is still held by 1 rows"),
            (vec![gauges_v1()[0].clone()], "table gaugeunits is no longer in the model"),
        ];
        for (tables, expected) in cases {
            let site = v1.with_plugins(vec![gauges(tables)]).await;
            let mode = Mode::Explicit { backup_dir: std::env::temp_dir() };
            let err = lifecycle::migrate_plugin(site.db(), &site.state.registry, "gauges", &mode).await.unwrap_err().to_string();
            assert!(err.contains(expected), "{expected}: {err}");
            assert!(err.contains("nothing was changed"), "{err}");
            assert_eq!(snapshot(&site).await, before, "{expected}: nothing changed");
        }
    }

    async fn what_a_hand_written_migration_did_is_not_planned_again(app) {
        let (v1, _) = installed_v1(&app).await;
        let tables = edited(|t| t.column(Column::string("unit", 10).nullable()));
        let by_hand = Migration::new(1, "unit by hand", vec![
            Step::AddColumn { table: "gauges".into(), column: Column::string("unit", 10).nullable() },
            Step::Sql { sqlite: "UPDATE gauges SET unit = 'bar'".into(), mysql: "UPDATE gauges SET unit = 'bar'".into(), postgres: "UPDATE gauges SET unit = 'bar'".into() },
        ]);
        let v2app = v1.with_plugins(vec![gauges_with(tables.clone(), vec![by_hand])]).await;
        assert_eq!(texts(&v2app, "SELECT name FROM schemamigrations WHERE chain = 'gauges'").await, ["unit by hand"]);
        assert_eq!(recorded_steps(&v2app).await, ["create table gauges", "create table gaugeunits"], "nothing planned");
        assert_eq!(texts(&v2app, "SELECT unit FROM gauges").await, ["bar", "bar"]);
        assert_eq!(plan_names(&v2app, &tables).await, Vec::<String>::new());
    }

    async fn a_table_other_tables_refer_to_is_altered_keeping_their_rows_and_its_ids(app) {
        let units = |len| Table::new("gaugeunits").column(Column::id("unitid")).column(Column::string("name", len));
        let readings = Table::new("gaugereadings")
            .column(Column::id("readingid"))
            .column(Column::integer("unitid").references("gaugeunits", "unitid", shopdb_core::schema::OnDelete::Cascade))
            .column(Column::integer("value"));
        let v1 = app.with_plugins(vec![gauges(vec![units(20), readings.clone()])]).await;
        assert_eq!(v1.post("/api/plugins/gauges/install", json!({})).await.status, StatusCode::OK);
        let db = v1.db();
        for sql in [
            "INSERT INTO gaugeunits (name) VALUES ('bar')",
            "INSERT INTO gaugeunits (name) VALUES ('psi')",
            "DELETE FROM gaugeunits WHERE name = 'psi'",
            "INSERT INTO gaugereadings (unitid, value) SELECT unitid, 7 FROM gaugeunits",
            "INSERT INTO gaugereadings (unitid, value) SELECT unitid, 8 FROM gaugeunits",
        ] {
            db.query(sql).execute(db.pool()).await.unwrap();
        }
        let v2app = v1.with_plugins(vec![gauges(vec![units(40), readings])]).await;
        assert_eq!(recorded_steps(&v2app).await.last().unwrap(), "alter column gaugeunits.name (string(20) -> string(40))");
        assert_eq!(v2app.count("gaugereadings").await, 2, "no cascade fired");
        let db = v2app.db();
        db.query("INSERT INTO gaugeunits (name) VALUES ('a unit name of thirty chars..')").execute(db.pool()).await.unwrap();
        let ids: Vec<i64> = db.query("SELECT unitid FROM gaugeunits ORDER BY unitid").fetch_all(db.pool()).await.unwrap().iter().map(|r| r.try_get(0).unwrap()).collect();
        assert_eq!(ids, [1, 3], "ids kept, and a deleted id is not given out again");
        let orphan = db.query("INSERT INTO gaugereadings (unitid, value) VALUES (99, 1)").execute(db.pool()).await;
        assert!(orphan.is_err(), "the reference is still enforced");
        db.query("DELETE FROM gaugeunits WHERE unitid = 1").execute(db.pool()).await.unwrap();
        assert_eq!(v2app.count("gaugereadings").await, 0, "and still cascades");
    }

    async fn choices_are_enforced_and_a_choice_added_by_an_upgrade_is_accepted(app) {
        let (v1, _) = installed_v1(&app).await;
        assert_eq!(v1.post("/api/assettypes", json!({"name": "Gauge"})).await.status, StatusCode::CREATED);
        let analog = v1.post("/api/gauges", json!({"assetnumber": "G-9", "tag": "PG-9", "kind": "pressure"})).await;
        assert_eq!(analog.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", analog.body);
        assert_eq!(analog.body["error"]["details"]["kind"], "must be one of dial, digital");
        let v2app = v1.with_plugins(vec![gauges(v2())]).await;
        let made = v2app.post("/api/gauges", json!({"assetnumber": "G-9", "tag": "PG-9", "kind": "pressure"})).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        assert_eq!(made.data()["kind"], "pressure");
        assert_eq!(made.data()["calibrated"], false, "the new field's default");
    }

    async fn an_unused_choice_can_be_removed(app) {
        let (v1, _) = installed_v1(&app).await;
        v1.db().query("UPDATE gauges SET kind = 'dial'").execute(v1.db().pool()).await.unwrap();
        let tables = edited(|t| replaced(t, "kind", Column::string("kind", 20).nullable().choices(&["dial"])));
        let v2app = v1.with_plugins(vec![gauges(tables)]).await;
        assert_eq!(recorded_steps(&v2app).await.last().unwrap(), "remove unused choice 'digital' from gauges.kind");
        let model = evolve::recorded(v2app.db(), "gauges").await.unwrap().unwrap();
        assert_eq!(model[0].get("kind").unwrap().choices, ["dial"]);
    }

    async fn a_declared_rename_moves_the_data_in_three_recorded_steps(app) {
        let (v1, ids) = installed_v1(&app).await;
        let tables = edited(|t| replaced(t, "tag", Column::string("label", 40).unique().renamed_from("tag")));
        assert_eq!(plan_names(&v1, &tables).await, [
            "rename gauges.tag to label (1/3 copy)",
            "rename gauges.tag to label (2/3 switch)",
            "rename: drop the old column gauges.tag (3/3 drop)",
        ]);
        // An upgrade leaves declared renames for `plugin migrate`.
        let v2app = v1.with_plugins(vec![gauges(tables.clone())]).await;
        assert_eq!(recorded_steps(&v2app).await.len(), 2, "nothing ran on start");
        let upgraded = lifecycle::upgrade_all(v2app.db(), &v2app.state.registry).await.unwrap();
        let outcome = upgraded[0].1.as_ref().unwrap();
        assert!(outcome.ran.is_empty() && outcome.waiting.len() == 3, "{outcome:?}");

        let mode = Mode::Explicit { backup_dir: std::env::temp_dir() };
        let done = lifecycle::migrate_plugin(v2app.db(), &v2app.state.registry, "gauges", &mode).await.unwrap();
        assert_eq!(done.ran.len(), 3, "{done:?}");
        assert_eq!(recorded_steps(&v2app).await[2..], ["rename gauges.tag to label (1/3 copy)", "rename gauges.tag to label (2/3 switch)", "rename: drop the old column gauges.tag (3/3 drop)"]);
        let columns = live_columns(v2app.db(), "gauges").await.unwrap();
        assert!(columns.contains(&"label".to_string()) && !columns.contains(&"tag".to_string()), "{columns:?}");
        assert_eq!(texts(&v2app, "SELECT label FROM gauges ORDER BY assetid").await, ["PG-1", "PG-2"], "values kept under the new name");
        let dup = v2app.db().query("UPDATE gauges SET label = 'PG-1' WHERE assetid = ?").bind(ids[1]).execute(v2app.db().pool()).await;
        assert!(dup.is_err(), "the new field is unique as declared");
        let row = v2app.db().query("INSERT INTO gauges (assetid, label) VALUES (?, NULL)").bind(ids[0]).execute(v2app.db().pool()).await;
        assert!(row.is_err(), "the new field is required as declared");
        assert_eq!(plan_names(&v2app, &tables).await, Vec::<String>::new());
    }

    async fn a_declared_drop_writes_the_backup_then_drops_the_field(app) {
        let (v1, ids) = installed_v1(&app).await;
        let tables = edited(|t| without(t, "span").dropped("span"));
        assert_eq!(plan_names(&v1, &tables).await, ["drop column gauges.span (backed up)"]);
        let v2app = v1.with_plugins(vec![gauges(tables.clone())]).await;
        assert!(live_columns(v2app.db(), "gauges").await.unwrap().contains(&"span".to_string()), "an upgrade does not drop");

        let dir = std::env::temp_dir().join(format!("shopdb-evolve-{}", shopdb_core::util::random_token(6)));
        let mode = Mode::Explicit { backup_dir: dir.clone() };
        let done = lifecycle::migrate_plugin(v2app.db(), &v2app.state.registry, "gauges", &mode).await.unwrap();
        assert_eq!(done.backups.len(), 1);
        let saved: Value = serde_json::from_slice(&std::fs::read(&done.backups[0]).unwrap()).unwrap();
        assert_eq!(saved["table"], "gauges");
        assert_eq!(saved["rows"], json!([{"assetid": ids[0], "span": "0-10 bar"}, {"assetid": ids[1], "span": "0-20 bar"}]));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(live_columns(v2app.db(), "gauges").await.unwrap(), ["assetid", "tag", "kind", "reading"]);
        assert_eq!(texts(&v2app, "SELECT tag FROM gauges ORDER BY assetid").await, ["PG-1", "PG-2"], "the other fields keep their rows");
        assert_eq!(recorded_steps(&v2app).await.last().unwrap(), "drop column gauges.span (backed up)");
    }
}

#[test]
fn the_contract_check_names_declarations_that_contradict_their_table() {
    let tables = edited(|t| {
        t.dropped("tag").column(
            Column::string("reading2", 20)
                .nullable()
                .renamed_from("reading"),
        )
    });
    let plugin = gauges(tables).unwrap();
    let all = shopdb_core::plugin::contract::problems(plugin.as_ref()).join("\n");
    assert!(
        all.contains("gauges.tag is declared dropped but is still a field of the table"),
        "{all}"
    );
    assert!(
        all.contains(
            "gauges.reading2 is renamed_from reading, which is still a field of the table"
        ),
        "{all}"
    );
    shopdb_core::plugin::contract::check(gauges(gauges_v1()).unwrap().as_ref());
}
