//! What fills a new volume, as said by the claim's annotations (`storage.dvp.io/source`,
//! `…/source-path`, `…/source-format`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::names::{SOURCE_ANNOTATION, SOURCE_FORMAT_ANNOTATION, SOURCE_PATH_ANNOTATION};

/// Format of a source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceFormat {
    Qcow2,
    Raw,
}

impl SourceFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceFormat::Qcow2 => "qcow2",
            SourceFormat::Raw => "raw",
        }
    }
}

impl fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a new volume gets its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VolumeSource {
    /// An empty disk of the requested size.
    Blank,
    /// A copy-on-write overlay on `path` (instant whatever the sizes; `path` must stay).
    Backing { path: PathBuf, format: SourceFormat },
    /// A full, independent copy of `path`.
    Copy { path: PathBuf, format: SourceFormat },
}

/// Annotations that do not describe a source.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("annotation {SOURCE_ANNOTATION} is {0:?}; use \"blank\", \"backing\" or \"copy\"")]
    UnknownKind(String),
    #[error(
        "annotation {SOURCE_ANNOTATION}: {kind} needs {SOURCE_PATH_ANNOTATION} (the absolute path of the file to start from)"
    )]
    MissingPath { kind: &'static str },
    #[error("annotation {SOURCE_PATH_ANNOTATION} must be an absolute path, not {0:?}")]
    RelativePath(String),
    #[error(
        "annotation {SOURCE_ANNOTATION}: {kind} needs {SOURCE_FORMAT_ANNOTATION} (\"qcow2\" or \"raw\")"
    )]
    MissingFormat { kind: &'static str },
    #[error("annotation {SOURCE_FORMAT_ANNOTATION} is {0:?}; use \"qcow2\" or \"raw\"")]
    UnknownFormat(String),
}

impl VolumeSource {
    /// Reads the source from a claim's annotations; no `storage.dvp.io/source` means blank.
    pub fn from_annotations(
        annotations: Option<&BTreeMap<String, String>>,
    ) -> Result<VolumeSource, SourceError> {
        let get = |key: &str| {
            annotations
                .and_then(|a| a.get(key))
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        let kind: &'static str = match get(SOURCE_ANNOTATION).unwrap_or("blank") {
            "blank" => return Ok(VolumeSource::Blank),
            "backing" => "backing",
            "copy" => "copy",
            other => return Err(SourceError::UnknownKind(other.to_string())),
        };
        let path = get(SOURCE_PATH_ANNOTATION).ok_or(SourceError::MissingPath { kind })?;
        let path = PathBuf::from(path);
        if !path.is_absolute() {
            return Err(SourceError::RelativePath(path.display().to_string()));
        }
        let format = match get(SOURCE_FORMAT_ANNOTATION) {
            None => return Err(SourceError::MissingFormat { kind }),
            Some("qcow2") => SourceFormat::Qcow2,
            Some("raw") => SourceFormat::Raw,
            Some(other) => return Err(SourceError::UnknownFormat(other.to_string())),
        };
        Ok(match kind {
            "backing" => VolumeSource::Backing { path, format },
            _ => VolumeSource::Copy { path, format },
        })
    }

    /// The annotations that make a claim carry this source.
    pub fn to_annotations(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let (kind, file) = match self {
            VolumeSource::Blank => ("blank", None),
            VolumeSource::Backing { path, format } => ("backing", Some((path, format))),
            VolumeSource::Copy { path, format } => ("copy", Some((path, format))),
        };
        out.insert(SOURCE_ANNOTATION.to_string(), kind.to_string());
        if let Some((path, format)) = file {
            out.insert(
                SOURCE_PATH_ANNOTATION.to_string(),
                path.display().to_string(),
            );
            out.insert(
                SOURCE_FORMAT_ANNOTATION.to_string(),
                format.as_str().to_string(),
            );
        }
        out
    }

    /// The file the volume starts from, if any.
    pub fn file(&self) -> Option<(&PathBuf, SourceFormat)> {
        match self {
            VolumeSource::Blank => None,
            VolumeSource::Backing { path, format } | VolumeSource::Copy { path, format } => {
                Some((path, *format))
            }
        }
    }

