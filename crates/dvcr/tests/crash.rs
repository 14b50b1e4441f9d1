//! Crash safety: a process killed with SIGKILL in the middle of writing blobs and manifests
//! leaves only complete blobs whose content matches their digest, and manifests whose blobs
//! are all present.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use dvp_dvcr::{Digest, Registry};

const CHILD_ENV: &str = "DVCR_CRASH_CHILD_DIR";

/// Run by the child process: push images until killed.
#[test]
fn crash_child_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return; // only does something when spawned by the test below
    };
    let registry = Registry::open(Path::new(&dir)).unwrap();
    for i in 0.. {
        let dir = Path::new(&dir).join("scratch");
        std::fs::create_dir_all(&dir).unwrap();
        let disk = fake_qcow2(&dir, "disk.qcow2", &noise(i, 1 << 20));
        registry
            .push_disk_image(
                "vi/crash/img",
                &format!("t{i}"),
                &disk,
                &qcow2_facts(1 << 20),
            )
            .unwrap();
        registry
            .put_blob_bytes(&noise(i + 7_000_000, 300_000))
            .unwrap();
    }
}

#[test]
fn sigkill_during_writes_leaves_only_whole_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("dvcr");
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "crash_child_writer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &root)
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(400 + 150 * round));
        child.kill().unwrap();
        child.wait().unwrap();

        let registry = Registry::open(&root).unwrap();
        let blobs = root.join("blobs/sha256");
        let mut count = 0;
        for entry in std::fs::read_dir(&blobs).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            let content = std::fs::read(entry.path()).unwrap();
            assert_eq!(Digest::of_bytes(&content).hex(), name, "torn blob {name}");
            count += 1;
        }
        assert!(count > 0, "the child wrote nothing in round {round}");
        assert_eq!(std::fs::read_dir(root.join("tmp")).unwrap().count(), 0);
        for tag in registry.tags("vi/crash/img").unwrap() {
            assert!(
                registry
                    .read_disk_image("vi/crash/img", &tag)
                    .unwrap()
                    .is_some(),
                "image {tag} is broken after the crash"
            );
        }
    }
}
