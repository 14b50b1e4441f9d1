//! Crash safety: every write the API acknowledged before `kill -9` is present after a restart on
//! the same data dir, and nothing that was acknowledged as deleted comes back.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::json;

const VIS: &str = "/apis/virtualization.deckhouse.io/v1alpha2/namespaces/default/virtualimages";

fn vmips(names: &[String]) -> String {
    names
        .iter()
        .map(|n| {
            format!(
                "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualMachineIPAddress\nmetadata:\n  name: {n}\nspec:\n  type: Auto\n"
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

#[test]
fn acknowledged_kubectl_writes_survive_kill_9() {
    let mut p = Platform::start_without_vm_controllers();
    p.apply_quick_start();
    p.kubectl(&[
        "patch",
        "vm",
        "linux-vm",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"cpu":{"cores":2}}}"#,
    ])
    .expect_ok();
    p.kubectl(&["label", "vm", "linux-vm", "app=nginx"])
        .expect_ok();
    p.kubectl(&[
        "patch",
        "vm",
        "linux-vm",
        "--subresource=status",
        "--type",
        "merge",
        "-p",
        r#"{"status":{"phase":"Running"}}"#,
    ])
    .expect_ok();
    let names: Vec<String> = (0..10).map(|i| format!("ip-{i}")).collect();
    p.apply(&vmips(&names)).expect_ok();
    // A VM reported Running holds its disk, so the acknowledged delete is of another object.
    p.apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: doomed\ndata:\n  a: b\n")
        .expect_ok();
    p.kubectl(&["delete", "configmap", "doomed"]).expect_ok();
    let uid = p.jsonpath("vm", "linux-vm", "{.metadata.uid}");

    p.crash_and_restart();

    assert_eq!(
        p.jsonpath("vm", "linux-vm", "{.spec.cpu.cores}"),
        "2",
        "patched cores lost"
    );
    assert_eq!(
        p.jsonpath("vm", "linux-vm", "{.metadata.labels.app}"),
        "nginx",
        "label lost"
    );
    assert_eq!(
        p.jsonpath("vm", "linux-vm", "{.status.phase}"),
        "Running",
        "status lost"
    );
    assert_eq!(
        p.jsonpath("vm", "linux-vm", "{.metadata.uid}"),
        uid,
        "the object was recreated"
    );
    let listed = p.kubectl(&["get", "vmip", "-o", "name"]).expect_ok().stdout;
    assert_eq!(listed.lines().count(), 10, "{listed}");
    assert!(
        !p.exists("configmap", "doomed", None),
        "an acknowledged delete came back"
    );
    assert!(p.exists("vi", "ubuntu", None));
}

#[test]
fn resource_versions_keep_growing_after_a_crash() {
    let mut p = Platform::start();
    p.apply_quick_start();
    let before = p.revision();
    p.crash_and_restart();
    assert!(
        p.revision() >= before,
        "the revision went backwards after restart"
    );
    p.kubectl(&["label", "vm", "linux-vm", "after=crash"])
        .expect_ok();
    let rv: u64 = p
        .jsonpath("vm", "linux-vm", "{.metadata.resourceVersion}")
        .parse()
        .unwrap();
    assert!(
        rv > before,
        "a write after restart must get a newer resourceVersion ({rv} <= {before})"
    );
}

#[test]
fn concurrent_acknowledged_creates_survive_kill_9_mid_stream() {
    let mut p = Platform::start();
    let port = p.port;
    let token = p.token();
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|t| {
            let (acknowledged, stop, token) = (acknowledged.clone(), stop.clone(), token.clone());
            std::thread::spawn(move || {
                for i in 0..10_000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let name = format!("w{t}-{i}");
                    let body = json!({"apiVersion": "virtualization.deckhouse.io/v1alpha2", "kind": "VirtualImage",
                        "metadata": {"name": name},
                        "spec": {"storage": "ContainerRegistry",
                                 "dataSource": {"type": "HTTP", "http": {"url": "http://127.0.0.1:9/a.img"}}}});
                    match http_request(port, "POST", VIS, Some(&token), Some("application/json"), Some(body.to_string().as_bytes())) {
                        Ok((201, _)) => {
                            acknowledged.lock().unwrap().insert(name);
                        }
                        // The daemon is gone (or going): stop writing.
                        _ => break,
                    }
                }
            })
        })
        .collect();
    assert!(
        eventually(60, || acknowledged.lock().unwrap().len() >= 30),
        "the writers made no progress: {}",
        p.log()
    );
    p.kill9();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acknowledged.lock().unwrap().clone();
    p.spawn();

    let list = p.get_json(&["vi"]);
    let present: BTreeSet<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    let lost: Vec<&String> = acked.difference(&present).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged creates were lost after kill -9: {lost:?}",
        lost.len(),
        acked.len()
    );
}

#[test]
fn a_graceful_restart_keeps_everything_and_serves_the_same_kubeconfig() {
    let mut p = Platform::start();
    p.apply_quick_start();
    let token = p.token();
    p.stop();
    std::thread::sleep(Duration::from_millis(200));
    p.spawn();
    assert_eq!(
        p.token(),
        token,
        "the token must survive restarts (kubeconfigs keep working)"
    );
    assert_eq!(
        p.kubectl(&["get", "vi,vd,vm", "-o", "name"])
            .expect_ok()
            .stdout,
        "virtualimage.virtualization.deckhouse.io/ubuntu\nvirtualdisk.virtualization.deckhouse.io/linux-disk\nvirtualmachine.virtualization.deckhouse.io/linux-vm\n"
    );
}

#[test]
fn a_watch_started_after_a_crash_sees_new_changes() {
    let mut p = Platform::start();
    p.apply_quick_start();
    p.crash_and_restart();
    let w = p.kubectl_bg(&[
        "get",
        "vm",
        "-w",
        "-o",
        "jsonpath={.spec.cpu.cores}{\"\\n\"}",
    ]);
    assert!(
        w.wait_stdout(30, |o| o.lines().count() >= 1),
        "{} {}",
        w.stdout(),
        w.stderr()
    );
    std::thread::sleep(Duration::from_millis(1000));
    p.kubectl(&[
        "patch",
        "vm",
        "linux-vm",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"cpu":{"cores":2}}}"#,
    ])
    .expect_ok();
    assert!(
        w.wait_stdout(30, |o| o.lines().any(|l| l == "2")),
        "{}",
        w.stdout()
    );
}
