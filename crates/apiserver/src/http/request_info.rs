//! Turning a request path and method into what it asks for, like Kubernetes' RequestInfoFactory.

use http::Method;

/// A resource request: `/api/v1/...` or `/apis/<group>/<version>/...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceRequest {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
    pub verb: Verb,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
        }
    }
}

/// What a path addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `/api`: core versions (aggregated or legacy discovery).
    CoreDiscovery,
    /// `/apis`: group list (aggregated or legacy discovery).
    GroupsDiscovery,
    /// `/apis/<group>`.
    GroupDiscovery {
        group: String,
    },
    /// `/api/v1` or `/apis/<group>/<version>`: the resource list of one group version.
    VersionDiscovery {
        group: String,
        version: String,
    },
    Resource(ResourceRequest),
    Other,
}

/// Subresources of a namespace object that are not namespaced resources.
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];

/// Parse a path (without query) and method. `watch` is the `watch` query flag.
pub fn parse(method: &Method, path: &str, watch: bool) -> Target {
    let parts: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api"] => return Target::CoreDiscovery,
        ["apis"] => return Target::GroupsDiscovery,
        ["apis", g] => {
            return Target::GroupDiscovery {
                group: g.to_string(),
            };
        }
        ["api", v] => {
            return Target::VersionDiscovery {
                group: String::new(),
                version: v.to_string(),
            };
        }
        ["apis", g, v] => {
            return Target::VersionDiscovery {
                group: g.to_string(),
                version: v.to_string(),
            };
        }
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Target::Other,
    };
    let mut rest: Vec<&str> = rest.to_vec();
    let mut namespace = None;
    if rest.len() >= 2 && rest[0] == "namespaces" {
        namespace = Some(rest[1].to_string());
        if rest.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&rest[2]) {
            rest.drain(..2);
        } else {
            // The namespace object itself (and its status/finalize subresources).
            namespace = None;
        }
    }
    let (resource, name, subresource) = match rest.as_slice() {
        [r] => (r.to_string(), None, None),
        [r, n] => (r.to_string(), Some(n.to_string()), None),
        [r, n, s] => (r.to_string(), Some(n.to_string()), Some(s.to_string())),
        _ => return Target::Other,
    };
    let verb = match (method.clone(), name.is_some()) {
        (Method::GET, _) if watch => Verb::Watch,
        (Method::GET, true) => Verb::Get,
        (Method::GET, false) => Verb::List,
        (Method::POST, _) => Verb::Create,
        (Method::PUT, _) => Verb::Update,
        (Method::PATCH, _) => Verb::Patch,
        (Method::DELETE, true) => Verb::Delete,
        (Method::DELETE, false) => Verb::DeleteCollection,
        _ => return Target::Other,
    };
    Target::Resource(ResourceRequest {
        group: group.to_string(),
        version: version.to_string(),
        namespace,
        resource,
        name,
        subresource,
        verb,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(method: Method, path: &str) -> ResourceRequest {
        match parse(&method, path, false) {
            Target::Resource(r) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn namespaced_item_with_subresource() {
        let r = res(
            Method::PUT,
            "/apis/virtualization.deckhouse.io/v1alpha2/namespaces/default/virtualmachines/vm/status",
        );
        assert_eq!(r.group, "virtualization.deckhouse.io");
        assert_eq!(r.namespace.as_deref(), Some("default"));
        assert_eq!(r.resource, "virtualmachines");
        assert_eq!(r.name.as_deref(), Some("vm"));
        assert_eq!(r.subresource.as_deref(), Some("status"));
        assert_eq!(r.verb, Verb::Update);
    }

    #[test]
    fn namespace_object_is_a_cluster_scoped_item() {
        let r = res(Method::GET, "/api/v1/namespaces/default");
        assert_eq!(r.resource, "namespaces");
        assert_eq!(r.name.as_deref(), Some("default"));
        assert_eq!(r.namespace, None);
    }

    #[test]
    fn namespace_finalize_is_a_subresource() {
        let r = res(Method::PUT, "/api/v1/namespaces/foo/finalize");
        assert_eq!(r.resource, "namespaces");
        assert_eq!(r.subresource.as_deref(), Some("finalize"));
    }

    #[test]
    fn all_namespaces_list() {
        let r = res(
            Method::GET,
            "/apis/virtualization.deckhouse.io/v1alpha2/virtualmachines",
        );
        assert_eq!(r.namespace, None);
        assert_eq!(r.verb, Verb::List);
    }

    #[test]
    fn watch_flag_turns_get_into_watch() {
        let t = parse(&Method::GET, "/api/v1/namespaces/default/events", true);
        assert!(matches!(
            t,
            Target::Resource(ResourceRequest {
                verb: Verb::Watch,
                ..
            })
        ));
    }

    #[test]
    fn delete_without_name_is_deletecollection() {
        assert_eq!(
            res(Method::DELETE, "/api/v1/namespaces/x/secrets").verb,
            Verb::DeleteCollection
        );
    }

    #[test]
    fn discovery_paths() {
        assert_eq!(parse(&Method::GET, "/api", false), Target::CoreDiscovery);
        assert_eq!(
            parse(&Method::GET, "/apis/", false),
            Target::GroupsDiscovery
        );
        assert_eq!(
            parse(&Method::GET, "/api/v1", false),
            Target::VersionDiscovery {
                group: String::new(),
                version: "v1".into()
            }
        );
    }
}
