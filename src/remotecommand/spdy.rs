//! SPDY/3.1 framing: the subset kubectl's SPDY client (moby/spdystream) uses.
//!
//! [`FrameDecoder`] takes the bytes of a connection in whatever pieces they arrive (a TCP read,
//! or one WebSocket message per Go `Write` in the port-forward tunnel) and yields whole
//! [`Frame`]s; [`FrameEncoder`] writes them. Header blocks travel zlib-compressed with the
//! SPDY/3 dictionary, one zlib stream per direction for the whole session and a sync flush
//! after each block, so each direction keeps its own (de)compressor for the session's life.
//!
//! Memory is bounded: a frame longer than [`MAX_DATA_FRAME`] (DATA) or [`MAX_CONTROL_FRAME`]
//! (control frames) is refused as soon as its 8-byte header is in, and a header block that
//! inflates past [`MAX_HEADER_BLOCK`] is refused while inflating.

use std::sync::LazyLock;

use bytes::{Buf, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The SPDY version this codec speaks (the version field of every control frame).
pub const VERSION: u16 = 3;

/// The largest DATA payload accepted. SPDY allows 16 MiB, but kubectl writes at most 32 KiB
/// per frame; a megabyte is generous and keeps a session's buffers small.
pub const MAX_DATA_FRAME: usize = 1024 * 1024;
/// The largest control frame payload accepted (a compressed header block, or SETTINGS).
pub const MAX_CONTROL_FRAME: usize = 64 * 1024;
/// The largest header block accepted once inflated.
pub const MAX_HEADER_BLOCK: usize = 64 * 1024;

/// The length of every frame header, control or DATA.
const FRAME_HEADER_LEN: usize = 8;
/// The largest value of the 24-bit length field.
const MAX_LENGTH_FIELD: usize = 0x00ff_ffff;
/// The 31 bits of a stream id.
const STREAM_ID_MASK: u32 = 0x7fff_ffff;

/// FIN: the sender's last frame on this stream (SYN_STREAM, SYN_REPLY, HEADERS, DATA).
const FLAG_FIN: u8 = 0x01;
/// UNIDIRECTIONAL: the receiver of a SYN_STREAM may not send on it.
const FLAG_UNIDIRECTIONAL: u8 = 0x02;
/// CLEAR_SETTINGS: the receiver forgets settings it persisted (SETTINGS only).
const FLAG_CLEAR_SETTINGS: u8 = 0x01;

/// The control frame types, by number.
mod kind {
    /// Opens a stream.
    pub(super) const SYN_STREAM: u16 = 1;
    /// Accepts a stream.
    pub(super) const SYN_REPLY: u16 = 2;
    /// Aborts a stream.
    pub(super) const RST_STREAM: u16 = 3;
    /// Session parameters.
    pub(super) const SETTINGS: u16 = 4;
    /// Round-trip probe.
    pub(super) const PING: u16 = 6;
    /// The sender accepts no new streams.
    pub(super) const GOAWAY: u16 = 7;
    /// More headers on an open stream.
    pub(super) const HEADERS: u16 = 8;
    /// Flow-control credit.
    pub(super) const WINDOW_UPDATE: u16 = 9;
}

/// RST_STREAM status codes (SPDY/3.1 §2.6.3).
pub mod rst {
    /// A generic error.
    pub const PROTOCOL_ERROR: u32 = 1;
    /// A frame for a stream that is not open.
    pub const INVALID_STREAM: u32 = 2;
    /// The receiver refuses the stream before any processing.
    pub const REFUSED_STREAM: u32 = 3;
    /// The stream is no longer needed (what spdystream's `Reset` sends).
    pub const CANCEL: u32 = 5;
    /// The endpoint failed while processing the stream.
    pub const INTERNAL_ERROR: u32 = 6;
    /// A SYN_STREAM for a stream id already open.
    pub const STREAM_IN_USE: u32 = 8;
    /// A frame after FIN.
    pub const STREAM_ALREADY_CLOSED: u32 = 9;
}

/// GOAWAY status codes (SPDY/3.1 §2.6.6).
pub mod goaway {
    /// A normal end of the session.
    pub const OK: u32 = 0;
    /// The peer broke the protocol.
    pub const PROTOCOL_ERROR: u32 = 1;
    /// The sender failed.
    pub const INTERNAL_ERROR: u32 = 2;
}

/// A header block: (name, value) pairs, names lower-case. A value with several parts holds
/// them NUL-separated, as on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    pairs: Vec<(String, String)>,
}

