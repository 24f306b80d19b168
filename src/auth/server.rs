//! The UAS side: challenges and verification of credentials, as pure logic (Asterisk
//! `res_pjsip_authenticator_digest.c`, reference sections 4.4-4.6 and 11).
//!
//! The caller (the distributor's auth step) reads the clock, picks the candidate auth
//! objects of the identified endpoint, and turns the [`Verdict`] into a response: on
//! anything but [`Verdict::Accepted`] it answers 401 with fresh challenges from
//! [`Verifier::challenge_all`] (with `stale = true` for [`Verdict::Stale`]).
//!
//! **Anti-enumeration.** A challenge depends only on the auth objects' realm and
//! algorithms, never on whether the user exists. For requests from unknown users the
//! caller must do the same work as for known ones: challenge and verify with
//! [`Verifier::artificial_auth`] (Asterisk's artificial endpoint, whose credentials can
//! never verify), and send the very same 401 for [`Verdict::UnknownUser`] and
//! [`Verdict::WrongPassword`]. [`Verifier::verify`] computes a digest for unknown users
//! too, so that both take about the same time.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use super::digest::{self, QopAuth};
use super::nonce::{NonceCheck, NonceKey};
use super::params::{DigestChallenge, DigestCredentials, Qop};
use super::replay::{NcCheck, NonceCounts};
use crate::config::types::{Auth, AuthType, DigestAlgorithm};

/// The global `default_realm` of Asterisk.
pub const DEFAULT_REALM: &str = "asterisk";

/// Why credentials are refused without being checked against a password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidReason {
    /// The algorithm is not one we implement (`MD5-sess`, `AKAv1-MD5`, ...).
    UnsupportedAlgorithm,
    /// The algorithm is implemented but not offered by the matching auth objects.
    AlgorithmNotOffered,
    /// A qop other than `auth` (`auth-int` is not offered).
    UnsupportedQop,
    /// `qop=auth` without `cnonce` or `nc`, or with `nc=00000000`.
    MissingQopParams,
    /// No qop (RFC 2069 response) while [`Verifier::require_qop`] is set.
    QopRequired,
    /// The nonce was not issued by us, or for another realm or source address.
    BadNonce,
    /// The user exists but the credentials carry another realm.
    RealmMismatch,
}

/// The outcome of [`Verifier::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The credentials are right for `candidates[index]`.
    Accepted {
        /// Index in the `candidates` slice passed to `verify`.
        index: usize,
        /// The algorithm used.
        algorithm: DigestAlgorithm,
    },
    /// Right password, but the nonce is older than `nonce_lifetime`: re-challenge with
    /// `stale=true` (not a failure).
    Stale,
    /// A candidate has this user name but the response is wrong.
    WrongPassword,
    /// No candidate has this user name (or only the artificial auth was given).
    UnknownUser,
    /// Malformed or unacceptable credentials.
    Invalid(InvalidReason),
    /// Right password, but the nonce count was already used.
    Replay,
}

impl Verdict {
    /// True for [`Verdict::Accepted`].
    pub fn is_accepted(&self) -> bool {
        matches!(self, Self::Accepted { .. })
    }

    /// Whether a failed authentication should be logged and reported as a security event
    /// (`Failed to authenticate`): everything except acceptance and a stale nonce.
    pub fn is_failure(&self) -> bool {
        !matches!(self, Self::Accepted { .. } | Self::Stale)
    }
}

/// Issues challenges and verifies credentials. Owns the nonce key and the nonce-count
/// table; holds no other state.
#[derive(Debug)]
pub struct Verifier {
    /// Shared with the verifiers of the other queues: its sequence counter keeps nonces
    /// issued by different queues in the same second apart.
    key: Arc<NonceKey>,
    /// Shared by the verifiers of every queue: a replayed request may carry another
    /// Call-ID and so land on another queue.
    counts: Arc<Mutex<NonceCounts>>,
    default_realm: String,
    default_algorithms: Vec<DigestAlgorithm>,
    require_qop: bool,
}

