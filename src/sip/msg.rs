//! SIP messages (RFC 3261 7): requests and responses over one shared buffer.

use bytes::{BufMut, Bytes, BytesMut};

use super::error::ParseError;
use super::header::{HeaderName, Headers};
use super::method::Method;
use super::parse::{Limits, parse_message};
use super::status::StatusCode;
use super::uri::Uri;
use super::validate::{Parsed, ResponseFields};

/// A request. The SIP-Version is always `SIP/2.0` (others are rejected with 505).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The Request-URI.
    pub uri: Uri,
    /// Header fields in wire order.
    pub headers: Headers,
    /// The body (exactly Content-Length bytes when that header is present).
    pub body: Bytes,
    /// Typed field values kept by [`super::check_request`].
    pub(crate) parsed: Parsed,
}

impl Request {
    /// A request from its parts, as the dialog layer builds them (nothing is parsed).
    pub fn new(method: Method, uri: Uri, headers: Headers, body: Bytes) -> Self {
        Request {
            method,
            uri,
            headers,
            body,
            parsed: Parsed::default(),
        }
    }
}

/// A response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: StatusCode,
    /// The reason phrase as received (UTF-8 text is allowed, and may be empty).
    pub reason: Bytes,
    /// Header fields in wire order.
    pub headers: Headers,
    /// The body.
    pub body: Bytes,
    /// Typed field values kept by [`super::check_response`].
    pub(crate) parsed: Parsed<ResponseFields>,
}

/// A request or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

impl Message {
    /// Parses one message with the default [`Limits`] and datagram body rules (see
    /// [`Message::parse_with`]).
    pub fn parse(buf: Bytes) -> Result<Message, ParseError> {
        parse_message(buf, &Limits::default())
    }

    /// Parses one message: the whole datagram, or one frame cut by [`super::frame`].
    /// Without Content-Length the body is the rest of `buf`; a smaller Content-Length
    /// truncates the body; a larger one is an error.
    pub fn parse_with(buf: Bytes, limits: &Limits) -> Result<Message, ParseError> {
        parse_message(buf, limits)
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }

    /// The header fields, mutable.
    pub fn headers_mut(&mut self) -> &mut Headers {
        match self {
            Message::Request(r) => &mut r.headers,
            Message::Response(r) => &mut r.headers,
        }
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        match self {
            Message::Request(r) => &r.body,
            Message::Response(r) => &r.body,
        }
    }

    /// Replaces the body and sets Content-Length to its length (the only header the
    /// serializer ever changes, and only when asked).
    pub fn set_body(&mut self, body: Bytes) {
        let len = body.len().to_string();
        match self {
            Message::Request(r) => r.body = body,
            Message::Response(r) => r.body = body,
        }
        self.headers_mut().replace(HeaderName::ContentLength, len);
    }

    /// Serializes: start line, header fields verbatim (known names in their long form),
    /// empty line, body. Nothing is recomputed.
    pub fn to_bytes(&self) -> Bytes {
        let headers_len: usize = self
            .headers()
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum();
        let start_len = match self {
            Message::Request(r) => r.method.as_str().len() + 64,
            Message::Response(r) => 13 + r.reason.len(),
        };
        let mut out = BytesMut::with_capacity(start_len + headers_len + 2 + self.body().len());
        match self {
            Message::Request(r) => {
                out.put_slice(r.method.as_str().as_bytes());
                out.put_u8(b' ');
                r.uri.write_to(&mut out);
                out.put_slice(b" SIP/2.0\r\n");
            }
            Message::Response(r) => {
                // The code has three digits (StatusCode is 100-699).
                let code = r.status.code();
                out.put_slice(b"SIP/2.0 ");
                for digit in [code / 100 % 10, code / 10 % 10, code % 10] {
                    out.put_u8(b'0' + digit as u8);
                }
                out.put_u8(b' ');
                out.put_slice(&r.reason);
                out.put_slice(b"\r\n");
            }
        }
        for (name, value) in self.headers().iter() {
            out.put_slice(name.as_str().as_bytes());
            out.put_slice(b": ");
            out.put_slice(value);
            out.put_slice(b"\r\n");
        }
        out.put_slice(b"\r\n");
        out.put_slice(self.body());
        out.freeze()
    }

    /// The request, if this is one.
    pub fn as_request(&self) -> Option<&Request> {
        match self {
            Message::Request(r) => Some(r),
            Message::Response(_) => None,
        }
    }

    /// The response, if this is one.
    pub fn as_response(&self) -> Option<&Response> {
        match self {
            Message::Response(r) => Some(r),
            Message::Request(_) => None,
        }
    }
}

impl Response {
    /// The reason phrase as text (invalid UTF-8 replaced).
    pub fn reason_text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:bob@biloxi.com SIP/2.0\r\n\
        v: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n\
        Max-Forwards: 70\r\n\
        To: Bob <sip:bob@biloxi.com>\r\n\
        From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
        Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n\
        CSeq: 314159 INVITE\r\n\
        X-Custom:   weird ;;, value\r\n\
        Content-Length: 4\r\n\r\nv=0\n";

    #[test]
    fn rfc3261_7_serializer_keeps_unknown_headers_verbatim() {
        let m = Message::parse(Bytes::from_static(INVITE.as_bytes())).expect("parse");
        let out = m.to_bytes();
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("X-Custom: weird ;;, value\r\n"));
        assert!(text.starts_with("INVITE sip:bob@biloxi.com SIP/2.0\r\nVia: SIP/2.0/UDP"));
        assert_eq!(Message::parse(out), Ok(m));
    }

    #[test]
    fn rfc3261_20_14_set_body_updates_content_length() {
        let mut m = Message::parse(Bytes::from_static(INVITE.as_bytes())).expect("parse");
        m.set_body(Bytes::from_static(b"hello world"));
        assert_eq!(m.headers().content_length(), Ok(Some(11)));
        let again = Message::parse(m.to_bytes()).expect("reparse");
        assert_eq!(&again.body()[..], b"hello world");
    }

    #[test]
    fn rfc3261_8_1_1_mandatory_header_accessors() {
        let m = Message::parse(Bytes::from_static(INVITE.as_bytes())).expect("parse");
        let h = m.headers();
        assert_eq!(h.call_id(), Ok("a84b4c76e66710@pc33.atlanta.com"));
        assert_eq!(h.cseq().map(|c| c.seq), Ok(314159));
        assert_eq!(
            h.from()
                .ok()
                .and_then(|f| f.tag().map(str::to_owned))
                .as_deref(),
            Some("1928301774")
        );
        assert_eq!(
            h.top_via()
                .ok()
                .and_then(|v| v.branch().map(str::to_owned))
                .as_deref(),
            Some("z9hG4bK776asdhds")
        );
        assert_eq!(h.max_forwards(), Ok(70));
    }
}
