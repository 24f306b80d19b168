//! INVITE sessions in the core: the SIP side of calls (RFC 3261 13-15, RFC 4028). Each
//! [`Leg`] is one session; the PBX above is told what happens through
//! [`CoreEvent::Session`] and acts through the `Core::session_*` methods.
//!
//! What the core does itself, without asking the PBX: retransmit its 2xx until the ACK
//! (13.3.1.4; no ACK in 64·T1 ends the session with a BYE), acknowledge every 2xx it gets
//! (13.2.2.4, retransmissions too), answer BYE, CANCEL (200, then 487 for the INVITE),
//! INFO, in-dialog OPTIONS, out-of-order CSeqs (500), unknown dialogs (481), refresh session
//! timers and end expired ones (RFC 4028), and send CANCEL for an unanswered INVITE only
//! once a provisional response arrived (9.1).

use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::outgoing::RequestId;
use super::{Core, CoreEvent};
use crate::config::types::{Auth, Endpoint, Rel100, Timers};
use crate::dialog::Dialog;
use crate::distributor::{ALLOW, DialogKey};
use crate::session::{
    EndReason, IncomingCall, Party, Refresher, SessionEvent, SessionId, SessionTimer, State,
    TimerDecision, TimerPolicy, parse_session_expires, q850_cause, uas_timer,
};
use crate::sip::{HeaderName, Message, Method, Request, Response, StatusCode, Uri, response_with};
use crate::sorcery::Snapshot;
use crate::transport::{Flow, Transmit};
use crate::tsx::ServerKey;

/// `Supported` of our INVITEs and their answers.
const SUPPORTED: &str = "timer, replaces";

/// What a leg waits for, on its timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Due {
    /// Retransmit the reliable provisional response (or give up at the deadline).
    Retransmit1xx,
    /// Retransmit the 2xx (or give up at the deadline).
    Retransmit2xx,
    /// Our session refresh.
    Refresh,
    /// The peer's refresh is overdue.
    Expire,
    /// Our CANCEL got no final response to the INVITE in 64·T1: give up (RFC 3261 9.1).
    CancelGiveUp,
}

/// One INVITE session.
pub(super) struct Leg {
    pub state: State,
    pub dialog: Option<Dialog>,
    /// Where responses and requests go (the INVITE's flow for an incoming call; the
    /// next hop's for an outgoing one, or the peer's source with rewrite_contact).
    pub flow: Flow,
    /// What our Via and Contact show (our address, or the external one).
    pub sent_by: String,
    /// The INVITE received or sent (last sent, with credentials).
    pub invite: Request,
    /// Incoming: the INVITE's server transaction while it is not answered finally.
    pub invite_key: Option<ServerKey>,
    /// Outgoing: the INVITE's request, to CANCEL or acknowledge.
    pub request: Option<RequestId>,
    /// Outgoing: a provisional response came (a CANCEL may be sent).
    pub provisional: bool,
    /// Outgoing: hang up as soon as a provisional or final response comes.
    pub cancel_pending: bool,
    /// The 2xx we sent, retransmitted until the ACK.
    pub ok: Option<Bytes>,
    /// The server transaction the 2xx went through.
    ok_key: Option<ServerKey>,
    ok_interval: Duration,
    ok_deadline: Option<Instant>,
    /// The ACK we sent for the peer's 2xx (sent again on each 2xx retransmission).
    pub ack: Option<Bytes>,
    /// A re-INVITE or UPDATE from the peer waiting for the PBX's answer.
    pub pending_offer: Option<(ServerKey, Request)>,
    /// Our re-INVITE or UPDATE in flight.
    pub offer_sent: Option<RequestId>,
    /// The SDP we last sent (re-sent in session refreshes).
    pub local_sdp: Option<Bytes>,
    pub timer: Option<SessionTimer>,
    timer_since: Option<Instant>,
    /// Which refresh of ours is in flight.
    refresh_sent: Option<RequestId>,
    due: Option<(Instant, Due)>,
    /// How the endpoint treats requests within the dialog.
    pub rewrite_contact: bool,
    /// Incoming: provisional responses go reliably (RFC 3262; the caller supports or
    /// requires 100rel and the endpoint's `100rel` allows it).
    rel100: bool,
    /// The RSeq of our last reliable provisional response.
    rseq: u32,
    /// Our reliable provisional response not yet PRACKed: (RSeq, message, interval,
    /// deadline); retransmitted until then.
    unacked: Option<(u32, Bytes, Duration, Instant)>,
    /// Provisional responses waiting for the previous one's PRACK (RFC 3262 3).
    queued_1xx: Vec<(u16, Option<Bytes>)>,
    /// Outgoing: the last RSeq we PRACKed.
    pub last_rseq: Option<u32>,
    /// Our offer refused with 491, to send again then (with UPDATE when true).
    retry_offer: Option<(Instant, Bytes, bool)>,
    /// The requests this session sent (their responses find it through `by_request`).
    requests: Vec<RequestId>,
    /// Outgoing: the auths for challenges.
    pub auths: Vec<Auth>,
}

/// The sessions of one core.
#[derive(Default)]
pub(super) struct Calls {
    next: u64,
    pub legs: HashMap<SessionId, Leg>,
    by_dialog: HashMap<DialogKey, SessionId>,
    by_invite: HashMap<ServerKey, SessionId>,
    by_request: HashMap<RequestId, SessionId>,
    /// (when, session) of every leg's armed timer; stale entries are skipped.
    timers: BinaryHeap<std::cmp::Reverse<(Instant, SessionId)>>,
    /// Ended outgoing sessions whose 2xx may still be retransmitted: what is needed to
    /// acknowledge it again, until 64·T1 after the end (the rest of the leg is gone).
    late: HashMap<SessionId, Late>,
}

/// What is kept of an ended outgoing session to acknowledge retransmissions of its 2xx.
pub(super) struct Late {
    flow: Flow,
    ack: Bytes,
    until: Instant,
    requests: Vec<RequestId>,
}

impl Calls {
    fn new_id(&mut self) -> SessionId {
        self.next += 1;
        SessionId(self.next)
    }

    fn arm(&mut self, id: SessionId, at: Instant, what: Due) {
        if let Some(leg) = self.legs.get_mut(&id) {
            leg.due = Some((at, what));
            self.timers.push(std::cmp::Reverse((at, id)));
        }
    }

    /// The earliest timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|r| r.0.0)
    }

    /// Sends a request's responses to `session`.
    pub fn mark_request(&mut self, id: RequestId, session: SessionId) {
        self.by_request.insert(id, session);
        if let Some(leg) = self.legs.get_mut(&session) {
            leg.requests.push(id);
        }
    }

    /// Undoes [`Calls::mark_request`] (the request could not be sent).
    pub fn unmark_request(&mut self, id: RequestId) {
        self.by_request.remove(&id);
    }

    /// A session's INVITE was sent again (with credentials): CANCEL and ACK follow it.
    pub fn request_resent(&mut self, id: RequestId, request: &Request) {
        if let Some(leg) = self.by_request.get(&id).and_then(|s| self.legs.get_mut(s))
            && leg.request == Some(id)
        {
            leg.invite = request.clone();
        }
    }

    /// Number of sessions not yet forgotten.
    pub fn len(&self) -> usize {
        self.legs.len() + self.late.len()
    }
}

