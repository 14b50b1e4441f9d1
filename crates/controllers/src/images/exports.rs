//! Disks being exported (`d8 data export download vd/NAME`): the VirtualDisk controller shows
//! them as `Exporting` with `InUse=True (UsedForDataExport)`, and nothing else may use them
//! meanwhile.

use std::collections::HashSet;
use std::sync::Mutex;

/// The uids of the disks being exported.
#[derive(Default)]
pub struct Exports {
    active: Mutex<HashSet<String>>,
}

impl Exports {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.active.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks `uid` as exporting; false if it already is.
    pub fn begin(&self, uid: &str) -> bool {
        self.lock().insert(uid.to_string())
    }

    pub fn end(&self, uid: &str) {
        self.lock().remove(uid);
    }

    pub fn is_active(&self, uid: &str) -> bool {
        self.lock().contains(uid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disk_is_exported_once_at_a_time() {
        let e = Exports::default();
        assert!(e.begin("u"));
        assert!(!e.begin("u"));
        assert!(e.is_active("u"));
        e.end("u");
        assert!(!e.is_active("u"));
        assert!(e.begin("u"));
    }
}
