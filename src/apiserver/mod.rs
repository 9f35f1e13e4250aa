//! The embedded Kubernetes-compatible API server: a tower `Service` over the store.
//!
//! It serves discovery, the resources in [`registry`] with the verbs kubectl and kube-rs use,
//! server-side Tables for `kubectl get`, watches, and the pod log subresource (proxied to the
//! node, as kube-apiserver does to the kubelet). The gateway in front of it handles
//! authentication; podgate's own components reach it in-process through `kube::Client`.

pub mod authapis;
pub mod discovery;
pub mod handlers;
mod logs;
pub mod meta;
pub mod openapi;
mod rbacguard;
pub mod registry;
pub mod request;
pub mod strategy;
mod streaming;
pub mod watch;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};

pub use crate::machinery::query::Query;
use crate::machinery::selectors::{self, FieldSelector, LabelSelector};
use crate::machinery::status::Status;
use crate::machinery::table::{self, IncludeObject};
use crate::machinery::{patch, protobuf};
use crate::store::Store;
use crate::wire::body::{Body, BoxError, json_response};
use handlers::{DeleteOptions, Part};
use registry::{ResourceDef, Sub};
use request::{ApiPath, ResourceRequest};

/// Largest request body the API server reads (Kubernetes' limit is 3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

impl Query {
    /// `dryRun`: `All` or nothing.
    pub fn dry_run(&self) -> Result<bool, Status> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(v) => Err(Status::bad_request(format!(
                "Invalid dryRun value: {v:?}: supported values: \"All\""
            ))),
        }
    }

    /// `fieldValidation`.
    pub fn field_validation(&self) -> Result<strategy::FieldValidation, Status> {
        strategy::FieldValidation::parse(self.get("fieldValidation"))
    }

    /// The label and field selectors.
    pub fn selectors(&self, def: &ResourceDef) -> Result<(LabelSelector, FieldSelector), Status> {
        let labels = LabelSelector::parse(self.get("labelSelector").unwrap_or(""))?;
        let fields = FieldSelector::parse(self.get("fieldSelector").unwrap_or(""), |f| {
            selectors::supported_field(def.plural, f)
        })?;
        Ok((labels, fields))
    }
}

/// A resource request with its query.
#[derive(Debug, Clone)]
pub struct Request {
    /// What the path addresses.
    pub info: ResourceRequest,
    /// The query parameters.
    pub query: Query,
}

impl Request {
    /// The namespace from the path.
    pub fn namespace(&self) -> Option<&str> {
        self.info.namespace.as_deref()
    }

    /// The object name, or 405 for a collection path.
    pub fn name(&self) -> Result<&str, Status> {
        self.info
            .name
            .as_deref()
            .ok_or_else(Status::method_not_supported)
    }
}

/// Settings of the embedded API server.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The address clients reach the API at (for `/api`'s serverAddressByClientCIDRs).
    pub server_address: String,
}

struct Inner {
    store: Store,
    config: ApiConfig,
    logs: logs::LogProxy,
    auth: std::sync::OnceLock<authapis::AuthApis>,
    /// The credential the nodes' endpoints require (logs, exec, attach, port-forward).
    node_key: std::sync::OnceLock<crate::secrets::NodeKey>,
}

/// The API server. Cheap to clone.
#[derive(Clone)]
pub struct ApiServer {
    inner: Arc<Inner>,
}

