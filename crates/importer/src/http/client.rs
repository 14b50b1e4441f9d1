//! A small HTTP/1.1 client over hyper: one connection per request, TLS by rustls, redirects.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, HOST, LOCATION, USER_AGENT};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use url::Url;

use super::tls;

/// How long to wait for each phase of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect plus TLS handshake.
    pub connect: Duration,
    /// From sending the request to the response headers.
    pub response: Duration,
    /// Silence in the middle of a response body.
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(30),
            response: Duration::from_secs(60),
            idle: Duration::from_secs(60),
        }
    }
}

const MAX_REDIRECTS: usize = 10;
const READ_BUFFER: usize = 4 << 20;
const AGENT: &str = concat!("dvp-importer/", env!("CARGO_PKG_VERSION"));

/// A failed exchange, before any HTTP status was received.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    #[error("{0}")]
    BadUrl(String),
    #[error("cannot connect to {authority}: {source}")]
    Connect {
        authority: String,
        source: io::Error,
    },
    #[error("TLS handshake with {host} failed: {source}")]
    Tls { host: String, source: io::Error },
    #[error("{0}")]
    Protocol(#[source] hyper::Error),
    #[error("timed out {0}")]
    Timeout(&'static str),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("the server redirected without a valid Location: {0}")]
    BadRedirect(String),
}

impl HttpError {
    /// Worth retrying: the network may behave next time. Certificate and URL problems will not.
    pub fn is_transient(&self) -> bool {
        match self {
            HttpError::Connect { .. } | HttpError::Protocol(_) | HttpError::Timeout(_) => true,
            HttpError::Tls { source, .. } => !source
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>()),
            HttpError::BadUrl(_) | HttpError::TooManyRedirects | HttpError::BadRedirect(_) => false,
        }
    }
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Where a URL points: what to connect to and what to say in `Host`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// `host[:port]` as sent in the `Host` header.
    pub authority: String,
    /// `/path?query`.
    pub path_and_query: String,
}

/// Splits an http(s) URL into what a request needs.
pub(crate) fn target(url: &Url) -> Result<Target, HttpError> {
    let https = match url.scheme() {
        "https" => true,
        "http" => false,
        other => {
            return Err(HttpError::BadUrl(format!(
                "unsupported URL scheme {other:?} in {url} (use http or https)"
            )));
        }
    };
    let host = url
        .host_str()
        .ok_or_else(|| HttpError::BadUrl(format!("no host in {url}")))?
        .to_string();
    let port = url
        .port_or_known_default()
        .unwrap_or(if https { 443 } else { 80 });
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.clone(),
    };
    let mut path_and_query = url.path().to_string();
    if let Some(query) = url.query() {
        path_and_query.push('?');
        path_and_query.push_str(query);
    }
    Ok(Target {
        https,
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port,
        authority,
        path_and_query,
    })
}

/// Whether a redirect stays on the same scheme, host and port (credentials may follow).
pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// An HTTP client trusting the public roots plus an optional CA bundle.
#[derive(Clone)]
pub(crate) struct HttpClient {
    tls: Arc<ClientConfig>,
    timeouts: Timeouts,
}

impl HttpClient {
    pub fn new(ca_bundle: Option<&[u8]>, timeouts: Timeouts) -> Result<HttpClient, String> {
        Ok(HttpClient {
            tls: tls::client_config(ca_bundle)?,
            timeouts,
        })
    }

    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    async fn connect(&self, target: &Target) -> Result<Pin<Box<dyn Io>>, HttpError> {
        let connect_error = |source| HttpError::Connect {
            authority: target.authority.clone(),
            source,
        };
        let tcp = match target.host.parse::<IpAddr>() {
            Ok(ip) => TcpStream::connect(SocketAddr::new(ip, target.port)).await,
            Err(_) => TcpStream::connect((target.host.as_str(), target.port)).await,
        }
        .map_err(connect_error)?;
        tcp.set_nodelay(true).map_err(connect_error)?;
        if !target.https {
            return Ok(Box::pin(tcp));
        }
        let server_name = ServerName::try_from(target.host.clone())
            .map_err(|e| HttpError::BadUrl(format!("invalid host name {}: {e}", target.host)))?;
        let stream = tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(server_name, tcp)
            .await
            .map_err(|source| HttpError::Tls {
                host: target.host.clone(),
                source,
            })?;
        Ok(Box::pin(stream))
    }

