//! The pod's view of the filesystem: volume bind mounts in a private mount namespace.
//!
//! A plan is computed in the parent (where allocation and directory listing are allowed) and
//! executed in the forked child before `exec`, using only system calls.
//!
//! Missing mount points never touch the host filesystem. When a `mountPath` (or
//! `workingDir`) does not exist on the host, the child builds a new root: a tmpfs that
//! mirrors `/` (every top-level entry bind-mounted back, recursively), where each directory
//! on the way to a missing mount point is itself a tmpfs mirroring its host directory. The
//! missing directories are then created inside those tmpfs mounts, the volumes are bound
//! onto them, and the process `pivot_root`s into the new root. Everything it sees is the
//! host's filesystem, except that the mount points exist; nothing is created on the host.
//! When every mount point exists, the volumes are simply bound over them in the private
//! namespace, which does not change the host either.

use std::collections::BTreeSet;
use std::ffi::{CString, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// A volume to bind at a path inside the pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindRequest {
    /// The directory or file on the host.
    pub source: PathBuf,
    /// The absolute path inside the pod (`mountPath`).
    pub target: PathBuf,
    /// Mount read-only.
    pub read_only: bool,
}

/// Why a mount plan cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A mount path or working directory is not an absolute, `..`-free path.
    #[error("path {0:?} must be an absolute path without \"..\"")]
    BadPath(PathBuf),
    /// The source of a volume is missing.
    #[error("volume source {path:?}: {source}")]
    Source {
        /// The missing path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A directory could not be listed or inspected.
    #[error("inspect {path:?}: {source}")]
    Inspect {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// One system call of the plan.
#[derive(Debug)]
enum Op {
    Tmpfs {
        target: CString,
        data: CString,
    },
    Mkdir {
        path: CString,
        mode: u32,
    },
    MkdirAll {
        prefixes: Vec<CString>,
    },
    Touch {
        path: CString,
    },
    Symlink {
        to: CString,
        path: CString,
    },
    Bind {
        source: CString,
        target: CString,
        recursive: bool,
        read_only: bool,
        keep_flags: u64,
    },
    Pivot {
        new_root: CString,
        detach_after: Vec<CString>,
    },
    Chdir {
        path: CString,
    },
    /// An empty read-only tmpfs over a directory the pod must not see (nothing to do when
    /// it does not exist in the pod's view).
    Hide {
        target: CString,
    },
}

const OLD_ROOT: &str = ".podgate-oldroot";

/// A precomputed list of mount operations, safe to run between `fork` and `exec`.
#[derive(Debug, Default)]
pub struct MountPlan {
    ops: Vec<Op>,
    /// Whether the plan builds a new root (some mount point was missing on the host).
    pub new_root: bool,
}

fn cstr(p: impl AsRef<OsStr>) -> CString {
    // Paths from the OS and from validated specs never contain NUL; fall back to an
    // impossible path rather than panic.
    CString::new(p.as_ref().as_bytes()).unwrap_or_else(|_| c"/nonexistent\u{1}".to_owned())
}

/// Normalizes an absolute path: no `..`, no `.`, no trailing slash.
fn normalize(p: &Path) -> Result<PathBuf, PlanError> {
    if !p.is_absolute() {
        return Err(PlanError::BadPath(p.to_path_buf()));
    }
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(n) => out.push(n),
            Component::ParentDir | Component::Prefix(_) => {
                return Err(PlanError::BadPath(p.to_path_buf()));
            }
        }
    }
    Ok(out)
}

/// Resolves symlinks in the existing part of `p`: `(resolved path, exists fully)`.
fn resolve_existing(p: &Path) -> (PathBuf, bool) {
    let mut existing = p.to_path_buf();
    let mut rest: Vec<std::ffi::OsString> = Vec::new();
    loop {
        if let Ok(canon) = std::fs::canonicalize(&existing) {
            let full_exists = rest.is_empty();
            let mut out = canon;
            for r in rest.iter().rev() {
                out.push(r);
            }
            return (out, full_exists);
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent.to_path_buf();
            }
            _ => return (p.to_path_buf(), false),
        }
    }
}

