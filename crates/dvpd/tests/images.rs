//! End-to-end: VirtualImages and ClusterVirtualImages through the real kubectl against a real
//! `dvpd`, with a local HTTP server and OCI registry serving the tiny guest image and its
//! variants. Every source and format lands in DVCR with the guest's content; every bad input ends
//! `Failed` with a message a user understands, leaving nothing behind.

mod common;
mod images_support;

use std::time::Duration;

use common::{Platform, cell, eventually, header_line};
use images_support::*;

/// A platform, a file server with the guest image and its variants, and the guest files.
fn setup() -> Option<(Platform, FileServer, Guest, tempfile::TempDir)> {
    let guest = Guest::find()?;
    let www = tempfile::tempdir().unwrap();
    let server = FileServer::start(www.path());
    server.copy(&guest.qcow2, "tiny.qcow2");
    server.copy(&guest.iso, "tiny.iso");
    for v in [
        "tiny.raw",
        "tiny.vmdk",
        "tiny.vdi",
        "tiny.qcow2.gz",
        "tiny.qcow2.xz",
        "tiny.raw.gz",
        "tiny.raw.xz",
    ] {
        server.copy(&guest.variants.join(v), v);
    }
    Some((Platform::start(), server, guest, www))
}

#[test]
fn every_http_format_lands_in_dvcr_with_the_guest_content() {
    let Some((p, server, guest, _www)) = setup() else {
        return;
    };
    let cases = [
        ("qcow2", "tiny.qcow2", "qcow2"),
        ("raw", "tiny.raw", "raw"),
        ("vmdk", "tiny.vmdk", "vmdk"),
        ("vdi", "tiny.vdi", "vdi"),
        ("qcow2-gz", "tiny.qcow2.gz", "qcow2"),
        ("qcow2-xz", "tiny.qcow2.xz", "qcow2"),
        ("raw-gz", "tiny.raw.gz", "raw"),
        ("raw-xz", "tiny.raw.xz", "raw"),
    ];
    for (name, file, _) in cases {
        p.apply(&vi_http(name, &server.url(&format!("f/{file}"))))
            .expect_ok();
    }
    p.apply(&vi_http("iso", &server.url("f/tiny.iso")))
        .expect_ok();
    let guest_size = guest.virtual_size();
    for (name, _, _) in cases {
        wait_phase(&p, "vi", name, "Ready", 180);
        let (repo, tag) = image_ref(&p, "vi", name);
        assert_eq!(repo, format!("vi/default/{name}"));
        let blob = dvcr_blob(&p, &repo, &tag).expect("the image is in DVCR");
        assert!(
            same_guest_content(&blob, &guest.qcow2),
            "{name}: the DVCR blob does not hold the guest's content"
        );
        assert_eq!(virtual_size(&blob), guest_size, "{name}");
        assert_eq!(
            p.jsonpath("vi", name, "{.status.size.unpackedBytes}"),
            guest_size.to_string(),
            "{name}"
        );
        assert_eq!(
            p.jsonpath("vi", name, "{.status.size.storedBytes}"),
            std::fs::metadata(&blob).unwrap().len().to_string(),
            "{name}"
        );
        assert_eq!(p.jsonpath("vi", name, "{.status.format}"), "qcow2");
        assert_eq!(p.jsonpath("vi", name, "{.status.cdrom}"), "false");
        assert_eq!(p.jsonpath("vi", name, "{.status.progress}"), "100%");
    }
    wait_phase(&p, "vi", "iso", "Ready", 180);
    assert_eq!(p.jsonpath("vi", "iso", "{.status.cdrom}"), "true");
    assert_eq!(p.jsonpath("vi", "iso", "{.status.format}"), "iso");
    let (repo, tag) = image_ref(&p, "vi", "iso");
    let blob = dvcr_blob(&p, &repo, &tag).unwrap();
    assert_eq!(
        std::fs::read(&blob).unwrap(),
        std::fs::read(&guest.iso).unwrap()
    );

    // The guide's views.
    let table = p.kubectl(&["get", "vi"]).expect_ok().stdout;
    assert_eq!(header_line(&table), "NAME PHASE CDROM PROGRESS AGE");
    assert_eq!(cell(&table, "iso", "CDROM").as_deref(), Some("true"));
    let wide = p.kubectl(&["get", "vi", "-o", "wide"]).expect_ok().stdout;
    assert!(
        header_line(&wide)
            .starts_with("NAME PHASE CDROM PROGRESS STOREDSIZE UNPACKEDSIZE REGISTRY URL"),
        "{wide}"
    );
    assert_eq!(
        cell(&wide, "qcow2", "UNPACKEDSIZE").as_deref(),
        Some("35Mi")
    );
    let url = cell(&wide, "qcow2", "REGISTRY URL").unwrap();
    assert!(
        url.starts_with(&format!("127.0.0.1:{}/vi/default/qcow2:", p.port)),
        "{url}"
    );
    assert!(files_under(&p, "imports").is_empty());
}