    /// `blank`, `backing` or `copy`.
    pub fn kind(&self) -> &'static str {
        match self {
            VolumeSource::Blank => "blank",
            VolumeSource::Backing { .. } => "backing",
            VolumeSource::Copy { .. } => "copy",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn no_annotations_mean_blank() {
        assert_eq!(
            VolumeSource::from_annotations(None),
            Ok(VolumeSource::Blank)
        );
        let a = ann(&[("other", "x")]);
        assert_eq!(
            VolumeSource::from_annotations(Some(&a)),
            Ok(VolumeSource::Blank)
        );
    }

    #[test]
    fn backing_reads_path_and_format() {
        let a = ann(&[
            (SOURCE_ANNOTATION, "backing"),
            (SOURCE_PATH_ANNOTATION, "/data/dvcr/blobs/sha256/ab"),
            (SOURCE_FORMAT_ANNOTATION, "qcow2"),
        ]);
        assert_eq!(
            VolumeSource::from_annotations(Some(&a)),
            Ok(VolumeSource::Backing {
                path: "/data/dvcr/blobs/sha256/ab".into(),
                format: SourceFormat::Qcow2
            })
        );
    }

    #[test]
    fn copy_reads_path_and_format() {
        let a = ann(&[
            (SOURCE_ANNOTATION, "copy"),
            (SOURCE_PATH_ANNOTATION, "/x.img"),
            (SOURCE_FORMAT_ANNOTATION, "raw"),
        ]);
        assert_eq!(
            VolumeSource::from_annotations(Some(&a)),
            Ok(VolumeSource::Copy {
                path: "/x.img".into(),
                format: SourceFormat::Raw
            })
        );
    }

    #[test]
    fn an_unknown_kind_is_refused() {
        let a = ann(&[(SOURCE_ANNOTATION, "clone")]);
        let e = VolumeSource::from_annotations(Some(&a)).unwrap_err();
        assert_eq!(e, SourceError::UnknownKind("clone".into()));
        assert!(e.to_string().contains("\"blank\", \"backing\" or \"copy\""));
    }

    #[test]
    fn backing_without_a_path_is_refused() {
        let a = ann(&[
            (SOURCE_ANNOTATION, "backing"),
            (SOURCE_FORMAT_ANNOTATION, "qcow2"),
        ]);
        assert_eq!(
            VolumeSource::from_annotations(Some(&a)),
            Err(SourceError::MissingPath { kind: "backing" })
        );
    }

    #[test]
    fn a_relative_path_is_refused() {
        let a = ann(&[
            (SOURCE_ANNOTATION, "copy"),
            (SOURCE_PATH_ANNOTATION, "disk.img"),
            (SOURCE_FORMAT_ANNOTATION, "raw"),
        ]);
        assert_eq!(
            VolumeSource::from_annotations(Some(&a)),
            Err(SourceError::RelativePath("disk.img".into()))
        );
    }

    #[test]
    fn a_missing_format_is_refused() {
        let a = ann(&[(SOURCE_ANNOTATION, "copy"), (SOURCE_PATH_ANNOTATION, "/a")]);
        assert_eq!(
            VolumeSource::from_annotations(Some(&a)),
            Err(SourceError::MissingFormat { kind: "copy" })
        );
    }

    #[test]
    fn an_unknown_format_is_refused() {
        let a = ann(&[
            (SOURCE_ANNOTATION, "backing"),
            (SOURCE_PATH_ANNOTATION, "/a"),
            (SOURCE_FORMAT_ANNOTATION, "vmdk"),
        ]);
        assert_eq!(
            VolumeSource::from_annotations(Some(&a)),
            Err(SourceError::UnknownFormat("vmdk".into()))
        );
    }

    #[test]
    fn annotations_round_trip() {
        for source in [
            VolumeSource::Blank,
            VolumeSource::Backing {
                path: "/a/b".into(),
                format: SourceFormat::Raw,
            },
            VolumeSource::Copy {
                path: "/c".into(),
                format: SourceFormat::Qcow2,
            },
        ] {
            let a = source.to_annotations();
            assert_eq!(VolumeSource::from_annotations(Some(&a)), Ok(source));
        }
    }
}
