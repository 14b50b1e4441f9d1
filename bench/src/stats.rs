//! Latency samples summarised as percentiles (nearest rank on the sorted samples).

use std::time::Duration;

/// Percentiles of a set of latency samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub mean: Duration,
}

/// The sample at quantile `q` (0.0..=1.0) of `sorted`, by nearest rank. `sorted` must not be empty.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Summarises `samples`; `None` when there are none.
pub fn summarize(mut samples: Vec<Duration>) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    let total: Duration = samples.iter().sum();
    Some(Summary {
        count: samples.len(),
        p50: quantile(&samples, 0.50),
        p99: quantile(&samples, 0.99),
        max: *samples.last().expect("not empty"),
        mean: total / samples.len() as u32,
    })
}

/// Milliseconds as a float, for printing.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    #[test]
    fn p99_of_a_hundred_samples_is_the_99th_smallest() {
        let samples = millis(&(1..=100).rev().collect::<Vec<_>>());
        let s = summarize(samples).unwrap();
        assert_eq!(s.p99, Duration::from_millis(99));
        assert_eq!(s.p50, Duration::from_millis(50));
        assert_eq!(s.max, Duration::from_millis(100));
    }

    #[test]
    fn a_single_sample_is_every_percentile() {
        let s = summarize(millis(&[7])).unwrap();
        assert_eq!((s.p50, s.p99, s.max), (s.mean, s.mean, s.mean));
    }

    #[test]
    fn no_samples_give_no_summary() {
        assert!(summarize(Vec::new()).is_none());
    }
}
