//! Load test of the media relay: N bridged calls, each relaying G.711 both ways at 50 packets/s
//! per direction (160-byte payload, 172-byte RTP packets), for D seconds.
//!
//! Run with `cargo bench --bench rtp_relay -- CALLS SECONDS` (defaults 2000 and 20), or
//! `testsuite/bench/rtp_relay.sh CALLS SECONDS`. Environment:
//! - `RTP_BENCH_THREADS`: relay threads (default 0 = one per CPU);
//! - `RTP_BENCH_GEN_THREADS`: load generator threads (default 1);
//! - `RTP_BENCH_PORT`: first port of the engine's range (default 20000);
//! - `RTP_BENCH_WARMUP`: seconds of load before packets and CPU are counted (default 0);
//! - `RTP_BENCH_KERNEL`: set: the engine hands plain pairs to the kernel (`kernel_forwarding`;
//!   run as root in a network namespace with `net.ipv4.ip_forward=1`, as
//!   `testsuite/bench/rtp_relay.sh` does with `KERNEL=1`);
//! - `RTP_BENCH_DIRECT`: set: the phones send to each other, not through the relay, which
//!   measures what the load generator alone costs (the relay's cost is the difference).
//!
//! In kernel mode the forwarding work is done in the kernel when a packet is sent, on the
//! sending thread: here the generator's. So the relay's cost is the whole process's CPU
//! minus that of a direct run at the same load, not the relay threads' CPU.
//! Each simulated phone has its own UDP socket on 127.0.0.1 (2 per call), configured as the
//! SDP address of its leg. Phones send on a 20 ms grid spread over 1 ms slots, so the load is
//! smooth; every packet carries its send time, so the far phone measures loss and latency.
//! The engine's relay threads are found by name (`media-N`) in /proc/self/task and their CPU
//! time (utime + stime) is read before and after the load.
//!
//! Prints: packets sent, relayed (received by the far phone), loss %, latency, relay-thread
//! CPU seconds and CPU % per 100 calls. Asserts nothing about timings (the machine is shared).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};

use pjsipd::media::rtp::{Rtp, RtpHeader, write_packet};
use pjsipd::media::{
    Encoding, EventSink, LegConfig, LegId, MediaConfig, MediaControl, MediaEngine, OpenLeg,
};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const PTIME: Duration = Duration::from_millis(20);
const SLOTS: u32 = 20;
const PAYLOAD: usize = 160;
/// Time after the last send during which late packets are still counted.
const DRAIN: Duration = Duration::from_millis(500);
/// Latency histogram: 0.1 ms buckets up to 100 ms.
const BUCKETS: usize = 1000;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One simulated phone.
struct Phone {
    socket: UdpSocket,
    /// The engine leg's local RTP address it sends to.
    dest: SocketAddr,
    ssrc: u32,
    seq: u16,
}

/// What one generator thread measured.
#[derive(Default)]
struct Tally {
    sent: u64,
    received: u64,
    send_errors: u64,
    latency_sum_us: u64,
    latency_max_us: u64,
    histogram: Vec<u64>,
    /// Packets sent before this (ns since the epoch) are warm-up: not counted.
    from_ns: u64,
}

impl Tally {
    fn merge(&mut self, o: &Tally) {
        self.sent += o.sent;
        self.received += o.received;
        self.send_errors += o.send_errors;
        self.latency_sum_us += o.latency_sum_us;
        self.latency_max_us = self.latency_max_us.max(o.latency_max_us);
        self.histogram.resize(BUCKETS + 1, 0);
        for (a, b) in self.histogram.iter_mut().zip(&o.histogram) {
            *a += b;
        }
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        let target = (self.received as f64 * p).ceil() as u64;
        let mut seen = 0;
        for (i, n) in self.histogram.iter().enumerate() {
            seen += n;
            if seen >= target {
                return i as f64 / 10.0;
            }
        }
        f64::NAN
    }
}

/// The sending schedule: every phone once per 20 ms, phones spread over 1 ms slots.
struct Pacer {
    begin: Instant,
    send_end: Instant,
    stop: Instant,
    slot: u64,
}

