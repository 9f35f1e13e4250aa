//! ServiceAccount tokens: signed, expiring JWTs issued by the TokenRequest API
//! (`serviceaccounts/{name}/token`, `kubectl create token`) and checked on every request.
//!
//! The scheme: a JWT (RFC 7519) signed with Ed25519 (`alg: EdDSA`, RFC 8037) by a key kept in
//! the state dir (`sa.key`, PKCS#8 PEM, mode 0600, made on first start), with the claims
//! kube-apiserver puts in its tokens: `iss`, `sub` (`system:serviceaccount:{ns}:{name}`), `aud`,
//! `exp`, `iat`, `nbf`, `jti` and `kubernetes.io` (namespace, the ServiceAccount's name and uid,
//! and the pod or secret the token is bound to). A token is accepted when its signature, issuer
//! and time window check out, one of its audiences is one the caller accepts, and the
//! ServiceAccount (and the bound object) still exists with the uid the token names — so deleting
//! the ServiceAccount or the pod revokes its tokens at once. Expiry has no leeway: the issuer and
//! the verifier are the same process, on the same clock.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Pod, Secret};
use ring::signature::{self, Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::authn::{Authenticated, TokenAuthenticator, TokenOutcome};
use super::cache::AuthCache;
use super::rbac::service_account_username;
use super::tokens::UserInfo;
use crate::secrets::write_secret;

/// The issuer podgate names in its tokens, and the audience the API accepts by default (as k3s
/// and kubeadm clusters configure `--service-account-issuer` and `--api-audiences`).
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// The signing key's file in the state dir.
pub const KEY_FILE: &str = "sa.key";

/// TokenRequest's `expirationSeconds` when the request names none.
pub const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;

/// The shortest lifetime a TokenRequest may ask for (10 minutes, as Kubernetes validates).
pub const MIN_EXPIRATION_SECONDS: i64 = 10 * 60;

/// The longest lifetime a TokenRequest may ask for (2^32 seconds).
pub const MAX_EXPIRATION_SECONDS: i64 = 1 << 32;

/// `extra` key with the token's id.
pub const EXTRA_CREDENTIAL_ID: &str = "authentication.kubernetes.io/credential-id";
/// `extra` key with the name of the pod a token is bound to.
pub const EXTRA_POD_NAME: &str = "authentication.kubernetes.io/pod-name";
/// `extra` key with the uid of the pod a token is bound to.
pub const EXTRA_POD_UID: &str = "authentication.kubernetes.io/pod-uid";

/// How long authentication waits for the ServiceAccount cache's first list.
const CACHE_WAIT: Duration = Duration::from_secs(10);

// === SigningKey ===

/// The Ed25519 key tokens are signed with.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    kid: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Only the public key id: the private key never reaches a log.
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish()
    }
}

impl SigningKey {
    /// Reads the key from `path`, or creates it there (mode 0600) when the file does not exist.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        match std::fs::read(path) {
            Ok(pem) => Self::from_pem(&pem).with_context(|| format!("reading {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let rng = ring::rand::SystemRandom::new();
                let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
                    .map_err(|_| anyhow::anyhow!("generating the ServiceAccount signing key"))?;
                write_secret(path, pem_encode(pkcs8.as_ref()).as_bytes())
                    .with_context(|| format!("writing {}", path.display()))?;
                Self::from_pkcs8(pkcs8.as_ref())
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// A key from a PKCS#8 `PRIVATE KEY` PEM document.
    pub fn from_pem(pem: &[u8]) -> anyhow::Result<Self> {
        use rustls::pki_types::PrivatePkcs8KeyDer;
        use rustls::pki_types::pem::PemObject;
        let der = PrivatePkcs8KeyDer::from_pem_slice(pem)
            .map_err(|e| anyhow::anyhow!("not a PKCS#8 PEM private key: {e}"))?;
        Self::from_pkcs8(der.secret_pkcs8_der())
    }

    fn from_pkcs8(der: &[u8]) -> anyhow::Result<Self> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|e| anyhow::anyhow!("not an Ed25519 key: {e}"))?;
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(pair.public_key().as_ref()));
        Ok(Self { pair, kid })
    }

    /// The key id tokens carry in their header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    fn sign(&self, claims: &Claims) -> String {
        let header = serde_json::json!({"alg": "EdDSA", "kid": self.kid, "typ": "JWT"});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default())
        );
        let sig = self.pair.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    fn verify_signature(&self, signing_input: &str, sig: &[u8]) -> bool {
        signature::UnparsedPublicKey::new(&signature::ED25519, self.pair.public_key().as_ref())
            .verify(signing_input.as_bytes(), sig)
            .is_ok()
    }
}

