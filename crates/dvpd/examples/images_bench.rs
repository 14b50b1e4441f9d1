//! Image and disk benchmark: prints figures, asserts nothing.
//!
//! * `import_*`: a VirtualImage imported over HTTP (create → Ready) against the baseline of the
//!   same machine doing it by hand, `curl URL -o file` then `qemu-img convert -O qcow2`, on the
//!   same file from the same server. `import_ratio` = baseline time / platform time (≥ 0.9 is
//!   the aim).
//! * `disk_10gi_from_*`: time from creating a 10 GiB VirtualDisk from a Ready image until the
//!   disk is Ready, for a small and a large image (copy-on-write: it should not grow with the
//!   image).
//!
//! ```sh
//! cargo build --release -p dvpd && cargo run --release -p dvpd --example images_bench -- \
//!     --dvpd target/release/dvpd --size-mib 768
//! ```
//!
//! It starts `dvpd up` on a fresh data dir (under `--work-dir`, default the system temp dir), a
//! `python3 -m http.server` for the test files, and drives the platform with kubectl and curl.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Args {
    dvpd: PathBuf,
    size_mib: u64,
    work_dir: PathBuf,
    runs: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        dvpd: std::env::current_exe()
            .ok()
            .and_then(|p| p.parent()?.parent().map(|d| d.join("dvpd")))
            .unwrap_or_else(|| PathBuf::from("dvpd")),
        size_mib: 768,
        work_dir: std::env::temp_dir(),
        runs: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--dvpd" => args.dvpd = PathBuf::from(value()),
            "--size-mib" => args.size_mib = value().parse().expect("--size-mib N"),
            "--work-dir" => args.work_dir = PathBuf::from(value()),
            "--runs" => args.runs = value().parse().expect("--runs N"),
            other => panic!(
                "unknown argument {other}; use --dvpd PATH --size-mib N --work-dir DIR --runs N"
            ),
        }
    }
    args
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run a command");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A qcow2 of about `size_mib` MiB of incompressible data inside a disk twice as large (like a
/// cloud image: data, then empty space).
fn make_image(dir: &Path, size_mib: u64) -> PathBuf {
    let raw = dir.join("big.raw");
    let qcow2 = dir.join("big.qcow2");
    run(Command::new("sh").args([
        "-c",
        &format!(
            "head -c {}M /dev/urandom > {raw} && truncate -s {}M {raw} && qemu-img convert -q -O qcow2 {raw} {qcow2} && rm {raw}",
            size_mib,
            size_mib * 2,
            raw = raw.display(),
            qcow2 = qcow2.display()
        ),
    ]));
    qcow2
}

struct Platform {
    _child: Killed,
    port: u16,
    data: PathBuf,
    token: String,
}

