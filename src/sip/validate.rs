//! Request and response checks a UAS or proxy performs before any processing (RFC 3261
//! 8.2.2, 16.3): mandatory fields, their syntax, CSeq/method agreement, URI scheme.

use super::error::ParseError;
use super::header::HeaderName;
use super::msg::{Request, Response};
use super::status::StatusCode;
use super::uri::Uri;

/// The status code and reason phrase to answer an invalid request with.
pub type Rejection = (StatusCode, &'static str);

fn bad(e: &ParseError) -> Rejection {
    let reason = match e {
        ParseError::MissingHeader(_) => "Missing Mandatory Header",
        ParseError::DuplicateHeader(_) => "Duplicate Header",
        _ => "Malformed Header",
    };
    (e.status(), reason)
}

/// Checks a parsed request: To, From, Call-ID, CSeq, Max-Forwards (each exactly once) and at
/// least one Via are present and well formed, as are Contact, Content-Type, Expires and
/// Route if present; the CSeq method equals the request method (400 otherwise); the
/// Request-URI scheme is sip, sips or tel (416 otherwise).
pub fn validate_request(req: &Request) -> Result<(), Rejection> {
    let h = &req.headers;
    h.to().map_err(|e| bad(&e))?;
    h.from().map_err(|e| bad(&e))?;
    h.call_id().map_err(|e| bad(&e))?;
    let cseq = h.cseq().map_err(|e| bad(&e))?;
    h.max_forwards().map_err(|e| bad(&e))?;
    h.vias().map_err(|e| bad(&e))?;
    h.contacts().map_err(|e| bad(&e))?;
    h.content_type().map_err(|e| bad(&e))?;
    h.expires().map_err(|e| bad(&e))?;
    h.routes().map_err(|e| bad(&e))?;
    h.record_routes().map_err(|e| bad(&e))?;
    if h.get(&HeaderName::CSeq).is_some() && cseq.method != req.method {
        return Err((StatusCode::BAD_REQUEST, "CSeq Method Mismatch"));
    }
    match &req.uri {
        Uri::Sip(_) | Uri::Tel(_) => Ok(()),
        Uri::Other { .. } => Err((StatusCode::UNSUPPORTED_URI_SCHEME, "Unsupported URI Scheme")),
    }
}

/// Checks a parsed response: Via, From, To, Call-ID and CSeq present and well formed. A
/// response failing this is discarded (RFC 3261 8.1.3.3 style), never answered.
pub fn validate_response(resp: &Response) -> Result<(), ParseError> {
    let h = &resp.headers;
    h.vias()?;
    h.from()?;
    h.to()?;
    h.call_id()?;
    h.cseq()?;
    h.contacts()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::sip::msg::Message;

    fn req(s: &str) -> Request {
        match Message::parse(Bytes::copy_from_slice(s.as_bytes())) {
            Ok(Message::Request(r)) => r,
            other => panic!("not a request: {other:?}"),
        }
    }

    const HDRS: &str = "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\n\
        Call-ID: x\r\nMax-Forwards: 70\r\n";

    #[test]
    fn rfc3261_8_1_1_complete_request_is_valid() {
        assert_eq!(
            validate_request(&req(&format!(
                "OPTIONS sip:a@b SIP/2.0\r\n{HDRS}CSeq: 1 OPTIONS\r\n\r\n"
            ))),
            Ok(())
        );
    }

    #[test]
    fn rfc3261_8_2_2_1_unknown_scheme_is_416() {
        let r = req(&format!(
            "OPTIONS foo:bar SIP/2.0\r\n{HDRS}CSeq: 1 OPTIONS\r\n\r\n"
        ));
        assert_eq!(validate_request(&r).map_err(|e| e.0.code()), Err(416));
    }

    #[test]
    fn rfc3261_8_1_1_7_cseq_method_mismatch_is_400() {
        let r = req(&format!(
            "OPTIONS sip:a@b SIP/2.0\r\n{HDRS}CSeq: 1 INVITE\r\n\r\n"
        ));
        assert_eq!(
            validate_request(&r),
            Err((StatusCode::BAD_REQUEST, "CSeq Method Mismatch"))
        );
    }

    #[test]
    fn rfc3261_8_1_1_missing_cseq_is_400() {
        let r = req(&format!("OPTIONS sip:a@b SIP/2.0\r\n{HDRS}\r\n"));
        assert_eq!(
            validate_request(&r),
            Err((StatusCode::BAD_REQUEST, "Missing Mandatory Header"))
        );
    }
}