    /// Sends one GET without following redirects.
    pub async fn get_once(
        &self,
        url: &Url,
        headers: &HeaderMap,
    ) -> Result<Response<Incoming>, HttpError> {
        let target = target(url)?;
        let io = tokio::time::timeout(self.timeouts.connect, self.connect(&target))
            .await
            .map_err(|_| HttpError::Timeout("connecting"))??;
        // Large reads: fewer syscalls and fewer, bigger chunks for the worker.
        let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
            .max_buf_size(READ_BUFFER)
            .handshake(TokioIo::new(io))
            .await
            .map_err(HttpError::Protocol)?;
        tokio::spawn(async move {
            // Ends when the response body has been read or dropped.
            let _ = connection.await;
        });

        let mut request = Request::get(target.path_and_query.as_str())
            .body(Empty::<Bytes>::new())
            .map_err(|e| HttpError::BadUrl(format!("cannot request {url}: {e}")))?;
        let request_headers = request.headers_mut();
        request_headers.insert(
            HOST,
            HeaderValue::from_str(&target.authority)
                .map_err(|e| HttpError::BadUrl(format!("invalid host in {url}: {e}")))?,
        );
        request_headers.insert(USER_AGENT, HeaderValue::from_static(AGENT));
        for (name, value) in headers {
            request_headers.insert(name, value.clone());
        }
        tokio::time::timeout(self.timeouts.response, sender.send_request(request))
            .await
            .map_err(|_| HttpError::Timeout("waiting for the response"))?
            .map_err(HttpError::Protocol)
    }

    /// Sends a GET and follows redirects; returns the final URL with its response. The
    /// `Authorization` header is dropped when a redirect leaves the original origin.
    pub async fn get(
        &self,
        url: &Url,
        headers: &HeaderMap,
    ) -> Result<(Url, Response<Incoming>), HttpError> {
        let mut current = url.clone();
        let mut headers = headers.clone();
        for _ in 0..=MAX_REDIRECTS {
            let response = self.get_once(&current, &headers).await?;
            if !is_redirect(response.status()) {
                return Ok((current, response));
            }
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|value| value.to_str().ok())
                .ok_or_else(|| HttpError::BadRedirect(response.status().to_string()))?;
            let next = current
                .join(location)
                .map_err(|e| HttpError::BadRedirect(format!("{location}: {e}")))?;
            if !same_origin(&current, &next) {
                headers.remove(AUTHORIZATION);
            }
            current = next;
        }
        Err(HttpError::TooManyRedirects)
    }
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_of_an_https_url_with_default_port() {
        let t = target(&Url::parse("https://example.com/a/b.img?x=1").unwrap()).unwrap();
        assert!(t.https);
        assert_eq!(t.port, 443);
        assert_eq!(t.authority, "example.com");
        assert_eq!(t.path_and_query, "/a/b.img?x=1");
    }

    #[test]
    fn target_keeps_an_explicit_port_in_the_authority() {
        let t = target(&Url::parse("http://127.0.0.1:8080/x").unwrap()).unwrap();
        assert!(!t.https);
        assert_eq!(t.host, "127.0.0.1");
        assert_eq!(t.port, 8080);
        assert_eq!(t.authority, "127.0.0.1:8080");
    }

    #[test]
    fn ipv6_literals_connect_without_brackets() {
        let t = target(&Url::parse("http://[::1]:9000/x").unwrap()).unwrap();
        assert_eq!(t.host, "::1");
        assert_eq!(t.authority, "[::1]:9000");
    }

    #[test]
    fn other_schemes_are_refused() {
        let error = target(&Url::parse("ftp://h/x").unwrap()).unwrap_err();
        assert!(!error.is_transient());
        assert!(error.to_string().contains("ftp"));
    }

    #[test]
    fn origins() {
        let a = Url::parse("https://r.example/v2/x").unwrap();
        assert!(same_origin(
            &a,
            &Url::parse("https://r.example:443/other").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("https://s3.example/blob").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("http://r.example/v2/x").unwrap()
        ));
    }

    #[test]
    fn certificate_errors_are_not_transient() {
        let certificate = HttpError::Tls {
            host: "h".into(),
            source: io::Error::new(
                io::ErrorKind::InvalidData,
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
            ),
        };
        assert!(!certificate.is_transient());
        let reset = HttpError::Tls {
            host: "h".into(),
            source: io::Error::from(io::ErrorKind::ConnectionReset),
        };
        assert!(reset.is_transient());
    }
}
