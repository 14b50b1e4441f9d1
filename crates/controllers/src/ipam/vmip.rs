//! VirtualMachineIPAddress controller: claims the lease of the object's address and reports
//! Pending/Bound/Attached.
//!
//! The lease object's name is the lock: a lease is created only if absent, and a 409 on create
//! means someone else holds that address, so `Auto` moves on to the next one. Within this
//! process, addresses being claimed are reserved in memory first, so concurrent reconciles do
//! not even race for the same name.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dvp_api::kinds::common::NamespacedRef;
use dvp_api::kinds::virtual_machine_ip_address::{
    VirtualMachineIPAddressPhase as Phase, VirtualMachineIPAddressType,
};
use dvp_api::kinds::{VirtualMachine, VirtualMachineIPAddress, VirtualMachineIPAddressLease};
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use super::address::{Binding, desired_status};
use super::for_vm::{vm_uses, vmip_name_of};
use super::lease::{Claim, VMIP_UID_LABEL, claim};
use super::pool::{Pool, PoolError, lease_address, lease_name};
use crate::Context;
use crate::images::finalizer;
use crate::status;

/// Kept on an address while a VM uses it, so it is not deleted under a running guest.
pub const CLEANUP_FINALIZER: &str = "virtualization.deckhouse.io/vmip-cleanup";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// a request to the API failed
    #[error(transparent)]
    Api(#[from] kube::Error),
    /// the status could not be written
    #[error(transparent)]
    Status(#[from] status::StatusError),
}

/// How long an in-memory reservation outlives its lease creation: long enough for the lease
/// cache to have seen the lease.
const RESERVATION_TTL: Duration = Duration::from_secs(120);

/// Addresses this process is claiming or has just claimed, ahead of the lease cache.
#[derive(Default)]
struct Reservations {
    by_ip: HashMap<Ipv4Addr, Instant>,
    /// vmip uid → the address just leased to it.
    by_uid: HashMap<String, (Ipv4Addr, Instant)>,
}

impl Reservations {
    fn forget_old(&mut self, now: Instant) {
        self.by_ip
            .retain(|_, t| now.duration_since(*t) < RESERVATION_TTL);
        self.by_uid
            .retain(|_, (_, t)| now.duration_since(*t) < RESERVATION_TTL);
    }
}

pub(crate) struct VmipCtx {
    pub ctx: Arc<Context>,
    pub leases: Store<VirtualMachineIPAddressLease>,
    pub vms: Store<VirtualMachine>,
    reservations: Mutex<Reservations>,
}

impl VmipCtx {
    pub fn new(
        ctx: Arc<Context>,
        leases: Store<VirtualMachineIPAddressLease>,
        vms: Store<VirtualMachine>,
    ) -> VmipCtx {
        VmipCtx {
            ctx,
            leases,
            vms,
            reservations: Mutex::default(),
        }
    }

    fn lease_api(&self) -> Api<VirtualMachineIPAddressLease> {
        Api::all(self.ctx.client.clone())
    }
}

/// The object being bound: its identity and what the lease must say.
struct Holder<'a> {
    namespace: &'a str,
    name: &'a str,
    uid: &'a str,
}

impl Holder<'_> {
    fn lease(&self, ip: Ipv4Addr) -> VirtualMachineIPAddressLease {
        VirtualMachineIPAddressLease {
            api_version: VirtualMachineIPAddressLease::api_version(&()).into_owned(),
            kind: VirtualMachineIPAddressLease::kind(&()).into_owned(),
            metadata: ObjectMeta {
                name: Some(lease_name(ip)),
                labels: Some(BTreeMap::from([(
                    VMIP_UID_LABEL.to_string(),
                    self.uid.to_string(),
                )])),
                ..Default::default()
            },
            spec:
                dvp_api::kinds::virtual_machine_ip_address_lease::VirtualMachineIPAddressLeaseSpec {
                    virtual_machine_ip_address_ref: Some(self.reference()),
                },
            status: None,
        }
    }

    fn reference(&self) -> NamespacedRef {
        NamespacedRef {
            name: self.name.to_string(),
            namespace: self.namespace.to_string(),
        }
    }
}

