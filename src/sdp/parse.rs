//! The SDP parser: tolerant where real SIP bodies differ (LF or CRLF, blank lines, FQDN in
//! `o=`, unknown line types and attributes kept verbatim), strict where RFC 8866 is:
//! `v=0` first, `o=` with six fields, `s=`, a `c=` for every stream in use, well-formed
//! `m=` lines. Bounded by [`MAX_SDP_LEN`], [`MAX_MEDIA`] and [`MAX_FORMATS`].

use super::error::SdpError;
use super::model::{Attribute, Connection, Field, Fields, Media, OriginLine, Sdp};

/// Largest body accepted, bytes.
pub const MAX_SDP_LEN: usize = 64 * 1024;
/// Most media sections accepted.
pub const MAX_MEDIA: usize = 64;
/// Most formats accepted on one `m=` line.
pub const MAX_FORMATS: usize = 256;

/// Parses an SDP body. Text that is not UTF-8 is read lossily (a Latin-1 `s=` should not
/// fail a call).
pub fn parse(input: &[u8]) -> Result<Sdp, SdpError> {
    if input.len() > MAX_SDP_LEN {
        return Err(SdpError::TooLarge {
            len: input.len(),
            max: MAX_SDP_LEN,
        });
    }
    let text = String::from_utf8_lossy(input);
    // Line numbers count every line, blank ones included, so they match the body.
    let mut lines = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty());

    match lines.next() {
        None => return Err(SdpError::Empty),
        Some((_, "v=0")) => {}
        Some((n, _)) => return Err(SdpError::line(n, "the first line must be v=0")),
    }

    let mut builder = Builder::default();
    for (n, line) in lines {
        builder.line(n, line)?;
    }
    builder.finish()
}

/// Parse state: the session so far and the media section being read.
#[derive(Default)]
struct Builder {
    origin: Option<OriginLine>,
    session_name: Option<String>,
    session: Fields,
    /// Media sections with the line number of their `m=`.
    media: Vec<(usize, Media)>,
}

impl Builder {
    fn line(&mut self, n: usize, line: &str) -> Result<(), SdpError> {
        let mut chars = line.chars();
        let (kind, value) = match (chars.next(), chars.next()) {
            (Some(k), Some('=')) if k.is_ascii_alphabetic() => (k, chars.as_str()),
            _ => return Err(SdpError::line(n, "expected <type>=<value>")),
        };
        let in_media = !self.media.is_empty();
        match kind {
            'v' | 'o' | 's' if in_media => {
                Err(SdpError::line(n, format!("{kind}= inside a media section")))
            }
            'v' => Err(SdpError::line(n, "second v= line")),
            'o' if self.origin.is_some() => Err(SdpError::line(n, "second o= line")),
            'o' => {
                self.origin = Some(parse_origin(n, value)?);
                Ok(())
            }
            's' if self.session_name.is_some() => Err(SdpError::line(n, "second s= line")),
            's' => {
                self.session_name = Some(value.to_string());
                Ok(())
            }
            'm' => {
                if self.media.len() >= MAX_MEDIA {
                    return Err(SdpError::line(
                        n,
                        format!("more than {MAX_MEDIA} media sections"),
                    ));
                }
                self.media.push((n, parse_media(n, value)?));
                Ok(())
            }
            _ => {
                let field = match kind {
                    'c' => Field::Connection(parse_connection(n, value)?),
                    'a' => Field::Attribute(parse_attribute(n, value)?),
                    _ => Field::Other {
                        kind,
                        value: value.to_string(),
                    },
                };
                match self.media.last_mut() {
                    Some((_, m)) => m.fields.0.push(field),
                    None => self.session.0.push(field),
                }
                Ok(())
            }
        }
    }

    fn finish(self) -> Result<Sdp, SdpError> {
        let origin = self.origin.ok_or(SdpError::Missing('o'))?;
        let session_name = self.session_name.ok_or(SdpError::Missing('s'))?;
        if self.session.connection().is_none() {
            let missing = self
                .media
                .iter()
                .enumerate()
                .find(|(_, (_, m))| !m.is_rejected() && m.fields.connection().is_none());
            if let Some((index, (line, _))) = missing {
                return Err(SdpError::NoConnection { index, line: *line });
            }
        }
        Ok(Sdp {
            origin,
            session_name,
            session: self.session,
            media: self.media.into_iter().map(|(_, m)| m).collect(),
        })
    }
}

/// The first `N` words of `value`, and whether more follow.
fn words<const N: usize>(value: &str) -> ([Option<&str>; N], bool) {
    let mut it = value.split_ascii_whitespace();
    let words = std::array::from_fn(|_| it.next());
    (words, it.next().is_some())
}

fn parse_origin(n: usize, value: &str) -> Result<OriginLine, SdpError> {
    match words::<6>(value) {
        (
            [
                Some(username),
                Some(id),
                Some(version),
                Some(nettype),
                Some(addrtype),
                Some(address),
            ],
            false,
        ) => Ok(OriginLine {
            username: username.into(),
            session_id: id.into(),
            version: version.into(),
            nettype: super::model::usual(nettype),
            addrtype: super::model::usual(addrtype),
            address: address.into(),
        }),
        _ => Err(SdpError::line(n, "o= needs 6 fields")),
    }
}

fn parse_connection(n: usize, value: &str) -> Result<Connection, SdpError> {
    match words::<3>(value) {
        ([Some(nettype), Some(addrtype), Some(address)], false) => Ok(Connection {
            nettype: super::model::usual(nettype),
            addrtype: super::model::usual(addrtype),
            address: address.into(),
        }),
        _ => Err(SdpError::line(n, "c= needs 3 fields")),
    }
}

fn parse_attribute(n: usize, value: &str) -> Result<Attribute, SdpError> {
    let (name, value) = match value.split_once(':') {
        Some((name, v)) => (name, Some(v.to_string())),
        None => (value, None),
    };
    if name.is_empty() {
        return Err(SdpError::line(n, "a= needs an attribute name"));
    }
    Ok(Attribute {
        name: Attribute::name_of(name),
        value,
    })
}

fn parse_media(n: usize, value: &str) -> Result<Media, SdpError> {
    let mut parts = value.split_ascii_whitespace();
    let (Some(kind), Some(port), Some(proto)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(SdpError::line(
            n,
            "m= needs <media> <port> <proto> <fmt>...",
        ));
    };
    let (port, port_count) = match port.split_once('/') {
        Some((p, count)) => (p, Some(count)),
        None => (port, None),
    };
    let port: u16 = port
        .parse()
        .map_err(|_| SdpError::line(n, format!("m= port '{port}' is not a number 0-65535")))?;
    let port_count = match port_count {
        Some(c) => Some(
            c.parse()
                .map_err(|_| SdpError::line(n, format!("m= port count '{c}' is not a number")))?,
        ),
        None => None,
    };
    let formats: Vec<String> = parts.take(MAX_FORMATS + 1).map(str::to_string).collect();
    if formats.is_empty() {
        return Err(SdpError::line(n, "m= has no format"));
    }
    if formats.len() > MAX_FORMATS {
        return Err(SdpError::line(
            n,
            format!("m= has more than {MAX_FORMATS} formats"),
        ));
    }
    let mut media = Media::new(kind, port, proto, formats);
    media.port_count = port_count;
    Ok(media)
}
