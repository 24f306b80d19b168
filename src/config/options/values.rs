//! Value types of configuration options and how each parses and prints.

use std::fmt::{self, Debug, Display};
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use ipnet::IpNet;

/// A value an option can hold.
pub trait OptionValue: Clone + PartialEq + Debug + Default + Send + Sync + 'static {
    /// Applies one configuration line's value: scalars replace, lists add.
    fn apply(&mut self, raw: &str) -> Result<(), String>;
    /// The value as config lines (lists: one line per item; scalars: one line).
    fn render(&self) -> Vec<String>;
    /// One-line form for `pjsip show` (list items joined with commas).
    fn display(&self) -> String {
        self.render().join(",")
    }
}

/// Parses a boolean strictly: Asterisk's true and false words, anything else is an error
/// (Asterisk silently reads garbage as false; we refuse it).
pub fn parse_bool(raw: &str) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "y" | "t" | "1" | "on" => Ok(true),
        "no" | "false" | "n" | "f" | "0" | "off" => Ok(false),
        _ => Err(format!(
            "'{raw}' is not a boolean (use yes/no, true/false, on/off, 1/0)"
        )),
    }
}

impl OptionValue for bool {
    fn apply(&mut self, raw: &str) -> Result<(), String> {
        *self = parse_bool(raw)?;
        Ok(())
    }
    fn render(&self) -> Vec<String> {
        vec![if *self { "yes" } else { "no" }.to_string()]
    }
}

impl OptionValue for String {
    fn apply(&mut self, raw: &str) -> Result<(), String> {
        raw.clone_into(self);
        Ok(())
    }
    fn render(&self) -> Vec<String> {
        vec![self.clone()]
    }
}

macro_rules! unsigned_value {
    ($($t:ty),*) => {$(
        impl OptionValue for $t {
            fn apply(&mut self, raw: &str) -> Result<(), String> {
                let t = raw.trim();
                *self = t.parse().map_err(|_| {
                    format!("'{raw}' is not a whole number from 0 to {}", <$t>::MAX)
                })?;
                Ok(())
            }
            fn render(&self) -> Vec<String> {
                vec![self.to_string()]
            }
        }
    )*};
}
unsigned_value!(u8, u16, u32, u64);

impl OptionValue for i32 {
    fn apply(&mut self, raw: &str) -> Result<(), String> {
        *self = raw
            .trim()
            .parse()
            .map_err(|_| format!("'{raw}' is not a whole number"))?;
        Ok(())
    }
    fn render(&self) -> Vec<String> {
        vec![self.to_string()]
    }
}

impl OptionValue for f64 {
    fn apply(&mut self, raw: &str) -> Result<(), String> {
        let v: f64 = raw
            .trim()
            .parse()
            .map_err(|_| format!("'{raw}' is not a number"))?;
        if !v.is_finite() || v < 0.0 {
            return Err(format!("'{raw}' is not a non-negative number"));
        }
        *self = v;
        Ok(())
    }
    fn render(&self) -> Vec<String> {
        vec![self.to_string()]
    }
}

/// A comma-separated list; repeated lines add to it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ListOf<T>(pub Vec<T>);

impl<T> Default for ListOf<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T: Debug> Debug for ListOf<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<T> ListOf<T> {
    /// The items.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T> OptionValue for ListOf<T>
where
    T: FromStr + Display + Clone + PartialEq + Debug + Send + Sync + 'static,
    T::Err: Display,
{
    fn apply(&mut self, raw: &str) -> Result<(), String> {
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let v = item.parse::<T>().map_err(|e| e.to_string())?;
            if !self.0.contains(&v) {
                self.0.push(v);
            }
        }
        Ok(())
    }
    fn render(&self) -> Vec<String> {
        if self.0.is_empty() {
            return vec![String::new()];
        }
        vec![
            self.0
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
        ]
    }
}

/// A value written once per line (items may contain commas); repeated lines add to it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Repeated<T>(pub Vec<T>);