/// Result of trying to hold the lease of one address.
enum Hold {
    Held,
    Refused(String),
    /// Someone created it between our look and our create; look again.
    Raced,
}

/// Make the lease of `ip` name `holder`: create it if absent, take it back if released by the
/// holder's namespace, relabel it if it is already ours.
async fn hold(cx: &VmipCtx, holder: &Holder<'_>, ip: Ipv4Addr) -> Result<Hold, kube::Error> {
    let api = cx.lease_api();
    let name = lease_name(ip);
    // Steady state: the cache already shows the lease as ours (a change to it queues a look).
    if let Some(cached) = cx.leases.get(&ObjectRef::new(&name))
        && claim(&cached, holder.namespace, holder.name) == Claim::Ours
        && cached.labels().get(VMIP_UID_LABEL).map(String::as_str) == Some(holder.uid)
    {
        return Ok(Hold::Held);
    }
    let Some(mut lease) = api.get_opt(&name).await? else {
        return match api.create(&PostParams::default(), &holder.lease(ip)).await {
            Ok(_) => Ok(Hold::Held),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(Hold::Raced),
            Err(e) => Err(e),
        };
    };
    let c = claim(&lease, holder.namespace, holder.name);
    if let Some(refusal) = c.refusal(&ip.to_string()) {
        return Ok(Hold::Refused(refusal));
    }
    let labelled = lease.labels().get(VMIP_UID_LABEL).map(String::as_str) == Some(holder.uid);
    if c == Claim::Ours && labelled {
        return Ok(Hold::Held);
    }
    lease
        .labels_mut()
        .insert(VMIP_UID_LABEL.to_string(), holder.uid.to_string());
    lease.spec.virtual_machine_ip_address_ref = Some(holder.reference());
    match api.replace(&name, &PostParams::default(), &lease).await {
        Ok(_) => Ok(Hold::Held),
        Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => Ok(Hold::Raced),
        Err(e) => Err(e),
    }
}

/// Hold the lease of a given address, looking again a few times when racing.
async fn hold_address(
    cx: &VmipCtx,
    holder: &Holder<'_>,
    ip: Ipv4Addr,
) -> Result<Result<(), String>, kube::Error> {
    for _ in 0..5 {
        match hold(cx, holder, ip).await? {
            Hold::Held => return Ok(Ok(())),
            Hold::Refused(why) => return Ok(Err(why)),
            Hold::Raced => continue,
        }
    }
    Ok(Err(format!(
        "the lease of {ip} keeps changing; trying again"
    )))
}

/// Lease the first free address of the pool to `holder`.
async fn allocate(
    cx: &VmipCtx,
    holder: &Holder<'_>,
    pool: &Pool,
) -> Result<Result<Ipv4Addr, PoolError>, kube::Error> {
    let api = cx.lease_api();
    loop {
        let cached: HashSet<Ipv4Addr> = cx
            .leases
            .state()
            .iter()
            .filter_map(|l| lease_address(&l.name_any()))
            .collect();
        let ip = {
            let mut r = cx.reservations.lock().expect("not poisoned");
            r.forget_old(Instant::now());
            let picked = pool.first_free(|ip| cached.contains(&ip) || r.by_ip.contains_key(&ip));
            match picked {
                Ok(ip) => {
                    r.by_ip.insert(ip, Instant::now());
                    ip
                }
                Err(e) => return Ok(Err(e)),
            }
        };
        match api.create(&PostParams::default(), &holder.lease(ip)).await {
            Ok(_) => {
                let mut r = cx.reservations.lock().expect("not poisoned");
                r.by_uid
                    .insert(holder.uid.to_string(), (ip, Instant::now()));
                return Ok(Ok(ip));
            }
            // Taken by someone the cache has not shown yet: the reservation keeps it skipped.
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => {
                cx.reservations
                    .lock()
                    .expect("not poisoned")
                    .by_ip
                    .remove(&ip);
                return Err(e);
            }
        }
    }
}

