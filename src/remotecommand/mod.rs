//! The remote-command and port-forward protocols of `kubectl exec`, `attach`, `cp` and
//! `port-forward`, as pure codecs: channel numbers and subprotocol names, protocol
//! negotiation, the request options, the resize messages, and the one `Status` the error
//! channel carries. The SPDY/3.1 framing lives in [`spdy`]. No I/O here: the node agent's
//! streaming server drives these over its sockets.

pub mod spdy;

use serde_json::{Value, json};

/// `v5.channel.k8s.io`: channel-prefixed binary messages, with the CLOSE signal (255).
pub const V5: &str = "v5.channel.k8s.io";
/// `v4.channel.k8s.io`: as v5 without CLOSE, so stdin cannot be half-closed over WebSocket.
pub const V4: &str = "v4.channel.k8s.io";
/// The port-forward protocol carried over SPDY.
pub const PORT_FORWARD: &str = "portforward.k8s.io";
/// The WebSocket subprotocol that tunnels a SPDY port-forward session (kubectl's default).
pub const PORT_FORWARD_TUNNEL: &str = "SPDY/3.1+portforward.k8s.io";

/// The remote-command protocols served over WebSocket, best first.
pub const WEBSOCKET_PROTOCOLS: [&str; 2] = [V5, V4];
/// The remote-command protocols served over SPDY: the kubelet's set without the legacy
/// pre-v4 ones, which carry no exit code.
pub const SPDY_PROTOCOLS: [&str; 1] = [V4];

/// A channel number of the v4/v5 framing (the SPDY `streamType` of the same name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Channel {
    /// Client → server: the command's standard input.
    Stdin = 0,
    /// Server → client: standard output (and the terminal's output with a tty).
    Stdout = 1,
    /// Server → client: standard error (never with a tty).
    Stderr = 2,
    /// Server → client: the one `Status` that ends the session.
    Error = 3,
    /// Client → server: terminal sizes as a JSON stream.
    Resize = 4,
}

/// The v5 CLOSE signal: `[255, channel]` half-closes one channel (stdin, in practice).
pub const CLOSE: u8 = 255;

impl Channel {
    /// The channel a frame's first byte names.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(Self::Stdin),
            1 => Some(Self::Stdout),
            2 => Some(Self::Stderr),
            3 => Some(Self::Error),
            4 => Some(Self::Resize),
            _ => None,
        }
    }

    /// The SPDY `streamType` header value of this channel.
    pub fn stream_type(self) -> &'static str {
        match self {
            Self::Stdin => "stdin",
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
            Self::Error => "error",
            Self::Resize => "resize",
        }
    }

    /// The channel a SPDY `streamType` names.
    pub fn from_stream_type(s: &str) -> Option<Self> {
        [
            Self::Stdin,
            Self::Stdout,
            Self::Stderr,
            Self::Error,
            Self::Resize,
        ]
        .into_iter()
        .find(|c| c.stream_type().eq_ignore_ascii_case(s))
    }
}

/// One frame of the v4/v5 WebSocket framing: the channel byte, then the payload.
pub fn frame(channel: Channel, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 1);
    out.push(channel as u8);
    out.extend_from_slice(payload);
    out
}

/// The protocol to answer a WebSocket upgrade with: the first protocol the client offers
/// (`Sec-WebSocket-Protocol`, comma-separated, possibly over several header lines) that
/// `supported` contains.
pub fn negotiate<'a, I>(offered: I, supported: &[&'static str]) -> Option<&'static str>
where
    I: IntoIterator<Item = &'a str>,
{
    offered
        .into_iter()
        .flat_map(|line| line.split(','))
        .map(str::trim)
        .find_map(|p| supported.iter().copied().find(|s| *s == p))
}

/// Which streams a session has, from the request's `stdin`, `stdout`, `stderr` and `tty`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streams {
    /// The client sends standard input.
    pub stdin: bool,
    /// The client reads standard output.
    pub stdout: bool,
    /// The client reads standard error (false with a tty).
    pub stderr: bool,
    /// The command runs on a terminal.
    pub tty: bool,
}

impl Streams {
    /// How many SPDY streams the client opens: error, and each requested one, and resize
    /// with a tty.
    pub fn spdy_stream_count(&self) -> usize {
        1 + usize::from(self.stdin)
            + usize::from(self.stdout)
            + usize::from(self.stderr)
            + usize::from(self.tty)
    }
}

/// The options of an exec or attach request (`PodExecOptions`, `PodAttachOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOptions {
    /// The command line (exec only): every `command` parameter, in order.
    pub command: Vec<String>,
    /// The container named by `container`, if any.
    pub container: Option<String>,
    /// The streams asked for.
    pub streams: Streams,
}

/// Why a query is refused: a message for a 400 `Status`.
pub type QueryError = String;

