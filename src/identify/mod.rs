//! Endpoint identification: which endpoint a request comes from (Asterisk's
//! `res_pjsip_endpoint_identifier_*`), with a trace that says why nothing matched.
//!
//! Sans-IO: it reads a configuration [`Snapshot`] and the facts the distributor extracted from
//! the request ([`RequestFacts`]); it performs no I/O and reads no clock.
//!
//! Identifiers run in the order of `[global] endpoint_identifier_order` (default
//! `ip,username,anonymous`); identifiers not named there follow in Asterisk's registration
//! order (`username`, `auth_username`, `ip`, `header`, `request_uri`, `anonymous`). The first
//! one that finds an endpoint wins. Unlike Asterisk, overlapping `identify` rules resolve
//! deterministically: the longest prefix wins, then a rule naming the source port, then the
//! smallest identify id ([`overlaps`] lists such overlaps at load).

mod overlap;

use std::fmt;
use std::net::SocketAddr;

pub use overlap::{Overlap, overlaps};

use crate::config::types::{IdentifyMethod, Kind, MatchTarget, Object};
use crate::sorcery::Snapshot;

/// What identification looks at in a request.
pub struct RequestFacts<'a> {
    /// Where the request came from.
    pub source: SocketAddr,
    /// User part of the From URI, if any.
    pub from_user: Option<&'a str>,
    /// Host part of the From URI, if any.
    pub from_domain: Option<&'a str>,
    /// `(username, realm)` of each Digest Authorization / Proxy-Authorization header.
    pub auth_users: Vec<(&'a str, &'a str)>,
    /// The Request-URI as received.
    pub request_uri: &'a str,
    /// `domain` of the transport the request arrived on, if set.
    pub transport_domain: Option<&'a str>,
    /// Values of a header by name (case-insensitive, compact forms folded by the caller).
    pub header: &'a dyn Fn(&str) -> Vec<String>,
}

/// What identification asks of a request, on demand: identifiers that never run never
/// make the caller build their input (the core answers from the parsed request lazily).
pub trait Facts {
    /// Where the request came from.
    fn source(&self) -> SocketAddr;
    /// User part of the From URI, if any.
    fn sender_user(&self) -> Option<&str>;
    /// Host part of the From URI, if any.
    fn sender_domain(&self) -> Option<&str>;
    /// `(username, realm)` of each Digest Authorization / Proxy-Authorization header.
    fn auth_users(&self) -> Vec<(&str, &str)>;
    /// The Request-URI.
    fn request_uri(&self) -> std::borrow::Cow<'_, str>;
    /// `domain` of the transport the request arrived on, if set.
    fn transport_domain(&self) -> Option<&str>;
    /// Values of a header by name.
    fn header(&self, name: &str) -> Vec<String>;
}

impl Facts for RequestFacts<'_> {
    fn source(&self) -> SocketAddr {
        self.source
    }
    fn sender_user(&self) -> Option<&str> {
        self.from_user
    }
    fn sender_domain(&self) -> Option<&str> {
        self.from_domain
    }
    fn auth_users(&self) -> Vec<(&str, &str)> {
        self.auth_users.clone()
    }
    fn request_uri(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(self.request_uri)
    }
    fn transport_domain(&self) -> Option<&str> {
        self.transport_domain
    }
    fn header(&self, name: &str) -> Vec<String> {
        (self.header)(name)
    }
}

/// An identifier (a way to find the endpoint of a request).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identifier {
    /// Source address against identify `match`.
    Ip,
    /// From user (and domain).
    Username,
    /// Digest username (and realm).
    AuthUsername,
    /// A header against identify `match_header`.
    Header,
    /// The Request-URI against identify `match_request_uri`.
    RequestUri,
    /// The `anonymous` endpoint.
    Anonymous,
    /// The `line` parameter of the Request-URI names an outbound registration's Contact
    /// (Asterisk's unnamed identifier that runs before the others).
    Line,
}

