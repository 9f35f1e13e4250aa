//! ControllerRevisions: the stored pod template of each revision, its deterministic hash and
//! name, ordering, and which old revisions the history limit drops (upstream `newRevision`,
//! `HashControllerRevision`, `SortControllerRevisions`, `truncateHistory`).

use std::collections::HashSet;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::ResourceExt;
use serde_json::{Value, json};

use super::identity::controller_ref;

/// The label carrying a revision's hash.
pub const HASH_LABEL: &str = "controller.kubernetes.io/hash";

/// The characters `rand.SafeEncodeString` maps bytes to.
const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `value` with every object's keys in sorted order, serialised compactly: the same template
/// always gives the same bytes, whatever map type or field order produced it.
pub fn canonical_bytes(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend(serde_json::to_vec(k).unwrap_or_default());
                out.push(b':');
                write_canonical(&m[k], out);
            }
            out.push(b'}');
        }
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(x, out);
            }
            out.push(b']');
        }
        other => out.extend(serde_json::to_vec(other).unwrap_or_default()),
    }
}

/// The revision payload: `{"spec":{"template":{…,"$patch":"replace"}}}`.
pub fn revision_data(template: &PodTemplateSpec) -> Value {
    let mut t = serde_json::to_value(template).unwrap_or_else(|_| json!({}));
    if let Some(m) = t.as_object_mut() {
        m.insert("$patch".into(), json!("replace"));
    }
    json!({"spec": {"template": t}})
}

/// 32-bit FNV-1 (Go's `fnv.New32`).
fn fnv1_32(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h = h.wrapping_mul(0x0100_0193);
        h ^= u32::from(*b);
    }
    h
}

/// Upstream `HashControllerRevision`: FNV-1 over the data and the decimal collision count,
/// printed in decimal, each digit mapped through the safe alphabet.
pub fn hash(data: &[u8], collision_count: i32) -> String {
    let mut bytes = data.to_vec();
    bytes.extend(collision_count.to_string().as_bytes());
    fnv1_32(&bytes)
        .to_string()
        .bytes()
        .map(|b| SAFE[usize::from(b) % SAFE.len()] as char)
        .collect()
}

/// `<set name, at most 223 chars>-<hash>`.
pub fn revision_name(set_name: &str, hash: &str) -> String {
    let prefix: String = set_name.chars().take(223).collect();
    format!("{prefix}-{hash}")
}

/// A new revision of the set's current template.
pub fn new_revision(set: &StatefulSet, revision: i64, collision_count: i32) -> ControllerRevision {
    let template = set.spec.template.clone();
    let data = revision_data(&template);
    let h = hash(&canonical_bytes(&data), collision_count);
    let mut labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(HASH_LABEL.into(), h.clone());
    let annotations = set.metadata.annotations.clone().filter(|a| !a.is_empty());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(revision_name(&set.name_any(), &h)),
            namespace: set.namespace(),
            labels: Some(labels),
            annotations,
            owner_references: Some(vec![controller_ref(set)]),
            ..Default::default()
        },
        data: RawExtension(data),
        revision: Some(revision),
    }
}

/// Whether two revisions store the same template.
pub fn equal(a: &ControllerRevision, b: &ControllerRevision) -> bool {
    let bytes = |r: &ControllerRevision| canonical_bytes(&r.data.0);
    bytes(a) == bytes(b)
}

/// The pod template a revision stores.
pub fn template_of(revision: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut t = revision.data.0.pointer("/spec/template")?.clone();
    if let Some(m) = t.as_object_mut() {
        m.remove("$patch");
    }
    serde_json::from_value(t).ok()
}

/// Upstream `SortControllerRevisions`: by revision, then creation time, then name.
pub fn sort(revisions: &mut [ControllerRevision]) {
    revisions.sort_by(|a, b| {
        a.revision
            .unwrap_or(0)
            .cmp(&b.revision.unwrap_or(0))
            .then_with(|| {
                let t =
                    |r: &ControllerRevision| r.metadata.creation_timestamp.as_ref().map(|t| t.0);
                t(a).cmp(&t(b))
            })
            .then_with(|| a.name_any().cmp(&b.name_any()))
    });
}

/// The next revision number: one more than the highest (1 for the first).
pub fn next_number(sorted: &[ControllerRevision]) -> i64 {
    sorted.last().map_or(1, |r| r.revision.unwrap_or(0) + 1)
}

/// What to do to get the update revision (upstream `getStatefulSetRevisions`).
#[derive(Debug, PartialEq)]
pub enum UpdateRevision {
    /// The newest revision already stores the template: use it (index into the sorted list).
    Latest(usize),
    /// An older revision stores it: roll back by giving it the next number.
    RollBack(usize),
    /// No revision stores it: create the candidate.
    Create,
}

/// Decides how `candidate` (the live template) relates to the sorted existing revisions.
pub fn find_update(
    sorted: &[ControllerRevision],
    candidate: &ControllerRevision,
) -> UpdateRevision {
    match sorted.iter().rposition(|r| equal(r, candidate)) {
        Some(i) if i + 1 == sorted.len() => UpdateRevision::Latest(i),
        Some(i) => UpdateRevision::RollBack(i),
        None => UpdateRevision::Create,
    }
}

