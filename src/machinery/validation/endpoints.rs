//! `ValidateEndpoints` (`pkg/apis/core/validation`) and `ValidateEndpointSlice`
//! (`pkg/apis/discovery/validation`).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{EndpointAddress, Endpoints};
use k8s_openapi::api::discovery::v1::EndpointSlice;

use super::format;
use super::meta;
use super::pod::validate_protocol;
use super::render::render_str;
use super::{child, immutable_str, index, invalid_each, too_many};
use crate::machinery::status::FieldError;

const MAX_ENDPOINTS: usize = 1000;
const MAX_ADDRESSES: usize = 100;
const MAX_PORTS: usize = 100;
const MAX_TOPOLOGY_LABELS: usize = 16;

/// Validates an Endpoints object on create (`old` is `None`) or update.
pub fn validate_endpoints(new: &Endpoints, old: Option<&Endpoints>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(old) = old {
        errs.extend(meta::validate_object_meta_update(
            &new.metadata,
            &old.metadata,
            "metadata",
        ));
    }
    errs.extend(meta::validate_object_meta(&new.metadata, true, "metadata"));
    for (i, ss) in new.subsets.iter().flatten().enumerate() {
        let path = index("subsets", i);
        let ready = ss.addresses.as_deref().unwrap_or(&[]);
        let not_ready = ss.not_ready_addresses.as_deref().unwrap_or(&[]);
        if ready.is_empty() && not_ready.is_empty() {
            errs.push(FieldError::required(
                path.clone(),
                "must specify `addresses` or `notReadyAddresses`",
            ));
        }
        for (list, field) in [(ready, "addresses"), (not_ready, "notReadyAddresses")] {
            for (j, a) in list.iter().enumerate() {
                errs.extend(validate_address(a, &index(&child(&path, field), j)));
            }
        }
        let ports = ss.ports.as_deref().unwrap_or(&[]);
        for (j, p) in ports.iter().enumerate() {
            let ppath = index(&child(&path, "ports"), j);
            let name = p.name.as_deref().unwrap_or("");
            if ports.len() > 1 && name.is_empty() {
                errs.push(FieldError::required(child(&ppath, "name"), ""));
            } else if !name.is_empty() {
                errs.extend(invalid_each(
                    &child(&ppath, "name"),
                    name,
                    format::is_dns1123_label(name),
                ));
            }
            for m in format::is_valid_port_num(i64::from(p.port)) {
                errs.push(FieldError::invalid(
                    child(&ppath, "port"),
                    &p.port.to_string(),
                    &m,
                ));
            }
            errs.extend(validate_protocol(
                p.protocol.as_deref().unwrap_or(""),
                &child(&ppath, "protocol"),
            ));
            if let Some(app) = &p.app_protocol {
                errs.extend(invalid_each(
                    &child(&ppath, "appProtocol"),
                    app,
                    format::is_qualified_name(app),
                ));
            }
        }
    }
    errs
}

fn validate_address(a: &EndpointAddress, path: &str) -> Vec<FieldError> {
    let ip_path = child(path, "ip");
    let mut errs = invalid_each(&ip_path, &a.ip, format::is_valid_ip(&a.ip));
    if let Some(h) = a.hostname.as_deref().filter(|h| !h.is_empty()) {
        errs.extend(invalid_each(
            &child(path, "hostname"),
            h,
            format::is_dns1123_label(h),
        ));
    }
    if let Some(n) = &a.node_name {
        errs.extend(invalid_each(
            &child(path, "nodeName"),
            n,
            format::name_is_dns_subdomain(n, false),
        ));
    }
    errs.extend(invalid_each(&ip_path, &a.ip, format::non_special_ip(&a.ip)));
    errs
}

