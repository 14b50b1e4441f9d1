//! The platform's own PKI under `DATA/pki`: a self-signed CA (kept forever, it is what clients
//! trust through the kubeconfig) and a serving certificate signed by it, re-issued whenever the
//! names it must cover change.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

pub struct Pki {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

fn ca_params() -> anyhow::Result<CertificateParams> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name.push(DnType::CommonName, "dvp-ca");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(p)
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)?;
    std::io::Write::write_all(&mut f, text.as_bytes())?;
    Ok(())
}

fn read(path: &PathBuf) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .filter(|s| !s.trim().is_empty())
}

/// Load or create the CA and a serving certificate valid for `names` (IPs and DNS names).
pub fn ensure(data_dir: &Path, names: &[String]) -> anyhow::Result<Pki> {
    let dir = data_dir.join("pki");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let (ca_key_path, ca_crt_path) = (dir.join("ca.key"), dir.join("ca.crt"));
    let ca_key = match read(&ca_key_path) {
        Some(pem) => KeyPair::from_pem(&pem).context("cannot read the CA key")?,
        None => {
            let key = KeyPair::generate()?;
            let cert = ca_params()?.self_signed(&key)?;
            write_private(&ca_key_path, &key.serialize_pem())?;
            std::fs::write(&ca_crt_path, cert.pem())?;
            let _ = std::fs::remove_file(dir.join("server.crt"));
            key
        }
    };
    let ca_pem = read(&ca_crt_path)
        .context("the CA certificate is missing; remove pki/ca.key to start over")?;
    let (crt_path, key_path, names_path) = (
        dir.join("server.crt"),
        dir.join("server.key"),
        dir.join("server.names"),
    );
    let wanted = names.join("\n");
    if let (Some(cert_pem), Some(key_pem), Some(have)) =
        (read(&crt_path), read(&key_path), read(&names_path))
        && have == wanted
    {
        return Ok(Pki {
            ca_pem,
            cert_pem,
            key_pem,
        });
    }
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(names.to_vec())?;
    params.distinguished_name.push(DnType::CommonName, "dvpd");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let issuer = Issuer::new(ca_params()?, &ca_key);
    let cert = params.signed_by(&key, &issuer)?;
    let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
    write_private(&key_path, &key_pem)?;
    std::fs::write(&crt_path, &cert_pem)?;
    std::fs::write(&names_path, &wanted)?;
    Ok(Pki {
        ca_pem,
        cert_pem,
        key_pem,
    })
}
