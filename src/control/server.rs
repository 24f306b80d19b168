//! The daemon side of the control socket: one task per connection, a bounded number at a
//! time, each bounded in time (the listener/handler split of mini-redis's `server.rs`).

use std::io::ErrorKind;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::timeout;

use super::{ERR, Error, MAX_CONNECTIONS, MAX_REQUEST_LEN, OK, READ_TIMEOUT, WRITE_TIMEOUT};
use crate::cli::{self, Daemon, Reply};

/// How long shutdown waits for commands already running (a reload, a stop's own answer).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A bound control socket.
#[derive(Debug)]
pub struct Listener {
    inner: UnixListener,
    path: PathBuf,
    /// (device, inode) of the socket file we created: at shutdown only that file is removed,
    /// never a socket some other process put there since.
    identity: Option<(u64, u64)>,
}

impl Listener {
    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Binds the control socket at `path` (mode 0660), creating its directory, and replacing a
/// stale socket file left by a daemon that died. Refuses when another daemon answers on it.
/// Must be called from inside a tokio runtime.
pub fn bind(path: &Path) -> Result<Listener, Error> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
            path: path.to_path_buf(),
            source,
        })?;
    }
    remove_stale(path)?;
    let inner = UnixListener::bind(path).map_err(|source| Error::Bind {
        path: path.to_path_buf(),
        source,
    })?;
    // The umask decides the mode bind() gives; set it explicitly.
    if let Err(source) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)) {
        let _ = std::fs::remove_file(path);
        return Err(Error::Bind {
            path: path.to_path_buf(),
            source,
        });
    }
    let identity = std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()));
    Ok(Listener {
        inner,
        path: path.to_path_buf(),
        identity,
    })
}

