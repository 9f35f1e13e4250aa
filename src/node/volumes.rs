//! Pod volumes as host directories.
//!
//! * `persistentVolumeClaim`: the bound PersistentVolume's `hostPath`/`local` path when the
//!   claim is bound to one, else `<state>/node/claims/<namespace>/<claim>` — stable across pod
//!   re-creation, so a StatefulSet ordinal finds its data again.
//! * `emptyDir`: `<pod dir>/volumes/empty-dir/<name>`, removed with the pod.
//! * `hostPath`: the path itself, with the `type` checks (and creation for `…OrCreate`).
//! * `configMap`, `secret`, `downwardAPI`, `projected`: files written under the pod dir.
//!
//! Other volume types cannot be provided locally: they become empty directories and the
//! caller is told, so the pod's events say so.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use k8s_openapi::api::core::v1::{
    ConfigMap, Container, KeyToPath, PersistentVolume, PersistentVolumeClaim, Pod, Secret, Volume,
};
use kube::Api;

use super::env::{PodFacts, field_value};
use super::expand::expand;
use super::mounts::BindRequest;

/// A volume that could not be set up (`MountVolume.SetUp failed for volume "x" : …`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("MountVolume.SetUp failed for volume \"{volume}\" : {message}")]
pub struct VolumeError {
    /// The volume's name.
    pub volume: String,
    /// What went wrong.
    pub message: String,
}

/// The pod's volumes on the host.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// Host directory (or file) of each volume by name.
    pub paths: HashMap<String, PathBuf>,
    /// Volumes that are read-only by their source (`readOnly` claims, configMaps, secrets).
    pub read_only: HashMap<String, bool>,
    /// Notes for the pod's events (unsupported volume types).
    pub warnings: Vec<String>,
}

/// Where a pod's files live on the host.
#[derive(Debug, Clone)]
pub struct Layout {
    /// `<state>/node/pods/<uid>`.
    pub pod_dir: PathBuf,
    /// `<state>/node/claims`.
    pub claims_root: PathBuf,
}

fn err(volume: &Volume, message: impl Into<String>) -> VolumeError {
    VolumeError {
        volume: volume.name.clone(),
        message: message.into(),
    }
}

/// A relative path without `..` (for `items[].path`, `subPath`).
pub fn safe_relative(p: &str) -> bool {
    let path = Path::new(p);
    !p.is_empty()
        && !path.is_absolute()
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// One file of a configMap/secret/downwardAPI volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeFile {
    /// Relative path inside the volume.
    pub path: String,
    /// Content.
    pub data: Vec<u8>,
    /// File mode.
    pub mode: u32,
}

/// The files of a key/value source: every key, or only `items` (missing keys are an error
/// unless `optional`).
pub fn key_files(
    kind: &str,
    data: &BTreeMap<String, Vec<u8>>,
    items: Option<&Vec<KeyToPath>>,
    default_mode: u32,
    optional: bool,
) -> Result<Vec<VolumeFile>, String> {
    let mut files = Vec::new();
    match items {
        None => {
            for (k, v) in data {
                files.push(VolumeFile {
                    path: k.clone(),
                    data: v.clone(),
                    mode: default_mode,
                });
            }
        }
        Some(items) => {
            for item in items {
                if !safe_relative(&item.path) {
                    return Err(format!("invalid path {:?}", item.path));
                }
                match data.get(&item.key) {
                    Some(v) => files.push(VolumeFile {
                        path: item.path.clone(),
                        data: v.clone(),
                        mode: item.mode.map_or(default_mode, |m| m as u32),
                    }),
                    None if optional => {}
                    None if kind == "secret" => {
                        return Err(format!("references non-existent secret key: {}", item.key));
                    }
                    None => {
                        return Err(format!(
                            "configmap references non-existent config key: {}",
                            item.key
                        ));
                    }
                }
            }
        }
    }
    Ok(files)
}

/// Replaces the contents of `dir` with `files`.
pub fn write_files(dir: &Path, files: &[VolumeFile]) -> std::io::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    for f in files {
        let path = dir.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &f.data)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(f.mode & 0o7777))?;
    }
    Ok(())
}

