//! Where things live under `DATA/dvcr/`.
//!
//! ```text
//! blobs/sha256/<hex>                           content-addressed, read-only, never rewritten
//! repositories/<repo>/_manifests/sha256/<hex>  a manifest in <repo>; holds its media type
//! repositories/<repo>/_tags/<tag>              holds the tagged manifest's digest
//! uploads/<id>/{data,repo}                     an upload session
//! tmp/                                         files being written; emptied at open
//! ```
//! Repository components cannot start with `_`, so `_manifests`/`_tags` never collide with a
//! nested repository (`vi/ns` and `vi/ns/name` can coexist).

use std::path::{Path, PathBuf};

use crate::digest::Digest;

#[derive(Debug, Clone)]
pub(crate) struct Layout {
    root: PathBuf,
}

impl Layout {
    pub(crate) fn new(root: &Path) -> Layout {
        Layout {
            root: root.to_path_buf(),
        }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs").join("sha256")
    }

    pub(crate) fn blob(&self, digest: &Digest) -> PathBuf {
        self.blobs_dir().join(digest.hex())
    }

    pub(crate) fn repositories_dir(&self) -> PathBuf {
        self.root.join("repositories")
    }

    /// `repo` must have passed name validation (no `..`, no leading `/`).
    pub(crate) fn repository(&self, repo: &str) -> PathBuf {
        self.repositories_dir().join(repo)
    }

    pub(crate) fn manifests_dir(&self, repo: &str) -> PathBuf {
        self.repository(repo).join("_manifests").join("sha256")
    }

    pub(crate) fn manifest_link(&self, repo: &str, digest: &Digest) -> PathBuf {
        self.manifests_dir(repo).join(digest.hex())
    }

    pub(crate) fn tags_dir(&self, repo: &str) -> PathBuf {
        self.repository(repo).join("_tags")
    }

    /// `tag` must have passed tag validation.
    pub(crate) fn tag(&self, repo: &str, tag: &str) -> PathBuf {
        self.tags_dir(repo).join(tag)
    }

    pub(crate) fn uploads_dir(&self) -> PathBuf {
        self.root.join("uploads")
    }

    /// `id` must have passed session id validation.
    pub(crate) fn upload(&self, id: &str) -> PathBuf {
        self.uploads_dir().join(id)
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }
}
