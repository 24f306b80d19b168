//! `type=identify`: maps requests to an endpoint by source address, header or Request-URI
//! (Asterisk `res_pjsip_endpoint_identifier_ip.c`).

use std::fmt;
use std::str::FromStr;

use ipnet::IpNet;

use super::{ConfigObject, Kind, Object, Reference};
use crate::config::options::{ListOf, parse_network};
use crate::define_object;

/// One `match=` entry: a network (with optional port) or a host name resolved later.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MatchTarget {
    /// An address or network, optionally with a port.
    Network {
        /// The network.
        net: IpNet,
        /// The port, when written.
        port: Option<u16>,
    },
    /// A host name (resolved when the SIP stack starts).
    Host {
        /// The name.
        name: String,
        /// The port, when written.
        port: Option<u16>,
    },
}

impl FromStr for MatchTarget {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(net) = parse_network(s) {
            return Ok(Self::Network { net, port: None });
        }
        if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
            return Ok(Self::Network {
                net: IpNet::from(sa.ip()),
                port: Some(sa.port()),
            });
        }
        let (host, port) = match s.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (
                h,
                Some(
                    p.parse::<u16>()
                        .map_err(|_| format!("'{s}': bad port '{p}'"))?,
                ),
            ),
            _ => (s, None),
        };
        if let Ok(net) = parse_network(host) {
            return Ok(Self::Network { net, port });
        }
        let valid = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            && host.chars().any(|c| c.is_ascii_alphabetic());
        if !valid {
            return Err(format!("'{s}' is not an IP address, network or host name"));
        }
        Ok(Self::Host {
            name: host.to_ascii_lowercase(),
            port,
        })
    }
}

impl fmt::Display for MatchTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Network { net, port: None } => write!(f, "{net}"),
            Self::Network {
                net: IpNet::V4(n),
                port: Some(p),
            } if n.prefix_len() == 32 => write!(f, "{}:{p}", n.addr()),
            Self::Network {
                net: IpNet::V6(n),
                port: Some(p),
            } if n.prefix_len() == 128 => write!(f, "[{}]:{p}", n.addr()),
            Self::Network { net, port: Some(p) } => write!(f, "{net}:{p}"),
            Self::Host { name, port: None } => f.write_str(name),
            Self::Host {
                name,
                port: Some(p),
            } => write!(f, "{name}:{p}"),
        }
    }
}

define_object! {
    /// An identify rule.
    pub struct Identify {
        /// Endpoint matched requests belong to.
        endpoint: String = ("endpoint", "", Yes),
        /// Source addresses.
        r#match: ListOf<MatchTarget> = ("match", "", Yes),
        /// Resolve SRV for host names.
        srv_lookups: bool = ("srv_lookups", "yes", NotYet),
        /// `Name: value` or `Name: /regex/`.
        match_header: String = ("match_header", "", Yes),
        /// Request-URI or `/regex/`.
        match_request_uri: String = ("match_request_uri", "", Yes),
    }
}

impl Identify {
    /// `match_header` split into header name and value (`/regex/` kept as written), or
    /// `None` when unset or malformed.
    pub fn header_match(&self) -> Option<(&str, &str)> {
        let (name, value) = self.match_header.split_once(':')?;
        let name = name.trim();
        (!name.is_empty()).then_some((name, value.trim()))
    }
}

impl ConfigObject for Identify {
    const KIND: Kind = Kind::Identify;

    fn validate(&self, id: &str) -> Vec<String> {
        let mut errors = Vec::new();
        if self.endpoint.is_empty() {
            errors.push(format!("Identify '{id}' missing required endpoint name."));
        }
        if self.r#match.is_empty()
            && self.match_header.is_empty()
            && self.match_request_uri.is_empty()
        {
            errors.push(format!(
                "Identify '{id}' is not configured to match anything."
            ));
        }
        if !self.match_header.is_empty() {
            match self.match_header.split_once(':') {
                None => errors.push(format!(
                    "Identify '{id}' missing ':' separator in match_header '{}'.",
                    self.match_header
                )),
                Some((name, _)) if name.trim().is_empty() => errors.push(format!(
                    "Identify '{id}' has no SIP header to match in match_header '{}'.",
                    self.match_header
                )),
                Some(_) => {}
            }
        }
        errors
    }

    fn references(&self) -> Vec<Reference> {
        if self.endpoint.is_empty() {
            return Vec::new();
        }
        vec![Reference::new("endpoint", Kind::Endpoint, &self.endpoint)]
    }

    fn into_object(self) -> Object {
        Object::Identify(self)
    }
}
