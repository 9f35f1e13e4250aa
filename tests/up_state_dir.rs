//! The state dir holds podgate's secrets: it is private, and podgate refuses one others can write.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;

use common::Podgate;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).expect("metadata").mode() & 0o777
}

#[test]
fn the_state_dir_and_its_database_are_private() {
    let pg = Podgate::start(&[]);
    assert_eq!(mode(&pg.state_dir), 0o700);
    for file in [
        "state.db",
        "token",
        "tokens.csv",
        "kubeconfig",
        "ca.key",
        "sa.key",
    ] {
        assert_eq!(mode(&pg.state_dir.join(file)), 0o600, "{file}");
    }
    for file in ["state.db-wal", "state.db-shm"] {
        let path = pg.state_dir.join(file);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{file}");
        }
    }
}

#[test]
fn a_state_dir_others_can_write_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let state = tmp.path().join("state");
    std::fs::create_dir(&state).expect("mkdir");
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let out = Command::new(env!("CARGO_BIN_EXE_podgate"))
        .args(["up", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(&state)
        .output()
        .expect("run podgate up");
    assert!(
        !out.status.success(),
        "podgate up started on a 0777 state dir"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("writable by group or others (mode 0777)"),
        "stderr: {stderr}"
    );
    assert!(
        !state.join("token").exists(),
        "nothing written into the refused dir"
    );
}
