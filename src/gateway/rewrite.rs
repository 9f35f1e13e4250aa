//! Response rewriting the API server's pod/service proxy does (`reference/proxy-semantics.md`
//! §3.4): backend URLs in `Location` headers and in HTML links are turned into URLs under the
//! proxy prefix, so a page served by a pod keeps working when it is reached through
//! `/api/v1/namespaces/{ns}/pods/{id}/proxy/`.
//!
//! The rule is upstream's `rewriteURL` as a real API server runs it (its `Transport` has an empty
//! scheme and host there):
//! * a URL on another host, or a relative one (path not starting with `/`), is left alone;
//! * a URL on the backend's own host, or a path-only URL, becomes path-only:
//!   `http://10.1.2.3:8080/login` → `{prefix}/login`;
//! * a URL on the host the client used (its `Host` header, which the backend received) keeps its
//!   scheme and host and gets the prefix: `http://localhost:8001/login` →
//!   `http://localhost:8001{prefix}/login`;
//! * a path already under the prefix is not prefixed twice; the trailing slash is kept.
//!
//! Where podgate differs, deliberately:
//! * the backend path is cleaned *before* the prefix is put in front, so `/../x` cannot climb out
//!   of the prefix (Go's `path.Join(prefix, path)` can);
//! * the backend host matches with or without its default port and case-insensitively, and a
//!   backend URL with an empty path (`http://10.1.2.3:8080`) is treated as `/` instead of being
//!   leaked to the client unchanged;
//! * "already under the prefix" means whole segments (`{prefix}x` is not under `{prefix}`);
//! * an unparsable `Location` is passed through unchanged (upstream answers 500);
//! * HTML is not re-serialized: only the bytes of a rewritten attribute value change, so attribute
//!   case (`viewBox`), quoting and entities elsewhere stay as the backend wrote them (pain point
//!   #3); an unquoted value that is rewritten gets double quotes.
//!
//! Bodies are rewritten only when the media type is `text/html`, there is no `Location` header,
//! and the coding is identity or gzip (upstream also handles raw `deflate`; podgate passes it and
//! every other coding through). Rewriting needs the whole body: bodies over
//! [`MAX_REWRITE_BYTES`], before or after gunzip, are passed through unchanged, so memory per
//! request stays bounded (upstream buffers without limit).

use std::borrow::Cow;
use std::fmt;
use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use http::HeaderMap;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, LOCATION};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::gateway::target::{Scheme, clean_path};

/// The largest HTML body (compressed and decompressed) that is rewritten; larger bodies pass
/// through unchanged. A caller buffers at most this many bytes (plus one, to notice the excess).
pub const MAX_REWRITE_BYTES: usize = 4 * 1024 * 1024;

/// Bytes that may not appear raw in a URL path and are percent-encoded when a path is rewritten
/// (`%` itself is kept: existing escapes stay as they are).
const PATH_UNSAFE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Which attributes of which elements hold URLs (upstream's `atomsToAttrs`).
const URL_ATTRIBUTES: &[(&str, &[&str])] = &[
    ("a", &["href"]),
    ("applet", &["codebase"]),
    ("area", &["href"]),
    ("audio", &["src"]),
    ("base", &["href"]),
    ("blockquote", &["cite"]),
    ("body", &["background"]),
    ("button", &["formaction"]),
    ("command", &["icon"]),
    ("del", &["cite"]),
    ("embed", &["src"]),
    ("form", &["action"]),
    ("frame", &["longdesc", "src"]),
    ("head", &["profile"]),
    ("html", &["manifest"]),
    ("iframe", &["longdesc", "src"]),
    ("img", &["longdesc", "src", "usemap"]),
    ("input", &["src", "usemap", "formaction"]),
    ("ins", &["cite"]),
    ("link", &["href"]),
    ("object", &["classid", "codebase", "data", "usemap"]),
    ("q", &["cite"]),
    ("script", &["src"]),
    ("source", &["src"]),
    ("video", &["poster", "src"]),
];

/// Elements whose content is text up to their end tag (Go's tokenizer's raw-tag set): links
/// inside them are not tags and are not rewritten.
const RAW_TEXT_ELEMENTS: &[&str] = &[
    "iframe",
    "noembed",
    "noframes",
    "noscript",
    "plaintext",
    "script",
    "style",
    "textarea",
    "title",
    "xmp",
];

/// Where the proxied request went: the backend's scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendUrl {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// The host, an IP address (IPv6 without brackets) or a DNS name.
    pub host: String,
    /// The port; `None` means the scheme's default.
    pub port: Option<u16>,
}

impl BackendUrl {
    /// `host[:port]`, with brackets around an IPv6 address.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(port) => format!("{host}:{port}"),
            None => host,
        }
    }

    /// Whether a URL's `host[:port]` names this backend. A missing port means the default of the
    /// URL's scheme (or of the backend's scheme when the URL has none).
    fn is_authority(&self, host_port: &str, url_scheme: Option<&str>) -> bool {
        let Some((host, port)) = split_host_port(host_port) else {
            return false;
        };
        if !host.eq_ignore_ascii_case(&self.host) {
            return false;
        }
        let port = match port {
            Some(port) => port.parse::<u16>().ok(),
            None => match url_scheme.map(str::to_ascii_lowercase).as_deref() {
                None => Some(self.scheme.default_port()),
                Some("http" | "ws") => Some(80),
                Some("https" | "wss") => Some(443),
                Some(_) => None,
            },
        };
        port == Some(self.port.unwrap_or(self.scheme.default_port()))
    }
}

