//! The conformance suite every [`crate::Store`] implementation must pass.
//!
//! Each `pub async fn` here checks one behaviour against a store. [`store_conformance_tests!`](crate::store_conformance_tests)
//! turns the whole suite into `#[tokio::test]` functions for one implementation:
//!
//! ```ignore
//! dvp_store::store_conformance_tests!(async { make_fixture().await });
//! ```
//!
//! The expression is evaluated once per test and must yield a [`Fixture`]: an
//! `Arc<impl Store>`, or a pair `(Arc<impl Store>, guard)` where the guard (a temporary
//! directory, a server process…) lives until the test ends. Requirements on the fixture:
//! * every evaluation yields a fresh, empty store whose history starts at revision 0;
//! * it retains at most [`MAX_RETAINED_EVENTS`] events of watch history (so the compaction test
//!   can push revisions out of it) and at least 64;
//! * the calling crate depends on `tokio` with the `macros` and `rt-multi-thread` features.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;

use crate::{
    Event, EventKind, KeyValue, Precondition, Revision, Store, StoreError, WatchStream, WriteOp,
    WriteResult,
};

/// The most events of history a fixture may retain (see the module docs).
pub const MAX_RETAINED_EVENTS: usize = 256;

/// How long a test waits for an expected event before failing.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Something a test can get a store from; kept alive for the whole test.
pub trait Fixture: Send + Sync {
    fn store(&self) -> Arc<dyn Store>;
}

impl<S: Store> Fixture for Arc<S> {
    fn store(&self) -> Arc<dyn Store> {
        self.clone()
    }
}

impl<S: Store, G: Send + Sync> Fixture for (Arc<S>, G) {
    fn store(&self) -> Arc<dyn Store> {
        self.0.clone()
    }
}

/// Expands to one `#[tokio::test]` per conformance check, each on a store from `$fixture`
/// (an expression yielding a future of a [`Fixture`]).
#[macro_export]
macro_rules! store_conformance_tests {
    (@tests $fixture:expr; $($name:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let fixture = $fixture.await;
                $crate::conformance::$name(
                    $crate::conformance::Fixture::store(&fixture),
                ).await;
            }
        )*
    };
    ($fixture:expr) => {
        $crate::store_conformance_tests!(@tests $fixture;
            create_then_get,
            create_of_existing_key_fails,
            update_with_current_mod_revision_succeeds,
            update_with_stale_mod_revision_conflicts,
            must_exist_on_missing_key_is_not_found,
            unconditional_put_creates_and_overwrites,
            delete_without_precondition_removes_the_key,
            delete_with_current_mod_revision_removes_the_key,
            delete_with_stale_mod_revision_conflicts,
            delete_of_missing_key_is_not_found,
            revisions_are_global_and_strictly_increasing,
            failed_write_consumes_no_revision,
            create_revision_is_stable_across_updates,
            list_is_sorted_and_prefix_exact,
            list_revision_is_consistent_with_its_items,
            list_pages_cover_every_key_once_in_order,
            watch_from_list_revision_misses_nothing,
            watch_from_zero_replays_everything_retained,
            watch_from_current_revision_delivers_only_later_writes,
            watch_ahead_of_current_revision_starts_when_reached,
            watch_from_compacted_revision_fails,
            watch_filters_by_prefix,
            delete_event_carries_last_value_at_delete_revision,
            update_event_carries_prev,
            concurrent_cas_increments_are_all_counted,
            concurrent_creates_of_one_key_have_one_winner,
            watchers_see_every_event_once_in_order_under_concurrent_writers,
        );
    };
}

// ---- helpers ---------------------------------------------------------------------------------

