//! DVCR, the platform's own OCI distribution registry.
//!
//! * [`Registry`]: the store under `DATA/dvcr/` — content-addressed blobs written crash-safely
//!   (temp file, fsync, digest check, then linked into place; a blob file is never rewritten,
//!   so disks can use it as a qcow2 backing file), repositories with manifests and tags,
//!   upload sessions, garbage collection ([`Registry::gc`]).
//! * Disk images ([`Registry::push_disk_image`], [`Registry::read_disk_image`]) in the layout
//!   of `docs/design-images-disks.md` ([`disk_layout`]).
//! * [`router`]: the OCI distribution HTTP API under `/v2/`, for the platform's HTTPS server.
//! * [`cron`]: the `dvcr.gc.schedule` parser.
//!
//! Repository names follow spec §5.1: `cvi/<name>`, `vi/<ns>/<name>`, `vd/<ns>/<name>`, tagged
//! with the owning object's uid.

mod blobs;
pub mod cron;
mod digest;
mod disk_image;
pub mod disk_layout;
mod error;
mod fsutil;
mod gc;
mod http;
mod layout;
pub mod manifest;
mod names;
mod pending;
mod registry;
mod uploads;

pub use cron::{CronError, DEFAULT_GC_SCHEDULE, Schedule};
pub use digest::{Digest, DigestError};
pub use disk_image::{DiskImage, ImageRef, image_url};
pub use disk_layout::{DiskFacts, DiskFormat};
pub use error::{DvcrError, Result};
pub use gc::GcReport;
pub use http::{AuthCheck, router};
pub use names::{
    NameError, Reference, ReferenceError, cvi_repository, validate_name, validate_tag,
    vd_repository, vi_repository,
};
pub use registry::{Registry, RegistryOptions, StoredManifest};
pub use uploads::UploadAppend;
