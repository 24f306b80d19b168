//! The relay (I/O): dedicated threads, each running a mio (epoll) loop over the sockets of the
//! legs it owns.
//!
//! - Both legs of a bridge live on the same thread, so relaying a packet is one `recv_from`
//!   on the leg's socket, an in-place rewrite, and one `send_to` on the peer's socket: no lock,
//!   no allocation, no cross-thread hop on the packet path.
//! - A leg starts on thread `queue % threads`. When two legs on different threads are bridged,
//!   the second one migrates: its thread detaches it and hands it (sockets and state) to the
//!   first leg's thread. Commands sent meanwhile are held by the new thread until the leg
//!   arrives, so their order is kept.
//! - Commands reach a thread through a channel plus a mio waker, always sent while holding
//!   the leg directory lock, so all commands are totally ordered.
//! - Playback and DTMF generation are paced by a timer heap in the loop (20 ms ticks).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use socket2::{Domain, Protocol, Socket, Type};
use tracing::{debug, info, warn};

use super::batch::{BATCH, RecvBatch};
use super::dtmf::{DtmfDetector, EventTrain, TelephoneEvent};
use super::g711::{self, Law};
use super::kernel::{self, Count, KernelForwarding};
use super::latch::{Latch, LatchParams, Verdict};
use super::ports::{Attempt, PortAllocator};
use super::rtp::{OutStream, RtpMut, check_rtcp, write_packet};
use super::sound::{FRAME_SAMPLES, Sound};
use super::stats::LegCounters;
use super::{
    LegConfig, LegId, LegStats, LocalMedia, MediaControl, MediaError, MediaEvent, OpenLeg,
};

#[path = "engine_legs.rs"]
mod legs;
#[path = "engine_offload.rs"]
mod offload;

use legs::Legs;

/// Receives [`MediaEvent`]s with the queue of the leg; called on a relay thread, must not block.
pub type EventSink = Arc<dyn Fn(usize, MediaEvent) + Send + Sync>;

/// Engine settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaConfig {
    /// First port of the RTP range (`rtpstart`).
    pub port_start: u16,
    /// Last port of the RTP range (`rtpend`).
    pub port_end: u16,
    /// Relay threads; 0 means one per available CPU.
    pub threads: usize,
    /// Hand plain bridged RTP to the kernel (nftables NAT), see [`crate::media::kernel`].
    pub kernel_forwarding: bool,
}

/// Receive buffer asked for each socket (the kernel caps it at `net.core.rmem_max`): a few
/// seconds of one 50 packets/s stream, enough for scheduling hiccups; more would only turn an
/// overload into seconds of delay instead of loss.
const RCVBUF: usize = 256 * 1024;
/// Datagrams read from one socket per readiness event before serving the others.
const READ_BUDGET: usize = 64;
/// Pacing of generated packets (playback frames and DTMF event packets).
const TICK: Duration = Duration::from_millis(20);
/// Samples per tick at 8 kHz.
const TICK_SAMPLES: u32 = 160;
/// A timer this late is re-based on the current time instead of catching up with a burst.
const MAX_LAG: Duration = Duration::from_millis(100);
/// Pause after a round that handled packets. Under load, a thread woken for every packet
/// spends more in wake-ups (an inter-processor interrupt on the sender's side, a context
/// switch on ours; costly on VMs) than in relaying; pausing lets packets queue in the socket
/// buffers, so each `epoll_wait` returns a batch and senders wake nobody. Adds at most this
/// much latency (RTP tolerates far more: 20 ms packets, jitter buffers of 40+ ms).
const COALESCE: Duration = Duration::from_micros(500);
/// Token of the waker; socket tokens are `slot * 2` (RTP) and `slot * 2 + 1` (RTCP).
const WAKE: Token = Token(usize::MAX);
/// How long [`MediaControl::stats`] waits for the relay thread.
const STATS_WAIT: Duration = Duration::from_secs(1);
/// Events taken from one `epoll_wait`.
const EVENTS: usize = 1024;

/// What a leg does with what it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Idle,
    Echo,
    /// Bridged to the leg in this slot (with that id).
    Bridged(usize, LegId),
}

/// One leg, owned by a relay thread.
struct Leg {
    id: LegId,
    /// The slot of the relay thread its pooled sockets are registered under, if they came
    /// from the pool.
    reserved: Option<usize>,
    queue: usize,
    label: String,
    rtp: UdpSocket,
    /// Bound once RTP passes through the leg (see [`Worker::ensure_rtcp`]).
    rtcp: Option<UdpSocket>,
    /// Binding the RTCP socket failed: not tried again for this leg.
    rtcp_failed: bool,
    local_rtp: SocketAddr,
    cfg: LegConfig,
    law: Option<Law>,
    rtp_latch: Latch,
    rtcp_latch: Latch,
    counters: LegCounters,
    mode: Mode,
    out: OutStream,
    play: Option<(Arc<Sound>, usize)>,
    dtmf_out: Option<EventTrain>,
    dtmf_queue: VecDeque<(char, u32)>,
    dtmf_in: DtmfDetector,
    /// Samples elapsed since the last generated timestamp advance.
    elapsed: u32,
    next_tick: Option<Instant>,
    /// The kernel forwards this leg's packets (and its peer's) under this offload.
    offload: Option<u64>,
    /// What the kernel had counted for this leg at the last reading: (RTP packets, RTP
    /// bytes, RTCP packets).
    kernel_seen: (u64, u64, u64),
}

impl Leg {
    fn stats(&self) -> LegStats {
        let c = &self.counters;
        LegStats {
            rx_packets: c.rx_packets,
            tx_packets: c.tx_packets,
            rx_bytes: c.rx_bytes,
            tx_bytes: c.tx_bytes,
            rx_lost: c.rx_lost(),
            unexpected: c.unexpected,
            dropped: c.dropped,
            send_errors: c.send_errors,
            rtcp_rx_packets: c.rtcp_rx_packets,
            rtcp_tx_packets: c.rtcp_tx_packets,
            latched: self.rtp_latch.latched(),
            latched_rtcp: self.rtcp_latch.latched(),
            last_rx: c.last_rx,
            local_rtp: self.local_rtp,
            remote: self.rtp_latch.destination(),
            bridged_to: match self.mode {
                Mode::Bridged(_, id) => Some(id),
                _ => None,
            },
            kernel: self.offload.is_some(),
        }
    }

