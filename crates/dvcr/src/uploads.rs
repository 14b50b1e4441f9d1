//! Upload sessions: a blob pushed in chunks (`POST`, `PATCH`…, `PUT ?digest=`).
//!
//! A session is a directory `uploads/<id>/` with `repo` (the repository it was started for)
//! and `data` (the bytes so far). The running SHA-256 of `data` is kept in memory so finishing
//! does not re-read the file; after a restart, or after a failed write, it is recomputed from
//! the file. A request holds a session exclusively while it writes.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use sha2::{Digest as _, Sha256};

use crate::blobs::hash_file_state;
use crate::digest::Digest;
use crate::error::{DvcrError, Result};
use crate::fsutil::{sync_dir, touch, unique_name};
use crate::names::validate_name;
use crate::registry::Registry;

/// In-memory state of the sessions seen since start.
pub(crate) type Sessions = Arc<Mutex<HashMap<String, SessionSlot>>>;

pub(crate) enum SessionSlot {
    /// No request is writing; `hasher` has consumed exactly `len` bytes of `data`.
    Idle { hasher: Sha256, len: u64 },
    /// A request is writing or finishing the session.
    Busy,
}

/// An exclusive handle for appending to an upload session. [`UploadAppend::finish`] releases
/// it; dropping it without finishing makes the next request recompute the hash from the file.
pub struct UploadAppend {
    id: String,
    path: PathBuf,
    file: File,
    hasher: Sha256,
    len: u64,
    sessions: Sessions,
    finished: bool,
    failed: bool,
}

impl UploadAppend {
    /// Appends bytes to the session.
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        if let Err(e) = self.file.write_all(bytes) {
            self.failed = true;
            return Err(DvcrError::io("write", &self.path)(e));
        }
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Bytes in the session so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Releases the session for the next request and returns its size.
    pub fn finish(mut self) -> u64 {
        self.finished = true;
        if !self.failed {
            let mut sessions = lock(&self.sessions);
            // A session cancelled meanwhile has no slot any more and gets none back.
            if let Some(slot) = sessions.get_mut(&self.id) {
                *slot = SessionSlot::Idle {
                    hasher: std::mem::take(&mut self.hasher),
                    len: self.len,
                };
                return self.len;
            }
        }
        lock(&self.sessions).remove(&self.id);
        self.len
    }
}

impl Drop for UploadAppend {
    fn drop(&mut self) {
        if !self.finished {
            lock(&self.sessions).remove(&self.id);
        }
    }
}

fn lock(sessions: &Sessions) -> std::sync::MutexGuard<'_, HashMap<String, SessionSlot>> {
    sessions.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Session ids are 32 lowercase hex characters (they become directory names).
