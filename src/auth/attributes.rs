//! The authorization attributes of a request, as kube-apiserver's `RequestInfoFactory` derives
//! them (verb, API group and version, namespace, resource, subresource, name; or a
//! non-resource path), for SubjectAccessReviews and the texts of `Forbidden` answers.

use http::Method;

/// What a request does, in RBAC's terms.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Attributes {
    /// A request for an API object.
    Resource {
        /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`.
        verb: String,
        /// API group (`""` for the core group).
        group: String,
        /// API version.
        version: String,
        /// Namespace (`""` for cluster scope).
        namespace: String,
        /// Resource (plural).
        resource: String,
        /// Subresource (`proxy`, `status`, …), or `""`.
        subresource: String,
        /// Object name, or `""`.
        name: String,
    },
    /// Any other path (`/healthz`, `/version`, discovery roots…).
    NonResource {
        /// The lower-case HTTP method.
        verb: String,
        /// The path.
        path: String,
    },
}

impl Attributes {
    /// The attributes of a request (`path` decoded, `query` raw), as
    /// [`super::requestinfo`] derives them for the gateway's own authorization.
    pub fn of(method: &Method, path: &str, query: Option<&str>) -> Self {
        let info = super::requestinfo::request_info_decoded(method, path, query);
        if !info.is_resource_request {
            return Attributes::NonResource {
                verb: info.verb,
                path: info.path,
            };
        }
        Attributes::Resource {
            verb: info.verb,
            group: info.api_group,
            version: info.api_version,
            namespace: info.namespace,
            resource: info.resource,
            subresource: info.subresource,
            name: info.name,
        }
    }

    /// kube-apiserver's `Forbidden` message for a user denied these attributes, with the
    /// authorizer's reason appended when there is one.
    pub fn forbidden_message(&self, user: &str, reason: &str) -> String {
        let why = match self {
            Attributes::NonResource { verb, path } => {
                format!("User {user:?} cannot {verb} path {path:?}")
            }
            Attributes::Resource {
                verb,
                group,
                namespace,
                resource,
                subresource,
                ..
            } => {
                let resource = if subresource.is_empty() {
                    resource.clone()
                } else {
                    format!("{resource}/{subresource}")
                };
                if namespace.is_empty() {
                    format!(
                        "User {user:?} cannot {verb} resource {resource:?} in API group {group:?} at the cluster scope"
                    )
                } else {
                    format!(
                        "User {user:?} cannot {verb} resource {resource:?} in API group {group:?} in the namespace {namespace:?}"
                    )
                }
            }
        };
        let why = if reason.is_empty() {
            why
        } else {
            format!("{why}: {reason}")
        };
        match self {
            Attributes::NonResource { .. } => format!("forbidden: {why}"),
            Attributes::Resource {
                group,
                resource,
                name,
                ..
            } => {
                let qualified = crate::machinery::status::qualified(resource, group);
                if name.is_empty() {
                    format!("{qualified} is forbidden: {why}")
                } else {
                    format!("{qualified} {name:?} is forbidden: {why}")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(verb: &str, group: &str, ns: &str, resource: &str, sub: &str, name: &str) -> Attributes {
        Attributes::Resource {
            verb: verb.into(),
            group: group.into(),
            version: "v1".into(),
            namespace: ns.into(),
            resource: resource.into(),
            subresource: sub.into(),
            name: name.into(),
        }
    }

    #[test]
    fn request_info_table() {
        let table = [
            (
                "GET",
                "/api/v1/pods",
                None,
                res("list", "", "", "pods", "", ""),
            ),
            (
                "GET",
                "/api/v1/pods",
                Some("watch=true"),
                res("watch", "", "", "pods", "", ""),
            ),
            (
                "GET",
                "/api/v1/watch/pods",
                None,
                res("watch", "", "", "pods", "", ""),
            ),
            (
                "GET",
                "/api/v1/namespaces/default/pods/web-0",
                None,
                res("get", "", "default", "pods", "", "web-0"),
            ),
            (
                "POST",
                "/api/v1/namespaces/default/pods/web-0/proxy/a/b",
                None,
                res("create", "", "default", "pods", "proxy", "web-0"),
            ),
            (
                "GET",
                "/api/v1/namespaces/default/services/http:web:80/proxy/",
                None,
                res("get", "", "default", "services", "proxy", "http:web:80"),
            ),
            (
                "DELETE",
                "/apis/apps/v1/namespaces/x/statefulsets",
                None,
                res("deletecollection", "apps", "x", "statefulsets", "", ""),
            ),
            (
                "GET",
                "/api/v1/namespaces/x",
                None,
                res("get", "", "x", "namespaces", "", "x"),
            ),
            (
                "PATCH",
                "/api/v1/nodes/n1/status",
                None,
                res("patch", "", "", "nodes", "status", "n1"),
            ),
        ];
        for (method, path, query, want) in table {
            let got = Attributes::of(&method.parse().unwrap(), path, query);
            assert_eq!(got, want, "{method} {path}");
        }
        for (method, path) in [
            ("GET", "/healthz"),
            ("GET", "/api"),
            ("GET", "/apis/apps/v1"),
            ("POST", "/version"),
        ] {
            let got = Attributes::of(&method.parse().unwrap(), path, None);
            assert!(
                matches!(got, Attributes::NonResource { .. }),
                "{method} {path}: {got:?}"
            );
        }
    }

    #[test]
    fn forbidden_texts_are_kubernetes() {
        let a = res("get", "", "default", "pods", "proxy", "web-0");
        assert_eq!(
            a.forbidden_message("jane", ""),
            "pods \"web-0\" is forbidden: User \"jane\" cannot get resource \"pods/proxy\" in API group \"\" in the namespace \"default\""
        );
        let a = res("list", "apps", "", "statefulsets", "", "");
        assert_eq!(
            a.forbidden_message("jane", "no RBAC policy matched"),
            "statefulsets.apps is forbidden: User \"jane\" cannot list resource \"statefulsets\" in API group \"apps\" at the cluster scope: no RBAC policy matched"
        );
        let a = Attributes::of(&Method::GET, "/metrics", None);
        assert_eq!(
            a.forbidden_message("jane", ""),
            "forbidden: User \"jane\" cannot get path \"/metrics\""
        );
    }
}
