//! How operations and the VM controller talk, through annotations on the VM (pure parsing):
//! the vmop controller sets a request (value: the vmop's uid) and `force`; the VM controller
//! removes the request once it has acted on it and remembers the resulting power intent.

use std::collections::BTreeMap;

use super::power::{Intent, Request, RequestKind};

/// Start requested by the operation whose uid is the value.
pub const START_REQUESTED: &str = "virtualization.deckhouse.io/vm-start-requested";
/// Stop requested by the operation whose uid is the value.
pub const STOP_REQUESTED: &str = "virtualization.deckhouse.io/vm-stop-requested";
/// Restart requested by the operation whose uid is the value.
pub const RESTART_REQUESTED: &str = "virtualization.deckhouse.io/vm-restart-requested";
/// `"true"`: the pending stop or restart is immediate (no graceful shutdown).
pub const FORCE: &str = "virtualization.deckhouse.io/force";
/// The power intent the VM controller remembers (`On`/`Off`), see [`Intent`].
pub const POWER_STATE: &str = "virtualization.deckhouse.io/power-state";
/// On an instance: the node agent stops the process at once instead of a graceful shutdown.
pub const FORCE_STOP: &str = "virtualization.deckhouse.io/force-stop";
/// Every request annotation, by kind.
pub const REQUESTS: [(RequestKind, &str); 3] = [
    (RequestKind::Stop, STOP_REQUESTED),
    (RequestKind::Restart, RESTART_REQUESTED),
    (RequestKind::Start, START_REQUESTED),
];

/// The annotation of a request kind.
pub fn annotation_of(kind: RequestKind) -> &'static str {
    REQUESTS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, a)| *a)
        .unwrap_or(START_REQUESTED)
}

/// The pending request (a stop wins over a restart, a restart over a start).
pub fn pending(annotations: &BTreeMap<String, String>) -> Option<Request> {
    let force = annotations.get(FORCE).is_some_and(|v| v == "true");
    REQUESTS
        .iter()
        .find(|(_, a)| annotations.contains_key(*a))
        .map(|(kind, _)| Request { kind: *kind, force })
}

/// The remembered power intent.
pub fn intent(annotations: &BTreeMap<String, String>) -> Option<Intent> {
    annotations.get(POWER_STATE).and_then(|v| Intent::parse(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_stop_request_wins_over_a_start() {
        let a = ann(&[
            (START_REQUESTED, "u1"),
            (STOP_REQUESTED, "u2"),
            (FORCE, "true"),
        ]);
        assert_eq!(
            pending(&a),
            Some(Request {
                kind: RequestKind::Stop,
                force: true
            })
        );
    }

    #[test]
    fn no_annotation_no_request_and_no_intent() {
        assert_eq!(pending(&ann(&[])), None);
        assert_eq!(intent(&ann(&[(POWER_STATE, "Off")])), Some(Intent::Off));
    }
}
