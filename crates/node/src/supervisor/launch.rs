//! Everything before QEMU starts: the run dir, the provisioning media, the UEFI variable store
//! and the command line.

use std::path::Path;

use dvp_api::kinds::instance::{Firmware, InstanceSpec};
use dvp_qemu::argv::{Launch, NicBackend, RunPaths, argv};
use dvp_qemu::host::HostFacts;
use dvp_qemu::seed::{NoCloud, nocloud_iso, sysprep_iso};

use crate::host::{Host, HostError};

/// Why a run could not be prepared; becomes the `StartFailed` message.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("the node cannot run guests: {0}")]
    NoQemu(String),
    #[error(transparent)]
    Argv(#[from] dvp_qemu::argv::ArgvError),
    #[error("cannot build the provisioning medium: {0}")]
    Seed(#[from] dvp_qemu::seed::SeedError),
    #[error(transparent)]
    Host(#[from] HostError),
    #[error("UEFI firmware vars template for {0} not found on this node: install the ovmf package")]
    NoVarsTemplate(&'static str),
}

/// Name of QEMU's stderr log in the run dir.
pub const LOG_FILE: &str = "qemu.log";
/// Name of the pid file in the run dir.
pub const PID_FILE: &str = "qemu.pid";

/// Writes the run dir's inputs and returns QEMU's arguments; `nics` are the backends of
/// `spec.networks` (see [`dvp_qemu::argv::Launch::nics`]).
pub fn prepare(
    host: &dyn Host,
    facts: &HostFacts,
    namespace: &str,
    name: &str,
    spec: &InstanceSpec,
    paths: &RunPaths,
    nics: &[NicBackend],
) -> Result<Vec<String>, LaunchError> {
    // the command line first: a spec it cannot express fails before anything is written
    let args = argv(&Launch {
        namespace,
        name,
        spec,
        host: facts,
        paths,
        nics,
    })?;
    host.create_dir(&paths.dir)?;
    if let Some(cloud_init) = &spec.cloud_init {
        let hostname = if spec.vm_name.is_empty() {
            name
        } else {
            &spec.vm_name
        };
        let iso = nocloud_iso(&NoCloud {
            instance_id: &spec.vm_uid,
            hostname,
            user_data: &cloud_init.user_data,
            network_config: cloud_init.network_config.as_deref(),
        })?;
        host.write(&paths.cloud_init_seed, &iso)?;
    }
    if let Some(files) = &spec.sysprep {
        host.write(&paths.sysprep_seed, &sysprep_iso(files)?)?;
    }
    let firmware = spec.firmware.unwrap_or(Firmware::Bios);
    if firmware != Firmware::Bios && !host.exists(&paths.nvram) {
        let pair = if firmware == Firmware::EfiSecureBoot {
            facts.ovmf.secure.as_ref()
        } else {
            facts.ovmf.standard.as_ref()
        }
        .ok_or(LaunchError::NoVarsTemplate(firmware.as_str()))?;
        host.copy(&pair.vars_template, &paths.nvram)?;
    }
    Ok(args)
}

/// The pid file of a run dir.
pub fn pid_file(dir: &Path) -> std::path::PathBuf {
    dir.join(PID_FILE)
}

/// QEMU's log of a run dir.
pub fn log_file(dir: &Path) -> std::path::PathBuf {
    dir.join(LOG_FILE)
}
