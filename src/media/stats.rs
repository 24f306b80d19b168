//! Per-leg counters: packets and bytes each way, loss from RTP sequence gaps, drops (sans-IO).

use std::time::Instant;

/// Sequence jump larger than this (forwards) is a restart, not loss (RFC 3550 A.1).
const MAX_DROPOUT: u16 = 3000;
/// Sequence this far behind the highest is a late or duplicate packet (RFC 3550 A.1).
const MAX_MISORDER: u16 = 100;

/// Loss of one incoming RTP stream from sequence numbers, with the extended (wrap-counting)
/// highest sequence number of RFC 3550 A.1/A.3. A large jump is taken as a restart once
/// two consecutive packets confirm it; a new SSRC restarts the count (the loss counted so far
/// is kept).
#[derive(Debug, Clone, Default)]
pub struct SeqTracker {
    ssrc: Option<u32>,
    base: u64,
    max: u16,
    cycles: u64,
    received: u64,
    bad_seq: Option<u16>,
    lost_before: u64,
}

impl SeqTracker {
    /// The SSRC of the stream being tracked, once a packet came.
    pub fn ssrc(&self) -> Option<u32> {
        self.ssrc
    }

    /// A tracker that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    fn restart(&mut self, ssrc: u32, seq: u16) {
        self.lost_before = self.lost();
        self.ssrc = Some(ssrc);
        self.base = u64::from(seq);
        self.max = seq;
        self.cycles = 0;
        self.received = 1;
        self.bad_seq = None;
    }

    /// Feeds one packet's SSRC and sequence number.
    pub fn on_packet(&mut self, ssrc: u32, seq: u16) {
        if self.ssrc != Some(ssrc) {
            self.restart(ssrc, seq);
            return;
        }
        let delta = seq.wrapping_sub(self.max);
        if delta < MAX_DROPOUT {
            if seq < self.max {
                self.cycles += 1 << 16;
            }
            self.max = seq;
        } else if delta <= u16::MAX - MAX_MISORDER {
            // A big jump: a restarted sender if the next packet follows it.
            if self.bad_seq == Some(seq) {
                self.restart(ssrc, seq);
            } else {
                self.bad_seq = Some(seq.wrapping_add(1));
            }
            return;
        }
        // Otherwise late or duplicate: counted as received, does not move the maximum.
        self.received += 1;
    }

    /// Extended highest sequence number received.
    pub fn extended_max(&self) -> u64 {
        self.cycles + u64::from(self.max)
    }

    /// Packets lost: expected minus received (duplicates can make up for losses, as in
    /// RFC 3550), never negative, plus the loss of earlier streams.
    pub fn lost(&self) -> u64 {
        if self.ssrc.is_none() {
            return self.lost_before;
        }
        let expected = self.extended_max() + 1 - self.base;
        self.lost_before + expected.saturating_sub(self.received)
    }
}

/// Counters of one leg.
#[derive(Debug, Clone, Default)]
pub struct LegCounters {
    /// RTP packets accepted from the remote.
    pub rx_packets: u64,
    /// RTP bytes accepted from the remote.
    pub rx_bytes: u64,
    /// RTP packets sent to the remote.
    pub tx_packets: u64,
    /// RTP bytes sent to the remote.
    pub tx_bytes: u64,
    /// RTCP packets accepted.
    pub rtcp_rx_packets: u64,
    /// RTCP packets sent.
    pub rtcp_tx_packets: u64,
    /// Packets (RTP or RTCP) from an unexpected source, dropped.
    pub unexpected: u64,
    /// Accepted packets not relayed: malformed, unknown payload type, codec mismatch, hold.
    pub dropped: u64,
    /// Sends that failed (socket buffer full, no route).
    pub send_errors: u64,
    /// When the last accepted RTP packet arrived.
    pub last_rx: Option<Instant>,
    /// Loss of the incoming RTP stream.
    pub seq: SeqTracker,
}

impl LegCounters {
    /// Records an accepted RTP packet.
    pub fn on_rtp_rx(&mut self, ssrc: u32, seq: u16, bytes: usize, now: Instant) {
        self.rx_packets += 1;
        self.rx_bytes += bytes as u64;
        self.last_rx = Some(now);
        self.seq.on_packet(ssrc, seq);
    }

    /// Records a sent RTP packet.
    pub fn on_rtp_tx(&mut self, bytes: usize) {
        self.tx_packets += 1;
        self.tx_bytes += bytes as u64;
    }

    /// Packets lost on the incoming RTP stream.
    pub fn rx_lost(&self) -> u64 {
        self.seq.lost()
    }
}

#[cfg(test)]
#[path = "stats_tests.rs"]
mod stats_tests;
