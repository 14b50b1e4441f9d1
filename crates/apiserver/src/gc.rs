//! The garbage collector: owner references with background and foreground cascading deletion and
//! orphaning.
//!
//! It follows every change in the store and keeps an index of objects (uid → key, owners). The
//! decisions are a pure function ([`plan`]) of the index and one object; the executor carries them
//! out through [`Api`], so every deletion obeys the same rules (finalizers, admission) as kubectl's.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use dvp_apimachinery::{StatusError, StatusReason};
use dvp_store::EventKind;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::api::{
    Api, DeleteOptions, FOREGROUND_FINALIZER, ORPHAN_FINALIZER, PatchType, Propagation,
    WriteOptions,
};
use crate::objects;

/// One owner reference of an indexed object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerRef {
    pub uid: String,
    pub kind: String,
    pub name: String,
}

/// What the collector knows about one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub key: String,
    pub uid: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub owners: Vec<OwnerRef>,
    pub deleting: bool,
    pub finalizers: Vec<String>,
}

/// Just the parts of a stored object the collector needs; serde skips the rest without building it.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct Stored {
    kind: String,
    metadata: StoredMeta,
}

#[derive(serde::Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct StoredMeta {
    name: String,
    namespace: Option<String>,
    uid: String,
    deletion_timestamp: Option<String>,
    finalizers: Vec<String>,
    owner_references: Vec<StoredOwner>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct StoredOwner {
    uid: String,
    kind: String,
    name: String,
}

impl Node {
    /// Index a stored object from its JSON bytes.
    pub fn from_bytes(key: &str, bytes: &[u8]) -> Result<Node, StatusError> {
        let s: Stored = serde_json::from_slice(bytes)
            .map_err(|e| StatusError::internal(format!("stored object {key} is corrupt: {e}")))?;
        Ok(Node {
            key: key.to_string(),
            uid: s.metadata.uid,
            kind: s.kind,
            namespace: s.metadata.namespace.filter(|n| !n.is_empty()),
            name: s.metadata.name,
            owners: s
                .metadata
                .owner_references
                .into_iter()
                .map(|o| OwnerRef {
                    uid: o.uid,
                    kind: o.kind,
                    name: o.name,
                })
                .collect(),
            deleting: s.metadata.deletion_timestamp.is_some(),
            finalizers: s.metadata.finalizers,
        })
    }
}

/// The object graph.
#[derive(Debug, Default)]
pub struct Graph {
    by_uid: HashMap<String, Node>,
    uid_by_key: HashMap<String, String>,
    dependents: HashMap<String, HashSet<String>>,
}

impl Graph {
    pub fn upsert(&mut self, node: Node) {
        self.remove_key(&node.key);
        for o in &node.owners {
            self.dependents
                .entry(o.uid.clone())
                .or_default()
                .insert(node.uid.clone());
        }
        self.uid_by_key.insert(node.key.clone(), node.uid.clone());
        self.by_uid.insert(node.uid.clone(), node);
    }

    pub fn remove_key(&mut self, key: &str) -> Option<Node> {
        let uid = self.uid_by_key.remove(key)?;
        let node = self.by_uid.remove(&uid)?;
        for o in &node.owners {
            if let Some(set) = self.dependents.get_mut(&o.uid) {
                set.remove(&node.uid);
                if set.is_empty() {
                    self.dependents.remove(&o.uid);
                }
            }
        }
        Some(node)
    }

    pub fn get(&self, uid: &str) -> Option<&Node> {
        self.by_uid.get(uid)
    }

    pub fn dependents_of(&self, uid: &str) -> Vec<&Node> {
        self.dependents
            .get(uid)
            .map(|set| set.iter().filter_map(|d| self.by_uid.get(d)).collect())
            .unwrap_or_default()
    }
}

/// One thing the collector must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Delete a dependent whose owners are all gone (or being deleted in the foreground).
    Delete {
        uid: String,
        propagation: Propagation,
    },
    /// Drop the ownerReferences to `owner` from a dependent (orphaning).
    RemoveOwnerRef { uid: String, owner: String },
    /// Remove a finalizer the collector is responsible for.
    RemoveFinalizer {
        uid: String,
        finalizer: &'static str,
    },
}

