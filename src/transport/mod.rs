//! Transports: the sockets of `type=transport` objects (UDP, TCP, TLS, WS, WSS over IPv4
//! and IPv6), the distributor step on every received message, the serialized queues behind
//! it, and sending (the async shell around the sans-IO layers).
//!
//! - `udp`: a receive thread per socket parses and routes datagrams (no runtime polls it).
//! - `stream`: TCP and TLS connections (framing, keep-alives, timeouts) and the accept loop.
//! - `ws`: RFC 7118 WebSocket connections (plain or over TLS).
//! - `tls`: rustls settings from cert_file/priv_key_file/ca_list_file/verify_client/method,
//!   reloadable for new handshakes.
//! - `connections`: the live connections, by id and by peer, with counts.
//! - `outbound`: sending a [`Transmit`] over UDP or its connection, never waiting.

mod connections;
mod flow;
mod logger;
mod outbound;
mod resolve;
mod route;
mod stream;
mod tls;
mod udp;
mod ws;

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use connections::{Connections, Registration, SendError};
pub use flow::{ConnectionId, Flow, Received, Transmit, is_reliable, protocol_name};
pub use logger::{LoggerMode, SipLogger};
pub use outbound::Outbound;
pub use resolve::HostCache;
pub use route::UdpRoutes;
pub use tls::{TlsContext, TlsSetupError};

use crate::auth::{NonceKey, Verifier};
use crate::config::types::{Kind, Object, TransportProtocol};
use crate::core::{Core, CoreShared};
use crate::distributor::Distributor;
use crate::runtime::QueuePool;
use crate::sorcery::Store;
use crate::tsx::TimerConfig;

/// Limits of the transports and queues (`[sip]` in pjsipd.toml).
#[derive(Clone, Copy, Debug)]
pub struct Tuning {
    /// Serialized queues.
    pub queues: usize,
    /// Messages waiting per queue.
    pub queue_depth: usize,
    /// Threads the queues run on.
    pub queue_threads: usize,
    /// How long a new INVITE may wait in its queue before it gets 503 (`None`: no bound).
    pub overload_wait: Option<Duration>,
    /// Time to finish a started message (or send the first one, or finish a handshake).
    pub message_timeout: Duration,
    /// Time a connection may stay silent.
    pub idle_timeout: Duration,
    /// Connections at once.
    pub max_connections: usize,
    /// UDP socket receive buffer, bytes.
    pub udp_receive_buffer: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            queues: crate::distributor::DEFAULT_QUEUES,
            queue_depth: 1024,
            queue_threads: crate::runtime::threads::per_cpu(),
            overload_wait: Some(crate::core::BUSY_WAIT),
            message_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(600),
            max_connections: 8192,
            udp_receive_buffer: 4 << 20,
        }
    }
}

/// What every receive task shares.
pub(crate) struct Shared {
    distributor: Arc<Distributor>,
    queues: QueuePool,
    outbound: Outbound,
    logger: SipLogger,
    tuning: Tuning,
    store: Arc<Store>,
}

impl Shared {
    /// The distributor's decision, carried out: queued, answered or dropped.
    fn dispatch(&self, rx: Received) {
        let route = self.distributor.pick(rx);
        self.queues
            .deliver(&self.distributor, &self.outbound, route);
    }

    /// `[global] keep_alive_interval` (0: none).
    fn keep_alive(&self) -> Option<Duration> {
        let secs = self.store.snapshot().global().keep_alive_interval;
        (secs > 0).then(|| Duration::from_secs(u64::from(secs)))
    }
}