impl Identifier {
    /// Asterisk's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ip => "ip",
            Self::Username => "username",
            Self::AuthUsername => "auth_username",
            Self::Header => "header",
            Self::RequestUri => "request_uri",
            Self::Anonymous => "anonymous",
            Self::Line => "line",
        }
    }

    fn from_method(m: IdentifyMethod) -> Self {
        match m {
            IdentifyMethod::Ip => Self::Ip,
            IdentifyMethod::Username => Self::Username,
            IdentifyMethod::AuthUsername => Self::AuthUsername,
            IdentifyMethod::Header => Self::Header,
            IdentifyMethod::RequestUri => Self::RequestUri,
            IdentifyMethod::Anonymous => Self::Anonymous,
        }
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Asterisk's registration order, used for identifiers the configured order leaves out.
const REGISTRATION_ORDER: [Identifier; 6] = [
    Identifier::Username,
    Identifier::AuthUsername,
    Identifier::Ip,
    Identifier::Header,
    Identifier::RequestUri,
    Identifier::Anonymous,
];

/// The effective identifier order (`pjsip show identifiers`).
pub fn identifier_order(snapshot: &Snapshot) -> Vec<Identifier> {
    let mut order: Vec<Identifier> = global(snapshot)
        .endpoint_identifier_order
        .iter()
        .map(|m| Identifier::from_method(*m))
        .collect();
    order.dedup();
    for i in REGISTRATION_ORDER {
        if !order.contains(&i) {
            order.push(i);
        }
    }
    order
}

/// The `[global]` object without copying it (`Snapshot::global` returns a copy).
pub(crate) fn global(snapshot: &Snapshot) -> &crate::config::types::Global {
    static DEFAULT: std::sync::LazyLock<crate::config::types::Global> =
        std::sync::LazyLock::new(Default::default);
    match snapshot.all(Kind::Global).next().map(|o| &o.object) {
        Some(Object::Global(g)) => g,
        _ => &DEFAULT,
    }
}

/// The endpoint found, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identified {
    /// The endpoint's id.
    pub endpoint: String,
    /// The identifier that found it.
    pub by: Identifier,
    /// What matched, in words (identify object, network, lookup name).
    pub detail: String,
}

/// One step of identification, for the "why did nothing match" trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceStep {
    /// The identifier.
    pub identifier: Identifier,
    /// What it compared and what came of it.
    pub what: String,
}

/// Everything identification tried, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// The steps.
    pub steps: Vec<TraceStep>,
    /// Records nothing (see [`Trace::quiet`]).
    quiet: bool,
}

impl Trace {
    /// A trace that records nothing, for the request path: no step is written, and the
    /// [`Identified::detail`] it leads to is left empty.
    pub fn quiet() -> Self {
        Self {
            steps: Vec::new(),
            quiet: true,
        }
    }

    /// True when steps are recorded.
    pub fn is_recording(&self) -> bool {
        !self.quiet
    }

    fn note(&mut self, identifier: Identifier, what: impl Into<String>) {
        if self.quiet {
            return;
        }
        self.steps.push(TraceStep {
            identifier,
            what: what.into(),
        });
    }

    /// Records the text `what` builds, built only when recording.
    fn note_with(&mut self, identifier: Identifier, what: impl FnOnce() -> String) {
        if self.quiet {
            return;
        }
        self.note(identifier, what());
    }

    /// `detail()` when recording, else nothing.
    fn detail(&self, detail: impl FnOnce() -> String) -> String {
        if self.quiet { String::new() } else { detail() }
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.steps {
            writeln!(f, "  {:<13} {}", s.identifier.name(), s.what)?;
        }
        Ok(())
    }
}

/// Finds the endpoint of a request, recording every comparison in `trace`.
pub fn identify(
    snapshot: &Snapshot,
    facts: &RequestFacts<'_>,
    trace: &mut Trace,
) -> Option<Identified> {
    identify_with(snapshot, facts, trace)
}

