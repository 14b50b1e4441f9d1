//! MAC addresses of additional interfaces, free of I/O: the cluster's prefix (OUI), generated
//! addresses and lease names.

/// The first three octets of every generated address, derived from the cluster's UUID: from the
/// first byte (two hex characters) whose second character makes a locally administered unicast
/// address (`2`, `6`, `a`, `e`), six hex characters (wrapping around); without such a byte, the
/// first six with the second character forced to `2`.
pub fn oui(cluster_uuid: &str) -> [u8; 3] {
    let hex: Vec<u8> = cluster_uuid
        .bytes()
        .filter(u8::is_ascii_hexdigit)
        .map(|b| b.to_ascii_lowercase())
        .collect();
    let mut hex = if hex.len() < 6 {
        b"000000".to_vec()
    } else {
        hex
    };
    let start = (0..hex.len() / 2).find(|i| matches!(hex[2 * i + 1], b'2' | b'6' | b'a' | b'e'));
    let chars: Vec<u8> = match start {
        Some(i) => (0..6).map(|k| hex[(2 * i + k) % hex.len()]).collect(),
        None => {
            hex[1] = b'2';
            hex[..6].to_vec()
        }
    };
    let octet = |k: usize| {
        let s = std::str::from_utf8(&chars[2 * k..2 * k + 2]).expect("hex digits");
        u8::from_str_radix(s, 16).expect("hex digits")
    };
    [octet(0), octet(1), octet(2)]
}

/// The address of `oui` with the low 24 bits `tail`, as `aa:bb:cc:dd:ee:ff`.
pub fn address(oui: [u8; 3], tail: u32) -> String {
    let [_, d, e, f] = tail.to_be_bytes();
    format!(
        "{:02x}:{:02x}:{:02x}:{d:02x}:{e:02x}:{f:02x}",
        oui[0], oui[1], oui[2]
    )
}

/// The canonical form of a valid address: lower case with colons.
pub fn normalize(mac: &str) -> String {
    mac.trim().to_ascii_lowercase().replace('-', ":")
}

/// The lease name of an address: `mac-` + lower-case octets joined by dashes.
pub fn lease_name(mac: &str) -> String {
    format!("mac-{}", normalize(mac).replace(':', "-"))
}

/// The address a lease name encodes.
pub fn lease_address(name: &str) -> Option<String> {
    let mac = name.strip_prefix("mac-")?.replace('-', ":");
    let valid = mac.split(':').count() == 6
        && mac
            .split(':')
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()));
    valid.then_some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_starts_at_the_first_locally_administered_byte() {
        // Bytes 01 51 12 …: 12 is the first ending in 2, 6, a or e.
        assert_eq!(oui("015112ab-cdef"), [0x12, 0xab, 0xcd]);
    }

    #[test]
    fn the_prefix_wraps_around_the_uuid() {
        assert_eq!(oui("0011333a"), [0x3a, 0x00, 0x11]);
    }

    #[test]
    fn without_a_suitable_byte_the_second_digit_is_forced_to_two() {
        assert_eq!(oui("01030507"), [0x02, 0x03, 0x05]);
    }

    #[test]
    fn every_prefix_is_a_locally_administered_unicast() {
        for uuid in ["5f6a0c31-8b5e-4d0e-9c3b-1f2e3d4c5b6a", "ffffffff", "", "0"] {
            let first = oui(uuid)[0];
            assert_eq!(first & 0b11, 0b10, "{uuid}: {first:02x}");
        }
    }

    #[test]
    fn addresses_are_lower_case_with_colons() {
        assert_eq!(address([0x5e, 0xe6, 0x19], 0x22_0f_d8), "5e:e6:19:22:0f:d8");
        assert_eq!(normalize("5E-E6-19-22-0F-D8"), "5e:e6:19:22:0f:d8");
    }

    #[test]
    fn lease_names_encode_the_address_both_ways() {
        assert_eq!(lease_name("5E:E6:19:22:0F:D8"), "mac-5e-e6-19-22-0f-d8");
        assert_eq!(
            lease_address("mac-5e-e6-19-22-0f-d8").as_deref(),
            Some("5e:e6:19:22:0f:d8")
        );
        assert_eq!(lease_address("ip-10-66-10-14"), None);
    }
}
