//! Proxy target parsing: which pod or service a request path names, and what path the backend sees.
//!
//! This mirrors the API server's `pods/{id}/proxy` and `services/{id}/proxy` subresources
//! (`reference/proxy-semantics.md` §1.2–1.3): the `[scheme:]name[:port]` segment is split like
//! `SplitSchemeNamePort`, and the sub-path after `proxy` is joined like
//! `JoinPreservingTrailingSlash` (Go's `path.Join`: `//` collapsed, `.`/`..` resolved without
//! climbing above `/`, a trailing slash kept).
//!
//! **Encoded slashes.** Kubernetes decodes the request path before splitting it, so `%2F` becomes a
//! real `/` and APIs such as RabbitMQ's `/api/queues/%2F/q` break (pain point #7). podgate works on
//! the path as received instead: it splits on literal `/` only and hands every segment to the
//! backend still percent-encoded, so `%2F` stays `%2F`. Dot segments are recognised in their encoded
//! forms too (`%2e%2e` counts as `..`), so cleaning matches upstream. The namespace and the
//! `[scheme:]name[:port]` segment are percent-decoded (as upstream does), so
//! `pods/https%3Aweb%3A8443/proxy` still means `https:web:8443`; a segment that decodes to
//! something containing `/` is not a proxy URL at all.
//!
//! Only pods and services are parsed; `nodes/{name}/proxy` and everything else is left to the API.

use std::fmt;

use http::Method;
use percent_encoding::percent_decode_str;

/// The API path every namespaced proxy URL starts with.
const NAMESPACES_PREFIX: &str = "/api/v1/namespaces/";

/// The kind of object a proxy URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetKind {
    /// `pods/{id}/proxy`.
    Pod,
    /// `services/{id}/proxy`.
    Service,
}

impl TargetKind {
    /// The resource as it appears in the URL and in RBAC (`pods`, `services`).
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Pod => "pods",
            TargetKind::Service => "services",
        }
    }

    /// The singular word Kubernetes uses in its messages (`invalid pod request ...`).
    pub fn kind_name(self) -> &'static str {
        match self {
            TargetKind::Pod => "pod",
            TargetKind::Service => "service",
        }
    }

    fn from_segment(segment: &str) -> Option<Self> {
        match segment {
            "pods" => Some(TargetKind::Pod),
            "services" => Some(TargetKind::Service),
            _ => None,
        }
    }
}

/// The scheme used to reach the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP, the default when the name segment names no scheme.
    Http,
    /// TLS (the API server does not verify the backend's certificate).
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// The port a URL of this scheme uses when it names none (80 or 443).
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed `/api/v1/namespaces/{ns}/{pods|services}/{id}/proxy[/{path}]` request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyTarget {
    /// The namespace, percent-decoded.
    pub namespace: String,
    /// Pod or service.
    pub kind: TargetKind,
    /// The raw `[scheme:]name[:port]` segment (percent-decoded), as RBAC sees it: `resourceNames`
    /// must list exactly this string.
    pub id: String,
    /// The backend scheme (`http` unless the segment says `https:`).
    pub scheme: Scheme,
    /// Whether the segment named the scheme (`http:web:80`, `https:web:`).
    pub scheme_explicit: bool,
    /// The pod or service name.
    pub name: String,
    /// The port as given: `""` when none, otherwise a number or a port name.
    pub port: String,
    /// The backend path, still percent-encoded: `""` when nothing follows `proxy`, otherwise the
    /// cleaned sub-path starting with `/`, with the request's trailing slash kept.
    pub path: String,
    /// `/api/v1/namespaces/{ns}/{pods|services}/{id}/proxy` as the client sent it (encoded), for
    /// `Location`/HTML rewriting and `X-Forwarded-Uri`.
    pub prefix: String,
}

impl ProxyTarget {
    /// The path to request from the backend: `path`, or `/` when it is empty (Go sends an empty
    /// path as `/`).
    pub fn backend_path(&self) -> &str {
        if self.path.is_empty() {
            "/"
        } else {
            &self.path
        }
    }

    /// The `X-Forwarded-Uri` value the API server's proxy sets: the prefix joined with the backend
    /// path, trailing slash kept, no query.
    pub fn forwarded_uri(&self) -> String {
        format!("{}{}", self.prefix, self.path)
    }
}

