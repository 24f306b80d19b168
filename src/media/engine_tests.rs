//! Engine tests with real sockets on 127.0.0.1. Every wait is bounded.
//!
//! Commands are queued to the relay threads; `sync` (a `stats` round trip through the leg's
//! thread) makes sure they were applied before a test sends packets.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::dtmf::{EventTrain, TelephoneEvent};
use super::g711::{self, Law};
use super::rtp::{Rtp, RtpHeader, write_packet};
use super::*;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const WAIT: Duration = Duration::from_secs(2);

/// Port ranges per engine so parallel tests do not compete.
static NEXT_RANGE: AtomicU16 = AtomicU16::new(0);

type Events = Arc<Mutex<Vec<(usize, MediaEvent)>>>;

/// The start of `len` consecutive UDP ports free on 127.0.0.1 now, in a block of our own
/// (other tests and benchmarks on the machine use RTP ports too).
fn free_block(len: u16) -> u16 {
    for _ in 0..200 {
        let n = NEXT_RANGE.fetch_add(1, Ordering::Relaxed);
        // Spread by process id so two test runs at once start apart.
        let slot = (u32::from(n) + std::process::id() % 97) % 140;
        let start = 30000 + u16::try_from(slot).unwrap_or(0) * 200;
        let all_free =
            (start..start + len).all(|p| UdpSocket::bind(SocketAddr::new(LOCALHOST, p)).is_ok());
        if all_free {
            return start;
        }
    }
    panic!("no free block of {len} UDP ports between 30000 and 58000");
}

fn engine(threads: usize, pairs: u16) -> (Arc<MediaEngine>, Events) {
    let start = free_block(pairs * 2);
    let events: Events = Arc::default();
    let sink_events = Arc::clone(&events);
    let sink: EventSink = Arc::new(move |q, ev| {
        sink_events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((q, ev));
    });
    let config = MediaConfig {
        port_start: start,
        port_end: start + pairs * 2 - 1,
        threads,
        kernel_forwarding: false,
    };
    (
        MediaEngine::start(config, sink).expect("engine starts"),
        events,
    )
}

