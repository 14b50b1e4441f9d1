//! `d8 data export download [KIND/]NAME [FILE]`: streams a disk out of the platform.
//!
//! The disk is fetched from the `export` subresource of the VirtualDisk (a flattened qcow2),
//! over HTTPS verified with the kubeconfig's CA and authenticated with its token. `d8 data
//! download` and `d8 download` are accepted as older spellings.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::kubeconfig::{self, Target};

const USAGE: &str =
    "usage: d8 data export download [KIND/]NAME [FILE] [-n NAMESPACE] [-o FILE] [--kubeconfig PATH]

Downloads a disk of the platform as a qcow2 file. KIND is vd (virtualdisk, the default); the
disk must be Ready and not used by a running virtual machine.
  -n, --namespace   namespace of the disk (default: the kubeconfig context's)
  -o, --output      file to write, or - for standard output (default: NAME.img)
      --publish     accepted for compatibility (the platform's address is used as is)
      --ttl, --cleanup  accepted for compatibility";

/// What to download.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub name: String,
    pub namespace: Option<String>,
    pub output: PathBuf,
    pub kubeconfig: Option<String>,
}

/// Reads the arguments after `download`.
pub fn parse_args(args: &[String]) -> Result<Request, String> {
    let mut positional = Vec::new();
    let mut namespace = None;
    let mut output = None;
    let mut kubeconfig = None;
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        let mut value = |name: &str| -> Result<String, String> {
            i += 1;
            args.get(i)
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg {
            "-n" | "--namespace" => namespace = Some(value(arg)?),
            "-o" | "--output" => output = Some(value(arg)?),
            "--kubeconfig" => kubeconfig = Some(value(arg)?),
            "--ttl" => {
                value(arg)?;
            }
            "--publish" | "-P" | "--cleanup" => {}
            "-h" | "--help" => return Err(USAGE.to_string()),
            _ => {
                if let Some(v) = arg.strip_prefix("--namespace=") {
                    namespace = Some(v.to_string());
                } else if let Some(v) = arg.strip_prefix("--output=") {
                    output = Some(v.to_string());
                } else if let Some(v) = arg.strip_prefix("--kubeconfig=") {
                    kubeconfig = Some(v.to_string());
                } else if arg.starts_with("--ttl=") || arg.starts_with("--cleanup=") {
                } else if arg.starts_with('-') && arg.len() > 1 {
                    return Err(format!("unknown flag {arg}\n\n{USAGE}"));
                } else {
                    positional.push(arg.to_string());
                }
            }
        }
        i += 1;
    }
    let (target, file) = match positional.as_slice() {
        [target] => (target.clone(), None),
        [target, file] => (target.clone(), Some(file.clone())),
        [] => return Err(format!("what to download is missing\n\n{USAGE}")),
        _ => return Err(format!("too many arguments\n\n{USAGE}")),
    };
    let (kind, name) = target.split_once('/').unwrap_or(("vd", target.as_str()));
    match kind {
        "vd" | "virtualdisk" | "virtualdisks" => {}
        "vds" | "virtualdisksnapshot" | "virtualdisksnapshots" => {
            return Err(format!(
                "exporting disk snapshots ({target}) is not supported yet: it comes with VirtualDiskSnapshots"
            ));
        }
        other => {
            return Err(format!(
                "cannot export {other:?}: only virtual disks (vd/NAME) can be exported"
            ));
        }
    }
    if name.is_empty() {
        return Err(format!("the name of the disk is missing in {target:?}"));
    }
    if output.is_some() && file.is_some() {
        return Err("give the output file either as -o FILE or as the second argument".to_string());
    }
    Ok(Request {
        name: name.to_string(),
        namespace,
        output: PathBuf::from(output.or(file).unwrap_or_else(|| format!("{name}.img"))),
        kubeconfig,
    })
}

/// The URL path of a disk's export.
pub fn export_path(namespace: &str, name: &str) -> String {
    format!(
        "/apis/subresources.virtualization.deckhouse.io/v1alpha2/namespaces/{namespace}/virtualdisks/{name}/export"
    )
}

/// `https://host:port` → (host, port).
pub(crate) fn host_port(server: &str) -> Result<(String, u16), String> {
    let rest = server
        .strip_prefix("https://")
        .ok_or_else(|| format!("the server {server} is not an https:// URL"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, port) = bracketed
            .split_once("]:")
            .map(|(h, p)| (h, p.parse().ok()))
            .unwrap_or((bracketed.trim_end_matches(']'), Some(443)));
        return Ok((host.to_string(), port.unwrap_or(443)));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Ok((
            host.to_string(),
            port.parse()
                .map_err(|_| format!("bad port in the server {server}"))?,
        )),
        None => Ok((authority.to_string(), 443)),
    }
}

pub(crate) fn tls_config(ca_pem: &[u8]) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        let cert = cert.map_err(|e| format!("the kubeconfig's CA is not valid PEM: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("the kubeconfig's CA is unusable: {e}"))?;
    }
    if roots.is_empty() {
        return Err("the kubeconfig's CA holds no certificate".to_string());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The `message` of a Kubernetes Status body, or the body itself.
pub(crate) fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string())
}

/// How the download reaches `-o`: a regular file (or a new one) is written beside it and
/// renamed into place, so an interrupted download never leaves a half file under the final name;
/// `-` is standard output; anything else (`/dev/null`, a FIFO, a block device) is written in place,
/// since renaming over it would replace the device with a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SinkKind {
    Stdout,
    ViaRename,
    InPlace,
}