    /// Source check of a received packet (RTP or RTCP latch): `false` when it must be
    /// dropped, counted as unexpected.
    fn admit(&mut self, rtcp: bool, src: SocketAddr, now: Instant) -> bool {
        let latch = if rtcp {
            &mut self.rtcp_latch
        } else {
            &mut self.rtp_latch
        };
        match latch.on_packet(src, now) {
            Verdict::Reject => {
                self.counters.unexpected += 1;
                false
            }
            Verdict::Latched(addr) => {
                info!(leg = self.id.0, label = %self.label, %addr, rtcp, "media source latched");
                true
            }
            Verdict::Accept => true,
        }
    }

    /// Whether relayed audio to this leg is suppressed by our own generated packets.
    fn generating(&self) -> bool {
        self.play.is_some() || self.dtmf_out.is_some()
    }

    fn samples_per_packet(&self) -> u32 {
        u32::from(self.cfg.ptime_ms.max(10)) * 8
    }

    /// Sends `buf` (a complete RTP packet) to the leg's RTP destination.
    fn send_rtp(&mut self, buf: &[u8]) {
        if !self.cfg.send {
            return;
        }
        let Some(dest) = self.rtp_latch.destination() else {
            return;
        };
        match self.rtp.send_to(buf, dest) {
            Ok(n) => self.counters.on_rtp_tx(n),
            Err(_) => self.counters.send_errors += 1,
        }
    }

    /// Sends `buf` (an RTCP packet) to the leg's RTCP destination.
    fn send_rtcp(&mut self, buf: &[u8]) {
        if !self.cfg.send {
            return;
        }
        let (Some(dest), Some(sock)) = (self.rtcp_latch.destination(), self.rtcp.as_ref()) else {
            return;
        };
        match sock.send_to(buf, dest) {
            Ok(_) => self.counters.rtcp_tx_packets += 1,
            Err(_) => self.counters.send_errors += 1,
        }
    }

    /// Builds and sends one packet we generate.
    fn send_own(&mut self, payload_type: u8, advance: u32, marker: bool, payload: &[u8]) {
        let header = self.out.own(payload_type, advance, marker);
        let mut pkt = [0u8; 12 + FRAME_SAMPLES];
        if let Some(n) = write_packet(&mut pkt, header, payload) {
            self.send_rtp(pkt.get(..n).unwrap_or(&[]));
        }
    }
}

/// Commands for one leg.
enum Cmd {
    Configure(LegConfig),
    Unbridge,
    Echo,
    Play(Arc<Sound>),
    StopPlay,
    SendDtmf(char, u32),
    Close,
    Stats(SyncSender<Option<LegStats>>),
}

/// Messages to a relay thread.
enum Ctl {
    Add(Box<Leg>),
    Cmd(LegId, Cmd),
    Bridge(LegId, LegId),
    /// The leg is migrating here: hold its commands until it arrives.
    Expect(LegId),
    /// Detach the leg and hand it to thread `to`, to be bridged there with `with`.
    Migrate {
        leg: LegId,
        to: usize,
        with: LegId,
    },
    /// A migrated leg arrives, to be bridged with `with`.
    Adopt {
        leg: Box<Leg>,
        with: LegId,
    },
    /// The expected leg will not arrive (it was gone).
    Gone(LegId),
    /// A pooled pair of this thread's `slot` was taken by another thread (deregistered
    /// already): the slot is free again.
    Release(usize),
    /// What the kernel forwarded for legs of this thread.
    KernelCounts(Vec<Count>),
    Stop,
}

/// The sending side of one relay thread.
struct WorkerHandle {
    tx: Sender<Ctl>,
    waker: Arc<Waker>,
    /// The thread's poll registry, to take a pooled pair away from it (see
    /// [`MediaEngine::steal_pooled`]).
    registry: mio::Registry,
    /// A wake-up is on its way: commands sent meanwhile need no other (the thread clears
    /// this before it drains its channel). A call's set-up sends several commands in a
    /// row; one wake-up serves them all.
    woken: Arc<AtomicBool>,
}

impl WorkerHandle {
    /// Queues a message. Only what someone waits for (stats, stop) wakes the thread; the
    /// rest (open, configure, bridge, close...) is picked up within [`LAZY`]: waking a
    /// thread costs a system call here and a context switch there, several times per call,
    /// which at thousands of calls a second was a large share of the daemon's CPU.
    fn send(&self, msg: Ctl) {
        let urgent = matches!(msg, Ctl::Cmd(_, Cmd::Stats(_)) | Ctl::Stop);
        if self.tx.send(msg).is_ok() && urgent && !self.woken.swap(true, Ordering::AcqRel) {
            // A failed wake only delays the command until the next poll.
            let _ = self.waker.wake();
        }
    }
}

/// Longest a queued command that woke nobody waits: the relay threads never sleep longer.
const LAZY: Duration = Duration::from_millis(5);

/// A socket pair a closed leg left for the next leg of the same relay thread: still bound
/// (its ports stay taken) and still registered with that thread's poll under the tokens of
/// `slot`, which the thread keeps reserved. Opening a leg then costs no socket, bind,
/// close or epoll_ctl system call (a call opens two legs and closes them again).
struct Pooled {
    ip: std::net::IpAddr,
    /// The RTP port (RTCP is the next one): known, so reuse asks the kernel nothing.
    port: u16,
    rtp: UdpSocket,
    rtcp: Option<UdpSocket>,
    since: Instant,
    slot: usize,
}

/// One pool per relay thread (index = thread index).
type SocketPools = Arc<Vec<Mutex<Vec<Pooled>>>>;

/// Most socket pairs kept in each thread's pool (beyond, closed legs release their ports).
const POOL_MAX: usize = 512;
/// A pooled pair unused this long is closed and its ports released (so a quiet daemon
/// holds no RTP port).
const POOL_IDLE: Duration = Duration::from_secs(5);

