//! IPv4 addresses and CIDR blocks of `virtualMachineCIDRs`.

use std::net::Ipv4Addr;

/// An IPv4 CIDR block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub addr: u32,
    pub prefix: u8,
}

impl Cidr {
    /// Parse `a.b.c.d/n`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (ip, prefix) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not a CIDR (expected a.b.c.d/n)"))?;
        let ip: Ipv4Addr = ip
            .parse()
            .map_err(|_| format!("{ip:?} is not an IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("{prefix:?} is not a prefix length between 0 and 32"))?;
        Ok(Self {
            addr: u32::from(ip),
            prefix,
        })
    }

    pub fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }

    /// Whether the address has no host bits set.
    pub fn is_aligned(&self) -> bool {
        self.addr & !self.mask() == 0
    }

    pub fn network(&self) -> u32 {
        self.addr & self.mask()
    }

    pub fn broadcast(&self) -> u32 {
        self.network() | !self.mask()
    }

    pub fn contains(&self, ip: u32) -> bool {
        ip & self.mask() == self.network()
    }

    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.contains(other.network()) || other.contains(self.network())
    }

    /// Whether `ip` may be given to a VM: inside the block and, unless it is a single address,
    /// neither the network nor the broadcast address.
    pub fn is_usable(&self, ip: u32) -> bool {
        self.contains(ip) && (self.prefix == 32 || (ip != self.network() && ip != self.broadcast()))
    }

    /// The aligned form, for messages (`10.66.10.0/24`).
    pub fn aligned_string(&self) -> String {
        format!("{}/{}", Ipv4Addr::from(self.network()), self.prefix)
    }
}

/// Parse a dotted IPv4 address.
pub fn parse_ipv4(s: &str) -> Option<u32> {
    s.parse::<Ipv4Addr>().ok().map(u32::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_cidr_parses() {
        let c = Cidr::parse("10.66.10.0/24").unwrap();
        assert!(c.is_aligned());
        assert!(c.contains(parse_ipv4("10.66.10.77").unwrap()));
    }

    #[test]
    fn host_bits_make_a_cidr_unaligned() {
        let c = Cidr::parse("10.66.10.1/24").unwrap();
        assert!(!c.is_aligned());
        assert_eq!(c.aligned_string(), "10.66.10.0/24");
    }

    #[test]
    fn network_and_broadcast_are_not_usable() {
        let c = Cidr::parse("10.66.10.0/24").unwrap();
        assert!(!c.is_usable(parse_ipv4("10.66.10.0").unwrap()));
        assert!(!c.is_usable(parse_ipv4("10.66.10.255").unwrap()));
        assert!(c.is_usable(parse_ipv4("10.66.10.1").unwrap()));
    }

    #[test]
    fn single_address_block_is_usable() {
        let c = Cidr::parse("10.0.0.5/32").unwrap();
        assert!(c.is_usable(parse_ipv4("10.0.0.5").unwrap()));
    }

    #[test]
    fn nested_blocks_overlap() {
        let a = Cidr::parse("10.0.0.0/16").unwrap();
        let b = Cidr::parse("10.0.5.0/24").unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&Cidr::parse("10.1.0.0/16").unwrap()));
    }

    #[test]
    fn malformed_cidrs_are_rejected() {
        assert!(Cidr::parse("10.0.0.0").is_err());
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("300.0.0.0/8").is_err());
    }
}
