//! The architecture, checked: which room of `src/` may use which.
//!
//! Every top-level module of the crate is a room. The table below says, for each room, the rooms
//! it may name with `crate::…`. The test reads every file under `src/`, collects the rooms each
//! room names outside comments, and fails on an arrow the table does not allow, on a room the
//! table does not know, and on any cycle between rooms. The pure core (`machinery`) also may not
//! name an I/O crate or module.
//!
//! Test code (a `tests.rs` file, or the lines after a file's first `#[cfg(test)]`) may build
//! fixtures from any room below the modes — a controller's test may start an in-process API
//! server — so its arrows are checked only against the pure-core rule.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The rules: each room and the rooms it may use. Arrows point down this list only.
const ROOMS: &[(&str, &[&str])] = &[
    // The modes: parse the command line and wire the rooms together.
    ("main", &["cli", "up", "proxycmd", "pet"]),
    ("cli", &["gateway", "up"]),
    (
        "up",
        &[
            "apiserver",
            "store",
            "controller",
            "node",
            "dns",
            "gateway",
            "cluster",
            "auth",
            "tls",
            "secrets",
            "machinery",
            "wire",
        ],
    ),
    (
        "proxycmd",
        &[
            "cli",
            "gateway",
            "cluster",
            "auth",
            "tls",
            "secrets",
            "machinery",
            "wire",
        ],
    ),
    ("pet", &[]),
    // The servers and agents: each reaches cluster state only through `kube::Client`.
    (
        "apiserver",
        &["store", "auth", "remotecommand", "machinery", "wire"],
    ),
    (
        "gateway",
        &["auth", "cluster", "tls", "secrets", "machinery", "wire"],
    ),
    ("controller", &["cluster", "machinery"]),
    ("dns", &["cluster", "machinery"]),
    (
        "node",
        &["tls", "secrets", "remotecommand", "machinery", "wire"],
    ),
    // Shared rooms: who may do what, the watch cache, the durable store.
    ("auth", &["cluster", "secrets", "machinery", "wire"]),
    ("cluster", &["machinery"]),
    ("store", &["machinery"]),
    // Leaves.
    ("tls", &["secrets"]),
    ("secrets", &[]),
    ("wire", &["machinery"]),
    ("remotecommand", &[]),
    ("machinery", &[]),
    // The crate root only declares the rooms.
    ("lib", &[]),
];

/// Rooms with no I/O: they may not name these crates or modules.
const PURE: &[&str] = &["machinery", "remotecommand"];

/// What a pure room may not name (a prefix of a path in code).
const IO_PATHS: &[&str] = &[
    "tokio",
    "hyper",
    "hyper_util",
    "http_body",
    "tower",
    "rusqlite",
    "kube::",
    "std::fs",
    "std::process",
    "std::thread",
    "std::env",
    "std::net::Tcp",
    "std::net::Udp",
    "libc::",
];

/// One `crate::room` (or I/O path) named at a place in the source.
#[derive(Debug, Clone)]
struct Use {
    from: String,
    to: String,
    at: String,
    test: bool,
}

/// The room a file under `src/` belongs to.
fn room_of(rel: &Path) -> String {
    let first = rel.components().next().expect("non-empty path");
    let name = first.as_os_str().to_string_lossy();
    name.strip_suffix(".rs").unwrap_or(&name).to_string()
}

