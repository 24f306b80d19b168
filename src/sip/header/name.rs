//! Header field names: case-insensitive, compact forms folded into the long form at parse.

use std::fmt;

use bytes::Bytes;

macro_rules! names {
    ($($variant:ident = $long:literal $(, $compact:literal)?;)*) => {
        /// A header field name. Known names are variants (their compact forms, RFC 3261 7.3.3
        /// and the extension RFCs, map to the same variant); others keep their spelling.
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        pub enum HeaderName {
            $(
                #[doc = concat!("`", $long, "`", $(" (compact `", $compact, "`)")?)]
                $variant,
            )*
            /// Any other name, exactly as received (compared case-insensitively).
            Other(Bytes),
        }

        const TABLE: &[(HeaderName, &str, Option<char>)] = &[
            $((HeaderName::$variant, $long, names!(@c $($compact)?)),)*
        ];

        impl HeaderName {
            /// The canonical (long) name, or the received spelling for [`HeaderName::Other`].
            pub fn as_str(&self) -> &str {
                match self {
                    $(HeaderName::$variant => $long,)*
                    // Other names were checked to be tokens (ASCII) when parsed or built.
                    HeaderName::Other(b) => std::str::from_utf8(b).unwrap_or(""),
                }
            }

            /// The canonical name with a `'static` lifetime, for error messages.
            pub(crate) fn static_name(&self) -> &'static str {
                match self {
                    $(HeaderName::$variant => $long,)*
                    HeaderName::Other(_) => "extension",
                }
            }
        }
    };
    (@c $c:literal) => { Some($c) };
    (@c) => { None };
}

names! {
    Accept = "Accept";
    AcceptContact = "Accept-Contact", 'a';
    AcceptEncoding = "Accept-Encoding";
    AcceptLanguage = "Accept-Language";
    AlertInfo = "Alert-Info";
    Allow = "Allow";
    AllowEvents = "Allow-Events", 'u';
    AuthenticationInfo = "Authentication-Info";
    Authorization = "Authorization";
    CallId = "Call-ID", 'i';
    CallInfo = "Call-Info";
    Contact = "Contact", 'm';
    ContentDisposition = "Content-Disposition";
    ContentEncoding = "Content-Encoding", 'e';
    ContentLanguage = "Content-Language";
    ContentLength = "Content-Length", 'l';
    ContentType = "Content-Type", 'c';
    CSeq = "CSeq";
    Date = "Date";
    ErrorInfo = "Error-Info";
    Event = "Event", 'o';
    Expires = "Expires";
    From = "From", 'f';
    Identity = "Identity", 'y';
    IdentityInfo = "Identity-Info", 'n';
    InReplyTo = "In-Reply-To";
    MaxForwards = "Max-Forwards";
    MimeVersion = "MIME-Version";
    MinExpires = "Min-Expires";
    MinSe = "Min-SE";
    Organization = "Organization";
    Path = "Path";
    Priority = "Priority";
    ProxyAuthenticate = "Proxy-Authenticate";
    ProxyAuthorization = "Proxy-Authorization";
    ProxyRequire = "Proxy-Require";
    RAck = "RAck";
    Reason = "Reason";
    RecordRoute = "Record-Route";
    ReferTo = "Refer-To", 'r';
    ReferredBy = "Referred-By", 'b';
    RejectContact = "Reject-Contact", 'j';
    Replaces = "Replaces";
    ReplyTo = "Reply-To";
    RequestDisposition = "Request-Disposition", 'd';
    Require = "Require";
    RetryAfter = "Retry-After";
    Route = "Route";
    RSeq = "RSeq";
    Server = "Server";
    SessionExpires = "Session-Expires", 'x';
    SipETag = "SIP-ETag";
    SipIfMatch = "SIP-If-Match";
    Subject = "Subject", 's';
    SubscriptionState = "Subscription-State";
    Supported = "Supported", 'k';
    Timestamp = "Timestamp";
    To = "To", 't';
    Unsupported = "Unsupported";
    UserAgent = "User-Agent";
    Via = "Via", 'v';
    Warning = "Warning";
    WwwAuthenticate = "WWW-Authenticate";
}

