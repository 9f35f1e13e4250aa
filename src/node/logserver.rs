//! The kubelet's log endpoint, on 127.0.0.1:
//! `GET /containerLogs/{namespace}/{pod}/{container}?follow=&previous=&tailLines=&sinceSeconds=&sinceTime=&timestamps=&limitBytes=`.
//! The API server serves `pods/{name}/log` by proxying here, as kube-apiserver does to the
//! kubelet. Errors are plain text with the kubelet's status codes and messages. The same
//! listener serves exec, attach and port-forward ([`super::stream`]), and every request must
//! carry the API server's [`crate::secrets::NodeKey`].

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::StreamBody;
use hyper::body::{Frame, Incoming};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use super::logs::{self, LogOptions, Stream};
use super::podstatus::{ContainerRuntime, State};
use super::stream::server::{StreamRoutes, route_of};
use super::task::AbortOnDrop;
use super::worker::Registry;
use crate::wire::body::{self, Body, text_response};

/// Parses the query into log options (and `previous`); `Err` is the 400 message.
pub fn parse_query(query: Option<&str>, now: Timestamp) -> Result<(LogOptions, bool), String> {
    let mut opts = LogOptions::default();
    let mut previous = false;
    let flag = |v: &str, name: &str| match v {
        "true" | "1" | "True" | "TRUE" => Ok(true),
        "false" | "0" | "False" | "FALSE" | "" => Ok(false),
        _ => Err(format!("invalid value for {name}: {v:?}")),
    };
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        match k {
            "follow" => opts.follow = flag(&v, k)?,
            "previous" => previous = flag(&v, k)?,
            "timestamps" => opts.timestamps = flag(&v, k)?,
            "tailLines" => {
                let n: i64 = v
                    .parse()
                    .map_err(|_| format!("invalid value for tailLines: {v:?}"))?;
                if n < 0 {
                    return Err(
                        "tailLines: Invalid value: must be greater than or equal to 0".into(),
                    );
                }
                opts.tail_lines = Some(n as u64);
            }
            "limitBytes" => {
                let n: i64 = v
                    .parse()
                    .map_err(|_| format!("invalid value for limitBytes: {v:?}"))?;
                if n < 1 {
                    return Err("limitBytes: Invalid value: must be greater than 0".into());
                }
                opts.limit_bytes = Some(n as u64);
            }
            "sinceSeconds" => {
                let n: i64 = v
                    .parse()
                    .map_err(|_| format!("invalid value for sinceSeconds: {v:?}"))?;
                if n < 1 {
                    return Err("sinceSeconds: Invalid value: must be greater than 0".into());
                }
                opts.since = Some(now - SignedDuration::from_secs(n));
            }
            "sinceTime" => {
                let t: Timestamp = v
                    .parse()
                    .map_err(|_| format!("invalid value for sinceTime: {v:?}"))?;
                opts.since = Some(t);
            }
            "stream" => {
                opts.stream = match v.as_str() {
                    "" | "All" => None,
                    "Stdout" => Some(Stream::Stdout),
                    "Stderr" => Some(Stream::Stderr),
                    other => {
                        return Err(format!(
                            "stream: Unsupported value: {other:?}: supported values: \"All\", \"Stderr\", \"Stdout\""
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    Ok((opts, previous))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The kubelet's `validateContainerLogStatus`: which instance's log to serve.
pub fn pick_instance(pod: &str, c: &ContainerRuntime, previous: bool) -> Result<String, String> {
    let name = &c.name;
    if previous {
        return match &c.last {
            Some(t) if !t.container_id.is_empty() => Ok(t.container_id.clone()),
            _ => Err(format!(
                "previous terminated container {name:?} in pod {pod:?} not found"
            )),
        };
    }
    match &c.state {
        State::Running { .. } => c.container_id.clone().ok_or_else(|| {
            format!("container {name:?} in pod {pod:?} is waiting to start - no logs yet")
        }),
        State::Terminated(t) if !t.container_id.is_empty() => Ok(t.container_id.clone()),
        State::Terminated(_) => match &c.last {
            Some(l) if !l.container_id.is_empty() => Ok(l.container_id.clone()),
            _ => Err(format!("container {name:?} in pod {pod:?} is terminated")),
        },
        State::Waiting { reason, .. } => match &c.last {
            Some(l) if !l.container_id.is_empty() => Ok(l.container_id.clone()),
            Some(_) => Err(format!("container {name:?} in pod {pod:?} is terminated")),
            None => Err(format!(
                "container {name:?} in pod {pod:?} is waiting to start: {reason}"
            )),
        },
    }
}

/// Everything the node's endpoint serves with.
#[derive(Clone)]
pub(crate) struct Endpoint {
    /// The pods this node runs.
    pub(crate) registry: Registry,
    /// The credential every request must carry (the API server's).
    pub(crate) key: crate::secrets::NodeKey,
    /// Exec, attach and port-forward.
    pub(crate) streams: StreamRoutes,
}

/// Authenticates a request, then serves logs or a streaming session.
async fn route(req: Request<Incoming>, endpoint: Endpoint) -> Result<Response<Body>, Infallible> {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    if !endpoint.key.admits(authorization) {
        return Ok(crate::machinery::status::Status::unauthorized().to_response());
    }
    if let Some(route) = route_of(req.uri().path()) {
        return Ok(endpoint.streams.serve(req, route).await);
    }
    handle(req, endpoint.registry).await
}

async fn handle(req: Request<Incoming>, registry: Registry) -> Result<Response<Body>, Infallible> {
    if req.method() != Method::GET {
        return Ok(text_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed",
        ));
    }
    let path = req.uri().path().to_string();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let [prefix, ns, pod, container] = parts.as_slice() else {
        return Ok(text_response(StatusCode::NOT_FOUND, "404 page not found"));
    };
    if *prefix != "containerLogs" {
        return Ok(text_response(StatusCode::NOT_FOUND, "404 page not found"));
    }
    let (ns, pod, container) = (
        percent_decode(ns),
        percent_decode(pod),
        percent_decode(container),
    );
    let (opts, previous) = match parse_query(req.uri().query(), Timestamp::now()) {
        Ok(v) => v,
        Err(e) => return Ok(text_response(StatusCode::BAD_REQUEST, e)),
    };
    let Some(h) = registry.lock().get(&(ns.clone(), pod.clone())).cloned() else {
        return Ok(text_response(
            StatusCode::NOT_FOUND,
            format!("pod {pod:?} does not exist"),
        ));
    };
    let status = {
        let rt = h.runtime.lock();
        rt.main
            .iter()
            .chain(rt.init.iter())
            .find(|c| c.name == container)
            .cloned()
    };
    let Some(status) = status else {
        return Ok(text_response(
            StatusCode::NOT_FOUND,
            format!("container {container:?} not found in pod {pod:?}"),
        ));
    };
    let id = match pick_instance(&pod, &status, previous) {
        Ok(id) => id,
        Err(e) => return Ok(text_response(StatusCode::BAD_REQUEST, e)),
    };
    let Some(log) = h.log(&id) else {
        return Ok(text_response(StatusCode::OK, ""));
    };
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(32);
    tokio::spawn(logs::read(log, opts, tx));
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item.map(Frame::data), rx))
    });
    let mut resp = Response::new(body::boxed(StreamBody::new(stream)));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain"),
    );
    Ok(resp)
}

/// Binds 127.0.0.1:0 and serves the endpoint until `shutdown` flips or the returned task is
/// dropped; returns the address. Every request must carry `key`.
pub(crate) async fn start(
    registry: Registry,
    key: crate::secrets::NodeKey,
    idle_timeout: std::time::Duration,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<(SocketAddr, AbortOnDrop<()>)> {
    let endpoint = Endpoint {
        streams: StreamRoutes {
            registry: registry.clone(),
            idle_timeout,
        },
        registry,
        key,
    };
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = AbortOnDrop::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(c) => c,
                    Err(_) => continue,
                },
                _ = shutdown.wait_for(|s| *s) => return,
            };
            let endpoint = endpoint.clone();
            let svc = hyper::service::service_fn(move |req| route(req, endpoint.clone()));
            tokio::spawn(async move {
                // Upgrades: exec, attach and port-forward switch to WebSocket or SPDY.
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .with_upgrades()
                    .await;
            });
        }
    });
    Ok((addr, task))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::podstatus::Termination;

    fn term(id: &str) -> Termination {
        Termination {
            exit_code: 1,
            reason: "Error".into(),
            message: None,
            started_at: None,
            finished_at: Timestamp::UNIX_EPOCH,
            container_id: id.into(),
        }
    }

    #[test]
    fn query_table() {
        let now: Timestamp = "2024-01-01T00:01:00Z".parse().expect("ts");
        let (o, prev) = parse_query(
            Some(
                "follow=true&previous=1&tailLines=5&timestamps=true&limitBytes=10&sinceSeconds=60",
            ),
            now,
        )
        .expect("ok");
        assert!(o.follow && prev && o.timestamps);
        assert_eq!((o.tail_lines, o.limit_bytes), (Some(5), Some(10)));
        assert_eq!(o.since, Some("2024-01-01T00:00:00Z".parse().expect("ts")));
        let (o, _) = parse_query(
            Some("sinceTime=2024-01-01T00%3A00%3A30Z&stream=Stderr"),
            now,
        )
        .expect("ok");
        assert_eq!(o.since, Some("2024-01-01T00:00:30Z".parse().expect("ts")));
        assert_eq!(o.stream, Some(Stream::Stderr));
        for bad in [
            "tailLines=-1",
            "limitBytes=0",
            "sinceSeconds=0",
            "follow=maybe",
            "stream=Both",
        ] {
            assert!(parse_query(Some(bad), now).is_err(), "{bad}");
        }
        assert_eq!(
            parse_query(None, now).expect("empty"),
            (LogOptions::default(), false)
        );
    }

    #[test]
    fn instance_choice_follows_the_kubelet() {
        let base = ContainerRuntime::waiting("web", "img", "ContainerCreating");
        assert_eq!(
            pick_instance("p", &base, false),
            Err("container \"web\" in pod \"p\" is waiting to start: ContainerCreating".into())
        );
        assert_eq!(
            pick_instance("p", &base, true),
            Err("previous terminated container \"web\" in pod \"p\" not found".into())
        );
        let running = ContainerRuntime {
            state: State::Running {
                started_at: Timestamp::UNIX_EPOCH,
            },
            container_id: Some("c2".into()),
            last: Some(term("c1")),
            ..base.clone()
        };
        assert_eq!(pick_instance("p", &running, false), Ok("c2".into()));
        assert_eq!(pick_instance("p", &running, true), Ok("c1".into()));
        let crash = ContainerRuntime {
            state: State::Waiting {
                reason: "CrashLoopBackOff".into(),
                message: None,
            },
            last: Some(term("c3")),
            ..base.clone()
        };
        assert_eq!(pick_instance("p", &crash, false), Ok("c3".into()));
        let done = ContainerRuntime {
            state: State::Terminated(term("c4")),
            ..base
        };
        assert_eq!(pick_instance("p", &done, false), Ok("c4".into()));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b+c%3A"), "a b c:");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
