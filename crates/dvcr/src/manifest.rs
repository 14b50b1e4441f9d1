//! Manifest parsing and validation (pure): which media types DVCR accepts and which blobs and
//! child manifests a manifest references.

use serde::Deserialize;
use serde_json::Value;

use crate::digest::Digest;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// The largest manifest accepted (the same limit as Docker's registry).
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

/// Media types DVCR stores manifests of, in the order they are advertised.
pub const SUPPORTED_MANIFEST_TYPES: [&str; 4] = [
    OCI_MANIFEST,
    OCI_INDEX,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
];

/// A content descriptor: what a manifest says about one blob or child manifest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
}

/// What a manifest refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestContent {
    /// An image: a config blob and layer blobs.
    Image {
        config: Descriptor,
        layers: Vec<Descriptor>,
    },
    /// An index (manifest list): child manifests, which must be in the same repository.
    Index { manifests: Vec<Descriptor> },
}

impl ManifestContent {
    /// The blobs this manifest needs (config and layers; none for an index).
    pub fn blobs(&self) -> Vec<&Descriptor> {
        match self {
            ManifestContent::Image { config, layers } => {
                std::iter::once(config).chain(layers).collect()
            }
            ManifestContent::Index { .. } => Vec::new(),
        }
    }

    /// The child manifests this manifest needs (none for an image).
    pub fn children(&self) -> &[Descriptor] {
        match self {
            ManifestContent::Index { manifests } => manifests,
            ManifestContent::Image { .. } => &[],
        }
    }
}

/// A manifest that parsed and passed the structural checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedManifest {
    pub media_type: String,
    pub content: ManifestContent,
}

/// Why a manifest is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest is {0} bytes, more than the 4 MiB limit")]
    TooLarge(usize),
    #[error("manifest is not a JSON object: {0}")]
    NotJson(String),
    #[error("manifest schemaVersion must be 2")]
    SchemaVersion,
    #[error(
        "manifest media type {0:?} is not supported: push an OCI image manifest or index, or a Docker schema 2 manifest or manifest list"
    )]
    UnsupportedMediaType(String),
    #[error("manifest declares mediaType {body:?} but was sent as {header:?}")]
    MediaTypeMismatch { header: String, body: String },
    #[error("manifest is missing its media type: send it as Content-Type or in a mediaType field")]
    MissingMediaType,
    #[error("manifest field {field} is invalid: {reason}")]
    Field { field: String, reason: String },
}

/// Parses and checks a manifest. `declared` is the Content-Type it was sent with, if any
/// (a generic `application/json` or an empty value counts as none).
pub fn parse_manifest(
    bytes: &[u8],
    declared: Option<&str>,
) -> Result<ParsedManifest, ManifestError> {
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(ManifestError::TooLarge(bytes.len()));
    }
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| ManifestError::NotJson(e.to_string()))?;
    let Value::Object(object) = &value else {
        return Err(ManifestError::NotJson(
            "the top level is not an object".into(),
        ));
    };
    if object.get("schemaVersion").and_then(Value::as_u64) != Some(2) {
        return Err(ManifestError::SchemaVersion);
    }
    let media_type = resolve_media_type(object, declared)?;
    let content = if media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST {
        ManifestContent::Index {
            manifests: descriptors(object.get("manifests"), "manifests")?,
        }
    } else {
        let config = match object.get("config") {
            Some(config) => descriptor(config, "config")?,
            None => return Err(field_error("config", "required")),
        };
        ManifestContent::Image {
            config,
            layers: descriptors(object.get("layers"), "layers")?,
        }
    };
    Ok(ParsedManifest {
        media_type,
        content,
    })
}

fn resolve_media_type(
    object: &serde_json::Map<String, Value>,
    declared: Option<&str>,
) -> Result<String, ManifestError> {
    let header = declared
        .map(|h| h.split(';').next().unwrap_or_default().trim())
        .filter(|h| !h.is_empty() && *h != "application/json");
    let body = match object.get("mediaType") {
        None => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err(field_error("mediaType", "must be a string")),
    };
    let media_type = match (header, body) {
        (Some(header), Some(body)) if header != body => {
            return Err(ManifestError::MediaTypeMismatch {
                header: header.to_string(),
                body: body.to_string(),
            });
        }
        (Some(t), _) | (None, Some(t)) => t.to_string(),
        // OCI allows omitting mediaType; the shape tells an index from an image.
        (None, None) if object.contains_key("manifests") => OCI_INDEX.to_string(),
        (None, None) if object.contains_key("config") => OCI_MANIFEST.to_string(),
        (None, None) => return Err(ManifestError::MissingMediaType),
    };
    if !SUPPORTED_MANIFEST_TYPES.contains(&media_type.as_str()) {
        return Err(ManifestError::UnsupportedMediaType(media_type));
    }
    Ok(media_type)
}

