//! IP address management through kubectl: VirtualMachineIPAddress objects lease addresses of
//! `virtualMachineCIDRs` (10.66.10.0/24 and 10.66.20.0/24 by default) as cluster-wide
//! VirtualMachineIPAddressLease objects named `ip-a-b-c-d`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use common::*;
use serde_json::Value;

fn auto_vmips(prefix: &str, count: usize, namespace: &str) -> String {
    (0..count)
        .map(|i| {
            format!(
                "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualMachineIPAddress\n\
                 metadata:\n  name: {prefix}-{i}\n  namespace: {namespace}\nspec:\n  type: Auto\n"
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

fn static_vmip(name: &str, namespace: &str, ip: &str) -> String {
    format!(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualMachineIPAddress\n\
         metadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  type: Static\n  staticIP: {ip}\n"
    )
}

/// name → (address, phase) of the vmips of `namespace` that have an address.
fn addresses(p: &Platform, namespace: &str) -> BTreeMap<String, (String, String)> {
    let list = p.get_json(&["vmip", "-n", namespace]);
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| {
            let a = v["status"]["address"].as_str()?;
            Some((
                v["metadata"]["name"].as_str().unwrap().to_string(),
                (
                    a.to_string(),
                    v["status"]["phase"].as_str().unwrap_or("").to_string(),
                ),
            ))
        })
        .collect()
}

/// lease name → the lease object.
fn leases(p: &Platform) -> BTreeMap<String, Value> {
    let list = p.get_json(&["vmipl"]);
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["metadata"]["name"].as_str().unwrap().to_string(),
                l.clone(),
            )
        })
        .collect()
}

fn lease_name(ip: &str) -> String {
    format!("ip-{}", ip.replace('.', "-"))
}

#[track_caller]
fn wait_bound(p: &Platform, namespace: &str, name: &str, ip: &str) {
    let ok = eventually(30, || {
        addresses(p, namespace).get(name) == Some(&(ip.to_string(), "Bound".to_string()))
    });
    assert!(
        ok,
        "{namespace}/{name} should be Bound to {ip}: {:?}",
        p.get_json(&["vmip", name, "-n", namespace])["status"]
    );
}

#[test]
fn fifty_vmips_created_at_once_get_distinct_addresses_each_with_its_lease() {
    let p = Platform::start();
    p.apply(&auto_vmips("burst", 50, "default")).expect_ok();
    assert!(
        eventually(60, || addresses(&p, "default").len() == 50),
        "every vmip should get an address; got {}",
        addresses(&p, "default").len()
    );
    let got = addresses(&p, "default");
    let distinct: BTreeSet<&String> = got.values().map(|(a, _)| a).collect();
    assert_eq!(distinct.len(), 50, "addresses must not repeat: {got:?}");
    assert!(
        !distinct.contains(&"10.66.10.0".to_string()),
        "the network address is never given"
    );
    assert!(
        eventually(30, || {
            let all = leases(&p);
            got.iter().all(|(name, (ip, phase))| {
                let l = &all.get(&lease_name(ip));
                phase == "Bound"
                    && l.is_some_and(|l| {
                        l["spec"]["virtualMachineIPAddressRef"]["name"] == name.as_str()
                            && l["spec"]["virtualMachineIPAddressRef"]["namespace"] == "default"
                            && l["status"]["phase"] == "Bound"
                    })
            }) && all.len() == 50
        }),
        "each address should have one Bound lease ip-a-b-c-d naming its vmip: {:?}",
        leases(&p).keys().collect::<Vec<_>>()
    );
}

