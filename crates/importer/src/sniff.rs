//! Recognising what bytes are by their first bytes: compression wrappers and disk formats, and
//! the facts a disk header announces (virtual size, backing file) before any tool touches it.

use std::fmt;

use dvp_qemu::qemu_img::ImageFormat;

/// A compression wrapper around an image, recognised by its magic bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Xz,
    Zstd,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Bytes needed to recognise any compression wrapper.
pub const COMPRESSION_MAGIC_LEN: usize = 10;

/// The compression wrapper `prefix` starts with, if any. bzip2 is recognised only to be refused
/// with a clear message.
pub fn detect_compression(prefix: &[u8]) -> Result<Option<Compression>, SniffError> {
    if prefix.starts_with(&[0x1f, 0x8b]) {
        Ok(Some(Compression::Gzip))
    } else if prefix.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Ok(Some(Compression::Xz))
    } else if prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Ok(Some(Compression::Zstd))
    } else if prefix.len() >= 10
        && prefix.starts_with(b"BZh")
        && (b'1'..=b'9').contains(&prefix[3])
        && prefix[4..10] == [0x31, 0x41, 0x59, 0x26, 0x53, 0x59]
    {
        Err(SniffError::Unsupported(
            "bzip2-compressed images (use gz or xz)",
        ))
    } else {
        Ok(None)
    }
}

/// A disk image format the importer accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceFormat {
    Qcow2,
    Raw,
    Vmdk,
    Vdi,
    /// ISO 9660 (possibly hybrid): kept as is, attached as a CD-ROM.
    Iso,
}

impl SourceFormat {
    pub fn name(self) -> &'static str {
        match self {
            SourceFormat::Qcow2 => "qcow2",
            SourceFormat::Raw => "raw",
            SourceFormat::Vmdk => "vmdk",
            SourceFormat::Vdi => "vdi",
            SourceFormat::Iso => "iso",
        }
    }

    /// The qemu-img driver that reads this format.
    pub fn qemu_format(self) -> ImageFormat {
        match self {
            SourceFormat::Qcow2 => ImageFormat::Qcow2,
            SourceFormat::Raw | SourceFormat::Iso => ImageFormat::Raw,
            SourceFormat::Vmdk => ImageFormat::Vmdk,
            SourceFormat::Vdi => ImageFormat::Vdi,
        }
    }

    /// Formats with metadata `qemu-img check` can verify.
    pub fn has_metadata(self) -> bool {
        matches!(
            self,
            SourceFormat::Qcow2 | SourceFormat::Vmdk | SourceFormat::Vdi
        )
    }
}

impl fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the first bytes of a disk image say about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderFacts {
    pub format: SourceFormat,
    /// The size the header announces: the guest disk size (qcow2, vmdk, vdi) or the ISO volume
    /// size. Raw images announce nothing.
    pub announced_size: Option<u64>,
}

/// Why the first bytes of an image rule it out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SniffError {
    #[error("the image is empty")]
    Empty,
    #[error("the qcow2 image names a backing file")]
    BackingFile,
    #[error("the qcow2 image keeps its data in an external data file")]
    ExternalDataFile,
    #[error("the image is encrypted")]
    Encrypted,
    #[error("a VMDK descriptor file only points at other files")]
    VmdkDescriptor,
    #[error("{0} are not supported")]
    Unsupported(&'static str),
}

/// Bytes needed to classify any format: the ISO 9660 primary volume descriptor ends at 0x8800.
pub const HEADER_LEN: usize = 0x8800;

const ISO_PVD: usize = 0x8000;

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn be_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

fn le_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn le_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

const QCOW2_INCOMPATIBLE_DATA_FILE: u64 = 1 << 2;

fn qcow2(header: &[u8]) -> Result<HeaderFacts, SniffError> {
    let version = be_u32(header, 4).unwrap_or(0);
    if version < 2 {
        return Err(SniffError::Unsupported("qcow version 1 images"));
    }
    if be_u64(header, 8).unwrap_or(0) != 0 {
        return Err(SniffError::BackingFile);
    }
    if be_u32(header, 32).unwrap_or(0) != 0 {
        return Err(SniffError::Encrypted);
    }
    if version >= 3 && be_u64(header, 72).unwrap_or(0) & QCOW2_INCOMPATIBLE_DATA_FILE != 0 {
        return Err(SniffError::ExternalDataFile);
    }
    Ok(HeaderFacts {
        format: SourceFormat::Qcow2,
        announced_size: be_u64(header, 24),
    })
}

