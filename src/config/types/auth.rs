//! `type=auth`: credentials for digest authentication (Asterisk `res_pjsip/config_auth.c`).

use std::fmt;
use std::str::FromStr;

use super::{ConfigObject, Kind, Object};
use crate::config::options::ListOf;
use crate::{define_object, option_enum};

option_enum! {
    /// How credentials are stored (`auth_type`).
    pub enum AuthType {
        /// Plain password or digests (the modern name).
        Digest = ["digest"],
        /// Plain password (deprecated name, treated as digest).
        #[default]
        Userpass = ["userpass"],
        /// MD5 digest (deprecated name, treated as digest).
        Md5 = ["md5"],
        /// Google OAuth (outbound only).
        GoogleOauth = ["google_oauth"],
    }
}

option_enum! {
    /// Digest algorithms (RFC 7616 / 8760 names).
    pub enum DigestAlgorithm {
        /// MD5.
        #[default]
        Md5 = ["md5"],
        /// SHA-256.
        Sha256 = ["sha-256"],
        /// SHA-512/256.
        Sha512_256 = ["sha-512-256"],
    }
}

/// A precomputed H(A1) for one algorithm (`password_digest=ALGO:hex`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PasswordDigest {
    /// The algorithm.
    pub algorithm: DigestAlgorithm,
    /// Lower-case hex digest.
    pub hex: String,
}

impl FromStr for PasswordDigest {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (algorithm, hex) = match s.split_once(':') {
            Some((a, h)) => (a.parse::<DigestAlgorithm>()?, h.trim()),
            None => (DigestAlgorithm::Md5, s.trim()),
        };
        Ok(Self {
            algorithm,
            hex: hex.to_ascii_lowercase(),
        })
    }
}

impl fmt::Display for PasswordDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.as_str().to_ascii_uppercase(), self.hex)
    }
}

define_object! {
    /// Credentials.
    pub struct Auth {
        /// Storage type.
        auth_type: AuthType = ("auth_type", "userpass", NotYet),
        /// User name.
        username: String = ("username", "", Yes),
        /// Plain password.
        password: String = ("password", "", NotYet),
        /// Precomputed digests.
        password_digest: ListOf<PasswordDigest> = ("password_digest", "", NotYet),
        /// Realm.
        realm: String = ("realm", "", NotYet),
    }
}

impl ConfigObject for Auth {
    const KIND: Kind = Kind::Auth;

    fn validate(&self, id: &str) -> Vec<String> {
        let mut errors = Vec::new();
        if self.username.is_empty() && self.auth_type != AuthType::GoogleOauth {
            errors.push(format!("{id}: No authentication username"));
        }
        errors
    }

    fn into_object(self) -> Object {
        Object::Auth(self)
    }
}
