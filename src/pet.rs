//! `podgate pet`: the demo stateful app of the examples (the "kubia" pet store of
//! *Kubernetes in Action*).
//!
//! `POST /` stores the request body in `<data dir>/kubia.txt` and answers
//! `Data stored on pod <hostname>`; `GET /` answers `You've hit <hostname>` followed by the
//! stored data (or `No data posted yet`). Run as a pod in `podgate up`, the host name is the
//! pod's name and the data dir is the pod's claim, so each ordinal keeps its own data.

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

/// Serves connections from `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    data_dir: Arc<PathBuf>,
    shutdown: impl std::future::Future<Output = ()>,
) {
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
        let data_dir = data_dir.clone();
        let service = service_fn(move |req| handle(req, data_dir.clone()));
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
    data_dir: Arc<PathBuf>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let host = hostname();
    let file = data_dir.join(DATA_FILE);
    let resp = match *req.method() {
        Method::POST => match Limited::new(req.into_body(), MAX_BODY).collect().await {
            Ok(body) => match store(&file, &body.to_bytes()).await {
                Ok(()) => text(StatusCode::OK, format!("Data stored on pod {host}\n")),
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
    };
    Ok(resp)
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
async fn store(file: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = file.with_extension("txt.tmp");
    tokio::fs::write(&tmp, data).await?;
    tokio::fs::rename(&tmp, file).await
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

        let _ = stop_tx.send(());
        tokio::time::timeout(std::time::Duration::from_secs(10), server)
            .await
            .expect("stops")
            .expect("task");
    }
}
