//! Watch history: a ring of the last N events plus the live subscribers, under one lock.
//!
//! Semantics:
//! * The ring holds every event with revision in `(floor, last]`; revisions are contiguous
//!   because each successful write produces exactly one event. Evicting an event raises `floor`
//!   to its revision. After a restart the ring is empty and `floor` = `last` = the revision at
//!   open, so `watch(_, current)` works and anything older is `Compacted`.
//! * Registering a subscriber and taking its replay from the ring happen under the same lock as
//!   publishing, so a watcher sees each event exactly once: the replay covers `(after, last]`
//!   and the live queue everything after `last`.
//! * Publishing never blocks: each subscriber has a bounded queue filled with `try_send`. A
//!   subscriber whose queue is full is dropped from the live set; its stream drains what it
//!   already has and then re-registers from its last delivered revision (see
//!   [`super::watch`]). Only if the ring no longer reaches back that far does it end with
//!   `Lagged`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;

use crate::{Event, Revision, StoreError};

/// A freshly registered subscription: the retained events to replay, then the live queue.
pub struct Subscription {
    pub id: u64,
    pub replay: VecDeque<Arc<Event>>,
    pub live: mpsc::Receiver<Arc<Event>>,
}

pub struct History {
    inner: Mutex<Inner>,
    /// Revision of the last published event; readable without the lock.
    last: AtomicU64,
    /// Mirror of `Inner::floor`, readable without the lock.
    floor: AtomicU64,
}

struct Inner {
    ring: VecDeque<Arc<Event>>,
    capacity: usize,
    floor: Revision,
    last: Revision,
    subscribers: Vec<Subscriber>,
    queue_capacity: usize,
    next_id: u64,
    closed: bool,
}

struct Subscriber {
    id: u64,
    prefix: String,
    /// Deliver only events with a revision above this.
    after: Revision,
    queue: mpsc::Sender<Arc<Event>>,
}

impl History {
    /// An empty history starting at `revision`, keeping `capacity` events and giving each
    /// subscriber a live queue of `queue_capacity` events.
    pub fn new(revision: Revision, capacity: usize, queue_capacity: usize) -> Self {
        History {
            inner: Mutex::new(Inner {
                ring: VecDeque::with_capacity(capacity.min(4096)),
                capacity,
                floor: revision,
                last: revision,
                subscribers: Vec::new(),
                queue_capacity: queue_capacity.max(1),
                next_id: 0,
                closed: false,
            }),
            last: AtomicU64::new(revision),
            floor: AtomicU64::new(revision),
        }
    }

    pub fn last_revision(&self) -> Revision {
        self.last.load(Ordering::Acquire)
    }

    pub fn oldest_watchable(&self) -> Revision {
        self.floor.load(Ordering::Acquire)
    }

    /// Appends committed events (in revision order) and hands them to matching subscribers.
    pub fn publish(&self, events: Vec<Arc<Event>>) {
        let Some(newest) = events.last().map(|e| e.revision()) else {
            return;
        };
        let mut inner = self.lock();
        for event in &events {
            inner.ring.push_back(event.clone());
        }
        while inner.ring.len() > inner.capacity {
            if let Some(evicted) = inner.ring.pop_front() {
                inner.floor = evicted.revision();
            }
        }
        inner.last = newest;
        self.floor.store(inner.floor, Ordering::Release);
        self.last.store(newest, Ordering::Release);
        inner
            .subscribers
            .retain(|subscriber| subscriber.offer(&events));
    }

