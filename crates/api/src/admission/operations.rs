//! One-shot and snapshot kinds (vmop, vmsop, VirtualMachineSnapshot, VirtualDiskSnapshot) and
//! hot-plug attachments: immutable specs and the per-type rules of their fields.

use dvp_apimachinery::FieldError;
use serde_json::Value;

use super::fields::{array_at, bool_at, deleting, non_empty, present, same_spec, str_at};
use super::names::{is_qualified_name, is_valid_label_value};
use super::vm::devices::MAX_BLOCK_DEVICES;
use super::{Ctx, Need, Response, kind};

/// Longest name prefix, suffix or replacement of a clone.
pub const MAX_CLONE_NAME_PART: usize = 59;

fn immutable(ctx: &Ctx, obj: &Value, kind: &str, errs: &mut Vec<FieldError>) -> bool {
    match ctx.old {
        Some(old) if !same_spec(old, obj) => {
            errs.push(FieldError::forbidden(
                "spec",
                format!(".spec is immutable; create a new {kind} instead"),
            ));
            false
        }
        Some(_) => false,
        None => true,
    }
}

pub(crate) fn admit_vmop(ctx: &Ctx, obj: &mut Value, resp: &mut Response) {
    let obj = &*obj;
    let errs = &mut resp.errors;
    if !immutable(ctx, obj, "VirtualMachineOperation", errs) {
        return;
    }
    let type_ = str_at(obj, "/spec/type").unwrap_or_default();
    if type_ == "Start" && bool_at(obj, "/spec/force") == Some(true) {
        errs.push(FieldError::forbidden(
            "spec.force",
            "force cannot be used with type Start",
        ));
    }
    if present(obj, "/spec/migrate") && type_ != "Migrate" {
        errs.push(FieldError::forbidden(
            "spec.migrate",
            format!("migrate is only for type Migrate, not {type_}"),
        ));
    }
    if let Some(sel) = obj
        .pointer("/spec/migrate/nodeSelector")
        .and_then(Value::as_object)
    {
        for (k, v) in sel {
            if !is_qualified_name(k) {
                errs.push(FieldError::invalid(
                    "spec.migrate.nodeSelector",
                    k.as_str(),
                    "not a valid label key",
                ));
            }
            if !v.as_str().is_some_and(is_valid_label_value) {
                errs.push(FieldError::invalid(
                    format!("spec.migrate.nodeSelector[{k}]"),
                    v.clone(),
                    "not a valid label value",
                ));
            }
        }
    }
    for (block, owner) in [("restore", "Restore"), ("clone", "Clone")] {
        let has = present(obj, &format!("/spec/{block}"));
        if type_ == owner && !has {
            errs.push(FieldError::required(
                format!("spec.{block}"),
                format!("type {owner} needs the {block} block"),
            ));
        } else if type_ != owner && has {
            errs.push(FieldError::forbidden(
                format!("spec.{block}"),
                format!("{block} is only for type {owner}"),
            ));
        }
    }
    if let Some(clone) = obj.pointer("/spec/clone").filter(|c| !c.is_null()) {
        validate_naming(clone, "spec.clone", errs);
    }
}

/// Clone/create naming: at least one renaming rule, each part 1–59 characters.
fn validate_naming(block: &Value, base: &str, errs: &mut Vec<FieldError>) {
    let replacements = array_at(block, "/nameReplacement");
    let prefix = str_at(block, "/customization/namePrefix");
    let suffix = str_at(block, "/customization/nameSuffix");
    if replacements.is_empty() && prefix.is_none() && suffix.is_none() {
        errs.push(FieldError::required(
            base,
            "give the new resources new names: set nameReplacement, customization.namePrefix or customization.nameSuffix",
        ));
    }
    for (field, value) in [("namePrefix", prefix), ("nameSuffix", suffix)] {
        if let Some(v) = value
            && !(1..=MAX_CLONE_NAME_PART).contains(&v.chars().count())
        {
            errs.push(FieldError::invalid(
                format!("{base}.customization.{field}"),
                v,
                format!("must be 1 to {MAX_CLONE_NAME_PART} characters"),
            ));
        }
    }
    for (i, r) in replacements.iter().enumerate() {
        let to = str_at(r, "/to").unwrap_or_default();
        if !(1..=MAX_CLONE_NAME_PART).contains(&to.chars().count()) {
            errs.push(FieldError::invalid(
                format!("{base}.nameReplacement[{i}].to"),
                to,
                format!("must be 1 to {MAX_CLONE_NAME_PART} characters"),
            ));
        }
        if non_empty(r, "/from/name").is_none() {
            errs.push(FieldError::required(
                format!("{base}.nameReplacement[{i}].from.name"),
                "the current name to replace",
            ));
        }
    }
}

