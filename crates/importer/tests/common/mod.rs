//! Shared test helpers: the guest images, running an import, checking its output.

#![allow(dead_code)]

pub mod http_server;
pub mod registry;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dvp_importer::{
    ImportError, ImportOptions, ImportResult, Progress, RetryPolicy, Source, Stage, import,
};
use dvp_qemu::qemu_img;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub const TINY_QCOW2: &str = "/var/cache/guest-images/tiny/tiny.qcow2";
pub const TINY_ISO: &str = "/var/cache/guest-images/tiny/tiny.iso";
pub const VARIANTS: &str = "/var/cache/guest-images/tiny-variants";
pub const TINY_VIRTUAL_SIZE: u64 = 36_700_160;

pub fn variant(name: &str) -> PathBuf {
    Path::new(VARIANTS).join(name)
}

pub fn read(path: impl AsRef<Path>) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// Options for tests: fast retries.
pub fn options() -> ImportOptions {
    ImportOptions {
        retry: RetryPolicy {
            attempts: 4,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
        },
        ..ImportOptions::default()
    }
}

/// An import's outcome with every progress snapshot published along the way.
pub struct Run {
    pub result: Result<ImportResult, ImportError>,
    pub progress: Vec<Progress>,
    pub work_dir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Run {
    pub fn ok(&self) -> &ImportResult {
        match &self.result {
            Ok(result) => result,
            Err(error) => panic!("import failed: {error}"),
        }
    }

    pub fn err(&self) -> &ImportError {
        match &self.result {
            Ok(result) => panic!("import succeeded unexpectedly: {result:?}"),
            Err(error) => error,
        }
    }

    /// Files left in the work dir.
    pub fn leftovers(&self) -> Vec<String> {
        match std::fs::read_dir(&self.work_dir) {
            Ok(entries) => entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    pub fn assert_failed_cleanly(&self) -> &ImportError {
        let error = self.err();
        eprintln!("import failed as expected: {error}");
        assert!(
            self.leftovers().is_empty(),
            "left behind: {:?}",
            self.leftovers()
        );
        error
    }
}

pub async fn run_import(source: Source, options: &ImportOptions) -> Run {
    run_import_in(source, options, None).await
}

/// Runs an import in a fresh work dir (under `parent` if given).
pub async fn run_import_in(source: Source, options: &ImportOptions, parent: Option<&Path>) -> Run {
    let dir = match parent {
        Some(parent) => tempfile::tempdir_in(parent).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let work_dir = dir.path().join("imports").join("uid-1");
    let (sender, mut receiver) = watch::channel(Progress::default());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let collector_seen = seen.clone();
    let collector = tokio::spawn(async move {
        while receiver.changed().await.is_ok() {
            let snapshot = receiver.borrow_and_update().clone();
            collector_seen.lock().unwrap().push(snapshot);
        }
    });
    let result = import(
        &source,
        &work_dir,
        options,
        &sender,
        &CancellationToken::new(),
    )
    .await;
    drop(sender);
    collector.await.unwrap();
    let progress = seen.lock().unwrap().clone();
    Run {
        result,
        progress,
        work_dir,
        _dir: dir,
    }
}

/// The output shows the guest the same disk as tiny.qcow2, and the result's sizes are the ones
/// qemu-img and the filesystem report.
pub async fn assert_tiny_disk(result: &ImportResult) {
    assert_eq!(result.format, dvp_importer::OutputFormat::Qcow2);
    assert!(!result.cdrom);
    let info = qemu_img::info(&result.path).await.unwrap();
    assert_eq!(info.format, qemu_img::ImageFormat::Qcow2);
    assert_eq!(info.backing_filename, None);
    assert_eq!(result.virtual_size, info.virtual_size);
    assert_eq!(result.unpacked_size, info.virtual_size);
    assert_eq!(result.virtual_size, TINY_VIRTUAL_SIZE);
    assert_eq!(
        result.stored_size,
        std::fs::metadata(&result.path).unwrap().len()
    );
    assert!(
        qemu_img::compare(&result.path, Path::new(TINY_QCOW2))
            .await
            .unwrap(),
        "the imported disk differs from tiny.qcow2"
    );
}

/// The output is tiny.iso, byte for byte, as a CD-ROM.
pub fn assert_tiny_iso(result: &ImportResult) {
    assert_eq!(result.format, dvp_importer::OutputFormat::Iso);
    assert!(result.cdrom);
    let expected = read(TINY_ISO);
    assert_eq!(result.virtual_size, expected.len() as u64);
    assert_eq!(result.unpacked_size, expected.len() as u64);
    assert_eq!(result.stored_size, expected.len() as u64);
    assert!(read(&result.path) == expected, "the ISO changed");
}

/// Progress ended at "100%" and passed through running percentages before.
pub fn assert_progress_finished(progress: &[Progress]) {
    let last = progress.last().expect("no progress published");
    assert_eq!(last.stage, Stage::Done);
    assert_eq!(last.percent().as_deref(), Some("100%"));
    let fractions: Vec<f64> = progress.iter().filter_map(|p| p.fraction).collect();
    assert!(
        fractions.windows(2).all(|w| w[0] <= w[1] + 1e-9),
        "progress went backwards: {fractions:?}"
    );
}

/// A tmpfs of `megabytes` mounted for the test (needs root); `None` where mounting is not
/// possible.
pub struct Tmpfs {
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    pub fn mount(megabytes: u32) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .ok()?;
        status.success().then(|| Tmpfs {
            path: dir.path().to_path_buf(),
            _dir: dir,
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}
