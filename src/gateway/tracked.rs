//! A response body that reports when it ends: how many bytes went through and whether it
//! finished cleanly. Request durations and endpoint load are measured to the end of the body,
//! not to the response headers.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};

use crate::wire::body::{Body, BoxError};

/// Called once, when the body ends, errors, or is dropped unfinished: (bytes, finished cleanly).
pub type OnEnd = Box<dyn FnOnce(u64, bool) + Send>;

/// A body wrapper that calls [`OnEnd`] exactly once.
pub struct Tracked {
    inner: Body,
    bytes: u64,
    on_end: Option<OnEnd>,
}

impl Tracked {
    /// Wraps `inner`.
    pub fn new(inner: Body, on_end: OnEnd) -> Self {
        let mut t = Self {
            inner,
            bytes: 0,
            on_end: Some(on_end),
        };
        if t.inner.is_end_stream() {
            t.finish(true);
        }
        t
    }

    fn finish(&mut self, ok: bool) {
        if let Some(f) = self.on_end.take() {
            f(self.bytes, ok);
        }
    }
}

impl From<Tracked> for Body {
    fn from(t: Tracked) -> Body {
        http_body_util::BodyExt::boxed_unsync(t)
    }
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    this.bytes += d.len() as u64;
                }
                if this.inner.is_end_stream() {
                    this.finish(true);
                }
            }
            Poll::Ready(Some(Err(_))) => this.finish(false),
            Poll::Ready(None) => this.finish(true),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.finish(false);
    }
}
