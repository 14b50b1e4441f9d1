//! Who uses a disk or an image (pure): what keeps it from being deleted, exported or copied.
//!
//! One rule says what VMs mean for disks and images, [`vm_holds_its_disks`]: a VM holds its
//! devices while it has a run on a node, and a held disk or image cannot be exported, copied
//! into an image or deleted.

use dvp_api::kinds::virtual_disk::VirtualDiskPhase;
use dvp_api::kinds::virtual_image::VirtualImagePhase;
use dvp_api::kinds::virtual_machine::{BlockDeviceKind, VirtualMachinePhase};
use dvp_api::kinds::{ClusterVirtualImage, VirtualDisk, VirtualImage, VirtualMachine};
use std::sync::Arc;

use kube::{Resource as _, ResourceExt};

/// Whether `vm` keeps the disks and images it references in use: while it has a run (its
/// status names a node) or is in a phase that has one (starting, running, stopping, migrating,
/// paused).
pub fn vm_holds_its_disks(vm: &VirtualMachine) -> bool {
    let Some(status) = vm.status.as_ref() else {
        return false;
    };
    status.node_name.is_some()
        || matches!(
            status.phase,
            Some(
                VirtualMachinePhase::Starting
                    | VirtualMachinePhase::Running
                    | VirtualMachinePhase::Degraded
                    | VirtualMachinePhase::Stopping
                    | VirtualMachinePhase::Migrating
                    | VirtualMachinePhase::Pause
            )
        )
}

fn references(vm: &VirtualMachine, kind: BlockDeviceKind, name: &str) -> bool {
    vm.spec
        .block_device_refs
        .iter()
        .any(|r| r.kind == kind && r.name == name)
}

/// VMs of `namespace` that hold the disk `name` (`<vm name>`).
pub fn vms_holding_disk(vms: &[Arc<VirtualMachine>], namespace: &str, name: &str) -> Vec<String> {
    let mut out: Vec<String> = vms
        .iter()
        .filter(|vm| vm.namespace().as_deref() == Some(namespace))
        .filter(|vm| references(vm, BlockDeviceKind::VirtualDisk, name))
        .filter(|vm| vm_holds_its_disks(vm))
        .map(|vm| vm.name_any())
        .collect();
    out.sort();
    out
}

/// VMs that hold an image: a VirtualImage of `namespace`, or a ClusterVirtualImage when
/// `namespace` is None (`<ns>/<vm name>`).
pub fn vms_holding_image(
    vms: &[Arc<VirtualMachine>],
    namespace: Option<&str>,
    name: &str,
) -> Vec<String> {
    let kind = if namespace.is_some() {
        BlockDeviceKind::VirtualImage
    } else {
        BlockDeviceKind::ClusterVirtualImage
    };
    let mut out: Vec<String> = vms
        .iter()
        .filter(|vm| namespace.is_none() || vm.namespace().as_deref() == namespace)
        .filter(|vm| references(vm, kind, name))
        .filter(|vm| vm_holds_its_disks(vm))
        .map(|vm| format!("{}/{}", vm.namespace().unwrap_or_default(), vm.name_any()))
        .collect();
    out.sort();
    out
}

fn disk_refers_to_image(vd: &VirtualDisk, kind: &str, name: &str) -> bool {
    vd.spec
        .data_source
        .as_ref()
        .and_then(|d| d.object_ref.as_ref())
        .is_some_and(|r| r.kind.as_str() == kind && r.name == name)
}

fn disk_settled(vd: &VirtualDisk) -> bool {
    matches!(
        vd.status.as_ref().and_then(|s| s.phase.as_ref()),
        Some(
            VirtualDiskPhase::Ready
                | VirtualDiskPhase::Failed
                | VirtualDiskPhase::Resizing
                | VirtualDiskPhase::Exporting
                | VirtualDiskPhase::PvcLost
                | VirtualDiskPhase::Migrating
        )
    )
}

/// What keeps an image from being deleted: disks still being made from it and, for an image
/// kept on a volume of the StorageClass `volume_class`, every disk of that class made from it
/// (its volume is an overlay on the image's).
pub fn image_deletion_blockers(
    disks: &[Arc<VirtualDisk>],
    namespace: Option<&str>,
    name: &str,
    image_uid: &str,
    volume_class: Option<&str>,
) -> Vec<String> {
    let kind = if namespace.is_some() {
        "VirtualImage"
    } else {
        "ClusterVirtualImage"
    };
    let mut out = Vec::new();
    for vd in disks {
        if vd.meta().deletion_timestamp.is_some() {
            continue;
        }
        if namespace.is_some() && vd.namespace().as_deref() != namespace {
            continue;
        }
        let who = format!(
            "VirtualDisk {}/{}",
            vd.namespace().unwrap_or_default(),
            vd.name_any()
        );
        let made_from_it = vd
            .status
            .as_ref()
            .and_then(|s| s.source_uid.as_deref())
            .is_some_and(|u| u == image_uid);
        if disk_refers_to_image(vd, kind, name) && !disk_settled(vd) {
            out.push(format!("{who} is being created from it"));
        } else if made_from_it
            && volume_class.is_some()
            && vd
                .status
                .as_ref()
                .and_then(|s| s.storage_class_name.as_deref())
                == volume_class
        {
            out.push(format!("{who} is an overlay on its volume"));
        }
    }
    out.sort();
    out
}

