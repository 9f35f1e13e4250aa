//! Pseudo-terminals for `tty: true` containers and `kubectl exec -t`: the command gets the
//! terminal's replica side as its standard streams and controlling terminal; the node keeps
//! the controller side, reads the terminal's output from it and writes keystrokes to it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use tokio::io::unix::AsyncFd;

/// The controller side of a pseudo-terminal, non-blocking, driven by tokio.
#[derive(Debug)]
pub(crate) struct PtyController {
    fd: AsyncFd<OwnedFd>,
}

/// A new pseudo-terminal: its controller, and the replica the command is given.
pub(crate) fn open() -> io::Result<(PtyController, OwnedFd)> {
    let mut controller: RawFd = -1;
    let mut replica: RawFd = -1;
    // SAFETY: both out-pointers are valid; the name, termios and size arguments may be null.
    let rc = unsafe {
        libc::openpty(
            &mut controller,
            &mut replica,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openpty returned two fresh descriptors that we now own.
    let (controller, replica) = unsafe {
        (
            OwnedFd::from_raw_fd(controller),
            OwnedFd::from_raw_fd(replica),
        )
    };
    for fd in [&controller, &replica] {
        // SAFETY: valid descriptors; FD_CLOEXEC keeps them out of every other child.
        if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: a valid descriptor.
    if unsafe { libc::fcntl(controller.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: an OwnedFd keeps its descriptor open, unchanged, until it is dropped with the
    // AsyncFd that owns it.
    let fd = unsafe { AsyncFd::register(controller) }.map_err(io::Error::from)?;
    Ok((PtyController { fd }, replica))
}

impl PtyController {
    /// Reads the terminal's output; `Ok(0)` once no process holds the replica any more.
    #[cfg(test)]
    pub(crate) async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut buf = tokio::io::ReadBuf::new(buf);
        std::future::poll_fn(|cx| self.poll_read(cx, &mut buf)).await?;
        Ok(buf.filled().len())
    }

    /// Polls for the terminal's output (end of file once no process holds the replica).
    pub(crate) fn poll_read(
        &self,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        use std::task::Poll;
        loop {
            let mut guard = match self.fd.poll_read_ready(cx) {
                Poll::Ready(Ok(g)) => g,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            let unfilled = buf.initialize_unfilled();
            let result = guard.try_io(|fd| {
                // SAFETY: `unfilled` is valid for its length.
                let n = unsafe {
                    libc::read(fd.as_raw_fd(), unfilled.as_mut_ptr().cast(), unfilled.len())
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match result {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                // Linux reports EIO on the controller once the last replica is closed.
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Poll::Ready(Ok(())),
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }

    /// Writes all of `data` as keystrokes.
    pub(crate) async fn write_all(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let mut guard = self.fd.writable().await?;
            // SAFETY: `data` is valid for `data.len()` bytes.
            let result = guard.try_io(|fd| {
                let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match result {
                Ok(Ok(n)) => data = &data[n..],
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }

    /// Sets the terminal's size (the kernel then signals SIGWINCH to its foreground group).
    pub(crate) fn resize(&self, width: u16, height: u16) -> io::Result<()> {
        let size = libc::winsize {
            ws_row: height,
            ws_col: width,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize from a valid pointer.
        if unsafe { libc::ioctl(self.fd.get_ref().as_raw_fd(), libc::TIOCSWINSZ, &size) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_terminal_echoes_and_reports_its_size() {
        let (controller, replica) = open().expect("openpty");
        controller.resize(100, 40).expect("resize");
        let mut size = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ writes one winsize to a valid pointer.
        assert_eq!(
            unsafe { libc::ioctl(replica.as_raw_fd(), libc::TIOCGWINSZ, &mut size) },
            0
        );
        assert_eq!((size.ws_col, size.ws_row), (100, 40));
        controller.write_all(b"hi\n").await.expect("write");
        let mut buf = [0u8; 64];
        let n = controller.read(&mut buf).await.expect("read");
        // The line discipline echoes what was typed, with a carriage return.
        assert!(buf[..n].starts_with(b"hi"), "{:?}", &buf[..n]);
        drop(replica);
        let mut rest = Vec::new();
        loop {
            let n = controller.read(&mut buf).await.expect("read");
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&buf[..n]);
        }
    }
}

/// A terminal's output as an `AsyncRead`, for the log pump.
#[derive(Debug, Clone)]
pub(crate) struct PtyOutput(pub(crate) std::sync::Arc<PtyController>);

impl tokio::io::AsyncRead for PtyOutput {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        self.0.poll_read(cx, buf)
    }
}
