//! The outbound registrations of one queue: the [`OutboundRegistration`] machines of the
//! `type=registration` objects this queue owns ([`owner`]), kept in line with the
//! configuration ([`OutRegs::reconcile`]), driven by the queue's timers, their REGISTERs
//! sent through the core's client transactions and their outcomes fed back
//! ([`OutRegs::on_event`]). Every queue publishes its registrations' states into one shared
//! [`RegistrationStates`] for the CLI.
//!
//! Sans-IO: time comes in as arguments (`now` for the machines, `unix_now` only for the
//! displayed times); the network is asked through [`Network`] which transport and local
//! address reach a registrar.
//!
//! Host names of server_uri and outbound_proxy are looked up in what the daemon resolved
//! at load ([`Network::resolve`], A/AAAA; no NAPTR/SRV yet); one that did not resolve is a
//! transport error, retried after retry_interval. REGISTERs go over UDP or TCP (the transport
//! layer opens the connection); TLS and WebSocket are not there yet: such a registration is
//! logged and stays Unregistered.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use foldhash::HashMap;

use super::{CoreEvent, Outcome, RequestId};
use crate::config::types::{Auth, Kind, Object, Registration, TransportProtocol};
use crate::outreg::{Attempt, OutboundRegistration, State, Status, next_random};
use crate::sip::{Host, Request};
use crate::sorcery::Snapshot;
use crate::transport::Flow;

/// The queue owning the registration `name` among `queues`: FNV-1a of the name's bytes,
/// stable across runs and releases.
pub fn owner(name: &str, queues: usize) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    usize::try_from(hash % (queues.max(1) as u64)).unwrap_or(0)
}

/// How REGISTERs reach a registrar: the flow to send on (which `type=transport`, which
/// protocol) and our local address towards `remote`, for Via and Contact. `transport` is
/// the registration's `transport` option when set.
pub trait Network: Send + Sync {
    /// The flow and local address, or `None` when no transport reaches `remote`.
    fn route(&self, transport: Option<&str>, remote: SocketAddr) -> Option<(Flow, SocketAddr)>;
    /// The address a host name of the configuration resolved to (looked up, never
    /// waited for: the daemon resolves names when it loads the configuration).
    fn resolve(&self, host: &str) -> Option<std::net::IpAddr> {
        let _ = host;
        None
    }
}

/// No network at all (a core without transports, and the default).
pub(crate) struct NoNetwork;

impl Network for NoNetwork {
    fn route(&self, _: Option<&str>, _: SocketAddr) -> Option<(Flow, SocketAddr)> {
        None
    }
}

/// One registration as the CLI shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrationState {
    /// Registered, Unregistered or Rejected.
    pub status: Status,
    /// The internal state, for logs and details.
    pub state: State,
    /// `server_uri`.
    pub server_uri: String,
    /// `client_uri`.
    pub client_uri: String,
    /// The first `outbound_auth`, or `n/a`.
    pub auth: String,
    /// `transport`, possibly empty.
    pub transport: String,
    /// Wall-clock second of the next REGISTER (the refresh when registered).
    pub next_attempt_unix: Option<u64>,
    /// The last final status code (a timeout counts as 408, a transport error as 503).
    pub last_code: Option<u16>,
    /// What the registrar granted, while registered.
    pub granted_expires: Option<u32>,
    /// The `line` token of the Contact.
    pub line: Option<String>,
    /// The endpoint requests carrying that `line` are for.
    pub endpoint: String,
}

/// The states of every queue's registrations, by name: written by the owning queues, read
/// by the CLI and by `line` identification.
#[derive(Debug, Default)]
pub struct RegistrationStates {
    map: Mutex<BTreeMap<String, RegistrationState>>,
}

impl RegistrationStates {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, RegistrationState>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state of `name`.
    pub fn get(&self, name: &str) -> Option<RegistrationState> {
        self.lock().get(name).cloned()
    }

