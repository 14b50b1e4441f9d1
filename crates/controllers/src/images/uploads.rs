//! Uploads (`dataSource.type: Upload`): an unguessable URL per waiting object, the bytes a user
//! sends there (`curl -T file URL`) kept under `DATA/uploads/<uid>/`, and the timeout for an
//! upload that never starts.
//!
//! A token is derived from the object's uid and a key kept in the data dir, so the URL in the
//! status stays valid across restarts without storing any mapping; it is accepted only while
//! the object is registered here as waiting.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};

use super::tasks::Notify;

/// Name of the finished upload inside `DATA/uploads/<uid>/`.
const UPLOAD_FILE: &str = "upload";
/// Name of an upload being received.
const PART_FILE: &str = "upload.part";

/// Where an object's upload is.
#[derive(Clone, Debug, PartialEq)]
pub enum UploadState {
    /// Nothing received yet; waiting since the given time.
    Waiting { since: Instant },
    /// Bytes are arriving.
    Receiving { received: u64, total: Option<u64> },
    /// Everything arrived: the file is ready to import.
    Received,
    /// Nothing started within the timeout.
    TimedOut { after: Duration },
}

struct Session {
    uid: String,
    /// `VirtualImage default/x`, for the messages a client gets.
    owner: String,
    state: UploadState,
    notify: Notify,
}

/// Why the upload endpoint refused a request.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum UploadRefused {
    #[error(
        "no upload is expected at this URL: the token is wrong or the upload URL expired; check status.imageUploadURLs of your image or disk"
    )]
    UnknownToken,
    #[error(
        "the upload URL of {owner} expired: no upload started within {}; delete and recreate the object to get a new URL",
        super::facts::go_duration(*after)
    )]
    Expired { owner: String, after: Duration },
    #[error("an upload to {owner} is already in progress")]
    Busy { owner: String },
    #[error("the data of {owner} was already uploaded")]
    Done { owner: String },
}

/// Upload sessions of one process.
pub struct Uploads {
    dir: PathBuf,
    key: Vec<u8>,
    timeout: Duration,
    sessions: Mutex<HashMap<String, Session>>,
}

