//! Getting data into DVCR for an object (an image, or a disk made from an external source):
//! look for the finished image, follow the running task, or start one from the data source.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dvp_api::kinds::common::{DownloadSpeed, ImageUploadUrls};
use dvp_importer::{Checksums, Credentials, Progress, Source, Stage};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;

use super::Services;
use super::facts::{ImageFacts, go_duration, speed_text};
use super::source::SecretRef;
use super::tasks::{ImportJob, Notify, TaskState};
use super::uploads::UploadState;

/// The object data is imported for.
#[derive(Clone)]
pub struct Target {
    /// DVCR repository (`vi/<ns>/<name>`, `cvi/<name>`, `vd/<ns>/<name>`); the tag is the uid.
    pub repo: String,
    pub uid: String,
    pub generation: i64,
    /// `VirtualImage ns/name`, for messages.
    pub owner: String,
    pub notify: Notify,
}

/// Where the data comes from, once the data source was resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Feed {
    Http {
        url: String,
        checksum: Checksums,
        ca_bundle: Option<Vec<u8>>,
    },
    ContainerImage {
        image: String,
        pull_secret: Option<SecretRef>,
        ca_bundle: Option<Vec<u8>>,
    },
    Upload {
        checksum: Checksums,
        /// How long the object has waited already (status kept across restarts).
        waited: Duration,
    },
    /// A volume's disk file (flattened).
    Volume { path: PathBuf },
    /// Another image's DVCR blob: tagged again, nothing copied.
    Blob { path: PathBuf, facts: ImageFacts },
}

/// How the data of an object stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The image is in DVCR.
    Present {
        facts: ImageFacts,
        blob: PathBuf,
        /// How long the import took, when it ran in this process.
        duration: Option<Duration>,
    },
    Running {
        progress: Option<String>,
        speed: Option<DownloadSpeed>,
        message: String,
    },
    /// Something the import needs is missing (`reason`: a DatasourceReady reason).
    Blocked {
        reason: &'static str,
        message: String,
    },
    WaitingForUpload {
        urls: ImageUploadUrls,
        deadline: Option<Instant>,
    },
    UploadTimedOut {
        message: String,
    },
    Failed {
        pull_failed: bool,
        message: String,
    },
}

fn speed(progress: &Progress) -> Option<DownloadSpeed> {
    (progress.stage == Stage::Transferring && progress.average_speed > 0).then(|| DownloadSpeed {
        avg: Some(speed_text(progress.average_speed)),
        avg_bytes: Some(progress.average_speed.to_string()),
        current: Some(speed_text(progress.current_speed)),
        current_bytes: Some(progress.current_speed.to_string()),
    })
}

fn message(stage: Stage) -> &'static str {
    match stage {
        Stage::Starting => "the import is starting",
        Stage::Transferring => "receiving the image data",
        Stage::Verifying => "verifying the checksums",
        Stage::Converting => "checking and converting the image",
        Stage::Done => "storing the image",
    }
}

/// What is known without starting anything: the image in DVCR, or the task for this generation.
/// `uploaded` scales the progress of an import of an upload into the second half (the upload
/// itself showed the first).
pub fn observe(services: &Services, target: &Target, uploaded: bool) -> Option<Outcome> {
    if let Ok(Some(image)) = services.registry.read_disk_image(&target.repo, &target.uid) {
        let duration = match services.imports.state(&target.uid, target.generation) {
            Some(TaskState::Done(f)) => Some(f.duration),
            _ => None,
        };
        return Some(Outcome::Present {
            facts: ImageFacts::from_dvcr(&image.facts, image.disk_size),
            blob: image.disk_path,
            duration,
        });
    }
    match services.imports.state(&target.uid, target.generation)? {
        TaskState::Running { progress, .. } => {
            let percent = progress.fraction.map(|f| {
                let f = if uploaded { 0.5 + f / 2.0 } else { f };
                super::status::percent(f)
            });
            Some(Outcome::Running {
                progress: percent,
                speed: speed(&progress),
                message: message(progress.stage).to_string(),
            })
        }
        TaskState::Failed(f) => Some(Outcome::Failed {
            pull_failed: f.pull_failed,
            message: f.message,
        }),
        // Finished, yet not in DVCR: it was removed since; import again.
        TaskState::Done(_) => {
            services.imports.cancel(&target.uid);
            None
        }
    }
}

