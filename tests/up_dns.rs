//! Cluster DNS of `podgate up`, with real clients: `dig` from the host, and busybox's
//! `nslookup`, glibc's `getent` and `hostname -f` inside pods of a StatefulSet behind a
//! headless service. Names outside the zone go to a stub resolver on loopback.

mod common;

use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::process::Command;

use common::{Podgate, manifest, wait_for};
use hickory_proto::op::{Message, MessageType};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record};

/// A free loopback address for port 53 (UDP and TCP), picked at random in 127.53.0.0/16.
fn free_dns_addr() -> SocketAddr {
    for _ in 0..200 {
        let a: u8 = rand::random_range(1..=254);
        let b: u8 = rand::random_range(1..=254);
        let addr = SocketAddr::from((Ipv4Addr::new(127, 53, a, b), 53));
        if UdpSocket::bind(addr).is_ok() && TcpListener::bind(addr).is_ok() {
            return addr;
        }
    }
    panic!("no free loopback address for DNS");
}

/// A stub upstream resolver: answers every A question with 192.0.2.7.
fn start_stub() -> SocketAddr {
    let addr = free_dns_addr();
    let sock = UdpSocket::bind(addr).expect("stub bind");
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let Ok(req) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut resp =
                Message::new(req.metadata.id, MessageType::Response, req.metadata.op_code);
            resp.metadata.recursion_desired = req.metadata.recursion_desired;
            resp.metadata.recursion_available = true;
            for q in &req.queries {
                resp.add_query(q.clone());
                resp.add_answer(Record::from_rdata(
                    q.name().clone(),
                    60,
                    RData::A(A(Ipv4Addr::new(192, 0, 2, 7))),
                ));
            }
            if let Ok(bytes) = resp.to_vec() {
                let _ = sock.send_to(&bytes, from);
            }
        }
    });
    addr
}

