//! The `Digest` auth-param syntax of `WWW-Authenticate`, `Proxy-Authenticate`,
//! `Authorization` and `Proxy-Authorization` header values (RFC 3261 section 25.1,
//! RFC 7616 section 3.3-3.4).
//!
//! The message layer hands over the header *value* (`Digest realm="x", nonce="y"`); this
//! module parses it into [`DigestChallenge`] or [`DigestCredentials`] and writes the
//! canonical form back with `Display`. SIP allows one challenge per header, so one value
//! holds exactly one challenge or credentials.
//!
//! Parsing is lenient where it costs nothing (case-insensitive names, extra whitespace,
//! empty list elements, unknown parameters ignored, quoted or unquoted values for every
//! parameter) and strict where ambiguity could hurt (duplicate parameters, unterminated
//! quotes, control characters, malformed `nc`). It never panics and is linear in the
//! input length.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use super::error::ParamsError;
use crate::config::types::DigestAlgorithm;

/// Most parameters accepted in one header value.
pub const MAX_PARAMS: usize = 64;

/// The `algorithm` parameter: one of ours, or a name we do not implement (kept so that a
/// client can skip it and a server can refuse it).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// MD5, SHA-256 or SHA-512-256.
    Known(DigestAlgorithm),
    /// Any other name (`MD5-sess`, `AKAv1-MD5`, ...), as received.
    Other(String),
}

impl Algorithm {
    /// Parses an algorithm name, case-insensitively.
    pub fn from_name(name: &str) -> Self {
        [
            DigestAlgorithm::Md5,
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Sha512_256,
        ]
        .into_iter()
        .find(|a| a.iana_name().eq_ignore_ascii_case(name))
        .map_or_else(|| Self::Other(name.to_string()), Self::Known)
    }

    /// The algorithm if we implement it.
    pub fn known(&self) -> Option<DigestAlgorithm> {
        match self {
            Self::Known(a) => Some(*a),
            Self::Other(_) => None,
        }
    }

    /// The name as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Known(a) => a.iana_name(),
            Self::Other(s) => s,
        }
    }
}

impl From<DigestAlgorithm> for Algorithm {
    fn from(a: DigestAlgorithm) -> Self {
        Self::Known(a)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_token_or_quoted(f, self.as_str())
    }
}

/// A quality of protection value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Qop {
    /// `auth`: the only one we offer and answer.
    Auth,
    /// `auth-int` (not offered; a client never picks it).
    AuthInt,
    /// Anything else, as received.
    Other(String),
}

impl Qop {
    /// Parses a qop value, case-insensitively.
    pub fn from_name(name: &str) -> Self {
        if name.eq_ignore_ascii_case("auth") {
            Self::Auth
        } else if name.eq_ignore_ascii_case("auth-int") {
            Self::AuthInt
        } else {
            Self::Other(name.to_string())
        }
    }

    /// The value as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Auth => "auth",
            Self::AuthInt => "auth-int",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for Qop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_token_or_quoted(f, self.as_str())
    }
}

/// One `Digest` challenge (the value of a `WWW-Authenticate` or `Proxy-Authenticate`
/// header).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DigestChallenge {
    /// Protection space.
    pub realm: String,
    /// Server nonce.
    pub nonce: String,
    /// Opaque value to echo back.
    pub opaque: Option<String>,
    /// The previous nonce was too old but the credentials were right.
    pub stale: bool,
    /// Algorithm; `None` means MD5 (RFC 2617) and is written as absent.
    pub algorithm: Option<Algorithm>,
    /// Offered qop values (`qop="auth,auth-int"`); empty = RFC 2069 style.
    pub qop: Vec<Qop>,
    /// `domain` URIs (space-separated on the wire).
    pub domain: Vec<String>,
}

impl DigestChallenge {
    /// The effective algorithm (absent = MD5).
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
            .clone()
            .unwrap_or(Algorithm::Known(DigestAlgorithm::Md5))
    }

    /// Whether `qop=auth` is offered.
    pub fn offers_qop_auth(&self) -> bool {
        self.qop.contains(&Qop::Auth)
    }
}

impl FromStr for DigestChallenge {
    type Err = ParamsError;

