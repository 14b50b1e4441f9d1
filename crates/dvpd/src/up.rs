//! `dvpd up`: open the store, build the API, create first-start objects, start the controllers,
//! serve HTTP, and shut down cleanly on SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Context;
use dvp_apiserver::api::Api;
use dvp_apiserver::http::{HttpState, router};
use dvp_store::{RedbStore, RedbStoreOptions, Store};

#[derive(clap::Args)]
pub struct UpArgs {
    /// Directory for the store, kubeconfig and token (default: /var/lib/dvp as root, else ~/.local/share/dvp).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Address to serve the Kubernetes API on.
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// How long an image or disk with `dataSource.type: Upload` waits for its upload to start
    /// before it fails (`90s`, `10m`, `1h`).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    upload_timeout: std::time::Duration,
    /// Controllers to run, kube-controller-manager style: `*` all, `name` one, `-name` not that
    /// one (names: vmclass, images, volumes, vm, vmop, ipam, node — the node agent).
    #[arg(long, default_value = "*", value_parser = parse_controllers)]
    controllers: dvp_controllers::selection::Selection,
    /// Where the node's stream server (console, VNC, port-forward) listens; the API reaches it
    /// there with the API's token.
    #[arg(long, default_value = "127.0.0.1:0")]
    stream_listen: SocketAddr,
    /// How guests' interfaces attach: `bridge` (a tap on the node's VM bridge, the guest
    /// reachable at its IP; falls back to `user` where the host forbids bridges) or `user` (QEMU
    /// user-mode networking; reach guests through port-forward).
    #[arg(long, default_value = "bridge", value_parser = ["bridge", "user"])]
    vm_network: String,
    /// Masquerade guests' traffic leaving the node (off: guests reach only the host and each
    /// other).
    #[arg(long)]
    vm_nat: bool,
}

fn parse_controllers(text: &str) -> Result<dvp_controllers::selection::Selection, String> {
    dvp_controllers::selection::Selection::parse(text).map_err(|e| e.to_string())
}

/// `90`, `90s`, `10m`, `1h`.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 90s, 10m or 1h"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("{text:?} is not a duration such as 90s, 10m or 1h")),
    };
    Ok(std::time::Duration::from_secs(seconds))
}

/// The bearer token clients must present; created once, kept across restarts.
fn load_or_create_token(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("token");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let token = existing.trim().to_string();
        if !token.is_empty() {
            return Ok(token);
        }
    }
    let token: String = {
        use std::io::Read;
        let mut bytes = [0u8; 24];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&path)?;
    std::io::Write::write_all(&mut f, token.as_bytes())?;
    Ok(token)
}

/// The host clients use to reach `listen` (loopback when listening on every address).
fn client_host(listen: SocketAddr) -> String {
    match listen.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    }
}

/// Names the serving certificate must cover.
fn serving_names(listen: SocketAddr) -> Vec<String> {
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let ip = listen.ip();
    if !ip.is_unspecified() && !ip.is_loopback() {
        names.push(ip.to_string());
    }
    if let Ok(host) = std::fs::read_to_string("/etc/hostname") {
        let host = host.trim();
        if !host.is_empty() {
            names.push(host.to_string());
        }
    }
    names
}

fn write_kubeconfig(
    data_dir: &Path,
    listen: SocketAddr,
    token: &str,
    ca_pem: &str,
) -> anyhow::Result<PathBuf> {
    use base64::Engine;
    let server = format!("https://{}:{}", client_host(listen), listen.port());
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: dvp\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: admin\n  user:\n    token: {token}\ncontexts:\n- name: dvp\n  context:\n    cluster: dvp\n    user: admin\n    namespace: default\ncurrent-context: dvp\n"
    );
    let path = data_dir.join("kubeconfig");
    let tmp = data_dir.join("kubeconfig.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let data_dir = args.data_dir.unwrap_or_else(crate::paths::default_data_dir);
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
    let token = load_or_create_token(&data_dir)?;
    let store = RedbStore::open(&data_dir.join("store.redb"), RedbStoreOptions::default())
        .map_err(|e| anyhow::anyhow!("cannot open the store in {}: {e}", data_dir.display()))?;
    let store: Arc<dyn Store> = Arc::new(store);
    let api = Api::new(store.clone(), dvp_apiserver::default_registry());
    let state = HttpState::new(api.clone(), Some(token.clone()));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let pki = crate::pki::ensure(&data_dir, &serving_names(args.listen))?;
    let tls = dvp_apiserver::http::tls::server_config(&pki.cert_pem, &pki.key_pem)
        .map_err(anyhow::Error::msg)?;
    let kubeconfig = write_kubeconfig(&data_dir, args.listen, &token, &pki.ca_pem)?;
    // DVCR (`/v2`), uploads and disk export share the API's HTTPS port.
    let mut images_config =
        dvp_controllers::images::Config::for_address(&client_host(args.listen), args.listen.port());
    images_config.upload_timeout = args.upload_timeout;
    let images = dvp_controllers::images::Services::open(&data_dir, images_config)?;
    let client = crate::client::in_process(router(state.clone()), &token);
    let auth = dvp_controllers::images::http::token_auth(token.clone());
    let app = router(state.clone())
        .merge(dvp_dvcr::router(images.registry.clone(), auth.clone()))
        .merge(dvp_controllers::images::http::routes(
            images.clone(),
            client.clone(),
            auth,
        ));
    let server = tokio::spawn(dvp_apiserver::http::tls::serve(
        listener,
        app,
        tls,
        shutdown_signal(),
    ));
    dvp_apiserver::bootstrap::run(&api)
        .await
        .map_err(|e| anyhow::anyhow!("bootstrap failed: {e}"))?;
    tokio::spawn(dvp_apiserver::gc::run(api.clone()));
    // this machine as a Node; the instances scheduled to it as QEMU processes
    if args.controllers.runs("node") {
        let mut agent = dvp_node::agent::AgentConfig::for_host(data_dir.clone());
        agent.network.bridges = args.vm_network == "bridge";
        agent.network.nat = args.vm_nat;
        let streams = dvp_node::streams::StreamConfig {
            listen: args.stream_listen,
            advertise_host: None,
            token: token.clone(),
            node_name: agent.node_name.clone(),
            data_dir: data_dir.clone(),
        };
        dvp_node::streams::start(client.clone(), streams)
            .await
            .with_context(|| format!("cannot start the stream server on {}", args.stream_listen))?;
        tokio::spawn(dvp_node::agent::run(client.clone(), agent));
    }
    let controllers =
        Arc::new(dvp_controllers::Context::new(client, data_dir.clone()).with_images(images));
    let selection = args.controllers.clone();
    tokio::spawn(async move { dvp_controllers::run(controllers, &selection).await });
    tokio::spawn(dvp_apiserver::namespaces::run(api.clone()));
    state.ready.store(true, Ordering::Release);
    tracing::info!(listen = %args.listen, kubeconfig = %kubeconfig.display(), "dvpd is ready");
    eprintln!(
        "dvpd is ready on {}; use: d8 k --kubeconfig {} get nodes",
        args.listen,
        kubeconfig.display()
    );
    server.await??;
    tracing::info!("dvpd stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
}