    /// Registers a watcher of `prefix` for events after `after`.
    pub fn subscribe(&self, prefix: &str, after: Revision) -> Result<Subscription, StoreError> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(StoreError::Closed);
        }
        if after < inner.floor {
            return Err(StoreError::Compacted {
                requested: after,
                oldest: inner.floor,
            });
        }
        let start = inner.ring.partition_point(|e| e.revision() <= after);
        let replay = inner
            .ring
            .range(start..)
            .filter(|e| e.kv.key.starts_with(prefix))
            .cloned()
            .collect();
        let (queue, live) = mpsc::channel(inner.queue_capacity);
        let id = inner.next_id;
        inner.next_id += 1;
        let after = after.max(inner.last);
        inner.subscribers.push(Subscriber {
            id,
            prefix: prefix.to_owned(),
            after,
            queue,
        });
        Ok(Subscription { id, replay, live })
    }

    pub fn unsubscribe(&self, id: u64) {
        self.lock().subscribers.retain(|s| s.id != id);
    }

    /// Ends every live stream with [`StoreError::Closed`] and refuses new subscribers.
    pub fn close(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        inner.subscribers.clear();
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Subscriber {
    /// Queues the matching events; `false` when the subscriber must leave the live set (its
    /// queue is full or its stream is gone).
    fn offer(&self, events: &[Arc<Event>]) -> bool {
        events
            .iter()
            .filter(|e| e.revision() > self.after && e.kv.key.starts_with(&self.prefix))
            .all(|e| self.queue.try_send(e.clone()).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::{EventKind, KeyValue};

    fn event(key: &str, revision: Revision) -> Arc<Event> {
        Arc::new(Event {
            kind: EventKind::Put,
            kv: KeyValue {
                key: key.into(),
                value: Bytes::new(),
                create_revision: revision,
                mod_revision: revision,
            },
            prev: None,
        })
    }

    fn revisions(events: &VecDeque<Arc<Event>>) -> Vec<Revision> {
        events.iter().map(|e| e.revision()).collect()
    }

    #[test]
    fn replays_retained_events_after_the_requested_revision() {
        let history = History::new(0, 10, 10);
        history.publish((1..=4).map(|r| event("/a/x", r)).collect());
        let sub = history.subscribe("/a/", 2).unwrap();
        assert_eq!(revisions(&sub.replay), vec![3, 4]);
    }

    #[test]
    fn replay_and_live_events_filter_by_prefix() {
        let history = History::new(0, 10, 10);
        history.publish(vec![event("/a/x", 1), event("/b/x", 2)]);
        let mut sub = history.subscribe("/a/", 0).unwrap();
        history.publish(vec![event("/b/y", 3), event("/a/y", 4)]);
        assert_eq!(revisions(&sub.replay), vec![1]);
        assert_eq!(sub.live.try_recv().unwrap().revision(), 4);
        assert!(sub.live.try_recv().is_err());
    }

    #[test]
    fn eviction_raises_the_oldest_watchable_revision() {
        let history = History::new(0, 3, 10);
        history.publish((1..=5).map(|r| event("/a", r)).collect());
        assert_eq!(history.oldest_watchable(), 2);
        assert!(matches!(
            history.subscribe("/", 1),
            Err(StoreError::Compacted {
                requested: 1,
                oldest: 2
            })
        ));
        assert_eq!(
            revisions(&history.subscribe("/", 2).unwrap().replay),
            vec![3, 4, 5]
        );
    }

    #[test]
    fn a_fresh_history_is_watchable_only_from_its_start() {
        let history = History::new(40, 10, 10);
        assert_eq!(history.oldest_watchable(), 40);
        assert!(history.subscribe("/", 39).is_err());
        assert!(history.subscribe("/", 40).unwrap().replay.is_empty());
    }

    #[test]
    fn a_subscriber_ahead_of_the_store_skips_events_up_to_its_revision() {
        let history = History::new(0, 10, 10);
        let mut sub = history.subscribe("/", 2).unwrap();
        history.publish((1..=3).map(|r| event("/a", r)).collect());
        assert_eq!(sub.live.try_recv().unwrap().revision(), 3);
        assert!(sub.live.try_recv().is_err());
    }

    #[test]
    fn a_full_queue_drops_the_subscriber_without_blocking() {
        let history = History::new(0, 10, 2);
        let mut sub = history.subscribe("/", 0).unwrap();
        history.publish((1..=3).map(|r| event("/a", r)).collect());
        assert_eq!(sub.live.try_recv().unwrap().revision(), 1);
        assert_eq!(sub.live.try_recv().unwrap().revision(), 2);
        assert!(matches!(
            sub.live.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
    }

    #[test]
    fn close_disconnects_subscribers_and_refuses_new_ones() {
        let history = History::new(0, 10, 10);
        let mut sub = history.subscribe("/", 0).unwrap();
        history.close();
        assert!(matches!(
            sub.live.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
        assert!(matches!(history.subscribe("/", 0), Err(StoreError::Closed)));
    }
}
