//! The baseline for create throughput: acknowledged writes per second straight into a
//! `RedbStore` (same engine and durability as dvpd's), no HTTP, no admission.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use dvp_store::{Precondition, RedbStore, RedbStoreOptions, Store, WriteOp};

/// A JSON-looking value of exactly `size` bytes (at least its fixed framing).
pub fn value_of_size(size: usize) -> Bytes {
    let head = r#"{"kind":"VirtualMachine","spec":{"pad":""#;
    let tail = r#""}}"#;
    let padding = size.saturating_sub(head.len() + tail.len());
    Bytes::from(format!("{head}{}{tail}", "x".repeat(padding)))
}

/// Creates `count` keys (with the create precondition, like the API) from `concurrency` tasks in
/// a new store under `dir`; returns acknowledged writes per second.
pub async fn writes_per_second(
    dir: &Path,
    concurrency: usize,
    count: usize,
    value_size: usize,
) -> anyhow::Result<f64> {
    let store = Arc::new(
        RedbStore::open(&dir.join("store.redb"), RedbStoreOptions::default())
            .map_err(|e| anyhow::anyhow!("opening a store in {}: {e}", dir.display()))?,
    );
    let value = value_of_size(value_size);
    let next = Arc::new(AtomicUsize::new(0));
    let began = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (store, value, next) = (store.clone(), value.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        return anyhow::Ok(());
                    }
                    let key = format!(
                        "/registry/virtualization.deckhouse.io/virtualmachines/default/vm-{i:06}"
                    );
                    store
                        .write(WriteOp::Put {
                            key,
                            value: value.clone(),
                            precondition: Precondition::MustNotExist,
                        })
                        .await
                        .map_err(|e| anyhow::anyhow!("store write: {e}"))?;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    let rate = count as f64 / began.elapsed().as_secs_f64();
    store.close().await;
    Ok(rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_have_the_requested_size() {
        assert_eq!(value_of_size(1800).len(), 1800);
    }
}
