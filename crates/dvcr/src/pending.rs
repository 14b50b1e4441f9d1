//! What garbage collection must not take yet: blobs committed (or `HEAD`ed, or mounted) for a
//! manifest that has not arrived, and manifests pushed by digest for a tag or index that has
//! not arrived. Writing the manifest (or the tag, or the index) clears the entries, so the
//! grace period protects pushes in flight and nothing else: an image deleted a minute after
//! its push is collected at once.
//!
//! The record lives in memory. For files written before this process opened the registry, the
//! file's modification time stands in for it (a push interrupted by a restart keeps its grace).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use crate::digest::Digest;

pub(crate) struct Pending {
    opened_at: SystemTime,
    blobs: Mutex<HashMap<Digest, SystemTime>>,
    manifests: Mutex<HashMap<(String, Digest), SystemTime>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// File times come from the kernel's coarse clock (a tick, up to 10 ms, behind the fine clock
/// `SystemTime::now` reads), so a file written just after the registry opened can look older
/// than the opening; a file counts as written before the opening only when it is older by more
/// than this. No restart is this quick, so a push interrupted by one still keeps its grace.
const COARSE_CLOCK_MARGIN: Duration = Duration::from_millis(50);

fn young(at: SystemTime, now: SystemTime, grace: Duration) -> bool {
    match now.duration_since(at) {
        Ok(age) => age < grace,
        Err(_) => true, // in the future: clock skew, treat as new
    }
}

impl Pending {
    pub(crate) fn new() -> Pending {
        Pending {
            opened_at: SystemTime::now(),
            blobs: Mutex::new(HashMap::new()),
            manifests: Mutex::new(HashMap::new()),
        }
    }

    /// A blob a client may be about to reference.
    pub(crate) fn blob(&self, digest: &Digest) {
        lock(&self.blobs).insert(digest.clone(), SystemTime::now());
    }

    /// Blobs a manifest now references (the manifest protects them from here on).
    pub(crate) fn blobs_referenced<'a>(&self, digests: impl IntoIterator<Item = &'a Digest>) {
        let mut blobs = lock(&self.blobs);
        for digest in digests {
            blobs.remove(digest);
        }
    }

    /// A manifest pushed by digest, waiting for a tag or an index.
    pub(crate) fn untagged_manifest(&self, repo: &str, digest: &Digest) {
        lock(&self.manifests).insert((repo.to_string(), digest.clone()), SystemTime::now());
    }

    /// Manifests of `repo` now tagged or listed by an index.
    pub(crate) fn manifests_referenced<'a>(
        &self,
        repo: &str,
        digests: impl IntoIterator<Item = &'a Digest>,
    ) {
        let mut manifests = lock(&self.manifests);
        for digest in digests {
            manifests.remove(&(repo.to_string(), digest.clone()));
        }
    }

    /// Whether an unreferenced blob with modification time `mtime` must be kept.
    pub(crate) fn protects_blob(
        &self,
        digest: &Digest,
        mtime: Option<SystemTime>,
        now: SystemTime,
        grace: Duration,
    ) -> bool {
        let recorded = lock(&self.blobs).get(digest).copied();
        self.protects(recorded, mtime, now, grace)
    }

    /// Whether an untagged, unlisted manifest with link modification time `mtime` must be kept.
    pub(crate) fn protects_manifest(
        &self,
        repo: &str,
        digest: &Digest,
        mtime: Option<SystemTime>,
        now: SystemTime,
        grace: Duration,
    ) -> bool {
        let key = (repo.to_string(), digest.clone());
        let recorded = lock(&self.manifests).get(&key).copied();
        self.protects(recorded, mtime, now, grace)
    }

    fn protects(
        &self,
        recorded: Option<SystemTime>,
        mtime: Option<SystemTime>,
        now: SystemTime,
        grace: Duration,
    ) -> bool {
        if recorded.is_some_and(|at| young(at, now, grace)) {
            return true;
        }
        let before_opening = |at: SystemTime| {
            self.opened_at
                .checked_sub(COARSE_CLOCK_MARGIN)
                .is_some_and(|opened| at < opened)
        };
        mtime.is_some_and(|at| before_opening(at) && young(at, now, grace))
    }

    /// Forgets entries older than the grace period.
    pub(crate) fn expire(&self, now: SystemTime, grace: Duration) {
        lock(&self.blobs).retain(|_, at| young(*at, now, grace));
        lock(&self.manifests).retain(|_, at| young(*at, now, grace));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn recorded_blob_is_protected_until_a_manifest_references_it() {
        let pending = Pending::new();
        let d = Digest::of_bytes(b"x");
        pending.blob(&d);
        let now = SystemTime::now();
        assert!(pending.protects_blob(&d, Some(now), now, HOUR));
        pending.blobs_referenced([&d]);
        assert!(!pending.protects_blob(&d, Some(now), now, HOUR));
    }

    #[test]
    fn files_from_before_opening_are_protected_by_their_age() {
        let pending = Pending::new();
        let d = Digest::of_bytes(b"x");
        let now = SystemTime::now() + Duration::from_secs(1);
        let before_open = pending.opened_at - Duration::from_secs(60);
        assert!(pending.protects_blob(&d, Some(before_open), now, HOUR));
        assert!(!pending.protects_blob(&d, Some(before_open - HOUR), now, HOUR));
        assert!(!pending.protects_blob(
            &d,
            Some(pending.opened_at + Duration::from_millis(1)),
            now,
            HOUR
        ));
    }

    #[test]
    fn a_file_stamped_by_the_coarse_clock_just_before_opening_counts_as_new() {
        let pending = Pending::new();
        let d = Digest::of_bytes(b"x");
        let now = SystemTime::now();
        let same_tick = pending.opened_at - Duration::from_millis(4);
        assert!(!pending.protects_blob(&d, Some(same_tick), now, HOUR));
    }

    #[test]
    fn untagged_manifest_is_protected_per_repository_until_tagged() {
        let pending = Pending::new();
        let d = Digest::of_bytes(b"m");
        let now = SystemTime::now();
        pending.untagged_manifest("a", &d);
        assert!(pending.protects_manifest("a", &d, None, now, HOUR));
        assert!(!pending.protects_manifest("b", &d, None, now, HOUR));
        pending.manifests_referenced("a", [&d]);
        assert!(!pending.protects_manifest("a", &d, None, now, HOUR));
    }

    #[test]
    fn expired_entries_are_forgotten() {
        let pending = Pending::new();
        let d = Digest::of_bytes(b"x");
        pending.blob(&d);
        let later = SystemTime::now() + 2 * HOUR;
        pending.expire(later, HOUR);
        assert!(lock(&pending.blobs).is_empty());
    }
}
