//! A minimal OCI distribution registry for tests: manifests, blobs, anonymous, Basic or Bearer.

#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

pub const LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    Anonymous,
    Basic {
        user: String,
        password: String,
    },
    /// Token service; with credentials the token endpoint demands them.
    Bearer {
        credentials: Option<(String, String)>,
    },
}

struct State {
    auth: Auth,
    blobs: HashMap<String, Bytes>,
    /// (repository, tag or digest) → (media type, body)
    manifests: HashMap<(String, String), (String, Bytes)>,
}

pub struct TestRegistry {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    pub blob_requests: Arc<AtomicU32>,
    /// Cut the next blob response after this many bytes, once (0 = off).
    pub reset_blob_after: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const TOKEN: &str = "test-token-123";

type Body = BoxBody<Bytes, std::io::Error>;

fn respond(status: StatusCode, content_type: &str, body: Bytes) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("content-length", body.len())
        .body(Full::new(body).map_err(|never| match never {}).boxed())
        .unwrap()
}

/// A response announcing the whole blob that breaks off after `cut` bytes.
fn broken_blob(blob: Bytes, cut: usize) -> Response<Body> {
    let frames: Vec<Result<Frame<Bytes>, std::io::Error>> = vec![
        Ok(Frame::data(blob.slice(..cut.min(blob.len())))),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "test reset",
        )),
    ];
    Response::builder()
        .status(StatusCode::OK)
        .header("content-length", blob.len())
        .body(StreamBody::new(futures::stream::iter(frames)).boxed())
        .unwrap()
}

