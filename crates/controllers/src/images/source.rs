//! Data sources of images and disks, normalized (pure): the three kinds spell their
//! `dataSource` slightly differently; the controllers work on one [`SourceSpec`].

use base64::Engine;
use dvp_api::kinds::common::{
    Checksum, DataSourceContainerImage, DataSourceHttp, DataSourceType, DataSourceUpload,
};
use dvp_api::kinds::{ClusterVirtualImage, VirtualDisk, VirtualImage};
use dvp_importer::Checksums;

/// What a disk or image is filled from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceSpec {
    /// A disk with no data (VirtualDisk without `dataSource`).
    Blank,
    Http {
        url: String,
        checksum: Checksums,
        /// Decoded PEM bundle (`caBundle` is base64 in the spec).
        ca_bundle: Option<Vec<u8>>,
    },
    ContainerImage {
        image: String,
        pull_secret: Option<SecretRef>,
        ca_bundle: Option<Vec<u8>>,
    },
    Upload {
        checksum: Checksums,
    },
    ObjectRef(ObjectRefSpec),
}

/// A Secret by namespace and name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretRef {
    pub namespace: String,
    pub name: String,
}

/// Kinds an `objectRef` may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefKind {
    VirtualImage,
    ClusterVirtualImage,
    VirtualDisk,
    VirtualDiskSnapshot,
}

impl RefKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RefKind::VirtualImage => "VirtualImage",
            RefKind::ClusterVirtualImage => "ClusterVirtualImage",
            RefKind::VirtualDisk => "VirtualDisk",
            RefKind::VirtualDiskSnapshot => "VirtualDiskSnapshot",
        }
    }

    fn parse(text: &str) -> Option<RefKind> {
        [
            RefKind::VirtualImage,
            RefKind::ClusterVirtualImage,
            RefKind::VirtualDisk,
            RefKind::VirtualDiskSnapshot,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// The object a source copies, with the namespace it lives in (`None` for cluster images).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRefSpec {
    pub kind: RefKind,
    pub name: String,
    pub namespace: Option<String>,
}

impl ObjectRefSpec {
    /// `VirtualImage default/ubuntu`, for messages.
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind.as_str(), self.name),
            None => format!("{} {}", self.kind.as_str(), self.name),
        }
    }
}

/// A `dataSource` the controllers cannot work with (admission catches most of these; what is
/// left is said in the object's conditions).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("dataSource type {type_} needs the {block} block")]
    MissingBlock {
        type_: &'static str,
        block: &'static str,
    },
    #[error("{field} is not valid base64-encoded PEM: {reason}")]
    BadCaBundle { field: String, reason: String },
    #[error("{0}")]
    BadChecksum(String),
    #[error("objectRef of kind {kind} needs a namespace")]
    MissingNamespace { kind: &'static str },
    #[error("objectRef kind {0:?} is not supported here")]
    UnsupportedKind(String),
}

impl SourceSpec {
    /// Reads a VirtualImage's source; object references are in the image's namespace.
    pub fn of_image(vi: &VirtualImage, namespace: &str) -> Result<SourceSpec, SourceError> {
        let ds = &vi.spec.data_source;
        namespaced_source(
            &ds.type_,
            ds.http.as_ref(),
            ds.container_image.as_ref(),
            ds.upload.as_ref(),
            ds.object_ref
                .as_ref()
                .map(|r| (r.kind.as_str(), r.name.as_str())),
            namespace,
        )
    }

