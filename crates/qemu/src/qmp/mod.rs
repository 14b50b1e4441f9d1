//! QMP, QEMU's control protocol, over the run's unix socket: connect (greeting, capabilities
//! negotiation), commands matched to replies by id, and a stream of asynchronous events that
//! ends when QEMU closes the connection.

pub mod codec;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot};

pub use codec::{Event, Greeting, LineFramer, Message, Shutdown, parse_message};

/// What went wrong talking to QEMU.
#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    #[error("cannot connect to QMP at {}: {source}", path.display())]
    Connect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("QMP did not answer {what} within {timeout:?}")]
    Timeout { what: String, timeout: Duration },
    #[error("QEMU closed the QMP connection")]
    Closed,
    #[error("QMP protocol error: {0}")]
    Protocol(String),
    #[error("QMP command {command} failed: {class}: {desc}")]
    Command {
        command: String,
        class: String,
        desc: String,
    },
    #[error("QMP I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// `query-status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunStatus {
    /// QEMU's run state: `running`, `paused`, `shutdown`, `internal-error`, `guest-panicked`, …
    pub status: String,
    pub running: bool,
}

/// One entry of `query-block`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockDevice {
    /// Drive id (`drive-0`).
    pub device: String,
    /// Size the guest sees, when a medium is inserted.
    pub virtual_size: Option<u64>,
    pub read_only: bool,
    pub file: Option<String>,
}

type Reply = Result<Value, QmpError>;
type Pending = Option<HashMap<u64, oneshot::Sender<Reply>>>;

struct Shared {
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    /// None once the connection ended.
    pending: Mutex<Pending>,
    next_id: AtomicU64,
}

/// Events as they arrive; the stream ends when the connection does.
pub type Events = mpsc::UnboundedReceiver<Event>;

/// A QMP connection. Dropping it stops its reader and closes the socket.
pub struct Qmp {
    shared: Arc<Shared>,
    greeting: Greeting,
    timeout: Duration,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Qmp {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn read_message(
    reader: &mut OwnedReadHalf,
    framer: &mut LineFramer,
    queued: &mut Vec<Result<Vec<u8>, codec::CodecError>>,
) -> Result<Message, QmpError> {
    loop {
        while !queued.is_empty() {
            if let Ok(line) = queued.remove(0)
                && let Ok(message) = parse_message(&line)
            {
                return Ok(message);
            }
        }
        let mut chunk = vec![0u8; 64 * 1024];
        let n = reader.read(&mut chunk).await?;
        if n == 0 {
            return Err(QmpError::Closed);
        }
        queued.extend(framer.feed(&chunk[..n]));
    }
}

impl Qmp {
    /// Connects, reads the greeting and enters command mode. `timeout` bounds the handshake and
    /// becomes the default time limit of every command.
    pub async fn connect(path: &Path, timeout: Duration) -> Result<(Qmp, Events), QmpError> {
        let stream = tokio::time::timeout(timeout, UnixStream::connect(path))
            .await
            .map_err(|_| QmpError::Timeout {
                what: "connect".into(),
                timeout,
            })?
            .map_err(|source| QmpError::Connect {
                path: path.to_path_buf(),
                source,
            })?;
        let (mut reader, mut writer) = stream.into_split();
        let mut framer = LineFramer::new();
        let mut queued = Vec::new();
        let (events_tx, events) = mpsc::unbounded_channel();
        let handshake = async {
            let greeting = match read_message(&mut reader, &mut framer, &mut queued).await? {
                Message::Greeting(g) => g,
                other => {
                    return Err(QmpError::Protocol(format!(
                        "expected the QMP greeting, got {other:?}"
                    )));
                }
            };
            writer
                .write_all(b"{\"execute\": \"qmp_capabilities\", \"id\": 0}\n")
                .await?;
            loop {
                match read_message(&mut reader, &mut framer, &mut queued).await? {
                    Message::Return { .. } => return Ok(greeting),
                    Message::Error { class, desc, .. } => {
                        return Err(QmpError::Command {
                            command: "qmp_capabilities".into(),
                            class,
                            desc,
                        });
                    }
                    Message::Event(e) => {
                        let _ = events_tx.send(e);
                    }
                    Message::Greeting(_) => {}
                }
            }
        };
        let greeting = tokio::time::timeout(timeout, handshake)
            .await
            .map_err(|_| QmpError::Timeout {
                what: "the greeting".into(),
                timeout,
            })??;
        let shared = Arc::new(Shared {
            writer: tokio::sync::Mutex::new(writer),
            pending: Mutex::new(Some(HashMap::new())),
            next_id: AtomicU64::new(1),
        });
        let reader = tokio::spawn(read_loop(reader, framer, queued, shared.clone(), events_tx));
        Ok((
            Qmp {
                shared,
                greeting,
                timeout,
                reader,
            },
            events,
        ))
    }

    /// What QEMU said when we connected.
    pub fn greeting(&self) -> &Greeting {
        &self.greeting
    }

    /// Runs a command with the connection's time limit; returns its `return` value.
    pub async fn execute(
        &self,
        command: &str,
        arguments: Option<Value>,
    ) -> Result<Value, QmpError> {
        self.execute_within(command, arguments, self.timeout).await
    }

    /// Runs a command with an explicit time limit.
    pub async fn execute_within(
        &self,
        command: &str,
        arguments: Option<Value>,
        timeout: Duration,
    ) -> Result<Value, QmpError> {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = self.shared.pending.lock().expect("pending lock");
            let Some(map) = pending.as_mut() else {
                return Err(QmpError::Closed);
            };
            map.insert(id, tx);
        }
        let mut request = json!({"execute": command, "id": id});
        if let Some(arguments) = arguments {
            request["arguments"] = arguments;
        }
        let mut line = serde_json::to_vec(&request).expect("a JSON value serializes");
        line.push(b'\n');
        let forget = || {
            if let Some(map) = self.shared.pending.lock().expect("pending lock").as_mut() {
                map.remove(&id);
            }
        };
        let sent = async {
            let mut writer = self.shared.writer.lock().await;
            writer.write_all(&line).await
        };
        if let Err(e) = sent.await {
            forget();
            return Err(QmpError::Io(e));
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) => reply.map_err(|e| match e {
                QmpError::Command { class, desc, .. } => QmpError::Command {
                    command: command.to_string(),
                    class,
                    desc,
                },
                other => other,
            }),
            Ok(Err(_)) => Err(QmpError::Closed),
            Err(_) => {
                forget();
                Err(QmpError::Timeout {
                    what: command.to_string(),
                    timeout,
                })
            }
        }
    }