fn config_map_bytes(cm: &ConfigMap) -> BTreeMap<String, Vec<u8>> {
    let mut data: BTreeMap<String, Vec<u8>> = cm
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
        .collect();
    data.extend(
        cm.binary_data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.0.clone())),
    );
    data
}

fn secret_bytes(s: &Secret) -> BTreeMap<String, Vec<u8>> {
    let mut data: BTreeMap<String, Vec<u8>> = s
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    data.extend(
        s.string_data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone().into_bytes())),
    );
    data
}

/// The directory of a claim: the bound volume's path, or the per-claim directory.
async fn claim_path(
    client: &kube::Client,
    ns: &str,
    claim: &str,
    claims_root: &Path,
) -> Result<PathBuf, String> {
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
    let pvc = match pvcs.get_opt(claim).await {
        Ok(Some(pvc)) => pvc,
        Ok(None) => return Err(format!("persistentvolumeclaim \"{claim}\" not found")),
        Err(e) => return Err(format!("get persistentvolumeclaim \"{claim}\": {e}")),
    };
    let bound_name = pvc
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.clone())
        .filter(|n| !n.is_empty());
    let bound = pvc.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
    if let (Some(pv_name), true) = (bound_name, bound) {
        let pvs: Api<PersistentVolume> = Api::all(client.clone());
        if let Ok(Some(pv)) = pvs.get_opt(&pv_name).await {
            let spec = pv.spec.unwrap_or_default();
            if let Some(p) = spec
                .host_path
                .map(|h| h.path)
                .or(spec.local.map(|l| l.path))
            {
                std::fs::create_dir_all(&p).map_err(|e| format!("create {p}: {e}"))?;
                return Ok(PathBuf::from(p));
            }
        }
    }
    let dir = claims_root.join(ns).join(claim);
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    Ok(dir)
}

fn check_host_path(path: &Path, kind: &str) -> Result<(), String> {
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::metadata(path);
    let shown = path.display();
    match kind {
        "" => meta
            .map(|_| ())
            .map_err(|_| format!("hostPath {shown} does not exist")),
        "DirectoryOrCreate" => {
            std::fs::create_dir_all(path).map_err(|e| format!("create {shown}: {e}"))
        }
        "Directory" => match meta {
            Ok(m) if m.is_dir() => Ok(()),
            _ => Err(format!(
                "hostPath type check failed: {shown} is not a directory"
            )),
        },
        "FileOrCreate" => {
            if meta.is_ok() {
                return Ok(());
            }
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("create {}: {e}", parent.display()))?;
            }
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map(|_| ())
                .map_err(|e| format!("create {shown}: {e}"))
        }
        "File" => match meta {
            Ok(m) if m.is_file() => Ok(()),
            _ => Err(format!("hostPath type check failed: {shown} is not a file")),
        },
        "Socket" => match meta {
            Ok(m) if m.file_type().is_socket() => Ok(()),
            _ => Err(format!(
                "hostPath type check failed: {shown} is not a socket file"
            )),
        },
        "CharDevice" => match meta {
            Ok(m) if m.file_type().is_char_device() => Ok(()),
            _ => Err(format!(
                "hostPath type check failed: {shown} is not a character device"
            )),
        },
        "BlockDevice" => match meta {
            Ok(m) if m.file_type().is_block_device() => Ok(()),
            _ => Err(format!(
                "hostPath type check failed: {shown} is not a block device"
            )),
        },
        other => Err(format!("unsupported hostPath type {other:?}")),
    }
}

async fn fetch_config_map(
    client: &kube::Client,
    ns: &str,
    name: &str,
) -> Result<Option<ConfigMap>, String> {
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .map_err(|e| e.to_string())
}

async fn fetch_secret(
    client: &kube::Client,
    ns: &str,
    name: &str,
) -> Result<Option<Secret>, String> {
    Api::<Secret>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .map_err(|e| e.to_string())
}

