//! INVITE sessions (RFC 3261 13-15, RFC 3264, RFC 4028): what one call leg is at the SIP
//! level, as the PBX above sees it (sans-IO).
//!
//! The core (`core/calls.rs`) runs the messages: it makes a [`Session`] for each INVITE
//! it receives from an identified endpoint and for each it sends for the PBX, keeps its
//! [`Dialog`](crate::dialog::Dialog), retransmits its 2xx until the ACK comes, acknowledges
//! the 2xx it receives, answers BYE, CANCEL, INFO, OPTIONS, re-INVITE and UPDATE within it,
//! and tells the PBX what happened as [`SessionEvent`]s. The PBX answers through the
//! core's `session_*` methods. This module holds the types both sides share and the
//! session-timer rules.

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// One INVITE session of a core (unique within the core's queue).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

/// Where a session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Received INVITE, not answered finally yet.
    Incoming,
    /// Sent INVITE, no final answer yet.
    Outgoing,
    /// Sent a 2xx, waiting for the ACK (retransmitting the 2xx).
    Answered,
    /// Established.
    Confirmed,
    /// We sent BYE (or CANCEL), waiting for its answer.
    Ending,
    /// Over; resources can go.
    Ended,
}

/// The caller as a received INVITE presents it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Party {
    /// The number (user part), possibly empty.
    pub number: String,
    /// The display name, possibly empty.
    pub name: String,
    /// Whether the identity may be shown (`callerid_privacy`, or the Privacy of a trusted
    /// P-Asserted-Identity / Remote-Party-ID).
    pub presentation: crate::config::types::CallerIdPrivacy,
}

/// A new call from an endpoint.
#[derive(Clone, Debug)]
pub struct IncomingCall {
    /// The session.
    pub id: SessionId,
    /// The identified endpoint.
    pub endpoint: String,
    /// The Request-URI's user (`s` when empty).
    pub exten: String,
    /// From (or P-Asserted-Identity / Remote-Party-ID when trusted).
    pub caller: Party,
    /// The SDP offer, if the INVITE had one.
    pub offer: Option<Bytes>,
    /// Where it came from.
    pub source: SocketAddr,
    /// The transport's name.
    pub transport: String,
    /// Our address towards the caller on that transport (where our media should be too).
    pub local: SocketAddr,
    /// Header fields of the INVITE, for `PJSIP_HEADER(read,...)` (shared with the
    /// request, not copied).
    pub headers: crate::sip::Headers,
}

/// What the PBX is told about a session.
#[derive(Clone, Debug)]
pub enum SessionEvent {
    /// A new incoming call (already identified and authenticated).
    Incoming(Box<IncomingCall>),
    /// A provisional response to our INVITE (180, 183...), with its SDP if any.
    Progress {
        /// The session.
        id: SessionId,
        /// The status code.
        status: u16,
        /// SDP (early media), if the response carried one.
        sdp: Option<Bytes>,
    },
    /// Our INVITE was answered (2xx, acknowledged by us).
    Answered {
        /// The session.
        id: SessionId,
        /// The answer SDP.
        sdp: Option<Bytes>,
    },
    /// The ACK for our 2xx came (an incoming call is now established).
    Confirmed {
        /// The session.
        id: SessionId,
        /// SDP carried by the ACK (when our 2xx made the offer).
        sdp: Option<Bytes>,
    },
    /// The session failed before it was established: our INVITE got a final non-2xx
    /// (or none in time), or the caller cancelled its INVITE (487).
    Failed {
        /// The session.
        id: SessionId,
        /// The status: the final response's code, 408 on timeout, 487 for CANCEL, 503 when
        /// nothing could be sent.
        status: u16,
        /// The Q.850 cause of a Reason header, if the response or CANCEL had one.
        q850: Option<u16>,
    },
    /// The established session ended: BYE from the peer, no ACK for our 2xx, or a
    /// session timer expired.
    Ended {
        /// The session.
        id: SessionId,
        /// Why.
        why: EndReason,
        /// The Q.850 cause of the BYE's Reason header, if any.
        q850: Option<u16>,
    },
    /// The peer sent an offer within the session (re-INVITE or UPDATE); answer with
    /// `Core::session_answer_offer`. `None`: a re-INVITE without SDP asks us to offer.
    Offer {
        /// The session.
        id: SessionId,
        /// The offer.
        sdp: Option<Bytes>,
    },
    /// The answer to an offer we sent within the session (re-INVITE or UPDATE).
    OfferAnswered {
        /// The session.
        id: SessionId,
        /// The answer's SDP, or `None` when the offer was refused.
        sdp: Option<Bytes>,
        /// The final status.
        status: u16,
    },
    /// An INFO within the session (DTMF relay and others).
    Info {
        /// The session.
        id: SessionId,
        /// Its Content-Type.
        content_type: String,
        /// Its body.
        body: Bytes,
    },
}

