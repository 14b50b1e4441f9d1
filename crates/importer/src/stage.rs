//! Writing an image's (decompressed) bytes to a scratch file: recognises the format from the
//! first bytes, refuses unsafe headers at once, caps the size, and leaves zero blocks as holes.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{ImportError, size};
use crate::sniff::{self, Compression, HEADER_LEN, HeaderFacts, SniffError, SourceFormat};

/// Size caps for the bytes of one image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StageLimits {
    /// Absolute cap on the unpacked bytes.
    pub max_unpacked_bytes: u64,
    /// The largest guest disk the caller accepts.
    pub max_virtual_size: Option<u64>,
}

/// Slack over a header's announced size: qcow2 metadata, vmdk grain tables, internal snapshots.
pub(crate) fn announced_cap(announced: u64) -> u64 {
    announced.saturating_mul(2).saturating_add(64 << 20)
}

/// Why the byte cap has the value it has (for the refusal message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CapReason {
    Configured,
    Announced(u64),
    VirtualSizeLimit,
}

/// A finished scratch file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Staged {
    pub path: PathBuf,
    pub facts: HeaderFacts,
    /// Logical size of the file (holes included).
    pub size: u64,
}

const BLOCK: usize = 4096;

fn is_zero(block: &[u8]) -> bool {
    block.iter().fold(0u8, |acc, b| acc | b) == 0
}

/// Maps a header refusal to the user-facing error.
pub(crate) fn sniff_error(error: SniffError) -> ImportError {
    match error {
        SniffError::BackingFile => ImportError::ExternalFile {
            file: "a backing file named in the qcow2 header".into(),
        },
        SniffError::ExternalDataFile => ImportError::ExternalFile {
            file: "an external data file named in the qcow2 header".into(),
        },
        SniffError::VmdkDescriptor => ImportError::ExternalFile {
            file: "the extents listed in a VMDK descriptor".into(),
        },
        SniffError::Encrypted => ImportError::Encrypted,
        SniffError::Empty => ImportError::Corrupt {
            detail: "the image is empty".into(),
        },
        SniffError::Unsupported(what) => ImportError::Unsupported {
            detail: format!(
                "{what} are not supported; use qcow2, raw, vmdk, vdi or ISO, optionally gz- or xz-compressed"
            ),
        },
    }
}

/// Checks a header's facts against the caller's limits before any more bytes arrive.
pub(crate) fn check_announced(
    facts: &HeaderFacts,
    limits: &StageLimits,
) -> Result<(), ImportError> {
    if let (Some(announced), Some(limit)) = (facts.announced_size, limits.max_virtual_size)
        && announced > limit
    {
        return Err(ImportError::TooLarge {
            virtual_size: announced,
            limit,
        });
    }
    Ok(())
}

pub(crate) struct Stager {
    path: PathBuf,
    file: File,
    limits: StageLimits,
    compression: Option<Compression>,
    written: u64,
    header: Vec<u8>,
    facts: Option<HeaderFacts>,
    cap: u64,
    cap_reason: CapReason,
}

impl Stager {
    /// Creates (or truncates) the scratch file at `path`.
    pub fn create(path: &Path, limits: StageLimits) -> Result<Stager, ImportError> {
        let file = File::create(path).map_err(|e| ImportError::io(path, "creating", e))?;
        Ok(Stager {
            path: path.to_path_buf(),
            file,
            limits,
            compression: None,
            written: 0,
            header: Vec::with_capacity(HEADER_LEN),
            facts: None,
            cap: limits.max_unpacked_bytes,
            cap_reason: CapReason::Configured,
        })
    }

    /// The wrapper the bytes were unpacked from (for messages about oversized content).
    pub fn set_compression(&mut self, compression: Option<Compression>) {
        self.compression = compression;
    }

    /// Forgets everything written: the source starts over.
    pub fn reset(&mut self) -> Result<(), ImportError> {
        self.file
            .set_len(0)
            .map_err(|e| ImportError::io(&self.path, "truncating", e))?;
        self.written = 0;
        self.header.clear();
        self.facts = None;
        self.compression = None;
        self.cap = self.limits.max_unpacked_bytes;
        self.cap_reason = CapReason::Configured;
        Ok(())
    }

