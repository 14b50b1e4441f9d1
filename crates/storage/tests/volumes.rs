//! The provisioners against real files with the real qemu-img: blank, overlay and copy volumes,
//! growing, measuring and deleting them.

use std::path::{Path, PathBuf};

use dvp_qemu::qemu_img;
use dvp_storage::names::{LOCAL_PROVISIONER, SHARED_PROVISIONER};
use dvp_storage::{
    Fill, Provisioner, Provisioners, SourceFormat, StorageConfig, VolumeError, VolumeRequest,
    VolumeSource,
};

const TINY: &str = "/var/cache/guest-images/tiny/tiny.qcow2";
const TINY_RAW: &str = "/var/cache/guest-images/tiny-variants/tiny.raw";
const TINY_VIRTUAL_SIZE: u64 = 36_700_160;
const GIB: u64 = 1 << 30;

struct Setup {
    data: tempfile::TempDir,
    provisioners: Provisioners,
}

impl Setup {
    fn new() -> Setup {
        let data = tempfile::tempdir().unwrap();
        let config = StorageConfig::under(data.path(), "node-a");
        Setup {
            provisioners: Provisioners::with_qemu(&config),
            data,
        }
    }

    fn shared(&self) -> &dyn Provisioner {
        self.provisioners.get(SHARED_PROVISIONER).unwrap()
    }

    fn local(&self) -> &dyn Provisioner {
        self.provisioners.get(LOCAL_PROVISIONER).unwrap()
    }

    /// Places a copy of `file` where imported images live (an allowed source directory).
    fn image(&self, file: &str) -> PathBuf {
        let dir = self.data.path().join("dvcr/blobs");
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join(Path::new(file).file_name().unwrap());
        std::fs::copy(file, &target).unwrap();
        target
    }
}

fn request(class: &str, pv: &str, size: u64, source: VolumeSource) -> VolumeRequest {
    VolumeRequest {
        class: class.into(),
        pv_name: pv.into(),
        size,
        source,
    }
}

#[tokio::test]
async fn a_blank_volume_is_an_empty_qcow2_of_the_requested_size() {
    let s = Setup::new();
    let volume = s
        .shared()
        .create(&request("shared", "pvc-1", 10 * GIB, VolumeSource::Blank))
        .await
        .unwrap();
    assert_eq!(
        volume.path,
        s.data.path().join("storage/shared/pvc-1/disk.qcow2")
    );
    assert_eq!(volume.capacity, 10 * GIB);
    let info = qemu_img::info(&volume.path).await.unwrap();
    assert_eq!(info.format.as_str(), "qcow2");
    assert_eq!(info.virtual_size, 10 * GIB);
    assert_eq!(info.backing_filename, None);
    assert!(!volume.path.with_extension("qcow2.part").exists());
}

#[tokio::test]
async fn a_backing_volume_is_an_overlay_showing_the_source_content() {
    let s = Setup::new();
    let source = s.image(TINY);
    let volume = s
        .shared()
        .create(&request(
            "shared",
            "pvc-2",
            GIB,
            VolumeSource::Backing {
                path: source.clone(),
                format: SourceFormat::Qcow2,
            },
        ))
        .await
        .unwrap();
    assert_eq!(volume.fill, Fill::Overlay);
    let info = qemu_img::info(&volume.path).await.unwrap();
    assert_eq!(info.virtual_size, GIB);
    assert_eq!(
        info.backing_filename.as_deref(),
        Some(source.canonicalize().unwrap().to_str().unwrap())
    );
    assert_eq!(info.backing_format.unwrap().as_str(), "qcow2");
    assert!(
        info.actual_size.unwrap() < 1 << 20,
        "an overlay holds no data"
    );
    assert!(qemu_img::compare(&source, &volume.path).await.unwrap());
}

#[tokio::test]
async fn a_copy_volume_is_self_contained_with_the_source_content() {
    let s = Setup::new();
    let source = s.image(TINY_RAW);
    let volume = s
        .local()
        .create(&request(
            "local",
            "pvc-3",
            GIB,
            VolumeSource::Copy {
                path: source.clone(),
                format: SourceFormat::Raw,
            },
        ))
        .await
        .unwrap();
    assert_eq!(volume.fill, Fill::Copy);
    let info = qemu_img::info(&volume.path).await.unwrap();
    assert_eq!(info.format.as_str(), "qcow2");
    assert_eq!(info.virtual_size, GIB);
    assert_eq!(info.backing_filename, None);
    assert!(qemu_img::compare(&source, &volume.path).await.unwrap());
}