/// Picks the sink for `path`; `existing` is what the path is now (`None`: it does not exist).
fn sink_kind(path: &Path, existing: Option<std::fs::FileType>) -> SinkKind {
    if path.as_os_str() == "-" {
        return SinkKind::Stdout;
    }
    match existing {
        Some(kind) if !kind.is_file() && !kind.is_dir() => SinkKind::InPlace,
        _ => SinkKind::ViaRename,
    }
}

/// The open destination of one download.
struct Sink {
    out: Box<dyn Write>,
    /// `(partial file, final path)` when the download is renamed into place at the end.
    rename: Option<(PathBuf, PathBuf)>,
    /// The file to fsync before renaming.
    file: Option<std::fs::File>,
    shown: String,
}

impl Sink {
    fn open(path: &Path) -> Result<Sink, String> {
        let existing = std::fs::metadata(path).ok().map(|m| m.file_type());
        let cannot = |p: &Path, e: std::io::Error| format!("cannot write {}: {e}", p.display());
        match sink_kind(path, existing) {
            SinkKind::Stdout => Ok(Sink {
                out: Box::new(std::io::stdout()),
                rename: None,
                file: None,
                shown: "standard output".to_string(),
            }),
            SinkKind::InPlace => {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|e| cannot(path, e))?;
                Ok(Sink {
                    out: Box::new(file),
                    rename: None,
                    file: None,
                    shown: path.display().to_string(),
                })
            }
            SinkKind::ViaRename => {
                let mut part = path.as_os_str().to_owned();
                part.push(".part");
                let part = PathBuf::from(part);
                let file = std::fs::File::create(&part).map_err(|e| cannot(&part, e))?;
                let writer = file.try_clone().map_err(|e| cannot(&part, e))?;
                Ok(Sink {
                    out: Box::new(writer),
                    rename: Some((part, path.to_path_buf())),
                    file: Some(file),
                    shown: path.display().to_string(),
                })
            }
        }
    }

    fn write_all(&mut self, data: &[u8]) -> Result<(), String> {
        self.out
            .write_all(data)
            .map_err(|e| format!("cannot write {}: {e}", self.shown))
    }

    /// Makes the download durable and gives it its final name.
    fn finish(mut self) -> Result<(), String> {
        let cannot = |e: std::io::Error| format!("cannot write {}: {e}", self.shown);
        self.out.flush().map_err(cannot)?;
        if let Some(file) = &self.file {
            file.sync_all().map_err(cannot)?;
        }
        if let Some((part, path)) = &self.rename {
            std::fs::rename(part, path).map_err(cannot)?;
        }
        Ok(())
    }

    /// Drops a partial download.
    fn abandon(self) {
        if let Some((part, _)) = &self.rename {
            let _ = std::fs::remove_file(part);
        }
    }
}

