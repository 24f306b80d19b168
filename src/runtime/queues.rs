//! Serialized queues (Asterisk's distributor serializers): a fixed pool of tasks, each
//! owning one sans-IO [`Core`] and running the work the distributor gave it in order, with
//! that core's timers. Everything about one call happens on one queue, in sequence, without
//! a global lock; different calls run in parallel on the runtime's threads.
//!
//! Queues are bounded: when the chosen queue is full the work is handed back at once and the
//! caller answers as the transport calls for (503 with Retry-After on TCP/TLS/WS, silent drop
//! on UDP, where the peer retransmits).

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::core::Core;
use crate::sip::Message;
use crate::sorcery::Store;
use crate::transport::{Flow, Outbound};

/// One message for a queue.
#[derive(Debug)]
pub struct Work {
    /// Where it came from.
    pub flow: Flow,
    /// The message, parsed by the distributor.
    pub message: Message,
}

/// The pool.
#[derive(Clone)]
pub struct QueuePool {
    queues: Arc<Vec<mpsc::Sender<Work>>>,
}

impl QueuePool {
    /// Starts one task per core, each with a queue of `depth` messages; the tasks go into
    /// `tasks` and end when `stop` turns true or every sender is gone.
    pub fn start(
        cores: Vec<Core>,
        depth: usize,
        store: Arc<Store>,
        outbound: Outbound,
        stop: &watch::Receiver<bool>,
        tasks: &mut JoinSet<()>,
    ) -> Self {
        let queues = cores
            .into_iter()
            .map(|core| {
                let (tx, rx) = mpsc::channel(depth.max(1));
                tasks.spawn(run(core, rx, store.clone(), outbound.clone(), stop.clone()));
                tx
            })
            .collect();
        Self {
            queues: Arc::new(queues),
        }
    }

    /// Number of queues.
    pub fn len(&self) -> usize {
        self.queues.len()
    }

    /// True when there is no queue.
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// Queues `work` on queue `queue`, or hands it back when that queue is full (or gone).
    pub fn try_send(&self, queue: usize, work: Work) -> Result<(), Box<Work>> {
        match self.queues.get(queue) {
            Some(q) => q.try_send(work).map_err(|e| match e {
                mpsc::error::TrySendError::Full(w) | mpsc::error::TrySendError::Closed(w) => {
                    Box::new(w)
                }
            }),
            None => Err(Box::new(work)),
        }
    }
}

/// Messages handled between two looks at the timers and the stop signal.
const BATCH: usize = 64;

async fn run(
    mut core: Core,
    mut rx: mpsc::Receiver<Work>,
    store: Arc<Store>,
    outbound: Outbound,
    mut stop: watch::Receiver<bool>,
) {
    // One timer for the queue's life, moved when the core's next deadline moves: a fresh
    // timer per message would cost a timer-wheel insertion and removal each time.
    let far = || tokio::time::Instant::now() + std::time::Duration::from_secs(3600);
    let sleep = tokio::time::sleep_until(far());
    tokio::pin!(sleep);
    let mut armed: Option<Instant> = None;
    loop {
        let wake = core.poll_timeout();
        if wake != armed {
            sleep.as_mut().reset(wake.map_or_else(far, Into::into));
            armed = wake;
        }
        tokio::select! {
            work = rx.recv() => {
                let Some(mut work) = work else { break };
                let snapshot = store.snapshot();
                let unix_now = unix_now();
                for _ in 0..BATCH {
                    core.handle_message(Instant::now(), unix_now, &snapshot, work.flow, work.message);
                    while let Some(t) = core.poll_transmit() {
                        outbound.send(t);
                    }
                    match rx.try_recv() {
                        Ok(next) => work = next,
                        Err(_) => break,
                    }
                }
            }
            _ = &mut sleep, if armed.is_some() => {
                armed = None;
                core.handle_timeout(Instant::now());
            }
            _ = stop.changed() => break,
        }
        while let Some(t) = core.poll_transmit() {
            outbound.send(t);
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
