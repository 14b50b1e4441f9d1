//! Human-readable durations (`3h7m`, `5d21h`) exactly as `k8s.io/apimachinery/pkg/util/duration.HumanDuration`,
//! and RFC 3339 timestamps as the API writes them (`2026-11-21T11:26:23Z`, second precision, UTC).

/// `HumanDuration(d)` for a signed number of whole seconds (negative = clock skew).
pub fn human_duration_secs(_secs: i64) -> String {
    todo!("apimachinery helper")
}

/// The time now as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_rfc3339() -> String {
    todo!("apimachinery helper")
}

/// Parse an RFC 3339 timestamp into Unix seconds.
pub fn parse_rfc3339(_s: &str) -> Option<i64> {
    todo!("apimachinery helper")
}

/// Format Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_rfc3339(_unix_secs: i64) -> String {
    todo!("apimachinery helper")
}

/// The current Unix time in seconds.
pub fn now_unix() -> i64 {
    todo!("apimachinery helper")
}
