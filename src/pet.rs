//! `podgate pet`: the demo stateful app of the examples (the "kubia" pet store of
//! *Kubernetes in Action*).
//!
//! `POST /` stores the request body in `<data dir>/kubia.txt` and answers
//! `Data stored on pod <hostname>`; `GET /` answers `You've hit <hostname>` followed by the
//! stored data (or `No data posted yet`). Run as a pod in `podgate up`, the host name is the
//! pod's name and the data dir is the pod's claim, so each ordinal keeps its own data.
//! `GET /metrics` answers the requests served and the bytes stored, in the OpenMetrics text
//! format Prometheus scrapes.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

/// The port the app listens on by default.
pub const DEFAULT_PORT: u16 = 8080;
/// The file the data is stored in, inside the data dir.
pub const DATA_FILE: &str = "kubia.txt";
/// The largest body `POST /` accepts.
pub const MAX_BODY: usize = 1024 * 1024;

/// The address to listen on when none is given: `$POD_IP:8080`, or `0.0.0.0:8080`.
pub fn default_listen(pod_ip: Option<&str>) -> SocketAddr {
    let ip = pod_ip
        .and_then(|s| s.trim().parse::<IpAddr>().ok())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    SocketAddr::new(ip, DEFAULT_PORT)
}

/// Runs the app until the process is stopped (SIGTERM/SIGINT end it gracefully).
pub async fn run(listen: Option<SocketAddr>, data_dir: PathBuf) -> anyhow::Result<()> {
    let addr = listen.unwrap_or_else(|| default_listen(std::env::var("POD_IP").ok().as_deref()));
    tokio::fs::create_dir_all(&data_dir)
        .await
        .with_context(|| format!("create data dir {}", data_dir.display()))?;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("listen on {addr}"))?;
    println!(
        "Kubia server starting on {} (data in {})",
        listener.local_addr()?,
        data_dir.display()
    );
    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {},
        }
    };
    serve(listener, Arc::new(data_dir), shutdown).await;
    println!("Kubia server stopped");
    Ok(())
}

/// The labels of a counted request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    code: String,
}

/// The app's state: where data goes, and its metrics.
struct Pet {
    data_dir: PathBuf,
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    stored: Gauge,
}

impl Pet {
    fn new(data_dir: PathBuf) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "kubia_requests",
            "Requests served, by method and status code",
            requests.clone(),
        );
        let stored = Gauge::default();
        registry.register(
            "kubia_stored_bytes",
            "Bytes of data stored on this pod",
            stored.clone(),
        );
        Self {
            data_dir,
            registry,
            requests,
            stored,
        }
    }
}

/// Serves connections from `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    data_dir: Arc<PathBuf>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let pet = Arc::new(Pet::new(data_dir.to_path_buf()));
    if let Ok(m) = tokio::fs::metadata(pet.data_dir.join(DATA_FILE)).await {
        pet.stored.set(i64::try_from(m.len()).unwrap_or(i64::MAX));
    }
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(_) => continue,
            },
            _ = &mut shutdown => break,
        };
        let pet = pet.clone();
        let service = service_fn(move |req| handle(req, pet.clone()));
        let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        let conn = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), graceful.shutdown()).await;
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

async fn handle(
    req: Request<Incoming>,
    pet: Arc<Pet>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().clone();
    let resp = respond(req, &pet).await;
    pet.requests
        .get_or_create(&RequestLabels {
            method: match method {
                Method::GET | Method::HEAD | Method::POST => method.as_str().to_string(),
                _ => "other".to_string(),
            },
            code: resp.status().as_u16().to_string(),
        })
        .inc();
    Ok(resp)
}

