//! Container logs on disk, in the CRI log format, with size-based rotation; and the reader
//! behind `kubectl logs` (`tailLines`, `sinceSeconds`/`sinceTime`, `timestamps`,
//! `limitBytes`, `follow`).
//!
//! Each container instance (one per restart) writes `<dir>/<restartCount>.log`; each line is
//! `<RFC3339Nano time> <stdout|stderr> <F|P> <text>` as containerd writes it, so timestamps and
//! `since` filters work per line. When the file would grow past the size limit it is renamed
//! to `<restartCount>.log.<n>` and a new file is started; only the newest `max_files` files
//! are kept (kubelet: `containerLogMaxSize` 10Mi, `containerLogMaxFiles` 5).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use k8s_openapi::jiff::Timestamp;
use parking_lot::Mutex;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncSeekExt, BufReader};
use tokio::sync::{mpsc, watch};

/// Lines longer than this are split into partial (`P`) records, as containerd does.
pub const MAX_LINE: usize = 16 * 1024;

/// Size and count limits of one container instance's log files.
#[derive(Debug, Clone, Copy)]
pub struct LogLimits {
    /// Rotate when the current file would grow past this many bytes.
    pub max_bytes: u64,
    /// How many files (current + rotated) to keep.
    pub max_files: usize,
}

impl Default for LogLimits {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            max_files: 5,
        }
    }
}

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The process's standard output.
    Stdout,
    /// The process's standard error.
    Stderr,
}

impl Stream {
    fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// The log of one container instance: a writer for the supervisor and a source for readers.
#[derive(Debug)]
pub struct ContainerLog {
    dir: PathBuf,
    base: String,
    limits: LogLimits,
    writer: Mutex<Option<Writer>>,
    closed: AtomicBool,
    progress: watch::Sender<u64>,
}

#[derive(Debug)]
struct Writer {
    file: File,
    size: u64,
    next_seq: u64,
}

impl ContainerLog {
    /// Starts a new, empty log `<dir>/<restart>.log` (an older file of that name is replaced).
    pub fn create(dir: &Path, restart: i32, limits: LogLimits) -> io::Result<Arc<Self>> {
        fs::create_dir_all(dir)?;
        let base = format!("{restart}.log");
        for old in rotated_files(dir, &base) {
            let _ = fs::remove_file(old.1);
        }
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(dir.join(&base))?;
        Ok(Arc::new(Self {
            dir: dir.to_path_buf(),
            base,
            limits,
            writer: Mutex::new(Some(Writer {
                file,
                size: 0,
                next_seq: 1,
            })),
            closed: AtomicBool::new(false),
            progress: watch::channel(0).0,
        }))
    }

    /// The finished log of an earlier instance (e.g. from before podgate restarted), read-only.
    pub fn existing(dir: &Path, restart: i32) -> Arc<Self> {
        Arc::new(Self {
            dir: dir.to_path_buf(),
            base: format!("{restart}.log"),
            limits: LogLimits::default(),
            writer: Mutex::new(None),
            closed: AtomicBool::new(true),
            progress: watch::channel(0).0,
        })
    }

    /// Whether any file of this log exists on disk.
    pub fn exists(&self) -> bool {
        !self.files().is_empty()
    }

    /// Appends one record; `partial` marks a piece of a longer line (`P`).
    pub fn write_record(&self, stream: Stream, text: &[u8], partial: bool) -> io::Result<()> {
        let mut line = format!(
            "{:.9} {} {} ",
            Timestamp::now(),
            stream.as_str(),
            if partial { "P" } else { "F" }
        )
        .into_bytes();
        line.extend_from_slice(text);
        line.push(b'\n');
        {
            let mut guard = self.writer.lock();
            let Some(w) = guard.as_mut() else {
                return Ok(());
            };
            if w.size > 0 && w.size + line.len() as u64 > self.limits.max_bytes {
                self.rotate(w)?;
            }
            w.file.write_all(&line)?;
            w.size += line.len() as u64;
        }
        self.progress.send_modify(|n| *n += 1);
        Ok(())
    }