    fn classify(&mut self) -> Result<HeaderFacts, ImportError> {
        let facts = sniff::classify(&self.header).map_err(sniff_error)?;
        check_announced(&facts, &self.limits)?;
        match facts.announced_size {
            Some(announced) if announced_cap(announced) < self.cap => {
                self.cap = announced_cap(announced);
                self.cap_reason = CapReason::Announced(announced);
            }
            None if facts.format == SourceFormat::Raw => {
                if let Some(limit) = self.limits.max_virtual_size.filter(|l| *l < self.cap) {
                    self.cap = limit;
                    self.cap_reason = CapReason::VirtualSizeLimit;
                }
            }
            _ => {}
        }
        self.facts = Some(facts);
        Ok(facts)
    }

    fn over_cap(&self, reached: u64) -> ImportError {
        match (self.cap_reason, self.compression) {
            (CapReason::VirtualSizeLimit, _) => ImportError::TooLarge {
                virtual_size: reached,
                limit: self.cap,
            },
            (CapReason::Announced(announced), None) => ImportError::Corrupt {
                detail: format!(
                    "the file is larger than {} although its header announces a disk of {}",
                    size(self.cap),
                    size(announced)
                ),
            },
            (CapReason::Announced(announced), Some(_)) => ImportError::DecompressionBomb {
                limit: self.cap,
                reason: format!(
                    " although its header announces a disk of {}",
                    size(announced)
                ),
            },
            (CapReason::Configured, _) => ImportError::DecompressionBomb {
                limit: self.cap,
                reason: " (the configured limit)".into(),
            },
        }
    }

    /// Appends `data` to the image.
    pub fn push(&mut self, data: &[u8]) -> Result<(), ImportError> {
        if self.facts.is_none() {
            let take = (HEADER_LEN - self.header.len()).min(data.len());
            self.header.extend_from_slice(&data[..take]);
            if self.header.len() == HEADER_LEN {
                self.classify()?;
            }
        }
        let end = self.written + data.len() as u64;
        if end > self.cap {
            return Err(self.over_cap(end));
        }
        self.write_sparse(self.written, data)?;
        self.written = end;
        Ok(())
    }

    /// Writes `data` at `offset`, skipping whole aligned blocks of zeros (they stay holes).
    fn write_sparse(&self, offset: u64, data: &[u8]) -> Result<(), ImportError> {
        let write = |from: usize, to: usize| {
            self.file
                .write_all_at(&data[from..to], offset + from as u64)
                .map_err(|e| ImportError::io(&self.path, "writing", e))
        };
        let mut pending = 0;
        let mut at = 0;
        while at < data.len() {
            let misalignment = ((offset + at as u64) % BLOCK as u64) as usize;
            let end = (at + BLOCK - misalignment).min(data.len());
            if misalignment == 0 && end - at == BLOCK && is_zero(&data[at..end]) {
                if pending < at {
                    write(pending, at)?;
                }
                pending = end;
            }
            at = end;
        }
        if pending < data.len() {
            write(pending, data.len())?;
        }
        Ok(())
    }

