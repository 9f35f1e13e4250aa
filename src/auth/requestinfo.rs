//! What a request asks to do, in authorization terms: kube-apiserver's `RequestInfo`
//! (`k8s.io/apiserver/pkg/endpoints/request/requestinfo.go`), as a pure function of the method,
//! the path and the query.
//!
//! - Paths under `/api/{version}` and `/apis/{group}/{version}` with at least a resource are
//!   resource requests; everything else (`/api`, `/apis/{group}`, `/version`, `/metrics`, …) is a
//!   non-resource request whose verb is the lower-cased method.
//! - The verb comes from the method: POST→create, GET/HEAD→get, PUT→update, PATCH→patch,
//!   DELETE→delete, anything else (OPTIONS) → `""`, which only a `*` rule allows. Without a name,
//!   get becomes list or watch (`?watch`) and delete becomes deletecollection. A list or watch
//!   with `fieldSelector=metadata.name=x` is named `x`, so `resourceNames` rules cover
//!   `kubectl get pod x -w`.
//! - `/namespaces/{ns}/{resource}/…` sets the namespace; `/namespaces/{ns}[/status|/finalize]`
//!   is the namespace object itself, with the namespace set to its own name, as upstream does.
//! - `pods/{name}/proxy/{path…}` is resource `pods`, subresource `proxy`, name `{name}` (the raw
//!   segment, `https:web-0:8443` included); the rest of the path is not interpreted.
//! - The legacy special-verb prefixes `/api/v1/watch/…` and `/api/v1/proxy/…` set the verb.

use http::Method;

/// Prefixes whose paths name resources; `api` has no group segment.
const API_PREFIX: &str = "api";
const APIS_PREFIX: &str = "apis";

/// Subresources of a namespace that are not namespaced resources of their own.
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];

/// What a request asks to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// Whether the request addresses an API resource (or subresource).
    pub is_resource_request: bool,
    /// The request path, percent-decoded as Go's `URL.Path` is.
    pub path: String,
    /// The Kubernetes verb (`get`, `list`, `watch`, `create`, …) or, for non-resource requests,
    /// the lower-cased HTTP method.
    pub verb: String,
    /// API group (`""` for the core group).
    pub api_group: String,
    /// API version.
    pub api_version: String,
    /// Namespace (`""` for cluster-scoped requests).
    pub namespace: String,
    /// Plural resource name, e.g. `pods`.
    pub resource: String,
    /// Subresource, e.g. `proxy`, `status`, `log`.
    pub subresource: String,
    /// Object name, when the request names one.
    pub name: String,
}

/// Works out what a request asks to do from its method, raw path (no query) and query string.
pub fn request_info(method: &Method, path: &str, query: Option<&str>) -> RequestInfo {
    let path = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    request_info_decoded(method, &path, query)
}

/// [`request_info`] for a path that is already percent-decoded (never decoded twice).
pub fn request_info_decoded(method: &Method, path: &str, query: Option<&str>) -> RequestInfo {
    let path = path.to_string();
    let mut info = RequestInfo {
        is_resource_request: false,
        verb: method.as_str().to_ascii_lowercase(),
        path,
        ..RequestInfo::default()
    };
    let trimmed = info.path.trim_matches('/').to_string();
    let parts: Vec<&str> = if trimmed.is_empty() {
        Vec::new()
    } else {
        trimmed.split('/').collect()
    };
    if parts.len() < 3 {
        return info;
    }
    let mut rest: &[&str] = match parts[0] {
        API_PREFIX => &parts[1..],
        APIS_PREFIX => {
            if parts.len() < 4 {
                return info;
            }
            info.api_group = parts[1].to_string();
            &parts[2..]
        }
        _ => return info,
    };
    info.is_resource_request = true;
    info.api_version = rest[0].to_string();
    rest = &rest[1..];

    let special = matches!(rest[0], "proxy" | "watch");
    if special {
        if rest.len() < 2 {
            // Upstream fails the request ("unable to determine kind and namespace"); as an
            // authorization question it names no resource, so only `*` rules allow it.
            info.verb = rest[0].to_string();
            return info;
        }
        info.verb = rest[0].to_string();
        rest = &rest[1..];
    } else {
        info.verb = match *method {
            Method::POST => "create",
            Method::GET | Method::HEAD => "get",
            Method::PUT => "update",
            Method::PATCH => "patch",
            Method::DELETE => "delete",
            _ => "",
        }
        .to_string();
    }

    if rest[0] == "namespaces" && rest.len() > 1 {
        info.namespace = rest[1].to_string();
        if rest.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&rest[2]) {
            rest = &rest[2..];
        }
    }

    // rest: resource/name/subresource/anything-else-uninterpreted
    if rest.len() >= 3 && info.verb != "proxy" {
        info.subresource = rest[2].to_string();
    }
    if rest.len() >= 2 {
        info.name = rest[1].to_string();
    }
    if !rest.is_empty() {
        info.resource = rest[0].to_string();
    }

    let query = crate::machinery::query::Query::parse(query);
    if info.name.is_empty() && info.verb == "get" {
        info.verb = if query.flag("watch") { "watch" } else { "list" }.to_string();
        if let Some(name) = query
            .get("fieldSelector")
            .and_then(exact_name_from_field_selector)
        {
            info.name = name;
        }
    }
    if info.name.is_empty() && info.verb == "delete" {
        info.verb = "deletecollection".to_string();
    }
    info
}

