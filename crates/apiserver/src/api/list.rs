//! List: filtering by label and field selectors, paging with `limit`/`continue`, and a visitor
//! form that hands over one object at a time so big lists never sit in memory twice.

use base64::Engine;
use dvp_apimachinery::StatusError;
use dvp_apimachinery::selector::{FieldSelector, LabelSelector};
use serde_json::{Value, json};

use super::{Api, decode, store_error};
use crate::objects;
use crate::resources::Resource;

/// Filters and paging of a list (filters also apply to watches).
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    pub label_selector: Option<LabelSelector>,
    pub field_selector: Option<FieldSelector>,
    /// At most this many items; the rest is reached with the returned continue token.
    pub limit: Option<usize>,
    /// A token from a previous page.
    pub continue_token: Option<String>,
}

impl ListOptions {
    pub fn matches(&self, obj: &Value) -> bool {
        if let Some(ls) = &self.label_selector
            && !ls.matches(objects::labels(obj))
        {
            return false;
        }
        if let Some(fs) = &self.field_selector {
            return fs.matches(&|f| objects::field_value(obj, f));
        }
        true
    }
}

/// A list result: items in the requested version, the revision they reflect and, when the list
/// was cut by `limit`, the token for the next page.
#[derive(Clone, Debug)]
pub struct Listed {
    pub items: Vec<Value>,
    pub revision: u64,
    pub continue_token: Option<String>,
}

/// The position of a paged list: the revision of its first page and the last key handed out.
#[derive(Debug, PartialEq, Eq)]
struct Cursor {
    revision: u64,
    after: String,
}

impl Cursor {
    fn encode(&self) -> String {
        let raw = json!({"rv": self.revision, "start": self.after}).to_string();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    fn decode(token: &str, prefix: &str) -> Result<Cursor, StatusError> {
        let invalid = || StatusError::bad_request(format!("continue key is not valid: {token:?}"));
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| invalid())?;
        let v: Value = serde_json::from_slice(&raw).map_err(|_| invalid())?;
        let after = v["start"].as_str().ok_or_else(invalid)?.to_string();
        if !after.starts_with(prefix) {
            return Err(invalid());
        }
        Ok(Cursor {
            revision: v["rv"].as_u64().ok_or_else(invalid)?,
            after,
        })
    }
}

/// Items per store page when a filtered paged list has to read ahead.
const READ_AHEAD: usize = 256;

impl Api {
    /// List objects (all namespaces when `namespace` is `None`) matching the options.
    pub async fn list(
        &self,
        res: &Resource,
        version: &str,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<Listed, StatusError> {
        let mut items = Vec::new();
        let (revision, continue_token) = self
            .list_each(res, version, namespace, opts, |obj| items.push(obj))
            .await?;
        Ok(Listed {
            items,
            revision,
            continue_token,
        })
    }

    /// Visit matching objects in the requested version, one at a time; returns the list revision
    /// and the continue token.
    pub async fn list_each(
        &self,
        res: &Resource,
        version: &str,
        namespace: Option<&str>,
        opts: &ListOptions,
        mut visit: impl FnMut(Value),
    ) -> Result<(u64, Option<String>), StatusError> {
        let mut failed = None;
        let outcome = self
            .scan(res, namespace, opts, |obj| {
                match self.present(res, version, obj) {
                    Ok(o) => visit(o),
                    Err(e) => failed = Some(e),
                }
            })
            .await?;
        match failed {
            Some(e) => Err(e),
            None => Ok(outcome),
        }
    }

    /// List in the storage version (no paging unless asked).
    pub(crate) async fn list_stored(
        &self,
        res: &Resource,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<(Vec<Value>, u64), StatusError> {
        let mut items = Vec::new();
        let (revision, _) = self.scan(res, namespace, opts, |o| items.push(o)).await?;
        Ok((items, revision))
    }

    /// The one list loop: read from the store, decode, filter, visit.
    async fn scan(
        &self,
        res: &Resource,
        namespace: Option<&str>,
        opts: &ListOptions,
        mut visit: impl FnMut(Value),
    ) -> Result<(u64, Option<String>), StatusError> {
        // `metadata.name=X` within one namespace (or cluster-scoped) is a single-key read.
        if let Some(name) = opts.field_selector.as_ref().and_then(|f| f.exact_name())
            && (namespace.is_some() || !res.namespaced)
        {
            let revision = self.store().current_revision();
            let kv = self
                .store()
                .get(&res.key(namespace, name))
                .await
                .map_err(store_error)?;
            if let Some(kv) = kv {
                let obj = decode(&kv)?;
                if opts.matches(&obj) {
                    visit(obj);
                }
            }
            return Ok((revision, None));
        }
        let prefix = res.namespace_prefix(namespace);
        if opts.limit.is_none() && opts.continue_token.is_none() {
            let listed = self.store().list(&prefix).await.map_err(store_error)?;
            for kv in &listed.items {
                let obj = decode(kv)?;
                if opts.matches(&obj) {
                    visit(obj);
                }
            }
            return Ok((listed.revision, None));
        }
        let cursor = opts
            .continue_token
            .as_deref()
            .map(|t| Cursor::decode(t, &prefix))
            .transpose()?;
        let limit = opts.limit.unwrap_or(usize::MAX);
        let mut after = cursor.as_ref().map(|c| c.after.clone());
        let mut revision = cursor.as_ref().map(|c| c.revision);
        let mut taken = 0usize;
        loop {
            let want = limit.saturating_sub(taken).clamp(1, READ_AHEAD);
            let page = self
                .store()
                .list_page(&prefix, after.as_deref(), want)
                .await
                .map_err(store_error)?;
            let revision = *revision.get_or_insert(page.revision);
            let count = page.items.len();
            for (i, kv) in page.items.iter().enumerate() {
                after = Some(kv.key.clone());
                let obj = decode(kv)?;
                if opts.matches(&obj) {
                    visit(obj);
                    taken += 1;
                }
                if taken == limit {
                    let more = i + 1 < count || page.more;
                    let token = more.then(|| {
                        Cursor {
                            revision,
                            after: kv.key.clone(),
                        }
                        .encode()
                    });
                    return Ok((revision, token));
                }
            }
            if !page.more {
                return Ok((revision, None));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let c = Cursor {
            revision: 42,
            after: "/registry/core/configmaps/default/a".into(),
        };
        assert_eq!(
            Cursor::decode(&c.encode(), "/registry/core/configmaps/").unwrap(),
            c
        );
    }

    #[test]
    fn cursor_from_another_resource_is_rejected() {
        let c = Cursor {
            revision: 1,
            after: "/registry/core/secrets/default/a".into(),
        };
        assert!(Cursor::decode(&c.encode(), "/registry/core/configmaps/").is_err());
        assert!(Cursor::decode("garbage", "/").is_err());
    }
}
