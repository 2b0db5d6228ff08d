//! The record engine's pieces that need no database and no HTTP: the SQL a list request
//! becomes, how a sent value is checked and converted for its column, and the JSON Schema
//! of a record.

use serde_json::{Value, json};
use shopdb_core::catalog;
use shopdb_core::db::{Dialect, SqlValue, ValueKind};
use shopdb_core::error::ErrorKind;
use shopdb_core::http::ListParams;
use shopdb_core::resource::{SchemaMode, column_schema, to_sql_value};
use shopdb_core::schema::Column;

fn clauses(query: &str, dialect: Dialect) -> Result<(String, String, Vec<SqlValue>), ErrorKind> {
    let params = ListParams::parse(Some(query)).map_err(|e| e.kind)?;
    catalog::assets()
        .list_clauses(dialect, &params)
        .map_err(|e| e.kind)
}

#[test]
fn filters_become_bound_values_never_sql_text() {
    for dialect in [Dialect::Sqlite, Dialect::MySql, Dialect::Postgres] {
        let (filter, _, values) = clauses("statusid=2&locationid=7", dialect).unwrap();
        assert!(
            filter.contains("statusid") && filter.contains("locationid"),
            "{filter}"
        );
        assert_eq!(values, [SqlValue::Int(2), SqlValue::Int(7)], "{dialect:?}");
        // A value that looks like SQL is a bound value like any other.
        let (filter, _, values) = clauses("assetnumber=A1'%20OR%20'1'='1", dialect).unwrap();
        assert!(!filter.contains("OR '1'"), "{filter}");
        assert_eq!(values, [SqlValue::text("A1' OR '1'='1")]);
    }
}

#[test]
fn a_filter_named_twice_matches_either_value() {
    let (filter, _, values) = clauses("statusid=1&statusid=3", Dialect::Sqlite).unwrap();
    assert!(
        filter.contains(" IN (") || filter.contains(" OR "),
        "{filter}"
    );
    assert_eq!(values, [SqlValue::Int(1), SqlValue::Int(3)]);
}

#[test]
fn sorting_takes_only_known_fields_in_either_direction() {
    let (_, order, _) = clauses("sort=-assetnumber", Dialect::Postgres).unwrap();
    assert!(
        order.contains("assetnumber") && order.contains("DESC"),
        "{order}"
    );
    let (_, order, _) = clauses("sort=name", Dialect::Postgres).unwrap();
    assert!(order.contains("name") && !order.contains("DESC"), "{order}");
    for bad in ["sort=nosuchfield", "sort=assetnumber;DROP%20TABLE%20assets"] {
        assert_eq!(
            clauses(bad, Dialect::Sqlite).unwrap_err(),
            ErrorKind::BadRequest,
            "{bad}"
        );
    }
}

#[test]
fn a_search_term_is_one_bound_pattern_with_its_wildcards_escaped() {
    let (filter, _, values) = clauses("q=50%25_off", Dialect::MySql).unwrap();
    assert!(filter.contains("LIKE"), "{filter}");
    assert!(
        values.contains(&SqlValue::text("%50!%!_off%")),
        "% and _ in the term match themselves: {values:?}"
    );
}

#[test]
fn sent_values_are_checked_and_converted_for_their_column() {
    let name = Column::string("name", 10);
    assert_eq!(
        to_sql_value(&name, &json!("  Lathe  ")),
        Ok(SqlValue::text("Lathe"))
    );
    assert_eq!(
        to_sql_value(&name, &json!("   ")),
        Ok(SqlValue::Null(ValueKind::Text))
    );
    assert_eq!(
        to_sql_value(&name, &json!("a name far too long")),
        Err("must be at most 10 characters".to_string())
    );
    assert!(
        to_sql_value(&name, &json!("a\u{0}b"))
            .unwrap_err()
            .contains("NUL")
    );
    assert_eq!(
        to_sql_value(&name, &json!(12)),
        Err("must be text".to_string())
    );

    let count = Column::integer("fps");
    assert_eq!(to_sql_value(&count, &json!(30)), Ok(SqlValue::Int(30)));
    assert_eq!(
        to_sql_value(&count, &json!(2.5)),
        Err("must be a whole number".to_string())
    );
    assert_eq!(
        to_sql_value(&count, &json!("30")),
        Err("must be a whole number".to_string())
    );

    let when = Column::timestamp("lastseen");
    assert_eq!(
        to_sql_value(&when, &json!("2026-11-21T15:05:00+01:00")),
        to_sql_value(&when, &json!("2026-11-21T14:05:00Z")),
        "the same instant, whatever its offset"
    );
    assert!(to_sql_value(&when, &json!("yesterday")).is_err());

    let mut resolution = Column::string("resolution", 10);
    resolution.choices = vec!["720p".into(), "1080p".into()];
    assert_eq!(
        to_sql_value(&resolution, &json!("1080p")),
        Ok(SqlValue::text("1080p"))
    );
    assert_eq!(
        to_sql_value(&resolution, &json!("8K")),
        Err("must be one of 720p, 1080p".to_string())
    );
}

#[test]
fn the_record_schema_states_what_the_checks_enforce() {
    let name = column_schema(&Column::string("name", 100), true);
    assert_eq!(name["maxLength"], 100, "{name}");
    assert!(
        name["pattern"].is_string(),
        "a required string may not be blank: {name}"
    );
    let schema = catalog::assets().schema(SchemaMode::Create);
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        required,
        ["assetnumber", "assettypeid"],
        "statusid has a named default: {schema}"
    );
    assert_eq!(
        schema["additionalProperties"], false,
        "unknown fields are refused"
    );
    for managed in ["assetid", "version", "createddate", "lastseen"] {
        assert_eq!(
            schema["properties"][managed]["description"], "set by the server; ignored in requests",
            "{managed}"
        );
    }
    assert_eq!(schema["properties"]["assetnumber"]["minLength"], 1);
}
