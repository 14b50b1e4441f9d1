//! Deletion: the guide's delete commands, garbage collection through owner references (background,
//! orphan, foreground), namespace deletion, and the VirtualMachineClass in-use guard.

mod common;

use std::time::Duration;

use common::*;

/// A VMIP owned by the VM `owner` (as the controller's automatic VMIP is).
fn owned_vmip(p: &Platform, name: &str, owner: &str) {
    let uid = p.jsonpath("vm", owner, "{.metadata.uid}");
    let m = format!(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualMachineIPAddress\nmetadata:\n  name: {name}\n  ownerReferences:\n  - apiVersion: virtualization.deckhouse.io/v1alpha2\n    kind: VirtualMachine\n    name: {owner}\n    uid: {uid}\n    controller: true\n    blockOwnerDeletion: true\nspec:\n  type: Auto\n"
    );
    p.apply(&m).expect_ok();
}

#[test]
fn guide_delete_commands_remove_vm_disk_and_image() {
    let p = Platform::start();
    p.apply_quick_start();
    for (res, name, full) in [
        (
            "vm",
            "linux-vm",
            "virtualmachine.virtualization.deckhouse.io",
        ),
        (
            "vd",
            "linux-disk",
            "virtualdisk.virtualization.deckhouse.io",
        ),
        ("vi", "ubuntu", "virtualimage.virtualization.deckhouse.io"),
    ] {
        let r = p.kubectl(&["delete", res, name]).expect_ok();
        assert_eq!(r.stdout, format!("{full} \"{name}\" deleted\n"));
        let gone = p.kubectl(&["get", res, name]).expect_err();
        let plural = full.replacen('.', "s.", 1);
        assert_eq!(
            gone.stderr.trim(),
            format!("Error from server (NotFound): {plural} \"{name}\" not found")
        );
    }
}

#[test]
fn delete_of_a_missing_object_is_not_found_unless_ignored() {
    let p = Platform::start();
    let r = p.kubectl(&["delete", "vm", "nope"]).expect_err();
    assert_eq!(
        r.stderr.trim(),
        "Error from server (NotFound): virtualmachines.virtualization.deckhouse.io \"nope\" not found"
    );
    let r = p
        .kubectl(&["delete", "vm", "nope", "--ignore-not-found"])
        .expect_ok();
    assert_eq!(r.stdout, "");
}

#[test]
fn delete_by_label_selector_removes_only_matching_objects() {
    let p = Platform::start();
    for (name, app) in [("a", "web"), ("b", "web"), ("c", "db")] {
        let m = quick_start_vm_named(name).replacen(
            "metadata:\n",
            &format!("metadata:\n  labels:\n    app: {app}\n"),
            1,
        );
        p.apply(&m).expect_ok();
    }
    let r = p.kubectl(&["delete", "vm", "-l", "app=web"]).expect_ok();
    assert_eq!(r.stdout.lines().count(), 2, "{}", r.stdout);
    assert_eq!(
        p.kubectl(&["get", "vm", "-o", "name"]).expect_ok().stdout,
        "virtualmachine.virtualization.deckhouse.io/c\n"
    );
}

#[test]
fn background_deletion_removes_dependents() {
    let p = Platform::start();
    p.apply_quick_start();
    owned_vmip(&p, "linux-vm-ip", "linux-vm");
    p.kubectl(&["delete", "vm", "linux-vm"]).expect_ok();
    assert!(
        eventually(30, || !p.exists("vmip", "linux-vm-ip", None)),
        "the garbage collector must delete a VMIP whose owner VM was deleted"
    );
}

#[test]
fn orphan_deletion_keeps_dependents_and_strips_the_owner_reference() {
    let p = Platform::start();
    p.apply_quick_start();
    owned_vmip(&p, "linux-vm-ip", "linux-vm");
    let r = p
        .kubectl(&["delete", "vm", "linux-vm", "--cascade=orphan"])
        .expect_ok();
    assert_eq!(
        r.stdout,
        "virtualmachine.virtualization.deckhouse.io \"linux-vm\" deleted\n"
    );
    assert!(eventually(30, || !p.exists("vm", "linux-vm", None)));
    std::thread::sleep(Duration::from_millis(1000));
    assert!(
        p.exists("vmip", "linux-vm-ip", None),
        "an orphaned dependent must survive"
    );
    assert_eq!(
        p.jsonpath("vmip", "linux-vm-ip", "{.metadata.ownerReferences}"),
        "",
        "the ownerReference must be removed"
    );
}