/// The text form of a socket address in a URI (`[v6]:port`).
pub fn hostport(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

/// A header's value as text.
fn header(r: &crate::sip::Headers, name: &HeaderName) -> Option<String> {
    r.get(name)
        .map(|v| String::from_utf8_lossy(v).trim().to_string())
}

/// The endpoint's session-timer policy.
pub(crate) fn timer_policy(e: &Endpoint) -> TimerPolicy {
    TimerPolicy {
        enabled: e.timers != Timers::No,
        always: matches!(e.timers, Timers::Always | Timers::Required),
        min_se: e.timers_min_se,
        session_expires: e.timers_sess_expires,
    }
}

/// What the PBX gives to send an INVITE.
#[derive(Clone, Debug)]
pub struct OutgoingCall {
    /// The endpoint whose options apply.
    pub endpoint: String,
    /// The Request-URI (and To).
    pub uri: Uri,
    /// Route header values (a contact's Path, or the endpoint's outbound proxy).
    pub route: Vec<String>,
    /// The flow to send on and our address on it.
    pub flow: Flow,
    /// Our address on `flow`.
    pub local: SocketAddr,
    /// The caller presented.
    pub caller: Party,
    /// The SDP offer.
    pub sdp: Option<Bytes>,
    /// Extra header fields (`PJSIP_HEADER(add,...)`).
    pub headers: Vec<(String, String)>,
}

impl Core {
    /// The next event should be about sessions: a shortcut for `self.events.push_back`.
    fn session_event(&mut self, event: SessionEvent) {
        self.events.push_back(CoreEvent::Session(event));
    }

    /// The Via value (without branch) of our requests on `leg`'s flow.
    fn via_for(flow: &Flow, sent_by: &str) -> String {
        format!("SIP/2.0/{} {sent_by};rport", flow.protocol_name())
    }

    /// What our Via sent-by and Contact show on `flow` (Asterisk's NAT transmit hook,
    /// asterisk-pjsip.md 8.2): the transport's `external_signaling_address` (and
    /// `external_signaling_port`) unless the peer is inside its `local_net`; else `local`.
    pub(crate) fn sent_by(snapshot: &Snapshot, flow: &Flow, local: SocketAddr) -> String {
        match external(snapshot, &flow.transport, flow.remote.ip()) {
            Some(t) if !t.external_signaling_address.is_empty() => {
                let port = match t.external_signaling_port {
                    0 => local.port(),
                    p => p,
                };
                let host = &t.external_signaling_address;
                if host.contains(':') && !host.starts_with('[') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                }
            }
            _ => hostport(local),
        }
    }

    /// The address our SDP towards `peer` over transport `transport` shows instead of our
    /// own: the transport's `external_media_address` unless the peer is inside
    /// `local_net`.
    pub fn external_media_address(
        snapshot: &Snapshot,
        transport: &str,
        peer: std::net::IpAddr,
    ) -> Option<std::net::IpAddr> {
        external(snapshot, transport, peer)?
            .external_media_address
            .parse()
            .ok()
    }

    /// Our Contact on a flow: `<sip:[user@]addr[;transport=x]>`.
    pub(crate) fn contact_for(flow: &Flow, sent_by: &str, user: &str) -> String {
        let user = if user.is_empty() {
            String::new()
        } else {
            format!("{user}@")
        };
        let transport = match flow.protocol_name() {
            "UDP" => String::new(),
            p => format!(";transport={}", p.to_ascii_lowercase()),
        };
        format!("<sip:{user}{sent_by}{transport}>")
    }

    /// A new INVITE out of dialog from an identified, authenticated endpoint.
    pub(super) fn incoming_invite(
        &mut self,
        now: Instant,
        snapshot: &Snapshot,
        key: &ServerKey,
        request: &Request,
        flow: &Flow,
        endpoint: &str,
    ) {
        let Some(ep) = snapshot.endpoint(endpoint) else {
            self.reply(now, key, request, 500, &[], None);
            return;
        };
        if self.backlog > super::BUSY_BACKLOG {
            let retry = [(HeaderName::RetryAfter, Bytes::from_static(b"5"))];
            self.reply(now, key, request, 503, &retry, None);
            return;
        }
        if !matches!(request.uri, Uri::Sip(_) | Uri::Tel(_)) {
            self.reply(now, key, request, 416, &[], None);
            return;
        }
        if !request.body.is_empty() {
            let sdp = request
                .headers
                .content_type()
                .ok()
                .flatten()
                .is_some_and(|t| t.is("application", "sdp"));
            if !sdp {
                let accept = [(HeaderName::Accept, Bytes::from_static(b"application/sdp"))];
                self.reply(now, key, request, 415, &accept, None);
                return;
            }
        }
        // Extensions we must understand (RFC 3261 8.2.2.3).
        let required = request
            .headers
            .tokens(&HeaderName::Require)
            .unwrap_or_default();
        let rel100_ok = ep.rel100 != Rel100::No;
        let unsupported: Vec<&String> = required
            .iter()
            .filter(|t| {
                let t = t.to_ascii_lowercase();
                !(t == "timer" || t == "replaces" || (t == "100rel" && rel100_ok))
            })
            .collect();
        if !unsupported.is_empty() {
            let list = unsupported
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            self.reply(
                now,
                key,
                request,
                420,
                &[(HeaderName::Unsupported, Bytes::from(list))],
                None,
            );
            return;
        }
        let supported_list = request
            .headers
            .tokens(&HeaderName::Supported)
            .unwrap_or_default();
        let supported = supported_list
            .iter()
            .any(|t| t.eq_ignore_ascii_case("timer"));
        let rel100 = rel100_ok
            && supported_list
                .iter()
                .chain(required.iter())
                .any(|t| t.eq_ignore_ascii_case("100rel"));
        let se = header(&request.headers, &HeaderName::new("Session-Expires"))
            .and_then(|v| parse_session_expires(&v));
        let timer = match uas_timer(
            &timer_policy(ep),
            se.as_ref().map(|(s, r)| (*s, r.as_deref())),
            supported,
        ) {
            TimerDecision::TooSmall(min) => {
                let h = [(HeaderName::new("Min-SE"), Bytes::from(min.to_string()))];
                self.reply(now, key, request, 422, &h, None);
                return;
            }
            TimerDecision::None => None,
            TimerDecision::Use {
                interval,
                uac_refreshes,
            } => Some(SessionTimer {
                interval: Duration::from_secs(u64::from(interval)),
                refresher: if uac_refreshes {
                    Refresher::Them
                } else {
                    Refresher::Us
                },
            }),
        };
        let local = self
            .network
            .route(Some(&flow.transport), flow.remote)
            .map(|(_, local)| local)
            .unwrap_or(flow.remote);
        let tag = self.tsx.new_tag();
        let sent_by = Self::sent_by(snapshot, flow, local);
        let contact = Self::contact_for(flow, &sent_by, &ep.contact_user);
        let mut dialog = match Dialog::uas(request, &tag, &contact, self.cseq_start()) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!("INVITE refused: {e}");
                self.reply(now, key, request, 400, &[], None);
                return;
            }
        };
        let mut leg_flow = flow.clone();
        if ep.rewrite_contact {
            // The dialog's target becomes the packet's source (res_pjsip_nat).
            if let Uri::Sip(mut u) = dialog.remote_target.clone() {
                u.host = match flow.remote.ip() {
                    std::net::IpAddr::V4(ip) => crate::sip::Host::Ipv4(ip),
                    std::net::IpAddr::V6(ip) => crate::sip::Host::Ipv6(ip),
                };
                u.port = Some(flow.remote.port());
                dialog.remote_target = Uri::Sip(u);
            }
        } else if !flow.is_reliable()
            && let Some(f) = self.target_flow(&dialog, &flow.transport)
        {
            leg_flow = f;
        }
        let id = self.calls.new_id();
        let exten = match &request.uri {
            Uri::Sip(u) => u
                .user_decoded()
                .map(|u| String::from_utf8_lossy(&u).into_owned())
                .unwrap_or_default(),
            Uri::Tel(t) => t.number.clone(),
            _ => String::new(),
        };
        let exten = match exten.split_once(';') {
            Some((e, _)) if crate::identify::global(snapshot).ignore_uri_user_options => {
                e.to_string()
            }
            _ => exten,
        };
        let caller = caller_of(request, ep.trust_id_inbound);
        let dkey = DialogKey::new(&dialog.call_id, &dialog.local_tag);
        self.dialogs.insert(dkey.clone(), self.queue);
        self.calls.by_dialog.insert(dkey, id);
        self.calls.by_invite.insert(key.clone(), id);
        self.calls.legs.insert(
            id,
            Leg {
                state: State::Incoming,
                dialog: Some(dialog),
                flow: leg_flow,
                sent_by: sent_by.clone(),
                invite: request.clone(),
                invite_key: Some(key.clone()),
                request: None,
                provisional: false,
                cancel_pending: false,
                ok: None,
                ok_key: None,
                ok_interval: self.timers.t1,
                ok_deadline: None,
                ack: None,
                pending_offer: None,
                offer_sent: None,
                local_sdp: None,
                timer,
                timer_since: None,
                refresh_sent: None,
                due: None,
                rewrite_contact: ep.rewrite_contact,
                rel100,
                rseq: 0,
                unacked: None,
                queued_1xx: Vec::new(),
                last_rseq: None,
                retry_offer: None,
                requests: Vec::new(),
                auths: Vec::new(),
            },
        );
        let headers = request
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect();
        self.session_event(SessionEvent::Incoming(Box::new(IncomingCall {
            id,
            endpoint: endpoint.to_string(),
            exten: if exten.is_empty() { "s".into() } else { exten },
            caller,
            offer: (!request.body.is_empty()).then(|| request.body.clone()),
            source: flow.remote,
            transport: flow.transport.to_string(),
            headers,
        })));
    }

    /// A random-enough start for our CSeq numbers in a dialog.
    fn cseq_start(&mut self) -> u32 {
        let t = self.tsx.new_tag();
        u32::from_str_radix(t.get(..4).unwrap_or("1"), 16).unwrap_or(1) + 1
    }

    /// The flow towards a dialog's next hop (first route, else remote target), when its
    /// host is an address or a name resolved at load.
    fn target_flow(&self, dialog: &Dialog, transport: &str) -> Option<Flow> {
        let Uri::Sip(u) = dialog.next_hop() else {
            return None;
        };
        let ip = match &u.host {
            crate::sip::Host::Ipv4(ip) => std::net::IpAddr::V4(*ip),
            crate::sip::Host::Ipv6(ip) => std::net::IpAddr::V6(*ip),
            crate::sip::Host::Domain(name) => self.network.resolve(name)?,
        };
        let port = u.port.unwrap_or(if u.secure { 5061 } else { 5060 });
        self.network
            .route(Some(transport), SocketAddr::new(ip, port))
            .map(|(f, _)| f)
    }

    /// Sends a response to a request of a session through its server transaction, with
    /// extra header fields and an optional SDP body.
    fn reply(
        &mut self,
        now: Instant,
        key: &ServerKey,
        request: &Request,
        status: u16,
        extra: &[(HeaderName, Bytes)],
        tag: Option<&str>,
    ) -> Option<Bytes> {
        self.reply_body(now, key, request, status, extra, tag, None)
    }

    #[allow(clippy::too_many_arguments)]
    fn reply_body(
        &mut self,
        now: Instant,
        key: &ServerKey,
        request: &Request,
        status: u16,
        extra: &[(HeaderName, Bytes)],
        tag: Option<&str>,
        sdp: Option<&Bytes>,
    ) -> Option<Bytes> {
        let status = StatusCode::new(status)?;
        let generated;
        let tag = match tag {
            Some(t) => t,
            None => {
                generated = self.tsx.new_tag();
                &generated
            }
        };
        let mut msg = Message::Response(response_with(request, status, Some(tag), extra));
        if let Some(body) = sdp {
            msg.headers_mut().remove(&HeaderName::ContentLength);
            msg.headers_mut().push(
                HeaderName::ContentType,
                Bytes::from_static(b"application/sdp"),
            );
            msg.set_body(body.clone());
        }
        let bytes = msg.to_bytes();
        let _ = self.tsx.send_response_bytes(now, key, bytes.clone());
        Some(bytes)
    }

    /// Header fields of our answers to an INVITE.
    fn answer_headers(&self, leg: &Leg, status: u16) -> Vec<(HeaderName, Bytes)> {
        let mut h = Vec::new();
        if status > 100 && status < 300 {
            if let Some(d) = &leg.dialog {
                h.push((HeaderName::Contact, Bytes::from(d.local_contact.clone())));
            }
            h.push((HeaderName::Allow, Bytes::from_static(ALLOW.as_bytes())));
        }
        if (200..300).contains(&status) {
            h.push((
                HeaderName::Supported,
                Bytes::from_static(SUPPORTED.as_bytes()),
            ));
            if let Some(t) = leg.timer {
                let who = match t.refresher {
                    Refresher::Them => "uac",
                    Refresher::Us => "uas",
                };
                h.push((HeaderName::Require, Bytes::from_static(b"timer")));
                h.push((
                    HeaderName::new("Session-Expires"),
                    Bytes::from(format!("{};refresher={who}", t.interval.as_secs())),
                ));
            }
        }
        h
    }

    /// Sends a provisional response (180, 183 with early-media SDP) to an incoming call.
    pub fn session_progress(
        &mut self,
        now: Instant,
        id: SessionId,
        status: u16,
        sdp: Option<Bytes>,
    ) {
        let Some(leg) = self.calls.legs.get_mut(&id) else {
            return;
        };
        let (Some(key), State::Incoming) = (leg.invite_key.clone(), leg.state) else {
            return;
        };
        if leg.rel100 && leg.unacked.is_some() {
            // One reliable provisional at a time (RFC 3262 3): this one waits its PRACK.
            leg.queued_1xx.push((status, sdp));
            return;
        }
        let reliable = leg.rel100 && status > 100;
        if reliable {
            leg.rseq += 1;
        }
        let rseq = leg.rseq;
        let Some(leg) = self.calls.legs.get(&id) else {
            return;
        };
        let mut headers = self.answer_headers(leg, status);
        if reliable {
            headers.push((HeaderName::Require, Bytes::from_static(b"100rel")));
            headers.push((HeaderName::RSeq, Bytes::from(rseq.to_string())));
        }
        let tag = leg.dialog.as_ref().map(|d| d.local_tag.clone());
        let invite = leg.invite.clone();
        let sent = self.reply_body(
            now,
            &key,
            &invite,
            status,
            &headers,
            tag.as_deref(),
            sdp.as_ref(),
        );
        let t1 = self.timers.t1;
        if let Some(leg) = self.calls.legs.get_mut(&id) {
            if sdp.is_some() {
                leg.local_sdp = sdp;
            }
            if reliable && let Some(bytes) = sent {
                leg.unacked = Some((rseq, bytes, t1, now + 64 * t1));
                self.calls.arm(id, now + t1, Due::Retransmit1xx);
            }
        }
        self.drain(now);
    }

    /// Answers an incoming call with 200 and `sdp`; retransmitted until the ACK.
    pub fn session_answer(&mut self, now: Instant, id: SessionId, sdp: Option<Bytes>) {
        let Some(leg) = self.calls.legs.get(&id) else {
            return;
        };
        let (Some(key), State::Incoming) = (leg.invite_key.clone(), leg.state) else {
            return;
        };
        let headers = self.answer_headers(leg, 200);
        let tag = leg.dialog.as_ref().map(|d| d.local_tag.clone());
        let invite = leg.invite.clone();
        let sent = self.reply_body(
            now,
            &key,
            &invite,
            200,
            &headers,
            tag.as_deref(),
            sdp.as_ref(),
        );
        let t1 = self.timers.t1;
        let reliable = self
            .calls
            .legs
            .get(&id)
            .is_some_and(|l| l.flow.is_reliable());
        if let Some(leg) = self.calls.legs.get_mut(&id) {
            leg.state = State::Answered;
            leg.ok = sent;
            leg.ok_key = Some(key.clone());
            leg.ok_interval = t1;
            leg.ok_deadline = Some(now + 64 * t1);
            if sdp.is_some() {
                leg.local_sdp = sdp;
            }
        }
        self.calls.by_invite.remove(&key);
        // Over a reliable transport the 2xx is not retransmitted, but the ACK is still
        // awaited for 64·T1 (13.3.1.4).
        let at = if reliable { now + 64 * t1 } else { now + t1 };
        self.calls.arm(id, at, Due::Retransmit2xx);
        self.drain(now);
    }

    /// Refuses an incoming call (final non-2xx), or hangs up any other session: BYE once
    /// established, CANCEL (or a BYE after a late 2xx) for an outgoing INVITE. `q850`
    /// goes into a `Reason` header.
    pub fn session_end(&mut self, now: Instant, id: SessionId, status: u16, q850: Option<u16>) {
        let Some(leg) = self.calls.legs.get(&id) else {
            return;
        };
        let reason = q850.map(|c| {
            (
                HeaderName::new("Reason"),
                Bytes::from(format!("Q.850;cause={c}")),
            )
        });
        match leg.state {
            State::Incoming => {
                if let Some(key) = leg.invite_key.clone() {
                    let tag = leg.dialog.as_ref().map(|d| d.local_tag.clone());
                    let invite = leg.invite.clone();
                    let extra: Vec<_> = reason.into_iter().collect();
                    self.reply(now, &key, &invite, status.max(300), &extra, tag.as_deref());
                    self.calls.by_invite.remove(&key);
                }
                self.finish(now, id);
            }
            State::Outgoing => {
                let provisional = leg.provisional;
                if provisional {
                    self.send_cancel(now, id, reason);
                } else if let Some(leg) = self.calls.legs.get_mut(&id) {
                    leg.cancel_pending = true;
                }
            }
            State::Answered | State::Confirmed => {
                let extra: Vec<_> = reason.into_iter().collect();
                self.send_in_dialog(now, id, Method::Bye, &extra, None);
                if let Some(leg) = self.calls.legs.get_mut(&id) {
                    leg.state = State::Ending;
                    leg.ok = None;
                }
            }
            State::Ending | State::Ended => {}
        }
        self.drain(now);
    }

    /// Answers the offer of a re-INVITE or UPDATE (`None`: refuse it with 488).
    pub fn session_answer_offer(&mut self, now: Instant, id: SessionId, sdp: Option<Bytes>) {
        let Some(leg) = self.calls.legs.get_mut(&id) else {
            return;
        };
        let Some((key, request)) = leg.pending_offer.take() else {
            return;
        };
        let tag = leg.dialog.as_ref().map(|d| d.local_tag.clone());
        let Some(leg) = self.calls.legs.get(&id) else {
            return;
        };
        let headers = self.answer_headers(leg, 200);
        match sdp {
            Some(sdp) => {
                let sent = self.reply_body(
                    now,
                    &key,
                    &request,
                    200,
                    &headers,
                    tag.as_deref(),
                    Some(&sdp),
                );
                let t1 = self.timers.t1;
                if let Some(leg) = self.calls.legs.get_mut(&id) {
                    leg.local_sdp = Some(sdp);
                    if request.method == Method::Invite {
                        leg.state = State::Answered;
                        leg.ok = sent;
                        leg.ok_key = Some(key.clone());
                        leg.ok_interval = t1;
                        leg.ok_deadline = Some(now + 64 * t1);
                    }
                }
                if request.method == Method::Invite {
                    self.calls.arm(id, now + self.timers.t1, Due::Retransmit2xx);
                }
            }
            None => {
                self.reply(now, &key, &request, 488, &[], tag.as_deref());
            }
        }
        self.drain(now);
    }

    /// Sends an offer within an established session: a re-INVITE, or UPDATE when
    /// `update` (hold, resume, direct media). The answer comes as
    /// [`SessionEvent::OfferAnswered`].
    pub fn session_offer(&mut self, now: Instant, id: SessionId, sdp: Bytes, update: bool) -> bool {
        let ok = self
            .calls
            .legs
            .get(&id)
            .is_some_and(|l| l.state == State::Confirmed && l.offer_sent.is_none());
        if !ok {
            return false;
        }
        let method = if update {
            Method::Update
        } else {
            Method::Invite
        };
        let extra = vec![
            (HeaderName::Allow, Bytes::from_static(ALLOW.as_bytes())),
            (
                HeaderName::Supported,
                Bytes::from_static(SUPPORTED.as_bytes()),
            ),
        ];
        let rid = self.send_in_dialog(now, id, method, &extra, Some(&sdp));
        if let Some(leg) = self.calls.legs.get_mut(&id) {
            leg.offer_sent = rid;
            leg.local_sdp = Some(sdp);
        }
        if let Some(rid) = rid {
            self.calls.mark_request(rid, id);
        }
        self.drain(now);
        rid.is_some()
    }

    /// Sends an INFO within an established session.
    pub fn session_info(&mut self, now: Instant, id: SessionId, content_type: &str, body: Bytes) {
        let extra = [(
            HeaderName::ContentType,
            Bytes::from(content_type.to_string()),
        )];
        let _ = self.send_in_dialog_typed(now, id, Method::Info, &extra, Some(&body));
        self.drain(now);
    }

    /// Sends a request within a session's dialog (through a client transaction); its
    /// outcome comes back through `client_event` as a session request.
    fn send_in_dialog(
        &mut self,
        now: Instant,
        id: SessionId,
        method: Method,
        extra: &[(HeaderName, Bytes)],
        sdp: Option<&Bytes>,
    ) -> Option<RequestId> {
        let mut extra = extra.to_vec();
        if sdp.is_some() {
            extra.push((
                HeaderName::ContentType,
                Bytes::from_static(b"application/sdp"),
            ));
        }
        self.send_in_dialog_typed(now, id, method, &extra, sdp)
    }

    fn send_in_dialog_typed(
        &mut self,
        now: Instant,
        id: SessionId,
        method: Method,
        extra: &[(HeaderName, Bytes)],
        body: Option<&Bytes>,
    ) -> Option<RequestId> {
        let leg = self.calls.legs.get_mut(&id)?;
        let via = Self::via_for(&leg.flow, &leg.sent_by);
        let dialog = leg.dialog.as_mut()?;
        // The Content-Type goes with the body (Dialog::request writes both).
        let content_type = extra
            .iter()
            .find(|(n, _)| *n == HeaderName::ContentType)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned());
        let others: Vec<(HeaderName, String)> = extra
            .iter()
            .filter(|(n, _)| *n != HeaderName::ContentType)
            .map(|(n, v)| (n.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect();
        let request = match dialog.request(
            method,
            &via,
            &others,
            body.map(|b| (content_type.as_deref().unwrap_or("application/sdp"), b)),
            None,
        ) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("cannot build a request in the dialog: {e}");
                return None;
            }
        };
        let flow = leg.flow.clone();
        let auths = leg.auths.clone();
        let rid = self.send_request(now, flow, request, auths)?;
        self.calls.mark_request(rid, id);
        Some(rid)
    }

    /// CANCEL for an outgoing INVITE (same Request-URI, Call-ID, From, To, CSeq number,
    /// top Via and Route as the INVITE, RFC 3261 9.1).
    fn send_cancel(&mut self, now: Instant, id: SessionId, reason: Option<(HeaderName, Bytes)>) {
        let Some(leg) = self.calls.legs.get_mut(&id) else {
            return;
        };
        leg.state = State::Ending;
        leg.cancel_pending = false;
        let invite = &leg.invite;
        let mut text = format!("CANCEL {} SIP/2.0\r\n", invite.uri);
        for name in [
            HeaderName::Via,
            HeaderName::From,
            HeaderName::To,
            HeaderName::CallId,
        ] {
            if let Some(v) = invite.headers.get(&name) {
                text.push_str(&format!(
                    "{}: {}\r\n",
                    name.as_str(),
                    String::from_utf8_lossy(v)
                ));
            }
        }
        let seq = invite.headers.cseq().map(|c| c.seq).unwrap_or(1);
        text.push_str(&format!("CSeq: {seq} CANCEL\r\nMax-Forwards: 70\r\n"));
        for r in invite.headers.get_all(&HeaderName::Route) {
            text.push_str(&format!("Route: {}\r\n", String::from_utf8_lossy(r)));
        }
        if let Some((n, v)) = reason {
            text.push_str(&format!(
                "{}: {}\r\n",
                n.as_str(),
                String::from_utf8_lossy(&v)
            ));
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        let flow = leg.flow.clone();
        if let Ok(Message::Request(cancel)) = Message::parse(Bytes::from(text)) {
            // Same branch as the INVITE: its own client transaction (method CANCEL).
            let _ = self.send_request_keep_branch(now, flow, cancel);
        }
        let at = now + 64 * self.timers.t1;
        self.calls.arm(id, at, Due::CancelGiveUp);
    }

    /// Sends an INVITE for the PBX (an outgoing call leg).
    pub fn session_invite(
        &mut self,
        now: Instant,
        snapshot: &Snapshot,
        call: OutgoingCall,
    ) -> Option<SessionId> {
        let ep = snapshot.endpoint(&call.endpoint)?;
        let g = crate::identify::global(snapshot);
        let local = hostport(call.local);
        let tag = self.tsx.new_tag();
        let call_id = format!("{}-{}", self.tsx.new_tag(), self.tsx.new_tag());
        // From: callerid of the endpoint (or the caller), from_user/from_domain.
        let (cid_name, cid_num) = split_callerid(&ep.callerid);
        let number = if !ep.from_user.is_empty() {
            ep.from_user.clone()
        } else if !cid_num.is_empty() {
            cid_num.clone()
        } else if !call.caller.number.is_empty() {
            call.caller.number.clone()
        } else {
            g.default_from_user.clone()
        };
        let name = if !cid_name.is_empty() {
            cid_name
        } else {
            call.caller.name.clone()
        };
        let domain = if ep.from_domain.is_empty() {
            local.clone()
        } else {
            ep.from_domain.clone()
        };
        let display = if name.is_empty() {
            String::new()
        } else {
            format!("\"{}\" ", name.replace(['"', '\\'], ""))
        };
        let from_uri = format!("sip:{}@{domain}", escape_user(&number));
        let sent_by = Self::sent_by(snapshot, &call.flow, call.local);
        let contact = Self::contact_for(&call.flow, &sent_by, &ep.contact_user);
        let mut text = format!(
            "INVITE {uri} SIP/2.0\r\nVia: {via};branch=z9hG4bKpending\r\nMax-Forwards: 70\r\n\
             From: {display}<{from_uri}>;tag={tag}\r\nTo: <{uri}>\r\nContact: {contact}\r\n\
             Call-ID: {call_id}\r\nCSeq: {seq} INVITE\r\nAllow: {ALLOW}\r\nSupported: {SUPPORTED}{rel}\r\n",
            rel = if ep.rel100 == Rel100::No {
                ""
            } else {
                ", 100rel"
            },
            uri = call.uri,
            via = Self::via_for(&call.flow, &sent_by),
            seq = self.cseq_start(),
        );
        for r in &call.route {
            text.push_str(&format!("Route: {r}\r\n"));
        }
        if ep.rel100 == Rel100::Required {
            text.push_str("Require: 100rel\r\n");
        }
        if ep.timers != Timers::No {
            text.push_str(&format!(
                "Session-Expires: {}\r\nMin-SE: {}\r\n",
                ep.timers_sess_expires, ep.timers_min_se
            ));
        }
        // Identity (send_pai / send_rpid) of the caller.
        if !call.caller.number.is_empty() {
            let id_uri = format!("sip:{}@{domain}", escape_user(&call.caller.number));
            let id_display = if call.caller.name.is_empty() {
                String::new()
            } else {
                format!("\"{}\" ", call.caller.name.replace(['"', '\\'], ""))
            };
            if ep.send_pai {
                text.push_str(&format!("P-Asserted-Identity: {id_display}<{id_uri}>\r\n"));
            }
            if ep.send_rpid {
                text.push_str(&format!(
                    "Remote-Party-ID: {id_display}<{id_uri}>;party=calling;privacy=off;screen=no\r\n"
                ));
            }
        }
        for (n, v) in &call.headers {
            if HeaderName::new(n)
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_graphic())
                && !v.contains(['\r', '\n'])
            {
                text.push_str(&format!("{n}: {v}\r\n"));
            }
        }
        text.push_str(&format!("User-Agent: {}\r\n", g.user_agent));
        let mut buf = text.into_bytes();
        match &call.sdp {
            Some(sdp) => {
                buf.extend_from_slice(
                    format!(
                        "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n",
                        sdp.len()
                    )
                    .as_bytes(),
                );
                buf.extend_from_slice(sdp);
            }
            None => buf.extend_from_slice(b"Content-Length: 0\r\n\r\n"),
        }
        let invite = match Message::parse(Bytes::from(buf)) {
            Ok(Message::Request(r)) => r,
            other => {
                tracing::warn!(
                    "Endpoint '{}': the INVITE built is not valid SIP ({:?})",
                    call.endpoint,
                    other.err()
                );
                return None;
            }
        };
        let auths = outbound_auths(snapshot, ep.outbound_auth.0.iter());
        let id = self.calls.new_id();
        self.dialogs
            .insert(DialogKey::new(&call_id, &tag), self.queue);
        self.calls
            .by_dialog
            .insert(DialogKey::new(&call_id, &tag), id);
        self.calls.legs.insert(
            id,
            Leg {
                state: State::Outgoing,
                dialog: None,
                flow: call.flow.clone(),
                sent_by: sent_by.clone(),
                invite: invite.clone(),
                invite_key: None,
                request: None,
                provisional: false,
                cancel_pending: false,
                ok: None,
                ok_key: None,
                ok_interval: self.timers.t1,
                ok_deadline: None,
                ack: None,
                pending_offer: None,
                offer_sent: None,
                local_sdp: call.sdp.clone(),
                timer: None,
                timer_since: None,
                refresh_sent: None,
                due: None,
                rewrite_contact: ep.rewrite_contact,
                rel100: false,
                rseq: 0,
                unacked: None,
                queued_1xx: Vec::new(),
                last_rseq: None,
                retry_offer: None,
                requests: Vec::new(),
                auths: auths.clone(),
            },
        );
        let rid = self.send_request_session(now, call.flow, invite, auths, id);
        match rid {
            Some(rid) => {
                let sent = self.sent_request(rid).cloned();
                if let Some(leg) = self.calls.legs.get_mut(&id) {
                    leg.request = Some(rid);
                    if let Some(r) = sent {
                        leg.invite = r;
                    }
                }
                self.calls.mark_request(rid, id);
                Some(id)
            }
            None => {
                self.forget(id);
                None
            }
        }
    }

    /// A request within a dialog (To tag) or an ACK: `true` when it belongs to a session
    /// of this core (and was handled).
    pub(super) fn session_request(
        &mut self,
        now: Instant,
        key: Option<&ServerKey>,
        request: &Request,
        flow: &Flow,
    ) -> bool {
        let Ok(to) = request.to_addr() else {
            return false;
        };
        let Some(tag) = to.tag().map(str::to_string) else {
            return false;
        };
        drop(to);
        let call_id = request.headers.call_id().unwrap_or_default().to_string();
        let dkey = DialogKey::new(&call_id, &tag);
        let Some(&id) = self.calls.by_dialog.get(&dkey) else {
            if let Some(key) = key
                && request.method != Method::Ack
            {
                self.reply(now, key, request, 481, &[], None);
            }
            return key.is_some();
        };
        let seq = request.headers.cseq().map(|c| c.seq).unwrap_or(0);
        if request.method == Method::Ack {
            self.on_ack(now, id, request);
            return true;
        }
        let Some(key) = key else {
            return true;
        };
        let Some(leg) = self.calls.legs.get_mut(&id) else {
            self.reply(now, key, request, 481, &[], None);
            return true;
        };
        let tag = leg.dialog.as_ref().map(|d| d.local_tag.clone());
        if let Some(d) = leg.dialog.as_mut()
            && !d.accept_remote_cseq(seq)
        {
            self.reply(now, key, request, 500, &[], tag.as_deref());
            return true;
        }
        if leg.rewrite_contact && leg.flow.remote != flow.remote && !flow.is_reliable() {
            leg.flow = flow.clone();
        }
        match request.method {
            Method::Bye => {
                self.reply(now, key, request, 200, &[], tag.as_deref());
                let q850 = header(&request.headers, &HeaderName::new("Reason"))
                    .and_then(|r| q850_cause(&r));
                let answered = matches!(
                    self.calls.legs.get(&id).map(|l| l.state),
                    Some(State::Answered | State::Confirmed | State::Ending)
                );
                if answered {
                    self.session_event(SessionEvent::Ended {
                        id,
                        why: EndReason::Bye,
                        q850,
                    });
                } else {
                    // A BYE in an early dialog ends the call (RFC 3261 15).
                    if let Some(k) = self.calls.legs.get(&id).and_then(|l| l.invite_key.clone()) {
                        let invite = self.calls.legs.get(&id).map(|l| l.invite.clone());
                        if let Some(invite) = invite {
                            self.reply(now, &k, &invite, 487, &[], tag.as_deref());
                        }
                    }
                    self.session_event(SessionEvent::Failed {
                        id,
                        status: 487,
                        q850,
                    });
                }
                self.finish(now, id);
            }
            Method::Info => {
                self.reply(now, key, request, 200, &[], tag.as_deref());
                let content_type =
                    header(&request.headers, &HeaderName::ContentType).unwrap_or_default();
                self.session_event(SessionEvent::Info {
                    id,
                    content_type,
                    body: request.body.clone(),
                });
            }
            Method::Options => {
                let h = [
                    (HeaderName::Allow, Bytes::from_static(ALLOW.as_bytes())),
                    (HeaderName::Accept, Bytes::from_static(b"application/sdp")),
                    (
                        HeaderName::Supported,
                        Bytes::from_static(SUPPORTED.as_bytes()),
                    ),
                ];
                self.reply(now, key, request, 200, &h, tag.as_deref());
            }
            Method::Invite | Method::Update => {
                let busy = leg.pending_offer.is_some()
                    || leg.offer_sent.is_some()
                    || (request.method == Method::Invite && leg.state != State::Confirmed);
                if busy {
                    // Glare (RFC 3261 14.2): 491; a re-INVITE while one is pending is
                    // 500 with Retry-After (14.2) — 491 covers both for the peer.
                    self.reply(now, key, request, 491, &[], tag.as_deref());
                    return true;
                }
                if let Some(d) = leg.dialog.as_mut() {
                    d.refresh_target(&request.headers);
                }
                // A refresh of the session timer (RFC 4028: any re-INVITE/UPDATE).
                leg.timer_since = Some(now);
                leg.pending_offer = Some((key.clone(), request.clone()));
                let sdp = (!request.body.is_empty()).then(|| request.body.clone());
                self.rearm_session_timer(now, id);
                self.session_event(SessionEvent::Offer { id, sdp });
            }
            Method::Prack => {
                // RAck: response-num CSeq-num method (RFC 3262 7.2).
                let rack = header(&request.headers, &HeaderName::RAck).unwrap_or_default();
                let rseq: Option<u32> = rack.split_whitespace().next().and_then(|n| n.parse().ok());
                let matches = leg.unacked.as_ref().is_some_and(|u| Some(u.0) == rseq);
                if !matches {
                    self.reply(now, key, request, 481, &[], tag.as_deref());
                    return true;
                }
                leg.unacked = None;
                let next = if leg.queued_1xx.is_empty() {
                    None
                } else {
                    Some(leg.queued_1xx.remove(0))
                };
                self.reply(now, key, request, 200, &[], tag.as_deref());
                if let Some((status, sdp)) = next {
                    self.session_progress(now, id, status, sdp);
                }
            }
            _ => {
                let h = [(HeaderName::Allow, Bytes::from_static(ALLOW.as_bytes()))];
                self.reply(now, key, request, 405, &h, tag.as_deref());
            }
        }
        true
    }

    /// The ACK for our 2xx.
    fn on_ack(&mut self, now: Instant, id: SessionId, request: &Request) {
        let Some(leg) = self.calls.legs.get_mut(&id) else {
            return;
        };
        if leg.state != State::Answered {
            return;
        }
        leg.state = State::Confirmed;
        leg.ok = None;
        leg.ok_key = None;
        leg.ok_deadline = None;
        leg.due = None;
        let sdp = (!request.body.is_empty()).then(|| request.body.clone());
        self.rearm_session_timer(now, id);
        self.session_event(SessionEvent::Confirmed { id, sdp });
    }

    /// A CANCEL for an incoming INVITE: 200 for it, 487 for the INVITE.
    pub(super) fn session_cancel(
        &mut self,
        now: Instant,
        cancel_key: &ServerKey,
        invite: Option<&ServerKey>,
        request: &Request,
    ) -> bool {
        let Some(id) = invite.and_then(|k| self.calls.by_invite.get(k)).copied() else {
            return false;
        };
        // The CANCEL's 200 carries the dialog's tag, as the INVITE's answers do (9.2).
        let tag = self
            .calls
            .legs
            .get(&id)
            .and_then(|l| l.dialog.as_ref())
            .map(|d| d.local_tag.clone());
        self.reply(now, cancel_key, request, 200, &[], tag.as_deref());
        let q850 =
            header(&request.headers, &HeaderName::new("Reason")).and_then(|r| q850_cause(&r));
        if let Some(leg) = self.calls.legs.get(&id)
            && let Some(k) = leg.invite_key.clone()
        {
            let tag = leg.dialog.as_ref().map(|d| d.local_tag.clone());
            let invite = leg.invite.clone();
            self.reply(now, &k, &invite, 487, &[], tag.as_deref());
            self.calls.by_invite.remove(&k);
        }
        self.session_event(SessionEvent::Failed {
            id,
            status: 487,
            q850,
        });
        self.finish(now, id);
        true
    }

    /// A response to a request a session sent (INVITE, re-INVITE, UPDATE, BYE, INFO,
    /// CANCEL). Provisional and 2xx responses to INVITEs come here as they arrive; other
    /// final ones after authentication is done with.
    pub(super) fn session_response(&mut self, now: Instant, rid: RequestId, response: &Response) {
        let Some(&id) = self.calls.by_request.get(&rid) else {
            return;
        };
        let Some(leg) = self.calls.legs.get_mut(&id) else {
            if response.status.is_success()
                && response
                    .headers
                    .cseq()
                    .is_ok_and(|c| c.method == Method::Invite)
            {
                self.late_ack(id);
            }
            return;
        };
        let status = response.status.code();
        let method = response
            .headers
            .cseq()
            .map(|c| c.method)
            .unwrap_or(Method::Invite);
        let sdp = (!response.body.is_empty()).then(|| response.body.clone());
        let initial = leg.request == Some(rid);
        if initial && method == Method::Invite {
            if status < 200 {
                if status > 100 {
                    leg.provisional = true;
                    if leg.dialog.is_none()
                        && response.headers.to().is_ok_and(|t| t.tag().is_some())
                        && let Ok(d) = Dialog::uac(&leg.invite, response, &leg.invite_contact())
                    {
                        leg.dialog = Some(d);
                    }
                } else {
                    // 100 Trying lets a CANCEL go too (RFC 3261 9.1: "any provisional").
                    leg.provisional = true;
                }
                if leg.cancel_pending {
                    self.send_cancel(now, id, None);
                    self.drain(now);
                    return;
                }
                // A reliable provisional response is PRACKed once (RFC 3262 4); its
                // retransmissions are not news.
                let rseq = header(&response.headers, &HeaderName::RSeq)
                    .and_then(|v| v.parse::<u32>().ok());
                let reliable = response
                    .headers
                    .tokens(&HeaderName::Require)
                    .unwrap_or_default()
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case("100rel"));
                if let (true, Some(rseq)) = (reliable && status > 100, rseq) {
                    let Some(leg) = self.calls.legs.get_mut(&id) else {
                        return;
                    };
                    if leg.last_rseq.is_some_and(|last| rseq <= last) {
                        return;
                    }
                    leg.last_rseq = Some(rseq);
                    let cseq = leg.invite.headers.cseq().map(|c| c.seq).unwrap_or(1);
                    let rack = [(
                        HeaderName::RAck,
                        Bytes::from(format!("{rseq} {cseq} INVITE")),
                    )];
                    let _ = self.send_in_dialog_typed(now, id, Method::Prack, &rack, None);
                }
                if status > 100 {
                    self.session_event(SessionEvent::Progress { id, status, sdp });
                }
                self.drain(now);
                return;
            }
            if status < 300 {
                self.on_invite_2xx(now, id, response);
                return;
            }
            // Failure: the transaction acknowledged it.
            let q850 =
                header(&response.headers, &HeaderName::new("Reason")).and_then(|r| q850_cause(&r));
            let cancelled = leg.state == State::Ending;
            self.session_event(SessionEvent::Failed {
                id,
                status: if cancelled && status != 487 {
                    487
                } else {
                    status
                },
                q850,
            });
            self.finish(now, id);
            return;
        }
        match method {
            Method::Invite | Method::Update if leg.offer_sent == Some(rid) => {
                if status < 200 {
                    return;
                }
                leg.offer_sent = None;
                if method == Method::Invite && status < 300 {
                    self.send_ack(now, id, response);
                }
                if status < 300
                    && let Some(leg) = self.calls.legs.get_mut(&id)
                {
                    if let Some(d) = leg.dialog.as_mut() {
                        d.refresh_target(&response.headers);
                    }
                    leg.timer_since = Some(now);
                }
                if matches!(status, 408 | 481) {
                    self.lost(now, id);
                    return;
                }
                if status == 491 {
                    // Glare: try again after 2.1-4 s when we own the Call-ID (we sent the
                    // INVITE), else 0-2 s (RFC 3261 14.1); the PBX hears nothing yet.
                    let uac = self
                        .calls
                        .legs
                        .get(&id)
                        .and_then(|l| l.dialog.as_ref())
                        .is_some_and(|d| d.side == crate::dialog::Side::Uac);
                    let r = u64::from(
                        u16::from_str_radix(self.tsx.new_tag().get(..4).unwrap_or("0"), 16)
                            .unwrap_or(0),
                    );
                    let wait = if uac {
                        Duration::from_millis(2100 + r % 1900)
                    } else {
                        Duration::from_millis(r % 2000)
                    };
                    let update = method == Method::Update;
                    if let Some(leg) = self.calls.legs.get_mut(&id)
                        && let Some(sdp) = leg.local_sdp.clone()
                    {
                        leg.retry_offer = Some((now + wait, sdp, update));
                        self.calls.timers.push(std::cmp::Reverse((now + wait, id)));
                    }
                    return;
                }
                self.session_event(SessionEvent::OfferAnswered {
                    id,
                    sdp: if status < 300 { sdp } else { None },
                    status,
                });
            }
            Method::Invite | Method::Update if leg.refresh_sent == Some(rid) => {
                if status < 200 {
                    return;
                }
                leg.refresh_sent = None;
                if method == Method::Invite && status < 300 {
                    self.send_ack(now, id, response);
                }
                if matches!(status, 408 | 481) {
                    self.lost(now, id);
                    return;
                }
                if let Some(leg) = self.calls.legs.get_mut(&id) {
                    leg.timer_since = Some(now);
                }
                self.rearm_session_timer(now, id);
            }
            Method::Invite => {
                // A 2xx retransmission of the initial INVITE after the leg moved on.
                if (200..300).contains(&status) {
                    self.resend_ack(id);
                }
            }
            Method::Bye if status >= 200 => self.finish(now, id),
            _ => {
                if matches!(status, 408 | 481) && method != Method::Cancel {
                    self.lost(now, id);
                }
            }
        }
    }

    /// A request of a session ended without a final response (timeout, transport error).
    pub(super) fn session_failed(&mut self, now: Instant, rid: RequestId, status: u16) {
        let Some(&id) = self.calls.by_request.get(&rid) else {
            return;
        };
        let Some(leg) = self.calls.legs.get(&id) else {
            return;
        };
        let initial = leg.request == Some(rid)
            && leg
                .dialog
                .as_ref()
                .is_none_or(|_| matches!(leg.state, State::Outgoing | State::Ending))
            && leg.ok.is_none()
            && leg.ack.is_none();
        if initial {
            self.session_event(SessionEvent::Failed {
                id,
                status,
                q850: None,
            });
            self.finish(now, id);
        } else if leg.state == State::Ending {
            self.finish(now, id);
        } else if leg.offer_sent == Some(rid) || leg.refresh_sent == Some(rid) {
            self.lost(now, id);
        }
    }

    /// The peer no longer knows the dialog: the session ends.
    fn lost(&mut self, now: Instant, id: SessionId) {
        self.session_event(SessionEvent::Ended {
            id,
            why: EndReason::Lost,
            q850: None,
        });
        self.finish(now, id);
    }

    /// A 2xx to our initial INVITE: the dialog, the ACK, the session timer.
    fn on_invite_2xx(&mut self, now: Instant, id: SessionId, response: &Response) {
        let Some(leg) = self.calls.legs.get_mut(&id) else {
            return;
        };
        if leg.ack.is_some() {
            // A retransmission, or a 2xx from another fork: acknowledge again.
            self.resend_ack(id);
            return;
        }
        let contact = leg.invite_contact();
        let mut dialog = match Dialog::uac(&leg.invite, response, &contact) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!("2xx to INVITE unusable ({e}); ending the call");
                leg.dialog = None;
                self.session_event(SessionEvent::Failed {
                    id,
                    status: 502,
                    q850: None,
                });
                self.finish(now, id);
                return;
            }
        };
        if let Some(early) = &leg.dialog {
            dialog.local_cseq = dialog.local_cseq.max(early.local_cseq);
        }
        if leg.rewrite_contact
            && let Uri::Sip(mut u) = dialog.remote_target.clone()
        {
            u.host = match leg.flow.remote.ip() {
                std::net::IpAddr::V4(ip) => crate::sip::Host::Ipv4(ip),
                std::net::IpAddr::V6(ip) => crate::sip::Host::Ipv6(ip),
            };
            u.port = Some(leg.flow.remote.port());
            dialog.remote_target = Uri::Sip(u);
        }
        leg.dialog = Some(dialog);
        // Session timer from the 2xx's Session-Expires.
        if let Some((secs, refresher)) =
            header(&response.headers, &HeaderName::new("Session-Expires"))
                .and_then(|v| parse_session_expires(&v))
            && secs > 0
        {
            leg.timer = Some(SessionTimer {
                interval: Duration::from_secs(u64::from(secs)),
                refresher: if refresher
                    .as_deref()
                    .is_some_and(|r| r.eq_ignore_ascii_case("uas"))
                {
                    Refresher::Them
                } else {
                    Refresher::Us
                },
            });
        }
        let cancelling = leg.state == State::Ending;
        leg.state = State::Confirmed;
        leg.timer_since = Some(now);
        let sdp = (!response.body.is_empty()).then(|| response.body.clone());
        self.send_ack(now, id, response);
        if cancelling {
            // Our CANCEL crossed the 2xx: the call is answered, so it gets a BYE (9.1).
            self.session_event(SessionEvent::Failed {
                id,
                status: 487,
                q850: None,
            });
            self.send_in_dialog(now, id, Method::Bye, &[], None);
            if let Some(leg) = self.calls.legs.get_mut(&id) {
                leg.state = State::Ending;
            }
            return;
        }
        self.rearm_session_timer(now, id);
        self.session_event(SessionEvent::Answered { id, sdp });
    }

    /// Sends the ACK for a 2xx (and keeps it for retransmissions of that 2xx).
    fn send_ack(&mut self, now: Instant, id: SessionId, response: &Response) {
        let _ = now;
        let seq = response.headers.cseq().map(|c| c.seq).unwrap_or(1);
        let tag = self.tsx.new_tag();
        let Some(leg) = self.calls.legs.get_mut(&id) else {
            return;
        };
        let via = Self::via_for(&leg.flow, &leg.sent_by);
        let branch = format!("z9hG4bK{tag}{seq:x}");
        let Some(dialog) = leg.dialog.as_mut() else {
            return;
        };
        let Ok(mut ack) = dialog.request(Method::Ack, &via, &[], None, Some(seq)) else {
            return;
        };
        if let Ok(mut v) = ack.headers.top_via() {
            v.params.set("branch", Some(&branch));
            ack.headers.replace_first(HeaderName::Via, v.to_string());
        }
        let dialog = dialog.clone();
        let (reliable, rewrite, current) = (
            leg.flow.is_reliable(),
            leg.rewrite_contact,
            leg.flow.clone(),
        );
        let flow = if reliable || rewrite {
            current
        } else {
            self.target_flow(&dialog, &current.transport)
                .unwrap_or(current)
        };
        let bytes = Message::Request(ack).to_bytes();
        if let Some(leg) = self.calls.legs.get_mut(&id) {
            leg.ack = Some(bytes.clone());
            leg.flow = flow.clone();
        }
        self.out.push_back(Transmit { flow, bytes });
    }

    fn resend_ack(&mut self, id: SessionId) {
        if let Some(leg) = self.calls.legs.get(&id)
            && let Some(bytes) = leg.ack.clone()
        {
            self.out.push_back(Transmit {
                flow: leg.flow.clone(),
                bytes,
            });
        }
    }

    /// Arms the leg's session-timer deadline from its last refresh.
    fn rearm_session_timer(&mut self, now: Instant, id: SessionId) {
        let Some(leg) = self.calls.legs.get(&id) else {
            return;
        };
        if let Some(t) = leg.timer
            && leg.state == State::Confirmed
        {
            let since = leg.timer_since.unwrap_or(now);
            let what = match t.refresher {
                Refresher::Us => Due::Refresh,
                Refresher::Them => Due::Expire,
            };
            self.calls.arm(id, t.due(since), what);
        }
    }

    /// Runs the sessions' timers due at `now`.
    pub(super) fn session_timeouts(&mut self, now: Instant) {
        while let Some(std::cmp::Reverse((at, id))) = self.calls.timers.peek().copied() {
            if at > now {
                break;
            }
            self.calls.timers.pop();
            let Some(leg) = self.calls.legs.get_mut(&id) else {
                if self.calls.late.get(&id).is_some_and(|l| l.until <= now)
                    && let Some(late) = self.calls.late.remove(&id)
                {
                    for r in &late.requests {
                        self.calls.by_request.remove(r);
                    }
                }
                continue;
            };
            // An offer refused with 491 (glare) goes again after its random wait
            // (RFC 3261 14.1).
            if let Some((retry_at, sdp, update)) = leg.retry_offer.clone()
                && retry_at == at
            {
                leg.retry_offer = None;
                if leg.state == State::Confirmed && leg.offer_sent.is_none() {
                    self.session_offer(now, id, sdp, update);
                }
                continue;
            }
            let Some((due_at, what)) = leg.due else {
                continue;
            };
            if due_at != at {
                continue;
            }
            leg.due = None;
            match what {
                Due::Retransmit1xx => {
                    let Some((rseq, bytes, interval, deadline)) = leg.unacked.clone() else {
                        continue;
                    };
                    if leg.state != State::Incoming {
                        leg.unacked = None;
                        continue;
                    }
                    if now >= deadline {
                        // No PRACK in 64·T1: the call fails (RFC 3262 3: 5xx).
                        leg.unacked = None;
                        tracing::warn!(
                            "No PRACK for reliable provisional response {rseq}; ending the call"
                        );
                        self.session_event(SessionEvent::Failed {
                            id,
                            status: 504,
                            q850: None,
                        });
                        self.session_end(now, id, 504, None);
                        continue;
                    }
                    if let Some(key) = leg.invite_key.clone() {
                        let _ = self.tsx.send_response_bytes(now, &key, bytes.clone());
                    }
                    let t2 = self.timers.t2;
                    let next = (interval * 2).min(t2);
                    if let Some(leg) = self.calls.legs.get_mut(&id) {
                        leg.unacked = Some((rseq, bytes, next, deadline));
                    }
                    self.calls
                        .arm(id, (now + next).min(deadline), Due::Retransmit1xx);
                }
                Due::Retransmit2xx => {
                    if leg.state != State::Answered {
                        continue;
                    }
                    if leg.ok_deadline.is_some_and(|d| now >= d) {
                        tracing::warn!(
                            "No ACK for the 2xx of call '{}': ending the session",
                            leg.dialog
                                .as_ref()
                                .map(|d| d.call_id.as_str())
                                .unwrap_or("")
                        );
                        leg.state = State::Confirmed;
                        self.session_event(SessionEvent::Ended {
                            id,
                            why: EndReason::NoAck,
                            q850: None,
                        });
                        self.send_in_dialog(now, id, Method::Bye, &[], None);
                        if let Some(leg) = self.calls.legs.get_mut(&id) {
                            leg.state = State::Ending;
                        }
                        continue;
                    }
                    // Through the INVITE's server transaction (Accepted state lasts as long
                    // as we retransmit): it goes where the INVITE's responses go.
                    if let (Some(ok), Some(key), false) =
                        (leg.ok.clone(), leg.ok_key.clone(), leg.flow.is_reliable())
                    {
                        let _ = self.tsx.send_response_bytes(now, &key, ok);
                    }
                    let t2 = self.timers.t2;
                    let Some(leg) = self.calls.legs.get_mut(&id) else {
                        continue;
                    };
                    leg.ok_interval = (leg.ok_interval * 2).min(t2);
                    let next = now + leg.ok_interval;
                    let next = leg.ok_deadline.map_or(next, |d| next.min(d));
                    self.calls.arm(id, next, Due::Retransmit2xx);
                }
                Due::Refresh => {
                    if leg.state != State::Confirmed || leg.offer_sent.is_some() {
                        self.calls
                            .arm(id, now + Duration::from_secs(1), Due::Refresh);
                        continue;
                    }
                    let Some(sdp) = leg.local_sdp.clone() else {
                        continue;
                    };
                    let interval = leg.timer.map(|t| t.interval.as_secs()).unwrap_or(1800);
                    let extra = vec![
                        (
                            HeaderName::new("Session-Expires"),
                            Bytes::from(format!("{interval};refresher=uac")),
                        ),
                        (
                            HeaderName::Supported,
                            Bytes::from_static(SUPPORTED.as_bytes()),
                        ),
                    ];
                    let rid = self.send_in_dialog(now, id, Method::Invite, &extra, Some(&sdp));
                    if let Some(leg) = self.calls.legs.get_mut(&id) {
                        leg.refresh_sent = rid;
                        leg.timer_since = Some(now);
                    }
                    self.rearm_session_timer(now, id);
                }
                Due::Expire => {
                    tracing::warn!(
                        "Session timer expired for call '{}'",
                        leg.dialog
                            .as_ref()
                            .map(|d| d.call_id.as_str())
                            .unwrap_or("")
                    );
                    self.session_event(SessionEvent::Ended {
                        id,
                        why: EndReason::SessionExpired,
                        q850: None,
                    });
                    self.send_in_dialog(now, id, Method::Bye, &[], None);
                    if let Some(leg) = self.calls.legs.get_mut(&id) {
                        leg.state = State::Ending;
                    }
                }
                Due::CancelGiveUp => {
                    if leg.state == State::Ending {
                        // The INVITE was cancelled but never answered finally: its
                        // transaction goes, and the session with it.
                        if let Some(rid) = leg.request {
                            self.abandon(rid);
                        }
                        self.finish(now, id);
                    }
                }
            }
        }
        self.drain(now);
    }

    /// The session is over: keep it for 32 s (late retransmissions), then forget it.
    /// The session is over: it is forgotten at once (the transactions absorb late
    /// retransmissions of requests and non-2xx responses); of an outgoing session whose 2xx
    /// we acknowledged, the ACK is kept 64·T1 to answer retransmissions of that 2xx
    /// (RFC 3261 13.2.2.4) — a few hundred bytes instead of the whole leg.
    fn finish(&mut self, now: Instant, id: SessionId) {
        let late = self.calls.legs.get_mut(&id).and_then(|leg| {
            let ack = leg.ack.take()?;
            Some(Late {
                flow: leg.flow.clone(),
                ack,
                until: now + 64 * self.timers.t1,
                requests: std::mem::take(&mut leg.requests),
            })
        });
        self.forget(id);
        if let Some(late) = late {
            for r in &late.requests {
                self.calls.by_request.insert(*r, id);
            }
            self.calls.timers.push(std::cmp::Reverse((late.until, id)));
            self.calls.late.insert(id, late);
        }
    }

    /// Acknowledges again a 2xx retransmitted for an ended outgoing session.
    fn late_ack(&mut self, id: SessionId) {
        if let Some(late) = self.calls.late.get(&id) {
            self.out.push_back(Transmit {
                flow: late.flow.clone(),
                bytes: late.ack.clone(),
            });
        }
    }

    /// Forgets a session and its dialog.
    fn forget(&mut self, id: SessionId) {
        if let Some(leg) = self.calls.legs.remove(&id) {
            let key = match &leg.dialog {
                Some(d) => Some(DialogKey::new(&d.call_id, &d.local_tag)),
                None => {
                    let call_id = leg.invite.headers.call_id().unwrap_or_default().to_string();
                    leg.invite
                        .headers
                        .from()
                        .ok()
                        .and_then(|f| f.tag().map(|t| DialogKey::new(&call_id, t)))
                }
            };
            if let Some(key) = key {
                self.dialogs.remove(&key);
                self.calls.by_dialog.remove(&key);
            }
            if let Some(k) = leg.invite_key {
                self.calls.by_invite.remove(&k);
            }
            for r in &leg.requests {
                self.calls.by_request.remove(r);
            }
        }
    }

    /// The state of a session, if the core still has it.
    pub fn session_state(&self, id: SessionId) -> Option<State> {
        self.calls.legs.get(&id).map(|l| l.state)
    }

    /// How many sessions the core holds (ended ones until they are forgotten).
    pub fn sessions(&self) -> usize {
        self.calls.len()
    }

    /// The remote address of a session's flow and its Call-ID, for `core show channel`.
    pub fn session_peer(&self, id: SessionId) -> Option<(SocketAddr, String)> {
        let leg = self.calls.legs.get(&id)?;
        let call_id = leg.invite.headers.call_id().unwrap_or_default().to_string();
        Some((leg.flow.remote, call_id))
    }

    /// The contacts of `aors` a call may go to, in Asterisk's order (each AOR in turn: its
    /// registered contacts, then its static ones), without Unreachable ones.
    pub(crate) fn dial_targets(
        &self,
        snapshot: &Snapshot,
        aors: &[String],
        unix_now: u64,
    ) -> Vec<super::qualify::Target> {
        use crate::config::types::{Kind, Object};
        use crate::location::Status;
        let mut out = Vec::new();
        for name in aors {
            let Some(Object::Aor(aor)) = snapshot.get(Kind::Aor, name).map(|o| &o.object) else {
                continue;
            };
            let mut all = super::qualify::targets(name, aor, &self.location, unix_now);
            // Registered contacts first, as Asterisk lists them.
            all.sort_by_key(|t| t.is_static);
            for t in all {
                let status = if t.is_static {
                    self.location.static_status(name, &t.hash).map(|(s, _)| s)
                } else {
                    self.location.contacts_status(name, &t.hash)
                };
                if status != Some(Status::Unreachable) {
                    out.push(t);
                }
            }
        }
        out
    }

    /// The flow and our address towards a dial target.
    pub(crate) fn route_target(
        &self,
        snapshot: &Snapshot,
        target: &super::qualify::Target,
    ) -> Option<(Flow, SocketAddr)> {
        target.route(&*self.network, snapshot)
    }

    /// Is the client transaction of a request a session's?
    pub(super) fn is_session_request(&self, rid: RequestId) -> bool {
        self.calls.by_request.contains_key(&rid)
    }
}

