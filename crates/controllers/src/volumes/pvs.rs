//! PVs of our provisioners whose claim is gone: their files are removed (reclaim policy Delete)
//! and the PV goes. This catches what the claim path cannot: a claim whose finalizer someone
//! removed by hand, or a PV an admin deleted after its claim. A PV whose claim still exists is
//! left to the claim (even when deleted, like Kubernetes' PV protection).

use std::sync::Arc;
use std::time::Duration;

use dvp_storage::classes::is_our_provisioner;
use dvp_storage::names::VOLUME_FINALIZER;
use dvp_storage::objects::{pv_claim_uid, pv_driver};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;

use super::Error;
use super::release::release_volume;
use crate::Context;

/// Whether the PV is one of ours that still holds files to clean up.
pub fn is_managed(pv: &PersistentVolume) -> bool {
    pv.finalizers().iter().any(|f| f == VOLUME_FINALIZER)
        && pv_driver(pv).is_some_and(is_our_provisioner)
}

/// Whether the PV's claim still exists (same name and uid).
async fn claim_exists(ctx: &Context, pv: &PersistentVolume) -> Result<bool, kube::Error> {
    let Some(claim_ref) = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else {
        return Ok(false);
    };
    let (Some(namespace), Some(name)) = (&claim_ref.namespace, &claim_ref.name) else {
        return Ok(false);
    };
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), namespace);
    Ok(claims
        .get_opt(name)
        .await?
        .is_some_and(|claim| claim.metadata.uid.as_deref() == pv_claim_uid(pv)))
}

async fn reconcile(pv: Arc<PersistentVolume>, ctx: Arc<Context>) -> Result<Action, Error> {
    if !is_managed(&pv) || claim_exists(&ctx, &pv).await? {
        return Ok(Action::await_change());
    }
    release_volume(&ctx, &pv).await?;
    Ok(Action::await_change())
}

fn error_policy(pv: Arc<PersistentVolume>, error: &Error, _: Arc<Context>) -> Action {
    tracing::warn!(%error, pv = %pv.name_any(), "PV reconcile failed");
    Action::requeue(Duration::from_secs(10))
}

pub async fn run(ctx: Arc<Context>) {
    let pvs: Api<PersistentVolume> = Api::all(ctx.client.clone());
    let claims: Api<PersistentVolumeClaim> = Api::all(ctx.client.clone());
    Controller::new(pvs, watcher::Config::default())
        // A claim's deletion is when its PV may need cleaning up.
        .watches(
            claims,
            watcher::Config::default(),
            |claim: PersistentVolumeClaim| {
                claim
                    .spec
                    .and_then(|s| s.volume_name)
                    .filter(|n| !n.is_empty())
                    .map(|name| kube::runtime::reflector::ObjectRef::new(&name))
            },
        )
        .run(reconcile, error_policy, ctx)
        .for_each(|_| futures::future::ready(()))
        .await;
}
