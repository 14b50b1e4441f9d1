//! A host in memory that records what the supervisor asked of it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{CpuShare, Host, HostError, Signal};

#[derive(Default)]
struct State {
    next_pid: u32,
    /// live processes: pid → command line
    processes: BTreeMap<u32, String>,
    spawned: Vec<(u32, Vec<String>)>,
    signals: Vec<(u32, Signal)>,
    files: BTreeMap<PathBuf, Vec<u8>>,
    dirs: BTreeSet<PathBuf>,
    cgroups: Vec<(String, u32, CpuShare)>,
    /// text a started process prints before exiting at once (a failing QEMU)
    fail_start_with: Option<String>,
    cgroups_writable: bool,
}

pub(crate) struct FakeHost {
    state: Mutex<State>,
}

impl FakeHost {
    pub fn new() -> FakeHost {
        FakeHost {
            state: Mutex::new(State {
                next_pid: 1000,
                cgroups_writable: true,
                ..State::default()
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Started processes exit at once after printing `stderr` to their log.
    pub fn fail_starts_with(&self, stderr: &str) {
        self.state().fail_start_with = Some(stderr.to_string());
    }

    pub fn deny_cgroups(&self) {
        self.state().cgroups_writable = false;
    }

    /// A process that is already running (as if started by an earlier agent).
    pub fn add_process(&self, pid: u32, cmdline: &str) {
        self.state().processes.insert(pid, cmdline.to_string());
    }

    /// The process ends on its own (a crash, or QEMU exiting).
    pub fn end_process(&self, pid: u32) {
        self.state().processes.remove(&pid);
    }

    /// Live processes whose command line contains `text`.
    pub fn pids_matching(&self, text: &str) -> Vec<u32> {
        self.state()
            .processes
            .iter()
            .filter(|(_, line)| line.contains(text))
            .map(|(pid, _)| *pid)
            .collect()
    }

    pub fn alive(&self, pid: u32) -> bool {
        self.state().processes.contains_key(&pid)
    }

    pub fn spawned(&self) -> Vec<(u32, Vec<String>)> {
        self.state().spawned.clone()
    }

    pub fn signals(&self) -> Vec<(u32, Signal)> {
        self.state().signals.clone()
    }

    pub fn cgroups(&self) -> Vec<(String, u32, CpuShare)> {
        self.state().cgroups.clone()
    }

    pub fn file(&self, path: &Path) -> Option<Vec<u8>> {
        self.state().files.get(path).cloned()
    }

    pub fn put_file(&self, path: &Path, data: &[u8]) {
        self.state().files.insert(path.to_path_buf(), data.to_vec());
    }
}

#[async_trait::async_trait]
impl Host for FakeHost {
    async fn spawn_detached(
        &self,
        program: &Path,
        args: &[String],
        log: &Path,
    ) -> Result<u32, HostError> {
        let mut s = self.state();
        s.next_pid += 1;
        let pid = s.next_pid;
        let mut argv = vec![program.display().to_string()];
        argv.extend(args.iter().cloned());
        s.spawned.push((pid, argv.clone()));
        if let Some(stderr) = s.fail_start_with.clone() {
            let mut text = s.files.get(log).cloned().unwrap_or_default();
            text.extend_from_slice(stderr.as_bytes());
            s.files.insert(log.to_path_buf(), text);
        } else {
            s.processes.insert(pid, argv.join(" "));
        }
        Ok(pid)
    }

    fn cmdline(&self, pid: u32) -> Option<String> {
        self.state().processes.get(&pid).cloned()
    }

    fn signal(&self, pid: u32, signal: Signal) -> Result<(), HostError> {
        let mut s = self.state();
        s.signals.push((pid, signal));
        s.processes.remove(&pid);
        Ok(())
    }

    fn create_dir(&self, path: &Path) -> Result<(), HostError> {
        self.state().dirs.insert(path.to_path_buf());
        Ok(())
    }

    fn write(&self, path: &Path, data: &[u8]) -> Result<(), HostError> {
        self.put_file(path, data);
        Ok(())
    }

    fn read(&self, path: &Path) -> Option<Vec<u8>> {
        self.file(path)
    }

    fn read_head(&self, path: &Path, len: usize) -> Option<Vec<u8>> {
        self.file(path).map(|mut d| {
            d.truncate(len);
            d
        })
    }

    fn file_size(&self, path: &Path) -> Option<u64> {
        self.file(path).map(|d| d.len() as u64)
    }

    fn exists(&self, path: &Path) -> bool {
        let s = self.state();
        s.files.contains_key(path) || s.dirs.contains(path)
    }

    fn copy(&self, from: &Path, to: &Path) -> Result<(), HostError> {
        let data = self
            .file(from)
            .ok_or_else(|| HostError::io("copy", from, std::io::ErrorKind::NotFound.into()))?;
        self.put_file(to, &data);
        Ok(())
    }

    fn remove(&self, path: &Path) -> Result<(), HostError> {
        let mut s = self.state();
        s.files.retain(|p, _| !p.starts_with(path));
        s.dirs.retain(|p| !p.starts_with(path));
        Ok(())
    }

    fn list_dir(&self, path: &Path) -> Vec<String> {
        let s = self.state();
        let children = s
            .dirs
            .iter()
            .chain(s.files.keys())
            .filter(|p| p.parent() == Some(path))
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
        let set: BTreeSet<String> = children.collect();
        set.into_iter().collect()
    }

    fn set_cpu_share(&self, name: &str, pid: u32, share: CpuShare) -> Result<(), HostError> {
        let mut s = self.state();
        if !s.cgroups_writable {
            return Err(HostError::NoCgroup);
        }
        s.cgroups.push((name.to_string(), pid, share));
        Ok(())
    }

    fn remove_cgroup(&self, name: &str) {
        self.state().cgroups.retain(|(n, _, _)| n != name);
    }
}
