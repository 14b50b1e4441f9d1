//! Reading what a VM depends on (I/O): its class, the data of its block devices, its
//! provisioning Secret, and the nodes with what other runs already use on them.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use dvp_api::conditions::vm::BlockDevicesReadyReason;
use dvp_api::kinds::VirtualDisk;
use dvp_api::kinds::instance::{
    DiskSource, InternalVirtualizationVirtualMachineInstance as Instance,
};
use dvp_api::kinds::virtual_disk::VirtualDiskPhase;
use dvp_api::kinds::virtual_machine::{BlockDeviceKind, ProvisioningType, VirtualMachine};
use k8s_openapi::api::core::v1::{Node, PersistentVolume, Secret};
use kube::ResourceExt;
use kube::api::{Api, ListParams};

use super::resolve::{ResolvedDisk, ResolvedProvisioning};
use crate::images::refs::{self, Location, Resolved};
use crate::images::source::{ObjectRefSpec, RefKind};
use crate::images::{Services, volumes};
use crate::scheduler::{NodeView, Used};

/// Secret type of cloud-init user data.
pub const CLOUD_INIT_SECRET_TYPE: &str = "provisioning.virtualization.deckhouse.io/cloud-init";
/// Secret type of sysprep files.
pub const SYSPREP_SECRET_TYPE: &str = "provisioning.virtualization.deckhouse.io/sysprep";

/// A block device that is not usable, with the `BlockDevicesReady` reason.
pub type DeviceProblem = (BlockDevicesReadyReason, String);

/// The node a PV is pinned to (a node-local volume), from its node affinity.
pub fn pv_node(pv: &PersistentVolume) -> Option<String> {
    let terms = &pv
        .spec
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required
        .as_ref()?
        .node_selector_terms;
    terms
        .iter()
        .flat_map(|t| t.match_expressions.iter().flatten())
        .find(|e| e.key == dvp_storage::names::HOSTNAME_LABEL && e.operator == "In")
        .and_then(|e| e.values.as_ref()?.first().cloned())
}

async fn disk(
    client: &kube::Client,
    ns: &str,
    name: &str,
) -> Result<Result<ResolvedDisk, DeviceProblem>, kube::Error> {
    let who = format!("VirtualDisk {name}");
    let Some(vd) = Api::<VirtualDisk>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await?
    else {
        return Ok(Err((
            BlockDevicesReadyReason::BlockDevicesNotReady,
            format!("{who} not found"),
        )));
    };
    let status = vd.status.clone().unwrap_or_default();
    match status.phase {
        Some(
            VirtualDiskPhase::Ready | VirtualDiskPhase::Resizing | VirtualDiskPhase::Migrating,
        ) => {}
        Some(VirtualDiskPhase::WaitForFirstConsumer) => {
            return Ok(Err((
                BlockDevicesReadyReason::WaitingForWaitForFirstConsumerBlockDevicesToBeReady,
                format!(
                    "{who} waits for its first consumer (WaitForFirstConsumer StorageClasses are not scheduled by VMs yet)"
                ),
            )));
        }
        other => {
            return Ok(Err((
                BlockDevicesReadyReason::BlockDevicesNotReady,
                format!(
                    "{who} is not ready (phase {})",
                    other.map(|p| p.as_str()).unwrap_or("Pending")
                ),
            )));
        }
    }
    let claim = status
        .target
        .as_ref()
        .and_then(|t| t.persistent_volume_claim_name.clone())
        .unwrap_or_default();
    let Some((pvc, state)) = volumes::observe(client, ns, &claim).await? else {
        return Ok(Err((
            BlockDevicesReadyReason::BlockDevicesNotReady,
            format!("{who}: its volume {claim} is missing"),
        )));
    };
    let Some(path) = state.path.clone() else {
        return Ok(Err((
            BlockDevicesReadyReason::BlockDevicesNotReady,
            format!("{who}: its volume {claim} is not bound"),
        )));
    };
    let node = match pvc.spec.as_ref().and_then(|s| s.volume_name.clone()) {
        Some(pv) => Api::<PersistentVolume>::all(client.clone())
            .get_opt(&pv)
            .await?
            .as_ref()
            .and_then(pv_node),
        None => None,
    };
    let size = state.requested.max(state.capacity);
    Ok(Ok(ResolvedDisk {
        kind: Some(DiskSource::VirtualDisk),
        name: name.into(),
        uid: vd.uid().unwrap_or_default(),
        path: path.display().to_string(),
        format: "qcow2".into(),
        cdrom: false,
        size_bytes: size,
        node,
    }))
}

