//! LIST responses, serialized while the list is read: each object is written out and dropped, so a
//! list of 10,000 objects never holds 10,000 decoded objects (or a second copy of them) at once.

use axum::response::Response;
use dvp_apimachinery::StatusError;
use dvp_apimachinery::duration::now_unix;
use http::StatusCode;
use serde_json::{Value, json};

use super::negotiate::Representation;
use super::query::Query;
use super::{response, table};
use crate::api::Api;
use crate::resources::Resource;

fn list_metadata(revision: u64, continue_token: Option<String>) -> Value {
    let mut meta = json!({"resourceVersion": revision.to_string()});
    if let Some(token) = continue_token {
        meta["continue"] = json!(token);
    }
    meta
}

/// Write `value` after a comma when it is not the first element.
fn push_element(buf: &mut Vec<u8>, first: &mut bool, value: &Value) {
    if !std::mem::take(first) {
        buf.push(b',');
    }
    serde_json::to_writer(&mut *buf, value).expect("JSON values serialize");
}

pub async fn respond(
    api: &Api,
    res: &Resource,
    version: &str,
    namespace: Option<&str>,
    query: &Query,
    repr: Representation,
) -> Result<Response, StatusError> {
    let opts = query.list_options(res)?;
    let now = now_unix();
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut first = true;
    match repr {
        Representation::Table => {
            buf.extend_from_slice(
                br#"{"kind":"Table","apiVersion":"meta.k8s.io/v1","columnDefinitions":"#,
            );
            serde_json::to_writer(&mut buf, &table::column_definitions(res, version))
                .expect("serializes");
            buf.extend_from_slice(br#","rows":["#);
            let (revision, token) = api
                .list_each(res, version, namespace, &opts, |obj| {
                    push_element(
                        &mut buf,
                        &mut first,
                        &table::row(res, version, &obj, query.include_object, now),
                    )
                })
                .await?;
            buf.extend_from_slice(br#"],"metadata":"#);
            serde_json::to_writer(&mut buf, &list_metadata(revision, token)).expect("serializes");
            buf.push(b'}');
            Ok(response::body(
                StatusCode::OK,
                "application/json;as=Table;v=v1;g=meta.k8s.io",
                buf,
            ))
        }
        Representation::Json => {
            buf.extend_from_slice(br#"{"apiVersion":"#);
            serde_json::to_writer(&mut buf, &res.api_version(version)).expect("serializes");
            buf.extend_from_slice(br#","kind":"#);
            serde_json::to_writer(&mut buf, &res.list_kind()).expect("serializes");
            buf.extend_from_slice(br#","items":["#);
            let (revision, token) = api
                .list_each(res, version, namespace, &opts, |obj| {
                    push_element(&mut buf, &mut first, &obj)
                })
                .await?;
            buf.extend_from_slice(br#"],"metadata":"#);
            serde_json::to_writer(&mut buf, &list_metadata(revision, token)).expect("serializes");
            buf.push(b'}');
            Ok(response::body(StatusCode::OK, "application/json", buf))
        }
        Representation::Yaml => {
            let listed = api.list(res, version, namespace, &opts).await?;
            let list = json!({
                "apiVersion": res.api_version(version),
                "kind": res.list_kind(),
                "metadata": list_metadata(listed.revision, listed.continue_token),
                "items": Value::Array(listed.items),
            });
            Ok(response::represent(StatusCode::OK, repr, &list))
        }
    }
}
