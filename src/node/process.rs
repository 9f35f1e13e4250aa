//! Local processes for containers: spawning in a new session (one process group per
//! container), in private mount and UTS namespaces where the OS allows it; signalling the
//! whole group; and finding processes a pod left behind, by a marker in their environment.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use super::mounts::MountPlan;

/// Environment variable naming the node directory a process belongs to.
pub const MARK_NODE: &str = "PODGATE_NODE_DIR";
/// Environment variable carrying `<pod uid>/<container name>`.
pub const MARK_CONTAINER: &str = "PODGATE_CONTAINER";

/// How pods can be isolated on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationMode {
    /// New mount and UTS namespaces directly (root).
    Namespaces,
    /// A new user namespace first, mapping the current user, then mount and UTS namespaces.
    UserNamespaces,
    /// No namespaces: processes share the host's mounts and host name.
    None,
}

impl IsolationMode {
    /// Finds out what the OS allows by trying it in a forked child.
    pub fn detect() -> Self {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        if root && probe_unshare(false) {
            IsolationMode::Namespaces
        } else if probe_unshare(true) {
            IsolationMode::UserNamespaces
        } else {
            IsolationMode::None
        }
    }
}

impl IsolationMode {
    /// Whether unprivileged-style user namespaces can be created here.
    pub fn user_namespaces_work() -> bool {
        probe_unshare(true)
    }
}

/// Forks a child that tries the unshare and the mount-propagation change, and reports.
fn probe_unshare(user: bool) -> bool {
    // SAFETY (both): geteuid/getegid have no preconditions.
    let uid_map = CString::new(format!("0 {} 1", unsafe { libc::geteuid() })).unwrap_or_default();
    let gid_map = CString::new(format!("0 {} 1", unsafe { libc::getegid() })).unwrap_or_default();
    // SAFETY: the child only makes system calls and exits with _exit.
    unsafe {
        let pid = libc::fork();
        if pid < 0 {
            return false;
        }
        if pid == 0 {
            let ok = enter_namespaces(user, &uid_map, &gid_map).is_ok()
                && libc::sethostname(c"podgate-probe".as_ptr(), 13) == 0;
            libc::_exit(if ok { 0 } else { 1 });
        }
        let mut status = 0;
        while libc::waitpid(pid, &mut status, 0) < 0 {
            if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return false;
            }
        }
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
    }
}

