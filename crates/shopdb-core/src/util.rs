//! Small helpers used across the crate: clock, hashing and random tokens.

use base64::Engine;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::format_description;

/// Current UTC time as stored in every timestamp column (`2026-11-21T14:05:09Z`).
pub fn now() -> String {
    format_timestamp(OffsetDateTime::now_utc())
}

pub fn format_timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
    ))
    .unwrap_or_default()
}

/// Parses an RFC 3339 timestamp (any offset) into the stored UTC form.
pub fn normalize_timestamp(s: &str) -> Option<String> {
    OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
        .ok()
        .map(format_timestamp)
}

/// Checks a `YYYY-MM-DD` date.
pub fn is_valid_date(s: &str) -> bool {
    time::Date::parse(s, format_description!("[year]-[month]-[day]")).is_ok()
}

pub fn unix_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `n` bytes from the operating system's CSPRNG.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    buf
}

/// A URL-safe random string carrying `bytes` bytes of entropy.
pub fn random_token(bytes: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes(bytes))
}

/// Writes a new file readable by its owner only (backups hold a plugin's records).
pub fn write_private(file: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(file)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_normalise_to_utc() {
        assert_eq!(
            normalize_timestamp("2026-11-21T15:00:00+01:00").as_deref(),
            Some("2026-11-21T14:00:00Z")
        );
        assert_eq!(normalize_timestamp("yesterday"), None);
        assert!(now().ends_with('Z') && now().len() == 20);
    }

    #[test]
    fn tokens_are_random() {
        assert_ne!(random_token(16), random_token(16));
        assert_eq!(sha256_hex(b"abc").len(), 64);
    }
}
