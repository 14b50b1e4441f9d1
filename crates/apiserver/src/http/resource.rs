//! Resource requests: map verb + path + query + body onto [`Api`] calls and render the result.

use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;
use bytes::Bytes;
use dvp_apimachinery::duration::now_unix;
use dvp_apimachinery::{StatusError, StatusReason};
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::negotiate::{self, BodyFormat, Representation};
use super::query::Query;
use super::request_info::{ResourceRequest, Verb};
use super::{list, response, table, watch};
use crate::api::{Api, DeleteOptions, DeleteOutcome, PatchType, WatchOptions, WriteOptions};
use crate::resources::Resource;

pub async fn handle(
    api: &Api,
    req: ResourceRequest,
    headers: &HeaderMap,
    query: Query,
    body: Bytes,
) -> Response {
    match serve(api, req, headers, query, body).await {
        Ok(resp) => resp,
        Err(e) => response::error(&e),
    }
}

fn not_found_resource() -> StatusError {
    StatusError::new(
        StatusReason::NotFound,
        "the server could not find the requested resource",
    )
}

fn parse_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, StatusError> {
    match negotiate::body_format(headers) {
        BodyFormat::Json => serde_json::from_slice(body).map_err(|e| {
            StatusError::bad_request(format!("couldn't decode the request body as JSON: {e}"))
        }),
        BodyFormat::Yaml | BodyFormat::Patch(PatchType::Apply) => {
            let text = std::str::from_utf8(body)
                .map_err(|_| StatusError::bad_request("the request body is not valid UTF-8"))?;
            let yaml: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| {
                StatusError::bad_request(format!("couldn't decode the request body as YAML: {e}"))
            })?;
            serde_json::to_value(yaml).map_err(|e| StatusError::bad_request(e.to_string()))
        }
        BodyFormat::Patch(_) => serde_json::from_slice(body).map_err(|e| {
            StatusError::bad_request(format!("couldn't decode the patch as JSON: {e}"))
        }),
        BodyFormat::Protobuf => super::proto::decode_request_body(body),
        BodyFormat::Unknown => Err(StatusError::new(
            StatusReason::UnsupportedMediaType,
            "the body of the request was in an unknown format - accepted media types include: \
             application/json, application/yaml",
        )),
    }
}

fn write_options(q: &Query) -> WriteOptions {
    WriteOptions {
        dry_run: q.dry_run,
        field_manager: q.field_manager.clone(),
        field_validation: q.field_validation.unwrap_or_default(),
        force: q.force,
    }
}

fn written_response(
    repr: Representation,
    res: &Resource,
    version: &str,
    obj: &Value,
    created: bool,
) -> Response {
    let code = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    object_response(code, repr, res, version, obj)
}

fn object_response(
    code: StatusCode,
    repr: Representation,
    res: &Resource,
    version: &str,
    obj: &Value,
) -> Response {
    match repr {
        Representation::Table => {
            let rv = crate::objects::resource_version(obj).and_then(|r| r.parse().ok());
            let t = table::table(
                res,
                version,
                std::slice::from_ref(obj),
                rv,
                Default::default(),
                now_unix(),
                true,
            );
            response::represent(code, repr, &t)
        }
        _ => response::represent(code, repr, obj),
    }
}

