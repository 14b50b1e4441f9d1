//! Harness for end-to-end tests: a real `dvpd up` on a fresh data dir and port, driven by the
//! machine's real kubectl with a fresh `HOME` (so kubectl's discovery cache cannot hide a bug).

#![allow(dead_code)]

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Platform {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
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
        assert!(self.ok(), "command failed ({}):\nstdout: {}\nstderr: {}", self.status, self.stdout, self.stderr);
        self
    }
    #[track_caller]
    pub fn expect_err(self) -> Run {
        assert!(!self.ok(), "command unexpectedly succeeded:\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
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
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
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
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        let mut p = Platform { dir, port: free_port(), child: None };
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

    /// Graceful stop (SIGTERM) and wait.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe_sigterm(c.id());
            let _ = c.wait();
        }
    }

    pub fn token(&self) -> String {
        std::fs::read_to_string(self.data_dir().join("token")).unwrap().trim().to_string()
    }

    /// Run kubectl with this platform's kubeconfig and a private HOME.
    pub fn kubectl(&self, args: &[&str]) -> Run {
        self.kubectl_env(args, &[], None)
    }

    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Run {
        self.kubectl_env(args, &[], Some(stdin))
    }

    pub fn kubectl_env(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
        let mut cmd = Command::new("kubectl");
        cmd.args(args)
            .env("KUBECONFIG", self.kubeconfig())
            .env("HOME", self.home())
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("run kubectl");
        if let Some(input) = stdin {
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        }
        from_output(child.wait_with_output().unwrap())
    }

    /// `kubectl apply -f -` of a manifest.
    pub fn apply(&self, manifest: &str) -> Run {
        self.kubectl_stdin(&["apply", "-f", "-"], manifest)
    }

    /// An authenticated raw HTTP request: (status, body).
    pub fn http(&self, method: &str, path: &str, content_type: Option<&str>, body: Option<&[u8]>) -> (u16, String) {
        http_request(self.port, method, path, Some(&self.token()), content_type, body).unwrap()
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        self.stop();
    }
}

fn unsafe_sigterm(pid: u32) {
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
}

pub fn http_get(port: u16, path: &str, token: Option<&str>) -> std::io::Result<(u16, String)> {
    http_request(port, "GET", path, token, None, None)
}

/// A minimal HTTP/1.1 client (Connection: close), enough for tests that need exact status codes.
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Option<&[u8]>,
) -> std::io::Result<(u16, String)> {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.unwrap_or_default();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(ct) = content_type {
        req.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status: u16 = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = match text.split_once("\r\n\r\n") {
        Some((head, rest)) if head.to_ascii_lowercase().contains("transfer-encoding: chunked") => dechunk(rest),
        Some((_, rest)) => rest.to_string(),
        None => String::new(),
    };
    Ok((status, body))
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// The guide (the product's behaviour) and the manifest at a given line, as the checks extract it.
pub fn guide() -> String {
    std::fs::read_to_string(shared_dir().join("seeds/001_467a20e21426a974.txt")).expect("read the user guide")
}

pub fn shared_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::var("DVP_SHARED").map(PathBuf::from).unwrap_or_else(|_| manifest.join("../../../shared"))
}

/// The manifest of the `d8 k … <<EOF` block that starts after line `start` (0-based, as the
/// acceptance checks count), with its indentation removed.
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
        out.push(if l.len() >= indent && l[..indent].trim().is_empty() { &l[indent..] } else { l });
        i += 1;
    }
    out.join("\n") + "\n"
}