/// The media engine: relay threads plus the leg directory. See the module docs of
/// [`crate::media`] for the API.
pub struct MediaEngine {
    workers: Arc<Vec<WorkerHandle>>,
    /// Leg → relay thread index. Commands are sent while holding it (see module docs).
    dir: Mutex<HashMap<LegId, usize>>,
    ports: Arc<Mutex<PortAllocator>>,
    pools: SocketPools,
    next_id: AtomicU64,
    /// State of the generator of SSRCs, sequence and timestamp starts (seeded once).
    random: AtomicU64,
    joins: Mutex<Vec<JoinHandle<()>>>,
    /// Dropped after the relay threads stop (it removes the nftables table).
    kernel: Mutex<Option<KernelForwarding>>,
    /// Legs the kernel forwards now (kept by the relay threads).
    kernel_legs: Arc<std::sync::atomic::AtomicUsize>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reads and drops whatever a socket has queued (bounded).
fn drain(socket: &UdpSocket) {
    let mut buf = [0u8; 64];
    for _ in 0..256 {
        if socket.recv_from(&mut buf).is_err() {
            return;
        }
    }
}

/// EMFILE / ENFILE: the process or the system is out of file descriptors.
fn is_fd_exhaustion(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23 | 24))
}

fn bind_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    // Best effort: a smaller buffer only matters under bursts.
    let _ = s.set_recv_buffer_size(RCVBUF);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    Ok(UdpSocket::from_std(s.into()))
}

