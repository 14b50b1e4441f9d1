//! The real machine: processes through fork/exec with `setsid`, `/proc`, the filesystem and the
//! CPU cgroup controller.

use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::{CpuShare, Host, HostError, Signal};
use crate::cgroup::Layout;

/// The machine the agent runs on.
#[derive(Debug, Clone)]
pub struct LinuxHost {
    cgroup_root: PathBuf,
}

impl Default for LinuxHost {
    fn default() -> Self {
        LinuxHost {
            cgroup_root: PathBuf::from("/sys/fs/cgroup"),
        }
    }
}

impl LinuxHost {
    pub fn new() -> LinuxHost {
        LinuxHost::default()
    }

    fn layout(&self) -> Option<Layout> {
        Layout::detect(&self.cgroup_root, |p| p.exists())
    }
}

/// Whether `/proc/<pid>/stat` says the process is a zombie (state `Z`).
fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // the state follows the parenthesised command name, which may itself hold spaces
            let after = &stat[stat.rfind(')')? + 1..];
            after.split_whitespace().next().map(|state| state == "Z")
        })
        .unwrap_or(false)
}

#[async_trait::async_trait]
impl Host for LinuxHost {
    async fn spawn_detached(
        &self,
        program: &Path,
        args: &[String],
        log: &Path,
    ) -> Result<u32, HostError> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(log)
            .map_err(|e| HostError::io("open", log, e))?;
        let err = out.try_clone().map_err(|e| HostError::io("open", log, e))?;
        let mut command = tokio::process::Command::new(program);
        command
            .args(args)
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(false);
        // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command.spawn().map_err(|source| HostError::Spawn {
            program: program.display().to_string(),
            source,
        })?;
        let pid = child.id().unwrap_or_default();
        // Reap it when it ends, so it does not linger as a zombie while the agent lives.
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
        Ok(pid)
    }

    fn cmdline(&self, pid: u32) -> Option<String> {
        if pid == 0 {
            return None;
        }
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        if raw.is_empty() || is_zombie(pid) {
            return None;
        }
        let text = String::from_utf8_lossy(&raw);
        Some(text.trim_end_matches('\0').replace('\0', " "))
    }

    fn signal(&self, pid: u32, signal: Signal) -> Result<(), HostError> {
        let number = match signal {
            Signal::Term => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
        };
        let pid_t = libc::pid_t::try_from(pid).unwrap_or(0);
        if pid_t <= 0 {
            return Ok(());
        }
        // SAFETY: kill(2) with a positive pid signals that one process.
        if unsafe { libc::kill(pid_t, number) } == -1 {
            let error = std::io::Error::last_os_error();
            if error.raw_os_error() == Some(libc::ESRCH) {
                return Ok(());
            }
            return Err(HostError::Signal {
                pid,
                signal: signal.name(),
                source: error,
            });
        }
        Ok(())
    }

    fn create_dir(&self, path: &Path) -> Result<(), HostError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(|e| HostError::io("create directory", path, e))
    }

    fn write(&self, path: &Path, data: &[u8]) -> Result<(), HostError> {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, data).map_err(|e| HostError::io("write", &tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| HostError::io("rename", path, e))
    }

    fn read(&self, path: &Path) -> Option<Vec<u8>> {
        std::fs::read(path).ok()
    }

    fn read_head(&self, path: &Path, len: usize) -> Option<Vec<u8>> {
        let file = std::fs::File::open(path).ok()?;
        let mut head = Vec::with_capacity(len);
        file.take(len as u64).read_to_end(&mut head).ok()?;
        Some(head)
    }

    fn file_size(&self, path: &Path) -> Option<u64> {
        std::fs::metadata(path).ok().map(|m| m.len())
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn copy(&self, from: &Path, to: &Path) -> Result<(), HostError> {
        std::fs::copy(from, to)
            .map(drop)
            .map_err(|e| HostError::io("copy", from, e))
    }

    fn remove(&self, path: &Path) -> Result<(), HostError> {
        let result = match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => Err(e),
            Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
            Ok(_) => std::fs::remove_file(path),
        };
        match result {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(HostError::io("remove", path, e))
            }
            _ => Ok(()),
        }
    }

    fn list_dir(&self, path: &Path) -> Vec<String> {
        std::fs::read_dir(path)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn set_cpu_share(&self, name: &str, pid: u32, share: CpuShare) -> Result<(), HostError> {
        let layout = self.layout().ok_or(HostError::NoCgroup)?;
        let dir = layout.dir(name);
        if let Layout::V2(root) = &layout {
            // let the parent and our own level hand the cpu controller down
            for level in [root.clone(), root.join(crate::cgroup::PARENT)] {
                std::fs::create_dir_all(&level).map_err(|e| HostError::io("create", &level, e))?;
                let control = level.join("cgroup.subtree_control");
                std::fs::write(&control, "+cpu")
                    .map_err(|e| HostError::io("write", &control, e))?;
            }
        }
        std::fs::create_dir_all(&dir).map_err(|e| HostError::io("create", &dir, e))?;
        let (file, value) = layout.weight_file(share);
        let weight = dir.join(file);
        std::fs::write(&weight, value).map_err(|e| HostError::io("write", &weight, e))?;
        let procs = dir.join("cgroup.procs");
        std::fs::write(&procs, pid.to_string()).map_err(|e| HostError::io("write", &procs, e))
    }

    fn remove_cgroup(&self, name: &str) {
        if let Some(layout) = self.layout() {
            let _ = std::fs::remove_dir(layout.dir(name));
        }
    }
}
