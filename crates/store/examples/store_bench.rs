//! Measures the embedded store: write throughput, read and list latency, watch delivery
//! latency, and reopen time after a clean close and after `kill -9`.
//!
//! Run with `cargo run --release -p dvp-store --example store_bench [SECTION…] [--objects N]`
//! where a section is `writes`, `reads`, `watch` or `reopen` (default: all), and `N` is the
//! number of objects for the reopen measurement (default 100000).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dvp_store::{Precondition, RedbStore, RedbStoreOptions, RepairPolicy, Store, WriteOp};
use futures::StreamExt;

const VALUE_SIZE: usize = 1500;
const WRITE_PHASE: Duration = Duration::from_secs(3);
/// Child mode: open the store at the given path, write a few keys, say READY, wait to be killed.
const HOLD_OPEN_ARG: &str = "--hold-open";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(HOLD_OPEN_ARG) {
        return hold_open(
            Path::new(&args[2]),
            policy_named(&args[3]),
            args[4] == "busy",
        );
    }
    let mut sections = Vec::new();
    let mut reopen_objects = 100_000;
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--objects" => {
                reopen_objects = rest
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--objects needs a number")
            }
            "writes" | "reads" | "watch" | "reopen" => sections.push(arg.as_str()),
            other => panic!("unknown argument {other:?}; see the doc comment of store_bench"),
        }
    }
    let run = |section: &str| sections.is_empty() || sections.contains(&section);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        if run("writes") {
            println!("== write throughput ({VALUE_SIZE} B values, {WRITE_PHASE:?} per figure)");
            for concurrency in [1, 16, 64] {
                for policy in POLICIES {
                    write_throughput(concurrency, policy).await;
                }
            }
        }
        if run("reads") {
            println!("== reads");
            get_latency().await;
            list_latency().await;
        }
        if run("watch") {
            println!("== watch");
            watch_latency(100).await;
        }
        if run("reopen") {
            println!("== reopen with {reopen_objects} objects");
            reopen_times(reopen_objects).await;
        }
    });
}

fn json_value(key: &str, size: usize) -> Bytes {
    let head = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{key}","namespace":"bench"}},"data":{{"payload":""#
    );
    let tail = r#""}}"#;
    let padding = size.saturating_sub(head.len() + tail.len());
    Bytes::from(format!("{head}{}{tail}", "x".repeat(padding)))
}

fn fresh_store(dir: &Path, options: RedbStoreOptions) -> Arc<RedbStore> {
    Arc::new(RedbStore::open(&dir.join("store.redb"), options).expect("opening the store"))
}

async fn put(store: &RedbStore, key: String, value: Bytes) -> u64 {
    store
        .write(WriteOp::Put {
            key,
            value,
            precondition: Precondition::None,
        })
        .await
        .expect("write failed")
        .revision
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort_unstable();
    format!(
        "p50 {:>8.3} ms  p99 {:>8.3} ms  max {:>8.3} ms  ({} samples)",
        ms(percentile(&samples, 0.50)),
        ms(percentile(&samples, 0.99)),
        ms(*samples.last().unwrap()),
        samples.len()
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn write_throughput(concurrency: usize, policy: &str) {
    let dir = tempfile::tempdir().unwrap();
    let options = RedbStoreOptions {
        repair_policy: policy_named(policy),
        ..RedbStoreOptions::default()
    };
    let store = fresh_store(dir.path(), options);
    let value = json_value("bench", VALUE_SIZE);
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|task| {
            let store = store.clone();
            let value = value.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut i = 0;
                while start.elapsed() < WRITE_PHASE {
                    let began = Instant::now();
                    put(&store, format!("/bench/{task}/{i}"), value.clone()).await;
                    latencies.push(began.elapsed());
                    i += 1;
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = start.elapsed();
    println!(
        "  concurrency {concurrency:>2}, {policy:<12}: {:>6.0} acknowledged writes/s   latency {}",
        latencies.len() as f64 / elapsed.as_secs_f64(),
        summary(latencies)
    );
}

async fn fill(store: &Arc<RedbStore>, prefix: &str, count: usize, concurrency: usize) {
    let next = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let store = store.clone();
            let next = next.clone();
            let prefix = prefix.to_owned();
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if i >= count {
                        break;
                    }
                    let key = format!("{prefix}{i:08}");
                    let value = json_value(&key, VALUE_SIZE);
                    put(&store, key, value).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

async fn get_latency() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store(dir.path(), RedbStoreOptions::default());
    fill(&store, "/get/", 10_000, 256).await;
    let mut samples = Vec::with_capacity(20_000);
    for i in 0..20_000u64 {
        let key = format!("/get/{:08}", (i * 7919) % 10_000);
        let began = Instant::now();
        let kv = store.get(&key).await.unwrap();
        samples.push(began.elapsed());
        assert!(kv.is_some());
    }
    println!("  get (10,000 keys):         {}", summary(samples));
}

async fn list_latency() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store(dir.path(), RedbStoreOptions::default());
    fill(&store, "/list/a/", 10_000, 256).await;
    fill(&store, "/list/b/", 2_000, 256).await;
    let mut samples = Vec::new();
    for _ in 0..30 {
        let began = Instant::now();
        let listed = store.list("/list/a/").await.unwrap();
        samples.push(began.elapsed());
        assert_eq!(listed.items.len(), 10_000);
    }
    println!("  list of 10,000 keys:       {}", summary(samples));
}

async fn watch_latency(watchers: usize) {
    const WRITERS: usize = 4;
    const WRITES_PER_WRITER: usize = 500;
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store(dir.path(), RedbStoreOptions::default());
    let origin = Instant::now();
    let start = store.current_revision();
    let total = WRITERS * WRITES_PER_WRITER;
    let mut watcher_tasks = Vec::new();
    for _ in 0..watchers {
        let mut watch = store.watch("/watch/", start).await.unwrap();
        watcher_tasks.push(tokio::spawn(async move {
            let mut from_submit = Vec::with_capacity(total);
            for _ in 0..total {
                let event = watch.next().await.unwrap().unwrap();
                let received = origin.elapsed();
                let submitted = Duration::from_nanos(u64::from_le_bytes(
                    event.kv.value[..8].try_into().unwrap(),
                ));
                from_submit.push(received.saturating_sub(submitted));
            }
            from_submit
        }));
    }
    let writer_tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut acks = Vec::new();
                for i in 0..WRITES_PER_WRITER {
                    let submitted = origin.elapsed();
                    let mut value = (submitted.as_nanos() as u64).to_le_bytes().to_vec();
                    value.extend_from_slice(&json_value("w", VALUE_SIZE));
                    put(&store, format!("/watch/{w}/{i}"), value.into()).await;
                    acks.push(origin.elapsed() - submitted);
                }
                acks
            })
        })
        .collect();
    let mut acks = Vec::new();
    for task in writer_tasks {
        acks.extend(task.await.unwrap());
    }
    let mut deliveries = Vec::new();
    for task in watcher_tasks {
        deliveries.extend(task.await.unwrap());
    }
    println!("  {WRITERS} writers, write → ack:     {}", summary(acks));
    println!(
        "  {watchers} watchers, write → event: {}",
        summary(deliveries)
    );
}

