//! The embedded store: redb on disk, group commit, in-memory watch history.
pub struct RedbStore;
pub struct RedbStoreOptions;
