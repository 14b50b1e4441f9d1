//! Disk images: the layout of the design doc, pushed and read back.

mod common;

use std::fs;

use common::*;
use dvp_dvcr::disk_layout::{DISK_ISO, DISK_QCOW2, OCI_IMAGE_CONFIG};
use dvp_dvcr::manifest::OCI_MANIFEST;
use dvp_dvcr::{DiskFacts, DiskFormat, DvcrError, image_url, vi_repository};

const UID: &str = "0b6f3c2e-8d1a-4c1e-9a57-3f2b1c0d9e8f";

#[test]
fn pushed_disk_image_reads_back_with_its_facts_and_blob() {
    let (dir, registry) = registry();
    let disk = fake_qcow2(dir.path(), "disk.qcow2", &noise(1, 50_000));
    let content = fs::read(&disk).unwrap();
    let facts = qcow2_facts(1 << 30);
    let image = registry
        .push_disk_image("vi/default/tiny", UID, &disk, &facts)
        .unwrap();
    assert_eq!(fs::read(&image.disk_path).unwrap(), content);
    assert_eq!(image.disk_size, content.len() as u64);
    assert!(!disk.exists(), "the disk file was taken into the registry");

    let read = registry
        .read_disk_image("vi/default/tiny", UID)
        .unwrap()
        .unwrap();
    assert_eq!(read.facts, facts);
    assert_eq!(read.disk_path, image.disk_path);
    assert_eq!(read.disk_digest, image.disk_digest);
    assert_eq!(read.manifest_digest, image.manifest_digest);
}

#[test]
fn disk_image_manifest_follows_the_design_layout() {
    let (dir, registry) = registry();
    let disk = fake_qcow2(dir.path(), "disk.qcow2", b"payload");
    let image = registry
        .push_disk_image("cvi/ubuntu", UID, &disk, &qcow2_facts(4096))
        .unwrap();
    let stored = registry.get_manifest("cvi/ubuntu", UID).unwrap().unwrap();
    assert_eq!(stored.media_type, OCI_MANIFEST);
    let manifest: serde_json::Value = serde_json::from_slice(&stored.bytes).unwrap();
    assert_eq!(manifest["mediaType"], OCI_MANIFEST);
    assert_eq!(manifest["config"]["mediaType"], OCI_IMAGE_CONFIG);
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], DISK_QCOW2);
    assert_eq!(layers[0]["digest"], image.disk_digest.to_string());

    let config_digest = manifest["config"]["digest"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let config: serde_json::Value =
        serde_json::from_slice(&fs::read(registry.blob_path(&config_digest).unwrap()).unwrap())
            .unwrap();
    assert_eq!(config["os"], "linux");
    assert_eq!(config["rootfs"]["type"], "layers");
    assert_eq!(
        config["rootfs"]["diff_ids"][0],
        image.disk_digest.to_string()
    );
    let labels = &config["config"]["Labels"];
    assert_eq!(labels["dvp.format"], "qcow2");
    assert_eq!(labels["dvp.virtual-size"], "4096");
    assert_eq!(labels["dvp.unpacked-size"], "4096");
    assert_eq!(labels["dvp.source-format"], "raw");
}

#[test]
fn iso_image_uses_the_iso_layer_type() {
    let (dir, registry) = registry();
    let iso = fake_iso(dir.path(), "cd.iso");
    let facts = DiskFacts {
        format: DiskFormat::Iso,
        virtual_size: 0x8800,
        unpacked_size: 0x8800,
        source_format: "iso".into(),
    };
    registry
        .push_disk_image("vi/ns/cd", UID, &iso, &facts)
        .unwrap();
    let stored = registry.get_manifest("vi/ns/cd", UID).unwrap().unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&stored.bytes).unwrap();
    assert_eq!(manifest["layers"][0]["mediaType"], DISK_ISO);
    assert_eq!(
        registry
            .read_disk_image("vi/ns/cd", UID)
            .unwrap()
            .unwrap()
            .facts,
        facts
    );
}

#[test]
fn qcow2_naming_a_backing_file_is_refused_and_left_in_place() {
    let (dir, registry) = registry();
    let disk = dir.path().join("overlay.qcow2");
    let mut bytes = b"QFI\xfb\0\0\0\x03".to_vec();
    bytes.extend_from_slice(&0x200u64.to_be_bytes());
    fs::write(&disk, &bytes).unwrap();
    let err = registry
        .push_disk_image("vi/d/x", UID, &disk, &qcow2_facts(1))
        .unwrap_err();
    assert!(matches!(err, DvcrError::BadDiskFile { .. }));
    assert!(err.to_string().contains("backing file"), "{err}");
    assert!(disk.exists());
    assert!(registry.repositories().unwrap().is_empty());
}

#[test]
fn a_file_that_is_not_what_the_facts_say_is_refused() {
    let (dir, registry) = registry();
    let raw = dir.path().join("disk.raw");
    fs::write(&raw, vec![0u8; 40_000]).unwrap();
    assert!(matches!(
        registry.push_disk_image("vi/d/x", UID, &raw, &qcow2_facts(1)),
        Err(DvcrError::BadDiskFile { .. })
    ));
    let iso_facts = DiskFacts {
        format: DiskFormat::Iso,
        ..qcow2_facts(1)
    };
    assert!(matches!(
        registry.push_disk_image("vi/d/x", UID, &raw, &iso_facts),
        Err(DvcrError::BadDiskFile { .. })
    ));
}

#[test]
fn invalid_repository_is_refused_before_the_file_is_touched() {
    let (dir, registry) = registry();
    let disk = fake_qcow2(dir.path(), "disk.qcow2", b"x");
    assert!(
        registry
            .push_disk_image("vi/Default/x", UID, &disk, &qcow2_facts(1))
            .is_err()
    );
    assert!(disk.exists());
}

#[test]
fn image_made_from_another_images_blob_shares_the_blob() {
    let (dir, registry) = registry();
    let disk = fake_qcow2(dir.path(), "disk.qcow2", b"shared");
    let first = registry
        .push_disk_image("vi/d/a", UID, &disk, &qcow2_facts(1))
        .unwrap();
    let second = registry
        .push_disk_image("vi/d/b", "other", &first.disk_path, &qcow2_facts(1))
        .unwrap();
    assert_eq!(second.disk_digest, first.disk_digest);
    assert!(first.disk_path.exists());
    assert!(registry.read_disk_image("vi/d/a", UID).unwrap().is_some());
}

#[test]
fn reading_an_ordinary_image_says_it_is_not_a_disk_image() {
    let (_dir, registry) = registry();
    push_small_image(&registry, "vi/d/app", "v1", 1);
    assert!(matches!(
        registry.read_disk_image("vi/d/app", "v1"),
        Err(DvcrError::NotDiskImage { .. })
    ));
}

#[test]
fn reading_a_missing_image_or_one_that_lost_its_disk_is_none() {
    let (dir, registry) = registry();
    assert_eq!(registry.read_disk_image("vi/d/none", UID).unwrap(), None);
    let disk = fake_qcow2(dir.path(), "disk.qcow2", b"x");
    let image = registry
        .push_disk_image("vi/d/x", UID, &disk, &qcow2_facts(1))
        .unwrap();
    fs::remove_file(&image.disk_path).unwrap();
    assert_eq!(registry.read_disk_image("vi/d/x", UID).unwrap(), None);
}

#[test]
fn registry_url_is_host_repository_and_tag() {
    assert_eq!(
        image_url("127.0.0.1:6443", &vi_repository("default", "tiny"), UID),
        format!("127.0.0.1:6443/vi/default/tiny:{UID}")
    );
}
