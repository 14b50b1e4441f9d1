//! The VM's interfaces: its address object on the main network (`vmip`), the MAC address
//! objects of its additional interfaces (`vmmac`), and what a run and the status get from them.
//!
//! [`load`] finds or creates the objects (the only I/O here); everything else is pure. A VM
//! starts only once its main address is bound and attached to it and every additional interface
//! has a leased MAC, so the node's DHCP server knows the guest's address before the guest asks.

use dvp_api::conditions::vm::{IpAddressReadyReason, MacAddressReadyReason};
use dvp_api::kinds::instance::{
    InstanceNetwork, InternalVirtualizationVirtualMachineInstance as Instance, VM_UID_LABEL,
};
use dvp_api::kinds::virtual_machine::{NetworkType, NetworksStatus};
use dvp_api::kinds::virtual_machine_mac_address::VirtualMachineMACAddressSpec;
use dvp_api::kinds::{VirtualMachine, VirtualMachineIPAddress, VirtualMachineMACAddress};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::{Resource, ResourceExt};

use crate::ipam;
use crate::ipam::pool::Pool;
use crate::macs::generate;

/// One interface of the VM, in spec order (Main first).
#[derive(Clone, Debug, PartialEq)]
pub struct Interface {
    pub id: i32,
    pub type_: NetworkType,
    /// Network name (None for Main).
    pub name: Option<String>,
    /// The MAC address, once known.
    pub mac: Option<String>,
    /// The `vmmac` holding the MAC (additional interfaces only).
    pub vmmac_name: Option<String>,
}

/// The main network's address as far as it is known.
#[derive(Clone, Debug, PartialEq)]
pub struct MainAddress {
    /// The `vmip` the VM uses, once it exists.
    pub vmip_name: Option<String>,
    /// The leased address.
    pub address: Option<String>,
    /// The `virtualMachineCIDRs` block of the address.
    pub cidr: Option<String>,
    /// Whether the address is bound and attached to this VM, else why not.
    pub ready: Result<(), (IpAddressReadyReason, String)>,
}

/// Everything the VM's network side contributes to a reconcile.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkState {
    /// None when the VM has no main network.
    pub main: Option<MainAddress>,
    pub interfaces: Vec<Interface>,
    /// Whether every additional interface has its MAC, else why not (Ok when there are none).
    pub macs: Result<(), (MacAddressReadyReason, String)>,
}

impl NetworkState {
    /// Whether the VM may start, else what it waits for.
    pub fn ready(&self) -> Result<(), String> {
        let mut why = Vec::new();
        if let Some(Err((_, m))) = self.main.as_ref().map(|m| &m.ready) {
            why.push(m.clone());
        }
        if let Err((_, m)) = &self.macs {
            why.push(m.clone());
        }
        if why.is_empty() {
            Ok(())
        } else {
            Err(why.join("; "))
        }
    }

    /// The interfaces of a run.
    pub fn instance_networks(&self) -> Vec<InstanceNetwork> {
        self.interfaces
            .iter()
            .map(|i| {
                let main = (i.type_ == NetworkType::Main)
                    .then_some(self.main.as_ref())
                    .flatten();
                InstanceNetwork {
                    type_: i.type_.as_str().to_string(),
                    name: i.name.clone().unwrap_or_default(),
                    mac_address: i.mac.clone().unwrap_or_default(),
                    ip_address: main.and_then(|m| m.address.clone()),
                    cidr: main.and_then(|m| m.cidr.clone()),
                }
            })
            .collect()
    }

    /// `status.networks`.
    pub fn status_networks(&self) -> Vec<NetworksStatus> {
        self.interfaces
            .iter()
            .map(|i| NetworksStatus {
                id: Some(i.id),
                type_: i.type_,
                name: i.name.clone(),
                mac_address: i.mac.clone(),
                virtual_machine_mac_address_name: i.vmmac_name.clone(),
                ip_address: (i.type_ == NetworkType::Main)
                    .then(|| self.main.as_ref().and_then(|m| m.address.clone()))
                    .flatten(),
            })
            .collect()
    }
}