#[test]
fn get_vi_watch_shows_the_progress_moving_and_describe_shows_events() {
    let Some((p, server, _guest, _www)) = setup() else {
        return;
    };
    // Like the guide's `get vi NAME -w`, started before the image exists.
    let mut watch = p.kubectl_bg(&["get", "vi", "-w"]);
    std::thread::sleep(Duration::from_millis(500));
    p.apply(&vi_http("slow", &server.url("slow/tiny.raw")))
        .expect_ok();
    wait_phase(&p, "vi", "slow", "Ready", 180);
    assert!(watch.wait_stdout(20, |out| out.lines().any(|l| l.contains("Ready"))));
    let out = watch.stdout();
    let progress: Vec<String> = out
        .lines()
        .filter(|l| l.contains("Provisioning"))
        .filter_map(|l| {
            l.split_whitespace()
                .find(|w| w.ends_with('%'))
                .map(str::to_string)
        })
        .collect();
    let distinct: std::collections::BTreeSet<&String> = progress.iter().collect();
    assert!(
        distinct.len() >= 3,
        "the PROGRESS column should move during the import:\n{out}"
    );
    let ready_line = out.lines().find(|l| l.contains("Ready")).unwrap();
    assert!(ready_line.contains("100%"), "{out}");
    let _ = watch.wait_exit(0);

    let describe = p.kubectl(&["describe", "vi", "slow"]).expect_ok().stdout;
    assert!(describe.contains("DataSourceImportStarted"), "{describe}");
    assert!(describe.contains("DataSourceImportCompleted"), "{describe}");
    assert!(describe.contains("Registry URL:"), "{describe}");
}

