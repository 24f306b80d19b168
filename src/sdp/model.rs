//! The SDP model: a session with its `o=` and `s=`, the other session-level lines kept in
//! order, and media sections whose lines are kept in order too, so a parsed body is
//! re-emitted unchanged. Typed accessors read the attributes a B2BUA needs.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use super::codec::{self, Encoding};
use super::error::SdpError;

/// The `o=` line: `<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`.
/// Kept as text because other agents put anything there (an FQDN as address, ids larger
/// than 64 bits).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginLine {
    /// Username (`-` when none).
    pub username: String,
    /// Session id.
    pub session_id: String,
    /// Session version.
    pub version: String,
    /// Network type, `IN`.
    pub nettype: Cow<'static, str>,
    /// Address type, `IP4` or `IP6`.
    pub addrtype: Cow<'static, str>,
    /// Address (IP or FQDN).
    pub address: String,
}

impl OriginLine {
    /// An `o=` for our own SDP: `- 0 0 IN IP4|IP6 <ip>`; [`super::Origin::stamp`] fills
    /// username, id and version.
    pub fn local(ip: IpAddr) -> Self {
        OriginLine {
            username: "-".into(),
            session_id: "0".into(),
            version: "0".into(),
            nettype: Cow::Borrowed("IN"),
            addrtype: Cow::Borrowed(addrtype(ip)),
            address: crate::sip::ip_string(ip),
        }
    }
}

/// A `c=` line: `<nettype> <addrtype> <address>[/ttl][/n]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// Network type, `IN`.
    pub nettype: Cow<'static, str>,
    /// Address type, `IP4` or `IP6`.
    pub addrtype: Cow<'static, str>,
    /// Address as written, multicast suffixes included.
    pub address: String,
}

impl Connection {
    /// `IN IP4|IP6 <ip>`.
    pub fn new(ip: IpAddr) -> Self {
        Connection {
            nettype: Cow::Borrowed("IN"),
            addrtype: Cow::Borrowed(addrtype(ip)),
            address: crate::sip::ip_string(ip),
        }
    }

    /// The address as an IP, when it is one (multicast `/ttl` suffixes ignored).
    pub fn ip(&self) -> Option<IpAddr> {
        let host = self.address.split('/').next().unwrap_or_default();
        host.parse().ok()
    }

    /// `c=IN IP4 0.0.0.0` (RFC 2543 hold): the other side asks not to be sent media.
    pub fn is_hold(&self) -> bool {
        self.ip().is_some_and(|ip| ip.is_unspecified())
    }
}

/// `IP4` or `IP6` for an address.
pub(crate) fn addrtype(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() { "IP4" } else { "IP6" }
}

/// An `a=` line: `name` or `name:value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// Attribute name (case kept): static text for ours and for the usual received ones,
    /// which saves an allocation per line of every body parsed, built or copied.
    pub name: Cow<'static, str>,
    /// Value after the first `:`, if any.
    pub value: Option<String>,
}

/// Tokens of `o=`, `c=` and `m=` lines met in nearly every body, as they are written.
const USUAL_TOKENS: [&str; 12] = [
    "IN",
    "IP4",
    "IP6",
    "audio",
    "video",
    "image",
    "RTP/AVP",
    "RTP/AVPF",
    "RTP/SAVP",
    "RTP/SAVPF",
    "UDP/TLS/RTP/SAVPF",
    "udptl",
];

/// `token` as static text when it is a usual one (no allocation for most bodies).
pub(crate) fn usual(token: &str) -> Cow<'static, str> {
    USUAL_TOKENS
        .iter()
        .find(|t| **t == token)
        .map_or_else(|| Cow::Owned(token.to_owned()), |t| Cow::Borrowed(*t))
}

/// Attribute names met in nearly every audio body, as they are written.
const USUAL_ATTRIBUTES: [&str; 10] = [
    "rtpmap",
    "fmtp",
    "ptime",
    "maxptime",
    "sendrecv",
    "sendonly",
    "recvonly",
    "inactive",
    "rtcp",
    "silenceSupp",
];

