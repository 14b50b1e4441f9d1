//! VirtualDisk: names, data source, size rules and freezes.

use dvp_apimachinery::FieldError;
use serde_json::Value;

use super::fields::phase;
use super::images::{validate_data_source, validate_no_dots, validate_not_terminating};
use super::quantity::parse_units;
use super::{Ctx, Response};

const SIZE: &str = "/spec/persistentVolumeClaim/size";
const SIZE_PATH: &str = "spec.persistentVolumeClaim.size";

/// Phases after which the volume exists with its size.
fn provisioned(phase: Option<&str>) -> bool {
    matches!(
        phase,
        Some("Ready" | "Resizing" | "Migrating" | "PVCLost" | "Exporting")
    )
}

fn size_text(v: &Value) -> Option<String> {
    match v.pointer(SIZE)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) fn admit(ctx: &Ctx, obj: &mut Value, resp: &mut Response) {
    let obj = &*obj;
    let errs = &mut resp.errors;
    validate_no_dots(ctx, "VirtualDisk", errs);
    validate_not_terminating(ctx, obj, "VirtualDisk", errs);
    if !ctx.changed(obj, "/spec") {
        return;
    }
    let size = size_text(obj);
    let bytes = size.as_deref().map(parse_units);
    if let (Some(text), Some(b)) = (&size, bytes)
        && b.is_none_or(|b| b <= 0)
    {
        errs.push(FieldError::invalid(
            SIZE_PATH,
            text.as_str(),
            "must be a positive quantity such as 10Gi",
        ));
    }
    match obj.pointer("/spec/dataSource").filter(|d| !d.is_null()) {
        Some(ds) => validate_data_source(ds, "spec.dataSource", errs),
        None if size.is_none() => errs.push(FieldError::required(
            SIZE_PATH,
            "a blank disk (no dataSource) needs a size, e.g. persistentVolumeClaim.size: 10Gi",
        )),
        None => {}
    }
    let Some(old) = ctx.old else { return };
    let old_phase = phase(old);
    if matches!(old_phase, Some("Ready" | "Migrating" | "PVCLost"))
        && old.pointer("/spec/dataSource") != obj.pointer("/spec/dataSource")
    {
        errs.push(FieldError::forbidden(
            "spec.dataSource",
            format!(
                "the disk is {}: its data source can no longer change",
                old_phase.unwrap_or_default()
            ),
        ));
    }
    let old_size = size_text(old);
    match (&old_size, &size) {
        (Some(_), None) => errs.push(FieldError::forbidden(
            SIZE_PATH,
            "the size cannot be removed once set",
        )),
        (Some(prev), Some(new)) if prev != new => {
            if old_phase == Some("Migrating") {
                errs.push(FieldError::forbidden(
                    SIZE_PATH,
                    "the size cannot change while the disk is migrating",
                ));
            } else if provisioned(old_phase)
                && let (Some(a), Some(Some(b))) = (parse_units(prev), bytes)
                && b < a
            {
                errs.push(FieldError::invalid(
                    SIZE_PATH,
                    new.as_str(),
                    format!("a disk cannot shrink (currently {prev}); the size may only grow"),
                ));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::admission::kind;
    use serde_json::{Value, json};

    fn vd(spec: Value) -> Value {
        json!({"kind": "VirtualDisk", "metadata": {"name": "linux-vm-root", "namespace": "default"}, "spec": spec})
    }

    fn ready(spec: Value) -> Value {
        let mut v = vd(spec);
        v["status"] = json!({"phase": "Ready"});
        v
    }

    fn from_image(size: Option<&str>) -> Value {
        let mut spec = json!({"dataSource": {"type": "ObjectRef", "objectRef": {"kind": "VirtualImage", "name": "ubuntu"}}});
        if let Some(s) = size {
            spec["persistentVolumeClaim"] = json!({"size": s});
        }
        spec
    }

    #[test]
    fn disk_from_image_without_size_is_accepted() {
        assert_ok(&create(
            kind::VIRTUAL_DISK,
            Some("default"),
            vd(from_image(None)),
            &Fake::default(),
        ));
    }

    #[test]
    fn blank_disk_needs_a_size() {
        let r = create(
            kind::VIRTUAL_DISK,
            Some("default"),
            vd(json!({"persistentVolumeClaim": {"storageClassName": "x"}})),
            &Fake::default(),
        );
        assert_error(&r, "spec.persistentVolumeClaim.size", "blank disk");
    }

    #[test]
    fn blank_disk_with_size_is_accepted() {
        assert_ok(&create(
            kind::VIRTUAL_DISK,
            Some("default"),
            vd(json!({"persistentVolumeClaim": {"size": "100Mi"}})),
            &Fake::default(),
        ));
    }

    #[test]
    fn zero_size_is_rejected() {
        let r = create(
            kind::VIRTUAL_DISK,
            Some("default"),
            vd(json!({"persistentVolumeClaim": {"size": "0"}})),
            &Fake::default(),
        );
        assert_error(&r, "spec.persistentVolumeClaim.size", "positive");
    }

    #[test]
    fn disk_name_with_dot_is_rejected() {
        let mut v = vd(from_image(None));
        v["metadata"]["name"] = json!("a.b");
        assert_error(
            &create(kind::VIRTUAL_DISK, Some("default"), v, &Fake::default()),
            "metadata.name",
            "must not contain dots",
        );
    }

    #[test]
    fn ready_disk_can_grow() {
        let old = ready(from_image(Some("10Gi")));
        assert_ok(&update(
            kind::VIRTUAL_DISK,
            Some("default"),
            vd(from_image(Some("11Gi"))),
            &old,
            &Fake::default(),
        ));
    }

    #[test]
    fn ready_disk_cannot_shrink() {
        let old = ready(from_image(Some("10Gi")));
        let r = update(
            kind::VIRTUAL_DISK,
            Some("default"),
            vd(from_image(Some("5Gi"))),
            &old,
            &Fake::default(),
        );
        assert_error(&r, "spec.persistentVolumeClaim.size", "cannot shrink");
    }

    #[test]
    fn size_cannot_be_removed_once_set() {
        let old = vd(from_image(Some("10Gi")));
        let r = update(
            kind::VIRTUAL_DISK,
            Some("default"),
            vd(from_image(None)),
            &old,
            &Fake::default(),
        );
        assert_error(&r, "spec.persistentVolumeClaim.size", "cannot be removed");
    }

    #[test]
    fn pending_disk_may_be_resized_down() {
        let old = vd(from_image(Some("10Gi")));
        assert_ok(&update(
            kind::VIRTUAL_DISK,
            Some("default"),
            vd(from_image(Some("5Gi"))),
            &old,
            &Fake::default(),
        ));
    }

    #[test]
    fn ready_disk_data_source_is_frozen() {
        let old = ready(from_image(Some("10Gi")));
        let mut spec = from_image(Some("10Gi"));
        spec["dataSource"]["objectRef"]["name"] = json!("other");
        assert_error(
            &update(
                kind::VIRTUAL_DISK,
                Some("default"),
                vd(spec),
                &old,
                &Fake::default(),
            ),
            "spec.dataSource",
            "can no longer change",
        );
    }

    #[test]
    fn provisioning_disk_data_source_may_change() {
        let mut old = vd(from_image(Some("10Gi")));
        old["status"] = json!({"phase": "Provisioning"});
        let mut spec = from_image(Some("10Gi"));
        spec["dataSource"]["objectRef"]["name"] = json!("other");
        assert_ok(&update(
            kind::VIRTUAL_DISK,
            Some("default"),
            vd(spec),
            &old,
            &Fake::default(),
        ));
    }

    #[test]
    fn migrating_disk_size_is_frozen() {
        let mut old = vd(from_image(Some("10Gi")));
        old["status"] = json!({"phase": "Migrating"});
        let r = update(
            kind::VIRTUAL_DISK,
            Some("default"),
            vd(from_image(Some("20Gi"))),
            &old,
            &Fake::default(),
        );
        assert_error(
            &r,
            "spec.persistentVolumeClaim.size",
            "while the disk is migrating",
        );
    }

    #[test]
    fn terminating_disk_spec_is_frozen() {
        let mut old = vd(from_image(Some("10Gi")));
        old["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        let r = update(
            kind::VIRTUAL_DISK,
            Some("default"),
            vd(from_image(Some("20Gi"))),
            &old,
            &Fake::default(),
        );
        assert_error(&r, "spec", "being deleted");
    }
}
