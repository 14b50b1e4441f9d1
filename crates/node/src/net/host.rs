//! What the network code does to the machine, behind [`NetHost`]: links, addresses, NAT rules
//! and the forwarding switch. [`IpCommand`] does it with iproute2 and iptables; a recording fake
//! stands in for it in unit tests.

use std::net::Ipv4Addr;
use std::process::Command;

/// A host network operation that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// The host does not let the agent do it (no CAP_NET_ADMIN, no /dev/net/tun, a sandbox).
    #[error("{operation}: not permitted on this host ({detail})")]
    Denied { operation: String, detail: String },
    #[error("{operation} failed: {detail}")]
    Failed { operation: String, detail: String },
}

impl NetError {
    /// The error of a command from its stderr: permission problems are told apart.
    pub fn from_stderr(operation: String, stderr: &str) -> NetError {
        let detail = stderr.trim().to_string();
        let lower = detail.to_lowercase();
        if lower.contains("not permitted")
            || lower.contains("permission denied")
            || lower.contains("no such device")
        {
            NetError::Denied { operation, detail }
        } else {
            NetError::Failed { operation, detail }
        }
    }
}

/// A tap of the agent's naming found on the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TapLink {
    pub name: String,
    /// A process holds the tap open (a tap's carrier is on while attached to a file).
    pub carrier: bool,
    /// A live process names the tap on its command line (a QEMU about to open it).
    pub named: bool,
    /// When the agent made it (unix seconds, from the link's alias).
    pub created: Option<u64>,
}

/// Alias prefix recording when the agent made a tap.
pub const CREATED_ALIAS: &str = "dvp-created=";

/// The machine's network, as the agent needs it. Every call is idempotent.
pub trait NetHost: Send + Sync + 'static {
    /// Creates the bridge when missing and sets it up.
    fn ensure_bridge(&self, name: &str) -> Result<(), NetError>;
    /// Adds `address/prefix` to `link` unless it is there; other addresses are left alone.
    fn ensure_address(&self, link: &str, address: Ipv4Addr, prefix: u8) -> Result<(), NetError>;
    /// Creates tap `name` owned by root (replacing a stale one of that name), attaches it to
    /// `bridge` and sets it up.
    fn create_tap(&self, name: &str, bridge: &str) -> Result<(), NetError>;
    /// Deletes a link; a missing one is not an error.
    fn delete_link(&self, name: &str) -> Result<(), NetError>;
    /// Taps of the agent's naming ([`super::names::is_tap_name`]) present on the host.
    fn taps(&self) -> Vec<TapLink>;
    /// Turns on IPv4 forwarding.
    fn enable_forwarding(&self) -> Result<(), NetError>;
    /// Masquerades traffic from `cidr` that leaves through any link but `bridge`.
    fn ensure_masquerade(&self, cidr: &str, bridge: &str) -> Result<(), NetError>;
}

/// [`NetHost`] through the `ip`, `iptables` commands and `/proc/sys`.
#[derive(Clone, Debug, Default)]
pub struct IpCommand;

fn run(program: &str, args: &[&str]) -> Result<std::process::Output, NetError> {
    Command::new(program)
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| NetError::Failed {
            operation: format!("{program} {}", args.join(" ")),
            detail: format!("cannot run {program}: {e} (install iproute2/iptables)"),
        })
}

/// Runs a command that must succeed.
fn must(program: &str, args: &[&str]) -> Result<(), NetError> {
    let out = run(program, args)?;
    if out.status.success() {
        return Ok(());
    }
    Err(NetError::from_stderr(
        format!("{program} {}", args.join(" ")),
        &String::from_utf8_lossy(&out.stderr),
    ))
}

/// Whether a command succeeds (a probe such as `iptables -C`).
fn succeeds(program: &str, args: &[&str]) -> bool {
    run(program, args).is_ok_and(|out| out.status.success())
}

/// Seconds since the epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The command lines of live processes (arguments joined by commas, so an option value ends
/// at a comma or at the end).
fn command_lines() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', ",") + ",")
        .collect()
}

fn link_exists(name: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(name).exists()
}

impl NetHost for IpCommand {
    fn ensure_bridge(&self, name: &str) -> Result<(), NetError> {
        if !link_exists(name) {
            let created = must("ip", &["link", "add", name, "type", "bridge"]);
            // another agent on this host may have made it meanwhile
            if created.is_err() && !link_exists(name) {
                return created;
            }
        }
        must("ip", &["link", "set", name, "up"])
    }

