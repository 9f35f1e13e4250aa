//! Gateway metrics (prometheus-client), served on `/metrics`.
//!
//! Label sets are bounded: namespace, target kind, StatefulSet name and ordinal (bounded by the
//! sets' replicas) and the status class — never pod names, paths or users.

use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Instant;

use std::collections::HashMap;

use parking_lot::{Mutex, RwLock};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The labels of one request.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Namespace of the target ("" for non-namespaced requests).
    pub namespace: String,
    /// `pod`, `service`, `api` or `local`.
    pub target: &'static str,
    /// The StatefulSet of the pod that served the request, if any.
    pub statefulset: String,
    /// The pod's ordinal in that set, if any.
    pub ordinal: String,
    /// `1xx` … `5xx`.
    pub code: &'static str,
}

/// The labels of an upstream failure.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// Namespace of the target.
    pub namespace: String,
    /// `pod` or `service`.
    pub target: &'static str,
    /// `connect`, `no_endpoints`, `not_found`, `not_allowed`, `protocol`.
    pub reason: &'static str,
}

/// What the route learns about a request, read once when it ends (a per-request context).
#[derive(Clone, Debug, Default)]
pub struct RequestContext(pub Arc<Mutex<RequestLabels>>);

/// All gateway metrics and their registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Family<RequestLabels, Histogram>,
    bytes: Family<RequestLabels, Counter>,
    /// Upstream failures by reason.
    pub upstream_errors: Family<ErrorLabels, Counter>,
    /// Requests being served now.
    pub in_flight: Gauge<i64, AtomicI64>,
    /// Client connections open now.
    pub open_connections: Gauge<i64, AtomicI64>,
    /// The series of each label set seen so far, so a request costs one lookup, not three.
    series: RwLock<HashMap<RequestLabels, Arc<Series>>>,
}

/// The request series of one label set (handles into the families above).
struct Series {
    requests: Counter,
    duration: Histogram,
    bytes: Counter,
}

impl Metrics {
    /// A fresh registry with every gateway metric.
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("podgate");
        let requests = Family::<RequestLabels, Counter>::default();
        let duration = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        let bytes = Family::<RequestLabels, Counter>::default();
        let upstream_errors = Family::<ErrorLabels, Counter>::default();
        let in_flight = Gauge::default();
        let open_connections = Gauge::default();
        registry.register(
            "requests",
            "Requests served, by target and status class",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from request to the end of the response body",
            duration.clone(),
        );
        registry.register("response_bytes", "Response body bytes sent", bytes.clone());
        registry.register(
            "upstream_errors",
            "Requests the gateway could not forward",
            upstream_errors.clone(),
        );
        registry.register(
            "requests_in_flight",
            "Requests being served",
            in_flight.clone(),
        );
        registry.register(
            "open_connections",
            "Client connections open",
            open_connections.clone(),
        );
        Arc::new(Self {
            registry,
            requests,
            duration,
            bytes,
            upstream_errors,
            in_flight,
            open_connections,
            series: RwLock::default(),
        })
    }

    /// Records a finished request.
    pub fn record(&self, labels: RequestLabels, started: Instant, bytes: u64) {
        let series = self.series(labels);
        series.requests.inc();
        series.duration.observe(started.elapsed().as_secs_f64());
        series.bytes.inc_by(bytes);
    }

    fn series(&self, labels: RequestLabels) -> Arc<Series> {
        if let Some(s) = self.series.read().get(&labels) {
            return s.clone();
        }
        let series = Arc::new(Series {
            requests: self.requests.get_or_create(&labels).clone(),
            duration: self.duration.get_or_create(&labels).clone(),
            bytes: self.bytes.get_or_create(&labels).clone(),
        });
        self.series.write().entry(labels).or_insert(series).clone()
    }

    /// Counts an upstream failure.
    pub fn upstream_error(&self, namespace: &str, target: &'static str, reason: &'static str) {
        self.upstream_errors
            .get_or_create(&ErrorLabels {
                namespace: namespace.into(),
                target,
                reason,
            })
            .inc();
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The status class label of a code.
pub fn code_class(code: u16) -> &'static str {
    match code / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

// === impl MetricsLayer ===

/// A layer that counts and times every request to the end of its response body.
#[derive(Clone)]
pub struct MetricsLayer(pub Arc<Metrics>);

impl<S> tower::Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            metrics: self.0.clone(),
        }
    }
}

/// The service [`MetricsLayer`] makes.
#[derive(Clone)]
pub struct MetricsService<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> tower::Service<http::Request<crate::wire::body::Body>> for MetricsService<S>
where
    S: tower::Service<
            http::Request<crate::wire::body::Body>,
            Response = http::Response<crate::wire::body::Body>,
        >,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<crate::wire::body::Body>;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, S::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<crate::wire::body::Body>) -> Self::Future {
        let ctx = RequestContext::default();
        req.extensions_mut().insert(ctx.clone());
        let metrics = self.metrics.clone();
        let started = Instant::now();
        metrics.in_flight.inc();
        let fut = self.inner.call(req);
        // A plain map (not an async block) keeps the future's Send bound simple for rustc.
        Box::pin(futures::FutureExt::map(fut, move |result| {
            let resp = match result {
                Ok(r) => r,
                Err(e) => {
                    metrics.in_flight.dec();
                    return Err(e);
                }
            };
            // The route is done with the context once the response head is here.
            let mut labels = std::mem::take(&mut *ctx.0.lock());
            if labels.target.is_empty() {
                labels.target = "api";
            }
            labels.code = code_class(resp.status().as_u16());
            let (parts, body) = resp.into_parts();
            let m = metrics.clone();
            let tracked = super::tracked::Tracked::new(
                body,
                Box::new(move |bytes, _ok| {
                    m.in_flight.dec();
                    m.record(labels, started, bytes);
                }),
            );
            Ok(http::Response::from_parts(parts, tracked.into()))
        }))
    }
}