#[test]
fn the_guide_static_address_is_leased_and_shown_by_kubectl_get() {
    let p = Platform::start();
    p.apply(&guide_manifest(guide_lines::VMIP_STATIC))
        .expect_ok();
    wait_bound(&p, "default", "linux-vm-custom-ip", "10.66.20.77");
    let table = p.kubectl(&["get", "vmip"]).expect_ok().stdout;
    assert_eq!(
        cell(&table, "linux-vm-custom-ip", "ADDRESS").as_deref(),
        Some("10.66.20.77")
    );
    assert_eq!(
        cell(&table, "linux-vm-custom-ip", "STATUS").as_deref(),
        Some("Bound")
    );
    assert!(eventually(20, || {
        let t = p.kubectl(&["get", "vmipl"]).expect_ok().stdout;
        cell(&t, "ip-10-66-20-77", "STATUS").as_deref() == Some("Bound")
            && t.contains(r#"{"name":"linux-vm-custom-ip","namespace":"default"}"#)
    }));
}

#[test]
fn a_static_address_outside_the_cidrs_is_refused_at_admission() {
    let p = Platform::start();
    let r = p
        .apply(&static_vmip("outside", "default", "192.168.1.5"))
        .expect_err();
    assert!(
        r.stderr.contains("is invalid") && r.stderr.contains("outside virtualMachineCIDRs"),
        "{}",
        r.stderr
    );
    assert!(!p.exists("vmip", "outside", Some("default")));
}

#[test]
fn a_taken_static_address_is_refused_to_another_vmip() {
    let p = Platform::start();
    p.apply(&static_vmip("first", "default", "10.66.10.50"))
        .expect_ok();
    wait_bound(&p, "default", "first", "10.66.10.50");
    let r = p
        .apply(&static_vmip("second", "default", "10.66.10.50"))
        .expect_err();
    assert!(r.stderr.contains("already leased"), "{}", r.stderr);
}

#[test]
fn an_auto_vmip_skips_addresses_held_by_static_ones() {
    let p = Platform::start();
    p.apply(&static_vmip("fixed", "default", "10.66.10.1"))
        .expect_ok();
    wait_bound(&p, "default", "fixed", "10.66.10.1");
    p.apply(&auto_vmips("auto", 1, "default")).expect_ok();
    wait_bound(&p, "default", "auto-0", "10.66.10.2");
}

#[test]
fn a_released_address_is_kept_for_its_namespace_and_refused_to_others() {
    let p = Platform::start();
    p.kubectl(&["create", "namespace", "other"]).expect_ok();
    p.apply(&guide_manifest(guide_lines::VMIP_STATIC))
        .expect_ok();
    wait_bound(&p, "default", "linux-vm-custom-ip", "10.66.20.77");
    p.kubectl(&["delete", "vmip", "linux-vm-custom-ip"])
        .expect_ok();
    assert!(
        eventually(30, || {
            let l = &leases(&p)["ip-10-66-20-77"];
            l["status"]["phase"] == "Released"
                && l["spec"]["virtualMachineIPAddressRef"]["namespace"] == "default"
                && l["spec"]["virtualMachineIPAddressRef"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .is_empty()
        }),
        "the lease should be Released and keep its namespace: {:?}",
        leases(&p).get("ip-10-66-20-77")
    );
    let r = p
        .apply(&static_vmip("thief", "other", "10.66.20.77"))
        .expect_err();
    assert!(r.stderr.contains("different namespace"), "{}", r.stderr);
    p.apply(&guide_manifest(guide_lines::VMIP_STATIC))
        .expect_ok();
    wait_bound(&p, "default", "linux-vm-custom-ip", "10.66.20.77");
    assert!(eventually(20, || {
        let l = &leases(&p)["ip-10-66-20-77"];
        l["status"]["phase"] == "Bound"
            && l["spec"]["virtualMachineIPAddressRef"]["name"] == "linux-vm-custom-ip"
    }));
}

/// A released Auto address is not handed to the next Auto request while retained.
#[test]
fn a_released_address_is_not_reallocated_during_retention() {
    let p = Platform::start();
    p.apply(&auto_vmips("a", 1, "default")).expect_ok();
    wait_bound(&p, "default", "a-0", "10.66.10.1");
    p.kubectl(&["delete", "vmip", "a-0"]).expect_ok();
    p.apply(&auto_vmips("b", 1, "default")).expect_ok();
    wait_bound(&p, "default", "b-0", "10.66.10.2");
}

fn owned_vmip(name: &str, owner: &str, owner_uid: &str) -> String {
    format!(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualMachineIPAddress\n\
         metadata:\n  name: {name}\n  ownerReferences:\n  - apiVersion: v1\n    kind: ConfigMap\n    \
         name: {owner}\n    uid: {owner_uid}\n    controller: true\nspec:\n  type: Auto\n"
    )
}

/// The guide's recipe to keep an address: remove the ownerReferences of the automatic vmip
/// before deleting its owner. (The owner here is a ConfigMap standing in for the VM.)
#[test]
fn removing_owner_references_keeps_the_address_when_the_owner_goes() {
    let p = Platform::start();
    for owner in ["kept-owner", "gone-owner"] {
        p.kubectl(&["create", "configmap", owner]).expect_ok();
    }
    let uid = |o: &str| p.jsonpath("configmap", o, "{.metadata.uid}");
    p.apply(&owned_vmip("kept-7prpx", "kept-owner", &uid("kept-owner")))
        .expect_ok();
    p.apply(&owned_vmip("gone-8qrst", "gone-owner", &uid("gone-owner")))
        .expect_ok();
    assert!(eventually(30, || addresses(&p, "default").len() == 2));
    let kept_ip = addresses(&p, "default")["kept-7prpx"].0.clone();
    let gone_ip = addresses(&p, "default")["gone-8qrst"].0.clone();
    p.kubectl(&[
        "patch",
        "vmip",
        "kept-7prpx",
        "--type=merge",
        "--patch",
        r#"{"metadata":{"ownerReferences":null}}"#,
    ])
    .expect_ok();
    p.kubectl(&["delete", "configmap", "kept-owner", "gone-owner"])
        .expect_ok();
    assert!(
        eventually(30, || !p.exists("vmip", "gone-8qrst", None)),
        "the vmip still owned goes with its owner"
    );
    assert!(eventually(30, || {
        leases(&p)[&lease_name(&gone_ip)]["status"]["phase"] == "Released"
    }));
    assert_eq!(
        addresses(&p, "default").get("kept-7prpx"),
        Some(&(kept_ip.clone(), "Bound".to_string())),
        "the vmip without ownerReferences keeps its address"
    );
    assert_eq!(
        leases(&p)[&lease_name(&kept_ip)]["status"]["phase"],
        "Bound"
    );
}

/// Benchmark (run with `--ignored --nocapture`): 1,000 Auto vmips created at once through a real
/// dvpd (ten `kubectl create` processes of 100 each); prints allocations per second and checks
/// that no address repeats and no lease is left over.
#[test]
#[ignore]
fn bench_thousand_vmips_created_at_once() {
    let p = Platform::start();
    p.kubectl(&[
        "patch",
        "moduleconfig",
        "virtualization",
        "--type=json",
        "-p",
        r#"[{"op":"add","path":"/spec/settings/virtualMachineCIDRs/-","value":"10.70.0.0/22"}]"#,
    ])
    .expect_ok();
    let started = Instant::now();
    std::thread::scope(|s| {
        for chunk in 0..10 {
            let p = &p;
            s.spawn(move || {
                let manifest = auto_vmips(&format!("bench{chunk}"), 100, "default");
                p.kubectl_stdin(&["create", "-f", "-"], &manifest)
                    .expect_ok();
            });
        }
    });
    let created = started.elapsed();
    let done = eventually(600, || addresses(&p, "default").len() == 1000);
    let total = started.elapsed();
    let got = addresses(&p, "default");
    let distinct: BTreeSet<&String> = got.values().map(|(a, _)| a).collect();
    println!(
        "ipam bench: 1000 vmips created in {:.2}s (10 parallel kubectl create); {} bound {:.2}s after the first create, \
         {:.2}s after the last => {:.0} allocations/s end to end; distinct addresses: {}",
        created.as_secs_f64(),
        got.len(),
        total.as_secs_f64(),
        (total - created).as_secs_f64(),
        got.len() as f64 / total.as_secs_f64(),
        distinct.len()
    );
    assert!(done, "all 1000 vmips should be bound");
    assert_eq!(distinct.len(), 1000, "addresses must not repeat");
    assert_eq!(leases(&p).len(), 1000, "one lease per address, none leaked");
}

fn vm_naming(name: &str, vmip: &str) -> String {
    format!(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualMachine\nmetadata:\n  name: {name}\nspec:\n  \
         virtualMachineClassName: generic\n  runPolicy: AlwaysOff\n  virtualMachineIPAddressName: {vmip}\n  cpu:\n    cores: 1\n  \
         memory:\n    size: 256Mi\n  blockDeviceRefs:\n    - kind: VirtualDisk\n      name: {name}-root\n"
    )
}

/// The guide's first recipe: a VM naming a Static vmip makes it Attached, shown in the VM column;
/// once the VM is gone the address is Bound again.
#[test]
fn a_vm_naming_a_static_vmip_attaches_it_until_it_is_deleted() {
    let p = Platform::start();
    p.apply(&guide_manifest(guide_lines::VMIP_STATIC))
        .expect_ok();
    wait_bound(&p, "default", "linux-vm-custom-ip", "10.66.20.77");
    p.apply(&vm_naming("linux-vm", "linux-vm-custom-ip"))
        .expect_ok();
    assert!(
        eventually(30, || {
            let t = p.kubectl(&["get", "vmip"]).expect_ok().stdout;
            cell(&t, "linux-vm-custom-ip", "STATUS").as_deref() == Some("Attached")
                && cell(&t, "linux-vm-custom-ip", "VM").as_deref() == Some("linux-vm")
        }),
        "{}",
        p.kubectl(&["get", "vmip", "-o", "yaml"]).stdout
    );
    p.kubectl(&["delete", "vm", "linux-vm", "--wait=true", "--timeout=60s"])
        .expect_ok();
    wait_bound(&p, "default", "linux-vm-custom-ip", "10.66.20.77");
    assert_eq!(
        p.jsonpath("vmip", "linux-vm-custom-ip", "{.status.virtualMachineName}"),
        ""
    );
}

/// vmips deleted right after creation (perhaps before their status names the address) leave no
/// Bound lease behind: every lease made for them is Released.
#[test]
fn vmips_deleted_at_once_leave_no_bound_lease() {
    let p = Platform::start();
    let manifest = auto_vmips("brief", 20, "default");
    p.kubectl_stdin(&["create", "-f", "-"], &manifest)
        .expect_ok();
    p.kubectl_stdin(&["delete", "-f", "-"], &manifest)
        .expect_ok();
    assert!(
        eventually(30, || leases(&p)
            .values()
            .all(|l| l["status"]["phase"] == "Released")),
        "{:?}",
        leases(&p)
            .iter()
            .map(|(n, l)| (n.clone(), l["status"]["phase"].clone()))
            .collect::<Vec<_>>()
    );
}

/// An address in use is not deleted under its VM: the vmip stays (Terminating, Attached, lease
/// Bound) until the VM is gone, then goes and its lease is Released.
#[test]
fn deleting_an_attached_vmip_waits_for_its_vm() {
    let p = Platform::start();
    p.apply(&guide_manifest(guide_lines::VMIP_STATIC))
        .expect_ok();
    p.apply(&vm_naming("linux-vm", "linux-vm-custom-ip"))
        .expect_ok();
    assert!(eventually(30, || {
        p.jsonpath("vmip", "linux-vm-custom-ip", "{.status.phase}") == "Attached"
            && p.jsonpath("vmip", "linux-vm-custom-ip", "{.metadata.finalizers}")
                .contains("virtualization.deckhouse.io/vmip-cleanup")
    }));
    p.kubectl(&["delete", "vmip", "linux-vm-custom-ip", "--wait=false"])
        .expect_ok();
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(p.exists("vmip", "linux-vm-custom-ip", None));
    assert_eq!(leases(&p)["ip-10-66-20-77"]["status"]["phase"], "Bound");
    p.kubectl(&["delete", "vm", "linux-vm", "--wait=true", "--timeout=60s"])
        .expect_ok();
    assert!(eventually(30, || !p.exists(
        "vmip",
        "linux-vm-custom-ip",
        None
    )));
    assert!(eventually(30, || {
        leases(&p)["ip-10-66-20-77"]["status"]["phase"] == "Released"
    }));
}

fn vmmac(name: &str, address: Option<&str>) -> String {
    let spec = match address {
        Some(a) => format!("spec:\n  address: {a}\n"),
        None => "spec: {}\n".to_string(),
    };
    format!(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualMachineMACAddress\n\
         metadata:\n  name: {name}\n{spec}"
    )
}

/// name → address of the vmmacs of the default namespace that have one.
fn macs(p: &Platform) -> BTreeMap<String, String> {
    p.get_json(&["vmmac"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| {
            Some((
                v["metadata"]["name"].as_str()?.to_string(),
                v["status"]["address"].as_str()?.to_string(),
            ))
        })
        .collect()
}

#[test]
fn mac_addresses_are_generated_with_one_prefix_leased_and_freed_with_their_object() {
    let p = Platform::start();
    let manifest: Vec<String> = (0..20).map(|i| vmmac(&format!("vm-{i}"), None)).collect();
    p.apply(&manifest.join("---\n")).expect_ok();
    assert!(eventually(60, || macs(&p).len() == 20), "{:?}", macs(&p));
    let got = macs(&p);
    let distinct: BTreeSet<&String> = got.values().collect();
    assert_eq!(distinct.len(), 20, "{got:?}");
    let prefixes: BTreeSet<&str> = got.values().map(|m| &m[..8]).collect();
    assert_eq!(prefixes.len(), 1, "one cluster prefix: {got:?}");
    let first = u8::from_str_radix(&got["vm-0"][..2], 16).unwrap();
    assert_eq!(first & 0b11, 0b10, "locally administered unicast");
    let lease = format!("mac-{}", got["vm-0"].replace(':', "-"));
    assert!(eventually(30, || {
        p.jsonpath("vmmacl", &lease, "{.status.phase}") == "Bound"
            && p.jsonpath("vmmacl", &lease, "{.spec.virtualMachineMACAddressRef.name}") == "vm-0"
    }));
    assert_eq!(p.jsonpath("vmmac", "vm-0", "{.status.phase}"), "Bound");
    p.kubectl(&["delete", "vmmac", "vm-0"]).expect_ok();
    assert!(
        eventually(30, || !p.exists("vmmacl", &lease, None)),
        "a MAC lease is deleted with its object (no retention)"
    );
}

#[test]
fn a_requested_mac_is_leased_and_refused_to_another_object() {
    let p = Platform::start();
    p.apply(&vmmac("wanted", Some("5E:E6:19:54:F9:BE")))
        .expect_ok();
    assert!(eventually(30, || {
        macs(&p).get("wanted").map(String::as_str) == Some("5e:e6:19:54:f9:be")
            && p.exists("vmmacl", "mac-5e-e6-19-54-f9-be", None)
    }));
    let r = p
        .apply(&vmmac("copy", Some("5e:e6:19:54:f9:be")))
        .expect_err();
    assert!(r.stderr.contains("already leased"), "{}", r.stderr);
}

/// Benchmark (run with `--ignored --nocapture`): the controller alone. 1,000 Auto vmips are
/// stored while IPAM is off (`--controllers=*,-ipam`); dvpd then restarts with every controller
/// and the time from ready to all bound is the allocation rate, kubectl aside.
#[test]
#[ignore]
fn bench_thousand_stored_vmips_allocated_by_the_controller() {
    let mut p = Platform::start_with(&["--controllers=*,-ipam"]);
    p.kubectl(&[
        "patch",
        "moduleconfig",
        "virtualization",
        "--type=json",
        "-p",
        r#"[{"op":"add","path":"/spec/settings/virtualMachineCIDRs/-","value":"10.70.0.0/22"}]"#,
    ])
    .expect_ok();
    std::thread::scope(|s| {
        for chunk in 0..10 {
            let p = &p;
            s.spawn(move || {
                let manifest = auto_vmips(&format!("stored{chunk}"), 100, "default");
                p.kubectl_stdin(&["create", "-f", "-"], &manifest)
                    .expect_ok();
            });
        }
    });
    assert!(addresses(&p, "default").is_empty(), "IPAM is off");
    p.stop();
    let log = std::fs::File::create(p.dir.path().join("dvpd-all.log")).unwrap();
    let mut all = std::process::Command::new(dvpd_bin())
        .args(["up", "--data-dir"])
        .arg(p.data_dir())
        .args(["--listen", &format!("127.0.0.1:{}", p.port)])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    assert!(eventually(60, || http_get(p.port, "/readyz", None)
        .is_ok_and(|(code, _)| code == 200)));
    let ready = Instant::now();
    let done = eventually(600, || addresses(&p, "default").len() == 1000);
    let took = ready.elapsed();
    let got = addresses(&p, "default");
    let distinct: BTreeSet<&String> = got.values().map(|(a, _)| a).collect();
    let lease_count = leases(&p).len();
    let _ = all.kill();
    let _ = all.wait();
    println!(
        "ipam bench (controller alone): {} of 1000 stored vmips bound {:.2}s after dvpd was ready => {:.0} allocations/s; distinct addresses: {}; leases: {lease_count}",
        got.len(),
        took.as_secs_f64(),
        got.len() as f64 / took.as_secs_f64(),
        distinct.len()
    );
    assert!(done, "all 1000 vmips should be bound");
    assert_eq!(distinct.len(), 1000, "addresses must not repeat");
    assert_eq!(lease_count, 1000, "one lease per address, none leaked");
}

#[test]
fn addresses_survive_a_restart_without_new_leases() {
    let mut p = Platform::start();
    p.apply(&auto_vmips("keep", 10, "default")).expect_ok();
    assert!(eventually(30, || addresses(&p, "default").len() == 10));
    let before = addresses(&p, "default");
    p.stop();
    p.spawn();
    p.apply(&auto_vmips("new", 1, "default")).expect_ok();
    assert!(eventually(30, || addresses(&p, "default").len() == 11));
    let after = addresses(&p, "default");
    for (name, addr) in &before {
        assert_eq!(after.get(name), Some(addr), "{name} keeps its address");
    }
    let distinct: BTreeSet<&String> = after.values().map(|(a, _)| a).collect();
    assert_eq!(
        distinct.len(),
        11,
        "the new vmip gets a free address: {after:?}"
    );
    assert_eq!(leases(&p).len(), 11, "no lease is made twice");
}

#[test]
fn a_deleted_lease_is_made_again_for_its_vmip() {
    let p = Platform::start();
    p.apply(&auto_vmips("solo", 1, "default")).expect_ok();
    wait_bound(&p, "default", "solo-0", "10.66.10.1");
    p.kubectl(&["delete", "vmipl", "ip-10-66-10-1"]).expect_ok();
    assert!(eventually(30, || {
        leases(&p)
            .get("ip-10-66-10-1")
            .is_some_and(|l| l["status"]["phase"] == "Bound")
    }));
    wait_bound(&p, "default", "solo-0", "10.66.10.1");
}
