//! One container of a pod: start its process, capture its logs, run its probes, restart it
//! with back-off as the restart policy says, and stop it (preStop, SIGTERM, SIGKILL after the
//! grace period) when the pod goes away.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use rand::Rng;
use tokio::sync::{mpsc, watch};

use super::backoff::{Backoff, go_duration};
use super::env::{self, PodFacts, Sources};
use super::events::{Kind, container_path};
use super::logs::{ContainerLog, Stream};
use super::mounts::{BindRequest, MountPlan};
use super::podstatus::{State, Termination};
use super::probe::{self, Action, ExecContext, Outcome, ProbeKind, ProbeState, Timing};
use super::process::{
    self, IsolationMode, MARK_CONTAINER, MARK_NODE, NewNamespaces, Placement, SpawnSpec,
};
use super::pty::PtyOutput;
use super::stream::live::{LiveContainer, StdinPort, StdinSink};
use super::task::AbortOnDrop;
use super::volumes::{self, Prepared};
use super::worker::{PodHandle, Shared};

/// The kubelet's minimum shutdown window after a preStop hook.
pub const MIN_GRACE: Duration = Duration::from_secs(2);

/// What the pod worker wants from its containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Keep running.
    No,
    /// Stop: preStop hook (if `prestop`), SIGTERM, SIGKILL after `grace`.
    Graceful {
        /// The grace period.
        grace: Duration,
        /// Run the preStop hook first.
        prestop: bool,
    },
    /// SIGKILL at once.
    Kill,
}

/// Everything a container task needs.
#[derive(Clone)]
pub struct ContainerCtx {
    /// Node-wide state.
    pub shared: Arc<Shared>,
    /// The pod's shared state.
    pub handle: Arc<PodHandle>,
    /// The latest pod object.
    pub pod: watch::Receiver<Arc<Pod>>,
    /// The pod's IP.
    pub ip: Ipv4Addr,
    /// The pod's volumes.
    pub volumes: Arc<Prepared>,
    /// Init container or regular container.
    pub init: bool,
    /// Index in `initContainers` or `containers`.
    pub index: usize,
    /// The container's spec.
    pub spec: Container,
    /// The stop request.
    pub stop: watch::Receiver<Stop>,
}

/// How a container's supervision ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// The last instance ended and will not be restarted.
    Exited(Termination),
    /// Stopped because the pod is going away.
    Stopped,
}

struct Ready {
    program: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    placement: Placement,
    exec: ExecContext,
}

enum PrepError {
    /// `CreateContainerConfigError`, retried.
    Config(String),
    /// The container has no command: it can never run here.
    NoCommand(String),
}

impl ContainerCtx {
    fn name(&self) -> &str {
        &self.spec.name
    }

    fn field_path(&self) -> Option<String> {
        Some(container_path(self.init, &self.spec.name))
    }

    fn event(&self, kind: Kind, reason: &str, message: &str) {
        self.shared
            .recorder
            .pod(&self.handle.key, self.field_path(), kind, reason, message);
    }

    fn update(&self, f: impl FnOnce(&mut super::podstatus::ContainerRuntime)) {
        {
            let mut rt = self.handle.runtime.lock();
            let list = if self.init {
                &mut rt.init
            } else {
                &mut rt.main
            };
            if let Some(c) = list.get_mut(self.index) {
                f(c);
            }
        }
        self.handle.changed.notify_one();
    }

    fn pod_label(&self) -> String {
        let k = &self.handle.key;
        format!("{}_{}({})", k.name, k.namespace, k.uid)
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow() != Stop::No
    }

    /// Sleeps `d`, or returns `false` early when a stop is requested.
    async fn sleep_or_stop(&mut self, d: Duration) -> bool {
        if self.stopping() {
            return false;
        }
        let stop = &mut self.stop;
        let interrupted = tokio::select! {
            _ = tokio::time::sleep(d) => false,
            _ = async { let _ = stop.wait_for(|s| *s != Stop::No).await; } => true,
        };
        !interrupted && !self.stopping()
    }
}

