//! The files an import creates in its work dir, removed unless the import succeeds.

use std::path::{Path, PathBuf};

use crate::error::ImportError;

/// Owns the import's files in the work dir: every registered path is deleted on drop, except
/// the one kept as the result.
pub(crate) struct Scratch {
    dir: PathBuf,
    paths: Vec<PathBuf>,
    kept: Option<PathBuf>,
}

impl Scratch {
    pub fn new(dir: &Path) -> Result<Scratch, ImportError> {
        std::fs::create_dir_all(dir).map_err(|e| ImportError::io(dir, "creating", e))?;
        Ok(Scratch {
            dir: dir.to_path_buf(),
            paths: Vec::new(),
            kept: None,
        })
    }

    /// A path in the work dir that will be cleaned up.
    pub fn path(&mut self, name: &str) -> PathBuf {
        let path = self.dir.join(name);
        if !self.paths.contains(&path) {
            self.paths.push(path.clone());
        }
        path
    }

    /// Deletes a scratch file now (to free space early).
    pub fn remove(&mut self, path: &Path) {
        let _ = std::fs::remove_file(path);
    }

    /// Keeps `path` when the scratch is dropped.
    pub fn keep(&mut self, path: &Path) {
        self.kept = Some(path.to_path_buf());
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for path in &self.paths {
            if Some(path) != self.kept.as_ref() {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_but_the_kept_file_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (staged, output) = {
            let mut scratch = Scratch::new(&dir.path().join("work")).unwrap();
            let staged = scratch.path("source.img");
            let output = scratch.path("disk.qcow2");
            std::fs::write(&staged, b"x").unwrap();
            std::fs::write(&output, b"y").unwrap();
            scratch.keep(&output);
            (staged, output)
        };
        assert!(!staged.exists());
        assert!(output.exists());
    }

    #[test]
    fn failed_imports_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut scratch = Scratch::new(dir.path()).unwrap();
            std::fs::write(scratch.path("a"), b"x").unwrap();
            std::fs::write(scratch.path("b"), b"x").unwrap();
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
