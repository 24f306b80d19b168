//! Unidentified requests counted per source address (Asterisk's distributor, reference
//! 4.5). When `auth_username` is an identifier, a first request without credentials is
//! expected to match nothing, so misses are not logged one by one: they are counted per IP,
//! and the security line is logged once `unidentified_request_count` of them arrive within
//! `unidentified_request_period` seconds. A request from that IP that is identified and
//! authenticated forgets its entry; entries older than twice the period are pruned.
//!
//! Shared by every queue (requests of one address carry many Call-IDs), behind one short
//! mutex; bounded so that a spoofed-source flood cannot grow it without limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Addresses tracked at most; beyond that the oldest entries are dropped first.
const CAPACITY: usize = 65_536;

#[derive(Clone, Copy, Debug)]
struct Entry {
    first_seen: Instant,
    count: u32,
    reported: bool,
}

/// What to log for one unidentified request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Report {
    /// Nothing yet (counted).
    Counted,
    /// The threshold was reached: log "after `tries` tries in `elapsed`".
    Threshold {
        /// Requests counted.
        tries: u32,
        /// Since the first one.
        elapsed: Duration,
    },
}

/// One row of `pjsip show unidentified_requests`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The source address.
    pub ip: IpAddr,
    /// Requests counted.
    pub count: u32,
    /// Since the first one.
    pub age: Duration,
}

/// The table.
#[derive(Debug, Default)]
pub struct Unidentified {
    entries: Mutex<HashMap<IpAddr, Entry>>,
    last_prune: Mutex<Option<Instant>>,
    /// True while the table may hold entries: every identified request calls
    /// [`Unidentified::forget`], which then skips the shared lock when there is nothing.
    used: AtomicBool,
}

impl Unidentified {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one unidentified request from `ip` at `now`; `count` and `period` are the
    /// `[global]` settings.
    pub fn record(&self, ip: IpAddr, now: Instant, count: u32, period: Duration) -> Report {
        let mut entries = self.lock();
        // Under the lock, as `forget` clears it: the flag never lags an insert.
        self.used.store(true, Ordering::Relaxed);
        if entries.len() >= CAPACITY && !entries.contains_key(&ip) {
            // Under a flood of sources: forget the oldest half rather than grow.
            let mut ages: Vec<(Instant, IpAddr)> =
                entries.iter().map(|(ip, e)| (e.first_seen, *ip)).collect();
            ages.sort_unstable();
            for (_, old) in ages.iter().take(CAPACITY / 2) {
                entries.remove(old);
            }
        }
        let entry = entries.entry(ip).or_insert(Entry {
            first_seen: now,
            count: 0,
            reported: false,
        });
        let elapsed = now.saturating_duration_since(entry.first_seen);
        if elapsed > period {
            // A new window: the old requests were too slow to count as a burst.
            *entry = Entry {
                first_seen: now,
                count: 0,
                reported: false,
            };
        }
        entry.count = entry.count.saturating_add(1);
        if !entry.reported && entry.count >= count.max(1) {
            entry.reported = true;
            return Report::Threshold {
                tries: entry.count,
                elapsed: now.saturating_duration_since(entry.first_seen),
            };
        }
        Report::Counted
    }

    /// `ip` identified and authenticated: its count is forgotten.
    pub fn forget(&self, ip: IpAddr) {
        if !self.used.load(Ordering::Relaxed) {
            return;
        }
        let mut entries = self.lock();
        entries.remove(&ip);
        if entries.is_empty() {
            self.used.store(false, Ordering::Relaxed);
        }
    }

    /// Prunes when `interval` has passed since the last prune
    /// (`unidentified_request_prune_interval`).
    pub fn prune_every(&self, now: Instant, interval: Duration, period: Duration) {
        let due = {
            let mut last = self
                .last_prune
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let due = last.is_none_or(|l| now.saturating_duration_since(l) >= interval);
            if due {
                *last = Some(now);
            }
            due
        };
        if due {
            self.prune(now, period);
        }
    }

    /// Drops entries first seen more than twice `period` before `now`.
    pub fn prune(&self, now: Instant, period: Duration) {
        let limit = period.saturating_mul(2);
        self.lock()
            .retain(|_, e| now.saturating_duration_since(e.first_seen) <= limit);
    }

    /// The entries, by address.
    pub fn rows(&self, now: Instant) -> Vec<Row> {
        let mut rows: Vec<Row> = self
            .lock()
            .iter()
            .map(|(ip, e)| Row {
                ip: *ip,
                count: e.count,
                age: now.saturating_duration_since(e.first_seen),
            })
            .collect();
        rows.sort_by_key(|r| r.ip);
        rows
    }
}

#[cfg(test)]
#[path = "unidentified_tests.rs"]
mod tests;
