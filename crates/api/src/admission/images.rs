//! VirtualImage and ClusterVirtualImage: names, data sources, and a spec frozen once Ready.

use dvp_apimachinery::FieldError;
use serde_json::Value;

use super::fields::{deleting, non_empty, phase, present, same_spec, str_at};
use super::{Ctx, Response};

/// Disks and images may not have dots in their names.
pub(crate) fn validate_no_dots(ctx: &Ctx, kind: &str, errs: &mut Vec<FieldError>) {
    if ctx.is_create() && ctx.name.contains('.') {
        errs.push(FieldError::invalid(
            "metadata.name",
            ctx.name,
            format!("a {kind} name must not contain dots; use '-' instead"),
        ));
    }
}

/// `type` selects exactly one source block; `Upload` takes none.
pub(crate) fn validate_data_source(ds: &Value, base: &str, errs: &mut Vec<FieldError>) {
    const BLOCKS: [(&str, &str); 4] = [
        ("HTTP", "http"),
        ("ContainerImage", "containerImage"),
        ("ObjectRef", "objectRef"),
        ("Upload", "upload"),
    ];
    let Some(type_) = str_at(ds, "/type") else {
        errs.push(FieldError::required(
            format!("{base}.type"),
            "one of HTTP, ContainerImage, ObjectRef, Upload",
        ));
        return;
    };
    for (t, block) in BLOCKS {
        let has = present(ds, &format!("/{block}"));
        if t == type_ && !has && block != "upload" {
            errs.push(FieldError::required(
                format!("{base}.{block}"),
                format!("data source type {type_} needs the {block} block"),
            ));
        } else if t != type_ && has {
            errs.push(FieldError::forbidden(
                format!("{base}.{block}"),
                format!("only the block matching data source type {type_} may be set"),
            ));
        }
    }
    if type_ == "HTTP"
        && let Some(url) = str_at(ds, "/http/url")
    {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        if rest.is_none_or(|r| r.is_empty() || r.contains(char::is_whitespace)) {
            errs.push(FieldError::invalid(
                format!("{base}.http.url"),
                url,
                "must be an http:// or https:// URL",
            ));
        }
    }
    if type_ == "ContainerImage"
        && let Some(image) = str_at(ds, "/containerImage/image")
        && (image.is_empty() || image.contains("://") || image.contains(char::is_whitespace))
    {
        errs.push(FieldError::invalid(
            format!("{base}.containerImage.image"),
            image,
            "must be an image reference without a scheme, e.g. registry.example.com/images/ubuntu:22.04",
        ));
    }
}

/// Refuse spec changes of an object being deleted.
pub(crate) fn validate_not_terminating(
    ctx: &Ctx,
    obj: &Value,
    kind: &str,
    errs: &mut Vec<FieldError>,
) {
    if let Some(old) = ctx.old
        && deleting(old)
        && !same_spec(old, obj)
    {
        errs.push(FieldError::forbidden(
            "spec",
            format!("the {kind} is being deleted; its spec can no longer change"),
        ));
    }
}

fn frozen(old: &Value) -> bool {
    matches!(phase(old), Some("Ready" | "ImageLost" | "PVCLost"))
}

pub(crate) fn admit_vi(ctx: &Ctx, obj: &mut Value, resp: &mut Response) {
    let obj = &*obj;
    let errs = &mut resp.errors;
    validate_no_dots(ctx, "VirtualImage", errs);
    validate_not_terminating(ctx, obj, "VirtualImage", errs);
    if let Some(old) = ctx.old
        && frozen(old)
        && !same_spec(old, obj)
    {
        errs.push(FieldError::forbidden(
            "spec",
            "the VirtualImage is Ready and its spec cannot change; create a new VirtualImage instead",
        ));
        return;
    }
    if !ctx.changed(obj, "/spec") {
        return;
    }
    match obj.pointer("/spec/dataSource") {
        Some(ds) => validate_data_source(ds, "spec.dataSource", errs),
        None => errs.push(FieldError::required("spec.dataSource", "")),
    }
    match str_at(obj, "/spec/storage") {
        Some("Kubernetes") => resp
            .warnings
            .push("spec.storage Kubernetes is deprecated; use PersistentVolumeClaim".to_string()),
        Some("ContainerRegistry") | None if present(obj, "/spec/persistentVolumeClaim") => {
            resp.warnings.push(
                "spec.persistentVolumeClaim is ignored with storage ContainerRegistry".to_string(),
            )
        }
        _ => {}
    }
}

