//! Connection-oriented transports: TCP and TLS byte streams framed by Content-Length (RFC
//! 3261 18.3) with CRLF keep-alives (RFC 5626 3.5.1), and the accept loop shared with
//! WebSocket listeners.
//!
//! Each connection is one task reading and one task writing. A peer that starts a message
//! and stalls, or never sends one, is closed after `stream_message_timeout`; a silent one
//! after `stream_idle_timeout`; one that breaks framing gets a 400 when it can be answered
//! and is closed. Only that connection pays.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;

use super::Shared;
use super::connections::Registration;
use super::flow::{Flow, Received};
use super::tls::TlsContext;
use crate::config::types::TransportProtocol;
use crate::sip::{Frame, Limits, frame_with, salvage_response};

/// Messages waiting to be written to one connection before it counts as not reading.
const WRITE_DEPTH: usize = 256;
/// The RFC 5626 keep-alive ping and its pong.
const PING: &[u8] = b"\r\n\r\n";
const PONG: &[u8] = b"\r\n";

/// What a listener speaks on top of TCP.
#[derive(Clone)]
pub(super) enum Layer {
    /// Plain SIP over TCP.
    Tcp,
    /// SIP over TLS.
    Tls(Arc<TlsContext>),
    /// SIP over WebSocket.
    Ws,
    /// SIP over WebSocket over TLS.
    Wss(Arc<TlsContext>),
}

/// The OS-level TCP keep-alive of a transport (`tcp_keepalive_enable` and its timings),
/// or `None` when it is off.
pub(super) fn os_keepalive(t: &crate::config::types::Transport) -> Option<socket2::TcpKeepalive> {
    t.tcp_keepalive_enable.then(|| {
        socket2::TcpKeepalive::new()
            .with_time(Duration::from_secs(u64::from(
                t.tcp_keepalive_idle_time.max(1),
            )))
            .with_interval(Duration::from_secs(u64::from(
                t.tcp_keepalive_interval_time.max(1),
            )))
            .with_retries(t.tcp_keepalive_probe_count.max(1))
    })
}

/// Accepts connections until `stop` turns true.
pub(super) async fn accept_loop(
    listener: TcpListener,
    transport: Arc<str>,
    protocol: TransportProtocol,
    layer: Layer,
    keepalive: Option<socket2::TcpKeepalive>,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    let mut stop_accepting = stop.clone();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((socket, remote)) => {
                    if shared.outbound.connections().total() >= shared.tuning.max_connections {
                        tracing::warn!("transport '{transport}': connection limit reached; {remote} refused");
                        continue;
                    }
                    let _ = socket.set_nodelay(true);
                    if let Some(k) = &keepalive
                        && let Err(e) = socket2::SockRef::from(&socket).set_tcp_keepalive(k)
                    {
                        tracing::debug!("transport '{transport}': TCP keep-alive not set: {e}");
                    }
                    let flow = Flow { transport: transport.clone(), protocol, remote, connection: None };
                    tokio::spawn(handle(socket, flow, layer.clone(), shared.clone(), stop.clone()));
                }
                Err(e) => {
                    tracing::debug!("transport '{transport}': accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stop_accepting.changed() => break,
        }
    }
}

async fn handle(
    socket: TcpStream,
    flow: Flow,
    layer: Layer,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    let handshake = shared.tuning.message_timeout;
    match layer {
        Layer::Tcp => serve(socket, flow, shared, stop, None).await,
        Layer::Ws => super::ws::serve(socket, flow, shared, stop).await,
        Layer::Tls(ctx) | Layer::Wss(ctx) => {
            let acceptor = TlsAcceptor::from(ctx.current());
            let Some(tls) =
                handshake_within(handshake, "TLS", &flow, acceptor.accept(socket)).await
            else {
                return;
            };
            if flow.protocol == TransportProtocol::Wss {
                super::ws::serve(tls, flow, shared, stop).await;
            } else {
                serve(tls, flow, shared, stop, None).await;
            }
        }
    }
}

/// Runs a handshake (TLS, WebSocket) bounded by `limit`; a failure or a timeout is logged
/// and gives `None` (the connection is dropped).
pub(super) async fn handshake_within<T, E: std::fmt::Display>(
    limit: Duration,
    what: &str,
    flow: &Flow,
    handshake: impl std::future::Future<Output = Result<T, E>>,
) -> Option<T> {
    match tokio::time::timeout(limit, handshake).await {
        Ok(Ok(done)) => Some(done),
        Ok(Err(e)) => {
            tracing::info!(
                "transport '{}': {what} handshake with {} failed: {e}",
                flow.transport,
                flow.remote
            );
            None
        }
        Err(_) => {
            tracing::info!(
                "transport '{}': {what} handshake with {} timed out",
                flow.transport,
                flow.remote
            );
            None
        }
    }
}

