//! What the image and disk end-to-end tests share: the guest images, a file server with failure
//! modes, an OCI registry holding `/disk/<file>` images, a platform started with extra flags,
//! and helpers to wait for phases and look into DVCR.

#![allow(dead_code)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{Platform, dvpd_bin};

/// Where the guest images are built (`../shared/guest-images/build-tiny.sh`).
pub fn cache_dir() -> PathBuf {
    std::env::var("GUEST_IMAGES_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("/var/cache/guest-images"))
}

/// The tiny guest image, when it, QEMU and (if `with_d8`) the `d8` binary are here; else None
/// with a note, and the test that asked returns early.
pub fn tiny_guest_to_boot(with_d8: bool) -> Option<PathBuf> {
    let image = cache_dir().join("tiny/tiny.qcow2");
    let has_qemu = std::process::Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let has_d8 = !with_d8 || crate::common::d8_bin().exists();
    if image.is_file() && has_qemu && has_d8 {
        return Some(image);
    }
    eprintln!(
        "skipped: needs {}, qemu-system-x86_64{}",
        image.display(),
        if with_d8 { " and d8" } else { "" }
    );
    None
}

/// The tiny guest image files, or None (with a note) when they are not built here.
pub struct Guest {
    pub qcow2: PathBuf,
    pub iso: PathBuf,
    pub variants: PathBuf,
}

impl Guest {
    pub fn find() -> Option<Guest> {
        let tiny = cache_dir().join("tiny");
        let g = Guest {
            qcow2: tiny.join("tiny.qcow2"),
            iso: tiny.join("tiny.iso"),
            variants: cache_dir().join("tiny-variants"),
        };
        let present = g.qcow2.is_file()
            && g.iso.is_file()
            && [
                "tiny.raw",
                "tiny.vmdk",
                "tiny.vdi",
                "tiny.qcow2.gz",
                "tiny.qcow2.xz",
                "tiny.raw.gz",
                "tiny.raw.xz",
            ]
            .iter()
            .all(|v| g.variants.join(v).is_file());
        if !present {
            eprintln!(
                "skipped: the tiny guest images are not in {} (run ../shared/guest-images/build-tiny.sh and make-variants.sh)",
                cache_dir().display()
            );
            return None;
        }
        if Command::new("qemu-img").arg("--version").output().is_err() {
            eprintln!("skipped: qemu-img is not installed");
            return None;
        }
        Some(g)
    }

    /// `qemu-img info`'s virtual size of the guest disk.
    pub fn virtual_size(&self) -> u64 {
        virtual_size(&self.qcow2)
    }
}

pub fn virtual_size(path: &Path) -> u64 {
    let out = Command::new("qemu-img")
        .args(["info", "-U", "--output=json"])
        .arg(path)
        .output()
        .expect("run qemu-img info");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("qemu-img info json");
    v["virtual-size"].as_u64().expect("virtual-size")
}

/// `qemu-img info`'s backing file of an image, if any.
pub fn backing_file(path: &Path) -> Option<String> {
    let out = Command::new("qemu-img")
        .args(["info", "-U", "--output=json"])
        .arg(path)
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v["backing-filename"].as_str().map(str::to_string)
}

/// The guest sees the same content in both images.
pub fn same_guest_content(a: &Path, b: &Path) -> bool {
    Command::new("qemu-img")
        .args(["compare", "-U"])
        .arg(a)
        .arg(b)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Runs a shell command, panicking with its output if it fails.
pub fn sh(script: &str) {
    let out = Command::new("sh")
        .args(["-c", script])
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "{script} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// A file server with failure modes.
// ---------------------------------------------------------------------------------------------

/// Serves files of a directory over HTTP/1.1 on 127.0.0.1, one thread per connection:
/// * `/f/<name>`: the file (with `Range` support);
/// * `/slow/<name>`: the file at about 1.5 MB/s, so progress can be watched;
/// * `/reset-once/<name>`: the first response stops halfway, the next ones resume (`Range`);
/// * `/reset-always/<name>`: the first response stops halfway, later ones close at once;
/// * `/status/<code>/<name>`: that status and no file.
pub struct FileServer {
    pub dir: PathBuf,
    pub port: u16,
    seen: Arc<Mutex<HashSet<String>>>,
}

impl FileServer {
    pub fn start(dir: &Path) -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(HashSet::new()));
        let (root, seen2) = (dir.to_path_buf(), seen.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (root, seen) = (root.clone(), seen2.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &root, &seen);
                });
            }
        });
        FileServer {
            dir: dir.to_path_buf(),
            port,
            seen,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    /// Puts `bytes` into the served directory as `name`.
    pub fn put(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.dir.join(name), bytes).unwrap();
    }

    /// Copies a file into the served directory as `name`.
    pub fn copy(&self, from: &Path, name: &str) {
        std::fs::copy(from, self.dir.join(name)).unwrap();
    }
}

