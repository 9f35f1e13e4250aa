//! PATCH bodies: JSON patch, JSON merge patch, strategic merge patch and (simplified)
//! server-side apply, chosen by the request's Content-Type.

pub mod strategic;

use serde_json::Value;

use crate::machinery::status::Status;

/// The patch formats Kubernetes accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/apply-patch+yaml` (server-side apply).
    Apply,
}

impl PatchType {
    /// The patch type for a Content-Type header value.
    pub fn from_content_type(ct: &str) -> Result<Self, Status> {
        let base = ct.split(';').next().unwrap_or("").trim();
        match base {
            "application/json-patch+json" => Ok(Self::Json),
            "application/merge-patch+json" => Ok(Self::Merge),
            "application/strategic-merge-patch+json" => Ok(Self::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Ok(Self::Apply),
            other => Err(Status::other(
                415,
                "UnsupportedMediaType",
                format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other:?})"
                ),
            )),
        }
    }
}

/// Parses the raw patch body for `kind`.
pub fn parse_body(patch_type: PatchType, body: &[u8]) -> Result<Value, Status> {
    let parsed: Result<Value, String> = match patch_type {
        PatchType::Apply => serde_yaml_ng::from_slice(body).map_err(|e| e.to_string()),
        _ => serde_json::from_slice(body).map_err(|e| e.to_string()),
    };
    parsed.map_err(|e| Status::bad_request(format!("error decoding patch: {e}")))
}

/// Applies a parsed patch to `current` (an object of `kind`).
pub fn apply(
    patch_type: PatchType,
    current: &Value,
    patch: &Value,
    kind: &str,
) -> Result<Value, Status> {
    match patch_type {
        PatchType::Json => {
            let ops: json_patch::Patch = serde_json::from_value(patch.clone()).map_err(|e| {
                Status::bad_request(format!(
                    "the server rejected our request due to an error in our request: {e}"
                ))
            })?;
            let mut doc = current.clone();
            json_patch::patch(&mut doc, &ops).map_err(|e| {
                Status::other(
                    422,
                    "Invalid",
                    format!("the server rejected our request due to an error in our request: {e}"),
                )
            })?;
            Ok(doc)
        }
        PatchType::Merge => {
            if !patch.is_object() {
                return Err(Status::bad_request(
                    "error decoding patch: not a JSON object",
                ));
            }
            let mut doc = current.clone();
            json_patch::merge(&mut doc, patch);
            Ok(doc)
        }
        PatchType::Strategic | PatchType::Apply => {
            strategic::strategic_merge_patch(current, patch, kind).map_err(|e| strategic_status(&e))
        }
    }
}

/// The `Status` kube-apiserver answers a failed strategic merge patch with
/// (`interpretStrategicMergePatchError`): 400 for a malformed patch, 422 for a list of lists, and
/// for anything else the error itself, which its handler turns into a 500 with no reason.
fn strategic_status(e: &strategic::StrategicPatchError) -> Status {
    let message = e.to_string();
    match e.status_code() {
        400 => Status::bad_request(message),
        422 => Status::other(
            422,
            "Invalid",
            format!("the server rejected our request due to an error in our request: {message}"),
        ),
        code => Status::other(code, "", message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strategic(patch: Value) -> Result<Value, Status> {
        let pod = json!({"spec": {"containers": [{"name": "app", "image": "a"}]}});
        apply(PatchType::Strategic, &pod, &patch, "Pod")
    }

    #[test]
    fn a_strategic_patch_answers_kube_apiservers_codes() {
        let ok = strategic(json!({"spec": {"containers": [{"name": "app", "image": "b"}]}}));
        assert_eq!(ok.unwrap()["spec"]["containers"][0]["image"], "b");

        let mixed = strategic(json!({"spec": {"containers": [[{"name": "app"}]]}})).unwrap_err();
        assert_eq!((mixed.code, mixed.reason), (500, ""), "{mixed:?}");

        let nested = json!({"spec": {"containers": [["a"]]}});
        let patch = json!({"spec": {"containers": [["b"]]}});
        let lists = apply(PatchType::Strategic, &nested, &patch, "Pod").unwrap_err();
        assert_eq!((lists.code, lists.reason), (422, "Invalid"), "{lists:?}");

        let directive =
            strategic(json!({"spec": {"containers": [{"$patch": "merge"}]}})).unwrap_err();
        assert_eq!(
            (directive.code, directive.reason),
            (500, ""),
            "{directive:?}"
        );
        assert!(directive.to_json().get("reason").is_none());

        let not_object = strategic(json!(["x"])).unwrap_err();
        assert_eq!((not_object.code, not_object.reason), (400, "BadRequest"));
    }
}