    fn from_str(s: &str) -> Result<Self, ParamsError> {
        let mut c = DigestChallenge::default();
        let (mut realm, mut nonce) = (None, None);
        for (name, value) in parse_params(s)? {
            match name.as_str() {
                "realm" => realm = Some(value),
                "nonce" => nonce = Some(value),
                "opaque" => c.opaque = Some(value),
                "stale" => c.stale = parse_bool("stale", &value)?,
                "algorithm" => c.algorithm = Some(parse_algorithm(&value)?),
                "qop" => {
                    c.qop = value
                        .split(',')
                        .map(|q| q.trim_matches(is_ws))
                        .filter(|q| !q.is_empty())
                        .map(Qop::from_name)
                        .collect();
                }
                "domain" => c.domain = value.split_whitespace().map(str::to_string).collect(),
                _ => {}
            }
        }
        c.realm = realm.ok_or(ParamsError::Missing("realm"))?;
        c.nonce = nonce.ok_or(ParamsError::Missing("nonce"))?;
        Ok(c)
    }
}

impl fmt::Display for DigestChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Digest realm=")?;
        write_quoted(f, &self.realm)?;
        if !self.domain.is_empty() {
            f.write_str(", domain=")?;
            write_quoted(f, &self.domain.join(" "))?;
        }
        f.write_str(", nonce=")?;
        write_quoted(f, &self.nonce)?;
        if let Some(o) = &self.opaque {
            f.write_str(", opaque=")?;
            write_quoted(f, o)?;
        }
        if self.stale {
            f.write_str(", stale=true")?;
        }
        if let Some(a) = &self.algorithm {
            write!(f, ", algorithm={a}")?;
        }
        if !self.qop.is_empty() {
            let list: Vec<&str> = self.qop.iter().map(Qop::as_str).collect();
            f.write_str(", qop=")?;
            write_quoted(f, &list.join(","))?;
        }
        Ok(())
    }
}

/// One `Digest` credentials (the value of an `Authorization` or `Proxy-Authorization`
/// header).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DigestCredentials {
    /// User name (or H(username:realm) when `userhash` is true).
    pub username: String,
    /// Realm of the challenge answered.
    pub realm: String,
    /// Server nonce answered.
    pub nonce: String,
    /// The digest-uri (the Request-URI).
    pub uri: String,
    /// Hex response digest.
    pub response: String,
    /// Algorithm; `None` means MD5 and is written as absent.
    pub algorithm: Option<Algorithm>,
    /// Client nonce (with qop).
    pub cnonce: Option<String>,
    /// Opaque echoed from the challenge.
    pub opaque: Option<String>,
    /// Chosen qop; `None` = RFC 2069 response.
    pub qop: Option<Qop>,
    /// Nonce count (8 hex digits on the wire).
    pub nc: Option<u32>,
    /// The username is hashed (RFC 7616 section 3.4.4).
    pub userhash: bool,
}

impl DigestCredentials {
    /// The effective algorithm (absent = MD5).
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
            .clone()
            .unwrap_or(Algorithm::Known(DigestAlgorithm::Md5))
    }
}

impl FromStr for DigestCredentials {
    type Err = ParamsError;

    fn from_str(s: &str) -> Result<Self, ParamsError> {
        let mut c = DigestCredentials::default();
        let mut required: [Option<String>; 5] = Default::default();
        for (name, value) in parse_params(s)? {
            match name.as_str() {
                "username" => required[0] = Some(value),
                "realm" => required[1] = Some(value),
                "nonce" => required[2] = Some(value),
                "uri" => required[3] = Some(value),
                "response" => required[4] = Some(value),
                "algorithm" => c.algorithm = Some(parse_algorithm(&value)?),
                "cnonce" => c.cnonce = Some(value),
                "opaque" => c.opaque = Some(value),
                "qop" => {
                    let q = value.trim_matches(is_ws);
                    if q.is_empty() {
                        return Err(ParamsError::BadValue {
                            name: "qop",
                            reason: "empty",
                        });
                    }
                    c.qop = Some(Qop::from_name(q));
                }
                "nc" => c.nc = Some(parse_nc(&value)?),
                "userhash" => c.userhash = parse_bool("userhash", &value)?,
                _ => {}
            }
        }
        let [username, realm, nonce, uri, response] = required;
        c.username = username.ok_or(ParamsError::Missing("username"))?;
        c.realm = realm.ok_or(ParamsError::Missing("realm"))?;
        c.nonce = nonce.ok_or(ParamsError::Missing("nonce"))?;
        c.uri = uri.ok_or(ParamsError::Missing("uri"))?;
        c.response = response.ok_or(ParamsError::Missing("response"))?;
        Ok(c)
    }
}

