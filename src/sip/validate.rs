//! Request and response checks a UAS or proxy performs before any processing (RFC 3261
//! 8.2.2, 16.3): mandatory fields, their syntax, CSeq/method agreement, URI scheme.

use std::borrow::Cow;
use std::fmt;

use super::error::ParseError;
use super::header::HeaderName;
use super::header::typed::CSeq;
use super::header::via::Via;
use super::msg::{Request, Response};
use super::name_addr::{ContactList, NameAddr};
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
    validate(req).map(|_| ())
}

/// [`validate_request`], keeping the typed values it parsed (To, From, CSeq, top Via,
/// Contact) in the request: [`Request::from_addr`], [`Request::to_addr`], [`Request::cseq`],
/// [`Request::top_via`] and [`Request::contacts`] then return them without parsing again,
/// as long as the header fields are not changed.
pub fn check_request(req: &mut Request) -> Result<(), Rejection> {
    let fields = validate(req)?;
    req.parsed = Parsed(Some(Box::new(fields)));
    Ok(())
}

fn validate(req: &Request) -> Result<ParsedFields, Rejection> {
    let h = &req.headers;
    let to = h.to().map_err(|e| bad(&e))?;
    let from = h.from().map_err(|e| bad(&e))?;
    h.call_id().map_err(|e| bad(&e))?;
    let cseq = h.cseq().map_err(|e| bad(&e))?;
    h.max_forwards().map_err(|e| bad(&e))?;
    let top_via = h
        .vias()
        .map_err(|e| bad(&e))?
        .into_iter()
        .next()
        .ok_or((StatusCode::BAD_REQUEST, "Missing Mandatory Header"))?;
    let contacts = h.contacts().map_err(|e| bad(&e))?;
    h.content_type().map_err(|e| bad(&e))?;
    h.expires().map_err(|e| bad(&e))?;
    h.routes().map_err(|e| bad(&e))?;
    h.record_routes().map_err(|e| bad(&e))?;
    if h.get(&HeaderName::CSeq).is_some() && cseq.method != req.method {
        return Err((StatusCode::BAD_REQUEST, "CSeq Method Mismatch"));
    }
    match &req.uri {
        Uri::Sip(_) | Uri::Tel(_) => Ok(ParsedFields {
            version: h.version(),
            from,
            to,
            cseq,
            top_via,
            contacts,
        }),
        Uri::Other { .. } => Err((StatusCode::UNSUPPORTED_URI_SCHEME, "Unsupported URI Scheme")),
    }
}

/// To, CSeq, top Via and Contact of a message type with a `fields()` cache: the kept
/// value when it is that of the current header fields, else parsed now.
macro_rules! kept_accessors {
    () => {
        /// To (mandatory): as [`crate::sip::Headers::to`], parsed once.
        pub fn to_addr(&self) -> Result<Cow<'_, NameAddr>, ParseError> {
            kept_or(self.fields().map(|p| &p.to), || self.headers.to())
        }

        /// CSeq (mandatory): as [`crate::sip::Headers::cseq`], parsed once.
        pub fn cseq(&self) -> Result<Cow<'_, CSeq>, ParseError> {
            kept_or(self.fields().map(|p| &p.cseq), || self.headers.cseq())
        }

        /// The top Via: as [`crate::sip::Headers::top_via`], parsed once.
        pub fn top_via(&self) -> Result<Cow<'_, Via>, ParseError> {
            kept_or(self.fields().map(|p| &p.top_via), || self.headers.top_via())
        }

        /// Contact: as [`crate::sip::Headers::contacts`], parsed once.
        pub fn contacts(&self) -> Result<Cow<'_, ContactList>, ParseError> {
            kept_or(self.fields().map(|p| &p.contacts), || {
                self.headers.contacts()
            })
        }
    };
}

/// Typed values of a message's fields, parsed once by [`check_request`] or
/// [`check_response`] and used while the header fields stay as they were. Derived data, so
/// not part of the message's value: it compares equal to anything.
#[derive(Clone)]
pub(crate) struct Parsed<T = ParsedFields>(pub(crate) Option<Box<T>>);

impl<T> Default for Parsed<T> {
    fn default() -> Self {
        Parsed(None)
    }
}

impl<T> PartialEq for Parsed<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> Eq for Parsed<T> {}

impl<T> fmt::Debug for Parsed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "Parsed" } else { "None" })
    }
}

#[derive(Clone)]
pub(crate) struct ParsedFields {
    /// `Headers::version` when parsed.
    pub(crate) version: u64,
    pub(crate) from: NameAddr,
    pub(crate) to: NameAddr,
    pub(crate) cseq: CSeq,
    pub(crate) top_via: Via,
    pub(crate) contacts: ContactList,
}

impl Request {
    /// The cached values, if they are those of the current header fields.
    fn fields(&self) -> Option<&ParsedFields> {
        self.parsed
            .0
            .as_deref()
            .filter(|p| p.version == self.headers.version())
    }