fn events_now(events: &Events) -> Vec<(usize, MediaEvent)> {
    events.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

fn wait_events(events: &Events, n: usize) -> Vec<(usize, MediaEvent)> {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        let got = events_now(events);
        if got.len() >= n {
            return got;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    events_now(events)
}

/// A simulated phone: an RTP and an RTCP socket.
struct Phone {
    rtp: UdpSocket,
    rtcp: UdpSocket,
}

impl Phone {
    fn new() -> Self {
        let bind = || {
            let s = UdpSocket::bind((LOCALHOST, 0)).expect("bind");
            s.set_read_timeout(Some(WAIT)).expect("timeout");
            s
        };
        Self {
            rtp: bind(),
            rtcp: bind(),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.rtp.local_addr().expect("addr")
    }

    fn rtcp_addr(&self) -> SocketAddr {
        self.rtcp.local_addr().expect("addr")
    }

    fn send(&self, to: SocketAddr, pt: u8, seq: u16, ts: u32, payload: &[u8]) {
        send_from(&self.rtp, to, pt, seq, ts, false, payload);
    }

    fn recv(&self) -> Option<Vec<u8>> {
        recv_on(&self.rtp, WAIT)
    }

    fn recv_quick(&self) -> Option<Vec<u8>> {
        recv_on(&self.rtp, Duration::from_millis(150))
    }
}

fn send_from(
    s: &UdpSocket,
    to: SocketAddr,
    pt: u8,
    seq: u16,
    ts: u32,
    marker: bool,
    payload: &[u8],
) {
    let mut buf = [0u8; 512];
    let h = RtpHeader {
        marker,
        payload_type: pt,
        seq,
        timestamp: ts,
        ssrc: 0x1111,
    };
    let n = write_packet(&mut buf, h, payload).expect("fits");
    s.send_to(&buf[..n], to).expect("send");
}

fn recv_on(s: &UdpSocket, wait: Duration) -> Option<Vec<u8>> {
    s.set_read_timeout(Some(wait)).expect("timeout");
    let mut buf = [0u8; 2048];
    match s.recv_from(&mut buf) {
        Ok((n, _)) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

fn open(e: &MediaEngine, queue: usize) -> LocalMedia {
    e.open(&OpenLeg {
        queue,
        local_ip: LOCALHOST,
        label: format!("PJSIP/test-{queue}"),
    })
    .expect("open")
}

fn cfg(phone: &Phone, pt: u8, encoding: Encoding, dtmf: Option<u8>) -> LegConfig {
    LegConfig {
        remote_rtp: Some(phone.addr()),
        remote_rtcp: Some(phone.rtcp_addr()),
        payload_type: pt,
        encoding,
        dtmf_payload_type: dtmf,
        ..LegConfig::default()
    }
}

/// Waits until the leg's thread has applied every earlier command.
fn sync(e: &MediaEngine, leg: LegId) -> LegStats {
    e.stats(leg).expect("leg known")
}

/// Two phones, two legs bridged.
struct Call {
    e: Arc<MediaEngine>,
    events: Events,
    a: LocalMedia,
    b: LocalMedia,
    pa: Phone,
    pb: Phone,
}

fn call(
    threads: usize,
    qa: usize,
    qb: usize,
    ca: (u8, Encoding, Option<u8>),
    cb: (u8, Encoding, Option<u8>),
) -> Call {
    let (e, events) = engine(threads, 8);
    let (pa, pb) = (Phone::new(), Phone::new());
    let a = open(&e, qa);
    let b = open(&e, qb);
    e.configure(a.leg, cfg(&pa, ca.0, ca.1, ca.2));
    e.bridge(a.leg, b.leg);
    e.configure(b.leg, cfg(&pb, cb.0, cb.1, cb.2));
    sync(&e, a.leg);
    sync(&e, b.leg);
    Call {
        e,
        events,
        a,
        b,
        pa,
        pb,
    }
}

#[test]
fn bridge_relays_both_ways_with_payload_type_rewrite() {
    let c = call(
        1,
        0,
        0,
        (0, Encoding::Pcmu, None),
        (100, Encoding::Pcmu, None),
    );
    let payload = [7u8; 160];
    c.pa.send(c.a.rtp, 0, 10, 1000, &payload);
    let got = c.pb.recv().expect("relayed to B");
    let r = Rtp::parse(&got).expect("RTP");
    assert_eq!(r.payload_type(), 100);
    assert_eq!(r.payload(), &payload);
    assert_ne!(r.ssrc(), 0x1111, "our own SSRC on the B leg");
    assert!(r.marker(), "first packet of a new source");
    let first_seq = r.seq();
    c.pa.send(c.a.rtp, 0, 11, 1160, &payload);
    let r2 = c.pb.recv().expect("second");
    let r2 = Rtp::parse(&r2).expect("RTP");
    assert_eq!(r2.seq(), first_seq.wrapping_add(1));
    assert_eq!(r2.timestamp(), r.timestamp().wrapping_add(160));
    // And back.
    c.pb.send(c.b.rtp, 100, 500, 9, &payload);
    let back = c.pa.recv().expect("relayed to A");
    assert_eq!(Rtp::parse(&back).expect("RTP").payload_type(), 0);
    let sa = sync(&c.e, c.a.leg);
    let sb = sync(&c.e, c.b.leg);
    assert_eq!((sa.rx_packets, sa.tx_packets, sa.rx_bytes), (2, 1, 344));
    assert_eq!((sb.rx_packets, sb.tx_packets), (1, 2));
    assert_eq!(sa.bridged_to, Some(c.b.leg));
    assert_eq!(sa.remote, Some(c.pa.addr()));
    assert_eq!(sa.local_rtp, c.a.rtp);
    assert!(sa.last_rx.is_some());
    // Unknown payload types are dropped and counted.
    c.pa.send(c.a.rtp, 13, 12, 1320, &[0]);
    assert!(c.pb.recv_quick().is_none());
    assert_eq!(sync(&c.e, c.a.leg).dropped, 1);
}

#[test]
fn ulaw_and_alaw_are_transcoded() {
    let c = call(
        1,
        0,
        0,
        (0, Encoding::Pcmu, None),
        (8, Encoding::Pcma, None),
    );
    let ulaw: Vec<u8> = (0..160u8).map(|i| i.wrapping_mul(37)).collect();
    c.pa.send(c.a.rtp, 0, 1, 0, &ulaw);
    let got = c.pb.recv().expect("relayed");
    let r = Rtp::parse(&got).expect("RTP");
    assert_eq!(r.payload_type(), 8);
    let expect: Vec<u8> = ulaw
        .iter()
        .map(|&u| g711::ULAW_TO_ALAW[usize::from(u)])
        .collect();
    assert_eq!(r.payload(), &expect[..]);
    c.pb.send(c.b.rtp, 8, 1, 0, &[g711::ALAW_SILENCE; 160]);
    let back = c.pa.recv().expect("relayed back");
    assert_eq!(Rtp::parse(&back).expect("RTP").payload(), &[0xfe; 160]);
}

#[test]
fn codec_mismatch_is_dropped_and_counted() {
    let c = call(
        1,
        0,
        0,
        (0, Encoding::Pcmu, None),
        (18, Encoding::Other("G729".into()), None),
    );
    c.pa.send(c.a.rtp, 0, 1, 0, &[0xff; 160]);
    assert!(c.pb.recv_quick().is_none());
    assert_eq!(sync(&c.e, c.a.leg).dropped, 1);
}

#[test]
fn unexpected_source_is_dropped_and_counted() {
    let c = call(
        1,
        0,
        0,
        (0, Encoding::Pcmu, None),
        (0, Encoding::Pcmu, None),
    );
    let intruder = Phone::new();
    for seq in 0..10 {
        intruder.send(c.a.rtp, 0, seq, 0, &[1; 160]);
    }
    assert!(c.pb.recv_quick().is_none(), "nothing relayed");
    let s = sync(&c.e, c.a.leg);
    assert_eq!((s.unexpected, s.rx_packets, s.latched), (10, 0, None));
    // The real phone still gets through.
    c.pa.send(c.a.rtp, 0, 1, 0, &[2; 160]);
    assert!(c.pb.recv().is_some());
}

#[test]
fn symmetric_leg_latches_to_a_sustained_new_source() {
    let c = call(
        1,
        0,
        0,
        (0, Encoding::Pcmu, None),
        (0, Encoding::Pcmu, None),
    );
    let mut config = cfg(&c.pa, 0, Encoding::Pcmu, None);
    config.symmetric = true;
    c.e.configure(c.a.leg, config);
    sync(&c.e, c.a.leg);
    let nat = Phone::new();
    for seq in 0..4 {
        nat.send(c.a.rtp, 0, seq, 0, &[3; 160]);
    }
    assert!(c.pb.recv_quick().is_none(), "not latched yet");
    nat.send(c.a.rtp, 0, 4, 0, &[3; 160]);
    assert!(c.pb.recv().is_some(), "fifth packet latches and is relayed");
    let s = sync(&c.e, c.a.leg);
    assert_eq!(s.latched, Some(nat.addr()));
    assert_eq!(s.remote, Some(nat.addr()));
    assert_eq!(s.unexpected, 4);
    // B → A now goes to the latched address, not the SDP one.
    c.pb.send(c.b.rtp, 0, 1, 0, &[4; 160]);
    assert!(nat.recv().is_some());
    assert!(c.pa.recv_quick().is_none());
    // The SDP address is now unexpected.
    c.pa.send(c.a.rtp, 0, 9, 0, &[5; 160]);
    assert!(c.pb.recv_quick().is_none());
}

#[test]
fn rtcp_is_relayed_to_the_peer_rtcp() {
    let c = call(
        1,
        0,
        0,
        (0, Encoding::Pcmu, None),
        (0, Encoding::Pcmu, None),
    );
    // RTP first: B's phone learns the SSRC the relay sends A's stream with.
    c.pa.send(c.a.rtp, 0, 1, 0, &[0xff; 160]);
    let rtp = c.pb.recv().expect("relayed RTP");
    let rr = [0x80u8, 201, 0, 1, 0, 0, 0, 1];
    c.pa.rtcp.send_to(&rr, c.a.rtcp).expect("send");
    let got = recv_on(&c.pb.rtcp, WAIT).expect("relayed RTCP");
    assert_eq!(got.len(), rr.len());
    assert_eq!(&got[..4], &rr[..4]);
    // The reporter's SSRC is the one B's phone receives RTP from.
    assert_eq!(&got[4..8], &rtp[8..12]);
    c.pa.rtcp.send_to(&[1, 2, 3], c.a.rtcp).expect("send");
    assert!(recv_on(&c.pb.rtcp, Duration::from_millis(150)).is_none());
    let s = sync(&c.e, c.a.leg);
    assert_eq!((s.rtcp_rx_packets, s.dropped), (1, 1));
    assert_eq!(sync(&c.e, c.b.leg).rtcp_tx_packets, 1);
}

#[test]
fn rtcp_sockets_open_when_rtp_first_passes() {
    let c = call(
        1,
        0,
        0,
        (0, Encoding::Pcmu, None),
        (0, Encoding::Pcmu, None),
    );
    // No RTP yet: neither RTCP port is bound (a call without media holds two sockets),
    // so a report sent now is not relayed.
    for port in [c.a.rtcp, c.b.rtcp] {
        drop(UdpSocket::bind(port).expect("RTCP port not bound yet"));
    }
    let rr = [0x80u8, 201, 0, 1, 0, 0, 0, 1];
    c.pb.rtcp.send_to(&rr, c.b.rtcp).expect("send");
    assert!(recv_on(&c.pa.rtcp, Duration::from_millis(150)).is_none());
    // A's first RTP opens both legs' RTCP sockets before it is relayed to B.
    c.pa.send(c.a.rtp, 0, 1, 0, &[0xff; 160]);
    assert!(c.pb.recv().is_some());
    for port in [c.a.rtcp, c.b.rtcp] {
        assert!(UdpSocket::bind(port).is_err(), "{port} bound by the relay");
    }
    // B's phone, which only received, is heard now.
    c.pb.rtcp.send_to(&rr, c.b.rtcp).expect("send");
    assert!(recv_on(&c.pa.rtcp, WAIT).is_some());
    assert_eq!(sync(&c.e, c.b.leg).rtcp_rx_packets, 1);
}

#[test]
fn legs_on_different_threads_are_bridged_after_migration() {
    // Queues 0 and 1 land on different threads of a 2-thread engine.
    let c = call(
        2,
        0,
        1,
        (0, Encoding::Pcmu, None),
        (8, Encoding::Pcma, None),
    );
    for seq in 0..5 {
        c.pa.send(c.a.rtp, 0, seq, 0, &[0xff; 160]);
        assert!(c.pb.recv().is_some(), "A→B packet {seq}");
        c.pb.send(c.b.rtp, 8, seq, 0, &[0xd5; 160]);
        assert!(c.pa.recv().is_some(), "B→A packet {seq}");
    }
    // Re-bridging back and forth keeps working.
    c.e.unbridge(c.a.leg);
    c.e.bridge(c.b.leg, c.a.leg);
    sync(&c.e, c.a.leg);
    c.pa.send(c.a.rtp, 0, 9, 0, &[0xff; 160]);
    assert!(c.pb.recv().is_some());
    c.e.close(c.a.leg);
    c.e.close(c.b.leg);
    assert_eq!(c.e.open_legs(), 0);
}

#[test]
fn echo_sends_back() {
    let (e, _events) = engine(1, 4);
    let p = Phone::new();
    let leg = open(&e, 0);
    e.configure(leg.leg, cfg(&p, 0, Encoding::Pcmu, None));
    e.echo(leg.leg);
    sync(&e, leg.leg);
    p.send(leg.rtp, 0, 1, 0, &[9; 160]);
    let back = p.recv().expect("echoed");
    assert_eq!(Rtp::parse(&back).expect("RTP").payload(), &[9; 160]);
    e.unbridge(leg.leg);
    sync(&e, leg.leg);
    p.send(leg.rtp, 0, 2, 160, &[9; 160]);
    assert!(p.recv_quick().is_none(), "no echo after unbridge");
}

#[test]
fn playback_sends_paced_frames_then_reports_done() {
    let (e, events) = engine(1, 4);
    let p = Phone::new();
    let leg = open(&e, 7);
    e.configure(leg.leg, cfg(&p, 8, Encoding::Pcma, None));
    let sound = Sound::from_g711(Law::Ulaw, vec![0x80; 400]).expect("sound");
    let started = Instant::now();
    e.play(leg.leg, Arc::new(sound));
    let mut frames = Vec::new();
    for _ in 0..3 {
        frames.push(
            Rtp::parse(&p.recv().expect("frame"))
                .map(|r| {
                    (
                        r.payload_type(),
                        r.payload().to_vec(),
                        r.seq(),
                        r.timestamp(),
                    )
                })
                .expect("RTP"),
        );
    }
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(35), "paced: {elapsed:?}");
    assert!(frames.iter().all(|f| f.0 == 8 && f.1.len() == 160));
    assert_eq!(frames[0].1[0], 0xaa, "µ-law max transcoded to A-law max");
    assert_eq!(frames[2].1[100], g711::ALAW_SILENCE, "last frame padded");
    assert_eq!(frames[1].2, frames[0].2.wrapping_add(1));
    assert_eq!(frames[1].3, frames[0].3.wrapping_add(160));
    let got = wait_events(&events, 1);
    assert_eq!(got, vec![(7, MediaEvent::PlaybackDone { leg: leg.leg })]);
    assert!(p.recv_quick().is_none(), "nothing after the last frame");
    // Stopped playback: no event.
    e.play(
        leg.leg,
        Arc::new(Sound::from_g711(Law::Ulaw, vec![0; 16000]).expect("sound")),
    );
    assert!(p.recv().is_some());
    e.stop_play(leg.leg);
    sync(&e, leg.leg);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(events_now(&events).len(), 1);
}

fn send_train(from: &UdpSocket, to: SocketAddr, pt: u8, digit: char, ts: u32) {
    let mut train = EventTrain::new(digit, 100, 20).expect("digit");
    let mut seq = 100;
    while let Some(p) = train.next_packet() {
        send_from(from, to, pt, seq, ts, p.marker, &p.payload);
        seq += 1;
    }
}

#[test]
fn dtmf_is_reported_once_when_the_peer_has_no_telephone_event() {
    let c = call(
        1,
        3,
        3,
        (0, Encoding::Pcmu, Some(101)),
        (0, Encoding::Pcmu, None),
    );
    send_train(&c.pa.rtp, c.a.rtp, 101, '5', 4000);
    send_train(&c.pa.rtp, c.a.rtp, 101, '#', 8000);
    let got = wait_events(&c.events, 2);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(events_now(&c.events).len(), 2, "once per digit");
    assert_eq!(
        got,
        vec![
            (
                3,
                MediaEvent::Dtmf {
                    leg: c.a.leg,
                    digit: '5',
                    duration_ms: 100
                }
            ),
            (
                3,
                MediaEvent::Dtmf {
                    leg: c.a.leg,
                    digit: '#',
                    duration_ms: 100
                }
            )
        ]
    );
    assert!(c.pb.recv_quick().is_none(), "events not relayed to B");
}

#[test]
fn dtmf_is_relayed_when_both_legs_have_telephone_event() {
    let c = call(
        1,
        0,
        0,
        (0, Encoding::Pcmu, Some(101)),
        (0, Encoding::Pcmu, Some(96)),
    );
    send_train(&c.pa.rtp, c.a.rtp, 101, '9', 4000);
    for _ in 0..7 {
        let got = c.pb.recv().expect("relayed event");
        let r = Rtp::parse(&got).expect("RTP");
        assert_eq!(r.payload_type(), 96);
        assert_eq!(
            TelephoneEvent::parse(r.payload()).expect("event").digit(),
            Some('9')
        );
    }
    assert!(events_now(&c.events).is_empty());
}

#[test]
fn send_dtmf_generates_an_rfc4733_train() {
    let (e, _events) = engine(1, 4);
    let p = Phone::new();
    let leg = open(&e, 0);
    e.configure(leg.leg, cfg(&p, 0, Encoding::Pcmu, Some(101)));
    e.send_dtmf(leg.leg, '7', 100);
    let mut got = Vec::new();
    for _ in 0..7 {
        let pkt = p.recv().expect("event packet");
        let r = Rtp::parse(&pkt).expect("RTP");
        let ev = TelephoneEvent::parse(r.payload()).expect("event");
        got.push((r.payload_type(), r.marker(), r.timestamp(), ev));
    }
    assert!(
        got.iter()
            .all(|g| g.0 == 101 && g.2 == got[0].2 && g.3.digit() == Some('7'))
    );
    assert!(got[0].1 && got[1..].iter().all(|g| !g.1));
    assert_eq!(got.iter().filter(|g| g.3.end).count(), 3);
    assert_eq!(got[6].3.duration, 800);
    assert!(p.recv_quick().is_none());
    // No telephone-event on the leg: nothing is sent.
    e.configure(leg.leg, cfg(&p, 0, Encoding::Pcmu, None));
    e.send_dtmf(leg.leg, '7', 100);
    assert!(p.recv_quick().is_none());
}

#[test]
fn close_releases_ports_and_open_legs_returns_to_zero() {
    let (e, _events) = engine(2, 1);
    let first = open(&e, 0);
    assert_eq!(first.rtcp.port(), first.rtp.port() + 1);
    assert_eq!(first.rtp.port() % 2, 0);
    assert_eq!(e.open_legs(), 1);
    assert!(matches!(
        e.open(&OpenLeg {
            queue: 1,
            local_ip: LOCALHOST,
            label: "x".into()
        }),
        Err(MediaError::NoPorts)
    ));
    e.close(first.leg);
    assert_eq!(e.open_legs(), 0);
    assert!(e.stats(first.leg).is_none());
    // The relay thread frees the pair right after.
    let deadline = Instant::now() + WAIT;
    let again = loop {
        if let Ok(m) = e.open(&OpenLeg {
            queue: 1,
            local_ip: LOCALHOST,
            label: "y".into(),
        }) {
            break m;
        }
        assert!(Instant::now() < deadline, "port pair never released");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(again.rtp, first.rtp);
    assert_eq!(e.open_legs(), 1);
    e.close(again.leg);
    assert_eq!(e.open_legs(), 0);
    // Commands on closed legs are ignored.
    e.configure(again.leg, LegConfig::default());
    e.bridge(again.leg, first.leg);
    assert!(e.stats(again.leg).is_none());
}

/// Relays one packet each way between two phones over bridged legs `a` and `b`.
fn relays_both_ways(e: &MediaEngine, a: &LocalMedia, b: &LocalMedia, pa: &Phone, pb: &Phone) {
    e.configure(a.leg, cfg(pa, 0, Encoding::Pcmu, None));
    e.configure(b.leg, cfg(pb, 0, Encoding::Pcmu, None));
    e.bridge(a.leg, b.leg);
    sync(e, a.leg);
    sync(e, b.leg);
    pa.send(a.rtp, 0, 1, 0, &[0xff; 160]);
    assert!(pb.recv().is_some(), "A→B");
    pb.send(b.rtp, 0, 1, 0, &[0xff; 160]);
    assert!(pa.recv().is_some(), "B→A");
}

#[test]
fn pooled_pairs_are_reused_still_polled_by_their_thread_or_taken_by_another() {
    // Two pairs in all: every reuse below comes from a pool.
    let (e, _events) = engine(2, 2);
    let (pa, pb) = (Phone::new(), Phone::new());
    let (a, b) = (open(&e, 0), open(&e, 0));
    relays_both_ways(&e, &a, &b, &pa, &pb);
    e.close(a.leg);
    e.close(b.leg);
    // Same thread: the pairs come back registered under their old slots.
    let (a2, b2) = (reopen(&e, 0), reopen(&e, 0));
    let mut ports = [a2.rtp, b2.rtp];
    ports.sort();
    let mut before = [a.rtp, b.rtp];
    before.sort();
    assert_eq!(ports, before, "the pooled pairs are reused");
    relays_both_ways(&e, &a2, &b2, &pa, &pb);
    e.close(a2.leg);
    e.close(b2.leg);
    // Another thread (queue 1): its pool is empty and no port is free, so it takes the
    // pairs out of thread 0's pool and polls them itself.
    let (a3, b3) = (reopen(&e, 1), reopen(&e, 1));
    relays_both_ways(&e, &a3, &b3, &pa, &pb);
    // Thread 0 freed the slots: a leg opened there again (after the others close) works.
    e.close(a3.leg);
    let a4 = reopen(&e, 0);
    e.close(b3.leg);
    let b4 = reopen(&e, 0);
    relays_both_ways(&e, &a4, &b4, &pa, &pb);
    e.close(a4.leg);
    e.close(b4.leg);
    assert_eq!(e.open_legs(), 0);
}

/// Opens a leg once the relay thread has pooled (or freed) a closed leg's pair (bounded).
fn reopen(e: &MediaEngine, queue: usize) -> LocalMedia {
    let deadline = Instant::now() + WAIT;
    loop {
        let req = OpenLeg {
            queue,
            local_ip: LOCALHOST,
            label: format!("PJSIP/test-{queue}"),
        };
        if let Ok(m) = e.open(&req) {
            return m;
        }
        assert!(Instant::now() < deadline, "no port pair came back");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn late_packets_to_a_pooled_pair_never_reach_the_next_call() {
    let (e, _events) = engine(1, 2);
    let (pa, pb) = (Phone::new(), Phone::new());
    let (a, b) = (open(&e, 0), open(&e, 0));
    relays_both_ways(&e, &a, &b, &pa, &pb);
    e.close(a.leg);
    e.close(b.leg);
    // The old phones go on sending after the BYE (more than a re-latch needs).
    for seq in 100..108 {
        pa.send(a.rtp, 0, seq, 0, &[1; 160]);
        pb.send(b.rtp, 0, seq, 0, &[1; 160]);
    }
    let (a2, b2) = (reopen(&e, 0), reopen(&e, 0));
    let (na, nb) = (Phone::new(), Phone::new());
    for (leg, phone) in [(a2.leg, &na), (b2.leg, &nb)] {
        let mut c = cfg(phone, 0, Encoding::Pcmu, None);
        c.symmetric = true;
        e.configure(leg, c);
    }
    e.bridge(a2.leg, b2.leg);
    sync(&e, a2.leg);
    sync(&e, b2.leg);
    na.send(a2.rtp, 0, 1, 0, &[2; 160]);
    let got = nb.recv().expect("the new call relays");
    assert_eq!(Rtp::parse(&got).expect("RTP").payload(), &[2; 160]);
    for (leg, phone) in [(a2.leg, &na), (b2.leg, &nb)] {
        let s = sync(&e, leg);
        assert_eq!(s.unexpected, 0, "the old call's packets were read away");
        assert_eq!(s.remote, Some(phone.addr()));
    }
    assert!(pa.recv_quick().is_none() && pb.recv_quick().is_none());
    e.close(a2.leg);
    e.close(b2.leg);
}