    fn ensure_address(&self, link: &str, address: Ipv4Addr, prefix: u8) -> Result<(), NetError> {
        let cidr = format!("{address}/{prefix}");
        let out = run("ip", &["-4", "-o", "addr", "show", "dev", link])?;
        let listed = String::from_utf8_lossy(&out.stdout);
        if listed.split_whitespace().any(|word| word == cidr) {
            return Ok(());
        }
        let out = run("ip", &["addr", "add", &cidr, "dev", link])?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() || stderr.contains("File exists") {
            return Ok(());
        }
        Err(NetError::from_stderr(
            format!("ip addr add {cidr} dev {link}"),
            &stderr,
        ))
    }

    fn create_tap(&self, name: &str, bridge: &str) -> Result<(), NetError> {
        if link_exists(name) {
            self.delete_link(name)?;
        }
        must(
            "ip",
            &["tuntap", "add", "dev", name, "mode", "tap", "user", "0"],
        )?;
        let alias = format!("{CREATED_ALIAS}{}", unix_now());
        let attached = must("ip", &["link", "set", name, "master", bridge])
            .and_then(|()| must("ip", &["link", "set", name, "alias", &alias]))
            .and_then(|()| must("ip", &["link", "set", name, "up"]));
        if attached.is_err() {
            let _ = self.delete_link(name);
        }
        attached
    }

    fn delete_link(&self, name: &str) -> Result<(), NetError> {
        if !link_exists(name) {
            return Ok(());
        }
        let result = must("ip", &["link", "del", name]);
        if result.is_err() && !link_exists(name) {
            return Ok(());
        }
        result
    }

    fn taps(&self) -> Vec<TapLink> {
        let names: Vec<String> = std::fs::read_dir("/sys/class/net")
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|name| super::names::is_tap_name(name))
                    .collect()
            })
            .unwrap_or_default();
        if names.is_empty() {
            return Vec::new();
        }
        let command_lines = command_lines();
        names
            .into_iter()
            .map(|name| {
                let dir = std::path::Path::new("/sys/class/net").join(&name);
                let read = |file: &str| std::fs::read_to_string(dir.join(file)).unwrap_or_default();
                let needle = format!("ifname={name},");
                TapLink {
                    carrier: read("carrier").trim() == "1",
                    named: command_lines.iter().any(|line| line.contains(&needle)),
                    created: read("ifalias")
                        .trim()
                        .strip_prefix(CREATED_ALIAS)
                        .and_then(|t| t.parse().ok()),
                    name,
                }
            })
            .collect()
    }

    fn enable_forwarding(&self) -> Result<(), NetError> {
        std::fs::write("/proc/sys/net/ipv4/ip_forward", "1")
            .map_err(|e| NetError::from_stderr("enable net.ipv4.ip_forward".into(), &e.to_string()))
    }

    fn ensure_masquerade(&self, cidr: &str, bridge: &str) -> Result<(), NetError> {
        let rules: [(&str, &str, &[&str]); 3] = [
            (
                "nat",
                "POSTROUTING",
                &["-s", cidr, "!", "-o", bridge, "-j", "MASQUERADE"],
            ),
            (
                "filter",
                "FORWARD",
                &["-i", bridge, "-s", cidr, "-j", "ACCEPT"],
            ),
            (
                "filter",
                "FORWARD",
                &[
                    "-o",
                    bridge,
                    "-d",
                    cidr,
                    "-m",
                    "conntrack",
                    "--ctstate",
                    "ESTABLISHED,RELATED",
                    "-j",
                    "ACCEPT",
                ],
            ),
        ];
        for (table, chain, rule) in rules {
            let command = |action: &'static str| {
                let mut args = vec!["-t", table, action, chain];
                args.extend_from_slice(rule);
                args
            };
            if !succeeds("iptables", &command("-C")) {
                must("iptables", &command("-A"))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_errors_are_told_apart() {
        let e = NetError::from_stderr(
            "ip link add".into(),
            "RTNETLINK answers: Operation not permitted\n",
        );
        assert!(matches!(e, NetError::Denied { .. }), "{e}");
        let e = NetError::from_stderr("ip link add".into(), "Error: argument invalid");
        assert!(matches!(e, NetError::Failed { .. }), "{e}");
    }
}
