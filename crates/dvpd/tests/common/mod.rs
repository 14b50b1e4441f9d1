//! Harness for end-to-end tests: a real `dvpd up` on a fresh data dir and port, driven by the
//! machine's real kubectl with a fresh `HOME` (so kubectl's discovery cache cannot hide a bug).

#![allow(dead_code)]

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Upper bound for any single kubectl invocation, so that no test can hang.
pub const KUBECTL_TIMEOUT_SECS: u64 = 120;

pub struct Platform {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
    /// Extra `dvpd up` arguments, kept across restarts.
    up_args: Vec<String>,
}

pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.status == 0
    }
    /// Panic with both streams unless the command succeeded.
    #[track_caller]
    pub fn expect_ok(self) -> Run {
        assert!(
            self.ok(),
            "command failed ({}):\nstdout: {}\nstderr: {}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }
    #[track_caller]
    pub fn expect_err(self) -> Run {
        assert!(
            !self.ok(),
            "command unexpectedly succeeded:\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        self
    }
}

fn from_output(out: Output) -> Run {
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn dvpd_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_dvpd"))
}

pub fn d8_bin() -> PathBuf {
    dvpd_bin().with_file_name("d8")
}

impl Platform {
    /// Start `dvpd up` and wait until `/readyz` answers 200.
    pub fn start() -> Platform {
        Platform::start_with(&[])
    }

    /// Start without the VM and vmop controllers, for tests of API semantics that write a VM's
    /// `status` by hand (the VM controller would rewrite it).
    pub fn start_without_vm_controllers() -> Platform {
        Platform::start_with(&["--controllers=*,-vm,-vmop"])
    }

    pub fn start_with(up_args: &[&str]) -> Platform {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        let mut p = Platform {
            dir,
            port: free_port(),
            child: None,
            up_args: up_args.iter().map(|a| a.to_string()).collect(),
        };
        p.spawn();
        p
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.data_dir().join("kubeconfig")
    }

    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("dvpd.log"))
            .unwrap();
        let child = Command::new(dvpd_bin())
            .args(["up", "--data-dir"])
            .arg(self.data_dir())
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .args(&self.up_args)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start dvpd");
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(body) = http_get(self.port, "/readyz", None)
                && body.0 == 200
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("dvpd did not become ready; log:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dvpd.log")).unwrap_or_default()
    }

    /// `kill -9` the daemon.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Graceful stop (SIGTERM), waiting at most 15 s before falling back to SIGKILL.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe_sigterm(c.id());
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

    pub fn token(&self) -> String {
        std::fs::read_to_string(self.data_dir().join("token"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// Run kubectl with this platform's kubeconfig and a private HOME.
    pub fn kubectl(&self, args: &[&str]) -> Run {
        self.kubectl_env(args, &[], None)
    }

    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Run {
        self.kubectl_env(args, &[], Some(stdin))
    }

    /// Run kubectl (bounded by [`KUBECTL_TIMEOUT_SECS`]; a timed-out run has status 124).
    pub fn kubectl_env(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
        let mut cmd = Command::new("timeout");
        cmd.args(["-k", "5", &KUBECTL_TIMEOUT_SECS.to_string(), "kubectl"])
            .args(args)
            .env("KUBECONFIG", self.kubeconfig())
            .env("HOME", self.home())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("run kubectl");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        from_output(child.wait_with_output().unwrap())
    }

    /// `kubectl apply -f -` of a manifest.
    pub fn apply(&self, manifest: &str) -> Run {
        self.kubectl_stdin(&["apply", "-f", "-"], manifest)
    }

    /// An authenticated raw HTTP request: (status, body).
    pub fn http(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Option<&[u8]>,
    ) -> (u16, String) {
        http_request(
            self.port,
            method,
            path,
            Some(&self.token()),
            content_type,
            body,
        )
        .unwrap()
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        self.stop();
    }
}

fn unsafe_sigterm(pid: u32) {
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
}

pub fn http_get(port: u16, path: &str, token: Option<&str>) -> std::io::Result<(u16, String)> {
    http_request(port, "GET", path, token, None, None)
}

/// An HTTPS request through `curl` (the server only speaks TLS with its own CA, which the test
/// does not need to verify): (status, body). HTTP/1.1 keeps exact status codes for early replies
/// such as 413, which curl's HTTP/2 upload path reports as a reset stream.
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Option<&[u8]>,
) -> std::io::Result<(u16, String)> {
    let scratch = tempfile::tempdir()?;
    let out = scratch.path().join("response");
    let mut cmd = Command::new("curl");
    cmd.args(["-sk", "--http1.1", "--max-time", "60", "-X", method, "-o"])
        .arg(&out)
        .args(["-w", "%{http_code}"]);
    if let Some(t) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    if let Some(ct) = content_type {
        cmd.args(["-H", &format!("Content-Type: {ct}")]);
    }
    if let Some(b) = body {
        let file = scratch.path().join("request");
        std::fs::write(&file, b)?;
        cmd.arg("--data-binary").arg(format!("@{}", file.display()));
    }
    cmd.arg(format!("https://127.0.0.1:{port}{path}"));
    let res = cmd.stdin(Stdio::null()).output()?;
    let status: u16 = String::from_utf8_lossy(&res.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    let body = std::fs::read(&out)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// The guide (the product's behaviour) and the manifest at a given line, as the checks extract it.
pub fn guide() -> String {
    std::fs::read_to_string(shared_dir().join("seeds/001_467a20e21426a974.txt"))
        .expect("read the user guide")
}

pub fn shared_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::var("DVP_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|_| manifest.join("../../../shared"))
}

/// The manifest of the `d8 k … <<EOF` block that starts after line `start` (0-based, as the
/// acceptance checks count), with its indentation removed.
/// Points every image URL of a manifest that is not on 127.0.0.1 at a closed local port, so the
/// platform under test never sends traffic off the machine (its imports fail at once instead).
pub fn offline(manifest: &str) -> String {
    let mut out = String::with_capacity(manifest.len());
    let mut rest = manifest;
    while let Some(at) = rest.find("url: http") {
        let (head, tail) = rest.split_at(at + "url: ".len());
        out.push_str(head);
        let end = tail.find(char::is_whitespace).unwrap_or(tail.len());
        let url = &tail[..end];
        if url.contains("://127.0.0.1") {
            out.push_str(url);
        } else {
            let path = url.split_once("://").map(|(_, p)| p).unwrap_or(url);
            out.push_str(&format!("http://127.0.0.1:9/{path}"));
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

pub fn guide_manifest(start: usize) -> String {
    let text = guide();
    let lines: Vec<&str> = text.split('\n').collect();
    let mut i = start;
    while !(lines[i].contains("<<") && lines[i].contains("EOF")) {
        i += 1;
    }
    let indent = lines[i].len() - lines[i].trim_start().len();
    i += 1;
    let mut out = Vec::new();
    while lines[i].trim() != "EOF" {
        let l = lines[i];
        out.push(if l.len() >= indent && l[..indent].trim().is_empty() {
            &l[indent..]
        } else {
            l
        });
        i += 1;
    }
    offline(&(out.join("\n") + "\n"))
}

// ---------------------------------------------------------------------------------------------
// Extensions for the end-to-end suites.
// ---------------------------------------------------------------------------------------------

/// The manifest of the fenced code block (```` ``` ````) that starts at or after line `start`
/// (0-based), for guide manifests that are not `<<EOF` blocks (the cloud-init Secret, the sizing
/// policy fragment).
pub fn guide_yaml_block(start: usize) -> String {
    let text = guide();
    let lines: Vec<&str> = text.split('\n').collect();
    let mut i = start;
    while !lines[i].trim_start().starts_with("```") {
        i += 1;
    }
    let indent = lines[i].len() - lines[i].trim_start().len();
    i += 1;
    let mut out = Vec::new();
    while !lines[i].trim_start().starts_with("```") {
        let l = lines[i];
        out.push(if l.len() >= indent && l[..indent].trim().is_empty() {
            &l[indent..]
        } else {
            l
        });
        i += 1;
    }
    offline(&(out.join("\n") + "\n"))
}

/// Line numbers (0-based, as `guide_manifest` takes them) of the guide's manifests.
pub mod guide_lines {
    /// Quick start: VirtualImage `ubuntu`.
    pub const QUICKSTART_VI: usize = 16;
    /// Quick start: VirtualDisk `linux-disk` from the image.
    pub const QUICKSTART_VD: usize = 45;
    /// Quick start: VirtualMachine `linux-vm` with cloud-init.
    pub const QUICKSTART_VM: usize = 96;
    /// "Create an empty disk": VirtualDisk `blank-disk` (100Mi).
    pub const BLANK_DISK: usize = 658;
    /// "Creating a disk from an image": VirtualDisk `linux-vm-root` (10Gi from `ubuntu-22-04`).
    pub const DISK_FROM_IMAGE: usize = 738;
    /// "Creating a virtual machine": `linux-vm` with cloud-init and `coreFraction: 10%`.
    pub const VM_WITH_COREFRACTION: usize = 916;
    /// Sizing policy fragment of a VirtualMachineClass (```yaml block).
    pub const SIZING_POLICY: usize = 1167;
    /// vmop `restart-linux-vm-` with generateName (`create -f`).
    pub const VMOP_RESTART: usize = 1381;
    /// Secret `cloud-init-example` (```yaml block).
    pub const CLOUD_INIT_SECRET: usize = 1586;
    /// vmop `evict-linux-vm-` with generateName (`create -f`).
    pub const VMOP_EVICT: usize = 2285;
    /// VirtualMachineIPAddress `linux-vm-custom-ip`, Static 10.66.20.77.
    pub const VMIP_STATIC: usize = 2405;
}

/// Poll `f` every 100 ms until it is true or `secs` have passed; true if it became true.
pub fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The current UTC time as RFC 3339 (`2026-11-21T10:00:00Z`).
pub fn now_rfc3339() -> String {
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .expect("run date");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The header cells of kubectl's table output (cells are separated by two or more spaces, so
/// multi-word headers such as `NEED RESTART` stay whole).
pub fn header_of(output: &str) -> Vec<String> {
    split_cells(output.lines().next().unwrap_or_default())
}

/// The header line of a table normalised to single spaces between columns.
pub fn header_line(output: &str) -> String {
    header_of(output).join(" ")
}

fn split_cells(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect()
}

/// kubectl's aligned table as rows of (column, cell), cut at the header's column starts.
pub fn table_rows(output: &str) -> Vec<Vec<(String, String)>> {
    let mut lines = output.lines();
    let Some(head) = lines.next() else {
        return Vec::new();
    };
    let names = header_of(head);
    let mut starts = Vec::new();
    let mut from = 0;
    for n in &names {
        let at = head[from..]
            .find(n.as_str())
            .map(|i| i + from)
            .unwrap_or(from);
        starts.push(at);
        from = at + n.len();
    }
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            names
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let s = starts[i].min(l.len());
                    let e = starts.get(i + 1).copied().unwrap_or(l.len()).min(l.len());
                    (
                        n.clone(),
                        l.get(s..e).unwrap_or_default().trim().to_string(),
                    )
                })
                .collect()
        })
        .collect()
}

/// The cell of `column` in the row whose first cell is `name`.
pub fn cell(output: &str, name: &str, column: &str) -> Option<String> {
    table_rows(output)
        .into_iter()
        .find(|r| r.first().map(|(_, v)| v == name).unwrap_or(false))
        .and_then(|r| r.into_iter().find(|(c, _)| c == column).map(|(_, v)| v))
}

/// A kubectl left running (watch, wait, a delete that blocks); stopped when dropped.
pub struct Background {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Background {
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Wait up to `secs` for stdout to satisfy `pred`.
    pub fn wait_stdout(&self, secs: u64, pred: impl Fn(&str) -> bool) -> bool {
        eventually(secs, || pred(&self.stdout()))
    }

    /// The exit status if the process has ended.
    pub fn exited(&mut self) -> Option<i32> {
        self.child
            .try_wait()
            .ok()
            .flatten()
            .map(|s| s.code().unwrap_or(-1))
    }

    /// Wait up to `secs` for the process to end.
    pub fn wait_exit(&mut self, secs: u64) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(code) = self.exited() {
                return Some(code);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if self.exited().is_none() {
            // `timeout` forwards SIGTERM to kubectl.
            unsafe_sigterm(self.child.id());
            if self.wait_exit(5).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

impl Platform {
    /// `kill -9` the daemon and start it again on the same data dir and port.
    pub fn crash_and_restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// Write `content` to a file in this test's scratch dir and return its path.
    pub fn write_file(&self, name: &str, content: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    /// An executable shell script in the scratch dir (for `EDITOR`).
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.write_file(name, &format!("#!/bin/sh\nset -e\n{body}\n"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// Start kubectl in the background (bounded by 5 minutes), stdout and stderr to files.
    pub fn kubectl_bg(&self, args: &[&str]) -> Background {
        static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let out = self.dir.path().join(format!("bg-{n}.out"));
        let err = self.dir.path().join(format!("bg-{n}.err"));
        let child = Command::new("timeout")
            .args(["-k", "5", "300", "kubectl"])
            .args(args)
            .env("KUBECONFIG", self.kubeconfig())
            .env("HOME", self.home())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .expect("run kubectl in the background");
        Background { child, out, err }
    }

    /// `kubectl get ARGS -o json`, parsed (panics with kubectl's stderr on failure).
    #[track_caller]
    pub fn get_json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["get"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-o", "json"]);
        let run = self.kubectl(&all).expect_ok();
        serde_json::from_str(&run.stdout).expect("kubectl -o json prints JSON")
    }

    /// A JSONPath of an object; empty while the object or the field does not exist.
    pub fn field(&self, resource: &str, name: &str, path: &str) -> String {
        self.kubectl(&["get", resource, name, "-o", &format!("jsonpath={path}")])
            .stdout
    }

    /// Waits until [`Platform::field`] reads `want`; fails showing the object.
    pub fn wait_field(&self, resource: &str, name: &str, path: &str, want: &str, secs: u64) {
        let ok = eventually(secs, || self.field(resource, name, path) == want);
        assert!(
            ok,
            "{resource}/{name} {path}: want {want:?}, have {:?}\n{}",
            self.field(resource, name, path),
            self.kubectl(&["get", resource, name, "-o", "yaml"]).stdout
        );
    }

    /// One field of an object through `-o jsonpath`.
    #[track_caller]
    pub fn jsonpath(&self, resource: &str, name: &str, path: &str) -> String {
        self.kubectl(&["get", resource, name, "-o", &format!("jsonpath={path}")])
            .expect_ok()
            .stdout
    }

    /// Whether `kubectl get resource name` finds the object (NotFound ⇒ false).
    pub fn exists(&self, resource: &str, name: &str, namespace: Option<&str>) -> bool {
        let mut args = vec!["get", resource, name, "-o", "name"];
        if let Some(ns) = namespace {
            args.extend_from_slice(&["-n", ns]);
        }
        let r = self.kubectl(&args);
        if r.ok() {
            return true;
        }
        assert!(
            r.stderr.contains("NotFound"),
            "unexpected failure of get {resource}/{name}: {}",
            r.stderr
        );
        false
    }

    /// The store's current revision, as a list response reports it (`metadata.resourceVersion`).
    /// A rejected write must leave it unchanged.
    pub fn revision(&self) -> u64 {
        let (code, body) = self.http("GET", "/api/v1/namespaces", None, None);
        assert_eq!(code, 200, "list namespaces: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("list resourceVersion")
    }

    /// What users wrote: metadata and spec of the kinds users create (not `status`, not the
    /// resourceVersion, not objects controllers make), as one comparable string. A rejected write
    /// must leave it unchanged, while controllers keep updating status around it.
    pub fn user_state(&self) -> String {
        const LISTS: [&str; 16] = [
            "/api/v1/namespaces",
            "/api/v1/configmaps",
            "/api/v1/secrets",
            "/api/v1/services",
            "/apis/deckhouse.io/v1alpha1/moduleconfigs",
            "/apis/virtualization.deckhouse.io/v1alpha2/virtualmachines",
            "/apis/virtualization.deckhouse.io/v1alpha2/virtualdisks",
            "/apis/virtualization.deckhouse.io/v1alpha2/virtualimages",
            "/apis/virtualization.deckhouse.io/v1alpha2/clustervirtualimages",
            "/apis/virtualization.deckhouse.io/v1alpha2/virtualmachineclasses",
            "/apis/virtualization.deckhouse.io/v1alpha2/virtualmachineoperations",
            "/apis/virtualization.deckhouse.io/v1alpha2/virtualmachineblockdeviceattachments",
            "/apis/virtualization.deckhouse.io/v1alpha2/virtualdisksnapshots",
            "/apis/virtualization.deckhouse.io/v1alpha2/virtualmachinesnapshots",
            "/apis/virtualization.deckhouse.io/v1alpha2/virtualmachinesnapshotoperations",
            "/apis/snapshot.storage.k8s.io/v1/volumesnapshots",
        ];
        let mut state = Vec::new();
        for path in LISTS {
            let (code, body) = self.http("GET", path, None, None);
            assert_eq!(code, 200, "list {path}: {body}");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            for mut item in v["items"].as_array().cloned().unwrap_or_default() {
                // The platform's own bookkeeping (module-state, first-start records) is not
                // what users wrote, and controllers fill it in after startup.
                if item["metadata"]["namespace"] == "d8-virtualization" {
                    continue;
                }
                let obj = item.as_object_mut().unwrap();
                obj.remove("status");
                if let Some(meta) = obj.get_mut("metadata").and_then(|m| m.as_object_mut()) {
                    meta.remove("resourceVersion");
                    meta.remove("managedFields");
                }
                state.push(format!("{path} {item}"));
            }
        }
        state.sort();
        state.join("\n")
    }

    /// Apply the quick-start VirtualImage, VirtualDisk and VirtualMachine of the guide.
    pub fn apply_quick_start(&self) {
        for line in [
            guide_lines::QUICKSTART_VI,
            guide_lines::QUICKSTART_VD,
            guide_lines::QUICKSTART_VM,
        ] {
            self.apply(&guide_manifest(line)).expect_ok();
        }
    }
}

/// The quick-start VM manifest with another name.
pub fn quick_start_vm_named(name: &str) -> String {
    guide_manifest(guide_lines::QUICKSTART_VM).replacen(
        "name: linux-vm",
        &format!("name: {name}"),
        1,
    )
}

/// A parsed API `Status` body, for assertions on raw HTTP answers.
#[track_caller]
pub fn status_of(body: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("the body is not a JSON Status ({e}): {body}"));
    assert_eq!(v["kind"], "Status", "expected a Status object, got: {body}");
    v
}
