//! Provisioning: `type` selects exactly one data field; inline cloud-init is capped at 2048.

use dvp_apimachinery::{FieldError, FieldErrorType};
use serde_json::Value;

use super::super::fields::{present, str_at};

/// Longest inline `userData` accepted (counted in characters, as the platform does).
pub const MAX_INLINE_USER_DATA: usize = 2048;

const FIELDS: [(&str, &str); 3] = [
    ("UserData", "userData"),
    ("UserDataRef", "userDataRef"),
    ("SysprepRef", "sysprepRef"),
];

pub(super) fn validate(obj: &Value, errs: &mut Vec<FieldError>) {
    let Some(p) = obj.pointer("/spec/provisioning").filter(|p| !p.is_null()) else {
        return;
    };
    let Some(type_) = str_at(p, "/type") else {
        errs.push(FieldError::required(
            "spec.provisioning.type",
            "one of UserData, UserDataRef, SysprepRef",
        ));
        return;
    };
    for (t, field) in FIELDS {
        let has = present(p, &format!("/{field}"));
        if t == type_ && !has {
            errs.push(FieldError::required(
                format!("spec.provisioning.{field}"),
                format!("provisioning type {type_} needs {field}"),
            ));
        } else if t != type_ && has {
            errs.push(FieldError::forbidden(
                format!("spec.provisioning.{field}"),
                format!("only the field matching provisioning type {type_} may be set"),
            ));
        }
    }
    if let Some(data) = str_at(p, "/userData")
        && data.chars().count() > MAX_INLINE_USER_DATA
    {
        errs.push(FieldError::new(
            FieldErrorType::TooLong,
            "spec.provisioning.userData",
            None,
            format!("userData exceeds {MAX_INLINE_USER_DATA} byte limit; should use userDataRef"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::*;
    use super::super::fixtures::*;
    use super::*;
    use crate::admission::kind;
    use serde_json::json;

    fn with_provisioning(p: Value) -> Value {
        let mut v = basic();
        v["spec"]["provisioning"] = p;
        v
    }

    #[test]
    fn inline_user_data_up_to_2048_is_accepted() {
        let v = with_provisioning(json!({"type": "UserData", "userData": "x".repeat(2048)}));
        assert_ok(&create(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            v,
            &cluster(),
        ));
    }

    #[test]
    fn inline_user_data_over_2048_is_rejected() {
        let v = with_provisioning(json!({"type": "UserData", "userData": "x".repeat(2049)}));
        let r = create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster());
        assert_error(
            &r,
            "spec.provisioning.userData",
            "exceeds 2048 byte limit; should use userDataRef",
        );
    }

    #[test]
    fn user_data_type_needs_user_data() {
        let v = with_provisioning(json!({"type": "UserData"}));
        assert_error(
            &create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster()),
            "spec.provisioning.userData",
            "needs userData",
        );
    }

    #[test]
    fn user_data_ref_type_forbids_inline_user_data() {
        let v = with_provisioning(
            json!({"type": "UserDataRef", "userData": "x", "userDataRef": {"kind": "Secret", "name": "s"}}),
        );
        assert_error(
            &create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster()),
            "spec.provisioning.userData",
            "only the field matching",
        );
    }

    #[test]
    fn sysprep_ref_is_accepted() {
        let v = with_provisioning(
            json!({"type": "SysprepRef", "sysprepRef": {"kind": "Secret", "name": "sysprep-example"}}),
        );
        assert_ok(&create(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            v,
            &cluster(),
        ));
    }
}
