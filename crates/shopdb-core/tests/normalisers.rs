//! Properties of the normalisers that every API write, import and collector push runs values
//! through: any spelling people and tools use comes out in the one stored form, and the stored
//! form comes back unchanged.

use std::net::IpAddr;

use proptest::prelude::*;
use shopdb_core::addresses::{normalize_mac, parse_ip};
use shopdb_core::collector::{is_junk, normalize};
use shopdb_core::util::normalize_timestamp;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// Six bytes spelled the way a tool prints them.
fn spell(bytes: [u8; 6], style: u8, upper: bool) -> String {
    let hex: Vec<String> = bytes
        .iter()
        .map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect();
    match style % 5 {
        0 => hex.join(":"),
        1 => hex.join("-"),
        2 => hex.concat(),
        3 => format!(
            "{}{}.{}{}.{}{}",
            hex[0], hex[1], hex[2], hex[3], hex[4], hex[5]
        ),
        _ => format!("  {}  ", hex.join(" ")),
    }
}

proptest! {
    #[test]
    fn every_mac_spelling_is_stored_in_one_form(bytes in any::<[u8; 6]>(), style in any::<u8>(), upper in any::<bool>()) {
        let canonical = bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":");
        let spelled = spell(bytes, style, upper);
        prop_assert_eq!(normalize_mac(&spelled), Ok(canonical.clone()));
        prop_assert_eq!(normalize_mac(&canonical), Ok(canonical));
    }

    #[test]
    fn a_mac_with_a_digit_too_many_or_too_few_is_refused(bytes in any::<[u8; 6]>(), cut in any::<bool>()) {
        let mut hex = spell(bytes, 2, false);
        if cut { hex.pop(); } else { hex.push('a'); }
        prop_assert!(normalize_mac(&hex).is_err());
    }

    #[test]
    fn ip_addresses_read_back_as_written(ip in any::<IpAddr>(), pad in "[ \t]{0,3}") {
        let written = format!("{pad}{ip}{pad}");
        prop_assert_eq!(parse_ip("ipaddress", &written).ok(), Some(ip));
    }

    #[test]
    fn identity_values_compare_in_one_form(value in "\\PC{0,40}") {
        let once = normalize(&value);
        prop_assert_eq!(normalize(&once), once.clone());
        prop_assert_eq!(normalize(&value.to_uppercase()), normalize(&once.to_uppercase()));
        prop_assert_eq!(is_junk(&value), is_junk(&once));
    }

    #[test]
    fn timestamps_are_stored_as_the_same_instant_in_utc(
        secs in 0i64..4_102_444_800,
        offset_minutes in -14 * 60i32..=14 * 60,
    ) {
        let offset = UtcOffset::from_whole_seconds(offset_minutes * 60).unwrap();
        let instant = OffsetDateTime::from_unix_timestamp(secs).unwrap().to_offset(offset);
        let written = instant.format(&Rfc3339).unwrap();
        let stored = normalize_timestamp(&written).expect("RFC 3339 is accepted");
        prop_assert!(stored.ends_with('Z'), "{}", stored);
        let back = OffsetDateTime::parse(&stored, &Rfc3339).unwrap();
        prop_assert_eq!(back.unix_timestamp(), secs);
        prop_assert_eq!(normalize_timestamp(&stored), Some(stored));
    }
}