/// The long names of each length: (first letter in lower case, index into `TABLE`).
static BY_LENGTH: std::sync::LazyLock<Vec<Vec<(u8, usize)>>> = std::sync::LazyLock::new(|| {
    let mut by_length: Vec<Vec<(u8, usize)>> = Vec::new();
    for (i, (_, long, _)) in TABLE.iter().enumerate() {
        if by_length.len() <= long.len() {
            by_length.resize(long.len() + 1, Vec::new());
        }
        if let (Some(slot), Some(first)) = (by_length.get_mut(long.len()), long.bytes().next()) {
            slot.push((first.to_ascii_lowercase(), i));
        }
    }
    by_length
});

impl HeaderName {
    /// Maps a received name (already checked to be a token) to its variant.
    pub fn from_bytes(name: Bytes) -> HeaderName {
        Self::known(&name).unwrap_or(HeaderName::Other(name))
    }

    /// The variant of a known name or compact form (case-insensitive), without copying.
    pub(crate) fn known(name: &[u8]) -> Option<HeaderName> {
        if let [c] = name {
            let c = char::from(c.to_ascii_lowercase());
            return TABLE
                .iter()
                .find(|(_, _, compact)| *compact == Some(c))
                .map(|(h, _, _)| h.clone());
        }
        let first = name.first()?.to_ascii_lowercase();
        let candidates = BY_LENGTH.get(name.len())?;
        candidates.iter().find_map(|&(c, i)| {
            if c != first {
                return None;
            }
            let (h, long, _) = TABLE.get(i)?;
            long.as_bytes()
                .eq_ignore_ascii_case(name)
                .then(|| h.clone())
        })
    }

    /// Maps a name given by the application, e.g. `HeaderName::new("X-Account")`.
    pub fn new(name: &str) -> HeaderName {
        HeaderName::from_bytes(Bytes::copy_from_slice(name.as_bytes()))
    }
}

impl PartialEq for HeaderName {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (HeaderName::Other(a), HeaderName::Other(b)) => a.eq_ignore_ascii_case(b),
            (HeaderName::Other(_), _) | (_, HeaderName::Other(_)) => false,
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

impl Eq for HeaderName {}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3261_7_3_3_compact_forms_fold_to_long_names() {
        for (c, long) in [
            ("i", HeaderName::CallId),
            ("m", HeaderName::Contact),
            ("e", HeaderName::ContentEncoding),
            ("l", HeaderName::ContentLength),
            ("c", HeaderName::ContentType),
            ("F", HeaderName::From),
            ("s", HeaderName::Subject),
            ("k", HeaderName::Supported),
            ("t", HeaderName::To),
            ("V", HeaderName::Via),
            ("o", HeaderName::Event),
            ("u", HeaderName::AllowEvents),
            ("r", HeaderName::ReferTo),
            ("b", HeaderName::ReferredBy),
            ("x", HeaderName::SessionExpires),
        ] {
            assert_eq!(HeaderName::new(c), long, "{c}");
        }
    }

    #[test]
    fn every_known_name_is_found_in_any_case() {
        for (h, long, compact) in TABLE {
            assert_eq!(&HeaderName::new(long), h, "{long}");
            assert_eq!(&HeaderName::new(&long.to_ascii_uppercase()), h, "{long}");
            assert_eq!(HeaderName::new(long).as_str(), *long);
            if let Some(c) = compact {
                assert_eq!(&HeaderName::new(&c.to_string()), h, "{c}");
            }
        }
        assert!(matches!(HeaderName::new("X-Via"), HeaderName::Other(_)));
        assert!(matches!(HeaderName::new("Tu"), HeaderName::Other(_)));
    }

    #[test]
    fn rfc3261_7_3_1_names_are_case_insensitive() {
        assert_eq!(HeaderName::new("MaX-fOrWaRdS"), HeaderName::MaxForwards);
        assert_eq!(HeaderName::new("x-foo"), HeaderName::new("X-Foo"));
        assert_eq!(HeaderName::new("X-Foo").as_str(), "X-Foo");
        assert_ne!(HeaderName::new("q"), HeaderName::Via);
    }
}
