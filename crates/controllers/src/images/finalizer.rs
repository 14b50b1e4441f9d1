//! Adding and removing a controller's finalizer, guarded by the resourceVersion the reconciler
//! read (a conflict means a newer version is queued anyway).

use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The finalizers of `obj` with `name` added or removed; `None` when nothing changes.
pub fn updated(current: &[String], name: &str, present: bool) -> Option<Vec<String>> {
    let has = current.iter().any(|f| f == name);
    match (has, present) {
        (false, true) => {
            let mut out = current.to_vec();
            out.push(name.to_string());
            Some(out)
        }
        (true, false) => Some(current.iter().filter(|f| *f != name).cloned().collect()),
        _ => None,
    }
}

/// Makes `obj` carry (or not carry) the finalizer `name`. Returns whether it wrote.
pub async fn set<K>(api: &Api<K>, obj: &K, name: &str, present: bool) -> Result<bool, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    let Some(finalizers) = updated(obj.finalizers(), name, present) else {
        return Ok(false);
    };
    let patch = serde_json::json!({
        "metadata": {
            "finalizers": finalizers,
            "resourceVersion": obj.resource_version(),
        }
    });
    match api
        .patch(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn adding_appends_once() {
        assert_eq!(updated(&v(&["a"]), "b", true), Some(v(&["a", "b"])));
        assert_eq!(updated(&v(&["a", "b"]), "b", true), None);
    }

    #[test]
    fn removing_keeps_the_others() {
        assert_eq!(updated(&v(&["a", "b"]), "a", false), Some(v(&["b"])));
        assert_eq!(updated(&v(&["b"]), "a", false), None);
    }
}
