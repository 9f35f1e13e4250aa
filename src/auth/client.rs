//! Who may use `podgate proxy`: nobody is asked on loopback (as with `kubectl proxy`), or every
//! request carries a bearer token checked against a static token file, or against the cluster
//! (TokenReview, then a SubjectAccessReview for what the request does).
//!
//! With any authentication on, the client's `Authorization` and every `Impersonate-*` header are
//! removed once read: the request then travels with the proxy's own credentials, and a client
//! must not borrow the proxy's identity to impersonate someone else.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response, header};

use super::attributes::Attributes;
use super::delegated::{Decision, Delegated};
use super::{TokenFile, bearer_token};
use crate::machinery::status::Status;
use crate::wire::body::Body;

/// How clients are authenticated.
#[derive(Clone)]
pub enum ClientAuth {
    /// Not at all (loopback or a unix socket only, unless told otherwise).
    None,
    /// Bearer tokens from a static token file; every known token may do everything.
    Tokens(Arc<TokenFile>),
    /// Bearer tokens reviewed by the cluster; every request authorized by it.
    Delegated(Arc<Delegated>),
}

impl ClientAuth {
    /// Whether clients are authenticated at all.
    pub fn is_none(&self) -> bool {
        matches!(self, ClientAuth::None)
    }
}

/// A layer applying [`ClientAuth`].
#[derive(Clone)]
pub struct ClientAuthLayer(pub ClientAuth);

impl<S> tower::Layer<S> for ClientAuthLayer {
    type Service = ClientAuthService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ClientAuthService {
            inner,
            auth: self.0.clone(),
        }
    }
}

/// The service [`ClientAuthLayer`] makes.
#[derive(Clone)]
pub struct ClientAuthService<S> {
    inner: S,
    auth: ClientAuth,
}

impl<S> tower::Service<Request<Body>> for ClientAuthService<S>
where
    S: tower::Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
            .map(String::from);
        match &self.auth {
            ClientAuth::None => Box::pin(inner.call(req)),
            ClientAuth::Tokens(tokens) => {
                match token.as_deref().and_then(|t| tokens.authenticate(t)) {
                    Some(user) => {
                        strip_credentials(&mut req);
                        req.extensions_mut().insert(user);
                        Box::pin(inner.call(req))
                    }
                    None => Box::pin(std::future::ready(Ok(crate::wire::synthetic(
                        Status::unauthorized(),
                    )))),
                }
            }
            ClientAuth::Delegated(delegated) => {
                let delegated = delegated.clone();
                let path = crate::wire::decoded_path(req.uri().path());
                // A handler that authorizes itself (service discovery asks `list pods` per
                // namespace) needs only the caller's identity here.
                let attrs = (!super::is_self_authorized_path(&path))
                    .then(|| Attributes::of(req.method(), &path, req.uri().query()));
                let review = async move { check(&delegated, token.as_deref(), attrs).await };
                // Combinators, not an async block around `inner.call`, keep the future's Send
                // bound simple for rustc.
                Box::pin(futures::FutureExt::then(
                    review,
                    move |result| match result {
                        Ok(user) => {
                            strip_credentials(&mut req);
                            req.extensions_mut().insert(user);
                            futures::future::Either::Left(inner.call(req))
                        }
                        Err(status) => futures::future::Either::Right(std::future::ready(Ok(
                            crate::wire::synthetic(status),
                        ))),
                    },
                ))
            }
        }
    }
}

/// Authenticates one request against the cluster, and authorizes its `attrs` there (`None`:
/// the handler authorizes it).
async fn check(
    delegated: &Delegated,
    token: Option<&str>,
    attrs: Option<Attributes>,
) -> Result<super::UserInfo, Status> {
    let Some(token) = token else {
        return Err(Status::unauthorized());
    };
    let Some(user) = delegated.authenticate(token).await? else {
        return Err(Status::unauthorized());
    };
    let Some(attrs) = attrs else {
        return Ok(user);
    };
    match delegated.authorize(&user, &attrs).await? {
        Decision::Allow => Ok(user),
        Decision::Deny(reason) => {
            let message = attrs.forbidden_message(&user.name, &reason);
            Err(match &attrs {
                Attributes::Resource {
                    group,
                    resource,
                    name,
                    ..
                } => Status::forbidden(resource, group, name, message),
                Attributes::NonResource { .. } => Status::forbidden("", "", "", message),
            })
        }
    }
}

