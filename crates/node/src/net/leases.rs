//! The DHCP lease table: which address each guest MAC gets, filled by the runs of this node.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::RwLock;

/// One guest's address on the main network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The guest's address.
    pub ip: Ipv4Addr,
    /// The block's prefix length (the guest's netmask).
    pub prefix: u8,
    /// The block's gateway: the bridge's address, the guest's router and the DHCP server id.
    pub gateway: Ipv4Addr,
}

impl Lease {
    /// The lease for `ip` in `cidr` (`10.66.10.0/24`); None when the block has no gateway or
    /// the address is outside it.
    pub fn in_block(ip: &str, cidr: &str) -> Option<Lease> {
        let ip: Ipv4Addr = ip.trim().parse().ok()?;
        let gateway = dvp_api::network::gateway(cidr)?;
        let prefix = dvp_api::network::prefix_len(cidr)?;
        let lease = Lease {
            ip,
            prefix,
            gateway,
        };
        let mask = lease.netmask_bits();
        (u32::from(ip) & mask == u32::from(gateway) & mask && ip != gateway).then_some(lease)
    }

    fn netmask_bits(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }

    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.netmask_bits())
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.ip) | !self.netmask_bits())
    }
}

/// `aa:bb:cc:dd:ee:ff` as bytes.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.trim().split([':', '-']);
    for byte in &mut mac {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// Leases by MAC; each entry remembers the run (`owner`) that put it there.
#[derive(Debug, Default)]
pub struct Leases {
    by_mac: RwLock<HashMap<[u8; 6], (String, Lease)>>,
}

impl Leases {
    pub fn put(&self, owner: &str, mac: [u8; 6], lease: Lease) {
        self.by_mac
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(mac, (owner.to_string(), lease));
    }

    /// Forgets the leases of one run (a newer run with the same MAC keeps its own).
    pub fn remove_owner(&self, owner: &str) {
        self.by_mac
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, (o, _)| o != owner);
    }

    pub fn get(&self, mac: &[u8; 6]) -> Option<Lease> {
        self.by_mac
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(mac)
            .map(|(_, lease)| *lease)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_takes_mask_and_gateway_from_the_block() {
        let lease = Lease::in_block("10.66.10.7", "10.66.10.0/24").unwrap();
        assert_eq!(lease.gateway, Ipv4Addr::new(10, 66, 10, 254));
        assert_eq!(lease.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(lease.broadcast(), Ipv4Addr::new(10, 66, 10, 255));
    }

    #[test]
    fn an_address_outside_its_block_or_the_gateway_itself_gets_no_lease() {
        assert_eq!(Lease::in_block("10.66.11.7", "10.66.10.0/24"), None);
        assert_eq!(Lease::in_block("10.66.10.254", "10.66.10.0/24"), None);
        assert_eq!(Lease::in_block("10.66.10.7", "10.66.10.6/31"), None);
    }

    #[test]
    fn macs_parse_with_colons_or_dashes() {
        assert_eq!(
            parse_mac("52:54:00:AA:bb:0c"),
            Some([0x52, 0x54, 0, 0xaa, 0xbb, 0x0c])
        );
        assert_eq!(parse_mac("52-54-00-aa-bb-0c").map(|m| m[5]), Some(0x0c));
        assert_eq!(parse_mac("52:54:00:aa:bb"), None);
        assert_eq!(parse_mac("52:54:00:aa:bb:0c:01"), None);
    }

    #[test]
    fn removing_a_run_keeps_a_newer_run_with_the_same_mac() {
        let leases = Leases::default();
        let lease = Lease::in_block("10.66.10.7", "10.66.10.0/24").unwrap();
        leases.put("old", [1; 6], lease);
        leases.put("new", [1; 6], lease);
        leases.remove_owner("old");
        assert_eq!(leases.get(&[1; 6]), Some(lease));
        leases.remove_owner("new");
        assert_eq!(leases.get(&[1; 6]), None);
    }
}