/// What to do about the object `uid`, given the graph.
pub fn plan(graph: &Graph, uid: &str) -> Vec<Action> {
    let Some(node) = graph.get(uid) else {
        return vec![];
    };
    let mut actions = Vec::new();
    if node.deleting && node.finalizers.iter().any(|f| f == ORPHAN_FINALIZER) {
        for d in graph.dependents_of(uid) {
            actions.push(Action::RemoveOwnerRef {
                uid: d.uid.clone(),
                owner: uid.to_string(),
            });
        }
        actions.push(Action::RemoveFinalizer {
            uid: uid.to_string(),
            finalizer: ORPHAN_FINALIZER,
        });
        return actions;
    }
    if node.deleting && node.finalizers.iter().any(|f| f == FOREGROUND_FINALIZER) {
        let dependents = graph.dependents_of(uid);
        if dependents.is_empty() {
            actions.push(Action::RemoveFinalizer {
                uid: uid.to_string(),
                finalizer: FOREGROUND_FINALIZER,
            });
        }
        for d in dependents.into_iter().filter(|d| !d.deleting) {
            actions.push(Action::Delete {
                uid: d.uid.clone(),
                propagation: Propagation::Foreground,
            });
        }
        return actions;
    }
    // A dependent goes when none of its owners remains.
    if !node.owners.is_empty()
        && !node.deleting
        && node.owners.iter().all(|o| graph.get(&o.uid).is_none())
    {
        actions.push(Action::Delete {
            uid: uid.to_string(),
            propagation: Propagation::Background,
        });
    }
    actions
}