async fn image(
    client: &kube::Client,
    services: &Arc<Services>,
    ns: &str,
    kind: BlockDeviceKind,
    name: &str,
) -> Result<Result<ResolvedDisk, DeviceProblem>, kube::Error> {
    let (ref_kind, namespace, source) = match kind {
        BlockDeviceKind::VirtualImage => (
            RefKind::VirtualImage,
            Some(ns.to_string()),
            DiskSource::VirtualImage,
        ),
        _ => (
            RefKind::ClusterVirtualImage,
            None,
            DiskSource::ClusterVirtualImage,
        ),
    };
    let r = ObjectRefSpec {
        kind: ref_kind,
        name: name.into(),
        namespace,
    };
    Ok(match refs::resolve(client, services, &r, &[]).await? {
        Resolved::Ready {
            uid,
            facts,
            location,
        } => {
            let cdrom = facts.as_ref().is_some_and(|f| f.cdrom());
            let path = match location {
                Location::Blob(p) | Location::Volume { path: p, .. } => p,
            };
            Ok(ResolvedDisk {
                kind: Some(source),
                name: name.into(),
                uid,
                path: path.display().to_string(),
                format: if cdrom { "raw".into() } else { "qcow2".into() },
                cdrom,
                size_bytes: facts.map(|f| f.unpacked_bytes),
                node: None,
            })
        }
        Resolved::NotFound { message }
        | Resolved::NotReady { message, .. }
        | Resolved::Unsupported { message } => {
            Err((BlockDevicesReadyReason::BlockDevicesNotReady, message))
        }
    })
}

/// The data of every block device of `vm`, or the first problem.
pub async fn block_devices(
    client: &kube::Client,
    services: &Arc<Services>,
    vm: &VirtualMachine,
) -> Result<Result<Vec<ResolvedDisk>, DeviceProblem>, kube::Error> {
    let ns = vm.namespace().unwrap_or_default();
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut reason = BlockDevicesReadyReason::WaitingForWaitForFirstConsumerBlockDevicesToBeReady;
    for r in &vm.spec.block_device_refs {
        let one = match r.kind {
            BlockDeviceKind::VirtualDisk => disk(client, &ns, &r.name).await?,
            kind => image(client, services, &ns, kind, &r.name).await?,
        };
        match one {
            Ok(d) => out.push(d),
            Err((why, m)) => {
                if why == BlockDevicesReadyReason::BlockDevicesNotReady {
                    reason = why;
                }
                problems.push(m);
            }
        }
    }
    if problems.is_empty() {
        Ok(Ok(out))
    } else {
        Ok(Err((reason, problems.join("; "))))
    }
}

fn secret_text(secret: &Secret, keys: &[&str]) -> Option<String> {
    let data = secret.data.as_ref();
    keys.iter().find_map(|k| {
        data.and_then(|d| d.get(*k))
            .map(|b| String::from_utf8_lossy(&b.0).into_owned())
            .or_else(|| secret.string_data.as_ref()?.get(*k).cloned())
    })
}

/// The provisioning data of `vm` (inline or from its Secret), or why it is not available.
pub async fn provisioning(
    client: &kube::Client,
    vm: &VirtualMachine,
) -> Result<Result<ResolvedProvisioning, String>, kube::Error> {
    let Some(p) = vm.spec.provisioning.as_ref() else {
        return Ok(Ok(ResolvedProvisioning::default()));
    };
    let ns = vm.namespace().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    match p.type_ {
        ProvisioningType::UserData => Ok(Ok(ResolvedProvisioning {
            user_data: Some(p.user_data.clone().unwrap_or_default()),
            sysprep: None,
        })),
        ProvisioningType::UserDataRef | ProvisioningType::SysprepRef => {
            let sysprep = p.type_ == ProvisioningType::SysprepRef;
            let Some(name) = (if sysprep {
                &p.sysprep_ref
            } else {
                &p.user_data_ref
            })
            .as_ref()
            .map(|r| r.name.clone()) else {
                return Ok(Err(format!(
                    "provisioning type {} names no Secret",
                    p.type_.as_str()
                )));
            };
            let Some(secret) = secrets.get_opt(&name).await? else {
                return Ok(Err(format!("Secret {name} not found")));
            };
            let expected = if sysprep {
                SYSPREP_SECRET_TYPE
            } else {
                CLOUD_INIT_SECRET_TYPE
            };
            if secret.type_.as_deref() != Some(expected) {
                return Ok(Err(format!(
                    "Secret {name} has an unexpected secret type {:?}: expected {expected}",
                    secret.type_.as_deref().unwrap_or("")
                )));
            }
            if sysprep {
                let mut files = BTreeMap::new();
                for key in ["autounattend.xml", "unattend.xml"] {
                    if let Some(b) = secret.data.as_ref().and_then(|d| d.get(key)) {
                        files.insert(
                            key.to_string(),
                            base64::engine::general_purpose::STANDARD.encode(&b.0),
                        );
                    }
                }
                if files.is_empty() {
                    return Ok(Err(format!(
                        "Secret {name} has neither autounattend.xml nor unattend.xml"
                    )));
                }
                return Ok(Ok(ResolvedProvisioning {
                    user_data: None,
                    sysprep: Some(files),
                }));
            }
            match secret_text(&secret, &["userData", "userdata"]) {
                Some(u) => Ok(Ok(ResolvedProvisioning {
                    user_data: Some(u),
                    sysprep: None,
                })),
                None => Ok(Err(format!("Secret {name} has no userData key"))),
            }
        }
    }
}

