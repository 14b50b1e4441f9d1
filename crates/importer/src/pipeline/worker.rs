//! Running blocking work (hashing, unpacking, writing) beside the async transfer, and getting
//! its result back.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::checksum::{Checksums, MultiHasher};
use crate::error::ImportError;
use crate::feed::FeedSender;
use crate::http::download::TransferError;

/// Waits for a blocking worker; a panic becomes an internal error.
pub(crate) async fn join<T>(worker: JoinHandle<Result<T, ImportError>>) -> Result<T, ImportError> {
    worker
        .await
        .map_err(|e| ImportError::Internal(format!("import worker failed: {e}")))?
}

/// Combines the outcome of a transfer with that of the worker consuming it: the worker's error
/// explains a transfer that stopped because the worker went away.
pub(crate) async fn settle<T>(
    sender: FeedSender,
    worker: JoinHandle<Result<T, ImportError>>,
    transferred: Result<u64, TransferError>,
) -> Result<(T, u64), ImportError> {
    match transferred {
        Ok(bytes) => {
            // If the worker is already gone, joining it tells why.
            let _ = sender.end().await;
            drop(sender);
            Ok((join(worker).await?, bytes))
        }
        Err(TransferError::Sink) => {
            drop(sender);
            match join(worker).await {
                Err(error) => Err(error),
                Ok(_) => Err(ImportError::Internal(
                    "the worker finished before the transfer".into(),
                )),
            }
        }
        Err(TransferError::Failed(error)) => {
            drop(sender);
            let _ = join(worker).await;
            Err(error)
        }
    }
}

/// A reader that counts (for progress) and optionally hashes the bytes it passes on.
pub(crate) struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
    hasher: Option<MultiHasher>,
}

impl<R: Read> CountingReader<R> {
    pub fn new(inner: R, count: Arc<AtomicU64>, hasher: Option<MultiHasher>) -> Self {
        CountingReader {
            inner,
            count,
            hasher,
        }
    }

    pub fn checksums(&self) -> Checksums {
        self.hasher
            .clone()
            .map(MultiHasher::finish)
            .unwrap_or_default()
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&buf[..n]);
        }
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Awaits `worker`, calling `tick` with the counter's value a few times a second meanwhile.
pub(crate) async fn with_ticks<T>(
    worker: JoinHandle<Result<T, ImportError>>,
    count: &AtomicU64,
    mut tick: impl FnMut(u64),
) -> Result<T, ImportError> {
    let mut worker = std::pin::pin!(join(worker));
    let mut ticker = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            result = &mut worker => {
                tick(count.load(Ordering::Relaxed));
                return result;
            }
            _ = ticker.tick() => tick(count.load(Ordering::Relaxed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::Algorithm;

    #[test]
    fn counting_reader_counts_and_hashes() {
        let count = Arc::new(AtomicU64::new(0));
        let mut reader = CountingReader::new(
            &b"abc"[..],
            count.clone(),
            Some(MultiHasher::new(&[Algorithm::Md5])),
        );
        io::copy(&mut reader, &mut io::sink()).unwrap();
        assert_eq!(count.load(Ordering::Relaxed), 3);
        assert_eq!(
            reader.checksums().md5.unwrap(),
            "900150983cd24fb0d6963f7d28e17f72"
        );
    }
}