/// Why a proxy URL cannot be served; `Display` gives the Kubernetes message text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The `[scheme:]name[:port]` segment does not parse: more than three `:`-separated parts, an
    /// empty name, or a scheme other than `http`/`https`. A 400 `BadRequest`.
    #[error("invalid {} request {}", kind.kind_name(), go_quote(id))]
    InvalidId {
        /// Which resource the URL named.
        kind: TargetKind,
        /// The segment as given.
        id: String,
    },
}

impl TargetError {
    /// The HTTP status code of the Kubernetes `Status` for this error.
    pub fn code(&self) -> u16 {
        match self {
            TargetError::InvalidId { .. } => 400,
        }
    }

    /// The `reason` of the Kubernetes `Status` for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            TargetError::InvalidId { .. } => "BadRequest",
        }
    }
}

/// Parses a raw (percent-encoded) request path, optionally followed by `?query`.
///
/// Returns `None` when `path` is not a pods/services proxy URL at all (the gateway then routes it
/// to the API), `Some(Err(_))` when it is one but its name segment is invalid.
pub fn parse(path: &str) -> Option<Result<ProxyTarget, TargetError>> {
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    let full = path;
    let rest = path.strip_prefix(NAMESPACES_PREFIX)?;
    let (ns_raw, rest) = rest.split_once('/')?;
    let (kind_raw, rest) = rest.split_once('/')?;
    let kind = TargetKind::from_segment(kind_raw)?;
    let (id_raw, rest) = rest.split_once('/').unwrap_or((rest, ""));
    // `sub` keeps its leading `/`.
    let sub = match rest {
        "proxy" => None,
        _ => {
            let after = rest.strip_prefix("proxy")?;
            if !after.starts_with('/') {
                return None;
            }
            Some(after)
        }
    };
    let namespace = decode_segment(ns_raw)?;
    let id = decode_segment(id_raw)?;

    let path = sub.map(clean_path).unwrap_or_default();
    // The prefix is the request path up to and including `proxy`, exactly as sent (`sub` is
    // the rest of it).
    let prefix = full[..full.len() - sub.map_or(0, str::len)].to_string();

    let Some((scheme, scheme_explicit, name, port)) = split_scheme_name_port(&id) else {
        return Some(Err(TargetError::InvalidId { kind, id }));
    };
    let (name, port) = (name.to_string(), port.to_string());
    Some(Ok(ProxyTarget {
        namespace,
        kind,
        id,
        scheme,
        scheme_explicit,
        name,
        port,
        path,
        prefix,
    }))
}

/// Whether a request for this target must be answered with `301` to `<request path>/` instead of
/// being proxied: GET or HEAD with nothing after `proxy`. Upgrade requests are never redirected,
/// so check for an upgrade first.
pub fn needs_root_redirect(target: &ProxyTarget, method: &Method) -> bool {
    target.path.is_empty() && (method == Method::GET || method == Method::HEAD)
}

/// The `Location` of the root redirect: the request path plus `/`, and the query if there is one.
pub fn root_redirect_location(request_path: &str, query: Option<&str>) -> String {
    match query {
        Some(q) if !q.is_empty() => format!("{request_path}/?{q}"),
        _ => format!("{request_path}/"),
    }
}

/// Whether the API server has a proxy route for this method (GET POST PUT PATCH DELETE HEAD
/// OPTIONS); any other method matches no route.
pub fn is_proxy_method(method: &Method) -> bool {
    [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
    ]
    .contains(method)
}

/// Cleans a raw, percent-encoded path like Go's `path.Join` and keeps a trailing slash
/// (`JoinPreservingTrailingSlash`): empty segments are dropped, `.` removed, `..` removes the
/// segment before it and never climbs above `/`. Dot segments are recognised percent-encoded as
/// well (`%2e`). Every other segment, `%2F` included, is kept byte for byte. The result always
/// starts with `/`.
pub fn clean_path(path: &str) -> String {
    if is_clean(path) {
        return path.to_string();
    }
    let mut kept: Vec<&str> = Vec::new();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        match dot_segment(segment) {
            Some(Dot::Current) => {}
            Some(Dot::Parent) => {
                kept.pop();
            }
            None => kept.push(segment),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    for segment in &kept {
        out.push('/');
        out.push_str(segment);
    }
    if kept.is_empty() || path.ends_with('/') {
        out.push('/');
    }
    out
}

/// Whether `clean_path` would return `path` unchanged: it starts with `/`, has no empty segment
/// but a trailing one, and no dot segment (the common case, checked without allocating).
fn is_clean(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    let mut segments = rest.split('/').peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        if (segment.is_empty() && !last) || dot_segment(segment).is_some() {
            return false;
        }
    }
    true
}

