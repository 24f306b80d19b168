//! The message parser (RFC 3261 7): start line, header fields with line folding, size
//! limits, and the datagram body rules of RFC 3261 18.3.

use bytes::Bytes;

use super::error::ParseError;
use super::header::{HeaderName, Headers};
use super::method::Method;
use super::msg::{Message, Request, Response};
use super::status::StatusCode;
use super::syntax::{is_token, is_ws, trim};
use super::uri::Uri;

/// Bounds applied while parsing, so a peer cannot make us buffer or loop without limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest whole message (headers and body), in bytes.
    pub max_message: usize,
    /// Most header fields (a comma list counts as one).
    pub max_headers: usize,
    /// Longest header field after unfolding, in bytes.
    pub max_line: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message: 64 * 1024,
            // Bounded by max_message anyway; room for a REGISTER with hundreds of
            // Contact fields, which the registrar refuses with the right answer (403).
            max_headers: 1024,
            max_line: 8 * 1024,
        }
    }
}

/// The parsed start line and header section, and where the body starts.
pub(crate) struct Head {
    pub(crate) start: StartLine,
    pub(crate) headers: Headers,
    pub(crate) body_start: usize,
}

pub(crate) enum StartLine {
    Request { method: Method, uri: Uri },
    Response { status: StatusCode, reason: Bytes },
}

/// Parses a message received as one datagram (or one frame from [`super::frame`]):
/// without Content-Length the body is the rest; a shorter Content-Length truncates; a
/// longer one is an error (RFC 3261 18.3, RFC 4475 3.1.1.8 dblreq and 3.1.2.2 clerr).
pub(crate) fn parse_message(buf: Bytes, limits: &Limits) -> Result<Message, ParseError> {
    if buf.len() > limits.max_message {
        return Err(ParseError::TooLarge {
            len: buf.len(),
            max: limits.max_message,
        });
    }
    let head = parse_head(&buf, limits)?;
    let available = buf.len().saturating_sub(head.body_start);
    let body_len = match content_length(&head.headers)? {
        Some(cl) if cl > available => {
            return Err(ParseError::BodyTooShort {
                declared: cl,
                available,
            });
        }
        Some(cl) => cl,
        None => available,
    };
    let body = buf.slice(head.body_start..head.body_start + body_len);
    Ok(match head.start {
        StartLine::Request { method, uri } => Message::Request(Request {
            method,
            uri,
            headers: head.headers,
            body,
            parsed: Default::default(),
        }),
        StartLine::Response { status, reason } => Message::Response(Response {
            status,
            reason,
            headers: head.headers,
            body,
            parsed: Default::default(),
        }),
    })
}

/// Content-Length over all occurrences: repeated equal values are tolerated, different
/// ones are an error, since the body length would be ambiguous.
pub(crate) fn content_length(headers: &Headers) -> Result<Option<usize>, ParseError> {
    let mut found = None;
    for v in headers.get_all(&HeaderName::ContentLength) {
        let n = super::header::typed::parse_content_length(v)?;
        if found.is_some_and(|f| f != n) {
            return Err(ParseError::DuplicateHeader("Content-Length"));
        }
        found = Some(n);
    }
    Ok(found)
}

/// Splits `buf` into lines ending in CRLF (a bare LF is tolerated, as most stacks do).
/// Returns the line without its terminator and the offset after the terminator.
fn next_line(buf: &[u8], pos: usize) -> Option<(usize, usize, usize)> {
    let rest = buf.get(pos..)?;
    let nl = rest.iter().position(|&b| b == b'\n')?;
    let mut end = pos + nl;
    if end > pos && buf.get(end - 1) == Some(&b'\r') {
        end -= 1;
    }
    Some((pos, end, pos + nl + 1))
}

