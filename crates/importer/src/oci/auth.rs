//! Registry authentication: `WWW-Authenticate` challenges and pull-secret credentials.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

/// User name and password for a registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    /// `Basic …` header value.
    pub fn basic(&self) -> String {
        let pair = format!("{}:{}", self.username, self.password);
        format!("Basic {}", STANDARD.encode(pair))
    }

    /// Finds the credentials for `registry` in the `.dockerconfigjson` of a
    /// `kubernetes.io/dockerconfigjson` Secret. `Ok(None)`: the secret has none for it.
    pub fn from_docker_config(json: &[u8], registry: &str) -> Result<Option<Credentials>, String> {
        #[derive(Deserialize)]
        struct Config {
            #[serde(default)]
            auths: BTreeMap<String, Entry>,
        }
        #[derive(Deserialize)]
        struct Entry {
            auth: Option<String>,
            username: Option<String>,
            password: Option<String>,
        }
        let config: Config = serde_json::from_slice(json)
            .map_err(|e| format!("the pull secret is not a valid docker config: {e}"))?;
        let wanted = registry_key(registry);
        let Some(entry) = config
            .auths
            .iter()
            .find(|(key, _)| registry_key(key) == wanted)
            .map(|(_, entry)| entry)
        else {
            return Ok(None);
        };
        if let (Some(username), Some(password)) = (&entry.username, &entry.password) {
            return Ok(Some(Credentials::new(username, password)));
        }
        let Some(auth) = &entry.auth else {
            return Ok(None);
        };
        let decoded = STANDARD
            .decode(auth.trim())
            .map_err(|e| format!("the pull secret's auth for {registry} is not base64: {e}"))?;
        let decoded = String::from_utf8(decoded)
            .map_err(|_| format!("the pull secret's auth for {registry} is not text"))?;
        let (username, password) = decoded
            .split_once(':')
            .ok_or_else(|| format!("the pull secret's auth for {registry} is not user:password"))?;
        Ok(Some(Credentials::new(username, password)))
    }
}

/// Normalises a docker config key (`https://index.docker.io/v1/`, `host:port`) to a host.
fn registry_key(key: &str) -> String {
    let host = key
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".to_string(),
        _ => host,
    }
}

/// What a registry's `WWW-Authenticate` header asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Splits `k1=v1, k2="v,2"` into pairs (keys lowercased, quotes and escapes removed).
fn auth_params(text: &str) -> BTreeMap<String, String> {
    let mut params = BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek().copied() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        params.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    params
}

/// Parses a `WWW-Authenticate` header value; `None` for schemes registries do not use.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => {
            let mut params = auth_params(rest);
            Some(Challenge::Bearer {
                realm: params.remove("realm")?,
                service: params.remove("service"),
                scope: params.remove("scope"),
            })
        }
        _ => None,
    }
}

/// The token in a token endpoint's answer (`token`, or OAuth's `access_token`).
pub fn parse_token(json: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Answer {
        token: Option<String>,
        access_token: Option<String>,
    }
    let answer: Answer = serde_json::from_slice(json).ok()?;
    answer
        .token
        .or(answer.access_token)
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenge_with_quoted_scope_containing_commas() {
        let header = r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#;
        assert_eq!(
            parse_challenge(header),
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scope: Some("repository:a/b:pull,push".into()),
            })
        );
    }

    #[test]
    fn bearer_without_realm_is_unusable() {
        assert_eq!(parse_challenge(r#"Bearer service="x""#), None);
    }

    #[test]
    fn basic_challenge() {
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate abc"), None);
    }

    #[test]
    fn token_or_access_token() {
        assert_eq!(parse_token(br#"{"token":"t1"}"#).as_deref(), Some("t1"));
        assert_eq!(
            parse_token(br#"{"access_token":"t2","expires_in":300}"#).as_deref(),
            Some("t2")
        );
        assert_eq!(parse_token(br#"{"token":""}"#), None);
        assert_eq!(parse_token(b"nope"), None);
    }

    #[test]
    fn basic_header_value() {
        assert_eq!(
            Credentials::new("user", "pass").basic(),
            "Basic dXNlcjpwYXNz"
        );
    }

    #[test]
    fn docker_config_auth_field() {
        let json = br#"{"auths":{"registry.example:5000":{"auth":"dXNlcjpwYTpzcw=="}}}"#;
        let credentials = Credentials::from_docker_config(json, "registry.example:5000")
            .unwrap()
            .unwrap();
        assert_eq!(credentials, Credentials::new("user", "pa:ss"));
    }

    #[test]
    fn docker_config_username_password_and_docker_hub_aliases() {
        let json = br#"{"auths":{"https://index.docker.io/v1/":{"username":"u","password":"p"}}}"#;
        let credentials = Credentials::from_docker_config(json, "docker.io")
            .unwrap()
            .unwrap();
        assert_eq!(credentials, Credentials::new("u", "p"));
    }

    #[test]
    fn docker_config_without_the_registry() {
        let json = br#"{"auths":{"other.example":{"auth":"dTpw"}}}"#;
        assert_eq!(
            Credentials::from_docker_config(json, "registry.example").unwrap(),
            None
        );
        assert!(Credentials::from_docker_config(b"{", "x").is_err());
    }

    #[test]
    fn debug_hides_the_password() {
        let shown = format!("{:?}", Credentials::new("u", "secret"));
        assert!(!shown.contains("secret"));
    }
}
