//! Which StorageClass a VirtualDisk or VirtualImage gets (spec §3): the class in its spec, the
//! module's default class, the module's allowed list and the cluster's default class.

/// Why no class could be chosen. The texts are the ones the platform reports.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The chosen class is neither in the allowed list nor the module default.
    #[error("storage class not allowed")]
    NotAllowed { class: String },
    /// Nothing names a class and the cluster has no default class.
    #[error("storage class not found")]
    NotFound,
}

fn given(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

/// Chooses the StorageClass of a disk or image.
///
/// * `spec_value`: `spec.persistentVolumeClaim.storageClassName`;
/// * `module_default`: `virtualDisks|virtualImages.defaultStorageClassName`;
/// * `allowed_match_names`: `…allowedStorageClassSelector.matchNames`;
/// * `deprecated_forced`: `virtualImages.storageClassName` (pass `None` for disks);
/// * `cluster_default`: the class annotated `storageclass.kubernetes.io/is-default-class`.
///
/// Empty strings count as unset. Whether the chosen class exists is for the caller to check.
pub fn resolve_storage_class(
    spec_value: Option<&str>,
    module_default: Option<&str>,
    allowed_match_names: &[String],
    deprecated_forced: Option<&str>,
    cluster_default: Option<&str>,
) -> Result<String, ResolveError> {
    let spec_value = given(spec_value);
    let module_default = given(module_default);
    let cluster_default = given(cluster_default);
    let allowed =
        |name: &str| allowed_match_names.iter().any(|n| n == name) || module_default == Some(name);

    // 1. The module constrains nothing: the spec decides (or the legacy forced class does).
    if module_default.is_none() && allowed_match_names.is_empty() {
        if let Some(forced) = given(deprecated_forced) {
            return match spec_value {
                None => Ok(forced.to_string()),
                Some(name) if name == forced => Ok(forced.to_string()),
                Some(name) => Err(ResolveError::NotAllowed {
                    class: name.to_string(),
                }),
            };
        }
        return spec_value
            .or(cluster_default)
            .map(str::to_string)
            .ok_or(ResolveError::NotFound);
    }
    // 2. A class in the spec must be allowed.
    if let Some(name) = spec_value {
        return if allowed(name) {
            Ok(name.to_string())
        } else {
            Err(ResolveError::NotAllowed {
                class: name.to_string(),
            })
        };
    }
    // 3. The module's default.
    if let Some(name) = module_default {
        return Ok(name.to_string());
    }
    // 4. The cluster's default, if allowed.
    if let Some(name) = cluster_default {
        return if allowed_match_names.iter().any(|n| n == name) {
            Ok(name.to_string())
        } else {
            Err(ResolveError::NotAllowed {
                class: name.to_string(),
            })
        };
    }
    // 5. Nothing to go by.
    Err(ResolveError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn not_allowed(class: &str) -> Result<String, ResolveError> {
        Err(ResolveError::NotAllowed {
            class: class.to_string(),
        })
    }

    #[test]
    fn without_module_settings_the_spec_value_is_used_as_is() {
        let r = resolve_storage_class(Some("local"), None, &[], None, Some("shared"));
        assert_eq!(r, Ok("local".into()));
    }

    #[test]
    fn without_module_settings_an_empty_spec_takes_the_cluster_default() {
        let r = resolve_storage_class(None, None, &[], None, Some("shared"));
        assert_eq!(r, Ok("shared".into()));
        let r = resolve_storage_class(Some(""), Some(""), &[], None, Some("shared"));
        assert_eq!(r, Ok("shared".into()));
    }

    #[test]
    fn without_module_settings_or_cluster_default_nothing_is_found() {
        let r = resolve_storage_class(None, None, &[], None, None);
        assert_eq!(r, Err(ResolveError::NotFound));
        assert_eq!(r.unwrap_err().to_string(), "storage class not found");
    }

    #[test]
    fn a_spec_value_in_the_allowed_list_is_used() {
        let r = resolve_storage_class(Some("b"), None, &names(&["a", "b"]), None, None);
        assert_eq!(r, Ok("b".into()));
    }

    #[test]
    fn a_spec_value_equal_to_the_module_default_is_used() {
        let r = resolve_storage_class(Some("d"), Some("d"), &names(&["a"]), None, None);
        assert_eq!(r, Ok("d".into()));
    }

    #[test]
    fn a_spec_value_outside_the_allowed_list_is_not_allowed() {
        let r = resolve_storage_class(Some("x"), None, &names(&["a"]), None, Some("x"));
        assert_eq!(r, not_allowed("x"));
        assert_eq!(r.unwrap_err().to_string(), "storage class not allowed");
    }

    #[test]
    fn a_spec_value_other_than_the_module_default_is_not_allowed_without_a_list() {
        let r = resolve_storage_class(Some("x"), Some("d"), &[], None, None);
        assert_eq!(r, not_allowed("x"));
    }

    #[test]
    fn an_empty_spec_takes_the_module_default() {
        let r = resolve_storage_class(None, Some("d"), &names(&["a"]), None, Some("a"));
        assert_eq!(r, Ok("d".into()));
    }

    #[test]
    fn an_empty_spec_takes_the_cluster_default_when_it_is_allowed() {
        let r = resolve_storage_class(None, None, &names(&["a", "c"]), None, Some("c"));
        assert_eq!(r, Ok("c".into()));
    }

    #[test]
    fn a_cluster_default_outside_the_allowed_list_is_not_allowed() {
        let r = resolve_storage_class(None, None, &names(&["a"]), None, Some("c"));
        assert_eq!(r, not_allowed("c"));
    }

    #[test]
    fn with_a_list_but_no_default_anywhere_nothing_is_found() {
        let r = resolve_storage_class(None, None, &names(&["a"]), None, None);
        assert_eq!(r, Err(ResolveError::NotFound));
    }

    #[test]
    fn the_deprecated_forced_class_is_used_when_the_spec_is_empty() {
        let r = resolve_storage_class(None, None, &[], Some("legacy"), Some("shared"));
        assert_eq!(r, Ok("legacy".into()));
    }

    #[test]
    fn the_deprecated_forced_class_accepts_a_spec_naming_it() {
        let r = resolve_storage_class(Some("legacy"), None, &[], Some("legacy"), None);
        assert_eq!(r, Ok("legacy".into()));
    }

    #[test]
    fn the_deprecated_forced_class_refuses_any_other_spec_value() {
        let r = resolve_storage_class(Some("shared"), None, &[], Some("legacy"), None);
        assert_eq!(r, not_allowed("shared"));
    }

    #[test]
    fn the_deprecated_forced_class_is_ignored_once_the_module_sets_a_default() {
        let r = resolve_storage_class(None, Some("d"), &[], Some("legacy"), None);
        assert_eq!(r, Ok("d".into()));
    }
}
