//! Cluster DNS: an authoritative server for the cluster zone (`cluster.local` by default) that
//! answers from the watch cache, as CoreDNS's `kubernetes` plugin does, and forwards every other
//! name to the host's resolvers.
//!
//! Queries never reach the API: a task rebuilds an immutable [`records::Snapshot`] whenever the
//! cache moves and swaps it in; each query reads the current one.

pub(crate) mod records;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::BinEncoder;
use hickory_resolver::config::{NameServerConfig, ResolverOpts};
use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::forwarder::{ForwardConfig, ForwardZoneHandler};
use hickory_server::zone_handler::{Catalog, MessageResponseBuilder, Queries};
use k8s_openapi::api::core::v1::Service as KService;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use parking_lot::RwLock;
use tokio::sync::Semaphore;

use crate::cluster::ClusterView;
use records::{Endpoint, Kind, Outcome, Port, Snapshot};

/// How the DNS server is set up.
#[derive(Debug, Clone)]
pub struct DnsOptions {
    /// The address to serve UDP and TCP on.
    pub listen: SocketAddr,
    /// The cluster zone, e.g. `cluster.local`.
    pub cluster_domain: String,
    /// The resolver configuration whose nameservers get the names outside the zone.
    pub resolv_conf: std::path::PathBuf,
}

/// Forwarded queries in flight at most; more are answered REFUSED.
const MAX_FORWARDS: usize = 1000;
/// How long one upstream gets to answer.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(2);
/// Our own UDP payload limit (EDNS).
const MAX_UDP: usize = 1232;
/// Open TCP connections at most, and their idle timeout.
const TCP_TIMEOUT: Duration = Duration::from_secs(5);

/// A running DNS server.
pub struct Dns {
    /// The address it serves on.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Dns {
    /// Stops serving.
    pub fn stop(self) {
        self.task.abort();
    }
}

/// Binds UDP and TCP on `opts.listen` (an error if either bind fails, e.g. without the
/// privilege for port 53) and serves from `view` until stopped.
pub async fn start(view: ClusterView, opts: DnsOptions) -> anyhow::Result<Dns> {
    let udp = tokio::net::UdpSocket::bind(opts.listen).await?;
    let addr = udp.local_addr()?;
    let tcp = tokio::net::TcpListener::bind(addr).await?;
    let zone = Name::from_ascii(format!("{}.", opts.cluster_domain.trim_end_matches('.')))?;
    let upstreams = upstreams(&opts.resolv_conf, addr);
    let mut fwd = Catalog::new();
    if !upstreams.is_empty() {
        let mut options = ResolverOpts::default();
        options.timeout = FORWARD_TIMEOUT;
        options.attempts = 1;
        options.cache_size = 0;
        let handler = ForwardZoneHandler::builder_tokio(ForwardConfig {
            name_servers: upstreams,
            options: Some(options),
        })
        .build()
        .map_err(|e| anyhow::anyhow!("forwarder: {e}"))?;
        fwd.upsert(LowerName::from(Name::root()), vec![Arc::new(handler)]);
    }
    let snap = Arc::new(RwLock::new(Arc::new(build_snapshot(&view))));
    let handler = ClusterDns {
        zone,
        snap: snap.clone(),
        fwd,
        forwards: Semaphore::new(MAX_FORWARDS),
    };
    let mut server = Server::new(handler);
    server.register_socket(udp);
    server.register_listener(tcp, TCP_TIMEOUT, 64 * 1024);
    let feed = tokio::spawn(feed(view, snap));
    let task = tokio::spawn(async move {
        let _feed = AbortOnDrop(feed);
        if let Err(e) = server.block_until_done().await {
            tracing::error!(error = %e, "the DNS server stopped");
        }
    });
    Ok(Dns { addr, task })
}

/// The nameservers of a resolv.conf, without our own address (that would be a loop).
fn upstreams(path: &std::path::Path, own: SocketAddr) -> Vec<NameServerConfig> {
    let Ok(text) = std::fs::read(path) else {
        tracing::warn!(path = %path.display(), "no resolver configuration: names outside the cluster zone will not resolve");
        return Vec::new();
    };
    match hickory_resolver::system_conf::parse_resolv_conf(text) {
        Ok((config, _)) => config
            .name_servers()
            .iter()
            .filter(|ns| !(ns.ip == own.ip() && own.port() == 53))
            .cloned()
            .collect(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the resolver configuration");
            Vec::new()
        }
    }
}

