//! Outbound registration (`type=registration`): one registration's state machine, as
//! Asterisk's `res_pjsip_outbound_registration.c` drives it (with pjproject's `regc`).
//!
//! Sans-IO and deterministic: time comes in as [`Instant`] arguments, randomness as a seed
//! given at construction, REGISTERs go out as [`Attempt`]s that the caller turns into
//! requests ([`OutboundRegistration::build_request`]) and sends through the core's client
//! transactions, whose [`Outcome`] comes back through
//! [`OutboundRegistration::on_outcome`]. The SIP core's glue (`core::registrations`) owns
//! the machines of one queue.
//!
//! Methods, in quinn's taxonomy: getters ([`OutboundRegistration::status`],
//! [`OutboundRegistration::next_attempt`]...), inputs ([`OutboundRegistration::handle_timeout`],
//! [`OutboundRegistration::on_outcome`]), commands ([`OutboundRegistration::register`],
//! [`OutboundRegistration::unregister`], [`OutboundRegistration::remove`]) and outputs
//! ([`OutboundRegistration::poll_timeout`], [`OutboundRegistration::poll_send`]).
//!
//! The rules (reference section 6):
//! - first REGISTER after a random 1..`max_random_initial_delay` s (spread over the
//!   milliseconds of that range, so that many registrations loaded together do not fire on
//!   the same second);
//! - 2xx: Registered, refreshed at granted − 10 s (granted: our Contact's `expires` in the
//!   2xx, else its Expires, else what we asked); a 2xx granting 0 is Unregistered;
//! - 423 with a larger Min-Expires: sent again at once asking for that (pjproject's regc);
//! - Retry-After: temporary rejection, retried after that many seconds;
//! - temporal codes (408, 500, 502, 503, 504, 6xx, and 401/407 with
//!   `auth_rejection_permanent=no`; a timeout counts as 408, a transport error as 503) with
//!   `retry_interval` > 0: retried every `retry_interval` s, `max_retries` times, then
//!   permanently rejected;
//! - 403 with `forbidden_retry_interval`, any other failure with `fatal_retry_interval`:
//!   retried while retries remain; else permanently rejected (no automatic attempt until
//!   `pjsip send register` or a changed configuration);
//! - `pjsip send unregister`: Expires 0 and stop; `pjsip send register`: unregister if
//!   registered, then register at once, clearing a permanent rejection; removal (deleted or
//!   changed configuration, shutdown): unregister if registered, then finished.
//!
//! Deliberate differences from Asterisk: every REGISTER carries Expires (Asterisk issue
//! 1859: none after `pjsip send register`); a command arriving while a REGISTER is in
//! flight waits for its outcome (pjproject answers "busy"); a failed un-REGISTER is not
//! followed by automatic re-registration; a grant of 10 s or less is refreshed after half
//! of it (at least 1 s) rather than at once, which would loop without pause.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::config::types::{Registration, TransportProtocol};
use crate::core::Outcome;
use crate::sip::{CSeq, HeaderName, Headers, Method, Request, Response, SipUri, Uri};

/// Asterisk's REREGISTER_BUFFER_TIME: a registration is refreshed this long before it
/// expires.
pub const REREGISTER_BUFFER: u32 = 10;

/// After an outcome without a response (timeout, transport error) the core may have sent
/// authenticated retries with higher CSeqs than the machine saw; the next REGISTER skips
/// this many numbers so that it is above them (RFC 3261 10.3 step 7).
const CSEQ_GAP: u32 = 16;

/// The branch written into the Via of built requests; the core replaces it with its own.
const PLACEHOLDER_BRANCH: &str = "z9hG4bK-outreg";

/// What the CLI, AMI and `Registry` events show (Asterisk's three strings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Registered, refreshing.
    Registered,
    /// Not registered: not yet, unregistered, stopping or stopped.
    Unregistered,
    /// Rejected, temporarily (a retry is scheduled) or permanently.
    Rejected,
}