#[test]
fn foreground_deletion_deletes_dependents_first() {
    let p = Platform::start();
    p.apply_quick_start();
    owned_vmip(&p, "linux-vm-ip", "linux-vm");
    // Hold the dependent so that the order can be observed.
    p.kubectl(&[
        "patch",
        "vmip",
        "linux-vm-ip",
        "--type",
        "merge",
        "-p",
        r#"{"metadata":{"finalizers":["e2e.test/hold"]}}"#,
    ])
    .expect_ok();
    let mut del = p.kubectl_bg(&["delete", "vm", "linux-vm", "--cascade=foreground"]);
    assert!(
        eventually(30, || {
            !p.jsonpath("vmip", "linux-vm-ip", "{.metadata.deletionTimestamp}")
                .is_empty()
        }),
        "the dependent must be deleted first"
    );
    let owner = p.get_json(&["vm", "linux-vm"]);
    assert!(
        owner["metadata"]["deletionTimestamp"].is_string(),
        "{owner}"
    );
    assert_eq!(
        owner["metadata"]["finalizers"],
        serde_json::json!(["foregroundDeletion"]),
        "the owner waits with the foregroundDeletion finalizer"
    );
    assert_eq!(
        del.exited(),
        None,
        "kubectl delete waits for the owner: {}",
        del.stderr()
    );
    p.kubectl(&[
        "patch",
        "vmip",
        "linux-vm-ip",
        "--type",
        "merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ])
    .expect_ok();
    assert_eq!(del.wait_exit(30), Some(0), "{}", del.stderr());
    assert!(!p.exists("vmip", "linux-vm-ip", None));
    assert!(!p.exists("vm", "linux-vm", None));
}

#[test]
fn deleting_a_namespace_removes_the_objects_in_it() {
    let p = Platform::start();
    p.apply("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: proj\n")
        .expect_ok();
    for line in [
        guide_lines::QUICKSTART_VI,
        guide_lines::QUICKSTART_VD,
        guide_lines::QUICKSTART_VM,
    ] {
        p.kubectl_stdin(&["apply", "-n", "proj", "-f", "-"], &guide_manifest(line))
            .expect_ok();
    }
    p.apply(&quick_start_vm_named("survivor")).expect_ok();
    let r = p.kubectl(&["delete", "ns", "proj"]).expect_ok();
    assert_eq!(r.stdout, "namespace \"proj\" deleted\n");
    assert!(
        eventually(60, || !p.exists("ns", "proj", None)),
        "namespace not removed"
    );
    let left = p
        .kubectl(&["get", "vi,vd,vm", "-A", "-o", "name"])
        .expect_ok()
        .stdout;
    assert_eq!(
        left, "virtualmachine.virtualization.deckhouse.io/survivor\n",
        "objects of the deleted namespace remain"
    );
}

#[test]
fn creating_in_a_missing_namespace_is_not_found() {
    let p = Platform::start();
    let r = p
        .kubectl_stdin(
            &["apply", "-n", "nowhere", "-f", "-"],
            &guide_manifest(guide_lines::QUICKSTART_VM),
        )
        .expect_err();
    assert!(
        r.stderr.contains("namespaces \"nowhere\" not found"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_vmclass_in_use_cannot_be_deleted() {
    let p = Platform::start();
    p.apply_quick_start();
    let r = p.kubectl(&["delete", "vmclass", "generic"]);
    assert!(
        !r.ok(),
        "deleting a class a VM uses must fail: {}",
        r.stdout
    );
    assert!(
        r.stderr.contains(
            "VirtualMachineClass cannot be deleted, there is VM that use it: default/linux-vm"
        ),
        "{}",
        r.stderr
    );
    assert!(p.exists("vmclass", "generic", None));
    assert_eq!(
        p.jsonpath("vmclass", "generic", "{.metadata.deletionTimestamp}"),
        ""
    );
}

#[test]
fn an_unused_vmclass_can_be_deleted() {
    let p = Platform::start();
    p.apply_quick_start();
    p.kubectl(&["delete", "vm", "linux-vm"]).expect_ok();
    p.kubectl(&["delete", "vmclass", "generic"]).expect_ok();
    assert!(eventually(30, || !p.exists("vmclass", "generic", None)));
}

#[test]
fn a_deleted_default_class_is_not_recreated_on_restart() {
    let mut p = Platform::start();
    p.kubectl(&["delete", "vmclass", "generic"]).expect_ok();
    assert!(eventually(30, || !p.exists("vmclass", "generic", None)));
    p.stop();
    p.spawn();
    assert!(
        !p.exists("vmclass", "generic", None),
        "the generic class is created once only"
    );
}

#[test]
fn a_namespace_with_held_objects_stays_terminating_and_refuses_new_content() {
    let p = Platform::start();
    p.apply("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: proj\n")
        .expect_ok();
    p.kubectl_stdin(
        &["apply", "-n", "proj", "-f", "-"],
        &guide_manifest(guide_lines::QUICKSTART_VM),
    )
    .expect_ok();
    p.kubectl(&[
        "patch",
        "vm",
        "linux-vm",
        "-n",
        "proj",
        "--type",
        "merge",
        "-p",
        r#"{"metadata":{"finalizers":["e2e.test/hold"]}}"#,
    ])
    .expect_ok();
    p.kubectl(&["delete", "ns", "proj", "--wait=false"])
        .expect_ok();
    assert!(
        eventually(30, || cell(
            &p.kubectl(&["get", "ns", "proj"]).stdout,
            "proj",
            "STATUS"
        )
        .as_deref()
            == Some("Terminating")),
        "the namespace must show Terminating while an object in it is held"
    );
    let r = p
        .kubectl_stdin(
            &["apply", "-n", "proj", "-f", "-"],
            &guide_manifest(guide_lines::QUICKSTART_VI),
        )
        .expect_err();
    assert!(
        r.stderr.contains("Error from server (Forbidden)")
            && r.stderr.contains(
                "unable to create new content in namespace proj because it is being terminated"
            ),
        "{}",
        r.stderr
    );
    p.kubectl(&[
        "patch",
        "vm",
        "linux-vm",
        "-n",
        "proj",
        "--type",
        "merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ])
    .expect_ok();
    assert!(
        eventually(60, || !p.exists("ns", "proj", None)),
        "the namespace must go once its last object is gone"
    );
}

#[test]
fn delete_all_removes_every_vm_in_the_namespace_only() {
    let p = Platform::start();
    p.apply("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: proj\n")
        .expect_ok();
    p.apply(&quick_start_vm_named("a")).expect_ok();
    p.apply(&quick_start_vm_named("b")).expect_ok();
    p.kubectl_stdin(
        &["apply", "-n", "proj", "-f", "-"],
        &quick_start_vm_named("c"),
    )
    .expect_ok();
    let r = p.kubectl(&["delete", "vm", "--all"]).expect_ok();
    assert_eq!(r.stdout.lines().count(), 2, "{}", r.stdout);
    assert_eq!(
        p.kubectl(&["get", "vm", "-A", "-o", "name"])
            .expect_ok()
            .stdout,
        "virtualmachine.virtualization.deckhouse.io/c\n"
    );
}

#[test]
fn delete_f_removes_the_objects_of_a_manifest() {
    let p = Platform::start();
    let docs = [
        guide_lines::QUICKSTART_VI,
        guide_lines::QUICKSTART_VD,
        guide_lines::QUICKSTART_VM,
    ]
    .map(guide_manifest)
    .join("---\n");
    let file = p.write_file("quick-start.yaml", &docs);
    p.kubectl(&["apply", "-f", file.to_str().unwrap()])
        .expect_ok();
    let r = p
        .kubectl(&["delete", "-f", file.to_str().unwrap()])
        .expect_ok();
    assert_eq!(
        r.stdout,
        "virtualimage.virtualization.deckhouse.io \"ubuntu\" deleted\nvirtualdisk.virtualization.deckhouse.io \"linux-disk\" deleted\nvirtualmachine.virtualization.deckhouse.io \"linux-vm\" deleted\n"
    );
    let r = p.kubectl(&["get", "vi,vd,vm"]).expect_ok();
    assert_eq!(r.stdout, "");
}

#[test]
fn the_standard_namespaces_cannot_be_deleted() {
    let p = Platform::start();
    for ns in ["default", "kube-system", "kube-public"] {
        let before = p.user_state();
        let r = p.kubectl(&["delete", "ns", ns, "--wait=false"]);
        assert!(
            !r.ok()
                && r.stderr.contains("Error from server (Forbidden)")
                && r.stderr.contains(&format!(
                    "namespaces \"{ns}\" is forbidden: this namespace may not be deleted"
                )),
            "deleting namespace {ns} must be refused like the real API server does; got rc {} stdout {:?} stderr {:?}",
            r.status,
            r.stdout,
            r.stderr
        );
        assert_eq!(p.user_state(), before);
        assert!(p.exists("ns", ns, None));
    }
}
