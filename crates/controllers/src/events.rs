//! core/v1 Events about objects (what `kubectl describe` shows). Repeats of the same event on the
//! same object are folded into one Event with a growing `count`, as client-go's recorder does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// (uid, type, reason, message) → (namespace, Event name, count).
type Seen = HashMap<(String, EventType, String, String), (String, String, i32)>;

#[derive(Clone)]
pub struct Recorder {
    client: kube::Client,
    component: String,
    seen: Arc<Mutex<Seen>>,
}

fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

impl Recorder {
    pub fn new(client: kube::Client, component: &str) -> Recorder {
        Recorder {
            client,
            component: component.to_string(),
            seen: Arc::default(),
        }
    }

    /// Record an event about `obj`. Failures are logged: events are informational.
    pub async fn publish<K>(&self, obj: &K, kind: EventType, reason: &str, message: &str)
    where
        K: Resource<DynamicType = ()>,
    {
        if let Err(e) = self.try_publish(obj, kind, reason, message).await {
            tracing::debug!(reason, error = %e, "could not record an event");
        }
    }

    async fn try_publish<K>(
        &self,
        obj: &K,
        kind: EventType,
        reason: &str,
        message: &str,
    ) -> kube::Result<()>
    where
        K: Resource<DynamicType = ()>,
    {
        let uid = obj.uid().unwrap_or_default();
        let namespace = obj.namespace().unwrap_or_else(|| "default".into());
        let events: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        let key = (uid.clone(), kind, reason.to_string(), message.to_string());
        let known = self.seen.lock().expect("not poisoned").get(&key).cloned();
        if let Some((ns, name, count)) = known {
            let patch = serde_json::json!({"count": count + 1, "lastTimestamp": now()});
            let api: Api<Event> = Api::namespaced(self.client.clone(), &ns);
            if api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .is_ok()
            {
                self.seen
                    .lock()
                    .expect("not poisoned")
                    .insert(key, (ns, name, count + 1));
                return Ok(());
            }
        }
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let name = format!("{}.{stamp:x}", obj.name_any());
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                api_version: Some(K::api_version(&()).into_owned()),
                kind: Some(K::kind(&()).into_owned()),
                name: Some(obj.name_any()),
                namespace: obj.namespace(),
                uid: obj.uid(),
                resource_version: obj.resource_version(),
                ..Default::default()
            },
            reason: Some(reason.to_string()),
            message: Some(message.to_string()),
            type_: Some(kind.as_str().to_string()),
            count: Some(1),
            first_timestamp: Some(now()),
            last_timestamp: Some(now()),
            source: Some(EventSource {
                component: Some(self.component.clone()),
                host: None,
            }),
            reporting_component: Some(self.component.clone()),
            reporting_instance: Some(self.component.clone()),
            ..Default::default()
        };
        events.create(&PostParams::default(), &event).await?;
        self.seen
            .lock()
            .expect("not poisoned")
            .insert(key, (namespace, name, 1));
        Ok(())
    }
}
