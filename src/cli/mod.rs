//! Operator commands (`pjsip show endpoints`, `pjsip reload`, ...): parsing and output.
//!
//! Pure with respect to I/O: a command is run against a [`Daemon`] (the running process as
//! seen by the CLI: a store snapshot, version, reload and stop requests) and returns text.
//! The control socket ([`crate::control`]) carries commands in and answers out. Output follows
//! the layout of Asterisk's `pjsip show` commands so admins' habits and scripts carry over.

mod channels;
mod format;
mod show;

use std::sync::Arc;

use crate::sorcery::Snapshot;

/// What a command can see of and ask of the running daemon.
pub trait Daemon: Send + Sync {
    /// The current configuration.
    fn snapshot(&self) -> Arc<Snapshot>;
    /// Re-reads the configuration files and applies the difference; returns a summary for the
    /// operator, or why the running configuration was kept.
    fn reload(&self) -> Result<String, String>;
    /// Asks the daemon to stop once current work is done.
    fn stop_gracefully(&self);
    /// Seconds since the daemon started.
    fn uptime_secs(&self) -> u64;
    /// Seconds since the last successful (re)load.
    fn last_reload_secs(&self) -> u64;
    /// The SIP sockets listening now.
    fn listeners(&self) -> Vec<Listener> {
        Vec::new()
    }
    /// Addresses whose requests matched no endpoint, counted (`auth_username` identifier).
    fn unidentified_requests(&self) -> Vec<UnidentifiedRow> {
        Vec::new()
    }
    /// The distributor's counters, as (label, value) lines; empty when SIP is not running.
    fn sip_counters(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
    /// The SIP traffic logger switch, when the daemon has one.
    fn sip_logger(&self) -> Option<crate::transport::SipLogger> {
        None
    }
    /// The location service's counters, as (label, value) lines.
    fn registrar_counters(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// Run-time state of contacts and outbound registrations.
    fn live(&self) -> Live {
        Live::default()
    }
    /// Asks for an action that SIP runs (qualify, send register); `Err` says why not.
    fn sip_action(&self, action: SipAction) -> Result<String, String> {
        let _ = action;
        Err("SIP is not running".to_string())
    }
    /// Live channels, asked of the queues (no media counters: asking the relay costs a
    /// round trip per leg, which a listing of thousands of channels must not pay).
    fn channels(&self) -> crate::pbx::ChannelListing {
        crate::pbx::ChannelListing::default()
    }
    /// The media counters of one leg (`core show channel`).
    fn leg_stats(&self, leg: crate::media::LegId) -> Option<crate::media::LegStats> {
        let _ = leg;
        None
    }
    /// Hangs up a channel by name (or `all`).
    fn channel_hangup(&self, name: &str) -> Result<String, String> {
        let _ = name;
        Err("No channels are running".to_string())
    }
    /// extensions.conf and acl.conf in use.
    fn tables(&self) -> std::sync::Arc<crate::core::Tables> {
        std::sync::Arc::default()
    }
    /// Re-reads extensions.conf (and acl.conf).
    fn reload_dialplan(&self) -> Result<String, String> {
        Err("dialplan reload is not available".to_string())
    }
}

/// An action the CLI asks of the SIP side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SipAction {
    /// `pjsip qualify <endpoint>`.
    Qualify(String),
    /// `pjsip send register <registration>|*all`.
    Register(String),
    /// `pjsip send unregister <registration>|*all`.
    Unregister(String),
}

/// Run-time state the listings show next to the configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Live {
    /// Registered contacts, and qualified static ones.
    pub contacts: Vec<ContactRow>,
    /// Outbound registrations.
    pub registrations: Vec<RegistrationRow>,
}

/// A contact as the listings show it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContactRow {
    /// Its AOR.
    pub aor: String,
    /// Its URI.
    pub uri: String,
    /// MD5 of the URI (hex).
    pub hash: String,
    /// Registered (rather than a static `contact=`).
    pub dynamic: bool,
    /// Short status: Avail, Unavail, Unknown, NonQual.
    pub status: String,
    /// Round-trip time of the last qualify, ms.
    pub rtt_ms: Option<f64>,
    /// Details for `pjsip show contact <id>`.
    pub details: Vec<(String, String)>,
}

