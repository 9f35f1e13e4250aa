//! `ValidateService` / `ValidateServiceUpdate` (`pkg/apis/core/validation`).
//!
//! Not covered: load-balancer source ranges and class, health-check node port allocation
//! rules, topology annotations, `status.loadBalancer`.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::format;
use super::meta;
use super::pod::{validate_port_num_or_name, validate_protocol};
use super::render::{json_str, render_int_or_string_json, render_json, render_str, render_struct};
use super::{child, index, invalid_each};
use crate::machinery::status::FieldError;

/// `MaxClientIPServiceAffinitySeconds` (one day).
const MAX_CLIENT_IP_AFFINITY_SECONDS: i32 = 86400;

/// Validates a Service on create (`old` is `None`) or update.
pub fn validate_service(new: &Service, old: Option<&Service>) -> Vec<FieldError> {
    let default_spec = ServiceSpec::default();
    let spec = new.spec.as_ref().unwrap_or(&default_spec);
    let mut errs = Vec::new();
    if let Some(old) = old {
        let old_spec = old.spec.as_ref().unwrap_or(&default_spec);
        errs.extend(meta::validate_object_meta_update(
            &new.metadata,
            &old.metadata,
            "metadata",
        ));
        errs.extend(validate_cluster_ips_update(spec, old_spec));
        errs.extend(validate_ip_families_update(spec, old_spec));
    }
    errs.extend(meta::validate_object_meta_with(
        &new.metadata,
        true,
        format::name_is_dns1035_label,
        "metadata",
    ));
    errs.extend(validate_spec(spec));
    errs
}

fn cluster_ips(spec: &ServiceSpec) -> &[String] {
    spec.cluster_ips.as_deref().unwrap_or(&[])
}

fn is_headless(spec: &ServiceSpec) -> bool {
    cluster_ips(spec) == ["None"]
}

