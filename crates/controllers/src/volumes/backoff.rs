//! Retry delays for claims that fail to provision: doubling from a couple of seconds up to five
//! minutes, forgotten once the claim succeeds.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

const FIRST: Duration = Duration::from_secs(2);
const MAX: Duration = Duration::from_secs(300);

/// The delay before retry number `failures` (1 = after the first failure).
pub fn delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST.saturating_mul(1 << doublings).min(MAX)
}

/// Failure counts per object uid.
#[derive(Default)]
pub struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    /// Records a failure of `uid`; returns how long to wait before trying again.
    pub fn failed(&self, uid: &str) -> Duration {
        let mut failures = self.failures.lock().expect("not poisoned");
        let count = failures.entry(uid.to_string()).or_insert(0);
        *count = count.saturating_add(1);
        delay(*count)
    }

    /// Forgets the failures of `uid`.
    pub fn succeeded(&self, uid: &str) {
        self.failures.lock().expect("not poisoned").remove(uid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_five_minutes() {
        let delays: Vec<u64> = (1..=10).map(|n| delay(n).as_secs()).collect();
        assert_eq!(delays, vec![2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(delay(u32::MAX), MAX);
    }

    #[test]
    fn success_resets_the_delay() {
        let b = Backoff::default();
        b.failed("a");
        assert_eq!(b.failed("a"), Duration::from_secs(4));
        b.succeeded("a");
        assert_eq!(b.failed("a"), Duration::from_secs(2));
    }

    #[test]
    fn objects_back_off_independently() {
        let b = Backoff::default();
        b.failed("a");
        b.failed("a");
        assert_eq!(b.failed("b"), Duration::from_secs(2));
    }
}
