//! Typed views of the simple header fields: CSeq, Call-ID, Max-Forwards, Expires,
//! Content-Length, Content-Type, token lists, Retry-After.

use std::fmt;

use crate::sip::error::ParseError;
use crate::sip::method::Method;
use crate::sip::param::{Params, parse_header_params};
use crate::sip::syntax::{is_token, is_ws, parse_u32, parse_u64, split_commas, trim};

/// The CSeq field: sequence number and method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    /// Sequence number, less than 2^31 (RFC 3261 8.1.1.5).
    pub seq: u32,
    /// Method, which must equal the request's method.
    pub method: Method,
}

impl CSeq {
    /// Parses `1*DIGIT LWS Method`.
    pub fn parse(value: &[u8]) -> Result<CSeq, ParseError> {
        let s = trim(value);
        let sp = s
            .iter()
            .position(|&b| is_ws(b))
            .ok_or(ParseError::header("CSeq", "missing method"))?;
        let seq = parse_u64(s.get(..sp).unwrap_or_default())
            .filter(|&n| n < 1 << 31)
            .ok_or(ParseError::header(
                "CSeq",
                "sequence number is not 0..2^31-1",
            ))?;
        let method = Method::parse(trim(s.get(sp..).unwrap_or_default()))
            .map_err(|_| ParseError::header("CSeq", "invalid method"))?;
        Ok(CSeq {
            seq: u32::try_from(seq).unwrap_or(0),
            method,
        })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

/// Checks a Call-ID (`word ["@" word]`: any visible character, no whitespace).
pub fn parse_call_id(value: &[u8]) -> Result<&str, ParseError> {
    let s = trim(value);
    if s.is_empty() || s.iter().any(|&b| b <= b' ' || b == 0x7f) {
        return Err(ParseError::header(
            "Call-ID",
            "empty or contains whitespace",
        ));
    }
    std::str::from_utf8(s).map_err(|_| ParseError::header("Call-ID", "not UTF-8"))
}

/// Max-Forwards: 0-255 (RFC 3261 20.22; RFC 4475 3.1.2.4 scalar02 sends 300).
pub fn parse_max_forwards(value: &[u8]) -> Result<u8, ParseError> {
    parse_u64(trim(value))
        .and_then(|n| u8::try_from(n).ok())
        .ok_or(ParseError::header("Max-Forwards", "not an integer 0-255"))
}

/// A delta-seconds field (Expires, Min-Expires): values beyond 2^32-1 are an error rather
/// than being silently clamped (RFC 4475 3.1.2.4 sends `Expires: 10000000000`).
pub fn parse_delta_seconds(value: &[u8], hdr: &'static str) -> Result<u32, ParseError> {
    let v = trim(value);
    // RFC 3261 10.2.1.1 / RFC 4475 3.1.2.2: an overlarge delta is taken as the largest
    // value (the registrar then clamps it to maximum_expiration); only non-digits are bad.
    if !v.is_empty() && v.iter().all(u8::is_ascii_digit) {
        return Ok(parse_u32(v).unwrap_or(u32::MAX));
    }
    Err(ParseError::header(hdr, "not an integer 0-4294967295"))
}

/// Content-Length: a non-negative integer (RFC 4475 3.1.2.3 ncl sends `-999`).
pub fn parse_content_length(value: &[u8]) -> Result<usize, ParseError> {
    parse_u32(trim(value))
        .and_then(|n| usize::try_from(n).ok())
        .ok_or(ParseError::header(
            "Content-Length",
            "not a non-negative integer",
        ))
}

/// A media type with parameters (Content-Type, RFC 3261 20.15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    /// Top-level type, e.g. `application`.
    pub ty: String,
    /// Subtype, e.g. `sdp`.
    pub subtype: String,
    /// Parameters such as `boundary` or `charset`.
    pub params: Params,
}

impl MediaType {
    /// Parses `type SWS "/" SWS subtype *(SEMI param)`.
    pub fn parse(value: &[u8]) -> Result<MediaType, ParseError> {
        let s = trim(value);
        let end = s.iter().position(|&b| b == b';').unwrap_or(s.len());
        let head = s.get(..end).unwrap_or_default();
        let slash = head
            .iter()
            .position(|&b| b == b'/')
            .ok_or(ParseError::header("Content-Type", "missing '/'"))?;
        let ty = trim(head.get(..slash).unwrap_or_default());
        let sub = trim(head.get(slash + 1..).unwrap_or_default());
        if !is_token(ty) || !is_token(sub) {
            return Err(ParseError::header(
                "Content-Type",
                "type and subtype must be tokens",
            ));
        }
        Ok(MediaType {
            ty: crate::sip::owned_text(ty),
            subtype: crate::sip::owned_text(sub),
            params: parse_header_params(s.get(end..).unwrap_or_default(), "Content-Type")?,
        })
    }

    /// Case-insensitive `type/subtype` match.
    pub fn is(&self, ty: &str, subtype: &str) -> bool {
        self.ty.eq_ignore_ascii_case(ty) && self.subtype.eq_ignore_ascii_case(subtype)
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}{}", self.ty, self.subtype, self.params)
    }
}

