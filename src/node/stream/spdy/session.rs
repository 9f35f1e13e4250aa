//! A server-side SPDY/3.1 session over any byte stream: the client opens streams, this side
//! replies, and both send DATA, FIN and RST on them.
//!
//! Two tasks per session. The reader decodes frames, hands new streams to the [`Acceptor`],
//! routes each DATA frame to its stream's bounded queue, and echoes PINGs. The writer owns
//! the encoder (its zlib stream must see the frames in wire order) and writes what every
//! [`SendStream`] and the reader queue for it.
//!
//! Back-pressure instead of flow control: spdystream neither sends nor honours
//! WINDOW_UPDATE, so the session never waits for credit. A stream whose consumer is slow
//! fills its queue of [`STREAM_QUEUE`] frames, and then the reader waits, so the connection
//! stops being read: memory stays bounded by the queues whatever the client sends. A
//! consumer that loses interest drops its [`RecvStream`], and further data for it is dropped.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use crate::remotecommand::spdy::{
    Frame, FrameDecoder, FrameEncoder, Headers, MAX_DATA_FRAME, goaway, rst,
};

/// Frames a stream's queue holds before the reader waits for its consumer.
pub(crate) const STREAM_QUEUE: usize = 8;
/// Frames queued for the writer before senders wait.
const WRITE_QUEUE: usize = 32;
/// New streams queued for the acceptor before the reader waits.
const ACCEPT_QUEUE: usize = 16;
/// The most streams a client may hold open at once; more are refused.
pub(crate) const MAX_OPEN_STREAMS: usize = 1024;
/// How much is read from the connection at a time.
const READ_CHUNK: usize = 32 * 1024;

/// What arrives on a stream from the client.
#[derive(Debug)]
enum Event {
    /// Payload bytes.
    Data(Bytes),
    /// The client half-closed its side.
    Fin,
}

/// A request to the writer task.
#[derive(Debug)]
enum WriteRequest {
    /// Write this frame.
    Frame(Frame),
    /// Flush, shut the write side down, and report back.
    Shutdown(oneshot::Sender<()>),
}

/// Options of a session.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionOptions {
    /// Close the session after this long without a frame read or written (spdystream's
    /// idle timer, which kubelet sets to 4 h for port-forward); `None` for never.
    pub(crate) idle_timeout: Option<Duration>,
}

/// A stream the client opened: its headers, and its two halves.
#[derive(Debug)]
pub(crate) struct IncomingStream {
    /// The stream's SYN_STREAM headers.
    pub(crate) headers: Headers,
    /// What the client sends on it.
    pub(crate) recv: RecvStream,
    /// What this side sends on it.
    pub(crate) send: SendStream,
}

/// The client's half of a stream.
#[derive(Debug)]
pub(crate) struct RecvStream {
    events: mpsc::Receiver<Event>,
    finished: bool,
}

/// Why a stream ended other than by the client's FIN: an RST_STREAM, or the connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StreamReset;

impl RecvStream {
    /// The next bytes the client sent; `None` after its FIN, `Err` once if the stream was
    /// reset or the connection ended first.
    pub(crate) async fn recv(&mut self) -> Option<Result<Bytes, StreamReset>> {
        if self.finished {
            return None;
        }
        match self.events.recv().await {
            Some(Event::Data(bytes)) => Some(Ok(bytes)),
            Some(Event::Fin) => {
                self.finished = true;
                None
            }
            None => {
                self.finished = true;
                Some(Err(StreamReset))
            }
        }
    }
}

/// This side's half of a stream.
#[derive(Debug, Clone)]
pub(crate) struct SendStream {
    id: u32,
    writer: mpsc::Sender<WriteRequest>,
}

impl SendStream {
    /// The stream's id.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// Accepts the stream with an empty SYN_REPLY (what kubelet sends).
    pub(crate) async fn reply(&self) -> io::Result<()> {
        self.frame(Frame::SynReply {
            stream_id: self.id,
            fin: false,
            headers: Headers::new(),
        })
        .await
    }

