//! VirtualMachine admission: defaulting (class, core fraction, network ids) then validation of
//! metadata, CPU and sizing, provisioning, networks, block devices, placement and OS type.
//!
//! A VM being deleted is exempt, and an update that leaves the spec untouched (labels,
//! finalizers, annotations written by controllers) only gets the metadata checks, so a VM that
//! drifted out of its sizing policy can still be labelled and cleaned up.

mod cpu;
mod defaulting;
pub(crate) mod devices;
mod networks;
mod placement;
mod provisioning;

use dvp_apimachinery::FieldError;
use serde_json::Value;

use super::fields::{array_at, bool_at, deleting, meta_map, non_empty, present, str_at};
use super::{Ctx, Need, Response, kind, module_settings};

/// Longest VM name accepted.
pub const MAX_NAME_LENGTH: usize = 63;

pub(crate) fn needs(ns: Option<&str>, name: &str, obj: &Value) -> Vec<Need> {
    let ns_owned = ns.map(str::to_string);
    let mut out = vec![Need::Get {
        kind: kind::MODULE_CONFIG,
        namespace: None,
        name: "virtualization".into(),
    }];
    match non_empty(obj, "/spec/virtualMachineClassName") {
        Some(class) => out.push(Need::Get {
            kind: kind::VIRTUAL_MACHINE_CLASS,
            namespace: None,
            name: class.into(),
        }),
        None => out.push(Need::List {
            kind: kind::VIRTUAL_MACHINE_CLASS,
            namespace: None,
        }),
    }
    if non_empty(obj, "/spec/virtualMachineIPAddressName").is_none() && !name.is_empty() {
        out.push(Need::Get {
            kind: kind::VMIP,
            namespace: ns_owned.clone(),
            name: name.into(),
        });
    }
    if let Some(first) = array_at(obj, "/spec/blockDeviceRefs").first()
        && let Some(dev) = str_at(first, "/name")
    {
        match str_at(first, "/kind") {
            Some(kind::VIRTUAL_IMAGE) => {
                out.push(Need::Get {
                    kind: kind::VIRTUAL_IMAGE,
                    namespace: ns_owned.clone(),
                    name: dev.into(),
                });
            }
            Some(kind::CLUSTER_VIRTUAL_IMAGE) => {
                out.push(Need::Get {
                    kind: kind::CLUSTER_VIRTUAL_IMAGE,
                    namespace: None,
                    name: dev.into(),
                });
            }
            _ => {}
        }
    }
    out.push(Need::List {
        kind: kind::VMBDA,
        namespace: ns_owned,
    });
    out
}

pub(crate) fn admit(ctx: &Ctx, obj: &mut Value, resp: &mut Response) {
    if deleting(obj) {
        return;
    }
    validate_metadata(ctx, obj, &mut resp.errors);
    if !ctx.changed(obj, "/spec") {
        return;
    }
    let settings = module_settings(ctx.lookup);
    let class = defaulting::apply(ctx, obj, resp);
    let obj = &*obj;
    cpu::validate(obj, class.as_ref(), settings.as_ref(), resp);
    provisioning::validate(obj, &mut resp.errors);
    networks::validate(ctx, obj, settings.as_ref(), &mut resp.errors);
    devices::validate(ctx, obj, resp);
    placement::validate(obj, &mut resp.errors);
    validate_os_type(obj, resp);
}

fn validate_metadata(ctx: &Ctx, obj: &Value, errs: &mut Vec<FieldError>) {
    if ctx.is_create() && ctx.name.chars().count() > MAX_NAME_LENGTH {
        errs.push(FieldError::invalid(
            "metadata.name",
            ctx.name,
            format!("a VirtualMachine name must be no more than {MAX_NAME_LENGTH} characters"),
        ));
    }
    for which in ["labels", "annotations"] {
        for (key, _) in meta_map(obj, which) {
            if key.contains("kubevirt.io") {
                errs.push(FieldError::invalid(
                    format!("metadata.{which}"),
                    key.as_str(),
                    "keys containing \"kubevirt.io\" are reserved for the platform; use another key",
                ));
            }
        }
    }
}