/// The address `vmip` already has a lease for, if any: from its status, the lease cache (by
/// uid label) or this process's fresh claims.
fn known_address(cx: &VmipCtx, vmip: &VirtualMachineIPAddress, uid: &str) -> Option<Ipv4Addr> {
    if let Some(a) = vmip
        .status
        .as_ref()
        .and_then(|s| s.address.as_deref())
        .and_then(|a| a.parse().ok())
    {
        return Some(a);
    }
    let cached = cx.leases.state().iter().find_map(|l| {
        (l.labels().get(VMIP_UID_LABEL).map(String::as_str) == Some(uid))
            .then(|| lease_address(&l.name_any()))
            .flatten()
    });
    cached.or_else(|| {
        cx.reservations
            .lock()
            .expect("not poisoned")
            .by_uid
            .get(uid)
            .map(|(ip, _)| *ip)
    })
}

/// Claim the address `vmip` asks for and say how it went.
async fn bind(
    cx: &VmipCtx,
    vmip: &VirtualMachineIPAddress,
    pool: Result<Pool, PoolError>,
) -> Result<Binding, kube::Error> {
    let namespace = vmip.namespace().unwrap_or_default();
    let name = vmip.name_any();
    let uid = vmip.uid().unwrap_or_default();
    let holder = Holder {
        namespace: &namespace,
        name: &name,
        uid: &uid,
    };
    let pool = match pool {
        Ok(p) => p,
        Err(e) => return Ok(Binding::OutOfRange(e.to_string())),
    };
    match vmip.spec.type_ {
        VirtualMachineIPAddressType::Static => {
            let requested = vmip.spec.static_ip.as_deref().unwrap_or_default();
            let ip = match pool.check(requested) {
                Ok(ip) => ip,
                Err(e) => return Ok(Binding::OutOfRange(e.to_string())),
            };
            Ok(match hold_address(cx, &holder, ip).await? {
                Ok(()) => Binding::Bound(ip.to_string()),
                Err(why) => Binding::Taken(why),
            })
        }
        VirtualMachineIPAddressType::Auto => {
            if let Some(ip) = known_address(cx, vmip, &uid) {
                return Ok(match hold_address(cx, &holder, ip).await? {
                    Ok(()) => Binding::Bound(ip.to_string()),
                    Err(why) => {
                        // Forget it, so the next look allocates afresh.
                        cx.reservations
                            .lock()
                            .expect("not poisoned")
                            .by_uid
                            .remove(&uid);
                        Binding::Lost(format!(
                            "the lease of {ip} was lost: {why}; a new address will be allocated"
                        ))
                    }
                });
            }
            Ok(match allocate(cx, &holder, &pool).await? {
                Ok(ip) => Binding::Bound(ip.to_string()),
                Err(e) => Binding::NotFound(e.to_string()),
            })
        }
    }
}

/// The VM of the namespace that uses `vmip`, if any.
/// The VM using `vmip`. A VM being deleted uses nothing any more (spec §5.2: the address becomes
/// deletable), else its foreground deletion, which deletes the address first, would wait forever
/// on the address's finalizer, which waits on the VM.
fn attached_vm(cx: &VmipCtx, vmip: &VirtualMachineIPAddress) -> Option<String> {
    let mut users: Vec<String> = cx
        .vms
        .state()
        .iter()
        .filter(|vm| vm.meta().deletion_timestamp.is_none())
        .filter(|vm| vm_uses(vm, vmip))
        .map(|vm| vm.name_any())
        .collect();
    users.sort();
    users.into_iter().next()
}

