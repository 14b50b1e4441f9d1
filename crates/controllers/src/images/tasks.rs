//! Imports running in the background, one per object (keyed by uid). A task downloads or reads
//! its source with `dvp-importer`, pushes the result into DVCR and records how it ended; the
//! reconciler reads that record and writes the status. Progress changes and the end of a task
//! wake the object's reconciler through `notify`.
//!
//! Nothing here survives a restart on purpose: an import that was running is started again by
//! the next reconcile, and a finished one is recognised from DVCR.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dvp_dvcr::{DiskFacts, DiskFormat, ImageRef, Registry};
use dvp_importer::{ImportError, ImportOptions, OutputFormat, Progress, Source};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::facts::ImageFacts;

/// Wakes the reconciler of the object a task belongs to.
pub type Notify = Arc<dyn Fn() + Send + Sync>;

/// One import to run.
pub struct ImportJob {
    /// The owning object's uid (the key of the task).
    pub uid: String,
    /// The spec generation the import is for; a task of another generation is stale.
    pub generation: i64,
    pub source: Source,
    /// Scratch directory of this attempt (removed when the task ends).
    pub work_dir: PathBuf,
    pub options: ImportOptions,
    /// Where the result goes: the DVCR repository and tag.
    pub repo: String,
    pub tag: String,
    /// Files removed once the import ended, whatever the outcome (an upload).
    pub consume: Vec<PathBuf>,
    pub notify: Notify,
}

/// Why an import failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The message for the object's condition.
    pub message: String,
    /// The container image could not be pulled (reason `ImagePullFailed`).
    pub pull_failed: bool,
}

/// A finished import: the image is in DVCR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finished {
    pub facts: ImageFacts,
    pub image: ImageRef,
    pub duration: Duration,
}

/// What the reconciler sees of a task.
#[derive(Clone, Debug, PartialEq)]
pub enum TaskState {
    Running { progress: Progress, since: Instant },
    Done(Finished),
    Failed(Failure),
}

enum Outcome {
    Done(Finished),
    Failed(Failure),
}

struct Entry {
    generation: i64,
    cancel: CancellationToken,
    progress: watch::Receiver<Progress>,
    started: Instant,
    outcome: Arc<Mutex<Option<Outcome>>>,
}

/// The running and finished imports of one process.
pub struct Imports {
    registry: Arc<Registry>,
    entries: Mutex<HashMap<String, Entry>>,
}