/// Sets up every volume of `pod` on the host.
pub async fn prepare(
    client: &kube::Client,
    pod: &Pod,
    facts: &PodFacts,
    layout: &Layout,
) -> Result<Prepared, VolumeError> {
    let ns = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let mut out = Prepared::default();
    let volumes = pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.clone())
        .unwrap_or_default();
    let files_dir = |kind: &str, name: &str| layout.pod_dir.join("volumes").join(kind).join(name);
    for v in &volumes {
        let (path, read_only) = if let Some(pvc) = &v.persistent_volume_claim {
            let p = claim_path(client, &ns, &pvc.claim_name, &layout.claims_root)
                .await
                .map_err(|m| err(v, m))?;
            (p, pvc.read_only.unwrap_or(false))
        } else if v.empty_dir.is_some() {
            let p = files_dir("empty-dir", &v.name);
            std::fs::create_dir_all(&p).map_err(|e| err(v, e.to_string()))?;
            (p, false)
        } else if let Some(h) = &v.host_path {
            let p = PathBuf::from(&h.path);
            check_host_path(&p, h.type_.as_deref().unwrap_or("")).map_err(|m| err(v, m))?;
            (p, false)
        } else if let Some(c) = &v.config_map {
            let optional = c.optional.unwrap_or(false);
            let mode = c.default_mode.map_or(0o644, |m| m as u32);
            let files = match fetch_config_map(client, &ns, &c.name)
                .await
                .map_err(|m| err(v, m))?
            {
                Some(cm) => key_files(
                    "configmap",
                    &config_map_bytes(&cm),
                    c.items.as_ref(),
                    mode,
                    optional,
                )
                .map_err(|m| err(v, m))?,
                None if optional => Vec::new(),
                None => return Err(err(v, format!("configmap \"{}\" not found", c.name))),
            };
            let p = files_dir("configmap", &v.name);
            write_files(&p, &files).map_err(|e| err(v, e.to_string()))?;
            (p, true)
        } else if let Some(s) = &v.secret {
            let name = s.secret_name.clone().unwrap_or_default();
            let optional = s.optional.unwrap_or(false);
            let mode = s.default_mode.map_or(0o644, |m| m as u32);
            let files = match fetch_secret(client, &ns, &name)
                .await
                .map_err(|m| err(v, m))?
            {
                Some(secret) => key_files(
                    "secret",
                    &secret_bytes(&secret),
                    s.items.as_ref(),
                    mode,
                    optional,
                )
                .map_err(|m| err(v, m))?,
                None if optional => Vec::new(),
                None => return Err(err(v, format!("secret \"{name}\" not found"))),
            };
            let p = files_dir("secret", &v.name);
            write_files(&p, &files).map_err(|e| err(v, e.to_string()))?;
            (p, true)
        } else if let Some(d) = &v.downward_api {
            let mode = d.default_mode.map_or(0o644, |m| m as u32);
            let mut files = Vec::new();
            for item in d.items.iter().flatten() {
                if let Some(f) = &item.field_ref {
                    let value = field_value(pod, facts, f).map_err(|m| err(v, m))?;
                    files.push(VolumeFile {
                        path: item.path.clone(),
                        data: value.into_bytes(),
                        mode: item.mode.map_or(mode, |m| m as u32),
                    });
                }
            }
            let p = files_dir("downward-api", &v.name);
            write_files(&p, &files).map_err(|e| err(v, e.to_string()))?;
            (p, true)
        } else if let Some(proj) = &v.projected {
            let mode = proj.default_mode.map_or(0o644, |m| m as u32);
            let mut files = Vec::new();
            for src in proj.sources.iter().flatten() {
                if let Some(c) = &src.config_map {
                    let optional = c.optional.unwrap_or(false);
                    match fetch_config_map(client, &ns, &c.name)
                        .await
                        .map_err(|m| err(v, m))?
                    {
                        Some(cm) => files.extend(
                            key_files(
                                "configmap",
                                &config_map_bytes(&cm),
                                c.items.as_ref(),
                                mode,
                                optional,
                            )
                            .map_err(|m| err(v, m))?,
                        ),
                        None if optional => {}
                        None => return Err(err(v, format!("configmap \"{}\" not found", c.name))),
                    }
                }
                if let Some(s) = &src.secret {
                    let optional = s.optional.unwrap_or(false);
                    match fetch_secret(client, &ns, &s.name)
                        .await
                        .map_err(|m| err(v, m))?
                    {
                        Some(secret) => files.extend(
                            key_files(
                                "secret",
                                &secret_bytes(&secret),
                                s.items.as_ref(),
                                mode,
                                optional,
                            )
                            .map_err(|m| err(v, m))?,
                        ),
                        None if optional => {}
                        None => return Err(err(v, format!("secret \"{}\" not found", s.name))),
                    }
                }
                if let Some(d) = &src.downward_api {
                    for item in d.items.iter().flatten() {
                        if let Some(f) = &item.field_ref {
                            let value = field_value(pod, facts, f).map_err(|m| err(v, m))?;
                            files.push(VolumeFile {
                                path: item.path.clone(),
                                data: value.into_bytes(),
                                mode: item.mode.map_or(mode, |m| m as u32),
                            });
                        }
                    }
                }
                if src.service_account_token.is_some() {
                    out.warnings.push(format!(
                        "volume \"{}\": serviceAccountToken projections are not supported by podgate; the token file is missing",
                        v.name
                    ));
                }
            }
            let p = files_dir("projected", &v.name);
            write_files(&p, &files).map_err(|e| err(v, e.to_string()))?;
            (p, true)
        } else {
            let p = files_dir("unsupported", &v.name);
            std::fs::create_dir_all(&p).map_err(|e| err(v, e.to_string()))?;
            out.warnings.push(format!(
                "volume \"{}\" has a type podgate cannot provide on this machine; it is an empty directory",
                v.name
            ));
            (p, false)
        };
        out.paths.insert(v.name.clone(), path);
        out.read_only.insert(v.name.clone(), read_only);
    }
    Ok(out)
}

