//! The record logic of the cluster zone: pure functions from a [`Snapshot`] of the cluster and one
//! question to an [`Answer`], following the rules CoreDNS's `kubernetes` plugin answers by.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, CNAME, PTR, SOA, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// The TTL of every cluster record (CoreDNS's default).
pub(crate) const TTL: u32 = 5;

/// What kind of Service a name belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Has cluster IPs.
    ClusterIp(Vec<IpAddr>),
    /// `clusterIP: None`: answers with its ready endpoints.
    Headless,
    /// `type: ExternalName`: a CNAME to this name.
    External(String),
}

/// A Service port: name (may be empty), protocol, port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Port {
    /// The port's name.
    pub name: String,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// The port number.
    pub port: u16,
}

/// One ready endpoint address of a Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// The address.
    pub ip: IpAddr,
    /// The endpoint's label: its hostname, else the dashed address.
    pub name: String,
    /// The endpoint ports (resolved target ports).
    pub ports: Vec<Port>,
}

/// A Service as DNS sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Service {
    /// Its kind.
    pub kind: Kind,
    /// `spec.ports`.
    pub ports: Vec<Port>,
    /// Ready endpoints.
    pub endpoints: Vec<Endpoint>,
}

/// An immutable view of everything DNS answers from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    /// Namespaces that exist (lowercase).
    pub namespaces: HashSet<String>,
    /// Services by (namespace, name), lowercase.
    pub services: HashMap<(String, String), Service>,
    /// Changes with every rebuild (the SOA serial).
    pub serial: u32,
    /// Whether the caches behind it had their first full list.
    pub synced: bool,
}

impl Snapshot {
    /// PTR targets of an address, relative to the zone: a ClusterIP names its Service, else every
    /// ready endpoint with the address names `<endpoint>.<svc>.<ns>.svc`.
    fn ptr_names(&self, ip: IpAddr) -> Vec<String> {
        let mut keys: Vec<_> = self.services.iter().collect();
        keys.sort_by(|a, b| a.0.cmp(b.0));
        for ((ns, name), svc) in &keys {
            if let Kind::ClusterIp(ips) = &svc.kind
                && ips.contains(&ip)
            {
                return vec![format!("{name}.{ns}.svc")];
            }
        }
        let mut out = Vec::new();
        for ((ns, name), svc) in &keys {
            if let Some(ep) = svc.endpoints.iter().find(|e| e.ip == ip) {
                out.push(format!("{}.{name}.{ns}.svc", ep.name));
            }
        }
        out
    }
}

/// The endpoint label of an address without a hostname: `10.244.1.5` → `10-244-1-5`.
pub(crate) fn dashed(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string().replace('.', "-"),
        IpAddr::V6(v6) => {
            let s = v6.to_string().replace(':', "-");
            if s.ends_with('-') { format!("{s}0") } else { s }
        }
    }
}

/// The reply to one question.
#[derive(Debug, Default)]
pub(crate) struct Answer {
    /// NOERROR, NXDOMAIN or SERVFAIL.
    pub rcode: ResponseCode,
    /// The answer section.
    pub answers: Vec<Record>,
    /// Whether the zone's SOA goes into the authority section (negative answers).
    pub soa: bool,
    /// The additional section.
    pub additionals: Vec<Record>,
}

/// Whose question it is.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Answered from the snapshot, authoritatively.
    Local(Answer),
    /// Not ours: forward it.
    Forward,
}

/// The zone's SOA record.
pub(crate) fn soa(zone: &Name, serial: u32) -> Record {
    let mname = Name::from_ascii("ns.dns")
        .and_then(|n| n.append_domain(zone))
        .unwrap_or_else(|_| zone.clone());
    let rname = Name::from_ascii("hostmaster")
        .and_then(|n| n.append_domain(zone))
        .unwrap_or_else(|_| zone.clone());
    Record::from_rdata(
        zone.clone(),
        TTL,
        RData::SOA(SOA::new(mname, rname, serial, 7200, 1800, 86400, TTL)),
    )
}

fn nxdomain() -> Answer {
    Answer {
        rcode: ResponseCode::NXDomain,
        soa: true,
        ..Default::default()
    }
}

fn nodata() -> Answer {
    Answer {
        soa: true,
        ..Default::default()
    }
}

