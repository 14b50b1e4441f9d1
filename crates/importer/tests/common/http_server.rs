//! A small HTTP(S) file server for tests and the benchmark, with knobs for failures.

#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// What a path serves.
#[derive(Clone)]
pub enum Content {
    Memory(Bytes),
    File(PathBuf),
}

impl Content {
    fn len(&self) -> u64 {
        match self {
            Content::Memory(bytes) => bytes.len() as u64,
            Content::File(path) => std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        }
    }
}

/// Failure knobs; change them at any time.
#[derive(Default)]
pub struct Knobs {
    /// Answer 500 to this many requests before serving normally.
    pub fail_first: AtomicU32,
    /// Answer every request with this status (0 = off).
    pub always_status: AtomicU32,
    /// Cut the connection after this many body bytes, once (0 = off).
    pub reset_after: AtomicU64,
    /// Honour `Range` requests.
    pub ranges: AtomicBool,
    /// Pause this many milliseconds between chunks (0 = full speed).
    pub chunk_delay_ms: AtomicU64,
    /// Leave out Content-Length (chunked encoding).
    pub no_length: AtomicBool,
    pub requests: AtomicU32,
    pub range_requests: AtomicU32,
    /// Body bytes handed to connections so far.
    pub bytes_sent: AtomicU64,
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub knobs: Arc<Knobs>,
    files: Arc<Mutex<HashMap<String, Content>>>,
    tls: bool,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Body = BoxBody<Bytes, io::Error>;

fn full(status: StatusCode, text: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .body(
            Full::new(Bytes::from(text.to_string()))
                .map_err(|never| match never {})
                .boxed(),
        )
        .unwrap()
}

const CHUNK: usize = 256 << 10;

fn body_stream(content: Content, start: u64, knobs: Arc<Knobs>) -> Body {
    let cut_at = knobs.reset_after.swap(0, Ordering::SeqCst);
    let delay = Duration::from_millis(knobs.chunk_delay_ms.load(Ordering::SeqCst));
    let stream = futures::stream::unfold(
        (content, start, 0u64, None::<tokio::fs::File>, knobs),
        move |(content, offset, sent, mut file, knobs)| async move {
            if cut_at > 0 && sent >= cut_at {
                let error = io::Error::new(io::ErrorKind::ConnectionReset, "test reset");
                return Some((Err(error), (content, u64::MAX, sent, file, knobs)));
            }
            if offset == u64::MAX {
                return None;
            }
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let chunk = match &content {
                Content::Memory(bytes) => {
                    let at = offset as usize;
                    if at >= bytes.len() {
                        return None;
                    }
                    bytes.slice(at..(at + CHUNK).min(bytes.len()))
                }
                Content::File(path) => {
                    if file.is_none() {
                        let mut opened = tokio::fs::File::open(path).await.ok()?;
                        tokio::io::AsyncSeekExt::seek(&mut opened, io::SeekFrom::Start(offset))
                            .await
                            .ok()?;
                        file = Some(opened);
                    }
                    let mut buffer = vec![0u8; 1 << 20];
                    let n = file.as_mut()?.read(&mut buffer).await.ok()?;
                    if n == 0 {
                        return None;
                    }
                    buffer.truncate(n);
                    Bytes::from(buffer)
                }
            };
            let len = chunk.len() as u64;
            knobs.bytes_sent.fetch_add(len, Ordering::SeqCst);
            Some((
                Ok(Frame::data(chunk)),
                (content, offset + len, sent + len, file, knobs),
            ))
        },
    );
    StreamBody::new(stream).boxed()
}

fn parse_range(value: &str) -> Option<u64> {
    value
        .strip_prefix("bytes=")?
        .strip_suffix('-')?
        .parse()
        .ok()
}

async fn handle(
    request: Request<Incoming>,
    files: Arc<Mutex<HashMap<String, Content>>>,
    knobs: Arc<Knobs>,
) -> Result<Response<Body>, Infallible> {
    knobs.requests.fetch_add(1, Ordering::SeqCst);
    let status = knobs.always_status.load(Ordering::SeqCst);
    if status != 0 {
        let status = StatusCode::from_u16(status as u16).unwrap();
        return Ok(full(status, "knob"));
    }
    let failing = knobs
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return Ok(full(StatusCode::INTERNAL_SERVER_ERROR, "try again"));
    }
    let path = request.uri().path().trim_start_matches('/').to_string();
    if let Some(target) = path.strip_prefix("redirect/") {
        return Ok(Response::builder()
            .status(StatusCode::FOUND)
            .header("location", format!("/{target}"))
            .body(full(StatusCode::OK, "").into_body())
            .unwrap());
    }
    let Some(content) = files.lock().unwrap().get(&path).cloned() else {
        return Ok(full(StatusCode::NOT_FOUND, "no such file"));
    };
    let total = content.len();
    let ranges = knobs.ranges.load(Ordering::SeqCst);
    let start = request
        .headers()
        .get("range")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_range);
    if start.is_some() {
        knobs.range_requests.fetch_add(1, Ordering::SeqCst);
    }
    let mut builder = Response::builder().header("etag", "\"test-etag\"");
    if ranges {
        builder = builder.header("accept-ranges", "bytes");
    }
    let start = match start {
        Some(start) if ranges && start < total => {
            builder = builder.status(StatusCode::PARTIAL_CONTENT).header(
                "content-range",
                format!("bytes {start}-{}/{total}", total - 1),
            );
            start
        }
        _ => 0,
    };
    if !knobs.no_length.load(Ordering::SeqCst) {
        builder = builder.header("content-length", total - start);
    }
    Ok(builder
        .body(body_stream(content, start, knobs.clone()))
        .unwrap())
}

impl TestServer {
    /// Serves plain HTTP on 127.0.0.1.
    pub async fn start() -> TestServer {
        TestServer::start_with(None).await
    }

    /// Serves HTTPS on 127.0.0.1 with the given rustls config.
    pub async fn start_tls(config: Arc<rustls::ServerConfig>) -> TestServer {
        TestServer::start_with(Some(config)).await
    }

    async fn start_with(tls: Option<Arc<rustls::ServerConfig>>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let knobs = Arc::new(Knobs {
            ranges: AtomicBool::new(true),
            ..Knobs::default()
        });
        let files = Arc::new(Mutex::new(HashMap::new()));
        let is_tls = tls.is_some();
        let (task_files, task_knobs) = (files.clone(), knobs.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (files, knobs, tls) = (task_files.clone(), task_knobs.clone(), tls.clone());
                tokio::spawn(async move {
                    let service =
                        service_fn(move |request| handle(request, files.clone(), knobs.clone()));
                    let builder = hyper::server::conn::http1::Builder::new();
                    match tls {
                        Some(config) => {
                            let Ok(stream) =
                                tokio_rustls::TlsAcceptor::from(config).accept(stream).await
                            else {
                                return;
                            };
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                        None => {
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                    }
                });
            }
        });
        TestServer {
            addr,
            knobs,
            files,
            tls: is_tls,
            task,
        }
    }

    pub fn serve(&self, name: &str, content: Content) {
        self.files.lock().unwrap().insert(name.to_string(), content);
    }

    pub fn serve_bytes(&self, name: &str, bytes: impl Into<Bytes>) {
        self.serve(name, Content::Memory(bytes.into()));
    }

    pub fn url(&self, name: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}/{name}", self.addr)
    }
}