    fn rotate(&self, w: &mut Writer) -> io::Result<()> {
        let current = self.dir.join(&self.base);
        let seq = w.next_seq.max(
            rotated_files(&self.dir, &self.base)
                .last()
                .map_or(1, |(n, _)| n + 1),
        );
        fs::rename(&current, self.dir.join(format!("{}.{seq}", self.base)))?;
        w.next_seq = seq + 1;
        let keep = self.limits.max_files.saturating_sub(1);
        let rotated = rotated_files(&self.dir, &self.base);
        for (_, old) in rotated.iter().take(rotated.len().saturating_sub(keep)) {
            let _ = fs::remove_file(old);
        }
        w.file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&current)?;
        w.size = 0;
        Ok(())
    }

    /// Marks the instance finished: followers stop at the end of the file.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if let Some(mut w) = self.writer.lock().take() {
            let _ = w.file.flush();
        }
        self.progress.send_modify(|n| *n += 1);
    }

    /// Whether the instance has finished writing.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// The log's files, oldest first: rotated files, then the current one.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = rotated_files(&self.dir, &self.base)
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        let current = self.dir.join(&self.base);
        if current.exists() {
            files.push(current);
        }
        files
    }

    /// Sends the copy of stdout or stderr of a process into this log until end of file.
    pub async fn pump(self: Arc<Self>, stream: Stream, source: impl AsyncRead + Unpin) {
        let mut reader = BufReader::with_capacity(MAX_LINE, source);
        let mut line = Vec::with_capacity(256);
        while let Ok(buf) = reader.fill_buf().await {
            if buf.is_empty() {
                if !line.is_empty() {
                    let _ = self.write_record(stream, &line, false);
                }
                break;
            }
            let room = MAX_LINE - line.len();
            let window = &buf[..buf.len().min(room)];
            match window.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    line.extend_from_slice(&window[..i]);
                    reader.consume(i + 1);
                    let _ = self.write_record(stream, &line, false);
                    line.clear();
                }
                None => {
                    let n = window.len();
                    line.extend_from_slice(window);
                    reader.consume(n);
                    if line.len() >= MAX_LINE {
                        let _ = self.write_record(stream, &line, true);
                        line.clear();
                    }
                }
            }
        }
    }
}

/// `(sequence, path)` of the rotated files of `base` in `dir`, oldest first.
fn rotated_files(dir: &Path, base: &str) -> Vec<(u64, PathBuf)> {
    let prefix = format!("{base}.");
    let mut out: Vec<(u64, PathBuf)> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let seq = name.strip_prefix(&prefix)?.parse::<u64>().ok()?;
            Some((seq, e.path()))
        })
        .collect();
    out.sort();
    out
}

/// What a reader asks for (the kubelet's `PodLogOptions`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogOptions {
    /// Keep streaming until the container instance ends.
    pub follow: bool,
    /// Only the last N records.
    pub tail_lines: Option<u64>,
    /// Only records at or after this time.
    pub since: Option<Timestamp>,
    /// Prefix each line with its RFC3339Nano time.
    pub timestamps: bool,
    /// Stop after this many bytes of output.
    pub limit_bytes: Option<u64>,
    /// Only this stream (`stream=Stdout|Stderr`); both when `None`.
    pub stream: Option<Stream>,
}

/// One parsed CRI log record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// When the line was written.
    pub time: Timestamp,
    /// Which stream it came from.
    pub stream: Stream,
    /// Whether more of the same line follows in the next record.
    pub partial: bool,
    /// The text, without the newline.
    pub text: Vec<u8>,
}

/// Parses `<time> <stream> <tag> <text>`; `None` for a malformed line.
pub fn parse_record(line: &[u8]) -> Option<Record> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let mut parts = line.splitn(4, |&b| b == b' ');
    let time = std::str::from_utf8(parts.next()?)
        .ok()?
        .parse::<Timestamp>()
        .ok()?;
    let stream = match parts.next()? {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        _ => return None,
    };
    let tag = parts.next()?;
    let partial = tag.split(|&b| b == b':').any(|t| t == b"P");
    let text = parts.next().unwrap_or_default().to_vec();
    Some(Record {
        time,
        stream,
        partial,
        text,
    })
}

