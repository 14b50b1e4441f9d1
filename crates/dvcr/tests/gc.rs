//! Garbage collection.

mod common;

use std::collections::HashSet;
use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use common::*;
use dvp_dvcr::{Digest, RegistryOptions};

fn keep_all(_: &str, _: &str) -> bool {
    true
}

fn no_roots() -> HashSet<Digest> {
    HashSet::new()
}

#[test]
fn unkept_images_lose_their_manifest_and_blobs_and_kept_ones_stay() {
    let (_dir, registry) = registry_with(no_grace());
    let (_, kept_config, kept_layer) = push_small_image(&registry, "vi/d/kept", "u1", 1);
    let (gone_manifest, gone_config, gone_layer) =
        push_small_image(&registry, "vi/d/gone", "u2", 2);
    let report = registry
        .gc(&|repo, _| repo == "vi/d/kept", &no_roots())
        .unwrap();
    assert_eq!(report.tags_deleted, 1);
    assert_eq!(report.manifests_deleted, 1);
    assert_eq!(report.repositories_deleted, 1);
    // Config, layer and the manifest's own bytes.
    assert_eq!(report.blobs_deleted, 3);
    let manifest_len = 100 + 1000;
    assert!(report.bytes_freed > manifest_len, "{report}");
    for gone in [&gone_manifest, &gone_config, &gone_layer] {
        assert!(!registry.has_blob(gone));
    }
    assert!(registry.has_blob(&kept_config) && registry.has_blob(&kept_layer));
    assert!(registry.get_manifest("vi/d/kept", "u1").unwrap().is_some());
    assert_eq!(registry.repositories().unwrap(), ["vi/d/kept"]);
}

#[test]
fn blob_shared_with_a_kept_image_survives() {
    let (dir, registry) = registry_with(no_grace());
    let disk = fake_qcow2(dir.path(), "d.qcow2", b"shared disk");
    let first = registry
        .push_disk_image("vi/d/a", "u1", &disk, &qcow2_facts(1))
        .unwrap();
    registry
        .push_disk_image("vi/d/b", "u2", &first.disk_path, &qcow2_facts(1))
        .unwrap();
    registry
        .gc(&|repo, _| repo == "vi/d/b", &no_roots())
        .unwrap();
    assert!(registry.read_disk_image("vi/d/b", "u2").unwrap().is_some());
}

#[test]
fn extra_roots_keep_the_backing_file_of_a_volume() {
    let (dir, registry) = registry_with(no_grace());
    let disk = fake_qcow2(dir.path(), "d.qcow2", b"backs a volume");
    let image = registry
        .push_disk_image("vi/d/img", "u1", &disk, &qcow2_facts(1))
        .unwrap();
    let roots = HashSet::from([image.disk_digest.clone()]);
    let report = registry.gc(&|_, _| false, &roots).unwrap();
    assert_eq!(report.manifests_deleted, 1);
    assert!(registry.has_blob(&image.disk_digest), "{report}");
    assert!(image.disk_path.exists());
}

#[test]
fn blob_pushed_for_a_manifest_not_yet_written_survives_the_grace_period() {
    let (_dir, registry) = registry(); // default grace: one hour
    let config = registry.put_blob_bytes(b"config").unwrap();
    let layer = registry.put_blob_bytes(b"layer").unwrap();
    let report = registry.gc(&keep_all, &no_roots()).unwrap();
    assert_eq!(report.blobs_deleted, 0);
    assert_eq!(report.blobs_kept_recent, 2);
    let manifest = image_manifest((&config, 6), &[(&layer, 5)]);
    registry
        .put_manifest("vi/d/x", "u1", &manifest, "")
        .unwrap();
}

/// Ages a file by two hours.
fn age(path: &std::path::Path) {
    fs::File::open(path)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(2 * 3600))
        .unwrap();
}

#[test]
fn blobs_of_an_image_deleted_right_after_its_push_are_freed_at_once() {
    let (dir, registry) = registry(); // default grace: one hour
    let disk = fake_qcow2(dir.path(), "d.qcow2", &noise(5, 10_000));
    let image = registry
        .push_disk_image("vi/d/x", "u1", &disk, &qcow2_facts(1))
        .unwrap();
    let report = registry.gc(&|_, _| false, &no_roots()).unwrap();
    assert_eq!(report.blobs_deleted, 3, "{report}");
    assert!(!registry.has_blob(&image.disk_digest));
    assert_eq!(report.blobs_remaining, 0);
}

#[test]
fn unreferenced_blob_left_before_a_restart_goes_once_older_than_the_grace_period() {
    let (_dir, registry) = registry();
    let loose = registry.put_blob_bytes(b"abandoned").unwrap();
    let root = registry.root().to_path_buf();
    drop(registry);
    age(&root.join("blobs/sha256").join(loose.hex()));
    let registry = dvp_dvcr::Registry::open(&root).unwrap();
    let report = registry.gc(&keep_all, &no_roots()).unwrap();
    assert_eq!(report.blobs_deleted, 1);
    assert_eq!(report.bytes_freed, 9);
    assert!(!registry.has_blob(&loose));
}

#[test]
fn young_blob_left_before_a_restart_keeps_its_grace() {
    let (_dir, registry) = registry();
    let loose = registry
        .put_blob_bytes(b"pushed just before the restart")
        .unwrap();
    let root = registry.root().to_path_buf();
    drop(registry);
    // Longer than the registry's margin for the kernel's coarse file clock.
    std::thread::sleep(Duration::from_millis(100));
    let registry = dvp_dvcr::Registry::open(&root).unwrap();
    assert_eq!(
        registry
            .gc(&keep_all, &no_roots())
            .unwrap()
            .blobs_kept_recent,
        1
    );
    assert!(registry.has_blob(&loose));
}

