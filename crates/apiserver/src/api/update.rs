//! Update (PUT) and patch: optimistic concurrency on resourceVersion, the status subresource split,
//! generation, finalizer-driven deletion, no-op detection, and the four patch formats.

use dvp_api::admission::Operation;
use dvp_apimachinery::duration::now_rfc3339;
use dvp_apimachinery::{FieldError, StatusError, StatusReason, patch};
use dvp_store::{KeyValue, Precondition, StoreError, WriteOp};
use serde_json::{Value, json};

use super::prepare::{self, check_type, invalid};
use super::{Api, WriteOptions, Written, decode, encode, store_error};
use crate::objects;
use crate::resources::{Model, Resource};

/// The body formats of PATCH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/strategic-merge-patch+json` (core kinds only).
    Strategic,
    /// `application/apply-patch+yaml` (server-side apply).
    Apply,
}

/// How many times a patch is re-applied when a concurrent writer wins the race.
const PATCH_ATTEMPTS: usize = 16;

/// Metadata the server owns: carried over from the stored object on every update.
const SYSTEM_METADATA: [&str; 5] = [
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
];

impl Api {
    /// Replace an object (or its status, with `subresource = Some("status")`).
    #[allow(clippy::too_many_arguments)]
    pub async fn update(
        &self,
        res: &Resource,
        version: &str,
        namespace: Option<&str>,
        name: &str,
        obj: Value,
        subresource: Option<&str>,
        opts: &WriteOptions,
    ) -> Result<Written, StatusError> {
        let kv = self.get_stored(res, namespace, name).await?;
        let expected = objects::resource_version(&obj).map(String::from);
        self.update_from(
            res,
            version,
            &kv,
            obj,
            subresource,
            opts,
            expected.as_deref(),
        )
        .await
    }

    /// Patch an object (or its status).
    #[allow(clippy::too_many_arguments)]
    pub async fn patch(
        &self,
        res: &Resource,
        version: &str,
        namespace: Option<&str>,
        name: &str,
        patch_type: PatchType,
        body: &Value,
        subresource: Option<&str>,
        opts: &WriteOptions,
    ) -> Result<Written, StatusError> {
        if patch_type == PatchType::Strategic && res.model == Model::Custom {
            return Err(StatusError::new(
                StatusReason::UnsupportedMediaType,
                "the body of the request was in an unknown format - accepted media types include: \
                 application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            ));
        }
        let manager = opts
            .field_manager
            .clone()
            .unwrap_or_else(|| "unknown".into());
        for _ in 0..PATCH_ATTEMPTS {
            let kv = match self.get_stored(res, namespace, name).await {
                Ok(kv) => kv,
                Err(e) if e.reason == StatusReason::NotFound && patch_type == PatchType::Apply => {
                    return self
                        .apply_create(res, version, namespace, name, body, &manager, opts)
                        .await;
                }
                Err(e) => return Err(e),
            };
            let current = self.present(res, version, decode(&kv)?)?;
            let current_rv = objects::resource_version(&current).map(String::from);
            let mut patched = current.clone();
            let mut write_opts = opts.clone();
            match patch_type {
                PatchType::Merge => patch::merge_patch(&mut patched, body),
                PatchType::Json if !body.is_array() => {
                    return Err(StatusError::bad_request(
                        "a JSON patch must be an array of operations (RFC 6902)",
                    ));
                }
                PatchType::Json => patch::json_patch(&mut patched, body)
                    .map_err(|e| StatusError::new(StatusReason::Invalid, e.to_string()))?,
                PatchType::Strategic => {
                    let Model::Core(kind) = res.model else {
                        unreachable!("checked above")
                    };
                    patch::strategic_merge_patch(
                        &mut patched,
                        body,
                        &patch::core_patch_meta(kind.kind()),
                    )
                    .map_err(|e| StatusError::new(StatusReason::Invalid, e.to_string()))?
                }
                PatchType::Apply => {
                    patched = patch::apply_patch(
                        Some(&current),
                        body,
                        &manager,
                        &res.api_version(version),
                        opts.force,
                        &now_rfc3339(),
                    )
                    .map_err(|c| {
                        StatusError::conflict(&res.group, &res.plural, name, &c.to_string())
                    })?;
                    write_opts.field_manager = None;
                }
            }
            if !patched.is_object() {
                return Err(StatusError::new(
                    StatusReason::Invalid,
                    "the patch must leave an object",
                ));
            }
            // A patch that sets metadata.resourceVersion makes it a precondition; otherwise the
            // patch applies to whatever is current, retried on a lost race.
            let patched_rv = objects::resource_version(&patched).map(String::from);
            let explicit = patched_rv != current_rv;
            let expected = if explicit { patched_rv } else { current_rv };
            match self
                .update_from(
                    res,
                    version,
                    &kv,
                    patched,
                    subresource,
                    &write_opts,
                    expected.as_deref(),
                )
                .await
            {
                Err(e) if e.reason == StatusReason::Conflict && !explicit && is_modified(&e) => {
                    continue;
                }
                other => return other,
            }
        }
        Err(StatusError::modified(&res.group, &res.plural, name))
    }

    #[allow(clippy::too_many_arguments)]
    async fn apply_create(
        &self,
        res: &Resource,
        version: &str,
        namespace: Option<&str>,
        name: &str,
        body: &Value,
        manager: &str,
        opts: &WriteOptions,
    ) -> Result<Written, StatusError> {
        let mut obj = patch::apply_patch(
            None,
            body,
            manager,
            &res.api_version(version),
            opts.force,
            &now_rfc3339(),
        )
        .map_err(|c| StatusError::conflict(&res.group, &res.plural, name, &c.to_string()))?;
        if objects::name(&obj).is_empty() {
            objects::meta_mut(&mut obj).insert("name".into(), json!(name));
        } else if objects::name(&obj) != name {
            return Err(StatusError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                objects::name(&obj)
            )));
        }
        let opts = WriteOptions {
            field_manager: None,
            ..opts.clone()
        };
        self.create(res, version, namespace, obj, &opts).await
    }

