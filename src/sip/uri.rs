//! URIs: SIP/SIPS (RFC 3261 19.1), tel (RFC 3966, minimal) and any other absolute URI kept
//! as opaque text (so that an unknown Request-URI scheme can be answered with 416).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::error::ParseError;
use super::param::Params;
use super::syntax::PushText;
use super::syntax::{escapes_valid, is_unreserved, percent_decode};

/// Any URI found in a Request-URI or a name-addr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri {
    /// `sip:` or `sips:`.
    Sip(SipUri),
    /// `tel:`.
    Tel(TelUri),
    /// Another scheme; `text` is everything after the colon, verbatim.
    Other {
        /// The scheme, as received.
        scheme: String,
        /// The scheme-specific part.
        text: String,
    },
}

/// The host part of a SIP URI or Via sent-by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A host name, case preserved (compare with [`Host::eq_host`]).
    Domain(String),
    /// A dotted IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 reference, written `[..]`.
    Ipv6(Ipv6Addr),
}

/// A `sip:`/`sips:` URI. User, password, parameter values and headers keep their escaped
/// wire form, so that printing gives back what was received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    /// `sips:` rather than `sip:`.
    pub secure: bool,
    /// The user part, escaped form.
    pub user: Option<String>,
    /// The password, escaped form.
    pub password: Option<String>,
    /// The host.
    pub host: Host,
    /// The port, if given.
    pub port: Option<u16>,
    /// URI parameters (`;transport=tcp;lr`).
    pub params: Params,
    /// URI headers (`?Subject=x&Priority=urgent`), escaped form.
    pub headers: Vec<(String, String)>,
}

/// A `tel:` URI (RFC 3966): the number and its parameters, not further interpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelUri {
    /// The global (`+...`) or local number with its visual separators.
    pub number: String,
    /// Parameters such as `phone-context`.
    pub params: Params,
}

impl Uri {
    /// Parses a URI. Surrounding whitespace is an error (RFC 4475 3.1.2.11 badaspec).
    pub fn parse(s: &[u8]) -> Result<Uri, ParseError> {
        let colon = s
            .iter()
            .position(|&b| b == b':')
            .ok_or(ParseError::Uri("no scheme"))?;
        let (scheme, rest) = (
            s.get(..colon).unwrap_or_default(),
            s.get(colon + 1..).unwrap_or_default(),
        );
        let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
            && scheme
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
        if !scheme_ok {
            return Err(ParseError::Uri("invalid scheme"));
        }
        if scheme.eq_ignore_ascii_case(b"sip") || scheme.eq_ignore_ascii_case(b"sips") {
            return SipUri::parse_rest(scheme.len() == 4, rest).map(Uri::Sip);
        }
        if rest.is_empty()
            || rest
                .iter()
                .any(|&b| b <= b' ' || b == 0x7f || b"<>\"".contains(&b))
        {
            return Err(ParseError::Uri("invalid characters in absolute URI"));
        }
        let text = std::str::from_utf8(rest).map_err(|_| ParseError::Uri("not UTF-8"))?;
        let scheme = String::from_utf8_lossy(scheme).into_owned();
        if scheme.eq_ignore_ascii_case("tel") {
            return TelUri::parse(text).map(Uri::Tel);
        }
        Ok(Uri::Other {
            scheme,
            text: text.to_owned(),
        })
    }

    /// The scheme in lower case (`sip`, `sips`, `tel`, or the other scheme as received).
    pub fn scheme(&self) -> &str {
        match self {
            Uri::Sip(u) if u.secure => "sips",
            Uri::Sip(_) => "sip",
            Uri::Tel(_) => "tel",
            Uri::Other { scheme, .. } => scheme,
        }
    }

