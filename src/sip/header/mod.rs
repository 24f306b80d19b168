//! Header fields: an ordered list of (name, raw value) pairs sharing the message buffer, and
//! typed views parsed on demand ([`via`], [`typed`]).

mod access;
mod name;
pub mod typed;
pub mod via;

use bytes::Bytes;

pub use name::HeaderName;

use super::error::ParseError;
use super::syntax::{find_top_level, split_commas, trim, trimmed_range};

/// Header fields in wire order. Values are the unfolded raw text (a slice of the received
/// buffer when the field was on one line), so unknown fields are forwarded untouched.
#[derive(Debug, Clone, Default)]
pub struct Headers(Vec<(HeaderName, Bytes)>, u64);

/// Equal when the fields are (the change counter is not part of the value).
impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for Headers {}

impl Headers {
    /// No fields.
    pub fn new() -> Self {
        Headers(Vec::new(), 0)
    }

    /// No fields, room for `n`.
    pub fn with_capacity(n: usize) -> Self {
        Headers(Vec::with_capacity(n), 0)
    }

    /// Changes so far (every mutation counts one): typed values parsed at one version are
    /// still those of the fields while the version is unchanged.
    pub(crate) fn version(&self) -> u64 {
        self.1
    }

    fn touch(&mut self) {
        self.1 = self.1.wrapping_add(1);
    }

    /// Number of header fields (a comma list counts as one).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True if there is no field.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// All fields in order.
    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &Bytes)> {
        self.0.iter().map(|(n, v)| (n, v))
    }

    /// The first value of `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&Bytes> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The value of a single-valued field: `Ok(None)` if absent, an error if repeated
    /// (RFC 4475 3.1.2.17-style duplicates such as two Call-IDs).
    pub fn get_single(&self, name: &HeaderName) -> Result<Option<&Bytes>, ParseError> {
        let mut it = self.0.iter().filter(|(n, _)| n == name).map(|(_, v)| v);
        let first = it.next();
        if it.next().is_some() {
            return Err(ParseError::DuplicateHeader(static_name(name)));
        }
        Ok(first)
    }

    /// Every occurrence of `name`, in order (each may itself be a comma list).
    pub fn get_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a Bytes> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// The elements of a list-valued field: every occurrence split at commas that are not
    /// inside quotes or `<>` (RFC 3261 7.3.1). Empty elements are kept so typed parsers can
    /// reject them. Do not use on fields whose grammar is not a comma list (e.g. Date).
    pub fn values(&self, name: &HeaderName) -> Vec<Bytes> {
        let mut out = Vec::new();
        for v in self.get_all(name) {
            for (a, b) in split_commas(v) {
                out.push(v.slice(a..b));
            }
        }
        out
    }

    /// The first element of [`Headers::values`] (the first field's value up to its first
    /// top-level comma), without splitting the rest: the top Via is read several times per
    /// message.
    pub fn first_value(&self, name: &HeaderName) -> Option<Bytes> {
        let v = self.get(name)?;
        let end = find_top_level(v, b',').unwrap_or(v.len());
        let (a, b) = trimmed_range(v, 0, end);
        Some(v.slice(a..b))
    }

    /// The `branch` parameter of the top Via, read without parsing the Via (transactions
    /// are matched on it for every response and every request sent). The value is as
    /// [`super::via::Via::branch`] gives it for a well-formed Via.
    pub fn top_via_branch(&self) -> Option<&str> {
        let v = self.get(&HeaderName::Via)?;
        let end = find_top_level(v, b',').unwrap_or(v.len());
        let element = v.get(..end)?;
        element.split(|&b| b == b';').skip(1).find_map(|param| {
            let param = trim(param);
            let eq = param.iter().position(|&b| b == b'=')?;
            let (name, value) = (trim(param.get(..eq)?), trim(param.get(eq + 1..)?));
            (name.eq_ignore_ascii_case(b"branch") && !value.is_empty())
                .then(|| std::str::from_utf8(value).ok())
                .flatten()
        })
    }

    /// Appends a field.
    pub fn push(&mut self, name: HeaderName, value: impl Into<Bytes>) {
        self.touch();
        self.0.push((name, value.into()));
    }

    /// Appends Content-Type (with a body) and Content-Length for the body of a message
    /// being built, given with its type; returns the body.
    pub fn push_body(&mut self, body: Option<(Bytes, &Bytes)>) -> Bytes {
        match body {
            Some((content_type, b)) => {
                self.push(HeaderName::ContentType, content_type);
                let mut len = String::with_capacity(8);
                crate::sip::push_decimal(&mut len, b.len() as u64);
                self.push(HeaderName::ContentLength, len.into_bytes());
                b.clone()
            }
            None => {
                self.push(HeaderName::ContentLength, Bytes::from_static(b"0"));
                Bytes::new()
            }
        }
    }

    /// Inserts a field before all others (e.g. a proxy's own Via).
    pub fn push_front(&mut self, name: HeaderName, value: impl Into<Bytes>) {
        self.touch();
        self.0.insert(0, (name, value.into()));
    }

    /// Replaces the value of the first field named `name` (appends one if there is none),
    /// leaving later fields of that name alone (e.g. rewriting the top Via).
    pub fn replace_first(&mut self, name: HeaderName, value: impl Into<Bytes>) {
        self.touch();
        let value = value.into();
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(field) => field.1 = value,
            None => self.0.push((name, value)),
        }
    }

    /// Removes every occurrence of `name`; returns how many were removed.
    pub fn remove(&mut self, name: &HeaderName) -> usize {
        self.touch();
        let before = self.0.len();
        self.0.retain(|(n, _)| n != name);
        before - self.0.len()
    }

    /// Removes the first occurrence of `name` and returns its value (e.g. popping a Route).
    pub fn remove_first(&mut self, name: &HeaderName) -> Option<Bytes> {
        self.touch();
        let pos = self.0.iter().position(|(n, _)| n == name)?;
        Some(self.0.remove(pos).1)
    }

    /// Replaces all occurrences of `name` by one field at the position of the first (or at
    /// the end if absent).
    pub fn replace(&mut self, name: HeaderName, value: impl Into<Bytes>) {
        self.touch();
        let value = value.into();
        match self.0.iter().position(|(n, _)| *n == name) {
            Some(pos) => {
                let mut i = 0;
                self.0.retain(|(n, _)| {
                    let keep = i <= pos || *n != name;
                    i += 1;
                    keep
                });
                if let Some(slot) = self.0.get_mut(pos) {
                    slot.1 = value;
                }
            }
            None => self.0.push((name, value)),
        }
    }
}

