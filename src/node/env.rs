//! A container's environment and command line, as the kubelet builds them: `envFrom`, then
//! `env` in order (each value `$(VAR)`-expanded with the variables before it), `valueFrom`
//! (`fieldRef`, `configMapKeyRef`, `secretKeyRef`), then `command` + `args` expanded with
//! the result. The base environment a container image would give (`PATH`, `HOME`,
//! `HOSTNAME`) comes first and is overridden by the pod's own variables.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::{
    ConfigMap, Container, EnvVarSource, ObjectFieldSelector, Pod, Secret,
};

use super::expand::expand;

/// The standard `PATH` of container images.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Pod facts that `fieldRef`s can read and that are not in the Pod object yet.
#[derive(Debug, Clone)]
pub struct PodFacts {
    /// The pod's IP address.
    pub pod_ip: Ipv4Addr,
    /// The node's IP address.
    pub host_ip: Ipv4Addr,
    /// The node's name.
    pub node_name: String,
}

/// The ConfigMaps and Secrets a container refers to, fetched from the API; `None` marks one
/// that does not exist.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// ConfigMaps by name.
    pub config_maps: HashMap<String, Option<ConfigMap>>,
    /// Secrets by name.
    pub secrets: HashMap<String, Option<Secret>>,
}

/// Names of the ConfigMaps and Secrets referenced by a container's environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refs {
    /// ConfigMap names.
    pub config_maps: BTreeSet<String>,
    /// Secret names.
    pub secrets: BTreeSet<String>,
}

/// Lists what `container`'s environment needs from the API.
pub fn refs(container: &Container) -> Refs {
    let mut r = Refs::default();
    for from in container.env_from.iter().flatten() {
        if let Some(cm) = &from.config_map_ref {
            r.config_maps.insert(cm.name.clone());
        }
        if let Some(s) = &from.secret_ref {
            r.secrets.insert(s.name.clone());
        }
    }
    for var in container.env.iter().flatten() {
        if let Some(src) = &var.value_from {
            if let Some(k) = &src.config_map_key_ref {
                r.config_maps.insert(k.name.clone());
            }
            if let Some(k) = &src.secret_key_ref {
                r.secrets.insert(k.name.clone());
            }
        }
    }
    r
}

/// The pod's host name: `spec.hostname`, else the pod name, at most 63 characters.
pub fn pod_hostname(pod: &Pod) -> String {
    let spec_name = pod
        .spec
        .as_ref()
        .and_then(|s| s.hostname.clone())
        .filter(|h| !h.is_empty());
    let mut name = spec_name.unwrap_or_else(|| pod.metadata.name.clone().unwrap_or_default());
    if name.len() > 63 {
        name.truncate(63);
        while name.ends_with(['-', '.']) {
            name.pop();
        }
    }
    name
}

fn quote_map(map: &BTreeMap<String, String>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn subscript<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = path
        .strip_prefix(prefix)?
        .strip_prefix('[')?
        .strip_suffix(']')?;
    rest.strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .or_else(|| rest.strip_prefix('"').and_then(|r| r.strip_suffix('"')))
}

/// Resolves a downward-API field path (`fieldRef.fieldPath`).
pub fn field_value(
    pod: &Pod,
    facts: &PodFacts,
    sel: &ObjectFieldSelector,
) -> Result<String, String> {
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref();
    let path = sel.field_path.as_str();
    let labels = meta.labels.clone().unwrap_or_default();
    let annotations = meta.annotations.clone().unwrap_or_default();
    Ok(match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "metadata.labels" => quote_map(&labels),
        "metadata.annotations" => quote_map(&annotations),
        "spec.nodeName" => spec
            .and_then(|s| s.node_name.clone())
            .unwrap_or_else(|| facts.node_name.clone()),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.podIP" | "status.podIPs" => facts.pod_ip.to_string(),
        "status.hostIP" | "status.hostIPs" => facts.host_ip.to_string(),
        _ => {
            if let Some(key) = subscript(path, "metadata.labels") {
                labels.get(key).cloned().unwrap_or_default()
            } else if let Some(key) = subscript(path, "metadata.annotations") {
                annotations.get(key).cloned().unwrap_or_default()
            } else {
                return Err(format!("unsupported fieldPath: {path}"));
            }
        }
    })
}

