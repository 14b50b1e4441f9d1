//! The JSONPath subset used by CRD printer columns and `kubectl -o jsonpath` style expressions:
//! `.a.b`, escaped dots in keys (`.metadata.annotations.a\.b\/c`), `['key']`, `[n]`, `[*]`, `..`-free,
//! filters `[?(@.type=='Ready')]` / `[?(@.mounted==true)]` with `==` and `!=` against strings,
//! numbers and booleans.

use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
pub struct JsonPath {
    // private representation chosen by the implementer
    _private: (),
}

impl JsonPath {
    /// Parse an expression such as `.status.conditions[?(@.type=='Ready')].status`.
    /// A leading `{`…`}` wrapper and a leading `$` are accepted and ignored.
    pub fn parse(_expr: &str) -> Result<Self, String> {
        todo!("apimachinery helper")
    }

    /// Every value the path selects, in document order (empty when nothing matches).
    pub fn eval<'a>(&self, _doc: &'a Value) -> Vec<&'a Value> {
        todo!("apimachinery helper")
    }
}