fn valid_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Registry {
    /// Starts an upload session for `repo` and returns its id.
    pub fn start_upload(&self, repo: &str) -> Result<String> {
        validate_name(repo)?;
        let id = unique_name();
        let dir = self.layout.upload(&id);
        let create = || -> io::Result<()> {
            fs::create_dir(&dir)?;
            fs::write(dir.join("repo"), repo)?;
            File::create(dir.join("data"))?;
            Ok(())
        };
        if let Err(e) = create() {
            let _ = fs::remove_dir_all(&dir);
            return Err(DvcrError::io("create upload session", &dir)(e));
        }
        lock(&self.sessions).insert(
            id.clone(),
            SessionSlot::Idle {
                hasher: Sha256::new(),
                len: 0,
            },
        );
        Ok(id)
    }

    /// The session's data file, once its id and repository check out.
    fn session_data(&self, repo: &str, id: &str) -> Result<PathBuf> {
        validate_name(repo)?;
        let unknown = || DvcrError::UploadUnknown(id.to_string());
        if !valid_id(id) {
            return Err(unknown());
        }
        let dir = self.layout.upload(id);
        let owner = fs::read_to_string(dir.join("repo")).map_err(|_| unknown())?;
        let data = dir.join("data");
        if owner != repo || !data.is_file() {
            return Err(unknown());
        }
        Ok(data)
    }

    /// Bytes received so far by a session.
    pub fn upload_size(&self, repo: &str, id: &str) -> Result<u64> {
        let data = self.session_data(repo, id)?;
        fs::metadata(&data)
            .map(|m| m.len())
            .map_err(|_| DvcrError::UploadUnknown(id.to_string()))
    }

    /// Marks the session busy and returns its running hash and length.
    fn take_session(&self, id: &str, data: &std::path::Path) -> Result<(Sha256, u64)> {
        let previous = {
            let mut sessions = lock(&self.sessions);
            match sessions.insert(id.to_string(), SessionSlot::Busy) {
                Some(SessionSlot::Busy) => return Err(DvcrError::UploadBusy(id.to_string())),
                previous => previous,
            }
        };
        let on_disk = fs::metadata(data).map(|m| m.len()).ok();
        match previous {
            Some(SessionSlot::Idle { hasher, len }) if Some(len) == on_disk => Ok((hasher, len)),
            _ => hash_file_state(data).inspect_err(|_| {
                lock(&self.sessions).remove(id);
            }),
        }
    }

    /// Opens a session for appending. With `start` (a `Content-Range` start), the session must
    /// hold exactly that many bytes, else [`DvcrError::UploadOffset`].
    pub fn append_upload(&self, repo: &str, id: &str, start: Option<u64>) -> Result<UploadAppend> {
        let data = self.session_data(repo, id)?;
        let (hasher, len) = self.take_session(id, &data)?;
        let restore = |hasher, len| {
            lock(&self.sessions).insert(id.to_string(), SessionSlot::Idle { hasher, len });
        };
        if let Some(start) = start
            && start != len
        {
            restore(hasher, len);
            return Err(DvcrError::UploadOffset {
                id: id.to_string(),
                start,
                size: len,
            });
        }
        let file = match OpenOptions::new().append(true).open(&data) {
            Ok(file) => file,
            Err(e) => {
                restore(hasher, len);
                return Err(DvcrError::io("open", &data)(e));
            }
        };
        Ok(UploadAppend {
            id: id.to_string(),
            path: data,
            file,
            hasher,
            len,
            sessions: self.sessions.clone(),
            finished: false,
            failed: false,
        })
    }

    /// Finishes a session: its bytes must hash to `expected`. On success the bytes become a
    /// blob and the session is gone; on a mismatch the session is discarded.
    pub fn complete_upload(&self, repo: &str, id: &str, expected: &Digest) -> Result<Digest> {
        let data = self.session_data(repo, id)?;
        let (hasher, _) = self.take_session(id, &data)?;
        let actual = Digest::from_hasher(hasher);
        if &actual != expected {
            self.discard_session(id);
            return Err(DvcrError::DigestMismatch {
                expected: expected.clone(),
                actual,
            });
        }
        let stored = self.store_session_data(&data, &actual);
        self.discard_session(id);
        stored.map(|()| actual)
    }

    fn store_session_data(&self, data: &std::path::Path, digest: &Digest) -> Result<()> {
        File::open(data)
            .and_then(|f| f.sync_all())
            .map_err(DvcrError::io("sync", data))?;
        fs::set_permissions(data, fs::Permissions::from_mode(0o444))
            .map_err(DvcrError::io("make read-only", data))?;
        let target = self.layout.blob(digest);
        let _shared = self.shared();
        match fs::hard_link(data, &target) {
            Ok(()) => sync_dir(&self.layout.blobs_dir())?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(DvcrError::io("store blob", &target)(e)),
        }
        touch(&target).map_err(DvcrError::io("touch", &target))?;
        self.pending.blob(digest);
        Ok(())
    }

    /// Cancels a session and removes its bytes.
    pub fn cancel_upload(&self, repo: &str, id: &str) -> Result<()> {
        self.session_data(repo, id)?;
        self.discard_session(id);
        Ok(())
    }

    pub(crate) fn discard_session(&self, id: &str) {
        lock(&self.sessions).remove(id);
        let _ = fs::remove_dir_all(self.layout.upload(id));
    }

    /// Whether a request is writing to the session right now.
    pub(crate) fn session_busy(&self, id: &str) -> bool {
        matches!(lock(&self.sessions).get(id), Some(SessionSlot::Busy))
    }
}
