//! Stream framing for TCP/TLS (RFC 3261 18.3, RFC 5626 3.5.1 keep-alives): decides how many
//! bytes of a receive buffer form the next message, without copying or parsing values.

use super::error::ParseError;
use super::parse::Limits;
use super::syntax::{parse_u32, trim};

/// What the front of a stream buffer holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A whole message of `len` bytes: cut it off and hand it to `Message::parse`.
    Complete {
        /// Bytes of the message, headers and body.
        len: usize,
    },
    /// Need more bytes.
    Incomplete,
    /// A keep-alive: CRLFCRLF (a ping, `len` 4, answered with CRLF) or CRLF (a pong, 2).
    KeepAlive {
        /// 2 or 4.
        len: usize,
    },
    /// The stream cannot be framed any more; the connection should be closed (after a
    /// 400/513 if a request line was seen).
    Invalid(ParseError),
}

/// Frames with the default [`Limits`].
pub fn frame(buf: &[u8]) -> Frame {
    frame_with(buf, &Limits::default())
}

/// Frames the front of `buf`. Content-Length is mandatory on streams.
pub fn frame_with(buf: &[u8], limits: &Limits) -> Frame {
    if buf.starts_with(b"\r\n\r\n") {
        return Frame::KeepAlive { len: 4 };
    }
    if let Some(rest) = buf.strip_prefix(b"\r\n") {
        // "\r\n" alone may be the start of a ping: wait for one more byte to tell.
        return match rest.first() {
            None | Some(b'\r') => Frame::Incomplete,
            Some(_) => Frame::KeepAlive { len: 2 },
        };
    }
    if buf.is_empty() || buf == b"\r" {
        return Frame::Incomplete;
    }
    let Some(body_start) = header_end(buf) else {
        return if buf.len() > limits.max_message {
            Frame::Invalid(ParseError::TooLarge {
                len: buf.len(),
                max: limits.max_message,
            })
        } else {
            Frame::Incomplete
        };
    };
    let cl = match content_length(buf.get(..body_start).unwrap_or_default()) {
        Ok(Some(cl)) => cl,
        Ok(None) => return Frame::Invalid(ParseError::MissingContentLength),
        Err(e) => return Frame::Invalid(e),
    };
    let Some(total) = body_start
        .checked_add(cl)
        .filter(|&t| t <= limits.max_message)
    else {
        return Frame::Invalid(ParseError::TooLarge {
            len: body_start.saturating_add(cl),
            max: limits.max_message,
        });
    };
    if buf.len() < total {
        Frame::Incomplete
    } else {
        Frame::Complete { len: total }
    }
}

/// Offset just after the empty line ending the headers (CRLFCRLF, or LFLF / mixed).
fn header_end(buf: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    for (i, &b) in buf.iter().enumerate() {
        if b == b'\n' {
            let line = buf.get(line_start..i).unwrap_or_default();
            if (line.is_empty() || line == b"\r") && line_start > 0 {
                return Some(i + 1);
            }
            line_start = i + 1;
        }
    }
    None
}

/// Finds Content-Length (or `l`) in the header block, following folded lines. Differing
/// repeated values are an error.
fn content_length(head: &[u8]) -> Result<Option<usize>, ParseError> {
    let mut found: Option<usize> = None;
    let mut lines = head.split(|&b| b == b'\n').skip(1).peekable();
    while let Some(line) = lines.next() {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = trim(line.get(..colon).unwrap_or_default());
        if line.first().is_some_and(|&b| b == b' ' || b == b'\t')
            || !(name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l"))
        {
            continue;
        }
        let mut value = trim(line.get(colon + 1..).unwrap_or_default()).to_vec();
        while let Some(cont) =
            lines.next_if(|l| l.first().is_some_and(|&b| b == b' ' || b == b'\t'))
        {
            value.extend_from_slice(trim(cont));
        }
        let n = parse_u32(&value)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or(ParseError::header(
                "Content-Length",
                "not a non-negative integer",
            ))?;
        if found.is_some_and(|f| f != n) {
            return Err(ParseError::DuplicateHeader("Content-Length"));
        }
        found = Some(n);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 3\r\n\r\nabc";

    #[test]
    fn rfc3261_18_3_stream_frame_uses_content_length() {
        assert_eq!(frame(MSG), Frame::Complete { len: MSG.len() });
        let mut two = MSG.to_vec();
        two.extend_from_slice(MSG);
        assert_eq!(frame(&two), Frame::Complete { len: MSG.len() });
        assert_eq!(frame(&MSG[..MSG.len() - 1]), Frame::Incomplete);
        assert_eq!(frame(&MSG[..20]), Frame::Incomplete);
    }

    #[test]
    fn rfc3261_18_3_content_length_is_mandatory_on_streams() {
        assert_eq!(
            frame(b"OPTIONS sip:a@b SIP/2.0\r\nX: 1\r\n\r\n"),
            Frame::Invalid(ParseError::MissingContentLength)
        );
        assert!(matches!(
            frame(b"OPTIONS sip:a@b SIP/2.0\r\nl: -1\r\n\r\n"),
            Frame::Invalid(_)
        ));
    }

    #[test]
    fn rfc5626_3_5_1_crlf_keepalives() {
        assert_eq!(frame(b"\r\n\r\nOPTIONS"), Frame::KeepAlive { len: 4 });
        assert_eq!(frame(b"\r\nOPTIONS"), Frame::KeepAlive { len: 2 });
        assert_eq!(frame(b"\r\n"), Frame::Incomplete);
        assert_eq!(frame(b""), Frame::Incomplete);
    }

    #[test]
    fn oversized_headers_or_body_are_invalid() {
        let small = Limits {
            max_message: 40,
            ..Limits::default()
        };
        assert!(matches!(
            frame_with(&[b'a'; 41], &small),
            Frame::Invalid(ParseError::TooLarge { .. })
        ));
        assert!(matches!(
            frame_with(b"OPTIONS sip:a@b SIP/2.0\r\nl: 100\r\n\r\n", &small),
            Frame::Invalid(ParseError::TooLarge { .. })
        ));
    }

    #[test]
    fn rfc3261_7_3_1_folded_content_length_is_found() {
        let m = b"OPTIONS sip:a@b SIP/2.0\r\nl:\r\n 1\r\n\r\nx";
        assert_eq!(frame(m), Frame::Complete { len: m.len() });
    }
}
