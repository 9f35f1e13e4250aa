//! The authentication and authorization APIs: TokenRequest (`serviceaccounts/{name}/token`,
//! `kubectl create token`), TokenReview, SelfSubjectReview (`kubectl auth whoami`),
//! SubjectAccessReview, LocalSubjectAccessReview, SelfSubjectAccessReview (`kubectl auth can-i`)
//! and SelfSubjectRulesReview (`kubectl auth can-i --list`).
//!
//! The reviews are never stored: each create is answered with the object and its `status`
//! (201), as kube-apiserver does. They use the same authenticator and authorizer the gateway
//! applies to every request, so an answer here is what the gateway would do. Whether the caller
//! may create a review at all was decided by the gateway before the request got here; the "self"
//! reviews are about the caller, whose identity arrives as a [`UserInfo`] request extension.

use std::sync::Arc;

use http::StatusCode;
use k8s_openapi::api::authentication::v1 as authn;
use k8s_openapi::api::authorization::v1 as authz;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::registry::ResourceDef;
use super::request::ResourceRequest;
use super::{Query, Request, handlers, meta, registry};
use crate::auth::authz::{Attributes, Authorizer};
use crate::auth::serviceaccount::{
    BoundKind, DEFAULT_EXPIRATION_SECONDS, Issuer, MAX_EXPIRATION_SECONDS, MIN_EXPIRATION_SECONDS,
    ObjectClaim, TokenSpec,
};
use crate::auth::{Authn, UserInfo};
use crate::machinery::status::{FieldError, Status};
use crate::store::Store;
use crate::wire::body::{Body, json_response};

const AUTHN_GROUP: &str = "authentication.k8s.io";
const AUTHZ_GROUP: &str = "authorization.k8s.io";

/// What the auth APIs answer with.
#[derive(Clone)]
pub struct AuthApis {
    /// Authenticates tokens (TokenReview).
    pub authn: Arc<Authn>,
    /// Decides access (the access reviews).
    pub authz: Arc<dyn Authorizer>,
    /// Signs ServiceAccount tokens (TokenRequest).
    pub issuer: Arc<Issuer>,
}

/// Answers a create of one of the review kinds.
pub(super) async fn review(
    apis: &AuthApis,
    def: &ResourceDef,
    r: &Request,
    user: Option<&UserInfo>,
    body: Value,
) -> Result<http::Response<Body>, Status> {
    let out = match def.plural {
        "tokenreviews" => token_review(apis, decode(def, body)?).await?,
        "selfsubjectreviews" => json!({
            "status": {"userInfo": user_json(caller(user)?)},
        }),
        "subjectaccessreviews" => subject_access_review(apis, decode(def, body)?).await?,
        "localsubjectaccessreviews" => {
            local_subject_access_review(apis, r.namespace().unwrap_or(""), decode(def, body)?)
                .await?
        }
        "selfsubjectaccessreviews" => {
            self_subject_access_review(apis, caller(user)?, decode(def, body)?).await?
        }
        "selfsubjectrulesreviews" => {
            self_subject_rules_review(apis, caller(user)?, decode(def, body)?).await?
        }
        _ => return Err(Status::no_route()),
    };
    Ok(created(def, out))
}

/// The answer: the object, with its kind and apiVersion, as 201 Created.
fn created(def: &ResourceDef, mut v: Value) -> http::Response<Body> {
    if let Some(o) = v.as_object_mut() {
        o.insert("kind".into(), def.kind.into());
        o.insert("apiVersion".into(), def.api_version().into());
        o.entry("metadata").or_insert_with(|| json!({}));
    }
    json_response(StatusCode::CREATED, &v)
}

fn decode<T: DeserializeOwned>(def: &ResourceDef, body: Value) -> Result<T, Status> {
    serde_json::from_value(body).map_err(|e| {
        Status::bad_request(format!(
            "the body of the request could not be decoded as {}: {e}",
            def.kind
        ))
    })
}

fn caller(user: Option<&UserInfo>) -> Result<&UserInfo, Status> {
    user.ok_or_else(|| Status::bad_request("no user present on request"))
}

fn user_json(u: &UserInfo) -> Value {
    let mut v = json!({"username": u.name, "groups": u.groups});
    if !u.uid.is_empty() {
        v["uid"] = u.uid.clone().into();
    }
    if !u.extra.is_empty() {
        v["extra"] = json!(u.extra);
    }
    v
}

// === TokenReview ===