fn dig(dns: SocketAddr, args: &[&str]) -> String {
    let out = Command::new("dig")
        .arg(format!("@{}", dns.ip()))
        .arg("-p")
        .arg(dns.port().to_string())
        .args(["+tries=1", "+time=2"])
        .args(args)
        .output()
        .expect("run dig (dnsutils)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The lines of one section of dig's output (`ANSWER`, `AUTHORITY`, `ADDITIONAL`).
fn section(out: &str, name: &str) -> Vec<String> {
    let head = format!(";; {name} SECTION:");
    out.lines()
        .skip_while(|l| *l != head)
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

const APP: &str = r#"
apiVersion: v1
kind: Service
metadata:
  name: nginx
spec:
  clusterIP: None
  selector:
    app: web
  ports:
  - name: web
    port: 80
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: nginx
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "hostname -f; cat /etc/resolv.conf; exec sleep 3600"]
        ports:
        - name: web
          containerPort: 80
"#;

const CLIENT: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: client
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: busybox
    command:
    - sh
    - -c
    - |
      echo "nslookup:"; busybox nslookup web-1.nginx.default.svc.cluster.local
      echo "getent:"; getent hosts web-1.nginx
      echo "outside:"; getent hosts far.example
      echo "end"
"#;

fn pod_ip(pg: &Podgate, name: &str) -> Option<String> {
    let out = pg.kubectl(&["get", "pod", name, "-o", "jsonpath={.status.podIP}"]);
    let ip = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!ip.is_empty()).then_some(ip)
}

fn ready(pg: &Podgate, name: &str) -> bool {
    let out = pg.kubectl(&[
        "get",
        "pod",
        name,
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
    ]);
    String::from_utf8_lossy(&out.stdout).trim() == "True"
}

#[test]
fn cluster_dns_from_the_host_and_inside_pods() {
    let dns = free_dns_addr();
    let upstream = start_stub();
    let dir = tempfile::tempdir().expect("tempdir");
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(&resolv, format!("nameserver {}\n", upstream.ip())).expect("resolv.conf");
    let pg = Podgate::start(&[
        "--cluster-dns",
        &dns.to_string(),
        "--dns-resolv-conf",
        resolv.to_str().expect("utf-8"),
    ]);
    let app = manifest(dir.path(), "app.yaml", APP);
    pg.kubectl_ok(&["apply", "-f", app.to_str().expect("utf-8")]);
    let ips: Vec<String> = (0..3)
        .map(|i| {
            let name = format!("web-{i}");
            wait_for(&format!("{name} ready"), || {
                ready(&pg, &name).then(|| pod_ip(&pg, &name)).flatten()
            })
        })
        .collect();

    // A record of one ordinal, as the host sees it.
    let fqdn = "web-1.nginx.default.svc.cluster.local";
    wait_for("web-1's A record", || {
        (dig(dns, &["+short", fqdn]).trim() == ips[1]).then_some(())
    });
    let full = dig(dns, &[fqdn]);
    assert!(full.contains("flags: qr aa rd ra"), "{full}");
    assert_eq!(
        section(&full, "ANSWER"),
        vec![format!("{fqdn}. 5 IN A {}", ips[1])]
    );

    // SRV of the service: one per ready ordinal, their A records in the additional section.
    let srv = dig(dns, &["SRV", "nginx.default.svc.cluster.local"]);
    let answers = section(&srv, "ANSWER");
    assert_eq!(answers.len(), 3, "{srv}");
    for (i, ip) in ips.iter().enumerate() {
        let target = format!("web-{i}.nginx.default.svc.cluster.local.");
        assert!(
            answers.contains(&format!(
                "nginx.default.svc.cluster.local. 5 IN SRV 0 33 80 {target}"
            )),
            "{srv}"
        );
        assert!(
            section(&srv, "ADDITIONAL").contains(&format!("{target} 5 IN A {ip}")),
            "{srv}"
        );
    }
    let named = dig(dns, &["SRV", "_web._tcp.nginx.default.svc.cluster.local"]);
    assert_eq!(section(&named, "ANSWER").len(), 3, "{named}");

    // Over TCP the same.
    let tcp = dig(dns, &["+tcp", "+short", fqdn]);
    assert_eq!(tcp.trim(), ips[1]);

    // NXDOMAIN for a missing name, NODATA for a type the name lacks; both with the SOA.
    let nx = dig(dns, &["nope.default.svc.cluster.local"]);
    assert!(nx.contains("status: NXDOMAIN"), "{nx}");
    assert!(nx.contains("flags: qr aa"), "{nx}");
    let soa = section(&nx, "AUTHORITY");
    assert_eq!(soa.len(), 1, "{nx}");
    assert!(
        soa[0]
            .starts_with("cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local."),
        "{nx}"
    );
    let nodata = dig(dns, &["AAAA", fqdn]);
    assert!(nodata.contains("status: NOERROR"), "{nodata}");
    assert!(section(&nodata, "ANSWER").is_empty(), "{nodata}");
    assert_eq!(section(&nodata, "AUTHORITY").len(), 1, "{nodata}");

    // Outside the zone: forwarded to the upstream of the resolver configuration.
    let outside = dig(dns, &["+short", "far.example"]);
    assert_eq!(outside.trim(), "192.0.2.7");

    // Inside a pod: resolv.conf, hosts file and hostname as kubelet makes them.
    let log0 = wait_for("web-0's log", || {
        let out = pg.kubectl(&["logs", "web-0"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.contains("options").then_some(text)
    });
    assert!(
        log0.starts_with("web-0.nginx.default.svc.cluster.local\n"),
        "hostname -f: {log0}"
    );
    assert!(
        log0.contains("search default.svc.cluster.local svc.cluster.local cluster.local")
            && log0.contains(&format!("nameserver {}\n", dns.ip()))
            && log0.contains("options ndots:5"),
        "{log0}"
    );

    // busybox nslookup (FQDN) and glibc through the search path, from inside a pod.
    if dns.port() == 53 {
        let client = manifest(dir.path(), "client.yaml", CLIENT);
        pg.kubectl_ok(&["apply", "-f", client.to_str().expect("utf-8")]);
        let log = wait_for("the client's output", || {
            let out = pg.kubectl(&["logs", "client"]);
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.contains("end").then_some(text)
        });
        let (nslookup, rest) = log.split_once("getent:").expect("sections");
        assert!(
            nslookup.contains(&format!("Address: {}", ips[1])),
            "busybox nslookup: {log}"
        );
        let (getent, outside) = rest.split_once("outside:").expect("sections");
        assert!(
            getent.contains(&ips[1]) && getent.contains("web-1.nginx"),
            "getent: {log}"
        );
        assert!(
            outside.contains("192.0.2.7"),
            "outside name from a pod: {log}"
        );
    }

    // A scale-down shows in the answers.
    pg.kubectl_ok(&["scale", "statefulset", "web", "--replicas=1"]);
    wait_for("SRV after the scale-down", || {
        let srv = dig(dns, &["SRV", "nginx.default.svc.cluster.local"]);
        let a = section(&srv, "ANSWER");
        (a.len() == 1 && a[0].ends_with("0 100 80 web-0.nginx.default.svc.cluster.local."))
            .then_some(())
    });
    wait_for("web-2 gone from DNS", || {
        dig(dns, &["web-2.nginx.default.svc.cluster.local"])
            .contains("status: NXDOMAIN")
            .then_some(())
    });
}

/// A StatefulSet whose governing service `peers` publishes not-ready addresses, and a plain
/// headless service `ready` over the same pods. A pod turns unready while the file
/// `<MARKERS>/unready-<pod>` exists.
const READINESS_APP: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: peers}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector: {app: db}
  ports: [{name: peer, port: 7000}]
---
apiVersion: v1
kind: Service
metadata: {name: ready}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{name: client, port: 7001}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: peers
  replicas: 2
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: main
        image: busybox
        command: ["sleep", "3600"]
        env:
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        ports:
        - {name: peer, containerPort: 7000}
        - {name: client, containerPort: 7001}
        readinessProbe:
          exec: {command: ["sh", "-c", "test ! -e MARKERS/unready-$POD_NAME"]}
          periodSeconds: 1
          failureThreshold: 1
"#;

/// The sorted addresses of `dig +short` of `name` (A).
fn addresses(dns: SocketAddr, name: &str) -> Vec<String> {
    let mut v: Vec<String> = dig(dns, &["+short", name])
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// The sorted SRV targets of `name`.
fn srv_targets(dns: SocketAddr, name: &str) -> Vec<String> {
    let mut v: Vec<String> = section(&dig(dns, &["SRV", name]), "ANSWER")
        .iter()
        .filter_map(|l| l.rsplit(' ').next().map(str::to_string))
        .collect();
    v.sort();
    v
}

#[test]
fn an_unready_pod_leaves_the_answers_unless_its_service_publishes_not_ready_addresses() {
    let dns = free_dns_addr();
    let dir = tempfile::tempdir().expect("tempdir");
    let markers = dir.path().join("markers");
    std::fs::create_dir(&markers).expect("markers dir");
    let pg = Podgate::start(&["--cluster-dns", &dns.to_string()]);
    let app = READINESS_APP.replace("MARKERS", markers.to_str().expect("utf-8"));
    let app = manifest(dir.path(), "app.yaml", &app);
    pg.kubectl_ok(&["apply", "-f", app.to_str().expect("utf-8")]);
    let ips: Vec<String> = (0..2)
        .map(|i| {
            let name = format!("db-{i}");
            wait_for(&format!("{name} ready"), || {
                ready(&pg, &name).then(|| pod_ip(&pg, &name)).flatten()
            })
        })
        .collect();
    let mut both = ips.clone();
    both.sort();
    let peer = |i: usize| format!("db-{i}.peers.default.svc.cluster.local.");
    let dashed = |ip: &str| format!("{}.ready.default.svc.cluster.local.", ip.replace('.', "-"));
    wait_for("both pods in both services", || {
        (addresses(dns, "ready.default.svc.cluster.local") == both
            && srv_targets(dns, "peers.default.svc.cluster.local") == [peer(0), peer(1)])
        .then_some(())
    });

    // db-1 turns unready: the plain service drops it (A, SRV, its endpoint name)...
    std::fs::write(markers.join("unready-db-1"), "").expect("marker");
    wait_for("db-1 unready", || (!ready(&pg, "db-1")).then_some(()));
    wait_for("db-1 gone from the ready service", || {
        (addresses(dns, "ready.default.svc.cluster.local") == [ips[0].clone()]
            && srv_targets(dns, "ready.default.svc.cluster.local") == [dashed(&ips[0])])
        .then_some(())
    });
    let gone = dig(dns, &[dashed(&ips[1]).as_str()]);
    assert!(gone.contains("status: NXDOMAIN"), "{gone}");
    // ...while the publishing service keeps it under its stable name, SRV and A alike.
    assert_eq!(
        srv_targets(dns, "peers.default.svc.cluster.local"),
        [peer(0), peer(1)]
    );
    assert_eq!(
        addresses(dns, "db-1.peers.default.svc.cluster.local"),
        [ips[1].clone()]
    );
    assert_eq!(addresses(dns, "peers.default.svc.cluster.local"), both);

    // Ready again: back in the plain service.
    std::fs::remove_file(markers.join("unready-db-1")).expect("marker");
    wait_for("db-1 back in the ready service", || {
        (addresses(dns, "ready.default.svc.cluster.local") == both).then_some(())
    });
}

/// A selector-less headless service with sixty endpoints (an EndpointSlice written by hand):
/// more A records than 512 bytes hold.
const BIG: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: big}
spec:
  clusterIP: None
  ports: [{name: http, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: big-1
  labels: {kubernetes.io/service-name: big}
addressType: IPv4
ports: [{name: http, port: 80, protocol: TCP}]
endpoints:
ENDPOINTS
"#;

/// The pod that resolves `big` with glibc, by its full name and through the search path.
const BIG_CLIENT: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: glibc}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: debian
    command:
    - sh
    - -c
    - |
      echo "fqdn:"; getent ahostsv4 big.default.svc.cluster.local
      echo "short:"; getent ahostsv4 big
      echo "busybox:"; busybox nslookup big.default.svc.cluster.local
      echo "end"
"#;

/// The distinct addresses in `getent ahostsv4` output.
fn distinct_addresses(getent: &str) -> std::collections::BTreeSet<String> {
    getent
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|a| a.parse::<Ipv4Addr>().is_ok())
        .map(str::to_string)
        .collect()
}

#[test]
fn sixty_endpoints_overflow_udp_and_glibc_gets_all_of_them_over_tcp() {
    let dns = free_dns_addr();
    let dir = tempfile::tempdir().expect("tempdir");
    let pg = Podgate::start(&["--cluster-dns", &dns.to_string()]);
    let endpoints: String = (1..=60)
        .map(|i| format!("- addresses: [\"10.60.0.{i}\"]\n  conditions: {{ready: true}}\n"))
        .collect();
    let big = manifest(
        dir.path(),
        "big.yaml",
        &BIG.replace("ENDPOINTS\n", &endpoints),
    );
    pg.kubectl_ok(&["apply", "-f", big.to_str().expect("utf-8")]);
    let fqdn = "big.default.svc.cluster.local";
    wait_for("sixty A records over TCP", || {
        (dig(dns, &["+tcp", "+short", fqdn]).lines().count() == 60).then_some(())
    });

    // Over UDP without EDNS (512 bytes, what glibc sends): whole records cut, TC set.
    let cut = dig(dns, &["+noedns", "+ignore", fqdn]);
    assert!(cut.contains("flags: qr aa tc rd ra"), "{cut}");
    let kept = section(&cut, "ANSWER").len();
    assert!(
        kept > 0 && kept < 60,
        "{kept} records in a truncated answer: {cut}"
    );
    assert!(!cut.contains("extra bytes"), "no partial record: {cut}");
    // dig without +ignore retries over TCP and gets every record.
    let retried = dig(dns, &["+noedns", fqdn]);
    assert!(
        retried.contains("Truncated, retrying in TCP mode"),
        "{retried}"
    );
    assert_eq!(section(&retried, "ANSWER").len(), 60, "{retried}");
    // With EDNS's 1232 bytes, sixty A records fit in one datagram.
    let edns = dig(dns, &[fqdn]);
    assert!(!edns.contains("Truncated"), "{edns}");
    assert_eq!(section(&edns, "ANSWER").len(), 60, "{edns}");

    // glibc inside a pod: truncated over UDP, falls back to TCP, gets all sixty.
    if dns.port() == 53 {
        let client = manifest(dir.path(), "client.yaml", BIG_CLIENT);
        pg.kubectl_ok(&["apply", "-f", client.to_str().expect("utf-8")]);
        let log = wait_for("the glibc client's output", || {
            let out = pg.kubectl(&["logs", "glibc"]);
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.contains("end").then_some(text)
        });
        let (fqdn_out, rest) = log.split_once("short:").expect("both lookups in the log");
        let (short_out, busybox) = rest.split_once("busybox:").expect("busybox in the log");
        let want: std::collections::BTreeSet<String> =
            (1..=60).map(|i| format!("10.60.0.{i}")).collect();
        assert_eq!(distinct_addresses(fqdn_out), want, "{log}");
        assert_eq!(distinct_addresses(short_out), want, "{log}");
        // busybox reads at most 512 bytes and never retries over TCP: it gets the records that
        // fit, every one whole (a partial record would be its "Parse error").
        assert!(!busybox.contains("rror"), "busybox nslookup: {log}");
        let some = busybox.matches("Address: 10.60.0.").count();
        assert!(some > 0 && some < 60, "busybox nslookup: {log}");
    }
}

/// `podgate up` as a user who may not bind port 53 (root drops to `nobody` with `setpriv`):
/// it starts anyway, warns once with the ways to allow it, and its pods get the host's
/// resolver configuration, through which outside names still resolve.
#[test]
fn without_the_privilege_for_port_53_podgate_starts_warns_once_and_pods_resolve_outside_names() {
    use std::os::unix::fs::PermissionsExt;
    let uid = String::from_utf8_lossy(&Command::new("id").arg("-u").output().expect("id").stdout)
        .trim()
        .to_string();
    let low_ports_open = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|t| t.trim().parse::<u16>().ok())
        .is_some_and(|start| start <= 53);
    if low_ports_open {
        eprintln!("skipped: every user may bind port 53 here (ip_unprivileged_port_start)");
        return;
    }
    let dns = free_dns_addr();
    let upstream = start_stub();
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = tmp.path();
    std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let resolv = base.join("resolv.conf");
    std::fs::write(&resolv, format!("nameserver {}\n", upstream.ip())).expect("resolv.conf");
    let home = base.join("home");
    std::fs::create_dir(&home).expect("home");
    // The binary where the unprivileged user can reach it (the build dir may be private).
    let bin = base.join("podgate");
    if std::fs::hard_link(env!("CARGO_BIN_EXE_podgate"), &bin).is_err() {
        std::fs::copy(env!("CARGO_BIN_EXE_podgate"), &bin).expect("copy podgate");
    }
    let mut cmd = if uid == "0" {
        std::os::unix::fs::chown(&home, Some(65534), Some(65534)).expect("chown");
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        c.arg(&bin);
        c
    } else {
        Command::new(&bin)
    };
    let state = home.join("state");
    let log_path = base.join("podgate.log");
    let child = cmd
        .arg("up")
        .args(["--listen", "127.0.0.1:0", "--state-dir"])
        .arg(&state)
        .args(["--cluster-dns", &dns.to_string(), "--dns-resolv-conf"])
        .arg(&resolv)
        .env("HOME", &home)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log_path).expect("log"))
        .spawn()
        .expect("start podgate up unprivileged");
    let _guard = KillOnDrop(child);
    let kubeconfig = state.join("kubeconfig");
    let port: u16 = wait_for("the kubeconfig", || {
        let text = std::fs::read_to_string(&kubeconfig).ok()?;
        let server = text
            .lines()
            .find(|l| l.trim_start().starts_with("server:"))?;
        server.rsplit(':').next()?.trim().parse().ok()
    });
    wait_for("/readyz", || {
        (common::http_get(port, "/readyz").ok()?.0 == 200).then_some(())
    });

    // One warning, saying how to allow the bind.
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert_eq!(log.matches("cluster DNS is off").count(), 1, "{log}");
    assert!(
        log.contains("setcap cap_net_bind_service=+ep")
            && log.contains("net.ipv4.ip_unprivileged_port_start=53"),
        "{log}"
    );
    assert!(
        UdpSocket::bind(dns).is_ok() && TcpListener::bind(dns).is_ok(),
        "podgate holds no socket on {dns}"
    );

    // A pod resolves an outside name through the host's resolver configuration (which needs
    // the pod's own mount namespace: unprivileged, a user namespace).
    let isolation = wait_for("the node agent's isolation line", || {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        log.lines()
            .find(|l| l.contains("pods run in") || l.contains("namespaces are not available"))
            .map(str::to_string)
    });
    if !isolation.contains("pods run in") {
        eprintln!("pods are not isolated here: their resolv.conf is the machine's; not checked");
        return;
    }
    let kubectl = |args: &[&str]| {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(args)
            .output()
            .expect("kubectl")
    };
    let pod = manifest(base, "pod.yaml", OUTSIDE_CLIENT);
    let applied = kubectl(&["apply", "-f", pod.to_str().expect("utf-8")]);
    assert!(applied.status.success(), "{applied:?}");
    let out = wait_for("the client's output", || {
        let text = String::from_utf8_lossy(&kubectl(&["logs", "outside"]).stdout).into_owned();
        text.contains("end").then_some(text)
    });
    assert!(
        out.contains(&format!("nameserver {}", upstream.ip())),
        "resolv.conf: {out}"
    );
    assert!(out.contains("192.0.2.7"), "getent: {out}");
}

/// A pod that shows its resolver configuration and looks up an outside name.
const OUTSIDE_CLIENT: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: outside}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: debian
    command: ["sh", "-c", "cat /etc/resolv.conf; getent hosts far.example; echo end"]
"#;

/// Kills the child process (and waits for it) when dropped.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
