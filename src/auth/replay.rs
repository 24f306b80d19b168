//! Nonce-count replay protection (RFC 7616 section 3.3 / 5.2).
//!
//! [`NonceCounts`] remembers, per nonce, the highest `nc` accepted; credentials whose `nc`
//! is not above it are a replay. Memory is bounded: at most `capacity` entries (the
//! oldest inserted is evicted first), and an entry expires with its nonce, at an instant
//! the caller passes in (unix seconds; this module reads no clock). Nonces are stored as a
//! 128-bit SHA-256 fingerprint, so an entry costs a few dozen bytes whatever the nonce
//! length.
//!
//! Limits, by design: an entry evicted under a flood, or lost at a restart, lets a
//! captured credentials be replayed until its nonce goes stale (`nonce_lifetime`,
//! 32 s by default).

use std::collections::{HashMap, VecDeque};

use sha2::{Digest, Sha256};

/// Default bound on the number of nonces tracked.
pub const DEFAULT_CAPACITY: usize = 100_000;

type Fingerprint = [u8; 16];

#[derive(Clone, Copy, Debug)]
struct Entry {
    highest_nc: u32,
    expires_at: u64,
    seq: u64,
}

/// The verdict of [`NonceCounts::record`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NcCheck {
    /// `nc` is above every count seen for this nonce; it is now the highest.
    Fresh,
    /// `nc` was already used (or is 0): reject.
    Replay,
}

/// Highest nonce count seen per nonce, bounded.
pub struct NonceCounts {
    capacity: usize,
    entries: HashMap<Fingerprint, Entry>,
    /// Insertion order: (fingerprint, seq of the entry it was pushed for).
    order: VecDeque<(Fingerprint, u64)>,
    next_seq: u64,
}

impl std::fmt::Debug for NonceCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Up to `capacity` entries: print the size only.
        f.debug_struct("NonceCounts")
            .field("len", &self.entries.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl Default for NonceCounts {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl NonceCounts {
    /// Tracks at most `capacity` nonces (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            order: VecDeque::new(),
            next_seq: 0,
        }
    }

    /// Number of nonces tracked.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no nonce is tracked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The bound on tracked nonces.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Records `nc` for `nonce` if it is above the highest seen; `expires_at` (unix
    /// seconds) is when the nonce stops being accepted anyway, after which its entry may
    /// be dropped. Call only after the credentials verified, so that bad guesses cannot
    /// burn counts.
    pub fn record(&mut self, nonce: &str, nc: u32, now: u64, expires_at: u64) -> NcCheck {
        if nc == 0 {
            return NcCheck::Replay;
        }
        self.prune(now);
        let fp = fingerprint(nonce);
        if let Some(e) = self.entries.get_mut(&fp) {
            let live = e.expires_at > now;
            if live && nc <= e.highest_nc {
                return NcCheck::Replay;
            }
            e.highest_nc = nc;
            // An expired entry not yet pruned starts over.
            e.expires_at = if live {
                e.expires_at.max(expires_at)
            } else {
                expires_at
            };
            return NcCheck::Fresh;
        }
        while self.entries.len() >= self.capacity {
            if !self.evict_oldest() {
                break;
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.entries.insert(
            fp,
            Entry {
                highest_nc: nc,
                expires_at,
                seq,
            },
        );
        self.order.push_back((fp, seq));
        NcCheck::Fresh
    }

    /// Drops entries at the front of the insertion order whose nonce has expired.
    pub fn prune(&mut self, now: u64) {
        while let Some(&(fp, seq)) = self.order.front() {
            match self.entries.get(&fp) {
                Some(e) if e.seq == seq && e.expires_at > now => break,
                Some(e) if e.seq == seq => {
                    self.entries.remove(&fp);
                    self.order.pop_front();
                }
                _ => {
                    self.order.pop_front();
                }
            }
        }
    }

    fn evict_oldest(&mut self) -> bool {
        while let Some((fp, seq)) = self.order.pop_front() {
            if self.entries.get(&fp).is_some_and(|e| e.seq == seq) {
                self.entries.remove(&fp);
                return true;
            }
        }
        false
    }
}

fn fingerprint(nonce: &str) -> Fingerprint {
    let d = Sha256::digest(nonce.as_bytes());
    let mut fp = [0u8; 16];
    fp.copy_from_slice(&d[..16]);
    fp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_use_is_fresh() {
        let mut c = NonceCounts::default();
        assert_eq!(c.record("n", 1, 0, 32), NcCheck::Fresh);
    }

    #[test]
    fn repeated_nc_is_a_replay() {
        let mut c = NonceCounts::default();
        c.record("n", 1, 0, 32);
        assert_eq!(c.record("n", 1, 1, 32), NcCheck::Replay);
    }

    #[test]
    fn lower_nc_is_a_replay() {
        let mut c = NonceCounts::default();
        c.record("n", 5, 0, 32);
        assert_eq!(c.record("n", 3, 1, 32), NcCheck::Replay);
    }

    #[test]
    fn increasing_nc_is_fresh() {
        let mut c = NonceCounts::default();
        for nc in 1..=5 {
            assert_eq!(c.record("n", nc, 0, 32), NcCheck::Fresh);
        }
        // Gaps are allowed (requests may be lost or reordered forward).
        assert_eq!(c.record("n", 9, 0, 32), NcCheck::Fresh);
    }

    #[test]
    fn zero_nc_is_rejected() {
        let mut c = NonceCounts::default();
        assert_eq!(c.record("n", 0, 0, 32), NcCheck::Replay);
    }

    #[test]
    fn nonces_are_tracked_separately() {
        let mut c = NonceCounts::default();
        c.record("a", 1, 0, 32);
        assert_eq!(c.record("b", 1, 0, 32), NcCheck::Fresh);
    }

    #[test]
    fn capacity_bounds_memory_and_evicts_oldest() {
        let mut c = NonceCounts::new(3);
        for n in ["a", "b", "c", "d"] {
            c.record(n, 1, 0, 1000);
        }
        assert_eq!(c.len(), 3);
        // "a" was evicted, so its count is forgotten; "d" is remembered.
        assert_eq!(c.record("d", 1, 0, 1000), NcCheck::Replay);
        assert_eq!(c.record("a", 1, 0, 1000), NcCheck::Fresh);
        assert_eq!(c.len(), 3);
        assert!(c.order.len() <= 3);
    }

    #[test]
    fn flood_stays_bounded() {
        let mut c = NonceCounts::new(100);
        for i in 0..10_000u32 {
            c.record(&i.to_string(), 1, 0, 1000);
        }
        assert_eq!(c.len(), 100);
        assert!(c.order.len() <= 100);
    }

    #[test]
    fn expired_entries_are_pruned() {
        let mut c = NonceCounts::default();
        c.record("a", 1, 0, 32);
        c.record("b", 1, 10, 42);
        c.prune(33);
        assert_eq!(c.len(), 1);
        c.prune(42);
        assert!(c.is_empty());
    }
}
