//! End-to-end: VirtualDisks through the real kubectl against a real `dvpd`: blank disks, disks
//! from images (copy-on-write overlays on DVCR blobs), from HTTP and uploads, growing, storage
//! classes, WaitForFirstConsumer, export with `d8 data export download`, and bad inputs.

mod common;
mod images_support;

use std::path::PathBuf;
use std::process::Command;

use common::{Platform, cell, d8_bin, eventually, header_line};
use images_support::*;

fn setup() -> Option<(Platform, FileServer, Guest, tempfile::TempDir)> {
    let guest = Guest::find()?;
    let www = tempfile::tempdir().unwrap();
    let server = FileServer::start(www.path());
    server.copy(&guest.qcow2, "tiny.qcow2");
    server.copy(&guest.iso, "tiny.iso");
    Some((Platform::start(), server, guest, www))
}

/// The disk file of a VirtualDisk's volume.
fn volume_file(p: &Platform, disk: &str) -> PathBuf {
    let claim = p.jsonpath("vd", disk, "{.status.target.persistentVolumeClaimName}");
    let pv = p.jsonpath("pvc", &claim, "{.spec.volumeName}");
    PathBuf::from(p.jsonpath("pv", &pv, "{.spec.csi.volumeAttributes.path}"))
}

/// `d8 data export download ARGS` against the platform.
fn d8(p: &Platform, args: &[&str]) -> (bool, String) {
    let out = Command::new(d8_bin())
        .args(args)
        .env("KUBECONFIG", p.kubeconfig())
        .env("HOME", p.home())
        .output()
        .expect("run d8");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_blank_disk_is_ready_grows_and_never_shrinks() {
    let Some((p, _server, _guest, _www)) = setup() else {
        return;
    };
    p.apply(&vd("blank", Some("100Mi"), None)).expect_ok();
    wait_phase(&p, "vd", "blank", "Ready", 60);
    let table = p.kubectl(&["get", "vd"]).expect_ok().stdout;
    assert_eq!(header_line(&table), "NAME PHASE CAPACITY AGE");
    assert_eq!(cell(&table, "blank", "CAPACITY").as_deref(), Some("100Mi"));
    let file = volume_file(&p, "blank");
    assert_eq!(virtual_size(&file), 100 << 20);
    assert_eq!(
        p.jsonpath("vd", "blank", "{.status.target.persistentVolumeClaimName}"),
        format!(
            "d8v-vd-blank-{}",
            p.jsonpath("vd", "blank", "{.metadata.uid}")
        )
    );
    assert!(
        !p.jsonpath(
            "vd",
            "blank",
            "{.status.stats.creationDuration.totalProvisioning}"
        )
        .is_empty()
    );

    p.kubectl(&[
        "patch",
        "vd",
        "blank",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"persistentVolumeClaim":{"size":"200Mi"}}}"#,
    ])
    .expect_ok();
    assert!(eventually(60, || {
        p.jsonpath("vd", "blank", "{.status.phase}") == "Ready"
            && p.jsonpath("vd", "blank", "{.status.capacity}") == "200Mi"
    }));
    assert_eq!(virtual_size(&file), 200 << 20);
    let describe = p.kubectl(&["describe", "vd", "blank"]).expect_ok().stdout;
    assert!(
        describe.contains("VirtualDiskResizingStarted"),
        "{describe}"
    );
    assert!(
        describe.contains("VirtualDiskResizingCompleted"),
        "{describe}"
    );

    let shrink = p.kubectl(&[
        "patch",
        "vd",
        "blank",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"persistentVolumeClaim":{"size":"50Mi"}}}"#,
    ]);
    assert!(!shrink.ok());
    assert!(shrink.stderr.contains("cannot shrink"), "{}", shrink.stderr);
}

