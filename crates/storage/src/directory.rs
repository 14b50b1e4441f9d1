//! Volumes as qcow2 files in a directory tree: `<root>/<class>/<pv name>/disk.qcow2`. The logic
//! both provisioners share; the host effects go through [`Host`].

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::host::{Host, HostError};
use crate::names::DISK_FILE;
use crate::provisioner::{Fill, Usage, Volume, VolumeError, VolumeRequest, check_source_fits};
use crate::source::{SourceFormat, VolumeSource};

/// qcow2 virtual sizes are whole 512-byte sectors; qemu-img rounds requests up.
const SECTOR: u64 = 512;

fn sectors(size: u64) -> u64 {
    size.div_ceil(SECTOR).saturating_mul(SECTOR)
}

/// A file name written while a volume is being made; renamed to `disk.qcow2` once complete, so a
/// `disk.qcow2` is always whole.
const PART_FILE: &str = "disk.qcow2.part";

/// The directory tree of one provisioner.
#[derive(Clone)]
pub struct DirectoryVolumes {
    provisioner: &'static str,
    root: PathBuf,
    source_roots: Vec<PathBuf>,
    host: Arc<dyn Host>,
}

fn single_component(name: &str) -> Result<&str, VolumeError> {
    let mut components = Path::new(name).components();
    match (components.next(), components.next()) {
        (Some(Component::Normal(_)), None) if !name.contains('/') => Ok(name),
        _ => Err(VolumeError::BadName(name.to_string())),
    }
}

/// A source the checks accepted.
struct CheckedSource {
    path: PathBuf,
    virtual_size: u64,
}

impl DirectoryVolumes {
    /// `root` holds the volumes; sources must resolve to files under one of `source_roots`.
    pub fn new(
        provisioner: &'static str,
        root: PathBuf,
        source_roots: Vec<PathBuf>,
        host: Arc<dyn Host>,
    ) -> DirectoryVolumes {
        DirectoryVolumes {
            provisioner,
            root,
            source_roots,
            host,
        }
    }

    pub fn volume_path(&self, class: &str, pv_name: &str) -> Result<PathBuf, VolumeError> {
        Ok(self
            .root
            .join(single_component(class)?)
            .join(single_component(pv_name)?)
            .join(DISK_FILE))
    }

    /// Refuses paths that are not `<root>/<class>/<pv>/disk.qcow2`: deleting or resizing is only
    /// ever done to the provisioner's own files.
    fn check_owned(&self, path: &Path) -> Result<(), VolumeError> {
        let not_ours = || VolumeError::NotAVolume {
            path: path.to_path_buf(),
            provisioner: self.provisioner,
            root: self.root.clone(),
        };
        let rest = path.strip_prefix(&self.root).map_err(|_| not_ours())?;
        let parts: Vec<Component> = rest.components().collect();
        let well_formed = parts.len() == 3
            && parts.iter().all(|c| matches!(c, Component::Normal(_)))
            && parts[2].as_os_str() == DISK_FILE;
        if well_formed { Ok(()) } else { Err(not_ours()) }
    }

    /// Host failures that mean "the disk is full" become [`VolumeError::DiskFull`].
    fn classify(dir: &Path, error: HostError) -> VolumeError {
        if error.is_no_space() {
            VolumeError::DiskFull {
                dir: dir.to_path_buf(),
                reason: error.to_string(),
            }
        } else {
            VolumeError::Host(error)
        }
    }

    async fn allowed_roots(&self) -> Vec<PathBuf> {
        let mut roots = Vec::new();
        for root in &self.source_roots {
            if let Ok(resolved) = self.host.canonicalize(root).await {
                roots.push(resolved);
            }
        }
        roots
    }

    async fn resolve_allowed(
        &self,
        path: &Path,
        roots: &[PathBuf],
    ) -> Result<PathBuf, VolumeError> {
        let resolved = self.host.canonicalize(path).await.map_err(|e| {
            if e.is_not_found() {
                VolumeError::SourceMissing {
                    path: path.to_path_buf(),
                }
            } else {
                VolumeError::Host(e)
            }
        })?;
        if roots.iter().any(|root| resolved.starts_with(root)) {
            Ok(resolved)
        } else {
            let roots = self
                .source_roots
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            Err(VolumeError::SourceNotAllowed {
                path: path.to_path_buf(),
                roots,
            })
        }
    }