/// An outbound registration's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegistrationRow {
    /// The registration's id.
    pub name: String,
    /// Registered, Unregistered or Rejected.
    pub status: String,
    /// Seconds to the next attempt (negative: that long ago).
    pub next_secs: Option<i64>,
    /// Run-time details for `pjsip show registration <id>`.
    pub details: Vec<(String, String)>,
}

/// A listening SIP socket, as `pjsip show transports` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    /// The transport object's id.
    pub transport: String,
    /// Its protocol (`udp`, `tcp`, ...).
    pub protocol: String,
    /// The bound address.
    pub local: std::net::SocketAddr,
    /// Open connections (connection-oriented protocols only).
    pub connections: Option<usize>,
}

/// One row of `pjsip show unidentified_requests`.
#[derive(Clone, Debug, PartialEq)]
pub struct UnidentifiedRow {
    /// The source address.
    pub ip: std::net::IpAddr,
    /// Requests counted.
    pub count: u32,
    /// Seconds since the first.
    pub age_secs: f64,
}

/// The answer to one command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// False when the command failed (unknown command, unknown object, reload refused).
    pub ok: bool,
    /// Text to print.
    pub text: String,
}

impl Reply {
    /// A successful answer.
    pub fn ok(text: impl Into<String>) -> Self {
        Self {
            ok: true,
            text: text.into(),
        }
    }

    /// A failed answer.
    pub fn fail(text: impl Into<String>) -> Self {
        Self {
            ok: false,
            text: text.into(),
        }
    }
}

