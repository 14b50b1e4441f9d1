//! The shared conformance suite, run against the embedded redb store.

use std::sync::Arc;

use dvp_store::conformance::MAX_RETAINED_EVENTS;
use dvp_store::{RedbStore, RedbStoreOptions};

async fn redb_fixture() -> (Arc<RedbStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let options = RedbStoreOptions {
        history_capacity: MAX_RETAINED_EVENTS,
        ..RedbStoreOptions::default()
    };
    let store =
        RedbStore::open(&dir.path().join("store.redb"), options).expect("opening the store");
    (Arc::new(store), dir)
}

dvp_store::store_conformance_tests!(redb_fixture());
