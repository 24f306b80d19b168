//! The transaction layer: matches SIP messages to transactions (RFC 3261 17.1.3, 17.2.3 and
//! the RFC 2543 fallback), creates server transactions for new requests, and answers what the
//! layer itself must (merged requests 482, Max-Forwards exhausted 483).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use foldhash::HashMap;

use super::deadlines::Deadlines;
use super::{
    ClientTsx, Output, ServerState, ServerTsx, TimerConfig, TsxEvent, TsxKind, TsxMessage,
};
use crate::sip::{
    CSeq, HeaderName, Message, Method, NameAddr, Request, Response, StatusCode, ack_for,
    response_to, top_via,
};

impl TsxMessage for Message {
    fn status(&self) -> Option<u16> {
        self.as_response().map(|r| r.status.code())
    }

    fn ack_for(request: &Self, response: &Self) -> Self {
        match (request, response) {
            (Message::Request(req), Message::Response(resp)) => {
                Message::Request(ack_for(req, resp))
            }
            _ => request.clone(),
        }
    }
}

/// Server transactions keep only the serialized messages they may have to send again: a
/// completed non-INVITE transaction lives 32 s over UDP, so at thousands of requests per
/// second what it holds matters (a parsed message would also pin the request's buffer).
impl TsxMessage for Bytes {
    fn status(&self) -> Option<u16> {
        // "SIP/2.0 NNN ..." — the status of a response we serialized ourselves.
        let code = self.strip_prefix(b"SIP/2.0 ")?.get(..3)?;
        std::str::from_utf8(code).ok()?.parse().ok()
    }

    fn ack_for(request: &Self, _response: &Self) -> Self {
        // Only client INVITE transactions build ACKs, and they hold parsed messages.
        request.clone()
    }
}

/// Identifies a server transaction. A shared handle: the layer, its timers, its merge
/// table and the TU each hold the key of every live transaction (one lives 32 s over UDP),
/// so copies are reference counts. The fields are written into one string, a single
/// allocation kept for the transaction's life (three, when they were separate strings,
/// each a cache miss to allocate again once freed 32 s later), and hashed once, when the
/// key is made: the layer's tables look a key up several times per request.
#[derive(Clone, Debug)]
pub struct ServerKey {
    hash: u64,
    /// RFC 3261 17.2.3: `METHOD branch sent-by` (an ACK is looked up under INVITE; the
    /// three are tokens, without spaces). RFC 2543 peers (no magic cookie): `\x01METHOD `
    /// then the CSeq number, Request-URI, From tag, Call-ID and top Via, each
    /// length-prefixed.
    text: Arc<str>,
}

/// Starts the text of an RFC 2543 key (a method never starts with it).
const LEGACY: char = '\x01';

impl ServerKey {
    fn from_text(text: String) -> Self {
        use std::hash::BuildHasher;
        let hash = foldhash::fast::FixedState::with_seed(0x7473_786b).hash_one(text.as_str());
        Self {
            hash,
            text: Arc::from(text),
        }
    }

    /// The key of an RFC 3261 request: its top Via's branch and sent-by, and method.
    fn branch(method: &Method, branch: &str, via: &crate::sip::Via) -> Self {
        let method = method.as_str();
        let mut text = String::with_capacity(method.len() + branch.len() + 32);
        text.push_str(method);
        text.push(' ');
        text.push_str(branch);
        text.push(' ');
        via.host.write_to(&mut text);
        if let Some(p) = via.port {
            text.push(':');
            crate::sip::push_decimal(&mut text, u64::from(p));
        }
        Self::from_text(text)
    }

    /// The key of an RFC 2543 request.
    fn legacy(method: &Method, cseq: u32, fields: [&str; 4]) -> Self {
        let mut text = String::with_capacity(64 + fields.iter().map(|f| f.len()).sum::<usize>());
        text.push(LEGACY);
        text.push_str(method.as_str());
        text.push(' ');
        crate::sip::push_decimal(&mut text, u64::from(cseq));
        for f in fields {
            text.push(' ');
            crate::sip::push_decimal(&mut text, f.len() as u64);
            text.push(':');
            text.push_str(f);
        }
        Self::from_text(text)
    }

