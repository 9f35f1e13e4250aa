//! A SPDY client made of the codec, for tests that need frames kubectl would not send or
//! control over timing (an in-memory pipe and a paused clock).

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use crate::remotecommand::spdy::{Frame, FrameDecoder, FrameEncoder, Headers};

/// The client's end of an in-memory connection.
pub(crate) struct RawClient {
    io: DuplexStream,
    encoder: FrameEncoder,
    decoder: FrameDecoder,
}

impl RawClient {
    /// A connected pair: the client, and the server's end of the pipe. The pipe holds
    /// `buffer` bytes each way.
    pub(crate) fn pair(buffer: usize) -> (Self, DuplexStream) {
        let (client, server) = tokio::io::duplex(buffer);
        (
            Self {
                io: client,
                encoder: FrameEncoder::new(),
                decoder: FrameDecoder::new(),
            },
            server,
        )
    }

    /// Writes one frame.
    pub(crate) async fn send(&mut self, frame: Frame) {
        let mut bytes = Vec::new();
        self.encoder.encode(&frame, &mut bytes).unwrap();
        self.io.write_all(&bytes).await.unwrap();
    }

    /// Opens stream `id` with `headers` (name, value).
    pub(crate) async fn open(&mut self, id: u32, headers: &[(&str, &str)]) {
        let headers = headers
            .iter()
            .fold(Headers::new(), |h, (n, v)| h.with(n, v));
        self.send(Frame::SynStream {
            stream_id: id,
            associated_to: 0,
            priority: 0,
            fin: false,
            unidirectional: false,
            headers,
        })
        .await;
    }

    /// Sends bytes on stream `id`, with FIN if `fin`.
    pub(crate) async fn data(&mut self, id: u32, bytes: &[u8], fin: bool) {
        self.send(Frame::Data {
            stream_id: id,
            fin,
            data: Bytes::copy_from_slice(bytes),
        })
        .await;
    }

    /// The next frame from the server; `None` at EOF.
    pub(crate) async fn next(&mut self) -> Option<Frame> {
        let mut chunk = [0; 4096];
        loop {
            if let Some(frame) = self.decoder.next_frame().unwrap() {
                return Some(frame);
            }
            let n = self.io.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                return None;
            }
            self.decoder.feed(&chunk[..n]);
        }
    }

    /// Frames until (and with) the first that `stop` accepts; panics at EOF before it.
    pub(crate) async fn until(&mut self, stop: impl Fn(&Frame) -> bool) -> Vec<Frame> {
        let mut frames = Vec::new();
        loop {
            let frame = self.next().await.expect("a frame before EOF");
            let done = stop(&frame);
            frames.push(frame);
            if done {
                return frames;
            }
        }
    }

    /// Frames until EOF.
    pub(crate) async fn rest(&mut self) -> Vec<Frame> {
        let mut frames = Vec::new();
        while let Some(frame) = self.next().await {
            frames.push(frame);
        }
        frames
    }

    /// Half-closes the client's side of the pipe.
    pub(crate) async fn shutdown(&mut self) {
        self.io.shutdown().await.unwrap();
    }
}

/// The payload of every DATA frame for stream `id`, concatenated, and whether one had FIN.
pub(crate) fn stream_bytes(frames: &[Frame], id: u32) -> (Vec<u8>, bool) {
    let mut bytes = Vec::new();
    let mut fin = false;
    for frame in frames {
        if let Frame::Data {
            stream_id,
            fin: last,
            data,
        } = frame
            && *stream_id == id
        {
            bytes.extend_from_slice(data);
            fin |= *last;
        }
    }
    (bytes, fin)
}
