//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use dvp_dvcr::{AuthCheck, DiskFacts, DiskFormat, Registry, RegistryOptions};
use http::HeaderMap;
use http::header::AUTHORIZATION;

pub const TOKEN: &str = "s3cret-token";

/// A registry in a fresh temporary directory (kept alive by the returned guard).
pub fn registry() -> (tempfile::TempDir, Registry) {
    registry_with(RegistryOptions::default())
}

pub fn registry_with(options: RegistryOptions) -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::open_with(&dir.path().join("dvcr"), options).unwrap();
    (dir, registry)
}

/// Options under which nothing is young: garbage collection removes all it may.
pub fn no_grace() -> RegistryOptions {
    RegistryOptions {
        gc_grace: Duration::ZERO,
        upload_ttl: Duration::ZERO,
    }
}

/// A file that passes the qcow2 header check (magic, version 3, no backing file) followed by
/// `payload`.
pub fn fake_qcow2(dir: &Path, name: &str, payload: &[u8]) -> PathBuf {
    let mut bytes = b"QFI\xfb\0\0\0\x03".to_vec();
    bytes.extend_from_slice(&[0; 8]);
    bytes.extend_from_slice(payload);
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A file with an ISO 9660 primary volume descriptor signature.
pub fn fake_iso(dir: &Path, name: &str) -> PathBuf {
    let mut bytes = vec![0u8; 0x8800];
    bytes[0x8000] = 1;
    bytes[0x8001..0x8006].copy_from_slice(b"CD001");
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

pub fn qcow2_facts(virtual_size: u64) -> DiskFacts {
    DiskFacts {
        format: DiskFormat::Qcow2,
        virtual_size,
        unpacked_size: virtual_size,
        source_format: "raw".into(),
    }
}

/// Accepts `Bearer TOKEN` and `Basic base64(<any user>:TOKEN)`, as the platform does.
pub fn token_auth() -> AuthCheck {
    Arc::new(|headers: &HeaderMap| {
        let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        if let Some(token) = value.strip_prefix("Bearer ") {
            return token == TOKEN;
        }
        value
            .strip_prefix("Basic ")
            .and_then(base64_decode)
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|pair| pair.split_once(':').map(|(_, t)| t == TOKEN))
            .unwrap_or(false)
    })
}

pub fn allow_all() -> AuthCheck {
    Arc::new(|_: &HeaderMap| true)
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn base64_encode(input: &[u8]) -> String {
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn base64_decode(input: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in input.trim_end_matches('=').bytes() {
        let v = ALPHABET.iter().position(|a| *a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Pseudo-random bytes (xorshift), so blobs differ without a RNG dependency.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A minimal OCI image manifest over existing blobs.
pub fn image_manifest(
    config: (&dvp_dvcr::Digest, usize),
    layers: &[(&dvp_dvcr::Digest, usize)],
) -> Vec<u8> {
    let layers: Vec<_> = layers
        .iter()
        .map(|(d, size)| {
            serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d.to_string(), "size": size})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.0.to_string(), "size": config.1},
        "layers": layers,
    }))
    .unwrap()
}

/// Pushes a small two-blob image and returns (manifest digest, config digest, layer digest).
pub fn push_small_image(
    registry: &Registry,
    repo: &str,
    tag: &str,
    seed: u64,
) -> (dvp_dvcr::Digest, dvp_dvcr::Digest, dvp_dvcr::Digest) {
    let config = noise(seed, 100);
    let layer = noise(seed + 1_000_000, 1000);
    let config_digest = registry.put_blob_bytes(&config).unwrap();
    let layer_digest = registry.put_blob_bytes(&layer).unwrap();
    let manifest = image_manifest(
        (&config_digest, config.len()),
        &[(&layer_digest, layer.len())],
    );
    let digest = registry
        .put_manifest(
            repo,
            tag,
            &manifest,
            "application/vnd.oci.image.manifest.v1+json",
        )
        .unwrap();
    (digest, config_digest, layer_digest)
}

/// Serves the registry API on 127.0.0.1 (plain HTTP) until the runtime ends.
pub async fn serve(registry: Arc<Registry>, auth: AuthCheck) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = dvp_dvcr::router(registry, auth);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}