/// Validates an EndpointSlice on create (`old` is `None`) or update (the address type is
/// immutable).
pub fn validate_endpointslice(new: &EndpointSlice, old: Option<&EndpointSlice>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(old) = old {
        errs.extend(meta::validate_object_meta_update(
            &new.metadata,
            &old.metadata,
            "metadata",
        ));
    }
    errs.extend(meta::validate_object_meta(&new.metadata, true, "metadata"));
    let address_type = new.address_type.as_str();
    let supported: &[&str] = if old.is_some() {
        &["FQDN", "IP", "IPv4", "IPv6"]
    } else {
        &["FQDN", "IPv4", "IPv6"]
    };
    if address_type.is_empty() {
        errs.push(FieldError::required("addressType", ""));
    } else if !supported.contains(&address_type) {
        errs.push(FieldError::not_supported(
            "addressType",
            &render_str(address_type),
            supported,
        ));
    }
    let endpoints = new.endpoints.as_deref().unwrap_or(&[]);
    if endpoints.len() > MAX_ENDPOINTS {
        errs.push(too_many("endpoints", endpoints.len(), MAX_ENDPOINTS));
    } else {
        for (i, ep) in endpoints.iter().enumerate() {
            let path = index("endpoints", i);
            let apath = child(&path, "addresses");
            if ep.addresses.is_empty() {
                errs.push(FieldError::required(
                    apath.clone(),
                    "must contain at least 1 address",
                ));
            } else if ep.addresses.len() > MAX_ADDRESSES {
                errs.push(too_many(apath.clone(), ep.addresses.len(), MAX_ADDRESSES));
            }
            for (j, addr) in ep.addresses.iter().enumerate() {
                let p = index(&apath, j);
                match address_type {
                    "IP" => errs.extend(invalid_each(&p, addr, format::is_valid_ip(addr))),
                    "IPv4" | "IPv6" => {
                        let want_v4 = address_type == "IPv4";
                        match format::parse_ip(addr) {
                            Some(ip) if ip.is_ipv4() == want_v4 => {}
                            _ => errs.extend(invalid_each(
                                &p,
                                addr,
                                vec![format!("must be a valid {address_type} address")],
                            )),
                        }
                        errs.extend(invalid_each(&p, addr, format::non_special_ip(addr)));
                    }
                    "FQDN" => errs.extend(fqdn(addr, &p)),
                    _ => {}
                }
            }
            let topology = ep.deprecated_topology.as_ref();
            if topology.is_some_and(|t| t.len() > MAX_TOPOLOGY_LABELS) {
                errs.push(too_many(
                    child(&path, "topology"),
                    topology.map_or(0, |t| t.len()),
                    MAX_TOPOLOGY_LABELS,
                ));
            }
            errs.extend(meta::validate_labels(topology, &child(&path, "topology")));
            if let Some(h) = &ep.hostname {
                errs.extend(invalid_each(
                    &child(&path, "hostname"),
                    h,
                    format::is_dns1123_label(h),
                ));
            }
        }
    }
    let ports = new.ports.as_deref().unwrap_or(&[]);
    if ports.len() > MAX_PORTS {
        errs.push(too_many("ports", ports.len(), MAX_PORTS));
    } else {
        let mut names = BTreeSet::new();
        for (i, p) in ports.iter().enumerate() {
            let path = index("ports", i);
            let name = p.name.as_deref().unwrap_or("");
            if !name.is_empty() {
                errs.extend(invalid_each(
                    &child(&path, "name"),
                    name,
                    format::is_dns1123_label(name),
                ));
            }
            if !names.insert(name) {
                errs.push(FieldError::duplicate(
                    child(&path, "name"),
                    &render_str(name),
                ));
            }
            match p.protocol.as_deref() {
                None => errs.push(FieldError::required(child(&path, "protocol"), "")),
                Some(proto) if !matches!(proto, "TCP" | "UDP" | "SCTP") => {
                    errs.push(FieldError::not_supported(
                        child(&path, "protocol"),
                        &render_str(proto),
                        &["SCTP", "TCP", "UDP"],
                    ))
                }
                Some(_) => {}
            }
            if let Some(app) = &p.app_protocol {
                errs.extend(invalid_each(
                    &child(&path, "appProtocol"),
                    app,
                    format::is_qualified_name(app),
                ));
            }
        }
    }
    if let Some(old) = old {
        errs.extend(immutable_str(
            address_type,
            &old.address_type,
            "addressType",
        ));
    }
    errs
}

/// `IsFullyQualifiedDomainName`.
fn fqdn(name: &str, path: &str) -> Vec<FieldError> {
    if name.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    let errs = format::is_dns1123_subdomain(name);
    if !errs.is_empty() {
        return invalid_each(path, name, vec![errs.join(",")]);
    }
    if name.split('.').count() < 2 {
        return invalid_each(
            path,
            name,
            vec!["should be a domain with at least two segments separated by dots".to_string()],
        );
    }
    for label in name.split('.') {
        let errs = format::is_dns1123_label(label);
        if !errs.is_empty() {
            return invalid_each(path, label, vec![errs.join(",")]);
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lines(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::line).collect()
    }

    #[test]
    fn endpoints_table() {
        let ep = |subsets: serde_json::Value| -> Endpoints {
            serde_json::from_value(
                json!({"metadata": {"name": "web", "namespace": "d"}, "subsets": subsets}),
            )
            .expect("json")
        };
        let cases = [
            (
                json!([{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80, "protocol": "TCP"}]}]),
                vec![],
            ),
            (
                json!([{"ports": [{"port": 80, "protocol": "TCP"}]}]),
                vec!["subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`"],
            ),
            (
                json!([{"addresses": [{"ip": "127.0.0.1"}]}]),
                vec![
                    "subsets[0].addresses[0].ip: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)",
                ],
            ),
            (
                json!([{"addresses": [{"ip": "nope"}]}]),
                vec![
                    "subsets[0].addresses[0].ip: Invalid value: \"nope\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                    "subsets[0].addresses[0].ip: Invalid value: \"nope\": must be a valid IP address",
                ],
            ),
        ];
        for (subsets, want) in cases {
            assert_eq!(
                lines(&validate_endpoints(&ep(subsets.clone()), None)),
                want,
                "subsets {subsets}"
            );
        }
    }

    #[test]
    fn endpointslice_table() {
        let slice =
            |v: serde_json::Value| -> EndpointSlice { serde_json::from_value(v).expect("json") };
        let ok = json!({"metadata": {"name": "web-abc", "namespace": "d"}, "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.0.0.1"]}], "ports": [{"name": "", "port": 80, "protocol": "TCP"}]});
        assert!(validate_endpointslice(&slice(ok.clone()), None).is_empty());
        let bad = json!({"metadata": {"name": "web-abc", "namespace": "d"}, "addressType": "IPv5",
            "endpoints": [{"addresses": []}], "ports": [{"port": 80}]});
        assert_eq!(
            lines(&validate_endpointslice(&slice(bad), None)),
            vec![
                "addressType: Unsupported value: \"IPv5\": supported values: \"FQDN\", \"IPv4\", \"IPv6\"",
                "endpoints[0].addresses: Required value: must contain at least 1 address",
                "ports[0].protocol: Required value",
            ]
        );
        let v6 = json!({"metadata": {"name": "web-abc", "namespace": "d"}, "addressType": "IPv6", "endpoints": [{"addresses": ["10.0.0.1"]}]});
        assert_eq!(
            lines(&validate_endpointslice(
                &slice(v6.clone()),
                Some(&slice(ok))
            )),
            vec![
                "endpoints[0].addresses[0]: Invalid value: \"10.0.0.1\": must be a valid IPv6 address",
                "addressType: Invalid value: \"IPv6\": field is immutable",
            ]
        );
    }
}
