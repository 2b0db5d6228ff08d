//! Password hashing with Argon2id.
//!
//! The cost is 7 MiB of memory and 5 passes (one lane): one of the settings the OWASP
//! password storage guide gives as equal in strength to 19 MiB and 2 passes (the argon2
//! crate's default), at about the same CPU time. The memory is taken in one piece for the
//! length of a hash; at 19 MiB one login nearly doubled a running server's memory. Hashes
//! are made and checked one at a time (`hash_in_turn`, `verify_in_turn`) on the blocking
//! threads: a burst of logins queues instead of taking a CPU each away from requests and
//! 7 MiB per login at once. Hashes made with other settings still verify (a hash carries its
//! own) and are replaced at the next successful login (`needs_rehash`).

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

/// Memory per hash in KiB, passes and lanes.
const MEMORY_KIB: u32 = 7 * 1024;
const PASSES: u32 = 5;
const LANES: u32 = 1;

/// Hashes made or checked at the same time (see the module's text).
static IN_TURN: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None)
        .expect("the Argon2 settings are within the algorithm's bounds");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    hasher()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash password: {e}"))
}

/// Whether `password` is the one `stored` was made from (with the settings `stored` names).
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            hasher()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Whether `stored` was made with other settings than new hashes are (or is not an Argon2id
/// hash at all), so it should be made again from the password once that is known good.
pub fn needs_rehash(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return true;
    };
    let current = format!("m={MEMORY_KIB},t={PASSES},p={LANES}");
    parsed.algorithm.as_str() != "argon2id"
        || parsed.version != Some(Version::V0x13.into())
        || parsed.params.to_string() != current
}

/// `hash_password` on a blocking thread, after the hashes before it.
pub async fn hash_in_turn(password: &str) -> anyhow::Result<String> {
    let password = password.to_string();
    let _turn = IN_TURN.acquire().await?;
    tokio::task::spawn_blocking(move || hash_password(&password)).await?
}

/// `verify_password` on a blocking thread, after the hashes before it.
pub async fn verify_in_turn(password: &str, stored: &str) -> bool {
    let (password, stored) = (password.to_string(), stored.to_string());
    let Ok(_turn) = IN_TURN.acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || verify_password(&password, &stored))
        .await
        .unwrap_or(false)
}

/// Checks a new password; returns what is wrong with it.
pub fn password_problem(password: &str) -> Option<&'static str> {
    if password.chars().count() < 10 {
        Some("must be at least 10 characters")
    } else if password.chars().count() > 1024 {
        Some("must be at most 1024 characters")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(!needs_rehash(&h));
    }

    #[test]
    fn hashes_made_with_other_settings_verify_and_are_made_again() {
        // What ShopDB stored before (the crate's default: 19 MiB, 2 passes).
        let older = Argon2::default()
            .hash_password(b"correct horse battery")
            .unwrap()
            .to_string();
        assert!(older.contains("m=19456,t=2,p=1"), "{older}");
        assert!(verify_password("correct horse battery", &older));
        assert!(!verify_password("wrong", &older));
        assert!(needs_rehash(&older));
        assert!(needs_rehash("not a hash"));
    }

    #[tokio::test]
    async fn hashing_in_turn_gives_the_same_answers() {
        let h = hash_in_turn("correct horse battery").await.unwrap();
        assert!(verify_in_turn("correct horse battery", &h).await);
        assert!(!verify_in_turn("wrong", &h).await);
    }
}
