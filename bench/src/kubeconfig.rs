//! The three facts the benchmark needs from the kubeconfig `dvpd up` writes.

use anyhow::{Context, anyhow};
use base64::Engine;

/// Where and how to reach the API server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kubeconfig {
    /// `https://HOST:PORT`.
    pub server: String,
    /// The CA certificate (PEM) that signed the serving certificate.
    pub ca_pem: String,
    /// The bearer token.
    pub token: String,
}

impl Kubeconfig {
    /// Reads the first cluster and the first user of a kubeconfig document.
    pub fn parse(text: &str) -> anyhow::Result<Kubeconfig> {
        let doc: serde_yaml::Value =
            serde_yaml::from_str(text).context("kubeconfig is not YAML")?;
        let cluster = &doc["clusters"][0]["cluster"];
        let field = |v: &serde_yaml::Value, what: &str| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| anyhow!("kubeconfig has no {what}"))
        };
        let server = field(&cluster["server"], "clusters[0].cluster.server")?;
        let ca_b64 = field(
            &cluster["certificate-authority-data"],
            "clusters[0].cluster.certificate-authority-data",
        )?;
        let ca = base64::engine::general_purpose::STANDARD
            .decode(ca_b64.trim())
            .context("certificate-authority-data is not base64")?;
        let ca_pem = String::from_utf8(ca).context("certificate-authority-data is not PEM text")?;
        let token = field(&doc["users"][0]["user"]["token"], "users[0].user.token")?;
        Ok(Kubeconfig {
            server,
            ca_pem,
            token,
        })
    }

    /// The `HOST:PORT` part of the server URL.
    pub fn authority(&self) -> &str {
        self.server
            .strip_prefix("https://")
            .unwrap_or(&self.server)
            .trim_end_matches('/')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: dvp\n  cluster:\n    server: https://127.0.0.1:7443\n    certificate-authority-data: LS0tLS1CRUdJTg==\nusers:\n- name: admin\n  user:\n    token: abc123\n";

    #[test]
    fn reads_server_ca_and_token() {
        let k = Kubeconfig::parse(SAMPLE).unwrap();
        assert_eq!(k.server, "https://127.0.0.1:7443");
        assert_eq!(k.ca_pem, "-----BEGIN");
        assert_eq!(k.token, "abc123");
        assert_eq!(k.authority(), "127.0.0.1:7443");
    }

    #[test]
    fn a_missing_token_is_an_error_naming_the_field() {
        let text = SAMPLE.replace("    token: abc123\n", "    other: x\n");
        let err = Kubeconfig::parse(&text).unwrap_err().to_string();
        assert!(err.contains("users[0].user.token"), "{err}");
    }
}
