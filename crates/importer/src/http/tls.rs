//! TLS client configuration: the public web roots plus an optional user CA bundle.

use std::sync::Arc;

use rustls::ClientConfig;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Builds the client config. `ca_bundle` holds PEM certificates (or one DER certificate) that are
/// trusted in addition to the public roots.
pub(crate) fn client_config(ca_bundle: Option<&[u8]>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(bundle) = ca_bundle {
        for certificate in bundle_certificates(bundle)? {
            roots
                .add(certificate)
                .map_err(|e| format!("the CA bundle holds an unusable certificate: {e}"))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The certificates of a PEM bundle; a bundle without PEM blocks is taken as one DER certificate.
pub(crate) fn bundle_certificates(bundle: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certificates: Vec<_> = CertificateDer::pem_slice_iter(bundle)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("the CA bundle is not valid PEM: {e}"))?;
    if !certificates.is_empty() {
        return Ok(certificates);
    }
    if bundle.first() == Some(&0x30) {
        return Ok(vec![CertificateDer::from(bundle.to_vec())]);
    }
    Err("the CA bundle holds no certificate".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed() -> rcgen::CertifiedKey<rcgen::KeyPair> {
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap()
    }

    #[test]
    fn pem_bundle_with_two_certificates() {
        let bundle = format!("{}{}", self_signed().cert.pem(), self_signed().cert.pem());
        assert_eq!(bundle_certificates(bundle.as_bytes()).unwrap().len(), 2);
        client_config(Some(bundle.as_bytes())).unwrap();
    }

    #[test]
    fn der_certificate_is_accepted() {
        let der = self_signed().cert.der().to_vec();
        assert_eq!(bundle_certificates(&der).unwrap().len(), 1);
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(bundle_certificates(b"hello").is_err());
    }

    #[test]
    fn public_roots_alone() {
        client_config(None).unwrap();
    }
}
