//! The gateway: one tower stack in front of the API (embedded or upstream) and the pods.
//!
//! ```text
//! trace → metrics → authenticate → impersonate → authorize
//!       → route ─ pods|services/{id}/proxy/** → resolve → forward
//!               ─ /healthz /readyz /livez /metrics → local handlers
//!               ─ /sd/prometheus                   → service discovery (authorizes itself)
//!               ─ everything else                  → the API
//! ```
//!
//! `podgate proxy` reads the same way with kubectl proxy's pieces in it ([`proxy_stack`]):
//!
//! ```text
//! trace → metrics → client auth → mux ─ --www-prefix → static files
//!                                     ─ --api-prefix (stripped) → filter → route ─ pods|services proxy → direct
//!                                                                                ─ everything else → kube-apiserver
//! ```
//!
//! and serves its health and metrics on a separate admin listener ([`admin_stack`]).

pub mod filter;
pub mod forward;
pub mod headers;
pub mod metrics;
pub mod prefix;
pub mod resolve;
pub mod rewrite;
pub mod sd;
pub mod server;
pub mod target;
pub mod tracked;
pub mod upstream;
pub mod www;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http::{HeaderValue, Request, Response, StatusCode};
use tower::ServiceBuilder;
use tower::util::BoxCloneSyncService;

use crate::auth;
use crate::machinery::status::Status;
use crate::wire::body::{self, Body};
use crate::wire::synthetic;

/// The one boxed HTTP service type used at module boundaries.
pub type HttpService = BoxCloneSyncService<Request<Body>, Response<Body>, Infallible>;

