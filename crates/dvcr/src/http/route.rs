//! Parsing `/v2/…` paths (pure). Repository names contain slashes, so the operation is found
//! from the end of the path: `…/manifests/<ref>`, `…/blobs/<digest>`, `…/blobs/uploads/[<id>]`,
//! `…/tags/list`.

/// What a `/v2` path addresses. Names are not validated here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/v2/`: the API version check.
    Base,
    /// `/v2/_catalog`.
    Catalog,
    Tags {
        name: String,
    },
    Manifest {
        name: String,
        reference: String,
    },
    Blob {
        name: String,
        digest: String,
    },
    UploadStart {
        name: String,
    },
    Upload {
        name: String,
        id: String,
    },
}

/// The route of a request path, or `None` when it is not a registry path.
pub(crate) fn parse(path: &str) -> Option<Route> {
    let rest = path.strip_prefix("/v2")?;
    if rest.is_empty() || rest == "/" {
        return Some(Route::Base);
    }
    let rest = rest.strip_prefix('/')?;
    if rest == "_catalog" {
        return Some(Route::Catalog);
    }
    let segments: Vec<String> = rest.split('/').map(percent_decode).collect::<Option<_>>()?;
    let n = segments.len();
    if n < 3 {
        return None;
    }
    let seg = |i: usize| segments[i].as_str();
    let name_before = |end: usize| -> Option<String> {
        let name = segments[..end].join("/");
        (!name.is_empty()).then_some(name)
    };
    let (last, second_last) = (seg(n - 1), seg(n - 2));
    if second_last == "uploads" && seg(n - 3) == "blobs" && last.is_empty() {
        return Some(Route::UploadStart {
            name: name_before(n - 3)?,
        });
    }
    if last.is_empty() {
        return None;
    }
    match second_last {
        "tags" if last == "list" => Some(Route::Tags {
            name: name_before(n - 2)?,
        }),
        "manifests" => Some(Route::Manifest {
            name: name_before(n - 2)?,
            reference: last.to_string(),
        }),
        "blobs" if last == "uploads" => Some(Route::UploadStart {
            name: name_before(n - 2)?,
        }),
        "blobs" => Some(Route::Blob {
            name: name_before(n - 2)?,
            digest: last.to_string(),
        }),
        "uploads" if n >= 4 && seg(n - 3) == "blobs" => Some(Route::Upload {
            name: name_before(n - 3)?,
            id: last.to_string(),
        }),
        _ => None,
    }
}

/// Decodes `%XX` escapes (clients may send `sha256%3A…`); `None` for a malformed escape or
/// non-UTF-8 result.
fn percent_decode(segment: &str) -> Option<String> {
    if !segment.contains('%') {
        return Some(segment.to_string());
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(name: &str, reference: &str) -> Option<Route> {
        Some(Route::Manifest {
            name: name.into(),
            reference: reference.into(),
        })
    }

    #[test]
    fn base_and_catalog() {
        assert_eq!(parse("/v2"), Some(Route::Base));
        assert_eq!(parse("/v2/"), Some(Route::Base));
        assert_eq!(parse("/v2/_catalog"), Some(Route::Catalog));
    }

    #[test]
    fn names_with_slashes_are_kept_whole() {
        assert_eq!(
            parse("/v2/vi/default/tiny/manifests/v1"),
            manifest("vi/default/tiny", "v1")
        );
        assert_eq!(
            parse("/v2/vi/default/tiny/tags/list"),
            Some(Route::Tags {
                name: "vi/default/tiny".into()
            })
        );
    }

    #[test]
    fn a_namespace_called_like_an_operation_does_not_confuse_parsing() {
        assert_eq!(
            parse("/v2/vi/manifests/x/manifests/1"),
            manifest("vi/manifests/x", "1")
        );
        assert_eq!(
            parse("/v2/vi/blobs/x/blobs/sha256:ab"),
            Some(Route::Blob {
                name: "vi/blobs/x".into(),
                digest: "sha256:ab".into()
            })
        );
    }

    #[test]
    fn upload_paths_with_and_without_trailing_slash() {
        let start = Some(Route::UploadStart {
            name: "cvi/a".into(),
        });
        assert_eq!(parse("/v2/cvi/a/blobs/uploads/"), start);
        assert_eq!(parse("/v2/cvi/a/blobs/uploads"), start);
        assert_eq!(
            parse("/v2/cvi/a/blobs/uploads/0123abcd"),
            Some(Route::Upload {
                name: "cvi/a".into(),
                id: "0123abcd".into()
            })
        );
    }

    #[test]
    fn escaped_digest_is_decoded() {
        assert_eq!(
            parse("/v2/a/blobs/sha256%3Aab"),
            Some(Route::Blob {
                name: "a".into(),
                digest: "sha256:ab".into()
            })
        );
        assert_eq!(parse("/v2/a/blobs/sha256%3"), None);
    }

    #[test]
    fn non_registry_paths_are_not_claimed() {
        for path in [
            "/v21/x",
            "/api/v1",
            "/v2/a",
            "/v2/a/manifests/",
            "/v2/manifests/x",
            "/v2/a/other/x",
        ] {
            assert_eq!(parse(path), None, "{path}");
        }
    }
}
