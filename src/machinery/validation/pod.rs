//! `ValidatePodCreate` / `ValidatePodUpdate` and `ValidatePodSpec` (`pkg/apis/core/validation`).
//!
//! Covered: containers and init containers (names, images, ports, env, volume mounts,
//! pull policy, resources, probes, lifecycle handlers), volumes (names, exactly one source,
//! required source fields), restart and DNS policies, tolerations, node selector, names of
//! nodes/service accounts/priority classes, host-network ports and pod-spec immutability on
//! update. Not covered: security contexts beyond what defaulting guarantees, affinity,
//! topology spread constraints, resource claims, Windows/Linux OS-specific rules, sysctls.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{
    Container, EnvFromSource, EnvVar, ExecAction, GRPCAction, HTTPGetAction, Lifecycle, Pod,
    PodSpec, Probe, ResourceRequirements, SleepAction, TCPSocketAction, Toleration, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use super::format;
use super::meta;
use super::render::{render_diff, render_str};
use super::{child, index, invalid_each, key, non_negative, not_found, semantic};
use crate::machinery::quantity;
use crate::machinery::status::FieldError;

/// The fields a pod update may change, as listed in the Forbidden message.
pub const UPDATABLE_POD_SPEC_FIELDS: [&str; 5] = [
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
];

const MAX_INT32: i64 = i32::MAX as i64;

