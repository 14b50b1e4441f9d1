//! End-to-end tests of the VM runtime controllers with kubectl and d8: scheduling, instances,
//! status mapping, restartAwaitingChanges, run policies and operations.
//!
//! The tests that pin VMs to a node named `fake-node` play the node agent themselves: they
//! register the node and write instance status with `kubectl patch --subresource=status`, and
//! remove the agent's finalizer to let a stop finish. `d8` must be built in the same target dir
//! (`cargo build -p dvp-cli`); tests that need it are skipped when it is missing.
//!
//! [`a_tiny_guest_runs_restarts_with_new_cores_stops_and_starts`] runs real QEMU through the node
//! agent of `dvpd up` on the tiny guest image (`/var/cache/guest-images/tiny/tiny.qcow2`, TCG
//! when there is no KVM); it is skipped when the image or QEMU is missing.

mod common;
mod images_support;

use std::process::Command;

use common::{Platform, d8_bin, eventually};
use images_support::FileServer;

const FAKE_NODE: &str = "fake-node";

fn node_manifest(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n  labels:\n    kubernetes.io/hostname: {name}\n    kubernetes.io/os: linux\n"
    )
}

/// Register a Ready node with 4 CPUs and 8 GiB, as an agent would.
fn register_node(p: &Platform, name: &str) {
    p.apply(&node_manifest(name)).expect_ok();
    let status = serde_json::json!({"status": {
        "capacity": {"cpu": "4", "memory": "8Gi"},
        "allocatable": {"cpu": "4", "memory": "8Gi"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                        "message": "test node", "lastHeartbeatTime": common::now_rfc3339(),
                        "lastTransitionTime": common::now_rfc3339()}]
    }});
    p.kubectl(&[
        "patch",
        "node",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        &status.to_string(),
    ])
    .expect_ok();
}

fn blank_disk(name: &str) -> String {
    format!(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualDisk\nmetadata:\n  name: {name}\nspec:\n  persistentVolumeClaim:\n    size: 100Mi\n"
    )
}

/// A VM on the disk `<name>-root`, pinned to `node`, with extra spec lines.
fn vm_manifest(name: &str, node: &str, extra: &str) -> String {
    format!(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualMachine\nmetadata:\n  name: {name}\nspec:\n  virtualMachineClassName: generic\n  nodeSelector:\n    kubernetes.io/hostname: {node}\n  cpu:\n    cores: 1\n    coreFraction: 10%\n  memory:\n    size: 256Mi\n  provisioning:\n    type: UserData\n    userData: |\n      #cloud-config\n      hostname: {name}\n  blockDeviceRefs:\n    - kind: VirtualDisk\n      name: {name}-root\n{extra}"
    )
}

/// Write an instance's status as the node agent would.
fn set_instance_status(p: &Platform, name: &str, status: serde_json::Value) {
    p.kubectl(&[
        "patch",
        "intvirtvmi",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        &serde_json::json!({"status": status}).to_string(),
    ])
    .expect_ok();
}

/// Let a stop finish, as the agent does once QEMU is gone.
fn release_instance(p: &Platform, name: &str) {
    p.kubectl(&[
        "patch",
        "intvirtvmi",
        name,
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ])
    .expect_ok();
}

fn running_status() -> serde_json::Value {
    serde_json::json!({
        "phase": "Running", "pid": 4242, "accel": "tcg", "qemuVersion": "9.2.0",
        "startTime": common::now_rfc3339(),
        "agent": {"connected": true, "osInfo": {"id": "tiny", "name": "Tiny", "kernelRelease": "6.1"}}
    })
}

