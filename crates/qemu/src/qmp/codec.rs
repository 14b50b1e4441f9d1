//! The wire format QMP and the guest agent share: one JSON object per line. Lines are cut from
//! the byte stream by a [`LineFramer`] with a length limit, then classified by [`parse_message`].
//! Neither trusts its input: any bytes give a value or an error, never a panic.

use serde_json::{Map, Value};

use crate::host::QemuVersion;

/// Longest line accepted; QEMU's replies (e.g. `query-block` with many disks) stay far below.
pub const MAX_LINE: usize = 4 * 1024 * 1024;

/// QEMU's greeting when a client connects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Greeting {
    pub version: QemuVersion,
    /// Optional capabilities offered (`oob`).
    pub capabilities: Vec<String>,
}

/// An asynchronous event.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub name: String,
    pub data: Value,
    /// Seconds and microseconds since the epoch, when QEMU gave them.
    pub timestamp: Option<(i64, i64)>,
}

/// The `SHUTDOWN` event's meaning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shutdown {
    /// The guest asked for it (ACPI power-off, `poweroff` in the guest, a qga shutdown).
    pub guest: bool,
    /// QEMU's cause, e.g. `guest-shutdown`, `host-qmp-quit`, `host-signal`.
    pub reason: String,
}

impl Event {
    /// The shutdown details of a `SHUTDOWN` event.
    pub fn shutdown(&self) -> Option<Shutdown> {
        (self.name == "SHUTDOWN").then(|| Shutdown {
            guest: self.data["guest"].as_bool().unwrap_or(false),
            reason: self.data["reason"].as_str().unwrap_or("").to_string(),
        })
    }
}

/// One message from QEMU or the guest agent.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    Greeting(Greeting),
    /// A command's success; `id` echoes the request's.
    Return {
        id: Option<Value>,
        value: Value,
    },
    /// A command's failure.
    Error {
        id: Option<Value>,
        class: String,
        desc: String,
    },
    Event(Event),
}

/// A line that is not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("not a JSON object")]
    NotObject,
    #[error("a JSON object that is neither a reply, an error, an event nor a greeting")]
    Unknown,
    #[error("a line longer than {MAX_LINE} bytes")]
    TooLong,
    #[error("empty line")]
    Empty,
}

fn version_of(qmp: &Map<String, Value>) -> QemuVersion {
    let v = &qmp.get("version").cloned().unwrap_or(Value::Null)["qemu"];
    let n = |key: &str| {
        v[key]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0)
    };
    QemuVersion {
        major: n("major"),
        minor: n("minor"),
        micro: n("micro"),
    }
}

