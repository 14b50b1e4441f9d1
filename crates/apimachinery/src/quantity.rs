//! Kubernetes resource quantities (`1Gi`, `500M`, `100m`, `2.5Gi`, `1e3`): parsing, comparison and
//! canonical formatting with the semantics of `k8s.io/apimachinery/pkg/api/resource.Quantity`.
//!
//! Values are held exactly as a signed count of nano-units (`i128`), which covers every quantity
//! Kubernetes accepts: like Kubernetes, magnitudes are capped at 2^63-1 units and anything finer
//! than one nano-unit is rounded away from zero.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const NANOS_PER_UNIT: i128 = 1_000_000_000;
/// Kubernetes caps the magnitude of a quantity at the largest int64 (in whole units).
const MAX_NANOS: u128 = (i64::MAX as u128) * 1_000_000_000;

const ERR_FORMAT: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
const ERR_SUFFIX: &str = "unable to parse quantity's suffix";

/// How a quantity prefers to be printed; taken from the suffix it was written with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuantityFormat {
    /// Powers of 1024: `Ki`, `Mi`, … `Ei`.
    BinarySI,
    /// Powers of 1000: `n`, `u`, `m`, ``, `k`, `M`, … `E`.
    DecimalSI,
    /// Scientific: `1e3`, `5E-3`.
    DecimalExponent,
}

/// A parsed quantity. Equality and ordering compare the value only (`1Ki == 1024`).
#[derive(Clone, Copy, Debug)]
pub struct Quantity {
    nanos: i128,
    format: QuantityFormat,
}

/// What the suffix of a quantity multiplies the number by.
enum Suffix {
    /// `1024^n`
    Binary(u32),
    /// `10^n`, with the format it implies.
    Decimal(i64, QuantityFormat),
}

impl Quantity {
    /// Parse the full Kubernetes grammar: `[+-]digits[.digits][suffix]` where the suffix is a
    /// binary SI unit (`Ki`…`Ei`), a decimal SI unit (`n u m k M G T P E`) or an exponent (`e3`, `E-2`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let bytes = s.as_bytes();
        if bytes.is_empty() {
            return Err(ERR_FORMAT.to_string());
        }
        let mut i = 0;
        let negative = match bytes[0] {
            b'-' => {
                i = 1;
                true
            }
            b'+' => {
                i = 1;
                false
            }
            _ => false,
        };
        let int_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let int_digits = &s[int_start..i];
        let mut frac_digits = "";
        if i < bytes.len() && bytes[i] == b'.' {
            i += 1;
            let frac_start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            frac_digits = &s[frac_start..i];
        }
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(ERR_FORMAT.to_string());
        }
        let suffix_text = &s[i..];
        if !suffix_is_well_formed(suffix_text) {
            return Err(ERR_FORMAT.to_string());
        }
        let suffix = parse_suffix(suffix_text).ok_or_else(|| ERR_SUFFIX.to_string())?;
        let (binary_power, decimal_exp, format) = match suffix {
            Suffix::Binary(n) => (n, 0, QuantityFormat::BinarySI),
            Suffix::Decimal(e, f) => (0, e, f),
        };
        let magnitude = nanos_from_digits(int_digits, frac_digits, decimal_exp, binary_power);
        let nanos = if negative {
            -(magnitude as i128)
        } else {
            magnitude as i128
        };
        Ok(Self { nanos, format })
    }

    /// A byte count, printed in binary SI form when that is exact (`10Gi`, `2590Mi`).
    pub fn from_bytes(bytes: i128) -> Self {
        Self::from_units(bytes, QuantityFormat::BinarySI)
    }

    /// A value in milli-units (CPU style), printed in decimal SI form (`100m`, `2`).
    pub fn from_millis(millis: i128) -> Self {
        Self {
            nanos: clamp_nanos(millis.saturating_mul(1_000_000)),
            format: QuantityFormat::DecimalSI,
        }
    }

    /// A whole number of units with an explicit preferred format.
    pub fn from_units(units: i128, format: QuantityFormat) -> Self {
        Self {
            nanos: clamp_nanos(units.saturating_mul(NANOS_PER_UNIT)),
            format,
        }
    }

    /// The exact value in nano-units.
    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    /// The format this quantity prints in.
    pub fn format(&self) -> QuantityFormat {
        self.format
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    /// The value as a whole number of units, rounded away from zero (`0.5` → `1`), as
    /// `Quantity.Value()` does. For sizes this is the byte count.
    pub fn to_bytes_ceil(&self) -> i128 {
        div_away_from_zero(self.nanos, NANOS_PER_UNIT)
    }

    /// The value in milli-units, rounded away from zero, as `Quantity.MilliValue()` does.
    pub fn millis(&self) -> i128 {
        div_away_from_zero(self.nanos, 1_000_000)
    }

    /// The canonical text, as Kubernetes serialises the quantity.
    fn canonical(&self) -> String {
        if self.nanos == 0 {
            return "0".to_string();
        }
        let sign = if self.nanos < 0 { "-" } else { "" };
        let magnitude = self.nanos.unsigned_abs();
        let whole_units = magnitude.is_multiple_of(NANOS_PER_UNIT as u128);
        let binary = self.format == QuantityFormat::BinarySI
            && magnitude >= 1024 * NANOS_PER_UNIT as u128
            && whole_units;
        if binary {
            let mut n = magnitude / NANOS_PER_UNIT as u128;
            let mut power = 0;
            while power < 6 && n.is_multiple_of(1024) {
                n /= 1024;
                power += 1;
            }
            return format!("{sign}{n}{}", BINARY_SUFFIXES[power]);
        }
        // Decimal: strip factors of ten, then step the exponent down to a multiple of three.
        let mut mantissa = magnitude;
        let mut exponent: i64 = -9;
        while mantissa.is_multiple_of(10) {
            mantissa /= 10;
            exponent += 1;
        }
        let adjust = exponent.rem_euclid(3);
        mantissa *= 10u128.pow(adjust as u32);
        exponent -= adjust;
        if self.format == QuantityFormat::DecimalExponent {
            return if exponent == 0 {
                format!("{sign}{mantissa}")
            } else {
                format!("{sign}{mantissa}e{exponent}")
            };
        }
        // Values are capped below 10^19, so `E` (10^18) is the largest unit needed.
        while exponent > 18 {
            mantissa *= 1000;
            exponent -= 3;
        }
        let unit = match exponent {
            -9 => "n",
            -6 => "u",
            -3 => "m",
            0 => "",
            3 => "k",
            6 => "M",
            9 => "G",
            12 => "T",
            15 => "P",
            _ => "E",
        };
        format!("{sign}{mantissa}{unit}")
    }
}