    /// Every registration, in name order.
    pub fn all(&self) -> Vec<(String, RegistrationState)> {
        self.lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The registration whose Contact carries `;line=token`, and its endpoint.
    pub fn by_line(&self, token: &str) -> Option<(String, String)> {
        self.lock()
            .iter()
            .find(|(_, s)| s.line.as_deref() == Some(token))
            .map(|(k, s)| (k.clone(), s.endpoint.clone()))
    }

    fn set(&self, name: &str, state: RegistrationState) {
        let mut map = self.lock();
        match map.get_mut(name) {
            Some(old) if *old == state => {}
            Some(old) => *old = state,
            None => {
                map.insert(name.to_string(), state);
            }
        }
    }

    fn remove(&self, name: &str) {
        self.lock().remove(name);
    }
}

/// An operator command (`pjsip send register|unregister <name>|*all`, AMI
/// `PJSIPRegister`/`PJSIPUnregister`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutRegCommand {
    /// Unregister if registered, then register (clearing a permanent rejection).
    Register(String),
    /// Unregister and stop.
    Unregister(String),
}

/// A registration and what it was started with.
struct Entry {
    name: String,
    machine: OutboundRegistration,
    /// The `outbound_auth` objects when started: a change re-registers, as Asterisk's auth
    /// observer does.
    auths: Vec<Auth>,
    /// Removed or replaced: unregistering, no longer shown.
    retiring: bool,
}

/// Why a REGISTER cannot be sent.
enum Unsupported {
    /// A host name that did not resolve: a transport error, retried.
    Unresolved(String),
    /// Permanently rejected (an invalid URI).
    Reject(String),
    /// Stays Unregistered (not UDP).
    Halt(String),
}

/// The registrations of one queue.
pub(crate) struct OutRegs {
    queue: usize,
    queues: usize,
    states: Arc<RegistrationStates>,
    network: Arc<dyn Network>,
    rng: u64,
    /// The snapshot generation last reconciled.
    generation: Option<u64>,
    entries: BTreeMap<u64, Entry>,
    /// Current (not retiring) entries by name.
    active: BTreeMap<String, u64>,
    /// Requests in flight, by the core's id.
    requests: HashMap<RequestId, u64>,
    next_serial: u64,
    /// The earliest timer of the machines.
    next_timeout: Option<Instant>,
}

impl Default for OutRegs {
    fn default() -> Self {
        Self::new(0, 1, Arc::default(), Arc::new(NoNetwork), 0)
    }
}

impl OutRegs {
    /// The registrations queue `queue` of `queues` owns, publishing into `states`, routed
    /// by `network`; `seed` makes their delays, tags and line tokens.
    pub fn new(
        queue: usize,
        queues: usize,
        states: Arc<RegistrationStates>,
        network: Arc<dyn Network>,
        seed: u64,
    ) -> Self {
        Self {
            queue,
            queues: queues.max(1),
            states,
            network,
            rng: seed ^ 0x6f75_7472_6567_0000 ^ queue as u64,
            generation: None,
            entries: BTreeMap::new(),
            active: BTreeMap::new(),
            requests: HashMap::default(),
            next_serial: 0,
            next_timeout: None,
        }
    }

    /// The shared states.
    pub fn states(&self) -> &Arc<RegistrationStates> {
        &self.states
    }

    /// True when no registration is left (after [`Self::shutdown`]: every un-REGISTER was
    /// answered or timed out).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The machine of registration `name`, if this queue runs it.
    #[cfg(test)]
    pub fn get(&self, name: &str) -> Option<&OutboundRegistration> {
        self.active
            .get(name)
            .and_then(|s| self.entries.get(s))
            .map(|e| &e.machine)
    }

    /// Starts the registrations of `snapshot` this queue owns and has not started, replaces
    /// changed ones (the old one unregisters) and removes deleted ones (unregistering).
    /// Nothing to do when the snapshot's generation was already seen.
    pub fn reconcile(&mut self, now: Instant, unix_now: u64, snapshot: &Snapshot) {
        if self.generation == Some(snapshot.generation()) {
            return;
        }
        self.generation = Some(snapshot.generation());
        let mut seen = BTreeSet::new();
        for o in snapshot.all(Kind::Registration) {
            let Object::Registration(config) = &o.object else {
                continue;
            };
            let name = o.id();
            if owner(name, self.queues) != self.queue {
                continue;
            }
            seen.insert(name.to_string());
            let auths = outbound_auths(snapshot, config);
            if let Some(&serial) = self.active.get(name) {
                let unchanged = self
                    .entries
                    .get(&serial)
                    .is_some_and(|e| !e.machine.config_changed(config) && e.auths == auths);
                if unchanged {
                    continue;
                }
                tracing::info!("Outbound registration '{name}' changed: starting it again");
                self.retire(now, serial);
            }
            self.start(now, unix_now, snapshot, name, config, auths);
        }
        let gone: Vec<(String, u64)> = self
            .active
            .iter()
            .filter(|(name, _)| !seen.contains(*name))
            .map(|(n, s)| (n.clone(), *s))
            .collect();
        for (name, serial) in gone {
            tracing::info!("Outbound registration '{name}' removed");
            self.retire(now, serial);
            self.states.remove(&name);
        }
        self.update_timeout();
    }