/// Rebuilds the snapshot whenever the cache moves (a short debounce coalesces bursts).
async fn feed(view: ClusterView, snap: Arc<RwLock<Arc<Snapshot>>>) {
    let mut generation = view.generation();
    loop {
        generation.borrow_and_update();
        let next = Arc::new(build_snapshot(&view));
        *snap.write() = next;
        if generation.changed().await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The snapshot of the current cache.
fn build_snapshot(view: &ClusterView) -> Snapshot {
    let mut snap = Snapshot {
        synced: view.is_ready(),
        serial: jiff::Timestamp::now().as_second() as u32,
        ..Default::default()
    };
    for ns in view.namespaces() {
        if let Some(n) = &ns.metadata.name {
            snap.namespaces.insert(n.to_ascii_lowercase());
        }
    }
    let slices = view.slices();
    for svc in view.services() {
        let (Some(ns), Some(name)) = (&svc.metadata.namespace, &svc.metadata.name) else {
            continue;
        };
        let own: Vec<&EndpointSlice> = slices
            .iter()
            .filter(|s| {
                s.metadata.namespace.as_deref() == Some(ns)
                    && s.metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get("kubernetes.io/service-name"))
                        == Some(name)
            })
            .map(Arc::as_ref)
            .collect();
        snap.services.insert(
            (ns.to_ascii_lowercase(), name.to_ascii_lowercase()),
            dns_service(&svc, &own),
        );
    }
    snap
}

/// A Service and its slices as DNS sees them. A Service of type ClusterIP without an address
/// (the embedded API allocates none) answers like a headless one: with its ready endpoints.
fn dns_service(svc: &KService, slices: &[&EndpointSlice]) -> records::Service {
    let spec = svc.spec.clone().unwrap_or_default();
    let ips: Vec<IpAddr> = spec
        .cluster_ips
        .clone()
        .unwrap_or_default()
        .iter()
        .chain(spec.cluster_ip.iter())
        .filter_map(|ip| ip.parse().ok())
        .collect();
    let kind = if spec.type_.as_deref() == Some("ExternalName") {
        Kind::External(spec.external_name.clone().unwrap_or_default())
    } else if ips.is_empty() {
        Kind::Headless
    } else {
        let mut ips = ips;
        ips.dedup();
        Kind::ClusterIp(ips)
    };
    let ports = spec
        .ports
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| {
            Some(Port {
                name: p.name.unwrap_or_default(),
                protocol: p.protocol.unwrap_or_else(|| "TCP".into()),
                port: u16::try_from(p.port).ok()?,
            })
        })
        .collect();
    let mut endpoints = Vec::new();
    for slice in slices {
        let ports: Vec<Port> = slice
            .ports
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| {
                Some(Port {
                    name: p.name.unwrap_or_default(),
                    protocol: p.protocol.unwrap_or_else(|| "TCP".into()),
                    port: u16::try_from(p.port?).ok()?,
                })
            })
            .collect();
        for ep in slice.endpoints.iter().flatten() {
            let ready = ep.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
            if !ready {
                continue;
            }
            for addr in &ep.addresses {
                let Ok(ip) = addr.parse::<IpAddr>() else {
                    continue;
                };
                let name = ep
                    .hostname
                    .clone()
                    .filter(|h| !h.is_empty())
                    .map(|h| h.to_ascii_lowercase())
                    .unwrap_or_else(|| records::dashed(ip));
                endpoints.push(Endpoint {
                    ip,
                    name,
                    ports: ports.clone(),
                });
            }
        }
    }
    records::Service {
        kind,
        ports,
        endpoints,
    }
}

/// Aborts the task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

// === impl ClusterDns ===

/// The request handler: the cluster zone from the snapshot, everything else forwarded.
struct ClusterDns {
    zone: Name,
    snap: Arc<RwLock<Arc<Snapshot>>>,
    fwd: Catalog,
    forwards: Semaphore,
}

/// The largest UDP answer the client takes: 512 without EDNS, else min(its payload, ours).
fn udp_limit(edns: Option<&Edns>) -> usize {
    match edns {
        None => 512,
        Some(e) => (e.max_payload() as usize).clamp(512, MAX_UDP),
    }
}

