//! `type=auth`: credentials for digest authentication (Asterisk `res_pjsip/config_auth.c`).

use std::fmt;
use std::str::FromStr;

use super::{ConfigObject, Kind, Object};
use crate::config::options::{Alias, ListOf};
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

impl DigestAlgorithm {
    /// The IANA name, as Asterisk prints it.
    pub fn iana_name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha256 => "SHA-256",
            Self::Sha512_256 => "SHA-512-256",
        }
    }

    /// Length of a hex digest of this algorithm.
    pub fn hex_len(self) -> usize {
        match self {
            Self::Md5 => 32,
            Self::Sha256 | Self::Sha512_256 => 64,
        }
    }
}

/// A precomputed H(A1) for one algorithm (`password_digest=ALGO:hex`; no `ALGO:` means
/// MD5). The length is checked by [`Auth`]'s validation, with Asterisk's message.
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
            Some((a, h)) => (a.trim().parse::<DigestAlgorithm>()?, h.trim()),
            None => (DigestAlgorithm::Md5, s.trim()),
        };
        if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("'{hex}' is not a hexadecimal digest"));
        }
        Ok(Self {
            algorithm,
            hex: hex.to_ascii_lowercase(),
        })
    }
}

impl fmt::Display for PasswordDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.iana_name(), self.hex)
    }
}

define_object! {
    /// Credentials.
    pub struct Auth {
        /// Storage type.
        auth_type: AuthType = ("auth_type", "userpass", Yes),
        /// User name.
        username: String = ("username", "", Yes),
        /// Plain password (usable for every algorithm).
        password: String = ("password", "", Yes),
        /// Precomputed digests (`md5_cred` is an alias).
        password_digest: ListOf<PasswordDigest> = ("password_digest", "", NotYet),
        /// Realm (UAS: sent in challenges, empty = global `default_realm`; UAC: expected
        /// realm, empty or `*` = any).
        realm: String = ("realm", "", Yes),
        /// Lifetime of our nonces, seconds.
        nonce_lifetime: u32 = ("nonce_lifetime", "32", Yes),
        /// Algorithms we challenge with (empty = global `default_auth_algorithms_uas`).
        supported_algorithms_uas: ListOf<DigestAlgorithm> =
            ("supported_algorithms_uas", "", Yes),
        /// Algorithms we answer (empty = global `default_auth_algorithms_uac`).
        supported_algorithms_uac: ListOf<DigestAlgorithm> =
            ("supported_algorithms_uac", "", NotYet),
        /// OAuth refresh token (google_oauth).
        refresh_token: String = ("refresh_token", "", NotYet),
        /// OAuth client id (google_oauth).
        oauth_clientid: String = ("oauth_clientid", "", NotYet),
        /// OAuth client secret (google_oauth).
        oauth_secret: String = ("oauth_secret", "", NotYet),
    }
}

/// `md5_cred=hash` is `password_digest=MD5:hash`.
fn md5_cred_to_digest(value: &str) -> String {
    let v = value.trim();
    if v.is_empty() {
        String::new()
    } else {
        format!("MD5:{v}")
    }
}

impl Auth {
    /// The digest given for `algorithm`; a later one replaces an earlier one, as in
    /// Asterisk.
    pub fn digest(&self, algorithm: DigestAlgorithm) -> Option<&PasswordDigest> {
        self.password_digest
            .iter()
            .rev()
            .find(|d| d.algorithm == algorithm)
    }

    /// Whether there is a plain password or a digest usable for `algorithm`.
    pub fn has_credentials_for(&self, algorithm: DigestAlgorithm) -> bool {
        !self.password.is_empty() || self.digest(algorithm).is_some()
    }

    /// Errors for algorithms of `list` that have no credentials. An empty list stands for
    /// the global default, which is MD5 unless `[global]` says otherwise; the check here
    /// assumes MD5 (the global object is not visible to a single auth).
    fn algorithm_errors(
        &self,
        id: &str,
        list: &ListOf<DigestAlgorithm>,
        which: &str,
        errors: &mut Vec<String>,
    ) {
        let defaults = [DigestAlgorithm::Md5];
        let algorithms: &[DigestAlgorithm] = if list.is_empty() { &defaults } else { &list.0 };
        for a in algorithms {
            if !self.has_credentials_for(*a) {
                errors.push(format!(
                    "{id}: No plain text or digest password found for algorithm {} in \
                     supported_algorithms_{which}",
                    a.iana_name()
                ));
            }
        }
    }
}

impl ConfigObject for Auth {
    const KIND: Kind = Kind::Auth;
    const ALIASES: &'static [Alias] = &[Alias {
        name: "md5_cred",
        target: "password_digest",
        rewrite: md5_cred_to_digest,
    }];

    fn validate(&self, id: &str) -> Vec<String> {
        let mut errors = Vec::new();
        if self.username.is_empty() {
            errors.push(format!("{id}: No authentication username"));
        }
        for d in self.password_digest.iter() {
            let want = d.algorithm.hex_len();
            if d.hex.len() != want {
                errors.push(format!(
                    "{id}: password_digest algorithm '{}' length ({}) must be {want}",
                    d.algorithm.iana_name(),
                    d.hex.len()
                ));
            }
        }
        if self.auth_type == AuthType::GoogleOauth {
            // OAuth credentials replace passwords: Asterisk checks nothing else.
            if self.refresh_token.is_empty()
                || self.oauth_clientid.is_empty()
                || self.oauth_secret.is_empty()
            {
                errors.push(format!(
                    "{id}: 'google_oauth' authentication specified but refresh_token, \
                     oauth_clientid, or oauth_secret not specified"
                ));
            }
            return errors;
        }
        self.algorithm_errors(id, &self.supported_algorithms_uas, "uas", &mut errors);
        self.algorithm_errors(id, &self.supported_algorithms_uac, "uac", &mut errors);
        errors
    }

    fn into_object(self) -> Object {
        Object::Auth(self)
    }
}