#[test]
fn a_disk_from_an_image_is_an_overlay_on_its_dvcr_blob() {
    let Some((p, server, guest, _www)) = setup() else {
        return;
    };
    p.apply(&vi_http("tiny", &server.url("f/tiny.qcow2")))
        .expect_ok();
    wait_phase(&p, "vi", "tiny", "Ready", 120);
    let (repo, tag) = image_ref(&p, "vi", "tiny");
    let blob = dvcr_blob(&p, &repo, &tag).unwrap();
    p.apply(&vd("root", None, Some(&object_ref("VirtualImage", "tiny"))))
        .expect_ok();
    p.apply(&vd(
        "big",
        Some("10Gi"),
        Some(&object_ref("VirtualImage", "tiny")),
    ))
    .expect_ok();
    wait_phase(&p, "vd", "root", "Ready", 60);
    wait_phase(&p, "vd", "big", "Ready", 60);
    let table = p.kubectl(&["get", "vd"]).expect_ok().stdout;
    // The guest disk is 35 MiB: the default size is the unpacked size.
    assert_eq!(cell(&table, "root", "CAPACITY").as_deref(), Some("35Mi"));
    assert_eq!(cell(&table, "big", "CAPACITY").as_deref(), Some("10Gi"));
    for disk in ["root", "big"] {
        let file = volume_file(&p, disk);
        assert_eq!(
            backing_file(&file).map(PathBuf::from),
            Some(blob.clone()),
            "{disk} should be a copy-on-write overlay on the image's blob"
        );
        assert!(same_guest_content(&file, &guest.qcow2), "{disk}");
        assert_eq!(
            p.jsonpath("vd", disk, "{.status.sourceUID}"),
            p.jsonpath("vi", "tiny", "{.metadata.uid}")
        );
    }
    // The image goes, the disks keep their data (garbage collection keeps the blob).
    p.kubectl(&["delete", "vi", "tiny"]).expect_ok();
    p.kubectl(&[
        "annotate",
        "mc",
        "virtualization",
        "virtualization.deckhouse.io/dvcr-gc-request=1",
        "--overwrite",
    ])
    .expect_ok();
    assert!(eventually(30, || {
        !p.jsonpath(
            "mc",
            "virtualization",
            "{.metadata.annotations.virtualization\\.deckhouse\\.io/dvcr-gc-result}",
        )
        .is_empty()
    }));
    assert!(
        blob.exists(),
        "a blob disks use as backing file was collected"
    );
    assert!(same_guest_content(&volume_file(&p, "root"), &guest.qcow2));
}

#[test]
fn disks_from_bad_images_or_sizes_fail_with_the_reason() {
    let Some((p, server, _guest, _www)) = setup() else {
        return;
    };
    p.apply(&vi_http("tiny", &server.url("f/tiny.qcow2")))
        .expect_ok();
    p.apply(&vi_http("iso", &server.url("f/tiny.iso")))
        .expect_ok();
    wait_phase(&p, "vi", "tiny", "Ready", 120);
    wait_phase(&p, "vi", "iso", "Ready", 120);
    p.apply(&vd(
        "fromiso",
        None,
        Some(&object_ref("VirtualImage", "iso")),
    ))
    .expect_ok();
    p.apply(&vd(
        "small",
        Some("10Mi"),
        Some(&object_ref("VirtualImage", "tiny")),
    ))
    .expect_ok();
    p.apply(&vd(
        "orphan",
        None,
        Some(&object_ref("VirtualImage", "nothing")),
    ))
    .expect_ok();
    wait_phase(&p, "vd", "fromiso", "Failed", 60);
    assert_eq!(
        ready_condition(&p, "vd", "fromiso").1,
        "cannot create a disk from an ISO image"
    );
    wait_phase(&p, "vd", "small", "Failed", 60);
    let message = ready_condition(&p, "vd", "small").1;
    assert!(
        message.contains("smaller than the unpacked size"),
        "{message}"
    );
    assert!(message.contains("at least 35Mi"), "{message}");
    wait_phase(&p, "vd", "orphan", "Pending", 60);
    assert_eq!(
        ready_condition(&p, "vd", "orphan").0,
        "DatasourceIsNotFound"
    );
    // Nothing was made for them.
    let claims = p.kubectl(&["get", "pvc", "-o", "name"]).expect_ok().stdout;
    assert!(claims.trim().is_empty(), "{claims}");
    // Growing the size fixes the small disk.
    p.kubectl(&[
        "patch",
        "vd",
        "small",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"persistentVolumeClaim":{"size":"64Mi"}}}"#,
    ])
    .expect_ok();
    wait_phase(&p, "vd", "small", "Ready", 60);
    // The missing image appears: the waiting disk proceeds.
    p.apply(&vi_http("nothing", &server.url("f/tiny.qcow2")))
        .expect_ok();
    wait_phase(&p, "vd", "orphan", "Ready", 120);
}

