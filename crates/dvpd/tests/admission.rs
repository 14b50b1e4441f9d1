//! Admission rules of the guide and the API reference, through kubectl: each rejection is a 422
//! whose message names the field, and leaves the store unchanged.

mod common;

use common::*;

/// Apply `manifest`, expect `The <Kind> "<name>" is invalid: <field>…` and no write.
#[track_caller]
fn rejected(p: &Platform, manifest: &str, kind: &str, name: &str, field: &str) -> String {
    let before = p.user_state();
    let r = p.apply(manifest);
    assert!(
        !r.ok(),
        "{kind} {name} must be rejected (field {field}), but kubectl said: {}",
        r.stdout
    );
    let prefix = format!("The {kind} \"{name}\" is invalid: ");
    assert!(
        r.stderr.starts_with(&prefix),
        "expected a 422 Invalid naming {kind} {name:?}; got: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains(field),
        "the message must name {field}: {}",
        r.stderr
    );
    assert_eq!(
        p.user_state(),
        before,
        "a rejected write must not change the store"
    );
    r.stderr
}

#[track_caller]
fn patch_rejected(p: &Platform, resource: &str, name: &str, patch: &str, field: &str) -> String {
    let before = p.user_state();
    let r = p.kubectl(&["patch", resource, name, "--type", "merge", "-p", patch]);
    assert!(
        !r.ok(),
        "patch {patch} must be rejected (field {field}), but kubectl said: {}",
        r.stdout
    );
    assert!(
        r.stderr.contains("is invalid"),
        "expected a 422 Invalid: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains(field),
        "the message must name {field}: {}",
        r.stderr
    );
    assert_eq!(
        p.user_state(),
        before,
        "a rejected write must not change the store"
    );
    r.stderr
}

