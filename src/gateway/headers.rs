//! Request and response header handling for proxied traffic (`reference/proxy-semantics.md`
//! §3.2–3.3): what the backend sees of the client's request, and what the client sees of the
//! backend's response.
//!
//! Request side, in order:
//! 1. hop-by-hop headers go (RFC 9110 §7.6.1 plus Go's `ReverseProxy` list): `Connection` and every
//!    header it names, `Keep-Alive`, `Proxy-Connection`, `Proxy-Authenticate`, `TE`,
//!    `Transfer-Encoding`, `Upgrade`; `TE: trailers` is put back when the client sent it (gRPC
//!    needs it), and `Connection: upgrade` + `Upgrade` when the request is an upgrade.
//! 2. the client's credentials go: `Authorization`, `Proxy-Authorization`, every `Impersonate-*`
//!    header and the front-proxy identity headers (`X-Remote-User`, `-Group`, `-Uid`,
//!    `X-Remote-Extra-*`), as the API server's authentication and impersonation filters delete
//!    them. A pod must never receive the token that reached podgate, nor be fooled by an identity
//!    header the client made up.
//! 3. podgate's own request headers (`x-podgate-*`) go.
//! 4. `X-Forwarded-For` gets the client IP appended; `X-Forwarded-Proto`, `X-Forwarded-Host` and
//!    `X-Forwarded-Uri` are set, and `Host` stays the host the client used (the API server keeps
//!    the incoming `Host`, `UseLocationHost=false`). Upstream sets `X-Forwarded-Uri` only and sets
//!    nothing on upgrades (kubernetes/kubernetes#67878); podgate sets all four on every request.
//!
//! `Cookie` is kept: the API server passes it through, podgate does not authenticate with cookies,
//! and the apps behind the proxy (dashboards, UIs) log users in with their own session cookies.
//!
//! `Trailer` is kept in both directions although Go's list strips it: RFC 9110 no longer counts it
//! as hop-by-hop, and hyper emits HTTP/1.1 trailer fields only when `Trailer` announces them.

use std::net::IpAddr;

use http::header::{AUTHORIZATION, CACHE_CONTROL, CONNECTION, HOST, TE, UPGRADE};
use http::{HeaderMap, HeaderName, HeaderValue};

/// Marks responses podgate made itself (errors, redirects), so clients can tell them from
/// responses the pod sent. Backends cannot forge it: it is stripped from their responses.
pub use crate::wire::GATEWAY_ERROR_HEADER;

/// The prefix of every podgate-owned header; stripped toward backends and from their responses.
const PODGATE_PREFIX: &str = "x-podgate-";

/// The `Cache-Control` the API server sets on every response before its handlers run.
const PRIVATE_NO_CACHE: &str = "no-cache, private";

/// Hop-by-hop headers removed in both directions (besides those `Connection` names).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "proxy-connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "transfer-encoding",
    "upgrade",
];

/// Front-proxy identity headers the API server clears after authentication.
const FRONT_PROXY_HEADERS: [&str; 3] = ["x-remote-user", "x-remote-group", "x-remote-uid"];

/// CORS headers the API server's proxy removes from backend responses (`removeCORSHeaders`).
const CORS_HEADERS: [&str; 4] = [
    "access-control-allow-credentials",
    "access-control-allow-headers",
    "access-control-allow-methods",
    "access-control-allow-origin",
];

/// What the gateway knows about the client's request, for the forwarding headers.
#[derive(Debug, Clone)]
pub struct ForwardContext {
    /// The peer address of the client's connection (IPv4-mapped IPv6 is written as IPv4).
    pub client_ip: IpAddr,
    /// `"http"` or `"https"`: how the client reached podgate.
    pub proto: &'static str,
    /// The host the client used (`Host` header, or the HTTP/2 `:authority`); becomes the backend's
    /// `Host` and `X-Forwarded-Host`.
    pub host: Option<HeaderValue>,
    /// The `X-Forwarded-Uri` value, e.g. [`ProxyTarget::forwarded_uri`](super::target::ProxyTarget::forwarded_uri).
    pub original_uri: String,
    /// Whether this request is a protocol upgrade being passed through (see [`is_upgrade_request`]).
    pub upgrade: bool,
}

