//! Qualify (Asterisk `pjsip_options.c`): OPTIONS to every contact of the AORs with
//! `qualify_frequency > 0` that this queue owns ([`super::registrations::owner`] of the
//! AOR's name), every `qualify_frequency` seconds, each answered within `qualify_timeout`
//! or counted as a failure.
//!
//! Status rule (hysteresis, against the flapping Asterisk users suffer from):
//! - A contact starts `Unknown`; its first result decides at once (Reachable or
//!   Unreachable), so a new phone shows up within one probe.
//! - After that a status changes only after [`CONFIRMATIONS`] consecutive results that
//!   agree: one lost OPTIONS does not mark a phone Unreachable, one stray answer does not
//!   mark a dead one Reachable.
//! - Any response counts as an answer (even 404 or 501), only 2xx with
//!   `qualify_2xx_only`; 401/407 are answered with the endpoint's `outbound_auth` when
//!   `authenticate_qualify` is on. The round-trip time is updated on every answer.
//! - No answer within `qualify_timeout` is a miss, detected at that moment (the schedule's
//!   1 s scan only sends probes); an answer that comes later is ignored.
//!
//! A status held by the rule keeps its round-trip time: a Reachable contact that missed one
//! probe still shows the RTT of its last answer. When an AOR stops qualifying (reload with
//! `qualify_frequency=0`), its contacts go back to NonQualified and the answers of probes
//! still in flight are ignored.
//!
//! Registered contacts are probed over the flow they registered on (their source address
//! and connection: the NAT binding the phone keeps open), static ones at their URI.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use foldhash::HashMap;

use super::registrations::Network;
use super::{CoreEvent, Outcome, RequestId};
use crate::config::types::{Aor, Auth, Kind, Object};
use crate::location::{ContactHash, Location, Status};
use crate::sip::{Host, Message, Request, Uri};
use crate::sorcery::Snapshot;
use crate::transport::Flow;

/// Consecutive agreeing results needed to change a known status.
pub const CONFIRMATIONS: u8 = 2;

/// How often the schedule is looked at.
const SCAN: Duration = Duration::from_secs(1);

type Key = (String, ContactHash);

struct Probe {
    key: Key,
    uri: String,
    sent: Instant,
    deadline: Instant,
    two_xx_only: bool,
    is_static: bool,
}

#[derive(Default)]
struct Track {
    due: Option<Instant>,
    /// A result that disagrees with the current status, and how many in a row.
    pending: Option<(Status, u8)>,
}

/// The qualify schedule of one queue.
#[derive(Default)]
pub(crate) struct Qualifier {
    generation: Option<u64>,
    /// AORs owned by this queue that qualify.
    aors: Vec<String>,
    next_scan: Option<Instant>,
    /// The earliest `qualify_timeout` of the probes in flight (maybe of one answered since).
    next_deadline: Option<Instant>,
    tracks: HashMap<Key, Track>,
    in_flight: HashMap<RequestId, Probe>,
    /// Probes handed to the core, not yet given an id.
    waiting: HashMap<u64, Probe>,
    /// Probes past their timeout whose transactions the core must end.
    abandoned: Vec<RequestId>,
    /// Ids of in-flight probes by contact, so a contact has one probe at a time.
    busy: HashSet<Key>,
    /// AORs to probe at the next scan regardless of schedule (`pjsip qualify`).
    forced: Vec<String>,
    calls: u64,
}

/// A request for the core to send.
pub(crate) struct Send {
    /// Hand back to [`Qualifier::sent`] with the id the core gave the request.
    pub token: u64,
    pub flow: Flow,
    pub request: Request,
    pub auths: Vec<Auth>,
}

/// A status change, for the log and events.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusChange {
    /// The AOR.
    pub aor: String,
    /// The contact URI.
    pub uri: String,
    /// The new status.
    pub status: Status,
    /// Round-trip time when reachable.
    pub rtt: Option<Duration>,
}