fn addr_record(name: &Name, ip: IpAddr) -> Record {
    let rdata = match ip {
        IpAddr::V4(v4) => RData::A(A(v4)),
        IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
    };
    Record::from_rdata(name.clone(), TTL, rdata)
}

fn family_matches(qtype: RecordType, ip: &IpAddr) -> bool {
    matches!(
        (qtype, ip),
        (RecordType::A, IpAddr::V4(_)) | (RecordType::AAAA, IpAddr::V6(_))
    )
}

/// `rel` (relative to the zone, dotted) as an absolute name in the zone.
fn in_zone(rel: &str, zone: &Name) -> Option<Name> {
    Name::from_ascii(rel).ok()?.append_domain(zone).ok()
}

/// Answers `qname`/`qtype` against the snapshot, or says the name is not ours.
pub(crate) fn answer(snap: &Snapshot, zone: &Name, qname: &Name, qtype: RecordType) -> Outcome {
    if qname
        .to_ascii()
        .to_ascii_lowercase()
        .ends_with(".in-addr.arpa.")
    {
        return reverse(snap, zone, qname, qtype);
    }
    if !zone.zone_of(qname) {
        return Outcome::Forward;
    }
    Outcome::Local(lookup(snap, zone, qname, qtype, 0))
}

fn reverse(snap: &Snapshot, zone: &Name, qname: &Name, qtype: RecordType) -> Outcome {
    let lower = qname.to_ascii().to_ascii_lowercase();
    let head = lower.trim_end_matches(".in-addr.arpa.");
    let octets: Vec<&str> = head.split('.').collect();
    if octets.len() != 4 {
        return Outcome::Forward;
    }
    let text: Vec<&str> = octets.into_iter().rev().collect();
    let Ok(ip) = text.join(".").parse::<IpAddr>() else {
        return Outcome::Forward;
    };
    let names = snap.ptr_names(ip);
    if names.is_empty() {
        return Outcome::Forward;
    }
    if qtype != RecordType::PTR {
        return Outcome::Local(nodata());
    }
    let answers = names
        .iter()
        .filter_map(|n| in_zone(n, zone))
        .map(|target| Record::from_rdata(qname.clone(), TTL, RData::PTR(PTR(target))))
        .collect();
    Outcome::Local(Answer {
        answers,
        ..Default::default()
    })
}

fn lookup(snap: &Snapshot, zone: &Name, qname: &Name, qtype: RecordType, depth: u8) -> Answer {
    let result = lookup_synced(snap, zone, qname, qtype, depth);
    if !snap.synced && result.rcode == ResponseCode::NXDomain {
        return Answer {
            rcode: ResponseCode::ServFail,
            ..Default::default()
        };
    }
    result
}

fn lookup_synced(
    snap: &Snapshot,
    zone: &Name,
    qname: &Name,
    qtype: RecordType,
    depth: u8,
) -> Answer {
    let extra = qname.num_labels().saturating_sub(zone.num_labels()) as usize;
    // Labels left of the zone, rightmost first, lowercase.
    let labels: Vec<String> = qname
        .iter()
        .take(extra)
        .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let l: Vec<&str> = labels.iter().map(String::as_str).collect();
    match l.as_slice() {
        [] => match qtype {
            RecordType::SOA => Answer {
                answers: vec![soa(zone, snap.serial)],
                ..Default::default()
            },
            _ => nodata(),
        },
        ["svc"] | ["pod"] => nodata(),
        ["svc", ns] | ["pod", ns] => {
            if snap.namespaces.contains(*ns) {
                nodata()
            } else {
                nxdomain()
            }
        }
        ["pod", ns, ip] => pod_record(snap, qname, qtype, ns, ip),
        ["svc", ns, svc] => service(snap, zone, qname, qtype, ns, svc, depth),
        ["svc", ns, svc, ep] => endpoint(snap, qname, qtype, ns, svc, ep),
        ["svc", ns, svc, proto, port] if port.starts_with('_') && proto.starts_with('_') => {
            named_srv(snap, zone, qname, qtype, ns, svc, &port[1..], &proto[1..])
        }
        _ => nxdomain(),
    }
}

fn pod_record(snap: &Snapshot, qname: &Name, qtype: RecordType, ns: &str, label: &str) -> Answer {
    if !snap.namespaces.contains(ns) {
        return nxdomain();
    }
    let ip: Option<IpAddr> = if label.matches('-').count() == 3 && !label.contains("--") {
        label.replace('-', ".").parse().ok()
    } else {
        label.replace('-', ":").parse().ok()
    };
    let Some(ip) = ip else { return nxdomain() };
    if family_matches(qtype, &ip) {
        Answer {
            answers: vec![addr_record(qname, ip)],
            ..Default::default()
        }
    } else {
        nodata()
    }
}

