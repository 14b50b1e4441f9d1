//! What an import reads from.

use std::path::PathBuf;

use crate::checksum::Checksums;
use crate::oci::Credentials;

/// Where the image comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// An http(s) URL (`dataSource.http`). Every given checksum must match the bytes as
    /// downloaded (before decompression).
    Http {
        url: String,
        checksum: Checksums,
        /// PEM certificates trusted in addition to the public roots (`http.caBundle`, decoded).
        ca_bundle: Option<Vec<u8>>,
    },
    /// A container image holding the disk as a file under `/disk/` (`dataSource.containerImage`).
    OciImage {
        reference: String,
        /// From the `kubernetes.io/dockerconfigjson` pull secret
        /// (see [`Credentials::from_docker_config`]).
        credentials: Option<Credentials>,
        ca_bundle: Option<Vec<u8>>,
        /// Talk plain HTTP to a registry on a loopback address (tests, a local mirror).
        insecure_http_allowed_for_loopback: bool,
    },
    /// A file given by a user (an upload) or another image's blob. It may be compressed; it
    /// must not name a backing file.
    File { path: PathBuf, checksum: Checksums },
    /// A virtual disk's volume: qcow2 or raw, possibly an overlay whose backing chain is
    /// flattened into the result.
    Volume { path: PathBuf },
}

impl Source {
    /// Where the import reads from, for messages and logs.
    pub fn describe(&self) -> String {
        match self {
            Source::Http { url, .. } => url.clone(),
            Source::OciImage { reference, .. } => reference.clone(),
            Source::File { path, .. } | Source::Volume { path } => path.display().to_string(),
        }
    }
}
