//! Authentication and authorization, as kube-apiserver does them, for the gateway and the API
//! server alike (it imports neither: it may use `cluster`, `secrets`, `machinery` and `wire`).
//!
//! ```text
//! authenticate (client certificate | static token | ServiceAccount token) → UserInfo
//!   → impersonate (Impersonate-* headers, if the user may)
//!   → authorize (RequestInfo attributes → system:masters | RBAC) → 403 or on
//! ```
//!
//! The client's credentials never travel past these layers: `Authorization` and `Impersonate-*`
//! are removed once read, and the identity travels as a [`UserInfo`] request extension.

pub mod attributes;
pub mod authn;
pub mod authz;
pub mod bootstrap;
pub mod cache;
pub mod client;
pub mod delegated;
pub mod escalation;
pub mod impersonate;
pub mod rbac;
pub mod requestinfo;
pub mod serviceaccount;
pub mod tokens;
pub mod x509;

pub use authn::{AuthenticateLayer, Authn};
pub use authz::{AlwaysAllow, AuthorizeLayer, Authorizer, RbacAuthorizer};
pub use client::{ClientAuth, ClientAuthLayer};
pub use impersonate::ImpersonateLayer;
pub use tokens::{TokenFile, UserInfo, bearer_token};

/// What a check in front of a service yields: the request to pass on, or the response that
/// answers it in place of the service.
type Checked =
    Result<http::Request<crate::wire::body::Body>, http::Response<crate::wire::body::Body>>;

/// What a [`Check`] returns: an answer at once, or one that needs waiting (an API call, a
/// cache).
type CheckFuture = futures::future::Either<
    std::future::Ready<Checked>,
    futures::future::BoxFuture<'static, Checked>,
>;

/// An answer at once: pass `req` on.
fn pass(req: http::Request<crate::wire::body::Body>) -> CheckFuture {
    futures::future::Either::Left(std::future::ready(Ok(req)))
}

/// An answer that needs waiting.
fn later(check: impl std::future::Future<Output = Checked> + Send + 'static) -> CheckFuture {
    futures::future::Either::Right(Box::pin(check))
}

/// One step of the auth filter chain (authenticate, impersonate, authorize): looks at a
/// request and passes it on, maybe changed, or answers it in place of the service.
trait Check: Clone + Send + 'static {
    /// Checks one request.
    fn check(&self, req: http::Request<crate::wire::body::Body>) -> CheckFuture;
}

/// A layer that runs a [`Check`] in front of a service.
#[derive(Clone)]
pub struct CheckLayer<C>(C);

impl<C: Check, S> tower::Layer<S> for CheckLayer<C> {
    type Service = CheckService<C, S>;
    fn layer(&self, inner: S) -> Self::Service {
        CheckService {
            check: self.0.clone(),
            inner,
        }
    }
}

/// The service a [`CheckLayer`] makes.
#[derive(Clone)]
pub struct CheckService<C, S> {
    check: C,
    inner: S,
}

impl<C, S> tower::Service<http::Request<crate::wire::body::Body>> for CheckService<C, S>
where
    C: Check,
    S: tower::Service<
            http::Request<crate::wire::body::Body>,
            Response = http::Response<crate::wire::body::Body>,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<crate::wire::body::Body>;
    type Error = S::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, S::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<crate::wire::body::Body>) -> Self::Future {
        use futures::FutureExt;
        use futures::future::Either;
        // The readied service serves this request; a fresh clone waits for the next one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        // A combinator rather than an `async` block holding `S::Future`, which the compiler
        // cannot prove `Send` for every `S`.
        Box::pin(self.check.check(req).then(move |checked| match checked {
            Ok(req) => Either::Left(inner.call(req)),
            Err(resp) => Either::Right(std::future::ready(Ok(resp))),
        }))
    }
}

/// Paths anyone may read: health probes, as kube-apiserver allows them anonymously.
const PUBLIC_PATHS: [&str; 3] = ["/healthz", "/readyz", "/livez"];

/// Paths whose handler authorizes each request itself, with attributes the path does not
/// carry: Prometheus service discovery needs `list pods` in each namespace it answers for.
const SELF_AUTHORIZED_PATHS: [&str; 1] = ["/sd/prometheus"];

/// Whether the handler of `path` authorizes its requests itself.
pub fn is_self_authorized_path(path: &str) -> bool {
    SELF_AUTHORIZED_PATHS.contains(&path)
}

/// Whether `path` is a health probe that needs no credentials.
pub fn is_public_path(path: &str) -> bool {
    PUBLIC_PATHS.iter().any(|p| {
        path == *p
            || path
                .strip_prefix(p)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_health_probes_are_public() {
        for (path, public) in [
            ("/healthz", true),
            ("/readyz", true),
            ("/livez/ping", true),
            ("/healthzz", false),
            ("/metrics", false),
            ("/api", false),
            ("/", false),
        ] {
            assert_eq!(is_public_path(path), public, "{path}");
        }
    }
}
