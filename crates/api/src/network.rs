//! The main VM network's address plan, shared by IPAM (which must never hand the gateway to a
//! VM) and the node agent (whose bridge carries it). Pure.
//!
//! Each block of `virtualMachineCIDRs` keeps its last usable address for the node's bridge, the
//! guests' default gateway: a guest's DHCP client installs a default route only through an
//! on-link router, so the gateway must lie inside the guest's own block. Blocks of /31 and /32
//! have no room for one; their guests get no gateway.

use std::net::Ipv4Addr;

/// The gateway address of a `virtualMachineCIDRs` block (`10.66.10.0/24` → `10.66.10.254`), or
/// None for /31, /32 and unparsable blocks.
pub fn gateway(block: &str) -> Option<Ipv4Addr> {
    let (ip, prefix) = block.trim().split_once('/')?;
    let ip: Ipv4Addr = ip.parse().ok()?;
    let prefix: u8 = prefix.parse().ok().filter(|p| *p <= 30)?;
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    let broadcast = (u32::from(ip) & mask) | !mask;
    Some(Ipv4Addr::from(broadcast - 1))
}

/// The prefix length of a block (`10.66.10.0/24` → 24).
pub fn prefix_len(block: &str) -> Option<u8> {
    block
        .trim()
        .split_once('/')?
        .1
        .parse()
        .ok()
        .filter(|p| *p <= 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_is_the_last_usable_address() {
        assert_eq!(
            gateway("10.66.10.0/24"),
            Some(Ipv4Addr::new(10, 66, 10, 254))
        );
        assert_eq!(
            gateway("10.0.0.0/8"),
            Some(Ipv4Addr::new(10, 255, 255, 254))
        );
        assert_eq!(
            gateway("192.168.1.8/30"),
            Some(Ipv4Addr::new(192, 168, 1, 10))
        );
    }

    #[test]
    fn host_bits_do_not_move_the_gateway() {
        assert_eq!(
            gateway("10.66.10.7/24"),
            Some(Ipv4Addr::new(10, 66, 10, 254))
        );
    }

    #[test]
    fn tiny_blocks_have_no_gateway() {
        assert_eq!(gateway("10.66.10.0/31"), None);
        assert_eq!(gateway("10.66.10.5/32"), None);
        assert_eq!(gateway("nonsense"), None);
    }

    #[test]
    fn prefix_length_is_read() {
        assert_eq!(prefix_len("10.66.10.0/24"), Some(24));
        assert_eq!(prefix_len("10.66.10.0"), None);
    }
}
