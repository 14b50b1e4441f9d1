//! The `/v2` API over a real socket: streamed request bodies, large responses, broken clients.

mod common;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use common::*;
use dvp_dvcr::Digest;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

type ClientBody = BoxBody<Bytes, Infallible>;

async fn send(
    addr: std::net::SocketAddr,
    request: Request<ClientBody>,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let response = sender.send_request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes().to_vec(),
    )
}

fn empty() -> ClientBody {
    Empty::new().boxed()
}

/// A body sent with chunked transfer encoding, in 64 KiB frames.
fn streamed(data: Vec<u8>) -> ClientBody {
    let frames: Vec<Result<Frame<Bytes>, Infallible>> = data
        .chunks(64 * 1024)
        .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    StreamBody::new(futures::stream::iter(frames)).boxed()
}

fn request(
    method: Method,
    addr: std::net::SocketAddr,
    path: &str,
    body: ClientBody,
) -> Request<ClientBody> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string())
        .body(body)
        .unwrap()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

async fn start_session(addr: std::net::SocketAddr, name: &str) -> String {
    let (status, headers, _) = send(
        addr,
        request(
            Method::POST,
            addr,
            &format!("/v2/{name}/blobs/uploads/"),
            empty(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    header(&headers, "location").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_chunked_upload_and_large_download() {
    let (_dir, registry) = registry();
    let addr = serve(Arc::new(registry), allow_all()).await;
    let data = noise(3, 8 << 20);
    let digest = Digest::of_bytes(&data);

    let location = start_session(addr, "vi/default/big").await;
    let half = data.len() / 2;
    let (status, headers, _) = send(
        addr,
        request(
            Method::PATCH,
            addr,
            &location,
            streamed(data[..half].to_vec()),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(header(&headers, "range"), format!("0-{}", half - 1));
    let finish = format!("{location}?digest={digest}");
    let (status, _, body) = send(
        addr,
        request(Method::PUT, addr, &finish, streamed(data[half..].to_vec())),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );

    let blob = format!("/v2/vi/default/big/blobs/{digest}");
    let (status, headers, body) = send(addr, request(Method::GET, addr, &blob, empty())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "content-length"), data.len().to_string());
    assert!(body == data, "downloaded bytes differ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_over_the_wire_keeps_the_blob_length() {
    let (_dir, registry) = registry();
    let digest = registry.put_blob_bytes(&noise(1, 123_456)).unwrap();
    let addr = serve(Arc::new(registry), allow_all()).await;
    let (status, headers, body) = send(
        addr,
        request(
            Method::HEAD,
            addr,
            &format!("/v2/a/blobs/{digest}"),
            empty(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "content-length"), "123456");
    assert!(body.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_cut_off_by_the_client_can_be_resumed() {
    let (_dir, registry) = registry();
    let addr = serve(Arc::new(registry), allow_all()).await;
    let data = noise(9, 1 << 20);
    let location = start_session(addr, "vi/d/resume").await;

    // Announce the whole megabyte, send a third of it, hang up.
    let mut raw = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "PATCH {location} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\n\r\n",
        data.len()
    );
    raw.write_all(head.as_bytes()).await.unwrap();
    raw.write_all(&data[..data.len() / 3]).await.unwrap();
    raw.shutdown().await.unwrap();
    drop(raw);

    // The server keeps what arrived; the client asks how much and continues from there.
    let mut received = 0;
    for _ in 0..50 {
        let (status, headers, _) = send(addr, request(Method::GET, addr, &location, empty())).await;
        if status == StatusCode::NO_CONTENT {
            let range = header(&headers, "range").to_string();
            received = range.trim_start_matches("0-").parse::<usize>().unwrap() + 1;
            if received == data.len() / 3 {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        received > 0 && received <= data.len() / 3,
        "received {received}"
    );
    let rest = streamed(data[received..].to_vec());
    let patch = Request::builder()
        .method(Method::PATCH)
        .uri(&location)
        .header("host", addr.to_string())
        .header("content-range", format!("{received}-{}", data.len() - 1))
        .body(rest)
        .unwrap();
    let (status, _, body) = send(addr, patch).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let digest = Digest::of_bytes(&data);
    let (status, _, _) = send(
        addr,
        request(
            Method::PUT,
            addr,
            &format!("{location}?digest={digest}"),
            empty(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_socket_requests_are_challenged() {
    let (_dir, registry) = registry();
    let addr = serve(Arc::new(registry), token_auth()).await;
    let (status, headers, _) = send(addr, request(Method::GET, addr, "/v2/", empty())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(header(&headers, "www-authenticate"), "Basic realm=\"dvcr\"");
}
