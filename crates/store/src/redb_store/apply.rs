//! The meaning of one write, as pure logic: given the key's current value and the revision the
//! write would get, decide whether it may happen and what it produces. The writer thread only
//! moves bytes in and out of redb around this.

use crate::{Event, EventKind, KeyValue, Precondition, Revision, StoreError, WriteOp, WriteResult};

/// A write that passed its precondition.
#[derive(Debug)]
pub struct Applied {
    /// The new value of the key; `None` means the key is removed.
    pub new_value: Option<KeyValue>,
    pub result: WriteResult,
    pub event: Event,
}

/// Decides `op` against `current` (the key's value before the write) at `revision`.
///
/// A delete of a missing key fails with `NotFound` whatever its precondition, except that a
/// `ModRevision` precondition reports `Conflict { found: None }` (the caller expected a version).
pub fn apply(
    op: WriteOp,
    current: Option<KeyValue>,
    revision: Revision,
) -> Result<Applied, StoreError> {
    check_precondition(op.key(), precondition_of(&op), current.as_ref())?;
    match op {
        WriteOp::Put { key, value, .. } => {
            let kv = KeyValue {
                key,
                value,
                create_revision: current.as_ref().map_or(revision, |c| c.create_revision),
                mod_revision: revision,
            };
            Ok(Applied {
                new_value: Some(kv.clone()),
                result: WriteResult {
                    revision,
                    kv: kv.clone(),
                    prev: current.clone(),
                },
                event: Event {
                    kind: EventKind::Put,
                    kv,
                    prev: current,
                },
            })
        }
        WriteOp::Delete { key, .. } => {
            let Some(prev) = current else {
                return Err(StoreError::NotFound(key));
            };
            let tombstone = KeyValue {
                mod_revision: revision,
                ..prev.clone()
            };
            Ok(Applied {
                new_value: None,
                result: WriteResult {
                    revision,
                    kv: tombstone.clone(),
                    prev: Some(prev.clone()),
                },
                event: Event {
                    kind: EventKind::Delete,
                    kv: tombstone,
                    prev: Some(prev),
                },
            })
        }
    }
}

fn precondition_of(op: &WriteOp) -> Precondition {
    match op {
        WriteOp::Put { precondition, .. } | WriteOp::Delete { precondition, .. } => *precondition,
    }
}

fn check_precondition(
    key: &str,
    precondition: Precondition,
    current: Option<&KeyValue>,
) -> Result<(), StoreError> {
    match (precondition, current) {
        (Precondition::None, _)
        | (Precondition::MustNotExist, None)
        | (Precondition::MustExist, Some(_)) => Ok(()),
        (Precondition::MustNotExist, Some(_)) => Err(StoreError::AlreadyExists(key.to_owned())),
        (Precondition::MustExist, None) => Err(StoreError::NotFound(key.to_owned())),
        (Precondition::ModRevision(expected), current) => match current {
            Some(kv) if kv.mod_revision == expected => Ok(()),
            _ => Err(StoreError::Conflict {
                key: key.to_owned(),
                expected,
                found: current.map(|kv| kv.mod_revision),
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn stored(mod_revision: Revision) -> KeyValue {
        KeyValue {
            key: "k".into(),
            value: Bytes::from_static(b"old"),
            create_revision: 2,
            mod_revision,
        }
    }

    fn put(precondition: Precondition) -> WriteOp {
        WriteOp::Put {
            key: "k".into(),
            value: Bytes::from_static(b"new"),
            precondition,
        }
    }

    fn delete(precondition: Precondition) -> WriteOp {
        WriteOp::Delete {
            key: "k".into(),
            precondition,
        }
    }

    #[test]
    fn create_takes_the_write_revision_as_create_revision() {
        let applied = apply(put(Precondition::MustNotExist), None, 9).unwrap();
        let kv = applied.new_value.unwrap();
        assert_eq!((kv.create_revision, kv.mod_revision), (9, 9));
        assert_eq!(applied.event.prev, None);
    }

    #[test]
    fn update_keeps_create_revision_and_reports_prev() {
        let applied = apply(put(Precondition::None), Some(stored(5)), 9).unwrap();
        assert_eq!(applied.result.kv.create_revision, 2);
        assert_eq!(applied.result.kv.mod_revision, 9);
        assert_eq!(applied.event.prev, Some(stored(5)));
    }

    #[test]
    fn create_of_existing_key_fails() {
        let err = apply(put(Precondition::MustNotExist), Some(stored(5)), 9).unwrap_err();
        assert_eq!(err, StoreError::AlreadyExists("k".into()));
    }

    #[test]
    fn must_exist_on_missing_key_is_not_found() {
        let err = apply(put(Precondition::MustExist), None, 9).unwrap_err();
        assert_eq!(err, StoreError::NotFound("k".into()));
    }

    #[test]
    fn stale_mod_revision_conflicts_with_the_found_revision() {
        let err = apply(put(Precondition::ModRevision(4)), Some(stored(5)), 9).unwrap_err();
        assert_eq!(
            err,
            StoreError::Conflict {
                key: "k".into(),
                expected: 4,
                found: Some(5)
            }
        );
    }

    #[test]
    fn mod_revision_on_missing_key_conflicts_with_nothing_found() {
        let err = apply(delete(Precondition::ModRevision(4)), None, 9).unwrap_err();
        assert!(matches!(err, StoreError::Conflict { found: None, .. }));
    }

    #[test]
    fn delete_removes_and_carries_last_value_at_delete_revision() {
        let applied = apply(delete(Precondition::ModRevision(5)), Some(stored(5)), 9).unwrap();
        assert!(applied.new_value.is_none());
        assert_eq!(applied.event.kind, EventKind::Delete);
        assert_eq!(applied.event.kv.value, Bytes::from_static(b"old"));
        assert_eq!(applied.event.kv.mod_revision, 9);
        assert_eq!(applied.event.prev, Some(stored(5)));
    }

    #[test]
    fn delete_of_missing_key_is_not_found() {
        let err = apply(delete(Precondition::None), None, 9).unwrap_err();
        assert_eq!(err, StoreError::NotFound("k".into()));
    }
}