impl Headers {
    /// An empty block (what a server's SYN_REPLY carries).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a pair; the name is lower-cased, as SPDY requires on the wire.
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.pairs
            .push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    /// The first value of `name`, compared case-insensitively (Go's `http.Header.Get`:
    /// spdystream puts lower-case names on the wire, kubelet reads `streamType`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.split('\0').next().unwrap_or(""))
    }

    /// Every pair, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

/// One SPDY/3.1 frame of the subset kubectl uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Opens stream `stream_id` (odd from a client) with `headers`.
    SynStream {
        /// The new stream's id.
        stream_id: u32,
        /// The stream this one is associated with (0 for none).
        associated_to: u32,
        /// Priority, 0 (highest) to 7.
        priority: u8,
        /// The sender sends nothing more on it.
        fin: bool,
        /// The receiver may not send on it.
        unidirectional: bool,
        /// The stream's headers (`streamType`, `port`, `requestID`, …).
        headers: Headers,
    },
    /// Accepts stream `stream_id`.
    SynReply {
        /// The accepted stream.
        stream_id: u32,
        /// The replier sends nothing on it.
        fin: bool,
        /// Reply headers (empty from kubelet and podgate).
        headers: Headers,
    },
    /// Aborts stream `stream_id` with a [`rst`] status.
    RstStream {
        /// The aborted stream.
        stream_id: u32,
        /// Why, one of [`rst`].
        status: u32,
    },
    /// Session settings: (flags, id, value) entries. Read and ignored.
    Settings {
        /// The frame's CLEAR_SETTINGS flag.
        clear: bool,
        /// The entries: flags, 24-bit id, value.
        entries: Vec<(u8, u32, u32)>,
    },
    /// A ping; the receiver echoes the id of its peer's pings.
    Ping {
        /// Odd from a client, even from a server.
        id: u32,
    },
    /// The sender accepts no streams after `last_good_stream_id`.
    GoAway {
        /// The last stream the sender acted on.
        last_good_stream_id: u32,
        /// Why, one of [`goaway`].
        status: u32,
    },
    /// More headers on an open stream. Read and ignored.
    Headers {
        /// The stream.
        stream_id: u32,
        /// The sender's last frame on the stream.
        fin: bool,
        /// The headers.
        headers: Headers,
    },
    /// Flow-control credit. Read and ignored: spdystream never sends it, so a peer honouring
    /// windows would stall kubectl after 64 KiB.
    WindowUpdate {
        /// The stream (0: the session).
        stream_id: u32,
        /// Credit in bytes.
        delta: u32,
    },
    /// Payload bytes on a stream; `fin` half-closes the sender's side.
    Data {
        /// The stream.
        stream_id: u32,
        /// The sender's last frame on the stream.
        fin: bool,
        /// The payload.
        data: Bytes,
    },
}

/// Why bytes are not a SPDY/3.1 session podgate accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpdyError {
    /// A control frame of another SPDY version.
    #[error("unsupported SPDY version {0}")]
    Version(u16),
    /// A frame longer than this codec accepts.
    #[error("SPDY {what} frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// DATA, or the control frame's kind.
        what: &'static str,
        /// The frame's length field.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A header block that inflates past [`MAX_HEADER_BLOCK`].
    #[error("SPDY header block exceeds {MAX_HEADER_BLOCK} bytes")]
    HeaderBlockTooLarge,
    /// A frame whose fields do not fit its length or its kind.
    #[error("malformed SPDY frame: {0}")]
    Malformed(String),
    /// The header compression stream is broken.
    #[error("SPDY header compression: {0}")]
    Compression(String),
}

/// The SPDY/3 header compression dictionary (SPDY/3 draft §2.6.10.1): the length-prefixed
/// words below, then the common values in [`DICTIONARY_TAIL`].
const DICTIONARY_WORDS: [&str; 65] = [
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
];

/// The unprefixed end of the SPDY/3 dictionary: status codes and phrases, dates, content
/// types and encodings.
const DICTIONARY_TAIL: &str = concat!(
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505",
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request",
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented",
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 ",
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,",
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=",
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.",
);

/// The dictionary's bytes, built once.
static DICTIONARY: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let mut out = Vec::with_capacity(1423);
    for word in DICTIONARY_WORDS {
        out.extend_from_slice(&(word.len() as u32).to_be_bytes());
        out.extend_from_slice(word.as_bytes());
    }
    out.extend_from_slice(DICTIONARY_TAIL.as_bytes());
    out
});

