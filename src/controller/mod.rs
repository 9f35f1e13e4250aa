//! The bundled controllers of `podgate up`: StatefulSet, endpoints (Endpoints and
//! EndpointSlices), volumes (claims, the default `local` StorageClass, hostPath volumes), the
//! ownerReference garbage collector and namespace deletion.
//!
//! Every controller talks to the API only through a `kube::Client`: it reads from shared
//! reflector caches ([`crate::cluster::informer`]) and writes to the API, so the same controllers run against
//! the embedded API server and against a real cluster.

pub mod endpoints;
pub mod events;
pub mod gc;
pub mod kinds;
pub mod namespace;
pub mod statefulset;
pub mod volumes;
pub mod work;

use std::path::PathBuf;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{
    Endpoints, Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, Service,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::Api;
use tokio::task::JoinSet;

use crate::cluster::informer::Informer;

/// An error of a reconcile: the API's, or the controller's own.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API refused or failed a request.
    #[error("{}", api_text(.0))]
    Api(#[from] kube::Error),
    /// Something the controller itself found wrong.
    #[error("{0}")]
    Other(String),
    /// Several errors of one step.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    Many(Vec<Error>),
}

/// The text of an API error as Kubernetes prints it (the Status message).
fn api_text(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if !s.message.is_empty() => s.message.clone(),
        other => other.to_string(),
    }
}

impl Error {
    /// An error with a message.
    pub fn other(msg: impl Into<String>) -> Self {
        Error::Other(msg.into())
    }

    fn status(&self) -> Option<&kube::core::Status> {
        match self {
            Error::Api(kube::Error::Api(s)) => Some(s),
            _ => None,
        }
    }

    /// Whether the API answered 404.
    pub fn is_not_found(&self) -> bool {
        self.status().is_some_and(|s| s.code == 404)
    }

    /// Whether the API answered 409 (a conflict or an object that already exists).
    pub fn is_conflict(&self) -> bool {
        self.status().is_some_and(|s| s.code == 409)
    }

    /// Whether a retry is the expected cure (stale caches, races): logged quietly.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Many(v) => v.iter().all(Error::is_transient),
            Error::Other(_) => true,
            _ => self.is_conflict() || self.is_not_found(),
        }
    }

    /// One error from several (none: `Ok`).
    pub fn collect(mut errors: Vec<Error>) -> Result<(), Error> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(Error::Many(errors)),
        }
    }
}

/// What the controllers need to know about the installation.
#[derive(Debug, Clone)]
pub struct Options {
    /// The state directory: hostPath volumes are provisioned under `<state_dir>/volumes`.
    pub state_dir: PathBuf,
}

/// The shared caches the controllers read.
#[derive(Clone)]
pub struct Caches {
    /// Pods.
    pub pods: Informer<Pod>,
    /// StatefulSets.
    pub statefulsets: Informer<StatefulSet>,
    /// ControllerRevisions.
    pub revisions: Informer<ControllerRevision>,
    /// PersistentVolumeClaims.
    pub claims: Informer<PersistentVolumeClaim>,
    /// PersistentVolumes.
    pub volumes: Informer<PersistentVolume>,
    /// StorageClasses.
    pub classes: Informer<StorageClass>,
    /// Services.
    pub services: Informer<Service>,
    /// Endpoints.
    pub endpoints: Informer<Endpoints>,
    /// EndpointSlices.
    pub slices: Informer<EndpointSlice>,
    /// Nodes.
    pub nodes: Informer<Node>,
    /// Namespaces.
    pub namespaces: Informer<Namespace>,
}

impl Caches {
    /// Starts one watch per type on `tasks`.
    pub fn spawn(client: &kube::Client, tasks: &mut JoinSet<()>) -> Self {
        Self {
            pods: Informer::spawn(Api::all(client.clone()), tasks),
            statefulsets: Informer::spawn(Api::all(client.clone()), tasks),
            revisions: Informer::spawn(Api::all(client.clone()), tasks),
            claims: Informer::spawn(Api::all(client.clone()), tasks),
            volumes: Informer::spawn(Api::all(client.clone()), tasks),
            classes: Informer::spawn(Api::all(client.clone()), tasks),
            services: Informer::spawn(Api::all(client.clone()), tasks),
            endpoints: Informer::spawn(Api::all(client.clone()), tasks),
            slices: Informer::spawn(Api::all(client.clone()), tasks),
            nodes: Informer::spawn(Api::all(client.clone()), tasks),
            namespaces: Informer::spawn(Api::all(client.clone()), tasks),
        }
    }
}

/// The running controllers; dropping this stops them.
pub struct Controllers {
    tasks: JoinSet<()>,
}

impl Controllers {
    /// Stops every controller.
    pub async fn shutdown(mut self) {
        self.tasks.shutdown().await;
    }
}

/// Starts every bundled controller on the current runtime.
pub fn start(client: kube::Client, opts: Options) -> Controllers {
    let mut tasks = JoinSet::new();
    let caches = Caches::spawn(&client, &mut tasks);
    tasks.spawn(statefulset::run(client.clone(), caches.clone()));
    tasks.spawn(endpoints::run(client.clone(), caches.clone()));
    tasks.spawn(volumes::run(
        client.clone(),
        caches.clone(),
        opts.state_dir.join("volumes"),
    ));
    tasks.spawn(gc::run(client.clone()));
    tasks.spawn(namespace::run(client, caches));
    Controllers { tasks }
}
