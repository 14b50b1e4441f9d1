//! Reaching a TCP port of a guest from the node. A guest on the node's bridge (`networkMode:
//! Bridge`) is reached at its IP; a guest on QEMU user-mode networking (`User`, or no mode
//! reported) through a port forward that QEMU opens on loopback for the one connection and
//! closes again right after connecting (established connections outlive the forward).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use dvp_api::kinds::instance::InternalVirtualizationVirtualMachineInstance as Instance;
use dvp_qemu::qmp::Qmp;
use serde_json::json;
use tokio::net::TcpStream;

/// The user-mode netdev of the main interface (`-netdev user,id=net0`).
pub const MAIN_NETDEV: &str = "net0";
/// A second QMP monitor in the run dir, for the stream server: the supervisor keeps the first
/// one open for the whole run and QEMU serves one client per monitor.
pub const STREAMS_MONITOR: &str = "qmp-streams.sock";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a fresh forwarded connection is watched for an immediate close (QEMU accepts on the
/// host side first, then drops the connection when the guest refuses it).
const REFUSAL_WINDOW: Duration = Duration::from_millis(700);

/// How the node reaches the guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GuestRoute {
    /// At the guest's address on the node's bridge.
    Direct(IpAddr),
    /// Through a QEMU user-mode port forward.
    HostForward,
}

/// A guest port that cannot be reached.
#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    #[error("port {port} of the virtual machine is closed: nothing listens there")]
    Closed { port: u16 },
    #[error("the virtual machine's main interface has no IP address yet")]
    NoAddress,
    #[error("the virtual machine's address {0:?} is not an IP address")]
    BadAddress(String),
    #[error("cannot reach {addr}: {source}")]
    Unreachable {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(
        "the QEMU monitor for port forwards ({path}) does not answer: {message}; restart the VM if it was started by an older agent"
    )]
    Monitor { path: PathBuf, message: String },
    #[error("QEMU refused the port forward: {0}")]
    Forward(String),
}

/// Picks the route from the instance's reported network mode.
pub fn route(instance: &Instance) -> Result<GuestRoute, GuestError> {
    let mode = instance
        .status
        .as_ref()
        .and_then(|s| s.network_mode.as_deref());
    if mode != Some("Bridge") {
        return Ok(GuestRoute::HostForward);
    }
    let ip = instance
        .spec
        .networks
        .iter()
        .find(|n| n.type_ == "Main")
        .and_then(|n| n.ip_address.as_deref())
        .filter(|ip| !ip.is_empty())
        .ok_or(GuestError::NoAddress)?;
    ip.parse()
        .map(GuestRoute::Direct)
        .map_err(|_| GuestError::BadAddress(ip.to_string()))
}

/// The HMP command opening a loopback forward from `host_port` to the guest's `guest_port`.
pub fn hostfwd_add(host_port: u16, guest_port: u16) -> String {
    format!("hostfwd_add {MAIN_NETDEV} tcp:127.0.0.1:{host_port}-:{guest_port}")
}

/// The HMP command closing that forward.
pub fn hostfwd_remove(host_port: u16) -> String {
    format!("hostfwd_remove {MAIN_NETDEV} tcp:127.0.0.1:{host_port}")
}

/// Connects to `port` of the guest of the run in `run_dir`.
pub async fn connect(
    route: &GuestRoute,
    run_dir: &Path,
    port: u16,
) -> Result<TcpStream, GuestError> {
    match route {
        GuestRoute::Direct(ip) => connect_direct(SocketAddr::new(*ip, port)).await,
        GuestRoute::HostForward => connect_forwarded(&run_dir.join(STREAMS_MONITOR), port).await,
    }
}

async fn connect_direct(addr: SocketAddr) -> Result<TcpStream, GuestError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(GuestError::Closed { port: addr.port() })
        }
        Ok(Err(source)) => Err(GuestError::Unreachable { addr, source }),
        Err(_) => Err(GuestError::Unreachable {
            addr,
            source: std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in 5 s"),
        }),
    }
}

