//! Errors of qemu-img runs, carrying the tool's own explanation.

use std::io;
use std::path::PathBuf;

/// A qemu-img invocation that did not produce what was asked.
#[derive(Debug, thiserror::Error)]
pub enum QemuImgError {
    #[error("could not start qemu-img: {0} (is QEMU's qemu-img installed and on PATH?)")]
    Spawn(#[source] io::Error),
    #[error("qemu-img {operation} of {} failed ({status}): {stderr}", path.display())]
    Failed {
        operation: &'static str,
        path: PathBuf,
        /// How the process ended (`exit status: 1`, `signal: 9 (SIGKILL)`).
        status: String,
        /// The interesting part of what qemu-img printed on stderr.
        stderr: String,
    },
    #[error("qemu-img {operation} of {} printed output that could not be read: {reason}", path.display())]
    Output {
        operation: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("talking to qemu-img: {0}")]
    Io(#[source] io::Error),
}

impl QemuImgError {
    /// qemu-img's stderr excerpt, when it failed.
    pub fn stderr(&self) -> Option<&str> {
        match self {
            QemuImgError::Failed { stderr, .. } => Some(stderr),
            _ => None,
        }
    }

    /// The run failed because the filesystem it wrote to is full (or over quota).
    pub fn is_no_space(&self) -> bool {
        self.stderr().is_some_and(|stderr| {
            stderr.contains("No space left on device") || stderr.contains("Disk quota exceeded")
        })
    }
}

const MAX_LINES: usize = 12;
const HEAD_LINES: usize = 8;
const TAIL_LINES: usize = 3;
const MAX_LINE_CHARS: usize = 300;

/// Shortens qemu-img's stderr to what a person can read in a status message: at most a dozen
/// lines (the first ones and the last ones), each at most a few hundred characters.
pub fn stderr_excerpt(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<String> = text
        .lines()
        .map(str::trim_end)
        .filter(|line| !line.is_empty())
        .map(|line| {
            if line.chars().count() > MAX_LINE_CHARS {
                let cut: String = line.chars().take(MAX_LINE_CHARS).collect();
                format!("{cut}…")
            } else {
                line.to_string()
            }
        })
        .collect();
    if lines.is_empty() {
        return "(no message)".to_string();
    }
    if lines.len() <= MAX_LINES {
        return lines.join("\n");
    }
    let omitted = lines.len() - HEAD_LINES - TAIL_LINES;
    let mut kept: Vec<String> = lines[..HEAD_LINES].to_vec();
    kept.push(format!("… ({omitted} more lines)"));
    kept.extend_from_slice(&lines[lines.len() - TAIL_LINES..]);
    kept.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_stderr_is_kept_whole() {
        let stderr = b"qemu-img: Could not open 'x': No such file or directory\n";
        assert_eq!(
            stderr_excerpt(stderr),
            "qemu-img: Could not open 'x': No such file or directory"
        );
    }

    #[test]
    fn long_stderr_keeps_head_and_tail() {
        let stderr: String = (0..100).map(|i| format!("ERROR line {i}\n")).collect();
        let excerpt = stderr_excerpt(stderr.as_bytes());
        let lines: Vec<&str> = excerpt.lines().collect();
        assert_eq!(lines.len(), HEAD_LINES + 1 + TAIL_LINES);
        assert_eq!(lines[0], "ERROR line 0");
        assert_eq!(lines[HEAD_LINES], "… (89 more lines)");
        assert_eq!(lines.last(), Some(&"ERROR line 99"));
    }

    #[test]
    fn very_long_lines_are_cut() {
        let line = "x".repeat(5000);
        assert_eq!(
            stderr_excerpt(line.as_bytes()).chars().count(),
            MAX_LINE_CHARS + 1
        );
    }

    #[test]
    fn empty_stderr_says_so() {
        assert_eq!(stderr_excerpt(b"\n\n"), "(no message)");
    }

    #[test]
    fn no_space_is_recognised_from_stderr() {
        let error = QemuImgError::Failed {
            operation: "convert",
            path: "/x".into(),
            status: "exit status: 1".into(),
            stderr: "qemu-img: error while writing at byte 0: No space left on device".into(),
        };
        assert!(error.is_no_space());
        assert!(!QemuImgError::Io(io::Error::other("x")).is_no_space());
    }
}