const BINARY_SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

/// The suffix must look like `[eEinumkKMGTP]*[-+]?[0-9]*`; whether it means anything is checked later.
fn suffix_is_well_formed(suffix: &str) -> bool {
    let letters_end = suffix
        .find(|c: char| !"eEinumkKMGTP".contains(c))
        .unwrap_or(suffix.len());
    let rest = &suffix[letters_end..];
    let digits = rest.strip_prefix(['+', '-']).unwrap_or(rest);
    digits.bytes().all(|b| b.is_ascii_digit())
}

fn parse_suffix(suffix: &str) -> Option<Suffix> {
    use QuantityFormat::{DecimalExponent, DecimalSI};
    let decimal = |e| Some(Suffix::Decimal(e, DecimalSI));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => Some(Suffix::Binary(1)),
        "Mi" => Some(Suffix::Binary(2)),
        "Gi" => Some(Suffix::Binary(3)),
        "Ti" => Some(Suffix::Binary(4)),
        "Pi" => Some(Suffix::Binary(5)),
        "Ei" => Some(Suffix::Binary(6)),
        _ => {
            let exp = suffix.strip_prefix(['e', 'E'])?;
            if exp.is_empty() {
                return None;
            }
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            // Exponents beyond ±10^6 saturate: the value is capped or rounds to one nano-unit anyway.
            let value: i64 = digits.parse().unwrap_or(i64::MAX).min(1_000_000);
            Some(Suffix::Decimal(
                if exp.starts_with('-') { -value } else { value },
                DecimalExponent,
            ))
        }
    }
}

