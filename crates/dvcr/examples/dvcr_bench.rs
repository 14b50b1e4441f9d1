//! DVCR benchmark: push throughput of a large disk file against plain `cp`, HTTP upload
//! throughput, and garbage collection over many images. Prints figures; asserts nothing.
//!
//! `cargo run --release -p dvp-dvcr --example dvcr_bench -- [DIR] [MB] [IMAGES]`
//! (defaults: a temporary directory, 200 MB, 1000 images).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dvp_dvcr::{Digest, DiskFacts, DiskFormat, Registry, RegistryOptions};
use sha2::{Digest as _, Sha256};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let base = args
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let megabytes: usize = args.get(1).map(|s| s.parse().unwrap()).unwrap_or(200);
    let images: usize = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(1000);
    let dir = tempfile::tempdir_in(&base).unwrap();
    println!(
        "DVCR benchmark in {} ({} MB file, {} images)",
        dir.path().display(),
        megabytes,
        images
    );

    push_throughput(dir.path(), megabytes);
    http_throughput(dir.path(), megabytes);
    gc_time(dir.path(), images);
}

/// A qcow2-looking file of `mb` megabytes whose content depends on `seed` (no deduplication).
fn make_disk(path: &Path, mb: usize, seed: u64) {
    let mut data = vec![0u8; mb << 20];
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let bytes = x.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
    data[..16].copy_from_slice(b"QFI\xfb\0\0\0\x03\0\0\0\0\0\0\0\0");
    std::fs::write(path, &data).unwrap();
    // Start every measurement from data on disk, as after an import.
    std::fs::File::open(path).unwrap().sync_all().unwrap();
}

fn rate(mb: usize, elapsed: Duration) -> String {
    format!(
        "{:>8.1} ms  {:>7.0} MB/s",
        elapsed.as_secs_f64() * 1e3,
        mb as f64 / elapsed.as_secs_f64()
    )
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = f();
    (value, start.elapsed())
}

fn push_throughput(dir: &Path, mb: usize) {
    println!("\n== pushing a {mb} MB disk file ==");
    let registry = Registry::open(&dir.join("push-dvcr")).unwrap();
    let source = dir.join("disk.qcow2");

    make_disk(&source, mb, 1);
    let copy = dir.join("disk.copy");
    let (_, cp) = timed(|| {
        assert!(
            Command::new("cp")
                .arg(&source)
                .arg(&copy)
                .status()
                .unwrap()
                .success()
        )
    });
    println!("cp (page cache only)              {}", rate(mb, cp));
    std::fs::remove_file(&copy).unwrap();
    let (_, cp_sync) = timed(|| {
        assert!(
            Command::new("cp")
                .arg(&source)
                .arg(&copy)
                .status()
                .unwrap()
                .success()
        );
        assert!(Command::new("sync").arg(&copy).status().unwrap().success());
    });
    println!("cp + sync (durable, like DVCR)    {}", rate(mb, cp_sync));
    std::fs::remove_file(&copy).unwrap();

    let data = std::fs::read(&source).unwrap();
    let (_, hash) = timed(|| Sha256::digest(&data));
    println!("sha256 alone (in memory)          {}", rate(mb, hash));
    drop(data);

    let (_, moved) = timed(|| registry.put_blob_from_file(&source).unwrap());
    println!(
        "put_blob_from_file (move)         {}   ratio vs cp: {:.2}",
        rate(mb, moved),
        cp.as_secs_f64() / moved.as_secs_f64()
    );

    make_disk(&source, mb, 2);
    let (_, copied) = timed(|| registry.copy_blob_from_file(&source).unwrap());
    println!(
        "copy_blob_from_file (copy)        {}   ratio vs cp: {:.2}, vs cp+sync: {:.2}",
        rate(mb, copied),
        cp.as_secs_f64() / copied.as_secs_f64(),
        cp_sync.as_secs_f64() / copied.as_secs_f64()
    );

    make_disk(&source, mb, 3);
    let facts = DiskFacts {
        format: DiskFormat::Qcow2,
        virtual_size: (mb as u64) << 20,
        unpacked_size: (mb as u64) << 20,
        source_format: "raw".into(),
    };
    let (_, pushed) = timed(|| {
        registry
            .push_disk_image("vi/bench/disk", "u1", &source, &facts)
            .unwrap()
    });
    println!("push_disk_image (move + manifest) {}", rate(mb, pushed));
}