/// splitmix64: cheap, well-spread numbers for RTP stream starts (RFC 3550 asks for random
/// ones; they need not be secret). Seeded from the OS once per engine.
fn next_random(state: &AtomicU64) -> u64 {
    let mut z = state
        .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
        .wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Starts kernel forwarding; on failure says why and returns `None` (the relay threads then
/// relay everything).
fn start_kernel(
    config: &MediaConfig,
    workers: &Arc<Vec<WorkerHandle>>,
) -> Option<KernelForwarding> {
    let (tx, rx) = mpsc::channel();
    let to_workers = Arc::clone(workers);
    let sink: kernel::CountSink = Box::new(move |index, counts| {
        if let Some(w) = to_workers.get(index) {
            w.send(Ctl::KernelCounts(counts));
        }
    });
    match KernelForwarding::start("nft", config.port_start, config.port_end, rx, tx, sink) {
        Ok(k) => Some(k),
        Err(e) => {
            warn!(error = %e, "media: kernel forwarding unavailable, relaying in user space");
            None
        }
    }
}

impl MediaEngine {
    /// Starts the relay threads. Callable from inside a tokio runtime (they are plain threads).
    pub fn start(config: MediaConfig, sink: EventSink) -> Result<Arc<Self>, MediaError> {
        let ports = Arc::new(Mutex::new(PortAllocator::new(
            config.port_start,
            config.port_end,
        )?));
        let threads = if config.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            config.threads
        };
        let mut polls = Vec::with_capacity(threads);
        let mut handles = Vec::with_capacity(threads);
        let mut receivers = Vec::with_capacity(threads);
        let mut flags = Vec::with_capacity(threads);
        for _ in 0..threads {
            let poll = Poll::new()?;
            let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
            let registry = poll.registry().try_clone()?;
            let (tx, rx) = mpsc::channel();
            polls.push(poll);
            let woken = Arc::new(AtomicBool::new(false));
            flags.push(Arc::clone(&woken));
            handles.push(WorkerHandle {
                tx,
                waker,
                registry,
                woken,
            });
            receivers.push(rx);
        }
        let pools: SocketPools = Arc::new((0..threads).map(|_| Mutex::default()).collect());
        let workers = Arc::new(handles);
        let kernel = if config.kernel_forwarding {
            start_kernel(&config, &workers)
        } else {
            None
        };
        let kernel_legs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut joins = Vec::with_capacity(threads);
        for (index, ((poll, rx), woken)) in polls.into_iter().zip(receivers).zip(flags).enumerate()
        {
            let mut worker = Worker {
                index,
                poll,
                rx,
                woken,
                pools: Arc::clone(&pools),
                workers: Arc::clone(&workers),
                sink: Arc::clone(&sink),
                ports: Arc::clone(&ports),
                legs: Legs::default(),
                pending: HashMap::new(),
                timers: BinaryHeap::new(),
                again: Vec::new(),
                stop: false,
                kernel: kernel
                    .as_ref()
                    .map(|k| (k.sender(), k.healthy_flag(), k.families())),
                next_offload: 0,
                kernel_legs: Arc::clone(&kernel_legs),
            };
            let join = std::thread::Builder::new()
                .name(format!("media-{index}"))
                .spawn(move || worker.run())?;
            joins.push(join);
        }
        info!(threads, "media engine started");
        Ok(Arc::new(Self {
            workers,
            dir: Mutex::new(HashMap::new()),
            ports,
            pools,
            next_id: AtomicU64::new(1),
            random: AtomicU64::new(getrandom::u64().unwrap_or(0x5eed_1e55_0fc0_ffee)),
            joins: Mutex::new(joins),
            kernel: Mutex::new(kernel),
            kernel_legs,
        }))
    }

    fn command(&self, leg: LegId, cmd: Cmd) {
        let dir = lock(&self.dir);
        if let Some(w) = dir.get(&leg).and_then(|&i| self.workers.get(i)) {
            w.send(Ctl::Cmd(leg, cmd));
        }
    }

    fn worker(&self, index: usize) -> Option<&WorkerHandle> {
        self.workers.get(index)
    }

    /// Out of ports: takes a pair another thread keeps in its pool, out of that thread's
    /// poll, and has the thread free the slot it was registered under.
    fn steal_pooled(&self, ip: std::net::IpAddr) -> Option<Pooled> {
        for (pool, w) in self.pools.iter().zip(self.workers.iter()) {
            let taken = {
                let mut pool = lock(pool);
                let at = pool.iter().rposition(|p| p.ip == ip);
                at.map(|i| pool.swap_remove(i))
            };
            if let Some(mut p) = taken {
                let _ = w.registry.deregister(&mut p.rtp);
                if let Some(rtcp) = p.rtcp.as_mut() {
                    let _ = w.registry.deregister(rtcp);
                    drain(rtcp);
                }
                w.send(Ctl::Release(p.slot));
                drain(&p.rtp);
                return Some(p);
            }
        }
        None
    }
}

impl Drop for MediaEngine {
    fn drop(&mut self) {
        for w in self.workers.iter() {
            w.send(Ctl::Stop);
        }
        for j in lock(&self.joins).drain(..) {
            let _ = j.join();
        }
        drop(lock(&self.kernel).take());
    }
}

impl MediaControl for MediaEngine {
    fn open(&self, req: &OpenLeg) -> Result<LocalMedia, MediaError> {
        let ip = req.local_ip;
        // Both legs of a call come from one queue, so they share a thread (no migration).
        let index = req.queue % self.workers.len().max(1);
        let pooled = self.pools.get(index).and_then(|pool| {
            let mut pool = lock(pool);
            let at = pool.iter().rposition(|p| p.ip == ip);
            at.map(|i| pool.swap_remove(i))
        });
        let mut reserved = None;
        let (port, (rtp, rtcp)) = match pooled {
            Some(p) => {
                // What the previous call's peer sent late is dropped by the relay thread
                // (see `Legs::stale`), which alone knows whether anything came.
                reserved = Some(p.slot);
                (p.port, (p.rtp, p.rtcp))
            }
            None => {
                let mut failure = None;
                let bound = lock(&self.ports).allocate(|port| {
                    // The RTCP port is only checked free here: its socket is opened once
                    // RTP flows (`Worker::ensure_rtcp`), so a call that carries none
                    // holds two file descriptors instead of four.
                    let pair = bind_udp(SocketAddr::new(ip, port)).and_then(|rtp| {
                        let rtcp_port = port.checked_add(1).ok_or(io::ErrorKind::InvalidInput)?;
                        drop(std::net::UdpSocket::bind(SocketAddr::new(ip, rtcp_port))?);
                        Ok((rtp, None))
                    });
                    match pair {
                        Ok(p) => Attempt::Bound(p),
                        Err(e) => {
                            let stop = is_fd_exhaustion(&e);
                            failure = Some(e);
                            if stop { Attempt::Stop } else { Attempt::Busy }
                        }
                    }
                });
                // No pair bound (range used up, ports held by others, or no file
                // descriptor left): a pair another thread keeps pooled needs none.
                match bound {
                    Some(b) => b,
                    None => match self.steal_pooled(ip) {
                        Some(p) => (p.port, (p.rtp, p.rtcp)),
                        // Out of file descriptors is not out of ports: say which.
                        None => {
                            return Err(match failure {
                                Some(e) if is_fd_exhaustion(&e) => MediaError::Io(e),
                                _ => MediaError::NoPorts,
                            });
                        }
                    },
                }
            }
        };
        // The sockets are bound to exactly these (no getsockname per call).
        let local_rtp = SocketAddr::new(ip, port);
        let local_rtcp = SocketAddr::new(ip, port.wrapping_add(1));
        let id = LegId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let cfg = LegConfig::default();
        let leg = Box::new(Leg {
            id,
            reserved,
            queue: req.queue,
            label: req.label.clone(),
            rtp,
            rtcp,
            rtcp_failed: false,
            local_rtp,
            law: cfg.encoding.law(),
            cfg,
            rtp_latch: Latch::new(LatchParams::default()),
            rtcp_latch: Latch::new(LatchParams::default()),
            counters: LegCounters::default(),
            mode: Mode::Idle,
            out: {
                let r = next_random(&self.random);
                OutStream::new(r as u32, (r >> 32) as u16, (r >> 48) as u32 * 0x1_0001)
            },
            play: None,
            dtmf_out: None,
            dtmf_queue: VecDeque::new(),
            dtmf_in: DtmfDetector::new(),
            elapsed: 0,
            next_tick: None,
            offload: None,
            kernel_seen: (0, 0, 0),
        });
        let mut dir = lock(&self.dir);
        let Some(w) = self.worker(index) else {
            lock(&self.ports).release(port);
            return Err(MediaError::Stopped);
        };
        dir.insert(id, index);
        w.send(Ctl::Add(leg));
        drop(dir);
        debug!(leg = id.0, label = %req.label, %local_rtp, "media leg opened");
        Ok(LocalMedia {
            leg: id,
            rtp: local_rtp,
            rtcp: local_rtcp,
        })
    }

    fn configure(&self, leg: LegId, config: LegConfig) {
        self.command(leg, Cmd::Configure(config));
    }

    fn bridge(&self, a: LegId, b: LegId) {
        if a == b {
            return;
        }
        let mut dir = lock(&self.dir);
        let (Some(&wa), Some(&wb)) = (dir.get(&a), dir.get(&b)) else {
            return;
        };
        let (Some(ha), Some(hb)) = (self.worker(wa), self.worker(wb)) else {
            return;
        };
        if wa == wb {
            ha.send(Ctl::Bridge(a, b));
        } else {
            // Expect first, so the new thread holds commands sent from now on.
            ha.send(Ctl::Expect(b));
            hb.send(Ctl::Migrate {
                leg: b,
                to: wa,
                with: a,
            });
            dir.insert(b, wa);
        }
    }

    fn unbridge(&self, leg: LegId) {
        self.command(leg, Cmd::Unbridge);
    }

    fn echo(&self, leg: LegId) {
        self.command(leg, Cmd::Echo);
    }

    fn play(&self, leg: LegId, sound: Arc<Sound>) {
        self.command(leg, Cmd::Play(sound));
    }

    fn stop_play(&self, leg: LegId) {
        self.command(leg, Cmd::StopPlay);
    }

    fn send_dtmf(&self, leg: LegId, digit: char, duration_ms: u32) {
        self.command(leg, Cmd::SendDtmf(digit, duration_ms));
    }

    fn close(&self, leg: LegId) {
        let mut dir = lock(&self.dir);
        if let Some(w) = dir.remove(&leg).and_then(|i| self.worker(i)) {
            w.send(Ctl::Cmd(leg, Cmd::Close));
        }
    }

    fn stats(&self, leg: LegId) -> Option<LegStats> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.command(leg, Cmd::Stats(tx));
        rx.recv_timeout(STATS_WAIT).ok().flatten()
    }

    fn open_legs(&self) -> usize {
        lock(&self.dir).len()
    }

    fn kernel_legs(&self) -> usize {
        self.kernel_legs.load(Ordering::Relaxed)
    }

    fn stop_kernel_forwarding(&self) {
        drop(lock(&self.kernel).take());
    }
}