/// A PKCS#8 key as PEM text.
fn pem_encode(der: &[u8]) -> String {
    let pem = pem::Pem::new("PRIVATE KEY", der);
    pem::encode_config(
        &pem,
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

// === Claims ===

/// The claims of a ServiceAccount token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Subject: `system:serviceaccount:{namespace}:{name}`.
    pub sub: String,
    /// Audiences.
    pub aud: Vec<String>,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Token id.
    pub jti: String,
    /// What the token is for.
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: KubernetesClaims,
}

/// The `kubernetes.io` claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesClaims {
    /// The ServiceAccount's namespace.
    pub namespace: String,
    /// The ServiceAccount.
    pub serviceaccount: ObjectClaim,
    /// The pod the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<ObjectClaim>,
    /// The secret the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ObjectClaim>,
}

/// An object a token names: name and uid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectClaim {
    /// Name.
    pub name: String,
    /// Uid.
    pub uid: String,
}

/// The kind of object a token can be bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundKind {
    /// A pod: the token dies with the pod.
    Pod,
    /// A secret: the token dies with the secret.
    Secret,
}

/// What a new token is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSpec {
    /// The ServiceAccount's namespace.
    pub namespace: String,
    /// The ServiceAccount's name.
    pub name: String,
    /// The ServiceAccount's uid.
    pub uid: String,
    /// Audiences (never empty: the caller defaults them).
    pub audiences: Vec<String>,
    /// Lifetime in seconds.
    pub expiration_seconds: i64,
    /// The object the token is bound to.
    pub bound: Option<(BoundKind, ObjectClaim)>,
}

// === Issuer ===

/// Issues and verifies ServiceAccount tokens.
#[derive(Debug)]
pub struct Issuer {
    key: SigningKey,
    issuer: String,
    api_audiences: Vec<String>,
}

/// Why a token is refused (never containing the token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a JWT of this issuer: another authenticator may know it.
    #[error("not a service account token")]
    NotOurs,
    /// Ours, but the signature does not verify.
    #[error("invalid bearer token, service account token signature is invalid")]
    BadSignature,
    /// Ours, but malformed.
    #[error("invalid bearer token, service account token is malformed")]
    Malformed,
    /// Past `exp`.
    #[error("service account token has expired")]
    Expired,
    /// Before `nbf`.
    #[error("service account token is not valid yet")]
    NotYetValid,
}

impl Issuer {
    /// An issuer signing with `key` under the name `issuer`; `api_audiences` are what a token
    /// gets when a TokenRequest names no audience.
    pub fn new(key: SigningKey, issuer: impl Into<String>, api_audiences: Vec<String>) -> Self {
        Self {
            key,
            issuer: issuer.into(),
            api_audiences,
        }
    }

    /// The audiences the API server accepts.
    pub fn api_audiences(&self) -> &[String] {
        &self.api_audiences
    }

    /// Signs a token for `spec`, issued at `now` (Unix seconds); returns it and its expiry.
    pub fn issue(&self, spec: &TokenSpec, now: i64) -> (String, i64) {
        let exp = now + spec.expiration_seconds;
        let (pod, secret) = match &spec.bound {
            Some((BoundKind::Pod, o)) => (Some(o.clone()), None),
            Some((BoundKind::Secret, o)) => (None, Some(o.clone())),
            None => (None, None),
        };
        let jti: [u8; 16] = rand::random();
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: service_account_username(&spec.namespace, &spec.name),
            aud: spec.audiences.clone(),
            exp,
            iat: now,
            nbf: now,
            jti: uuid_text(&jti),
            kubernetes: KubernetesClaims {
                namespace: spec.namespace.clone(),
                serviceaccount: ObjectClaim {
                    name: spec.name.clone(),
                    uid: spec.uid.clone(),
                },
                pod,
                secret,
            },
        };
        (self.key.sign(&claims), exp)
    }

    /// Checks a token's form, issuer, signature and time window at `now`; the existence of the
    /// ServiceAccount is the caller's to check.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::NotOurs);
        };
        let header: serde_json::Value = URL_SAFE_NO_PAD
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenError::NotOurs)?;
        let payload = URL_SAFE_NO_PAD.decode(p).map_err(|_| TokenError::NotOurs)?;
        let unverified: serde_json::Value =
            serde_json::from_slice(&payload).map_err(|_| TokenError::NotOurs)?;
        if unverified.get("iss").and_then(|v| v.as_str()) != Some(self.issuer.as_str()) {
            return Err(TokenError::NotOurs);
        }
        if header.get("alg").and_then(|v| v.as_str()) != Some("EdDSA")
            || header.get("kid").and_then(|v| v.as_str()) != Some(self.key.kid())
        {
            return Err(TokenError::BadSignature);
        }
        let sig = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| TokenError::Malformed)?;
        if !self
            .key
            .verify_signature(&token[..h.len() + 1 + p.len()], &sig)
        {
            return Err(TokenError::BadSignature);
        }
        let claims: Claims =
            serde_json::from_value(unverified).map_err(|_| TokenError::Malformed)?;
        if now >= claims.exp {
            return Err(TokenError::Expired);
        }
        if now < claims.nbf {
            return Err(TokenError::NotYetValid);
        }
        Ok(claims)
    }
}