/// Rewrites a client's request headers into the headers the backend receives (see the module
/// docs for the full list).
pub fn prepare_request_headers(headers: &mut HeaderMap, ctx: &ForwardContext) {
    let kept = HopByHopKept::take(headers, ctx.upgrade);
    strip(headers, |name| {
        name == AUTHORIZATION
            || FRONT_PROXY_HEADERS.contains(&name.as_str())
            || starts_with_any(name, &["impersonate-", "x-remote-extra-", PODGATE_PREFIX])
    });
    kept.restore(headers);

    append_forwarded_for(headers, ctx.client_ip);
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(ctx.proto));
    if let Some(host) = &ctx.host {
        headers.insert(X_FORWARDED_HOST, host.clone());
        headers.insert(HOST, host.clone());
    }
    match HeaderValue::from_str(&ctx.original_uri) {
        Ok(uri) => headers.insert(X_FORWARDED_URI, uri),
        Err(_) => headers.remove(X_FORWARDED_URI),
    };
}

/// Rewrites a client's request headers for the API server behind `podgate proxy`, as Go's
/// `ReverseProxy` in `kubectl proxy` does: hop-by-hop headers go (`TE: trailers` and, for an
/// upgrade, `Connection: upgrade` + `Upgrade` are kept), the client IP is appended to
/// `X-Forwarded-For` when known, and everything else, credentials included, is left to the API
/// server, which authenticates with them and deletes them.
pub fn prepare_api_request_headers(
    headers: &mut HeaderMap,
    client_ip: Option<IpAddr>,
    upgrade: bool,
) {
    let kept = HopByHopKept::take(headers, upgrade);
    strip(headers, |_| false);
    kept.restore(headers);
    if let Some(ip) = client_ip {
        append_forwarded_for(headers, ip);
    }
}

/// Removes hop-by-hop headers from an API server's response (not for `101` responses).
pub fn prepare_api_response_headers(headers: &mut HeaderMap) {
    strip(headers, |_| false);
}

/// Rewrites a backend's response headers into the headers the client receives: hop-by-hop
/// headers, the four `Access-Control-Allow-*` CORS headers the API server removes, and any
/// `x-podgate-*` header go; `Cache-Control: no-cache, private` comes first, followed by whatever
/// `Cache-Control` the backend sent (exactly what a client of the API server sees: its
/// `WithCacheControl` filter sets the value before the proxy adds the backend's).
///
/// Not for `101 Switching Protocols` responses, whose `Connection`/`Upgrade` must survive.
pub fn prepare_response_headers(headers: &mut HeaderMap) {
    strip(headers, |name| {
        CORS_HEADERS.contains(&name.as_str()) || name.as_str().starts_with(PODGATE_PREFIX)
    });
    let private = HeaderValue::from_static(PRIVATE_NO_CACHE);
    match headers.entry(CACHE_CONTROL) {
        http::header::Entry::Vacant(e) => {
            e.insert(private);
        }
        http::header::Entry::Occupied(mut e) => {
            // Rare: the backend set its own; keep its values after the API server's.
            let backend: Vec<HeaderValue> = e.iter().cloned().collect();
            e.insert(private);
            for value in backend {
                e.append(value);
            }
        }
    }
}

/// Whether the request asks for a protocol upgrade: `Connection` lists the `upgrade` token
/// (case-insensitive, comma-separated, any number of `Connection` headers) and an `Upgrade`
/// header is present. This is Go `ReverseProxy`'s token test, stricter than the API server's
/// substring test (`Connection: upgraded` is not an upgrade).
pub fn is_upgrade_request(headers: &HeaderMap) -> bool {
    headers.contains_key(UPGRADE) && contains_token(headers, &CONNECTION, "upgrade")
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");

/// The hop-by-hop headers that survive the hop: `TE: trailers` when the client sent it, and
/// `Connection: upgrade` + `Upgrade` for an upgrade.
struct HopByHopKept {
    trailers: bool,
    upgrade: Option<HeaderValue>,
}

impl HopByHopKept {
    fn take(headers: &HeaderMap, upgrade: bool) -> Self {
        Self {
            trailers: contains_token(headers, &TE, "trailers"),
            upgrade: if upgrade {
                headers.get(UPGRADE).cloned()
            } else {
                None
            },
        }
    }

    fn restore(self, headers: &mut HeaderMap) {
        if self.trailers {
            headers.insert(TE, HeaderValue::from_static("trailers"));
        }
        if let Some(protocol) = self.upgrade {
            headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(UPGRADE, protocol);
        }
    }
}

/// Whether any comma-separated token of any `name` header equals `token` (ASCII case-insensitive).
fn contains_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .any(|value| has_token(value, token))
}

