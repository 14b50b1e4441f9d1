//! Exclusive sessions (console, VNC): one holder per run and channel. A second client is refused
//! with the holder's name unless it forces its way in, which tells the holder to leave and lets the
//! newcomer wait until the holder has let go of the socket (QEMU serves one client at a time).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::oneshot;

/// Who holds a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// The identity the client gave (e.g. `user@host`).
    pub client: String,
    pub since: SystemTime,
}

struct Entry {
    id: u64,
    holder: Holder,
    /// Tells the holder who took over.
    kick: Option<oneshot::Sender<String>>,
    /// Resolves when the holder's [`Lease`] is dropped.
    ended: Option<oneshot::Receiver<()>>,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    entries: HashMap<String, Entry>,
}

/// The sessions of one node.
#[derive(Clone, Default)]
pub struct Sessions {
    table: Arc<Mutex<Table>>,
}

/// A granted session; dropping it frees the slot.
pub struct Lease {
    table: Arc<Mutex<Table>>,
    key: String,
    id: u64,
    /// Fires with the newcomer's name when someone forces the session away.
    pub kicked: oneshot::Receiver<String>,
    _ended: oneshot::Sender<()>,
}

/// The answer to a claim.
pub enum Claim {
    /// The session is yours; when `previous` is set, wait for it before opening the socket.
    Granted {
        lease: Lease,
        previous: Option<oneshot::Receiver<()>>,
    },
    /// Someone holds it.
    Busy(Holder),
}

impl Sessions {
    /// Who holds `key` now.
    pub fn holder(&self, key: &str) -> Option<Holder> {
        let table = self.table.lock().expect("not poisoned");
        table.entries.get(key).map(|e| e.holder.clone())
    }

    /// Claims `key` for `client`; with `force`, takes it from its holder.
    pub fn claim(&self, key: &str, client: &str, force: bool) -> Claim {
        let mut table = self.table.lock().expect("not poisoned");
        let mut previous = None;
        if let Some(existing) = table.entries.get_mut(key) {
            if !force {
                return Claim::Busy(existing.holder.clone());
            }
            if let Some(kick) = existing.kick.take() {
                let _ = kick.send(client.to_string());
            }
            previous = existing.ended.take();
        }
        table.next_id += 1;
        let id = table.next_id;
        let (kick_tx, kick_rx) = oneshot::channel();
        let (ended_tx, ended_rx) = oneshot::channel();
        table.entries.insert(
            key.to_string(),
            Entry {
                id,
                holder: Holder {
                    client: client.to_string(),
                    since: SystemTime::now(),
                },
                kick: Some(kick_tx),
                ended: Some(ended_rx),
            },
        );
        Claim::Granted {
            lease: Lease {
                table: self.table.clone(),
                key: key.to_string(),
                id,
                kicked: kick_rx,
                _ended: ended_tx,
            },
            previous,
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut table = self.table.lock().expect("not poisoned");
        if table
            .entries
            .get(&self.key)
            .is_some_and(|e| e.id == self.id)
        {
            table.entries.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted(claim: Claim) -> (Lease, Option<oneshot::Receiver<()>>) {
        match claim {
            Claim::Granted { lease, previous } => (lease, previous),
            Claim::Busy(h) => panic!("refused, held by {}", h.client),
        }
    }

    #[test]
    fn a_free_session_is_granted() {
        let s = Sessions::default();
        let (_lease, previous) = granted(s.claim("ns/vm/console", "ann@a", false));
        assert!(previous.is_none());
        assert_eq!(s.holder("ns/vm/console").unwrap().client, "ann@a");
    }

    #[test]
    fn a_second_client_is_refused_with_the_holders_name() {
        let s = Sessions::default();
        let _lease = granted(s.claim("k", "ann@a", false));
        match s.claim("k", "bob@b", false) {
            Claim::Busy(h) => assert_eq!(h.client, "ann@a"),
            Claim::Granted { .. } => panic!("granted twice"),
        }
    }

    #[test]
    fn force_kicks_the_holder_and_waits_for_it() {
        let s = Sessions::default();
        let (mut first, _) = granted(s.claim("k", "ann@a", false));
        let (_second, previous) = granted(s.claim("k", "bob@b", true));
        assert_eq!(first.kicked.try_recv().unwrap(), "bob@b");
        let mut previous = previous.expect("waits for the first");
        assert!(previous.try_recv().is_err(), "the first still holds it");
        drop(first);
        assert!(matches!(
            previous.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        ));
        assert_eq!(s.holder("k").unwrap().client, "bob@b");
    }

    #[test]
    fn a_released_session_is_free_again() {
        let s = Sessions::default();
        let (lease, _) = granted(s.claim("k", "ann@a", false));
        drop(lease);
        assert!(s.holder("k").is_none());
        let _again = granted(s.claim("k", "bob@b", false));
    }

    #[test]
    fn sessions_of_different_runs_do_not_collide() {
        let s = Sessions::default();
        let _a = granted(s.claim("ns/a/console", "ann@a", false));
        let _b = granted(s.claim("ns/b/console", "bob@b", false));
    }
}
