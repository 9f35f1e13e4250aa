//! Static files for `podgate proxy --www DIR` (`kubectl proxy --www`): Go's
//! `http.StripPrefix(prefix, http.FileServer(http.Dir(DIR)))`, reduced to what a browser needs:
//! files with a content type, `index.html` for directories, a directory listing otherwise, and
//! Go's redirects (`dir` → `dir/`, `…/index.html` → `./`). No ranges or conditional requests.

use std::path::{Component, Path, PathBuf};

use http::{HeaderValue, Method, Response, StatusCode, header};
use http_body_util::StreamBody;
use tokio_util::io::ReaderStream;

use crate::wire::body::{self, Body};

/// Serves files under one directory.
#[derive(Debug, Clone)]
pub struct StaticFiles {
    root: PathBuf,
}

impl StaticFiles {
    /// Serves `root` (which need not exist: requests then get 404, as in kubectl).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Answers a request whose path, with the `--www-prefix` removed, is `rel` (still
    /// percent-encoded, without a leading `/`).
    pub async fn serve(&self, method: &Method, rel: &str) -> Response<Body> {
        let decoded = crate::wire::decoded_path(rel);
        let url_path = format!("/{decoded}");
        let Some(clean) = clean_relative(&decoded) else {
            return not_found();
        };
        if url_path.ends_with("/index.html") {
            return redirect("./");
        }
        let full = self.root.join(&clean);
        let meta = match tokio::fs::metadata(&full).await {
            Ok(m) => m,
            Err(e) => return io_error(&e),
        };
        if meta.is_dir() {
            if !url_path.ends_with('/') {
                let base = url_path.rsplit('/').next().unwrap_or("");
                return redirect(&format!("{base}/"));
            }
            let index = full.join("index.html");
            if let Ok(m) = tokio::fs::metadata(&index).await
                && m.is_file()
            {
                return serve_file(method, &index, m.len()).await;
            }
            return listing(&full).await;
        }
        if url_path.ends_with('/') {
            // Go redirects a file asked for as a directory to its bare name.
            let base = url_path
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or("");
            return redirect(&format!("../{base}"));
        }
        serve_file(method, &full, meta.len()).await
    }
}

/// The relative file path for a decoded URL path, with `.`/`..` resolved inside the root
/// (Go's `path.Clean("/" + p)`): never escapes the root.
fn clean_relative(decoded: &str) -> Option<PathBuf> {
    let mut parts: Vec<&str> = Vec::new();
    for seg in decoded.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s if s.contains('\0') || s.contains('\\') => return None,
            s => parts.push(s),
        }
    }
    let p: PathBuf = parts.iter().collect();
    p.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then_some(p)
}

async fn serve_file(method: &Method, path: &Path, len: u64) -> Response<Body> {
    let file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(e) => return io_error(&e),
    };
    let body = if method == Method::HEAD {
        body::empty()
    } else {
        body::boxed(StreamBody::new(futures::StreamExt::map(
            ReaderStream::new(file),
            |chunk| chunk.map(http_body::Frame::data),
        )))
    };
    let mut resp = Response::new(body);
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    resp
}

/// The content type for a file name (Go's built-in table for the common web types).
fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("ico") => "image/vnd.microsoft.icon",
        Some("wasm") => "application/wasm",
        Some("xml") => "text/xml; charset=utf-8",
        Some("pdf") => "application/pdf",
        Some("txt" | "md" | "yaml" | "yml") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Go's directory listing.
async fn listing(dir: &Path) -> Response<Body> {
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(e) => e,
        Err(e) => return io_error(&e),
    };
    let mut names = Vec::new();
    while let Ok(Some(entry)) = entries.next_entry().await {
        let mut name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().await.is_ok_and(|t| t.is_dir()) {
            name.push('/');
        }
        names.push(name);
    }
    names.sort();
    let mut html = String::from(
        "<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>\n",
    );
    for name in names {
        let href: String =
            percent_encoding::utf8_percent_encode(&name, percent_encoding::NON_ALPHANUMERIC)
                .to_string()
                .replace("%2F", "/")
                .replace("%2E", ".")
                .replace("%2D", "-")
                .replace("%5F", "_");
        html.push_str(&format!("<a href=\"{href}\">{}</a>\n", escape_html(&name)));
    }
    html.push_str("</pre>\n");
    let mut resp = Response::new(body::full(html));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

fn redirect(location: &str) -> Response<Body> {
    let mut resp = Response::new(body::empty());
    *resp.status_mut() = StatusCode::MOVED_PERMANENTLY;
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// Go's `http.NotFound`.
pub fn not_found() -> Response<Body> {
    let mut resp = body::text_response(StatusCode::NOT_FOUND, "404 page not found\n");
    resp.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    resp
}

fn io_error(e: &std::io::Error) -> Response<Body> {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            body::text_response(StatusCode::FORBIDDEN, "403 Forbidden\n")
        }
        _ => not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn get(files: &StaticFiles, rel: &str) -> (u16, http::HeaderMap, String) {
        let resp = files.serve(&Method::GET, rel).await;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    #[tokio::test]
    async fn files_directories_and_redirects() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("test.txt"), "This is test data").unwrap();
        std::fs::create_dir(dir.path().join("site")).unwrap();
        std::fs::write(dir.path().join("site/index.html"), "<h1>hi</h1>").unwrap();
        std::fs::create_dir(dir.path().join("list")).unwrap();
        std::fs::write(dir.path().join("list/b <x>.txt"), "b").unwrap();
        std::fs::create_dir(dir.path().join("list/sub")).unwrap();
        let files = StaticFiles::new(dir.path());

        let (code, h, body) = get(&files, "test.txt").await;
        assert_eq!((code, body.as_str()), (200, "This is test data"));
        assert_eq!(h["content-type"], "text/plain; charset=utf-8");
        assert_eq!(h["content-length"], "17");

        let (code, h, body) = get(&files, "site/").await;
        assert_eq!((code, body.as_str()), (200, "<h1>hi</h1>"));
        assert_eq!(h["content-type"], "text/html; charset=utf-8");

        let (code, h, _) = get(&files, "site").await;
        assert_eq!((code, h["location"].to_str().unwrap()), (301, "site/"));
        let (code, h, _) = get(&files, "site/index.html").await;
        assert_eq!((code, h["location"].to_str().unwrap()), (301, "./"));
        let (code, h, _) = get(&files, "test.txt/").await;
        assert_eq!(
            (code, h["location"].to_str().unwrap()),
            (301, "../test.txt")
        );

        let (code, _, body) = get(&files, "list/").await;
        assert_eq!(code, 200);
        assert!(
            body.contains("<a href=\"b%20%3Cx%3E.txt\">b &lt;x&gt;.txt</a>"),
            "{body}"
        );
        assert!(body.contains("<a href=\"sub/\">sub/</a>"), "{body}");

        let (code, _, body) = get(&files, "missing").await;
        assert_eq!((code, body.as_str()), (404, "404 page not found\n"));
        let (code, _, body) = get(&files, "%2e%2e/%2e%2e/etc/passwd").await;
        assert_eq!(code, 404, "never outside the root: {body}");
    }

    #[test]
    fn relative_paths_stay_inside() {
        for (input, want) in [
            ("a/b", Some("a/b")),
            ("../../x", Some("x")),
            ("a/../../b", Some("b")),
            ("./a//b/", Some("a/b")),
            ("", Some("")),
            ("a\\..\\b", None),
        ] {
            assert_eq!(clean_relative(input), want.map(PathBuf::from), "{input}");
        }
    }
}