impl CommandOptions {
    /// Parses the form-encoded query of an exec (`exec = true`) or attach request, with
    /// kube-apiserver's checks: a bool is `true`/`false`/`1`/`0`, exec needs a command, and at
    /// least one of stdin, stdout and stderr is asked for.
    pub fn parse(query: &str, exec: bool) -> Result<Self, QueryError> {
        let mut out = Self::default();
        let flag = |name: &str, v: &str| -> Result<bool, QueryError> {
            match v {
                "true" | "True" | "TRUE" | "1" | "t" | "T" => Ok(true),
                "false" | "False" | "FALSE" | "0" | "f" | "F" | "" => Ok(false),
                _ => Err(format!(
                    "strconv.ParseBool: parsing {v:?}: invalid syntax for {name}"
                )),
            }
        };
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "command" => out.command.push(v.into_owned()),
                "container" => out.container = Some(v.into_owned()).filter(|c| !c.is_empty()),
                "stdin" => out.streams.stdin = flag("stdin", &v)?,
                "stdout" => out.streams.stdout = flag("stdout", &v)?,
                "stderr" => out.streams.stderr = flag("stderr", &v)?,
                "tty" => out.streams.tty = flag("tty", &v)?,
                _ => {}
            }
        }
        if exec && out.command.is_empty() {
            return Err("you must specify at least 1 command".into());
        }
        let s = out.streams;
        if !(s.stdin || s.stdout || s.stderr) {
            return Err("you must specify at least 1 of stdin, stdout, stderr".into());
        }
        if s.tty {
            // A terminal merges standard error into its output, as the kubelet does.
            out.streams.stderr = false;
        }
        Ok(out)
    }

    /// The query to send on to the node: the same options, form-encoded.
    pub fn to_query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for c in &self.command {
            q.append_pair("command", c);
        }
        if let Some(c) = &self.container {
            q.append_pair("container", c);
        }
        for (name, on) in [
            ("stdin", self.streams.stdin),
            ("stdout", self.streams.stdout),
            ("stderr", self.streams.stderr),
            ("tty", self.streams.tty),
        ] {
            if on {
                q.append_pair(name, "true");
            }
        }
        q.finish()
    }
}

/// A terminal size, as kubectl sends it on the resize channel: `{"Width":80,"Height":24}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub struct TerminalSize {
    /// Columns.
    #[serde(rename = "Width")]
    pub width: u16,
    /// Rows.
    #[serde(rename = "Height")]
    pub height: u16,
}

/// Decodes the resize channel, a stream of JSON documents that may arrive split or joined
/// across frames. Holds at most [`SizeDecoder::MAX_PENDING`] bytes of an unfinished document.
#[derive(Debug, Default)]
pub struct SizeDecoder {
    pending: Vec<u8>,
}

impl SizeDecoder {
    /// The most bytes of one unfinished document kept; a longer one is a protocol error.
    pub const MAX_PENDING: usize = 4096;

    /// Feeds bytes and returns the sizes completed by them; `Err` for bytes that are not a
    /// stream of terminal sizes.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<TerminalSize>, String> {
        self.pending.extend_from_slice(bytes);
        let mut sizes = Vec::new();
        let mut used = 0;
        {
            // Documents are read as JSON values first: a size is an object, and serde would
            // take a list such as `[80,24]` for the struct too.
            let mut docs = serde_json::Deserializer::from_slice(&self.pending).into_iter::<Value>();
            loop {
                match docs.next() {
                    Some(Ok(doc)) => {
                        let size = doc
                            .is_object()
                            .then(|| serde_json::from_value::<TerminalSize>(doc).ok())
                            .flatten()
                            .ok_or_else(|| "invalid terminal size".to_string())?;
                        sizes.push(size);
                        used = docs.byte_offset();
                    }
                    Some(Err(e)) if e.is_eof() => break,
                    Some(Err(e)) => return Err(format!("invalid terminal size: {e}")),
                    None => {
                        used = docs.byte_offset();
                        break;
                    }
                }
            }
        }
        self.pending.drain(..used);
        if self.pending.len() > Self::MAX_PENDING {
            return Err("terminal size message too long".into());
        }
        Ok(sizes)
    }
}

/// The error channel's `Status` for a command that ended with `code` (kubelet's texts):
/// `Success` for 0, else `NonZeroExitCode` with the code as the `ExitCode` cause, which
/// kubectl turns into `command terminated with exit code N` and its own exit status.
pub fn exit_status(code: i32) -> Value {
    if code == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    // kubectl parses the code as an unsigned 8-bit number.
    let code = code.clamp(1, 255);
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!("command terminated with non-zero exit code: command terminated with exit code {code}"),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
    })
}

/// The error channel's `Status` for a session that failed before or apart from the
/// command's exit (kube-apiserver's `InternalError`), which kubectl prints as `error: …`.
pub fn internal_error(message: &str) -> Value {
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!("Internal error occurred: {message}"),
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    })
}

#[cfg(test)]
mod tests;
