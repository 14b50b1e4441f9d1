//! Block devices: duplicates, boot order, the first (boot) device, and the 16-device limit
//! counting hot-plugged attachments.

use dvp_apimachinery::FieldError;
use serde_json::Value;

use super::super::fields::{array_at, bool_at, deleting, int_at, phase, str_at};
use super::super::{Ctx, Response, kind};

/// Most block devices a VM can have, static and hot-plugged together.
pub const MAX_BLOCK_DEVICES: usize = 16;

fn device_id(d: &Value) -> (&str, &str) {
    (
        str_at(d, "/kind").unwrap_or_default(),
        str_at(d, "/name").unwrap_or_default(),
    )
}

pub(super) fn validate(ctx: &Ctx, obj: &Value, resp: &mut Response) {
    let devices = array_at(obj, "/spec/blockDeviceRefs");
    let errs = &mut resp.errors;
    let mut seen: Vec<(&str, &str)> = Vec::new();
    let mut orders: Vec<i64> = Vec::new();
    for (i, d) in devices.iter().enumerate() {
        let id = device_id(d);
        if seen.contains(&id) {
            errs.push(FieldError::duplicate(
                format!("spec.blockDeviceRefs[{i}]"),
                format!("{}/{}", id.0, id.1),
            ));
        }
        seen.push(id);
        if let Some(order) = int_at(d, "/bootOrder") {
            if orders.contains(&order) {
                errs.push(FieldError::duplicate(
                    format!("spec.blockDeviceRefs[{i}].bootOrder"),
                    order,
                ));
            }
            orders.push(order);
        }
    }
    if !ctx.changed(obj, "/spec/blockDeviceRefs") {
        return;
    }
    if let Some(first) = devices.first() {
        validate_first_device(ctx, first, errs);
    }
    let attached = attachments_of(ctx, &seen);
    if devices.len() + attached > MAX_BLOCK_DEVICES {
        errs.push(FieldError::new(
            dvp_apimachinery::FieldErrorType::TooMany,
            "spec.blockDeviceRefs",
            None,
            format!(
                "{} devices in spec plus {attached} attached by VirtualMachineBlockDeviceAttachments exceed the limit of \
                 {MAX_BLOCK_DEVICES}; remove some",
                devices.len()
            ),
        ));
    }
    if ctx.old.is_some() && bool_at(obj, "/spec/enableParavirtualization") == Some(false) {
        resp.warnings.push(
            "blockDeviceRefs changed on a VM with enableParavirtualization: false; the change applies after a restart"
                .to_string(),
        );
    }
}

/// A Ready image that is not a CD-ROM would boot read-only: it must not be the first device.
fn validate_first_device(ctx: &Ctx, first: &Value, errs: &mut Vec<FieldError>) {
    let (kind_, name) = device_id(first);
    let image = match kind_ {
        kind::VIRTUAL_IMAGE => ctx.lookup.get(kind::VIRTUAL_IMAGE, ctx.namespace, name),
        kind::CLUSTER_VIRTUAL_IMAGE => ctx.lookup.get(kind::CLUSTER_VIRTUAL_IMAGE, None, name),
        _ => None,
    };
    let Some(image) = image else { return };
    if phase(&image) == Some("Ready") && bool_at(&image, "/status/cdrom") != Some(true) {
        errs.push(FieldError::invalid(
            "spec.blockDeviceRefs[0]",
            format!("{kind_}/{name}"),
            "a ready disk image cannot be the first (boot) device because images attach read-only; create a \
             VirtualDisk from it and list the disk first, or use an ISO (CD-ROM) image",
        ));
    }
}