/// Validates a Pod on create (`old` is `None`) or update.
pub fn validate_pod(new: &Pod, old: Option<&Pod>) -> Vec<FieldError> {
    let default_spec = PodSpec::default();
    let spec = new.spec.as_ref().unwrap_or(&default_spec);
    let mut errs = Vec::new();
    if let Some(old) = old {
        errs.extend(meta::validate_object_meta_update(
            &new.metadata,
            &old.metadata,
            "metadata",
        ));
    }
    errs.extend(meta::validate_object_meta(&new.metadata, true, "metadata"));
    errs.extend(validate_pod_spec(spec, "spec", true));
    if spec
        .service_account_name
        .as_deref()
        .unwrap_or("")
        .is_empty()
    {
        for (vi, vol) in spec.volumes.iter().flatten().enumerate() {
            for (si, source) in vol
                .projected
                .iter()
                .flat_map(|p| p.sources.iter().flatten())
                .enumerate()
            {
                if source.service_account_token.is_some() {
                    errs.push(FieldError::forbidden(
                        format!("spec.volumes[{vi}].projected.sources[{si}].serviceAccountToken"),
                        "must not be specified when serviceAccountName is not set",
                    ));
                }
            }
        }
    }
    for (list, field) in [
        (Some(&spec.containers), "containers"),
        (spec.init_containers.as_ref(), "initContainers"),
    ] {
        for (i, c) in list.into_iter().flatten().enumerate() {
            let image = c.image.as_deref().unwrap_or("");
            if image.trim() != image {
                errs.push(FieldError::invalid(
                    format!("spec.{field}[{i}].image"),
                    &render_str(image),
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }
    match old {
        None => {
            if spec
                .ephemeral_containers
                .as_ref()
                .is_some_and(|e| !e.is_empty())
            {
                errs.push(FieldError::forbidden(
                    "spec.ephemeralContainers",
                    "cannot be set on create",
                ));
            }
        }
        Some(old) => errs.extend(validate_spec_update(
            spec,
            old.spec.as_ref().unwrap_or(&default_spec),
        )),
    }
    errs
}

/// `ValidatePodSpec`. `is_pod` is false for pod templates embedded in other kinds.
pub fn validate_pod_spec(spec: &PodSpec, path: &str, is_pod: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if spec.termination_grace_period_seconds.is_none() {
        errs.push(FieldError::required(
            child(path, "terminationGracePeriodSeconds"),
            "",
        ));
    }
    let grace = spec.termination_grace_period_seconds;
    let (vols, vol_errs) = validate_volumes(
        spec.volumes.as_deref().unwrap_or(&[]),
        &child(path, "volumes"),
    );
    errs.extend(vol_errs);
    let restart_policy = spec.restart_policy.as_deref().unwrap_or("");
    errs.extend(validate_containers(
        &spec.containers,
        &vols,
        grace,
        &child(path, "containers"),
    ));
    errs.extend(validate_init_containers(
        spec.init_containers.as_deref().unwrap_or(&[]),
        &spec.containers,
        &vols,
        grace,
        &child(path, "initContainers"),
    ));
    if spec.host_network == Some(true) {
        for (i, c) in spec.containers.iter().enumerate() {
            for (j, p) in c.ports.iter().flatten().enumerate() {
                let hp = p.host_port.unwrap_or(0);
                if (is_pod || hp != 0) && hp != p.container_port {
                    errs.push(FieldError::invalid(
                        format!("{path}.containers[{i}].ports[{j}].hostPort"),
                        &hp.to_string(),
                        "must match `containerPort` when `hostNetwork` is true",
                    ));
                }
            }
        }
    }
    let rp_path = child(path, "restartPolicy");
    match restart_policy {
        "Always" | "OnFailure" | "Never" => {}
        "" => errs.push(FieldError::required(rp_path, "")),
        other => errs.push(FieldError::not_supported(
            rp_path,
            &render_str(other),
            &["Always", "OnFailure", "Never"],
        )),
    }
    let dns_path = child(path, "dnsPolicy");
    let dns_policy = spec.dns_policy.as_deref().unwrap_or("");
    match dns_policy {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => errs.push(FieldError::required(dns_path, "")),
        other => errs.push(FieldError::not_supported(
            dns_path,
            &render_str(other),
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
    errs.extend(meta::validate_labels(
        spec.node_selector.as_ref(),
        &child(path, "nodeSelector"),
    ));
    let dns_config_path = child(path, "dnsConfig");
    if dns_policy == "None" {
        match &spec.dns_config {
            None => errs.push(FieldError::required(
                dns_config_path.clone(),
                "must provide `dnsConfig` when `dnsPolicy` is None",
            )),
            Some(c) if c.nameservers.as_ref().is_none_or(Vec::is_empty) => {
                errs.push(FieldError::required(
                    child(&dns_config_path, "nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                ))
            }
            Some(_) => {}
        }
    }
    for (i, ns) in spec
        .dns_config
        .iter()
        .flat_map(|c| c.nameservers.iter().flatten())
        .enumerate()
    {
        errs.extend(invalid_each(
            &index(&child(&dns_config_path, "nameservers"), i),
            ns,
            format::is_valid_ip(ns),
        ));
    }
    for (field, value) in [
        ("serviceAccountName", &spec.service_account_name),
        ("nodeName", &spec.node_name),
        ("priorityClassName", &spec.priority_class_name),
    ] {
        let value = value.as_deref().unwrap_or("");
        if !value.is_empty() {
            errs.extend(invalid_each(
                &child(path, field),
                value,
                format::name_is_dns_subdomain(value, false),
            ));
        }
    }
    if let Some(ads) = spec.active_deadline_seconds
        && !(1..=MAX_INT32).contains(&ads)
    {
        errs.push(FieldError::invalid(
            child(path, "activeDeadlineSeconds"),
            &ads.to_string(),
            &format::inclusive_range_error(1, MAX_INT32),
        ));
    }
    for (field, value) in [("hostname", &spec.hostname), ("subdomain", &spec.subdomain)] {
        let value = value.as_deref().unwrap_or("");
        if !value.is_empty() {
            errs.extend(invalid_each(
                &child(path, field),
                value,
                format::is_dns1123_label(value),
            ));
        }
    }
    errs.extend(validate_tolerations(
        spec.tolerations.as_deref().unwrap_or(&[]),
        &child(path, "tolerations"),
    ));
    if let Some(pp) = spec.preemption_policy.as_deref() {
        let pp_path = child(path, "preemptionPolicy");
        match pp {
            "PreemptLowerPriority" | "Never" => {}
            "" => errs.push(FieldError::required(pp_path, "")),
            other => errs.push(FieldError::not_supported(
                pp_path,
                &render_str(other),
                &["PreemptLowerPriority", "Never"],
            )),
        }
    }
    errs
}

/// The names of the valid volumes and whether each is claim-backed.
type VolumeSet = BTreeMap<String, bool>;

/// `ValidateVolumes`: each volume needs a DNS-label name, unique, and exactly one source.
fn validate_volumes(volumes: &[Volume], path: &str) -> (VolumeSet, Vec<FieldError>) {
    let mut names = VolumeSet::new();
    let mut errs = Vec::new();
    for (i, vol) in volumes.iter().enumerate() {
        let vpath = index(path, i);
        let name_path = child(&vpath, "name");
        let mut el = validate_volume_source(vol, &vpath);
        if vol.name.is_empty() {
            el.push(FieldError::required(name_path.clone(), ""));
        } else {
            el.extend(invalid_each(
                &name_path,
                &vol.name,
                format::is_dns1123_label(&vol.name),
            ));
        }
        if names.contains_key(&vol.name) {
            el.push(FieldError::duplicate(name_path, &render_str(&vol.name)));
        }
        if el.is_empty() {
            names.insert(
                vol.name.clone(),
                vol.persistent_volume_claim.is_some() || vol.ephemeral.is_some(),
            );
        } else {
            errs.extend(el);
        }
    }
    (names, errs)
}

/// `validateVolumeSource`: exactly one source, with its required fields (upstream order
/// and field names, including its `downwarAPI` typo).
fn validate_volume_source(v: &Volume, path: &str) -> Vec<FieldError> {
    let present: [(bool, &str); 30] = [
        (v.empty_dir.is_some(), "emptyDir"),
        (v.host_path.is_some(), "hostPath"),
        (v.git_repo.is_some(), "gitRepo"),
        (v.gce_persistent_disk.is_some(), "gcePersistentDisk"),
        (v.aws_elastic_block_store.is_some(), "awsElasticBlockStore"),
        (v.secret.is_some(), "secret"),
        (v.nfs.is_some(), "nfs"),
        (v.iscsi.is_some(), "iscsi"),
        (v.glusterfs.is_some(), "glusterfs"),
        (v.flocker.is_some(), "flocker"),
        (v.persistent_volume_claim.is_some(), "persistentVolumeClaim"),
        (v.rbd.is_some(), "rbd"),
        (v.cinder.is_some(), "cinder"),
        (v.cephfs.is_some(), "cephFS"),
        (v.quobyte.is_some(), "quobyte"),
        (v.downward_api.is_some(), "downwarAPI"),
        (v.fc.is_some(), "fc"),
        (v.flex_volume.is_some(), "flexVolume"),
        (v.config_map.is_some(), "configMap"),
        (v.azure_file.is_some(), "azureFile"),
        (v.vsphere_volume.is_some(), "vsphereVolume"),
        (v.photon_persistent_disk.is_some(), "photonPersistentDisk"),
        (v.portworx_volume.is_some(), "portworxVolume"),
        (v.azure_disk.is_some(), "azureDisk"),
        (v.storageos.is_some(), "storageos"),
        (v.projected.is_some(), "projected"),
        (v.scale_io.is_some(), "scaleIO"),
        (v.csi.is_some(), "csi"),
        (v.ephemeral.is_some(), "ephemeral"),
        (v.image.is_some(), "image"),
    ];
    let mut errs = Vec::new();
    let mut count = 0;
    for (is_set, name) in present {
        if !is_set {
            continue;
        }
        if count > 0 {
            errs.push(FieldError::forbidden(
                child(path, name),
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        count += 1;
        errs.extend(validate_one_source(v, name, path));
    }
    if count == 0 {
        errs.push(FieldError::required(path, "must specify a volume type"));
    }
    errs
}

/// Required fields of the common volume sources.
fn validate_one_source(v: &Volume, name: &str, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    match name {
        "hostPath" => {
            if let Some(h) = &v.host_path {
                if h.path.is_empty() {
                    errs.push(FieldError::required(format!("{path}.hostPath.path"), ""));
                } else {
                    errs.extend(no_backsteps(&h.path, &format!("{path}.hostPath.path")));
                }
            }
        }
        "secret"
            if v.secret
                .as_ref()
                .is_some_and(|s| s.secret_name.as_deref().unwrap_or("").is_empty()) =>
        {
            errs.push(FieldError::required(
                format!("{path}.secret.secretName"),
                "",
            ));
        }
        "configMap" if v.config_map.as_ref().is_some_and(|c| c.name.is_empty()) => {
            errs.push(FieldError::required(format!("{path}.configMap.name"), ""));
        }
        "persistentVolumeClaim"
            if v.persistent_volume_claim
                .as_ref()
                .is_some_and(|c| c.claim_name.is_empty()) =>
        {
            errs.push(FieldError::required(
                format!("{path}.persistentVolumeClaim.claimName"),
                "",
            ));
        }
        "nfs" => {
            if let Some(n) = &v.nfs {
                if n.server.is_empty() {
                    errs.push(FieldError::required(format!("{path}.nfs.server"), ""));
                }
                if n.path.is_empty() {
                    errs.push(FieldError::required(format!("{path}.nfs.path"), ""));
                } else if !n.path.starts_with('/') {
                    errs.push(FieldError::invalid(
                        format!("{path}.nfs.path"),
                        &render_str(&n.path),
                        "must be an absolute path",
                    ));
                }
            }
        }
        "ephemeral"
            if v.ephemeral
                .as_ref()
                .is_some_and(|e| e.volume_claim_template.is_none()) =>
        {
            errs.push(FieldError::required(
                format!("{path}.ephemeral.volumeClaimTemplate"),
                "",
            ));
        }
        _ => {}
    }
    errs
}

/// `validatePathNoBacksteps`: no `..` path element.
fn no_backsteps(target: &str, path: &str) -> Vec<FieldError> {
    if target.split('/').any(|p| p == "..") {
        vec![FieldError::invalid(
            path,
            &render_str(target),
            "must not contain '..'",
        )]
    } else {
        Vec::new()
    }
}

/// `validateLocalDescendingPath`: relative, without `..`.
fn local_descending_path(target: &str, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if target.starts_with('/') {
        errs.push(FieldError::invalid(
            path,
            &render_str(target),
            "must be a relative path",
        ));
    }
    errs.extend(no_backsteps(target, path));
    errs
}

/// `validateContainers`: at least one; common checks; unique names; probes and lifecycle.
fn validate_containers(
    containers: &[Container],
    vols: &VolumeSet,
    grace: Option<i64>,
    path: &str,
) -> Vec<FieldError> {
    if containers.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let mut errs = Vec::new();
    let mut names = BTreeSet::new();
    for (i, c) in containers.iter().enumerate() {
        let cpath = index(path, i);
        errs.extend(validate_container_common(c, vols, &cpath));
        if !names.insert(c.name.as_str()) {
            errs.push(FieldError::duplicate(
                child(&cpath, "name"),
                &render_str(&c.name),
            ));
        }
        if let Some(l) = &c.lifecycle {
            errs.extend(validate_lifecycle(l, grace, &child(&cpath, "lifecycle")));
        }
        errs.extend(validate_probes(c, &cpath));
        if c.restart_policy.is_some() {
            errs.push(FieldError::forbidden(
                child(&cpath, "restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    errs.extend(host_port_conflicts(containers, path));
    errs
}

/// Liveness (successThreshold 1), readiness (no terminationGracePeriodSeconds) and startup
/// (successThreshold 1) probes.
fn validate_probes(c: &Container, cpath: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (probe, field) in [
        (&c.liveness_probe, "livenessProbe"),
        (&c.readiness_probe, "readinessProbe"),
        (&c.startup_probe, "startupProbe"),
    ] {
        let Some(p) = probe else { continue };
        let ppath = child(cpath, field);
        errs.extend(validate_probe(p, &ppath));
        let success = p.success_threshold.unwrap_or(0);
        if field != "readinessProbe" && success != 1 {
            errs.push(FieldError::invalid(
                child(&ppath, "successThreshold"),
                &success.to_string(),
                "must be 1",
            ));
        }
        if field == "readinessProbe"
            && let Some(g) = p.termination_grace_period_seconds
        {
            errs.push(FieldError::invalid(
                child(&ppath, "terminationGracePeriodSeconds"),
                &g.to_string(),
                "must not be set for readinessProbes",
            ));
        }
    }
    errs
}

/// `validateInitContainers`.
fn validate_init_containers(
    inits: &[Container],
    regular: &[Container],
    vols: &VolumeSet,
    grace: Option<i64>,
    path: &str,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut names: BTreeSet<&str> = regular.iter().map(|c| c.name.as_str()).collect();
    for (i, c) in inits.iter().enumerate() {
        let cpath = index(path, i);
        errs.extend(validate_container_common(c, vols, &cpath));
        let restart_always = match c.restart_policy.as_deref() {
            None => false,
            Some("Always") => true,
            Some(other) => {
                errs.push(FieldError::not_supported(
                    child(&cpath, "restartPolicy"),
                    &render_str(other),
                    &["Always"],
                ));
                false
            }
        };
        if names.contains(c.name.as_str()) {
            errs.push(FieldError::duplicate(
                child(&cpath, "name"),
                &render_str(&c.name),
            ));
        } else if !c.name.is_empty() {
            names.insert(c.name.as_str());
        }
        errs.extend(host_port_conflicts(std::slice::from_ref(c), path));
        if restart_always {
            if let Some(l) = &c.lifecycle {
                errs.extend(validate_lifecycle(l, grace, &child(&cpath, "lifecycle")));
            }
            errs.extend(validate_probes(c, &cpath));
        } else {
            let forbidden = "may not be set for init containers without restartPolicy=Always";
            for (set, field) in [
                (c.lifecycle.is_some(), "lifecycle"),
                (c.liveness_probe.is_some(), "livenessProbe"),
                (c.readiness_probe.is_some(), "readinessProbe"),
                (c.startup_probe.is_some(), "startupProbe"),
            ] {
                if set {
                    errs.push(FieldError::forbidden(child(&cpath, field), forbidden));
                }
            }
        }
    }
    errs
}

/// `validateContainerCommon`.
fn validate_container_common(c: &Container, vols: &VolumeSet, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name_path = child(path, "name");
    if c.name.is_empty() {
        errs.push(FieldError::required(name_path, ""));
    } else {
        errs.extend(invalid_each(
            &name_path,
            &c.name,
            format::is_dns1123_label(&c.name),
        ));
    }
    if c.image.as_deref().unwrap_or("").is_empty() {
        errs.push(FieldError::required(child(path, "image"), ""));
    }
    let tmp_path = child(path, "terminationMessagePolicy");
    match c.termination_message_policy.as_deref().unwrap_or("") {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.push(FieldError::required(tmp_path, "")),
        other => errs.push(FieldError::not_supported(
            tmp_path,
            &render_str(other),
            &["File", "FallbackToLogsOnError"],
        )),
    }
    errs.extend(validate_container_ports(c, &child(path, "ports")));
    errs.extend(validate_env(
        c.env.as_deref().unwrap_or(&[]),
        &child(path, "env"),
    ));
    errs.extend(validate_env_from(
        c.env_from.as_deref().unwrap_or(&[]),
        &child(path, "envFrom"),
    ));
    errs.extend(validate_volume_mounts(
        c.volume_mounts.as_deref().unwrap_or(&[]),
        vols,
        &child(path, "volumeMounts"),
    ));
    let pp_path = child(path, "imagePullPolicy");
    match c.image_pull_policy.as_deref().unwrap_or("") {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => errs.push(FieldError::required(pp_path, "")),
        other => errs.push(FieldError::not_supported(
            pp_path,
            &render_str(other),
            &["Always", "IfNotPresent", "Never"],
        )),
    }
    if let Some(r) = &c.resources {
        errs.extend(validate_resources(r, &child(path, "resources")));
    }
    errs
}

/// `validateContainerPorts`.
fn validate_container_ports(c: &Container, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut names = BTreeSet::new();
    for (i, p) in c.ports.iter().flatten().enumerate() {
        let ppath = index(path, i);
        let name = p.name.as_deref().unwrap_or("");
        if !name.is_empty() {
            let msgs = format::is_valid_port_name(name);
            if !msgs.is_empty() {
                errs.extend(invalid_each(&child(&ppath, "name"), name, msgs));
            } else if !names.insert(name) {
                errs.push(FieldError::duplicate(
                    child(&ppath, "name"),
                    &render_str(name),
                ));
            }
        }
        if p.container_port == 0 {
            errs.push(FieldError::required(child(&ppath, "containerPort"), ""));
        } else {
            for m in format::is_valid_port_num(i64::from(p.container_port)) {
                errs.push(FieldError::invalid(
                    child(&ppath, "containerPort"),
                    &p.container_port.to_string(),
                    &m,
                ));
            }
        }
        let host_port = p.host_port.unwrap_or(0);
        if host_port != 0 {
            for m in format::is_valid_port_num(i64::from(host_port)) {
                errs.push(FieldError::invalid(
                    child(&ppath, "hostPort"),
                    &host_port.to_string(),
                    &m,
                ));
            }
        }
        errs.extend(validate_protocol(
            p.protocol.as_deref().unwrap_or(""),
            &child(&ppath, "protocol"),
        ));
    }
    errs
}

/// A port protocol: required, one of `SCTP`, `TCP`, `UDP`.
pub(crate) fn validate_protocol(protocol: &str, path: &str) -> Vec<FieldError> {
    match protocol {
        "TCP" | "UDP" | "SCTP" => Vec::new(),
        "" => vec![FieldError::required(path, "")],
        other => vec![FieldError::not_supported(
            path,
            &render_str(other),
            &["SCTP", "TCP", "UDP"],
        )],
    }
}

/// Field paths an env var may reference through `fieldRef`.
const ENV_FIELD_PATHS: [&str; 9] = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

/// Field labels the downward API conversion knows.
const DOWNWARD_API_LABELS: [&str; 14] = [
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.serviceAccountName",
    "spec.schedulerName",
    "status.phase",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

/// Container resources a `resourceFieldRef` may reference.
const RESOURCE_FIELD_PATHS: [&str; 6] = [
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

/// `ValidateEnv` (relaxed env var names, the v1.35 default).
fn validate_env(vars: &[EnvVar], path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, ev) in vars.iter().enumerate() {
        let epath = index(path, i);
        if ev.name.is_empty() {
            errs.push(FieldError::required(child(&epath, "name"), ""));
        } else {
            errs.extend(invalid_each(
                &child(&epath, "name"),
                &ev.name,
                format::is_relaxed_env_var_name(&ev.name),
            ));
        }
        let Some(src) = &ev.value_from else { continue };
        let vpath = child(&epath, "valueFrom");
        let mut sources = 0;
        if let Some(f) = &src.field_ref {
            sources += 1;
            errs.extend(validate_field_ref(
                f.api_version.as_deref().unwrap_or(""),
                &f.field_path,
                &child(&vpath, "fieldRef"),
            ));
        }
        if let Some(r) = &src.resource_field_ref {
            sources += 1;
            let rpath = child(&child(&vpath, "resourceFieldRef"), "resource");
            if r.resource.is_empty() {
                errs.push(FieldError::required(rpath, ""));
            } else if !RESOURCE_FIELD_PATHS.contains(&r.resource.as_str())
                && !r.resource.starts_with("requests.hugepages-")
                && !r.resource.starts_with("limits.hugepages-")
            {
                errs.push(FieldError::not_supported(
                    rpath,
                    &render_str(&r.resource),
                    &RESOURCE_FIELD_PATHS,
                ));
            }
        }
        for (sel, field) in [
            (
                src.config_map_key_ref.as_ref().map(|s| (&s.name, &s.key)),
                "configMapKeyRef",
            ),
            (
                src.secret_key_ref.as_ref().map(|s| (&s.name, &s.key)),
                "secretKeyRef",
            ),
        ] {
            let Some((name, key_name)) = sel else {
                continue;
            };
            sources += 1;
            let spath = child(&vpath, field);
            errs.extend(invalid_each(
                &child(&spath, "name"),
                name,
                format::name_is_dns_subdomain(name, false),
            ));
            if key_name.is_empty() {
                errs.push(FieldError::required(child(&spath, "key"), ""));
            } else {
                errs.extend(invalid_each(
                    &child(&spath, "key"),
                    key_name,
                    format::is_config_map_key(key_name),
                ));
            }
        }
        if src.file_key_ref.is_some() {
            sources += 1;
        }
        let value_set = ev.value.as_deref().is_some_and(|v| !v.is_empty());
        if sources == 0 {
            errs.push(FieldError::invalid(
                vpath,
                "\"\"",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if value_set {
            errs.push(FieldError::invalid(
                vpath,
                "\"\"",
                "may not be specified when `value` is not empty",
            ));
        } else if sources > 1 {
            errs.push(FieldError::invalid(
                vpath,
                "\"\"",
                "may not have more than one field specified at a time",
            ));
        }
    }
    errs
}

/// `validateObjectFieldSelector` for env vars.
fn validate_field_ref(api_version: &str, field_path: &str, path: &str) -> Vec<FieldError> {
    if api_version.is_empty() {
        return vec![FieldError::required(child(path, "apiVersion"), "")];
    }
    if field_path.is_empty() {
        return vec![FieldError::required(child(path, "fieldPath"), "")];
    }
    let fp_path = child(path, "fieldPath");
    let subscripted = field_path
        .strip_suffix("']")
        .and_then(|s| s.split_once("['"))
        .map(|(p, sub)| (p.to_string(), sub.to_string()));
    let conversion_error = if api_version != "v1" {
        Some(format!("unsupported pod version: {api_version}"))
    } else {
        match &subscripted {
            Some((p, _)) if p != "metadata.annotations" && p != "metadata.labels" => Some(format!(
                "field label does not support subscript: {field_path}"
            )),
            Some(_) => None,
            None if DOWNWARD_API_LABELS.contains(&field_path) || field_path == "spec.host" => None,
            None => Some(format!("field label not supported: {field_path}")),
        }
    };
    if let Some(e) = conversion_error {
        return vec![FieldError::invalid(
            fp_path,
            &render_str(field_path),
            &format!("error converting fieldPath: {e}"),
        )];
    }
    match subscripted {
        Some((p, sub)) => {
            let sub = if p == "metadata.annotations" {
                sub.to_lowercase()
            } else {
                sub
            };
            invalid_each(path, &sub, format::is_qualified_name(&sub))
        }
        None => {
            let internal = if field_path == "spec.host" {
                "spec.nodeName"
            } else {
                field_path
            };
            if ENV_FIELD_PATHS.contains(&internal) {
                Vec::new()
            } else {
                vec![FieldError::not_supported(
                    fp_path,
                    &render_str(internal),
                    &ENV_FIELD_PATHS,
                )]
            }
        }
    }
}

/// `ValidateEnvFrom`.
fn validate_env_from(sources: &[EnvFromSource], path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, ev) in sources.iter().enumerate() {
        let epath = index(path, i);
        if let Some(prefix) = ev.prefix.as_deref().filter(|p| !p.is_empty()) {
            errs.extend(invalid_each(
                &child(&epath, "prefix"),
                prefix,
                format::is_relaxed_env_var_name(prefix),
            ));
        }
        let mut count = 0;
        for (name, field) in [
            (ev.config_map_ref.as_ref().map(|r| &r.name), "configMapRef"),
            (ev.secret_ref.as_ref().map(|r| &r.name), "secretRef"),
        ] {
            let Some(name) = name else { continue };
            count += 1;
            let npath = child(&child(&epath, field), "name");
            if name.is_empty() {
                errs.push(FieldError::required(npath, ""));
            } else {
                errs.extend(invalid_each(
                    &npath,
                    name,
                    format::name_is_dns_subdomain(name, true),
                ));
            }
        }
        if count == 0 {
            errs.push(FieldError::invalid(
                path,
                "\"\"",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if count > 1 {
            errs.push(FieldError::invalid(
                path,
                "\"\"",
                "may not have more than one field specified at a time",
            ));
        }
    }
    errs
}

/// `ValidateVolumeMounts` (the subPath errors use upstream's index-less path).
fn validate_volume_mounts(mounts: &[VolumeMount], vols: &VolumeSet, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut mount_points = BTreeSet::new();
    for (i, m) in mounts.iter().enumerate() {
        let mpath = index(path, i);
        if m.name.is_empty() {
            errs.push(FieldError::required(child(&mpath, "name"), ""));
        }
        if !vols.contains_key(&m.name) {
            errs.push(not_found(child(&mpath, "name"), &render_str(&m.name)));
        }
        if m.mount_path.is_empty() {
            errs.push(FieldError::required(child(&mpath, "mountPath"), ""));
        }
        if !mount_points.insert(m.mount_path.as_str()) {
            errs.push(FieldError::invalid(
                child(&mpath, "mountPath"),
                &render_str(&m.mount_path),
                "must be unique",
            ));
        }
        let sub_path = m.sub_path.as_deref().unwrap_or("");
        let sub_path_expr = m.sub_path_expr.as_deref().unwrap_or("");
        if !sub_path.is_empty() {
            errs.extend(local_descending_path(sub_path, &child(path, "subPath")));
        }
        if !sub_path_expr.is_empty() {
            if !sub_path.is_empty() {
                errs.push(FieldError::invalid(
                    child(&mpath, "subPathExpr"),
                    &render_str(sub_path_expr),
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            errs.extend(local_descending_path(
                sub_path_expr,
                &child(path, "subPathExpr"),
            ));
        }
    }
    errs
}

/// Resource names a container may request without a domain prefix.
fn is_standard_container_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
}

/// `IsStandardResourceName`.
fn is_standard_resource(name: &str) -> bool {
    const STANDARD: [&str; 19] = [
        "cpu",
        "memory",
        "ephemeral-storage",
        "requests.cpu",
        "requests.memory",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
        "pods",
        "services",
        "replicationcontrollers",
        "resourcequotas",
        "secrets",
        "persistentvolumeclaims",
        "storage",
        "requests.storage",
        "services.nodeports",
        "services.loadbalancers",
    ];
    STANDARD.contains(&name)
        || name.starts_with("hugepages-")
        || name.starts_with("requests.hugepages-")
}

/// `validateResourceRequirements` for containers: names, non-negative quantities,
/// requests ≤ limits (equal for resources that cannot be overcommitted).
fn validate_resources(r: &ResourceRequirements, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let lim_path = child(path, "limits");
    let req_path = child(path, "requests");
    let empty = BTreeMap::new();
    let limits = r.limits.as_ref().unwrap_or(&empty);
    let check_name_and_value = |name: &str, q: &str, qpath: &str, errs: &mut Vec<FieldError>| {
        errs.extend(invalid_each(qpath, name, format::is_qualified_name(name)));
        if !name.contains('/') {
            if !is_standard_resource(name) {
                errs.push(FieldError::invalid(
                    qpath,
                    &render_str(name),
                    "must be a standard resource type or fully qualified",
                ));
            }
            if !is_standard_container_resource(name) {
                errs.push(FieldError::invalid(
                    qpath,
                    &render_str(name),
                    "must be a standard resource for containers",
                ));
            }
        }
        if quantity::parse_nanos(q).is_some_and(|n| n < 0) {
            errs.push(FieldError::invalid(
                qpath,
                &render_str(q),
                "must be greater than or equal to 0",
            ));
        }
    };
    for (name, q) in limits {
        check_name_and_value(name, &q.0, &key(&lim_path, name), &mut errs);
    }
    for (name, q) in r.requests.iter().flatten() {
        check_name_and_value(name, &q.0, &key(&req_path, name), &mut errs);
        let overcommit = !name.starts_with("hugepages-")
            && (name.starts_with("kubernetes.io/") || !name.contains('/'));
        match limits.get(name) {
            Some(lim) => match quantity::compare(&q.0, &lim.0) {
                Some(std::cmp::Ordering::Equal) | None => {}
                Some(_) if !overcommit => errs.push(FieldError::invalid(
                    req_path.clone(),
                    &render_str(&q.0),
                    &format!("must be equal to {name} limit of {}", lim.0),
                )),
                Some(std::cmp::Ordering::Greater) => errs.push(FieldError::invalid(
                    req_path.clone(),
                    &render_str(&q.0),
                    &format!("must be less than or equal to {name} limit of {}", lim.0),
                )),
                Some(std::cmp::Ordering::Less) => {}
            },
            None if !overcommit => errs.push(FieldError::required(
                lim_path.clone(),
                "Limit must be set for non overcommitable resources",
            )),
            None => {}
        }
    }
    errs
}

/// A probe's or lifecycle hook's handler (`commonHandler`).
struct Handler<'a> {
    exec: Option<&'a ExecAction>,
    http_get: Option<&'a HTTPGetAction>,
    tcp_socket: Option<&'a TCPSocketAction>,
    grpc: Option<&'a GRPCAction>,
    sleep: Option<&'a SleepAction>,
}

/// `validateProbe`: one handler, non-negative timings, positive grace period.
fn validate_probe(p: &Probe, path: &str) -> Vec<FieldError> {
    let handler = Handler {
        exec: p.exec.as_ref(),
        http_get: p.http_get.as_ref(),
        tcp_socket: p.tcp_socket.as_ref(),
        grpc: p.grpc.as_ref(),
        sleep: None,
    };
    let mut errs = validate_handler(&handler, None, path);
    for (value, field) in [
        (p.initial_delay_seconds, "initialDelaySeconds"),
        (p.timeout_seconds, "timeoutSeconds"),
        (p.period_seconds, "periodSeconds"),
        (p.success_threshold, "successThreshold"),
        (p.failure_threshold, "failureThreshold"),
    ] {
        errs.extend(non_negative(
            i64::from(value.unwrap_or(0)),
            &child(path, field),
        ));
    }
    if let Some(g) = p.termination_grace_period_seconds.filter(|g| *g <= 0) {
        errs.push(FieldError::invalid(
            child(path, "terminationGracePeriodSeconds"),
            &g.to_string(),
            "must be greater than 0",
        ));
    }
    errs
}

/// `validateLifecycle`.
fn validate_lifecycle(l: &Lifecycle, grace: Option<i64>, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (h, field) in [(&l.post_start, "postStart"), (&l.pre_stop, "preStop")] {
        if let Some(h) = h {
            let handler = Handler {
                exec: h.exec.as_ref(),
                http_get: h.http_get.as_ref(),
                tcp_socket: h.tcp_socket.as_ref(),
                grpc: None,
                sleep: h.sleep.as_ref(),
            };
            errs.extend(validate_handler(&handler, grace, &child(path, field)));
        }
    }
    errs
}

/// `validateHandler`: exactly one of exec, httpGet, tcpSocket, grpc, sleep.
fn validate_handler(h: &Handler<'_>, grace: Option<i64>, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut count = 0;
    let mut one = |set: bool, field: &str, errs: &mut Vec<FieldError>| -> bool {
        if !set {
            return false;
        }
        if count > 0 {
            errs.push(FieldError::forbidden(
                child(path, field),
                "may not specify more than 1 handler type",
            ));
            return false;
        }
        count += 1;
        true
    };
    if one(h.exec.is_some(), "exec", &mut errs)
        && h.exec
            .is_some_and(|e| e.command.as_ref().is_none_or(Vec::is_empty))
    {
        errs.push(FieldError::required(format!("{path}.exec.command"), ""));
    }
    if one(h.http_get.is_some(), "httpGet", &mut errs)
        && let Some(g) = h.http_get
    {
        let gpath = child(path, "httpGet");
        if g.path.as_deref().unwrap_or("").is_empty() {
            errs.push(FieldError::required(child(&gpath, "path"), ""));
        }
        errs.extend(validate_port_num_or_name(&g.port, &child(&gpath, "port")));
        let scheme = g.scheme.as_deref().unwrap_or("");
        if scheme != "HTTP" && scheme != "HTTPS" {
            errs.push(FieldError::not_supported(
                child(&gpath, "scheme"),
                &render_str(scheme),
                &["HTTP", "HTTPS"],
            ));
        }
        for header in g.http_headers.iter().flatten() {
            errs.extend(invalid_each(
                &child(&gpath, "httpHeaders"),
                &header.name,
                format::is_http_header_name(&header.name),
            ));
        }
    }
    if one(h.tcp_socket.is_some(), "tcpSocket", &mut errs)
        && let Some(t) = h.tcp_socket
    {
        errs.extend(validate_port_num_or_name(
            &t.port,
            &format!("{path}.tcpSocket.port"),
        ));
    }
    if one(h.grpc.is_some(), "grpc", &mut errs)
        && let Some(g) = h.grpc
    {
        errs.extend(validate_port_num_or_name(
            &IntOrString::Int(g.port),
            &format!("{path}.grpc.port"),
        ));
    }
    if one(h.sleep.is_some(), "sleep", &mut errs)
        && let (Some(s), Some(grace)) = (h.sleep, grace)
        && (s.seconds < 0 || s.seconds > grace)
    {
        errs.push(FieldError::invalid(
            child(path, "sleep"),
            &s.seconds.to_string(),
            &format!("must be non-negative and less than terminationGracePeriodSeconds ({grace})"),
        ));
    }
    if count == 0 {
        errs.push(FieldError::required(path, "must specify a handler type"));
    }
    errs
}

/// `ValidatePortNumOrName`.
pub(crate) fn validate_port_num_or_name(port: &IntOrString, path: &str) -> Vec<FieldError> {
    match port {
        IntOrString::Int(i) => format::is_valid_port_num(i64::from(*i))
            .into_iter()
            .map(|m| FieldError::invalid(path, &i.to_string(), &m))
            .collect(),
        IntOrString::String(s) => invalid_each(path, s, format::is_valid_port_name(s)),
    }
}

/// `AccumulateUniqueHostPorts`: a host port (protocol, IP, port) may be used once.
fn host_port_conflicts(containers: &[Container], path: &str) -> Vec<FieldError> {
    let mut seen = BTreeSet::new();
    let mut errs = Vec::new();
    for (ci, c) in containers.iter().enumerate() {
        for (pi, p) in c.ports.iter().flatten().enumerate() {
            let hp = p.host_port.unwrap_or(0);
            if hp == 0 {
                continue;
            }
            let k = format!(
                "{}/{}/{hp}",
                p.protocol.as_deref().unwrap_or(""),
                p.host_ip.as_deref().unwrap_or("")
            );
            if !seen.insert(k.clone()) {
                errs.push(FieldError::duplicate(
                    format!("{path}[{ci}].ports[{pi}].hostPort"),
                    &render_str(&k),
                ));
            }
        }
    }
    errs
}

/// `ValidateTolerations`.
pub(crate) fn validate_tolerations(tolerations: &[Toleration], path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, t) in tolerations.iter().enumerate() {
        let tpath = index(path, i);
        let key_name = t.key.as_deref().unwrap_or("");
        let operator = t.operator.as_deref().unwrap_or("");
        let value = t.value.as_deref().unwrap_or("");
        let effect = t.effect.as_deref().unwrap_or("");
        if !key_name.is_empty() {
            errs.extend(invalid_each(
                &child(&tpath, "key"),
                key_name,
                format::is_qualified_name(key_name),
            ));
        }
        if key_name.is_empty() && operator != "Exists" {
            errs.push(FieldError::invalid(
                child(&tpath, "operator"),
                &render_str(operator),
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if t.toleration_seconds.is_some() && effect != "NoExecute" {
            errs.push(FieldError::invalid(
                child(&tpath, "effect"),
                &render_str(effect),
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match operator {
            "Equal" | "" => {
                let msgs = format::is_valid_label_value(value);
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(
                        child(&tpath, "operator"),
                        &render_str(value),
                        &msgs.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(FieldError::invalid(
                        child(&tpath, "operator"),
                        &render_str(value),
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                child(&tpath, "operator"),
                &render_str(other),
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() && !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute")
        {
            errs.push(FieldError::not_supported(
                child(&tpath, "effect"),
                &render_str(effect),
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            ));
        }
    }
    errs
}

/// The update rules of `ValidatePodUpdate`: same containers, images may change,
/// activeDeadlineSeconds may only be set or lowered, tolerations only added, scheduling
/// gates only removed, everything else immutable.
fn validate_spec_update(new: &PodSpec, old: &PodSpec) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let empty = Vec::new();
    for (new_list, old_list, field) in [
        (&new.containers, &old.containers, "containers"),
        (
            new.init_containers.as_ref().unwrap_or(&empty),
            old.init_containers.as_ref().unwrap_or(&empty),
            "initContainers",
        ),
    ] {
        let path = format!("spec.{field}");
        if new_list.len() != old_list.len() {
            errs.push(FieldError::forbidden(
                path,
                "pod updates may not add or remove containers",
            ));
            return errs;
        }
        for (i, c) in new_list.iter().enumerate() {
            let image = c.image.as_deref().unwrap_or("");
            if image.is_empty() {
                errs.push(FieldError::required(format!("{path}[{i}].image"), ""));
            }
            if image.trim() != image {
                errs.push(FieldError::invalid(
                    format!("{path}[{i}].image"),
                    &render_str(image),
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }
    match (new.active_deadline_seconds, old.active_deadline_seconds) {
        (Some(n), _) if !(0..=MAX_INT32).contains(&n) => {
            errs.push(FieldError::invalid(
                "spec.activeDeadlineSeconds",
                &n.to_string(),
                &format::inclusive_range_error(0, MAX_INT32),
            ));
            return errs;
        }
        (Some(n), Some(o)) if o < n => {
            errs.push(FieldError::invalid(
                "spec.activeDeadlineSeconds",
                &n.to_string(),
                "must be less than or equal to previous value",
            ));
            return errs;
        }
        (None, Some(_)) => errs.push(FieldError::invalid(
            "spec.activeDeadlineSeconds",
            "null",
            "must not update from a positive integer to nil value",
        )),
        _ => {}
    }
    let new_tol = new.tolerations.as_deref().unwrap_or(&[]);
    let old_tol = old.tolerations.as_deref().unwrap_or(&[]);
    let kept = old_tol.iter().all(|o| {
        new_tol.iter().any(|n| {
            Toleration {
                toleration_seconds: n.toleration_seconds,
                ..o.clone()
            } == *n
        })
    });
    if kept {
        errs.extend(validate_tolerations(new_tol, "spec.tolerations"));
    } else {
        errs.push(FieldError::forbidden(
            "spec.tolerations",
            "existing toleration can not be modified except its tolerationSeconds",
        ));
    }
    let old_gates: BTreeSet<&str> = old
        .scheduling_gates
        .iter()
        .flatten()
        .map(|g| g.name.as_str())
        .collect();
    for (i, g) in new.scheduling_gates.iter().flatten().enumerate() {
        if !old_gates.contains(g.name.as_str()) {
            errs.push(FieldError::forbidden(
                format!("spec.schedulingGates[{i}].name"),
                &format!(
                    "only deletion is allowed, but found new scheduling gate '{}'",
                    g.name
                ),
            ));
        }
    }
    let old_view = spec_view(old);
    let munged = spec_view(&munge(new, old));
    if !semantic::equal(&munged, &old_view) {
        let diff = render_diff(
            &semantic::normalize(&old_view),
            &semantic::normalize(&munged),
        );
        errs.push(FieldError::forbidden(
            "spec",
            &format!(
                "pod updates may not change fields other than {}\n{diff}",
                UPDATABLE_POD_SPEC_FIELDS.join(",")
            ),
        ));
    }
    errs
}

/// `new` with the updatable fields taken from `old`.
fn munge(new: &PodSpec, old: &PodSpec) -> PodSpec {
    let mut m = new.clone();
    for (c, o) in m.containers.iter_mut().zip(&old.containers) {
        c.image.clone_from(&o.image);
    }
    if let (Some(inits), Some(old_inits)) =
        (m.init_containers.as_mut(), old.init_containers.as_ref())
    {
        for (c, o) in inits.iter_mut().zip(old_inits) {
            c.image.clone_from(&o.image);
        }
    }
    m.active_deadline_seconds = old.active_deadline_seconds;
    m.scheduling_gates.clone_from(&old.scheduling_gates);
    m.tolerations.clone_from(&old.tolerations);
    if old.termination_grace_period_seconds.is_some_and(|g| g < 0)
        && m.termination_grace_period_seconds == Some(1)
    {
        m.termination_grace_period_seconds = old.termination_grace_period_seconds;
    }
    m
}

/// A pod spec for comparison; ephemeral containers change through their own subresource.
fn spec_view(spec: &PodSpec) -> Value {
    let mut v = serde_json::to_value(spec).unwrap_or(Value::Null);
    if let Some(map) = v.as_object_mut() {
        map.remove("ephemeralContainers");
        // The deprecated alias always mirrors serviceAccountName.
        map.remove("serviceAccount");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machinery::defaults::default_pod;
    use serde_json::json;

    fn merge(base: &mut Value, patch: Value) {
        match (base, patch) {
            (Value::Object(b), Value::Object(p)) => {
                for (k, v) in p {
                    if v.is_null() {
                        b.remove(&k);
                    } else {
                        merge(b.entry(k).or_insert(Value::Null), v);
                    }
                }
            }
            (b, p) => *b = p,
        }
    }

    fn base() -> Value {
        json!({
            "metadata": {"name": "p", "namespace": "default", "resourceVersion": "1"},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}
        })
    }

    fn pod(edit: Value) -> Pod {
        pod_from(base(), edit)
    }

    fn pod_from(mut base: Value, edit: Value) -> Pod {
        merge(&mut base, edit);
        let mut p: Pod = serde_json::from_value(base).expect("pod json");
        default_pod(&mut p);
        p
    }

    fn containers(list: Value) -> Value {
        json!({"spec": {"containers": list}})
    }

    fn lines(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::line).collect()
    }

    #[test]
    fn create_table() {
        let label_regex = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
        let cases: Vec<(&str, Value, Vec<String>)> = vec![
            ("valid", json!({}), vec![]),
            ("no containers", containers(json!([])), vec!["spec.containers: Required value".into()]),
            (
                "missing image",
                containers(json!([{"name": "app"}])),
                vec!["spec.containers[0].image: Required value".into()],
            ),
            (
                "duplicate container names",
                containers(json!([{"name": "app", "image": "a"}, {"name": "app", "image": "b"}])),
                vec!["spec.containers[1].name: Duplicate value: \"app\"".into()],
            ),
            (
                "container name not a DNS label",
                containers(json!([{"name": "App_1", "image": "a"}])),
                vec![format!("spec.containers[0].name: Invalid value: \"App_1\": {label_regex}")],
            ),
            (
                "bad restartPolicy",
                json!({"spec": {"restartPolicy": "Sometimes"}}),
                vec!["spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"".into()],
            ),
            (
                "port out of range",
                containers(json!([{"name": "app", "image": "a", "ports": [{"containerPort": 70000}]}])),
                vec!["spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive".into()],
            ),
            (
                "bad port protocol",
                containers(json!([{"name": "app", "image": "a", "ports": [{"containerPort": 80, "protocol": "HTTP"}]}])),
                vec!["spec.containers[0].ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"".into()],
            ),
            (
                "duplicate port names",
                containers(json!([{"name": "app", "image": "a", "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 81, "name": "http"}]}])),
                vec!["spec.containers[0].ports[1].name: Duplicate value: \"http\"".into()],
            ),
            (
                "mount of unknown volume",
                containers(json!([{"name": "app", "image": "a", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}])),
                vec!["spec.containers[0].volumeMounts[0].name: Not found: \"data\"".into()],
            ),
            (
                "duplicate volume names",
                json!({"spec": {"volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]}}),
                vec!["spec.volumes[1].name: Duplicate value: \"v\"".into()],
            ),
            (
                "two volume sources",
                json!({"spec": {"volumes": [{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}]}}),
                vec!["spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type".into()],
            ),
            (
                "probe with two handlers",
                containers(json!([{"name": "app", "image": "a", "livenessProbe": {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}}}])),
                vec!["spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type".into()],
            ),
            (
                "probe without handler",
                containers(json!([{"name": "app", "image": "a", "readinessProbe": {"periodSeconds": 5}}])),
                vec!["spec.containers[0].readinessProbe: Required value: must specify a handler type".into()],
            ),
            (
                "liveness successThreshold",
                containers(json!([{"name": "app", "image": "a", "livenessProbe": {"exec": {"command": ["true"]}, "successThreshold": 2}}])),
                vec!["spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1".into()],
            ),
            (
                "image whitespace",
                containers(json!([{"name": "app", "image": " nginx"}])),
                vec!["spec.containers[0].image: Invalid value: \" nginx\": must not have leading or trailing whitespace".into()],
            ),
            (
                "bad env fieldPath",
                containers(json!([{"name": "app", "image": "a", "env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "status.phase"}}}]}])),
                vec!["spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: \"status.phase\": supported values: \"metadata.name\", \"metadata.namespace\", \"metadata.uid\", \"spec.nodeName\", \"spec.serviceAccountName\", \"status.hostIP\", \"status.hostIPs\", \"status.podIP\", \"status.podIPs\"".into()],
            ),
            (
                "requests above limits",
                containers(json!([{"name": "app", "image": "a", "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}])),
                vec!["spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1".into()],
            ),
            (
                "label value too long",
                json!({"metadata": {"labels": {"app": "x".repeat(64)}}}),
                vec![format!("metadata.labels: Invalid value: \"{}\": must be no more than 63 bytes", "x".repeat(64))],
            ),
            (
                "ephemeral containers on create",
                json!({"spec": {"ephemeralContainers": [{"name": "dbg", "image": "busybox"}]}}),
                vec!["spec.ephemeralContainers: Forbidden: cannot be set on create".into()],
            ),
            (
                "activeDeadlineSeconds 0",
                json!({"spec": {"activeDeadlineSeconds": 0}}),
                vec!["spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive".into()],
            ),
            (
                "toleration without key",
                json!({"spec": {"tolerations": [{"operator": "Equal", "value": "x"}]}}),
                vec!["spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"".into()],
            ),
        ];
        for (name, edit, want) in cases {
            let p = pod(edit);
            assert_eq!(lines(&validate_pod(&p, None)), want, "case {name}");
        }
    }

    #[test]
    fn update_table() {
        let old_json = {
            let mut b = base();
            merge(
                &mut b,
                json!({"spec": {"activeDeadlineSeconds": 100, "tolerations": [{"key": "a", "operator": "Exists"}]}}),
            );
            b
        };
        let old = pod_from(old_json.clone(), json!({}));
        let cases: Vec<(&str, Value, Vec<String>)> = vec![
            ("image change", containers(json!([{"name": "app", "image": "nginx:2"}])), vec![]),
            ("lower deadline", json!({"spec": {"activeDeadlineSeconds": 50}}), vec![]),
            (
                "raise deadline",
                json!({"spec": {"activeDeadlineSeconds": 200}}),
                vec!["spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value".into()],
            ),
            (
                "add toleration",
                json!({"spec": {"tolerations": [{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}]}}),
                vec![],
            ),
            (
                "remove toleration",
                json!({"spec": {"tolerations": []}}),
                vec!["spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds".into()],
            ),
            (
                "add container",
                containers(json!([{"name": "app", "image": "nginx:1.27"}, {"name": "b", "image": "x"}])),
                vec!["spec.containers: Forbidden: pod updates may not add or remove containers".into()],
            ),
            (
                "clear image",
                containers(json!([{"name": "app", "image": ""}])),
                vec!["spec.containers[0].image: Required value".into(), "spec.containers[0].image: Required value".into()],
            ),
        ];
        for (name, edit, want) in cases {
            let new = pod_from(old_json.clone(), edit);
            assert_eq!(lines(&validate_pod(&new, Some(&old))), want, "case {name}");
        }
    }

    #[test]
    fn update_of_immutable_field_is_forbidden_with_upstream_prefix() {
        let old = pod(json!({}));
        let new = pod(json!({"spec": {"nodeName": "node-b"}}));
        let errs = validate_pod(&new, Some(&old));
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "spec");
        assert_eq!(errs[0].reason, "FieldValueForbidden");
        let prefix = "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n";
        assert!(errs[0].message.starts_with(prefix), "{}", errs[0].message);
        assert!(
            errs[0].message.contains("+ \t  \"nodeName\": \"node-b\""),
            "{}",
            errs[0].message
        );
    }

    #[test]
    fn template_specs_skip_pod_only_rules() {
        let mut spec: PodSpec = serde_json::from_value(json!({"hostNetwork": true, "containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80}]}]}))
            .expect("spec json");
        crate::machinery::defaults::default_pod_spec(&mut spec);
        assert!(validate_pod_spec(&spec, "spec.template.spec", false).is_empty());
        assert_eq!(
            lines(&validate_pod_spec(&spec, "spec", true)),
            vec![
                "spec.containers[0].ports[0].hostPort: Invalid value: 0: must match `containerPort` when `hostNetwork` is true"
            ]
        );
    }
}