pub(crate) fn parse_head(buf: &Bytes, limits: &Limits) -> Result<Head, ParseError> {
    // RFC 3261 7.5: CRLFs before the start line are ignored.
    let mut pos = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let (ls, le, next) = next_line(buf, pos).ok_or(ParseError::NoHeaderEnd)?;
    if le - ls > limits.max_line {
        return Err(ParseError::LineTooLong {
            len: le - ls,
            max: limits.max_line,
        });
    }
    let start = parse_start_line(buf, ls, le)?;
    pos = next;
    let mut headers = Headers::with_capacity(16);
    // The header being accumulated: name, the (start, end) value of its first line, and
    // those of its folded continuation lines (rare: no allocation otherwise).
    let mut current: Option<(HeaderName, Span, Vec<Span>)> = None;
    let mut current_len = 0usize;
    loop {
        let (ls, le, next) = next_line(buf, pos).ok_or(ParseError::NoHeaderEnd)?;
        pos = next;
        let line = buf.get(ls..le).unwrap_or_default();
        if line.first().is_some_and(|&b| is_ws(b)) {
            // Folded continuation (RFC 3261 7.3.1): LWS continues the previous value.
            let (_, _, pieces) = current.as_mut().ok_or(ParseError::HeaderLine)?;
            pieces.push((ls, le));
            current_len += le - ls;
            if current_len > limits.max_line {
                return Err(ParseError::LineTooLong {
                    len: current_len,
                    max: limits.max_line,
                });
            }
            continue;
        }
        if let Some((name, first, pieces)) = current.take() {
            headers.push(name, join_value(buf, first, &pieces));
            if headers.len() > limits.max_headers {
                return Err(ParseError::TooManyHeaders {
                    max: limits.max_headers,
                });
            }
        }
        if line.is_empty() {
            return Ok(Head {
                start,
                headers,
                body_start: pos,
            });
        }
        if le - ls > limits.max_line {
            return Err(ParseError::LineTooLong {
                len: le - ls,
                max: limits.max_line,
            });
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(ParseError::HeaderLine)?;
        let name = trim(line.get(..colon).unwrap_or_default());
        if !is_token(name) || line.first().is_some_and(|&b| is_ws(b)) {
            return Err(ParseError::HeaderLine);
        }
        let name = HeaderName::known(name)
            .unwrap_or_else(|| HeaderName::Other(buf.slice(ls..ls + name.len())));
        current = Some((name, (ls + colon + 1, le), Vec::new()));
        current_len = le - ls;
    }
}

/// A `(start, end)` range of the buffer.
type Span = (usize, usize);

/// One line: a zero-copy slice. Folded lines: the pieces joined by single spaces (folding
/// is semantically one SP, RFC 3261 7.3.1), which costs one copy.
fn join_value(buf: &Bytes, first: Span, rest: &[Span]) -> Bytes {
    let part = |&(a, b): &(usize, usize)| trim(buf.get(a..b).unwrap_or_default());
    if rest.is_empty() {
        let t = part(&first);
        return buf.slice_ref_checked(t);
    }
    let mut out = Vec::new();
    for p in std::iter::once(&first)
        .chain(rest)
        .map(part)
        .filter(|p| !p.is_empty())
    {
        if !out.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(p);
    }
    Bytes::from(out)
}

trait SliceRef {
    fn slice_ref_checked(&self, sub: &[u8]) -> Bytes;
}

impl SliceRef for Bytes {
    /// `Bytes::slice_ref` panics on a foreign slice; ours always come from `self`, but an
    /// empty slice may point anywhere, so handle it first.
    fn slice_ref_checked(&self, sub: &[u8]) -> Bytes {
        if sub.is_empty() {
            return Bytes::new();
        }
        let base = self.as_ptr() as usize;
        let start = (sub.as_ptr() as usize).wrapping_sub(base);
        match start.checked_add(sub.len()) {
            Some(end) if end <= self.len() => self.slice(start..end),
            _ => Bytes::copy_from_slice(sub),
        }
    }
}

fn check_version(v: &[u8]) -> Result<(), ParseError> {
    if v.eq_ignore_ascii_case(b"SIP/2.0") {
        return Ok(());
    }
    // A well-formed but different version gets 505; anything else is a syntax error.
    let well_formed = v.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
        && v.get(4..).is_some_and(|n| {
            let mut parts = n.split(|&b| b == b'.');
            let ok = |p: Option<&[u8]>| {
                p.is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit))
            };
            ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
        });
    Err(if well_formed {
        ParseError::Version
    } else {
        ParseError::StartLine("invalid SIP-Version")
    })
}