fn bytes(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

async fn put(
    store: &Arc<dyn Store>,
    key: &str,
    value: &str,
    precondition: Precondition,
) -> Result<WriteResult, StoreError> {
    store
        .write(WriteOp::Put {
            key: key.into(),
            value: bytes(value),
            precondition,
        })
        .await
}

async fn create(store: &Arc<dyn Store>, key: &str, value: &str) -> WriteResult {
    put(store, key, value, Precondition::MustNotExist)
        .await
        .unwrap_or_else(|e| panic!("creating {key}: {e}"))
}

async fn delete(
    store: &Arc<dyn Store>,
    key: &str,
    precondition: Precondition,
) -> Result<WriteResult, StoreError> {
    store
        .write(WriteOp::Delete {
            key: key.into(),
            precondition,
        })
        .await
}

async fn next_event(watch: &mut WatchStream) -> Event {
    match tokio::time::timeout(EVENT_TIMEOUT, watch.next()).await {
        Ok(Some(Ok(event))) => event,
        Ok(Some(Err(e))) => panic!("watch failed: {e}"),
        Ok(None) => panic!("watch ended early"),
        Err(_) => panic!("no event within {EVENT_TIMEOUT:?}"),
    }
}

async fn next_events(watch: &mut WatchStream, count: usize) -> Vec<Event> {
    let mut events = Vec::with_capacity(count);
    for _ in 0..count {
        events.push(next_event(watch).await);
    }
    events
}

fn keys_and_revisions(events: &[Event]) -> Vec<(String, Revision)> {
    events
        .iter()
        .map(|e| (e.kv.key.clone(), e.revision()))
        .collect()
}

// ---- single-key writes -----------------------------------------------------------------------

pub async fn create_then_get(store: Arc<dyn Store>) {
    let written = create(&store, "/t/a", "one").await;
    assert_eq!(written.kv.value, bytes("one"));
    assert_eq!(written.kv.mod_revision, written.revision);
    assert_eq!(written.kv.create_revision, written.revision);
    assert_eq!(written.prev, None);
    assert_eq!(store.get("/t/a").await.unwrap(), Some(written.kv));
    assert_eq!(store.get("/t/missing").await.unwrap(), None);
}

pub async fn create_of_existing_key_fails(store: Arc<dyn Store>) {
    create(&store, "/t/a", "one").await;
    let err = put(&store, "/t/a", "two", Precondition::MustNotExist).await;
    assert_eq!(err.unwrap_err(), StoreError::AlreadyExists("/t/a".into()));
    assert_eq!(
        store.get("/t/a").await.unwrap().unwrap().value,
        bytes("one")
    );
}

pub async fn update_with_current_mod_revision_succeeds(store: Arc<dyn Store>) {
    let first = create(&store, "/t/a", "one").await;
    let second = put(
        &store,
        "/t/a",
        "two",
        Precondition::ModRevision(first.revision),
    )
    .await
    .unwrap();
    assert!(second.revision > first.revision);
    assert_eq!(second.prev, Some(first.kv));
    assert_eq!(store.get("/t/a").await.unwrap(), Some(second.kv));
}

pub async fn update_with_stale_mod_revision_conflicts(store: Arc<dyn Store>) {
    let first = create(&store, "/t/a", "one").await;
    let second = put(&store, "/t/a", "two", Precondition::MustExist)
        .await
        .unwrap();
    let err = put(
        &store,
        "/t/a",
        "three",
        Precondition::ModRevision(first.revision),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        StoreError::Conflict {
            key: "/t/a".into(),
            expected: first.revision,
            found: Some(second.revision),
        }
    );
    assert_eq!(
        store.get("/t/a").await.unwrap().unwrap().value,
        bytes("two")
    );
}

pub async fn must_exist_on_missing_key_is_not_found(store: Arc<dyn Store>) {
    let err = put(&store, "/t/a", "one", Precondition::MustExist).await;
    assert_eq!(err.unwrap_err(), StoreError::NotFound("/t/a".into()));
    assert_eq!(store.get("/t/a").await.unwrap(), None);
}

pub async fn unconditional_put_creates_and_overwrites(store: Arc<dyn Store>) {
    let first = put(&store, "/t/a", "one", Precondition::None)
        .await
        .unwrap();
    assert_eq!(first.prev, None);
    let second = put(&store, "/t/a", "two", Precondition::None)
        .await
        .unwrap();
    assert_eq!(second.prev, Some(first.kv));
    assert_eq!(
        store.get("/t/a").await.unwrap().unwrap().value,
        bytes("two")
    );
}

pub async fn delete_without_precondition_removes_the_key(store: Arc<dyn Store>) {
    let created = create(&store, "/t/a", "one").await;
    let deleted = delete(&store, "/t/a", Precondition::None).await.unwrap();
    assert!(deleted.revision > created.revision);
    assert_eq!(deleted.kv.value, bytes("one"));
    assert_eq!(deleted.kv.mod_revision, deleted.revision);
    assert_eq!(deleted.prev, Some(created.kv));
    assert_eq!(store.get("/t/a").await.unwrap(), None);
}

pub async fn delete_with_current_mod_revision_removes_the_key(store: Arc<dyn Store>) {
    let created = create(&store, "/t/a", "one").await;
    delete(&store, "/t/a", Precondition::ModRevision(created.revision))
        .await
        .unwrap();
    assert_eq!(store.get("/t/a").await.unwrap(), None);
}

pub async fn delete_with_stale_mod_revision_conflicts(store: Arc<dyn Store>) {
    let created = create(&store, "/t/a", "one").await;
    let updated = put(&store, "/t/a", "two", Precondition::None)
        .await
        .unwrap();
    let err = delete(&store, "/t/a", Precondition::ModRevision(created.revision))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::Conflict {
            key: "/t/a".into(),
            expected: created.revision,
            found: Some(updated.revision),
        }
    );
    assert!(store.get("/t/a").await.unwrap().is_some());
}