fn write_file(path: &std::ffi::CStr, data: &CString) -> io::Result<()> {
    // SAFETY: valid NUL-terminated strings; plain system calls.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let bytes = data.as_bytes();
        let n = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
        libc::close(fd);
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

/// unshare + private propagation; only system calls (fork-safe).
fn enter_namespaces(user: bool, uid_map: &CString, gid_map: &CString) -> io::Result<()> {
    let mut flags = libc::CLONE_NEWNS | libc::CLONE_NEWUTS;
    if user {
        flags |= libc::CLONE_NEWUSER;
    }
    // SAFETY: plain system calls with valid arguments.
    unsafe {
        if libc::unshare(flags) != 0 {
            return Err(io::Error::last_os_error());
        }
        if user {
            write_file(c"/proc/self/setgroups", &CString::from(c"deny"))?;
            write_file(c"/proc/self/uid_map", uid_map)?;
            write_file(c"/proc/self/gid_map", gid_map)?;
        }
        if libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Namespaces for a new container process.
#[derive(Debug)]
pub struct NewNamespaces {
    /// Create a user namespace first (unprivileged mode).
    pub user: bool,
    /// The host name inside the UTS namespace.
    pub hostname: String,
}

/// Where a process runs.
#[derive(Debug)]
pub enum Placement {
    /// New namespaces, then the mount plan (which ends with the working directory).
    New(NewNamespaces, MountPlan),
    /// Join the namespaces of a running container process (exec probes, preStop hooks),
    /// then change to `working_dir`.
    Join {
        /// The container process whose namespaces are joined.
        pid: i32,
        /// Whether to join its user namespace too.
        user: bool,
        /// The directory to change to once inside.
        working_dir: Option<std::path::PathBuf>,
    },
    /// No namespaces; only the working directory plan.
    Host(MountPlan),
}

/// What to run.
#[derive(Debug)]
pub struct SpawnSpec {
    /// `command[0]`, looked up in the child's `PATH` inside its own view.
    pub program: String,
    /// The rest of the command line.
    pub args: Vec<String>,
    /// The complete environment.
    pub env: Vec<(String, String)>,
    /// Namespaces and mounts.
    pub placement: Placement,
    /// Capture stdout/stderr through pipes (else they go to /dev/null).
    pub capture_output: bool,
    /// Give the process a stdin pipe (else it reads /dev/null).
    pub stdin: bool,
    /// A terminal replica to be the process's stdin, stdout, stderr and controlling
    /// terminal (then `capture_output` and `stdin` are ignored).
    pub terminal: Option<OwnedFd>,
}

/// Why a process could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// Setting up namespaces or mounts failed in the child.
    #[error("{step}: {source}")]
    Setup {
        /// The step that failed, e.g. `bind mount /a on /b`.
        step: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The program could not be executed.
    #[error("{0}")]
    Exec(String),
}

/// A running process that leads its own process group.
#[derive(Debug)]
pub struct Process {
    child: tokio::process::Child,
    pid: i32,
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// The exit code, or 128 + signal number when killed by a signal (as runtimes report).
    pub code: i32,
    /// The signal that killed it, if any.
    pub signal: Option<i32>,
}

impl From<ExitStatus> for Exit {
    fn from(status: ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => Exit { code, signal: None },
            (None, Some(sig)) => Exit {
                code: 128 + sig,
                signal: Some(sig),
            },
            (None, None) => Exit {
                code: 255,
                signal: None,
            },
        }
    }
}

/// A pipe whose ends close on exec; the read end never blocks.
fn pipe_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a valid two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 returned two fresh descriptors that we now own.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: `read` is a valid descriptor.
    if unsafe { libc::fcntl(read.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((read, write))
}

fn open_ns(pid: i32, kind: &str) -> io::Result<OwnedFd> {
    Ok(File::open(format!("/proc/{pid}/ns/{kind}"))?.into())
}

/// Starts a process as `spec` says. Its pid is also its process group id.
pub fn spawn(spec: SpawnSpec) -> Result<Process, SpawnError> {
    let io_err = |e: io::Error| SpawnError::Setup {
        step: "prepare".into(),
        source: e,
    };
    let (report_read, report_write) = pipe_cloexec().map_err(io_err)?;
    let report_fd = report_write.as_raw_fd();

    // Everything the child needs is prepared here; the closure only makes system calls.
    // SAFETY: geteuid/getegid have no preconditions.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let uid_map =
        CString::new(format!("{uid} {uid} 1")).map_err(|e| io_err(io::Error::other(e)))?;
    let gid_map =
        CString::new(format!("{gid} {gid} 1")).map_err(|e| io_err(io::Error::other(e)))?;
    let mut join_fds: Vec<(OwnedFd, libc::c_int)> = Vec::new();
    let mut hostname: Option<CString> = None;
    let mut new_ns_user: Option<bool> = None;
    let plan = match spec.placement {
        Placement::New(ns, plan) => {
            hostname = Some(CString::new(ns.hostname).map_err(|e| io_err(io::Error::other(e)))?);
            new_ns_user = Some(ns.user);
            plan
        }
        Placement::Join {
            pid,
            user,
            working_dir,
        } => {
            if user {
                join_fds.push((open_ns(pid, "user").map_err(io_err)?, libc::CLONE_NEWUSER));
            }
            join_fds.push((open_ns(pid, "mnt").map_err(io_err)?, libc::CLONE_NEWNS));
            join_fds.push((open_ns(pid, "uts").map_err(io_err)?, libc::CLONE_NEWUTS));
            MountPlan::chdir_only(working_dir.as_deref())
        }
        Placement::Host(plan) => plan,
    };
    let plan = std::sync::Arc::new(plan);
    let child_plan = plan.clone();
    let join_raw: Vec<(RawFd, libc::c_int)> = join_fds
        .iter()
        .map(|(fd, kind)| (fd.as_raw_fd(), *kind))
        .collect();

    let mut cmd = tokio::process::Command::new(&spec.program);
    cmd.args(&spec.args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)));
    let on_terminal = spec.terminal.is_some();
    if let Some(replica) = &spec.terminal {
        let stdio = || -> Result<Stdio, SpawnError> {
            Ok(Stdio::from(replica.try_clone().map_err(io_err)?))
        };
        cmd.stdin(stdio()?).stdout(stdio()?).stderr(stdio()?);
    } else {
        cmd.stdin(if spec.stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        if spec.capture_output {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        } else {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
    }
    let child_setup = move || -> io::Result<()> {
        let fail = |step: u32, e: io::Error| -> io::Error {
            let bytes = step.to_ne_bytes();
            // SAFETY: writing 4 bytes from a valid buffer to our pipe.
            unsafe { libc::write(report_fd, bytes.as_ptr().cast(), 4) };
            e
        };
        // SAFETY: system calls only.
        unsafe {
            if libc::setsid() < 0 {
                return Err(fail(u32::MAX - 1, io::Error::last_os_error()));
            }
            // The new session's controlling terminal: the replica, now on stdin.
            if on_terminal && libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                return Err(fail(u32::MAX - 5, io::Error::last_os_error()));
            }
            for (fd, kind) in &join_raw {
                if libc::setns(*fd, *kind) != 0 {
                    return Err(fail(u32::MAX - 2, io::Error::last_os_error()));
                }
            }
            if let Some(user) = new_ns_user {
                enter_namespaces(user, &uid_map, &gid_map).map_err(|e| fail(u32::MAX - 3, e))?;
                if let Some(h) = &hostname {
                    let bytes = h.as_bytes();
                    if libc::sethostname(bytes.as_ptr().cast(), bytes.len()) != 0 {
                        return Err(fail(u32::MAX - 4, io::Error::last_os_error()));
                    }
                }
            }
        }
        child_plan.execute().map_err(|(i, e)| fail(i as u32, e))?;
        Ok(())
    };
    // SAFETY: the closure only performs async-signal-safe system calls on data prepared
    // before the fork (no allocation, no locks).
    unsafe {
        cmd.pre_exec(child_setup);
    }
    let result = cmd.spawn();
    // The child wrote its failed step (if any) before `spawn` returned; close our write end
    // so the read below cannot wait for it.
    drop(cmd);
    drop(report_write);
    drop(join_fds);
    match result {
        Ok(child) => {
            let pid = child.id().map(|p| p as i32).unwrap_or(-1);
            Ok(Process { child, pid })
        }
        Err(e) => {
            let mut buf = [0u8; 4];
            let mut file = File::from(report_read);
            let step = match file.read(&mut buf) {
                Ok(4) => Some(u32::from_ne_bytes(buf)),
                _ => None,
            };
            Err(match step {
                Some(s) if s == u32::MAX - 1 => SpawnError::Setup {
                    step: "setsid".into(),
                    source: e,
                },
                Some(s) if s == u32::MAX - 2 => SpawnError::Setup {
                    step: "join the container's namespaces".into(),
                    source: e,
                },
                Some(s) if s == u32::MAX - 3 => SpawnError::Setup {
                    step: "create mount and UTS namespaces".into(),
                    source: e,
                },
                Some(s) if s == u32::MAX - 4 => SpawnError::Setup {
                    step: "set the host name".into(),
                    source: e,
                },
                Some(s) if s == u32::MAX - 5 => SpawnError::Setup {
                    step: "set the controlling terminal".into(),
                    source: e,
                },
                Some(s) => SpawnError::Setup {
                    step: plan.describe(s as usize),
                    source: e,
                },
                None => SpawnError::Exec(exec_message(&spec.program, &e)),
            })
        }
    }
}

/// The message a container runtime gives when `exec` fails (runc's texts).
fn exec_message(program: &str, e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENOENT) if !program.contains('/') => {
            format!("exec: \"{program}\": executable file not found in $PATH")
        }
        Some(libc::ENOENT) => {
            format!("exec: \"{program}\": stat {program}: no such file or directory")
        }
        Some(libc::EACCES) => format!("exec: \"{program}\": permission denied"),
        _ => format!("exec: \"{program}\": {e}"),
    }
}

