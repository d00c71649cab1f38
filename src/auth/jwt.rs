//! HS256 access tokens: issued with `sub`, `iat`, `nbf`, `exp`, `iss`, `aud` and a token-use claim,
//! validated with the algorithm pinned and every one of those claims required.

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::principal::{Principal, Roles, Scope};

/// The token-use value of access tokens.
const ACCESS_USE: &str = "access";

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
        validation.leeway = 5;
        Self {
            keys: std::sync::Arc::new(Keys {
                encoding: EncodingKey::from_secret(secret),
                decoding: DecodingKey::from_secret(secret),
                validation,
                issuer: issuer.to_owned(),
                audience: audience.to_owned(),
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

    /// Verifies a token: signature, algorithm, `exp`, `nbf`, `iss`, `aud` and token use.
    pub fn verify(&self, token: &str) -> Result<Principal, String> {
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
        Ok(Principal {
            account_id: claims.sub,
            scope,
            session_id,
            expires_at: claims.exp,
        })
    }
}