impl Qualifier {
    /// When the schedule must next be looked at.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.aors.is_empty() && self.in_flight.is_empty() && self.forced.is_empty() {
            // Nothing to do until the configuration changes (the queue is kicked then).
            return None;
        }
        [self.next_scan, self.next_deadline]
            .into_iter()
            .flatten()
            .min()
    }

    /// Probes the contacts of `aors` at the next scan.
    pub fn force(&mut self, aors: impl IntoIterator<Item = String>, now: Instant) {
        self.forced.extend(aors);
        self.next_scan = Some(now);
    }

    /// Re-reads which AORs qualify when the configuration changed; the contacts of those
    /// that no longer do are NonQualified again, and their probes forgotten.
    fn reconcile(
        &mut self,
        snapshot: &Snapshot,
        location: &Location,
        unix_now: u64,
        queue: usize,
        queues: usize,
        now: Instant,
    ) {
        if self.generation == Some(snapshot.generation()) {
            return;
        }
        self.generation = Some(snapshot.generation());
        let before = std::mem::take(&mut self.aors);
        self.aors = snapshot
            .all(Kind::Aor)
            .filter_map(|o| match &o.object {
                Object::Aor(a)
                    if a.qualify_frequency > 0
                        && super::registrations::owner(o.id(), queues) == queue =>
                {
                    Some(o.id().to_string())
                }
                _ => None,
            })
            .collect();
        let kept: HashSet<&str> = self.aors.iter().map(String::as_str).collect();
        for name in before.iter().filter(|a| !kept.contains(a.as_str())) {
            unqualify(name, snapshot, location, unix_now);
        }
        self.tracks.retain(|k, _| kept.contains(k.0.as_str()));
        let gone = |p: &Probe| !kept.contains(p.key.0.as_str());
        for p in self.in_flight.values().chain(self.waiting.values()) {
            if gone(p) {
                self.busy.remove(&p.key);
            }
        }
        self.in_flight.retain(|_, p| !gone(p));
        self.waiting.retain(|_, p| !gone(p));
        if !self.aors.is_empty() && self.next_scan.is_none() {
            self.next_scan = Some(now);
        }
    }

    /// Looks at the schedule: ends probes past their timeout, sends the ones due.
    #[allow(clippy::too_many_arguments)]
    pub fn handle_timeout(
        &mut self,
        now: Instant,
        unix_now: u64,
        snapshot: &Snapshot,
        location: &Location,
        network: &dyn Network,
        queue: usize,
        queues: usize,
        changes: &mut Vec<StatusChange>,
    ) -> Vec<Send> {
        self.reconcile(snapshot, location, unix_now, queue, queues, now);
        let mut sends = Vec::new();
        // Probes past their qualify_timeout fail then, not at the next scan.
        if self.next_deadline.is_some_and(|t| t <= now) {
            let late: Vec<RequestId> = self
                .in_flight
                .iter()
                .filter(|(_, p)| p.deadline <= now)
                .map(|(id, _)| *id)
                .collect();
            for id in late {
                if let Some(p) = self.in_flight.remove(&id) {
                    self.busy.remove(&p.key);
                    self.result(location, p, Status::Unreachable, None, changes);
                    self.abandoned.push(id);
                }
            }
            self.next_deadline = self.in_flight.values().map(|p| p.deadline).min();
        }
        if self.next_scan.is_some_and(|t| t > now) {
            return sends;
        }
        self.next_scan = Some(now + SCAN);
        let forced: HashSet<String> = self.forced.drain(..).collect();
        let aors = self.aors.clone();
        // Every contact seen in this scan: the tracks of the others are forgotten.
        let mut live: HashSet<Key> = HashSet::new();
        for name in aors
            .iter()
            .chain(forced.iter().filter(|f| !aors.contains(f)))
        {
            let Some(Object::Aor(aor)) = snapshot.get(Kind::Aor, name).map(|o| &o.object) else {
                continue;
            };
            let force = forced.contains(name);
            if aor.qualify_frequency == 0 && !force {
                continue;
            }
            for target in targets(name, aor, location, unix_now) {
                let key = (name.clone(), target.hash.clone());
                live.insert(key.clone());
                if self.busy.contains(&key) {
                    continue;
                }
                let track = self.tracks.entry(key.clone()).or_default();
                let due = *track.due.get_or_insert(now);
                if due > now && !force {
                    continue;
                }
                track.due =
                    Some(now + Duration::from_secs(u64::from(aor.qualify_frequency.max(1))));
                let Some((flow, local)) = target.route(network, snapshot) else {
                    continue;
                };
                self.calls += 1;
                let request = options_request(
                    &target.uri,
                    &target.path,
                    local,
                    &flow,
                    queue,
                    self.calls,
                    snapshot,
                );
                let Some(request) = request else { continue };
                let auths = if aor.authenticate_qualify {
                    endpoint_outbound_auths(snapshot, name)
                } else {
                    Vec::new()
                };
                let timeout = Duration::from_secs_f64(aor.qualify_timeout.clamp(0.1, 3600.0));
                self.busy.insert(key.clone());
                sends.push(Send {
                    token: self.calls,
                    flow,
                    request,
                    auths,
                });
                // Keyed by its id once `sent` learns it.
                self.waiting.insert(
                    self.calls,
                    Probe {
                        key,
                        uri: target.uri.clone(),
                        sent: now,
                        deadline: now + timeout,
                        two_xx_only: aor.qualify_2xx_only,
                        is_static: target.is_static,
                    },
                );
            }
        }
        // Forget contacts that are gone.
        self.tracks
            .retain(|k, _| live.contains(k) || self.busy.contains(k));
        sends
    }

    /// Probes given up on since the last call: the core ends their transactions.
    pub fn take_abandoned(&mut self) -> Vec<RequestId> {
        std::mem::take(&mut self.abandoned)
    }

    /// Records the id the core gave the probe `token` (none: it could not be sent).
    pub fn sent(&mut self, token: u64, id: Option<RequestId>) {
        let Some(p) = self.waiting.remove(&token) else {
            return;
        };
        match id {
            Some(id) => {
                self.next_deadline =
                    Some(self.next_deadline.map_or(p.deadline, |d| d.min(p.deadline)));
                self.in_flight.insert(id, p);
            }
            None => {
                self.busy.remove(&p.key);
            }
        }
    }

    /// A sent request ended; true when it was a probe.
    pub fn on_event(
        &mut self,
        now: Instant,
        event: &CoreEvent,
        location: &Location,
        changes: &mut Vec<StatusChange>,
    ) -> bool {
        let CoreEvent::Completed { id, outcome } = event else {
            return false;
        };
        let Some(p) = self.in_flight.remove(id) else {
            return false;
        };
        self.busy.remove(&p.key);
        // An answer after qualify_timeout is a miss, even when it came before the timer.
        let answered = now <= p.deadline
            && match outcome {
                Outcome::Response(r) => !p.two_xx_only || (200..300).contains(&r.status.code()),
                // A challenge we could not answer is still an answer from a live device.
                Outcome::AuthFailed { .. } => !p.two_xx_only,
                Outcome::Timeout | Outcome::TransportError => false,
            };
        if answered {
            let rtt = now.saturating_duration_since(p.sent);
            self.result(location, p, Status::Reachable, Some(rtt), changes);
        } else {
            self.result(location, p, Status::Unreachable, None, changes);
        }
        true
    }

    fn result(
        &mut self,
        location: &Location,
        p: Probe,
        observed: Status,
        rtt: Option<Duration>,
        changes: &mut Vec<StatusChange>,
    ) {
        let (aor, hash) = &p.key;
        let (current, last_rtt) = if p.is_static {
            location.static_status(aor, hash)
        } else {
            // Expired or not (Unix time 0): the status of an expired binding is moot.
            location
                .contacts(aor, 0)
                .into_iter()
                .find(|e| &e.binding.hash == hash)
                .map(|e| (e.status, e.rtt))
        }
        .unwrap_or((Status::Unknown, None));
        let track = self.tracks.entry(p.key.clone()).or_default();
        let new = if observed == current {
            track.pending = None;
            current
        } else if matches!(current, Status::Unknown | Status::NonQualified) {
            track.pending = None;
            observed
        } else {
            let n = match track.pending {
                Some((s, n)) if s == observed => n + 1,
                _ => 1,
            };
            if n >= CONFIRMATIONS {
                track.pending = None;
                observed
            } else {
                track.pending = Some((observed, n));
                current
            }
        };
        // A Reachable status held through a miss keeps the RTT of its last answer.
        let rtt = if new == Status::Reachable {
            rtt.or(last_rtt)
        } else {
            None
        };
        if p.is_static {
            location.set_static_status(aor, hash, new, rtt);
        } else {
            location.set_status(aor, hash, new, rtt);
        }
        if new != current {
            changes.push(StatusChange {
                aor: aor.clone(),
                uri: p.uri,
                status: new,
                rtt,
            });
        }
    }
}

