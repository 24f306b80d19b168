//! The UAC side: answering 401/407 challenges with the outbound auth objects (Asterisk
//! `res_pjsip_outbound_authenticator_digest.c`, reference section 11), as pure logic.
//!
//! For each request chain (a request and its authenticated retries) the caller calls
//! [`ClientAuth::start_chain`] when it sends a *new* request, then
//! [`ClientAuth::respond`] with the parsed challenges of each 401/407 it receives, and
//! adds the returned headers to the retry (with CSeq + 1). A second challenge for a realm
//! already answered in the chain means the credentials were rejected:
//! [`AuthError::ChallengeLoop`], and the request fails (one retry is allowed when the
//! server says `stale=true` with a new nonce).
//!
//! The per-realm nonce and nonce count are kept across chains, so that later requests can
//! carry credentials up front ([`ClientAuth::authorize`]). Randomness (the cnonce) comes
//! from the operating system or from a source injected for tests; no clock is read.

use std::fmt;

use super::digest::{self, QopAuth};
use super::error::AuthError;
use super::params::{DigestChallenge, DigestCredentials, Qop};
use crate::config::types::{Auth, AuthType, DigestAlgorithm};

/// Which kind of challenge is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChallengeKind {
    /// 401 with `WWW-Authenticate`, answered with `Authorization`.
    Www,
    /// 407 with `Proxy-Authenticate`, answered with `Proxy-Authorization`.
    Proxy,
}

impl ChallengeKind {
    /// The kind for a response status: 401 or 407.
    pub fn from_status(status: u16) -> Option<Self> {
        match status {
            401 => Some(Self::Www),
            407 => Some(Self::Proxy),
            _ => None,
        }
    }

    /// The header carrying challenges.
    pub fn challenge_header(self) -> &'static str {
        match self {
            Self::Www => "WWW-Authenticate",
            Self::Proxy => "Proxy-Authenticate",
        }
    }

    /// The header carrying credentials.
    pub fn credentials_header(self) -> &'static str {
        match self {
            Self::Www => "Authorization",
            Self::Proxy => "Proxy-Authorization",
        }
    }
}

/// A credentials header to add to the retried request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationHeader {
    /// `Authorization` or `Proxy-Authorization`.
    pub kind: ChallengeKind,
    /// The value.
    pub credentials: DigestCredentials,
}

impl AuthorizationHeader {
    /// The header name.
    pub fn name(&self) -> &'static str {
        self.kind.credentials_header()
    }
}

/// What we remember about a realm we answered.
#[derive(Clone)]
struct RealmState {
    kind: ChallengeKind,
    realm: String,
    algorithm: DigestAlgorithm,
    challenge: DigestChallenge,
    username: String,
    ha1: String,
    /// Last nonce count used with `challenge.nonce`.
    nc: u32,
    /// Answers given with `respond` in the current chain.
    attempts: u32,
}

impl fmt::Debug for RealmState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // H(A1) is a password equivalent: never print it.
        f.debug_struct("RealmState")
            .field("kind", &self.kind)
            .field("realm", &self.realm)
            .field("algorithm", &self.algorithm)
            .field("username", &self.username)
            .field("nc", &self.nc)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

type CnonceSource = Box<dyn FnMut() -> Result<String, AuthError> + Send>;

/// Client digest state for one peer or registration.
pub struct ClientAuth {
    realms: Vec<RealmState>,
    cnonce: CnonceSource,
    /// MD5 unless configured: borrowed, so that the client state of every request sent
    /// (kept while its transaction lives) allocates nothing for it.
    default_algorithms: std::borrow::Cow<'static, [DigestAlgorithm]>,
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAuth")
            .field("realms", &self.realms)
            .field("default_algorithms", &self.default_algorithms)
            .finish_non_exhaustive()
    }
}

impl Default for ClientAuth {
    fn default() -> Self {
        Self::new()
    }
}

/// 16 random bytes as hex.
fn random_cnonce() -> Result<String, AuthError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)?;
    Ok(hex::encode(b))
}

impl ClientAuth {
    /// Random cnonces from the operating system; default algorithms MD5.
    pub fn new() -> Self {
        Self {
            realms: Vec::new(),
            cnonce: Box::new(random_cnonce),
            default_algorithms: std::borrow::Cow::Borrowed(&[DigestAlgorithm::Md5]),
        }
    }

    /// Cnonces from `source` (deterministic tests).
    pub fn with_cnonce_source(
        mut self,
        mut source: impl FnMut() -> String + Send + 'static,
    ) -> Self {
        self.cnonce = Box::new(move || Ok(source()));
        self
    }

