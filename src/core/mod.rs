//! The SIP core of one serialized queue: what happens to a message after the distributor
//! (which parsed and validated it) chose this queue, as Asterisk's res_pjsip module chain
//! does it — transaction layer, endpoint identification, digest authentication, then the
//! usage: OPTIONS, REGISTER (`register.rs`), INVITE sessions (`calls.rs`); qualify and
//! outbound registrations run on the queue's tick.
//!
//! Sans-IO: messages come in with their flow and the time; messages to send come out of
//! [`Core::poll_transmit`]. The configuration is read from the [`Snapshot`] passed in.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;
use foldhash::HashMap;

use crate::acl::{self, AclVerdict, NamedAcls};
use crate::auth::{ClientAuth, DigestCredentials, NonceKey, Verdict, Verifier};
use crate::config::types::{Auth, IdentifyMethod, Kind, Object};
use crate::dialplan::Dialplan;
use crate::distributor::ALLOW;
use crate::identify::{Identified, Identifier, Trace, global, identify_with};
use crate::location::Location;
use crate::sip::{
    HeaderName, Host, Message, Method, NameAddr, Request, StatusCode, Uri, response_bytes,
};
use crate::sorcery::Snapshot;
use crate::transport::{Flow, Transmit};
use crate::tsx::{
    ClientKey, Incoming, LayerOutput, ServerKey, TimerConfig, TsxEvent, TsxLayer, TsxRef,
};

/// Counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoreStats {
    /// Requests from no known endpoint.
    pub unidentified: u64,
    /// Challenges sent.
    pub challenges: u64,
    /// Requests answered without a transaction (out-of-dialog OPTIONS, REGISTERs without
    /// credentials).
    pub stateless: u64,
    /// Retransmitted REGISTERs given again the answer they were given statelessly.
    pub stateless_repeated: u64,
}

pub(crate) mod calls;
mod outgoing;
pub(crate) mod qualify;
mod recent_replies;
mod register;
pub(crate) mod registrations;
pub use qualify::StatusChange;
pub use registrations::{Network, OutRegCommand, RegistrationState, RegistrationStates, owner};
pub mod unidentified;

pub(crate) use calls::uri_target;
pub use calls::{OutgoingCall, hostport, split_callerid};
pub use outgoing::{CoreEvent, Outcome, RequestId};
pub use unidentified::Unidentified;

/// Configuration from files other than pjsip.conf that requests are checked against; the
/// daemon replaces it whole on reload, every queue sees the new one at its next message.
#[derive(Debug, Default)]
pub struct Tables {
    /// Named ACLs of `acl.conf`.
    pub named_acls: NamedAcls,
    /// `extensions.conf`.
    pub dialplan: Dialplan,
}

/// [`Tables`] shared by the daemon and every queue.
pub type SharedTables = Arc<ArcSwap<Tables>>;

/// What the daemon shares with every queue's core.
#[derive(Clone, Debug, Default)]
pub struct CoreShared {
    /// extensions.conf and acl.conf.
    pub tables: SharedTables,
    /// Unidentified requests per source address.
    pub unidentified: Arc<Unidentified>,
    /// The location service (registered contacts).
    pub location: Arc<Location>,
    /// Outbound registrations' states, for the CLI.
    pub registrations: Arc<RegistrationStates>,
    /// Which queue each dialog lives on (the distributor's table).
    pub dialogs: Arc<crate::distributor::DialogTable>,
}

/// An operator's request to a queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Qualify these AORs' contacts now (`pjsip qualify`).
    Qualify(Vec<String>),
    /// `pjsip send register|unregister`.
    Registration(OutRegCommand),
}

/// One shard's SIP core.
pub struct Core {
    tsx: TsxLayer,
    verifier: Verifier,
    /// Where each server transaction's responses go: the flow its request came on (RFC
    /// 3581 / force_rport: the source address and port; over TCP/TLS/WS its connection).
    replies: HashMap<ServerKey, Flow>,
    out: VecDeque<Transmit>,
    stats: CoreStats,
    tables: SharedTables,
    /// Unidentified requests per source address, shared by every queue.
    unidentified: Arc<Unidentified>,
    /// Seed of the To tags of stateless answers.
    stateless_seed: u64,
    /// Stateless answers to REGISTERs over UDP, for their retransmissions.
    recent: recent_replies::RecentReplies,
    /// The request whose stateless answer is to be kept in `recent`, while it is handled.
    remember_answer: Option<recent_replies::RequestHash>,
    /// This core's queue number, written into the branches of the requests it sends so that
    /// their responses come back to it (`Distributor::branch`).
    queue: usize,
    /// Requests sent and not yet answered finally, by client transaction.
    outgoing: outgoing::InFlight,
    /// Requests sent so far (ids and branches).
    sent: u64,
    events: VecDeque<CoreEvent>,
    /// Registered contacts, shared by every queue.
    location: Arc<Location>,
    /// How many queues there are (usages are shared out by name among them).
    queues: usize,
    /// Outbound registrations this queue owns.
    outregs: registrations::OutRegs,
    /// Qualify of the AORs this queue owns.
    qualifier: qualify::Qualifier,
    /// Which transport and local address reach a peer.
    network: Arc<dyn Network>,
    /// INVITE sessions.
    calls: calls::Calls,
    /// Which queue each dialog lives on (shared with the distributor).
    dialogs: Arc<crate::distributor::DialogTable>,
    /// The `[system]` timers (T1, T2 for 2xx retransmissions).
    timers: TimerConfig,
    /// How long the message being handled waited in this core's queue; above
    /// `overload_wait` new calls are refused.
    queue_wait: Duration,
    /// The bound on `queue_wait` for new calls ([`BUSY_WAIT`] unless configured; `None`:
    /// no bound).
    overload_wait: Option<Duration>,
}