impl fmt::Display for BackendUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.authority())
    }
}

/// The content coding of an HTML body that can be rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HtmlCoding {
    /// No `Content-Encoding` (or `identity`).
    Identity,
    /// `Content-Encoding: gzip` (or `x-gzip`).
    Gzip,
}

/// Rewrites a backend URL (a `Location` value or an HTML link) to go through the proxy;
/// `None` when it stays as it is (another host, relative, unparsable, or already right).
///
/// `request_host` is the host the client used to reach podgate (the `Host` the backend saw);
/// `prefix` is [`ProxyTarget::prefix`](super::target::ProxyTarget::prefix).
pub fn rewrite_location(
    location: &str,
    backend: &BackendUrl,
    request_host: Option<&str>,
    prefix: &str,
) -> Option<String> {
    let url = split_url(location)?;
    let host = url
        .authority
        .map(|a| a.rsplit_once('@').map_or(a, |(_, host)| host))
        .filter(|h| !h.is_empty());
    let keep_origin = match host {
        None => false,
        Some(h) if request_host.is_some_and(|r| r.eq_ignore_ascii_case(h)) => true,
        Some(h) if backend.is_authority(h, url.scheme) => false,
        Some(_) => return None,
    };
    let path = match url.path {
        "" if host.is_some() => "/",
        p if p.starts_with('/') => p,
        _ => return None,
    };
    let path = if is_under(path, prefix) {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(format!("{prefix}{}", clean_path(path)))
    };

    let mut out = String::with_capacity(location.len() + prefix.len());
    if keep_origin {
        if let Some(scheme) = url.scheme {
            out.push_str(scheme);
            out.push(':');
        }
        out.push_str("//");
        out.push_str(url.authority.unwrap_or_default());
    }
    out.extend(utf8_percent_encode(&path, PATH_UNSAFE));
    out.push_str(url.tail);
    (out != location).then_some(out)
}

/// Which coding a response body would be rewritten in, or `None` when the body must pass through
/// untouched: a `Location` header is present (only it is rewritten), the media type is not
/// `text/html`, or the coding is not identity or gzip.
pub fn html_rewrite_coding(headers: &HeaderMap) -> Option<HtmlCoding> {
    if headers.contains_key(LOCATION) {
        return None;
    }
    let content_type = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if !media_type.eq_ignore_ascii_case("text/html") {
        return None;
    }
    let mut codings = headers.get_all(CONTENT_ENCODING).iter();
    let coding = match (codings.next(), codings.next()) {
        (None, _) => return Some(HtmlCoding::Identity),
        (Some(coding), None) => coding.to_str().ok()?.trim().to_ascii_lowercase(),
        (Some(_), Some(_)) => return None,
    };
    match coding.as_str() {
        "" | "identity" => Some(HtmlCoding::Identity),
        "gzip" | "x-gzip" => Some(HtmlCoding::Gzip),
        _ => None,
    }
}

/// Rewrites an encoded HTML body; `None` means "send the original": too large, undecodable, or
/// no link changed (so the body, its `Content-Length` and any validators stay valid). On `Some`,
/// the caller replaces the body and sets `Content-Length` to the new length.
pub fn rewrite_html_body(
    body: &[u8],
    coding: HtmlCoding,
    backend: &BackendUrl,
    request_host: Option<&str>,
    prefix: &str,
) -> Option<Vec<u8>> {
    if body.len() > MAX_REWRITE_BYTES {
        return None;
    }
    let html: Cow<[u8]> = match coding {
        HtmlCoding::Identity => Cow::Borrowed(body),
        HtmlCoding::Gzip => Cow::Owned(gunzip_limited(body, MAX_REWRITE_BYTES)?),
    };
    let rewritten = rewrite_html(&html, backend, request_host, prefix);
    if rewritten == *html {
        return None;
    }
    match coding {
        HtmlCoding::Identity => Some(rewritten),
        HtmlCoding::Gzip => gzip(&rewritten),
    }
}

