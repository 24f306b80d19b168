//! The location service: every AOR's registered contacts (bindings) with their expiry and
//! qualify status, shared by the serialized queues.
//!
//! AORs are spread over shards, each behind its own short-held mutex: a REGISTER locks only
//! its AOR's shard for the time it takes to apply its Contact headers (Asterisk's named lock
//! per AOR), so registrations for different AORs never wait on each other and there is no
//! global lock. Every change is also handed to the contact database ([`persist`]) through a
//! channel, written behind by its own thread.
//!
//! Sans-IO: time comes in as Unix seconds; nothing here touches a socket or a file.

mod binding;
pub mod persist;

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

pub use binding::{Binding, Change, ContactHash};

use crate::transport::ConnectionId;

/// Shards: enough that 31 queues rarely meet on one.
const SHARDS: usize = 64;

/// A contact's qualify status (Asterisk's contact_status).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Qualify is on but no answer is known yet.
    Unknown,
    /// Answers OPTIONS.
    Reachable,
    /// Does not answer OPTIONS.
    Unreachable,
    /// Qualify is off for its AOR.
    NonQualified,
}

impl Status {
    /// Asterisk's long label (`ContactStatus` events, logs).
    pub fn label(self) -> &'static str {
        match self {
            Status::Unknown => "Unknown",
            Status::Reachable => "Reachable",
            Status::Unreachable => "Unreachable",
            Status::NonQualified => "NonQualified",
        }
    }

    /// The short form `pjsip show contacts` prints.
    pub fn short(self) -> &'static str {
        match self {
            Status::Unknown => "Unknown",
            Status::Reachable => "Avail",
            Status::Unreachable => "Unavail",
            Status::NonQualified => "NonQual",
        }
    }
}

/// A binding and its status.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The binding.
    pub binding: Binding,
    /// Qualify status.
    pub status: Status,
    /// Round-trip time of the last answered qualify.
    pub rtt: Option<Duration>,
}

impl Entry {
    /// A new binding, status `Unknown` when its AOR qualifies, else `NonQualified`.
    pub fn new(binding: Binding, qualified: bool) -> Self {
        Self {
            binding,
            status: if qualified {
                Status::Unknown
            } else {
                Status::NonQualified
            },
            rtt: None,
        }
    }
}

type StaticStatuses = HashMap<(String, ContactHash), (Status, Option<Duration>)>;

#[derive(Default)]
struct Shard {
    aors: HashMap<String, Vec<Entry>>,
}

/// Why a binding went away (Asterisk's log wording).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removal {
    /// Its time ran out.
    Expiration,
    /// Its connection closed.
    ConnectionClosed,
    /// Its AOR or endpoint left the configuration.
    Configuration,
}

impl Removal {
    fn text(self) -> &'static str {
        match self {
            Removal::Expiration => "expiration",
            Removal::ConnectionClosed => "connection closed",
            Removal::Configuration => "configuration change",
        }
    }
}

/// The location service.
pub struct Location {
    shards: Box<[Mutex<Shard>]>,
    /// Qualify status of static (`contact=`) contacts.
    statics: Mutex<StaticStatuses>,
    sink: OnceLock<Sender<Change>>,
    seed: u64,
    /// Changes handed to the database.
    queued: AtomicU64,
    /// Bindings now held.
    count: AtomicU64,
}

impl Default for Location {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Location")
            .field("bindings", &self.len())
            .finish()
    }
}