fn cores_patch(cores: u32) -> String {
    format!(r#"{{"spec":{{"cpu":{{"cores":{cores}}}}}}}"#)
}

#[test]
fn vm_name_of_64_characters_is_rejected_and_63_accepted() {
    let p = Platform::start();
    let long = "a".repeat(64);
    rejected(
        &p,
        &quick_start_vm_named(&long),
        "VirtualMachine",
        &long,
        "metadata.name",
    );
    p.apply(&quick_start_vm_named(&"a".repeat(63))).expect_ok();
}

#[test]
fn dots_are_rejected_in_disk_and_image_names() {
    let p = Platform::start();
    let vd =
        guide_manifest(guide_lines::QUICKSTART_VD).replace("name: linux-disk", "name: linux.disk");
    rejected(&p, &vd, "VirtualDisk", "linux.disk", "metadata.name");
    let vi = guide_manifest(guide_lines::QUICKSTART_VI).replace("name: ubuntu", "name: ubuntu.22");
    rejected(&p, &vi, "VirtualImage", "ubuntu.22", "metadata.name");
    let cvi = "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: ClusterVirtualImage\nmetadata:\n  name: ubuntu.22\nspec:\n  dataSource:\n    type: HTTP\n    http:\n      url: http://127.0.0.1:9/a.img\n";
    rejected(&p, cvi, "ClusterVirtualImage", "ubuntu.22", "metadata.name");
}

#[test]
fn seventeen_cores_are_rejected_and_eighteen_accepted() {
    let p = Platform::start();
    p.apply_quick_start();
    let msg = patch_rejected(&p, "vm", "linux-vm", &cores_patch(17), "spec.cpu.cores");
    assert!(msg.contains("multiple of 2"), "{msg}");
    assert_eq!(
        p.kubectl(&[
            "patch",
            "vm",
            "linux-vm",
            "--type",
            "merge",
            "-p",
            &cores_patch(18)
        ])
        .expect_ok()
        .stdout,
        "virtualmachine.virtualization.deckhouse.io/linux-vm patched\n"
    );
    assert_eq!(p.jsonpath("vm", "linux-vm", "{.spec.cpu.cores}"), "18");
}

#[test]
fn core_counts_follow_the_socket_topology() {
    let p = Platform::start();
    p.apply_quick_start();
    for bad in [34u32, 66, 250] {
        patch_rejected(&p, "vm", "linux-vm", &cores_patch(bad), "spec.cpu.cores");
    }
    let msg = patch_rejected(&p, "vm", "linux-vm", &cores_patch(250), "spec.cpu.cores");
    assert!(msg.contains("248"), "{msg}");
    for good in [16u32, 36, 72, 248] {
        p.kubectl(&[
            "patch",
            "vm",
            "linux-vm",
            "--type",
            "merge",
            "-p",
            &cores_patch(good),
        ])
        .expect_ok();
    }
}

#[test]
fn zero_cores_are_rejected() {
    let p = Platform::start();
    let m = quick_start_vm_named("zero").replace("cores: 1", "cores: 0");
    rejected(&p, &m, "VirtualMachine", "zero", "spec.cpu.cores");
}

#[test]
fn malformed_core_fractions_are_rejected() {
    let p = Platform::start();
    for (i, bad) in ["150%", "0%", "abc", "10"].iter().enumerate() {
        let name = format!("cf-{i}");
        let m = quick_start_vm_named(&name).replace(
            "cores: 1\n",
            &format!("cores: 1\n    coreFraction: \"{bad}\"\n"),
        );
        rejected(&p, &m, "VirtualMachine", &name, "spec.cpu.coreFraction");
    }
}

#[test]
fn core_fraction_outside_the_class_policy_lists_the_allowed_values() {
    let p = Platform::start();
    p.apply_quick_start();
    let msg = patch_rejected(
        &p,
        "vm",
        "linux-vm",
        r#"{"spec":{"cpu":{"cores":2,"coreFraction":"30%"}}}"#,
        "spec",
    );
    assert!(
        msg.contains("30%") && msg.contains("5%, 10%, 20%, 50%, 100%"),
        "{msg}"
    );
    p.kubectl(&[
        "patch",
        "vm",
        "linux-vm",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"cpu":{"cores":2,"coreFraction":"20%"}}}"#,
    ])
    .expect_ok();
}

/// The guide's sizing-policy example as a class named `sized`.
fn guide_class(p: &Platform) {
    let fragment = guide_yaml_block(guide_lines::SIZING_POLICY);
    let m = format!(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualMachineClass\nmetadata:\n  name: sized\n{fragment}  cpu:\n    type: Host\n"
    );
    p.apply(&m).expect_ok();
}

fn sized_vm(name: &str, cores: u32, fraction: &str, memory: &str) -> String {
    quick_start_vm_named(name)
        .replace(
            "virtualMachineClassName: generic",
            "virtualMachineClassName: sized",
        )
        .replace(
            "cores: 1\n",
            &format!("cores: {cores}\n    coreFraction: {fraction}\n"),
        )
        .replace("size: 1Gi", &format!("size: {memory}"))
}

#[test]
fn the_guides_sizing_policy_accepts_the_documented_examples() {
    let p = Platform::start();
    guide_class(&p);
    // "If the VM uses 2 cores … memory from 1 GB to 8 GB and coreFraction 5%, 10%, 20%, 50% or 100%."
    p.apply(&sized_vm("two", 2, "10%", "8Gi")).expect_ok();
    // "For 6 cores … memory from 5GB to 16GB and coreFraction 20%, 50% or 100%."
    p.apply(&sized_vm("six", 6, "20%", "5Gi")).expect_ok();
}

