//! MAC addresses of additional interfaces: VirtualMachineMACAddress (`vmmac`) objects lease
//! addresses as cluster-wide VirtualMachineMACAddressLease (`vmmacl`) objects named
//! `mac-aa-bb-cc-dd-ee-ff`. As with IP leases, the lease name is the lock (create-if-absent; a
//! 409 means taken). Unlike IP leases, a lease whose holder is gone is deleted at once.

pub mod generate;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use dvp_api::conditions::vmmac::{AttachedReason, BoundReason, Type};
use dvp_api::conditions::{ConditionStatus, new_condition, set_condition};
use dvp_api::kinds::common::NamespacedRef;
use dvp_api::kinds::virtual_machine_mac_address::{
    VirtualMachineMACAddressPhase as Phase, VirtualMachineMACAddressStatus,
};
use dvp_api::kinds::virtual_machine_mac_address_lease::{
    VirtualMachineMACAddressLeasePhase, VirtualMachineMACAddressLeaseSpec,
    VirtualMachineMACAddressLeaseStatus,
};
use dvp_api::kinds::{VirtualMachine, VirtualMachineMACAddress, VirtualMachineMACAddressLease};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};

use crate::Context;
use crate::status;
use generate::{lease_address, lease_name, normalize};

/// Label on a lease: the uid of the VirtualMachineMACAddress holding it.
pub const VMMAC_UID_LABEL: &str = "virtualization.deckhouse.io/virtual-machine-mac-address-uid";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// a request to the API failed
    #[error(transparent)]
    Api(#[from] kube::Error),
    /// the status could not be written
    #[error(transparent)]
    Status(#[from] status::StatusError),
}

/// Whether `vm` uses the MAC address object `vmmac` on one of its interfaces (or owns it).
pub fn vm_uses_mac(vm: &VirtualMachine, vmmac: &VirtualMachineMACAddress) -> bool {
    if vm.meta().namespace != vmmac.meta().namespace {
        return false;
    }
    let name = vmmac.meta().name.as_deref().unwrap_or_default();
    let named = vm
        .spec
        .networks
        .iter()
        .any(|n| n.virtual_machine_mac_address_name.as_deref() == Some(name));
    let owned = vm.meta().uid.as_ref().is_some_and(|uid| {
        vmmac
            .meta()
            .owner_references
            .iter()
            .flatten()
            .any(|o| &o.uid == uid && o.kind == "VirtualMachine")
    });
    named || owned
}

/// The status of `vmmac` given its leased address (if any, else why not) and its VM.
pub fn desired_status(
    vmmac: &VirtualMachineMACAddress,
    bound: Result<String, (BoundReason, String)>,
    vm: Option<&str>,
    now: Time,
) -> VirtualMachineMACAddressStatus {
    let mut status = vmmac.status.clone().unwrap_or_default();
    let generation = vmmac.metadata.generation;
    let (cond, reason, message, address) = match bound {
        Ok(a) => (
            ConditionStatus::True,
            BoundReason::Bound,
            String::new(),
            Some(a),
        ),
        Err((r, m)) => (ConditionStatus::False, r, m, None),
    };
    set_condition(
        &mut status.conditions,
        new_condition(
            &Type::Bound,
            cond,
            &reason,
            message,
            generation,
            now.clone(),
        ),
    );
    let vm = vm.filter(|_| address.is_some());
    let (cond, reason, message) = match vm {
        Some(n) => (
            ConditionStatus::True,
            AttachedReason::Attached,
            format!("used by VirtualMachine {n}"),
        ),
        None => (
            ConditionStatus::False,
            AttachedReason::VirtualMachineNotFound,
            "no VirtualMachine of the namespace uses this address".to_string(),
        ),
    };
    set_condition(
        &mut status.conditions,
        new_condition(&Type::Attached, cond, &reason, message, generation, now),
    );
    status.phase = Some(match (&address, vm) {
        (None, _) => Phase::Pending,
        (Some(_), None) => Phase::Bound,
        (Some(_), Some(_)) => Phase::Attached,
    });
    status.address = address;
    status.virtual_machine_name = vm.map(str::to_string);
    status.observed_generation = generation;
    status
}

struct MacCtx {
    ctx: Arc<Context>,
    vms: Store<VirtualMachine>,
    leases: Store<VirtualMachineMACAddressLease>,
    oui: [u8; 3],
}

fn new_lease(mac: &str, vmmac: &VirtualMachineMACAddress) -> VirtualMachineMACAddressLease {
    VirtualMachineMACAddressLease {
        api_version: VirtualMachineMACAddressLease::api_version(&()).into_owned(),
        kind: VirtualMachineMACAddressLease::kind(&()).into_owned(),
        metadata: ObjectMeta {
            name: Some(lease_name(mac)),
            labels: Some(BTreeMap::from([(
                VMMAC_UID_LABEL.to_string(),
                vmmac.uid().unwrap_or_default(),
            )])),
            ..Default::default()
        },
        spec: VirtualMachineMACAddressLeaseSpec {
            virtual_machine_mac_address_ref: Some(NamespacedRef {
                name: vmmac.name_any(),
                namespace: vmmac.namespace().unwrap_or_default(),
            }),
        },
        status: None,
    }
}

/// Hold the lease of `mac` for `vmmac`: Ok(true) held, Ok(false) someone else holds it.
async fn hold(
    api: &Api<VirtualMachineMACAddressLease>,
    vmmac: &VirtualMachineMACAddress,
    mac: &str,
) -> Result<Result<(), String>, kube::Error> {
    let name = lease_name(mac);
    let lease = match api
        .create(&PostParams::default(), &new_lease(mac, vmmac))
        .await
    {
        Ok(_) => return Ok(Ok(())),
        Err(kube::Error::Api(s)) if s.code == 409 => api.get_opt(&name).await?,
        Err(e) => return Err(e),
    };
    let Some(r) = lease.and_then(|l| l.spec.virtual_machine_mac_address_ref) else {
        return Ok(Err(format!("the lease of {mac} is changing; trying again")));
    };
    if r.name == vmmac.name_any() && Some(&r.namespace) == vmmac.namespace().as_ref() {
        Ok(Ok(()))
    } else {
        Ok(Err(format!(
            "{mac} is already leased by VirtualMachineMACAddress {}/{}; request another address",
            r.namespace, r.name
        )))
    }
}

async fn bind(
    cx: &MacCtx,
    vmmac: &VirtualMachineMACAddress,
) -> Result<Result<String, (BoundReason, String)>, kube::Error> {
    let api: Api<VirtualMachineMACAddressLease> = Api::all(cx.ctx.client.clone());
    let uid = vmmac.uid().unwrap_or_default();
    let known = vmmac
        .spec
        .address
        .as_deref()
        .or(vmmac.status.as_ref().and_then(|s| s.address.as_deref()))
        .map(normalize)
        .or_else(|| {
            cx.leases.state().iter().find_map(|l| {
                (l.labels().get(VMMAC_UID_LABEL) == Some(&uid))
                    .then(|| lease_address(&l.name_any()))
                    .flatten()
            })
        });
    if let Some(mac) = known {
        return Ok(match hold(&api, vmmac, &mac).await? {
            Ok(()) => Ok(mac),
            Err(why) if vmmac.spec.address.is_some() => {
                Err((BoundReason::VirtualMachineMacAddressLeaseAlreadyExists, why))
            }
            Err(why) => Err((BoundReason::VirtualMachineMacAddressLeaseLost, why)),
        });
    }
    // Random tails until one is free; 2^24 candidates make repeats rare.
    for _ in 0..64 {
        let mac = generate::address(cx.oui, rand::random::<u32>() & 0x00ff_ffff);
        if cx.leases.get(&ObjectRef::new(&lease_name(&mac))).is_some() {
            continue;
        }
        if let Ok(()) = hold(&api, vmmac, &mac).await? {
            return Ok(Ok(mac));
        }
    }
    Ok(Err((
        BoundReason::VirtualMachineMacAddressLeaseNotFound,
        "no free MAC address was found; trying again".to_string(),
    )))
}

async fn reconcile_vmmac(
    vmmac: Arc<VirtualMachineMACAddress>,
    cx: Arc<MacCtx>,
) -> Result<Action, Error> {
    if vmmac.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    if cx.leases.wait_until_ready().await.is_err() {
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let bound = bind(&cx, &vmmac).await?;
    let ok = bound.is_ok();
    let mut users: Vec<String> = cx
        .vms
        .state()
        .iter()
        .filter(|vm| vm_uses_mac(vm, &vmmac))
        .map(|vm| vm.name_any())
        .collect();
    users.sort();
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let desired = desired_status(&vmmac, bound, users.first().map(String::as_str), now);
    let api: Api<VirtualMachineMACAddress> = Api::namespaced(
        cx.ctx.client.clone(),
        &vmmac.namespace().unwrap_or_default(),
    );
    match status::write(&api, vmmac.as_ref(), vmmac.status.as_ref(), &desired).await {
        Ok(_) | Err(status::StatusError::Conflict) => {}
        Err(status::StatusError::Api(kube::Error::Api(s))) if s.code == 404 => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Action::requeue(Duration::from_secs(if ok {
        600
    } else {
        15
    })))
}

/// Bound while its holder exists and uses it; otherwise deleted at once (no retention).
async fn reconcile_lease(
    lease: Arc<VirtualMachineMACAddressLease>,
    cx: Arc<LeaseCtx>,
) -> Result<Action, Error> {
    let Some(mac) = lease_address(&lease.name_any()) else {
        return Ok(Action::await_change());
    };
    if lease.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let r = lease
        .spec
        .virtual_machine_mac_address_ref
        .clone()
        .unwrap_or_default();
    let holder = match cx.vmmacs.get(&ObjectRef::new(&r.name).within(&r.namespace)) {
        Some(v) => Some(v.as_ref().clone()),
        None if r.name.is_empty() => None,
        None => {
            Api::<VirtualMachineMACAddress>::namespaced(cx.ctx.client.clone(), &r.namespace)
                .get_opt(&r.name)
                .await?
        }
    };
    let held = holder.is_some_and(
        |h| match h.status.as_ref().and_then(|s| s.address.as_deref()) {
            Some(a) => normalize(a) == mac,
            None => lease.labels().get(VMMAC_UID_LABEL) == h.uid().as_ref(),
        },
    );
    let api: Api<VirtualMachineMACAddressLease> = Api::all(cx.ctx.client.clone());
    if !held {
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                resource_version: lease.resource_version(),
                uid: lease.uid(),
            }),
            ..Default::default()
        };
        return match api.delete(&lease.name_any(), &params).await {
            Ok(_) => Ok(Action::await_change()),
            Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => {
                Ok(Action::await_change())
            }
            Err(e) => Err(e.into()),
        };
    }
    let mut desired = lease.status.clone().unwrap_or_default();
    desired.phase = Some(VirtualMachineMACAddressLeasePhase::Bound);
    set_condition(
        &mut desired.conditions,
        new_condition(
            &dvp_api::conditions::vmmacl::Type::Bound,
            ConditionStatus::True,
            &dvp_api::conditions::vmmacl::BoundReason::Bound,
            "",
            lease.metadata.generation,
            Time(k8s_openapi::jiff::Timestamp::now()),
        ),
    );
    desired.observed_generation = lease.metadata.generation;
    let current: Option<&VirtualMachineMACAddressLeaseStatus> = lease.status.as_ref();
    match status::write(&api, lease.as_ref(), current, &desired).await {
        Ok(_) | Err(status::StatusError::Conflict) => Ok(Action::requeue(Duration::from_secs(600))),
        Err(status::StatusError::Api(kube::Error::Api(s))) if s.code == 404 => {
            Ok(Action::await_change())
        }
        Err(e) => Err(e.into()),
    }
}

