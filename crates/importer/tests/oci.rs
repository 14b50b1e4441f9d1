//! Container image source: the `/disk/` recipe in every layer compression and image format,
//! indexes, authentication, and images without a disk.

mod common;

use common::registry::{
    Auth, LAYER_GZIP, LAYER_TAR, LAYER_ZSTD, TestRegistry, gzip, tar_layer, zstd,
};
use common::*;
use dvp_importer::{Compression, Credentials, ImportError, Source, SourceFormat};

fn oci(reference: String, credentials: Option<Credentials>) -> Source {
    Source::OciImage {
        reference,
        credentials,
        ca_bundle: None,
        insecure_http_allowed_for_loopback: true,
    }
}

/// Pushes `/disk/<name>` (the variant's bytes) in a layer of the given compression.
fn push_disk(registry: &TestRegistry, repository: &str, name: &str, bytes: &[u8], media: &str) {
    let path = format!("disk/{name}");
    let tar = tar_layer(&[(path.as_str(), bytes)]);
    let layer = match media {
        LAYER_GZIP => gzip(&tar),
        LAYER_ZSTD => zstd(&tar),
        _ => tar,
    };
    registry.push_image(repository, "v1", vec![(layer, media)]);
}

async fn import_disk_variant(name: &str, media: &str) -> Run {
    let registry = TestRegistry::start(Auth::Anonymous).await;
    push_disk(&registry, "images/tiny", name, &read(variant(name)), media);
    run_import(
        oci(registry.reference("images/tiny", "v1"), None),
        &options(),
    )
    .await
}

async fn assert_disk(
    name: &str,
    media: &str,
    format: SourceFormat,
    compression: Option<Compression>,
) {
    let run = import_disk_variant(name, media).await;
    assert_eq!(run.ok().source_format, format);
    assert_eq!(run.ok().compression, compression);
    assert_tiny_disk(run.ok()).await;
    assert_progress_finished(&run.progress);
    assert_eq!(run.leftovers(), ["disk.qcow2"]);
}

#[tokio::test]
async fn qcow2_in_a_gzip_layer() {
    assert_disk("tiny.qcow2", LAYER_GZIP, SourceFormat::Qcow2, None).await;
}

#[tokio::test]
async fn raw_in_a_zstd_layer() {
    assert_disk("tiny.raw", LAYER_ZSTD, SourceFormat::Raw, None).await;
}

#[tokio::test]
async fn vmdk_in_a_plain_layer() {
    assert_disk("tiny.vmdk", LAYER_TAR, SourceFormat::Vmdk, None).await;
}

#[tokio::test]
async fn vdi_in_a_plain_layer() {
    assert_disk("tiny.vdi", LAYER_TAR, SourceFormat::Vdi, None).await;
}

#[tokio::test]
async fn compressed_disk_files_are_unpacked_too() {
    assert_disk(
        "tiny.qcow2.xz",
        LAYER_TAR,
        SourceFormat::Qcow2,
        Some(Compression::Xz),
    )
    .await;
    assert_disk(
        "tiny.raw.gz",
        LAYER_TAR,
        SourceFormat::Raw,
        Some(Compression::Gzip),
    )
    .await;
}

#[tokio::test]
async fn iso_in_an_image_is_a_cdrom() {
    let registry = TestRegistry::start(Auth::Anonymous).await;
    push_disk(
        &registry,
        "images/iso",
        "tiny.iso",
        &read(TINY_ISO),
        LAYER_GZIP,
    );
    let run = run_import(
        oci(registry.reference("images/iso", "v1"), None),
        &options(),
    )
    .await;
    assert_tiny_iso(run.ok());
}

#[tokio::test]
async fn index_resolves_to_the_linux_amd64_image() {
    let registry = TestRegistry::start(Auth::Anonymous).await;
    let other = tar_layer(&[("disk/other.raw", &[1u8; 4096][..])]);
    let (arm, arm_size) = registry.push_image("multi", "arm", vec![(other, LAYER_TAR)]);
    let tiny = tar_layer(&[("disk/tiny.qcow2", &read(TINY_QCOW2)[..])]);
    let (amd, amd_size) = registry.push_image("multi", "amd", vec![(tiny, LAYER_TAR)]);
    registry.push_index(
        "multi",
        "latest",
        &[
            (arm, arm_size, "linux", "arm64"),
            (amd, amd_size, "linux", "amd64"),
        ],
    );
    let reference = format!("{}/multi", registry.addr);
    let run = run_import(oci(reference, None), &options()).await;
    assert_tiny_disk(run.ok()).await;
}

#[tokio::test]
async fn the_disk_may_sit_in_a_lower_layer() {
    let registry = TestRegistry::start(Auth::Anonymous).await;
    let disk = gzip(&tar_layer(&[("disk/tiny.qcow2", &read(TINY_QCOW2)[..])]));
    let readme = tar_layer(&[("README", &b"hello"[..])]);
    registry.push_image(
        "layered",
        "v1",
        vec![(disk, LAYER_GZIP), (readme, LAYER_TAR)],
    );
    let run = run_import(oci(registry.reference("layered", "v1"), None), &options()).await;
    assert_tiny_disk(run.ok()).await;
}

#[tokio::test]
async fn a_blob_cut_short_is_fetched_again() {
    let registry = TestRegistry::start(Auth::Anonymous).await;
    push_disk(
        &registry,
        "images/tiny",
        "tiny.qcow2",
        &read(TINY_QCOW2),
        LAYER_GZIP,
    );
    registry
        .reset_blob_after
        .store(4 << 20, std::sync::atomic::Ordering::SeqCst);
    let run = run_import(
        oci(registry.reference("images/tiny", "v1"), None),
        &options(),
    )
    .await;
    assert_tiny_disk(run.ok()).await;
    assert_eq!(
        registry
            .blob_requests
            .load(std::sync::atomic::Ordering::SeqCst),
        2
    );
}