fn vmdk_sparse(header: &[u8]) -> HeaderFacts {
    HeaderFacts {
        format: SourceFormat::Vmdk,
        announced_size: le_u64(header, 12).and_then(|sectors| sectors.checked_mul(512)),
    }
}

const VDI_SIGNATURE: u32 = 0xbeda_107f;

fn vdi(header: &[u8]) -> HeaderFacts {
    HeaderFacts {
        format: SourceFormat::Vdi,
        announced_size: le_u64(header, 0x170),
    }
}

fn iso(header: &[u8]) -> HeaderFacts {
    let blocks = le_u32(header, ISO_PVD + 80).map(u64::from);
    let block_size = le_u16(header, ISO_PVD + 128).map(u64::from);
    HeaderFacts {
        format: SourceFormat::Iso,
        announced_size: blocks
            .zip(block_size)
            .map(|(blocks, size)| blocks * size)
            .filter(|size| *size > 0),
    }
}

/// Classifies an (uncompressed) image from its first bytes (up to [`HEADER_LEN`]; fewer only
/// when the image is that short).
pub fn classify(header: &[u8]) -> Result<HeaderFacts, SniffError> {
    if header.is_empty() {
        return Err(SniffError::Empty);
    }
    if header.starts_with(b"QFI\xfb") {
        return qcow2(header);
    }
    if header.starts_with(b"KDMV") {
        return Ok(vmdk_sparse(header));
    }
    if header.starts_with(b"# Disk DescriptorFile") {
        return Err(SniffError::VmdkDescriptor);
    }
    if le_u32(header, 0x40) == Some(VDI_SIGNATURE) {
        return Ok(vdi(header));
    }
    if header.starts_with(b"vhdxfile") {
        return Err(SniffError::Unsupported("VHDX images"));
    }
    if header.starts_with(b"conectix") {
        return Err(SniffError::Unsupported("VHD images"));
    }
    if header.starts_with(b"QED\0") {
        return Err(SniffError::Unsupported("QED images"));
    }
    if header.get(ISO_PVD + 1..ISO_PVD + 6) == Some(b"CD001") {
        return Ok(iso(header));
    }
    Ok(HeaderFacts {
        format: SourceFormat::Raw,
        announced_size: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qcow2_header(version: u32, backing_offset: u64, size: u64) -> Vec<u8> {
        let mut header = vec![0u8; 512];
        header[..4].copy_from_slice(b"QFI\xfb");
        header[4..8].copy_from_slice(&version.to_be_bytes());
        header[8..16].copy_from_slice(&backing_offset.to_be_bytes());
        header[20..24].copy_from_slice(&16u32.to_be_bytes());
        header[24..32].copy_from_slice(&size.to_be_bytes());
        header
    }

    #[test]
    fn compression_by_magic() {
        assert_eq!(
            detect_compression(&[0x1f, 0x8b, 8, 0]),
            Ok(Some(Compression::Gzip))
        );
        assert_eq!(
            detect_compression(b"\xfd7zXZ\x00\x00\x04"),
            Ok(Some(Compression::Xz))
        );
        assert_eq!(
            detect_compression(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Ok(Some(Compression::Zstd))
        );
        assert_eq!(detect_compression(b"QFI\xfb\0\0\0\x03"), Ok(None));
        assert_eq!(detect_compression(b""), Ok(None));
    }

    #[test]
    fn bzip2_is_refused_by_name() {
        let error = detect_compression(b"BZh91AY&SY\0\0").unwrap_err();
        assert!(error.to_string().contains("bzip2"));
    }

    #[test]
    fn qcow2_announces_its_virtual_size() {
        let facts = classify(&qcow2_header(3, 0, 36_700_160)).unwrap();
        assert_eq!(facts.format, SourceFormat::Qcow2);
        assert_eq!(facts.announced_size, Some(36_700_160));
    }

    #[test]
    fn qcow2_with_backing_file_is_refused() {
        assert_eq!(
            classify(&qcow2_header(3, 0x200, 1 << 20)),
            Err(SniffError::BackingFile)
        );
    }

    #[test]
    fn qcow2_with_external_data_file_is_refused() {
        let mut header = qcow2_header(3, 0, 1 << 20);
        header[72..80].copy_from_slice(&4u64.to_be_bytes());
        assert_eq!(classify(&header), Err(SniffError::ExternalDataFile));
        // Version 2 has no feature bits: the same bytes mean nothing there.
        let mut v2 = qcow2_header(2, 0, 1 << 20);
        v2[72..80].copy_from_slice(&4u64.to_be_bytes());
        assert!(classify(&v2).is_ok());
    }

    #[test]
    fn encrypted_qcow2_is_refused() {
        let mut header = qcow2_header(3, 0, 1 << 20);
        header[32..36].copy_from_slice(&2u32.to_be_bytes());
        assert_eq!(classify(&header), Err(SniffError::Encrypted));
    }

    #[test]
    fn qcow_version_1_is_refused() {
        let error = classify(&qcow2_header(1, 0, 1 << 20)).unwrap_err();
        assert!(error.to_string().contains("version 1"), "{error}");
    }

    #[test]
    fn vmdk_sparse_announces_capacity_in_sectors() {
        let mut header = vec![0u8; 512];
        header[..4].copy_from_slice(b"KDMV");
        header[12..20].copy_from_slice(&71_680u64.to_le_bytes());
        let facts = classify(&header).unwrap();
        assert_eq!(facts.format, SourceFormat::Vmdk);
        assert_eq!(facts.announced_size, Some(36_700_160));
    }

    #[test]
    fn vmdk_descriptor_is_refused() {
        let descriptor = b"# Disk DescriptorFile\nversion=1\nRW 2048 FLAT \"/etc/shadow\" 0\n";
        assert_eq!(classify(descriptor), Err(SniffError::VmdkDescriptor));
    }

    #[test]
    fn vdi_by_signature() {
        let mut header = vec![0u8; 0x200];
        header[..8].copy_from_slice(b"<<< QEMU");
        header[0x40..0x44].copy_from_slice(&VDI_SIGNATURE.to_le_bytes());
        header[0x170..0x178].copy_from_slice(&36_700_160u64.to_le_bytes());
        let facts = classify(&header).unwrap();
        assert_eq!(facts.format, SourceFormat::Vdi);
        assert_eq!(facts.announced_size, Some(36_700_160));
    }

    #[test]
    fn iso_by_cd001_announces_volume_size() {
        let mut header = vec![0u8; HEADER_LEN];
        header[510..512].copy_from_slice(&[0x55, 0xaa]); // hybrid: also an MBR
        header[ISO_PVD] = 1;
        header[ISO_PVD + 1..ISO_PVD + 6].copy_from_slice(b"CD001");
        header[ISO_PVD + 80..ISO_PVD + 84].copy_from_slice(&15_872u32.to_le_bytes());
        header[ISO_PVD + 128..ISO_PVD + 130].copy_from_slice(&2048u16.to_le_bytes());
        let facts = classify(&header).unwrap();
        assert_eq!(facts.format, SourceFormat::Iso);
        assert_eq!(facts.announced_size, Some(32_505_856));
    }

    #[test]
    fn anything_else_is_raw() {
        let facts = classify(&[0xeb, 0x63, 0x90, 0, 0, 0]).unwrap();
        assert_eq!(facts.format, SourceFormat::Raw);
        assert_eq!(facts.announced_size, None);
    }

    #[test]
    fn other_disk_formats_are_refused_by_name() {
        assert!(
            classify(b"vhdxfile....")
                .unwrap_err()
                .to_string()
                .contains("VHDX")
        );
        assert!(
            classify(b"conectix....")
                .unwrap_err()
                .to_string()
                .contains("VHD")
        );
    }

    #[test]
    fn empty_image_is_refused() {
        assert_eq!(classify(b""), Err(SniffError::Empty));
    }
}
