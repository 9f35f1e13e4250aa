//! podgate: a Kubernetes API-server proxy and pod access gateway for stateful applications,
//! with an embedded Kubernetes-compatible control plane (`podgate up`).

pub mod body;
pub mod status;
pub mod store;
