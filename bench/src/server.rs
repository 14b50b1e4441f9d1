//! Running `dvpd up` as a child process: start on a free port, wait for `/readyz`, read its
//! memory, stop it with SIGTERM or SIGKILL.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use http::StatusCode;
use tokio::process::{Child, Command};

use crate::client::{Call, Endpoint, Protocol};
use crate::kubeconfig::Kubeconfig;

/// How long a start may take before the benchmark gives up.
const START_TIMEOUT: Duration = Duration::from_secs(600);
const POLL: Duration = Duration::from_millis(2);

/// One data dir and the dvpd process serving it (if running).
pub struct Dvpd {
    binary: PathBuf,
    data_dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    endpoint: Option<Endpoint>,
}

/// The resident and peak resident memory of a process, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memory {
    pub rss: u64,
    pub peak_rss: u64,
}

/// Reads `VmRSS` and `VmHWM` from the text of `/proc/PID/status`.
pub fn parse_proc_status(text: &str) -> Option<Memory> {
    let kib = |field: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(field))?;
        let value = line[field.len()..].trim().strip_suffix("kB")?.trim();
        value.parse::<u64>().ok().map(|k| k * 1024)
    };
    Some(Memory {
        rss: kib("VmRSS:")?,
        peak_rss: kib("VmHWM:")?,
    })
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

impl Dvpd {
    /// A dvpd that will keep its data in `data_dir` and its log next to it.
    pub fn new(binary: &Path, data_dir: &Path) -> Dvpd {
        Dvpd {
            binary: binary.to_owned(),
            data_dir: data_dir.to_owned(),
            log: data_dir.with_extension("log"),
            child: None,
            endpoint: None,
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Everything the dvpd processes of this data dir logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Starts dvpd on a fresh port and waits until `/readyz` answers 200. Returns the time from
    /// spawning the process to that answer.
    pub async fn start(&mut self) -> anyhow::Result<Duration> {
        if self.child.is_some() {
            bail!("dvpd is already running");
        }
        let listen = format!("127.0.0.1:{}", free_port()?);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening the dvpd log {}", self.log.display()))?;
        let began = Instant::now();
        let child = Command::new(&self.binary)
            .arg("up")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--listen")
            .arg(&listen)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (build it with `cargo build --release -p dvpd`, or pass --dvpd)",
                    self.binary.display()
                )
            })?;
        self.child = Some(child);
        let endpoint = self.wait_ready(&listen, began).await?;
        let elapsed = began.elapsed();
        self.endpoint = Some(endpoint);
        Ok(elapsed)
    }

    async fn wait_ready(&mut self, listen: &str, began: Instant) -> anyhow::Result<Endpoint> {
        let kubeconfig_path = self.data_dir.join("kubeconfig");
        loop {
            if began.elapsed() > START_TIMEOUT {
                bail!(
                    "dvpd was not ready after {START_TIMEOUT:?}; see {}",
                    self.log.display()
                );
            }
            if let Some(status) = self.child.as_mut().expect("started").try_wait()? {
                self.child = None;
                bail!(
                    "dvpd exited with {status} while starting; see {}",
                    self.log.display()
                );
            }
            let fresh = std::fs::read_to_string(&kubeconfig_path)
                .ok()
                .and_then(|text| Kubeconfig::parse(&text).ok())
                .filter(|k| k.authority() == listen);
            let Some(kubeconfig) = fresh else {
                tokio::time::sleep(POLL).await;
                continue;
            };
            let endpoint = Endpoint::new(&kubeconfig)?;
            let Ok(mut conn) = endpoint.connect(Protocol::Http1).await else {
                tokio::time::sleep(POLL).await;
                continue;
            };
            while let Ok(reply) = conn.call(Call::get("/readyz")).await {
                if reply.status == StatusCode::OK {
                    return Ok(endpoint);
                }
                if began.elapsed() > START_TIMEOUT {
                    break;
                }
                tokio::time::sleep(POLL).await;
            }
        }
    }

    /// How to reach the running dvpd.
    pub fn endpoint(&self) -> &Endpoint {
        self.endpoint.as_ref().expect("dvpd was started")
    }

    fn pid(&self) -> anyhow::Result<i32> {
        let child = self
            .child
            .as_ref()
            .ok_or_else(|| anyhow!("dvpd is not running"))?;
        let pid = child.id().ok_or_else(|| anyhow!("dvpd has exited"))?;
        Ok(pid as i32)
    }

    /// CPU time (user + system) the process has used so far.
    pub fn cpu_time(&self) -> anyhow::Result<Duration> {
        crate::cpu::used(Some(self.pid()? as u32))
    }

    /// The process's current and peak resident memory.
    pub fn memory(&self) -> anyhow::Result<Memory> {
        let pid = self.pid()?;
        let text = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("reading /proc/{pid}/status"))?;
        parse_proc_status(&text).ok_or_else(|| anyhow!("/proc/{pid}/status has no VmRSS/VmHWM"))
    }

    /// Sends SIGTERM and waits for the process to exit; returns how long that took.
    pub async fn stop(&mut self) -> anyhow::Result<Duration> {
        self.signal(libc::SIGTERM).await
    }

    /// Sends SIGKILL (like `kill -9`) and waits for the process to be gone.
    pub async fn kill(&mut self) -> anyhow::Result<Duration> {
        self.signal(libc::SIGKILL).await
    }

    async fn signal(&mut self, signal: i32) -> anyhow::Result<Duration> {
        let pid = self.pid()?;
        let began = Instant::now();
        // SAFETY: kill(2) has no memory-safety preconditions; `pid` is our own child, which
        // has not been reaped yet (we hold its `Child`), so the pid cannot have been reused.
        if unsafe { libc::kill(pid, signal) } != 0 {
            return Err(std::io::Error::last_os_error()).context("signalling dvpd");
        }
        let mut child = self.child.take().expect("running");
        let status = child.wait().await?;
        self.endpoint = None;
        if signal == libc::SIGTERM && !status.success() {
            bail!(
                "dvpd exited with {status} after SIGTERM; see {}",
                self.log.display()
            );
        }
        Ok(began.elapsed())
    }

    /// The size of the store file on disk.
    pub fn store_bytes(&self) -> anyhow::Result<u64> {
        let path = self.data_dir.join("store.redb");
        Ok(std::fs::metadata(&path)
            .with_context(|| format!("reading the size of {}", path.display()))?
            .len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rss_and_peak_from_proc_status() {
        let text = "Name:\tdvpd\nVmHWM:\t  20480 kB\nVmRSS:\t   10240 kB\nThreads:\t3\n";
        assert_eq!(
            parse_proc_status(text),
            Some(Memory {
                rss: 10240 * 1024,
                peak_rss: 20480 * 1024
            })
        );
    }

    #[test]
    fn status_without_rss_reads_as_none() {
        assert_eq!(parse_proc_status("Name:\tdvpd\n"), None);
    }
}