    /// Sets the global `default_auth_algorithms_uac` (an empty list keeps MD5).
    pub fn with_default_algorithms(mut self, algorithms: Vec<DigestAlgorithm>) -> Self {
        if !algorithms.is_empty() {
            self.default_algorithms = algorithms.into();
        }
        self
    }

    /// Starts a new request chain: the next challenge for any realm is answered again.
    /// Call when sending a new request, not for an authenticated retry.
    pub fn start_chain(&mut self) {
        for r in &mut self.realms {
            r.attempts = 0;
        }
    }

    /// Forgets every nonce (e.g. after the peer restarted or the auth objects changed).
    pub fn clear(&mut self) {
        self.realms.clear();
    }

    /// The algorithms `auth` answers.
    fn algorithms_for<'a>(&'a self, auth: &'a Auth) -> &'a [DigestAlgorithm] {
        if auth.supported_algorithms_uac.is_empty() {
            &self.default_algorithms
        } else {
            &auth.supported_algorithms_uac.0
        }
    }

    fn usable(&self, auth: &Auth, algorithm: DigestAlgorithm) -> bool {
        auth.auth_type != AuthType::GoogleOauth
            && self.algorithms_for(auth).contains(&algorithm)
            && auth.has_credentials_for(algorithm)
    }

    /// Asterisk's choice: the auth whose realm equals the challenge's exactly, else the
    /// first wildcard (empty or `*` realm) one, in both cases able to answer `algorithm`.
    fn pick<'a>(
        &self,
        auths: &[&'a Auth],
        realm: &str,
        algorithm: DigestAlgorithm,
    ) -> Option<&'a Auth> {
        auths
            .iter()
            .find(|a| a.realm == realm && self.usable(a, algorithm))
            .or_else(|| {
                auths
                    .iter()
                    .find(|a| (a.realm.is_empty() || a.realm == "*") && self.usable(a, algorithm))
            })
            .copied()
    }

    /// Answers the challenges of a 401 (`Www`) or 407 (`Proxy`) for a request with
    /// `method` and Request-URI `uri`, using the outbound auth objects `auths`.
    ///
    /// Challenges are walked in order; those with an algorithm we do not implement or the
    /// auth does not support, or offering only `auth-int`, are skipped; a realm gets one
    /// answer (the first usable challenge). Errors: [`AuthError::NoChallenge`],
    /// [`AuthError::NoCredentials`] when nothing could be answered,
    /// [`AuthError::ChallengeLoop`] when a realm answered in this chain is challenged
    /// again, [`AuthError::Random`] if the cnonce could not be generated.
    pub fn respond(
        &mut self,
        kind: ChallengeKind,
        challenges: &[DigestChallenge],
        auths: &[&Auth],
        method: &str,
        uri: &str,
    ) -> Result<Vec<AuthorizationHeader>, AuthError> {
        if challenges.is_empty() {
            return Err(AuthError::NoChallenge);
        }
        let mut out: Vec<AuthorizationHeader> = Vec::new();
        for ch in challenges {
            let Some(algorithm) = ch.algorithm().known() else {
                continue;
            };
            if !ch.qop.is_empty() && !ch.offers_qop_auth() {
                continue;
            }
            if out.iter().any(|h| h.credentials.realm == ch.realm) {
                continue;
            }
            let Some(auth) = self.pick(auths, &ch.realm, algorithm) else {
                continue;
            };
            let Some(ha1) = digest::ha1_for_auth(auth, algorithm, &auth.username, &ch.realm) else {
                continue;
            };
            let pos = self
                .realms
                .iter()
                .position(|r| r.kind == kind && r.realm == ch.realm);
            let state = match pos {
                Some(i) => {
                    let r = &mut self.realms[i];
                    if r.attempts > 0
                        && (!ch.stale || r.attempts >= 2 || r.challenge.nonce == ch.nonce)
                    {
                        return Err(AuthError::ChallengeLoop {
                            realm: ch.realm.clone(),
                        });
                    }
                    if r.challenge.nonce != ch.nonce || r.algorithm != algorithm {
                        r.nc = 0;
                    }
                    r.challenge = ch.clone();
                    r.algorithm = algorithm;
                    r.username = auth.username.clone();
                    r.ha1 = ha1;
                    r
                }
                None => {
                    self.realms.push(RealmState {
                        kind,
                        realm: ch.realm.clone(),
                        algorithm,
                        challenge: ch.clone(),
                        username: auth.username.clone(),
                        ha1,
                        nc: 0,
                        attempts: 0,
                    });
                    let last = self.realms.len() - 1;
                    &mut self.realms[last]
                }
            };
            state.attempts += 1;
            let credentials = build(state, &mut self.cnonce, method, uri)?;
            out.push(AuthorizationHeader { kind, credentials });
        }
        if out.is_empty() {
            let offered = challenges
                .iter()
                .map(|c| format!("{}/{}", c.realm, c.algorithm().as_str()))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(AuthError::NoCredentials { offered });
        }
        Ok(out)
    }

    /// Credentials for every realm answered before, with the next nonce count, to send
    /// up front on a new request (e.g. a registration refresh). Does not count as an
    /// answer in the chain. Empty when nothing was answered yet.
    pub fn authorize(
        &mut self,
        method: &str,
        uri: &str,
    ) -> Result<Vec<AuthorizationHeader>, AuthError> {
        let mut out = Vec::with_capacity(self.realms.len());
        for state in &mut self.realms {
            let credentials = build(state, &mut self.cnonce, method, uri)?;
            out.push(AuthorizationHeader {
                kind: state.kind,
                credentials,
            });
        }
        Ok(out)
    }
}

