//! Kernel forwarding (`[media] kernel_forwarding`) with real sockets, nftables and
//! conntrack, each test in a network namespace of its own (made with `unshare` on the
//! test's thread, which the engine's threads and the `nft` it runs inherit). Needs root
//! and the `nft` program: without them these tests fail, they never skip. Every wait is
//! bounded.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pjsipd::media::rtp::{Rtp, RtpHeader, write_packet};
use pjsipd::media::{
    Encoding, EventSink, LegConfig, LegId, LegStats, MediaConfig, MediaControl, MediaEngine,
    OpenLeg,
};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const PORTS: (u16, u16) = (20000, 20099);

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd} cannot run ({e}): install it (the tests need it)"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Moves this thread into a new network namespace with loopback up and IP forwarding as
/// given.
fn own_namespace(forwarding: bool) {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "kernel forwarding tests need root"
    );
    // SAFETY: unshare affects only this thread (and what it starts from now on).
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(
        rc,
        0,
        "unshare(CLONE_NEWNET): {}",
        std::io::Error::last_os_error()
    );
    run("ip", &["link", "set", "lo", "up"]);
    let v = if forwarding { "1" } else { "0" };
    run("sysctl", &["-qw", &format!("net.ipv4.ip_forward={v}")]);
    run(
        "sysctl",
        &["-qw", &format!("net.ipv6.conf.all.forwarding={v}")],
    );
}

/// Runs `f` on a thread of its own moved into a new network namespace (see
/// [`own_namespace`]); its panic is the test's.
fn in_own_namespace(forwarding: bool, f: impl FnOnce() + Send + 'static) {
    std::thread::spawn(move || {
        own_namespace(forwarding);
        f();
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e));
}

/// Named namespaces (the remote phones' "hosts"), deleted when dropped.
struct Hosts(Vec<String>);

impl Drop for Hosts {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

/// Runs `f` on a thread inside the named namespace `ns` (sockets it makes stay there).
fn in_host<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // SAFETY: setns on a namespace file we hold open; affects this thread only.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

fn engine() -> Arc<MediaEngine> {
    // The engine says why kernel forwarding would be off.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(tracing_subscriber::EnvFilter::new("pjsipd::media=debug"))
        .try_init();
    let sink: EventSink = Arc::new(|_, _| {});
    MediaEngine::start(
        MediaConfig {
            port_start: PORTS.0,
            port_end: PORTS.1,
            threads: 1,
            kernel_forwarding: true,
        },
        sink,
    )
    .expect("engine starts")
}

struct Phone {
    rtp: UdpSocket,
    rtcp: UdpSocket,
    ssrc: u32,
    seq: u16,
}

impl Phone {
    fn new(ssrc: u32) -> Self {
        Self::on(ssrc, LOCALHOST)
    }

