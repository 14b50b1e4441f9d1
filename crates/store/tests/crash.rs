//! Durability under `kill -9`: the test binary re-executes itself as a writer child, records
//! every write the child saw acknowledged, kills it with SIGKILL and reopens the database.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use dvp_store::{
    Precondition, RedbStore, RedbStoreOptions, RepairPolicy, Revision, Store, WriteOp,
};

/// Set in the child: the database path to write to.
const CHILD_DB_ENV: &str = "DVP_STORE_CRASH_TEST_DB";
/// Set in the child: what to do (`write-forever`, or `pause:<policy>` to write, pause and wait).
const CHILD_MODE_ENV: &str = "DVP_STORE_CRASH_TEST_MODE";
const CHILD_WRITERS: usize = 16;
const CHILD_DEADLINE: Duration = Duration::from_secs(120);
const ACKS_BEFORE_KILL: usize = 400;

struct Ack {
    key: String,
    revision: Revision,
}

fn value_for(key: &str) -> Bytes {
    Bytes::from(format!("{key}:{}", "x".repeat(1000)))
}

/// Child mode: write forever from several tasks, printing each acknowledged write.
fn run_writer_child(path: &Path, repair_policy: RepairPolicy) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = std::sync::Arc::new(
            RedbStore::open(
                path,
                RedbStoreOptions {
                    repair_policy,
                    ..RedbStoreOptions::default()
                },
            )
            .unwrap(),
        );
        let tasks: Vec<_> = (0..CHILD_WRITERS)
            .map(|writer| {
                let store = store.clone();
                tokio::spawn(async move {
                    for i in 0..1_000_000 {
                        let key = format!("/crash/{writer}/{i}");
                        let written = store
                            .write(WriteOp::Put {
                                key: key.clone(),
                                value: value_for(&key),
                                precondition: Precondition::MustNotExist,
                            })
                            .await
                            .unwrap();
                        println!("ACK {key} {}", written.revision);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
}

/// Child mode: write a few keys one at a time under `policy`, pause well past its sealing time,
/// say READY and wait to be killed.
fn run_pausing_child(path: &Path, policy: RepairPolicy) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let options = RedbStoreOptions {
            repair_policy: policy,
            ..RedbStoreOptions::default()
        };
        let store = RedbStore::open(path, options).unwrap();
        for i in 0..20 {
            let key = format!("/pause/{i}");
            store
                .write(WriteOp::Put {
                    value: value_for(&key),
                    key,
                    precondition: Precondition::None,
                })
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        println!("READY");
        tokio::time::sleep(Duration::from_secs(3600)).await;
    });
}

/// If this process is a child, does the child's work and returns true.
fn act_as_child() -> bool {
    let Some(path) = std::env::var_os(CHILD_DB_ENV) else {
        return false;
    };
    let path = Path::new(&path);
    match std::env::var(CHILD_MODE_ENV).as_deref() {
        Ok("pause:when-idle") => run_pausing_child(path, seal_only_policy()),
        Ok("pause:never") => run_pausing_child(path, RepairPolicy::Never),
        Ok("write-forever:every-commit") => run_writer_child(path, RepairPolicy::EveryCommit),
        _ => run_writer_child(path, RepairPolicy::default()),
    }
    true
}

/// Write commits skip the allocator state; only the sealing commit after 50 ms records it.
fn seal_only_policy() -> RepairPolicy {
    RepairPolicy::WhenIdle {
        after: Duration::from_millis(50),
    }
}

/// Starts the child; a watchdog kills it after [`CHILD_DEADLINE`] so a broken child fails the
/// test instead of hanging it.
fn spawn_child(test_name: &str, path: &Path, mode: &str) -> Child {
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env(CHILD_DB_ENV, path)
        .env(CHILD_MODE_ENV, mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting the child");
    let pid = child.id().to_string();
    std::thread::spawn(move || {
        std::thread::sleep(CHILD_DEADLINE);
        let _ = Command::new("kill").args(["-9", &pid]).status();
    });
    child
}

/// Runs `test_name` of this binary as a pausing child on `path` and kills it once it is idle.
fn crash_an_idle_writer(test_name: &str, path: &Path, mode: &str) {
    let mut child = spawn_child(test_name, path, mode);
    let ready = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .any(|line| line.unwrap().ends_with("READY"));
    assert!(ready, "child exited before READY");
    child.kill().expect("killing the child");
    child.wait().unwrap();
}

/// Runs `test_name` of this binary as a writer child on `path`, kills it with SIGKILL once it
/// has acknowledged enough writes, and returns every acknowledgement it printed.
fn crash_a_writer(test_name: &str, path: &Path, mode: &str) -> Vec<Ack> {
    let mut child = spawn_child(test_name, path, mode);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acks = Vec::new();
    while acks.len() < ACKS_BEFORE_KILL {
        let line = lines
            .next()
            .expect("writer child exited before enough acknowledgements")
            .unwrap();
        acks.extend(parse_ack(&line));
    }
    child.kill().expect("killing the writer child");
    child.wait().unwrap();
    // Acknowledgements already in the pipe were given before the kill: they count too.
    for line in lines {
        acks.extend(parse_ack(&line.unwrap()));
    }
    acks
}

fn parse_ack(line: &str) -> Option<Ack> {
    // The first line also carries libtest's "test <name> ... " prefix.
    let mut parts = line.split("ACK ").nth(1)?.split(' ');
    let key = parts.next()?.to_owned();
    let revision = parts.next()?.parse().ok()?;
    Some(Ack { key, revision })
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    if act_as_child() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let acks = crash_a_writer("acknowledged_writes_survive_kill_9", &path, "write-forever");

    let store = RedbStore::open(&path, RedbStoreOptions::default()).expect("reopening after crash");
    assert_all_present(&store, &acks);
}

fn assert_all_present(store: &RedbStore, acks: &[Ack]) {
    block_on(async {
        for ack in acks {
            let kv = store
                .get(&ack.key)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("acknowledged key {} lost", ack.key));
            assert_eq!(kv.mod_revision, ack.revision);
            assert_eq!(kv.value, value_for(&ack.key));
        }
    });
}

#[test]
fn reopening_after_a_crash_continues_revisions() {
    if act_as_child() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let acks = crash_a_writer(
        "reopening_after_a_crash_continues_revisions",
        &path,
        "write-forever",
    );
    let newest_ack = acks.iter().map(|a| a.revision).max().unwrap();

    let store = RedbStore::open(&path, RedbStoreOptions::default()).expect("reopening after crash");
    let reopened_at = store.current_revision();
    assert!(reopened_at >= newest_ack);
    block_on(async {
        let listed = store.list("/crash/").await.unwrap();
        assert_eq!(listed.revision, reopened_at);
        assert_eq!(
            listed.items.len() as u64,
            reopened_at,
            "one key per revision"
        );
        let written = store
            .write(WriteOp::Put {
                key: "/after-crash".into(),
                value: Bytes::from_static(b"x"),
                precondition: Precondition::MustNotExist,
            })
            .await
            .unwrap();
        assert_eq!(written.revision, reopened_at + 1);
    });
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Runtime::new().unwrap().block_on(future)
}

#[test]
fn a_crash_after_writes_pause_reopens_without_a_full_repair() {
    if act_as_child() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let name = "a_crash_after_writes_pause_reopens_without_a_full_repair";
    crash_an_idle_writer(name, &path, "pause:when-idle");
    let store = RedbStore::open(&path, RedbStoreOptions::default()).unwrap();
    assert!(!store.repaired_on_open());
    assert_eq!(store.current_revision(), 20);
}

#[test]
fn a_crash_without_recorded_allocator_state_reopens_with_a_full_repair() {
    if act_as_child() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let name = "a_crash_without_recorded_allocator_state_reopens_with_a_full_repair";
    crash_an_idle_writer(name, &path, "pause:never");
    let store = RedbStore::open(&path, RedbStoreOptions::default()).unwrap();
    assert!(store.repaired_on_open());
    assert_eq!(store.current_revision(), 20);
}

#[test]
fn with_every_commit_recording_a_crash_mid_writes_reopens_without_a_full_repair() {
    if act_as_child() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let name = "with_every_commit_recording_a_crash_mid_writes_reopens_without_a_full_repair";
    let acks = crash_a_writer(name, &path, "write-forever:every-commit");
    let store = RedbStore::open(&path, RedbStoreOptions::default()).unwrap();
    assert!(!store.repaired_on_open());
    assert_all_present(&store, &acks);
}
