//! Create: names (incl. generateName), system metadata, schema, admission, store.

use dvp_api::admission::Operation;
use dvp_apimachinery::duration::now_rfc3339;
use dvp_apimachinery::{FieldError, StatusError, StatusReason, patch};
use dvp_store::{Precondition, StoreError, WriteOp};
use rand::Rng;
use serde_json::{Value, json};

use super::prepare::{self, check_type, invalid, validate_name};
use super::{Api, WriteOptions, Written, decode, encode, services, store_error};
use crate::objects;
use crate::resources::{Model, Resource};

/// Characters the real API server uses for generated name suffixes (no vowels, no look-alikes).
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
const GENERATE_ATTEMPTS: usize = 8;

/// The longest `generateName` base kept, so the name with its suffix stays within 63 characters.
const MAX_GENERATE_NAME_BASE: usize = 58;

fn generated_name(base: &str) -> String {
    let cut = base
        .char_indices()
        .nth(MAX_GENERATE_NAME_BASE)
        .map_or(base.len(), |(i, _)| i);
    format!("{}{}", &base[..cut], random_suffix())
}

fn random_suffix() -> String {
    let mut rng = rand::rng();
    (0..5)
        .map(|_| NAME_ALPHABET[rng.random_range(0..NAME_ALPHABET.len())] as char)
        .collect()
}

impl Api {
    /// Create an object sent in `version` into `namespace`.
    pub async fn create(
        &self,
        res: &Resource,
        version: &str,
        namespace: Option<&str>,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<Written, StatusError> {
        check_type(res, version, &mut obj)?;
        self.set_namespace(res, namespace, &mut obj)?;
        if res.namespaced {
            self.check_namespace_open(objects::namespace(&obj).unwrap_or_default())
                .await?;
        }
        let generate_name = objects::str_at(&obj, &["metadata", "generateName"]).map(String::from);
        let explicit_name = objects::name(&obj).to_string();
        if explicit_name.is_empty() && generate_name.is_none() {
            return Err(invalid(
                res,
                &obj,
                vec![FieldError::required(
                    "metadata.name",
                    "name or generateName is required",
                )],
            ));
        }
        let attempts = if explicit_name.is_empty() {
            GENERATE_ATTEMPTS
        } else {
            1
        };
        for _ in 0..attempts {
            let mut candidate = obj.clone();
            if explicit_name.is_empty() {
                let name = generated_name(generate_name.as_deref().unwrap_or_default());
                objects::meta_mut(&mut candidate).insert("name".into(), json!(name));
            }
            match self.create_once(res, version, candidate, opts).await {
                Err(e) if e.reason == StatusReason::AlreadyExists && explicit_name.is_empty() => {
                    continue;
                }
                other => return other,
            }
        }
        Err(StatusError::new(
            StatusReason::AlreadyExists,
            format!(
                "{} could not find a free name for generateName {:?}; try again",
                res.qualified_plural(),
                generate_name.unwrap_or_default()
            ),
        ))
    }

    async fn create_once(
        &self,
        res: &Resource,
        version: &str,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<Written, StatusError> {
        let name = objects::name(&obj).to_string();
        let errors = validate_name(res, &name);
        if !errors.is_empty() {
            return Err(invalid(res, &obj, errors));
        }
        let mut warnings = prepare::process(res, version, &mut obj, opts.field_validation)?;
        let mut obj = res
            .convert(obj, &res.storage_version)
            .map_err(StatusError::internal)?;
        set_system_metadata(res, &mut obj);
        if res.status_subresource && res.model == Model::Custom {
            // As for CRDs: create cannot set status.
            obj.as_object_mut().expect("object").remove("status");
        }
        let admitted = self
            .admit(res, Operation::Create, Some(&mut obj), None, None)
            .await?;
        warnings.extend(admitted.warnings);
        if let Some(manager) = &opts.field_manager {
            patch::record_update(
                None,
                &mut obj,
                manager,
                &res.storage_api_version(),
                &now_rfc3339(),
                false,
            );
        }
        // Held until the write is acknowledged, so allocations cannot collide.
        let _allocation = if res.kind == "Service" && res.group.is_empty() {
            let guard = self.inner.service_allocation.lock().await;
            let (services, _) = self.list_stored(res, None, &Default::default()).await?;
            let taken = services::Allocated::from_services(services.iter(), None);
            let errors = services::allocate(&mut obj, &taken);
            if !errors.is_empty() {
                return Err(invalid(res, &obj, errors));
            }
            Some(guard)
        } else {
            None
        };
        if opts.dry_run {
            let object = self.present(res, version, obj)?;
            return Ok(Written {
                object,
                warnings,
                created: true,
            });
        }
        let key = res.key(objects::namespace(&obj), &name);
        let written = self
            .store()
            .write(WriteOp::Put {
                key,
                value: encode(&obj),
                precondition: Precondition::MustNotExist,
            })
            .await
            .map_err(|e| match e {
                StoreError::AlreadyExists(_) => {
                    StatusError::already_exists(&res.group, &res.plural, &name)
                }
                other => store_error(other),
            })?;
        let object = self.present(res, version, decode(&written.kv)?)?;
        Ok(Written {
            object,
            warnings,
            created: true,
        })
    }

    /// Reconcile the body's namespace with the request's.
    fn set_namespace(
        &self,
        res: &Resource,
        namespace: Option<&str>,
        obj: &mut Value,
    ) -> Result<(), StatusError> {
        let meta = objects::meta_mut(obj);
        if !res.namespaced {
            meta.remove("namespace");
            return Ok(());
        }
        let body_ns = meta
            .get("namespace")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        match (namespace, body_ns) {
            (Some(url), Some(body)) if url != body => Err(StatusError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            )),
            (Some(url), _) => {
                meta.insert("namespace".into(), json!(url));
                Ok(())
            }
            (None, Some(_)) => Ok(()),
            (None, None) => Err(StatusError::bad_request(
                "a namespace is required for a namespaced resource",
            )),
        }
    }

    /// New content may only go into an existing namespace that is not being deleted.
    pub(crate) async fn check_namespace_open(&self, namespace: &str) -> Result<(), StatusError> {
        let Some(ns_res) = self.registry().by_kind("Namespace").cloned() else {
            return Ok(());
        };
        let kv = self.get_stored(&ns_res, None, namespace).await?;
        let ns = decode(&kv)?;
        if objects::is_deleting(&ns) {
            return Err(StatusError::new(
                StatusReason::Forbidden,
                format!(
                    "unable to create new content in namespace {namespace} because it is being terminated"
                ),
            ));
        }
        Ok(())
    }
}

/// uid, creationTimestamp, generation; clears what clients may not set.
fn set_system_metadata(res: &Resource, obj: &mut Value) {
    let meta = objects::meta_mut(obj);
    meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
    for k in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ] {
        meta.remove(k);
    }
    if res.tracks_generation {
        meta.insert("generation".into(), json!(1));
    } else {
        meta.remove("generation");
    }
}