/// Run the collector until the store closes. Restarts its watch on errors.
pub async fn run(api: Api) {
    loop {
        if let Err(e) = run_once(&api).await {
            tracing::warn!(error = %e, "garbage collector restarting");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn run_once(api: &Api) -> Result<(), StatusError> {
    let listed = api
        .store()
        .list("/registry/")
        .await
        .map_err(crate::api::store_error)?;
    let mut graph = Graph::default();
    for kv in &listed.items {
        graph.upsert(Node::from_bytes(&kv.key, &kv.value)?);
    }
    let all: Vec<String> = graph.by_uid.keys().cloned().collect();
    for uid in all {
        execute(api, &graph, plan(&graph, &uid)).await;
    }
    let mut events = api
        .store()
        .watch("/registry/", listed.revision)
        .await
        .map_err(crate::api::store_error)?;
    while let Some(ev) = events.next().await {
        let ev = ev.map_err(crate::api::store_error)?;
        let mut affected = Vec::new();
        match ev.kind {
            EventKind::Put => {
                let node = Node::from_bytes(&ev.kv.key, &ev.kv.value)?;
                affected.push(node.uid.clone());
                affected.extend(node.owners.iter().map(|o| o.uid.clone()));
                graph.upsert(node);
            }
            EventKind::Delete => {
                if let Some(node) = graph.remove_key(&ev.kv.key) {
                    affected.extend(graph.dependents_of(&node.uid).iter().map(|d| d.uid.clone()));
                    // An owner waiting in the foreground may now be free to go.
                    affected.extend(node.owners.iter().map(|o| o.uid.clone()));
                }
            }
        }
        for uid in affected {
            execute(api, &graph, plan(&graph, &uid)).await;
        }
    }
    Ok(())
}

/// Resolve the indexed object `uid` to its resource.
fn locate<'a>(
    api: &Api,
    graph: &'a Graph,
    uid: &str,
) -> Option<(std::sync::Arc<crate::resources::Resource>, &'a Node)> {
    let node = graph.get(uid)?;
    let res = api.registry().by_kind(&node.kind)?.clone();
    Some((res, node))
}

async fn execute(api: &Api, graph: &Graph, actions: Vec<Action>) {
    for action in actions {
        if let Err(e) = execute_one(api, graph, &action).await
            && !matches!(e.reason, StatusReason::NotFound | StatusReason::Conflict)
        {
            tracing::warn!(?action, error = %e, "garbage collector action failed");
        }
    }
}

/// Merge-patch the object `uid` with what `make` derives from its current state, guarded by that
/// state's resourceVersion (a concurrent change makes the patch fail; the next event retries).
async fn patch_current(
    api: &Api,
    graph: &Graph,
    uid: &str,
    make: impl FnOnce(&Value) -> Value,
) -> Result<(), StatusError> {
    let Some((res, node)) = locate(api, graph, uid) else {
        return Ok(());
    };
    let version = res.storage_version.clone();
    let ns = node.namespace.as_deref();
    let current = api.get(&res, &version, ns, &node.name).await?;
    let mut patch = make(&current);
    patch["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
    let opts = WriteOptions {
        field_manager: Some("generic-garbage-collector".into()),
        ..Default::default()
    };
    api.patch(
        &res,
        &version,
        ns,
        &node.name,
        PatchType::Merge,
        &patch,
        None,
        &opts,
    )
    .await?;
    Ok(())
}

async fn execute_one(api: &Api, graph: &Graph, action: &Action) -> Result<(), StatusError> {
    match action {
        Action::Delete { uid, propagation } => {
            let Some((res, node)) = locate(api, graph, uid) else {
                return Ok(());
            };
            let options = DeleteOptions {
                propagation_policy: Some(*propagation),
                preconditions: Some(crate::api::Preconditions {
                    uid: Some(uid.clone()),
                    resource_version: None,
                }),
                ..Default::default()
            };
            let version = res.storage_version.clone();
            api.delete(
                &res,
                &version,
                node.namespace.as_deref(),
                &node.name,
                &options,
            )
            .await?;
        }
        Action::RemoveOwnerRef { uid, owner } => {
            patch_current(api, graph, uid, |current| {
                let refs: Vec<Value> = current["metadata"]["ownerReferences"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter(|r| r["uid"] != owner.as_str())
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                let refs = if refs.is_empty() {
                    Value::Null
                } else {
                    Value::Array(refs)
                };
                json!({"metadata": {"ownerReferences": refs}})
            })
            .await?;
        }
        Action::RemoveFinalizer { uid, finalizer } => {
            patch_current(api, graph, uid, |current| {
                let remaining: Vec<String> = objects::finalizers(current)
                    .into_iter()
                    .filter(|f| f != finalizer)
                    .collect();
                json!({"metadata": {"finalizers": remaining}})
            })
            .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(uid: &str, owners: &[&str], deleting: bool, finalizers: &[&str]) -> Node {
        Node {
            key: format!("/registry/x/{uid}"),
            uid: uid.into(),
            kind: "ConfigMap".into(),
            namespace: Some("default".into()),
            name: uid.into(),
            owners: owners
                .iter()
                .map(|o| OwnerRef {
                    uid: o.to_string(),
                    kind: "ConfigMap".into(),
                    name: o.to_string(),
                })
                .collect(),
            deleting,
            finalizers: finalizers.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn dependent_of_a_missing_owner_is_deleted_in_background() {
        let mut g = Graph::default();
        g.upsert(node("child", &["gone"], false, &[]));
        assert_eq!(
            plan(&g, "child"),
            vec![Action::Delete {
                uid: "child".into(),
                propagation: Propagation::Background
            }]
        );
    }

    #[test]
    fn dependent_with_one_live_owner_stays() {
        let mut g = Graph::default();
        g.upsert(node("owner", &[], false, &[]));
        g.upsert(node("child", &["gone", "owner"], false, &[]));
        assert!(plan(&g, "child").is_empty());
    }

    #[test]
    fn foreground_owner_deletes_dependents_first_then_its_finalizer() {
        let mut g = Graph::default();
        g.upsert(node("owner", &[], true, &[FOREGROUND_FINALIZER]));
        g.upsert(node("child", &["owner"], false, &[]));
        assert_eq!(
            plan(&g, "owner"),
            vec![Action::Delete {
                uid: "child".into(),
                propagation: Propagation::Foreground
            }]
        );
        g.remove_key("/registry/x/child");
        assert_eq!(
            plan(&g, "owner"),
            vec![Action::RemoveFinalizer {
                uid: "owner".into(),
                finalizer: FOREGROUND_FINALIZER
            }]
        );
    }

    #[test]
    fn orphaning_owner_releases_dependents_then_its_finalizer() {
        let mut g = Graph::default();
        g.upsert(node("owner", &[], true, &[ORPHAN_FINALIZER]));
        g.upsert(node("child", &["owner"], false, &[]));
        assert_eq!(
            plan(&g, "owner"),
            vec![
                Action::RemoveOwnerRef {
                    uid: "child".into(),
                    owner: "owner".into()
                },
                Action::RemoveFinalizer {
                    uid: "owner".into(),
                    finalizer: ORPHAN_FINALIZER
                },
            ]
        );
    }

    #[test]
    fn objects_without_owners_are_left_alone() {
        let mut g = Graph::default();
        g.upsert(node("solo", &[], false, &[]));
        assert!(plan(&g, "solo").is_empty());
    }
}