    /// The same key for another method (a CANCEL's INVITE).
    fn with_method(&self, method: &Method) -> Self {
        let body = self.text.strip_prefix(LEGACY).unwrap_or(&self.text);
        let rest = body.find(' ').map_or("", |i| &body[i..]);
        let mut text = String::with_capacity(self.text.len() + 8);
        if self.text.starts_with(LEGACY) {
            text.push(LEGACY);
        }
        text.push_str(method.as_str());
        text.push_str(rest);
        Self::from_text(text)
    }
}

impl PartialEq for ServerKey {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.text, &other.text) || (self.hash == other.hash && self.text == other.text)
    }
}

impl Eq for ServerKey {}

impl std::hash::Hash for ServerKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Identifies a client transaction (RFC 3261 17.1.3): branch and CSeq method.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey {
    /// The branch we put in the top Via (shared: the key is copied for every output and
    /// timer of its transaction).
    pub branch: Arc<str>,
    /// The CSeq method.
    pub method: Method,
}

/// What became of an incoming message.
#[derive(Debug)]
#[non_exhaustive]
pub enum Incoming {
    /// A new request; a server transaction exists for it (INVITE: its 100 Trying is queued).
    /// The TU answers with [`TsxLayer::send_response`].
    NewRequest {
        /// The transaction.
        key: ServerKey,
        /// The request.
        request: Request,
    },
    /// A CANCEL (with its own transaction, `key`) for the INVITE transaction `invite`, if
    /// that one is still pending.
    Cancel {
        /// The CANCEL's transaction.
        key: ServerKey,
        /// The INVITE being cancelled.
        invite: Option<ServerKey>,
        /// The CANCEL.
        request: Request,
    },
    /// An ACK for a 2xx: it belongs to the dialog.
    Ack(Request),
    /// A response no client transaction owns (a 2xx retransmission for a dialog, or stray).
    StrayResponse(Response),
    /// Handled inside the layer: a retransmission absorbed or answered, an ACK for a non-2xx,
    /// or a response given to its client transaction (events follow in `poll_output`).
    Handled,
    /// The layer answered the request itself with `status` (482, 483) through transaction
    /// `key`; nothing for the TU.
    Rejected {
        /// The transaction that carries the answer.
        key: ServerKey,
        /// The status sent.
        status: StatusCode,
    },
    /// The request cannot be matched or answered (no usable Via, CSeq or Call-ID); drop it.
    Unusable,
}

/// Which transaction an output concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TsxRef {
    /// A server transaction.
    Server(ServerKey),
    /// A client transaction.
    Client(ClientKey),
}

/// Something for the caller to do.
#[derive(Debug)]
#[must_use]
pub enum LayerOutput {
    /// Send `bytes` for transaction `tsx` (to the request's source for a server transaction,
    /// per RFC 3261 18.2.2 / RFC 3581; to the next hop for a client transaction).
    Transmit {
        /// The transaction.
        tsx: TsxRef,
        /// The serialized message.
        bytes: Bytes,
    },
    /// A transaction event for the TU.
    Event {
        /// The transaction.
        tsx: TsxRef,
        /// The event.
        event: TsxEvent<Message>,
    },
}

/// (From tag, Call-ID, CSeq number, method): one copy shared by the entry and the
/// merge table.
/// (From tag, Call-ID, CSeq) of a request for merged-request detection, written into one
/// string (one allocation kept while the transaction lives): `METHOD cseq len:from-tag`
/// then the Call-ID.
type MergeKey = Arc<str>;

