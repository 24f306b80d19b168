//! Which source addresses a leg accepts packets from, and where it sends (sans-IO).
//!
//! Rules (one [`Latch`] for RTP and a separate one for RTCP of each leg):
//!
//! - The *expected* address comes from the SDP (set by the SIP side); `None` or port 0 means
//!   the SDP gave nowhere to send.
//! - **Not symmetric** (`rtp_symmetric=no`): only a packet whose source is exactly the expected
//!   `ip:port` is accepted, never anything else; we send to the expected address.
//! - **Symmetric** (`rtp_symmetric=yes`, comedia): the *current* source is the latched address,
//!   or the expected address while nothing is latched. A packet from the current source is
//!   accepted and latches it (so we then send to where it really comes from). A packet from any
//!   other source is rejected (counted as unexpected, never relayed), but it is a *candidate*:
//!   when one candidate sends [`LatchParams::relatch_packets`] consecutive packets (no other
//!   candidate in between) and the current source never sent or has been silent for at least
//!   [`LatchParams::relatch_silence`], the leg re-latches to it and that packet is accepted.
//!   A packet from the current source clears the candidate (the current source is alive). We
//!   send to the latched address, else to the expected one.
//! - A new expected address (re-INVITE with another SDP address) forgets the latched address.
//!
//! Time is passed in; nothing here reads a clock.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Tunables of re-latching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatchParams {
    /// Consecutive packets a new source must send before the leg re-latches to it.
    pub relatch_packets: u32,
    /// How long the current source must have been silent before another may take over.
    pub relatch_silence: Duration,
}

impl Default for LatchParams {
    fn default() -> Self {
        Self {
            relatch_packets: 5,
            relatch_silence: Duration::from_millis(500),
        }
    }
}

/// What to do with a received packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// From the current source: accept.
    Accept,
    /// Accepted, and the leg now latched to this new address (first latch or re-latch).
    Latched(SocketAddr),
    /// From an unexpected source: drop and count, never relay.
    Reject,
}

/// Source filter and send address of one RTP or RTCP flow of a leg.
#[derive(Debug, Clone)]
pub struct Latch {
    params: LatchParams,
    expected: Option<SocketAddr>,
    symmetric: bool,
    latched: Option<SocketAddr>,
    last_accepted: Option<Instant>,
    candidate: Option<(SocketAddr, u32)>,
}

fn usable(addr: Option<SocketAddr>) -> Option<SocketAddr> {
    addr.filter(|a| a.port() != 0)
}

impl Latch {
    /// A latch with nothing expected yet.
    pub fn new(params: LatchParams) -> Self {
        Self {
            params,
            expected: None,
            symmetric: false,
            latched: None,
            last_accepted: None,
            candidate: None,
        }
    }

    /// Sets the SDP address and the `rtp_symmetric` flag. A changed address forgets the latch.
    pub fn configure(&mut self, expected: Option<SocketAddr>, symmetric: bool) {
        let expected = usable(expected);
        if expected != self.expected || symmetric != self.symmetric {
            self.latched = None;
            self.last_accepted = None;
            self.candidate = None;
        }
        self.expected = expected;
        self.symmetric = symmetric;
    }

    /// The address packets are accepted from now.
    pub fn current(&self) -> Option<SocketAddr> {
        self.latched.or(self.expected)
    }

    /// Where to send: the latched address with symmetric, else the SDP address.
    pub fn destination(&self) -> Option<SocketAddr> {
        if self.symmetric {
            self.current()
        } else {
            self.expected
        }
    }

    /// The latched address, if any (symmetric only).
    pub fn latched(&self) -> Option<SocketAddr> {
        self.latched
    }

    /// Classifies a packet from `src` received at `now`.
    pub fn on_packet(&mut self, src: SocketAddr, now: Instant) -> Verdict {
        if !self.symmetric {
            return if Some(src) == self.expected {
                self.last_accepted = Some(now);
                Verdict::Accept
            } else {
                Verdict::Reject
            };
        }
        if Some(src) == self.current() {
            self.last_accepted = Some(now);
            self.candidate = None;
            if self.latched.is_none() {
                self.latched = Some(src);
                return Verdict::Latched(src);
            }
            return Verdict::Accept;
        }
        let count = match self.candidate {
            Some((addr, n)) if addr == src => n.saturating_add(1),
            _ => 1,
        };
        self.candidate = Some((src, count));
        let silent = self
            .last_accepted
            .is_none_or(|t| now.saturating_duration_since(t) >= self.params.relatch_silence);
        if count >= self.params.relatch_packets && silent {
            self.latched = Some(src);
            self.last_accepted = Some(now);
            self.candidate = None;
            return Verdict::Latched(src);
        }
        Verdict::Reject
    }
}

#[cfg(test)]
#[path = "latch_tests.rs"]
mod latch_tests;