/// The magnitude in nano-units of `int.frac × 10^decimal_exp × 1024^binary_power`, rounded away
/// from zero and capped at [`MAX_NANOS`].
fn nanos_from_digits(
    int_digits: &str,
    frac_digits: &str,
    decimal_exp: i64,
    binary_power: u32,
) -> u128 {
    let frac_digits = frac_digits.trim_end_matches('0');
    let mut digits: Vec<u8> = int_digits
        .bytes()
        .chain(frac_digits.bytes())
        .map(|b| b - b'0')
        .collect();
    let leading_zeros = digits.iter().take_while(|d| **d == 0).count();
    digits.drain(..leading_zeros);
    if digits.is_empty() {
        return 0;
    }
    // value = digits × 10^exp10 (in nano-units) × 1024^binary_power
    let mut exp10: i64 = 9 + decimal_exp - frac_digits.len() as i64;
    let mut inexact = false;
    // Keep at most 38 significant digits so the mantissa fits a u128.
    while digits.len() > 38 {
        inexact |= digits.pop() != Some(0);
        exp10 += 1;
    }
    let mut mantissa: u128 = digits.iter().fold(0, |acc, d| acc * 10 + u128::from(*d));
    let multiplier = 1u128 << (10 * binary_power);
    let mut scaled = mantissa.checked_mul(multiplier);
    while scaled.is_none() && exp10 < 0 {
        inexact |= !mantissa.is_multiple_of(10);
        mantissa /= 10;
        exp10 += 1;
        scaled = mantissa.checked_mul(multiplier);
    }
    let Some(mut value) = scaled else {
        return MAX_NANOS;
    };
    if exp10 >= 0 {
        let factor = u32::try_from(exp10)
            .ok()
            .and_then(|e| 10u128.checked_pow(e));
        match factor.and_then(|f| value.checked_mul(f)) {
            Some(v) => value = v,
            None => return MAX_NANOS,
        }
    } else {
        match u32::try_from(-exp10)
            .ok()
            .and_then(|e| 10u128.checked_pow(e))
        {
            Some(divisor) => {
                inexact |= value % divisor != 0;
                value /= divisor;
            }
            None => {
                inexact = true;
                value = 0;
            }
        }
    }
    if inexact {
        value += 1;
    }
    value.min(MAX_NANOS)
}

fn clamp_nanos(nanos: i128) -> i128 {
    let max = MAX_NANOS as i128;
    nanos.clamp(-max, max)
}

fn div_away_from_zero(n: i128, d: i128) -> i128 {
    let q = n / d;
    if n % d == 0 {
        q
    } else if n > 0 {
        q + 1
    } else {
        q - 1
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl std::hash::Hash for Quantity {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.nanos.hash(state);
    }
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

impl std::str::FromStr for Quantity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.canonical())
    }
}

