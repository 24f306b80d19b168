//! Black-box tests of `pjsipd::auth`: a client/server round trip through header text,
//! replay rejection, and properties of the header parser.

use std::net::IpAddr;

use pjsipd::auth::{
    Algorithm, ChallengeKind, ClientAuth, DigestChallenge, DigestCredentials, NonceKey, Qop,
    Verdict, Verifier,
};
use pjsipd::config::options::ListOf;
use pjsipd::config::types::{Auth, DigestAlgorithm};
use proptest::prelude::*;

const NOW: u64 = 1_750_000_000;
const URI: &str = "sip:pbx.example.com;transport=tcp";

fn source() -> IpAddr {
    "203.0.113.9".parse().unwrap()
}

fn phone_auth() -> Auth {
    Auth {
        username: "1001".into(),
        password: "s3cr\"et".into(),
        supported_algorithms_uas: ListOf(vec![
            DigestAlgorithm::Sha512_256,
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Md5,
        ]),
        supported_algorithms_uac: ListOf(vec![DigestAlgorithm::Sha256]),
        ..Auth::default()
    }
}

/// Server challenges, the challenge goes over the wire as text, the client answers, the
/// answer goes back as text, the server verifies.
fn round_trip(verifier: &mut Verifier, client: &mut ClientAuth) -> (DigestCredentials, Verdict) {
    let auth = phone_auth();
    let wire: Vec<String> = verifier
        .challenge(&auth, None, NOW, source(), false)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(wire.len(), 3);
    let parsed: Vec<DigestChallenge> = wire.iter().map(|h| h.parse().unwrap()).collect();
    let headers = client
        .respond(ChallengeKind::Www, &parsed, &[&auth], "REGISTER", URI)
        .unwrap();
    assert_eq!(headers.len(), 1);
    assert_eq!(headers[0].name(), "Authorization");
    let text = headers[0].credentials.to_string();
    let creds: DigestCredentials = text.parse().unwrap();
    let verdict = verifier.verify("REGISTER", &creds, &[&auth], None, NOW + 2, source());
    (creds, verdict)
}

#[test]
fn client_answer_to_verifier_challenge_is_accepted() {
    let mut verifier = Verifier::new(NonceKey::from_bytes([1; 32]), "asterisk");
    let mut client = ClientAuth::new();
    let (creds, verdict) = round_trip(&mut verifier, &mut client);
    // The client only answers SHA-256 (supported_algorithms_uac), skipping SHA-512-256.
    assert_eq!(
        creds.algorithm,
        Some(Algorithm::Known(DigestAlgorithm::Sha256))
    );
    assert_eq!(
        verdict,
        Verdict::Accepted {
            index: 0,
            algorithm: DigestAlgorithm::Sha256
        }
    );
}

#[test]
fn replayed_credentials_are_rejected() {
    let mut verifier = Verifier::new(NonceKey::from_bytes([2; 32]), "asterisk");
    let mut client = ClientAuth::new();
    let (creds, verdict) = round_trip(&mut verifier, &mut client);
    assert!(verdict.is_accepted());
    let again = verifier.verify(
        "REGISTER",
        &creds,
        &[&phone_auth()],
        None,
        NOW + 3,
        source(),
    );
    assert_eq!(again, Verdict::Replay);
}

#[test]
fn next_request_with_next_nonce_count_is_accepted() {
    let mut verifier = Verifier::new(NonceKey::from_bytes([3; 32]), "asterisk");
    let mut client = ClientAuth::new();
    let (_, verdict) = round_trip(&mut verifier, &mut client);
    assert!(verdict.is_accepted());
    client.start_chain();
    let next = client.authorize("REGISTER", URI).unwrap();
    assert_eq!(next[0].credentials.nc, Some(2));
    let creds: DigestCredentials = next[0].credentials.to_string().parse().unwrap();
    let v = verifier.verify(
        "REGISTER",
        &creds,
        &[&phone_auth()],
        None,
        NOW + 4,
        source(),
    );
    assert!(v.is_accepted());
}