/// The networks of the spec with their ids (`Main` only when the list is empty). Ids missing
/// from the spec are given as admission would: Main 1, the others from 2 in order.
pub fn wanted(vm: &VirtualMachine) -> Vec<(i32, NetworkType, Option<String>, Option<String>)> {
    if vm.spec.networks.is_empty() {
        return vec![(1, NetworkType::Main, None, None)];
    }
    let mut next = 2;
    vm.spec
        .networks
        .iter()
        .map(|n| {
            let id = n.id.unwrap_or_else(|| {
                if n.type_ == NetworkType::Main {
                    1
                } else {
                    next += 1;
                    next - 1
                }
            });
            (
                id,
                n.type_,
                n.name.clone(),
                n.virtual_machine_mac_address_name.clone(),
            )
        })
        .collect()
}

/// The main interface's MAC: the cluster's prefix and three bytes of the VM's uid, so it is
/// the same on every run (the node's DHCP server knows the guest by it).
pub fn main_mac(oui: [u8; 3], vm_uid: &str) -> String {
    // FNV-1a: stable across builds and platforms, unlike the std hasher.
    let mut hash: u32 = 0x811c_9dc5;
    for b in vm_uid.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    generate::address(oui, hash & 0x00ff_ffff)
}

/// Which `vmmac` each additional interface uses, given the names the spec gives, the names the
/// status recorded per (type, name), and the VM's own (automatic) `vmmac`s. Returns one entry per
/// additional interface (None: one must be created) and the automatic ones no interface uses.
pub fn assign_macs(
    extras: &[(NetworkType, Option<String>, Option<String>)],
    recorded: &[NetworksStatus],
    owned: &[String],
) -> (Vec<Option<String>>, Vec<String>) {
    let mut free: Vec<String> = owned.to_vec();
    let mut take = |name: &str| -> bool {
        if let Some(at) = free.iter().position(|n| n == name) {
            free.remove(at);
            true
        } else {
            false
        }
    };
    // Names from the spec, then names the status recorded for the same network.
    let mut chosen: Vec<Option<String>> = extras
        .iter()
        .map(|(type_, name, named)| {
            if let Some(n) = named {
                take(n);
                return Some(n.clone());
            }
            recorded
                .iter()
                .find(|r| r.type_ == *type_ && r.name == *name)
                .and_then(|r| r.virtual_machine_mac_address_name.clone())
                .filter(|n| take(n))
        })
        .collect();
    // Automatic objects no interface claimed yet (made by a reconcile whose status write was
    // lost) go to interfaces still without one.
    for slot in chosen.iter_mut().filter(|s| s.is_none()) {
        if !free.is_empty() {
            *slot = Some(free.remove(0));
        }
    }
    (chosen, free)
}

/// Whether the guest carries `address` on some interface, by the guest agent's report; None when
/// the agent reported no interfaces (not running, no agent).
pub fn guest_carries(instance: Option<&Instance>, address: &str) -> Option<bool> {
    let interfaces = &instance?.status.as_ref()?.agent.as_ref()?.interfaces;
    if interfaces.is_empty() {
        return None;
    }
    Some(
        interfaces
            .iter()
            .any(|i| i.ip_addresses.iter().any(|a| a == address)),
    )
}

fn main_ready(
    vm_name: &str,
    vmip_name: &str,
    vmip: &VirtualMachineIPAddress,
) -> Result<(), (IpAddressReadyReason, String)> {
    if ipam::is_ready_for(vmip, vm_name) {
        return Ok(());
    }
    let status = vmip.status.as_ref();
    if let Some(other) = status
        .and_then(|s| s.virtual_machine_name.as_deref())
        .filter(|n| *n != vm_name)
    {
        return Err((
            IpAddressReadyReason::VirtualMachineIpAddressNotAvailable,
            format!(
                "the VirtualMachineIPAddress {vmip_name} is used by the virtual machine {other}"
            ),
        ));
    }
    let why = status
        .into_iter()
        .flat_map(|s| s.conditions.iter())
        .find(|c| c.type_ == "Bound" && c.status == "False" && !c.message.is_empty())
        .map(|c| format!(": {}", c.message))
        .unwrap_or_default();
    Err((
        IpAddressReadyReason::VirtualMachineIpAddressNotReady,
        format!("waiting for the VirtualMachineIPAddress {vmip_name} to be bound{why}"),
    ))
}

fn owned_meta(vm: &VirtualMachine) -> ObjectMeta {
    let source = ipam::vmip_for_vm(vm);
    ObjectMeta {
        generate_name: source.metadata.generate_name,
        namespace: source.metadata.namespace,
        labels: source.metadata.labels,
        owner_references: source.metadata.owner_references,
        ..Default::default()
    }
}

