//! The outbound registration state machine against a registrar played by the test, on
//! virtual time: every rule of Asterisk's `res_pjsip_outbound_registration.c` (reference
//! section 6) and the REGISTER it builds.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::config::options::{ListOf, Name, SipUri as UriOption};
use crate::sip::{Message, StatusCode, response_to, validate_request};

const LOCAL: &str = "192.0.2.1:5060";
const UA: &str = "pjsipd-test";

fn config() -> Registration {
    Registration {
        server_uri: UriOption("sip:192.0.2.10".into()),
        client_uri: UriOption("sip:pbx@192.0.2.10".into()),
        ..Registration::default()
    }
}

fn local() -> SocketAddr {
    LOCAL.parse().expect("address")
}

/// A machine whose first attempt is due; returns it with the time of that attempt.
fn started(config: &Registration) -> (OutboundRegistration, Instant) {
    let t0 = Instant::now();
    let reg = OutboundRegistration::new("trunk", config, t0, 7);
    let at = reg.poll_timeout().expect("first attempt scheduled");
    (reg, at)
}

/// Runs the timer at `now` and builds the REGISTER due, if any.
fn send(reg: &mut OutboundRegistration, now: Instant) -> Option<Request> {
    reg.handle_timeout(now);
    let attempt = reg.poll_send()?;
    let request = reg.build_request(&attempt, local(), TransportProtocol::Udp, UA);
    assert_eq!(
        expires(&request),
        attempt.expires,
        "Expires is always present and is the attempt's"
    );
    Some(request)
}

fn expires(request: &Request) -> u32 {
    request
        .headers
        .expires()
        .expect("valid Expires")
        .expect("every REGISTER carries Expires")
}

fn cseq(request: &Request) -> u32 {
    request.headers.cseq().expect("CSeq").seq
}

