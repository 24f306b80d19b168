//! Serialized queues (Asterisk's distributor serializers): a fixed pool of tasks, each
//! owning one sans-IO [`Core`] and running the work the distributor gave it in order, with
//! that core's timers. Everything about one call happens on one queue, in sequence, without
//! a global lock; different calls run in parallel on the queue threads ([`super::threads`]).
//!
//! Queues are bounded: when the chosen queue is full the work is handed back at once and the
//! caller answers as the transport calls for (503 with Retry-After on TCP/TLS/WS, silent drop
//! on UDP, where the peer retransmits).

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::core::{Command, Core};
use crate::distributor::{Distributor, Route};
use crate::media::MediaEvent;
use crate::pbx::{ChannelInfo, ChannelListing, Pbx, PbxCommand};
use crate::session::SessionEvent;
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
    /// Already through [`Distributor::admit`] (passed on by another queue); else the queue
    /// admits it before its core sees it.
    pub admitted: bool,
    /// When the receiving thread handed it on: how long it waited decides whether a queue
    /// still takes new calls ([`Core::set_queue_wait`]).
    pub received: Instant,
}

/// What a queue is given: a message, or an operator's command with where to answer.
/// Messages are the hot path and stay unboxed; commands are rare.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Job {
    Message(Work),
    Command(Command, std::sync::mpsc::Sender<usize>),
    Pbx(PbxCommand, std::sync::mpsc::Sender<usize>),
    Channels(std::sync::mpsc::Sender<Vec<ChannelInfo>>),
    Media(MediaEvent),
}

/// How deep the queues are and how many threads they run on.
#[derive(Clone, Copy, Debug)]
pub struct Sizing {
    /// Messages waiting per queue.
    pub depth: usize,
    /// Queue threads.
    pub threads: usize,
}

/// The pool.
#[derive(Clone)]
pub struct QueuePool {
    queues: Arc<Vec<mpsc::Sender<Job>>>,
    /// Turns true once every queue task has ended (after its shutdown work).
    finished: watch::Receiver<bool>,
}

impl QueuePool {
    /// Starts one task per core, each with a queue of `sizing.depth` messages, spread
    /// over `sizing.threads` queue threads ([`super::threads`]; `0`: on the caller's
    /// runtime); the tasks go into `tasks` and end when `stop` turns true or every sender
    /// is gone.
    pub fn start(
        cores: Vec<(Core, Option<Pbx>)>,
        sizing: Sizing,
        store: Arc<Store>,
        outbound: Outbound,
        distributor: Arc<Distributor>,
        stop: &watch::Receiver<bool>,
        tasks: &mut JoinSet<()>,
    ) -> Self {
        let (finished_tx, finished) = watch::channel(false);
        let finished_tx = Arc::new(finished_tx);
        let running = Arc::new(std::sync::atomic::AtomicUsize::new(cores.len()));
        if cores.is_empty() {
            finished_tx.send_replace(true);
        }
        let (senders, receivers): (Vec<_>, Vec<_>) = cores
            .iter()
            .map(|_| mpsc::channel(sizing.depth.max(1)))
            .unzip();
        let pool = Self {
            queues: Arc::new(senders),
            finished,
        };
        let handles = super::threads::start(sizing.threads.min(cores.len()), &pool.finished);
        for (index, ((core, pbx), rx)) in cores.into_iter().zip(receivers).enumerate() {
            let (running, finished_tx) = (running.clone(), finished_tx.clone());
            let admission = Admission {
                index,
                distributor: distributor.clone(),
                // Weak: a queue holding its own sender would never see its channel close.
                senders: Arc::downgrade(&pool.queues),
                outbound: outbound.clone(),
            };
            let work = run(core, pbx, rx, store.clone(), admission, stop.clone());
            let task = async move {
                work.await;
                if running.fetch_sub(1, std::sync::atomic::Ordering::AcqRel) == 1 {
                    finished_tx.send_replace(true);
                }
            };
            match handles.get(index % handles.len().max(1)) {
                Some(h) => tasks.spawn_on(task, h),
                None => tasks.spawn(task),
            };
        }
        pool
    }

