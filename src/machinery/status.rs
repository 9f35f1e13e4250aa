//! Kubernetes `Status` objects: the one place where podgate builds synthetic error responses.
//!
//! Every error the API server or the gateway produces is a `meta/v1 Status` with the reason,
//! code and message texts Kubernetes uses, so `kubectl` and client libraries print the lines
//! their users already know.

use serde_json::{Value, json};

/// One cause of a validation failure: a field path, a reason and a message, as in
/// Kubernetes' `field.Error` (`details.causes[]` of a 422 `Status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The machine-readable reason, e.g. `FieldValueRequired`, `FieldValueInvalid`.
    pub reason: &'static str,
    /// The field path, e.g. `spec.selector` or `spec.template.spec.containers[0].name`.
    pub field: String,
    /// The human-readable detail, e.g. `Required value` or
    /// `Invalid value: 0: must be greater than or equal to 0`.
    pub message: String,
}

impl FieldError {
    /// `<field>: Required value`.
    pub fn required(field: impl Into<String>, detail: &str) -> Self {
        let message = if detail.is_empty() {
            "Required value".to_string()
        } else {
            format!("Required value: {detail}")
        };
        Self {
            reason: "FieldValueRequired",
            field: field.into(),
            message,
        }
    }

    /// `<field>: Invalid value: <value>: <detail>`; `value` is already rendered the way
    /// Kubernetes prints it (`"abc"`, `-1`, `map[string]string{"a":"b"}`).
    pub fn invalid(field: impl Into<String>, value: &str, detail: &str) -> Self {
        let message = if detail.is_empty() {
            format!("Invalid value: {value}")
        } else {
            format!("Invalid value: {value}: {detail}")
        };
        Self {
            reason: "FieldValueInvalid",
            field: field.into(),
            message,
        }
    }

    /// `<field>: Unsupported value: <value>: supported values: "a", "b"`.
    pub fn not_supported(field: impl Into<String>, value: &str, supported: &[&str]) -> Self {
        let list = supported
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ");
        Self {
            reason: "FieldValueNotSupported",
            field: field.into(),
            message: format!("Unsupported value: {value}: supported values: {list}"),
        }
    }

    /// `<field>: Forbidden: <detail>`.
    pub fn forbidden(field: impl Into<String>, detail: &str) -> Self {
        Self {
            reason: "FieldValueForbidden",
            field: field.into(),
            message: format!("Forbidden: {detail}"),
        }
    }

    /// `<field>: Duplicate value: <value>`.
    pub fn duplicate(field: impl Into<String>, value: &str) -> Self {
        Self {
            reason: "FieldValueDuplicate",
            field: field.into(),
            message: format!("Duplicate value: {value}"),
        }
    }

    /// `<field>: Too long: may not be more than <max> bytes` (and similar length messages).
    pub fn too_long(field: impl Into<String>, max: usize) -> Self {
        Self {
            reason: "FieldValueTooLong",
            field: field.into(),
            message: format!("Too long: may not be more than {max} bytes"),
        }
    }

    /// `field: message` as Kubernetes joins them in the aggregate message.
    pub fn line(&self) -> String {
        format!("{}: {}", self.field, self.message)
    }
}

/// A Kubernetes `Status` of kind Failure: the error type of the API server and the gateway.
///
/// Built only through the constructors below, so every reason, code and message matches the
/// texts Kubernetes uses (`k8s.io/apimachinery/pkg/api/errors`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// HTTP status code.
    pub code: u16,
    /// `StatusReason`, e.g. `NotFound`, `Conflict`, `Invalid`.
    pub reason: &'static str,
    /// Human-readable message.
    pub message: String,
    /// `details`: the object the error is about and validation causes.
    pub details: Option<Box<StatusDetails>>,
}

/// `Status.details`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusDetails {
    /// Name of the object.
    pub name: String,
    /// API group of the object (empty for the core group).
    pub group: String,
    /// Kind (or resource) of the object as Kubernetes reports it.
    pub kind: String,
    /// Validation causes.
    pub causes: Vec<FieldError>,
    /// Retry hint in seconds, when the server asks the client to retry.
    pub retry_after_seconds: Option<u32>,
}

