//! Writing `status` once per reconcile: replace the status subresource when it changed, guarded by
//! the resourceVersion the reconciler read (a conflict means a newer object is queued anyway).

use kube::api::{Api, PostParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a status write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// the object changed since it was read; the controller will see the new version
    #[error("the object changed while it was reconciled")]
    Conflict,
    /// the API refused or failed the write
    #[error("writing status failed: {0}")]
    Api(#[from] kube::Error),
}

/// Replace `obj`'s status with `status` unless they are equal. Returns whether it wrote.
/// `api` is the handle of `obj`'s scope (`Api::namespaced` or `Api::all`).
pub async fn write<K, S>(
    api: &Api<K>,
    obj: &K,
    current: Option<&S>,
    status: &S,
) -> Result<bool, StatusError>
where
    K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
    S: Serialize + PartialEq,
{
    if current == Some(status) {
        return Ok(false);
    }
    let serde = |e| StatusError::Api(kube::Error::SerdeError(e));
    let mut body = serde_json::to_value(obj).map_err(serde)?;
    body["status"] = serde_json::to_value(status).map_err(serde)?;
    let with_status: K = serde_json::from_value(body).map_err(serde)?;
    match api
        .replace_status(&obj.name_any(), &PostParams::default(), &with_status)
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 409 => Err(StatusError::Conflict),
        Err(e) => Err(StatusError::Api(e)),
    }
}
