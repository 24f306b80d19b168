//! Serialized task queues (Asterisk's distributor serializers): a fixed pool of queues, each
//! run by one task in order, so everything about one call happens in sequence without a
//! global lock, while different calls run in parallel.
//!
//! Queues are bounded: when the chosen queue is full the job is refused at once
//! ([`Overloaded`]) and counted, and the caller answers as the transport calls for (503 with
//! Retry-After on TCP/TLS, silent drop on UDP, where the peer retransmits).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Asterisk's pool size: a prime, so Call-ID hashes spread evenly.
pub const DEFAULT_QUEUES: usize = 31;
/// Jobs waiting per queue before new work is refused.
pub const DEFAULT_DEPTH: usize = 1024;

/// A unit of work: runs to completion on its queue's task.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// The chosen queue was full; the job was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("serializer queue {queue} is full")]
pub struct Overloaded {
    /// The queue that refused.
    pub queue: usize,
}

/// Counters, readable at any time (metrics, `pjsip show distributor`).
#[derive(Debug, Default)]
pub struct PoolStats {
    /// Jobs accepted.
    pub queued: AtomicU64,
    /// Jobs refused because their queue was full.
    pub refused: AtomicU64,
    /// Jobs run.
    pub completed: AtomicU64,
}

/// A fixed pool of serialized queues.
#[derive(Debug)]
pub struct SerializerPool {
    queues: Vec<mpsc::Sender<Job>>,
    stats: Arc<PoolStats>,
}

impl SerializerPool {
    /// Starts `queues` queues of `depth` jobs each on the current tokio runtime; their tasks
    /// go into `tasks` so shutdown can wait for them. They end when the pool is dropped and
    /// their queued jobs are done.
    pub fn start(queues: usize, depth: usize, tasks: &mut JoinSet<()>) -> Self {
        let stats = Arc::new(PoolStats::default());
        let senders = (0..queues.max(1))
            .map(|_| {
                let (tx, mut rx) = mpsc::channel::<Job>(depth.max(1));
                let stats = stats.clone();
                tasks.spawn(async move {
                    while let Some(job) = rx.recv().await {
                        job();
                        stats.completed.fetch_add(1, Ordering::Relaxed);
                    }
                });
                tx
            })
            .collect();
        Self {
            queues: senders,
            stats,
        }
    }

    /// Number of queues.
    pub fn len(&self) -> usize {
        self.queues.len()
    }

    /// True when the pool has no queue (never: at least one is made).
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// The counters.
    pub fn stats(&self) -> &PoolStats {
        &self.stats
    }

    /// The queue of a new out-of-dialog request: `djb2(Call-ID, From-tag) % queues`, as
    /// Asterisk's distributor picks it, so retransmissions and the rest of the call land on
    /// the same queue.
    pub fn queue_for(&self, call_id: &str, from_tag: &str) -> usize {
        let hash = djb2(call_id.bytes().chain(from_tag.bytes()));
        (hash % self.queues.len() as u64) as usize
    }

    /// Queues `job` on `queue` (taken modulo the pool size), or refuses it when that queue is
    /// full.
    pub fn submit(&self, queue: usize, job: Job) -> Result<(), Overloaded> {
        let queue = queue % self.queues.len();
        match self.queues[queue].try_send(job) {
            Ok(()) => {
                self.stats.queued.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(_) => {
                self.stats.refused.fetch_add(1, Ordering::Relaxed);
                Err(Overloaded { queue })
            }
        }
    }
}

/// Dan Bernstein's string hash (what Asterisk's `ast_str_hash` family uses).
fn djb2(bytes: impl Iterator<Item = u8>) -> u64 {
    bytes.fold(5381u64, |h, b| {
        h.wrapping_mul(33).wrapping_add(u64::from(b))
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn jobs_on_one_queue_run_in_order() {
        let mut tasks = JoinSet::new();
        let pool = SerializerPool::start(4, 100, &mut tasks);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let q = pool.queue_for("a84b4c76e66710@pc33", "1928301774");
        for i in 0..50 {
            let seen = seen.clone();
            let r = pool.submit(
                q,
                Box::new(move || seen.lock().unwrap_or_else(|p| p.into_inner()).push(i)),
            );
            assert_eq!(r, Ok(()));
        }
        drop(pool);
        let done = tokio::time::timeout(Duration::from_secs(5), async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        assert!(done.is_ok(), "queues did not drain");
        let seen = seen.lock().unwrap_or_else(|p| p.into_inner());
        assert_eq!(*seen, (0..50).collect::<Vec<_>>());
    }

    // Multi-threaded: the blocked job holds one worker while the test fills its queue.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_at_once_and_counts() {
        let mut tasks = JoinSet::new();
        let pool = SerializerPool::start(1, 2, &mut tasks);
        // Block the queue's task so nothing drains while we fill it.
        let (release, wait) = std::sync::mpsc::channel::<()>();
        assert!(
            pool.submit(
                0,
                Box::new(move || {
                    let _ = wait.recv_timeout(Duration::from_secs(5));
                })
            )
            .is_ok()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(pool.submit(0, Box::new(|| {})).is_ok());
        assert!(pool.submit(0, Box::new(|| {})).is_ok());
        assert_eq!(
            pool.submit(0, Box::new(|| {})),
            Err(Overloaded { queue: 0 })
        );
        assert_eq!(pool.stats().refused.load(Ordering::Relaxed), 1);
        let _ = release.send(());
        drop(pool);
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
    }

    #[test]
    fn call_ids_spread_over_the_queues_and_stick() {
        let mut counts = [0usize; DEFAULT_QUEUES];
        let rt = tokio::runtime::Builder::new_current_thread().build();
        let Ok(rt) = rt else { panic!("runtime") };
        rt.block_on(async {
            let mut tasks = JoinSet::new();
            let pool = SerializerPool::start(DEFAULT_QUEUES, 8, &mut tasks);
            for i in 0..3100 {
                let call_id = format!("{i:08x}-call@192.0.2.1");
                let q = pool.queue_for(&call_id, "tag");
                assert_eq!(q, pool.queue_for(&call_id, "tag"));
                counts[q] += 1;
            }
        });
        // Every queue gets a share; none more than three times the mean.
        assert!(counts.iter().all(|c| *c > 0 && *c < 300), "{counts:?}");
    }
}
