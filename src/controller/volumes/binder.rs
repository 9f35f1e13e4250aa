//! Claims (upstream `syncClaim`): give class-less claims the default class, bind each claim to
//! a matching volume or provision one, keep bound claims' status, and say with an event why a
//! claim stays Pending.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    HostPathVolumeSource, ObjectReference, PersistentVolume, PersistentVolumeClaim,
    PersistentVolumeClaimStatus, PersistentVolumeSpec, PersistentVolumeStatus, Pod,
};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use super::matching::{best_match, bound_to, claim_class};
use super::{Context, PROVISIONER};
use crate::cluster::informer::Change;
use crate::controller::events::EventType;
use crate::controller::work::{Requests, requests};
use crate::controller::{Caches, Error};

/// Set on a volume or claim whose binding this controller made.
pub const BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
/// Set on a claim once its binding is complete.
pub const BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
/// Names the provisioner that made a volume.
pub const PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
/// Names the provisioner a claim waits for.
pub const STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
/// Its beta spelling, still written.
pub const BETA_STORAGE_PROVISIONER: &str = "volume.beta.kubernetes.io/storage-provisioner";

/// What makes a claim look again: itself, any volume or class change (for pending claims),
/// and pods that use it.
pub fn triggers(caches: &Caches) -> Vec<Requests<PersistentVolumeClaim>> {
    let claims = caches.claims.store().clone();
    let pending = move || -> Vec<ObjectRef<PersistentVolumeClaim>> {
        claims
            .state()
            .iter()
            .filter(|c| c.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Bound"))
            .map(|c| ObjectRef::from_obj(c.as_ref()))
            .collect()
    };
    let all = {
        let claims = caches.claims.store().clone();
        move || -> Vec<ObjectRef<PersistentVolumeClaim>> {
            claims
                .state()
                .iter()
                .map(|c| ObjectRef::from_obj(c.as_ref()))
                .collect()
        }
    };
    let on_volume = {
        let pending = pending.clone();
        let all = all.clone();
        move |c: &Change<PersistentVolume>| {
            let Some(pv) = c.object() else { return all() };
            let mut out = pending();
            if let Some(r) = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref())
                && let (Some(name), Some(ns)) = (&r.name, &r.namespace)
            {
                out.push(ObjectRef::new(name).within(ns));
            }
            out
        }
    };
    vec![
        requests(caches.claims.subscribe(), {
            let all = all.clone();
            move |c: &Change<PersistentVolumeClaim>| match c.object() {
                Some(claim) => vec![ObjectRef::from_obj(claim.as_ref())],
                None => all(),
            }
        }),
        requests(caches.volumes.subscribe(), on_volume),
        requests(
            caches.classes.subscribe(),
            move |_: &Change<StorageClass>| pending(),
        ),
        requests(caches.pods.subscribe(), move |c: &Change<Pod>| {
            match c.object() {
                Some(pod) => claims_of(pod)
                    .into_iter()
                    .map(|n| ObjectRef::new(&n).within(&pod.namespace().unwrap_or_default()))
                    .collect(),
                None => Vec::new(),
            }
        }),
    ]
}

/// The claim names a pod's volumes use.
pub fn claims_of(pod: &Pod) -> Vec<String> {
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| {
            v.persistent_volume_claim
                .as_ref()
                .map(|c| c.claim_name.clone())
        })
        .collect()
}