/// The SPDY/3 header dictionary (1,423 bytes; zlib dictionary id `0xe3c6a7c2`).
pub fn dictionary() -> &'static [u8] {
    &DICTIONARY
}

/// Turns a connection's bytes into frames; one per direction per session (it holds the
/// session's inflater).
pub struct FrameDecoder {
    buf: BytesMut,
    inflate: Decompress,
}

impl std::fmt::Debug for FrameDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameDecoder")
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// A decoder at the start of a session.
    pub fn new() -> Self {
        Self {
            buf: BytesMut::new(),
            inflate: Decompress::new(true),
        }
    }

    /// Appends bytes as they arrived. Call [`FrameDecoder::next_frame`] until it yields `None`
    /// before feeding more, so at most one unfinished frame stays buffered.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// How many bytes wait for the rest of their frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next whole frame, `None` if the buffered bytes end inside one. Frames of control
    /// types this codec does not know are skipped, as SPDY requires. An error leaves the
    /// session unusable (the header compression state is lost).
    pub fn next_frame(&mut self) -> Result<Option<Frame>, SpdyError> {
        loop {
            if self.buf.len() < FRAME_HEADER_LEN {
                return Ok(None);
            }
            let head = &self.buf[..FRAME_HEADER_LEN];
            let word = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
            let flags = head[4];
            let len = usize::from(head[5]) << 16 | usize::from(head[6]) << 8 | usize::from(head[7]);
            let control = word & 0x8000_0000 != 0;
            if control {
                let version = ((word >> 16) & 0x7fff) as u16;
                if version != VERSION {
                    return Err(SpdyError::Version(version));
                }
                if len > MAX_CONTROL_FRAME {
                    return Err(SpdyError::TooLarge {
                        what: control_name((word & 0xffff) as u16),
                        len,
                        max: MAX_CONTROL_FRAME,
                    });
                }
            } else if len > MAX_DATA_FRAME {
                return Err(SpdyError::TooLarge {
                    what: "DATA",
                    len,
                    max: MAX_DATA_FRAME,
                });
            }
            if self.buf.len() < FRAME_HEADER_LEN + len {
                // Room for the rest of this frame only; the length is bounded above.
                self.buf.reserve(FRAME_HEADER_LEN + len - self.buf.len());
                return Ok(None);
            }
            self.buf.advance(FRAME_HEADER_LEN);
            let payload = self.buf.split_to(len).freeze();
            if !control {
                return Ok(Some(Frame::Data {
                    stream_id: word & STREAM_ID_MASK,
                    fin: flags & FLAG_FIN != 0,
                    data: payload,
                }));
            }
            if let Some(frame) = self.control_frame((word & 0xffff) as u16, flags, payload)? {
                return Ok(Some(frame));
            }
        }
    }

    /// Parses one control frame's payload; `None` for a kind this codec skips.
    fn control_frame(
        &mut self,
        kind: u16,
        flags: u8,
        mut p: Bytes,
    ) -> Result<Option<Frame>, SpdyError> {
        let name = control_name(kind);
        let need = |p: &Bytes, n: usize| {
            if p.len() < n {
                Err(SpdyError::Malformed(format!(
                    "{name} payload of {} bytes, at least {n} needed",
                    p.len()
                )))
            } else {
                Ok(())
            }
        };
        let exact = |p: &Bytes, n: usize| {
            if p.len() != n {
                Err(SpdyError::Malformed(format!(
                    "{name} payload of {} bytes, {n} expected",
                    p.len()
                )))
            } else {
                Ok(())
            }
        };
        let fin = flags & FLAG_FIN != 0;
        let frame = match kind {
            kind::SYN_STREAM => {
                need(&p, 10)?;
                let stream_id = p.get_u32() & STREAM_ID_MASK;
                let associated_to = p.get_u32() & STREAM_ID_MASK;
                let priority = p.get_u8() >> 5;
                let _slot = p.get_u8();
                Frame::SynStream {
                    stream_id,
                    associated_to,
                    priority,
                    fin,
                    unidirectional: flags & FLAG_UNIDIRECTIONAL != 0,
                    headers: self.header_block(&p)?,
                }
            }
            kind::SYN_REPLY => {
                need(&p, 4)?;
                let stream_id = p.get_u32() & STREAM_ID_MASK;
                Frame::SynReply {
                    stream_id,
                    fin,
                    headers: self.header_block(&p)?,
                }
            }
            kind::HEADERS => {
                need(&p, 4)?;
                let stream_id = p.get_u32() & STREAM_ID_MASK;
                Frame::Headers {
                    stream_id,
                    fin,
                    headers: self.header_block(&p)?,
                }
            }
            kind::RST_STREAM => {
                exact(&p, 8)?;
                Frame::RstStream {
                    stream_id: p.get_u32() & STREAM_ID_MASK,
                    status: p.get_u32(),
                }
            }
            kind::SETTINGS => {
                need(&p, 4)?;
                let count = p.get_u32() as usize;
                if p.len() != count.saturating_mul(8) {
                    return Err(SpdyError::Malformed(format!(
                        "SETTINGS with {count} entries in {} bytes",
                        p.len()
                    )));
                }
                let entries = (0..count)
                    .map(|_| {
                        let word = p.get_u32();
                        ((word >> 24) as u8, word & 0x00ff_ffff, p.get_u32())
                    })
                    .collect();
                Frame::Settings {
                    clear: flags & FLAG_CLEAR_SETTINGS != 0,
                    entries,
                }
            }
            kind::PING => {
                exact(&p, 4)?;
                Frame::Ping { id: p.get_u32() }
            }
            kind::GOAWAY => {
                exact(&p, 8)?;
                Frame::GoAway {
                    last_good_stream_id: p.get_u32() & STREAM_ID_MASK,
                    status: p.get_u32(),
                }
            }
            kind::WINDOW_UPDATE => {
                exact(&p, 8)?;
                Frame::WindowUpdate {
                    stream_id: p.get_u32() & STREAM_ID_MASK,
                    delta: p.get_u32() & STREAM_ID_MASK,
                }
            }
            // NOOP (5, SPDY/2), CREDENTIAL (10, SPDY/3) and unknown kinds: skipped.
            _ => return Ok(None),
        };
        Ok(Some(frame))
    }

    /// Inflates and parses one header block with the session's inflater.
    fn header_block(&mut self, compressed: &[u8]) -> Result<Headers, SpdyError> {
        let raw = self.inflate_block(compressed)?;
        parse_header_block(&raw)
    }

    /// Inflates one sync-flushed block, at most [`MAX_HEADER_BLOCK`] bytes of output.
    fn inflate_block(&mut self, compressed: &[u8]) -> Result<Vec<u8>, SpdyError> {
        let mut out = Vec::with_capacity((compressed.len() * 4).clamp(256, MAX_HEADER_BLOCK + 1));
        let mut used = 0;
        loop {
            if out.len() == out.capacity() {
                if out.len() > MAX_HEADER_BLOCK {
                    return Err(SpdyError::HeaderBlockTooLarge);
                }
                let more = out.capacity().min(MAX_HEADER_BLOCK + 1 - out.len());
                out.reserve_exact(more);
            }
            let (in_before, out_before) = (self.inflate.total_in(), out.len());
            let status = match self.inflate.decompress_vec(
                &compressed[used..],
                &mut out,
                FlushDecompress::Sync,
            ) {
                Ok(status) => status,
                Err(e) if e.needs_dictionary().is_some() => {
                    used += (self.inflate.total_in() - in_before) as usize;
                    self.inflate
                        .set_dictionary(dictionary())
                        .map_err(|e| SpdyError::Compression(e.to_string()))?;
                    continue;
                }
                Err(e) => return Err(SpdyError::Compression(e.to_string())),
            };
            used += (self.inflate.total_in() - in_before) as usize;
            if out.len() > MAX_HEADER_BLOCK {
                return Err(SpdyError::HeaderBlockTooLarge);
            }
            let progressed = self.inflate.total_in() != in_before || out.len() != out_before;
            let output_room_left = out.len() < out.capacity();
            if (used == compressed.len() && output_room_left)
                || status == Status::StreamEnd
                || !progressed
            {
                if used != compressed.len() {
                    return Err(SpdyError::Compression(
                        "header block has bytes past the compressed data".into(),
                    ));
                }
                return Ok(out);
            }
        }
    }
}