/// The bind mounts of `container`: each `volumeMount` with its `subPath`/`subPathExpr`
/// (created inside the volume when missing, as the kubelet does).
pub fn container_binds(
    container: &Container,
    prepared: &Prepared,
    env: &[(String, String)],
) -> Result<Vec<BindRequest>, String> {
    let lookup = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mut binds = Vec::new();
    for m in container.volume_mounts.iter().flatten() {
        let Some(base) = prepared.paths.get(&m.name) else {
            return Err(format!(
                "cannot find volume \"{}\" to mount into container \"{}\"",
                m.name, container.name
            ));
        };
        let sub = match (&m.sub_path, &m.sub_path_expr) {
            (Some(s), _) if !s.is_empty() => s.clone(),
            (_, Some(e)) if !e.is_empty() => expand(e, lookup),
            _ => String::new(),
        };
        let source = if sub.is_empty() {
            base.clone()
        } else {
            if !safe_relative(&sub) {
                return Err(format!(
                    "error SubPath `{sub}` must not be an absolute path or contain '..'"
                ));
            }
            let p = base.join(&sub);
            if !p.exists() {
                std::fs::create_dir_all(&p).map_err(|e| {
                    format!("failed to create subPath directory for volumeMount \"{}\" of container \"{}\": {e}", m.name, container.name)
                })?;
            }
            p
        };
        let read_only = m.read_only.unwrap_or(false)
            || prepared.read_only.get(&m.name).copied().unwrap_or(false);
        binds.push(BindRequest {
            source,
            target: PathBuf::from(&m.mount_path),
            read_only,
        });
    }
    Ok(binds)
}

/// The kubelet-managed `/etc/hosts` of a pod.
pub fn hosts_file(
    pod: &Pod,
    hostname: &str,
    pod_ip: std::net::Ipv4Addr,
    cluster_domain: &str,
) -> String {
    let mut out = String::from(
        "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n",
    );
    let spec = pod.spec.as_ref();
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    match spec
        .and_then(|s| s.subdomain.as_deref())
        .filter(|s| !s.is_empty())
    {
        Some(sub) => out.push_str(&format!(
            "{pod_ip}\t{hostname}.{sub}.{ns}.svc.{cluster_domain}\t{hostname}\n"
        )),
        None => out.push_str(&format!("{pod_ip}\t{hostname}\n")),
    }
    let aliases = spec
        .and_then(|s| s.host_aliases.clone())
        .unwrap_or_default();
    if !aliases.is_empty() {
        out.push_str("\n# Entries added by HostAliases.\n");
        for a in aliases {
            out.push_str(&format!(
                "{}\t{}\n",
                a.ip,
                a.hostnames.unwrap_or_default().join("\t")
            ));
        }
    }
    out
}