    /// True when [`check_request`] passed and the header fields have not changed since:
    /// the typed accessors then return its values without parsing.
    pub fn is_checked(&self) -> bool {
        self.fields().is_some()
    }

    /// The cached values to update after changing the header fields.
    pub(crate) fn fields_mut(&mut self) -> Option<&mut ParsedFields> {
        let version = self.headers.version();
        self.parsed
            .0
            .as_deref_mut()
            .filter(|p| p.version == version)
    }

    /// Marks the cached values as those of the current header fields (after the caller
    /// changed both alike).
    pub(crate) fn refresh_version(&mut self) {
        let version = self.headers.version();
        if let Some(p) = self.parsed.0.as_deref_mut() {
            p.version = version;
        }
    }

    /// From (mandatory): as [`crate::sip::Headers::from`], parsed once.
    pub fn from_addr(&self) -> Result<Cow<'_, NameAddr>, ParseError> {
        kept_or(self.fields().map(|p| &p.from), || self.headers.from())
    }

    kept_accessors!();
}

/// A kept value, or the value parsed now when none is kept.
fn kept_or<'a, T: Clone>(
    kept: Option<&'a T>,
    parse: impl FnOnce() -> Result<T, ParseError>,
) -> Result<Cow<'a, T>, ParseError> {
    match kept {
        Some(v) => Ok(Cow::Borrowed(v)),
        None => parse().map(Cow::Owned),
    }
}

/// Checks a parsed response: Via, From, To, Call-ID and CSeq present and well formed. A
/// response failing this is discarded (RFC 3261 8.1.3.3 style), never answered.
pub fn validate_response(resp: &Response) -> Result<(), ParseError> {
    validate_fields(resp).map(|_| ())
}

/// [`validate_response`], keeping the typed values it parsed (To, CSeq, top Via, Contact)
/// in the response: [`Response::to_addr`], [`Response::cseq`], [`Response::top_via`] and
/// [`Response::contacts`] then return them without parsing again, as long as the header
/// fields are not changed.
pub fn check_response(resp: &mut Response) -> Result<(), ParseError> {
    let fields = validate_fields(resp)?;
    resp.parsed = Parsed(Some(Box::new(fields)));
    Ok(())
}

fn validate_fields(resp: &Response) -> Result<ResponseFields, ParseError> {
    let h = &resp.headers;
    let top_via = h
        .vias()?
        .into_iter()
        .next()
        .ok_or(ParseError::MissingHeader("Via"))?;
    h.from()?;
    let to = h.to()?;
    h.call_id()?;
    let cseq = h.cseq()?;
    let contacts = h.contacts()?;
    Ok(ResponseFields {
        version: h.version(),
        to,
        cseq,
        top_via,
        contacts,
    })
}

/// Typed values of a response's fields (see [`check_response`]).
#[derive(Clone)]
pub(crate) struct ResponseFields {
    /// `Headers::version` when parsed.
    version: u64,
    to: NameAddr,
    cseq: CSeq,
    top_via: Via,
    contacts: ContactList,
}

impl Response {
    /// The cached values, if they are those of the current header fields.
    fn fields(&self) -> Option<&ResponseFields> {
        self.parsed
            .0
            .as_deref()
            .filter(|p| p.version == self.headers.version())
    }

    kept_accessors!();
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
    fn checked_values_are_reused_until_the_fields_change() {
        let mut r = req(&format!(
            "OPTIONS sip:a@b SIP/2.0\r\n{HDRS}CSeq: 1 OPTIONS\r\nContact: <sip:c@192.0.2.1>\r\n\r\n"
        ));
        assert!(!r.is_checked());
        let before = (
            r.from_addr().map(|f| f.into_owned()),
            r.to_addr().map(|t| t.into_owned()),
            r.cseq().map(|c| c.into_owned()),
            r.top_via().map(|v| v.into_owned()),
            r.contacts().map(|c| c.into_owned()),
        );
        assert_eq!(check_request(&mut r), Ok(()));
        assert!(r.is_checked());
        assert!(matches!(r.from_addr(), Ok(Cow::Borrowed(_))));
        let after = (
            r.from_addr().map(|f| f.into_owned()),
            r.to_addr().map(|t| t.into_owned()),
            r.cseq().map(|c| c.into_owned()),
            r.top_via().map(|v| v.into_owned()),
            r.contacts().map(|c| c.into_owned()),
        );
        assert_eq!(before, after);
        // Any change to the fields: parsed again from what they now say.
        r.headers.replace(HeaderName::From, "<sip:z@d>;tag=9");
        assert!(!r.is_checked());
        assert_eq!(
            r.from_addr()
                .ok()
                .and_then(|f| f.tag().map(str::to_owned))
                .as_deref(),
            Some("9")
        );
        // A failed check keeps nothing.
        let mut bad_req = req(&format!("OPTIONS sip:a@b SIP/2.0\r\n{HDRS}\r\n"));
        assert!(check_request(&mut bad_req).is_err());
        assert!(!bad_req.is_checked());
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