/// A comma list of tokens (Supported, Require, Proxy-Require, Unsupported, Allow,
/// Allow-Events). An empty field is an empty list; an empty element (`a,,b`) is an error.
pub fn parse_token_list<'a>(
    values: impl IntoIterator<Item = &'a [u8]>,
    hdr: &'static str,
) -> Result<Vec<String>, ParseError> {
    let mut out = Vec::new();
    for v in values {
        for (a, b) in split_commas(v) {
            let t = v.get(a..b).unwrap_or_default();
            if !is_token(t) {
                return Err(ParseError::header(hdr, "element is not a token"));
            }
            out.push(crate::sip::owned_text(t));
        }
    }
    Ok(out)
}

/// Retry-After (RFC 3261 20.33): `delta-seconds [comment] *(; param)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryAfter {
    /// Seconds to wait.
    pub seconds: u32,
    /// The comment without its parentheses.
    pub comment: Option<String>,
    /// Parameters such as `duration`.
    pub params: Params,
}

impl RetryAfter {
    /// Parses a Retry-After value.
    pub fn parse(value: &[u8]) -> Result<RetryAfter, ParseError> {
        const H: &str = "Retry-After";
        let s = trim(value);
        let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
        let seconds = parse_delta_seconds(s.get(..digits).unwrap_or_default(), H)?;
        let mut rest = trim(s.get(digits..).unwrap_or_default());
        let mut comment = None;
        if rest.first() == Some(&b'(') {
            // Comments nest (RFC 3261 25.1); find the matching parenthesis.
            let mut depth = 0usize;
            let mut end = None;
            for (i, &b) in rest.iter().enumerate() {
                match b {
                    b'(' => depth += 1,
                    b')' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            end = Some(i);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let end = end.ok_or(ParseError::header(H, "unterminated comment"))?;
            comment = Some(crate::sip::owned_text(rest.get(1..end).unwrap_or_default()));
            rest = rest.get(end + 1..).unwrap_or_default();
        }
        let params = parse_header_params(rest, H)?;
        if let Some(d) = params.get("duration") {
            d.and_then(|d| parse_u32(d.as_bytes()))
                .ok_or(ParseError::header(H, "invalid duration"))?;
        }
        Ok(RetryAfter {
            seconds,
            comment,
            params,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3261_8_1_1_5_cseq_below_2_pow_31() {
        let c = CSeq::parse(b"0009  INVITE").expect("cseq");
        assert_eq!((c.seq, c.method), (9, Method::Invite));
        assert!(CSeq::parse(b"2147483648 INVITE").is_err());
        assert!(CSeq::parse(b"36893488147419103232 REGISTER").is_err());
        assert!(CSeq::parse(b"1").is_err());
    }

    #[test]
    fn rfc3261_20_22_max_forwards_is_0_to_255() {
        assert_eq!(parse_max_forwards(b"0068"), Ok(68));
        assert!(parse_max_forwards(b"300").is_err());
    }

    #[test]
    fn rfc4475_3_1_2_4_absurd_expires_is_taken_as_the_largest_value() {
        assert_eq!(parse_delta_seconds(b"3600", "Expires"), Ok(3600));
        assert_eq!(parse_delta_seconds(b"10000000000", "Expires"), Ok(u32::MAX));
        assert!(parse_delta_seconds(b"-1", "Expires").is_err());
        assert!(parse_delta_seconds(b"soon", "Expires").is_err());
        assert!(parse_delta_seconds(b"", "Expires").is_err());
    }

    #[test]
    fn rfc4475_3_1_2_3_negative_content_length_is_an_error() {
        assert!(parse_content_length(b"-999").is_err());
        assert_eq!(parse_content_length(b" 150 "), Ok(150));
    }

    #[test]
    fn rfc3261_20_15_content_type_with_params() {
        let m = MediaType::parse(b"multipart/mixed;boundary=7a9cbec02ceef655").expect("ct");
        assert!(m.is("Multipart", "MIXED"));
        assert_eq!(m.params.value("boundary"), Some("7a9cbec02ceef655"));
        assert!(MediaType::parse(b"application").is_err());
    }

    #[test]
    fn rfc3261_20_37_token_lists() {
        let l = parse_token_list([&b"100rel, timer"[..], &b"path"[..]], "Supported").expect("list");
        assert_eq!(l, ["100rel", "timer", "path"]);
        assert!(parse_token_list([&b""[..]], "Supported").is_ok_and(|l| l.is_empty()));
        assert!(parse_token_list([&b"a,,b"[..]], "Supported").is_err());
    }

    #[test]
    fn rfc3261_20_33_retry_after() {
        let r = RetryAfter::parse(b"18000;duration=3600").expect("ra");
        assert_eq!(r.seconds, 18000);
        let r = RetryAfter::parse(b"120 (I'm in a (meeting))").expect("ra");
        assert_eq!(r.comment.as_deref(), Some("I'm in a (meeting)"));
    }

    #[test]
    fn rfc3261_20_8_call_id_has_no_whitespace() {
        assert_eq!(
            parse_call_id(b" intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{ "),
            Ok("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{")
        );
        assert!(parse_call_id(b"a b").is_err());
    }
}
