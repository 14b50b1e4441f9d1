//! The two built-in provisioners and where their files go.
//!
//! * `local.storage.dvp.io`: volumes in a node-local directory, ReadWriteOnce, PVs pinned to the
//!   node by node affinity.
//! * `shared.storage.dvp.io`: volumes in a directory every node can open (on one machine just
//!   another directory; point [`StorageConfig::shared_root`] at an NFS mount for several),
//!   ReadWriteMany, the basis of live migration.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;

use crate::directory::DirectoryVolumes;
use crate::host::{Host, QemuHost};
use crate::names::{LOCAL_PROVISIONER, SHARED_PROVISIONER};
use crate::provisioner::{AccessMode, Provisioner, Usage, Volume, VolumeError, VolumeRequest};

/// Where the provisioners keep volumes and which files volumes may be made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageConfig {
    /// Root of node-local volumes (`<root>/<class>/<pv>/disk.qcow2`).
    pub local_root: PathBuf,
    /// Root of shared volumes; an NFS mount when there are several nodes.
    pub shared_root: PathBuf,
    /// Sources of `backing`/`copy` volumes (and their backing files) must resolve under one of
    /// these: the platform's own image and volume stores, never arbitrary host files.
    pub source_roots: Vec<PathBuf>,
    /// The node this process serves: node-local volumes of Immediate classes are pinned to it.
    pub node_name: String,
}

impl StorageConfig {
    /// The layout of the design: both roots at `DATA/storage` (volumes in
    /// `DATA/storage/<class>/<pv>/disk.qcow2`); sources from DVCR, imports, uploads and volumes.
    pub fn under(data_dir: &Path, node_name: impl Into<String>) -> StorageConfig {
        let storage = data_dir.join("storage");
        StorageConfig {
            local_root: storage.clone(),
            shared_root: storage.clone(),
            source_roots: vec![
                data_dir.join("dvcr"),
                data_dir.join("imports"),
                data_dir.join("uploads"),
                storage,
            ],
            node_name: node_name.into(),
        }
    }
}

/// This machine's host name (what `kubernetes.io/hostname` of its node would be).
pub fn this_node_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Node-local volumes (ReadWriteOnce).
#[derive(Clone)]
pub struct LocalProvisioner(DirectoryVolumes);

/// Shared-directory volumes (ReadWriteMany).
#[derive(Clone)]
pub struct SharedProvisioner(DirectoryVolumes);

impl LocalProvisioner {
    pub fn new(root: PathBuf, source_roots: Vec<PathBuf>, host: Arc<dyn Host>) -> Self {
        LocalProvisioner(DirectoryVolumes::new(
            LOCAL_PROVISIONER,
            root,
            source_roots,
            host,
        ))
    }
}

impl SharedProvisioner {
    pub fn new(root: PathBuf, source_roots: Vec<PathBuf>, host: Arc<dyn Host>) -> Self {
        SharedProvisioner(DirectoryVolumes::new(
            SHARED_PROVISIONER,
            root,
            source_roots,
            host,
        ))
    }
}

const LOCAL_MODES: &[AccessMode] = &[AccessMode::ReadWriteOnce, AccessMode::ReadWriteOncePod];
const SHARED_MODES: &[AccessMode] = &[
    AccessMode::ReadWriteMany,
    AccessMode::ReadWriteOnce,
    AccessMode::ReadOnlyMany,
    AccessMode::ReadWriteOncePod,
];

macro_rules! directory_provisioner {
    ($type:ty, $name:expr, $modes:expr, $local:expr) => {
        #[async_trait]
        impl Provisioner for $type {
            fn name(&self) -> &'static str {
                $name
            }
            fn access_modes(&self) -> &'static [AccessMode] {
                $modes
            }
            fn node_local(&self) -> bool {
                $local
            }
            fn volume_path(&self, class: &str, pv_name: &str) -> Result<PathBuf, VolumeError> {
                self.0.volume_path(class, pv_name)
            }
            async fn create(&self, request: &VolumeRequest) -> Result<Volume, VolumeError> {
                self.0.create(request).await
            }
            async fn expand(&self, path: &Path, size: u64) -> Result<u64, VolumeError> {
                self.0.expand(path, size).await
            }
            async fn delete(&self, path: &Path) -> Result<(), VolumeError> {
                self.0.delete(path).await
            }
            async fn usage(&self, path: &Path) -> Result<Usage, VolumeError> {
                self.0.usage(path).await
            }
        }
    };
}