impl Verifier {
    /// A verifier with `key` (see [`NonceKey`] about persistence) and the global
    /// `default_realm`; default algorithms MD5; RFC 2069 responses (no qop) accepted, as
    /// in Asterisk.
    pub fn new(key: NonceKey, default_realm: impl Into<String>) -> Self {
        Self {
            key: Arc::new(key),
            counts: Arc::new(Mutex::new(NonceCounts::default())),
            default_realm: default_realm.into(),
            default_algorithms: vec![DigestAlgorithm::Md5],
            require_qop: false,
        }
    }

    /// Sets the global `default_auth_algorithms_uas` (an empty list keeps MD5).
    pub fn with_default_algorithms(mut self, algorithms: Vec<DigestAlgorithm>) -> Self {
        if !algorithms.is_empty() {
            self.default_algorithms = algorithms;
        }
        self
    }

    /// Replaces the nonce-count table (e.g. with another capacity).
    pub fn with_nonce_counts(mut self, counts: NonceCounts) -> Self {
        self.counts = Arc::new(Mutex::new(counts));
        self
    }

    /// A verifier for another queue: the same key (and nonce sequence) and the same
    /// nonce-count table, so a nonce is unique across queues and a replay is caught
    /// whichever queue it lands on.
    pub fn sibling(&self) -> Self {
        Self {
            key: self.key.clone(),
            counts: self.counts.clone(),
            default_realm: self.default_realm.clone(),
            default_algorithms: self.default_algorithms.clone(),
            require_qop: self.require_qop,
        }
    }

    /// Refuses responses without qop. RFC 2069 responses cannot be protected against
    /// replay within the nonce lifetime; Asterisk accepts them, so the default is false.
    pub fn require_qop(mut self, require: bool) -> Self {
        self.require_qop = require;
        self
    }

    /// The nonce key.
    pub fn key(&self) -> &NonceKey {
        &self.key
    }

    /// The global default realm.
    pub fn default_realm(&self) -> &str {
        &self.default_realm
    }

    /// Forgets expired nonce counts (also done on every verification).
    pub fn prune(&mut self, now_unix_secs: u64) {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .prune(now_unix_secs);
    }

