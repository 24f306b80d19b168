//! Typed accessors on [`Headers`]: each parses on demand and reports a missing mandatory
//! field or a malformed value as a [`ParseError`] (which maps to 400).

use super::typed::{
    CSeq, MediaType, RetryAfter, parse_call_id, parse_content_length, parse_delta_seconds,
    parse_max_forwards, parse_token_list,
};
use super::via::Via;
use super::{HeaderName, Headers, static_name};
use crate::sip::error::ParseError;
use crate::sip::name_addr::{ContactList, NameAddr, parse_list};

impl Headers {
    fn single(&self, name: &HeaderName) -> Result<&[u8], ParseError> {
        self.get_single(name)?
            .map(|v| v.as_ref())
            .ok_or(ParseError::MissingHeader(static_name(name)))
    }

    fn optional<T>(
        &self,
        name: &HeaderName,
        parse: impl FnOnce(&[u8]) -> Result<T, ParseError>,
    ) -> Result<Option<T>, ParseError> {
        self.get_single(name)?.map(|v| parse(v)).transpose()
    }

    /// Call-ID (mandatory).
    pub fn call_id(&self) -> Result<&str, ParseError> {
        parse_call_id(self.single(&HeaderName::CallId)?)
    }

    /// CSeq (mandatory).
    pub fn cseq(&self) -> Result<CSeq, ParseError> {
        CSeq::parse(self.single(&HeaderName::CSeq)?)
    }

    /// From (mandatory).
    pub fn from(&self) -> Result<NameAddr, ParseError> {
        NameAddr::parse(self.single(&HeaderName::From)?, "From")
    }

    /// To (mandatory).
    pub fn to(&self) -> Result<NameAddr, ParseError> {
        NameAddr::parse(self.single(&HeaderName::To)?, "To")
    }

    /// Max-Forwards (mandatory in requests).
    pub fn max_forwards(&self) -> Result<u8, ParseError> {
        parse_max_forwards(self.single(&HeaderName::MaxForwards)?)
    }

    /// All Via values, top first (at least one is mandatory).
    pub fn vias(&self) -> Result<Vec<Via>, ParseError> {
        let vias = self
            .values(&HeaderName::Via)
            .iter()
            .map(|v| Via::parse(v))
            .collect::<Result<Vec<_>, _>>()?;
        if vias.is_empty() {
            return Err(ParseError::MissingHeader("Via"));
        }
        Ok(vias)
    }

    /// The topmost Via.
    pub fn top_via(&self) -> Result<Via, ParseError> {
        let first = self.first_value(&HeaderName::Via);
        Via::parse(&first.ok_or(ParseError::MissingHeader("Via"))?)
    }

    /// Contact values (absent = empty list).
    pub fn contacts(&self) -> Result<ContactList, ParseError> {
        ContactList::parse(self.get_all(&HeaderName::Contact).map(|v| v.as_ref()))
    }

    /// A list of name-addrs: Route, Record-Route, Path (absent = empty).
    pub fn name_addrs(&self, name: &HeaderName) -> Result<Vec<NameAddr>, ParseError> {
        let mut out = Vec::new();
        for v in self.get_all(name) {
            out.extend(parse_list(v, static_name(name))?);
        }
        Ok(out)
    }

    /// Route values in order.
    pub fn routes(&self) -> Result<Vec<NameAddr>, ParseError> {
        self.name_addrs(&HeaderName::Route)
    }

    /// Record-Route values in order.
    pub fn record_routes(&self) -> Result<Vec<NameAddr>, ParseError> {
        self.name_addrs(&HeaderName::RecordRoute)
    }

    /// Path values in order (RFC 3327).
    pub fn paths(&self) -> Result<Vec<NameAddr>, ParseError> {
        self.name_addrs(&HeaderName::Path)
    }

    /// Content-Length, if present (a repeated one is an error: RFC 4475 3.1.2.x mcl01).
    pub fn content_length(&self) -> Result<Option<usize>, ParseError> {
        self.optional(&HeaderName::ContentLength, parse_content_length)
    }

    /// Content-Type, if present.
    pub fn content_type(&self) -> Result<Option<MediaType>, ParseError> {
        self.optional(&HeaderName::ContentType, MediaType::parse)
    }

    /// Expires, if present.
    pub fn expires(&self) -> Result<Option<u32>, ParseError> {
        self.optional(&HeaderName::Expires, |v| parse_delta_seconds(v, "Expires"))
    }

    /// Min-Expires, if present.
    pub fn min_expires(&self) -> Result<Option<u32>, ParseError> {
        self.optional(&HeaderName::MinExpires, |v| {
            parse_delta_seconds(v, "Min-Expires")
        })
    }

    /// Retry-After, if present.
    pub fn retry_after(&self) -> Result<Option<RetryAfter>, ParseError> {
        self.optional(&HeaderName::RetryAfter, RetryAfter::parse)
    }

    /// A token list (Supported, Require, Proxy-Require, Unsupported, Allow, Allow-Events)
    /// gathered over all occurrences; absent = empty.
    pub fn tokens(&self, name: &HeaderName) -> Result<Vec<String>, ParseError> {
        parse_token_list(self.get_all(name).map(|v| v.as_ref()), static_name(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_via_branch_and_first_value_agree_with_the_parsed_via() {
        for (fields, branch) in [
            (
                &["SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2"][..],
                Some("z9hG4bK1"),
            ),
            (
                &[
                    "SIP/2.0/UDP [2001:db8::1]:5060 ; rport ; BRANCH = z9hG4bKx.y ;received=1.2.3.4",
                    "SIP/2.0/TCP c;branch=z",
                ][..],
                Some("z9hG4bKx.y"),
            ),
            (&["SIP/2.0/UDP host;rport"][..], None),
            (
                &[" SIP/2.0/UDP host:5070;branch=z9hG4bKq "][..],
                Some("z9hG4bKq"),
            ),
        ] {
            let mut h = Headers::new();
            for f in fields {
                h.push(HeaderName::Via, f.to_string());
            }
            assert_eq!(h.top_via_branch(), branch, "{fields:?}");
            let parsed = h.top_via().unwrap();
            assert_eq!(parsed.branch(), branch, "{fields:?}");
            assert_eq!(
                h.first_value(&HeaderName::Via),
                h.values(&HeaderName::Via).first().cloned()
            );
        }
        assert_eq!(Headers::new().top_via_branch(), None);
        assert_eq!(Headers::new().first_value(&HeaderName::Via), None);
    }

    #[test]
    fn rfc3261_8_1_1_missing_mandatory_header_is_reported() {
        let h = Headers::new();
        assert_eq!(h.call_id(), Err(ParseError::MissingHeader("Call-ID")));
        assert_eq!(h.vias().err(), Some(ParseError::MissingHeader("Via")));
        assert_eq!(h.content_length(), Ok(None));
        assert_eq!(h.contacts(), Ok(ContactList::Addrs(vec![])));
    }

    #[test]
    fn rfc3261_20_typed_views_on_demand() {
        let mut h = Headers::new();
        h.push(HeaderName::new("Route"), "<sip:p1;lr>, <sip:p2;lr>");
        h.push(HeaderName::new("k"), "path, 100rel");
        h.push(HeaderName::new("Expires"), "3600");
        assert_eq!(h.routes().map(|r| r.len()), Ok(2));
        assert_eq!(
            h.tokens(&HeaderName::Supported),
            Ok(vec!["path".into(), "100rel".into()])
        );
        assert_eq!(h.expires(), Ok(Some(3600)));
    }
}