/// Whether the gateway is ready to serve (`/readyz`).
#[derive(Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Marks the gateway ready.
    pub fn set_ready(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether it is ready.
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Everything the gateway stack needs.
pub struct GatewayParts {
    /// The API behind the gateway.
    pub api: HttpService,
    /// Who a request is from (client certificates, bearer tokens).
    pub authn: Arc<auth::Authn>,
    /// What each user may do (`auth::AlwaysAllow` when the API behind authorizes itself).
    pub authz: Arc<dyn auth::Authorizer>,
    /// Readiness for `/readyz`.
    pub readiness: Readiness,
    /// The pod and service proxy (`None`: proxy paths go to the API as they are).
    pub proxy: Option<Arc<forward::Proxy>>,
    /// Gateway metrics.
    pub metrics: Arc<metrics::Metrics>,
}

/// Assembles the gateway stack, read top to bottom.
pub fn stack(parts: GatewayParts) -> HttpService {
    let route = Route {
        api: Arc::new(parts.api),
        readiness: parts.readiness,
        sd: parts
            .proxy
            .as_ref()
            .map(|p| (p.cluster().clone(), parts.authz.clone())),
        proxy: parts.proxy,
        metrics: parts.metrics.clone(),
        local: true,
    };
    let svc = ServiceBuilder::new()
        // One body type leaves the stack, whatever the layers below wrap it in.
        .map_response(|r: Response<_>| r.map(body::boxed))
        // Mark credentials sensitive first, so no later layer's tracing can print them.
        .layer(
            tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer::new([
                http::header::AUTHORIZATION,
                http::header::PROXY_AUTHORIZATION,
                http::header::COOKIE,
            ]),
        )
        // One span per request with method, path and status, for `RUST_LOG=tower_http=debug`.
        .layer(tower_http::trace::TraceLayer::new_for_http())
        // Count and time every request to the end of its body, failures included.
        .layer(metrics::MetricsLayer(parts.metrics))
        // Every request but health probes must carry a known credential (a client certificate
        // or a bearer token); the token is removed here and the user travels as an extension.
        .layer(auth::AuthenticateLayer::new(parts.authn))
        // `Impersonate-*` (kubectl --as) switches the user, for users allowed to `impersonate`
        // it; after authentication (someone must ask) and before authorization (which then
        // judges the impersonated user, as kube-apiserver's filter chain does).
        .layer(auth::ImpersonateLayer::new(parts.authz.clone()))
        // Authorize here, once the identity is final and before routing, so API requests and
        // pod/service proxy requests are judged by the same RBAC rules, with the attributes
        // kube-apiserver derives from the path (pods/proxy, services/proxy with the method's
        // verb): a request the route would send to a pod is refused before it is resolved.
        .layer(auth::AuthorizeLayer::new(parts.authz))
        .service(route);
    BoxCloneSyncService::new(svc)
}

/// Everything the `podgate proxy` stack needs.
pub struct ProxyStackParts {
    /// The real API server ([`upstream::ApiUpstream`]).
    pub api: HttpService,
    /// How clients are authenticated.
    pub client_auth: auth::ClientAuth,
    /// kubectl proxy's filter (`None`: `--disable-filter`).
    pub filter: Option<filter::FilterRules>,
    /// `--api-prefix` and `--www-prefix`.
    pub prefixes: prefix::Prefixes,
    /// `--www`.
    pub www: Option<www::StaticFiles>,
    /// The direct pod and service proxy (`None`: proxy paths go to the API server's own).
    pub proxy: Option<Arc<forward::Proxy>>,
    /// Gateway metrics.
    pub metrics: Arc<metrics::Metrics>,
}

/// Assembles the `podgate proxy` stack, read top to bottom.
pub fn proxy_stack(parts: ProxyStackParts) -> HttpService {
    let route = Route {
        api: Arc::new(parts.api),
        readiness: Readiness::default(),
        // The proxy's own credentials list every pod. With delegated auth the cluster decides
        // which namespaces each caller may list, as it does for every API request; otherwise
        // (no client auth, or a token file whose tokens may do everything) whoever reaches the
        // proxy acts with its credentials, as through kubectl proxy.
        sd: parts.proxy.as_ref().map(|p| {
            let authz: Arc<dyn auth::Authorizer> = match &parts.client_auth {
                auth::ClientAuth::Delegated(delegated) => delegated.clone(),
                _ => Arc::new(auth::AlwaysAllow),
            };
            (p.cluster().clone(), authz)
        }),
        proxy: parts.proxy,
        metrics: parts.metrics.clone(),
        // `/healthz`, `/metrics`… are the API server's here, as through kubectl proxy.
        local: false,
    };
    let svc = ServiceBuilder::new()
        .map_response(|r: Response<_>| r.map(body::boxed))
        // Mark credentials sensitive first, so no later layer's tracing can print them.
        .layer(
            tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer::new([
                http::header::AUTHORIZATION,
                http::header::PROXY_AUTHORIZATION,
                http::header::COOKIE,
            ]),
        )
        .layer(tower_http::trace::TraceLayer::new_for_http())
        // Count and time every request to the end of its body, failures included.
        .layer(metrics::MetricsLayer(parts.metrics))
        // None on loopback; tokens or the cluster's reviews beyond it. Static files too.
        .layer(auth::ClientAuthLayer(parts.client_auth))
        // kubectl's ServeMux: static files under --www-prefix, the API under --api-prefix
        // (stripped), 404 elsewhere, 301 for unclean paths.
        .layer(prefix::MuxLayer::new(parts.prefixes, parts.www))
        // kubectl's filter sees the stripped path, and never static files.
        .layer(filter::FilterLayer::new(parts.filter))
        .service(route);
    BoxCloneSyncService::new(svc)
}

/// The admin listener of `podgate proxy`: `/healthz`, `/livez`, `/readyz` and `/metrics`, no
/// authentication (probes and Prometheus), `404` for anything else.
pub fn admin_stack(readiness: Readiness, metrics: Arc<metrics::Metrics>) -> HttpService {
    let not_found =
        tower::service_fn(|_req: Request<Body>| async { Ok::<_, Infallible>(www::not_found()) });
    let route = Route {
        api: Arc::new(BoxCloneSyncService::new(not_found)),
        readiness,
        proxy: None,
        sd: None,
        metrics,
        local: true,
    };
    let svc = ServiceBuilder::new()
        .map_response(|r: Response<_>| r.map(body::boxed))
        .service(route);
    BoxCloneSyncService::new(svc)
}

/// The last step: local handlers, or the API.
#[derive(Clone)]
struct Route {
    /// Behind an `Arc`: every layer above clones its inner service per request, and cloning a
    /// boxed service allocates.
    api: Arc<HttpService>,
    readiness: Readiness,
    proxy: Option<Arc<forward::Proxy>>,
    /// The watch cache and authorizer `/sd/prometheus` answers from (`None`: not served here).
    sd: Option<(crate::cluster::ClusterView, Arc<dyn auth::Authorizer>)>,
    metrics: Arc<metrics::Metrics>,
    /// Whether `/healthz`, `/livez`, `/readyz` and `/metrics` are answered here.
    local: bool,
}

impl tower::Service<Request<Body>> for Route {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = futures::future::BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let path = req.uri().path();
        if let Some(proxy) = &self.proxy
            && let Some(parsed) = target::parse(path)
        {
            let proxy = proxy.clone();
            return Box::pin(async move {
                Ok(match parsed {
                    Ok(t) => proxy.handle(req, t).await,
                    Err(e) => synthetic(Status::bad_request(e.to_string())),
                })
            });
        }
        if path == sd::PATH
            && let Some((cluster, authz)) = &self.sd
        {
            local(&req, "");
            let (cluster, authz) = (cluster.clone(), authz.clone());
            return Box::pin(async move { Ok(sd::serve(req, cluster, authz).await) });
        }
        if !self.local {
            let mut api = (*self.api).clone();
            return Box::pin(async move { tower::Service::call(&mut api, req).await });
        }
        if path == "/metrics" {
            local(&req, "");
            let text = self.metrics.encode();
            return Box::pin(async move {
                let mut resp = body::text_response(StatusCode::OK, text);
                resp.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static(
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    ),
                );
                Ok(resp)
            });
        }
        match path {
            "/healthz" | "/livez" => {
                local(&req, "");
                Box::pin(async { Ok(body::text_response(StatusCode::OK, "ok")) })
            }
            "/readyz" => {
                local(&req, "");
                let ready = self.readiness.is_ready();
                Box::pin(async move {
                    Ok(if ready {
                        body::text_response(StatusCode::OK, "ok")
                    } else {
                        body::text_response(StatusCode::SERVICE_UNAVAILABLE, "not ready")
                    })
                })
            }
            _ => {
                let mut api = (*self.api).clone();
                Box::pin(async move { tower::Service::call(&mut api, req).await })
            }
        }
    }
}

/// Labels a request served by the gateway itself.
fn local(req: &Request<Body>, namespace: &str) {
    if let Some(ctx) = req.extensions().get::<metrics::RequestContext>() {
        let mut l = ctx.0.lock();
        l.target = "local";
        l.namespace = namespace.into();
    }
}