impl<T> Default for Repeated<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T: Debug> Debug for Repeated<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<T> OptionValue for Repeated<T>
where
    T: FromStr + Display + Clone + PartialEq + Debug + Send + Sync + 'static,
    T::Err: Display,
{
    fn apply(&mut self, raw: &str) -> Result<(), String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(());
        }
        self.0.push(raw.parse::<T>().map_err(|e| e.to_string())?);
        Ok(())
    }
    fn render(&self) -> Vec<String> {
        if self.0.is_empty() {
            return vec![String::new()];
        }
        self.0.iter().map(ToString::to_string).collect()
    }
    fn display(&self) -> String {
        self.0
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// A plain word without separators: used for object names in reference lists.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(pub String);

impl FromStr for Name {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("empty name".into());
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("'{s}' contains spaces or control characters"));
        }
        Ok(Self(s.to_string()))
    }
}

impl Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Debug::fmt(&self.0, f)
    }
}

impl Name {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Codec names pjsipd knows (Asterisk's format names).
pub const KNOWN_CODECS: &[&str] = &[
    "ulaw", "alaw", "g722", "g729", "gsm", "opus", "ilbc", "speex", "speex16", "speex32", "slin",
    "slin12", "slin16", "slin24", "slin32", "slin44", "slin48", "slin96", "slin192", "g726",
    "g726aal2", "adpcm", "lpc10", "g723", "g719", "siren7", "siren14", "testlaw", "codec2",
    "silk8", "silk12", "silk16", "silk24", "h261", "h263", "h263p", "h264", "h265", "vp8", "vp9",
    "mpeg4", "jpeg", "png", "t140", "t140red", "red", "none",
];

/// One entry of a codec preference list: name and optional framing (`ulaw:20`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CodecPref {
    /// Asterisk format name, lower case.
    pub name: String,
    /// Packetisation time in ms, if given.
    pub framing: Option<u16>,
}

impl Display for CodecPref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.framing {
            Some(ms) => write!(f, "{}:{ms}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// The codec preference list built by `allow=` and `disallow=` lines. `disallow` is applied
/// as `allow` with each item prefixed by `!` (see the endpoint's aliases).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Codecs(pub Vec<CodecPref>);

impl OptionValue for Codecs {
    fn apply(&mut self, raw: &str) -> Result<(), String> {
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (remove, item) = match item.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, item),
            };
            let (name, framing) = match item.split_once(':') {
                Some((n, ms)) => {
                    let ms: u16 = ms
                        .trim()
                        .parse()
                        .map_err(|_| format!("'{item}': framing '{ms}' is not a number of ms"))?;
                    (n.trim().to_ascii_lowercase(), Some(ms))
                }
                None => (item.to_ascii_lowercase(), None),
            };
            if name == "all" {
                if remove {
                    self.0.clear();
                } else {
                    for c in KNOWN_CODECS.iter().filter(|c| **c != "none") {
                        if !self.0.iter().any(|p| p.name == *c) {
                            self.0.push(CodecPref {
                                name: (*c).to_string(),
                                framing: None,
                            });
                        }
                    }
                }
                continue;
            }
            if !KNOWN_CODECS.contains(&name.as_str()) {
                return Err(super::bad_choice(&name, KNOWN_CODECS).replacen(
                    "is not one of",
                    "is not a known codec; known codecs are",
                    1,
                ));
            }
            self.0.retain(|p| p.name != name);
            if !remove {
                self.0.push(CodecPref { name, framing });
            }
        }
        Ok(())
    }
    fn render(&self) -> Vec<String> {
        let list: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        vec![list.join(",")]
    }
}

/// A list of IP networks (`10.0.0.0/8`, `192.168.1.0/255.255.255.0`, bare addresses).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Networks(pub Vec<IpNet>);

/// Parses one network in any of the forms Asterisk accepts.
pub fn parse_network(item: &str) -> Result<IpNet, String> {
    let item = item.trim();
    // `[v6]` or `[v6]/len` only: `[v6]:port` is not a network (the port would be glued
    // onto the address and read as a different address).
    let item = match item.strip_prefix('[').and_then(|s| s.split_once(']')) {
        Some((a, rest)) if rest.is_empty() || rest.starts_with('/') => format!("{a}{rest}"),
        Some(_) => return Err(format!("'{item}' is not an IP address or network")),
        None => item.to_string(),
    };
    if let Ok(n) = item.parse::<IpNet>() {
        return Ok(n.trunc());
    }
    if let Ok(ip) = item.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    if let Some((addr, mask)) = item.split_once('/')
        && let (Ok(ip), Ok(mask)) = (addr.parse::<IpAddr>(), mask.parse::<IpAddr>())
        && let Ok(prefix) = ipnet::ip_mask_to_prefix(mask)
        && let Ok(n) = IpNet::new(ip, prefix)
    {
        return Ok(n.trunc());
    }
    Err(format!("'{item}' is not an IP address or network"))
}

