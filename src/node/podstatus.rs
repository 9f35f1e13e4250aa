//! A pod's runtime state (what the node agent knows about its containers) and the Pod
//! `status` the kubelet would write for it: phase, conditions with transition times,
//! container statuses, IPs.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodSpec, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// Why a container is not running, or how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Not started (yet): `ContainerCreating`, `PodInitializing`, `CrashLoopBackOff`, …
    Waiting {
        /// Machine-readable reason.
        reason: String,
        /// Human-readable detail.
        message: Option<String>,
    },
    /// Running since `started_at`.
    Running {
        /// When the process started.
        started_at: Timestamp,
    },
    /// Ended.
    Terminated(Termination),
}

/// How a container instance ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Termination {
    /// Exit code (128 + signal when killed).
    pub exit_code: i32,
    /// `Completed`, `Error`, `StartError`, `ContainerStatusUnknown`.
    pub reason: String,
    /// Detail, if any.
    pub message: Option<String>,
    /// When it started (not set when it never started).
    pub started_at: Option<Timestamp>,
    /// When it ended.
    pub finished_at: Timestamp,
    /// The instance's id (`podgate://…`).
    pub container_id: String,
}

impl Termination {
    /// The reason the kubelet reports for an exit code.
    pub fn reason_for(code: i32) -> &'static str {
        if code == 0 { "Completed" } else { "Error" }
    }
}

/// What the node agent knows about one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRuntime {
    /// The container's name.
    pub name: String,
    /// The image field, recorded as given.
    pub image: String,
    /// Current state.
    pub state: State,
    /// The previous instance's termination.
    pub last: Option<Termination>,
    /// How many times the container was restarted.
    pub restart_count: i32,
    /// Readiness.
    pub ready: bool,
    /// Whether the startup probe passed (or there is none) and the container runs.
    pub started: bool,
    /// The current instance's id.
    pub container_id: Option<String>,
}

impl ContainerRuntime {
    /// A container that has not started.
    pub fn waiting(name: &str, image: &str, reason: &str) -> Self {
        Self {
            name: name.to_string(),
            image: image.to_string(),
            state: State::Waiting {
                reason: reason.to_string(),
                message: None,
            },
            last: None,
            restart_count: 0,
            ready: false,
            started: false,
            container_id: None,
        }
    }
}

/// What the node agent knows about one pod.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodRuntime {
    /// Init containers, in spec order.
    pub init: Vec<ContainerRuntime>,
    /// Regular containers, in spec order.
    pub main: Vec<ContainerRuntime>,
    /// The pod's IP.
    pub pod_ip: Option<Ipv4Addr>,
    /// When the node agent accepted the pod.
    pub start_time: Option<Timestamp>,
    /// Volumes and IP are set up (`PodReadyToStartContainers`).
    pub sandbox_ready: bool,
    /// The pod is done for good: no container will run again.
    pub terminal: bool,
    /// `status.reason`/`status.message` to publish (e.g. a deadline), if any.
    pub reason: Option<(String, String)>,
}

/// Converts an API container state back (for pods found in the store after a restart).
pub fn restore_termination(t: &ContainerStateTerminated) -> Termination {
    Termination {
        exit_code: t.exit_code,
        reason: t
            .reason
            .clone()
            .unwrap_or_else(|| Termination::reason_for(t.exit_code).into()),
        message: t.message.clone(),
        started_at: t.started_at.as_ref().map(|x| x.0),
        finished_at: t
            .finished_at
            .as_ref()
            .map_or(Timestamp::UNIX_EPOCH, |x| x.0),
        container_id: t.container_id.clone().unwrap_or_default(),
    }
}

fn time(t: Timestamp) -> Time {
    Time(t)
}

fn termination_api(t: &Termination) -> ContainerStateTerminated {
    ContainerStateTerminated {
        exit_code: t.exit_code,
        reason: Some(t.reason.clone()),
        message: t.message.clone(),
        started_at: t.started_at.map(time),
        finished_at: Some(time(t.finished_at)),
        container_id: Some(t.container_id.clone()),
        signal: None,
    }
}