/// A resource with its group, printed as Kubernetes' `GroupResource` (`pods`, `statefulsets.apps`).
pub fn qualified(resource: &str, group: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

impl Status {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn with_object(mut self, name: &str, group: &str, kind: &str) -> Self {
        self.details = Some(Box::new(StatusDetails {
            name: name.to_string(),
            group: group.to_string(),
            kind: kind.to_string(),
            ..StatusDetails::default()
        }));
        self
    }

    /// 404 `<resource> "<name>" not found`.
    pub fn not_found(resource: &str, group: &str, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(resource, group)),
        )
        .with_object(name, group, resource)
    }

    /// 404 for a path no route serves.
    pub fn no_route() -> Self {
        let mut s = Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
        s.details = Some(Box::default());
        s
    }

    /// 409 `<resource> "<name>" already exists`.
    pub fn already_exists(resource: &str, group: &str, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(resource, group)),
        )
        .with_object(name, group, resource)
    }

    /// 409 on a stale resourceVersion or a failed precondition.
    pub fn conflict(resource: &str, group: &str, name: &str, detail: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {detail}",
                qualified(resource, group)
            ),
        )
        .with_object(name, group, resource)
    }

    /// The detail Kubernetes gives for an update with a stale resourceVersion.
    pub const MODIFIED: &'static str = "the object has been modified; please apply your changes to the latest version and try again";

    /// 422 `<Kind>.<group> "<name>" is invalid: <causes>` with `details.causes`.
    pub fn invalid(kind: &str, group: &str, name: &str, causes: Vec<FieldError>) -> Self {
        let lines: Vec<String> = causes.iter().map(FieldError::line).collect();
        let aggregate = match lines.len() {
            1 => lines[0].clone(),
            _ => format!("[{}]", lines.join(", ")),
        };
        let mut s = Self::new(
            422,
            "Invalid",
            format!(
                "{} \"{name}\" is invalid: {aggregate}",
                qualified(kind, group)
            ),
        )
        .with_object(name, group, kind);
        if let Some(d) = s.details.as_mut() {
            d.causes = causes;
        }
        s
    }

    /// 400 BadRequest with a message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 401 Unauthorized, the same for a missing and a wrong credential.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    /// 403 Forbidden with Kubernetes' message.
    pub fn forbidden(resource: &str, group: &str, name: &str, message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message).with_object(name, group, resource)
    }

    /// 405 for a verb the resource does not support.
    pub fn method_not_supported() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    /// 410 Expired: a watch or list from a resourceVersion older than the history window.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 413 for a request body larger than the server accepts.
    pub fn too_large(limit: usize) -> Self {
        Self::new(413, "RequestEntityTooLarge", format!("limit is {limit}"))
    }

    /// 415 for a body in a format the server cannot decode.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {content_type:?}; kubectl's `create <generator>` commands send protobuf: use `kubectl apply -f`, e.g. `kubectl create ... --dry-run=client -o yaml | kubectl apply -f -`)"
            ),
        )
    }

    /// 500 InternalError.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {}", message.into()),
        )
    }

    /// 503 ServiceUnavailable with a message.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "ServiceUnavailable", message)
    }

    /// 504 Timeout with a message.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(504, "Timeout", message)
    }

    /// Any other code/reason pair Kubernetes uses (e.g. 400 with reason `Invalid`).
    pub fn other(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(code, reason, message)
    }

    /// The `meta/v1 Status` JSON object.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "code": self.code,
        });
        // `reason` is omitted when empty (`StatusReasonUnknown`), as Go's `omitempty` does.
        if !self.reason.is_empty() {
            v["reason"] = self.reason.into();
        }
        if let Some(d) = &self.details {
            let mut details = serde_json::Map::new();
            if !d.name.is_empty() {
                details.insert("name".into(), d.name.clone().into());
            }
            if !d.group.is_empty() {
                details.insert("group".into(), d.group.clone().into());
            }
            if !d.kind.is_empty() {
                details.insert("kind".into(), d.kind.clone().into());
            }
            if !d.causes.is_empty() {
                let causes = d
                    .causes
                    .iter()
                    .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                    .collect::<Vec<_>>();
                details.insert("causes".into(), causes.into());
            }
            if let Some(r) = d.retry_after_seconds {
                details.insert("retryAfterSeconds".into(), r.into());
            }
            v["details"] = Value::Object(details);
        }
        v
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Status {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_joins_causes_like_kubernetes() {
        let one = Status::invalid(
            "StatefulSet",
            "apps",
            "web",
            vec![FieldError::required("spec.selector", "")],
        );
        assert_eq!(
            one.message,
            "StatefulSet.apps \"web\" is invalid: spec.selector: Required value"
        );
        let two = Status::invalid(
            "StatefulSet",
            "apps",
            "web",
            vec![
                FieldError::required("spec.selector", ""),
                FieldError::forbidden("spec", "x"),
            ],
        );
        assert_eq!(
            two.message,
            "StatefulSet.apps \"web\" is invalid: [spec.selector: Required value, spec: Forbidden: x]"
        );
        let j = two.to_json();
        assert_eq!(j["code"], 422);
        assert_eq!(j["details"]["causes"][0]["field"], "spec.selector");
        assert_eq!(j["details"]["kind"], "StatefulSet");
    }

    #[test]
    fn not_found_and_conflict_texts() {
        assert_eq!(
            Status::not_found("pods", "", "web-0").message,
            "pods \"web-0\" not found"
        );
        assert_eq!(
            Status::not_found("statefulsets", "apps", "web").message,
            "statefulsets.apps \"web\" not found"
        );
        assert_eq!(
            Status::conflict("pods", "", "p", Status::MODIFIED).message,
            "Operation cannot be fulfilled on pods \"p\": the object has been modified; please apply your changes to the latest version and try again"
        );
    }
}