/// The code of a line without its comment (a `//` inside a string literal is rare enough in
/// `use` paths not to matter).
fn code_of(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

/// Every `crate::room` and I/O path a file names.
fn uses_in(room: &str, rel: &str, text: &str) -> Vec<Use> {
    let mut out = Vec::new();
    let mut test = rel.ends_with("/tests.rs") || rel.contains("/tests/");
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            test = true;
        }
        let code = code_of(line);
        let at = format!("src/{rel}:{}", n + 1);
        if let Some(name) = super_to_root(rel, code)
            && name != room
        {
            out.push(Use {
                from: room.into(),
                to: name,
                at: at.clone(),
                test,
            });
        }
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let before = rest[..i].chars().last();
            let tail = &rest[i + "crate::".len()..];
            let name: String = tail
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // `$crate::` in macros and `podgate_crate::` style names are not crate paths.
            let is_path =
                !matches!(before, Some(c) if c.is_ascii_alphanumeric() || c == '_' || c == '$');
            if is_path && !name.is_empty() && name != room {
                out.push(Use {
                    from: room.into(),
                    to: name,
                    at: at.clone(),
                    test,
                });
            }
            rest = tail;
        }
        for io in IO_PATHS {
            let mut rest = code;
            while let Some(i) = rest.find(io) {
                let before = rest[..i].chars().last();
                if !matches!(before, Some(c) if c.is_ascii_alphanumeric() || c == '_' || c == ':') {
                    out.push(Use {
                        from: room.into(),
                        to: format!("io:{io}"),
                        at: at.clone(),
                        test,
                    });
                }
                rest = &rest[i + io.len()..];
            }
        }
    }
    out
}

/// The room a `super::…::room` path names when its `super`s climb to the crate root (a file
/// at `src/a.rs` or `src/a/mod.rs` is one level deep, `src/a/b.rs` two).
fn super_to_root(rel: &str, code: &str) -> Option<String> {
    let depth = rel
        .trim_end_matches("/mod.rs")
        .trim_end_matches(".rs")
        .split('/')
        .count();
    let i = code.find("super::")?;
    let mut rest = &code[i..];
    let mut climbs = 0;
    while let Some(tail) = rest.strip_prefix("super::") {
        climbs += 1;
        rest = tail;
    }
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (climbs >= depth && !name.is_empty()).then_some(name)
}

/// Every use in the crate's `src/`.
fn crate_uses(src: &Path) -> Vec<Use> {
    let mut files = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let rel = path.strip_prefix(src).expect("under src");
        let text = std::fs::read_to_string(&path).expect("read source");
        let rel_str = rel.to_string_lossy().into_owned();
        out.extend(uses_in(&room_of(rel), &rel_str, &text));
    }
    out
}

/// The rule breaks among `uses`, one line each.
fn violations(uses: &[Use], rooms: &[(&str, &[&str])]) -> Vec<String> {
    let allowed: BTreeMap<&str, BTreeSet<&str>> = rooms
        .iter()
        .map(|(r, to)| (*r, to.iter().copied().collect()))
        .collect();
    let mut out = Vec::new();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for u in uses {
        let Some(may) = allowed.get(u.from.as_str()) else {
            out.push(format!("{}: room `{}` is not in the table", u.at, u.from));
            continue;
        };
        if let Some(io) = u.to.strip_prefix("io:") {
            if PURE.contains(&u.from.as_str()) {
                out.push(format!("{}: the pure room `{}` names `{io}`", u.at, u.from));
            }
            continue;
        }
        if u.test {
            continue;
        }
        if !allowed.contains_key(u.to.as_str()) {
            out.push(format!(
                "{}: `{}` names `crate::{}`, which is not a room",
                u.at, u.from, u.to
            ));
        } else if !may.contains(u.to.as_str()) {
            out.push(format!("{}: `{}` may not use `{}`", u.at, u.from, u.to));
        }
        graph
            .entry(u.from.clone())
            .or_default()
            .insert(u.to.clone());
    }
    if let Some(cycle) = find_cycle(&graph) {
        out.push(format!("a cycle between rooms: {}", cycle.join(" → ")));
    }
    out
}

/// A cycle in the room graph, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|n| n == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(c) = visit(node, graph, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn rooms_use_only_what_the_table_allows() {
    let uses = crate_uses(&src_dir());
    assert!(
        uses.len() > 100,
        "the scan found too few uses: {}",
        uses.len()
    );
    let broken = violations(&uses, ROOMS);
    assert!(
        broken.is_empty(),
        "architecture rules broken:\n{}",
        broken.join("\n")
    );
}