fn prefixes(p: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut cur = PathBuf::from("/");
    for c in p.components().skip(1) {
        cur.push(c);
        out.push(cur.clone());
    }
    out
}

fn under(root: &Path, p: &Path) -> PathBuf {
    root.join(p.strip_prefix("/").unwrap_or(p))
}

/// Mount flags to keep when remounting a bind read-only (locked flags in user namespaces).
fn keep_flags(path: &Path) -> u64 {
    let c = cstr(path);
    // SAFETY: statvfs is plain old data; all-zero is a valid value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a valid out-pointer.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return 0;
    }
    let mut flags = 0u64;
    for (st_flag, ms_flag) in [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if st.f_flag & st_flag != 0 {
            flags |= ms_flag;
        }
    }
    flags
}

impl MountPlan {
    /// Plans `binds` (in the order given, parents before children) and makes sure
    /// `working_dir` exists in the pod's view. `stage` is an empty directory owned by podgate,
    /// used as the new root when one is needed.
    pub fn new(
        binds: &[BindRequest],
        working_dir: Option<&Path>,
        stage: &Path,
    ) -> Result<Self, PlanError> {
        struct Target {
            path: PathBuf,
            is_file: bool,
            bind: Option<BindRequest>,
        }
        let mut targets = Vec::new();
        for b in binds {
            let meta = std::fs::metadata(&b.source).map_err(|e| PlanError::Source {
                path: b.source.clone(),
                source: e,
            })?;
            let (path, _) = resolve_existing(&normalize(&b.target)?);
            targets.push(Target {
                path,
                is_file: !meta.is_dir(),
                bind: Some(b.clone()),
            });
        }
        if let Some(wd) = working_dir {
            let (path, _) = resolve_existing(&normalize(wd)?);
            targets.push(Target {
                path,
                is_file: false,
                bind: None,
            });
        }
        // Parents before children, keeping the given order otherwise.
        targets.sort_by_key(|t| t.path.components().count());

        // Directories that must be mirrored by a tmpfs: every ancestor of a missing mount
        // point up to `/`, unless the mount point lies inside an earlier volume (then the
        // directories are created in that volume, as a container runtime does).
        let mut mirrored: BTreeSet<PathBuf> = BTreeSet::new();
        let mut bound: Vec<PathBuf> = Vec::new();
        for t in &targets {
            let inside_volume = bound.iter().any(|b| t.path.starts_with(b) && &t.path != b);
            if !inside_volume && !t.path.exists() {
                let mut ancestor = t.path.parent().map(Path::to_path_buf);
                while let Some(a) = ancestor {
                    if a.exists() {
                        for p in std::iter::once(PathBuf::from("/")).chain(prefixes(&a)) {
                            mirrored.insert(p);
                        }
                        break;
                    }
                    ancestor = a.parent().map(Path::to_path_buf);
                }
            }
            if t.bind.is_some() {
                bound.push(t.path.clone());
            }
        }

        let new_root = !mirrored.is_empty();
        let root = if new_root {
            stage.to_path_buf()
        } else {
            PathBuf::from("/")
        };
        let mut ops = Vec::new();
        if new_root {
            ops.push(Op::Tmpfs {
                target: cstr(stage),
                data: c"mode=0755".to_owned(),
            });
            // BTreeSet order is parents first.
            for dir in &mirrored {
                let meta = std::fs::metadata(dir).map_err(|e| PlanError::Inspect {
                    path: dir.clone(),
                    source: e,
                })?;
                let in_stage = under(stage, dir);
                if dir != Path::new("/") {
                    let data = format!("mode={:o}", meta.permissions().mode() & 0o7777);
                    ops.push(Op::Tmpfs {
                        target: cstr(&in_stage),
                        data: cstr(data),
                    });
                }
                let entries = std::fs::read_dir(dir).map_err(|e| PlanError::Inspect {
                    path: dir.clone(),
                    source: e,
                })?;
                for entry in entries.flatten() {
                    let host = entry.path();
                    let dest = cstr(under(stage, &host));
                    let Ok(lmeta) = std::fs::symlink_metadata(&host) else {
                        continue;
                    };
                    if mirrored.contains(&host) {
                        ops.push(Op::Mkdir {
                            path: dest,
                            mode: 0o755,
                        });
                    } else if lmeta.file_type().is_symlink() {
                        if let Ok(to) = std::fs::read_link(&host) {
                            ops.push(Op::Symlink {
                                to: cstr(to),
                                path: dest,
                            });
                        }
                    } else if lmeta.is_dir() {
                        ops.push(Op::Mkdir {
                            path: dest.clone(),
                            mode: lmeta.mode() & 0o7777,
                        });
                        ops.push(Op::Bind {
                            source: cstr(&host),
                            target: dest,
                            recursive: true,
                            read_only: false,
                            keep_flags: 0,
                        });
                    } else {
                        ops.push(Op::Touch { path: dest.clone() });
                        ops.push(Op::Bind {
                            source: cstr(&host),
                            target: dest,
                            recursive: false,
                            read_only: false,
                            keep_flags: 0,
                        });
                    }
                }
            }
        }
        for t in &targets {
            let in_root = under(&root, &t.path);
            let mut dirs: Vec<CString> = Vec::new();
            let parent_prefixes = prefixes(&t.path);
            let upto = if t.is_file {
                parent_prefixes.len().saturating_sub(1)
            } else {
                parent_prefixes.len()
            };
            for p in &parent_prefixes[..upto] {
                dirs.push(cstr(under(&root, p)));
            }
            ops.push(Op::MkdirAll { prefixes: dirs });
            if t.is_file {
                ops.push(Op::Touch {
                    path: cstr(&in_root),
                });
            }
            if let Some(b) = &t.bind {
                ops.push(Op::Bind {
                    source: cstr(&b.source),
                    target: cstr(&in_root),
                    recursive: true,
                    read_only: b.read_only,
                    keep_flags: if b.read_only {
                        keep_flags(&b.source)
                    } else {
                        0
                    },
                });
            }
        }
        if new_root {
            ops.push(Op::Mkdir {
                path: cstr(stage.join(OLD_ROOT)),
                mode: 0o700,
            });
            ops.push(Op::Pivot {
                new_root: cstr(stage),
                detach_after: vec![cstr(stage)],
            });
        }
        if let Some(wd) = working_dir {
            let (path, _) = resolve_existing(&normalize(wd)?);
            ops.push(Op::Chdir { path: cstr(path) });
        } else {
            ops.push(Op::Chdir {
                path: c"/".to_owned(),
            });
        }
        Ok(Self { ops, new_root })
    }

