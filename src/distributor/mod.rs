//! The distributor (Asterisk's `pjsip_distributor.c`): the step between a transport and the
//! serialized queues. It parses each received message once, answers what needs no state
//! (400 for requests it can still answer, 416, 505, 501 for unknown methods, 405 for known
//! methods nothing here serves, 481 for in-dialog requests of unknown dialogs) and picks the
//! queue for the rest: a dialog's own queue, the queue that sent the request a response
//! answers, or for a new request `hash(Call-ID, From-tag) % queues` (Asterisk's DJB2, so a
//! request, its retransmissions, its CANCEL and its ACK meet on one queue).
//!
//! Two steps: [`Distributor::pick`] on the receiving thread (parse, choose the queue) and
//! [`Distributor::admit`] on that queue (validate, answer statelessly, stamp the Via).
//!
//! Sans-IO and shared: `&self` methods, called from every receive task and queue at once;
//! state is a sharded dialog table and atomic counters.

mod dialogs;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

pub use dialogs::{DialogKey, DialogTable};

use crate::sip::{
    HeaderName, Headers, Message, Method, Request, StatusCode, check_request, check_response,
    response_to, salvage_response, stamp_received, tag_param,
};
use crate::transport::{Flow, Received, Transmit};

/// Methods that reach the queues (identification, authentication and a usage). Anything
/// else known to SIP is answered 405 at once, before any work.
pub const ROUTED: [Method; 9] = [
    Method::Options,
    Method::Invite,
    Method::Ack,
    Method::Cancel,
    Method::Bye,
    Method::Register,
    Method::Update,
    Method::Info,
    Method::Prack,
];

/// The Allow header: the methods served to completion today.
pub const ALLOW: &str = "OPTIONS, REGISTER, INVITE, ACK, BYE, CANCEL, UPDATE, INFO, PRACK";

/// Asterisk's distributor pool size: a prime, so Call-ID hashes spread evenly.
pub const DEFAULT_QUEUES: usize = 31;

/// Prefix of the branches of requests sent from a queue: `z9hG4bK` (RFC 3261 magic
/// cookie), then `Q<queue in hex>.`, so the response finds its queue without a lookup.
const BRANCH_PREFIX: &str = "z9hG4bKQ";

/// What to do with a received message.
#[derive(Debug)]
pub enum Route {
    /// Work for queue `queue`.
    Queue {
        /// Index of the queue.
        queue: usize,
        /// Where it came from.
        flow: Flow,
        /// The parsed message (a request's top Via already stamped with received/rport).
        message: Message,
    },
    /// Answered statelessly: send this and forget the request.
    Reply(Transmit),
    /// Dropped, and counted in [`DistributorStats`].
    Dropped(Dropped),
}

/// Why a message was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// It did not parse and could not be answered.
    Malformed,
    /// A response missing mandatory fields.
    BadResponse,
    /// An invalid ACK (never answered).
    BadAck,
}

/// Counters, readable at any time.
#[derive(Debug, Default)]
pub struct DistributorStats {
    /// Messages received.
    pub received: AtomicU64,
    /// Messages that did not parse (answered 400/505 when possible, else dropped).
    pub malformed: AtomicU64,
    /// Requests answered statelessly (400, 416, 505, 405, 501, 481, 503).
    pub stateless: AtomicU64,
    /// Work refused because its queue was full (UDP: dropped; else 503).
    pub overloaded: AtomicU64,
    /// Messages dropped without an answer.
    pub dropped: AtomicU64,
}

/// Snapshot of [`DistributorStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// See [`DistributorStats::received`].
    pub received: u64,
    /// See [`DistributorStats::malformed`].
    pub malformed: u64,
    /// See [`DistributorStats::stateless`].
    pub stateless: u64,
    /// See [`DistributorStats::overloaded`].
    pub overloaded: u64,
    /// See [`DistributorStats::dropped`].
    pub dropped: u64,
}

/// The distributor.
#[derive(Debug)]
pub struct Distributor {
    queues: usize,
    tag_seed: u64,
    dialogs: Arc<DialogTable>,
    stats: DistributorStats,
}

impl Distributor {
    /// A distributor over `queues` queues (at least one); `tag_seed` makes the To-tags of
    /// stateless answers unguessable yet equal for a request and its retransmissions.
    pub fn new(queues: usize, tag_seed: u64) -> Self {
        Self {
            queues: queues.max(1),
            tag_seed,
            dialogs: Arc::default(),
            stats: DistributorStats::default(),
        }
    }

    /// Number of queues.
    pub fn queues(&self) -> usize {
        self.queues
    }

    /// The dialogs and their queues (sessions register theirs here).
    pub fn dialogs(&self) -> &Arc<DialogTable> {
        &self.dialogs
    }

