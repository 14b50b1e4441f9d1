//! What the command line depends on about the host: the accelerator, the UEFI firmware files, the
//! QEMU version and what this QEMU build supports. [`probe`] finds them once at agent start; the
//! decisions themselves ([`choose_accel`], [`parse_version`], [`find_ovmf`]) are pure.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// How guest code runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    /// Hardware virtualization through `/dev/kvm`.
    Kvm,
    /// QEMU's binary translator (slow, works everywhere).
    Tcg,
}

impl Accel {
    /// `kvm` or `tcg`, as QEMU and the Node label spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }

    /// `kvm`/`tcg` (any case); None for anything else.
    pub fn parse(text: &str) -> Option<Accel> {
        match text.trim().to_ascii_lowercase().as_str() {
            "kvm" => Some(Accel::Kvm),
            "tcg" => Some(Accel::Tcg),
            _ => None,
        }
    }
}

/// UEFI firmware: the read-only code and the template of the per-VM variable store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirmwarePair {
    pub code: PathBuf,
    pub vars_template: PathBuf,
}

/// The OVMF builds found on the host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ovmf {
    /// Plain UEFI (`EFI`).
    pub standard: Option<FirmwarePair>,
    /// UEFI with Secure Boot enforced and Microsoft keys enrolled (`EFIWithSecureBoot`).
    pub secure: Option<FirmwarePair>,
}

/// QEMU's version, e.g. 10.0.2.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct QemuVersion {
    pub major: u32,
    pub minor: u32,
    pub micro: u32,
}

impl std::fmt::Display for QemuVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.micro)
    }
}

/// Everything about the host the command line depends on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostFacts {
    pub accel: Accel,
    pub ovmf: Ovmf,
    pub qemu_version: QemuVersion,
    /// This QEMU build has seccomp (`-sandbox on`).
    pub sandbox: bool,
    /// Unprivileged user QEMU switches to after opening its files (`-run-with user=`).
    pub run_as: Option<String>,
}

impl HostFacts {
    /// Facts for tests and golden files: TCG, Debian's OVMF paths, QEMU 10.0.2, sandbox on.
    pub fn example() -> HostFacts {
        let dir = Path::new("/usr/share/OVMF");
        HostFacts {
            accel: Accel::Tcg,
            ovmf: Ovmf {
                standard: Some(FirmwarePair {
                    code: dir.join("OVMF_CODE_4M.fd"),
                    vars_template: dir.join("OVMF_VARS_4M.fd"),
                }),
                secure: Some(FirmwarePair {
                    code: dir.join("OVMF_CODE_4M.secboot.fd"),
                    vars_template: dir.join("OVMF_VARS_4M.ms.fd"),
                }),
            },
            qemu_version: QemuVersion {
                major: 10,
                minor: 0,
                micro: 2,
            },
            sandbox: true,
            run_as: None,
        }
    }
}

/// What decides the accelerator, read from the host by [`probe`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KvmProbe {
    /// `/dev/kvm` opened read-write.
    pub device_opens: bool,
    /// `/sys/module/kvm_pvm` exists: a KVM that only runs PVM-enlightened kernels, no firmware.
    pub pvm_module: bool,
}

/// The accelerator to use and why: an explicit choice wins, else KVM when it can run firmware.
pub fn choose_accel(forced: Option<Accel>, kvm: KvmProbe) -> (Accel, &'static str) {
    if let Some(accel) = forced {
        return (accel, "chosen by configuration");
    }
    if !kvm.device_opens {
        return (Accel::Tcg, "/dev/kvm is missing or cannot be opened");
    }
    if kvm.pvm_module {
        return (
            Accel::Tcg,
            "/dev/kvm is the kvm_pvm module, which cannot run firmware",
        );
    }
    (Accel::Kvm, "/dev/kvm works")
}

/// The version in `qemu-system-x86_64 --version` output ("QEMU emulator version 10.0.2 (…)").
pub fn parse_version(text: &str) -> Option<QemuVersion> {
    let rest = text.split("version").nth(1)?.trim_start();
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut parts = word.split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    let micro = parts.next().flatten().unwrap_or(0);
    Some(QemuVersion {
        major,
        minor,
        micro,
    })
}

