//! Volumes (upstream `syncVolume`): Available when unclaimed, Bound while their claim exists,
//! Released when it is gone — then the reclaim policy: Retain keeps the volume and its data,
//! Delete removes the directory and the volume, Recycle wipes the directory and makes the
//! volume Available again.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, PersistentVolumeStatus};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use super::Context;
use crate::cluster::informer::Change;
use crate::controller::events::EventType;
use crate::controller::work::{Requests, requests};
use crate::controller::{Caches, Error};

/// What makes a volume look again: itself, and changes of the claim it names.
pub fn triggers(caches: &Caches) -> Vec<Requests<PersistentVolume>> {
    let volumes = caches.volumes.store().clone();
    let all = {
        let volumes = volumes.clone();
        move || -> Vec<ObjectRef<PersistentVolume>> {
            volumes
                .state()
                .iter()
                .map(|v| ObjectRef::from_obj(v.as_ref()))
                .collect()
        }
    };
    vec![
        requests(caches.volumes.subscribe(), {
            let all = all.clone();
            move |c: &Change<PersistentVolume>| match c.object() {
                Some(pv) => vec![ObjectRef::from_obj(pv.as_ref())],
                None => all(),
            }
        }),
        requests(
            caches.claims.subscribe(),
            move |c: &Change<PersistentVolumeClaim>| {
                let Some(claim) = c.object() else {
                    return all();
                };
                volumes
                    .state()
                    .iter()
                    .filter(|pv| {
                        pv.spec
                            .as_ref()
                            .and_then(|s| s.claim_ref.as_ref())
                            .is_some_and(|r| {
                                r.name.as_deref() == Some(claim.name_any().as_str())
                                    && r.namespace == claim.namespace()
                            })
                    })
                    .map(|pv| ObjectRef::from_obj(pv.as_ref()))
                    .collect()
            },
        ),
    ]
}

fn phase(pv: &PersistentVolume) -> &str {
    pv.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// The directory a hostPath or local volume uses.
fn path_of(pv: &PersistentVolume) -> Option<PathBuf> {
    let spec = pv.spec.as_ref()?;
    spec.host_path
        .as_ref()
        .map(|h| h.path.clone())
        .or_else(|| spec.local.as_ref().map(|l| l.path.clone()))
        .filter(|p| p.starts_with('/'))
        .map(PathBuf::from)
}

/// Whether `path` lies inside `dir` (after resolving symlinks of what exists).
pub fn inside(path: &Path, dir: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (path, dir) = (canon(path), canon(dir));
    // A path that could not be resolved must not climb out with `..`.
    let climbs = path
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir));
    !climbs && path != dir && path.starts_with(&dir)
}

/// Removes everything inside `dir`, keeping `dir`.
pub fn wipe(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let p = entry.path();
        if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(&p)?;
        } else {
            std::fs::remove_file(&p)?;
        }
    }
    Ok(())
}

/// Syncs one volume.
pub async fn reconcile(pv: Arc<PersistentVolume>, ctx: Arc<Context>) -> Result<Action, Error> {
    if pv.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let Some(claim_ref) = pv.spec.as_ref().and_then(|s| s.claim_ref.clone()) else {
        if phase(&pv) != "Available" {
            set_phase(&ctx, &pv, "Available", None).await?;
        }
        return Ok(Action::await_change());
    };
    let uid = claim_ref.uid.clone().unwrap_or_default();
    if uid.is_empty() {
        // Pre-bound by its creator to a claim that may not exist yet.
        if phase(&pv) != "Available" {
            set_phase(&ctx, &pv, "Available", None).await?;
        }
        return Ok(Action::await_change());
    }
    let ns = claim_ref.namespace.clone().unwrap_or_default();
    let name = claim_ref.name.clone().unwrap_or_default();
    let cached = ctx
        .claims
        .get(&ObjectRef::new(&name).within(&ns))
        .filter(|c| c.uid().as_deref() == Some(uid.as_str()));
    let claim = match cached {
        Some(c) => Some(c.as_ref().clone()),
        None => {
            let api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
            api.get_opt(&name)
                .await?
                .filter(|c| c.uid().as_deref() == Some(uid.as_str()))
        }
    };
    if claim.is_some() {
        if !matches!(phase(&pv), "Bound" | "Released" | "Failed") {
            set_phase(&ctx, &pv, "Bound", None).await?;
        }
        return Ok(Action::await_change());
    }
    if !matches!(phase(&pv), "Released" | "Failed") {
        set_phase(&ctx, &pv, "Released", None).await?;
        return Ok(Action::await_change());
    }
    if phase(&pv) == "Failed" {
        return Ok(Action::await_change());
    }
    let policy = pv
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_reclaim_policy.as_deref())
        .unwrap_or("Retain");
    match policy {
        "Delete" => delete_volume(&ctx, &pv).await?,
        "Recycle" => recycle_volume(&ctx, &pv).await?,
        _ => {}
    }
    Ok(Action::await_change())
}