#[test]
fn head_of_an_old_blob_protects_it_until_its_manifest_arrives() {
    let (_dir, registry) = registry();
    let loose = registry.put_blob_bytes(b"reused").unwrap();
    let root = registry.root().to_path_buf();
    drop(registry);
    age(&root.join("blobs/sha256").join(loose.hex()));
    let registry = dvp_dvcr::Registry::open(&root).unwrap();
    assert_eq!(registry.claim_blob(&loose), Some(6));
    registry.gc(&keep_all, &no_roots()).unwrap();
    assert!(registry.has_blob(&loose));
}

#[test]
fn manifest_pushed_by_digest_waits_for_its_tag_during_the_grace_period() {
    let (_dir, registry) = registry();
    let (tagged, ..) = push_small_image(&registry, "vi/d/x", "u1", 1);
    registry.delete_tag("vi/d/x", "u1").unwrap();
    let config = registry.put_blob_bytes(&noise(7, 10)).unwrap();
    let by_digest = image_manifest((&config, 10), &[]);
    let digest = Digest::of_bytes(&by_digest);
    registry
        .put_manifest("vi/d/x", &digest.to_string(), &by_digest, "")
        .unwrap();

    let report = registry.gc(&keep_all, &no_roots()).unwrap();
    assert_eq!(
        report.manifests_deleted, 1,
        "the untagged one goes: {report}"
    );
    assert!(
        registry
            .get_manifest("vi/d/x", &tagged.to_string())
            .unwrap()
            .is_none()
    );
    assert!(
        registry
            .get_manifest("vi/d/x", &digest.to_string())
            .unwrap()
            .is_some()
    );
    assert!(registry.has_blob(&config));

    let (_dir, registry) = registry_with(no_grace());
    registry.put_blob_bytes(&noise(7, 10)).unwrap();
    registry
        .put_manifest("vi/d/x", &digest.to_string(), &by_digest, "")
        .unwrap();
    registry.gc(&keep_all, &no_roots()).unwrap();
    assert!(
        registry
            .get_manifest("vi/d/x", &digest.to_string())
            .unwrap()
            .is_none()
    );
}

#[test]
fn index_children_stay_while_the_index_is_kept() {
    let (_dir, registry) = registry_with(no_grace());
    let (child, _, layer) = push_small_image(&registry, "vi/d/multi", "child", 1);
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": child.to_string(), "size": 1}],
    }))
    .unwrap();
    registry
        .put_manifest("vi/d/multi", "index", &index, "")
        .unwrap();
    registry.delete_tag("vi/d/multi", "child").unwrap();
    registry.gc(&keep_all, &no_roots()).unwrap();
    assert!(
        registry
            .get_manifest("vi/d/multi", &child.to_string())
            .unwrap()
            .is_some()
    );
    assert!(registry.has_blob(&layer));
}

#[test]
fn stale_upload_sessions_are_removed_and_active_ones_are_not() {
    let (_dir, registry) = registry_with(no_grace());
    let stale = registry.start_upload("vi/d/x").unwrap();
    let mut writing = registry.append_upload("vi/d/x", &stale, None).unwrap();
    writing.write(b"12345").unwrap();
    writing.finish();
    let active = registry.start_upload("vi/d/x").unwrap();
    let busy = registry.append_upload("vi/d/x", &active, None).unwrap();
    let report = registry.gc(&keep_all, &no_roots()).unwrap();
    assert_eq!(report.uploads_deleted, 1);
    assert_eq!(report.upload_bytes_freed, 5);
    assert!(registry.upload_size("vi/d/x", &stale).is_err());
    busy.finish();
    assert_eq!(registry.upload_size("vi/d/x", &active).unwrap(), 0);
}

#[test]
fn recent_upload_sessions_survive() {
    let (_dir, registry) = registry();
    let id = registry.start_upload("vi/d/x").unwrap();
    assert_eq!(
        registry.gc(&keep_all, &no_roots()).unwrap().uploads_deleted,
        0
    );
    assert_eq!(registry.upload_size("vi/d/x", &id).unwrap(), 0);
}

#[test]
fn disk_images_pushed_during_collections_are_never_broken() {
    // No grace at all: only the registry lock protects the pushes.
    let (dir, registry) = registry_with(RegistryOptions {
        gc_grace: Duration::ZERO,
        upload_ttl: Duration::ZERO,
    });
    let registry = Arc::new(registry);
    let done = Arc::new(AtomicBool::new(false));
    let collector = {
        let (registry, done) = (registry.clone(), done.clone());
        std::thread::spawn(move || {
            let mut runs = 0;
            while !done.load(Ordering::Relaxed) {
                registry
                    .gc(&|_, tag| tag.starts_with("keep"), &HashSet::new())
                    .unwrap();
                runs += 1;
            }
            runs
        })
    };
    for i in 0..60 {
        let disk = fake_qcow2(dir.path(), "d.qcow2", &noise(i, 4096));
        let tag = if i % 2 == 0 {
            format!("keep{i}")
        } else {
            format!("drop{i}")
        };
        registry
            .push_disk_image("vi/d/x", &tag, &disk, &qcow2_facts(1))
            .unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let runs = collector.join().unwrap();
    registry
        .gc(&|_, tag| tag.starts_with("keep"), &HashSet::new())
        .unwrap();
    for i in (0..60).step_by(2) {
        let image = registry
            .read_disk_image("vi/d/x", &format!("keep{i}"))
            .unwrap();
        let image = image.unwrap_or_else(|| panic!("keep{i} lost after {runs} collections"));
        let content = fs::read(&image.disk_path).unwrap();
        assert_eq!(&content[16..], noise(i, 4096).as_slice());
    }
    assert_eq!(registry.tags("vi/d/x").unwrap().len(), 30);
}
