//! Errors of the SIP message layer. Each error knows the status code a UAS answers with.

use super::status::StatusCode;

/// Why a message (or one of its typed header views) could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The message is larger than the configured maximum.
    #[error("message of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Bytes seen so far (or declared by Content-Length).
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// More header fields than the configured maximum.
    #[error("more than {max} header fields")]
    TooManyHeaders {
        /// The configured maximum.
        max: usize,
    },
    /// One header line (after unfolding) is longer than the configured maximum.
    #[error("header line of {len} bytes exceeds the limit of {max}")]
    LineTooLong {
        /// Length of the offending line.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The blank line ending the header section was not found.
    #[error("no empty line after the header fields")]
    NoHeaderEnd,
    /// The Request-Line or Status-Line is malformed.
    #[error("malformed start line: {0}")]
    StartLine(&'static str),
    /// The SIP-Version is well formed but not `SIP/2.0` (answered with 505).
    #[error("unsupported SIP version")]
    Version,
    /// A header line has no colon or an invalid name.
    #[error("malformed header line")]
    HeaderLine,
    /// A header field value does not match its grammar.
    #[error("malformed {name} header: {why}")]
    Header {
        /// The canonical header name.
        name: &'static str,
        /// What was wrong.
        why: &'static str,
    },
    /// A mandatory header field is absent.
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    /// A single-valued header field appears more than once.
    #[error("more than one {0} header")]
    DuplicateHeader(&'static str),
    /// A URI does not match RFC 3261 19.1 (or the generic absolute-URI form).
    #[error("malformed URI: {0}")]
    Uri(&'static str),
    /// Content-Length is larger than the bytes that follow the headers.
    #[error("Content-Length {declared} exceeds the {available} body bytes received")]
    BodyTooShort {
        /// Declared Content-Length.
        declared: usize,
        /// Bytes available after the header section.
        available: usize,
    },
    /// Content-Length is absent on a stream transport, where it is mandatory (RFC 3261 18.3).
    #[error("Content-Length is mandatory on stream transports")]
    MissingContentLength,
}

impl ParseError {
    /// The status code a UAS sends back for a request that failed this way.
    pub fn status(&self) -> StatusCode {
        match self {
            ParseError::Version => StatusCode::VERSION_NOT_SUPPORTED,
            ParseError::TooLarge { .. } => StatusCode::MESSAGE_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// Shorthand for a [`ParseError::Header`].
    pub(crate) fn header(name: &'static str, why: &'static str) -> Self {
        ParseError::Header { name, why }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3261_21_5_6_bad_version_maps_to_505() {
        assert_eq!(ParseError::Version.status().code(), 505);
        assert_eq!(ParseError::HeaderLine.status().code(), 400);
        assert_eq!(ParseError::TooLarge { len: 2, max: 1 }.status().code(), 513);
    }
}