impl<'de> Deserialize<'de> for Quantity {
    /// Accepts a string or a JSON number, as the API does.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(deserializer)?;
        let text = match &v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            other => {
                return Err(serde::de::Error::custom(format!(
                    "a quantity must be a string, not {other}"
                )));
            }
        };
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A byte count for status columns: plain below 1Ki, otherwise the largest binary unit with at most
/// one decimal (`512`, `300Mi`, `285.9Mi`, `2.5Gi`, `10Gi`), rounded to the nearest tenth.
pub fn format_bytes_human(bytes: u64) -> String {
    if bytes < 1024 {
        return bytes.to_string();
    }
    let bytes = u128::from(bytes);
    let mut unit = 1;
    let mut divisor: u128 = 1024;
    while unit < 6 && bytes >= divisor * 1024 {
        divisor *= 1024;
        unit += 1;
    }
    let mut tenths = (bytes * 10 + divisor / 2) / divisor;
    // 1023.96Ki rounds to 1024.0Ki: print it as 1Mi instead.
    if tenths >= 10 * 1024 && unit < 6 {
        divisor *= 1024;
        unit += 1;
        tenths = (bytes * 10 + divisor / 2) / divisor;
    }
    let suffix = BINARY_SUFFIXES[unit];
    if tenths.is_multiple_of(10) {
        format!("{}{suffix}", tenths / 10)
    } else {
        format!("{}.{}{suffix}", tenths / 10, tenths % 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn canonical_forms_match_kubernetes() {
        let cases = [
            ("1Gi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("1024Mi", "1Gi"),
            ("0.5Ki", "512"),
            ("1023", "1023"),
            ("500M", "500M"),
            ("1000", "1k"),
            ("1500", "1500"),
            ("0.1", "100m"),
            ("100m", "100m"),
            ("1.5", "1500m"),
            ("0", "0"),
            ("0Gi", "0"),
            ("-1Gi", "-1Gi"),
            ("+2k", "2k"),
            ("1e3", "1e3"),
            ("1.5e3", "1500"),
            ("12e6", "12e6"),
            ("1E3", "1e3"),
            ("1e-3", "1e-3"),
            ("5n", "5n"),
            ("1000u", "1m"),
            ("1.", "1"),
            (".5", "500m"),
            ("007", "7"),
            ("2.5Gi", "2560Mi"),
        ];
        for (input, want) in cases {
            assert_eq!(q(input).to_string(), want, "canonical form of {input}");
        }
    }

    #[test]
    fn comparison_uses_the_value_not_the_text() {
        assert_eq!(q("1Ki"), q("1024"));
        assert!(q("1Gi") > q("1G"));
        assert!(q("100m") < q("1"));
        assert!(q("-1") < q("0"));
        let mut v = vec![q("2Gi"), q("1"), q("500M")];
        v.sort();
        assert_eq!(v, vec![q("1"), q("500M"), q("2Gi")]);
    }

    #[test]
    fn value_accessors_round_away_from_zero() {
        assert_eq!(q("10Gi").to_bytes_ceil(), 10 * 1024 * 1024 * 1024);
        assert_eq!(q("0.5").to_bytes_ceil(), 1);
        assert_eq!(q("1.2").to_bytes_ceil(), 2);
        assert_eq!(q("-1.2").to_bytes_ceil(), -2);
        assert_eq!(q("100m").millis(), 100);
        assert_eq!(q("2").millis(), 2000);
        assert_eq!(q("1n").millis(), 1);
    }

    #[test]
    fn precision_below_nano_rounds_up() {
        assert_eq!(q("0.0000000001").nanos(), 1);
        assert_eq!(q("1e-100").nanos(), 1);
        assert_eq!(q("-1e-100").nanos(), -1);
    }

    #[test]
    fn huge_values_are_capped_at_int64_units() {
        assert_eq!(q("1e100").to_bytes_ceil(), i64::MAX as i128);
        assert_eq!(q("100Ei").to_bytes_ceil(), i64::MAX as i128);
        assert_eq!(
            q("123456789012345678901234567890123456789012345").to_bytes_ceil(),
            i64::MAX as i128
        );
    }

    #[test]
    fn long_fractions_with_binary_units_stay_exact_enough() {
        // 0.5Ei = 2^59 bytes; the long digit string must not overflow on the way.
        assert_eq!(
            q("0.50000000000000000000000000000000Ei").to_bytes_ceil(),
            1 << 59
        );
    }

    #[test]
    fn malformed_text_reports_the_kubernetes_regex() {
        for bad in [
            "", "abc", "1.2.3", "--1", "1 Gi", " 1", ".", "+", "1Gi5x", "1Gb",
        ] {
            let err = Quantity::parse(bad).unwrap_err();
            assert!(
                err.starts_with("quantities must match the regular expression"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn unknown_suffix_is_a_suffix_error() {
        for bad in ["1K", "1ki", "1e", "1mi", "1EE"] {
            assert_eq!(Quantity::parse(bad).unwrap_err(), ERR_SUFFIX, "{bad}");
        }
    }

    #[test]
    fn from_bytes_prefers_exact_binary_units() {
        assert_eq!(
            Quantity::from_bytes(10 * 1024 * 1024 * 1024).to_string(),
            "10Gi"
        );
        assert_eq!(
            Quantity::from_bytes(2590 * 1024 * 1024).to_string(),
            "2590Mi"
        );
        assert_eq!(Quantity::from_bytes(1000).to_string(), "1k");
        assert_eq!(Quantity::from_bytes(1025).to_string(), "1025");
        assert_eq!(Quantity::from_bytes(0).to_string(), "0");
    }

    #[test]
    fn from_millis_prints_decimal() {
        assert_eq!(Quantity::from_millis(100).to_string(), "100m");
        assert_eq!(Quantity::from_millis(2000).to_string(), "2");
    }

    #[test]
    fn serde_uses_canonical_strings_and_accepts_numbers() {
        let v: Quantity = serde_json::from_str("\"1.5Gi\"").unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"1536Mi\"");
        let n: Quantity = serde_json::from_str("2").unwrap();
        assert_eq!(n, q("2"));
        assert!(serde_json::from_str::<Quantity>("true").is_err());
    }

    #[test]
    fn human_bytes_for_status_columns() {
        let mi = 1024 * 1024;
        let cases: [(u64, &str); 9] = [
            (0, "0"),
            (512, "512"),
            (1023, "1023"),
            (1024, "1Ki"),
            (300 * mi, "300Mi"),
            (299_788_288, "285.9Mi"),
            (2560 * mi, "2.5Gi"),
            (10 * 1024 * mi, "10Gi"),
            (1_048_535, "1Mi"),
        ];
        for (bytes, want) in cases {
            assert_eq!(format_bytes_human(bytes), want, "{bytes} bytes");
        }
        assert_eq!(format_bytes_human(u64::MAX), "16Ei");
    }
}
