//! The address pool of `virtualMachineCIDRs` and the allocation rule, free of I/O.
//!
//! Every address of a block is usable except its network (first) and broadcast (last) address
//! and, in blocks of /30 or larger, the address before the broadcast: the gateway the node's VM
//! bridge carries ([`dvp_api::network::gateway`]). A `/32` is a single usable address.
//!
//! `Auto` allocation walks the blocks in their configured order and takes the first address that
//! no lease (Bound or Released) represents.

use std::net::Ipv4Addr;

/// One IPv4 block of `virtualMachineCIDRs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    network: u32,
    prefix: u8,
}

impl Block {
    /// Parse `a.b.c.d/n` (host bits are ignored: admission refuses them already).
    pub fn parse(s: &str) -> Result<Block, PoolError> {
        let bad = || PoolError::BadCidr(s.to_string());
        let (ip, prefix) = s.trim().split_once('/').ok_or_else(bad)?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().ok().filter(|p| *p <= 32).ok_or_else(bad)?;
        let mask = mask(prefix);
        Ok(Block {
            network: u32::from(ip) & mask,
            prefix,
        })
    }

    fn broadcast(&self) -> u32 {
        self.network | !mask(self.prefix)
    }

    fn contains(&self, ip: u32) -> bool {
        ip & mask(self.prefix) == self.network
    }

    /// The addresses a VM may get, in order.
    fn usable(&self) -> std::ops::RangeInclusive<u32> {
        if self.prefix >= 31 {
            // /32: the one address; /31: both (no room for network, broadcast or gateway).
            self.network..=self.broadcast()
        } else {
            self.network + 1..=self.broadcast() - 2
        }
    }

    /// The gateway address the node's bridge carries, if the block has room for one.
    fn gateway(&self) -> Option<u32> {
        (self.prefix <= 30).then(|| self.broadcast() - 1)
    }
}

impl std::fmt::Display for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.network), self.prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    }
}

/// Why the pool or a requested address cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error(
        "{0:?} in virtualMachineCIDRs is not an IPv4 CIDR; fix ModuleConfig virtualization (e.g. 10.66.10.0/24)"
    )]
    BadCidr(String),
    #[error(
        "the virtualization module has no virtualMachineCIDRs; add them to spec.settings.virtualMachineCIDRs of ModuleConfig virtualization"
    )]
    NoCidrs,
    #[error("{0:?} is not an IPv4 address")]
    BadAddress(String),
    #[error("{ip} is outside virtualMachineCIDRs ({pool}); request an address inside them")]
    OutOfRange { ip: Ipv4Addr, pool: String },
    #[error("{ip} is the network or broadcast address of {block} and cannot be given to a VM")]
    Reserved { ip: Ipv4Addr, block: String },
    #[error(
        "{ip} is the gateway of {block} (the address of the nodes' VM bridge) and cannot be given to a VM"
    )]
    Gateway { ip: Ipv4Addr, block: String },
    #[error(
        "no free address is left in virtualMachineCIDRs ({0}); release addresses or add a CIDR"
    )]
    Exhausted(String),
}

/// The configured blocks, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pool {
    blocks: Vec<Block>,
}

impl Pool {
    /// The pool of the configured CIDR strings.
    pub fn from_cidrs<S: AsRef<str>>(cidrs: &[S]) -> Result<Pool, PoolError> {
        let blocks = cidrs
            .iter()
            .map(|c| Block::parse(c.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        if blocks.is_empty() {
            return Err(PoolError::NoCidrs);
        }
        Ok(Pool { blocks })
    }

    /// Whether `ip` may be leased to a VM (a `Static` request), and why not.
    pub fn check(&self, ip: &str) -> Result<Ipv4Addr, PoolError> {
        let addr: Ipv4Addr = ip
            .trim()
            .parse()
            .map_err(|_| PoolError::BadAddress(ip.to_string()))?;
        let n = u32::from(addr);
        match self.blocks.iter().find(|b| b.contains(n)) {
            None => Err(PoolError::OutOfRange {
                ip: addr,
                pool: self.to_string(),
            }),
            Some(b) if b.gateway() == Some(n) => Err(PoolError::Gateway {
                ip: addr,
                block: b.to_string(),
            }),
            Some(b) if !b.usable().contains(&n) => Err(PoolError::Reserved {
                ip: addr,
                block: b.to_string(),
            }),
            Some(_) => Ok(addr),
        }
    }

    /// The block holding `ip`, as `a.b.c.d/n`.
    pub fn block_of(&self, ip: &str) -> Option<String> {
        let n = u32::from(ip.trim().parse::<Ipv4Addr>().ok()?);
        self.blocks
            .iter()
            .find(|b| b.contains(n))
            .map(Block::to_string)
    }

    /// The first usable address, in configured order, for which `taken` says no.
    pub fn first_free(&self, taken: impl Fn(Ipv4Addr) -> bool) -> Result<Ipv4Addr, PoolError> {
        self.blocks
            .iter()
            .flat_map(|b| b.usable())
            .map(Ipv4Addr::from)
            .find(|ip| !taken(*ip))
            .ok_or_else(|| PoolError::Exhausted(self.to_string()))
    }
}

impl std::fmt::Display for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list: Vec<String> = self.blocks.iter().map(Block::to_string).collect();
        f.write_str(&list.join(", "))
    }
}