pub(crate) fn admit_vmsop(ctx: &Ctx, obj: &mut Value, resp: &mut Response) {
    let obj = &*obj;
    if !immutable(
        ctx,
        obj,
        "VirtualMachineSnapshotOperation",
        &mut resp.errors,
    ) {
        return;
    }
    // The schema never required createVirtualMachine (its rule tests a misspelt type), so it is
    // checked only when present.
    if let Some(block) = obj
        .pointer("/spec/createVirtualMachine")
        .filter(|c| !c.is_null())
    {
        validate_naming(block, "spec.createVirtualMachine", &mut resp.errors);
    }
}

pub(crate) fn admit_snapshot(ctx: &Ctx, obj: &mut Value, resp: &mut Response) {
    let kind = str_at(obj, "/kind").unwrap_or("snapshot").to_string();
    immutable(ctx, obj, &kind, &mut resp.errors);
}

pub(crate) fn vmbda_needs(ns: Option<&str>, obj: &Value) -> Vec<Need> {
    let ns = ns.map(str::to_string);
    let mut out = vec![Need::List {
        kind: kind::VMBDA,
        namespace: ns.clone(),
    }];
    if let Some(vm) = non_empty(obj, "/spec/virtualMachineName") {
        out.push(Need::Get {
            kind: kind::VIRTUAL_MACHINE,
            namespace: ns,
            name: vm.into(),
        });
    }
    out
}

