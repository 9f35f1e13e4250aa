//! Pure Kubernetes logic: the `Status` catalogue, quantities, selectors, defaulting, validation,
//! strategic merge patch, server-side table printing and protobuf conversion.
//!
//! No I/O lives here — no tokio, no hyper, no sockets or files — and nothing here imports another
//! room of podgate. The API server, the gateway, the controllers and the node agent all build on it,
//! so the same rules hold wherever an object is read or written (kube-rs keeps its core apart from
//! its client the same way).

pub(crate) mod applied;
pub mod defaults;
pub mod patch;
pub mod protobuf;
pub mod quantity;
pub mod query;
pub mod selectors;
pub mod status;
pub mod table;
pub mod validation;
