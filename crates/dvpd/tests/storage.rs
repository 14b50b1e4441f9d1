//! Storage through the real kubectl: the first-start StorageClasses as the guide shows them, and
//! claims bound, grown and deleted by the built-in provisioners, with real qcow2 files on disk.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const TINY: &str = "/var/cache/guest-images/tiny/tiny.qcow2";

/// A claim manifest; `class` `None` leaves `storageClassName` out.
fn claim(
    name: &str,
    class: Option<&str>,
    mode: &str,
    size: &str,
    annotations: &[(&str, &str)],
) -> String {
    let mut m = format!("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: {name}\n");
    if !annotations.is_empty() {
        m.push_str("  annotations:\n");
        for (k, v) in annotations {
            m.push_str(&format!("    {k}: \"{v}\"\n"));
        }
    }
    m.push_str(&format!(
        "spec:\n  accessModes: [{mode}]\n  resources:\n    requests:\n      storage: {size}\n"
    ));
    if let Some(class) = class {
        m.push_str(&format!("  storageClassName: {class}\n"));
    }
    m
}

fn phase(p: &Platform, name: &str) -> String {
    p.jsonpath("pvc", name, "{.status.phase}")
}

#[track_caller]
fn wait_bound(p: &Platform, name: &str) {
    assert!(
        eventually(60, || phase(p, name) == "Bound"),
        "claim {name} not bound: {}\nevents: {}\nlog: {}",
        p.kubectl(&["get", "pvc", name, "-o", "yaml"]).stdout,
        p.kubectl(&["get", "events"]).stdout,
        p.log()
    );
}

/// The disk file of the claim's PV, as the PV says.
fn volume_file(p: &Platform, claim: &str) -> PathBuf {
    let pv = p.jsonpath("pvc", claim, "{.spec.volumeName}");
    PathBuf::from(p.jsonpath("pv", &pv, "{.spec.csi.volumeAttributes.path}"))
}