impl Pacer {
    /// Waits for the start signal, then starts the schedule.
    fn start(duration: Duration, start: &AtomicBool) -> Self {
        while !start.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let begin = Instant::now();
        Self {
            begin,
            send_end: begin + duration,
            stop: begin + duration + DRAIN,
            slot: 0,
        }
    }

    fn slot_time(&self) -> Instant {
        self.begin + PTIME / SLOTS * self.slot as u32
    }

    /// The next due slot (its index within the 20 ms period), catching up if late.
    fn due(&mut self, now: Instant) -> Option<usize> {
        let at = self.slot_time();
        if at > now || at >= self.send_end {
            return None;
        }
        let s = (self.slot % u64::from(SLOTS)) as usize;
        self.slot += 1;
        Some(s)
    }

    /// The current time, or `None` once the drain period is over.
    fn running(&self) -> Option<Instant> {
        let now = Instant::now();
        (now < self.stop).then_some(now)
    }

    /// Until when to wait for packets: the next slot, or the end of the drain period.
    fn wait_until(&self) -> Instant {
        let next = self.slot_time();
        if next < self.send_end {
            next
        } else {
            self.stop
        }
    }
}

/// Writes a phone's next packet (its send time in the first payload bytes) into `out`.
fn build_packet(out: &mut [u8; 12 + PAYLOAD], ssrc: u32, seq: &mut u16, sent_at: u64) -> usize {
    let h = RtpHeader {
        marker: false,
        payload_type: 0,
        seq: *seq,
        timestamp: u32::from(*seq).wrapping_mul(160),
        ssrc,
    };
    *seq = seq.wrapping_add(1);
    let mut payload = [0xffu8; PAYLOAD];
    payload[..8].copy_from_slice(&sent_at.to_le_bytes());
    write_packet(out, h, &payload).unwrap_or(0)
}

fn generator(
    mut phones: Vec<Phone>,
    epoch: Instant,
    duration: Duration,
    warmup: Duration,
    start: Arc<AtomicBool>,
) -> Tally {
    let poll = Poll::new();
    let Ok(mut poll) = poll else {
        panic!("poll");
    };
    for (i, p) in phones.iter_mut().enumerate() {
        if let Err(e) = poll
            .registry()
            .register(&mut p.socket, Token(i), Interest::READABLE)
        {
            panic!("register: {e}");
        }
    }
    let mut tally = Tally {
        histogram: vec![0; BUCKETS + 1],
        ..Tally::default()
    };
    let mut events = Events::with_capacity(4096);
    let mut pkt = [0u8; 12 + PAYLOAD];
    let mut rx = [0u8; 2048];
    let n = phones.len();
    let mut pacer = Pacer::start(duration + warmup, &start);
    tally.from_ns = (pacer.begin + warmup - epoch).as_nanos() as u64;
    while let Some(now) = pacer.running() {
        while let Some(s) = pacer.due(now) {
            let sent_at = (Instant::now() - epoch).as_nanos() as u64;
            for p in phones.iter_mut().skip(s).step_by(SLOTS as usize) {
                let len = build_packet(&mut pkt, p.ssrc, &mut p.seq, sent_at);
                match p.socket.send_to(&pkt[..len], p.dest) {
                    Ok(_) if sent_at >= tally.from_ns => tally.sent += 1,
                    Ok(_) => {}
                    Err(_) => tally.send_errors += 1,
                }
            }
        }
        let timeout = pacer.wait_until().saturating_duration_since(Instant::now());
        if poll.poll(&mut events, Some(timeout)).is_err() {
            continue;
        }
        for ev in events.iter() {
            let Some(p) = phones.get(ev.token().0 % n.max(1)) else {
                continue;
            };
            while let Ok((len, _)) = p.socket.recv_from(&mut rx) {
                record(&mut tally, &rx[..len], epoch);
            }
        }
    }
    tally
}

/// Messages per `sendmmsg`/`recvmmsg` call.
const BATCH: usize = 64;

/// A phone of the shared-socket generator: which generator socket it uses, where it sends.
struct SharedPhone {
    socket: usize,
    dest: libc::sockaddr_in,
    ssrc: u32,
    seq: u16,
}