/// Rewrites the URL attributes of a (decoded) HTML document, see [`rewrite_location`] for the
/// rule and the module docs for the attribute table. Everything but the rewritten attribute
/// values is copied byte for byte; comments, doctypes, end tags and the content of raw-text
/// elements (`script`, `style`, `textarea`, ...) are never touched.
pub fn rewrite_html(
    html: &[u8],
    backend: &BackendUrl,
    request_host: Option<&str>,
    prefix: &str,
) -> Vec<u8> {
    let rewrite = |url: &str| rewrite_location(url, backend, request_host, prefix);
    let mut out = Vec::with_capacity(html.len() + html.len() / 8);
    let mut copied = 0;
    let mut pos = 0;
    while let Some(offset) = html[pos..].iter().position(|&b| b == b'<') {
        let lt = pos + offset;
        let rest = &html[lt..];
        let second = rest.get(1).copied().unwrap_or_default();
        pos = if rest.starts_with(b"<!--") {
            comment_end(html, lt + 4)
        } else if second == b'!'
            || second == b'?'
            || (second == b'/' && !rest.get(2).is_some_and(u8::is_ascii_alphabetic))
        {
            find(html, lt + 2, b">").map_or(html.len(), |i| i + 1)
        } else if second == b'/' {
            scan_tag(html, lt + 2).map_or(html.len(), |tag| tag.end)
        } else if second.is_ascii_alphabetic() {
            let Some(tag) = scan_tag(html, lt + 1) else {
                break; // an unterminated tag: the rest is copied as it is
            };
            let name = html[tag.name.0..tag.name.1].to_ascii_lowercase();
            for value in url_values(html, &name, &tag.attrs) {
                if let Some(new) =
                    rewritten_value(&html[value.start..value.end], value.quote, &rewrite)
                {
                    out.extend_from_slice(&html[copied..value.start]);
                    out.extend_from_slice(&new);
                    copied = value.end;
                }
            }
            match RAW_TEXT_ELEMENTS.iter().find(|raw| raw.as_bytes() == name) {
                Some(&"plaintext") => html.len(),
                Some(raw) => raw_text_end(html, tag.end, raw.as_bytes()),
                None => tag.end,
            }
        } else {
            lt + 1
        };
    }
    out.extend_from_slice(&html[copied..]);
    out
}

// === URL parsing ===

/// A URL split the way Go's `url.Parse` splits it, as slices of the original text.
struct UrlParts<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    path: &'a str,
    /// `?query` and/or `#fragment`, verbatim.
    tail: &'a str,
}

/// Splits a URL; `None` when Go's `url.Parse` would fail (control characters, a bad scheme, a
/// colon in a scheme-less first segment, a bad `%` escape in the path).
fn split_url(url: &str) -> Option<UrlParts<'_>> {
    if url.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return None;
    }
    let (scheme, rest) = match url.find([':', '/', '?', '#']) {
        Some(i) if url.as_bytes()[i] == b':' => {
            let scheme = &url[..i];
            let valid = scheme
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic())
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
            if !valid {
                return None;
            }
            (Some(scheme), &url[i + 1..])
        }
        _ => (None, url),
    };
    let (authority, rest) = match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find(['/', '?', '#']).unwrap_or(after.len());
            (Some(&after[..end]), &after[end..])
        }
        None => (None, rest),
    };
    let (path, tail) = rest.split_at(rest.find(['?', '#']).unwrap_or(rest.len()));
    valid_escapes(path).then_some(UrlParts {
        scheme,
        authority,
        path,
        tail,
    })
}

/// Whether every `%` is followed by two hex digits.
fn valid_escapes(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter()
        .enumerate()
        .filter(|(_, c)| **c == b'%')
        .all(|(i, _)| {
            b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
        })
}

/// `host` / `host:port` / `[v6]` / `[v6]:port`; `None` when malformed.
fn split_host_port(s: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?))),
        };
    }
    match s.split_once(':') {
        None => Some((s, None)),
        Some((host, port)) if !port.contains(':') => Some((host, Some(port))),
        Some(_) => None,
    }
}

/// Whether `path` is `prefix` or below it, in whole segments.
fn is_under(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/') || prefix.ends_with('/'),
        None => false,
    }
}

// === HTML scanning ===

/// A start or end tag: where its name is, its attributes, and the index just after its `>`.
struct Tag {
    name: (usize, usize),
    attrs: Vec<Attr>,
    end: usize,
}

/// One attribute: where its name is and, when it has one, its value.
struct Attr {
    name: (usize, usize),
    value: Option<Value>,
}

/// The bytes of an attribute value (inside the quotes, if any) and its quote character.
struct Value {
    start: usize,
    end: usize,
    quote: Option<u8>,
}

