//! The SPDY/3.1 transport: remote-command sessions and the stream multiplexing port-forward
//! uses.

use tokio::io::{AsyncRead, AsyncWrite};

use super::{Streams, TransportEnds};

/// Serves one remote-command session over SPDY (not yet: the connection is closed).
pub(crate) async fn serve_remote_command<IO>(io: IO, streams: Streams, ends: TransportEnds)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    drop((io, streams, ends));
}