/// Opens connections for messages to peers the daemon has no connection to (an outbound
/// REGISTER over TCP, a request to a contact whose connection closed): one connect per
/// peer at a time, messages queued until it is up, then served like an accepted one.
pub(super) async fn connector(
    mut rx: mpsc::UnboundedReceiver<super::Transmit>,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    type Key = (Arc<str>, std::net::SocketAddr);
    let mut connecting: std::collections::HashMap<Key, mpsc::UnboundedSender<Bytes>> =
        std::collections::HashMap::new();
    let mut stop_connecting = stop.clone();
    loop {
        let t = tokio::select! {
            t = rx.recv() => match t {
                Some(t) => t,
                None => break,
            },
            _ = stop_connecting.changed() => break,
        };
        let flow = t.flow;
        // Connected since it was queued here: send over it.
        if shared
            .outbound
            .connections()
            .send(None, &flow.transport, flow.remote, t.bytes.clone())
            .is_ok()
        {
            continue;
        }
        let key = (flow.transport.clone(), flow.remote);
        if let Some(queue) = connecting.get(&key)
            && queue.send(t.bytes.clone()).is_ok()
        {
            continue;
        }
        connecting.retain(|_, q| !q.is_closed());
        if shared.outbound.connections().total() >= shared.tuning.max_connections {
            tracing::warn!(
                "transport '{}': connection limit reached; no connection to {}",
                flow.transport,
                flow.remote
            );
            continue;
        }
        let (queue, queued) = mpsc::unbounded_channel();
        let _ = queue.send(t.bytes);
        connecting.insert(key, queue);
        tokio::spawn(connect(flow, shared.clone(), stop.clone(), queued));
    }
}

/// Connects to `flow.remote` (TCP), then serves the connection.
async fn connect(
    flow: Flow,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
    queued: mpsc::UnboundedReceiver<Bytes>,
) {
    let limit = shared.tuning.message_timeout;
    let socket = match tokio::time::timeout(limit, TcpStream::connect(flow.remote)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::warn!(
                "transport '{}': cannot connect to {}: {e}",
                flow.transport,
                flow.remote
            );
            return;
        }
        Err(_) => {
            tracing::warn!(
                "transport '{}': connecting to {} timed out",
                flow.transport,
                flow.remote
            );
            return;
        }
    };
    let _ = socket.set_nodelay(true);
    tracing::debug!(
        "transport '{}': connected to {}",
        flow.transport,
        flow.remote
    );
    serve(socket, flow, shared, stop, Some(queued)).await;
}

/// Registers a connection and starts its writer; `None` when the limit is reached.
pub(super) fn register(
    flow: &mut Flow,
    shared: &Shared,
) -> Option<(Registration, mpsc::Sender<Bytes>, mpsc::Receiver<Bytes>)> {
    let (tx, rx) = mpsc::channel(WRITE_DEPTH);
    let reg = shared.outbound.connections().register(
        flow.transport.clone(),
        flow.remote,
        tx.clone(),
        shared.tuning.max_connections,
    )?;
    flow.connection = Some(reg.id());
    tracing::debug!(
        "transport '{}': connection {} from {}",
        flow.transport,
        reg.id(),
        flow.remote
    );
    Some((reg, tx, rx))
}