/// The API `ContainerStatus` of one container.
pub fn container_status(c: &ContainerRuntime) -> ContainerStatus {
    let state = match &c.state {
        State::Waiting { reason, message } => ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(reason.clone()),
                message: message.clone(),
            }),
            ..Default::default()
        },
        State::Running { started_at } => ContainerState {
            running: Some(ContainerStateRunning {
                started_at: Some(time(*started_at)),
            }),
            ..Default::default()
        },
        State::Terminated(t) => ContainerState {
            terminated: Some(termination_api(t)),
            ..Default::default()
        },
    };
    ContainerStatus {
        name: c.name.clone(),
        image: c.image.clone(),
        image_id: String::new(),
        container_id: c.container_id.clone(),
        ready: c.ready,
        started: Some(c.started),
        restart_count: c.restart_count,
        state: Some(state),
        last_state: Some(match &c.last {
            Some(t) => ContainerState {
                terminated: Some(termination_api(t)),
                ..Default::default()
            },
            None => ContainerState::default(),
        }),
        ..Default::default()
    }
}

/// The kubelet's `getPhase` (without restartable init containers).
pub fn phase(spec: &PodSpec, rt: &PodRuntime) -> &'static str {
    let policy = spec.restart_policy.as_deref().unwrap_or("Always");
    let mut pending_init = 0;
    let mut failed_init = 0;
    for c in &rt.init {
        match &c.state {
            State::Running { .. } => pending_init += 1,
            State::Terminated(t) => {
                if t.exit_code != 0 {
                    failed_init += 1;
                }
            }
            State::Waiting { .. } => match &c.last {
                Some(t) if t.exit_code != 0 => failed_init += 1,
                Some(_) => {}
                None => pending_init += 1,
            },
        }
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for c in &rt.main {
        match &c.state {
            State::Running { .. } => running += 1,
            State::Terminated(t) => {
                stopped += 1;
                if t.exit_code == 0 {
                    succeeded += 1;
                }
            }
            State::Waiting { .. } => {
                if c.last.is_some() {
                    stopped += 1;
                } else {
                    waiting += 1;
                }
            }
        }
    }
    let any_main_started = rt
        .main
        .iter()
        .any(|c| !matches!(c.state, State::Waiting { .. }) || c.last.is_some());
    if failed_init > 0 && policy == "Never" {
        return "Failed";
    }
    if (pending_init > 0 && !any_main_started) || waiting > 0 {
        return "Pending";
    }
    if running > 0 {
        return "Running";
    }
    if stopped > 0 {
        if rt.terminal {
            return if stopped == succeeded {
                "Succeeded"
            } else {
                "Failed"
            };
        }
        if policy == "Always" {
            return "Running";
        }
        if stopped == succeeded {
            return "Succeeded";
        }
        if policy == "Never" {
            return "Failed";
        }
        return "Running";
    }
    "Pending"
}

fn names(list: &[&ContainerRuntime]) -> String {
    format!(
        "[{}]",
        list.iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    )
}

fn condition(type_: &str, ok: bool, reason: Option<&str>, message: Option<String>) -> PodCondition {
    PodCondition {
        type_: type_.to_string(),
        status: if ok { "True" } else { "False" }.to_string(),
        reason: reason.map(str::to_string),
        message,
        ..Default::default()
    }
}

/// Conditions the kubelet owns; others (readiness gates, disruption targets) are kept.
const KUBELET_CONDITIONS: [&str; 5] = [
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
];

/// The kubelet-owned conditions for `rt`, given the phase.
pub fn conditions(pod: &Pod, rt: &PodRuntime, phase: &str) -> Vec<PodCondition> {
    let spec = pod.spec.clone().unwrap_or_default();
    let existing = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let mut out: Vec<PodCondition> = existing
        .iter()
        .filter(|c| !KUBELET_CONDITIONS.contains(&c.type_.as_str()))
        .cloned()
        .collect();

    out.push(condition(
        "PodReadyToStartContainers",
        rt.sandbox_ready,
        None,
        None,
    ));

    let incomplete: Vec<&ContainerRuntime> = rt
        .init
        .iter()
        .filter(|c| !matches!(&c.state, State::Terminated(t) if t.exit_code == 0))
        .collect();
    let initialized = incomplete.is_empty() || phase == "Succeeded";
    out.push(if initialized {
        condition("Initialized", true, None, None)
    } else {
        condition(
            "Initialized",
            false,
            Some("ContainersNotInitialized"),
            Some(format!(
                "containers with incomplete status: {}",
                names(&incomplete)
            )),
        )
    });

    let unready: Vec<&ContainerRuntime> = rt.main.iter().filter(|c| !c.ready).collect();
    let containers_ready = if phase == "Succeeded" {
        condition("ContainersReady", false, Some("PodCompleted"), None)
    } else if unready.is_empty() {
        condition("ContainersReady", true, None, None)
    } else {
        condition(
            "ContainersReady",
            false,
            Some("ContainersNotReady"),
            Some(format!(
                "containers with unready status: {}",
                names(&unready)
            )),
        )
    };
    let mut ready = PodCondition {
        type_: "Ready".into(),
        ..containers_ready.clone()
    };
    if ready.status == "True" {
        let gates: Vec<String> = spec
            .readiness_gates
            .iter()
            .flatten()
            .map(|g| g.condition_type.clone())
            .collect();
        let missing: Vec<&String> = gates
            .iter()
            .filter(|g| {
                !existing
                    .iter()
                    .any(|c| &c.type_ == *g && c.status == "True")
            })
            .collect();
        if let Some(first) = missing.first() {
            let absent = !existing.iter().any(|c| &c.type_ == *first);
            let message = if absent {
                format!("corresponding condition of pod readiness gate \"{first}\" does not exist.")
            } else {
                format!("the status of pod readiness gate \"{first}\" is not \"True\", but False")
            };
            ready = condition(
                "Ready",
                false,
                Some("ReadinessGatesNotReady"),
                Some(message),
            );
        }
    }
    out.push(containers_ready);
    out.push(ready);
    out.push(condition("PodScheduled", true, None, None));
    out
}