fn http_throughput(dir: &Path, mb: usize) {
    println!("\n== HTTP upload of {mb} MB over 127.0.0.1 (curl, plain HTTP) ==");
    let registry = Arc::new(Registry::open(&dir.join("http-dvcr")).unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let addr = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = dvp_dvcr::router(registry.clone(), Arc::new(|_: &http::HeaderMap| true));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    });
    let source = dir.join("upload.bin");
    for (label, seed, chunked) in [
        ("monolithic POST ?digest=", 10, false),
        ("session PATCH + PUT", 11, true),
    ] {
        make_disk(&source, mb, seed);
        let digest = Digest::of_bytes(&std::fs::read(&source).unwrap());
        let (_, elapsed) = timed(|| {
            if chunked {
                let out = Command::new("curl")
                    .args(["-s", "-D", "-", "-o", "/dev/null", "-X", "POST"])
                    .arg(format!("http://{addr}/v2/bench/blobs/uploads/"))
                    .output()
                    .unwrap();
                let headers = String::from_utf8_lossy(&out.stdout);
                let location = headers
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("location: ")
                            .or_else(|| l.strip_prefix("Location: "))
                    })
                    .unwrap()
                    .trim()
                    .to_string();
                curl(
                    &[
                        "-X",
                        "PATCH",
                        "-H",
                        "Content-Type: application/octet-stream",
                        "--data-binary",
                    ],
                    &source,
                    &format!("http://{addr}{location}"),
                );
                let status = Command::new("curl")
                    .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT"])
                    .arg(format!("http://{addr}{location}?digest={digest}"))
                    .output()
                    .unwrap();
                assert_eq!(String::from_utf8_lossy(&status.stdout), "201");
            } else {
                curl(
                    &[
                        "-X",
                        "POST",
                        "-H",
                        "Content-Type: application/octet-stream",
                        "--data-binary",
                    ],
                    &source,
                    &format!("http://{addr}/v2/bench/blobs/uploads/?digest={digest}"),
                );
            }
        });
        assert!(registry.has_blob(&digest));
        println!("{label:<34}{}", rate(mb, elapsed));
    }
    runtime.shutdown_background();
}

fn curl(args: &[&str], file: &Path, url: &str) {
    let status = Command::new("curl")
        .args(["-s", "-f", "-o", "/dev/null"])
        .args(args)
        .arg(format!("@{}", file.display()))
        .arg(url)
        .status()
        .unwrap();
    assert!(status.success(), "curl {url} failed");
}

fn gc_time(dir: &Path, images: usize) {
    println!("\n== garbage collection over {images} disk images ==");
    let registry = Registry::open_with(
        &dir.join("gc-dvcr"),
        RegistryOptions {
            gc_grace: Duration::ZERO,
            upload_ttl: Duration::ZERO,
        },
    )
    .unwrap();
    let scratch = dir.join("gc-scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    let facts = DiskFacts {
        format: DiskFormat::Qcow2,
        virtual_size: 1 << 30,
        unpacked_size: 1 << 30,
        source_format: "raw".into(),
    };
    let (_, pushing) = timed(|| {
        for i in 0..images {
            let disk = scratch.join("d.qcow2");
            let mut bytes = b"QFI\xfb\0\0\0\x03\0\0\0\0\0\0\0\0".to_vec();
            bytes.extend_from_slice(&(i as u64).to_le_bytes());
            bytes.resize(64 * 1024, 0);
            std::fs::write(&disk, &bytes).unwrap();
            registry
                .push_disk_image(
                    &format!("vi/ns{}/img-{i}", i % 10),
                    &format!("uid-{i}"),
                    &disk,
                    &facts,
                )
                .unwrap();
        }
    });
    println!(
        "pushing {images} images (64 KiB each)   {:>8.1} ms ({:.2} ms per image)",
        pushing.as_secs_f64() * 1e3,
        pushing.as_secs_f64() * 1e3 / images as f64
    );
    let roots = HashSet::new();
    let (report, nothing) = timed(|| registry.gc(&|_, _| true, &roots).unwrap());
    println!(
        "gc, everything kept                {:>8.1} ms  ({report})",
        nothing.as_secs_f64() * 1e3
    );
    let (report, half) = timed(|| {
        registry
            .gc(
                &|_, tag| tag.trim_start_matches("uid-").parse::<usize>().unwrap() % 2 == 0,
                &roots,
            )
            .unwrap()
    });
    println!(
        "gc, half of the images deleted     {:>8.1} ms  ({report})",
        half.as_secs_f64() * 1e3
    );
}