/// A `'static` name for error messages.
pub(crate) fn static_name(name: &HeaderName) -> &'static str {
    name.static_name()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Headers {
        let mut h = Headers::new();
        h.push(
            HeaderName::Via,
            "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b",
        );
        h.push(HeaderName::new("X-Foo"), "1");
        h.push(HeaderName::Via, "SIP/2.0/TCP c");
        h
    }

    #[test]
    fn rfc3261_7_3_1_values_split_comma_lists_across_occurrences() {
        let vias = sample().values(&HeaderName::Via);
        assert_eq!(vias.len(), 3);
        assert_eq!(&vias[2][..], b"SIP/2.0/TCP c");
    }

    #[test]
    fn rfc3261_7_3_1_order_of_same_name_fields_is_kept() {
        let mut h = sample();
        h.push_front(HeaderName::Via, "SIP/2.0/UDP new");
        assert_eq!(
            h.get(&HeaderName::Via).map(|v| &v[..]),
            Some(&b"SIP/2.0/UDP new"[..])
        );
        assert_eq!(
            h.remove_first(&HeaderName::Via).as_deref(),
            Some(&b"SIP/2.0/UDP new"[..])
        );
    }

    #[test]
    fn replace_keeps_position_and_drops_duplicates() {
        let mut h = sample();
        h.replace(HeaderName::Via, "SIP/2.0/UDP only");
        assert_eq!(h.len(), 2);
        assert_eq!(
            h.iter().next().map(|(n, _)| n.clone()),
            Some(HeaderName::Via)
        );
        assert_eq!(h.remove(&HeaderName::new("x-foo")), 1);
    }

    #[test]
    fn rfc3261_7_3_single_valued_field_repeated_is_an_error() {
        let mut h = Headers::new();
        h.push(HeaderName::CallId, "a");
        assert!(h.get_single(&HeaderName::CallId).is_ok());
        h.push(HeaderName::CallId, "b");
        assert!(h.get_single(&HeaderName::CallId).is_err());
    }
}
