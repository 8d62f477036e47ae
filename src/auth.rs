//! Bearer JWT verification and the principal behind it.
//!
//! The token only names a user (`sub`) and may narrow what it can do
//! (`scope`); role, partner and active flag are read from the `users` table
//! on every request. Every way a token can be wrong (missing, malformed,
//! forged, `alg: none`, wrong algorithm, expired, not yet valid, wrong
//! issuer or audience, a claim of the wrong type, unknown user, the demo key
//! naming an account the demo did not create) is the same UNAUTHENTICATED;
//! the reason is logged, never returned.

use crate::config::{JwtArgs, Secret};
use crate::domain::Role;
use crate::error::AppError;
use crate::policy::{PartnerRole, Principal, TokenScope};
use crate::repo;
use anyhow::{bail, Context};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use uuid::Uuid;

/// The key `serve --demo` and `token` use when no key is configured.
/// Public on purpose: demo tokens must never be accepted by a real deployment,
/// which refuses to start without a key of its own. Anyone can sign with it,
/// so an authenticator holding it signs in demo accounts only (the demo's
/// seeded e-mail addresses); a token for anyone else is the same
/// UNAUTHENTICATED as a forged one.
pub const DEMO_SECRET: &str = "partner-clients-demo-only-secret-not-for-production";

/// Leeway for `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: u64 = 30;

/// The scope that makes a token read-only. A token with a `scope` claim may
/// write only when that claim also lists `clients:write`.
pub const READ_SCOPE: &str = "clients:read";
pub const WRITE_SCOPE: &str = "clients:write";

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

impl Claims {
    fn token_scope(&self) -> TokenScope {
        match &self.scope {
            None => TokenScope::Full,
            Some(s) if s.split_whitespace().any(|w| w == WRITE_SCOPE) => TokenScope::Full,
            Some(_) => TokenScope::ReadOnly,
        }
    }
}

/// A verified bearer token: whose it is, and what it may do.
#[derive(Clone, Copy, Debug)]
pub struct Bearer {
    pub user_id: Uuid,
    pub scope: TokenScope,
}

pub struct Authenticator {
    algorithm: Algorithm,
    decoding: DecodingKey,
    validation: Validation,
    encoding: Option<EncodingKey>,
    issuer: Option<String>,
    audience: Option<String>,
    /// Verifying with the public [`DEMO_SECRET`]: demo accounts only.
    demo_key: bool,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("algorithm", &self.algorithm)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("demo_key", &self.demo_key)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Build from configuration. `demo` allows the public demo key when no
    /// key is configured; otherwise a missing key is an error.
    pub fn from_args(args: &JwtArgs, demo: bool) -> anyhow::Result<Self> {
        let mut demo_key = false;
        let (algorithm, decoding, encoding) = if let Some(path) = &args.jwt_public_key_file {
            let pem =
                std::fs::read(path).with_context(|| format!("cannot read JWT_PUBLIC_KEY_FILE {}", path.display()))?;
            let private = match &args.jwt_private_key_file {
                Some(p) => Some(
                    std::fs::read(p).with_context(|| format!("cannot read JWT_PRIVATE_KEY_FILE {}", p.display()))?,
                ),
                None => None,
            };
            if let Ok(key) = DecodingKey::from_rsa_pem(&pem) {
                let enc = private.map(|p| EncodingKey::from_rsa_pem(&p)).transpose()?;
                (Algorithm::RS256, key, enc)
            } else if let Ok(key) = DecodingKey::from_ec_pem(&pem) {
                let enc = private.map(|p| EncodingKey::from_ec_pem(&p)).transpose()?;
                (Algorithm::ES256, key, enc)
            } else {
                bail!("JWT_PUBLIC_KEY_FILE is neither an RSA nor a P-256 EC public key in PEM form");
            }
        } else {
            let secret = match (&args.jwt_secret, demo) {
                (Some(s), _) => s.clone(),
                (None, true) => {
                    demo_key = true;
                    DEMO_SECRET.parse::<Secret>()?
                }
                (None, false) => bail!(
                    "no token key configured: set JWT_SECRET (HS256, at least 32 bytes) or JWT_PUBLIC_KEY_FILE, or run `serve --demo`"
                ),
            };
            if secret.expose().len() < 32 {
                bail!("JWT_SECRET must be at least 32 bytes");
            }
            let bytes = secret.expose().as_bytes();
            (Algorithm::HS256, DecodingKey::from_secret(bytes), Some(EncodingKey::from_secret(bytes)))
        };

        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        if let Some(iss) = &args.jwt_issuer {
            validation.set_issuer(&[iss]);
            required.push("iss");
        }
        if let Some(aud) = &args.jwt_audience {
            validation.set_audience(&[aud]);
            required.push("aud");
        } else {
            validation.validate_aud = false;
        }
        validation.set_required_spec_claims(&required);
        Ok(Authenticator {
            algorithm,
            decoding,
            validation,
            encoding,
            issuer: args.jwt_issuer.clone(),
            audience: args.jwt_audience.clone(),
            demo_key,
        })
    }

