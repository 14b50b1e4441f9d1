//! Quantities in sizing and disk-size rules: parsed with `dvp_apimachinery::quantity` into whole
//! bytes (rounded up), and formatted back for messages.

use dvp_apimachinery::quantity::Quantity;

/// Parse a quantity into whole units, rounding any fraction up. `None` when malformed.
pub fn parse_units(s: &str) -> Option<i128> {
    Quantity::parse(s).ok().map(|q| q.to_bytes_ceil())
}

/// A byte count as the shortest exact binary quantity (`1Gi`, `1536Mi`, `1000`).
pub fn format_bytes(bytes: i128) -> String {
    for (suffix, shift) in [
        ("Ei", 60),
        ("Pi", 50),
        ("Ti", 40),
        ("Gi", 30),
        ("Mi", 20),
        ("Ki", 10),
    ] {
        let unit = 1i128 << shift;
        if bytes != 0 && bytes % unit == 0 {
            return format!("{}{suffix}", bytes / unit);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_and_decimal_suffixes_parse() {
        assert_eq!(parse_units("1Gi"), Some(1 << 30));
        assert_eq!(parse_units("512M"), Some(512_000_000));
        assert_eq!(parse_units("1.5Gi"), Some(3 << 29));
        assert_eq!(parse_units("1e3"), Some(1000));
        assert_eq!(parse_units("10"), Some(10));
    }

    #[test]
    fn fractions_round_up() {
        assert_eq!(parse_units("100m"), Some(1));
    }

    #[test]
    fn garbage_does_not_parse() {
        assert_eq!(parse_units("lots"), None);
        assert_eq!(parse_units("1Xi"), None);
        assert_eq!(parse_units(""), None);
    }

    #[test]
    fn bytes_format_with_the_largest_exact_unit() {
        assert_eq!(format_bytes(1 << 30), "1Gi");
        assert_eq!(format_bytes(3 << 29), "1536Mi");
        assert_eq!(format_bytes(1000), "1000");
    }
}