fn namespace(pod: &Pod) -> String {
    pod.metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into())
}

fn value_from(
    pod: &Pod,
    facts: &PodFacts,
    src: &EnvVarSource,
    sources: &Sources,
) -> Result<Option<String>, String> {
    let ns = namespace(pod);
    if let Some(f) = &src.field_ref {
        return field_value(pod, facts, f).map(Some);
    }
    if let Some(k) = &src.config_map_key_ref {
        let optional = k.optional.unwrap_or(false);
        return match sources.config_maps.get(&k.name).cloned().flatten() {
            None if optional => Ok(None),
            None => Err(format!("configmap \"{}\" not found", k.name)),
            Some(cm) => {
                let data = cm.data.unwrap_or_default();
                match data.get(&k.key) {
                    Some(v) => Ok(Some(v.clone())),
                    None if optional => Ok(None),
                    None => Err(format!(
                        "couldn't find key {} in ConfigMap {ns}/{}",
                        k.key, k.name
                    )),
                }
            }
        };
    }
    if let Some(k) = &src.secret_key_ref {
        let optional = k.optional.unwrap_or(false);
        return match sources.secrets.get(&k.name).cloned().flatten() {
            None if optional => Ok(None),
            None => Err(format!("secret \"{}\" not found", k.name)),
            Some(secret) => {
                let mut data: BTreeMap<String, String> = secret
                    .data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(key, v)| (key, String::from_utf8_lossy(&v.0).into_owned()))
                    .collect();
                data.extend(secret.string_data.unwrap_or_default());
                match data.get(&k.key) {
                    Some(v) => Ok(Some(v.clone())),
                    None if optional => Ok(None),
                    None => Err(format!(
                        "couldn't find key {} in Secret {ns}/{}",
                        k.key, k.name
                    )),
                }
            }
        };
    }
    if src.resource_field_ref.is_some() {
        return Err("resourceFieldRef is not supported by podgate's node agent".into());
    }
    Ok(None)
}

/// The container's environment (base variables first, then the pod's, later names
/// overriding earlier ones), or the kubelet's `CreateContainerConfigError` message.
pub fn build(
    pod: &Pod,
    container: &Container,
    facts: &PodFacts,
    sources: &Sources,
    base: &[(String, String)],
) -> Result<Vec<(String, String)>, String> {
    let mut ordered: Vec<(String, String)> = base.to_vec();
    let mut user: HashMap<String, String> = HashMap::new();
    let set = |ordered: &mut Vec<(String, String)>, name: String, value: String| {
        if let Some(slot) = ordered.iter_mut().find(|(k, _)| *k == name) {
            slot.1 = value;
        } else {
            ordered.push((name, value));
        }
    };
    for from in container.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        if let Some(r) = &from.config_map_ref {
            match sources.config_maps.get(&r.name).cloned().flatten() {
                Some(cm) => {
                    for (k, v) in cm.data.unwrap_or_default() {
                        let name = format!("{prefix}{k}");
                        user.insert(name.clone(), v.clone());
                        set(&mut ordered, name, v);
                    }
                }
                None if r.optional.unwrap_or(false) => {}
                None => return Err(format!("configmap \"{}\" not found", r.name)),
            }
        }
        if let Some(r) = &from.secret_ref {
            match sources.secrets.get(&r.name).cloned().flatten() {
                Some(s) => {
                    for (k, v) in s.data.unwrap_or_default() {
                        let name = format!("{prefix}{k}");
                        let v = String::from_utf8_lossy(&v.0).into_owned();
                        user.insert(name.clone(), v.clone());
                        set(&mut ordered, name, v);
                    }
                }
                None if r.optional.unwrap_or(false) => {}
                None => return Err(format!("secret \"{}\" not found", r.name)),
            }
        }
    }
    for var in container.env.iter().flatten() {
        let value = match (&var.value, &var.value_from) {
            (_, Some(src)) => match value_from(pod, facts, src, sources)? {
                Some(v) => v,
                None => continue,
            },
            (Some(v), None) => expand(v, |name| user.get(name).cloned()),
            (None, None) => String::new(),
        };
        user.insert(var.name.clone(), value.clone());
        set(&mut ordered, var.name.clone(), value);
    }
    Ok(ordered)
}

