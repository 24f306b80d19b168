use std::time::Instant;

use super::*;

fn feed(t: &mut SeqTracker, seqs: impl IntoIterator<Item = u16>) {
    for s in seqs {
        t.on_packet(1, s);
    }
}

#[test]
fn no_loss_in_order() {
    let mut t = SeqTracker::new();
    feed(&mut t, 100..200);
    assert_eq!(t.lost(), 0);
}

#[test]
fn gaps_are_lost_across_the_wrap() {
    let mut t = SeqTracker::new();
    // 65530..=65535, then 0..10 with 65534 and 3, 4 missing.
    feed(&mut t, (65530..=65535).filter(|&s| s != 65534));
    feed(&mut t, (0..10).filter(|&s| s != 3 && s != 4));
    assert_eq!(t.lost(), 3);
    assert_eq!(t.extended_max(), 65536 + 9);
}

#[test]
fn many_wraps() {
    let mut t = SeqTracker::new();
    let mut s = 65000u16;
    for i in 0..300_000u32 {
        if i % 1000 != 0 {
            t.on_packet(9, s);
        }
        s = s.wrapping_add(1);
    }
    assert_eq!(t.lost(), 299);
}

#[test]
fn reordered_and_duplicate_packets_are_not_loss() {
    let mut t = SeqTracker::new();
    feed(&mut t, [1, 2, 4, 3, 5, 5, 6]);
    assert_eq!(t.lost(), 0);
}

#[test]
fn big_jump_is_a_restart_once_confirmed() {
    let mut t = SeqTracker::new();
    feed(&mut t, 0..10);
    // A lone wild packet is ignored, then a sender restart at 40000 is confirmed by the next.
    feed(&mut t, [30000, 10, 11, 40000, 40001, 40002]);
    assert_eq!(t.lost(), 0);
    feed(&mut t, [40004]);
    assert_eq!(t.lost(), 1);
}

#[test]
fn new_ssrc_restarts_and_keeps_previous_loss() {
    let mut t = SeqTracker::new();
    feed(&mut t, [1, 2, 5]);
    assert_eq!(t.lost(), 2);
    t.on_packet(2, 9000);
    t.on_packet(2, 9002);
    assert_eq!(t.lost(), 3);
}

#[test]
fn leg_counters() {
    let mut c = LegCounters::default();
    let t0 = Instant::now();
    c.on_rtp_rx(1, 10, 172, t0);
    c.on_rtp_rx(1, 12, 172, t0);
    c.on_rtp_tx(172);
    assert_eq!(
        (c.rx_packets, c.rx_bytes, c.tx_packets, c.tx_bytes),
        (2, 344, 1, 172)
    );
    assert_eq!(c.rx_lost(), 1);
    assert_eq!(c.last_rx, Some(t0));
}
