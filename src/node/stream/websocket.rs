//! The WebSocket transport of exec and attach: `v5.channel.k8s.io` (and `v4`, which lacks
//! the stdin half-close). Every message is binary, its first byte the channel.

use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::{Inbound, Outbound, Streams, TransportEnds};
use crate::remotecommand::{self, CLOSE, Channel, SizeDecoder};

/// Pumps one session between `ws` and `ends` until the command side sends its `Status` (then
/// closes with 1000, the only close kubectl reads as a clean end) or the client goes away.
/// `idle` ends a session in which no data moved for that long.
pub(crate) async fn serve_remote_command<S>(
    mut ws: WebSocketStream<S>,
    protocol: &'static str,
    streams: Streams,
    ends: TransportEnds,
    idle: Duration,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let TransportEnds {
        inbound,
        mut outbound,
    } = ends;
    let v5 = protocol == remotecommand::V5;
    // The greeting the kubelet sends: an empty frame on the first channel the client reads.
    let first = if streams.stdout {
        Channel::Stdout
    } else if streams.stderr {
        Channel::Stderr
    } else {
        Channel::Error
    };
    if ws.send(binary(first, &[])).await.is_err() {
        return;
    }
    let mut sizes = SizeDecoder::default();
    let deadline = tokio::time::sleep(idle);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            message = ws.next() => {
                let data = match message {
                    Some(Ok(Message::Binary(data))) => data,
                    // Pings are answered by the WebSocket layer as it reads.
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                    Some(Ok(Message::Text(_))) | Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                };
                deadline.as_mut().reset(tokio::time::Instant::now() + idle);
                let Some((&channel, payload)) = data.split_first() else {
                    continue;
                };
                let event = match Channel::from_byte(channel) {
                    Some(Channel::Stdin) if streams.stdin => {
                        Inbound::Stdin(Bytes::copy_from_slice(payload))
                    }
                    Some(Channel::Resize) => match sizes.feed(payload) {
                        Ok(list) => {
                            for size in list {
                                if inbound.send(Inbound::Resize(size)).await.is_err() {
                                    return;
                                }
                            }
                            continue;
                        }
                        Err(_) => return,
                    },
                    None if v5 && channel == CLOSE && payload == [Channel::Stdin as u8] => {
                        Inbound::StdinClosed
                    }
                    _ => continue,
                };
                if inbound.send(event).await.is_err() {
                    return;
                }
            }
            message = outbound.recv() => {
                let (channel, data) = match message {
                    Some(Outbound::Stdout(d)) => (Channel::Stdout, d),
                    Some(Outbound::Stderr(d)) => (Channel::Stderr, d),
                    Some(Outbound::Status(d)) => {
                        let _ = ws.send(binary(Channel::Error, &d)).await;
                        close(&mut ws).await;
                        return;
                    }
                    None => {
                        close(&mut ws).await;
                        return;
                    }
                };
                deadline.as_mut().reset(tokio::time::Instant::now() + idle);
                if data.is_empty() {
                    continue;
                }
                if ws.send(binary(channel, &data)).await.is_err() {
                    return;
                }
            }
            _ = &mut deadline => {
                let status = remotecommand::internal_error("the streaming connection was idle for too long");
                let _ = ws
                    .send(binary(Channel::Error, &serde_json::to_vec(&status).unwrap_or_default()))
                    .await;
                close(&mut ws).await;
                return;
            }
        }
    }
}

fn binary(channel: Channel, payload: &[u8]) -> Message {
    Message::Binary(remotecommand::frame(channel, payload).into())
}

/// A normal close (1000), then reading on until the client's close comes back.
async fn close<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>) {
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    };
    if ws.send(Message::Close(Some(frame))).await.is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(Ok(_)) = ws.next().await {}
        })
        .await;
    }
}
