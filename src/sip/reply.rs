//! Messages derived from others: the response to a request (RFC 3261 8.2.6) and the ACK
//! for a non-2xx final response (17.1.1.3).

use bytes::{BufMut, Bytes, BytesMut};

use super::header::via::Via;
use super::header::{HeaderName, Headers};
use super::method::Method;
use super::msg::{Request, Response};
use super::name_addr::NameAddr;
use super::status::StatusCode;

/// The top Via of a message, parsed (the first value of the first Via field).
pub fn top_via(headers: &Headers) -> Option<Via> {
    headers
        .first_value(&HeaderName::Via)
        .and_then(|v| Via::parse(&v).ok())
}

/// A response to `req`: every Via in order, From, To (with `to_tag` added when To has no
/// tag and the status is above 100), Call-ID, CSeq, and `Content-Length: 0`.
pub fn response_to(req: &Request, status: StatusCode, to_tag: Option<&str>) -> Response {
    response_with(req, status, to_tag, &[])
}

/// [`response_to`] with `extra` fields before the final `Content-Length: 0`.
pub fn response_with(
    req: &Request,
    status: StatusCode,
    to_tag: Option<&str>,
    extra: &[(HeaderName, Bytes)],
) -> Response {
    let mut headers = Headers::with_capacity(8 + extra.len());
    for via in req.headers.get_all(&HeaderName::Via) {
        headers.push(HeaderName::Via, via.clone());
    }
    for name in [HeaderName::From, HeaderName::To] {
        if let Some(v) = req.headers.get(&name) {
            let mut value = v.clone();
            if name == HeaderName::To
                && status.code() > 100
                && let Some(tag) = to_tag
                && to_has_no_tag(req, v)
            {
                let mut text = Vec::with_capacity(v.len() + 5 + tag.len());
                text.extend_from_slice(v);
                text.extend_from_slice(b";tag=");
                text.extend_from_slice(tag.as_bytes());
                value = Bytes::from(text);
            }
            headers.push(name, value);
        }
    }
    for name in [HeaderName::CallId, HeaderName::CSeq] {
        if let Some(v) = req.headers.get(&name) {
            headers.push(name, v.clone());
        }
    }
    for (name, value) in extra {
        headers.push(name.clone(), value.clone());
    }
    headers.push(HeaderName::ContentLength, Bytes::from_static(b"0"));
    Response {
        status,
        reason: Bytes::from_static(status.default_reason().as_bytes()),
        headers,
        body: Bytes::new(),
        parsed: Default::default(),
    }
}

/// `Message::Response(response_with(req, status, to_tag, extra)).to_bytes()`, written
/// straight from the request's fields (no intermediate response to build and drop).
pub fn response_bytes(
    req: &Request,
    status: StatusCode,
    to_tag: Option<&str>,
    extra: &[(HeaderName, Bytes)],
) -> Bytes {
    let reason = status.default_reason();
    let field = |name: &HeaderName, value: &[u8]| name.as_str().len() + value.len() + 4;
    // Room for everything (a To tag counted on each copied field: an upper bound).
    let mut len = 13 + reason.len() + "Content-Length: 0\r\n\r\n".len();
    for (name, value) in req.headers.iter() {
        if matches!(
            name,
            HeaderName::Via
                | HeaderName::From
                | HeaderName::To
                | HeaderName::CallId
                | HeaderName::CSeq
        ) {
            len += field(name, value) + 5 + to_tag.map_or(0, str::len);
        }
    }
    for (name, value) in extra {
        len += field(name, value);
    }
    let mut out = BytesMut::with_capacity(len);
    out.put_slice(b"SIP/2.0 ");
    // The code has three digits (StatusCode is 100-699).
    let code = status.code();
    for digit in [code / 100 % 10, code / 10 % 10, code % 10] {
        out.put_u8(b'0' + u8::try_from(digit).unwrap_or(0));
    }
    out.put_u8(b' ');
    out.put_slice(reason.as_bytes());
    out.put_slice(b"\r\n");
    let mut put = |name: &HeaderName, value: &[u8], tag: Option<&str>| {
        out.put_slice(name.as_str().as_bytes());
        out.put_slice(b": ");
        out.put_slice(value);
        if let Some(tag) = tag {
            out.put_slice(b";tag=");
            out.put_slice(tag.as_bytes());
        }
        out.put_slice(b"\r\n");
    };
    for via in req.headers.get_all(&HeaderName::Via) {
        put(&HeaderName::Via, via, None);
    }
    if let Some(v) = req.headers.get(&HeaderName::From) {
        put(&HeaderName::From, v, None);
    }
    if let Some(v) = req.headers.get(&HeaderName::To) {
        let tag = to_tag.filter(|_| status.code() > 100 && to_has_no_tag(req, v));
        put(&HeaderName::To, v, tag);
    }
    for name in [HeaderName::CallId, HeaderName::CSeq] {
        if let Some(v) = req.headers.get(&name) {
            put(&name, v, None);
        }
    }
    for (name, value) in extra {
        put(name, value, None);
    }
    put(&HeaderName::ContentLength, b"0", None);
    out.put_slice(b"\r\n");
    out.freeze()
}

