//! The guests' networks on this node. Each `Main` interface gets a tap on the bridge
//! [`names::MAIN_BRIDGE`], which carries the gateway address of every block the node's guests
//! use, and a DHCP server on that bridge ([`dhcp`]) hands each known MAC its leased address. Each
//! additional network (`Network`, `ClusterNetwork`) is a plain L2 bridge of its own. Where the
//! host forbids bridges or taps, a run falls back to QEMU user-mode networking and the Node says
//! so (`VMNetworkReady=False`).
//!
//! [`Network`] decides and remembers; the effects go through [`NetHost`] (iproute2 for real, a
//! recording fake in tests).

pub mod dhcp;
pub mod host;
pub mod leases;
pub mod names;

#[cfg(test)]
pub(crate) mod fake;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use dvp_api::kinds::instance::InstanceNetwork;
use dvp_qemu::argv::NicBackend;

pub use host::{IpCommand, NetError, NetHost, TapLink};
pub use leases::{Lease, Leases};
pub use names::MAIN_BRIDGE;

/// `status.networkMode` of a run whose interfaces are taps on bridges.
pub const MODE_BRIDGE: &str = "Bridge";
/// `status.networkMode` of a run on QEMU user-mode networking.
pub const MODE_USER: &str = "User";

const DHCP_UNAVAILABLE: &str = "DHCPUnavailable";

/// How the node agent connects guests (part of the agent config).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetConfig {
    /// Put guests on bridges through taps (false: every run uses QEMU user-mode networking).
    pub bridges: bool,
    /// Masquerade traffic of the main network's blocks leaving the host, and turn on IPv4
    /// forwarding. Off by default: guests then reach this host and each other, nothing else.
    pub nat: bool,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            bridges: true,
            nat: false,
        }
    }
}

/// The `VMNetworkReady` condition of the Node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    pub ready: bool,
    pub reason: &'static str,
    pub message: String,
}

/// How a run's interfaces were connected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attached {
    /// [`MODE_BRIDGE`] or [`MODE_USER`]; None for a run without interfaces.
    pub mode: Option<&'static str>,
    /// One backend per entry of the spec's networks.
    pub nics: Vec<NicBackend>,
}

/// The node's guest networking: bridges, taps, gateway addresses, leases, health.
pub struct Network {
    host: Arc<dyn NetHost>,
    config: NetConfig,
    leases: Arc<Leases>,
    health: Mutex<Option<Health>>,
    /// gateway addresses and NAT rules already in place (each is made once per agent)
    ensured: Mutex<HashSet<String>>,
}

impl Network {
    pub fn new(host: Arc<dyn NetHost>, config: NetConfig) -> Network {
        Network {
            host,
            config,
            leases: Arc::new(Leases::default()),
            health: Mutex::new(None),
            ensured: Mutex::new(HashSet::new()),
        }
    }

    pub fn config(&self) -> &NetConfig {
        &self.config
    }

    /// The lease table the DHCP server answers from.
    pub fn leases(&self) -> Arc<Leases> {
        self.leases.clone()
    }