/// Carries `lastTransitionTime` over from `old` for conditions whose status did not change;
/// sets `now` for the others.
pub fn stamp_transitions(conds: &mut [PodCondition], old: &[PodCondition], now: Timestamp) {
    for c in conds.iter_mut() {
        let prior = old.iter().find(|o| o.type_ == c.type_);
        c.last_transition_time = match prior {
            Some(o) if o.status == c.status && o.last_transition_time.is_some() => {
                o.last_transition_time.clone()
            }
            _ => c.last_transition_time.clone().or(Some(Time(now))),
        };
    }
}

/// The QoS class from the containers' resources (when the API server did not set it).
pub fn qos_class(spec: &PodSpec) -> &'static str {
    let mut any = false;
    let mut guaranteed = true;
    for c in spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
    {
        let res = c.resources.clone().unwrap_or_default();
        let limits: BTreeMap<_, _> = res.limits.unwrap_or_default();
        let requests: BTreeMap<_, _> = res.requests.unwrap_or_default();
        if !limits.is_empty() || !requests.is_empty() {
            any = true;
        }
        for r in ["cpu", "memory"] {
            match (limits.get(r), requests.get(r)) {
                (Some(l), Some(q)) if l == q => {}
                (Some(_), None) => {}
                _ => guaranteed = false,
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

/// The full status the node agent publishes for `pod`. `previous` is the status this node
/// agent last published (the pod object may not show it yet): transition times and terminal
/// phases carry over from it.
pub fn build(
    pod: &Pod,
    previous: Option<&PodStatus>,
    rt: &PodRuntime,
    host_ip: Ipv4Addr,
    now: Timestamp,
) -> PodStatus {
    let spec = pod.spec.clone().unwrap_or_default();
    let old = pod.status.clone().unwrap_or_default();
    let mut phase = phase(&spec, rt);
    // Pods never leave a terminal phase.
    for p in [
        old.phase.as_deref(),
        previous.and_then(|s| s.phase.as_deref()),
    ] {
        match p {
            Some("Succeeded") => phase = "Succeeded",
            Some("Failed") => phase = "Failed",
            _ => {}
        }
    }
    let mut conds = conditions(pod, rt, phase);
    let old_conds = previous
        .and_then(|s| s.conditions.as_deref())
        .or(old.conditions.as_deref())
        .unwrap_or_default();
    stamp_transitions(&mut conds, old_conds, now);
    let host = host_ip.to_string();
    PodStatus {
        phase: Some(phase.to_string()),
        conditions: Some(conds),
        host_ip: Some(host.clone()),
        host_ips: Some(vec![HostIP { ip: host }]),
        pod_ip: rt.pod_ip.map(|ip| ip.to_string()),
        pod_ips: rt.pod_ip.map(|ip| vec![PodIP { ip: ip.to_string() }]),
        start_time: rt.start_time.map(Time),
        container_statuses: Some(rt.main.iter().map(container_status).collect()),
        init_container_statuses: if rt.init.is_empty() {
            None
        } else {
            Some(rt.init.iter().map(container_status).collect())
        },
        qos_class: Some(
            old.qos_class
                .clone()
                .unwrap_or_else(|| qos_class(&spec).to_string()),
        ),
        reason: rt
            .reason
            .as_ref()
            .map(|r| r.0.clone())
            .or(old.reason.clone()),
        message: rt
            .reason
            .as_ref()
            .map(|r| r.1.clone())
            .or(old.message.clone()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodReadinessGate};

    fn running(name: &str, ready: bool) -> ContainerRuntime {
        ContainerRuntime {
            state: State::Running {
                started_at: Timestamp::UNIX_EPOCH,
            },
            ready,
            started: true,
            ..ContainerRuntime::waiting(name, "img", "")
        }
    }

    fn ended(name: &str, code: i32) -> ContainerRuntime {
        let t = Termination {
            exit_code: code,
            reason: Termination::reason_for(code).into(),
            message: None,
            started_at: None,
            finished_at: Timestamp::UNIX_EPOCH,
            container_id: "podgate://x".into(),
        };
        ContainerRuntime {
            state: State::Terminated(t),
            ..ContainerRuntime::waiting(name, "img", "")
        }
    }

    fn backing_off(name: &str, code: i32) -> ContainerRuntime {
        let State::Terminated(t) = ended(name, code).state else {
            unreachable!()
        };
        ContainerRuntime {
            last: Some(t),
            ..ContainerRuntime::waiting(name, "img", "CrashLoopBackOff")
        }
    }

    fn spec(policy: &str) -> PodSpec {
        PodSpec {
            restart_policy: Some(policy.into()),
            ..Default::default()
        }
    }

    #[test]
    fn phase_table() {
        let w = |n: &str| ContainerRuntime::waiting(n, "img", "ContainerCreating");
        // (restart policy, init, main, terminal, phase)
        type Case = (
            &'static str,
            Vec<ContainerRuntime>,
            Vec<ContainerRuntime>,
            bool,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            ("Always", vec![], vec![w("a")], false, "Pending"),
            (
                "Always",
                vec![],
                vec![running("a", false)],
                false,
                "Running",
            ),
            (
                "Always",
                vec![],
                vec![running("a", true), w("b")],
                false,
                "Pending",
            ),
            (
                "Always",
                vec![],
                vec![backing_off("a", 1)],
                false,
                "Running",
            ),
            ("Always", vec![], vec![ended("a", 0)], false, "Running"),
            ("OnFailure", vec![], vec![ended("a", 0)], false, "Succeeded"),
            (
                "OnFailure",
                vec![],
                vec![backing_off("a", 1)],
                false,
                "Running",
            ),
            ("Never", vec![], vec![ended("a", 1)], false, "Failed"),
            (
                "Never",
                vec![],
                vec![ended("a", 0), ended("b", 0)],
                false,
                "Succeeded",
            ),
            (
                "Never",
                vec![],
                vec![ended("a", 0), running("b", true)],
                false,
                "Running",
            ),
            (
                "Always",
                vec![running("init", false)],
                vec![w("a")],
                false,
                "Pending",
            ),
            (
                "Never",
                vec![ended("init", 1)],
                vec![w("a")],
                false,
                "Failed",
            ),
            (
                "Always",
                vec![backing_off("init", 1)],
                vec![w("a")],
                false,
                "Pending",
            ),
            (
                "Always",
                vec![],
                vec![ended("a", 0), ended("b", 137)],
                true,
                "Failed",
            ),
            ("Always", vec![], vec![ended("a", 0)], true, "Succeeded"),
        ];
        for (policy, init, main, terminal, want) in cases {
            let rt = PodRuntime {
                init,
                main,
                terminal,
                ..Default::default()
            };
            assert_eq!(phase(&spec(policy), &rt), want, "{policy} {rt:?}");
        }
    }

    fn pod_with(gates: Vec<&str>, existing: Vec<PodCondition>) -> Pod {
        Pod {
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "a".into(),
                    ..Default::default()
                }],
                readiness_gates: Some(
                    gates
                        .into_iter()
                        .map(|g| PodReadinessGate {
                            condition_type: g.into(),
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            status: Some(PodStatus {
                conditions: Some(existing),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn find<'a>(conds: &'a [PodCondition], t: &str) -> &'a PodCondition {
        conds.iter().find(|c| c.type_ == t).expect(t)
    }

    #[test]
    fn conditions_and_messages() {
        let rt = PodRuntime {
            init: vec![ended("setup", 0)],
            main: vec![running("a", true), running("b", false), running("c", false)],
            sandbox_ready: true,
            ..Default::default()
        };
        let conds = conditions(&pod_with(vec![], vec![]), &rt, "Running");
        assert_eq!(find(&conds, "Initialized").status, "True");
        let cr = find(&conds, "ContainersReady");
        assert_eq!(
            (cr.status.as_str(), cr.reason.as_deref()),
            ("False", Some("ContainersNotReady"))
        );
        assert_eq!(
            cr.message.as_deref(),
            Some("containers with unready status: [b c]")
        );
        assert_eq!(
            find(&conds, "Ready").message.as_deref(),
            Some("containers with unready status: [b c]")
        );
        assert_eq!(find(&conds, "PodScheduled").status, "True");

        let initializing = PodRuntime {
            init: vec![
                running("setup", false),
                ContainerRuntime::waiting("two", "i", "PodInitializing"),
            ],
            ..rt.clone()
        };
        let conds = conditions(&pod_with(vec![], vec![]), &initializing, "Pending");
        assert_eq!(
            find(&conds, "Initialized").message.as_deref(),
            Some("containers with incomplete status: [setup two]")
        );

        let all_ready = PodRuntime {
            main: vec![running("a", true)],
            ..rt.clone()
        };
        let gated = conditions(
            &pod_with(vec!["example.com/lb"], vec![]),
            &all_ready,
            "Running",
        );
        let ready = find(&gated, "Ready");
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_deref()),
            ("False", Some("ReadinessGatesNotReady"))
        );
        assert_eq!(
            ready.message.as_deref(),
            Some(
                "corresponding condition of pod readiness gate \"example.com/lb\" does not exist."
            )
        );
        let lb = PodCondition {
            type_: "example.com/lb".into(),
            status: "True".into(),
            ..Default::default()
        };
        let open = conditions(
            &pod_with(vec!["example.com/lb"], vec![lb]),
            &all_ready,
            "Running",
        );
        assert_eq!(find(&open, "Ready").status, "True");
        assert_eq!(
            find(&open, "example.com/lb").status,
            "True",
            "foreign conditions are kept"
        );
    }

    #[test]
    fn transition_times_only_move_on_change() {
        let t0 = Timestamp::from_second(1_000).expect("t0");
        let t1 = Timestamp::from_second(2_000).expect("t1");
        let mut first = vec![
            condition("Ready", false, None, None),
            condition("PodScheduled", true, None, None),
        ];
        stamp_transitions(&mut first, &[], t0);
        let mut second = vec![
            condition("Ready", true, None, None),
            condition("PodScheduled", true, None, None),
        ];
        stamp_transitions(&mut second, &first, t1);
        assert_eq!(find(&second, "Ready").last_transition_time, Some(Time(t1)));
        assert_eq!(
            find(&second, "PodScheduled").last_transition_time,
            Some(Time(t0))
        );
    }

    #[test]
    fn build_keeps_terminal_phase_and_reports_ips() {
        let mut pod = pod_with(vec![], vec![]);
        let rt = PodRuntime {
            main: vec![running("a", true)],
            pod_ip: Some(Ipv4Addr::new(127, 1, 0, 3)),
            ..Default::default()
        };
        let s = build(&pod, None, &rt, Ipv4Addr::LOCALHOST, Timestamp::UNIX_EPOCH);
        assert_eq!(s.phase.as_deref(), Some("Running"));
        assert_eq!(s.pod_ip.as_deref(), Some("127.1.0.3"));
        assert_eq!(
            s.pod_ips,
            Some(vec![PodIP {
                ip: "127.1.0.3".into()
            }])
        );
        assert_eq!(s.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(s.qos_class.as_deref(), Some("BestEffort"));
        let cs = &s.container_statuses.expect("statuses")[0];
        assert!(cs.ready && cs.state.as_ref().expect("state").running.is_some());
        pod.status.as_mut().expect("status").phase = Some("Failed".into());
        assert_eq!(
            build(&pod, None, &rt, Ipv4Addr::LOCALHOST, Timestamp::UNIX_EPOCH)
                .phase
                .as_deref(),
            Some("Failed")
        );
        pod.status.as_mut().expect("status").phase = None;
        let done = PodStatus {
            phase: Some("Succeeded".into()),
            ..Default::default()
        };
        assert_eq!(
            build(
                &pod,
                Some(&done),
                &rt,
                Ipv4Addr::LOCALHOST,
                Timestamp::UNIX_EPOCH
            )
            .phase
            .as_deref(),
            Some("Succeeded")
        );
    }
}
