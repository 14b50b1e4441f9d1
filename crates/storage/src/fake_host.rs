//! A recording fake of [`Host`] for unit tests: images are entries in a map, and every change to
//! the "disk" is recorded as a line so tests can assert what a provisioner did, in order.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use dvp_qemu::qemu_img::QemuImgError;

use crate::host::{Host, HostError, ImageFacts};
use crate::source::SourceFormat;

/// How an operation made to fail fails.
#[derive(Clone, Copy, Debug)]
pub enum Failure {
    NoSpace,
    Broken,
}

#[derive(Default)]
struct State {
    images: BTreeMap<PathBuf, ImageFacts>,
    dirs: BTreeSet<PathBuf>,
    links: BTreeMap<PathBuf, PathBuf>,
    free: u64,
    failures: BTreeMap<&'static str, Failure>,
    calls: Vec<String>,
}

pub struct FakeHost {
    state: Mutex<State>,
}

fn qemu_failure(op: &'static str, path: &Path, failure: Failure) -> HostError {
    let stderr = match failure {
        Failure::NoSpace => "qemu-img: error while writing: No space left on device",
        Failure::Broken => "qemu-img: something broke",
    };
    HostError::QemuImg(QemuImgError::Failed {
        operation: op,
        path: path.to_path_buf(),
        status: "exit status: 1".into(),
        stderr: stderr.into(),
    })
}

fn not_found(op: &'static str, path: &Path) -> HostError {
    HostError::io(op, path, io::Error::from(io::ErrorKind::NotFound))
}

impl FakeHost {
    pub fn new() -> FakeHost {
        FakeHost {
            state: Mutex::new(State {
                free: u64::MAX,
                ..State::default()
            }),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("not poisoned"))
    }

    pub fn add_dir(&self, dir: &str) {
        self.with(|s| s.dirs.insert(dir.into()));
    }

    /// An image file with the given facts (and its directory).
    pub fn add_image(&self, path: &str, format: &str, virtual_size: u64, backing: Option<&str>) {
        let path = PathBuf::from(path);
        self.with(|s| {
            if let Some(dir) = path.parent() {
                s.dirs.insert(dir.to_path_buf());
            }
            s.images.insert(
                path.clone(),
                ImageFacts {
                    path,
                    format: format.into(),
                    virtual_size,
                    actual_size: Some(virtual_size / 2),
                    backing_file: backing.map(PathBuf::from),
                    data_file: None,
                },
            )
        });
    }

    pub fn set_data_file(&self, path: &str, data_file: &str) {
        self.with(|s| {
            s.images.get_mut(Path::new(path)).unwrap().data_file = Some(data_file.into())
        });
    }

    /// `from` resolves to `to` (a symlink).
    pub fn add_link(&self, from: &str, to: &str) {
        self.with(|s| s.links.insert(from.into(), to.into()));
    }

    pub fn set_free(&self, bytes: u64) {
        self.with(|s| s.free = bytes);
    }

    /// Make every later `op` (`create_qcow2`, `convert`, `resize`, `rename`) fail.
    pub fn fail(&self, op: &'static str, failure: Failure) {
        self.with(|s| s.failures.insert(op, failure));
    }

    pub fn calls(&self) -> Vec<String> {
        self.with(|s| s.calls.clone())
    }

    pub fn image(&self, path: &str) -> Option<ImageFacts> {
        self.with(|s| s.images.get(Path::new(path)).cloned())
    }

    pub fn has_dir(&self, dir: &str) -> bool {
        self.with(|s| s.dirs.contains(Path::new(dir)))
    }

    fn record(&self, op: &'static str, path: &Path, line: String) -> Result<(), HostError> {
        self.with(|s| {
            s.calls.push(line);
            match s.failures.get(op) {
                Some(f) => Err(qemu_failure(op, path, *f)),
                None => Ok(()),
            }
        })
    }
}

#[async_trait]
impl Host for FakeHost {
    async fn image_info(&self, path: &Path, format: SourceFormat) -> Result<ImageFacts, HostError> {
        let facts = self
            .with(|s| s.images.get(path).cloned())
            .ok_or_else(|| not_found("open", path))?;
        if format == SourceFormat::Qcow2 && facts.format != "qcow2" {
            return Err(qemu_failure("info", path, Failure::Broken));
        }
        Ok(facts)
    }