/// Supervises the container until it ends for good or the pod is stopped.
pub async fn supervise(mut ctx: ContainerCtx) -> Finish {
    let mut backoff = Backoff::default();
    let mut last_finish: Option<Instant> = None;
    let policy = ctx
        .pod
        .borrow()
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.clone())
        .unwrap_or_else(|| "Always".into());
    loop {
        if ctx.stopping() {
            return Finish::Stopped;
        }
        if let Some(finished) = last_finish {
            if let Some((left, whole)) = backoff.remaining(finished, Instant::now()) {
                let message = format!(
                    "back-off {} restarting failed container={} pod={}",
                    go_duration(whole),
                    ctx.name(),
                    ctx.pod_label()
                );
                ctx.update(|c| {
                    if let State::Terminated(t) = &c.state {
                        c.last = Some(t.clone());
                    }
                    c.state = State::Waiting {
                        reason: "CrashLoopBackOff".into(),
                        message: Some(message),
                    };
                });
                let text = format!(
                    "Back-off restarting failed container {} in pod {}",
                    ctx.name(),
                    ctx.pod_label()
                );
                ctx.event(Kind::Warning, "BackOff", &text);
                if !ctx.sleep_or_stop(left).await {
                    return Finish::Stopped;
                }
            }
            backoff.next(finished, Instant::now());
        }
        let ready = match prepare(&ctx).await {
            Ok(r) => r,
            Err(PrepError::Config(msg)) => {
                ctx.update(|c| {
                    c.state = State::Waiting {
                        reason: "CreateContainerConfigError".into(),
                        message: Some(msg.clone()),
                    }
                });
                ctx.event(Kind::Warning, "Failed", &format!("Error: {msg}"));
                if !ctx.sleep_or_stop(Duration::from_secs(10)).await {
                    return Finish::Stopped;
                }
                continue;
            }
            Err(PrepError::NoCommand(msg)) => {
                ctx.update(|c| {
                    c.state = State::Waiting {
                        reason: "CreateContainerConfigError".into(),
                        message: Some(msg.clone()),
                    }
                });
                ctx.event(Kind::Warning, "Failed", &format!("Error: {msg}"));
                let _ = ctx.stop.wait_for(|s| *s != Stop::No).await;
                return Finish::Stopped;
            }
        };
        let (termination, stopped) = run_instance(&mut ctx, ready).await;
        if stopped {
            return Finish::Stopped;
        }
        let restart = if ctx.init {
            termination.exit_code != 0 && policy != "Never"
        } else {
            match policy.as_str() {
                "Never" => false,
                "OnFailure" => termination.exit_code != 0,
                _ => true,
            }
        };
        if !restart {
            return Finish::Exited(termination);
        }
        last_finish = Some(Instant::now());
    }
}

async fn fetch_sources(ctx: &ContainerCtx, ns: &str) -> Result<Sources, String> {
    let refs = env::refs(&ctx.spec);
    let mut sources = Sources::default();
    for name in refs.config_maps {
        let api: Api<ConfigMap> = Api::namespaced(ctx.shared.client.clone(), ns);
        let cm = api.get_opt(&name).await.map_err(|e| e.to_string())?;
        sources.config_maps.insert(name, cm);
    }
    for name in refs.secrets {
        let api: Api<Secret> = Api::namespaced(ctx.shared.client.clone(), ns);
        let s = api.get_opt(&name).await.map_err(|e| e.to_string())?;
        sources.secrets.insert(name, s);
    }
    Ok(sources)
}

