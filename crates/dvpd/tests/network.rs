//! End to end: the main VM network of a node. Two tiny guests started as instances get taps on
//! the bridge `dvp-main`, each receives exactly its `ipAddress` from the agent's DHCP server, the
//! host reaches both at those addresses (HTTP on port 80), one guest reaches the other across
//! the bridge, the Node says `VMNetworkReady=True`, and deleting the instances removes their
//! taps (and a tap an earlier run left behind goes when the agent starts, while the taps of
//! guests that outlived a `kill -9` of dvpd stay). Needs root (bridges, taps) and the tiny guest image; runs under TCG.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

const TINY: &str = "/var/cache/guest-images/tiny/tiny.qcow2";

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

/// Some bits that differ between runs (and between tests running at once).
fn random_bits() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    dvp_node::net::names::fnv1a(&(nanos ^ u64::from(std::process::id())).to_le_bytes())
}

fn uuid_from(bits: u64, n: u8) -> String {
    let hex = format!("{bits:016x}{:016x}", u64::from(n) << 8 | 0x4000);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

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
        if line.starts_with("qemu-system") && line.contains(text) {
            pids.push(pid);
        }
    }
    pids
}

/// Undoes what the test leaves on the host if it ends early: its QEMUs and the gateway
/// address of its block (other agents' addresses stay).
struct Cleanup {
    vm_uids: Vec<String>,
    gateway: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for uid in &self.vm_uids {
            for pid in qemu_pids_with(uid) {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        }
        let _ = Command::new("ip")
            .args(["addr", "del", &self.gateway, "dev", "dvp-main"])
            .status();
    }
}

fn overlay(dir: &Path, base: &Path, name: &str) -> PathBuf {
    let path = dir.join(format!("{name}.qcow2"));
    let status = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b"])
        .arg(base)
        .arg(&path)
        .status()
        .expect("run qemu-img");
    assert!(status.success());
    path
}

struct Guest {
    name: String,
    vm_uid: String,
    mac: String,
    ip: String,
}

fn manifest(node: &str, guest: &Guest, cidr: &str, disk: &Path) -> String {
    manifest_sized(node, guest, cidr, disk, 256 << 20)
}

fn manifest_sized(node: &str, guest: &Guest, cidr: &str, disk: &Path, memory: u64) -> String {
    format!(
        r#"apiVersion: internal.virtualization.deckhouse.io/v1
kind: InternalVirtualizationVirtualMachineInstance
metadata:
  name: {name}
  namespace: default
  labels:
    virtualization.deckhouse.io/node: {node}
  finalizers: [virtualization.deckhouse.io/vmi-cleanup]
spec:
  vmUid: {vm_uid}
  vmName: {name}
  nodeName: {node}
  machine: q35
  firmware: BIOS
  paravirtualization: true
  cpu: {{model: qemu64, sockets: 1, coresPerSocket: 1, coreFraction: 10}}
  memoryBytes: {memory}
  disks:
  - {{name: {name}-root, source: VirtualDisk, path: {disk}, format: qcow2}}
  networks:
  - {{type: Main, macAddress: "{mac}", ipAddress: "{ip}", cidr: "{cidr}"}}
  cloudInit:
    userData: |
      #cloud-config
      hostname: {name}
  terminationGracePeriodSeconds: 20
"#,
        name = guest.name,
        vm_uid = guest.vm_uid,
        mac = guest.mac,
        ip = guest.ip,
        disk = disk.display(),
    )
}

