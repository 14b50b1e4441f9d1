//! Interoperability with a standard client: Debian's skopeo copies a DVCR disk image to a
//! local directory and back, lists its tags and inspects it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use common::*;
use dvp_dvcr::{DiskFacts, DiskFormat, Registry};

const SKOPEO: &str = "/usr/bin/skopeo";
const GUEST_IMAGE: &str = "/var/cache/guest-images/tiny/tiny.qcow2";
const UID: &str = "6c1f2f7e-3b7d-4d0f-8f5e-2a9c4b1d0e37";

/// The guest image (or a fresh empty qcow2), copied next to the registry so pushing can move it.
fn disk_file(dir: &Path) -> PathBuf {
    let target = dir.join("tiny.qcow2");
    if Path::new(GUEST_IMAGE).exists() {
        std::fs::copy(GUEST_IMAGE, &target).unwrap();
    } else {
        let status = std::process::Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2"])
            .arg(&target)
            .arg("64M")
            .status()
            .expect("qemu-img is needed when the guest image is missing");
        assert!(status.success());
    }
    target
}

async fn skopeo(home: &Path, args: &[&str]) -> Output {
    let policy = home.join("policy.json");
    std::fs::write(
        &policy,
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .unwrap();
    let mut command = tokio::process::Command::new(SKOPEO);
    command
        .arg("--policy")
        .arg(&policy)
        .args(args)
        .env("HOME", home);
    let output = tokio::time::timeout(std::time::Duration::from_secs(120), command.output())
        .await
        .expect("skopeo timed out")
        .unwrap();
    if !output.status.success() {
        eprintln!(
            "skopeo {args:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    output
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_copies_a_disk_image_out_and_back_byte_for_byte() {
    if !Path::new(SKOPEO).exists() {
        eprintln!("NOTE: {SKOPEO} is missing; skipping the skopeo interoperability test");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let registry = Arc::new(Registry::open(&dir.path().join("dvcr")).unwrap());
    let disk = disk_file(dir.path());
    let original = std::fs::read(&disk).unwrap();
    let facts = DiskFacts {
        format: DiskFormat::Qcow2,
        virtual_size: 64 << 20,
        unpacked_size: 64 << 20,
        source_format: "qcow2".into(),
    };
    let pushed = registry
        .push_disk_image("vi/default/tiny", UID, &disk, &facts)
        .unwrap();
    let addr = serve(registry.clone(), token_auth()).await;
    let source = format!("docker://{addr}/vi/default/tiny:{UID}");
    let creds = format!("x:{TOKEN}");

    // Without credentials skopeo is refused.
    let refused = skopeo(&home, &["inspect", "--tls-verify=false", &source]).await;
    assert!(!refused.status.success());

    let inspect = skopeo(
        &home,
        &["inspect", "--tls-verify=false", "--creds", &creds, &source],
    )
    .await;
    assert!(inspect.status.success());
    let info: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(info["Digest"], pushed.manifest_digest.to_string());
    assert_eq!(info["Layers"][0], pushed.disk_digest.to_string());
    assert_eq!(info["Labels"]["dvp.format"], "qcow2");

    let list = skopeo(
        &home,
        &[
            "list-tags",
            "--tls-verify=false",
            "--creds",
            &creds,
            &format!("docker://{addr}/vi/default/tiny"),
        ],
    )
    .await;
    assert!(list.status.success());
    let tags: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(tags["Tags"], serde_json::json!([UID]));

    let local = dir.path().join("copied");
    let local_ref = format!("dir:{}", local.display());
    let out = skopeo(
        &home,
        &[
            "copy",
            "--src-tls-verify=false",
            "--src-creds",
            &creds,
            &source,
            &local_ref,
        ],
    )
    .await;
    assert!(out.status.success());
    let copied_disk = std::fs::read(local.join(pushed.disk_digest.hex())).unwrap();
    assert!(copied_disk == original, "the disk blob copied out differs");

    let back = format!("docker://{addr}/vi/default/copy:1");
    let out = skopeo(
        &home,
        &[
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            &creds,
            &local_ref,
            &back,
        ],
    )
    .await;
    assert!(out.status.success());
    let copy = registry
        .read_disk_image("vi/default/copy", "1")
        .unwrap()
        .unwrap();
    assert_eq!(copy.disk_digest, pushed.disk_digest);
    assert_eq!(copy.facts, facts);
    assert!(
        std::fs::read(&copy.disk_path).unwrap() == original,
        "the disk copied back differs"
    );
    assert_eq!(
        registry
            .get_manifest("vi/default/copy", "1")
            .unwrap()
            .unwrap()
            .digest,
        pushed.manifest_digest,
        "the manifest came back unchanged"
    );

    // Registry to registry: the blobs are already there, only the manifest is new.
    let elsewhere = format!("docker://{addr}/cvi/tiny:2");
    let out = skopeo(
        &home,
        &[
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--src-creds",
            &creds,
            "--dest-creds",
            &creds,
            &source,
            &elsewhere,
        ],
    )
    .await;
    assert!(out.status.success());
    let image = registry.read_disk_image("cvi/tiny", "2").unwrap().unwrap();
    assert_eq!(
        image.disk_path, pushed.disk_path,
        "the same blob file serves both images"
    );
}
