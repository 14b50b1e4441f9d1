//! Pure construction of qemu-img command lines (everything after the program name).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::ImageFormat;

/// Options of `qemu-img info`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InfoOptions {
    /// Skip format probing: open the image as this format.
    pub format: Option<ImageFormat>,
    /// `-U`: read an image another process (a running QEMU) holds locked.
    pub force_share: bool,
    /// `--backing-chain`: describe every image of the chain, top first.
    pub backing_chain: bool,
}

/// Guest-visible cache mode of one side of a conversion (`-t` / `-T`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheMode {
    None,
    Writeback,
    Writethrough,
    Directsync,
    Unsafe,
}

impl CacheMode {
    fn as_str(self) -> &'static str {
        match self {
            CacheMode::None => "none",
            CacheMode::Writeback => "writeback",
            CacheMode::Writethrough => "writethrough",
            CacheMode::Directsync => "directsync",
            CacheMode::Unsafe => "unsafe",
        }
    }
}

/// Tuning and target options of `qemu-img convert`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConvertOptions {
    /// `-U`: read a source another process holds locked.
    pub force_share: bool,
    /// `-c`: compress the target's clusters (qcow2 only).
    pub compress: bool,
    /// `-W`: allow out-of-order writes, faster for qcow2 targets.
    pub out_of_order: bool,
    /// `-m N`: number of parallel coroutines (qemu-img's default is 8).
    pub coroutines: Option<u8>,
    /// `-o key=value,…`: creation options of the target format (`compat=1.1`, `cluster_size=…`).
    pub target_options: Vec<(String, String)>,
    /// `-T`: cache mode used to read the source.
    pub source_cache: Option<CacheMode>,
    /// `-t`: cache mode used to write the target.
    pub target_cache: Option<CacheMode>,
}

/// Options of `qemu-img check` / `compare` / `map` that only read images.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadOptions {
    pub format: Option<ImageFormat>,
    pub force_share: bool,
}

/// Options of `qemu-img compare`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompareOptions {
    pub first_format: Option<ImageFormat>,
    pub second_format: Option<ImageFormat>,
    pub force_share: bool,
    /// `-s`: images of different sizes are different even if the extra area reads as zeros.
    pub strict: bool,
}

/// qemu treats `proto:rest` (a colon before the first slash) as a protocol and a leading `-` as
/// an option; relative paths get a `./` prefix so a file name is always taken as a file.
pub fn path_arg(path: &Path) -> OsString {
    if path.is_absolute() || path.starts_with(".") || path.starts_with("..") {
        path.as_os_str().to_owned()
    } else {
        PathBuf::from(".").join(path).into_os_string()
    }
}

fn push(args: &mut Vec<OsString>, items: &[&str]) {
    args.extend(items.iter().map(OsString::from));
}

fn push_format(args: &mut Vec<OsString>, flag: &str, format: Option<&ImageFormat>) {
    if let Some(format) = format {
        push(args, &[flag, format.as_str()]);
    }
}

/// `qemu-img info --output=json [-U] [-f FMT] [--backing-chain] PATH`
pub fn info(path: &Path, options: &InfoOptions) -> Vec<OsString> {
    let mut args = Vec::new();
    push(&mut args, &["info", "--output=json"]);
    if options.force_share {
        push(&mut args, &["-U"]);
    }
    push_format(&mut args, "-f", options.format.as_ref());
    if options.backing_chain {
        push(&mut args, &["--backing-chain"]);
    }
    args.push(path_arg(path));
    args
}

/// `qemu-img create -q -f FMT [-b BACKING -F BFMT] PATH SIZE`
pub fn create(
    path: &Path,
    format: &ImageFormat,
    size: u64,
    backing: Option<(&Path, &ImageFormat)>,
) -> Vec<OsString> {
    let mut args = Vec::new();
    push(&mut args, &["create", "-q", "-f", format.as_str()]);
    if let Some((backing_path, backing_format)) = backing {
        push(&mut args, &["-b"]);
        args.push(path_arg(backing_path));
        push(&mut args, &["-F", backing_format.as_str()]);
    }
    args.push(path_arg(path));
    args.push(size.to_string().into());
    args
}

