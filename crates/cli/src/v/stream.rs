//! Opening a VM's stream subresource as a websocket: TLS verified with the kubeconfig's CA,
//! the kubeconfig's bearer token, and the platform's `Status` refusals turned into messages.

use futures::{SinkExt, StreamExt};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};

use super::args::VmRef;
use crate::kubeconfig::{self, Target};

/// An open stream.
pub type Ws = WebSocketStream<TlsStream<TcpStream>>;

/// Where and as whom to connect.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub target: Target,
    pub namespace: String,
    pub name: String,
}

impl Endpoint {
    /// Reads the kubeconfig (`--kubeconfig`, `$KUBECONFIG`, the data dir of `dvpd up`).
    pub fn load(vm: &VmRef, kubeconfig_flag: Option<&str>) -> Result<Endpoint, String> {
        let target = kubeconfig::load(&kubeconfig::locate(kubeconfig_flag))?;
        Ok(Endpoint {
            namespace: vm
                .namespace
                .clone()
                .unwrap_or_else(|| target.namespace.clone()),
            name: vm.name.clone(),
            target,
        })
    }
}

/// The path of a VM's stream subresource.
pub fn stream_path(namespace: &str, name: &str, channel: &str) -> String {
    format!(
        "/apis/subresources.virtualization.deckhouse.io/v1alpha2/namespaces/{namespace}/virtualmachines/{name}/{channel}"
    )
}

/// Why a stream did not open.
#[derive(Debug)]
pub struct OpenError {
    /// The HTTP status of a refusal (0 when the connection failed).
    pub code: u16,
    pub message: String,
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn failed(message: String) -> OpenError {
    OpenError { code: 0, message }
}

/// Opens `channel` (`console`, `vnc`, `portforward/22`) with query pairs.
pub async fn open(ep: &Endpoint, channel: &str, query: &[(&str, &str)]) -> Result<Ws, OpenError> {
    let (host, port) = crate::data::host_port(&ep.target.server).map_err(failed)?;
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| failed(format!("cannot connect to {}: {e}", ep.target.server)))?;
    let _ = tcp.set_nodelay(true);
    let server_name = ServerName::try_from(host.clone())
        .map_err(|e| failed(format!("bad server name {host}: {e}")))?;
    let tls = tokio_rustls::TlsConnector::from(
        crate::data::tls_config(&ep.target.ca_pem).map_err(failed)?,
    )
    .connect(server_name, tcp)
    .await
    .map_err(|e| {
        failed(format!(
            "TLS with {} failed (is the kubeconfig's CA right?): {e}",
            ep.target.server
        ))
    })?;
    let mut url = format!(
        "wss://{host}:{port}{}",
        stream_path(&ep.namespace, &ep.name, channel)
    );
    let encoded: String = form_query(query);
    if !encoded.is_empty() {
        url.push('?');
        url.push_str(&encoded);
    }
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| failed(format!("bad stream URL {url}: {e}")))?;
    if let Some(token) = &ep.target.token {
        request.headers_mut().insert(
            http_header("authorization"),
            format!("Bearer {token}")
                .parse()
                .map_err(|_| failed("the kubeconfig token is not a valid header".into()))?,
        );
    }
    match tokio_tungstenite::client_async(request, tls).await {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::Error::Http(response)) => {
            let body = response.body().clone().unwrap_or_default();
            Err(OpenError {
                code: response.status().as_u16(),
                message: crate::data::error_message(&body),
            })
        }
        Err(e) => Err(failed(format!("the {channel} stream failed to open: {e}"))),
    }
}

fn http_header(name: &'static str) -> tungstenite::http::HeaderName {
    tungstenite::http::HeaderName::from_static(name)
}

/// `k=v&k2=v2` with percent-encoding of anything beyond unreserved characters.
pub fn form_query(pairs: &[(&str, &str)]) -> String {
    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// How a splice ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The local side closed.
    Local,
    /// The server closed, with the close reason when it gave one that is not a normal end.
    Remote(Option<String>),
}

/// The reason of a close frame that is worth telling the user (a takeover, an error).
pub fn close_reason(frame: Option<&tungstenite::protocol::CloseFrame>) -> Option<String> {
    let frame = frame?;
    match frame.code {
        CloseCode::Normal => None,
        _ if frame.reason.is_empty() => Some(format!("closed by the server ({})", frame.code)),
        _ => Some(frame.reason.to_string()),
    }
}

/// Copies `reader` → websocket and websocket → `writer` until either side ends.
pub async fn splice<R, W>(ws: Ws, mut reader: R, mut writer: W) -> Ended
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (mut tx, mut rx) = ws.split();
    let upstream = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx
                        .send(Message::Binary(buf[..n].to_vec().into()))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
        let _ = tx.send(Message::Close(None)).await;
    };
    let downstream = async {
        while let Some(message) = rx.next().await {
            let data = match message {
                Ok(Message::Binary(b)) => b.to_vec(),
                Ok(Message::Text(t)) => t.as_bytes().to_vec(),
                Ok(Message::Close(frame)) => return Ended::Remote(close_reason(frame.as_ref())),
                Ok(_) => continue,
                Err(e) => return Ended::Remote(Some(format!("the stream broke: {e}"))),
            };
            if writer.write_all(&data).await.is_err() || writer.flush().await.is_err() {
                return Ended::Local;
            }
        }
        Ended::Remote(None)
    };
    tokio::select! {
        _ = upstream => Ended::Local,
        ended = downstream => ended,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_path_names_the_subresource() {
        assert_eq!(
            stream_path("prod", "web", "portforward/22"),
            "/apis/subresources.virtualization.deckhouse.io/v1alpha2/namespaces/prod/virtualmachines/web/portforward/22"
        );
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            form_query(&[("client", "ann@host one"), ("force", "true")]),
            "client=ann%40host%20one&force=true"
        );
    }

    #[test]
    fn a_normal_close_is_not_reported_but_a_takeover_is() {
        use tungstenite::protocol::CloseFrame;
        let normal = CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        };
        assert_eq!(close_reason(Some(&normal)), None);
        let taken = CloseFrame {
            code: CloseCode::Library(4001),
            reason: "bob@b took over the session".into(),
        };
        assert_eq!(
            close_reason(Some(&taken)).as_deref(),
            Some("bob@b took over the session")
        );
    }
}