    /// The counters.
    pub fn stats(&self) -> StatsSnapshot {
        let s = &self.stats;
        StatsSnapshot {
            received: s.received.load(Ordering::Relaxed),
            malformed: s.malformed.load(Ordering::Relaxed),
            stateless: s.stateless.load(Ordering::Relaxed),
            overloaded: s.overloaded.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
        }
    }

    /// The branch for a request sent from queue `queue`; `unique` must be unique per
    /// request (RFC 3261 8.1.1.7).
    pub fn branch(queue: usize, unique: &str) -> String {
        let mut branch = String::with_capacity(BRANCH_PREFIX.len() + 4 + unique.len());
        branch.push_str(BRANCH_PREFIX);
        crate::sip::push_hex(&mut branch, queue as u64, 1);
        branch.push('.');
        branch.push_str(unique);
        branch
    }

    /// Decides what happens to a received message: [`Distributor::pick`] then, for a
    /// message it queues, [`Distributor::admit`] (both steps at once, as tests want them).
    pub fn route(&self, rx: Received) -> Route {
        match self.pick(rx) {
            Route::Queue { flow, message, .. } => self.admit(flow, message),
            other => other,
        }
    }

    /// The receiving thread's step: parses the message and picks the queue that
    /// [`Distributor::admit`] will confirm for it (a message that does not parse is answered
    /// or dropped here). Validation, the stateless answers and the Via stamp are left to
    /// the queue: what they allocate is then freed by the thread that allocated it (a
    /// cross-thread free costs the allocator several times a local one), and that work
    /// spreads over the queue threads instead of the one receiving thread.
    pub fn pick(&self, rx: Received) -> Route {
        self.stats.received.fetch_add(1, Ordering::Relaxed);
        let message = match Message::parse(rx.bytes.clone()) {
            Ok(m) => m,
            Err(e) => {
                self.stats.malformed.fetch_add(1, Ordering::Relaxed);
                let tag = self.tag_for(&rx.bytes);
                return match salvage_response(&rx.bytes, e.status(), &tag) {
                    Some(bytes) => {
                        tracing::debug!("malformed request from {}: {e}; answered", rx.flow.remote);
                        self.stateless(rx.flow, bytes)
                    }
                    None => {
                        tracing::debug!("malformed message from {} dropped: {e}", rx.flow.remote);
                        self.drop(Dropped::Malformed)
                    }
                };
            }
        };
        let queue = match &message {
            Message::Response(resp) => self.response_queue(&resp.headers),
            Message::Request(req) => self.request_queue(req),
        };
        Route::Queue {
            queue,
            flow: rx.flow,
            message,
        }
    }

    /// The queue's step, for a message [`Distributor::pick`] queued: validates it, answers
    /// what needs no state, stamps a request's top Via, and names the queue the message
    /// belongs to — the picked one unless the message changed hands meanwhile (a dialog
    /// that ended), in which case the queue passes it on.
    pub fn admit(&self, flow: Flow, message: Message) -> Route {
        match message {
            Message::Response(mut resp) => {
                if check_response(&mut resp).is_err() {
                    return self.drop(Dropped::BadResponse);
                }
                Route::Queue {
                    queue: self.response_queue(&resp.headers),
                    flow,
                    message: Message::Response(resp),
                }
            }
            Message::Request(req) => self.route_request(flow, req),
        }
    }

    /// A response goes to the queue its branch names (requests we send carry it), else to
    /// the hash of its Call-ID and From tag.
    fn response_queue(&self, headers: &Headers) -> usize {
        self.queue_from_branch(headers)
            .unwrap_or_else(|| self.hash_queue(headers))
    }

    /// The queue [`Distributor::route_request`] chooses for a request that validates: its
    /// dialog's queue, or the hash of its Call-ID and From tag (also for an unknown
    /// dialog: that queue answers 481).
    fn request_queue(&self, req: &Request) -> usize {
        if req.method != Method::Ack
            && let Some(tag) = req.headers.get(&HeaderName::To).and_then(|v| tag_param(v))
            && let Some(queue) = self.dialogs.queue_of(call_id(&req.headers), tag)
        {
            return queue;
        }
        self.hash_queue(&req.headers)
    }

    fn route_request(&self, flow: Flow, mut req: Request) -> Route {
        if let Err((status, _)) = check_request(&mut req) {
            if req.method == Method::Ack {
                return self.drop(Dropped::BadAck);
            }
            return self.answer(flow, &req, status, &[]);
        }
        stamp_received(&mut req, flow.remote);
        if let Method::Extension(_) = req.method {
            return self.answer(
                flow,
                &req,
                StatusCode::NOT_IMPLEMENTED,
                &[(HeaderName::Allow, ALLOW)],
            );
        }
        let to = req.to_addr().ok();
        if let Some(tag) = to.as_ref().and_then(|t| t.tag())
            && req.method != Method::Ack
        {
            // In a dialog: its queue, or 481 (RFC 3261 12.2.2) — we keep no dialog we
            // forgot, so an unknown one is not ours.
            let queue = self.dialogs.queue_of(call_id(&req.headers), tag);
            drop(to);
            return match queue {
                Some(queue) => Route::Queue {
                    queue,
                    flow,
                    message: Message::Request(req),
                },
                None => self.answer(flow, &req, StatusCode::CALL_DOES_NOT_EXIST, &[]),
            };
        }
        if !ROUTED.contains(&req.method) {
            return self.answer(
                flow,
                &req,
                StatusCode::METHOD_NOT_ALLOWED,
                &[(HeaderName::Allow, ALLOW)],
            );
        }
        drop(to);
        let queue = self.hash_queue(&req.headers);
        Route::Queue {
            queue,
            flow,
            message: Message::Request(req),
        }
    }