impl OptionValue for Networks {
    fn apply(&mut self, raw: &str) -> Result<(), String> {
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            self.0.push(parse_network(item)?);
        }
        Ok(())
    }
    fn render(&self) -> Vec<String> {
        vec![
            self.0
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
        ]
    }
}

/// What a matching host-access rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Let the address in.
    Permit,
    /// Keep the address out.
    Deny,
}

impl Action {
    /// The other action (what a leading `!` does to an entry, as in Asterisk's `acl.c`).
    pub fn flipped(self) -> Self {
        match self {
            Self::Permit => Self::Deny,
            Self::Deny => Self::Permit,
        }
    }

    /// The option word: `permit` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Permit => "permit",
            Self::Deny => "deny",
        }
    }
}

impl Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One host-access rule: what to do with an address inside `net`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HaRule {
    /// Permit or deny.
    pub action: Action,
    /// The network it matches (an IPv4 rule never matches an IPv6 address, and the other
    /// way round; IPv4-mapped IPv6 addresses count as IPv4).
    pub net: IpNet,
}

impl Display for HaRule {
    /// As a `permit` entry: deny rules get a leading `!`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.action {
            Action::Permit => write!(f, "{}", self.net),
            Action::Deny => write!(f, "!{}", self.net),
        }
    }
}

/// Asterisk "ha" rules: the `permit=` and `deny=` lines of an object in the order written
/// (Asterisk's `ast_ha` list; evaluated in [`crate::acl`], the last matching rule wins).
///
/// Stored under the `permit` option: `deny = x` is an alias read as `permit = !x`, which
/// Asterisk treats identically (a leading `!` flips an entry's action, see
/// [`deny_as_permit`]). So the rules print back, in order, as `permit` lines, deny rules
/// with a leading `!`. A value may hold a comma-separated list; an empty value adds
/// nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HaRules(pub Vec<HaRule>);

impl HaRules {
    /// Appends the entries of one line written as `action = raw` (e.g. `deny=10.0.0.0/8,
    /// !10.1.0.0/16`). Nothing is appended when any entry is bad.
    pub fn push_line(&mut self, action: Action, raw: &str) -> Result<(), String> {
        let mut parsed = Vec::new();
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (action, item) = match item.strip_prefix('!') {
                Some(rest) => (action.flipped(), rest.trim()),
                None => (action, item),
            };
            parsed.push(HaRule {
                action,
                net: parse_ha_network(item)?,
            });
        }
        self.0.extend(parsed);
        Ok(())
    }

    /// The rules, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, HaRule> {
        self.0.iter()
    }

    /// True when there is no rule.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl OptionValue for HaRules {
    fn apply(&mut self, raw: &str) -> Result<(), String> {
        self.push_line(Action::Permit, raw)
    }
    fn render(&self) -> Vec<String> {
        if self.0.is_empty() {
            return vec![String::new()];
        }
        self.0.iter().map(ToString::to_string).collect()
    }
}

/// `deny = x` as `permit = !x`: deny rules join the ordered permit list (acl and endpoint).
pub const DENY_ALIAS: super::Alias = super::Alias {
    name: "deny",
    target: "permit",
    rewrite: deny_as_permit,
};

/// `contact_deny = x` as `contact_permit = !x`.
pub const CONTACT_DENY_ALIAS: super::Alias = super::Alias {
    name: "contact_deny",
    target: "contact_permit",
    rewrite: deny_as_permit,
};