pub(crate) fn admit_vmbda(ctx: &Ctx, obj: &mut Value, resp: &mut Response) {
    let obj = &*obj;
    let errs = &mut resp.errors;
    if !immutable(ctx, obj, "VirtualMachineBlockDeviceAttachment", errs) {
        return;
    }
    let dev_kind = str_at(obj, "/spec/blockDeviceRef/kind").unwrap_or_default();
    let dev_name = str_at(obj, "/spec/blockDeviceRef/name").unwrap_or_default();
    let vm_name = str_at(obj, "/spec/virtualMachineName").unwrap_or_default();
    let others: Vec<Value> = ctx
        .lookup
        .list(kind::VMBDA, ctx.namespace)
        .into_iter()
        .filter(|a| str_at(a, "/metadata/name") != Some(ctx.name) && !deleting(a))
        .collect();
    if let Some(other) = others.iter().find(|a| {
        str_at(a, "/spec/blockDeviceRef/kind") == Some(dev_kind)
            && str_at(a, "/spec/blockDeviceRef/name") == Some(dev_name)
    }) {
        errs.push(FieldError::invalid(
            "spec.blockDeviceRef",
            format!("{dev_kind}/{dev_name}"),
            format!(
                "already attached by VirtualMachineBlockDeviceAttachment {:?}; a device can be hot-plugged only once",
                str_at(other, "/metadata/name").unwrap_or_default()
            ),
        ));
    }
    let Some(vm) = ctx
        .lookup
        .get(kind::VIRTUAL_MACHINE, ctx.namespace, vm_name)
    else {
        return;
    };
    if str_at(&vm, "/spec/osType") == Some("Legacy")
        && bool_at(&vm, "/spec/enableParavirtualization") == Some(false)
    {
        errs.push(FieldError::forbidden(
            "spec.virtualMachineName",
            format!("VM {vm_name:?} has osType Legacy with paravirtualization off and cannot hot-plug devices"),
        ));
    }
    let in_spec = array_at(&vm, "/spec/blockDeviceRefs").len();
    let attached = others
        .iter()
        .filter(|a| str_at(a, "/spec/virtualMachineName") == Some(vm_name))
        .count();
    if in_spec + attached + 1 > MAX_BLOCK_DEVICES {
        errs.push(FieldError::forbidden(
            "spec.virtualMachineName",
            format!(
                "VM {vm_name:?} already has {} block devices ({in_spec} in spec, {attached} attached); the limit is {MAX_BLOCK_DEVICES}",
                in_spec + attached
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use serde_json::json;

    fn vmop(spec: Value) -> Value {
        json!({"kind": "VirtualMachineOperation", "metadata": {"name": "op", "namespace": "default"}, "spec": spec})
    }

    fn op(spec: Value) -> Outcome {
        create(kind::VMOP, Some("default"), vmop(spec), &Fake::default())
    }

    #[test]
    fn guide_restart_and_evict_are_accepted() {
        assert_ok(&op(
            json!({"virtualMachineName": "linux-vm", "type": "Restart"}),
        ));
        assert_ok(&op(
            json!({"virtualMachineName": "linux-vm", "type": "Evict"}),
        ));
    }

    #[test]
    fn vmop_spec_is_immutable() {
        let old = vmop(json!({"virtualMachineName": "linux-vm", "type": "Restart"}));
        let new = vmop(json!({"virtualMachineName": "linux-vm", "type": "Stop"}));
        assert_error(
            &update(kind::VMOP, Some("default"), new, &old, &Fake::default()),
            "spec",
            ".spec is immutable",
        );
    }

    #[test]
    fn vmop_metadata_may_change() {
        let old = vmop(json!({"virtualMachineName": "linux-vm", "type": "Restart"}));
        let mut new = old.clone();
        new["metadata"]["finalizers"] = json!(["virtualization.deckhouse.io/vmop-cleanup"]);
        assert_ok(&update(
            kind::VMOP,
            Some("default"),
            new,
            &old,
            &Fake::default(),
        ));
    }

    #[test]
    fn force_start_is_rejected() {
        assert_error(
            &op(json!({"virtualMachineName": "vm", "type": "Start", "force": true})),
            "spec.force",
            "Start",
        );
    }

    #[test]
    fn force_stop_is_accepted() {
        assert_ok(&op(
            json!({"virtualMachineName": "vm", "type": "Stop", "force": true}),
        ));
    }

    #[test]
    fn migrate_block_needs_type_migrate() {
        let r = op(
            json!({"virtualMachineName": "vm", "type": "Evict", "migrate": {"nodeSelector": {"kubernetes.io/hostname": "n1"}}}),
        );
        assert_error(&r, "spec.migrate", "only for type Migrate");
    }

    #[test]
    fn migrate_with_node_selector_is_accepted() {
        assert_ok(&op(
            json!({"virtualMachineName": "vm", "type": "Migrate", "migrate": {"nodeSelector": {"kubernetes.io/hostname": "n1"}}}),
        ));
    }

    #[test]
    fn restore_needs_the_restore_block() {
        assert_error(
            &op(json!({"virtualMachineName": "vm", "type": "Restore"})),
            "spec.restore",
            "needs the restore block",
        );
    }

    #[test]
    fn restore_with_block_is_accepted() {
        let spec = json!({"virtualMachineName": "vm", "type": "Restore", "restore": {"mode": "DryRun", "virtualMachineSnapshotName": "s"}});
        assert_ok(&op(spec));
    }

    #[test]
    fn clone_needs_the_clone_block() {
        assert_error(
            &op(json!({"virtualMachineName": "vm", "type": "Clone"})),
            "spec.clone",
            "needs the clone block",
        );
    }

    #[test]
    fn clone_needs_a_renaming_rule() {
        let r =
            op(json!({"virtualMachineName": "vm", "type": "Clone", "clone": {"mode": "Strict"}}));
        assert_error(
            &r,
            "spec.clone",
            "nameReplacement, customization.namePrefix or customization.nameSuffix",
        );
    }

    #[test]
    fn clone_with_prefix_is_accepted() {
        assert_ok(&op(
            json!({"virtualMachineName": "vm", "type": "Clone", "clone": {"mode": "Strict", "customization": {"namePrefix": "copy-"}}}),
        ));
    }

    #[test]
    fn clone_suffix_over_59_is_rejected() {
        let spec = json!({"virtualMachineName": "vm", "type": "Clone", "clone": {"mode": "Strict", "customization": {"nameSuffix": "x".repeat(60)}}});
        assert_error(&op(spec), "spec.clone.customization.nameSuffix", "1 to 59");
    }

    #[test]
    fn clone_replacement_target_over_59_is_rejected() {
        let spec = json!({"virtualMachineName": "vm", "type": "Clone", "clone": {"mode": "Strict",
            "nameReplacement": [{"from": {"kind": "VirtualMachine", "name": "vm"}, "to": "y".repeat(60)}]}});
        assert_error(&op(spec), "spec.clone.nameReplacement[0].to", "1 to 59");
    }

    #[test]
    fn clone_block_on_restart_is_rejected() {
        let spec = json!({"virtualMachineName": "vm", "type": "Restart", "clone": {"mode": "Strict", "customization": {"namePrefix": "a"}}});
        assert_error(&op(spec), "spec.clone", "only for type Clone");
    }

    fn vmsop(spec: Value) -> Value {
        json!({"kind": "VirtualMachineSnapshotOperation", "metadata": {"name": "s", "namespace": "default"}, "spec": spec})
    }

    #[test]
    fn vmsop_without_create_block_is_accepted() {
        let v =
            vmsop(json!({"type": "CreateVirtualMachine", "virtualMachineSnapshotName": "snap"}));
        assert_ok(&create(kind::VMSOP, Some("default"), v, &Fake::default()));
    }

    #[test]
    fn vmsop_create_block_needs_a_renaming_rule() {
        let v = vmsop(
            json!({"type": "CreateVirtualMachine", "virtualMachineSnapshotName": "snap", "createVirtualMachine": {"mode": "Strict"}}),
        );
        assert_error(
            &create(kind::VMSOP, Some("default"), v, &Fake::default()),
            "spec.createVirtualMachine",
            "nameReplacement",
        );
    }

    #[test]
    fn vmsop_spec_is_immutable() {
        let old = vmsop(json!({"type": "CreateVirtualMachine", "virtualMachineSnapshotName": "a"}));
        let new = vmsop(json!({"type": "CreateVirtualMachine", "virtualMachineSnapshotName": "b"}));
        assert_error(
            &update(kind::VMSOP, Some("default"), new, &old, &Fake::default()),
            "spec",
            "immutable",
        );
    }

    #[test]
    fn snapshot_specs_are_immutable() {
        for (k, a, b) in [
            (
                kind::VM_SNAPSHOT,
                json!({"virtualMachineName": "a"}),
                json!({"virtualMachineName": "b"}),
            ),
            (
                kind::VIRTUAL_DISK_SNAPSHOT,
                json!({"virtualDiskName": "a"}),
                json!({"virtualDiskName": "b"}),
            ),
        ] {
            let old =
                json!({"kind": k, "metadata": {"name": "s", "namespace": "default"}, "spec": a});
            let mut new = old.clone();
            new["spec"] = b;
            assert_error(
                &update(k, Some("default"), new, &old, &Fake::default()),
                "spec",
                ".spec is immutable",
            );
        }
    }

    #[test]
    fn snapshot_status_and_metadata_may_change() {
        let old = json!({"kind": "VirtualMachineSnapshot", "metadata": {"name": "s", "namespace": "default"}, "spec": {"virtualMachineName": "a"}});
        let mut new = old.clone();
        new["metadata"]["labels"] = json!({"x": "y"});
        assert_ok(&update(
            kind::VM_SNAPSHOT,
            Some("default"),
            new,
            &old,
            &Fake::default(),
        ));
    }

    fn vmbda(name: &str, disk: &str) -> Value {
        json!({"kind": "VirtualMachineBlockDeviceAttachment", "metadata": {"name": name, "namespace": "default"},
               "spec": {"virtualMachineName": "linux-vm", "blockDeviceRef": {"kind": "VirtualDisk", "name": disk}}})
    }

    fn vm(extra: Value) -> Value {
        let mut v = json!({"kind": "VirtualMachine", "metadata": {"name": "linux-vm", "namespace": "default"},
                           "spec": {"blockDeviceRefs": [{"kind": "VirtualDisk", "name": "root"}]}});
        if let (Some(spec), Some(extra)) = (v["spec"].as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        v
    }

    #[test]
    fn guide_attachment_is_accepted() {
        let fake = Fake::with(vec![vm(json!({}))]);
        assert_ok(&create(
            kind::VMBDA,
            Some("default"),
            vmbda("attach-blank-disk", "blank-disk"),
            &fake,
        ));
    }

    #[test]
    fn second_attachment_of_the_same_device_is_rejected() {
        let fake = Fake::with(vec![vm(json!({})), vmbda("first", "blank-disk")]);
        let r = create(
            kind::VMBDA,
            Some("default"),
            vmbda("second", "blank-disk"),
            &fake,
        );
        assert_error(
            &r,
            "spec.blockDeviceRef",
            "already attached by VirtualMachineBlockDeviceAttachment \"first\"",
        );
    }

    #[test]
    fn attachment_spec_is_immutable() {
        let old = vmbda("a", "d1");
        assert_error(
            &update(
                kind::VMBDA,
                Some("default"),
                vmbda("a", "d2"),
                &old,
                &Fake::default(),
            ),
            "spec",
            "immutable",
        );
    }

    #[test]
    fn attachment_to_legacy_vm_without_paravirtualization_is_rejected() {
        let fake = Fake::with(vec![vm(
            json!({"osType": "Legacy", "enableParavirtualization": false}),
        )]);
        let r = create(kind::VMBDA, Some("default"), vmbda("a", "d"), &fake);
        assert_error(&r, "spec.virtualMachineName", "cannot hot-plug");
    }

    #[test]
    fn seventeenth_device_is_rejected() {
        let mut objects = vec![vm(json!({}))];
        objects.extend((0..15).map(|i| vmbda(&format!("a{i}"), &format!("d{i}"))));
        let r = create(
            kind::VMBDA,
            Some("default"),
            vmbda("x", "extra"),
            &Fake::with(objects),
        );
        assert_error(&r, "spec.virtualMachineName", "the limit is 16");
    }
}