    /// Turns true once every queue has ended, after the stop signal and the queues'
    /// shutdown work (un-REGISTERs): receiving must go on until then, or the answers to
    /// that work would never arrive.
    pub fn finished(&self) -> watch::Receiver<bool> {
        self.finished.clone()
    }

    /// Number of queues.
    pub fn len(&self) -> usize {
        self.queues.len()
    }

    /// True when there is no queue.
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// Carries out the distributor's [`Distributor::pick`] for a received message: queued
    /// (refused by a full queue: the distributor's overload answer), answered or dropped.
    pub fn deliver(&self, distributor: &Distributor, outbound: &Outbound, route: Route) {
        deliver(
            &self.queues,
            distributor,
            outbound,
            route,
            None,
            Instant::now(),
        );
    }

    /// Hands a media event to the queue whose leg it concerns (dropped when that queue is
    /// full: a DTMF digit or end of playback is not worth blocking the media thread).
    pub fn media_event(&self, queue: usize, event: MediaEvent) {
        if let Some(q) = self.queues.get(queue) {
            let _ = q.try_send(Job::Media(event));
        }
    }

    /// Gives a channel command to queue `queue` and waits (at most `wait`) for how many
    /// channels it applied to.
    pub fn pbx_command_blocking(
        &self,
        queue: usize,
        command: PbxCommand,
        wait: std::time::Duration,
    ) -> Option<usize> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.queues
            .get(queue)?
            .try_send(Job::Pbx(command, tx))
            .ok()?;
        rx.recv_timeout(wait).ok()
    }

    /// Every queue's channels, as the CLI shows them, by name; waits (at most `wait` in
    /// all, on a blocking thread) for the queues to answer.
    pub fn channels_blocking(&self, wait: std::time::Duration) -> ChannelListing {
        let deadline = Instant::now() + wait;
        // Asked of all at once: the wait is the slowest queue's, not the sum.
        let asked: Vec<_> = self
            .queues
            .iter()
            .map(|q| {
                let (tx, rx) = std::sync::mpsc::channel();
                q.try_send(Job::Channels(tx)).ok().map(|()| rx)
            })
            .collect();
        let mut listing = ChannelListing::default();
        for rx in asked {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.map(|rx| rx.recv_timeout(left)) {
                Some(Ok(mut infos)) => listing.channels.append(&mut infos),
                _ => listing.unanswered += 1,
            }
        }
        listing
            .channels
            .sort_unstable_by(|a, b| a.name.cmp(&b.name));
        listing
    }

    /// Gives `command` to queue `queue` and waits (at most `wait`, on a blocking thread)
    /// for its answer: how many objects it applied to. `None` when the queue is gone,
    /// full or did not answer in time.
    pub fn command_blocking(
        &self,
        queue: usize,
        command: Command,
        wait: std::time::Duration,
    ) -> Option<usize> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.queues
            .get(queue)?
            .try_send(Job::Command(command, tx))
            .ok()?;
        rx.recv_timeout(wait).ok()
    }
}

/// What a queue needs to admit the messages the receiving threads only parsed
/// ([`Distributor::admit`]).
struct Admission {
    index: usize,
    distributor: Arc<Distributor>,
    senders: std::sync::Weak<Vec<mpsc::Sender<Job>>>,
    outbound: Outbound,
}

