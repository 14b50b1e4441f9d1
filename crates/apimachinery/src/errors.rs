//! Field errors and `Status` bodies, shaped like Kubernetes' `field.Error` and `metav1.Status`.
//!
//! A [`FieldError`] renders as `spec.cpu.cores: Invalid value: 17: <detail>`, and a list of them
//! becomes a 422 `Status` whose `details.causes` kubectl turns back into
//! `The VirtualMachine "x" is invalid: spec.cpu.cores: Invalid value: 17: <detail>`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The kind of a field error; its `reason()` is the `Status` cause reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldErrorType {
    /// A required field was missing.
    Required,
    /// A value is malformed or out of range.
    Invalid,
    /// A value is not one of the supported values.
    NotSupported,
    /// A field may not be set or changed.
    Forbidden,
    /// A value appears more than once where it must be unique.
    Duplicate,
    /// A string is longer than allowed.
    TooLong,
    /// A list has more items than allowed.
    TooMany,
    /// A referenced object or key does not exist.
    NotFound,
    /// A value has the wrong JSON type.
    TypeInvalid,
}

impl FieldErrorType {
    /// The `Status` cause reason (`FieldValueInvalid`, …).
    pub fn reason(self) -> &'static str {
        match self {
            Self::Required => "FieldValueRequired",
            Self::Invalid => "FieldValueInvalid",
            Self::NotSupported => "FieldValueNotSupported",
            Self::Forbidden => "FieldValueForbidden",
            Self::Duplicate => "FieldValueDuplicate",
            Self::TooLong => "FieldValueTooLong",
            Self::TooMany => "FieldValueTooMany",
            Self::NotFound => "FieldValueNotFound",
            Self::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// The human prefix of the message (`Invalid value`, …).
    pub fn label(self) -> &'static str {
        match self {
            Self::Required => "Required value",
            Self::Invalid | Self::TypeInvalid => "Invalid value",
            Self::NotSupported => "Unsupported value",
            Self::Forbidden => "Forbidden",
            Self::Duplicate => "Duplicate value",
            Self::TooLong => "Too long",
            Self::TooMany => "Too many",
            Self::NotFound => "Not found",
        }
    }

    /// Whether the bad value is printed in the message (as Kubernetes does).
    fn shows_value(self) -> bool {
        matches!(
            self,
            Self::Invalid
                | Self::TypeInvalid
                | Self::NotSupported
                | Self::Duplicate
                | Self::NotFound
        )
    }
}

/// One problem with one field of an object.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    pub kind: FieldErrorType,
    /// Dotted path with list indexes, e.g. `spec.blockDeviceRefs[0].name`.
    pub field: String,
    /// The offending value, when there is one to show.
    pub value: Option<Value>,
    /// What is wrong and, where possible, what to do instead.
    pub detail: String,
}

impl FieldError {
    pub fn new(
        kind: FieldErrorType,
        field: impl Into<String>,
        value: Option<Value>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            field: field.into(),
            value,
            detail: detail.into(),
        }
    }
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorType::Required, field, None, detail)
    }
    pub fn invalid(
        field: impl Into<String>,
        value: impl Into<Value>,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(FieldErrorType::Invalid, field, Some(value.into()), detail)
    }
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorType::Forbidden, field, None, detail)
    }
    pub fn not_supported<S: AsRef<str>>(
        field: impl Into<String>,
        value: impl Into<Value>,
        allowed: &[S],
    ) -> Self {
        let list: Vec<String> = allowed
            .iter()
            .map(|s| format!("\"{}\"", s.as_ref()))
            .collect();
        Self::new(
            FieldErrorType::NotSupported,
            field,
            Some(value.into()),
            format!("supported values: {}", list.join(", ")),
        )
    }
    pub fn duplicate(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(FieldErrorType::Duplicate, field, Some(value.into()), "")
    }
    pub fn too_long(field: impl Into<String>, max: usize) -> Self {
        Self::new(
            FieldErrorType::TooLong,
            field,
            None,
            format!("may not be more than {max} bytes"),
        )
    }
    pub fn too_many(field: impl Into<String>, actual: usize, max: usize) -> Self {
        Self::new(
            FieldErrorType::TooMany,
            field,
            None,
            format!("{actual}: must have at most {max} items"),
        )
    }
    pub fn not_found(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(FieldErrorType::NotFound, field, Some(value.into()), "")
    }

    /// The message without the field path: `Invalid value: 17: detail`.
    pub fn message(&self) -> String {
        let mut s = self.kind.label().to_string();
        if self.kind.shows_value()
            && let Some(v) = &self.value
        {
            s.push_str(": ");
            s.push_str(&render_value(v));
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.message())
        } else {
            write!(f, "{}: {}", self.field, self.message())
        }
    }
}

