//! What a running container offers exec and attach: the context to run commands in its
//! namespaces, its standard input, and its output as it is written.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio::sync::{Mutex, broadcast};

use crate::node::logs::Stream;
use crate::node::probe::ExecContext;
use crate::node::pty::PtyController;

/// How many output chunks an attached client may fall behind before it misses some (the
/// container is never slowed down by an attached client).
const OUTPUT_BACKLOG: usize = 256;

/// One running instance of a container, as exec and attach see it.
#[derive(Debug)]
pub(crate) struct LiveContainer {
    /// How to run a command inside it.
    pub(crate) exec: ExecContext,
    /// Its terminal, when the spec asks for `tty: true`.
    pub(crate) terminal: Option<Arc<PtyController>>,
    /// Its standard input, when the spec asks for `stdin: true`.
    pub(crate) stdin: Option<Arc<StdinPort>>,
    /// Its output as written, for attached clients.
    pub(crate) output: broadcast::Sender<(Stream, Bytes)>,
}

impl LiveContainer {
    /// A live container with no attached client yet.
    pub(crate) fn new(
        exec: ExecContext,
        terminal: Option<Arc<PtyController>>,
        stdin: Option<StdinPort>,
    ) -> Self {
        let stdin = stdin.map(Arc::new);
        Self {
            exec,
            terminal,
            stdin,
            output: broadcast::channel(OUTPUT_BACKLOG).0,
        }
    }

    /// A reader that passes `source` through and copies every chunk to attached clients.
    pub(crate) fn tee<R>(&self, stream: Stream, source: R) -> Tee<R> {
        Tee {
            source,
            stream,
            output: self.output.clone(),
        }
    }
}

/// Where a container's standard input goes.
#[derive(Debug)]
pub(crate) enum StdinSink {
    /// A pipe to the process.
    Pipe(tokio::process::ChildStdin),
    /// The container's terminal.
    Terminal(Arc<PtyController>),
}

/// A container's standard input, shared by the attach sessions that write to it.
#[derive(Debug)]
pub(crate) struct StdinPort {
    sink: Mutex<Option<StdinSink>>,
    /// `stdinOnce`: closed when the first attach session ends.
    once: bool,
    attached: AtomicBool,
}

impl StdinPort {
    /// A port writing to `sink`; with `once`, it closes after the first attach session.
    pub(crate) fn new(sink: StdinSink, once: bool) -> Self {
        Self {
            sink: Mutex::new(Some(sink)),
            once,
            attached: AtomicBool::new(false),
        }
    }

    /// Writes bytes a client typed; `false` once the input is closed.
    pub(crate) async fn write(&self, data: &[u8]) -> bool {
        let mut sink = self.sink.lock().await;
        let ok = match sink.as_mut() {
            Some(StdinSink::Pipe(p)) => p.write_all(data).await.is_ok(),
            Some(StdinSink::Terminal(t)) => t.write_all(data).await.is_ok(),
            None => false,
        };
        if !ok {
            *sink = None;
        }
        ok
    }

    /// Closes the input: the process reads end of file (a terminal gets the EOF character).
    pub(crate) async fn close(&self) {
        let mut sink = self.sink.lock().await;
        if let Some(StdinSink::Terminal(t)) = sink.as_ref() {
            let _ = t.write_all(&[4]).await;
        }
        *sink = None;
    }

    /// Marks an attach session begun.
    pub(crate) fn attach(&self) {
        self.attached.store(true, Ordering::Release);
    }

    /// An attach session ended: with `stdinOnce`, the input closes now.
    pub(crate) async fn detach(&self) {
        if self.once && self.attached.load(Ordering::Acquire) {
            self.close().await;
        }
    }
}

/// A reader that copies every chunk it reads to the attached clients.
#[derive(Debug)]
pub(crate) struct Tee<R> {
    source: R,
    stream: Stream,
    output: broadcast::Sender<(Stream, Bytes)>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Tee<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.source).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled
            && buf.filled().len() > before
            && self.output.receiver_count() > 0
        {
            let chunk = Bytes::copy_from_slice(&buf.filled()[before..]);
            // No receiver, or one that lags: the container is not held up for it.
            let _ = self.output.send((self.stream, chunk));
        }
        polled
    }
}
