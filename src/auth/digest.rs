//! Digest computations (RFC 2617 section 3.2.2, RFC 7616 section 3.4, RFC 8760):
//! H(A1), H(A2), the request-digest with and without qop, and their constant-time
//! comparison. Only `qop=auth` (and RFC 2069 no-qop) is implemented: `auth-int` is not
//! offered, as in Asterisk.

use md5::Md5;
use sha2::{Digest, Sha256, Sha512_256};
use subtle::ConstantTimeEq;

use crate::config::types::{Auth, DigestAlgorithm};

/// Hashes `parts` joined with `:` and returns lower-case hex.
pub fn hash_joined(algorithm: DigestAlgorithm, parts: &[&[u8]]) -> String {
    fn run<D: Digest>(parts: &[&[u8]]) -> String {
        let mut d = D::new();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                d.update(b":");
            }
            d.update(p);
        }
        hex::encode(d.finalize())
    }
    match algorithm {
        DigestAlgorithm::Md5 => run::<Md5>(parts),
        DigestAlgorithm::Sha256 => run::<Sha256>(parts),
        DigestAlgorithm::Sha512_256 => run::<Sha512_256>(parts),
    }
}

/// H(A1) = H(username:realm:password).
pub fn ha1(algorithm: DigestAlgorithm, username: &str, realm: &str, password: &str) -> String {
    hash_joined(
        algorithm,
        &[username.as_bytes(), realm.as_bytes(), password.as_bytes()],
    )
}

/// H(A1) for an auth object: its `password_digest` for `algorithm` if configured (a
/// precomputed H(username:realm:password), used as is, whatever `realm` is), else
/// computed from the plain `password`. `None` when the auth has neither.
pub fn ha1_for_auth(
    auth: &Auth,
    algorithm: DigestAlgorithm,
    username: &str,
    realm: &str,
) -> Option<String> {
    if let Some(d) = auth.digest(algorithm) {
        return Some(d.hex.to_ascii_lowercase());
    }
    if auth.password.is_empty() {
        return None;
    }
    Some(ha1(algorithm, username, realm, &auth.password))
}

/// H(A2) = H(method:digest-uri) (qop absent or `auth`).
pub fn ha2(algorithm: DigestAlgorithm, method: &str, uri: &str) -> String {
    hash_joined(algorithm, &[method.as_bytes(), uri.as_bytes()])
}

/// The `qop=auth` inputs of a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QopAuth<'a> {
    /// Nonce count.
    pub nc: u32,
    /// Client nonce.
    pub cnonce: &'a str,
}

/// The request-digest: `H(HA1:nonce:nc:cnonce:auth:HA2)` with qop, or
/// `H(HA1:nonce:HA2)` without (RFC 2069 compatibility).
pub fn response(
    algorithm: DigestAlgorithm,
    ha1: &str,
    nonce: &str,
    qop: Option<QopAuth<'_>>,
    ha2: &str,
) -> String {
    match qop {
        Some(q) => {
            let nc = format!("{:08x}", q.nc);
            hash_joined(
                algorithm,
                &[
                    ha1.as_bytes(),
                    nonce.as_bytes(),
                    nc.as_bytes(),
                    q.cnonce.as_bytes(),
                    b"auth",
                    ha2.as_bytes(),
                ],
            )
        }
        None => hash_joined(
            algorithm,
            &[ha1.as_bytes(), nonce.as_bytes(), ha2.as_bytes()],
        ),
    }
}

/// The hashed username of RFC 7616 section 3.4.4: H(username:realm).
pub fn userhash(algorithm: DigestAlgorithm, username: &str, realm: &str) -> String {
    hash_joined(algorithm, &[username.as_bytes(), realm.as_bytes()])
}