async fn token_review(apis: &AuthApis, mut review: authn::TokenReview) -> Result<Value, Status> {
    let token = std::mem::take(&mut review.spec.token);
    if token.is_empty() {
        return Err(Status::bad_request(
            "token is required for TokenReview in authentication",
        ));
    }
    let audiences = review.spec.audiences.clone().unwrap_or_default();
    let status = match apis.authn.authenticate_token(&token, &audiences).await {
        Ok(ok) => json!({
            "authenticated": true,
            "user": user_json(&ok.user),
            "audiences": ok.audiences,
        }),
        Err(error) => json!({"user": {}, "error": error}),
    };
    // The token is not echoed back: the caller has it, and responses get logged.
    let mut spec = serde_json::to_value(&review.spec).unwrap_or_else(|_| json!({}));
    if let Some(o) = spec.as_object_mut() {
        o.remove("token");
    }
    Ok(json!({"metadata": review.metadata, "spec": spec, "status": status}))
}

// === access reviews ===

/// Attributes from a review's resource or non-resource attributes.
fn review_attributes(
    user: UserInfo,
    resource: Option<&authz::ResourceAttributes>,
    non_resource: Option<&authz::NonResourceAttributes>,
) -> Attributes {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    match (resource, non_resource) {
        (Some(r), _) => Attributes {
            user,
            verb: s(&r.verb),
            is_resource_request: true,
            namespace: s(&r.namespace),
            api_group: s(&r.group),
            api_version: s(&r.version),
            resource: s(&r.resource),
            subresource: s(&r.subresource),
            name: s(&r.name),
            path: String::new(),
        },
        (None, Some(n)) => Attributes {
            user,
            verb: s(&n.verb),
            path: s(&n.path),
            ..Attributes::default()
        },
        (None, None) => Attributes {
            user,
            ..Attributes::default()
        },
    }
}

/// Exactly one of resourceAttributes and nonResourceAttributes.
fn one_kind_of_attributes(
    resource: Option<&authz::ResourceAttributes>,
    non_resource: Option<&authz::NonResourceAttributes>,
) -> Vec<FieldError> {
    match (resource, non_resource) {
        (Some(_), Some(n)) => vec![FieldError::invalid(
            "spec.nonResourceAttributes",
            &serde_json::to_string(n).unwrap_or_default(),
            "cannot be specified in combination with resourceAttributes",
        )],
        (None, None) => vec![FieldError::invalid(
            "spec.resourceAttributes",
            "\"null\"",
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )],
        _ => Vec::new(),
    }
}

async fn decide(apis: &AuthApis, attrs: &Attributes) -> Value {
    let d = apis.authz.authorize(attrs).await;
    let mut status = json!({"allowed": d.allowed});
    if d.denied {
        status["denied"] = true.into();
    }
    if !d.reason.is_empty() {
        status["reason"] = d.reason.into();
    }
    if !d.evaluation_error.is_empty() {
        status["evaluationError"] = d.evaluation_error.into();
    }
    status
}

fn spec_user(spec: &authz::SubjectAccessReviewSpec) -> UserInfo {
    UserInfo {
        name: spec.user.clone().unwrap_or_default(),
        uid: spec.uid.clone().unwrap_or_default(),
        groups: spec.groups.clone().unwrap_or_default(),
        extra: spec.extra.clone().unwrap_or_default().into_iter().collect(),
    }
}

async fn subject_access_review(
    apis: &AuthApis,
    review: authz::SubjectAccessReview,
) -> Result<Value, Status> {
    let spec = &review.spec;
    let mut causes = one_kind_of_attributes(
        spec.resource_attributes.as_ref(),
        spec.non_resource_attributes.as_ref(),
    );
    if spec.user.as_deref().unwrap_or("").is_empty()
        && spec.groups.as_ref().is_none_or(Vec::is_empty)
    {
        causes.push(FieldError::invalid(
            "spec.user",
            "\"\"",
            "at least one of user or group must be specified",
        ));
    }
    if !causes.is_empty() {
        return Err(Status::invalid(
            "SubjectAccessReview",
            AUTHZ_GROUP,
            "",
            causes,
        ));
    }
    let attrs = review_attributes(
        spec_user(spec),
        spec.resource_attributes.as_ref(),
        spec.non_resource_attributes.as_ref(),
    );
    let status = decide(apis, &attrs).await;
    Ok(json!({"metadata": review.metadata, "spec": review.spec, "status": status}))
}