    /// A plan that only changes to `working_dir` (no namespaces).
    pub fn chdir_only(working_dir: Option<&Path>) -> Self {
        let path = working_dir.map_or_else(|| c"/".to_owned(), cstr);
        Self {
            ops: vec![Op::Chdir { path }],
            new_root: false,
        }
    }

    /// The same plan, with an empty read-only file system laid over each of `paths` once
    /// the volumes are bound (their binds stay reachable at their mount paths): podgate's
    /// state dir holds keys and every other pod's volumes.
    pub fn hiding(mut self, paths: &[&Path]) -> Self {
        let at = self
            .ops
            .iter()
            .rposition(|op| matches!(op, Op::Chdir { .. }))
            .unwrap_or(self.ops.len());
        for (i, p) in paths.iter().enumerate() {
            self.ops.insert(at + i, Op::Hide { target: cstr(p) });
        }
        self
    }

    /// Describes step `index` for error messages.
    pub fn describe(&self, index: usize) -> String {
        let s = |c: &CString| c.to_string_lossy().into_owned();
        match self.ops.get(index) {
            Some(Op::Tmpfs { target, .. }) => format!("mount tmpfs on {}", s(target)),
            Some(Op::Mkdir { path, .. }) => format!("mkdir {}", s(path)),
            Some(Op::MkdirAll { prefixes }) => {
                format!("mkdir -p {}", prefixes.last().map(s).unwrap_or_default())
            }
            Some(Op::Touch { path }) => format!("create mount point {}", s(path)),
            Some(Op::Symlink { path, .. }) => format!("symlink {}", s(path)),
            Some(Op::Bind { source, target, .. }) => {
                format!("bind mount {} on {}", s(source), s(target))
            }
            Some(Op::Pivot { new_root, .. }) => format!("pivot_root into {}", s(new_root)),
            Some(Op::Chdir { path }) => format!("chdir to {}", s(path)),
            Some(Op::Hide { target }) => format!("hide {}", s(target)),
            None => "set up the pod's namespaces".to_string(),
        }
    }