/// One relay thread.
struct Worker {
    index: usize,
    poll: Poll,
    rx: Receiver<Ctl>,
    /// Cleared before each drain of `rx` (see [`WorkerHandle::woken`]).
    woken: Arc<AtomicBool>,
    /// Where closed legs leave their sockets (this thread's is `pools[index]`).
    pools: SocketPools,
    workers: Arc<Vec<WorkerHandle>>,
    sink: EventSink,
    ports: Arc<Mutex<PortAllocator>>,
    legs: Legs,
    /// Commands for legs migrating here, replayed when they arrive.
    pending: HashMap<LegId, Vec<Ctl>>,
    /// (deadline, slot, leg id) of playback/DTMF ticks; stale entries are skipped.
    timers: BinaryHeap<Reverse<(Instant, usize, LegId)>>,
    /// Socket tokens whose read budget ran out: read again without waiting.
    again: Vec<Token>,
    stop: bool,
    /// Kernel forwarding: where to send requests, and whether it still works.
    kernel: Option<(
        std::sync::mpsc::Sender<kernel::Request>,
        Arc<AtomicBool>,
        kernel::Families,
    )>,
    /// Offloads made by this thread (ids are this counter and the thread index).
    next_offload: u64,
    /// The engine's count of legs in the kernel, which this thread adds to and takes from.
    kernel_legs: Arc<std::sync::atomic::AtomicUsize>,
}

fn emit_dtmf(sink: &EventSink, leg: &mut Leg, timestamp: u32, payload: &[u8]) {
    let Ok(ev) = TelephoneEvent::parse(payload) else {
        leg.counters.dropped += 1;
        return;
    };
    if let Some(d) = leg.dtmf_in.on_packet(timestamp, &ev) {
        debug!(leg = leg.id.0, digit = %d.digit, "DTMF received");
        sink(
            leg.queue,
            MediaEvent::Dtmf {
                leg: leg.id,
                digit: d.digit,
                duration_ms: d.duration_ms,
            },
        );
    }
}

/// Whether audio of `from` can be relayed to `to`, and the transcoding needed.
enum AudioPath {
    Same,
    Transcode(Law, Law),
    Mismatch,
}

fn audio_path(from: &Leg, to: &Leg) -> AudioPath {
    match (from.law, to.law) {
        (Some(a), Some(b)) if a == b => AudioPath::Same,
        (Some(a), Some(b)) => AudioPath::Transcode(a, b),
        (None, None) if from.cfg.encoding == to.cfg.encoding => AudioPath::Same,
        _ => AudioPath::Mismatch,
    }
}

/// Handles one received RTP datagram `buf` of the leg in `slot`.
fn on_rtp(
    legs: &mut Legs,
    sink: &EventSink,
    slot: usize,
    buf: &mut [u8],
    src: SocketAddr,
    now: Instant,
) {
    let Some(leg) = legs.get_mut(slot) else {
        return;
    };
    if !leg.admit(false, src, now) {
        return;
    }
    let len = buf.len();
    let Ok(mut pkt) = RtpMut::parse(buf) else {
        leg.counters.dropped += 1;
        return;
    };
    leg.counters.on_rtp_rx(pkt.ssrc(), pkt.seq(), len, now);
    if !leg.cfg.receive {
        leg.counters.dropped += 1;
        return;
    }
    let pt = pkt.payload_type();
    let is_dtmf = leg.cfg.dtmf_payload_type == Some(pt);
    let peer_slot = match leg.mode {
        Mode::Idle => {
            if is_dtmf {
                emit_dtmf(sink, leg, pkt.timestamp(), pkt.payload());
            }
            return;
        }
        Mode::Echo => {
            if is_dtmf {
                emit_dtmf(sink, leg, pkt.timestamp(), pkt.payload());
            } else if pt != leg.cfg.payload_type {
                leg.counters.dropped += 1;
                return;
            }
            if leg.generating() {
                return;
            }
            let step = leg.samples_per_packet();
            leg.out.relay(&mut pkt, step);
            leg.send_rtp(buf);
            return;
        }
        Mode::Bridged(peer_slot, _) => peer_slot,
    };
    let Some((leg, peer)) = legs.pair_mut(slot, peer_slot) else {
        return;
    };
    if is_dtmf {
        match peer.cfg.dtmf_payload_type {
            Some(peer_pt) => pkt.set_payload_type(peer_pt),
            None => {
                emit_dtmf(sink, leg, pkt.timestamp(), pkt.payload());
                return;
            }
        }
    } else if pt == leg.cfg.payload_type {
        match audio_path(leg, peer) {
            AudioPath::Same => {}
            AudioPath::Transcode(from, to) => g711::transcode_in_place(pkt.payload_mut(), from, to),
            AudioPath::Mismatch => {
                leg.counters.dropped += 1;
                return;
            }
        }
        pkt.set_payload_type(peer.cfg.payload_type);
    } else {
        leg.counters.dropped += 1;
        return;
    }
    if peer.generating() {
        return;
    }
    let step = peer.samples_per_packet();
    peer.out.relay(&mut pkt, step);
    peer.send_rtp(buf);
}