    /// What to do when the chosen queue is full: over TCP/TLS/WS a request (not an ACK)
    /// gets `503 Service Unavailable` with `Retry-After`; otherwise nothing (UDP peers
    /// retransmit). Counted either way.
    pub fn overloaded(&self, flow: &Flow, message: &Message) -> Option<Transmit> {
        self.stats.overloaded.fetch_add(1, Ordering::Relaxed);
        let Message::Request(req) = message else {
            return None;
        };
        if !flow.is_reliable() || req.method == Method::Ack {
            return None;
        }
        match self.answer(
            flow.clone(),
            req,
            StatusCode::SERVICE_UNAVAILABLE,
            &[(HeaderName::RetryAfter, "5")],
        ) {
            Route::Reply(t) => Some(t),
            _ => None,
        }
    }

    fn answer(
        &self,
        flow: Flow,
        req: &Request,
        status: StatusCode,
        extra: &[(HeaderName, &str)],
    ) -> Route {
        let tag = self.tag_for_request(req);
        let mut resp = response_to(req, status, Some(&tag));
        // Content-Length stays last, where response_to put it.
        let length = resp.headers.remove_first(&HeaderName::ContentLength);
        for (name, value) in extra {
            resp.headers.push(name.clone(), value.to_string());
        }
        if let Some(length) = length {
            resp.headers.push(HeaderName::ContentLength, length);
        }
        self.stateless(flow, Message::Response(resp).to_bytes())
    }

    fn stateless(&self, flow: Flow, bytes: Bytes) -> Route {
        self.stats.stateless.fetch_add(1, Ordering::Relaxed);
        Route::Reply(Transmit { flow, bytes })
    }

    fn drop(&self, why: Dropped) -> Route {
        self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        Route::Dropped(why)
    }

    /// `hash(Call-ID, From tag)`, the tag read without parsing the From (as for every
    /// request and for responses to requests we did not send).
    fn hash_queue(&self, headers: &Headers) -> usize {
        let from_tag = headers
            .get(&HeaderName::From)
            .and_then(|v| tag_param(v))
            .unwrap_or_default();
        queue_for(call_id(headers), from_tag, self.queues)
    }

    fn queue_from_branch(&self, headers: &Headers) -> Option<usize> {
        let rest = headers.top_via_branch()?.strip_prefix(BRANCH_PREFIX)?;
        let (hex, _) = rest.split_once('.')?;
        usize::from_str_radix(hex, 16)
            .ok()
            .filter(|&q| q < self.queues)
    }

    /// A To-tag equal for a request and its retransmissions (same Call-ID, From-tag, CSeq
    /// and branch) and unpredictable without the seed.
    fn tag_for_request(&self, req: &Request) -> String {
        let h = &req.headers;
        let mut text = Vec::new();
        for name in [HeaderName::CallId, HeaderName::From, HeaderName::CSeq] {
            text.extend_from_slice(h.get(&name).map(|v| v.as_ref()).unwrap_or_default());
        }
        if let Some(b) = h
            .top_via()
            .ok()
            .and_then(|v| v.branch().map(str::to_string))
        {
            text.extend_from_slice(b.as_bytes());
        }
        self.tag_for(&text)
    }

    fn tag_for(&self, bytes: &[u8]) -> String {
        use std::hash::BuildHasher;
        let state = foldhash::fast::FixedState::with_seed(self.tag_seed);
        format!("{:016x}", state.hash_one(bytes))
    }
}

/// The Call-ID (empty when missing; validation rejects such requests first).
fn call_id(headers: &Headers) -> &str {
    headers.call_id().unwrap_or_default()
}

/// Asterisk's queue choice for out-of-dialog work: DJB2 over the Call-ID then the tag.
pub fn queue_for(call_id: &str, tag: &str, queues: usize) -> usize {
    let mut hash: u32 = 5381;
    for b in call_id.bytes().chain(tag.bytes()) {
        hash = hash.wrapping_mul(33).wrapping_add(u32::from(b));
    }
    usize::try_from(hash).unwrap_or(0) % queues.max(1)
}

#[cfg(test)]
mod tests;
