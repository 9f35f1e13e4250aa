//! `kubectl proxy`'s request filter (`reference/proxy-semantics.md` §4.3) as a tower layer: a
//! guard against cross-site request forgery and DNS rebinding for a proxy that holds the user's
//! credentials.
//!
//! ```text
//! reject-paths matches the path     → 403
//! reject-methods matches the method → 403
//! accept-paths matches the path and accept-hosts matches the Host → pass
//! otherwise                         → 403
//! ```
//!
//! Each list is comma-separated regular expressions, unanchored unless they say `^`/`$`; an empty
//! list matches nothing (so an empty `--accept-hosts` rejects everything, as in kubectl since
//! v1.21). The path matched is the percent-decoded path after the `--api-prefix` strip, as Go's
//! `req.URL.Path` is, so `/pods/x/%65xec` is `/pods/x/exec` to the filter as it is to the API
//! server. The host is the `Host` header (or the HTTP/2 authority) without its port.
//!
//! One deliberate difference: for an IPv6 literal, both the bare (`::1`) and the bracketed
//! (`[::1]`) forms are tried, so the default `^\[::1\]$` accepts `http://[::1]:8001/`
//! (kubectl rejects it: kubernetes/kubernetes#77496).

use std::sync::Arc;
use std::task::{Context, Poll};

use crate::wire::decoded_path;
use http::{HeaderValue, Request, Response, StatusCode, header};
use regex::Regex;

use crate::wire::body::{self, Body};

/// kubectl's default `--accept-hosts`.
pub const DEFAULT_ACCEPT_HOSTS: &str = r"^localhost$,^127\.0\.0\.1$,^\[::1\]$";
/// kubectl's default `--accept-paths`.
pub const DEFAULT_ACCEPT_PATHS: &str = "^.*";
/// kubectl's default `--reject-paths`: exec and attach.
pub const DEFAULT_REJECT_PATHS: &str = "^/api/.*/pods/.*/exec,^/api/.*/pods/.*/attach";
/// kubectl's default `--reject-methods` (matches no method).
pub const DEFAULT_REJECT_METHODS: &str = "^$";

/// A regular expression in one of the lists failed to compile.
#[derive(Debug, thiserror::Error)]
#[error("Error compiling re: {0}")]
pub struct BadRegex(#[from] regex::Error);

/// Splits a comma-separated list of regular expressions and compiles each (kubectl's
/// `MakeRegexpArray`): `""` is the empty list.
pub fn regex_list(s: &str) -> Result<Vec<Regex>, BadRegex> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    s.split(',')
        .map(|p| Regex::new(p).map_err(BadRegex))
        .collect()
}

/// The four lists, compiled.
#[derive(Debug, Clone)]
pub struct FilterRules {
    /// A path must match one of these.
    pub accept_paths: Vec<Regex>,
    /// A path matching one of these is rejected first.
    pub reject_paths: Vec<Regex>,
    /// The host must match one of these.
    pub accept_hosts: Vec<Regex>,
    /// A method matching one of these is rejected.
    pub reject_methods: Vec<Regex>,
}

impl FilterRules {
    /// Compiles the four flag values.
    pub fn new(
        accept_paths: &str,
        reject_paths: &str,
        accept_hosts: &str,
        reject_methods: &str,
    ) -> Result<Self, BadRegex> {
        Ok(Self {
            accept_paths: regex_list(accept_paths)?,
            reject_paths: regex_list(reject_paths)?,
            accept_hosts: regex_list(accept_hosts)?,
            reject_methods: regex_list(reject_methods)?,
        })
    }

    /// kubectl's defaults.
    pub fn kubectl_defaults() -> Self {
        Self::new(
            DEFAULT_ACCEPT_PATHS,
            DEFAULT_REJECT_PATHS,
            DEFAULT_ACCEPT_HOSTS,
            DEFAULT_REJECT_METHODS,
        )
        .unwrap_or_else(|_| unreachable!("the default expressions compile"))
    }

    /// Whether the request passes: `path` decoded, `host` without its port.
    pub fn accept(&self, method: &str, path: &str, host: &str) -> bool {
        if matches_any(path, &self.reject_paths) || matches_any(method, &self.reject_methods) {
            return false;
        }
        matches_any(path, &self.accept_paths)
            && host_candidates(host).any(|h| matches_any(&h, &self.accept_hosts))
    }