/// Classifies one line. The guest agent precedes a delimited reply with a 0xFF byte, so only the
/// part after the last 0xFF counts (anything before it is a stale partial message).
pub fn parse_message(line: &[u8]) -> Result<Message, CodecError> {
    let start = line.iter().rposition(|b| *b == 0xFF).map_or(0, |i| i + 1);
    let line = line[start..].trim_ascii();
    if line.is_empty() {
        return Err(CodecError::Empty);
    }
    if line.len() > MAX_LINE {
        return Err(CodecError::TooLong);
    }
    let value: Value = serde_json::from_slice(line).map_err(|e| CodecError::Json(e.to_string()))?;
    let Value::Object(mut map) = value else {
        return Err(CodecError::NotObject);
    };
    let id = map.remove("id");
    if let Some(value) = map.remove("return") {
        return Ok(Message::Return { id, value });
    }
    if let Some(error) = map.remove("error") {
        let text = |key: &str| error[key].as_str().unwrap_or("").to_string();
        return Ok(Message::Error {
            id,
            class: text("class"),
            desc: text("desc"),
        });
    }
    if let Some(Value::String(name)) = map.remove("event") {
        let timestamp = map
            .get("timestamp")
            .and_then(|t| Some((t["seconds"].as_i64()?, t["microseconds"].as_i64()?)));
        return Ok(Message::Event(Event {
            name,
            data: map.remove("data").unwrap_or(Value::Null),
            timestamp,
        }));
    }
    if let Some(Value::Object(qmp)) = map.remove("QMP") {
        let capabilities = qmp
            .get("capabilities")
            .and_then(Value::as_array)
            .map(|caps| {
                caps.iter()
                    .filter_map(|c| c.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        return Ok(Message::Greeting(Greeting {
            version: version_of(&qmp),
            capabilities,
        }));
    }
    Err(CodecError::Unknown)
}

/// Cuts a byte stream into lines, dropping (and reporting once) any line over [`MAX_LINE`].
#[derive(Debug, Default)]
pub struct LineFramer {
    buffer: Vec<u8>,
    /// Inside an overlong line: bytes are dropped until its newline.
    skipping: bool,
    limit: Option<usize>,
}

impl LineFramer {
    pub fn new() -> LineFramer {
        LineFramer::default()
    }

    /// A framer with a smaller limit (tests).
    pub fn with_limit(limit: usize) -> LineFramer {
        LineFramer {
            limit: Some(limit),
            ..LineFramer::default()
        }
    }

    fn limit(&self) -> usize {
        self.limit.unwrap_or(MAX_LINE)
    }

    /// Adds bytes; returns the complete lines they finished (without the newline), or
    /// `Err(TooLong)` in place of a line that was too long.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Vec<Result<Vec<u8>, CodecError>> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            match bytes.iter().position(|b| *b == b'\n') {
                Some(i) => {
                    if self.skipping {
                        self.skipping = false;
                    } else if self.buffer.len() + i > self.limit() {
                        self.buffer.clear();
                        out.push(Err(CodecError::TooLong));
                    } else {
                        self.buffer.extend_from_slice(&bytes[..i]);
                        out.push(Ok(std::mem::take(&mut self.buffer)));
                    }
                    bytes = &bytes[i + 1..];
                }
                None => {
                    if !self.skipping {
                        if self.buffer.len() + bytes.len() > self.limit() {
                            self.buffer.clear();
                            self.skipping = true;
                            out.push(Err(CodecError::TooLong));
                        } else {
                            self.buffer.extend_from_slice(bytes);
                        }
                    }
                    bytes = &[];
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn greeting_gives_the_version() {
        let line = br#"{"QMP": {"version": {"qemu": {"micro": 2, "minor": 0, "major": 10}, "package": ""}, "capabilities": ["oob"]}}"#;
        let Message::Greeting(g) = parse_message(line).unwrap() else {
            panic!("not a greeting")
        };
        assert_eq!(g.version.to_string(), "10.0.2");
        assert_eq!(g.capabilities, ["oob"]);
    }

    #[test]
    fn reply_keeps_its_id() {
        assert_eq!(
            parse_message(br#"{"return": {"status": "running"}, "id": 7}"#).unwrap(),
            Message::Return {
                id: Some(json!(7)),
                value: json!({"status": "running"})
            }
        );
    }

    #[test]
    fn error_gives_class_and_description() {
        let m = parse_message(br#"{"id": 1, "error": {"class": "GenericError", "desc": "no"}}"#)
            .unwrap();
        assert_eq!(
            m,
            Message::Error {
                id: Some(json!(1)),
                class: "GenericError".into(),
                desc: "no".into()
            }
        );
    }

    #[test]
    fn guest_shutdown_event_is_recognised() {
        let line = br#"{"timestamp": {"seconds": 1700000000, "microseconds": 5}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}}"#;
        let Message::Event(e) = parse_message(line).unwrap() else {
            panic!("not an event")
        };
        assert_eq!(e.timestamp, Some((1_700_000_000, 5)));
        assert_eq!(
            e.shutdown(),
            Some(Shutdown {
                guest: true,
                reason: "guest-shutdown".into()
            })
        );
    }

    #[test]
    fn text_before_the_agent_delimiter_is_ignored() {
        let line = b"{\"return\": {\"partial\xff{\"return\": 42}";
        assert_eq!(
            parse_message(line).unwrap(),
            Message::Return {
                id: None,
                value: json!(42)
            }
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(matches!(parse_message(b"{nope"), Err(CodecError::Json(_))));
        assert_eq!(parse_message(b"[1]"), Err(CodecError::NotObject));
        assert_eq!(parse_message(b"{\"x\": 1}"), Err(CodecError::Unknown));
        assert_eq!(parse_message(b"  \r"), Err(CodecError::Empty));
    }

    #[test]
    fn framer_joins_split_lines() {
        let mut f = LineFramer::new();
        assert!(f.feed(b"{\"a\":").is_empty());
        let lines = f.feed(b"1}\n{\"b\":2}\n{\"c\"");
        assert_eq!(
            lines,
            vec![Ok(b"{\"a\":1}".to_vec()), Ok(b"{\"b\":2}".to_vec())]
        );
    }

    #[test]
    fn framer_drops_overlong_lines_and_recovers() {
        let mut f = LineFramer::with_limit(8);
        let mut out = f.feed(b"0123456789");
        out.extend(f.feed(b"abc\nok\n"));
        assert_eq!(out, vec![Err(CodecError::TooLong), Ok(b"ok".to_vec())]);
    }
}