/// Handles one received RTCP datagram of the leg in `slot`.
fn on_rtcp(legs: &mut Legs, slot: usize, buf: &mut [u8], src: SocketAddr, now: Instant) {
    let Some(leg) = legs.get_mut(slot) else {
        return;
    };
    if !leg.admit(true, src, now) {
        return;
    }
    if check_rtcp(buf).is_err() {
        leg.counters.dropped += 1;
        return;
    }
    leg.counters.rtcp_rx_packets += 1;
    if !leg.cfg.receive {
        return;
    }
    if let Mode::Bridged(peer_slot, _) = leg.mode
        && let Some((leg, peer)) = legs.pair_mut(slot, peer_slot)
    {
        // The peer knows this side's stream by the SSRC we send it with, and its own by
        // the SSRC it sends us (which this side knows as our leg's SSRC).
        // Not while the kernel forwards the RTP: it keeps the senders' own SSRCs.
        if leg.offload.is_none() {
            let media = peer.counters.seq.ssrc().map(|own| (leg.out.ssrc(), own));
            crate::media::rtp::translate_rtcp(buf, peer.out.ssrc(), media);
        }
        peer.send_rtcp(buf);
    }
}

impl Worker {
    fn run(&mut self) {
        let mut events = Events::with_capacity(EVENTS);
        let mut batch = RecvBatch::default();
        let mut tokens: Vec<Token> = Vec::with_capacity(EVENTS);
        let mut next_trim = Instant::now();
        while !self.stop {
            let timeout = if self.again.is_empty() {
                let timer = self
                    .timers
                    .peek()
                    .map(|Reverse((at, _, _))| at.saturating_duration_since(Instant::now()));
                // Each thread also closes its idle pooled sockets, once a second.
                let trim = next_trim.saturating_duration_since(Instant::now());
                let wait = timer.map_or(trim, |t| t.min(trim));
                Some(wait.min(LAZY))
            } else {
                Some(Duration::ZERO)
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == ErrorKind::Interrupted {
                    continue;
                }
                warn!(error = %e, worker = self.index, "media poll failed");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            let now = Instant::now();
            // Packets for empty slots (pooled pairs) are stale: noted before any command of
            // this round reuses a pair, so that its `add` reads them away.
            for e in events.iter() {
                let slot = e.token().0 / 2;
                if e.token() != WAKE && self.legs.get_mut(slot).is_none() {
                    self.legs.mark_stale(slot);
                }
            }
            // Commands queued without a wake-up (see WorkerHandle::send).
            self.drain_control(now);
            tokens.clear();
            tokens.extend(events.iter().map(|e| e.token()));
            tokens.append(&mut self.again);
            let mut busy = false;
            for &token in &tokens {
                if token == WAKE {
                    self.drain_control(now);
                } else {
                    busy = true;
                    self.read(token, &mut batch, now);
                }
            }
            self.run_timers(now);
            if now >= next_trim {
                next_trim = now + Duration::from_secs(1);
                self.trim_pool(now);
                self.offload_ready(now);
            }
            if busy && tokens.len() < EVENTS / 4 {
                // Let packets accumulate instead of being woken for each one (see COALESCE);
                // not when a round is already large (overload: no time to lose).
                std::thread::sleep(COALESCE);
            }
        }
        // Stopping: free every port still held.
        let ids = self.legs.ids();
        for id in ids {
            self.close(id);
        }
    }

    fn read(&mut self, token: Token, batch: &mut RecvBatch, now: Instant) {
        let slot = token.0 / 2;
        let is_rtcp = token.0 % 2 == 1;
        for _ in 0..READ_BUDGET.div_ceil(BATCH) {
            let Some(leg) = self.legs.get_mut(slot) else {
                // A pooled pair (or a closed leg's): read away when the pair is reused.
                self.legs.mark_stale(slot);
                return;
            };
            let unexpected = leg.counters.unexpected;
            let sock = if is_rtcp {
                match &leg.rtcp {
                    Some(s) => s,
                    None => return,
                }
            } else {
                &leg.rtp
            };
            let n = match batch.recv(sock) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // ICMP errors reported on the socket: nothing to do but carry on.
                Err(_) => continue,
            };
            if n > 0 && !is_rtcp {
                // Before relaying: a phone that got relayed RTP finds our RTCP port open.
                self.rtcp_follows_rtp(slot);
            }
            for i in 0..n {
                let Some((data, src)) = batch.get(i) else {
                    continue;
                };
                if is_rtcp {
                    on_rtcp(&mut self.legs, slot, data, src, now);
                } else {
                    on_rtp(&mut self.legs, &self.sink, slot, data, src, now);
                }
            }
            if let Some(leg) = self.legs.get_mut(slot)
                && leg.offload.is_some()
                && leg.counters.unexpected != unexpected
            {
                // Another source: latching decides again, in user space.
                self.unoffload(slot);
            }
            if n < BATCH {
                // Fewer than there was room for: the socket is empty.
                return;
            }
        }
        self.again.push(token);
    }

    /// RTP came in on the leg in `slot`: it and the leg it is relayed to need their RTCP
    /// sockets now.
    fn rtcp_follows_rtp(&mut self, slot: usize) {
        let Some(leg) = self.legs.get_mut(slot) else {
            return;
        };
        let peer = match leg.mode {
            Mode::Bridged(peer, _) => Some(peer),
            _ => None,
        };
        self.ensure_rtcp(slot);
        if let Some(peer) = peer {
            self.ensure_rtcp(peer);
        }
    }

    /// Opens the RTCP socket of the leg in `slot` (on the port after its RTP port) if it has
    /// none. RTCP reports on RTP, so nothing is lost by opening it only once RTP passes
    /// through the leg (received, relayed or generated to it), and a call that never
    /// carries RTP holds two file descriptors instead of four: at thousands of short calls
    /// a second the process's file descriptor limit was what refused calls first.
    fn ensure_rtcp(&mut self, slot: usize) {
        let registry = self.poll.registry();
        let Some(leg) = self.legs.get_mut(slot) else {
            return;
        };
        if leg.rtcp.is_some() || leg.rtcp_failed {
            return;
        }
        let addr = SocketAddr::new(leg.local_rtp.ip(), leg.local_rtp.port().wrapping_add(1));
        let opened = bind_udp(addr).and_then(|mut s| {
            registry.register(&mut s, Token(slot * 2 + 1), Interest::READABLE)?;
            Ok(s)
        });
        match opened {
            Ok(s) => leg.rtcp = Some(s),
            Err(e) => {
                leg.rtcp_failed = true;
                warn!(leg = leg.id.0, label = %leg.label, %addr, error = %e, "cannot open the RTCP socket: RTCP of this leg is not relayed");
            }
        }
    }