#[test]
fn the_guides_sizing_policy_rejects_memory_outside_the_range_with_the_bound() {
    let p = Platform::start();
    guide_class(&p);
    let msg = rejected(
        &p,
        &sized_vm("small", 2, "10%", "512Mi"),
        "VirtualMachine",
        "small",
        "spec",
    );
    assert!(
        msg.contains("512Mi") && msg.contains("1Gi"),
        "the message gives the minimum: {msg}"
    );
    let msg = rejected(
        &p,
        &sized_vm("big", 6, "20%", "20Gi"),
        "VirtualMachine",
        "big",
        "spec",
    );
    assert!(
        msg.contains("20Gi") && msg.contains("16Gi"),
        "the message gives the maximum: {msg}"
    );
}

#[test]
fn the_guides_sizing_policy_rejects_a_core_fraction_of_another_range() {
    let p = Platform::start();
    guide_class(&p);
    let msg = rejected(
        &p,
        &sized_vm("six", 6, "10%", "6Gi"),
        "VirtualMachine",
        "six",
        "spec",
    );
    assert!(
        msg.contains("10%") && msg.contains("20%, 50%, 100%"),
        "{msg}"
    );
}

#[test]
fn cores_outside_every_policy_range_are_rejected_with_the_ranges() {
    let p = Platform::start();
    guide_class(&p);
    let msg = rejected(
        &p,
        &sized_vm("nine", 10, "100%", "8Gi"),
        "VirtualMachine",
        "nine",
        "spec",
    );
    assert!(msg.contains("1-4") && msg.contains("5-8"), "{msg}");
}

#[test]
fn values_off_the_policy_grid_name_the_nearest_valid_values() {
    let p = Platform::start();
    let class = "apiVersion: virtualization.deckhouse.io/v1alpha3\nkind: VirtualMachineClass\nmetadata:\n  name: stepped\nspec:\n  cpu:\n    type: Host\n  sizingPolicies:\n    - cores:\n        min: 2\n        max: 8\n        step: 2\n      memory:\n        min: 1Gi\n        max: 8Gi\n        step: 1Gi\n      coreFractions: [\"10%\", \"100%\"]\n";
    p.apply(class).expect_ok();
    let m = quick_start_vm_named("grid")
        .replace(
            "virtualMachineClassName: generic",
            "virtualMachineClassName: stepped",
        )
        .replace("cores: 1", "cores: 3")
        .replace("size: 1Gi", "size: 1536Mi");
    let msg = rejected(&p, &m, "VirtualMachine", "grid", "spec");
    assert!(msg.contains("2 or 4"), "nearest core counts: {msg}");
    assert!(msg.contains("1Gi or 2Gi"), "nearest memory sizes: {msg}");
}

fn vm_with_user_data(name: &str, user_data: &str) -> String {
    let vm = quick_start_vm_named(name);
    let head = &vm[..vm.find("  provisioning:").unwrap()];
    let tail = &vm[vm.find("  blockDeviceRefs:").unwrap()..];
    format!(
        "{head}  provisioning:\n    type: UserData\n    userData: {}\n{tail}",
        serde_json::to_string(user_data).unwrap()
    )
}

#[test]
fn user_data_over_2048_bytes_is_rejected() {
    let p = Platform::start();
    let big = format!("#cloud-config\nruncmd:\n  - echo {}\n", "x".repeat(2100));
    let msg = rejected(
        &p,
        &vm_with_user_data("big-vm", &big),
        "VirtualMachine",
        "big-vm",
        "spec.provisioning.userData",
    );
    assert!(msg.contains("2048"), "{msg}");
    let fits = format!("#cloud-config\n#{}", "x".repeat(2048 - 15));
    assert_eq!(fits.len(), 2048);
    p.apply(&vm_with_user_data("fits", &fits)).expect_ok();
}

#[test]
fn main_network_must_come_first() {
    let p = Platform::start();
    let m = quick_start_vm_named("nets").replace(
        "  blockDeviceRefs:",
        "  networks:\n    - type: Network\n      name: extra\n    - type: Main\n  blockDeviceRefs:",
    );
    rejected(&p, &m, "VirtualMachine", "nets", "spec.networks[1]");
}

