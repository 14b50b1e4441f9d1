//! The storage provisioner: binds PersistentVolumeClaims of our StorageClasses to volumes made by
//! `dvp-storage`'s provisioners, grows them, and removes them with their claims.
//!
//! * [`first_start`]: the StorageClasses a fresh platform gets (once; an admin's deletion sticks);
//! * [`claims`]: one reconcile per claim — provision, bind, expand, release;
//! * [`pvs`]: PVs whose claim is gone (or which an admin deleted) have their files removed;
//! * [`release`]: removing a volume's files and its PV, shared by both;
//! * [`backoff`]: growing retry delays for claims that fail to provision.

pub mod backoff;
pub mod claims;
pub mod first_start;
pub mod pvs;
pub mod release;

use std::sync::Arc;

use crate::Context;

/// Why a reconcile stopped early (it is retried).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error(transparent)]
    Status(#[from] crate::status::StatusError),
    #[error(transparent)]
    Volume(#[from] dvp_storage::VolumeError),
}

/// Whether an API error is a 409 (someone else changed the object: it will be reconciled again).
pub(crate) fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(s) if s.code == 409)
}

/// Whether an API error is a 404.
pub(crate) fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(s) if s.code == 404)
}

/// Creates the first-start StorageClasses, then runs the claim and PV controllers.
pub async fn run(ctx: Arc<Context>) {
    first_start::ensure_storage_classes(&ctx.client).await;
    tokio::join!(claims::run(ctx.clone()), pvs::run(ctx.clone()));
}