    /// Reads a ClusterVirtualImage's source; namespaced references carry their namespace.
    pub fn of_cluster_image(cvi: &ClusterVirtualImage) -> Result<SourceSpec, SourceError> {
        let ds = &cvi.spec.data_source;
        match ds.type_ {
            DataSourceType::Http => {
                let http = ds.http.as_ref().ok_or(missing("HTTP", "http"))?;
                http_source(
                    &http.url,
                    http.checksum.as_ref(),
                    http.ca_bundle.as_deref(),
                    "spec.dataSource.http.caBundle",
                )
            }
            DataSourceType::ContainerImage => {
                let ci = ds
                    .container_image
                    .as_ref()
                    .ok_or(missing("ContainerImage", "containerImage"))?;
                let pull_secret = ci.image_pull_secret.as_ref().and_then(|s| {
                    let name = s.name.clone().filter(|n| !n.is_empty())?;
                    Some(SecretRef {
                        namespace: s
                            .namespace
                            .clone()
                            .filter(|n| !n.is_empty())
                            .unwrap_or_else(|| "default".to_string()),
                        name,
                    })
                });
                Ok(SourceSpec::ContainerImage {
                    image: ci.image.clone(),
                    pull_secret,
                    ca_bundle: decode_ca(
                        ci.ca_bundle.as_deref(),
                        "spec.dataSource.containerImage.caBundle",
                    )?,
                })
            }
            DataSourceType::Upload => Ok(SourceSpec::Upload {
                checksum: checksums(ds.upload.as_ref().and_then(|u| u.checksum.as_ref()))?,
            }),
            DataSourceType::ObjectRef => {
                let r = ds
                    .object_ref
                    .as_ref()
                    .ok_or(missing("ObjectRef", "objectRef"))?;
                let kind = RefKind::parse(r.kind.as_str())
                    .ok_or_else(|| SourceError::UnsupportedKind(r.kind.as_str().to_string()))?;
                let namespace = if kind == RefKind::ClusterVirtualImage {
                    None
                } else {
                    Some(r.namespace.clone().filter(|n| !n.is_empty()).ok_or(
                        SourceError::MissingNamespace {
                            kind: kind.as_str(),
                        },
                    )?)
                };
                Ok(SourceSpec::ObjectRef(ObjectRefSpec {
                    kind,
                    name: r.name.clone(),
                    namespace,
                }))
            }
        }
    }

    /// Reads a VirtualDisk's source (no `dataSource`: blank).
    pub fn of_disk(vd: &VirtualDisk, namespace: &str) -> Result<SourceSpec, SourceError> {
        let Some(ds) = &vd.spec.data_source else {
            return Ok(SourceSpec::Blank);
        };
        namespaced_source(
            &ds.type_,
            ds.http.as_ref(),
            ds.container_image.as_ref(),
            ds.upload.as_ref(),
            ds.object_ref
                .as_ref()
                .map(|r| (r.kind.as_str(), r.name.as_str())),
            namespace,
        )
    }

    /// Sources whose bytes come from outside and go through an import into DVCR.
    pub fn is_external(&self) -> bool {
        matches!(
            self,
            SourceSpec::Http { .. } | SourceSpec::ContainerImage { .. } | SourceSpec::Upload { .. }
        )
    }

    /// Short description for events: `HTTP http://…`, `Upload`, `VirtualImage default/x`.
    pub fn describe(&self) -> String {
        match self {
            SourceSpec::Blank => "a blank disk".to_string(),
            SourceSpec::Http { url, .. } => url.clone(),
            SourceSpec::ContainerImage { image, .. } => format!("container image {image}"),
            SourceSpec::Upload { .. } => "an upload".to_string(),
            SourceSpec::ObjectRef(r) => r.describe(),
        }
    }
}

/// The source of a namespaced kind (VirtualImage, VirtualDisk): both spell `dataSource` the same
/// way, and pull secrets and object references live in the object's namespace.
fn namespaced_source(
    type_: &DataSourceType,
    http: Option<&DataSourceHttp>,
    container_image: Option<&DataSourceContainerImage>,
    upload: Option<&DataSourceUpload>,
    object_ref: Option<(&str, &str)>,
    namespace: &str,
) -> Result<SourceSpec, SourceError> {
    match type_ {
        DataSourceType::Http => {
            let http = http.ok_or(missing("HTTP", "http"))?;
            http_source(
                &http.url,
                http.checksum.as_ref(),
                http.ca_bundle.as_deref(),
                "spec.dataSource.http.caBundle",
            )
        }
        DataSourceType::ContainerImage => {
            let ci = container_image.ok_or(missing("ContainerImage", "containerImage"))?;
            Ok(SourceSpec::ContainerImage {
                image: ci.image.clone(),
                pull_secret: ci
                    .image_pull_secret
                    .as_ref()
                    .and_then(|s| s.name.clone())
                    .filter(|n| !n.is_empty())
                    .map(|name| SecretRef {
                        namespace: namespace.to_string(),
                        name,
                    }),
                ca_bundle: decode_ca(
                    ci.ca_bundle.as_deref(),
                    "spec.dataSource.containerImage.caBundle",
                )?,
            })
        }
        DataSourceType::Upload => Ok(SourceSpec::Upload {
            checksum: checksums(upload.and_then(|u| u.checksum.as_ref()))?,
        }),
        DataSourceType::ObjectRef => {
            let (kind, name) = object_ref.ok_or(missing("ObjectRef", "objectRef"))?;
            let kind = RefKind::parse(kind)
                .ok_or_else(|| SourceError::UnsupportedKind(kind.to_string()))?;
            let namespace = (kind != RefKind::ClusterVirtualImage).then(|| namespace.to_string());
            Ok(SourceSpec::ObjectRef(ObjectRefSpec {
                kind,
                name: name.to_string(),
                namespace,
            }))
        }
    }
}

