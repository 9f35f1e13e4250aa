//! One printer per kind: the cells of a row, from the stored object, as kube-apiserver's
//! `printers.go` computes them.

use super::*;

// ---------------------------------------------------------------------------------------------
// Printers
// ---------------------------------------------------------------------------------------------

pub(super) fn print_default(obj: &Value, _now: Timestamp) -> Row {
    let created = parse_time(at(obj, &["metadata", "creationTimestamp"])).map_or_else(
        || "0001-01-01T00:00:00Z".to_string(),
        |t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    );
    Row::new(vec![s(name(obj)), s(created)])
}

pub(super) fn condition_status<'a>(conditions: &'a [Value], kind: &str) -> Option<&'a str> {
    conditions
        .iter()
        .find(|c| str_at(c, &["type"]) == kind)
        .map(|c| str_at(c, &["status"]))
}

pub(super) fn is_restartable_init_container(container: Option<&Value>) -> bool {
    container.is_some_and(|c| str_at(c, &["restartPolicy"]) == "Always")
}

pub(super) fn print_pod(pod: &Value, now: Timestamp) -> Row {
    let init_specs = list_at(pod, &["spec", "initContainers"]);
    let conditions = list_at(pod, &["status", "conditions"]);
    // The pod strategy sets phase Pending on create.
    let phase = or_default(str_at(pod, &["status", "phase"]), "Pending");
    let status_reason = str_at(pod, &["status", "reason"]);

    let mut restarts: i64 = 0;
    let mut restartable_restarts: i64 = 0;
    let mut total = list_at(pod, &["spec", "containers"]).len();
    let mut ready = 0usize;
    let mut last_restart: Option<Timestamp> = None;
    let mut last_restartable_restart: Option<Timestamp> = None;
    let mut reason = or_default(status_reason, phase).to_string();

    if conditions.iter().any(|c| {
        str_at(c, &["type"]) == "PodScheduled" && str_at(c, &["reason"]) == "SchedulingGated"
    }) {
        reason = "SchedulingGated".into();
    }

    let row_conditions = match phase {
        "Succeeded" => Some(json!([{
            "type": "Completed", "status": "True", "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }])),
        "Failed" => Some(json!([{
            "type": "Completed", "status": "True", "reason": "Failed",
            "message": "The pod failed.",
        }])),
        _ => None,
    };

    let init_spec = |container_name: &str| {
        init_specs
            .iter()
            .rev()
            .find(|c| str_at(c, &["name"]) == container_name)
    };
    total += init_specs
        .iter()
        .filter(|c| is_restartable_init_container(Some(c)))
        .count();

    let mut initializing = false;
    for (i, cs) in list_at(pod, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        let restart_count = int_at(cs, &["restartCount"]);
        let finished = parse_time(at(cs, &["lastState", "terminated", "finishedAt"]));
        restarts += restart_count;
        keep_latest(&mut last_restart, finished);
        let restartable = is_restartable_init_container(init_spec(str_at(cs, &["name"])));
        if restartable {
            restartable_restarts += restart_count;
            keep_latest(&mut last_restartable_restart, finished);
        }
        let terminated = at(cs, &["state", "terminated"]);
        let waiting_reason = at(cs, &["state", "waiting"]).map(|w| str_at(w, &["reason"]));
        if let Some(t) = terminated
            && int_at(t, &["exitCode"]) == 0
        {
            continue;
        }
        if restartable && bool_at(cs, &["started"]) {
            if bool_at(cs, &["ready"]) {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = terminated {
            let terminated_reason = str_at(t, &["reason"]);
            reason = if !terminated_reason.is_empty() {
                format!("Init:{terminated_reason}")
            } else if int_at(t, &["signal"]) != 0 {
                format!("Init:Signal:{}", int_at(t, &["signal"]))
            } else {
                format!("Init:ExitCode:{}", int_at(t, &["exitCode"]))
            };
        } else if let Some(w) = waiting_reason
            && !w.is_empty()
            && w != "PodInitializing"
        {
            reason = format!("Init:{w}");
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }

    if !initializing || condition_status(conditions, "Initialized") == Some("True") {
        restarts = restartable_restarts;
        last_restart = last_restartable_restart;
        let mut has_running = false;
        for cs in list_at(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts += int_at(cs, &["restartCount"]);
            keep_latest(
                &mut last_restart,
                parse_time(at(cs, &["lastState", "terminated", "finishedAt"])),
            );
            let waiting_reason = at(cs, &["state", "waiting"]).map(|w| str_at(w, &["reason"]));
            let terminated = at(cs, &["state", "terminated"]);
            if let Some(w) = waiting_reason
                && !w.is_empty()
            {
                reason = w.to_string();
            } else if let Some(t) = terminated {
                let terminated_reason = str_at(t, &["reason"]);
                reason = if !terminated_reason.is_empty() {
                    terminated_reason.to_string()
                } else if int_at(t, &["signal"]) != 0 {
                    format!("Signal:{}", int_at(t, &["signal"]))
                } else {
                    format!("ExitCode:{}", int_at(t, &["exitCode"]))
                };
            } else if bool_at(cs, &["ready"]) && at(cs, &["state", "running"]).is_some() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_status(conditions, "Ready") == Some("True") {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }

    if is_deleting(pod) && status_reason == "NodeLost" {
        reason = "Unknown".into();
    } else if is_deleting(pod) && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".into();
    }

    let restarts_cell = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", since(now, t)),
        _ => restarts.to_string(),
    };

    // v1 -> internal conversion fills podIPs from the singular podIP.
    let pod_ip = list_at(pod, &["status", "podIPs"])
        .first()
        .map(|ip| str_at(ip, &["ip"]))
        .unwrap_or_else(|| str_at(pod, &["status", "podIP"]));
    let gates = list_at(pod, &["spec", "readinessGates"]);
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_conditions = gates
            .iter()
            .filter(|g| condition_status(conditions, str_at(g, &["conditionType"])) == Some("True"))
            .count();
        format!("{true_conditions}/{}", gates.len())
    };

    Row {
        cells: vec![
            s(name(pod)),
            s(format!("{ready}/{total}")),
            s(reason),
            s(restarts_cell),
            age(pod, now),
            s(or_default(pod_ip, "<none>")),
            s(or_default(str_at(pod, &["spec", "nodeName"]), "<none>")),
            s(or_default(
                str_at(pod, &["status", "nominatedNodeName"]),
                "<none>",
            )),
            s(readiness_gates),
        ],
        conditions: row_conditions,
    }
}

pub(super) fn print_statefulset(obj: &Value, now: Timestamp) -> Row {
    // spec.replicas defaults to 1.
    let desired = at(obj, &["spec", "replicas"])
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let ready = int_at(obj, &["status", "readyReplicas"]);
    let (names, images) =
        container_cells(list_at(obj, &["spec", "template", "spec", "containers"]));
    Row::new(vec![
        s(name(obj)),
        s(format!("{ready}/{desired}")),
        age(obj, now),
        s(names),
        s(images),
    ])
}

/// `loadBalancerStatusStringer` with `wide` (the server always prints wide): sorted unique IPs/hostnames.
pub(super) fn load_balancer_ingress(obj: &Value) -> String {
    let mut result: Vec<&str> = list_at(obj, &["status", "loadBalancer", "ingress"])
        .iter()
        .map(|i| or_default(str_at(i, &["ip"]), str_at(i, &["hostname"])))
        .filter(|v| !v.is_empty())
        .collect();
    result.sort_unstable();
    result.dedup();
    result.join(",")
}

pub(super) fn service_external_ip(svc: &Value, svc_type: &str) -> String {
    let external: Vec<&str> = list_at(svc, &["spec", "externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match svc_type {
        "ClusterIP" | "NodePort" => {
            if external.is_empty() {
                "<none>".into()
            } else {
                external.join(",")
            }
        }
        "LoadBalancer" => {
            let lb = load_balancer_ingress(svc);
            if !external.is_empty() {
                let mut results: Vec<&str> = Vec::new();
                if !lb.is_empty() {
                    results.extend(lb.split(','));
                }
                results.extend(external.iter().copied());
                return results.join(",");
            }
            if lb.is_empty() {
                "<pending>".into()
            } else {
                lb
            }
        }
        "ExternalName" => str_at(svc, &["spec", "externalName"]).to_string(),
        _ => "<unknown>".into(),
    }
}

pub(super) fn service_ports(svc: &Value) -> String {
    let pieces: Vec<String> = list_at(svc, &["spec", "ports"])
        .iter()
        .map(|p| {
            let port = int_at(p, &["port"]);
            let protocol = or_default(str_at(p, &["protocol"]), "TCP");
            let node_port = int_at(p, &["nodePort"]);
            if node_port > 0 {
                format!("{port}:{node_port}/{protocol}")
            } else {
                format!("{port}/{protocol}")
            }
        })
        .collect();
    if pieces.is_empty() {
        "<none>".into()
    } else {
        pieces.join(",")
    }
}

pub(super) fn print_service(svc: &Value, now: Timestamp) -> Row {
    let svc_type = or_default(str_at(svc, &["spec", "type"]), "ClusterIP");
    let cluster_ip = list_at(svc, &["spec", "clusterIPs"])
        .first()
        .and_then(Value::as_str)
        .unwrap_or_else(|| str_at(svc, &["spec", "clusterIP"]));
    Row::new(vec![
        s(name(svc)),
        s(svc_type),
        s(or_default(cluster_ip, "<none>")),
        s(service_external_ip(svc, svc_type)),
        s(service_ports(svc)),
        age(svc, now),
        s(format_labels(at(svc, &["spec", "selector"]))),
    ])
}

/// `formatEndpoints` with all ports: the first three `ip:port` pairs, then `+ N more...`.
pub(super) fn format_endpoints(obj: &Value) -> String {
    let subsets = list_at(obj, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".into();
    }
    const MAX: usize = 3;
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0usize;
    for subset in subsets {
        let addresses = list_at(subset, &["addresses"]);
        let ports = list_at(subset, &["ports"]);
        if ports.is_empty() {
            count += addresses.len();
            for address in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(str_at(address, &["ip"]).to_string());
            }
            continue;
        }
        for port in ports {
            count += addresses.len();
            for address in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(join_host_port(
                    str_at(address, &["ip"]),
                    int_at(port, &["port"]),
                ));
            }
        }
    }
    let ret = list.join(",");
    if more {
        return format!("{ret} + {} more...", count.saturating_sub(MAX));
    }
    ret
}

pub(super) fn print_endpoints(obj: &Value, now: Timestamp) -> Row {
    Row::new(vec![s(name(obj)), s(format_endpoints(obj)), age(obj, now)])
}

pub(super) fn print_endpointslice(obj: &Value, now: Timestamp) -> Row {
    const MAX: usize = 3;
    let ports = list_at(obj, &["ports"]);
    let port_list: Vec<String> = ports
        .iter()
        .take(MAX)
        .map(|p| {
            if let Some(port) = at(p, &["port"]).and_then(Value::as_i64) {
                port.to_string()
            } else if let Some(port_name) = at(p, &["name"]) {
                port_name.as_str().unwrap_or("").to_string()
            } else {
                "*".to_string()
            }
        })
        .collect();
    let ports_cell = list_with_more(&port_list, ports.len() > MAX, ports.len(), MAX);

    let addresses: Vec<&str> = list_at(obj, &["endpoints"])
        .iter()
        .flat_map(|e| list_at(e, &["addresses"]))
        .map(|a| a.as_str().unwrap_or(""))
        .collect();
    let address_list: Vec<String> = addresses.iter().take(MAX).map(|a| a.to_string()).collect();
    let endpoints_cell = list_with_more(&address_list, addresses.len() > MAX, addresses.len(), MAX);

    Row::new(vec![
        s(name(obj)),
        s(str_at(obj, &["addressType"])),
        s(ports_cell),
        s(endpoints_cell),
        age(obj, now),
    ])
}

/// The fields the event printer reads, from either core/v1 or events.k8s.io/v1 JSON
/// (the latter converted as `Convert_v1_Event_To_core_Event` does).
pub(super) struct EventFields<'a> {
    involved: Option<&'a Value>,
    message: &'a str,
    first_timestamp: Option<&'a Value>,
    last_timestamp: Option<&'a Value>,
    count: i64,
    source_component: &'a str,
    source_host: &'a str,
    reporting_controller: &'a str,
}

impl<'a> EventFields<'a> {
    fn of(event: &'a Value) -> EventFields<'a> {
        let events_api = str_at(event, &["apiVersion"]).starts_with("events.k8s.io/")
            || (at(event, &["involvedObject"]).is_none() && at(event, &["regarding"]).is_some());
        if events_api {
            EventFields {
                involved: at(event, &["regarding"]),
                message: str_at(event, &["note"]),
                first_timestamp: at(event, &["deprecatedFirstTimestamp"]),
                last_timestamp: at(event, &["deprecatedLastTimestamp"]),
                count: int_at(event, &["deprecatedCount"]),
                source_component: str_at(event, &["deprecatedSource", "component"]),
                source_host: str_at(event, &["deprecatedSource", "host"]),
                reporting_controller: str_at(event, &["reportingController"]),
            }
        } else {
            EventFields {
                involved: at(event, &["involvedObject"]),
                message: str_at(event, &["message"]),
                first_timestamp: at(event, &["firstTimestamp"]),
                last_timestamp: at(event, &["lastTimestamp"]),
                count: int_at(event, &["count"]),
                source_component: str_at(event, &["source", "component"]),
                source_host: str_at(event, &["source", "host"]),
                reporting_controller: str_at(event, &["reportingComponent"]),
            }
        }
    }
}

pub(super) fn print_event(event: &Value, now: Timestamp) -> Row {
    let f = EventFields::of(event);
    let first = match parse_time(f.first_timestamp) {
        Some(t) => since(now, t),
        None => translate_since(now, at(event, &["eventTime"])),
    };
    let mut last = match parse_time(f.last_timestamp) {
        Some(t) => since(now, t),
        None => first.clone(),
    };
    let mut count = f.count;
    if let Some(series) = at(event, &["series"]) {
        last = translate_since(now, at(series, &["lastObservedTime"]));
        count = int_at(series, &["count"]);
    } else if count == 0 {
        count = 1;
    }
    let (kind, involved_name, field_path) = match f.involved {
        Some(o) => (
            str_at(o, &["kind"]),
            str_at(o, &["name"]),
            str_at(o, &["fieldPath"]),
        ),
        None => ("", "", ""),
    };
    let target = if involved_name.is_empty() {
        kind.to_lowercase()
    } else {
        format!("{}/{involved_name}", kind.to_lowercase())
    };
    let component = or_default(f.source_component, f.reporting_controller);
    let instance = or_default(f.source_host, str_at(event, &["reportingInstance"]));
    let source = if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    };
    Row::new(vec![
        s(last),
        s(str_at(event, &["type"])),
        s(str_at(event, &["reason"])),
        s(target),
        s(field_path),
        s(source),
        s(f.message.trim()),
        s(first),
        Value::from(count),
        s(name(event)),
    ])
}

pub(super) fn print_namespace(obj: &Value, now: Timestamp) -> Row {
    // SetDefaults_NamespaceStatus: phase Active.
    let phase = or_default(str_at(obj, &["status", "phase"]), "Active");
    Row::new(vec![s(name(obj)), s(phase), age(obj, now)])
}

pub(super) fn node_address<'a>(node: &'a Value, kind: &str) -> &'a str {
    list_at(node, &["status", "addresses"])
        .iter()
        .find(|a| str_at(a, &["type"]) == kind)
        .map_or("<none>", |a| str_at(a, &["address"]))
}

/// `findNodeRoles`: `node-role.kubernetes.io/<role>` keys and `kubernetes.io/role` values, sorted.
pub(super) fn node_roles(node: &Value) -> String {
    let mut roles: Vec<&str> = at(node, &["metadata", "labels"])
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(k, v)| {
                    if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                        (!role.is_empty()).then_some(role)
                    } else if k == "kubernetes.io/role" {
                        v.as_str().filter(|v| !v.is_empty())
                    } else {
                        None
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    roles.sort_unstable();
    roles.dedup();
    if roles.is_empty() {
        "<none>".into()
    } else {
        roles.join(",")
    }
}

pub(super) fn print_node(node: &Value, now: Timestamp) -> Row {
    let ready = list_at(node, &["status", "conditions"])
        .iter()
        .rev()
        .find(|c| str_at(c, &["type"]) == "Ready");
    let mut status = vec![match ready {
        Some(c) if str_at(c, &["status"]) == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if bool_at(node, &["spec", "unschedulable"]) {
        status.push("SchedulingDisabled");
    }
    let info = |key: &str| or_default(str_at(node, &["status", "nodeInfo", key]), "<unknown>");
    Row::new(vec![
        s(name(node)),
        s(status.join(",")),
        s(node_roles(node)),
        age(node, now),
        s(str_at(node, &["status", "nodeInfo", "kubeletVersion"])),
        s(node_address(node, "InternalIP")),
        s(node_address(node, "ExternalIP")),
        s(info("osImage")),
        s(info("kernelVersion")),
        s(info("containerRuntimeVersion")),
    ])
}

/// `Quantity.String()` of a resource map entry; a missing quantity is the zero quantity "0".
pub(super) fn quantity_at(obj: &Value, path: &[&str]) -> String {
    at(obj, path)
        .map(|q| match q {
            Value::String(text) => canonical_quantity(text),
            Value::Number(n) => canonical_quantity(&n.to_string()),
            _ => "0".to_string(),
        })
        .unwrap_or_else(|| "0".to_string())
}

pub(super) fn print_pv(pv: &Value, now: Timestamp) -> Row {
    let claim = at(pv, &["spec", "claimRef"]).map_or(String::new(), |c| {
        format!("{}/{}", str_at(c, &["namespace"]), str_at(c, &["name"]))
    });
    // SetDefaults_PersistentVolume: reclaim policy Retain, phase Pending, volume mode Filesystem.
    let reclaim = or_default(
        str_at(pv, &["spec", "persistentVolumeReclaimPolicy"]),
        "Retain",
    );
    let mut phase = or_default(str_at(pv, &["status", "phase"]), "Pending");
    if is_deleting(pv) {
        phase = "Terminating";
    }
    let class = annotation(pv, BETA_STORAGE_CLASS_ANNOTATION)
        .unwrap_or_else(|| str_at(pv, &["spec", "storageClassName"]));
    let attributes_class = at(pv, &["spec", "volumeAttributesClassName"])
        .and_then(Value::as_str)
        .unwrap_or("<unset>");
    Row::new(vec![
        s(name(pv)),
        s(quantity_at(pv, &["spec", "capacity", "storage"])),
        s(access_modes(list_at(pv, &["spec", "accessModes"]))),
        s(reclaim),
        s(phase),
        s(claim),
        s(class),
        s(attributes_class),
        s(str_at(pv, &["status", "reason"])),
        age(pv, now),
        s(or_default(
            str_at(pv, &["spec", "volumeMode"]),
            "Filesystem",
        )),
    ])
}

pub(super) fn print_pvc(pvc: &Value, now: Timestamp) -> Row {
    // SetDefaults_PersistentVolumeClaim: phase Pending, volume mode Filesystem.
    let mut phase = or_default(str_at(pvc, &["status", "phase"]), "Pending");
    if is_deleting(pvc) {
        phase = "Terminating";
    }
    let volume = str_at(pvc, &["spec", "volumeName"]);
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity_at(pvc, &["status", "capacity", "storage"]),
            access_modes(list_at(pvc, &["status", "accessModes"])),
        )
    };
    let class = annotation(pvc, BETA_STORAGE_CLASS_ANNOTATION).unwrap_or_else(|| {
        at(pvc, &["spec", "storageClassName"])
            .and_then(Value::as_str)
            .unwrap_or("")
    });
    let attributes_class = at(pvc, &["spec", "volumeAttributesClassName"])
        .and_then(Value::as_str)
        .unwrap_or("<unset>");
    Row::new(vec![
        s(name(pvc)),
        s(phase),
        s(volume),
        s(capacity),
        s(modes),
        s(class),
        s(attributes_class),
        age(pvc, now),
        s(or_default(
            str_at(pvc, &["spec", "volumeMode"]),
            "Filesystem",
        )),
    ])
}

pub(super) fn print_storageclass(sc: &Value, now: Timestamp) -> Row {
    let is_default = [
        "storageclass.kubernetes.io/is-default-class",
        "storageclass.beta.kubernetes.io/is-default-class",
    ]
    .iter()
    .any(|key| annotation(sc, key) == Some("true"));
    let mut display = name(sc).to_string();
    if is_default {
        display.push_str(" (default)");
    }
    Row::new(vec![
        s(display),
        s(str_at(sc, &["provisioner"])),
        s(or_default(str_at(sc, &["reclaimPolicy"]), "Delete")),
        s(or_default(str_at(sc, &["volumeBindingMode"]), "Immediate")),
        Value::Bool(bool_at(sc, &["allowVolumeExpansion"])),
        age(sc, now),
    ])
}

pub(super) fn print_configmap(obj: &Value, now: Timestamp) -> Row {
    let data = map_len(obj, &["data"]) + map_len(obj, &["binaryData"]);
    Row::new(vec![s(name(obj)), Value::from(data), age(obj, now)])
}

/// `formatResourceName(gvk.GroupKind(), name, true)` for the controlling owner reference.
pub(super) fn controller_name(obj: &Value) -> String {
    let Some(owner) = list_at(obj, &["metadata", "ownerReferences"])
        .iter()
        .find(|o| bool_at(o, &["controller"]))
    else {
        return "<none>".into();
    };
    let owner_name = str_at(owner, &["name"]);
    let api_version = str_at(owner, &["apiVersion"]);
    let group = match api_version.matches('/').count() {
        0 => "",
        1 if api_version == "/" => "",
        1 => api_version.split('/').next().unwrap_or(""),
        // Upstream fails the request on a malformed apiVersion; show the bare name instead.
        _ => return owner_name.to_string(),
    };
    let kind = str_at(owner, &["kind"]);
    if group.is_empty() && kind.is_empty() {
        return owner_name.to_string();
    }
    let group_kind = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    format!("{}/{owner_name}", group_kind.to_lowercase())
}

pub(super) fn print_controllerrevision(obj: &Value, now: Timestamp) -> Row {
    Row::new(vec![
        s(name(obj)),
        s(controller_name(obj)),
        Value::from(int_at(obj, &["revision"])),
        age(obj, now),
    ])
}

pub(super) fn print_serviceaccount(obj: &Value, now: Timestamp) -> Row {
    Row::new(vec![
        s(name(obj)),
        Value::from(list_at(obj, &["secrets"]).len()),
        age(obj, now),
    ])
}

pub(super) fn print_secret(obj: &Value, now: Timestamp) -> Row {
    // SetDefaults_Secret: type Opaque.
    Row::new(vec![
        s(name(obj)),
        s(or_default(str_at(obj, &["type"]), "Opaque")),
        Value::from(map_len(obj, &["data"])),
        age(obj, now),
    ])
}

/// Shared by rolebindings and clusterrolebindings (`rbac.SubjectsStrings`, joined by ", ").
pub(super) fn print_rolebinding(obj: &Value, now: Timestamp) -> Row {
    let role = format!(
        "{}/{}",
        str_at(obj, &["roleRef", "kind"]),
        str_at(obj, &["roleRef", "name"])
    );
    let (mut users, mut groups, mut service_accounts) = (Vec::new(), Vec::new(), Vec::new());
    for subject in list_at(obj, &["subjects"]) {
        let subject_name = str_at(subject, &["name"]);
        match str_at(subject, &["kind"]) {
            "ServiceAccount" => service_accounts.push(format!(
                "{}/{subject_name}",
                str_at(subject, &["namespace"])
            )),
            "User" => users.push(subject_name.to_string()),
            "Group" => groups.push(subject_name.to_string()),
            _ => {}
        }
    }
    Row::new(vec![
        s(name(obj)),
        s(role),
        age(obj, now),
        s(users.join(", ")),
        s(groups.join(", ")),
        s(service_accounts.join(", ")),
    ])
}

pub(super) fn print_lease(obj: &Value, now: Timestamp) -> Row {
    Row::new(vec![
        s(name(obj)),
        s(str_at(obj, &["spec", "holderIdentity"])),
        age(obj, now),
    ])
}
