//! What every reconciler shares: the API client, the event recorder and the platform's settings.

use std::path::PathBuf;

use crate::events::Recorder;

/// Shared by every controller (behind an `Arc`).
pub struct Context {
    pub client: kube::Client,
    pub recorder: Recorder,
    /// The platform's data dir (DVCR, volumes, import scratch live under it).
    pub data_dir: PathBuf,
}

impl Context {
    pub fn new(client: kube::Client, data_dir: PathBuf) -> Context {
        let recorder = Recorder::new(client.clone(), "virtualization-controller");
        Context {
            client,
            recorder,
            data_dir,
        }
    }
}
