//! Removing a volume: its files (reclaim policy Delete), then the finalizer that kept its PV, then
//! the PV. With reclaim policy Retain the files stay and the PV becomes `Released`.

use std::fmt::Debug;

use dvp_storage::classes::deletes_volumes;
use dvp_storage::names::VOLUME_FINALIZER;
use dvp_storage::objects::{pv_driver, pv_path, pv_status};
use k8s_openapi::api::core::v1::PersistentVolume;
use kube::api::{Api, DeleteParams, PostParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Error, is_conflict, is_not_found};
use crate::Context;
use crate::events::EventType;

/// Adds the volume finalizer to `obj` unless it has it; returns the object as stored.
pub async fn add_finalizer<K>(api: &Api<K>, obj: &K) -> Result<K, kube::Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug,
{
    if obj.finalizers().iter().any(|f| f == VOLUME_FINALIZER) {
        return Ok(obj.clone());
    }
    let mut updated = obj.clone();
    updated.finalizers_mut().push(VOLUME_FINALIZER.to_string());
    api.replace(&obj.name_any(), &PostParams::default(), &updated)
        .await
}

/// Removes the volume finalizer from the object `name` (re-reading it on conflicts). A missing
/// object or finalizer is fine.
pub async fn remove_finalizer<K>(api: &Api<K>, name: &str) -> Result<(), kube::Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug,
{
    let mut attempts = 0;
    loop {
        let Some(mut obj) = api.get_opt(name).await? else {
            return Ok(());
        };
        if !obj.finalizers().iter().any(|f| f == VOLUME_FINALIZER) {
            return Ok(());
        }
        obj.finalizers_mut().retain(|f| f != VOLUME_FINALIZER);
        match api.replace(name, &PostParams::default(), &obj).await {
            Ok(_) => return Ok(()),
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) if is_conflict(&e) && attempts < 5 => attempts += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Releases `pv` whose claim is gone or going: deletes its files and the PV (policy Delete) or
/// marks it Released and lets it go (policy Retain).
pub async fn release_volume(ctx: &Context, pv: &PersistentVolume) -> Result<(), Error> {
    let pvs: Api<PersistentVolume> = Api::all(ctx.client.clone());
    let name = pv.name_any();
    let policy = pv
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_reclaim_policy.as_deref());
    if deletes_volumes(policy) {
        let provisioner = pv_driver(pv).and_then(|d| ctx.storage.get(d));
        if let (Some(path), Some(provisioner)) = (pv_path(pv), provisioner) {
            provisioner.delete(&path).await?;
            let message = format!("deleted the volume's file {}", path.display());
            ctx.recorder
                .publish(pv, EventType::Normal, "VolumeDeleted", &message)
                .await;
        }
        remove_finalizer(&pvs, &name).await?;
        match pvs.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e.into()),
        }
    } else {
        if pv.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Released") {
            let status = pv_status(pv.status.as_ref(), "Released");
            match crate::status::write(&pvs, pv, pv.status.as_ref(), &status).await {
                Ok(_) | Err(crate::status::StatusError::Conflict) => {}
                Err(e) => return Err(e.into()),
            }
        }
        remove_finalizer(&pvs, &name).await?;
    }
    Ok(())
}
