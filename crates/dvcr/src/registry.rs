//! The registry store: blobs, manifests and tags on the filesystem.
//!
//! All methods block on file I/O; async callers run them with `spawn_blocking`.
//!
//! Locking: metadata changes (manifests, tags, blob deletion) take the registry lock
//! exclusively, blob commits take it shared, and garbage collection holds it exclusively for
//! its whole mark-and-sweep, so a collection never interleaves with a manifest write or a blob
//! commit. Reads take no lock: every file is replaced by rename, never rewritten.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use crate::blobs::{BlobWriter, SealedBlob};
use crate::digest::Digest;
use crate::error::{DvcrError, Result};
use crate::fsutil::{list_names, read_optional, remove_empty_dirs, sync_dir, touch, write_atomic};
use crate::layout::Layout;
use crate::manifest::{ParsedManifest, parse_manifest};
use crate::names::{Reference, validate_name, validate_tag};
use crate::pending::Pending;
use crate::uploads::Sessions;

/// Tunables of a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryOptions {
    /// Blobs and untagged manifests younger than this survive garbage collection even when
    /// nothing references them: a client may be between pushing its blobs and its manifest.
    pub gc_grace: Duration,
    /// Upload sessions idle for longer than this are removed by garbage collection.
    pub upload_ttl: Duration,
}

impl Default for RegistryOptions {
    fn default() -> RegistryOptions {
        RegistryOptions {
            gc_grace: Duration::from_secs(3600),
            upload_ttl: Duration::from_secs(3600),
        }
    }
}

/// A manifest as stored: its exact bytes, media type and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredManifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: Digest,
}

/// DVCR's store under `DATA/dvcr/`.
pub struct Registry {
    pub(crate) layout: Layout,
    pub(crate) options: RegistryOptions,
    lock: RwLock<()>,
    pub(crate) sessions: Sessions,
    pub(crate) pending: Pending,
}

/// A blob ready to be committed: a sealed file, or one already in the registry.
pub(crate) enum PreparedBlob {
    Sealed {
        blob: SealedBlob,
        /// A source file copied from another filesystem, removed once the copy is committed.
        remove_after: Option<PathBuf>,
    },
    Existing {
        digest: Digest,
        len: u64,
    },
}

impl PreparedBlob {
    pub(crate) fn digest(&self) -> &Digest {
        match self {
            PreparedBlob::Sealed { blob, .. } => blob.digest(),
            PreparedBlob::Existing { digest, .. } => digest,
        }
    }

    pub(crate) fn len(&self) -> u64 {
        match self {
            PreparedBlob::Sealed { blob, .. } => blob.len(),
            PreparedBlob::Existing { len, .. } => *len,
        }
    }
}

impl Registry {
    /// Opens (creating if needed) the registry in `dir` with default options.
    pub fn open(dir: &Path) -> Result<Registry> {
        Registry::open_with(dir, RegistryOptions::default())
    }

    /// Opens (creating if needed) the registry in `dir`. Files left under `tmp/` by a crash are
    /// removed: they were never visible as blobs.
    pub fn open_with(dir: &Path, options: RegistryOptions) -> Result<Registry> {
        let layout = Layout::new(dir);
        for d in [
            layout.blobs_dir(),
            layout.repositories_dir(),
            layout.uploads_dir(),
            layout.tmp_dir(),
        ] {
            fs::create_dir_all(&d).map_err(DvcrError::io("create directory", &d))?;
        }
        let tmp = layout.tmp_dir();
        for name in list_names(&tmp)? {
            let path = tmp.join(name);
            let removed = fs::remove_file(&path).or_else(|_| fs::remove_dir_all(&path));
            removed.map_err(DvcrError::io("clean up", &path))?;
        }
        Ok(Registry {
            layout,
            options,
            lock: RwLock::new(()),
            sessions: Arc::new(Mutex::new(HashMap::new())),
            pending: Pending::new(),
        })
    }

    /// The registry's directory.
    pub fn root(&self) -> &Path {
        self.layout.root()
    }

    pub fn options(&self) -> &RegistryOptions {
        &self.options
    }

