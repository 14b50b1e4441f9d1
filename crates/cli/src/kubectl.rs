//! `d8 k`: exec kubectl with the platform's kubeconfig.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

/// The data dir `dvpd up` uses by default: `/var/lib/dvp` as root, `~/.local/share/dvp` otherwise.
pub fn default_data_dir() -> PathBuf {
    if is_root() {
        PathBuf::from("/var/lib/dvp")
    } else {
        PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| ".".into())).join(".local/share/dvp")
    }
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn has_kubeconfig_flag(args: &[String]) -> bool {
    args.iter()
        .any(|a| a == "--kubeconfig" || a.starts_with("--kubeconfig="))
}

/// The arguments to pass to kubectl: the user's, plus `--kubeconfig <default>` when neither the
/// flag nor `$KUBECONFIG` says where the platform is.
pub fn kubectl_args(
    args: &[String],
    env_kubeconfig: Option<&str>,
    default: &std::path::Path,
) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len() + 2);
    if !has_kubeconfig_flag(args) && env_kubeconfig.is_none_or(str::is_empty) {
        out.push("--kubeconfig".to_string());
        out.push(default.display().to_string());
    }
    out.extend(args.iter().cloned());
    out
}

pub fn exec(args: &[String]) -> ExitCode {
    let kubectl = std::env::var("D8_KUBECTL").unwrap_or_else(|_| "kubectl".into());
    let env = std::env::var("KUBECONFIG").ok();
    let default = default_data_dir().join("kubeconfig");
    let full = kubectl_args(args, env.as_deref(), &default);
    let err = Command::new(&kubectl).args(&full).exec();
    eprintln!("d8: cannot run {kubectl}: {err} (install kubectl or set D8_KUBECTL)");
    ExitCode::from(127)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn default_kubeconfig_is_added_when_nothing_says_otherwise() {
        let out = kubectl_args(&s(&["get", "vm"]), None, Path::new("/d/kubeconfig"));
        assert_eq!(out, s(&["--kubeconfig", "/d/kubeconfig", "get", "vm"]));
    }

    #[test]
    fn explicit_flag_wins() {
        let out = kubectl_args(
            &s(&["--kubeconfig=/x", "get", "vm"]),
            None,
            Path::new("/d/kubeconfig"),
        );
        assert_eq!(out, s(&["--kubeconfig=/x", "get", "vm"]));
    }

    #[test]
    fn environment_variable_wins_over_default() {
        let out = kubectl_args(
            &s(&["get", "vm"]),
            Some("/env/kc"),
            Path::new("/d/kubeconfig"),
        );
        assert_eq!(out, s(&["get", "vm"]));
    }
}