impl Imports {
    pub fn new(registry: Arc<Registry>) -> Imports {
        Imports {
            registry,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The task of `uid` for `generation`. A task for another generation is cancelled and
    /// forgotten (the spec changed under it).
    pub fn state(&self, uid: &str, generation: i64) -> Option<TaskState> {
        let mut entries = self.lock();
        let entry = entries.get(uid)?;
        if entry.generation != generation {
            entry.cancel.cancel();
            entries.remove(uid);
            return None;
        }
        let outcome = entry.outcome.lock().unwrap_or_else(|p| p.into_inner());
        Some(match &*outcome {
            None => TaskState::Running {
                progress: entry.progress.borrow().clone(),
                since: entry.started,
            },
            Some(Outcome::Done(f)) => TaskState::Done(f.clone()),
            Some(Outcome::Failed(f)) => TaskState::Failed(f.clone()),
        })
    }

    /// Whether any task (running or finished) is known for `uid`.
    pub fn knows(&self, uid: &str) -> bool {
        self.lock().contains_key(uid)
    }

    /// Cancels the task of `uid` (if any) and forgets it.
    pub fn cancel(&self, uid: &str) {
        if let Some(entry) = self.lock().remove(uid) {
            entry.cancel.cancel();
        }
    }

    /// Starts `job` unless a task for its uid and generation exists already.
    pub fn start(&self, job: ImportJob) {
        let mut entries = self.lock();
        if let Some(existing) = entries.get(&job.uid) {
            if existing.generation == job.generation {
                return;
            }
            existing.cancel.cancel();
        }
        let (sender, receiver) = watch::channel(Progress::default());
        let cancel = CancellationToken::new();
        let outcome = Arc::new(Mutex::new(None));
        entries.insert(
            job.uid.clone(),
            Entry {
                generation: job.generation,
                cancel: cancel.clone(),
                progress: receiver.clone(),
                started: Instant::now(),
                outcome: outcome.clone(),
            },
        );
        drop(entries);
        let registry = self.registry.clone();
        tokio::spawn(run(job, registry, sender, receiver, cancel, outcome));
    }
}

async fn run(
    job: ImportJob,
    registry: Arc<Registry>,
    sender: watch::Sender<Progress>,
    mut receiver: watch::Receiver<Progress>,
    cancel: CancellationToken,
    outcome: Arc<Mutex<Option<Outcome>>>,
) {
    let started = Instant::now();
    let notify = job.notify.clone();
    let forward = tokio::spawn(async move {
        while receiver.changed().await.is_ok() {
            notify();
        }
    });
    let result =
        dvp_importer::import(&job.source, &job.work_dir, &job.options, &sender, &cancel).await;
    drop(sender);
    let _ = forward.await;
    let ended = match result {
        Err(ImportError::Cancelled) => None,
        Err(error) => Some(Outcome::Failed(failure(&error))),
        Ok(result) => {
            let facts = ImageFacts {
                format: match result.format {
                    OutputFormat::Qcow2 => DiskFormat::Qcow2,
                    OutputFormat::Iso => DiskFormat::Iso,
                },
                stored_bytes: result.stored_size,
                unpacked_bytes: result.unpacked_size,
                source_format: result.source_format.name().to_string(),
            };
            let dvcr_facts: DiskFacts = facts.to_dvcr();
            let (repo, tag, path) = (job.repo.clone(), job.tag.clone(), result.path.clone());
            let pushed = tokio::task::spawn_blocking(move || {
                registry.push_disk_image(&repo, &tag, &path, &dvcr_facts)
            })
            .await;
            match pushed {
                Ok(Ok(image)) if !cancel.is_cancelled() => Some(Outcome::Done(Finished {
                    facts: ImageFacts {
                        stored_bytes: image.disk_size,
                        ..facts
                    },
                    image,
                    duration: started.elapsed(),
                })),
                Ok(Ok(_)) => None,
                Ok(Err(e)) => Some(Outcome::Failed(Failure {
                    message: format!("storing the image in DVCR failed: {e}"),
                    pull_failed: false,
                })),
                Err(e) => Some(Outcome::Failed(Failure {
                    message: format!("storing the image in DVCR failed: {e}"),
                    pull_failed: false,
                })),
            }
        }
    };
    let _ = std::fs::remove_dir_all(&job.work_dir);
    if let Some(parent) = job.work_dir.parent() {
        let _ = std::fs::remove_dir(parent);
    }
    for file in &job.consume {
        let _ = std::fs::remove_file(file);
        if let Some(parent) = file.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
    if let Some(ended) = ended {
        *outcome.lock().unwrap_or_else(|p| p.into_inner()) = Some(ended);
        (job.notify)();
    }
}

/// The condition message of a failed import.
fn failure(error: &ImportError) -> Failure {
    Failure {
        message: error.to_string(),
        pull_failed: matches!(
            error,
            ImportError::Registry { .. } | ImportError::NoDiskInImage { .. }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_errors_are_pull_failures() {
        let f = failure(&ImportError::NoDiskInImage {
            reference: "r.io/x:1".into(),
        });
        assert!(f.pull_failed);
        assert_eq!(
            f.message,
            "container image r.io/x:1 has no file under /disk/"
        );
        let f = failure(&ImportError::HttpStatus {
            url: "http://h/x".into(),
            status: "404 Not Found".into(),
        });
        assert!(!f.pull_failed);
    }

    #[tokio::test]
    async fn a_task_of_an_older_generation_is_cancelled_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let registry = Arc::new(Registry::open(&dir.path().join("dvcr")).unwrap());
        let imports = Imports::new(registry);
        // A source that never answers: the task stays running until cancelled.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x.img", listener.local_addr().unwrap());
        imports.start(ImportJob {
            uid: "u1".into(),
            generation: 1,
            source: Source::Http {
                url,
                checksum: Default::default(),
                ca_bundle: None,
            },
            work_dir: dir.path().join("imports/u1/1"),
            options: ImportOptions::default(),
            repo: "vi/ns/x".into(),
            tag: "u1".into(),
            consume: vec![],
            notify: Arc::new(|| {}),
        });
        assert!(matches!(
            imports.state("u1", 1),
            Some(TaskState::Running { .. })
        ));
        assert_eq!(imports.state("u1", 2), None);
        assert!(!imports.knows("u1"));
        drop(listener);
    }
}
