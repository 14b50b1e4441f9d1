//! The QMP and guest-agent clients against scripted servers on unix sockets.

use std::time::Duration;

use dvp_qemu::qga::{GuestAgent, QgaError};
use dvp_qemu::qmp::{Qmp, QmpError};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

const GREETING: &str = r#"{"QMP": {"version": {"qemu": {"micro": 2, "minor": 0, "major": 10}, "package": ""}, "capabilities": ["oob"]}}"#;

async fn send(stream: &mut UnixStream, v: Value) {
    stream.write_all(format!("{v}\n").as_bytes()).await.unwrap();
}

/// Reads one request line as JSON.
async fn request(reader: &mut BufReader<UnixStream>) -> Option<Value> {
    let mut line = Vec::new();
    if reader.read_until(b'\n', &mut line).await.ok()? == 0 {
        return None;
    }
    let start = line.iter().rposition(|b| *b == 0xFF).map_or(0, |i| i + 1);
    serde_json::from_slice(&line[start..]).ok()
}

async fn qmp_server(dir: &std::path::Path) -> (std::path::PathBuf, UnixListener) {
    let path = dir.join("qmp.sock");
    let listener = UnixListener::bind(&path).unwrap();
    (path, listener)
}

/// Greets, accepts capabilities, and hands the connection over.
async fn accept_qmp(listener: &UnixListener) -> BufReader<UnixStream> {
    let (mut stream, _) = listener.accept().await.unwrap();
    stream
        .write_all(format!("{GREETING}\n").as_bytes())
        .await
        .unwrap();
    let mut reader = BufReader::new(stream);
    let caps = request(&mut reader).await.unwrap();
    assert_eq!(caps["execute"], "qmp_capabilities");
    let id = caps["id"].clone();
    send(reader.get_mut(), json!({"return": {}, "id": id})).await;
    reader
}

#[tokio::test]
async fn qmp_handshake_reads_the_version() {
    let dir = tempfile::tempdir().unwrap();
    let (path, listener) = qmp_server(dir.path()).await;
    let server = tokio::spawn(async move { accept_qmp(&listener).await });
    let (qmp, _events) = Qmp::connect(&path, Duration::from_secs(5)).await.unwrap();
    assert_eq!(qmp.greeting().version.to_string(), "10.0.2");
    server.await.unwrap();
}

#[tokio::test]
async fn qmp_replies_are_matched_by_id_even_out_of_order() {
    let dir = tempfile::tempdir().unwrap();
    let (path, listener) = qmp_server(dir.path()).await;
    let server = tokio::spawn(async move {
        let mut conn = accept_qmp(&listener).await;
        let first = request(&mut conn).await.unwrap();
        let second = request(&mut conn).await.unwrap();
        // answer the second first
        for r in [&second, &first] {
            let value = json!({"status": r["execute"], "running": true});
            send(conn.get_mut(), json!({"return": value, "id": r["id"]})).await;
        }
        conn
    });
    let (qmp, _events) = Qmp::connect(&path, Duration::from_secs(5)).await.unwrap();
    let (a, b) = tokio::join!(
        qmp.execute("query-status", None),
        qmp.execute("query-name", None)
    );
    assert_eq!(a.unwrap()["status"], "query-status");
    assert_eq!(b.unwrap()["status"], "query-name");
    drop(server.await.unwrap());
}

#[tokio::test]
async fn qmp_events_arrive_and_end_with_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let (path, listener) = qmp_server(dir.path()).await;
    let server = tokio::spawn(async move {
        let mut conn = accept_qmp(&listener).await;
        send(
            conn.get_mut(),
            json!({"event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"},
                   "timestamp": {"seconds": 1, "microseconds": 0}}),
        )
        .await;
    });
    let (_qmp, mut events) = Qmp::connect(&path, Duration::from_secs(5)).await.unwrap();
    let event = events.recv().await.unwrap();
    assert!(event.shutdown().unwrap().guest);
    server.await.unwrap();
    assert!(
        events.recv().await.is_none(),
        "stream ends when QEMU closes"
    );
}