/// Where distributions install OVMF: (code, vars) for plain UEFI and for Secure Boot, best first.
const STANDARD_CANDIDATES: &[(&str, &str)] = &[
    (
        "/usr/share/OVMF/OVMF_CODE_4M.fd",
        "/usr/share/OVMF/OVMF_VARS_4M.fd",
    ),
    (
        "/usr/share/OVMF/OVMF_CODE.fd",
        "/usr/share/OVMF/OVMF_VARS.fd",
    ),
    (
        "/usr/share/edk2/ovmf/OVMF_CODE.fd",
        "/usr/share/edk2/ovmf/OVMF_VARS.fd",
    ),
    (
        "/usr/share/edk2/x64/OVMF_CODE.4m.fd",
        "/usr/share/edk2/x64/OVMF_VARS.4m.fd",
    ),
    (
        "/usr/share/qemu/edk2-x86_64-code.fd",
        "/usr/share/qemu/edk2-i386-vars.fd",
    ),
];

const SECURE_CANDIDATES: &[(&str, &str)] = &[
    (
        "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd",
        "/usr/share/OVMF/OVMF_VARS_4M.ms.fd",
    ),
    (
        "/usr/share/OVMF/OVMF_CODE.secboot.fd",
        "/usr/share/OVMF/OVMF_VARS.ms.fd",
    ),
    (
        "/usr/share/edk2/ovmf/OVMF_CODE.secboot.fd",
        "/usr/share/edk2/ovmf/OVMF_VARS.secboot.fd",
    ),
    (
        "/usr/share/edk2/x64/OVMF_CODE.secboot.4m.fd",
        "/usr/share/edk2/x64/OVMF_VARS.4m.fd",
    ),
    (
        "/usr/share/qemu/edk2-x86_64-secure-code.fd",
        "/usr/share/qemu/edk2-i386-vars.fd",
    ),
];

/// The first candidate pairs whose two files both exist (`exists` is the file check).
pub fn find_ovmf(exists: impl Fn(&Path) -> bool) -> Ovmf {
    let first = |candidates: &[(&str, &str)]| {
        candidates
            .iter()
            .find(|(code, vars)| exists(Path::new(code)) && exists(Path::new(vars)))
            .map(|(code, vars)| FirmwarePair {
                code: PathBuf::from(code),
                vars_template: PathBuf::from(vars),
            })
    };
    Ovmf {
        standard: first(STANDARD_CANDIDATES),
        secure: first(SECURE_CANDIDATES),
    }
}

/// Choices that override what [`probe`] would find.
#[derive(Clone, Debug, Default)]
pub struct ProbeOptions {
    /// The QEMU binary (default `qemu-system-x86_64` on PATH).
    pub qemu: Option<PathBuf>,
    /// Force an accelerator (also `DVP_ACCEL=kvm|tcg` in the environment).
    pub accel: Option<Accel>,
    /// Use this UEFI firmware instead of searching for one.
    pub ovmf: Option<FirmwarePair>,
    /// The user QEMU should run as (default: `dvp-qemu` when that user exists).
    pub run_as: Option<String>,
}

/// Why the host cannot run guests at all.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot run {program} --version: {source} (install QEMU: the qemu-system-x86 package)")]
    QemuMissing {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{program} --version printed no version: {output:?}")]
    QemuVersion { program: String, output: String },
}

/// The QEMU program a [`ProbeOptions`] names.
pub fn qemu_program(options: &ProbeOptions) -> PathBuf {
    options
        .qemu
        .clone()
        .unwrap_or_else(|| PathBuf::from("qemu-system-x86_64"))
}