impl Status {
    /// `Registered`, `Unregistered` or `Rejected`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Registered => "Registered",
            Status::Unregistered => "Unregistered",
            Status::Rejected => "Rejected",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The internal state (Asterisk's `sip_outbound_registration_status`), for logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Not registered.
    Unregistered,
    /// Registered.
    Registered,
    /// Rejected; a retry is scheduled.
    RejectedTemporary,
    /// Rejected; nothing more happens until a command or a configuration change.
    RejectedPermanent,
    /// Removed; an un-REGISTER is still to be sent or answered.
    Stopping,
    /// Removed; nothing more will be sent.
    Stopped,
}

impl State {
    /// The external status.
    pub fn status(self) -> Status {
        match self {
            State::Registered => Status::Registered,
            State::RejectedTemporary | State::RejectedPermanent => Status::Rejected,
            State::Unregistered | State::Stopping | State::Stopped => Status::Unregistered,
        }
    }

    /// Asterisk's internal name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Unregistered => "UNREGISTERED",
            State::Registered => "REGISTERED",
            State::RejectedTemporary => "REJECTED_TEMPORARY",
            State::RejectedPermanent => "REJECTED_PERMANENT",
            State::Stopping => "STOPPING",
            State::Stopped => "STOPPED",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A REGISTER to send now: build it with [`OutboundRegistration::build_request`], send it,
/// and report its outcome with [`OutboundRegistration::on_outcome`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct Attempt {
    /// The Expires to ask for; 0 is an un-REGISTER.
    pub expires: u32,
}

/// What the operator or the configuration wants of the registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Goal {
    /// Keep registered (the normal case).
    Register,
    /// Unregister (if registered) and stay idle (`pjsip send unregister`).
    Unregister,
    /// Unregister (if registered), then register again (`pjsip send register`).
    Reregister,
    /// Unregister (if registered), then nothing more (removed, changed, shutdown).
    Remove,
}

/// The parsed URIs of the configuration.
#[derive(Clone, Debug)]
struct Uris {
    server: SipUri,
    client: SipUri,
    proxy: Option<SipUri>,
}

/// One outbound registration.
#[derive(Debug)]
pub struct OutboundRegistration {
    name: String,
    config: Registration,
    /// `None` when a URI of the configuration does not parse (permanently rejected).
    uris: Option<Uris>,
    /// Protocol state: Unregistered, Registered or Rejected*; Stopping/Stopped are derived
    /// from the goal.
    state: State,
    goal: Goal,
    retries: u32,
    /// The next attempt and its Expires.
    timer: Option<(Instant, u32)>,
    /// An attempt due, waiting for [`Self::poll_send`].
    ready: Option<Attempt>,
    /// The attempt sent and not yet answered.
    in_flight: Option<Attempt>,
    /// The Expires asked for (the configuration's, or a 423's Min-Expires).
    expires: u32,
    /// What the registrar granted at the last 2xx.
    granted: Option<u32>,
    call_id: String,
    from_tag: String,
    /// The CSeq of the last request known to be sent.
    cseq: u32,
    line: Option<String>,
    /// Our Contact URI, as last sent (to find it in the 2xx).
    contact: Option<Uri>,
    last_code: Option<u16>,
}