/// Devices hot-plugged into this VM that are not also listed in its spec.
fn attachments_of(ctx: &Ctx, in_spec: &[(&str, &str)]) -> usize {
    ctx.lookup
        .list(kind::VMBDA, ctx.namespace)
        .iter()
        .filter(|a| str_at(a, "/spec/virtualMachineName") == Some(ctx.name) && !deleting(a))
        .filter(|a| {
            let dev = (
                str_at(a, "/spec/blockDeviceRef/kind").unwrap_or_default(),
                str_at(a, "/spec/blockDeviceRef/name").unwrap_or_default(),
            );
            !in_spec.contains(&dev)
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::*;
    use super::super::fixtures::*;
    use crate::admission::kind;
    use serde_json::{Value, json};

    fn with_devices(d: Value) -> Value {
        let mut v = basic();
        v["spec"]["blockDeviceRefs"] = d;
        v
    }

    fn image(kind: &str, name: &str, phase: &str, cdrom: bool) -> Value {
        json!({"kind": kind, "metadata": {"name": name, "namespace": "default"}, "status": {"phase": phase, "cdrom": cdrom}})
    }

    #[test]
    fn duplicate_devices_are_rejected() {
        let v = with_devices(
            json!([{"kind": "VirtualDisk", "name": "a"}, {"kind": "VirtualDisk", "name": "a"}]),
        );
        assert_error(
            &create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster()),
            "spec.blockDeviceRefs[1]",
            "Duplicate value: \"VirtualDisk/a\"",
        );
    }

    #[test]
    fn same_name_of_different_kinds_is_accepted() {
        let v = with_devices(
            json!([{"kind": "VirtualDisk", "name": "a"}, {"kind": "VirtualImage", "name": "a"}]),
        );
        assert_ok(&create(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            v,
            &cluster(),
        ));
    }

    #[test]
    fn duplicate_boot_order_is_rejected() {
        let v = with_devices(
            json!([{"kind": "VirtualDisk", "name": "a", "bootOrder": 1}, {"kind": "VirtualDisk", "name": "b", "bootOrder": 1}]),
        );
        assert_error(
            &create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster()),
            "spec.blockDeviceRefs[1].bootOrder",
            "Duplicate",
        );
    }

    #[test]
    fn ready_disk_image_first_is_rejected() {
        let mut fake = cluster();
        fake.objects
            .push(image("VirtualImage", "ubuntu", "Ready", false));
        let v = with_devices(
            json!([{"kind": "VirtualImage", "name": "ubuntu"}, {"kind": "VirtualDisk", "name": "d"}]),
        );
        assert_error(
            &create(kind::VIRTUAL_MACHINE, Some("default"), v, &fake),
            "spec.blockDeviceRefs[0]",
            "cannot be the first",
        );
    }

    #[test]
    fn ready_cluster_disk_image_first_is_rejected() {
        let mut fake = cluster();
        let mut cvi = image("ClusterVirtualImage", "ubuntu", "Ready", false);
        cvi["metadata"].as_object_mut().unwrap().remove("namespace");
        fake.objects.push(cvi);
        let v = with_devices(json!([{"kind": "ClusterVirtualImage", "name": "ubuntu"}]));
        assert_error(
            &create(kind::VIRTUAL_MACHINE, Some("default"), v, &fake),
            "spec.blockDeviceRefs[0]",
            "cannot be the first",
        );
    }

    #[test]
    fn iso_image_first_is_accepted() {
        let mut fake = cluster();
        fake.objects
            .push(image("VirtualImage", "ubuntu-iso", "Ready", true));
        let v = with_devices(
            json!([{"kind": "VirtualImage", "name": "ubuntu-iso"}, {"kind": "VirtualDisk", "name": "d"}]),
        );
        assert_ok(&create(kind::VIRTUAL_MACHINE, Some("default"), v, &fake));
    }

    #[test]
    fn image_not_yet_ready_first_is_accepted() {
        let mut fake = cluster();
        fake.objects
            .push(image("VirtualImage", "ubuntu", "Provisioning", false));
        let v = with_devices(json!([{"kind": "VirtualImage", "name": "ubuntu"}]));
        assert_ok(&create(kind::VIRTUAL_MACHINE, Some("default"), v, &fake));
    }

    fn attachment(i: usize) -> Value {
        json!({"kind": "VirtualMachineBlockDeviceAttachment", "metadata": {"name": format!("a{i}"), "namespace": "default"},
               "spec": {"virtualMachineName": "linux-vm", "blockDeviceRef": {"kind": "VirtualDisk", "name": format!("hp{i}")}}})
    }

    #[test]
    fn spec_devices_plus_attachments_over_16_are_rejected() {
        let mut fake = cluster();
        fake.objects.extend((0..15).map(attachment));
        let v = with_devices(
            json!([{"kind": "VirtualDisk", "name": "a"}, {"kind": "VirtualDisk", "name": "b"}]),
        );
        assert_error(
            &create(kind::VIRTUAL_MACHINE, Some("default"), v, &fake),
            "spec.blockDeviceRefs",
            "exceed the limit of 16",
        );
    }

    #[test]
    fn spec_devices_plus_attachments_up_to_16_are_accepted() {
        let mut fake = cluster();
        fake.objects.extend((0..15).map(attachment));
        assert_ok(&create(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            basic(),
            &fake,
        ));
    }

    #[test]
    fn device_change_without_paravirtualization_warns() {
        let mut old = basic();
        old["spec"]["enableParavirtualization"] = json!(false);
        let mut v = old.clone();
        v["spec"]["blockDeviceRefs"] = json!([{"kind": "VirtualDisk", "name": "other"}]);
        let r = update(kind::VIRTUAL_MACHINE, Some("default"), v, &old, &cluster());
        assert_ok(&r);
        assert_warning(&r, "applies after a restart");
    }
}
