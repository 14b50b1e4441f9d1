//! Writing blobs crash-safely: bytes go to a file under `tmp/`, hashed as they are written,
//! fsynced, and only then linked into `blobs/sha256/<hex>`. A blob path therefore only ever
//! names a complete file whose content matches its name.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::digest::Digest;
use crate::error::{DvcrError, Result};
use crate::fsutil::unique_name;

/// Read and write granularity when hashing or copying files.
pub(crate) const IO_CHUNK: usize = 1024 * 1024;

/// A blob being written under `tmp/`. Dropped before [`BlobWriter::seal`], the file is removed.
pub(crate) struct BlobWriter {
    path: Option<PathBuf>,
    file: File,
    hasher: Sha256,
    len: u64,
}

impl BlobWriter {
    pub(crate) fn create(tmp_dir: &Path) -> Result<BlobWriter> {
        let path = tmp_dir.join(unique_name());
        let file = File::create(&path).map_err(DvcrError::io("create", &path))?;
        Ok(BlobWriter {
            path: Some(path),
            file,
            hasher: Sha256::new(),
            len: 0,
        })
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let path = self.path.as_deref().expect("not sealed");
        self.file
            .write_all(bytes)
            .map_err(DvcrError::io("write", path))?;
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Copies a whole reader in.
    pub(crate) fn write_from(&mut self, reader: &mut dyn Read) -> Result<()> {
        let mut buf = vec![0; IO_CHUNK];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(DvcrError::io(
                        "read the source of",
                        self.path.as_deref().unwrap(),
                    )(e));
                }
            };
            self.write(&buf[..n])?;
        }
    }

    /// Makes the bytes durable and fixes the digest.
    pub(crate) fn seal(mut self) -> Result<SealedBlob> {
        let path = self.path.take().expect("sealed once");
        if let Err(e) = self.file.sync_all() {
            let _ = fs::remove_file(&path);
            return Err(DvcrError::io("sync", &path)(e));
        }
        let hasher = std::mem::take(&mut self.hasher);
        Ok(SealedBlob {
            path: Some(path),
            digest: Digest::from_hasher(hasher),
            len: self.len,
            origin: None,
        })
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = fs::remove_file(path);
        }
    }
}

/// A complete, durable file under `tmp/` with a known digest, waiting to be linked into
/// place. Dropped without being linked, it goes back where it came from (a moved-in file) or
/// is removed.
pub(crate) struct SealedBlob {
    path: Option<PathBuf>,
    digest: Digest,
    len: u64,
    origin: Option<PathBuf>,
}

impl SealedBlob {
    /// Takes `source` by renaming it under `tmp/`, then hashes and syncs it there, so nobody
    /// can change it between hashing and linking. `Ok(None)` when `source` is on another
    /// filesystem (the caller copies instead).
    pub(crate) fn adopt(source: &Path, tmp_dir: &Path) -> Result<Option<SealedBlob>> {
        let path = tmp_dir.join(unique_name());
        match fs::rename(source, &path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::CrossesDevices => return Ok(None),
            Err(e) => return Err(DvcrError::io("move into the registry", source)(e)),
        }
        let mut sealed = SealedBlob {
            path: Some(path.clone()),
            digest: Digest::of_bytes(b""),
            len: 0,
            origin: Some(source.to_path_buf()),
        };
        let (digest, len) = hash_file(&path)?;
        File::open(&path)
            .and_then(|f| f.sync_all())
            .map_err(DvcrError::io("sync", &path))?;
        sealed.digest = digest;
        sealed.len = len;
        Ok(Some(sealed))
    }

    pub(crate) fn digest(&self) -> &Digest {
        &self.digest
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn path(&self) -> &Path {
        self.path.as_deref().expect("not yet linked")
    }

    /// Removes the temporary name once the blob is linked into place.
    pub(crate) fn linked(mut self) {
        if let Some(path) = self.path.take() {
            let _ = fs::remove_file(path);
        }
    }
}

impl Drop for SealedBlob {
    fn drop(&mut self) {
        let Some(path) = self.path.take() else {
            return;
        };
        let restored = self
            .origin
            .as_ref()
            .is_some_and(|origin| fs::rename(&path, origin).is_ok());
        if !restored {
            let _ = fs::remove_file(path);
        }
    }
}

/// The digest and length of a file's content.
pub(crate) fn hash_file(path: &Path) -> Result<(Digest, u64)> {
    let (hasher, len) = hash_file_state(path)?;
    Ok((Digest::from_hasher(hasher), len))
}

/// Continues a running hash over a file's content (an upload resumed after a restart).
pub(crate) fn hash_file_state(path: &Path) -> Result<(Sha256, u64)> {
    let mut file = File::open(path).map_err(DvcrError::io("open", path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; IO_CHUNK];
    let mut len = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => return Ok((hasher, len)),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(DvcrError::io("read", path)(e)),
        };
        hasher.update(&buf[..n]);
        len += n as u64;
    }
}
