//! Local sources: uploaded files (any format, compressed or not, with checksums) and volumes
//! (overlays flattened).

mod common;

use std::path::{Path, PathBuf};

use common::*;
use dvp_importer::{Checksums, Compression, ImportError, Source, SourceFormat};
use dvp_qemu::qemu_img::{self, ImageFormat};

fn file(path: PathBuf) -> Source {
    Source::File {
        path,
        checksum: Checksums::default(),
    }
}

async fn assert_file_variant(name: &str, format: SourceFormat, compression: Option<Compression>) {
    let source = variant(name);
    let run = run_import(file(source.clone()), &options()).await;
    assert_eq!(run.ok().source_format, format);
    assert_eq!(run.ok().compression, compression);
    assert_tiny_disk(run.ok()).await;
    assert_progress_finished(&run.progress);
    assert_eq!(run.leftovers(), ["disk.qcow2"]);
    assert!(source.exists(), "the source file must be left alone");
}

#[tokio::test]
async fn uploaded_qcow2() {
    assert_file_variant("tiny.qcow2", SourceFormat::Qcow2, None).await;
}

#[tokio::test]
async fn uploaded_raw() {
    assert_file_variant("tiny.raw", SourceFormat::Raw, None).await;
}

#[tokio::test]
async fn uploaded_vmdk() {
    assert_file_variant("tiny.vmdk", SourceFormat::Vmdk, None).await;
}

#[tokio::test]
async fn uploaded_vdi() {
    assert_file_variant("tiny.vdi", SourceFormat::Vdi, None).await;
}

#[tokio::test]
async fn uploaded_gz_and_xz() {
    assert_file_variant(
        "tiny.qcow2.gz",
        SourceFormat::Qcow2,
        Some(Compression::Gzip),
    )
    .await;
    assert_file_variant("tiny.qcow2.xz", SourceFormat::Qcow2, Some(Compression::Xz)).await;
    assert_file_variant("tiny.raw.gz", SourceFormat::Raw, Some(Compression::Gzip)).await;
    assert_file_variant("tiny.raw.xz", SourceFormat::Raw, Some(Compression::Xz)).await;
}

#[tokio::test]
async fn uploaded_iso_is_copied_as_a_cdrom() {
    let run = run_import(file(PathBuf::from(TINY_ISO)), &options()).await;
    assert_tiny_iso(run.ok());
    assert_eq!(run.leftovers(), ["disk.iso"]);
}

fn sha1_of(path: &Path) -> String {
    use sha1::Digest;
    sha1::Sha1::digest(read(path))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn upload_checksum_is_verified_on_the_bytes_sent() {
    for name in ["tiny.vmdk", "tiny.raw.xz"] {
        let path = variant(name);
        let source = Source::File {
            path: path.clone(),
            checksum: Checksums {
                sha1: Some(sha1_of(&path)),
                ..Checksums::default()
            },
        };
        let run = run_import(source, &options()).await;
        assert_eq!(run.ok().checksums.sha1, Some(sha1_of(&path)));
        assert_tiny_disk(run.ok()).await;
    }
}

#[tokio::test]
async fn upload_with_a_wrong_checksum_is_refused() {
    let source = Source::File {
        path: variant("tiny.qcow2"),
        checksum: Checksums {
            md5: Some("0".repeat(32)),
            ..Checksums::default()
        },
    };
    let run = run_import(source, &options()).await;
    assert!(matches!(
        run.assert_failed_cleanly(),
        ImportError::ChecksumMismatch { .. }
    ));
}

#[tokio::test]
async fn missing_file_is_reported() {
    let run = run_import(file(PathBuf::from("/nonexistent/upload")), &options()).await;
    let error = run.assert_failed_cleanly();
    assert!(error.to_string().contains("/nonexistent/upload"), "{error}");
}

#[tokio::test]
async fn volume_overlay_is_flattened() {
    let dir = tempfile::tempdir().unwrap();
    let overlay = dir.path().join("disk.qcow2");
    qemu_img::create(
        &overlay,
        &ImageFormat::Qcow2,
        TINY_VIRTUAL_SIZE,
        Some((Path::new(TINY_QCOW2), &ImageFormat::Qcow2)),
    )
    .await
    .unwrap();
    let run = run_import(Source::Volume { path: overlay }, &options()).await;
    assert_eq!(run.ok().source_format, SourceFormat::Qcow2);
    assert_tiny_disk(run.ok()).await;
}

#[tokio::test]
async fn raw_volume() {
    let run = run_import(
        Source::Volume {
            path: variant("tiny.raw"),
        },
        &options(),
    )
    .await;
    assert_eq!(run.ok().source_format, SourceFormat::Raw);
    assert_tiny_disk(run.ok()).await;
}

#[tokio::test]
async fn volume_with_a_data_file_is_still_refused() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("data.qcow2");
    let status = std::process::Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-o"])
        .arg(format!(
            "data_file={}",
            dir.path().join("data.raw").display()
        ))
        .arg(&image)
        .arg("1M")
        .status()
        .unwrap();
    assert!(status.success());
    let run = run_import(Source::Volume { path: image }, &options()).await;
    assert!(matches!(
        run.assert_failed_cleanly(),
        ImportError::ExternalFile { .. }
    ));
}
