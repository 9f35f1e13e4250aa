//! Ownership: adopting orphan pods and ControllerRevisions that match the set, releasing pods
//! that no longer do (upstream `ClaimPods`, `adoptOrphanRevisions`, `controller_ref_manager`).

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::identity::{controller_of, controller_ref, is_member_of};
use super::reconcile::Context;
use super::selects;
use crate::controller::Error;

/// Checks, once per sync, that the set may adopt: a live read shows the same set, not being
/// deleted (upstream `RecheckDeletionTimestamp`).
struct CanAdopt<'a> {
    ctx: &'a Context,
    set: &'a StatefulSet,
    checked: Option<Result<(), String>>,
}

impl CanAdopt<'_> {
    async fn check(&mut self) -> Result<(), Error> {
        if self.checked.is_none() {
            let api: Api<StatefulSet> = Api::namespaced(
                self.ctx.client.clone(),
                &self.set.namespace().unwrap_or_default(),
            );
            let name = self.set.name_any();
            let want = self.set.uid().unwrap_or_default();
            let result = match api.get(&name).await {
                Err(e) => Err(Error::from(e).to_string()),
                Ok(fresh) if fresh.uid().as_deref() != Some(want.as_str()) => Err(format!(
                    "original StatefulSet {}/{name} is gone: got uid {}, wanted {want}",
                    self.set.namespace().unwrap_or_default(),
                    fresh.uid().unwrap_or_default()
                )),
                Ok(fresh) if fresh.metadata.deletion_timestamp.is_some() => Err(format!(
                    "{}/{name} has just been deleted",
                    self.set.namespace().unwrap_or_default()
                )),
                Ok(_) => Ok(()),
            };
            self.checked = Some(result);
        }
        match &self.checked {
            Some(Err(e)) => Err(Error::other(e.clone())),
            _ => Ok(()),
        }
    }
}

fn adopt_patch(set: &StatefulSet, uid: &str) -> serde_json::Value {
    json!({"metadata": {"ownerReferences": [controller_ref(set)], "uid": uid}})
}

fn release_patch(set: &StatefulSet, uid: &str) -> serde_json::Value {
    json!({"metadata": {"ownerReferences": [{"$patch": "delete", "uid": set.uid()}], "uid": uid}})
}

/// The pods the set owns after adopting matching orphans and releasing pods that stopped
/// matching. Errors of individual adoptions are returned after all pods were looked at.
pub async fn claim_pods(ctx: &Context, set: &StatefulSet) -> Result<Vec<Pod>, Error> {
    let ns = set.namespace();
    let uid = set.uid().unwrap_or_default();
    let set_deleting = set.metadata.deletion_timestamp.is_some();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), ns.as_deref().unwrap_or_default());
    let mut can_adopt = CanAdopt {
        ctx,
        set,
        checked: None,
    };
    let mut owned = Vec::new();
    let mut errors = Vec::new();
    let mut pods: Vec<_> = ctx
        .pods
        .state()
        .into_iter()
        .filter(|p| p.namespace() == ns)
        .collect();
    pods.sort_by_key(|p| p.name_any());
    for pod in pods {
        let matches = selects(set, pod.labels()) && is_member_of(set, &pod);
        let pod_uid = pod.uid().unwrap_or_default();
        match controller_of(pod.owner_references()) {
            Some(r) if r.uid != uid => {}
            Some(_) if matches => owned.push(pod.as_ref().clone()),
            Some(_) => {
                if set_deleting {
                    continue;
                }
                let patch = release_patch(set, &pod_uid);
                match api
                    .patch(
                        &pod.name_any(),
                        &PatchParams::default(),
                        &Patch::Strategic(&patch),
                    )
                    .await
                {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 || s.code == 422 => {}
                    Err(e) => errors.push(e.into()),
                }
            }
            None => {
                if !matches || set_deleting || pod.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                if let Err(e) = can_adopt.check().await {
                    errors.push(Error::other(format!("can't adopt Pods: {e}")));
                    continue;
                }
                let patch = adopt_patch(set, &pod_uid);
                match api
                    .patch(
                        &pod.name_any(),
                        &PatchParams::default(),
                        &Patch::Strategic(&patch),
                    )
                    .await
                {
                    Ok(adopted) => owned.push(adopted),
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => errors.push(e.into()),
                }
            }
        }
    }
    Error::collect(errors)?;
    Ok(owned)
}

/// The set's revisions (owned, or orphans matching its selector, which are adopted first).
pub async fn claim_revisions(
    ctx: &Context,
    set: &StatefulSet,
) -> Result<Vec<ControllerRevision>, Error> {
    let ns = set.namespace();
    let uid = set.uid().unwrap_or_default();
    let mut out = Vec::new();
    let mut orphans = Vec::new();
    for r in ctx.revisions.state() {
        if r.namespace() != ns || !selects(set, r.labels()) {
            continue;
        }
        match controller_of(r.owner_references()) {
            None => orphans.push(r.as_ref().clone()),
            Some(c) if c.uid == uid => out.push(r.as_ref().clone()),
            Some(_) => {}
        }
    }
    if !orphans.is_empty() {
        let mut can_adopt = CanAdopt {
            ctx,
            set,
            checked: None,
        };
        can_adopt
            .check()
            .await
            .map_err(|e| Error::other(format!("can't adopt ControllerRevisions: {e}")))?;
        let api: Api<ControllerRevision> =
            Api::namespaced(ctx.client.clone(), ns.as_deref().unwrap_or_default());
        for r in orphans {
            let patch = adopt_patch(set, &r.uid().unwrap_or_default());
            match api
                .patch(
                    &r.name_any(),
                    &PatchParams::default(),
                    &Patch::Strategic(&patch),
                )
                .await
            {
                Ok(adopted) => out.push(adopted),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_name_the_owner_and_carry_the_uid_precondition() {
        let set: StatefulSet = serde_json::from_value(json!({
            "metadata": {"name": "ss", "uid": "set-uid"},
            "spec": {"selector": {}, "template": {}}
        }))
        .unwrap();
        let adopt = adopt_patch(&set, "pod-uid");
        assert_eq!(adopt["metadata"]["uid"], "pod-uid");
        let r = &adopt["metadata"]["ownerReferences"][0];
        assert_eq!(
            (
                r["kind"].as_str(),
                r["uid"].as_str(),
                r["controller"].as_bool(),
                r["blockOwnerDeletion"].as_bool()
            ),
            (Some("StatefulSet"), Some("set-uid"), Some(true), Some(true))
        );
        let release = release_patch(&set, "pod-uid");
        assert_eq!(
            release["metadata"]["ownerReferences"],
            json!([{"$patch": "delete", "uid": "set-uid"}])
        );
    }
}