#[tokio::test]
async fn qmp_command_errors_carry_class_and_description() {
    let dir = tempfile::tempdir().unwrap();
    let (path, listener) = qmp_server(dir.path()).await;
    let server = tokio::spawn(async move {
        let mut conn = accept_qmp(&listener).await;
        let r = request(&mut conn).await.unwrap();
        send(
            conn.get_mut(),
            json!({"error": {"class": "DeviceNotFound", "desc": "Device 'x' not found"}, "id": r["id"]}),
        )
        .await;
        conn
    });
    let (qmp, _events) = Qmp::connect(&path, Duration::from_secs(5)).await.unwrap();
    let err = qmp.block_resize("x", 1 << 30).await.unwrap_err();
    match err {
        QmpError::Command {
            command,
            class,
            desc,
        } => {
            assert_eq!(command, "block_resize");
            assert_eq!(class, "DeviceNotFound");
            assert!(desc.contains("'x'"));
        }
        other => panic!("unexpected {other}"),
    }
    drop(server.await.unwrap());
}

#[tokio::test]
async fn qmp_pending_commands_fail_when_qemu_goes_away() {
    let dir = tempfile::tempdir().unwrap();
    let (path, listener) = qmp_server(dir.path()).await;
    let server = tokio::spawn(async move {
        let mut conn = accept_qmp(&listener).await;
        let _ = request(&mut conn).await;
        // drop without answering
    });
    let (qmp, _events) = Qmp::connect(&path, Duration::from_secs(5)).await.unwrap();
    let err = qmp.query_status().await.unwrap_err();
    assert!(matches!(err, QmpError::Closed), "{err}");
    server.await.unwrap();
    // quit treats a closed connection as done
    assert!(qmp.quit().await.is_ok());
}

#[tokio::test]
async fn qmp_silence_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let (path, listener) = qmp_server(dir.path()).await;
    let _server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(stream);
    });
    let err = Qmp::connect(&path, Duration::from_millis(200))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, QmpError::Timeout { .. }), "{err}");
}

/// A guest agent that first replays stale output, then answers syncs and a few commands.
async fn fake_agent(listener: UnixListener) {
    let (mut stream, _) = listener.accept().await.unwrap();
    stream
        .write_all(b"{\"return\": 4242}\n{\"return\": {\"half")
        .await
        .unwrap();
    let mut reader = BufReader::new(stream);
    while let Some(r) = request(&mut reader).await {
        let reply = match r["execute"].as_str().unwrap_or("") {
            "guest-sync-delimited" => {
                let id = r["arguments"]["id"].clone();
                reader.get_mut().write_all(&[0xFF]).await.unwrap();
                json!({"return": id})
            }
            "guest-get-osinfo" => json!({"return": {"id": "tiny", "kernel-release": "6.1"}}),
            "guest-fsfreeze-status" => json!({"return": "thawed"}),
            "guest-fsfreeze-freeze" => json!({"return": 1}),
            _ => json!({"error": {"class": "CommandNotFound", "desc": "nope"}}),
        };
        send(reader.get_mut(), reply).await;
    }
}

#[tokio::test]
async fn qga_sync_skips_stale_output_and_commands_work() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qga.sock");
    let listener = UnixListener::bind(&path).unwrap();
    tokio::spawn(fake_agent(listener));
    let mut agent = GuestAgent::connect(&path, Duration::from_secs(5))
        .await
        .unwrap();
    let os = agent.os_info().await.unwrap();
    assert_eq!(
        os.to_status_map(),
        json!({"id": "tiny", "kernelRelease": "6.1"})
    );
    assert!(!agent.fsfreeze_status().await.unwrap());
    assert_eq!(agent.fsfreeze_freeze().await.unwrap(), 1);
    let err = agent.ping().await.unwrap_err();
    assert!(matches!(err, QgaError::Command { .. }), "{err}");
}

#[tokio::test]
async fn qga_absent_agent_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qga.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let _server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(stream);
    });
    let started = std::time::Instant::now();
    let err = GuestAgent::connect(&path, Duration::from_millis(300))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, QgaError::Timeout { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