/// How long an INVITE may have waited in its queue before it gets 503 with Retry-After:
/// the calls already up (their ACKs, BYEs, re-INVITEs) come first, and a flood of new
/// calls is answered cheaply instead of overloading every call (retransmissions, then
/// collapse). A time, not a count of waiting messages: what a count means depends on the
/// rate and the machine (500 messages were 0.3 s of a queue's work at 5,500 calls/s on a
/// fast machine, 1 s at 2,500/s on a slow one), and a second's stall is ridden out.
/// The default of `[sip] overload_wait_ms`.
pub const BUSY_WAIT: Duration = Duration::from_secs(1);

/// How a request is answered.
#[derive(Clone, Copy)]
enum Responder<'a> {
    /// Through its server transaction (retransmitted, re-sent on request retransmissions).
    Tsx(&'a ServerKey),
    /// Statelessly over this flow (RFC 3261 8.2.7): the answer is computed again for a
    /// retransmitted request, with the same To tag.
    Stateless(&'a Flow),
}

/// Gives the top Via the `branch`. Requests built here carry a placeholder branch as the
/// Via's last parameter: it is swapped in the text, without parsing and writing the Via
/// again; any other Via is parsed and rewritten. `None` without a usable Via.
pub(crate) fn set_branch(headers: &mut crate::sip::Headers, branch: &str) -> Option<()> {
    let top = headers.get(&HeaderName::Via)?.clone();
    let placeholder = top
        .strip_suffix(crate::sip::PENDING_BRANCH.as_bytes())
        .and_then(|t| t.strip_suffix(b";branch="));
    let via = match placeholder {
        Some(head) if !head.contains(&b',') => {
            let mut v = Vec::with_capacity(head.len() + 8 + branch.len());
            v.extend_from_slice(head);
            v.extend_from_slice(b";branch=");
            v.extend_from_slice(branch.as_bytes());
            Bytes::from(v)
        }
        _ => {
            let mut via = headers.top_via().ok()?;
            via.params.set("branch", Some(branch));
            Bytes::from(via.to_string())
        }
    };
    headers.replace_first(HeaderName::Via, via);
    Some(())
}

impl Core {
    /// A core with the `[system]` timers, the nonce key and a seed for tags.
    pub fn new(timers: TimerConfig, nonce_key: NonceKey, tag_seed: u64) -> Self {
        Self::with_verifier(timers, Verifier::new(nonce_key, "asterisk"), tag_seed)
    }

    /// A core with its own verifier (the queues of one daemon share nonce counts).
    pub fn with_verifier(timers: TimerConfig, verifier: Verifier, tag_seed: u64) -> Self {
        Self {
            tsx: TsxLayer::new(timers, tag_seed),
            verifier,
            replies: HashMap::default(),
            out: VecDeque::new(),
            stats: CoreStats::default(),
            tables: SharedTables::default(),
            unidentified: Arc::default(),
            stateless_seed: tag_seed.rotate_left(17) ^ 0x5bd1_e995,
            recent: recent_replies::RecentReplies::default(),
            remember_answer: None,
            queue: 0,
            outgoing: outgoing::InFlight::default(),
            sent: 0,
            events: VecDeque::new(),
            location: Arc::default(),
            queues: 1,
            outregs: registrations::OutRegs::default(),
            qualifier: qualify::Qualifier::default(),
            network: Arc::new(registrations::NoNetwork),
            calls: calls::Calls::default(),
            dialogs: Arc::default(),
            timers,
            queue_wait: Duration::ZERO,
            overload_wait: Some(BUSY_WAIT),
        }
    }

    /// This core serves queue `queue` (its requests' responses are routed back to it).
    pub fn with_queue(mut self, queue: usize) -> Self {
        self.queue = queue;
        self
    }

    /// Sends `request` over `flow` through a client transaction, answering 401/407 with
    /// `outbound_auth` (the auth objects of the endpoint or registration it is sent for).
    /// Its top Via gets a branch of this core's; the outcome comes out of
    /// [`Core::poll_event`]. `None` when the request has no Via or CSeq.
    pub fn send_request(
        &mut self,
        now: Instant,
        flow: Flow,
        mut request: Request,
        outbound_auth: Vec<Auth>,
    ) -> Option<RequestId> {
        let branch = self.new_branch();
        set_branch(&mut request.headers, &branch)?;
        let id = RequestId(self.sent);
        self.start_client(now, flow, request, outbound_auth, id)
    }

    /// Starts the client transaction of a request whose Via is final, and keeps it as
    /// request `id` until its outcome.
    fn start_client(
        &mut self,
        now: Instant,
        flow: Flow,
        request: Request,
        auths: Vec<Auth>,
        id: RequestId,
    ) -> Option<RequestId> {
        let key = self
            .tsx
            .send_request(now, request.clone(), flow.is_reliable())?;
        self.outgoing.insert(
            key,
            outgoing::Pending {
                id,
                flow,
                request,
                auths,
                client_auth: ClientAuth::new(),
            },
        );
        self.drain(now);
        Some(id)
    }

    /// Gives up on a request sent with [`Core::send_request`]: its client transaction
    /// ends at once (no more retransmissions) and no outcome will be reported.
    pub fn abandon(&mut self, id: RequestId) {
        let key = self.outgoing.key_of(id).cloned();
        if let Some(key) = key {
            self.outgoing.remove(&key);
            self.tsx.abandon_client(&key);
        }
    }

    /// The next session event (for the PBX), leaving the usages' events in place.
    pub fn poll_session_event(&mut self) -> Option<crate::session::SessionEvent> {
        let i = self
            .events
            .iter()
            .position(|e| matches!(e, CoreEvent::Session(_)))?;
        match self.events.remove(i) {
            Some(CoreEvent::Session(e)) => Some(e),
            _ => None,
        }
    }

    /// extensions.conf and acl.conf as they are now.
    pub fn tables(&self) -> Arc<Tables> {
        self.tables.load_full()
    }

    /// The next event for the core's user (a sent request's outcome).
    pub fn poll_event(&mut self) -> Option<CoreEvent> {
        self.events.pop_front()
    }

    /// A branch unique to this core, naming its queue.
    fn new_branch(&mut self) -> String {
        self.sent += 1;
        let unique = crate::tsx::hex16(self.stateless_seed.rotate_left(29) ^ self.sent);
        crate::distributor::Distributor::branch(self.queue, &unique)
    }

    /// The counters.
    pub fn stats(&self) -> CoreStats {
        self.stats
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    /// When [`Core::handle_timeout`] must next run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.tsx.poll_timeout(),
            self.outregs.poll_timeout(),
            self.qualifier.poll_timeout(),
            self.calls.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Shares out outbound registrations and qualify among `queues` queues (this one
    /// runs those [`owner`] gives it), publishing registration states into `states`;
    /// `network` finds the transport and local address towards a peer.
    pub fn with_usages(
        mut self,
        queues: usize,
        states: Arc<RegistrationStates>,
        network: Arc<dyn Network>,
    ) -> Self {
        self.queues = queues.max(1);
        self.outregs = registrations::OutRegs::new(
            self.queue,
            self.queues,
            states,
            network.clone(),
            self.stateless_seed.rotate_left(41),
        );
        self.network = network;
        self
    }

    /// Runs what the usages of this queue (outbound registration, qualify) have due, and
    /// hands them the outcomes of their requests. Called after every batch of messages
    /// and on the queue's timer; cheap when nothing is due.
    pub fn run_usages(&mut self, now: Instant, unix_now: u64, snapshot: &Snapshot) {
        self.outregs.reconcile(now, unix_now, snapshot);
        let mut changes = Vec::new();
        if !self.events.is_empty() {
            for e in std::mem::take(&mut self.events) {
                let mine = self.outregs.on_event(now, unix_now, &e)
                    || self
                        .qualifier
                        .on_event(now, &e, &self.location, &mut changes);
                if !mine {
                    self.events.push_back(e);
                }
            }
        }
        if self.outregs.poll_timeout().is_some_and(|t| t <= now) {
            let mut regs = std::mem::take(&mut self.outregs);
            regs.handle_timeout(now, unix_now, snapshot, &mut |f, r, a| {
                self.send_request(now, f, r, a)
            });
            self.outregs = regs;
        }
        let location = self.location.clone();
        let network = self.network.clone();
        let sends = self.qualifier.handle_timeout(
            now,
            unix_now,
            snapshot,
            &location,
            &*network,
            self.queue,
            self.queues,
            &mut changes,
        );
        for s in sends {
            let id = self.send_request(now, s.flow, s.request, s.auths);
            self.qualifier.sent(s.token, id);
        }
        // Probes past their qualify_timeout: counted as failures already; stop their
        // retransmissions (a dead contact would otherwise keep 32 s of them going).
        for id in self.qualifier.take_abandoned() {
            self.abandon(id);
        }
        for c in changes {
            match c.rtt {
                Some(rtt) => tracing::info!(
                    "Contact {}/{} is now {}.  RTT: {:.3} msec",
                    c.aor,
                    c.uri,
                    c.status.label(),
                    rtt.as_secs_f64() * 1000.0
                ),
                None => tracing::info!("Contact {}/{} is now {}", c.aor, c.uri, c.status.label()),
            }
            self.events.push_back(CoreEvent::ContactStatus(c));
        }
    }

    /// Carries out an operator's command; returns how many objects it applied to.
    pub fn command(&mut self, now: Instant, unix_now: u64, command: &Command) -> usize {
        match command {
            Command::Qualify(aors) => {
                self.qualifier.force(aors.iter().cloned(), now);
                aors.len()
            }
            Command::Registration(cmd) => self.outregs.command(now, unix_now, cmd),
        }
    }

    /// Unregisters this queue's outbound registrations (shutdown).
    pub fn shutdown_usages(&mut self, now: Instant, unix_now: u64, snapshot: &Snapshot) {
        let mut regs = std::mem::take(&mut self.outregs);
        regs.shutdown(now, unix_now, snapshot, &mut |f, r, a| {
            self.send_request(now, f, r, a)
        });
        self.outregs = regs;
    }

    /// True once every outbound registration has ended (after [`Core::shutdown_usages`]).
    pub fn usages_done(&self) -> bool {
        self.outregs.is_empty()
    }

    /// How long a new INVITE may wait in this core's queue before it gets 503 with
    /// Retry-After (`None`: no bound).
    pub fn with_overload_wait(mut self, bound: Option<Duration>) -> Self {
        self.set_overload_wait(bound);
        self
    }

    /// Changes the bound of [`Core::with_overload_wait`].
    pub fn set_overload_wait(&mut self, bound: Option<Duration>) {
        self.overload_wait = bound;
    }

    /// How long the next message waited in this core's queue (set by the queue before
    /// handing it over).
    pub fn set_queue_wait(&mut self, waited: Duration) {
        self.queue_wait = waited;
    }

    /// Runs the transaction timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tsx.handle_timeout(now);
        self.drain(now);
        if self.calls.poll_timeout().is_some_and(|t| t <= now) {
            self.session_timeouts(now);
        }
    }

    /// Uses `tables` for ACLs and extensions.
    pub fn with_tables(mut self, tables: SharedTables) -> Self {
        self.tables = tables;
        self
    }

    /// Uses the daemon's tables and unidentified-request table.
    pub fn with_shared(self, shared: &CoreShared) -> Self {
        let mut core = self
            .with_tables(shared.tables.clone())
            .with_unidentified(shared.unidentified.clone());
        core.location = shared.location.clone();
        core.dialogs = shared.dialogs.clone();
        core
    }

    /// The location service this core registers contacts in.
    pub fn location(&self) -> &Arc<Location> {
        &self.location
    }

    /// Counts unidentified requests in `table` (shared by the daemon's queues).
    pub fn with_unidentified(mut self, table: Arc<Unidentified>) -> Self {
        self.unidentified = table;
        self
    }

    /// The digest verifier (to share its nonce counts).
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// Handles one message the distributor gave this queue (parsed, validated, its top
    /// Via stamped). `unix_now` is wall-clock seconds (nonces).
    pub fn handle_message(
        &mut self,
        now: Instant,
        unix_now: u64,
        snapshot: &Snapshot,
        flow: Flow,
        message: Message,
    ) {
        let request = match message {
            Message::Response(r) => {
                let _ = self.tsx.handle_response(now, r);
                self.drain(now);
                return;
            }
            Message::Request(r) => r,
        };
        if answered_statelessly(&request) {
            // Out-of-dialog OPTIONS, and REGISTERs without credentials (their answer is a
            // challenge, or for an endpoint without auth an idempotent binding update),
            // are answered statelessly (RFC 3261 8.2.7), as Kamailio does: a transaction
            // would hold ~1 kB for 32 s per request over UDP, so a flood (or a busy
            // monitoring system, or every phone's first REGISTER) would cost memory
            // without bound in time; a retransmission is simply answered again, with the
            // same To tag. A REGISTER with credentials keeps its transaction: its
            // retransmission must get the same 200, not a nonce-count replay refusal.
            // A REGISTER's answer is not a function of the request alone (a challenge's
            // nonce, a 200's expiries): over UDP it is kept for the retransmissions.
            self.stats.stateless += 1;
            if request.method == Method::Register && !flow.is_reliable() {
                let hash = self.stateless_hash(&request);
                let lifetime = self.timers.t1x64();
                if let Some(bytes) = self.recent.get(now, lifetime, hash) {
                    self.stats.stateless_repeated += 1;
                    self.out.push_back(Transmit { flow, bytes });
                    return;
                }
                self.remember_answer = Some(hash);
            }
            self.dispatch(
                now,
                unix_now,
                snapshot,
                Responder::Stateless(&flow),
                &request,
                &flow,
            );
            self.remember_answer = None;
            return;
        }
        match self.tsx.handle_request(now, request, flow.is_reliable()) {
            Incoming::NewRequest { key, request } if has_to_tag(&request) => {
                // Within a dialog: the session's, or 481. No identification or
                // authentication (the dialog was authenticated when it was made).
                self.replies.insert(key.clone(), flow.clone());
                if !self.session_request(now, Some(&key), &request, &flow) {
                    self.answer(now, Responder::Tsx(&key), &request, 481, &[]);
                }
            }
            Incoming::Ack(request) => {
                let _ = self.session_request(now, None, &request, &flow);
            }
            Incoming::NewRequest { key, request } => {
                self.replies.insert(key.clone(), flow.clone());
                self.dispatch(
                    now,
                    unix_now,
                    snapshot,
                    Responder::Tsx(&key),
                    &request,
                    &flow,
                );
            }
            Incoming::Cancel {
                key,
                invite,
                request,
            } => {
                self.replies.insert(key.clone(), flow);
                if !self.session_cancel(now, &key, invite.as_ref(), &request) {
                    self.answer(now, Responder::Tsx(&key), &request, 481, &[]);
                }
            }
            Incoming::Rejected { key, .. } => {
                self.replies.insert(key, flow);
            }
            _ => {}
        }
        self.drain(now);
    }

    /// Identification, authentication, then the method's usage.
    fn dispatch(
        &mut self,
        now: Instant,
        unix_now: u64,
        snapshot: &Snapshot,
        key: Responder<'_>,
        request: &Request,
        flow: &Flow,
    ) {
        let source = flow.remote;
        let tables = self.tables.load();
        let contacts = contact_ips(request);
        // type=acl objects: before anything else, answered 403 (res_pjsip_acl).
        if let AclVerdict::Denied(d) =
            acl::check_request(snapshot, &tables.named_acls, source.ip(), &contacts)
        {
            tracing::warn!("{}", d.request_warning(source));
            if request.method != Method::Ack {
                self.answer(now, key, request, 403, &[]);
            }
            return;
        }
        // Validation's parse when the distributor kept it (From is then single, so the
        // first field is the one), else the first From field parsed here.
        let from: Option<Cow<'_, NameAddr>> = if request.is_checked() {
            request.from_addr().ok()
        } else {
            request
                .headers
                .get(&HeaderName::From)
                .and_then(|v| NameAddr::parse(v, "From").ok())
                .map(Cow::Owned)
        };
        let credentials: Vec<DigestCredentials> = request
            .headers
            .get_all(&HeaderName::Authorization)
            .filter_map(|v| {
                let text = String::from_utf8_lossy(v);
                text.parse::<DigestCredentials>().ok()
            })
            .collect();
        let facts = Facts {
            source,
            from: from.as_deref(),
            from_domain: OnceCell::new(),
            credentials: &credentials,
            request,
        };
        // `line` first: a request to an outbound registration's Contact belongs to that
        // registration's endpoint, whatever address the provider sends it from.
        let identified = self
            .line_endpoint(request, snapshot)
            .or_else(|| identify_with(snapshot, &facts, &mut Trace::quiet()));
        let method = request.method.as_str();
        // For log lines only.
        let from_text = || {
            from.as_ref()
                .map(|f| format!("<{}>", f.uri))
                .unwrap_or_default()
        };
        let call_id = || {
            request
                .headers
                .get(&HeaderName::CallId)
                .map(|v| String::from_utf8_lossy(v).trim().to_string())
                .unwrap_or_default()
        };
        // An endpoint's own acl/contact_acl: a request that fails it is treated as from
        // nobody (the artificial auth), as Asterisk does, so the answer tells nothing.
        let mut acl_failed = false;
        let identified = identified.filter(|id| {
            let Some(endpoint) = snapshot.endpoint(&id.endpoint) else {
                return true;
            };
            match acl::check_endpoint(endpoint, &tables.named_acls, source.ip(), &contacts) {
                AclVerdict::Allowed => true,
                AclVerdict::Denied(d) => {
                    tracing::warn!(
                        "Request '{method}' from '{}' failed for '{source}' (callid: {}) - {}",
                        from_text(),
                        call_id(),
                        d.endpoint_reason()
                    );
                    acl_failed = true;
                    false
                }
            }
        });
        // The auth objects to check, or none when no authentication is needed. An unknown
        // sender gets the artificial auth: challenged exactly like a real user, never let in.
        let artificial;
        let auths: Vec<Auth> = match &identified {
            None => {
                self.stats.unidentified += 1;
                let g = global(snapshot);
                // With auth_username among the identifiers a first request is expected to
                // match nothing (it has no credentials yet): count, and report bursts only
                // (Asterisk's unidentified_request_count within _period).
                let counted = g
                    .endpoint_identifier_order
                    .0
                    .contains(&IdentifyMethod::AuthUsername);
                let report = if counted && !acl_failed {
                    let period = Duration::from_secs(u64::from(g.unidentified_request_period));
                    self.unidentified.prune_every(
                        now,
                        Duration::from_secs(u64::from(g.unidentified_request_prune_interval)),
                        period,
                    );
                    match self.unidentified.record(
                        source.ip(),
                        now,
                        g.unidentified_request_count,
                        period,
                    ) {
                        unidentified::Report::Threshold { tries, elapsed } => Some(format!(
                            " after {tries} tries in {:.3} ms",
                            elapsed.as_secs_f64() * 1000.0
                        )),
                        unidentified::Report::Counted => None,
                    }
                } else {
                    (!acl_failed).then(String::new)
                };
                if let Some(suffix) = report {
                    tracing::warn!(
                        "Request '{method}' from '{}' failed for '{source}' (callid: {}) - No matching endpoint found{suffix}",
                        from_text(),
                        call_id()
                    );
                    if tracing::enabled!(tracing::Level::DEBUG) {
                        let mut trace = Trace::default();
                        let _ = identify_with(snapshot, &facts, &mut trace);
                        tracing::debug!("identification trace:\n{trace}");
                    }
                }
                artificial = self.verifier.artificial_auth();
                vec![artificial]
            }
            Some(id) => {
                let endpoint = snapshot.endpoint(&id.endpoint);
                let skip = endpoint.is_some_and(|e| {
                    request.method == Method::Options && e.allow_unauthenticated_options
                });
                if skip {
                    Vec::new()
                } else {
                    endpoint
                        .map(|e| {
                            e.auth
                                .iter()
                                .filter_map(|a| {
                                    match snapshot.get(Kind::Auth, a.as_str()).map(|o| &o.object) {
                                        Some(Object::Auth(auth)) => Some(auth.clone()),
                                        _ => None,
                                    }
                                })
                                .collect()
                        })
                        .unwrap_or_default()
                }
            }
        };
        if !auths.is_empty() && request.method != Method::Ack {
            let candidates: Vec<&Auth> = auths.iter().collect();
            let default_realm = &global(snapshot).default_realm;
            let mut stale = false;
            let mut accepted = false;
            for creds in &credentials {
                match self.verifier.verify(
                    method,
                    creds,
                    &candidates,
                    Some(default_realm),
                    unix_now,
                    source.ip(),
                ) {
                    Verdict::Accepted { .. } => accepted = true,
                    Verdict::Stale => stale = true,
                    _ => {}
                }
            }
            if !accepted {
                if !credentials.is_empty() && !stale && identified.is_some() {
                    tracing::warn!(
                        "Request '{method}' from '{}' failed for '{source}' (callid: {}) - Failed to authenticate",
                        from_text(),
                        call_id()
                    );
                }
                let challenges = self.verifier.challenge_all(
                    &candidates,
                    Some(default_realm),
                    unix_now,
                    source.ip(),
                    stale,
                );
                let headers: Vec<(HeaderName, Bytes)> = challenges
                    .iter()
                    .map(|c| (HeaderName::WwwAuthenticate, Bytes::from(c.to_string())))
                    .collect();
                self.stats.challenges += 1;
                self.answer(now, key, request, 401, &headers);
                return;
            }
        }
        if identified.is_some() {
            // Identified (and authenticated where needed): its misses are forgiven.
            self.unidentified.forget(source.ip());
        }
        match request.method {
            Method::Options => {
                // A user part names an extension of the endpoint's context (Asterisk 404s
                // the others); no user part means the server itself.
                if let (Some(id), Uri::Sip(uri)) = (&identified, &request.uri)
                    && let Some(user) = uri.user_decoded().filter(|u| !u.is_empty())
                {
                    let user = String::from_utf8_lossy(&user);
                    let context = snapshot
                        .endpoint(&id.endpoint)
                        .map(|e| e.context.as_str())
                        .unwrap_or_default();
                    if !tables.dialplan.exists(context, &user) {
                        self.answer(now, key, request, 404, &[]);
                        return;
                    }
                }
                let headers = [
                    (HeaderName::Allow, Bytes::from_static(ALLOW.as_bytes())),
                    (HeaderName::Accept, Bytes::from_static(b"application/sdp")),
                    (
                        HeaderName::Supported,
                        Bytes::from_static(b"path, outbound, replaces"),
                    ),
                    (HeaderName::AcceptEncoding, Bytes::from_static(b"identity")),
                    (HeaderName::AcceptLanguage, Bytes::from_static(b"en")),
                    (
                        HeaderName::Server,
                        Bytes::copy_from_slice(global(snapshot).user_agent.as_bytes()),
                    ),
                ];
                self.answer(now, key, request, 200, &headers);
            }
            Method::Register => {
                if let Some(id) = &identified {
                    let usernames: Vec<&str> =
                        credentials.iter().map(|c| c.username.as_str()).collect();
                    self.register(now, unix_now, snapshot, key, request, id, &usernames, flow);
                }
            }
            Method::Invite => match (key, &identified) {
                (Responder::Tsx(k), Some(id)) => {
                    let endpoint = id.endpoint.clone();
                    self.incoming_invite(now, snapshot, k, request, flow, &endpoint);
                }
                _ => self.answer(now, key, request, 500, &[]),
            },
            Method::Ack => {}
            _ => {
                let headers = [(HeaderName::Allow, Bytes::from_static(ALLOW.as_bytes()))];
                self.answer(now, key, request, 501, &headers);
            }
        }
    }

    /// The endpoint of the outbound registration whose `line` token the Request-URI
    /// carries.
    fn line_endpoint(&self, request: &Request, snapshot: &Snapshot) -> Option<Identified> {
        let Uri::Sip(uri) = &request.uri else {
            return None;
        };
        let token = uri.params.value("line")?;
        let (registration, endpoint) = self.outregs.states().by_line(token)?;
        snapshot.endpoint(&endpoint)?;
        Some(Identified {
            endpoint,
            by: Identifier::Line,
            detail: format!("line of registration '{registration}'"),
        })
    }

    /// Sends a final response through the request's server transaction.
    fn answer(
        &mut self,
        now: Instant,
        responder: Responder<'_>,
        request: &Request,
        status: u16,
        extra: &[(HeaderName, Bytes)],
    ) {
        let Some(status) = StatusCode::new(status) else {
            return;
        };
        match responder {
            Responder::Tsx(key) => {
                let tag = self.tsx.new_tag();
                // Content-Length stays last, after the extra fields.
                let resp = response_bytes(request, status, Some(&tag), extra);
                let _ = self.tsx.send_response_bytes(now, key, resp);
            }
            Responder::Stateless(flow) => {
                let tag = crate::tsx::hex16(self.stateless_hash(request));
                let bytes = response_bytes(request, status, Some(&tag), extra);
                if let Some(hash) = self.remember_answer.take() {
                    let lifetime = self.timers.t1x64();
                    self.recent.insert(now, lifetime, hash, bytes.clone());
                }
                self.out.push_back(Transmit {
                    flow: flow.clone(),
                    bytes,
                });
            }
        }
    }

    /// A hash equal for a request and its retransmissions (same Call-ID, From, CSeq and
    /// top Via), unpredictable without the seed: the stateless To tag, and the key of
    /// the answers kept for retransmissions.
    fn stateless_hash(&self, request: &Request) -> recent_replies::RequestHash {
        use std::hash::{BuildHasher, Hasher};
        let mut h = foldhash::fast::FixedState::with_seed(self.stateless_seed).build_hasher();
        for name in [HeaderName::CallId, HeaderName::From, HeaderName::CSeq] {
            h.write(
                request
                    .headers
                    .get(&name)
                    .map(|v| v.as_ref())
                    .unwrap_or_default(),
            );
            h.write_u8(0);
        }
        if let Some(v) = request.headers.get(&HeaderName::Via) {
            h.write(v);
        }
        h.finish()
    }

    /// Moves the transaction layer's output to datagrams and events.
    fn drain(&mut self, now: Instant) {
        while let Some(o) = self.tsx.poll_output() {
            match o {
                LayerOutput::Transmit {
                    tsx: TsxRef::Server(key),
                    bytes,
                } => {
                    if let Some(flow) = self.replies.get(&key) {
                        self.out.push_back(Transmit {
                            flow: flow.clone(),
                            bytes,
                        });
                    }
                }
                LayerOutput::Event {
                    tsx: TsxRef::Server(key),
                    event: TsxEvent::Terminated,
                } => {
                    self.replies.remove(&key);
                }
                LayerOutput::Transmit {
                    tsx: TsxRef::Client(key),
                    bytes,
                } => {
                    if let Some(p) = self.outgoing.get(&key) {
                        self.out.push_back(Transmit {
                            flow: p.flow.clone(),
                            bytes,
                        });
                    }
                }
                LayerOutput::Event {
                    tsx: TsxRef::Client(key),
                    event,
                } => self.client_event(now, &key, event),
                LayerOutput::Event {
                    tsx: TsxRef::Server(key),
                    event: TsxEvent::Ack(Message::Request(ack)),
                } => {
                    let flow = self.replies.get(&key).cloned();
                    if let Some(flow) = flow {
                        let _ = self.session_request(now, None, &ack, &flow);
                    }
                }
                _ => {}
            }
        }
    }

    /// A client transaction's event: a final response (answered with credentials when it
    /// is a challenge), a timeout or a transport error end the request.
    fn client_event(&mut self, now: Instant, key: &ClientKey, event: TsxEvent<Message>) {
        let session = self
            .outgoing
            .get(key)
            .map(|p| p.id)
            .filter(|id| self.is_session_request(*id));
        if let Some(rid) = session {
            // Sessions see provisional responses and every 2xx (retransmissions too);
            // the request stays known until its transaction ends.
            match &event {
                TsxEvent::Response(Message::Response(r))
                    if r.status.code() < 300 && key.method == Method::Invite =>
                {
                    let r = r.clone();
                    if r.status.is_success()
                        && let Some(p) = self.outgoing.get_mut(key)
                    {
                        // Answered: no challenge can follow, the request as sent is no
                        // longer needed for the 64·T1 its transaction lives on.
                        p.request.headers = crate::sip::Headers::new();
                        p.request.body = Bytes::new();
                        p.auths = Vec::new();
                    }
                    self.session_response(now, rid, &r);
                    return;
                }
                TsxEvent::Terminated => {
                    self.outgoing.remove(key);
                    return;
                }
                _ => {}
            }
        }
        let outcome = match event {
            TsxEvent::Response(Message::Response(r)) if r.status.code() >= 200 => {
                let branch = self.new_branch();
                let Some(p) = self.outgoing.get_mut(key) else {
                    return;
                };
                match p.on_final(r, &branch) {
                    outgoing::Next::Done(outcome) => outcome,
                    outgoing::Next::Retry(request) => {
                        let Some(mut p) = self.outgoing.remove(key) else {
                            return;
                        };
                        let reliable = p.flow.is_reliable();
                        p.request = request.clone();
                        self.calls.request_resent(p.id, &request);
                        if let Some(new_key) = self.tsx.send_request(now, request, reliable) {
                            self.outgoing.insert(new_key, p);
                        }
                        return;
                    }
                }
            }
            TsxEvent::Timeout => Outcome::Timeout,
            TsxEvent::TransportError => Outcome::TransportError,
            _ => return,
        };
        if let Some(p) = self.outgoing.remove(key) {
            if self.is_session_request(p.id) {
                match outcome {
                    Outcome::Response(r) => self.session_response(now, p.id, &r),
                    Outcome::AuthFailed { response, .. } => {
                        self.session_response(now, p.id, &response)
                    }
                    Outcome::Timeout => self.session_failed(now, p.id, 408),
                    Outcome::TransportError => self.session_failed(now, p.id, 503),
                }
                return;
            }
            self.events
                .push_back(CoreEvent::Completed { id: p.id, outcome });
        }
    }

    /// [`Core::send_request`] for a session: the request's responses go to the session
    /// (provisional ones too), and the session's INVITE follows the request as sent (its
    /// branch, and after a challenge its credentials and CSeq).
    pub(crate) fn send_request_session(
        &mut self,
        now: Instant,
        flow: Flow,
        request: Request,
        auths: Vec<Auth>,
        session: crate::session::SessionId,
    ) -> Option<RequestId> {
        let id = RequestId(self.sent + 1);
        self.calls.mark_request(id, session);
        let sent = self.send_request(now, flow, request, auths);
        if sent.is_none() {
            self.calls.unmark_request(id);
        }
        sent
    }

    /// Sends a request through a client transaction keeping its top Via branch (a CANCEL
    /// shares its INVITE's, RFC 3261 9.1); its answer is absorbed.
    pub(crate) fn send_request_keep_branch(
        &mut self,
        now: Instant,
        flow: Flow,
        request: Request,
    ) -> Option<RequestId> {
        self.sent += 1;
        let id = RequestId(self.sent);
        self.start_client(now, flow, request, Vec::new(), id)
    }

    /// The request of a client transaction as last sent.
    pub(crate) fn sent_request(&self, id: RequestId) -> Option<&Request> {
        self.outgoing.request(id)
    }
}

/// Out-of-dialog OPTIONS, and out-of-dialog REGISTER without credentials.
fn answered_statelessly(request: &Request) -> bool {
    match request.method {
        Method::Options => !has_to_tag(request),
        Method::Register => {
            !has_to_tag(request)
                && request.headers.get(&HeaderName::Authorization).is_none()
                && request
                    .headers
                    .get(&HeaderName::ProxyAuthorization)
                    .is_none()
        }
        _ => false,
    }
}

/// True when the request's To carries a tag (it belongs to a dialog).
fn has_to_tag(request: &Request) -> bool {
    request.to_addr().is_ok_and(|to| to.tag().is_some())
}

/// The IP hosts of the request's Contact URIs (names are not resolved here).
fn contact_ips(request: &Request) -> Vec<std::net::IpAddr> {
    let Ok(list) = request.contacts() else {
        return Vec::new();
    };
    // What `acl::contact_ips` makes of each host's text, without writing it out.
    list.addrs()
        .iter()
        .filter_map(|a| match &a.uri {
            Uri::Sip(u) => match &u.host {
                Host::Ipv4(ip) => Some(std::net::IpAddr::V4(*ip)),
                Host::Ipv6(ip) => Some(std::net::IpAddr::V6(*ip)),
                Host::Domain(name) => acl::contact_ips([name.as_str()]).into_iter().next(),
            },
            _ => None,
        })
        .collect()
}

/// What identification may ask of a request, worked out only when asked: identified by
/// source address, a request needs none of it.
struct Facts<'a> {
    source: SocketAddr,
    from: Option<&'a NameAddr>,
    from_domain: OnceCell<Option<String>>,
    credentials: &'a [DigestCredentials],
    request: &'a Request,
}

