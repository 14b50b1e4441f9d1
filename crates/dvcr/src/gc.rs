//! Garbage collection: tags the platform no longer wants, manifests nothing points at, blobs
//! no manifest references, and abandoned upload sessions.
//!
//! Safety against concurrent pushes comes from two rules: the whole collection holds the
//! registry lock exclusively (no manifest write or blob commit interleaves with it), and blobs
//! and by-digest manifests pushed for a manifest or tag that has not arrived yet are kept for
//! the grace period ([`crate::pending`]): a client may have pushed its blobs and not yet its
//! manifest. Everything else unreferenced goes at once, however recent.

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::digest::Digest;
use crate::error::{DvcrError, Result};
use crate::fsutil::list_names;
use crate::registry::Registry;

/// What a collection did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    pub tags_deleted: usize,
    pub manifests_deleted: usize,
    pub repositories_deleted: usize,
    pub blobs_deleted: usize,
    pub bytes_freed: u64,
    /// Unreferenced blobs kept because they are younger than the grace period.
    pub blobs_kept_recent: usize,
    pub blobs_remaining: usize,
    pub uploads_deleted: usize,
    pub upload_bytes_freed: u64,
}

impl fmt::Display for GcReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "deleted {} tags, {} manifests, {} repositories, {} blobs ({} bytes) and {} stale uploads ({} bytes); {} blobs remain ({} unreferenced but recent)",
            self.tags_deleted,
            self.manifests_deleted,
            self.repositories_deleted,
            self.blobs_deleted,
            self.bytes_freed,
            self.uploads_deleted,
            self.upload_bytes_freed,
            self.blobs_remaining,
            self.blobs_kept_recent,
        )
    }
}

impl Registry {
    /// Collects garbage.
    ///
    /// 1. Every tag for which `keep(repo, tag)` is false is deleted, with the manifest it
    ///    pointed to unless another tag still points there.
    /// 2. Untagged manifests that no remaining index lists are deleted, unless they were pushed
    ///    by digest less than the grace period ago (a tag or index may be on its way).
    /// 3. Blobs that no remaining manifest references and that are not in `extra_roots` (the
    ///    blobs volumes use as backing files) are deleted, unless they were pushed, `HEAD`ed or
    ///    mounted less than the grace period ago without a manifest referencing them since.
    /// 4. Upload sessions idle for longer than the upload TTL are deleted.
    ///
    /// `keep` is called while the registry is locked, so every tag it sees was pushed before
    /// the call: answer from the current state of the owning objects (not from a list taken
    /// before `gc` was called), or an image pushed a moment ago for a new object could be
    /// taken for garbage.
    pub fn gc(
        &self,
        keep: &dyn Fn(&str, &str) -> bool,
        extra_roots: &HashSet<Digest>,
    ) -> Result<GcReport> {
        let _exclusive = self.exclusive();
        let now = SystemTime::now();
        let mut report = GcReport::default();
        let mut referenced: HashSet<Digest> = HashSet::new();
        for repo in self.repositories()? {
            self.collect_repository(&repo, keep, now, &mut referenced, &mut report)?;
        }
        self.sweep_blobs(&referenced, extra_roots, now, &mut report)?;
        self.sweep_uploads(now, &mut report)?;
        self.pending.expire(now, self.options.gc_grace);
        tracing::info!(%report, "DVCR garbage collection finished");
        Ok(report)
    }

    fn collect_repository(
        &self,
        repo: &str,
        keep: &dyn Fn(&str, &str) -> bool,
        now: SystemTime,
        referenced: &mut HashSet<Digest>,
        report: &mut GcReport,
    ) -> Result<()> {
        let mut roots = BTreeSet::new();
        for tag in self.tags(repo)? {
            let target = self.tag_target(repo, &tag)?;
            if keep(repo, &tag) {
                roots.extend(target);
            } else {
                self.remove_tag_file(repo, &tag)?;
                report.tags_deleted += 1;
            }
        }
        // Manifests reachable from a kept tag, through index children.
        let mut live = HashSet::new();
        let mut pending: Vec<Digest> = roots.into_iter().collect();
        while let Some(digest) = pending.pop() {
            if !live.insert(digest.clone()) {
                continue;
            }
            if let Some(parsed) = self.read_parsed(repo, &digest)? {
                referenced.extend(parsed.content.blobs().iter().map(|d| d.digest.clone()));
                pending.extend(parsed.content.children().iter().map(|d| d.digest.clone()));
            }
        }
        for digest in self.manifests(repo)? {
            if live.contains(&digest) {
                referenced.insert(digest);
                continue;
            }
            let link = self.layout.manifest_link(repo, &digest);
            let grace = self.options.gc_grace;
            if self
                .pending
                .protects_manifest(repo, &digest, mtime(&link), now, grace)
            {
                // Kept for now: keep what it references too.
                if let Some(parsed) = self.read_parsed(repo, &digest)? {
                    referenced.extend(parsed.content.blobs().iter().map(|d| d.digest.clone()));
                }
                referenced.insert(digest);
                continue;
            }
            if self.remove_manifest_locked(repo, &digest)? {
                report.manifests_deleted += 1;
            }
        }
        self.prune_repository_dirs(repo);
        if !self.layout.manifests_dir(repo).is_dir() {
            report.repositories_deleted += 1;
        }
        Ok(())
    }

    fn sweep_blobs(
        &self,
        referenced: &HashSet<Digest>,
        extra_roots: &HashSet<Digest>,
        now: SystemTime,
        report: &mut GcReport,
    ) -> Result<()> {
        let dir = self.layout.blobs_dir();
        for name in list_names(&dir)? {
            let Some(digest) = Digest::from_hex(&name) else {
                continue;
            };
            let path = dir.join(&name);
            if referenced.contains(&digest) || extra_roots.contains(&digest) {
                report.blobs_remaining += 1;
                continue;
            }
            if self
                .pending
                .protects_blob(&digest, mtime(&path), now, self.options.gc_grace)
            {
                report.blobs_kept_recent += 1;
                report.blobs_remaining += 1;
                continue;
            }
            let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            match fs::remove_file(&path) {
                Ok(()) => {
                    report.blobs_deleted += 1;
                    report.bytes_freed += size;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(DvcrError::io("delete", &path)(e)),
            }
        }
        Ok(())
    }

    fn sweep_uploads(&self, now: SystemTime, report: &mut GcReport) -> Result<()> {
        let dir = self.layout.uploads_dir();
        for id in list_names(&dir)? {
            let session = dir.join(&id);
            if self.session_busy(&id) {
                continue;
            }
            let data = session.join("data");
            let last_activity = [&data, &session]
                .iter()
                .filter_map(|p| fs::metadata(p).and_then(|m| m.modified()).ok())
                .max();
            let idle = last_activity
                .and_then(|t| now.duration_since(t).ok())
                .unwrap_or(Duration::MAX);
            if idle <= self.options.upload_ttl {
                continue;
            }
            let size = fs::metadata(&data).map(|m| m.len()).unwrap_or(0);
            self.discard_session(&id);
            report.uploads_deleted += 1;
            report.upload_bytes_freed += size;
        }
        Ok(())
    }
}

fn mtime(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}