/// `command` + `args` expanded with `env`; `None` when the container has no `command`
/// (podgate cannot run an image's entrypoint).
pub fn command_line(container: &Container, env: &[(String, String)]) -> Option<Vec<String>> {
    let command = container.command.clone().filter(|c| !c.is_empty())?;
    let lookup = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mut line: Vec<String> = command.iter().map(|c| expand(c, lookup)).collect();
    line.extend(container.args.iter().flatten().map(|a| expand(a, lookup)));
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use k8s_openapi::api::core::v1::{
        ConfigMapEnvSource, ConfigMapKeySelector, EnvFromSource, EnvVar, PodSpec, SecretKeySelector,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn pod() -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("web-0".into()),
                namespace: Some("shop".into()),
                uid: Some("u-1".into()),
                labels: Some(BTreeMap::from([
                    ("app".into(), "web".into()),
                    ("tier".into(), "front".into()),
                ])),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: Some("node1".into()),
                service_account_name: Some("sa".into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn facts() -> PodFacts {
        PodFacts {
            pod_ip: Ipv4Addr::new(127, 1, 0, 5),
            host_ip: Ipv4Addr::LOCALHOST,
            node_name: "node1".into(),
        }
    }

    fn field(name: &str, path: &str) -> EnvVar {
        EnvVar {
            name: name.into(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: path.into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn val(name: &str, value: &str) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: Some(value.into()),
            ..Default::default()
        }
    }

    #[test]
    fn field_refs_table() {
        let cases = [
            ("metadata.name", "web-0"),
            ("metadata.namespace", "shop"),
            ("metadata.uid", "u-1"),
            ("metadata.labels['app']", "web"),
            ("metadata.labels['missing']", ""),
            ("metadata.labels", "app=\"web\"\ntier=\"front\""),
            ("spec.nodeName", "node1"),
            ("spec.serviceAccountName", "sa"),
            ("status.podIP", "127.1.0.5"),
            ("status.hostIP", "127.0.0.1"),
        ];
        for (path, want) in cases {
            let sel = ObjectFieldSelector {
                field_path: path.into(),
                ..Default::default()
            };
            assert_eq!(
                field_value(&pod(), &facts(), &sel).expect(path),
                want,
                "{path}"
            );
        }
        let bad = ObjectFieldSelector {
            field_path: "spec.bogus".into(),
            ..Default::default()
        };
        assert_eq!(
            field_value(&pod(), &facts(), &bad),
            Err("unsupported fieldPath: spec.bogus".into())
        );
    }

    #[test]
    fn env_order_expansion_and_sources() {
        let cm = ConfigMap {
            data: Some(BTreeMap::from([
                ("color".into(), "blue".into()),
                ("size".into(), "L".into()),
            ])),
            ..Default::default()
        };
        let secret = Secret {
            data: Some(BTreeMap::from([(
                "pw".into(),
                ByteString(b"s3cret".to_vec()),
            )])),
            ..Default::default()
        };
        let sources = Sources {
            config_maps: HashMap::from([("cfg".into(), Some(cm))]),
            secrets: HashMap::from([("sec".into(), Some(secret))]),
        };
        let container = Container {
            name: "web".into(),
            env_from: Some(vec![EnvFromSource {
                prefix: Some("CFG_".into()),
                config_map_ref: Some(ConfigMapEnvSource {
                    name: "cfg".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            env: Some(vec![
                field("POD_IP", "status.podIP"),
                val("URL", "http://$(POD_IP):8080/$(CFG_color)/$(LATER)"),
                val("LATER", "x"),
                val("PATH", "/opt/bin:$(PATH)"),
                EnvVar {
                    name: "PW".into(),
                    value_from: Some(EnvVarSource {
                        secret_key_ref: Some(SecretKeySelector {
                            name: "sec".into(),
                            key: "pw".into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ]),
            command: Some(vec!["podgate".into(), "pet".into()]),
            args: Some(vec![
                "--listen".into(),
                "$(POD_IP):8080".into(),
                "$$(POD_IP)".into(),
            ]),
            ..Default::default()
        };
        let base = vec![
            ("PATH".to_string(), DEFAULT_PATH.to_string()),
            ("HOSTNAME".to_string(), "web-0".to_string()),
        ];
        let env = build(&pod(), &container, &facts(), &sources, &base).expect("env");
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("CFG_color"), Some("blue"));
        assert_eq!(get("URL"), Some("http://127.1.0.5:8080/blue/$(LATER)"));
        // Base variables are not in the expansion context (as in Kubernetes) and are overridden.
        assert_eq!(get("PATH"), Some("/opt/bin:$(PATH)"));
        assert_eq!(get("HOSTNAME"), Some("web-0"));
        assert_eq!(get("PW"), Some("s3cret"));
        assert_eq!(env[0].0, "PATH", "overrides keep the base position");
        let line = command_line(&container, &env).expect("command");
        assert_eq!(
            line,
            ["podgate", "pet", "--listen", "127.1.0.5:8080", "$(POD_IP)"]
        );
        assert_eq!(command_line(&Container::default(), &env), None);
        assert_eq!(
            refs(&container),
            Refs {
                config_maps: BTreeSet::from(["cfg".into()]),
                secrets: BTreeSet::from(["sec".into()])
            }
        );
    }

    #[test]
    fn missing_sources_give_kubelet_messages() {
        let key_ref = |optional: Option<bool>, key: &str| Container {
            env: Some(vec![EnvVar {
                name: "A".into(),
                value_from: Some(EnvVarSource {
                    config_map_key_ref: Some(ConfigMapKeySelector {
                        name: "cfg".into(),
                        key: key.into(),
                        optional,
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let none = Sources {
            config_maps: HashMap::from([("cfg".into(), None)]),
            ..Default::default()
        };
        assert_eq!(
            build(&pod(), &key_ref(None, "k"), &facts(), &none, &[]),
            Err("configmap \"cfg\" not found".into())
        );
        assert_eq!(
            build(&pod(), &key_ref(Some(true), "k"), &facts(), &none, &[]),
            Ok(vec![])
        );
        let empty = Sources {
            config_maps: HashMap::from([("cfg".into(), Some(ConfigMap::default()))]),
            ..Default::default()
        };
        assert_eq!(
            build(&pod(), &key_ref(None, "k"), &facts(), &empty, &[]),
            Err("couldn't find key k in ConfigMap shop/cfg".into())
        );
    }

    #[test]
    fn hostname_table() {
        let mut p = pod();
        assert_eq!(pod_hostname(&p), "web-0");
        p.spec.as_mut().expect("spec").hostname = Some("custom".into());
        assert_eq!(pod_hostname(&p), "custom");
        p.spec.as_mut().expect("spec").hostname = None;
        p.metadata.name = Some(format!("{}-{}", "a".repeat(62), "b"));
        assert_eq!(pod_hostname(&p), "a".repeat(62));
    }
}
