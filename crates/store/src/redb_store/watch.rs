//! The stream handed to a watcher: replay first, then the live queue, re-registering from the
//! history ring when the live queue overflowed.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use futures::Stream;
use tokio::sync::mpsc;

use super::history::{History, Subscription};
use crate::{Event, Revision, StoreError};

pub struct WatchEvents {
    history: Arc<History>,
    prefix: String,
    /// Revision of the last event delivered (or the requested start).
    last_seen: Revision,
    id: u64,
    replay: VecDeque<Arc<Event>>,
    /// `None` once the stream has ended.
    live: Option<mpsc::Receiver<Arc<Event>>>,
}

impl WatchEvents {
    pub fn start(history: Arc<History>, prefix: &str, after: Revision) -> Result<Self, StoreError> {
        let Subscription { id, replay, live } = history.subscribe(prefix, after)?;
        Ok(WatchEvents {
            history,
            prefix: prefix.to_owned(),
            last_seen: after,
            id,
            replay,
            live: Some(live),
        })
    }

    /// Called when the live queue disconnected: either the store closed, or this watcher fell
    /// behind and was dropped from the live set. In the second case pick up from the ring.
    fn resume(&mut self) -> Result<(), StoreError> {
        match self.history.subscribe(&self.prefix, self.last_seen) {
            Ok(Subscription { id, replay, live }) => {
                self.id = id;
                self.replay = replay;
                self.live = Some(live);
                Ok(())
            }
            Err(StoreError::Compacted { .. }) => Err(StoreError::Lagged),
            Err(e) => Err(e),
        }
    }

    fn deliver(&mut self, event: Arc<Event>) -> Poll<Option<Result<Event, StoreError>>> {
        self.last_seen = event.revision();
        Poll::Ready(Some(Ok(Arc::unwrap_or_clone(event))))
    }
}

impl Stream for WatchEvents {
    type Item = Result<Event, StoreError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(event) = this.replay.pop_front() {
                return this.deliver(event);
            }
            let Some(live) = this.live.as_mut() else {
                return Poll::Ready(None);
            };
            match ready!(live.poll_recv(cx)) {
                Some(event) if event.revision() > this.last_seen => return this.deliver(event),
                Some(_) => continue,
                None => {
                    if let Err(e) = this.resume() {
                        this.live = None;
                        return Poll::Ready(Some(Err(e)));
                    }
                }
            }
        }
    }
}

impl Drop for WatchEvents {
    fn drop(&mut self) {
        self.history.unsubscribe(self.id);
    }
}