    /// Whether the request (its method, decoded path and `Host`) passes.
    pub fn accept_request<B>(&self, req: &Request<B>) -> bool {
        let path = decoded_path(req.uri().path());
        self.accept(req.method().as_str(), &path, &request_host(req))
    }
}

fn matches_any(s: &str, list: &[Regex]) -> bool {
    list.iter().any(|re| re.is_match(s))
}

/// The forms of a host to try: as given, and bracketed when it is a bare IPv6 literal.
fn host_candidates(host: &str) -> impl Iterator<Item = String> + '_ {
    let bracketed = (host.contains(':') && !host.starts_with('[')).then(|| format!("[{host}]"));
    std::iter::once(host.to_string()).chain(bracketed)
}

/// The request's host without a port: the `Host` header, else the URI authority (HTTP/2).
pub fn request_host<B>(req: &Request<B>) -> String {
    let value = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_string()))
        .unwrap_or_default();
    extract_host(&value).to_string()
}

/// Go's `net.SplitHostPort` host part, or the whole value when it does not split (kubectl's
/// `extractHost`): `[::1]:8001` → `::1`, `[::1]` → `[::1]`, `a:80` → `a`, `a` → `a`.
pub fn extract_host(value: &str) -> &str {
    if let Some(rest) = value.strip_prefix('[') {
        return match rest.find(']') {
            Some(end) if rest[end + 1..].starts_with(':') => &rest[..end],
            _ => value,
        };
    }
    match value.rsplit_once(':') {
        Some((host, _)) if !host.contains(':') => host,
        _ => value,
    }
}

/// kubectl's rejection: `http.Error(w, "Forbidden", 403)`.
pub fn forbidden() -> Response<Body> {
    let mut resp = body::text_response(StatusCode::FORBIDDEN, "Forbidden\n");
    resp.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    resp
}

// === impl FilterLayer ===

/// A layer applying [`FilterRules`] (or nothing, for `--disable-filter`).
#[derive(Clone)]
pub struct FilterLayer {
    rules: Option<Arc<FilterRules>>,
}

impl FilterLayer {
    /// Filters with `rules`; `None` lets everything through.
    pub fn new(rules: Option<FilterRules>) -> Self {
        Self {
            rules: rules.map(Arc::new),
        }
    }
}

impl<S> tower::Layer<S> for FilterLayer {
    type Service = Filter<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Filter {
            inner,
            rules: self.rules.clone(),
        }
    }
}

/// The service [`FilterLayer`] makes.
#[derive(Clone)]
pub struct Filter<S> {
    inner: S,
    rules: Option<Arc<FilterRules>>,
}

