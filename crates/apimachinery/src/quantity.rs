//! Kubernetes resource quantities (`1Gi`, `500M`, `100m`, `2.5Gi`, `1e3`): parsing, comparison and
//! canonical formatting, as `k8s.io/apimachinery/pkg/api/resource.Quantity`.

/// A parsed quantity. Exact for every value the API meets (sizes in bytes, milli-CPUs).
#[derive(Clone, Debug, PartialEq)]
pub struct Quantity {
    _private: (),
}

impl Quantity {
    pub fn parse(_s: &str) -> Result<Self, String> {
        todo!("api helper")
    }
}