impl fmt::Display for DigestCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Digest username=")?;
        write_quoted(f, &self.username)?;
        f.write_str(", realm=")?;
        write_quoted(f, &self.realm)?;
        f.write_str(", nonce=")?;
        write_quoted(f, &self.nonce)?;
        f.write_str(", uri=")?;
        write_quoted(f, &self.uri)?;
        f.write_str(", response=")?;
        write_quoted(f, &self.response)?;
        if let Some(a) = &self.algorithm {
            write!(f, ", algorithm={a}")?;
        }
        if let Some(c) = &self.cnonce {
            f.write_str(", cnonce=")?;
            write_quoted(f, c)?;
        }
        if let Some(o) = &self.opaque {
            f.write_str(", opaque=")?;
            write_quoted(f, o)?;
        }
        if let Some(q) = &self.qop {
            write!(f, ", qop={q}")?;
        }
        if let Some(nc) = self.nc {
            write!(f, ", nc={nc:08x}")?;
        }
        if self.userhash {
            f.write_str(", userhash=true")?;
        }
        Ok(())
    }
}

fn parse_algorithm(value: &str) -> Result<Algorithm, ParamsError> {
    let v = value.trim_matches(is_ws);
    if v.is_empty() {
        return Err(ParamsError::BadValue {
            name: "algorithm",
            reason: "empty",
        });
    }
    Ok(Algorithm::from_name(v))
}

fn parse_bool(name: &'static str, value: &str) -> Result<bool, ParamsError> {
    let v = value.trim_matches(is_ws);
    if v.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(ParamsError::BadValue {
            name,
            reason: "expected true or false",
        })
    }
}

