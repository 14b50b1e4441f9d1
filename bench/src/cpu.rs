//! CPU time used by a process (user + system), from `/proc/PID/stat`: on a 2-core machine shared
//! by the benchmark client and the server, it tells which side the cores went to.

use std::time::Duration;

use anyhow::{Context, anyhow};

/// User plus system time from the text of `/proc/PID/stat`, given the clock tick rate.
pub fn parse_stat(text: &str, ticks_per_second: u64) -> Option<Duration> {
    // The command name (field 2) may contain spaces; the fields after its ')' are fixed.
    let after_name = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // fields[0] is the state (field 3 of the file); utime and stime are fields 14 and 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let ticks = utime + stime;
    Some(Duration::from_nanos(
        ticks * 1_000_000_000 / ticks_per_second.max(1),
    ))
}

/// Busy time of all CPUs together (everything but idle and iowait) from the text of `/proc/stat`.
pub fn parse_machine_busy(text: &str, ticks_per_second: u64) -> Option<Duration> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|t| t.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let busy: u64 = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|i| ticks.get(*i))
        .sum();
    (ticks.len() >= 4).then(|| Duration::from_nanos(busy * 1_000_000_000 / ticks_per_second.max(1)))
}

/// CPU time the whole machine (every process, every core) has been busy since boot.
pub fn machine_busy() -> anyhow::Result<Duration> {
    let text = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    parse_machine_busy(&text, ticks_per_second())
        .ok_or_else(|| anyhow!("/proc/stat has no cpu line"))
}

fn ticks_per_second() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as u64 } else { 100 }
}

/// CPU time used so far by process `pid` (`None`: this process).
pub fn used(pid: Option<u32>) -> anyhow::Result<Duration> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_stat(&text, ticks_per_second()).ok_or_else(|| anyhow!("{path} has no CPU times"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_user_and_system_ticks() {
        let text = "42 (dvp d) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 0 0";
        assert_eq!(parse_stat(text, 100), Some(Duration::from_secs(3)));
    }

    #[test]
    fn machine_busy_time_leaves_out_idle_and_iowait() {
        let text = "cpu  100 10 50 9000 40 5 5 30 0 0\ncpu0 1 2 3 4\n";
        assert_eq!(
            parse_machine_busy(text, 100),
            Some(Duration::from_millis(2000))
        );
    }

    #[test]
    fn truncated_stat_reads_as_none() {
        assert_eq!(parse_stat("42 (dvpd) S 1", 100), None);
    }
}