directory_provisioner!(LocalProvisioner, LOCAL_PROVISIONER, LOCAL_MODES, true);
directory_provisioner!(SharedProvisioner, SHARED_PROVISIONER, SHARED_MODES, false);

/// Every provisioner of the platform, by name.
#[derive(Clone)]
pub struct Provisioners {
    local: LocalProvisioner,
    shared: SharedProvisioner,
    node_name: String,
}

impl Provisioners {
    pub fn new(config: &StorageConfig, host: Arc<dyn Host>) -> Provisioners {
        Provisioners {
            local: LocalProvisioner::new(
                config.local_root.clone(),
                config.source_roots.clone(),
                host.clone(),
            ),
            shared: SharedProvisioner::new(
                config.shared_root.clone(),
                config.source_roots.clone(),
                host,
            ),
            node_name: config.node_name.clone(),
        }
    }

    /// The provisioners over the real host (qemu-img and the local filesystem).
    pub fn with_qemu(config: &StorageConfig) -> Provisioners {
        Provisioners::new(config, Arc::new(QemuHost))
    }

    /// The provisioner a StorageClass names, if it is one of ours.
    pub fn get(&self, provisioner: &str) -> Option<&dyn Provisioner> {
        match provisioner {
            LOCAL_PROVISIONER => Some(&self.local),
            SHARED_PROVISIONER => Some(&self.shared),
            _ => None,
        }
    }

    /// The node this process serves.
    pub fn node_name(&self) -> &str {
        &self.node_name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_layout_puts_volumes_under_data_storage() {
        let c = StorageConfig::under(Path::new("/d"), "n1");
        let p = Provisioners::with_qemu(&c);
        let path = p
            .get(SHARED_PROVISIONER)
            .unwrap()
            .volume_path("shared", "pvc-1")
            .unwrap();
        assert_eq!(path, Path::new("/d/storage/shared/pvc-1/disk.qcow2"));
        let path = p
            .get(LOCAL_PROVISIONER)
            .unwrap()
            .volume_path("local-wffc", "pvc-2")
            .unwrap();
        assert_eq!(path, Path::new("/d/storage/local-wffc/pvc-2/disk.qcow2"));
    }

    #[test]
    fn local_is_read_write_once_and_shared_read_write_many() {
        let p = Provisioners::with_qemu(&StorageConfig::under(Path::new("/d"), "n1"));
        let local = p.get(LOCAL_PROVISIONER).unwrap();
        let shared = p.get(SHARED_PROVISIONER).unwrap();
        assert_eq!(local.access_modes()[0], AccessMode::ReadWriteOnce);
        assert!(local.node_local());
        assert_eq!(shared.access_modes()[0], AccessMode::ReadWriteMany);
        assert!(!shared.node_local());
    }

    #[test]
    fn foreign_provisioners_are_unknown() {
        let p = Provisioners::with_qemu(&StorageConfig::under(Path::new("/d"), "n1"));
        assert!(p.get("nfs.csi.k8s.io").is_none());
    }

    #[test]
    fn names_that_are_not_one_path_component_are_refused() {
        let p = Provisioners::with_qemu(&StorageConfig::under(Path::new("/d"), "n1"));
        let shared = p.get(SHARED_PROVISIONER).unwrap();
        for (class, pv) in [
            ("..", "pvc-1"),
            ("shared", "a/b"),
            ("", "pvc"),
            ("shared", "."),
        ] {
            assert!(
                matches!(shared.volume_path(class, pv), Err(VolumeError::BadName(_))),
                "{class} {pv}"
            );
        }
    }
}
