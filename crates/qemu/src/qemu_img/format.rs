//! Image format names as qemu-img spells them.

use std::fmt;
use std::str::FromStr;

/// A disk image format known to qemu-img (`-f` / `-O` / `-F` values).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    Raw,
    Qcow2,
    Vmdk,
    Vdi,
    /// VHD (qemu-img calls it `vpc`).
    Vpc,
    Vhdx,
    /// Any other driver name qemu-img reported (`qed`, `parallels`, `luks`, …).
    Other(String),
}

impl ImageFormat {
    /// The driver name qemu-img uses on its command line and in `info` output.
    pub fn as_str(&self) -> &str {
        match self {
            ImageFormat::Raw => "raw",
            ImageFormat::Qcow2 => "qcow2",
            ImageFormat::Vmdk => "vmdk",
            ImageFormat::Vdi => "vdi",
            ImageFormat::Vpc => "vpc",
            ImageFormat::Vhdx => "vhdx",
            ImageFormat::Other(name) => name,
        }
    }

    /// Maps a driver name to a format; unknown names become [`ImageFormat::Other`].
    pub fn from_name(name: &str) -> ImageFormat {
        match name {
            "raw" => ImageFormat::Raw,
            "qcow2" => ImageFormat::Qcow2,
            "vmdk" => ImageFormat::Vmdk,
            "vdi" => ImageFormat::Vdi,
            "vpc" => ImageFormat::Vpc,
            "vhdx" => ImageFormat::Vhdx,
            other => ImageFormat::Other(other.to_string()),
        }
    }
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ImageFormat {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(ImageFormat::from_name(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_round_trip() {
        for name in ["raw", "qcow2", "vmdk", "vdi", "vpc", "vhdx"] {
            let format = ImageFormat::from_name(name);
            assert!(!matches!(format, ImageFormat::Other(_)), "{name}");
            assert_eq!(format.as_str(), name);
        }
    }

    #[test]
    fn unknown_names_are_kept_verbatim() {
        assert_eq!(
            ImageFormat::from_name("qed"),
            ImageFormat::Other("qed".into())
        );
        assert_eq!(ImageFormat::from_name("qed").to_string(), "qed");
    }
}