async fn download(request: &Request, target: &Target) -> Result<u64, String> {
    let namespace = request
        .namespace
        .clone()
        .unwrap_or_else(|| target.namespace.clone());
    let (host, port) = host_port(&target.server)?;
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", target.server))?;
    let server_name =
        ServerName::try_from(host.clone()).map_err(|e| format!("bad server name {host}: {e}"))?;
    let tls = tokio_rustls::TlsConnector::from(tls_config(&target.ca_pem)?)
        .connect(server_name, tcp)
        .await
        .map_err(|e| {
            format!(
                "TLS with {} failed (is the kubeconfig's CA right?): {e}",
                target.server
            )
        })?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| format!("cannot talk to {}: {e}", target.server))?;
    tokio::spawn(connection);
    let mut builder = hyper::Request::get(export_path(&namespace, &request.name))
        .header(hyper::header::HOST, format!("{host}:{port}"))
        .header(
            hyper::header::ACCEPT,
            "application/octet-stream, application/json",
        );
    if let Some(token) = &target.token {
        builder = builder.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let http_request = builder
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(http_request)
        .await
        .map_err(|e| format!("the export request failed: {e}"))?;
    let status = response.status();
    let mut body = response.into_body();
    if !status.is_success() {
        let bytes = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        return Err(error_message(&bytes));
    }
    let mut sink = Sink::open(&request.output)?;
    let mut written = 0u64;
    let started = Instant::now();
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => {
                sink.abandon();
                return Err(format!("the download broke off after {written} bytes: {e}"));
            }
        };
        if let Some(data) = frame.data_ref() {
            if let Err(e) = sink.write_all(data) {
                sink.abandon();
                return Err(e);
            }
            written += data.len() as u64;
        }
    }
    sink.finish()?;
    let secs = started.elapsed().as_secs_f64().max(0.001);
    eprintln!(
        "downloaded vd/{} ({namespace}) to {}: {written} bytes in {secs:.1}s",
        request.name,
        if request.output.as_os_str() == "-" {
            "standard output".to_string()
        } else {
            request.output.display().to_string()
        }
    );
    Ok(written)
}

/// Runs `d8 data export download ARGS`; returns the process exit code.
pub fn export_download(args: &[String]) -> u8 {
    let request = match parse_args(args) {
        Ok(r) => r,
        Err(message) => {
            eprintln!("d8: {message}");
            return 2;
        }
    };
    let path = kubeconfig::locate(request.kubeconfig.as_deref());
    let target = match kubeconfig::load(&path) {
        Ok(t) => t,
        Err(message) => {
            eprintln!("d8: {message}");
            return 1;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("d8: {e}");
            return 1;
        }
    };
    match runtime.block_on(download(&request, &target)) {
        Ok(_) => 0,
        Err(message) => {
            eprintln!("d8: cannot export vd/{}: {message}", request.name);
            1
        }
    }
}

