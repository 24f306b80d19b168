//! RFC 3261 transaction timers: their base values and a fixed table of deadlines.

use std::time::{Duration, Instant};

/// Base timer values (RFC 3261 table 4), from `[system]` `timer_t1` and `timer_b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerConfig {
    /// T1: round-trip estimate (500 ms).
    pub t1: Duration,
    /// T2: maximum retransmit interval for non-INVITE requests and INVITE responses (4 s).
    pub t2: Duration,
    /// T4: maximum time a message stays in the network (5 s).
    pub t4: Duration,
    /// Timer B (INVITE) and F (non-INVITE) transaction timeout: 64·T1 unless configured.
    pub timeout: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self::new(Duration::from_millis(500), Duration::from_millis(32_000))
    }
}

impl TimerConfig {
    /// Timers from `[system]`'s `timer_t1` and `timer_b` (Asterisk uses timer_b for F too).
    pub fn new(t1: Duration, timeout: Duration) -> Self {
        Self {
            t1,
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            timeout,
        }
    }

    /// 64·T1: Timers H, J, L and M.
    pub fn t1x64(&self) -> Duration {
        self.t1 * 64
    }
}

/// The RFC 3261 (and RFC 6026) transaction timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerId {
    /// INVITE request retransmit (client, unreliable transport).
    A,
    /// INVITE transaction timeout (client).
    B,
    /// Wait for response retransmits after a non-2xx final response (client INVITE).
    D,
    /// Non-INVITE request retransmit (client, unreliable).
    E,
    /// Non-INVITE transaction timeout (client).
    F,
    /// INVITE final response retransmit (server, unreliable).
    G,
    /// Wait for ACK (server INVITE).
    H,
    /// Wait for ACK retransmits (server INVITE, Confirmed).
    I,
    /// Wait for non-INVITE request retransmits (server).
    J,
    /// Wait for response retransmits (client non-INVITE).
    K,
    /// Wait for INVITE retransmits after a 2xx (server, RFC 6026 Accepted).
    L,
    /// Wait for 2xx retransmits (client INVITE, RFC 6026 Accepted).
    M,
}

impl TimerId {
    /// Every timer, in table order.
    pub const ALL: [Self; 12] = [
        Self::A,
        Self::B,
        Self::D,
        Self::E,
        Self::F,
        Self::G,
        Self::H,
        Self::I,
        Self::J,
        Self::K,
        Self::L,
        Self::M,
    ];

    fn slot(self) -> usize {
        self as usize
    }
}

/// Deadlines of the armed timers (quinn's `TimerTable` shape: a fixed array, no allocation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimerTable {
    deadlines: [Option<Instant>; 12],
}

impl TimerTable {
    /// Arms `timer` to fire at `at`.
    pub fn set(&mut self, timer: TimerId, at: Instant) {
        self.deadlines[timer.slot()] = Some(at);
    }

    /// Disarms `timer`.
    pub fn stop(&mut self, timer: TimerId) {
        self.deadlines[timer.slot()] = None;
    }

    /// When `timer` fires, if armed.
    pub fn get(&self, timer: TimerId) -> Option<Instant> {
        self.deadlines[timer.slot()]
    }

    /// Disarms every timer.
    pub fn stop_all(&mut self) {
        self.deadlines = [None; 12];
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// The earliest timer due at `now`, disarmed as it is returned.
    pub fn pop_expired(&mut self, now: Instant) -> Option<TimerId> {
        let (timer, _) = TimerId::ALL
            .iter()
            .filter_map(|t| self.get(*t).map(|at| (*t, at)))
            .filter(|(_, at)| *at <= now)
            .min_by_key(|(_, at)| *at)?;
        self.stop(timer);
        Some(timer)
    }
}