#[tokio::test]
async fn image_without_a_disk_file_is_refused() {
    let registry = TestRegistry::start(Auth::Anonymous).await;
    let layer = tar_layer(&[("etc/hostname", &b"x"[..]), ("diskette/x", &b"y"[..])]);
    registry.push_image("nodisk", "v1", vec![(layer, LAYER_TAR)]);
    let reference = registry.reference("nodisk", "v1");
    let run = run_import(oci(reference.clone(), None), &options()).await;
    let error = run.assert_failed_cleanly();
    assert!(
        matches!(error, ImportError::NoDiskInImage { .. }),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        format!("container image {reference} has no file under /disk/")
    );
}

#[tokio::test]
async fn missing_image_is_reported() {
    let registry = TestRegistry::start(Auth::Anonymous).await;
    let run = run_import(oci(registry.reference("absent", "v1"), None), &options()).await;
    let error = run.assert_failed_cleanly();
    assert!(error.to_string().contains("manifest not found"), "{error}");
}

#[tokio::test]
async fn basic_auth_with_pull_secret_credentials() {
    let registry = TestRegistry::start(Auth::Basic {
        user: "puller".into(),
        password: "s3cret".into(),
    })
    .await;
    push_disk(
        &registry,
        "private/tiny",
        "tiny.qcow2",
        &read(TINY_QCOW2),
        LAYER_TAR,
    );
    let secret = format!(
        r#"{{"auths":{{"{}":{{"auth":"cHVsbGVyOnMzY3JldA=="}}}}}}"#,
        registry.addr
    );
    let credentials =
        Credentials::from_docker_config(secret.as_bytes(), &registry.addr.to_string()).unwrap();
    let run = run_import(
        oci(registry.reference("private/tiny", "v1"), credentials),
        &options(),
    )
    .await;
    assert_tiny_disk(run.ok()).await;
}

#[tokio::test]
async fn bearer_token_flow_with_credentials() {
    let registry = TestRegistry::start(Auth::Bearer {
        credentials: Some(("puller".into(), "s3cret".into())),
    })
    .await;
    push_disk(
        &registry,
        "private/tiny",
        "tiny.qcow2",
        &read(TINY_QCOW2),
        LAYER_TAR,
    );
    let credentials = Some(Credentials::new("puller", "s3cret"));
    let run = run_import(
        oci(registry.reference("private/tiny", "v1"), credentials),
        &options(),
    )
    .await;
    assert_tiny_disk(run.ok()).await;
}

#[tokio::test]
async fn anonymous_bearer_token_flow() {
    let registry = TestRegistry::start(Auth::Bearer { credentials: None }).await;
    push_disk(
        &registry,
        "public/tiny",
        "tiny.qcow2",
        &read(TINY_QCOW2),
        LAYER_TAR,
    );
    let run = run_import(
        oci(registry.reference("public/tiny", "v1"), None),
        &options(),
    )
    .await;
    assert_tiny_disk(run.ok()).await;
}

#[tokio::test]
async fn missing_credentials_are_explained() {
    let registry = TestRegistry::start(Auth::Basic {
        user: "u".into(),
        password: "p".into(),
    })
    .await;
    push_disk(
        &registry,
        "private/tiny",
        "tiny.qcow2",
        &read(TINY_QCOW2),
        LAYER_TAR,
    );
    let run = run_import(
        oci(registry.reference("private/tiny", "v1"), None),
        &options(),
    )
    .await;
    let error = run.assert_failed_cleanly();
    assert!(
        error.to_string().contains("requires credentials"),
        "{error}"
    );
}

#[tokio::test]
async fn wrong_credentials_are_explained() {
    let registry = TestRegistry::start(Auth::Bearer {
        credentials: Some(("u".into(), "p".into())),
    })
    .await;
    push_disk(
        &registry,
        "private/tiny",
        "tiny.qcow2",
        &read(TINY_QCOW2),
        LAYER_TAR,
    );
    let credentials = Some(Credentials::new("u", "wrong"));
    let run = run_import(
        oci(registry.reference("private/tiny", "v1"), credentials),
        &options(),
    )
    .await;
    let error = run.assert_failed_cleanly();
    assert!(
        error.to_string().contains("rejected the credentials"),
        "{error}"
    );
}

#[tokio::test]
async fn plain_http_is_refused_unless_allowed() {
    let registry = TestRegistry::start(Auth::Anonymous).await;
    push_disk(
        &registry,
        "images/tiny",
        "tiny.qcow2",
        &read(TINY_QCOW2),
        LAYER_TAR,
    );
    let source = Source::OciImage {
        reference: registry.reference("images/tiny", "v1"),
        credentials: None,
        ca_bundle: None,
        insecure_http_allowed_for_loopback: false,
    };
    let run = run_import(source, &options()).await;
    assert!(matches!(
        run.assert_failed_cleanly(),
        ImportError::Registry { .. }
    ));
}

#[tokio::test]
async fn unsafe_disks_in_images_are_refused_too() {
    let registry = TestRegistry::start(Auth::Anonymous).await;
    let descriptor = b"# Disk DescriptorFile\nRW 2048 FLAT \"/etc/shadow\" 0\n";
    push_disk(&registry, "evil", "evil.vmdk", descriptor, LAYER_TAR);
    let run = run_import(oci(registry.reference("evil", "v1"), None), &options()).await;
    assert!(matches!(
        run.assert_failed_cleanly(),
        ImportError::ExternalFile { .. }
    ));
}