impl ApiServer {
    /// An API server over `store`.
    pub fn new(store: Store, config: ApiConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                config,
                logs: logs::LogProxy::new(),
                auth: std::sync::OnceLock::new(),
                node_key: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Serves the authentication and authorization APIs (TokenRequest, TokenReview, the access
    /// reviews) with `apis`; without this they answer 404. Installed once, after start-up,
    /// because the authorizer's caches watch this very server.
    pub fn install_auth(&self, apis: authapis::AuthApis) {
        if self.inner.auth.set(apis).is_err() {
            tracing::warn!("the auth APIs were already installed");
        }
    }

    /// Presents `key` to the nodes' endpoints from now on (set once, at start-up).
    pub fn set_node_key(&self, key: crate::secrets::NodeKey) {
        if self.inner.node_key.set(key).is_err() {
            tracing::warn!("the node key was already set");
        }
    }

    /// The store (for start-up seeding by `podgate up`).
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Answers one request. Never fails: errors become `Status` responses.
    pub async fn handle<B>(&self, req: http::Request<B>) -> http::Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let result = self.route(req).await;
        let resp = result.unwrap_or_else(|s| s.to_response());
        tracing::debug!(%method, %path, status = resp.status().as_u16(), "api request");
        resp
    }

    async fn route<B>(&self, req: http::Request<B>) -> Result<http::Response<Body>, Status>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let query = Query::parse(req.uri().query());
        let path = req.uri().path().to_string();
        if path == "/version" || path == "/version/" {
            return Ok(json_response(StatusCode::OK, &discovery::version()));
        }
        if path.starts_with("/openapi/") {
            let if_none_match = req
                .headers()
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok());
            return openapi::respond(&path, query.get("hash"), if_none_match)
                .ok_or_else(Status::no_route);
        }
        let Some(api_path) = request::parse(&path, req.method(), query.flag("watch")) else {
            return Err(Status::no_route());
        };
        let ok = |v: Option<Value>| {
            v.map(|v| json_response(StatusCode::OK, &v))
                .ok_or_else(Status::no_route)
        };
        match api_path {
            ApiPath::CoreVersions => ok(Some(discovery::core_versions(
                &self.inner.config.server_address,
            ))),
            ApiPath::Groups => ok(Some(discovery::groups())),
            ApiPath::Group(g) => ok(discovery::group(&g)),
            ApiPath::Resources { group, version } => ok(discovery::resources(&group, &version)),
            ApiPath::Resource(info) => {
                let def = registry::find(&info.group, &info.version, &info.resource)
                    .ok_or_else(Status::no_route)?;
                if def.namespaced && info.namespace.is_none() && info.name.is_some() {
                    return Err(Status::no_route());
                }
                let request = Request { info, query };
                self.resource(def, request, req).await
            }
        }
    }

    async fn resource<B>(
        &self,
        def: &'static ResourceDef,
        r: Request,
        req: http::Request<B>,
    ) -> Result<http::Response<Body>, Status>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let store = &self.inner.store;
        let accept = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let as_table = accept.contains("as=Table");
        let include =
            IncludeObject::parse(r.query.get("includeObject").unwrap_or("")).ok_or_else(|| {
                Status::bad_request(format!(
                    "unrecognized includeObject value: {:?}",
                    r.query.get("includeObject").unwrap_or("")
                ))
            })?;
        let sub = r.info.subresource.clone();
        if let Some(s) = &sub
            && !def.offers(s)
        {
            return Err(Status::no_route());
        }
        // Exec, attach and port-forward take over the connection: they are served before
        // the body would be read.
        if let Some(kind) = sub.as_deref().and_then(streaming::Kind::of) {
            let pod = handlers::get(store, def, &r)?;
            let query = req.uri().query().unwrap_or("").to_string();
            return streaming::connect(store, self.inner.node_key.get(), kind, &pod, &query, req)
                .await;
        }
        let verb = r.info.verb;
        let method = req.method().clone();
        let user = req.extensions().get::<crate::auth::UserInfo>().cloned();
        let body = if matches!(
            method,
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE
        ) {
            read_body(req.into_body()).await?
        } else {
            Bytes::new()
        };
        let render = |v: &Value| -> Value {
            if as_table {
                let rv = meta::meta_str(v, "resourceVersion")
                    .unwrap_or("")
                    .to_string();
                table::to_table(
                    def.plural,
                    &[v],
                    include,
                    json!({"resourceVersion": rv}),
                    jiff::Timestamp::now(),
                )
            } else {
                v.clone()
            }
        };
        if def.shape == registry::Shape::Review {
            let apis = self.inner.auth.get().ok_or_else(Status::no_route)?;
            if verb != "create" || r.info.name.is_some() {
                return Err(Status::method_not_supported());
            }
            let value = parse_json(&content_type, &body)?;
            return authapis::review(apis, def, &r, user.as_ref(), value).await;
        }
        match (sub.as_deref(), verb) {
            (Some("token"), "create") => {
                let apis = self.inner.auth.get().ok_or_else(Status::no_route)?;
                let value = parse_json(&content_type, &body)?;
                authapis::token_request(apis, store, def, &r, value).await
            }
            (None, "get") => Ok(json_response(
                StatusCode::OK,
                &render(&handlers::get(store, def, &r)?),
            )),
            (None, "list") => {
                let (items, list_meta) = handlers::list(store, def, &r)?;
                let body = if as_table {
                    let refs: Vec<&Value> = items.iter().map(|v| v.as_ref()).collect();
                    table::to_table(
                        def.plural,
                        &refs,
                        include,
                        list_meta,
                        jiff::Timestamp::now(),
                    )
                } else {
                    json!({
                        "kind": format!("{}List", def.kind),
                        "apiVersion": def.api_version(),
                        "metadata": list_meta,
                        "items": items.iter().map(|v| v.as_ref()).collect::<Vec<_>>(),
                    })
                };
                Ok(json_response(StatusCode::OK, &body))
            }
            (None, "watch") => {
                let render: watch::Render = Arc::new(move |v: &Value, first: bool| {
                    if as_table {
                        let rv = meta::meta_str(v, "resourceVersion")
                            .unwrap_or("")
                            .to_string();
                        let mut t = table::to_table(
                            def.plural,
                            &[v],
                            include,
                            json!({"resourceVersion": rv}),
                            jiff::Timestamp::now(),
                        );
                        if !first {
                            t["columnDefinitions"] = json!([]);
                        }
                        t
                    } else {
                        v.clone()
                    }
                });
                let body = watch::serve(store, def, &r, render)?;
                let mut resp = http::Response::new(body);
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                resp.headers_mut().insert(
                    header::TRANSFER_ENCODING,
                    HeaderValue::from_static("chunked"),
                );
                Ok(resp)
            }
            (None, "create") => {
                let obj = parse_json(&content_type, &body)?;
                if rbacguard::guarded(def)
                    && let Some(apis) = self.inner.auth.get()
                {
                    rbacguard::check(&*apis.authz, store, def, &r, user.as_ref(), &obj).await?;
                }
                let written = handlers::create(store, def, &r, obj).await?;
                Ok(written_response(StatusCode::CREATED, written))
            }
            (None | Some("status"), "update") => {
                let part = if sub.is_some() {
                    Part::Status
                } else {
                    Part::Main
                };
                let obj = parse_json(&content_type, &body)?;
                let guard = match self.inner.auth.get() {
                    Some(apis) if rbacguard::guarded(def) && sub.is_none() => {
                        rbacguard::check(&*apis.authz, store, def, &r, user.as_ref(), &obj).await?
                    }
                    _ => None,
                };
                let written = handlers::update(store, def, &r, part, obj, guard).await?;
                Ok(written_response(StatusCode::OK, written))
            }
            (None | Some("status"), "patch") => {
                let part = if sub.is_some() {
                    Part::Status
                } else {
                    Part::Main
                };
                let pt = patch::PatchType::from_content_type(&content_type)?;
                if pt == patch::PatchType::Apply
                    && r.query.get("fieldManager").is_none_or(str::is_empty)
                {
                    return Err(Status::bad_request(
                        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
                    ));
                }
                let apis = self.inner.auth.get().filter(|_| rbacguard::guarded(def));
                let guard = match (apis, sub.is_none()) {
                    (Some(apis), true) => match handlers::get(store, def, &r) {
                        Ok(cur) => {
                            let p = patch::parse_body(pt, &body)?;
                            let obj = patch::apply(pt, &cur, &p, def.kind)?;
                            rbacguard::check(&*apis.authz, store, def, &r, user.as_ref(), &obj)
                                .await?
                        }
                        Err(_) => None,
                    },
                    _ => None,
                };
                let result = handlers::patch(store, def, &r, part, pt, &body, guard).await;
                let written = match result {
                    // Server-side apply creates what does not exist yet.
                    Err(e) if e.code == 404 && pt == patch::PatchType::Apply && sub.is_none() => {
                        let obj = patch::parse_body(pt, &body)?;
                        if let Some(apis) = apis {
                            rbacguard::check(&*apis.authz, store, def, &r, user.as_ref(), &obj)
                                .await?;
                        }
                        handlers::create(store, def, &r, obj).await?
                    }
                    other => other?,
                };
                let code = if written.created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                };
                Ok(written_response(code, written))
            }
            (None, "delete") => {
                let opts = DeleteOptions::from_request(&r, &body)?;
                let name = r.name()?.to_string();
                let obj = handlers::delete(store, def, &r, &name, opts).await?;
                let code = if meta::is_terminating(&obj) && def.shape != registry::Shape::Pod {
                    StatusCode::ACCEPTED
                } else {
                    StatusCode::OK
                };
                Ok(json_response(code, &obj))
            }
            (None, "deletecollection") => {
                let opts = DeleteOptions::from_request(&r, &body)?;
                let items = handlers::delete_collection(store, def, &r, opts).await?;
                let list = json!({
                    "kind": format!("{}List", def.kind), "apiVersion": def.api_version(),
                    "metadata": {"resourceVersion": store.current_rv().to_string()}, "items": items,
                });
                Ok(json_response(StatusCode::OK, &list))
            }
            (Some("status"), "get") => Ok(json_response(
                StatusCode::OK,
                &handlers::get(store, def, &r)?,
            )),
            (Some("scale"), "get") => Ok(json_response(
                StatusCode::OK,
                &handlers::scale_of(&handlers::get(store, def, &r)?),
            )),
            (Some("scale"), "update" | "patch") => {
                let pt = if verb == "patch" {
                    Some(patch::PatchType::from_content_type(&content_type)?)
                } else {
                    None
                };
                Ok(json_response(
                    StatusCode::OK,
                    &handlers::write_scale(store, def, &r, pt, &content_type, &body).await?,
                ))
            }
            (Some("binding"), "create") => {
                handlers::bind(store, def, &r, parse_json(&content_type, &body)?).await?;
                Ok(json_response(
                    StatusCode::CREATED,
                    &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
                ))
            }
            (Some("finalize"), "update") => {
                let incoming = parse_json(&content_type, &body)?;
                let finalizers = incoming
                    .pointer("/spec/finalizers")
                    .cloned()
                    .unwrap_or(json!([]));
                let written = handlers::patch(
                    store,
                    def,
                    &r,
                    Part::Main,
                    patch::PatchType::Merge,
                    &serde_json::to_vec(&json!({"spec": {"finalizers": finalizers}}))
                        .unwrap_or_default(),
                    None,
                )
                .await?;
                Ok(written_response(StatusCode::OK, written))
            }
            (Some("log"), "get") => {
                let pod = handlers::get(store, def, &r)?;
                self.inner
                    .logs
                    .serve(store, &pod, &r.query, self.inner.node_key.get())
                    .await
            }
            (Some(s), _) if s == Sub::Proxy.name() => Err(Status::no_route()),
            _ => Err(Status::method_not_supported()),
        }
    }
}

