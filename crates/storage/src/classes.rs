//! The StorageClasses a fresh platform starts with, and facts read off StorageClass objects.

use std::collections::BTreeMap;

use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::names::{
    CLASS_LOCAL, CLASS_LOCAL_WFFC, CLASS_SHARED, CLASS_SHARED_WFFC, DEFAULT_CLASS_ANNOTATION,
    LOCAL_PROVISIONER, SHARED_PROVISIONER,
};

/// When a claim of a class gets its volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingMode {
    /// As soon as the claim exists.
    Immediate,
    /// Once a consumer is placed on a node (`volume.kubernetes.io/selected-node`).
    WaitForFirstConsumer,
}

impl BindingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            BindingMode::Immediate => "Immediate",
            BindingMode::WaitForFirstConsumer => "WaitForFirstConsumer",
        }
    }
}

/// The class's binding mode; absent means Immediate (the API server's default).
pub fn binding_mode(class: &StorageClass) -> BindingMode {
    match class.volume_binding_mode.as_deref() {
        Some("WaitForFirstConsumer") => BindingMode::WaitForFirstConsumer,
        _ => BindingMode::Immediate,
    }
}

/// Whether the class's volumes are deleted with their claim (`Delete`, the default) or kept.
pub fn deletes_volumes(class_reclaim_policy: Option<&str>) -> bool {
    class_reclaim_policy != Some("Retain")
}

/// Whether `provisioner` is one of the platform's own.
pub fn is_our_provisioner(provisioner: &str) -> bool {
    provisioner == LOCAL_PROVISIONER || provisioner == SHARED_PROVISIONER
}

/// Whether the class carries the default-class annotation.
pub fn is_default_class(class: &StorageClass) -> bool {
    class
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
        .is_some_and(|v| v == "true")
}

/// The cluster's default class. With several marked default, the newest wins (as Kubernetes
/// picks since 1.26), ties broken by name.
pub fn cluster_default_class(classes: &[StorageClass]) -> Option<&str> {
    classes
        .iter()
        .filter(|c| is_default_class(c))
        .max_by(|a, b| {
            let created = |c: &StorageClass| c.metadata.creation_timestamp.clone().map(|t| t.0);
            created(a)
                .cmp(&created(b))
                .then_with(|| b.metadata.name.cmp(&a.metadata.name))
        })
        .and_then(|c| c.metadata.name.as_deref())
}

fn class(name: &str, provisioner: &str, mode: BindingMode, default: bool) -> StorageClass {
    let annotations = default
        .then(|| BTreeMap::from([(DEFAULT_CLASS_ANNOTATION.to_string(), "true".to_string())]));
    StorageClass {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            annotations,
            ..ObjectMeta::default()
        },
        provisioner: provisioner.to_string(),
        reclaim_policy: Some("Delete".to_string()),
        volume_binding_mode: Some(mode.as_str().to_string()),
        allow_volume_expansion: Some(true),
        ..StorageClass::default()
    }
}

/// The classes created at first start: `local`, `local-wffc`, `shared` (the default) and
/// `shared-wffc`; all expandable, volumes deleted with their claims.
pub fn default_storage_classes() -> Vec<StorageClass> {
    use BindingMode::{Immediate, WaitForFirstConsumer};
    vec![
        class(CLASS_LOCAL, LOCAL_PROVISIONER, Immediate, false),
        class(
            CLASS_LOCAL_WFFC,
            LOCAL_PROVISIONER,
            WaitForFirstConsumer,
            false,
        ),
        class(CLASS_SHARED, SHARED_PROVISIONER, Immediate, true),
        class(
            CLASS_SHARED_WFFC,
            SHARED_PROVISIONER,
            WaitForFirstConsumer,
            false,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    #[test]
    fn first_start_classes_are_the_four_of_the_design() {
        let classes = default_storage_classes();
        let rows: Vec<(String, &str, BindingMode)> = classes
            .iter()
            .map(|c| {
                (
                    c.metadata.name.clone().unwrap(),
                    c.provisioner.as_str(),
                    binding_mode(c),
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                ("local".into(), LOCAL_PROVISIONER, BindingMode::Immediate),
                (
                    "local-wffc".into(),
                    LOCAL_PROVISIONER,
                    BindingMode::WaitForFirstConsumer
                ),
                ("shared".into(), SHARED_PROVISIONER, BindingMode::Immediate),
                (
                    "shared-wffc".into(),
                    SHARED_PROVISIONER,
                    BindingMode::WaitForFirstConsumer
                ),
            ]
        );
        for c in &classes {
            assert_eq!(c.reclaim_policy.as_deref(), Some("Delete"));
            assert_eq!(c.allow_volume_expansion, Some(true));
        }
    }

    #[test]
    fn only_shared_is_the_default() {
        let classes = default_storage_classes();
        let defaults: Vec<_> = classes
            .iter()
            .filter(|c| is_default_class(c))
            .map(|c| c.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(defaults, vec!["shared".to_string()]);
        assert_eq!(cluster_default_class(&classes), Some("shared"));
    }

    #[test]
    fn the_newest_of_several_default_classes_wins() {
        let mut a = class("a", SHARED_PROVISIONER, BindingMode::Immediate, true);
        let mut b = class("b", SHARED_PROVISIONER, BindingMode::Immediate, true);
        a.metadata.creation_timestamp = Some(Time(
            k8s_openapi::jiff::Timestamp::from_second(2000).unwrap(),
        ));
        b.metadata.creation_timestamp = Some(Time(
            k8s_openapi::jiff::Timestamp::from_second(1000).unwrap(),
        ));
        assert_eq!(cluster_default_class(&[a, b]), Some("a"));
    }

    #[test]
    fn no_annotated_class_means_no_default() {
        let c = class("x", LOCAL_PROVISIONER, BindingMode::Immediate, false);
        assert_eq!(cluster_default_class(&[c]), None);
    }

    #[test]
    fn an_unset_binding_mode_is_immediate() {
        let mut c = class(
            "x",
            LOCAL_PROVISIONER,
            BindingMode::WaitForFirstConsumer,
            false,
        );
        c.volume_binding_mode = None;
        assert_eq!(binding_mode(&c), BindingMode::Immediate);
    }

    #[test]
    fn foreign_provisioners_are_not_ours() {
        assert!(is_our_provisioner(LOCAL_PROVISIONER));
        assert!(!is_our_provisioner("replicated.csi.storage.deckhouse.io"));
    }
}
