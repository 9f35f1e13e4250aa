//! podgate: a Kubernetes API-server proxy and pod access gateway for stateful applications,
//! with an embedded Kubernetes-compatible control plane (`podgate up`).

pub mod apiserver;
pub mod auth;
pub mod cli;
pub mod cluster;
pub mod controller;
pub mod dns;
pub mod gateway;
pub mod machinery;
pub mod node;
pub mod pet;
pub mod proxycmd;
pub mod remotecommand;
pub mod secrets;
pub mod store;
pub mod tls;
pub mod up;
pub mod wire;