impl Process {
    /// The process id, which is also the process group id.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Takes the stdout pipe (when output is captured).
    pub fn take_stdout(&mut self) -> Option<tokio::process::ChildStdout> {
        self.child.stdout.take()
    }

    /// Takes the stdin pipe (when asked for).
    pub fn take_stdin(&mut self) -> Option<tokio::process::ChildStdin> {
        self.child.stdin.take()
    }

    /// Takes the stderr pipe (when output is captured).
    pub fn take_stderr(&mut self) -> Option<tokio::process::ChildStderr> {
        self.child.stderr.take()
    }

    /// Sends `signal` to the whole process group.
    pub fn signal_group(&self, signal: i32) {
        signal_group(self.pid, signal);
    }

    /// Waits for the process to end.
    pub async fn wait(&mut self) -> Exit {
        match self.child.wait().await {
            Ok(status) => status.into(),
            Err(_) => Exit {
                code: 255,
                signal: None,
            },
        }
    }
}

/// Sends `signal` to process group `pgid` (ignores a group that is already gone).
pub fn signal_group(pgid: i32, signal: i32) {
    if pgid > 1 {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(-pgid, signal) };
    }
}

/// Pids of live processes whose environment has `key=value` (read from /proc; processes we
/// may not inspect are skipped). Zombies are not reported.
pub fn find_marked(key: &str, value: &str) -> Vec<i32> {
    find_marked_by(key, |v| v == value)
}

