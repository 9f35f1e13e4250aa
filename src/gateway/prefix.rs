//! `kubectl proxy`'s server layout (`reference/proxy-semantics.md` §4.2): a Go `ServeMux` with the
//! `--api-prefix` subtree and, with `--www`, the `--www-prefix` subtree of static files.
//!
//! * The longest matching prefix wins; a path under neither gets `404 page not found`; a path
//!   equal to a prefix without its trailing slash is redirected (301) to the prefix.
//! * Paths with `.`/`..` segments or empty segments (`//`) are redirected (301) to the cleaned
//!   path, as `ServeMux` does, so the filter and the API server see one spelling. Unlike Go, an
//!   encoded slash (`%2F`) is not a segment separator here, so `…/queues/%2F/q` is forwarded as it
//!   is instead of being redirected into a different path (kubernetes/kubernetes#15399).
//! * An API prefix that does not start with `/api` is stripped, leaving a leading `/`
//!   (`stripLeaveSlash`); one that does is kept (so `--api-prefix=/api/` serves only `/api/…`).
//!   The strip works on the raw path, so encoded characters reach the API server unchanged.

use std::borrow::Cow;
use std::task::{Context, Poll};

use http::{HeaderValue, Request, Response, StatusCode, header};

use super::www::{self, StaticFiles};
use crate::wire::body::{self, Body};

/// The two prefixes, normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefixes {
    /// `--api-prefix`, ending in `/`.
    pub api: String,
    /// `--www-prefix`, ending in `/`.
    pub www: String,
}

impl Prefixes {
    /// Normalizes the flag values as kubectl does: a `/` is appended when missing.
    pub fn new(api: &str, www: &str) -> Self {
        Self {
            api: with_slash(api),
            www: with_slash(www),
        }
    }
}

fn with_slash(s: &str) -> String {
    if s.ends_with('/') {
        s.to_string()
    } else {
        format!("{s}/")
    }
}

/// What the mux does with a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed<'a> {
    /// To the API side, with this path (after the strip; query not included); borrowed when
    /// the request's own path goes on unchanged.
    Api(Cow<'a, str>),
    /// To the static files, with this path relative to the www root (still encoded).
    Static(String),
    /// 301 to this location.
    Redirect(String),
    /// `404 page not found`.
    NotFound,
}

/// Routes a raw request path (kubectl's mux, see the module docs).
pub fn route<'a>(prefixes: &Prefixes, www_enabled: bool, raw_path: &'a str) -> Routed<'a> {
    if let Some(clean) = cleaned(raw_path) {
        return Routed::Redirect(clean);
    }
    let api = raw_path.starts_with(&prefixes.api);
    let static_files = www_enabled && raw_path.starts_with(&prefixes.www);
    if static_files && (!api || prefixes.www.len() > prefixes.api.len()) {
        return Routed::Static(raw_path[prefixes.www.len()..].to_string());
    }
    if api {
        if prefixes.api.starts_with("/api") {
            return Routed::Api(Cow::Borrowed(raw_path));
        }
        let rest = &raw_path[prefixes.api.len()..];
        return Routed::Api(Cow::Owned(format!("/{rest}")));
    }
    for prefix in [Some(&prefixes.api), www_enabled.then_some(&prefixes.www)]
        .into_iter()
        .flatten()
    {
        if prefix.len() > 1 && raw_path == &prefix[..prefix.len() - 1] {
            return Routed::Redirect(prefix.clone());
        }
    }
    Routed::NotFound
}

/// The cleaned path when `raw` has `.`, `..` (also percent-encoded) or empty segments; `None`
/// when it is already clean. A trailing slash is kept.
pub fn cleaned(raw: &str) -> Option<String> {
    if !raw.starts_with('/') {
        return None;
    }
    let is_dot = |s: &str| super::target::dot_segment(s).is_some();
    // Checked without allocating: almost every path is clean.
    let mut rest = raw[1..].split('/').peekable();
    let mut dirty = false;
    while let Some(s) = rest.next() {
        if is_dot(s) || (s.is_empty() && rest.peek().is_some()) {
            dirty = true;
            break;
        }
    }
    if !dirty {
        return None;
    }
    let segments: Vec<&str> = raw[1..].split('/').collect();
    let mut out: Vec<&str> = Vec::new();
    for s in &segments {
        if s.is_empty() {
            continue;
        }
        match super::target::dot_segment(s) {
            Some(super::target::Dot::Current) => {}
            Some(super::target::Dot::Parent) => {
                out.pop();
            }
            None => out.push(s),
        }
    }
    let mut path = format!("/{}", out.join("/"));
    let trailing = segments.last().is_some_and(|s| s.is_empty() || is_dot(s));
    if trailing && path != "/" {
        path.push('/');
    }
    Some(path)
}

// === impl Mux ===

/// The mux in front of the API side (see the module docs).
#[derive(Clone)]
pub struct Mux<S> {
    inner: S,
    prefixes: Prefixes,
    www: Option<StaticFiles>,
}

impl<S> Mux<S> {
    /// Routes to `inner` (the API side) and, when `www` is set, to static files.
    pub fn new(inner: S, prefixes: Prefixes, www: Option<StaticFiles>) -> Self {
        Self {
            inner,
            prefixes,
            www,
        }
    }
}

/// A layer making a [`Mux`].
#[derive(Clone)]
pub struct MuxLayer {
    prefixes: Prefixes,
    www: Option<StaticFiles>,
}