fn has_token(value: &HeaderValue, token: &str) -> bool {
    value
        .to_str()
        .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

fn starts_with_any(name: &HeaderName, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| name.as_str().starts_with(p))
}

/// Removes, in one pass over the header names, every hop-by-hop header (the fixed list and
/// those `Connection` names) and every header `also` picks. Most messages carry none of them:
/// nothing is allocated or rehashed then.
fn strip(headers: &mut HeaderMap, also: impl Fn(&HeaderName) -> bool) {
    // Names `Connection` lists beyond the fixed list (`keep-alive`, `close` and `upgrade` are
    // the usual tokens and need no search).
    let named: Vec<&str> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|t| {
            !t.is_empty()
                && !t.eq_ignore_ascii_case("close")
                && !HOP_BY_HOP.iter().any(|h| t.eq_ignore_ascii_case(h))
        })
        .collect();
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            HOP_BY_HOP.contains(&name.as_str())
                || also(name)
                || named.iter().any(|t| t.eq_ignore_ascii_case(name.as_str()))
        })
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

/// Appends the client's IP to `X-Forwarded-For`, folding earlier values into one header.
fn append_forwarded_for(headers: &mut HeaderMap, client_ip: IpAddr) {
    use std::io::Write as _;
    let mut folded: Vec<u8> = Vec::with_capacity(64);
    for prior in headers.get_all(X_FORWARDED_FOR) {
        folded.extend_from_slice(prior.as_bytes());
        folded.extend_from_slice(b", ");
    }
    match client_ip.to_canonical() {
        // By hand: `Display` goes through the formatting machinery, on every request.
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    folded.push(b'.');
                }
                if octet >= 100 {
                    folded.push(b'0' + octet / 100);
                }
                if octet >= 10 {
                    folded.push(b'0' + octet / 10 % 10);
                }
                folded.push(b'0' + octet % 10);
            }
        }
        IpAddr::V6(v6) => {
            let _ = write!(folded, "{v6}");
        }
    }
    if let Ok(value) = HeaderValue::from_maybe_shared(bytes::Bytes::from(folded)) {
        headers.insert(X_FORWARDED_FOR, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    fn values(headers: &HeaderMap, name: &str) -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    }

    fn ctx(upgrade: bool) -> ForwardContext {
        ForwardContext {
            client_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
            proto: "https",
            host: Some(HeaderValue::from_static("localhost:8001")),
            original_uri: "/api/v1/namespaces/default/pods/web/proxy/x/".to_string(),
            upgrade,
        }
    }

    #[test]
    fn upgrade_detection() {
        let rows: &[(&[(&str, &str)], bool)] = &[
            (&[("connection", "Upgrade"), ("upgrade", "websocket")], true),
            (
                &[
                    ("connection", "keep-alive, Upgrade"),
                    ("upgrade", "websocket"),
                ],
                true,
            ),
            (&[("connection", "UPGRADE"), ("upgrade", "SPDY/3.1")], true),
            (
                &[
                    ("connection", "keep-alive"),
                    ("connection", "upgrade"),
                    ("upgrade", "h2c"),
                ],
                true,
            ),
            (
                &[
                    ("connection", " keep-alive ,upgrade "),
                    ("upgrade", "websocket"),
                ],
                true,
            ),
            (&[("connection", "upgrade")], false),
            (&[("upgrade", "websocket")], false),
            (
                &[("connection", "upgraded"), ("upgrade", "websocket")],
                false,
            ),
            (
                &[("connection", "keep-alive"), ("upgrade", "websocket")],
                false,
            ),
            (&[], false),
        ];
        for (pairs, want) in rows {
            assert_eq!(is_upgrade_request(&map(pairs)), *want, "{pairs:?}");
        }
    }

    #[test]
    fn request_strips_hop_by_hop_credentials_and_own_headers() {
        let mut headers = map(&[
            ("connection", "keep-alive, X-Custom-Hop"),
            ("x-custom-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("te", "gzip"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("authorization", "Bearer secret"),
            ("proxy-authorization", "Basic eA=="),
            ("impersonate-user", "admin"),
            ("impersonate-group", "system:masters"),
            ("impersonate-uid", "1"),
            ("impersonate-extra-scopes", "all"),
            ("x-remote-user", "admin"),
            ("x-remote-group", "system:masters"),
            ("x-remote-uid", "0"),
            ("x-remote-extra-acme", "x"),
            ("x-podgate-token", "t"),
            ("x-podgate-error", "forged"),
            ("cookie", "session=abc"),
            ("accept-encoding", "gzip"),
            ("user-agent", "curl/8"),
            ("trailer", "x-checksum"),
        ]);
        prepare_request_headers(&mut headers, &ctx(false));
        for gone in [
            "connection",
            "x-custom-hop",
            "keep-alive",
            "proxy-connection",
            "te",
            "transfer-encoding",
            "upgrade",
            "authorization",
            "proxy-authorization",
            "impersonate-user",
            "impersonate-group",
            "impersonate-uid",
            "impersonate-extra-scopes",
            "x-remote-user",
            "x-remote-group",
            "x-remote-uid",
            "x-remote-extra-acme",
            "x-podgate-token",
            "x-podgate-error",
        ] {
            assert!(!headers.contains_key(gone), "{gone} must be stripped");
        }
        assert_eq!(values(&headers, "cookie"), ["session=abc"]);
        assert_eq!(values(&headers, "accept-encoding"), ["gzip"]);
        assert_eq!(values(&headers, "user-agent"), ["curl/8"]);
        assert_eq!(values(&headers, "trailer"), ["x-checksum"]);
    }

    #[test]
    fn request_sets_forwarding_headers() {
        let mut headers = map(&[
            ("host", "spoofed.example"),
            ("x-forwarded-host", "spoofed.example"),
            ("x-forwarded-proto", "gopher"),
            ("x-forwarded-uri", "/elsewhere"),
        ]);
        prepare_request_headers(&mut headers, &ctx(false));
        assert_eq!(values(&headers, "x-forwarded-for"), ["192.0.2.7"]);
        assert_eq!(values(&headers, "x-forwarded-proto"), ["https"]);
        assert_eq!(values(&headers, "x-forwarded-host"), ["localhost:8001"]);
        assert_eq!(values(&headers, "host"), ["localhost:8001"]);
        assert_eq!(
            values(&headers, "x-forwarded-uri"),
            ["/api/v1/namespaces/default/pods/web/proxy/x/"]
        );
    }

    #[test]
    fn request_without_known_host_keeps_the_clients() {
        let mut headers = map(&[("host", "a.example"), ("x-forwarded-host", "b.example")]);
        let mut c = ctx(false);
        c.host = None;
        c.proto = "http";
        prepare_request_headers(&mut headers, &c);
        assert_eq!(values(&headers, "host"), ["a.example"]);
        assert_eq!(values(&headers, "x-forwarded-host"), ["b.example"]);
        assert_eq!(values(&headers, "x-forwarded-proto"), ["http"]);
    }

    #[test]
    fn forwarded_for_is_appended_and_folded() {
        let rows: &[(&[&str], IpAddr, &str)] = &[
            (&[], IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), "10.0.0.1"),
            (
                &["203.0.113.9"],
                IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
                "203.0.113.9, 10.0.0.1",
            ),
            (
                &["a", "b, c"],
                IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
                "a, b, c, 10.0.0.1",
            ),
            (&[], IpAddr::V6(Ipv6Addr::LOCALHOST), "::1"),
            (
                &[],
                IpAddr::V6(Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped()),
                "127.0.0.1",
            ),
        ];
        for (prior, ip, want) in rows {
            let pairs: Vec<(&str, &str)> = prior.iter().map(|v| ("x-forwarded-for", *v)).collect();
            let mut headers = map(&pairs);
            let mut c = ctx(false);
            c.client_ip = *ip;
            prepare_request_headers(&mut headers, &c);
            assert_eq!(values(&headers, "x-forwarded-for"), [*want], "{prior:?}");
        }
    }

    #[test]
    fn te_trailers_survives() {
        let mut headers = map(&[("te", "gzip, Trailers")]);
        prepare_request_headers(&mut headers, &ctx(false));
        assert_eq!(values(&headers, "te"), ["trailers"]);
    }

    #[test]
    fn upgrade_keeps_connection_and_upgrade() {
        let pairs = [
            ("connection", "keep-alive, Upgrade, X-Hop"),
            ("upgrade", "websocket"),
            ("x-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("authorization", "Bearer secret"),
        ];
        let mut headers = map(&pairs);
        prepare_request_headers(&mut headers, &ctx(true));
        assert_eq!(values(&headers, "connection"), ["upgrade"]);
        assert_eq!(values(&headers, "upgrade"), ["websocket"]);
        assert_eq!(
            values(&headers, "sec-websocket-key"),
            ["dGhlIHNhbXBsZSBub25jZQ=="]
        );
        assert!(!headers.contains_key("x-hop"));
        assert!(!headers.contains_key("keep-alive"));
        assert!(!headers.contains_key("authorization"));
        assert_eq!(
            values(&headers, "x-forwarded-uri"),
            ["/api/v1/namespaces/default/pods/web/proxy/x/"]
        );

        let mut headers = map(&pairs);
        prepare_request_headers(&mut headers, &ctx(false));
        assert!(
            !headers.contains_key("connection"),
            "not an upgrade: stripped"
        );
        assert!(!headers.contains_key("upgrade"), "not an upgrade: stripped");
    }

    #[test]
    fn response_strips_hop_by_hop_cors_and_forged_marker() {
        let mut headers = map(&[
            ("connection", "close, X-Hop"),
            ("x-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("proxy-authenticate", "Basic"),
            ("upgrade", "h2c"),
            ("access-control-allow-credentials", "true"),
            ("access-control-allow-headers", "*"),
            ("access-control-allow-methods", "GET"),
            ("access-control-allow-origin", "*"),
            ("access-control-expose-headers", "x-a"),
            ("access-control-max-age", "60"),
            ("x-podgate-error", "forged"),
            ("content-type", "text/plain"),
            ("set-cookie", "a=1"),
            ("trailer", "grpc-status"),
        ]);
        prepare_response_headers(&mut headers);
        for gone in [
            "connection",
            "x-hop",
            "keep-alive",
            "transfer-encoding",
            "proxy-authenticate",
            "upgrade",
            "access-control-allow-credentials",
            "access-control-allow-headers",
            "access-control-allow-methods",
            "access-control-allow-origin",
            GATEWAY_ERROR_HEADER,
        ] {
            assert!(!headers.contains_key(gone), "{gone} must be stripped");
        }
        for kept in [
            "access-control-expose-headers",
            "access-control-max-age",
            "content-type",
            "set-cookie",
            "trailer",
        ] {
            assert!(headers.contains_key(kept), "{kept} must be kept");
        }
    }

    #[test]
    fn response_cache_control_like_the_api_server() {
        let rows: &[(&[&str], &[&str])] = &[
            (&[], &["no-cache, private"]),
            (&["max-age=60"], &["no-cache, private", "max-age=60"]),
            (
                &["public", "max-age=60"],
                &["no-cache, private", "public", "max-age=60"],
            ),
        ];
        for (backend, want) in rows {
            let pairs: Vec<(&str, &str)> = backend.iter().map(|v| ("cache-control", *v)).collect();
            let mut headers = map(&pairs);
            prepare_response_headers(&mut headers);
            assert_eq!(values(&headers, "cache-control"), *want, "{backend:?}");
        }
    }
}
