//! The platform's storage.
//!
//! * [`classes`]: the StorageClasses created at first start (`local`, `local-wffc`, `shared` —
//!   the default — and `shared-wffc`) and facts read off StorageClass objects.
//! * [`provisioners`]: the two built-in provisioners (`local.storage.dvp.io`,
//!   `shared.storage.dvp.io`) behind the [`Provisioner`] trait, making qcow2 volumes in
//!   `<root>/<class>/<pv name>/disk.qcow2`: blank, as a copy-on-write overlay on a backing file,
//!   or as a full copy; growing, measuring and deleting them. Host effects (qemu-img, files) go
//!   through [`host::Host`] so the logic is testable without a disk.
//! * [`resolve`]: which StorageClass a disk or image gets (spec §3).
//! * [`objects`]: the claims disk/image controllers create and the PVs the provisioner creates.
//! * [`binding`]: what the provisioner controller does next with a claim.
//!
//! Everything except [`host::QemuHost`] is free of I/O.

pub mod binding;
pub mod classes;
mod directory;
pub mod host;
pub mod names;
pub mod objects;
pub mod provisioner;
pub mod provisioners;
pub mod resolve;
pub mod source;

#[cfg(test)]
mod fake_host;

pub use binding::{ClaimAction, ClaimProblem, ProvisionerFacts, decide};
pub use classes::default_storage_classes;
pub use provisioner::{AccessMode, Fill, Provisioner, Usage, Volume, VolumeError, VolumeRequest};
pub use provisioners::{LocalProvisioner, Provisioners, SharedProvisioner, StorageConfig};
pub use resolve::{ResolveError, resolve_storage_class};
pub use source::{SourceFormat, VolumeSource};