/// Images being created from the disk `namespace/name` right now.
pub fn images_reading_disk(
    images: &[Arc<VirtualImage>],
    cluster_images: &[Arc<ClusterVirtualImage>],
    namespace: &str,
    name: &str,
) -> Vec<String> {
    let busy = |phase: Option<&VirtualImagePhase>| {
        !matches!(
            phase,
            Some(VirtualImagePhase::Ready | VirtualImagePhase::Failed)
        )
    };
    let mut out = Vec::new();
    for vi in images {
        let refers = vi
            .spec
            .data_source
            .object_ref
            .as_ref()
            .is_some_and(|r| r.kind.as_str() == "VirtualDisk" && r.name == name);
        if refers
            && vi.namespace().as_deref() == Some(namespace)
            && vi.meta().deletion_timestamp.is_none()
            && busy(vi.status.as_ref().and_then(|s| s.phase.as_ref()))
        {
            out.push(format!("VirtualImage {namespace}/{}", vi.name_any()));
        }
    }
    for cvi in cluster_images {
        let refers = cvi.spec.data_source.object_ref.as_ref().is_some_and(|r| {
            r.kind.as_str() == "VirtualDisk"
                && r.name == name
                && r.namespace.as_deref() == Some(namespace)
        });
        if refers
            && cvi.meta().deletion_timestamp.is_none()
            && busy(cvi.status.as_ref().and_then(|s| s.phase.as_ref()))
        {
            out.push(format!("ClusterVirtualImage {}", cvi.name_any()));
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vm(name: &str, phase: &str, disk: &str) -> VirtualMachine {
        let mut status = json!({"phase": phase});
        if phase == "Running" {
            status["nodeName"] = json!("n1");
        }
        serde_json::from_value(json!({
            "apiVersion": "virtualization.deckhouse.io/v1alpha2", "kind": "VirtualMachine",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"virtualMachineClassName": "generic",
                     "cpu": {"cores": 1}, "memory": {"size": "1Gi"},
                     "blockDeviceRefs": [{"kind": "VirtualDisk", "name": disk}, {"kind": "VirtualImage", "name": "img"}]},
            "status": status
        }))
        .unwrap()
    }

    fn vd(name: &str, image: &str, phase: Option<&str>, source_uid: Option<&str>) -> VirtualDisk {
        let mut status = json!({});
        if let Some(p) = phase {
            status["phase"] = json!(p);
        }
        if let Some(u) = source_uid {
            status["sourceUID"] = json!(u);
        }
        serde_json::from_value(json!({
            "apiVersion": "virtualization.deckhouse.io/v1alpha2", "kind": "VirtualDisk",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"dataSource": {"type": "ObjectRef", "objectRef": {"kind": "VirtualImage", "name": image}}},
            "status": status
        }))
        .unwrap()
    }

    #[test]
    fn a_stopped_or_pending_vm_does_not_hold_its_disks() {
        let vms = [
            Arc::new(vm("a", "Stopped", "root")),
            Arc::new(vm("b", "Running", "root")),
            Arc::new(vm("c", "Pending", "root")),
        ];
        assert_eq!(vms_holding_disk(&vms, "ns", "root"), vec!["b".to_string()]);
        assert!(vms_holding_disk(&vms, "other", "root").is_empty());
    }

    #[test]
    fn a_running_vm_holds_the_deletion_of_its_image_a_stopped_one_does_not() {
        let vms = [
            Arc::new(vm("a", "Running", "root")),
            Arc::new(vm("b", "Stopped", "root")),
        ];
        assert_eq!(
            vms_holding_image(&vms, Some("ns"), "img"),
            vec!["ns/a".to_string()]
        );
        assert!(!vm_holds_its_disks(&vms[1]));
    }

    #[test]
    fn vms_holding_an_image_are_named_with_their_namespace() {
        let vms = [Arc::new(vm("a", "Running", "root"))];
        assert_eq!(
            vms_holding_image(&vms, Some("ns"), "img"),
            vec!["ns/a".to_string()]
        );
        assert!(vms_holding_image(&vms, None, "img").is_empty());
    }

    #[test]
    fn a_disk_still_provisioning_from_an_image_blocks_its_deletion() {
        let disks = [
            Arc::new(vd("d1", "img", Some("Provisioning"), None)),
            Arc::new(vd("d2", "img", Some("Ready"), Some("img-uid"))),
            Arc::new(vd("d3", "other", None, None)),
        ];
        let b = image_deletion_blockers(&disks, Some("ns"), "img", "img-uid", None);
        assert_eq!(
            b,
            vec!["VirtualDisk ns/d1 is being created from it".to_string()]
        );
    }

    #[test]
    fn disks_on_the_volume_of_a_pvc_image_block_its_deletion_copies_do_not() {
        let mut overlay = vd("d2", "img", Some("Ready"), Some("img-uid"));
        overlay.status.as_mut().unwrap().storage_class_name = Some("shared".into());
        let mut copy = vd("d3", "img", Some("Ready"), Some("img-uid"));
        copy.status.as_mut().unwrap().storage_class_name = Some("local".into());
        let disks = [Arc::new(overlay), Arc::new(copy)];
        let b = image_deletion_blockers(&disks, Some("ns"), "img", "img-uid", Some("shared"));
        assert_eq!(
            b,
            vec!["VirtualDisk ns/d2 is an overlay on its volume".to_string()]
        );
    }
}