/// Removes the client's credentials and impersonation headers.
fn strip_credentials(req: &mut Request<Body>) {
    let headers = req.headers_mut();
    headers.remove(header::AUTHORIZATION);
    let doomed: Vec<http::HeaderName> = headers
        .keys()
        .filter(|n| n.as_str().starts_with("impersonate-"))
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::body;
    use tower::{Layer, ServiceExt};

    /// Echoes what reached it: the Authorization and Impersonate-User headers.
    fn echo() -> impl tower::Service<
        Request<Body>,
        Response = Response<Body>,
        Error = std::convert::Infallible,
        Future = impl Send,
    > + Clone
    + Send
    + 'static {
        tower::service_fn(|req: Request<Body>| async move {
            let seen = format!(
                "{:?} {:?}",
                req.headers().get("authorization"),
                req.headers().get("impersonate-user")
            );
            Ok(body::text_response(http::StatusCode::OK, seen))
        })
    }

    async fn send(auth: ClientAuth, bearer: Option<&str>) -> (u16, String) {
        use http_body_util::BodyExt;
        let svc = ClientAuthLayer(auth).layer(echo());
        let mut req = Request::get("/api/v1/pods").header("impersonate-user", "root");
        if let Some(t) = bearer {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let resp = svc.oneshot(req.body(body::empty()).unwrap()).await.unwrap();
        let code = resp.status().as_u16();
        let text = resp.into_body().collect().await.unwrap().to_bytes();
        (code, String::from_utf8_lossy(&text).into_owned())
    }

    #[tokio::test]
    async fn none_passes_everything_through() {
        let (code, seen) = send(ClientAuth::None, Some("x")).await;
        assert_eq!(code, 200);
        assert_eq!(seen, "Some(\"Bearer x\") Some(\"root\")");
    }

    #[tokio::test]
    async fn tokens_authenticate_and_strip_credentials() {
        let tokens = Arc::new(TokenFile::parse("s3cret,alice,1\n").unwrap());
        let (code, seen) = send(ClientAuth::Tokens(tokens.clone()), Some("s3cret")).await;
        assert_eq!((code, seen.as_str()), (200, "None None"));
        let (code, body) = send(ClientAuth::Tokens(tokens.clone()), Some("wrong")).await;
        assert_eq!(code, 401);
        assert!(body.contains("\"reason\":\"Unauthorized\""), "{body}");
        let (code, _) = send(ClientAuth::Tokens(tokens), None).await;
        assert_eq!(code, 401);
    }

    #[tokio::test]
    async fn delegated_reviews_allow_deny_and_strip() {
        use http_body_util::BodyExt;
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let delegated = Arc::new(Delegated::new(
            super::super::delegated::fake::fake_api(calls),
            vec![],
        ));
        let svc = ClientAuthLayer(ClientAuth::Delegated(delegated)).layer(echo());
        let send = |path: &str, token: Option<&str>| {
            let mut req = Request::get(path).header("impersonate-user", "root");
            if let Some(t) = token {
                req = req.header("authorization", format!("Bearer {t}"));
            }
            let svc = svc.clone();
            let req = req.body(body::empty()).unwrap();
            async move {
                let resp = svc.oneshot(req).await.unwrap();
                let code = resp.status().as_u16();
                let text = resp.into_body().collect().await.unwrap().to_bytes();
                (code, String::from_utf8_lossy(&text).into_owned())
            }
        };
        let proxy = "/api/v1/namespaces/default/pods/web-0/proxy/";
        assert_eq!(send(proxy, Some("good")).await, (200, "None None".into()));
        assert_eq!(send(proxy, Some("bad")).await.0, 401);
        assert_eq!(send(proxy, None).await.0, 401);
        let (code, body) = send("/api/v1/namespaces/default/secrets", Some("good")).await;
        assert_eq!(code, 403);
        assert!(
            body.contains(
                r#"secrets is forbidden: User \"jane\" cannot list resource \"secrets\" in API group \"\" in the namespace \"default\": no rule"#
            ),
            "{body}"
        );
    }
}
