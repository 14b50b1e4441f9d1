//! Delete: preconditions, admission, finalizers (graceful deletion via `deletionTimestamp`) and the
//! propagation policies that the garbage collector then carries out.

use dvp_api::admission::Operation;
use dvp_apimachinery::duration::now_rfc3339;
use dvp_apimachinery::{StatusError, StatusReason};
use dvp_store::{Precondition, StoreError, WriteOp};
use serde::Deserialize;
use serde_json::{Value, json};

use super::update::ready_to_delete;
use super::{Api, ListOptions, decode, encode, store_error};
use crate::objects;
use crate::resources::Resource;

/// The finalizer that makes the garbage collector orphan dependents before the owner goes.
pub const ORPHAN_FINALIZER: &str = "orphan";
/// The finalizer that makes the garbage collector delete dependents before the owner goes.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";

/// Namespaces the system needs; the real API server refuses to delete them too.
const PROTECTED_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-public"];

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum Propagation {
    Orphan,
    #[default]
    Background,
    Foreground,
}

/// `metav1.DeleteOptions`, the fields the server honours.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOptions {
    pub propagation_policy: Option<Propagation>,
    /// Deprecated form of `propagationPolicy: Orphan`.
    pub orphan_dependents: Option<bool>,
    pub preconditions: Option<Preconditions>,
    pub grace_period_seconds: Option<i64>,
    #[serde(default)]
    pub dry_run: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preconditions {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

impl DeleteOptions {
    pub fn propagation(&self) -> Propagation {
        match (self.propagation_policy, self.orphan_dependents) {
            (Some(p), _) => p,
            (None, Some(true)) => Propagation::Orphan,
            _ => Propagation::Background,
        }
    }
    pub fn is_dry_run(&self) -> bool {
        self.dry_run.iter().any(|d| d == "All")
    }
}

/// What a delete did.
#[derive(Clone, Debug)]
pub enum DeleteOutcome {
    /// The object is gone; its final state (HTTP 200).
    Deleted(Value),
    /// The object is marked for deletion and waits for finalizers (HTTP 202).
    Pending(Value),
}

impl DeleteOutcome {
    pub fn object(&self) -> &Value {
        match self {
            DeleteOutcome::Deleted(o) | DeleteOutcome::Pending(o) => o,
        }
    }
}

impl Api {
    pub async fn delete(
        &self,
        res: &Resource,
        version: &str,
        namespace: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<DeleteOutcome, StatusError> {
        loop {
            let kv = self.get_stored(res, namespace, name).await?;
            let current = decode(&kv)?;
            check_preconditions(res, &current, opts)?;
            if res.kind == "Namespace"
                && res.group.is_empty()
                && PROTECTED_NAMESPACES.contains(&name)
            {
                return Err(StatusError::new(
                    StatusReason::Forbidden,
                    format!(
                        "namespaces \"{name}\" is forbidden: this namespace may not be deleted"
                    ),
                ));
            }
            if !objects::is_deleting(&current) {
                self.admit(res, Operation::Delete, None, Some(&current), None)
                    .await?;
            }
            let mut marked = current.clone();
            let mut finalizers = objects::finalizers(&marked);
            match opts.propagation() {
                Propagation::Orphan => add_once(&mut finalizers, ORPHAN_FINALIZER),
                Propagation::Foreground => add_once(&mut finalizers, FOREGROUND_FINALIZER),
                Propagation::Background => {}
            }
            objects::set_finalizers(&mut marked, &finalizers);
            let graceful = !ready_to_delete(res, &marked);
            if opts.is_dry_run() {
                let object = self.present(res, version, marked)?;
                return Ok(if graceful {
                    DeleteOutcome::Pending(object)
                } else {
                    DeleteOutcome::Deleted(object)
                });
            }
            let precondition = Precondition::ModRevision(kv.mod_revision);
            let op = if graceful {
                if objects::is_deleting(&current) && marked == current {
                    // Already being deleted and nothing new to record.
                    return Ok(DeleteOutcome::Pending(self.present(res, version, current)?));
                }
                let meta = objects::meta_mut(&mut marked);
                meta.entry("deletionTimestamp")
                    .or_insert_with(|| json!(now_rfc3339()));
                meta.entry("deletionGracePeriodSeconds").or_insert(json!(0));
                if res.kind == "Namespace" {
                    marked["status"]["phase"] = json!("Terminating");
                }
                WriteOp::Put {
                    key: kv.key.clone(),
                    value: encode(&marked),
                    precondition,
                }
            } else {
                WriteOp::Delete {
                    key: kv.key.clone(),
                    precondition,
                }
            };
            match self.store().write(op).await {
                Ok(written) => {
                    let object = self.present(res, version, decode(&written.kv)?)?;
                    return Ok(if graceful {
                        DeleteOutcome::Pending(object)
                    } else {
                        DeleteOutcome::Deleted(object)
                    });
                }
                // Someone changed the object between our read and write: decide again.
                Err(StoreError::Conflict { .. }) => continue,
                Err(StoreError::NotFound(_)) => {
                    return Err(StatusError::not_found(&res.group, &res.plural, name));
                }
                Err(e) => return Err(store_error(e)),
            }
        }
    }

    /// Delete every object of `res` in `namespace` matching `list_opts`.
    pub async fn delete_collection(
        &self,
        res: &Resource,
        version: &str,
        namespace: Option<&str>,
        list_opts: &ListOptions,
        opts: &DeleteOptions,
    ) -> Result<Vec<Value>, StatusError> {
        let (items, _) = self.list_stored(res, namespace, list_opts).await?;
        let mut deleted = Vec::new();
        for item in items {
            match self
                .delete(
                    res,
                    version,
                    objects::namespace(&item),
                    objects::name(&item),
                    opts,
                )
                .await
            {
                Ok(outcome) => deleted.push(outcome.object().clone()),
                Err(e) if e.reason == StatusReason::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }
}

fn add_once(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|f| f == item) {
        list.push(item.to_string());
    }
}

fn check_preconditions(
    res: &Resource,
    current: &Value,
    opts: &DeleteOptions,
) -> Result<(), StatusError> {
    let Some(pre) = &opts.preconditions else {
        return Ok(());
    };
    let name = objects::name(current);
    if let Some(uid) = &pre.uid
        && uid != objects::uid(current)
    {
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
    if let Some(rv) = &pre.resource_version
        && Some(rv.as_str()) != objects::resource_version(current)
    {
        return Err(StatusError::conflict(
            &res.group,
            &res.plural,
            name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                objects::resource_version(current).unwrap_or("")
            ),
        ));
    }
    Ok(())
}
