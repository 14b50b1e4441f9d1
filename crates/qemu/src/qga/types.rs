//! What the guest agent reports, and the shapes the platform shows it in.

use serde::Deserialize;
use serde_json::{Map, Value};

/// `guest-get-osinfo` (fields as qemu-ga names them; any may be missing).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct GuestOsInfo {
    pub id: Option<String>,
    pub kernel_release: Option<String>,
    pub kernel_version: Option<String>,
    pub machine: Option<String>,
    pub name: Option<String>,
    pub pretty_name: Option<String>,
    pub version: Option<String>,
    pub version_id: Option<String>,
}

impl GuestOsInfo {
    /// The map DVP shows as `status.guestOSInfo`: camelCase keys, absent values left out.
    pub fn to_status_map(&self) -> Value {
        let mut map = Map::new();
        let fields = [
            ("id", &self.id),
            ("kernelRelease", &self.kernel_release),
            ("kernelVersion", &self.kernel_version),
            ("machine", &self.machine),
            ("name", &self.name),
            ("prettyName", &self.pretty_name),
            ("version", &self.version),
            ("versionId", &self.version_id),
        ];
        for (key, value) in fields {
            if let Some(value) = value {
                map.insert(key.to_string(), Value::String(value.clone()));
            }
        }
        Value::Object(map)
    }
}

/// `guest-info`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentInfo {
    pub version: String,
    /// Enabled commands.
    pub commands: Vec<String>,
}

impl AgentInfo {
    pub(crate) fn from_reply(v: &Value) -> AgentInfo {
        AgentInfo {
            version: v["version"].as_str().unwrap_or("").to_string(),
            commands: v["supported_commands"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter(|c| c["enabled"].as_bool().unwrap_or(true))
                        .filter_map(|c| c["name"].as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// A guest network interface.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GuestNic {
    pub name: String,
    pub mac: String,
    /// Addresses without prefix length.
    pub ips: Vec<String>,
}

/// `guest-network-get-interfaces`, without the loopback interface.
pub fn parse_interfaces(v: &Value) -> Vec<GuestNic> {
    let Some(list) = v.as_array() else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|nic| {
            let name = nic["name"].as_str()?.to_string();
            if name == "lo" {
                return None;
            }
            let ips = nic["ip-addresses"]
                .as_array()
                .map(|ips| {
                    ips.iter()
                        .filter_map(|ip| ip["ip-address"].as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            Some(GuestNic {
                name,
                mac: nic["hardware-address"].as_str().unwrap_or("").to_string(),
                ips,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn osinfo_becomes_the_dvp_map() {
        let info: GuestOsInfo = serde_json::from_value(json!({
            "name": "Tiny Guest", "kernel-release": "6.1.0-56-amd64", "version": "1",
            "pretty-name": "Tiny Guest 1", "version-id": "1", "kernel-version": "#1 SMP",
            "machine": "x86_64", "id": "tiny"
        }))
        .unwrap();
        assert_eq!(
            info.to_status_map(),
            json!({"id": "tiny", "kernelRelease": "6.1.0-56-amd64", "kernelVersion": "#1 SMP",
                   "machine": "x86_64", "name": "Tiny Guest", "prettyName": "Tiny Guest 1",
                   "version": "1", "versionId": "1"})
        );
    }

    #[test]
    fn missing_osinfo_fields_are_left_out() {
        let info: GuestOsInfo = serde_json::from_value(json!({"id": "x"})).unwrap();
        assert_eq!(info.to_status_map(), json!({"id": "x"}));
    }

    #[test]
    fn interfaces_skip_loopback_and_keep_addresses() {
        let v = json!([
            {"name": "lo", "ip-addresses": [{"ip-address": "127.0.0.1", "prefix": 8}]},
            {"name": "eth0", "hardware-address": "52:54:00:12:34:56",
             "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "10.0.2.15", "prefix": 24}]}
        ]);
        assert_eq!(
            parse_interfaces(&v),
            vec![GuestNic {
                name: "eth0".into(),
                mac: "52:54:00:12:34:56".into(),
                ips: vec!["10.0.2.15".into()]
            }]
        );
    }

    #[test]
    fn agent_info_lists_enabled_commands() {
        let v = json!({"version": "7.2.22", "supported_commands": [
            {"name": "guest-ping", "enabled": true}, {"name": "guest-exec", "enabled": false}]});
        let info = AgentInfo::from_reply(&v);
        assert_eq!(info.version, "7.2.22");
        assert_eq!(info.commands, ["guest-ping"]);
    }
}
