//! Objects a fresh platform starts with: the standard namespaces, the `virtualization` module
//! configuration and the `generic` and `host` VirtualMachineClasses. Defaults that a user may delete
//! are created once only; the record of what was created lives in the ConfigMap
//! `d8-virtualization/module-state` (the real module keeps the same fact in a Secret).

use dvp_apimachinery::{StatusError, StatusReason};
use serde_json::{Value, json};

use crate::api::{Api, PatchType, WriteOptions};

pub const SYSTEM_NAMESPACE: &str = "d8-virtualization";
const STATE_CONFIGMAP: &str = "module-state";
const NAMESPACES: [&str; 5] = [
    "default",
    "kube-system",
    "kube-public",
    "kube-node-lease",
    SYSTEM_NAMESPACE,
];

fn opts() -> WriteOptions {
    WriteOptions {
        field_manager: Some("dvpd-bootstrap".into()),
        ..Default::default()
    }
}

/// Create `obj` unless it exists; true if it was created.
async fn ensure(api: &Api, obj: Value) -> Result<bool, StatusError> {
    let kind = obj["kind"].as_str().unwrap_or_default().to_string();
    let res = api.resource_for_kind(&kind)?;
    let version = obj["apiVersion"]
        .as_str()
        .and_then(|v| v.rsplit('/').next())
        .unwrap_or("v1")
        .to_string();
    let ns = obj["metadata"]["namespace"].as_str().map(String::from);
    match api
        .create(&res, &version, ns.as_deref(), obj, &opts())
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if e.reason == StatusReason::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Create the defaults a first start needs; idempotent across restarts.
pub async fn run(api: &Api) -> Result<(), StatusError> {
    for ns in NAMESPACES {
        ensure(
            api,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        )
        .await?;
    }
    ensure(
        api,
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": STATE_CONFIGMAP, "namespace": SYSTEM_NAMESPACE}, "data": {}}),
    )
    .await?;
    let once: [(&str, Value); 3] = [
        (
            "moduleconfig-virtualization",
            dvp_api::admission::default_module_config(),
        ),
        (
            "vmclass-generic",
            dvp_api::admission::default_vmclass_generic(),
        ),
        ("vmclass-host", dvp_api::admission::default_vmclass_host()),
    ];
    let cm_res = api.resource_for_kind("ConfigMap")?;
    for (marker, obj) in once {
        let state = api
            .get(&cm_res, "v1", Some(SYSTEM_NAMESPACE), STATE_CONFIGMAP)
            .await?;
        if state["data"].get(marker).is_some() {
            continue;
        }
        ensure(api, obj).await?;
        let patch = json!({"data": {marker: "created"}});
        api.patch(
            &cm_res,
            "v1",
            Some(SYSTEM_NAMESPACE),
            STATE_CONFIGMAP,
            PatchType::Merge,
            &patch,
            None,
            &opts(),
        )
        .await?;
    }
    Ok(())
}
