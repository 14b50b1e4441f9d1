//! The StorageClasses of a fresh platform, created once: the fact that a class was created is
//! recorded in the ConfigMap `d8-virtualization/module-state`, so a class an admin deleted is not
//! brought back on the next start.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams, PostParams};

const STATE_NAMESPACE: &str = "d8-virtualization";
const STATE_CONFIGMAP: &str = "module-state";

/// The key recording that class `name` was created.
pub fn marker(name: &str) -> String {
    format!("storageclass-{name}")
}

/// The first-start classes not yet recorded as created.
pub fn pending_classes(recorded: Option<&BTreeMap<String, String>>) -> Vec<StorageClass> {
    dvp_storage::default_storage_classes()
        .into_iter()
        .filter(|class| {
            let name = class.metadata.name.as_deref().unwrap_or_default();
            !recorded.is_some_and(|r| r.contains_key(&marker(name)))
        })
        .collect()
}

async fn state(client: &kube::Client) -> Result<ConfigMap, kube::Error> {
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), STATE_NAMESPACE);
    if let Some(existing) = maps.get_opt(STATE_CONFIGMAP).await? {
        return Ok(existing);
    }
    let fresh = ConfigMap {
        metadata: ObjectMeta {
            name: Some(STATE_CONFIGMAP.to_string()),
            namespace: Some(STATE_NAMESPACE.to_string()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    match maps.create(&PostParams::default(), &fresh).await {
        Ok(created) => Ok(created),
        Err(e) if super::is_conflict(&e) => maps.get(STATE_CONFIGMAP).await,
        Err(e) => Err(e),
    }
}

async fn try_ensure(client: &kube::Client) -> Result<(), kube::Error> {
    let recorded = state(client).await?.data;
    let classes: Api<StorageClass> = Api::all(client.clone());
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), STATE_NAMESPACE);
    for class in pending_classes(recorded.as_ref()) {
        let name = class.metadata.name.clone().unwrap_or_default();
        match classes.create(&PostParams::default(), &class).await {
            Ok(_) => tracing::info!(class = %name, "created StorageClass"),
            Err(e) if super::is_conflict(&e) => {}
            Err(e) => return Err(e),
        }
        let patch = serde_json::json!({"data": {marker(&name): "created"}});
        maps.patch(
            STATE_CONFIGMAP,
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
    }
    Ok(())
}

/// Creates the first-start classes that were never created, retrying until the API accepts.
pub async fn ensure_storage_classes(client: &kube::Client) {
    let mut delay = Duration::from_millis(200);
    loop {
        match try_ensure(client).await {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(%error, "could not create the first-start StorageClasses; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(classes: &[StorageClass]) -> Vec<String> {
        classes
            .iter()
            .map(|c| c.metadata.name.clone().unwrap())
            .collect()
    }

    #[test]
    fn a_fresh_platform_gets_all_four_classes() {
        assert_eq!(
            names(&pending_classes(None)),
            vec!["local", "local-wffc", "shared", "shared-wffc"]
        );
    }

    #[test]
    fn a_recorded_class_is_not_created_again() {
        let recorded = BTreeMap::from([
            (marker("shared"), "created".to_string()),
            ("vmclass-generic".to_string(), "created".to_string()),
        ]);
        assert_eq!(
            names(&pending_classes(Some(&recorded))),
            vec!["local", "local-wffc", "shared-wffc"]
        );
    }
}