fn validate_os_type(obj: &Value, resp: &mut Response) {
    if str_at(obj, "/spec/osType") != Some("Legacy") {
        return;
    }
    if let Some(b) = str_at(obj, "/spec/bootloader").filter(|b| *b != "BIOS") {
        resp.errors.push(FieldError::invalid(
            "spec.bootloader",
            b,
            "osType Legacy boots with BIOS only; set bootloader: BIOS",
        ));
    }
    if present(obj, "/spec/provisioning") {
        resp.errors.push(FieldError::forbidden(
            "spec.provisioning",
            "osType Legacy does not support provisioning (cloud-init/sysprep); remove spec.provisioning",
        ));
    }
    let paravirt = bool_at(obj, "/spec/enableParavirtualization").unwrap_or(true);
    let devices = array_at(obj, "/spec/blockDeviceRefs").len();
    if !paravirt && devices > 4 {
        resp.errors
            .push(FieldError::too_many("spec.blockDeviceRefs", devices, 4));
    }
    if paravirt {
        resp.warnings.push(
            "osType Legacy with enableParavirtualization: true needs virtio drivers in the guest; most legacy systems \
             lack them"
                .to_string(),
        );
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    use serde_json::{Value, json};

    use super::super::{default_module_config, default_vmclass_generic};
    use crate::admission::testing::Fake;

    pub fn vm(spec: Value) -> Value {
        json!({"apiVersion": "virtualization.deckhouse.io/v1alpha2", "kind": "VirtualMachine",
               "metadata": {"name": "linux-vm", "namespace": "default"}, "spec": spec})
    }

    /// A small valid VM on the generic class.
    pub fn basic_spec() -> Value {
        json!({"virtualMachineClassName": "generic", "cpu": {"cores": 1}, "memory": {"size": "1Gi"},
               "blockDeviceRefs": [{"kind": "VirtualDisk", "name": "linux-disk"}]})
    }

    pub fn basic() -> Value {
        vm(basic_spec())
    }

    /// The module config and the generic class.
    pub fn cluster() -> Fake {
        Fake::with(vec![default_module_config(), default_vmclass_generic()])
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::fixtures::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn basic_vm_is_accepted() {
        assert_ok(&create(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            basic(),
            &cluster(),
        ));
    }

    #[test]
    fn name_longer_than_63_is_rejected() {
        let mut v = basic();
        let long = "a".repeat(64);
        v["metadata"]["name"] = json!(long);
        let r = create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster());
        assert_error(&r, "metadata.name", "no more than 63 characters");
    }

    #[test]
    fn name_of_63_is_accepted() {
        let mut v = basic();
        v["metadata"]["name"] = json!("a".repeat(63));
        assert_ok(&create(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            v,
            &cluster(),
        ));
    }

    #[test]
    fn kubevirt_label_keys_are_rejected() {
        let mut v = basic();
        v["metadata"]["labels"] = json!({"kubevirt.io/domain": "x"});
        assert_error(
            &create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster()),
            "metadata.labels",
            "kubevirt.io",
        );
    }

    #[test]
    fn kubevirt_annotation_keys_are_rejected_even_on_metadata_only_updates() {
        let old = basic();
        let mut v = basic();
        v["metadata"]["annotations"] = json!({"vm.kubevirt.io/flavor": "x"});
        assert_error(
            &update(kind::VIRTUAL_MACHINE, Some("default"), v, &old, &cluster()),
            "metadata.annotations",
            "kubevirt.io",
        );
    }

    #[test]
    fn dvp_label_keys_are_accepted() {
        let mut v = basic();
        v["metadata"]["labels"] =
            json!({"vmpool.virtualization.deckhouse.io/pool": "p", "app": "nginx"});
        assert_ok(&create(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            v,
            &cluster(),
        ));
    }

    #[test]
    fn deleting_vm_is_exempt() {
        let mut old = basic();
        old["spec"]["cpu"]["cores"] = json!(17);
        let mut v = old.clone();
        v["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        v["metadata"]["finalizers"] = json!([]);
        assert_ok(&update(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            v,
            &old,
            &cluster(),
        ));
    }

    #[test]
    fn metadata_only_update_of_a_non_compliant_vm_is_accepted() {
        let mut old = basic();
        old["spec"]["cpu"]["coreFraction"] = json!("30%");
        let mut v = old.clone();
        v["metadata"]["labels"] = json!({"app": "nginx"});
        assert_ok(&update(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            v,
            &old,
            &cluster(),
        ));
    }

    #[test]
    fn spec_edit_of_a_non_compliant_vm_is_rejected_until_compliant() {
        let mut old = basic();
        old["spec"]["cpu"]["coreFraction"] = json!("30%");
        let mut v = old.clone();
        v["spec"]["runPolicy"] = json!("Manual");
        assert_error(
            &update(
                kind::VIRTUAL_MACHINE,
                Some("default"),
                v.clone(),
                &old,
                &cluster(),
            ),
            "spec",
            "coreFraction 30%",
        );
        v["spec"]["cpu"]["coreFraction"] = json!("20%");
        assert_ok(&update(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            v,
            &old,
            &cluster(),
        ));
    }

    #[test]
    fn legacy_os_needs_bios() {
        let mut v = basic();
        v["spec"]["osType"] = json!("Legacy");
        v["spec"]["bootloader"] = json!("EFI");
        assert_error(
            &create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster()),
            "spec.bootloader",
            "BIOS only",
        );
    }

    #[test]
    fn legacy_os_forbids_provisioning() {
        let mut v = basic();
        v["spec"]["osType"] = json!("Legacy");
        v["spec"]["provisioning"] = json!({"type": "UserData", "userData": "#cloud-config"});
        assert_error(
            &create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster()),
            "spec.provisioning",
            "does not support",
        );
    }

    #[test]
    fn legacy_os_without_paravirtualization_allows_four_devices() {
        let mut v = basic();
        v["spec"]["osType"] = json!("Legacy");
        v["spec"]["enableParavirtualization"] = json!(false);
        let devs: Vec<Value> = (0..5)
            .map(|i| json!({"kind": "VirtualDisk", "name": format!("d{i}")}))
            .collect();
        v["spec"]["blockDeviceRefs"] = json!(devs[..4]);
        assert_ok(&create(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            v.clone(),
            &cluster(),
        ));
        v["spec"]["blockDeviceRefs"] = json!(devs);
        assert_error(
            &create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster()),
            "spec.blockDeviceRefs",
            "at most 4",
        );
    }

    #[test]
    fn legacy_os_with_paravirtualization_warns() {
        let mut v = basic();
        v["spec"]["osType"] = json!("Legacy");
        let r = create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster());
        assert_ok(&r);
        assert_warning(&r, "virtio drivers");
    }

    #[test]
    fn needs_ask_for_class_module_vmip_first_image_and_attachments() {
        let mut v = basic();
        v["spec"]["blockDeviceRefs"] = json!([{"kind": "VirtualImage", "name": "iso"}]);
        let n = needs(Some("default"), "linux-vm", &v);
        assert!(n.contains(&Need::Get {
            kind: kind::VIRTUAL_MACHINE_CLASS,
            namespace: None,
            name: "generic".into()
        }));
        assert!(n.contains(&Need::Get {
            kind: kind::VIRTUAL_IMAGE,
            namespace: Some("default".into()),
            name: "iso".into()
        }));
        assert!(n.contains(&Need::Get {
            kind: kind::VMIP,
            namespace: Some("default".into()),
            name: "linux-vm".into()
        }));
        assert!(n.contains(&Need::List {
            kind: kind::VMBDA,
            namespace: Some("default".into())
        }));
    }
}