#[test]
fn disks_from_http_uploads_and_cluster_images_go_through_dvcr() {
    let Some((p, server, guest, _www)) = setup() else {
        return;
    };
    p.apply(&vd(
        "web",
        None,
        Some(&format!(
            "    type: HTTP\n    http:\n      url: {}\n",
            server.url("f/tiny.qcow2")
        )),
    ))
    .expect_ok();
    p.apply(&vd("up", None, Some("    type: Upload\n")))
        .expect_ok();
    p.apply(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: ClusterVirtualImage\nmetadata:\n  name: tiny\nspec:\n  dataSource:\n    type: HTTP\n    http:\n      url: URL\n"
            .replace("URL", &server.url("f/tiny.qcow2"))
            .as_str(),
    )
    .expect_ok();
    p.apply(&vd(
        "fromcvi",
        None,
        Some(&object_ref("ClusterVirtualImage", "tiny")),
    ))
    .expect_ok();
    wait_phase(&p, "vd", "up", "WaitForUserUpload", 60);
    let url = p.jsonpath("vd", "up", "{.status.imageUploadURLs.external}");
    let (status, body) = curl_upload(&guest.qcow2, &url);
    assert_eq!(status, 200, "{body}");
    for disk in ["web", "up", "fromcvi"] {
        wait_phase(&p, "vd", disk, "Ready", 120);
        let file = volume_file(&p, disk);
        assert!(same_guest_content(&file, &guest.qcow2), "{disk}");
        assert!(backing_file(&file).is_some(), "{disk} should be an overlay");
    }
    let uid = p.jsonpath("vd", "web", "{.metadata.uid}");
    let blob = dvcr_blob(&p, "vd/default/web", &uid).expect("vd/<ns>/<name>:<uid> in DVCR");
    assert_eq!(
        backing_file(&volume_file(&p, "web")).map(PathBuf::from),
        Some(blob)
    );
    assert!(
        !p.jsonpath(
            "vd",
            "web",
            "{.status.stats.creationDuration.dvcrProvisioning}"
        )
        .is_empty()
    );
}

#[test]
fn storage_classes_and_wait_for_first_consumer() {
    let Some((p, _server, _guest, _www)) = setup() else {
        return;
    };
    let classes = p.kubectl(&["get", "storageclass"]).expect_ok().stdout;
    assert_eq!(
        header_line(&classes),
        "NAME PROVISIONER RECLAIMPOLICY VOLUMEBINDINGMODE ALLOWVOLUMEEXPANSION AGE"
    );
    assert!(classes.contains("(default)"), "{classes}");
    p.apply(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualDisk\nmetadata:\n  name: later\nspec:\n  persistentVolumeClaim:\n    size: 10Mi\n    storageClassName: local-wffc\n",
    )
    .expect_ok();
    wait_phase(&p, "vd", "later", "WaitForFirstConsumer", 60);
    assert_eq!(
        ready_condition(&p, "vd", "later").0,
        "WaitingForFirstConsumer"
    );
    p.apply(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualDisk\nmetadata:\n  name: nowhere\nspec:\n  persistentVolumeClaim:\n    size: 10Mi\n    storageClassName: fast\n",
    )
    .expect_ok();
    wait_phase(&p, "vd", "nowhere", "Pending", 60);
    assert!(
        ready_condition(&p, "vd", "nowhere")
            .1
            .contains("\"fast\" not found")
    );
    // The module's default class for disks wins over the cluster's.
    p.kubectl(&[
        "patch",
        "mc",
        "virtualization",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"settings":{"virtualDisks":{"defaultStorageClassName":"local"}}}}"#,
    ])
    .expect_ok();
    p.apply(&vd("mine", Some("10Mi"), None)).expect_ok();
    wait_phase(&p, "vd", "mine", "Ready", 60);
    assert_eq!(
        p.jsonpath("vd", "mine", "{.status.storageClassName}"),
        "local"
    );
    let wide = p.kubectl(&["get", "vd", "-o", "wide"]).expect_ok().stdout;
    assert_eq!(
        cell(&wide, "mine", "STORAGECLASS").as_deref(),
        Some("local")
    );
}