/// [`identify`] over any [`Facts`]: each identifier asks only for what it compares.
pub fn identify_with<F: Facts + ?Sized>(
    snapshot: &Snapshot,
    facts: &F,
    trace: &mut Trace,
) -> Option<Identified> {
    for identifier in identifier_order(snapshot) {
        let found = match identifier {
            Identifier::Ip => by_ip(snapshot, facts, trace),
            Identifier::Username => by_username(snapshot, facts, trace),
            Identifier::AuthUsername => by_auth_username(snapshot, facts, trace),
            Identifier::Header => by_header(snapshot, facts, trace),
            Identifier::RequestUri => by_request_uri(snapshot, facts, trace),
            Identifier::Anonymous => by_anonymous(snapshot, facts, trace),
            // Needs the outbound registrations' tokens: the SIP core checks it first.
            Identifier::Line => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// The endpoint an identify object names, if it exists (Asterisk warns when it does not).
fn identify_endpoint(
    snapshot: &Snapshot,
    identifier: Identifier,
    identify_id: &str,
    detail: String,
    trace: &mut Trace,
) -> Option<Identified> {
    let endpoint = match snapshot.get(Kind::Identify, identify_id).map(|o| &o.object) {
        Some(Object::Identify(i)) => &i.endpoint,
        _ => return None,
    };
    if snapshot.endpoint(endpoint).is_none() {
        trace.note_with(identifier, || {
            format!("{detail}, but identify '{identify_id}' points to endpoint '{endpoint}' which could not be found")
        });
        return None;
    }
    trace.note_with(identifier, || format!("{detail} -> endpoint '{endpoint}'"));
    Some(Identified {
        endpoint: endpoint.clone(),
        by: identifier,
        detail,
    })
}

fn by_ip<F: Facts + ?Sized>(
    snapshot: &Snapshot,
    facts: &F,
    trace: &mut Trace,
) -> Option<Identified> {
    let source = facts.source();
    let (ip, port) = (source.ip(), source.port());
    match snapshot.indexes().identify_for(ip, port) {
        Some(m) => {
            let detail = trace.detail(|| {
                let port = m.port.map(|p| format!(" port {p}")).unwrap_or_default();
                format!(
                    "source {} matched identify '{}' ({}{port})",
                    source, m.identify, m.network
                )
            });
            identify_endpoint(snapshot, Identifier::Ip, &m.identify, detail, trace)
        }
        None => {
            trace.note_with(Identifier::Ip, || {
                let hosts = snapshot
                    .all(Kind::Identify)
                    .filter(|o| {
                        matches!(&o.object, Object::Identify(i)
                            if i.r#match.iter().any(|m| matches!(m, MatchTarget::Host { .. })))
                    })
                    .count();
                let note = if hosts > 0 {
                    format!(" ({hosts} identify rule(s) name hosts, matched once resolved)")
                } else {
                    String::new()
                };
                format!("source {source} matched no identify network{note}")
            });
            None
        }
    }
}

/// Asterisk's `user@domain` lookup: `user@domain`, `user@<alias target>`, `user@<transport
/// domain>`, then `user` alone; the endpoint must allow `method` in its `identify_by`.
fn lookup_user(
    snapshot: &Snapshot,
    identifier: Identifier,
    method: IdentifyMethod,
    user: &str,
    domain: Option<&str>,
    transport_domain: Option<&str>,
    trace: &mut Trace,
) -> Option<Identified> {
    let global = global(snapshot);
    let user = if global.ignore_uri_user_options {
        user.split(';').next().unwrap_or(user)
    } else {
        user
    };
    let mut names = Vec::new();
    if !global.disable_multi_domain {
        if let Some(d) = domain.filter(|d| !d.is_empty()) {
            names.push(format!("{user}@{d}"));
            if let Some(Object::DomainAlias(a)) =
                snapshot.get(Kind::DomainAlias, d).map(|o| &o.object)
            {
                names.push(format!("{user}@{}", a.domain));
            }
        }
        if let Some(t) = transport_domain.filter(|t| !t.is_empty()) {
            names.push(format!("{user}@{t}"));
        }
    }
    names.push(user.to_string());
    names.dedup();
    for name in &names {
        if let Some(e) = snapshot.endpoint(name) {
            if e.identify_by.iter().any(|m| *m == method) {
                trace.note_with(identifier, || format!("'{name}' -> endpoint '{name}'"));
                return Some(Identified {
                    endpoint: name.clone(),
                    by: identifier,
                    detail: trace.detail(|| format!("endpoint named '{name}'")),
                });
            }
            trace.note_with(identifier, || {
                format!(
                    "endpoint '{name}' exists but its identify_by does not include {}",
                    method.as_str()
                )
            });
            return None;
        }
    }
    trace.note_with(identifier, || {
        format!("no endpoint named {}", names.join(", "))
    });
    None
}

fn by_username<F: Facts + ?Sized>(
    snapshot: &Snapshot,
    facts: &F,
    trace: &mut Trace,
) -> Option<Identified> {
    let Some(user) = facts.sender_user().filter(|u| !u.is_empty()) else {
        trace.note(Identifier::Username, "From has no user part");
        return None;
    };
    lookup_user(
        snapshot,
        Identifier::Username,
        IdentifyMethod::Username,
        user,
        facts.sender_domain(),
        facts.transport_domain(),
        trace,
    )
}

fn by_auth_username<F: Facts + ?Sized>(
    snapshot: &Snapshot,
    facts: &F,
    trace: &mut Trace,
) -> Option<Identified> {
    let auth_users = facts.auth_users();
    if auth_users.is_empty() {
        trace.note(Identifier::AuthUsername, "no Authorization header");
        return None;
    }
    for (user, realm) in &auth_users {
        let found = lookup_user(
            snapshot,
            Identifier::AuthUsername,
            IdentifyMethod::AuthUsername,
            user,
            Some(realm),
            facts.transport_domain(),
            trace,
        );
        if found.is_some() {
            return found;
        }
    }
    None
}

fn by_header<F: Facts + ?Sized>(
    snapshot: &Snapshot,
    facts: &F,
    trace: &mut Trace,
) -> Option<Identified> {
    scan_identifies(snapshot, trace, Identifier::Header, "match_header", |i| {
        let (name, wanted) = i.header_match()?;
        let values = facts.header(name);
        let matched = values.iter().any(|v| v.trim() == wanted);
        Some(RuleCheck {
            wanted: format!("{name}: {wanted}"),
            regex: is_regex(wanted),
            found: format!("{values:?}"),
            matched,
        })
    })
}

fn by_request_uri<F: Facts + ?Sized>(
    snapshot: &Snapshot,
    facts: &F,
    trace: &mut Trace,
) -> Option<Identified> {
    let mut request_uri = None;
    scan_identifies(
        snapshot,
        trace,
        Identifier::RequestUri,
        "match_request_uri",
        |i| {
            let wanted = i.match_request_uri.trim();
            if wanted.is_empty() {
                return None;
            }
            let request_uri: &str = request_uri.get_or_insert_with(|| facts.request_uri());
            Some(RuleCheck {
                wanted: wanted.to_string(),
                regex: is_regex(wanted),
                found: request_uri.to_string(),
                matched: request_uri.eq_ignore_ascii_case(wanted),
            })
        },
    )
}

/// What one identify rule wants of a request and whether the request has it.
struct RuleCheck {
    wanted: String,
    regex: bool,
    found: String,
    matched: bool,
}

/// The `header` and `request_uri` identifiers: every identify rule that sets `option` is
/// checked (`check` returns `None` for rules without it); the first match wins.
fn scan_identifies(
    snapshot: &Snapshot,
    trace: &mut Trace,
    identifier: Identifier,
    option: &str,
    mut check: impl FnMut(&crate::config::types::Identify) -> Option<RuleCheck>,
) -> Option<Identified> {
    let mut tried = 0;
    for o in snapshot.all(Kind::Identify) {
        let Object::Identify(i) = &o.object else {
            continue;
        };
        let Some(rule) = check(i) else {
            continue;
        };
        tried += 1;
        if rule.regex {
            trace.note_with(identifier, || {
                format!(
                    "identify '{}': regular expressions are not supported yet ({})",
                    o.id(),
                    rule.wanted
                )
            });
            continue;
        }
        if rule.matched {
            let detail = trace.detail(|| format!("{} matched identify '{}'", rule.wanted, o.id()));
            return identify_endpoint(snapshot, identifier, o.id(), detail, trace);
        }
        trace.note_with(identifier, || {
            format!(
                "identify '{}' wants {}, request has {}",
                o.id(),
                rule.wanted,
                rule.found
            )
        });
    }
    if tried == 0 {
        trace.note_with(identifier, || format!("no identify has {option}"));
    }
    None
}

fn by_anonymous<F: Facts + ?Sized>(
    snapshot: &Snapshot,
    facts: &F,
    trace: &mut Trace,
) -> Option<Identified> {
    let mut names = Vec::new();
    if let Some(d) = facts.sender_domain().filter(|d| !d.is_empty()) {
        names.push(format!("anonymous@{d}"));
        if let Some(Object::DomainAlias(a)) = snapshot.get(Kind::DomainAlias, d).map(|o| &o.object)
        {
            names.push(format!("anonymous@{}", a.domain));
        }
    }
    if let Some(t) = facts.transport_domain().filter(|t| !t.is_empty()) {
        names.push(format!("anonymous@{t}"));
    }
    names.push("anonymous".to_string());
    for name in &names {
        if snapshot.endpoint(name).is_some() {
            trace.note_with(Identifier::Anonymous, || format!("-> endpoint '{name}'"));
            return Some(Identified {
                endpoint: name.clone(),
                by: Identifier::Anonymous,
                detail: trace.detail(|| format!("anonymous endpoint '{name}'")),
            });
        }
    }
    trace.note_with(Identifier::Anonymous, || {
        format!("no endpoint named {}", names.join(", "))
    });
    None
}

fn is_regex(v: &str) -> bool {
    v.len() >= 2 && v.starts_with('/') && v.ends_with('/')
}

#[cfg(test)]
mod tests;
