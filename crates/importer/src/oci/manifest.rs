//! OCI and Docker manifests: image indexes (multi-platform) and image manifests.

use serde::Deserialize;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// The `Accept` header of a manifest request: every kind this client understands.
pub fn accept_header() -> String {
    [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].join(", ")
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
}

/// A reference to a blob or manifest by digest.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: Option<String>,
    pub digest: String,
    pub size: u64,
    pub platform: Option<Platform>,
}

/// A manifest document: either a list of per-platform manifests or one image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Manifest {
    Index(Vec<Descriptor>),
    Image { layers: Vec<Descriptor> },
}

#[derive(Deserialize)]
struct Document {
    manifests: Option<Vec<Descriptor>>,
    layers: Option<Vec<Descriptor>>,
    #[serde(rename = "fsLayers")]
    fs_layers: Option<serde_json::Value>,
}

/// Reads a manifest body (its kind is told by its fields, which every producer sets).
pub fn parse_manifest(body: &[u8]) -> Result<Manifest, String> {
    let document: Document =
        serde_json::from_slice(body).map_err(|e| format!("the manifest is not valid JSON: {e}"))?;
    match (document.manifests, document.layers) {
        (Some(manifests), _) => Ok(Manifest::Index(manifests)),
        (None, Some(layers)) => Ok(Manifest::Image { layers }),
        (None, None) if document.fs_layers.is_some() => {
            Err("Docker schema 1 manifests are not supported".into())
        }
        (None, None) => Err("the manifest lists neither manifests nor layers".into()),
    }
}

/// The index entry for linux/amd64; an index with a single entry of any platform also does.
pub fn pick_platform(entries: &[Descriptor]) -> Option<&Descriptor> {
    entries
        .iter()
        .find(|entry| {
            entry
                .platform
                .as_ref()
                .is_some_and(|p| p.os == "linux" && p.architecture == "amd64")
        })
        .or(match entries {
            [only] => Some(only),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    #[test]
    fn image_manifest_lists_layers() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}",
            "config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":2}},
            "layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":1234}}]}}"#,
            digest('c'),
            digest('l')
        );
        let Manifest::Image { layers } = parse_manifest(body.as_bytes()).unwrap() else {
            panic!("expected an image manifest");
        };
        assert_eq!(layers.len(), 1);
        assert_eq!(layers[0].digest, digest('l'));
        assert_eq!(layers[0].size, 1234);
    }

    #[test]
    fn index_picks_linux_amd64() {
        let body = format!(
            r#"{{"schemaVersion":2,"manifests":[
            {{"digest":"{}","size":1,"platform":{{"architecture":"arm64","os":"linux"}}}},
            {{"digest":"{}","size":1,"platform":{{"architecture":"amd64","os":"linux"}}}},
            {{"digest":"{}","size":1,"platform":{{"architecture":"unknown","os":"unknown"}}}}]}}"#,
            digest('a'),
            digest('b'),
            digest('c')
        );
        let Manifest::Index(entries) = parse_manifest(body.as_bytes()).unwrap() else {
            panic!("expected an index");
        };
        assert_eq!(pick_platform(&entries).unwrap().digest, digest('b'));
    }

    #[test]
    fn single_entry_index_without_platform() {
        let entries = vec![Descriptor {
            media_type: None,
            digest: digest('a'),
            size: 1,
            platform: None,
        }];
        assert_eq!(pick_platform(&entries).unwrap().digest, digest('a'));
    }

    #[test]
    fn index_without_amd64_has_no_pick() {
        let arm = |c| Descriptor {
            media_type: None,
            digest: digest(c),
            size: 1,
            platform: Some(Platform {
                architecture: "arm64".into(),
                os: "linux".into(),
            }),
        };
        assert_eq!(pick_platform(&[arm('a'), arm('b')]), None);
    }

    #[test]
    fn schema1_and_garbage_are_refused() {
        assert!(
            parse_manifest(br#"{"schemaVersion":1,"fsLayers":[]}"#)
                .unwrap_err()
                .contains("schema 1")
        );
        assert!(parse_manifest(b"{}").is_err());
        assert!(parse_manifest(b"<html>").is_err());
    }
}
