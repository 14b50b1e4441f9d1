//! Talking to an OCI distribution registry: authentication (anonymous, Basic, Bearer tokens)
//! and manifest resolution down to the layers of the linux/amd64 image.

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::{BodyExt, Limited};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::auth::{Challenge, Credentials, parse_challenge, parse_token};
use super::manifest::{Descriptor, Manifest, accept_header, parse_manifest, pick_platform};
use super::reference::Reference;
use crate::checksum::hex;
use crate::error::ImportError;
use crate::http::RetryPolicy;
use crate::http::client::HttpClient;
use crate::http::retry::is_transient_status;

const MAX_DOCUMENT: usize = 4 << 20;
/// An index may point at an index (nested); two levels are plenty.
const MAX_INDEX_DEPTH: usize = 2;

pub(crate) struct Registry<'a> {
    http: &'a HttpClient,
    reference: &'a Reference,
    base: Url,
    credentials: Option<&'a Credentials>,
    authorization: Option<HeaderValue>,
    retry: &'a RetryPolicy,
    stop: &'a CancellationToken,
}

enum Fetched {
    Ok(Bytes),
    Unauthorized(Option<String>),
}

impl<'a> Registry<'a> {
    pub fn new(
        http: &'a HttpClient,
        reference: &'a Reference,
        credentials: Option<&'a Credentials>,
        plain_http: bool,
        retry: &'a RetryPolicy,
        stop: &'a CancellationToken,
    ) -> Result<Registry<'a>, ImportError> {
        let scheme = if plain_http { "http" } else { "https" };
        let base =
            Url::parse(&format!("{scheme}://{}/v2/", reference.api_host())).map_err(|e| {
                ImportError::Registry {
                    reference: reference.to_string(),
                    message: format!("invalid registry address: {e}"),
                }
            })?;
        Ok(Registry {
            http,
            reference,
            base,
            credentials,
            authorization: None,
            retry,
            stop,
        })
    }

    fn error(&self, message: impl Into<String>) -> ImportError {
        ImportError::Registry {
            reference: self.reference.to_string(),
            message: message.into(),
        }
    }

    fn endpoint(&self, path: &str) -> Url {
        self.base
            .join(&format!("{}/{path}", self.reference.repository))
            .expect("repository names are valid URL paths")
    }

    pub fn blob_url(&self, digest: &str) -> Url {
        self.endpoint(&format!("blobs/{digest}"))
    }

    /// Headers that authorise requests to this repository.
    pub fn auth_headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(authorization) = &self.authorization {
            headers.insert(AUTHORIZATION, authorization.clone());
        }
        headers
    }

    /// GETs a small document, retrying transient failures.
    async fn fetch(
        &self,
        url: &Url,
        headers: &HeaderMap,
        what: &str,
    ) -> Result<Fetched, ImportError> {
        let mut failures = 0u32;
        loop {
            let outcome = tokio::select! {
                _ = self.stop.cancelled() => return Err(ImportError::Cancelled),
                outcome = self.http.get(url, headers) => outcome,
            };
            let reason = match outcome {
                Ok((_, response)) => {
                    let status = response.status();
                    if status.is_success() {
                        let body = Limited::new(response.into_body(), MAX_DOCUMENT)
                            .collect()
                            .await;
                        match body {
                            Ok(body) => return Ok(Fetched::Ok(body.to_bytes())),
                            Err(e) => format!("reading the {what}: {e}"),
                        }
                    } else if status == StatusCode::UNAUTHORIZED {
                        let challenge = response
                            .headers()
                            .get(WWW_AUTHENTICATE)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string);
                        return Ok(Fetched::Unauthorized(challenge));
                    } else if status == StatusCode::NOT_FOUND {
                        return Err(self.error(format!("{what} not found (404)")));
                    } else if is_transient_status(status) {
                        format!("the registry answered {status} for the {what}")
                    } else {
                        return Err(
                            self.error(format!("the registry answered {status} for the {what}"))
                        );
                    }
                }
                Err(error) if error.is_transient() => error.to_string(),
                Err(error) => return Err(self.error(error.to_string())),
            };
            failures += 1;
            if failures >= self.retry.attempts.max(1) {
                return Err(self.error(format!("giving up after {failures} attempts: {reason}")));
            }
            tokio::select! {
                _ = self.stop.cancelled() => return Err(ImportError::Cancelled),
                _ = tokio::time::sleep(self.retry.backoff(failures - 1)) => {}
            }
        }
    }

    /// Answers a 401 challenge: Basic with the credentials, or a Bearer token from the realm.
    async fn authenticate(&mut self, challenge: Option<String>) -> Result<(), ImportError> {
        let challenge = challenge.as_deref().and_then(parse_challenge);
        let denied = || match self.credentials {
            Some(_) => "the registry rejected the credentials of the pull secret",
            None => "the registry requires credentials (set an image pull secret)",
        };
        match challenge {
            Some(Challenge::Basic) => {
                let credentials = self.credentials.ok_or_else(|| self.error(denied()))?;
                self.authorization =
                    Some(header_value(&credentials.basic()).map_err(|m| self.error(m))?);
                Ok(())
            }
            Some(Challenge::Bearer {
                realm,
                service,
                scope,
            }) => {
                let mut url = Url::parse(&realm)
                    .map_err(|e| self.error(format!("invalid token realm {realm:?}: {e}")))?;
                {
                    let mut query = url.query_pairs_mut();
                    if let Some(service) = &service {
                        query.append_pair("service", service);
                    }
                    let scope = scope.unwrap_or_else(|| {
                        format!("repository:{}:pull", self.reference.repository)
                    });
                    query.append_pair("scope", &scope);
                }
                let mut headers = HeaderMap::new();
                if let Some(credentials) = self.credentials {
                    headers.insert(
                        AUTHORIZATION,
                        header_value(&credentials.basic()).map_err(|m| self.error(m))?,
                    );
                }
                let body = match self.fetch(&url, &headers, "token").await? {
                    Fetched::Ok(body) => body,
                    Fetched::Unauthorized(_) => return Err(self.error(denied())),
                };
                let token = parse_token(&body)
                    .ok_or_else(|| self.error("the token service answered without a token"))?;
                self.authorization =
                    Some(header_value(&format!("Bearer {token}")).map_err(|m| self.error(m))?);
                Ok(())
            }
            None => Err(self.error(denied())),
        }
    }

    /// GETs a document, authenticating once if the registry asks for it.
    async fn get_document(
        &mut self,
        url: &Url,
        accept: Option<&str>,
        what: &str,
    ) -> Result<Bytes, ImportError> {
        let mut headers = self.auth_headers();
        if let Some(accept) = accept {
            headers.insert(ACCEPT, header_value(accept).map_err(|m| self.error(m))?);
        }
        match self.fetch(url, &headers, what).await? {
            Fetched::Ok(body) => return Ok(body),
            Fetched::Unauthorized(challenge) if self.authorization.is_none() => {
                self.authenticate(challenge).await?;
            }
            Fetched::Unauthorized(_) => {
                return Err(self.error("the registry rejected the credentials of the pull secret"));
            }
        }
        headers.extend(self.auth_headers());
        match self.fetch(url, &headers, what).await? {
            Fetched::Ok(body) => Ok(body),
            Fetched::Unauthorized(_) => Err(self.error(match self.credentials {
                Some(_) => "the registry rejected the credentials of the pull secret",
                None => "the registry requires credentials (set an image pull secret)",
            })),
        }
    }

    /// The layers of the image (for an index: of its linux/amd64 image), bottom first.
    pub async fn layers(&mut self) -> Result<Vec<Descriptor>, ImportError> {
        let mut wanted = self.reference.manifest_reference().to_string();
        let mut expected_digest = self.reference.digest.clone();
        for _ in 0..=MAX_INDEX_DEPTH {
            let url = self.endpoint(&format!("manifests/{wanted}"));
            let body = self
                .get_document(&url, Some(&accept_header()), "manifest")
                .await?;
            if let Some(expected) = &expected_digest {
                verify_document_digest(expected, &body).map_err(|m| self.error(m))?;
            }
            match parse_manifest(&body).map_err(|m| self.error(m))? {
                Manifest::Image { layers } => return Ok(layers),
                Manifest::Index(entries) => {
                    let entry = pick_platform(&entries)
                        .ok_or_else(|| self.error("the image index has no linux/amd64 image"))?;
                    wanted = entry.digest.clone();
                    expected_digest = Some(entry.digest.clone());
                }
            }
        }
        Err(self.error("image indexes are nested too deeply"))
    }
}

fn header_value(text: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(text).map_err(|e| format!("cannot send a header: {e}"))
}

/// A manifest fetched by digest must hash to that digest (only sha256 is checked here; other
/// algorithms are left to the registry).
fn verify_document_digest(expected: &str, body: &[u8]) -> Result<(), String> {
    match expected.split_once(':') {
        Some(("sha256", hex_digest)) => {
            let actual = hex(&Sha256::digest(body));
            if actual.eq_ignore_ascii_case(hex_digest) {
                Ok(())
            } else {
                Err(format!(
                    "the manifest does not match its digest {expected} (got sha256:{actual})"
                ))
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_digest_must_match() {
        let body = b"{}";
        let good = format!("sha256:{}", hex(&Sha256::digest(body)));
        verify_document_digest(&good, body).unwrap();
        let bad = format!("sha256:{}", "0".repeat(64));
        assert!(verify_document_digest(&bad, body).is_err());
    }
}