/// The pod's `/etc/resolv.conf` as kubelet forms it from `dnsPolicy` and `dnsConfig`:
/// `ClusterFirst` (the default) names the cluster DNS with the search path
/// `<ns>.svc.<zone> svc.<zone> <zone>` (+ the host's) and `ndots:5`; `Default` copies the
/// host's file; `None` starts empty. `dnsConfig` is merged on top (nameservers and searches
/// appended without duplicates, options by name with the pod's value winning), within
/// kubelet's limits of 3 nameservers and 32 search domains.
pub fn resolv_conf(pod: &Pod, dns: &super::PodDns) -> String {
    let spec = pod.spec.as_ref();
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let host = parse_resolv(&dns.host_resolv_conf);
    let policy = spec
        .and_then(|s| s.dns_policy.as_deref())
        .unwrap_or("ClusterFirst");
    let host_network = spec.and_then(|s| s.host_network).unwrap_or(false);
    let cluster = match policy {
        "ClusterFirstWithHostNet" => true,
        "ClusterFirst" => !host_network,
        _ => false,
    };
    let (mut servers, mut search, mut options) = match (policy, dns.nameserver) {
        ("None", _) => (Vec::new(), Vec::new(), Vec::new()),
        _ if cluster && dns.nameserver.is_some() => {
            let zone = dns.cluster_domain.trim_end_matches('.');
            let mut search = vec![
                format!("{ns}.svc.{zone}"),
                format!("svc.{zone}"),
                zone.to_string(),
            ];
            search.extend(host.1.iter().cloned());
            (
                vec![dns.nameserver.map(|ip| ip.to_string()).unwrap_or_default()],
                search,
                vec![("ndots".to_string(), Some("5".to_string()))],
            )
        }
        _ => host.clone(),
    };
    if let Some(cfg) = spec.and_then(|s| s.dns_config.as_ref()) {
        servers.extend(cfg.nameservers.iter().flatten().cloned());
        search.extend(cfg.searches.iter().flatten().cloned());
        for o in cfg.options.iter().flatten() {
            let Some(name) = o.name.clone() else { continue };
            options.retain(|(n, _)| *n != name);
            options.push((name, o.value.clone()));
        }
    }
    let mut seen = std::collections::HashSet::new();
    servers.retain(|s| !s.is_empty() && seen.insert(s.clone()));
    servers.truncate(3);
    let mut seen = std::collections::HashSet::new();
    search.retain(|s| !s.is_empty() && s.len() <= 253 && seen.insert(s.clone()));
    search.truncate(32);
    let mut out = String::new();
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    for s in &servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !options.is_empty() {
        let opts: Vec<String> = options
            .iter()
            .map(|(n, v)| match v {
                Some(v) => format!("{n}:{v}"),
                None => n.clone(),
            })
            .collect();
        out.push_str(&format!("options {}\n", opts.join(" ")));
    }
    out
}

/// Nameservers, search domains and options of a resolv.conf text.
type Resolv = (Vec<String>, Vec<String>, Vec<(String, Option<String>)>);