fn sockaddr(addr: SocketAddr) -> libc::sockaddr_in {
    let SocketAddr::V4(v4) = addr else {
        panic!("IPv4 only");
    };
    // SAFETY: sockaddr_in is plain data; all-zero is valid.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_port = v4.port().to_be();
    sa.sin_addr.s_addr = u32::from(*v4.ip()).to_be();
    sa
}

fn record(tally: &mut Tally, data: &[u8], epoch: Instant) {
    let Ok(r) = Rtp::parse(data) else {
        return;
    };
    let Some(stamp) = r.payload().get(..8) else {
        return;
    };
    let mut b = [0u8; 8];
    b.copy_from_slice(stamp);
    let sent_at = u64::from_le_bytes(b);
    if sent_at < tally.from_ns {
        return;
    }
    let now_ns = (Instant::now() - epoch).as_nanos() as u64;
    let us = now_ns.saturating_sub(sent_at) / 1000;
    tally.received += 1;
    tally.latency_sum_us += us;
    tally.latency_max_us = tally.latency_max_us.max(us);
    tally.histogram[((us / 100) as usize).min(BUCKETS)] += 1;
}

/// Generator where phones share a few sockets (each phone is still its own SDP address
/// would require one socket per phone; here phones behind one socket look like phones behind
/// one media gateway): sends with `sendmmsg`, receives with `recvmmsg`, so the generator's
/// syscall cost per packet is small and the relay is what is measured.
fn shared_generator(
    sockets: Vec<std::net::UdpSocket>,
    mut phones: Vec<SharedPhone>,
    epoch: Instant,
    duration: Duration,
    warmup: Duration,
    start: Arc<AtomicBool>,
) -> Tally {
    use std::os::fd::AsRawFd;
    let fds: Vec<i32> = sockets.iter().map(|s| s.as_raw_fd()).collect();
    let mut tally = Tally {
        histogram: vec![0; BUCKETS + 1],
        ..Tally::default()
    };
    // Per-socket send queues of phone indexes for the current slot.
    let mut queues: Vec<Vec<usize>> = vec![Vec::new(); fds.len()];
    let mut tx = vec![[0u8; 12 + PAYLOAD]; BATCH];
    let mut rx = vec![[0u8; 256]; BATCH];
    let mut pacer = Pacer::start(duration + warmup, &start);
    tally.from_ns = (pacer.begin + warmup - epoch).as_nanos() as u64;
    while let Some(now) = pacer.running() {
        while let Some(s) = pacer.due(now) {
            let sent_at = (Instant::now() - epoch).as_nanos() as u64;
            for i in (s..phones.len()).step_by(SLOTS as usize) {
                queues[phones[i].socket].push(i);
            }
            for (sock, queue) in queues.iter_mut().enumerate() {
                for chunk in queue.chunks(BATCH) {
                    let mut iovs: Vec<libc::iovec> = Vec::with_capacity(chunk.len());
                    for (k, &i) in chunk.iter().enumerate() {
                        let p = &mut phones[i];
                        let len = build_packet(&mut tx[k], p.ssrc, &mut p.seq, sent_at);
                        iovs.push(libc::iovec {
                            iov_base: tx[k].as_mut_ptr().cast(),
                            iov_len: len,
                        });
                    }
                    let mut msgs: Vec<libc::mmsghdr> = chunk
                        .iter()
                        .zip(iovs.iter_mut())
                        .map(|(&i, iov)| {
                            // SAFETY: msghdr is plain data; zero is a valid start.
                            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
                            m.msg_hdr.msg_name =
                                (&mut phones[i].dest as *mut libc::sockaddr_in).cast();
                            m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
                            m.msg_hdr.msg_iov = iov;
                            m.msg_hdr.msg_iovlen = 1;
                            m
                        })
                        .collect();
                    let mut done = 0usize;
                    // Retry the rest of a partial send a few times (full socket buffer).
                    for _ in 0..100 {
                        if done >= msgs.len() {
                            break;
                        }
                        // SAFETY: msgs[done..] point at live buffers, addresses and iovecs.
                        let n = unsafe {
                            libc::sendmmsg(
                                fds[sock],
                                msgs[done..].as_mut_ptr(),
                                (msgs.len() - done) as u32,
                                libc::MSG_DONTWAIT,
                            )
                        };
                        if n > 0 {
                            done += n as usize;
                        } else {
                            std::thread::yield_now();
                        }
                    }
                    if sent_at >= tally.from_ns {
                        tally.sent += done as u64;
                    }
                    tally.send_errors += (msgs.len() - done) as u64;
                }
                queue.clear();
            }
        }
        // No readiness wait: sleep to the next slot, then drain every socket. Relay threads
        // sending to us then never have to wake this thread.
        let wait = pacer.wait_until().saturating_duration_since(Instant::now());
        std::thread::sleep(wait.min(Duration::from_millis(1)));
        for &fd in &fds {
            loop {
                let mut iovs: Vec<libc::iovec> = rx
                    .iter_mut()
                    .map(|b| libc::iovec {
                        iov_base: b.as_mut_ptr().cast(),
                        iov_len: b.len(),
                    })
                    .collect();
                let mut msgs: Vec<libc::mmsghdr> = iovs
                    .iter_mut()
                    .map(|iov| {
                        // SAFETY: plain data.
                        let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
                        m.msg_hdr.msg_iov = iov;
                        m.msg_hdr.msg_iovlen = 1;
                        m
                    })
                    .collect();
                // SAFETY: msgs point at live rx buffers.
                let n = unsafe {
                    libc::recvmmsg(
                        fd,
                        msgs.as_mut_ptr(),
                        BATCH as u32,
                        libc::MSG_DONTWAIT,
                        std::ptr::null_mut(),
                    )
                };
                if n <= 0 {
                    break;
                }
                let lens: Vec<usize> = msgs[..n as usize]
                    .iter()
                    .map(|m| m.msg_len as usize)
                    .collect();
                drop(msgs);
                drop(iovs);
                for (k, len) in lens.into_iter().enumerate() {
                    record(&mut tally, &rx[k][..len.min(256)], epoch);
                }
                if (n as usize) < BATCH {
                    break;
                }
            }
        }
    }
    tally
}