async fn set_phase(
    ctx: &Context,
    pv: &PersistentVolume,
    phase: &str,
    message: Option<String>,
) -> Result<(), Error> {
    let api: Api<PersistentVolume> = Api::all(ctx.client.clone());
    let mut next = pv.clone();
    next.status = Some(PersistentVolumeStatus {
        phase: Some(phase.into()),
        message,
        ..Default::default()
    });
    api.replace_status(&pv.name_any(), &PostParams::default(), &next)
        .await?;
    Ok(())
}

async fn fail(
    ctx: &Context,
    pv: &PersistentVolume,
    reason: &str,
    message: String,
) -> Result<(), Error> {
    ctx.recorder
        .record(pv, EventType::Warning, reason, message.clone())
        .await;
    set_phase(ctx, pv, "Failed", Some(message)).await
}

/// Delete: removes the directory (only under the volumes dir) and the volume object.
async fn delete_volume(ctx: &Context, pv: &PersistentVolume) -> Result<(), Error> {
    let Some(path) = path_of(pv) else {
        let msg = format!(
            "error getting deleter volume plugin for volume \"{}\": no deletable volume plugin matched",
            pv.name_any()
        );
        return fail(ctx, pv, "VolumeFailedDelete", msg).await;
    };
    if !inside(&path, &ctx.dir) {
        let msg = format!(
            "host_path deleter only supports paths under {} but received provided {}",
            ctx.dir.display(),
            path.display()
        );
        return fail(ctx, pv, "VolumeFailedDelete", msg).await;
    }
    let p = path.clone();
    let removed = tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    })
    .await
    .map_err(|e| Error::other(e.to_string()))?;
    if let Err(e) = removed {
        return fail(
            ctx,
            pv,
            "VolumeFailedDelete",
            format!("removing {}: {e}", path.display()),
        )
        .await;
    }
    let api: Api<PersistentVolume> = Api::all(ctx.client.clone());
    let dp = DeleteParams {
        preconditions: pv.uid().map(|uid| Preconditions {
            uid: Some(uid),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(&pv.name_any(), &dp).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Recycle: wipes the directory's contents, forgets the claim, and offers the volume again.
async fn recycle_volume(ctx: &Context, pv: &PersistentVolume) -> Result<(), Error> {
    let Some(path) = path_of(pv).filter(|p| p != Path::new("/")) else {
        return fail(
            ctx,
            pv,
            "VolumeFailedRecycle",
            "No recycler plugin found for the volume!".into(),
        )
        .await;
    };
    let p = path.clone();
    let wiped = tokio::task::spawn_blocking(move || match wipe(&p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    })
    .await
    .map_err(|e| Error::other(e.to_string()))?;
    if let Err(e) = wiped {
        return fail(
            ctx,
            pv,
            "VolumeFailedRecycle",
            format!("Recycle failed: {e}"),
        )
        .await;
    }
    let api: Api<PersistentVolume> = Api::all(ctx.client.clone());
    let mut next = pv.clone();
    if let Some(spec) = next.spec.as_mut() {
        spec.claim_ref = None;
    }
    let next = api
        .replace(&pv.name_any(), &PostParams::default(), &next)
        .await?;
    set_phase(ctx, &next, "Available", None).await?;
    ctx.recorder
        .record(pv, EventType::Normal, "VolumeRecycled", "Volume recycled")
        .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_below_the_volumes_dir_are_deletable() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("volumes");
        std::fs::create_dir_all(dir.join("pvc-1")).unwrap();
        assert!(inside(&dir.join("pvc-1"), &dir));
        assert!(!inside(&dir, &dir));
        assert!(!inside(&dir.join("../elsewhere"), &dir));
        assert!(!inside(Path::new("/etc"), &dir));
    }

    #[test]
    fn wipe_empties_a_directory_and_keeps_it() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("v");
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::write(d.join("a"), "x").unwrap();
        std::fs::write(d.join(".hidden"), "x").unwrap();
        std::fs::write(d.join("sub/b"), "x").unwrap();
        wipe(&d).unwrap();
        assert!(d.is_dir());
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0);
    }
}