fn merge_text(from_tag: &str, call_id: &str, cseq: u32, method: &Method) -> MergeKey {
    let method = method.as_str();
    let mut text = String::with_capacity(method.len() + from_tag.len() + call_id.len() + 24);
    text.push_str(method);
    text.push(' ');
    crate::sip::push_decimal(&mut text, u64::from(cseq));
    text.push(' ');
    crate::sip::push_decimal(&mut text, from_tag.len() as u64);
    text.push(':');
    text.push_str(from_tag);
    text.push_str(call_id);
    Arc::from(text)
}

struct ServerEntry {
    tsx: ServerTsx<Bytes>,
    /// (From tag, Call-ID, CSeq number, method) for merged-request detection.
    merge_key: Option<MergeKey>,
    /// The deadline registered in the timer heap.
    armed: Option<Instant>,
}

struct ClientEntry {
    tsx: ClientTsx<Message>,
    armed: Option<Instant>,
}

/// The transaction table. Sans-IO: drain [`TsxLayer::poll_output`] after every call and
/// call [`TsxLayer::handle_timeout`] at [`TsxLayer::poll_timeout`].
pub struct TsxLayer {
    config: TimerConfig,
    servers: HashMap<ServerKey, ServerEntry>,
    clients: HashMap<ClientKey, ClientEntry>,
    merged: HashMap<MergeKey, ServerKey>,
    /// Deadlines of all transactions, earliest first, at a constant cost each however
    /// many transactions are alive (one lives 32 s over UDP). Entries are not removed when
    /// a transaction re-arms or ends; a popped entry whose transaction no longer has that
    /// deadline is skipped.
    timers: Deadlines<TsxRef>,
    out: VecDeque<LayerOutput>,
    /// A new INVITE transaction whose 100 (Trying) is not drained yet: drained with the
    /// next output, so that a final answer given while its request is handled replaces
    /// the 100 (see `ServerTsx::trying_queued`).
    fresh: Option<ServerKey>,
    /// Seed and counter for the To tags of the layer's own answers (sans-IO: no randomness
    /// read here).
    tag_seed: u64,
    tag_count: u64,
}

impl TsxLayer {
    /// An empty table with the `[system]` timers; `tag_seed` should be random per process.
    pub fn new(config: TimerConfig, tag_seed: u64) -> Self {
        Self {
            config,
            servers: HashMap::default(),
            clients: HashMap::default(),
            merged: HashMap::default(),
            timers: Deadlines::default(),
            out: VecDeque::new(),
            fresh: None,
            tag_seed,
            tag_count: 0,
        }
    }

    /// Number of live transactions (server, client).
    pub fn len(&self) -> (usize, usize) {
        (self.servers.len(), self.clients.len())
    }

    /// A fresh To tag.
    pub fn new_tag(&mut self) -> String {
        self.tag_count += 1;
        let mixed = (self.tag_seed ^ self.tag_count).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        hex16(mixed.rotate_left(29) ^ self.tag_seed)
    }