/// splitmix64: a small, good generator for tags and delays from the given seed.
pub(crate) fn next_random(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn parse_sip(text: &str) -> Option<SipUri> {
    match Uri::parse(text.trim().as_bytes()) {
        Ok(Uri::Sip(u)) => Some(u),
        _ => None,
    }
}

fn secs(s: u32) -> Duration {
    Duration::from_secs(u64::from(s))
}

/// Asterisk's `sip_outbound_registration_is_temporal` (from pjsua).
fn is_temporal(code: u16, auth_rejection_permanent: bool) -> bool {
    matches!(code, 408 | 500 | 502 | 503 | 504)
        || (matches!(code, 401 | 407) && !auth_rejection_permanent)
        || (600..700).contains(&code)
}

/// When to refresh a grant of `granted` seconds: 10 s before it ends; a grant of 10 s or
/// less after half of it (at least 1 s), where Asterisk would refresh at once, in a loop.
fn refresh_after(granted: u32) -> Duration {
    match granted.saturating_sub(REREGISTER_BUFFER) {
        0 => secs((granted / 2).max(1)),
        s => secs(s),
    }
}

impl OutboundRegistration {
    /// The registration `name` as configured, its first REGISTER scheduled after a random
    /// 1..`max_random_initial_delay` s from `now`. `seed` makes the delay, the Call-ID, the
    /// From tag and the `line` token.
    pub fn new(name: &str, config: &Registration, now: Instant, seed: u64) -> Self {
        let mut rng = seed;
        let max_ms = u64::from(config.max_random_initial_delay.max(1)) * 1000;
        let delay = Duration::from_millis(1000 + next_random(&mut rng) % (max_ms - 999));
        let call_id = format!(
            "{}{}",
            crate::tsx::hex16(next_random(&mut rng)),
            crate::tsx::hex16(next_random(&mut rng))
        );
        let from_tag = crate::tsx::hex16(next_random(&mut rng));
        let line = config.line.then(|| {
            (0..8)
                .map(|_| char::from(b'a' + (next_random(&mut rng) % 26) as u8))
                .collect::<String>()
        });
        let server = parse_sip(&config.server_uri.0);
        let client = parse_sip(&config.client_uri.0);
        let proxy = if config.outbound_proxy.0.trim().is_empty() {
            Ok(None)
        } else {
            parse_sip(&config.outbound_proxy.0).map(Some).ok_or(())
        };
        let uris = match (server, client, proxy) {
            (Some(server), Some(client), Ok(proxy)) => Some(Uris {
                server,
                client,
                proxy,
            }),
            (server, client, proxy) => {
                if server.is_none() {
                    tracing::error!(
                        "Invalid server URI '{}' specified on outbound registration '{name}'",
                        config.server_uri
                    );
                }
                if client.is_none() {
                    tracing::error!(
                        "Invalid client URI '{}' specified on outbound registration '{name}'",
                        config.client_uri
                    );
                }
                if proxy.is_err() {
                    tracing::error!(
                        "Invalid outbound proxy URI '{}' specified on outbound registration '{name}'",
                        config.outbound_proxy
                    );
                }
                None
            }
        };
        let (state, timer) = if uris.is_some() {
            (State::Unregistered, Some((now + delay, config.expiration)))
        } else {
            (State::RejectedPermanent, None)
        };
        Self {
            name: name.to_string(),
            config: config.clone(),
            uris,
            state,
            goal: Goal::Register,
            retries: 0,
            timer,
            ready: None,
            in_flight: None,
            expires: config.expiration,
            granted: None,
            call_id,
            from_tag,
            cseq: 0,
            line,
            contact: None,
            last_code: None,
        }
    }

    // ---- getters ----

    /// The registration's id.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The configuration it runs.
    pub fn config(&self) -> &Registration {
        &self.config
    }

    /// Registered, Unregistered or Rejected.
    pub fn status(&self) -> Status {
        self.state().status()
    }

    /// The internal state, for logs.
    pub fn state(&self) -> State {
        if self.goal == Goal::Remove {
            if self.is_finished() {
                State::Stopped
            } else {
                State::Stopping
            }
        } else {
            self.state
        }
    }

    /// When the next REGISTER is scheduled (the refresh when registered).
    pub fn next_attempt(&self) -> Option<Instant> {
        self.timer.map(|(at, _)| at)
    }

    /// The `line` token of the Contact (`line=yes`).
    pub fn line_token(&self) -> Option<&str> {
        self.line.as_deref()
    }

    /// The last final status code (a timeout counts as 408, a transport error as 503).
    pub fn last_code(&self) -> Option<u16> {
        self.last_code
    }

    /// What the registrar granted at the last 2xx, while registered.
    pub fn granted_expires(&self) -> Option<u32> {
        self.granted
    }

    /// Temporal failures retried since the last success.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// True when a REGISTER is sent and not yet answered.
    pub fn is_busy(&self) -> bool {
        self.in_flight.is_some()
    }

    /// True when the configuration differs from `new` (the registration must then be
    /// replaced: this one removed, a new one started).
    pub fn config_changed(&self, new: &Registration) -> bool {
        self.config != *new
    }

    /// Where REGISTERs go first: the outbound proxy, else the registrar. `None` when the
    /// configuration's URIs are invalid.
    pub fn next_hop(&self) -> Option<&SipUri> {
        let uris = self.uris.as_ref()?;
        Some(uris.proxy.as_ref().unwrap_or(&uris.server))
    }

    /// True once removed and nothing more will be sent.
    pub fn is_finished(&self) -> bool {
        self.goal == Goal::Remove
            && self.in_flight.is_none()
            && self.ready.is_none()
            && self.timer.is_none()
            && self.state != State::Registered
    }

    // ---- outputs and inputs ----

    /// When [`Self::handle_timeout`] must next run (never while a REGISTER is in flight).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.in_flight.is_some() {
            return None;
        }
        self.timer.map(|(at, _)| at)
    }

    /// Runs the timer due at `now`: the scheduled REGISTER becomes ready to send.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some((at, expires)) = self.timer
            && at <= now
            && self.in_flight.is_none()
        {
            self.timer = None;
            self.ready = Some(Attempt { expires });
        }
    }

    /// The REGISTER to send now, if any. Its outcome must be reported with
    /// [`Self::on_outcome`] (no other REGISTER is sent meanwhile).
    pub fn poll_send(&mut self) -> Option<Attempt> {
        let attempt = self.ready.take()?;
        self.in_flight = Some(attempt);
        Some(attempt)
    }

    /// The REGISTER of `attempt`, sent from `local` over `protocol`. `default_user_agent`
    /// is `[global] user_agent`, used unless the registration has its own.
    pub fn build_request(
        &mut self,
        attempt: &Attempt,
        local: SocketAddr,
        protocol: TransportProtocol,
        default_user_agent: &str,
    ) -> Request {
        self.cseq = self.cseq.saturating_add(1).min((1 << 31) - 1);
        let text =
            |u: Option<&SipUri>, raw: &str| u.map_or_else(|| raw.to_string(), |u| u.to_string());
        let server = text(
            self.uris.as_ref().map(|u| &u.server),
            &self.config.server_uri.0,
        );
        let client = text(
            self.uris.as_ref().map(|u| &u.client),
            &self.config.client_uri.0,
        );
        let proto = crate::transport::protocol_name(protocol);
        let mut h = Headers::with_capacity(12);
        h.push(
            HeaderName::Via,
            format!("SIP/2.0/{proto} {local};rport;branch={PLACEHOLDER_BRANCH}"),
        );
        h.push(HeaderName::MaxForwards, "70");
        if let Some(proxy) = self.uris.as_ref().and_then(|u| u.proxy.as_ref()) {
            let mut route = proxy.clone();
            if !route.params.contains("lr") {
                route.params.set("lr", None);
            }
            h.push(HeaderName::Route, format!("<{route}>"));
        }
        h.push(
            HeaderName::From,
            format!("<{client}>;tag={}", self.from_tag),
        );
        h.push(HeaderName::To, format!("<{client}>"));
        h.push(HeaderName::CallId, self.call_id.clone());
        h.push(
            HeaderName::CSeq,
            CSeq {
                seq: self.cseq,
                method: Method::Register,
            }
            .to_string(),
        );
        // pjproject's contact: sips only for a secure transport to a sips registrar.
        let secure = self.uris.as_ref().is_some_and(|u| u.server.secure)
            && crate::transport::is_reliable(protocol);
        let mut contact = format!(
            "{}:{}@{local}",
            if secure { "sips" } else { "sip" },
            self.config.contact_user
        );
        if crate::transport::is_reliable(protocol) {
            contact.push_str(";transport=");
            contact.push_str(&proto.to_ascii_lowercase());
        }
        if let Some(line) = &self.line {
            contact.push_str(";line=");
            contact.push_str(line);
        }
        self.contact = Uri::parse(contact.as_bytes()).ok();
        let params = self.config.contact_header_params.trim();
        let params = params.strip_prefix(';').unwrap_or(params);
        let contact = if params.is_empty() {
            format!("<{contact}>")
        } else {
            format!("<{contact}>;{params}")
        };
        h.push(HeaderName::Contact, contact);
        h.push(HeaderName::Expires, attempt.expires.to_string());
        if self.config.support_path {
            h.push(HeaderName::Supported, "path");
        }
        let user_agent = if self.config.user_agent.is_empty() {
            default_user_agent
        } else {
            &self.config.user_agent
        };
        if !user_agent.is_empty() {
            h.push(HeaderName::UserAgent, user_agent.to_string());
        }
        h.push(HeaderName::ContentLength, "0");
        let uri = match &self.uris {
            Some(u) => Uri::Sip(u.server.clone()),
            None => Uri::Other {
                scheme: "sip".into(),
                text: server,
            },
        };
        Request {
            method: Method::Register,
            uri,
            headers: h,
            body: Bytes::new(),
            parsed: Default::default(),
        }
    }

    /// How the REGISTER sent last ended.
    pub fn on_outcome(&mut self, now: Instant, outcome: &Outcome) {
        let Some(attempt) = self.in_flight.take() else {
            return;
        };
        let (code, response): (u16, Option<&Response>) = match outcome {
            Outcome::Response(r) => (r.status.code(), Some(r)),
            Outcome::AuthFailed { reason, response } => {
                // A repeated challenge is a refusal; anything else is Asterisk's failure
                // to build the authenticated request.
                if !reason.contains("rejected") {
                    tracing::warn!(
                        "Failed to create authenticated REGISTER request to server '{}' from client '{}'",
                        self.config.server_uri,
                        self.config.client_uri
                    );
                }
                tracing::debug!("outbound registration '{}': {reason}", self.name);
                (response.status.code(), Some(response))
            }
            Outcome::Timeout => (408, None),
            Outcome::TransportError => (503, None),
        };
        match response.and_then(|r| r.headers.cseq().ok()) {
            Some(c) => self.cseq = self.cseq.max(c.seq),
            None => self.cseq = self.cseq.saturating_add(CSEQ_GAP),
        }
        self.last_code = Some(code);
        if attempt.expires == 0 {
            self.on_unregister_outcome(code, response.is_some());
        } else {
            self.on_register_outcome(now, attempt, code, response);
        }
        self.follow_goal(now);
    }

    fn on_unregister_outcome(&mut self, code: u16, answered: bool) {
        let (server, client) = (&self.config.server_uri, &self.config.client_uri);
        if (200..300).contains(&code) {
            tracing::debug!(
                "Outbound unregistration to '{server}' with client '{client}' successful"
            );
        } else if answered {
            tracing::warn!(
                "Outbound unregistration to '{server}' with client '{client}' failed with response '{code}'"
            );
        } else {
            tracing::warn!(
                "No response received from '{server}' on unregistration attempt to '{client}'"
            );
        }
        // Either way it is no longer maintained (a binding left behind expires).
        self.state = State::Unregistered;
        self.granted = None;
        self.timer = None;
    }

    fn on_register_outcome(
        &mut self,
        now: Instant,
        attempt: Attempt,
        code: u16,
        response: Option<&Response>,
    ) {
        let server = self.config.server_uri.0.clone();
        let client = self.config.client_uri.0.clone();
        if let Some(r) = response.filter(|_| (200..300).contains(&code)) {
            let granted = self.granted_by(r, attempt.expires);
            if granted > 0 {
                tracing::debug!(
                    "Outbound registration to '{server}' with client '{client}' successful"
                );
                self.state = State::Registered;
                self.retries = 0;
                self.granted = Some(granted);
                self.timer = Some((now + refresh_after(granted), self.expires));
            } else {
                tracing::debug!(
                    "Outbound unregistration to '{server}' with client '{client}' successful"
                );
                self.state = State::Unregistered;
                self.granted = None;
                self.timer = None;
            }
            return;
        }
        self.granted = None;
        // pjproject's regc: 423 Interval Too Brief is answered at once with Min-Expires.
        if code == 423
            && let Some(min) = response.and_then(|r| r.headers.min_expires().ok().flatten())
            && min > attempt.expires
        {
            tracing::debug!(
                "outbound registration '{}': 423, registering again with Expires {min}",
                self.name
            );
            self.expires = min;
            self.timer = Some((now, min));
            return;
        }
        let retry_after = response
            .and_then(|r| r.headers.retry_after().ok().flatten())
            .map(|r| r.seconds)
            .filter(|&s| s > 0);
        let c = &self.config;
        if let Some(seconds) = retry_after {
            self.schedule_retry(now, seconds, code, response.is_some());
        } else if c.retry_interval > 0 && is_temporal(code, c.auth_rejection_permanent) {
            if self.retries >= c.max_retries {
                self.state = State::RejectedPermanent;
                self.timer = None;
                tracing::warn!(
                    "Maximum retries reached when attempting outbound registration to '{server}' with client '{client}', stopping registration attempt"
                );
            } else {
                self.retries += 1;
                self.schedule_retry(now, c.retry_interval, code, response.is_some());
            }
        } else if code == 403 && c.forbidden_retry_interval > 0 && self.retries < c.max_retries {
            let interval = c.forbidden_retry_interval;
            self.state = State::RejectedTemporary;
            self.retries += 1;
            self.timer = Some((now + secs(interval), self.expires));
            tracing::warn!(
                "403 Forbidden fatal response received from '{server}' on registration attempt to '{client}', retrying in '{interval}' seconds"
            );
        } else if c.fatal_retry_interval > 0 && self.retries < c.max_retries {
            let interval = c.fatal_retry_interval;
            self.state = State::RejectedTemporary;
            self.retries += 1;
            self.timer = Some((now + secs(interval), self.expires));
            tracing::warn!(
                "'{code}' fatal response received from '{server}' on registration attempt to '{client}', retrying in '{interval}' seconds with new contact"
            );
        } else {
            self.state = State::RejectedPermanent;
            self.timer = None;
            if response.is_some() {
                tracing::warn!(
                    "Fatal response '{code}' received from '{server}' on registration attempt to '{client}', stopping outbound registration"
                );
            } else {
                tracing::warn!(
                    "Fatal registration attempt to '{client}', stopping outbound registration"
                );
            }
        }
    }

    /// Asterisk's `schedule_retry`: temporarily rejected, retried after `interval` s.
    fn schedule_retry(&mut self, now: Instant, interval: u32, code: u16, answered: bool) {
        let (server, client) = (&self.config.server_uri, &self.config.client_uri);
        self.state = State::RejectedTemporary;
        self.timer = Some((now + secs(interval), self.expires));
        if answered {
            tracing::warn!(
                "Temporal response '{code}' received from '{server}' on registration attempt to '{client}', retrying in '{interval}'"
            );
        } else {
            tracing::warn!(
                "No response received from '{server}' on registration attempt to '{client}', retrying in '{interval}'"
            );
        }
    }

    /// The expiry granted by a 2xx: our Contact's `expires`, else the Expires field, else
    /// what was asked (pjproject's regc).
    fn granted_by(&self, response: &Response, asked: u32) -> u32 {
        let from_contact = self.contact.as_ref().and_then(|ours| {
            let list = response.headers.contacts().ok()?;
            list.addrs()
                .iter()
                .filter(|a| a.uri.equivalent(ours))
                .find_map(|a| a.params.value("expires")?.trim().parse::<u32>().ok())
        });
        from_contact
            .or_else(|| response.headers.expires().ok().flatten())
            .unwrap_or(asked)
    }

    /// With nothing in flight, brings the schedule in line with the goal.
    fn follow_goal(&mut self, now: Instant) {
        if self.in_flight.is_some() || self.goal == Goal::Register {
            return;
        }
        self.ready = None;
        if self.state == State::Registered {
            // Unregister first.
            self.timer = Some((now, 0));
            return;
        }
        self.timer = None;
        match self.goal {
            Goal::Register | Goal::Remove => {}
            Goal::Unregister => self.state = State::Unregistered,
            Goal::Reregister => {
                self.goal = Goal::Register;
                self.state = State::Unregistered;
                self.timer = Some((now, self.expires));
            }
        }
    }

    // ---- commands ----

    /// `pjsip send register`: unregister if registered, then register at once, clearing a
    /// permanent rejection and the retry count. Does nothing once removed.
    pub fn register(&mut self, now: Instant) {
        if self.goal == Goal::Remove {
            return;
        }
        if self.uris.is_none() {
            tracing::error!(
                "Outbound registration '{}' has invalid URIs and cannot register",
                self.name
            );
            return;
        }
        self.retries = 0;
        self.expires = self.config.expiration;
        self.goal = Goal::Reregister;
        self.ready = None;
        self.follow_goal(now);
    }

    /// `pjsip send unregister`: Expires 0 if registered, and no more automatic REGISTERs
    /// (until [`Self::register`]). Does nothing once removed.
    pub fn unregister(&mut self, now: Instant) {
        if self.goal == Goal::Remove {
            return;
        }
        self.goal = Goal::Unregister;
        self.cancel_schedule();
        self.follow_goal(now);
    }

    /// Removal (deleted or changed configuration, shutdown): unregister if registered,
    /// then finished ([`Self::is_finished`]).
    pub fn remove(&mut self, now: Instant) {
        self.goal = Goal::Remove;
        self.cancel_schedule();
        self.follow_goal(now);
    }

    /// Cancels the scheduled REGISTER (an un-REGISTER in progress is kept: the goal
    /// decides again).
    fn cancel_schedule(&mut self) {
        self.ready = None;
        if self.in_flight.is_none() {
            self.timer = None;
        }
    }

    /// The REGISTER taken with [`Self::poll_send`] cannot be sent for a reason that will
    /// not go away by itself (an unsupported registrar or transport): permanently
    /// rejected, as after a fatal response.
    pub fn reject(&mut self, now: Instant) {
        self.in_flight = None;
        self.ready = None;
        self.timer = None;
        self.state = State::RejectedPermanent;
        self.granted = None;
        if self.goal == Goal::Reregister {
            self.goal = Goal::Register;
        }
        self.follow_goal(now);
    }

    /// The REGISTER taken with [`Self::poll_send`] cannot be sent and nothing should be
    /// tried again (a transport that cannot send): Unregistered and idle, until
    /// [`Self::register`].
    pub fn halt(&mut self, now: Instant) {
        self.in_flight = None;
        self.ready = None;
        self.timer = None;
        self.state = State::Unregistered;
        self.granted = None;
        if self.goal != Goal::Remove {
            self.goal = Goal::Unregister;
        }
        self.follow_goal(now);
    }
}

#[cfg(test)]
mod tests;