/// The lease name of an address: `ip-a-b-c-d`.
pub fn lease_name(ip: Ipv4Addr) -> String {
    let [a, b, c, d] = ip.octets();
    format!("ip-{a}-{b}-{c}-{d}")
}

/// The address a lease name encodes (`ip-10-66-10-14` → 10.66.10.14).
pub fn lease_address(name: &str) -> Option<Ipv4Addr> {
    name.strip_prefix("ip-")?.replace('-', ".").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn pool() -> Pool {
        Pool::from_cidrs(&["10.66.10.0/24", "10.66.20.0/24"]).unwrap()
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn the_first_address_given_is_the_one_after_the_network_address() {
        assert_eq!(pool().first_free(|_| false).unwrap(), ip("10.66.10.1"));
    }

    #[test]
    fn allocation_is_sequential_and_skips_taken_addresses() {
        let taken: HashSet<Ipv4Addr> = [ip("10.66.10.1"), ip("10.66.10.2")].into();
        assert_eq!(
            pool().first_free(|a| taken.contains(&a)).unwrap(),
            ip("10.66.10.3")
        );
    }

    #[test]
    fn a_full_block_moves_on_to_the_next_skipping_its_broadcast() {
        let p = pool();
        let got = p.first_free(|a| a.octets()[2] == 10).unwrap();
        assert_eq!(got, ip("10.66.20.1"));
    }

    #[test]
    fn the_gateway_is_never_allocated() {
        let p = Pool::from_cidrs(&["10.0.0.0/29"]).unwrap();
        let taken: HashSet<Ipv4Addr> = (1..=5).map(|i| ip(&format!("10.0.0.{i}"))).collect();
        assert!(matches!(
            p.first_free(|a| taken.contains(&a)),
            Err(PoolError::Exhausted(_))
        ));
    }

    #[test]
    fn a_static_request_for_the_gateway_is_refused() {
        assert!(matches!(
            pool().check("10.66.10.254"),
            Err(PoolError::Gateway { .. })
        ));
        assert!(pool().check("10.66.10.253").is_ok());
    }

    #[test]
    fn the_block_of_an_address_is_found() {
        assert_eq!(
            pool().block_of("10.66.20.7").as_deref(),
            Some("10.66.20.0/24")
        );
        assert_eq!(pool().block_of("10.99.0.1"), None);
    }

    #[test]
    fn broadcast_is_never_allocated() {
        let p = Pool::from_cidrs(&["10.0.0.0/30"]).unwrap();
        let taken: HashSet<Ipv4Addr> = [ip("10.0.0.1"), ip("10.0.0.2")].into();
        assert!(matches!(
            p.first_free(|a| taken.contains(&a)),
            Err(PoolError::Exhausted(_))
        ));
    }

    #[test]
    fn a_single_address_block_gives_its_address() {
        let p = Pool::from_cidrs(&["10.0.0.5/32"]).unwrap();
        assert_eq!(p.first_free(|_| false).unwrap(), ip("10.0.0.5"));
        assert_eq!(p.check("10.0.0.5").unwrap(), ip("10.0.0.5"));
    }

    #[test]
    fn a_static_address_inside_the_pool_is_accepted() {
        assert_eq!(pool().check("10.66.20.77").unwrap(), ip("10.66.20.77"));
    }

    #[test]
    fn a_static_address_outside_the_pool_is_refused_naming_the_pool() {
        let err = pool().check("192.168.1.5").unwrap_err();
        assert!(matches!(err, PoolError::OutOfRange { .. }));
        assert!(err.to_string().contains("10.66.10.0/24, 10.66.20.0/24"));
    }

    #[test]
    fn network_and_broadcast_addresses_are_refused_as_static() {
        for a in ["10.66.10.0", "10.66.10.255"] {
            assert!(matches!(pool().check(a), Err(PoolError::Reserved { .. })));
        }
    }

    #[test]
    fn a_malformed_static_address_is_refused() {
        assert!(matches!(
            pool().check("10.66.10"),
            Err(PoolError::BadAddress(_))
        ));
    }

    #[test]
    fn an_empty_cidr_list_is_an_error() {
        assert_eq!(
            Pool::from_cidrs::<&str>(&[]).unwrap_err(),
            PoolError::NoCidrs
        );
    }

    #[test]
    fn a_malformed_cidr_is_an_error() {
        assert!(matches!(
            Pool::from_cidrs(&["10.0.0.0/40"]),
            Err(PoolError::BadCidr(_))
        ));
    }

    #[test]
    fn lease_names_encode_the_address_both_ways() {
        assert_eq!(lease_name(ip("10.66.10.14")), "ip-10-66-10-14");
        assert_eq!(lease_address("ip-10-66-10-14"), Some(ip("10.66.10.14")));
        assert_eq!(lease_address("mac-10-66-10-14"), None);
    }
}