async fn prepare(ctx: &ContainerCtx) -> Result<Ready, PrepError> {
    let pod = ctx.pod.borrow().clone();
    let ns = ctx.handle.key.namespace.clone();
    let hostname = env::pod_hostname(&pod);
    let facts = PodFacts {
        pod_ip: ctx.ip,
        host_ip: ctx.shared.host_ip,
        node_name: ctx.shared.node_name.clone(),
    };
    let sources = fetch_sources(ctx, &ns).await.map_err(PrepError::Config)?;
    // SAFETY: geteuid has no preconditions.
    let home = if unsafe { libc::geteuid() } == 0 {
        "/root".to_string()
    } else {
        std::env::var("HOME").unwrap_or_else(|_| "/".into())
    };
    let base = vec![
        (
            "PATH".to_string(),
            format!("{}:{}", ctx.shared.bin_dir.display(), env::DEFAULT_PATH),
        ),
        ("HOSTNAME".to_string(), hostname.clone()),
        ("HOME".to_string(), home),
        ("POD_IP".to_string(), ctx.ip.to_string()),
    ];
    let mut env =
        env::build(&pod, &ctx.spec, &facts, &sources, &base).map_err(PrepError::Config)?;
    env.retain(|(k, _)| k != MARK_NODE && k != MARK_CONTAINER);
    env.push((
        MARK_NODE.to_string(),
        ctx.shared.node_dir.display().to_string(),
    ));
    env.push((
        MARK_CONTAINER.to_string(),
        format!("{}/{}", ctx.handle.key.uid, ctx.name()),
    ));
    let Some(line) = env::command_line(&ctx.spec, &env) else {
        let image = ctx.spec.image.clone().unwrap_or_default();
        return Err(PrepError::NoCommand(format!(
            "container {:?} has no command: podgate runs containers as local processes and does not pull \
             or run image {:?}; set command (and args) to a program on this machine, \
             e.g. command: [\"podgate\", \"pet\"]",
            ctx.name(),
            image
        )));
    };
    let (program, args) = match line.split_first() {
        Some((p, a)) => (p.clone(), a.to_vec()),
        None => return Err(PrepError::Config("empty command".into())),
    };
    let working_dir = ctx
        .spec
        .working_dir
        .clone()
        .filter(|w| !w.is_empty())
        .map(PathBuf::from);
    if let Some(wd) = &working_dir
        && !wd.is_absolute()
    {
        return Err(PrepError::Config(format!(
            "workingDir {:?} must be an absolute path",
            wd.display()
        )));
    }
    let mut binds =
        volumes::container_binds(&ctx.spec, &ctx.volumes, &env).map_err(PrepError::Config)?;
    let (placement, join) = match ctx.shared.isolation {
        IsolationMode::None => (
            Placement::Host(MountPlan::chdir_only(working_dir.as_deref())),
            false,
        ),
        mode => {
            if !binds
                .iter()
                .any(|b| b.target == std::path::Path::new("/etc/hosts"))
            {
                let hosts = ctx.handle.pod_dir.join("etc-hosts");
                let content =
                    volumes::hosts_file(&pod, &hostname, ctx.ip, &ctx.shared.dns.cluster_domain);
                if std::fs::write(&hosts, content).is_ok() {
                    binds.push(BindRequest {
                        source: hosts,
                        target: "/etc/hosts".into(),
                        read_only: false,
                    });
                }
            }
            if !binds
                .iter()
                .any(|b| b.target == std::path::Path::new("/etc/resolv.conf"))
            {
                let path = ctx.handle.pod_dir.join("resolv.conf");
                let content = volumes::resolv_conf(&pod, &ctx.shared.dns);
                if std::fs::write(&path, content).is_ok() {
                    binds.push(BindRequest {
                        source: path,
                        target: "/etc/resolv.conf".into(),
                        read_only: false,
                    });
                }
            }
            let stage = ctx.handle.pod_dir.join("rootfs").join(ctx.name());
            std::fs::create_dir_all(&stage)
                .map_err(|e| PrepError::Config(format!("create {}: {e}", stage.display())))?;
            // The state dir (keys, the database, every pod's volumes) is out of the pod's
            // sight; its own volumes stay at their mount paths.
            let state_dir = ctx.shared.node_dir.parent().unwrap_or(&ctx.shared.node_dir);
            let plan = MountPlan::new(&binds, working_dir.as_deref(), &stage)
                .map_err(|e| PrepError::Config(e.to_string()))?
                .hiding(&[state_dir]);
            let ns = NewNamespaces {
                user: mode == IsolationMode::UserNamespaces,
                hostname,
            };
            (Placement::New(ns, plan), true)
        }
    };
    let exec = ExecContext {
        join_pid: None,
        user_ns: join && ctx.shared.isolation == IsolationMode::UserNamespaces,
        env: env.clone(),
        working_dir,
    };
    Ok(Ready {
        program,
        args,
        env,
        placement,
        exec,
    })
}

