//! The normalisers every write and collector push runs values through: MAC and IP addresses,
//! identity values, timestamps. Any text: no panic, and what comes out is stable (normalising
//! it again gives it back) and in the one stored form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shopdb_core::addresses::{normalize_mac, parse_ip};
use shopdb_core::collector::{is_junk, normalize};
use shopdb_core::util::normalize_timestamp;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();

    if let Ok(mac) = normalize_mac(text) {
        assert_eq!(mac.len(), 17, "{text:?} -> {mac:?}");
        assert!(
            mac.split(':').all(|pair| pair.len() == 2
                && pair
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))),
            "{text:?} -> {mac:?}"
        );
        assert_eq!(
            normalize_mac(&mac).as_deref(),
            Ok(mac.as_str()),
            "not stable: {text:?}"
        );
        assert_eq!(
            normalize_mac(&mac.to_uppercase()).as_deref(),
            Ok(mac.as_str())
        );
    }

    if let Ok(ip) = parse_ip("ipaddress", text) {
        let shown = ip.to_string();
        assert_eq!(
            parse_ip("ipaddress", &shown).ok(),
            Some(ip),
            "{text:?} -> {shown}"
        );
    }

    let id = normalize(text);
    assert_eq!(
        normalize(&id),
        id,
        "identity values are compared in one form: {text:?}"
    );
    // Junk is decided on the compared form, so two spellings of a value agree.
    assert_eq!(is_junk(text), is_junk(&id), "{text:?}");

    if let Some(ts) = normalize_timestamp(text) {
        assert!(
            ts.ends_with('Z'),
            "stored timestamps are UTC: {text:?} -> {ts}"
        );
        assert_eq!(
            normalize_timestamp(&ts).as_deref(),
            Some(ts.as_str()),
            "{text:?}"
        );
    }
});
