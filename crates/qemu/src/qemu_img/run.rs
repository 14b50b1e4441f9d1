//! Running qemu-img: one child per call, killed when the caller's future is dropped.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Output, Stdio};

use tokio::io::AsyncReadExt;
use tokio::process::Command;

use super::error::{QemuImgError, stderr_excerpt};
use super::progress::ProgressParser;

const PROGRAM: &str = "qemu-img";

fn command(args: &[OsString]) -> Command {
    let mut command = Command::new(PROGRAM);
    command
        .args(args)
        // English error texts: callers look for "No space left on device".
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

pub(crate) fn failed(operation: &'static str, path: &Path, output: &Output) -> QemuImgError {
    QemuImgError::Failed {
        operation,
        path: path.to_path_buf(),
        status: output.status.to_string(),
        stderr: stderr_excerpt(&output.stderr),
    }
}

/// Runs qemu-img to completion and returns its output whatever the exit status.
pub(crate) async fn output(args: &[OsString]) -> Result<Output, QemuImgError> {
    command(args).output().await.map_err(QemuImgError::Spawn)
}

/// Runs qemu-img and returns its stdout, or its stderr as the error if it failed.
pub(crate) async fn run(
    operation: &'static str,
    path: &Path,
    args: &[OsString],
) -> Result<Vec<u8>, QemuImgError> {
    let output = output(args).await?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(failed(operation, path, &output))
    }
}

/// Runs a qemu-img command that prints `-p` progress on stdout, calling `on_progress` with each
/// new fraction.
pub(crate) async fn run_with_progress(
    operation: &'static str,
    path: &Path,
    args: &[OsString],
    mut on_progress: impl FnMut(f64) + Send,
) -> Result<(), QemuImgError> {
    let mut child = command(args).spawn().map_err(QemuImgError::Spawn)?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");

    let read_progress = async {
        let mut parser = ProgressParser::new();
        let mut buffer = [0u8; 512];
        loop {
            let read = stdout.read(&mut buffer).await?;
            if read == 0 {
                return Ok::<_, std::io::Error>(());
            }
            if let Some(fraction) = parser.push(&buffer[..read]) {
                on_progress(fraction);
            }
        }
    };
    let read_stderr = async {
        let mut collected = Vec::new();
        stderr.read_to_end(&mut collected).await.map(|_| collected)
    };
    let (progress, stderr_bytes) = tokio::join!(read_progress, read_stderr);
    progress.map_err(QemuImgError::Io)?;
    let stderr_bytes = stderr_bytes.map_err(QemuImgError::Io)?;
    let status = child.wait().await.map_err(QemuImgError::Io)?;
    if status.success() {
        Ok(())
    } else {
        Err(failed(
            operation,
            path,
            &Output {
                status,
                stdout: Vec::new(),
                stderr: stderr_bytes,
            },
        ))
    }
}