#[test]
fn seventeen_block_devices_are_rejected_and_sixteen_accepted() {
    let p = Platform::start();
    let with_disks = |name: &str, n: usize| {
        let vm = quick_start_vm_named(name);
        let head = &vm[..vm.find("  blockDeviceRefs:").unwrap()];
        let mut s = format!("{head}  blockDeviceRefs:\n");
        for i in 0..n {
            s.push_str(&format!("    - kind: VirtualDisk\n      name: disk-{i}\n"));
        }
        s
    };
    rejected(
        &p,
        &with_disks("many", 17),
        "VirtualMachine",
        "many",
        "spec.blockDeviceRefs",
    );
    p.apply(&with_disks("enough", 16)).expect_ok();
}

#[test]
fn duplicate_block_devices_are_rejected() {
    let p = Platform::start();
    let m = quick_start_vm_named("dup").replace(
        "    - kind: VirtualDisk\n      name: linux-disk\n",
        "    - kind: VirtualDisk\n      name: linux-disk\n    - kind: VirtualDisk\n      name: linux-disk\n",
    );
    assert!(m.matches("name: linux-disk").count() == 2, "{m}");
    rejected(&p, &m, "VirtualMachine", "dup", "spec.blockDeviceRefs");
}

#[test]
fn kubevirt_label_and_annotation_keys_are_rejected_on_vms() {
    let p = Platform::start();
    p.apply_quick_start();
    patch_rejected(
        &p,
        "vm",
        "linux-vm",
        r#"{"metadata":{"labels":{"kubevirt.io/domain":"x"}}}"#,
        "metadata.labels",
    );
    patch_rejected(
        &p,
        "vm",
        "linux-vm",
        r#"{"metadata":{"annotations":{"kubevirt.io/latest-observed-api-version":"v1"}}}"#,
        "metadata.annotations",
    );
    let r = p
        .kubectl(&["label", "vm", "linux-vm", "vm.kubevirt.io/name=x"])
        .expect_err();
    assert!(r.stderr.contains("kubevirt.io"), "{}", r.stderr);
    p.kubectl(&[
        "label",
        "vm",
        "linux-vm",
        "vmpool.virtualization.deckhouse.io/pool=p1",
    ])
    .expect_ok();
}

fn provisioned_disk(p: &Platform) {
    p.apply(&guide_manifest(guide_lines::BLANK_DISK))
        .expect_ok();
    p.kubectl(&[
        "patch",
        "vd",
        "blank-disk",
        "--subresource=status",
        "--type",
        "merge",
        "-p",
        r#"{"status":{"phase":"Ready","capacity":"100Mi"}}"#,
    ])
    .expect_ok();
}

#[test]
fn a_provisioned_disk_may_only_grow() {
    let p = Platform::start();
    provisioned_disk(&p);
    let shrink = r#"{"spec":{"persistentVolumeClaim":{"size":"50Mi"}}}"#;
    patch_rejected(
        &p,
        "vd",
        "blank-disk",
        shrink,
        "spec.persistentVolumeClaim.size",
    );
    assert_eq!(
        p.jsonpath("vd", "blank-disk", "{.spec.persistentVolumeClaim.size}"),
        "100Mi"
    );
    p.kubectl(&[
        "patch",
        "vd",
        "blank-disk",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"persistentVolumeClaim":{"size":"200Mi"}}}"#,
    ])
    .expect_ok();
    assert_eq!(
        p.jsonpath("vd", "blank-disk", "{.spec.persistentVolumeClaim.size}"),
        "200Mi"
    );
}

#[test]
fn a_pending_disk_may_still_shrink() {
    let p = Platform::start();
    p.apply(&guide_manifest(guide_lines::BLANK_DISK))
        .expect_ok();
    p.kubectl(&[
        "patch",
        "vd",
        "blank-disk",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"persistentVolumeClaim":{"size":"50Mi"}}}"#,
    ])
    .expect_ok();
    assert_eq!(
        p.jsonpath("vd", "blank-disk", "{.spec.persistentVolumeClaim.size}"),
        "50Mi"
    );
}