/// Runs `d8 data …`.
pub fn main(args: &[String]) -> u8 {
    match args.first().map(String::as_str) {
        Some("export") => match args.get(1).map(String::as_str) {
            Some("download") => export_download(&args[2..]),
            Some(other) => {
                eprintln!(
                    "d8: `d8 data export {other}` is not available; use `d8 data export download`"
                );
                2
            }
            None => {
                eprintln!("{USAGE}");
                2
            }
        },
        Some("download") => {
            eprintln!("d8: `d8 data download` is deprecated; use `d8 data export download`");
            export_download(&args[1..])
        }
        _ => {
            eprintln!("{USAGE}");
            2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn a_device_is_written_in_place_not_replaced() {
        let null = std::fs::metadata("/dev/null").unwrap().file_type();
        assert_eq!(
            sink_kind(Path::new("/dev/null"), Some(null)),
            SinkKind::InPlace
        );
    }

    #[test]
    fn a_regular_or_new_file_is_renamed_into_place() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.img");
        std::fs::write(&file, b"old").unwrap();
        let kind = std::fs::metadata(&file).unwrap().file_type();
        assert_eq!(sink_kind(&file, Some(kind)), SinkKind::ViaRename);
        assert_eq!(
            sink_kind(&dir.path().join("new.img"), None),
            SinkKind::ViaRename
        );
    }

    #[test]
    fn a_dash_is_standard_output() {
        assert_eq!(sink_kind(Path::new("-"), None), SinkKind::Stdout);
    }

    #[test]
    fn a_finished_download_replaces_the_file_and_leaves_no_part() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.img");
        std::fs::write(&file, b"old").unwrap();
        let mut sink = Sink::open(&file).unwrap();
        sink.write_all(b"new contents").unwrap();
        sink.finish().unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"new contents");
        assert!(!dir.path().join("a.img.part").exists());
    }

    #[test]
    fn an_abandoned_download_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.img");
        std::fs::write(&file, b"old").unwrap();
        let mut sink = Sink::open(&file).unwrap();
        sink.write_all(b"half").unwrap();
        sink.abandon();
        assert_eq!(std::fs::read(&file).unwrap(), b"old");
        assert!(!dir.path().join("a.img.part").exists());
    }

    #[test]
    fn a_disk_with_namespace_and_output() {
        let r = parse_args(&s(&["vd/root", "-n", "prod", "-o", "root.img"])).unwrap();
        assert_eq!(
            r,
            Request {
                name: "root".into(),
                namespace: Some("prod".into()),
                output: "root.img".into(),
                kubeconfig: None
            }
        );
    }

    #[test]
    fn the_kind_defaults_to_disk_and_the_file_to_its_name() {
        let r = parse_args(&s(&["root"])).unwrap();
        assert_eq!(r.output, PathBuf::from("root.img"));
        let r = parse_args(&s(&["virtualdisk/root", "out.qcow2", "--publish"])).unwrap();
        assert_eq!(r.output, PathBuf::from("out.qcow2"));
    }

    #[test]
    fn snapshots_are_not_supported_yet() {
        let e = parse_args(&s(&["vds/snap", "-o", "x"])).unwrap_err();
        assert!(e.contains("not supported yet"), "{e}");
    }

    #[test]
    fn other_kinds_and_unknown_flags_are_refused() {
        assert!(
            parse_args(&s(&["vm/x"]))
                .unwrap_err()
                .contains("only virtual disks")
        );
        assert!(
            parse_args(&s(&["vd/x", "--bogus"]))
                .unwrap_err()
                .contains("unknown flag")
        );
        assert!(parse_args(&s(&[])).unwrap_err().contains("missing"));
    }

    #[test]
    fn the_export_path_names_the_subresource() {
        assert_eq!(
            export_path("ns", "root"),
            "/apis/subresources.virtualization.deckhouse.io/v1alpha2/namespaces/ns/virtualdisks/root/export"
        );
    }

    #[test]
    fn servers_split_into_host_and_port() {
        assert_eq!(
            host_port("https://127.0.0.1:6443").unwrap(),
            ("127.0.0.1".to_string(), 6443)
        );
        assert_eq!(
            host_port("https://[::1]:8443").unwrap(),
            ("::1".to_string(), 8443)
        );
        assert_eq!(host_port("https://h").unwrap(), ("h".to_string(), 443));
        assert!(host_port("http://h:1").is_err());
    }

    #[test]
    fn status_messages_are_extracted() {
        assert_eq!(
            error_message(br#"{"kind":"Status","message":"the disk is in use"}"#),
            "the disk is in use"
        );
        assert_eq!(error_message(b"plain\n"), "plain");
    }
}
