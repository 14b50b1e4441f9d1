//! coreFraction as a CPU weight: a guest with `cores` × `coreFraction`% asks for that many cores,
//! converted the way Kubernetes converts CPU requests (cgroup v1 `cpu.shares`, v2 `cpu.weight`).

use std::path::{Path, PathBuf};

use crate::host::CpuShare;

/// Parent cgroup of all guests.
pub const PARENT: &str = "dvp-vms";

/// `cpu.shares` (cgroup v1): 1024 per requested core, at least 2.
pub fn cpu_shares(share: CpuShare) -> u64 {
    let millicores = u64::from(share.cores) * u64::from(share.core_fraction.clamp(1, 100)) * 10;
    (millicores * 1024 / 1000).max(2)
}

/// `cpu.weight` (cgroup v2), mapped from shares as Kubernetes maps them: 2..262144 → 1..10000.
pub fn cpu_weight(share: CpuShare) -> u64 {
    let shares = cpu_shares(share).min(262_144);
    (1 + (shares - 2) * 9999 / 262_142).clamp(1, 10_000)
}

/// Which cgroup hierarchy controls CPU here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Unified hierarchy mounted at the root given.
    V2(PathBuf),
    /// v1 `cpu` controller mounted at the path given.
    V1(PathBuf),
}

impl Layout {
    /// Decides from what exists under `root` (normally `/sys/fs/cgroup`).
    pub fn detect(root: &Path, exists: impl Fn(&Path) -> bool) -> Option<Layout> {
        if exists(&root.join("cgroup.controllers")) {
            return Some(Layout::V2(root.to_path_buf()));
        }
        for dir in ["cpu", "cpu,cpuacct"] {
            let path = root.join(dir);
            if exists(&path.join("cpu.shares")) {
                return Some(Layout::V1(path));
            }
        }
        None
    }

    /// The directory of the guest cgroup `name`.
    pub fn dir(&self, name: &str) -> PathBuf {
        match self {
            Layout::V2(root) | Layout::V1(root) => root.join(PARENT).join(name),
        }
    }

    /// The file and value that set the weight of `share`.
    pub fn weight_file(&self, share: CpuShare) -> (&'static str, String) {
        match self {
            Layout::V2(_) => ("cpu.weight", cpu_weight(share).to_string()),
            Layout::V1(_) => ("cpu.shares", cpu_shares(share).to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(cores: u32, core_fraction: u32) -> CpuShare {
        CpuShare {
            cores,
            core_fraction,
        }
    }

    #[test]
    fn a_full_core_is_1024_shares() {
        assert_eq!(cpu_shares(share(1, 100)), 1024);
        assert_eq!(cpu_shares(share(4, 25)), 1024);
    }

    #[test]
    fn tiny_fractions_keep_the_minimum() {
        assert_eq!(cpu_shares(share(1, 0)), 10);
        assert_eq!(cpu_shares(share(0, 50)), 2);
    }

    #[test]
    fn weight_follows_the_kubernetes_mapping() {
        assert_eq!(cpu_weight(share(1, 100)), 39);
        assert_eq!(cpu_weight(share(0, 100)), 1);
        assert_eq!(cpu_weight(share(256, 100)), 10_000);
    }

    #[test]
    fn unified_hierarchy_wins_when_present() {
        let root = Path::new("/sys/fs/cgroup");
        let layout = Layout::detect(root, |p| p.ends_with("cgroup.controllers"));
        assert_eq!(layout, Some(Layout::V2(root.to_path_buf())));
        assert_eq!(
            layout.unwrap().dir("u1"),
            PathBuf::from("/sys/fs/cgroup/dvp-vms/u1")
        );
    }

    #[test]
    fn v1_cpu_controller_is_found() {
        let root = Path::new("/sys/fs/cgroup");
        let layout = Layout::detect(root, |p| p == Path::new("/sys/fs/cgroup/cpu/cpu.shares"));
        let layout = layout.unwrap();
        assert_eq!(layout, Layout::V1(root.join("cpu")));
        assert_eq!(
            layout.weight_file(share(2, 50)),
            ("cpu.shares", "1024".to_string())
        );
    }

    #[test]
    fn no_cpu_controller_means_no_layout() {
        assert_eq!(Layout::detect(Path::new("/x"), |_| false), None);
    }
}
