//! Watch: an initial snapshot (for `resourceVersion` 0 or absent), then every change after the
//! given revision, filtered like a list. An object that stops matching a selector is reported as
//! DELETED and one that starts matching as ADDED, as the real API server's watch cache does.

use std::pin::Pin;
use std::sync::Arc;

use dvp_apimachinery::StatusError;
use dvp_store::{Event, EventKind, StoreError};
use futures::{Stream, StreamExt, stream};
use serde_json::Value;

use super::{Api, ListOptions, decode, store_error};
use crate::resources::Resource;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchEventType {
    Added,
    Modified,
    Deleted,
    Bookmark,
    Error,
}

impl WatchEventType {
    pub fn as_str(self) -> &'static str {
        match self {
            WatchEventType::Added => "ADDED",
            WatchEventType::Modified => "MODIFIED",
            WatchEventType::Deleted => "DELETED",
            WatchEventType::Bookmark => "BOOKMARK",
            WatchEventType::Error => "ERROR",
        }
    }
}

#[derive(Clone, Debug)]
pub struct WatchEvent {
    pub kind: WatchEventType,
    /// The object in the requested version (a `Status` for ERROR).
    pub object: Value,
    /// The store revision of the change (0 for ERROR).
    pub revision: u64,
}

#[derive(Clone, Debug, Default)]
pub struct WatchOptions {
    pub list: ListOptions,
    /// `None`, `""` or `"0"`: start with the current state; otherwise resume after this revision.
    pub resource_version: Option<String>,
}

pub type WatchStream = Pin<Box<dyn Stream<Item = WatchEvent> + Send>>;

fn error_event(e: StatusError) -> WatchEvent {
    WatchEvent {
        kind: WatchEventType::Error,
        object: e.to_status(),
        revision: 0,
    }
}

impl Api {
    pub async fn watch(
        &self,
        res: Arc<Resource>,
        version: String,
        namespace: Option<String>,
        opts: WatchOptions,
    ) -> Result<WatchStream, StatusError> {
        let from_snapshot = matches!(
            opts.resource_version.as_deref(),
            None | Some("") | Some("0")
        );
        let (initial, after) = if from_snapshot {
            let (items, revision) = self
                .list_stored(&res, namespace.as_deref(), &opts.list)
                .await?;
            let initial: Vec<WatchEvent> = items
                .into_iter()
                .map(|obj| {
                    let revision = crate::objects::resource_version(&obj)
                        .and_then(|r| r.parse().ok())
                        .unwrap_or(revision);
                    let object = self.present(&res, &version, obj)?;
                    Ok(WatchEvent {
                        kind: WatchEventType::Added,
                        object,
                        revision,
                    })
                })
                .collect::<Result<_, StatusError>>()?;
            (initial, revision)
        } else {
            let rv = opts.resource_version.as_deref().unwrap_or_default();
            let after = rv.parse::<u64>().map_err(|_| {
                StatusError::bad_request(format!(
                    "invalid resource version {rv:?}: must be an unsigned integer"
                ))
            })?;
            (Vec::new(), after)
        };
        let live = match self
            .store()
            .watch(&res.namespace_prefix(namespace.as_deref()), after)
            .await
        {
            Ok(s) => s,
            Err(e @ StoreError::Compacted { .. }) => {
                return Ok(Box::pin(stream::iter([error_event(store_error(e))])));
            }
            Err(e) => return Err(store_error(e)),
        };
        let api = self.clone();
        let filter = opts.list;
        let live = live
            .scan(false, move |failed, item| {
                if *failed {
                    return futures::future::ready(None);
                }
                let out = match item {
                    Ok(event) => translate(&api, &res, &version, &filter, event),
                    Err(e) => {
                        *failed = true;
                        Some(error_event(store_error(e)))
                    }
                };
                futures::future::ready(Some(out))
            })
            .filter_map(futures::future::ready);
        Ok(Box::pin(stream::iter(initial).chain(live)))
    }
}

/// A store event as the client sees it, or nothing when the filter hides it.
fn translate(
    api: &Api,
    res: &Resource,
    version: &str,
    filter: &ListOptions,
    event: Event,
) -> Option<WatchEvent> {
    let revision = event.revision();
    let now = match decode(&event.kv) {
        Ok(o) => o,
        Err(e) => return Some(error_event(e)),
    };
    let prev = event.prev.as_ref().and_then(|p| decode(p).ok());
    let kind = match event.kind {
        EventKind::Delete => filter.matches(&now).then_some(WatchEventType::Deleted)?,
        EventKind::Put => {
            let was = prev.as_ref().is_some_and(|p| filter.matches(p));
            let is = filter.matches(&now);
            match (was, is) {
                (false, true) => WatchEventType::Added,
                (true, true) => WatchEventType::Modified,
                (true, false) => WatchEventType::Deleted,
                (false, false) => return None,
            }
        }
    };
    match api.present(res, version, now) {
        Ok(object) => Some(WatchEvent {
            kind,
            object,
            revision,
        }),
        Err(e) => Some(error_event(e)),
    }
}