    fn start(
        &mut self,
        now: Instant,
        unix_now: u64,
        snapshot: &Snapshot,
        name: &str,
        config: &Registration,
        auths: Vec<Auth>,
    ) {
        let seed = next_random(&mut self.rng);
        let mut machine = OutboundRegistration::new(name, config, now, seed);
        // Found at once rather than at the first attempt, so that the CLI shows it.
        match check(&machine, snapshot, &*self.network) {
            Ok(_) => {}
            Err(Unsupported::Unresolved(why)) => tracing::warn!("{why}"),
            Err(Unsupported::Reject(why)) => {
                tracing::error!("{why}");
                machine.reject(now);
            }
            Err(Unsupported::Halt(why)) => {
                tracing::error!("{why}");
                machine.halt(now);
            }
        }
        let serial = self.next_serial;
        self.next_serial += 1;
        self.entries.insert(
            serial,
            Entry {
                name: name.to_string(),
                machine,
                auths,
                retiring: false,
            },
        );
        self.active.insert(name.to_string(), serial);
        self.after_change(serial, now, unix_now);
    }

    /// Removes `serial` from the current registrations; it unregisters if registered and is
    /// dropped when finished.
    fn retire(&mut self, now: Instant, serial: u64) {
        let Some(e) = self.entries.get_mut(&serial) else {
            return;
        };
        if self.active.get(&e.name) == Some(&serial) {
            self.active.remove(&e.name);
        }
        e.retiring = true;
        e.machine.remove(now);
        if e.machine.is_finished() {
            self.entries.remove(&serial);
        }
    }