fn parse_nc(value: &str) -> Result<u32, ParamsError> {
    let bad = ParamsError::BadValue {
        name: "nc",
        reason: "expected 8 hex digits",
    };
    if value.len() != 8 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad);
    }
    u32::from_str_radix(value, 16).map_err(|_| bad)
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_ws_byte(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// RFC 3261 `token` characters.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

/// Characters accepted in an unquoted value: visible ASCII except `,` and `"` (more than
/// `token`, so that unquoted base64 nonces from sloppy peers still parse).
fn is_bare_value_byte(b: u8) -> bool {
    b.is_ascii_graphic() && b != b',' && b != b'"'
}

/// Splits `Digest name=value, ...` into lower-cased names and unquoted values, in order.
fn parse_params(input: &str) -> Result<Vec<(String, String)>, ParamsError> {
    let bytes = input.as_bytes();
    let mut i = 0;
    while i < bytes.len() && is_ws_byte(bytes[i]) {
        i += 1;
    }
    let scheme_start = i;
    while i < bytes.len() && is_token_byte(bytes[i]) {
        i += 1;
    }
    if !input[scheme_start..i].eq_ignore_ascii_case("Digest") {
        return Err(ParamsError::NotDigest);
    }
    if i < bytes.len() && !is_ws_byte(bytes[i]) {
        return Err(ParamsError::NotDigest);
    }

    let mut params: Vec<(String, String)> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    loop {
        // Separators: whitespace and (empty) list elements.
        while i < bytes.len() && (is_ws_byte(bytes[i]) || bytes[i] == b',') {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        if params.len() >= MAX_PARAMS {
            return Err(ParamsError::TooManyParams);
        }
        let name_start = i;
        while i < bytes.len() && is_token_byte(bytes[i]) {
            i += 1;
        }
        if i == name_start {
            return Err(ParamsError::Syntax {
                at: i,
                what: "expected a parameter name",
            });
        }
        let name = input[name_start..i].to_ascii_lowercase();
        while i < bytes.len() && is_ws_byte(bytes[i]) {
            i += 1;
        }
        if bytes.get(i) != Some(&b'=') {
            return Err(ParamsError::Syntax {
                at: i,
                what: "expected '='",
            });
        }
        i += 1;
        while i < bytes.len() && is_ws_byte(bytes[i]) {
            i += 1;
        }
        let value = if bytes.get(i) == Some(&b'"') {
            let (v, next) = parse_quoted(bytes, i)?;
            i = next;
            v
        } else {
            let start = i;
            while i < bytes.len() && is_bare_value_byte(bytes[i]) {
                i += 1;
            }
            if i == start {
                return Err(ParamsError::Syntax {
                    at: i,
                    what: "expected a value",
                });
            }
            input[start..i].to_string()
        };
        while i < bytes.len() && is_ws_byte(bytes[i]) {
            i += 1;
        }
        if i < bytes.len() && bytes[i] != b',' {
            return Err(ParamsError::Syntax {
                at: i,
                what: "expected ',' between parameters",
            });
        }
        if !seen.insert(name.clone()) {
            return Err(ParamsError::Duplicate(name));
        }
        params.push((name, value));
    }
    if params.is_empty() {
        return Err(ParamsError::Empty);
    }
    Ok(params)
}

/// Parses a quoted-string starting at the opening quote `bytes[start]`; returns the
/// unescaped content and the index after the closing quote.
fn parse_quoted(bytes: &[u8], start: usize) -> Result<(String, usize), ParamsError> {
    let mut out = Vec::new();
    let mut i = start + 1;
    loop {
        let Some(&b) = bytes.get(i) else {
            return Err(ParamsError::Syntax {
                at: i,
                what: "unterminated quoted string",
            });
        };
        match b {
            b'"' => break,
            b'\\' => {
                let Some(&e) = bytes.get(i + 1) else {
                    return Err(ParamsError::Syntax {
                        at: i,
                        what: "unterminated quoted string",
                    });
                };
                if is_forbidden_control(e) {
                    return Err(ParamsError::Syntax {
                        at: i + 1,
                        what: "control character after '\\'",
                    });
                }
                out.push(e);
                i += 2;
            }
            _ if is_forbidden_control(b) => {
                return Err(ParamsError::Syntax {
                    at: i,
                    what: "control character in quoted string",
                });
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    // Only ASCII bytes were dropped, so the content stays valid UTF-8; check anyway.
    let s = String::from_utf8(out).map_err(|_| ParamsError::Syntax {
        at: start,
        what: "invalid UTF-8",
    })?;
    Ok((s, i + 1))
}

/// Control characters other than horizontal tab.
fn is_forbidden_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// Writes a quoted-string, escaping `"` and `\`. Control characters other than tab
/// cannot be represented and are dropped (this also prevents header injection).
fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    use fmt::Write as _;
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                f.write_char('\\')?;
                f.write_char(c)?;
            }
            c if c.is_ascii() && is_forbidden_control(c as u8) => {}
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

fn write_token_or_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    if !s.is_empty() && s.bytes().all(is_token_byte) {
        f.write_str(s)
    } else {
        write_quoted(f, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC2617_CHALLENGE: &str = "Digest realm=\"testrealm@host.com\", \
         qop=\"auth,auth-int\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
         opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";

    const RFC2617_CREDENTIALS: &str = "Digest username=\"Mufasa\", \
         realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
         uri=\"/dir/index.html\", qop=auth, nc=00000001, cnonce=\"0a4f113b\", \
         response=\"6629fae49393a05397450978507c4ef1\", \
         opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";

    #[test]
    fn challenge_rfc2617_example_parses() {
        let c: DigestChallenge = RFC2617_CHALLENGE.parse().unwrap();
        assert_eq!(c.realm, "testrealm@host.com");
        assert_eq!(c.nonce, "dcd98b7102dd2f0e8b11d0f600bfb0c093");
        assert_eq!(
            c.opaque.as_deref(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
        assert_eq!(c.qop, vec![Qop::Auth, Qop::AuthInt]);
        assert_eq!(c.algorithm, None);
        assert_eq!(c.algorithm(), Algorithm::Known(DigestAlgorithm::Md5));
        assert!(!c.stale);
    }

    #[test]
    fn credentials_rfc2617_example_parses() {
        let c: DigestCredentials = RFC2617_CREDENTIALS.parse().unwrap();
        assert_eq!(c.username, "Mufasa");
        assert_eq!(c.uri, "/dir/index.html");
        assert_eq!(c.qop, Some(Qop::Auth));
        assert_eq!(c.nc, Some(1));
        assert_eq!(c.cnonce.as_deref(), Some("0a4f113b"));
        assert_eq!(c.response, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn names_and_scheme_are_case_insensitive() {
        let c: DigestChallenge = "dIGEST REALM=\"a\", NoNcE=\"n\", Algorithm=sha-256, STALE=TRUE"
            .parse()
            .unwrap();
        assert_eq!(c.realm, "a");
        assert_eq!(c.algorithm, Some(Algorithm::Known(DigestAlgorithm::Sha256)));
        assert!(c.stale);
    }

    #[test]
    fn extra_whitespace_and_empty_elements_are_tolerated() {
        let c: DigestChallenge = "  Digest \t realm = \"a\" ,, \r\n nonce=\"n\" ,  "
            .parse()
            .unwrap();
        assert_eq!((c.realm.as_str(), c.nonce.as_str()), ("a", "n"));
    }

    #[test]
    fn unknown_params_are_ignored() {
        let c: DigestChallenge = "Digest realm=\"a\", charset=UTF-8, userhash=true, nonce=\"n\""
            .parse()
            .unwrap();
        assert_eq!(c.nonce, "n");
    }

    #[test]
    fn quoted_pair_escapes_are_unescaped() {
        let c: DigestChallenge = r#"Digest realm="a \"b\" \\c", nonce="n""#.parse().unwrap();
        assert_eq!(c.realm, r#"a "b" \c"#);
    }

    #[test]
    fn display_escapes_quotes_and_backslashes() {
        let c = DigestChallenge {
            realm: r#"a"b\c"#.into(),
            nonce: "n".into(),
            ..Default::default()
        };
        assert_eq!(c.to_string(), r#"Digest realm="a\"b\\c", nonce="n""#);
    }

    #[test]
    fn display_drops_crlf_to_prevent_header_injection() {
        let c = DigestChallenge {
            realm: "a\r\nVia: evil".into(),
            nonce: "n".into(),
            ..Default::default()
        };
        assert!(!c.to_string().contains('\n'));
    }

    #[test]
    fn duplicate_parameter_is_rejected() {
        let e = "Digest realm=\"a\", nonce=\"n\", Realm=\"b\""
            .parse::<DigestChallenge>()
            .unwrap_err();
        assert_eq!(e, ParamsError::Duplicate("realm".into()));
    }

    #[test]
    fn other_scheme_is_not_digest() {
        assert_eq!(
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==".parse::<DigestChallenge>(),
            Err(ParamsError::NotDigest)
        );
        assert_eq!(
            "Digestrealm=\"a\"".parse::<DigestChallenge>(),
            Err(ParamsError::NotDigest)
        );
    }

    #[test]
    fn scheme_without_params_is_rejected() {
        assert_eq!(
            "Digest  ".parse::<DigestChallenge>(),
            Err(ParamsError::Empty)
        );
    }

    #[test]
    fn unterminated_quote_is_rejected() {
        assert!(matches!(
            "Digest realm=\"a, nonce=\"n".parse::<DigestChallenge>(),
            Err(ParamsError::Syntax { .. })
        ));
        assert!(matches!(
            "Digest realm=\"a\\".parse::<DigestChallenge>(),
            Err(ParamsError::Syntax { .. })
        ));
    }

    #[test]
    fn missing_comma_is_rejected() {
        assert!(matches!(
            "Digest realm=\"a\" nonce=\"n\"".parse::<DigestChallenge>(),
            Err(ParamsError::Syntax { .. })
        ));
    }

    #[test]
    fn missing_equals_or_value_is_rejected() {
        for s in [
            "Digest realm",
            "Digest realm=",
            "Digest realm=,nonce=\"n\"",
            "Digest =\"a\"",
        ] {
            assert!(
                matches!(
                    s.parse::<DigestChallenge>(),
                    Err(ParamsError::Syntax { .. })
                ),
                "{s}"
            );
        }
    }

    #[test]
    fn control_character_in_quoted_string_is_rejected() {
        assert!(matches!(
            "Digest realm=\"a\r\nb\", nonce=\"n\"".parse::<DigestChallenge>(),
            Err(ParamsError::Syntax { .. })
        ));
    }

    #[test]
    fn challenge_requires_realm_and_nonce() {
        assert_eq!(
            "Digest nonce=\"n\"".parse::<DigestChallenge>(),
            Err(ParamsError::Missing("realm"))
        );
        assert_eq!(
            "Digest realm=\"r\"".parse::<DigestChallenge>(),
            Err(ParamsError::Missing("nonce"))
        );
    }

    #[test]
    fn credentials_require_response() {
        let s = "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:a\"";
        assert_eq!(
            s.parse::<DigestCredentials>(),
            Err(ParamsError::Missing("response"))
        );
    }

    #[test]
    fn nc_must_be_eight_hex_digits() {
        let base = "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:a\", response=\"x\"";
        for nc in ["1", "0000001", "000000001", "0000000g", "+0000001"] {
            let s = format!("{base}, nc={nc}");
            assert!(
                matches!(
                    s.parse::<DigestCredentials>(),
                    Err(ParamsError::BadValue { name: "nc", .. })
                ),
                "{nc}"
            );
        }
        let ok: DigestCredentials = format!("{base}, nc=0000001A").parse().unwrap();
        assert_eq!(ok.nc, Some(0x1a));
    }

    #[test]
    fn stale_must_be_boolean() {
        assert!(matches!(
            "Digest realm=\"r\", nonce=\"n\", stale=maybe".parse::<DigestChallenge>(),
            Err(ParamsError::BadValue { name: "stale", .. })
        ));
    }

    #[test]
    fn unknown_algorithm_is_kept() {
        let c: DigestChallenge = "Digest realm=\"r\", nonce=\"n\", algorithm=MD5-sess"
            .parse()
            .unwrap();
        assert_eq!(c.algorithm, Some(Algorithm::Other("MD5-sess".into())));
        assert_eq!(c.algorithm().known(), None);
    }

    #[test]
    fn quoted_token_values_are_accepted() {
        let s = "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:a\", \
                 response=\"x\", qop=\"auth\", nc=\"00000002\", algorithm=\"SHA-512-256\"";
        let c: DigestCredentials = s.parse().unwrap();
        assert_eq!(c.qop, Some(Qop::Auth));
        assert_eq!(c.nc, Some(2));
        assert_eq!(
            c.algorithm,
            Some(Algorithm::Known(DigestAlgorithm::Sha512_256))
        );
    }

    #[test]
    fn too_many_params_are_rejected() {
        let mut s = String::from("Digest realm=\"r\", nonce=\"n\"");
        for i in 0..MAX_PARAMS {
            s.push_str(&format!(", x{i}=y"));
        }
        assert_eq!(
            s.parse::<DigestChallenge>(),
            Err(ParamsError::TooManyParams)
        );
    }

    #[test]
    fn challenge_display_is_canonical() {
        let c = DigestChallenge {
            realm: "asterisk".into(),
            nonce: "abc".into(),
            opaque: None,
            stale: true,
            algorithm: Some(DigestAlgorithm::Sha256.into()),
            qop: vec![Qop::Auth],
            domain: vec![],
        };
        assert_eq!(
            c.to_string(),
            "Digest realm=\"asterisk\", nonce=\"abc\", stale=true, algorithm=SHA-256, qop=\"auth\""
        );
    }

    #[test]
    fn credentials_display_round_trips() {
        let c: DigestCredentials = RFC2617_CREDENTIALS.parse().unwrap();
        let text = c.to_string();
        assert!(text.contains("nc=00000001"));
        assert!(text.contains("qop=auth,"));
        assert_eq!(text.parse::<DigestCredentials>().unwrap(), c);
    }
}