async fn serve(
    api: &Api,
    req: ResourceRequest,
    headers: &HeaderMap,
    query: Query,
    body: Bytes,
) -> Result<Response, StatusError> {
    let res = api
        .registry()
        .lookup(&req.group, &req.version, &req.resource)
        .cloned()
        .ok_or_else(not_found_resource)?;
    match req.subresource.as_deref() {
        None => {}
        Some("status") if res.status_subresource => {}
        Some("finalize") if res.kind == "Namespace" => {}
        Some(_) => return Err(not_found_resource()),
    }
    if req.namespace.is_some() && !res.namespaced {
        return Err(not_found_resource());
    }
    let ns = req.namespace.as_deref();
    let version = req.version.as_str();
    let repr = negotiate::representation(headers);
    let name = req.name.as_deref().unwrap_or_default();
    let mut warnings: Vec<String> = res
        .version(version)
        .and_then(|v| v.deprecation_warning.clone())
        .into_iter()
        .collect();
    let resp = match req.verb {
        Verb::Get => {
            let obj = api.get(&res, version, ns, name).await?;
            object_response(StatusCode::OK, repr, &res, version, &obj)
        }
        Verb::List => list::respond(api, &res, version, ns, &query, repr).await?,
        Verb::Watch => {
            let mut list = query.list_options(&res)?;
            // Paging applies to lists only; a watch sees every change.
            list.limit = None;
            list.continue_token = None;
            if let Some(name) = req.name.as_deref() {
                let by_name = dvp_apimachinery::selector::FieldSelector::parse(&format!(
                    "metadata.name={name}"
                ))
                .map_err(StatusError::bad_request)?;
                list.field_selector = Some(by_name);
            }
            let start_revision = query
                .resource_version
                .as_deref()
                .and_then(|r| r.parse().ok())
                .unwrap_or_else(|| api.store().current_revision());
            let stream = api
                .watch(
                    res.clone(),
                    version.to_string(),
                    req.namespace.clone(),
                    WatchOptions {
                        list,
                        resource_version: query.resource_version.clone(),
                    },
                )
                .await?;
            let params = watch::WatchParams {
                res: Arc::clone(&res),
                version: version.to_string(),
                repr,
                include: query.include_object,
                timeout: query.timeout_seconds.map(Duration::from_secs),
                bookmarks: query.allow_watch_bookmarks,
                start_revision,
            };
            return Ok(response::with_warnings(
                watch::response(params, stream),
                &warnings,
            ));
        }
        Verb::Create => {
            if req.name.is_some() {
                return Err(StatusError::new(
                    StatusReason::MethodNotAllowed,
                    "POST is not allowed on a named object",
                ));
            }
            if res.namespaced && ns.is_none() {
                return Err(not_found_resource());
            }
            let obj = parse_body(headers, &body)?;
            let written = api
                .create(&res, version, ns, obj, &write_options(&query))
                .await?;
            warnings.extend(written.warnings.iter().cloned());
            written_response(repr, &res, version, &written.object, true)
        }
        Verb::Update => {
            let obj = parse_body(headers, &body)?;
            let written = api
                .update(
                    &res,
                    version,
                    ns,
                    name,
                    obj,
                    req.subresource.as_deref(),
                    &write_options(&query),
                )
                .await?;
            warnings.extend(written.warnings.iter().cloned());
            written_response(repr, &res, version, &written.object, written.created)
        }
        Verb::Patch => {
            let BodyFormat::Patch(patch_type) = negotiate::body_format(headers) else {
                return Err(StatusError::new(
                    StatusReason::UnsupportedMediaType,
                    "the body of the request was in an unknown format - accepted media types include: \
                     application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                ));
            };
            let patch = parse_body(headers, &body)?;
            let written = api
                .patch(
                    &res,
                    version,
                    ns,
                    name,
                    patch_type,
                    &patch,
                    req.subresource.as_deref(),
                    &write_options(&query),
                )
                .await?;
            warnings.extend(written.warnings.iter().cloned());
            written_response(repr, &res, version, &written.object, written.created)
        }
        Verb::Delete | Verb::DeleteCollection => {
            let mut opts: DeleteOptions = if body.iter().all(u8::is_ascii_whitespace) {
                DeleteOptions::default()
            } else {
                serde_json::from_slice(&body).map_err(|e| {
                    StatusError::bad_request(format!("couldn't decode DeleteOptions: {e}"))
                })?
            };
            if opts.propagation_policy.is_none() {
                opts.propagation_policy = query.propagation_policy;
            }
            if query.dry_run {
                opts.dry_run = vec!["All".into()];
            }
            if req.verb == Verb::DeleteCollection {
                let list_opts = query.list_options(&res)?;
                let items = api
                    .delete_collection(&res, version, ns, &list_opts, &opts)
                    .await?;
                let list = json!({
                    "apiVersion": res.api_version(version),
                    "kind": res.list_kind(),
                    "metadata": {},
                    "items": items,
                });
                response::json(StatusCode::OK, &list)
            } else {
                match api.delete(&res, version, ns, name, &opts).await? {
                    DeleteOutcome::Deleted(obj) => response::json(StatusCode::OK, &obj),
                    DeleteOutcome::Pending(obj) => response::json(StatusCode::ACCEPTED, &obj),
                }
            }
        }
    };
    Ok(response::with_warnings(resp, &warnings))
}