pub async fn delete_of_missing_key_is_not_found(store: Arc<dyn Store>) {
    let err = delete(&store, "/t/missing", Precondition::None).await;
    assert_eq!(err.unwrap_err(), StoreError::NotFound("/t/missing".into()));
}

// ---- revisions -------------------------------------------------------------------------------

pub async fn revisions_are_global_and_strictly_increasing(store: Arc<dyn Store>) {
    let mut last = store.current_revision();
    for i in 0..6 {
        let key = format!("/t/{}", i % 3);
        let written = put(&store, &key, "v", Precondition::None).await.unwrap();
        assert!(
            written.revision > last,
            "revision went from {last} to {}",
            written.revision
        );
        assert_eq!(store.current_revision(), written.revision);
        last = written.revision;
    }
}

pub async fn failed_write_consumes_no_revision(store: Arc<dyn Store>) {
    let first = create(&store, "/t/a", "one").await;
    put(&store, "/t/a", "x", Precondition::MustNotExist)
        .await
        .unwrap_err();
    assert_eq!(store.current_revision(), first.revision);
    let second = create(&store, "/t/b", "two").await;
    assert_eq!(second.revision, first.revision + 1);
}

pub async fn create_revision_is_stable_across_updates(store: Arc<dyn Store>) {
    let created = create(&store, "/t/a", "one").await;
    create(&store, "/t/other", "x").await;
    for value in ["two", "three"] {
        let updated = put(&store, "/t/a", value, Precondition::MustExist)
            .await
            .unwrap();
        assert_eq!(updated.kv.create_revision, created.revision);
        assert_eq!(updated.kv.mod_revision, updated.revision);
    }
    let read = store.get("/t/a").await.unwrap().unwrap();
    assert_eq!(read.create_revision, created.revision);
}

// ---- list ------------------------------------------------------------------------------------

pub async fn list_is_sorted_and_prefix_exact(store: Arc<dyn Store>) {
    for key in ["/a/b/z", "/a/bc/x", "/a/b/a", "/a/b/m/n", "/a/a", "/a/b"] {
        create(&store, key, key).await;
    }
    let listed = store.list("/a/b/").await.unwrap();
    let keys: Vec<&str> = listed.items.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, vec!["/a/b/a", "/a/b/m/n", "/a/b/z"]);
    assert!(listed.items.iter().all(|kv| kv.value == bytes(&kv.key)));
    assert!(store.list("/nothing/").await.unwrap().items.is_empty());
}

/// Paging through a prefix returns every key exactly once, in order, with `more` set until the end.
pub async fn list_pages_cover_every_key_once_in_order(store: Arc<dyn Store>) {
    for i in 0..7 {
        create(&store, &format!("/p/a/{i}"), "v").await;
    }
    create(&store, "/p/ab", "other prefix").await;
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.list_page("/p/a/", after.as_deref(), 3).await.unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|kv| kv.key.clone()));
        after = page.items.last().map(|kv| kv.key.clone());
        if !page.more {
            break;
        }
    }
    let expected: Vec<String> = (0..7).map(|i| format!("/p/a/{i}")).collect();
    assert_eq!(seen, expected);
    let empty = store.list_page("/p/a/", Some("/p/a/6"), 3).await.unwrap();
    assert!(empty.items.is_empty() && !empty.more);
}

pub async fn list_revision_is_consistent_with_its_items(store: Arc<dyn Store>) {
    let mut last = 0;
    for i in 0..5 {
        last = create(&store, &format!("/t/{i}"), "v").await.revision;
    }
    let listed = store.list("/t/").await.unwrap();
    assert_eq!(listed.items.len(), 5);
    assert_eq!(listed.revision, last);
    let newest_item = listed.items.iter().map(|kv| kv.mod_revision).max().unwrap();
    assert!(newest_item <= listed.revision);
}

