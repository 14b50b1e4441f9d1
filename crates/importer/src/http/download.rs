//! Streaming a URL into a [`FeedSender`] with retries: transient failures are retried with
//! backoff, and a transfer cut short resumes with `Range` (or starts over when the server
//! cannot resume).

use std::time::Duration;

use http::header::{
    CONTENT_LENGTH, CONTENT_RANGE, ETAG, IF_RANGE, LAST_MODIFIED, RANGE, RETRY_AFTER,
};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::client::HttpClient;
use super::retry::{RetryPolicy, is_transient_status, parse_retry_after};
use crate::error::ImportError;
use crate::feed::{FeedSender, WorkerGone};

/// Why a download stopped.
#[derive(Debug)]
pub(crate) enum TransferError {
    /// The worker consuming the bytes stopped; its own result holds the reason.
    Sink,
    Failed(ImportError),
}

impl From<ImportError> for TransferError {
    fn from(error: ImportError) -> Self {
        TransferError::Failed(error)
    }
}

impl From<WorkerGone> for TransferError {
    fn from(_: WorkerGone) -> Self {
        TransferError::Sink
    }
}

/// `Content-Range: bytes START-END/TOTAL` (TOTAL may be `*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ContentRange {
    pub start: u64,
    pub end: u64,
    pub total: Option<u64>,
}

pub(crate) fn parse_content_range(value: &str) -> Option<ContentRange> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let total = match total.trim() {
        "*" => None,
        total => Some(total.parse().ok()?),
    };
    let range = ContentRange {
        start: start.trim().parse().ok()?,
        end: end.trim().parse().ok()?,
        total,
    };
    (range.start <= range.end).then_some(range)
}

/// The validator that makes a resumed request safe: a strong ETag, else Last-Modified.
pub(crate) fn resume_validator(headers: &HeaderMap) -> Option<HeaderValue> {
    headers
        .get(ETAG)
        .filter(|etag| !etag.as_bytes().starts_with(b"W/"))
        .or_else(|| headers.get(LAST_MODIFIED))
        .cloned()
}

/// How one attempt went.
enum Attempt {
    Complete,
    /// Worth another try; `progressed` tells whether bytes arrived in this attempt.
    Retry {
        reason: String,
        progressed: bool,
        hint: Option<Duration>,
    },
}

/// Progress of a download across attempts.
struct State {
    received: u64,
    total: Option<u64>,
    validator: Option<HeaderValue>,
}