impl MuxLayer {
    /// See [`Mux::new`].
    pub fn new(prefixes: Prefixes, www: Option<StaticFiles>) -> Self {
        Self { prefixes, www }
    }
}

impl<S> tower::Layer<S> for MuxLayer {
    type Service = Mux<S>;
    fn layer(&self, inner: S) -> Mux<S> {
        Mux::new(inner, self.prefixes.clone(), self.www.clone())
    }
}

impl<S> tower::Service<Request<Body>> for Mux<S>
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
        let routed = route(&self.prefixes, self.www.is_some(), req.uri().path());
        match routed {
            Routed::Api(path) => {
                if let Cow::Owned(path) = path
                    && let Some(uri) = with_path(req.uri(), &path)
                {
                    *req.uri_mut() = uri;
                }
                // The clone is ready: `poll_ready` was called on `inner`, and the ready service
                // is the one called (tower's clone-and-swap).
                let clone = self.inner.clone();
                let mut ready = std::mem::replace(&mut self.inner, clone);
                Box::pin(ready.call(req))
            }
            Routed::Static(rel) => {
                let files = self.www.clone();
                let method = req.method().clone();
                Box::pin(async move {
                    Ok(match files {
                        Some(f) => f.serve(&method, &rel).await,
                        None => www::not_found(),
                    })
                })
            }
            Routed::Redirect(location) => {
                let location = match req.uri().query() {
                    Some(q) => format!("{location}?{q}"),
                    None => location,
                };
                let mut resp = body::text_response(StatusCode::MOVED_PERMANENTLY, "");
                if let Ok(v) = HeaderValue::from_str(&location) {
                    resp.headers_mut().insert(header::LOCATION, v);
                }
                Box::pin(std::future::ready(Ok(resp)))
            }
            Routed::NotFound => Box::pin(std::future::ready(Ok(www::not_found()))),
        }
    }
}

/// `uri` with its path replaced (query kept).
fn with_path(uri: &http::Uri, path: &str) -> Option<http::Uri> {
    let pq = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(pq.parse().ok()?);
    http::Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// kubectl's `TestPathHandling` table: (prefix, request path, routed).
    #[test]
    fn kubectls_path_handling_table() {
        let table = [
            ("/api/", "/metrics", Routed::NotFound),
            ("/api/", "/api/metrics", Routed::Api("/api/metrics".into())),
            (
                "/api/",
                "/api/v1/pods/",
                Routed::Api("/api/v1/pods/".into()),
            ),
            ("/", "/metrics", Routed::Api("/metrics".into())),
            ("/", "/api/v1/pods/", Routed::Api("/api/v1/pods/".into())),
            ("/custom/", "/metrics", Routed::NotFound),
            ("/custom/", "/api/metrics", Routed::NotFound),
            ("/custom/", "/api/v1/pods/", Routed::NotFound),
            (
                "/custom/",
                "/custom/api/metrics",
                Routed::Api("/api/metrics".into()),
            ),
            (
                "/custom/",
                "/custom/api/v1/pods/",
                Routed::Api("/api/v1/pods/".into()),
            ),
            // Beyond kubectl's table.
            ("/custom", "/custom", Routed::Redirect("/custom/".into())),
            ("/custom/", "/custom/", Routed::Api("/".into())),
            (
                "/k8s-api",
                "/k8s-api/v1/pods",
                Routed::Api("/v1/pods".into()),
            ),
            ("/", "/", Routed::Api("/".into())),
        ];
        for (prefix, path, want) in table {
            let p = Prefixes::new(prefix, "/static/");
            assert_eq!(route(&p, false, path), want, "prefix {prefix} path {path}");
        }
    }

    #[test]
    fn static_prefix_wins_when_longer() {
        let p = Prefixes::new("/", "/static");
        assert_eq!(p.www, "/static/");
        assert_eq!(
            route(&p, true, "/static/a.txt"),
            Routed::Static("a.txt".into())
        );
        assert_eq!(
            route(&p, false, "/static/a.txt"),
            Routed::Api("/static/a.txt".into())
        );
        assert_eq!(route(&p, true, "/staticx"), Routed::Api("/staticx".into()));
        let p = Prefixes::new("/api/", "/static/");
        assert_eq!(
            route(&p, true, "/static"),
            Routed::Redirect("/static/".into())
        );
        assert_eq!(route(&p, true, "/other"), Routed::NotFound);
    }

    #[test]
    fn unclean_paths_redirect_and_encoded_slashes_do_not() {
        let table = [
            ("/api/v1/pods", None),
            ("/api/v1/pods/", None),
            ("/", None),
            ("/api//v1", Some("/api/v1")),
            ("/api/./v1", Some("/api/v1")),
            ("/api/x/../v1/", Some("/api/v1/")),
            ("/api/x/%2e%2e/v1", Some("/api/v1")),
            ("/api/v1/..", Some("/api/")),
            ("/..", Some("/")),
            ("/p/proxy/api/queues/%2F/q", None),
            ("/p/proxy/api/queues/%2F%2F/q", None),
        ];
        for (path, want) in table {
            assert_eq!(cleaned(path).as_deref(), want, "{path}");
        }
        let p = Prefixes::new("/", "/static/");
        assert_eq!(
            route(&p, false, "/api/v1/namespaces/d/pods/p/./exec"),
            Routed::Redirect("/api/v1/namespaces/d/pods/p/exec".into())
        );
    }
}