fn serve(mut stream: TcpStream, root: &Path, seen: &Mutex<HashSet<String>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut range_start: u64 = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("range: bytes=") {
            range_start = v
                .trim()
                .trim_end_matches('-')
                .split('-')
                .next()
                .unwrap_or("0")
                .parse()
                .unwrap_or(0);
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let parts: Vec<&str> = path.trim_start_matches('/').splitn(3, '/').collect();
    let (mode, name) = match parts.as_slice() {
        ["status", code, name] => {
            let _ = name;
            let body = format!("status {code}\n");
            write!(
                stream,
                "HTTP/1.1 {code} Test\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )?;
            return Ok(());
        }
        [mode, name] => (mode.to_string(), name.to_string()),
        _ => ("f".to_string(), String::new()),
    };
    let file = root.join(&name);
    let Ok(bytes) = std::fs::read(&file) else {
        write!(
            stream,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot found\n"
        )?;
        return Ok(());
    };
    let first = seen.lock().unwrap().insert(path.clone());
    let total = bytes.len() as u64;
    let start = range_start.min(total);
    let body = &bytes[start as usize..];
    let head = |s: &mut TcpStream| -> std::io::Result<()> {
        if start > 0 {
            write!(
                s,
                "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{}/{total}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n",
                body.len(),
                total - 1
            )
        } else {
            write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {total}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n"
            )
        }
    };
    match mode.as_str() {
        "reset-once" | "reset-always" if first => {
            head(&mut stream)?;
            stream.write_all(&body[..body.len() / 2])?;
            stream.flush()?;
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        "reset-always" => {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        "slow" => {
            head(&mut stream)?;
            for chunk in body.chunks(64 << 10) {
                stream.write_all(chunk)?;
                std::thread::sleep(Duration::from_millis(40));
            }
        }
        _ => {
            head(&mut stream)?;
            stream.write_all(body)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// An OCI registry (DVCR's own code over plain HTTP) holding `FROM scratch` + `/disk/` images.
// ---------------------------------------------------------------------------------------------

pub struct OciRegistry {
    pub registry: Arc<dvp_dvcr::Registry>,
    pub port: u16,
    _dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

impl OciRegistry {
    /// A registry on 127.0.0.1; with `credentials`, it wants Basic `user:password`.
    pub fn start(credentials: Option<(&str, &str)>) -> OciRegistry {
        use base64::Engine;
        let dir = tempfile::tempdir().unwrap();
        let registry = Arc::new(dvp_dvcr::Registry::open(&dir.path().join("r")).unwrap());
        let expected = credentials.map(|(u, p)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        });
        let auth: dvp_dvcr::AuthCheck =
            Arc::new(move |headers: &http::HeaderMap| match &expected {
                None => true,
                Some(e) => {
                    headers
                        .get(http::header::AUTHORIZATION)
                        .and_then(|v| v.to_str().ok())
                        == Some(e.as_str())
                }
            });
        let app = dvp_dvcr::router(registry.clone(), auth);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        runtime.spawn(async move { axum::serve(listener, app).await });
        OciRegistry {
            registry,
            port,
            _dir: dir,
            _runtime: runtime,
        }
    }

    /// Pushes an image whose single layer holds `files` (path in the image → file on disk).
    /// Returns the reference to pull.
    pub fn push(&self, repo: &str, tag: &str, files: &[(&str, &Path)]) -> String {
        let stage = tempfile::tempdir().unwrap();
        for (inner, from) in files {
            let target = stage.path().join(inner.trim_start_matches('/'));
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(from, &target).unwrap();
        }
        let layer = stage.path().join("layer.tar");
        let names: Vec<String> = files
            .iter()
            .map(|(inner, _)| inner.trim_start_matches('/').to_string())
            .collect();
        let status = Command::new("tar")
            .arg("-cf")
            .arg(&layer)
            .arg("-C")
            .arg(stage.path())
            .args(&names)
            .status()
            .unwrap();
        assert!(status.success());
        let layer_digest = self.registry.copy_blob_from_file(&layer).unwrap();
        let layer_size = std::fs::metadata(&layer).unwrap().len();
        let config = serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [layer_digest.to_string()]}
        })
        .to_string();
        let config_digest = self.registry.put_blob_bytes(config.as_bytes()).unwrap();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest.to_string(), "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer_digest.to_string(), "size": layer_size}]
        })
        .to_string();
        self.registry
            .put_manifest(
                repo,
                tag,
                manifest.as_bytes(),
                "application/vnd.oci.image.manifest.v1+json",
            )
            .unwrap();
        format!("127.0.0.1:{}/{repo}:{tag}", self.port)
    }
}

// ---------------------------------------------------------------------------------------------
// The platform with extra flags, manifests, phases, DVCR.
// ---------------------------------------------------------------------------------------------

/// A platform whose daemon was restarted with extra `dvpd up` flags on the same data dir and
/// port (the shared harness starts it with the defaults).
pub struct Flagged {
    child: Option<Child>,
}

impl Flagged {
    pub fn restart(p: &mut Platform, flags: &[&str]) -> Flagged {
        p.stop();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p.dir.path().join("dvpd.log"))
            .unwrap();
        let child = Command::new(dvpd_bin())
            .args(["up", "--data-dir"])
            .arg(p.data_dir())
            .args(["--listen", &format!("127.0.0.1:{}", p.port)])
            .args(flags)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start dvpd");
        // From here on the guard owns the process (and stops it, whatever happens).
        let guard = Flagged { child: Some(child) };
        let ready = crate::common::eventually(60, || {
            crate::common::http_get(p.port, "/readyz", None).is_ok_and(|(s, _)| s == 200)
        });
        assert!(ready, "dvpd did not become ready; log:\n{}", p.log());
        guard
    }
}