/// 16 random bytes as a version-4 UUID string.
fn uuid_text(b: &[u8; 16]) -> String {
    uuid::Builder::from_random_bytes(*b).into_uuid().to_string()
}

/// The audiences both lists name, in the order of `a`.
pub fn intersect(a: &[String], b: &[String]) -> Vec<String> {
    a.iter().filter(|x| b.contains(x)).cloned().collect()
}

/// The groups every ServiceAccount of `namespace` is in.
pub fn service_account_groups(namespace: &str) -> Vec<String> {
    vec![
        "system:serviceaccounts".to_string(),
        format!("system:serviceaccounts:{namespace}"),
    ]
}

// === ServiceAccountTokens ===

/// The token authenticator for ServiceAccount tokens.
pub struct ServiceAccountTokens {
    issuer: Arc<Issuer>,
    cache: AuthCache,
    client: kube::Client,
}

impl ServiceAccountTokens {
    /// Verifies with `issuer`, looks ServiceAccounts up in `cache` and bound objects through
    /// `client`.
    pub fn new(issuer: Arc<Issuer>, cache: AuthCache, client: kube::Client) -> Self {
        Self {
            issuer,
            cache,
            client,
        }
    }

    async fn check(&self, token: &str, audiences: &[String]) -> TokenOutcome {
        let now = jiff::Timestamp::now().as_second();
        let claims = match self.issuer.verify(token, now) {
            Ok(c) => c,
            Err(TokenError::NotOurs) => return TokenOutcome::NotMine,
            Err(e) => return TokenOutcome::Invalid(e.to_string()),
        };
        let auds = intersect(audiences, &claims.aud);
        if auds.is_empty() {
            return TokenOutcome::Invalid(format!(
                "token audiences {:?} is invalid for the target audiences {:?}",
                claims.aud, audiences
            ));
        }
        let k = &claims.kubernetes;
        if !self.cache.wait_service_accounts(CACHE_WAIT).await {
            return TokenOutcome::Invalid("service account cache is not synced yet".into());
        }
        let Some(sa) = self
            .cache
            .service_account(&k.namespace, &k.serviceaccount.name)
        else {
            return TokenOutcome::Invalid(format!(
                "serviceaccounts {:?} not found",
                k.serviceaccount.name
            ));
        };
        let uid = sa.metadata.uid.as_deref().unwrap_or("");
        if uid != k.serviceaccount.uid {
            return TokenOutcome::Invalid(format!(
                "service account UID ({uid}) does not match claim ({})",
                k.serviceaccount.uid
            ));
        }
        if sa.metadata.deletion_timestamp.is_some() {
            return TokenOutcome::Invalid(format!(
                "service account {}/{} has been deleted",
                k.namespace, k.serviceaccount.name
            ));
        }
        let mut user = UserInfo {
            name: service_account_username(&k.namespace, &k.serviceaccount.name),
            uid: uid.to_string(),
            groups: service_account_groups(&k.namespace),
            extra: Default::default(),
        };
        user.extra.insert(
            EXTRA_CREDENTIAL_ID.into(),
            vec![format!("JTI={}", claims.jti)],
        );
        if let Some(pod) = &k.pod {
            let api: kube::Api<Pod> = kube::Api::namespaced(self.client.clone(), &k.namespace);
            if let Err(e) = bound_alive(&api, "pod", &k.namespace, pod).await {
                return TokenOutcome::Invalid(e);
            }
            user.extra
                .insert(EXTRA_POD_NAME.into(), vec![pod.name.clone()]);
            user.extra
                .insert(EXTRA_POD_UID.into(), vec![pod.uid.clone()]);
        }
        if let Some(secret) = &k.secret {
            let api: kube::Api<Secret> = kube::Api::namespaced(self.client.clone(), &k.namespace);
            if let Err(e) = bound_alive(&api, "secret", &k.namespace, secret).await {
                return TokenOutcome::Invalid(e);
            }
        }
        TokenOutcome::Valid(Authenticated {
            user,
            audiences: auds,
        })
    }
}

/// Whether the object a token is bound to still exists with the uid the token names.
async fn bound_alive<K>(
    api: &kube::Api<K>,
    what: &str,
    namespace: &str,
    claim: &ObjectClaim,
) -> Result<(), String>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
{
    match api.get_opt(&claim.name).await {
        Ok(Some(obj)) => {
            let uid = obj.meta().uid.as_deref().unwrap_or("");
            if uid != claim.uid {
                Err(format!(
                    "{what} UID ({uid}) does not match claim ({})",
                    claim.uid
                ))
            } else if obj.meta().deletion_timestamp.is_some() {
                Err(format!(
                    "{what} {namespace}/{} has been deleted",
                    claim.name
                ))
            } else {
                Ok(())
            }
        }
        Ok(None) => Err(format!("{what}s {:?} not found", claim.name)),
        Err(e) => Err(format!("looking up the {what} the token is bound to: {e}")),
    }
}

