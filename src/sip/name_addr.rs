//! `name-addr` / `addr-spec` values with header parameters (RFC 3261 20.10, 25.1): From,
//! To, Contact, Route, Record-Route, Path, Refer-To, Referred-By.

use std::fmt;

use super::error::ParseError;
use super::param::{Params, parse_header_params};
use super::syntax::{is_token_char, is_ws, read_quoted, split_commas, trim, write_quoted};
use super::uri::Uri;

/// A URI with an optional display name and header parameters (`;tag=`, `;expires=`...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// The display name, unquoted (quoted-pairs resolved).
    pub display: Option<String>,
    /// The address.
    pub uri: Uri,
    /// Header parameters after the address.
    pub params: Params,
}

/// A Contact header value: `*` (remove all bindings, RFC 3261 10.2.2) or addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactList {
    /// `Contact: *`.
    Star,
    /// Zero or more addresses, in order.
    Addrs(Vec<NameAddr>),
}

impl NameAddr {
    /// A bare address without display name or parameters.
    pub fn new(uri: Uri) -> Self {
        NameAddr {
            display: None,
            uri,
            params: Params::new(),
        }
    }

    /// Parses one value. `hdr` names the header for error messages.
    pub fn parse(value: &[u8], hdr: &'static str) -> Result<NameAddr, ParseError> {
        let s = trim(value);
        let (display, after_display) = if s.first() == Some(&b'"') {
            let (text, used) = read_quoted(s)
                .ok_or(ParseError::header(hdr, "unterminated quoted display name"))?;
            let text = String::from_utf8(text)
                .map_err(|_| ParseError::header(hdr, "display name is not UTF-8"))?;
            let rest = trim_start(s.get(used..).unwrap_or_default());
            if rest.first() != Some(&b'<') {
                return Err(ParseError::header(hdr, "display name not followed by '<'"));
            }
            (Some(text), rest)
        } else if let Some(lt) = s.iter().position(|&b| b == b'<') {
            // `*(token LWS) <`: a display name of tokens, possibly glued to '<' (RFC 4475
            // 3.1.1.6 lwsdisp). A ',' or '"' here is an error (3.1.2.15 baddn).
            let prefix = trim(s.get(..lt).unwrap_or_default());
            if !prefix.iter().all(|&b| is_token_char(b) || is_ws(b)) {
                // Could still be an addr-spec whose parameters contain '<' in quotes.
                return parse_addr_spec(s, hdr);
            }
            let display = (!prefix.is_empty()).then(|| super::owned_text(prefix));
            (display, s.get(lt..).unwrap_or_default())
        } else {
            return parse_addr_spec(s, hdr);
        };
        // after_display starts with '<'. LAQUOT/RAQUOT bind tightly: no space inside.
        let inner_end = after_display
            .iter()
            .position(|&b| b == b'>')
            .ok_or(ParseError::header(hdr, "missing '>'"))?;
        let inner = after_display.get(1..inner_end).unwrap_or_default();
        let uri =
            Uri::parse(inner).map_err(|_| ParseError::header(hdr, "invalid URI inside <>"))?;
        let params =
            parse_header_params(after_display.get(inner_end + 1..).unwrap_or_default(), hdr)?;
        Ok(NameAddr {
            display,
            uri,
            params,
        })
    }

    /// The `tag` parameter.
    pub fn tag(&self) -> Option<&str> {
        self.params.value("tag")
    }
}

/// The `tag` parameter of a From or To value, read without parsing the address (the
/// distributor picks a queue by it for every request it receives). For a well-formed
/// value it is what [`NameAddr::parse`] then [`NameAddr::tag`] give.
pub fn tag_param(value: &[u8]) -> Option<&str> {
    let s = trim(value);
    // Past a quoted display name, whose text may hold anything.
    let mut from = 0;
    if s.first() == Some(&b'"') {
        let mut escaped = false;
        let close = s.iter().skip(1).position(|&b| {
            let end = b == b'"' && !escaped;
            escaped = b == b'\\' && !escaped;
            end
        })?;
        from = close + 2;
    }
    let rest = s.get(from..)?;
    // name-addr: the parameters follow '>'; addr-spec: they start at the first ';'.
    let params = match rest.iter().position(|&b| b == b'<') {
        Some(lt) => {
            let gt = lt + rest.get(lt..)?.iter().position(|&b| b == b'>')?;
            rest.get(gt + 1..)?
        }
        None => rest.get(rest.iter().position(|&b| b == b';')?..)?,
    };
    params.split(|&b| b == b';').skip(1).find_map(|param| {
        let eq = param.iter().position(|&b| b == b'=')?;
        let (name, value) = (trim(param.get(..eq)?), trim(param.get(eq + 1..)?));
        (name.eq_ignore_ascii_case(b"tag") && !value.is_empty())
            .then(|| std::str::from_utf8(value).ok())
            .flatten()
    })
}

/// addr-spec form: the URI ends at the first ';', and may not contain ',', '?' or ';'
/// itself (RFC 3261 20.10), which is what makes RFC 4475 3.1.2.13 regbadct invalid.
fn parse_addr_spec(s: &[u8], hdr: &'static str) -> Result<NameAddr, ParseError> {
    let end = s.iter().position(|&b| b == b';').unwrap_or(s.len());
    let uri_text = trim(s.get(..end).unwrap_or_default());
    if uri_text.iter().any(|&b| b == b'?' || b == b',' || is_ws(b)) {
        return Err(ParseError::header(
            hdr,
            "URI with '?', ',' or spaces must be enclosed in <>",
        ));
    }
    let uri = Uri::parse(uri_text).map_err(|_| ParseError::header(hdr, "invalid URI"))?;
    let params = parse_header_params(s.get(end..).unwrap_or_default(), hdr)?;
    Ok(NameAddr {
        display: None,
        uri,
        params,
    })
}

fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| is_ws(b)).count();
    s.get(n..).unwrap_or_default()
}

impl fmt::Display for NameAddr {
    /// Always writes the `<uri>` form, which is valid for every URI.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            let mut q = String::new();
            write_quoted(&mut q, d);
            write!(f, "{q} ")?;
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

/// Parses a comma list of name-addrs (one header occurrence).
pub(crate) fn parse_list(value: &[u8], hdr: &'static str) -> Result<Vec<NameAddr>, ParseError> {
    split_commas(value)
        .into_iter()
        .map(|(a, b)| NameAddr::parse(value.get(a..b).unwrap_or_default(), hdr))
        .collect()
}

impl ContactList {
    /// Parses the values of all Contact header occurrences. `*` must stand alone.
    pub fn parse<'a>(
        values: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<ContactList, ParseError> {
        let mut addrs = Vec::new();
        let mut star = false;
        for v in values {
            if trim(v) == b"*" {
                star = true;
            } else {
                addrs.extend(parse_list(v, "Contact")?);
            }
        }
        match (star, addrs.is_empty()) {
            (true, true) => Ok(ContactList::Star),
            (true, false) => Err(ParseError::header("Contact", "'*' mixed with addresses")),
            (false, _) => Ok(ContactList::Addrs(addrs)),
        }
    }

    /// The addresses (none for `*`).
    pub fn addrs(&self) -> &[NameAddr] {
        match self {
            ContactList::Star => &[],
            ContactList::Addrs(a) => a,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_param_reads_the_tag_as_the_parsed_address_has_it() {
        for value in [
            "<sip:a@b>;tag=abc",
            "\"Bob\" <sip:bob@example.com;tag=uri-param>;tag=hdr",
            "\"a;tag=x <y>\" <sip:a@b> ; TAG = spaced ;other",
            "\"quote \\\" <inside>\"<sip:a@b>;x=1;tag=after",
            "sip:alice@example.com;tag=1928301774",
            "sip:alice@example.com;transport=udp",
            "Alice <sip:alice@example.com>",
            "<sip:a@b>;tag",
            "  <sip:a@b;lr>;tag=z9;tag=second  ",
        ] {
            let parsed = NameAddr::parse(value.as_bytes(), "From").expect(value);
            assert_eq!(tag_param(value.as_bytes()), parsed.tag(), "{value}");
        }
        // Not well-formed: no tag rather than a guess.
        assert_eq!(tag_param(b"\"unterminated <sip:a@b>;tag=x"), None);
        assert_eq!(tag_param(b"<sip:a@b;tag=x"), None);
        assert_eq!(tag_param(b"<sip:a@b>;tag="), None);
    }

    fn na(s: &str) -> Result<NameAddr, ParseError> {
        NameAddr::parse(s.as_bytes(), "To")
    }

    #[test]
    fn rfc3261_20_10_addr_spec_params_belong_to_the_header() {
        let a = na("sip:caller@example.net;tag=134161461246").expect("addr-spec");
        assert_eq!(a.tag(), Some("134161461246"));
        assert!(a.uri.as_sip().is_some_and(|u| u.params.is_empty()));
    }

    #[test]
    fn rfc4475_3_1_1_1_escaped_quote_in_display_name() {
        let a = na("\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com> ; tag = 98asjd8")
            .expect("wsinv");
        assert_eq!(a.display.as_deref(), Some("J Rosenberg \\\""));
        assert_eq!(a.tag(), Some("98asjd8"));
    }

    #[test]
    fn rfc4475_3_1_1_6_token_display_name_without_space() {
        let a = na("caller<sip:caller@example.com>;tag=323").expect("lwsdisp");
        assert_eq!(a.display.as_deref(), Some("caller"));
    }

    #[test]
    fn rfc4475_3_1_2_6_unterminated_quote_is_rejected() {
        assert!(na("\"Mr. J. User <sip:j.user@example.com>").is_err());
    }

    #[test]
    fn rfc4475_3_1_2_11_spaces_inside_angle_brackets_are_rejected() {
        assert!(na("\"Watson, Thomas\" < sip:t.watson@example.org >").is_err());
    }

    #[test]
    fn rfc4475_3_1_2_13_addr_spec_with_headers_needs_angle_brackets() {
        assert!(na("sip:user@example.com?Route=%3Csip:sip.example.com%3E").is_err());
        assert!(na("<sip:user@example.com?Route=%3Csip:sip.example.com%3E>").is_ok());
    }

    #[test]
    fn rfc4475_3_1_2_15_comma_in_unquoted_display_name_is_rejected() {
        assert!(na("Bell, Alexander <sip:a.g.bell@example.com>;tag=43").is_err());
    }

    #[test]
    fn rfc3261_10_2_2_contact_star() {
        assert_eq!(ContactList::parse([&b" * "[..]]), Ok(ContactList::Star));
        assert!(ContactList::parse([&b"*"[..], &b"<sip:a@b>"[..]]).is_err());
        let l = ContactList::parse([&b"<sip:a@b>;q=0.5, \"x,y\" <sip:c@[2001:db8::1]>"[..]])
            .expect("list");
        assert_eq!(l.addrs().len(), 2);
    }

    #[test]
    fn rfc3261_25_1_display_prints_quoted_and_reparses() {
        let a = na("token1~` token2 <sip:a@b>;tag=1").expect("tokens");
        let again = na(&a.to_string()).expect("reparse");
        assert_eq!(a, again);
    }
}