    /// Sends `data` as one DATA frame (as several of at most [`MAX_DATA_FRAME`] bytes if it is
    /// longer, the most the peer's decoder is sure to take).
    pub(crate) async fn send(&self, mut data: Bytes) -> io::Result<()> {
        loop {
            let piece = data.split_to(data.len().min(MAX_DATA_FRAME));
            self.frame(Frame::Data {
                stream_id: self.id,
                fin: false,
                data: piece,
            })
            .await?;
            if data.is_empty() {
                return Ok(());
            }
        }
    }

    /// Half-closes this side: an empty DATA frame with FIN.
    pub(crate) async fn finish(&self) -> io::Result<()> {
        self.frame(Frame::Data {
            stream_id: self.id,
            fin: true,
            data: Bytes::new(),
        })
        .await
    }

    /// Aborts the stream with RST_STREAM `status` (one of [`rst`]).
    pub(crate) async fn reset(&self, status: u32) -> io::Result<()> {
        self.frame(Frame::RstStream {
            stream_id: self.id,
            status,
        })
        .await
    }

    /// Queues one frame for the writer.
    async fn frame(&self, frame: Frame) -> io::Result<()> {
        self.writer
            .send(WriteRequest::Frame(frame))
            .await
            .map_err(|_| connection_closed())
    }
}

/// The error of a send on a session whose connection is gone.
fn connection_closed() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "SPDY connection closed")
}

/// Where the client's new streams arrive.
#[derive(Debug)]
pub(crate) struct Acceptor {
    incoming: mpsc::Receiver<IncomingStream>,
}

impl Acceptor {
    /// The next stream the client opened; `None` once the connection has ended.
    pub(crate) async fn accept(&mut self) -> Option<IncomingStream> {
        self.incoming.recv().await
    }
}

/// The session as a whole: its end, and the way to close it. Dropping it stops both tasks.
#[derive(Debug)]
pub(crate) struct Session {
    writer: mpsc::Sender<WriteRequest>,
    reader_done: CancellationToken,
    last_stream: Arc<AtomicU32>,
    _reader: AbortOnDropHandle<()>,
    _writer: AbortOnDropHandle<()>,
}

impl Session {
    /// Starts a session on `io`, whose HTTP upgrade is done.
    pub(crate) fn start<IO>(io: IO, options: SessionOptions) -> (Acceptor, Session)
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (read, write) = tokio::io::split(io);
        let (writer_tx, writer_rx) = mpsc::channel(WRITE_QUEUE);
        let (accept_tx, accept_rx) = mpsc::channel(ACCEPT_QUEUE);
        let activity = Arc::new(Activity::new());
        let reader_done = CancellationToken::new();
        let last_stream = Arc::new(AtomicU32::new(0));
        let writer = tokio::spawn(write_frames(write, writer_rx, activity.clone()));
        let reader = tokio::spawn(
            Reader {
                writer: writer_tx.clone(),
                accept: accept_tx,
                streams: HashMap::new(),
                activity,
                idle_timeout: options.idle_timeout,
                last_stream: last_stream.clone(),
                going_away: false,
            }
            .run(read, reader_done.clone()),
        );
        (
            Acceptor {
                incoming: accept_rx,
            },
            Session {
                writer: writer_tx,
                reader_done,
                last_stream,
                _reader: AbortOnDropHandle::new(reader),
                _writer: AbortOnDropHandle::new(writer),
            },
        )
    }

    /// Resolves once the client's side has ended (EOF, a broken connection, a protocol
    /// error, or the idle timeout).
    pub(crate) async fn client_gone(&self) {
        self.reader_done.cancelled().await
    }

    /// Ends the session cleanly: GOAWAY(OK) after everything queued, then the write side is
    /// shut down, then up to `linger` for the client to close its side (closing a socket
    /// with unread input makes the kernel send RST, which can destroy what the client has
    /// not read yet).
    pub(crate) async fn close(self, linger: Duration) {
        let goaway = Frame::GoAway {
            last_good_stream_id: self.last_stream.load(Ordering::Relaxed),
            status: goaway::OK,
        };
        let flush_and_shut = async {
            if self.writer.send(WriteRequest::Frame(goaway)).await.is_ok() {
                let (done_tx, done_rx) = oneshot::channel();
                if self
                    .writer
                    .send(WriteRequest::Shutdown(done_tx))
                    .await
                    .is_ok()
                {
                    let _ = done_rx.await;
                }
            }
        };
        // A client that stopped reading cannot hold the session open.
        let _ = tokio::time::timeout(linger, flush_and_shut).await;
        let _ = tokio::time::timeout(linger, self.reader_done.cancelled()).await;
    }
}

