//! Content negotiation: what representation the client accepts and what the body is.

use http::HeaderMap;
use http::header::{ACCEPT, CONTENT_TYPE};

use crate::api::PatchType;

/// The response representation a client asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Representation {
    Json,
    Yaml,
    /// `meta.k8s.io/v1` Table (kubectl's human output).
    Table,
}

/// The aggregated discovery version a client accepts, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggregatedDiscovery {
    V2,
    V2Beta1,
}

impl AggregatedDiscovery {
    pub fn api_version(self) -> &'static str {
        match self {
            AggregatedDiscovery::V2 => "apidiscovery.k8s.io/v2",
            AggregatedDiscovery::V2Beta1 => "apidiscovery.k8s.io/v2beta1",
        }
    }
    pub fn content_type(self) -> &'static str {
        match self {
            AggregatedDiscovery::V2 => {
                "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
            }
            AggregatedDiscovery::V2Beta1 => {
                "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
            }
        }
    }
}

fn accept(headers: &HeaderMap) -> String {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",")
}

/// Media ranges in the client's order, each as (type, params) with spaces removed.
fn media_ranges(accept: &str) -> Vec<(String, Vec<(String, String)>)> {
    accept
        .split(',')
        .map(|range| {
            let mut parts = range.split(';').map(|p| p.trim());
            let media = parts.next().unwrap_or_default().to_ascii_lowercase();
            let params = parts
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect();
            (media, params)
        })
        .collect()
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The first acceptable representation, in the client's order.
pub fn representation(headers: &HeaderMap) -> Representation {
    for (media, params) in media_ranges(&accept(headers)) {
        match media.as_str() {
            "application/json" if param(&params, "as") == Some("Table") => {
                return Representation::Table;
            }
            "application/json" | "*/*" | "application/*" | "" if param(&params, "as").is_none() => {
                return Representation::Json;
            }
            "application/yaml" => return Representation::Yaml,
            _ => {}
        }
    }
    Representation::Json
}

pub fn aggregated_discovery(headers: &HeaderMap) -> Option<AggregatedDiscovery> {
    for (media, params) in media_ranges(&accept(headers)) {
        if media == "application/json"
            && param(&params, "g") == Some("apidiscovery.k8s.io")
            && param(&params, "as") == Some("APIGroupDiscoveryList")
        {
            match param(&params, "v") {
                Some("v2") => return Some(AggregatedDiscovery::V2),
                Some("v2beta1") => return Some(AggregatedDiscovery::V2Beta1),
                _ => {}
            }
        }
        if media == "application/json" && param(&params, "as").is_none() {
            return None;
        }
    }
    None
}

/// The body format of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFormat {
    Json,
    Yaml,
    Protobuf,
    Patch(PatchType),
    Unknown,
}

pub fn body_format(headers: &HeaderMap) -> BodyFormat {
    let ct = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let media = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "application/json" | "" => BodyFormat::Json,
        "application/yaml" => BodyFormat::Yaml,
        "application/vnd.kubernetes.protobuf" => BodyFormat::Protobuf,
        "application/merge-patch+json" => BodyFormat::Patch(PatchType::Merge),
        "application/json-patch+json" => BodyFormat::Patch(PatchType::Json),
        "application/strategic-merge-patch+json" => BodyFormat::Patch(PatchType::Strategic),
        "application/apply-patch+yaml" | "application/apply-patch+cbor" => {
            BodyFormat::Patch(PatchType::Apply)
        }
        _ => BodyFormat::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(accept: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_str(accept).unwrap());
        h
    }

    #[test]
    fn kubectl_table_accept_selects_table() {
        let h = headers(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
        );
        assert_eq!(representation(&h), Representation::Table);
    }

    #[test]
    fn protobuf_then_json_selects_json() {
        assert_eq!(
            representation(&headers(
                "application/vnd.kubernetes.protobuf,application/json"
            )),
            Representation::Json
        );
    }

    #[test]
    fn kubectl_discovery_accept_selects_v2() {
        let h = headers(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
        );
        assert_eq!(aggregated_discovery(&h), Some(AggregatedDiscovery::V2));
    }

    #[test]
    fn plain_json_is_legacy_discovery() {
        assert_eq!(
            aggregated_discovery(&headers("application/json, */*")),
            None
        );
    }
}
