//! The Via header field (RFC 3261 20.42, RFC 3581 rport).

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use crate::sip::error::ParseError;
use crate::sip::param::{Params, parse_header_params};
use crate::sip::syntax::{is_token_char, is_ws, parse_u64, push_decimal, trim};
use crate::sip::uri::{Host, parse_hostport};

/// One Via value: `SIP/2.0/UDP host:port;branch=...;received=...;rport`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Protocol name, normally `SIP`.
    pub protocol: Cow<'static, str>,
    /// Protocol version, normally `2.0`.
    pub version: Cow<'static, str>,
    /// Transport as received (`UDP`, `TCP`, `TLS`, `SCTP`, `WS`, or unknown ones).
    pub transport: Cow<'static, str>,
    /// sent-by host.
    pub host: Host,
    /// sent-by port.
    pub port: Option<u16>,
    /// Parameters; `received`, `rport`, `ttl` and `maddr` were validated at parse time.
    pub params: Params,
}

const H: &str = "Via";

/// Reads `token SWS` at `s[*i..]` and advances `i`.
fn token<'a>(s: &'a [u8], i: &mut usize) -> Result<&'a [u8], ParseError> {
    let start = *i;
    while s.get(*i).is_some_and(|&b| is_token_char(b)) {
        *i += 1;
    }
    let t = s.get(start..*i).unwrap_or_default();
    while s.get(*i).is_some_and(|&b| is_ws(b)) {
        *i += 1;
    }
    if t.is_empty() {
        return Err(ParseError::header(H, "expected a token in sent-protocol"));
    }
    Ok(t)
}

/// A sent-protocol part as text: the usual ones without an allocation (every message
/// received has a Via or more, each parsed once or twice).
fn sent_protocol_text(t: &[u8]) -> Cow<'static, str> {
    const KNOWN: [&str; 8] = ["SIP", "2.0", "UDP", "TCP", "TLS", "WS", "WSS", "SCTP"];
    match KNOWN.iter().find(|k| k.as_bytes() == t) {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Owned(crate::sip::owned_text(t)),
    }
}

fn slash(s: &[u8], i: &mut usize) -> Result<(), ParseError> {
    if s.get(*i) != Some(&b'/') {
        return Err(ParseError::header(H, "expected '/' in sent-protocol"));
    }
    *i += 1;
    while s.get(*i).is_some_and(|&b| is_ws(b)) {
        *i += 1;
    }
    Ok(())
}

impl Via {
    /// Parses one Via value (one element of a comma list).
    pub fn parse(value: &[u8]) -> Result<Via, ParseError> {
        let s = trim(value);
        let mut i = 0;
        let protocol = token(s, &mut i)?;
        slash(s, &mut i)?;
        let version = token(s, &mut i)?;
        slash(s, &mut i)?;
        let tstart = i;
        let transport = token(s, &mut i)?;
        if i == tstart + transport.len() {
            return Err(ParseError::header(H, "no space before sent-by"));
        }
        let rest = s.get(i..).unwrap_or_default();
        let end = rest.iter().position(|&b| b == b';').unwrap_or(rest.len());
        let (host, port) = parse_hostport(trim(rest.get(..end).unwrap_or_default()))
            .map_err(|_| ParseError::header(H, "invalid sent-by"))?;
        let params = parse_header_params(rest.get(end..).unwrap_or_default(), H)?;
        let via = Via {
            protocol: sent_protocol_text(protocol),
            version: sent_protocol_text(version),
            transport: sent_protocol_text(transport),
            host,
            port,
            params,
        };
        via.check_params()?;
        Ok(via)
    }

    fn check_params(&self) -> Result<(), ParseError> {
        let port_ok = |p: &str| {
            parse_u64(p.as_bytes())
                .and_then(|n| u16::try_from(n).ok())
                .is_some()
        };
        if let Some(Some(r)) = self.params.get("rport")
            && !port_ok(r)
        {
            return Err(ParseError::header(H, "invalid rport"));
        }
        if let Some(r) = self.params.get("received") {
            let ok = r.is_some_and(|v| {
                v.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                    .is_ok()
            });
            if !ok {
                return Err(ParseError::header(H, "received is not an IP address"));
            }
        }
        if let Some(t) = self.params.get("ttl")
            && t.and_then(|t| parse_u64(t.as_bytes()))
                .is_none_or(|t| t > 255)
        {
            return Err(ParseError::header(H, "ttl must be 0-255"));
        }
        if let Some(m) = self.params.get("maddr")
            && m.is_none_or(|m| Host::parse(m.as_bytes()).is_err())
        {
            return Err(ParseError::header(H, "invalid maddr"));
        }
        if self.params.get("branch").is_some_and(|b| b.is_none()) {
            return Err(ParseError::header(H, "branch without value"));
        }
        Ok(())
    }

