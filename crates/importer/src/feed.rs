//! Hands bytes received by async code to a blocking worker thread as a `Read`, hashing them on
//! the way. The transfer may restart from the beginning (a server that cannot resume), which the
//! reader reports as an error the worker recognises.

use std::io::{self, Read};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::checksum::{Algorithm, Checksums, MultiHasher};

/// Chunks in flight between the network and the worker (each up to a few hundred KiB).
pub(crate) const FEED_DEPTH: usize = 64;

pub(crate) enum Feed {
    Data(Bytes),
    /// The bytes so far are void: the source starts again from its first byte.
    Restart,
    /// The source is complete.
    End,
}

/// Why a [`FeedReader`] stopped early.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Interrupt {
    #[error("the transfer restarts from the beginning")]
    Restart,
    #[error("the transfer stopped before the end")]
    Aborted,
}

/// The async side: sends chunks; fails once the worker has stopped listening.
#[derive(Clone)]
pub(crate) struct FeedSender {
    tx: mpsc::Sender<Feed>,
}

/// The worker went away (it failed or finished early); its own result says why.
#[derive(Debug)]
pub(crate) struct WorkerGone;

impl FeedSender {
    pub async fn data(&self, chunk: Bytes) -> Result<(), WorkerGone> {
        self.tx
            .send(Feed::Data(chunk))
            .await
            .map_err(|_| WorkerGone)
    }

    pub async fn restart(&self) -> Result<(), WorkerGone> {
        self.tx.send(Feed::Restart).await.map_err(|_| WorkerGone)
    }

    pub async fn end(&self) -> Result<(), WorkerGone> {
        self.tx.send(Feed::End).await.map_err(|_| WorkerGone)
    }
}

/// The blocking side.
pub(crate) struct FeedReader {
    rx: mpsc::Receiver<Feed>,
    chunk: Bytes,
    hasher: MultiHasher,
    ended: bool,
    restarted: bool,
    stop: CancellationToken,
}

pub(crate) fn channel(
    algorithms: &[Algorithm],
    stop: CancellationToken,
) -> (FeedSender, FeedReader) {
    let (tx, rx) = mpsc::channel(FEED_DEPTH);
    let reader = FeedReader {
        rx,
        chunk: Bytes::new(),
        hasher: MultiHasher::new(algorithms),
        ended: false,
        restarted: false,
        stop,
    };
    (FeedSender { tx }, reader)
}

impl FeedReader {
    /// True once after the reader reported [`Interrupt::Restart`].
    pub fn take_restart(&mut self) -> bool {
        std::mem::take(&mut self.restarted)
    }

    /// The next bytes as they arrived (no copy); `None` at the end of the source.
    pub fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
        loop {
            if !self.chunk.is_empty() {
                return Ok(Some(std::mem::take(&mut self.chunk)));
            }
            if self.ended {
                return Ok(None);
            }
            if self.stop.is_cancelled() {
                return Err(io::Error::other(Interrupt::Aborted));
            }
            self.receive()?;
        }
    }

    fn receive(&mut self) -> io::Result<()> {
        match self.rx.blocking_recv() {
            Some(Feed::Data(chunk)) => {
                self.hasher.update(&chunk);
                self.chunk = chunk;
                Ok(())
            }
            Some(Feed::Restart) => {
                self.hasher.reset();
                self.chunk = Bytes::new();
                self.restarted = true;
                Err(io::Error::other(Interrupt::Restart))
            }
            Some(Feed::End) => {
                self.ended = true;
                Ok(())
            }
            None => Err(io::Error::other(Interrupt::Aborted)),
        }
    }

    /// Digests of every byte since the last restart.
    pub fn checksums(&self) -> Checksums {
        self.hasher.clone().finish()
    }
}

impl Read for FeedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if !self.chunk.is_empty() {
                let n = self.chunk.len().min(buf.len());
                buf[..n].copy_from_slice(&self.chunk[..n]);
                bytes::Buf::advance(&mut self.chunk, n);
                return Ok(n);
            }
            if self.ended || buf.is_empty() {
                return Ok(0);
            }
            if self.stop.is_cancelled() {
                return Err(io::Error::other(Interrupt::Aborted));
            }
            self.receive()?;
        }
    }
}

/// The [`Interrupt`] inside an I/O error produced by a [`FeedReader`], if any.
pub(crate) fn interrupt(error: &io::Error) -> Option<&Interrupt> {
    error.get_ref()?.downcast_ref::<Interrupt>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_sees_every_byte_and_hashes_it() {
        let (sender, mut reader) = channel(&[Algorithm::Md5], CancellationToken::new());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let worker = std::thread::spawn(move || {
            let mut all = Vec::new();
            reader
                .read_to_end(&mut all)
                .map(|_| (all, reader.checksums()))
        });
        runtime.block_on(async {
            sender.data(Bytes::from_static(b"a")).await.unwrap();
            sender.data(Bytes::from_static(b"bc")).await.unwrap();
            sender.end().await.unwrap();
        });
        let (all, sums) = worker.join().unwrap().unwrap();
        assert_eq!(all, b"abc");
        assert_eq!(sums.md5.unwrap(), "900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn restart_is_an_interrupt_and_resets_the_hash() {
        let (sender, mut reader) = channel(&[Algorithm::Md5], CancellationToken::new());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            sender.data(Bytes::from_static(b"xyz")).await.unwrap();
            sender.restart().await.unwrap();
            sender.data(Bytes::from_static(b"abc")).await.unwrap();
            sender.end().await.unwrap();
        });
        let mut first = Vec::new();
        let error = reader.read_to_end(&mut first).unwrap_err();
        assert!(matches!(interrupt(&error), Some(Interrupt::Restart)));
        assert!(reader.take_restart());
        assert!(!reader.take_restart());
        let mut second = Vec::new();
        reader.read_to_end(&mut second).unwrap();
        assert_eq!(second, b"abc");
        assert_eq!(
            reader.checksums().md5.unwrap(),
            "900150983cd24fb0d6963f7d28e17f72"
        );
    }

    #[test]
    fn chunks_come_out_whole_after_a_partial_read() {
        let (sender, mut reader) = channel(&[], CancellationToken::new());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            sender
                .data(Bytes::from_static(b"header+rest"))
                .await
                .unwrap();
            sender.data(Bytes::from_static(b"next")).await.unwrap();
            sender.end().await.unwrap();
        });
        let mut prefix = [0u8; 6];
        reader.read_exact(&mut prefix).unwrap();
        assert_eq!(&prefix, b"header");
        assert_eq!(reader.next_chunk().unwrap().unwrap(), "+rest");
        assert_eq!(reader.next_chunk().unwrap().unwrap(), "next");
        assert_eq!(reader.next_chunk().unwrap(), None);
    }

    #[test]
    fn dropped_sender_aborts_the_reader() {
        let (sender, mut reader) = channel(&[], CancellationToken::new());
        drop(sender);
        let error = reader.read(&mut [0u8; 4]).unwrap_err();
        assert!(matches!(interrupt(&error), Some(Interrupt::Aborted)));
    }
}