/// `qemu-img convert -p [options] [-f SFMT] -O TFMT SRC DST`
pub fn convert(
    source: &Path,
    source_format: Option<&ImageFormat>,
    target: &Path,
    target_format: &ImageFormat,
    options: &ConvertOptions,
) -> Vec<OsString> {
    let mut args = Vec::new();
    push(&mut args, &["convert", "-p"]);
    if options.force_share {
        push(&mut args, &["-U"]);
    }
    push_format(&mut args, "-f", source_format);
    push(&mut args, &["-O", target_format.as_str()]);
    if options.compress {
        push(&mut args, &["-c"]);
    }
    if options.out_of_order {
        push(&mut args, &["-W"]);
    }
    if let Some(count) = options.coroutines {
        push(&mut args, &["-m", &count.to_string()]);
    }
    if !options.target_options.is_empty() {
        let joined = options
            .target_options
            .iter()
            .map(|(key, value)| format!("{key}={}", value.replace(',', ",,")))
            .collect::<Vec<_>>()
            .join(",");
        push(&mut args, &["-o", &joined]);
    }
    if let Some(cache) = options.source_cache {
        push(&mut args, &["-T", cache.as_str()]);
    }
    if let Some(cache) = options.target_cache {
        push(&mut args, &["-t", cache.as_str()]);
    }
    args.push(path_arg(source));
    args.push(path_arg(target));
    args
}

/// `qemu-img resize -q -f FMT PATH SIZE` (growing only: no `--shrink`).
pub fn resize(path: &Path, format: &ImageFormat, size: u64) -> Vec<OsString> {
    let mut args = Vec::new();
    push(&mut args, &["resize", "-q", "-f", format.as_str()]);
    args.push(path_arg(path));
    args.push(size.to_string().into());
    args
}

/// `qemu-img check --output=json [-U] [-f FMT] PATH`
pub fn check(path: &Path, options: &ReadOptions) -> Vec<OsString> {
    let mut args = Vec::new();
    push(&mut args, &["check", "--output=json"]);
    if options.force_share {
        push(&mut args, &["-U"]);
    }
    push_format(&mut args, "-f", options.format.as_ref());
    args.push(path_arg(path));
    args
}

/// `qemu-img compare -q [-U] [-f FMT] [-F FMT] [-s] A B`
pub fn compare(first: &Path, second: &Path, options: &CompareOptions) -> Vec<OsString> {
    let mut args = Vec::new();
    push(&mut args, &["compare", "-q"]);
    if options.force_share {
        push(&mut args, &["-U"]);
    }
    push_format(&mut args, "-f", options.first_format.as_ref());
    push_format(&mut args, "-F", options.second_format.as_ref());
    if options.strict {
        push(&mut args, &["-s"]);
    }
    args.push(path_arg(first));
    args.push(path_arg(second));
    args
}

