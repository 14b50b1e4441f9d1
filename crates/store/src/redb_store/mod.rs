//! The embedded store: redb on disk, a group-commit writer thread, in-memory watch history.
//!
//! * Reads (`get`, `list`) run on redb read transactions (MVCC snapshots) and never wait for the
//!   writer. `list` reads the revision from the same snapshot as the items.
//! * Writes are queued to one writer thread that commits them in batches with
//!   `Durability::Immediate` (module `writer`); a write is answered only after its batch is on
//!   disk. When writes pause, the writer also records redb's allocator state ("quick repair",
//!   see [`RepairPolicy`]), so reopening after a crash does not walk the whole file.
//! * Watch history is memory only (module `history`): a ring of the last N events. It is lost on
//!   restart, which is why `oldest_watchable_revision()` starts at the revision found at open.
//!   Keeping it out of the database keeps commits small and restart independent of history size;
//!   clients that need older revisions re-list, as they would after an etcd compaction.
//!
//! The default [`RepairPolicy`] is `WhenIdle`: recording the allocator state makes the open
//! after a crash constant-time (about 1 ms instead of about 0.6 s for 100,000 objects of 1.5 KB)
//! but costs a second sync per commit, doubling write latency and halving throughput. So write
//! commits skip it and the writer records it once writes pause; only a crash in the middle of
//! write activity pays for the walk (see `examples/store_bench` for the figures).
//!
//! A write whose caller stops waiting (its future dropped) after it was queued still happens.

mod apply;
mod codec;
mod history;
mod tables;
mod watch;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use redb::{Database, RepairSession};
use tokio::sync::{mpsc, oneshot};

use self::history::History;
use self::watch::WatchEvents;
use self::writer::{Request, Writer};
use crate::{
    KeyValue, ListResult, Page, Revision, Store, StoreError, WatchStream, WriteOp, WriteResult,
};

/// Tuning of a [`RedbStore`].
#[derive(Clone, Debug)]
pub struct RedbStoreOptions {
    /// How many events the watch history keeps in memory. Watches from older revisions fail
    /// with `Compacted`. Memory grows with this times the size of a value (and its previous
    /// value).
    pub history_capacity: usize,
    /// How many events may wait for one watcher before it is dropped from the live stream and
    /// must catch up from the history.
    pub watch_queue_capacity: usize,
    /// Most writes committed in one transaction.
    pub max_batch: usize,
    /// Most writes waiting for the writer thread before `write` callers wait to enqueue.
    pub max_pending_writes: usize,
    /// When commits record redb's allocator state, which decides how fast the open after a
    /// crash is (see [`RepairPolicy`]).
    pub repair_policy: RepairPolicy,
    /// redb's page cache, in bytes.
    pub cache_size_bytes: usize,
}

impl Default for RedbStoreOptions {
    fn default() -> Self {
        RedbStoreOptions {
            history_capacity: 100_000,
            watch_queue_capacity: 1024,
            max_batch: 1024,
            max_pending_writes: 8192,
            repair_policy: RepairPolicy::default(),
            cache_size_bytes: 512 * 1024 * 1024,
        }
    }
}

/// When a commit records redb's allocator state ("quick repair").
///
/// An open after a crash either loads the allocator state recorded by the last commit (constant
/// time) or rebuilds it by walking the whole file (about 0.6 s per 100,000 objects of 1.5 KB
/// here). Recording it makes the commit two-phase: two syncs instead of one, which roughly halves
/// write throughput and doubles write latency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RepairPolicy {
    /// Every commit records the state: the open after any crash is instant.
    EveryCommit,
    /// Write commits skip it (one sync each); once writes pause for `after`, an empty commit
    /// records it. The open after a crash is instant unless the crash hit while writes were
    /// flowing, in which case it walks the file.
    WhenIdle { after: Duration },
    /// No commit records it: the open after any crash walks the file (a clean close is fast).
    Never,
}

impl Default for RepairPolicy {
    fn default() -> Self {
        RepairPolicy::WhenIdle {
            after: Duration::from_millis(100),
        }
    }
}

/// A [`Store`] in one redb file. Share it as `Arc<RedbStore>` or `Arc<dyn Store>`; dropping
/// the last handle (or [`RedbStore::close`]) finishes queued writes and closes the file.
pub struct RedbStore {
    path: PathBuf,
    /// `None` once closed.
    db: RwLock<Option<Arc<Database>>>,
    /// `None` once closed; dropping the last sender stops the writer thread.
    writes: RwLock<Option<mpsc::Sender<Request>>>,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
    history: Arc<History>,
    repaired_on_open: bool,
}