/// Refusals of the API (admission, quota) end up in the condition message; other errors retry.
fn refused(e: &kube::Error) -> Option<String> {
    match e {
        kube::Error::Api(s) if matches!(s.code, 400 | 403 | 422) => Some(s.message.clone()),
        _ => None,
    }
}

/// Finds or creates the VM's address and MAC objects and reads them. `instance` is the current
/// run, whose MACs stay leased until it ends.
pub async fn load(
    client: &kube::Client,
    vm: &VirtualMachine,
    oui: [u8; 3],
    instance: Option<&Instance>,
) -> Result<NetworkState, kube::Error> {
    let ns = vm.namespace().unwrap_or_default();
    let vm_name = vm.name_any();
    let uid = vm.uid().unwrap_or_default();
    let wanted = wanted(vm);
    let vmips: Api<VirtualMachineIPAddress> = Api::namespaced(client.clone(), &ns);
    let selector = ListParams::default().labels(&format!("{VM_UID_LABEL}={uid}"));

    let main = if ipam::needs_address(vm) {
        Some(main_address(client, vm, &vmips, &selector).await?)
    } else {
        // A VM without a main network gets no address; drop the one it had.
        for v in vmips.list(&selector).await? {
            if v.meta().deletion_timestamp.is_none() {
                let _ = vmips.delete(&v.name_any(), &DeleteParams::default()).await;
            }
        }
        None
    };

    // Additional interfaces and their MAC objects.
    let vmmacs: Api<VirtualMachineMACAddress> = Api::namespaced(client.clone(), &ns);
    let owned: Vec<VirtualMachineMACAddress> = vmmacs
        .list(&selector)
        .await?
        .items
        .into_iter()
        .filter(|m| m.meta().deletion_timestamp.is_none())
        .collect();
    let owned_names: Vec<String> = owned.iter().map(|m| m.name_any()).collect();
    let extras: Vec<(NetworkType, Option<String>, Option<String>)> = wanted
        .iter()
        .filter(|w| w.1 != NetworkType::Main)
        .map(|w| (w.1, w.2.clone(), w.3.clone()))
        .collect();
    let recorded = vm
        .status
        .as_ref()
        .map(|s| s.networks.clone())
        .unwrap_or_default();
    let (mut chosen, unused) = assign_macs(&extras, &recorded, &owned_names);
    let mut macs_problem: Option<(MacAddressReadyReason, String)> = None;
    for slot in chosen.iter_mut().filter(|s| s.is_none()) {
        let object = VirtualMachineMACAddress {
            api_version: VirtualMachineMACAddress::api_version(&()).into_owned(),
            kind: VirtualMachineMACAddress::kind(&()).into_owned(),
            metadata: owned_meta(vm),
            spec: VirtualMachineMACAddressSpec { address: None },
            status: None,
        };
        match vmmacs.create(&PostParams::default(), &object).await {
            Ok(created) => *slot = Some(created.name_any()),
            Err(e) => match refused(&e) {
                Some(m) => {
                    macs_problem = Some((
                        MacAddressReadyReason::VirtualMachineMacAddressNotAvailable,
                        format!("cannot create a VirtualMachineMACAddress: {m}"),
                    ))
                }
                None => return Err(e),
            },
        }
    }
    // MAC objects of removed networks are released, unless the current run still uses them.
    let in_run: Vec<String> = instance
        .map(|i| {
            i.spec
                .networks
                .iter()
                .map(|n| generate::normalize(&n.mac_address))
                .collect()
        })
        .unwrap_or_default();
    for name in &unused {
        let address = owned
            .iter()
            .find(|m| &m.name_any() == name)
            .and_then(|m| m.status.as_ref())
            .and_then(|s| s.address.as_deref())
            .map(generate::normalize);
        if address.is_some_and(|a| in_run.contains(&a)) {
            continue;
        }
        let _ = vmmacs.delete(name, &DeleteParams::default()).await;
    }

    let mut interfaces = Vec::new();
    let mut extra_slots = chosen.into_iter();
    for (id, type_, name, _) in &wanted {
        if *type_ == NetworkType::Main {
            interfaces.push(Interface {
                id: *id,
                type_: *type_,
                name: None,
                mac: Some(main_mac(oui, &uid)),
                vmmac_name: None,
            });
            continue;
        }
        let vmmac_name = extra_slots.next().flatten();
        let vmmac = match &vmmac_name {
            Some(n) => match owned.iter().find(|m| &m.name_any() == n) {
                Some(m) => Some(m.clone()),
                None => vmmacs.get_opt(n).await?,
            },
            None => None,
        };
        let mac = vmmac
            .as_ref()
            .and_then(|m| m.status.as_ref())
            .filter(|s| {
                s.virtual_machine_name
                    .as_deref()
                    .is_none_or(|v| v == vm_name)
            })
            .and_then(|s| s.address.clone());
        if macs_problem.is_none() {
            macs_problem = match (&vmmac_name, &vmmac, &mac) {
                (Some(n), None, _) => Some((
                    MacAddressReadyReason::VirtualMachineMacAddressNotAvailable,
                    format!("the VirtualMachineMACAddress {n} does not exist"),
                )),
                (Some(n), Some(_), None) => Some((
                    MacAddressReadyReason::VirtualMachineMacAddressNotReady,
                    format!("waiting for the VirtualMachineMACAddress {n} to be bound"),
                )),
                _ => None,
            };
        }
        interfaces.push(Interface {
            id: *id,
            type_: *type_,
            name: name.clone(),
            mac,
            vmmac_name,
        });
    }
    Ok(NetworkState {
        main,
        interfaces,
        macs: macs_problem.map_or(Ok(()), Err),
    })
}