/// The rewrite of the `deny` (and `contact_deny`) alias: `deny = a, !b` is
/// `permit = !a, b`.
pub fn deny_as_permit(value: &str) -> String {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| match item.strip_prefix('!') {
            Some(rest) if !rest.trim().is_empty() => rest.trim().to_string(),
            // A lone `!` has no address: left as is, it is refused either way.
            Some(_) => item.to_string(),
            None => format!("!{item}"),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses the network of one permit/deny entry as Asterisk's `ast_append_ha` does: an
/// address (IPv6 optionally in brackets), optionally followed by `/` and a prefix length
/// or a netmask (`255.255.0.0`, `ffff:ffff::`). A bare address is a single host. An
/// IPv4-mapped IPv6 address (and netmask) is read as IPv4. Unlike Asterisk, a netmask
/// whose one bits are not contiguous is refused.
pub fn parse_ha_network(item: &str) -> Result<IpNet, String> {
    let item = item.trim();
    let bad = |why: &str| format!("'{item}' is not an IP address or network: {why}");
    let (addr, mask) = match item.split_once('/') {
        Some((a, m)) => (a.trim(), Some(m.trim())),
        None => (item, None),
    };
    let parse_ip = |text: &str| {
        let bare = text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or(text);
        bare.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
    };
    let Some(ip) = parse_ip(addr) else {
        return Err(bad(&format!(
            "'{addr}' is not an IPv4 or IPv6 address (no host names, no port)"
        )));
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match mask {
        None => max,
        Some(m) if m.contains(['.', ':']) => {
            let Some(mask_ip) = parse_ip(m) else {
                return Err(bad(&format!("'{m}' is not a netmask")));
            };
            if mask_ip.is_ipv4() != ip.is_ipv4() {
                return Err(bad(
                    "the address and the netmask are not the same IP version",
                ));
            }
            ipnet::ip_mask_to_prefix(mask_ip)
                .map_err(|_| bad(&format!("the one bits of netmask '{m}' are not contiguous")))?
        }
        Some(m) => m.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| {
            bad(&format!(
                "the prefix length must be a number from 0 to {max}"
            ))
        })?,
    };
    IpNet::new(ip, prefix)
        .map(|n| n.trunc())
        .map_err(|e| bad(&e.to_string()))
}

/// A SIP or SIPS URI kept as text (the SIP layer parses it fully), or empty for "unset".
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SipUri(pub String);

impl FromStr for SipUri {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let lower = s.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("sip:")
            .or_else(|| lower.strip_prefix("sips:"));
        match rest {
            Some(r) if !r.is_empty() && !r.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                Ok(Self(s.to_string()))
            }
            _ => Err(format!("'{s}' is not a sip: or sips: URI")),
        }
    }
}

impl Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl OptionValue for SipUri {
    fn apply(&mut self, raw: &str) -> Result<(), String> {
        *self = if raw.trim().is_empty() {
            Self::default()
        } else {
            raw.parse()?
        };
        Ok(())
    }
    fn render(&self) -> Vec<String> {
        vec![self.0.clone()]
    }
}

/// A transport bind address: IP and optional port (the default port depends on protocol).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct BindAddr(pub Option<(IpAddr, Option<u16>)>);

impl BindAddr {
    /// The socket address, using `default_port` when none was written.
    pub fn socket_addr(&self, default_port: u16) -> Option<SocketAddr> {
        self.0
            .map(|(ip, port)| SocketAddr::new(ip, port.unwrap_or(default_port)))
    }
}

impl OptionValue for BindAddr {
    fn apply(&mut self, raw: &str) -> Result<(), String> {
        let raw = raw.trim();
        if raw.is_empty() {
            *self = Self(None);
            return Ok(());
        }
        if let Ok(sa) = raw.parse::<SocketAddr>() {
            *self = Self(Some((sa.ip(), Some(sa.port()))));
            return Ok(());
        }
        let bare = raw.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            *self = Self(Some((ip, None)));
            return Ok(());
        }
        Err(format!(
            "'{raw}' is not an IP address with an optional port (e.g. 0.0.0.0:5060 or [::]:5060)"
        ))
    }
    fn render(&self) -> Vec<String> {
        vec![match self.0 {
            None => String::new(),
            Some((ip, None)) => ip.to_string(),
            Some((ip, Some(port))) => SocketAddr::new(ip, port).to_string(),
        }]
    }
}

