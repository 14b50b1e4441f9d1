//! Checksums: the ones a user expects (spec `dataSource.http.checksum`) and computing them on
//! the fly over the bytes as they arrive.

use std::fmt;

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use streebog::{Streebog256, Streebog512};

use crate::error::ImportError;

/// A digest algorithm of the spec's checksum object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Md5,
    Sha1,
    Sha256,
    Sha512,
    Streebog256,
    Streebog512,
}

impl Algorithm {
    pub const ALL: [Algorithm; 6] = [
        Algorithm::Md5,
        Algorithm::Sha1,
        Algorithm::Sha256,
        Algorithm::Sha512,
        Algorithm::Streebog256,
        Algorithm::Streebog512,
    ];

    /// The field name in the spec.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "md5",
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
            Algorithm::Streebog256 => "streebog256",
            Algorithm::Streebog512 => "streebog512",
        }
    }

    /// Length of the digest in hexadecimal digits.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 => 32,
            Algorithm::Sha1 => 40,
            Algorithm::Sha256 | Algorithm::Streebog256 => 64,
            Algorithm::Sha512 | Algorithm::Streebog512 => 128,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Hex digests by algorithm: what the user expects, or what was computed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Checksums {
    pub md5: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    pub sha512: Option<String>,
    pub streebog256: Option<String>,
    pub streebog512: Option<String>,
}

impl Checksums {
    pub fn get(&self, algorithm: Algorithm) -> Option<&str> {
        match algorithm {
            Algorithm::Md5 => self.md5.as_deref(),
            Algorithm::Sha1 => self.sha1.as_deref(),
            Algorithm::Sha256 => self.sha256.as_deref(),
            Algorithm::Sha512 => self.sha512.as_deref(),
            Algorithm::Streebog256 => self.streebog256.as_deref(),
            Algorithm::Streebog512 => self.streebog512.as_deref(),
        }
    }

    fn slot(&mut self, algorithm: Algorithm) -> &mut Option<String> {
        match algorithm {
            Algorithm::Md5 => &mut self.md5,
            Algorithm::Sha1 => &mut self.sha1,
            Algorithm::Sha256 => &mut self.sha256,
            Algorithm::Sha512 => &mut self.sha512,
            Algorithm::Streebog256 => &mut self.streebog256,
            Algorithm::Streebog512 => &mut self.streebog512,
        }
    }

    pub fn set(&mut self, algorithm: Algorithm, hex: String) {
        *self.slot(algorithm) = Some(hex);
    }

    /// The algorithms that have a value, in spec order.
    pub fn algorithms(&self) -> Vec<Algorithm> {
        Algorithm::ALL
            .into_iter()
            .filter(|a| self.get(*a).is_some())
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.algorithms().is_empty()
    }

    /// Every given value has the algorithm's length and only hexadecimal digits.
    pub fn validate(&self) -> Result<(), ImportError> {
        for algorithm in self.algorithms() {
            let value = self.get(algorithm).unwrap_or_default();
            let well_formed =
                value.len() == algorithm.hex_len() && value.bytes().all(|b| b.is_ascii_hexdigit());
            if !well_formed {
                return Err(ImportError::InvalidChecksum {
                    algorithm,
                    value: value.to_string(),
                    expected_len: algorithm.hex_len(),
                });
            }
        }
        Ok(())
    }

    /// Every expected value (self) matches the computed one, ignoring the case of hex digits.
    pub fn verify(&self, computed: &Checksums) -> Result<(), ImportError> {
        for algorithm in self.algorithms() {
            let expected = self.get(algorithm).unwrap_or_default();
            let actual = computed.get(algorithm).unwrap_or_default();
            if !expected.eq_ignore_ascii_case(actual) {
                return Err(ImportError::ChecksumMismatch {
                    algorithm,
                    expected: expected.to_ascii_lowercase(),
                    actual: actual.to_string(),
                });
            }
        }
        Ok(())
    }
}

/// Lowercase hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 15)] as char);
    }
    out
}

/// Computes several digests over the same stream of bytes.
#[derive(Clone, Default)]
pub struct MultiHasher {
    md5: Option<Md5>,
    sha1: Option<Sha1>,
    sha256: Option<Sha256>,
    sha512: Option<Sha512>,
    streebog256: Option<Streebog256>,
    streebog512: Option<Streebog512>,
}

