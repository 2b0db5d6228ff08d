//! The framework's contract check, run on this plugin.

#[test]
fn network_keeps_the_plugin_contract() {
    let plugin = network::plugin().expect("the manifest loads");
    shopdb_core::plugin::contract::check(plugin.as_ref());
}

#[test]
fn addresses_fall_in_subnets_by_prefix() {
    use network::cidr::Cidr;
    let net: Cidr = "10.20.0.0/16".parse().unwrap();
    assert!(net.contains("10.20.255.7".parse().unwrap()));
    assert!(!net.contains("10.21.0.1".parse().unwrap()));
    assert!(!net.contains("fe80::1".parse().unwrap()));
    let v6: Cidr = "2001:db8::/32".parse().unwrap();
    assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
    assert_eq!(
        "10.20.1.0/16".parse::<Cidr>().unwrap_err(),
        "has host bits set: the network is 10.20.0.0/16"
    );
    assert!("10.0.0.0/33".parse::<Cidr>().is_err());
    assert!("10.0.0.0".parse::<Cidr>().is_err());
    assert_eq!(
        "10.20.0.0/16"
            .parse::<Cidr>()
            .unwrap()
            .like_prefix()
            .as_deref(),
        Some("10.20.")
    );
    assert_eq!(
        "10.16.0.0/12"
            .parse::<Cidr>()
            .unwrap()
            .like_prefix()
            .as_deref(),
        Some("10.")
    );
}
