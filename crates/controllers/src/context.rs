//! What every reconciler shares: the API client, the event recorder and the platform's settings.

use std::path::PathBuf;

use crate::events::Recorder;

/// Shared by every controller (behind an `Arc`).
pub struct Context {
    pub client: kube::Client,
    pub recorder: Recorder,
    /// The platform's data dir (DVCR, volumes, import scratch live under it).
    pub data_dir: PathBuf,
    /// The volume provisioners (files under `DATA/storage`), shared with whoever makes volumes.
    pub storage: std::sync::Arc<dvp_storage::Provisioners>,
    /// DVCR, imports, uploads and exports; the image and disk controllers run only with them.
    pub images: Option<std::sync::Arc<crate::images::Services>>,
}

impl Context {
    pub fn new(client: kube::Client, data_dir: PathBuf) -> Context {
        let recorder = Recorder::new(client.clone(), "virtualization-controller");
        let storage = dvp_storage::StorageConfig::under(
            &data_dir,
            dvp_storage::provisioners::this_node_name(),
        );
        Context {
            client,
            recorder,
            storage: std::sync::Arc::new(dvp_storage::Provisioners::with_qemu(&storage)),
            data_dir,
            images: None,
        }
    }

    /// The context with the image services (DVCR, imports, uploads) the image and disk
    /// controllers need.
    pub fn with_images(mut self, images: std::sync::Arc<crate::images::Services>) -> Context {
        self.images = Some(images);
        self
    }

    /// The context with other storage settings (another shared root, such as an NFS mount).
    pub fn with_storage(mut self, storage: std::sync::Arc<dvp_storage::Provisioners>) -> Context {
        self.storage = storage;
        self
    }
}