impl Platform {
    fn start(dvpd: &Path, work: &Path) -> Platform {
        let data = work.join("data");
        let port = free_port();
        let log = std::fs::File::create(work.join("dvpd.log")).unwrap();
        let child = Command::new(dvpd)
            .args(["up", "--data-dir"])
            .arg(&data)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start dvpd");
        let child = Killed(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let code = Command::new("curl")
                .args(["-sk", "-o", "/dev/null", "-w", "%{http_code}"])
                .arg(format!("https://127.0.0.1:{port}/readyz"))
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            if code == "200" {
                break;
            }
            assert!(Instant::now() < deadline, "dvpd did not become ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        let token = std::fs::read_to_string(data.join("token"))
            .unwrap()
            .trim()
            .to_string();
        Platform {
            _child: child,
            port,
            data,
            token,
        }
    }

    fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> String {
        use std::io::Write;
        let mut child = Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", self.data.join("kubeconfig"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl");
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The phase of an object, read straight from the API (curl is quicker than kubectl).
    fn phase(&self, plural: &str, name: &str) -> String {
        let out = Command::new("curl")
            .args(["-sk", "-H", &format!("Authorization: Bearer {}", self.token)])
            .arg(format!(
                "https://127.0.0.1:{}/apis/virtualization.deckhouse.io/v1alpha2/namespaces/default/{plural}/{name}",
                self.port
            ))
            .output()
            .expect("run curl");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v["status"]["phase"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Applies `manifest` and times until the object is Ready (panics on Failed).
    fn time_until_ready(&self, plural: &str, name: &str, manifest: &str) -> Duration {
        let started = Instant::now();
        self.kubectl(&["apply", "-f", "-"], Some(manifest));
        loop {
            match self.phase(plural, name).as_str() {
                "Ready" => return started.elapsed(),
                "Failed" => panic!(
                    "{plural}/{name} failed: {}",
                    self.kubectl(&["get", plural, name, "-o", "yaml"], None)
                ),
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}

fn vi(name: &str, url: &str) -> String {
    format!(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualImage\nmetadata:\n  name: {name}\nspec:\n  storage: ContainerRegistry\n  dataSource:\n    type: HTTP\n    http:\n      url: {url}\n"
    )
}

fn vd(name: &str, image: &str) -> String {
    format!(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualDisk\nmetadata:\n  name: {name}\nspec:\n  persistentVolumeClaim:\n    size: 10Gi\n  dataSource:\n    type: ObjectRef\n    objectRef:\n      kind: VirtualImage\n      name: {image}\n"
    )
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn main() {
    let args = parse_args();
    assert!(
        args.dvpd.is_file(),
        "no dvpd at {}; pass --dvpd PATH",
        args.dvpd.display()
    );
    let work = tempfile::Builder::new()
        .prefix("images-bench-")
        .tempdir_in(&args.work_dir)
        .unwrap();
    let www = work.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    println!(
        "# images_bench: dvpd {}, work dir {}",
        args.dvpd.display(),
        work.path().display()
    );
    let big = make_image(&www, args.size_mib);
    let big_len = std::fs::metadata(&big).unwrap().len();
    let small = www.join("small.qcow2");
    run(Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&small)
        .arg("64M"));
    let http_port = free_port();
    let _server = Killed(
        Command::new("python3")
            .args([
                "-m",
                "http.server",
                &http_port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .current_dir(&www)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 -m http.server"),
    );
    std::thread::sleep(Duration::from_millis(500));
    let url = |f: &str| format!("http://127.0.0.1:{http_port}/{f}");
    println!(
        "image_file: {:.1} MiB ({} bytes)",
        big_len as f64 / 1048576.0,
        big_len
    );

    // Baseline: download, then convert, on the same disk.
    let scratch = work.path().join("baseline");
    std::fs::create_dir_all(&scratch).unwrap();
    let mut baseline = Vec::new();
    for _ in 0..args.runs {
        let _ = std::fs::remove_file(scratch.join("dl"));
        let _ = std::fs::remove_file(scratch.join("out.qcow2"));
        let started = Instant::now();
        run(Command::new("curl")
            .args(["-s", "-o"])
            .arg(scratch.join("dl"))
            .arg(url("big.qcow2")));
        run(Command::new("qemu-img")
            .args(["convert", "-q", "-O", "qcow2"])
            .arg(scratch.join("dl"))
            .arg(scratch.join("out.qcow2")));
        baseline.push(started.elapsed());
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let baseline = median(baseline);
    println!(
        "import_baseline_curl_then_qemu_img: {:.2} s ({:.0} MiB/s)",
        secs(baseline),
        big_len as f64 / 1048576.0 / secs(baseline)
    );

    let platform = Platform::start(&args.dvpd, work.path());
    let mut imports = Vec::new();
    for i in 0..args.runs {
        let name = format!("big-{i}");
        imports.push(platform.time_until_ready(
            "virtualimages",
            &name,
            &vi(&name, &url("big.qcow2")),
        ));
        // Keep the disk usage in check: the next run imports the same file again.
        if i + 1 < args.runs {
            platform.kubectl(&["delete", "vi", &name], None);
        }
    }
    let import = median(imports);
    println!(
        "import_platform_http: {:.2} s ({:.0} MiB/s)",
        secs(import),
        big_len as f64 / 1048576.0 / secs(import)
    );
    println!(
        "import_ratio: {:.2} (baseline time / platform time; aim >= 0.9)",
        secs(baseline) / secs(import)
    );

    platform.time_until_ready("virtualimages", "small", &vi("small", &url("small.qcow2")));
    let big_image = format!("big-{}", args.runs - 1);
    let mut figures = Vec::new();
    for (label, image) in [("small_64mib", "small"), ("large", big_image.as_str())] {
        let mut times = Vec::new();
        for i in 0..args.runs.max(3) {
            let name = format!("disk-{}-{i}", label.replace('_', "-"));
            times.push(platform.time_until_ready("virtualdisks", &name, &vd(&name, image)));
        }
        let t = median(times);
        println!("disk_10gi_from_{label}_image: {:.3} s", secs(t));
        figures.push(t);
    }
    println!(
        "disk_10gi_large_vs_small: {:.2}x (aim: flat, about 1)",
        secs(figures[1]) / secs(figures[0])
    );
}