    /// When [`Self::handle_timeout`] must next run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_timeout
    }

    fn update_timeout(&mut self) {
        self.next_timeout = self
            .entries
            .values()
            .filter_map(|e| e.machine.poll_timeout())
            .min();
    }

    /// Runs the registrations due at `now`: each REGISTER is built and given to `send`
    /// (the core's `send_request`) with the registration's current `outbound_auth`
    /// objects; its outcome comes back through [`Self::on_event`].
    pub fn handle_timeout(
        &mut self,
        now: Instant,
        unix_now: u64,
        snapshot: &Snapshot,
        send: &mut dyn FnMut(Flow, Request, Vec<Auth>) -> Option<RequestId>,
    ) {
        let due: Vec<u64> = self
            .entries
            .iter()
            .filter(|(_, e)| e.machine.poll_timeout().is_some_and(|t| t <= now))
            .map(|(s, _)| *s)
            .collect();
        for serial in due {
            if let Some(e) = self.entries.get_mut(&serial) {
                e.machine.handle_timeout(now);
                // A REGISTER that fails at once may make another one due (a re-register
                // after a failed un-REGISTER); a few rounds at most.
                for _ in 0..4 {
                    let Some(attempt) = e.machine.poll_send() else {
                        break;
                    };
                    dispatch(
                        now,
                        snapshot,
                        &*self.network,
                        &mut self.requests,
                        serial,
                        e,
                        attempt,
                        send,
                    );
                    e.machine.handle_timeout(now);
                }
            }
            self.after_change(serial, now, unix_now);
        }
        self.update_timeout();
    }

    /// A core event: true when it was the outcome of one of these registrations' requests.
    pub fn on_event(&mut self, now: Instant, unix_now: u64, event: &CoreEvent) -> bool {
        #[allow(irrefutable_let_patterns)]
        let CoreEvent::Completed { id, outcome } = event else {
            return false;
        };
        let Some(serial) = self.requests.remove(id) else {
            return false;
        };
        if let Some(e) = self.entries.get_mut(&serial) {
            e.machine.on_outcome(now, outcome);
        }
        self.after_change(serial, now, unix_now);
        self.update_timeout();
        true
    }

    /// An operator command, for `name` or `*all`; returns how many registrations of this
    /// queue it applied to. Its REGISTERs go out at the next [`Self::handle_timeout`]
    /// ([`Self::poll_timeout`] is then `now`).
    pub fn command(&mut self, now: Instant, unix_now: u64, cmd: &OutRegCommand) -> usize {
        let (name, register) = match cmd {
            OutRegCommand::Register(n) => (n.as_str(), true),
            OutRegCommand::Unregister(n) => (n.as_str(), false),
        };
        let serials: Vec<u64> = if name == "*all" {
            self.active.values().copied().collect()
        } else {
            self.active.get(name).copied().into_iter().collect()
        };
        for &serial in &serials {
            if let Some(e) = self.entries.get_mut(&serial) {
                if register {
                    e.machine.register(now);
                } else {
                    e.machine.unregister(now);
                }
            }
            self.after_change(serial, now, unix_now);
        }
        self.update_timeout();
        serials.len()
    }

    /// Shutdown: every registration is removed, the registered ones send their
    /// un-REGISTER now. [`Self::is_empty`] tells when they are all answered.
    pub fn shutdown(
        &mut self,
        now: Instant,
        unix_now: u64,
        snapshot: &Snapshot,
        send: &mut dyn FnMut(Flow, Request, Vec<Auth>) -> Option<RequestId>,
    ) {
        let active: Vec<(String, u64)> = std::mem::take(&mut self.active).into_iter().collect();
        for (name, serial) in active {
            self.retire(now, serial);
            self.states.remove(&name);
        }
        self.update_timeout();
        self.handle_timeout(now, unix_now, snapshot, send);
    }

    /// After a machine changed: drop it when it retired and finished, else publish it.
    fn after_change(&mut self, serial: u64, now: Instant, unix_now: u64) {
        let Some(e) = self.entries.get(&serial) else {
            return;
        };
        if e.retiring {
            if e.machine.is_finished() {
                self.entries.remove(&serial);
            }
            return;
        }
        let m = &e.machine;
        let c = m.config();
        let next_attempt_unix = m.next_attempt().map(|at| {
            let ms = at.saturating_duration_since(now).as_millis();
            unix_now + u64::try_from(ms.div_ceil(1000)).unwrap_or(u64::MAX / 2)
        });
        self.states.set(
            &e.name,
            RegistrationState {
                status: m.status(),
                state: m.state(),
                server_uri: c.server_uri.0.clone(),
                client_uri: c.client_uri.0.clone(),
                auth: c
                    .outbound_auth
                    .iter()
                    .next()
                    .map_or_else(|| "n/a".to_string(), |a| a.0.clone()),
                transport: c.transport.clone(),
                next_attempt_unix,
                last_code: m.last_code(),
                granted_expires: m.granted_expires(),
                line: m.line_token().map(str::to_string),
                endpoint: c.endpoint.clone(),
            },
        );
    }
}

/// The registration's `outbound_auth` objects that exist in `snapshot`.
fn outbound_auths(snapshot: &Snapshot, config: &Registration) -> Vec<Auth> {
    config
        .outbound_auth
        .iter()
        .filter_map(
            |a| match snapshot.get(Kind::Auth, &a.0).map(|o| &o.object) {
                Some(Object::Auth(auth)) => Some(auth.clone()),
                _ => None,
            },
        )
        .collect()
}

/// The first `type=transport` over TCP (for a `;transport=tcp` registrar when the
/// registration names no transport).
pub(crate) fn first_tcp_transport(snapshot: &Snapshot) -> Option<String> {
    snapshot.all(Kind::Transport).find_map(|o| match &o.object {
        Object::Transport(t) if t.protocol == TransportProtocol::Tcp => Some(o.id().to_string()),
        _ => None,
    })
}

