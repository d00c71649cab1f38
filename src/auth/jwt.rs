//! HS256 access tokens: issued with `sub`, `iat`, `nbf`, `exp`, `iss`, `aud` and a token-use claim,
//! validated with the algorithm pinned and every one of those claims required.

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::principal::{Principal, Roles, Scope};
use super::verified::VerifiedTokens;

/// The token-use value of access tokens.
const ACCESS_USE: &str = "access";

/// Seconds of clock skew allowed on `exp` and `nbf`.
const LEEWAY: i64 = 5;

/// Claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The account id.
    pub sub: Uuid,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expires at.
    pub exp: i64,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Token use: always `access`; keeps other tokens from passing as access tokens.
    pub token_use: String,
    /// The organization the token is scoped to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<Uuid>,
    /// The membership (user) in that organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<Uuid>,
    /// The roles in that organization.
    #[serde(default)]
    pub roles: Vec<String>,
    /// The session (refresh-token family) the token belongs to; required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
}

/// Signing and verification keys with the validation rules; a clone shares them.
#[derive(Clone)]
pub struct JwtKeys {
    keys: std::sync::Arc<Keys>,
    /// Access token lifetime in seconds.
    pub ttl: i64,
}

struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    /// Tokens that passed, so their signature is checked once (their window every time).
    verified: VerifiedTokens,
}

impl JwtKeys {
    /// Keys from the raw bytes of the secret (32 bytes at least) and the lifetime of access
    /// tokens in seconds (positive and at most a century); the caller checks both.
    pub fn new(secret: &[u8], issuer: &str, audience: &str, ttl: i64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY.unsigned_abs();
        Self {
            keys: std::sync::Arc::new(Keys {
                encoding: EncodingKey::from_secret(secret),
                decoding: DecodingKey::from_secret(secret),
                validation,
                issuer: issuer.to_owned(),
                audience: audience.to_owned(),
                verified: VerifiedTokens::default(),
            }),
            ttl,
        }
    }

    /// Issues an access token for `principal`'s account and scope.
    pub fn issue(
        &self,
        account_id: Uuid,
        scope: Option<&Scope>,
        session_id: Uuid,
    ) -> anyhow::Result<String> {
        let now = Utc::now().timestamp();
        let claims = AccessClaims {
            sub: account_id,
            iat: now,
            nbf: now,
            exp: now + self.ttl,
            iss: self.keys.issuer.clone(),
            aud: self.keys.audience.clone(),
            token_use: ACCESS_USE.into(),
            org: scope.map(|s| s.organization_id),
            uid: scope.map(|s| s.user_id),
            // An unscoped token (no organization) carries no roles.
            roles: scope.map(|s| s.roles.names()).unwrap_or_default(),
            sid: Some(session_id),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.keys.encoding,
        )?)
    }

    /// Verifies a token: signature, algorithm, `exp`, `nbf`, `iss`, `aud` and token use. A token
    /// that passed before is only checked against its validity window again.
    pub fn verify(&self, token: &str) -> Result<Principal, String> {
        self.verify_at(token, Utc::now().timestamp())
    }

    /// [`verify`](Self::verify) at `now` (seconds since the epoch) for what was remembered.
    fn verify_at(&self, token: &str, now: i64) -> Result<Principal, String> {
        if let Some(principal) = self.keys.verified.get(token, now) {
            return Ok(principal);
        }
        let (principal, not_before) = self.verify_signed(token)?;
        self.keys.verified.remember(
            token,
            &principal,
            not_before.saturating_sub(LEEWAY),
            principal.expires_at.saturating_add(LEEWAY),
        );
        Ok(principal)
    }

    /// The full check of a token, and its `nbf`.
    fn verify_signed(&self, token: &str) -> Result<(Principal, i64), String> {
        let data =
            jsonwebtoken::decode::<AccessClaims>(token, &self.keys.decoding, &self.keys.validation)
                .map_err(|e| format!("invalid access token: {e}"))?;
        let claims = data.claims;
        if claims.token_use != ACCESS_USE {
            return Err("not an access token".into());
        }
        let scope = match (claims.org, claims.uid) {
            (Some(organization_id), Some(user_id)) => Some(Scope {
                organization_id,
                user_id,
                roles: Roles::from_names(&claims.roles),
            }),
            (None, None) => None,
            _ => return Err("malformed scope".into()),
        };
        let session_id = claims.sid.ok_or("the token names no session")?;
        let principal = Principal {
            account_id: claims.sub,
            scope,
            session_id,
            expires_at: claims.exp,
        };
        Ok((principal, claims.nbf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn keys(ttl: i64) -> JwtKeys {
        JwtKeys::new(SECRET, "lastmile", "lastmile", ttl)
    }

    #[test]
    fn a_token_verified_before_answers_the_same_principal() {
        let keys = keys(600);
        let (account, session) = (Uuid::now_v7(), Uuid::now_v7());
        let token = keys.issue(account, None, session).expect("issued");
        let first = keys.verify(&token).expect("valid");
        let again = keys.verify(&token).expect("still valid");
        assert_eq!((again.account_id, again.session_id), (account, session));
        assert_eq!(again.expires_at, first.expires_at);
        assert_eq!(keys.keys.verified.len(), 1);
    }

    #[test]
    fn a_token_verified_before_is_refused_once_it_has_expired() {
        // Issued already 3 s past its expiry: still inside the 5 s leeway, so it passes once.
        let keys = keys(-3);
        let token = keys
            .issue(Uuid::now_v7(), None, Uuid::now_v7())
            .expect("issued");
        let principal = keys.verify(&token).expect("inside the leeway");
        let past = principal.expires_at + LEEWAY + 1;
        assert!(keys.verify_at(&token, past - 1).is_ok());
        while Utc::now().timestamp() < past {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let refused = keys.verify(&token).expect_err("expired");
        assert!(refused.contains("ExpiredSignature"), "{refused}");
    }

    #[test]
    fn a_forged_or_altered_token_is_refused_even_beside_a_remembered_one() {
        let keys = keys(600);
        let token = keys
            .issue(Uuid::now_v7(), None, Uuid::now_v7())
            .expect("issued");
        keys.verify(&token).expect("valid");
        // One character of the signature changed (not the last, whose low bits are padding).
        let at = token.len() - 10;
        let swapped = if &token[at..=at] == "A" { "B" } else { "A" };
        let altered = format!("{}{swapped}{}", &token[..at], &token[at + 1..]);
        assert!(keys.verify(&altered).is_err());
        let other = JwtKeys::new(
            b"another secret of thirty-two b!!",
            "lastmile",
            "lastmile",
            600,
        )
        .issue(Uuid::now_v7(), None, Uuid::now_v7())
        .expect("issued");
        assert!(keys.verify(&other).is_err());
        assert_eq!(
            keys.keys.verified.len(),
            1,
            "only tokens that passed are remembered"
        );
    }
}
