//! The redb tables and the read paths over them.
//!
//! * `kv`: key → [`codec`](super::codec) record (value plus create/mod revisions).
//! * `meta`: `"revision"` → the global revision, written in the same transaction as the data so
//!   that a revision is never handed out twice, even after a crash.

use redb::{Database, ReadTransaction, ReadableDatabase, TableDefinition, TableError};

use super::codec;
use crate::{KeyValue, ListResult, Page, Revision, StoreError};

pub const KV: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
pub const REVISION_KEY: &str = "revision";

/// Converts any redb error into [`StoreError::Backend`], saying which step failed.
pub fn backend(step: &str, error: impl Into<redb::Error>) -> StoreError {
    StoreError::Backend(format!("{step}: {}", error.into()))
}

/// The committed revision, or `None` if the database has never been initialised.
pub fn stored_revision(db: &Database) -> Result<Option<Revision>, StoreError> {
    let txn = begin_read(db)?;
    let meta = match txn.open_table(META) {
        Ok(table) => table,
        Err(TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(backend("opening the meta table", e)),
    };
    let revision = meta
        .get(REVISION_KEY)
        .map_err(|e| backend("reading the revision", e))?
        .map_or(0, |guard| guard.value());
    Ok(Some(revision))
}

/// Creates both tables and a zero revision in a new database.
pub fn initialise(db: &Database) -> Result<(), StoreError> {
    let mut txn = db
        .begin_write()
        .map_err(|e| backend("starting the initial transaction", e))?;
    txn.set_quick_repair(true);
    {
        txn.open_table(KV)
            .map_err(|e| backend("creating the kv table", e))?;
        let mut meta = txn
            .open_table(META)
            .map_err(|e| backend("creating the meta table", e))?;
        meta.insert(REVISION_KEY, 0)
            .map_err(|e| backend("writing the initial revision", e))?;
    }
    txn.commit()
        .map_err(|e| backend("committing the initial transaction", e))
}

pub fn get(db: &Database, key: &str) -> Result<Option<KeyValue>, StoreError> {
    let txn = begin_read(db)?;
    let kv = txn
        .open_table(KV)
        .map_err(|e| backend("opening the kv table", e))?;
    let record = kv.get(key).map_err(|e| backend("reading a key", e))?;
    record
        .map(|guard| codec::decode(key, guard.value()))
        .transpose()
}

/// Every key starting with `prefix`, with the revision of the same snapshot.
pub fn list(db: &Database, prefix: &str) -> Result<ListResult, StoreError> {
    let txn = begin_read(db)?;
    let meta = txn
        .open_table(META)
        .map_err(|e| backend("opening the meta table", e))?;
    let revision = meta
        .get(REVISION_KEY)
        .map_err(|e| backend("reading the revision", e))?
        .map_or(0, |guard| guard.value());
    let kv = txn
        .open_table(KV)
        .map_err(|e| backend("opening the kv table", e))?;
    let mut items = Vec::new();
    for entry in kv
        .range::<&str>(prefix..)
        .map_err(|e| backend("listing keys", e))?
    {
        let (key, record) = entry.map_err(|e| backend("listing keys", e))?;
        let key = key.value();
        if !key.starts_with(prefix) {
            break;
        }
        items.push(codec::decode(key, record.value())?);
    }
    Ok(ListResult { items, revision })
}

/// Up to `limit` keys under `prefix` after `start_after`, plus whether more remain.
pub fn list_page(
    db: &Database,
    prefix: &str,
    start_after: Option<&str>,
    limit: usize,
) -> Result<Page, StoreError> {
    use std::ops::Bound;
    let txn = begin_read(db)?;
    let meta = txn
        .open_table(META)
        .map_err(|e| backend("opening the meta table", e))?;
    let revision = meta
        .get(REVISION_KEY)
        .map_err(|e| backend("reading the revision", e))?
        .map_or(0, |guard| guard.value());
    let kv = txn
        .open_table(KV)
        .map_err(|e| backend("opening the kv table", e))?;
    let start = match start_after {
        Some(s) if s >= prefix => Bound::Excluded(s),
        _ => Bound::Included(prefix),
    };
    let mut items = Vec::new();
    let mut more = false;
    for entry in kv
        .range::<&str>((start, Bound::Unbounded))
        .map_err(|e| backend("listing keys", e))?
    {
        let (key, record) = entry.map_err(|e| backend("listing keys", e))?;
        let key = key.value();
        if !key.starts_with(prefix) {
            break;
        }
        if items.len() == limit {
            more = true;
            break;
        }
        items.push(codec::decode(key, record.value())?);
    }
    Ok(Page {
        items,
        revision,
        more,
    })
}

fn begin_read(db: &Database) -> Result<ReadTransaction, StoreError> {
    db.begin_read()
        .map_err(|e| backend("starting a read transaction", e))
}
