//! The framework's contract check, run on this plugin.

#[test]
fn printers_keeps_the_plugin_contract() {
    let plugin = printers::plugin().expect("the manifest loads");
    shopdb_core::plugin::contract::check(plugin.as_ref());
}

#[test]
fn printers_models_extend_assets() {
    let table = printers::printers_table();
    assert_eq!(table.primary_key, ["assetid"]);
    // The network plugin's address-conflict check looks for exactly this column.
    assert!(table.get("ipaddress").is_some());
}

#[test]
fn printers_offers_the_zabbix_service_and_hides_its_token() {
    let plugin = printers::plugin().expect("the manifest loads");
    let services = plugin.services();
    assert!(
        services
            .iter()
            .any(|(name, _)| name == printers::zabbix::SERVICE)
    );
    assert!(
        services[0]
            .1
            .clone()
            .downcast::<printers::zabbix::ZabbixService>()
            .is_ok()
    );
    // Keys naming a token are kept out of the audit trail and the settings list.
    assert!(plugin.settings().iter().any(|s| s.key == "zabbixtoken"));
}
