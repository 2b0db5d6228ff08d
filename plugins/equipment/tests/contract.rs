//! The framework's contract check, run on this plugin.

#[test]
fn equipment_keeps_the_plugin_contract() {
    let plugin = equipment::plugin().expect("the manifest loads");
    shopdb_core::plugin::contract::check(plugin.as_ref());
}

#[test]
fn the_driving_pc_is_an_asset_reference_that_outlives_the_pc() {
    let table = equipment::equipment_table();
    let pc = table.get("controllingpcid").expect("column");
    assert!(pc.nullable);
    assert_eq!(
        pc.references.as_ref().map(|r| r.table.as_str()),
        Some("assets")
    );
}
