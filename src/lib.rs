//! podgate: a Kubernetes API-server proxy and pod access gateway for stateful applications,
//! with an embedded Kubernetes-compatible control plane (`podgate up`).

pub mod apiserver;
pub mod body;
pub mod cli;
pub mod cluster;
pub mod controller;
pub mod dns;
pub mod gateway;
pub mod node;
pub mod pet;
pub mod proxycmd;
pub mod secrets;
pub mod status;
pub mod store;
pub mod up;