/// Looks at the host once: accelerator, OVMF, QEMU version and features, unprivileged user.
pub async fn probe(options: &ProbeOptions) -> Result<HostFacts, ProbeError> {
    let program = qemu_program(options);
    let output = tokio::process::Command::new(&program)
        .arg("--version")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| ProbeError::QemuMissing {
            program: program.display().to_string(),
            source,
        })?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let qemu_version = parse_version(&text).ok_or_else(|| ProbeError::QemuVersion {
        program: program.display().to_string(),
        output: text.clone(),
    })?;
    let forced = options.accel.or_else(|| {
        std::env::var("DVP_ACCEL")
            .ok()
            .and_then(|v| Accel::parse(&v))
    });
    let kvm = KvmProbe {
        device_opens: std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm")
            .is_ok(),
        pvm_module: Path::new("/sys/module/kvm_pvm").exists(),
    };
    let (accel, _) = choose_accel(forced, kvm);
    let ovmf = match &options.ovmf {
        Some(pair) => Ovmf {
            standard: Some(pair.clone()),
            secure: find_ovmf(|p| p.exists()).secure,
        },
        None => find_ovmf(|p| p.exists()),
    };
    let run_as = match &options.run_as {
        Some(user) => Some(user.clone()),
        None => std::fs::read_to_string("/etc/passwd")
            .ok()
            .filter(|passwd| user_exists(passwd, DEFAULT_USER))
            .map(|_| DEFAULT_USER.to_string()),
    };
    Ok(HostFacts {
        accel,
        ovmf,
        qemu_version,
        sandbox: supports_sandbox(&program).await,
        run_as,
    })
}

/// The unprivileged user QEMU runs as when the host has it.
pub const DEFAULT_USER: &str = "dvp-qemu";

/// `name` has an entry in an `/etc/passwd` text.
pub fn user_exists(passwd: &str, name: &str) -> bool {
    passwd
        .lines()
        .any(|line| line.split(':').next() == Some(name))
}

/// Whether this build accepts `-sandbox on` (seccomp compiled in): the option is parsed before
/// `-version` exits, so an unsupported one fails the run.
async fn supports_sandbox(program: &Path) -> bool {
    let run = tokio::process::Command::new(program)
        .args(["-sandbox", "on", "-version"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .status();
    matches!(
        tokio::time::timeout(Duration::from_secs(10), run).await,
        Ok(Ok(status)) if status.success()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKING: KvmProbe = KvmProbe {
        device_opens: true,
        pvm_module: false,
    };

    #[test]
    fn kvm_is_used_when_the_device_works() {
        assert_eq!(choose_accel(None, WORKING).0, Accel::Kvm);
    }

    #[test]
    fn pvm_kvm_falls_back_to_tcg() {
        let pvm = KvmProbe {
            pvm_module: true,
            ..WORKING
        };
        assert_eq!(choose_accel(None, pvm).0, Accel::Tcg);
    }

    #[test]
    fn missing_kvm_falls_back_to_tcg() {
        let none = KvmProbe {
            device_opens: false,
            pvm_module: false,
        };
        assert_eq!(choose_accel(None, none).0, Accel::Tcg);
    }

    #[test]
    fn a_forced_accelerator_wins() {
        assert_eq!(choose_accel(Some(Accel::Tcg), WORKING).0, Accel::Tcg);
    }

    #[test]
    fn debian_version_string_is_parsed() {
        let text = "QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)\nCopyright";
        assert_eq!(
            parse_version(text),
            Some(QemuVersion {
                major: 10,
                minor: 0,
                micro: 2
            })
        );
    }

    #[test]
    fn version_without_micro_is_parsed() {
        assert_eq!(
            parse_version("QEMU emulator version 8.2").map(|v| v.to_string()),
            Some("8.2.0".to_string())
        );
    }

    #[test]
    fn garbage_has_no_version() {
        assert_eq!(parse_version("hello"), None);
    }

    #[test]
    fn ovmf_prefers_the_4m_build() {
        let found = find_ovmf(|_| true);
        assert_eq!(
            found.standard.unwrap().code,
            PathBuf::from("/usr/share/OVMF/OVMF_CODE_4M.fd")
        );
        assert!(
            found
                .secure
                .unwrap()
                .code
                .to_string_lossy()
                .contains("secboot")
        );
    }

    #[test]
    fn ovmf_needs_both_files() {
        let found = find_ovmf(|p| p.to_string_lossy().contains("CODE"));
        assert_eq!(found, Ovmf::default());
    }

    #[test]
    fn passwd_lookup_matches_whole_names() {
        let passwd = "root:x:0:0::/root:/bin/sh\ndvp-qemu-old:x:1:1::/:/bin/false\n";
        assert!(!user_exists(passwd, "dvp-qemu"));
        assert!(user_exists(passwd, "root"));
    }
}