impl Location {
    /// An empty service that persists nothing (until [`Location::persist_to`]).
    pub fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            statics: Mutex::default(),
            sink: OnceLock::new(),
            seed: 0x9e37_79b9_7f4a_7c15,
            queued: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Hands every later change to `sink` (the contact database's writer).
    pub fn persist_to(&self, sink: Sender<Change>) {
        let _ = self.sink.set(sink);
    }

    /// Changes handed to the database so far.
    pub fn queued_changes(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }

    /// Bindings held.
    pub fn len(&self) -> usize {
        usize::try_from(self.count.load(Ordering::Relaxed)).unwrap_or(usize::MAX)
    }

    /// True when no binding is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, aor: &str) -> MutexGuard<'_, Shard> {
        let mut h = foldhash::fast::FixedState::with_seed(self.seed).build_hasher();
        h.write(aor.as_bytes());
        let i = usize::try_from(h.finish() % SHARDS as u64).unwrap_or(0);
        self.shards
            .get(i)
            .unwrap_or(&self.shards[0])
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn shards(&self) -> impl Iterator<Item = MutexGuard<'_, Shard>> {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn emit(&self, changes: Vec<Change>) {
        if let Some(sink) = self.sink.get() {
            for c in changes {
                if sink.send(c).is_ok() {
                    self.queued.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Runs `f` on an AOR's bindings with the AOR locked (a REGISTER's whole update). `f`
    /// records in its second argument what it changed, for the database; expired bindings
    /// are removed (and recorded) before `f` sees the list.
    pub fn update_aor<R>(
        &self,
        aor: &str,
        unix_now: u64,
        f: impl FnOnce(&mut Vec<Entry>, &mut Vec<Change>) -> R,
    ) -> R {
        let mut changes = Vec::new();
        let result;
        let delta;
        {
            let mut shard = self.shard(aor);
            let entries = shard.aors.entry(aor.to_string()).or_default();
            let before = entries.len();
            prune_expired(entries, unix_now, &mut changes);
            result = f(entries, &mut changes);
            delta = entries.len() as i64 - before as i64;
            if entries.is_empty() {
                shard.aors.remove(aor);
            }
            // Queued under the lock: two updates of one AOR reach the database in the
            // order they were made.
            self.emit(changes);
        }
        self.adjust(delta);
        result
    }

    fn adjust(&self, delta: i64) {
        if delta >= 0 {
            self.count
                .fetch_add(delta.unsigned_abs(), Ordering::Relaxed);
        } else {
            self.count
                .fetch_sub(delta.unsigned_abs(), Ordering::Relaxed);
        }
    }

    /// The unexpired bindings of an AOR, in registration order.
    pub fn contacts(&self, aor: &str, unix_now: u64) -> Vec<Entry> {
        self.shard(aor)
            .aors
            .get(aor)
            .map(|list| {
                list.iter()
                    .filter(|e| !e.binding.expired(unix_now))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every unexpired binding, sorted by AOR then URI.
    pub fn all(&self, unix_now: u64) -> Vec<Entry> {
        let mut out: Vec<Entry> = Vec::with_capacity(self.len());
        for shard in self.shards() {
            for list in shard.aors.values() {
                out.extend(
                    list.iter()
                        .filter(|e| !e.binding.expired(unix_now))
                        .cloned(),
                );
            }
        }
        out.sort_by(|a, b| {
            (a.binding.aor.as_str(), a.binding.uri.as_str())
                .cmp(&(b.binding.aor.as_str(), b.binding.uri.as_str()))
        });
        out
    }

    /// Removes the bindings matching `which` from every AOR; returns them.
    fn remove_where(&self, why: Removal, which: impl Fn(&Binding) -> bool) -> Vec<Binding> {
        let mut removed = Vec::new();
        for mut shard in self.shards() {
            let mut changes = Vec::new();
            shard.aors.retain(|_, list| {
                list.retain(|e| {
                    if which(&e.binding) {
                        changes.push(Change::Delete {
                            aor: e.binding.aor.clone(),
                            hash: e.binding.hash.clone(),
                        });
                        removed.push(e.binding.clone());
                        false
                    } else {
                        true
                    }
                });
                !list.is_empty()
            });
            // Under the shard's lock, as in update_aor.
            self.emit(changes);
        }
        self.adjust(-(removed.len() as i64));
        for b in &removed {
            tracing::info!(
                "Removed contact '{}' from AOR '{}' due to {}",
                b.uri,
                b.aor,
                why.text()
            );
        }
        removed
    }

    /// Removes expired bindings (the periodic sweep).
    pub fn sweep(&self, unix_now: u64) -> Vec<Binding> {
        self.remove_where(Removal::Expiration, |b| b.expired(unix_now))
    }

    /// Removes the bindings that live on a connection that just closed.
    pub fn connection_closed(&self, connection: ConnectionId) -> Vec<Binding> {
        self.remove_where(Removal::ConnectionClosed, |b| {
            b.prune_on_boot && b.connection == Some(connection)
        })
    }

    /// Removes the bindings whose AOR `keep` refuses (an AOR or endpoint deleted from the
    /// configuration).
    pub fn retain_aors(&self, keep: impl Fn(&Binding) -> bool) -> Vec<Binding> {
        self.remove_where(Removal::Configuration, |b| !keep(b))
    }

    /// Puts bindings read from the database back (at start-up; nothing is written back).
    pub fn restore(
        &self,
        bindings: impl IntoIterator<Item = Binding>,
        qualified: impl Fn(&str) -> bool,
    ) {
        let mut n = 0i64;
        for b in bindings {
            let q = qualified(&b.aor);
            let mut shard = self.shard(&b.aor);
            let list = shard.aors.entry(b.aor.clone()).or_default();
            if let Some(old) = list.iter_mut().find(|e| e.binding.hash == b.hash) {
                *old = Entry::new(b, q);
            } else {
                list.push(Entry::new(b, q));
                n += 1;
            }
        }
        self.adjust(n);
    }

    /// A registered contact's status.
    pub fn contacts_status(&self, aor: &str, hash: &ContactHash) -> Option<Status> {
        self.shard(aor)
            .aors
            .get(aor)?
            .iter()
            .find(|e| &e.binding.hash == hash)
            .map(|e| e.status)
    }

    /// A static contact's status and round-trip time, once qualified.
    pub fn static_status(
        &self,
        aor: &str,
        hash: &ContactHash,
    ) -> Option<(Status, Option<Duration>)> {
        self.statics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(aor.to_string(), hash.clone()))
            .copied()
    }

    /// Records a static contact's qualify result.
    pub fn set_static_status(
        &self,
        aor: &str,
        hash: &ContactHash,
        status: Status,
        rtt: Option<Duration>,
    ) {
        self.statics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((aor.to_string(), hash.clone()), (status, rtt));
    }

    /// Forgets the statuses of static contacts `keep` refuses (gone from the
    /// configuration, or no longer qualified), so that a contact configured again starts
    /// from Unknown.
    pub fn retain_static(&self, keep: impl Fn(&str, &ContactHash) -> bool) {
        self.statics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(aor, hash), _| keep(aor, hash));
    }

    /// Every qualified static contact: (AOR, hash, status, rtt).
    pub fn static_statuses(&self) -> Vec<(String, ContactHash, Status, Option<Duration>)> {
        self.statics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|((a, h), (s, r))| (a.clone(), h.clone(), *s, *r))
            .collect()
    }

    /// Records a qualify result; returns the previous status when the binding exists.
    pub fn set_status(
        &self,
        aor: &str,
        hash: &ContactHash,
        status: Status,
        rtt: Option<Duration>,
    ) -> Option<Status> {
        let mut shard = self.shard(aor);
        let e = shard
            .aors
            .get_mut(aor)?
            .iter_mut()
            .find(|e| &e.binding.hash == hash)?;
        let old = e.status;
        e.status = status;
        e.rtt = rtt;
        Some(old)
    }
}

/// Removes the expired entries of one AOR, recording the deletions.
fn prune_expired(entries: &mut Vec<Entry>, unix_now: u64, changes: &mut Vec<Change>) {
    entries.retain(|e| {
        if e.binding.expired(unix_now) {
            tracing::info!(
                "Removed contact '{}' from AOR '{}' due to expiration",
                e.binding.uri,
                e.binding.aor
            );
            changes.push(Change::Delete {
                aor: e.binding.aor.clone(),
                hash: e.binding.hash.clone(),
            });
            false
        } else {
            true
        }
    });
}

#[cfg(test)]
mod tests;