fn new_container_id() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    format!(
        "podgate://{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// A probe's report to the instance loop.
#[derive(Debug)]
struct ProbeReport {
    kind: ProbeKind,
    /// The probe's result after thresholds.
    result: bool,
}

/// Runs one instance until it exits; returns its termination and whether a stop request ended it.
async fn run_instance(ctx: &mut ContainerCtx, ready: Ready) -> (Termination, bool) {
    let name = ctx.name().to_string();
    // Restart bookkeeping: the previous instance becomes `lastState`.
    let restart = {
        let mut rt = ctx.handle.runtime.lock();
        let list = if ctx.init { &mut rt.init } else { &mut rt.main };
        match list.get_mut(ctx.index) {
            Some(c) => {
                if let State::Terminated(t) = &c.state {
                    c.last = Some(t.clone());
                }
                if c.container_id.is_some() || c.last.is_some() {
                    c.restart_count += 1;
                }
                c.restart_count
            }
            None => 0,
        }
    };
    let container_id = new_container_id();
    let logs_dir = ctx.handle.logs_dir(&name);
    let log = ContainerLog::create(&logs_dir, restart, ctx.shared.log_limits).ok();
    ctx.handle
        .add_log(&name, &container_id, log.clone(), restart);
    let user_ns = ready.exec.user_ns;
    // `tty: true` gives the process a terminal; `stdin: true` keeps a pipe to it open, for
    // attach (`kubectl run -it`).
    let wants_tty = ctx.spec.tty.unwrap_or(false);
    let wants_stdin = ctx.spec.stdin.unwrap_or(false);
    let (terminal, replica) = match wants_tty.then(crate::node::pty::open) {
        Some(Ok((controller, replica))) => (Some(Arc::new(controller)), Some(replica)),
        Some(Err(e)) => {
            tracing::warn!(container = %name, error = %e, "no terminal for the container");
            (None, None)
        }
        None => (None, None),
    };
    let spawned = process::spawn(SpawnSpec {
        program: ready.program.clone(),
        args: ready.args.clone(),
        env: ready.env.clone(),
        placement: ready.placement,
        capture_output: true,
        stdin: wants_stdin,
        terminal: replica,
    });
    let mut proc = match spawned {
        Ok(p) => p,
        Err(e) => {
            let message = format!("failed to start container process: {e}");
            if let Some(log) = &log {
                let _ = log.write_record(Stream::Stderr, message.as_bytes(), false);
                log.close();
            }
            ctx.event(Kind::Warning, "Failed", &format!("Error: {message}"));
            let t = Termination {
                exit_code: 128,
                reason: "StartError".into(),
                message: Some(message),
                started_at: None,
                finished_at: Timestamp::now(),
                container_id: container_id.clone(),
            };
            ctx.update(|c| {
                c.container_id = Some(container_id.clone());
                c.state = State::Terminated(t.clone());
                c.ready = false;
                c.started = false;
            });
            return (t, false);
        }
    };
    let pid = proc.pid();
    let started_at = Timestamp::now();
    let has_startup = ctx.spec.startup_probe.is_some();
    ctx.update(|c| {
        c.container_id = Some(container_id.clone());
        c.state = State::Running { started_at };
        c.ready = false;
        c.started = !has_startup;
    });
    ctx.event(
        Kind::Normal,
        "Created",
        &format!("Created container: {name}"),
    );
    ctx.event(
        Kind::Normal,
        "Started",
        &format!("Started container {name}"),
    );

    let mut exec = ready.exec.clone();
    exec.join_pid = (ctx.shared.isolation != IsolationMode::None).then_some(pid);
    exec.user_ns = user_ns;

    let stdin = if let Some(t) = terminal.as_ref().filter(|_| wants_stdin) {
        Some(StdinSink::Terminal(t.clone()))
    } else {
        proc.take_stdin().map(StdinSink::Pipe)
    };
    let stdin_once = ctx.spec.stdin_once.unwrap_or(false);
    let live = Arc::new(LiveContainer::new(
        exec.clone(),
        terminal.clone(),
        stdin.map(|s| StdinPort::new(s, stdin_once)),
    ));
    ctx.handle.set_live(&name, live.clone());
    let mut pumps = Vec::new();
    if let Some(log) = &log {
        if let Some(t) = &terminal {
            let out = live.tee(Stream::Stdout, PtyOutput(t.clone()));
            pumps.push(AbortOnDrop::spawn(log.clone().pump(Stream::Stdout, out)));
        }
        if let Some(out) = proc.take_stdout() {
            let out = live.tee(Stream::Stdout, out);
            pumps.push(AbortOnDrop::spawn(log.clone().pump(Stream::Stdout, out)));
        }
        if let Some(err) = proc.take_stderr() {
            let err = live.tee(Stream::Stderr, err);
            pumps.push(AbortOnDrop::spawn(log.clone().pump(Stream::Stderr, err)));
        }
    }
    let pod_ip = IpAddr::V4(ctx.ip);

    // postStart: runs right after the start; a failure kills the container.
    let mut kill_reason: Option<String> = None;
    if let Some(hook) = ctx
        .spec
        .lifecycle
        .as_ref()
        .and_then(|l| l.post_start.clone())
    {
        let action = Action::of_hook(&hook, &ctx.spec, pod_ip);
        if let Outcome::Failure(msg) = probe::run(&action, &exec, Duration::from_secs(30)).await {
            ctx.event(
                Kind::Warning,
                "FailedPostStartHook",
                &format!("PostStartHook failed: {msg}"),
            );
            kill_reason = Some("FailedPostStartHook".into());
        }
    }

    // Probes.
    let (report_tx, mut reports) = mpsc::channel::<ProbeReport>(16);
    let (started_tx, started_rx) = watch::channel(!has_startup);
    let mut probes = tokio::task::JoinSet::new();
    if !ctx.init {
        for (kind, p) in [
            (ProbeKind::Startup, ctx.spec.startup_probe.clone()),
            (ProbeKind::Liveness, ctx.spec.liveness_probe.clone()),
            (ProbeKind::Readiness, ctx.spec.readiness_probe.clone()),
        ] {
            if let Some(p) = p {
                let action = Action::of_probe(&p, &ctx.spec, pod_ip);
                let worker = ProbeWorker {
                    kind,
                    timing: Timing::of(&p),
                    action,
                    exec: exec.clone(),
                    started: started_rx.clone(),
                    reports: report_tx.clone(),
                    ctx: ctx.clone(),
                };
                probes.spawn(worker.run());
            }
        }
    }
    if !has_startup && ctx.spec.readiness_probe.is_none() && !ctx.init {
        ctx.update(|c| c.ready = true);
    }
    drop(report_tx);

    let pod_grace = |ctx: &ContainerCtx| {
        let pod = ctx.pod.borrow();
        let secs = pod
            .metadata
            .deletion_grace_period_seconds
            .or(pod
                .spec
                .as_ref()
                .and_then(|s| s.termination_grace_period_seconds))
            .unwrap_or(30);
        Duration::from_secs(secs.max(0) as u64)
    };

    let mut killing: Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>> = None;
    let mut stopped = false;
    if kill_reason.is_some() {
        killing = Some(Box::pin(kill_sequence(
            ctx.clone(),
            pid,
            pod_grace(ctx),
            true,
            exec.clone(),
        )));
    }
    let exit = loop {
        tokio::select! {
            exit = proc.wait() => break exit,
            _ = async { if let Some(k) = killing.as_mut() { k.await } }, if killing.is_some() => {
                killing = None;
            }
            // Once the probes are gone the channel is closed: the pattern disables this branch
            // instead of spinning on `None`.
            Some(r) = reports.recv() => {
                match (r.kind, r.result) {
                    (ProbeKind::Startup, true) => {
                        let _ = started_tx.send(true);
                        let no_readiness = ctx.spec.readiness_probe.is_none();
                        ctx.update(|c| { c.started = true; if no_readiness { c.ready = true; } });
                    }
                    (ProbeKind::Readiness, ok) => {
                        let started = *started_tx.borrow();
                        ctx.update(|c| c.ready = ok && started);
                    }
                    (kind @ (ProbeKind::Startup | ProbeKind::Liveness), false) if killing.is_none() && !stopped => {
                        let what = if kind == ProbeKind::Startup { "startup" } else { "liveness" };
                        ctx.event(Kind::Normal, "Killing", &format!("Container {name} failed {what} probe, will be restarted"));
                        let probe_grace = if kind == ProbeKind::Startup { &ctx.spec.startup_probe } else { &ctx.spec.liveness_probe }
                            .as_ref()
                            .and_then(|p| p.termination_grace_period_seconds)
                            .map(|s| Duration::from_secs(s.max(0) as u64));
                        let grace = probe_grace.unwrap_or_else(|| pod_grace(ctx));
                        ctx.update(|c| c.ready = false);
                        killing = Some(Box::pin(kill_sequence(ctx.clone(), pid, grace, true, exec.clone())));
                    }
                    _ => {}
                }
            }
            changed = ctx.stop.changed(), if !stopped || *ctx.stop.borrow() != Stop::Kill => {
                if changed.is_err() { stopped = true; process::signal_group(pid, libc::SIGKILL); continue; }
                let request = *ctx.stop.borrow();
                match request {
                    Stop::No => {}
                    Stop::Kill => {
                        stopped = true;
                        process::signal_group(pid, libc::SIGKILL);
                        killing = None;
                    }
                    Stop::Graceful { grace, prestop } if !stopped => {
                        stopped = true;
                        ctx.event(Kind::Normal, "Killing", &format!("Stopping container {name}"));
                        ctx.update(|c| c.ready = false);
                        killing = Some(Box::pin(kill_sequence(ctx.clone(), pid, grace, prestop, exec.clone())));
                    }
                    Stop::Graceful { .. } => {}
                }
            }
        }
    };
    probes.abort_all();
    ctx.handle.clear_live(&name, &live);
    drop(live);
    // A container ends with its main process: whatever is left of it is killed.
    process::signal_group(pid, libc::SIGKILL);
    let mark = format!("{}/{}", ctx.handle.key.uid, name);
    process::kill_marked(MARK_CONTAINER, move |v| v == mark, Duration::from_secs(5)).await;
    for p in pumps {
        let _ = tokio::time::timeout(Duration::from_secs(2), p).await;
    }
    if let Some(log) = &log {
        log.close();
    }
    let t = Termination {
        exit_code: exit.code,
        reason: Termination::reason_for(exit.code).into(),
        message: None,
        started_at: Some(started_at),
        finished_at: Timestamp::now(),
        container_id,
    };
    ctx.update(|c| {
        c.state = State::Terminated(t.clone());
        c.ready = false;
        c.started = false;
    });
    (t, stopped)
}

/// preStop (bounded by the grace period), SIGTERM to the group, SIGKILL when the rest of the
/// grace period (at least 2s after a hook) has passed.
async fn kill_sequence(
    ctx: ContainerCtx,
    pid: i32,
    grace: Duration,
    prestop: bool,
    exec: ExecContext,
) {
    let start = Instant::now();
    if prestop
        && !grace.is_zero()
        && let Some(hook) = ctx.spec.lifecycle.as_ref().and_then(|l| l.pre_stop.clone())
    {
        let action = Action::of_hook(&hook, &ctx.spec, IpAddr::V4(ctx.ip));
        match tokio::time::timeout(grace, probe::run(&action, &exec, grace)).await {
            Ok(Outcome::Success) => {}
            Ok(Outcome::Failure(msg)) => {
                let what = match &action {
                    Action::Exec(cmd) => format!("Exec lifecycle hook ({cmd:?})"),
                    Action::Http { .. } => "HTTP lifecycle hook".to_string(),
                    _ => "Lifecycle hook".to_string(),
                };
                let text = format!(
                    "{what} for Container {:?} in Pod {:?} failed - error: {msg}",
                    ctx.name(),
                    ctx.pod_label()
                );
                ctx.event(Kind::Warning, "FailedPreStopHook", &text);
            }
            Err(_) => {
                let text = format!(
                    "PreStop hook for Container {:?} in Pod {:?} did not complete in {}",
                    ctx.name(),
                    ctx.pod_label(),
                    go_duration(grace)
                );
                ctx.event(Kind::Warning, "FailedPreStopHook", &text);
            }
        }
    }
    let mut left = grace.saturating_sub(start.elapsed());
    if !grace.is_zero() && left < MIN_GRACE {
        left = MIN_GRACE;
    }
    process::signal_group(pid, libc::SIGTERM);
    tokio::time::sleep(left).await;
    process::signal_group(pid, libc::SIGKILL);
}

struct ProbeWorker {
    kind: ProbeKind,
    timing: Timing,
    action: Action,
    exec: ExecContext,
    started: watch::Receiver<bool>,
    reports: mpsc::Sender<ProbeReport>,
    ctx: ContainerCtx,
}

impl ProbeWorker {
    async fn run(mut self) {
        if self.kind != ProbeKind::Startup && self.started.wait_for(|s| *s).await.is_err() {
            return;
        }
        tokio::time::sleep(self.timing.initial_delay).await;
        let mut state = ProbeState::new(self.kind);
        loop {
            let outcome = probe::run(&self.action, &self.exec, self.timing.timeout).await;
            let ok = outcome == Outcome::Success;
            if let Outcome::Failure(msg) = &outcome {
                let text = format!("{} probe failed: {}", self.kind.title(), msg);
                self.ctx.event(Kind::Warning, "Unhealthy", &text);
            }
            let changed = state.observe(ok, &self.timing);
            match self.kind {
                ProbeKind::Startup => {
                    if state.result() {
                        let _ = self
                            .reports
                            .send(ProbeReport {
                                kind: self.kind,
                                result: true,
                            })
                            .await;
                        return;
                    }
                    if state.failures_in_a_row() >= self.timing.failure_threshold {
                        let _ = self
                            .reports
                            .send(ProbeReport {
                                kind: self.kind,
                                result: false,
                            })
                            .await;
                        return;
                    }
                }
                ProbeKind::Liveness => {
                    if changed && !state.result() {
                        let _ = self
                            .reports
                            .send(ProbeReport {
                                kind: self.kind,
                                result: false,
                            })
                            .await;
                        return;
                    }
                }
                ProbeKind::Readiness => {
                    if changed
                        && self
                            .reports
                            .send(ProbeReport {
                                kind: self.kind,
                                result: state.result(),
                            })
                            .await
                            .is_err()
                    {
                        return;
                    }
                }
            }
            tokio::time::sleep(self.timing.period).await;
        }
    }
}

/// Sets every regular container that has not run yet to waiting with `reason`.
pub fn waiting_all(handle: &PodHandle, reason: &str) {
    let mut rt = handle.runtime.lock();
    for c in rt.main.iter_mut() {
        if matches!(c.state, State::Waiting { .. }) && c.last.is_none() {
            c.state = State::Waiting {
                reason: reason.into(),
                message: None,
            };
        }
    }
}