/// The contacts of `name`, which no longer qualifies: NonQualified, without an RTT.
fn unqualify(name: &str, snapshot: &Snapshot, location: &Location, unix_now: u64) {
    let Some(Object::Aor(aor)) = snapshot.get(Kind::Aor, name).map(|o| &o.object) else {
        return;
    };
    for t in targets(name, aor, location, unix_now) {
        if !t.is_static {
            location.set_status(name, &t.hash, Status::NonQualified, None);
        } else if location.static_status(name, &t.hash).is_some() {
            location.set_static_status(name, &t.hash, Status::NonQualified, None);
        }
    }
}

/// Something to probe.
pub(crate) struct Target {
    pub uri: String,
    pub hash: ContactHash,
    pub path: Vec<String>,
    /// The registration's flow (registered contacts).
    pub flow: Option<Flow>,
    pub is_static: bool,
}

impl Target {
    pub(crate) fn route(
        &self,
        network: &dyn Network,
        snapshot: &Snapshot,
    ) -> Option<(Flow, SocketAddr)> {
        match &self.flow {
            Some(flow) => {
                let (_, local) = network.route(Some(&flow.transport), flow.remote)?;
                Some((flow.clone(), local))
            }
            None => {
                let remote = uri_addr(&self.uri, network)?;
                // A `;transport=tcp` contact over the first TCP transport (the transport
                // layer opens the connection); TLS and WebSocket cannot be opened yet.
                let Ok(Uri::Sip(sip)) = Uri::parse(self.uri.as_bytes()) else {
                    return None;
                };
                match sip.params.value("transport").map(str::to_ascii_lowercase) {
                    _ if sip.secure => None,
                    None => network.route(None, remote),
                    Some(t) if t == "udp" => network.route(None, remote),
                    Some(t) if t == "tcp" => {
                        let tcp = super::registrations::first_tcp_transport(snapshot)?;
                        network.route(Some(&tcp), remote)
                    }
                    Some(_) => None,
                }
            }
        }
    }
}

