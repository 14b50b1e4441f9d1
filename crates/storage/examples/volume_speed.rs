//! How long making a volume takes, by source and size. The goal for overlays (a disk from an
//! image) is a flat line: well under a second whatever the disk's virtual size or the image's.
//!
//! Run: `cargo run --release -p dvp-storage --example volume_speed [large-image-MiB]`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dvp_qemu::qemu_img::{self, ConvertOptions, ImageFormat};
use dvp_storage::names::SHARED_PROVISIONER;
use dvp_storage::{Provisioners, SourceFormat, StorageConfig, VolumeRequest, VolumeSource};

const TINY: &str = "/var/cache/guest-images/tiny/tiny.qcow2";
const GIB: u64 = 1 << 30;
const RUNS: usize = 15;

/// A qcow2 of `mib` MiB filled with incompressible data, made through a raw file.
async fn large_image(dir: &Path, mib: usize) -> PathBuf {
    use std::io::Write;
    let raw = dir.join("large.raw");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&raw).unwrap());
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..mib {
        for chunk in block.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        file.write_all(&block).unwrap();
    }
    file.flush().unwrap();
    drop(file);
    let qcow2 = dir.join("large.qcow2");
    qemu_img::convert(
        &raw,
        Some(&ImageFormat::Raw),
        &qcow2,
        &ImageFormat::Qcow2,
        &ConvertOptions::default(),
        |_| {},
    )
    .await
    .unwrap();
    std::fs::remove_file(raw).unwrap();
    qcow2
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn summary(mut times: Vec<Duration>) -> String {
    times.sort();
    format!(
        "median {:7.1} ms   min {:7.1} ms   max {:7.1} ms",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1])
    )
}

#[tokio::main]
async fn main() {
    let large_mib: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("a size in MiB"))
        .unwrap_or(600);
    let data = tempfile::tempdir().unwrap();
    let blobs = data.path().join("dvcr/blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    let tiny = blobs.join("tiny.qcow2");
    std::fs::copy(TINY, &tiny).unwrap();
    let large = large_image(&blobs, large_mib).await;
    let provisioners = Provisioners::with_qemu(&StorageConfig::under(data.path(), "bench"));
    let shared = provisioners.get(SHARED_PROVISIONER).unwrap();

    let describe = |p: &Path| {
        let len = std::fs::metadata(p).unwrap().len();
        format!(
            "{} ({} MiB file)",
            p.file_name().unwrap().to_string_lossy(),
            len >> 20
        )
    };
    println!("qcow2 overlay on a backing image ({RUNS} runs each):");
    let mut n = 0;
    for source in [&tiny, &large] {
        for size in [GIB, 100 * GIB] {
            let mut times = Vec::new();
            for _ in 0..RUNS {
                n += 1;
                let request = VolumeRequest {
                    class: "shared".into(),
                    pv_name: format!("pvc-{n}"),
                    size,
                    source: VolumeSource::Backing {
                        path: source.clone(),
                        format: SourceFormat::Qcow2,
                    },
                };
                let start = Instant::now();
                let volume = shared.create(&request).await.unwrap();
                times.push(start.elapsed());
                shared.delete(&volume.path).await.unwrap();
            }
            println!(
                "  {:<28} {:>4} GiB virtual: {}",
                describe(source),
                size / GIB,
                summary(times)
            );
        }
    }

    println!("blank volume ({RUNS} runs each):");
    for size in [GIB, 100 * GIB] {
        let mut times = Vec::new();
        for _ in 0..RUNS {
            n += 1;
            let request = VolumeRequest {
                class: "shared".into(),
                pv_name: format!("pvc-{n}"),
                size,
                source: VolumeSource::Blank,
            };
            let start = Instant::now();
            let volume = shared.create(&request).await.unwrap();
            times.push(start.elapsed());
            shared.delete(&volume.path).await.unwrap();
        }
        println!("  {:>4} GiB: {}", size / GIB, summary(times));
    }

    println!("full copy (for comparison, 3 runs each):");
    for source in [&tiny, &large] {
        let mut times = Vec::new();
        for _ in 0..3 {
            n += 1;
            let request = VolumeRequest {
                class: "shared".into(),
                pv_name: format!("pvc-{n}"),
                size: GIB,
                source: VolumeSource::Copy {
                    path: source.clone(),
                    format: SourceFormat::Qcow2,
                },
            };
            let start = Instant::now();
            let volume = shared.create(&request).await.unwrap();
            times.push(start.elapsed());
            shared.delete(&volume.path).await.unwrap();
        }
        println!(
            "  {:<28} 1 GiB virtual: {}",
            describe(source),
            summary(times)
        );
    }
}
