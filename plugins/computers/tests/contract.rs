//! The framework's contract check, run on this plugin.

#[test]
fn computers_keeps_the_plugin_contract() {
    let plugin = computers::plugin().expect("the manifest loads");
    shopdb_core::plugin::contract::check(plugin.as_ref());
}

#[test]
fn computers_models_extend_assets() {
    let table = computers::computers_table();
    assert_eq!(table.primary_key, ["assetid"]);
}