/// Formats one record for output, as the kubelet does.
fn render(record: &Record, timestamps: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(record.text.len() + 40);
    if timestamps {
        out.extend_from_slice(format!("{:.9} ", record.time).as_bytes());
    }
    out.extend_from_slice(&record.text);
    if !record.partial {
        out.push(b'\n');
    }
    out
}

/// Applies the filters and the byte limit while emitting records.
struct Emitter {
    opts: LogOptions,
    sent: u64,
    tx: mpsc::Sender<io::Result<Bytes>>,
}

impl Emitter {
    fn wanted(&self, r: &Record) -> bool {
        self.opts.since.is_none_or(|since| r.time >= since)
            && self.opts.stream.is_none_or(|s| s == r.stream)
    }

    /// Sends a record; `false` when the reader should stop (limit reached or client gone).
    async fn emit(&mut self, r: &Record) -> bool {
        if !self.wanted(r) {
            return true;
        }
        let mut bytes = render(r, self.opts.timestamps);
        if let Some(limit) = self.opts.limit_bytes {
            let left = limit.saturating_sub(self.sent);
            if (bytes.len() as u64) >= left {
                bytes.truncate(left as usize);
                if !bytes.is_empty() {
                    let _ = self.tx.send(Ok(Bytes::from(bytes))).await;
                }
                return false;
            }
        }
        self.sent += bytes.len() as u64;
        self.tx.send(Ok(Bytes::from(bytes))).await.is_ok()
    }
}

