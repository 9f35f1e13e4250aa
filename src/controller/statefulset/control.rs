//! The writes of a sync against the API (upstream `StatefulPodControl`): claims before pods,
//! identity repairs, deletions, retention refs — each with the event texts users know.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use kube::runtime::reflector::ObjectRef;

use super::claims::{self, PodIdent};
use super::identity::{self, claim_name, claim_templates, in_range, ordinal};
use super::reconcile::Context;
use super::sync::Control;
use crate::controller::Error;
use crate::controller::events::EventType;

/// [`Control`] over the API, reading claims from the cache.
pub struct PodControl<'a> {
    ctx: &'a Context,
}

impl<'a> PodControl<'a> {
    /// Writes through `ctx`.
    pub fn new(ctx: &'a Context) -> Self {
        Self { ctx }
    }

    fn pods(&self, set: &StatefulSet) -> Api<Pod> {
        Api::namespaced(
            self.ctx.client.clone(),
            &set.namespace().unwrap_or_default(),
        )
    }

    fn claims_api(&self, set: &StatefulSet) -> Api<PersistentVolumeClaim> {
        Api::namespaced(
            self.ctx.client.clone(),
            &set.namespace().unwrap_or_default(),
        )
    }

    fn cached_claim(&self, set: &StatefulSet, name: &str) -> Option<PersistentVolumeClaim> {
        let r = ObjectRef::new(name).within(&set.namespace().unwrap_or_default());
        self.ctx.claims.get(&r).map(|c| c.as_ref().clone())
    }

    fn ident(set: &StatefulSet, pod: &Pod) -> PodIdent {
        PodIdent {
            name: pod.name_any(),
            uid: pod.uid().unwrap_or_default(),
            in_range: ordinal(pod).is_some_and(|o| in_range(set, o)),
        }
    }

    /// The names of the pod's claims.
    fn claim_names(set: &StatefulSet, pod: &Pod) -> Vec<String> {
        let Some(o) = ordinal(pod) else {
            return Vec::new();
        };
        claim_templates(set)
            .iter()
            .map(|t| claim_name(t, &set.name_any(), o))
            .collect()
    }

    /// Upstream `recordPodEvent`.
    async fn pod_event(&self, verb: &str, set: &StatefulSet, pod: &Pod, err: Option<&Error>) {
        let (ty, reason, message) = match err {
            None => (
                EventType::Normal,
                format!("Successful{}", title(verb)),
                format!(
                    "{verb} Pod {} in StatefulSet {} successful",
                    pod.name_any(),
                    set.name_any()
                ),
            ),
            Some(e) => (
                EventType::Warning,
                format!("Failed{}", title(verb)),
                format!(
                    "{verb} Pod {} in StatefulSet {} failed error: {e}",
                    pod.name_any(),
                    set.name_any()
                ),
            ),
        };
        self.ctx.recorder.record(set, ty, &reason, message).await;
    }

    /// Upstream `recordClaimEvent`.
    async fn claim_event(&self, set: &StatefulSet, pod: &Pod, claim: &str, err: Option<&Error>) {
        let (ty, reason, message) = match err {
            None => (
                EventType::Normal,
                "SuccessfulCreate",
                format!(
                    "create Claim {claim} Pod {} in StatefulSet {} success",
                    pod.name_any(),
                    set.name_any()
                ),
            ),
            Some(e) => (
                EventType::Warning,
                "FailedCreate",
                format!(
                    "create Claim {claim} for Pod {} in StatefulSet {} failed error: {e}",
                    pod.name_any(),
                    set.name_any()
                ),
            ),
        };
        self.ctx.recorder.record(set, ty, reason, message).await;
    }

    /// Upstream `createPersistentVolumeClaims`: creates missing claims; a claim being deleted
    /// is an error (the pod must wait for it to go).
    async fn create_claims(&self, set: &StatefulSet, pod: &Pod) -> Result<(), Error> {
        let Some(o) = ordinal(pod) else { return Ok(()) };
        let mut errors = Vec::new();
        for claim in claims::new_claims(set, o) {
            let name = claim.name_any();
            match self.cached_claim(set, &name) {
                Some(existing) => {
                    if existing.metadata.deletion_timestamp.is_some() {
                        errors.push(Error::other(format!("pvc {name} is being deleted")));
                    }
                }
                None => match self
                    .claims_api(set)
                    .create(&PostParams::default(), &claim)
                    .await
                {
                    Ok(_) => self.claim_event(set, pod, &name, None).await,
                    // The cache had not seen it yet: it exists, which is what we want.
                    Err(kube::Error::Api(s)) if s.code == 409 => {}
                    Err(e) => {
                        let e = Error::from(e);
                        self.claim_event(set, pod, &name, Some(&e)).await;
                        errors.push(Error::other(format!("failed to create PVC {name}: {e}")));
                    }
                },
            }
        }
        Error::collect(errors)
    }

