//! The volumes controller: the default `local` StorageClass, whose provisioner makes a
//! hostPath PersistentVolume per claim under `<state_dir>/volumes/<pv-name>`; binding claims
//! to volumes (provisioned or created by hand, by class, capacity and access modes); the
//! reclaim policies when a claim goes (Retain, Delete, Recycle); and, for pods not yet on a
//! node, the scheduler's verdict on their claims.
//!
//! [`binder`] syncs claims, [`reclaim`] syncs volumes, [`scheduling`] syncs pods; the choice of
//! a volume for a claim is the pure [`matching`].

pub mod binder;
pub mod matching;
pub mod reclaim;
pub mod scheduling;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use kube::runtime::reflector::Store;

use super::Caches;
use super::events::Recorder;
use super::work;

/// The default StorageClass created at start.
pub const DEFAULT_CLASS: &str = "local";
/// The provisioner of [`DEFAULT_CLASS`].
pub const PROVISIONER: &str = "podgate.io/local";
/// The annotation marking the default StorageClass.
pub const DEFAULT_CLASS_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";
/// Its pre-GA spelling, still honoured.
pub const BETA_DEFAULT_CLASS_ANNOTATION: &str = "storageclass.beta.kubernetes.io/is-default-class";
/// The `source.component` of claim and volume events.
pub const COMPONENT: &str = "persistentvolume-controller";
/// The `source.component` of scheduling events.
pub const SCHEDULER: &str = "default-scheduler";

/// What the three syncs read and write through.
pub struct Context {
    /// The API.
    pub client: kube::Client,
    /// Claims.
    pub claims: Store<PersistentVolumeClaim>,
    /// Volumes.
    pub volumes: Store<PersistentVolume>,
    /// StorageClasses.
    pub classes: Store<StorageClass>,
    /// Pods.
    pub pods: Store<Pod>,
    /// Nodes.
    pub nodes: Store<Node>,
    /// Events as `persistentvolume-controller`.
    pub recorder: Recorder,
    /// Events as `default-scheduler`.
    pub scheduler: Recorder,
    /// Where provisioned volumes live.
    pub dir: PathBuf,
}

impl Context {
    /// The default StorageClass: annotated default, the newest if several are.
    pub fn default_class(&self) -> Option<Arc<StorageClass>> {
        let is_default = |sc: &StorageClass| {
            [DEFAULT_CLASS_ANNOTATION, BETA_DEFAULT_CLASS_ANNOTATION]
                .iter()
                .any(|a| sc.annotations().get(*a).map(String::as_str) == Some("true"))
        };
        self.classes
            .state()
            .into_iter()
            .filter(|sc| is_default(sc))
            .max_by_key(|sc| {
                (
                    sc.metadata.creation_timestamp.as_ref().map(|t| t.0),
                    sc.name_any(),
                )
            })
    }

    /// A StorageClass by name.
    pub fn class(&self, name: &str) -> Option<Arc<StorageClass>> {
        self.classes
            .get(&kube::runtime::reflector::ObjectRef::new(name))
    }
}

/// Creates the default `local` StorageClass unless it exists (a user's edits are kept).
pub async fn ensure_default_class(client: &kube::Client) -> Result<(), kube::Error> {
    let api: Api<StorageClass> = Api::all(client.clone());
    let class = StorageClass {
        metadata: ObjectMeta {
            name: Some(DEFAULT_CLASS.into()),
            annotations: Some(BTreeMap::from([(
                DEFAULT_CLASS_ANNOTATION.to_string(),
                "true".to_string(),
            )])),
            ..Default::default()
        },
        provisioner: PROVISIONER.into(),
        reclaim_policy: Some("Delete".into()),
        volume_binding_mode: Some("Immediate".into()),
        ..Default::default()
    };
    match api.create(&PostParams::default(), &class).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

/// Runs the volumes controller until its caches close.
pub async fn run(client: kube::Client, caches: Caches, dir: PathBuf) {
    let mut delay = Duration::from_millis(50);
    while let Err(e) = ensure_default_class(&client).await {
        tracing::warn!(error = %e, "creating the default StorageClass");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
    let ctx = Arc::new(Context {
        client: client.clone(),
        claims: caches.claims.store().clone(),
        volumes: caches.volumes.store().clone(),
        classes: caches.classes.store().clone(),
        pods: caches.pods.store().clone(),
        nodes: caches.nodes.store().clone(),
        recorder: Recorder::new(client.clone(), COMPONENT),
        scheduler: Recorder::new(client, SCHEDULER),
        dir,
    });
    caches.claims.ready().await;
    caches.volumes.ready().await;
    caches.classes.ready().await;
    caches.pods.ready().await;
    caches.nodes.ready().await;
    let claims = work::run(
        "volume-binder",
        caches.claims.store().clone(),
        binder::triggers(&caches),
        ctx.clone(),
        binder::reconcile,
    );
    let volumes = work::run(
        "volume-reclaim",
        caches.volumes.store().clone(),
        reclaim::triggers(&caches),
        ctx.clone(),
        reclaim::reconcile,
    );
    let pods = work::run(
        "volume-scheduling",
        caches.pods.store().clone(),
        scheduling::triggers(&caches),
        ctx,
        scheduling::reconcile,
    );
    tokio::join!(claims, volumes, pods);
}
