//! RTP/RTCP port pairs from a configured range (sans-IO: binding is a closure the caller
//! passes in).
//!
//! A pair is an even RTP port and the next odd port for RTCP (RFC 3550 §11). Allocation is
//! round-robin from where the last one stopped, so a just-released pair is not reused at once
//! (late packets of the old call would reach the new one); pairs in use are skipped, and so
//! are pairs the closure fails to bind (another process holds them).

use thiserror::Error;

/// The configured range holds no even/odd pair.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("RTP port range {start}-{end} holds no even/odd port pair")]
pub struct PortRangeError {
    /// First port of the range.
    pub start: u16,
    /// Last port of the range.
    pub end: u16,
}

/// What binding one candidate port pair gave ([`PortAllocator::allocate`]).
#[derive(Debug)]
pub enum Attempt<T> {
    /// Bound: the pair is ours.
    Bound(T),
    /// Held by someone else: the next pair is tried.
    Busy,
    /// No other pair would do better (the process is out of file descriptors): trying
    /// every pair of the range would only hold the allocator for milliseconds.
    Stop,
}

/// Allocator of RTP/RTCP port pairs.
#[derive(Debug, Clone)]
pub struct PortAllocator {
    /// First even port.
    first: u16,
    /// Number of pairs.
    pairs: usize,
    /// Next pair index to try.
    next: usize,
    in_use: Vec<bool>,
    used: usize,
}

impl PortAllocator {
    /// Pairs within `start..=end` (inclusive, as `rtpstart`/`rtpend` of Asterisk's rtp.conf).
    pub fn new(start: u16, end: u16) -> Result<Self, PortRangeError> {
        let first = u32::from(start) + u32::from(start % 2);
        let pairs = if u32::from(end) > first {
            (u32::from(end) - first).div_ceil(2)
        } else {
            0
        };
        let first = u16::try_from(first).ok().filter(|_| pairs > 0);
        let Some(first) = first else {
            return Err(PortRangeError { start, end });
        };
        let pairs = usize::try_from(pairs).unwrap_or(0);
        Ok(Self {
            first,
            pairs,
            next: 0,
            in_use: vec![false; pairs],
            used: 0,
        })
    }

    fn port_of(&self, index: usize) -> u16 {
        let offset = u16::try_from(index * 2).unwrap_or(0);
        self.first.wrapping_add(offset)
    }

    /// Tries each free pair once, round-robin, calling `bind(rtp_port)` (which should bind
    /// both `rtp_port` and `rtp_port + 1`). The first `Some` marks the pair in use and is
    /// returned with its RTP port; `None` when every pair is in use or failed to bind.
    pub fn allocate<T>(&mut self, mut bind: impl FnMut(u16) -> Attempt<T>) -> Option<(u16, T)> {
        for i in 0..self.pairs {
            let index = (self.next + i) % self.pairs;
            if self.in_use.get(index).copied().unwrap_or(true) {
                continue;
            }
            let port = self.port_of(index);
            match bind(port) {
                Attempt::Bound(bound) => {
                    if let Some(slot) = self.in_use.get_mut(index) {
                        *slot = true;
                    }
                    self.used += 1;
                    self.next = (index + 1) % self.pairs;
                    return Some((port, bound));
                }
                Attempt::Busy => {}
                Attempt::Stop => return None,
            }
        }
        None
    }

    /// Frees the pair whose RTP port is `rtp_port` (unknown ports are ignored).
    pub fn release(&mut self, rtp_port: u16) {
        let Some(offset) = rtp_port.checked_sub(self.first) else {
            return;
        };
        if offset % 2 != 0 {
            return;
        }
        if let Some(slot) = self.in_use.get_mut(usize::from(offset / 2))
            && *slot
        {
            *slot = false;
            self.used -= 1;
        }
    }

    /// Pairs in use.
    pub fn in_use(&self) -> usize {
        self.used
    }

    /// Pairs in the range.
    pub fn capacity(&self) -> usize {
        self.pairs
    }
}

#[cfg(test)]
#[path = "ports_tests.rs"]
mod ports_tests;
