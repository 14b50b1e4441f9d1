//! Reading an image's bytes, unwrapping gzip/xz/zstd recognised by magic bytes (never by file
//! name), into a [`Stager`].

use std::io::{self, Cursor, Read};

use tokio_util::sync::CancellationToken;

use crate::error::ImportError;
use crate::feed::FeedReader;
use crate::sniff::{COMPRESSION_MAGIC_LEN, Compression, detect_compression};
use crate::stage::{Staged, Stager, sniff_error};

/// A staged image and the wrapper it came in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Unpacked {
    pub staged: Staged,
    pub compression: Option<Compression>,
}

/// Marks errors of the underlying source so they are not mistaken for corrupt compressed data.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct SourceError(io::Error);

struct Tagged<R>(R);

impl<R: Read> Read for Tagged<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0
            .read(buf)
            .map_err(|e| io::Error::other(SourceError(e)))
    }
}

/// Reads until `want` bytes are in `into` or the source ends.
fn read_prefix(source: &mut impl Read, into: &mut Vec<u8>, want: usize) -> io::Result<()> {
    let mut buf = [0u8; COMPRESSION_MAGIC_LEN];
    while into.len() < want {
        match source.read(&mut buf[..want - into.len()]) {
            Ok(0) => break,
            Ok(n) => into.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

const COPY_BUFFER: usize = 1 << 20;

/// Where the bytes come from. A feed hands over uncompressed bytes without copying them.
pub(crate) enum Input<'a> {
    Reader(&'a mut dyn Read),
    Feed(&'a mut FeedReader),
}

impl<'a> From<&'a mut FeedReader> for Input<'a> {
    fn from(feed: &'a mut FeedReader) -> Self {
        Input::Feed(feed)
    }
}

impl Input<'_> {
    fn as_read(&mut self) -> &mut dyn Read {
        match self {
            Input::Reader(reader) => *reader,
            Input::Feed(feed) => *feed,
        }
    }
}

/// Moves a feed's remaining chunks into the stager as they are.
fn pump_chunks(
    feed: &mut FeedReader,
    stager: &mut Stager,
    stop: &CancellationToken,
    source_error: &dyn Fn(io::Error) -> ImportError,
) -> Result<(), ImportError> {
    loop {
        if stop.is_cancelled() {
            return Err(ImportError::Cancelled);
        }
        match feed.next_chunk().map_err(source_error)? {
            Some(chunk) => stager.push(&chunk)?,
            None => return Ok(()),
        }
    }
}

/// Unwraps `input` into `stager` and finishes it. Errors of the input itself go through
/// `source_error`; errors of the decompressor mean corrupt compressed data.
pub(crate) fn unpack(
    mut input: Input<'_>,
    stager: &mut Stager,
    stop: &CancellationToken,
    source_error: &dyn Fn(io::Error) -> ImportError,
) -> Result<Unpacked, ImportError> {
    let read_failed = |error: io::Error, compression: Option<Compression>| -> ImportError {
        let is_source = error
            .get_ref()
            .is_some_and(|inner| inner.is::<SourceError>());
        if is_source {
            let inner = error.into_inner().expect("checked above");
            let SourceError(original) = *inner.downcast::<SourceError>().expect("checked above");
            return source_error(original);
        }
        match compression {
            Some(compression) => ImportError::CorruptCompression {
                compression: compression.name(),
                detail: error.to_string(),
            },
            None => source_error(error),
        }
    };

    let mut prefix = Vec::with_capacity(COMPRESSION_MAGIC_LEN);
    read_prefix(
        &mut Tagged(input.as_read()),
        &mut prefix,
        COMPRESSION_MAGIC_LEN,
    )
    .map_err(|e| read_failed(e, None))?;
    let compression = detect_compression(&prefix).map_err(sniff_error)?;
    stager.set_compression(compression);

    if let (None, Input::Feed(feed)) = (compression, &mut input) {
        stager.push(&prefix)?;
        pump_chunks(feed, stager, stop, source_error)?;
        return Ok(Unpacked {
            staged: stager.finish()?,
            compression,
        });
    }

    let source = Tagged(input.as_read());
    let chained = Cursor::new(prefix).chain(source);
    let mut reader: Box<dyn Read + '_> = match compression {
        None => Box::new(chained),
        Some(Compression::Gzip) => Box::new(flate2::read::MultiGzDecoder::new(chained)),
        Some(Compression::Xz) => Box::new(liblzma::read::XzDecoder::new_multi_decoder(chained)),
        Some(Compression::Zstd) => Box::new(
            zstd::stream::read::Decoder::new(chained).map_err(|e| read_failed(e, compression))?,
        ),
    };

    let mut buffer = vec![0u8; COPY_BUFFER];
    loop {
        if stop.is_cancelled() {
            return Err(ImportError::Cancelled);
        }
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_failed(e, compression)),
        };
        stager.push(&buffer[..n])?;
    }
    Ok(Unpacked {
        staged: stager.finish()?,
        compression,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::sniff::SourceFormat;
    use crate::stage::StageLimits;

    const LIMITS: StageLimits = StageLimits {
        max_unpacked_bytes: 1 << 30,
        max_virtual_size: None,
    };

    fn payload() -> Vec<u8> {
        (0..300_000u32).map(|i| (i % 251) as u8).collect()
    }

    fn run(input: &[u8]) -> Result<(Unpacked, Vec<u8>), ImportError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("staged");
        let mut stager = Stager::create(&path, LIMITS).unwrap();
        let mut source = input;
        let unpacked = unpack(
            Input::Reader(&mut source),
            &mut stager,
            &CancellationToken::new(),
            &|e| ImportError::Io {
                context: "reading".into(),
                source: e,
            },
        )?;
        let bytes = std::fs::read(&path).unwrap();
        Ok((unpacked, bytes))
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn xz(data: &[u8]) -> Vec<u8> {
        let mut encoder = liblzma::write::XzEncoder::new(Vec::new(), 1);
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn plain_bytes_pass_through() {
        let (unpacked, bytes) = run(&payload()).unwrap();
        assert_eq!(unpacked.compression, None);
        assert_eq!(unpacked.staged.facts.format, SourceFormat::Raw);
        assert_eq!(bytes, payload());
    }

    #[test]
    fn gzip_is_recognised_and_unpacked() {
        let (unpacked, bytes) = run(&gzip(&payload())).unwrap();
        assert_eq!(unpacked.compression, Some(Compression::Gzip));
        assert_eq!(bytes, payload());
    }

    #[test]
    fn concatenated_gzip_members_are_all_unpacked() {
        let mut input = gzip(b"first ");
        input.extend(gzip(b"second"));
        let (_, bytes) = run(&input).unwrap();
        assert_eq!(bytes, b"first second");
    }

    #[test]
    fn xz_is_recognised_and_unpacked() {
        let (unpacked, bytes) = run(&xz(&payload())).unwrap();
        assert_eq!(unpacked.compression, Some(Compression::Xz));
        assert_eq!(bytes, payload());
    }

    #[test]
    fn zstd_is_recognised_and_unpacked() {
        let compressed = zstd::encode_all(&payload()[..], 1).unwrap();
        let (unpacked, bytes) = run(&compressed).unwrap();
        assert_eq!(unpacked.compression, Some(Compression::Zstd));
        assert_eq!(bytes, payload());
    }

    #[test]
    fn truncated_gzip_is_corrupt_compression() {
        let compressed = gzip(&payload());
        let error = run(&compressed[..compressed.len() / 2]).unwrap_err();
        assert!(
            matches!(
                error,
                ImportError::CorruptCompression {
                    compression: "gzip",
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn gzip_with_a_wrong_size_trailer_is_corrupt() {
        let mut compressed = gzip(&payload());
        let len = compressed.len();
        compressed[len - 4..].copy_from_slice(&7u32.to_le_bytes());
        assert!(matches!(
            run(&compressed).unwrap_err(),
            ImportError::CorruptCompression { .. }
        ));
    }

    #[test]
    fn truncated_xz_is_corrupt_compression() {
        let compressed = xz(&payload());
        let error = run(&compressed[..compressed.len() - 10]).unwrap_err();
        assert!(
            matches!(
                error,
                ImportError::CorruptCompression {
                    compression: "xz",
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn source_errors_are_not_blamed_on_compression() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::from_raw_os_error(5))
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let mut stager = Stager::create(&dir.path().join("s"), LIMITS).unwrap();
        let error = unpack(
            Input::Reader(&mut Failing),
            &mut stager,
            &CancellationToken::new(),
            &|e| ImportError::Io {
                context: "from the source".into(),
                source: e,
            },
        )
        .unwrap_err();
        assert!(error.to_string().starts_with("from the source"), "{error}");
    }
}