#[tokio::test]
async fn a_source_bigger_than_the_request_is_refused_and_leaves_nothing() {
    let s = Setup::new();
    let source = s.image(TINY);
    let err = s
        .shared()
        .create(&request(
            "shared",
            "pvc-4",
            TINY_VIRTUAL_SIZE - 512,
            VolumeSource::Backing {
                path: source,
                format: SourceFormat::Qcow2,
            },
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            VolumeError::SourceTooBig {
                virtual_size: TINY_VIRTUAL_SIZE,
                ..
            }
        ),
        "{err}"
    );
    assert!(!s.data.path().join("storage/shared/pvc-4").exists());
}

#[tokio::test]
async fn a_source_outside_the_platforms_directories_is_refused() {
    let s = Setup::new();
    let err = s
        .shared()
        .create(&request(
            "shared",
            "pvc-5",
            GIB,
            VolumeSource::Copy {
                path: TINY.into(),
                format: SourceFormat::Qcow2,
            },
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, VolumeError::SourceNotAllowed { .. }), "{err}");
}

#[tokio::test]
async fn a_raw_file_claimed_to_be_qcow2_is_unreadable() {
    let s = Setup::new();
    let source = s.image(TINY_RAW);
    let err = s
        .shared()
        .create(&request(
            "shared",
            "pvc-6",
            GIB,
            VolumeSource::Backing {
                path: source,
                format: SourceFormat::Qcow2,
            },
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, VolumeError::SourceUnreadable { .. }), "{err}");
    assert!(!s.data.path().join("storage/shared/pvc-6").exists());
}

#[tokio::test]
async fn expanding_grows_the_file_and_never_shrinks_it() {
    let s = Setup::new();
    let volume = s
        .shared()
        .create(&request("shared", "pvc-7", GIB, VolumeSource::Blank))
        .await
        .unwrap();
    assert_eq!(
        s.shared().expand(&volume.path, 3 * GIB).await.unwrap(),
        3 * GIB
    );
    assert_eq!(
        qemu_img::info(&volume.path).await.unwrap().virtual_size,
        3 * GIB
    );
    let err = s.shared().expand(&volume.path, GIB).await.unwrap_err();
    assert!(matches!(err, VolumeError::Shrink { .. }), "{err}");
    assert_eq!(
        qemu_img::info(&volume.path).await.unwrap().virtual_size,
        3 * GIB
    );
}

#[tokio::test]
async fn an_overlay_can_grow_past_its_source() {
    let s = Setup::new();
    let source = s.image(TINY);
    let volume = s
        .shared()
        .create(&request(
            "shared",
            "pvc-8",
            TINY_VIRTUAL_SIZE,
            VolumeSource::Backing {
                path: source.clone(),
                format: SourceFormat::Qcow2,
            },
        ))
        .await
        .unwrap();
    s.shared().expand(&volume.path, 2 * GIB).await.unwrap();
    let info = qemu_img::info(&volume.path).await.unwrap();
    assert_eq!(info.virtual_size, 2 * GIB);
    assert!(info.backing_filename.is_some());
}

#[tokio::test]
async fn usage_reports_capacity_and_what_the_file_occupies() {
    let s = Setup::new();
    let source = s.image(TINY);
    let volume = s
        .shared()
        .create(&request(
            "shared",
            "pvc-9",
            GIB,
            VolumeSource::Copy {
                path: source,
                format: SourceFormat::Qcow2,
            },
        ))
        .await
        .unwrap();
    let usage = s.shared().usage(&volume.path).await.unwrap();
    assert_eq!(usage.capacity, GIB);
    assert!(usage.allocated > 4 << 20, "{usage:?}");
    assert!(usage.allocated < GIB);
}

#[tokio::test]
async fn deleting_removes_the_volume_directory_and_is_idempotent() {
    let s = Setup::new();
    let volume = s
        .shared()
        .create(&request("shared", "pvc-10", GIB, VolumeSource::Blank))
        .await
        .unwrap();
    s.shared().delete(&volume.path).await.unwrap();
    assert!(!volume.path.parent().unwrap().exists());
    assert!(s.data.path().join("storage/shared").exists());
    s.shared().delete(&volume.path).await.unwrap();
}

#[tokio::test]
async fn creating_again_keeps_the_finished_volume() {
    let s = Setup::new();
    let r = request("shared", "pvc-11", GIB, VolumeSource::Blank);
    let first = s.shared().create(&r).await.unwrap();
    let again = s.shared().create(&r).await.unwrap();
    assert_eq!(again.fill, Fill::Existing);
    assert_eq!(again.path, first.path);
}