impl Admission {
    /// The work for this queue's core, once validated; stateless answers are sent, and
    /// work that belongs to another queue is passed on (or, that queue being full, handled
    /// as the distributor handles overload).
    fn admit(&self, work: Work) -> Option<Work> {
        if work.admitted {
            return Some(work);
        }
        match self.distributor.admit(work.flow, work.message) {
            Route::Queue {
                queue,
                flow,
                message,
            } if queue == self.index => Some(Work {
                flow,
                message,
                admitted: true,
                received: work.received,
            }),
            // An answer, or another queue's work (rare): only then the shared senders are
            // touched (their reference count is one cache line for every queue thread).
            route => {
                let senders = self.senders.upgrade();
                deliver(
                    senders.as_deref().map_or(&[], Vec::as_slice),
                    &self.distributor,
                    &self.outbound,
                    route,
                    Some(self.index),
                    work.received,
                )
            }
        }
    }
}

/// Carries out a decision of the distributor: work for queue `own` is handed back, other
/// work goes to its queue (a full one refuses it, and the distributor says what to
/// answer), stateless answers are sent. Work from [`Distributor::pick`] (`own` is `None`)
/// still needs its queue's admission; work from [`Distributor::admit`] does not.
fn deliver(
    senders: &[mpsc::Sender<Job>],
    distributor: &Distributor,
    outbound: &Outbound,
    route: Route,
    own: Option<usize>,
    received: Instant,
) -> Option<Work> {
    match route {
        Route::Queue {
            queue,
            flow,
            message,
        } => {
            let work = Work {
                flow,
                message,
                admitted: own.is_some(),
                received,
            };
            if own == Some(queue) {
                return Some(work);
            }
            let refused = match senders.get(queue) {
                Some(q) => q.try_send(Job::Message(work)).err().map(|e| e.into_inner()),
                None => Some(Job::Message(work)),
            };
            if let Some(Job::Message(w)) = refused
                && let Some(t) = distributor.overloaded(&w.flow, &w.message)
            {
                outbound.send(t);
            }
            None
        }
        Route::Reply(t) => {
            outbound.send(t);
            None
        }
        Route::Dropped(_) => None,
    }
}

/// Messages handled between two looks at the timers and the stop signal.
const BATCH: usize = 64;