/// Where the machine's REGISTERs go, or why they cannot be sent yet.
fn check(
    machine: &OutboundRegistration,
    snapshot: &Snapshot,
    network: &dyn Network,
) -> Result<SocketAddr, Unsupported> {
    let name = machine.name();
    let Some(hop) = machine.next_hop() else {
        return Err(Unsupported::Reject(format!(
            "Outbound registration '{name}' has an invalid URI"
        )));
    };
    let transport_param = hop.params.value("transport").unwrap_or("udp");
    if hop.secure
        || !(transport_param.eq_ignore_ascii_case("udp")
            || transport_param.eq_ignore_ascii_case("tcp"))
    {
        return Err(Unsupported::Halt(format!(
            "Outbound registration '{name}': '{hop}' needs TLS or WebSocket; only UDP and TCP registrations are supported for now"
        )));
    }
    let transport = &machine.config().transport;
    if !transport.is_empty()
        && let Some(Object::Transport(t)) =
            snapshot.get(Kind::Transport, transport).map(|o| &o.object)
        && !matches!(t.protocol, TransportProtocol::Udp | TransportProtocol::Tcp)
    {
        return Err(Unsupported::Halt(format!(
            "Outbound registration '{name}': transport '{transport}' is {}; only UDP and TCP registrations are supported for now",
            crate::transport::protocol_name(t.protocol)
        )));
    }
    if transport.is_empty()
        && transport_param.eq_ignore_ascii_case("tcp")
        && first_tcp_transport(snapshot).is_none()
    {
        return Err(Unsupported::Halt(format!(
            "Outbound registration '{name}': '{hop}' asks for TCP and there is no TCP transport"
        )));
    }
    let port = hop.port.unwrap_or(5060);
    match &hop.host {
        Host::Ipv4(ip) => Ok(SocketAddr::new((*ip).into(), port)),
        Host::Ipv6(ip) => Ok(SocketAddr::new((*ip).into(), port)),
        Host::Domain(host) => match network.resolve(host) {
            Some(ip) => Ok(SocketAddr::new(ip, port)),
            None => Err(Unsupported::Unresolved(format!(
                "Outbound registration '{name}': host '{host}' of {} did not resolve",
                if machine.config().outbound_proxy.0.is_empty() {
                    "server_uri"
                } else {
                    "outbound_proxy"
                }
            ))),
        },
    }
}

/// Builds and sends one REGISTER of `e`.
#[allow(clippy::too_many_arguments)]
fn dispatch(
    now: Instant,
    snapshot: &Snapshot,
    network: &dyn Network,
    requests: &mut HashMap<RequestId, u64>,
    serial: u64,
    e: &mut Entry,
    attempt: Attempt,
    send: &mut dyn FnMut(Flow, Request, Vec<Auth>) -> Option<RequestId>,
) {
    let remote = match check(&e.machine, snapshot, network) {
        Ok(remote) => remote,
        Err(Unsupported::Unresolved(why)) => {
            tracing::error!("{why}");
            e.machine.on_outcome(now, &Outcome::TransportError);
            return;
        }
        Err(Unsupported::Reject(why)) => {
            tracing::error!("{why}");
            e.machine.reject(now);
            return;
        }
        Err(Unsupported::Halt(why)) => {
            tracing::error!("{why}");
            e.machine.halt(now);
            return;
        }
    };
    let config = e.machine.config();
    let wants_tcp = e
        .machine
        .next_hop()
        .and_then(|h| {
            h.params
                .value("transport")
                .map(|t| t.eq_ignore_ascii_case("tcp"))
        })
        .unwrap_or(false);
    let default_tcp = (config.transport.is_empty() && wants_tcp)
        .then(|| first_tcp_transport(snapshot))
        .flatten();
    let transport = if config.transport.is_empty() {
        default_tcp.as_deref()
    } else {
        Some(config.transport.as_str())
    };
    let Some((flow, local)) = network.route(transport, remote) else {
        tracing::error!(
            "Outbound registration '{}': no {} transport reaches {remote}",
            e.name,
            transport.map_or_else(|| "UDP".to_string(), |t| format!("'{t}'"))
        );
        e.machine.on_outcome(now, &Outcome::TransportError);
        return;
    };
    if !matches!(
        flow.protocol,
        TransportProtocol::Udp | TransportProtocol::Tcp
    ) {
        tracing::error!(
            "Outbound registration '{}': transport '{}' is {}; only UDP and TCP registrations are supported for now",
            e.name,
            flow.transport,
            flow.protocol_name()
        );
        e.machine.halt(now);
        return;
    }
    let auths = outbound_auths(snapshot, config);
    let user_agent = snapshot.global().user_agent;
    let request = e
        .machine
        .build_request(&attempt, local, flow.protocol, &user_agent);
    match send(flow, request, auths) {
        Some(id) => {
            requests.insert(id, serial);
        }
        None => e.machine.on_outcome(now, &Outcome::TransportError),
    }
}