/// Whether the response fits `limit` bytes as hickory's response handler encodes it: with the
/// encoder's size limit set, the question echoed as the client's raw bytes. Measured with the
/// limit in place because the encoder compresses names differently under a limit (sixty A
/// records: 27 fit 508 bytes unlimited, only 26 fit 512 with the limit).
fn fits(
    queries: &Queries,
    metadata: &Metadata,
    edns: Option<&Edns>,
    answers: &[Record],
    authority: &[Record],
    additionals: &[Record],
    limit: usize,
) -> bool {
    let mut builder = MessageResponseBuilder::new(queries, None);
    if let Some(e) = edns {
        builder.edns(e);
    }
    let response = builder.build(
        *metadata,
        answers.iter(),
        [].iter(),
        authority.iter(),
        additionals.iter(),
    );
    let mut bytes = Vec::with_capacity(limit);
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_max_size(u16::try_from(limit).unwrap_or(u16::MAX));
    let Ok(info) = response.destructive_emit(&mut encoder) else {
        return false;
    };
    let counts = info.counts();
    bytes.len() <= limit
        && usize::from(counts.answers) == answers.len()
        && usize::from(counts.authorities) == authority.len()
        && usize::from(counts.additionals) == additionals.len() + usize::from(edns.is_some())
}

/// The DNS header's size.
const HEADER: usize = 12;
/// The size of the OPT record podgate answers with (no options).
const OPT: usize = 11;

/// A name's size on the wire, uncompressed.
fn name_bound(name: &Name) -> usize {
    name.iter().map(|label| label.len() + 1).sum::<usize>() + 1
}

/// A record's size on the wire without name compression (an upper bound of what the encoder
/// writes), for the types the cluster zone answers with; `None` for others.
fn record_bound(record: &Record) -> Option<usize> {
    let rdata = match &record.data {
        RData::A(_) => 4,
        RData::AAAA(_) => 16,
        RData::CNAME(n) => name_bound(&n.0),
        RData::PTR(n) => name_bound(&n.0),
        RData::SRV(srv) => 6 + name_bound(&srv.target),
        RData::SOA(soa) => name_bound(&soa.mname) + name_bound(&soa.rname) + 20,
        _ => return None,
    };
    Some(name_bound(&record.name) + 10 + rdata)
}

/// Cuts whole records off the end (additional section first, then answers) until the encoded
/// response fits `limit`; says whether anything was cut (then TC must be set). Cutting here
/// keeps hickory's encoder from ever overflowing: hickory-proto 0.26.3 leaves the bytes of a
/// partly written record behind when it does (a "17 extra bytes" message that busybox cannot
/// parse).
fn fit(
    queries: &Queries,
    metadata: &Metadata,
    edns: Option<&Edns>,
    answers: &mut Vec<Record>,
    authority: &mut Vec<Record>,
    additionals: &mut Vec<Record>,
    limit: usize,
) -> bool {
    // Most answers are a few records: when even their uncompressed size fits, skip encoding.
    let bound = [&answers[..], &authority[..], &additionals[..]]
        .iter()
        .flat_map(|section| section.iter())
        .try_fold(HEADER + queries.as_bytes().len() + OPT, |sum, r| {
            Some(sum + record_bound(r)?)
        });
    if bound.is_some_and(|b| b <= limit) {
        return false;
    }
    let fits = |answers: &[Record], authority: &[Record], additionals: &[Record]| {
        fits(
            queries,
            metadata,
            edns,
            answers,
            authority,
            additionals,
            limit,
        )
    };
    if fits(answers, authority, additionals) {
        return false;
    }
    additionals.clear();
    if fits(answers, authority, additionals) {
        return true;
    }
    // The most answers that fit, by bisection: every record kept makes the message longer, so
    // `fits` holds up to some count and fails past it (a large answer is encoded a handful of
    // times, not once per record cut).
    if fits(&[], authority, additionals) {
        let (mut fitting, mut too_many) = (0, answers.len());
        while too_many - fitting > 1 {
            let mid = fitting + (too_many - fitting) / 2;
            if fits(&answers[..mid], authority, additionals) {
                fitting = mid;
            } else {
                too_many = mid;
            }
        }
        answers.truncate(fitting);
        return true;
    }
    answers.clear();
    while !fits(answers, authority, additionals) && authority.pop().is_some() {}
    true
}

