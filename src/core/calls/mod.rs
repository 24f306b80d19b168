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

mod in_dialog;
mod incoming;
mod outgoing;
mod timers;

use foldhash::HashMap;
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
    /// The INVITE received or sent (last sent, with credentials); shared, since it is
    /// read while the leg is borrowed for other changes.
    pub invite: std::sync::Arc<Request>,
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
    /// (when, session) of every leg's armed timer; stale entries are skipped. FIFOs per
    /// delay (`tsx::Deadlines`): an ended leg waits 64*T1 here, hundreds of thousands
    /// under a calls load.
    pub(super) timers: crate::tsx::Deadlines<SessionId>,
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
            self.timers.push(at, id);
        }
    }

    /// The earliest timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
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
            leg.invite = std::sync::Arc::new(request.clone());
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
        // Without `fmt`: written for the Contact and Via of every request and answer.
        SocketAddr::V4(a) => {
            let mut out = String::with_capacity(21);
            crate::sip::Dotted(*a.ip()).push_to(&mut out);
            out.push(':');
            crate::sip::push_decimal(&mut out, u64::from(a.port()));
            out
        }
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
        ["SIP/2.0/", flow.protocol_name(), " ", sent_by, ";rport"].concat()
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
        let mut contact = String::with_capacity(24 + user.len() + sent_by.len());
        contact.push_str("<sip:");
        if !user.is_empty() {
            contact.push_str(user);
            contact.push('@');
        }
        contact.push_str(sent_by);
        match flow.protocol_name() {
            "UDP" => {}
            p => {
                contact.push_str(";transport=");
                contact.push_str(&p.to_ascii_lowercase());
            }
        }
        contact.push('>');
        contact
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

    /// The state of a session, if the core still has it.
    pub fn session_state(&self, id: SessionId) -> Option<State> {
        self.calls.legs.get(&id).map(|l| l.state)
    }

    /// How many sessions the core holds (ended ones until they are forgotten).
    pub fn sessions(&self) -> usize {
        self.calls.len()
    }

    /// A session's Call-ID, for `core show channel`.
    pub fn session_call_id(&self, id: SessionId) -> Option<String> {
        let leg = self.calls.legs.get(&id)?;
        Some(leg.invite.headers.call_id().unwrap_or_default().to_string())
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
    /// A leg in `state` with nothing under way yet.
    fn new(
        state: State,
        flow: Flow,
        sent_by: String,
        invite: Request,
        t1: Duration,
        rewrite_contact: bool,
    ) -> Self {
        Leg {
            state,
            dialog: None,
            flow,
            sent_by,
            invite: std::sync::Arc::new(invite),
            invite_key: None,
            request: None,
            provisional: false,
            cancel_pending: false,
            ok: None,
            ok_key: None,
            ok_interval: t1,
            ok_deadline: None,
            ack: None,
            pending_offer: None,
            offer_sent: None,
            local_sdp: None,
            timer: None,
            timer_since: None,
            refresh_sent: None,
            due: None,
            rewrite_contact,
            rel100: false,
            rseq: 0,
            unacked: None,
            queued_1xx: Vec::new(),
            last_rseq: None,
            retry_offer: None,
            requests: Vec::new(),
            auths: Vec::new(),
        }
    }

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

/// The caller of an INVITE, as Asterisk's res_pjsip_caller_id sets it. With
/// `trust_id_inbound`: a P-Asserted-Identity (restricted by a Privacy header other than
/// `none`), else a Remote-Party-ID (`privacy=full`, `screen=yes`). Otherwise the endpoint's
/// `callerid` with its `callerid_privacy`, and From's number and name when that callerid
/// has no number.
fn caller_of(request: &Request, ep: &Endpoint) -> Party {
    use crate::config::types::CallerIdPrivacy as Pres;
    let header = |name: &'static str| {
        request
            .headers
            .get(&HeaderName::new(name))
            .and_then(|v| crate::sip::NameAddr::parse(v, name).ok())
    };
    let party = |a: &crate::sip::NameAddr, presentation| Party {
        number: uri_user(&a.uri),
        name: a.display.clone().unwrap_or_default(),
        presentation,
    };
    if ep.trust_id_inbound {
        if let Some(pai) = header("P-Asserted-Identity") {
            let private = request
                .headers
                .get(&HeaderName::new("Privacy"))
                .is_some_and(|v| !v.trim_ascii().eq_ignore_ascii_case(b"none"));
            let pres = if private {
                Pres::ProhibNotScreened
            } else {
                Pres::AllowedNotScreened
            };
            return party(&pai, pres);
        }
        if let Some(rpid) = header("Remote-Party-ID") {
            let is = |name, value: &str| {
                rpid.params
                    .value(name)
                    .is_some_and(|v| v.eq_ignore_ascii_case(value))
            };
            let pres = match (is("privacy", "full"), is("screen", "yes")) {
                (true, true) => Pres::ProhibPassedScreen,
                (true, false) => Pres::ProhibNotScreened,
                (false, true) => Pres::AllowedPassedScreen,
                (false, false) => Pres::AllowedNotScreened,
            };
            return party(&rpid, pres);
        }
    }
    let (name, number) = split_callerid(&ep.callerid);
    let mut caller = Party {
        number,
        name,
        presentation: ep.callerid_privacy,
    };
    if caller.number.is_empty()
        && let Ok(from) = request.headers.from()
    {
        caller.number = uri_user(&from.uri);
        if let Some(d) = from.display.filter(|d| !d.is_empty()) {
            caller.name = d;
        }
    }
    caller
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

/// The user part of a SIP URI (unescaped) or a tel URI's number; empty otherwise.
pub(super) fn uri_user(uri: &Uri) -> String {
    match uri {
        Uri::Sip(u) => u
            .user_decoded()
            .map(|u| crate::sip::owned_text(&u))
            .unwrap_or_default(),
        Uri::Tel(t) => t.number.clone(),
        _ => String::new(),
    }
}
