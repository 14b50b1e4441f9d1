//! IP address management of the main network: VirtualMachineIPAddress (`vmip`) objects lease
//! addresses of `virtualMachineCIDRs` through cluster-wide VirtualMachineIPAddressLease (`vmipl`)
//! objects named `ip-a-b-c-d`.
//!
//! * [`pool`]: the pool and the sequential allocation rule (pure).
//! * [`lease`]: who may claim a lease, and Bound/Released/retention of leases (pure).
//! * [`address`]: the status of a vmip (pure).
//! * [`for_vm`]: what the VM controller needs (the automatic vmip of a VM, reading its address).
//! * `vmip`, `vmipl`: the two controllers.

pub mod address;
pub mod for_vm;
pub mod lease;
pub mod pool;
mod vmip;
mod vmipl;

pub use for_vm::{
    VM_UID_LABEL, bound_address, is_ready_for, needs_address, vm_uses, vmip_for_vm, vmip_name_of,
    vmip_selector,
};

use std::sync::Arc;

use dvp_api::kinds::{VirtualMachine, VirtualMachineIPAddress, VirtualMachineIPAddressLease};
use kube::api::Api;
use kube::runtime::reflector;
use kube::runtime::{WatchStreamExt, watcher};

use crate::Context;

/// Start the vmip and vmipl controllers; returns when they stop.
pub async fn run(ctx: Arc<Context>) {
    let client = ctx.client.clone();
    let (lease_store, leases) = reflected::<VirtualMachineIPAddressLease>(&client);
    let (vm_store, vms) = reflected::<VirtualMachine>(&client);
    let (vmip_store, vmips) = reflected::<VirtualMachineIPAddress>(&client);
    let vmip_cx = Arc::new(vmip::VmipCtx::new(ctx.clone(), lease_store, vm_store));
    let lease_cx = Arc::new(vmipl::LeaseCtx {
        ctx,
        vmips: vmip_store,
    });
    tokio::join!(vmip::run(vmip_cx, leases, vms), vmipl::run(lease_cx, vmips));
}

/// A cache of every `K` and the stream of changed objects that keeps it current: a controller
/// consuming the stream sees each change only after the cache has it.
fn reflected<K>(
    client: &kube::Client,
) -> (
    reflector::Store<K>,
    impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static,
)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store::<K>();
    let api: Api<K> = Api::all(client.clone());
    let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()))
        .default_backoff()
        .touched_objects();
    (store, stream)
}