    /// Runs the plan in the child. Only system calls: safe between `fork` and `exec`.
    /// On failure returns the index of the failed step and the OS error.
    pub fn execute(&self) -> Result<(), (usize, io::Error)> {
        for (i, op) in self.ops.iter().enumerate() {
            run_op(op).map_err(|e| (i, e))?;
        }
        Ok(())
    }
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn mkdir_ok_if_exists(path: &CString, mode: u32) -> io::Result<()> {
    // SAFETY: valid NUL-terminated path.
    if unsafe { libc::mkdir(path.as_ptr(), mode as libc::mode_t) } == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EEXIST) {
        Ok(())
    } else {
        Err(e)
    }
}

fn run_op(op: &Op) -> io::Result<()> {
    // SAFETY (whole function): every pointer is a valid NUL-terminated string owned by the
    // plan, which outlives the call; the calls have no memory-safety preconditions beyond that.
    unsafe {
        match op {
            Op::Tmpfs { target, data } => check(libc::mount(
                c"tmpfs".as_ptr(),
                target.as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                data.as_ptr().cast(),
            )),
            Op::Mkdir { path, mode } => mkdir_ok_if_exists(path, *mode),
            Op::MkdirAll { prefixes } => {
                for p in prefixes {
                    mkdir_ok_if_exists(p, 0o755)?;
                }
                Ok(())
            }
            Op::Touch { path } => {
                // Read-only: an existing file the pod's user may not write (the host's
                // /etc/hosts seen from a user namespace) is a mount point as it is.
                let fd = libc::open(
                    path.as_ptr(),
                    libc::O_CREAT | libc::O_RDONLY | libc::O_CLOEXEC,
                    0o644,
                );
                if fd < 0 {
                    let e = io::Error::last_os_error();
                    // A directory already there is fine for a file mount point check later;
                    // so is a file that exists but cannot be opened.
                    let exists = libc::access(path.as_ptr(), libc::F_OK) == 0;
                    return if e.raw_os_error() == Some(libc::EISDIR) || exists {
                        Ok(())
                    } else {
                        Err(e)
                    };
                }
                libc::close(fd);
                Ok(())
            }
            Op::Symlink { to, path } => check(libc::symlink(to.as_ptr(), path.as_ptr())),
            Op::Bind {
                source,
                target,
                recursive,
                read_only,
                keep_flags,
            } => {
                let mut flags = libc::MS_BIND;
                if *recursive {
                    flags |= libc::MS_REC;
                }
                check(libc::mount(
                    source.as_ptr(),
                    target.as_ptr(),
                    std::ptr::null(),
                    flags,
                    std::ptr::null(),
                ))?;
                if *read_only {
                    let flags = libc::MS_BIND
                        | libc::MS_REMOUNT
                        | libc::MS_RDONLY
                        | *keep_flags as libc::c_ulong;
                    check(libc::mount(
                        std::ptr::null(),
                        target.as_ptr(),
                        std::ptr::null(),
                        flags,
                        std::ptr::null(),
                    ))?;
                }
                Ok(())
            }
            Op::Pivot {
                new_root,
                detach_after,
            } => {
                check(libc::chdir(new_root.as_ptr()))?;
                let old = c".podgate-oldroot";
                if libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), old.as_ptr()) == 0 {
                    check(libc::chdir(c"/".as_ptr()))?;
                    check(libc::umount2(
                        c"/.podgate-oldroot".as_ptr(),
                        libc::MNT_DETACH,
                    ))?;
                    libc::rmdir(c"/.podgate-oldroot".as_ptr());
                } else {
                    // pivot_root is refused on some roots (e.g. an initramfs): chroot instead.
                    check(libc::chroot(c".".as_ptr()))?;
                    check(libc::chdir(c"/".as_ptr()))?;
                    libc::rmdir(old.as_ptr());
                }
                // The bind mounts copied the stage mount itself; hide that copy.
                for p in detach_after {
                    libc::umount2(p.as_ptr(), libc::MNT_DETACH);
                }
                Ok(())
            }
            Op::Chdir { path } => check(libc::chdir(path.as_ptr())),
            Op::Hide { target } => {
                let rc = libc::mount(
                    c"tmpfs".as_ptr(),
                    target.as_ptr(),
                    c"tmpfs".as_ptr(),
                    libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                    c"size=4k,nr_inodes=1,mode=0500".as_ptr().cast(),
                );
                if rc == 0 {
                    return Ok(());
                }
                let e = io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::ENOENT) {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_table() {
        let ok = [
            ("/var/data", "/var/data"),
            ("/var/./data/", "/var/data"),
            ("/", "/"),
            ("//a//b", "/a/b"),
        ];
        for (input, want) in ok {
            assert_eq!(
                normalize(Path::new(input)).expect("valid"),
                PathBuf::from(want)
            );
        }
        for bad in ["relative", "/a/../b", ""] {
            assert!(
                normalize(Path::new(bad)).is_err(),
                "{bad:?} must be rejected"
            );
        }
    }

    #[test]
    fn existing_targets_need_no_new_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = tempfile::tempdir().expect("tempdir");
        let binds = [BindRequest {
            source: src.path().into(),
            target: dir.path().into(),
            read_only: false,
        }];
        let plan = MountPlan::new(&binds, None, Path::new("/nonexistent-stage")).expect("plan");
        assert!(!plan.new_root);
        assert!(
            plan.describe(1).starts_with("bind mount"),
            "{}",
            plan.describe(1)
        );
    }

    #[test]
    fn missing_target_mirrors_its_ancestors() {
        let src = tempfile::tempdir().expect("tempdir");
        let stage = tempfile::tempdir().expect("tempdir");
        let binds = [BindRequest {
            source: src.path().into(),
            target: "/var/podgate-plan-test/data".into(),
            read_only: true,
        }];
        let plan = MountPlan::new(
            &binds,
            Some(Path::new("/var/podgate-plan-test")),
            stage.path(),
        )
        .expect("plan");
        assert!(plan.new_root);
        let tmpfs: Vec<String> = plan
            .ops
            .iter()
            .filter_map(|o| match o {
                Op::Tmpfs { target, .. } => Some(target.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
        let stage_s = stage.path().to_string_lossy().into_owned();
        let var = std::fs::canonicalize("/var").expect("var");
        assert_eq!(
            tmpfs,
            vec![
                stage_s.clone(),
                under(stage.path(), &var).to_string_lossy().into_owned()
            ]
        );
        assert!(
            !Path::new("/var/podgate-plan-test").exists(),
            "planning creates nothing"
        );
    }

    #[test]
    fn missing_source_is_an_error() {
        let binds = [BindRequest {
            source: "/nonexistent/source".into(),
            target: "/x".into(),
            read_only: false,
        }];
        assert!(matches!(
            MountPlan::new(&binds, None, Path::new("/tmp")),
            Err(PlanError::Source { .. })
        ));
    }
}
