//! Compact HS256 JSON Web Tokens. Only what ShopDB issues is accepted: header `HS256`,
//! a subject, a session id and an expiry.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    /// User id.
    pub sub: i64,
    /// Session id (row in `authsessions`); revoked on logout.
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

pub fn sign(claims: &Claims, key: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(HEADER);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signing_input = format!("{header}.{payload}");
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

/// Checks signature, header and expiry; returns the claims.
pub fn verify(token: &str, key: &[u8], now: i64) -> Option<Claims> {
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let mut mac = HmacSha256::new_from_slice(key).ok()?;
    mac.update(header.as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    mac.verify_slice(&URL_SAFE_NO_PAD.decode(signature).ok()?)
        .ok()?;
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    if header.get("alg")?.as_str()? != "HS256" {
        return None;
    }
    let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    (claims.exp > now).then_some(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            sub: 7,
            sid: "abc".into(),
            iat: 0,
            exp,
        }
    }

    #[test]
    fn signed_tokens_verify_and_tampering_fails() {
        let token = sign(&claims(100), b"key");
        assert_eq!(verify(&token, b"key", 50), Some(claims(100)));
        assert_eq!(verify(&token, b"other key", 50), None, "wrong key");
        assert_eq!(verify(&token, b"key", 100), None, "expired");
        let forged = sign(&claims(1000), b"attacker");
        let mixed = format!(
            "{}.{}",
            forged.rsplit_once('.').unwrap().0,
            token.rsplit_once('.').unwrap().1
        );
        assert_eq!(verify(&mixed, b"key", 50), None, "payload swapped");
        assert_eq!(verify("garbage", b"key", 50), None);
    }
}
