//! Streaming a watch as newline-delimited JSON over a chunked response, flushed per event.
//! Bookmarks go out only when the client allowed them; `timeoutSeconds` ends the stream cleanly;
//! otherwise the stream stays open (kubectl `get -w` exits when the server closes it).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use dvp_apimachinery::duration::now_unix;
use futures::StreamExt;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::negotiate::Representation;
use super::query::IncludeObject;
use super::table;
use crate::api::{WatchEvent, WatchEventType, WatchStream};
use crate::resources::Resource;

/// How often a bookmark is sent to a client that allowed them.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(30);

pub struct WatchParams {
    pub res: Arc<Resource>,
    pub version: String,
    pub repr: Representation,
    pub include: IncludeObject,
    pub timeout: Option<Duration>,
    pub bookmarks: bool,
    /// The revision the watch starts after (for bookmarks before any event).
    pub start_revision: u64,
}

fn encode(kind: WatchEventType, object: Value) -> Bytes {
    let mut line = serde_json::to_vec(&json!({"type": kind.as_str(), "object": object}))
        .expect("JSON serializes");
    line.push(b'\n');
    Bytes::from(line)
}

fn render(p: &WatchParams, ev: WatchEvent, first: &mut bool) -> Bytes {
    let object = match (p.repr, ev.kind) {
        (_, WatchEventType::Error) => ev.object,
        (Representation::Table, _) => {
            let with_columns = std::mem::take(first);
            table::table(
                &p.res,
                &p.version,
                std::slice::from_ref(&ev.object),
                Some(ev.revision),
                p.include,
                now_unix(),
                with_columns,
            )
        }
        _ => ev.object,
    };
    encode(ev.kind, object)
}

fn bookmark(p: &WatchParams, revision: u64) -> Bytes {
    let object = json!({
        "kind": p.res.kind,
        "apiVersion": p.res.api_version(&p.version),
        "metadata": {"resourceVersion": revision.to_string()},
    });
    encode(WatchEventType::Bookmark, object)
}

pub fn response(params: WatchParams, mut events: WatchStream) -> Response {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    tokio::spawn(async move {
        let deadline = params.timeout.map(|t| tokio::time::Instant::now() + t);
        let mut ticker = tokio::time::interval(BOOKMARK_INTERVAL);
        ticker.tick().await;
        let mut first = true;
        let mut last_revision = params.start_revision;
        loop {
            let chunk = tokio::select! {
                _ = tx.closed() => break,
                _ = async { tokio::time::sleep_until(deadline.expect("guarded")).await }, if deadline.is_some() => break,
                _ = ticker.tick(), if params.bookmarks => bookmark(&params, last_revision),
                ev = events.next() => match ev {
                    None => break,
                    Some(ev) => {
                        let end = ev.kind == WatchEventType::Error;
                        last_revision = last_revision.max(ev.revision);
                        let bytes = render(&params, ev, &mut first);
                        if end {
                            let _ = tx.send(Ok(bytes)).await;
                            break;
                        }
                        bytes
                    }
                },
            };
            if tx.send(Ok(chunk)).await.is_err() {
                break;
            }
        }
    });
    let mut resp = Response::new(Body::from_stream(ReceiverStream::new(rx)));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_one_json_object_per_line() {
        let b = encode(WatchEventType::Added, json!({"a": 1}));
        assert_eq!(&b[..], b"{\"object\":{\"a\":1},\"type\":\"ADDED\"}\n");
    }
}
