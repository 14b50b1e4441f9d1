//! Moving bytes between HTTP bodies and files without blocking the async runtime: request
//! bodies are fed through a bounded channel to a blocking writer thread, blobs are read in
//! large chunks.

use std::io;

use axum::body::Body;
use bytes::Bytes;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::error::ApiError;
use crate::blobs::BlobWriter;
use crate::error::DvcrError;
use crate::uploads::UploadAppend;

/// Chunks read from a blob file per body frame.
const READ_CHUNK: usize = 256 * 1024;
/// Body frames buffered between the network and the writer thread.
const CHANNEL_DEPTH: usize = 16;

/// Something request bytes are written to on a blocking thread.
pub(crate) trait ChunkSink: Send + 'static {
    fn write_chunk(&mut self, bytes: &[u8]) -> Result<(), DvcrError>;
}

impl ChunkSink for BlobWriter {
    fn write_chunk(&mut self, bytes: &[u8]) -> Result<(), DvcrError> {
        self.write(bytes)
    }
}

impl ChunkSink for UploadAppend {
    fn write_chunk(&mut self, bytes: &[u8]) -> Result<(), DvcrError> {
        self.write(bytes)
    }
}

/// How pumping a body ended.
pub(crate) enum Pumped<S> {
    /// The whole body was written.
    Complete(S),
    /// The client's body broke off; the sink holds what arrived before.
    BodyFailed(S, String),
}

/// Writes the whole request body into `sink` on a blocking thread.
pub(crate) async fn pump<S: ChunkSink>(body: Body, sink: S) -> Result<Pumped<S>, ApiError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(CHANNEL_DEPTH);
    let writer = tokio::task::spawn_blocking(move || {
        let mut sink = sink;
        while let Some(chunk) = rx.blocking_recv() {
            sink.write_chunk(&chunk)?;
        }
        Ok::<S, DvcrError>(sink)
    });
    let mut frames = body.into_data_stream();
    let mut body_error = None;
    while let Some(frame) = frames.next().await {
        match frame {
            Ok(bytes) => {
                if tx.send(bytes).await.is_err() {
                    break; // the writer failed; its error is reported below
                }
            }
            Err(e) => {
                body_error = Some(e.to_string());
                break;
            }
        }
    }
    drop(tx);
    let sink = writer
        .await
        .map_err(|e| ApiError::internal(format!("blob writer failed: {e}")))??;
    Ok(match body_error {
        None => Pumped::Complete(sink),
        Some(error) => Pumped::BodyFailed(sink, error),
    })
}

/// A response body streaming `len` bytes of `path` from `start`.
pub(crate) async fn file_body(path: &std::path::Path, start: u64, len: u64) -> io::Result<Body> {
    let mut file = tokio::fs::File::open(path).await?;
    if start > 0 {
        file.seek(io::SeekFrom::Start(start)).await?;
    }
    let chunks = futures::stream::try_unfold((file, len), |(mut file, remaining)| async move {
        if remaining == 0 {
            return Ok(None);
        }
        let mut buf = vec![0; READ_CHUNK.min(remaining as usize)];
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "blob file ended early",
            ));
        }
        buf.truncate(n);
        Ok::<_, io::Error>(Some((Bytes::from(buf), (file, remaining - n as u64))))
    });
    Ok(Body::from_stream(chunks))
}
