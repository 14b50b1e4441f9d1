//! Names of the links the agent makes. Linux caps interface names at 15 bytes, so names carry a
//! short hash; the hash is FNV-1a, written out here so a name never changes with the toolchain
//! (a restarted agent must find the links an earlier one made).

/// The bridge of the main VM network; it carries the gateway address of each served block.
pub const MAIN_BRIDGE: &str = "dvp-main";

/// Longest interface name the kernel accepts.
pub const MAX_IFNAME: usize = 15;

/// 64-bit FNV-1a of `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The bridge of an interface: [`MAIN_BRIDGE`] for `Main`, else `dvp-n-` and a hash of the
/// network's type and name (plain L2, shared by every guest on that network on this node).
pub fn bridge_for(type_: &str, name: &str) -> String {
    if type_ == "Main" {
        return MAIN_BRIDGE.to_string();
    }
    let hash = fnv1a(format!("{type_}/{name}").as_bytes());
    format!("dvp-n-{:09x}", hash >> 28)
}

/// The tap of interface `index` of the run `uid`: `dvp`, ten hex digits of the uid's hash, and
/// the index. Distinct per run and interface, and the same for every agent that looks.
pub fn tap_for(uid: &str, index: usize) -> String {
    let hash = fnv1a(uid.as_bytes()) >> 24;
    let mut name = format!("dvp{hash:010x}{index}");
    name.truncate(MAX_IFNAME);
    name
}

/// Whether a link name has the shape of [`tap_for`]'s names.
pub fn is_tap_name(name: &str) -> bool {
    name.len() > 13
        && name.len() <= MAX_IFNAME
        && name.starts_with("dvp")
        && name[3..13].chars().all(|c| c.is_ascii_hexdigit())
        && name[13..].chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tap_names_are_recognised_and_bridges_are_not() {
        assert!(is_tap_name(&tap_for("some-uid", 0)));
        assert!(is_tap_name(&tap_for("some-uid", 11)));
        assert!(!is_tap_name(MAIN_BRIDGE));
        assert!(!is_tap_name(&bridge_for("Network", "red")));
        assert!(!is_tap_name("eth0"));
    }

    #[test]
    fn the_main_network_uses_the_fixed_bridge() {
        assert_eq!(bridge_for("Main", ""), "dvp-main");
    }

    #[test]
    fn additional_bridges_are_distinct_per_type_and_name_and_fit_the_kernel_limit() {
        let a = bridge_for("Network", "red");
        let b = bridge_for("ClusterNetwork", "red");
        let c = bridge_for("Network", "blue");
        assert!(a.starts_with("dvp-n-"), "{a}");
        assert_eq!(a.len(), MAX_IFNAME);
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, bridge_for("Network", "red"));
    }

    #[test]
    fn taps_are_stable_distinct_per_interface_and_short() {
        let uid = "0b8c2f4e-95f1-4b0a-8d1f-3a2b1c0d9e8f";
        assert_eq!(tap_for(uid, 0), tap_for(uid, 0));
        assert_ne!(tap_for(uid, 0), tap_for(uid, 1));
        assert_ne!(tap_for(uid, 0), tap_for("another-uid", 0));
        assert!(tap_for(uid, 0).starts_with("dvp"));
        assert!(tap_for(uid, 12).len() <= MAX_IFNAME);
    }

    #[test]
    fn fnv_matches_the_published_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