    async fn image_chain(
        &self,
        path: &Path,
        format: SourceFormat,
    ) -> Result<Vec<ImageFacts>, HostError> {
        let mut chain = vec![self.image_info(path, format).await?];
        while let Some(next) = chain.last().and_then(|f| f.backing_file.clone()) {
            let facts = self
                .with(|s| s.images.get(&next).cloned())
                .ok_or_else(|| not_found("open", &next))?;
            chain.push(facts);
        }
        Ok(chain)
    }

    async fn create_qcow2(
        &self,
        path: &Path,
        size: u64,
        backing: Option<(&Path, SourceFormat)>,
    ) -> Result<(), HostError> {
        let line = match backing {
            None => format!("create {} {size}", path.display()),
            Some((b, f)) => format!(
                "create {} {size} backing={} {f}",
                path.display(),
                b.display()
            ),
        };
        self.record("create_qcow2", path, line)?;
        self.with(|s| {
            s.images.insert(
                path.to_path_buf(),
                ImageFacts {
                    path: path.to_path_buf(),
                    format: "qcow2".into(),
                    virtual_size: size.div_ceil(512) * 512,
                    actual_size: Some(196_608),
                    backing_file: backing.map(|(b, _)| b.to_path_buf()),
                    data_file: None,
                },
            );
        });
        Ok(())
    }

    async fn convert_to_qcow2(
        &self,
        source: &Path,
        format: SourceFormat,
        target: &Path,
    ) -> Result<(), HostError> {
        let line = format!(
            "convert {} {format} -> {}",
            source.display(),
            target.display()
        );
        self.record("convert", target, line)?;
        let facts = self.image_info(source, format).await?;
        self.with(|s| {
            s.images.insert(
                target.to_path_buf(),
                ImageFacts {
                    path: target.to_path_buf(),
                    format: "qcow2".into(),
                    backing_file: None,
                    ..facts
                },
            );
        });
        Ok(())
    }

    async fn resize_qcow2(&self, path: &Path, size: u64) -> Result<(), HostError> {
        self.record("resize", path, format!("resize {} {size}", path.display()))?;
        self.with(|s| match s.images.get_mut(path) {
            Some(image) => {
                image.virtual_size = size.div_ceil(512) * 512;
                Ok(())
            }
            None => Err(not_found("resize", path)),
        })
    }

    async fn data_bytes(&self, path: &Path, format: SourceFormat) -> Result<u64, HostError> {
        Ok(self
            .image_info(path, format)
            .await?
            .actual_size
            .unwrap_or(0))
    }

    async fn free_bytes(&self, _dir: &Path) -> Result<u64, HostError> {
        Ok(self.with(|s| s.free))
    }

    async fn canonicalize(&self, path: &Path) -> Result<PathBuf, HostError> {
        self.with(|s| {
            let resolved = s
                .links
                .get(path)
                .cloned()
                .unwrap_or_else(|| path.to_path_buf());
            if s.images.contains_key(&resolved) || s.dirs.contains(&resolved) {
                Ok(resolved)
            } else {
                Err(not_found("resolve", path))
            }
        })
    }

    async fn exists(&self, path: &Path) -> Result<bool, HostError> {
        Ok(self.with(|s| s.images.contains_key(path) || s.dirs.contains(path)))
    }

    async fn create_dir(&self, dir: &Path) -> Result<(), HostError> {
        self.with(|s| {
            s.calls.push(format!("mkdir {}", dir.display()));
            s.dirs.insert(dir.to_path_buf());
        });
        Ok(())
    }

    async fn rename(&self, from: &Path, to: &Path) -> Result<(), HostError> {
        let line = format!("rename {} -> {}", from.display(), to.display());
        self.record("rename", from, line)?;
        self.with(|s| match s.images.remove(from) {
            Some(mut image) => {
                image.path = to.to_path_buf();
                s.images.insert(to.to_path_buf(), image);
                Ok(())
            }
            None => Err(not_found("rename", from)),
        })
    }

    async fn remove_file(&self, path: &Path) -> Result<(), HostError> {
        self.with(|s| {
            if s.images.remove(path).is_some() {
                s.calls.push(format!("rm {}", path.display()));
            }
        });
        Ok(())
    }

    async fn remove_dir(&self, dir: &Path) -> Result<(), HostError> {
        self.with(|s| {
            s.calls.push(format!("rm -r {}", dir.display()));
            s.images.retain(|p, _| !p.starts_with(dir));
            s.dirs.retain(|d| !d.starts_with(dir));
        });
        Ok(())
    }
}