impl Drop for Flagged {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A VirtualImage (`storage: ContainerRegistry`) from an HTTP URL.
pub fn vi_http(name: &str, url: &str) -> String {
    format!(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualImage\nmetadata:\n  name: {name}\nspec:\n  storage: ContainerRegistry\n  dataSource:\n    type: HTTP\n    http:\n      url: {url}\n"
    )
}

/// A VirtualImage with the given `dataSource` block (YAML indented by 4 spaces).
pub fn vi_with(name: &str, data_source: &str) -> String {
    format!(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualImage\nmetadata:\n  name: {name}\nspec:\n  storage: ContainerRegistry\n  dataSource:\n{data_source}"
    )
}

/// A VirtualDisk with optional size and `dataSource` block (indented by 4 spaces).
pub fn vd(name: &str, size: Option<&str>, data_source: Option<&str>) -> String {
    let mut m = format!(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualDisk\nmetadata:\n  name: {name}\nspec:\n"
    );
    if let Some(s) = size {
        m.push_str(&format!("  persistentVolumeClaim:\n    size: {s}\n"));
    }
    if let Some(ds) = data_source {
        m.push_str("  dataSource:\n");
        m.push_str(ds);
    }
    m
}

/// An `objectRef` data source block.
pub fn object_ref(kind: &str, name: &str) -> String {
    format!("    type: ObjectRef\n    objectRef:\n      kind: {kind}\n      name: {name}\n")
}

/// Waits until `kind/name` is in `phase`; on timeout, panics with the object's YAML.
#[track_caller]
pub fn wait_phase(p: &Platform, kind: &str, name: &str, phase: &str, secs: u64) {
    let ok = crate::common::eventually(secs, || p.jsonpath(kind, name, "{.status.phase}") == phase);
    if !ok {
        let yaml = p.kubectl(&["get", kind, name, "-o", "yaml"]);
        panic!(
            "{kind}/{name} did not reach {phase} within {secs}s:\n{}\n{}",
            yaml.stdout, yaml.stderr
        );
    }
}

/// The `Ready` condition's (reason, message) of an object.
pub fn ready_condition(p: &Platform, kind: &str, name: &str) -> (String, String) {
    let v = p.get_json(&[kind, name]);
    let c = v["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready")
        .cloned()
        .unwrap_or_default();
    (
        c["reason"].as_str().unwrap_or_default().to_string(),
        c["message"].as_str().unwrap_or_default().to_string(),
    )
}

/// The file of the disk blob of DVCR image `repo:tag` (read through the `/v2` API).
pub fn dvcr_blob(p: &Platform, repo: &str, tag: &str) -> Option<PathBuf> {
    let (status, body) = p.http("GET", &format!("/v2/{repo}/manifests/{tag}"), None, None);
    if status != 200 {
        return None;
    }
    let manifest: serde_json::Value = serde_json::from_str(&body).ok()?;
    let digest = manifest["layers"][0]["digest"].as_str()?;
    let hex = digest.strip_prefix("sha256:")?;
    let path = p.data_dir().join("dvcr/blobs/sha256").join(hex);
    path.is_file().then_some(path)
}

/// The repositories DVCR lists.
pub fn dvcr_catalog(p: &Platform) -> Vec<String> {
    let (_, body) = p.http("GET", "/v2/_catalog?n=1000", None, None);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v["repositories"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str().map(str::to_string))
        .collect()
}

/// The DVCR image of an image object: (repo, uid) from its registry URL.
pub fn image_ref(p: &Platform, kind: &str, name: &str) -> (String, String) {
    let url = p.jsonpath(kind, name, "{.status.target.registryURL}");
    let (_, rest) = url.split_once('/').expect("host/repo:tag");
    let (repo, tag) = rest.rsplit_once(':').expect("repo:tag");
    (repo.to_string(), tag.to_string())
}

/// Files left under a directory of the data dir (e.g. `imports`).
pub fn files_under(p: &Platform, dir: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![p.data_dir().join(dir)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_none_or(|n| n != ".key") {
                out.push(path.display().to_string());
            }
        }
    }
    out
}

/// Reads a whole stream into a string (for servers' responses).
pub fn read_all(mut r: impl Read) -> String {
    let mut s = String::new();
    let _ = r.read_to_string(&mut s);
    s
}

/// `curl -T file url` (HTTP/1.1, TLS unverified, like the guide's command with `-k`): (status,
/// body).
pub fn curl_upload(file: &Path, url: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sk", "--http1.1", "--max-time", "120", "-T"])
        .arg(file)
        .arg(url)
        .args(["-w", "\n%{http_code}"])
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}
