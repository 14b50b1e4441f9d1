//! The StorageClass of a disk or of an image kept on a volume: spec §3 resolution
//! ([`dvp_storage::resolve_storage_class`]) over the module settings and the cluster's classes.

use dvp_api::kinds::module_config::{ModuleConfig, VIRTUALIZATION_MODULE, VirtualizationSettings};
use dvp_storage::AccessMode;
use dvp_storage::classes::{BindingMode, binding_mode, cluster_default_class};
use dvp_storage::objects::preferred_access_mode;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::Api;
use serde::Deserialize;

/// Who asks: the module settings differ for disks and images.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consumer {
    Disk,
    Image,
}

/// The chosen class and what a claim of it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChosenClass {
    pub name: String,
    pub provisioner: String,
    pub binding: BindingMode,
    pub access_mode: AccessMode,
}

/// Chooses the class (pure): `spec` is `spec.persistentVolumeClaim.storageClassName`.
pub fn choose(
    consumer: Consumer,
    spec: Option<&str>,
    settings: Option<&VirtualizationSettings>,
    classes: &[StorageClass],
) -> Result<ChosenClass, String> {
    let (module_default, allowed, forced) = match consumer {
        Consumer::Disk => {
            let d = settings.and_then(|s| s.virtual_disks.as_ref());
            (
                d.and_then(|d| d.default_storage_class_name.clone()),
                d.and_then(|d| d.allowed_storage_class_selector.as_ref())
                    .map(|a| a.match_names.clone())
                    .unwrap_or_default(),
                None,
            )
        }
        Consumer::Image => {
            let i = settings.and_then(|s| s.virtual_images.as_ref());
            (
                i.and_then(|i| i.default_storage_class_name.clone()),
                i.and_then(|i| i.allowed_storage_class_selector.as_ref())
                    .map(|a| a.match_names.clone())
                    .unwrap_or_default(),
                i.and_then(|i| i.storage_class_name.clone()),
            )
        }
    };
    let name = dvp_storage::resolve_storage_class(
        spec,
        module_default.as_deref(),
        &allowed,
        forced.as_deref(),
        cluster_default_class(classes),
    )
    .map_err(|e| match e {
        dvp_storage::ResolveError::NotAllowed { class } => format!(
            "storage class {class:?} is not allowed by the virtualization module settings (allowedStorageClassSelector)"
        ),
        dvp_storage::ResolveError::NotFound => {
            "storage class not found: set spec.persistentVolumeClaim.storageClassName or make a StorageClass the default".to_string()
        }
    })?;
    let class = classes
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some(name.as_str()))
        .ok_or_else(|| format!("storage class {name:?} not found; see kubectl get storageclass"))?;
    Ok(ChosenClass {
        provisioner: class.provisioner.clone(),
        binding: binding_mode(class),
        access_mode: preferred_access_mode(&class.provisioner),
        name,
    })
}

/// Reads the module settings and the classes, then [`choose`]s.
pub async fn resolve(
    client: &kube::Client,
    consumer: Consumer,
    spec: Option<&str>,
) -> Result<Result<ChosenClass, String>, kube::Error> {
    let classes = Api::<StorageClass>::all(client.clone())
        .list(&Default::default())
        .await?
        .items;
    let settings = module_settings(client).await?;
    Ok(choose(consumer, spec, settings.as_ref(), &classes))
}

/// The settings of `ModuleConfig/virtualization`, if it exists and decodes.
pub async fn module_settings(
    client: &kube::Client,
) -> Result<Option<VirtualizationSettings>, kube::Error> {
    let mc = Api::<ModuleConfig>::all(client.clone())
        .get_opt(VIRTUALIZATION_MODULE)
        .await?;
    Ok(mc
        .and_then(|mc| mc.spec.settings)
        .and_then(|s| VirtualizationSettings::deserialize(s).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn classes() -> Vec<StorageClass> {
        dvp_storage::default_storage_classes()
    }

    fn settings(v: serde_json::Value) -> VirtualizationSettings {
        let mut base = json!({"dvcr": {"storage": {"type": "PersistentVolumeClaim", "persistentVolumeClaim": {"size": "50G"}}}});
        base.as_object_mut()
            .unwrap()
            .extend(v.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn without_settings_the_cluster_default_is_used() {
        let c = choose(Consumer::Disk, None, None, &classes()).unwrap();
        assert_eq!(c.name, "shared");
        assert_eq!(c.binding, BindingMode::Immediate);
        assert_eq!(c.access_mode, AccessMode::ReadWriteMany);
    }

    #[test]
    fn a_class_in_the_spec_is_used_with_its_binding_mode() {
        let c = choose(Consumer::Disk, Some("local-wffc"), None, &classes()).unwrap();
        assert_eq!(c.binding, BindingMode::WaitForFirstConsumer);
        assert_eq!(c.access_mode, AccessMode::ReadWriteOnce);
    }

    #[test]
    fn the_module_default_for_disks_wins_over_the_cluster_default() {
        let s = settings(json!({"virtualDisks": {"defaultStorageClassName": "local"}}));
        let c = choose(Consumer::Disk, None, Some(&s), &classes()).unwrap();
        assert_eq!(c.name, "local");
        let c = choose(Consumer::Image, None, Some(&s), &classes()).unwrap();
        assert_eq!(c.name, "shared");
    }

    #[test]
    fn a_class_outside_the_allowed_list_is_refused_with_a_reason() {
        let s = settings(
            json!({"virtualDisks": {"allowedStorageClassSelector": {"matchNames": ["local"]}}}),
        );
        let e = choose(Consumer::Disk, Some("shared"), Some(&s), &classes()).unwrap_err();
        assert!(e.contains("not allowed"), "{e}");
    }

    #[test]
    fn an_unknown_class_is_not_found() {
        let e = choose(Consumer::Disk, Some("fast"), None, &classes()).unwrap_err();
        assert!(e.contains("\"fast\" not found"), "{e}");
    }
}