impl TokenAuthenticator for ServiceAccountTokens {
    fn authenticate_token<'a>(
        &'a self,
        token: &'a str,
        audiences: &'a [String],
    ) -> BoxFuture<'a, TokenOutcome> {
        Box::pin(self.check(token, audiences))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> Issuer {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::load_or_create(&dir.path().join(KEY_FILE)).unwrap();
        Issuer::new(key, DEFAULT_ISSUER, vec![DEFAULT_ISSUER.to_string()])
    }

    fn spec(secs: i64) -> TokenSpec {
        TokenSpec {
            namespace: "prod".into(),
            name: "prom".into(),
            uid: "u-1".into(),
            audiences: vec![DEFAULT_ISSUER.into(), "prometheus".into()],
            expiration_seconds: secs,
            bound: None,
        }
    }

    #[test]
    fn issued_tokens_verify_until_they_expire() {
        let iss = issuer();
        let (token, exp) = iss.issue(&spec(600), 1_000);
        assert_eq!(exp, 1_600);
        let c = iss.verify(&token, 1_000).unwrap();
        assert_eq!(c.sub, "system:serviceaccount:prod:prom");
        assert_eq!(c.kubernetes.serviceaccount.uid, "u-1");
        assert_eq!(c.aud, [DEFAULT_ISSUER, "prometheus"]);
        assert_eq!(c.jti.len(), 36);
        assert!(iss.verify(&token, 1_599).is_ok());
        assert_eq!(iss.verify(&token, 1_600), Err(TokenError::Expired));
        assert_eq!(iss.verify(&token, 999), Err(TokenError::NotYetValid));
    }

    #[test]
    fn tampering_and_foreign_keys_are_refused() {
        let iss = issuer();
        let (token, _) = iss.issue(&spec(600), 1_000);
        let parts: Vec<&str> = token.split('.').collect();
        // A payload edited to another ServiceAccount keeps the old signature: refused.
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["kubernetes.io"]["serviceaccount"]["name"] = "admin".into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            parts[2]
        );
        assert_eq!(iss.verify(&forged, 1_000), Err(TokenError::BadSignature));
        // Same issuer name, another key (another podgate): refused.
        let other = issuer();
        assert_eq!(other.verify(&token, 1_000), Err(TokenError::BadSignature));
        // Not a JWT, or another issuer's: not ours, so other authenticators may try.
        assert_eq!(iss.verify("abc", 1_000), Err(TokenError::NotOurs));
        assert_eq!(iss.verify("a.b.c", 1_000), Err(TokenError::NotOurs));
        let foreign = Issuer::new(
            SigningKey::load_or_create(&tempfile::tempdir().unwrap().path().join("k")).unwrap(),
            "https://elsewhere",
            vec![],
        );
        let (t, _) = foreign.issue(&spec(600), 1_000);
        assert_eq!(iss.verify(&t, 1_000), Err(TokenError::NotOurs));
        // alg "none" is never accepted.
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            parts[1]
        );
        assert_eq!(iss.verify(&none, 1_000), Err(TokenError::BadSignature));
    }

    #[test]
    fn the_key_survives_restarts_and_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        let a = SigningKey::load_or_create(&path).unwrap();
        let b = SigningKey::load_or_create(&path).unwrap();
        assert_eq!(a.kid(), b.kid());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!format!("{a:?}").contains("PRIVATE"));
        std::fs::write(&path, "junk").unwrap();
        assert!(SigningKey::load_or_create(&path).is_err());
    }

    #[test]
    fn bound_tokens_carry_the_pod() {
        let iss = issuer();
        let mut s = spec(600);
        s.bound = Some((
            BoundKind::Pod,
            ObjectClaim {
                name: "web-0".into(),
                uid: "p-1".into(),
            },
        ));
        let (token, _) = iss.issue(&s, 5);
        let c = iss.verify(&token, 5).unwrap();
        assert_eq!(c.kubernetes.pod.unwrap().name, "web-0");
        assert!(c.kubernetes.secret.is_none());
    }

    #[test]
    fn audience_intersection_keeps_order() {
        let a = vec!["x".to_string(), "y".to_string(), "z".to_string()];
        let b = vec!["z".to_string(), "x".to_string()];
        assert_eq!(intersect(&a, &b), ["x", "z"]);
        assert!(intersect(&a, &[]).is_empty());
    }
}