/// SRV weight: floor(100 / n), at least 1.
fn weight(n: usize) -> u16 {
    (100 / n.max(1)).max(1) as u16
}

fn service(
    snap: &Snapshot,
    zone: &Name,
    qname: &Name,
    qtype: RecordType,
    ns: &str,
    name: &str,
    depth: u8,
) -> Answer {
    let Some(svc) = snap.services.get(&(ns.to_string(), name.to_string())) else {
        return nxdomain();
    };
    match &svc.kind {
        Kind::External(target) => {
            if qtype == RecordType::SRV {
                return nodata();
            }
            let Ok(target) = Name::from_ascii(target).map(|mut n| {
                n.set_fqdn(true);
                n
            }) else {
                return nodata();
            };
            let mut answers = vec![Record::from_rdata(
                qname.clone(),
                TTL,
                RData::CNAME(CNAME(target.clone())),
            )];
            // Chase a target inside the zone (bounded); targets outside are left to the client.
            if matches!(qtype, RecordType::A | RecordType::AAAA)
                && zone.zone_of(&target)
                && depth < 8
            {
                let chased = lookup_synced(snap, zone, &target, qtype, depth + 1);
                answers.extend(chased.answers);
            }
            Answer {
                answers,
                ..Default::default()
            }
        }
        Kind::ClusterIp(ips) => match qtype {
            RecordType::A | RecordType::AAAA => {
                let answers: Vec<_> = ips
                    .iter()
                    .filter(|ip| family_matches(qtype, ip))
                    .map(|ip| addr_record(qname, *ip))
                    .collect();
                if answers.is_empty() {
                    nodata()
                } else {
                    Answer {
                        answers,
                        ..Default::default()
                    }
                }
            }
            RecordType::SRV => {
                if svc.ports.is_empty() {
                    return nodata();
                }
                let w = weight(svc.ports.len() * ips.len().max(1));
                let mut answers = Vec::new();
                let mut seen = HashSet::new();
                for p in &svc.ports {
                    if seen.insert(p.port) {
                        answers.push(Record::from_rdata(
                            qname.clone(),
                            TTL,
                            RData::SRV(SRV::new(0, w, p.port, qname.clone())),
                        ));
                    }
                }
                let additionals = ips.iter().map(|ip| addr_record(qname, *ip)).collect();
                Answer {
                    answers,
                    additionals,
                    ..Default::default()
                }
            }
            _ => nodata(),
        },
        Kind::Headless => {
            if svc.endpoints.is_empty() {
                return nxdomain();
            }
            match qtype {
                RecordType::A | RecordType::AAAA => {
                    let mut seen = HashSet::new();
                    let answers: Vec<_> = svc
                        .endpoints
                        .iter()
                        .filter(|e| family_matches(qtype, &e.ip) && seen.insert(e.ip))
                        .map(|e| addr_record(qname, e.ip))
                        .collect();
                    if answers.is_empty() {
                        nodata()
                    } else {
                        Answer {
                            answers,
                            ..Default::default()
                        }
                    }
                }
                RecordType::SRV => endpoint_srv(svc, qname, qname, |_| true),
                _ => nodata(),
            }
        }
    }
}

/// SRV records for the endpoints of a headless Service whose ports pass `keep`; `svc_name` is
/// `<svc>.<ns>.svc.<zone>` (the targets hang below it).
fn endpoint_srv(
    svc: &Service,
    owner: &Name,
    svc_name: &Name,
    keep: impl Fn(&Port) -> bool,
) -> Answer {
    let entries: Vec<(&Endpoint, u16)> = svc
        .endpoints
        .iter()
        .flat_map(|e| e.ports.iter().filter(|p| keep(p)).map(move |p| (e, p.port)))
        .collect();
    if entries.is_empty() {
        return nodata();
    }
    let w = weight(entries.len());
    let mut answers = Vec::new();
    let mut additionals = Vec::new();
    let mut seen = HashSet::new();
    for (e, port) in entries {
        let Ok(target) = Name::from_ascii(&e.name).and_then(|n| n.append_domain(svc_name)) else {
            continue;
        };
        if !seen.insert((e.name.clone(), port)) {
            continue;
        }
        answers.push(Record::from_rdata(
            owner.clone(),
            TTL,
            RData::SRV(SRV::new(0, w, port, target.clone())),
        ));
        additionals.push(addr_record(&target, e.ip));
    }
    Answer {
        answers,
        additionals,
        ..Default::default()
    }
}

