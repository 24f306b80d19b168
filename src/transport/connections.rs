//! The live TCP/TLS/WebSocket connections: each one's writer queue, found by id (answers go
//! back over the connection their request came on) or by peer address (a request to a
//! contact that registered over a connection reuses it), and counted per transport for
//! `pjsip show transports`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::flow::ConnectionId;

struct Entry {
    transport: Arc<str>,
    remote: SocketAddr,
    writer: mpsc::Sender<Bytes>,
}

#[derive(Default)]
struct Inner {
    by_id: HashMap<ConnectionId, Entry>,
    by_remote: HashMap<(Arc<str>, SocketAddr), ConnectionId>,
    per_transport: HashMap<Arc<str>, usize>,
}

/// Called with the id of each connection that closes.
pub type CloseHook = Box<dyn Fn(ConnectionId) + Send + Sync>;

/// The registry. Cheap to clone.
#[derive(Clone, Default)]
pub struct Connections {
    inner: Arc<Mutex<Inner>>,
    next: Arc<AtomicU64>,
    /// Told of every closed connection (the location service drops the contacts that
    /// lived on it).
    on_close: Arc<std::sync::OnceLock<CloseHook>>,
}

/// Why a message could not be handed to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No connection to that peer any more.
    #[error("no connection")]
    Gone,
    /// The peer does not read: its writer queue is full.
    #[error("connection backlog full")]
    Backlog,
}

/// Removes its connection from the registry when dropped (the connection task ended).
pub struct Registration {
    registry: Connections,
    id: ConnectionId,
}

impl Registration {
    /// The connection's id.
    pub fn id(&self) -> ConnectionId {
        self.id
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.remove(self.id);
    }
}

impl Connections {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a new connection of `transport` with `remote`, unless `limit` connections
    /// are open already.
    pub fn register(
        &self,
        transport: Arc<str>,
        remote: SocketAddr,
        writer: mpsc::Sender<Bytes>,
        limit: usize,
    ) -> Option<Registration> {
        let mut inner = self.lock();
        if inner.by_id.len() >= limit {
            return None;
        }
        let id = ConnectionId(self.next.fetch_add(1, Ordering::Relaxed) + 1);
        inner.by_remote.insert((transport.clone(), remote), id);
        *inner.per_transport.entry(transport.clone()).or_default() += 1;
        inner.by_id.insert(
            id,
            Entry {
                transport,
                remote,
                writer,
            },
        );
        Some(Registration {
            registry: self.clone(),
            id,
        })
    }

    fn remove(&self, id: ConnectionId) {
        let mut inner = self.lock();
        let Some(entry) = inner.by_id.remove(&id) else {
            return;
        };
        let key = (entry.transport.clone(), entry.remote);
        if inner.by_remote.get(&key) == Some(&id) {
            inner.by_remote.remove(&key);
        }
        if let Some(n) = inner.per_transport.get_mut(&entry.transport) {
            *n = n.saturating_sub(1);
        }
        drop(inner);
        if let Some(hook) = self.on_close.get() {
            hook(id);
        }
    }

    /// Calls `hook` with the id of every connection that closes from now on (set once).
    pub fn on_close(&self, hook: CloseHook) {
        let _ = self.on_close.set(hook);
    }

    /// Hands `bytes` to connection `id`, or when it is gone to another live connection of
    /// the same transport with the same peer.
    pub fn send(
        &self,
        id: Option<ConnectionId>,
        transport: &Arc<str>,
        remote: SocketAddr,
        bytes: Bytes,
    ) -> Result<(), SendError> {
        let writer = {
            let inner = self.lock();
            let entry = id.and_then(|id| inner.by_id.get(&id)).or_else(|| {
                inner
                    .by_remote
                    .get(&(transport.clone(), remote))
                    .and_then(|id| inner.by_id.get(id))
            });
            entry.map(|e| e.writer.clone()).ok_or(SendError::Gone)?
        };
        writer.try_send(bytes).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SendError::Backlog,
            mpsc::error::TrySendError::Closed(_) => SendError::Gone,
        })
    }

    /// The live connection to `remote` over `transport`, if any.
    pub fn find(&self, transport: &Arc<str>, remote: SocketAddr) -> Option<ConnectionId> {
        self.lock()
            .by_remote
            .get(&(transport.clone(), remote))
            .copied()
    }

    /// Open connections of `transport`.
    pub fn count(&self, transport: &str) -> usize {
        self.lock()
            .per_transport
            .get(transport)
            .copied()
            .unwrap_or(0)
    }

    /// Open connections in all.
    pub fn total(&self) -> usize {
        self.lock().by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn registration_counts_finds_and_forgets_on_drop() {
        let c = Connections::default();
        let t: Arc<str> = Arc::from("tcp");
        let (tx, mut rx) = mpsc::channel(4);
        let reg = c.register(t.clone(), addr(1), tx, 10).expect("registered");
        assert_eq!(c.count("tcp"), 1);
        assert_eq!(c.find(&t, addr(1)), Some(reg.id()));
        // An id that is gone falls back to the peer's live connection.
        c.send(
            Some(ConnectionId(999)),
            &t,
            addr(1),
            Bytes::from_static(b"x"),
        )
        .expect("sent");
        assert_eq!(rx.try_recv().ok(), Some(Bytes::from_static(b"x")));
        drop(reg);
        assert_eq!(c.count("tcp"), 0);
        assert_eq!(
            c.send(None, &t, addr(1), Bytes::new()),
            Err(SendError::Gone)
        );
    }

    #[test]
    fn the_limit_refuses_new_connections_and_a_full_backlog_is_reported() {
        let c = Connections::default();
        let t: Arc<str> = Arc::from("tcp");
        let (tx, _rx) = mpsc::channel(1);
        let reg = c
            .register(t.clone(), addr(1), tx.clone(), 1)
            .expect("first");
        assert!(c.register(t.clone(), addr(2), tx, 1).is_none());
        c.send(Some(reg.id()), &t, addr(1), Bytes::new())
            .expect("fits");
        assert_eq!(
            c.send(Some(reg.id()), &t, addr(1), Bytes::new()),
            Err(SendError::Backlog)
        );
    }
}
