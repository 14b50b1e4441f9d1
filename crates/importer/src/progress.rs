//! Import progress as the controllers show it (`status.progress`, `status.downloadSpeed`), and
//! the throttle that keeps updates to a sensible rate.

use std::time::{Duration, Instant};

use tokio::sync::watch;

/// What the import is doing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Stage {
    #[default]
    Starting,
    /// Receiving the source: downloading, pulling a layer, or reading and unpacking a file.
    Transferring,
    /// Checking a local file against the expected checksums.
    Verifying,
    /// Inspecting and converting the image with qemu-img.
    Converting,
    Done,
}

/// A snapshot of an import's progress.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    pub stage: Stage,
    /// Share of the whole import done, 0..=1; `None` while the size of the source is unknown.
    pub fraction: Option<f64>,
    /// Source bytes received so far.
    pub bytes_done: u64,
    /// Size of the source, when known.
    pub bytes_total: Option<u64>,
    /// Average transfer rate since the transfer began, bytes per second.
    pub average_speed: u64,
    /// Transfer rate over the last few hundred milliseconds, bytes per second.
    pub current_speed: u64,
}

impl Progress {
    /// The `status.progress` text: `"28.2%"` while running, `"100%"` once done, `None` while
    /// the share is unknown.
    pub fn percent(&self) -> Option<String> {
        if self.stage == Stage::Done {
            return Some("100%".to_string());
        }
        self.fraction.map(format_percent)
    }
}

/// A running share as a percentage with one decimal, never rounded up to the next tenth (so
/// `100.0%` only shows once everything before the end is done).
pub fn format_percent(fraction: f64) -> String {
    let tenths = (fraction.clamp(0.0, 1.0) * 1000.0).floor() / 10.0;
    format!("{tenths:.1}%")
}

/// Decides which progress snapshots are worth publishing: at most one per `min_step` of the
/// share, or per `min_interval` when bytes moved without the share changing (unknown size),
/// plus every stage change.
#[derive(Clone, Debug)]
pub struct Throttle {
    min_step: f64,
    min_interval: Duration,
    last: Option<Published>,
}

#[derive(Clone, Debug)]
struct Published {
    at: Instant,
    stage: Stage,
    fraction: Option<f64>,
    bytes_done: u64,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::new(0.01, Duration::from_millis(500))
    }
}

impl Throttle {
    pub fn new(min_step: f64, min_interval: Duration) -> Self {
        Throttle {
            min_step,
            min_interval,
            last: None,
        }
    }

    /// True if `progress` should be published now; remembers it if so.
    pub fn admit(&mut self, now: Instant, progress: &Progress) -> bool {
        let publish = match &self.last {
            None => true,
            Some(last) => {
                let stage_changed = last.stage != progress.stage;
                let stepped = match (last.fraction, progress.fraction) {
                    (Some(before), Some(after)) => after - before >= self.min_step,
                    (None, Some(_)) => true,
                    _ => false,
                };
                let moved =
                    last.bytes_done != progress.bytes_done || last.fraction != progress.fraction;
                let waited = now.duration_since(last.at) >= self.min_interval;
                stage_changed || stepped || (moved && waited)
            }
        };
        if publish {
            self.last = Some(Published {
                at: now,
                stage: progress.stage,
                fraction: progress.fraction,
                bytes_done: progress.bytes_done,
            });
        }
        publish
    }
}

/// The share of the whole import each stage covers, decided once the source kind is known:
/// transfer `0..transfer_end`, verification `transfer_end..verify_end`, conversion the rest.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Plan {
    pub transfer_end: f64,
    pub verify_end: f64,
}

impl Plan {
    pub fn new(transfer_end: f64, verify_end: f64) -> Self {
        Plan {
            transfer_end,
            verify_end: verify_end.max(transfer_end),
        }
    }

    fn overall(&self, stage: Stage, fraction: f64) -> f64 {
        let fraction = fraction.clamp(0.0, 1.0);
        let within = |start: f64, end: f64| start + fraction * (end - start);
        match stage {
            Stage::Starting => 0.0,
            Stage::Transferring => within(0.0, self.transfer_end),
            Stage::Verifying => within(self.transfer_end, self.verify_end),
            Stage::Converting => within(self.verify_end, 1.0),
            Stage::Done => 1.0,
        }
    }
}

/// Turns stage events into throttled [`Progress`] snapshots on a watch channel.
pub(crate) struct Reporter<'a> {
    sender: &'a watch::Sender<Progress>,
    throttle: Throttle,
    plan: Plan,
    current: Progress,
    transfer_started: Option<Instant>,
    speed_sample: Option<(Instant, u64)>,
}

const SPEED_WINDOW: Duration = Duration::from_millis(500);

impl<'a> Reporter<'a> {
    pub fn new(sender: &'a watch::Sender<Progress>, plan: Plan) -> Self {
        Reporter {
            sender,
            throttle: Throttle::default(),
            plan,
            current: Progress::default(),
            transfer_started: None,
            speed_sample: None,
        }
    }

    /// Changes the stage shares once the source kind is known.
    pub fn set_plan(&mut self, plan: Plan) {
        self.plan = plan;
    }