/// A dot segment of a path.
pub enum Dot {
    /// `.`
    Current,
    /// `..`
    Parent,
}

/// Whether a segment is `.` or `..`, in plain or percent-encoded form (`%2e`, `.%2E`, ...);
/// checked without decoding.
pub fn dot_segment(segment: &str) -> Option<Dot> {
    let b = segment.as_bytes();
    let (mut i, mut dots) = (0, 0);
    while i < b.len() {
        if b[i] == b'.' {
            i += 1;
        } else if b[i] == b'%'
            && b.get(i + 1) == Some(&b'2')
            && b.get(i + 2).is_some_and(|c| c | 0x20 == b'e')
        {
            i += 3;
        } else {
            return None;
        }
        dots += 1;
    }
    match dots {
        1 => Some(Dot::Current),
        2 => Some(Dot::Parent),
        _ => None,
    }
}

/// Percent-decodes a namespace or name segment; `None` when it is empty, a dot segment, or
/// decodes to something containing `/` (upstream would have split it into more segments).
fn decode_segment(raw: &str) -> Option<String> {
    let decoded = percent_decode_str(raw).decode_utf8_lossy();
    if decoded.is_empty() || decoded.contains('/') || decoded == "." || decoded == ".." {
        return None;
    }
    Some(decoded.into_owned())
}

/// `SplitSchemeNamePort`: `name`, `name:port` or `scheme:name:port`; valid only with a non-empty
/// name and a scheme of `""`, `http` or `https`. Returns (scheme, explicit, name, port).
fn split_scheme_name_port(id: &str) -> Option<(Scheme, bool, &str, &str)> {
    let parts: Vec<&str> = id.split(':').collect();
    let (scheme, name, port) = match parts.as_slice() {
        [name] => ("", *name, ""),
        [name, port] => ("", *name, *port),
        [scheme, name, port] => (*scheme, *name, *port),
        _ => return None,
    };
    let (scheme, explicit) = match scheme {
        "" => (Scheme::Http, false),
        "http" => (Scheme::Http, true),
        "https" => (Scheme::Https, true),
        _ => return None,
    };
    if name.is_empty() {
        return None;
    }
    Some((scheme, explicit, name, port))
}