#[test]
fn a_blank_disk_needs_a_size() {
    let p = Platform::start();
    let m = guide_manifest(guide_lines::BLANK_DISK).replace("    size: 100Mi\n", "");
    rejected(
        &p,
        &m,
        "VirtualDisk",
        "blank-disk",
        "spec.persistentVolumeClaim.size",
    );
}

fn vmip(name: &str, ip: &str) -> String {
    guide_manifest(guide_lines::VMIP_STATIC)
        .replace("name: linux-vm-custom-ip", &format!("name: {name}"))
        .replace("10.66.20.77", ip)
}

#[test]
fn a_static_vmip_outside_the_cidrs_is_rejected() {
    let p = Platform::start();
    let msg = rejected(
        &p,
        &vmip("outside", "10.77.0.5"),
        "VirtualMachineIPAddress",
        "outside",
        "spec.staticIP",
    );
    assert!(
        msg.contains("10.66.10.0/24") && msg.contains("10.66.20.0/24"),
        "the message lists the CIDRs: {msg}"
    );
}

#[test]
fn network_and_broadcast_addresses_cannot_be_static_vmips() {
    let p = Platform::start();
    rejected(
        &p,
        &vmip("net", "10.66.20.0"),
        "VirtualMachineIPAddress",
        "net",
        "spec.staticIP",
    );
    rejected(
        &p,
        &vmip("bcast", "10.66.20.255"),
        "VirtualMachineIPAddress",
        "bcast",
        "spec.staticIP",
    );
    p.apply(&vmip("first", "10.66.20.1")).expect_ok();
}

#[test]
fn a_static_vmip_needs_an_address_and_an_auto_one_must_not_have_one() {
    let p = Platform::start();
    let no_ip = vmip("noip", "x").replace("  staticIP: x\n", "");
    rejected(
        &p,
        &no_ip,
        "VirtualMachineIPAddress",
        "noip",
        "spec.staticIP",
    );
    let auto = vmip("auto", "10.66.20.9").replace("type: Static", "type: Auto");
    rejected(
        &p,
        &auto,
        "VirtualMachineIPAddress",
        "auto",
        "spec.staticIP",
    );
}

#[test]
fn a_vmop_spec_is_immutable_but_its_labels_are_not() {
    let p = Platform::start();
    p.apply_quick_start();
    let out = p
        .kubectl_stdin(
            &["create", "-f", "-"],
            &guide_manifest(guide_lines::VMOP_RESTART),
        )
        .expect_ok()
        .stdout;
    let name = out.split_whitespace().next().unwrap().to_string();
    let before = p.user_state();
    let r = p
        .kubectl(&[
            "patch",
            &name,
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"type":"Stop"}}"#,
        ])
        .expect_err();
    assert!(
        r.stderr.contains("is invalid")
            && r.stderr.contains("spec")
            && r.stderr.contains("immutable"),
        "{}",
        r.stderr
    );
    assert_eq!(p.user_state(), before);
    p.kubectl(&["label", &name, "note=ok"]).expect_ok();
}

#[test]
fn a_vmop_of_an_unknown_type_is_rejected() {
    let p = Platform::start();
    let m = guide_manifest(guide_lines::VMOP_RESTART).replace("type: Restart", "type: Reboot");
    let before = p.user_state();
    let r = p.kubectl_stdin(&["create", "-f", "-"], &m).expect_err();
    assert!(
        r.stderr.contains("spec.type") && r.stderr.contains("Unsupported value: \"Reboot\""),
        "{}",
        r.stderr
    );
    assert_eq!(p.user_state(), before);
}