async fn run(
    mut core: Core,
    mut pbx: Option<Pbx>,
    mut rx: mpsc::Receiver<Job>,
    store: Arc<Store>,
    admission: Admission,
    mut stop: watch::Receiver<bool>,
) {
    let outbound = admission.outbound.clone();
    // One timer for the queue's life, moved when the core's next deadline moves: a fresh
    // timer per message would cost a timer-wheel insertion and removal each time.
    let far = || tokio::time::Instant::now() + std::time::Duration::from_secs(3600);
    let sleep = tokio::time::sleep_until(far());
    tokio::pin!(sleep);
    let mut armed: Option<Instant> = None;
    // Usages (outbound registration, qualify) look at the configuration at least once a
    // second, so a registration starts without waiting for traffic.
    let mut usages = tokio::time::interval(std::time::Duration::from_secs(1));
    usages.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let wake = [
            core.poll_timeout(),
            pbx.as_ref().and_then(Pbx::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .min();
        if wake != armed {
            sleep.as_mut().reset(wake.map_or_else(far, Into::into));
            armed = wake;
        }
        tokio::select! {
            job = rx.recv() => {
                let Some(mut job) = job else { break };
                let snapshot = store.snapshot();
                let unix_now = unix_now();
                if let Some(p) = pbx.as_mut() {
                    p.set_unix_now(unix_now);
                }
                for handled in 1..=BATCH {
                    match job {
                        Job::Message(work) => {
                            if let Some(work) = admission.admit(work) {
                                let now = Instant::now();
                                core.set_queue_wait(now.saturating_duration_since(work.received));
                                core.handle_message(
                                    now,
                                    unix_now,
                                    &snapshot,
                                    work.flow,
                                    work.message,
                                );
                            }
                        }
                        Job::Command(command, reply) => {
                            let n = core.command(Instant::now(), unix_now, &command);
                            let _ = reply.send(n);
                        }
                        Job::Pbx(command, reply) => {
                            let n = match pbx.as_mut() {
                                Some(p) => p.command(Instant::now(), &mut core, &snapshot, &command),
                                None => 0,
                            };
                            let _ = reply.send(n);
                        }
                        Job::Channels(reply) => {
                            let _ = reply.send(pbx.as_ref().map(Pbx::infos).unwrap_or_default());
                        }
                        Job::Media(event) => {
                            if let Some(p) = pbx.as_mut() {
                                p.handle_media(Instant::now(), &mut core, &snapshot, event);
                            }
                        }
                    }
                    calls(&mut core, pbx.as_mut(), &snapshot);
                    while let Some(t) = core.poll_transmit() {
                        outbound.send(t);
                    }
                    // Take the next job only if it will be handled in this batch: one
                    // taken after the last turn would be dropped with the loop.
                    if handled == BATCH {
                        break;
                    }
                    match rx.try_recv() {
                        Ok(next) => job = next,
                        Err(_) => break,
                    }
                }
            }
            _ = &mut sleep, if armed.is_some() => {
                armed = None;
                let now = Instant::now();
                core.handle_timeout(now);
                if let Some(p) = pbx.as_mut() {
                    let snapshot = store.snapshot();
                    p.set_unix_now(unix_now());
                    p.handle_timeout(now, &mut core, &snapshot);
                }
            }
            _ = usages.tick() => {}
            _ = stop.changed() => {
                shutdown(&mut core, &mut rx, &store, &admission).await;
                break;
            }
        }
        let snapshot = store.snapshot();
        core.run_usages(Instant::now(), unix_now(), &snapshot);
        calls(&mut core, pbx.as_mut(), &snapshot);
        // Events nobody consumed (AMI will): dropped, so they do not pile up.
        while core.poll_event().is_some() {}
        while let Some(t) = core.poll_transmit() {
            outbound.send(t);
        }
    }
}

/// How long un-REGISTERs may take at shutdown.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Unregisters the queue's outbound registrations and waits (bounded) for their answers,
/// which still arrive while the receive tasks drain.
async fn shutdown(
    core: &mut Core,
    rx: &mut mpsc::Receiver<Job>,
    store: &Store,
    admission: &Admission,
) {
    let outbound = &admission.outbound;
    let snapshot = store.snapshot();
    core.shutdown_usages(Instant::now(), unix_now(), &snapshot);
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    loop {
        while let Some(t) = core.poll_transmit() {
            outbound.send(t);
        }
        core.run_usages(Instant::now(), unix_now(), &snapshot);
        if core.usages_done() {
            return;
        }
        let wake = core.poll_timeout().map_or(deadline, |t| {
            tokio::time::Instant::from_std(t).min(deadline)
        });
        tokio::select! {
            job = rx.recv() => match job {
                Some(Job::Message(w)) => {
                    if let Some(w) = admission.admit(w) {
                        core.handle_message(Instant::now(), unix_now(), &snapshot, w.flow, w.message);
                    }
                }
                Some(Job::Command(_, reply) | Job::Pbx(_, reply)) => {
                    let _ = reply.send(0);
                }
                Some(Job::Channels(reply)) => {
                    let _ = reply.send(Vec::new());
                }
                Some(Job::Media(_)) => {}
                None => return,
            },
            _ = tokio::time::sleep_until(wake) => core.handle_timeout(Instant::now()),
        }
        if tokio::time::Instant::now() >= deadline {
            return;
        }
    }
}

/// Hands the core's session events to the PBX; without one, calls are refused (480).
fn calls(core: &mut Core, pbx: Option<&mut Pbx>, snapshot: &crate::sorcery::Snapshot) {
    match pbx {
        Some(p) => p.handle_events(Instant::now(), core, snapshot),
        None => {
            while let Some(e) = core.poll_session_event() {
                if let SessionEvent::Incoming(call) = e {
                    core.session_end(Instant::now(), call.id, 480, None);
                }
            }
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
