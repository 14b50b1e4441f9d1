//! The guide's quick start on a real Debian guest (`../shared/guest-images/build-debian.sh`:
//! cloud-init, sshd, qemu-guest-agent): the guide's `linux-vm` with its cloud-config gets its
//! leased address by DHCP, and `d8 v ssh cloud@linux-vm --local-ssh --command nproc` logs in with
//! the guide's password (`cloud`), then with a key the cloud-config installs.
//!
//! Skipped when the Debian image, QEMU or `d8` is missing. Boots in about a minute under TCG.

mod common;
mod images_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{Platform, d8_bin, eventually};
use images_support::FileServer;

/// Stops the VM's QEMU if the test fails before the platform does.
struct QemuReaper(String);

impl Drop for QemuReaper {
    fn drop(&mut self) {
        let _ = Command::new("pkill")
            .args(["-9", "-f", &format!("uuid {}", self.0)])
            .status();
    }
}

/// `d8 v ssh` with the guide's password given through `SSH_ASKPASS`, host keys not remembered.
fn d8_ssh(p: &Platform, askpass: &Path, extra: &[&str]) -> (bool, String) {
    let out = Command::new("timeout")
        .arg("120")
        .arg(d8_bin())
        .args(["v", "ssh", "cloud@linux-vm", "--local-ssh"])
        .args(extra)
        .args([
            "--local-ssh-opts",
            "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=20",
        ])
        .env("KUBECONFIG", p.kubeconfig())
        .env("HOME", p.home())
        .env("SSH_ASKPASS", askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", ":0")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run d8");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn the_guide_linux_vm_gets_its_address_and_answers_d8_v_ssh() {
    let image = images_support::cache_dir().join("debian/debian-12.qcow2");
    let has_ssh = Command::new("ssh").arg("-V").output().is_ok();
    if !image.is_file() || !d8_bin().exists() || !has_ssh {
        eprintln!(
            "skipped: needs {} (build-debian.sh), ssh and d8",
            image.display()
        );
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let askpass = scratch.path().join("askpass");
    std::fs::write(&askpass, "#!/bin/sh\necho cloud\n").unwrap();
    std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o755)).unwrap();
    let key = scratch.path().join("id_ed25519");
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(made.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();

    let www = tempfile::tempdir().unwrap();
    let server = FileServer::start(www.path());
    server.copy(&image, "debian.qcow2");
    let p = Platform::start();
    p.apply(&images_support::vi_http(
        "debian",
        &server.url("f/debian.qcow2"),
    ))
    .expect_ok();
    p.wait_field("vi", "debian", "{.status.phase}", "Ready", 300);
    p.apply(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualDisk\nmetadata:\n  name: linux-disk\nspec:\n  dataSource:\n    type: ObjectRef\n    objectRef:\n      kind: VirtualImage\n      name: debian\n",
    )
    .expect_ok();
    // The guide's VM and cloud-config, plus a key for the second login.
    let vm = format!(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualMachine\nmetadata:\n  name: linux-vm\nspec:\n  virtualMachineClassName: generic\n  cpu:\n    cores: 1\n  memory:\n    size: 1Gi\n  provisioning:\n    type: UserData\n    userData: |\n      #cloud-config\n      ssh_pwauth: True\n      users:\n        - name: cloud\n          passwd: \"$6$rounds=4096$saltsalt$fPmUsbjAuA7mnQNTajQM6ClhesyG0.yyQhvahas02ejfMAq1ykBo1RquzS0R6GgdIDlvS.kbUwDablGZKZcTP/\"\n          shell: /bin/bash\n          sudo: ALL=(ALL) NOPASSWD:ALL\n          lock_passwd: False\n          ssh_authorized_keys:\n            - {}\n  blockDeviceRefs:\n    - kind: VirtualDisk\n      name: linux-disk\n",
        public.trim()
    );
    let started = std::time::Instant::now();
    p.apply(&vm).expect_ok();
    let uid = p.field("vm", "linux-vm", "{.metadata.uid}");
    let _reaper = QemuReaper(uid);
    p.wait_field("vm", "linux-vm", "{.status.phase}", "Running", 300);
    let ip = p.field("vm", "linux-vm", "{.status.ipAddress}");
    assert!(!ip.is_empty());

    // The guest agent reports the leased address on an interface: the guest took it by DHCP.
    p.wait_field(
        "vm",
        "linux-vm",
        "{.status.conditions[?(@.type==\"VirtualMachineIPAddressReady\")].reason}",
        "VirtualMachineIPAddressReady",
        300,
    );
    let addressed = started.elapsed().as_secs();

    // Password login (the guide's `cloud` user), retried while sshd and cloud-init finish.
    let mut last = String::new();
    let logged_in = eventually(480, || {
        let (ok, out) = d8_ssh(&p, &askpass, &["--command", "nproc"]);
        last = out;
        ok && last.lines().any(|l| l.trim() == "1")
    });
    assert!(logged_in, "d8 v ssh with the password failed: {last}");
    eprintln!(
        "figures: address on the guest after {addressed}s, ssh answered after {}s",
        started.elapsed().as_secs()
    );

    // Key login, no password offered.
    let (ok, out) = d8_ssh(
        &p,
        Path::new("/bin/false"),
        &["-i", key.to_str().unwrap(), "--command", "hostname -I"],
    );
    assert!(ok, "d8 v ssh with the key failed: {out}");
    assert!(out.contains(&ip), "the guest carries {ip}: {out}");
}