    /// The Node condition, once anything was tried.
    pub fn health(&self) -> Option<Health> {
        self.health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_health(&self, ready: bool, reason: &'static str, message: String) {
        let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        // working taps do not make up for a DHCP server that never started
        if ready
            && health
                .as_ref()
                .is_some_and(|h| h.reason == DHCP_UNAVAILABLE)
        {
            return;
        }
        *health = Some(Health {
            ready,
            reason,
            message,
        });
    }

    /// Records that the DHCP server could not start (guests on the bridge get no address).
    pub fn dhcp_failed(&self, error: &str) {
        self.set_health(
            false,
            DHCP_UNAVAILABLE,
            format!(
                "the DHCP server cannot listen on {MAIN_BRIDGE}: {error}; guests on the bridge get no address"
            ),
        );
    }

    /// Deletes taps no QEMU holds or is about to open, left by runs that ended while no agent
    /// was there to clean up. Returns their names.
    pub fn sweep_stale_taps(&self, now: u64) -> Vec<String> {
        let stale = stale_taps(&self.host.taps(), now);
        for tap in &stale {
            match self.host.delete_link(tap) {
                Ok(()) => tracing::info!(%tap, "deleted a tap left by an ended run"),
                Err(e) => tracing::warn!(%tap, error = %e, "cannot delete a stale tap"),
            }
        }
        stale
    }

    /// At agent start: makes the main bridge. True when guests can be bridged here.
    pub fn prepare_node(&self) -> bool {
        if !self.config.bridges {
            self.set_health(
                false,
                "BridgesDisabled",
                "bridged networking is turned off in the agent config; guests use QEMU user-mode networking".into(),
            );
            return false;
        }
        match self.host.ensure_bridge(MAIN_BRIDGE) {
            Ok(()) => {
                self.set_health(
                    true,
                    "BridgeReady",
                    format!("bridge {MAIN_BRIDGE} is up; guests get taps and DHCP leases"),
                );
                true
            }
            Err(e) => {
                self.fallback_health(&e);
                false
            }
        }
    }

    fn fallback_health(&self, e: &NetError) {
        self.set_health(
            false,
            "BridgesUnavailable",
            format!(
                "{e}; guests fall back to QEMU user-mode networking (give the agent CAP_NET_ADMIN and /dev/net/tun to bridge them)"
            ),
        );
    }

    /// Before QEMU starts: bridges, gateway addresses and one tap per interface of run `uid`.
    /// Where that fails, the run gets user-mode networking instead (and the Node is told why).
    pub fn attach(&self, uid: &str, networks: &[InstanceNetwork]) -> Attached {
        if networks.is_empty() {
            return Attached {
                mode: None,
                nics: Vec::new(),
            };
        }
        if !self.config.bridges {
            return user_mode(networks);
        }
        match self.make_taps(uid, networks) {
            Ok(nics) => {
                self.set_health(
                    true,
                    "BridgeReady",
                    format!("bridge {MAIN_BRIDGE} is up; guests get taps and DHCP leases"),
                );
                self.serve(uid, networks);
                Attached {
                    mode: Some(MODE_BRIDGE),
                    nics,
                }
            }
            Err(e) => {
                tracing::warn!(run = uid, error = %e, "bridged networking failed; using user-mode networking");
                self.remove_taps(uid, networks.len());
                self.fallback_health(&e);
                user_mode(networks)
            }
        }
    }

    fn make_taps(
        &self,
        uid: &str,
        networks: &[InstanceNetwork],
    ) -> Result<Vec<NicBackend>, NetError> {
        let mut nics = Vec::with_capacity(networks.len());
        for (index, net) in networks.iter().enumerate() {
            let bridge = names::bridge_for(&net.type_, &net.name);
            self.host.ensure_bridge(&bridge)?;
            let tap = names::tap_for(uid, index);
            self.host.create_tap(&tap, &bridge)?;
            nics.push(NicBackend::Tap(tap));
        }
        Ok(nics)
    }

    /// Serves the Main interfaces of a bridged run: the block's gateway on the bridge, NAT when
    /// configured, and the lease. Called at start, on adoption and when the spec changes (the
    /// address may come after the run started).
    pub fn serve(&self, uid: &str, networks: &[InstanceNetwork]) {
        for net in networks.iter().filter(|n| n.type_ == "Main") {
            let (Some(ip), Some(cidr)) = (&net.ip_address, &net.cidr) else {
                continue;
            };
            let Some(lease) = Lease::in_block(ip, cidr) else {
                tracing::warn!(
                    run = uid,
                    ip,
                    cidr,
                    "address outside its block or block without a gateway; no lease"
                );
                continue;
            };
            self.ensure_once(format!("addr {}/{}", lease.gateway, lease.prefix), || {
                self.host
                    .ensure_address(MAIN_BRIDGE, lease.gateway, lease.prefix)
            });
            if self.config.nat {
                self.ensure_once("forwarding".into(), || self.host.enable_forwarding());
                self.ensure_once(format!("nat {cidr}"), || {
                    self.host.ensure_masquerade(cidr.trim(), MAIN_BRIDGE)
                });
            }
            match leases::parse_mac(&net.mac_address) {
                Some(mac) => self.leases.put(uid, mac, lease),
                None => {
                    tracing::warn!(run = uid, mac = %net.mac_address, "MAC address unreadable; no lease")
                }
            }
        }
    }

    fn ensure_once(&self, key: String, make: impl FnOnce() -> Result<(), NetError>) {
        let mut ensured = self.ensured.lock().unwrap_or_else(|e| e.into_inner());
        if ensured.contains(&key) {
            return;
        }
        match make() {
            Ok(()) => {
                ensured.insert(key);
            }
            Err(e) => tracing::warn!(error = %e, "guest network setup failed"),
        }
    }

    /// The run is over: its leases and taps go.
    pub fn release(&self, uid: &str, interfaces: usize) {
        self.leases.remove_owner(uid);
        self.remove_taps(uid, interfaces);
    }

    fn remove_taps(&self, uid: &str, interfaces: usize) {
        for index in 0..interfaces {
            let tap = names::tap_for(uid, index);
            if let Err(e) = self.host.delete_link(&tap) {
                tracing::warn!(run = uid, %tap, error = %e, "cannot delete tap");
            }
        }
    }
}

/// How long a new tap is left alone even when no process has it yet: another agent on this
/// host may be between making it and starting QEMU.
pub const TAP_GRACE_SECONDS: u64 = 120;

/// The taps to delete: nobody holds them open, no live process names them, and they are older
/// than [`TAP_GRACE_SECONDS`] (taps without a creation mark were not made by this code).
pub fn stale_taps(taps: &[TapLink], now: u64) -> Vec<String> {
    taps.iter()
        .filter(|t| !t.carrier && !t.named)
        .filter(|t| {
            t.created
                .is_some_and(|c| now.saturating_sub(c) >= TAP_GRACE_SECONDS)
        })
        .map(|t| t.name.clone())
        .collect()
}

/// User-mode networking for Main, isolated links for the others.
fn user_mode(networks: &[InstanceNetwork]) -> Attached {
    Attached {
        mode: Some(MODE_USER),
        nics: networks
            .iter()
            .map(|n| {
                if n.type_ == "Main" {
                    NicBackend::User
                } else {
                    NicBackend::Isolated
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests;