fn d8(p: &Platform, args: &[&str]) -> Option<(bool, String)> {
    let bin = d8_bin();
    if !bin.exists() {
        eprintln!("skipping the d8 part: {} is not built", bin.display());
        return None;
    }
    let out = Command::new("timeout")
        .arg("120")
        .arg(bin)
        .args(args)
        .env("KUBECONFIG", p.kubeconfig())
        .env("HOME", p.home())
        .output()
        .expect("run d8");
    Some((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

fn vmop(p: &Platform, name: &str, type_: &str, vm: &str) {
    p.apply(&format!(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualMachineOperation\nmetadata:\n  name: {name}\nspec:\n  type: {type_}\n  virtualMachineName: {vm}\n"
    ))
    .expect_ok();
}

#[test]
fn the_classes_of_first_start_exist() {
    let p = Platform::start();
    p.kubectl(&["get", "vmclass", "generic"]).expect_ok();
    p.kubectl(&["get", "vmclass", "host"]).expect_ok();
}

#[test]
fn a_vm_gets_an_instance_on_its_node_and_mirrors_the_run() {
    let p = Platform::start();
    register_node(&p, FAKE_NODE);
    p.apply(&blank_disk("a-root")).expect_ok();
    p.apply(&vm_manifest("a", FAKE_NODE, "")).expect_ok();
    p.wait_field("intvirtvmi", "a", "{.spec.nodeName}", FAKE_NODE, 90);

    let inst = p.get_json(&["intvirtvmi", "a"]);
    let vm_uid = p.field("vm", "a", "{.metadata.uid}");
    assert_eq!(
        inst["metadata"]["labels"]["virtualization.deckhouse.io/node"],
        FAKE_NODE
    );
    assert_eq!(
        inst["metadata"]["labels"]["virtualization.deckhouse.io/virtual-machine-uid"],
        vm_uid.as_str()
    );
    assert_eq!(
        inst["metadata"]["ownerReferences"][0]["uid"],
        vm_uid.as_str()
    );
    assert_eq!(inst["metadata"]["ownerReferences"][0]["controller"], true);
    assert_eq!(
        inst["metadata"]["finalizers"][0],
        "virtualization.deckhouse.io/vmi-cleanup"
    );
    assert_eq!(inst["spec"]["vmUid"], vm_uid.as_str());
    assert_eq!(inst["spec"]["cpu"]["coresPerSocket"], 1);
    assert_eq!(inst["spec"]["cpu"]["coreFraction"], 10);
    assert_eq!(inst["spec"]["cpu"]["model"], "Nehalem");
    assert_eq!(inst["spec"]["memoryBytes"], 256u64 << 20);
    let disk = &inst["spec"]["disks"][0];
    assert_eq!(disk["name"], "a-root");
    assert!(disk["path"].as_str().unwrap().starts_with('/'), "{disk}");
    assert!(std::path::Path::new(disk["path"].as_str().unwrap()).exists());
    assert!(
        inst["spec"]["cloudInit"]["userData"]
            .as_str()
            .unwrap()
            .contains("hostname: a")
    );
    assert!(
        inst["metadata"]["annotations"]["virtualization.deckhouse.io/applied-vm-spec"].is_string()
    );
    p.wait_field("vm", "a", "{.status.phase}", "Starting", 30);

    set_instance_status(&p, "a", running_status());
    p.wait_field("vm", "a", "{.status.phase}", "Running", 30);
    p.wait_field(
        "vm",
        "a",
        "{.status.conditions[?(@.type==\"AgentReady\")].status}",
        "True",
        30,
    );
    assert_eq!(p.field("vm", "a", "{.status.nodeName}"), FAKE_NODE);
    assert_eq!(p.field("vm", "a", "{.status.guestOSInfo.id}"), "tiny");
    assert_eq!(
        p.field("vm", "a", "{.status.resources.cpu.topology.coresPerSocket}"),
        "1"
    );
    // A running VM holds its disk: the disk cannot be exported.
    assert_eq!(p.field("vd", "a-root", "{.status.phase}"), "Ready");
}

#[test]
fn a_core_change_waits_for_a_restart_that_applies_it() {
    let p = Platform::start();
    register_node(&p, FAKE_NODE);
    p.apply(&blank_disk("b-root")).expect_ok();
    p.apply(&vm_manifest("b", FAKE_NODE, "")).expect_ok();
    p.wait_field("intvirtvmi", "b", "{.spec.nodeName}", FAKE_NODE, 90);
    set_instance_status(&p, "b", running_status());
    p.wait_field("vm", "b", "{.status.phase}", "Running", 30);

    p.kubectl(&[
        "patch",
        "vm",
        "b",
        "--type=merge",
        "-p",
        r#"{"spec":{"cpu":{"cores":2}}}"#,
    ])
    .expect_ok();
    p.wait_field(
        "vm",
        "b",
        "{.status.restartAwaitingChanges[0].path}",
        "cpu.cores",
        30,
    );
    assert_eq!(
        p.field(
            "vm",
            "b",
            "{.status.restartAwaitingChanges[0].desiredValue}"
        ),
        "2"
    );
    let wide = p
        .kubectl(&["get", "vm", "b", "-o", "wide"])
        .expect_ok()
        .stdout;
    assert_eq!(
        common::cell(&wide, "b", "NEED RESTART").as_deref(),
        Some("True"),
        "{wide}"
    );
    // The run keeps its topology until the restart.
    assert_eq!(
        p.field("vm", "b", "{.status.resources.cpu.topology.coresPerSocket}"),
        "1"
    );

    vmop(&p, "restart-b", "Restart", "b");
    p.wait_field("vm", "b", "{.status.phase}", "Stopping", 30);
    assert!(
        !p.field("intvirtvmi", "b", "{.metadata.deletionTimestamp}")
            .is_empty()
    );
    release_instance(&p, "b");
    p.wait_field("intvirtvmi", "b", "{.spec.cpu.coresPerSocket}", "2", 60);
    set_instance_status(&p, "b", running_status());
    p.wait_field("vmop", "restart-b", "{.status.phase}", "Completed", 30);
    p.wait_field(
        "vm",
        "b",
        "{.status.resources.cpu.topology.coresPerSocket}",
        "2",
        30,
    );
    assert_eq!(p.field("vm", "b", "{.status.restartAwaitingChanges}"), "");
    assert_eq!(
        p.field(
            "vm",
            "b",
            "{.status.conditions[?(@.type==\"AwaitingRestartToApplyConfiguration\")].status}"
        ),
        ""
    );
}

#[test]
fn stop_and_start_operations_follow_the_run_policy() {
    let p = Platform::start();
    register_node(&p, FAKE_NODE);
    p.apply(&blank_disk("c-root")).expect_ok();
    p.apply(&vm_manifest("c", FAKE_NODE, "")).expect_ok();
    p.wait_field("intvirtvmi", "c", "{.spec.nodeName}", FAKE_NODE, 90);
    set_instance_status(&p, "c", running_status());
    p.wait_field("vm", "c", "{.status.phase}", "Running", 30);

    vmop(&p, "stop-c", "Stop", "c");
    p.wait_field("vm", "c", "{.status.phase}", "Stopping", 30);
    release_instance(&p, "c");
    p.wait_field("vm", "c", "{.status.phase}", "Stopped", 30);
    p.wait_field("vmop", "stop-c", "{.status.phase}", "Completed", 30);
    // Stopped manually: the default policy does not start it again.
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(!p.exists("intvirtvmi", "c", None));
    assert_eq!(p.field("vm", "c", "{.status.phase}"), "Stopped");

    // Stop does not apply to a Stopped VM.
    vmop(&p, "stop-again", "Stop", "c");
    p.wait_field("vmop", "stop-again", "{.status.phase}", "Failed", 30);
    assert_eq!(
        p.field(
            "vmop",
            "stop-again",
            "{.status.conditions[?(@.type==\"Completed\")].reason}"
        ),
        "NotApplicableForVirtualMachinePhase"
    );

    vmop(&p, "start-c", "Start", "c");
    p.wait_field("intvirtvmi", "c", "{.spec.nodeName}", FAKE_NODE, 30);
    set_instance_status(&p, "c", running_status());
    p.wait_field("vmop", "start-c", "{.status.phase}", "Completed", 30);
    assert_eq!(p.field("vm", "c", "{.status.phase}"), "Running");
}

#[test]
fn an_always_off_vm_stays_stopped_and_refuses_start() {
    let p = Platform::start();
    register_node(&p, FAKE_NODE);
    p.apply(&blank_disk("quiet-root")).expect_ok();
    p.apply(&vm_manifest("quiet", FAKE_NODE, "  runPolicy: AlwaysOff\n"))
        .expect_ok();
    p.wait_field("vm", "quiet", "{.status.phase}", "Stopped", 60);
    assert!(!p.exists("intvirtvmi", "quiet", None));
    vmop(&p, "start-quiet", "Start", "quiet");
    p.wait_field("vmop", "start-quiet", "{.status.phase}", "Failed", 30);
    assert_eq!(
        p.field(
            "vmop",
            "start-quiet",
            "{.status.conditions[?(@.type==\"Completed\")].reason}"
        ),
        "NotApplicableForVirtualMachineRunPolicy"
    );
}

#[test]
fn a_vm_no_node_can_take_stays_pending_and_says_why() {
    let p = Platform::start();
    register_node(&p, FAKE_NODE);
    p.apply(&blank_disk("big-root")).expect_ok();
    let manifest = vm_manifest("big", FAKE_NODE, "").replace("size: 256Mi", "size: 64Gi");
    p.apply(&manifest).expect_ok();
    let ok = eventually(60, || {
        p.field(
            "vm",
            "big",
            "{.status.conditions[?(@.type==\"Running\")].message}",
        )
        .contains("not enough memory")
    });
    assert!(
        ok,
        "{}",
        p.kubectl(&["get", "vm", "big", "-o", "yaml"]).stdout
    );
    assert_eq!(p.field("vm", "big", "{.status.phase}"), "Pending");
    assert!(!p.exists("intvirtvmi", "big", None));
}

#[test]
fn a_vm_waits_for_a_missing_disk_in_pending() {
    let p = Platform::start();
    register_node(&p, FAKE_NODE);
    p.apply(&vm_manifest("nodisk", FAKE_NODE, "")).expect_ok();
    p.wait_field(
        "vm",
        "nodisk",
        "{.status.conditions[?(@.type==\"BlockDevicesReady\")].status}",
        "False",
        60,
    );
    assert_eq!(p.field("vm", "nodisk", "{.status.phase}"), "Pending");
    p.apply(&blank_disk("nodisk-root")).expect_ok();
    p.wait_field("intvirtvmi", "nodisk", "{.spec.nodeName}", FAKE_NODE, 90);
}

#[test]
fn a_disk_waiting_for_its_first_consumer_is_made_where_the_vm_goes() {
    let p = Platform::start();
    register_node(&p, FAKE_NODE);
    p.apply(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualDisk\nmetadata:\n  name: w-root\nspec:\n  persistentVolumeClaim:\n    size: 100Mi\n    storageClassName: shared-wffc\n",
    )
    .expect_ok();
    p.wait_field(
        "vd",
        "w-root",
        "{.status.phase}",
        "WaitForFirstConsumer",
        60,
    );
    p.apply(&vm_manifest("w", FAKE_NODE, "")).expect_ok();
    p.wait_field("intvirtvmi", "w", "{.spec.nodeName}", FAKE_NODE, 90);
    let claim = p.field("vd", "w-root", "{.status.target.persistentVolumeClaimName}");
    assert_eq!(
        p.field(
            "pvc",
            &claim,
            "{.metadata.annotations.volume\\.kubernetes\\.io/selected-node}"
        ),
        FAKE_NODE
    );
}

#[test]
fn automatic_approval_restarts_the_vm_to_apply_changes() {
    let p = Platform::start();
    register_node(&p, FAKE_NODE);
    p.apply(&blank_disk("auto-root")).expect_ok();
    let extra = "  disruptions:\n    restartApprovalMode: Automatic\n";
    p.apply(&vm_manifest("auto", FAKE_NODE, extra)).expect_ok();
    p.wait_field("intvirtvmi", "auto", "{.spec.nodeName}", FAKE_NODE, 90);
    set_instance_status(&p, "auto", running_status());
    p.wait_field("vm", "auto", "{.status.phase}", "Running", 30);
    p.kubectl(&[
        "patch",
        "vm",
        "auto",
        "--type=merge",
        "-p",
        r#"{"spec":{"cpu":{"cores":2}}}"#,
    ])
    .expect_ok();
    assert!(eventually(30, || {
        !p.field("intvirtvmi", "auto", "{.metadata.deletionTimestamp}")
            .is_empty()
    }));
    release_instance(&p, "auto");
    p.wait_field("intvirtvmi", "auto", "{.spec.cpu.coresPerSocket}", "2", 60);
}

#[test]
fn a_vm_that_no_longer_fits_its_class_policy_is_reported() {
    let p = Platform::start();
    register_node(&p, FAKE_NODE);
    p.apply(
        "apiVersion: virtualization.deckhouse.io/v1alpha3\nkind: VirtualMachineClass\nmetadata:\n  name: small\nspec:\n  cpu:\n    type: Host\n  sizingPolicies:\n    - cores:\n        min: 1\n        max: 4\n      coreFractions: [\"10%\", \"100%\"]\n",
    )
    .expect_ok();
    p.apply(&blank_disk("s-root")).expect_ok();
    let manifest = vm_manifest("s", FAKE_NODE, "").replace(
        "virtualMachineClassName: generic",
        "virtualMachineClassName: small",
    );
    p.apply(&manifest).expect_ok();
    p.wait_field("intvirtvmi", "s", "{.spec.cpu.model}", "host", 90);
    p.kubectl(&[
        "patch",
        "vmclass",
        "small",
        "--type=merge",
        "-p",
        r#"{"spec":{"sizingPolicies":[{"cores":{"min":1,"max":4},"coreFractions":["50%","100%"]}]}}"#,
    ])
    .expect_ok();
    p.wait_field(
        "vm",
        "s",
        "{.status.conditions[?(@.type==\"SizingPolicyMatched\")].reason}",
        "SizingPolicyNotMatched",
        60,
    );
    // It keeps running.
    assert!(p.exists("intvirtvmi", "s", None));
}

#[test]
fn a_failed_start_names_the_cause_and_is_retried_after_a_pause() {
    let p = Platform::start();
    register_node(&p, FAKE_NODE);
    p.apply(&blank_disk("f-root")).expect_ok();
    p.apply(&vm_manifest("f", FAKE_NODE, "")).expect_ok();
    p.wait_field("intvirtvmi", "f", "{.spec.nodeName}", FAKE_NODE, 90);
    let first = p.field("intvirtvmi", "f", "{.metadata.uid}");
    set_instance_status(
        &p,
        "f",
        serde_json::json!({"phase": "Failed", "exit": {"reason": "StartFailed",
            "message": "qemu-system-x86_64: could not open disk image", "time": common::now_rfc3339()}}),
    );
    p.wait_field(
        "vm",
        "f",
        "{.status.conditions[?(@.type==\"Running\")].reason}",
        "InternalVirtualMachineError",
        30,
    );
    let message = p.field(
        "vm",
        "f",
        "{.status.conditions[?(@.type==\"Running\")].message}",
    );
    assert!(message.contains("could not open disk image"), "{message}");
    assert!(message.contains("retrying"), "{message}");
    assert!(
        p.field("intvirtvmi", "f", "{.metadata.deletionTimestamp}")
            .is_empty(),
        "no retry before the pause"
    );
    assert!(eventually(30, || {
        !p.field("intvirtvmi", "f", "{.metadata.deletionTimestamp}")
            .is_empty()
    }));
    release_instance(&p, "f");
    assert!(eventually(30, || {
        let uid = p.field("intvirtvmi", "f", "{.metadata.uid}");
        !uid.is_empty() && uid != first
    }));
}

#[test]
fn d8_v_stop_waits_and_reports_refusals() {
    let p = Platform::start();
    register_node(&p, FAKE_NODE);
    p.apply(&blank_disk("d-root")).expect_ok();
    p.apply(&vm_manifest("d", FAKE_NODE, "")).expect_ok();
    p.wait_field("intvirtvmi", "d", "{.spec.nodeName}", FAKE_NODE, 90);
    set_instance_status(&p, "d", running_status());
    p.wait_field("vm", "d", "{.status.phase}", "Running", 30);

    // Play the agent in the background: release the instance once it is being deleted.
    let helper = std::thread::scope(|s| {
        let h = s.spawn(|| {
            eventually(60, || {
                !p.field("intvirtvmi", "d", "{.metadata.deletionTimestamp}")
                    .is_empty()
            }) && {
                release_instance(&p, "d");
                true
            }
        });
        let out = d8(&p, &["v", "stop", "d", "-w", "-y", "--timeout", "90s"]);
        (h.join().unwrap(), out)
    });
    let Some((ok, out)) = helper.1 else { return };
    assert!(helper.0);
    assert!(ok, "{out}");
    assert_eq!(p.field("vm", "d", "{.status.phase}"), "Stopped");

    let (ok, out) = d8(&p, &["v", "stop", "d", "-w"]).unwrap();
    assert!(!ok, "stopping a stopped VM must fail: {out}");
    assert!(out.contains("not applicable"), "{out}");
}

#[test]
fn deleting_a_vm_stops_its_run_first() {
    let p = Platform::start();
    register_node(&p, FAKE_NODE);
    p.apply(&blank_disk("e-root")).expect_ok();
    p.apply(&vm_manifest("e", FAKE_NODE, "")).expect_ok();
    p.wait_field("intvirtvmi", "e", "{.spec.nodeName}", FAKE_NODE, 90);
    set_instance_status(&p, "e", running_status());
    p.wait_field("vm", "e", "{.status.phase}", "Running", 30);
    p.kubectl(&["delete", "vm", "e", "--wait=false"])
        .expect_ok();
    p.wait_field("vm", "e", "{.status.phase}", "Terminating", 30);
    assert!(p.exists("vm", "e", None), "the VM waits for its run");
    release_instance(&p, "e");
    assert!(eventually(30, || !p.exists("vm", "e", None)));
    assert!(!p.exists("intvirtvmi", "e", None));
}

/// QEMU processes whose command line carries `uid`.
fn qemu_pids(uid: &str) -> Vec<u32> {
    let out = Command::new("pgrep")
        .args(["-f", &format!("qemu-system.*{uid}")])
        .output()
        .expect("run pgrep");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .filter(|pid| !is_zombie(*pid))
        .collect()
}

/// A process that ended but was not reaped (PID 1 of a container may not reap orphans).
fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'))
        })
        .unwrap_or(true)
}

