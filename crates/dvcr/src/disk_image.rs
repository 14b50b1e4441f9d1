//! Disk images in DVCR: pushing a disk file as an image and reading one back (the layout is
//! in [`crate::disk_layout`]).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::blobs::BlobWriter;
use crate::digest::Digest;
use crate::disk_layout::{
    DiskFacts, DiskFormat, build_config, build_manifest, disk_layer, parse_facts,
};
use crate::error::{DvcrError, Result};
use crate::fsutil::read_optional;
use crate::manifest::{OCI_MANIFEST, parse_manifest};
use crate::names::{Reference, validate_name, validate_tag};
use crate::registry::Registry;

/// Where a pushed disk image is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub repo: String,
    pub tag: String,
    pub manifest_digest: Digest,
    pub disk_digest: Digest,
    /// The disk blob's file (usable as a qcow2 backing file or CD-ROM image).
    pub disk_path: PathBuf,
    /// The disk blob's size in bytes (`status.size.stored`).
    pub disk_size: u64,
}

/// A disk image read back from DVCR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskImage {
    pub facts: DiskFacts,
    pub disk_path: PathBuf,
    pub disk_digest: Digest,
    pub disk_size: u64,
    pub manifest_digest: Digest,
}

/// `<host>/<repo>:<tag>`, the form of `status.target.registryURL`.
pub fn image_url(host: &str, repo: &str, tag: &str) -> String {
    format!("{host}/{repo}:{tag}")
}

impl Registry {
    /// Pushes a disk file as the image `repo:tag` (layout: [`crate::disk_layout`]). The file is
    /// taken into the registry (moved when on the same filesystem; see
    /// [`Registry::put_blob_from_file`]); if the push fails it stays where it was. The file
    /// must be what `facts.format` says: a qcow2 without a backing file, or an ISO 9660 image.
    /// The blobs and the manifest are committed together, so garbage collection never sees
    /// half of the image.
    pub fn push_disk_image(
        &self,
        repo: &str,
        tag: &str,
        disk: &Path,
        facts: &DiskFacts,
    ) -> Result<ImageRef> {
        validate_name(repo)?;
        validate_tag(tag)?;
        check_disk_file(disk, facts.format)?;
        let disk_blob = self.prepare_file(disk, true)?;
        let disk_digest = disk_blob.digest().clone();
        let disk_size = disk_blob.len();

        let config = build_config(facts, &disk_digest);
        let mut config_writer = BlobWriter::create(&self.layout.tmp_dir())?;
        config_writer.write(&config)?;
        let config_blob = config_writer.seal()?;
        let manifest = build_manifest(
            facts.format,
            config_blob.digest(),
            config_blob.len(),
            &disk_digest,
            disk_size,
        );
        let parsed = parse_manifest(&manifest, Some(OCI_MANIFEST))?;
        let manifest_digest = Digest::of_bytes(&manifest);

        let _exclusive = self.exclusive();
        self.commit_prepared(disk_blob)?;
        self.link_blob(config_blob)?;
        self.put_manifest_locked(
            repo,
            &Reference::Tag(tag.to_string()),
            &manifest,
            &parsed,
            &manifest_digest,
        )?;
        Ok(ImageRef {
            repo: repo.to_string(),
            tag: tag.to_string(),
            manifest_digest,
            disk_path: self.layout.blob(&disk_digest),
            disk_digest,
            disk_size,
        })
    }

    /// Reads the disk image `repo:reference`. `Ok(None)` when there is no such image or a blob
    /// of it is missing (the image is lost); [`DvcrError::NotDiskImage`] when the manifest
    /// exists but is not a DVP disk image.
    pub fn read_disk_image(&self, repo: &str, reference: &str) -> Result<Option<DiskImage>> {
        let Some(stored) = self.get_manifest(repo, reference)? else {
            return Ok(None);
        };
        let not_disk = |reason: String| DvcrError::NotDiskImage {
            repo: repo.to_string(),
            reference: reference.to_string(),
            reason,
        };
        let parsed = parse_manifest(&stored.bytes, Some(&stored.media_type))
            .map_err(|e| not_disk(e.to_string()))?;
        let (format, layer) = disk_layer(&parsed).map_err(|e| not_disk(e.to_string()))?;
        let crate::manifest::ManifestContent::Image { config, .. } = &parsed.content else {
            unreachable!("disk_layer accepts image manifests only");
        };
        let Some(config_bytes) = read_optional(&self.layout.blob(&config.digest))? else {
            tracing::warn!(%repo, %reference, digest = %config.digest, "DVCR image lost its config blob");
            return Ok(None);
        };
        let facts = parse_facts(&config_bytes, format).map_err(|e| not_disk(e.to_string()))?;
        let Some(disk_path) = self.blob_path(&layer.digest) else {
            tracing::warn!(%repo, %reference, digest = %layer.digest, "DVCR image lost its disk blob");
            return Ok(None);
        };
        Ok(Some(DiskImage {
            facts,
            disk_path,
            disk_digest: layer.digest.clone(),
            disk_size: layer.size,
            manifest_digest: stored.digest,
        }))
    }
}

/// Refuses a file that is not what its facts say, and a qcow2 naming a backing file (which
/// could make QEMU read arbitrary host files).
fn check_disk_file(path: &Path, format: DiskFormat) -> Result<()> {
    let bad = |reason: &str| DvcrError::BadDiskFile {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let mut file = File::open(path).map_err(DvcrError::io("open", path))?;
    match format {
        DiskFormat::Qcow2 => {
            let mut header = [0u8; 16];
            file.read_exact(&mut header)
                .map_err(|_| bad("it is too short to be a qcow2 file"))?;
            if &header[..4] != b"QFI\xfb" {
                return Err(bad("it is not a qcow2 file (no QFI magic)"));
            }
            let backing_offset = u64::from_be_bytes(header[8..16].try_into().expect("8 bytes"));
            if backing_offset != 0 {
                return Err(bad(
                    "it names a backing file; flatten it first (qemu-img convert -O qcow2)",
                ));
            }
        }
        DiskFormat::Iso => {
            let mut magic = [0u8; 5];
            file.seek(SeekFrom::Start(0x8001))
                .and_then(|_| file.read_exact(&mut magic))
                .map_err(|_| bad("it is too short to be an ISO 9660 image"))?;
            if &magic != b"CD001" {
                return Err(bad("it is not an ISO 9660 image (no CD001 descriptor)"));
            }
        }
    }
    Ok(())
}
