//! The plugins compiled into this binary. A bundled plugin is a crate under `plugins/`;
//! `shopdb plugin new` adds its dependency to Cargo.toml and its line here.

use shopdb_core::plugin::registry::Candidate;

/// Every bundled plugin, built; one that cannot be built is reported by the loader.
pub fn bundled() -> Vec<Candidate> {
    vec![
        computers::plugin(),
        network::plugin(),
        equipment::plugin(),
        notifications::plugin(),
        usb::plugin(),
        printers::plugin(),
        // `shopdb plugin new` adds plugins above this line.
    ]
}
