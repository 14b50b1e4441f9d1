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

use std::sync::Arc;

use redb::{Database, Durability, ReadableTable};
use tokio::sync::{mpsc, oneshot};

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
    pub quick_repair: bool,
}

impl Writer {
    /// Serves requests until every sender is gone, then returns (dropping its database handle).
    pub fn run(mut self, mut requests: mpsc::Receiver<Request>) {
        let mut batch = Vec::with_capacity(self.max_batch);
        while let Some(first) = requests.blocking_recv() {
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

    fn commit_batch(&mut self, batch: &mut Vec<Request>) {
        let mut replies = Vec::with_capacity(batch.len());
        let mut ops = Vec::with_capacity(batch.len());
        for Request { op, reply } in batch.drain(..) {
            ops.push(op);
            replies.push(reply);
        }
        match self.write_batch(ops) {
            Ok((outcomes, revision)) => {
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
    ) -> Result<(Vec<Result<Applied, StoreError>>, Revision), StoreError> {
        let mut txn = self
            .db
            .begin_write()
            .map_err(|e| backend("starting a write transaction", e))?;
        txn.set_durability(Durability::Immediate)
            .map_err(|e| backend("requesting a durable commit", e))?;
        txn.set_quick_repair(self.quick_repair);
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