/// Whether an HMP answer to a hostfwd command means success: `hostfwd_add` answers nothing,
/// `hostfwd_remove` says "host forwarding rule for … removed"; anything else is an error text.
pub fn hmp_succeeded(answer: &str) -> bool {
    let answer = answer.trim();
    answer.is_empty() || answer.ends_with("removed")
}

async fn hmp(qmp: &Qmp, command: &str) -> Result<(), GuestError> {
    let answer = qmp
        .execute(
            "human-monitor-command",
            Some(json!({"command-line": command})),
        )
        .await
        .map_err(|e| GuestError::Forward(e.to_string()))?;
    let text = answer.as_str().unwrap_or_default();
    if hmp_succeeded(text) {
        Ok(())
    } else {
        Err(GuestError::Forward(text.trim().to_string()))
    }
}

fn free_loopback_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

async fn connect_forwarded(monitor: &Path, port: u16) -> Result<TcpStream, GuestError> {
    let (qmp, _events) =
        Qmp::connect(monitor, CONNECT_TIMEOUT)
            .await
            .map_err(|e| GuestError::Monitor {
                path: monitor.to_path_buf(),
                message: e.to_string(),
            })?;
    let host_port = free_loopback_port().map_err(|e| GuestError::Forward(e.to_string()))?;
    hmp(&qmp, &hostfwd_add(host_port, port)).await?;
    let connected = connect_direct(SocketAddr::from((Ipv4Addr::LOCALHOST, host_port))).await;
    if let Err(e) = hmp(&qmp, &hostfwd_remove(host_port)).await {
        tracing::warn!(host_port, error = %e, "cannot remove a port forward");
    }
    let stream = connected?;
    // QEMU accepted on the host side; a closed guest port shows as an immediate end of stream
    let mut probe = [0u8; 1];
    match tokio::time::timeout(REFUSAL_WINDOW, stream.peek(&mut probe)).await {
        Ok(Ok(0)) | Ok(Err(_)) => Err(GuestError::Closed { port }),
        _ => Ok(stream),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dvp_api::kinds::instance::{InstanceNetwork, InstanceStatus};

    fn instance(mode: Option<&str>, ip: Option<&str>) -> Instance {
        let mut i = Instance::new("vm", Default::default());
        i.spec.networks = vec![InstanceNetwork {
            type_: "Main".into(),
            ip_address: ip.map(String::from),
            ..Default::default()
        }];
        i.status = Some(InstanceStatus {
            network_mode: mode.map(String::from),
            ..Default::default()
        });
        i
    }

    #[test]
    fn a_bridged_guest_is_reached_at_its_address() {
        let i = instance(Some("Bridge"), Some("10.66.10.5"));
        assert_eq!(
            route(&i).unwrap(),
            GuestRoute::Direct("10.66.10.5".parse().unwrap())
        );
    }

    #[test]
    fn user_mode_or_no_mode_goes_through_a_forward() {
        assert_eq!(
            route(&instance(Some("User"), Some("10.66.10.5"))).unwrap(),
            GuestRoute::HostForward
        );
        assert_eq!(
            route(&instance(None, None)).unwrap(),
            GuestRoute::HostForward
        );
    }

    #[test]
    fn a_bridged_guest_without_address_is_an_error() {
        assert!(matches!(
            route(&instance(Some("Bridge"), None)),
            Err(GuestError::NoAddress)
        ));
    }

    #[test]
    fn hmp_answers_are_read_as_qemu_words_them() {
        assert!(hmp_succeeded(""));
        assert!(hmp_succeeded(
            "host forwarding rule for tcp:127.0.0.1:40080 removed\r\n"
        ));
        assert!(!hmp_succeeded(
            "could not set up host forwarding rule 'tcp:x'"
        ));
    }

    #[test]
    fn forward_commands_name_the_main_netdev_and_loopback() {
        assert_eq!(
            hostfwd_add(40000, 22),
            "hostfwd_add net0 tcp:127.0.0.1:40000-:22"
        );
        assert_eq!(
            hostfwd_remove(40000),
            "hostfwd_remove net0 tcp:127.0.0.1:40000"
        );
    }
}