/// `GET /` on port 80 of `ip`, with short timeouts.
fn http_body(ip: &str) -> Option<String> {
    let addr: SocketAddr = format!("{ip}:80").parse().ok()?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(stream, "GET / HTTP/1.0\r\nHost: {ip}\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    Some(text)
}

/// Types `command` on the guest's serial console (root autologin) and returns what came
/// back within `secs` or once `until` appeared.
fn on_console(serial: &Path, command: &str, until: &str, secs: u64) -> String {
    let Ok(mut stream) = UnixStream::connect(serial) else {
        return String::new();
    };
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let _ = stream.write_all(format!("\n{command}\n").as_bytes());
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        if let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&seen).contains(until) {
                break;
            }
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// The time of day of a log line (`2026-11-21T22:11:09.863336Z ...`, maybe colored), in seconds.
fn seconds_of_day(line: &str) -> Option<f64> {
    let at = line.find('T')?;
    let clock = line.get(at + 1..at + 16)?;
    let mut parts = clock.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

#[test]
fn guests_on_the_main_bridge_get_their_address_by_dhcp_and_reach_each_other() {
    let image = tiny_image();
    // a tap an ended run left behind while no agent ran: the next agent deletes it
    let bits = random_bits();
    let stale = format!("dvp{:010x}9", bits >> 24);
    let made = Command::new("ip")
        .args(["tuntap", "add", "dev", &stale, "mode", "tap"])
        .status()
        .unwrap()
        .success()
        && Command::new("ip")
            .args(["link", "set", &stale, "alias", "dvp-created=1000"])
            .status()
            .unwrap()
            .success();
    assert!(made, "cannot make a tap on this host (root needed)");
    let mut p = Platform::start_without_vm_controllers();
    let mut node = String::new();
    assert!(
        eventually(60, || {
            node = p
                .kubectl(&["get", "nodes", "-o", "jsonpath={.items[0].metadata.name}"])
                .stdout;
            !node.is_empty()
        }),
        "no Node; log:\n{}",
        p.log()
    );

    assert!(
        !Path::new("/sys/class/net").join(&stale).exists(),
        "the agent left the stale tap {stale}"
    );
    let block = format!("10.201.{}.0/24", 10 + bits % 240);
    let prefix = block.trim_end_matches("0/24");
    let gateway = format!("{prefix}254");
    let guests: Vec<Guest> = ["n1", "n2"]
        .iter()
        .enumerate()
        .map(|(i, name)| Guest {
            name: name.to_string(),
            vm_uid: uuid_from(bits, i as u8),
            mac: format!(
                "52:54:00:{:02x}:{:02x}:{:02x}",
                (bits >> 8) as u8,
                (bits >> 16) as u8,
                i as u8 + 1
            ),
            ip: format!("{prefix}{}", 11 + i),
        })
        .collect();
    let _cleanup = Cleanup {
        vm_uids: guests.iter().map(|g| g.vm_uid.clone()).collect(),
        gateway: format!("{gateway}/24"),
    };

    let started = Instant::now();
    for guest in &guests {
        let disk = overlay(p.dir.path(), &image, &guest.name);
        p.apply(&manifest(&node, guest, &block, &disk)).expect_ok();
    }
    for guest in &guests {
        let mode = || p.jsonpath("intvirtvmi", &guest.name, "{.status.networkMode}");
        assert!(
            eventually(120, || mode() == "Bridge"),
            "{}: networkMode {:?}; status {}; log:\n{}",
            guest.name,
            mode(),
            p.jsonpath("intvirtvmi", &guest.name, "{.status}"),
            p.log()
        );
    }
    let ready = p.jsonpath(
        "node",
        &node,
        "{.status.conditions[?(@.type==\"VMNetworkReady\")].status}",
    );
    let ready_ok = eventually(30, || {
        p.jsonpath(
            "node",
            &node,
            "{.status.conditions[?(@.type==\"VMNetworkReady\")].status}",
        ) == "True"
    });
    assert!(ready_ok, "VMNetworkReady {ready:?}");

    // the host holds the gateway, each guest its tap on the bridge
    let addresses = Command::new("ip")
        .args(["-4", "-o", "addr", "show", "dev", "dvp-main"])
        .output()
        .unwrap();
    let addresses = String::from_utf8_lossy(&addresses.stdout).into_owned();
    assert!(addresses.contains(&format!("{gateway}/24")), "{addresses}");
    let uids: Vec<String> = guests
        .iter()
        .map(|g| p.jsonpath("intvirtvmi", &g.name, "{.metadata.uid}"))
        .collect();
    let taps: Vec<String> = uids
        .iter()
        .map(|uid| dvp_node::net::names::tap_for(uid, 0))
        .collect();
    let bridged = Command::new("ip")
        .args(["-o", "link", "show", "master", "dvp-main"])
        .output()
        .unwrap();
    let bridged = String::from_utf8_lossy(&bridged.stdout).into_owned();
    for tap in &taps {
        assert!(
            bridged.contains(tap.as_str()),
            "{tap} not on dvp-main: {bridged}"
        );
    }

    // each guest answers at exactly its leased address
    for (guest, uid) in guests.iter().zip(&uids) {
        let answered = eventually(180, || {
            http_body(&guest.ip).is_some_and(|b| b.contains("tiny-guest"))
        });
        let serial_log = p.data_dir().join("run/vms").join(uid).join("serial.log");
        let serial = std::fs::read_to_string(&serial_log).unwrap_or_default();
        assert!(
            answered,
            "{} does not answer at {}; serial:\n{serial}\nlog:\n{}",
            guest.name,
            guest.ip,
            p.log()
        );
        eprintln!(
            "{}: apply → HTTP answer at {}: {:?}",
            guest.name,
            guest.ip,
            started.elapsed()
        );
        let log = p.log();
        let started_at = log
            .lines()
            .find(|l| {
                l.contains("QEMU started")
                    && l.contains(&format!(
                        "instance{}{}",
                        "\u{1b}[0m\u{1b}[2m=\u{1b}[0m", guest.name
                    ))
            })
            .and_then(seconds_of_day);
        let acked_at = log
            .lines()
            .find(|l| l.contains("DHCP answer") && l.contains(&guest.mac) && l.contains("Ack"))
            .and_then(seconds_of_day);
        if let (Some(start), Some(ack)) = (started_at, acked_at) {
            eprintln!(
                "{}: QEMU start → DHCP ACK: {:.1} s",
                guest.name,
                ack - start
            );
        }
        let line = serial
            .lines()
            .find(|l| l.contains("TINY-GUEST: eth0"))
            .unwrap_or_default()
            .to_string();
        assert!(
            line.contains(&format!("addr={}/24", guest.ip)),
            "{}: DHCP gave {line:?}",
            guest.name
        );
    }

    // guest to guest across the bridge: n1 fetches n2's page (the command echo has no marker)
    let serial = p
        .data_dir()
        .join("run/vms")
        .join(&uids[0])
        .join("serial.sock");
    let mut output = String::new();
    let reached = eventually(60, || {
        output = on_console(
            &serial,
            &format!("wget -q -O - http://{}/", guests[1].ip),
            "tiny-guest",
            10,
        );
        output.contains("tiny-guest")
    });
    assert!(reached, "n1 could not fetch n2's page; console:\n{output}");

    // dvpd dies hard: the guests, their taps and addresses stay, and the next agent neither
    // sweeps the taps of running QEMUs nor stops serving their leases
    p.crash_and_restart();
    std::thread::sleep(Duration::from_secs(3));
    let bridged = Command::new("ip")
        .args(["-o", "link", "show", "master", "dvp-main"])
        .output()
        .unwrap();
    let bridged = String::from_utf8_lossy(&bridged.stdout).into_owned();
    for (tap, guest) in taps.iter().zip(&guests) {
        assert!(bridged.contains(tap.as_str()), "{tap} gone after restart");
        assert!(
            http_body(&guest.ip).is_some_and(|b| b.contains("tiny-guest")),
            "{} unreachable after the agent restarted",
            guest.name
        );
    }

    // the end of the runs removes their taps
    for guest in &guests {
        p.kubectl(&[
            "delete",
            "intvirtvmi",
            &guest.name,
            "--wait=true",
            "--timeout=120s",
        ])
        .expect_ok();
    }
    let links = Command::new("ip").args(["-o", "link"]).output().unwrap();
    let links = String::from_utf8_lossy(&links.stdout).into_owned();
    for tap in &taps {
        assert!(!links.contains(tap.as_str()), "{tap} left behind");
    }
}

const DEBIAN: &str = "/var/cache/guest-images/debian/debian-12.qcow2";

/// systemd-networkd's DHCP client (the Debian image) gets its address from the agent too.
/// Ignored by default: the image takes ~90 s to build and ~60 s to boot under TCG
/// (`cargo test -p dvpd --test network -- --ignored`).
#[test]
#[ignore]
fn a_debian_guest_gets_its_address_from_systemd_networkd() {
    let image = PathBuf::from(DEBIAN);
    if !image.exists() {
        let script = shared_dir().join("guest-images/build-debian.sh");
        let status = Command::new(&script)
            .env("GUEST_IMAGES_CACHE", "/var/cache/guest-images")
            .status()
            .expect("run build-debian.sh");
        assert!(status.success(), "{} failed", script.display());
    }
    let p = Platform::start_without_vm_controllers();
    let mut node = String::new();
    assert!(eventually(60, || {
        node = p
            .kubectl(&["get", "nodes", "-o", "jsonpath={.items[0].metadata.name}"])
            .stdout;
        !node.is_empty()
    }));
    let bits = random_bits();
    let block = format!("10.202.{}.0/24", 10 + bits % 240);
    let prefix = block.trim_end_matches("0/24");
    let guest = Guest {
        name: "deb".into(),
        vm_uid: uuid_from(bits, 7),
        mac: format!(
            "52:54:00:{:02x}:{:02x}:07",
            (bits >> 8) as u8,
            (bits >> 16) as u8
        ),
        ip: format!("{prefix}21"),
    };
    let _cleanup = Cleanup {
        vm_uids: vec![guest.vm_uid.clone()],
        gateway: format!("{prefix}254/24"),
    };
    let disk = overlay(p.dir.path(), &image, "deb");
    let started = Instant::now();
    p.apply(&manifest_sized(&node, &guest, &block, &disk, 1 << 30))
        .expect_ok();
    let answered = eventually(300, || {
        http_body(&guest.ip).is_some_and(|b| b.contains("nginx"))
    });
    assert!(
        answered,
        "debian does not answer at {}; status {}",
        guest.ip,
        p.jsonpath("intvirtvmi", "deb", "{.status}")
    );
    eprintln!(
        "debian: apply → HTTP answer at {}: {:?}",
        guest.ip,
        started.elapsed()
    );
    let reported = || {
        p.jsonpath(
            "intvirtvmi",
            "deb",
            "{.status.agent.interfaces[*].ipAddresses}",
        )
    };
    assert!(
        eventually(120, || reported().contains(&guest.ip)),
        "the guest agent reports {:?}",
        reported()
    );
}
