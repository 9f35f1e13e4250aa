//! Authentication of gateway clients: bearer tokens checked against digests in constant time.
//! The client's `Authorization` header is removed once read, so it never travels further.

pub mod attributes;
pub mod client;
pub mod delegated;
pub mod tokens;

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response, header};

use crate::body::Body;
use crate::status::Status;
pub use client::{ClientAuth, ClientAuthLayer};
pub use tokens::{TokenFile, UserInfo, bearer_token};

/// Paths anyone may read: health probes, as kube-apiserver allows them anonymously.
const PUBLIC_PATHS: [&str; 3] = ["/healthz", "/readyz", "/livez"];

/// A layer that authenticates every request (except health probes) or answers 401.
#[derive(Clone)]
pub struct AuthenticateLayer {
    tokens: Arc<TokenFile>,
}

impl AuthenticateLayer {
    /// Authenticates against `tokens`.
    pub fn new(tokens: Arc<TokenFile>) -> Self {
        Self { tokens }
    }
}

impl<S> tower::Layer<S> for AuthenticateLayer {
    type Service = Authenticate<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Authenticate {
            inner,
            tokens: self.tokens.clone(),
        }
    }
}

/// The service [`AuthenticateLayer`] makes.
#[derive(Clone)]
pub struct Authenticate<S> {
    inner: S,
    tokens: Arc<TokenFile>,
}

impl<S> tower::Service<Request<Body>> for Authenticate<S>
where
    S: tower::Service<Request<Body>, Response = Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future =
        futures::future::Either<S::Future, std::future::Ready<Result<Response<Body>, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        let path = req.uri().path();
        if PUBLIC_PATHS
            .iter()
            .any(|p| path == *p || path.starts_with(&format!("{p}/")))
        {
            return futures::future::Either::Left(self.inner.call(req));
        }
        let user = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
            .and_then(|t| self.tokens.authenticate(t));
        match user {
            Some(user) => {
                req.headers_mut().remove(header::AUTHORIZATION);
                req.extensions_mut().insert(user);
                futures::future::Either::Left(self.inner.call(req))
            }
            None => futures::future::Either::Right(std::future::ready(Ok(super::synthetic(
                Status::unauthorized(),
            )))),
        }
    }
}
