//! Kubernetes protobuf request bodies.

mod convert;
mod container;
mod meta;
mod pod;
mod pod_status;
mod volume;

/// The media type of Kubernetes' protobuf encoding.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";