/// `qemu-img map --output=json [-U] [-f FMT] PATH`
pub fn map(path: &Path, options: &ReadOptions) -> Vec<OsString> {
    let mut args = Vec::new();
    push(&mut args, &["map", "--output=json"]);
    if options.force_share {
        push(&mut args, &["-U"]);
    }
    push_format(&mut args, "-f", options.format.as_ref());
    args.push(path_arg(path));
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: Vec<OsString>) -> Vec<String> {
        args.into_iter().map(|a| a.into_string().unwrap()).collect()
    }

    #[test]
    fn info_with_every_option() {
        let options = InfoOptions {
            format: Some(ImageFormat::Qcow2),
            force_share: true,
            backing_chain: true,
        };
        assert_eq!(
            strings(info(Path::new("/d/a.qcow2"), &options)),
            [
                "info",
                "--output=json",
                "-U",
                "-f",
                "qcow2",
                "--backing-chain",
                "/d/a.qcow2"
            ]
        );
    }

    #[test]
    fn info_without_options_lets_qemu_probe() {
        assert_eq!(
            strings(info(Path::new("/d/a"), &InfoOptions::default())),
            ["info", "--output=json", "/d/a"]
        );
    }

    #[test]
    fn relative_paths_cannot_be_read_as_protocols_or_options() {
        assert_eq!(
            path_arg(Path::new("nbd:host/x")),
            OsString::from("./nbd:host/x")
        );
        assert_eq!(path_arg(Path::new("-f")), OsString::from("./-f"));
        assert_eq!(path_arg(Path::new("./a")), OsString::from("./a"));
        assert_eq!(path_arg(Path::new("/abs/x:y")), OsString::from("/abs/x:y"));
    }

    #[test]
    fn create_overlay_names_backing_and_its_format() {
        let args = create(
            Path::new("/v/disk.qcow2"),
            &ImageFormat::Qcow2,
            10 << 30,
            Some((Path::new("/b/blob"), &ImageFormat::Qcow2)),
        );
        assert_eq!(
            strings(args),
            [
                "create",
                "-q",
                "-f",
                "qcow2",
                "-b",
                "/b/blob",
                "-F",
                "qcow2",
                "/v/disk.qcow2",
                "10737418240"
            ]
        );
    }

    #[test]
    fn create_blank_has_no_backing_flags() {
        let args = strings(create(Path::new("/v/d"), &ImageFormat::Raw, 512, None));
        assert_eq!(args, ["create", "-q", "-f", "raw", "/v/d", "512"]);
    }

    #[test]
    fn convert_with_all_options() {
        let options = ConvertOptions {
            force_share: true,
            compress: true,
            out_of_order: true,
            coroutines: Some(16),
            target_options: vec![
                ("compat".into(), "1.1".into()),
                ("cluster_size".into(), "65536".into()),
            ],
            source_cache: Some(CacheMode::None),
            target_cache: Some(CacheMode::Unsafe),
        };
        let args = convert(
            Path::new("/s"),
            Some(&ImageFormat::Vmdk),
            Path::new("/t"),
            &ImageFormat::Qcow2,
            &options,
        );
        assert_eq!(
            strings(args),
            [
                "convert",
                "-p",
                "-U",
                "-f",
                "vmdk",
                "-O",
                "qcow2",
                "-c",
                "-W",
                "-m",
                "16",
                "-o",
                "compat=1.1,cluster_size=65536",
                "-T",
                "none",
                "-t",
                "unsafe",
                "/s",
                "/t"
            ]
        );
    }

    #[test]
    fn convert_escapes_commas_in_option_values() {
        let options = ConvertOptions {
            target_options: vec![("data_file".into(), "a,b".into())],
            ..Default::default()
        };
        let args = strings(convert(
            Path::new("/s"),
            None,
            Path::new("/t"),
            &ImageFormat::Qcow2,
            &options,
        ));
        assert!(args.contains(&"data_file=a,,b".to_string()), "{args:?}");
    }

    #[test]
    fn convert_without_source_format_probes() {
        let args = strings(convert(
            Path::new("/s"),
            None,
            Path::new("/t"),
            &ImageFormat::Qcow2,
            &ConvertOptions::default(),
        ));
        assert_eq!(args, ["convert", "-p", "-O", "qcow2", "/s", "/t"]);
    }

    #[test]
    fn resize_never_shrinks() {
        let args = strings(resize(Path::new("/d"), &ImageFormat::Qcow2, 1024));
        assert_eq!(args, ["resize", "-q", "-f", "qcow2", "/d", "1024"]);
    }

    #[test]
    fn check_compare_and_map_read_shared() {
        let read = ReadOptions {
            format: Some(ImageFormat::Qcow2),
            force_share: true,
        };
        assert_eq!(
            strings(check(Path::new("/d"), &read)),
            ["check", "--output=json", "-U", "-f", "qcow2", "/d"]
        );
        assert_eq!(
            strings(map(Path::new("/d"), &read)),
            ["map", "--output=json", "-U", "-f", "qcow2", "/d"]
        );
        let compare_options = CompareOptions {
            first_format: Some(ImageFormat::Qcow2),
            second_format: Some(ImageFormat::Raw),
            force_share: true,
            strict: true,
        };
        assert_eq!(
            strings(compare(Path::new("/a"), Path::new("/b"), &compare_options)),
            [
                "compare", "-q", "-U", "-f", "qcow2", "-F", "raw", "-s", "/a", "/b"
            ]
        );
    }
}
