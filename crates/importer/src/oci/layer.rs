//! Finding the disk in an image layer: a tar archive (plain, gzip or zstd) holding one file
//! under `/disk/`, unpacked into the stager as it streams by.

use std::io::{self, Cursor, Read};
use std::path::{Component, Path};

use tokio_util::sync::CancellationToken;

use crate::checksum::Algorithm;
use crate::error::ImportError;
use crate::feed::{FeedReader, interrupt};
use crate::sniff::{COMPRESSION_MAGIC_LEN, Compression, detect_compression};
use crate::stage::Stager;
use crate::unpack::{Input, Unpacked, unpack};

/// Whether a tar entry's path is a file under the image's `/disk/` directory.
pub(crate) fn is_disk_path(path: &Path) -> bool {
    let components: Vec<Component> = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir | Component::RootDir))
        .collect();
    components.len() >= 2
        && components[0] == Component::Normal("disk".as_ref())
        && components.iter().all(|c| matches!(c, Component::Normal(_)))
}

/// The algorithm and hex value of an OCI digest (`sha256:…`, `sha512:…`).
pub(crate) fn digest_parts(digest: &str) -> Option<(Algorithm, &str)> {
    match digest.split_once(':')? {
        ("sha256", hex) => Some((Algorithm::Sha256, hex)),
        ("sha512", hex) => Some((Algorithm::Sha512, hex)),
        _ => None,
    }
}

fn layer_error(digest: &str, error: io::Error) -> ImportError {
    if interrupt(&error).is_some() {
        return ImportError::Cancelled;
    }
    ImportError::Corrupt {
        detail: format!("layer {digest} is not a readable tar archive: {error}"),
    }
}

fn read_prefix(reader: &mut FeedReader) -> io::Result<Vec<u8>> {
    let mut prefix = Vec::with_capacity(COMPRESSION_MAGIC_LEN);
    let mut buf = [0u8; COMPRESSION_MAGIC_LEN];
    while prefix.len() < COMPRESSION_MAGIC_LEN {
        match reader.read(&mut buf[..COMPRESSION_MAGIC_LEN - prefix.len()])? {
            0 => break,
            n => prefix.extend_from_slice(&buf[..n]),
        }
    }
    Ok(prefix)
}

/// One pass over the layer: the disk if the layer has one. Reads the layer to its end either
/// way so its digest covers every byte.
fn extract_once(
    reader: &mut FeedReader,
    digest: &str,
    stager: &mut Stager,
    stop: &CancellationToken,
) -> Result<Option<Unpacked>, ImportError> {
    let prefix = read_prefix(reader).map_err(|e| layer_error(digest, e))?;
    let compression = detect_compression(&prefix).map_err(|e| ImportError::Corrupt {
        detail: format!("layer {digest}: {e}"),
    })?;
    let chained = Cursor::new(prefix).chain(&mut *reader);
    let decoded: Box<dyn Read + '_> = match compression {
        None => Box::new(chained),
        Some(Compression::Gzip) => Box::new(flate2::read::MultiGzDecoder::new(chained)),
        Some(Compression::Zstd) => {
            Box::new(zstd::stream::read::Decoder::new(chained).map_err(|e| layer_error(digest, e))?)
        }
        Some(Compression::Xz) => Box::new(liblzma::read::XzDecoder::new_multi_decoder(chained)),
    };
    let mut archive = tar::Archive::new(decoded);
    let mut found = None;
    for entry in archive.entries().map_err(|e| layer_error(digest, e))? {
        let mut entry = entry.map_err(|e| layer_error(digest, e))?;
        let is_disk = entry.header().entry_type().is_file()
            && entry.path().is_ok_and(|path| is_disk_path(&path));
        if is_disk {
            found = Some(unpack(Input::Reader(&mut entry), stager, stop, &|e| {
                layer_error(digest, e)
            })?);
            break;
        }
    }
    io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(|e| layer_error(digest, e))?;
    Ok(found)
}

/// Worker body: extracts the disk from a layer streamed through `reader`, starting over when
/// the transfer restarts, and checks the layer's digest at the end.
pub(crate) fn extract_disk(
    mut reader: FeedReader,
    digest: &str,
    mut stager: Stager,
    stop: &CancellationToken,
) -> Result<Option<Unpacked>, ImportError> {
    let (algorithm, expected) = digest_parts(digest).ok_or_else(|| ImportError::Unsupported {
        detail: format!("layer digest {digest} uses an unknown algorithm"),
    })?;
    loop {
        match extract_once(&mut reader, digest, &mut stager, stop) {
            Ok(found) => {
                let actual = reader.checksums();
                let actual = actual.get(algorithm).unwrap_or_default();
                if !actual.eq_ignore_ascii_case(expected) {
                    return Err(ImportError::Corrupt {
                        detail: format!(
                            "layer {digest} arrived with digest {algorithm}:{actual}; the registry sent damaged data"
                        ),
                    });
                }
                return Ok(found);
            }
            Err(_) if reader.take_restart() => stager.reset()?,
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_paths() {
        assert!(is_disk_path(Path::new("disk/tiny.qcow2")));
        assert!(is_disk_path(Path::new("./disk/tiny.qcow2")));
        assert!(is_disk_path(Path::new("/disk/tiny.qcow2")));
        assert!(!is_disk_path(Path::new("disk")));
        assert!(!is_disk_path(Path::new("disk/")));
        assert!(!is_disk_path(Path::new("etc/disk/x")));
        assert!(!is_disk_path(Path::new("disk/../etc/passwd")));
    }

    #[test]
    fn digest_algorithms() {
        assert_eq!(digest_parts("sha256:abc"), Some((Algorithm::Sha256, "abc")));
        assert_eq!(digest_parts("md5:abc"), None);
    }
}