/// Waits for the next tick of an optional interval (forever without one).
async fn next_tick(tick: &mut Option<tokio::time::Interval>) {
    match tick.as_mut() {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// One listening socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    /// The transport object's id (shared with every flow routed through it).
    pub transport: Arc<str>,
    /// Its protocol.
    pub protocol: TransportProtocol,
    /// The bound address.
    pub local: SocketAddr,
}

/// The running transports, as the daemon's commands see them.
pub struct TransportHandle {
    listeners: Vec<Listener>,
    /// The queues, for operators' commands (set once they run).
    queues: std::sync::OnceLock<QueuePool>,
    connections: Connections,
    tls: Vec<(String, Arc<TlsContext>)>,
    distributor: Arc<Distributor>,
    config_dir: PathBuf,
}

impl TransportHandle {
    /// The listening sockets.
    pub fn listeners(&self) -> &[Listener] {
        &self.listeners
    }

    /// Open connections of a transport.
    pub fn connections(&self, transport: &str) -> usize {
        self.connections.count(transport)
    }

    /// Calls `hook` with the id of every connection that closes.
    pub fn on_connection_closed(&self, hook: connections::CloseHook) {
        self.connections.on_close(hook);
    }

    /// Open connections in all.
    pub fn open_connections(&self) -> usize {
        self.connections.total()
    }

    /// The serialized queues, once SIP runs.
    pub fn queues(&self) -> Option<&QueuePool> {
        self.queues.get()
    }

    /// The distributor and its counters.
    pub fn distributor(&self) -> &Distributor {
        &self.distributor
    }

    /// Re-reads the certificate files of every TLS transport (`pjsip reload`): new
    /// handshakes use them, open connections keep theirs. Returns one line per transport
    /// whose files could not be used (it keeps its previous settings).
    pub fn reload_tls(&self, store: &Store) -> Vec<String> {
        let snapshot = store.snapshot();
        let mut problems = Vec::new();
        for (id, ctx) in &self.tls {
            let Some(Object::Transport(t)) = snapshot.get(Kind::Transport, id).map(|o| &o.object)
            else {
                continue;
            };
            match ctx.reload(t, &self.config_dir) {
                Ok(()) => tracing::info!("transport '{id}': TLS certificate files reloaded"),
                Err(e) => {
                    let line = format!("transport '{id}': TLS settings kept: {e}");
                    tracing::error!("{line}");
                    problems.push(line);
                }
            }
        }
        problems
    }
}

/// The running SIP transports.
pub struct SipService {
    tasks: JoinSet<()>,
    /// The handle for commands.
    pub handle: Arc<TransportHandle>,
}

impl SipService {
    /// Waits for every task to end (after `stop` turned true).
    pub async fn join(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

enum Bound {
    Udp(Arc<UdpSocket>),
    Stream(TcpListener, stream::Layer, Option<socket2::TcpKeepalive>),
}

/// Binds the transports of the current configuration and serves them until `stop` turns
/// true. A transport that cannot start is logged and skipped (the others serve). TLS file
/// names are relative to `config_dir`; the nonce key lives in `data_dir`.
// Each argument is one piece of the daemon the transports are wired to.
#[allow(clippy::too_many_arguments)]
pub async fn start(
    store: Arc<Store>,
    config_dir: &Path,
    data_dir: &Path,
    logger: SipLogger,
    tuning: Tuning,
    core: CoreShared,
    hosts: Arc<HostCache>,
    calls: Option<crate::runtime::CallWiring>,
    stop: watch::Receiver<bool>,
) -> SipService {
    let snapshot = store.snapshot();
    let mut bound: Vec<(Arc<str>, TransportProtocol, Bound)> = Vec::new();
    let mut listeners = Vec::new();
    let mut tls = Vec::new();
    for o in snapshot.all(Kind::Transport) {
        let Object::Transport(t) = &o.object else {
            continue;
        };
        let id: Arc<str> = Arc::from(o.id());
        let Some(addr) = t.bind.socket_addr(t.protocol.default_port()) else {
            tracing::error!("Transport '{id}' could not be started as binding not specified");
            continue;
        };
        let layer = match t.protocol {
            TransportProtocol::Udp => None,
            TransportProtocol::Flow => continue,
            TransportProtocol::Tcp => Some(stream::Layer::Tcp),
            TransportProtocol::Ws => Some(stream::Layer::Ws),
            TransportProtocol::Tls | TransportProtocol::Wss => {
                match TlsContext::new(t, config_dir) {
                    Ok(ctx) => {
                        let ctx = Arc::new(ctx);
                        tls.push((id.to_string(), ctx.clone()));
                        Some(if t.protocol == TransportProtocol::Tls {
                            stream::Layer::Tls(ctx)
                        } else {
                            stream::Layer::Wss(ctx)
                        })
                    }
                    Err(e) => {
                        tracing::error!("Transport '{id}' could not be started: {e}");
                        continue;
                    }
                }
            }
        };
        let result = match layer {
            None => udp::bind(addr, tuning.udp_receive_buffer).map(|s| Bound::Udp(Arc::new(s))),
            Some(layer) => TcpListener::bind(addr)
                .await
                .map(|l| Bound::Stream(l, layer, stream::os_keepalive(t))),
        };
        match result {
            Ok(b) => {
                let local = match &b {
                    Bound::Udp(s) => s.local_addr(),
                    Bound::Stream(l, ..) => l.local_addr(),
                }
                .unwrap_or(addr);
                tracing::info!("transport '{id}': listening on {} {local}", t.protocol);
                listeners.push(Listener {
                    transport: id.clone(),
                    protocol: t.protocol,
                    local,
                });
                bound.push((id, t.protocol, b));
            }
            Err(e) => tracing::error!("Transport '{id}' could not be started on {addr}: {e}"),
        }
    }

    let connections = Connections::default();
    let udp: HashMap<Arc<str>, Arc<UdpSocket>> = bound
        .iter()
        .filter_map(|(id, _, b)| match b {
            Bound::Udp(s) => Some((id.clone(), s.clone())),
            Bound::Stream(..) => None,
        })
        .collect();
    let outbound = Outbound::new(udp, connections.clone(), logger.clone());
    let mut seed = [0u8; 8];
    let _ = getrandom::fill(&mut seed);
    let seed = u64::from_le_bytes(seed);
    let distributor = Arc::new(Distributor::new(tuning.queues, seed));
    let mut core = core;
    core.dialogs = distributor.dialogs().clone();
    let mut tasks = JoinSet::new();
    let handle = Arc::new(TransportHandle {
        queues: std::sync::OnceLock::new(),
        listeners,
        connections,
        tls,
        distributor: distributor.clone(),
        config_dir: config_dir.to_path_buf(),
    });
    let Some(key) = nonce_key(data_dir) else {
        return SipService { tasks, handle };
    };
    if bound.is_empty() {
        return SipService { tasks, handle };
    }
    let system = snapshot.system();
    let timers = TimerConfig::new(
        Duration::from_millis(u64::from(system.timer_t1)),
        Duration::from_millis(u64::from(system.timer_b)),
    );
    let verifier = Verifier::new(key, "asterisk");
    let network: Arc<dyn crate::core::Network> =
        Arc::new(UdpRoutes::new(handle.listeners.clone()).with_hosts(hosts));
    let cores = (0..distributor.queues())
        .map(|i| {
            let sip_core =
                Core::with_verifier(timers, verifier.sibling(), seed.wrapping_add(i as u64 + 1))
                    .with_shared(&core)
                    .with_queue(i)
                    .with_overload_wait(tuning.overload_wait)
                    .with_usages(
                        distributor.queues(),
                        core.registrations.clone(),
                        network.clone(),
                    );
            let pbx = calls.as_ref().map(|c| {
                crate::pbx::Pbx::new(
                    c.shared.clone(),
                    i,
                    seed.rotate_left(7).wrapping_add(i as u64),
                )
            });
            (sip_core, pbx)
        })
        .collect();
    let queues = QueuePool::start(
        cores,
        crate::runtime::queues::Sizing {
            depth: tuning.queue_depth,
            threads: tuning.queue_threads,
        },
        store.clone(),
        outbound.clone(),
        distributor.clone(),
        &stop,
        &mut tasks,
    );
    let _ = handle.queues.set(queues.clone());
    if let Some(c) = &calls {
        let _ = c.queues.set(queues.clone());
    }
    // Sockets are read until the queues have finished their shutdown work, so that the
    // answers to the un-REGISTERs sent then still arrive.
    let receiving = queues.finished();
    let shared = Arc::new(Shared {
        distributor,
        queues,
        outbound,
        logger,
        tuning,
        store,
    });
    // TCP messages to peers without a connection (outbound REGISTERs over TCP) open one.
    let (connect_tx, connect_rx) = tokio::sync::mpsc::unbounded_channel();
    shared.outbound.connect_with(connect_tx);
    tasks.spawn(stream::connector(
        connect_rx,
        shared.clone(),
        receiving.clone(),
    ));
    for (id, protocol, b) in bound {
        match b {
            Bound::Udp(socket) => {
                match udp::spawn_receiver(id.clone(), &socket, shared.clone(), receiving.clone()) {
                    // The transports' tasks end once the receive thread has.
                    Ok(thread) => {
                        tasks.spawn(async move {
                            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
                        });
                    }
                    Err(e) => tracing::error!("Transport '{id}' cannot receive: {e}"),
                }
            }
            Bound::Stream(listener, layer, keepalive) => {
                tasks.spawn(stream::accept_loop(
                    listener,
                    id,
                    protocol,
                    layer,
                    keepalive,
                    shared.clone(),
                    receiving.clone(),
                ));
            }
        }
    }
    SipService { tasks, handle }
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