/// Compares an expected lower-case hex digest with a received one in constant time (for
/// equal lengths); the received value is compared case-insensitively.
pub fn responses_match(expected: &str, received: &str) -> bool {
    let received = received.to_ascii_lowercase();
    bool::from(expected.as_bytes().ct_eq(received.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::options::ListOf;
    use crate::config::types::PasswordDigest;

    // RFC 7616 section 3.9.1.
    const NONCE_7616: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const CNONCE_7616: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    fn rfc7616_response(a: DigestAlgorithm) -> String {
        let h1 = ha1(a, "Mufasa", "http-auth@example.org", "Circle of Life");
        let h2 = ha2(a, "GET", "/dir/index.html");
        let q = QopAuth {
            nc: 1,
            cnonce: CNONCE_7616,
        };
        response(a, &h1, NONCE_7616, Some(q), &h2)
    }

    #[test]
    fn rfc2617_section_3_5_example() {
        let a = DigestAlgorithm::Md5;
        let h1 = ha1(a, "Mufasa", "testrealm@host.com", "Circle Of Life");
        let h2 = ha2(a, "GET", "/dir/index.html");
        let q = QopAuth {
            nc: 1,
            cnonce: "0a4f113b",
        };
        let r = response(a, &h1, "dcd98b7102dd2f0e8b11d0f600bfb0c093", Some(q), &h2);
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn rfc7616_section_3_9_1_md5() {
        assert_eq!(
            rfc7616_response(DigestAlgorithm::Md5),
            "8ca523f5e9506fed4657c9700eebdbec"
        );
    }

    #[test]
    fn rfc7616_section_3_9_1_sha256() {
        assert_eq!(
            rfc7616_response(DigestAlgorithm::Sha256),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn sha512_256_matches_openssl() {
        // python3 hashlib.new("sha512_256") and `openssl dgst -sha512-256` agree on H(A1).
        let a = DigestAlgorithm::Sha512_256;
        assert_eq!(
            ha1(a, "Mufasa", "testrealm@host.com", "Circle Of Life"),
            "4f89a1c293dd533bc27546c1da0608df9efcaa6bd1c350edca70a01c8a823360"
        );
        assert_eq!(
            rfc7616_response(a),
            "430d05014cecc49cab6fbe03176d41a1da86cbfe24a16580e22aaad928d960d0"
        );
    }

    #[test]
    fn sha512_256_rfc2617_inputs_with_and_without_qop() {
        let a = DigestAlgorithm::Sha512_256;
        let h1 = ha1(a, "Mufasa", "testrealm@host.com", "Circle Of Life");
        let h2 = ha2(a, "GET", "/dir/index.html");
        assert_eq!(
            h2,
            "c2cc924c647b13c41e0fb8825bdaa97d0a1f2a7afb15e1e03c994229b20e1c92"
        );
        let nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093";
        let q = QopAuth {
            nc: 1,
            cnonce: "0a4f113b",
        };
        assert_eq!(
            response(a, &h1, nonce, Some(q), &h2),
            "f23c08ec7334a881f8286e68450ddbd9f0cd91c41481f0e1433604da8113c6dc"
        );
        assert_eq!(
            response(a, &h1, nonce, None, &h2),
            "3deae27bad9c39b6ec8a1bc6667c6f4a1901537183578d85aee41cd72543011d"
        );
    }

    #[test]
    fn rfc2069_response_without_qop() {
        // python3: md5(HA1:nonce:HA2) for the RFC 2617 example inputs.
        let a = DigestAlgorithm::Md5;
        let h1 = ha1(a, "Mufasa", "testrealm@host.com", "Circle Of Life");
        let h2 = ha2(a, "GET", "/dir/index.html");
        assert_eq!(
            response(a, &h1, "dcd98b7102dd2f0e8b11d0f600bfb0c093", None, &h2),
            "670fd8c2df070c60b045671b8b24ff02"
        );
    }

    #[test]
    fn userhash_sha512_256() {
        // python3 hashlib, RFC 7616 section 3.9.2 inputs.
        assert_eq!(
            userhash(
                DigestAlgorithm::Sha512_256,
                "J\u{e4}s\u{f8}n Doe",
                "api@example.org"
            ),
            "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b"
        );
    }

    #[test]
    fn ha1_prefers_password_digest() {
        let digest = ha1(DigestAlgorithm::Md5, "u", "r", "secret");
        let auth = Auth {
            password: "other".into(),
            password_digest: ListOf(vec![PasswordDigest {
                algorithm: DigestAlgorithm::Md5,
                hex: digest.clone(),
            }]),
            ..Default::default()
        };
        assert_eq!(
            ha1_for_auth(&auth, DigestAlgorithm::Md5, "u", "r"),
            Some(digest)
        );
        // No digest for SHA-256: the plain password is used.
        assert_eq!(
            ha1_for_auth(&auth, DigestAlgorithm::Sha256, "u", "r"),
            Some(ha1(DigestAlgorithm::Sha256, "u", "r", "other"))
        );
    }

    #[test]
    fn ha1_without_credentials_is_none() {
        let auth = Auth::default();
        assert_eq!(ha1_for_auth(&auth, DigestAlgorithm::Md5, "u", "r"), None);
    }

    #[test]
    fn responses_match_is_case_insensitive_and_exact() {
        let e = "6629fae49393a05397450978507c4ef1";
        assert!(responses_match(e, "6629FAE49393A05397450978507C4EF1"));
        assert!(!responses_match(e, "6629fae49393a05397450978507c4ef0"));
        assert!(!responses_match(e, "6629fae49393a05397450978507c4ef"));
        assert!(!responses_match(e, ""));
    }
}
