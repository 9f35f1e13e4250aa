//! HTTP plumbing every serving room shares: the body type, JSON and text responses, `Status`
//! objects as responses, and the marker that tells podgate's own errors from a pod's.
//!
//! It knows HTTP but no room of podgate above [`crate::machinery`].

pub mod body;

use http::{HeaderValue, Response};
use percent_encoding::percent_decode_str;

use crate::machinery::status::Status;
use body::Body;

/// The header that marks an error podgate made itself, so a client can tell it from one a pod
/// returned.
pub const GATEWAY_ERROR_HEADER: &str = "x-podgate-error";

// === impl Status ===

impl Status {
    /// The HTTP response carrying this Status as JSON.
    pub fn to_response(&self) -> http::Response<body::Body> {
        let code = http::StatusCode::from_u16(self.code)
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        body::json_response(code, &self.to_json())
    }
}

/// A synthetic gateway error: a `Status` marked with [`GATEWAY_ERROR_HEADER`] so it can be told
/// apart from an error a pod returned.
pub fn synthetic(status: Status) -> Response<Body> {
    let mut resp = status.to_response();
    resp.headers_mut()
        .insert(GATEWAY_ERROR_HEADER, HeaderValue::from_static("true"));
    resp
}

/// The percent-decoded path (invalid UTF-8 replaced), as Go's `URL.Path`.
pub fn decoded_path(raw: &str) -> String {
    percent_decode_str(raw).decode_utf8_lossy().into_owned()
}