#[test]
fn stale_nonce_round_trip_recovers() {
    let mut verifier = Verifier::new(NonceKey::from_bytes([4; 32]), "asterisk");
    let mut client = ClientAuth::new();
    let (_, verdict) = round_trip(&mut verifier, &mut client);
    assert!(verdict.is_accepted());
    // A minute later the cached nonce is stale.
    let later = NOW + 60;
    client.start_chain();
    let pre = client.authorize("REGISTER", URI).unwrap();
    let auth = phone_auth();
    let v = verifier.verify(
        "REGISTER",
        &pre[0].credentials,
        &[&auth],
        None,
        later,
        source(),
    );
    assert_eq!(v, Verdict::Stale);
    let challenges = verifier.challenge(&auth, None, later, source(), true);
    let h = client
        .respond(ChallengeKind::Www, &challenges, &[&auth], "REGISTER", URI)
        .unwrap();
    let v = verifier.verify(
        "REGISTER",
        &h[0].credentials,
        &[&auth],
        None,
        later,
        source(),
    );
    assert!(v.is_accepted());
}

fn text() -> impl Strategy<Value = String> {
    // Printable text, including quotes, backslashes, commas, '=' and non-ASCII.
    "[^\\x00-\\x1f\\x7f]{0,24}"
}

fn algorithm() -> impl Strategy<Value = Option<Algorithm>> {
    prop_oneof![
        Just(None),
        Just(Some(Algorithm::Known(DigestAlgorithm::Md5))),
        Just(Some(Algorithm::Known(DigestAlgorithm::Sha256))),
        Just(Some(Algorithm::Known(DigestAlgorithm::Sha512_256))),
        "[A-Za-z][A-Za-z0-9]{0,6}-sess".prop_map(|s| Some(Algorithm::Other(s))),
    ]
}

fn qop() -> impl Strategy<Value = Qop> {
    prop_oneof![
        Just(Qop::Auth),
        Just(Qop::AuthInt),
        "x-[a-z]{1,8}".prop_map(Qop::Other),
    ]
}

fn challenge() -> impl Strategy<Value = DigestChallenge> {
    (
        text(),
        text(),
        proptest::option::of(text()),
        any::<bool>(),
        algorithm(),
        proptest::collection::vec(qop(), 0..3),
        proptest::collection::vec("[a-z:./]{1,12}", 0..3),
    )
        .prop_map(
            |(realm, nonce, opaque, stale, algorithm, qop, domain)| DigestChallenge {
                realm,
                nonce,
                opaque,
                stale,
                algorithm,
                qop,
                domain,
            },
        )
}

fn credentials() -> impl Strategy<Value = DigestCredentials> {
    (
        (text(), text(), text(), text(), "[0-9a-f]{0,64}"),
        (
            algorithm(),
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::option::of(qop()),
            proptest::option::of(any::<u32>()),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (username, realm, nonce, uri, response),
                (algorithm, cnonce, opaque, qop, nc, userhash),
            )| {
                DigestCredentials {
                    username,
                    realm,
                    nonce,
                    uri,
                    response,
                    algorithm,
                    cnonce,
                    opaque,
                    qop,
                    nc,
                    userhash,
                }
            },
        )
}

proptest! {
    #[test]
    fn parser_never_panics_on_arbitrary_strings(s in any::<String>()) {
        let _ = s.parse::<DigestChallenge>();
        let _ = s.parse::<DigestCredentials>();
    }

    #[test]
    fn parser_never_panics_on_digest_like_strings(
        s in "Digest [a-z=\", \\\\\t\r\n]{0,60}"
    ) {
        let _ = s.parse::<DigestChallenge>();
        let _ = s.parse::<DigestCredentials>();
    }

    #[test]
    fn challenge_display_parse_round_trips(c in challenge()) {
        let text = c.to_string();
        prop_assert_eq!(text.parse::<DigestChallenge>(), Ok(c));
    }

    #[test]
    fn credentials_display_parse_round_trips(c in credentials()) {
        let text = c.to_string();
        prop_assert_eq!(text.parse::<DigestCredentials>(), Ok(c));
    }
}