pub async fn watch_from_list_revision_misses_nothing(store: Arc<dyn Store>) {
    create(&store, "/t/a", "one").await;
    let listed = store.list("/t/").await.unwrap();
    let later = create(&store, "/t/b", "two").await;
    let mut watch = store.watch("/t/", listed.revision).await.unwrap();
    let event = next_event(&mut watch).await;
    assert_eq!(event.kv.key, "/t/b");
    assert_eq!(event.revision(), later.revision);
}

// ---- watch -----------------------------------------------------------------------------------

pub async fn watch_from_zero_replays_everything_retained(store: Arc<dyn Store>) {
    let a = create(&store, "/t/a", "1").await;
    let b = create(&store, "/t/b", "2").await;
    let c = put(&store, "/t/a", "3", Precondition::None).await.unwrap();
    let mut watch = store.watch("/t/", 0).await.unwrap();
    let events = next_events(&mut watch, 3).await;
    assert_eq!(
        keys_and_revisions(&events),
        vec![
            ("/t/a".into(), a.revision),
            ("/t/b".into(), b.revision),
            ("/t/a".into(), c.revision),
        ]
    );
    assert_eq!(events[2].kv.value, bytes("3"));
}

pub async fn watch_from_current_revision_delivers_only_later_writes(store: Arc<dyn Store>) {
    create(&store, "/t/before", "x").await;
    let mut watch = store.watch("/t/", store.current_revision()).await.unwrap();
    let after = create(&store, "/t/after", "y").await;
    let event = next_event(&mut watch).await;
    assert_eq!(
        (event.kv.key.as_str(), event.revision()),
        ("/t/after", after.revision)
    );
}

pub async fn watch_ahead_of_current_revision_starts_when_reached(store: Arc<dyn Store>) {
    let start = store.current_revision();
    let mut watch = store.watch("/t/", start + 2).await.unwrap();
    create(&store, "/t/1", "x").await;
    create(&store, "/t/2", "x").await;
    let third = create(&store, "/t/3", "x").await;
    assert_eq!(third.revision, start + 3);
    assert_eq!(next_event(&mut watch).await.kv.key, "/t/3");
}

pub async fn watch_from_compacted_revision_fails(store: Arc<dyn Store>) {
    let writes = (0..MAX_RETAINED_EVENTS + 44).map(|i| {
        let store = store.clone();
        async move { create(&store, &format!("/t/{i}"), "x").await }
    });
    futures::future::join_all(writes).await;
    let oldest = store.oldest_watchable_revision();
    assert!(
        oldest > 1,
        "after {} writes the store still retains revision 1: the fixture must keep at most \
         {MAX_RETAINED_EVENTS} events",
        MAX_RETAINED_EVENTS + 44
    );
    let err = store.watch("/t/", oldest - 1).await.err().unwrap();
    assert_eq!(
        err,
        StoreError::Compacted {
            requested: oldest - 1,
            oldest
        }
    );
    let mut watch = store.watch("/t/", oldest).await.unwrap();
    assert_eq!(next_event(&mut watch).await.revision(), oldest + 1);
}

pub async fn watch_filters_by_prefix(store: Arc<dyn Store>) {
    let start = store.current_revision();
    let mut watch = store.watch("/a/b/", start).await.unwrap();
    create(&store, "/a/bc/x", "no").await;
    create(&store, "/a/x", "no").await;
    let wanted = create(&store, "/a/b/x", "yes").await;
    create(&store, "/b/a/b/", "no").await;
    let last = create(&store, "/a/b/y/z", "yes").await;
    let events = next_events(&mut watch, 2).await;
    assert_eq!(
        keys_and_revisions(&events),
        vec![
            ("/a/b/x".into(), wanted.revision),
            ("/a/b/y/z".into(), last.revision)
        ]
    );
}

