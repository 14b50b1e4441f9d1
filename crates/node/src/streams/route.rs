//! The node's stream paths: `/v1/namespaces/{ns}/instances/{name}/{console|vnc|portforward/{port}}`.
//! A pure parse, so the apiserver and the node agree on one spelling.

/// What a client wants to reach inside one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// The serial console.
    Console,
    /// The VNC display.
    Vnc,
    /// A TCP port of the guest.
    PortForward(u16),
}

impl Channel {
    /// The last path segments naming the channel (`console`, `vnc`, `portforward/22`).
    pub fn path_suffix(self) -> String {
        match self {
            Channel::Console => "console".into(),
            Channel::Vnc => "vnc".into(),
            Channel::PortForward(port) => format!("portforward/{port}"),
        }
    }

    /// Reads the segments after the object name.
    pub fn parse(segments: &[&str]) -> Result<Channel, String> {
        match segments {
            ["console"] => Ok(Channel::Console),
            ["vnc"] => Ok(Channel::Vnc),
            ["portforward", port] => match port.parse::<u16>() {
                Ok(p) if p > 0 => Ok(Channel::PortForward(p)),
                _ => Err(format!("{port:?} is not a TCP port (1-65535)")),
            },
            ["portforward"] => Err("portforward needs a port: portforward/PORT".into()),
            _ => Err(format!(
                "unknown stream {:?}: expected console, vnc or portforward/PORT",
                segments.join("/")
            )),
        }
    }
}

/// One stream request addressed to a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamTarget {
    pub namespace: String,
    pub name: String,
    pub channel: Channel,
}

impl StreamTarget {
    /// The path on the node's stream server.
    pub fn node_path(&self) -> String {
        format!(
            "/v1/namespaces/{}/instances/{}/{}",
            self.namespace,
            self.name,
            self.channel.path_suffix()
        )
    }
}

/// Parses a node stream path; `None` when the path is not one.
pub fn parse_node_path(path: &str) -> Option<Result<StreamTarget, String>> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["v1", "namespaces", ns, "instances", name, rest @ ..]
            if !ns.is_empty() && !name.is_empty() =>
        {
            Some(Channel::parse(rest).map(|channel| StreamTarget {
                namespace: ns.to_string(),
                name: name.to_string(),
                channel,
            }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_path_round_trips() {
        let t = StreamTarget {
            namespace: "prod".into(),
            name: "web".into(),
            channel: Channel::Console,
        };
        assert_eq!(t.node_path(), "/v1/namespaces/prod/instances/web/console");
        assert_eq!(parse_node_path(&t.node_path()), Some(Ok(t)));
    }

    #[test]
    fn portforward_carries_its_port() {
        let t = parse_node_path("/v1/namespaces/a/instances/b/portforward/8080")
            .unwrap()
            .unwrap();
        assert_eq!(t.channel, Channel::PortForward(8080));
    }

    #[test]
    fn a_bad_port_is_refused_with_a_reason() {
        let e = parse_node_path("/v1/namespaces/a/instances/b/portforward/99999")
            .unwrap()
            .unwrap_err();
        assert!(e.contains("99999"), "{e}");
        assert!(Channel::parse(&["portforward", "0"]).is_err());
    }

    #[test]
    fn unknown_channels_and_foreign_paths_are_told_apart() {
        assert!(
            parse_node_path("/v1/namespaces/a/instances/b/exec")
                .unwrap()
                .is_err()
        );
        assert_eq!(parse_node_path("/healthz"), None);
    }
}
