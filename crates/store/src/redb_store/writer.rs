//! The group-commit writer thread.
//!
//! A durable redb commit costs one or two `fdatasync`s (milliseconds on real disks), while
//! applying a single-key write costs microseconds. So all writes go through one thread: it waits
//! for the first request, drains whatever else queued up meanwhile (up to a batch limit), applies
//! the batch in arrival order inside one write transaction, commits once, publishes the events to
//! the watch history and only then answers every request. Under load, the requests arriving during
//! one commit form the next batch, so throughput grows with the number of concurrent writers
//! instead of being capped at one write per sync.
//!
//! Within a batch each successful write takes the next revision and sees the effects of the
//! writes before it; a write whose precondition fails takes no revision and fails alone. A
//! storage failure fails the whole batch (nothing of it is committed) and the revision counter
//! stays where the last commit left it.
//!
//! The [`RepairPolicy`] decides whether a commit records redb's allocator state (two syncs) or
//! not (one sync). Under `WhenIdle`, write commits skip it and the writer, once it has waited the
//! policy's idle time for the next request, "seals" with an empty commit that records it, so a
//! store at rest always reopens instantly after a crash.

use std::sync::Arc;
use std::time::Duration;

use redb::{Database, Durability, ReadableTable};
use tokio::sync::{mpsc, oneshot};

use super::RepairPolicy;
use super::apply::{Applied, apply};
use super::codec;
use super::history::History;
use super::tables::{KV, META, REVISION_KEY, backend};
use crate::{Revision, StoreError, WriteOp, WriteResult};

pub type Reply = oneshot::Sender<Result<WriteResult, StoreError>>;

/// One queued write and where to send its outcome.
pub struct Request {
    pub op: WriteOp,
    pub reply: Reply,
}

pub struct Writer {
    pub db: Arc<Database>,
    pub history: Arc<History>,
    /// The last committed revision.
    pub revision: Revision,
    pub max_batch: usize,
    pub repair_policy: RepairPolicy,
    /// The last commit did not record the allocator state.
    pub unsealed: bool,
}

impl Writer {
    /// Serves requests until every sender is gone, then returns (dropping its database handle).
    ///
    /// Runs on its own thread: the commits inside block it, which is the point.
    pub async fn run(mut self, mut requests: mpsc::Receiver<Request>) {
        let mut batch = Vec::with_capacity(self.max_batch);
        loop {
            let first = match self.seal_after() {
                Some(idle) => match tokio::time::timeout(idle, requests.recv()).await {
                    Ok(first) => first,
                    Err(_) => {
                        self.seal();
                        continue;
                    }
                },
                None => requests.recv().await,
            };
            let Some(first) = first else { break };
            batch.push(first);
            while batch.len() < self.max_batch {
                match requests.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            self.commit_batch(&mut batch);
        }
    }

    /// How long to wait for a write before sealing, if the last commit needs sealing.
    fn seal_after(&self) -> Option<Duration> {
        match self.repair_policy {
            RepairPolicy::WhenIdle { after } if self.unsealed => Some(after),
            _ => None,
        }
    }

    /// Whether write commits record the allocator state.
    fn records_allocator_state(&self) -> bool {
        self.repair_policy == RepairPolicy::EveryCommit
    }

    /// An empty commit that records the allocator state, so that a crash while idle is
    /// followed by an instant open.
    fn seal(&mut self) {
        let sealed = self
            .db
            .begin_write()
            .map_err(|e| backend("starting the sealing transaction", e))
            .and_then(|mut txn| {
                txn.set_quick_repair(true);
                txn.commit()
                    .map_err(|e| backend("committing the sealing transaction", e))
            });
        match sealed {
            Ok(()) => self.unsealed = false,
            Err(error) => {
                tracing::warn!(%error, "could not record the allocator state; will retry")
            }
        }
    }

    fn commit_batch(&mut self, batch: &mut Vec<Request>) {
        let mut replies = Vec::with_capacity(batch.len());
        let mut ops = Vec::with_capacity(batch.len());
        for Request { op, reply } in batch.drain(..) {
            ops.push(op);
            replies.push(reply);
        }
        let record_allocator_state = self.records_allocator_state();
        match self.write_batch(ops, record_allocator_state) {
            Ok((outcomes, revision)) => {
                if revision != self.revision {
                    self.unsealed = !record_allocator_state;
                }
                self.revision = revision;
                let mut events = Vec::new();
                let mut results = Vec::with_capacity(outcomes.len());
                for outcome in outcomes {
                    results.push(outcome.map(|Applied { result, event, .. }| {
                        events.push(Arc::new(event));
                        result
                    }));
                }
                // Publish before answering, so that a caller who saw its write acknowledged
                // can immediately watch from the revision before it.
                self.history.publish(events);
                for (reply, result) in replies.into_iter().zip(results) {
                    // The caller may have given up waiting; the write stands regardless.
                    let _ = reply.send(result);
                }
            }
            Err(error) => {
                tracing::error!(%error, "write batch failed; nothing of it was committed");
                for reply in replies {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }

    /// Applies `ops` in one transaction; returns each op's outcome and the new revision.
    fn write_batch(
        &self,
        ops: Vec<WriteOp>,
        record_allocator_state: bool,
    ) -> Result<(Vec<Result<Applied, StoreError>>, Revision), StoreError> {
        let mut txn = self
            .db
            .begin_write()
            .map_err(|e| backend("starting a write transaction", e))?;
        txn.set_durability(Durability::Immediate)
            .map_err(|e| backend("requesting a durable commit", e))?;
        txn.set_quick_repair(record_allocator_state);
        let mut revision = self.revision;
        let mut outcomes = Vec::with_capacity(ops.len());
        {
            let mut kv = txn
                .open_table(KV)
                .map_err(|e| backend("opening the kv table", e))?;
            for op in ops {
                let key = op.key().to_owned();
                let current = kv
                    .get(key.as_str())
                    .map_err(|e| backend("reading a key", e))?
                    .map(|guard| codec::decode(&key, guard.value()));
                let outcome = match current.transpose() {
                    Ok(current) => apply(op, current, revision + 1),
                    Err(e) => Err(e),
                };
                if let Ok(applied) = &outcome {
                    match &applied.new_value {
                        Some(kv_new) => {
                            kv.insert(key.as_str(), codec::encode(kv_new).as_slice())
                                .map_err(|e| backend("writing a key", e))?;
                        }
                        None => {
                            kv.remove(key.as_str())
                                .map_err(|e| backend("deleting a key", e))?;
                        }
                    }
                    revision += 1;
                }
                outcomes.push(outcome);
            }
        }
        if revision == self.revision {
            // Only failed preconditions: nothing to make durable.
            txn.abort()
                .map_err(|e| backend("aborting an empty transaction", e))?;
            return Ok((outcomes, revision));
        }
        {
            let mut meta = txn
                .open_table(META)
                .map_err(|e| backend("opening the meta table", e))?;
            meta.insert(REVISION_KEY, revision)
                .map_err(|e| backend("writing the revision", e))?;
        }
        txn.commit()
            .map_err(|e| backend("committing a write batch", e))?;
        Ok((outcomes, revision))
    }
}