fn written_response(code: StatusCode, written: handlers::Written) -> http::Response<Body> {
    let mut resp = json_response(code, &written.object);
    for w in written.warnings {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "299 - {}",
            serde_json::to_string(&w).unwrap_or_default()
        )) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
    resp
}

/// Reads a request body up to [`MAX_BODY`].
async fn read_body<B>(body: B) -> Result<Bytes, Status>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(Status::too_large(MAX_BODY)),
        Err(e) => Err(Status::bad_request(format!(
            "reading the request body: {e}"
        ))),
    }
}

/// Decodes a JSON (or YAML) request body.
pub(crate) fn parse_json(content_type: &str, body: &[u8]) -> Result<Value, Status> {
    let base = content_type.split(';').next().unwrap_or("").trim();
    match base {
        "" | "application/json" | "*/*" => serde_json::from_slice(body).map_err(|e| {
            Status::bad_request(format!(
                "the body of the request could not be decoded as JSON: {e}"
            ))
        }),
        protobuf::CONTENT_TYPE => protobuf::decode(body),
        "application/yaml" => serde_yaml_ng::from_slice(body).map_err(|e| {
            Status::bad_request(format!(
                "the body of the request could not be decoded as YAML: {e}"
            ))
        }),
        other => Err(Status::unsupported_media_type(other)),
    }
}

// === impl tower::Service ===

impl<B> tower::Service<http::Request<B>> for ApiServer
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.handle(req).await) })
    }
}

#[cfg(test)]
mod tests;
