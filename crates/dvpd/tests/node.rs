//! End to end: the node agent inside `dvpd up` registers the Node, runs an instance as a real
//! QEMU (TCG works everywhere) on the tiny guest image, reports the guest agent, keeps the guest
//! across a `kill -9` of dvpd (adoption, no second QEMU), and stops it when the instance is
//! deleted.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

const TINY: &str = "/var/cache/guest-images/tiny/tiny.qcow2";

/// The tiny guest image, built on first use.
fn tiny_image() -> PathBuf {
    let image = PathBuf::from(TINY);
    if !image.exists() {
        let script = shared_dir().join("guest-images/build-tiny.sh");
        let status = Command::new(&script)
            .env("GUEST_IMAGES_CACHE", "/var/cache/guest-images")
            .status()
            .expect("run build-tiny.sh");
        assert!(status.success(), "{} failed", script.display());
    }
    image
}

/// Pids of live QEMU processes whose command line contains `text`.
fn qemu_pids_with(text: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let line = String::from_utf8_lossy(&raw).replace('\0', " ");
        let zombie = std::fs::read_to_string(entry.path().join("stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(false);
        if line.starts_with("qemu-system") && line.contains(text) && !zombie {
            pids.push(pid);
        }
    }
    pids
}

/// Kills the test's QEMU if the test ends early (QEMU outlives dvpd by design).
struct KillQemuOnDrop(String);

impl Drop for KillQemuOnDrop {
    fn drop(&mut self) {
        for pid in qemu_pids_with(&self.0) {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

/// A UUID unique to this run, so the test recognises its own QEMU.
fn fresh_uuid() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let hex = format!("{:032x}", nanos ^ (u128::from(std::process::id()) << 64));
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn overlay(dir: &Path, base: &Path) -> PathBuf {
    let path = dir.join("root.qcow2");
    let status = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b"])
        .arg(base)
        .arg(&path)
        .status()
        .expect("run qemu-img");
    assert!(status.success());
    path
}

fn instance_manifest(node: &str, vm_uid: &str, disk: &Path) -> String {
    format!(
        r#"apiVersion: internal.virtualization.deckhouse.io/v1
kind: InternalVirtualizationVirtualMachineInstance
metadata:
  name: t1
  namespace: default
  labels:
    virtualization.deckhouse.io/node: {node}
  finalizers: [virtualization.deckhouse.io/vmi-cleanup]
spec:
  vmUid: {vm_uid}
  vmName: t1
  nodeName: {node}
  machine: q35
  firmware: BIOS
  paravirtualization: true
  cpu: {{model: qemu64, sockets: 1, coresPerSocket: 1, coreFraction: 10}}
  memoryBytes: 268435456
  disks:
  - {{name: t1-root, source: VirtualDisk, path: {disk}, format: qcow2}}
  cloudInit:
    userData: |
      #cloud-config
      hostname: t1
  terminationGracePeriodSeconds: 30
"#,
        disk = disk.display()
    )
}

#[test]
fn an_instance_runs_as_qemu_survives_dvpd_and_stops_on_deletion() {
    let image = tiny_image();
    let mut p = Platform::start();
    let mut node = String::new();
    assert!(
        eventually(60, || {
            node = p
                .kubectl(&["get", "nodes", "-o", "jsonpath={.items[0].metadata.name}"])
                .stdout;
            !node.is_empty()
        }),
        "the agent registered no Node; log:\n{}",
        p.log()
    );
    let labels = p.jsonpath("node", &node, "{.metadata.labels}");
    assert!(labels.contains("node.dvp.io/accel"), "{labels}");

    let vm_uid = fresh_uuid();
    let _cleanup = KillQemuOnDrop(vm_uid.clone());
    let disk = overlay(p.dir.path(), &image);
    let started = Instant::now();
    p.apply(&instance_manifest(&node, &vm_uid, &disk))
        .expect_ok();

    let phase = || p.jsonpath("intvirtvmi", "t1", "{.status.phase}");
    assert!(
        eventually(180, || phase() == "Running"),
        "phase {:?}; status {}; log:\n{}",
        phase(),
        p.jsonpath("intvirtvmi", "t1", "{.status}"),
        p.log()
    );
    let running_after = started.elapsed();
    let os_id = || p.jsonpath("intvirtvmi", "t1", "{.status.agent.osInfo.id}");
    assert!(
        eventually(180, || os_id() == "tiny"),
        "guest agent not reported; status {}",
        p.jsonpath("intvirtvmi", "t1", "{.status}")
    );
    let agent_after = started.elapsed();
    eprintln!(
        "apply → Running: {running_after:?}; apply → guest agent with osInfo: {agent_after:?}"
    );

    let pid: u32 = p
        .jsonpath("intvirtvmi", "t1", "{.status.pid}")
        .parse()
        .unwrap();
    assert_eq!(qemu_pids_with(&vm_uid), vec![pid]);
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    assert!(cmdline.contains("-name default_t1"), "{cmdline}");
    let accel_label = p.jsonpath("node", &node, "{.metadata.labels.node\\.dvp\\.io/accel}");
    assert_eq!(
        p.jsonpath("intvirtvmi", "t1", "{.status.accel}"),
        accel_label
    );

    // dvpd dies hard; the guest does not, and the next agent adopts it
    p.crash_and_restart();
    assert_eq!(
        qemu_pids_with(&vm_uid),
        vec![pid],
        "QEMU survives kill -9 of dvpd"
    );
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        qemu_pids_with(&vm_uid),
        vec![pid],
        "adopted, not started again"
    );
    assert_eq!(p.jsonpath("intvirtvmi", "t1", "{.status.phase}"), "Running");

    let stop = Instant::now();
    p.kubectl(&[
        "delete",
        "intvirtvmi",
        "t1",
        "--wait=true",
        "--timeout=120s",
    ])
    .expect_ok();
    eprintln!("delete → object gone: {:?}", stop.elapsed());
    assert!(
        qemu_pids_with(&vm_uid).is_empty(),
        "QEMU ended with its instance"
    );
    let run_dirs = std::fs::read_dir(p.data_dir().join("run/vms"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(run_dirs, 0, "run dir removed");
}