fn quantity(
    q: Option<&k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
) -> Option<dvp_apimachinery::quantity::Quantity> {
    dvp_apimachinery::quantity::Quantity::parse(&q?.0).ok()
}

/// A Node as the scheduler sees it.
pub fn node_view(node: &Node) -> NodeView {
    let status = node.status.as_ref();
    let alloc = status.and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref()));
    NodeView {
        name: node.name_any(),
        labels: node.labels().clone(),
        unschedulable: node
            .spec
            .as_ref()
            .and_then(|s| s.unschedulable)
            .unwrap_or(false),
        ready: status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True")),
        cpu_millis: quantity(alloc.and_then(|a| a.get("cpu")))
            .map(|q| u64::try_from(q.millis()).unwrap_or(0))
            .unwrap_or(0),
        memory_bytes: quantity(alloc.and_then(|a| a.get("memory")))
            .map(|q| u64::try_from(q.to_bytes_ceil()).unwrap_or(0))
            .unwrap_or(0),
    }
}

/// What each node's runs reserve, except the run of the VM `except_uid`.
pub fn usage(instances: &[Instance], except_uid: &str) -> BTreeMap<String, Used> {
    let mut out: BTreeMap<String, Used> = BTreeMap::new();
    for i in instances.iter().filter(|i| i.spec.vm_uid != except_uid) {
        let cores = i.spec.cpu.sockets * i.spec.cpu.cores_per_socket;
        let u = out.entry(i.spec.node_name.clone()).or_default();
        u.cpu_millis += crate::scheduler::cpu_request_millis(cores, i.spec.cpu.core_fraction);
        u.memory_bytes += crate::scheduler::memory_request_bytes(i.spec.memory_bytes, cores);
    }
    out
}

/// Every node and every run.
pub async fn cluster(client: &kube::Client) -> Result<(Vec<NodeView>, Vec<Instance>), kube::Error> {
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    let instances = Api::<Instance>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    Ok((nodes.items.iter().map(node_view).collect(), instances.items))
}

/// The claims of `vm`'s disks that wait for their first consumer (WaitForFirstConsumer).
pub async fn waiting_claims(
    client: &kube::Client,
    vm: &VirtualMachine,
) -> Result<Vec<String>, kube::Error> {
    let ns = vm.namespace().unwrap_or_default();
    let api = Api::<VirtualDisk>::namespaced(client.clone(), &ns);
    let mut out = Vec::new();
    for r in vm
        .spec
        .block_device_refs
        .iter()
        .filter(|r| r.kind == BlockDeviceKind::VirtualDisk)
    {
        let Some(vd) = api.get_opt(&r.name).await? else {
            continue;
        };
        let status = vd.status.unwrap_or_default();
        if status.phase == Some(VirtualDiskPhase::WaitForFirstConsumer)
            && let Some(claim) = status.target.and_then(|t| t.persistent_volume_claim_name)
        {
            out.push(claim);
        }
    }
    Ok(out)
}

/// Give WaitForFirstConsumer claims the node the VM is scheduled to, so their volumes are made
/// there.
pub async fn select_node_for_claims(
    client: &kube::Client,
    ns: &str,
    claims: &[String],
    node: &str,
) -> Result<(), kube::Error> {
    let api: Api<k8s_openapi::api::core::v1::PersistentVolumeClaim> =
        Api::namespaced(client.clone(), ns);
    let patch = serde_json::json!({"metadata": {"annotations": {dvp_storage::names::SELECTED_NODE_ANNOTATION: node}}});
    for c in claims {
        api.patch(
            c,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await?;
    }
    Ok(())
}
