//! Authentication: who a request is from, as kube-apiserver's authenticator union decides it.
//!
//! A verified client certificate (CN = user, O = groups) comes first, then the bearer token,
//! tried against each token authenticator in turn (static tokens, ServiceAccount tokens, or a
//! remote TokenReview). Every authenticated user is also in `system:authenticated`. The
//! client's `Authorization` header is removed once read, so it never travels further; a request
//! nobody recognises gets the same 401 whether it carried no token or a wrong one.

use std::sync::Arc;

use futures::future::BoxFuture;
use http::{Request, header};

use super::tokens::{TokenFile, UserInfo, bearer_token};
use super::x509::ClientCertificate;
use super::{is_public_path, serviceaccount};
use crate::machinery::status::Status;
use crate::wire::body::Body;

/// The group every authenticated user is in.
pub const SYSTEM_AUTHENTICATED: &str = "system:authenticated";

/// A recognised credential: the user, and the audiences it is valid for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// Who.
    pub user: UserInfo,
    /// The requested audiences the credential is valid for.
    pub audiences: Vec<String>,
}

/// What a token authenticator says about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenOutcome {
    /// Not a token of this kind: ask the next authenticator.
    NotMine,
    /// Valid.
    Valid(Authenticated),
    /// A token of this kind that is not valid, and why (never containing the token).
    Invalid(String),
}

/// One way of recognising bearer tokens.
pub trait TokenAuthenticator: Send + Sync {
    /// Checks `token` for a request that accepts `audiences`.
    fn authenticate_token<'a>(
        &'a self,
        token: &'a str,
        audiences: &'a [String],
    ) -> BoxFuture<'a, TokenOutcome>;
}

/// Static tokens (`--token-auth-file`). They name no audience, so they are valid for whichever
/// of the requested audiences the API itself accepts (`WrapAudienceAgnosticToken`).
pub struct StaticTokens {
    file: Arc<TokenFile>,
    api_audiences: Vec<String>,
}

impl StaticTokens {
    /// Static tokens from `file`, valid for `api_audiences`.
    pub fn new(file: Arc<TokenFile>, api_audiences: Vec<String>) -> Self {
        Self {
            file,
            api_audiences,
        }
    }
}

impl TokenAuthenticator for StaticTokens {
    fn authenticate_token<'a>(
        &'a self,
        token: &'a str,
        audiences: &'a [String],
    ) -> BoxFuture<'a, TokenOutcome> {
        Box::pin(async move {
            let auds = serviceaccount::intersect(&self.api_audiences, audiences);
            if auds.is_empty() {
                return TokenOutcome::NotMine;
            }
            match self.file.authenticate(token) {
                Some(user) => TokenOutcome::Valid(Authenticated {
                    user,
                    audiences: auds,
                }),
                None => TokenOutcome::NotMine,
            }
        })
    }
}

/// The authenticator union.
pub struct Authn {
    tokens: Vec<Arc<dyn TokenAuthenticator>>,
    api_audiences: Vec<String>,
}

impl std::fmt::Debug for Authn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authn")
            .field("token_authenticators", &self.tokens.len())
            .field("api_audiences", &self.api_audiences)
            .finish()
    }
}

impl Authn {
    /// An authenticator for requests to an API that accepts `api_audiences`; client
    /// certificates verified by TLS are always honoured.
    pub fn new(api_audiences: Vec<String>) -> Self {
        Self {
            tokens: Vec::new(),
            api_audiences,
        }
    }

    /// Only the static tokens of `file` (and client certificates), for the default audience.
    pub fn static_tokens(file: Arc<TokenFile>) -> Self {
        let auds = vec![serviceaccount::DEFAULT_ISSUER.to_string()];
        Self::new(auds.clone()).with(Arc::new(StaticTokens::new(file, auds)))
    }

    /// Adds a token authenticator, tried after those added before.
    pub fn with(mut self, a: Arc<dyn TokenAuthenticator>) -> Self {
        self.tokens.push(a);
        self
    }

    /// The audiences the API accepts (TokenReview's default).
    pub fn api_audiences(&self) -> &[String] {
        &self.api_audiences
    }

    /// Authenticates a bearer token for `audiences` (the API's when empty), as TokenReview does.
    /// The error never contains the token.
    pub async fn authenticate_token(
        &self,
        token: &str,
        audiences: &[String],
    ) -> Result<Authenticated, String> {
        if token.is_empty() {
            return Err("invalid bearer token".into());
        }
        let audiences = if audiences.is_empty() {
            &self.api_audiences[..]
        } else {
            audiences
        };
        let mut errors = Vec::new();
        for a in &self.tokens {
            match a.authenticate_token(token, audiences).await {
                TokenOutcome::Valid(mut ok) => {
                    add_authenticated(&mut ok.user);
                    return Ok(ok);
                }
                TokenOutcome::Invalid(e) => errors.push(e),
                TokenOutcome::NotMine => {}
            }
        }
        Err(match errors.as_slice() {
            [] => "invalid bearer token".to_string(),
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        })
    }

    /// Who holds `creds`.
    pub async fn authenticate_credentials(&self, creds: Credentials) -> Option<UserInfo> {
        if let Some(cert) = creds.certificate
            && let Some(mut user) = cert.user()
        {
            add_authenticated(&mut user);
            return Some(user);
        }
        let token = creds.bearer?;
        match self.authenticate_token(&token, &self.api_audiences).await {
            Ok(ok) => Some(ok.user),
            Err(reason) => {
                tracing::debug!(%reason, "bearer token refused");
                None
            }
        }
    }
}

