//! The framework's contract check, run on this plugin.

use shopdb_core::serde_json::{Map, Value, json};

#[test]
fn notifications_keeps_the_plugin_contract() {
    let plugin = notifications::plugin().expect("the manifest loads");
    shopdb_core::plugin::contract::check(plugin.as_ref());
}

#[test]
fn notifications_are_not_assets() {
    let table = notifications::notifications_table();
    assert_eq!(table.key_column(), "notificationid");
    assert!(table.get("assetid").is_none());
    let location = table.get("locationid").expect("locationid");
    assert!(location.nullable);
}

#[test]
fn severity_and_the_time_window_are_checked() {
    let check = notifications::notifications_resource()
        .check
        .expect("a check");
    let record = |v: Value| -> Map<String, Value> { v.as_object().unwrap().clone() };
    assert!(check(&record(json!({"severity": "outage", "startsat": "2026-11-21T06:00:00Z", "endsat": "2026-11-21T08:00:00Z"}))).is_empty());
    assert!(
        check(&record(
            json!({"severity": "warning", "startsat": "2026-11-21T06:00:00Z", "endsat": null})
        ))
        .is_empty()
    );
    let bad = check(&record(
        json!({"severity": "urgent", "startsat": "2026-11-21T06:00:00Z", "endsat": "2026-11-21T06:00:00Z"}),
    ));
    assert_eq!(bad.keys().collect::<Vec<_>>(), ["endsat", "severity"]);
}