fn endpoint(
    snap: &Snapshot,
    qname: &Name,
    qtype: RecordType,
    ns: &str,
    svc: &str,
    ep: &str,
) -> Answer {
    let Some(svc) = snap.services.get(&(ns.to_string(), svc.to_string())) else {
        return nxdomain();
    };
    if matches!(svc.kind, Kind::External(_)) {
        return nxdomain();
    }
    let matching: Vec<&Endpoint> = svc.endpoints.iter().filter(|e| e.name == ep).collect();
    if matching.is_empty() {
        return nxdomain();
    }
    let mut seen = HashSet::new();
    let answers: Vec<_> = matching
        .iter()
        .filter(|e| family_matches(qtype, &e.ip) && seen.insert(e.ip))
        .map(|e| addr_record(qname, e.ip))
        .collect();
    if answers.is_empty() {
        nodata()
    } else {
        Answer {
            answers,
            ..Default::default()
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn named_srv(
    snap: &Snapshot,
    zone: &Name,
    qname: &Name,
    qtype: RecordType,
    ns: &str,
    name: &str,
    port: &str,
    proto: &str,
) -> Answer {
    let Some(svc) = snap.services.get(&(ns.to_string(), name.to_string())) else {
        return nxdomain();
    };
    let matches = |p: &Port| {
        !p.name.is_empty()
            && p.name.eq_ignore_ascii_case(port)
            && p.protocol.eq_ignore_ascii_case(proto)
    };
    let Some(svc_name) = in_zone(&format!("{name}.{ns}.svc"), zone) else {
        return nxdomain();
    };
    match &svc.kind {
        Kind::External(_) => nxdomain(),
        Kind::ClusterIp(ips) => {
            let Some(p) = svc.ports.iter().find(|p| matches(p)) else {
                return nxdomain();
            };
            if qtype != RecordType::SRV {
                return nodata();
            }
            Answer {
                answers: vec![Record::from_rdata(
                    qname.clone(),
                    TTL,
                    RData::SRV(SRV::new(0, 100, p.port, svc_name.clone())),
                )],
                additionals: ips.iter().map(|ip| addr_record(&svc_name, *ip)).collect(),
                ..Default::default()
            }
        }
        Kind::Headless => {
            if !svc.endpoints.iter().any(|e| e.ports.iter().any(matches)) {
                return nxdomain();
            }
            if qtype != RecordType::SRV {
                return nodata();
            }
            endpoint_srv(svc, qname, &svc_name, matches)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone() -> Name {
        Name::from_ascii("cluster.local.").unwrap()
    }

    fn tcp(name: &str, port: u16) -> Port {
        Port {
            name: name.into(),
            protocol: "TCP".into(),
            port,
        }
    }

    fn ep(ip: &str, name: &str, port: u16) -> Endpoint {
        Endpoint {
            ip: ip.parse().unwrap(),
            name: name.into(),
            ports: vec![tcp("http", port)],
        }
    }

    fn snap() -> Snapshot {
        let mut s = Snapshot {
            synced: true,
            serial: 7,
            ..Default::default()
        };
        s.namespaces.insert("default".into());
        s.namespaces.insert("empty".into());
        s.services.insert(
            ("default".into(), "kubia".into()),
            Service {
                kind: Kind::Headless,
                ports: vec![tcp("http", 80)],
                endpoints: vec![
                    ep("172.17.0.4", "kubia-0", 80),
                    ep("172.17.0.6", "kubia-1", 80),
                ],
            },
        );
        s.services.insert(
            ("default".into(), "api".into()),
            Service {
                kind: Kind::ClusterIp(vec!["10.96.0.5".parse().unwrap()]),
                ports: vec![tcp("https", 443), tcp("", 8080)],
                endpoints: vec![ep("172.17.0.9", "172-17-0-9", 8443)],
            },
        );
        s.services.insert(
            ("default".into(), "gone".into()),
            Service {
                kind: Kind::Headless,
                ports: vec![tcp("http", 80)],
                endpoints: vec![],
            },
        );
        s.services.insert(
            ("default".into(), "ext".into()),
            Service {
                kind: Kind::External("api.default.svc.cluster.local".into()),
                ports: vec![],
                endpoints: vec![],
            },
        );
        s
    }

    fn ask(s: &Snapshot, name: &str, t: RecordType) -> Answer {
        match answer(s, &zone(), &Name::from_ascii(name).unwrap(), t) {
            Outcome::Local(a) => a,
            Outcome::Forward => panic!("{name} was forwarded"),
        }
    }

    fn texts(rs: &[Record]) -> Vec<String> {
        let mut v: Vec<String> = rs.iter().map(|r| r.to_string()).collect();
        v.sort();
        v
    }

    #[test]
    fn rcodes_table() {
        use ResponseCode::*;
        let s = snap();
        let cases: &[(&str, RecordType, ResponseCode, usize)] = &[
            ("cluster.local.", RecordType::A, NoError, 0),
            ("cluster.local.", RecordType::SOA, NoError, 1),
            ("svc.cluster.local.", RecordType::A, NoError, 0),
            ("default.svc.cluster.local.", RecordType::A, NoError, 0),
            ("nope.svc.cluster.local.", RecordType::A, NXDomain, 0),
            ("foo.cluster.local.", RecordType::A, NXDomain, 0),
            (
                "kubia.default.svc.cluster.local.",
                RecordType::A,
                NoError,
                2,
            ),
            (
                "KUBIA.Default.svc.cluster.local.",
                RecordType::A,
                NoError,
                2,
            ),
            (
                "kubia.default.svc.cluster.local.",
                RecordType::AAAA,
                NoError,
                0,
            ),
            (
                "kubia.default.svc.cluster.local.",
                RecordType::MX,
                NoError,
                0,
            ),
            (
                "kubia-1.kubia.default.svc.cluster.local.",
                RecordType::A,
                NoError,
                1,
            ),
            (
                "kubia-2.kubia.default.svc.cluster.local.",
                RecordType::A,
                NXDomain,
                0,
            ),
            (
                "kubia-1.kubia.default.svc.cluster.local.",
                RecordType::AAAA,
                NoError,
                0,
            ),
            (
                "missing.default.svc.cluster.local.",
                RecordType::A,
                NXDomain,
                0,
            ),
            (
                "gone.default.svc.cluster.local.",
                RecordType::A,
                NXDomain,
                0,
            ),
            (
                "gone.default.svc.cluster.local.",
                RecordType::SRV,
                NXDomain,
                0,
            ),
            ("api.default.svc.cluster.local.", RecordType::A, NoError, 1),
            (
                "api.default.svc.cluster.local.",
                RecordType::AAAA,
                NoError,
                0,
            ),
            (
                "172-17-0-9.api.default.svc.cluster.local.",
                RecordType::A,
                NoError,
                1,
            ),
            (
                "_https._tcp.api.default.svc.cluster.local.",
                RecordType::SRV,
                NoError,
                1,
            ),
            (
                "_https._udp.api.default.svc.cluster.local.",
                RecordType::SRV,
                NXDomain,
                0,
            ),
            (
                "_https._tcp.api.default.svc.cluster.local.",
                RecordType::A,
                NoError,
                0,
            ),
            (
                "_tcp.api.default.svc.cluster.local.",
                RecordType::SRV,
                NXDomain,
                0,
            ),
            (
                "a.b.c.d.api.default.svc.cluster.local.",
                RecordType::A,
                NXDomain,
                0,
            ),
            (
                "x.ext.default.svc.cluster.local.",
                RecordType::A,
                NXDomain,
                0,
            ),
            (
                "ext.default.svc.cluster.local.",
                RecordType::SRV,
                NoError,
                0,
            ),
            (
                "127-1-0-1.default.pod.cluster.local.",
                RecordType::A,
                NoError,
                1,
            ),
            (
                "127-1-0-1.nope.pod.cluster.local.",
                RecordType::A,
                NXDomain,
                0,
            ),
            (
                "junk.default.pod.cluster.local.",
                RecordType::A,
                NXDomain,
                0,
            ),
        ];
        for (name, t, rcode, n) in cases {
            let a = ask(&s, name, *t);
            assert_eq!(a.rcode, *rcode, "{name} {t}");
            assert_eq!(a.answers.len(), *n, "{name} {t}: {:?}", a.answers);
            let negative = a.answers.is_empty();
            assert_eq!(a.soa, negative, "{name} {t}: SOA only on negative answers");
        }
    }

    #[test]
    fn srv_lists_every_ready_endpoint_with_additional_addresses() {
        let a = ask(&snap(), "kubia.default.svc.cluster.local.", RecordType::SRV);
        assert_eq!(
            texts(&a.answers),
            vec![
                "kubia.default.svc.cluster.local. 5 IN SRV 0 50 80 kubia-0.kubia.default.svc.cluster.local.",
                "kubia.default.svc.cluster.local. 5 IN SRV 0 50 80 kubia-1.kubia.default.svc.cluster.local.",
            ]
        );
        assert_eq!(
            texts(&a.additionals),
            vec![
                "kubia-0.kubia.default.svc.cluster.local. 5 IN A 172.17.0.4",
                "kubia-1.kubia.default.svc.cluster.local. 5 IN A 172.17.0.6",
            ]
        );
        let named = ask(
            &snap(),
            "_http._tcp.kubia.default.svc.cluster.local.",
            RecordType::SRV,
        );
        assert_eq!(named.answers.len(), 2);
        assert_eq!(named.additionals.len(), 2);
    }

    #[test]
    fn cluster_ip_srv_points_at_the_service() {
        let a = ask(
            &snap(),
            "_https._tcp.api.default.svc.cluster.local.",
            RecordType::SRV,
        );
        assert_eq!(
            texts(&a.answers),
            vec![
                "_https._tcp.api.default.svc.cluster.local. 5 IN SRV 0 100 443 api.default.svc.cluster.local."
            ]
        );
        assert_eq!(
            texts(&a.additionals),
            vec!["api.default.svc.cluster.local. 5 IN A 10.96.0.5"]
        );
        let plain = ask(&snap(), "api.default.svc.cluster.local.", RecordType::SRV);
        assert_eq!(plain.answers.len(), 2, "one per port, named or not");
    }

    #[test]
    fn external_name_is_a_cname_chased_inside_the_zone() {
        let a = ask(&snap(), "ext.default.svc.cluster.local.", RecordType::A);
        assert_eq!(
            texts(&a.answers),
            vec![
                "api.default.svc.cluster.local. 5 IN A 10.96.0.5",
                "ext.default.svc.cluster.local. 5 IN CNAME api.default.svc.cluster.local.",
            ]
        );
    }

    #[test]
    fn ptr_for_service_and_endpoint_addresses_others_forwarded() {
        let s = snap();
        let a = ask(&s, "5.0.96.10.in-addr.arpa.", RecordType::PTR);
        assert_eq!(
            texts(&a.answers),
            vec!["5.0.96.10.in-addr.arpa. 5 IN PTR api.default.svc.cluster.local."]
        );
        let a = ask(&s, "6.0.17.172.in-addr.arpa.", RecordType::PTR);
        assert_eq!(
            texts(&a.answers),
            vec!["6.0.17.172.in-addr.arpa. 5 IN PTR kubia-1.kubia.default.svc.cluster.local."]
        );
        let unknown = Name::from_ascii("9.9.9.9.in-addr.arpa.").unwrap();
        assert!(matches!(
            answer(&s, &zone(), &unknown, RecordType::PTR),
            Outcome::Forward
        ));
        let outside = Name::from_ascii("example.com.").unwrap();
        assert!(matches!(
            answer(&s, &zone(), &outside, RecordType::A),
            Outcome::Forward
        ));
    }

    #[test]
    fn before_the_first_sync_nxdomain_is_servfail() {
        let mut s = snap();
        s.synced = false;
        let a = ask(&s, "missing.default.svc.cluster.local.", RecordType::A);
        assert_eq!(a.rcode, ResponseCode::ServFail);
    }

    #[test]
    fn dashed_addresses() {
        assert_eq!(dashed("10.244.1.5".parse().unwrap()), "10-244-1-5");
        assert_eq!(dashed("5678:abcd::1".parse().unwrap()), "5678-abcd--1");
        assert_eq!(dashed("5678:abcd::".parse().unwrap()), "5678-abcd--0");
    }

    #[test]
    fn srv_weight() {
        assert_eq!(weight(1), 100);
        assert_eq!(weight(6), 16);
        assert_eq!(weight(200), 1);
    }
}