fn parse_resolv(text: &str) -> Resolv {
    let (mut servers, mut search, mut options) = (Vec::new(), Vec::new(), Vec::new());
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => servers.extend(words.next().map(str::to_string)),
            Some("search") | Some("domain") => {
                search = words.map(str::to_string).collect();
            }
            Some("options") => {
                for w in words {
                    let (n, v) = match w.split_once(':') {
                        Some((n, v)) => (n.to_string(), Some(v.to_string())),
                        None => (w.to_string(), None),
                    };
                    options.retain(|(o, _): &(String, Option<String>)| *o != n);
                    options.push((n, v));
                }
            }
            _ => {}
        }
    }
    (servers, search, options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{HostAlias, PodSpec, VolumeMount};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    #[test]
    fn safe_relative_table() {
        for (p, ok) in [
            ("a", true),
            ("a/b.txt", true),
            ("./a", true),
            ("", false),
            ("/a", false),
            ("../a", false),
            ("a/../../b", false),
        ] {
            assert_eq!(safe_relative(p), ok, "{p:?}");
        }
    }

    #[test]
    fn key_files_all_items_and_missing_keys() {
        let data = BTreeMap::from([
            ("a".to_string(), b"1".to_vec()),
            ("b".to_string(), b"2".to_vec()),
        ]);
        let all = key_files("configmap", &data, None, 0o644, false).expect("files");
        assert_eq!(
            all.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        let items = vec![KeyToPath {
            key: "b".into(),
            path: "sub/b.conf".into(),
            mode: Some(0o600),
            ..Default::default()
        }];
        let some = key_files("configmap", &data, Some(&items), 0o644, false).expect("files");
        assert_eq!(
            some,
            vec![VolumeFile {
                path: "sub/b.conf".into(),
                data: b"2".to_vec(),
                mode: 0o600
            }]
        );
        let missing = vec![KeyToPath {
            key: "zz".into(),
            path: "zz".into(),
            ..Default::default()
        }];
        assert_eq!(
            key_files("configmap", &data, Some(&missing), 0o644, false),
            Err("configmap references non-existent config key: zz".into())
        );
        assert_eq!(
            key_files("configmap", &data, Some(&missing), 0o644, true),
            Ok(vec![])
        );
        let escape = vec![KeyToPath {
            key: "a".into(),
            path: "../x".into(),
            ..Default::default()
        }];
        assert!(key_files("configmap", &data, Some(&escape), 0o644, false).is_err());
    }

    #[test]
    fn write_files_replaces_contents_with_modes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("vol");
        std::fs::create_dir_all(&target).expect("mkdir");
        std::fs::write(target.join("stale"), "old").expect("write");
        write_files(
            &target,
            &[VolumeFile {
                path: "x/y".into(),
                data: b"hi".to_vec(),
                mode: 0o600,
            }],
        )
        .expect("write");
        assert!(!target.join("stale").exists());
        assert_eq!(
            std::fs::read_to_string(target.join("x/y")).expect("read"),
            "hi"
        );
        let mode = std::fs::metadata(target.join("x/y"))
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn host_path_types() {
        let dir = tempfile::tempdir().expect("tempdir");
        let new_dir = dir.path().join("made/here");
        assert_eq!(check_host_path(&new_dir, "DirectoryOrCreate"), Ok(()));
        assert!(new_dir.is_dir());
        let new_file = dir.path().join("f/file.txt");
        assert_eq!(check_host_path(&new_file, "FileOrCreate"), Ok(()));
        assert!(new_file.is_file());
        assert_eq!(check_host_path(&new_file, "File"), Ok(()));
        assert!(
            check_host_path(&new_file, "Directory")
                .expect_err("not a dir")
                .ends_with("is not a directory")
        );
        assert!(check_host_path(&dir.path().join("nope"), "").is_err());
    }

    #[test]
    fn binds_with_sub_paths_and_read_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let prepared = Prepared {
            paths: HashMap::from([("data".into(), dir.path().to_path_buf())]),
            read_only: HashMap::from([("data".into(), false)]),
            warnings: vec![],
        };
        let container = Container {
            name: "web".into(),
            volume_mounts: Some(vec![
                VolumeMount {
                    name: "data".into(),
                    mount_path: "/var/data".into(),
                    ..Default::default()
                },
                VolumeMount {
                    name: "data".into(),
                    mount_path: "/logs".into(),
                    sub_path_expr: Some("logs/$(POD_NAME)".into()),
                    read_only: Some(true),
                    ..Default::default()
                },
            ]),
            ..Default::default()
        };
        let env = vec![("POD_NAME".to_string(), "web-0".to_string())];
        let binds = container_binds(&container, &prepared, &env).expect("binds");
        assert_eq!(
            binds[0],
            BindRequest {
                source: dir.path().into(),
                target: "/var/data".into(),
                read_only: false
            }
        );
        assert_eq!(
            binds[1],
            BindRequest {
                source: dir.path().join("logs/web-0"),
                target: "/logs".into(),
                read_only: true
            }
        );
        assert!(
            dir.path().join("logs/web-0").is_dir(),
            "subPath created inside the volume"
        );
        let missing = Container {
            name: "web".into(),
            volume_mounts: Some(vec![VolumeMount {
                name: "nope".into(),
                mount_path: "/x".into(),
                ..Default::default()
            }]),
            ..Default::default()
        };
        assert_eq!(
            container_binds(&missing, &prepared, &env),
            Err("cannot find volume \"nope\" to mount into container \"web\"".into())
        );
    }

    #[test]
    fn hosts_file_names_the_pod() {
        let pod = Pod {
            metadata: ObjectMeta {
                namespace: Some("shop".into()),
                ..Default::default()
            },
            spec: Some(PodSpec {
                subdomain: Some("kubia".into()),
                host_aliases: Some(vec![HostAlias {
                    ip: "10.0.0.1".into(),
                    hostnames: Some(vec!["db".into()]),
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let hosts = hosts_file(
            &pod,
            "kubia-0",
            "127.1.0.2".parse().expect("ip"),
            "cluster.local",
        );
        assert!(hosts.starts_with("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"));
        assert!(hosts.contains("127.1.0.2\tkubia-0.kubia.shop.svc.cluster.local\tkubia-0\n"));
        assert!(hosts.ends_with("# Entries added by HostAliases.\n10.0.0.1\tdb\n"));
    }

    #[test]
    fn resolv_conf_per_dns_policy() {
        use k8s_openapi::api::core::v1::{PodDNSConfig, PodDNSConfigOption};
        let dns = crate::node::PodDns {
            nameserver: Some("127.0.0.10".parse().expect("ip")),
            cluster_domain: "cluster.local".into(),
            host_resolv_conf: "nameserver 10.0.0.2\nsearch corp.example\noptions edns0 timeout:2\n"
                .into(),
        };
        let pod = |policy: Option<&str>, cfg: Option<PodDNSConfig>| Pod {
            metadata: ObjectMeta {
                namespace: Some("shop".into()),
                ..Default::default()
            },
            spec: Some(PodSpec {
                dns_policy: policy.map(str::to_string),
                dns_config: cfg,
                ..Default::default()
            }),
            ..Default::default()
        };
        let cases: Vec<(Pod, &str)> = vec![
            (
                pod(None, None),
                "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 127.0.0.10\noptions ndots:5\n",
            ),
            (
                pod(Some("Default"), None),
                "search corp.example\nnameserver 10.0.0.2\noptions edns0 timeout:2\n",
            ),
            (
                pod(
                    Some("None"),
                    Some(PodDNSConfig {
                        nameservers: Some(vec!["1.2.3.4".into()]),
                        searches: Some(vec!["a.example".into()]),
                        options: Some(vec![PodDNSConfigOption {
                            name: Some("ndots".into()),
                            value: Some("2".into()),
                        }]),
                    }),
                ),
                "search a.example\nnameserver 1.2.3.4\noptions ndots:2\n",
            ),
            (
                pod(
                    Some("ClusterFirst"),
                    Some(PodDNSConfig {
                        nameservers: Some(vec!["127.0.0.10".into(), "1.2.3.4".into()]),
                        searches: None,
                        options: Some(vec![
                            PodDNSConfigOption {
                                name: Some("ndots".into()),
                                value: Some("1".into()),
                            },
                            PodDNSConfigOption {
                                name: Some("edns0".into()),
                                value: None,
                            },
                        ]),
                    }),
                ),
                "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 127.0.0.10\nnameserver 1.2.3.4\noptions ndots:1 edns0\n",
            ),
        ];
        for (p, want) in cases {
            assert_eq!(resolv_conf(&p, &dns), want, "{:?}", p.spec);
        }
        let without = crate::node::PodDns {
            nameserver: None,
            ..dns.clone()
        };
        assert_eq!(
            resolv_conf(&pod(None, None), &without),
            "search corp.example\nnameserver 10.0.0.2\noptions edns0 timeout:2\n",
            "no cluster DNS: ClusterFirst falls back to the host's resolver"
        );
    }
}
