//! `qemu-img check --output=json`: consistency of an image's metadata.

use serde::Deserialize;

/// The verdict of `qemu-img check`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckResult {
    /// False when the format has no consistency check (raw, for example); then every count is 0.
    pub supported: bool,
    /// Metadata errors: references beyond the end of the file, wrong refcounts, … (a truncated
    /// or damaged image).
    pub corruptions: u64,
    /// Allocated clusters nothing refers to: wasted space, harmless for the guest.
    pub leaks: u64,
    /// Errors that prevented parts of the check from running.
    pub check_errors: u64,
    /// Where the image's last allocated cluster ends, in bytes (qcow2).
    pub image_end_offset: Option<u64>,
}

impl CheckResult {
    /// True unless the check found corruption or could not run completely. Leaks are harmless.
    pub fn is_consistent(&self) -> bool {
        self.corruptions == 0 && self.check_errors == 0
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawCheck {
    #[serde(default)]
    corruptions: u64,
    #[serde(default)]
    leaks: u64,
    #[serde(default)]
    check_errors: u64,
    image_end_offset: Option<u64>,
}

/// How the exit status of `qemu-img check` is to be read.
#[derive(Debug, PartialEq, Eq)]
pub enum CheckExit {
    /// 0 (clean), 2 (corruptions) or 3 (leaks only): stdout holds the JSON report.
    Report,
    /// 63: the format does not support checks.
    Unsupported,
    /// 1 or anything else: the check could not run (unreadable image, I/O error, bad options).
    Failed,
}

/// Classifies qemu-img check's exit code (`None`: killed by a signal).
pub fn classify_exit(code: Option<i32>) -> CheckExit {
    match code {
        Some(0 | 2 | 3) => CheckExit::Report,
        Some(63) => CheckExit::Unsupported,
        _ => CheckExit::Failed,
    }
}

/// Parses the JSON report of `qemu-img check --output=json`.
pub fn parse_check(json: &str) -> Result<CheckResult, serde_json::Error> {
    let raw: RawCheck = serde_json::from_str(json)?;
    Ok(CheckResult {
        supported: true,
        corruptions: raw.corruptions,
        leaks: raw.leaks,
        check_errors: raw.check_errors,
        image_end_offset: raw.image_end_offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_report_is_consistent() {
        let json = r#"{"image-end-offset": 14680064, "total-clusters": 560, "check-errors": 0,
            "allocated-clusters": 219, "filename": "t.qcow2", "format": "qcow2"}"#;
        let result = parse_check(json).unwrap();
        assert!(result.supported);
        assert!(result.is_consistent());
        assert_eq!(result.image_end_offset, Some(14680064));
    }

    #[test]
    fn corruptions_make_it_inconsistent() {
        let json = r#"{"image-end-offset": 131072, "total-clusters": 560, "corruptions": 4,
            "check-errors": 0, "filename": "t.qcow2", "format": "qcow2"}"#;
        let result = parse_check(json).unwrap();
        assert_eq!(result.corruptions, 4);
        assert!(!result.is_consistent());
    }

    #[test]
    fn leaks_alone_are_harmless() {
        let json = r#"{"leaks": 7, "check-errors": 0, "filename": "t", "format": "qcow2"}"#;
        let result = parse_check(json).unwrap();
        assert_eq!(result.leaks, 7);
        assert!(result.is_consistent());
    }

    #[test]
    fn exit_codes() {
        assert_eq!(classify_exit(Some(0)), CheckExit::Report);
        assert_eq!(classify_exit(Some(2)), CheckExit::Report);
        assert_eq!(classify_exit(Some(3)), CheckExit::Report);
        assert_eq!(classify_exit(Some(63)), CheckExit::Unsupported);
        assert_eq!(classify_exit(Some(1)), CheckExit::Failed);
        assert_eq!(classify_exit(None), CheckExit::Failed);
    }
}
