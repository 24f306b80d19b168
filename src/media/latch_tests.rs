use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

const SDP: &str = "192.0.2.1:4000";
const NAT: &str = "203.0.113.5:34567";
const OTHER: &str = "198.51.100.9:5000";

fn latch(symmetric: bool) -> Latch {
    let mut l = Latch::new(LatchParams::default());
    l.configure(Some(addr(SDP)), symmetric);
    l
}

fn ms(t0: Instant, n: u64) -> Instant {
    t0 + Duration::from_millis(n)
}

#[test]
fn strict_accepts_only_the_sdp_address() {
    let t0 = Instant::now();
    let mut l = latch(false);
    assert_eq!(l.on_packet(addr(SDP), t0), Verdict::Accept);
    for i in 0..20 {
        assert_eq!(
            l.on_packet(addr(NAT), ms(t0, 1000 + i * 20)),
            Verdict::Reject
        );
    }
    // Same IP, other port: still rejected.
    assert_eq!(
        l.on_packet(addr("192.0.2.1:4002"), ms(t0, 2000)),
        Verdict::Reject
    );
    assert_eq!(l.destination(), Some(addr(SDP)));
    assert_eq!(l.latched(), None);
}

#[test]
fn symmetric_latches_the_sdp_source_and_sends_there() {
    let t0 = Instant::now();
    let mut l = latch(true);
    assert_eq!(l.on_packet(addr(SDP), t0), Verdict::Latched(addr(SDP)));
    assert_eq!(l.on_packet(addr(SDP), ms(t0, 20)), Verdict::Accept);
    assert_eq!(l.destination(), Some(addr(SDP)));
}

#[test]
fn symmetric_latches_a_nat_source_after_five_packets_when_sdp_never_sent() {
    let t0 = Instant::now();
    let mut l = latch(true);
    for i in 0..4 {
        assert_eq!(
            l.on_packet(addr(NAT), ms(t0, i * 20)),
            Verdict::Reject,
            "packet {i}"
        );
    }
    assert_eq!(
        l.destination(),
        Some(addr(SDP)),
        "before latching we send to the SDP"
    );
    assert_eq!(
        l.on_packet(addr(NAT), ms(t0, 80)),
        Verdict::Latched(addr(NAT))
    );
    assert_eq!(l.destination(), Some(addr(NAT)));
    // Now the SDP address is the unexpected one.
    assert_eq!(l.on_packet(addr(SDP), ms(t0, 100)), Verdict::Reject);
    assert_eq!(l.on_packet(addr(NAT), ms(t0, 120)), Verdict::Accept);
}

#[test]
fn interleaved_sources_are_not_consecutive() {
    let t0 = Instant::now();
    let mut l = latch(true);
    for i in 0..10 {
        let src = if i % 2 == 0 { NAT } else { OTHER };
        assert_eq!(l.on_packet(addr(src), ms(t0, i * 10)), Verdict::Reject);
    }
    assert_eq!(l.latched(), None);
}

#[test]
fn relatch_needs_the_current_source_silent_for_500_ms() {
    let t0 = Instant::now();
    let mut l = latch(true);
    assert_eq!(l.on_packet(addr(SDP), t0), Verdict::Latched(addr(SDP)));
    // A new source while the current one is alive (last packet at 0 ms): no take-over,
    // however many packets it sends before 500 ms.
    for i in 1..=20 {
        assert_eq!(
            l.on_packet(addr(NAT), ms(t0, i * 20)),
            Verdict::Reject,
            "at {} ms",
            i * 20
        );
    }
    // At 500 ms of silence the (still consecutive) new stream takes over.
    assert_eq!(
        l.on_packet(addr(NAT), ms(t0, 500)),
        Verdict::Latched(addr(NAT))
    );
    assert_eq!(l.destination(), Some(addr(NAT)));
}

#[test]
fn current_source_packet_resets_the_candidate() {
    let t0 = Instant::now();
    let mut l = latch(true);
    assert_eq!(l.on_packet(addr(SDP), t0), Verdict::Latched(addr(SDP)));
    for i in 0..4 {
        l.on_packet(addr(NAT), ms(t0, 600 + i * 20));
    }
    // The current source speaks up: the candidate starts over.
    assert_eq!(l.on_packet(addr(SDP), ms(t0, 700)), Verdict::Accept);
    for i in 0..4 {
        assert_eq!(
            l.on_packet(addr(NAT), ms(t0, 1300 + i * 20)),
            Verdict::Reject
        );
    }
    assert_eq!(
        l.on_packet(addr(NAT), ms(t0, 1380)),
        Verdict::Latched(addr(NAT))
    );
}

#[test]
fn a_new_sdp_address_forgets_the_latch() {
    let t0 = Instant::now();
    let mut l = latch(true);
    for i in 0..5 {
        l.on_packet(addr(NAT), ms(t0, i * 20));
    }
    assert_eq!(l.latched(), Some(addr(NAT)));
    l.configure(Some(addr(SDP)), true);
    assert_eq!(l.latched(), Some(addr(NAT)), "same SDP: latch kept");
    l.configure(Some(addr(OTHER)), true);
    assert_eq!(l.latched(), None);
    assert_eq!(l.destination(), Some(addr(OTHER)));
    assert_eq!(l.on_packet(addr(NAT), ms(t0, 200)), Verdict::Reject);
}

#[test]
fn port_zero_means_nowhere() {
    let t0 = Instant::now();
    let mut l = Latch::new(LatchParams::default());
    l.configure(Some(addr("192.0.2.1:0")), false);
    assert_eq!(l.destination(), None);
    assert_eq!(l.on_packet(addr("192.0.2.1:0"), t0), Verdict::Reject);
    // Symmetric without an address: a sustained stream latches.
    l.configure(None, true);
    for i in 0..4 {
        assert_eq!(l.on_packet(addr(NAT), ms(t0, i * 20)), Verdict::Reject);
    }
    assert_eq!(
        l.on_packet(addr(NAT), ms(t0, 80)),
        Verdict::Latched(addr(NAT))
    );
}
