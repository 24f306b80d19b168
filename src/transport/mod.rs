//! Transports: the sockets of `type=transport` objects, and the task that feeds received
//! messages to the [`Core`] and sends what it answers (the async shell around it).
//!
//! Today: UDP. One task per socket receives datagrams into a bounded channel (a flood of
//! garbage fills it and is dropped and counted, it never grows memory); one core task owns
//! the sans-IO [`Core`], runs its timers and sends its output.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

mod logger;

pub use logger::{LoggerMode, SipLogger};

use crate::auth::NonceKey;
use crate::config::types::{Kind, Object, TransportProtocol};
use crate::core::{Core, Received};
use crate::sorcery::Store;
use crate::tsx::TimerConfig;

/// Largest UDP datagram read.
const MAX_DATAGRAM: usize = 65_535;
/// Received messages waiting for the core before new ones are dropped.
const INBOUND_DEPTH: usize = 8192;

/// The running SIP transports.
pub struct SipService {
    tasks: JoinSet<()>,
    /// (transport id, protocol, local address) of every listener.
    pub listeners: Vec<(String, TransportProtocol, SocketAddr)>,
}

impl SipService {
    /// Waits for every task to end (after `stop` turned true).
    pub async fn join(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Binds the UDP transports of the current configuration and starts serving them until
/// `stop` turns true. A transport that cannot bind is logged and skipped (the others serve).
pub async fn start(
    store: Arc<Store>,
    data_dir: &Path,
    logger: SipLogger,
    stop: watch::Receiver<bool>,
) -> SipService {
    let key = nonce_key(data_dir);
    let snapshot = store.snapshot();
    let mut sockets: HashMap<String, Arc<UdpSocket>> = HashMap::new();
    let mut listeners = Vec::new();
    for o in snapshot.all(Kind::Transport) {
        let Object::Transport(t) = &o.object else {
            continue;
        };
        let Some(addr) = t.bind.socket_addr(t.protocol.default_port()) else {
            continue;
        };
        if t.protocol != TransportProtocol::Udp {
            tracing::info!(
                "transport '{}': protocol {} accepted, not yet supported",
                o.id(),
                t.protocol
            );
            continue;
        }
        match UdpSocket::bind(addr).await {
            Ok(socket) => {
                let local = socket.local_addr().unwrap_or(addr);
                tracing::info!("transport '{}': listening on udp {local}", o.id());
                listeners.push((o.id().to_string(), t.protocol, local));
                sockets.insert(o.id().to_string(), Arc::new(socket));
            }
            Err(e) => tracing::error!("Transport '{}' could not be started on {addr}: {e}", o.id()),
        }
    }
    let mut tasks = JoinSet::new();
    let (tx, rx) = mpsc::channel::<Received>(INBOUND_DEPTH);
    for (id, socket) in &sockets {
        tasks.spawn(receive(
            id.clone(),
            socket.clone(),
            tx.clone(),
            logger.clone(),
            stop.clone(),
        ));
    }
    drop(tx);
    if let (false, Some(key)) = (sockets.is_empty(), key) {
        tasks.spawn(run_core(store, key, sockets, rx, logger, stop));
    }
    SipService { tasks, listeners }
}

async fn receive(
    transport: String,
    socket: Arc<UdpSocket>,
    tx: mpsc::Sender<Received>,
    logger: SipLogger,
    mut stop: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut dropped: u64 = 0;
    loop {
        tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok((len, source)) => {
                    let bytes = Bytes::copy_from_slice(buf.get(..len).unwrap_or_default());
                    logger.received("udp", source, &bytes);
                    let rx = Received { transport: transport.clone(), source, reliable: false, bytes };
                    // UDP under overload: drop, the peer retransmits (never queue unboundedly).
                    if tx.try_send(rx).is_err() {
                        dropped += 1;
                        if dropped.is_power_of_two() {
                            tracing::warn!("transport '{transport}': core busy, {dropped} datagrams dropped");
                        }
                    }
                }
                Err(e) => {
                    tracing::debug!("transport '{transport}': receive error: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = stop.changed() => break,
        }
    }
}

async fn run_core(
    store: Arc<Store>,
    key: NonceKey,
    sockets: HashMap<String, Arc<UdpSocket>>,
    mut rx: mpsc::Receiver<Received>,
    logger: SipLogger,
    mut stop: watch::Receiver<bool>,
) {
    let system = store.snapshot().system();
    let timers = TimerConfig::new(
        Duration::from_millis(u64::from(system.timer_t1)),
        Duration::from_millis(u64::from(system.timer_b)),
    );
    let mut seed = [0u8; 8];
    let _ = getrandom::fill(&mut seed);
    let mut core = Core::new(timers, key, u64::from_le_bytes(seed));
    loop {
        let wake = core.poll_timeout();
        tokio::select! {
            received = rx.recv() => match received {
                Some(received) => {
                    let snapshot = store.snapshot();
                    core.handle_received(Instant::now(), unix_now(), &snapshot, received);
                }
                None => break,
            },
            _ = sleep_until(wake) => core.handle_timeout(Instant::now()),
            _ = stop.changed() => break,
        }
        while let Some(t) = core.poll_transmit() {
            match sockets.get(&t.transport) {
                Some(socket) => {
                    logger.transmitted("udp", t.destination, &t.bytes);
                    if let Err(e) = socket.send_to(&t.bytes, t.destination).await {
                        tracing::debug!(
                            "transport '{}': send to {} failed: {e}",
                            t.transport,
                            t.destination
                        );
                    }
                }
                None => tracing::debug!("transport '{}' is gone", t.transport),
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// The digest nonce key, kept in `data_dir/nonce.key` (mode 0600) so that nonces issued
/// before a restart stay valid after it. A missing or damaged file is replaced.
fn nonce_key(data_dir: &Path) -> Option<NonceKey> {
    let path = data_dir.join("nonce.key");
    if let Ok(bytes) = std::fs::read(&path)
        && let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice())
    {
        return Some(NonceKey::from_bytes(key));
    }
    let key = match NonceKey::generate() {
        Ok(k) => k,
        Err(e) => {
            tracing::error!("cannot make a nonce key, SIP is not served: {e}");
            return None;
        }
    };
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, key.as_bytes()));
    if let Err(e) = written {
        tracing::warn!(
            "cannot save {}: {e}; nonces will not survive a restart",
            path.display()
        );
    }
    Some(key)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