    fn on(ssrc: u32, ip: IpAddr) -> Self {
        let bind = || {
            let s = UdpSocket::bind((ip, 0)).expect("bind");
            s.set_read_timeout(Some(Duration::from_millis(300)))
                .expect("timeout");
            s
        };
        Self {
            rtp: bind(),
            rtcp: bind(),
            ssrc,
            seq: 0,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.rtp.local_addr().expect("addr")
    }

    fn rtcp_addr(&self) -> SocketAddr {
        self.rtcp.local_addr().expect("addr")
    }

    fn send(&mut self, to: SocketAddr) {
        let mut buf = [0u8; 12 + 160];
        let h = RtpHeader {
            marker: false,
            payload_type: 0,
            seq: self.seq,
            timestamp: u32::from(self.seq) * 160,
            ssrc: self.ssrc,
        };
        self.seq = self.seq.wrapping_add(1);
        let n = write_packet(&mut buf, h, &[0x55; 160]).expect("packet");
        self.rtp.send_to(&buf[..n], to).expect("send");
    }

    fn send_rtcp(&self, to: SocketAddr) {
        // A receiver report without report blocks: V=2, RC=0, PT=201, length 1.
        let mut rr = [0x80u8, 201, 0, 1, 0, 0, 0, 0];
        rr[4..8].copy_from_slice(&self.ssrc.to_be_bytes());
        self.rtcp.send_to(&rr, to).expect("send rtcp");
    }

    /// Every packet waiting (up to `limit`, waiting at most 300 ms for each): (source, SSRC).
    fn drain(&self, limit: usize) -> Vec<(SocketAddr, u32)> {
        self.drain_within(limit, Duration::from_millis(300))
    }

    /// As [`Phone::drain`], waiting at most `wait` for each packet.
    fn drain_within(&self, limit: usize, wait: Duration) -> Vec<(SocketAddr, u32)> {
        self.rtp.set_read_timeout(Some(wait)).expect("timeout");
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        while got.len() < limit {
            let Ok((n, src)) = self.rtp.recv_from(&mut buf) else {
                break;
            };
            if let Ok(p) = Rtp::parse(&buf[..n]) {
                got.push((src, p.ssrc()));
            }
        }
        got
    }
}

fn stats(e: &MediaEngine, leg: LegId) -> LegStats {
    e.stats(leg).expect("leg stats")
}

fn open_on(e: &MediaEngine, phone: &Phone, local_ip: IpAddr) -> (LegId, SocketAddr) {
    let local = e
        .open(&OpenLeg {
            queue: 0,
            local_ip,
            label: "PJSIP/kf".into(),
        })
        .expect("open");
    e.configure(
        local.leg,
        LegConfig {
            remote_rtp: Some(phone.addr()),
            remote_rtcp: Some(phone.rtcp_addr()),
            symmetric: true,
            payload_type: 0,
            encoding: Encoding::Pcmu,
            ..LegConfig::default()
        },
    );
    (local.leg, local.rtp)
}

fn rtcp_of(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip(), a.port() + 1)
}

fn table() -> String {
    format!("pjsipd_{}", PORTS.0)
}

fn conntrack_entries_in_range() -> usize {
    let text = std::fs::read_to_string("/proc/thread-self/net/nf_conntrack").unwrap_or_default();
    text.lines()
        .filter(|l| {
            l.split_whitespace()
                .filter_map(|f| f.strip_prefix("dport="))
                .filter_map(|p| p.parse::<u16>().ok())
                .any(|p| (PORTS.0..=PORTS.1).contains(&p))
        })
        .count()
}

/// A bridged call between two phones (X on leg A, Y on leg B) in this thread's namespace.
struct Call {
    e: Arc<MediaEngine>,
    x: Phone,
    y: Phone,
    a: LegId,
    b: LegId,
    a_addr: SocketAddr,
    b_addr: SocketAddr,
}

impl Call {
    fn new() -> Self {
        Self::between(Phone::new(0x1111), Phone::new(0x2222), LOCALHOST, LOCALHOST)
    }

    /// Phones X and Y on legs bound to `ip_a` and `ip_b`.
    fn between(x: Phone, y: Phone, ip_a: IpAddr, ip_b: IpAddr) -> Self {
        Self::on(engine(), x, y, ip_a, ip_b)
    }

    /// As [`Call::between`], on engine `e`.
    fn on(e: Arc<MediaEngine>, x: Phone, y: Phone, ip_a: IpAddr, ip_b: IpAddr) -> Self {
        let (a, a_addr) = open_on(&e, &x, ip_a);
        let (b, b_addr) = open_on(&e, &y, ip_b);
        e.bridge(a, b);
        Self {
            e,
            x,
            y,
            a,
            b,
            a_addr,
            b_addr,
        }
    }

    /// Both phones talk until the relay thread hands the pair to the kernel (after 25
    /// packets each, checked once a second).
    fn talk_until_offloaded(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(6);
        while !(stats(&self.e, self.a).kernel && stats(&self.e, self.b).kernel) {
            assert!(Instant::now() < deadline, "the pair was never offloaded");
            self.x.send(self.a_addr);
            self.y.send(self.b_addr);
            std::thread::sleep(Duration::from_millis(20));
            self.x.drain_within(10, Duration::from_millis(1));
            self.y.drain_within(10, Duration::from_millis(1));
        }
        // Let the rules and the conntrack clean-up land.
        std::thread::sleep(Duration::from_millis(300));
    }