/// utime + stime in seconds of the threads named `media-*` of this process.
fn relay_cpu_seconds() -> (f64, usize) {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let mut total = 0.0;
    let mut threads = 0;
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return (f64::NAN, 0);
    };
    for entry in dir.flatten() {
        let path = entry.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        // The relay threads and the kernel forwarding thread (`media-kernel`).
        if !comm.trim().starts_with("media-") {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
        // Fields after the ")" of the command: state is field 3; utime, stime are 14, 15.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        let stime: f64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        total += (utime + stime) / ticks;
        threads += 1;
    }
    (total, threads)
}

/// CPU seconds of this process and of its finished child processes (`nft`, run by the
/// kernel forwarding thread).
fn process_cpu_seconds() -> (f64, f64) {
    let usage = |who| {
        // SAFETY: getrusage writes into the zeroed struct we pass.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointer to a rusage.
        unsafe { libc::getrusage(who, &mut ru) };
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        tv(ru.ru_utime) + tv(ru.ru_stime)
    };
    (usage(libc::RUSAGE_SELF), usage(libc::RUSAGE_CHILDREN))
}

/// A non-blocking phone socket on 127.0.0.1 with a large receive buffer.
fn shared_socket() -> std::net::UdpSocket {
    let s = match socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None) {
        Ok(s) => s,
        Err(e) => panic!("socket: {e}"),
    };
    let _ = s.set_recv_buffer_size(4 << 20);
    let bind: SocketAddr = SocketAddr::new(LOCALHOST, 0);
    if let Err(e) = s.bind(&bind.into()).and_then(|()| s.set_nonblocking(true)) {
        panic!("bind: {e}");
    }
    s.into()
}

fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit on a valid struct.
    unsafe {
        let mut l: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 {
            l.rlim_cur = l.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .filter_map(|a| a.parse().ok())
        .collect();
    let calls = args.first().copied().unwrap_or(2000);
    let seconds = args.get(1).copied().unwrap_or(20);
    let relay_threads = env_usize("RTP_BENCH_THREADS", 0);
    let gen_threads = env_usize("RTP_BENCH_GEN_THREADS", 1).max(1);
    let port_start = env_usize("RTP_BENCH_PORT", 20000) as u16;
    raise_fd_limit();
    // The engine's warnings (e.g. why kernel forwarding is off) on stderr.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "warn,pjsipd::media=info",
        ))
        .try_init();

    let kernel = std::env::var_os("RTP_BENCH_KERNEL").is_some();
    let warmup = Duration::from_secs(env_usize("RTP_BENCH_WARMUP", 0) as u64);
    let sink: EventSink = Arc::new(|_, _| {});
    let span = (calls * 4 + 400).min(usize::from(u16::MAX - port_start)) as u16;
    let engine = match MediaEngine::start(
        MediaConfig {
            port_start,
            port_end: port_start + span,
            threads: relay_threads,
            kernel_forwarding: kernel,
        },
        sink,
    ) {
        Ok(e) => e,
        Err(e) => panic!("engine: {e}"),
    };
    let media: Arc<dyn MediaControl> = engine.clone();

    // Open, configure and bridge the legs. Phones: one socket each ("endpoint" mode) or
    // sharing RTP_BENCH_GEN_SOCKETS sockets per generator thread ("shared" mode, default).
    let shared = std::env::var("RTP_BENCH_GEN").map_or(true, |m| m != "endpoint");
    // Phones send to each other directly: what the load generator alone costs.
    let direct = std::env::var_os("RTP_BENCH_DIRECT").is_some();
    if direct && !shared {
        panic!("RTP_BENCH_DIRECT needs the shared generator");
    }
    let per_thread_sockets = env_usize("RTP_BENCH_GEN_SOCKETS", 16).max(1);
    let gen_sockets: Vec<Vec<std::net::UdpSocket>> = (0..gen_threads)
        .map(|_| {
            (0..if shared { per_thread_sockets } else { 0 })
                .map(|_| shared_socket())
                .collect()
        })
        .collect();
    let mut phones: Vec<Vec<Phone>> = (0..gen_threads).map(|_| Vec::new()).collect();
    let mut shared_phones: Vec<Vec<SharedPhone>> = (0..gen_threads).map(|_| Vec::new()).collect();
    let mut legs: Vec<LegId> = Vec::with_capacity(calls * 2);
    for call in 0..calls {
        let mut pair = Vec::new();
        for side in 0..2u32 {
            let local = match media.open(&OpenLeg {
                queue: call,
                local_ip: LOCALHOST,
                label: format!("PJSIP/bench-{call}-{side}"),
            }) {
                Ok(l) => l,
                Err(e) => panic!("open call {call}: {e}"),
            };
            let g = call % gen_threads;
            let ssrc = (call as u32) << 1 | side;
            let addr = if shared {
                let index = shared_phones[g].len() % per_thread_sockets;
                shared_phones[g].push(SharedPhone {
                    socket: index,
                    dest: sockaddr(local.rtp),
                    ssrc,
                    seq: 0,
                });
                match gen_sockets[g][index].local_addr() {
                    Ok(a) => a,
                    Err(e) => panic!("{e}"),
                }
            } else {
                let socket = UdpSocket::from_std(shared_socket());
                let addr = match socket.local_addr() {
                    Ok(a) => a,
                    Err(e) => panic!("{e}"),
                };
                phones[g].push(Phone {
                    socket,
                    dest: local.rtp,
                    ssrc,
                    seq: 0,
                });
                addr
            };
            media.configure(
                local.leg,
                LegConfig {
                    remote_rtp: Some(addr),
                    remote_rtcp: None,
                    payload_type: 0,
                    encoding: Encoding::Pcmu,
                    ..LegConfig::default()
                },
            );
            legs.push(local.leg);
            pair.push(local.leg);
        }
        media.bridge(pair[0], pair[1]);
        if direct && shared {
            // The two phones of the call send to each other: no relay on the path.
            let g = call % gen_threads;
            let n = shared_phones[g].len();
            if let (Some(a), Some(b)) = (shared_phones[g].get(n - 2), shared_phones[g].get(n - 1)) {
                let addr = |p: &SharedPhone| match gen_sockets[g][p.socket].local_addr() {
                    Ok(a) => sockaddr(a),
                    Err(e) => panic!("{e}"),
                };
                let (to_b, to_a) = (addr(b), addr(a));
                shared_phones[g][n - 2].dest = to_b;
                shared_phones[g][n - 1].dest = to_a;
            }
        }
    }
    // Every command applied before the load starts.
    for &leg in &legs {
        if media.stats(leg).is_none() {
            panic!("leg {leg:?} unknown");
        }
    }
    println!(
        "rtp_relay: {calls} calls ({} legs), {seconds} s after {} s of warm-up, {}, {} engine threads, {gen_threads} generator threads ({}), {} packets/s offered",
        legs.len(),
        warmup.as_secs(),
        if direct {
            "phones send directly (no relay)"
        } else if kernel {
            "relay: kernel forwarding asked for"
        } else {
            "relay: user space"
        },
        relay_cpu_seconds().1,
        if shared {
            format!("{per_thread_sockets} shared sockets each, sendmmsg/recvmmsg")
        } else {
            "one socket per phone".to_string()
        },
        calls * 2 * 50
    );

    let epoch = Instant::now();
    let start = Arc::new(AtomicBool::new(false));
    let duration = Duration::from_secs(seconds as u64);
    let handles: Vec<_> = if shared {
        gen_sockets
            .into_iter()
            .zip(shared_phones)
            .map(|(socks, p)| {
                let start = Arc::clone(&start);
                std::thread::spawn(move || {
                    shared_generator(socks, p, epoch, duration, warmup, start)
                })
            })
            .collect()
    } else {
        phones
            .into_iter()
            .map(|p| {
                let start = Arc::clone(&start);
                std::thread::spawn(move || generator(p, epoch, duration, warmup, start))
            })
            .collect()
    };
    start.store(true, Ordering::Release);
    // CPU is measured after the warm-up, as the packets are.
    std::thread::sleep(warmup);
    let (cpu0, _) = relay_cpu_seconds();
    let proc0 = process_cpu_seconds();
    let wall0 = Instant::now();
    let mut tally = Tally::default();
    for h in handles {
        match h.join() {
            Ok(t) => tally.merge(&t),
            Err(_) => panic!("generator panicked"),
        }
    }
    let wall = wall0.elapsed().as_secs_f64();
    let (cpu1, _) = relay_cpu_seconds();
    let proc1 = process_cpu_seconds();

    let mut dropped = 0;
    let mut unexpected = 0;
    let mut send_errors = 0;
    let mut lost = 0;
    for &leg in &legs {
        if let Some(s) = media.stats(leg) {
            dropped += s.dropped;
            unexpected += s.unexpected;
            send_errors += s.send_errors;
            lost += s.rx_lost;
        }
    }
    for &leg in &legs {
        media.close(leg);
    }

    let relay_cpu = cpu1 - cpu0;
    // CPU over the sending period (the drain period is nearly idle).
    let relay_pct = relay_cpu / seconds as f64 * 100.0;
    let loss = if tally.sent > 0 {
        (tally.sent.saturating_sub(tally.received)) as f64 / tally.sent as f64 * 100.0
    } else {
        f64::NAN
    };
    println!("packets sent:       {}", tally.sent);
    println!("packets relayed:    {}", tally.received);
    println!("loss:               {loss:.4} %");
    println!(
        "latency:            mean {:.2} ms, p99 {:.1} ms, p99.9 {:.1} ms, max {:.1} ms",
        tally.latency_sum_us as f64 / tally.received.max(1) as f64 / 1000.0,
        tally.percentile_ms(0.99),
        tally.percentile_ms(0.999),
        tally.latency_max_us as f64 / 1000.0
    );
    println!(
        "engine counters:    rx gaps {lost}, dropped {dropped}, unexpected {unexpected}, send errors {send_errors}; generator send errors {}",
        tally.send_errors
    );
    println!(
        "relay CPU:          {relay_cpu:.2} s over {seconds} s = {relay_pct:.1} % of one core, {:.2} % per 100 calls",
        relay_pct / (calls as f64 / 100.0)
    );
    let children = proc1.1 - proc0.1;
    let whole = proc1.0 - proc0.0 + children;
    println!(
        "whole process CPU:  {whole:.2} s over {wall:.1} s wall (relay + generator + {children:.2} s of nft) = {:.1} % of one core, {:.2} % per 100 calls",
        whole / wall * 100.0,
        whole / wall * 100.0 / (calls as f64 / 100.0)
    );
    println!("open legs after close: {}", media.open_legs());
}