    /// A request arrived (`reliable`: over TCP/TLS/WS).
    pub fn handle_request(&mut self, now: Instant, request: Request, reliable: bool) -> Incoming {
        let Some(key) = server_key(&request) else {
            return Incoming::Unusable;
        };
        if request.method == Method::Ack {
            return match self.servers.get_mut(&key) {
                Some(entry) if entry.tsx.state() == ServerState::Accepted => {
                    // RFC 6026: the transaction passes the 2xx's ACK up.
                    entry.tsx.handle_ack(now, Bytes::new());
                    self.drain(&key);
                    Incoming::Ack(request)
                }
                Some(entry) => {
                    entry.tsx.handle_ack(now, Bytes::new());
                    self.drain(&key);
                    Incoming::Handled
                }
                None => Incoming::Ack(request),
            };
        }
        if let Some(entry) = self.servers.get_mut(&key) {
            entry.tsx.handle_retransmission();
            self.drain(&key);
            return Incoming::Handled;
        }
        let kind = if request.method == Method::Invite {
            TsxKind::Invite
        } else {
            TsxKind::NonInvite
        };
        let merge_key = merge_key(&request);
        // RFC 3261 8.2.2.2: same From tag, Call-ID and CSeq as a live transaction but another
        // branch, and no To tag: a request forked back to us.
        let merged = merge_key
            .as_ref()
            .and_then(|m| self.merged.get(m))
            .is_some_and(|other| *other != key);
        let max_forwards_spent = request.method != Method::Options
            && request
                .headers
                .get(&HeaderName::MaxForwards)
                .and_then(|v| crate::sip::header::typed::parse_max_forwards(v).ok())
                == Some(0);
        let rejection = if merged {
            StatusCode::new(482)
        } else if max_forwards_spent {
            StatusCode::new(483)
        } else {
            None
        };
        let trying = (kind == TsxKind::Invite && rejection.is_none())
            .then(|| StatusCode::new(100))
            .flatten()
            .map(|s| Message::Response(response_to(&request, s, None)).to_bytes());
        let tsx = ServerTsx::new(kind, reliable, self.config, trying);
        let register_merge = rejection.is_none();
        if register_merge && let Some(m) = &merge_key {
            self.merged.insert(m.clone(), key.clone());
        }
        self.servers.insert(
            key.clone(),
            ServerEntry {
                tsx,
                merge_key: merge_key.filter(|_| register_merge),
                armed: None,
            },
        );
        if let Some(status) = rejection {
            let tag = self.new_tag();
            let response = response_to(&request, status, Some(&tag));
            self.send_response(now, &key, response);
            return Incoming::Rejected { key, status };
        }
        if kind == TsxKind::Invite {
            self.flush_fresh();
            self.fresh = Some(key.clone());
        } else {
            self.drain(&key);
        }
        if request.method == Method::Cancel {
            let invite = Some(key.with_method(&Method::Invite)).filter(|k| {
                self.servers
                    .get(k)
                    .is_some_and(|e| e.tsx.state() == ServerState::Proceeding)
            });
            return Incoming::Cancel {
                key,
                invite,
                request,
            };
        }
        Incoming::NewRequest { key, request }
    }

    /// The TU answers the request of server transaction `key`. False when there is no such
    /// transaction or it already sent its final response.
    pub fn send_response(&mut self, now: Instant, key: &ServerKey, response: Response) -> bool {
        if !self.servers.contains_key(key) {
            return false;
        }
        self.send_response_bytes(now, key, Message::Response(response).to_bytes())
    }

    /// [`TsxLayer::send_response`] for a response already serialized (e.g. by
    /// [`crate::sip::response_bytes`]).
    pub fn send_response_bytes(&mut self, now: Instant, key: &ServerKey, response: Bytes) -> bool {
        let Some(entry) = self.servers.get_mut(key) else {
            return false;
        };
        let sent = entry.tsx.send_response(now, response);
        self.drain(key);
        sent
    }

    /// Sends a request through a new client transaction. `None` when its top Via has no
    /// branch or it has no CSeq (the caller builds requests with both).
    pub fn send_request(
        &mut self,
        now: Instant,
        request: Request,
        reliable: bool,
    ) -> Option<ClientKey> {
        let branch = Arc::from(request.headers.top_via_branch()?);
        let method = cseq(&request)?.method;
        let key = ClientKey { branch, method };
        let kind = if request.method == Method::Invite {
            TsxKind::Invite
        } else {
            TsxKind::NonInvite
        };
        let tsx = ClientTsx::new(now, kind, Message::Request(request), reliable, self.config);
        self.clients
            .insert(key.clone(), ClientEntry { tsx, armed: None });
        self.drain_client(&key);
        Some(key)
    }