fn header_u64(headers: &HeaderMap, name: http::header::HeaderName) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// Downloads `url` into `sink`, reporting `(received, total)` after every chunk. Returns the
/// number of bytes of the complete resource.
pub(crate) async fn download(
    client: &HttpClient,
    url: &Url,
    headers: &HeaderMap,
    retry: &RetryPolicy,
    stop: &CancellationToken,
    sink: &FeedSender,
    on_bytes: &mut (dyn FnMut(u64, Option<u64>) + Send),
) -> Result<u64, TransferError> {
    let mut state = State {
        received: 0,
        total: None,
        validator: None,
    };
    let mut failures = 0u32;
    loop {
        let attempt = attempt(client, url, headers, stop, sink, on_bytes, &mut state).await?;
        match attempt {
            Attempt::Complete => return Ok(state.received),
            Attempt::Retry {
                reason,
                progressed,
                hint,
            } => {
                failures = if progressed { 1 } else { failures + 1 };
                if failures >= retry.attempts.max(1) {
                    return Err(ImportError::RetriesExhausted {
                        url: url.to_string(),
                        attempts: failures,
                        last_error: reason,
                    }
                    .into());
                }
                let wait = retry.backoff_with_hint(failures - 1, hint);
                tracing::debug!(%url, %reason, ?wait, "retrying download");
                tokio::select! {
                    _ = stop.cancelled() => return Err(ImportError::Cancelled.into()),
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

async fn attempt(
    client: &HttpClient,
    url: &Url,
    headers: &HeaderMap,
    stop: &CancellationToken,
    sink: &FeedSender,
    on_bytes: &mut (dyn FnMut(u64, Option<u64>) + Send),
    state: &mut State,
) -> Result<Attempt, TransferError> {
    let mut request_headers = headers.clone();
    if state.received > 0 {
        let range = HeaderValue::from_str(&format!("bytes={}-", state.received))
            .expect("a range is a valid header value");
        request_headers.insert(RANGE, range);
        if let Some(validator) = &state.validator {
            request_headers.insert(IF_RANGE, validator.clone());
        }
    }
    let sent = tokio::select! {
        _ = stop.cancelled() => return Err(ImportError::Cancelled.into()),
        sent = client.get(url, &request_headers) => sent,
    };
    let response = match sent {
        Ok((_, response)) => response,
        Err(error) if error.is_transient() => {
            return Ok(Attempt::Retry {
                reason: error.to_string(),
                progressed: false,
                hint: None,
            });
        }
        Err(error) => {
            return Err(ImportError::Http {
                url: url.to_string(),
                message: error.to_string(),
            }
            .into());
        }
    };

    let status = response.status();
    match status {
        StatusCode::OK => {
            if state.received > 0 {
                // The server sent the whole resource again: start over.
                sink.restart().await?;
                state.received = 0;
            }
            state.total = header_u64(response.headers(), CONTENT_LENGTH);
            state.validator = resume_validator(response.headers());
        }
        StatusCode::PARTIAL_CONTENT if state.received > 0 => {
            let range = response
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_content_range);
            match range {
                Some(range) if range.start == state.received => {
                    state.total = range.total.or(state.total);
                }
                _ => {
                    // A range we did not ask for: forget resuming, fetch everything again.
                    sink.restart().await?;
                    state.received = 0;
                    state.validator = None;
                    return Ok(Attempt::Retry {
                        reason: "the server resumed at the wrong offset".into(),
                        progressed: false,
                        hint: None,
                    });
                }
            }
        }
        StatusCode::RANGE_NOT_SATISFIABLE if Some(state.received) == state.total => {
            return Ok(Attempt::Complete);
        }
        status if is_transient_status(status) => {
            let hint = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            return Ok(Attempt::Retry {
                reason: format!("the server answered {}", status_text(status)),
                progressed: false,
                hint,
            });
        }
        status => {
            return Err(ImportError::HttpStatus {
                url: url.to_string(),
                status: status_text(status),
            }
            .into());
        }
    }
    stream_body(response, client, stop, sink, on_bytes, state).await
}

async fn stream_body(
    response: Response<Incoming>,
    client: &HttpClient,
    stop: &CancellationToken,
    sink: &FeedSender,
    on_bytes: &mut (dyn FnMut(u64, Option<u64>) + Send),
    state: &mut State,
) -> Result<Attempt, TransferError> {
    let mut body = response.into_body();
    let started_at = state.received;
    let idle = client.timeouts().idle;
    on_bytes(state.received, state.total);
    loop {
        let frame = tokio::select! {
            _ = stop.cancelled() => return Err(ImportError::Cancelled.into()),
            frame = tokio::time::timeout(idle, body.frame()) => frame,
        };
        let reason = match frame {
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    state.received += data.len() as u64;
                    sink.data(data).await?;
                    on_bytes(state.received, state.total);
                }
                continue;
            }
            Ok(None) => match state.total {
                Some(total) if state.received < total => {
                    format!(
                        "the connection closed after {} of {total} bytes",
                        state.received
                    )
                }
                _ => return Ok(Attempt::Complete),
            },
            Ok(Some(Err(error))) => format!(
                "the connection broke after {} bytes: {error}",
                state.received
            ),
            Err(_) => format!("no data for {} seconds", idle.as_secs()),
        };
        return Ok(Attempt::Retry {
            reason,
            progressed: state.received > started_at,
            hint: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_with_total() {
        assert_eq!(
            parse_content_range("bytes 100-199/1000"),
            Some(ContentRange {
                start: 100,
                end: 199,
                total: Some(1000)
            })
        );
    }

    #[test]
    fn content_range_with_unknown_total() {
        assert_eq!(parse_content_range("bytes 0-9/*").unwrap().total, None);
    }

    #[test]
    fn malformed_content_ranges() {
        assert_eq!(parse_content_range("bytes */1000"), None);
        assert_eq!(parse_content_range("items 0-9/10"), None);
        assert_eq!(parse_content_range("bytes 9-0/10"), None);
    }

    #[test]
    fn strong_etag_is_preferred_weak_one_skipped() {
        let mut headers = HeaderMap::new();
        headers.insert(
            LAST_MODIFIED,
            HeaderValue::from_static("Tue, 01 Jan 2030 00:00:00 GMT"),
        );
        headers.insert(ETAG, HeaderValue::from_static("\"abc\""));
        assert_eq!(resume_validator(&headers).unwrap(), "\"abc\"");
        headers.insert(ETAG, HeaderValue::from_static("W/\"abc\""));
        assert_eq!(
            resume_validator(&headers).unwrap(),
            "Tue, 01 Jan 2030 00:00:00 GMT"
        );
        assert_eq!(resume_validator(&HeaderMap::new()), None);
    }

    #[test]
    fn status_text_has_reason() {
        assert_eq!(status_text(StatusCode::NOT_FOUND), "404 Not Found");
        assert_eq!(status_text(StatusCode::from_u16(599).unwrap()), "599");
    }
}