/// Builds credentials from a realm's state, advancing its nonce count.
fn build(
    state: &mut RealmState,
    cnonce_source: &mut CnonceSource,
    method: &str,
    uri: &str,
) -> Result<DigestCredentials, AuthError> {
    let a = state.algorithm;
    let ha2 = digest::ha2(a, method, uri);
    let ch = &state.challenge;
    let (qop, cnonce, nc, response) = if ch.offers_qop_auth() {
        let cnonce = cnonce_source()?;
        state.nc = state.nc.wrapping_add(1).max(1);
        let q = QopAuth {
            nc: state.nc,
            cnonce: &cnonce,
        };
        let response = digest::response(a, &state.ha1, &ch.nonce, Some(q), &ha2);
        (Some(Qop::Auth), Some(cnonce), Some(state.nc), response)
    } else {
        let response = digest::response(a, &state.ha1, &ch.nonce, None, &ha2);
        (None, None, None, response)
    };
    Ok(DigestCredentials {
        username: state.username.clone(),
        realm: ch.realm.clone(),
        nonce: ch.nonce.clone(),
        uri: uri.to_string(),
        response,
        algorithm: ch.algorithm.clone(),
        cnonce,
        opaque: ch.opaque.clone(),
        qop,
        nc,
        userhash: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::params::Algorithm;
    use crate::config::options::ListOf;

    const URI: &str = "sip:trunk.example.net";

    fn client() -> ClientAuth {
        let mut n = 0u32;
        ClientAuth::new().with_cnonce_source(move || {
            n += 1;
            format!("cnonce{n}")
        })
    }

    fn auth(id: &str, realm: &str) -> Auth {
        Auth {
            username: id.into(),
            password: format!("{id}-secret"),
            realm: realm.into(),
            ..Auth::default()
        }
    }

    fn challenge(realm: &str, nonce: &str) -> DigestChallenge {
        DigestChallenge {
            realm: realm.into(),
            nonce: nonce.into(),
            algorithm: Some(DigestAlgorithm::Md5.into()),
            qop: vec![Qop::Auth],
            ..Default::default()
        }
    }

    #[test]
    fn exact_realm_beats_wildcard() {
        let mut c = client();
        let wild = auth("wild", "*");
        let exact = auth("exact", "trunk");
        let h = c
            .respond(
                ChallengeKind::Www,
                &[challenge("trunk", "n1")],
                &[&wild, &exact],
                "INVITE",
                URI,
            )
            .unwrap();
        assert_eq!(h[0].credentials.username, "exact");
    }

    #[test]
    fn wildcard_used_when_no_exact_realm() {
        for realm in ["*", ""] {
            let mut c = client();
            let other = auth("other", "elsewhere");
            let wild = auth("wild", realm);
            let h = c
                .respond(
                    ChallengeKind::Www,
                    &[challenge("trunk", "n1")],
                    &[&other, &wild],
                    "INVITE",
                    URI,
                )
                .unwrap();
            assert_eq!(h[0].credentials.username, "wild");
            assert_eq!(h[0].credentials.realm, "trunk");
        }
    }

    #[test]
    fn no_matching_realm_is_no_credentials() {
        let mut c = client();
        let other = auth("other", "elsewhere");
        let e = c
            .respond(
                ChallengeKind::Www,
                &[challenge("trunk", "n1")],
                &[&other],
                "INVITE",
                URI,
            )
            .unwrap_err();
        assert_eq!(
            e,
            AuthError::NoCredentials {
                offered: "trunk/MD5".into()
            }
        );
    }

    #[test]
    fn proxy_challenge_is_answered_with_proxy_authorization() {
        let mut c = client();
        let a = auth("u", "");
        let h = c
            .respond(
                ChallengeKind::from_status(407).unwrap(),
                &[challenge("proxy", "n1")],
                &[&a],
                "INVITE",
                URI,
            )
            .unwrap();
        assert_eq!(h[0].name(), "Proxy-Authorization");
        assert_eq!(
            ChallengeKind::Proxy.challenge_header(),
            "Proxy-Authenticate"
        );
        assert_eq!(ChallengeKind::from_status(401), Some(ChallengeKind::Www));
        assert_eq!(ChallengeKind::from_status(403), None);
    }

    #[test]
    fn second_challenge_in_chain_is_a_loop() {
        let mut c = client();
        let a = auth("u", "");
        let ch = [challenge("r", "n1")];
        c.respond(ChallengeKind::Www, &ch, &[&a], "REGISTER", URI)
            .unwrap();
        let again = [challenge("r", "n2")];
        assert_eq!(
            c.respond(ChallengeKind::Www, &again, &[&a], "REGISTER", URI),
            Err(AuthError::ChallengeLoop { realm: "r".into() })
        );
    }

    #[test]
    fn stale_challenge_allows_one_retry() {
        let mut c = client();
        let a = auth("u", "");
        c.respond(
            ChallengeKind::Www,
            &[challenge("r", "n1")],
            &[&a],
            "REGISTER",
            URI,
        )
        .unwrap();
        let stale = DigestChallenge {
            stale: true,
            ..challenge("r", "n2")
        };
        let h = c
            .respond(ChallengeKind::Www, &[stale], &[&a], "REGISTER", URI)
            .unwrap();
        assert_eq!(h[0].credentials.nc, Some(1));
        let stale_again = DigestChallenge {
            stale: true,
            ..challenge("r", "n3")
        };
        assert!(matches!(
            c.respond(ChallengeKind::Www, &[stale_again], &[&a], "REGISTER", URI),
            Err(AuthError::ChallengeLoop { .. })
        ));
    }

    #[test]
    fn new_chain_answers_again() {
        let mut c = client();
        let a = auth("u", "");
        c.respond(
            ChallengeKind::Www,
            &[challenge("r", "n1")],
            &[&a],
            "REGISTER",
            URI,
        )
        .unwrap();
        c.start_chain();
        assert!(
            c.respond(
                ChallengeKind::Www,
                &[challenge("r", "n2")],
                &[&a],
                "REGISTER",
                URI
            )
            .is_ok()
        );
    }

    #[test]
    fn nc_increments_per_nonce_and_resets_on_new_nonce() {
        let mut c = client();
        let a = auth("u", "");
        let h = c
            .respond(
                ChallengeKind::Www,
                &[challenge("r", "n1")],
                &[&a],
                "REGISTER",
                URI,
            )
            .unwrap();
        assert_eq!(h[0].credentials.nc, Some(1));
        let h = c.authorize("REGISTER", URI).unwrap();
        assert_eq!(h[0].credentials.nc, Some(2));
        assert_eq!(h[0].credentials.nonce, "n1");
        c.start_chain();
        let h = c
            .respond(
                ChallengeKind::Www,
                &[challenge("r", "n2")],
                &[&a],
                "REGISTER",
                URI,
            )
            .unwrap();
        assert_eq!(h[0].credentials.nc, Some(1));
    }

    #[test]
    fn cnonce_comes_from_the_source_and_changes() {
        let mut c = client();
        let a = auth("u", "");
        let h = c
            .respond(
                ChallengeKind::Www,
                &[challenge("r", "n1")],
                &[&a],
                "REGISTER",
                URI,
            )
            .unwrap();
        assert_eq!(h[0].credentials.cnonce.as_deref(), Some("cnonce1"));
        let h = c.authorize("REGISTER", URI).unwrap();
        assert_eq!(h[0].credentials.cnonce.as_deref(), Some("cnonce2"));
    }

    #[test]
    fn random_cnonces_differ() {
        let mut c = ClientAuth::new();
        let a = auth("u", "");
        let h1 = c
            .respond(
                ChallengeKind::Www,
                &[challenge("r", "n1")],
                &[&a],
                "REGISTER",
                URI,
            )
            .unwrap();
        let h2 = c.authorize("REGISTER", URI).unwrap();
        let c1 = h1[0].credentials.cnonce.clone().unwrap();
        assert_eq!(c1.len(), 32);
        assert_ne!(Some(c1), h2[0].credentials.cnonce);
    }

    #[test]
    fn response_matches_rfc2617_example() {
        let mut c = ClientAuth::new().with_cnonce_source(|| "0a4f113b".to_string());
        let a = Auth {
            username: "Mufasa".into(),
            password: "Circle Of Life".into(),
            ..Auth::default()
        };
        let ch = DigestChallenge {
            realm: "testrealm@host.com".into(),
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093".into(),
            opaque: Some("5ccc069c403ebaf9f0171e9517f40e41".into()),
            qop: vec![Qop::Auth, Qop::AuthInt],
            ..Default::default()
        };
        let h = c
            .respond(ChallengeKind::Www, &[ch], &[&a], "GET", "/dir/index.html")
            .unwrap();
        let cr = &h[0].credentials;
        assert_eq!(cr.response, "6629fae49393a05397450978507c4ef1");
        assert_eq!(
            cr.opaque.as_deref(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
        assert_eq!(cr.algorithm, None);
    }

    #[test]
    fn no_qop_challenge_gets_rfc2069_answer() {
        let mut c = client();
        let a = auth("u", "");
        let ch = DigestChallenge {
            qop: vec![],
            ..challenge("r", "n1")
        };
        let h = c
            .respond(ChallengeKind::Www, &[ch], &[&a], "REGISTER", URI)
            .unwrap();
        let cr = &h[0].credentials;
        assert_eq!(
            (cr.qop.as_ref(), cr.nc, cr.cnonce.as_ref()),
            (None, None, None)
        );
    }

    #[test]
    fn unsupported_algorithms_are_skipped() {
        let mut c = client();
        let a = auth("u", "");
        let sess = DigestChallenge {
            algorithm: Some(Algorithm::Other("MD5-sess".into())),
            ..challenge("r", "n0")
        };
        let sha = DigestChallenge {
            algorithm: Some(DigestAlgorithm::Sha256.into()),
            ..challenge("r", "n1")
        };
        let md5 = challenge("r", "n2");
        let h = c
            .respond(
                ChallengeKind::Www,
                &[sess, sha, md5],
                &[&a],
                "REGISTER",
                URI,
            )
            .unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].credentials.nonce, "n2");
    }

    #[test]
    fn supported_algorithms_uac_selects_the_challenge() {
        let mut c = client();
        let a = Auth {
            supported_algorithms_uac: ListOf(vec![DigestAlgorithm::Sha512_256]),
            ..auth("u", "")
        };
        let md5 = challenge("r", "n1");
        let sha = DigestChallenge {
            algorithm: Some(DigestAlgorithm::Sha512_256.into()),
            ..challenge("r", "n1")
        };
        let h = c
            .respond(ChallengeKind::Www, &[md5, sha], &[&a], "REGISTER", URI)
            .unwrap();
        assert_eq!(
            h[0].credentials.algorithm,
            Some(DigestAlgorithm::Sha512_256.into())
        );
    }

    #[test]
    fn auth_int_only_is_skipped() {
        let mut c = client();
        let a = auth("u", "");
        let ch = DigestChallenge {
            qop: vec![Qop::AuthInt],
            ..challenge("r", "n1")
        };
        assert!(matches!(
            c.respond(ChallengeKind::Www, &[ch], &[&a], "REGISTER", URI),
            Err(AuthError::NoCredentials { .. })
        ));
    }

    #[test]
    fn one_answer_per_realm_and_one_per_each_realm() {
        let mut c = client();
        let a = auth("a", "ra");
        let b = auth("b", "rb");
        let chs = [
            challenge("ra", "n1"),
            challenge("ra", "n2"),
            challenge("rb", "n3"),
        ];
        let h = c
            .respond(ChallengeKind::Proxy, &chs, &[&a, &b], "INVITE", URI)
            .unwrap();
        let got: Vec<_> = h
            .iter()
            .map(|h| {
                (
                    h.credentials.username.as_str(),
                    h.credentials.nonce.as_str(),
                )
            })
            .collect();
        assert_eq!(got, vec![("a", "n1"), ("b", "n3")]);
    }

    #[test]
    fn empty_challenge_list_is_an_error() {
        let mut c = client();
        assert_eq!(
            c.respond(ChallengeKind::Www, &[], &[], "INVITE", URI),
            Err(AuthError::NoChallenge)
        );
    }

    #[test]
    fn debug_does_not_show_ha1() {
        let mut c = client();
        let a = auth("u", "");
        c.respond(
            ChallengeKind::Www,
            &[challenge("r", "n1")],
            &[&a],
            "REGISTER",
            URI,
        )
        .unwrap();
        let ha1 = digest::ha1(DigestAlgorithm::Md5, "u", "r", "u-secret");
        assert!(!format!("{c:?}").contains(&ha1));
    }
}