    /// Closes pooled socket pairs unused for [`POOL_IDLE`] and releases their ports.
    fn trim_pool(&mut self, now: Instant) {
        let idle: Vec<Pooled> = {
            let Some(pool) = self.pools.get(self.index) else {
                return;
            };
            let mut pool = lock(pool);
            let (idle, kept) = std::mem::take(&mut *pool)
                .into_iter()
                .partition(|p| now.saturating_duration_since(p.since) >= POOL_IDLE);
            *pool = kept;
            idle
        };
        if idle.is_empty() {
            return;
        }
        let mut ports = lock(&self.ports);
        for p in idle {
            ports.release(p.port);
            // Closing the sockets also removes them from the poll.
            drop((p.rtp, p.rtcp));
            self.legs.release(p.slot);
        }
    }

    fn drain_control(&mut self, now: Instant) {
        // Cleared before draining: a command sent after this wakes the thread again.
        self.woken.store(false, Ordering::Release);
        // Bounded by what was queued: commands are few compared to packets.
        while let Ok(msg) = self.rx.try_recv() {
            self.dispatch(msg, now);
        }
    }

    fn hold_if_pending(&mut self, id: LegId, msg: Ctl) -> Option<Ctl> {
        match self.pending.get_mut(&id) {
            Some(held) => {
                held.push(msg);
                None
            }
            None => Some(msg),
        }
    }

    fn dispatch(&mut self, msg: Ctl, now: Instant) {
        match msg {
            Ctl::Add(leg) => self.add(leg, now),
            Ctl::Cmd(id, cmd) => {
                if let Some(Ctl::Cmd(id, cmd)) = self.hold_if_pending(id, Ctl::Cmd(id, cmd)) {
                    self.command(id, cmd, now);
                }
            }
            Ctl::Bridge(a, b) => {
                let Some(msg) = self.hold_if_pending(a, Ctl::Bridge(a, b)) else {
                    return;
                };
                if let Some(Ctl::Bridge(a, b)) = self.hold_if_pending(b, msg) {
                    self.bridge(a, b);
                }
            }
            Ctl::Expect(id) => {
                self.pending.entry(id).or_default();
            }
            Ctl::Migrate { leg, to, with } => {
                let msg = Ctl::Migrate { leg, to, with };
                if let Some(Ctl::Migrate { leg, to, with }) = self.hold_if_pending(leg, msg) {
                    self.migrate(leg, to, with);
                }
            }
            Ctl::Adopt { leg, with } => {
                let id = leg.id;
                let held = self.pending.remove(&id).unwrap_or_default();
                self.add(leg, now);
                self.dispatch(Ctl::Bridge(with, id), now);
                for msg in held {
                    self.dispatch(msg, now);
                }
            }
            Ctl::Gone(id) => {
                for msg in self.pending.remove(&id).unwrap_or_default() {
                    self.dispatch(msg, now);
                }
            }
            Ctl::Release(slot) => self.legs.release(slot),
            Ctl::KernelCounts(counts) => self.kernel_counts(&counts, now),
            Ctl::Stop => self.stop = true,
        }
    }

    fn register(&mut self, slot: usize) -> io::Result<()> {
        let registry = self.poll.registry();
        let Some(leg) = self.legs.get_mut(slot) else {
            return Ok(());
        };
        registry.register(&mut leg.rtp, Token(slot * 2), Interest::READABLE)?;
        match leg.rtcp.as_mut() {
            Some(rtcp) => registry.register(rtcp, Token(slot * 2 + 1), Interest::READABLE),
            None => Ok(()),
        }
    }

    fn add(&mut self, leg: Box<Leg>, now: Instant) {
        let id = leg.id;
        let (slot, registered) = self.legs.insert(leg);
        if !registered && let Err(e) = self.register(slot) {
            warn!(leg = id.0, error = %e, "cannot poll media sockets");
        }
        if let Some(leg) = self.legs.get_mut(slot)
            && leg.generating()
        {
            leg.next_tick = None;
            self.schedule(slot, now);
        }
    }

    fn schedule(&mut self, slot: usize, at: Instant) {
        if let Some(leg) = self.legs.get_mut(slot)
            && leg.next_tick.is_none()
        {
            leg.next_tick = Some(at);
            self.timers.push(Reverse((at, slot, leg.id)));
        }
    }

    /// Detaches a leg and its sockets from this thread.
    fn detach(&mut self, id: LegId) -> Option<Box<Leg>> {
        let (slot, mut leg) = self.take(id)?;
        let registry = self.poll.registry();
        let _ = registry.deregister(&mut leg.rtp);
        if let Some(rtcp) = leg.rtcp.as_mut() {
            let _ = registry.deregister(rtcp);
        }
        self.legs.release(slot);
        leg.reserved = None;
        Some(leg)
    }

    /// Takes a leg out of its slot, which stays reserved (its sockets registered under it).
    fn take(&mut self, id: LegId) -> Option<(usize, Box<Leg>)> {
        let slot = self.legs.slot_of(id)?;
        self.unoffload(slot);
        self.legs.unbridge(slot);
        let (slot, mut leg) = self.legs.remove(id)?;
        leg.next_tick = None;
        Some((slot, leg))
    }

    fn migrate(&mut self, id: LegId, to: usize, with: LegId) {
        let workers = Arc::clone(&self.workers);
        let Some(target) = workers.get(to) else {
            return;
        };
        match self.detach(id) {
            Some(leg) => target.send(Ctl::Adopt { leg, with }),
            None => target.send(Ctl::Gone(id)),
        }
    }