async fn reconcile(vmip: Arc<VirtualMachineIPAddress>, cx: Arc<VmipCtx>) -> Result<Action, Error> {
    let api: Api<VirtualMachineIPAddress> =
        Api::namespaced(cx.ctx.client.clone(), &vmip.namespace().unwrap_or_default());
    if vmip.meta().deletion_timestamp.is_some() {
        // Deletion waits while a VM uses the address; the VM's changes queue another look.
        let in_use = attached_vm(&cx, &vmip).is_some();
        finalizer::set(&api, vmip.as_ref(), CLEANUP_FINALIZER, in_use).await?;
        return Ok(Action::requeue(Duration::from_secs(10)));
    }
    // Allocation reads the lease cache: wait until it holds every existing lease.
    if cx.leases.wait_until_ready().await.is_err() {
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let settings = crate::images::storage_class::module_settings(&cx.ctx.client).await?;
    let cidrs = settings
        .map(|s| s.virtual_machine_cidrs)
        .unwrap_or_default();
    let binding = bind(&cx, &vmip, Pool::from_cidrs(&cidrs)).await?;
    let vm = attached_vm(&cx, &vmip);
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let desired = desired_status(&vmip, &binding, vm.as_deref(), now);
    let attached = desired.phase == Some(Phase::Attached);
    match status::write(&api, vmip.as_ref(), vmip.status.as_ref(), &desired).await {
        Ok(_) | Err(status::StatusError::Conflict) => {}
        Err(status::StatusError::Api(kube::Error::Api(s))) if s.code == 404 => {}
        Err(e) => return Err(e.into()),
    }
    // Written after the status, so it may meet a conflict: the status change queues a retry.
    finalizer::set(&api, vmip.as_ref(), CLEANUP_FINALIZER, attached).await?;
    Ok(match binding {
        Binding::Bound(_) => Action::requeue(Duration::from_secs(600)),
        // A refused or exhausted request may succeed once a lease goes away.
        _ => Action::requeue(Duration::from_secs(15)),
    })
}

fn error_policy(vmip: Arc<VirtualMachineIPAddress>, error: &Error, _: Arc<VmipCtx>) -> Action {
    tracing::warn!(vmip = %vmip.name_any(), %error, "vmip reconcile failed");
    Action::requeue(Duration::from_secs(3))
}

/// Run the VirtualMachineIPAddress controller. `leases` and `vms` are the reflected streams that
/// fill `cx.leases` and `cx.vms` (so the caches are current when a change triggers a reconcile).
pub(crate) async fn run(
    cx: Arc<VmipCtx>,
    leases: impl futures::Stream<Item = Result<VirtualMachineIPAddressLease, watcher::Error>>
    + Send
    + 'static,
    vms: impl futures::Stream<Item = Result<VirtualMachine, watcher::Error>> + Send + 'static,
) {
    let vmips: Api<VirtualMachineIPAddress> = Api::all(cx.ctx.client.clone());
    // A VM that switches to another address object must also release the one it used.
    let last_used: Mutex<HashMap<(String, String), String>> = Mutex::default();
    Controller::new(vmips, watcher::Config::default())
        .watches_stream(leases, |lease| {
            let r = lease.spec.virtual_machine_ip_address_ref?;
            (!r.name.is_empty()).then(|| ObjectRef::new(&r.name).within(&r.namespace))
        })
        .watches_stream(vms, move |vm: VirtualMachine| {
            let ns = vm.namespace().unwrap_or_default();
            let key = (ns.clone(), vm.name_any());
            let now = vmip_name_of(&vm).map(str::to_string);
            let mut seen = last_used.lock().expect("not poisoned");
            let before = match &now {
                Some(n) => seen.insert(key, n.clone()),
                None => seen.remove(&key),
            };
            let mut refs: Vec<ObjectRef<VirtualMachineIPAddress>> = Vec::new();
            for name in before.into_iter().chain(now) {
                refs.push(ObjectRef::new(&name).within(&ns));
            }
            refs
        })
        .run(reconcile, error_policy, cx)
        .for_each(|_| futures::future::ready(()))
        .await;
}