/// Starts (or keeps waiting for) the import of `feed` into `target`.
pub async fn start(
    services: &Arc<Services>,
    client: &kube::Client,
    target: &Target,
    feed: Feed,
) -> Result<Outcome, kube::Error> {
    let source = match feed {
        Feed::Blob { path, facts } => {
            let registry = services.registry.clone();
            let (repo, tag, dvcr_facts) =
                (target.repo.clone(), target.uid.clone(), facts.to_dvcr());
            let pushed = tokio::task::spawn_blocking(move || {
                registry.push_disk_image(&repo, &tag, &path, &dvcr_facts)
            })
            .await;
            return Ok(match pushed {
                Ok(Ok(image)) => Outcome::Present {
                    facts,
                    blob: image.disk_path,
                    duration: None,
                },
                Ok(Err(e)) => Outcome::Failed {
                    pull_failed: false,
                    message: format!("copying the image within DVCR failed: {e}"),
                },
                Err(e) => Outcome::Failed {
                    pull_failed: false,
                    message: format!("copying the image within DVCR failed: {e}"),
                },
            });
        }
        Feed::Http {
            url,
            checksum,
            ca_bundle,
        } => Source::Http {
            url,
            checksum,
            ca_bundle,
        },
        Feed::ContainerImage {
            image,
            pull_secret,
            ca_bundle,
        } => {
            let credentials = match pull_secret {
                None => None,
                Some(secret) => match credentials(client, &secret, &image).await? {
                    Ok(c) => c,
                    Err(blocked) => return Ok(blocked),
                },
            };
            Source::OciImage {
                reference: image,
                credentials,
                ca_bundle,
                insecure_http_allowed_for_loopback: services
                    .config
                    .allow_insecure_loopback_registries,
            }
        }
        Feed::Upload { checksum, waited } => {
            let state = services.uploads.wait_for(
                &target.uid,
                &target.owner,
                waited,
                target.notify.clone(),
            );
            match state {
                UploadState::Waiting { .. } => {
                    return Ok(Outcome::WaitingForUpload {
                        urls: services.upload_urls(&target.uid),
                        deadline: services.uploads.deadline(&target.uid),
                    });
                }
                UploadState::TimedOut { after } => {
                    return Ok(Outcome::UploadTimedOut {
                        message: format!(
                            "no upload started within {}; the upload URL expired: delete and recreate {} to try again",
                            go_duration(after),
                            target.owner
                        ),
                    });
                }
                UploadState::Receiving { received, total } => {
                    return Ok(Outcome::Running {
                        progress: total
                            .filter(|t| *t > 0)
                            .map(|t| super::status::percent(received as f64 / t as f64 / 2.0)),
                        speed: None,
                        message: "receiving the upload".to_string(),
                    });
                }
                UploadState::Received => {
                    services.uploads.close(&target.uid);
                    let path = services.uploads.file(&target.uid);
                    services.imports.start(ImportJob {
                        uid: target.uid.clone(),
                        generation: target.generation,
                        source: Source::File {
                            path: path.clone(),
                            checksum,
                        },
                        work_dir: services.import_dir(&target.uid, target.generation),
                        options: services.import_options(),
                        repo: target.repo.clone(),
                        tag: target.uid.clone(),
                        consume: vec![path],
                        notify: target.notify.clone(),
                    });
                    return Ok(Outcome::Running {
                        progress: Some(super::status::percent(0.5)),
                        speed: None,
                        message: "importing the uploaded data".to_string(),
                    });
                }
            }
        }
        Feed::Volume { path } => Source::Volume { path },
    };
    services.imports.start(ImportJob {
        uid: target.uid.clone(),
        generation: target.generation,
        source,
        work_dir: services.import_dir(&target.uid, target.generation),
        options: services.import_options(),
        repo: target.repo.clone(),
        tag: target.uid.clone(),
        consume: vec![],
        notify: target.notify.clone(),
    });
    Ok(Outcome::Running {
        progress: None,
        speed: None,
        message: message(Stage::Starting).to_string(),
    })
}

/// The registry credentials of a `kubernetes.io/dockerconfigjson` pull secret for `image`.
async fn credentials(
    client: &kube::Client,
    secret: &SecretRef,
    image: &str,
) -> Result<Result<Option<Credentials>, Outcome>, kube::Error> {
    let api: Api<Secret> = Api::namespaced(client.clone(), &secret.namespace);
    let Some(found) = api.get_opt(&secret.name).await? else {
        return Ok(Err(Outcome::Blocked {
            reason: "ContainerRegistrySecretNotFound",
            message: format!(
                "the image pull secret {}/{} does not exist",
                secret.namespace, secret.name
            ),
        }));
    };
    let failed = |message: String| {
        Ok(Err(Outcome::Failed {
            pull_failed: true,
            message,
        }))
    };
    if found.type_.as_deref() != Some("kubernetes.io/dockerconfigjson") {
        return failed(format!(
            "the image pull secret {}/{} must be of type kubernetes.io/dockerconfigjson, not {}",
            secret.namespace,
            secret.name,
            found.type_.as_deref().unwrap_or("Opaque")
        ));
    }
    let Some(config) = found.data.as_ref().and_then(|d| d.get(".dockerconfigjson")) else {
        return failed(format!(
            "the image pull secret {}/{} has no .dockerconfigjson key",
            secret.namespace, secret.name
        ));
    };
    let registry = match dvp_importer::oci::Reference::parse(image) {
        Ok(r) => r.registry,
        Err(e) => return failed(e),
    };
    match Credentials::from_docker_config(&config.0, &registry) {
        Ok(c) => Ok(Ok(c)),
        Err(e) => failed(format!(
            "the image pull secret {}/{}: {e}",
            secret.namespace, secret.name
        )),
    }
}