    /// The source must exist under an allowed root, open as the stated format, keep every file of
    /// its backing chain under an allowed root too (no reading of arbitrary host files), and fit.
    async fn check_source(
        &self,
        path: &Path,
        format: SourceFormat,
        size: u64,
    ) -> Result<CheckedSource, VolumeError> {
        let roots = self.allowed_roots().await;
        let resolved = self.resolve_allowed(path, &roots).await?;
        let chain = self
            .host
            .image_chain(&resolved, format)
            .await
            .map_err(|e| VolumeError::SourceUnreadable {
                path: path.to_path_buf(),
                format,
                reason: e.to_string(),
            })?;
        let Some(top) = chain.first() else {
            return Err(VolumeError::SourceUnreadable {
                path: path.to_path_buf(),
                format,
                reason: "qemu-img described no image".to_string(),
            });
        };
        for image in &chain {
            if let Some(data_file) = &image.data_file {
                return Err(VolumeError::SourceHasDataFile {
                    path: image.path.clone(),
                    data_file: data_file.clone(),
                });
            }
            if let Some(backing) = &image.backing_file {
                self.resolve_allowed(backing, &roots).await?;
            }
        }
        check_source_fits(path, top.virtual_size, size)?;
        Ok(CheckedSource {
            path: resolved,
            virtual_size: top.virtual_size,
        })
    }

    /// Writes the new volume's content to `part`.
    async fn fill(
        &self,
        part: &Path,
        dir: &Path,
        request: &VolumeRequest,
    ) -> Result<Fill, VolumeError> {
        let host = &self.host;
        let size = request.size;
        match &request.source {
            VolumeSource::Blank => {
                host.create_qcow2(part, size, None)
                    .await
                    .map_err(|e| Self::classify(dir, e))?;
                Ok(Fill::Blank)
            }
            VolumeSource::Backing { path, format } => {
                let source = self.check_source(path, *format, size).await?;
                host.create_qcow2(part, size, Some((&source.path, *format)))
                    .await
                    .map_err(|e| Self::classify(dir, e))?;
                Ok(Fill::Overlay)
            }
            VolumeSource::Copy { path, format } => {
                let source = self.check_source(path, *format, size).await?;
                let needed = host.data_bytes(&source.path, *format).await?;
                let available = host.free_bytes(dir).await?;
                if needed > available {
                    return Err(VolumeError::NoSpace {
                        dir: dir.to_path_buf(),
                        needed,
                        available,
                    });
                }
                host.convert_to_qcow2(&source.path, *format, part)
                    .await
                    .map_err(|e| Self::classify(dir, e))?;
                if sectors(size) > source.virtual_size {
                    host.resize_qcow2(part, size)
                        .await
                        .map_err(|e| Self::classify(dir, e))?;
                }
                Ok(Fill::Copy)
            }
        }
    }

    pub async fn create(&self, request: &VolumeRequest) -> Result<Volume, VolumeError> {
        let path = self.volume_path(&request.class, &request.pv_name)?;
        let dir = path
            .parent()
            .expect("a volume path has a directory")
            .to_path_buf();
        if self.host.exists(&path).await? {
            let capacity = self.expand(&path, request.size).await?;
            return Ok(Volume {
                path,
                capacity,
                fill: Fill::Existing,
            });
        }
        self.host
            .create_dir(&dir)
            .await
            .map_err(|e| Self::classify(&dir, e))?;
        let part = dir.join(PART_FILE);
        let made = async {
            self.host.remove_file(&part).await?;
            let fill = self.fill(&part, &dir, request).await?;
            self.host.rename(&part, &path).await?;
            Ok::<Fill, VolumeError>(fill)
        }
        .await;
        let fill = match made {
            Ok(fill) => fill,
            Err(e) => {
                // Leave nothing half-made behind; the next attempt starts clean.
                if let Err(cleanup) = self.host.remove_dir(&dir).await {
                    tracing::warn!(dir = %dir.display(), error = %cleanup,
                        "could not clean up after a failed volume creation");
                }
                return Err(e);
            }
        };
        let capacity = self
            .host
            .image_info(&path, SourceFormat::Qcow2)
            .await?
            .virtual_size;
        Ok(Volume {
            path,
            capacity,
            fill,
        })
    }