fn phase(claim: &PersistentVolumeClaim) -> &str {
    claim
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// Syncs one claim.
pub async fn reconcile(
    claim: Arc<PersistentVolumeClaim>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    if claim.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let api: Api<PersistentVolumeClaim> =
        Api::namespaced(ctx.client.clone(), &claim.namespace().unwrap_or_default());
    let spec = claim.spec.clone().unwrap_or_default();
    if spec.storage_class_name.is_none()
        && let Some(default) = ctx.default_class()
    {
        // Retroactive default class assignment.
        let mut next = claim.as_ref().clone();
        next.spec
            .get_or_insert_with(Default::default)
            .storage_class_name = Some(default.name_any());
        api.replace(&claim.name_any(), &PostParams::default(), &next)
            .await?;
        return Ok(Action::await_change());
    }
    if let Some(volume_name) = spec.volume_name.clone().filter(|n| !n.is_empty()) {
        return sync_bound(&ctx, &claim, &volume_name).await;
    }
    let volumes: Vec<Arc<PersistentVolume>> = ctx.volumes.state();
    if let Some(pv) = best_match(&claim, volumes.iter().map(AsRef::as_ref)) {
        bind(&ctx, &claim, pv).await?;
        return Ok(Action::await_change());
    }
    let class_name = claim_class(&claim).to_string();
    if class_name.is_empty() {
        ctx.recorder
            .record(
                claim.as_ref(),
                EventType::Normal,
                "FailedBinding",
                "no persistent volumes available for this claim and no storage class is set",
            )
            .await;
        return Ok(Action::await_change());
    }
    let Some(class) = ctx.class(&class_name) else {
        ctx.recorder
            .record(
                claim.as_ref(),
                EventType::Warning,
                "ProvisioningFailed",
                format!("storageclass.storage.k8s.io \"{class_name}\" not found"),
            )
            .await;
        return Ok(Action::await_change());
    };
    let wait_for_consumer = class.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer");
    if wait_for_consumer && !has_consumer(&ctx, &claim) {
        ctx.recorder
            .record(
                claim.as_ref(),
                EventType::Normal,
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding",
            )
            .await;
        return Ok(Action::await_change());
    }
    if class.provisioner != PROVISIONER {
        ctx.recorder
            .record(
                claim.as_ref(),
                EventType::Normal,
                "ExternalProvisioning",
                format!(
                    "Waiting for a volume to be created either by the external provisioner '{}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.",
                    class.provisioner
                ),
            )
            .await;
        return Ok(Action::await_change());
    }
    provision(&ctx, &claim, &class).await?;
    Ok(Action::await_change())
}

/// Whether a live pod uses the claim.
fn has_consumer(ctx: &Context, claim: &PersistentVolumeClaim) -> bool {
    let name = claim.name_any();
    ctx.pods.state().iter().any(|p| {
        p.namespace() == claim.namespace()
            && p.metadata.deletion_timestamp.is_none()
            && claims_of(p).contains(&name)
    })
}

/// A claim that names its volume: finish the binding, or mark it Lost when the volume is gone.
async fn sync_bound(
    ctx: &Context,
    claim: &PersistentVolumeClaim,
    volume_name: &str,
) -> Result<Action, Error> {
    let Some(pv) = ctx.volumes.get(&ObjectRef::new(volume_name)) else {
        if phase(claim) == "Bound" {
            let live: Api<PersistentVolume> = Api::all(ctx.client.clone());
            if live.get_opt(volume_name).await?.is_some() {
                return Ok(Action::await_change());
            }
            set_claim_status(ctx, claim, "Lost", None).await?;
            ctx.recorder
                .record(
                    claim,
                    EventType::Warning,
                    "ClaimLost",
                    "Bound claim has lost its PersistentVolume. Data on the volume is lost!",
                )
                .await;
        }
        return Ok(Action::await_change());
    };
    let claimed_elsewhere = pv
        .spec
        .as_ref()
        .and_then(|s| s.claim_ref.as_ref())
        .is_some_and(|_| !bound_to(&pv, claim));
    if claimed_elsewhere {
        if phase(claim) == "Bound" {
            set_claim_status(ctx, claim, "Lost", None).await?;
        } else {
            ctx.recorder
                .record(
                    claim,
                    EventType::Warning,
                    "FailedBinding",
                    format!("volume \"{volume_name}\" already bound to a different claim."),
                )
                .await;
        }
        return Ok(Action::await_change());
    }
    bind(ctx, claim, &pv).await?;
    Ok(Action::await_change())
}

/// Upstream `bind`: the volume's claimRef, the volume's phase, the claim's volumeName, the
/// claim's status — each written only when it differs.
async fn bind(
    ctx: &Context,
    claim: &PersistentVolumeClaim,
    pv: &PersistentVolume,
) -> Result<(), Error> {
    let pvs: Api<PersistentVolume> = Api::all(ctx.client.clone());
    let claims: Api<PersistentVolumeClaim> =
        Api::namespaced(ctx.client.clone(), &claim.namespace().unwrap_or_default());
    let mut pv = pv.clone();
    let claim_ref = pv.spec.as_ref().and_then(|s| s.claim_ref.clone());
    let has_uid = claim_ref
        .as_ref()
        .and_then(|r| r.uid.as_deref())
        .is_some_and(|u| !u.is_empty());
    if !has_uid {
        if claim_ref.is_none() {
            pv.annotations_mut()
                .insert(BOUND_BY_CONTROLLER.into(), "yes".into());
        }
        pv.spec.get_or_insert_with(Default::default).claim_ref = Some(reference(claim));
        pv = pvs
            .replace(&pv.name_any(), &PostParams::default(), &pv)
            .await?;
    }
    if pv.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Bound") {
        pv.status = Some(PersistentVolumeStatus {
            phase: Some("Bound".into()),
            ..Default::default()
        });
        pv = pvs
            .replace_status(&pv.name_any(), &PostParams::default(), &pv)
            .await?;
    }
    let mut claim = claim.clone();
    let named =
        claim.spec.as_ref().and_then(|s| s.volume_name.as_deref()) == Some(pv.name_any().as_str());
    if !named || !claim.annotations().contains_key(BIND_COMPLETED) {
        if !named {
            claim
                .annotations_mut()
                .insert(BOUND_BY_CONTROLLER.into(), "yes".into());
        }
        claim
            .annotations_mut()
            .insert(BIND_COMPLETED.into(), "yes".into());
        claim.spec.get_or_insert_with(Default::default).volume_name = Some(pv.name_any());
        claim = claims
            .replace(&claim.name_any(), &PostParams::default(), &claim)
            .await?;
    }
    set_claim_status(ctx, &claim, "Bound", Some(&pv)).await
}