fn header(request: &Request, name: &str) -> Option<String> {
    request
        .headers
        .get(&HeaderName::new(name))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// The registrar's answer to `request`, with extra header fields.
fn answer(request: &Request, code: u16, extra: &[(&str, &str)]) -> Outcome {
    let mut r = response_to(
        request,
        StatusCode::new(code).expect("status"),
        Some("registrar"),
    );
    for (name, value) in extra {
        r.headers
            .push(HeaderName::new(name), Bytes::from(value.to_string()));
    }
    Outcome::Response(Box::new(r))
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Registers: first attempt answered 200 with `extra`; returns the time of the answer.
fn registered(reg: &mut OutboundRegistration, at: Instant, extra: &[(&str, &str)]) -> Request {
    let r = send(reg, at).expect("REGISTER");
    reg.on_outcome(at, &answer(&r, 200, extra));
    assert_eq!(reg.status(), Status::Registered);
    r
}

#[test]
fn the_first_register_waits_a_random_1_to_max_random_initial_delay_seconds() {
    let t0 = Instant::now();
    let mut c = config();
    let mut delays = Vec::new();
    for seed in 0..300 {
        let reg = OutboundRegistration::new("trunk", &c, t0, seed);
        let delay = reg.poll_timeout().expect("scheduled") - t0;
        assert!(delay >= secs(1) && delay <= secs(10), "{delay:?}");
        delays.push(delay);
    }
    let min = delays.iter().min().copied().unwrap_or_default();
    let max = delays.iter().max().copied().unwrap_or_default();
    assert!(min < secs(2) && max > secs(9), "spread: {min:?}..{max:?}");
    for max_delay in [0, 1] {
        c.max_random_initial_delay = max_delay;
        let reg = OutboundRegistration::new("trunk", &c, t0, 99);
        assert_eq!(reg.poll_timeout(), Some(t0 + secs(1)), "delay {max_delay}");
    }
    let reg = OutboundRegistration::new("trunk", &config(), t0, 5);
    assert_eq!(reg.status(), Status::Unregistered);
    assert_eq!(reg.state(), State::Unregistered);
    assert_eq!(reg.next_attempt(), reg.poll_timeout());
}

#[test]
fn nothing_is_sent_before_the_delay() {
    let (mut reg, at) = started(&config());
    assert!(send(&mut reg, at - Duration::from_millis(1)).is_none());
    assert!(send(&mut reg, at).is_some());
}

#[test]
fn the_register_names_server_client_contact_and_expires() {
    let (mut reg, at) = started(&config());
    let r = send(&mut reg, at).expect("REGISTER");
    // It goes on the wire and parses back as a valid request.
    let bytes = Message::Request(r.clone()).to_bytes();
    let parsed = match Message::parse(bytes) {
        Ok(Message::Request(p)) => p,
        other => panic!("{other:?}"),
    };
    assert!(validate_request(&parsed).is_ok());
    assert_eq!(r.method, Method::Register);
    assert_eq!(r.uri.to_string(), "sip:192.0.2.10");
    let from = r.headers.from().expect("From");
    assert_eq!(from.uri.to_string(), "sip:pbx@192.0.2.10");
    assert!(from.tag().is_some());
    let to = r.headers.to().expect("To");
    assert_eq!(to.uri.to_string(), "sip:pbx@192.0.2.10");
    assert!(to.tag().is_none());
    assert_eq!(cseq(&r), 1);
    assert_eq!(r.headers.cseq().expect("CSeq").method, Method::Register);
    let via = r.headers.top_via().expect("Via");
    assert_eq!(
        via.to_string().split(';').next(),
        Some("SIP/2.0/UDP 192.0.2.1:5060")
    );
    assert!(via.branch().is_some(), "a branch for the core to replace");
    assert_eq!(r.headers.max_forwards(), Ok(70));
    assert_eq!(
        header(&r, "Contact").as_deref(),
        Some("<sip:s@192.0.2.1:5060>")
    );
    assert_eq!(expires(&r), 3600);
    assert_eq!(header(&r, "User-Agent").as_deref(), Some(UA));
    assert!(header(&r, "Route").is_none());
    assert!(header(&r, "Supported").is_none());
    assert_eq!(r.headers.content_length(), Ok(Some(0)));
    assert!(reg.is_busy());
}

#[test]
fn contact_user_params_line_proxy_path_and_user_agent_shape_the_register() {
    let mut c = config();
    c.contact_user = "trunk1".into();
    c.contact_header_params = ";x-param=1".into();
    c.line = true;
    c.endpoint = "carrier".into();
    c.outbound_proxy = UriOption("sip:192.0.2.20:5070".into());
    c.support_path = true;
    c.user_agent = "Trunk UA".into();
    c.expiration = 600;
    let (mut reg, at) = started(&c);
    let token = reg.line_token().expect("line token").to_string();
    assert_eq!(token.len(), 8);
    assert!(token.bytes().all(|b| b.is_ascii_lowercase()));
    let r = send(&mut reg, at).expect("REGISTER");
    assert_eq!(
        header(&r, "Contact"),
        Some(format!(
            "<sip:trunk1@192.0.2.1:5060;line={token}>;x-param=1"
        ))
    );
    assert_eq!(
        header(&r, "Route").as_deref(),
        Some("<sip:192.0.2.20:5070;lr>")
    );
    assert_eq!(
        reg.next_hop().map(ToString::to_string).as_deref(),
        Some("sip:192.0.2.20:5070"),
        "sent to the proxy"
    );
    assert_eq!(
        r.uri.to_string(),
        "sip:192.0.2.10",
        "Request-URI stays the registrar"
    );
    assert_eq!(header(&r, "Supported").as_deref(), Some("path"));
    assert_eq!(header(&r, "User-Agent").as_deref(), Some("Trunk UA"));
    assert_eq!(expires(&r), 600);
    // The token is fixed for the machine's life.
    reg.on_outcome(at, &answer(&r, 200, &[]));
    assert_eq!(reg.line_token(), Some(token.as_str()));
}

#[test]
fn a_reliable_transport_adds_its_name_to_the_contact() {
    let (mut reg, at) = started(&config());
    reg.handle_timeout(at);
    let attempt = reg.poll_send().expect("attempt");
    let r = reg.build_request(&attempt, local(), TransportProtocol::Tcp, UA);
    assert_eq!(
        header(&r, "Contact").as_deref(),
        Some("<sip:s@192.0.2.1:5060;transport=tcp>")
    );
    assert!(header(&r, "Via").is_some_and(|v| v.starts_with("SIP/2.0/TCP ")));
}

#[test]
fn an_ok_registers_and_refreshes_10_s_before_the_expires_field() {
    let (mut reg, at) = started(&config());
    let r = registered(&mut reg, at, &[("Expires", "120")]);
    assert_eq!(reg.state(), State::Registered);
    assert_eq!(reg.granted_expires(), Some(120));
    assert_eq!(reg.last_code(), Some(200));
    assert_eq!(reg.poll_timeout(), Some(at + secs(110)));
    assert!(send(&mut reg, at + secs(109)).is_none());
    let refresh = send(&mut reg, at + secs(110)).expect("refresh");
    assert_eq!(
        expires(&refresh),
        3600,
        "asks for the configured expiration again"
    );
    assert_eq!(
        refresh.headers.call_id(),
        r.headers.call_id(),
        "one Call-ID per state"
    );
    assert_eq!(
        refresh.headers.from().expect("From").tag(),
        r.headers.from().expect("From").tag()
    );
    assert_eq!(cseq(&refresh), cseq(&r) + 1);
}

#[test]
fn the_granted_expiry_is_our_contacts_expires_before_the_expires_field() {
    let (mut reg, at) = started(&config());
    // Another binding of the AOR, then ours with different parameter order and case.
    registered(
        &mut reg,
        at,
        &[
            ("Contact", "<sip:other@192.0.2.7>;expires=50"),
            ("Contact", "<sip:s@192.0.2.1:5060>;expires=1800"),
            ("Expires", "900"),
        ],
    );
    assert_eq!(reg.granted_expires(), Some(1800));
    assert_eq!(reg.poll_timeout(), Some(at + secs(1790)));
}

#[test]
fn without_expires_in_the_ok_the_requested_expiry_is_granted() {
    let (mut reg, at) = started(&config());
    registered(&mut reg, at, &[("Contact", "<sip:s@192.0.2.1:5060>")]);
    assert_eq!(reg.granted_expires(), Some(3600));
    assert_eq!(reg.poll_timeout(), Some(at + secs(3590)));
}

#[test]
fn a_grant_of_10_s_or_less_is_refreshed_after_half_of_it_never_at_once() {
    let (mut reg, at) = started(&config());
    registered(&mut reg, at, &[("Expires", "8")]);
    assert_eq!(reg.poll_timeout(), Some(at + secs(4)));
    let r = send(&mut reg, at + secs(4)).expect("refresh");
    reg.on_outcome(at + secs(4), &answer(&r, 200, &[("Expires", "1")]));
    assert_eq!(reg.poll_timeout(), Some(at + secs(5)));
}

#[test]
fn an_ok_granting_zero_is_unregistered_and_nothing_more_is_scheduled() {
    let (mut reg, at) = started(&config());
    let r = send(&mut reg, at).expect("REGISTER");
    reg.on_outcome(at, &answer(&r, 200, &[("Expires", "0")]));
    assert_eq!(reg.status(), Status::Unregistered);
    assert_eq!(reg.poll_timeout(), None);
}

#[test]
fn a_challenge_answered_by_the_core_then_ok_registers_and_the_next_cseq_is_above_it() {
    let mut c = config();
    c.outbound_auth = ListOf(vec![Name("trunk-auth".into())]);
    let (mut reg, at) = started(&c);
    let first = send(&mut reg, at).expect("REGISTER");
    // The core answered the 401 with CSeq 2; the 200 is to that one.
    let mut authenticated = first.clone();
    authenticated
        .headers
        .replace(HeaderName::CSeq, "2 REGISTER");
    reg.on_outcome(at, &answer(&authenticated, 200, &[("Expires", "60")]));
    assert_eq!(reg.status(), Status::Registered);
    let refresh = send(&mut reg, at + secs(50)).expect("refresh");
    assert_eq!(cseq(&refresh), 3);
}

#[test]
fn auth_failure_is_permanent_with_auth_rejection_permanent() {
    let (mut reg, at) = started(&config());
    let r = send(&mut reg, at).expect("REGISTER");
    let Outcome::Response(challenge) = answer(&r, 401, &[]) else {
        panic!("a response")
    };
    reg.on_outcome(
        at,
        &Outcome::AuthFailed {
            reason: "credentials for realm 'carrier' were rejected".into(),
            response: challenge,
        },
    );
    assert_eq!(reg.state(), State::RejectedPermanent);
    assert_eq!(reg.status(), Status::Rejected);
    assert_eq!(reg.poll_timeout(), None);
    assert_eq!(reg.last_code(), Some(401));
}

#[test]
fn auth_failure_is_temporal_without_auth_rejection_permanent() {
    let mut c = config();
    c.auth_rejection_permanent = false;
    let (mut reg, at) = started(&c);
    let r = send(&mut reg, at).expect("REGISTER");
    let Outcome::Response(challenge) = answer(&r, 407, &[]) else {
        panic!("a response")
    };
    reg.on_outcome(
        at,
        &Outcome::AuthFailed {
            reason: "no credentials for the challenge".into(),
            response: challenge,
        },
    );
    assert_eq!(reg.state(), State::RejectedTemporary);
    assert_eq!(reg.retries(), 1);
    assert_eq!(reg.poll_timeout(), Some(at + secs(60)));
}

#[test]
fn forbidden_is_permanent_without_forbidden_retry_interval() {
    let (mut reg, at) = started(&config());
    let r = send(&mut reg, at).expect("REGISTER");
    reg.on_outcome(at, &answer(&r, 403, &[]));
    assert_eq!(reg.state(), State::RejectedPermanent);
    assert_eq!(reg.poll_timeout(), None);
    assert!(send(&mut reg, at + secs(100_000)).is_none());
}

#[test]
fn forbidden_is_retried_after_forbidden_retry_interval_until_max_retries() {
    let mut c = config();
    c.forbidden_retry_interval = 30;
    c.max_retries = 2;
    let (mut reg, mut now) = started(&c);
    for retry in 1..=2 {
        let r = send(&mut reg, now).expect("REGISTER");
        reg.on_outcome(now, &answer(&r, 403, &[]));
        assert_eq!(reg.state(), State::RejectedTemporary);
        assert_eq!(reg.retries(), retry);
        assert_eq!(reg.poll_timeout(), Some(now + secs(30)));
        now += secs(30);
    }
    let r = send(&mut reg, now).expect("REGISTER");
    reg.on_outcome(now, &answer(&r, 403, &[]));
    assert_eq!(reg.state(), State::RejectedPermanent);
    assert_eq!(reg.poll_timeout(), None);
}

#[test]
fn other_fatal_responses_are_retried_after_fatal_retry_interval() {
    let mut c = config();
    c.fatal_retry_interval = 45;
    let (mut reg, at) = started(&c);
    let r = send(&mut reg, at).expect("REGISTER");
    reg.on_outcome(at, &answer(&r, 404, &[]));
    assert_eq!(reg.state(), State::RejectedTemporary);
    assert_eq!(reg.poll_timeout(), Some(at + secs(45)));
    // Without it, a 404 is permanent.
    let (mut reg, at) = started(&config());
    let r = send(&mut reg, at).expect("REGISTER");
    reg.on_outcome(at, &answer(&r, 404, &[]));
    assert_eq!(reg.state(), State::RejectedPermanent);
}

#[test]
fn temporal_responses_are_retried_every_retry_interval_then_rejected_permanently() {
    let mut c = config();
    c.max_retries = 3;
    c.retry_interval = 20;
    let (mut reg, mut now) = started(&c);
    for (i, code) in [503, 500, 604].into_iter().enumerate() {
        let r = send(&mut reg, now).expect("REGISTER");
        reg.on_outcome(now, &answer(&r, code, &[]));
        assert_eq!(reg.state(), State::RejectedTemporary, "{code}");
        assert_eq!(reg.retries(), i as u32 + 1);
        assert_eq!(reg.poll_timeout(), Some(now + secs(20)));
        now += secs(20);
    }
    let r = send(&mut reg, now).expect("REGISTER");
    reg.on_outcome(now, &answer(&r, 504, &[]));
    assert_eq!(reg.state(), State::RejectedPermanent, "max_retries reached");
    assert_eq!(reg.poll_timeout(), None);
}

#[test]
fn a_success_resets_the_retry_count() {
    let (mut reg, at) = started(&config());
    let r = send(&mut reg, at).expect("REGISTER");
    reg.on_outcome(at, &answer(&r, 502, &[]));
    assert_eq!(reg.retries(), 1);
    registered(&mut reg, at + secs(60), &[]);
    assert_eq!(reg.retries(), 0);
}

#[test]
fn temporal_codes_with_retry_interval_zero_are_fatal() {
    let mut c = config();
    c.retry_interval = 0;
    let (mut reg, at) = started(&c);
    let r = send(&mut reg, at).expect("REGISTER");
    reg.on_outcome(at, &answer(&r, 503, &[]));
    assert_eq!(reg.state(), State::RejectedPermanent);
}

#[test]
fn retry_after_overrides_the_intervals_and_does_not_count() {
    let (mut reg, at) = started(&config());
    let r = send(&mut reg, at).expect("REGISTER");
    reg.on_outcome(
        at,
        &answer(&r, 503, &[("Retry-After", "120 (maintenance)")]),
    );
    assert_eq!(reg.state(), State::RejectedTemporary);
    assert_eq!(reg.poll_timeout(), Some(at + secs(120)));
    assert_eq!(reg.retries(), 0);
    // Even on an otherwise fatal response.
    let r = send(&mut reg, at + secs(120)).expect("REGISTER");
    reg.on_outcome(at + secs(120), &answer(&r, 403, &[("Retry-After", "30")]));
    assert_eq!(reg.state(), State::RejectedTemporary);
    assert_eq!(reg.poll_timeout(), Some(at + secs(150)));
}

#[test]
fn interval_too_brief_is_sent_again_at_once_with_min_expires() {
    let mut c = config();
    c.expiration = 60;
    let (mut reg, at) = started(&c);
    let r = send(&mut reg, at).expect("REGISTER");
    reg.on_outcome(at, &answer(&r, 423, &[("Min-Expires", "300")]));
    assert_eq!(reg.poll_timeout(), Some(at), "at once");
    let again = send(&mut reg, at).expect("REGISTER again");
    assert_eq!(expires(&again), 300);
    assert_eq!(cseq(&again), cseq(&r) + 1);
    reg.on_outcome(at, &answer(&again, 200, &[("Expires", "300")]));
    assert_eq!(reg.status(), Status::Registered);
    let refresh = send(&mut reg, at + secs(290)).expect("refresh");
    assert_eq!(expires(&refresh), 300, "the refresh keeps the Min-Expires");
}

#[test]
fn interval_too_brief_without_a_larger_min_expires_is_fatal() {
    let (mut reg, at) = started(&config());
    let r = send(&mut reg, at).expect("REGISTER");
    reg.on_outcome(at, &answer(&r, 423, &[]));
    assert_eq!(reg.state(), State::RejectedPermanent);
    let (mut reg, at) = started(&config());
    let r = send(&mut reg, at).expect("REGISTER");
    reg.on_outcome(at, &answer(&r, 423, &[("Min-Expires", "60")]));
    assert_eq!(
        reg.state(),
        State::RejectedPermanent,
        "no loop on a smaller value"
    );
}

#[test]
fn a_timeout_is_retried_as_temporal_and_the_next_cseq_skips_unseen_retries() {
    let (mut reg, at) = started(&config());
    let r = send(&mut reg, at).expect("REGISTER");
    reg.on_outcome(at, &Outcome::Timeout);
    assert_eq!(reg.state(), State::RejectedTemporary);
    assert_eq!(reg.last_code(), Some(408));
    assert_eq!(reg.poll_timeout(), Some(at + secs(60)));
    let again = send(&mut reg, at + secs(60)).expect("REGISTER");
    assert!(cseq(&again) > cseq(&r) + 2);
    reg.on_outcome(at + secs(60), &Outcome::TransportError);
    assert_eq!(reg.state(), State::RejectedTemporary);
    assert_eq!(reg.last_code(), Some(503));
    assert_eq!(reg.retries(), 2);
}

#[test]
fn send_register_clears_a_permanent_rejection_and_registers_at_once() {
    let (mut reg, at) = started(&config());
    let r = send(&mut reg, at).expect("REGISTER");
    reg.on_outcome(at, &answer(&r, 403, &[]));
    assert_eq!(reg.state(), State::RejectedPermanent);
    let later = at + secs(500);
    reg.register(later);
    assert_eq!(reg.status(), Status::Unregistered);
    assert_eq!(reg.poll_timeout(), Some(later));
    let r = send(&mut reg, later).expect("REGISTER");
    assert_eq!(expires(&r), 3600, "Expires present after send register");
    reg.on_outcome(later, &answer(&r, 200, &[]));
    assert_eq!(reg.status(), Status::Registered);
}

#[test]
fn send_register_when_registered_unregisters_first() {
    let (mut reg, at) = started(&config());
    registered(&mut reg, at, &[]);
    let now = at + secs(5);
    reg.register(now);
    let unregister = send(&mut reg, now).expect("un-REGISTER");
    assert_eq!(expires(&unregister), 0);
    assert_eq!(reg.status(), Status::Registered, "until answered");
    reg.on_outcome(now, &answer(&unregister, 200, &[]));
    let register = send(&mut reg, now).expect("REGISTER");
    assert_eq!(expires(&register), 3600);
    assert!(cseq(&register) > cseq(&unregister));
    reg.on_outcome(now, &answer(&register, 200, &[]));
    assert_eq!(reg.status(), Status::Registered);
}

#[test]
fn send_register_during_a_transaction_waits_for_its_outcome() {
    let (mut reg, at) = started(&config());
    let r = send(&mut reg, at).expect("REGISTER");
    reg.register(at);
    assert!(send(&mut reg, at).is_none(), "one REGISTER at a time");
    reg.on_outcome(at, &answer(&r, 200, &[]));
    let unregister = send(&mut reg, at).expect("un-REGISTER");
    assert_eq!(expires(&unregister), 0);
}

#[test]
fn send_unregister_sends_expires_zero_and_stops() {
    let (mut reg, at) = started(&config());
    registered(&mut reg, at, &[]);
    let now = at + secs(30);
    reg.unregister(now);
    let r = send(&mut reg, now).expect("un-REGISTER");
    assert_eq!(expires(&r), 0);
    reg.on_outcome(now, &answer(&r, 200, &[]));
    assert_eq!(reg.status(), Status::Unregistered);
    assert_eq!(reg.poll_timeout(), None, "no automatic re-registration");
    assert!(!reg.is_finished(), "it resumes on send register");
    reg.register(now + secs(1));
    assert!(send(&mut reg, now + secs(1)).is_some_and(|r| expires(&r) == 3600));
}

#[test]
fn send_unregister_when_not_registered_sends_nothing() {
    let (mut reg, at) = started(&config());
    reg.unregister(at);
    assert!(send(&mut reg, at + secs(60)).is_none());
    assert_eq!(reg.status(), Status::Unregistered);
    assert_eq!(reg.poll_timeout(), None);
}

#[test]
fn send_unregister_during_a_register_unregisters_after_its_ok() {
    let (mut reg, at) = started(&config());
    let r = send(&mut reg, at).expect("REGISTER");
    reg.unregister(at);
    reg.on_outcome(at, &answer(&r, 200, &[]));
    let un = send(&mut reg, at).expect("un-REGISTER");
    assert_eq!(expires(&un), 0);
    reg.on_outcome(at, &Outcome::Timeout);
    assert_eq!(reg.status(), Status::Unregistered);
    assert_eq!(reg.poll_timeout(), None, "no retry of an un-REGISTER");
}

#[test]
fn removal_unregisters_if_registered_then_finishes() {
    let (mut reg, at) = started(&config());
    registered(&mut reg, at, &[]);
    reg.remove(at + secs(1));
    assert_eq!(reg.state(), State::Stopping);
    assert!(!reg.is_finished());
    let r = send(&mut reg, at + secs(1)).expect("un-REGISTER");
    assert_eq!(expires(&r), 0);
    reg.on_outcome(at + secs(1), &answer(&r, 200, &[]));
    assert!(reg.is_finished());
    assert_eq!(reg.state(), State::Stopped);
    assert_eq!(reg.status(), Status::Unregistered);
    // Nothing restarts it.
    reg.register(at + secs(2));
    assert!(send(&mut reg, at + secs(2)).is_none());
}

#[test]
fn removal_when_not_registered_finishes_at_once() {
    let (mut reg, at) = started(&config());
    reg.remove(at);
    assert!(reg.is_finished());
    assert!(send(&mut reg, at + secs(100)).is_none());
    // Rejected temporarily: the retry is cancelled.
    let (mut reg, at) = started(&config());
    let r = send(&mut reg, at).expect("REGISTER");
    reg.on_outcome(at, &answer(&r, 503, &[]));
    reg.remove(at);
    assert!(reg.is_finished());
}

#[test]
fn removal_during_a_register_waits_and_unregisters_if_it_succeeded() {
    let (mut reg, at) = started(&config());
    let r = send(&mut reg, at).expect("REGISTER");
    reg.remove(at);
    assert!(!reg.is_finished());
    reg.on_outcome(at, &answer(&r, 200, &[]));
    let un = send(&mut reg, at).expect("un-REGISTER");
    assert_eq!(expires(&un), 0);
    reg.on_outcome(at, &answer(&un, 500, &[]));
    assert!(reg.is_finished(), "a failed un-REGISTER still finishes");
}

#[test]
fn reject_and_halt_stop_attempts() {
    let (mut reg, at) = started(&config());
    reg.handle_timeout(at);
    let _ = reg.poll_send().expect("attempt");
    reg.reject(at);
    assert_eq!(reg.state(), State::RejectedPermanent);
    assert_eq!(reg.poll_timeout(), None);
    assert!(!reg.is_busy());
    let (mut reg, at) = started(&config());
    reg.handle_timeout(at);
    let _ = reg.poll_send().expect("attempt");
    reg.halt(at);
    assert_eq!(reg.state(), State::Unregistered);
    assert_eq!(reg.poll_timeout(), None);
}

#[test]
fn an_invalid_uri_is_rejected_permanently_and_never_sent() {
    let mut c = config();
    c.server_uri = UriOption("sip:[not-an-address".into());
    let t0 = Instant::now();
    let mut reg = OutboundRegistration::new("trunk", &c, t0, 1);
    assert_eq!(reg.state(), State::RejectedPermanent);
    assert_eq!(reg.poll_timeout(), None);
    reg.register(t0);
    assert!(send(&mut reg, t0).is_none());
}

#[test]
fn stale_outcomes_are_ignored() {
    let (mut reg, at) = started(&config());
    reg.on_outcome(at, &Outcome::Timeout);
    assert_eq!(reg.state(), State::Unregistered);
    assert!(reg.poll_timeout().is_some());
}

#[test]
fn a_changed_configuration_is_noticed() {
    let (reg, _) = started(&config());
    assert!(!reg.config_changed(&config()));
    let mut c = config();
    c.retry_interval = 61;
    assert!(reg.config_changed(&c));
}

#[test]
fn statuses_are_asterisks_three_strings() {
    assert_eq!(State::Registered.status().to_string(), "Registered");
    assert_eq!(State::RejectedTemporary.status().to_string(), "Rejected");
    assert_eq!(State::RejectedPermanent.status().to_string(), "Rejected");
    for s in [State::Unregistered, State::Stopping, State::Stopped] {
        assert_eq!(s.status().to_string(), "Unregistered");
    }
}
