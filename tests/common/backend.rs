//! A real HTTP backend for gateway tests, on its own loopback address: echoes requests as
//! JSON, streams large bodies, redirects, serves HTML with links, and echoes WebSocket messages.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;

type Out = BoxBody<Bytes, std::io::Error>;

fn full(b: impl Into<Bytes>) -> Out {
    Full::new(b.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

/// Starts the backend on `ip` (port chosen by the OS) in a thread of its own; returns its address.
pub(crate) fn start(ip: &str) -> SocketAddr {
    start_at(format!("{ip}:0").parse().expect("address"))
}

/// Starts the backend on exactly `addr`.
pub(crate) fn start_at(addr: SocketAddr) -> SocketAddr {
    serve(std::net::TcpListener::bind(addr).expect("bind backend"))
}

/// Backends on `ip_a` and `ip_b` with the same port, as the pods of a service have: a port free
/// on `ip_a` is tried on `ip_b` until one is free on both (another test may hold it there), and
/// the bound sockets go to the backends, so nothing can take the port in between.
#[allow(dead_code)] // not every test binary that includes this module needs two
pub(crate) fn two_on_one_port(ip_a: &str, ip_b: &str) -> (SocketAddr, SocketAddr) {
    for _ in 0..50 {
        let a = std::net::TcpListener::bind(format!("{ip_a}:0")).expect("bind");
        let port = a.local_addr().unwrap().port();
        if let Ok(b) = std::net::TcpListener::bind(format!("{ip_b}:{port}")) {
            return (serve(a), serve(b));
        }
    }
    panic!("no port free on both {ip_a} and {ip_b}");
}

/// Starts the backend on a socket already bound.
pub(crate) fn serve(listener: std::net::TcpListener) -> SocketAddr {
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| handle(req, addr));
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
    });
    addr
}

async fn handle(mut req: Request<Incoming>, me: SocketAddr) -> Result<Response<Out>, Infallible> {
    let path = req.uri().path().to_string();
    if path == "/ws" || path.ends_with("/ws") {
        return Ok(websocket(&mut req));
    }
    if path == "/big" {
        let mb: usize = req
            .uri()
            .query()
            .and_then(|q| q.strip_prefix("mb="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
        let stream = futures::stream::iter(
            (0..mb * 16).map(move |_| Ok::<_, std::io::Error>(Frame::data(chunk.clone()))),
        );
        return Ok(Response::new(BodyExt::boxed(StreamBody::new(stream))));
    }
    if path == "/redirect" {
        return Ok(Response::builder()
            .status(StatusCode::FOUND)
            .header("location", format!("http://{me}/landing?x=1"))
            .body(full(""))
            .unwrap());
    }
    if path == "/html" {
        let html = format!(
            "<html><body><a href=\"/docs/a.html\">a</a><img src=\"http://{me}/img.png\"></body></html>"
        );
        return Ok(Response::builder()
            .header("content-type", "text/html; charset=utf-8")
            .body(full(html))
            .unwrap());
    }
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let mut headers = serde_json::Map::new();
    for (k, v) in req.headers() {
        let e = headers
            .entry(k.as_str().to_string())
            .or_insert_with(|| json!([]));
        if let Some(a) = e.as_array_mut() {
            a.push(json!(v.to_str().unwrap_or("")));
        }
    }
    // Count the body as it streams, without holding it.
    let mut body = req.into_body();
    let mut len: u64 = 0;
    let mut sum: u64 = 0;
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(d) = frame.data_ref() {
            len += d.len() as u64;
            sum = d
                .iter()
                .fold(sum, |s, b| s.wrapping_mul(31).wrapping_add(*b as u64));
        }
    }
    let echo = json!({"method": method, "uri": uri, "headers": headers, "body_len": len, "body_sum": sum, "backend": me.to_string()});
    Ok(Response::builder()
        .header("content-type", "application/json")
        .header("x-backend", me.to_string())
        .body(full(echo.to_string()))
        .unwrap())
}

fn websocket(req: &mut Request<Incoming>) -> Response<Out> {
    let Some(key) = req.headers().get("sec-websocket-key").cloned() else {
        return Response::builder()
            .status(400)
            .body(full("not a websocket request"))
            .unwrap();
    };
    let query = req.uri().query().unwrap_or("").to_string();
    let on_upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            tokio_tungstenite::tungstenite::protocol::Role::Server,
            None,
        )
        .await;
        let _ = ws
            .send(tokio_tungstenite::tungstenite::Message::text(format!(
                "query:{query}"
            )))
            .await;
        while let Some(Ok(msg)) = ws.next().await {
            if msg.is_text() || msg.is_binary() {
                if ws.send(msg).await.is_err() {
                    break;
                }
            } else if msg.is_close() {
                break;
            }
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header(
            "sec-websocket-accept",
            tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes()),
        )
        .body(full(""))
        .unwrap()
}