impl MultiHasher {
    pub fn new(algorithms: &[Algorithm]) -> Self {
        let mut hasher = MultiHasher::default();
        for algorithm in algorithms {
            match algorithm {
                Algorithm::Md5 => hasher.md5 = Some(Md5::new()),
                Algorithm::Sha1 => hasher.sha1 = Some(Sha1::new()),
                Algorithm::Sha256 => hasher.sha256 = Some(Sha256::new()),
                Algorithm::Sha512 => hasher.sha512 = Some(Sha512::new()),
                Algorithm::Streebog256 => hasher.streebog256 = Some(Streebog256::new()),
                Algorithm::Streebog512 => hasher.streebog512 = Some(Streebog512::new()),
            }
        }
        hasher
    }

    pub fn update(&mut self, data: &[u8]) {
        fn feed<D: Digest>(hasher: &mut Option<D>, data: &[u8]) {
            if let Some(hasher) = hasher {
                hasher.update(data);
            }
        }
        feed(&mut self.md5, data);
        feed(&mut self.sha1, data);
        feed(&mut self.sha256, data);
        feed(&mut self.sha512, data);
        feed(&mut self.streebog256, data);
        feed(&mut self.streebog512, data);
    }

    /// Starts over, as if no byte had been seen.
    pub fn reset(&mut self) {
        fn clear<D: Digest + Default>(hasher: &mut Option<D>) {
            if let Some(hasher) = hasher {
                *hasher = D::default();
            }
        }
        clear(&mut self.md5);
        clear(&mut self.sha1);
        clear(&mut self.sha256);
        clear(&mut self.sha512);
        clear(&mut self.streebog256);
        clear(&mut self.streebog512);
    }

    pub fn finish(self) -> Checksums {
        fn done<D: Digest>(hasher: Option<D>) -> Option<String> {
            hasher.map(|h| hex(&h.finalize()))
        }
        Checksums {
            md5: done(self.md5),
            sha1: done(self.sha1),
            sha256: done(self.sha256),
            sha512: done(self.sha512),
            streebog256: done(self.streebog256),
            streebog512: done(self.streebog512),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(data: &[u8]) -> Checksums {
        let mut hasher = MultiHasher::new(&Algorithm::ALL);
        hasher.update(data);
        hasher.finish()
    }

    #[test]
    fn known_digests_of_abc() {
        let sums = of(b"abc");
        assert_eq!(sums.md5.unwrap(), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            sums.sha1.unwrap(),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            sums.sha256.unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sums.sha512.unwrap().len(), 128);
        assert_eq!(sums.streebog256.unwrap().len(), 64);
        assert_eq!(sums.streebog512.unwrap().len(), 128);
    }

    #[test]
    fn chunked_updates_equal_one_update() {
        let mut hasher = MultiHasher::new(&[Algorithm::Sha256]);
        hasher.update(b"a");
        hasher.update(b"bc");
        assert_eq!(hasher.finish(), of(b"abc").only(&[Algorithm::Sha256]));
    }

    #[test]
    fn reset_forgets_earlier_bytes() {
        let mut hasher = MultiHasher::new(&[Algorithm::Md5]);
        hasher.update(b"garbage");
        hasher.reset();
        hasher.update(b"abc");
        assert_eq!(
            hasher.finish().md5.unwrap(),
            "900150983cd24fb0d6963f7d28e17f72"
        );
    }

    #[test]
    fn only_requested_algorithms_are_computed() {
        let sums = MultiHasher::new(&[Algorithm::Sha1]).finish();
        assert_eq!(sums.algorithms(), [Algorithm::Sha1]);
    }

    #[test]
    fn verify_accepts_uppercase_and_rejects_a_wrong_digest() {
        let computed = of(b"abc");
        let expected = Checksums {
            md5: Some("900150983CD24FB0D6963F7D28E17F72".into()),
            ..Default::default()
        };
        expected.verify(&computed).unwrap();

        let wrong = Checksums {
            sha256: Some("0".repeat(64)),
            ..Default::default()
        };
        let error = wrong.verify(&computed).unwrap_err();
        assert!(matches!(
            error,
            ImportError::ChecksumMismatch {
                algorithm: Algorithm::Sha256,
                ..
            }
        ));
    }

    #[test]
    fn validate_rejects_wrong_length_and_non_hex() {
        let short = Checksums {
            sha1: Some("abc".into()),
            ..Default::default()
        };
        assert!(short.validate().is_err());
        let not_hex = Checksums {
            md5: Some("z".repeat(32)),
            ..Default::default()
        };
        assert!(not_hex.validate().is_err());
        Checksums::default().validate().unwrap();
    }

    impl Checksums {
        fn only(&self, algorithms: &[Algorithm]) -> Checksums {
            let mut out = Checksums::default();
            for algorithm in algorithms {
                if let Some(value) = self.get(*algorithm) {
                    out.set(*algorithm, value.to_string());
                }
            }
            out
        }
    }
}
