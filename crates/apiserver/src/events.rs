//! Emitting core/v1 Events about objects, as controllers do, so `kubectl describe` and
//! `kubectl get events` show them. Repeats of the same event are folded into one Event whose
//! `count` and `lastTimestamp` grow, like client-go's recorder.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use dvp_apimachinery::duration::{now_rfc3339, now_unix};
use dvp_apimachinery::{StatusError, StatusReason};
use serde_json::{Value, json};

use crate::api::{Api, PatchType, WriteOptions};
use crate::objects;

/// `Normal` or `Warning`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// (involved uid, type, reason, message): what makes two events "the same".
type EventKey = (String, EventType, String, String);
/// (namespace, Event name, count) of the Event already written for a key.
type SeenEvent = (String, String, i64);

/// Records Events on behalf of one component (e.g. `virtualization-controller`).
#[derive(Clone)]
pub struct EventRecorder {
    api: Api,
    component: String,
    seen: Arc<Mutex<HashMap<EventKey, SeenEvent>>>,
}

/// The `involvedObject` reference of an object.
pub fn object_reference(obj: &Value) -> Value {
    let mut r = json!({
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": objects::name(obj),
        "uid": objects::uid(obj),
    });
    if let Some(ns) = objects::namespace(obj) {
        r["namespace"] = json!(ns);
    }
    if let Some(rv) = objects::resource_version(obj) {
        r["resourceVersion"] = json!(rv);
    }
    r
}

impl EventRecorder {
    pub fn new(api: Api, component: impl Into<String>) -> Self {
        EventRecorder {
            api,
            component: component.into(),
            seen: Arc::default(),
        }
    }

    /// Record an event about `involved` (a full object). Failures are logged, never fatal:
    /// events are informational.
    pub async fn record(&self, involved: &Value, kind: EventType, reason: &str, message: &str) {
        if let Err(e) = self.try_record(involved, kind, reason, message).await {
            tracing::debug!(reason, error = %e, "could not record event");
        }
    }

    async fn try_record(
        &self,
        involved: &Value,
        kind: EventType,
        reason: &str,
        message: &str,
    ) -> Result<(), StatusError> {
        let res = self.api.resource_for_kind("Event")?;
        let key = (
            objects::uid(involved).to_string(),
            kind,
            reason.to_string(),
            message.to_string(),
        );
        let existing = self.seen.lock().expect("not poisoned").get(&key).cloned();
        let now = now_rfc3339();
        let opts = WriteOptions {
            field_manager: Some(self.component.clone()),
            ..Default::default()
        };
        if let Some((ns, name, count)) = existing {
            let patch = json!({"count": count + 1, "lastTimestamp": now});
            match self
                .api
                .patch(
                    &res,
                    "v1",
                    Some(&ns),
                    &name,
                    PatchType::Merge,
                    &patch,
                    None,
                    &opts,
                )
                .await
            {
                Ok(_) => {
                    self.seen
                        .lock()
                        .expect("not poisoned")
                        .insert(key, (ns, name, count + 1));
                    return Ok(());
                }
                Err(e) if e.reason == StatusReason::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        let namespace = objects::namespace(involved)
            .unwrap_or("default")
            .to_string();
        let name = format!("{}.{:x}", objects::name(involved), now_unix_nanos());
        let event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": object_reference(involved),
            "reason": reason,
            "message": message,
            "type": kind.as_str(),
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "source": {"component": self.component},
            "reportingComponent": self.component,
            "reportingInstance": self.component,
        });
        self.api
            .create(&res, "v1", Some(&namespace), event, &opts)
            .await?;
        self.seen
            .lock()
            .expect("not poisoned")
            .insert(key, (namespace, name, 1));
        Ok(())
    }
}

fn now_unix_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_else(|_| now_unix() as u128 * 1_000_000_000)
}
