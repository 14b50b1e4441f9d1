//! Runs the real qemu-img against the tiny guest image.

use std::path::{Path, PathBuf};
use std::time::Duration;

use dvp_qemu::qemu_img::{self, ConvertOptions, ImageFormat, InfoOptions, ReadOptions};

const TINY: &str = "/var/cache/guest-images/tiny/tiny.qcow2";
const TINY_VIRTUAL_SIZE: u64 = 36_700_160;

fn tiny() -> PathBuf {
    PathBuf::from(TINY)
}

fn qcow2() -> ReadOptions {
    ReadOptions {
        format: Some(ImageFormat::Qcow2),
        force_share: true,
    }
}

#[tokio::test]
async fn info_describes_the_tiny_image() {
    let info = qemu_img::info(&tiny()).await.unwrap();
    assert_eq!(info.format, ImageFormat::Qcow2);
    assert_eq!(info.virtual_size, TINY_VIRTUAL_SIZE);
    assert_eq!(info.cluster_size, Some(65536));
    assert!(info.actual_size.unwrap() > 1 << 20);
    assert!(info.external_files().is_empty());
    assert!(!info.dirty && !info.encrypted && !info.corrupt);
}

#[tokio::test]
async fn overlay_names_its_backing_file_and_the_chain_lists_both() {
    let dir = tempfile::tempdir().unwrap();
    let overlay = dir.path().join("overlay.qcow2");
    qemu_img::create(
        &overlay,
        &ImageFormat::Qcow2,
        TINY_VIRTUAL_SIZE * 2,
        Some((&tiny(), &ImageFormat::Qcow2)),
    )
    .await
    .unwrap();

    let info = qemu_img::info(&overlay).await.unwrap();
    assert_eq!(info.virtual_size, TINY_VIRTUAL_SIZE * 2);
    assert_eq!(info.backing_filename.as_deref(), Some(TINY));
    assert_eq!(info.backing_format, Some(ImageFormat::Qcow2));

    let chain = qemu_img::backing_chain(&overlay, &InfoOptions::default())
        .await
        .unwrap();
    assert_eq!(chain.len(), 2);
    assert_eq!(chain[1].filename, TINY);
}

#[tokio::test]
async fn convert_reports_progress_up_to_one_and_keeps_the_content() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("tiny.raw");
    let mut fractions = Vec::new();
    qemu_img::convert(
        &tiny(),
        Some(&ImageFormat::Qcow2),
        &raw,
        &ImageFormat::Raw,
        &ConvertOptions::default(),
        |fraction| fractions.push(fraction),
    )
    .await
    .unwrap();

    assert_eq!(fractions.last(), Some(&1.0));
    assert!(fractions.windows(2).all(|w| w[0] <= w[1]), "{fractions:?}");
    assert_eq!(std::fs::metadata(&raw).unwrap().len(), TINY_VIRTUAL_SIZE);
    assert!(qemu_img::compare(&tiny(), &raw).await.unwrap());
}

#[tokio::test]
async fn compare_tells_different_content_apart() {
    let dir = tempfile::tempdir().unwrap();
    let blank = dir.path().join("blank.qcow2");
    qemu_img::create(&blank, &ImageFormat::Qcow2, TINY_VIRTUAL_SIZE, None)
        .await
        .unwrap();
    assert!(!qemu_img::compare(&tiny(), &blank).await.unwrap());
}

#[tokio::test]
async fn resize_grows_and_refuses_to_shrink() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.qcow2");
    qemu_img::create(&disk, &ImageFormat::Qcow2, 1 << 20, None)
        .await
        .unwrap();
    qemu_img::resize(&disk, &ImageFormat::Qcow2, 4 << 20)
        .await
        .unwrap();
    assert_eq!(qemu_img::info(&disk).await.unwrap().virtual_size, 4 << 20);

    let error = qemu_img::resize(&disk, &ImageFormat::Qcow2, 1 << 20)
        .await
        .unwrap_err();
    assert!(error.stderr().unwrap().contains("shrink"), "{error}");
}

#[tokio::test]
async fn check_finds_a_truncated_image_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("truncated.qcow2");
    let bytes = std::fs::read(TINY).unwrap();
    std::fs::write(&truncated, &bytes[..5_000_000]).unwrap();

    let clean = qemu_img::check(&tiny(), &qcow2()).await.unwrap();
    assert!(clean.supported && clean.is_consistent());

    let damaged = qemu_img::check(&truncated, &qcow2()).await.unwrap();
    assert!(damaged.corruptions > 0);
    assert!(!damaged.is_consistent());
}

#[tokio::test]
async fn check_of_raw_is_unsupported_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("disk.raw");
    std::fs::write(&raw, vec![0u8; 4096]).unwrap();
    let options = ReadOptions {
        format: Some(ImageFormat::Raw),
        force_share: false,
    };
    let result = qemu_img::check(&raw, &options).await.unwrap();
    assert!(!result.supported);
}

#[tokio::test]
async fn map_of_a_blank_image_has_no_data() {
    let dir = tempfile::tempdir().unwrap();
    let blank = dir.path().join("blank.qcow2");
    qemu_img::create(&blank, &ImageFormat::Qcow2, 1 << 30, None)
        .await
        .unwrap();
    assert_eq!(
        qemu_img::allocated_bytes(&blank, &qcow2()).await.unwrap(),
        0
    );
    assert!(qemu_img::allocated_bytes(&tiny(), &qcow2()).await.unwrap() > 1 << 20);
}

#[tokio::test]
async fn errors_carry_qemu_img_stderr() {
    let error = qemu_img::info(Path::new("/nonexistent/disk.qcow2"))
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("No such file or directory"), "{message}");
    assert!(message.contains("/nonexistent/disk.qcow2"), "{message}");
}

fn processes_mentioning(needle: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| std::fs::read(entry.ok()?.path().join("cmdline")).ok())
        .filter(|cmdline| String::from_utf8_lossy(cmdline).contains(needle))
        .count()
}

#[tokio::test]
async fn dropping_a_conversion_kills_qemu_img() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("random.raw");
    let noise: Vec<u8> = (0..64u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&source, noise).unwrap();
    let target = dir.path().join("compressed-target.qcow2");
    let options = ConvertOptions {
        compress: true,
        ..ConvertOptions::default()
    };

    let conversion = qemu_img::convert(
        &source,
        Some(&ImageFormat::Raw),
        &target,
        &ImageFormat::Qcow2,
        &options,
        |_| {},
    );
    let outcome = tokio::time::timeout(Duration::from_millis(300), conversion).await;
    assert!(outcome.is_err(), "the conversion should still be running");

    let needle = target.to_str().unwrap();
    for _ in 0..50 {
        if processes_mentioning(needle) == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("qemu-img is still running after its future was dropped");
}