    /// Whether this authenticator holds the public demo key (and so accepts
    /// demo accounts only).
    pub fn uses_demo_key(&self) -> bool {
        self.demo_key
    }

    pub fn verify(&self, token: &str) -> Result<Claims, AppError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map(|data| data.claims).map_err(|e| {
            tracing::info!(reason = %e, "token refused");
            AppError::Unauthenticated
        })
    }

    /// Sign a token for `user_id` (the `token` CLI and demo mode).
    pub fn issue(&self, user_id: Uuid, ttl: Duration, scope: Option<&str>) -> anyhow::Result<String> {
        let Some(key) = &self.encoding else {
            bail!("signing needs JWT_SECRET, or JWT_PRIVATE_KEY_FILE next to JWT_PUBLIC_KEY_FILE");
        };
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            exp: now + ttl.as_secs(),
            nbf: None,
            iat: Some(now),
            scope: scope.map(str::to_owned),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        Ok(jsonwebtoken::encode(&Header::new(self.algorithm), &claims, key)?)
    }

    /// The principal behind an `Authorization` header value.
    pub async fn authenticate(&self, db: &impl ConnectionTrait, header: Option<&str>) -> Result<Principal, AppError> {
        let bearer = self.bearer(header)?;
        let account = repo::users::account(db, bearer.user_id).await?;
        self.principal(&bearer, account)
    }

    /// The first half of [`Authenticator::authenticate`], with no database:
    /// the bearer token's signature and claims. UNAUTHENTICATED without one.
    pub fn bearer(&self, header: Option<&str>) -> Result<Bearer, AppError> {
        let token = header
            .and_then(|h| {
                let (scheme, rest) = h.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or(AppError::Unauthenticated)?;
        let claims = self.verify(token)?;
        let user_id = Uuid::parse_str(&claims.sub).map_err(|_| AppError::Unauthenticated)?;
        Ok(Bearer { user_id, scope: claims.token_scope() })
    }

    /// The second half: the principal a verified token names, from its
    /// account row (`repo::users::account`, or read with the request's first
    /// statement: `tenant::TenantDb::authenticated`). UNAUTHENTICATED for no
    /// account (or an account the demo key may not reach), FORBIDDEN for an
    /// inactive or non-partner one.
    pub fn principal(&self, bearer: &Bearer, account: Option<repo::users::Account>) -> Result<Principal, AppError> {
        let row = account.ok_or(AppError::Unauthenticated)?;
        if self.demo_key && !crate::ops::demo::is_demo_account(&row.email) {
            // Checked on every request, not only at start: an account created
            // while the demo runs must not be reachable with the public key.
            tracing::info!(reason = "demo key for an account the demo did not create", "token refused");
            return Err(AppError::Unauthenticated);
        }
        let role: Role = row.role.parse().map_err(AppError::internal)?;
        match (PartnerRole::from_role(role), row.partner_id, row.active) {
            (Some(role), Some(partner_id), true) => {
                Ok(Principal { user_id: bearer.user_id, partner_id, role, scope: bearer.scope })
            }
            (_, _, false) => Err(AppError::Forbidden("inactive account")),
            _ => Err(AppError::Forbidden("not a partner account")),
        }
    }
}
