//! The core's own requests against a UAS played by the test with the daemon's digest
//! verifier: challenge answered with outbound_auth, wrong credentials, timeouts.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::auth::{DigestCredentials, NonceKey, Verdict, Verifier};
use crate::config::types::Auth;
use crate::distributor::{Distributor, Route};
use crate::sip::{HeaderName, Message, Request, response_to};
use crate::testing::snapshot;
use crate::transport::{Flow, Received};

const UAS: &str = "192.0.2.99:5060";
const UNIX: u64 = 1_700_000_000;

fn auth(password: &str) -> Auth {
    let snap = snapshot(&format!(
        "[trunk-auth]\ntype=auth\nusername=pbx\npassword={password}\nrealm=carrier\n"
    ));
    match snap.get(Kind::Auth, "trunk-auth").map(|o| &o.object) {
        Some(Object::Auth(a)) => a.clone(),
        other => panic!("{other:?}"),
    }
}

fn options() -> Request {
    let text = "OPTIONS sip:carrier.example SIP/2.0\r\n\
        Via: SIP/2.0/UDP 192.0.2.1:5060;rport\r\n\
        Max-Forwards: 70\r\n\
        From: <sip:pbx@192.0.2.1>;tag=q1\r\n\
        To: <sip:carrier.example>\r\n\
        Call-ID: qualify-1@192.0.2.1\r\n\
        CSeq: 7 OPTIONS\r\n\
        Content-Length: 0\r\n\r\n";
    match Message::parse(Bytes::from(text)) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

/// The next request the core sent.
fn sent(core: &mut Core) -> Request {
    let t = core.poll_transmit().expect("a request was sent");
    assert_eq!(t.flow.remote.to_string(), UAS);
    match Message::parse(t.bytes) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

/// The UAS's answer, routed back as the daemon does (distributor, then this core).
fn answer(core: &mut Core, distributor: &Distributor, response: crate::sip::Response) {
    let flow = Flow::udp("t", UAS.parse::<SocketAddr>().expect("addr"));
    let rx = Received {
        flow,
        bytes: Message::Response(response).to_bytes(),
    };
    match distributor.route(rx) {
        Route::Queue {
            queue,
            flow,
            message,
        } => {
            assert_eq!(
                queue, 5,
                "the response finds the sending queue by its branch"
            );
            core.handle_message(Instant::now(), UNIX, &snapshot(""), flow, message);
        }
        other => panic!("{other:?}"),
    }
}

fn challenge(uas: &Verifier, request: &Request, correct: &Auth) -> crate::sip::Response {
    let mut r = response_to(
        request,
        crate::sip::StatusCode::new(401).expect("401"),
        Some("uas"),
    );
    let ip: IpAddr = "192.0.2.1".parse().expect("ip");
    for c in uas.challenge_all(&[correct], None, UNIX, ip, false) {
        r.headers.push(HeaderName::WwwAuthenticate, c.to_string());
    }
    r
}

fn credentials(request: &Request) -> Option<DigestCredentials> {
    let v = request.headers.get(&HeaderName::Authorization)?;
    std::str::from_utf8(v).ok()?.parse().ok()
}

fn core() -> (Core, Distributor) {
    let core = Core::new(TimerConfig::default(), NonceKey::from_bytes([1; 32]), 3).with_queue(5);
    (core, Distributor::new(31, 9))
}

fn uas_and_correct() -> (Verifier, Auth) {
    (
        Verifier::new(NonceKey::from_bytes([2; 32]), "carrier"),
        auth("secret"),
    )
}

#[test]
fn rfc3261_22_2_a_challenge_is_answered_with_outbound_auth_on_a_new_branch_and_cseq() {
    let (mut core, distributor) = core();
    let (mut uas, correct) = uas_and_correct();
    let flow = Flow::udp("t", UAS.parse().expect("addr"));
    let id = core
        .send_request(Instant::now(), flow, options(), vec![auth("secret")])
        .expect("sent");
    let first = sent(&mut core);
    assert!(credentials(&first).is_none());
    answer(&mut core, &distributor, challenge(&uas, &first, &correct));
    let second = sent(&mut core);
    assert_eq!(
        second.headers.cseq().expect("cseq").seq,
        8,
        "CSeq increased"
    );
    assert_ne!(
        second.headers.top_via().expect("via").branch(),
        first.headers.top_via().expect("via").branch(),
        "a new transaction"
    );
    assert_eq!(second.headers.call_id(), first.headers.call_id());
    let creds = credentials(&second).expect("Authorization");
    let ip: IpAddr = "192.0.2.1".parse().expect("ip");
    assert!(
        matches!(
            uas.verify("OPTIONS", &creds, &[&correct], None, UNIX, ip),
            Verdict::Accepted { .. }
        ),
        "the UAS accepts the answer"
    );
    let ok = response_to(
        &second,
        crate::sip::StatusCode::new(200).expect("200"),
        Some("uas"),
    );
    answer(&mut core, &distributor, ok);
    match core.poll_event() {
        Some(CoreEvent::Completed {
            id: done,
            outcome: Outcome::Response(r),
        }) => {
            assert_eq!(done, id);
            assert_eq!(r.status.code(), 200);
        }
        other => panic!("{other:?}"),
    }
    assert!(core.poll_event().is_none());
}

#[test]
fn wrong_credentials_challenged_again_end_as_auth_failed() {
    let (mut core, distributor) = core();
    let (uas, correct) = uas_and_correct();
    let flow = Flow::udp("t", UAS.parse().expect("addr"));
    core.send_request(Instant::now(), flow, options(), vec![auth("wrong")])
        .expect("sent");
    let first = sent(&mut core);
    answer(&mut core, &distributor, challenge(&uas, &first, &correct));
    let second = sent(&mut core);
    answer(&mut core, &distributor, challenge(&uas, &second, &correct));
    assert!(core.poll_transmit().is_none(), "no third attempt");
    assert!(matches!(
        core.poll_event(),
        Some(CoreEvent::Completed {
            outcome: Outcome::AuthFailed { .. },
            ..
        })
    ));
}

#[test]
fn a_challenge_without_outbound_auth_ends_as_auth_failed() {
    let (mut core, distributor) = core();
    let (uas, correct) = uas_and_correct();
    let flow = Flow::udp("t", UAS.parse().expect("addr"));
    core.send_request(Instant::now(), flow, options(), Vec::new())
        .expect("sent");
    let first = sent(&mut core);
    answer(&mut core, &distributor, challenge(&uas, &first, &correct));
    assert!(matches!(
        core.poll_event(),
        Some(CoreEvent::Completed {
            outcome: Outcome::AuthFailed { .. },
            ..
        })
    ));
}

#[test]
fn rfc3261_17_1_2_2_no_answer_ends_as_a_timeout_after_timer_f() {
    let (mut core, _) = core();
    let start = Instant::now();
    let flow = Flow::udp("t", UAS.parse().expect("addr"));
    core.send_request(start, flow, options(), Vec::new())
        .expect("sent");
    let mut sends = 0;
    let mut now = start;
    // Timer E retransmissions, then Timer F (64*T1 = 32 s).
    while let Some(at) = core.poll_timeout() {
        if at > start + Duration::from_secs(40) {
            break;
        }
        now = at;
        core.handle_timeout(now);
        while core.poll_transmit().is_some() {
            sends += 1;
        }
        if core.poll_event().is_some_and(|e| {
            matches!(
                e,
                CoreEvent::Completed {
                    outcome: Outcome::Timeout,
                    ..
                }
            )
        }) {
            assert!(now >= start + Duration::from_secs(32));
            assert!(sends >= 9, "retransmitted over UDP ({sends})");
            return;
        }
    }
    panic!("no timeout by {:?}", now - start);
}

#[test]
fn an_abandoned_request_is_not_retransmitted_and_reports_nothing() {
    let (mut core, _) = core();
    let start = Instant::now();
    let flow = Flow::udp("t", UAS.parse().expect("addr"));
    let id = core
        .send_request(start, flow, options(), Vec::new())
        .expect("sent");
    assert!(core.poll_transmit().is_some(), "the first copy goes out");
    core.abandon(id);
    for _ in 0..100 {
        let Some(at) = core.poll_timeout() else { break };
        if at > start + Duration::from_secs(40) {
            break;
        }
        core.handle_timeout(at);
    }
    core.handle_timeout(start + Duration::from_secs(40));
    assert!(core.poll_transmit().is_none(), "no retransmission");
    assert!(core.poll_event().is_none(), "no outcome");
}