fn reference(claim: &PersistentVolumeClaim) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("PersistentVolumeClaim".into()),
        namespace: claim.namespace(),
        name: Some(claim.name_any()),
        uid: claim.uid(),
        resource_version: claim.resource_version(),
        ..Default::default()
    }
}

/// Writes the claim's phase (and, when bound, the volume's capacity and access modes).
async fn set_claim_status(
    ctx: &Context,
    claim: &PersistentVolumeClaim,
    phase: &str,
    pv: Option<&PersistentVolume>,
) -> Result<(), Error> {
    let spec = pv.and_then(|p| p.spec.as_ref());
    let status = PersistentVolumeClaimStatus {
        phase: Some(phase.into()),
        access_modes: spec.and_then(|s| s.access_modes.clone()),
        capacity: spec.and_then(|s| s.capacity.clone()),
        ..claim.status.clone().unwrap_or_default()
    };
    let current = claim.status.clone().unwrap_or_default();
    if current.phase == status.phase
        && current.capacity == status.capacity
        && current.access_modes == status.access_modes
    {
        return Ok(());
    }
    let api: Api<PersistentVolumeClaim> =
        Api::namespaced(ctx.client.clone(), &claim.namespace().unwrap_or_default());
    let mut next = claim.clone();
    next.status = Some(status);
    api.replace_status(&claim.name_any(), &PostParams::default(), &next)
        .await?;
    Ok(())
}

/// Makes a hostPath volume for the claim under the volumes dir, pre-bound to the claim.
async fn provision(
    ctx: &Context,
    claim: &PersistentVolumeClaim,
    class: &StorageClass,
) -> Result<(), Error> {
    let Some(uid) = claim.uid() else {
        return Ok(());
    };
    let name = format!("pvc-{uid}");
    if !claim.annotations().contains_key(STORAGE_PROVISIONER) {
        let mut next = claim.clone();
        let a = next.annotations_mut();
        a.insert(STORAGE_PROVISIONER.into(), class.provisioner.clone());
        a.insert(BETA_STORAGE_PROVISIONER.into(), class.provisioner.clone());
        let api: Api<PersistentVolumeClaim> =
            Api::namespaced(ctx.client.clone(), &claim.namespace().unwrap_or_default());
        api.replace(&claim.name_any(), &PostParams::default(), &next)
            .await?;
        return Ok(());
    }
    if ctx.volumes.get(&ObjectRef::new(&name)).is_some() {
        return Ok(());
    }
    let path = ctx.dir.join(&name);
    let dir = path.clone();
    tokio::task::spawn_blocking(move || std::fs::create_dir_all(&dir))
        .await
        .map_err(|e| Error::other(e.to_string()))?
        .map_err(|e| Error::other(format!("creating {}: {e}", path.display())))?;
    let spec = claim.spec.clone().unwrap_or_default();
    let request = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage").cloned());
    let pv = PersistentVolume {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            annotations: Some(BTreeMap::from([
                (PROVISIONED_BY.to_string(), class.provisioner.clone()),
                (BOUND_BY_CONTROLLER.to_string(), "yes".to_string()),
            ])),
            ..Default::default()
        },
        spec: Some(PersistentVolumeSpec {
            access_modes: spec.access_modes.clone(),
            capacity: request.map(|q| BTreeMap::from([("storage".to_string(), q)])),
            claim_ref: Some(reference(claim)),
            host_path: Some(HostPathVolumeSource {
                path: path.to_string_lossy().into_owned(),
                type_: Some("DirectoryOrCreate".into()),
            }),
            mount_options: class.mount_options.clone(),
            persistent_volume_reclaim_policy: Some(
                class
                    .reclaim_policy
                    .clone()
                    .unwrap_or_else(|| "Delete".into()),
            ),
            storage_class_name: Some(class.name_any()),
            volume_mode: spec.volume_mode.clone(),
            ..Default::default()
        }),
        status: None,
    };
    let api: Api<PersistentVolume> = Api::all(ctx.client.clone());
    match api.create(&PostParams::default(), &pv).await {
        Ok(_) => {
            ctx.recorder
                .record(
                    claim,
                    EventType::Normal,
                    "ProvisioningSucceeded",
                    format!(
                        "Successfully provisioned volume {name} using {}",
                        class.provisioner
                    ),
                )
                .await;
            Ok(())
        }
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => {
            let e = Error::from(e);
            ctx.recorder
                .record(
                    claim,
                    EventType::Warning,
                    "ProvisioningFailed",
                    format!(
                        "Failed to provision volume with StorageClass \"{}\": {e}",
                        class.name_any()
                    ),
                )
                .await;
            Err(e)
        }
    }
}
