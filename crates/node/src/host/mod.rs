//! Everything the agent does to the machine: start and signal processes, look at `/proc`, read
//! and write files in run dirs, and place processes in cgroups. [`LinuxHost`] does it for real; a
//! recording fake stands in for it in the supervisor's unit tests.

mod linux;

#[cfg(test)]
pub(crate) mod fake;

use std::path::Path;

pub use linux::LinuxHost;

/// A host operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{operation} {path}: {source}")]
    Io {
        operation: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("signal {signal} to process {pid}: {source}")]
    Signal {
        pid: u32,
        signal: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("no writable cgroup controller for CPU on this host")]
    NoCgroup,
}

impl HostError {
    pub(crate) fn io(operation: &'static str, path: &Path, source: std::io::Error) -> HostError {
        HostError::Io {
            operation,
            path: path.display().to_string(),
            source,
        }
    }
}

/// Signals the agent sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Term,
    Kill,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Term => "SIGTERM",
            Signal::Kill => "SIGKILL",
        }
    }
}

/// The CPU share of a guest: its cores and the guaranteed fraction of each (percent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuShare {
    pub cores: u32,
    pub core_fraction: u32,
}

/// The machine, as the supervisor needs it.
#[async_trait::async_trait]
pub trait Host: Send + Sync + 'static {
    /// Starts `program args` in a session of its own (it outlives the agent), stdin from
    /// `/dev/null`, stdout and stderr appended to `log`. Returns its pid.
    async fn spawn_detached(
        &self,
        program: &Path,
        args: &[String],
        log: &Path,
    ) -> Result<u32, HostError>;
    /// The command line of a live process (arguments joined by spaces); None when there is no
    /// such process or it is a zombie.
    fn cmdline(&self, pid: u32) -> Option<String>;
    fn signal(&self, pid: u32, signal: Signal) -> Result<(), HostError>;
    /// Creates a directory (and its parents) readable by the owner only.
    fn create_dir(&self, path: &Path) -> Result<(), HostError>;
    /// Replaces a file's content atomically.
    fn write(&self, path: &Path, data: &[u8]) -> Result<(), HostError>;
    fn read(&self, path: &Path) -> Option<Vec<u8>>;
    /// The first `len` bytes (fewer if the file is shorter).
    fn read_head(&self, path: &Path, len: usize) -> Option<Vec<u8>>;
    fn file_size(&self, path: &Path) -> Option<u64>;
    fn exists(&self, path: &Path) -> bool;
    fn copy(&self, from: &Path, to: &Path) -> Result<(), HostError>;
    /// Removes a file or a directory tree; a missing path is not an error.
    fn remove(&self, path: &Path) -> Result<(), HostError>;
    /// Names of the entries of a directory (empty when it does not exist).
    fn list_dir(&self, path: &Path) -> Vec<String>;
    /// Puts `pid` in a cgroup named `name` with the CPU weight of `share`.
    fn set_cpu_share(&self, name: &str, pid: u32, share: CpuShare) -> Result<(), HostError>;
    /// Removes the cgroup made by [`Host::set_cpu_share`] (once its process is gone).
    fn remove_cgroup(&self, name: &str);
}
