//! When to try a download again, and how long to wait first.

use std::time::Duration;

use http::StatusCode;

/// Exponential backoff for transient failures (connection errors, 5xx, 408, 429, a connection
/// dropped mid-body). A retry after which bytes arrived starts the count afresh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Failed attempts in a row before giving up (the first try included).
    pub attempts: u32,
    /// Wait before the first retry; doubled for each further one.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0 = the first retry).
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.initial_backoff
            .checked_mul(factor)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }

    /// The wait before retry `retry`, stretched to what the server asked for (`Retry-After`),
    /// but never beyond `max_backoff`.
    pub fn backoff_with_hint(&self, retry: u32, server_hint: Option<Duration>) -> Duration {
        let backoff = self.backoff(retry);
        server_hint
            .map_or(backoff, |hint| hint.max(backoff))
            .min(self.max_backoff)
    }
}

/// Statuses worth retrying: server errors, timeouts, rate limiting.
pub(crate) fn is_transient_status(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
}

/// `Retry-After` in its delay-seconds form (the date form is ignored).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(0), Duration::from_secs(1));
        assert_eq!(policy.backoff(1), Duration::from_secs(2));
        assert_eq!(policy.backoff(3), Duration::from_secs(8));
        assert_eq!(policy.backoff(10), Duration::from_secs(30));
        assert_eq!(policy.backoff(1000), Duration::from_secs(30));
    }

    #[test]
    fn server_hint_stretches_but_never_past_the_cap() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.backoff_with_hint(0, Some(Duration::from_secs(5))),
            Duration::from_secs(5)
        );
        assert_eq!(
            policy.backoff_with_hint(0, Some(Duration::from_secs(3600))),
            Duration::from_secs(30)
        );
        assert_eq!(policy.backoff_with_hint(2, None), Duration::from_secs(4));
    }

    #[test]
    fn which_statuses_are_transient() {
        for status in [500, 502, 503, 504, 408, 429] {
            assert!(
                is_transient_status(StatusCode::from_u16(status).unwrap()),
                "{status}"
            );
        }
        for status in [400, 401, 403, 404, 410] {
            assert!(
                !is_transient_status(StatusCode::from_u16(status).unwrap()),
                "{status}"
            );
        }
    }

    #[test]
    fn retry_after_seconds() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
