//! HTTP import throughput against the baseline `curl -o file URL && qemu-img convert -O qcow2`,
//! on the same machine, from the same local server, in the same run.
//!
//! ```text
//! cargo run --release -p dvp-importer --example import_bench -- [--size-mib 768] [--runs 5] \
//!     [--formats qcow2,raw,qcow2.gz] [--scratch DIR]
//! ```
//!
//! `--scratch` is where both sides write (default: the temp dir). On a machine whose disk
//! writeback is noisy, a tmpfs such as /dev/shm shows the software's own cost more steadily.
//!
//! The source is /var/cache/guest-images/debian/debian-12.qcow2 when present, else a generated
//! image (three quarters random data, one quarter zeros, in 1 MiB stripes) cached in the temp dir.

#[path = "../tests/common/http_server.rs"]
mod http_server;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use dvp_importer::{Checksums, ImportOptions, Progress, Source, import};
use http_server::{Content, TestServer};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const DEBIAN: &str = "/var/cache/guest-images/debian/debian-12.qcow2";

struct Args {
    size_mib: u64,
    runs: usize,
    formats: Vec<String>,
    scratch: PathBuf,
}

fn args() -> Args {
    let mut args = Args {
        size_mib: 768,
        runs: 5,
        formats: vec!["qcow2".into(), "raw".into(), "qcow2.gz".into()],
        scratch: std::env::temp_dir(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_default();
        match flag.as_str() {
            "--size-mib" => args.size_mib = value.parse().expect("--size-mib N"),
            "--runs" => args.runs = value.parse().expect("--runs N"),
            "--formats" => args.formats = value.split(',').map(str::to_string).collect(),
            "--scratch" => args.scratch = PathBuf::from(value),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

fn run(command: &mut Command) {
    let status = command.status().expect("command runs");
    assert!(status.success(), "{command:?} failed: {status}");
}

/// Fills `path` with `mib` MiB: three random stripes then a zero stripe, repeated.
fn write_pattern(path: &Path, mib: u64) {
    use std::io::Write;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut stripe = vec![0u8; 1 << 20];
    for index in 0..mib {
        if index % 4 == 3 {
            stripe.fill(0);
        } else {
            for word in stripe.chunks_exact_mut(8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                word.copy_from_slice(&state.to_le_bytes());
            }
        }
        file.write_all(&stripe).unwrap();
    }
    file.flush().unwrap();
}

/// The source image in `format`, made once and cached.
fn source_image(format: &str, size_mib: u64, cache: &Path) -> PathBuf {
    std::fs::create_dir_all(cache).unwrap();
    let raw = cache.join(format!("pattern-{size_mib}.raw"));
    let base: PathBuf = if Path::new(DEBIAN).exists() {
        PathBuf::from(DEBIAN)
    } else {
        if !raw.exists() {
            eprintln!(
                "generating a {size_mib} MiB test image in {}",
                cache.display()
            );
            write_pattern(&raw, size_mib);
        }
        raw.clone()
    };
    let stem = base.file_stem().unwrap().to_string_lossy().into_owned();
    let wanted = cache.join(format!("{stem}.{format}"));
    if wanted == base || wanted.exists() {
        return wanted;
    }
    match format.strip_suffix(".gz") {
        Some(inner) => {
            let inner = source_image(inner, size_mib, cache);
            let output = std::fs::File::create(&wanted).unwrap();
            run(Command::new("gzip")
                .args(["-c", "-1"])
                .arg(&inner)
                .stdout(output));
        }
        None => run(Command::new("qemu-img")
            .args(["convert", "-O", format])
            .arg(&base)
            .arg(&wanted)),
    }
    wanted
}

/// `curl -o` then `qemu-img convert`; a gzip source is piped through `gunzip` on the way.
fn baseline(url: &str, scratch: &Path) -> Duration {
    let downloaded = scratch.join("baseline-download");
    let converted = scratch.join("baseline.qcow2");
    let started = Instant::now();
    if url.ends_with(".gz") {
        let script = format!("curl -sS -f {url} | gunzip -c > {}", downloaded.display());
        run(Command::new("sh").args(["-c", &script]));
    } else {
        run(Command::new("curl")
            .args(["-sS", "-f", "-o"])
            .arg(&downloaded)
            .arg(url));
    }
    run(Command::new("qemu-img")
        .args(["convert", "-O", "qcow2"])
        .arg(&downloaded)
        .arg(&converted));
    let elapsed = started.elapsed();
    let _ = std::fs::remove_file(&downloaded);
    let _ = std::fs::remove_file(&converted);
    elapsed
}

async fn importer(url: &str, scratch: &Path) -> Duration {
    let work_dir = scratch.join("import");
    let source = Source::Http {
        url: url.to_string(),
        checksum: Checksums::default(),
        ca_bundle: None,
    };
    let (progress, _) = watch::channel(Progress::default());
    let started = Instant::now();
    let result = import(
        &source,
        &work_dir,
        &ImportOptions::default(),
        &progress,
        &CancellationToken::new(),
    )
    .await
    .expect("import succeeds");
    let elapsed = started.elapsed();
    let _ = std::fs::remove_file(&result.path);
    elapsed
}

/// Writes back every dirty page, so each timed side starts from the same state instead of
/// paying for the other side's writeback.
fn settle_disk() {
    run(&mut Command::new("sync"));
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn mb_per_s(bytes: u64, time: Duration) -> f64 {
    bytes as f64 / 1e6 / time.as_secs_f64()
}

#[tokio::main]
async fn main() {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let args = args();
    let cache = std::env::temp_dir().join("dvp-import-bench");
    let scratch = tempfile::tempdir_in(&args.scratch).unwrap();
    let server = TestServer::start().await;

    println!(
        "import_bench: HTTP import vs `curl -o` + `qemu-img convert -O qcow2` (127.0.0.1), writing to {}",
        args.scratch.display()
    );
    for format in &args.formats {
        let image = source_image(format, args.size_mib, &cache);
        let size = std::fs::metadata(&image).unwrap().len();
        let name = format!("image.{format}");
        server.serve(&name, Content::File(image.clone()));
        let url = server.url(&name);

        // One untimed round warms the page cache for both sides.
        baseline(&url, scratch.path());
        let (mut base_times, mut import_times) = (Vec::new(), Vec::new());
        for round in 0..args.runs {
            // Alternate which side goes first.
            if round % 2 == 0 {
                settle_disk();
                base_times.push(baseline(&url, scratch.path()));
                settle_disk();
                import_times.push(importer(&url, scratch.path()).await);
            } else {
                settle_disk();
                import_times.push(importer(&url, scratch.path()).await);
                settle_disk();
                base_times.push(baseline(&url, scratch.path()));
            }
            println!(
                "  {format} round {}: baseline {:.2}s, import {:.2}s",
                round + 1,
                base_times[round].as_secs_f64(),
                import_times[round].as_secs_f64()
            );
        }
        let best = |times: &[Duration]| times.iter().min().copied().unwrap_or_default();
        let (base_best, ours_best) = (best(&base_times), best(&import_times));
        let (base, ours) = (median(base_times), median(import_times));
        println!(
            "{format}: {:.0} MB source ({}), median of {} rounds | baseline {:.2}s = {:.0} MB/s | import {:.2}s = {:.0} MB/s | ratio (import throughput / baseline) {:.2} (best rounds: {:.2}s vs {:.2}s, ratio {:.2})",
            size as f64 / 1e6,
            image.display(),
            args.runs,
            base.as_secs_f64(),
            mb_per_s(size, base),
            ours.as_secs_f64(),
            mb_per_s(size, ours),
            base.as_secs_f64() / ours.as_secs_f64(),
            base_best.as_secs_f64(),
            ours_best.as_secs_f64(),
            base_best.as_secs_f64() / ours_best.as_secs_f64()
        );
    }
}