impl crate::identify::Facts for Facts<'_> {
    fn source(&self) -> SocketAddr {
        self.source
    }

    fn sender_user(&self) -> Option<&str> {
        match self.from.map(|f| &f.uri) {
            Some(Uri::Sip(u)) => u.user.as_deref(),
            _ => None,
        }
    }

    fn sender_domain(&self) -> Option<&str> {
        self.from_domain
            .get_or_init(|| match self.from.map(|f| &f.uri) {
                Some(Uri::Sip(u)) => Some(u.host.to_string()),
                _ => None,
            })
            .as_deref()
    }

    fn auth_users(&self) -> Vec<(&str, &str)> {
        self.credentials
            .iter()
            .map(|c| (c.username.as_str(), c.realm.as_str()))
            .collect()
    }

    fn request_uri(&self) -> Cow<'_, str> {
        Cow::Owned(self.request.uri.to_string())
    }

    fn transport_domain(&self) -> Option<&str> {
        None
    }

    fn header(&self, name: &str) -> Vec<String> {
        let wanted = HeaderName::new(name);
        self.request
            .headers
            .get_all(&wanted)
            .map(|v| String::from_utf8_lossy(v).trim().to_string())
            .collect()
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
#[path = "outgoing_tests.rs"]
mod outgoing_tests;

#[cfg(test)]
#[path = "registrations_tests.rs"]
mod registrations_tests;