    /// The shared update path: `new` (in `version`) replaces the stored `kv`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn update_from(
        &self,
        res: &Resource,
        version: &str,
        kv: &KeyValue,
        mut new: Value,
        subresource: Option<&str>,
        opts: &WriteOptions,
        expected_rv: Option<&str>,
    ) -> Result<Written, StatusError> {
        let current = decode(kv)?;
        let name = objects::name(&current).to_string();
        check_type(res, version, &mut new)?;
        check_identity(res, &current, &new)?;
        if let Some(rv) = expected_rv
            && rv != kv.mod_revision.to_string()
        {
            return Err(StatusError::modified(&res.group, &res.plural, &name));
        }
        let mut warnings = prepare::process(res, version, &mut new, opts.field_validation)?;
        let new = res
            .convert(new, &res.storage_version)
            .map_err(StatusError::internal)?;
        let mut merged = merge_with_current(res, &current, new, subresource);
        check_finalizers(res, &current, &merged)?;
        if res.tracks_generation && objects::spec_part(&merged) != objects::spec_part(&current) {
            let generation = current["metadata"]["generation"].as_i64().unwrap_or(1) + 1;
            objects::meta_mut(&mut merged).insert("generation".into(), json!(generation));
        }
        let admitted = self
            .admit(
                res,
                Operation::Update,
                Some(&mut merged),
                Some(&current),
                subresource,
            )
            .await?;
        warnings.extend(admitted.warnings);
        if unchanged(&current, &merged) {
            let object = self.present(res, version, current)?;
            return Ok(Written {
                object,
                warnings,
                created: false,
            });
        }
        if let Some(manager) = &opts.field_manager {
            patch::record_update(
                Some(&current),
                &mut merged,
                manager,
                &res.api_version(version),
                &now_rfc3339(),
                subresource == Some("status"),
            );
        }
        if opts.dry_run {
            // Nothing is written, so the object keeps its current resourceVersion.
            objects::set_resource_version(&mut merged, kv.mod_revision);
            let object = self.present(res, version, merged)?;
            return Ok(Written {
                object,
                warnings,
                created: false,
            });
        }
        let key = kv.key.clone();
        let precondition = Precondition::ModRevision(kv.mod_revision);
        let op = if objects::is_deleting(&merged) && ready_to_delete(res, &merged) {
            WriteOp::Delete { key, precondition }
        } else {
            WriteOp::Put {
                key,
                value: encode(&merged),
                precondition,
            }
        };
        let written = self.store().write(op).await.map_err(|e| match e {
            StoreError::Conflict { .. } => StatusError::modified(&res.group, &res.plural, &name),
            StoreError::NotFound(_) => StatusError::not_found(&res.group, &res.plural, &name),
            other => store_error(other),
        })?;
        let object = self.present(res, version, decode(&written.kv)?)?;
        Ok(Written {
            object,
            warnings,
            created: false,
        })
    }
}