/// Render a bad value the way Go's `%#v`-ish field errors do: strings quoted, the rest as JSON.
fn render_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

/// The `reason` of a `Status`, with its HTTP code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusReason {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    AlreadyExists,
    Conflict,
    Gone,
    Expired,
    Invalid,
    UnsupportedMediaType,
    NotAcceptable,
    MethodNotAllowed,
    RequestEntityTooLarge,
    TooManyRequests,
    InternalError,
    ServiceUnavailable,
    Timeout,
}

impl StatusReason {
    pub fn code(self) -> u16 {
        match self {
            Self::BadRequest => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::NotAcceptable => 406,
            Self::AlreadyExists | Self::Conflict => 409,
            Self::Gone | Self::Expired => 410,
            Self::RequestEntityTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::Invalid => 422,
            Self::TooManyRequests => 429,
            Self::InternalError => 500,
            Self::ServiceUnavailable => 503,
            Self::Timeout => 504,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "BadRequest",
            Self::Unauthorized => "Unauthorized",
            Self::Forbidden => "Forbidden",
            Self::NotFound => "NotFound",
            Self::AlreadyExists => "AlreadyExists",
            Self::Conflict => "Conflict",
            Self::Gone => "Gone",
            Self::Expired => "Expired",
            Self::Invalid => "Invalid",
            Self::UnsupportedMediaType => "UnsupportedMediaType",
            Self::NotAcceptable => "NotAcceptable",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::RequestEntityTooLarge => "RequestEntityTooLarge",
            Self::TooManyRequests => "TooManyRequests",
            Self::InternalError => "InternalError",
            Self::ServiceUnavailable => "ServiceUnavailable",
            Self::Timeout => "Timeout",
        }
    }
}

/// A failed API call, rendered as a `metav1.Status` body.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusError {
    pub reason: StatusReason,
    pub message: String,
    /// `details.group` / `details.kind` (the resource plural, or the Kind for Invalid) / `details.name`.
    pub group: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub causes: Vec<FieldError>,
    /// `details.retryAfterSeconds`.
    pub retry_after_seconds: Option<u32>,
}