pub fn digest_of(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    format!(
        "sha256:{}",
        hash.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

fn authorized(auth: &Auth, header: Option<&str>) -> bool {
    match auth {
        Auth::Anonymous => true,
        Auth::Basic { user, password } => {
            header
                == Some(&format!(
                    "Basic {}",
                    STANDARD.encode(format!("{user}:{password}"))
                ))
        }
        Auth::Bearer { .. } => header == Some(&format!("Bearer {TOKEN}")),
    }
}

fn challenge(auth: &Auth, addr: SocketAddr, repository: &str) -> String {
    match auth {
        Auth::Basic { .. } => "Basic realm=\"test\"".to_string(),
        _ => format!(
            "Bearer realm=\"http://{addr}/token\",service=\"test-registry\",scope=\"repository:{repository}:pull\""
        ),
    }
}

fn handle(
    request: Request<Incoming>,
    state: Arc<Mutex<State>>,
    addr: SocketAddr,
    blob_requests: Arc<AtomicU32>,
    reset_blob_after: Arc<AtomicU64>,
) -> Response<Body> {
    let path = request.uri().path().to_string();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let state = state.lock().unwrap();

    if path == "/token" {
        if let Auth::Bearer {
            credentials: Some((user, password)),
        } = &state.auth
        {
            let expected = format!("Basic {}", STANDARD.encode(format!("{user}:{password}")));
            if authorization != Some(expected.as_str()) {
                return respond(StatusCode::UNAUTHORIZED, "text/plain", Bytes::new());
            }
        }
        let body = format!("{{\"token\":\"{TOKEN}\",\"expires_in\":300}}");
        return respond(StatusCode::OK, "application/json", Bytes::from(body));
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        return respond(StatusCode::NOT_FOUND, "text/plain", Bytes::new());
    };
    let (repository, kind, reference) = match (rest.rfind("/manifests/"), rest.rfind("/blobs/")) {
        (Some(at), _) => (&rest[..at], "manifests", &rest[at + "/manifests/".len()..]),
        (None, Some(at)) => (&rest[..at], "blobs", &rest[at + "/blobs/".len()..]),
        _ => {
            return respond(
                StatusCode::OK,
                "application/json",
                Bytes::from_static(b"{}"),
            );
        }
    };
    if !authorized(&state.auth, authorization) {
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header("www-authenticate", challenge(&state.auth, addr, repository))
            .body(
                Full::new(Bytes::new())
                    .map_err(|never| match never {})
                    .boxed(),
            )
            .unwrap();
    }
    if kind == "blobs" {
        blob_requests.fetch_add(1, Ordering::SeqCst);
        let cut = reset_blob_after.swap(0, Ordering::SeqCst) as usize;
        return match state.blobs.get(reference) {
            Some(blob) if cut > 0 => broken_blob(blob.clone(), cut),
            Some(blob) => respond(StatusCode::OK, "application/octet-stream", blob.clone()),
            None => respond(StatusCode::NOT_FOUND, "text/plain", Bytes::new()),
        };
    }
    match state
        .manifests
        .get(&(repository.to_string(), reference.to_string()))
    {
        Some((media_type, body)) => {
            let mut response = respond(StatusCode::OK, media_type, body.clone());
            response
                .headers_mut()
                .insert("docker-content-digest", digest_of(body).parse().unwrap());
            response
        }
        None => respond(StatusCode::NOT_FOUND, "application/json", Bytes::new()),
    }
}

impl TestRegistry {
    pub async fn start(auth: Auth) -> TestRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            auth,
            blobs: HashMap::new(),
            manifests: HashMap::new(),
        }));
        let blob_requests = Arc::new(AtomicU32::new(0));
        let reset_blob_after = Arc::new(AtomicU64::new(0));
        let (task_state, task_blobs, task_reset) = (
            state.clone(),
            blob_requests.clone(),
            reset_blob_after.clone(),
        );
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (state, blobs, reset) =
                    (task_state.clone(), task_blobs.clone(), task_reset.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let response =
                            handle(request, state.clone(), addr, blobs.clone(), reset.clone());
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        TestRegistry {
            addr,
            state,
            blob_requests,
            reset_blob_after,
            task,
        }
    }

    /// `127.0.0.1:port/<repository>:<tag>`
    pub fn reference(&self, repository: &str, tag: &str) -> String {
        format!("{}/{repository}:{tag}", self.addr)
    }

    fn put_blob(&self, bytes: Vec<u8>) -> (String, u64) {
        let digest = digest_of(&bytes);
        let size = bytes.len() as u64;
        self.state
            .lock()
            .unwrap()
            .blobs
            .insert(digest.clone(), Bytes::from(bytes));
        (digest, size)
    }

    fn put_manifest(&self, repository: &str, tag: &str, media_type: &str, body: String) -> String {
        let digest = digest_of(body.as_bytes());
        let body = Bytes::from(body);
        let mut state = self.state.lock().unwrap();
        for reference in [tag.to_string(), digest.clone()] {
            state.manifests.insert(
                (repository.to_string(), reference),
                (media_type.to_string(), body.clone()),
            );
        }
        digest
    }

    /// Stores an image of the given layers (bottom first); returns the manifest's digest and size.
    pub fn push_image(
        &self,
        repository: &str,
        tag: &str,
        layers: Vec<(Vec<u8>, &str)>,
    ) -> (String, u64) {
        let config =
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        let (config_digest, config_size) = self.put_blob(config.to_vec());
        let layers: Vec<String> = layers
            .into_iter()
            .map(|(bytes, media_type)| {
                let (digest, size) = self.put_blob(bytes);
                format!(r#"{{"mediaType":"{media_type}","digest":"{digest}","size":{size}}}"#)
            })
            .collect();
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{config_size}}},"layers":[{}]}}"#,
            layers.join(",")
        );
        let size = body.len() as u64;
        let digest = self.put_manifest(
            repository,
            tag,
            "application/vnd.oci.image.manifest.v1+json",
            body,
        );
        (digest, size)
    }

    /// Stores an index of (manifest digest, size, os, architecture) entries.
    pub fn push_index(&self, repository: &str, tag: &str, entries: &[(String, u64, &str, &str)]) {
        let manifests: Vec<String> = entries
            .iter()
            .map(|(digest, size, os, architecture)| {
                format!(
                    r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{digest}","size":{size},"platform":{{"architecture":"{architecture}","os":"{os}"}}}}"#
                )
            })
            .collect();
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
            manifests.join(",")
        );
        self.put_manifest(
            repository,
            tag,
            "application/vnd.oci.image.index.v1+json",
            body,
        );
    }
}

/// A tar layer with the given files (directories are added for their parents).
pub fn tar_layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut directories = std::collections::BTreeSet::new();
    for (path, _) in files {
        if let Some((parent, _)) = path.rsplit_once('/') {
            directories.insert(parent.to_string());
        }
    }
    for directory in directories {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        header.set_size(0);
        builder
            .append_data(&mut header, format!("{directory}/"), std::io::empty())
            .unwrap();
    }
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_size(content.len() as u64);
        builder.append_data(&mut header, path, *content).unwrap();
    }
    builder.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 1).unwrap()
}