    /// The SIP URI, if this is one.
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// URI equivalence: RFC 3261 19.1.4 for SIP URIs, RFC 3966 5 (simplified: number
    /// without visual separators, parameters as a set) for tel, exact text otherwise.
    pub fn equivalent(&self, other: &Uri) -> bool {
        match (self, other) {
            (Uri::Sip(a), Uri::Sip(b)) => a.equivalent(b),
            (Uri::Tel(a), Uri::Tel(b)) => {
                let digits =
                    |n: &str| -> String { n.chars().filter(|c| !"-.()".contains(*c)).collect() };
                digits(&a.number).eq_ignore_ascii_case(&digits(&b.number))
                    && a.params.len() == b.params.len()
                    && a.params.iter().all(|(n, v)| match (v, b.params.get(n)) {
                        (None, Some(None)) => true,
                        (Some(x), Some(Some(y))) => x.eq_ignore_ascii_case(y),
                        _ => false,
                    })
            }
            (
                Uri::Other {
                    scheme: s1,
                    text: t1,
                },
                Uri::Other {
                    scheme: s2,
                    text: t2,
                },
            ) => s1.eq_ignore_ascii_case(s2) && t1 == t2,
            _ => false,
        }
    }
}

impl Uri {
    /// Appends the URI as [`fmt::Display`] writes it (`sip:`/`sips:` without `fmt`).
    pub(crate) fn write_to<W: PushText + ?Sized>(&self, out: &mut W) {
        match self {
            Uri::Sip(u) => u.write_to(out),
            other => out.push_text(&other.to_string()),
        }
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => u.fmt(f),
            Uri::Tel(t) => write!(f, "tel:{}{}", t.number, t.params),
            Uri::Other { scheme, text } => write!(f, "{scheme}:{text}"),
        }
    }
}

/// user-unreserved and password characters beyond `unreserved` (RFC 3261 25.1).
fn is_user_char(b: u8) -> bool {
    is_unreserved(b) || b"&=+$,;?/%".contains(&b)
}

fn is_password_char(b: u8) -> bool {
    is_unreserved(b) || b"&=+$,%".contains(&b)
}

/// paramchar = param-unreserved / unreserved / escaped.
fn is_param_char(b: u8) -> bool {
    is_unreserved(b) || b"[]/:&+$%".contains(&b)
}

/// hnv-unreserved / unreserved / escaped.
fn is_hchar(b: u8) -> bool {
    is_unreserved(b) || b"[]/?:+$%".contains(&b)
}

/// Checks the character class and that every `%` starts a valid escape.
fn escaped_text(s: &[u8], ok: fn(u8) -> bool, what: &'static str) -> Result<String, ParseError> {
    if !s.iter().all(|&b| ok(b)) || !escapes_valid(s) {
        return Err(ParseError::Uri(what));
    }
    // All accepted characters are ASCII.
    Ok(super::owned_text(s))
}

impl Host {
    /// Parses a host: `[IPv6]`, dotted IPv4 or a host name (RFC 3261 25.1 `host`).
    pub fn parse(s: &[u8]) -> Result<Host, ParseError> {
        if let Some(inner) = s.strip_prefix(b"[").and_then(|r| r.strip_suffix(b"]")) {
            return std::str::from_utf8(inner)
                .ok()
                .and_then(|t| t.parse().ok())
                .map(Host::Ipv6)
                .ok_or(ParseError::Uri("invalid IPv6 reference"));
        }
        let ok = !s.is_empty()
            && s.iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            && s.first() != Some(&b'.')
            && s.first() != Some(&b'-');
        if !ok {
            return Err(ParseError::Uri("invalid host"));
        }
        // Checked above: ASCII only.
        let text = std::str::from_utf8(s).map_err(|_| ParseError::Uri("invalid host"))?;
        if s.iter().all(|&b| b.is_ascii_digit() || b == b'.') {
            // All-numeric names are not legal top labels, so this must be an IPv4 address.
            return parse_ipv4(s)
                .map(Host::Ipv4)
                .ok_or(ParseError::Uri("invalid IPv4 address"));
        }
        Ok(Host::Domain(text.to_owned()))
    }

