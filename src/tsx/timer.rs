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

/// Deadlines of the armed timers (quinn's `TimerTable` shape: a fixed array, no allocation),
/// kept as nanoseconds after one base instant: every transaction carries one, and 12
/// `Option<Instant>`s would take 192 bytes where this takes 112.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerTable {
    base: Option<Instant>,
    /// Nanoseconds after `base`; `UNARMED` when the timer is not armed.
    offsets: [u64; 12],
}

/// An offset that means "not armed".
const UNARMED: u64 = u64::MAX;

impl Default for TimerTable {
    fn default() -> Self {
        Self {
            base: None,
            offsets: [UNARMED; 12],
        }
    }
}

impl TimerTable {
    fn at(&self, offset: u64) -> Option<Instant> {
        if offset == UNARMED {
            return None;
        }
        self.base
            .and_then(|b| b.checked_add(std::time::Duration::from_nanos(offset)))
    }

    /// Arms `timer` to fire at `at`.
    pub fn set(&mut self, timer: TimerId, at: Instant) {
        let base = match self.base {
            Some(b) if b <= at => b,
            // The first timer, or one earlier than the base: rebase on it.
            old => {
                for o in &mut self.offsets {
                    if *o != UNARMED {
                        let shift = old.map_or(0, |b| b.duration_since(at).as_nanos());
                        *o = u64::try_from(u128::from(*o) + shift).unwrap_or(UNARMED - 1);
                    }
                }
                self.base = Some(at);
                at
            }
        };
        let offset = u64::try_from(at.duration_since(base).as_nanos()).unwrap_or(UNARMED - 1);
        self.offsets[timer.slot()] = offset;
    }

    /// Disarms `timer`.
    pub fn stop(&mut self, timer: TimerId) {
        self.offsets[timer.slot()] = UNARMED;
    }

    /// When `timer` fires, if armed.
    pub fn get(&self, timer: TimerId) -> Option<Instant> {
        self.at(self.offsets[timer.slot()])
    }

    /// Disarms every timer.
    pub fn stop_all(&mut self) {
        self.offsets = [UNARMED; 12];
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        let min = self.offsets.iter().copied().min()?;
        self.at(min)
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

#[cfg(test)]
#[path = "timer_tests.rs"]
mod timer_tests;