/// Kills QEMUs of a VM left behind by a failed test (they outlive dvpd by design).
struct QemuReaper(String);

impl Drop for QemuReaper {
    fn drop(&mut self) {
        for pid in qemu_pids(&self.0) {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

fn secs_since(t: std::time::Instant) -> u64 {
    t.elapsed().as_secs()
}

#[test]
fn a_tiny_guest_runs_restarts_with_new_cores_stops_and_starts() {
    let Some(image) = images_support::tiny_guest_to_boot(true) else {
        return;
    };
    let www = tempfile::tempdir().unwrap();
    let server = FileServer::start(www.path());
    server.copy(&image, "tiny.qcow2");
    let p = Platform::start();
    p.apply(&images_support::vi_http(
        "tiny",
        &server.url("f/tiny.qcow2"),
    ))
    .expect_ok();
    p.wait_field("vi", "tiny", "{.status.phase}", "Ready", 180);
    p.apply(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualDisk\nmetadata:\n  name: t1-root\nspec:\n  dataSource:\n    type: ObjectRef\n    objectRef:\n      kind: VirtualImage\n      name: tiny\n",
    )
    .expect_ok();
    let vm =
        vm_manifest("t1", "x", "").replace("  nodeSelector:\n    kubernetes.io/hostname: x\n", "");
    let started = std::time::Instant::now();
    p.apply(&vm).expect_ok();
    let uid = p.field("vm", "t1", "{.metadata.uid}");
    let _reaper = QemuReaper(uid.clone());

    p.wait_field("vm", "t1", "{.status.phase}", "Running", 240);
    let running = secs_since(started);
    p.wait_field(
        "vm",
        "t1",
        "{.status.conditions[?(@.type==\"AgentReady\")].status}",
        "True",
        240,
    );
    eprintln!(
        "figures: Running after {running}s, AgentReady after {}s",
        secs_since(started)
    );
    assert_eq!(p.field("vm", "t1", "{.status.guestOSInfo.id}"), "tiny");
    assert!(!p.field("vm", "t1", "{.status.nodeName}").is_empty());
    assert_eq!(qemu_pids(&uid).len(), 1, "one QEMU carries the VM uid");

    p.kubectl(&[
        "patch",
        "vm",
        "t1",
        "--type=merge",
        "-p",
        r#"{"spec":{"cpu":{"cores":2}}}"#,
    ])
    .expect_ok();
    p.wait_field(
        "vm",
        "t1",
        "{.status.restartAwaitingChanges[0].path}",
        "cpu.cores",
        30,
    );
    let t = std::time::Instant::now();
    let (ok, out) = d8(&p, &["v", "restart", "t1", "-w", "-y", "--timeout", "100s"]).unwrap();
    assert!(ok, "{out}");
    eprintln!("figures: d8 v restart -w took {}s", secs_since(t));
    p.wait_field(
        "vm",
        "t1",
        "{.status.resources.cpu.topology.coresPerSocket}",
        "2",
        60,
    );
    assert_eq!(p.field("vm", "t1", "{.status.restartAwaitingChanges}"), "");
    assert_eq!(qemu_pids(&uid).len(), 1, "the restart left one QEMU");

    p.wait_field(
        "vm",
        "t1",
        "{.status.conditions[?(@.type==\"AgentReady\")].status}",
        "True",
        240,
    );
    let t = std::time::Instant::now();
    let (ok, out) = d8(&p, &["v", "stop", "t1", "-w", "-y", "--timeout", "100s"]).unwrap();
    assert!(ok, "{out}");
    eprintln!("figures: d8 v stop -w took {}s", secs_since(t));
    assert_eq!(p.field("vm", "t1", "{.status.phase}"), "Stopped");
    assert!(
        eventually(10, || qemu_pids(&uid).is_empty()),
        "no QEMU after stop"
    );

    let (ok, out) = d8(&p, &["v", "start", "t1", "-w", "-y", "--timeout", "100s"]).unwrap();
    assert!(ok, "{out}");
    assert_eq!(p.field("vm", "t1", "{.status.phase}"), "Running");

    p.kubectl(&["delete", "vm", "t1", "--wait=true", "--timeout=100s"])
        .expect_ok();
    assert!(
        eventually(15, || qemu_pids(&uid).is_empty()),
        "deleting the VM ends its QEMU"
    );
}

#[test]
fn a_vm_gets_its_address_and_macs_before_it_starts_and_reports_whether_the_guest_has_it() {
    let p = Platform::start();
    register_node(&p, FAKE_NODE);
    p.apply(&blank_disk("netvm-root")).expect_ok();
    let networks = "  networks:\n    - type: Main\n    - type: Network\n      name: lan\n";
    p.apply(&vm_manifest("netvm", FAKE_NODE, networks))
        .expect_ok();
    p.wait_field("intvirtvmi", "netvm", "{.spec.nodeName}", FAKE_NODE, 90);

    // The automatic address object is named after the VM, attached, and its lease is bound.
    let ip = p.field("vm", "netvm", "{.status.ipAddress}");
    assert!(ip.starts_with("10.66.10."), "{ip}");
    let vmip = p.field("vm", "netvm", "{.status.virtualMachineIPAddressName}");
    assert!(vmip.starts_with("netvm-") && vmip.len() == 11, "{vmip}");
    p.wait_field("vmip", &vmip, "{.status.phase}", "Attached", 30);
    let lease = format!("ip-{}", ip.replace('.', "-"));
    assert_eq!(p.field("vmipl", &lease, "{.status.phase}"), "Bound");

    // The run carries the main interface with its address, then the additional one with the
    // MAC of its own vmmac.
    let inst = p.get_json(&["intvirtvmi", "netvm"]);
    let nets = inst["spec"]["networks"].as_array().expect("networks");
    assert_eq!(nets.len(), 2, "{nets:?}");
    assert_eq!(nets[0]["type"], "Main");
    assert_eq!(nets[0]["ipAddress"], ip.as_str());
    assert_eq!(nets[0]["cidr"], "10.66.10.0/24");
    assert_eq!(nets[1]["type"], "Network");
    assert_eq!(nets[1]["name"], "lan");
    let vmmac = p.field(
        "vm",
        "netvm",
        "{.status.networks[1].virtualMachineMACAddressName}",
    );
    assert!(vmmac.starts_with("netvm-"), "{vmmac}");
    let mac = p.field("vmmac", &vmmac, "{.status.address}");
    assert_eq!(nets[1]["macAddress"], mac.as_str());
    assert_eq!(
        p.field("vm", "netvm", "{.status.networks[0].macAddress}"),
        nets[0]["macAddress"].as_str().unwrap()
    );
    p.wait_field("vmmac", &vmmac, "{.status.phase}", "Attached", 30);

    // Running, the guest agent reports interfaces without the address: NotAssigned, then with it.
    let mut status = running_status();
    status["agent"]["interfaces"] =
        serde_json::json!([{"name": "eth0", "ipAddresses": ["10.0.2.15"]}]);
    set_instance_status(&p, "netvm", status.clone());
    let reason = "{.status.conditions[?(@.type==\"VirtualMachineIPAddressReady\")].reason}";
    p.wait_field(
        "vm",
        "netvm",
        reason,
        "VirtualMachineIPAddressNotAssigned",
        30,
    );
    status["agent"]["interfaces"] = serde_json::json!([{"name": "eth0", "ipAddresses": [ip]}]);
    set_instance_status(&p, "netvm", status);
    p.wait_field("vm", "netvm", reason, "VirtualMachineIPAddressReady", 30);
    // The IPADDRESS column.
    let table = p.kubectl(&["get", "vm", "netvm"]).expect_ok().stdout;
    assert!(table.contains(&ip), "{table}");
}

#[test]
fn a_vm_naming_a_missing_address_waits_and_says_so() {
    let p = Platform::start();
    register_node(&p, FAKE_NODE);
    p.apply(&blank_disk("m-root")).expect_ok();
    p.apply(&vm_manifest(
        "m",
        FAKE_NODE,
        "  virtualMachineIPAddressName: nowhere\n",
    ))
    .expect_ok();
    p.wait_field(
        "vm",
        "m",
        "{.status.conditions[?(@.type==\"VirtualMachineIPAddressReady\")].reason}",
        "VirtualMachineIPAddressNotAvailable",
        60,
    );
    assert_eq!(p.field("vm", "m", "{.status.phase}"), "Pending");
    let message = p.field(
        "vm",
        "m",
        "{.status.conditions[?(@.type==\"Running\")].message}",
    );
    assert!(message.contains("nowhere"), "{message}");
    assert!(
        p.kubectl(&["get", "intvirtvmi", "m"])
            .stderr
            .contains("NotFound")
    );
}
