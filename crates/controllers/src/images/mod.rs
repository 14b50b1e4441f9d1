//! What the image and disk controllers share: DVCR, background imports, uploads, exports,
//! data sources, StorageClass choice, the HTTP endpoints (`/upload/<token>`, disk export) and
//! DVCR garbage collection.
//!
//! [`Services`] is opened once by `dvpd up` and handed both to the HTTP server (DVCR's `/v2`
//! router, [`http::routes`]) and to the controllers ([`crate::Context::with_images`]).

pub mod exports;
pub mod facts;
pub mod finalizer;
pub mod gc;
pub mod http;
pub mod image;
pub mod import;
pub mod refs;
pub mod source;
pub mod status;
pub mod storage_class;
pub mod tasks;
pub mod uploads;
pub mod users;
pub mod volumes;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use dvp_api::kinds::common::ImageUploadUrls;
use dvp_api::kinds::{ClusterVirtualImage, VirtualDisk, VirtualImage};
use dvp_dvcr::Registry;
use dvp_importer::ImportOptions;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::mpsc::UnboundedSender;

use exports::Exports;
use tasks::{Imports, Notify};
use uploads::Uploads;

/// Runs the image and disk controllers and DVCR garbage collection (when the context carries
/// the image services).
pub async fn run_all(ctx: Arc<crate::Context>) {
    let Some(services) = ctx.images.clone() else {
        tracing::info!("no image services: the image and disk controllers are not started");
        return;
    };
    tokio::join!(
        crate::vi::run(ctx.clone(), services.clone()),
        crate::cvi::run(ctx.clone(), services.clone()),
        crate::vd::run(ctx.clone(), services.clone()),
        gc::run(ctx.clone(), services.clone()),
    );
}

/// A cache of every object of a kind, kept current by a watch in the background.
pub fn cache<K>(api: kube::Api<K>) -> kube::runtime::reflector::Store<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    use futures::StreamExt;
    use kube::runtime::WatchStreamExt;
    let (store, writer) = kube::runtime::reflector::store();
    let stream = kube::runtime::reflector::reflector(
        writer,
        kube::runtime::watcher(api, kube::runtime::watcher::Config::default()),
    )
    .default_backoff()
    .for_each(|_| futures::future::ready(()));
    tokio::spawn(stream);
    store
}

/// How long an upload may take to start before the object fails (spec §5.12).
pub const DEFAULT_UPLOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// Settings of the image services.
#[derive(Clone, Debug)]
pub struct Config {
    /// `host:port` of DVCR as clients reach it (the API server's address): the host part of
    /// `status.target.registryURL`.
    pub registry_host: String,
    /// `https://host:port` under which `/upload/<token>` is served.
    pub upload_base_url: String,
    pub upload_timeout: Duration,
    pub import_options: ImportOptions,
    /// Pull container images from registries on loopback addresses over plain HTTP (a local
    /// mirror, the tests' registry).
    pub allow_insecure_loopback_registries: bool,
}

impl Config {
    /// Defaults for a platform served at `host:port`.
    pub fn for_address(host: &str, port: u16) -> Config {
        Config {
            registry_host: format!("{host}:{port}"),
            upload_base_url: format!("https://{host}:{port}"),
            upload_timeout: DEFAULT_UPLOAD_TIMEOUT,
            import_options: ImportOptions::default(),
            allow_insecure_loopback_registries: true,
        }
    }
}

/// Why the image services could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot open DVCR in {path}: {source}")]
    Registry {
        path: PathBuf,
        source: dvp_dvcr::DvcrError,
    },
    #[error("cannot prepare {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Ways to wake a controller from outside its watches (finished imports, upload progress,
/// exports). Each controller installs its sender when it starts.
#[derive(Default)]
pub struct Triggers {
    pub vi: OnceLock<UnboundedSender<ObjectRef<VirtualImage>>>,
    pub cvi: OnceLock<UnboundedSender<ObjectRef<ClusterVirtualImage>>>,
    pub vd: OnceLock<UnboundedSender<ObjectRef<VirtualDisk>>>,
}