async fn main_address(
    client: &kube::Client,
    vm: &VirtualMachine,
    vmips: &Api<VirtualMachineIPAddress>,
    selector: &ListParams,
) -> Result<MainAddress, kube::Error> {
    let vm_name = vm.name_any();
    let vmip = match ipam::vmip_name_of(vm) {
        Some(name) => vmips.get_opt(name).await?,
        None => {
            let existing = vmips
                .list(selector)
                .await?
                .items
                .into_iter()
                .find(|v| v.meta().deletion_timestamp.is_none());
            match existing {
                Some(v) => Some(v),
                None => match vmips
                    .create(&PostParams::default(), &ipam::vmip_for_vm(vm))
                    .await
                {
                    Ok(v) => Some(v),
                    Err(e) => match refused(&e) {
                        Some(m) => {
                            return Ok(MainAddress {
                                vmip_name: None,
                                address: None,
                                cidr: None,
                                ready: Err((
                                    IpAddressReadyReason::VirtualMachineIpAddressNotAvailable,
                                    format!("cannot create a VirtualMachineIPAddress: {m}"),
                                )),
                            });
                        }
                        None => return Err(e),
                    },
                },
            }
        }
    };
    let Some(vmip) = vmip else {
        let name = ipam::vmip_name_of(vm).unwrap_or_default().to_string();
        return Ok(MainAddress {
            vmip_name: Some(name.clone()),
            address: None,
            cidr: None,
            ready: Err((
                IpAddressReadyReason::VirtualMachineIpAddressNotAvailable,
                format!("the VirtualMachineIPAddress {name} does not exist"),
            )),
        });
    };
    let name = vmip.name_any();
    let address = ipam::bound_address(&vmip).map(str::to_string);
    let cidr = match &address {
        Some(a) => crate::images::storage_class::module_settings(client)
            .await?
            .and_then(|s| Pool::from_cidrs(&s.virtual_machine_cidrs).ok())
            .and_then(|p| p.block_of(a)),
        None => None,
    };
    Ok(MainAddress {
        ready: main_ready(&vm_name, &name, &vmip),
        vmip_name: Some(name),
        address,
        cidr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vm(networks: serde_json::Value) -> VirtualMachine {
        serde_json::from_value(json!({
            "metadata": {"name": "vm", "namespace": "default", "uid": "u-1"},
            "spec": {
                "virtualMachineClassName": "generic",
                "cpu": {"cores": 1},
                "memory": {"size": "1Gi"},
                "blockDeviceRefs": [{"kind": "VirtualDisk", "name": "d"}],
                "networks": networks,
            },
        }))
        .unwrap()
    }

    fn recorded(type_: NetworkType, name: &str, vmmac: &str) -> NetworksStatus {
        NetworksStatus {
            id: None,
            type_,
            name: Some(name.into()),
            mac_address: None,
            virtual_machine_mac_address_name: Some(vmmac.into()),
            ip_address: None,
        }
    }

    #[test]
    fn no_networks_means_main_only() {
        let w = wanted(&vm(json!([])));
        assert_eq!(w, vec![(1, NetworkType::Main, None, None)]);
    }

    #[test]
    fn ids_follow_admission_when_missing() {
        let w = wanted(&vm(json!([
            {"type": "Main"},
            {"type": "Network", "name": "a"},
            {"type": "ClusterNetwork", "name": "b"},
        ])));
        let ids: Vec<i32> = w.iter().map(|x| x.0).collect();
        assert_eq!(ids, vec![1, 2, 3]);
    }

    #[test]
    fn the_main_mac_is_stable_and_carries_the_cluster_prefix() {
        let a = main_mac([0x12, 0xab, 0xcd], "uid-1");
        assert_eq!(a, main_mac([0x12, 0xab, 0xcd], "uid-1"));
        assert!(a.starts_with("12:ab:cd:"), "{a}");
        assert_ne!(a, main_mac([0x12, 0xab, 0xcd], "uid-2"));
    }

    #[test]
    fn a_named_vmmac_wins_and_a_recorded_one_is_kept() {
        let extras = vec![
            (NetworkType::Network, Some("a".into()), Some("mine".into())),
            (NetworkType::Network, Some("b".into()), None),
        ];
        let (chosen, unused) = assign_macs(
            &extras,
            &[recorded(NetworkType::Network, "b", "vm-x")],
            &["vm-x".into(), "vm-y".into()],
        );
        assert_eq!(chosen, vec![Some("mine".into()), Some("vm-x".into())]);
        assert_eq!(unused, vec!["vm-y".to_string()]);
    }

    #[test]
    fn an_unrecorded_automatic_vmmac_is_adopted_before_making_another() {
        let extras = vec![(NetworkType::Network, Some("a".into()), None)];
        let (chosen, unused) = assign_macs(&extras, &[], &["vm-lost".into()]);
        assert_eq!(chosen, vec![Some("vm-lost".into())]);
        assert!(unused.is_empty());
    }

    #[test]
    fn an_interface_without_any_vmmac_needs_one() {
        let extras = vec![(NetworkType::ClusterNetwork, Some("c".into()), None)];
        let (chosen, _) = assign_macs(&extras, &[], &[]);
        assert_eq!(chosen, vec![None]);
    }

    #[test]
    fn a_removed_network_frees_its_vmmac() {
        let (chosen, unused) = assign_macs(
            &[],
            &[recorded(NetworkType::Network, "gone", "vm-g")],
            &["vm-g".into()],
        );
        assert!(chosen.is_empty());
        assert_eq!(unused, vec!["vm-g".to_string()]);
    }

    fn state() -> NetworkState {
        NetworkState {
            main: Some(MainAddress {
                vmip_name: Some("vm-abc".into()),
                address: Some("10.66.10.3".into()),
                cidr: Some("10.66.10.0/24".into()),
                ready: Ok(()),
            }),
            interfaces: vec![
                Interface {
                    id: 1,
                    type_: NetworkType::Main,
                    name: None,
                    mac: Some("12:ab:cd:00:00:01".into()),
                    vmmac_name: None,
                },
                Interface {
                    id: 2,
                    type_: NetworkType::Network,
                    name: Some("lan".into()),
                    mac: Some("12:ab:cd:00:00:02".into()),
                    vmmac_name: Some("vm-m".into()),
                },
            ],
            macs: Ok(()),
        }
    }

    #[test]
    fn a_run_gets_main_with_its_address_then_the_others_in_order() {
        let nets = state().instance_networks();
        assert_eq!(nets.len(), 2);
        assert_eq!(nets[0].type_, "Main");
        assert_eq!(nets[0].ip_address.as_deref(), Some("10.66.10.3"));
        assert_eq!(nets[0].cidr.as_deref(), Some("10.66.10.0/24"));
        assert_eq!(nets[1].name, "lan");
        assert_eq!(nets[1].mac_address, "12:ab:cd:00:00:02");
        assert_eq!(nets[1].ip_address, None);
    }

    #[test]
    fn the_status_lists_every_interface_with_its_mac() {
        let st = state().status_networks();
        assert_eq!(st[0].ip_address.as_deref(), Some("10.66.10.3"));
        assert_eq!(
            st[1].virtual_machine_mac_address_name.as_deref(),
            Some("vm-m")
        );
        assert_eq!(st[1].id, Some(2));
    }

    #[test]
    fn an_unbound_address_holds_the_start_with_its_reason() {
        let mut s = state();
        s.main.as_mut().unwrap().ready = Err((
            IpAddressReadyReason::VirtualMachineIpAddressNotReady,
            "waiting".into(),
        ));
        assert_eq!(s.ready(), Err("waiting".into()));
    }
}