    /// Host comparison: names case-insensitively, addresses by value.
    pub fn eq_host(&self, other: &Host) -> bool {
        match (self, other) {
            (Host::Domain(a), Host::Domain(b)) => a.eq_ignore_ascii_case(b),
            _ => self == other,
        }
    }
}

/// A dotted IPv4 address, as std's parser reads it (four decimal octets, no leading zeros)
/// without its general machinery: hosts are parsed many times per message.
fn parse_ipv4(s: &[u8]) -> Option<std::net::Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.split(|&b| b == b'.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || (part.len() > 1 && part.first() == Some(&b'0')) {
            return None;
        }
        let mut n: u16 = 0;
        for &b in part {
            if !b.is_ascii_digit() {
                return None;
            }
            n = n * 10 + u16::from(b - b'0');
        }
        *octet = u8::try_from(n).ok()?;
    }
    parts
        .next()
        .is_none()
        .then(|| std::net::Ipv4Addr::from(octets))
}

impl Host {
    /// Appends what [`fmt::Display`] writes (addresses without the `fmt` machinery).
    pub(crate) fn write_to<W: PushText + ?Sized>(&self, out: &mut W) {
        match self {
            Host::Domain(d) => out.push_text(d),
            Host::Ipv4(a) => super::syntax::Dotted(*a).push_to(out),
            Host::Ipv6(a) => {
                out.push_text("[");
                out.push_text(&a.to_string());
                out.push_text("]");
            }
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ipv4(a) => super::syntax::Dotted(*a).fmt(f),
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

/// Splits `host[:port]`, where host may be an IPv6 reference containing colons.
pub(crate) fn parse_hostport(s: &[u8]) -> Result<(Host, Option<u16>), ParseError> {
    let host_end = if s.first() == Some(&b'[') {
        s.iter()
            .position(|&b| b == b']')
            .map(|p| p + 1)
            .ok_or(ParseError::Uri("unterminated IPv6 reference"))?
    } else {
        s.iter().position(|&b| b == b':').unwrap_or(s.len())
    };
    let host = Host::parse(s.get(..host_end).unwrap_or_default())?;
    let rest = s.get(host_end..).unwrap_or_default();
    let port = match rest.split_first() {
        None => None,
        Some((b':', digits)) => Some(
            super::syntax::parse_u64(digits)
                .and_then(|p| u16::try_from(p).ok())
                .ok_or(ParseError::Uri("invalid port"))?,
        ),
        Some(_) => return Err(ParseError::Uri("garbage after host")),
    };
    Ok((host, port))
}

impl SipUri {
    /// Parses a complete `sip:`/`sips:` URI.
    pub fn parse(s: &[u8]) -> Result<SipUri, ParseError> {
        match Uri::parse(s)? {
            Uri::Sip(u) => Ok(u),
            _ => Err(ParseError::Uri("not a sip or sips URI")),
        }
    }

    fn parse_rest(secure: bool, s: &[u8]) -> Result<SipUri, ParseError> {
        // '@' cannot appear unescaped after the userinfo (params and headers exclude it),
        // while the user part may contain ';' and '?' (RFC 4475 3.1.1.2 and 3.1.1.9).
        let (userinfo, rest) = match s.iter().position(|&b| b == b'@') {
            Some(at) => (
                Some(s.get(..at).unwrap_or_default()),
                s.get(at + 1..).unwrap_or_default(),
            ),
            None => (None, s),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(ui) => {
                let (u, p) = match ui.iter().position(|&b| b == b':') {
                    Some(c) => (
                        ui.get(..c).unwrap_or_default(),
                        Some(ui.get(c + 1..).unwrap_or_default()),
                    ),
                    None => (ui, None),
                };
                if u.is_empty() {
                    return Err(ParseError::Uri("empty user"));
                }
                let user = escaped_text(u, is_user_char, "invalid user")?;
                let password = p
                    .map(|p| escaped_text(p, is_password_char, "invalid password"))
                    .transpose()?;
                (Some(user), password)
            }
        };
        let hp_end = rest
            .iter()
            .position(|&b| b == b';' || b == b'?')
            .unwrap_or(rest.len());
        let (host, port) = parse_hostport(rest.get(..hp_end).unwrap_or_default())?;
        let mut rest = rest.get(hp_end..).unwrap_or_default();
        let mut params = Params::new();
        while let Some((b';', tail)) = rest.split_first() {
            let end = tail
                .iter()
                .position(|&b| b == b';' || b == b'?')
                .unwrap_or(tail.len());
            let item = tail.get(..end).unwrap_or_default();
            let (name, value) = match item.iter().position(|&b| b == b'=') {
                Some(eq) => (
                    item.get(..eq).unwrap_or_default(),
                    Some(item.get(eq + 1..).unwrap_or_default()),
                ),
                None => (item, None),
            };
            if name.is_empty() {
                return Err(ParseError::Uri("empty parameter name"));
            }
            let name = escaped_text(name, is_param_char, "invalid parameter name")?;
            let value = value
                .map(|v| escaped_text(v, is_param_char, "invalid parameter value"))
                .transpose()?;
            // RFC 3261 19.1.1: a parameter name must not appear twice (comparison and
            // lookups would be ambiguous).
            if params.contains(&name) {
                return Err(ParseError::Uri("duplicate parameter"));
            }
            params.push_owned(name, value);
            rest = tail.get(end..).unwrap_or_default();
        }
        let mut headers = Vec::new();
        if let Some((b'?', tail)) = rest.split_first() {
            for h in tail.split(|&b| b == b'&') {
                let eq = h
                    .iter()
                    .position(|&b| b == b'=')
                    .ok_or(ParseError::Uri("URI header without '='"))?;
                let name = h.get(..eq).unwrap_or_default();
                if name.is_empty() {
                    return Err(ParseError::Uri("empty URI header name"));
                }
                headers.push((
                    escaped_text(name, is_hchar, "invalid URI header")?,
                    escaped_text(
                        h.get(eq + 1..).unwrap_or_default(),
                        is_hchar,
                        "invalid URI header",
                    )?,
                ));
            }
        } else if !rest.is_empty() {
            return Err(ParseError::Uri("garbage after URI"));
        }
        Ok(SipUri {
            secure,
            user,
            password,
            host,
            port,
            params,
            headers,
        })
    }

    /// The user part with `%HH` escapes decoded (may contain any octet, even NUL:
    /// RFC 4475 3.1.1.4).
    pub fn user_decoded(&self) -> Option<Vec<u8>> {
        self.user
            .as_deref()
            .and_then(|u| percent_decode(u.as_bytes()))
    }

    /// RFC 3261 19.1.4 URI comparison.
    pub fn equivalent(&self, other: &SipUri) -> bool {
        let dec = |s: Option<&str>| s.and_then(|s| percent_decode(s.as_bytes()));
        if self.secure != other.secure
            || dec(self.user.as_deref()) != dec(other.user.as_deref())
            || dec(self.password.as_deref()) != dec(other.password.as_deref())
            || !self.host.eq_host(&other.host)
            || self.port != other.port
        {
            return false;
        }
        let val_eq = |a: Option<&str>, b: Option<&str>| {
            let (a, b) = (dec(a).unwrap_or_default(), dec(b).unwrap_or_default());
            a.eq_ignore_ascii_case(&b)
        };
        // Parameters present in both must match; user, ttl, method, maddr and transport
        // must also be present in both if present in either.
        for (name, value) in self.params.iter() {
            match other.params.get(name) {
                Some(v2) if !val_eq(value, v2) => return false,
                None if is_strict_param(name) => return false,
                _ => {}
            }
        }
        if other
            .params
            .iter()
            .any(|(n, _)| is_strict_param(n) && !self.params.contains(n))
        {
            return false;
        }
        // Header components are never ignored.
        let hdr_eq = |a: &[(String, String)], b: &[(String, String)]| {
            a.iter().all(|(n, v)| {
                b.iter().any(|(n2, v2)| {
                    dec(Some(n)).map(|x| x.to_ascii_lowercase())
                        == dec(Some(n2)).map(|x| x.to_ascii_lowercase())
                        && dec(Some(v)) == dec(Some(v2))
                })
            })
        };
        hdr_eq(&self.headers, &other.headers) && hdr_eq(&other.headers, &self.headers)
    }
}

fn is_strict_param(name: &str) -> bool {
    ["user", "ttl", "method", "maddr", "transport"]
        .iter()
        .any(|p| p.eq_ignore_ascii_case(name))
}

impl SipUri {
    /// Appends the URI as [`fmt::Display`] writes it, without the `fmt` machinery: a URI
    /// is written in every request line and in most address fields.
    pub(crate) fn write_to<W: PushText + ?Sized>(&self, out: &mut W) {
        out.push_text(if self.secure { "sips:" } else { "sip:" });
        if let Some(user) = &self.user {
            out.push_text(user);
            if let Some(p) = &self.password {
                out.push_text(":");
                out.push_text(p);
            }
            out.push_text("@");
        }
        self.host.write_to(out);
        if let Some(port) = self.port {
            out.push_text(":");
            super::syntax::push_decimal(out, u64::from(port));
        }
        self.params.write_to(out);
        for (i, (n, v)) in self.headers.iter().enumerate() {
            out.push_text(if i == 0 { "?" } else { "&" });
            out.push_text(n);
            out.push_text("=");
            out.push_text(v);
        }
    }
}

super::syntax::display_by_write_to!(SipUri);

impl TelUri {
    fn parse(text: &str) -> Result<TelUri, ParseError> {
        let mut parts = text.split(';');
        let number = parts.next().unwrap_or_default();
        let number_ok = !number.is_empty()
            && number
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b"+-.()*#pw".contains(&b));
        if !number_ok {
            return Err(ParseError::Uri("invalid telephone number"));
        }
        let mut params = Params::new();
        for p in parts {
            let (n, v) = match p.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (p, None),
            };
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(ParseError::Uri("invalid tel parameter"));
            }
            params.push(n, v);
        }
        Ok(TelUri {
            number: number.to_owned(),
            params,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_hosts_are_read_as_std_reads_them() {
        for text in [
            "0.0.0.0",
            "255.255.255.255",
            "192.0.2.1",
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "01.2.3.4",
            "1..2.3",
            "1.2.3.",
            "1.2.3.4444",
            "10.0.0.09",
            "0.10.100.200",
        ] {
            assert_eq!(
                parse_ipv4(text.as_bytes()),
                text.parse::<std::net::Ipv4Addr>().ok(),
                "{text}"
            );
        }
    }

    #[test]
    fn host_write_to_writes_what_display_writes() {
        for text in [
            &b"Example.COM"[..],
            b"192.0.2.255",
            b"0.0.0.0",
            b"[2001:DB8:0::1]",
            b"[::]",
        ] {
            let h = Host::parse(text).expect("host");
            let mut out = String::new();
            h.write_to(&mut out);
            assert_eq!(out, h.to_string());
        }
    }

    fn sip(s: &str) -> SipUri {
        SipUri::parse(s.as_bytes()).expect(s)
    }

    #[test]
    fn rfc3261_19_1_1_components() {
        let u = sip(
            "sips:alice:secret@Atlanta.com:5061;transport=tcp;lr?subject=project%20x&priority=urgent",
        );
        assert!(u.secure);
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.password.as_deref(), Some("secret"));
        assert_eq!(u.host, Host::Domain("Atlanta.com".into()));
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.params.value("transport"), Some("tcp"));
        assert_eq!(u.params.get("lr"), Some(None));
        assert_eq!(u.headers.len(), 2);
    }

    #[test]
    fn rfc3261_19_1_display_round_trips() {
        for s in [
            "sip:alice@atlanta.com",
            "sips:alice:pw@[2001:db8::1]:5061;maddr=239.255.255.1;ttl=15?h=v",
            "sip:+1-212-555-1212:1234@gateway.com;user=phone",
            "sip:192.0.2.4",
        ] {
            assert_eq!(sip(s).to_string(), s);
        }
    }

    #[test]
    fn rfc3261_19_1_2_ipv6_reference() {
        let u = sip("sip:[2001:db8::10]:5070");
        assert_eq!(u.host, Host::Ipv6("2001:db8::10".parse().expect("v6")));
        assert_eq!(u.port, Some(5070));
        assert!(SipUri::parse(b"sip:[2001:db8::10").is_err());
    }

    #[test]
    fn rfc4475_3_1_1_4_escaped_null_in_user() {
        let u = sip("sip:null-%00-null@example.com");
        assert_eq!(u.user_decoded().as_deref(), Some(&b"null-\0-null"[..]));
    }

    #[test]
    fn rfc4475_3_1_1_9_semicolon_in_user_part() {
        let u = sip("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user.as_deref(), Some("user;par=u%40example.net"));
        assert!(u.params.is_empty());
    }

    #[test]
    fn rfc3261_19_1_4_equivalent_uris() {
        assert!(
            sip("sip:%61lice@atlanta.com;transport=TCP")
                .equivalent(&sip("sip:alice@AtLanTa.CoM;Transport=tcp"))
        );
        assert!(
            sip("sip:carol@chicago.com;security=on")
                .equivalent(&sip("sip:carol@chicago.com;newparam=5"))
        );
        assert!(
            sip("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com").equivalent(
                &sip("sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com")
            )
        );
    }

    #[test]
    fn rfc3261_19_1_4_non_equivalent_uris() {
        assert!(
            !sip("SIP:ALICE@AtLanTa.CoM;Transport=udp")
                .equivalent(&sip("sip:alice@AtLanTa.CoM;Transport=UDP"))
        );
        assert!(!sip("sip:bob@biloxi.com").equivalent(&sip("sip:bob@biloxi.com:5060")));
        assert!(!sip("sip:bob@biloxi.com").equivalent(&sip("sip:bob@biloxi.com;transport=udp")));
        assert!(
            !sip("sip:carol@chicago.com")
                .equivalent(&sip("sip:carol@chicago.com?Subject=next%20meeting"))
        );
        assert!(
            !sip("sip:carol@chicago.com;security=on")
                .equivalent(&sip("sip:carol@chicago.com;security=off"))
        );
    }

    #[test]
    fn rfc3261_19_1_unknown_scheme_is_kept_opaque() {
        let u = Uri::parse(b"nobodyknowsthisscheme:totallyopaquecontent").expect("uri");
        assert_eq!(u.scheme(), "nobodyknowsthisscheme");
        assert_eq!(u.to_string(), "nobodyknowsthisscheme:totallyopaquecontent");
    }

    #[test]
    fn rfc3966_tel_uri() {
        let u = Uri::parse(b"tel:+1-201-555-0123;phone-context=example.com").expect("tel");
        assert!(matches!(&u, Uri::Tel(t) if t.number == "+1-201-555-0123"));
        assert!(
            u.equivalent(&Uri::parse(b"tel:+12015550123;phone-context=example.com").expect("tel"))
        );
    }

    #[test]
    fn rfc4475_3_1_2_7_angle_brackets_or_spaces_are_not_a_uri() {
        assert!(Uri::parse(b"<sip:user@example.com>").is_err());
        assert!(Uri::parse(b" sip:t.watson@example.org").is_err());
        assert!(Uri::parse(b"sip:user@example.com; lr").is_err());
        assert!(Uri::parse(b"sip:user@exa mple.com").is_err());
    }

    #[test]
    fn rfc3261_19_1_1_parameter_names_are_unique() {
        assert!(SipUri::parse(b"sip:a@b;lr;LR=1").is_err());
    }
}
