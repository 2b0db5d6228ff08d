//! The framework's contract check, run on this plugin.

#[test]
fn usb_keeps_the_plugin_contract() {
    let plugin = usb::plugin().expect("the manifest loads");
    shopdb_core::plugin::contract::check(plugin.as_ref());
}

#[test]
fn usb_devices_extend_assets_and_checkouts_follow_them() {
    let devices = usb::usbdevices_table();
    assert_eq!(devices.primary_key, ["assetid"]);
    let checkouts = usb::usbcheckouts_table();
    let assetid = checkouts.get("assetid").expect("assetid column");
    assert_eq!(
        assetid.references.as_ref().map(|fk| fk.table.as_str()),
        Some("assets")
    );
    assert!(
        checkouts.get("condition").is_none(),
        "condition is reserved in MySQL"
    );
}
