//! Behaviour specific to the embedded store: persistence, restart, watcher back-pressure, close.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dvp_store::{
    Precondition, RedbStore, RedbStoreOptions, Store, StoreError, WatchStream, WriteOp,
};
use futures::StreamExt;

fn open(path: &Path, options: RedbStoreOptions) -> RedbStore {
    RedbStore::open(path, options).expect("opening the store")
}

async fn put(store: &RedbStore, key: &str, value: &str) -> u64 {
    store
        .write(WriteOp::Put {
            key: key.into(),
            value: Bytes::copy_from_slice(value.as_bytes()),
            precondition: Precondition::None,
        })
        .await
        .expect("writing")
        .revision
}

async fn next(watch: &mut WatchStream) -> Option<Result<dvp_store::Event, StoreError>> {
    tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .expect("no watch item within 10s")
}

#[tokio::test]
async fn data_and_revision_survive_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let store = open(&path, RedbStoreOptions::default());
    put(&store, "/a/1", "one").await;
    let last = put(&store, "/a/2", "two").await;
    store.close().await;
    drop(store);

    let store = open(&path, RedbStoreOptions::default());
    assert_eq!(store.current_revision(), last);
    let listed = store.list("/a/").await.unwrap();
    assert_eq!(listed.revision, last);
    assert_eq!(listed.items.len(), 2);
    assert_eq!(listed.items[1].value, Bytes::from_static(b"two"));
    assert_eq!(put(&store, "/a/3", "three").await, last + 1);
}

#[tokio::test]
async fn dropping_the_store_closes_the_file_for_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let store = open(&path, RedbStoreOptions::default());
    let revision = put(&store, "/a", "x").await;
    drop(store);
    assert_eq!(
        open(&path, RedbStoreOptions::default()).current_revision(),
        revision
    );
}

#[tokio::test]
async fn history_is_empty_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let store = open(&path, RedbStoreOptions::default());
    let revision = put(&store, "/a", "x").await;
    drop(store);

    let store = open(&path, RedbStoreOptions::default());
    assert_eq!(store.oldest_watchable_revision(), revision);
    assert!(matches!(
        store.watch("/", revision - 1).await.err(),
        Some(StoreError::Compacted { .. })
    ));
    let mut watch = store.watch("/", revision).await.unwrap();
    let next_revision = put(&store, "/b", "y").await;
    assert_eq!(
        next(&mut watch).await.unwrap().unwrap().revision(),
        next_revision
    );
}

#[tokio::test]
async fn a_slow_watcher_catches_up_from_history_after_overflowing_its_queue() {
    let dir = tempfile::tempdir().unwrap();
    let options = RedbStoreOptions {
        watch_queue_capacity: 2,
        history_capacity: 1000,
        ..RedbStoreOptions::default()
    };
    let store = open(&dir.path().join("store.redb"), options);
    let mut watch = store.watch("/", 0).await.unwrap();
    let mut written = Vec::new();
    for i in 0..20 {
        written.push(put(&store, &format!("/k/{i}"), "v").await);
    }
    let mut seen = Vec::new();
    for _ in 0..20 {
        seen.push(next(&mut watch).await.unwrap().unwrap().revision());
    }
    assert_eq!(seen, written);
}

#[tokio::test]
async fn a_watcher_behind_the_history_ends_with_lagged() {
    let dir = tempfile::tempdir().unwrap();
    let options = RedbStoreOptions {
        watch_queue_capacity: 2,
        history_capacity: 4,
        ..RedbStoreOptions::default()
    };
    let store = open(&dir.path().join("store.redb"), options);
    let mut watch = store.watch("/", 0).await.unwrap();
    for i in 0..20 {
        put(&store, &format!("/k/{i}"), "v").await;
    }
    assert_eq!(next(&mut watch).await.unwrap().unwrap().revision(), 1);
    assert_eq!(next(&mut watch).await.unwrap().unwrap().revision(), 2);
    assert_eq!(next(&mut watch).await.unwrap(), Err(StoreError::Lagged));
    assert!(next(&mut watch).await.is_none());
}

#[tokio::test]
async fn a_stalled_watcher_does_not_block_writers_or_other_watchers() {
    let dir = tempfile::tempdir().unwrap();
    let options = RedbStoreOptions {
        watch_queue_capacity: 1,
        ..RedbStoreOptions::default()
    };
    let store = open(&dir.path().join("store.redb"), options);
    let _stalled = store.watch("/", 0).await.unwrap();
    let mut active = store.watch("/", 0).await.unwrap();
    for i in 1..=10u64 {
        assert_eq!(put(&store, "/k", &i.to_string()).await, i);
        assert_eq!(next(&mut active).await.unwrap().unwrap().revision(), i);
    }
}

#[tokio::test]
async fn close_ends_watches_and_refuses_further_operations() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(
        &dir.path().join("store.redb"),
        RedbStoreOptions::default(),
    ));
    let mut watch = store.watch("/", 0).await.unwrap();
    store.close().await;
    assert_eq!(next(&mut watch).await.unwrap(), Err(StoreError::Closed));
    assert!(next(&mut watch).await.is_none());
    assert_eq!(
        store
            .write(WriteOp::Delete {
                key: "/k".into(),
                precondition: Precondition::None
            })
            .await,
        Err(StoreError::Closed)
    );
    assert_eq!(store.get("/k").await, Err(StoreError::Closed));
    assert!(matches!(
        store.watch("/", 0).await.err(),
        Some(StoreError::Closed)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_are_batched_and_all_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(
        &dir.path().join("store.redb"),
        RedbStoreOptions::default(),
    ));
    let writes = (0..200).map(|i| {
        let store = store.clone();
        tokio::spawn(async move { put(&store, &format!("/k/{i}"), "v").await })
    });
    let mut revisions = Vec::new();
    for write in writes {
        revisions.push(write.await.unwrap());
    }
    revisions.sort_unstable();
    assert_eq!(revisions, (1..=200).collect::<Vec<u64>>());
    assert_eq!(store.list("/k/").await.unwrap().items.len(), 200);
}

#[test]
fn opening_a_database_held_by_another_store_fails_with_a_backend_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let _first = open(&path, RedbStoreOptions::default());
    assert!(matches!(
        RedbStore::open(&path, RedbStoreOptions::default()),
        Err(StoreError::Backend(_))
    ));
}