/// The service-level checks of `ValidateService`, in upstream order.
fn validate_spec(spec: &ServiceSpec) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let type_ = spec.type_.as_deref().unwrap_or("");
    let ports = spec.ports.as_deref().unwrap_or(&[]);
    let headless = is_headless(spec);
    if ports.is_empty() && !headless && type_ != "ExternalName" {
        errs.push(FieldError::required("spec.ports", ""));
    }
    match type_ {
        "LoadBalancer" | "NodePort" if headless => errs.push(FieldError::invalid(
            "spec.clusterIPs[0]",
            "\"None\"",
            &format!("may not be set to 'None' for {type_} services"),
        )),
        "ExternalName" => {
            for (set, field) in [
                (!cluster_ips(spec).is_empty(), "spec.clusterIPs"),
                (
                    spec.ip_families.as_ref().is_some_and(|f| !f.is_empty()),
                    "spec.ipFamilies",
                ),
                (spec.ip_family_policy.is_some(), "spec.ipFamilyPolicy"),
            ] {
                if set {
                    errs.push(FieldError::forbidden(
                        field,
                        "may not be set for ExternalName services",
                    ));
                }
            }
            let cname = spec.external_name.as_deref().unwrap_or("");
            let cname = cname.strip_suffix('.').unwrap_or(cname);
            if cname.is_empty() {
                errs.push(FieldError::required("spec.externalName", ""));
            } else {
                errs.extend(invalid_each(
                    "spec.externalName",
                    cname,
                    format::is_dns1123_subdomain(cname),
                ));
            }
        }
        _ => {}
    }
    let mut names = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        errs.extend(validate_service_port(
            p,
            ports.len() > 1,
            &mut names,
            &index("spec.ports", i),
        ));
    }
    errs.extend(meta::validate_labels(
        spec.selector.as_ref(),
        "spec.selector",
    ));
    match spec.session_affinity.as_deref().unwrap_or("") {
        "" => errs.push(FieldError::required("spec.sessionAffinity", "")),
        "ClientIP" => errs.extend(validate_client_ip_affinity(spec)),
        "None" => {
            if spec.session_affinity_config.is_some() {
                errs.push(FieldError::forbidden(
                    "spec.sessionAffinityConfig",
                    "must not be set when session affinity is None",
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            "spec.sessionAffinity",
            &render_str(other),
            &["ClientIP", "None"],
        )),
    }
    errs.extend(validate_cluster_ips(spec));
    for (i, ip) in spec.external_ips.iter().flatten().enumerate() {
        let path = index("spec.externalIPs", i);
        let msgs = format::is_valid_ip(ip);
        if msgs.is_empty() {
            errs.extend(invalid_each(&path, ip, format::non_special_ip(ip)));
        } else {
            errs.extend(invalid_each(&path, ip, msgs));
        }
    }
    match type_ {
        "" => errs.push(FieldError::required("spec.type", "")),
        "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName" => {}
        other => errs.push(FieldError::not_supported(
            "spec.type",
            &render_str(other),
            &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        )),
    }
    if type_ == "ClusterIP" {
        for (i, p) in ports.iter().enumerate() {
            if p.node_port.unwrap_or(0) != 0 {
                errs.push(FieldError::forbidden(
                    format!("spec.ports[{i}].nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }
    let mut node_ports = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let np = p.node_port.unwrap_or(0);
        if np != 0 && !node_ports.insert((p.protocol.clone().unwrap_or_default(), np)) {
            errs.push(FieldError::duplicate(
                format!("spec.ports[{i}].nodePort"),
                &np.to_string(),
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let protocol = p.protocol.clone().unwrap_or_default();
        if !seen.insert((protocol.clone(), p.port)) {
            errs.push(FieldError::duplicate(
                index("spec.ports", i),
                &internal_port_key(&protocol, p.port),
            ));
        }
    }
    if spec.allocate_load_balancer_node_ports.is_some() && type_ != "LoadBalancer" {
        errs.push(FieldError::forbidden(
            "spec.allocateLoadBalancerNodePorts",
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    if type_ == "LoadBalancer" && spec.allocate_load_balancer_node_ports.is_none() {
        errs.push(FieldError::required("allocateLoadBalancerNodePorts", ""));
    }
    errs.extend(validate_traffic_policies(spec, type_));
    errs
}

/// The internal `core.ServicePort{Protocol, Port}` used as the duplicate key, as JSON.
fn internal_port_key(protocol: &str, port: i32) -> String {
    render_struct(&[
        ("Name", Some(json_str(""))),
        ("Protocol", Some(json_str(protocol))),
        ("AppProtocol", Some("null".into())),
        ("Port", Some(port.to_string())),
        (
            "TargetPort",
            Some(render_int_or_string_json(Some(&IntOrString::Int(0)))),
        ),
        ("NodePort", Some("0".into())),
    ])
}

/// `validateServicePort`.
fn validate_service_port(
    p: &ServicePort,
    require_name: bool,
    names: &mut BTreeSet<String>,
    path: &str,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = p.name.as_deref().unwrap_or("");
    if require_name && name.is_empty() {
        errs.push(FieldError::required(child(path, "name"), ""));
    } else if !name.is_empty() {
        errs.extend(invalid_each(
            &child(path, "name"),
            name,
            format::is_dns1123_label(name),
        ));
        if !names.insert(name.to_string()) {
            errs.push(FieldError::duplicate(
                child(path, "name"),
                &render_str(name),
            ));
        }
    }
    for m in format::is_valid_port_num(i64::from(p.port)) {
        errs.push(FieldError::invalid(
            child(path, "port"),
            &p.port.to_string(),
            &m,
        ));
    }
    errs.extend(validate_protocol(
        p.protocol.as_deref().unwrap_or(""),
        &child(path, "protocol"),
    ));
    errs.extend(validate_port_num_or_name(
        p.target_port.as_ref().unwrap_or(&IntOrString::Int(0)),
        &child(path, "targetPort"),
    ));
    if let Some(app) = &p.app_protocol {
        errs.extend(invalid_each(
            &child(path, "appProtocol"),
            app,
            format::is_qualified_name(app),
        ));
    }
    errs
}

/// `validateClientIPAffinityConfig`.
fn validate_client_ip_affinity(spec: &ServiceSpec) -> Vec<FieldError> {
    let path = "spec.sessionAffinityConfig";
    let detail = "when session affinity type is ClientIP";
    let Some(config) = &spec.session_affinity_config else {
        return vec![FieldError::required(path, detail)];
    };
    let Some(client_ip) = &config.client_ip else {
        return vec![FieldError::required(format!("{path}.clientIP"), detail)];
    };
    let Some(timeout) = client_ip.timeout_seconds else {
        return vec![FieldError::required(
            format!("{path}.clientIP.timeoutSeconds"),
            detail,
        )];
    };
    if timeout <= 0 || timeout > MAX_CLIENT_IP_AFFINITY_SECONDS {
        return vec![FieldError::invalid(
            format!("{path}.clientIP.timeoutSeconds"),
            &timeout.to_string(),
            &format!("must be greater than 0 and less than {MAX_CLIENT_IP_AFFINITY_SECONDS}"),
        )];
    }
    Vec::new()
}

/// `ValidateServiceClusterIPsRelatedFields`.
fn validate_cluster_ips(spec: &ServiceSpec) -> Vec<FieldError> {
    if spec.type_.as_deref() == Some("ExternalName") {
        return Vec::new();
    }
    let mut errs = Vec::new();
    let ips = cluster_ips(spec);
    let shown_ips = || render_json(&ips);
    let cluster_ip = spec.cluster_ip.as_deref().unwrap_or("");
    if !cluster_ip.is_empty() {
        if ips.is_empty() {
            errs.push(FieldError::required("spec.clusterIPs", ""));
        } else if ips[0] != cluster_ip {
            errs.push(FieldError::invalid(
                "spec.clusterIPs",
                &shown_ips(),
                "first value must match `clusterIP`",
            ));
        }
    } else if !ips.is_empty() {
        errs.push(FieldError::invalid(
            "spec.clusterIPs",
            &shown_ips(),
            "must be empty when `clusterIP` is not specified",
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, family) in spec.ip_families.iter().flatten().enumerate() {
        let path = index("spec.ipFamilies", i);
        if family != "IPv4" && family != "IPv6" {
            errs.push(FieldError::not_supported(
                path.clone(),
                &render_str(family),
                &["IPv4", "IPv6"],
            ));
        }
        if !seen.insert(family.as_str()) {
            errs.push(FieldError::duplicate(path, &render_str(family)));
        }
    }
    if let Some(policy) = spec.ip_family_policy.as_deref()
        && !matches!(
            policy,
            "SingleStack" | "PreferDualStack" | "RequireDualStack"
        )
    {
        errs.push(FieldError::not_supported(
            "spec.ipFamilyPolicy",
            &render_str(policy),
            &["PreferDualStack", "RequireDualStack", "SingleStack"],
        ));
    }
    let mut invalid_ips = false;
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && ip == "None" {
            if ips.len() > 1 {
                invalid_ips = true;
                errs.push(FieldError::invalid(
                    "spec.clusterIPs",
                    &shown_ips(),
                    "'None' must be the first and only value",
                ));
            }
            continue;
        }
        let msgs = format::is_valid_ip(ip);
        invalid_ips |= !msgs.is_empty();
        errs.extend(invalid_each(&index("spec.clusterIPs", i), ip, msgs));
    }
    if ips.len() > 2 {
        errs.push(FieldError::invalid(
            "spec.clusterIPs",
            &shown_ips(),
            "may only hold up to 2 values",
        ));
    }
    if invalid_ips {
        return errs;
    }
    if ips.len() > 1 {
        let v6: Vec<bool> = ips.iter().map(|ip| ip.contains(':')).collect();
        if v6.iter().all(|b| *b) || v6.iter().all(|b| !*b) {
            errs.push(FieldError::invalid(
                "spec.clusterIPs",
                &shown_ips(),
                "may specify no more than one IP for each IP family",
            ));
        }
    }
    if !is_headless(spec) {
        for (i, (ip, family)) in ips
            .iter()
            .zip(spec.ip_families.iter().flatten())
            .enumerate()
        {
            let is_v6 = ip.contains(':');
            if family == "IPv4" && is_v6 {
                errs.push(FieldError::invalid(
                    index("spec.clusterIPs", i),
                    &render_str(ip),
                    &format!("expected an IPv4 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
            if family == "IPv6" && !is_v6 {
                errs.push(FieldError::invalid(
                    index("spec.clusterIPs", i),
                    &render_str(ip),
                    &format!("expected an IPv6 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
        }
    }
    errs
}

/// External, internal and traffic-distribution policies.
fn validate_traffic_policies(spec: &ServiceSpec, type_: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let externally_accessible = type_ == "LoadBalancer"
        || type_ == "NodePort"
        || (type_ == "ClusterIP"
            && spec
                .external_ips
                .as_ref()
                .is_some_and(|ips| !ips.is_empty()));
    let etp = spec.external_traffic_policy.as_deref().unwrap_or("");
    if !externally_accessible {
        if !etp.is_empty() {
            errs.push(FieldError::invalid(
                "spec.externalTrafficPolicy",
                &render_str(etp),
                "may only be set for externally-accessible services",
            ));
        }
    } else if etp.is_empty() {
        errs.push(FieldError::required("spec.externalTrafficPolicy", ""));
    } else if etp != "Cluster" && etp != "Local" {
        errs.push(FieldError::not_supported(
            "spec.externalTrafficPolicy",
            &render_str(etp),
            &["Cluster", "Local"],
        ));
    }
    let needs_health_check = type_ == "LoadBalancer" && etp == "Local";
    let hcnp = spec.health_check_node_port.unwrap_or(0);
    if !needs_health_check && hcnp != 0 {
        errs.push(FieldError::invalid(
            "spec.healthCheckNodePort",
            &hcnp.to_string(),
            "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
        ));
    }
    match spec.internal_traffic_policy.as_deref() {
        None if matches!(type_, "NodePort" | "LoadBalancer" | "ClusterIP") => {
            errs.push(FieldError::required("spec.internalTrafficPolicy", ""))
        }
        Some(p) if p != "Cluster" && p != "Local" => errs.push(FieldError::not_supported(
            "spec.internalTrafficPolicy",
            &render_str(p),
            &["Cluster", "Local"],
        )),
        _ => {}
    }
    if let Some(td) = spec.traffic_distribution.as_deref()
        && !matches!(td, "PreferClose" | "PreferSameZone" | "PreferSameNode")
    {
        errs.push(FieldError::not_supported(
            "spec.trafficDistribution",
            &render_str(td),
            &["PreferClose", "PreferSameZone", "PreferSameNode"],
        ));
    }
    errs
}

/// `validateUpgradeDowngradeClusterIPs`: the primary cluster IP never changes once set.
fn validate_cluster_ips_update(new: &ServiceSpec, old: &ServiceSpec) -> Vec<FieldError> {
    if new.type_.as_deref() == Some("ExternalName") || old.type_.as_deref() == Some("ExternalName")
    {
        return Vec::new();
    }
    if is_headless(new) && is_headless(old) {
        return Vec::new();
    }
    let (new_ips, old_ips) = (cluster_ips(new), cluster_ips(old));
    let shown = render_json(&new_ips);
    let mut errs = Vec::new();
    if new_ips.len() == old_ips.len() {
        for (i, ip) in old_ips.iter().enumerate() {
            if *ip != new_ips[i] {
                errs.push(FieldError::invalid(
                    index("spec.clusterIPs", i),
                    &shown,
                    "may not change once set",
                ));
            }
        }
    } else if old_ips.len() > new_ips.len() {
        if new_ips.is_empty() {
            errs.push(FieldError::invalid(
                "spec.clusterIPs[0]",
                &shown,
                "primary clusterIP can not be unset",
            ));
        } else if new_ips[0] != old_ips[0] {
            errs.push(FieldError::invalid(
                "spec.clusterIPs[0]",
                &shown,
                "may not change once set",
            ));
        }
        if new_ips.len() == 1 && new.ip_family_policy.as_deref() != Some("SingleStack") {
            errs.push(FieldError::invalid(
                "spec.ipFamilyPolicy",
                &new.ip_family_policy
                    .as_deref()
                    .map_or_else(|| "null".into(), render_str),
                "must be set to 'SingleStack' when releasing the secondary clusterIP",
            ));
        }
    } else if !old_ips.is_empty() && new_ips[0] != old_ips[0] {
        errs.push(FieldError::invalid(
            "spec.clusterIPs[0]",
            &shown,
            "may not change once set",
        ));
    }
    errs
}

/// `validateUpgradeDowngradeIPFamilies`: the primary IP family never changes once set.
fn validate_ip_families_update(new: &ServiceSpec, old: &ServiceSpec) -> Vec<FieldError> {
    if new.type_.as_deref() == Some("ExternalName") || old.type_.as_deref() == Some("ExternalName")
    {
        return Vec::new();
    }
    if is_headless(new) || is_headless(old) {
        return Vec::new();
    }
    let empty = Vec::new();
    let (new_f, old_f) = (
        new.ip_families.as_ref().unwrap_or(&empty),
        old.ip_families.as_ref().unwrap_or(&empty),
    );
    let mut errs = Vec::new();
    if new_f.len() == old_f.len() {
        if new_f != old_f {
            errs.push(FieldError::invalid(
                "spec.ipFamilies[0]",
                &render_json(new_f),
                "may not change once set",
            ));
        }
    } else if !old_f.is_empty() && !new_f.is_empty() && new_f[0] != old_f[0] {
        errs.push(FieldError::invalid(
            "spec.ipFamilies[0]",
            &render_json(&cluster_ips(new)),
            "may not change once set",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machinery::defaults::default_service;
    use serde_json::{Value, json};

    fn svc(spec: Value) -> Service {
        let mut s: Service = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default", "resourceVersion": "1"},
            "spec": spec
        }))
        .expect("service json");
        default_service(&mut s);
        s
    }

    fn lines(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::line).collect()
    }

    #[test]
    fn create_table() {
        let cases: Vec<(&str, Value, Vec<&str>)> = vec![
            (
                "valid",
                json!({"selector": {"app": "web"}, "ports": [{"port": 80}]}),
                vec![],
            ),
            (
                "headless without ports",
                json!({"clusterIP": "None", "selector": {"app": "web"}}),
                vec![],
            ),
            (
                "no ports",
                json!({"selector": {"app": "web"}}),
                vec!["spec.ports: Required value"],
            ),
            (
                "two unnamed ports",
                json!({"ports": [{"port": 80, "name": "http"}, {"port": 81}]}),
                vec!["spec.ports[1].name: Required value"],
            ),
            (
                "port out of range",
                json!({"ports": [{"port": 0, "targetPort": 80}]}),
                vec![
                    "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                ],
            ),
            (
                "bad type",
                json!({"type": "Magic", "ports": [{"port": 80}]}),
                vec![
                    "spec.type: Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
                ],
            ),
            (
                "nodePort on ClusterIP",
                json!({"ports": [{"port": 80, "nodePort": 30080}]}),
                vec![
                    "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
                ],
            ),
            (
                "external name required",
                json!({"type": "ExternalName"}),
                vec!["spec.externalName: Required value"],
            ),
            (
                "headless LoadBalancer",
                json!({"type": "LoadBalancer", "clusterIP": "None", "ports": [{"port": 80}]}),
                vec![
                    "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for LoadBalancer services",
                ],
            ),
            (
                "duplicate port",
                json!({"ports": [{"port": 80, "name": "a"}, {"port": 80, "name": "b"}]}),
                vec![
                    "spec.ports[1]: Duplicate value: {\"Name\":\"\",\"Protocol\":\"TCP\",\"AppProtocol\":null,\"Port\":80,\"TargetPort\":0,\"NodePort\":0}",
                ],
            ),
            (
                "bad cluster IP",
                json!({"clusterIP": "10.0.0.300", "ports": [{"port": 80}]}),
                vec![
                    "spec.clusterIPs[0]: Invalid value: \"10.0.0.300\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                ],
            ),
        ];
        for (name, spec, want) in cases {
            assert_eq!(
                lines(&validate_service(&svc(spec), None)),
                want,
                "case {name}"
            );
        }
    }

    #[test]
    fn name_must_be_dns1035() {
        let mut s = svc(json!({"ports": [{"port": 80}]}));
        s.metadata.name = Some("1web".into());
        let errs = validate_service(&s, None);
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0]
                .line()
                .starts_with("metadata.name: Invalid value: \"1web\": a DNS-1035 label"),
            "{}",
            errs[0].line()
        );
    }

    #[test]
    fn cluster_ip_is_immutable() {
        let old = svc(json!({"clusterIP": "10.96.0.10", "ports": [{"port": 80}]}));
        let new = svc(json!({"clusterIP": "10.96.0.11", "ports": [{"port": 80}]}));
        assert_eq!(
            lines(&validate_service(&new, Some(&old))),
            vec!["spec.clusterIPs[0]: Invalid value: [\"10.96.0.11\"]: may not change once set"]
        );
        let same = svc(json!({"clusterIP": "10.96.0.10", "ports": [{"port": 8080}]}));
        assert!(validate_service(&same, Some(&old)).is_empty());
    }
}