#[test]
fn container_images_are_pulled_with_and_without_a_pull_secret() {
    let Some((p, _server, guest, _www)) = setup() else {
        return;
    };
    let open = OciRegistry::start(None);
    let private = OciRegistry::start(Some(("puller", "pw")));
    let public_ref = open.push("images/tiny", "v1", &[("disk/tiny.qcow2", &guest.qcow2)]);
    let private_ref = private.push("images/tiny", "v1", &[("disk/tiny.qcow2", &guest.qcow2)]);
    let no_disk_ref = open.push("images/empty", "v1", &[("etc/motd", &guest.iso)]);
    let ci = |image: &str, secret: Option<&str>| {
        let mut ds =
            format!("    type: ContainerImage\n    containerImage:\n      image: {image}\n");
        if let Some(s) = secret {
            ds.push_str(&format!("      imagePullSecret:\n        name: {s}\n"));
        }
        ds
    };
    p.apply(&vi_with("public", &ci(&public_ref, None)))
        .expect_ok();
    p.apply(&vi_with("nodisk", &ci(&no_disk_ref, None)))
        .expect_ok();
    p.apply(&vi_with("private", &ci(&private_ref, Some("creds"))))
        .expect_ok();

    wait_phase(&p, "vi", "public", "Ready", 120);
    let (repo, tag) = image_ref(&p, "vi", "public");
    assert!(same_guest_content(
        &dvcr_blob(&p, &repo, &tag).unwrap(),
        &guest.qcow2
    ));

    wait_phase(&p, "vi", "nodisk", "Failed", 120);
    let (reason, message) = ready_condition(&p, "vi", "nodisk");
    assert_eq!(reason, "ImagePullFailed");
    assert!(message.contains("has no file under /disk/"), "{message}");

    // Without its secret the image waits, saying why.
    assert!(eventually(60, || p.jsonpath(
        "vi",
        "private",
        "{.status.phase}"
    ) == "Pending"));
    let v = p.get_json(&["vi", "private"]);
    let ds = v["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "DatasourceReady")
        .unwrap()
        .clone();
    assert_eq!(ds["reason"], "ContainerRegistrySecretNotFound");
    let config = format!(
        "{{\"auths\":{{\"127.0.0.1:{}\":{{\"username\":\"puller\",\"password\":\"pw\"}}}}}}",
        private.port
    );
    let file = p.write_file("config.json", &config);
    p.kubectl(&[
        "create",
        "secret",
        "generic",
        "creds",
        "--type=kubernetes.io/dockerconfigjson",
        &format!("--from-file=.dockerconfigjson={}", file.display()),
    ])
    .expect_ok();
    wait_phase(&p, "vi", "private", "Ready", 120);
    let (repo, tag) = image_ref(&p, "vi", "private");
    assert!(same_guest_content(
        &dvcr_blob(&p, &repo, &tag).unwrap(),
        &guest.qcow2
    ));
}

#[test]
fn an_upload_with_curl_becomes_ready_and_bad_tokens_are_refused() {
    let Some((p, _server, guest, _www)) = setup() else {
        return;
    };
    p.apply(&vi_with("up", "    type: Upload\n")).expect_ok();
    wait_phase(&p, "vi", "up", "WaitForUserUpload", 60);
    let external = p.jsonpath("vi", "up", "{.status.imageUploadURLs.external}");
    let in_cluster = p.jsonpath("vi", "up", "{.status.imageUploadURLs.inCluster}");
    assert!(external.starts_with("https://"), "{external}");
    assert!(!in_cluster.is_empty());
    let token = external.rsplit('/').next().unwrap();
    assert!(token.len() >= 32, "the token must be unguessable: {token}");

    let wrong = external.replace(token, "0123456789abcdef0123456789abcdef");
    let (status, body) = curl_upload(&guest.qcow2, &wrong);
    assert_eq!(status, 404, "{body}");
    assert!(
        body.contains("token is wrong or the upload URL expired"),
        "{body}"
    );

    let (status, body) = curl_upload(&guest.qcow2, &external);
    assert_eq!(status, 200, "{body}");
    wait_phase(&p, "vi", "up", "Ready", 120);
    let (repo, tag) = image_ref(&p, "vi", "up");
    assert!(same_guest_content(
        &dvcr_blob(&p, &repo, &tag).unwrap(),
        &guest.qcow2
    ));
    assert_eq!(p.jsonpath("vi", "up", "{.status.imageUploadURLs}"), "");
    // The URL is spent.
    let (status, _) = curl_upload(&guest.qcow2, &external);
    assert_eq!(status, 404);
    assert!(
        files_under(&p, "uploads").is_empty(),
        "{:?}",
        files_under(&p, "uploads")
    );
}

#[test]
fn an_upload_that_never_starts_fails_after_the_timeout() {
    let Some((mut p, _server, guest, _www)) = setup() else {
        return;
    };
    let _daemon = Flagged::restart(&mut p, &["--upload-timeout", "4s"]);
    p.apply(&vi_with("late", "    type: Upload\n")).expect_ok();
    wait_phase(&p, "vi", "late", "WaitForUserUpload", 60);
    let url = p.jsonpath("vi", "late", "{.status.imageUploadURLs.external}");
    wait_phase(&p, "vi", "late", "Failed", 60);
    let (reason, message) = ready_condition(&p, "vi", "late");
    assert_eq!(reason, "WaitForUserUploadTimeout");
    assert!(message.contains("no upload started within 4s"), "{message}");
    let (status, body) = curl_upload(&guest.qcow2, &url);
    assert!((400..500).contains(&status), "{status} {body}");
    assert!(body.contains("expired"), "{body}");
}

#[test]
fn images_are_made_from_images_cluster_images_and_disks() {
    let Some((p, server, guest, _www)) = setup() else {
        return;
    };
    p.apply(&vi_http("base", &server.url("f/tiny.qcow2")))
        .expect_ok();
    wait_phase(&p, "vi", "base", "Ready", 120);
    // A cluster image from a namespaced image, a namespaced image from it, and one from a disk.
    p.apply(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: ClusterVirtualImage\nmetadata:\n  name: base-cluster\nspec:\n  dataSource:\n    type: ObjectRef\n    objectRef:\n      kind: VirtualImage\n      name: base\n      namespace: default\n",
    )
    .expect_ok();
    wait_phase(&p, "cvi", "base-cluster", "Ready", 120);
    p.apply(&vi_with(
        "from-cvi",
        &object_ref("ClusterVirtualImage", "base-cluster"),
    ))
    .expect_ok();
    p.apply(&vi_with("from-vi", &object_ref("VirtualImage", "base")))
        .expect_ok();
    p.apply(&vd("disk", None, Some(&object_ref("VirtualImage", "base"))))
        .expect_ok();
    wait_phase(&p, "vd", "disk", "Ready", 120);
    p.apply(&vi_with("from-vd", &object_ref("VirtualDisk", "disk")))
        .expect_ok();
    p.apply(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: ClusterVirtualImage\nmetadata:\n  name: cluster-from-vd\nspec:\n  dataSource:\n    type: ObjectRef\n    objectRef:\n      kind: VirtualDisk\n      name: disk\n      namespace: default\n",
    )
    .expect_ok();
    for (kind, name) in [
        ("vi", "from-cvi"),
        ("vi", "from-vi"),
        ("vi", "from-vd"),
        ("cvi", "cluster-from-vd"),
    ] {
        wait_phase(&p, kind, name, "Ready", 120);
        let (repo, tag) = image_ref(&p, kind, name);
        let blob = dvcr_blob(&p, &repo, &tag).unwrap();
        assert!(same_guest_content(&blob, &guest.qcow2), "{kind}/{name}");
        assert!(
            !p.jsonpath(kind, name, "{.status.sourceUID}").is_empty(),
            "{kind}/{name}"
        );
    }
    let (repo, _) = image_ref(&p, "cvi", "base-cluster");
    assert_eq!(repo, "cvi/base-cluster");
    let cvi = p.kubectl(&["get", "cvi", "-o", "wide"]).expect_ok().stdout;
    assert!(
        header_line(&cvi)
            .starts_with("NAME PHASE CDROM PROGRESS STOREDSIZE UNPACKEDSIZE REGISTRY URL"),
        "{cvi}"
    );
    // A disk snapshot source is not available yet and says so.
    p.apply(&vi_with(
        "from-snap",
        &object_ref("VirtualDiskSnapshot", "s"),
    ))
    .expect_ok();
    wait_phase(&p, "vi", "from-snap", "Failed", 60);
    assert!(
        ready_condition(&p, "vi", "from-snap")
            .1
            .contains("not supported yet")
    );
    // A missing source keeps the image waiting.
    p.apply(&vi_with(
        "from-nothing",
        &object_ref("VirtualImage", "nothing"),
    ))
    .expect_ok();
    assert!(eventually(30, || p.jsonpath(
        "vi",
        "from-nothing",
        "{.status.phase}"
    ) == "Pending"));
}

#[test]
fn bad_sources_fail_with_clear_messages_and_leave_nothing_behind() {
    let Some((p, server, guest, www)) = setup() else {
        return;
    };
    let tiny = std::fs::read(&guest.qcow2).unwrap();
    server.put("truncated.qcow2", &tiny[..100_000]);
    let mut corrupt = tiny.clone();
    corrupt[40..48].copy_from_slice(&(1u64 << 40).to_be_bytes());
    server.put("corrupt.qcow2", &corrupt);
    let dir = www.path();
    sh(&format!(
        "cd {d} && qemu-img create -q -f qcow2 -b /etc/passwd -F raw backing.qcow2 1M",
        d = dir.display()
    ));
    sh(&format!(
        "cd {d} && qemu-img create -q -f qcow2 small.qcow2 1M && (cat small.qcow2; head -c 200M /dev/zero) | gzip -1 > bomb.qcow2.gz",
        d = dir.display()
    ));
    let checksum = "    type: HTTP\n    http:\n      url: URL\n      checksum:\n        sha256: '0000000000000000000000000000000000000000000000000000000000000000'\n"
        .replace("URL", &server.url("f/tiny.qcow2"));
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "missing",
            vi_http("missing", &server.url("f/nope.qcow2")),
            "404",
        ),
        (
            "error500",
            vi_http("error500", &server.url("status/500/x.qcow2")),
            "500",
        ),
        (
            "reset",
            vi_http("reset", &server.url("reset-always/tiny.qcow2")),
            "attempts",
        ),
        (
            "checksum",
            vi_with("checksum", &checksum),
            "checksum mismatch",
        ),
        (
            "truncated",
            vi_http("truncated", &server.url("f/truncated.qcow2")),
            "corrupt or truncated",
        ),
        (
            "corrupt",
            vi_http("corrupt", &server.url("f/corrupt.qcow2")),
            "corrupt",
        ),
        (
            "backing",
            vi_http("backing", &server.url("f/backing.qcow2")),
            "refers to another file",
        ),
        (
            "bomb",
            vi_http("bomb", &server.url("f/bomb.qcow2.gz")),
            "decompression bomb",
        ),
    ];
    for (_, manifest, _) in &cases {
        p.apply(manifest).expect_ok();
    }
    for (name, _, expected) in &cases {
        wait_phase(&p, "vi", name, "Failed", 150);
        let (reason, message) = ready_condition(&p, "vi", name);
        assert_eq!(reason, "ProvisioningFailed", "{name}: {message}");
        assert!(
            message.contains(expected),
            "{name}: the message should mention {expected:?}: {message}"
        );
        let describe = p.kubectl(&["describe", "vi", name]).expect_ok().stdout;
        assert!(
            describe.contains("DataSourceImportFailed"),
            "{name}: {describe}"
        );
    }
    // Nothing half-written: no DVCR repository for them, no scratch files.
    let catalog = dvcr_catalog(&p);
    for (name, _, _) in &cases {
        assert!(
            !catalog.contains(&format!("vi/default/{name}")),
            "{name} left an image in DVCR: {catalog:?}"
        );
    }
    assert!(
        files_under(&p, "imports").is_empty(),
        "{:?}",
        files_under(&p, "imports")
    );
    // Still healthy: a good import right after works.
    p.apply(&vi_http("good", &server.url("f/tiny.qcow2")))
        .expect_ok();
    wait_phase(&p, "vi", "good", "Ready", 120);
}