    fn close(&mut self, id: LegId) {
        let Some((slot, leg)) = self.take(id) else {
            return;
        };
        let port = leg.local_rtp.port();
        debug!(leg = id.0, label = %leg.label, "media leg closed");
        let Leg {
            rtp,
            rtcp,
            local_rtp,
            ..
        } = *leg;
        if let Some(pool) = self.pools.get(self.index) {
            let mut pool = lock(pool);
            if !self.stop && pool.len() < POOL_MAX {
                // Kept bound and registered under its slot for the next leg.
                pool.push(Pooled {
                    ip: local_rtp.ip(),
                    port,
                    rtp,
                    rtcp,
                    since: Instant::now(),
                    slot,
                });
                return;
            }
        }
        // Closing the sockets also removes them from the poll.
        drop((rtp, rtcp));
        self.legs.release(slot);
        lock(&self.ports).release(port);
    }

    fn bridge(&mut self, a: LegId, b: LegId) {
        let (Some(sa), Some(sb)) = (self.legs.slot_of(a), self.legs.slot_of(b)) else {
            return;
        };
        if sa == sb {
            return;
        }
        self.unoffload(sa);
        self.unoffload(sb);
        self.legs.unbridge(sa);
        self.legs.unbridge(sb);
        if let Some((la, lb)) = self.legs.pair_mut(sa, sb) {
            la.mode = Mode::Bridged(sb, b);
            lb.mode = Mode::Bridged(sa, a);
            debug!(a = a.0, b = b.0, "legs bridged");
        }
    }

    fn command(&mut self, id: LegId, cmd: Cmd, now: Instant) {
        let Some(slot) = self.legs.slot_of(id) else {
            if let Cmd::Stats(reply) = cmd {
                let _ = reply.try_send(None);
            }
            return;
        };
        let unchanged = match &cmd {
            Cmd::Stats(_) => true,
            // A session refresh re-sends the same SDP: the kernel keeps the call.
            Cmd::Configure(cfg) => self.legs.get_mut(slot).is_some_and(|l| l.cfg == *cfg),
            _ => false,
        };
        if !unchanged {
            // Any change of the leg is made in user space.
            self.unoffload(slot);
        }
        match cmd {
            Cmd::Close => return self.close(id),
            Cmd::Unbridge => return self.legs.unbridge(slot),
            Cmd::Echo => {
                self.legs.unbridge(slot);
                if let Some(leg) = self.legs.get_mut(slot) {
                    leg.mode = Mode::Echo;
                }
                return;
            }
            _ => {}
        }
        let Some(leg) = self.legs.get_mut(slot) else {
            return;
        };
        match cmd {
            Cmd::Configure(cfg) => {
                leg.rtp_latch.configure(cfg.remote_rtp, cfg.symmetric);
                leg.rtcp_latch.configure(cfg.remote_rtcp, cfg.symmetric);
                leg.law = cfg.encoding.law();
                leg.cfg = cfg;
            }
            Cmd::Play(sound) => {
                if leg.law.is_none() {
                    warn!(leg = id.0, encoding = ?leg.cfg.encoding, "cannot play in this codec");
                    (self.sink)(leg.queue, MediaEvent::PlaybackDone { leg: id });
                    return;
                }
                leg.play = Some((sound, 0));
                if leg.next_tick.is_none() {
                    leg.elapsed = TICK_SAMPLES;
                }
            }
            Cmd::StopPlay => leg.play = None,
            Cmd::SendDtmf(digit, duration_ms) => {
                if leg.cfg.dtmf_payload_type.is_none() {
                    debug!(leg = id.0, "no telephone-event on this leg: DTMF not sent");
                    return;
                }
                if leg.dtmf_queue.len() < 64 {
                    leg.dtmf_queue.push_back((digit, duration_ms));
                }
                if leg.next_tick.is_none() {
                    leg.elapsed = TICK_SAMPLES;
                }
            }
            Cmd::Stats(reply) => {
                let _ = reply.try_send(Some(leg.stats()));
            }
            Cmd::Close | Cmd::Unbridge | Cmd::Echo => {}
        }
        let active = leg.generating() || !leg.dtmf_queue.is_empty();
        if active {
            self.ensure_rtcp(slot);
            self.schedule(slot, now);
        }
    }

    fn run_timers(&mut self, now: Instant) {
        // Each entry is popped once; re-armed ticks are in the future, so this ends.
        while let Some(&Reverse((at, slot, id))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(leg) = self.legs.get_mut(slot) else {
                continue;
            };
            if leg.id != id || leg.next_tick != Some(at) {
                continue;
            }
            leg.next_tick = None;
            tick(&self.sink, leg);
            if leg.generating() || !leg.dtmf_queue.is_empty() {
                let mut next = at + TICK;
                if next + MAX_LAG < now {
                    next = now + TICK;
                }
                self.schedule(slot, next);
            }
        }
    }
}

/// One 20 ms step of a leg's generated stream: a DTMF event packet, else a playback frame.
fn tick(sink: &EventSink, leg: &mut Leg) {
    leg.elapsed = leg.elapsed.saturating_add(TICK_SAMPLES);
    if leg.dtmf_out.is_none()
        && let Some((digit, ms)) = leg.dtmf_queue.pop_front()
    {
        leg.dtmf_out = EventTrain::new(digit, ms, 20);
    }
    if let Some(train) = leg.dtmf_out.as_mut() {
        match (train.next_packet(), leg.cfg.dtmf_payload_type) {
            (Some(p), Some(pt)) => {
                let advance = if p.marker {
                    std::mem::take(&mut leg.elapsed)
                } else {
                    0
                };
                leg.send_own(pt, advance, p.marker, &p.payload);
                return;
            }
            _ => leg.dtmf_out = None,
        }
    }
    let Some((sound, index)) = leg.play.take() else {
        return;
    };
    let Some(law) = leg.law else {
        sink(leg.queue, MediaEvent::PlaybackDone { leg: leg.id });
        return;
    };
    let mut frame = [0u8; FRAME_SAMPLES];
    if sound.frame(index, law, &mut frame) {
        let advance = std::mem::take(&mut leg.elapsed);
        let pt = leg.cfg.payload_type;
        leg.send_own(pt, advance, index == 0, &frame);
    }
    if index + 1 >= sound.frame_count() {
        debug!(leg = leg.id.0, "playback done");
        sink(leg.queue, MediaEvent::PlaybackDone { leg: leg.id });
    } else {
        leg.play = Some((sound, index + 1));
    }
}