    /// A response arrived.
    pub fn handle_response(&mut self, now: Instant, response: Response) -> Incoming {
        let key = response
            .headers
            .top_via_branch()
            .map(Arc::from)
            .zip(response.cseq().ok().map(|c| c.method.clone()))
            .map(|(branch, method)| ClientKey { branch, method });
        // The transaction's own key from here on: what the drain hands out (to timers and
        // the TU) may be kept for 64*T1, and the one parsed from the response is a second
        // allocation of the same branch.
        let Some(key) = key.and_then(|k| self.clients.get_key_value(&k).map(|(k, _)| k.clone()))
        else {
            return Incoming::StrayResponse(response);
        };
        if let Some(entry) = self.clients.get_mut(&key) {
            entry.tsx.handle_response(now, Message::Response(response));
        }
        self.drain_client(&key);
        Incoming::Handled
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<LayerOutput> {
        self.flush_fresh();
        self.out.pop_front()
    }

    /// Drains the new INVITE transaction held back by [`TsxLayer::fresh`], if any.
    fn flush_fresh(&mut self) {
        if let Some(key) = self.fresh.take() {
            self.drain(&key);
        }
    }

    /// The earliest armed deadline (possibly of a transaction that has since re-armed or
    /// ended: the wake-up is then a no-op).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Ends a client transaction without a word: no more retransmissions, no event (its
    /// user gave up on it, e.g. a qualify OPTIONS past qualify_timeout). Its timer entry
    /// is skipped when it comes due. False when there was no such transaction.
    pub fn abandon_client(&mut self, key: &ClientKey) -> bool {
        self.clients.remove(key).is_some()
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((at, owner)) = self.timers.pop_due(now) {
            match owner {
                TsxRef::Server(key) => {
                    let Some(entry) = self.servers.get_mut(&key) else {
                        continue;
                    };
                    if entry.armed != Some(at) {
                        continue;
                    }
                    entry.armed = None;
                    entry.tsx.handle_timeout(now);
                    self.drain(&key);
                }
                TsxRef::Client(key) => {
                    let Some(entry) = self.clients.get_mut(&key) else {
                        continue;
                    };
                    if entry.armed != Some(at) {
                        continue;
                    }
                    entry.armed = None;
                    entry.tsx.handle_timeout(now);
                    self.drain_client(&key);
                }
            }
        }
    }

    /// Registers `at` as the deadline of `owner`.
    fn arm(&mut self, at: Instant, owner: TsxRef) {
        self.timers.push(at, owner);
    }

    /// Moves a server transaction's outputs to the layer's queue, re-arms its timer, and
    /// forgets it once terminated.
    fn drain(&mut self, key: &ServerKey) {
        // Outputs leave in the order they were made: a held-back 100 goes first.
        if self.fresh.as_ref().is_some_and(|f| f != key) {
            self.flush_fresh();
        } else {
            self.fresh = None;
        }
        let Some(entry) = self.servers.get_mut(key) else {
            return;
        };
        while let Some(o) = entry.tsx.poll_output() {
            let tsx = TsxRef::Server(key.clone());
            let out = match o {
                Output::Transmit(bytes) => LayerOutput::Transmit { tsx, bytes },
                // The ACK itself was already handed up as `Incoming::Ack`.
                Output::Event(TsxEvent::Ack(_)) => continue,
                Output::Event(TsxEvent::Timeout) => LayerOutput::Event {
                    tsx,
                    event: TsxEvent::Timeout,
                },
                Output::Event(TsxEvent::TransportError) => LayerOutput::Event {
                    tsx,
                    event: TsxEvent::TransportError,
                },
                Output::Event(_) => LayerOutput::Event {
                    tsx,
                    event: TsxEvent::Terminated,
                },
            };
            self.out.push_back(out);
        }
        if entry.tsx.is_terminated() {
            if let Some(m) = entry.merge_key.take()
                && self.merged.get(&m) == Some(key)
            {
                self.merged.remove(&m);
            }
            self.servers.remove(key);
            return;
        }
        let next = entry.tsx.poll_timeout();
        if next != entry.armed {
            entry.armed = next;
            if let Some(at) = next {
                self.arm(at, TsxRef::Server(key.clone()));
            }
        }
    }

    fn drain_client(&mut self, key: &ClientKey) {
        self.flush_fresh();
        let Some(entry) = self.clients.get_mut(key) else {
            return;
        };
        while let Some(o) = entry.tsx.poll_output() {
            self.out.push_back(wrap(TsxRef::Client(key.clone()), o));
        }
        if entry.tsx.is_terminated() {
            self.clients.remove(key);
            return;
        }
        let next = entry.tsx.poll_timeout();
        if next != entry.armed {
            entry.armed = next;
            if let Some(at) = next {
                self.arm(at, TsxRef::Client(key.clone()));
            }
        }
    }
}

/// `format!("{v:016x}")` without the `fmt` machinery (one tag per answer).
pub(crate) fn hex16(v: u64) -> String {
    let mut out = String::with_capacity(16);
    crate::sip::push_hex(&mut out, v, 16);
    out
}

fn wrap(tsx: TsxRef, o: Output<Message>) -> LayerOutput {
    match o {
        Output::Transmit(message) => LayerOutput::Transmit {
            tsx,
            bytes: message.to_bytes(),
        },
        Output::Event(event) => LayerOutput::Event { tsx, event },
    }
}

fn cseq(request: &Request) -> Option<CSeq> {
    request
        .headers
        .get(&HeaderName::CSeq)
        .and_then(|v| CSeq::parse(v).ok())
}

fn from_tag(request: &Request) -> Option<String> {
    let from = request.headers.get(&HeaderName::From)?;
    NameAddr::parse(from, "From")
        .ok()?
        .tag()
        .map(str::to_string)
}

fn call_id(request: &Request) -> Option<String> {
    request
        .headers
        .get(&HeaderName::CallId)
        .map(|v| String::from_utf8_lossy(v).trim().to_string())
}

/// RFC 3261 17.2.3 (and the RFC 2543 fallback) key of a request.
fn server_key(request: &Request) -> Option<ServerKey> {
    // Validation's parse when the distributor kept it (the same value: the first element
    // of the first Via field), else parsed here.
    let via = match request.top_via() {
        Ok(v) => v,
        Err(_) => std::borrow::Cow::Owned(top_via(&request.headers)?),
    };
    // An ACK or CANCEL matches its INVITE's key shape; ACK is looked up under INVITE.
    let method = match request.method {
        Method::Ack => Method::Invite,
        ref m => m.clone(),
    };
    if via.has_rfc3261_branch() {
        return Some(ServerKey::branch(&method, via.branch()?, &via));
    }
    let raw_via: Bytes = request
        .headers
        .values(&HeaderName::Via)
        .into_iter()
        .next()?;
    let uri = request.uri.to_string();
    let from_tag = from_tag(request).unwrap_or_default();
    let call_id = call_id(request)?;
    let via = String::from_utf8_lossy(&raw_via);
    Some(ServerKey::legacy(
        &method,
        cseq(request)?.seq,
        [&uri, &from_tag, &call_id, via.trim()],
    ))
}

/// The merged-request key of an out-of-dialog request (no To tag), if it has a From tag.
fn merge_key(request: &Request) -> Option<MergeKey> {
    if matches!(request.method, Method::Ack | Method::Cancel) {
        return None;
    }
    // Validation's parse when the distributor kept it (To, From and CSeq are then known to
    // be single and well formed, so the first field is the only one).
    if request.is_checked()
        && let (Ok(to), Ok(from), Ok(c)) = (request.to_addr(), request.from_addr(), request.cseq())
    {
        if to.tag().is_some() {
            return None;
        }
        let call_id = request.headers.get(&HeaderName::CallId)?;
        return Some(merge_text(
            from.tag()?,
            String::from_utf8_lossy(call_id).trim(),
            c.seq,
            &c.method,
        ));
    }
    let to_has_tag = request
        .headers
        .get(&HeaderName::To)
        .and_then(|v| NameAddr::parse(v, "To").ok())
        .is_some_and(|to| to.tag().is_some());
    if to_has_tag {
        return None;
    }
    let c = cseq(request)?;
    Some(merge_text(
        &from_tag(request)?,
        &call_id(request)?,
        c.seq,
        &c.method,
    ))
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
