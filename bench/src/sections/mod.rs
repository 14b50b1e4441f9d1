//! The benchmark's sections, and the concurrent-create load they share.

pub mod create;
pub mod population;
pub mod reads;
pub mod restart;
pub mod store;
pub mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::StatusCode;

use crate::args::Scale;
use crate::client::{Call, Conn, Endpoint, Protocol};
use crate::server::Dvpd;

/// What every section needs to know.
pub struct Ctx {
    pub dvpd_binary: PathBuf,
    pub work_dir: PathBuf,
    pub scale: Scale,
    pub concurrency: Vec<usize>,
    pub http2: bool,
}

impl Ctx {
    /// A dvpd with a fresh data dir named `name` under the work dir (not started).
    pub fn fresh_dvpd(&self, name: &str) -> Dvpd {
        Dvpd::new(&self.dvpd_binary, &self.work_dir.join(name))
    }
}

/// Removes a data dir once its figures are taken, so big runs do not fill the disk.
pub fn remove_data_dir(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

/// The outcome of one concurrent create run.
pub struct Load {
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
    /// CPU the server used during the run.
    pub server_cpu: Duration,
    /// CPU this benchmark process used during the run.
    pub client_cpu: Duration,
    /// CPU the whole machine used during the run (other processes share it).
    pub machine_cpu: Duration,
}

impl Load {
    pub fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// Server CPU per request, in microseconds.
    pub fn server_cpu_us(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1e6 / self.latencies.len().max(1) as f64
    }

    /// Client CPU per request, in microseconds.
    pub fn client_cpu_us(&self) -> f64 {
        self.client_cpu.as_secs_f64() * 1e6 / self.latencies.len().max(1) as f64
    }

    /// Cores busy on behalf of neither the server nor the benchmark, on average over the run:
    /// other work on the machine that competed with the measurement.
    pub fn other_cores(&self) -> f64 {
        let ours = self.server_cpu + self.client_cpu;
        self.machine_cpu.saturating_sub(ours).as_secs_f64() / self.elapsed.as_secs_f64()
    }
}

/// `concurrency` connections for HTTP/1.1, or one shared HTTP/2 connection.
pub async fn open_clients(
    endpoint: &Endpoint,
    protocol: Protocol,
    concurrency: usize,
) -> anyhow::Result<Vec<Conn>> {
    let mut conns = Vec::with_capacity(concurrency);
    match protocol {
        Protocol::Http1 => {
            for _ in 0..concurrency {
                conns.push(endpoint.connect(Protocol::Http1).await?);
            }
        }
        Protocol::Http2 => {
            let shared = endpoint.connect(Protocol::Http2).await?;
            for _ in 1..concurrency {
                conns.push(shared.share().expect("HTTP/2 connections can be shared"));
            }
            conns.push(shared);
        }
    }
    Ok(conns)
}

/// POSTs every body to `path` with `concurrency` clients, each sending its next request when the
/// previous one is answered. Every create must answer 201.
pub async fn create_all(
    dvpd: &Dvpd,
    protocol: Protocol,
    concurrency: usize,
    path: &'static str,
    bodies: Arc<Vec<Bytes>>,
) -> anyhow::Result<Load> {
    let clients = open_clients(dvpd.endpoint(), protocol, concurrency).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let server_cpu_before = dvpd.cpu_time()?;
    let client_cpu_before = crate::cpu::used(None)?;
    let machine_cpu_before = crate::cpu::machine_busy()?;
    let began = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut conn| {
            let next = next.clone();
            let bodies = bodies.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else {
                        return anyhow::Ok(latencies);
                    };
                    let sent = Instant::now();
                    conn.call(Call::post(path, body.clone()))
                        .await?
                        .expect(StatusCode::CREATED, "create")?;
                    latencies.push(sent.elapsed());
                }
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(bodies.len());
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = began.elapsed();
    Ok(Load {
        elapsed,
        latencies,
        server_cpu: dvpd.cpu_time()? - server_cpu_before,
        client_cpu: crate::cpu::used(None)? - client_cpu_before,
        machine_cpu: crate::cpu::machine_busy()?.saturating_sub(machine_cpu_before),
    })
}