/// Upstream `truncateHistory`: the names of the oldest non-live revisions beyond `limit`
/// (a negative limit keeps everything). `sorted` is oldest first.
pub fn to_truncate(
    sorted: &[ControllerRevision],
    live: &HashSet<String>,
    limit: i32,
) -> Vec<String> {
    let history: Vec<String> = sorted
        .iter()
        .map(ResourceExt::name_any)
        .filter(|n| !live.contains(n))
        .collect();
    let Ok(limit) = usize::try_from(limit) else {
        return Vec::new();
    };
    if history.len() <= limit {
        return Vec::new();
    }
    history[..history.len() - limit].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(image: &str) -> StatefulSet {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "u", "annotations": {"kubernetes.io/change-cause": "v1"}},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web", "b": "2", "a": "1"}},
                             "spec": {"containers": [{"name": "c", "image": image}]}}
            }
        }))
        .unwrap()
    }

    #[test]
    fn fnv1_matches_the_reference_vectors() {
        assert_eq!(fnv1_32(b""), 0x811c_9dc5);
        assert_eq!(fnv1_32(b"a"), 0x050c_5d7e);
        assert_eq!(fnv1_32(b"foobar"), 0x31f0_b262);
    }

    #[test]
    fn hashes_use_the_safe_alphabet_and_change_with_the_collision_count() {
        let h0 = hash(b"data", 0);
        let h1 = hash(b"data", 1);
        assert_ne!(h0, h1);
        assert!(h0.bytes().all(|b| SAFE.contains(&b)), "{h0}");
        // Digits map through `alphanums[b % 27]`: '0' → '4', '6' → 'b', '9' → 'f'.
        let digits = fnv1_32(b"data0").to_string();
        let mapped: String = digits
            .chars()
            .map(|c| match c {
                '0' => '4',
                '1' => '5',
                '2' => '6',
                '3' => '7',
                '4' => '8',
                '5' => '9',
                '6' => 'b',
                '7' => 'c',
                '8' => 'd',
                _ => 'f',
            })
            .collect();
        assert_eq!(h0, mapped);
    }

    #[test]
    fn the_same_template_gives_the_same_name_whatever_the_key_order() {
        let a = new_revision(&set("x"), 1, 0);
        let reordered: StatefulSet = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "u"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [{"image": "x", "name": "c"}]},
                             "metadata": {"labels": {"a": "1", "app": "web", "b": "2"}}}
            }
        }))
        .unwrap();
        let b = new_revision(&reordered, 7, 0);
        assert_eq!(a.name_any(), b.name_any());
        assert!(equal(&a, &b));
        assert_ne!(a.name_any(), new_revision(&set("y"), 1, 0).name_any());
        assert!(a.name_any().starts_with("web-"));
        assert_eq!(
            a.labels()[HASH_LABEL],
            a.name_any().trim_start_matches("web-")
        );
        assert_eq!(a.annotations()["kubernetes.io/change-cause"], "v1");
        let data = String::from_utf8(canonical_bytes(&a.data.0)).unwrap();
        assert!(
            data.starts_with(r#"{"spec":{"template":{"$patch":"replace","metadata""#),
            "{data}"
        );
    }

    #[test]
    fn template_round_trips() {
        let s = set("x");
        let r = new_revision(&s, 1, 0);
        assert_eq!(template_of(&r), Some(s.spec.template));
    }

    fn numbered(revs: &[(&str, i64, &str)]) -> Vec<ControllerRevision> {
        revs.iter()
            .map(|(name, n, image)| {
                let mut r = new_revision(&set(image), *n, 0);
                r.metadata.name = Some(name.to_string());
                r
            })
            .collect()
    }

    #[test]
    fn update_revision_is_latest_rollback_or_new() {
        let mut revs = numbered(&[("b", 2, "v2"), ("a", 1, "v1")]);
        sort(&mut revs);
        assert_eq!(revs[0].name_any(), "a");
        assert_eq!(next_number(&revs), 3);
        let cand = |image| new_revision(&set(image), 3, 0);
        assert_eq!(find_update(&revs, &cand("v2")), UpdateRevision::Latest(1));
        assert_eq!(find_update(&revs, &cand("v1")), UpdateRevision::RollBack(0));
        assert_eq!(find_update(&revs, &cand("v3")), UpdateRevision::Create);
        assert_eq!(find_update(&[], &cand("v3")), UpdateRevision::Create);
    }

    #[test]
    fn truncation_keeps_live_revisions_and_the_newest_history() {
        let revs = numbered(&[
            ("r1", 1, "1"),
            ("r2", 2, "2"),
            ("r3", 3, "3"),
            ("r4", 4, "4"),
            ("r5", 5, "5"),
        ]);
        let live: HashSet<String> = ["r2".to_string(), "r5".to_string()].into();
        assert_eq!(to_truncate(&revs, &live, 1), vec!["r1", "r3"]);
        assert_eq!(to_truncate(&revs, &live, 3), Vec::<String>::new());
        assert_eq!(to_truncate(&revs, &live, 0), vec!["r1", "r3", "r4"]);
        assert_eq!(to_truncate(&revs, &live, -1), Vec::<String>::new());
    }
}