    /// Upstream `UpdatePodClaimForRetentionPolicy`.
    async fn update_claims_for_policy(&self, set: &StatefulSet, pod: &Pod) -> Result<(), Error> {
        let ident = Self::ident(set, pod);
        for name in Self::claim_names(set, pod) {
            let Some(claim) = self.cached_claim(set, &name) else {
                continue;
            };
            if claims::has_unexpected_controller(&claim, set, &ident) {
                let msg = format!(
                    "PersistentVolumeClaim {name} has a conflicting OwnerReference that acts as a manging controller, the retention policy is ignored for this claim"
                );
                self.ctx
                    .recorder
                    .record(set, EventType::Warning, "ConflictingController", msg)
                    .await;
            }
            if !claims::owner_up_to_date(&claim, set, &ident) {
                let mut updated = claim.clone();
                updated.metadata.owner_references =
                    Some(claims::fixed_owner_refs(&claim, set, &ident));
                self.claims_api(set)
                    .replace(&name, &PostParams::default(), &updated)
                    .await
                    .map_err(|e| {
                        Error::other(format!(
                            "could not update claim {name} for delete policy ownerRefs: {}",
                            Error::from(e)
                        ))
                    })?;
            }
        }
        Ok(())
    }
}

fn title(verb: &str) -> String {
    let mut c = verb.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

impl Control for PodControl<'_> {
    async fn create_pod(&self, set: &StatefulSet, pod: &Pod) -> Result<(), Error> {
        if let Err(e) = self.create_claims(set, pod).await {
            self.pod_event("create", set, pod, Some(&e)).await;
            return Err(e);
        }
        let created = match self.pods(set).create(&PostParams::default(), pod).await {
            Ok(p) => p,
            // The cache is behind, or the old pod is still there: retry later, quietly.
            Err(kube::Error::Api(s)) if s.code == 409 => return Err(kube::Error::Api(s).into()),
            Err(e) => {
                let e = Error::from(e);
                self.pod_event("create", set, pod, Some(&e)).await;
                return Err(e);
            }
        };
        if let Err(e) = self.update_claims_for_policy(set, &created).await {
            self.pod_event("update", set, pod, Some(&e)).await;
            return Err(e);
        }
        self.pod_event("create", set, pod, None).await;
        Ok(())
    }

    async fn create_missing_claims(&self, set: &StatefulSet, pod: &Pod) -> Result<(), Error> {
        self.create_claims(set, pod).await?;
        if let Err(e) = self.update_claims_for_policy(set, pod).await {
            self.pod_event("update", set, pod, Some(&e)).await;
            return Err(e);
        }
        Ok(())
    }

    async fn update_pod(&self, set: &StatefulSet, pod: &Pod) -> Result<(), Error> {
        let mut pod = pod.clone();
        let mut attempted = false;
        let mut result = Ok(());
        for _ in 0..5 {
            let mut consistent = true;
            if !identity::identity_matches(set, &pod) {
                identity::update_identity(set, &mut pod);
                consistent = false;
            }
            if !identity::storage_matches(set, &pod) {
                identity::update_storage(set, &mut pod);
                consistent = false;
                if let Err(e) = self.create_claims(set, &pod).await {
                    self.pod_event("update", set, &pod, Some(&e)).await;
                    return Err(e);
                }
            }
            if !self.claims_match_policy(set, &pod) {
                if let Err(e) = self.update_claims_for_policy(set, &pod).await {
                    self.pod_event("update", set, &pod, Some(&e)).await;
                    return Err(e);
                }
                consistent = false;
            }
            if consistent {
                result = Ok(());
                break;
            }
            attempted = true;
            match self
                .pods(set)
                .replace(&pod.name_any(), &PostParams::default(), &pod)
                .await
            {
                Ok(_) => {
                    result = Ok(());
                    break;
                }
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    result = Err(kube::Error::Api(s).into());
                    match self.pods(set).get(&pod.name_any()).await {
                        Ok(fresh) => pod = fresh,
                        Err(e) => {
                            result = Err(e.into());
                            break;
                        }
                    }
                }
                Err(e) => {
                    result = Err(e.into());
                    break;
                }
            }
        }
        if attempted {
            self.pod_event("update", set, &pod, result.as_ref().err())
                .await;
        }
        result
    }

    async fn delete_pod(&self, set: &StatefulSet, pod: &Pod) -> Result<(), Error> {
        let dp = DeleteParams {
            preconditions: pod.uid().map(|uid| Preconditions {
                uid: Some(uid),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        let result = self
            .pods(set)
            .delete(&pod.name_any(), &dp)
            .await
            .map(|_| ())
            .map_err(Error::from);
        self.pod_event("delete", set, pod, result.as_ref().err())
            .await;
        result
    }

    fn claims_stale(&self, set: &StatefulSet, pod: &Pod) -> bool {
        let ident = Self::ident(set, pod);
        Self::claim_names(set, pod).iter().any(|name| {
            self.cached_claim(set, name)
                .is_some_and(|c| claims::is_stale(&c, set, &ident))
        })
    }

    fn claims_match_policy(&self, set: &StatefulSet, pod: &Pod) -> bool {
        let ident = Self::ident(set, pod);
        Self::claim_names(set, pod).iter().all(|name| {
            self.cached_claim(set, name)
                .is_none_or(|c| claims::owner_up_to_date(&c, set, &ident))
        })
    }

    async fn fix_claims_for_policy(&self, set: &StatefulSet, pod: &Pod) -> Result<(), Error> {
        self.update_claims_for_policy(set, pod).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn verbs_are_title_cased_for_reasons() {
        assert_eq!(
            super::title("create"),
            "SuccessfulCreate".trim_start_matches("Successful")
        );
        assert_eq!(super::title("delete"), "Delete");
        assert_eq!(super::title(""), "");
    }
}
