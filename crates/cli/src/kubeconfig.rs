//! Reading the platform's address and credentials from a kubeconfig, the way kubectl does:
//! the current context's cluster (server, CA) and user (bearer token), and its namespace.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde::Deserialize;

/// What a request to the platform needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `https://host:port`.
    pub server: String,
    /// PEM certificates to verify the server with.
    pub ca_pem: Vec<u8>,
    pub token: Option<String>,
    /// The context's namespace (`default` when unset).
    pub namespace: String,
}

#[derive(Deserialize)]
struct Config {
    #[serde(rename = "current-context", default)]
    current_context: String,
    #[serde(default)]
    contexts: Vec<Named<Context>>,
    #[serde(default)]
    clusters: Vec<Named<Cluster>>,
    #[serde(default)]
    users: Vec<Named<User>>,
}

#[derive(Deserialize)]
struct Named<T> {
    name: String,
    #[serde(alias = "context", alias = "cluster", alias = "user")]
    value: T,
}

#[derive(Deserialize)]
struct Context {
    cluster: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    namespace: Option<String>,
}

#[derive(Deserialize)]
struct Cluster {
    server: String,
    #[serde(rename = "certificate-authority-data", default)]
    ca_data: Option<String>,
    #[serde(rename = "certificate-authority", default)]
    ca_file: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
struct User {
    #[serde(default)]
    token: Option<String>,
    #[serde(rename = "tokenFile", default)]
    token_file: Option<PathBuf>,
}

/// Reads `text` (a kubeconfig at `path`, whose directory relative file references are resolved
/// against).
pub fn parse(text: &str, path: &Path) -> Result<Target, String> {
    let config: Config = serde_yaml::from_str(text)
        .map_err(|e| format!("{} is not a readable kubeconfig: {e}", path.display()))?;
    let context = config
        .contexts
        .iter()
        .find(|c| c.name == config.current_context)
        .or(config.contexts.first())
        .ok_or_else(|| format!("{} has no context", path.display()))?;
    let cluster = config
        .clusters
        .iter()
        .find(|c| c.name == context.value.cluster)
        .ok_or_else(|| {
            format!(
                "{}: the context {} names the cluster {:?}, which is not in the file",
                path.display(),
                context.name,
                context.value.cluster
            )
        })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let ca_pem = match (&cluster.value.ca_data, &cluster.value.ca_file) {
        (Some(data), _) => base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|e| {
                format!(
                    "{}: certificate-authority-data is not base64: {e}",
                    path.display()
                )
            })?,
        (None, Some(file)) => std::fs::read(base.join(file)).map_err(|e| {
            format!(
                "cannot read the cluster CA {}: {e}",
                base.join(file).display()
            )
        })?,
        (None, None) => {
            return Err(format!(
                "{}: the cluster {} has no certificate authority; d8 verifies the server and needs one",
                path.display(),
                cluster.name
            ));
        }
    };
    let user = config
        .users
        .iter()
        .find(|u| u.name == context.value.user)
        .map(|u| &u.value);
    let token = match user {
        Some(User { token: Some(t), .. }) => Some(t.clone()),
        Some(User {
            token_file: Some(f),
            ..
        }) => Some(
            std::fs::read_to_string(base.join(f))
                .map_err(|e| format!("cannot read the token file {}: {e}", f.display()))?
                .trim()
                .to_string(),
        ),
        _ => None,
    };
    Ok(Target {
        server: cluster.value.server.trim_end_matches('/').to_string(),
        ca_pem,
        token,
        namespace: context
            .value
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".to_string()),
    })
}

/// The kubeconfig to use: `--kubeconfig`, then `$KUBECONFIG` (its first entry), then the data
/// dir of `dvpd up` (like `d8 k`).
pub fn locate(flag: Option<&str>) -> PathBuf {
    if let Some(f) = flag.filter(|f| !f.is_empty()) {
        return PathBuf::from(f);
    }
    if let Ok(env) = std::env::var("KUBECONFIG")
        && let Some(first) = env.split(':').find(|p| !p.is_empty())
    {
        return PathBuf::from(first);
    }
    crate::kubectl::default_data_dir().join("kubeconfig")
}

/// Loads the kubeconfig at `path`.
pub fn load(path: &Path) -> Result<Target, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the kubeconfig {}: {e}", path.display()))?;
    parse(&text, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: dvp\n  cluster:\n    server: https://127.0.0.1:6443/\n    certificate-authority-data: aGVsbG8=\nusers:\n- name: admin\n  user:\n    token: abc\ncontexts:\n- name: dvp\n  context:\n    cluster: dvp\n    user: admin\n    namespace: prod\ncurrent-context: dvp\n";

    #[test]
    fn the_current_context_gives_server_ca_token_and_namespace() {
        let t = parse(CONFIG, Path::new("/x/kubeconfig")).unwrap();
        assert_eq!(t.server, "https://127.0.0.1:6443");
        assert_eq!(t.ca_pem, b"hello");
        assert_eq!(t.token.as_deref(), Some("abc"));
        assert_eq!(t.namespace, "prod");
    }

    #[test]
    fn a_context_without_namespace_means_default() {
        let text = CONFIG.replace("    namespace: prod\n", "");
        assert_eq!(parse(&text, Path::new("k")).unwrap().namespace, "default");
    }

    #[test]
    fn a_cluster_without_ca_is_refused() {
        let text = CONFIG.replace("    certificate-authority-data: aGVsbG8=\n", "");
        let e = parse(&text, Path::new("k")).unwrap_err();
        assert!(e.contains("no certificate authority"), "{e}");
    }

    #[test]
    fn a_missing_cluster_is_named() {
        let text = CONFIG.replace("    cluster: dvp\n    user", "    cluster: other\n    user");
        let e = parse(&text, Path::new("k")).unwrap_err();
        assert!(e.contains("\"other\""), "{e}");
    }
}
