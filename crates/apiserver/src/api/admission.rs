//! Running the resource model's admission (`dvp_api::admission`) on a write: fetch what it
//! declares it needs, then let it validate and default.

use std::collections::HashMap;

use dvp_api::admission::{self, Lookup, Need, Operation, Request};
use dvp_apimachinery::StatusError;
use serde_json::Value;

use super::{Api, ListOptions};
use crate::resources::Resource;

/// Objects fetched for one admission call, keyed by (kind, namespace, name) and (kind, namespace).
#[derive(Default)]
struct Fetched {
    objects: HashMap<(String, Option<String>, String), Value>,
    lists: HashMap<(String, Option<String>), Vec<Value>>,
}

impl Lookup for Fetched {
    fn get(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let key = (
            kind.to_string(),
            namespace.map(String::from),
            name.to_string(),
        );
        if let Some(obj) = self.objects.get(&key) {
            return Some(obj.clone());
        }
        // Defaulting may pick an object admission only listed (e.g. the default class).
        let in_list = |list: &Vec<Value>| {
            list.iter()
                .find(|o| {
                    crate::objects::name(o) == name && crate::objects::namespace(o) == namespace
                })
                .cloned()
        };
        self.lists
            .get(&(kind.to_string(), namespace.map(String::from)))
            .and_then(in_list)
            .or_else(|| self.lists.get(&(kind.to_string(), None)).and_then(in_list))
    }

    fn list(&self, kind: &str, namespace: Option<&str>) -> Vec<Value> {
        self.lists
            .get(&(kind.to_string(), namespace.map(String::from)))
            .cloned()
            .unwrap_or_default()
    }
}

/// The error for a rejected write: 422 with field causes; a refused delete, which has no field to
/// name, is a 403 like a webhook denial (`… "x" is forbidden: <reason>`).
fn denial(
    res: &Resource,
    operation: Operation,
    name: &str,
    errors: Vec<dvp_apimachinery::FieldError>,
) -> StatusError {
    if matches!(operation, Operation::Delete) && errors.iter().all(|e| e.field.is_empty()) {
        let reasons: Vec<String> = errors.iter().map(|e| e.detail.clone()).collect();
        let mut e = StatusError::new(
            dvp_apimachinery::StatusReason::Forbidden,
            format!(
                "{} \"{name}\" is forbidden: {}",
                res.qualified_plural(),
                reasons.join("; ")
            ),
        );
        e.group = Some(res.group.clone());
        e.kind = Some(res.plural.clone());
        e.name = Some(name.to_string());
        return e;
    }
    StatusError::invalid(&res.group, &res.kind, name, errors)
}

/// The outcome the write path acts on.
pub(crate) struct Admitted {
    pub warnings: Vec<String>,
}

impl Api {
    async fn fetch(&self, needs: Vec<Need>) -> Result<Fetched, StatusError> {
        let mut fetched = Fetched::default();
        for need in needs {
            match need {
                Need::Get {
                    kind,
                    namespace,
                    name,
                } => {
                    let Some(res) = self.registry().by_kind(kind).cloned() else {
                        continue;
                    };
                    if let Ok(kv) = self.get_stored(&res, namespace.as_deref(), &name).await {
                        fetched
                            .objects
                            .insert((kind.to_string(), namespace, name), super::decode(&kv)?);
                    }
                }
                Need::List { kind, namespace } => {
                    let Some(res) = self.registry().by_kind(kind).cloned() else {
                        continue;
                    };
                    let (items, _) = self
                        .list_stored(&res, namespace.as_deref(), &ListOptions::default())
                        .await?;
                    fetched.lists.insert((kind.to_string(), namespace), items);
                }
            }
        }
        Ok(fetched)
    }

    /// Admit a write of `object` (storage version; may be mutated by defaulting).
    pub(crate) async fn admit(
        &self,
        res: &Resource,
        operation: Operation,
        object: Option<&mut Value>,
        old: Option<&Value>,
        subresource: Option<&str>,
    ) -> Result<Admitted, StatusError> {
        let name = object
            .as_deref()
            .or(old)
            .map(|o| crate::objects::name(o).to_string())
            .unwrap_or_default();
        let namespace = object
            .as_deref()
            .or(old)
            .and_then(crate::objects::namespace)
            .map(String::from);
        let mut object = object;
        let needs = admission::needs(&Request {
            operation,
            kind: &res.kind,
            namespace: namespace.as_deref(),
            name: &name,
            object: object.as_deref_mut(),
            old_object: old,
            subresource,
        });
        let fetched = self.fetch(needs).await?;
        let response = admission::admit(
            Request {
                operation,
                kind: &res.kind,
                namespace: namespace.as_deref(),
                name: &name,
                object,
                old_object: old,
                subresource,
            },
            &fetched,
        );
        if !response.errors.is_empty() {
            return Err(denial(res, operation, &name, response.errors));
        }
        Ok(Admitted {
            warnings: response.warnings,
        })
    }
}