fn parse_start_line(buf: &Bytes, ls: usize, le: usize) -> Result<StartLine, ParseError> {
    let line = buf.get(ls..le).unwrap_or_default();
    // Exactly one SP between elements (RFC 4475 3.1.2.9 lwsstart, 3.1.2.10 trws).
    let mut parts = line.splitn(3, |&b| b == b' ');
    let (a, b, c) = (parts.next().unwrap_or_default(), parts.next(), parts.next());
    if a.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/")) {
        check_version(a)?;
        let code = b.ok_or(ParseError::StartLine("no status code"))?;
        if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
            return Err(ParseError::StartLine("status code is not three digits"));
        }
        let status = super::syntax::parse_u64(code)
            .and_then(|n| u16::try_from(n).ok())
            .and_then(StatusCode::new)
            .ok_or(ParseError::StartLine("status code out of range"))?;
        let reason = c.unwrap_or_default();
        if reason.iter().any(|&b| b < b' ' && b != b'\t') {
            return Err(ParseError::StartLine("control character in reason phrase"));
        }
        return Ok(StartLine::Response {
            status,
            reason: buf.slice_ref_checked(reason),
        });
    }
    let (uri, version) = match (b, c) {
        (Some(u), Some(v)) if !u.is_empty() => (u, v),
        _ => {
            return Err(ParseError::StartLine(
                "expected 'Method SP Request-URI SP SIP-Version'",
            ));
        }
    };
    check_version(version)?;
    let method = Method::parse(a)?;
    let uri = Uri::parse(uri)?;
    Ok(StartLine::Request { method, uri })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Message, ParseError> {
        parse_message(Bytes::copy_from_slice(s.as_bytes()), &Limits::default())
    }

    const OPTIONS: &str =
        "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>\r\n";

    #[test]
    fn rfc3261_7_3_1_folded_lines_are_unfolded_to_one_space() {
        let m = parse(&format!("{OPTIONS}Subject: one\r\n  two\r\n\ttree\r\n\r\n")).expect("parse");
        let v = m
            .headers()
            .get(&HeaderName::Subject)
            .cloned()
            .unwrap_or_default();
        assert_eq!(&v[..], b"one two tree");
    }

    #[test]
    fn rfc3261_7_5_leading_crlf_before_start_line_is_ignored() {
        assert!(parse(&format!("\r\n\r\n{OPTIONS}\r\n")).is_ok());
    }

    #[test]
    fn rfc3261_18_3_datagram_body_rules() {
        let m = parse(&format!("{OPTIONS}\r\nhello")).expect("no CL");
        assert_eq!(&m.body()[..], b"hello");
        let m = parse(&format!("{OPTIONS}l: 2\r\n\r\nhello")).expect("short CL");
        assert_eq!(&m.body()[..], b"he");
        let e = parse(&format!("{OPTIONS}l: 9\r\n\r\nhello")).err();
        assert_eq!(
            e,
            Some(ParseError::BodyTooShort {
                declared: 9,
                available: 5
            })
        );
    }

    #[test]
    fn rfc3261_7_1_version_other_than_2_0_is_505() {
        let e = parse("OPTIONS sip:a@b SIP/7.0\r\n\r\n")
            .err()
            .map(|e| e.status().code());
        assert_eq!(e, Some(505));
        let e = parse("OPTIONS sip:a@b HTTP/1.1\r\n\r\n")
            .err()
            .map(|e| e.status().code());
        assert_eq!(e, Some(400));
    }

    #[test]
    fn rfc3261_25_1_status_line() {
        let m = parse("SIP/2.0 100 \r\n\r\n").expect("empty reason");
        assert!(matches!(m, Message::Response(r) if r.status.code() == 100 && r.reason.is_empty()));
        assert!(parse("SIP/2.0 4294967301 Big\r\n\r\n").is_err());
        assert!(parse("SIP/2.0 099 Low\r\n\r\n").is_err());
    }

    #[test]
    fn limits_bound_header_count_line_and_message() {
        let small = Limits {
            max_message: 100,
            max_headers: 2,
            max_line: 40,
        };
        let msg = |s: String| parse_message(Bytes::from(s), &small).err();
        assert!(matches!(
            msg(format!("{OPTIONS}X: 1\r\n\r\n")),
            Some(ParseError::TooManyHeaders { .. })
        ));
        assert!(matches!(
            msg(format!(
                "OPTIONS sip:a@b SIP/2.0\r\nX: {}\r\n\r\n",
                "a".repeat(50)
            )),
            Some(ParseError::LineTooLong { .. })
        ));
        assert!(matches!(
            msg("x".repeat(101)),
            Some(ParseError::TooLarge { .. })
        ));
    }

    #[test]
    fn rfc3261_7_3_header_line_without_colon_is_rejected() {
        assert_eq!(
            parse(&format!("{OPTIONS}garbage\r\n\r\n")).err(),
            Some(ParseError::HeaderLine)
        );
        assert_eq!(parse(OPTIONS).err(), Some(ParseError::NoHeaderEnd));
    }

    #[test]
    fn rfc3261_20_14_differing_content_lengths_are_rejected() {
        assert!(parse(&format!("{OPTIONS}Content-Length: 1\r\nl: 2\r\n\r\nab")).is_err());
    }
}