impl<S> tower::Service<Request<Body>> for Filter<S>
where
    S: tower::Service<Request<Body>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future =
        futures::future::Either<S::Future, std::future::Ready<Result<Response<Body>, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        match &self.rules {
            Some(rules) if !rules.accept_request(&req) => {
                tracing::debug!(
                    method = %req.method(),
                    path = %decoded_path(req.uri().path()),
                    host = %request_host(&req),
                    "Filter rejecting"
                );
                futures::future::Either::Right(std::future::ready(Ok(forbidden())))
            }
            _ => futures::future::Either::Left(self.inner.call(req)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_lists_split_on_commas_and_empty_is_empty() {
        assert_eq!(regex_list("").unwrap().len(), 0);
        assert_eq!(regex_list("a,b").unwrap().len(), 2);
        assert_eq!(
            regex_list("a,").unwrap().len(),
            2,
            "a trailing comma adds ''"
        );
        let err = regex_list("(").unwrap_err().to_string();
        assert!(err.starts_with("Error compiling re: "), "{err}");
    }

    #[test]
    fn hosts_as_go_splits_them() {
        for (value, host) in [
            ("localhost:8001", "localhost"),
            ("localhost", "localhost"),
            ("127.0.0.1:8001", "127.0.0.1"),
            ("[::1]:8001", "::1"),
            ("[::1]", "[::1]"),
            ("::1", "::1"),
            ("example.com:", "example.com"),
            ("", ""),
        ] {
            assert_eq!(extract_host(value), host, "{value}");
        }
    }

    /// kubectl's `TestAccept` table (`kubectl/pkg/proxy/proxy_server_test.go`), row for row:
    /// (reject methods, method, path, host, accepted), with the default lists otherwise; `None`
    /// for reject paths means the default, `Some("")` the empty list (test24).
    #[test]
    fn kubectls_accept_table() {
        const NS: &str = "/api/v1/namespaces/default/pods";
        let d = DEFAULT_REJECT_METHODS;
        type Row<'a> = (Option<&'a str>, &'a str, &'a str, String, &'a str, bool);
        let table: &[Row] = &[
            (None, d, "GET", String::new(), "127.0.0.1", true),
            (None, d, "GET", "/api/v1/pods".into(), "127.0.0.1", true),
            (None, d, "GET", "/api/v1/pods".into(), "localhost", true),
            (None, d, "GET", format!("{NS}/foo"), "localhost", true),
            (None, d, "GET", format!("{NS}/attachfoo"), "localhost", true),
            (None, d, "GET", format!("{NS}/execfoo"), "localhost", true),
            (None, d, "GET", format!("{NS}/foo/exec"), "127.0.0.1", false),
            (
                None,
                d,
                "GET",
                format!("{NS}/foo/attach"),
                "127.0.0.1",
                false,
            ),
            (None, d, "GET", "/api/v1/pods".into(), "evil.com", false),
            (
                None,
                d,
                "GET",
                "/api/v1/pods".into(),
                "localhost.evil.com",
                false,
            ),
            (None, d, "GET", "/api/v1/pods".into(), "127a0b0c1", false),
            (None, d, "GET", "/ui".into(), "localhost", true),
            (None, d, "POST", "/api/v1/pods".into(), "localhost", true),
            (None, d, "PUT", format!("{NS}/somepod"), "localhost", true),
            (None, d, "PATCH", format!("{NS}/somepod"), "localhost", true),
            (
                None,
                "GET",
                "GET",
                "/api/v1/pods".into(),
                "127.0.0.1",
                false,
            ),
            (
                None,
                "POST",
                "POST",
                "/api/v1/pods".into(),
                "localhost",
                false,
            ),
            (
                None,
                "PUT",
                "PUT",
                format!("{NS}/somepod"),
                "localhost",
                false,
            ),
            (
                None,
                "PATCH",
                "PATCH",
                format!("{NS}/somepod"),
                "localhost",
                false,
            ),
            (
                None,
                "POST,PUT,PATCH",
                "PATCH",
                format!("{NS}/somepod"),
                "localhost",
                false,
            ),
            (
                None,
                "POST,PUT,PATCH",
                "PUT",
                format!("{NS}/somepod"),
                "localhost",
                false,
            ),
            (
                None,
                d,
                "POST",
                format!("{NS}/somepod/exec"),
                "localhost",
                false,
            ),
            (
                Some(""),
                d,
                "POST",
                format!("{NS}/somepod/exec"),
                "localhost",
                true,
            ),
        ];
        for (reject_paths, reject_methods, method, path, host, want) in table {
            let rules = FilterRules::new(
                DEFAULT_ACCEPT_PATHS,
                reject_paths.unwrap_or(DEFAULT_REJECT_PATHS),
                DEFAULT_ACCEPT_HOSTS,
                reject_methods,
            )
            .unwrap();
            assert_eq!(
                rules.accept(method, path, host),
                *want,
                "{method} {path} host {host} reject-methods {reject_methods:?}"
            );
        }
    }

    /// Requests as they arrive (Host headers with ports, proxied sub-paths), defaults.
    #[test]
    fn default_filter_on_requests() {
        let rules = FilterRules::kubectl_defaults();
        let table: &[(&str, &str, &str, bool)] = &[
            ("GET", "/api/v1/pods", "127.0.0.1:8001", true),
            ("GET", "/api/v1/pods", "localhost:8001", true),
            ("GET", "/api/v1/pods", "[::1]", true),
            // kubectl rejects this one (#77496); podgate accepts it.
            ("GET", "/api/v1/pods", "[::1]:8001", true),
            ("GET", "/api/v1/pods", "127.0.0.2:8001", false),
            ("GET", "/api/v1/pods", "", false),
            (
                "GET",
                "/api/v1/namespaces/d/pods/foo/proxy/attachments",
                "localhost",
                false,
            ),
            (
                "GET",
                "/api/v1/namespaces/d/pods/foo/portforward",
                "localhost",
                true,
            ),
            ("GET", "/apis/apps/v1/pods/x/exec", "127.0.0.1", true),
        ];
        for (method, path, host, want) in table {
            let req = Request::builder()
                .method(*method)
                .uri(*path)
                .header("host", *host)
                .body(())
                .unwrap();
            assert_eq!(
                rules.accept_request(&req),
                *want,
                "{method} {path} Host: {host}"
            );
        }
    }

    #[test]
    fn custom_lists() {
        // (accept paths, reject paths, accept hosts, reject methods, method, path, host, want)
        type Row<'a> = (
            &'a str,
            &'a str,
            &'a str,
            &'a str,
            &'a str,
            &'a str,
            &'a str,
            bool,
        );
        let table: &[Row] = &[
            ("^/api/", "", ".*", "", "GET", "/api/v1", "x", true),
            ("^/api/", "", ".*", "", "GET", "/apis/v1", "x", false),
            ("", "", ".*", "", "GET", "/api/v1", "x", false),
            (".*", "", "", "", "GET", "/api/v1", "x", false),
            (".*", "", ".*", "POST,PUT", "POST", "/api/v1", "x", false),
            (".*", "", ".*", "POST,PUT", "GET", "/api/v1", "x", true),
            (
                ".*",
                "/secrets",
                ".*",
                "",
                "GET",
                "/api/v1/secrets",
                "x",
                false,
            ),
            (".*", "", "^::1$", "", "GET", "/", "[::1]:80", true),
        ];
        for (ap, rp, ah, rm, method, path, host, want) in table {
            let rules = FilterRules::new(ap, rp, ah, rm).unwrap();
            assert_eq!(
                rules.accept(method, path, extract_host(host)),
                *want,
                "{ap:?} {rp:?} {ah:?} {rm:?}: {method} {path} {host}"
            );
        }
    }

    #[test]
    fn encoded_paths_are_matched_decoded() {
        let rules = FilterRules::kubectl_defaults();
        let req = Request::builder()
            .uri("/api/v1/namespaces/d/pods/foo/%65xec?command=sh")
            .header("host", "localhost")
            .body(())
            .unwrap();
        assert!(!rules.accept_request(&req));
    }

    #[test]
    fn http2_authority_is_the_host() {
        let rules = FilterRules::kubectl_defaults();
        let req = Request::builder()
            .uri("http://localhost:8001/api")
            .body(())
            .unwrap();
        assert!(rules.accept_request(&req));
        let req = Request::builder()
            .uri("http://evil:8001/api")
            .body(())
            .unwrap();
        assert!(!rules.accept_request(&req));
    }

    #[tokio::test]
    async fn layer_answers_kubectls_forbidden() {
        use http_body_util::BodyExt;
        use tower::{Layer, ServiceExt};
        let inner = tower::service_fn(|_req: Request<Body>| async {
            Ok::<_, std::convert::Infallible>(body::text_response(StatusCode::OK, "inner"))
        });
        let svc = FilterLayer::new(Some(FilterRules::kubectl_defaults())).layer(inner);
        let req = Request::builder()
            .uri("/api")
            .header("host", "evil.example")
            .body(body::empty())
            .unwrap();
        let resp = svc.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), 403);
        assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
        assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
        let text = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&text[..], b"Forbidden\n");

        let req = Request::builder()
            .uri("/api")
            .header("host", "localhost")
            .body(body::empty())
            .unwrap();
        assert_eq!(svc.clone().oneshot(req).await.unwrap().status(), 200);

        let open = FilterLayer::new(None).layer(inner);
        let req = Request::builder()
            .uri("/api/v1/namespaces/d/pods/p/exec")
            .header("host", "evil.example")
            .body(body::empty())
            .unwrap();
        assert_eq!(open.oneshot(req).await.unwrap().status(), 200);
    }
}