#[test]
fn a_connection_reset_once_is_resumed() {
    let Some((p, server, guest, _www)) = setup() else {
        return;
    };
    p.apply(&vi_http("flaky", &server.url("reset-once/tiny.qcow2")))
        .expect_ok();
    wait_phase(&p, "vi", "flaky", "Ready", 120);
    let (repo, tag) = image_ref(&p, "vi", "flaky");
    assert!(same_guest_content(
        &dvcr_blob(&p, &repo, &tag).unwrap(),
        &guest.qcow2
    ));
}

#[test]
fn a_restart_reruns_an_unfinished_import_and_keeps_finished_images() {
    let Some((mut p, server, guest, _www)) = setup() else {
        return;
    };
    p.apply(&vi_http("done", &server.url("f/tiny.qcow2")))
        .expect_ok();
    wait_phase(&p, "vi", "done", "Ready", 120);
    let before = p.jsonpath("vi", "done", "{.status.target.registryURL}");
    p.apply(&vi_http("midway", &server.url("slow/tiny.raw")))
        .expect_ok();
    wait_phase(&p, "vi", "midway", "Provisioning", 60);
    p.kill9();
    p.spawn();
    wait_phase(&p, "vi", "midway", "Ready", 180);
    let (repo, tag) = image_ref(&p, "vi", "midway");
    assert!(same_guest_content(
        &dvcr_blob(&p, &repo, &tag).unwrap(),
        &guest.qcow2
    ));
    assert_eq!(p.jsonpath("vi", "done", "{.status.phase}"), "Ready");
    assert_eq!(
        p.jsonpath("vi", "done", "{.status.target.registryURL}"),
        before
    );
}