#[test]
fn d8_exports_a_disk_and_refuses_one_in_use() {
    let Some((p, server, guest, _www)) = setup() else {
        return;
    };
    p.apply(&vi_http("tiny", &server.url("f/tiny.qcow2")))
        .expect_ok();
    wait_phase(&p, "vi", "tiny", "Ready", 120);
    p.apply(&vd("root", None, Some(&object_ref("VirtualImage", "tiny"))))
        .expect_ok();
    wait_phase(&p, "vd", "root", "Ready", 60);
    let out = p.dir.path().join("root.img");
    let (ok, stderr) = d8(
        &p,
        &[
            "data",
            "export",
            "download",
            "vd/root",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert!(ok, "{stderr}");
    assert!(same_guest_content(&out, &guest.qcow2));
    assert_eq!(
        backing_file(&out),
        None,
        "the export must be self-contained"
    );
    let describe = p.kubectl(&["describe", "vd", "root"]).expect_ok().stdout;
    assert!(describe.contains("Exporting"), "{describe}");
    assert!(eventually(20, || p.jsonpath(
        "vd",
        "root",
        "{.status.phase}"
    ) == "Ready"));

    // The guide's spelling works too.
    let out2 = p.dir.path().join("root2.img");
    let (ok, stderr) = d8(
        &p,
        &[
            "download",
            "-n",
            "default",
            "vd/root",
            "-o",
            out2.to_str().unwrap(),
        ],
    );
    assert!(ok, "{stderr}");

    // A VM scheduled to a node holds the disk. The node is one this test registers and no agent
    // serves, so no guest really starts.
    p.apply("apiVersion: v1\nkind: Node\nmetadata:\n  name: held-node\n  labels:\n    kubernetes.io/hostname: held-node\n    kubernetes.io/os: linux\n")
        .expect_ok();
    let ready = serde_json::json!({"status": {
        "capacity": {"cpu": "4", "memory": "8Gi"},
        "allocatable": {"cpu": "4", "memory": "8Gi"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                        "message": "test node", "lastHeartbeatTime": common::now_rfc3339(),
                        "lastTransitionTime": common::now_rfc3339()}]
    }});
    p.kubectl(&[
        "patch",
        "node",
        "held-node",
        "--subresource=status",
        "--type=merge",
        "-p",
        &ready.to_string(),
    ])
    .expect_ok();
    p.apply(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualMachine\nmetadata:\n  name: vm1\nspec:\n  virtualMachineClassName: generic\n  nodeSelector:\n    kubernetes.io/hostname: held-node\n  cpu:\n    cores: 1\n    coreFraction: 10%\n  memory:\n    size: 256Mi\n  blockDeviceRefs:\n    - kind: VirtualDisk\n      name: root\n",
    )
    .expect_ok();
    // Once the VM holds the disk (it is scheduled or running), exports are refused.
    assert!(
        eventually(120, || {
            p.jsonpath(
                "vd",
                "root",
                "{.status.conditions[?(@.type=='InUse')].reason}",
            ) == "AttachedToVirtualMachine"
        }),
        "the disk never showed its VM: {}\n{}",
        p.kubectl(&["get", "vm", "vm1", "-o", "yaml"]).stdout,
        p.kubectl(&["get", "vd", "root", "-o", "yaml"]).stdout
    );
    let (ok, stderr) = d8(
        &p,
        &["data", "export", "download", "vd/root", "-o", "/dev/null"],
    );
    assert!(!ok);
    assert!(
        stderr.contains("in use by the virtual machine vm1"),
        "{stderr}"
    );

    let (ok, stderr) = d8(&p, &["data", "export", "download", "vds/snap", "-o", "x"]);
    assert!(!ok);
    assert!(stderr.contains("not supported yet"), "{stderr}");
    let (ok, stderr) = d8(
        &p,
        &["data", "export", "download", "vd/none", "-o", "/dev/null"],
    );
    assert!(!ok);
    assert!(stderr.contains("not found"), "{stderr}");
}

#[test]
fn a_full_disk_fails_the_import_cleanly_and_the_platform_recovers() {
    let Some(guest) = Guest::find() else {
        return;
    };
    let mount = tempfile::tempdir().unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=96m", "tmpfs"])
        .arg(mount.path())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !mounted {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mount.path().to_path_buf());
    let www = tempfile::tempdir().unwrap();
    let server = FileServer::start(www.path());
    server.copy(&guest.variants.join("tiny.raw"), "tiny.raw");
    server.copy(&guest.qcow2, "tiny.qcow2");
    let mut p = Platform::start();
    // Move the platform onto the small filesystem: same data, now with little room.
    p.stop();
    sh(&format!(
        "cp -a {}/. {}/",
        p.data_dir().display(),
        mount.path().display()
    ));
    sh(&format!(
        "rm -rf {d} && ln -s {m} {d}",
        d = p.data_dir().display(),
        m = mount.path().display()
    ));
    p.spawn();
    // Leave about 20 MiB: the 35 MiB raw image cannot be downloaded.
    let ballast = mount.path().join("ballast");
    let free = {
        let out = Command::new("df")
            .args(["-B1", "--output=avail"])
            .arg(mount.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    sh(&format!(
        "head -c {} /dev/zero > {}",
        free.saturating_sub(20 << 20),
        ballast.display()
    ));
    p.apply(&vi_http("huge", &server.url("f/tiny.raw")))
        .expect_ok();
    wait_phase(&p, "vi", "huge", "Failed", 120);
    let (_, message) = ready_condition(&p, "vi", "huge");
    assert!(message.contains("no space left"), "{message}");
    assert!(files_under(&p, "imports").is_empty());
    assert!(!dvcr_catalog(&p).contains(&"vi/default/huge".to_string()));
    std::fs::remove_file(&ballast).unwrap();
    p.apply(&vi_http("fits", &server.url("f/tiny.qcow2")))
        .expect_ok();
    wait_phase(&p, "vi", "fits", "Ready", 120);
    p.stop();
}
