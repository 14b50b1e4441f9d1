//! A host network in memory that records every operation.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::Mutex;

use super::host::{NetError, NetHost, TapLink};

#[derive(Default)]
struct State {
    /// link → its bridge (None for bridges themselves)
    links: BTreeMap<String, Option<String>>,
    addresses: BTreeSet<(String, Ipv4Addr, u8)>,
    forwarding: bool,
    masquerade: BTreeSet<(String, String)>,
    calls: Vec<String>,
    deny_bridges: bool,
    deny_taps: bool,
    /// taps found on the host, as [`NetHost::taps`] reports them
    found: Vec<TapLink>,
    /// bridges whose creation fails
    failing_bridges: BTreeSet<String>,
}

#[derive(Default)]
pub(crate) struct FakeNet {
    state: Mutex<State>,
}

fn denied(operation: &str) -> NetError {
    NetError::Denied {
        operation: operation.to_string(),
        detail: "Operation not permitted".into(),
    }
}

impl FakeNet {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    pub fn deny_bridges(&self) {
        self.state().deny_bridges = true;
    }

    pub fn deny_taps(&self) {
        self.state().deny_taps = true;
    }

    /// A tap another agent (or an earlier one) left on the host.
    pub fn add_found_tap(&self, tap: TapLink) {
        let mut s = self.state();
        s.links.insert(tap.name.clone(), Some("dvp-main".into()));
        s.found.push(tap);
    }

    /// Creating this one bridge fails.
    pub fn fail_bridge(&self, name: &str) {
        self.state().failing_bridges.insert(name.to_string());
    }

    pub fn allow_all(&self) {
        let mut s = self.state();
        s.deny_bridges = false;
        s.deny_taps = false;
    }

    /// Every operation asked for, in order.
    pub fn calls(&self) -> Vec<String> {
        self.state().calls.clone()
    }

    /// The bridge a link is attached to.
    pub fn master(&self, name: &str) -> Option<String> {
        self.state().links.get(name).cloned().flatten()
    }

    /// Taps (links with a bridge) that exist.
    pub fn taps(&self) -> Vec<String> {
        let s = self.state();
        s.links
            .iter()
            .filter(|(_, master)| master.is_some())
            .map(|(name, _)| name.clone())
            .collect()
    }

    pub fn addresses(&self, link: &str) -> Vec<String> {
        self.state()
            .addresses
            .iter()
            .filter(|(l, _, _)| l == link)
            .map(|(_, a, p)| format!("{a}/{p}"))
            .collect()
    }

    pub fn forwarding(&self) -> bool {
        self.state().forwarding
    }

    pub fn masquerades(&self) -> Vec<(String, String)> {
        self.state().masquerade.iter().cloned().collect()
    }

    /// A link made by someone else (an earlier agent, a running QEMU's tap).
    pub fn add_link(&self, name: &str, master: Option<&str>) {
        self.state()
            .links
            .insert(name.to_string(), master.map(String::from));
    }
}

impl NetHost for FakeNet {
    fn ensure_bridge(&self, name: &str) -> Result<(), NetError> {
        let mut s = self.state();
        s.calls.push(format!("bridge {name}"));
        if s.deny_bridges || s.failing_bridges.contains(name) {
            return Err(denied("ip link add type bridge"));
        }
        s.links.entry(name.to_string()).or_insert(None);
        Ok(())
    }

    fn ensure_address(&self, link: &str, address: Ipv4Addr, prefix: u8) -> Result<(), NetError> {
        let mut s = self.state();
        s.calls.push(format!("address {link} {address}/{prefix}"));
        if !s.links.contains_key(link) {
            return Err(NetError::Failed {
                operation: format!("ip addr add {address}/{prefix} dev {link}"),
                detail: "Cannot find device".into(),
            });
        }
        s.addresses.insert((link.to_string(), address, prefix));
        Ok(())
    }

    fn create_tap(&self, name: &str, bridge: &str) -> Result<(), NetError> {
        let mut s = self.state();
        s.calls.push(format!("tap {name} {bridge}"));
        if s.deny_taps {
            return Err(denied("ip tuntap add"));
        }
        if !s.links.contains_key(bridge) {
            return Err(NetError::Failed {
                operation: format!("ip link set {name} master {bridge}"),
                detail: "Cannot find device".into(),
            });
        }
        s.links.insert(name.to_string(), Some(bridge.to_string()));
        Ok(())
    }

    fn delete_link(&self, name: &str) -> Result<(), NetError> {
        let mut s = self.state();
        s.calls.push(format!("delete {name}"));
        s.links.remove(name);
        Ok(())
    }

    fn taps(&self) -> Vec<TapLink> {
        let s = self.state();
        s.found
            .iter()
            .filter(|t| s.links.contains_key(&t.name))
            .cloned()
            .collect()
    }

    fn enable_forwarding(&self) -> Result<(), NetError> {
        let mut s = self.state();
        s.calls.push("forwarding".into());
        s.forwarding = true;
        Ok(())
    }

    fn ensure_masquerade(&self, cidr: &str, bridge: &str) -> Result<(), NetError> {
        let mut s = self.state();
        s.calls.push(format!("masquerade {cidr} {bridge}"));
        s.masquerade.insert((cidr.to_string(), bridge.to_string()));
        Ok(())
    }
}