impl Uploads {
    /// Uploads under `dir` (`DATA/uploads`), with the token key kept in `dir/.key`.
    pub fn open(dir: &Path, timeout: Duration) -> std::io::Result<Uploads> {
        std::fs::create_dir_all(dir)?;
        let key_path = dir.join(".key");
        let key = match std::fs::read(&key_path) {
            Ok(k) if k.len() >= 32 => k,
            _ => {
                let key: [u8; 32] = rand::random();
                let tmp = dir.join(".key.tmp");
                let mut f = std::fs::File::create(&tmp)?;
                f.write_all(&key)?;
                f.sync_all()?;
                std::fs::rename(&tmp, &key_path)?;
                key.to_vec()
            }
        };
        // Parts of uploads cut short by a restart can never complete.
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_file(entry.path().join(PART_FILE));
            }
        }
        Ok(Uploads {
            dir: dir.to_path_buf(),
            key,
            timeout,
            sessions: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long an upload may take to start.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The URL token of `uid`: 32 characters of a keyed hash, unguessable without the key.
    pub fn token(&self, uid: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(&self.key);
        hasher.update(b"upload:");
        hasher.update(uid.as_bytes());
        let digest = hasher.finalize();
        digest[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The finished upload of `uid`.
    pub fn file(&self, uid: &str) -> PathBuf {
        self.dir.join(uid).join(UPLOAD_FILE)
    }

    /// Registers `uid` as waiting for an upload (idempotent) and returns its state. `waited`
    /// is how long the object has already waited (e.g. before a restart). A file received
    /// earlier counts as received.
    pub fn wait_for(
        &self,
        uid: &str,
        owner: &str,
        waited: Duration,
        notify: Notify,
    ) -> UploadState {
        let token = self.token(uid);
        let mut sessions = self.lock();
        let received = self.file(uid).is_file();
        let session = sessions.entry(token).or_insert_with(|| Session {
            uid: uid.to_string(),
            owner: owner.to_string(),
            state: if received {
                UploadState::Received
            } else {
                UploadState::Waiting {
                    since: Instant::now()
                        .checked_sub(waited)
                        .unwrap_or_else(Instant::now),
                }
            },
            notify,
        });
        if let UploadState::Waiting { since } = session.state
            && since.elapsed() >= self.timeout
        {
            session.state = UploadState::TimedOut {
                after: self.timeout,
            };
        }
        session.state.clone()
    }

    /// When a waiting upload of `uid` times out (None if it is not waiting).
    pub fn deadline(&self, uid: &str) -> Option<Instant> {
        match self.lock().get(&self.token(uid))?.state {
            UploadState::Waiting { since } => Some(since + self.timeout),
            _ => None,
        }
    }

    /// Forgets `uid`: its URL stops working. Files stay (see [`Uploads::discard`]).
    pub fn close(&self, uid: &str) {
        self.lock().remove(&self.token(uid));
    }

    /// Forgets `uid` and removes whatever it uploaded.
    pub fn discard(&self, uid: &str) {
        self.close(uid);
        let _ = std::fs::remove_dir_all(self.dir.join(uid));
    }

    /// Starts receiving for `token`: returns the uid, owner and where to write.
    pub fn begin(&self, token: &str, total: Option<u64>) -> Result<Receiving, UploadRefused> {
        let mut sessions = self.lock();
        let session = sessions.get_mut(token).ok_or(UploadRefused::UnknownToken)?;
        let owner = session.owner.clone();
        match &session.state {
            UploadState::Waiting { since } if since.elapsed() < self.timeout => {}
            UploadState::Waiting { .. } | UploadState::TimedOut { .. } => {
                session.state = UploadState::TimedOut {
                    after: self.timeout,
                };
                (session.notify)();
                return Err(UploadRefused::Expired {
                    owner,
                    after: self.timeout,
                });
            }
            UploadState::Receiving { .. } => return Err(UploadRefused::Busy { owner }),
            UploadState::Received => return Err(UploadRefused::Done { owner }),
        }
        session.state = UploadState::Receiving { received: 0, total };
        (session.notify)();
        let dir = self.dir.join(&session.uid);
        Ok(Receiving {
            token: token.to_string(),
            owner,
            part: dir.join(PART_FILE),
            file: dir.join(UPLOAD_FILE),
            dir,
        })
    }

    /// Records progress of a running upload.
    pub fn progress(&self, token: &str, received: u64) {
        if let Some(session) = self.lock().get_mut(token)
            && let UploadState::Receiving { total, .. } = session.state
        {
            session.state = UploadState::Receiving { received, total };
            (session.notify)();
        }
    }

    /// The upload arrived completely (the file is in place).
    pub fn finish(&self, token: &str) {
        if let Some(session) = self.lock().get_mut(token) {
            session.state = UploadState::Received;
            (session.notify)();
        }
    }

    /// The upload broke off: the object waits again, with a fresh timeout.
    pub fn abort(&self, token: &str) {
        if let Some(session) = self.lock().get_mut(token) {
            session.state = UploadState::Waiting {
                since: Instant::now(),
            };
            (session.notify)();
        }
    }
}

/// An upload being received.
#[derive(Debug)]
pub struct Receiving {
    pub token: String,
    pub owner: String,
    pub dir: PathBuf,
    pub part: PathBuf,
    pub file: PathBuf,
}

/// How long an object has waited for its upload, from the time its `Ready` condition started
/// saying so (kept in the status, so a restart does not reset the clock).
pub fn waited_since(since: Option<SystemTime>) -> Duration {
    since
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn uploads(timeout: Duration) -> (tempfile::TempDir, Uploads) {
        let dir = tempfile::tempdir().unwrap();
        let u = Uploads::open(&dir.path().join("uploads"), timeout).unwrap();
        (dir, u)
    }

    fn quiet() -> Notify {
        Arc::new(|| {})
    }

    #[test]
    fn tokens_are_stable_per_uid_and_key_and_differ_between_uids() {
        let (dir, u) = uploads(Duration::from_secs(60));
        let t = u.token("uid-1");
        assert_eq!(t.len(), 32);
        assert_eq!(t, u.token("uid-1"));
        assert_ne!(t, u.token("uid-2"));
        let reopened = Uploads::open(&dir.path().join("uploads"), Duration::from_secs(60)).unwrap();
        assert_eq!(reopened.token("uid-1"), t);
    }

    #[test]
    fn an_unknown_token_is_refused() {
        let (_d, u) = uploads(Duration::from_secs(60));
        assert_eq!(
            u.begin("nope", None).err(),
            Some(UploadRefused::UnknownToken)
        );
    }

    #[test]
    fn a_waiting_upload_can_begin_once() {
        let (_d, u) = uploads(Duration::from_secs(60));
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        u.wait_for(
            "u1",
            "VirtualImage ns/x",
            Duration::ZERO,
            Arc::new(move || {
                c.fetch_add(1, Ordering::SeqCst);
            }),
        );
        let token = u.token("u1");
        let r = u.begin(&token, Some(10)).unwrap();
        assert!(r.part.ends_with("u1/upload.part"));
        assert!(matches!(
            u.begin(&token, None),
            Err(UploadRefused::Busy { .. })
        ));
        u.finish(&token);
        assert!(matches!(
            u.begin(&token, None),
            Err(UploadRefused::Done { .. })
        ));
        assert!(calls.load(Ordering::SeqCst) >= 2);
    }

    #[test]
    fn a_wait_longer_than_the_timeout_expires_the_url() {
        let (_d, u) = uploads(Duration::from_secs(5));
        let state = u.wait_for("u1", "VirtualImage ns/x", Duration::from_secs(6), quiet());
        assert_eq!(
            state,
            UploadState::TimedOut {
                after: Duration::from_secs(5)
            }
        );
        let e = u.begin(&u.token("u1"), None).unwrap_err();
        assert!(e.to_string().contains("expired"), "{e}");
    }

    #[test]
    fn an_aborted_upload_waits_again() {
        let (_d, u) = uploads(Duration::from_secs(60));
        u.wait_for("u1", "o", Duration::ZERO, quiet());
        let token = u.token("u1");
        u.begin(&token, None).unwrap();
        u.abort(&token);
        assert!(u.begin(&token, None).is_ok());
    }

    #[test]
    fn a_closed_session_no_longer_accepts_uploads() {
        let (_d, u) = uploads(Duration::from_secs(60));
        u.wait_for("u1", "o", Duration::ZERO, quiet());
        u.close("u1");
        assert_eq!(
            u.begin(&u.token("u1"), None).err(),
            Some(UploadRefused::UnknownToken)
        );
    }

    #[test]
    fn a_file_received_before_a_restart_counts_as_received() {
        let (_d, u) = uploads(Duration::from_secs(60));
        std::fs::create_dir_all(u.file("u1").parent().unwrap()).unwrap();
        std::fs::write(u.file("u1"), b"data").unwrap();
        assert_eq!(
            u.wait_for("u1", "o", Duration::ZERO, quiet()),
            UploadState::Received
        );
    }
}