/// The name of a control frame kind, for errors.
fn control_name(kind: u16) -> &'static str {
    match kind {
        kind::SYN_STREAM => "SYN_STREAM",
        kind::SYN_REPLY => "SYN_REPLY",
        kind::RST_STREAM => "RST_STREAM",
        kind::SETTINGS => "SETTINGS",
        kind::PING => "PING",
        kind::GOAWAY => "GOAWAY",
        kind::HEADERS => "HEADERS",
        kind::WINDOW_UPDATE => "WINDOW_UPDATE",
        _ => "control",
    }
}

/// Parses an inflated header block: a count, then length-prefixed names and values.
fn parse_header_block(mut raw: &[u8]) -> Result<Headers, SpdyError> {
    let malformed = |what: &str| SpdyError::Malformed(format!("header block: {what}"));
    let take = |raw: &mut &[u8], what: &str| -> Result<Vec<u8>, SpdyError> {
        if raw.len() < 4 {
            return Err(malformed(what));
        }
        let len = raw.get_u32() as usize;
        if raw.len() < len {
            return Err(malformed(what));
        }
        let (field, rest) = raw.split_at(len);
        *raw = rest;
        Ok(field.to_vec())
    };
    if raw.len() < 4 {
        return Err(malformed("no pair count"));
    }
    let count = raw.get_u32() as usize;
    // Each pair takes at least 8 bytes, so the count cannot ask for more than the block holds.
    if count > raw.len() / 8 {
        return Err(malformed("more pairs than bytes"));
    }
    let mut headers = Headers::default();
    for _ in 0..count {
        let name = take(&mut raw, "truncated name")?;
        let value = take(&mut raw, "truncated value")?;
        if name.is_empty() {
            return Err(malformed("empty name"));
        }
        let name = String::from_utf8(name).map_err(|_| malformed("name is not UTF-8"))?;
        let value = String::from_utf8(value).map_err(|_| malformed("value is not UTF-8"))?;
        headers.pairs.push((name.to_ascii_lowercase(), value));
    }
    if !raw.is_empty() {
        return Err(malformed("bytes after the last pair"));
    }
    Ok(headers)
}