    /// The realm of `auth`: its own, else `default_realm` if given, else the verifier's.
    pub fn realm_for<'a>(&'a self, auth: &'a Auth, default_realm: Option<&'a str>) -> &'a str {
        if !auth.realm.is_empty() {
            &auth.realm
        } else {
            default_realm.unwrap_or(&self.default_realm)
        }
    }

    /// The algorithms `auth` challenges with, in order, without repeats.
    pub fn algorithms_for(&self, auth: &Auth) -> Vec<DigestAlgorithm> {
        let list = if auth.supported_algorithms_uas.is_empty() {
            &self.default_algorithms[..]
        } else {
            &auth.supported_algorithms_uas.0[..]
        };
        let mut out = Vec::with_capacity(list.len());
        for a in list {
            if !out.contains(a) {
                out.push(*a);
            }
        }
        out
    }

    /// The challenges for one auth object: one per algorithm of
    /// `supported_algorithms_uas` (default MD5), in order, each with `qop="auth"`, no
    /// opaque, and `stale=true` if asked. `default_realm` overrides the verifier's default
    /// (for reloads) when the auth has no realm. The result does not depend on whether the
    /// user exists: there is no user in the input.
    pub fn challenge(
        &self,
        auth: &Auth,
        default_realm: Option<&str>,
        now_unix_secs: u64,
        source_ip: IpAddr,
        stale: bool,
    ) -> Vec<DigestChallenge> {
        self.challenge_all(&[auth], default_realm, now_unix_secs, source_ip, stale)
    }

    /// The challenges for all auth objects of an endpoint, in order, never two for the
    /// same realm and algorithm (RFC 7616 section 3.7). One nonce per realm.
    pub fn challenge_all(
        &self,
        auths: &[&Auth],
        default_realm: Option<&str>,
        now_unix_secs: u64,
        source_ip: IpAddr,
        stale: bool,
    ) -> Vec<DigestChallenge> {
        let mut out: Vec<DigestChallenge> = Vec::new();
        for auth in auths {
            let realm = self.realm_for(auth, default_realm);
            for algorithm in self.algorithms_for(auth) {
                if out
                    .iter()
                    .any(|c| c.realm == realm && c.algorithm() == algorithm.into())
                {
                    continue;
                }
                let nonce = match out.iter().find(|c| c.realm == realm) {
                    Some(c) => c.nonce.clone(),
                    None => self.key.issue(now_unix_secs, realm, source_ip),
                };
                out.push(DigestChallenge {
                    realm: realm.to_string(),
                    nonce,
                    opaque: None,
                    stale,
                    algorithm: Some(algorithm.into()),
                    qop: vec![Qop::Auth],
                    domain: Vec::new(),
                });
            }
        }
        out
    }

    /// The auth object of Asterisk's artificial endpoint, used for requests that match
    /// no endpoint: default realm and algorithms, no user name, and a password derived
    /// from the nonce key that nobody knows. Credentials never verify against it
    /// ([`Verdict::UnknownUser`]), but challenging and verifying with it costs the same as
    /// with a real auth.
    pub fn artificial_auth(&self) -> Auth {
        Auth {
            auth_type: AuthType::Digest,
            username: String::new(),
            password: hex::encode(self.key.derive("artificial-auth")),
            ..Auth::default()
        }
    }

    /// Verifies credentials received in a request with `method` from `source_ip` against
    /// the `candidates` (the endpoint's auth objects; any one succeeding is enough).
    ///
    /// Checks, in order: algorithm and qop acceptable; nonce issued by us for the
    /// credentials' realm and this address; a candidate with this user name (else
    /// [`Verdict::UnknownUser`], after the same digest work); the realm and algorithm of
    /// that candidate; the response (else [`Verdict::WrongPassword`]); the nonce age
    /// against the candidate's `nonce_lifetime` ([`Verdict::Stale`]); the nonce count
    /// ([`Verdict::Replay`]). The digest-uri is not compared with the Request-URI (pjsip
    /// does not either); the caller may.
    pub fn verify(
        &mut self,
        method: &str,
        credentials: &DigestCredentials,
        candidates: &[&Auth],
        default_realm: Option<&str>,
        now_unix_secs: u64,
        source_ip: IpAddr,
    ) -> Verdict {
        let Some(algorithm) = credentials.algorithm().known() else {
            return Verdict::Invalid(InvalidReason::UnsupportedAlgorithm);
        };
        let qop = match &credentials.qop {
            None if self.require_qop => return Verdict::Invalid(InvalidReason::QopRequired),
            None => None,
            Some(Qop::Auth) => match (&credentials.cnonce, credentials.nc) {
                (Some(cnonce), Some(nc)) if nc > 0 => Some(QopAuth { nc, cnonce }),
                _ => return Verdict::Invalid(InvalidReason::MissingQopParams),
            },
            Some(_) => return Verdict::Invalid(InvalidReason::UnsupportedQop),
        };
        // Authenticity first (any age); the age is checked with the matching auth's
        // lifetime once the password verified.
        let age = match self.key.check(
            &credentials.nonce,
            now_unix_secs,
            &credentials.realm,
            source_ip,
            u64::MAX,
        ) {
            NonceCheck::Valid { age } => age,
            NonceCheck::Stale | NonceCheck::Invalid => {
                return Verdict::Invalid(InvalidReason::BadNonce);
            }
        };

        let ha2 = digest::ha2(algorithm, method, &credentials.uri);
        let users: Vec<(usize, &Auth)> = candidates
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, a)| self.user_matches(a, credentials, algorithm, default_realm))
            .collect();
        if users.is_empty() {
            // Same work as for a known user, result discarded.
            let ha1 = digest::ha1(algorithm, &credentials.username, &credentials.realm, "");
            let expected = digest::response(algorithm, &ha1, &credentials.nonce, qop, &ha2);
            std::hint::black_box(digest::responses_match(&expected, &credentials.response));
            return Verdict::UnknownUser;
        }

        let mut realm_seen = false;
        let mut algorithm_seen = false;
        let mut accepted = None;
        for (index, auth) in users {
            if self.realm_for(auth, default_realm) != credentials.realm {
                continue;
            }
            realm_seen = true;
            if !self.algorithms_for(auth).contains(&algorithm) {
                continue;
            }
            algorithm_seen = true;
            let Some(ha1) =
                digest::ha1_for_auth(auth, algorithm, &auth.username, &credentials.realm)
            else {
                continue;
            };
            let expected = digest::response(algorithm, &ha1, &credentials.nonce, qop, &ha2);
            if digest::responses_match(&expected, &credentials.response) {
                accepted = Some((index, auth));
                break;
            }
        }
        let Some((index, auth)) = accepted else {
            return if !realm_seen {
                Verdict::Invalid(InvalidReason::RealmMismatch)
            } else if !algorithm_seen {
                Verdict::Invalid(InvalidReason::AlgorithmNotOffered)
            } else {
                Verdict::WrongPassword
            };
        };

        let lifetime = u64::from(auth.nonce_lifetime);
        if age > lifetime {
            return Verdict::Stale;
        }
        if let Some(q) = qop {
            let issued = now_unix_secs.saturating_sub(age);
            let expires_at = issued.saturating_add(lifetime).saturating_add(1);
            if self
                .counts
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .record(&credentials.nonce, q.nc, now_unix_secs, expires_at)
                == NcCheck::Replay
            {
                return Verdict::Replay;
            }
        }
        Verdict::Accepted { index, algorithm }
    }

    /// Whether `auth` is for the user named in the credentials (by name, or by
    /// H(username:realm) with `userhash=true`). Auths without a user name (the
    /// artificial one) and OAuth auths never match.
    fn user_matches(
        &self,
        auth: &Auth,
        credentials: &DigestCredentials,
        algorithm: DigestAlgorithm,
        default_realm: Option<&str>,
    ) -> bool {
        if auth.username.is_empty() || auth.auth_type == AuthType::GoogleOauth {
            return false;
        }
        if credentials.userhash {
            let realm = self.realm_for(auth, default_realm);
            let hashed = digest::userhash(algorithm, &auth.username, realm);
            digest::responses_match(&hashed, &credentials.username)
        } else {
            auth.username == credentials.username
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sibling_verifiers_never_issue_the_same_nonce() {
        let a = Verifier::new(NonceKey::from_bytes([3; 32]), "asterisk");
        let b = a.sibling();
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        assert_ne!(a.key().issue(100, "r", ip), b.key().issue(100, "r", ip));
    }
    use crate::config::options::ListOf;
    use crate::config::types::PasswordDigest;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 7));
    const NOW: u64 = 1_700_000_000;
    const URI: &str = "sip:pbx.example.com";

    fn verifier() -> Verifier {
        Verifier::new(NonceKey::from_bytes([42; 32]), DEFAULT_REALM)
    }

    fn alice() -> Auth {
        Auth {
            username: "alice".into(),
            password: "wonderland".into(),
            ..Auth::default()
        }
    }

    fn alice_all_algorithms() -> Auth {
        Auth {
            supported_algorithms_uas: ListOf(vec![
                DigestAlgorithm::Sha256,
                DigestAlgorithm::Sha512_256,
                DigestAlgorithm::Md5,
            ]),
            ..alice()
        }
    }

    /// Credentials a correct client would send for `challenge`.
    fn answer(
        challenge: &DigestChallenge,
        username: &str,
        password: &str,
        nc: u32,
    ) -> DigestCredentials {
        let a = challenge.algorithm().known().unwrap();
        let ha1 = digest::ha1(a, username, &challenge.realm, password);
        let ha2 = digest::ha2(a, "REGISTER", URI);
        let q = QopAuth {
            nc,
            cnonce: "c0ffee",
        };
        DigestCredentials {
            username: username.into(),
            realm: challenge.realm.clone(),
            nonce: challenge.nonce.clone(),
            uri: URI.into(),
            response: digest::response(a, &ha1, &challenge.nonce, Some(q), &ha2),
            algorithm: challenge.algorithm.clone(),
            cnonce: Some("c0ffee".into()),
            opaque: None,
            qop: Some(Qop::Auth),
            nc: Some(nc),
            userhash: false,
        }
    }

    #[test]
    fn challenge_defaults_to_md5_qop_auth_without_opaque() {
        let v = verifier();
        let c = v.challenge(&alice(), None, NOW, IP, false);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].realm, DEFAULT_REALM);
        assert_eq!(c[0].algorithm, Some(DigestAlgorithm::Md5.into()));
        assert_eq!(c[0].qop, vec![Qop::Auth]);
        assert_eq!(c[0].opaque, None);
        assert!(!c[0].stale);
    }

    #[test]
    fn challenge_one_per_algorithm_in_order() {
        let v = verifier();
        let c = v.challenge(&alice_all_algorithms(), None, NOW, IP, false);
        let algs: Vec<_> = c.iter().map(|c| c.algorithm().known().unwrap()).collect();
        assert_eq!(
            algs,
            vec![
                DigestAlgorithm::Sha256,
                DigestAlgorithm::Sha512_256,
                DigestAlgorithm::Md5
            ]
        );
    }

    #[test]
    fn challenge_uses_auth_realm_then_given_default() {
        let v = verifier();
        let own = Auth {
            realm: "sip.example.com".into(),
            ..alice()
        };
        assert_eq!(
            v.challenge(&own, Some("x"), NOW, IP, false)[0].realm,
            "sip.example.com"
        );
        assert_eq!(
            v.challenge(&alice(), Some("x"), NOW, IP, false)[0].realm,
            "x"
        );
    }

    #[test]
    fn challenge_sets_stale_when_asked() {
        let c = verifier().challenge(&alice(), None, NOW, IP, true);
        assert!(c[0].stale);
        assert!(c[0].to_string().contains("stale=true"));
    }

    #[test]
    fn challenge_all_never_repeats_realm_and_algorithm() {
        let v = verifier();
        let bob = Auth {
            username: "bob".into(),
            ..alice()
        };
        let c = v.challenge_all(&[&alice(), &bob], None, NOW, IP, false);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn right_password_is_accepted_for_each_algorithm() {
        for algorithm in [
            DigestAlgorithm::Md5,
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Sha512_256,
        ] {
            let mut v = verifier();
            let auth = alice_all_algorithms();
            let challenges = v.challenge(&auth, None, NOW, IP, false);
            let ch = challenges
                .iter()
                .find(|c| c.algorithm().known() == Some(algorithm))
                .unwrap();
            let creds = answer(ch, "alice", "wonderland", 1);
            assert_eq!(
                v.verify("REGISTER", &creds, &[&auth], None, NOW + 1, IP),
                Verdict::Accepted {
                    index: 0,
                    algorithm
                },
                "{algorithm:?}"
            );
        }
    }

    #[test]
    fn password_digest_is_accepted() {
        let mut v = verifier();
        let auth = Auth {
            password: String::new(),
            password_digest: ListOf(vec![PasswordDigest {
                algorithm: DigestAlgorithm::Md5,
                hex: digest::ha1(DigestAlgorithm::Md5, "alice", DEFAULT_REALM, "wonderland"),
            }]),
            ..alice()
        };
        let ch = &v.challenge(&auth, None, NOW, IP, false)[0];
        let creds = answer(ch, "alice", "wonderland", 1);
        assert!(
            v.verify("REGISTER", &creds, &[&auth], None, NOW, IP)
                .is_accepted()
        );
    }

    #[test]
    fn wrong_password_is_wrong_password() {
        let mut v = verifier();
        let ch = &v.challenge(&alice(), None, NOW, IP, false)[0];
        let creds = answer(ch, "alice", "looking-glass", 1);
        assert_eq!(
            v.verify("REGISTER", &creds, &[&alice()], None, NOW, IP),
            Verdict::WrongPassword
        );
    }

    #[test]
    fn unknown_user_is_unknown_user() {
        let mut v = verifier();
        let ch = &v.challenge(&alice(), None, NOW, IP, false)[0];
        let creds = answer(ch, "mallory", "x", 1);
        assert_eq!(
            v.verify("REGISTER", &creds, &[&alice()], None, NOW, IP),
            Verdict::UnknownUser
        );
    }

    #[test]
    fn challenge_for_unknown_and_known_user_is_identical_in_shape() {
        let v = verifier();
        let artificial = v.artificial_auth();
        let known = v.challenge(&alice(), None, NOW, IP, false);
        let unknown = v.challenge(&artificial, None, NOW, IP, false);
        assert_eq!(known.len(), unknown.len());
        for (k, u) in known.iter().zip(&unknown) {
            let blank = |c: &DigestChallenge| DigestChallenge {
                nonce: String::new(),
                ..c.clone()
            };
            assert_eq!(blank(k), blank(u));
            assert_eq!(k.nonce.len(), u.nonce.len());
            let names = |c: &DigestChallenge| {
                c.to_string()
                    .split(", ")
                    .map(|p| p.split('=').next().unwrap_or("").to_string())
                    .collect::<Vec<_>>()
            };
            assert_eq!(names(k), names(u));
        }
    }

    #[test]
    fn artificial_auth_never_verifies() {
        let mut v = verifier();
        let artificial = v.artificial_auth();
        let ch = &v.challenge(&artificial, None, NOW, IP, false)[0];
        // Even knowing the derived password, an empty user name never matches.
        let creds = answer(ch, "", &artificial.password, 1);
        assert_eq!(
            v.verify("REGISTER", &creds, &[&artificial], None, NOW, IP),
            Verdict::UnknownUser
        );
    }

    #[test]
    fn old_nonce_with_right_password_is_stale() {
        let mut v = verifier();
        let ch = &v.challenge(&alice(), None, NOW, IP, false)[0];
        let creds = answer(ch, "alice", "wonderland", 1);
        assert_eq!(
            v.verify("REGISTER", &creds, &[&alice()], None, NOW + 33, IP),
            Verdict::Stale
        );
    }

    #[test]
    fn old_nonce_with_wrong_password_is_wrong_password() {
        let mut v = verifier();
        let ch = &v.challenge(&alice(), None, NOW, IP, false)[0];
        let creds = answer(ch, "alice", "nope", 1);
        assert_eq!(
            v.verify("REGISTER", &creds, &[&alice()], None, NOW + 33, IP),
            Verdict::WrongPassword
        );
    }

    #[test]
    fn nonce_from_other_address_is_invalid() {
        let mut v = verifier();
        let ch = &v.challenge(&alice(), None, NOW, IP, false)[0];
        let creds = answer(ch, "alice", "wonderland", 1);
        let other: IpAddr = "198.51.100.8".parse().unwrap();
        assert_eq!(
            v.verify("REGISTER", &creds, &[&alice()], None, NOW, other),
            Verdict::Invalid(InvalidReason::BadNonce)
        );
    }

    #[test]
    fn replayed_nonce_count_is_replay() {
        let mut v = verifier();
        let ch = &v.challenge(&alice(), None, NOW, IP, false)[0];
        let creds = answer(ch, "alice", "wonderland", 1);
        assert!(
            v.verify("REGISTER", &creds, &[&alice()], None, NOW, IP)
                .is_accepted()
        );
        assert_eq!(
            v.verify("REGISTER", &creds, &[&alice()], None, NOW, IP),
            Verdict::Replay
        );
        let next = answer(ch, "alice", "wonderland", 2);
        assert!(
            v.verify("REGISTER", &next, &[&alice()], None, NOW, IP)
                .is_accepted()
        );
    }

    #[test]
    fn unoffered_algorithm_is_invalid() {
        let mut v = verifier();
        let ch = DigestChallenge {
            algorithm: Some(DigestAlgorithm::Sha256.into()),
            ..v.challenge(&alice(), None, NOW, IP, false)[0].clone()
        };
        let creds = answer(&ch, "alice", "wonderland", 1);
        assert_eq!(
            v.verify("REGISTER", &creds, &[&alice()], None, NOW, IP),
            Verdict::Invalid(InvalidReason::AlgorithmNotOffered)
        );
    }

    #[test]
    fn unsupported_algorithm_and_qop_are_invalid() {
        let mut v = verifier();
        let ch = &v.challenge(&alice(), None, NOW, IP, false)[0];
        let good = answer(ch, "alice", "wonderland", 1);
        let sess = DigestCredentials {
            algorithm: Some(super::super::params::Algorithm::Other("MD5-sess".into())),
            ..good.clone()
        };
        assert_eq!(
            v.verify("REGISTER", &sess, &[&alice()], None, NOW, IP),
            Verdict::Invalid(InvalidReason::UnsupportedAlgorithm)
        );
        let int = DigestCredentials {
            qop: Some(Qop::AuthInt),
            ..good.clone()
        };
        assert_eq!(
            v.verify("REGISTER", &int, &[&alice()], None, NOW, IP),
            Verdict::Invalid(InvalidReason::UnsupportedQop)
        );
        let no_cnonce = DigestCredentials {
            cnonce: None,
            ..good
        };
        assert_eq!(
            v.verify("REGISTER", &no_cnonce, &[&alice()], None, NOW, IP),
            Verdict::Invalid(InvalidReason::MissingQopParams)
        );
    }

    #[test]
    fn rfc2069_response_is_accepted_unless_qop_required() {
        let mut v = verifier();
        let ch = &v.challenge(&alice(), None, NOW, IP, false)[0];
        let a = DigestAlgorithm::Md5;
        let ha1 = digest::ha1(a, "alice", DEFAULT_REALM, "wonderland");
        let ha2 = digest::ha2(a, "REGISTER", URI);
        let creds = DigestCredentials {
            username: "alice".into(),
            realm: DEFAULT_REALM.into(),
            nonce: ch.nonce.clone(),
            uri: URI.into(),
            response: digest::response(a, &ha1, &ch.nonce, None, &ha2),
            ..Default::default()
        };
        assert!(
            v.verify("REGISTER", &creds, &[&alice()], None, NOW, IP)
                .is_accepted()
        );
        let mut strict = verifier().require_qop(true);
        assert_eq!(
            strict.verify("REGISTER", &creds, &[&alice()], None, NOW, IP),
            Verdict::Invalid(InvalidReason::QopRequired)
        );
    }

    #[test]
    fn any_candidate_may_succeed() {
        let mut v = verifier();
        let other = Auth {
            username: "alice".into(),
            password: "second".into(),
            ..Auth::default()
        };
        let ch = &v.challenge(&alice(), None, NOW, IP, false)[0];
        let creds = answer(ch, "alice", "second", 1);
        assert_eq!(
            v.verify("REGISTER", &creds, &[&alice(), &other], None, NOW, IP),
            Verdict::Accepted {
                index: 1,
                algorithm: DigestAlgorithm::Md5
            }
        );
    }

    #[test]
    fn realm_other_than_auths_is_invalid() {
        let mut v = verifier();
        let auth = Auth {
            realm: "a.example".into(),
            ..alice()
        };
        // A nonce genuinely issued for realm b.example (e.g. by another auth object).
        let other = Auth {
            realm: "b.example".into(),
            ..alice()
        };
        let ch = &v.challenge(&other, None, NOW, IP, false)[0];
        let creds = answer(ch, "alice", "wonderland", 1);
        assert_eq!(
            v.verify("REGISTER", &creds, &[&auth], None, NOW, IP),
            Verdict::Invalid(InvalidReason::RealmMismatch)
        );
    }

    #[test]
    fn userhash_identifies_the_user() {
        let mut v = verifier();
        let ch = &v.challenge(&alice(), None, NOW, IP, false)[0];
        let mut creds = answer(ch, "alice", "wonderland", 1);
        creds.username = digest::userhash(DigestAlgorithm::Md5, "alice", DEFAULT_REALM);
        creds.userhash = true;
        assert!(
            v.verify("REGISTER", &creds, &[&alice()], None, NOW, IP)
                .is_accepted()
        );
    }

    #[test]
    fn verdict_failure_classification() {
        assert!(!Verdict::Stale.is_failure());
        assert!(Verdict::UnknownUser.is_failure());
        assert!(
            !Verdict::Accepted {
                index: 0,
                algorithm: DigestAlgorithm::Md5
            }
            .is_failure()
        );
    }
}