/// The credentials a request carries.
#[derive(Clone, Default)]
pub struct Credentials {
    /// The client certificate the TLS handshake verified.
    pub certificate: Option<ClientCertificate>,
    /// The bearer token of the `Authorization` header.
    pub bearer: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token itself.
        f.debug_struct("Credentials")
            .field("certificate", &self.certificate.is_some())
            .field("bearer", &self.bearer.is_some())
            .finish()
    }
}

impl Credentials {
    /// The credentials of `req`.
    pub fn of<B>(req: &Request<B>) -> Self {
        Self {
            certificate: req.extensions().get::<ClientCertificate>().cloned(),
            bearer: req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(bearer_token)
                .map(String::from),
        }
    }
}

fn add_authenticated(user: &mut UserInfo) {
    if !user.in_group(SYSTEM_AUTHENTICATED) {
        user.groups.push(SYSTEM_AUTHENTICATED.to_string());
    }
}

// === impl AuthenticateLayer ===

/// A layer that authenticates every request (except health probes) or answers 401; the
/// authenticated [`UserInfo`] becomes a request extension.
pub type AuthenticateLayer = super::CheckLayer<Authenticate>;

impl AuthenticateLayer {
    /// Authenticates with `authn`.
    pub fn new(authn: Arc<Authn>) -> Self {
        super::CheckLayer(Authenticate { authn })
    }
}

/// The check [`AuthenticateLayer`] runs.
#[derive(Clone)]
pub struct Authenticate {
    authn: Arc<Authn>,
}

impl super::Check for Authenticate {
    fn check(&self, mut req: Request<Body>) -> super::CheckFuture {
        let creds = Credentials::of(&req);
        req.headers_mut().remove(header::AUTHORIZATION);
        if is_public_path(req.uri().path()) {
            return super::pass(req);
        }
        let authn = self.authn.clone();
        super::later(async move {
            match authn.authenticate_credentials(creds).await {
                Some(user) => {
                    req.extensions_mut().insert(user);
                    Ok(req)
                }
                None => Err(crate::wire::synthetic(Status::unauthorized())),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(TokenOutcome);

    impl TokenAuthenticator for Fixed {
        fn authenticate_token<'a>(
            &'a self,
            _: &'a str,
            _: &'a [String],
        ) -> BoxFuture<'a, TokenOutcome> {
            Box::pin(async { self.0.clone() })
        }
    }

    fn file() -> Arc<TokenFile> {
        Arc::new(TokenFile::parse("s3cret,alice,u1,\"devs,ops\"\n").unwrap())
    }

    #[tokio::test]
    async fn static_tokens_only_for_api_audiences() {
        let authn = Authn::static_tokens(file());
        let ok = authn.authenticate_token("s3cret", &[]).await.unwrap();
        assert_eq!(ok.user.name, "alice");
        assert_eq!(
            ok.user.groups,
            ["devs", "ops", SYSTEM_AUTHENTICATED],
            "system:authenticated is added"
        );
        assert_eq!(ok.audiences, [serviceaccount::DEFAULT_ISSUER]);
        assert_eq!(
            authn
                .authenticate_token("s3cret", &["prometheus".into()])
                .await
                .unwrap_err(),
            "invalid bearer token",
            "a static token is not valid for an audience the API does not accept"
        );
        let err = authn.authenticate_token("wrong", &[]).await.unwrap_err();
        assert!(!err.contains("wrong"));
    }

    #[tokio::test]
    async fn the_union_reports_the_first_valid_or_every_error() {
        let invalid = Arc::new(Fixed(TokenOutcome::Invalid(
            "service account token has expired".into(),
        )));
        let authn = Authn::new(vec!["api".into()])
            .with(Arc::new(Fixed(TokenOutcome::NotMine)))
            .with(invalid.clone());
        assert_eq!(
            authn.authenticate_token("t", &[]).await.unwrap_err(),
            "service account token has expired"
        );
        let authn = Authn::new(vec!["api".into()])
            .with(invalid.clone())
            .with(invalid)
            .with(Arc::new(Fixed(TokenOutcome::Valid(Authenticated {
                user: UserInfo::new("x", vec![SYSTEM_AUTHENTICATED.into()]),
                audiences: vec!["api".into()],
            }))));
        let ok = authn.authenticate_token("t", &[]).await.unwrap();
        assert_eq!(ok.user.groups, [SYSTEM_AUTHENTICATED], "not added twice");
    }

    #[tokio::test]
    async fn requests_without_a_known_credential_get_one_401() {
        use tower::{Layer, ServiceExt};
        let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        let inner = tower::service_fn(move |req: Request<Body>| {
            let seen = seen2.clone();
            async move {
                seen.lock().push((
                    req.extensions().get::<UserInfo>().map(|u| u.name.clone()),
                    req.headers().contains_key(header::AUTHORIZATION),
                ));
                Ok::<_, std::convert::Infallible>(http::Response::new(crate::wire::body::empty()))
            }
        });
        let svc = AuthenticateLayer::new(Arc::new(Authn::static_tokens(file()))).layer(inner);
        let send = |path: &str, auth: Option<&str>| {
            let mut b = Request::get(path);
            if let Some(a) = auth {
                b = b.header(header::AUTHORIZATION, a);
            }
            svc.clone()
                .oneshot(b.body(crate::wire::body::empty()).unwrap())
        };
        let none = send("/api", None).await.unwrap();
        let wrong = send("/api", Some("Bearer nope")).await.unwrap();
        assert_eq!(none.status(), 401);
        assert_eq!(wrong.status(), 401);
        let ok = send("/api", Some("Bearer s3cret")).await.unwrap();
        assert_eq!(ok.status(), 200);
        let health = send("/healthz", Some("Bearer nope")).await.unwrap();
        assert_eq!(health.status(), 200);
        assert_eq!(
            *seen.lock(),
            [(Some("alice".to_string()), false), (None, false)],
            "the user travels as an extension, the header never"
        );
    }
}