/// Serves one TCP or TLS connection until it closes, times out or `stop` turns true.
/// `queued`: messages waiting for a connection the daemon opened, written first.
async fn serve<S>(
    stream: S,
    mut flow: Flow,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    queued: Option<mpsc::UnboundedReceiver<Bytes>>,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let Some((reg, tx, rx)) = register(&mut flow, &shared) else {
        return;
    };
    if let Some(mut queued) = queued {
        // Registered first, so that later messages find the connection in the registry;
        // closed before draining, so that none is left behind in this channel.
        queued.close();
        while let Ok(bytes) = queued.try_recv() {
            let _ = tx.try_send(bytes);
        }
    }
    let (mut reader, writer) = tokio::io::split(stream);
    let keep_alive = shared.keep_alive();
    // Told by the writer after each write: the reader waits on it while the writer's
    // queue is more than half full.
    let drained = Arc::new(tokio::sync::Notify::new());
    let mut writer = tokio::spawn(write_loop(writer, rx, keep_alive, drained.clone()));
    let limits = Limits::default();
    let mut buf = BytesMut::with_capacity(4096);
    let mut seen_message = false;
    'conn: loop {
        loop {
            match frame_with(&buf, &limits) {
                Frame::Complete { len } => {
                    // Backpressure: answers to this peer queue for the writer, and those
                    // made here at once (503 when the queues are full) would overflow it
                    // and be lost when a peer pipelines requests faster than it reads.
                    // While the queue is more than half full, nothing more is read.
                    while tx.capacity() < WRITE_DEPTH / 2 {
                        tokio::select! {
                            _ = drained.notified() => {}
                            _ = &mut writer => break 'conn,
                            _ = stop.changed() => break 'conn,
                            _ = tokio::time::sleep(shared.tuning.message_timeout) => {
                                tracing::info!(
                                    "transport '{}': {} reads none of its answers; closing",
                                    flow.transport,
                                    flow.remote
                                );
                                break 'conn;
                            }
                        }
                    }
                    let bytes = buf.split_to(len).freeze();
                    shared
                        .logger
                        .received(flow.protocol_name(), flow.remote, &bytes);
                    shared.dispatch(Received {
                        flow: flow.clone(),
                        bytes,
                    });
                    seen_message = true;
                }
                Frame::KeepAlive { len } => {
                    buf.advance(len);
                    if len == PING.len() {
                        let _ = tx.try_send(Bytes::from_static(PONG));
                    }
                }
                Frame::Incomplete => break,
                Frame::Invalid(e) => {
                    tracing::info!(
                        "transport '{}': {} broke framing ({e}); closing",
                        flow.transport,
                        flow.remote
                    );
                    if let Some(answer) = salvage_response(&buf, e.status(), "framing") {
                        let _ = tx.try_send(answer);
                    }
                    break 'conn;
                }
            }
        }
        let wait = if buf.is_empty() && seen_message {
            shared.tuning.idle_timeout
        } else {
            shared.tuning.message_timeout
        };
        tokio::select! {
            r = tokio::time::timeout(wait, reader.read_buf(&mut buf)) => match r {
                Ok(Ok(0)) => break,
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::debug!("transport '{}': read from {} failed: {e}", flow.transport, flow.remote);
                    break;
                }
                Err(_) => {
                    tracing::info!(
                        "transport '{}': {} sent no complete message in {} s; closing",
                        flow.transport,
                        flow.remote,
                        wait.as_secs()
                    );
                    break;
                }
            },
            _ = &mut writer => break,
            _ = stop.changed() => break,
        }
    }
    close(reg, tx, writer, &flow).await;
}

/// Ends a connection: unregistered first (the registry holds a sender too), so that the
/// writer, once every sender is gone, ends after writing what is queued (a final 400, say);
/// it gets a second for that.
pub(super) async fn close(
    reg: Registration,
    tx: mpsc::Sender<Bytes>,
    mut writer: tokio::task::JoinHandle<()>,
    flow: &Flow,
) {
    drop(reg);
    drop(tx);
    // A writer that already ended may have been awaited by the caller: a JoinHandle must
    // not be polled again after it completed (tokio panics).
    if !writer.is_finished() {
        let _ = tokio::time::timeout(Duration::from_secs(1), &mut writer).await;
    }
    writer.abort();
    tracing::debug!(
        "transport '{}': connection from {} closed",
        flow.transport,
        flow.remote
    );
}

async fn write_loop<W: AsyncWrite>(
    mut writer: tokio::io::WriteHalf<W>,
    mut rx: mpsc::Receiver<Bytes>,
    keep_alive: Option<Duration>,
    drained: Arc<tokio::sync::Notify>,
) {
    let mut tick = keep_alive
        .map(|every| tokio::time::interval_at(tokio::time::Instant::now() + every, every));
    loop {
        let bytes = tokio::select! {
            m = rx.recv() => match m {
                Some(b) => b,
                None => break,
            },
            _ = super::next_tick(&mut tick) => Bytes::from_static(PING),
        };
        if writer.write_all(&bytes).await.is_err() || writer.flush().await.is_err() {
            return;
        }
        drained.notify_one();
    }
    let _ = writer.shutdown().await;
}
