//! Errors of the digest authentication module.

use thiserror::Error;

/// Why a `Digest` header value could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ParamsError {
    /// The value does not start with the `Digest` scheme (e.g. `Basic`, `Bearer`).
    #[error("not a Digest credentials or challenge")]
    NotDigest,
    /// The scheme is not followed by any auth-param.
    #[error("Digest without parameters")]
    Empty,
    /// A syntax error at a byte offset of the header value.
    #[error("malformed auth-param at byte {at}: {what}")]
    Syntax {
        /// Byte offset in the header value.
        at: usize,
        /// What was expected or found.
        what: &'static str,
    },
    /// A parameter appears twice (names compare case-insensitively).
    #[error("duplicate parameter '{0}'")]
    Duplicate(String),
    /// More parameters than [`MAX_PARAMS`](super::params::MAX_PARAMS).
    #[error("too many parameters")]
    TooManyParams,
    /// A required parameter is absent.
    #[error("missing parameter '{0}'")]
    Missing(&'static str),
    /// A parameter has a value that does not fit its syntax.
    #[error("invalid value for '{name}': {reason}")]
    BadValue {
        /// Parameter name.
        name: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Errors of the client (UAC) side and of key generation.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The operating system's random number generator failed.
    #[error("random number generator failed: {0}")]
    Random(String),
    /// No outbound auth object can answer any of the challenges (Asterisk logs the realms
    /// and algorithms and fails the request).
    #[error("no credentials for the challenge (realms/algorithms: {offered})")]
    NoCredentials {
        /// `realm/ALGORITHM` of each challenge, comma-separated.
        offered: String,
    },
    /// A second challenge for a realm already answered in this request chain: the
    /// credentials were rejected; retrying would loop.
    #[error("credentials for realm '{realm}' were rejected")]
    ChallengeLoop {
        /// The realm challenged again.
        realm: String,
    },
    /// The response carried no challenge at all.
    #[error("401/407 response without challenges")]
    NoChallenge,
}

impl From<getrandom::Error> for AuthError {
    fn from(e: getrandom::Error) -> Self {
        Self::Random(e.to_string())
    }
}