impl StatusError {
    pub fn new(reason: StatusReason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            group: None,
            kind: None,
            name: None,
            causes: Vec::new(),
            retry_after_seconds: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusReason::BadRequest, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusReason::InternalError, message)
    }

    fn qualified(resource: &str, group: &str) -> String {
        if group.is_empty() {
            resource.to_string()
        } else {
            format!("{resource}.{group}")
        }
    }

    /// `virtualmachines.virtualization.deckhouse.io "x" not found`
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        let mut e = Self::new(
            StatusReason::NotFound,
            format!("{} \"{name}\" not found", Self::qualified(resource, group)),
        );
        e.group = Some(group.to_string());
        e.kind = Some(resource.to_string());
        e.name = Some(name.to_string());
        e
    }

    /// `virtualmachines.virtualization.deckhouse.io "x" already exists`
    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        let mut e = Self::new(
            StatusReason::AlreadyExists,
            format!(
                "{} \"{name}\" already exists",
                Self::qualified(resource, group)
            ),
        );
        e.group = Some(group.to_string());
        e.kind = Some(resource.to_string());
        e.name = Some(name.to_string());
        e
    }

    /// The optimistic-concurrency failure, worded as the real API server words it.
    pub fn conflict(group: &str, resource: &str, name: &str, why: &str) -> Self {
        let mut e = Self::new(
            StatusReason::Conflict,
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                Self::qualified(resource, group)
            ),
        );
        e.group = Some(group.to_string());
        e.kind = Some(resource.to_string());
        e.name = Some(name.to_string());
        e
    }

    /// The standard "object has been modified" conflict.
    pub fn modified(group: &str, resource: &str, name: &str) -> Self {
        Self::conflict(
            group,
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422 Invalid: `VirtualMachine.virtualization.deckhouse.io "x" is invalid: [errs]`.
    pub fn invalid(group: &str, kind: &str, name: &str, causes: Vec<FieldError>) -> Self {
        let list: Vec<String> = causes.iter().map(|c| c.to_string()).collect();
        let joined = if list.len() == 1 {
            list[0].clone()
        } else {
            format!("[{}]", list.join(", "))
        };
        let mut e = Self::new(
            StatusReason::Invalid,
            format!(
                "{} \"{name}\" is invalid: {joined}",
                Self::qualified(kind, group)
            ),
        );
        e.group = Some(group.to_string());
        e.kind = Some(kind.to_string());
        e.name = Some(name.to_string());
        e.causes = causes;
        e
    }

    /// 410 Expired, for a watch or list from a compacted resourceVersion.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(StatusReason::Expired, message)
    }

    pub fn code(&self) -> u16 {
        self.reason.code()
    }

    /// The `metav1.Status` JSON body.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason.as_str(),
            "code": self.code(),
        });
        let mut details = serde_json::Map::new();
        if let Some(n) = &self.name {
            details.insert("name".into(), json!(n));
        }
        if let Some(g) = &self.group {
            details.insert("group".into(), json!(g));
        }
        if let Some(k) = &self.kind {
            details.insert("kind".into(), json!(k));
        }
        if !self.causes.is_empty() {
            let causes: Vec<Value> = self
                .causes
                .iter()
                .map(|c| json!({"reason": c.kind.reason(), "message": c.message(), "field": c.field}))
                .collect();
            details.insert("causes".into(), Value::Array(causes));
        }
        if let Some(r) = self.retry_after_seconds {
            details.insert("retryAfterSeconds".into(), json!(r));
        }
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        status
    }
}

impl std::fmt::Display for StatusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.reason.as_str())
    }
}

impl std::error::Error for StatusError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_value_renders_like_kubernetes() {
        let e = FieldError::invalid(
            "spec.cpu.cores",
            17,
            "the requested number of cores must be a multiple of 2",
        );
        assert_eq!(
            e.to_string(),
            "spec.cpu.cores: Invalid value: 17: the requested number of cores must be a multiple of 2"
        );
    }

    #[test]
    fn string_values_are_quoted() {
        let e = FieldError::invalid("metadata.name", "a.b", "must not contain dots");
        assert_eq!(e.message(), "Invalid value: \"a.b\": must not contain dots");
    }

    #[test]
    fn required_has_no_value() {
        let e = FieldError::required("spec.cpu", "");
        assert_eq!(e.to_string(), "spec.cpu: Required value");
    }

    #[test]
    fn invalid_status_carries_causes() {
        let s = StatusError::invalid(
            "virtualization.deckhouse.io",
            "VirtualMachine",
            "vm",
            vec![FieldError::invalid("spec.cpu.cores", 17, "odd")],
        )
        .to_status();
        assert_eq!(s["code"], 422);
        assert_eq!(s["reason"], "Invalid");
        assert_eq!(s["details"]["causes"][0]["field"], "spec.cpu.cores");
        assert_eq!(s["details"]["causes"][0]["reason"], "FieldValueInvalid");
        assert_eq!(
            s["message"],
            "VirtualMachine.virtualization.deckhouse.io \"vm\" is invalid: spec.cpu.cores: Invalid value: 17: odd"
        );
    }

    #[test]
    fn not_found_message_is_verbatim_kubectl_text() {
        let s = StatusError::not_found("virtualization.deckhouse.io", "virtualmachines", "nope");
        assert_eq!(
            s.message,
            "virtualmachines.virtualization.deckhouse.io \"nope\" not found"
        );
        assert_eq!(s.code(), 404);
    }
}