/// DVCR, imports, uploads and exports of one platform process.
pub struct Services {
    pub config: Config,
    pub data_dir: PathBuf,
    pub registry: Arc<Registry>,
    pub imports: Imports,
    pub uploads: Uploads,
    pub exports: Exports,
    pub triggers: Triggers,
}

impl Services {
    /// Opens DVCR under `DATA/dvcr` and the upload store under `DATA/uploads`, and clears
    /// `DATA/imports` (imports do not survive a restart; they are started again).
    pub fn open(data_dir: &Path, config: Config) -> Result<Arc<Services>, OpenError> {
        let dvcr = data_dir.join("dvcr");
        let registry = Registry::open(&dvcr).map_err(|source| OpenError::Registry {
            path: dvcr.clone(),
            source,
        })?;
        let imports_dir = data_dir.join("imports");
        let _ = std::fs::remove_dir_all(&imports_dir);
        for dir in [&imports_dir, &data_dir.join("exports")] {
            let _ = std::fs::remove_dir_all(dir);
            std::fs::create_dir_all(dir).map_err(|source| OpenError::Io {
                path: dir.clone(),
                source,
            })?;
        }
        let uploads_dir = data_dir.join("uploads");
        let uploads =
            Uploads::open(&uploads_dir, config.upload_timeout).map_err(|source| OpenError::Io {
                path: uploads_dir,
                source,
            })?;
        let registry = Arc::new(registry);
        Ok(Arc::new(Services {
            config,
            data_dir: data_dir.to_path_buf(),
            imports: Imports::new(registry.clone()),
            registry,
            uploads,
            exports: Exports::default(),
            triggers: Triggers::default(),
        }))
    }

    /// `status.target.registryURL` of `repo:tag`.
    pub fn registry_url(&self, repo: &str, tag: &str) -> String {
        dvp_dvcr::image_url(&self.config.registry_host, repo, tag)
    }

    /// `status.imageUploadURLs` of the object `uid`. The platform has one address, so both
    /// URLs are the same.
    pub fn upload_urls(&self, uid: &str) -> ImageUploadUrls {
        let url = format!(
            "{}/upload/{}",
            self.config.upload_base_url,
            self.uploads.token(uid)
        );
        ImageUploadUrls {
            external: Some(url.clone()),
            in_cluster: Some(url),
        }
    }

    /// A fresh scratch directory for an import of `uid`.
    pub fn import_dir(&self, uid: &str, generation: i64) -> PathBuf {
        let attempt = format!("g{generation}-{:08x}", rand::random::<u32>());
        self.data_dir.join("imports").join(uid).join(attempt)
    }

    /// Where exports flatten disks before streaming them.
    pub fn export_dir(&self, uid: &str) -> PathBuf {
        self.data_dir.join("exports").join(uid)
    }

    /// The import options for a source: the platform's, with loopback registries allowed as
    /// configured.
    pub fn import_options(&self) -> ImportOptions {
        self.config.import_options.clone()
    }

    /// Wakes the VirtualImage controller for `ns/name`.
    pub fn vi_notifier(&self, ns: &str, name: &str) -> Notify {
        let sender = self.triggers.vi.get().cloned();
        let target = ObjectRef::<VirtualImage>::new(name).within(ns);
        Arc::new(move || {
            if let Some(s) = &sender {
                let _ = s.send(target.clone());
            }
        })
    }

    /// Wakes the ClusterVirtualImage controller for `name`.
    pub fn cvi_notifier(&self, name: &str) -> Notify {
        let sender = self.triggers.cvi.get().cloned();
        let target = ObjectRef::<ClusterVirtualImage>::new(name);
        Arc::new(move || {
            if let Some(s) = &sender {
                let _ = s.send(target.clone());
            }
        })
    }

    /// Wakes the VirtualDisk controller for `ns/name`.
    pub fn vd_notifier(&self, ns: &str, name: &str) -> Notify {
        let sender = self.triggers.vd.get().cloned();
        let target = ObjectRef::<VirtualDisk>::new(name).within(ns);
        Arc::new(move || {
            if let Some(s) = &sender {
                let _ = s.send(target.clone());
            }
        })
    }
}
