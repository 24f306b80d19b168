//! SIP request methods (RFC 3261 7.1 and the extension RFCs). Methods are case-sensitive.

use std::fmt;

use super::error::ParseError;
use super::syntax::is_token;

/// A request method. Unknown methods are kept as [`Method::Extension`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// RFC 3261.
    Invite,
    /// RFC 3261.
    Ack,
    /// RFC 3261.
    Bye,
    /// RFC 3261.
    Cancel,
    /// RFC 3261.
    Options,
    /// RFC 3261.
    Register,
    /// RFC 3262.
    Prack,
    /// RFC 6665.
    Subscribe,
    /// RFC 6665.
    Notify,
    /// RFC 3903.
    Publish,
    /// RFC 6086.
    Info,
    /// RFC 3515.
    Refer,
    /// RFC 3428.
    Message,
    /// RFC 3311.
    Update,
    /// Any other `token` (e.g. RFC 4475 `!interesting-Method0123456789_*+`.%indeed'~`).
    Extension(String),
}

const KNOWN: [(Method, &str); 14] = [
    (Method::Invite, "INVITE"),
    (Method::Ack, "ACK"),
    (Method::Bye, "BYE"),
    (Method::Cancel, "CANCEL"),
    (Method::Options, "OPTIONS"),
    (Method::Register, "REGISTER"),
    (Method::Prack, "PRACK"),
    (Method::Subscribe, "SUBSCRIBE"),
    (Method::Notify, "NOTIFY"),
    (Method::Publish, "PUBLISH"),
    (Method::Info, "INFO"),
    (Method::Refer, "REFER"),
    (Method::Message, "MESSAGE"),
    (Method::Update, "UPDATE"),
];

impl Method {
    /// Parses a method token. `%` is not an escape here: `RE%47IST%45R` is an extension
    /// method, not REGISTER (RFC 4475 3.1.1.5).
    pub fn parse(s: &[u8]) -> Result<Method, ParseError> {
        if !is_token(s) {
            return Err(ParseError::StartLine("method is not a token"));
        }
        for (m, name) in &KNOWN {
            if name.as_bytes() == s {
                return Ok(m.clone());
            }
        }
        // is_token guarantees ASCII, so this cannot fail; map_err keeps it panic-free.
        std::str::from_utf8(s)
            .map(|s| Method::Extension(s.to_owned()))
            .map_err(|_| ParseError::StartLine("method is not a token"))
    }

    /// The method name as sent on the wire.
    pub fn as_str(&self) -> &str {
        if let Method::Extension(s) = self {
            return s;
        }
        KNOWN
            .iter()
            .find(|(m, _)| m == self)
            .map_or("", |(_, name)| name)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3261_7_1_methods_are_case_sensitive() {
        assert_eq!(Method::parse(b"INVITE"), Ok(Method::Invite));
        assert_eq!(
            Method::parse(b"invite"),
            Ok(Method::Extension("invite".into()))
        );
    }

    #[test]
    fn rfc4475_3_1_1_5_percent_is_not_an_escape_in_methods() {
        let m = Method::parse(b"RE%47IST%45R").expect("token");
        assert_eq!(m.as_str(), "RE%47IST%45R");
        assert_ne!(m, Method::Register);
    }

    #[test]
    fn rfc3261_25_1_method_must_be_a_token() {
        assert!(Method::parse(b"IN VITE").is_err());
        assert!(Method::parse(b"").is_err());
    }
}