/// True when the first To field `first_to` parses and has no tag (validation's parse when
/// the request kept it: To is then single, so `first_to` is that field).
fn to_has_no_tag(req: &Request, first_to: &[u8]) -> bool {
    if req.is_checked()
        && let Ok(to) = req.to_addr()
    {
        return to.tag().is_none();
    }
    NameAddr::parse(first_to, "To").is_ok_and(|to| to.tag().is_none())
}

/// The ACK for a non-2xx final `response` to `invite` (RFC 3261 17.1.1.3): the INVITE's
/// Request-URI, Call-ID, From, CSeq number and top Via; To from the response; the INVITE's
/// Route set; Max-Forwards 70.
pub fn ack_for(invite: &Request, response: &Response) -> Request {
    let mut headers = Headers::new();
    if let Some(via) = invite.headers.values(&HeaderName::Via).into_iter().next() {
        headers.push(HeaderName::Via, via);
    }
    headers.push(HeaderName::MaxForwards, "70");
    for route in invite.headers.get_all(&HeaderName::Route) {
        headers.push(HeaderName::Route, route.clone());
    }
    if let Some(from) = invite.headers.get(&HeaderName::From) {
        headers.push(HeaderName::From, from.clone());
    }
    if let Some(to) = response
        .headers
        .get(&HeaderName::To)
        .or_else(|| invite.headers.get(&HeaderName::To))
    {
        headers.push(HeaderName::To, to.clone());
    }
    if let Some(call_id) = invite.headers.get(&HeaderName::CallId) {
        headers.push(HeaderName::CallId, call_id.clone());
    }
    let seq = invite
        .headers
        .get(&HeaderName::CSeq)
        .and_then(|v| super::CSeq::parse(v).ok())
        .map_or(1, |c| c.seq);
    headers.push(HeaderName::CSeq, format!("{seq} ACK"));
    headers.push(HeaderName::ContentLength, "0");
    Request {
        method: Method::Ack,
        uri: invite.uri.clone(),
        headers,
        body: Bytes::new(),
        parsed: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Message;

    const INVITE: &str = "INVITE sip:bob@biloxi.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n\
        Via: SIP/2.0/UDP proxy.atlanta.com;branch=z9hG4bKproxy\r\n\
        Max-Forwards: 70\r\n\
        Route: <sip:proxy.biloxi.com;lr>\r\n\
        To: Bob <sip:bob@biloxi.com>\r\n\
        From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
        Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n\
        CSeq: 314159 INVITE\r\n\
        Content-Length: 0\r\n\r\n";

    fn invite() -> Request {
        match Message::parse(Bytes::from_static(INVITE.as_bytes())) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    fn code(n: u16) -> StatusCode {
        StatusCode::new(n).unwrap_or_else(|| panic!("status {n}"))
    }

    #[test]
    fn rfc3261_8_2_6_2_response_copies_vias_from_to_call_id_cseq() {
        let resp = response_to(&invite(), code(486), Some("a6c85cf"));
        let text = String::from_utf8_lossy(&Message::Response(resp.clone()).to_bytes()).to_string();
        assert!(text.starts_with("SIP/2.0 486 Busy Here\r\n"), "{text}");
        assert_eq!(resp.headers.get_all(&HeaderName::Via).count(), 2);
        assert!(
            text.contains("To: Bob <sip:bob@biloxi.com>;tag=a6c85cf\r\n"),
            "{text}"
        );
        assert!(text.contains("CSeq: 314159 INVITE\r\n"));
        assert!(text.contains("Content-Length: 0\r\n"));
        // Parses back.
        assert!(Message::parse(Message::Response(resp).to_bytes()).is_ok());
    }

    #[test]
    fn response_bytes_are_the_serialized_response() {
        let extra = [
            (HeaderName::Allow, Bytes::from_static(b"OPTIONS, ACK")),
            (HeaderName::new("X-Y"), Bytes::from_static(b"z")),
        ];
        let tagged = INVITE.replace("To: Bob <sip:bob@biloxi.com>", "To: <sip:b@c>;tag=1");
        let folded = INVITE.replace("Call-ID: a84b", "i: a84b");
        for text in [INVITE, tagged.as_str(), folded.as_str()] {
            let Ok(Message::Request(mut req)) = Message::parse(Bytes::from(text.to_string()))
            else {
                panic!("request")
            };
            for checked in [false, true] {
                if checked {
                    assert_eq!(crate::sip::check_request(&mut req), Ok(()));
                }
                for (status, tag, extra) in [
                    (100, Some("t"), &extra[..0]),
                    (200, Some("t"), &extra[..]),
                    (486, None, &extra[..1]),
                ] {
                    let status = code(status);
                    let want =
                        Message::Response(response_with(&req, status, tag, extra)).to_bytes();
                    assert_eq!(response_bytes(&req, status, tag, extra), want);
                }
            }
        }
    }

    #[test]
    fn rfc3261_8_2_6_2_100_trying_gets_no_to_tag() {
        let resp = response_to(&invite(), code(100), Some("x"));
        let to = resp.headers.get(&HeaderName::To).map(|v| v.to_vec());
        assert_eq!(to, Some(b"Bob <sip:bob@biloxi.com>".to_vec()));
    }

    #[test]
    fn rfc3261_17_1_1_3_ack_for_non_2xx() {
        let inv = invite();
        let resp = response_to(&inv, code(404), Some("totag"));
        let ack = ack_for(&inv, &resp);
        let text = String::from_utf8_lossy(&Message::Request(ack).to_bytes()).to_string();
        assert!(
            text.starts_with("ACK sip:bob@biloxi.com SIP/2.0\r\n"),
            "{text}"
        );
        assert!(text.contains("Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n"));
        assert!(
            !text.contains("proxy.atlanta.com"),
            "only the top Via: {text}"
        );
        assert!(text.contains("Route: <sip:proxy.biloxi.com;lr>\r\n"));
        assert!(text.contains(";tag=totag\r\n"));
        assert!(text.contains("CSeq: 314159 ACK\r\n"));
    }
}

/// The stateless error response to a request that did not parse (RFC 3261 21.4.1 400,
/// 21.5.6 505), built from its raw Via, From, To, Call-ID and CSeq lines, or `None` when
/// those cannot be found (the message is then dropped: there is nothing to answer to), when
/// it is a response, or when it is an ACK (never answered).
pub fn salvage_response(buf: &[u8], status: StatusCode, to_tag: &str) -> Option<Bytes> {
    let mut lines = buf
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let start = lines.next()?;
    if start.starts_with(b"SIP/") || start.starts_with(b"ACK ") || start.is_empty() {
        return None;
    }
    let mut vias: Vec<&[u8]> = Vec::new();
    let (mut from, mut to, mut call_id, mut cseq) = (None, None, None, None);
    for line in lines.take(super::parse::Limits::default().max_headers) {
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = HeaderName::new(std::str::from_utf8(line.get(..colon)?).ok()?.trim());
        let value = super::syntax::trim(line.get(colon + 1..).unwrap_or_default());
        let printable = value.iter().all(|&b| b >= 0x20 && b != 0x7f || b == b'\t');
        if value.is_empty() || !printable {
            continue;
        }
        match name {
            HeaderName::Via => vias.push(value),
            HeaderName::From => from = from.or(Some(value)),
            HeaderName::To => to = to.or(Some(value)),
            HeaderName::CallId => call_id = call_id.or(Some(value)),
            HeaderName::CSeq => cseq = cseq.or(Some(value)),
            _ => {}
        }
    }
    let (from, to, call_id, cseq) = (from?, to?, call_id?, cseq?);
    if vias.is_empty() {
        return None;
    }
    let mut out = format!("SIP/2.0 {} {}\r\n", status.code(), status.default_reason()).into_bytes();
    for via in vias {
        out.extend_from_slice(b"Via: ");
        out.extend_from_slice(via);
        out.extend_from_slice(b"\r\n");
    }
    let has_tag = to.windows(5).any(|w| w.eq_ignore_ascii_case(b";tag="));
    for (name, value) in [
        ("From", from),
        ("To", to),
        ("Call-ID", call_id),
        ("CSeq", cseq),
    ] {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        if name == "To" && !has_tag {
            out.extend_from_slice(b";tag=");
            out.extend_from_slice(to_tag.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    Some(Bytes::from(out))
}

#[cfg(test)]
mod salvage_tests {
    use super::*;
    use crate::sip::Message;

    #[test]
    fn rfc3261_21_5_6_unsupported_version_is_answered_505_from_raw_lines() {
        let raw = b"OPTIONS sip:a@b SIP/7.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
            f: <sip:x@y>;tag=1\r\nt: <sip:a@b>\r\ni: abc\r\nCSeq: 1 OPTIONS\r\n\r\n";
        let out = salvage_response(raw, StatusCode::VERSION_NOT_SUPPORTED, "t1").expect("answer");
        let Ok(Message::Response(r)) = Message::parse(out) else {
            panic!("response parses")
        };
        assert_eq!(r.status.code(), 505);
        assert_eq!(r.headers.call_id().expect("call-id"), "abc");
        assert_eq!(r.headers.to().expect("to").tag(), Some("t1"));
    }

    #[test]
    fn responses_acks_and_headless_garbage_are_not_answered() {
        let s = StatusCode::BAD_REQUEST;
        assert!(salvage_response(b"SIP/2.0 200 OK\r\n\r\n", s, "t").is_none());
        assert!(salvage_response(b"ACK sip:a SIP/2.0\r\nVia: x\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: 1 ACK\r\n\r\n", s, "t").is_none());
        assert!(salvage_response(b"\x00\x01garbage", s, "t").is_none());
        assert!(salvage_response(b"", s, "t").is_none());
    }
}
