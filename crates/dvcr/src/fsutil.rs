//! Small durable-filesystem helpers: atomic small-file writes, directory fsync, touching.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;
use std::time::SystemTime;

use crate::error::{DvcrError, Result};

/// Makes a rename or link inside `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(DvcrError::io("sync directory", dir))
}

/// A unique name for a temporary file.
pub(crate) fn unique_name() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Replaces `target` with `bytes` atomically: readers see the old or the new content, never a
/// mix, and after a crash the file holds one of the two.
pub(crate) fn write_atomic(tmp_dir: &Path, target: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_dir.join(unique_name());
    let write = || -> io::Result<()> {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()
    };
    if let Err(e) = write() {
        let _ = fs::remove_file(&tmp);
        return Err(DvcrError::io("write", &tmp)(e));
    }
    let parent = target.parent().expect("targets live in a directory");
    let placed = fs::create_dir_all(parent)
        .map_err(DvcrError::io("create directory", parent))
        .and_then(|()| fs::rename(&tmp, target).map_err(DvcrError::io("write", target)));
    if let Err(e) = placed {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(parent)
}

/// Sets a file's modification time to now (the garbage collector's grace clock). Needs only
/// ownership, not write permission, so it works on read-only blobs.
pub(crate) fn touch(path: &Path) -> io::Result<()> {
    File::open(path)?.set_modified(SystemTime::now())
}

/// Removes `dir` and then its parents while they are empty, stopping at `stop` (exclusive).
pub(crate) fn remove_empty_dirs(dir: &Path, stop: &Path) {
    let mut current = Some(dir);
    while let Some(d) = current {
        if d == stop || !d.starts_with(stop) || fs::remove_dir(d).is_err() {
            return;
        }
        current = d.parent();
    }
}

/// Reads a file, mapping "not found" to `None`.
pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(DvcrError::io("read", path)(e)),
    }
}

/// Lists the entry names of a directory, sorted; a missing directory is empty.
pub(crate) fn list_names(dir: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(DvcrError::io("list", dir)(e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(DvcrError::io("list", dir))?;
        if let Some(name) = entry.file_name().to_str() {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}
