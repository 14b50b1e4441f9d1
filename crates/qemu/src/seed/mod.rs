//! Provisioning media QEMU attaches read-only as CD-ROMs: the cloud-init NoCloud seed (label
//! `cidata`: `user-data`, `meta-data`, optionally `network-config`) and the Windows unattend
//! medium (the sysprep files). Both are built in memory by [`iso9660::build_iso`].

pub mod iso9660;

use std::collections::BTreeMap;

use base64::Engine;

pub use iso9660::{IsoError, IsoFile, build_iso};

/// Volume label cloud-init's NoCloud data source looks for.
pub const NOCLOUD_LABEL: &str = "cidata";
/// Volume label of the unattend medium (Windows searches every removable drive by file name).
pub const SYSPREP_LABEL: &str = "sysprep";

/// A medium that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Iso(#[from] IsoError),
    #[error("sysprep file {name:?} is not valid base64: {reason}")]
    Base64 { name: String, reason: String },
}

/// What the NoCloud seed says.
#[derive(Clone, Copy, Debug)]
pub struct NoCloud<'a> {
    /// `instance-id` (the VM's uid: cloud-init runs its once-per-instance steps once per VM).
    pub instance_id: &'a str,
    /// `local-hostname` (the VM's name).
    pub hostname: &'a str,
    pub user_data: &'a str,
    pub network_config: Option<&'a str>,
}

/// A YAML scalar in double quotes (JSON string syntax is valid YAML).
fn quoted(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

/// The files of a NoCloud seed.
pub fn nocloud_files(seed: &NoCloud) -> Vec<IsoFile> {
    let meta = format!(
        "instance-id: {}\nlocal-hostname: {}\n",
        quoted(seed.instance_id),
        quoted(seed.hostname)
    );
    let mut files = vec![
        IsoFile {
            name: "meta-data".into(),
            data: meta.into_bytes(),
        },
        IsoFile {
            name: "user-data".into(),
            data: seed.user_data.as_bytes().to_vec(),
        },
    ];
    if let Some(network) = seed.network_config {
        files.push(IsoFile {
            name: "network-config".into(),
            data: network.as_bytes().to_vec(),
        });
    }
    files
}

/// The NoCloud seed medium.
pub fn nocloud_iso(seed: &NoCloud) -> Result<Vec<u8>, SeedError> {
    Ok(build_iso(NOCLOUD_LABEL, &nocloud_files(seed))?)
}

/// The unattend medium from the sysprep Secret's files (name → base64 content).
pub fn sysprep_iso(files: &BTreeMap<String, String>) -> Result<Vec<u8>, SeedError> {
    let decoded = files
        .iter()
        .map(|(name, b64)| {
            let data = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| SeedError::Base64 {
                    name: name.clone(),
                    reason: e.to_string(),
                })?;
            Ok(IsoFile {
                name: name.clone(),
                data,
            })
        })
        .collect::<Result<Vec<_>, SeedError>>()?;
    Ok(build_iso(SYSPREP_LABEL, &decoded)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_data_names_the_instance_and_host() {
        let files = nocloud_files(&NoCloud {
            instance_id: "0b8c2f4e-95f1-4b0a-8d1f-3a2b1c0d9e8f",
            hostname: "true",
            user_data: "#cloud-config\n",
            network_config: None,
        });
        assert_eq!(
            String::from_utf8(files[0].data.clone()).unwrap(),
            "instance-id: \"0b8c2f4e-95f1-4b0a-8d1f-3a2b1c0d9e8f\"\nlocal-hostname: \"true\"\n"
        );
        assert_eq!(files.len(), 2);
    }

    #[test]
    fn network_config_is_added_when_given() {
        let files = nocloud_files(&NoCloud {
            instance_id: "i",
            hostname: "h",
            user_data: "",
            network_config: Some("version: 2\n"),
        });
        assert_eq!(files[2].name, "network-config");
    }

    #[test]
    fn seed_medium_is_labelled_cidata() {
        let image = nocloud_iso(&NoCloud {
            instance_id: "i",
            hostname: "h",
            user_data: "#cloud-config\n",
            network_config: None,
        })
        .unwrap();
        assert_eq!(iso9660::reader::read(&image, true).label, "cidata");
    }

    #[test]
    fn sysprep_files_are_decoded() {
        let mut files = BTreeMap::new();
        files.insert("unattend.xml".to_string(), "PHhtbC8+".to_string());
        let image = sysprep_iso(&files).unwrap();
        let volume = iso9660::reader::read(&image, true);
        assert_eq!(
            volume.files,
            vec![("unattend.xml;1".to_string(), b"<xml/>".to_vec())]
        );
    }

    #[test]
    fn bad_base64_names_the_file() {
        let mut files = BTreeMap::new();
        files.insert("autounattend.xml".to_string(), "%%%".to_string());
        let err = sysprep_iso(&files).unwrap_err();
        assert!(err.to_string().contains("autounattend.xml"), "{err}");
    }
}