pub(crate) fn admit_cvi(ctx: &Ctx, obj: &mut Value, resp: &mut Response) {
    let obj = &*obj;
    let errs = &mut resp.errors;
    validate_no_dots(ctx, "ClusterVirtualImage", errs);
    validate_not_terminating(ctx, obj, "ClusterVirtualImage", errs);
    if let Some(old) = ctx.old
        && frozen(old)
        && !same_spec(old, obj)
    {
        errs.push(FieldError::forbidden(
            "spec",
            "the ClusterVirtualImage is Ready: configuration changes are not available; create a new ClusterVirtualImage instead",
        ));
        return;
    }
    if !ctx.changed(obj, "/spec") {
        return;
    }
    let Some(ds) = obj.pointer("/spec/dataSource") else {
        errs.push(FieldError::required("spec.dataSource", ""));
        return;
    };
    validate_data_source(ds, "spec.dataSource", errs);
    if let Some(r) = ds.get("objectRef")
        && matches!(
            str_at(r, "/kind"),
            Some("VirtualImage" | "VirtualDisk" | "VirtualDiskSnapshot")
        )
    {
        match non_empty(r, "/namespace") {
            None => errs.push(FieldError::required(
                "spec.dataSource.objectRef.namespace",
                format!(
                    "a {} lives in a namespace; name it",
                    str_at(r, "/kind").unwrap_or_default()
                ),
            )),
            Some(ns) if ns.len() >= 64 => errs.push(FieldError::invalid(
                "spec.dataSource.objectRef.namespace",
                ns,
                "must be shorter than 64 characters",
            )),
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::admission::kind;
    use serde_json::json;

    fn vi(ds: Value) -> Value {
        json!({"kind": "VirtualImage", "metadata": {"name": "ubuntu", "namespace": "default"},
               "spec": {"storage": "ContainerRegistry", "dataSource": ds}})
    }

    fn cvi(ds: Value) -> Value {
        json!({"kind": "ClusterVirtualImage", "metadata": {"name": "ubuntu"}, "spec": {"dataSource": ds}})
    }

    fn http() -> Value {
        json!({"type": "HTTP", "http": {"url": "https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img"}})
    }

    #[test]
    fn http_image_is_accepted() {
        assert_ok(&create(
            kind::VIRTUAL_IMAGE,
            Some("default"),
            vi(http()),
            &Fake::default(),
        ));
    }

    #[test]
    fn image_name_with_dot_is_rejected() {
        let mut v = vi(http());
        v["metadata"]["name"] = json!("ubuntu.22");
        assert_error(
            &create(kind::VIRTUAL_IMAGE, Some("default"), v, &Fake::default()),
            "metadata.name",
            "must not contain dots",
        );
    }

    #[test]
    fn http_type_needs_the_http_block() {
        let r = create(
            kind::VIRTUAL_IMAGE,
            Some("default"),
            vi(json!({"type": "HTTP"})),
            &Fake::default(),
        );
        assert_error(&r, "spec.dataSource.http", "needs the http block");
    }

    #[test]
    fn upload_forbids_other_blocks() {
        let r = create(
            kind::VIRTUAL_IMAGE,
            Some("default"),
            vi(json!({"type": "Upload", "http": {"url": "https://x"}})),
            &Fake::default(),
        );
        assert_error(
            &r,
            "spec.dataSource.http",
            "only the block matching data source type Upload",
        );
    }

    #[test]
    fn upload_alone_is_accepted() {
        assert_ok(&create(
            kind::VIRTUAL_IMAGE,
            Some("default"),
            vi(json!({"type": "Upload"})),
            &Fake::default(),
        ));
    }

    #[test]
    fn two_source_blocks_are_rejected() {
        let ds = json!({"type": "ObjectRef", "objectRef": {"kind": "VirtualDisk", "name": "d"}, "containerImage": {"image": "r/i"}});
        assert_error(
            &create(
                kind::VIRTUAL_IMAGE,
                Some("default"),
                vi(ds),
                &Fake::default(),
            ),
            "spec.dataSource.containerImage",
            "only the block",
        );
    }

    #[test]
    fn non_http_url_is_rejected() {
        let r = create(
            kind::VIRTUAL_IMAGE,
            Some("default"),
            vi(json!({"type": "HTTP", "http": {"url": "ftp://x/y.img"}})),
            &Fake::default(),
        );
        assert_error(&r, "spec.dataSource.http.url", "http:// or https://");
    }

    #[test]
    fn container_image_with_scheme_is_rejected() {
        let ds = json!({"type": "ContainerImage", "containerImage": {"image": "https://docker.io/u/img:latest"}});
        assert_error(
            &create(
                kind::VIRTUAL_IMAGE,
                Some("default"),
                vi(ds),
                &Fake::default(),
            ),
            "spec.dataSource.containerImage.image",
            "without a scheme",
        );
    }

    #[test]
    fn ready_image_spec_is_frozen() {
        let mut old = vi(http());
        old["status"] = json!({"phase": "Ready"});
        let new = vi(json!({"type": "HTTP", "http": {"url": "https://example.com/other.img"}}));
        assert_error(
            &update(
                kind::VIRTUAL_IMAGE,
                Some("default"),
                new,
                &old,
                &Fake::default(),
            ),
            "spec",
            "cannot change",
        );
    }

    #[test]
    fn provisioning_image_spec_may_change() {
        let mut old = vi(http());
        old["status"] = json!({"phase": "Provisioning"});
        let new = vi(json!({"type": "HTTP", "http": {"url": "https://example.com/other.img"}}));
        assert_ok(&update(
            kind::VIRTUAL_IMAGE,
            Some("default"),
            new,
            &old,
            &Fake::default(),
        ));
    }

    #[test]
    fn ready_image_metadata_may_change() {
        let mut old = vi(http());
        old["status"] = json!({"phase": "Ready"});
        let mut new = old.clone();
        new["metadata"]["labels"] = json!({"os": "ubuntu"});
        assert_ok(&update(
            kind::VIRTUAL_IMAGE,
            Some("default"),
            new,
            &old,
            &Fake::default(),
        ));
    }

    #[test]
    fn terminating_image_spec_is_frozen() {
        let mut old = vi(http());
        old["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        let new = vi(json!({"type": "Upload"}));
        assert_error(
            &update(
                kind::VIRTUAL_IMAGE,
                Some("default"),
                new,
                &old,
                &Fake::default(),
            ),
            "spec",
            "being deleted",
        );
    }

    #[test]
    fn deprecated_kubernetes_storage_warns() {
        let mut v = vi(http());
        v["spec"]["storage"] = json!("Kubernetes");
        let r = create(kind::VIRTUAL_IMAGE, Some("default"), v, &Fake::default());
        assert_ok(&r);
        assert_warning(&r, "deprecated");
    }

    #[test]
    fn cluster_image_is_accepted() {
        assert_ok(&create(
            kind::CLUSTER_VIRTUAL_IMAGE,
            None,
            cvi(http()),
            &Fake::default(),
        ));
    }

    #[test]
    fn ready_cluster_image_rejects_changes() {
        let mut old = cvi(http());
        old["status"] = json!({"phase": "Ready"});
        let new = cvi(json!({"type": "Upload"}));
        assert_error(
            &update(
                kind::CLUSTER_VIRTUAL_IMAGE,
                None,
                new,
                &old,
                &Fake::default(),
            ),
            "spec",
            "configuration changes are not available",
        );
    }

    #[test]
    fn cluster_image_from_a_namespaced_object_needs_its_namespace() {
        let ds =
            json!({"type": "ObjectRef", "objectRef": {"kind": "VirtualImage", "name": "ubuntu"}});
        assert_error(
            &create(kind::CLUSTER_VIRTUAL_IMAGE, None, cvi(ds), &Fake::default()),
            "spec.dataSource.objectRef.namespace",
            "Required",
        );
    }

    #[test]
    fn cluster_image_from_a_namespaced_object_with_namespace_is_accepted() {
        let ds = json!({"type": "ObjectRef", "objectRef": {"kind": "VirtualDisk", "name": "d", "namespace": "default"}});
        assert_ok(&create(
            kind::CLUSTER_VIRTUAL_IMAGE,
            None,
            cvi(ds),
            &Fake::default(),
        ));
    }

    #[test]
    fn cluster_image_name_with_dot_is_rejected() {
        let mut v = cvi(http());
        v["metadata"]["name"] = json!("a.b");
        assert_error(
            &create(kind::CLUSTER_VIRTUAL_IMAGE, None, v, &Fake::default()),
            "metadata.name",
            "must not contain dots",
        );
    }
}