fn descriptors(value: Option<&Value>, field: &str) -> Result<Vec<Descriptor>, ManifestError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| descriptor(item, &format!("{field}[{i}]")))
            .collect(),
        Some(_) => Err(field_error(field, "must be an array")),
    }
}

fn descriptor(value: &Value, field: &str) -> Result<Descriptor, ManifestError> {
    Descriptor::deserialize(value).map_err(|e| field_error(field, &e.to_string()))
}

fn field_error(field: &str, reason: &str) -> ManifestError {
    ManifestError::Field {
        field: field.to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn digest(s: &str) -> Digest {
        Digest::of_bytes(s.as_bytes())
    }

    fn image(media_type: Option<&str>) -> Vec<u8> {
        let mut m = json!({
            "schemaVersion": 2,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": digest("c").to_string(), "size": 1},
            "layers": [{"mediaType": "application/vnd.dvp.disk.qcow2",
                        "digest": digest("l").to_string(), "size": 2}],
        });
        if let Some(t) = media_type {
            m["mediaType"] = json!(t);
        }
        serde_json::to_vec(&m).unwrap()
    }

    #[test]
    fn image_manifest_lists_config_and_layers_as_blobs() {
        let parsed = parse_manifest(&image(Some(OCI_MANIFEST)), Some(OCI_MANIFEST)).unwrap();
        let blobs: Vec<_> = parsed
            .content
            .blobs()
            .iter()
            .map(|d| d.digest.clone())
            .collect();
        assert_eq!(blobs, vec![digest("c"), digest("l")]);
        assert!(parsed.content.children().is_empty());
    }

    #[test]
    fn media_type_comes_from_the_body_when_content_type_is_generic() {
        let parsed =
            parse_manifest(&image(Some(DOCKER_MANIFEST)), Some("application/json")).unwrap();
        assert_eq!(parsed.media_type, DOCKER_MANIFEST);
    }

    #[test]
    fn oci_manifest_without_any_media_type_is_recognised_by_shape() {
        let parsed = parse_manifest(&image(None), None).unwrap();
        assert_eq!(parsed.media_type, OCI_MANIFEST);
    }

    #[test]
    fn header_and_body_media_types_must_agree() {
        let err = parse_manifest(&image(Some(OCI_MANIFEST)), Some(DOCKER_MANIFEST)).unwrap_err();
        assert!(matches!(err, ManifestError::MediaTypeMismatch { .. }));
    }

    #[test]
    fn schema1_manifests_are_refused() {
        let err = parse_manifest(
            &image(None),
            Some("application/vnd.docker.distribution.manifest.v1+prettyjws"),
        )
        .unwrap_err();
        assert!(matches!(err, ManifestError::UnsupportedMediaType(_)));
    }

    #[test]
    fn image_manifest_without_config_is_refused() {
        let body = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []});
        let err = parse_manifest(&serde_json::to_vec(&body).unwrap(), None).unwrap_err();
        assert_eq!(err, field_error("config", "required"));
    }

    #[test]
    fn descriptor_with_bad_digest_names_the_field() {
        let body = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "x", "digest": "md5:00", "size": 1}});
        let err = parse_manifest(&serde_json::to_vec(&body).unwrap(), None).unwrap_err();
        assert!(
            matches!(err, ManifestError::Field { ref field, .. } if field == "config"),
            "{err}"
        );
    }

    #[test]
    fn index_lists_children_and_no_blobs() {
        let body = json!({"schemaVersion": 2, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": digest("m").to_string(), "size": 3}]});
        let parsed = parse_manifest(&serde_json::to_vec(&body).unwrap(), None).unwrap();
        assert_eq!(parsed.media_type, OCI_INDEX);
        assert_eq!(parsed.content.children()[0].digest, digest("m"));
        assert!(parsed.content.blobs().is_empty());
    }

    #[test]
    fn wrong_schema_version_and_non_json_are_refused() {
        assert_eq!(
            parse_manifest(br#"{"schemaVersion":1}"#, None),
            Err(ManifestError::SchemaVersion)
        );
        assert!(matches!(
            parse_manifest(b"[]", None),
            Err(ManifestError::NotJson(_))
        ));
        assert!(matches!(
            parse_manifest(b"{", None),
            Err(ManifestError::NotJson(_))
        ));
    }

    #[test]
    fn oversized_manifests_are_refused_before_parsing() {
        let big = vec![b' '; MAX_MANIFEST_BYTES + 1];
        assert_eq!(
            parse_manifest(&big, None),
            Err(ManifestError::TooLarge(MAX_MANIFEST_BYTES + 1))
        );
    }
}