/// The name a field selector pins with `metadata.name=x` (or `==`), when it is a valid path
/// segment name, as `fields.Selector.RequiresExactMatch` and `IsValidPathSegmentName` decide.
fn exact_name_from_field_selector(selector: &str) -> Option<String> {
    for term in selector.split(',') {
        let value = term
            .strip_prefix("metadata.name==")
            .or_else(|| term.strip_prefix("metadata.name="));
        if let Some(v) = value
            && !v.is_empty()
            && v != "."
            && v != ".."
            && !v.contains('/')
            && !v.contains('%')
            && !v.starts_with('=')
        {
            return Some(v.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (method, path, query) → (resource?, verb, group, namespace, resource, subresource, name)
    #[test]
    #[allow(clippy::type_complexity)]
    fn requests_map_like_kube_apiserver() {
        let cases: &[(
            &str,
            &str,
            Option<&str>,
            bool,
            &str,
            &str,
            &str,
            &str,
            &str,
            &str,
        )] = &[
            // Non-resource paths.
            ("GET", "/version", None, false, "get", "", "", "", "", ""),
            ("GET", "/api", None, false, "get", "", "", "", "", ""),
            ("GET", "/api/v1", None, false, "get", "", "", "", "", ""),
            ("GET", "/apis/apps", None, false, "get", "", "", "", "", ""),
            (
                "GET",
                "/apis/apps/v1",
                None,
                false,
                "get",
                "",
                "",
                "",
                "",
                "",
            ),
            ("POST", "/metrics", None, false, "post", "", "", "", "", ""),
            ("GET", "/", None, false, "get", "", "", "", "", ""),
            // Collections and objects.
            (
                "GET",
                "/api/v1/pods",
                None,
                true,
                "list",
                "",
                "",
                "pods",
                "",
                "",
            ),
            (
                "GET",
                "/api/v1/namespaces/default/pods",
                Some("watch=true"),
                true,
                "watch",
                "",
                "default",
                "pods",
                "",
                "",
            ),
            (
                "GET",
                "/api/v1/namespaces/default/pods",
                Some("watch=false"),
                true,
                "list",
                "",
                "default",
                "pods",
                "",
                "",
            ),
            (
                "GET",
                "/api/v1/namespaces/default/pods",
                Some("watch=1&fieldSelector=metadata.name%3Dweb-0"),
                true,
                "watch",
                "",
                "default",
                "pods",
                "",
                "web-0",
            ),
            (
                "GET",
                "/api/v1/namespaces/default/pods/web-0",
                None,
                true,
                "get",
                "",
                "default",
                "pods",
                "",
                "web-0",
            ),
            (
                "HEAD",
                "/api/v1/namespaces/default/pods/web-0",
                None,
                true,
                "get",
                "",
                "default",
                "pods",
                "",
                "web-0",
            ),
            (
                "DELETE",
                "/api/v1/namespaces/default/pods",
                None,
                true,
                "deletecollection",
                "",
                "default",
                "pods",
                "",
                "",
            ),
            (
                "PATCH",
                "/apis/apps/v1/namespaces/ns/statefulsets/web/scale",
                None,
                true,
                "patch",
                "apps",
                "ns",
                "statefulsets",
                "scale",
                "web",
            ),
            (
                "POST",
                "/api/v1/namespaces/default/serviceaccounts/prom/token",
                None,
                true,
                "create",
                "",
                "default",
                "serviceaccounts",
                "token",
                "prom",
            ),
            // The namespace object itself carries its own name as namespace.
            (
                "GET",
                "/api/v1/namespaces/kube-system",
                None,
                true,
                "get",
                "",
                "kube-system",
                "namespaces",
                "",
                "kube-system",
            ),
            (
                "PUT",
                "/api/v1/namespaces/x/finalize",
                None,
                true,
                "update",
                "",
                "x",
                "namespaces",
                "finalize",
                "x",
            ),
            (
                "POST",
                "/api/v1/namespaces",
                None,
                true,
                "create",
                "",
                "",
                "namespaces",
                "",
                "",
            ),
            (
                "POST",
                "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                None,
                true,
                "create",
                "authorization.k8s.io",
                "",
                "selfsubjectaccessreviews",
                "",
                "",
            ),
            // Proxy subresources: the verb is the method's, the name the raw segment.
            (
                "GET",
                "/api/v1/namespaces/default/pods/web-0/proxy/metrics",
                None,
                true,
                "get",
                "",
                "default",
                "pods",
                "proxy",
                "web-0",
            ),
            (
                "POST",
                "/api/v1/namespaces/default/pods/https:web-0:8443/proxy/a/b",
                None,
                true,
                "create",
                "",
                "default",
                "pods",
                "proxy",
                "https:web-0:8443",
            ),
            (
                "OPTIONS",
                "/api/v1/namespaces/default/services/web/proxy/",
                None,
                true,
                "",
                "",
                "default",
                "services",
                "proxy",
                "web",
            ),
            (
                "DELETE",
                "/api/v1/namespaces/default/services/web:http/proxy",
                None,
                true,
                "delete",
                "",
                "default",
                "services",
                "proxy",
                "web:http",
            ),
            (
                "PUT",
                "/api/v1/nodes/n1/proxy/stats",
                None,
                true,
                "update",
                "",
                "",
                "nodes",
                "proxy",
                "n1",
            ),
            // Legacy special verbs.
            (
                "GET",
                "/api/v1/watch/namespaces/default/pods",
                None,
                true,
                "watch",
                "",
                "default",
                "pods",
                "",
                "",
            ),
            (
                "GET",
                "/api/v1/proxy/namespaces/default/pods/web-0/metrics",
                None,
                true,
                "proxy",
                "",
                "default",
                "pods",
                "",
                "web-0",
            ),
        ];
        for (method, path, query, is_res, verb, group, ns, resource, sub, name) in cases {
            let m: Method = method.parse().unwrap();
            let info = request_info(&m, path, *query);
            let what = format!("{method} {path}?{query:?}");
            assert_eq!(info.is_resource_request, *is_res, "{what}");
            assert_eq!(info.verb, *verb, "{what}");
            assert_eq!(info.api_group, *group, "{what}");
            assert_eq!(info.namespace, *ns, "{what}");
            assert_eq!(info.resource, *resource, "{what}");
            assert_eq!(info.subresource, *sub, "{what}");
            assert_eq!(info.name, *name, "{what}");
        }
    }

    #[test]
    fn watch_parameter_reads_like_go() {
        let m = Method::GET;
        for (q, verb) in [
            ("watch=true", "watch"),
            ("watch=1", "watch"),
            ("watch=TRUE", "watch"),
            ("watch=yes", "watch"),
            ("watch=", "watch"),
            ("watch=0", "list"),
            ("watch=False", "list"),
            ("watch=false&watch=true", "list"),
            ("", "list"),
        ] {
            assert_eq!(request_info(&m, "/api/v1/pods", Some(q)).verb, verb, "?{q}");
        }
    }

    #[test]
    fn field_selector_names_only_exact_valid_names() {
        for (sel, name) in [
            ("metadata.name=web-0", Some("web-0")),
            ("metadata.name==web-0", Some("web-0")),
            ("status.phase=Running,metadata.name=db", Some("db")),
            ("metadata.name!=web-0", None),
            ("metadata.name=", None),
            ("metadata.name=..", None),
            ("metadata.name=a/b", None),
            ("metadata.namespace=x", None),
        ] {
            assert_eq!(
                exact_name_from_field_selector(sel).as_deref(),
                name,
                "{sel}"
            );
        }
    }

    #[test]
    fn paths_are_percent_decoded_like_go() {
        let info = request_info(
            &Method::GET,
            "/api/v1/namespaces/default/pods/web%2D0",
            None,
        );
        assert_eq!(info.name, "web-0");
        assert_eq!(info.path, "/api/v1/namespaces/default/pods/web-0");
    }
}
