//! Container image references: `[registry[:port]/]repository[:tag][@digest]`.

use std::fmt;
use std::net::IpAddr;

/// A parsed image reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]` as written (`docker.io` when omitted).
    pub registry: String,
    /// Repository path within the registry (`library/` added for Docker Hub official images).
    pub repository: String,
    pub tag: Option<String>,
    /// `algorithm:hex`.
    pub digest: Option<String>,
}

const DOCKER_HUB: &str = "docker.io";

fn valid_repository(repository: &str) -> bool {
    !repository.is_empty()
        && repository.split('/').all(|component| {
            !component.is_empty()
                && component.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
                })
        })
}

fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn valid_digest(digest: &str) -> bool {
    match digest.split_once(':') {
        Some(("sha256", hex)) => hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        Some(("sha512", hex)) => hex.len() == 128 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        _ => false,
    }
}

impl Reference {
    /// Parses a reference the way `docker pull` reads it.
    pub fn parse(text: &str) -> Result<Reference, String> {
        let invalid = |why: &str| format!("invalid image reference {text:?}: {why}");
        let (name, digest) = match text.split_once('@') {
            Some((name, digest)) => {
                if !valid_digest(digest) {
                    return Err(invalid(
                        "the digest must be sha256:<64 hex> or sha512:<128 hex>",
                    ));
                }
                (name, Some(digest.to_string()))
            }
            None => (text, None),
        };
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name[last_slash..].rfind(':') {
            Some(colon) => {
                let at = last_slash + colon;
                (&name[..at], Some(name[at + 1..].to_string()))
            }
            None => (name, None),
        };
        if let Some(tag) = &tag
            && !valid_tag(tag)
        {
            return Err(invalid("bad tag"));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if registry.is_empty() || !valid_repository(&repository) {
            return Err(invalid(
                "the repository must be lowercase letters, digits, '.', '_', '-' and '/'",
            ));
        }
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// What to ask the manifest endpoint for: the digest if pinned, else the tag (`latest`).
    pub fn manifest_reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// The host serving the registry API (Docker Hub's API lives on another name).
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }

    /// The registry runs on this machine (`localhost`, `127.0.0.0/8`, `::1`).
    pub fn is_loopback(&self) -> bool {
        let host = match self.registry.strip_prefix('[') {
            Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
            None => self.registry.split(':').next().unwrap_or_default(),
        };
        host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_with_port_and_tag() {
        let r = Reference::parse("127.0.0.1:5000/images/tiny:v1").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "images/tiny");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.manifest_reference(), "v1");
        assert!(r.is_loopback());
    }

    #[test]
    fn docker_hub_short_names() {
        let r = Reference::parse("ubuntu").unwrap();
        assert_eq!(r.registry, "docker.io");
        assert_eq!(r.repository, "library/ubuntu");
        assert_eq!(r.manifest_reference(), "latest");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        let user = Reference::parse("someone/ubuntu2204:latest").unwrap();
        assert_eq!(user.repository, "someone/ubuntu2204");
        assert!(!user.is_loopback());
    }

    #[test]
    fn digest_wins_over_tag() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("registry.example.com/x/y:1.0@{digest}")).unwrap();
        assert_eq!(r.tag.as_deref(), Some("1.0"));
        assert_eq!(r.manifest_reference(), digest);
        assert_eq!(
            r.to_string(),
            format!("registry.example.com/x/y:1.0@{digest}")
        );
    }

    #[test]
    fn localhost_and_ipv6_are_loopback() {
        assert!(Reference::parse("localhost/x").unwrap().is_loopback());
        assert!(Reference::parse("localhost:5000/x").unwrap().is_loopback());
        assert!(Reference::parse("[::1]:5000/x").unwrap().is_loopback());
        assert!(!Reference::parse("10.0.0.1:5000/x").unwrap().is_loopback());
    }

    #[test]
    fn invalid_references() {
        assert!(Reference::parse("Registry.example.com/UPPER").is_err());
        assert!(Reference::parse("r.example/x@sha256:short").is_err());
        assert!(Reference::parse("r.example/x:bad tag").is_err());
        assert!(Reference::parse("").is_err());
    }
}
