//! Protobuf on the wire: the gnostic OpenAPI v2 document kubectl downloads, and the Kubernetes
//! protobuf request bodies kubectl's typed generators send. Pure byte transformations, no I/O.

pub mod gnostic;
pub mod request_body;
pub mod wire;

use dvp_apimachinery::{StatusError, StatusReason};
use serde_json::Value;

use request_body::BodyError;

/// The 415 answer for bodies the server cannot read (kubectl does not retry as JSON).
pub fn unsupported_media_type() -> StatusError {
    StatusError::new(
        StatusReason::UnsupportedMediaType,
        "the body of the request was in an unknown format - accepted media types include: \
         application/json, application/yaml, and application/vnd.kubernetes.protobuf for \
         v1 Secret, ConfigMap, Namespace and Service",
    )
}

/// An `application/vnd.kubernetes.protobuf` request body as the JSON object it encodes.
pub fn decode_request_body(body: &[u8]) -> Result<Value, StatusError> {
    request_body::decode(body).map_err(|e| match e {
        BodyError::UnsupportedKind { .. } | BodyError::MissingKind => unsupported_media_type(),
        other => StatusError::bad_request(format!(
            "couldn't decode the protobuf request body: {other}"
        )),
    })
}