/// The address of a SIP URI: its IP, or what the daemon resolved its host name to.
fn uri_addr(uri: &str, network: &dyn Network) -> Option<SocketAddr> {
    let Ok(Uri::Sip(sip)) = Uri::parse(uri.as_bytes()) else {
        return None;
    };
    let ip = match &sip.host {
        Host::Ipv4(ip) => IpAddr::V4(*ip),
        Host::Ipv6(ip) => IpAddr::V6(*ip),
        Host::Domain(name) => network.resolve(name)?,
    };
    Some(SocketAddr::new(ip, sip.port.unwrap_or(5060)))
}

pub(crate) fn targets(name: &str, aor: &Aor, location: &Location, unix_now: u64) -> Vec<Target> {
    let mut v: Vec<Target> = aor
        .contact
        .0
        .iter()
        .map(|u| Target {
            uri: u.0.clone(),
            hash: ContactHash::of(&u.0),
            path: Vec::new(),
            flow: None,
            is_static: true,
        })
        .collect();
    for e in location.contacts(name, unix_now) {
        let b = e.binding;
        let protocol = protocol_of(&b.protocol);
        // Over a connection the contact is reached through it; over UDP at its Contact
        // URI, as Asterisk does (with rewrite_contact that URI is the source already), or
        // at the source when it registered through a Path (the proxy).
        let remote = if crate::transport::is_reliable(protocol) || !b.path.is_empty() {
            b.source
        } else {
            literal_addr(&b.uri).unwrap_or(b.source)
        };
        let flow = Flow {
            transport: b.transport.as_str().into(),
            protocol,
            remote,
            connection: b.connection,
        };
        v.push(Target {
            uri: b.uri,
            hash: b.hash,
            path: b.path,
            flow: Some(flow),
            is_static: false,
        });
    }
    v
}