/// DSCP class names and their code points (RFC 2474, 2597, 3246), as Asterisk's
/// `ast_str2tos` knows them.
const DSCP_NAMES: &[(&str, u8)] = &[
    ("cs0", 0x00),
    ("cs1", 0x08),
    ("cs2", 0x10),
    ("cs3", 0x18),
    ("cs4", 0x20),
    ("cs5", 0x28),
    ("cs6", 0x30),
    ("cs7", 0x38),
    ("af11", 0x0a),
    ("af12", 0x0c),
    ("af13", 0x0e),
    ("af21", 0x12),
    ("af22", 0x14),
    ("af23", 0x16),
    ("af31", 0x1a),
    ("af32", 0x1c),
    ("af33", 0x1e),
    ("af41", 0x22),
    ("af42", 0x24),
    ("af43", 0x26),
    ("ef", 0x2e),
];

/// An IP ToS byte: a number (decimal or `0x` hex, 0 to 255) or a DSCP class name
/// (`cs0`..`cs7`, `af11`..`af43`, `ef`). Stored as the whole ToS byte (DSCP shifted left
/// by two), which is what Asterisk stores and prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Tos(pub u8);

impl Tos {
    /// The DSCP code point (the upper six bits).
    pub fn dscp(self) -> u8 {
        self.0 >> 2
    }
}

impl Display for Tos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Through u8's Display so width and alignment flags apply.
        Display::fmt(&self.0, f)
    }
}

impl OptionValue for Tos {
    fn apply(&mut self, raw: &str) -> Result<(), String> {
        let lower = raw.trim().to_ascii_lowercase();
        if let Some((_, dscp)) = DSCP_NAMES.iter().find(|(n, _)| *n == lower) {
            *self = Self(dscp << 2);
            return Ok(());
        }
        let number = match lower.strip_prefix("0x") {
            Some(hex) => u8::from_str_radix(hex, 16).ok(),
            None => lower.parse::<u8>().ok(),
        };
        match number {
            Some(v) => {
                *self = Self(v);
                Ok(())
            }
            None => {
                let names: Vec<&str> = DSCP_NAMES.iter().map(|(n, _)| *n).collect();
                let hint = crate::config::ini::did_you_mean(&lower, names.iter().copied())
                    .map(|s| format!(" (did you mean '{s}'?)"))
                    .unwrap_or_default();
                Err(format!(
                    "'{raw}' is not a ToS value (0-255 or 0x00-0xff) or DSCP name \
                     (cs0-cs7, af11-af43, ef){hint}"
                ))
            }
        }
    }
    fn render(&self) -> Vec<String> {
        vec![self.0.to_string()]
    }
}

/// Numbered call or pickup groups (`1,3-5`), each 0 to 63, kept as a bit set. A later
/// line replaces the value, as Asterisk's group handler does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Groups(pub u64);

impl Groups {
    /// Whether group `g` is in the set.
    pub fn contains(self, g: u8) -> bool {
        g < 64 && self.0 & (1u64 << g) != 0
    }
    /// True when no group is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl OptionValue for Groups {
    fn apply(&mut self, raw: &str) -> Result<(), String> {
        let mut bits = 0u64;
        for piece in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (a, b) = piece.split_once('-').unwrap_or((piece, piece));
            let group = |s: &str| s.trim().parse::<u8>().ok().filter(|n| *n <= 63);
            let (Some(a), Some(b)) = (group(a), group(b)) else {
                return Err(format!(
                    "'{piece}' is not a group number or range of numbers from 0 to 63"
                ));
            };
            if a > b {
                return Err(format!("'{piece}': the range starts after it ends"));
            }
            for g in a..=b {
                bits |= 1u64 << g;
            }
        }
        *self = Self(bits);
        Ok(())
    }
    fn render(&self) -> Vec<String> {
        // Consecutive groups are printed as ranges so the text stays short.
        let mut parts = Vec::new();
        let mut g = 0u8;
        while g < 64 {
            if !self.contains(g) {
                g += 1;
                continue;
            }
            let start = g;
            while g < 63 && self.contains(g + 1) {
                g += 1;
            }
            parts.push(if start == g {
                start.to_string()
            } else {
                format!("{start}-{g}")
            });
            g += 1;
        }
        vec![parts.join(",")]
    }
}