struct LeaseCtx {
    ctx: Arc<Context>,
    vmmacs: Store<VirtualMachineMACAddress>,
}

fn error_policy<K: Resource<DynamicType = ()>, C>(obj: Arc<K>, error: &Error, _: Arc<C>) -> Action {
    tracing::warn!(name = %obj.meta().name.clone().unwrap_or_default(), %error, "MAC address reconcile failed");
    Action::requeue(Duration::from_secs(3))
}

/// The cluster's identity for the MAC prefix: the uid of namespace kube-system.
pub(crate) async fn cluster_uuid(client: &kube::Client) -> String {
    let api: Api<Namespace> = Api::all(client.clone());
    for _ in 0..30 {
        if let Ok(Some(ns)) = api.get_opt("kube-system").await {
            return ns.uid().unwrap_or_default();
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    String::new()
}

fn reflected<K>(
    client: &kube::Client,
) -> (
    Store<K>,
    impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static,
)
where
    K: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store::<K>();
    let stream = reflector::reflector(
        writer,
        watcher(Api::all(client.clone()), watcher::Config::default()),
    )
    .default_backoff()
    .touched_objects();
    (store, stream)
}

/// Start the vmmac and vmmacl controllers; returns when they stop.
pub async fn run(ctx: Arc<Context>) {
    let client = ctx.client.clone();
    let oui = generate::oui(&cluster_uuid(&client).await);
    let (lease_store, leases) = reflected::<VirtualMachineMACAddressLease>(&client);
    let (vm_store, vms) = reflected::<VirtualMachine>(&client);
    let (vmmac_store, vmmacs) = reflected::<VirtualMachineMACAddress>(&client);
    let mac_cx = Arc::new(MacCtx {
        ctx: ctx.clone(),
        vms: vm_store,
        leases: lease_store,
        oui,
    });
    let lease_cx = Arc::new(LeaseCtx {
        ctx,
        vmmacs: vmmac_store,
    });
    let vmmac_controller = Controller::new(
        Api::<VirtualMachineMACAddress>::all(client.clone()),
        watcher::Config::default(),
    )
    .watches_stream(leases, |l: VirtualMachineMACAddressLease| {
        let r = l.spec.virtual_machine_mac_address_ref?;
        (!r.name.is_empty()).then(|| ObjectRef::new(&r.name).within(&r.namespace))
    })
    .watches_stream(vms, |vm: VirtualMachine| {
        let ns = vm.namespace().unwrap_or_default();
        vm.spec
            .networks
            .iter()
            .filter_map(|n| n.virtual_machine_mac_address_name.as_deref())
            .map(|n| ObjectRef::new(n).within(&ns))
            .collect::<Vec<_>>()
    })
    .run(reconcile_vmmac, error_policy, mac_cx)
    .for_each(|_| futures::future::ready(()));
    let lease_controller = Controller::new(
        Api::<VirtualMachineMACAddressLease>::all(client),
        watcher::Config::default(),
    );
    let known = lease_controller.store();
    let lease_controller = lease_controller
        .watches_stream(vmmacs, move |v: VirtualMachineMACAddress| {
            let uid = v.uid().unwrap_or_default();
            let by_address = v
                .status
                .and_then(|s| s.address)
                .map(|a| ObjectRef::new(&lease_name(&a)));
            let by_uid = known
                .state()
                .into_iter()
                .filter(|l| l.labels().get(VMMAC_UID_LABEL) == Some(&uid))
                .map(|l| ObjectRef::from_obj(l.as_ref()));
            by_address.into_iter().chain(by_uid).collect::<Vec<_>>()
        })
        .run(reconcile_lease, error_policy, lease_cx)
        .for_each(|_| futures::future::ready(()));
    tokio::join!(vmmac_controller, lease_controller);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vmmac() -> VirtualMachineMACAddress {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "vm-01-5jqxg", "namespace": "pr-sdn", "generation": 1},
            "spec": {},
        }))
        .unwrap()
    }

    fn t() -> Time {
        Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn a_leased_mac_without_vm_is_bound() {
        let s = desired_status(&vmmac(), Ok("5e:e6:19:22:0f:d8".into()), None, t());
        assert_eq!(s.phase, Some(Phase::Bound));
        assert_eq!(s.address.as_deref(), Some("5e:e6:19:22:0f:d8"));
    }

    #[test]
    fn a_leased_mac_used_by_a_vm_is_attached() {
        let s = desired_status(&vmmac(), Ok("5e:e6:19:22:0f:d8".into()), Some("vm-01"), t());
        assert_eq!(s.phase, Some(Phase::Attached));
        assert_eq!(s.virtual_machine_name.as_deref(), Some("vm-01"));
    }

    #[test]
    fn a_taken_mac_stays_pending_with_the_reason() {
        let s = desired_status(
            &vmmac(),
            Err((
                BoundReason::VirtualMachineMacAddressLeaseAlreadyExists,
                "held".into(),
            )),
            Some("vm-01"),
            t(),
        );
        assert_eq!(s.phase, Some(Phase::Pending));
        assert_eq!(s.virtual_machine_name, None);
        assert_eq!(
            s.conditions[0].reason,
            "VirtualMachineMACAddressLeaseAlreadyExists"
        );
    }
}