/// Scans a tag whose name starts at `start`, following the HTML tokenizer's tag and attribute
/// states; `None` when the input ends inside the tag.
fn scan_tag(html: &[u8], start: usize) -> Option<Tag> {
    let n = html.len();
    let mut i = start;
    while i < n && !is_space(html[i]) && html[i] != b'/' && html[i] != b'>' {
        i += 1;
    }
    let name = (start, i);
    let mut attrs = Vec::new();
    loop {
        while i < n && (is_space(html[i]) || html[i] == b'/') {
            i += 1;
        }
        match html.get(i) {
            None => return None,
            Some(b'>') => {
                return Some(Tag {
                    name,
                    attrs,
                    end: i + 1,
                });
            }
            Some(_) => {}
        }
        // An attribute name may start with `=`; it runs to a space, `/`, `>` or `=`.
        let name_start = i;
        i += 1;
        while i < n && !is_space(html[i]) && !matches!(html[i], b'/' | b'>' | b'=') {
            i += 1;
        }
        let attr_name = (name_start, i);
        while i < n && is_space(html[i]) {
            i += 1;
        }
        if html.get(i) != Some(&b'=') {
            attrs.push(Attr {
                name: attr_name,
                value: None,
            });
            continue;
        }
        i += 1;
        while i < n && is_space(html[i]) {
            i += 1;
        }
        let value = match *html.get(i)? {
            quote @ (b'"' | b'\'') => {
                let end = i + 1 + html[i + 1..].iter().position(|&b| b == quote)?;
                let value = Value {
                    start: i + 1,
                    end,
                    quote: Some(quote),
                };
                i = end + 1;
                value
            }
            b'>' => Value {
                start: i,
                end: i,
                quote: None,
            },
            _ => {
                let start = i;
                while i < n && !is_space(html[i]) && html[i] != b'>' {
                    i += 1;
                }
                Value {
                    start,
                    end: i,
                    quote: None,
                }
            }
        };
        attrs.push(Attr {
            name: attr_name,
            value: Some(value),
        });
    }
}

/// The values of the attributes of `element` that hold URLs (per [`URL_ATTRIBUTES`]).
fn url_values<'t>(
    html: &'t [u8],
    element: &[u8],
    attrs: &'t [Attr],
) -> impl Iterator<Item = &'t Value> {
    let wanted: &[&str] = URL_ATTRIBUTES
        .iter()
        .find(|(e, _)| e.as_bytes() == element)
        .map_or(&[], |(_, attrs)| attrs);
    attrs
        .iter()
        .filter(move |a| {
            let name = &html[a.name.0..a.name.1];
            wanted
                .iter()
                .any(|w| w.as_bytes().eq_ignore_ascii_case(name))
        })
        .filter_map(|a| a.value.as_ref())
}

/// HTML whitespace.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0c' | b'\r')
}

/// The index after a comment whose body starts at `body` (`<!-->`, `<!--->`, `-->`, `--!>`).
fn comment_end(html: &[u8], body: usize) -> usize {
    let rest = &html[body.min(html.len())..];
    if rest.starts_with(b">") {
        return body + 1;
    }
    if rest.starts_with(b"->") {
        return body + 2;
    }
    let close = find(html, body, b"-->").map(|i| i + 3);
    let bang = find(html, body, b"--!>").map(|i| i + 4);
    match (close, bang) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(html.len()),
    }
}

/// Where the end tag `</name` of a raw-text element starts (case-insensitive, followed by a
/// space, `/`, `>` or the end), searching from `from`; the end of the input when there is none.
fn raw_text_end(html: &[u8], from: usize, name: &[u8]) -> usize {
    let mut pos = from;
    while let Some(lt) = find(html, pos, b"</") {
        let name_end = lt + 2 + name.len();
        let matches_name = html
            .get(lt + 2..name_end)
            .is_some_and(|n| n.eq_ignore_ascii_case(name));
        let boundary = html
            .get(name_end)
            .is_none_or(|&b| is_space(b) || b == b'/' || b == b'>');
        if matches_name && boundary {
            return lt;
        }
        pos = lt + 2;
    }
    html.len()
}

/// The first index at or after `from` where `needle` occurs.
fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| from + i)
}

/// The new bytes for an attribute value, or `None` to keep it: entities are decoded, the URL is
/// rewritten, and the result is escaped for its quotes (an unquoted value gets double quotes).
fn rewritten_value(
    raw: &[u8],
    quote: Option<u8>,
    rewrite: &impl Fn(&str) -> Option<String>,
) -> Option<Vec<u8>> {
    let raw = std::str::from_utf8(raw).ok()?;
    let url = decode_entities(raw)?;
    let new = rewrite(&url)?;
    let q = quote.unwrap_or(b'"');
    let mut out = Vec::with_capacity(new.len() + 8);
    if quote.is_none() {
        out.push(b'"');
    }
    for b in new.bytes() {
        match b {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'"' if q == b'"' => out.extend_from_slice(b"&quot;"),
            b'\'' if q == b'\'' => out.extend_from_slice(b"&#39;"),
            _ => out.push(b),
        }
    }
    if quote.is_none() {
        out.push(b'"');
    }
    Some(out)
}

/// Decodes character references in an attribute value: numeric ones and `&amp; &lt; &gt; &quot;
/// &apos; &nbsp;`. An `&` not starting a terminated reference stays literal (`?a=1&b=2`). `None`
/// for any other named reference: the value's meaning is unknown, so it is not rewritten.
fn decode_entities(s: &str) -> Option<Cow<'_, str>> {
    if !s.contains('&') {
        return Some(Cow::Borrowed(s));
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let (decoded, used) = if let Some(num) = after.strip_prefix('#') {
            let (digits, radix, skip) = match num.strip_prefix(['x', 'X']) {
                Some(hex) => (hex, 16, 2),
                None => (num, 10, 1),
            };
            let len = digits
                .find(|c: char| !c.is_digit(radix))
                .unwrap_or(digits.len());
            if len == 0 {
                (None, 0)
            } else {
                let code = u32::from_str_radix(&digits[..len], radix)
                    .ok()
                    .and_then(char::from_u32);
                let semicolon = usize::from(digits[len..].starts_with(';'));
                (
                    Some(code.filter(|&c| c != '\0').unwrap_or('\u{fffd}')),
                    skip + len + semicolon,
                )
            }
        } else {
            let len = after
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(after.len());
            if len == 0 || !after[len..].starts_with(';') {
                (None, 0)
            } else {
                let c = match &after[..len] {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    "nbsp" => '\u{a0}',
                    _ => return None,
                };
                (Some(c), len + 1)
            }
        };
        match decoded {
            Some(c) => out.push(c),
            None => out.push('&'),
        }
        rest = &after[used..];
    }
    out.push_str(rest);
    Some(Cow::Owned(out))
}

