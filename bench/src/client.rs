//! A minimal Kubernetes API client: one TLS connection per [`Conn`] (HTTP/1.1 keep-alive, or
//! HTTP/2 shared by cloning), bearer token, JSON bodies. It is deliberately thin so that the
//! figures measure the server, not client machinery.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::TlsConnector;

use crate::kubeconfig::Kubeconfig;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    Http2,
}

impl Protocol {
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Http1 => "http1",
            Protocol::Http2 => "http2",
        }
    }
}

/// The server's address, trust and credentials; opens connections.
pub struct Endpoint {
    authority: String,
    addr: SocketAddr,
    server_name: ServerName<'static>,
    token: HeaderValue,
    tls_http1: Arc<rustls::ClientConfig>,
    tls_http2: Arc<rustls::ClientConfig>,
}

fn tls_config(ca_pem: &str, alpn: &[u8]) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(cert.context("reading the CA certificate from the kubeconfig")?)
            .context("adding the CA certificate to the trust store")?;
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(Arc::new(config))
}

impl Endpoint {
    pub fn new(kubeconfig: &Kubeconfig) -> anyhow::Result<Endpoint> {
        let authority = kubeconfig.authority().to_string();
        let addr: SocketAddr = authority
            .parse()
            .with_context(|| format!("server {authority:?} is not an IP:port address"))?;
        let server_name = ServerName::from(addr.ip());
        let token = HeaderValue::from_str(&format!("Bearer {}", kubeconfig.token))
            .context("the token is not a valid header value")?;
        Ok(Endpoint {
            authority,
            addr,
            server_name,
            token,
            tls_http1: tls_config(&kubeconfig.ca_pem, b"http/1.1")?,
            tls_http2: tls_config(&kubeconfig.ca_pem, b"h2")?,
        })
    }

    /// Opens one TLS connection speaking `protocol`.
    pub async fn connect(&self, protocol: Protocol) -> anyhow::Result<Conn> {
        let tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("connecting to {}", self.addr))?;
        tcp.set_nodelay(true)?;
        let tls = match protocol {
            Protocol::Http1 => &self.tls_http1,
            Protocol::Http2 => &self.tls_http2,
        };
        let stream = TlsConnector::from(tls.clone())
            .connect(self.server_name.clone(), tcp)
            .await
            .context("TLS handshake with dvpd")?;
        let io = TokioIo::new(stream);
        let sender = match protocol {
            Protocol::Http1 => {
                let (sender, connection) = http1::handshake(io).await?;
                tokio::spawn(connection);
                Sender::Http1(sender)
            }
            Protocol::Http2 => {
                if io.inner().get_ref().1.alpn_protocol() != Some(b"h2") {
                    bail!("dvpd did not agree to HTTP/2 via ALPN");
                }
                let (sender, connection) = http2::Builder::new(TokioExecutor::new())
                    .handshake(io)
                    .await?;
                tokio::spawn(connection);
                Sender::Http2(sender)
            }
        };
        Ok(Conn {
            sender,
            authority: self.authority.clone(),
            token: self.token.clone(),
        })
    }
}

enum Sender {
    Http1(http1::SendRequest<Full<Bytes>>),
    Http2(http2::SendRequest<Full<Bytes>>),
}

/// One connection (or, for HTTP/2, a handle to a shared one).
pub struct Conn {
    sender: Sender,
    authority: String,
    token: HeaderValue,
}

/// One request.
pub struct Call {
    method: Method,
    path: String,
    accept: &'static str,
    content_type: Option<&'static str>,
    body: Bytes,
}

impl Call {
    pub fn get(path: impl Into<String>) -> Call {
        Call {
            method: Method::GET,
            path: path.into(),
            accept: "application/json",
            content_type: None,
            body: Bytes::new(),
        }
    }

    pub fn post(path: impl Into<String>, body: impl Into<Bytes>) -> Call {
        Call {
            method: Method::POST,
            content_type: Some("application/json"),
            body: body.into(),
            ..Call::get(path)
        }
    }

    pub fn merge_patch(path: impl Into<String>, body: impl Into<Bytes>) -> Call {
        Call {
            method: Method::PATCH,
            content_type: Some("application/merge-patch+json"),
            body: body.into(),
            ..Call::get(path)
        }
    }

    pub fn accept(self, accept: &'static str) -> Call {
        Call { accept, ..self }
    }
}

/// A complete response.
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Reply {
    /// Fails unless the status is `expected`, quoting the server's answer.
    pub fn expect(self, expected: StatusCode, what: &str) -> anyhow::Result<Reply> {
        if self.status == expected {
            return Ok(self);
        }
        let text = String::from_utf8_lossy(&self.body);
        Err(anyhow!(
            "{what}: dvpd answered {} instead of {expected}: {}",
            self.status,
            text.chars().take(500).collect::<String>()
        ))
    }
}

impl Conn {
    /// Another handle on the same HTTP/2 connection (`None` for HTTP/1.1, which needs one each).
    pub fn share(&self) -> Option<Conn> {
        match &self.sender {
            Sender::Http2(s) => Some(Conn {
                sender: Sender::Http2(s.clone()),
                authority: self.authority.clone(),
                token: self.token.clone(),
            }),
            Sender::Http1(_) => None,
        }
    }

    /// Sends `call` and returns the response head with the body still streaming.
    pub async fn start(&mut self, call: Call) -> anyhow::Result<Response<Incoming>> {
        let uri = match self.sender {
            Sender::Http1(_) => call.path.clone(),
            Sender::Http2(_) => format!("https://{}{}", self.authority, call.path),
        };
        let mut builder = Request::builder()
            .method(call.method)
            .uri(uri)
            .header(AUTHORIZATION, self.token.clone())
            .header(ACCEPT, call.accept);
        if matches!(self.sender, Sender::Http1(_)) {
            builder = builder.header(HOST, self.authority.as_str());
        }
        if let Some(ct) = call.content_type {
            builder = builder.header(CONTENT_TYPE, ct);
        }
        let request = builder.body(Full::new(call.body))?;
        let response = match &mut self.sender {
            Sender::Http1(s) => {
                s.ready().await?;
                s.send_request(request).await?
            }
            Sender::Http2(s) => {
                s.ready().await?;
                s.send_request(request).await?
            }
        };
        Ok(response)
    }

    /// Sends `call` and reads the whole response.
    pub async fn call(&mut self, call: Call) -> anyhow::Result<Reply> {
        let response = self.start(call).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Reply { status, body })
    }
}