async fn local_subject_access_review(
    apis: &AuthApis,
    namespace: &str,
    review: authz::LocalSubjectAccessReview,
) -> Result<Value, Status> {
    let spec = &review.spec;
    if let Some(ns) = review.metadata.namespace.as_deref()
        && ns != namespace
    {
        return Err(Status::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let mut causes = Vec::new();
    if let Some(n) = &spec.non_resource_attributes {
        causes.push(FieldError::invalid(
            "spec.nonResourceAttributes",
            &serde_json::to_string(n).unwrap_or_default(),
            "disallowed on this kind of request",
        ));
    }
    if spec.resource_attributes.is_none() {
        causes.push(FieldError::invalid(
            "spec.resourceAttributes",
            "\"null\"",
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        ));
    }
    if let Some(r) = &spec.resource_attributes
        && r.namespace.as_deref().unwrap_or("") != namespace
    {
        causes.push(FieldError::invalid(
            "spec.resourceAttributes.namespace",
            &format!("{:?}", r.namespace.as_deref().unwrap_or("")),
            "must match metadata.namespace",
        ));
    }
    if spec.user.as_deref().unwrap_or("").is_empty()
        && spec.groups.as_ref().is_none_or(Vec::is_empty)
    {
        causes.push(FieldError::invalid(
            "spec.user",
            "\"\"",
            "at least one of user or group must be specified",
        ));
    }
    if !causes.is_empty() {
        return Err(Status::invalid(
            "LocalSubjectAccessReview",
            AUTHZ_GROUP,
            "",
            causes,
        ));
    }
    let attrs = review_attributes(spec_user(spec), spec.resource_attributes.as_ref(), None);
    let status = decide(apis, &attrs).await;
    let mut metadata = serde_json::to_value(&review.metadata).unwrap_or_else(|_| json!({}));
    metadata["namespace"] = namespace.into();
    Ok(json!({"metadata": metadata, "spec": review.spec, "status": status}))
}

async fn self_subject_access_review(
    apis: &AuthApis,
    user: &UserInfo,
    review: authz::SelfSubjectAccessReview,
) -> Result<Value, Status> {
    let spec = &review.spec;
    let causes = one_kind_of_attributes(
        spec.resource_attributes.as_ref(),
        spec.non_resource_attributes.as_ref(),
    );
    if !causes.is_empty() {
        return Err(Status::invalid(
            "SelfSubjectAccessReview",
            AUTHZ_GROUP,
            "",
            causes,
        ));
    }
    let attrs = review_attributes(
        user.clone(),
        spec.resource_attributes.as_ref(),
        spec.non_resource_attributes.as_ref(),
    );
    let status = decide(apis, &attrs).await;
    Ok(json!({"metadata": review.metadata, "spec": review.spec, "status": status}))
}

async fn self_subject_rules_review(
    apis: &AuthApis,
    user: &UserInfo,
    review: authz::SelfSubjectRulesReview,
) -> Result<Value, Status> {
    let namespace = review.spec.namespace.clone().unwrap_or_default();
    let rules = apis.authz.rules_for(user, &namespace).await;
    let resource_rules: Vec<Value> = rules
        .resource_rules
        .iter()
        .map(|r| {
            let mut v = json!({
                "verbs": r.verbs,
                "apiGroups": r.api_groups.clone().unwrap_or_default(),
                "resources": r.resources.clone().unwrap_or_default(),
            });
            if let Some(names) = r.resource_names.as_ref().filter(|n| !n.is_empty()) {
                v["resourceNames"] = json!(names);
            }
            v
        })
        .collect();
    let non_resource_rules: Vec<Value> = rules
        .non_resource_rules
        .iter()
        .map(|r| {
            json!({
                "verbs": r.verbs,
                "nonResourceURLs": r.non_resource_urls.clone().unwrap_or_default(),
            })
        })
        .collect();
    let mut status = json!({
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": rules.incomplete,
    });
    if !rules.evaluation_error.is_empty() {
        status["evaluationError"] = rules.evaluation_error.into();
    }
    Ok(json!({"metadata": review.metadata, "spec": review.spec, "status": status}))
}

// === TokenRequest ===

/// `POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token`.
pub(super) async fn token_request(
    apis: &AuthApis,
    store: &Store,
    sa_def: &ResourceDef,
    r: &Request,
    body: Value,
) -> Result<http::Response<Body>, Status> {
    let name = r.name()?.to_string();
    let namespace = r.namespace().unwrap_or("").to_string();
    let mut req: authn::TokenRequest = serde_json::from_value(body).map_err(|e| {
        Status::bad_request(format!(
            "the body of the request could not be decoded as TokenRequest: {e}"
        ))
    })?;
    let mismatch = |field: &str, value: &str, what: &str| {
        Status::invalid(
            "TokenRequest",
            AUTHN_GROUP,
            &name,
            vec![FieldError::invalid(
                field,
                &format!("{value:?}"),
                &format!("must match the service account {what} if specified"),
            )],
        )
    };
    if let Some(n) = req.metadata.name.as_deref().filter(|n| !n.is_empty())
        && n != name
    {
        return Err(mismatch("metadata.name", n, "name"));
    }
    if let Some(n) = req.metadata.namespace.as_deref().filter(|n| !n.is_empty())
        && n != namespace
    {
        return Err(mismatch("metadata.namespace", n, "namespace"));
    }
    let sa = handlers::get(store, sa_def, r)?;
    let sa_uid = meta::meta_str(&sa, "uid").unwrap_or("").to_string();

    let mut spec_in = req.spec.take().unwrap_or_default();
    let audiences = match spec_in.audiences.take() {
        Some(a) if !a.is_empty() => a,
        _ => apis.issuer.api_audiences().to_vec(),
    };
    let expiration_seconds = spec_in
        .expiration_seconds
        .unwrap_or(DEFAULT_EXPIRATION_SECONDS);
    if expiration_seconds < MIN_EXPIRATION_SECONDS {
        return Err(invalid_expiration(FieldError::invalid(
            "spec.expirationSeconds",
            &expiration_seconds.to_string(),
            "may not specify a duration less than 10 minutes",
        )));
    }
    if expiration_seconds > MAX_EXPIRATION_SECONDS {
        return Err(invalid_expiration(FieldError {
            reason: "FieldValueTooLong",
            field: "spec.expirationSeconds".into(),
            message: "Too long: may not specify a duration larger than 2^32 seconds".into(),
        }));
    }

    let bound = match &spec_in.bound_object_ref {
        None => None,
        Some(b) => Some(bound_object(store, &namespace, &name, &sa, b)?),
    };
    let spec = TokenSpec {
        namespace: namespace.clone(),
        name: name.clone(),
        uid: sa_uid,
        audiences: audiences.clone(),
        expiration_seconds,
        bound,
    };
    let now = jiff::Timestamp::now();
    let (token, exp) = apis.issuer.issue(&spec, now.as_second());
    let expires = jiff::Timestamp::from_second(exp)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    let mut spec_json = json!({
        "audiences": audiences,
        "expirationSeconds": expiration_seconds,
        "boundObjectRef": spec_in.bound_object_ref,
    });
    if spec_in.bound_object_ref.is_none()
        && let Some(o) = spec_json.as_object_mut()
    {
        o.remove("boundObjectRef");
    }
    let out = json!({
        "kind": "TokenRequest",
        "apiVersion": format!("{AUTHN_GROUP}/v1"),
        "metadata": {
            "name": name,
            "namespace": namespace,
            "creationTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        },
        "spec": spec_json,
        "status": {"token": token, "expirationTimestamp": expires},
    });
    tracing::info!(serviceaccount = %name, %namespace, expiration_seconds, "issued a ServiceAccount token");
    Ok(json_response(StatusCode::CREATED, &out))
}

fn invalid_expiration(cause: FieldError) -> Status {
    Status::invalid("TokenRequest", AUTHN_GROUP, "", vec![cause])
}

/// Looks up the object a token is to be bound to, as TokenRequest does.
fn bound_object(
    store: &Store,
    namespace: &str,
    sa_name: &str,
    _sa: &Value,
    b: &authn::BoundObjectReference,
) -> Result<(BoundKind, ObjectClaim), Status> {
    let kind = b.kind.as_deref().unwrap_or("");
    let (bound, plural) = match kind {
        "Pod" => (BoundKind::Pod, "pods"),
        "Secret" => (BoundKind::Secret, "secrets"),
        other => {
            return Err(Status::bad_request(format!(
                "cannot bind token for serviceaccount {sa_name:?} to object of type {}, Kind={other}",
                b.api_version.as_deref().unwrap_or("")
            )));
        }
    };
    let def = registry::find("", "v1", plural).ok_or_else(Status::no_route)?;
    let obj_name = b.name.clone().unwrap_or_default();
    let lookup = Request {
        info: ResourceRequest {
            group: String::new(),
            version: "v1".into(),
            namespace: Some(namespace.to_string()),
            resource: plural.into(),
            name: Some(obj_name.clone()),
            subresource: None,
            verb: "get",
        },
        query: Query::default(),
    };
    let obj = handlers::get(store, def, &lookup)?;
    let uid = meta::meta_str(&obj, "uid").unwrap_or("").to_string();
    if let Some(want) = b.uid.as_deref().filter(|u| !u.is_empty())
        && want != uid
    {
        return Err(Status::conflict(
            kind,
            AUTHN_GROUP,
            &obj_name,
            &format!(
                "the UID in the bound object reference ({want}) does not match the UID in record. The object might have been deleted and then recreated"
            ),
        ));
    }
    if bound == BoundKind::Pod {
        let runs_as = obj
            .pointer("/spec/serviceAccountName")
            .and_then(Value::as_str)
            .unwrap_or("default");
        if runs_as != sa_name {
            return Err(Status::bad_request(format!(
                "cannot bind token for serviceaccount {sa_name:?} to pod running with different serviceaccount name."
            )));
        }
    }
    Ok((
        bound,
        ObjectClaim {
            name: obj_name,
            uid,
        },
    ))
}