pub async fn delete_event_carries_last_value_at_delete_revision(store: Arc<dyn Store>) {
    let created = create(&store, "/t/a", "one").await;
    let updated = put(&store, "/t/a", "last", Precondition::None)
        .await
        .unwrap();
    let deleted = delete(&store, "/t/a", Precondition::None).await.unwrap();
    let mut watch = store.watch("/t/", updated.revision).await.unwrap();
    let event = next_event(&mut watch).await;
    assert_eq!(event.kind, EventKind::Delete);
    assert_eq!(
        event.kv,
        KeyValue {
            key: "/t/a".into(),
            value: bytes("last"),
            create_revision: created.revision,
            mod_revision: deleted.revision,
        }
    );
    assert_eq!(event.prev, Some(updated.kv));
}

pub async fn update_event_carries_prev(store: Arc<dyn Store>) {
    let created = create(&store, "/t/a", "one").await;
    let mut watch = store.watch("/t/", store.current_revision()).await.unwrap();
    let updated = put(&store, "/t/a", "two", Precondition::None)
        .await
        .unwrap();
    let event = next_event(&mut watch).await;
    assert_eq!(event.kind, EventKind::Put);
    assert_eq!(event.kv, updated.kv);
    assert_eq!(event.prev, Some(created.kv));
    let created_event = store
        .watch("/t/", created.revision - 1)
        .await
        .unwrap()
        .next()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(created_event.prev, None);
}

// ---- concurrency -----------------------------------------------------------------------------

pub async fn concurrent_cas_increments_are_all_counted(store: Arc<dyn Store>) {
    const TASKS: usize = 8;
    const INCREMENTS: usize = 20;
    create(&store, "/t/counter", "0").await;
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                for _ in 0..INCREMENTS {
                    increment(&store, "/t/counter").await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let value = store.get("/t/counter").await.unwrap().unwrap().value;
    assert_eq!(value, bytes(&(TASKS * INCREMENTS).to_string()));
}

async fn increment(store: &Arc<dyn Store>, key: &str) {
    loop {
        let current = store.get(key).await.unwrap().unwrap();
        let n: usize = std::str::from_utf8(&current.value)
            .unwrap()
            .parse()
            .unwrap();
        let next = (n + 1).to_string();
        match put(
            store,
            key,
            &next,
            Precondition::ModRevision(current.mod_revision),
        )
        .await
        {
            Ok(_) => return,
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => panic!("increment failed: {e}"),
        }
    }
}

pub async fn concurrent_creates_of_one_key_have_one_winner(store: Arc<dyn Store>) {
    const TASKS: usize = 16;
    let start = store.current_revision();
    let attempts = (0..TASKS).map(|i| {
        let store = store.clone();
        async move {
            put(
                &store,
                "/t/contended",
                &i.to_string(),
                Precondition::MustNotExist,
            )
            .await
        }
    });
    let outcomes = futures::future::join_all(attempts).await;
    let winners: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1);
    assert!(outcomes.iter().all(|o| match o {
        Ok(_) => true,
        Err(e) => *e == StoreError::AlreadyExists("/t/contended".into()),
    }));
    assert_eq!(winners[0].revision, start + 1);
    assert_eq!(store.current_revision(), start + 1);
    assert_eq!(
        store.get("/t/contended").await.unwrap(),
        Some(winners[0].kv.clone())
    );
}

pub async fn watchers_see_every_event_once_in_order_under_concurrent_writers(
    store: Arc<dyn Store>,
) {
    const WRITERS: usize = 8;
    const WRITES: usize = 25;
    const WATCHERS: usize = 3;
    let start = store.current_revision();
    let mut watches = Vec::new();
    for _ in 0..WATCHERS {
        watches.push(store.watch("/t/", start).await.unwrap());
    }
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for i in 0..WRITES {
                    let key = format!("/t/{w}/{}", i % 5);
                    let written = put(&store, &key, &i.to_string(), Precondition::None)
                        .await
                        .unwrap();
                    acknowledged.push((key, written.revision));
                }
                acknowledged
            })
        })
        .collect();
    let readers: Vec<_> = watches
        .into_iter()
        .map(|mut watch| {
            tokio::spawn(async move { next_events(&mut watch, WRITERS * WRITES).await })
        })
        .collect();
    let mut acknowledged = BTreeSet::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    for reader in readers {
        let events = reader.await.unwrap();
        let seen = keys_and_revisions(&events);
        assert!(
            seen.windows(2).all(|pair| pair[0].1 < pair[1].1),
            "events out of order or duplicated"
        );
        let distinct: HashSet<_> = seen.iter().cloned().collect();
        assert_eq!(distinct.len(), seen.len());
        assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), acknowledged);
    }
}