impl Leg {
    /// The Contact of our INVITE.
    fn invite_contact(&self) -> String {
        header(&self.invite.headers, &HeaderName::Contact).unwrap_or_default()
    }
}

/// A dial target for a literal URI (`PJSIP/ep/sip:...`).
pub(crate) fn uri_target(uri: &str) -> super::qualify::Target {
    super::qualify::Target {
        uri: uri.to_string(),
        hash: crate::location::ContactHash::of(uri),
        path: Vec::new(),
        flow: None,
        is_static: true,
    }
}

/// `"Name" <number>` or `Name <number>` or `number`.
pub fn split_callerid(value: &str) -> (String, String) {
    let v = value.trim();
    if let Some((name, rest)) = v.split_once('<') {
        let number = rest
            .split('>')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        let name = name.trim().trim_matches('"').trim().to_string();
        (name, number)
    } else if v.chars().all(|c| c.is_ascii_digit() || "+*#".contains(c)) {
        (String::new(), v.to_string())
    } else {
        (v.to_string(), String::new())
    }
}

/// Escapes a user part (RFC 3261 25.1 `user`): unreserved and user-unreserved stay.
fn escape_user(user: &str) -> String {
    let mut out = String::with_capacity(user.len());
    for b in user.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The caller of an INVITE: From, or P-Asserted-Identity / Remote-Party-ID when the
/// endpoint is trusted (`trust_id_inbound`).
fn caller_of(request: &Request, trust: bool) -> Party {
    let mut sources = Vec::new();
    if trust {
        for name in ["P-Asserted-Identity", "Remote-Party-ID"] {
            if let Some(v) = request.headers.get(&HeaderName::new(name))
                && let Ok(a) = crate::sip::NameAddr::parse(v, "P-Asserted-Identity")
            {
                sources.push(a);
            }
        }
    }
    if let Ok(from) = request.headers.from() {
        sources.push(from);
    }
    let Some(a) = sources.into_iter().next() else {
        return Party::default();
    };
    let number = match &a.uri {
        Uri::Sip(u) => u
            .user_decoded()
            .map(|u| String::from_utf8_lossy(&u).into_owned())
            .unwrap_or_default(),
        Uri::Tel(t) => t.number.clone(),
        _ => String::new(),
    };
    Party {
        number,
        name: a.display.clone().unwrap_or_default(),
    }
}

/// The auth objects named by an `outbound_auth` list.
pub(crate) fn outbound_auths<'a>(
    snapshot: &Snapshot,
    names: impl IntoIterator<Item = &'a crate::config::options::Name>,
) -> Vec<Auth> {
    names
        .into_iter()
        .filter_map(|a| {
            match snapshot
                .get(crate::config::types::Kind::Auth, a.as_str())
                .map(|o| &o.object)
            {
                Some(crate::config::types::Object::Auth(auth)) => Some(auth.clone()),
                _ => None,
            }
        })
        .collect()
}

/// The transport `name` when its external addresses apply towards `peer` (it has some and
/// the peer is not inside its `local_net`).
fn external<'a>(
    snapshot: &'a Snapshot,
    name: &str,
    peer: std::net::IpAddr,
) -> Option<&'a crate::config::types::Transport> {
    use crate::config::types::{Kind, Object};
    let Some(Object::Transport(t)) = snapshot.get(Kind::Transport, name).map(|o| &o.object) else {
        return None;
    };
    if t.local_net.0.iter().any(|n| n.contains(&peer)) {
        return None;
    }
    Some(t)
}