    pub async fn expand(&self, path: &Path, size: u64) -> Result<u64, VolumeError> {
        self.check_owned(path)?;
        let current = self
            .host
            .image_info(path, SourceFormat::Qcow2)
            .await?
            .virtual_size;
        let wanted = sectors(size);
        if wanted < current {
            return Err(VolumeError::Shrink {
                path: path.to_path_buf(),
                current,
                requested: size,
            });
        }
        if wanted == current {
            return Ok(current);
        }
        let dir = path.parent().unwrap_or(path);
        self.host
            .resize_qcow2(path, size)
            .await
            .map_err(|e| Self::classify(dir, e))?;
        Ok(self
            .host
            .image_info(path, SourceFormat::Qcow2)
            .await?
            .virtual_size)
    }

    pub async fn delete(&self, path: &Path) -> Result<(), VolumeError> {
        self.check_owned(path)?;
        let dir = path
            .parent()
            .expect("checked: a volume path has a directory");
        Ok(self.host.remove_dir(dir).await?)
    }

    pub async fn usage(&self, path: &Path) -> Result<Usage, VolumeError> {
        self.check_owned(path)?;
        let facts = self.host.image_info(path, SourceFormat::Qcow2).await?;
        Ok(Usage {
            capacity: facts.virtual_size,
            allocated: facts.actual_size.unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_host::{Failure, FakeHost};
    use crate::names::SHARED_PROVISIONER;

    const GIB: u64 = 1 << 30;
    const DIR: &str = "/r/shared/pvc-1";
    const DISK: &str = "/r/shared/pvc-1/disk.qcow2";
    const PART: &str = "/r/shared/pvc-1/disk.qcow2.part";

    fn setup() -> (Arc<FakeHost>, DirectoryVolumes) {
        let host = Arc::new(FakeHost::new());
        host.add_dir("/r");
        host.add_dir("/d/dvcr");
        let volumes = DirectoryVolumes::new(
            SHARED_PROVISIONER,
            "/r".into(),
            vec!["/d/dvcr".into(), "/d/missing".into()],
            host.clone(),
        );
        (host, volumes)
    }

    fn request(size: u64, source: VolumeSource) -> VolumeRequest {
        VolumeRequest {
            class: "shared".into(),
            pv_name: "pvc-1".into(),
            size,
            source,
        }
    }

    fn backing(path: &str) -> VolumeSource {
        VolumeSource::Backing {
            path: path.into(),
            format: SourceFormat::Qcow2,
        }
    }

    fn copy(path: &str) -> VolumeSource {
        VolumeSource::Copy {
            path: path.into(),
            format: SourceFormat::Qcow2,
        }
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_blank_volume_is_written_aside_then_renamed_into_place() {
        let (host, v) = setup();
        let volume = run(v.create(&request(GIB, VolumeSource::Blank))).unwrap();
        assert_eq!(
            volume,
            Volume {
                path: DISK.into(),
                capacity: GIB,
                fill: Fill::Blank
            }
        );
        assert_eq!(
            host.calls(),
            vec![
                format!("mkdir {DIR}"),
                format!("create {PART} {GIB}"),
                format!("rename {PART} -> {DISK}"),
            ]
        );
    }

    #[test]
    fn an_odd_size_is_rounded_up_to_whole_sectors() {
        let (_, v) = setup();
        let volume = run(v.create(&request(1000, VolumeSource::Blank))).unwrap();
        assert_eq!(volume.capacity, 1024);
    }

    #[test]
    fn a_backing_volume_is_an_overlay_on_the_resolved_source() {
        let (host, v) = setup();
        host.add_image("/d/dvcr/blobs/a", "qcow2", GIB / 2, None);
        host.add_link("/d/dvcr/link", "/d/dvcr/blobs/a");
        let volume = run(v.create(&request(10 * GIB, backing("/d/dvcr/link")))).unwrap();
        assert_eq!(volume.fill, Fill::Overlay);
        assert_eq!(volume.capacity, 10 * GIB);
        assert_eq!(
            host.calls()[1],
            format!("create {PART} {} backing=/d/dvcr/blobs/a qcow2", 10 * GIB)
        );
        assert_eq!(
            host.image(DISK).unwrap().backing_file,
            Some("/d/dvcr/blobs/a".into())
        );
    }

    #[test]
    fn a_source_bigger_than_the_request_is_refused_and_nothing_is_left() {
        let (host, v) = setup();
        host.add_image("/d/dvcr/big", "qcow2", 2 * GIB, None);
        let err = run(v.create(&request(GIB, backing("/d/dvcr/big")))).unwrap_err();
        assert!(
            matches!(err, VolumeError::SourceTooBig { virtual_size, requested, .. }
            if virtual_size == 2 * GIB && requested == GIB)
        );
        assert!(!host.has_dir(DIR));
        assert!(!host.calls().iter().any(|c| c.starts_with("create")));
    }

    #[test]
    fn a_source_outside_the_allowed_roots_is_refused() {
        let (host, v) = setup();
        host.add_image("/etc/shadow", "raw", 4096, None);
        let source = VolumeSource::Backing {
            path: "/etc/shadow".into(),
            format: SourceFormat::Raw,
        };
        let err = run(v.create(&request(GIB, source))).unwrap_err();
        assert!(matches!(err, VolumeError::SourceNotAllowed { .. }), "{err}");
        assert!(err.to_string().contains("/d/dvcr"));
    }

    #[test]
    fn a_symlink_out_of_the_allowed_roots_is_refused() {
        let (host, v) = setup();
        host.add_image("/etc/secret.qcow2", "qcow2", 4096, None);
        host.add_link("/d/dvcr/innocent", "/etc/secret.qcow2");
        let err = run(v.create(&request(GIB, backing("/d/dvcr/innocent")))).unwrap_err();
        assert!(matches!(err, VolumeError::SourceNotAllowed { .. }), "{err}");
    }

    #[test]
    fn a_source_whose_backing_file_is_outside_the_roots_is_refused() {
        let (host, v) = setup();
        host.add_image("/etc/base.qcow2", "qcow2", GIB, None);
        host.add_image("/d/dvcr/top", "qcow2", GIB, Some("/etc/base.qcow2"));
        let err = run(v.create(&request(GIB, copy("/d/dvcr/top")))).unwrap_err();
        assert!(
            matches!(err, VolumeError::SourceNotAllowed { ref path, .. }
            if path == Path::new("/etc/base.qcow2")),
            "{err}"
        );
    }

    #[test]
    fn a_source_keeping_data_in_another_file_is_refused() {
        let (host, v) = setup();
        host.add_image("/d/dvcr/x", "qcow2", GIB, None);
        host.set_data_file("/d/dvcr/x", "/etc/passwd");
        let err = run(v.create(&request(GIB, backing("/d/dvcr/x")))).unwrap_err();
        assert!(
            matches!(err, VolumeError::SourceHasDataFile { .. }),
            "{err}"
        );
    }

    #[test]
    fn a_missing_source_says_so() {
        let (_, v) = setup();
        let err = run(v.create(&request(GIB, backing("/d/dvcr/nope")))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the source file /d/dvcr/nope does not exist"
        );
    }

    #[test]
    fn a_source_of_the_wrong_format_is_unreadable() {
        let (host, v) = setup();
        host.add_image("/d/dvcr/raw.img", "raw", GIB, None);
        let err = run(v.create(&request(GIB, backing("/d/dvcr/raw.img")))).unwrap_err();
        assert!(matches!(err, VolumeError::SourceUnreadable { .. }), "{err}");
    }

    #[test]
    fn a_copy_converts_the_source_then_grows_it_to_the_request() {
        let (host, v) = setup();
        host.add_image("/d/dvcr/img", "qcow2", GIB, None);
        let volume = run(v.create(&request(3 * GIB, copy("/d/dvcr/img")))).unwrap();
        assert_eq!(volume.fill, Fill::Copy);
        assert_eq!(volume.capacity, 3 * GIB);
        assert_eq!(
            host.calls(),
            vec![
                format!("mkdir {DIR}"),
                format!("convert /d/dvcr/img qcow2 -> {PART}"),
                format!("resize {PART} {}", 3 * GIB),
                format!("rename {PART} -> {DISK}"),
            ]
        );
        assert_eq!(host.image(DISK).unwrap().backing_file, None);
    }

    #[test]
    fn a_copy_of_the_same_size_is_not_resized() {
        let (host, v) = setup();
        host.add_image("/d/dvcr/img", "qcow2", GIB, None);
        run(v.create(&request(GIB, copy("/d/dvcr/img")))).unwrap();
        assert!(!host.calls().iter().any(|c| c.starts_with("resize")));
    }

    #[test]
    fn a_copy_without_room_fails_before_writing() {
        let (host, v) = setup();
        host.add_image("/d/dvcr/img", "qcow2", GIB, None);
        host.set_free(1000);
        let err = run(v.create(&request(GIB, copy("/d/dvcr/img")))).unwrap_err();
        assert!(
            matches!(err, VolumeError::NoSpace { needed, available: 1000, .. } if needed == GIB / 2)
        );
        assert!(!host.calls().iter().any(|c| c.starts_with("convert")));
        assert!(!host.has_dir(DIR));
    }

    #[test]
    fn a_full_disk_during_creation_is_reported_and_cleaned_up() {
        let (host, v) = setup();
        host.fail("create_qcow2", Failure::NoSpace);
        let err = run(v.create(&request(GIB, VolumeSource::Blank))).unwrap_err();
        assert!(matches!(err, VolumeError::DiskFull { .. }), "{err}");
        assert_eq!(host.calls().last().unwrap(), &format!("rm -r {DIR}"));
        assert!(host.image(PART).is_none());
    }

    #[test]
    fn other_host_failures_are_passed_on_and_cleaned_up() {
        let (host, v) = setup();
        host.add_image("/d/dvcr/img", "qcow2", GIB, None);
        host.fail("convert", Failure::Broken);
        let err = run(v.create(&request(GIB, copy("/d/dvcr/img")))).unwrap_err();
        assert!(matches!(err, VolumeError::Host(_)), "{err}");
        assert!(!host.has_dir(DIR));
    }

    #[test]
    fn a_finished_volume_is_kept_on_retry() {
        let (host, v) = setup();
        host.add_image(DISK, "qcow2", GIB, None);
        let volume = run(v.create(&request(GIB, VolumeSource::Blank))).unwrap();
        assert_eq!(volume.fill, Fill::Existing);
        assert!(host.calls().is_empty());
    }

    #[test]
    fn a_leftover_part_file_is_replaced() {
        let (host, v) = setup();
        host.add_image(PART, "qcow2", 5, None);
        run(v.create(&request(GIB, VolumeSource::Blank))).unwrap();
        assert_eq!(host.calls()[1], format!("rm {PART}"));
        assert_eq!(host.image(DISK).unwrap().virtual_size, GIB);
    }

    #[test]
    fn expand_grows_the_file() {
        let (host, v) = setup();
        host.add_image(DISK, "qcow2", GIB, None);
        assert_eq!(run(v.expand(Path::new(DISK), 2 * GIB)).unwrap(), 2 * GIB);
        assert_eq!(host.calls(), vec![format!("resize {DISK} {}", 2 * GIB)]);
    }

    #[test]
    fn expand_to_the_current_size_does_nothing() {
        let (host, v) = setup();
        host.add_image(DISK, "qcow2", 1024, None);
        assert_eq!(run(v.expand(Path::new(DISK), 1000)).unwrap(), 1024);
        assert!(host.calls().is_empty());
    }

    #[test]
    fn expand_never_shrinks() {
        let (host, v) = setup();
        host.add_image(DISK, "qcow2", 2 * GIB, None);
        let err = run(v.expand(Path::new(DISK), GIB)).unwrap_err();
        assert!(matches!(err, VolumeError::Shrink { .. }), "{err}");
        assert!(host.calls().is_empty());
    }

    #[test]
    fn files_outside_the_volume_layout_are_never_touched() {
        let (host, v) = setup();
        for path in [
            "/etc/passwd",
            "/r/shared/disk.qcow2",
            "/r/shared/pvc-1/other.qcow2",
            "/r/shared/../x/disk.qcow2",
            "/r/a/b/c/disk.qcow2",
        ] {
            let err = run(v.delete(Path::new(path))).unwrap_err();
            assert!(
                matches!(err, VolumeError::NotAVolume { .. }),
                "{path}: {err}"
            );
            let err = run(v.expand(Path::new(path), GIB)).unwrap_err();
            assert!(
                matches!(err, VolumeError::NotAVolume { .. }),
                "{path}: {err}"
            );
        }
        assert!(host.calls().is_empty());
    }

    #[test]
    fn delete_removes_the_volume_directory() {
        let (host, v) = setup();
        host.add_image(DISK, "qcow2", GIB, None);
        run(v.delete(Path::new(DISK))).unwrap();
        assert_eq!(host.calls(), vec![format!("rm -r {DIR}")]);
        assert!(host.image(DISK).is_none());
    }

    #[test]
    fn usage_reports_capacity_and_allocation() {
        let (host, v) = setup();
        host.add_image(DISK, "qcow2", GIB, None);
        assert_eq!(
            run(v.usage(Path::new(DISK))).unwrap(),
            Usage {
                capacity: GIB,
                allocated: GIB / 2
            }
        );
    }
}