#[test]
fn every_room_on_disk_is_in_the_table() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(src_dir())
        .expect("read src")
        .map(|e| room_of(Path::new(&e.expect("entry").file_name())))
        .collect();
    let table: BTreeSet<String> = ROOMS.iter().map(|(r, _)| r.to_string()).collect();
    assert_eq!(on_disk, table, "rooms on disk and in the table differ");
}

#[test]
fn the_table_itself_has_no_cycle() {
    let graph: BTreeMap<String, BTreeSet<String>> = ROOMS
        .iter()
        .map(|(r, to)| (r.to_string(), to.iter().map(|t| t.to_string()).collect()))
        .collect();
    assert_eq!(find_cycle(&graph), None);
}

// === the checker catches what it should ===

fn one(from: &str, rel: &str, text: &str) -> Vec<String> {
    violations(&uses_in(from, rel, text), ROOMS)
}

#[test]
fn a_wrong_arrow_is_reported() {
    let broken = one(
        "controller",
        "controller/x.rs",
        "use crate::apiserver::ApiServer;\n",
    );
    assert_eq!(
        broken,
        ["src/controller/x.rs:1: `controller` may not use `apiserver`"]
    );
    let broken = one(
        "gateway",
        "gateway/x.rs",
        "let s = crate::store::Store::open(p);\n",
    );
    assert_eq!(
        broken,
        ["src/gateway/x.rs:1: `gateway` may not use `store`"]
    );
}

#[test]
fn io_in_the_pure_core_is_reported() {
    let broken = one(
        "machinery",
        "machinery/x.rs",
        "use tokio::sync::mpsc;\nstd::fs::read(p);\n",
    );
    assert_eq!(broken.len(), 2, "{broken:?}");
    assert!(
        broken[0].contains("`machinery` names `tokio`"),
        "{broken:?}"
    );
    assert!(
        broken[1].contains("`machinery` names `std::fs`"),
        "{broken:?}"
    );
}

#[test]
fn a_cycle_is_reported() {
    let mut uses = uses_in("auth", "auth/x.rs", "use crate::cluster::Filled;\n");
    uses.extend(uses_in(
        "cluster",
        "cluster/x.rs",
        "use crate::auth::UserInfo;\n",
    ));
    let broken = violations(&uses, ROOMS);
    assert!(
        broken
            .iter()
            .any(|b| b.contains("`cluster` may not use `auth`")),
        "{broken:?}"
    );
    assert!(
        broken
            .iter()
            .any(|b| b.starts_with("a cycle between rooms: auth → cluster → auth")),
        "{broken:?}"
    );
}

#[test]
fn comments_test_code_and_macro_paths_are_not_arrows() {
    let text = "// crate::store is not used\n/// see [`crate::apiserver`]\n$crate::machinery::x!();\n\
                #[cfg(test)]\nmod tests { use crate::apiserver::ApiServer; }\n";
    assert_eq!(
        one("controller", "controller/x.rs", text),
        Vec::<String>::new()
    );
    assert_eq!(
        one(
            "controller",
            "controller/tests.rs",
            "use crate::store::Store;\n"
        ),
        Vec::<String>::new()
    );
}

#[test]
fn super_paths_to_the_crate_root_are_arrows() {
    let broken = one("tls", "tls.rs", "let v = super::auth::x509::verifier();\n");
    assert_eq!(broken, ["src/tls.rs:1: `tls` may not use `auth`"]);
    let broken = one(
        "auth",
        "auth/client.rs",
        "super::super::gateway::synthetic(s)\n",
    );
    assert_eq!(
        broken,
        ["src/auth/client.rs:1: `auth` may not use `gateway`"]
    );
    // Within the room, `super` is not an arrow.
    assert_eq!(
        one("auth", "auth/client.rs", "use super::tokens::UserInfo;\n"),
        Vec::<String>::new()
    );
}

#[test]
fn an_unknown_room_is_reported() {
    let broken = one(
        "dnsx",
        "dnsx/mod.rs",
        "use crate::machinery::status::Status;\n",
    );
    assert_eq!(
        broken,
        ["src/dnsx/mod.rs:1: room `dnsx` is not in the table"]
    );
}
