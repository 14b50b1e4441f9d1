//! What an import produced.

use std::path::PathBuf;

use crate::checksum::Checksums;
use crate::sniff::{Compression, SourceFormat};

/// The format of the produced file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// A self-contained qcow2 (no backing file): the disk image.
    Qcow2,
    /// The ISO exactly as received: attached as a CD-ROM.
    Iso,
}

impl OutputFormat {
    /// The name used in `status.format` and the DVCR labels.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Qcow2 => "qcow2",
            OutputFormat::Iso => "iso",
        }
    }
}

/// A finished import. The file at `path` (inside the work dir) now belongs to the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportResult {
    pub path: PathBuf,
    pub format: OutputFormat,
    /// What the source held, once unwrapped.
    pub source_format: SourceFormat,
    /// The wrapper the source came in, if any.
    pub compression: Option<Compression>,
    /// Size of the guest disk (of the ISO for a CD-ROM), bytes.
    pub virtual_size: u64,
    /// Bytes a disk made from this image needs (`status.size.unpacked`): the virtual size.
    pub unpacked_size: u64,
    /// Size of the produced file (`status.size.stored`), bytes.
    pub stored_size: u64,
    /// ISO 9660 content: attach as a CD-ROM (`status.cdrom`).
    pub cdrom: bool,
    /// Digests of the source bytes as received (the expected ones plus those always computed).
    pub checksums: Checksums,
    /// Bytes read from the source (downloaded, pulled or read from the file).
    pub transferred_bytes: u64,
}