impl Attribute {
    /// An attribute with a value.
    pub fn new(name: &'static str, value: impl Into<String>) -> Self {
        Attribute {
            name: Cow::Borrowed(name),
            value: Some(value.into()),
        }
    }

    /// A flag attribute (`a=sendrecv`).
    pub fn flag(name: &'static str) -> Self {
        Attribute {
            name: Cow::Borrowed(name),
            value: None,
        }
    }

    /// A received attribute's name: static text when it is a usual one.
    pub fn name_of(name: &str) -> Cow<'static, str> {
        USUAL_ATTRIBUTES
            .iter()
            .find(|n| **n == name)
            .map_or_else(|| Cow::Owned(name.to_owned()), |n| Cow::Borrowed(*n))
    }
}

/// One line of a section other than `v=`, `o=`, `s=` and `m=`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    /// `c=`.
    Connection(Connection),
    /// `a=`.
    Attribute(Attribute),
    /// Any other line (`t=`, `b=`, `i=`, unknown letters), kept verbatim.
    Other {
        /// The line type letter.
        kind: char,
        /// Everything after `=`.
        value: String,
    },
}

/// The lines of one section (session or media), in their order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields(pub Vec<Field>);

impl Fields {
    /// The first `c=` line.
    pub fn connection(&self) -> Option<&Connection> {
        self.0.iter().find_map(|f| match f {
            Field::Connection(c) => Some(c),
            _ => None,
        })
    }

    /// Every `c=` line, for rewriting.
    pub fn connections_mut(&mut self) -> impl Iterator<Item = &mut Connection> {
        self.0.iter_mut().filter_map(|f| match f {
            Field::Connection(c) => Some(c),
            _ => None,
        })
    }

    /// The attributes, in order.
    pub fn attributes(&self) -> impl Iterator<Item = &Attribute> {
        self.0.iter().filter_map(|f| match f {
            Field::Attribute(a) => Some(a),
            _ => None,
        })
    }

    /// The value of the first attribute with this name (case-insensitive); `Some("")` for a
    /// flag.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes()
            .find(|a| a.name.eq_ignore_ascii_case(name))
            .map(|a| a.value.as_deref().unwrap_or_default())
    }

    /// Values of every attribute with this name, in order.
    pub fn attribute_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.attributes()
            .filter(move |a| a.name.eq_ignore_ascii_case(name))
            .filter_map(|a| a.value.as_deref())
    }

    /// Appends an attribute.
    pub fn push_attribute(&mut self, attribute: Attribute) {
        self.0.push(Field::Attribute(attribute));
    }

    /// Removes the attributes for which `remove` says yes.
    pub fn remove_attributes(&mut self, mut remove: impl FnMut(&Attribute) -> bool) {
        self.0
            .retain(|f| !matches!(f, Field::Attribute(a) if remove(a)));
    }

    /// The direction attribute of this section, if any.
    pub fn direction(&self) -> Option<Direction> {
        self.attributes()
            .filter(|a| a.value.is_none())
            .find_map(|a| Direction::from_name(&a.name))
    }

    /// A numeric attribute (`ptime`, `maxptime`).
    fn number(&self, name: &str) -> Option<u32> {
        self.attribute(name)?.trim().parse().ok()
    }

    // Pieces pushed, not `write!`: an SDP is written for every offer and answer sent.
    fn write(&self, out: &mut String) {
        for field in &self.0 {
            match field {
                Field::Connection(c) => {
                    out.push_str("c=");
                    push_words(out, [&c.nettype, &c.addrtype, &c.address]);
                }
                Field::Attribute(Attribute { name, value }) => {
                    out.push_str("a=");
                    out.push_str(name);
                    if let Some(v) = value {
                        out.push(':');
                        out.push_str(v);
                    }
                }
                Field::Other { kind, value } => {
                    out.push(*kind);
                    out.push('=');
                    out.push_str(value);
                }
            }
            out.push_str("\r\n");
        }
    }
}

/// Media direction (RFC 3264 5.1, 6.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Send and receive.
    #[default]
    SendRecv,
    /// Send only.
    SendOnly,
    /// Receive only.
    RecvOnly,
    /// Neither.
    Inactive,
}