/// When a frame was last read or written, for the idle timeout.
#[derive(Debug)]
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    /// Activity now.
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    /// Notes a frame read or written.
    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// When the session goes idle unless something happens before.
    fn idle_at(&self, timeout: Duration) -> Instant {
        self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed)) + timeout
    }
}

/// The writer task: encodes queued frames in order and writes them, flushing whenever the
/// queue runs empty. Ends on shutdown, when every sender is gone, or on a write error.
async fn write_frames<W>(
    mut write: W,
    mut requests: mpsc::Receiver<WriteRequest>,
    activity: Arc<Activity>,
) where
    W: AsyncWrite + Unpin,
{
    let mut encoder = FrameEncoder::new();
    let mut buf = Vec::with_capacity(READ_CHUNK + 64);
    while let Some(request) = requests.recv().await {
        match request {
            WriteRequest::Frame(frame) => {
                buf.clear();
                if let Err(e) = encoder.encode(&frame, &mut buf) {
                    tracing::warn!(error = %e, "SPDY frame not encodable; closing the session");
                    return;
                }
                if write.write_all(&buf).await.is_err() {
                    return;
                }
                activity.touch();
                if requests.is_empty() && write.flush().await.is_err() {
                    return;
                }
            }
            WriteRequest::Shutdown(done) => {
                let _ = write.flush().await;
                let _ = write.shutdown().await;
                let _ = done.send(());
                return;
            }
        }
    }
}

/// The reader task's state.
struct Reader {
    writer: mpsc::Sender<WriteRequest>,
    accept: mpsc::Sender<IncomingStream>,
    streams: HashMap<u32, mpsc::Sender<Event>>,
    activity: Arc<Activity>,
    idle_timeout: Option<Duration>,
    last_stream: Arc<AtomicU32>,
    going_away: bool,
}

