//! A revisioned key-value store with watch-from-revision, shaped like etcd's v3 API so that an
//! etcd implementation can sit behind the same trait.
//!
//! * Every successful write bumps one global, monotonically increasing [`Revision`].
//! * Writes are single-key compare-and-swap ([`Precondition`]).
//! * [`Store::watch`] replays every change after a given revision, then follows live changes;
//!   a revision older than the retained history yields [`StoreError::Compacted`].
//! * A write is acknowledged only once it is durable: it survives `kill -9` of the process.
//!
//! The API server stores objects as JSON bytes under keys such as
//! `/registry/<group>/<resource>/<namespace>/<name>`; the store knows nothing about that.

use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;

pub mod conformance;
pub mod redb_store;

pub use redb_store::{RedbStore, RedbStoreOptions, RepairPolicy};

/// The store's global revision. `0` means "nothing written yet".
pub type Revision = u64;

/// One stored key with its value and revisions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    /// Revision of the write that created this key (stable across updates).
    pub create_revision: Revision,
    /// Revision of the last write to this key (for a delete event: the delete's revision).
    pub mod_revision: Revision,
}

/// The condition a write checks against the current state of its key, atomically.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// Write unconditionally (create or overwrite; delete if present).
    None,
    /// The key must not exist (create).
    MustNotExist,
    /// The key must exist, whatever its revision.
    MustExist,
    /// The key must exist with exactly this `mod_revision` (optimistic concurrency).
    ModRevision(Revision),
}

/// A single-key write.
#[derive(Clone, Debug)]
pub enum WriteOp {
    Put {
        key: String,
        value: Bytes,
        precondition: Precondition,
    },
    Delete {
        key: String,
        precondition: Precondition,
    },
}

impl WriteOp {
    pub fn key(&self) -> &str {
        match self {
            WriteOp::Put { key, .. } | WriteOp::Delete { key, .. } => key,
        }
    }
}

/// What a successful write did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteResult {
    pub revision: Revision,
    /// The value after a put, or the deleted value (with `mod_revision` = the delete revision).
    pub kv: KeyValue,
    /// The value before the write, if the key existed.
    pub prev: Option<KeyValue>,
}

/// One page of a listing: up to `limit` keys after a start key.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// Sorted by key.
    pub items: Vec<KeyValue>,
    /// The store revision the page reflects.
    pub revision: Revision,
    /// Whether keys under the prefix remain after the last item.
    pub more: bool,
}

/// A consistent listing of all keys under a prefix at one revision.
#[derive(Clone, Debug, Default)]
pub struct ListResult {
    /// Sorted by key.
    pub items: Vec<KeyValue>,
    /// The store revision the listing reflects; a watch from here misses nothing.
    pub revision: Revision,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The key was created (`prev` is `None`) or updated (`prev` is `Some`).
    Put,
    /// The key was deleted; `kv` holds its last value with `mod_revision` = the delete revision.
    Delete,
}

/// One change, as delivered to watchers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub kv: KeyValue,
    pub prev: Option<KeyValue>,
}

impl Event {
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

pub type WatchStream = Pin<Box<dyn Stream<Item = Result<Event, StoreError>> + Send>>;

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// the key already exists
    #[error("key {0:?} already exists")]
    AlreadyExists(String),
    /// the key does not exist
    #[error("key {0:?} not found")]
    NotFound(String),
    /// the key was modified since the given revision; `current` is its present value
    #[error("key {key:?} was modified (expected revision {expected}, found {found:?})")]
    Conflict {
        key: String,
        expected: Revision,
        found: Option<Revision>,
    },
    /// the requested revision is older than the retained history (HTTP 410 Gone)
    #[error("revision {requested} has been compacted; oldest available is {oldest}")]
    Compacted {
        requested: Revision,
        oldest: Revision,
    },
    /// the watcher fell too far behind the live stream and must re-list
    #[error("watcher fell behind; re-list and watch again")]
    Lagged,
    /// the store is closed or shutting down
    #[error("store is closed")]
    Closed,
    /// an I/O or database failure; the message says what failed
    #[error("storage failure: {0}")]
    Backend(String),
}

/// The store contract. One conformance suite ([`conformance`]) runs against every implementation.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// The current value of `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError>;

    /// All keys starting with `prefix`, sorted by key, as of one consistent revision.
    async fn list(&self, prefix: &str) -> Result<ListResult, StoreError>;

    /// Up to `limit` keys under `prefix` strictly after `start_after` (all when `None`), sorted,
    /// as of one consistent revision. Pages of one listing may reflect different revisions.
    async fn list_page(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let all = self.list(prefix).await?;
        let mut items: Vec<KeyValue> = all
            .items
            .into_iter()
            .filter(|kv| start_after.is_none_or(|s| kv.key.as_str() > s))
            .take(limit.saturating_add(1))
            .collect();
        let more = items.len() > limit;
        items.truncate(limit);
        Ok(Page {
            items,
            revision: all.revision,
            more,
        })
    }

    /// Apply one write atomically. Returns only after the write is durable.
    async fn write(&self, op: WriteOp) -> Result<WriteResult, StoreError>;

    /// Every change to keys under `prefix` with revision strictly greater than `after`, in
    /// revision order, then live changes until the stream is dropped. `after` older than the
    /// retained history fails with [`StoreError::Compacted`]. `after` newer than the current
    /// revision is allowed (events start once the store reaches it).
    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StoreError>;

    /// The revision of the last acknowledged write.
    fn current_revision(&self) -> Revision;

    /// The oldest revision `r` such that `watch(_, r)` still succeeds.
    fn oldest_watchable_revision(&self) -> Revision;
}