/// Turns frames into bytes; one per direction per session (it holds the session's deflater).
pub struct FrameEncoder {
    deflate: Compress,
    dictionary_set: bool,
}

impl std::fmt::Debug for FrameEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameEncoder").finish_non_exhaustive()
    }
}

impl Default for FrameEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameEncoder {
    /// An encoder at the start of a session.
    pub fn new() -> Self {
        Self {
            deflate: Compress::new(Compression::default(), true),
            dictionary_set: false,
        }
    }

    /// Appends `frame`'s bytes to `out`. Fails for a payload SPDY cannot carry (over 16 MiB) or
    /// a header block over [`MAX_HEADER_BLOCK`], which the peer's decoder would refuse.
    pub fn encode(&mut self, frame: &Frame, out: &mut Vec<u8>) -> Result<(), SpdyError> {
        let fin = |on: bool| if on { FLAG_FIN } else { 0 };
        match frame {
            Frame::Data {
                stream_id,
                fin: last,
                data,
            } => {
                let head = data_frame_header(*stream_id, *last, data.len())?;
                out.extend_from_slice(&head);
                out.extend_from_slice(data);
            }
            Frame::SynStream {
                stream_id,
                associated_to,
                priority,
                fin: last,
                unidirectional,
                headers,
            } => {
                let mut p = Vec::new();
                p.extend_from_slice(&(stream_id & STREAM_ID_MASK).to_be_bytes());
                p.extend_from_slice(&(associated_to & STREAM_ID_MASK).to_be_bytes());
                p.push((priority & 0x07) << 5);
                p.push(0);
                self.header_block(headers, &mut p)?;
                let flags = fin(*last)
                    | if *unidirectional {
                        FLAG_UNIDIRECTIONAL
                    } else {
                        0
                    };
                control(out, kind::SYN_STREAM, flags, &p)?;
            }
            Frame::SynReply {
                stream_id,
                fin: last,
                headers,
            } => {
                let mut p = (stream_id & STREAM_ID_MASK).to_be_bytes().to_vec();
                self.header_block(headers, &mut p)?;
                control(out, kind::SYN_REPLY, fin(*last), &p)?;
            }
            Frame::Headers {
                stream_id,
                fin: last,
                headers,
            } => {
                let mut p = (stream_id & STREAM_ID_MASK).to_be_bytes().to_vec();
                self.header_block(headers, &mut p)?;
                control(out, kind::HEADERS, fin(*last), &p)?;
            }
            Frame::RstStream { stream_id, status } => {
                let mut p = (stream_id & STREAM_ID_MASK).to_be_bytes().to_vec();
                p.extend_from_slice(&status.to_be_bytes());
                control(out, kind::RST_STREAM, 0, &p)?;
            }
            Frame::Settings { clear, entries } => {
                let mut p = (entries.len() as u32).to_be_bytes().to_vec();
                for (flags, id, value) in entries {
                    p.extend_from_slice(
                        &(u32::from(*flags) << 24 | (id & 0x00ff_ffff)).to_be_bytes(),
                    );
                    p.extend_from_slice(&value.to_be_bytes());
                }
                control(
                    out,
                    kind::SETTINGS,
                    if *clear { FLAG_CLEAR_SETTINGS } else { 0 },
                    &p,
                )?;
            }
            Frame::Ping { id } => control(out, kind::PING, 0, &id.to_be_bytes())?,
            Frame::GoAway {
                last_good_stream_id,
                status,
            } => {
                let mut p = (last_good_stream_id & STREAM_ID_MASK)
                    .to_be_bytes()
                    .to_vec();
                p.extend_from_slice(&status.to_be_bytes());
                control(out, kind::GOAWAY, 0, &p)?;
            }
            Frame::WindowUpdate { stream_id, delta } => {
                let mut p = (stream_id & STREAM_ID_MASK).to_be_bytes().to_vec();
                p.extend_from_slice(&(delta & STREAM_ID_MASK).to_be_bytes());
                control(out, kind::WINDOW_UPDATE, 0, &p)?;
            }
        }
        Ok(())
    }

