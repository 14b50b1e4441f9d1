//! The API itself, independent of HTTP: get, list, create, update, patch, delete and watch with
//! Kubernetes semantics (resourceVersion concurrency, generation, status subresource, finalizers,
//! admission, dry-run, versions). The HTTP handlers are thin wrappers around [`Api`], and in-process
//! controllers call the same methods, so nothing ever goes around these rules.

mod admission;
mod create;
mod delete;
mod list;
pub(crate) mod prepare;
mod services;
mod update;
mod watch;

use std::sync::Arc;

use dvp_apimachinery::StatusError;
use dvp_store::{KeyValue, Store, StoreError};
use serde_json::Value;

use crate::objects;
use crate::resources::{Registry, Resource};

pub use delete::{
    DeleteOptions, DeleteOutcome, FOREGROUND_FINALIZER, ORPHAN_FINALIZER, Preconditions,
    Propagation,
};
pub use list::{ListOptions, Listed};
pub use update::PatchType;
pub use watch::{WatchEvent, WatchEventType, WatchOptions, WatchStream};

/// How unknown fields in a request body are treated (`fieldValidation` query parameter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldValidation {
    #[default]
    Strict,
    Warn,
    Ignore,
}

/// Options shared by every write.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_manager: Option<String>,
    pub field_validation: FieldValidation,
    /// For server-side apply: take over conflicting fields.
    pub force: bool,
}

/// The result of a write: the object as stored (in the requested version) and any warnings.
#[derive(Clone, Debug)]
pub struct Written {
    pub object: Value,
    pub warnings: Vec<String>,
    /// True when the write created the object (HTTP 201).
    pub created: bool,
}

struct Inner {
    store: Arc<dyn Store>,
    registry: Registry,
    /// Serializes Service creates so two never take the same cluster IP or node port.
    service_allocation: tokio::sync::Mutex<()>,
}

/// A cheap, cloneable handle on the API.
#[derive(Clone)]
pub struct Api {
    inner: Arc<Inner>,
}

impl Api {
    pub fn new(store: Arc<dyn Store>, registry: Registry) -> Self {
        Api {
            inner: Arc::new(Inner {
                store,
                registry,
                service_allocation: tokio::sync::Mutex::new(()),
            }),
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The resource serving `kind` (unique across served groups).
    pub fn resource_for_kind(&self, kind: &str) -> Result<Arc<Resource>, StatusError> {
        self.registry()
            .by_kind(kind)
            .cloned()
            .ok_or_else(|| StatusError::bad_request(format!("no resource serves kind {kind:?}")))
    }

    /// Read one object in `version`.
    pub async fn get(
        &self,
        res: &Resource,
        version: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, StatusError> {
        let kv = self.get_stored(res, namespace, name).await?;
        self.present(res, version, decode(&kv)?)
    }

    /// Read one object as stored (storage version), with its revision.
    pub(crate) async fn get_stored(
        &self,
        res: &Resource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<KeyValue, StatusError> {
        self.store()
            .get(&res.key(namespace, name))
            .await
            .map_err(store_error)?
            .ok_or_else(|| StatusError::not_found(&res.group, &res.plural, name))
    }

    /// Convert a stored object to the version a client asked for.
    pub(crate) fn present(
        &self,
        res: &Resource,
        version: &str,
        obj: Value,
    ) -> Result<Value, StatusError> {
        res.convert(obj, version).map_err(StatusError::internal)
    }
}

/// Decode a stored object, stamping its resourceVersion from the store revision.
pub fn decode(kv: &KeyValue) -> Result<Value, StatusError> {
    let mut obj: Value = serde_json::from_slice(&kv.value)
        .map_err(|e| StatusError::internal(format!("stored object {} is corrupt: {e}", kv.key)))?;
    objects::set_resource_version(&mut obj, kv.mod_revision);
    Ok(obj)
}

/// Encode an object for storage (resourceVersion is derived from the store, not stored).
pub(crate) fn encode(obj: &Value) -> bytes::Bytes {
    let mut obj = obj.clone();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
    }
    bytes::Bytes::from(serde_json::to_vec(&obj).expect("JSON values serialize"))
}

/// Map a store failure to the API error a client should see.
pub fn store_error(e: StoreError) -> StatusError {
    match e {
        StoreError::Compacted { requested, oldest } => {
            StatusError::expired(format!("too old resource version: {requested} ({oldest})"))
        }
        StoreError::Lagged => StatusError::expired("the watch fell behind; list again and resume"),
        StoreError::Closed => {
            let mut e = StatusError::new(
                dvp_apimachinery::StatusReason::ServiceUnavailable,
                "the store is shutting down",
            );
            e.retry_after_seconds = Some(1);
            e
        }
        other => StatusError::internal(other.to_string()),
    }
}