async fn respond(req: Request<Incoming>, pet: &Pet) -> Response<Full<Bytes>> {
    let host = hostname();
    let file = pet.data_dir.join(DATA_FILE);
    if req.uri().path() == "/metrics" && matches!(*req.method(), Method::GET | Method::HEAD) {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &pet.registry).is_err() {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "encoding failed\n".into(),
            );
        }
        let mut resp = text(StatusCode::OK, out);
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            ),
        );
        return resp;
    }
    match *req.method() {
        Method::POST => match Limited::new(req.into_body(), MAX_BODY).collect().await {
            Ok(body) => match store(&file, &body.to_bytes()).await {
                Ok(n) => {
                    pet.stored.set(i64::try_from(n).unwrap_or(i64::MAX));
                    text(StatusCode::OK, format!("Data stored on pod {host}\n"))
                }
                Err(e) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("Could not store data on pod {host}: {e}\n"),
                ),
            },
            Err(e) => text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Could not read the request body: {e}\n"),
            ),
        },
        Method::GET | Method::HEAD => {
            let data = match tokio::fs::read(&file).await {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(_) => "No data posted yet".to_string(),
            };
            text(
                StatusCode::OK,
                format!("You've hit {host}\nData stored on this pod: {data}\n"),
            )
        }
        _ => {
            let mut resp = text(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed\n".to_string(),
            );
            resp.headers_mut().insert(
                header::ALLOW,
                header::HeaderValue::from_static("GET, HEAD, POST"),
            );
            resp
        }
    }
}

/// The host name the kernel reports (the pod's name inside `podgate up`).
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is a valid, writable buffer of the given length.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } != 0 {
        return "unknown".to_string();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Writes `data` to `file` atomically (write a temporary file, then rename).
async fn store(file: &Path, data: &[u8]) -> std::io::Result<usize> {
    let tmp = file.with_extension("txt.tmp");
    tokio::fs::write(&tmp, data).await?;
    tokio::fs::rename(&tmp, file).await?;
    Ok(data.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn request(addr: SocketAddr, raw: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.write_all(raw.as_bytes()).await.expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("read");
        out
    }

    #[test]
    fn default_listen_table() {
        let cases = [
            (Some("127.1.0.3"), "127.1.0.3:8080"),
            (Some(" 127.1.0.4\n"), "127.1.0.4:8080"),
            (Some("not-an-ip"), "0.0.0.0:8080"),
            (None, "0.0.0.0:8080"),
        ];
        for (pod_ip, want) in cases {
            assert_eq!(default_listen(pod_ip).to_string(), want, "{pod_ip:?}");
        }
    }

    #[tokio::test]
    async fn stores_and_serves_data_with_the_kubia_texts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, Arc::new(dir.path().to_path_buf()), async {
            let _ = stop_rx.await;
        }));
        let host = hostname();

        let empty = request(
            addr,
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(empty.starts_with("HTTP/1.1 200"), "{empty}");
        assert!(
            empty.ends_with(&format!(
                "You've hit {host}\nData stored on this pod: No data posted yet\n"
            )),
            "{empty}"
        );

        let post = request(
            addr,
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nFoo",
        )
        .await;
        assert!(
            post.ends_with(&format!("Data stored on pod {host}\n")),
            "{post}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join(DATA_FILE)).expect("stored"),
            "Foo"
        );

        let got = request(
            addr,
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(
            got.ends_with(&format!(
                "You've hit {host}\nData stored on this pod: Foo\n"
            )),
            "{got}"
        );

        let del = request(
            addr,
            "DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(del.starts_with("HTTP/1.1 405"), "{del}");

        let metrics = request(
            addr,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
        for line in [
            "kubia_stored_bytes 3\n",
            "kubia_requests_total{method=\"GET\",code=\"200\"} 2\n",
            "kubia_requests_total{method=\"POST\",code=\"200\"} 1\n",
            "kubia_requests_total{method=\"other\",code=\"405\"} 1\n",
            "# EOF\n",
        ] {
            assert!(metrics.contains(line), "{line} in {metrics}");
        }

        let _ = stop_tx.send(());
        tokio::time::timeout(std::time::Duration::from_secs(10), server)
            .await
            .expect("stops")
            .expect("task");
    }
}