/// Streams `log` to `tx` as `opts` asks; returns when done, when the limit is reached or
/// when the receiver is dropped.
pub async fn read(log: Arc<ContainerLog>, opts: LogOptions, tx: mpsc::Sender<io::Result<Bytes>>) {
    let mut em = Emitter {
        opts: opts.clone(),
        sent: 0,
        tx,
    };
    if opts.limit_bytes == Some(0) {
        return;
    }
    let mut progress = log.progress.subscribe();
    progress.borrow_and_update();
    let files = log.files();

    // Everything written so far.
    let mut tail: std::collections::VecDeque<Record> = Default::default();
    let mut last: Option<(File, u64)> = None;
    for (i, path) in files.iter().enumerate() {
        let Ok(file) = File::open(path) else { continue };
        let keep = if i + 1 == files.len() {
            file.try_clone().ok()
        } else {
            None
        };
        let mut reader = BufReader::new(tokio::fs::File::from_std(file));
        let mut buf = Vec::new();
        let mut offset = 0u64;
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf).await {
                Ok(0) | Err(_) => break,
                // A record still being written: leave it for the follow loop.
                Ok(_) if buf.last() != Some(&b'\n') => break,
                Ok(n) => offset += n as u64,
            }
            let Some(record) = parse_record(&buf) else {
                continue;
            };
            match opts.tail_lines {
                Some(n) => {
                    if n == 0 {
                        continue;
                    }
                    if tail.len() as u64 >= n {
                        tail.pop_front();
                    }
                    tail.push_back(record);
                }
                None => {
                    if !em.emit(&record).await {
                        return;
                    }
                }
            }
        }
        if let Some(file) = keep {
            last = Some((file, offset));
        }
    }
    for record in tail {
        if !em.emit(&record).await {
            return;
        }
    }
    if !opts.follow {
        return;
    }

    // Follow: the file we stopped in, then the files that come after it when it is rotated.
    let mut current = last.map(|(file, offset)| {
        let ino = file.metadata().map(|m| m.ino()).unwrap_or(0);
        (tokio::fs::File::from_std(file), offset, ino)
    });
    let mut pending: Vec<u8> = Vec::new();
    let mut final_pass = false;
    loop {
        progress.borrow_and_update();
        if let Some((file, offset, _)) = current.as_mut() {
            if file.seek(io::SeekFrom::Start(*offset)).await.is_err() {
                return;
            }
            let mut chunk = Vec::new();
            if let Ok(n) = file.read_to_end(&mut chunk).await {
                *offset += n as u64;
                pending.extend_from_slice(&chunk);
                while let Some(i) = pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=i).collect();
                    if let Some(record) = parse_record(&line)
                        && !em.emit(&record).await
                    {
                        return;
                    }
                }
            }
        }
        let current_ino = fs::metadata(log.dir.join(&log.base)).map(|m| m.ino()).ok();
        let ours = current.as_ref().map(|c| c.2);
        if current_ino.is_some() && ours != current_ino {
            // Our file was rotated (or we had none): continue with the next file in order.
            let files = log.files();
            let position = files
                .iter()
                .position(|p| fs::metadata(p).map(|m| m.ino()).ok() == ours);
            let next = match position {
                Some(i) => files.get(i + 1),
                None => files.first(),
            };
            if let Some(path) = next
                && let Ok(file) = File::open(path)
            {
                let ino = file.metadata().map(|m| m.ino()).unwrap_or(0);
                current = Some((tokio::fs::File::from_std(file), 0, ino));
                pending.clear();
                continue;
            }
        }
        if log.is_closed() {
            if final_pass {
                return;
            }
            final_pass = true;
            continue;
        }
        tokio::select! {
            changed = progress.changed() => if changed.is_err() { return },
            _ = em.tx.closed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(log: Arc<ContainerLog>, opts: LogOptions) -> String {
        let (tx, mut rx) = mpsc::channel(8);
        let task = tokio::spawn(read(log, opts, tx));
        let mut out = Vec::new();
        while let Some(chunk) = rx.recv().await {
            out.extend_from_slice(&chunk.expect("chunk"));
        }
        task.await.expect("reader");
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn parses_cri_records() {
        let r = parse_record(b"2016-10-06T00:17:09.669794202Z stdout F log content 1\n")
            .expect("record");
        assert_eq!(r.stream, Stream::Stdout);
        assert!(!r.partial);
        assert_eq!(r.text, b"log content 1");
        let p = parse_record(b"2016-10-06T00:17:09.669794203Z stderr P part").expect("record");
        assert!(p.partial);
        assert_eq!(p.stream, Stream::Stderr);
        let empty = parse_record(b"2016-10-06T00:17:09.669794203Z stdout F \n").expect("record");
        assert!(empty.text.is_empty());
        assert_eq!(parse_record(b"garbage"), None);
        assert_eq!(parse_record(b"2016-10-06T00:17:09Z stdin F x"), None);
        assert_eq!(format!("{:.9}", r.time), "2016-10-06T00:17:09.669794202Z");
    }

    #[tokio::test]
    async fn tail_timestamps_limit_and_stream_filters() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = ContainerLog::create(dir.path(), 0, LogLimits::default()).expect("log");
        for i in 1..=5 {
            log.write_record(Stream::Stdout, format!("line {i}").as_bytes(), false)
                .expect("write");
        }
        log.write_record(Stream::Stderr, b"oops", false)
            .expect("write");
        log.close();

        let all = collect(log.clone(), LogOptions::default()).await;
        assert_eq!(all, "line 1\nline 2\nline 3\nline 4\nline 5\noops\n");
        let tail = collect(
            log.clone(),
            LogOptions {
                tail_lines: Some(2),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(tail, "line 5\noops\n");
        let none = collect(
            log.clone(),
            LogOptions {
                tail_lines: Some(0),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(none, "");
        let limited = collect(
            log.clone(),
            LogOptions {
                limit_bytes: Some(10),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(limited, "line 1\nlin");
        let stderr = collect(
            log.clone(),
            LogOptions {
                stream: Some(Stream::Stderr),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(stderr, "oops\n");
        let stamped = collect(
            log.clone(),
            LogOptions {
                timestamps: true,
                tail_lines: Some(1),
                ..Default::default()
            },
        )
        .await;
        let (ts, text) = stamped.split_once(' ').expect("timestamp prefix");
        assert_eq!(text, "oops\n");
        assert!(
            ts.ends_with('Z') && ts.len() == 30,
            "fixed nanosecond timestamp: {ts}"
        );
        let future = Timestamp::now() + k8s_openapi::jiff::SignedDuration::from_secs(60);
        let since = collect(
            log.clone(),
            LogOptions {
                since: Some(future),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(since, "");
    }

    #[tokio::test]
    async fn rotation_keeps_the_newest_files_and_reads_them_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let limits = LogLimits {
            max_bytes: 200,
            max_files: 3,
        };
        let log = ContainerLog::create(dir.path(), 2, limits).expect("log");
        for i in 0..40 {
            log.write_record(Stream::Stdout, format!("record {i:02}").as_bytes(), false)
                .expect("write");
        }
        log.close();
        let files = log.files();
        assert_eq!(files.len(), 3, "{files:?}");
        for f in &files {
            assert!(fs::metadata(f).expect("meta").len() <= 200);
        }
        assert!(files[2].ends_with("2.log"));
        let out = collect(log.clone(), LogOptions::default()).await;
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.last(), Some(&"record 39"));
        let nums: Vec<u32> = lines.iter().map(|l| l[7..].parse().expect("num")).collect();
        assert!(
            nums.windows(2).all(|w| w[1] == w[0] + 1),
            "contiguous, in order: {nums:?}"
        );
        assert!(nums[0] > 0, "oldest records were dropped");
    }

    #[tokio::test]
    async fn follow_streams_new_lines_across_rotation_until_closed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = ContainerLog::create(
            dir.path(),
            0,
            LogLimits {
                max_bytes: 120,
                max_files: 5,
            },
        )
        .expect("log");
        log.write_record(Stream::Stdout, b"before", false)
            .expect("write");
        let (tx, mut rx) = mpsc::channel(64);
        let reader = tokio::spawn(read(
            log.clone(),
            LogOptions {
                follow: true,
                ..Default::default()
            },
            tx,
        ));
        let first = rx.recv().await.expect("first").expect("ok");
        assert_eq!(&first[..], b"before\n");
        for i in 0..10 {
            log.write_record(Stream::Stdout, format!("after {i}").as_bytes(), false)
                .expect("write");
            tokio::task::yield_now().await;
        }
        log.close();
        let mut rest = Vec::new();
        while let Some(chunk) = rx.recv().await {
            rest.extend_from_slice(&chunk.expect("chunk"));
        }
        reader.await.expect("reader ends after close");
        let want: String = (0..10).map(|i| format!("after {i}\n")).collect();
        assert_eq!(String::from_utf8(rest).expect("utf8"), want);
    }

    #[tokio::test]
    async fn pump_splits_long_lines_and_keeps_a_final_unterminated_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = ContainerLog::create(dir.path(), 0, LogLimits::default()).expect("log");
        let long = vec![b'x'; MAX_LINE + 10];
        let mut input = b"hello\n".to_vec();
        input.extend_from_slice(&long);
        input.extend_from_slice(b"\nno newline");
        log.clone().pump(Stream::Stderr, &input[..]).await;
        log.close();
        let raw = fs::read_to_string(dir.path().join("0.log")).expect("read");
        let records: Vec<Record> = raw
            .lines()
            .map(|l| parse_record(l.as_bytes()).expect("record"))
            .collect();
        let shape: Vec<(bool, usize)> = records.iter().map(|r| (r.partial, r.text.len())).collect();
        assert_eq!(
            shape,
            vec![(false, 5), (true, MAX_LINE), (false, 10), (false, 10)]
        );
        assert!(records.iter().all(|r| r.stream == Stream::Stderr));
        let out = collect(log, LogOptions::default()).await;
        assert_eq!(out.len(), 6 + MAX_LINE + 10 + 1 + 11);
    }
}