#[test]
fn a_vmclass_cpu_section_is_immutable() {
    let p = Platform::start();
    let before = p.user_state();
    let r = p
        .kubectl(&[
            "patch",
            "vmclass",
            "generic",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"cpu":{"model":"Haswell"}}}"#,
        ])
        .expect_err();
    assert!(
        r.stderr.contains("spec.cpu") && r.stderr.contains("immutable"),
        "{}",
        r.stderr
    );
    assert_eq!(p.user_state(), before);
}

#[test]
fn overlapping_sizing_policies_are_rejected() {
    let p = Platform::start();
    let m = "apiVersion: virtualization.deckhouse.io/v1alpha3\nkind: VirtualMachineClass\nmetadata:\n  name: overlap\nspec:\n  cpu:\n    type: Host\n  sizingPolicies:\n    - cores:\n        min: 1\n        max: 4\n    - cores:\n        min: 4\n        max: 8\n";
    rejected(
        &p,
        m,
        "VirtualMachineClass",
        "overlap",
        "spec.sizingPolicies",
    );
}

const DEFAULT_CLASS: &str = "virtualmachineclass.virtualization.deckhouse.io/is-default-class=true";

fn classless_vm(name: &str) -> String {
    let m = quick_start_vm_named(name);
    assert!(m.contains("  virtualMachineClassName: generic\n"));
    m.replace("  virtualMachineClassName: generic\n", "")
}

#[test]
fn a_vm_without_a_class_and_no_default_class_is_rejected() {
    let p = Platform::start();
    rejected(
        &p,
        &classless_vm("orphan"),
        "VirtualMachine",
        "orphan",
        "spec.virtualMachineClassName",
    );
}

#[test]
fn a_vm_without_a_class_gets_the_default_class_without_warnings() {
    let p = Platform::start();
    p.kubectl(&["annotate", "vmclass", "generic", DEFAULT_CLASS])
        .expect_ok();
    let r = p.apply(&classless_vm("defaulted")).expect_ok();
    assert_eq!(
        p.jsonpath("vm", "defaulted", "{.spec.virtualMachineClassName}"),
        "generic"
    );
    assert!(
        !r.stderr.contains("Warning"),
        "the defaulted class exists, so admission must not warn that it is missing: {}",
        r.stderr
    );
}

#[test]
fn the_default_class_sizing_policy_applies_to_vms_without_a_class() {
    let p = Platform::start();
    p.kubectl(&["annotate", "vmclass", "generic", DEFAULT_CLASS])
        .expect_ok();
    let before = p.user_state();
    let m = classless_vm("defaulted").replace("cores: 1\n", "cores: 2\n    coreFraction: 30%\n");
    let r = p.apply(&m);
    assert!(
        !r.ok(),
        "the class defaulted to `generic`, whose 1-4 core policy allows only 5/10/20/50/100%, so 30% must be \
         rejected exactly as with an explicit class; got: {} {}",
        r.stdout,
        r.stderr
    );
    assert!(
        r.stderr.contains("30%") && r.stderr.contains("generic"),
        "{}",
        r.stderr
    );
    assert_eq!(p.user_state(), before);
}

#[test]
fn only_one_class_may_be_the_default() {
    let p = Platform::start();
    p.kubectl(&["annotate", "vmclass", "generic", DEFAULT_CLASS])
        .expect_ok();
    let before = p.user_state();
    let r = p
        .kubectl(&["annotate", "vmclass", "host", DEFAULT_CLASS])
        .expect_err();
    assert!(
        r.stderr
            .contains("multiple default virtual machine classes are prohibited"),
        "{}",
        r.stderr
    );
    assert_eq!(p.user_state(), before);
    let out = p.kubectl(&["get", "vmclass"]).expect_ok().stdout;
    assert_eq!(
        cell(&out, "generic", "ISDEFAULT").as_deref(),
        Some("true"),
        "{out}"
    );
    assert_eq!(
        cell(&out, "host", "ISDEFAULT").as_deref(),
        Some(""),
        "{out}"
    );
}
