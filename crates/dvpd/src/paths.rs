//! Where the platform keeps its files.

use std::path::PathBuf;

/// `/var/lib/dvp` as root, `~/.local/share/dvp` otherwise (the same rule `d8` uses).
pub fn default_data_dir() -> PathBuf {
    let is_root = std::env::var("USER").map(|u| u == "root").unwrap_or(false)
        || std::fs::metadata("/proc/self")
            .map(|m| {
                use std::os::unix::fs::MetadataExt;
                m.uid() == 0
            })
            .unwrap_or(false);
    if is_root {
        PathBuf::from("/var/lib/dvp")
    } else {
        let home = std::env::var("HOME").unwrap_or_else(|_| ".".into());
        PathBuf::from(home).join(".local/share/dvp")
    }
}