fn qemu_img_info(path: &Path) -> serde_json::Value {
    let out = Command::new("qemu-img")
        .args(["info", "-U", "--output=json"])
        .arg(path)
        .output()
        .expect("run qemu-img");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn events_of(p: &Platform, name: &str) -> String {
    p.kubectl(&[
        "get",
        "events",
        "--field-selector",
        &format!("involvedObject.name={name}"),
        "-o",
        "custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message",
    ])
    .expect_ok()
    .stdout
}

#[test]
fn get_storageclass_shows_the_four_classes_as_in_the_guide() {
    let p = Platform::start();
    let mut out = String::new();
    assert!(
        eventually(30, || {
            out = p.kubectl(&["get", "storageclass"]).expect_ok().stdout;
            out.lines().count() == 5
        }),
        "{out}"
    );
    assert_eq!(
        header_line(&out),
        "NAME PROVISIONER RECLAIMPOLICY VOLUMEBINDINGMODE ALLOWVOLUMEEXPANSION AGE"
    );
    let rows: Vec<Vec<String>> = table_rows(&out)
        .into_iter()
        .map(|r| r.into_iter().take(5).map(|(_, v)| v).collect())
        .collect();
    let row = |cells: [&str; 5]| cells.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    assert_eq!(
        rows,
        vec![
            row([
                "local",
                "local.storage.dvp.io",
                "Delete",
                "Immediate",
                "true"
            ]),
            row([
                "local-wffc",
                "local.storage.dvp.io",
                "Delete",
                "WaitForFirstConsumer",
                "true"
            ]),
            row([
                "shared (default)",
                "shared.storage.dvp.io",
                "Delete",
                "Immediate",
                "true"
            ]),
            row([
                "shared-wffc",
                "shared.storage.dvp.io",
                "Delete",
                "WaitForFirstConsumer",
                "true"
            ]),
        ]
    );
}

#[test]
fn a_claim_on_shared_is_bound_to_a_pv_with_a_qcow2_file_of_its_size() {
    let p = Platform::start();
    p.apply(&claim("data", Some("shared"), "ReadWriteMany", "1Gi", &[]))
        .expect_ok();
    wait_bound(&p, "data");
    let uid = p.jsonpath("pvc", "data", "{.metadata.uid}");
    let pv = format!("pvc-{uid}");

    let out = p.kubectl(&["get", "pvc", "data"]).expect_ok().stdout;
    assert_eq!(cell(&out, "data", "STATUS").as_deref(), Some("Bound"));
    assert_eq!(cell(&out, "data", "VOLUME").as_deref(), Some(pv.as_str()));
    assert_eq!(cell(&out, "data", "CAPACITY").as_deref(), Some("1Gi"));
    assert_eq!(cell(&out, "data", "ACCESS MODES").as_deref(), Some("RWX"));
    assert_eq!(
        cell(&out, "data", "STORAGECLASS").as_deref(),
        Some("shared")
    );

    let out = p.kubectl(&["get", "pv", &pv]).expect_ok().stdout;
    assert_eq!(cell(&out, &pv, "STATUS").as_deref(), Some("Bound"));
    assert_eq!(cell(&out, &pv, "CLAIM").as_deref(), Some("default/data"));
    assert_eq!(cell(&out, &pv, "RECLAIM POLICY").as_deref(), Some("Delete"));
    assert_eq!(cell(&out, &pv, "CAPACITY").as_deref(), Some("1Gi"));

    let file = volume_file(&p, "data");
    assert_eq!(
        file,
        p.data_dir().join(format!("storage/shared/{pv}/disk.qcow2"))
    );
    let info = qemu_img_info(&file);
    assert_eq!(info["format"], "qcow2");
    assert_eq!(info["virtual-size"], 1u64 << 30);
    assert!(info.get("backing-filename").is_none());
    assert!(events_of(&p, "data").contains("ProvisioningSucceeded"));
}

#[test]
fn a_claim_without_a_class_gets_the_default_class() {
    let p = Platform::start();
    p.apply(&claim("plain", None, "ReadWriteOnce", "100Mi", &[]))
        .expect_ok();
    wait_bound(&p, "plain");
    assert_eq!(
        p.jsonpath("pvc", "plain", "{.spec.storageClassName}"),
        "shared"
    );
}

#[test]
fn a_wffc_claim_stays_pending_until_a_node_is_selected() {
    let p = Platform::start();
    p.apply(&claim(
        "later",
        Some("local-wffc"),
        "ReadWriteOnce",
        "64Mi",
        &[],
    ))
    .expect_ok();
    assert!(
        eventually(30, || events_of(&p, "later")
            .contains("WaitForFirstConsumer")),
        "{}",
        events_of(&p, "later")
    );
    assert_eq!(phase(&p, "later"), "Pending");
    assert_eq!(p.jsonpath("pvc", "later", "{.spec.volumeName}"), "");
    let uid = p.jsonpath("pvc", "later", "{.metadata.uid}");
    assert!(
        !p.data_dir()
            .join(format!("storage/local-wffc/pvc-{uid}"))
            .exists()
    );

    p.kubectl(&[
        "annotate",
        "pvc",
        "later",
        "volume.kubernetes.io/selected-node=node-1",
    ])
    .expect_ok();
    wait_bound(&p, "later");
    let pv = p.jsonpath("pvc", "later", "{.spec.volumeName}");
    assert_eq!(
        p.jsonpath(
            "pv",
            &pv,
            "{.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}"
        ),
        "node-1"
    );
    assert_eq!(
        p.jsonpath("pvc", "later", "{.status.accessModes[0]}"),
        "ReadWriteOnce"
    );
    assert!(volume_file(&p, "later").exists());
}

#[test]
fn growing_the_claim_grows_the_file() {
    let p = Platform::start();
    p.apply(&claim("grow", Some("shared"), "ReadWriteMany", "1Gi", &[]))
        .expect_ok();
    wait_bound(&p, "grow");
    p.kubectl(&[
        "patch",
        "pvc",
        "grow",
        "--type=merge",
        "-p",
        r#"{"spec":{"resources":{"requests":{"storage":"3Gi"}}}}"#,
    ])
    .expect_ok();
    assert!(
        eventually(30, || p.jsonpath(
            "pvc",
            "grow",
            "{.status.capacity.storage}"
        ) == "3Gi"),
        "{}",
        events_of(&p, "grow")
    );
    let pv = p.jsonpath("pvc", "grow", "{.spec.volumeName}");
    assert_eq!(p.jsonpath("pv", &pv, "{.spec.capacity.storage}"), "3Gi");
    assert_eq!(
        qemu_img_info(&volume_file(&p, "grow"))["virtual-size"],
        3u64 << 30
    );
    let events = events_of(&p, "grow");
    assert!(events.contains("VolumeResizeSuccessful"), "{events}");
}

#[test]
fn deleting_the_claim_removes_the_pv_and_the_file() {
    let p = Platform::start();
    p.apply(&claim("gone", Some("shared"), "ReadWriteMany", "1Gi", &[]))
        .expect_ok();
    wait_bound(&p, "gone");
    let pv = p.jsonpath("pvc", "gone", "{.spec.volumeName}");
    let file = volume_file(&p, "gone");
    assert!(file.exists());
    p.kubectl(&["delete", "pvc", "gone", "--timeout=60s"])
        .expect_ok();
    assert!(!p.exists("pvc", "gone", None));
    assert!(
        eventually(30, || !p.exists("pv", &pv, None)),
        "PV {pv} stayed"
    );
    assert!(!file.exists());
    assert!(!file.parent().unwrap().exists());
}

#[test]
fn a_claim_from_a_backing_file_is_a_copy_on_write_overlay() {
    let p = Platform::start();
    let images = p.data_dir().join("imports/test");
    std::fs::create_dir_all(&images).unwrap();
    let source = images.join("tiny.qcow2");
    std::fs::copy(TINY, &source).unwrap();
    let source_text = source.display().to_string();
    p.apply(&claim(
        "cow",
        Some("shared"),
        "ReadWriteMany",
        "10Gi",
        &[
            ("storage.dvp.io/source", "backing"),
            ("storage.dvp.io/source-path", &source_text),
            ("storage.dvp.io/source-format", "qcow2"),
        ],
    ))
    .expect_ok();
    wait_bound(&p, "cow");
    let info = qemu_img_info(&volume_file(&p, "cow"));
    assert_eq!(info["virtual-size"], 10u64 << 30);
    assert_eq!(
        info["backing-filename"],
        source.canonicalize().unwrap().display().to_string()
    );
    assert_eq!(info["backing-filename-format"], "qcow2");
    assert!(info["actual-size"].as_u64().unwrap() < 1 << 20);
}

#[test]
fn a_source_bigger_than_the_claim_is_a_warning_and_the_claim_stays_pending() {
    let p = Platform::start();
    let images = p.data_dir().join("imports/test");
    std::fs::create_dir_all(&images).unwrap();
    let source = images.join("tiny.qcow2");
    std::fs::copy(TINY, &source).unwrap();
    let source_text = source.display().to_string();
    p.apply(&claim(
        "small",
        Some("shared"),
        "ReadWriteMany",
        "10Mi",
        &[
            ("storage.dvp.io/source", "backing"),
            ("storage.dvp.io/source-path", &source_text),
            ("storage.dvp.io/source-format", "qcow2"),
        ],
    ))
    .expect_ok();
    assert!(
        eventually(30, || events_of(&p, "small")
            .contains("larger than the requested volume size")),
        "{}",
        events_of(&p, "small")
    );
    let events = events_of(&p, "small");
    assert!(events.contains("Warning"), "{events}");
    assert!(events.contains("ProvisioningFailed"), "{events}");
    assert_eq!(phase(&p, "small"), "Pending");
    let uid = p.jsonpath("pvc", "small", "{.metadata.uid}");
    assert!(!p.exists("pv", &format!("pvc-{uid}"), None));
    assert!(
        !p.data_dir()
            .join(format!("storage/shared/pvc-{uid}"))
            .exists()
    );
}

#[test]
fn a_class_the_admin_deleted_is_not_recreated_on_restart() {
    let mut p = Platform::start();
    assert!(eventually(30, || p
        .kubectl(&["get", "storageclass", "local"])
        .ok()));
    p.kubectl(&["delete", "storageclass", "local"]).expect_ok();
    p.stop();
    p.spawn();
    assert!(eventually(30, || p
        .kubectl(&["get", "storageclass", "shared"])
        .ok()));
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert!(!p.exists("storageclass", "local", None));
}

#[test]
fn a_claim_whose_pv_is_forced_away_is_lost() {
    let p = Platform::start();
    p.apply(&claim(
        "orphan",
        Some("shared"),
        "ReadWriteMany",
        "64Mi",
        &[],
    ))
    .expect_ok();
    wait_bound(&p, "orphan");
    let pv = p.jsonpath("pvc", "orphan", "{.spec.volumeName}");
    p.kubectl(&[
        "patch",
        "pv",
        &pv,
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
    ])
    .expect_ok();
    p.kubectl(&["delete", "pv", &pv]).expect_ok();
    assert!(
        eventually(30, || phase(&p, "orphan") == "Lost"),
        "{}",
        events_of(&p, "orphan")
    );
    assert!(events_of(&p, "orphan").contains("ClaimLost"));
}
