//! Copying bytes between an upgraded websocket and a socket (serial, VNC, guest TCP). Binary and
//! text frames both carry raw bytes to the socket; the socket's bytes go out as binary frames.

use std::future::Future;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Close code for "a newcomer forced this session away" (application range 4000-4999).
pub const CLOSE_TAKEN_OVER: u16 = 4001;

/// Close code for "the socket ended" where that is not a normal end (a console whose QEMU
/// went away, or whose serial port another client outside the platform holds).
pub const CLOSE_SOCKET_ENDED: u16 = 4002;

/// Splices until either side ends or `kicked` yields the name of whoever took over, in which case
/// the client gets a close frame saying so. When the socket ends, the client gets `on_end`
/// (`None`: a normal close).
pub async fn splice<S>(
    ws: WebSocket,
    socket: S,
    kicked: impl Future<Output = Option<String>>,
    on_end: Option<&str>,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut ws_tx, mut ws_rx) = ws.split();
    let (mut rd, mut wr) = tokio::io::split(socket);
    let inbound = async {
        while let Some(Ok(message)) = ws_rx.next().await {
            let data = match message {
                Message::Binary(b) => b.to_vec(),
                Message::Text(t) => t.as_str().as_bytes().to_vec(),
                Message::Close(_) => break,
                Message::Ping(_) | Message::Pong(_) => continue,
            };
            if wr.write_all(&data).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    };
    let outbound = async {
        tokio::pin!(kicked);
        let mut buf = vec![0u8; 16 * 1024];
        let reason = loop {
            tokio::select! {
                read = rd.read(&mut buf) => match read {
                    Ok(0) | Err(_) => break None,
                    Ok(n) => {
                        if ws_tx.send(Message::Binary(buf[..n].to_vec().into())).await.is_err() {
                            return;
                        }
                    }
                },
                by = &mut kicked => match by {
                    Some(by) => break Some(by),
                    None => std::future::pending::<()>().await,
                },
            }
        };
        let frame = match reason {
            Some(by) => CloseFrame {
                code: CLOSE_TAKEN_OVER,
                reason: format!("{by} took over the session").into(),
            },
            None => match on_end {
                Some(why) => CloseFrame {
                    code: CLOSE_SOCKET_ENDED,
                    reason: why.to_string().into(),
                },
                None => CloseFrame {
                    code: 1000,
                    reason: "the stream ended".into(),
                },
            },
        };
        let _ = ws_tx.send(Message::Close(Some(frame))).await;
    };
    // either direction ending ends the session: the socket is dropped, QEMU frees its slot
    tokio::select! {
        _ = inbound => {},
        _ = outbound => {},
    }
}
