//! Durability under `kill -9`: the test binary re-executes itself as a writer child, records
//! every write the child saw acknowledged, kills it with SIGKILL and reopens the database.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use bytes::Bytes;
use dvp_store::{Precondition, RedbStore, RedbStoreOptions, Revision, Store, WriteOp};

/// Set in the child: the database path to write to.
const CHILD_DB_ENV: &str = "DVP_STORE_CRASH_TEST_DB";
const CHILD_WRITERS: usize = 16;
const ACKS_BEFORE_KILL: usize = 400;

struct Ack {
    key: String,
    revision: Revision,
}

fn value_for(key: &str) -> Bytes {
    Bytes::from(format!("{key}:{}", "x".repeat(1000)))
}

/// Child mode: write forever from several tasks, printing each acknowledged write.
fn run_writer_child(path: &Path) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store =
            std::sync::Arc::new(RedbStore::open(path, RedbStoreOptions::default()).unwrap());
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

/// Runs `test_name` of this binary as a writer child on `path`, kills it with SIGKILL once it
/// has acknowledged enough writes, and returns every acknowledgement it printed.
fn crash_a_writer(test_name: &str, path: &Path) -> Vec<Ack> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env(CHILD_DB_ENV, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting the writer child");
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
    let mut parts = line.strip_prefix("ACK ")?.split(' ');
    let key = parts.next()?.to_owned();
    let revision = parts.next()?.parse().ok()?;
    Some(Ack { key, revision })
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    if let Some(path) = std::env::var_os(CHILD_DB_ENV) {
        return run_writer_child(Path::new(&path));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let acks = crash_a_writer("acknowledged_writes_survive_kill_9", &path);

    let store = RedbStore::open(&path, RedbStoreOptions::default()).expect("reopening after crash");
    block_on(async {
        for ack in &acks {
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
    if let Some(path) = std::env::var_os(CHILD_DB_ENV) {
        return run_writer_child(Path::new(&path));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let acks = crash_a_writer("reopening_after_a_crash_continues_revisions", &path);
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
