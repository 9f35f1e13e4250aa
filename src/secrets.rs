//! Files that hold secrets: written with mode 0600 from the start, never readable by others, and
//! the private directory they live in.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Writes `data` to `path` with mode 0600, replacing the file atomically. The temporary file is
/// created afresh (never through a symlink, never keeping an older file's mode), and the rename
/// replaces a symlink at `path` rather than writing through it.
pub fn write_secret(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

/// Why a state directory is refused.
#[derive(Debug, thiserror::Error)]
pub enum PrivateDirError {
    /// Others may write into it, so they could plant or swap podgate's files.
    #[error(
        "refusing to use {path}: it is writable by group or others (mode {mode:04o}); \
         make it private with `chmod 700 {path}`"
    )]
    WritableByOthers {
        /// The directory.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// It is not a directory (or cannot be created or read).
    #[error("the state dir {path}: {source}")]
    Io {
        /// The directory.
        path: String,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
}

/// Creates `dir` with mode 0700, or checks an existing one: refused when group or others may
/// write into it; made 0700 when it is only readable by them.
pub fn private_dir(dir: &Path) -> Result<(), PrivateDirError> {
    let io = |source| PrivateDirError::Io {
        path: dir.display().to_string(),
        source,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io)?;
    let meta = std::fs::symlink_metadata(dir).map_err(io)?;
    if !meta.is_dir() {
        return Err(io(std::io::Error::other("not a directory")));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(PrivateDirError::WritableByOthers {
            path: dir.display().to_string(),
            mode,
        });
    }
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
    }
    Ok(())
}

/// Makes `path` a file only its owner may read or write: created empty with mode 0600 when
/// missing, set to 0600 otherwise (SQLite gives its `-wal` and `-shm` files the same mode).
pub fn private_file(path: &Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o600)
        .open(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_key_admits_itself_only() {
        let key = NodeKey::generate();
        let other = NodeKey::generate();
        assert!(key.admits(Some(key.authorization().as_bytes())));
        assert!(!key.admits(Some(other.authorization().as_bytes())));
        assert!(!key.admits(None));
        let short = &key.authorization().as_bytes()[..key.authorization().len() - 1];
        assert!(!key.admits(Some(short)));
        assert!(!format!("{key:?}").contains(&key.authorization()[7..]));
    }

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().mode() & 0o777
    }

    #[test]
    fn secrets_are_0600_even_over_an_old_file_or_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        // A stale temporary file that is a symlink to somewhere else is not written through.
        let elsewhere = dir.path().join("elsewhere");
        std::fs::write(&elsewhere, "untouched").unwrap();
        std::os::unix::fs::symlink(&elsewhere, path.with_extension("tmp")).unwrap();
        write_secret(&path, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "untouched");
    }

    #[test]
    fn state_dirs_are_private_and_others_writable_ones_refused() {
        let root = tempfile::tempdir().unwrap();
        let fresh = root.path().join("a/state");
        private_dir(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);

        let readable = root.path().join("readable");
        std::fs::create_dir(&readable).unwrap();
        std::fs::set_permissions(&readable, std::fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&readable).unwrap();
        assert_eq!(mode(&readable), 0o700);

        let open = root.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = private_dir(&open).unwrap_err().to_string();
        assert!(
            err.contains("writable by group or others (mode 0777)"),
            "{err}"
        );
        assert!(err.contains("chmod 700"), "{err}");
        assert_eq!(mode(&open), 0o777, "nothing changed on a refused dir");
    }

    #[test]
    fn private_files_are_0600() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");
        private_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        std::fs::write(&db, "data").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        private_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        assert_eq!(
            std::fs::read_to_string(&db).unwrap(),
            "data",
            "contents kept"
        );
    }
}

/// The credential the API server presents to the node agent's endpoints (logs, exec,
/// attach, port-forward), as kube-apiserver presents its kubelet client certificate: random,
/// held in memory only, compared in constant time. Pods share the host's loopback, so the
/// node's endpoints must not serve whoever connects.
#[derive(Clone)]
pub struct NodeKey {
    /// `Bearer <random>`, the whole header value.
    authorization: String,
}

impl NodeKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        use base64::Engine;
        let bytes: [u8; 32] = rand::random();
        Self {
            authorization: format!(
                "Bearer {}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
            ),
        }
    }

    /// The `Authorization` header value that carries the key.
    pub fn authorization(&self) -> &str {
        &self.authorization
    }

    /// Whether an `Authorization` header value carries this key (constant time).
    pub fn admits(&self, authorization: Option<&[u8]>) -> bool {
        use subtle::ConstantTimeEq;
        authorization.is_some_and(|given| bool::from(given.ct_eq(self.authorization.as_bytes())))
    }
}

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeKey(..)")
    }
}
