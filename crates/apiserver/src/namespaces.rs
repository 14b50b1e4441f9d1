//! The namespace controller: a namespace marked for deletion is emptied (every namespaced object in
//! it deleted through the API), then its `kubernetes` finalizer is removed and it goes away.

use std::time::Duration;

use dvp_apimachinery::StatusError;
use serde_json::json;

use crate::api::{Api, DeleteOptions, ListOptions, PatchType, WriteOptions};
use crate::objects;

const NAMESPACE_FINALIZER: &str = "kubernetes";
const POLL: Duration = Duration::from_millis(500);

/// Run until the process ends.
pub async fn run(api: Api) {
    loop {
        if let Err(e) = sweep(&api).await {
            tracing::warn!(error = %e, "namespace controller sweep failed");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// One pass over namespaces being deleted.
async fn sweep(api: &Api) -> Result<(), StatusError> {
    let ns_res = api.resource_for_kind("Namespace")?;
    let (namespaces, _) = api
        .list_stored(&ns_res, None, &ListOptions::default())
        .await?;
    for ns in namespaces.iter().filter(|n| objects::is_deleting(n)) {
        let name = objects::name(ns).to_string();
        if empty_namespace(api, &name).await? {
            let finalizers: Vec<String> = ns["spec"]["finalizers"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|f| f.as_str())
                        .filter(|f| *f != NAMESPACE_FINALIZER)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            let patch = json!({"spec": {"finalizers": finalizers}});
            let opts = WriteOptions {
                field_manager: Some("namespace-controller".into()),
                ..Default::default()
            };
            api.patch(
                &ns_res,
                "v1",
                None,
                &name,
                PatchType::Merge,
                &patch,
                Some("finalize"),
                &opts,
            )
            .await?;
        }
    }
    Ok(())
}

/// Delete what is left in `namespace`; true once nothing is left.
async fn empty_namespace(api: &Api, namespace: &str) -> Result<bool, StatusError> {
    let mut empty = true;
    for res in api.registry().all().iter().filter(|r| r.namespaced) {
        let (items, _) = api
            .list_stored(res, Some(namespace), &ListOptions::default())
            .await?;
        if items.is_empty() {
            continue;
        }
        empty = false;
        for item in items.iter().filter(|i| !objects::is_deleting(i)) {
            let version = res.storage_version.clone();
            let _ = api
                .delete(
                    res,
                    &version,
                    Some(namespace),
                    objects::name(item),
                    &DeleteOptions::default(),
                )
                .await;
        }
    }
    Ok(empty)
}