/// Sends a response; a failed send is logged and reported as SERVFAIL.
macro_rules! send {
    ($response:expr, $msg:expr) => {
        match $response.send_response($msg).await {
            Ok(info) => info,
            Err(e) => {
                tracing::debug!(error = %e, "sending a DNS response failed");
                let mut metadata = Metadata::new(0, MessageType::Response, OpCode::Query);
                metadata.response_code = ResponseCode::ServFail;
                hickory_proto::op::Header {
                    metadata,
                    counts: Default::default(),
                }
                .into()
            }
        }
    };
}

#[async_trait::async_trait]
impl RequestHandler for ClusterDns {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response: R,
    ) -> ResponseInfo {
        let builder = MessageResponseBuilder::from_message_request(request);
        let Ok(info) = request.request_info() else {
            let msg = builder.error_msg(&request.metadata, ResponseCode::FormErr);
            return send!(response, msg);
        };
        let query = info.query.original().clone();
        let qtype = query.query_type();
        if request.metadata.op_code != OpCode::Query
            || matches!(qtype, RecordType::AXFR | RecordType::IXFR)
        {
            let msg = builder.error_msg(&request.metadata, ResponseCode::Refused);
            return send!(response, msg);
        }
        let snap = self.snap.read().clone();
        match records::answer(&snap, &self.zone, query.name(), qtype) {
            Outcome::Local(a) => {
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.authoritative = true;
                metadata.recursion_available = true;
                metadata.response_code = a.rcode;
                let mut answers = a.answers;
                let mut authority = if a.soa {
                    vec![records::soa(&self.zone, snap.serial)]
                } else {
                    Vec::new()
                };
                let mut additionals = a.additionals;
                let resp_edns = request.edns.as_ref().map(|req| {
                    let mut e = Edns::new();
                    e.set_max_payload(MAX_UDP as u16);
                    e.set_dnssec_ok(req.flags().dnssec_ok);
                    e
                });
                if info.protocol == hickory_server::net::xfer::Protocol::Udp {
                    metadata.truncation = fit(
                        &request.queries,
                        &metadata,
                        resp_edns.as_ref(),
                        &mut answers,
                        &mut authority,
                        &mut additionals,
                        udp_limit(request.edns.as_ref()),
                    );
                }
                let mut builder = builder;
                if let Some(e) = &resp_edns {
                    builder.edns(e);
                }
                let msg = builder.build(
                    metadata,
                    answers.iter(),
                    [].iter(),
                    authority.iter(),
                    additionals.iter(),
                );
                send!(response, msg)
            }
            Outcome::Forward => {
                let Ok(_permit) = self.forwards.try_acquire() else {
                    let msg = builder.error_msg(&request.metadata, ResponseCode::Refused);
                    return send!(response, msg);
                };
                self.fwd.handle_request::<R, T>(request, response).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Message, Query};
    use hickory_proto::rr::RData;
    use hickory_proto::rr::rdata::A;
    use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable};

    /// The question section as a client sends it, read back the way the server reads it.
    fn queries_of(query: &Query) -> Queries {
        let bytes = query.to_bytes().unwrap();
        Queries::read(&mut BinDecoder::new(&bytes), 1).unwrap()
    }

    /// What the server puts on the wire for these sections over UDP without EDNS (the
    /// encoder limited to 512 bytes, as hickory's response handler sets it).
    fn wire(queries: &Queries, metadata: &Metadata, answers: &[Record]) -> Vec<u8> {
        let response = MessageResponseBuilder::new(queries, None).build(
            *metadata,
            answers.iter(),
            [].iter(),
            [].iter(),
            [].iter(),
        );
        let mut bytes = Vec::new();
        let mut encoder = BinEncoder::new(&mut bytes);
        encoder.set_max_size(512);
        response.destructive_emit(&mut encoder).unwrap();
        bytes
    }

    /// Sixty A records do not fit 512 bytes: whole records are cut, TC is due, and the
    /// response the server encodes fits within the limit and decodes with exactly the records
    /// its header counts (no partial record left behind).
    #[test]
    fn udp_answers_are_cut_to_whole_records() {
        let name = Name::from_ascii("big.default.svc.cluster.local.").unwrap();
        let query = Query::query(name.clone(), RecordType::A);
        let queries = queries_of(&query);
        let metadata = Metadata::new(7, MessageType::Response, OpCode::Query);
        let mut answers: Vec<Record> = (0..60u8)
            .map(|i| {
                Record::from_rdata(
                    name.clone(),
                    5,
                    RData::A(A(std::net::Ipv4Addr::new(127, 1, 0, i))),
                )
            })
            .collect();
        let cut = fit(
            &queries,
            &metadata,
            None,
            &mut answers,
            &mut Vec::new(),
            &mut Vec::new(),
            udp_limit(None),
        );
        assert!(cut);
        assert!(!answers.is_empty() && answers.len() < 60);
        let bytes = wire(&queries, &metadata, &answers);
        assert!(bytes.len() <= 512, "{}", bytes.len());
        let mut decoder = BinDecoder::new(&bytes);
        let decoded = Message::read(&mut decoder).unwrap();
        assert_eq!(decoded.answers.len(), answers.len());
        assert!(decoder.is_empty(), "{} trailing bytes", decoder.len());
        // One more record would not have fitted: the cut is as small as it can be, and
        // without the cut the encoder leaves a partial record behind.
        let mut one_more = answers.clone();
        one_more.push(answers[0].clone());
        let overflow = wire(&queries, &metadata, &one_more);
        let mut decoder = BinDecoder::new(&overflow);
        let counted = Message::read(&mut decoder).unwrap().answers.len();
        assert_eq!(counted, answers.len());
        assert!(
            !decoder.is_empty(),
            "hickory's overflow bug is fixed: simplify fit"
        );

        let mut few: Vec<Record> = answers[..3].to_vec();
        let edns = Edns::new();
        assert!(!fit(
            &queries,
            &metadata,
            Some(&edns),
            &mut few,
            &mut Vec::new(),
            &mut Vec::new(),
            udp_limit(Some(&edns)),
        ));
        assert_eq!(few.len(), 3);
    }

    /// The uncompressed bound that lets small answers skip the size check is never below what
    /// the encoder writes, for every record type the zone answers with.
    #[test]
    fn the_size_bound_covers_the_encoded_records() {
        let zone = Name::from_ascii("cluster.local.").unwrap();
        let srv_name = Name::from_ascii("kubia.default.svc.cluster.local.").unwrap();
        let target = Name::from_ascii("kubia-0.kubia.default.svc.cluster.local.").unwrap();
        let query = Query::query(srv_name.clone(), RecordType::SRV);
        let queries = queries_of(&query);
        let metadata = Metadata::new(7, MessageType::Response, OpCode::Query);
        let answers = [
            Record::from_rdata(
                srv_name.clone(),
                5,
                RData::SRV(hickory_proto::rr::rdata::SRV::new(
                    0,
                    100,
                    80,
                    target.clone(),
                )),
            ),
            Record::from_rdata(
                srv_name.clone(),
                5,
                RData::CNAME(hickory_proto::rr::rdata::CNAME(target.clone())),
            ),
            Record::from_rdata(
                srv_name.clone(),
                5,
                RData::PTR(hickory_proto::rr::rdata::PTR(target.clone())),
            ),
            Record::from_rdata(
                target.clone(),
                5,
                RData::AAAA(hickory_proto::rr::rdata::AAAA("fd00::1".parse().unwrap())),
            ),
        ];
        let authority = [crate::dns::records::soa(&zone, 1)];
        let additionals = [Record::from_rdata(
            target,
            5,
            RData::A(A(std::net::Ipv4Addr::new(127, 1, 0, 1))),
        )];
        let edns = Edns::new();
        let bound: usize = HEADER
            + queries.as_bytes().len()
            + OPT
            + answers
                .iter()
                .chain(&authority)
                .chain(&additionals)
                .map(|r| record_bound(r).unwrap())
                .sum::<usize>();
        let mut builder = MessageResponseBuilder::new(&queries, None);
        builder.edns(&edns);
        let response = builder.build(
            metadata,
            answers.iter(),
            [].iter(),
            authority.iter(),
            additionals.iter(),
        );
        let mut bytes = Vec::new();
        response
            .destructive_emit(&mut BinEncoder::new(&mut bytes))
            .unwrap();
        assert!(bytes.len() <= bound, "{} > {bound}", bytes.len());
    }
}