async fn reopen_times(objects: usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    {
        let store = fresh_store(dir.path(), RedbStoreOptions::default());
        let began = Instant::now();
        fill(&store, "/objects/", objects, 256).await;
        println!(
            "  fill: {objects} objects in {:.1} s",
            began.elapsed().as_secs_f64()
        );
        store.close().await;
    }
    let size = std::fs::metadata(&path).unwrap().len();
    println!("  database file: {:.0} MiB", size as f64 / (1 << 20) as f64);
    time_reopen("after clean close", &path, objects);
    for policy in POLICIES {
        for activity in ["busy", "idle"] {
            kill_a_holder(&path, policy, activity);
            let label = format!("after kill -9 while {activity}, policy {policy}");
            time_reopen(&label, &path, objects);
        }
    }
}

const POLICIES: [&str; 3] = ["every-commit", "when-idle", "never"];

fn policy_named(name: &str) -> RepairPolicy {
    match name {
        "every-commit" => RepairPolicy::EveryCommit,
        "when-idle" => RepairPolicy::default(),
        "never" => RepairPolicy::Never,
        other => panic!("unknown repair policy {other}"),
    }
}

fn time_reopen(label: &str, path: &Path, objects: usize) {
    let began = Instant::now();
    let store = RedbStore::open(path, RedbStoreOptions::default()).expect("reopening");
    let opened = began.elapsed();
    let runtime = tokio::runtime::Handle::current();
    let count = std::thread::scope(|s| {
        s.spawn(|| {
            runtime
                .block_on(store.list("/objects/"))
                .unwrap()
                .items
                .len()
        })
        .join()
        .unwrap()
    });
    assert_eq!(count, objects);
    println!(
        "  reopen {label:<45} open {:>7.1} ms{}  (then a full list in {:.0} ms)",
        ms(opened),
        if store.repaired_on_open() {
            " (full repair)"
        } else {
            ""
        },
        ms(began.elapsed() - opened)
    );
}

/// Runs this binary as a child writing to the store, then SIGKILLs it: `busy` while 64 writers
/// are at work, `idle` after a burst of writes followed by a pause.
fn kill_a_holder(path: &Path, policy: &str, activity: &str) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([HOLD_OPEN_ARG, path.to_str().unwrap(), policy, activity])
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting the holder child");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        match lines.next() {
            Some(Ok(line)) if line == "READY" => break,
            Some(_) => continue,
            None => panic!("holder child exited before READY"),
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

fn hold_open(path: &Path, repair_policy: RepairPolicy, busy: bool) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let options = RedbStoreOptions {
            repair_policy,
            ..RedbStoreOptions::default()
        };
        let store = Arc::new(RedbStore::open(path, options).unwrap());
        let acknowledged = Arc::new(AtomicU64::new(0));
        let writers: Vec<_> = (0..64)
            .map(|w| {
                let store = store.clone();
                let acknowledged = acknowledged.clone();
                tokio::spawn(async move {
                    for i in 0.. {
                        if !busy && i == 10 {
                            break;
                        }
                        put(
                            &store,
                            format!("/held/{w}/{i}"),
                            json_value("held", VALUE_SIZE),
                        )
                        .await;
                        acknowledged.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        if busy {
            while acknowledged.load(Ordering::Relaxed) < 2000 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        } else {
            for writer in writers {
                writer.await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        println!("READY");
        tokio::time::sleep(Duration::from_secs(3600)).await;
    });
}