    /// Sets the final length (trailing zeros become a hole) and reports what was staged.
    pub fn finish(&mut self) -> Result<Staged, ImportError> {
        let facts = match self.facts {
            Some(facts) => facts,
            None => self.classify()?,
        };
        self.file
            .set_len(self.written)
            .map_err(|e| ImportError::io(&self.path, "writing", e))?;
        Ok(Staged {
            path: self.path.clone(),
            facts,
            size: self.written,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: StageLimits = StageLimits {
        max_unpacked_bytes: 1 << 30,
        max_virtual_size: None,
    };

    fn qcow2_header(size: u64) -> Vec<u8> {
        let mut header = vec![0u8; HEADER_LEN];
        header[..4].copy_from_slice(b"QFI\xfb");
        header[4..8].copy_from_slice(&3u32.to_be_bytes());
        header[24..32].copy_from_slice(&size.to_be_bytes());
        header
    }

    #[test]
    fn zero_blocks_become_holes_and_content_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("staged");
        let mut stager = Stager::create(&path, LIMITS).unwrap();
        let mut data = vec![0u8; 4 << 20];
        data[0] = 0xeb;
        data[3 << 20] = 7;
        // Uneven chunks exercise the alignment logic.
        for chunk in data.chunks(100_003) {
            stager.push(chunk).unwrap();
        }
        let staged = stager.finish().unwrap();
        assert_eq!(staged.size, 4 << 20);
        assert_eq!(staged.facts.format, SourceFormat::Raw);
        assert_eq!(std::fs::read(&path).unwrap(), data);
        use std::os::unix::fs::MetadataExt;
        let allocated = std::fs::metadata(&path).unwrap().blocks() * 512;
        assert!(allocated < 1 << 20, "allocated {allocated} bytes");
    }

    #[test]
    fn backing_file_is_refused_from_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let mut stager = Stager::create(&dir.path().join("s"), LIMITS).unwrap();
        let mut header = qcow2_header(1 << 20);
        header[8..16].copy_from_slice(&512u64.to_be_bytes());
        let error = stager.push(&header).unwrap_err();
        assert!(matches!(error, ImportError::ExternalFile { .. }), "{error}");
    }

    #[test]
    fn announced_size_over_the_limit_is_refused_early() {
        let dir = tempfile::tempdir().unwrap();
        let limits = StageLimits {
            max_virtual_size: Some(1 << 20),
            ..LIMITS
        };
        let mut stager = Stager::create(&dir.path().join("s"), limits).unwrap();
        let error = stager.push(&qcow2_header(10 << 30)).unwrap_err();
        assert!(matches!(error, ImportError::TooLarge { .. }), "{error}");
    }

    #[test]
    fn content_far_beyond_the_announced_size_is_a_bomb() {
        let dir = tempfile::tempdir().unwrap();
        let mut stager = Stager::create(&dir.path().join("s"), LIMITS).unwrap();
        stager.set_compression(Some(Compression::Gzip));
        stager.push(&qcow2_header(1 << 20)).unwrap();
        let zeros = vec![0u8; 1 << 20];
        let error = (0..200)
            .find_map(|_| stager.push(&zeros).err())
            .expect("the cap must be hit");
        assert!(
            matches!(error, ImportError::DecompressionBomb { .. }),
            "{error}"
        );
        assert!(
            error.to_string().contains("announces a disk of 1 MiB"),
            "{error}"
        );
    }

    #[test]
    fn raw_content_over_the_virtual_size_limit_is_too_large() {
        let dir = tempfile::tempdir().unwrap();
        let limits = StageLimits {
            max_virtual_size: Some(64 << 10),
            ..LIMITS
        };
        let mut stager = Stager::create(&dir.path().join("s"), limits).unwrap();
        let error = stager.push(&vec![1u8; 128 << 10]).unwrap_err();
        assert!(matches!(error, ImportError::TooLarge { .. }), "{error}");
    }

    #[test]
    fn configured_cap_applies_before_the_header_is_known() {
        let dir = tempfile::tempdir().unwrap();
        let limits = StageLimits {
            max_unpacked_bytes: 1000,
            max_virtual_size: None,
        };
        let mut stager = Stager::create(&dir.path().join("s"), limits).unwrap();
        stager.set_compression(Some(Compression::Xz));
        let error = stager.push(&[1u8; 2000]).unwrap_err();
        assert!(
            matches!(error, ImportError::DecompressionBomb { limit: 1000, .. }),
            "{error}"
        );
    }

    #[test]
    fn reset_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let mut stager = Stager::create(&path, LIMITS).unwrap();
        stager.push(b"first attempt").unwrap();
        stager.reset().unwrap();
        stager.push(b"second").unwrap();
        let staged = stager.finish().unwrap();
        assert_eq!(staged.size, 6);
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
    }

    #[test]
    fn short_images_are_classified_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let mut stager = Stager::create(&dir.path().join("s"), LIMITS).unwrap();
        stager.push(&qcow2_header(1 << 20)[..512]).unwrap();
        assert_eq!(stager.finish().unwrap().facts.format, SourceFormat::Qcow2);
    }

    #[test]
    fn empty_images_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut stager = Stager::create(&dir.path().join("s"), LIMITS).unwrap();
        assert!(matches!(
            stager.finish().unwrap_err(),
            ImportError::Corrupt { .. }
        ));
    }
}