    /// The branch parameter.
    pub fn branch(&self) -> Option<&str> {
        self.params.value("branch")
    }

    /// True if the branch starts with the RFC 3261 magic cookie `z9hG4bK`.
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with("z9hG4bK"))
    }

    /// The `received` address.
    pub fn received(&self) -> Option<IpAddr> {
        self.params
            .value("received")
            .and_then(|v| v.trim_start_matches('[').trim_end_matches(']').parse().ok())
    }

    /// RFC 3581: `None` if absent, `Some(None)` if requested (no value), `Some(Some(port))`
    /// once filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params
            .get("rport")
            .map(|v| v.and_then(|p| p.parse().ok()))
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&str> {
        self.params.value("maddr")
    }

    /// The `ttl` parameter.
    pub fn ttl(&self) -> Option<u8> {
        self.params
            .value("ttl")
            .and_then(|t| parse_u64(t.as_bytes()))
            .and_then(|t| u8::try_from(t).ok())
    }
}

impl Via {
    /// Appends exactly what [`fmt::Display`] writes, without the `fmt` machinery (the top
    /// Via of every received request is written again once stamped).
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        let mut text = String::with_capacity(64);
        text.push_str(&self.protocol);
        text.push('/');
        text.push_str(&self.version);
        text.push('/');
        text.push_str(&self.transport);
        text.push(' ');
        self.host.write_to(&mut text);
        if let Some(p) = self.port {
            text.push(':');
            push_decimal(&mut text, u64::from(p));
        }
        self.params.write_to(&mut text);
        out.extend_from_slice(text.as_bytes());
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{} {}",
            self.protocol, self.version, self.transport, self.host
        )?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        self.params.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4475_3_1_1_1_lws_inside_sent_protocol() {
        let v = Via::parse(b"SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw").expect("via");
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.host, Host::Ipv4("192.0.2.2".parse().expect("ip")));
        assert_eq!(v.branch(), Some("390skdjuw"));
        assert!(!v.has_rfc3261_branch());
        let v =
            Via::parse(b"SIP  / 2.0  / TCP     spindle.example.com   ;  branch  =   z9hG4bK9ikj8")
                .expect("via");
        assert_eq!(v.branch(), Some("z9hG4bK9ikj8"));
    }

    #[test]
    fn rfc3581_rport_with_and_without_value() {
        let v = Via::parse(b"SIP/2.0/UDP [2001:db8::1]:5060;rport;branch=z9hG4bKa").expect("via");
        assert_eq!(v.rport(), Some(None));
        assert_eq!(v.port, Some(5060));
        let v = Via::parse(b"SIP/2.0/UDP h;received=192.0.2.1;rport=5061;branch=z9hG4bKa")
            .expect("via");
        assert_eq!(v.rport(), Some(Some(5061)));
        assert_eq!(v.received(), Some("192.0.2.1".parse().expect("ip")));
        assert!(Via::parse(b"SIP/2.0/UDP h;rport=99999").is_err());
    }

    #[test]
    fn rfc3261_20_42_maddr_and_ttl() {
        let v = Via::parse(b"SIP/2.0/UDP h;maddr=224.2.0.1;ttl=16").expect("via");
        assert_eq!(v.maddr(), Some("224.2.0.1"));
        assert_eq!(v.ttl(), Some(16));
        assert!(Via::parse(b"SIP/2.0/UDP h;ttl=256").is_err());
    }

    #[test]
    fn rfc4475_3_1_2_1_extraneous_separators_are_rejected() {
        assert!(Via::parse(b"SIP/2.0/UDP 192.0.2.15;;").is_err());
        assert!(Via::parse(b"").is_err());
        assert!(Via::parse(b"SIP/2.0/UDP").is_err());
    }

    #[test]
    fn write_to_writes_what_display_writes() {
        for text in [
            "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx;rport=5061;received=192.0.2.9",
            "SIP / 2.0 / TCP  Host.Example.COM ; branch = z9hG4bK1 ; lr",
            "SIP/2.0/TLS [2001:DB8::0:1]:05061;branch=z9hG4bKx;rport",
            "SIP/2.0/WSS 0.0.0.0;x=\"a;b\"",
        ] {
            let v = Via::parse(text.as_bytes()).expect("via");
            let mut out = Vec::new();
            v.write_to(&mut out);
            assert_eq!(String::from_utf8_lossy(&out), v.to_string(), "{text}");
        }
    }

    #[test]
    fn rfc3261_20_42_display_round_trips() {
        let v = Via::parse(b"SIP/2.0/TLS [::1]:5061;branch=z9hG4bKx;rport").expect("via");
        assert_eq!(Via::parse(v.to_string().as_bytes()), Ok(v));
    }
}
