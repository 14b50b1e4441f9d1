//! VirtualMachineIPAddressLease controller: Bound while its address object holds it; once that
//! object is gone (or moved to another address) the lease is Released — the ref keeps only the
//! namespace — and deleted after the retention period unless that namespace takes it back.

use std::sync::Arc;
use std::time::Duration;

use dvp_api::kinds::{VirtualMachineIPAddress, VirtualMachineIPAddressLease};
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use super::lease::{Holder, VMIP_UID_LABEL, Verdict, desired_status, released_ref, verdict};
use super::pool::{lease_address, lease_name};
use crate::Context;
use crate::status;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// a request to the API failed
    #[error(transparent)]
    Api(#[from] kube::Error),
    /// the status could not be written
    #[error(transparent)]
    Status(#[from] status::StatusError),
}

pub(crate) struct LeaseCtx {
    pub ctx: Arc<Context>,
    pub vmips: Store<VirtualMachineIPAddress>,
}

/// The object a lease's ref names, from the cache or, when the cache does not know it, from the
/// API (a release must not follow from a cache that lags behind a fresh object).
async fn holder_of(
    cx: &LeaseCtx,
    lease: &VirtualMachineIPAddressLease,
) -> Result<Option<Holder>, kube::Error> {
    let Some(r) = lease
        .spec
        .virtual_machine_ip_address_ref
        .as_ref()
        .filter(|r| !r.name.is_empty())
    else {
        return Ok(None);
    };
    let key = ObjectRef::new(&r.name).within(&r.namespace);
    let found = match cx.vmips.get(&key) {
        Some(v) => Some(v.as_ref().clone()),
        None => {
            let api: Api<VirtualMachineIPAddress> =
                Api::namespaced(cx.ctx.client.clone(), &r.namespace);
            api.get_opt(&r.name).await?
        }
    };
    // A terminating holder still holds: it waits for its VM to let the address go.
    Ok(found.map(|v| Holder {
        uid: v.uid().unwrap_or_default(),
        address: v.status.and_then(|s| s.address),
    }))
}

async fn reconcile(
    lease: Arc<VirtualMachineIPAddressLease>,
    cx: Arc<LeaseCtx>,
) -> Result<Action, Error> {
    let Some(ip) = lease_address(&lease.name_any()) else {
        return Ok(Action::await_change());
    };
    if lease.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let api: Api<VirtualMachineIPAddressLease> = Api::all(cx.ctx.client.clone());
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let holder = holder_of(&cx, &lease).await?;
    let (current, bound, next) = match verdict(
        &lease,
        &ip.to_string(),
        holder.as_ref(),
        now.clone(),
    ) {
        Verdict::Bound => (
            lease.as_ref().clone(),
            true,
            Action::requeue(Duration::from_secs(600)),
        ),
        Verdict::Release => {
            let mut released = lease.as_ref().clone();
            released.spec.virtual_machine_ip_address_ref = Some(released_ref(&lease));
            released.labels_mut().remove(VMIP_UID_LABEL);
            match api
                .replace(&lease.name_any(), &PostParams::default(), &released)
                .await
            {
                Ok(stored) => (stored, false, Action::requeue(super::lease::RETENTION)),
                // Changed meanwhile (taken back?): the change queues another look.
                Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => {
                    return Ok(Action::await_change());
                }
                Err(e) => return Err(e.into()),
            }
        }
        Verdict::Retain(left) => (lease.as_ref().clone(), false, Action::requeue(left)),
        Verdict::Delete => {
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    resource_version: lease.resource_version(),
                    uid: lease.uid(),
                }),
                ..Default::default()
            };
            match api.delete(&lease.name_any(), &params).await {
                Ok(_) => {
                    tracing::info!(lease = %lease_name(ip), "released address returned to the pool")
                }
                Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
            return Ok(Action::await_change());
        }
    };
    let desired = desired_status(&current, bound, now);
    match status::write(&api, &current, lease.status.as_ref(), &desired).await {
        Ok(_) | Err(status::StatusError::Conflict) => Ok(next),
        Err(status::StatusError::Api(kube::Error::Api(s))) if s.code == 404 => Ok(next),
        Err(e) => Err(e.into()),
    }
}

fn error_policy(
    lease: Arc<VirtualMachineIPAddressLease>,
    error: &Error,
    _: Arc<LeaseCtx>,
) -> Action {
    tracing::warn!(lease = %lease.name_any(), %error, "vmipl reconcile failed");
    Action::requeue(Duration::from_secs(3))
}

/// Run the lease controller. `vmips` is the reflected stream that fills `cx.vmips`.
pub(crate) async fn run(
    cx: Arc<LeaseCtx>,
    vmips: impl futures::Stream<Item = Result<VirtualMachineIPAddress, watcher::Error>> + Send + 'static,
) {
    let leases: Api<VirtualMachineIPAddressLease> = Api::all(cx.ctx.client.clone());
    let controller = Controller::new(leases, watcher::Config::default());
    let known = controller.store();
    controller
        // A vmip names its lease by status.address; one deleted before its status was written
        // is found through the uid label of the lease created for it.
        .watches_stream(vmips, move |vmip: VirtualMachineIPAddress| {
            let uid = vmip.uid().unwrap_or_default();
            let by_address = vmip
                .status
                .and_then(|s| s.address)
                .and_then(|a| a.parse().ok())
                .map(|ip| ObjectRef::new(&lease_name(ip)));
            let by_uid = known
                .state()
                .into_iter()
                .filter(|l| l.labels().get(VMIP_UID_LABEL) == Some(&uid))
                .map(|l| ObjectRef::from_obj(l.as_ref()));
            by_address.into_iter().chain(by_uid).collect::<Vec<_>>()
        })
        .run(reconcile, error_policy, cx)
        .for_each(|_| futures::future::ready(()))
        .await;
}