fn is_modified(e: &StatusError) -> bool {
    e.message.contains("the object has been modified")
}

/// Name, namespace and uid of the body must agree with the stored object.
fn check_identity(res: &Resource, current: &Value, new: &Value) -> Result<(), StatusError> {
    let name = objects::name(current);
    match objects::name(new) {
        "" => {}
        n if n != name => {
            return Err(StatusError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        _ => {}
    }
    if let Some(ns) = objects::namespace(new)
        && res.namespaced
        && Some(ns) != objects::namespace(current)
    {
        return Err(StatusError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let uid = objects::uid(new);
    if !uid.is_empty() && uid != objects::uid(current) {
        return Err(StatusError::conflict(
            &res.group,
            &res.plural,
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                objects::uid(current)
            ),
        ));
    }
    Ok(())
}

/// Apply the status-subresource split and carry over server-owned metadata.
fn merge_with_current(
    res: &Resource,
    current: &Value,
    new: Value,
    subresource: Option<&str>,
) -> Value {
    let mut merged = if subresource == Some("status") {
        let mut m = current.clone();
        let root = m.as_object_mut().expect("object");
        match new.get("status") {
            Some(status) => root.insert("status".into(), status.clone()),
            None => root.remove("status"),
        };
        m
    } else {
        let mut m = new;
        if res.status_subresource {
            let root = m.as_object_mut().expect("object");
            match current.get("status") {
                Some(status) => root.insert("status".into(), status.clone()),
                None => root.remove("status"),
            };
        }
        m
    };
    let meta = objects::meta_mut(&mut merged);
    // managedFields: a client (or server-side apply) may send them; otherwise they carry over.
    if !meta.contains_key("managedFields")
        && let Some(mf) = current["metadata"].get("managedFields")
    {
        meta.insert("managedFields".into(), mf.clone());
    }
    for key in SYSTEM_METADATA {
        match current["metadata"].get(key) {
            Some(v) => meta.insert(key.to_string(), v.clone()),
            None => meta.remove(key),
        };
    }
    meta.insert("name".into(), current["metadata"]["name"].clone());
    match current["metadata"].get("namespace") {
        Some(ns) => meta.insert("namespace".into(), ns.clone()),
        None => meta.remove("namespace"),
    };
    meta.remove("resourceVersion");
    if res.kind == "Service" && res.group.is_empty() {
        keep_service_addresses(current, &mut merged);
    }
    merged
}

/// A Service's cluster IP is immutable; an update that leaves it empty keeps the allocated one.
fn keep_service_addresses(current: &Value, merged: &mut Value) {
    for key in ["clusterIP", "clusterIPs"] {
        let empty = merged["spec"]
            .get(key)
            .is_none_or(|v| v.is_null() || v == "" || v == &json!([]));
        if empty && let Some(old) = current["spec"].get(key) {
            merged["spec"][key] = old.clone();
        }
    }
}

/// While an object is being deleted, finalizers may only be removed.
fn check_finalizers(res: &Resource, current: &Value, merged: &Value) -> Result<(), StatusError> {
    if !objects::is_deleting(current) {
        return Ok(());
    }
    let before = objects::finalizers(current);
    let added: Vec<String> = objects::finalizers(merged)
        .into_iter()
        .filter(|f| !before.contains(f))
        .collect();
    if added.is_empty() {
        return Ok(());
    }
    Err(invalid(
        res,
        merged,
        vec![FieldError::forbidden(
            "metadata.finalizers",
            format!(
                "no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
            ),
        )],
    ))
}

/// A deleting object goes away once nothing holds it: no finalizers (and, for a namespace, no
/// `spec.finalizers`).
pub(crate) fn ready_to_delete(res: &Resource, obj: &Value) -> bool {
    if !objects::finalizers(obj).is_empty() {
        return false;
    }
    if res.kind == "Namespace" {
        let spec_finalizers = obj["spec"]["finalizers"].as_array().map_or(0, |a| a.len());
        return spec_finalizers == 0;
    }
    true
}

/// No-op detection: identical apart from resourceVersion and managed-field bookkeeping.
fn unchanged(current: &Value, merged: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("resourceVersion");
            meta.remove("managedFields");
        }
        v
    };
    strip(current) == strip(merged)
}