/// Removes `path` if it is a socket nobody listens on.
fn remove_stale(path: &Path) -> Result<(), Error> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(Error::Stale {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    if !meta.file_type().is_socket() {
        return Err(Error::NotASocket {
            path: path.to_path_buf(),
        });
    }
    // A blocking connect to a Unix socket returns at once: accepted (someone listens) or
    // refused (stale file).
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(Error::InUse {
            path: path.to_path_buf(),
        }),
        Err(e) if matches!(e.kind(), ErrorKind::ConnectionRefused | ErrorKind::NotFound) => {
            tracing::info!("removing stale control socket {}", path.display());
            match std::fs::remove_file(path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
                Err(source) => Err(Error::Stale {
                    path: path.to_path_buf(),
                    source,
                }),
            }
        }
        Err(source) => Err(Error::Stale {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Serves commands until `shutdown` turns true, then stops accepting, removes the socket
/// file and waits (bounded) for the commands already running.
pub async fn serve(
    listener: Listener,
    daemon: Arc<dyn Daemon>,
    mut shutdown: watch::Receiver<bool>,
) {
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut handlers = JoinSet::new();
    loop {
        // Take a slot before accepting: when all are busy, new clients wait in the kernel's
        // backlog instead of costing memory here.
        let permit = tokio::select! {
            permit = limit.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // closed: cannot happen, the semaphore is never closed
            },
            _ = stopped(&mut shutdown) => break,
        };
        let stream = tokio::select! {
            accepted = listener.inner.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("control socket: accept failed: {e}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            _ = stopped(&mut shutdown) => break,
        };
        let daemon = daemon.clone();
        let shutdown = shutdown.clone();
        handlers.spawn(async move {
            handle(stream, daemon, shutdown).await;
            drop(permit);
        });
        // Reap finished handlers so the set stays as small as the number running.
        while handlers.try_join_next().is_some() {}
    }

    close(listener);
    let drained = timeout(DRAIN_TIMEOUT, async {
        while let Some(joined) = handlers.join_next().await {
            if let Err(e) = joined {
                tracing::error!("control connection task failed: {e}");
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            "control socket: {} commands still running after {DRAIN_TIMEOUT:?}; abandoning them",
            handlers.len()
        );
        handlers.abort_all();
    }
}

/// Stops listening and removes the socket file (if it is still the one we created).
pub fn close(listener: Listener) {
    let Listener {
        inner,
        path,
        identity,
    } = listener;
    drop(inner);
    remove_socket_file(&path, identity);
}

/// Resolves once `shutdown` is true (or its sender is gone). The guard `wait_for` returns is
/// dropped here: it is not `Send` and must not live in a spawned task's state.
pub async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

fn remove_socket_file(path: &Path, identity: Option<(u64, u64)>) {
    let ours = std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()));
    if ours.is_none() || ours != identity {
        tracing::warn!(
            "control socket {} was replaced or removed by someone else; leaving it",
            path.display()
        );
        return;
    }
    if let Err(e) = std::fs::remove_file(path) {
        tracing::warn!("cannot remove the control socket {}: {e}", path.display());
    }
}

/// One connection: read one command (bounded in size and time), run it, answer, close.
async fn handle(
    mut stream: UnixStream,
    daemon: Arc<dyn Daemon>,
    mut shutdown: watch::Receiver<bool>,
) {
    let request = tokio::select! {
        read = timeout(READ_TIMEOUT, read_request(&mut stream)) => read,
        // A client that has not sent its command yet does not delay the exit.
        _ = stopped(&mut shutdown) => return,
    };
    let reply = match request {
        Ok(Ok(Some(line))) => run_command(daemon, line).await,
        // Connected and closed without a byte: a probe (e.g. another daemon checking
        // whether this socket is alive). Nothing to answer.
        Ok(Ok(None)) => return,
        Ok(Err(why)) => Reply::fail(format!("{why}\n")),
        Err(_) => Reply::fail(format!(
            "no command received within {} seconds\n",
            READ_TIMEOUT.as_secs()
        )),
    };
    let status = if reply.ok { OK } else { ERR };
    let answer = format!("{status}\n{}", reply.text);
    let written = timeout(WRITE_TIMEOUT, async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
    match written {
        Ok(Ok(())) => {}
        // The client went away or stopped reading: its loss, nothing to clean up.
        Ok(Err(e)) => tracing::debug!("control socket: cannot send the answer: {e}"),
        Err(_) => tracing::debug!("control socket: client did not read the answer in time"),
    }
}

/// Runs a command on the blocking pool: commands such as `pjsip reload` read files and
/// walk the whole store, which must not stall the runtime's workers.
async fn run_command(daemon: Arc<dyn Daemon>, line: String) -> Reply {
    tracing::debug!(command = %line, "control command");
    match tokio::task::spawn_blocking(move || cli::execute(&*daemon, &line)).await {
        Ok(reply) => reply,
        Err(e) => {
            tracing::error!("control command failed: {e}");
            Reply::fail("internal error: the command failed; see the daemon's log\n")
        }
    }
}

/// Reads one command line (`None`: the client closed without sending anything); the error
/// is the text to send back.
async fn read_request(stream: &mut UnixStream) -> Result<Option<String>, String> {
    let mut line = Vec::with_capacity(128);
    // One byte over the limit tells "exactly at the limit" from "too long".
    let mut reader = BufReader::new(stream).take(MAX_REQUEST_LEN as u64 + 1);
    let read = reader
        .read_until(b'\n', &mut line)
        .await
        .map_err(|e| format!("cannot read the command: {e}"))?;
    if read == 0 {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    } else if line.len() > MAX_REQUEST_LEN {
        return Err(format!("command longer than {MAX_REQUEST_LEN} bytes"));
    }
    // No newline but end of stream within the limit: a client that shut down its sending
    // side instead; accept it.
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| "command is not valid UTF-8".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sorcery::Snapshot;

    struct Fake;

    impl Daemon for Fake {
        fn snapshot(&self) -> Arc<Snapshot> {
            Arc::new(Snapshot::default())
        }
        fn reload(&self) -> Result<String, String> {
            Err("nope".into())
        }
        fn stop_gracefully(&self) {}
        fn uptime_secs(&self) -> u64 {
            0
        }
        fn last_reload_secs(&self) -> u64 {
            0
        }
    }

    async fn exchange(path: &Path, request: &[u8]) -> String {
        let mut s = UnixStream::connect(path).await.unwrap();
        s.write_all(request).await.unwrap();
        s.shutdown().await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn answers_ok_err_and_refuses_long_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/ctl");
        let listener = bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        let (stop_tx, stop_rx) = watch::channel(false);
        let server = tokio::spawn(serve(listener, Arc::new(Fake), stop_rx));

        let ok = exchange(&path, b"core show version\n").await;
        assert!(ok.starts_with("OK\npjsipd "), "{ok}");
        let err = exchange(&path, b"pjsip reload\n").await;
        assert_eq!(err, "ERR\nnope\n");
        let long = vec![b'x'; MAX_REQUEST_LEN + 10];
        let too_long = exchange(&path, &long).await;
        assert!(too_long.starts_with("ERR\ncommand longer"), "{too_long}");
        let bad = exchange(&path, b"\xff\xfe\n").await;
        assert!(bad.starts_with("ERR\n"), "{bad}");

        // A second daemon on the same socket is refused while the first listens.
        assert!(matches!(bind(&path), Err(Error::InUse { .. })));

        stop_tx.send_replace(true);
        server.await.unwrap();
        assert!(!path.exists(), "socket file removed at shutdown");
    }

    #[tokio::test]
    async fn stale_socket_is_replaced_and_other_files_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctl");
        // A socket nobody listens on, as left by a daemon that was killed.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let listener = bind(&path).unwrap();
        drop(listener);

        let file = dir.path().join("file");
        std::fs::write(&file, "precious").unwrap();
        assert!(matches!(bind(&file), Err(Error::NotASocket { .. })));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "precious");
    }
}