impl SessionEvent {
    /// The session the event is about.
    pub fn id(&self) -> SessionId {
        match self {
            SessionEvent::Incoming(c) => c.id,
            SessionEvent::Progress { id, .. }
            | SessionEvent::Answered { id, .. }
            | SessionEvent::Confirmed { id, .. }
            | SessionEvent::Failed { id, .. }
            | SessionEvent::Ended { id, .. }
            | SessionEvent::Offer { id, .. }
            | SessionEvent::OfferAnswered { id, .. }
            | SessionEvent::Info { id, .. } => *id,
        }
    }
}

/// Why an established session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The peer sent BYE.
    Bye,
    /// Our 2xx was never acknowledged (RFC 3261 13.3.1.4).
    NoAck,
    /// The session timer expired without a refresh (RFC 4028 10).
    SessionExpired,
    /// A request within the session got 481 or 408 (the peer forgot the dialog).
    Lost,
}

/// The session-timer settings of an endpoint (`timers`, `timers_min_se`,
/// `timers_sess_expires`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerPolicy {
    /// `timers=no`: neither offered nor honoured.
    pub enabled: bool,
    /// `timers=required`/`always`: always used, even when the peer does not ask.
    pub always: bool,
    /// `timers_min_se`.
    pub min_se: u32,
    /// `timers_sess_expires`.
    pub session_expires: u32,
}

/// Who refreshes the session (RFC 4028 `refresher`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refresher {
    /// We do.
    Us,
    /// The peer does.
    Them,
}

/// A running session timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionTimer {
    /// The interval agreed.
    pub interval: Duration,
    /// Who refreshes.
    pub refresher: Refresher,
}

impl SessionTimer {
    /// When the next thing is due from `since` (the last refresh): our refresh at half the
    /// interval, or (when the peer refreshes) the expiry, at the interval minus
    /// min(32 s, interval / 3) (RFC 4028 10).
    pub fn due(&self, since: Instant) -> Instant {
        match self.refresher {
            Refresher::Us => since + self.interval / 2,
            Refresher::Them => {
                since + self.interval - (self.interval / 3).min(Duration::from_secs(32))
            }
        }
    }
}

/// What to do with the session-timer headers of a received INVITE (RFC 4028 8-9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerDecision {
    /// Answer 422 with this Min-SE.
    TooSmall(u32),
    /// No session timer.
    None,
    /// Use this timer; the 2xx carries `Session-Expires: interval;refresher=uac|uas`.
    Use {
        /// Interval in seconds.
        interval: u32,
        /// True when the caller (UAC) refreshes.
        uac_refreshes: bool,
    },
}

/// Decides on a received INVITE's `Session-Expires` (with its `refresher`), `Min-SE` and
/// whether it `Supported: timer`, for an endpoint's policy.
pub fn uas_timer(
    policy: &TimerPolicy,
    session_expires: Option<(u32, Option<&str>)>,
    supported: bool,
) -> TimerDecision {
    if !policy.enabled {
        return TimerDecision::None;
    }
    match session_expires {
        Some((interval, _)) if interval < policy.min_se => TimerDecision::TooSmall(policy.min_se),
        Some((interval, refresher)) => {
            // RFC 4028 9: the UAS may only lower the interval towards its Min-SE; we keep
            // the caller's. Without a refresher chosen, the UAC refreshes when it supports
            // timers, else we do.
            let uac_refreshes = match refresher {
                Some(r) if r.eq_ignore_ascii_case("uas") => false,
                Some(r) if r.eq_ignore_ascii_case("uac") => true,
                _ => supported,
            };
            TimerDecision::Use {
                interval,
                uac_refreshes,
            }
        }
        None if policy.always || supported => TimerDecision::Use {
            interval: policy.session_expires.max(policy.min_se),
            uac_refreshes: supported,
        },
        None => TimerDecision::None,
    }
}

/// Parses a `Session-Expires` value: delta-seconds and an optional `refresher`.
pub fn parse_session_expires(value: &str) -> Option<(u32, Option<String>)> {
    let mut parts = value.split(';');
    let secs = parts.next()?.trim().parse().ok()?;
    let refresher = parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("refresher")
            .then(|| v.trim().to_string())
    });
    Some((secs, refresher))
}

/// The Q.850 cause of a `Reason: Q.850;cause=N` header value.
pub fn q850_cause(value: &str) -> Option<u16> {
    let (proto, params) = value.split_once(';')?;
    if !proto.trim().eq_ignore_ascii_case("Q.850") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if k.trim().eq_ignore_ascii_case("cause") {
            v.trim().parse().ok()
        } else {
            None
        }
    })
}