    /// `query-status`.
    pub async fn query_status(&self) -> Result<RunStatus, QmpError> {
        let v = self.execute("query-status", None).await?;
        Ok(RunStatus {
            status: v["status"].as_str().unwrap_or("").to_string(),
            running: v["running"].as_bool().unwrap_or(false),
        })
    }

    /// Presses the ACPI power button.
    pub async fn system_powerdown(&self) -> Result<(), QmpError> {
        self.execute("system_powerdown", None).await.map(drop)
    }

    /// Hard reset of the machine.
    pub async fn system_reset(&self) -> Result<(), QmpError> {
        self.execute("system_reset", None).await.map(drop)
    }

    /// Ends QEMU at once. The connection closing before the reply counts as success.
    pub async fn quit(&self) -> Result<(), QmpError> {
        match self.execute("quit", None).await {
            Ok(_) | Err(QmpError::Closed) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Resumes a paused guest.
    pub async fn cont(&self) -> Result<(), QmpError> {
        self.execute("cont", None).await.map(drop)
    }

    /// Pauses the guest.
    pub async fn stop(&self) -> Result<(), QmpError> {
        self.execute("stop", None).await.map(drop)
    }

    /// Grows (or shrinks) the disk `device` to `size` bytes as the guest sees it.
    pub async fn block_resize(&self, device: &str, size: u64) -> Result<(), QmpError> {
        self.execute(
            "block_resize",
            Some(json!({"device": device, "size": size})),
        )
        .await
        .map(drop)
    }

    /// `query-block`: the drives and the sizes the guest sees.
    pub async fn query_block(&self) -> Result<Vec<BlockDevice>, QmpError> {
        let v = self.execute("query-block", None).await?;
        let list = v
            .as_array()
            .ok_or_else(|| QmpError::Protocol("query-block did not return a list".into()))?;
        Ok(list
            .iter()
            .map(|d| BlockDevice {
                device: d["device"].as_str().unwrap_or("").to_string(),
                virtual_size: d["inserted"]["image"]["virtual-size"].as_u64(),
                read_only: d["inserted"]["ro"].as_bool().unwrap_or(false),
                file: d["inserted"]["file"].as_str().map(String::from),
            })
            .collect())
    }
}

async fn read_loop(
    mut reader: OwnedReadHalf,
    mut framer: LineFramer,
    mut queued: Vec<Result<Vec<u8>, codec::CodecError>>,
    shared: Arc<Shared>,
    events: mpsc::UnboundedSender<Event>,
) {
    loop {
        let message = match read_message(&mut reader, &mut framer, &mut queued).await {
            Ok(m) => m,
            Err(_) => break,
        };
        let (id, reply) = match message {
            Message::Event(e) => {
                let _ = events.send(e);
                continue;
            }
            Message::Greeting(_) => continue,
            Message::Return { id, value } => (id, Ok(value)),
            Message::Error { id, class, desc } => (
                id,
                Err(QmpError::Command {
                    command: String::new(),
                    class,
                    desc,
                }),
            ),
        };
        let Some(id) = id.and_then(|id| id.as_u64()) else {
            continue;
        };
        let waiter = shared
            .pending
            .lock()
            .expect("pending lock")
            .as_mut()
            .and_then(|map| map.remove(&id));
        if let Some(waiter) = waiter {
            let _ = waiter.send(reply);
        }
    }
    let waiting = shared.pending.lock().expect("pending lock").take();
    for (_, waiter) in waiting.into_iter().flatten() {
        let _ = waiter.send(Err(QmpError::Closed));
    }
}
