//! Parsing an API request path into what it addresses (Kubernetes' `RequestInfo`): a pure function.

use http::Method;

/// What an API request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiPath {
    /// `/api`: the core group's versions.
    CoreVersions,
    /// `/apis`: every group.
    Groups,
    /// `/apis/{group}`: one group.
    Group(String),
    /// `/api/v1` or `/apis/{group}/{version}`: the resources of one group version.
    Resources {
        /// API group ("" for core).
        group: String,
        /// API version.
        version: String,
    },
    /// A resource request.
    Resource(ResourceRequest),
}

/// A request for a resource, a collection or a subresource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRequest {
    /// API group ("" for core).
    pub group: String,
    /// API version.
    pub version: String,
    /// The namespace from the path, if any.
    pub namespace: Option<String>,
    /// Plural resource name, e.g. `pods`.
    pub resource: String,
    /// Object name, if the request addresses one object.
    pub name: Option<String>,
    /// Subresource, e.g. `status`, `scale`, `log`.
    pub subresource: Option<String>,
    /// The Kubernetes verb (get, list, watch, create, update, patch, delete, deletecollection).
    pub verb: &'static str,
}

/// Subresources of namespaces that are not resources of their own.
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];

/// Parses `path` (no query) and the method into an [`ApiPath`]; `watch` is the `watch` query
/// parameter. `None` when the path is not under `/api` or `/apis`.
pub fn parse(path: &str, method: &Method, watch: bool) -> Option<ApiPath> {
    let parts: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api"] => return Some(ApiPath::CoreVersions),
        ["apis"] => return Some(ApiPath::Groups),
        ["apis", g] => return Some(ApiPath::Group(g.to_string())),
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return None,
    };
    if rest.is_empty() {
        return Some(ApiPath::Resources {
            group: group.into(),
            version: version.into(),
        });
    }
    let mut namespace = None;
    let mut rest = rest;
    if rest[0] == "namespaces" && rest.len() > 1 {
        namespace = Some(rest[1].to_string());
        if rest.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&rest[2]) {
            rest = &rest[2..];
        }
    }
    let resource = rest[0].to_string();
    let name = rest.get(1).map(|s| s.to_string());
    // Everything after the subresource belongs to it (e.g. a proxy path); callers that serve
    // such subresources read the raw path themselves.
    let subresource = rest.get(2).map(|s| s.to_string());
    if resource == "namespaces" && name.is_some() {
        // `/api/v1/namespaces/{name}[/status]` addresses the namespace object itself.
        namespace = None;
    }
    let verb = match *method {
        Method::GET | Method::HEAD if name.is_none() => {
            if watch {
                "watch"
            } else {
                "list"
            }
        }
        Method::GET | Method::HEAD => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if name.is_none() => "deletecollection",
        Method::DELETE => "delete",
        _ => "",
    };
    Some(ApiPath::Resource(ResourceRequest {
        group: group.into(),
        version: version.into(),
        namespace,
        resource,
        name,
        subresource,
        verb,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(path: &str, method: Method, watch: bool) -> ResourceRequest {
        match parse(path, &method, watch) {
            Some(ApiPath::Resource(r)) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn paths_map_to_requests() {
        let cases: &[(
            &str,
            Method,
            bool,
            &str,
            Option<&str>,
            &str,
            Option<&str>,
            Option<&str>,
        )] = &[
            (
                "/api/v1/pods",
                Method::GET,
                false,
                "",
                None,
                "pods",
                None,
                None,
            ),
            (
                "/api/v1/namespaces/default/pods",
                Method::GET,
                true,
                "",
                Some("default"),
                "pods",
                None,
                None,
            ),
            (
                "/api/v1/namespaces/default/pods/web-0",
                Method::GET,
                false,
                "",
                Some("default"),
                "pods",
                Some("web-0"),
                None,
            ),
            (
                "/api/v1/namespaces/default/pods/web-0/status",
                Method::PUT,
                false,
                "",
                Some("default"),
                "pods",
                Some("web-0"),
                Some("status"),
            ),
            (
                "/apis/apps/v1/namespaces/ns/statefulsets/web/scale",
                Method::PATCH,
                false,
                "apps",
                Some("ns"),
                "statefulsets",
                Some("web"),
                Some("scale"),
            ),
            (
                "/api/v1/namespaces",
                Method::POST,
                false,
                "",
                None,
                "namespaces",
                None,
                None,
            ),
            (
                "/api/v1/namespaces/kube-system",
                Method::GET,
                false,
                "",
                None,
                "namespaces",
                Some("kube-system"),
                None,
            ),
            (
                "/api/v1/namespaces/x/status",
                Method::PUT,
                false,
                "",
                None,
                "namespaces",
                Some("x"),
                Some("status"),
            ),
            (
                "/api/v1/namespaces/x/finalize",
                Method::PUT,
                false,
                "",
                None,
                "namespaces",
                Some("x"),
                Some("finalize"),
            ),
            (
                "/api/v1/nodes/n1",
                Method::DELETE,
                false,
                "",
                None,
                "nodes",
                Some("n1"),
                None,
            ),
            (
                "/api/v1/namespaces/d/pods/p/proxy/a/b",
                Method::GET,
                false,
                "",
                Some("d"),
                "pods",
                Some("p"),
                Some("proxy"),
            ),
        ];
        for (path, method, watch, group, ns, resource, name, sub) in cases {
            let r = res(path, method.clone(), *watch);
            assert_eq!(r.group, *group, "{path}");
            assert_eq!(r.namespace.as_deref(), *ns, "{path}");
            assert_eq!(r.resource, *resource, "{path}");
            assert_eq!(r.name.as_deref(), *name, "{path}");
            assert_eq!(r.subresource.as_deref(), *sub, "{path}");
        }
    }

    #[test]
    fn verbs_follow_method_and_name() {
        assert_eq!(res("/api/v1/pods", Method::GET, false).verb, "list");
        assert_eq!(res("/api/v1/pods", Method::GET, true).verb, "watch");
        assert_eq!(
            res("/api/v1/namespaces/d/pods", Method::DELETE, false).verb,
            "deletecollection"
        );
        assert_eq!(
            res("/api/v1/namespaces/d/pods/p", Method::DELETE, false).verb,
            "delete"
        );
        assert_eq!(
            res("/api/v1/namespaces/d/pods/p", Method::OPTIONS, false).verb,
            ""
        );
    }

    #[test]
    fn discovery_paths() {
        assert_eq!(
            parse("/api", &Method::GET, false),
            Some(ApiPath::CoreVersions)
        );
        assert_eq!(parse("/apis/", &Method::GET, false), Some(ApiPath::Groups));
        assert_eq!(
            parse("/apis/apps", &Method::GET, false),
            Some(ApiPath::Group("apps".into()))
        );
        assert_eq!(
            parse("/apis/apps/v1", &Method::GET, false),
            Some(ApiPath::Resources {
                group: "apps".into(),
                version: "v1".into()
            })
        );
        assert_eq!(parse("/healthz", &Method::GET, false), None);
    }
}