/// Quotes a string the way Go's `%q` does for the texts Kubernetes prints.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\u{0b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const POD: &str = "/api/v1/namespaces/default/pods";
    const SVC: &str = "/api/v1/namespaces/default/services";

    /// (scheme, explicit, name, port, path) expected for a parsed row.
    type Want = (Scheme, bool, &'static str, &'static str, &'static str);

    fn ok(path: &str) -> ProxyTarget {
        match parse(path) {
            Some(Ok(t)) => t,
            other => panic!("{path}: expected a target, got {other:?}"),
        }
    }

    #[test]
    fn name_segment_forms() {
        use Scheme::{Http, Https};
        let rows: &[(&str, Want)] = &[
            ("web", (Http, false, "web", "", "")),
            ("web:8080", (Http, false, "web", "8080", "")),
            ("web:metrics", (Http, false, "web", "metrics", "")),
            ("https:web:8443", (Https, true, "web", "8443", "")),
            ("https:web:", (Https, true, "web", "", "")),
            ("http:web:80", (Http, true, "web", "80", "")),
            // The trap: two parts are name:port, so this is name "https", port "web".
            ("https:web", (Http, false, "https", "web", "")),
            // Three parts with an empty scheme are valid (scheme defaults to http).
            (":web:80", (Http, false, "web", "80", "")),
            ("web:", (Http, false, "web", "", "")),
            // Percent-encoded colons are decoded, as upstream decodes the whole path.
            ("https%3Aweb%3A8443", (Https, true, "web", "8443", "")),
        ];
        for (id, (scheme, explicit, name, port, path)) in rows {
            for (base, kind) in [(POD, TargetKind::Pod), (SVC, TargetKind::Service)] {
                let t = ok(&format!("{base}/{id}/proxy"));
                assert_eq!(t.kind, kind, "{id}");
                assert_eq!(t.scheme, *scheme, "{id}");
                assert_eq!(t.scheme_explicit, *explicit, "{id}");
                assert_eq!(t.name, *name, "{id}");
                assert_eq!(t.port, *port, "{id}");
                assert_eq!(t.path, *path, "{id}");
                assert_eq!(t.namespace, "default");
                assert_eq!(
                    t.prefix,
                    format!("{base}/{id}/proxy"),
                    "prefix keeps the raw segment"
                );
            }
        }
        assert_eq!(
            ok(&format!("{POD}/https%3Aweb%3A8443/proxy")).id,
            "https:web:8443",
            "id is decoded"
        );
        assert_eq!(ok(&format!("{POD}/https:web:/proxy")).id, "https:web:");
    }

    #[test]
    fn invalid_name_segments_are_400_with_kubernetes_text() {
        let rows = [
            (POD, "h2c:web:80", r#"invalid pod request "h2c:web:80""#),
            (POD, ":80", r#"invalid pod request ":80""#),
            (POD, "a:b:c:d", r#"invalid pod request "a:b:c:d""#),
            (POD, "x:y:z:w", r#"invalid pod request "x:y:z:w""#),
            (POD, "https::443", r#"invalid pod request "https::443""#),
            (POD, ":", r#"invalid pod request ":""#),
            (
                POD,
                "HTTPS:web:443",
                r#"invalid pod request "HTTPS:web:443""#,
            ),
            (SVC, "h2c:web:80", r#"invalid service request "h2c:web:80""#),
            (SVC, ":80", r#"invalid service request ":80""#),
            (SVC, "a:b:c:d", r#"invalid service request "a:b:c:d""#),
            (
                SVC,
                "a%22b:c:d:e",
                r#"invalid service request "a\"b:c:d:e""#,
            ),
        ];
        for (base, id, message) in rows {
            let err = match parse(&format!("{base}/{id}/proxy/x")) {
                Some(Err(e)) => e,
                other => panic!("{id}: expected an error, got {other:?}"),
            };
            assert_eq!(err.to_string(), message);
            assert_eq!(err.code(), 400);
            assert_eq!(err.reason(), "BadRequest");
        }
    }

    #[test]
    fn sub_paths() {
        let rows = [
            ("/proxy", ""),
            ("/proxy/", "/"),
            ("/proxy/metrics", "/metrics"),
            ("/proxy/a/b/", "/a/b/"),
            ("/proxy/a/../b/", "/b/"),
            ("/proxy/a/../b", "/b"),
            ("/proxy//x", "/x"),
            ("/proxy/a//b", "/a/b"),
            ("/proxy/a//", "/a/"),
            ("/proxy/.", "/"),
            ("/proxy/./", "/"),
            ("/proxy/..", "/"),
            ("/proxy/../../etc/passwd", "/etc/passwd"),
            ("/proxy/a/%2e%2E/b", "/b"),
            ("/proxy/a/.%2e/b", "/b"),
            ("/proxy/a/%2e/b", "/a/b"),
            ("/proxy/a/..b/c", "/a/..b/c"),
            // Encoded slashes stay encoded toward the backend (podgate's deliberate improvement).
            ("/proxy/api/queues/%2F/q", "/api/queues/%2F/q"),
            ("/proxy/api/queues/%2f", "/api/queues/%2f"),
            ("/proxy/a%20b/%41", "/a%20b/%41"),
            // The query is not part of the path.
            ("/proxy?x=1", ""),
            ("/proxy/?x=1", "/"),
            ("/proxy/x?y=1/../z", "/x"),
        ];
        for (suffix, want) in rows {
            let t = ok(&format!("{POD}/web{suffix}"));
            assert_eq!(t.path, want, "{suffix}");
            assert_eq!(t.prefix, format!("{POD}/web/proxy"), "{suffix}");
        }
    }

    #[test]
    fn not_proxy_urls() {
        let rows = [
            "",
            "/",
            "/api/v1/pods",
            "/api/v1/namespaces/default/pods",
            "/api/v1/namespaces/default/pods/web",
            "/api/v1/namespaces/default/pods/web/",
            "/api/v1/namespaces/default/pods/web/log",
            "/api/v1/namespaces/default/pods/web/exec",
            "/api/v1/namespaces/default/pods/web/proxyx",
            "/api/v1/namespaces/default/pods/web/proxyx/y",
            "/api/v1/namespaces/default/deployments/web/proxy",
            "/api/v1/namespaces/default/Pods/web/proxy",
            "/api/v1/nodes/n1/proxy/metrics",
            "/apis/apps/v1/namespaces/default/pods/web/proxy",
            "/api/v1/proxy/namespaces/default/services/web/",
            "/api/v1/namespaces//pods/web/proxy",
            "/api/v1/namespaces/default/pods//proxy",
            "/api/v1/namespaces/default/pods/a%2Fb/proxy",
            "/api/v1/namespaces/a%2Fb/pods/web/proxy",
            "/api/v1/namespaces/../pods/web/proxy",
            "/api/v1/namespaces/default/pods/%2e%2e/proxy",
            "api/v1/namespaces/default/pods/web/proxy",
        ];
        for path in rows {
            assert_eq!(parse(path), None, "{path}");
        }
    }

    #[test]
    fn namespace_is_decoded_and_prefix_kept_raw() {
        let t = ok("/api/v1/namespaces/te%73t/services/web%3Ahttp/proxy/x/");
        assert_eq!(t.namespace, "test");
        assert_eq!(t.kind, TargetKind::Service);
        assert_eq!(t.id, "web:http");
        assert_eq!(t.port, "http");
        assert_eq!(
            t.prefix,
            "/api/v1/namespaces/te%73t/services/web%3Ahttp/proxy"
        );
        assert_eq!(
            t.forwarded_uri(),
            "/api/v1/namespaces/te%73t/services/web%3Ahttp/proxy/x/"
        );
    }

    #[test]
    fn root_redirect_only_for_get_and_head_on_empty_path() {
        let bare = ok(&format!("{POD}/web/proxy"));
        let slash = ok(&format!("{POD}/web/proxy/"));
        let rows = [
            (&bare, Method::GET, true),
            (&bare, Method::HEAD, true),
            (&bare, Method::POST, false),
            (&bare, Method::PUT, false),
            (&bare, Method::DELETE, false),
            (&bare, Method::OPTIONS, false),
            (&slash, Method::GET, false),
            (&slash, Method::HEAD, false),
        ];
        for (t, method, want) in rows {
            assert_eq!(needs_root_redirect(t, &method), want, "{} {method}", t.path);
        }
        assert_eq!(bare.backend_path(), "/", "an empty path is sent as /");
        assert_eq!(slash.backend_path(), "/");
    }

    #[test]
    fn root_redirect_location_keeps_query() {
        let p = "/api/v1/namespaces/default/services/web/proxy";
        assert_eq!(root_redirect_location(p, None), format!("{p}/"));
        assert_eq!(root_redirect_location(p, Some("")), format!("{p}/"));
        assert_eq!(
            root_redirect_location(p, Some("a=b&c")),
            format!("{p}/?a=b&c")
        );
    }

    #[test]
    fn forwarded_uri_joins_prefix_and_path() {
        assert_eq!(
            ok(&format!("{POD}/web/proxy")).forwarded_uri(),
            format!("{POD}/web/proxy")
        );
        assert_eq!(
            ok(&format!("{POD}/web/proxy/")).forwarded_uri(),
            format!("{POD}/web/proxy/")
        );
        assert_eq!(
            ok(&format!("{POD}/web/proxy/a/../b?q")).forwarded_uri(),
            format!("{POD}/web/proxy/b")
        );
    }

    #[test]
    fn proxy_methods() {
        for m in ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] {
            assert!(
                is_proxy_method(&Method::from_bytes(m.as_bytes()).unwrap()),
                "{m}"
            );
        }
        for m in ["TRACE", "CONNECT", "PROPFIND"] {
            assert!(
                !is_proxy_method(&Method::from_bytes(m.as_bytes()).unwrap()),
                "{m}"
            );
        }
    }

    #[test]
    fn clean_path_table() {
        let rows = [
            ("", "/"),
            ("/", "/"),
            ("//", "/"),
            ("/a", "/a"),
            ("/a/", "/a/"),
            ("a/b", "/a/b"),
            ("/a/b/../../..", "/"),
            ("/a/b/../../../", "/"),
            ("/a/./b/.", "/a/b"),
            ("/%2F/../x", "/x"),
        ];
        for (input, want) in rows {
            assert_eq!(clean_path(input), want, "{input}");
        }
    }

    #[test]
    fn go_quote_escapes_like_go() {
        assert_eq!(go_quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_quote("a\nb\u{1}"), r#""a\nb\x01""#);
        assert_eq!(go_quote("wéb"), "\"wéb\"");
    }
}
