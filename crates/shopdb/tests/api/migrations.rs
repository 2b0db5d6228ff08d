use shopdb_core::core_schema::core_chain;
use shopdb_core::db::Dialect;
use shopdb_core::migrate::{self, Chain, MigrateError, Migration, Step};
use shopdb_core::schema::{Column, Table};

use crate::backend_tests;

fn widgets(version: i64) -> Migration {
    Migration::new(
        version,
        "widgets",
        vec![Step::CreateTable(
            Table::new("widgets")
                .column(Column::id("widgetid"))
                .column(Column::string("name", 50)),
        )],
    )
}

backend_tests! {
    async fn core_upgrade_is_idempotent(app) {
        let chain = core_chain();
        let again = migrate::upgrade(app.db(), &chain).await.unwrap();
        assert!(again.is_empty(), "a second upgrade runs nothing: {again:?}");
        let status = migrate::status(app.db(), &chain).await.unwrap();
        assert_eq!(status.current_version(), chain.migrations.last().unwrap().version);
        assert!(status.pending.is_empty() && status.changed.is_empty() && status.unknown.is_empty());
        assert_eq!(app.count("statuses").await, 4, "seeds are not duplicated");
    }

    async fn a_failing_step_leaves_the_chain_at_its_last_good_version(app) {
        let bad = Migration::new(2, "broken", vec![
            Step::CreateTable(Table::new("gadgets").column(Column::id("gadgetid"))),
            Step::Sql { sqlite: "INSERT INTO nowhere VALUES (1)".into(), mysql: "INSERT INTO nowhere VALUES (1)".into(), postgres: "INSERT INTO nowhere VALUES (1)".into() },
        ]);
        let chain = Chain { name: "testplugin".into(), migrations: vec![widgets(1), bad] };
        let err = migrate::upgrade(app.db(), &chain).await.unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, MigrateError::StepFailed { version: 2, step: 2, stays_at: 1, .. }), "{message}");
        assert!(message.contains("testplugin 2 (broken) failed at step 2"), "{message}");
        let status = migrate::status(app.db(), &chain).await.unwrap();
        assert_eq!(status.current_version(), 1);
        assert_eq!(status.pending, vec![(2, "broken".to_string())]);
        assert_eq!(app.count("widgets").await, 0, "migration 1 stayed applied");
        if app.backend != crate::support::Backend::MySql {
            // MySQL commits DDL implicitly; the others roll the whole migration back.
            let gadgets = app.db().query("SELECT COUNT(*) FROM gadgets").fetch_one(app.db().pool()).await;
            assert!(gadgets.is_err(), "step 1 of the failed migration was rolled back");
        }
    }

    async fn a_changed_migration_is_reported_not_rerun(app) {
        let chain = Chain { name: "drift".into(), migrations: vec![widgets(1)] };
        migrate::upgrade(app.db(), &chain).await.unwrap();
        let mut edited = widgets(1);
        edited.steps = vec![Step::CreateTable(Table::new("widgets").column(Column::id("widgetid")).column(Column::string("name", 80)))];
        let changed = Chain { name: "drift".into(), migrations: vec![edited] };
        let status = migrate::status(app.db(), &changed).await.unwrap();
        assert_eq!(status.changed, vec![(1, "widgets".to_string())]);
        let err = migrate::upgrade(app.db(), &changed).await.unwrap_err();
        assert!(err.to_string().contains("changed since they ran"), "{err}");
        migrate::forget_chain(app.db(), "drift").await.unwrap();
        assert_eq!(migrate::status(app.db(), &changed).await.unwrap().applied.len(), 0);
    }

    async fn the_dialect_matches_the_backend(app) {
        let expected = match app.backend {
            crate::support::Backend::Sqlite => Dialect::Sqlite,
            crate::support::Backend::MySql => Dialect::MySql,
            crate::support::Backend::Postgres => Dialect::Postgres,
        };
        assert_eq!(app.db().dialect(), expected);
    }
}