/// The version string printed by `core show version`.
pub fn version_string() -> String {
    format!(
        "pjsipd {} built for {}-{}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

/// Every command, with its help text, in the order `help` lists them.
pub const COMMANDS: &[(&str, &str)] = &[
    (
        "pjsip show endpoints",
        "List endpoints with their auths, AORs, contacts and identifies",
    ),
    (
        "pjsip show endpoint <id>",
        "Show one endpoint and all its options",
    ),
    ("pjsip show aors", "List AORs with their contacts"),
    ("pjsip show aor <id>", "Show one AOR and all its options"),
    ("pjsip show auths", "List auth objects"),
    (
        "pjsip show auth <id>",
        "Show one auth object (passwords are never shown)",
    ),
    ("pjsip show transports", "List transports"),
    (
        "pjsip show transport <id>",
        "Show one transport and all its options",
    ),
    (
        "pjsip show identifies",
        "List identify objects and what they match",
    ),
    ("pjsip show identify <id>", "Show one identify object"),
    (
        "pjsip show unidentified_requests",
        "List addresses whose requests matched no endpoint, with counts",
    ),
    (
        "pjsip show distributor",
        "Count received, malformed, stateless, refused and dropped SIP messages",
    ),
    ("pjsip show registrations", "List outbound registrations"),
    (
        "pjsip show registration <id>",
        "Show one outbound registration",
    ),
    (
        "pjsip show registrar",
        "Count registered contacts and the contact database's writes",
    ),
    (
        "pjsip show contacts",
        "List contacts with their status and round-trip time",
    ),
    ("pjsip show contact <id>", "Show one contact"),
    (
        "pjsip qualify <endpoint>",
        "Send OPTIONS to the contacts of an endpoint's AORs now",
    ),
    (
        "pjsip send register <registration>|*all",
        "Unregister then register an outbound registration again",
    ),
    (
        "pjsip send unregister <registration>|*all",
        "Unregister an outbound registration and stop it",
    ),
    ("pjsip show settings", "Show [global] and [system] settings"),
    (
        "pjsip show identifiers",
        "Show the endpoint identifier order and overlapping identify rules",
    ),
    (
        "pjsip test identify <ip:port> [from <user@domain>] [ruri <uri>] [header <Name:value>]",
        "Show which endpoint such a request would be identified as, and why",
    ),
    (
        "pjsip set logger {on|off|host <ip>}",
        "Print SIP traffic (all, none, or to and from one address)",
    ),
    ("pjsip reload", "Re-read pjsip.conf and apply what changed"),
    (
        "core show channels [concise|count]",
        "List the live channels",
    ),
    (
        "core show channel <name>",
        "Show a channel, with its media counters",
    ),
    ("channel request hangup <name>|all", "Hang a channel up"),
    ("dialplan show [context]", "Show the dialplan"),
    ("dialplan reload", "Re-read extensions.conf"),
    ("core show version", "Show the version"),
    ("core show uptime", "Show how long the daemon has run"),
    ("core stop gracefully", "Stop the daemon after current work"),
    ("help", "List commands"),
];

/// Runs one command line.
pub fn execute(daemon: &dyn Daemon, line: &str) -> Reply {
    let words: Vec<&str> = line.split_whitespace().collect();
    let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
    let lw: Vec<&str> = lower.iter().map(String::as_str).collect();
    match lw.as_slice() {
        [] => Reply::ok(""),
        ["help", ..] | ["core", "show", "help", ..] => Reply::ok(help_text()),
        ["core", "show", "version"] => Reply::ok(format!("{}\n", version_string())),
        ["core", "show", "uptime", ..] => Reply::ok(format!(
            "System uptime: {}\nLast reload: {}\n",
            format::duration_words(daemon.uptime_secs()),
            format::duration_words(daemon.last_reload_secs())
        )),
        ["core", "stop", "gracefully" | "now" | "when"] => {
            daemon.stop_gracefully();
            Reply::ok("Stopping pjsipd gracefully\n")
        }
        ["pjsip", "reload"]
        | ["module", "reload", "res_pjsip.so" | "res_pjsip"]
        | ["core", "reload"] => match daemon.reload() {
            Ok(summary) => Reply::ok(format!("{summary}\n")),
            Err(why) => Reply::fail(format!("{why}\n")),
        },
        ["core", "show", "channels"] => channels::show_channels(daemon, None),
        ["core", "show", "channels", mode] => channels::show_channels(daemon, Some(mode)),
        ["core", "show", "channel", _] => channels::show_channel(daemon, words[3]),
        ["channel", "request", "hangup", _] => channels::hangup(daemon, words[3]),
        ["dialplan", "show"] => channels::dialplan_show(daemon, None),
        ["dialplan", "show", _] => channels::dialplan_show(daemon, Some(words[2])),
        ["dialplan", "reload"] => match daemon.reload_dialplan() {
            Ok(text) => Reply::ok(format!("{text}\n")),
            Err(why) => Reply::fail(format!("{why}\n")),
        },
        ["pjsip", "test", "identify", ..] => identify_test(&daemon.snapshot(), &words[3..]),
        ["pjsip", "set", "logger", rest @ ..] => set_logger(daemon, rest),
        ["pjsip", "show", "distributor"] => distributor(daemon),
        ["pjsip", "show", "registrar"] => {
            let rows = daemon.registrar_counters();
            let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
            Reply::ok(
                rows.iter()
                    .map(|(l, v)| format!("{l:<width$}  {v}\n"))
                    .collect::<String>(),
            )
        }
        ["pjsip", "qualify", _] => action(daemon, SipAction::Qualify(words[2].to_string())),
        ["pjsip", "send", "register", _] => {
            action(daemon, SipAction::Register(words[3].to_string()))
        }
        ["pjsip", "send", "unregister", _] => {
            action(daemon, SipAction::Unregister(words[3].to_string()))
        }
        ["pjsip", "show", "unidentified_requests"] => unidentified(daemon),
        ["pjsip", "show" | "list", ..] => {
            let snap = daemon.snapshot();
            // Object ids are case-sensitive: pass the original words on.
            let live = daemon.live();
            let mut reply = show::run(&snap, &live, &lw[2..], &words[2..]);
            if reply.ok && lw.get(2) == Some(&"transports") {
                reply.text.push_str(&listening(daemon));
            }
            reply
        }
        _ => Reply::fail(format!(
            "No such command '{}' (type 'help' for help)\n",
            line.trim()
        )),
    }
}

/// `pjsip test identify <ip:port> [from <user@domain>] [ruri <uri>] [header <Name:value>]`.
fn identify_test(snap: &crate::sorcery::Snapshot, args: &[&str]) -> Reply {
    use crate::identify::{RequestFacts, Trace, identify};
    let usage = "Usage: pjsip test identify <ip:port> [from <user@domain>] [ruri <uri>] [header <Name:value>]\n";
    let Some(source) = args
        .first()
        .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
    else {
        return Reply::fail(usage);
    };
    let (mut from, mut ruri, mut header) = (None, "sip:s@localhost", None);
    let mut rest = args[1..].iter();
    while let Some(word) = rest.next() {
        let Some(value) = rest.next() else {
            return Reply::fail(usage);
        };
        match word.to_ascii_lowercase().as_str() {
            "from" => from = Some(*value),
            "ruri" => ruri = value,
            "header" => header = value.split_once(':'),
            _ => return Reply::fail(usage),
        }
    }
    let from = from.map(|f| f.trim_start_matches("sip:").trim_start_matches("sips:"));
    let (from_user, from_domain) = match from.map(|f| f.split_once('@')) {
        Some(Some((u, d))) => (Some(u), Some(d)),
        Some(None) => (None, from),
        None => (None, None),
    };
    let headers = move |name: &str| -> Vec<String> {
        match header {
            Some((n, v)) if n.trim().eq_ignore_ascii_case(name) => vec![v.trim().to_string()],
            _ => Vec::new(),
        }
    };
    let facts = RequestFacts {
        source,
        from_user,
        from_domain,
        auth_users: Vec::new(),
        request_uri: ruri,
        transport_domain: None,
        header: &headers,
    };
    let mut trace = Trace::default();
    let found = identify(snap, &facts, &mut trace);
    let verdict = match found {
        Some(i) => format!(
            "Identified as endpoint '{}' by {} ({})\n",
            i.endpoint, i.by, i.detail
        ),
        None => "No matching endpoint found: the request would be challenged as an unknown user\n"
            .to_string(),
    };
    Reply::ok(format!("{trace}{verdict}"))
}

/// `pjsip set logger on|off|host <ip>`, in Asterisk's words.
fn set_logger(daemon: &dyn Daemon, args: &[&str]) -> Reply {
    use crate::transport::LoggerMode;
    let Some(logger) = daemon.sip_logger() else {
        return Reply::fail("SIP logging is not available\n");
    };
    match args {
        ["on"] => {
            logger.set(LoggerMode::On);
            Reply::ok("PJSIP Logging enabled\n")
        }
        ["off"] => {
            logger.set(LoggerMode::Off);
            Reply::ok("PJSIP Logging disabled\n")
        }
        ["host", ip] => match ip.parse::<std::net::IpAddr>() {
            Ok(ip) => {
                logger.set(LoggerMode::Host(ip));
                Reply::ok(format!("PJSIP Logging Enabled for host: {ip}\n"))
            }
            Err(_) => Reply::fail(format!("'{ip}' is not an IP address\n")),
        },
        _ => Reply::fail("Usage: pjsip set logger {on|off|host <ip>}\n"),
    }
}

fn action(daemon: &dyn Daemon, action: SipAction) -> Reply {
    match daemon.sip_action(action) {
        Ok(text) => Reply::ok(format!("{text}\n")),
        Err(text) => Reply::fail(format!("{text}\n")),
    }
}

/// `pjsip show unidentified_requests`, in Asterisk's columns.
fn unidentified(daemon: &dyn Daemon) -> Reply {
    let mut out = format!("{:<39} {:>8} {:>10}\n", "IP Address", "Count", "Age(sec)");
    out.push_str(&"=".repeat(59));
    out.push('\n');
    for r in daemon.unidentified_requests() {
        out.push_str(&format!(
            "{:<39} {:>8} {:>10.3}\n",
            r.ip, r.count, r.age_secs
        ));
    }
    Reply::ok(out)
}

/// `pjsip show distributor`: what happened to the messages received since start.
fn distributor(daemon: &dyn Daemon) -> Reply {
    let counters = daemon.sip_counters();
    if counters.is_empty() {
        return Reply::ok("SIP is not running\n");
    }
    let width = counters.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (label, value) in counters {
        out.push_str(&format!("{label:<width$}  {value}\n"));
    }
    Reply::ok(out)
}

/// The live sockets, after `pjsip show transports` (Asterisk shows only the configuration).
fn listening(daemon: &dyn Daemon) -> String {
    let listeners = daemon.listeners();
    if listeners.is_empty() {
        return "\nListening: none\n".to_string();
    }
    let mut out = String::from("\nListening:\n");
    for l in listeners {
        let (id, protocol, addr) = (&l.transport, &l.protocol, l.local);
        match l.connections {
            Some(n) => out.push_str(&format!(
                "  {id:<21}  {protocol:<6}  {addr}  connections: {n}\n"
            )),
            None => out.push_str(&format!("  {id:<21}  {protocol:<6}  {addr}\n")),
        }
    }
    out
}

fn help_text() -> String {
    let width = COMMANDS.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (cmd, what) in COMMANDS {
        out.push_str(&format!("{cmd:>width$} -- {what}\n"));
    }
    out
}

#[cfg(test)]
mod tests;