// === gzip ===

/// Gunzips (all members) at most `limit` bytes; `None` when the data is corrupt or inflates
/// beyond `limit` (which also stops gzip bombs).
fn gunzip_limited(body: &[u8], limit: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    MultiGzDecoder::new(body)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .ok()?;
    (out.len() <= limit).then_some(out)
}

/// Gzips with the default level.
fn gzip(data: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 3), Compression::default());
    encoder.write_all(data).ok()?;
    encoder.finish().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    /// Upstream's test transport prefix.
    const PREFIX: &str = "/proxy/node/node1:10250";

    fn backend(host: &str) -> BackendUrl {
        BackendUrl {
            scheme: Scheme::Http,
            host: host.to_string(),
            port: None,
        }
    }

    fn html(input: &str, backend: &BackendUrl, request_host: Option<&str>, prefix: &str) -> String {
        String::from_utf8(rewrite_html(
            input.as_bytes(),
            backend,
            request_host,
            prefix,
        ))
        .unwrap()
    }

    /// Upstream's `TestProxyTransport` bodies, with the outputs a real API server produces (its
    /// transport has no scheme or host, so same-host links become path-only).
    #[test]
    fn upstream_html_vectors() {
        let mynode = backend("mynode.com");
        let rows = [
            (
                "normal",
                r#"<pre><a href="kubelet.log">kubelet.log</a><a href="/google.log">google.log</a></pre>"#,
                r#"<pre><a href="kubelet.log">kubelet.log</a><a href="/proxy/node/node1:10250/google.log">google.log</a></pre>"#,
            ),
            (
                "full document",
                r#"<html><header></header><body><pre><a href="kubelet.log">kubelet.log</a><a href="/google.log">google.log</a></pre></body></html>"#,
                r#"<html><header></header><body><pre><a href="kubelet.log">kubelet.log</a><a href="/proxy/node/node1:10250/google.log">google.log</a></pre></body></html>"#,
            ),
            (
                "trailing slash",
                r#"<pre><a href="kubelet.log">kubelet.log</a><a href="/google.log/">google.log</a></pre>"#,
                r#"<pre><a href="kubelet.log">kubelet.log</a><a href="/proxy/node/node1:10250/google.log/">google.log</a></pre>"#,
            ),
            (
                "image",
                r#"<pre><img src="kubernetes.jpg"/><img src="/kubernetes_abs.jpg"/></pre>"#,
                r#"<pre><img src="kubernetes.jpg"/><img src="/proxy/node/node1:10250/kubernetes_abs.jpg"/></pre>"#,
            ),
            (
                "abs",
                r#"<script src="http://google.com/kubernetes.js"/>"#,
                r#"<script src="http://google.com/kubernetes.js"/>"#,
            ),
            (
                "abs but same host",
                r#"<script src="http://mynode.com/kubernetes.js"/>"#,
                r#"<script src="/proxy/node/node1:10250/kubernetes.js"/>"#,
            ),
            ("no host", "<html></html>", "<html></html>"),
        ];
        for (name, input, want) in rows {
            assert_eq!(
                html(input, &mynode, Some("foo.com"), PREFIX),
                want,
                "{name}"
            );
        }
        let subdir = html(
            r#"<a href="kubelet.log">kubelet.log</a><a href="/google.log">google.log</a>"#,
            &mynode,
            None,
            "/proxy/node/node1:8080",
        );
        assert_eq!(
            subdir,
            r#"<a href="kubelet.log">kubelet.log</a><a href="/proxy/node/node1:8080/google.log">google.log</a>"#
        );
    }

    #[test]
    fn upstream_source_contains_the_prefix_already() {
        let input = r#"<a href="http://foo.com/proxy/node/node1:10250/google.log">google.log</a>"#;
        // Backend foo.com: the origin is dropped, the prefix not doubled.
        assert_eq!(
            html(input, &backend("foo.com"), None, PREFIX),
            r#"<a href="/proxy/node/node1:10250/google.log">google.log</a>"#
        );
        // The client's own host: nothing to change.
        assert_eq!(
            html(input, &backend("10.1.2.3"), Some("foo.com"), PREFIX),
            input
        );
    }

    /// Upstream's redirect vectors (`redirect rel`, `redirect abs same host`, `redirect abs other
    /// host`, `redirect abs use reqHost no host no scheme`) plus the re-escaping case.
    #[test]
    fn location_vectors() {
        let mynode = backend("mynode.com");
        let rows: &[(&str, Option<&str>, Option<&str>)] = &[
            (
                "/redirected/target/",
                None,
                Some("/proxy/node/node1:10250/redirected/target/"),
            ),
            (
                "http://mynode.com/redirected/target/",
                None,
                Some("/proxy/node/node1:10250/redirected/target/"),
            ),
            ("http://example.com/redirected/target/", None, None),
            (
                "http://10.0.0.1:8001/redirected/target/",
                Some("10.0.0.1:8001"),
                Some("http://10.0.0.1:8001/proxy/node/node1:10250/redirected/target/"),
            ),
            (
                "/redirected/<script>alert(1)</script>",
                None,
                Some("/proxy/node/node1:10250/redirected/%3Cscript%3Ealert(1)%3C/script%3E"),
            ),
            (
                "/redirected/target?a=b&c=<d>#frag",
                None,
                Some("/proxy/node/node1:10250/redirected/target?a=b&c=<d>#frag"),
            ),
            ("redirected/target", None, None),
            ("../up", None, None),
            ("", None, None),
            ("?x=1", None, None),
            ("#top", None, None),
            ("mailto:a@b.c", None, None),
            ("javascript:alert(1)", None, None),
            (":nope", None, None),
            ("1http://mynode.com/x", None, None),
            ("/bad%zzescape", None, None),
            ("/proxy/node/node1:10250", None, None),
            ("/proxy/node/node1:10250/x", None, None),
            (
                "/proxy/node/node1:10250x",
                None,
                Some("/proxy/node/node1:10250/proxy/node/node1:10250x"),
            ),
            ("/a/../../../etc", None, Some("/proxy/node/node1:10250/etc")),
            ("//evil.example/x", None, None),
            ("//mynode.com//x", None, Some("/proxy/node/node1:10250/x")),
            (
                "http://MyNode.com:80/x",
                None,
                Some("/proxy/node/node1:10250/x"),
            ),
            ("http://mynode.com:8080/x", None, None),
            ("https://mynode.com/x", None, None),
            (
                "http://user:pw@mynode.com/x",
                None,
                Some("/proxy/node/node1:10250/x"),
            ),
            ("http://mynode.com", None, Some("/proxy/node/node1:10250/")),
            (
                "http://mynode.com?q",
                None,
                Some("/proxy/node/node1:10250/?q"),
            ),
            (
                "http://LOCALHOST:8001/login",
                Some("localhost:8001"),
                Some("http://LOCALHOST:8001/proxy/node/node1:10250/login"),
            ),
            (
                "http://localhost:8001/proxy/node/node1:10250/x",
                Some("localhost:8001"),
                None,
            ),
        ];
        for (input, request_host, want) in rows {
            let got = rewrite_location(input, &mynode, *request_host, PREFIX);
            assert_eq!(got.as_deref(), *want, "{input}");
        }
    }

    #[test]
    fn backend_authority_matching() {
        let tls = BackendUrl {
            scheme: Scheme::Https,
            host: "10.1.2.3".into(),
            port: Some(8443),
        };
        let v6 = BackendUrl {
            scheme: Scheme::Http,
            host: "fd00::1".into(),
            port: Some(8080),
        };
        let plain = BackendUrl {
            scheme: Scheme::Https,
            host: "10.1.2.3".into(),
            port: None,
        };
        let rows: &[(&BackendUrl, &str, Option<&str>, bool)] = &[
            (&tls, "10.1.2.3:8443", Some("https"), true),
            (&tls, "10.1.2.3:8443", None, true),
            (&tls, "10.1.2.3", Some("https"), false),
            (&tls, "10.1.2.4:8443", Some("https"), false),
            (&v6, "[fd00::1]:8080", Some("http"), true),
            (&v6, "[FD00::1]:8080", Some("http"), true),
            (&v6, "fd00::1:8080", Some("http"), false),
            (&v6, "[fd00::1]", Some("http"), false),
            (&plain, "10.1.2.3", Some("https"), true),
            (&plain, "10.1.2.3", None, true),
            (&plain, "10.1.2.3:443", Some("https"), true),
            (&plain, "10.1.2.3", Some("http"), false),
            (&plain, "10.1.2.3", Some("wss"), true),
            (&plain, "10.1.2.3", Some("ftp"), false),
            (&plain, "10.1.2.3:x", Some("https"), false),
        ];
        for (b, host_port, scheme, want) in rows {
            assert_eq!(
                b.is_authority(host_port, *scheme),
                *want,
                "{b} vs {scheme:?}://{host_port}"
            );
        }
        assert_eq!(tls.to_string(), "https://10.1.2.3:8443");
        assert_eq!(v6.authority(), "[fd00::1]:8080");
        assert_eq!(plain.to_string(), "https://10.1.2.3");
    }

    #[test]
    fn attribute_table_is_rewritten() {
        let b = backend("10.1.2.3");
        for (element, attrs) in URL_ATTRIBUTES {
            for attr in *attrs {
                let input = format!(r#"<{element} {attr}="/x">"#);
                let want = format!(r#"<{element} {attr}="/p/x">"#);
                assert_eq!(html(&input, &b, None, "/p"), want, "{element}[{attr}]");
            }
        }
    }

    #[test]
    fn other_attributes_and_places_are_not_rewritten() {
        let b = backend("10.1.2.3");
        let rows = [
            r#"<a src="/x">"#,
            r#"<img srcset="/x 1x">"#,
            r#"<div href="/x">"#,
            r#"<a style="background:url(/x)">"#,
            r#"<meta http-equiv="refresh" content="0;url=/x">"#,
            r#"<!-- <a href="/x"> -->"#,
            r#"<script>var s = '<a href="/x">';</script>"#,
            r#"<SCRIPT>document.write('<img src="/x">')</SCRIPT >"#,
            r#"<style>a { background: url(/x) }</style>"#,
            r#"<textarea><a href="/x"></textarea>"#,
            r#"<title><a href="/x"></title>"#,
            r#"<noscript><img src="/x"></noscript>"#,
            r#"<plaintext><a href="/x"></a>"#,
            r#"</a href="/x">"#,
            r#"<!DOCTYPE html><?xml version="1.0"?>"#,
            r#"<a href="/x"#,
            r#"<a href="/p/x">"#,
            r#"<a href>"#,
            r#"<a href=>"#,
            r#"a < b and <3 <a"#,
            r#"<a href="/&unknown;">"#,
        ];
        for input in rows {
            assert_eq!(html(input, &b, None, "/p"), input);
        }
    }

    #[test]
    fn html_forms_around_rewritten_values() {
        let b = backend("10.1.2.3");
        let rows = [
            (r#"<A HREF="/x">"#, r#"<A HREF="/p/x">"#),
            (r#"<a href=/x>"#, r#"<a href="/p/x">"#),
            (r#"<a href='/x'>"#, r#"<a href='/p/x'>"#),
            (r#"<a href = "/x" >"#, r#"<a href = "/p/x" >"#),
            (
                r#"<a title="a>b" href="/x">"#,
                r#"<a title="a>b" href="/p/x">"#,
            ),
            (r#"<a/href="/x">"#, r#"<a/href="/p/x">"#),
            (
                r#"<a href="/x?a=1&amp;b=2">"#,
                r#"<a href="/p/x?a=1&amp;b=2">"#,
            ),
            (r#"<a href="/x?a=1&b=2">"#, r#"<a href="/p/x?a=1&amp;b=2">"#),
            (r#"<a href="&#47;x">"#, r#"<a href="/p/x">"#),
            (r#"<a href='/x?q="1"'>"#, r#"<a href='/p/x?q="1"'>"#),
            (
                r#"<a href="/x?q=&quot;1&quot;">"#,
                r#"<a href="/p/x?q=&quot;1&quot;">"#,
            ),
            (
                r#"<a href="http://10.1.2.3/x" href="/y">"#,
                r#"<a href="/p/x" href="/p/y">"#,
            ),
            (
                r#"<svg viewBox="0 0 1 1"></svg><img src="/i.png">"#,
                r#"<svg viewBox="0 0 1 1"></svg><img src="/p/i.png">"#,
            ),
            (
                r#"<script src="/a.js"></script><a href="/b">"#,
                r#"<script src="/p/a.js"></script><a href="/p/b">"#,
            ),
            (r#"<!----><a href="/x">"#, r#"<!----><a href="/p/x">"#),
            (r#"<!--><a href="/x">"#, r#"<!--><a href="/p/x">"#),
            (r#"<!---><a href="/x">"#, r#"<!---><a href="/p/x">"#),
            (
                r#"<!-- x --!><a href="/x">"#,
                r#"<!-- x --!><a href="/p/x">"#,
            ),
            (
                r#"<p>caf&eacute; &amp; <a href="/x">é</a>"#,
                r#"<p>caf&eacute; &amp; <a href="/p/x">é</a>"#,
            ),
        ];
        for (input, want) in rows {
            assert_eq!(html(input, &b, None, "/p"), want, "{input}");
        }
        // Bytes that are not UTF-8 outside the rewritten value survive.
        let mut latin1 = b"<p>\xe9</p><a href=\"/x\">\xff".to_vec();
        let out = rewrite_html(&latin1, &b, None, "/p");
        latin1.splice(17..17, b"/p".iter().copied());
        assert_eq!(out, latin1);
    }

    /// Header name/value pairs of a table row.
    type Pairs = &'static [(&'static str, &'static str)];

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        h
    }

    #[test]
    fn which_bodies_are_rewritten() {
        let rows: &[(Pairs, Option<HtmlCoding>)] = &[
            (&[("content-type", "text/html")], Some(HtmlCoding::Identity)),
            (
                &[("content-type", "text/html; charset=utf-8")],
                Some(HtmlCoding::Identity),
            ),
            (
                &[("content-type", " TEXT/HTML ;charset=utf-8")],
                Some(HtmlCoding::Identity),
            ),
            (
                &[
                    ("content-type", "text/html"),
                    ("content-encoding", "identity"),
                ],
                Some(HtmlCoding::Identity),
            ),
            (
                &[("content-type", "text/html"), ("content-encoding", "gzip")],
                Some(HtmlCoding::Gzip),
            ),
            (
                &[
                    ("content-type", "text/html"),
                    ("content-encoding", "X-GZIP"),
                ],
                Some(HtmlCoding::Gzip),
            ),
            (
                &[("content-type", "text/html"), ("content-encoding", "br")],
                None,
            ),
            (
                &[
                    ("content-type", "text/html"),
                    ("content-encoding", "deflate"),
                ],
                None,
            ),
            (
                &[
                    ("content-type", "text/html"),
                    ("content-encoding", "gzip, br"),
                ],
                None,
            ),
            (
                &[
                    ("content-type", "text/html"),
                    ("content-encoding", "gzip"),
                    ("content-encoding", "gzip"),
                ],
                None,
            ),
            (&[("content-type", "text/plain")], None),
            (&[("content-type", "application/xhtml+xml")], None),
            (&[("content-type", "text/css")], None),
            (&[], None),
            (&[("content-type", "text/html"), ("location", "/x")], None),
        ];
        for (pairs, want) in rows {
            assert_eq!(html_rewrite_coding(&headers(pairs)), *want, "{pairs:?}");
        }
    }

    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        MultiGzDecoder::new(data).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn identity_body() {
        let b = backend("10.1.2.3");
        let out = rewrite_html_body(br#"<a href="/x">"#, HtmlCoding::Identity, &b, None, "/p");
        assert_eq!(out.as_deref(), Some(&br#"<a href="/p/x">"#[..]));
        assert_eq!(
            rewrite_html_body(b"no links", HtmlCoding::Identity, &b, None, "/p"),
            None,
            "unchanged: None"
        );
    }

    /// Upstream's `TestRewriteResponse` sizes (a short body and 4097 repetitions), with a link.
    #[test]
    fn gzip_body_round_trips() {
        let b = backend("10.1.2.3");
        for text in ["short body test".to_string(), "long body test".repeat(4097)] {
            let page = format!(r#"{text}<a href="/x">{text}"#);
            let want = format!(r#"{text}<a href="/p/x">{text}"#);
            let compressed = gzip(page.as_bytes()).unwrap();
            let out = rewrite_html_body(&compressed, HtmlCoding::Gzip, &b, None, "/p").unwrap();
            assert_eq!(gunzip(&out), want.as_bytes());
            let unchanged = gzip(text.as_bytes()).unwrap();
            assert_eq!(
                rewrite_html_body(&unchanged, HtmlCoding::Gzip, &b, None, "/p"),
                None
            );
        }
        // Two gzip members are one body.
        let mut two = gzip(br#"<a href="/x">"#).unwrap();
        two.extend(gzip(br#"<a href="/y">"#).unwrap());
        let out = rewrite_html_body(&two, HtmlCoding::Gzip, &b, None, "/p").unwrap();
        assert_eq!(gunzip(&out), br#"<a href="/p/x"><a href="/p/y">"#);
    }

    #[test]
    fn oversized_or_corrupt_bodies_pass_through() {
        let b = backend("10.1.2.3");
        let mut big = br#"<a href="/x">"#.to_vec();
        big.resize(MAX_REWRITE_BYTES + 1, b' ');
        assert_eq!(
            rewrite_html_body(&big, HtmlCoding::Identity, &b, None, "/p"),
            None
        );
        // Small compressed, too large inflated (a gzip bomb is stopped at the limit).
        let bomb = gzip(&big).unwrap();
        assert!(bomb.len() < MAX_REWRITE_BYTES);
        assert_eq!(
            rewrite_html_body(&bomb, HtmlCoding::Gzip, &b, None, "/p"),
            None
        );
        assert_eq!(
            rewrite_html_body(br#"<a href="/x">"#, HtmlCoding::Gzip, &b, None, "/p"),
            None,
            "not gzip"
        );
        let at_limit = &big[..MAX_REWRITE_BYTES];
        assert!(rewrite_html_body(at_limit, HtmlCoding::Identity, &b, None, "/p").is_some());
    }

    #[test]
    fn entity_decoding() {
        let rows: &[(&str, Option<&str>)] = &[
            ("plain", Some("plain")),
            ("a&amp;b", Some("a&b")),
            ("&lt;&gt;&quot;&apos;&nbsp;", Some("<>\"'\u{a0}")),
            ("&#47;&#x2F;&#X2f;", Some("///")),
            ("&#47", Some("/")),
            ("&#0;&#xD800;", Some("\u{fffd}\u{fffd}")),
            ("a&b=c", Some("a&b=c")),
            ("a & b", Some("a & b")),
            ("&#;", Some("&#;")),
            ("&copy;", None),
        ];
        for (input, want) in rows {
            assert_eq!(decode_entities(input).as_deref(), *want, "{input}");
        }
    }
}