fn missing(type_: &'static str, block: &'static str) -> SourceError {
    SourceError::MissingBlock { type_, block }
}

fn http_source(
    url: &str,
    checksum: Option<&Checksum>,
    ca_bundle: Option<&str>,
    ca_field: &str,
) -> Result<SourceSpec, SourceError> {
    Ok(SourceSpec::Http {
        url: url.to_string(),
        checksum: checksums(checksum)?,
        ca_bundle: decode_ca(ca_bundle, ca_field)?,
    })
}

/// The spec's checksum object as the importer's, validated (hex digits of the right length).
pub fn checksums(checksum: Option<&Checksum>) -> Result<Checksums, SourceError> {
    let Some(c) = checksum else {
        return Ok(Checksums::default());
    };
    let lower = |v: &Option<String>| v.as_ref().map(|s| s.to_ascii_lowercase());
    let out = Checksums {
        md5: lower(&c.md5),
        sha1: lower(&c.sha1),
        sha256: lower(&c.sha256),
        sha512: lower(&c.sha512),
        streebog256: lower(&c.streebog256),
        streebog512: lower(&c.streebog512),
    };
    out.validate()
        .map_err(|e| SourceError::BadChecksum(e.to_string()))?;
    Ok(out)
}

/// Decodes a base64 `caBundle`; empty means none.
pub fn decode_ca(value: Option<&str>, field: &str) -> Result<Option<Vec<u8>>, SourceError> {
    let Some(text) = value.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| SourceError::BadCaBundle {
            field: field.to_string(),
            reason: e.to_string(),
        })?;
    if !String::from_utf8_lossy(&bytes).contains("-----BEGIN CERTIFICATE-----") {
        return Err(SourceError::BadCaBundle {
            field: field.to_string(),
            reason: "it holds no PEM certificate".to_string(),
        });
    }
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vi(ds: serde_json::Value) -> VirtualImage {
        serde_json::from_value(json!({
            "apiVersion": "virtualization.deckhouse.io/v1alpha2", "kind": "VirtualImage",
            "metadata": {"name": "x", "namespace": "ns"},
            "spec": {"storage": "ContainerRegistry", "dataSource": ds}
        }))
        .unwrap()
    }

    fn cvi(ds: serde_json::Value) -> ClusterVirtualImage {
        serde_json::from_value(json!({
            "apiVersion": "virtualization.deckhouse.io/v1alpha2", "kind": "ClusterVirtualImage",
            "metadata": {"name": "x"},
            "spec": {"dataSource": ds}
        }))
        .unwrap()
    }

    fn vd(spec: serde_json::Value) -> VirtualDisk {
        serde_json::from_value(json!({
            "apiVersion": "virtualization.deckhouse.io/v1alpha2", "kind": "VirtualDisk",
            "metadata": {"name": "d", "namespace": "ns"}, "spec": spec
        }))
        .unwrap()
    }

    #[test]
    fn http_source_carries_url_and_lowercased_checksum() {
        let s = SourceSpec::of_image(
            &vi(json!({"type": "HTTP", "http": {"url": "http://h/x.img", "checksum": {"md5": "ABCDEF0123456789ABCDEF0123456789"}}})),
            "ns",
        )
        .unwrap();
        let SourceSpec::Http {
            url,
            checksum,
            ca_bundle,
        } = s
        else {
            panic!("not http")
        };
        assert_eq!(url, "http://h/x.img");
        assert_eq!(
            checksum.md5.as_deref(),
            Some("abcdef0123456789abcdef0123456789")
        );
        assert!(ca_bundle.is_none());
    }

    #[test]
    fn a_short_checksum_is_refused_with_the_expected_length() {
        let e = SourceSpec::of_image(
            &vi(json!({"type": "HTTP", "http": {"url": "http://h/x", "checksum": {"sha256": "abc"}}})),
            "ns",
        )
        .unwrap_err();
        assert!(e.to_string().contains("64"), "{e}");
    }

    #[test]
    fn a_ca_bundle_that_is_not_base64_pem_is_refused() {
        let e = decode_ca(Some("not base64!"), "spec.x.caBundle").unwrap_err();
        assert!(e.to_string().starts_with("spec.x.caBundle"), "{e}");
        let plain = base64::engine::general_purpose::STANDARD.encode("hello");
        let e = decode_ca(Some(&plain), "f").unwrap_err();
        assert!(e.to_string().contains("no PEM certificate"), "{e}");
    }

    #[test]
    fn a_pem_ca_bundle_is_decoded() {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let b64 = base64::engine::general_purpose::STANDARD.encode(pem);
        assert_eq!(decode_ca(Some(&b64), "f").unwrap().unwrap(), pem.as_bytes());
    }

    #[test]
    fn image_pull_secret_lives_in_the_image_namespace() {
        let s = SourceSpec::of_image(
            &vi(json!({"type": "ContainerImage", "containerImage": {"image": "r.io/a:1", "imagePullSecret": {"name": "creds"}}})),
            "ns",
        )
        .unwrap();
        assert_eq!(
            s,
            SourceSpec::ContainerImage {
                image: "r.io/a:1".into(),
                pull_secret: Some(SecretRef {
                    namespace: "ns".into(),
                    name: "creds".into()
                }),
                ca_bundle: None
            }
        );
    }

    #[test]
    fn object_refs_of_a_namespaced_image_stay_in_its_namespace_except_cluster_images() {
        let s = SourceSpec::of_image(
            &vi(json!({"type": "ObjectRef", "objectRef": {"kind": "VirtualDisk", "name": "root"}})),
            "ns",
        )
        .unwrap();
        assert_eq!(
            s,
            SourceSpec::ObjectRef(ObjectRefSpec {
                kind: RefKind::VirtualDisk,
                name: "root".into(),
                namespace: Some("ns".into())
            })
        );
        let s = SourceSpec::of_image(
            &vi(json!({"type": "ObjectRef", "objectRef": {"kind": "ClusterVirtualImage", "name": "u"}})),
            "ns",
        )
        .unwrap();
        assert_eq!(
            s,
            SourceSpec::ObjectRef(ObjectRefSpec {
                kind: RefKind::ClusterVirtualImage,
                name: "u".into(),
                namespace: None
            })
        );
    }

    #[test]
    fn a_cluster_image_from_a_namespaced_object_needs_its_namespace() {
        let e = SourceSpec::of_cluster_image(&cvi(
            json!({"type": "ObjectRef", "objectRef": {"kind": "VirtualImage", "name": "u"}}),
        ))
        .unwrap_err();
        assert_eq!(
            e,
            SourceError::MissingNamespace {
                kind: "VirtualImage"
            }
        );
        let ok = SourceSpec::of_cluster_image(&cvi(
            json!({"type": "ObjectRef", "objectRef": {"kind": "VirtualDisk", "name": "u", "namespace": "prod"}}),
        ))
        .unwrap();
        assert_eq!(
            ok,
            SourceSpec::ObjectRef(ObjectRefSpec {
                kind: RefKind::VirtualDisk,
                name: "u".into(),
                namespace: Some("prod".into())
            })
        );
    }

    #[test]
    fn a_disk_without_a_data_source_is_blank() {
        assert_eq!(
            SourceSpec::of_disk(&vd(json!({"persistentVolumeClaim": {"size": "1Gi"}})), "ns"),
            Ok(SourceSpec::Blank)
        );
    }

    #[test]
    fn a_type_without_its_block_is_reported() {
        let e =
            SourceSpec::of_disk(&vd(json!({"dataSource": {"type": "HTTP"}})), "ns").unwrap_err();
        assert_eq!(e.to_string(), "dataSource type HTTP needs the http block");
    }

    #[test]
    fn upload_and_http_are_external_object_refs_are_not() {
        assert!(
            SourceSpec::Upload {
                checksum: Checksums::default()
            }
            .is_external()
        );
        assert!(
            !SourceSpec::ObjectRef(ObjectRefSpec {
                kind: RefKind::VirtualImage,
                name: "a".into(),
                namespace: None
            })
            .is_external()
        );
        assert!(!SourceSpec::Blank.is_external());
    }
}