    /// Sends `n` packets each way and checks they all arrive forwarded by the kernel: from
    /// the leg's own socket address (symmetric phones check it), with the sender's SSRC
    /// (user space would have rewritten it).
    fn exchange_in_kernel(&mut self, n: usize) {
        self.x.drain(1000);
        self.y.drain(1000);
        for _ in 0..n {
            self.x.send(self.a_addr);
            self.y.send(self.b_addr);
        }
        let (at_y, at_x) = (self.y.drain(n), self.x.drain(n));
        assert_eq!((at_y.len(), at_x.len()), (n, n), "forwarded both ways");
        assert!(
            at_y.iter().all(|&p| p == (self.b_addr, 0x1111)),
            "{:?}",
            at_y.first()
        );
        assert!(
            at_x.iter().all(|&p| p == (self.a_addr, 0x2222)),
            "{:?}",
            at_x.first()
        );
    }
}

#[test]
fn plain_bridged_rtp_goes_to_the_kernel_and_comes_back_on_a_new_source() {
    in_own_namespace(true, || {
        let mut call = Call::new();
        // RTCP from both before the hand-over, so it goes to the kernel too; after a first
        // packet each way (the relay opens its RTCP ports when RTP first passes).
        call.x.send(call.a_addr);
        call.y.send(call.b_addr);
        assert_eq!((call.y.drain(1).len(), call.x.drain(1).len()), (1, 1));
        call.x.send_rtcp(rtcp_of(call.a_addr));
        call.y.send_rtcp(rtcp_of(call.b_addr));
        call.talk_until_offloaded();
        assert_eq!(call.e.kernel_legs(), 2);
        let (a0, b0) = (stats(&call.e, call.a), stats(&call.e, call.b));
        call.exchange_in_kernel(100);
        let Call {
            e,
            mut x,
            y,
            a,
            b,
            a_addr,
            b_addr,
        } = call;
        // The kernel's counters reach the legs within about a second.
        let deadline = Instant::now() + Duration::from_secs(4);
        loop {
            let (a1, b1) = (stats(&e, a), stats(&e, b));
            if a1.rx_packets >= a0.rx_packets + 100 && b1.tx_packets >= b0.tx_packets + 100 {
                // The relay thread itself saw (next to) nothing of them.
                break;
            }
            assert!(
                Instant::now() < deadline,
                "kernel counters never added: {a1:?}\n{}",
                run("nft", &["-n", "list", "table", "inet", &table()])
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let listed = run("nft", &["-n", "list", "set", "inet", &table(), "counted4"]);
        assert!(
            listed.contains(&format!(". {} counter packets", a_addr.port())),
            "{listed}"
        );
        // RTCP follows the RTP, untranslated (the report sent before the hand-over was
        // relayed by the thread, with the SSRC Y knows X's stream by).
        let mut rr = [0u8; 64];
        let (_, src) = y.rtcp.recv_from(&mut rr).expect("first RTCP relayed");
        assert_eq!(src, rtcp_of(b_addr));
        assert_ne!(&rr[4..8], &0x1111u32.to_be_bytes()[..]);
        x.send_rtcp(rtcp_of(a_addr));
        let (n, src) = y.rtcp.recv_from(&mut rr).expect("RTCP relayed");
        assert_eq!(
            (src, &rr[4..8]),
            (rtcp_of(b_addr), &0x1111u32.to_be_bytes()[..])
        );
        assert_eq!(n, 8);

        // A stranger's packet is not relayed, and takes the pair back to user space.
        let mut z = Phone::new(0x3333);
        z.send(a_addr);
        assert!(y.drain(1).is_empty(), "a stranger's packet was relayed");
        let deadline = Instant::now() + Duration::from_secs(2);
        while stats(&e, a).kernel || stats(&e, b).kernel {
            assert!(Instant::now() < deadline, "the pair stayed in the kernel");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(stats(&e, a).unexpected, 1);
        assert_eq!(e.kernel_legs(), 0);
        // Back in user space: X's packets are relayed by the thread (our SSRC on leg B).
        std::thread::sleep(Duration::from_millis(200));
        y.drain(1000);
        x.send(a_addr);
        let got = y.drain(1);
        assert_eq!(got.len(), 1, "relayed in user space");
        assert_eq!(got[0].0, b_addr);
        assert_ne!(
            got[0].1, 0x1111,
            "user space relays with the leg's own SSRC"
        );

        // Closing the legs removes their flows; stopping the engine removes the table.
        e.close(a);
        e.close(b);
        drop(e);
        let tables = run("nft", &["list", "tables"]);
        assert!(!tables.contains(&table()), "table left behind: {tables}");
        assert_eq!(conntrack_entries_in_range(), 0, "conntrack entries left");
    });
}

#[test]
fn closing_a_leg_stops_the_kernel_forwarding_at_once() {
    in_own_namespace(true, || {
        let mut call = Call::new();
        call.talk_until_offloaded();
        let Call {
            e,
            mut x,
            y,
            a,
            b,
            a_addr,
            ..
        } = call;
        x.send(a_addr);
        assert_eq!(y.drain(1000).last().map(|p| p.1), Some(0x1111), "forwarded");
        assert!(
            conntrack_entries_in_range() > 0,
            "a NAT entry while forwarding"
        );
        e.close(a);
        e.close(b);
        // The flows and their conntrack entries go with the legs (within a batch).
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let set = run("nft", &["-n", "list", "set", "inet", &table(), "counted4"]);
            if !set.contains("elements") && conntrack_entries_in_range() == 0 {
                break;
            }
            assert!(Instant::now() < deadline, "flows left after close: {set}");
            std::thread::sleep(Duration::from_millis(50));
        }
        // The phone goes on sending: nothing reaches the other one.
        x.send(a_addr);
        assert!(y.drain(1).is_empty(), "forwarded after close");
        drop(e);
    });
}

#[test]
fn a_hold_takes_the_call_back_and_the_resumed_call_goes_to_the_kernel_again() {
    in_own_namespace(true, || {
        let mut call = Call::new();
        call.talk_until_offloaded();
        // Hold (a re-INVITE with a=sendonly from X): we stop sending to X.
        let held = LegConfig {
            remote_rtp: Some(call.x.addr()),
            remote_rtcp: Some(call.x.rtcp_addr()),
            symmetric: true,
            payload_type: 0,
            encoding: Encoding::Pcmu,
            send: false,
            ..LegConfig::default()
        };
        call.e.configure(call.a, held.clone());
        let deadline = Instant::now() + Duration::from_secs(2);
        while stats(&call.e, call.a).kernel || stats(&call.e, call.b).kernel {
            assert!(Instant::now() < deadline, "still in the kernel on hold");
            std::thread::sleep(Duration::from_millis(20));
        }
        // Y's audio no longer reaches X; it is not offloaded again while held.
        std::thread::sleep(Duration::from_millis(200));
        call.x.drain_within(1000, Duration::from_millis(50));
        for _ in 0..60 {
            call.x.send(call.a_addr);
            call.y.send(call.b_addr);
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            call.x
                .drain_within(1, Duration::from_millis(100))
                .is_empty(),
            "sent to X on hold"
        );
        assert!(!stats(&call.e, call.a).kernel, "offloaded while held");
        // Resumed: back to the kernel.
        let resumed = LegConfig { send: true, ..held };
        call.e.configure(call.a, resumed.clone());
        call.talk_until_offloaded();
        call.exchange_in_kernel(20);
        // A session refresh (the same SDP again) leaves the call in the kernel.
        call.e.configure(call.a, resumed);
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            stats(&call.e, call.a).kernel,
            "a refresh took the call back"
        );
        call.exchange_in_kernel(20);
    });
}

#[test]
fn ipv6_calls_are_forwarded_by_the_kernel_too() {
    in_own_namespace(true, || {
        let v6 = IpAddr::V6(std::net::Ipv6Addr::LOCALHOST);
        let mut call = Call::between(Phone::on(0x1111, v6), Phone::on(0x2222, v6), v6, v6);
        call.talk_until_offloaded();
        call.exchange_in_kernel(50);
        let listed = run("nft", &["-n", "list", "set", "inet", &table(), "counted6"]);
        assert!(
            listed.contains(&format!(
                "::1 . {} . {} counter packets",
                call.x.addr().port(),
                call.a_addr.port()
            )),
            "{listed}"
        );
        let Call { e, a, b, .. } = call;
        e.close(a);
        e.close(b);
        let deadline = Instant::now() + Duration::from_secs(3);
        while conntrack_entries_in_range() > 0 {
            assert!(Instant::now() < deadline, "IPv6 conntrack entries left");
            std::thread::sleep(Duration::from_millis(50));
        }
    });
}

#[test]
fn when_nftables_fails_for_good_every_call_is_relayed_in_user_space_again() {
    in_own_namespace(true, || {
        let mut one = Call::new();
        let (x, y) = (Phone::new(0x3333), Phone::new(0x4444));
        let mut two = Call::on(Arc::clone(&one.e), x, y, LOCALHOST, LOCALHOST);
        one.talk_until_offloaded();
        two.talk_until_offloaded();
        // Someone deletes the table: the next batch (call one's hold) fails, and so does the
        // reload; the forwarding thread gives up and removes what it had.
        run("nft", &["delete", "table", "inet", &table()]);
        one.e.configure(
            one.a,
            LegConfig {
                remote_rtp: Some(one.x.addr()),
                remote_rtcp: Some(one.x.rtcp_addr()),
                symmetric: true,
                send: false,
                ..LegConfig::default()
            },
        );
        let deadline = Instant::now() + Duration::from_secs(4);
        while stats(&two.e, two.a).kernel || stats(&two.e, two.b).kernel {
            assert!(
                Instant::now() < deadline,
                "call two still says it is in the kernel"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(two.e.kernel_legs(), 0);
        // Its packets reach the relay thread again (its conntrack entries are gone):
        // relayed with the leg's own SSRC.
        two.y.drain(1000);
        two.x.send(two.a_addr);
        let got = two.y.drain(1);
        assert_eq!(got.len(), 1, "relayed in user space");
        assert_ne!(
            got[0].1, 0x3333,
            "user space relays with the leg's own SSRC"
        );
        // It is not handed over again.
        for _ in 0..80 {
            two.x.send(two.a_addr);
            two.y.send(two.b_addr);
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!stats(&two.e, two.a).kernel);
    });
}

#[test]
fn without_ip_forwarding_the_relay_stays_in_user_space() {
    in_own_namespace(false, || {
        let Call {
            e,
            mut x,
            y,
            a,
            a_addr,
            ..
        } = Call::new();
        for _ in 0..80 {
            x.send(a_addr);
            std::thread::sleep(Duration::from_millis(20));
        }
        let got = y.drain(1000);
        assert!(got.len() >= 70, "relayed: {}", got.len());
        assert!(!stats(&e, a).kernel);
        let tables = run("nft", &["list", "tables"]);
        assert!(
            !tables.contains(&table()),
            "no table without forwarding: {tables}"
        );
        drop(e);
    });
}

#[test]
fn rtp_between_two_remote_hosts_is_forwarded_through_the_relay_host() {
    // The deployment case: both phones elsewhere, so the kernel DNATs in prerouting, routes
    // the packet out of the other interface and SNATs it to the other leg's address.
    in_own_namespace(true, || {
        let tag = std::process::id();
        let hosts = Hosts(vec![format!("kfp1-{tag}"), format!("kfp2-{tag}")]);
        for (i, h) in hosts.0.iter().enumerate() {
            let n = i + 1;
            run("ip", &["netns", "add", h]);
            let (ours, theirs) = (format!("r{n}"), format!("p{n}"));
            run(
                "ip",
                &[
                    "link", "add", &ours, "type", "veth", "peer", "name", &theirs, "netns", h,
                ],
            );
            run(
                "ip",
                &["addr", "add", &format!("10.{n}.0.1/24"), "dev", &ours],
            );
            run("ip", &["link", "set", &ours, "up"]);
            for cmd in [
                vec!["addr", "add", &format!("10.{n}.0.2/24"), "dev", &theirs],
                vec!["link", "set", &theirs, "up"],
                vec!["link", "set", "lo", "up"],
                vec!["route", "add", "default", "via", &format!("10.{n}.0.1")],
            ] {
                let mut args = vec!["netns", "exec", h.as_str(), "ip"];
                args.extend(cmd.iter().copied());
                run("ip", &args);
            }
        }
        let ip = |n: u8, h: u8| IpAddr::V4(Ipv4Addr::new(10, n, 0, h));
        let x = in_host(&hosts.0[0], move || Phone::on(0x1111, ip(1, 2)));
        let y = in_host(&hosts.0[1], move || Phone::on(0x2222, ip(2, 2)));
        let mut call = Call::between(x, y, ip(1, 1), ip(2, 1));
        call.talk_until_offloaded();
        call.exchange_in_kernel(50);
        drop(call);
        drop(hosts);
    });
}