    /// Serialises and deflates `headers` onto `out`, ending with a sync flush.
    fn header_block(&mut self, headers: &Headers, out: &mut Vec<u8>) -> Result<(), SpdyError> {
        let mut raw = Vec::new();
        raw.extend_from_slice(&(headers.pairs.len() as u32).to_be_bytes());
        for (name, value) in &headers.pairs {
            let name = name.to_ascii_lowercase();
            raw.extend_from_slice(&(name.len() as u32).to_be_bytes());
            raw.extend_from_slice(name.as_bytes());
            raw.extend_from_slice(&(value.len() as u32).to_be_bytes());
            raw.extend_from_slice(value.as_bytes());
        }
        if raw.len() > MAX_HEADER_BLOCK {
            return Err(SpdyError::HeaderBlockTooLarge);
        }
        if !self.dictionary_set {
            self.deflate
                .set_dictionary(dictionary())
                .map_err(|e| SpdyError::Compression(e.to_string()))?;
            self.dictionary_set = true;
        }
        let mut used = 0;
        loop {
            out.reserve(raw.len() - used + 64);
            let before = self.deflate.total_in();
            self.deflate
                .compress_vec(&raw[used..], out, FlushCompress::Sync)
                .map_err(|e| SpdyError::Compression(e.to_string()))?;
            used += (self.deflate.total_in() - before) as usize;
            // Done once all input is in and the flush fitted (output room was left over).
            if used == raw.len() && out.len() < out.capacity() {
                return Ok(());
            }
        }
    }
}

/// The 8-byte header of a DATA frame carrying `len` bytes, for writers that send the payload
/// from their own buffer.
pub fn data_frame_header(stream_id: u32, fin: bool, len: usize) -> Result<[u8; 8], SpdyError> {
    if len > MAX_LENGTH_FIELD {
        return Err(SpdyError::TooLarge {
            what: "DATA",
            len,
            max: MAX_LENGTH_FIELD,
        });
    }
    let mut head = [0; 8];
    head[..4].copy_from_slice(&(stream_id & STREAM_ID_MASK).to_be_bytes());
    head[4] = if fin { FLAG_FIN } else { 0 };
    head[5..].copy_from_slice(&(len as u32).to_be_bytes()[1..]);
    Ok(head)
}

/// Appends a control frame of `kind` with `payload`.
fn control(out: &mut Vec<u8>, kind: u16, flags: u8, payload: &[u8]) -> Result<(), SpdyError> {
    if payload.len() > MAX_LENGTH_FIELD {
        return Err(SpdyError::TooLarge {
            what: control_name(kind),
            len: payload.len(),
            max: MAX_LENGTH_FIELD,
        });
    }
    out.extend_from_slice(&(0x8000 | VERSION).to_be_bytes());
    out.extend_from_slice(&kind.to_be_bytes());
    out.push(flags);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(payload);
    Ok(())
}

#[cfg(test)]
mod tests;
