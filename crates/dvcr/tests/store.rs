//! The registry store: blobs, manifests, tags, upload sessions.

mod common;

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use common::*;
use dvp_dvcr::{Digest, DvcrError, Registry, manifest::OCI_INDEX, manifest::OCI_MANIFEST};

#[test]
fn put_blob_bytes_stores_content_under_its_sha256() {
    let (_dir, registry) = registry();
    let digest = registry.put_blob_bytes(b"hello").unwrap();
    assert_eq!(digest, Digest::of_bytes(b"hello"));
    let path = registry.blob_path(&digest).unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"hello");
    assert!(path.ends_with(format!("blobs/sha256/{}", digest.hex())));
    assert_eq!(registry.blob_size(&digest), Some(5));
}

#[test]
fn blob_files_are_read_only() {
    let (_dir, registry) = registry();
    let digest = registry.put_blob_bytes(b"ro").unwrap();
    let mode = fs::metadata(registry.blob_path(&digest).unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o222, 0, "mode {mode:o}");
}

#[test]
fn put_blob_from_file_moves_the_file_in() {
    let (dir, registry) = registry();
    let source = dir.path().join("disk");
    fs::write(&source, noise(1, 10_000)).unwrap();
    let digest = registry.put_blob_from_file(&source).unwrap();
    assert!(!source.exists());
    assert_eq!(
        fs::read(registry.blob_path(&digest).unwrap()).unwrap(),
        noise(1, 10_000)
    );
}

#[test]
fn copy_blob_from_file_leaves_the_source() {
    let (dir, registry) = registry();
    let source = dir.path().join("disk");
    fs::write(&source, b"keep me").unwrap();
    let digest = registry.copy_blob_from_file(&source).unwrap();
    assert_eq!(fs::read(&source).unwrap(), b"keep me");
    assert_eq!(digest, Digest::of_bytes(b"keep me"));
}

#[test]
fn storing_existing_content_keeps_the_original_file() {
    let (dir, registry) = registry();
    let digest = registry.put_blob_bytes(b"same").unwrap();
    let inode = fs::metadata(registry.blob_path(&digest).unwrap())
        .unwrap()
        .ino();
    let source = dir.path().join("again");
    fs::write(&source, b"same").unwrap();
    assert_eq!(registry.put_blob_from_file(&source).unwrap(), digest);
    assert_eq!(
        fs::metadata(registry.blob_path(&digest).unwrap())
            .unwrap()
            .ino(),
        inode
    );
    assert!(!source.exists(), "the duplicate is consumed");
}

#[test]
fn taking_a_file_that_already_is_a_blob_does_not_move_it() {
    let (_dir, registry) = registry();
    let digest = registry.put_blob_bytes(b"backing").unwrap();
    let path = registry.blob_path(&digest).unwrap();
    assert_eq!(registry.put_blob_from_file(&path).unwrap(), digest);
    assert_eq!(fs::read(&path).unwrap(), b"backing");
}

#[test]
fn wrong_expected_digest_stores_nothing() {
    let (_dir, registry) = registry();
    let wrong = Digest::of_bytes(b"other");
    let err = registry
        .put_blob_from_reader(&mut &b"content"[..], Some(&wrong))
        .unwrap_err();
    assert!(matches!(err, DvcrError::DigestMismatch { .. }), "{err}");
    assert!(!registry.has_blob(&Digest::of_bytes(b"content")));
    assert_eq!(
        fs::read_dir(registry.root().join("tmp")).unwrap().count(),
        0
    );
}

/// A reader that fails after yielding some bytes, like a connection reset mid-download.
struct BreaksOff(usize);

impl Read for BreaksOff {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0 == 0 {
            return Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset"));
        }
        let n = buf.len().min(self.0);
        buf[..n].fill(7);
        self.0 -= n;
        Ok(n)
    }
}