#[test]
fn deleted_images_are_garbage_collected_on_request() {
    let Some((p, server, _guest, _www)) = setup() else {
        return;
    };
    p.apply(&vi_http("keep", &server.url("f/tiny.qcow2")))
        .expect_ok();
    p.apply(&vi_http("drop", &server.url("f/tiny.iso")))
        .expect_ok();
    wait_phase(&p, "vi", "keep", "Ready", 120);
    wait_phase(&p, "vi", "drop", "Ready", 120);
    let (repo, tag) = image_ref(&p, "vi", "drop");
    let blob = dvcr_blob(&p, &repo, &tag).unwrap();
    let (krepo, ktag) = image_ref(&p, "vi", "keep");
    let kept = dvcr_blob(&p, &krepo, &ktag).unwrap();
    p.kubectl(&["delete", "vi", "drop"]).expect_ok();
    p.kubectl(&[
        "annotate",
        "mc",
        "virtualization",
        "virtualization.deckhouse.io/dvcr-gc-request=now",
        "--overwrite",
    ])
    .expect_ok();
    assert!(eventually(30, || {
        p.jsonpath(
            "mc",
            "virtualization",
            "{.metadata.annotations.virtualization\\.deckhouse\\.io/dvcr-gc-done}",
        ) == "now"
    }));
    let result = p.jsonpath(
        "mc",
        "virtualization",
        "{.metadata.annotations.virtualization\\.deckhouse\\.io/dvcr-gc-result}",
    );
    assert!(result.contains("blobs"), "{result}");
    assert!(!blob.exists(), "the deleted image's blob is still there");
    assert!(kept.exists(), "the kept image lost its blob");
    assert_eq!(p.jsonpath("vi", "keep", "{.status.phase}"), "Ready");
}

