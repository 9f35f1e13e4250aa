//! Authentication and authorization of gateway clients, as kube-apiserver does them.
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
pub mod impersonate;
pub mod rbac;
pub mod requestinfo;
pub mod serviceaccount;
pub mod setup;
pub mod tokens;
pub mod x509;

pub use authn::{AuthenticateLayer, Authn};
pub use authz::{AlwaysAllow, AuthorizeLayer, Authorizer, RbacAuthorizer};
pub use client::{ClientAuth, ClientAuthLayer};
pub use impersonate::ImpersonateLayer;
pub use tokens::{TokenFile, UserInfo, bearer_token};

/// What a check in front of a service yields: the request to pass on, or the response that
/// answers it in place of the service.
type Checked = Result<http::Request<crate::body::Body>, http::Response<crate::body::Body>>;

/// The future of a checking layer: `check`, then `inner` with the request it hands back.
type LayerFuture<E> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<http::Response<crate::body::Body>, E>> + Send>,
>;

/// Runs `check`, then calls `inner` with the request it passes on. (A combinator rather than
/// an `async` block holding `S::Future`, which the compiler cannot prove `Send` for every `S`.)
fn then_call<S>(
    check: impl std::future::Future<Output = Checked> + Send + 'static,
    mut inner: S,
) -> LayerFuture<S::Error>
where
    S: tower::Service<
            http::Request<crate::body::Body>,
            Response = http::Response<crate::body::Body>,
        > + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    use futures::FutureExt;
    use futures::future::Either;
    Box::pin(check.then(move |checked| match checked {
        Ok(req) => Either::Left(inner.call(req)),
        Err(resp) => Either::Right(std::future::ready(Ok(resp))),
    }))
}

/// Paths anyone may read: health probes, as kube-apiserver allows them anonymously.
const PUBLIC_PATHS: [&str; 3] = ["/healthz", "/readyz", "/livez"];

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