#[test]
fn a_write_that_fails_midway_leaves_no_blob_and_no_temp_file() {
    let (_dir, registry) = registry();
    assert!(
        registry
            .put_blob_from_reader(&mut BreaksOff(3 << 20), None)
            .is_err()
    );
    assert_eq!(
        fs::read_dir(registry.root().join("blobs/sha256"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(
        fs::read_dir(registry.root().join("tmp")).unwrap().count(),
        0
    );
}

#[test]
fn half_written_files_left_by_a_crash_are_invisible_and_removed_at_open() {
    let (dir, registry) = registry();
    let root = registry.root().to_path_buf();
    drop(registry);
    fs::write(root.join("tmp/partial"), b"half a bl").unwrap();
    let registry = Registry::open(&root).unwrap();
    assert!(!root.join("tmp/partial").exists());
    assert_eq!(fs::read_dir(root.join("blobs/sha256")).unwrap().count(), 0);
    assert!(registry.repositories().unwrap().is_empty());
    drop(dir);
}

fn two_blobs(registry: &Registry) -> (Digest, Digest) {
    (
        registry.put_blob_bytes(b"config").unwrap(),
        registry.put_blob_bytes(b"layer!").unwrap(),
    )
}

#[test]
fn manifest_round_trips_by_tag_and_by_digest() {
    let (_dir, registry) = registry();
    let (config, layer) = two_blobs(&registry);
    let manifest = image_manifest((&config, 6), &[(&layer, 6)]);
    let digest = registry
        .put_manifest("vi/default/tiny", "v1", &manifest, OCI_MANIFEST)
        .unwrap();
    assert_eq!(digest, Digest::of_bytes(&manifest));
    for reference in ["v1".to_string(), digest.to_string()] {
        let stored = registry
            .get_manifest("vi/default/tiny", &reference)
            .unwrap()
            .unwrap();
        assert_eq!(stored.bytes, manifest);
        assert_eq!(stored.media_type, OCI_MANIFEST);
        assert_eq!(stored.digest, digest);
    }
    assert_eq!(
        registry.get_manifest("vi/default/tiny", "v2").unwrap(),
        None
    );
}

#[test]
fn manifest_naming_a_missing_blob_is_refused() {
    let (_dir, registry) = registry();
    let (config, _) = two_blobs(&registry);
    let missing = Digest::of_bytes(b"nowhere");
    let manifest = image_manifest((&config, 6), &[(&missing, 7)]);
    let err = registry
        .put_manifest("cvi/x", "v1", &manifest, OCI_MANIFEST)
        .unwrap_err();
    assert!(matches!(err, DvcrError::ManifestBlobUnknown(d) if d == missing));
    assert!(registry.repositories().unwrap().is_empty());
}

#[test]
fn manifest_with_a_wrong_blob_size_is_refused() {
    let (_dir, registry) = registry();
    let (config, layer) = two_blobs(&registry);
    let manifest = image_manifest((&config, 6), &[(&layer, 5)]);
    let err = registry
        .put_manifest("cvi/x", "v1", &manifest, OCI_MANIFEST)
        .unwrap_err();
    assert!(
        matches!(
            err,
            DvcrError::ManifestBlobSize {
                declared: 5,
                actual: 6,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn manifest_pushed_by_a_digest_it_does_not_have_is_refused() {
    let (_dir, registry) = registry();
    let (config, layer) = two_blobs(&registry);
    let manifest = image_manifest((&config, 6), &[(&layer, 6)]);
    let wrong = Digest::of_bytes(b"not the manifest").to_string();
    let err = registry
        .put_manifest("cvi/x", &wrong, &manifest, OCI_MANIFEST)
        .unwrap_err();
    assert!(matches!(err, DvcrError::DigestMismatch { .. }));
}

#[test]
fn invalid_names_and_tags_are_refused() {
    let (_dir, registry) = registry();
    let (config, layer) = two_blobs(&registry);
    let manifest = image_manifest((&config, 6), &[(&layer, 6)]);
    assert!(matches!(
        registry.put_manifest("VI/x", "v1", &manifest, OCI_MANIFEST),
        Err(DvcrError::Name(_))
    ));
    assert!(matches!(
        registry.put_manifest("../etc", "v1", &manifest, OCI_MANIFEST),
        Err(DvcrError::Name(_))
    ));
    assert!(matches!(
        registry.put_manifest("vi/x", ".v1", &manifest, OCI_MANIFEST),
        Err(DvcrError::Reference(_))
    ));
}

#[test]
fn index_requires_its_children_in_the_same_repository() {
    let (_dir, registry) = registry();
    let (child, ..) = push_small_image(&registry, "cvi/a", "child", 1);
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": child.to_string(), "size": 1}],
    }))
    .unwrap();
    let err = registry
        .put_manifest("cvi/b", "multi", &index, OCI_INDEX)
        .unwrap_err();
    assert!(
        matches!(err, DvcrError::ManifestChildUnknown { .. }),
        "{err}"
    );
    registry
        .put_manifest("cvi/a", "multi", &index, OCI_INDEX)
        .unwrap();
}

#[test]
fn nested_repository_names_coexist_and_are_listed() {
    let (_dir, registry) = registry();
    push_small_image(&registry, "vi/ns", "a", 1);
    push_small_image(&registry, "vi/ns/tiny", "b", 2);
    push_small_image(&registry, "cvi/tags", "c", 3);
    assert_eq!(
        registry.repositories().unwrap(),
        ["cvi/tags", "vi/ns", "vi/ns/tiny"]
    );
    assert_eq!(registry.tags("vi/ns").unwrap(), ["a"]);
    assert_eq!(registry.tags("vi/ns/tiny").unwrap(), ["b"]);
}

#[test]
fn tags_are_sorted_and_retagging_moves_the_tag() {
    let (_dir, registry) = registry();
    push_small_image(&registry, "vi/d/x", "b", 1);
    push_small_image(&registry, "vi/d/x", "a", 2);
    let (latest, ..) = push_small_image(&registry, "vi/d/x", "b", 3);
    assert_eq!(registry.tags("vi/d/x").unwrap(), ["a", "b"]);
    assert_eq!(
        registry
            .get_manifest("vi/d/x", "b")
            .unwrap()
            .unwrap()
            .digest,
        latest
    );
}

#[test]
fn delete_tag_keeps_the_manifest_reachable_by_digest() {
    let (_dir, registry) = registry();
    let (digest, ..) = push_small_image(&registry, "vi/d/x", "v1", 1);
    assert!(registry.delete_tag("vi/d/x", "v1").unwrap());
    assert!(!registry.delete_tag("vi/d/x", "v1").unwrap());
    assert!(registry.get_manifest("vi/d/x", "v1").unwrap().is_none());
    assert!(
        registry
            .get_manifest("vi/d/x", &digest.to_string())
            .unwrap()
            .is_some()
    );
}

#[test]
fn delete_manifest_removes_its_tags_and_the_empty_repository() {
    let (_dir, registry) = registry();
    let (digest, ..) = push_small_image(&registry, "vi/d/x", "v1", 1);
    registry
        .put_manifest(
            "vi/d/x",
            "v2",
            &registry
                .get_manifest("vi/d/x", "v1")
                .unwrap()
                .unwrap()
                .bytes,
            "",
        )
        .unwrap();
    assert!(registry.delete_manifest("vi/d/x", &digest).unwrap());
    assert!(registry.tags("vi/d/x").unwrap().is_empty());
    assert!(registry.repositories().unwrap().is_empty());
    assert!(!registry.root().join("repositories/vi").exists());
}

#[test]
fn delete_blob_refuses_a_blob_a_manifest_uses() {
    let (_dir, registry) = registry();
    let (_, _, layer) = push_small_image(&registry, "vi/d/x", "v1", 1);
    assert!(matches!(
        registry.delete_blob(&layer),
        Err(DvcrError::BlobInUse { .. })
    ));
    let loose = registry.put_blob_bytes(b"loose").unwrap();
    assert!(registry.delete_blob(&loose).unwrap());
    assert!(!registry.has_blob(&loose));
}

#[test]
fn chunked_upload_becomes_a_blob() {
    let (_dir, registry) = registry();
    let id = registry.start_upload("vi/d/x").unwrap();
    let mut append = registry.append_upload("vi/d/x", &id, Some(0)).unwrap();
    append.write(b"hello ").unwrap();
    assert_eq!(append.finish(), 6);
    let mut append = registry.append_upload("vi/d/x", &id, Some(6)).unwrap();
    append.write(b"world").unwrap();
    append.finish();
    assert_eq!(registry.upload_size("vi/d/x", &id).unwrap(), 11);
    let digest = registry
        .complete_upload("vi/d/x", &id, &Digest::of_bytes(b"hello world"))
        .unwrap();
    assert_eq!(
        fs::read(registry.blob_path(&digest).unwrap()).unwrap(),
        b"hello world"
    );
    assert!(matches!(
        registry.upload_size("vi/d/x", &id),
        Err(DvcrError::UploadUnknown(_))
    ));
}

#[test]
fn chunk_at_the_wrong_offset_is_refused_with_the_current_size() {
    let (_dir, registry) = registry();
    let id = registry.start_upload("vi/d/x").unwrap();
    let mut append = registry.append_upload("vi/d/x", &id, None).unwrap();
    append.write(b"abc").unwrap();
    append.finish();
    let err = registry
        .append_upload("vi/d/x", &id, Some(10))
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            DvcrError::UploadOffset {
                start: 10,
                size: 3,
                ..
            }
        ),
        "{err}"
    );
    // The refused request did not leave the session busy.
    registry
        .append_upload("vi/d/x", &id, Some(3))
        .unwrap()
        .finish();
}

#[test]
fn a_session_is_written_by_one_request_at_a_time() {
    let (_dir, registry) = registry();
    let id = registry.start_upload("vi/d/x").unwrap();
    let first = registry.append_upload("vi/d/x", &id, None).unwrap();
    let err = registry.append_upload("vi/d/x", &id, None).err().unwrap();
    assert!(matches!(err, DvcrError::UploadBusy(_)));
    first.finish();
    registry
        .append_upload("vi/d/x", &id, None)
        .unwrap()
        .finish();
}

#[test]
fn upload_with_the_wrong_digest_is_discarded() {
    let (_dir, registry) = registry();
    let id = registry.start_upload("vi/d/x").unwrap();
    let mut append = registry.append_upload("vi/d/x", &id, None).unwrap();
    append.write(b"abc").unwrap();
    append.finish();
    let err = registry
        .complete_upload("vi/d/x", &id, &Digest::of_bytes(b"abd"))
        .unwrap_err();
    assert!(matches!(err, DvcrError::DigestMismatch { .. }));
    assert!(!registry.has_blob(&Digest::of_bytes(b"abc")));
    assert!(registry.upload_size("vi/d/x", &id).is_err());
}

#[test]
fn session_belongs_to_the_repository_it_was_started_for() {
    let (_dir, registry) = registry();
    let id = registry.start_upload("vi/d/x").unwrap();
    assert!(matches!(
        registry.append_upload("vi/d/other", &id, None),
        Err(DvcrError::UploadUnknown(_))
    ));
    assert!(matches!(
        registry.upload_size("vi/d/x", "../../blobs"),
        Err(DvcrError::UploadUnknown(_))
    ));
}

#[test]
fn upload_resumes_after_the_registry_is_reopened() {
    let (_dir, registry) = registry();
    let id = registry.start_upload("vi/d/x").unwrap();
    let mut append = registry.append_upload("vi/d/x", &id, None).unwrap();
    append.write(b"before restart, ").unwrap();
    append.finish();
    let root = registry.root().to_path_buf();
    drop(registry);
    let registry = Registry::open(&root).unwrap();
    let mut append = registry.append_upload("vi/d/x", &id, Some(16)).unwrap();
    append.write(b"after").unwrap();
    append.finish();
    let expected = Digest::of_bytes(b"before restart, after");
    assert_eq!(
        registry.complete_upload("vi/d/x", &id, &expected).unwrap(),
        expected
    );
}

#[test]
fn cancelled_upload_is_gone() {
    let (_dir, registry) = registry();
    let id = registry.start_upload("vi/d/x").unwrap();
    registry.cancel_upload("vi/d/x", &id).unwrap();
    assert!(matches!(
        registry.append_upload("vi/d/x", &id, None),
        Err(DvcrError::UploadUnknown(_))
    ));
    assert_eq!(
        fs::read_dir(registry.root().join("uploads"))
            .unwrap()
            .count(),
        0
    );
}