    fn publish(&mut self, force: bool) {
        let now = Instant::now();
        if self.throttle.admit(now, &self.current) || force {
            self.sender.send_replace(self.current.clone());
        }
    }

    /// Source bytes received so far, and the source size when known.
    pub fn transferred(&mut self, done: u64, total: Option<u64>) {
        let now = Instant::now();
        let started = *self.transfer_started.get_or_insert(now);
        let elapsed = now.duration_since(started).as_secs_f64();
        if elapsed > 0.0 {
            self.current.average_speed = (done as f64 / elapsed) as u64;
        }
        match self.speed_sample {
            Some((at, bytes)) if now.duration_since(at) >= SPEED_WINDOW => {
                let window = now.duration_since(at).as_secs_f64();
                self.current.current_speed = (done.saturating_sub(bytes) as f64 / window) as u64;
                self.speed_sample = Some((now, done));
            }
            Some(_) => {}
            None => self.speed_sample = Some((now, done)),
        }
        self.current.stage = Stage::Transferring;
        self.current.bytes_done = done;
        self.current.bytes_total = total;
        self.current.fraction = total.filter(|total| *total > 0).map(|total| {
            self.plan
                .overall(Stage::Transferring, done as f64 / total as f64)
        });
        self.publish(false);
    }

    /// Progress within a stage after the transfer (`fraction` of that stage).
    pub fn stage(&mut self, stage: Stage, fraction: f64) {
        self.current.stage = stage;
        self.current.current_speed = 0;
        self.current.fraction = Some(self.plan.overall(stage, fraction));
        self.publish(false);
    }

    pub fn done(&mut self) {
        self.current.stage = Stage::Done;
        self.current.fraction = Some(1.0);
        self.current.current_speed = 0;
        self.publish(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_has_one_decimal_and_never_rounds_up() {
        assert_eq!(format_percent(0.282), "28.2%");
        assert_eq!(format_percent(0.0), "0.0%");
        assert_eq!(format_percent(0.99999), "99.9%");
        assert_eq!(format_percent(1.0), "100.0%");
    }

    #[test]
    fn done_reads_100_without_decimals() {
        let done = Progress {
            stage: Stage::Done,
            fraction: Some(1.0),
            ..Progress::default()
        };
        assert_eq!(done.percent().as_deref(), Some("100%"));
    }

    #[test]
    fn unknown_share_has_no_percentage() {
        assert_eq!(Progress::default().percent(), None);
    }

    fn at(fraction: Option<f64>, bytes: u64, stage: Stage) -> Progress {
        Progress {
            stage,
            fraction,
            bytes_done: bytes,
            ..Progress::default()
        }
    }

    #[test]
    fn throttle_publishes_every_percent() {
        let mut throttle = Throttle::default();
        let t0 = Instant::now();
        assert!(throttle.admit(t0, &at(Some(0.0), 0, Stage::Transferring)));
        assert!(!throttle.admit(t0, &at(Some(0.005), 5, Stage::Transferring)));
        assert!(throttle.admit(t0, &at(Some(0.011), 11, Stage::Transferring)));
    }

    #[test]
    fn throttle_publishes_small_moves_after_the_interval() {
        let mut throttle = Throttle::default();
        let t0 = Instant::now();
        assert!(throttle.admit(t0, &at(None, 0, Stage::Transferring)));
        assert!(!throttle.admit(
            t0 + Duration::from_millis(100),
            &at(None, 10, Stage::Transferring)
        ));
        assert!(throttle.admit(
            t0 + Duration::from_millis(600),
            &at(None, 20, Stage::Transferring)
        ));
        // Nothing moved: nothing to say, however long it has been.
        assert!(!throttle.admit(
            t0 + Duration::from_secs(5),
            &at(None, 20, Stage::Transferring)
        ));
    }

    #[test]
    fn throttle_publishes_stage_changes_at_once() {
        let mut throttle = Throttle::default();
        let t0 = Instant::now();
        assert!(throttle.admit(t0, &at(Some(0.8), 100, Stage::Transferring)));
        assert!(throttle.admit(t0, &at(Some(0.8), 100, Stage::Converting)));
    }

    #[test]
    fn plan_splits_the_share_between_transfer_and_conversion() {
        let plan = Plan::new(0.6, 0.8);
        assert_eq!(plan.overall(Stage::Transferring, 0.5), 0.3);
        assert!((plan.overall(Stage::Verifying, 0.5) - 0.7).abs() < 1e-9);
        assert!((plan.overall(Stage::Converting, 0.5) - 0.9).abs() < 1e-9);
        assert_eq!(plan.overall(Stage::Done, 0.0), 1.0);
    }

    #[test]
    fn reporter_ends_with_100_percent() {
        let (sender, receiver) = watch::channel(Progress::default());
        let mut reporter = Reporter::new(&sender, Plan::new(0.8, 0.8));
        reporter.transferred(50, Some(100));
        assert_eq!(receiver.borrow().percent().as_deref(), Some("40.0%"));
        reporter.stage(Stage::Converting, 0.0);
        assert_eq!(receiver.borrow().percent().as_deref(), Some("80.0%"));
        reporter.done();
        assert_eq!(receiver.borrow().percent().as_deref(), Some("100%"));
    }
}
