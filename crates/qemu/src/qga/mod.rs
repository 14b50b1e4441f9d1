//! The QEMU guest agent (qemu-ga) over the run's virtio-serial socket.
//!
//! The agent may be absent, still booting, or have stale requests queued from earlier clients, so
//! a session starts with `guest-sync-delimited`: the client sends 0xFF (the agent resets its
//! parser) and a random id, and drops everything until the reply carrying that id. Every call has
//! a time limit; after a timeout the session syncs again before the next command.
//!
//! QEMU's chardev serves one client at a time, so sessions are meant to be short: connect, ask,
//! drop.

mod types;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::time::Instant;

pub use types::{AgentInfo, GuestNic, GuestOsInfo, parse_interfaces};

use crate::qmp::codec::{CodecError, LineFramer, Message, parse_message};

/// What went wrong talking to the guest agent.
#[derive(Debug, thiserror::Error)]
pub enum QgaError {
    #[error("cannot connect to the guest agent socket {}: {source}", path.display())]
    Connect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the guest agent did not answer {what} within {timeout:?} (not running in the guest?)")]
    Timeout { what: String, timeout: Duration },
    #[error("the guest agent connection closed")]
    Closed,
    #[error("guest agent command {command} failed: {class}: {desc}")]
    Command {
        command: String,
        class: String,
        desc: String,
    },
    #[error("guest agent reply to {command} not understood: {reason}")]
    Reply { command: String, reason: String },
    #[error("guest agent I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// A synchronized session with the guest agent.
pub struct GuestAgent {
    stream: UnixStream,
    framer: LineFramer,
    queued: Vec<Result<Vec<u8>, CodecError>>,
    timeout: Duration,
    needs_sync: bool,
}

impl GuestAgent {
    /// Connects and synchronizes; `timeout` bounds that and becomes every command's limit.
    pub async fn connect(path: &Path, timeout: Duration) -> Result<GuestAgent, QgaError> {
        let stream = tokio::time::timeout(timeout, UnixStream::connect(path))
            .await
            .map_err(|_| QgaError::Timeout {
                what: "connect".into(),
                timeout,
            })?
            .map_err(|source| QgaError::Connect {
                path: path.to_path_buf(),
                source,
            })?;
        let mut agent = GuestAgent {
            stream,
            framer: LineFramer::new(),
            queued: Vec::new(),
            timeout,
            needs_sync: true,
        };
        agent.sync().await?;
        Ok(agent)
    }

    async fn next_message(&mut self, deadline: Instant, what: &str) -> Result<Message, QgaError> {
        loop {
            while !self.queued.is_empty() {
                if let Ok(line) = self.queued.remove(0)
                    && let Ok(message) = parse_message(&line)
                {
                    return Ok(message);
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            let read = tokio::time::timeout_at(deadline, self.stream.read(&mut chunk));
            let n = match read.await {
                Err(_) => {
                    self.needs_sync = true;
                    return Err(QgaError::Timeout {
                        what: what.to_string(),
                        timeout: self.timeout,
                    });
                }
                Ok(result) => result?,
            };
            if n == 0 {
                return Err(QgaError::Closed);
            }
            let lines = self.framer.feed(&chunk[..n]);
            self.queued.extend(lines);
        }
    }

    /// Flushes the agent's parser and waits for the reply to a fresh sync id, dropping whatever
    /// earlier requests left behind.
    pub async fn sync(&mut self) -> Result<(), QgaError> {
        let id: u32 = rand::random_range(1..i32::MAX as u32);
        let mut request = vec![0xFFu8];
        request.extend_from_slice(
            json!({"execute": "guest-sync-delimited", "arguments": {"id": id}})
                .to_string()
                .as_bytes(),
        );
        request.push(b'\n');
        self.stream.write_all(&request).await?;
        let deadline = Instant::now() + self.timeout;
        loop {
            if let Message::Return { value, .. } =
                self.next_message(deadline, "guest-sync-delimited").await?
                && value.as_u64() == Some(u64::from(id))
            {
                self.needs_sync = false;
                return Ok(());
            }
        }
    }

    /// Runs a command and returns its `return` value.
    pub async fn execute(
        &mut self,
        command: &str,
        arguments: Option<Value>,
    ) -> Result<Value, QgaError> {
        if self.needs_sync {
            self.sync().await?;
        }
        self.send(command, arguments).await?;
        let deadline = Instant::now() + self.timeout;
        loop {
            match self.next_message(deadline, command).await? {
                Message::Return { value, .. } => return Ok(value),
                Message::Error { class, desc, .. } => {
                    return Err(QgaError::Command {
                        command: command.to_string(),
                        class,
                        desc,
                    });
                }
                Message::Event(_) | Message::Greeting(_) => {}
            }
        }
    }

    async fn send(&mut self, command: &str, arguments: Option<Value>) -> Result<(), QgaError> {
        let mut request = json!({"execute": command});
        if let Some(arguments) = arguments {
            request["arguments"] = arguments;
        }
        let mut line = request.to_string().into_bytes();
        line.push(b'\n');
        self.stream.write_all(&line).await?;
        Ok(())
    }

    /// `guest-ping`.
    pub async fn ping(&mut self) -> Result<(), QgaError> {
        self.execute("guest-ping", None).await.map(drop)
    }

    /// `guest-info`: the agent's version and commands.
    pub async fn info(&mut self) -> Result<AgentInfo, QgaError> {
        let v = self.execute("guest-info", None).await?;
        Ok(AgentInfo::from_reply(&v))
    }

    /// `guest-get-osinfo`.
    pub async fn os_info(&mut self) -> Result<GuestOsInfo, QgaError> {
        let v = self.execute("guest-get-osinfo", None).await?;
        serde_json::from_value(v).map_err(|e| QgaError::Reply {
            command: "guest-get-osinfo".into(),
            reason: e.to_string(),
        })
    }

    /// `guest-network-get-interfaces`, simplified.
    pub async fn network_interfaces(&mut self) -> Result<Vec<GuestNic>, QgaError> {
        let v = self.execute("guest-network-get-interfaces", None).await?;
        Ok(parse_interfaces(&v))
    }

    /// `guest-fsfreeze-status`: true when frozen.
    pub async fn fsfreeze_status(&mut self) -> Result<bool, QgaError> {
        let v = self.execute("guest-fsfreeze-status", None).await?;
        Ok(v.as_str() == Some("frozen"))
    }

    /// `guest-fsfreeze-freeze`: freezes the guest's filesystems; returns how many.
    pub async fn fsfreeze_freeze(&mut self) -> Result<u64, QgaError> {
        let v = self.execute("guest-fsfreeze-freeze", None).await?;
        count(&v, "guest-fsfreeze-freeze")
    }

    /// `guest-fsfreeze-thaw`: thaws them again; returns how many.
    pub async fn fsfreeze_thaw(&mut self) -> Result<u64, QgaError> {
        let v = self.execute("guest-fsfreeze-thaw", None).await?;
        count(&v, "guest-fsfreeze-thaw")
    }

    /// `guest-shutdown` (`powerdown`, `halt` or `reboot`). The agent does not reply on success,
    /// so this only sends it.
    pub async fn shutdown(&mut self, mode: &str) -> Result<(), QgaError> {
        if self.needs_sync {
            self.sync().await?;
        }
        self.send("guest-shutdown", Some(json!({"mode": mode})))
            .await
    }
}

fn count(v: &Value, command: &str) -> Result<u64, QgaError> {
    v.as_u64().ok_or_else(|| QgaError::Reply {
        command: command.into(),
        reason: format!("expected a count, got {v}"),
    })
}