#[test]
fn skopeo_copies_an_image_out_of_the_platforms_dvcr() {
    let Some((p, server, guest, _www)) = setup() else {
        return;
    };
    if std::process::Command::new("skopeo")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: skopeo is not installed");
        return;
    }
    p.apply(&vi_http("tiny", &server.url("f/tiny.qcow2")))
        .expect_ok();
    wait_phase(&p, "vi", "tiny", "Ready", 120);
    let url = p.jsonpath("vi", "tiny", "{.status.target.registryURL}");
    let out = tempfile::tempdir().unwrap();
    let run = std::process::Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false", "--src-creds"])
        .arg(format!("dvp:{}", p.token()))
        .arg(format!("docker://{url}"))
        .arg(format!("dir:{}", out.path().display()))
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "skopeo copy failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("manifest.json")).unwrap()).unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    let file = out.path().join(layer.trim_start_matches("sha256:"));
    assert!(same_guest_content(&file, &guest.qcow2));
}

#[test]
fn an_image_kept_on_a_volume_backs_disks_of_its_class_and_is_copied_to_others() {
    let Some((p, server, guest, _www)) = setup() else {
        return;
    };
    p.apply(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualImage\nmetadata:\n  name: onpvc\nspec:\n  storage: PersistentVolumeClaim\n  persistentVolumeClaim:\n    storageClassName: shared\n  dataSource:\n    type: HTTP\n    http:\n      url: URL\n"
            .replace("URL", &server.url("f/tiny.qcow2"))
            .as_str(),
    )
    .expect_ok();
    wait_phase(&p, "vi", "onpvc", "Ready", 120);
    let uid = p.jsonpath("vi", "onpvc", "{.metadata.uid}");
    let claim = p.jsonpath("vi", "onpvc", "{.status.target.persistentVolumeClaimName}");
    assert_eq!(claim, format!("d8v-vi-onpvc-{uid}"));
    assert_eq!(
        p.jsonpath("vi", "onpvc", "{.status.storageClassName}"),
        "shared"
    );
    assert_eq!(
        p.jsonpath("vi", "onpvc", "{.status.target.registryURL}"),
        ""
    );
    assert_eq!(
        p.jsonpath("vi", "onpvc", "{.status.size.unpackedBytes}"),
        guest.virtual_size().to_string()
    );
    // The image's data lives on its volume only.
    assert!(eventually(10, || dvcr_blob(&p, "vi/default/onpvc", &uid).is_none()));
    let pv = p.jsonpath("pvc", &claim, "{.spec.volumeName}");
    let image_file = p.jsonpath("pv", &pv, "{.spec.csi.volumeAttributes.path}");
    assert!(same_guest_content(
        std::path::Path::new(&image_file),
        &guest.qcow2
    ));

    // Same class: an overlay on the image's volume; another class: a full copy.
    p.apply(&vd(
        "same",
        None,
        Some(&object_ref("VirtualImage", "onpvc")),
    ))
    .expect_ok();
    p.apply(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualDisk\nmetadata:\n  name: other\nspec:\n  persistentVolumeClaim:\n    storageClassName: local\n  dataSource:\n    type: ObjectRef\n    objectRef:\n      kind: VirtualImage\n      name: onpvc\n",
    )
    .expect_ok();
    wait_phase(&p, "vd", "same", "Ready", 60);
    wait_phase(&p, "vd", "other", "Ready", 60);
    let file_of = |disk: &str| {
        let claim = p.jsonpath("vd", disk, "{.status.target.persistentVolumeClaimName}");
        let pv = p.jsonpath("pvc", &claim, "{.spec.volumeName}");
        std::path::PathBuf::from(p.jsonpath("pv", &pv, "{.spec.csi.volumeAttributes.path}"))
    };
    assert_eq!(
        backing_file(&file_of("same")).as_deref(),
        Some(image_file.as_str())
    );
    assert_eq!(backing_file(&file_of("other")), None);
    assert!(same_guest_content(&file_of("other"), &guest.qcow2));

    // The image cannot go while a disk is an overlay on its volume.
    p.kubectl(&["delete", "vi", "onpvc", "--wait=false"])
        .expect_ok();
    wait_phase(&p, "vi", "onpvc", "Terminating", 30);
    let message = p.jsonpath(
        "vi",
        "onpvc",
        "{.status.conditions[?(@.type=='Terminating')].message}",
    );
    assert!(message.contains("VirtualDisk default/same"), "{message}");
    p.kubectl(&["delete", "vd", "same"]).expect_ok();
    assert!(eventually(60, || !p.exists("vi", "onpvc", None)));
}