impl Direction {
    /// From the attribute name.
    pub fn from_name(name: &str) -> Option<Self> {
        const NAMES: [(&str, Direction); 4] = [
            ("sendrecv", Direction::SendRecv),
            ("sendonly", Direction::SendOnly),
            ("recvonly", Direction::RecvOnly),
            ("inactive", Direction::Inactive),
        ];
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, d)| *d)
    }

    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// From "do I send" and "do I receive".
    pub fn from_flags(send: bool, receive: bool) -> Self {
        match (send, receive) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// Whether this side sends.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether this side receives.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The same stream seen from the other side (sendonly ↔ recvonly): the RFC 3264 6.1
    /// answer to an offered direction.
    pub fn reversed(self) -> Self {
        Direction::from_flags(self.receives(), self.sends())
    }

    /// What both allow.
    pub fn intersect(self, other: Direction) -> Self {
        Direction::from_flags(
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        )
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `a=rtpmap:<pt> <encoding>[/<clock>[/<channels>]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtpMap {
    /// Payload type.
    pub pt: u8,
    /// Encoding name as written.
    pub encoding: String,
    /// Clock rate; absent in some old bodies for static payload types.
    pub clock: Option<u32>,
    /// Channels, when given.
    pub channels: Option<u16>,
}

impl RtpMap {
    /// Parses an rtpmap value; `None` when malformed.
    pub fn parse(value: &str) -> Option<Self> {
        let (pt, rest) = value.trim().split_once(char::is_whitespace)?;
        let pt = parse_pt(pt)?;
        let mut parts = rest.trim().split('/');
        let encoding = parts.next().filter(|e| !e.is_empty())?.to_string();
        let clock = match parts.next() {
            Some(c) => Some(c.trim().parse().ok()?),
            None => None,
        };
        let channels = match parts.next() {
            Some(c) => Some(c.trim().parse().ok()?),
            None => None,
        };
        Some(RtpMap {
            pt,
            encoding,
            clock,
            channels,
        })
    }
}

/// `a=rtcp:<port> [IN IP4|IP6 <address>]` (RFC 3605).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rtcp {
    /// RTCP port.
    pub port: u16,
    /// RTCP address, when given.
    pub address: Option<IpAddr>,
}

impl Rtcp {
    /// Parses an `a=rtcp` value; `None` when malformed.
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.split_ascii_whitespace();
        let port = parts.next()?.parse().ok()?;
        let address = match (parts.next(), parts.next(), parts.next()) {
            (Some(_), Some(_), Some(a)) => Some(a.parse().ok()?),
            (None, _, _) => None,
            _ => return None,
        };
        Some(Rtcp { port, address })
    }
}

/// A payload type number: 0 to 127.
pub(crate) fn parse_pt(text: &str) -> Option<u8> {
    text.trim().parse().ok().filter(|pt| *pt <= 127)
}

/// One media section (`m=` and the lines after it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Media {
    /// Media type: `audio`, `video`, `image`, ...
    pub kind: Cow<'static, str>,
    /// Port; 0 means the stream is rejected or disabled.
    pub port: u16,
    /// Number of ports (`<port>/<n>`), when given.
    pub port_count: Option<u32>,
    /// Transport protocol (`RTP/AVP`, `RTP/SAVP`, `udptl`, ...).
    pub proto: Cow<'static, str>,
    /// Formats (payload type numbers for RTP), in order.
    pub formats: Vec<String>,
    /// The other lines, in order.
    pub fields: Fields,
}

impl Media {
    /// A media section with no lines.
    pub fn new(kind: &str, port: u16, proto: &str, formats: Vec<String>) -> Self {
        Media {
            kind: usual(kind),
            port,
            port_count: None,
            proto: usual(proto),
            formats,
            fields: Fields::default(),
        }
    }

    /// Whether the stream is rejected or disabled (port 0).
    pub fn is_rejected(&self) -> bool {
        self.port == 0
    }

    /// Whether the media type is `audio`.
    pub fn is_audio(&self) -> bool {
        self.kind.eq_ignore_ascii_case("audio")
    }

    /// The formats that are payload type numbers.
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats.iter().filter_map(|f| parse_pt(f))
    }

    /// Every well-formed `a=rtpmap`, in order.
    pub fn rtpmaps(&self) -> impl Iterator<Item = RtpMap> + '_ {
        self.fields
            .attribute_values("rtpmap")
            .filter_map(RtpMap::parse)
    }

    /// The `a=rtpmap` of a payload type.
    pub fn rtpmap(&self, pt: u8) -> Option<RtpMap> {
        self.rtpmaps().find(|m| m.pt == pt)
    }

    /// The `a=fmtp` parameters of a payload type.
    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        self.fields.attribute_values("fmtp").find_map(|v| {
            let (p, params) = v.split_once(char::is_whitespace).unwrap_or((v, ""));
            (parse_pt(p) == Some(pt)).then(|| params.trim())
        })
    }

    /// The `a=rtcp` attribute.
    pub fn rtcp(&self) -> Option<Rtcp> {
        self.fields.attribute("rtcp").and_then(Rtcp::parse)
    }

    /// What a payload type carries: its rtpmap, else the static assignment (RFC 3551).
    /// An rtpmap without clock rate takes the rate of the known codec.
    pub fn encoding(&self, pt: u8) -> Option<Encoding> {
        match self.rtpmap(pt) {
            Some(map) => {
                let clock = match map.clock {
                    Some(c) => c,
                    None => codec::default_clock(pt, &map.encoding)?,
                };
                Some(Encoding {
                    name: map.encoding,
                    clock,
                    channels: map.channels,
                })
            }
            None => codec::static_encoding(pt),
        }
    }

    fn write(&self, out: &mut String) {
        out.push_str("m=");
        out.push_str(&self.kind);
        out.push(' ');
        crate::sip::push_decimal(out, u64::from(self.port));
        if let Some(n) = self.port_count {
            out.push('/');
            crate::sip::push_decimal(out, u64::from(n));
        }
        out.push(' ');
        out.push_str(&self.proto);
        for f in &self.formats {
            out.push(' ');
            out.push_str(f);
        }
        out.push_str("\r\n");
        self.fields.write(out);
    }
}

/// A session description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sdp {
    /// `o=`.
    pub origin: OriginLine,
    /// `s=` (may be a single space or empty in received bodies).
    pub session_name: String,
    /// The other session-level lines (`c=`, `t=`, `b=`, `a=`, ...), in order.
    pub session: Fields,
    /// Media sections.
    pub media: Vec<Media>,
}

impl Sdp {
    /// Parses a body: tolerant of LF line ends, blank lines and unknown lines, strict on
    /// `v=`, `o=`, `s=`, `c=` and `m=` (RFC 8866), bounded in size.
    pub fn parse(input: &[u8]) -> Result<Sdp, SdpError> {
        super::parse::parse(input)
    }

    /// A session of ours: `o=` and `c=` with this address, `s=Asterisk`, `t=0 0`, no media.
    pub fn local(ip: IpAddr) -> Self {
        Sdp {
            origin: OriginLine::local(ip),
            session_name: "Asterisk".into(),
            session: Fields(vec![
                Field::Connection(Connection::new(ip)),
                Field::Other {
                    kind: 't',
                    value: "0 0".into(),
                },
            ]),
            media: Vec::new(),
        }
    }

    /// The body, CRLF line ends.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.text().into_bytes()
    }

    /// The body as text (what `Display` writes).
    fn text(&self) -> String {
        let mut out = String::with_capacity(512);
        let o = &self.origin;
        out.push_str("v=0\r\no=");
        push_words(
            &mut out,
            [
                &o.username,
                &o.session_id,
                &o.version,
                &o.nettype,
                &o.addrtype,
                &o.address,
            ],
        );
        out.push_str("\r\ns=");
        out.push_str(&self.session_name);
        out.push_str("\r\n");
        self.session.write(&mut out);
        for m in &self.media {
            m.write(&mut out);
        }
        out
    }

    /// The connection of a media section: its own `c=`, else the session's.
    pub fn connection(&self, index: usize) -> Option<&Connection> {
        let media = self.media.get(index)?;
        media
            .fields
            .connection()
            .or_else(|| self.session.connection())
    }

    /// The direction attribute of a media section, else of the session, else sendrecv.
    pub fn direction(&self, index: usize) -> Direction {
        self.media
            .get(index)
            .and_then(|m| m.fields.direction())
            .or_else(|| self.session.direction())
            .unwrap_or_default()
    }

    /// The direction as the sender meant it: [`Sdp::direction`], where a `c=0.0.0.0`
    /// (RFC 2543 hold) removes the sender's receiving side (sendrecv → sendonly).
    pub fn effective_direction(&self, index: usize) -> Direction {
        let declared = self.direction(index);
        if self.connection(index).is_some_and(Connection::is_hold) {
            declared.intersect(Direction::SendOnly)
        } else {
            declared
        }
    }

    /// `a=ptime` of a media section, else of the session.
    pub fn ptime(&self, index: usize) -> Option<u32> {
        self.media_or_session_number(index, "ptime")
    }

    /// `a=maxptime` of a media section, else of the session.
    pub fn maxptime(&self, index: usize) -> Option<u32> {
        self.media_or_session_number(index, "maxptime")
    }

    fn media_or_session_number(&self, index: usize, name: &str) -> Option<u32> {
        self.media
            .get(index)
            .and_then(|m| m.fields.number(name))
            .or_else(|| self.session.number(name))
    }

    /// Where to send RTP for a media section: connection address and port. `None` when
    /// the stream is rejected, the address is not an IP (FQDN) or is `0.0.0.0` (hold).
    pub fn remote_rtp(&self, index: usize) -> Option<SocketAddr> {
        let media = self.media.get(index).filter(|m| !m.is_rejected())?;
        let ip = self
            .connection(index)?
            .ip()
            .filter(|ip| !ip.is_unspecified())?;
        Some(SocketAddr::new(ip, media.port))
    }

    /// Where to send RTCP: `a=rtcp` port (and address, if given), else RTP port + 1.
    pub fn remote_rtcp(&self, index: usize) -> Option<SocketAddr> {
        let rtp = self.remote_rtp(index)?;
        match self.media.get(index).and_then(Media::rtcp) {
            Some(Rtcp { port, address }) => {
                Some(SocketAddr::new(address.unwrap_or(rtp.ip()), port))
            }
            None => Some(SocketAddr::new(rtp.ip(), rtp.port().checked_add(1)?)),
        }
    }

    /// Whether this offer puts us on hold: every stream that is not rejected is
    /// sendonly or inactive, counting `c=0.0.0.0` as sendonly; false with no active stream.
    pub fn is_hold(&self) -> bool {
        let mut active = (0..self.media.len())
            .filter(|i| self.media.get(*i).is_some_and(|m| !m.is_rejected()))
            .peekable();
        active.peek().is_some() && active.all(|i| !self.effective_direction(i).receives())
    }

    /// Replaces the address in `o=` and in every `c=` (for `media_address` or a NAT
    /// external media address).
    pub fn set_address(&mut self, ip: IpAddr) {
        self.origin.addrtype = addrtype(ip).into();
        self.origin.address = ip.to_string();
        let media_fields = self.media.iter_mut().map(|m| &mut m.fields);
        for fields in std::iter::once(&mut self.session).chain(media_fields) {
            for c in fields.connections_mut() {
                *c = Connection::new(ip);
            }
        }
    }

    /// Replaces the port of a media section; false when there is no such section.
    pub fn set_port(&mut self, index: usize, port: u16) -> bool {
        match self.media.get_mut(index) {
            Some(m) => {
                m.port = port;
                true
            }
            None => false,
        }
    }
}

impl fmt::Display for Sdp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

/// Appends `words` separated by single spaces.
fn push_words<const N: usize>(out: &mut String, words: [&str; N]) {
    for (i, w) in words.into_iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(w);
    }
}