impl RedbStore {
    /// Opens (or creates) the database file at `path`, repairing it first if the last process
    /// using it crashed. Creates the parent directory if needed.
    pub fn open(path: &Path, options: RedbStoreOptions) -> Result<RedbStore, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Backend(format!(
                    "creating the data directory {}: {e}",
                    parent.display()
                ))
            })?;
        }
        let repaired = Arc::new(AtomicBool::new(false));
        let repair_seen = repaired.clone();
        let db = Database::builder()
            .set_cache_size(options.cache_size_bytes)
            .set_repair_callback(move |session: &mut RepairSession| {
                repair_seen.store(true, Ordering::Relaxed);
                tracing::warn!(
                    progress = session.progress(),
                    "store was not closed cleanly; rebuilding the allocator state of the database file"
                );
            })
            .create(path)
            .map_err(|e| {
                tables::backend(
                    &format!("opening {} (is another process using it?)", path.display()),
                    e,
                )
            })?;
        let revision = match tables::stored_revision(&db)? {
            Some(revision) => revision,
            None => {
                tables::initialise(&db)?;
                0
            }
        };
        let db = Arc::new(db);
        let history = Arc::new(History::new(
            revision,
            options.history_capacity,
            options.watch_queue_capacity,
        ));
        let (writes, requests) = mpsc::channel(options.max_pending_writes.max(1));
        let writer = Writer {
            db: db.clone(),
            history: history.clone(),
            revision,
            max_batch: options.max_batch.max(1),
            repair_policy: options.repair_policy,
            unsealed: false,
        };
        // The writer only needs timers (for sealing), so a tiny runtime of its own suffices and
        // `open` works without an ambient one.
        let writer_runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|e| StoreError::Backend(format!("starting the writer runtime: {e}")))?;
        let writer_thread = std::thread::Builder::new()
            .name("dvp-store-writer".into())
            .spawn(move || writer_runtime.block_on(writer.run(requests)))
            .map_err(|e| StoreError::Backend(format!("starting the writer thread: {e}")))?;
        let repaired_on_open = repaired.load(Ordering::Relaxed);
        tracing::info!(path = %path.display(), revision, repaired_on_open, "store opened");
        Ok(RedbStore {
            path: path.to_owned(),
            db: RwLock::new(Some(db)),
            writes: RwLock::new(Some(writes)),
            writer_thread: Mutex::new(Some(writer_thread)),
            history,
            repaired_on_open,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether opening had to rebuild the allocator state by walking the whole file (the last
    /// process crashed after a commit that did not record it; see [`RepairPolicy`]).
    pub fn repaired_on_open(&self) -> bool {
        self.repaired_on_open
    }

    /// Finishes the queued writes, ends every watch stream with [`StoreError::Closed`] and
    /// closes the file (once reads in progress finish). Later calls fail with `Closed`.
    pub async fn close(&self) {
        let thread = self.begin_shutdown();
        if let Some(thread) = thread {
            // Joining blocks until the last batch is committed: keep that off the runtime.
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        self.finish_shutdown();
    }

    fn begin_shutdown(&self) -> Option<JoinHandle<()>> {
        self.writes
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.writer_thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    fn finish_shutdown(&self) {
        self.history.close();
        self.db
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    fn database(&self) -> Result<Arc<Database>, StoreError> {
        self.db
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or(StoreError::Closed)
    }

    fn write_queue(&self) -> Result<mpsc::Sender<Request>, StoreError> {
        self.writes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or(StoreError::Closed)
    }
}

impl Drop for RedbStore {
    fn drop(&mut self) {
        if let Some(thread) = self.begin_shutdown() {
            let _ = thread.join();
        }
        self.finish_shutdown();
    }
}

#[async_trait::async_trait]
impl Store for RedbStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        // A point read is a few page lookups, usually in cache: cheaper inline than handing
        // it to another thread.
        let db = self.database()?;
        tables::get(&db, key)
    }

    async fn list(&self, prefix: &str) -> Result<ListResult, StoreError> {
        let db = self.database()?;
        let prefix = prefix.to_owned();
        tokio::task::spawn_blocking(move || tables::list(&db, &prefix))
            .await
            .map_err(|e| StoreError::Backend(format!("list task failed: {e}")))?
    }

    async fn list_page(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let db = self.database()?;
        let prefix = prefix.to_owned();
        let start = start_after.map(str::to_owned);
        tokio::task::spawn_blocking(move || {
            tables::list_page(&db, &prefix, start.as_deref(), limit)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("list task failed: {e}")))?
    }

    async fn write(&self, op: WriteOp) -> Result<WriteResult, StoreError> {
        let queue = self.write_queue()?;
        let (reply, answer) = oneshot::channel();
        queue
            .send(Request { op, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        drop(queue);
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StoreError> {
        let events = WatchEvents::start(self.history.clone(), prefix, after)?;
        Ok(Box::pin(events))
    }

    fn current_revision(&self) -> Revision {
        self.history.last_revision()
    }

    fn oldest_watchable_revision(&self) -> Revision {
        self.history.oldest_watchable()
    }
}
