//! A program run on a pseudo-terminal of the test's own, as a user at a terminal runs it:
//! the test types keystrokes, reads the screen's bytes, and resizes the window.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::sync::{Arc, Mutex};

use crate::common::wait_for;

/// A child process whose stdin, stdout and stderr are a terminal the test controls.
pub(crate) struct Terminal {
    controller: File,
    child: Child,
    screen: Arc<Mutex<Vec<u8>>>,
}

fn set_size(fd: &impl AsRawFd, cols: u16, rows: u16) {
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from a valid pointer.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &size) };
    assert_eq!(rc, 0, "TIOCSWINSZ");
}

impl Terminal {
    /// Starts `cmd` on a new `cols`×`rows` terminal, as the leader of its own session.
    pub(crate) fn spawn(mut cmd: Command, cols: u16, rows: u16) -> Self {
        let (mut controller, mut replica) = (-1, -1);
        // SAFETY: valid out-pointers; the other arguments may be null.
        let rc = unsafe {
            libc::openpty(
                &mut controller,
                &mut replica,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty");
        // SAFETY: fresh descriptors from openpty, owned from here on.
        let (controller, replica) = unsafe {
            (
                OwnedFd::from_raw_fd(controller),
                OwnedFd::from_raw_fd(replica),
            )
        };
        set_size(&controller, cols, rows);
        let dup = || replica.try_clone().expect("dup replica");
        cmd.stdin(dup()).stdout(dup()).stderr(dup());
        // SAFETY: only async-signal-safe system calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn on a terminal");
        drop(replica);
        let controller = File::from(controller);
        let screen = Arc::new(Mutex::new(Vec::new()));
        let mut reader = controller.try_clone().expect("dup controller");
        let sink = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().expect("screen").extend_from_slice(&buf[..n]);
            }
        });
        Self {
            controller,
            child,
            screen,
        }
    }

    /// Types `keys`.
    pub(crate) fn type_keys(&mut self, keys: &str) {
        self.controller
            .write_all(keys.as_bytes())
            .expect("type keys");
    }

    /// Everything the program wrote so far.
    pub(crate) fn screen(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().expect("screen")).into_owned()
    }

    /// Waits until the screen shows `text`.
    pub(crate) fn wait_for_text(&self, text: &str) {
        let start = std::time::Instant::now();
        while !self.screen().contains(text) {
            assert!(
                start.elapsed() < crate::common::DEADLINE,
                "timed out waiting for {text:?} on the terminal; it shows {:?}",
                self.screen()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Resizes the window (the program gets SIGWINCH).
    pub(crate) fn resize(&self, cols: u16, rows: u16) {
        set_size(&self.controller, cols, rows);
    }

    /// Waits for the program to exit.
    pub(crate) fn wait(&mut self) -> ExitStatus {
        let child = &mut self.child;
        wait_for("the program on the terminal to exit", || {
            child.try_wait().ok().flatten()
        })
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