/// Pids of live processes whose environment has `key` with a value accepted by `accept`.
pub fn find_marked_by(key: &str, accept: impl Fn(&str) -> bool) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    let prefix = format!("{key}=");
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let marked = env
            .split(|&b| b == 0)
            .filter_map(|kv| std::str::from_utf8(kv).ok())
            .filter_map(|kv| kv.strip_prefix(&prefix))
            .any(&accept);
        if marked && !is_zombie(pid) {
            out.push(pid);
        }
    }
    out
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

/// SIGKILLs every live process with `key` accepted by `accept` and waits (up to `wait`) for
/// them to disappear. Returns how many were found.
pub async fn kill_marked(
    key: &str,
    accept: impl Fn(&str) -> bool + Clone + Send + 'static,
    wait: Duration,
) -> usize {
    let key = key.to_string();
    let scan = {
        let key = key.clone();
        let accept = accept.clone();
        move || find_marked_by(&key, accept)
    };
    let found = tokio::task::spawn_blocking(scan.clone())
        .await
        .unwrap_or_default();
    for pid in &found {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(*pid, libc::SIGKILL) };
    }
    let deadline = tokio::time::Instant::now() + wait;
    while !found.is_empty() && tokio::time::Instant::now() < deadline {
        let left = tokio::task::spawn_blocking(scan.clone())
            .await
            .unwrap_or_default();
        if left.is_empty() {
            break;
        }
        for pid in &left {
            // SAFETY: as above.
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    found.len()
}

/// Reads the host name the kernel reports for this process.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is a valid buffer of the given length.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::mounts::BindRequest;
    use std::path::Path;
    use tokio::io::AsyncReadExt;

    fn sh(script: &str, env: Vec<(String, String)>, placement: Placement) -> SpawnSpec {
        let mut env = env;
        env.push((
            "PATH".into(),
            "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".into(),
        ));
        SpawnSpec {
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
            env,
            placement,
            capture_output: true,
            stdin: false,
            terminal: None,
        }
    }

    async fn output(mut p: Process) -> (String, Exit) {
        let mut out = String::new();
        if let Some(mut o) = p.take_stdout() {
            o.read_to_string(&mut out).await.expect("read stdout");
        }
        let exit = p.wait().await;
        (out, exit)
    }

    fn host() -> Placement {
        Placement::Host(MountPlan::chdir_only(None))
    }

    #[tokio::test]
    async fn runs_with_exact_env_in_its_own_process_group() {
        let env = vec![("GREETING".into(), "hello world".into())];
        let p = spawn(sh(
            "echo \"$GREETING\"; echo pgid=$(cut -d' ' -f5 /proc/$$/stat) pid=$$; pwd",
            env,
            host(),
        ))
        .expect("spawn");
        let pid = p.pid();
        let (out, exit) = output(p).await;
        assert_eq!(
            exit,
            Exit {
                code: 0,
                signal: None
            }
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "hello world");
        assert_eq!(lines[1], format!("pgid={pid} pid={pid}"));
        assert_eq!(lines[2], "/");
    }

    #[tokio::test]
    async fn exit_codes_and_exec_errors() {
        let (_, exit) = output(spawn(sh("exit 3", vec![], host())).expect("spawn")).await;
        assert_eq!(exit.code, 3);
        let err = spawn(SpawnSpec {
            program: "definitely-not-a-command-xyz".into(),
            args: vec![],
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            placement: host(),
            capture_output: false,
            stdin: false,
            terminal: None,
        })
        .expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "exec: \"definitely-not-a-command-xyz\": executable file not found in $PATH"
        );
    }

    #[tokio::test]
    async fn signals_reach_the_whole_group() {
        // A child in the background and the shell itself both get SIGTERM.
        let dir = tempfile::tempdir().expect("tempdir");
        let marker = dir.path().join("child-got-term");
        let script = format!(
            "(trap 'touch {m}; exit 0' TERM; echo started; while true; do sleep 0.05; done) & wait",
            m = marker.display()
        );
        let mut p = spawn(sh(&script, vec![], host())).expect("spawn");
        let mut out = p.take_stdout().expect("stdout");
        let mut first = [0u8; 8];
        out.read_exact(&mut first).await.expect("started");
        p.signal_group(libc::SIGTERM);
        let exit = tokio::time::timeout(Duration::from_secs(10), p.wait())
            .await
            .expect("exits after TERM");
        assert_eq!(
            exit,
            Exit {
                code: 128 + libc::SIGTERM,
                signal: Some(libc::SIGTERM)
            }
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !marker.exists() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(marker.exists(), "background child trapped TERM");
    }

    #[tokio::test]
    async fn marked_processes_are_found_and_killed() {
        let mark = format!("test-{}", std::process::id());
        let env = vec![(MARK_NODE.to_string(), mark.clone())];
        // setsid-escaped grandchild keeps the marker through its environment.
        let p = spawn(sh("setsid sleep 300 & sleep 300", env, host())).expect("spawn");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while find_marked(MARK_NODE, &mark).len() < 3 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(find_marked(MARK_NODE, &mark).len(), 3, "shell + two sleeps");
        let m = mark.clone();
        let killed = kill_marked(MARK_NODE, move |v| v == m, Duration::from_secs(5)).await;
        assert_eq!(killed, 3);
        let (_, exit) = output(p).await;
        assert_eq!(exit.signal, Some(libc::SIGKILL));
        assert!(find_marked(MARK_NODE, &mark).is_empty());
    }

    fn isolated(mode: IsolationMode, hostname: &str, plan: MountPlan) -> Option<Placement> {
        let user = match mode {
            IsolationMode::Namespaces => false,
            IsolationMode::UserNamespaces => true,
            IsolationMode::None => return None,
        };
        Some(Placement::New(
            NewNamespaces {
                user,
                hostname: hostname.into(),
            },
            plan,
        ))
    }

    #[tokio::test]
    async fn namespaces_give_hostname_and_mounts_without_touching_the_host() {
        let mode = IsolationMode::detect();
        if mode == IsolationMode::None {
            eprintln!("namespaces not available here; skipping");
            return;
        }
        let modes: Vec<IsolationMode> = if mode == IsolationMode::Namespaces {
            vec![IsolationMode::Namespaces, IsolationMode::UserNamespaces]
        } else {
            vec![mode]
        };
        for mode in modes {
            let data = tempfile::tempdir().expect("tempdir");
            let cfg = tempfile::tempdir().expect("tempdir");
            std::fs::write(cfg.path().join("app.conf"), "x=1\n").expect("write");
            let stage = tempfile::tempdir().expect("tempdir");
            let missing_root = format!("/podgate-test-{}", std::process::id());
            let missing_var = format!("/var/podgate-test-{}/data", std::process::id());
            let binds = vec![
                BindRequest {
                    source: data.path().into(),
                    target: missing_var.clone().into(),
                    read_only: false,
                },
                BindRequest {
                    source: cfg.path().into(),
                    target: format!("{missing_root}/etc").into(),
                    read_only: true,
                },
            ];
            let plan =
                MountPlan::new(&binds, Some(Path::new(&missing_var)), stage.path()).expect("plan");
            let script = format!(
                "hostname; echo stored > {missing_var}/file; pwd; cat {missing_root}/etc/app.conf; \
                 (echo no > {missing_root}/etc/app.conf) 2>/dev/null && echo writable || echo read-only; \
                 test -d /proc/self && echo proc-ok; test -e {} && echo stage-hidden-fail || echo stage-hidden",
                stage.path().join(".podgate-oldroot").display()
            );
            let placement = isolated(mode, "web-0", plan).expect("isolated");
            let (out, exit) = output(spawn(sh(&script, vec![], placement)).expect("spawn")).await;
            assert_eq!(exit.code, 0, "{mode:?}: {out}");
            let lines: Vec<&str> = out.lines().collect();
            assert_eq!(
                lines,
                [
                    "web-0",
                    missing_var.as_str(),
                    "x=1",
                    "read-only",
                    "proc-ok",
                    "stage-hidden"
                ],
                "{mode:?}"
            );
            assert_eq!(
                std::fs::read_to_string(data.path().join("file")).expect("written"),
                "stored\n"
            );
            assert!(!Path::new(&missing_root).exists(), "host / untouched");
            assert!(
                !Path::new(&missing_var).parent().expect("parent").exists(),
                "host /var untouched"
            );
            assert_ne!(hostname(), "web-0", "host name unchanged");
        }
    }

    #[tokio::test]
    async fn join_enters_the_namespaces_of_a_running_container() {
        if IsolationMode::detect() != IsolationMode::Namespaces {
            eprintln!("root namespaces not available; skipping");
            return;
        }
        let data = tempfile::tempdir().expect("tempdir");
        std::fs::write(data.path().join("seen"), "from volume\n").expect("write");
        let stage = tempfile::tempdir().expect("tempdir");
        let target = format!("/podgate-join-{}", std::process::id());
        let binds = vec![BindRequest {
            source: data.path().into(),
            target: target.clone().into(),
            read_only: false,
        }];
        let plan = MountPlan::new(&binds, None, stage.path()).expect("plan");
        let placement = Placement::New(
            NewNamespaces {
                user: false,
                hostname: "db-1".into(),
            },
            plan,
        );
        let mut main = spawn(sh("echo up; sleep 300", vec![], placement)).expect("spawn");
        let mut out = main.take_stdout().expect("stdout");
        let mut up = [0u8; 3];
        out.read_exact(&mut up).await.expect("up");
        let probe = Placement::Join {
            pid: main.pid(),
            user: false,
            working_dir: Some(target.clone().into()),
        };
        let (probe_out, exit) =
            output(spawn(sh("hostname; cat seen; pwd", vec![], probe)).expect("spawn")).await;
        assert_eq!(exit.code, 0);
        assert_eq!(probe_out, format!("db-1\nfrom volume\n{target}\n"));
        main.signal_group(libc::SIGKILL);
        assert_eq!(main.wait().await.signal, Some(libc::SIGKILL));
    }
}