impl Reader {
    /// Reads and dispatches frames until the connection ends, then tells the session.
    async fn run<R>(mut self, mut read: R, done: CancellationToken)
    where
        R: AsyncRead + Unpin,
    {
        let _done = done.drop_guard();
        let mut decoder = FrameDecoder::new();
        let mut chunk = vec![0; READ_CHUNK];
        loop {
            let n = match self.read_some(&mut read, &mut chunk).await {
                Some(Ok(0)) | Some(Err(_)) => return,
                Some(Ok(n)) => n,
                None => {
                    tracing::debug!("SPDY session idle; closing it");
                    return;
                }
            };
            decoder.feed(&chunk[..n]);
            loop {
                match decoder.next_frame() {
                    Ok(Some(frame)) => {
                        self.activity.touch();
                        if !self.dispatch(frame).await {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!(error = %e, "SPDY protocol error; closing the session");
                        let _ = self
                            .writer
                            .send(WriteRequest::Frame(Frame::GoAway {
                                last_good_stream_id: self.last_stream.load(Ordering::Relaxed),
                                status: goaway::PROTOCOL_ERROR,
                            }))
                            .await;
                        return;
                    }
                }
            }
        }
    }

    /// One read, bounded by the idle timeout; `None` when the session went idle.
    async fn read_some<R>(&self, read: &mut R, chunk: &mut [u8]) -> Option<io::Result<usize>>
    where
        R: AsyncRead + Unpin,
    {
        let Some(timeout) = self.idle_timeout else {
            return Some(read.read(chunk).await);
        };
        loop {
            // Writes count as activity too, so the deadline is looked up again when it passes.
            let deadline = self.activity.idle_at(timeout);
            match tokio::time::timeout_at(deadline, read.read(&mut *chunk)).await {
                Ok(result) => return Some(result),
                Err(_) if self.activity.idle_at(timeout) <= Instant::now() => return None,
                Err(_) => continue,
            }
        }
    }

    /// Acts on one frame; `false` when the session cannot go on.
    async fn dispatch(&mut self, frame: Frame) -> bool {
        match frame {
            Frame::SynStream {
                stream_id,
                fin,
                headers,
                ..
            } => self.open(stream_id, fin, headers).await,
            Frame::Data {
                stream_id,
                fin,
                data,
            } => {
                self.deliver(stream_id, data, fin).await;
                true
            }
            Frame::RstStream { stream_id, .. } => {
                // Dropping the queue's sender tells the consumer the stream was reset.
                self.streams.remove(&stream_id);
                true
            }
            Frame::Ping { id } => {
                // Echo the client's pings (odd ids); an even id would answer a ping of ours.
                if !id.is_multiple_of(2) {
                    return self.queue(Frame::Ping { id }).await;
                }
                true
            }
            Frame::GoAway { .. } => {
                self.going_away = true;
                true
            }
            // SETTINGS, WINDOW_UPDATE (no flow control: see the module doc), SYN_REPLY and
            // HEADERS (nothing of this side's needs them).
            _ => true,
        }
    }

    /// Registers a stream the client opened and hands it to the acceptor.
    async fn open(&mut self, stream_id: u32, fin: bool, headers: Headers) -> bool {
        let refuse = |status| Frame::RstStream { stream_id, status };
        if stream_id.is_multiple_of(2) {
            return self.queue(refuse(rst::PROTOCOL_ERROR)).await;
        }
        if self.streams.contains_key(&stream_id) {
            return self.queue(refuse(rst::STREAM_IN_USE)).await;
        }
        // Streams whose consumer went away free their place.
        self.streams.retain(|_, queue| !queue.is_closed());
        if self.going_away || self.streams.len() >= MAX_OPEN_STREAMS {
            return self.queue(refuse(rst::REFUSED_STREAM)).await;
        }
        let (events_tx, events_rx) = mpsc::channel(STREAM_QUEUE);
        if fin {
            let _ = events_tx.try_send(Event::Fin);
        } else {
            self.streams.insert(stream_id, events_tx);
        }
        self.last_stream.fetch_max(stream_id, Ordering::Relaxed);
        let stream = IncomingStream {
            headers,
            recv: RecvStream {
                events: events_rx,
                finished: false,
            },
            send: SendStream {
                id: stream_id,
                writer: self.writer.clone(),
            },
        };
        if self.accept.send(stream).await.is_err() {
            // Nobody accepts streams any more.
            self.streams.remove(&stream_id);
            return self.queue(refuse(rst::REFUSED_STREAM)).await;
        }
        true
    }

    /// Puts a DATA frame's payload (and its FIN) on its stream's queue, waiting while the
    /// queue is full. Data for a stream nobody reads, or that is not open, is dropped.
    async fn deliver(&mut self, stream_id: u32, data: Bytes, fin: bool) {
        let Some(queue) = self.streams.get(&stream_id) else {
            return;
        };
        let mut delivered = data.is_empty() || queue.send(Event::Data(data)).await.is_ok();
        if delivered && fin {
            delivered = queue.send(Event::Fin).await.is_ok();
        }
        if fin || !delivered {
            self.streams.remove(&stream_id);
        }
    }

    /// Queues a frame of the reader's own (a PING echo, an RST); `false` once the writer is gone.
    async fn queue(&self, frame: Frame) -> bool {
        self.writer.send(WriteRequest::Frame(frame)).await.is_ok()
    }
}