/// The address of a SIP URI whose host is an IP literal.
fn literal_addr(uri: &str) -> Option<SocketAddr> {
    let Ok(Uri::Sip(sip)) = Uri::parse(uri.as_bytes()) else {
        return None;
    };
    let ip = match &sip.host {
        Host::Ipv4(ip) => IpAddr::V4(*ip),
        Host::Ipv6(ip) => IpAddr::V6(*ip),
        Host::Domain(_) => return None,
    };
    Some(SocketAddr::new(
        ip,
        sip.port.unwrap_or(if sip.secure { 5061 } else { 5060 }),
    ))
}

fn protocol_of(p: &str) -> crate::config::types::TransportProtocol {
    use crate::config::types::TransportProtocol as P;
    match p {
        "tcp" => P::Tcp,
        "tls" => P::Tls,
        "ws" => P::Ws,
        "wss" => P::Wss,
        _ => P::Udp,
    }
}

/// The `outbound_auth` objects of the endpoints that use `aor`.
fn endpoint_outbound_auths(snapshot: &Snapshot, aor: &str) -> Vec<Auth> {
    snapshot
        .indexes()
        .endpoints_by_aor(aor)
        .iter()
        .filter_map(|e| snapshot.endpoint(e))
        .flat_map(|e| e.outbound_auth.iter())
        .filter_map(
            |a| match snapshot.get(Kind::Auth, a.as_str()).map(|o| &o.object) {
                Some(Object::Auth(auth)) => Some(auth.clone()),
                _ => None,
            },
        )
        .collect()
}

/// An OPTIONS to `uri` from this server.
fn options_request(
    uri: &str,
    path: &[String],
    local: SocketAddr,
    flow: &Flow,
    queue: usize,
    n: u64,
    snapshot: &Snapshot,
) -> Option<Request> {
    let g = crate::identify::global(snapshot);
    let host = match local.ip() {
        IpAddr::V6(ip) => format!("[{ip}]:{}", local.port()),
        IpAddr::V4(ip) => format!("{ip}:{}", local.port()),
    };
    let mut text = format!(
        "OPTIONS {uri} SIP/2.0\r\nVia: SIP/2.0/{} {host};rport;branch={pending}\r\n\
         From: <sip:{}@{host}>;tag=q{queue:x}n{n:x}\r\nTo: <{uri}>\r\n\
         Call-ID: qualify-{queue:x}-{n:x}@{host}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n",
        flow.protocol_name(),
        g.default_from_user,
        pending = crate::sip::PENDING_BRANCH,
    );
    for p in path {
        text.push_str(&format!("Route: {p}\r\n"));
    }
    text.push_str(&format!(
        "User-Agent: {}\r\nContent-Length: 0\r\n\r\n",
        g.user_agent
    ));
    match Message::parse(bytes::Bytes::from(text)) {
        Ok(Message::Request(r)) => Some(r),
        _ => None,
    }
}

#[cfg(test)]
#[path = "qualify_tests.rs"]
mod tests;
