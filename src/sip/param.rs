//! Ordered `;name[=value]` parameter lists, used by URIs and by header fields.

use std::borrow::Cow;

use super::error::ParseError;
use super::syntax::{is_token, is_ws, read_quoted};

/// Parameters in wire order. Names compare case-insensitively; a parameter may have no
/// value (`;lr`, `;rport`). Values are kept in their wire form (escapes, quotes).
/// Names are kept as written; the usual ones (`tag`, `branch`, `rport`...) as static text,
/// which saves an allocation for most parameters of most messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(Cow<'static, str>, Option<String>)>);

/// Parameter names met in nearly every message, exactly as they are usually written.
const USUAL_NAMES: [&str; 12] = [
    "tag",
    "branch",
    "rport",
    "received",
    "transport",
    "lr",
    "user",
    "expires",
    "q",
    "ob",
    "maddr",
    "ttl",
];

/// The static text of `name` when it is a usual parameter name.
fn usual_name(name: &str) -> Option<&'static str> {
    USUAL_NAMES.iter().find(|n| **n == name).copied()
}

/// `name` as a parameter name: static text when it is a usual one.
fn name_text(name: &str) -> Cow<'static, str> {
    usual_name(name).map_or_else(|| Cow::Owned(name.to_owned()), Cow::Borrowed)
}

impl Params {
    /// An empty list.
    pub fn new() -> Self {
        Params(Vec::new())
    }

    /// `None` if absent, `Some(None)` if present without value, `Some(Some(v))` otherwise.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    /// The value of `name` if it is present with a value.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.get(name).flatten()
    }

    /// True if `name` is present (with or without value).
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets `name` (replacing the first occurrence in place, or appending).
    pub fn set(&mut self, name: &str, value: Option<&str>) {
        let value = value.map(str::to_owned);
        match self
            .0
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(slot) => slot.1 = value,
            None => self.0.push((name_text(name), value)),
        }
    }

    /// Removes every occurrence of `name`; returns whether one was present.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        before != self.0.len()
    }

    /// Parameters in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.0.iter().map(|(n, v)| (n.as_ref(), v.as_deref()))
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True if there is no parameter.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn push(&mut self, name: &str, value: Option<String>) {
        self.0.push((name_text(name), value));
    }

    /// [`Params::push`] for a name already made into a `String` (kept unless usual).
    pub(crate) fn push_owned(&mut self, name: String, value: Option<String>) {
        let name = usual_name(&name).map_or(Cow::Owned(name), Cow::Borrowed);
        self.0.push((name, value));
    }
}

impl Params {
    /// Appends `;name=value` for each parameter (no leading space), without `fmt`.
    pub(crate) fn write_to<W: super::syntax::PushText + ?Sized>(&self, out: &mut W) {
        for (n, v) in &self.0 {
            out.push_text(";");
            out.push_text(n);
            if let Some(v) = v {
                out.push_text("=");
                out.push_text(v);
            }
        }
    }
}

super::syntax::display_by_write_to!(Params);

/// Parses header parameters: `*( SEMI generic-param )` with optional whitespace around `;`
/// and `=` (RFC 3261 25.1 SEMI/EQUAL allow SWS). `s` must start at the first `;` (or be
/// blank). Values are a quoted string, or a run of token/host characters (which covers
/// `received=[2001:db8::1]` and `q=0.33`).
pub(crate) fn parse_header_params(s: &[u8], hdr: &'static str) -> Result<Params, ParseError> {
    let mut params = Params::new();
    let mut i = skip_ws(s, 0);
    while i < s.len() {
        if s.get(i) != Some(&b';') {
            return Err(ParseError::header(hdr, "expected ';' before a parameter"));
        }
        i = skip_ws(s, i + 1);
        let start = i;
        while s.get(i).is_some_and(|&b| super::syntax::is_token_char(b)) {
            i += 1;
        }
        let name = s.get(start..i).unwrap_or_default();
        if !is_token(name) {
            return Err(ParseError::header(hdr, "empty or invalid parameter name"));
        }
        // A token: ASCII.
        let name = std::str::from_utf8(name)
            .map_err(|_| ParseError::header(hdr, "empty or invalid parameter name"))?;
        i = skip_ws(s, i);
        let mut value = None;
        if s.get(i) == Some(&b'=') {
            i = skip_ws(s, i + 1);
            let rest = s.get(i..).unwrap_or_default();
            let len = if rest.first() == Some(&b'"') {
                read_quoted(rest)
                    .ok_or(ParseError::header(hdr, "unterminated quoted parameter"))?
                    .1
            } else {
                rest.iter()
                    .position(|&b| is_ws(b) || b == b';' || b == b',' || b == b'"')
                    .unwrap_or(rest.len())
            };
            let raw = rest.get(..len).unwrap_or_default();
            if raw.is_empty() {
                return Err(ParseError::header(hdr, "parameter has '=' but no value"));
            }
            value = Some(
                std::str::from_utf8(raw)
                    .map_err(|_| ParseError::header(hdr, "parameter is not UTF-8"))?
                    .to_owned(),
            );
            i = skip_ws(s, i + len);
        }
        params.push(name, value);
    }
    Ok(params)
}

fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while s.get(i).is_some_and(|&b| is_ws(b)) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3261_25_1_sws_around_semi_and_equal() {
        let p = parse_header_params(
            b" ; newparam = newvalue ; secondparam ; q = 0.33",
            "Contact",
        )
        .expect("params");
        assert_eq!(p.value("NEWPARAM"), Some("newvalue"));
        assert_eq!(p.get("secondparam"), Some(None));
        assert_eq!(p.value("q"), Some("0.33"));
    }

    #[test]
    fn rfc4475_3_1_2_1_empty_parameters_are_rejected() {
        assert!(parse_header_params(b";;;;", "Contact").is_err());
        assert!(parse_header_params(b";a=", "Contact").is_err());
    }

    #[test]
    fn rfc5626_quoted_parameter_value_is_kept_with_quotes() {
        let p = parse_header_params(b";+sip.instance=\"<urn:uuid:1;x>\";reg-id=1", "Contact")
            .expect("params");
        assert_eq!(p.value("+sip.instance"), Some("\"<urn:uuid:1;x>\""));
        assert_eq!(p.to_string(), ";+sip.instance=\"<urn:uuid:1;x>\";reg-id=1");
    }
}