    pub(crate) fn shared(&self) -> RwLockReadGuard<'_, ()> {
        self.lock.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn exclusive(&self) -> RwLockWriteGuard<'_, ()> {
        self.lock.write().unwrap_or_else(PoisonError::into_inner)
    }

    // ---- blobs ----

    /// Whether the registry holds this blob.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.layout.blob(digest).is_file()
    }

    /// The blob's file, if present. Blob files are read-only and never rewritten, so the path
    /// can serve as a qcow2 backing file or a CD-ROM image as long as the blob is kept.
    pub fn blob_path(&self, digest: &Digest) -> Option<PathBuf> {
        let path = self.layout.blob(digest);
        path.is_file().then_some(path)
    }

    /// The blob's size in bytes, if present.
    pub fn blob_size(&self, digest: &Digest) -> Option<u64> {
        fs::metadata(self.layout.blob(digest))
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    }

    /// Size of a blob a client is about to reference (HTTP `HEAD`, cross-repository mount);
    /// protects the blob from garbage collection for the grace period, or until a manifest
    /// referencing it arrives.
    pub fn claim_blob(&self, digest: &Digest) -> Option<u64> {
        let _shared = self.shared();
        let size = self.blob_size(digest)?;
        touch(&self.layout.blob(digest)).ok()?;
        self.pending.blob(digest);
        Some(size)
    }

    /// Takes the file at `path` into the registry as a blob and returns its digest. The file
    /// is moved (renamed) when it is on the registry's filesystem, otherwise copied and then
    /// removed; either way the digest is computed from the bytes the registry ends up holding.
    /// If anything fails, the file stays where it was.
    pub fn put_blob_from_file(&self, path: &Path) -> Result<Digest> {
        let prepared = self.prepare_file(path, true)?;
        let _shared = self.shared();
        self.commit_prepared(prepared)
    }

    /// Copies the file at `path` into the registry as a blob, leaving the file in place.
    pub fn copy_blob_from_file(&self, path: &Path) -> Result<Digest> {
        let prepared = self.prepare_file(path, false)?;
        let _shared = self.shared();
        self.commit_prepared(prepared)
    }

    /// Stores bytes as a blob.
    pub fn put_blob_bytes(&self, bytes: &[u8]) -> Result<Digest> {
        let mut writer = BlobWriter::create(&self.layout.tmp_dir())?;
        writer.write(bytes)?;
        let sealed = writer.seal()?;
        let _shared = self.shared();
        self.link_blob(sealed)
    }

    /// Stores everything `reader` yields as a blob; with `expected`, the content must hash to
    /// it or nothing is stored.
    pub fn put_blob_from_reader(
        &self,
        reader: &mut dyn Read,
        expected: Option<&Digest>,
    ) -> Result<Digest> {
        let mut writer = BlobWriter::create(&self.layout.tmp_dir())?;
        writer.write_from(reader)?;
        let sealed = writer.seal()?;
        self.check_expected(&sealed, expected)?;
        let _shared = self.shared();
        self.link_blob(sealed)
    }

    /// A writer for a blob arriving in pieces (an HTTP request body).
    pub(crate) fn blob_writer(&self) -> Result<BlobWriter> {
        BlobWriter::create(&self.layout.tmp_dir())
    }

    /// Seals and commits what a [`Registry::blob_writer`] received.
    pub(crate) fn commit_written(
        &self,
        writer: BlobWriter,
        expected: Option<&Digest>,
    ) -> Result<Digest> {
        let sealed = writer.seal()?;
        self.check_expected(&sealed, expected)?;
        let _shared = self.shared();
        self.link_blob(sealed)
    }

    pub(crate) fn check_expected(
        &self,
        sealed: &SealedBlob,
        expected: Option<&Digest>,
    ) -> Result<()> {
        match expected {
            Some(expected) if expected != sealed.digest() => Err(DvcrError::DigestMismatch {
                expected: expected.clone(),
                actual: sealed.digest().clone(),
            }),
            _ => Ok(()),
        }
    }

    /// Hashes (and if needed copies) a file outside any lock.
    pub(crate) fn prepare_file(&self, path: &Path, take: bool) -> Result<PreparedBlob> {
        if let Some(existing) = self.own_blob(path) {
            return Ok(existing);
        }
        let tmp = self.layout.tmp_dir();
        if take && let Some(blob) = SealedBlob::adopt(path, &tmp)? {
            return Ok(PreparedBlob::Sealed {
                blob,
                remove_after: None,
            });
        }
        let mut source = fs::File::open(path).map_err(DvcrError::io("open", path))?;
        let mut writer = BlobWriter::create(&tmp)?;
        writer.write_from(&mut source)?;
        Ok(PreparedBlob::Sealed {
            blob: writer.seal()?,
            remove_after: take.then(|| path.to_path_buf()),
        })
    }

    /// A path that already is one of this registry's blob files (e.g. an image made from
    /// another image's blob) is never moved or copied.
    fn own_blob(&self, path: &Path) -> Option<PreparedBlob> {
        let canonical = path.canonicalize().ok()?;
        let blobs = self.layout.blobs_dir().canonicalize().ok()?;
        if canonical.parent()? != blobs {
            return None;
        }
        let digest = Digest::from_hex(canonical.file_name()?.to_str()?)?;
        let len = fs::metadata(&canonical).ok()?.len();
        Some(PreparedBlob::Existing { digest, len })
    }

    /// Commits a prepared blob. The caller holds the registry lock (shared or exclusive).
    pub(crate) fn commit_prepared(&self, prepared: PreparedBlob) -> Result<Digest> {
        match prepared {
            PreparedBlob::Existing { digest, .. } => {
                let path = self.layout.blob(&digest);
                touch(&path).map_err(|e| match e.kind() {
                    io::ErrorKind::NotFound => DvcrError::BlobUnknown(digest.clone()),
                    _ => DvcrError::io("touch", &path)(e),
                })?;
                self.pending.blob(&digest);
                Ok(digest)
            }
            PreparedBlob::Sealed { blob, remove_after } => {
                let digest = self.link_blob(blob)?;
                if let Some(source) = remove_after {
                    let _ = fs::remove_file(source);
                }
                Ok(digest)
            }
        }
    }

    /// Links a sealed file into `blobs/sha256/<hex>` (keeping an existing blob untouched
    /// except for its grace clock). The caller holds the registry lock.
    pub(crate) fn link_blob(&self, sealed: SealedBlob) -> Result<Digest> {
        let digest = sealed.digest().clone();
        let target = self.layout.blob(&digest);
        fs::set_permissions(sealed.path(), fs::Permissions::from_mode(0o444))
            .map_err(DvcrError::io("make read-only", sealed.path()))?;
        match fs::hard_link(sealed.path(), &target) {
            Ok(()) => sync_dir(&self.layout.blobs_dir())?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(DvcrError::io("store blob", &target)(e)),
        }
        touch(&target).map_err(DvcrError::io("touch", &target))?;
        self.pending.blob(&digest);
        sealed.linked();
        Ok(digest)
    }

    /// Deletes a blob that no manifest uses. A blob a manifest references is refused with
    /// [`DvcrError::BlobInUse`]. Returns whether the blob existed.
    pub fn delete_blob(&self, digest: &Digest) -> Result<bool> {
        let _exclusive = self.exclusive();
        if !self.has_blob(digest) {
            return Ok(false);
        }
        for repo in self.repositories()? {
            for manifest in list_names(&self.layout.manifests_dir(&repo))? {
                let Some(manifest) = Digest::from_hex(&manifest) else {
                    continue;
                };
                let uses = &manifest == digest
                    || self
                        .read_parsed(&repo, &manifest)?
                        .is_some_and(|p| p.content.blobs().iter().any(|d| &d.digest == digest));
                if uses {
                    return Err(DvcrError::BlobInUse {
                        digest: digest.clone(),
                        repo,
                        manifest,
                    });
                }
            }
        }
        let path = self.layout.blob(digest);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(DvcrError::io("delete", &path)(e)),
        }
    }

    // ---- manifests and tags ----

    /// Stores a manifest under `reference` (a tag, or the manifest's own digest) in `repo`.
    /// Every blob it references must be in the registry with the declared size, and every
    /// manifest an index lists must be in `repo`. `media_type` is the Content-Type it came
    /// with; empty means "take it from the manifest".
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<Digest> {
        validate_name(repo)?;
        let reference = Reference::parse(reference)?;
        let parsed = parse_manifest(bytes, Some(media_type).filter(|t| !t.is_empty()))?;
        let digest = Digest::of_bytes(bytes);
        match &reference {
            Reference::Digest(expected) if expected != &digest => {
                return Err(DvcrError::DigestMismatch {
                    expected: expected.clone(),
                    actual: digest,
                });
            }
            _ => {}
        }
        let _exclusive = self.exclusive();
        self.put_manifest_locked(repo, &reference, bytes, &parsed, &digest)?;
        Ok(digest)
    }

    /// The caller holds the registry lock exclusively.
    pub(crate) fn put_manifest_locked(
        &self,
        repo: &str,
        reference: &Reference,
        bytes: &[u8],
        parsed: &ParsedManifest,
        digest: &Digest,
    ) -> Result<()> {
        for descriptor in parsed.content.blobs() {
            match self.blob_size(&descriptor.digest) {
                None => return Err(DvcrError::ManifestBlobUnknown(descriptor.digest.clone())),
                Some(actual) if actual != descriptor.size => {
                    return Err(DvcrError::ManifestBlobSize {
                        digest: descriptor.digest.clone(),
                        declared: descriptor.size,
                        actual,
                    });
                }
                Some(_) => {}
            }
        }
        for child in parsed.content.children() {
            if !self.layout.manifest_link(repo, &child.digest).is_file() {
                return Err(DvcrError::ManifestChildUnknown {
                    repo: repo.to_string(),
                    digest: child.digest.clone(),
                });
            }
        }
        let mut writer = BlobWriter::create(&self.layout.tmp_dir())?;
        writer.write(bytes)?;
        self.link_blob(writer.seal()?)?;
        let tmp = self.layout.tmp_dir();
        write_atomic(
            &tmp,
            &self.layout.manifest_link(repo, digest),
            parsed.media_type.as_bytes(),
        )?;
        if let Reference::Tag(tag) = reference {
            write_atomic(
                &tmp,
                &self.layout.tag(repo, tag),
                digest.to_string().as_bytes(),
            )?;
            self.pending.manifests_referenced(repo, [digest]);
        } else {
            self.pending.untagged_manifest(repo, digest);
        }
        let children = parsed.content.children().iter().map(|c| &c.digest);
        self.pending.manifests_referenced(repo, children);
        let blobs = parsed.content.blobs().into_iter().map(|b| &b.digest);
        self.pending.blobs_referenced(blobs.chain([digest]));
        Ok(())
    }

    /// The manifest `reference` (tag or digest) names in `repo`, if any.
    pub fn get_manifest(&self, repo: &str, reference: &str) -> Result<Option<StoredManifest>> {
        validate_name(repo)?;
        let reference = Reference::parse(reference)?;
        let Some(digest) = self.resolve(repo, &reference)? else {
            return Ok(None);
        };
        let Some(media_type) = read_optional(&self.layout.manifest_link(repo, &digest))? else {
            return Ok(None);
        };
        let Some(bytes) = read_optional(&self.layout.blob(&digest))? else {
            return Ok(None);
        };
        Ok(Some(StoredManifest {
            bytes,
            media_type: String::from_utf8_lossy(&media_type).trim().to_string(),
            digest,
        }))
    }

    /// The digest a reference stands for in `repo` (a digest stands for itself).
    fn resolve(&self, repo: &str, reference: &Reference) -> Result<Option<Digest>> {
        match reference {
            Reference::Digest(digest) => Ok(Some(digest.clone())),
            Reference::Tag(tag) => self.tag_target(repo, tag),
        }
    }

    pub(crate) fn tag_target(&self, repo: &str, tag: &str) -> Result<Option<Digest>> {
        let path = self.layout.tag(repo, tag);
        let Some(bytes) = read_optional(&path)? else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&bytes);
        match Digest::parse(text.trim()) {
            Ok(digest) => Ok(Some(digest)),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring a corrupt DVCR tag file");
                Ok(None)
            }
        }
    }

    /// The parsed manifest `digest` in `repo`, if present and readable.
    pub(crate) fn read_parsed(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> Result<Option<ParsedManifest>> {
        let Some(media_type) = read_optional(&self.layout.manifest_link(repo, digest))? else {
            return Ok(None);
        };
        let Some(bytes) = read_optional(&self.layout.blob(digest))? else {
            tracing::warn!(%repo, %digest, "DVCR manifest has lost its bytes");
            return Ok(None);
        };
        let media_type = String::from_utf8_lossy(&media_type);
        match parse_manifest(&bytes, Some(media_type.trim())) {
            Ok(parsed) => Ok(Some(parsed)),
            Err(e) => {
                tracing::warn!(%repo, %digest, error = %e, "DVCR holds an unreadable manifest");
                Ok(None)
            }
        }
    }

    /// Whether `repo` holds any manifest.
    pub fn repository_exists(&self, repo: &str) -> bool {
        validate_name(repo).is_ok() && self.layout.manifests_dir(repo).is_dir()
    }

    /// The tags of `repo`, sorted; empty when the repository does not exist.
    pub fn tags(&self, repo: &str) -> Result<Vec<String>> {
        validate_name(repo)?;
        let mut tags = list_names(&self.layout.tags_dir(repo))?;
        tags.retain(|t| validate_tag(t).is_ok());
        Ok(tags)
    }

    /// The digests of the manifests in `repo`, sorted.
    pub fn manifests(&self, repo: &str) -> Result<Vec<Digest>> {
        validate_name(repo)?;
        Ok(list_names(&self.layout.manifests_dir(repo))?
            .iter()
            .filter_map(|hex| Digest::from_hex(hex))
            .collect())
    }

    /// Every repository holding at least one manifest, sorted.
    pub fn repositories(&self) -> Result<Vec<String>> {
        let mut found = Vec::new();
        let mut pending = vec![String::new()];
        while let Some(prefix) = pending.pop() {
            let dir = self.layout.repositories_dir().join(&prefix);
            for name in list_names(&dir)? {
                if name.starts_with('_') || !dir.join(&name).is_dir() {
                    continue;
                }
                let repo = if prefix.is_empty() {
                    name
                } else {
                    format!("{prefix}/{name}")
                };
                if validate_name(&repo).is_err() {
                    continue;
                }
                if self.layout.manifests_dir(&repo).is_dir() {
                    found.push(repo.clone());
                }
                pending.push(repo);
            }
        }
        found.sort();
        Ok(found)
    }

    /// Removes a tag (its manifest stays until garbage collection). Returns whether it existed.
    pub fn delete_tag(&self, repo: &str, tag: &str) -> Result<bool> {
        validate_name(repo)?;
        validate_tag(tag)?;
        let _exclusive = self.exclusive();
        let removed = self.remove_tag_file(repo, tag)?;
        self.prune_repository_dirs(repo);
        Ok(removed)
    }

    /// Removes a manifest and every tag pointing at it. Returns whether it existed.
    pub fn delete_manifest(&self, repo: &str, digest: &Digest) -> Result<bool> {
        validate_name(repo)?;
        let _exclusive = self.exclusive();
        let removed = self.remove_manifest_locked(repo, digest)?;
        self.prune_repository_dirs(repo);
        Ok(removed)
    }

    /// The caller holds the registry lock exclusively.
    pub(crate) fn remove_manifest_locked(&self, repo: &str, digest: &Digest) -> Result<bool> {
        for tag in self.tags(repo)? {
            if self.tag_target(repo, &tag)?.as_ref() == Some(digest) {
                self.remove_tag_file(repo, &tag)?;
            }
        }
        let link = self.layout.manifest_link(repo, digest);
        match fs::remove_file(&link) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(DvcrError::io("delete", &link)(e)),
        }
    }

    pub(crate) fn remove_tag_file(&self, repo: &str, tag: &str) -> Result<bool> {
        let path = self.layout.tag(repo, tag);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(DvcrError::io("delete", &path)(e)),
        }
    }

    /// Drops the directories of a repository left empty. The caller holds the lock exclusively.
    pub(crate) fn prune_repository_dirs(&self, repo: &str) {
        let manifests = self.layout.manifests_dir(repo);
        let _ = fs::remove_dir(self.layout.tags_dir(repo));
        let _ = fs::remove_dir(&manifests);
        if let Some(parent) = manifests.parent() {
            let _ = fs::remove_dir(parent);
        }
        remove_empty_dirs(
            &self.layout.repository(repo),
            &self.layout.repositories_dir(),
        );
    }
}
